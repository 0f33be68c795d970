/* Unit tests for token.c: ids and checksummed secrets, pk./sk. formatting and
 * parsing, tk. signing and verification, tampering and malformed input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <regex.h>

#include "auth/crypto.h"
#include "auth/token.h"

static uint8_t key[CRYPTO_KEY_LEN];
static uint8_t other_key[CRYPTO_KEY_LEN];

static void test_new_id(void **state)
{
    (void)state;
    char a[TOKEN_ID_LEN + 1], b[TOKEN_ID_LEN + 1];
    token_new_id(a);
    token_new_id(b);
    assert_int_equal(strlen(a), TOKEN_ID_LEN);
    assert_int_equal(strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789"), TOKEN_ID_LEN);
    assert_string_not_equal(a, b);
}

static void test_secret_checksum(void **state)
{
    (void)state;
    char s[TOKEN_SECRET_LEN + 1];
    for (int i = 0; i < 50; i++) {
        token_new_secret(s);
        assert_int_equal(strlen(s), TOKEN_SECRET_LEN);
        assert_true(token_secret_checksum_ok(s));
    }
    /* Changing any single character breaks the checksum. */
    for (size_t i = 0; i < TOKEN_SECRET_LEN; i++) {
        char t[TOKEN_SECRET_LEN + 1];
        memcpy(t, s, sizeof(t));
        t[i] = t[i] == 'a' ? 'b' : 'a';
        assert_false(token_secret_checksum_ok(t));
    }
    /* Known answer: the checksum is base62 (0-9A-Za-z) of the CRC32 of the
     * first 32 characters, six digits, most significant first. */
    const char *random = "abcdefghijklmnopqrstuvwxyz012345";
    uint32_t crc = crypto_crc32(random, 32);
    char expect[TOKEN_SECRET_LEN + 1];
    memcpy(expect, random, 32);
    const char *b62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for (int i = 5; i >= 0; i--) {
        expect[32 + i] = b62[crc % 62];
        crc /= 62;
    }
    expect[TOKEN_SECRET_LEN] = '\0';
    assert_true(token_secret_checksum_ok(expect));
    /* Wrong length / alphabet. */
    assert_false(token_secret_checksum_ok(""));
    assert_false(token_secret_checksum_ok(NULL));
    char longer[TOKEN_SECRET_LEN + 2];
    memcpy(longer, s, TOKEN_SECRET_LEN);
    longer[TOKEN_SECRET_LEN] = 'x';
    longer[TOKEN_SECRET_LEN + 1] = '\0';
    assert_false(token_secret_checksum_ok(longer));
    char bad[TOKEN_SECRET_LEN + 1];
    memcpy(bad, s, sizeof(bad));
    bad[3] = '-';
    assert_false(token_secret_checksum_ok(bad));
}

static void test_hash_secret(void **state)
{
    (void)state;
    char s[TOKEN_SECRET_LEN + 1];
    token_new_secret(s);
    uint8_t h1[CRYPTO_MAC_LEN], h2[CRYPTO_MAC_LEN], h3[CRYPTO_MAC_LEN], ref[CRYPTO_MAC_LEN];
    assert_int_equal(token_hash_secret(key, s, h1), 0);
    assert_int_equal(token_hash_secret(key, s, h2), 0);
    assert_memory_equal(h1, h2, sizeof(h1));
    assert_int_equal(crypto_hmac_sha256(key, CRYPTO_KEY_LEN, s, strlen(s), ref), 0);
    assert_memory_equal(h1, ref, sizeof(h1));
    assert_int_equal(token_hash_secret(other_key, s, h3), 0);
    assert_memory_not_equal(h1, h3, sizeof(h1));
}

static void test_kind_of(void **state)
{
    (void)state;
    assert_int_equal(token_kind_of("pk.abc.def"), TOKEN_PK);
    assert_int_equal(token_kind_of("sk.abc.def"), TOKEN_SK);
    assert_int_equal(token_kind_of("tk.abc.def"), TOKEN_TK);
    assert_int_equal(token_kind_of("eyJhbGciOiJIUzI1NiJ9.e30.sig"), -1);
    assert_int_equal(token_kind_of("pk"), -1);
    assert_int_equal(token_kind_of("pk_"), -1);
    assert_int_equal(token_kind_of("PK.abc"), -1);
    assert_int_equal(token_kind_of(""), -1);
    assert_int_equal(token_kind_of(NULL), -1);
}

