/* Unit tests for jwt.c: signing and verifying access and refresh tokens,
 * exact claim layout, tampering (-EPERM), foreign algorithms and garbage
 * (-EINVAL). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/crypto.h"
#include "auth/jwt.h"

static uint8_t key[CRYPTO_KEY_LEN];
static uint8_t other_key[CRYPTO_KEY_LEN];

static void fill(struct jwt_claims *c, enum jwt_type type)
{
    memset(c, 0, sizeof(*c));
    c->type = type;
    c->iat = 1795435200;
    c->exp = 1795435500;
    jwt_new_jti(c->jti);
    c->user_id = 42;
    strcpy(c->username, "frank");
    assert_int_equal(strlist_push(&c->scopes, "stac"), 0);
    assert_int_equal(strlist_push(&c->scopes, "catalog:read"), 0);
    assert_int_equal(strlist_push(&c->groups, "Public"), 0);
    if (type == JWT_REFRESH)
        jwt_new_jti(c->family);
}

/* Decodes part index (0 header, 1 payload) of a compact JWT into buf. */
static void decode_part(const char *tok, int index, char *buf, size_t cap)
{
    const char *start = tok;
    for (int i = 0; i < index; i++)
        start = strchr(start, '.') + 1;
    const char *end = strchr(start, '.');
    long n = crypto_b64url_decode(start, (size_t)(end - start), (uint8_t *)buf, cap - 1);
    assert_true(n > 0);
    buf[n] = '\0';
}

/* Builds header.payload and signs it with key (HS256), for hand-made cases. */
static char *sign_parts(const uint8_t *k, const char *header_json, const char *payload_json)
{
    size_t hl = strlen(header_json), pl = strlen(payload_json);
    char *out = malloc(crypto_b64url_encoded_len(hl) + crypto_b64url_encoded_len(pl) + 48);
    size_t n = crypto_b64url_encode(header_json, hl, out);
    out[n++] = '.';
    n += crypto_b64url_encode(payload_json, pl, out + n);
    uint8_t mac[CRYPTO_MAC_LEN];
    assert_int_equal(crypto_hmac_sha256(k, CRYPTO_KEY_LEN, out, n, mac), 0);
    out[n++] = '.';
    crypto_b64url_encode(mac, sizeof(mac), out + n);
    return out;
}

static const char *good_payload =
    "{\"token_type\":\"access\",\"exp\":1795435500,\"iat\":1795435200,"
    "\"jti\":\"0123456789abcdef0123456789abcdef\",\"user_id\":7,\"u\":\"gina\","
    "\"scope\":\"stac catalog:read\",\"groups\":\"Public Staff\"}";

static void test_jti(void **state)
{
    (void)state;
    char a[JWT_JTI_LEN + 1], b[JWT_JTI_LEN + 1];
    jwt_new_jti(a);
    jwt_new_jti(b);
    assert_int_equal(strlen(a), JWT_JTI_LEN);
    assert_int_equal(strspn(a, "0123456789abcdef"), JWT_JTI_LEN);
    assert_string_not_equal(a, b);
}

