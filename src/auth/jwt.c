/* HS256 JSON Web Tokens for sessions: signing and strict verification (only
 * HS256 is accepted, the signature is checked in constant time before the
 * claims are parsed, and every input is bounded by JWT_MAX_LEN). Pure
 * functions, safe from any thread. */
#include "auth/jwt.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "util/json.h"

#define SIG_B64_LEN 43 /* crypto_b64url_encoded_len(CRYPTO_MAC_LEN) */
#define PART_MAX_DECODED (JWT_MAX_LEN / 4 * 3 + 3)
#define USERNAME_MAX (sizeof(((struct jwt_claims *)0)->username) - 1)
/* 9999-12-31T23:59:59Z; also keeps every value exact in a JSON double. */
#define CLAIM_TIME_MAX 253402300799LL
#define CLAIM_INT_MAX 9007199254740991LL /* 2^53 - 1 */

/* b64url('{"alg":"HS256","typ":"JWT"}'): the header never varies, so it is
 * encoded once at compile time. */
static const char jwt_header_b64[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

void jwt_new_jti(char out[JWT_JTI_LEN + 1])
{
    uint8_t raw[JWT_JTI_LEN / 2];
    crypto_random(raw, sizeof(raw));
    crypto_hex(raw, sizeof(raw), out);
}

static bool json_int(const cJSON *obj, const char *name, int64_t min, int64_t max, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(v))
        return false;
    double d = v->valuedouble;
    if (!isfinite(d) || d < (double)min || d > (double)max || d != floor(d))
        return false;
    *out = (int64_t)d;
    return true;
}

/* Copies string claim name into out (capacity cap incl. NUL); false when
 * missing, not a string, too long or containing control characters. */
static bool json_copy_string(const cJSON *obj, const char *name, char *out, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsString(v) || !v->valuestring)
        return false;
    size_t n = strnlen(v->valuestring, cap);
    if (n >= cap)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v->valuestring[i] < 0x20)
            return false;
    memcpy(out, v->valuestring, n + 1);
    return true;
}

