/* API token strings: building and parsing pk./sk. tokens (payload + checksummed
 * secret) and tk. tokens (MAC-signed claims). Every parser takes untrusted
 * input of any length and bounds it by TOKEN_MAX_LEN before touching it.
 * Pure functions, safe from any thread. */
#include "auth/token.h"


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "auth/resources.h"

#define SECRET_RANDOM_LEN 32
#define SECRET_CHECK_LEN 6
/* The largest payload part a TOKEN_MAX_LEN string can carry, decoded. */
#define PAYLOAD_MAX_DECODED (TOKEN_MAX_LEN / 4 * 3 + 3)
#define MAC_B64_LEN 43 /* crypto_b64url_encoded_len(CRYPTO_MAC_LEN) */
/* 9999-12-31T23:59:59Z: claims beyond this are not meaningful times. */
#define CLAIM_TIME_MAX 253402300799LL

_Static_assert(TOKEN_SECRET_LEN == SECRET_RANDOM_LEN + SECRET_CHECK_LEN, "secret layout");

static const char id_alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

void token_new_instance(char out[TOKEN_INSTANCE_LEN + 1])
{
    crypto_random_chars(out, TOKEN_INSTANCE_LEN, id_alphabet);
}

void token_new_id(char out[TOKEN_ID_LEN + 1])
{
    crypto_random_chars(out, TOKEN_ID_LEN, id_alphabet);
}

/* Six base62 digits, most significant first; 62^6 > 2^32 so any CRC fits. */
static void checksum_chars(const char *random, char out[SECRET_CHECK_LEN])
{
    uint32_t crc = crypto_crc32(random, SECRET_RANDOM_LEN);
    for (int i = SECRET_CHECK_LEN - 1; i >= 0; i--) {
        out[i] = base62[crc % 62];
        crc /= 62;
    }
}

void token_new_secret(char out[TOKEN_SECRET_LEN + 1])
{
    crypto_random_chars(out, SECRET_RANDOM_LEN, base62);
    checksum_chars(out, out + SECRET_RANDOM_LEN);
    out[TOKEN_SECRET_LEN] = '\0';
}

static bool is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Secret check on a counted span, so parsers need not copy first. */
static bool secret_ok(const char *s, size_t len)
{
    if (len != TOKEN_SECRET_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_alnum(s[i]))
            return false;
    char check[SECRET_CHECK_LEN];
    checksum_chars(s, check);
    return memcmp(check, s + SECRET_RANDOM_LEN, SECRET_CHECK_LEN) == 0;
}

bool token_secret_checksum_ok(const char *secret)
{
    if (!secret)
        return false;
    return secret_ok(secret, strnlen(secret, TOKEN_SECRET_LEN + 1));
}

int token_hash_secret(const uint8_t key[CRYPTO_KEY_LEN], const char *secret,
                      uint8_t out[CRYPTO_MAC_LEN])
{
    if (!secret)
        return -EINVAL;
    return crypto_hmac_sha256(key, CRYPTO_KEY_LEN, secret, strlen(secret), out);
}

int token_kind_of(const char *s)
{
    if (!s || !s[0] || !s[1] || s[2] != '.')
        return -1;
    if (s[0] == 'p' && s[1] == 'k')
        return TOKEN_PK;
    if (s[0] == 's' && s[1] == 'k')
        return TOKEN_SK;
    if (s[0] == 't' && s[1] == 'k')
        return TOKEN_TK;
    return -1;
}

static bool word_char(char c)
{
    return c > ' ' && c <= '~' && c != '"' && c != '\\';
}

static bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool token_word_ok(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!word_char(s[i]))
            return false;
    return true;
}

/* Usernames are validated by the account module; here we only insist on a
 * printable word. */
static bool username_ok(const char *u)
{
    return token_word_ok(u, TOKEN_USERNAME_MAX);
}

bool token_id_valid(const char *id)
{
    if (!id)
        return false;
    size_t n = strnlen(id, TOKEN_ID_LEN + 1);
    if (n != TOKEN_ID_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!id_char(id[i]))
            return false;
    return true;
}

bool token_instance_ok(const char *s)
{
    if (!s)
        return false;
    size_t n = strnlen(s, TOKEN_INSTANCE_MAX + 1);
    if (n < TOKEN_INSTANCE_MIN || n > TOKEN_INSTANCE_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!id_char(s[i]))
            return false;
    return true;
}