static void test_stored_roundtrip(void **state)
{
    (void)state;
    char id[TOKEN_ID_LEN + 1], secret[TOKEN_SECRET_LEN + 1];
    token_new_id(id);
    token_new_secret(secret);
    for (int k = 0; k < 2; k++) {
        enum token_kind kind = k ? TOKEN_SK : TOKEN_PK;
        char *tok = token_format_stored(kind, "alice_01", id, "k3v9x2m8q4w7", secret);
        assert_non_null(tok);
        assert_memory_equal(tok, k ? "sk." : "pk.", 3);
        assert_int_equal(token_kind_of(tok), kind);
        struct token_stored_parts p;
        assert_int_equal(token_parse_stored(tok, &p), 0);
        assert_int_equal(p.kind, kind);
        assert_string_equal(p.username, "alice_01");
        assert_string_equal(p.id, id);
        assert_string_equal(p.secret, secret);
        assert_string_equal(p.instance, "k3v9x2m8q4w7");
        char user[TOKEN_USERNAME_MAX + 1];
        assert_int_equal(token_peek_username(tok, user), 0);
        assert_string_equal(user, "alice_01");

        /* The Mapbox rule: the second part is b64url JSON with "u". */
        const char *payload = tok + 3;
        const char *dot = strchr(payload, '.');
        assert_non_null(dot);
        uint8_t raw[256];
        long n = crypto_b64url_decode(payload, (size_t)(dot - payload), raw, sizeof(raw) - 1);
        assert_true(n > 0);
        raw[n] = '\0';
        char expect[128];
        snprintf(expect, sizeof(expect),
                 "{\"u\":\"alice_01\",\"a\":\"%s\",\"i\":\"k3v9x2m8q4w7\"}", id);
        assert_string_equal((char *)raw, expect);
        assert_string_equal(dot + 1, secret);
        free(tok);
    }
}

static void test_stored_format_rejects(void **state)
{
    (void)state;
    char id[TOKEN_ID_LEN + 1], secret[TOKEN_SECRET_LEN + 1];
    token_new_id(id);
    token_new_secret(secret);
    assert_null(token_format_stored(TOKEN_TK, "bob", id, "", secret));
    assert_null(token_format_stored(TOKEN_PK, "", id, "", secret));
    assert_null(token_format_stored(TOKEN_PK, "abcdefghijklmnopqrstuvwxyz0123456", id, "", secret));
    assert_null(token_format_stored(TOKEN_PK, "bob", "short", "", secret));
    assert_null(token_format_stored(TOKEN_PK, "bob", id, NULL, secret));
    assert_null(token_format_stored(TOKEN_PK, "bob", id, "abc", secret));
    assert_null(token_format_stored(TOKEN_PK, "bob", id, "abcdefghijklmnopq", secret));
    assert_null(token_format_stored(TOKEN_PK, "bob", id, "ABCDEFGH", secret));
    char bad_secret[TOKEN_SECRET_LEN + 1];
    memcpy(bad_secret, secret, sizeof(bad_secret));
    bad_secret[0] = bad_secret[0] == 'x' ? 'y' : 'x';
    assert_null(token_format_stored(TOKEN_PK, "bob", id, "", bad_secret));
}

static void test_stored_checksum_rejects_one_char(void **state)
{
    (void)state;
    char id[TOKEN_ID_LEN + 1], secret[TOKEN_SECRET_LEN + 1];
    token_new_id(id);
    token_new_secret(secret);
    char *tok = token_format_stored(TOKEN_SK, "carol", id, "k3v9x2m8q4w7", secret);
    assert_non_null(tok);
    size_t len = strlen(tok);
    struct token_stored_parts p;
    for (size_t i = len - TOKEN_SECRET_LEN; i < len; i++) {
        char saved = tok[i];
        tok[i] = saved == 'Q' ? 'R' : 'Q';
        assert_int_equal(token_parse_stored(tok, &p), -EINVAL);
        tok[i] = saved;
    }
    assert_int_equal(token_parse_stored(tok, &p), 0);
    free(tok);
}

/* Builds "<prefix><b64url(json)>.<tail>" for hand-made malformed tokens. */
static char *make_token(const char *prefix, const char *json, const char *tail)
{
    size_t jl = strlen(json);
    char *out = malloc(strlen(prefix) + crypto_b64url_encoded_len(jl) + strlen(tail) + 2);
    strcpy(out, prefix);
    crypto_b64url_encode(json, jl, out + strlen(out));
    strcat(out, ".");
    strcat(out, tail);
    return out;
}