static bool is_lower_hex(const char *s, size_t want)
{
    size_t n = strlen(s);
    if (n != want)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static int add_joined(cJSON *obj, const char *name, const struct strlist *l)
{
    char *joined = strlist_join(l, " ");
    if (!joined)
        return -ENOMEM;
    int rc = cJSON_AddStringToObject(obj, name, joined) ? 0 : -ENOMEM;
    free(joined);
    return rc;
}

char *jwt_sign(const uint8_t key[CRYPTO_KEY_LEN], const struct jwt_claims *c)
{
    if (!key || !c || (c->type != JWT_ACCESS && c->type != JWT_REFRESH))
        return NULL;
    char *json = NULL, *out = NULL;
    cJSON *obj = cJSON_CreateObject();
    if (!obj ||
        !cJSON_AddStringToObject(obj, "token_type",
                                 c->type == JWT_REFRESH ? "refresh" : "access") ||
        !json_add_int(obj, "exp", c->exp) || !json_add_int(obj, "iat", c->iat) ||
        !cJSON_AddStringToObject(obj, "jti", c->jti) ||
        !json_add_int(obj, "user_id", c->user_id) ||
        !cJSON_AddStringToObject(obj, "u", c->username) ||
        add_joined(obj, "scope", &c->scopes) < 0 || add_joined(obj, "groups", &c->groups) < 0)
        goto done;
    if (c->type == JWT_REFRESH && !cJSON_AddStringToObject(obj, "fam", c->family))
        goto done;
    json = cJSON_PrintUnformatted(obj);
    if (!json)
        goto done;
    size_t jlen = strlen(json);
    size_t hlen = sizeof(jwt_header_b64) - 1;
    size_t plen = crypto_b64url_encoded_len(jlen);
    out = malloc(hlen + 1 + plen + 1 + SIG_B64_LEN + 1);
    if (!out)
        goto done;
    memcpy(out, jwt_header_b64, hlen);
    out[hlen] = '.';
    crypto_b64url_encode(json, jlen, out + hlen + 1);
    uint8_t mac[CRYPTO_MAC_LEN];
    if (crypto_hmac_sha256(key, CRYPTO_KEY_LEN, out, hlen + 1 + plen, mac) < 0) {
        free(out);
        out = NULL;
        goto done;
    }
    out[hlen + 1 + plen] = '.';
    crypto_b64url_encode(mac, CRYPTO_MAC_LEN, out + hlen + 1 + plen + 1);
    crypto_wipe(mac, sizeof(mac));
done:
    cJSON_free(json);
    cJSON_Delete(obj);
    return out;
}

/* Decodes one base64url JWT part into a JSON object, or NULL. */
static cJSON *decode_part(const char *p, size_t len)
{
    if (len == 0 || len > JWT_MAX_LEN)
        return NULL;
    uint8_t *buf = malloc(PART_MAX_DECODED);
    if (!buf)
        return NULL;
    long n = crypto_b64url_decode(p, len, buf, PART_MAX_DECODED);
    /* cJSON puts a NUL, raw or escaped, into its C strings, silently
     * truncating them; no claim of ours contains NUL, so such input is
     * refused. */
    cJSON *obj = n > 0 && !memchr(buf, '\0', (size_t)n) && !memmem(buf, (size_t)n, "\\u0000", 6)
                     ? cJSON_ParseWithLength((const char *)buf, (size_t)n)
                     : NULL;
    free(buf);
    if (obj && !cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        obj = NULL;
    }
    return obj;
}

/* Only {"alg":"HS256"} with an optional "typ":"JWT" is ours. Anything else,
 * notably "none" or an asymmetric algorithm, is refused outright so that
 * no algorithm-confusion path exists. A "crit" header asks us to understand
 * extensions we do not implement, so it is refused as well. */
static bool header_ok(const char *p, size_t len)
{
    cJSON *h = decode_part(p, len);
    if (!h)
        return false;
    const cJSON *alg = cJSON_GetObjectItemCaseSensitive(h, "alg");
    const cJSON *typ = cJSON_GetObjectItemCaseSensitive(h, "typ");
    bool ok = cJSON_IsString(alg) && alg->valuestring && strcmp(alg->valuestring, "HS256") == 0 &&
              (!typ || (cJSON_IsString(typ) && typ->valuestring &&
                        strcasecmp(typ->valuestring, "JWT") == 0)) &&
              !cJSON_GetObjectItemCaseSensitive(h, "crit");
    cJSON_Delete(h);
    return ok;
}

/* Scope and group lists are space-separated ids of printable ASCII; other
 * bytes are refused so that verified claims always sign again as they were
 * (fuzz_jwt: a groups claim of non-ASCII bytes did not round-trip). */
static bool printable_ascii(const char *s)
{
    for (; *s; s++)
        if (*s < ' ' || *s > '~')
            return false;
    return true;
}

static int decode_claims(cJSON *obj, struct jwt_claims *out)
{
    const cJSON *tt = cJSON_GetObjectItemCaseSensitive(obj, "token_type");
    if (!cJSON_IsString(tt) || !tt->valuestring)
        return -EINVAL;
    if (strcmp(tt->valuestring, "access") == 0)
        out->type = JWT_ACCESS;
    else if (strcmp(tt->valuestring, "refresh") == 0)
        out->type = JWT_REFRESH;
    else
        return -EINVAL;
    if (!json_int(obj, "exp", 0, CLAIM_TIME_MAX, &out->exp) ||
        !json_int(obj, "iat", 0, CLAIM_TIME_MAX, &out->iat) ||
        !json_int(obj, "user_id", 0, CLAIM_INT_MAX, &out->user_id) ||
        !json_copy_string(obj, "jti", out->jti, sizeof(out->jti)) ||
        !is_lower_hex(out->jti, JWT_JTI_LEN) ||
        !json_copy_string(obj, "u", out->username, USERNAME_MAX + 1) || !out->username[0])
        return -EINVAL;
    if (out->type == JWT_REFRESH &&
        (!json_copy_string(obj, "fam", out->family, sizeof(out->family)) ||
         !is_lower_hex(out->family, JWT_JTI_LEN)))
        return -EINVAL;
    const cJSON *scope = cJSON_GetObjectItemCaseSensitive(obj, "scope");
    const cJSON *groups = cJSON_GetObjectItemCaseSensitive(obj, "groups");
    if (!cJSON_IsString(scope) || !scope->valuestring || !cJSON_IsString(groups) ||
        !groups->valuestring || !printable_ascii(scope->valuestring) ||
        !printable_ascii(groups->valuestring))
        return -EINVAL;
    if (strlist_split(&out->scopes, scope->valuestring) < 0 ||
        strlist_split(&out->groups, groups->valuestring) < 0)
        return -ENOMEM;
    return 0;
}

int jwt_verify(const uint8_t key[CRYPTO_KEY_LEN], const char *token, struct jwt_claims *out)
{
    if (!key || !token || !out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    size_t len = strnlen(token, JWT_MAX_LEN + 1);
    if (len > JWT_MAX_LEN)
        return -EINVAL;
    const char *dot1 = memchr(token, '.', len);
    if (!dot1)
        return -EINVAL;
    const char *payload = dot1 + 1;
    const char *dot2 = memchr(payload, '.', len - (size_t)(payload - token));
    if (!dot2)
        return -EINVAL;
    const char *sig = dot2 + 1;
    size_t hlen = (size_t)(dot1 - token), plen = (size_t)(dot2 - payload);
    size_t slen = len - (size_t)(sig - token);
    if (hlen == 0 || plen == 0 || slen != SIG_B64_LEN || memchr(sig, '.', slen))
        return -EINVAL;
    /* The header decides how to verify, so it is checked first; it is the
     * only part read before the signature, and it is tiny. */
    if (!header_ok(token, hlen))
        return -EINVAL;
    uint8_t given[CRYPTO_MAC_LEN], expected[CRYPTO_MAC_LEN];
    if (crypto_b64url_decode(sig, slen, given, sizeof(given)) != CRYPTO_MAC_LEN)
        return -EINVAL;
    if (crypto_hmac_sha256(key, CRYPTO_KEY_LEN, token, hlen + 1 + plen, expected) < 0)
        return -EIO;
    bool match = crypto_equal(given, expected, CRYPTO_MAC_LEN);
    crypto_wipe(expected, sizeof(expected));
    if (!match)
        return -EPERM;

    cJSON *obj = decode_part(payload, plen);
    if (!obj)
        return -EINVAL;
    int rc = decode_claims(obj, out);
    cJSON_Delete(obj);
    /* Signed but impossible: issued in the future (beyond a minute of clock
     * skew between nodes) or expiring before it was issued. Only a leaked
     * key makes such a token, so it is refused as invalid. */
    if (rc == 0 && (out->iat > (int64_t)time(NULL) + JWT_CLOCK_SLACK_S || out->exp < out->iat))
        rc = -EPERM;
    if (rc < 0) {
        jwt_claims_free(out);
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

void jwt_claims_free(struct jwt_claims *c)
{
    if (!c)
        return;
    strlist_free(&c->scopes);
    strlist_free(&c->groups);
}