static void test_access_roundtrip(void **state)
{
    (void)state;
    struct jwt_claims c;
    fill(&c, JWT_ACCESS);
    char *tok = jwt_sign(key, &c);
    assert_non_null(tok);

    char buf[1024];
    decode_part(tok, 0, buf, sizeof(buf));
    assert_string_equal(buf, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
    decode_part(tok, 1, buf, sizeof(buf));
    char expect[512];
    snprintf(expect, sizeof(expect),
             "{\"token_type\":\"access\",\"exp\":1795435500,\"iat\":1795435200,\"jti\":\"%s\","
             "\"user_id\":42,\"u\":\"frank\",\"scope\":\"stac catalog:read\","
             "\"groups\":\"Public\"}",
             c.jti);
    assert_string_equal(buf, expect);

    struct jwt_claims out;
    assert_int_equal(jwt_verify(key, tok, &out), 0);
    assert_int_equal(out.type, JWT_ACCESS);
    assert_int_equal(out.exp, 1795435500);
    assert_int_equal(out.iat, 1795435200);
    assert_string_equal(out.jti, c.jti);
    assert_int_equal(out.user_id, 42);
    assert_string_equal(out.username, "frank");
    assert_int_equal(out.scopes.n, 2);
    assert_string_equal(out.scopes.v[0], "stac");
    assert_string_equal(out.scopes.v[1], "catalog:read");
    assert_int_equal(out.groups.n, 1);
    assert_string_equal(out.groups.v[0], "Public");
    assert_string_equal(out.family, "");
    jwt_claims_free(&out);
    jwt_claims_free(&c);
    free(tok);
}

static void test_refresh_roundtrip(void **state)
{
    (void)state;
    struct jwt_claims c;
    fill(&c, JWT_REFRESH);
    char *tok = jwt_sign(key, &c);
    assert_non_null(tok);
    char buf[1024];
    decode_part(tok, 1, buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"token_type\":\"refresh\""));
    assert_non_null(strstr(buf, "\"fam\":\""));
    struct jwt_claims out;
    assert_int_equal(jwt_verify(key, tok, &out), 0);
    assert_int_equal(out.type, JWT_REFRESH);
    assert_string_equal(out.family, c.family);
    jwt_claims_free(&out);
    jwt_claims_free(&c);
    free(tok);
}

static void test_empty_scopes(void **state)
{
    (void)state;
    struct jwt_claims c;
    memset(&c, 0, sizeof(c));
    c.type = JWT_ACCESS;
    c.iat = 1;
    c.exp = 2;
    jwt_new_jti(c.jti);
    strcpy(c.username, "h");
    char *tok = jwt_sign(key, &c);
    assert_non_null(tok);
    struct jwt_claims out;
    assert_int_equal(jwt_verify(key, tok, &out), 0);
    assert_int_equal(out.scopes.n, 0);
    assert_int_equal(out.groups.n, 0);
    jwt_claims_free(&out);
    free(tok);
}

/* Integer claims are signed exactly up to 2^53 - 1, the largest accepted:
 * cJSON's own number printing wrote 7111111111111111 as
 * 7.11111111111111e+15, which read back one less (found by fuzz_jwt). */
static void test_large_integers_roundtrip(void **state)
{
    (void)state;
    static const int64_t ids[] = {7111111111111111LL, 9007199254740991LL, 999999999999999LL};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        struct jwt_claims c, out;
        fill(&c, JWT_ACCESS);
        c.user_id = ids[i];
        c.exp = 253402300799LL; /* the largest time accepted */
        char *tok = jwt_sign(key, &c);
        assert_non_null(tok);
        assert_int_equal(jwt_verify(key, tok, &out), 0);
        assert_int_equal(out.user_id, ids[i]);
        assert_int_equal(out.exp, c.exp);
        assert_int_equal(out.iat, c.iat);
        char payload[1024];
        decode_part(tok, 1, payload, sizeof(payload));
        assert_non_null(strstr(payload, "\"exp\":253402300799,"));
        jwt_claims_free(&out);
        jwt_claims_free(&c);
        free(tok);
    }
}