static void test_stored_malformed(void **state)
{
    (void)state;
    char secret[TOKEN_SECRET_LEN + 1];
    token_new_secret(secret);
    struct token_stored_parts p;
    static const char *const bad_json[] = {
        "{\"u\":\"bob\"}",
        "{\"a\":\"abcdefghijklmnopqrstuvwxy\"}",
        "{\"u\":\"bob\",\"a\":\"short\"}",
        "{\"u\":\"bob\",\"a\":\"ABCDEFGHIJKLMNOPQRSTUVWXY\"}",
        "{\"u\":\"\",\"a\":\"abcdefghijklmnopqrstuvwxy\"}",
        "{\"u\":\"b o b\",\"a\":\"abcdefghijklmnopqrstuvwxy\"}",
        "{\"u\":\"b\\u0000ob\",\"a\":\"abcdefghijklmnopqrstuvwxy\"}",
        "{\"u\":7,\"a\":\"abcdefghijklmnopqrstuvwxy\"}",
        "{\"u\":\"abcdefghijklmnopqrstuvwxyz0123456\",\"a\":\"abcdefghijklmnopqrstuvwxy\"}",
        "[\"bob\"]",
        "\"bob\"",
        "{\"u\":\"bob\",\"a\":\"abcdefghijklmnopqrstuvwxy\"",
        "",
        /* Only the exact form token_format_stored writes is a token of ours:
         * re-encodings of a real token's payload are malformed too. */
        "{\"a\":\"abcdefghijklmnopqrstuvwxy\",\"u\":\"bob\"}",
        "{ \"u\":\"bob\",\"a\":\"abcdefghijklmnopqrstuvwxy\"}",
        "{\"u\":\"bob\",\"a\":\"abcdefghijklmnopqrstuvwxy\"}\n",
        "{\"u\":\"bob\",\"a\":\"abcdefghijklmnopqrstuvwxy\",\"x\":1}",
        "{\"u\":\"b\\u006fb\",\"a\":\"abcdefghijklmnopqrstuvwxy\"}",
        "{\"u\":\"bob\",\"a\":\"abcdefghijklmnopqrstuvwxyz\"}",
        "{\"u\":\"bob\",\"a\":\"abcdefghijklmnopqrstuvwxy",
        /* The marker: 4-16 chars [a-z0-9], last, exactly once. */
        "{\"u\":\"bob\",\"a\":\"abcdefghijklmnopqrstuvwxy\",\"i\":\"k3v\"}",
        "{\"u\":\"bob\",\"a\":\"abcdefghijklmnopqrstuvwxy\",\"i\":\"k3v9x2m8q4w7k3v9x\"}",
        "{\"u\":\"bob\",\"a\":\"abcdefghijklmnopqrstuvwxy\",\"i\":\"K3V9X2M8\"}",
        "{\"u\":\"bob\",\"a\":\"abcdefghijklmnopqrstuvwxy\",\"i\":\"\"}",
        "{\"u\":\"bob\",\"a\":\"abcdefghijklmnopqrstuvwxy\",\"i\":7}",
        "{\"u\":\"bob\",\"a\":\"abcdefghijklmnopqrstuvwxy\",\"i\":\"k3v9\",\"i\":\"k3v9\"}",
        "{\"u\":\"bob\",\"a\":\"abcdefghijklmnopqrstuvwxy\",\"i\":\"k3v9\"",
        "{\"u\":\"bob\",\"i\":\"k3v9\",\"a\":\"abcdefghijklmnopqrstuvwxy\"}",
        "{\"i\":\"k3v9\",\"u\":\"bob\",\"a\":\"abcdefghijklmnopqrstuvwxy\"}",
    };
    for (size_t i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
        char *tok = make_token("pk.", bad_json[i], secret);
        if (token_parse_stored(tok, &p) != -EINVAL)
            fail_msg("accepted payload %s", bad_json[i]);
        free(tok);
    }
    /* A token made before markers: no "i". */
    char *good = make_token("pk.", "{\"u\":\"bob\",\"a\":\"abcdefghijklmnopqrstuvwxy\"}", secret);
    assert_int_equal(token_parse_stored(good, &p), 0);
    assert_string_equal(p.username, "bob");
    assert_string_equal(p.instance, "");
    free(good);
    good = make_token("sk.", "{\"u\":\"bob\",\"a\":\"abcdefghijklmnopqrstuvwxy\",\"i\":\"k3v9\"}",
                      secret);
    assert_int_equal(token_parse_stored(good, &p), 0);
    assert_string_equal(p.instance, "k3v9");
    free(good);

    static const char *const bad[] = {
        "",
        "pk",
        "pk.",
        "pk..",
        "pk..secret",
        "tk.eyJ1IjoiYm9iIn0.x",
        "xx.eyJ1IjoiYm9iIn0.x",
        "pk.eyJ1IjoiYm9iIn0",
        "pk.eyJ1IjoiYm9iIn0.",
        "pk.eyJ1IjoiYm9iIn0=.abc",
        "pk.!!!!.abcdefghijklmnopqrstuvwxyzABCDEF012345",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (token_parse_stored(bad[i], &p) != -EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
    assert_int_equal(token_parse_stored(NULL, &p), -EINVAL);

    /* A valid token with an extra part or trailing byte. */
    char id[TOKEN_ID_LEN + 1];
    token_new_id(id);
    char *tok = token_format_stored(TOKEN_PK, "bob", id, "k3v9x2m8q4w7", secret);
    size_t len = strlen(tok);
    char *longer = malloc(len + 3);
    memcpy(longer, tok, len);
    memcpy(longer + len, ".x", 3);
    assert_int_equal(token_parse_stored(longer, &p), -EINVAL);
    longer[len] = 'x';
    longer[len + 1] = '\0';
    assert_int_equal(token_parse_stored(longer, &p), -EINVAL);
    free(longer);
    free(tok);

    /* Longer than TOKEN_MAX_LEN. */
    char *huge = malloc(TOKEN_MAX_LEN + 100);
    memset(huge, 'A', TOKEN_MAX_LEN + 99);
    memcpy(huge, "pk.", 3);
    huge[TOKEN_MAX_LEN + 99] = '\0';
    assert_int_equal(token_parse_stored(huge, &p), -EINVAL);
    char user[TOKEN_USERNAME_MAX + 1];
    assert_int_equal(token_peek_username(huge, user), -EINVAL);
    free(huge);
}

static void fill_claims(struct token_temp_claims *c, const char *parent)
{
    memset(c, 0, sizeof(*c));
    strcpy(c->username, "dave");
    strcpy(c->parent, parent);
    c->iat = 1795435200;
    c->exp = 1795438800;
    assert_int_equal(strlist_push(&c->scopes, "styles:tiles"), 0);
    assert_int_equal(strlist_push(&c->scopes, "fonts:read"), 0);
}

/* The tk claims carry the marker when given, and parse without one. */
static void test_temp_instance(void **state)
{
    (void)state;
    struct token_temp_claims c, out;
    fill_claims(&c, "");
    strcpy(c.instance, "k3v9x2m8q4w7");
    char *tok = token_format_temp(key, &c);
    assert_non_null(tok);
    assert_int_equal(token_parse_temp(key, tok, &out), 0);
    assert_string_equal(out.instance, "k3v9x2m8q4w7");
    strlist_free(&out.scopes);
    free(tok);
    c.instance[0] = '\0';
    tok = token_format_temp(key, &c);
    assert_non_null(tok);
    assert_int_equal(token_parse_temp(key, tok, &out), 0);
    assert_string_equal(out.instance, "");
    strlist_free(&out.scopes);
    free(tok);
    strcpy(c.instance, "no");
    assert_null(token_format_temp(key, &c));
    strlist_free(&c.scopes);
}

/* The scanner pattern matches every token with this marker, whatever the
 * username's length (the three alignments), and none with another marker
 * or none. */
static void test_instance_pattern(void **state)
{
    (void)state;
    char pattern[512];
    assert_int_equal(token_instance_pattern("k3v9x2m8q4w7", pattern, sizeof(pattern)), 0);
    assert_int_equal(token_instance_pattern("K3", pattern, sizeof(pattern)), -EINVAL);
    char tiny[16];
    assert_int_equal(token_instance_pattern("k3v9x2m8q4w7", tiny, sizeof(tiny)), -ENOSPC);
    regex_t re;
    char anchored[520];
    snprintf(anchored, sizeof(anchored), "^%s$", pattern);
    assert_int_equal(regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB), 0);
    char id[TOKEN_ID_LEN + 1], secret[TOKEN_SECRET_LEN + 1];
    token_new_id(id);
    token_new_secret(secret);
    static const char *const users[] = {"a", "ab", "abc", "abcd", "alice_01"};
    static const char *const markers[] = {"k3v9x2m8q4w7", "k3v9x2m8q4w8", ""};
    for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
        for (size_t m = 0; m < 3; m++) {
            char *tok = token_format_stored(TOKEN_SK, users[i], id, markers[m], secret);
            assert_non_null(tok);
            if ((regexec(&re, tok, 0, NULL, 0) == 0) != (m == 0))
                fail_msg("pattern %s on %s", m ? "matched" : "missed", tok);
            free(tok);
            struct token_temp_claims c;
            fill_claims(&c, id);
            strcpy(c.username, users[i]);
            strcpy(c.instance, markers[m]);
            if (i % 2) /* bounds come before the marker */
                assert_int_equal(strlist_push(&c.resources, "collection:l4a"), 0);
            tok = token_format_temp(key, &c);
            assert_non_null(tok);
            if ((regexec(&re, tok, 0, NULL, 0) == 0) != (m == 0))
                fail_msg("pattern %s on %s", m ? "matched" : "missed", tok);
            free(tok);
            strlist_free(&c.scopes);
            strlist_free(&c.resources);
        }
    }
    regfree(&re);
}