/* The payload ends with ,"i":"<marker>"} ("i" is its last member, after a
 * string or a tk's "r" array). Whatever comes before, the suffix starts at
 * one of three offsets modulo 3; from the first 3-byte group boundary
 * inside it, its base64url form is fixed, and it ends the payload part. */
int token_instance_pattern(const char *instance, char *out, size_t size)
{
    if (!token_instance_ok(instance))
        return -EINVAL;
    char suffix[TOKEN_INSTANCE_MAX + 16];
    int slen = snprintf(suffix, sizeof(suffix), ",\"i\":\"%s\"}", instance);
    char tails[3][sizeof(suffix) * 4 / 3 + 4];
    for (int skip = 0; skip < 3; skip++)
        crypto_b64url_encode(suffix + skip, (size_t)(slen - skip), tails[skip]);
    int n = snprintf(out, size,
                     "((pk|sk)\\.[A-Za-z0-9_-]+(%s|%s|%s)\\.[A-Za-z0-9]{%d}"
                     "|tk\\.[A-Za-z0-9_-]+(%s|%s|%s)\\.[A-Za-z0-9_-]{%d})",
                     tails[0], tails[1], tails[2], TOKEN_SECRET_LEN, tails[0], tails[1], tails[2],
                     MAC_B64_LEN);
    return n < 0 || (size_t)n >= size ? -ENOSPC : 0;
}