static void test_tampered(void **state)
{
    (void)state;
    struct jwt_claims c, out;
    fill(&c, JWT_ACCESS);
    char *tok = jwt_sign(key, &c);
    jwt_claims_free(&c);
    assert_non_null(tok);
    assert_int_equal(jwt_verify(other_key, tok, &out), -EPERM);
    size_t len = strlen(tok);
    const char *sig = strrchr(tok, '.') + 1;
    size_t sig_start = (size_t)(sig - tok);
    /* Flip signature characters (not the last, which has unused bits). */
    for (size_t i = sig_start; i + 1 < len; i += 4) {
        char saved = tok[i];
        tok[i] = saved == 'A' ? 'B' : 'A';
        assert_int_equal(jwt_verify(key, tok, &out), -EPERM);
        tok[i] = saved;
    }
    /* Flip payload characters. */
    const char *payload = strchr(tok, '.') + 1;
    for (size_t i = (size_t)(payload - tok); i + 2 < sig_start - 1; i += 9) {
        char saved = tok[i];
        tok[i] = saved == 'A' ? 'B' : 'A';
        assert_int_equal(jwt_verify(key, tok, &out), -EPERM);
        tok[i] = saved;
    }
    assert_int_equal(jwt_verify(key, tok, &out), 0);
    jwt_claims_free(&out);
    free(tok);

    /* Claims forged under another key. */
    char *forged = sign_parts(other_key, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", good_payload);
    assert_int_equal(jwt_verify(key, forged, &out), -EPERM);
    free(forged);
    char *good = sign_parts(key, "{\"typ\":\"JWT\",\"alg\":\"HS256\"}", good_payload);
    assert_int_equal(jwt_verify(key, good, &out), 0);
    assert_int_equal(out.user_id, 7);
    assert_int_equal(out.groups.n, 2);
    jwt_claims_free(&out);
    free(good);
}

static void test_alg_none_and_others(void **state)
{
    (void)state;
    struct jwt_claims out;
    static const char *const headers[] = {
        "{\"alg\":\"none\",\"typ\":\"JWT\"}",
        "{\"alg\":\"None\"}",
        "{\"alg\":\"HS384\",\"typ\":\"JWT\"}",
        "{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
        "{\"alg\":\"hs256\"}",
        "{\"typ\":\"JWT\"}",
        "{\"alg\":256}",
        "{\"alg\":\"HS256\",\"typ\":\"JWE\"}",
        "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}",
        "[\"HS256\"]",
        "not json",
    };
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        char *tok = sign_parts(key, headers[i], good_payload);
        if (jwt_verify(key, tok, &out) != -EINVAL)
            fail_msg("accepted header %s", headers[i]);
        free(tok);
    }
    /* The classic "alg":"none" token with an empty signature. */
    char tok[1024];
    size_t n = crypto_b64url_encode("{\"alg\":\"none\",\"typ\":\"JWT\"}", 27, tok);
    tok[n++] = '.';
    n += crypto_b64url_encode(good_payload, strlen(good_payload), tok + n);
    tok[n++] = '.';
    tok[n] = '\0';
    assert_int_equal(jwt_verify(key, tok, &out), -EINVAL);
    /* An HS256 header with an empty signature is malformed too. */
    n = crypto_b64url_encode("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", 27, tok);
    tok[n++] = '.';
    n += crypto_b64url_encode(good_payload, strlen(good_payload), tok + n);
    tok[n++] = '.';
    tok[n] = '\0';
    assert_int_equal(jwt_verify(key, tok, &out), -EINVAL);
    /* Header without typ is fine. */
    char *ok = sign_parts(key, "{\"alg\":\"HS256\"}", good_payload);
    assert_int_equal(jwt_verify(key, ok, &out), 0);
    jwt_claims_free(&out);
    free(ok);
}