static char *sign_raw(const char *json);

static void test_temp_roundtrip(void **state)
{
    (void)state;
    char parent[TOKEN_ID_LEN + 1];
    token_new_id(parent);
    struct token_temp_claims c;
    fill_claims(&c, parent);
    char *tok = token_format_temp(key, &c);
    assert_non_null(tok);
    assert_int_equal(token_kind_of(tok), TOKEN_TK);

    struct token_temp_claims out;
    assert_int_equal(token_parse_temp(key, tok, &out), 0);
    assert_string_equal(out.username, "dave");
    assert_string_equal(out.parent, parent);
    assert_int_equal(out.iat, 1795435200);
    assert_int_equal(out.exp, 1795438800);
    assert_int_equal(out.scopes.n, 2);
    assert_string_equal(out.scopes.v[0], "styles:tiles");
    assert_string_equal(out.scopes.v[1], "fonts:read");
    strlist_free(&out.scopes);

    char user[TOKEN_USERNAME_MAX + 1];
    assert_int_equal(token_peek_username(tok, user), 0);
    assert_string_equal(user, "dave");

    /* Exact payload fields and order; MAC over "tk." + payload part. */
    const char *payload = tok + 3;
    const char *dot = strchr(payload, '.');
    uint8_t raw[512];
    long n = crypto_b64url_decode(payload, (size_t)(dot - payload), raw, sizeof(raw) - 1);
    assert_true(n > 0);
    raw[n] = '\0';
    char expect[256];
    snprintf(expect, sizeof(expect),
             "{\"u\":\"dave\",\"exp\":1795438800,\"iat\":1795435200,"
             "\"scopes\":[\"styles:tiles\",\"fonts:read\"],\"client\":\"api\",\"p\":\"%s\"}",
             parent);
    assert_string_equal((char *)raw, expect);
    uint8_t mac[CRYPTO_MAC_LEN];
    assert_int_equal(crypto_hmac_sha256(key, CRYPTO_KEY_LEN, tok, (size_t)(dot - tok), mac), 0);
    char mac64[64];
    crypto_b64url_encode(mac, sizeof(mac), mac64);
    assert_string_equal(dot + 1, mac64);

    /* Another key: well-formed but wrong MAC. */
    assert_int_equal(token_parse_temp(other_key, tok, &out), -EPERM);
    assert_int_equal(out.scopes.n, 0);

    char *bad = sign_raw("{\"u\":\"dave\",\"exp\":1,\"iat\":1,\"scopes\":[\"a b\"],\"p\":\"\"}");
    assert_int_equal(token_parse_temp(key, bad, &out), -EINVAL); /* signed, but not our form */
    free(bad);
    free(tok);
    strlist_free(&c.scopes);
}