static const char *json_string(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

/* Encodes "<prefix><b64url(json)>" followed by tail (which may be empty)
 * into a new string. Returns NULL on allocation failure. */
static char *encode_with_payload(const char *prefix, const cJSON *obj, const char *sep,
                                 const char *tail)
{
    char *json = cJSON_PrintUnformatted(obj);
    if (!json)
        return NULL;
    size_t jlen = strlen(json);
    size_t plen = strlen(prefix), slen = strlen(sep), tlen = strlen(tail);
    size_t elen = crypto_b64url_encoded_len(jlen);
    char *out = malloc(plen + elen + slen + tlen + 1);
    if (out) {
        memcpy(out, prefix, plen);
        crypto_b64url_encode(json, jlen, out + plen);
        memcpy(out + plen + elen, sep, slen);
        memcpy(out + plen + elen + slen, tail, tlen + 1);
    }
    cJSON_free(json);
    return out;
}

char *token_format_stored(enum token_kind kind, const char *username, const char *id,
                          const char *instance, const char *secret)
{
    if ((kind != TOKEN_PK && kind != TOKEN_SK) || !username || !id || !secret || !instance ||
        !username_ok(username) || !token_id_valid(id) || !token_secret_checksum_ok(secret) ||
        (instance[0] && !token_instance_ok(instance)))
        return NULL;
    cJSON *obj = cJSON_CreateObject();
    if (!obj || !cJSON_AddStringToObject(obj, "u", username) ||
        !cJSON_AddStringToObject(obj, "a", id) ||
        (instance[0] && !cJSON_AddStringToObject(obj, "i", instance))) {
        cJSON_Delete(obj);
        return NULL;
    }
    char *out = encode_with_payload(kind == TOKEN_PK ? "pk." : "sk.", obj, ".", secret);
    cJSON_Delete(obj);
    return out;
}

/* Decodes a base64url JSON payload span into a cJSON object (NULL when it
 * is not valid base64url or not a JSON object). */
static cJSON *decode_payload(const char *p, size_t len)
{
    if (len == 0 || len > TOKEN_MAX_LEN)
        return NULL;
    uint8_t buf[PAYLOAD_MAX_DECODED + 1];
    long n = crypto_b64url_decode(p, len, buf, PAYLOAD_MAX_DECODED);
    if (n <= 0)
        return NULL;
    /* cJSON puts a NUL, raw or escaped, into its C strings, silently
     * truncating them ("b\u0000ob" reads as "b"). No claim of ours contains
     * NUL, so any payload holding or spelling one is refused (an escaped
     * backslash before "u0000" is refused too, which costs nothing). */
    if (memchr(buf, '\0', (size_t)n) || memmem(buf, (size_t)n, "\\u0000", 6))
        return NULL;
    cJSON *obj = cJSON_ParseWithLength((const char *)buf, (size_t)n);
    if (obj && !cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        obj = NULL;
    }
    return obj;
}

/* Splits a bounded token "xx.<payload>.<rest>" into spans. The payload must
 * be non-empty and contain no dot. Returns false when the shape is wrong. */
static bool split_token(const char *s, const char **payload, size_t *plen, const char **rest,
                        size_t *rlen)
{
    size_t len = strnlen(s, TOKEN_MAX_LEN + 1);
    if (len > TOKEN_MAX_LEN || len < 3 || token_kind_of(s) < 0)
        return false;
    const char *p = s + 3;
    const char *dot = memchr(p, '.', len - 3);
    if (!dot || dot == p)
        return false;
    *payload = p;
    *plen = (size_t)(dot - p);
    *rest = dot + 1;
    *rlen = len - (size_t)(*rest - s);
    return true;
}

/* Reads `"<value>"` with value made of characters ok() accepts, at most max
 * of them, into out. Returns the byte after the closing quote, or NULL. */
static const char *read_quoted(const char *p, const char *end, bool (*ok)(char), size_t max,
                               char *out)
{
    if (p >= end || *p++ != '"')
        return NULL;
    size_t n = 0;
    while (p < end && *p != '"') {
        if (n == max || !ok(*p))
            return NULL;
        out[n++] = *p++;
    }
    out[n] = '\0';
    return p < end ? p + 1 : NULL;
}

static bool literal(const char **p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
        return false;
    *p += n;
    return true;
}

/* The payload of a pk/sk token is exactly what token_format_stored writes,
 * {"u":"<username>","a":"<id>","i":"<instance>"}, or the same without "i"
 * (tokens made before markers); nothing else is a token of ours, so no
 * general JSON parser is needed on the check path. */
static bool parse_stored_payload(const char *payload, size_t len, struct token_stored_parts *out)
{
    if (len == 0 || len > TOKEN_MAX_LEN)
        return false;
    char buf[PAYLOAD_MAX_DECODED + 1];
    long n = crypto_b64url_decode(payload, len, (uint8_t *)buf, PAYLOAD_MAX_DECODED);
    if (n <= 0)
        return false;
    const char *p = buf, *end = buf + n;
    if (!(literal(&p, end, "{\"u\":") &&
          (p = read_quoted(p, end, word_char, TOKEN_USERNAME_MAX, out->username)) &&
          out->username[0] && literal(&p, end, ",\"a\":") &&
          (p = read_quoted(p, end, id_char, TOKEN_ID_LEN, out->id)) &&
          strlen(out->id) == TOKEN_ID_LEN))
        return false;
    if (literal(&p, end, ",\"i\":") &&
        !((p = read_quoted(p, end, id_char, TOKEN_INSTANCE_MAX, out->instance)) &&
          token_instance_ok(out->instance)))
        return false;
    return literal(&p, end, "}") && p == end;
}

int token_parse_stored(const char *s, struct token_stored_parts *out)
{
    if (!s || !out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    const char *payload, *secret;
    size_t plen, slen;
    int kind = token_kind_of(s);
    if ((kind != TOKEN_PK && kind != TOKEN_SK) ||
        !split_token(s, &payload, &plen, &secret, &slen))
        return -EINVAL;
    /* The secret is fixed-length alphanumeric, so a further dot or any
     * trailing byte fails here, before the payload is even decoded. */
    if (!secret_ok(secret, slen) || !parse_stored_payload(payload, plen, out)) {
        memset(out, 0, sizeof(*out));
        return -EINVAL;
    }
    out->kind = (enum token_kind)kind;
    memcpy(out->secret, secret, TOKEN_SECRET_LEN);
    out->secret[TOKEN_SECRET_LEN] = '\0';
    return 0;
}

/* MAC over the literal "tk." prefix and the payload part as sent, so the
 * bytes verified are exactly the bytes that will be decoded. */
static int temp_mac(const uint8_t key[CRYPTO_KEY_LEN], const char *signed_part, size_t len,
                    uint8_t mac[CRYPTO_MAC_LEN])
{
    return crypto_hmac_sha256(key, CRYPTO_KEY_LEN, signed_part, len, mac);
}

/* obj[name] = the list as a JSON array of strings. False when out of memory. */
static bool add_string_array(cJSON *obj, const char *name, const struct strlist *l)
{
    cJSON *arr = cJSON_AddArrayToObject(obj, name);
    for (size_t i = 0; arr && i < l->n; i++) {
        cJSON *item = cJSON_CreateString(l->v[i]);
        if (!item || !cJSON_AddItemToArray(arr, item)) {
            cJSON_Delete(item);
            return false;
        }
    }
    return arr != NULL;
}

char *token_format_temp(const uint8_t key[CRYPTO_KEY_LEN], const struct token_temp_claims *c)
{
    if (!key || !c || !username_ok(c->username) || (c->parent[0] && !token_id_valid(c->parent)) ||
        (c->instance[0] && !token_instance_ok(c->instance)) ||
        c->iat < 0 || c->exp < 0 || c->iat > CLAIM_TIME_MAX || c->exp > CLAIM_TIME_MAX)
        return NULL;
    char *out = NULL, *unsigned_tok = NULL;
    cJSON *obj = cJSON_CreateObject();
    if (!obj || !cJSON_AddStringToObject(obj, "u", c->username) ||
        !cJSON_AddNumberToObject(obj, "exp", (double)c->exp) ||
        !cJSON_AddNumberToObject(obj, "iat", (double)c->iat) ||
        !add_string_array(obj, "scopes", &c->scopes))
        goto done;
    if (!cJSON_AddStringToObject(obj, "client", "api") ||
        !cJSON_AddStringToObject(obj, "p", c->parent) ||
        (c->resources.n && !add_string_array(obj, "r", &c->resources)) ||
        (c->instance[0] && !cJSON_AddStringToObject(obj, "i", c->instance)))
        goto done;
    unsigned_tok = encode_with_payload("tk.", obj, "", "");
    if (!unsigned_tok)
        goto done;
    size_t ulen = strlen(unsigned_tok);
    if (ulen + 1 + MAC_B64_LEN > TOKEN_MAX_LEN)
        goto done; /* too many scopes: the parser would refuse it */
    uint8_t mac[CRYPTO_MAC_LEN];
    if (temp_mac(key, unsigned_tok, ulen, mac) < 0)
        goto done;
    out = malloc(ulen + 1 + MAC_B64_LEN + 1);
    if (out) {
        memcpy(out, unsigned_tok, ulen);
        out[ulen] = '.';
        crypto_b64url_encode(mac, CRYPTO_MAC_LEN, out + ulen + 1);
    }
    crypto_wipe(mac, sizeof(mac));
done:
    free(unsigned_tok);
    cJSON_Delete(obj);
    return out;
}

/* Reads a claim time: the digits cJSON prints for a whole number (no sign,
 * exponent or fraction), at most CLAIM_TIME_MAX. */
static const char *read_time(const char *p, const char *end, int64_t *out)
{
    int64_t v = 0;
    const char *start = p;
    while (p < end && *p >= '0' && *p <= '9' && p - start < 12)
        v = v * 10 + (*p++ - '0');
    if (p == start || (p < end && *p >= '0' && *p <= '9') || v > CLAIM_TIME_MAX ||
        (*start == '0' && p - start > 1))
        return NULL;
    *out = v;
    return p;
}

/* Reads `[<"word">,...]` into l, each entry at most max bytes. Scope ids
 * and bounds are printable words: control characters would come back from
 * the formatter as six-byte escapes and could push the token past
 * TOKEN_MAX_LEN (found by fuzz_token). The words are cut in place (p is
 * in the caller's own decoded buffer) and copied into l at once. */
static const char *read_words(const char *p, const char *end, size_t max, struct strlist *l,
                              int *rc)
{
    char *items[PAYLOAD_MAX_DECODED / 3 + 1]; /* each entry takes 3 bytes or more */
    size_t n = 0;
    if (!literal(&p, end, "["))
        return NULL;
    if (!literal(&p, end, "]")) {
        do {
            if (p >= end || *p != '"')
                return NULL;
            char *word = (char *)++p;
            while (p < end && *p != '"' && word_char(*p))
                p++;
            if (p >= end || *p != '"' || p == word || (size_t)(p - word) > max)
                return NULL;
            *(char *)p++ = '\0';
            items[n++] = word;
        } while (literal(&p, end, ","));
        if (!literal(&p, end, "]"))
            return NULL;
    }
    if (strlist_set(l, items, n) < 0) {
        *rc = -ENOMEM;
        return NULL;
    }
    return p;
}

/* The payload of a tk is exactly what token_format_temp writes, in its
 * order: {"u","exp","iat","scopes","client","p"} then "r" and "i" when
 * present (tokens made before bounds or markers lack them; "client" is
 * informational and may be absent). Read by this
 * strict reader, like the pk/sk payload, rather than a general JSON parser:
 * the check path reads one per request. 0, -EINVAL or -ENOMEM. */
static int parse_temp_payload(const char *p, const char *end, struct token_temp_claims *out)
{
    char client[TOKEN_SCOPE_MAX + 1];
    int rc = -EINVAL;
    if (!(literal(&p, end, "{\"u\":") &&
          (p = read_quoted(p, end, word_char, TOKEN_USERNAME_MAX, out->username)) &&
          out->username[0] && literal(&p, end, ",\"exp\":") && (p = read_time(p, end, &out->exp)) &&
          literal(&p, end, ",\"iat\":") && (p = read_time(p, end, &out->iat)) &&
          literal(&p, end, ",\"scopes\":") &&
          (p = read_words(p, end, TOKEN_SCOPE_MAX, &out->scopes, &rc)) &&
          (!literal(&p, end, ",\"client\":") ||
           (p = read_quoted(p, end, word_char, TOKEN_SCOPE_MAX, client))) &&
          literal(&p, end, ",\"p\":") &&
          (p = read_quoted(p, end, id_char, TOKEN_ID_LEN, out->parent)) &&
          (!out->parent[0] || token_id_valid(out->parent))))
        return rc;
    if (literal(&p, end, ",\"r\":") &&
        !(p = read_words(p, end, RESOURCE_MAX_LEN, &out->resources, &rc)))
        return rc;
    if (literal(&p, end, ",\"i\":") &&
        !((p = read_quoted(p, end, id_char, TOKEN_INSTANCE_MAX, out->instance)) &&
          token_instance_ok(out->instance)))
        return -EINVAL;
    return literal(&p, end, "}") && p == end ? 0 : -EINVAL;
}

int token_parse_temp(const uint8_t key[CRYPTO_KEY_LEN], const char *s,
                     struct token_temp_claims *out)
{
    if (!key || !s || !out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    const char *payload, *macpart;
    size_t plen, mlen;
    char buf[PAYLOAD_MAX_DECODED + 1];
    uint8_t given[CRYPTO_MAC_LEN], expected[CRYPTO_MAC_LEN];
    long n;
    /* Decoding checks the base64url alphabet of both parts. */
    if (token_kind_of(s) != TOKEN_TK || !split_token(s, &payload, &plen, &macpart, &mlen) ||
        mlen != MAC_B64_LEN ||
        crypto_b64url_decode(macpart, mlen, given, sizeof(given)) != CRYPTO_MAC_LEN ||
        (n = crypto_b64url_decode(payload, plen, (uint8_t *)buf, PAYLOAD_MAX_DECODED)) <= 0)
        return -EINVAL;
    /* Verify before parsing: unauthenticated claims are never read. */
    if (temp_mac(key, s, (size_t)(payload - s) + plen, expected) < 0)
        return -EIO;
    bool match = crypto_equal(given, expected, CRYPTO_MAC_LEN);
    crypto_wipe(expected, sizeof(expected));
    if (!match)
        return -EPERM;
    int rc = parse_temp_payload(buf, buf + n, out);
    if (rc < 0) {
        strlist_free(&out->scopes);
        strlist_free(&out->resources);
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

int token_temp_id(const char *s, char out[TOKEN_ID_LEN + 1])
{
    const char *payload, *macpart;
    size_t plen, mlen;
    uint8_t mac[CRYPTO_MAC_LEN];
    if (!s || token_kind_of(s) != TOKEN_TK || !split_token(s, &payload, &plen, &macpart, &mlen) ||
        mlen != MAC_B64_LEN ||
        crypto_b64url_decode(macpart, mlen, mac, sizeof(mac)) != CRYPTO_MAC_LEN)
        return -EINVAL;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < TOKEN_ID_LEN; i++)
        out[i] = hex[i % 2 ? mac[i / 2] & 15 : mac[i / 2] >> 4];
    out[TOKEN_ID_LEN] = '\0';
    return 0;
}

int token_peek_username(const char *s, char out[TOKEN_USERNAME_MAX + 1])
{
    if (!s || !out)
        return -EINVAL;
    out[0] = '\0';
    const char *payload, *rest;
    size_t plen, rlen;
    if (!split_token(s, &payload, &plen, &rest, &rlen))
        return -EINVAL;
    cJSON *obj = decode_payload(payload, plen);
    if (!obj)
        return -EINVAL;
    const char *u = json_string(obj, "u");
    int rc = -EINVAL;
    if (u && username_ok(u)) {
        strcpy(out, u);
        rc = 0;
    }
    cJSON_Delete(obj);
    return rc;
}