static void test_bad_claims(void **state)
{
    (void)state;
    struct jwt_claims out;
    static const char *const payloads[] = {
        "{}",
        "[]",
        "{\"token_type\":\"id\",\"exp\":2,\"iat\":1,\"jti\":\"0123456789abcdef0123456789abcdef\","
        "\"user_id\":7,\"u\":\"g\",\"scope\":\"\",\"groups\":\"\"}",
        "{\"token_type\":\"access\",\"exp\":\"2\",\"iat\":1,"
        "\"jti\":\"0123456789abcdef0123456789abcdef\",\"user_id\":7,\"u\":\"g\",\"scope\":\"\","
        "\"groups\":\"\"}",
        "{\"token_type\":\"access\",\"exp\":2.5,\"iat\":1,"
        "\"jti\":\"0123456789abcdef0123456789abcdef\",\"user_id\":7,\"u\":\"g\",\"scope\":\"\","
        "\"groups\":\"\"}",
        "{\"token_type\":\"access\",\"exp\":2,\"iat\":1,\"jti\":\"short\",\"user_id\":7,"
        "\"u\":\"g\",\"scope\":\"\",\"groups\":\"\"}",
        "{\"token_type\":\"access\",\"exp\":2,\"iat\":1,"
        "\"jti\":\"0123456789abcdef0123456789abcdef\",\"user_id\":-7,\"u\":\"g\",\"scope\":\"\","
        "\"groups\":\"\"}",
        "{\"token_type\":\"access\",\"exp\":2,\"iat\":1,"
        "\"jti\":\"0123456789abcdef0123456789abcdef\",\"user_id\":7,"
        "\"u\":\"abcdefghijklmnopqrstuvwxyz0123456\",\"scope\":\"\",\"groups\":\"\"}",
        "{\"token_type\":\"access\",\"exp\":2,\"iat\":1,"
        "\"jti\":\"0123456789abcdef0123456789abcdef\",\"user_id\":7,\"u\":\"g\",\"scope\":\"\"}",
        "{\"token_type\":\"access\",\"exp\":2,\"iat\":1,"
        "\"jti\":\"0123456789abcdef0123456789abcdef\",\"user_id\":7,\"u\":\"g\\u0000x\","
        "\"scope\":\"\",\"groups\":\"\"}",
        /* non-ASCII in the groups list (fuzz_jwt: did not sign again as it was) */
        "{\"token_type\":\"access\",\"exp\":2,\"iat\":1,"
        "\"jti\":\"0123456789abcdef0123456789abcdef\",\"user_id\":7,\"u\":\"g\",\"scope\":\"\","
        "\"groups\":\"Public\xa8\xa8Partners\"}",
        /* refresh without fam */
        "{\"token_type\":\"refresh\",\"exp\":2,\"iat\":1,"
        "\"jti\":\"0123456789abcdef0123456789abcdef\",\"user_id\":7,\"u\":\"g\",\"scope\":\"\","
        "\"groups\":\"\"}",
    };
    for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        char *tok = sign_parts(key, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payloads[i]);
        if (jwt_verify(key, tok, &out) != -EINVAL)
            fail_msg("accepted payload %s", payloads[i]);
        assert_int_equal(out.scopes.n, 0);
        free(tok);
    }
}

static void test_garbage(void **state)
{
    (void)state;
    struct jwt_claims out;
    static const char *const bad[] = {
        "",
        ".",
        "..",
        "a.b.c",
        "a.b",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.AAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9=.e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "pk.eyJ1IjoiYm9iIn0.abcdefghijklmnopqrstuvwxyzABCDEF012345",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (jwt_verify(key, bad[i], &out) != -EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
    assert_int_equal(jwt_verify(key, NULL, &out), -EINVAL);

    /* Longer than JWT_MAX_LEN. */
    char *huge = malloc(JWT_MAX_LEN + 50);
    memset(huge, 'A', JWT_MAX_LEN + 49);
    huge[10] = '.';
    huge[20] = '.';
    huge[JWT_MAX_LEN + 49] = '\0';
    assert_int_equal(jwt_verify(key, huge, &out), -EINVAL);
    free(huge);

    /* Random bytes never crash and never verify. */
    char buf[300];
    for (int i = 0; i < 3000; i++) {
        size_t n = (size_t)(i % 290);
        crypto_random(buf, n);
        for (size_t j = 0; j < n; j++)
            if (buf[j] == '\0')
                buf[j] = '.';
        buf[n] = '\0';
        assert_int_equal(jwt_verify(key, buf, &out), -EINVAL);
    }
}

int main(void)
{
    if (crypto_init() != 0)
        return 1;
    crypto_random(key, sizeof(key));
    crypto_random(other_key, sizeof(other_key));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jti),          cmocka_unit_test(test_access_roundtrip),
        cmocka_unit_test(test_refresh_roundtrip), cmocka_unit_test(test_empty_scopes),
        cmocka_unit_test(test_tampered),     cmocka_unit_test(test_alg_none_and_others),
        cmocka_unit_test(test_bad_claims),   cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_large_integers_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