/* Resource bounds travel as "r", only when the token is bound. */
static void test_temp_resources(void **state)
{
    (void)state;
    struct token_temp_claims c, out;
    fill_claims(&c, "");
    assert_int_equal(strlist_push(&c.resources, "collection:l4a"), 0);
    assert_int_equal(strlist_push(&c.resources, "asset:l2b/2023/"), 0);
    char *tok = token_format_temp(key, &c);
    assert_non_null(tok);
    assert_int_equal(token_parse_temp(key, tok, &out), 0);
    assert_int_equal(out.resources.n, 2);
    assert_string_equal(out.resources.v[0], "collection:l4a");
    assert_string_equal(out.resources.v[1], "asset:l2b/2023/");
    const char *dot = strchr(tok + 3, '.');
    uint8_t raw[512];
    long n = crypto_b64url_decode(tok + 3, (size_t)(dot - tok - 3), raw, sizeof(raw) - 1);
    assert_true(n > 0);
    raw[n] = '\0';
    assert_non_null(strstr((char *)raw, ",\"r\":[\"collection:l4a\",\"asset:l2b/2023/\"]}"));
    free(tok);
    strlist_free(&out.scopes);
    strlist_free(&out.resources);
    strlist_free(&c.resources);
    strlist_free(&c.scopes);
}

/* A tk's identity is its MAC's first TOKEN_ID_LEN hex digits: the same
 * token gives the same id, other claims another, and it is a valid id. */
static void test_temp_id(void **state)
{
    (void)state;
    struct token_temp_claims c;
    fill_claims(&c, "");
    char *a = token_format_temp(key, &c);
    c.exp++;
    char *b = token_format_temp(key, &c);
    char ida[TOKEN_ID_LEN + 1], again[TOKEN_ID_LEN + 1], idb[TOKEN_ID_LEN + 1];
    assert_int_equal(token_temp_id(a, ida), 0);
    assert_int_equal(token_temp_id(a, again), 0);
    assert_int_equal(token_temp_id(b, idb), 0);
    assert_string_equal(ida, again);
    assert_string_not_equal(ida, idb);
    assert_true(token_id_valid(ida));
    assert_int_equal(token_temp_id("sk.eyJ1IjoiYSJ9.x", ida), -EINVAL);
    assert_int_equal(token_temp_id("tk.eyJ1IjoiYSJ9.short", ida), -EINVAL);
    assert_int_equal(token_temp_id(NULL, ida), -EINVAL);
    free(a);
    free(b);
    strlist_free(&c.scopes);
}

static void test_temp_session_parent_and_no_scopes(void **state)
{
    (void)state;
    struct token_temp_claims c;
    memset(&c, 0, sizeof(c));
    strcpy(c.username, "erin");
    c.iat = 100;
    c.exp = 200;
    char *tok = token_format_temp(key, &c);
    assert_non_null(tok);
    struct token_temp_claims out;
    assert_int_equal(token_parse_temp(key, tok, &out), 0);
    assert_string_equal(out.parent, "");
    assert_int_equal(out.scopes.n, 0);
    strlist_free(&out.scopes);
    free(tok);
    /* Invalid claims are refused at signing time. */
    strcpy(c.parent, "not-an-id");
    assert_null(token_format_temp(key, &c));
    c.parent[0] = '\0';
    c.username[0] = '\0';
    assert_null(token_format_temp(key, &c));
}

static void test_temp_tampered(void **state)
{
    (void)state;
    struct token_temp_claims c;
    fill_claims(&c, "");
    char *tok = token_format_temp(key, &c);
    strlist_free(&c.scopes);
    assert_non_null(tok);
    struct token_temp_claims out;
    size_t len = strlen(tok);
    const char *dot = strrchr(tok, '.');
    size_t mac_start = (size_t)(dot - tok) + 1;
    /* Change one payload character (not the last, which carries unused
     * bits) to another base64url character: MAC mismatch. */
    for (size_t i = 3; i + 1 < mac_start - 1; i += 5) {
        char saved = tok[i];
        tok[i] = saved == 'A' ? 'B' : 'A';
        assert_int_equal(token_parse_temp(key, tok, &out), -EPERM);
        tok[i] = saved;
    }
    /* Change a MAC character (not the last): MAC mismatch. */
    for (size_t i = mac_start; i + 1 < len; i += 3) {
        char saved = tok[i];
        tok[i] = saved == 'A' ? 'B' : 'A';
        assert_int_equal(token_parse_temp(key, tok, &out), -EPERM);
        tok[i] = saved;
    }
    /* A re-signed payload from someone without the key: swap in another
     * user's payload, keep the MAC. */
    char *forged = make_token("tk.",
                              "{\"u\":\"mallory\",\"exp\":9999999999,\"iat\":1,"
                              "\"scopes\":[\"tokens:write\"],\"client\":\"api\",\"p\":\"\"}",
                              dot + 1);
    assert_int_equal(token_parse_temp(key, forged, &out), -EPERM);
    free(forged);
    assert_int_equal(token_parse_temp(key, tok, &out), 0);
    strlist_free(&out.scopes);
    free(tok);
}

/* Signs an arbitrary JSON payload of jl bytes as a tk. token with the test key. */
static char *sign_raw_len(const char *json, size_t jl)
{
    char *out = malloc(3 + crypto_b64url_encoded_len(jl) + 1 + 43 + 1);
    strcpy(out, "tk.");
    size_t n = 3 + crypto_b64url_encode(json, jl, out + 3);
    uint8_t mac[CRYPTO_MAC_LEN];
    assert_int_equal(crypto_hmac_sha256(key, CRYPTO_KEY_LEN, out, n, mac), 0);
    out[n] = '.';
    crypto_b64url_encode(mac, sizeof(mac), out + n + 1);
    return out;
}

static char *sign_raw(const char *json)
{
    return sign_raw_len(json, strlen(json));
}

/* A raw NUL inside a JSON string would be cut off by cJSON's C strings, so a
 * signed payload carrying one is malformed (found by fuzz_token: the scopes
 * changed between parse and re-format). */
static void test_temp_raw_nul_refused(void **state)
{
    (void)state;
    static const char json[] = "{\"u\":\"alice\",\"exp\":4000000000,\"iat\":100,"
                               "\"scopes\":[\"sty\0les:read\"],\"client\":\"api\",\"p\":\"\"}";
    char *tok = sign_raw_len(json, sizeof(json) - 1);
    struct token_temp_claims out;
    assert_int_equal(token_parse_temp(key, tok, &out), -EINVAL);
    assert_int_equal(out.scopes.n, 0);
    free(tok);
    /* The same payload without the NUL is a valid token. */
    char clean[sizeof(json)];
    size_t n = 0;
    for (size_t i = 0; i + 1 < sizeof(json); i++)
        if (json[i])
            clean[n++] = json[i];
    tok = sign_raw_len(clean, n);
    assert_int_equal(token_parse_temp(key, tok, &out), 0);
    assert_string_equal(out.scopes.v[0], "styles:read");
    strlist_free(&out.scopes);
    free(tok);
}

/* Scope ids in a tk are printable ASCII words of at most TOKEN_SCOPE_MAX:
 * control characters would be re-escaped sixfold by the formatter and could
 * push the token past TOKEN_MAX_LEN (found by fuzz_token). */
static void test_temp_scope_charset(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"u\":\"alice\",\"exp\":4000000000,\"iat\":100,\"scopes\":[\"a\\u0001b\"],\"p\":\"\"}",
        "{\"u\":\"alice\",\"exp\":4000000000,\"iat\":100,\"scopes\":[\"two words\"],\"p\":\"\"}",
        "{\"u\":\"alice\",\"exp\":4000000000,\"iat\":100,\"scopes\":[\"caf\u00e9\"],\"p\":\"\"}",
        "{\"u\":\"alice\",\"exp\":4000000000,\"iat\":100,\"scopes\":[\"\"],\"p\":\"\"}",
        ("{\"u\":\"alice\",\"exp\":4000000000,\"iat\":100,\"scopes\":[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"],\"p\":\"\"}"), /* a 65-byte scope */
    };
    struct token_temp_claims out;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *tok = sign_raw(bad[i]);
        if (token_parse_temp(key, tok, &out) != -EINVAL)
            fail_msg("accepted payload %s", bad[i]);
        free(tok);
    }
    char *tok = sign_raw("{\"u\":\"alice\",\"exp\":4000000000,\"iat\":100,"
                         "\"scopes\":[\"styles:read\",\"a.b-c_d\"],\"p\":\"\"}");
    assert_int_equal(token_parse_temp(key, tok, &out), 0);
    assert_int_equal(out.scopes.n, 2);
    strlist_free(&out.scopes);
    free(tok);
}

static void test_temp_malformed(void **state)
{
    (void)state;
    struct token_temp_claims out;
    static const char *const bad[] = {
        "",
        "tk",
        "tk.",
        "tk..",
        "tk.abc",
        "tk.abc.",
        "tk.abc.def",
        "pk.eyJ1IjoiYm9iIn0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "tk.eyJ1IjoiYm9iIn0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "tk.eyJ1IjoiYm9iIn0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "tk.eyJ1IjoiYm9iIn0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "tk.eyJ1IjoiYm9iIn0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",
        "tk.eyJ1Ijo+YmI.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "tk.a.b.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (token_parse_temp(key, bad[i], &out) != -EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
    assert_int_equal(token_parse_temp(key, NULL, &out), -EINVAL);

    /* Correctly signed but malformed claims are still -EINVAL. */
    static const char *const bad_claims[] = {
        "{}",
        "[]",
        "not json",
        "{\"u\":\"bob\",\"exp\":2,\"iat\":1,\"scopes\":[],\"client\":\"api\"}",
        "{\"u\":\"bob\",\"exp\":2,\"iat\":1,\"client\":\"api\",\"p\":\"\"}",
        "{\"u\":\"bob\",\"exp\":\"2\",\"iat\":1,\"scopes\":[],\"client\":\"api\",\"p\":\"\"}",
        "{\"u\":\"bob\",\"exp\":2.5,\"iat\":1,\"scopes\":[],\"client\":\"api\",\"p\":\"\"}",
        "{\"u\":\"bob\",\"exp\":-2,\"iat\":1,\"scopes\":[],\"client\":\"api\",\"p\":\"\"}",
        "{\"u\":\"bob\",\"exp\":1e300,\"iat\":1,\"scopes\":[],\"client\":\"api\",\"p\":\"\"}",
        "{\"u\":\"bob\",\"exp\":2,\"iat\":1,\"scopes\":[1],\"client\":\"api\",\"p\":\"\"}",
        "{\"u\":\"bob\",\"exp\":2,\"iat\":1,\"scopes\":[\"\"],\"client\":\"api\",\"p\":\"\"}",
        "{\"u\":\"bob\",\"exp\":2,\"iat\":1,\"scopes\":\"a\",\"client\":\"api\",\"p\":\"\"}",
        "{\"u\":\"bob\",\"exp\":2,\"iat\":1,\"scopes\":[],\"client\":\"api\",\"p\":\"xyz\"}",
        "{\"u\":\"\",\"exp\":2,\"iat\":1,\"scopes\":[],\"client\":\"api\",\"p\":\"\"}",
        "{\"u\":\"bob\",\"exp\":2,\"iat\":1,\"scopes\":[\"a\",2],\"client\":\"api\",\"p\":\"\"}",
    };
    for (size_t i = 0; i < sizeof(bad_claims) / sizeof(bad_claims[0]); i++) {
        char *tok = sign_raw(bad_claims[i]);
        if (token_parse_temp(key, tok, &out) != -EINVAL)
            fail_msg("accepted claims %s", bad_claims[i]);
        assert_int_equal(out.scopes.n, 0);
        free(tok);
    }
    char *ok = sign_raw(
        "{\"u\":\"bob\",\"exp\":2,\"iat\":1,\"scopes\":[\"a\",\"b\"],\"client\":\"api\",\"p\":\"\"}");
    assert_int_equal(token_parse_temp(key, ok, &out), 0);
    assert_int_equal(out.scopes.n, 2);
    strlist_free(&out.scopes);
    free(ok);
}

static void test_peek_username(void **state)
{
    (void)state;
    char user[TOKEN_USERNAME_MAX + 1];
    assert_int_equal(token_peek_username("pk.eyJ1IjoiYm9iIn0.whatever", user), 0);
    assert_string_equal(user, "bob");
    assert_int_equal(token_peek_username("tk.eyJ1IjoiYm9iIn0.x", user), 0);
    assert_string_equal(user, "bob");
    assert_int_equal(token_peek_username("eyJ1IjoiYm9iIn0.eyJ1IjoiYm9iIn0.x", user), -EINVAL);
    assert_int_equal(token_peek_username("pk.eyJhIjoiYm9iIn0.x", user), -EINVAL); /* no u */
    assert_int_equal(token_peek_username("pk.!.x", user), -EINVAL);
    assert_int_equal(token_peek_username("pk.eyJ1IjoiYm9iIn0", user), -EINVAL);
    assert_int_equal(token_peek_username(NULL, user), -EINVAL);
}

static void test_random_garbage(void **state)
{
    (void)state;
    /* Random bytes behind valid prefixes never crash and never verify. */
    static const char *const prefixes[] = {"pk.", "sk.", "tk."};
    char buf[200];
    for (int i = 0; i < 3000; i++) {
        size_t n = (size_t)(i % 190);
        crypto_random(buf, n);
        memcpy(buf, prefixes[i % 3], n < 3 ? n : 3);
        for (size_t j = 0; j < n; j++)
            if (buf[j] == '\0')
                buf[j] = '.';
        buf[n] = '\0';
        struct token_stored_parts p;
        struct token_temp_claims t;
        char user[TOKEN_USERNAME_MAX + 1];
        assert_int_not_equal(token_parse_stored(buf, &p), 0);
        assert_int_not_equal(token_parse_temp(key, buf, &t), 0);
        (void)token_peek_username(buf, user);
    }
}

int main(void)
{
    if (crypto_init() != 0)
        return 1;
    crypto_random(key, sizeof(key));
    crypto_random(other_key, sizeof(other_key));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_id),
        cmocka_unit_test(test_secret_checksum),
        cmocka_unit_test(test_hash_secret),
        cmocka_unit_test(test_kind_of),
        cmocka_unit_test(test_stored_roundtrip),
        cmocka_unit_test(test_stored_format_rejects),
        cmocka_unit_test(test_stored_checksum_rejects_one_char),
        cmocka_unit_test(test_stored_malformed),
        cmocka_unit_test(test_temp_roundtrip),
        cmocka_unit_test(test_temp_resources),
        cmocka_unit_test(test_temp_id),
        cmocka_unit_test(test_temp_instance),
        cmocka_unit_test(test_instance_pattern),
        cmocka_unit_test(test_temp_session_parent_and_no_scopes),
        cmocka_unit_test(test_temp_tampered),
        cmocka_unit_test(test_temp_malformed),
        cmocka_unit_test(test_temp_raw_nul_refused),
        cmocka_unit_test(test_temp_scope_charset),
        cmocka_unit_test(test_peek_username),
        cmocka_unit_test(test_random_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
