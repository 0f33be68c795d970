/* Unit tests for src/auth/credcache.c: a verified token is found again
 * with its claims, only under the same key and only for the exact text;
 * overlong tokens are not kept; each thread has its own tables; sessions
 * and tk tokens are kept apart. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/credcache.h"
#include "auth/token.h"

static const uint8_t KEY_A[CRYPTO_KEY_LEN] = {1, 2, 3};
static const uint8_t KEY_B[CRYPTO_KEY_LEN] = {9, 8, 7};

static struct session_claims claims(int64_t user)
{
    struct session_claims c = {JWT_ACCESS, user, 1000, 2000, "0123456789abcdef0123456789abcdef"};
    return c;
}

static void test_put_then_get(void **state)
{
    (void)state;
    const char *tok = "eyJhbGciOiJIUzI1NiJ9.eyJ1IjoiYSJ9.c2lnbmF0dXJl";
    struct session_claims in = claims(42), out;
    assert_false(credcache_session_get(KEY_A, tok, &out));
    credcache_session_put(KEY_A, tok, &in);
    assert_true(credcache_session_get(KEY_A, tok, &out));
    assert_int_equal(out.user_id, 42);
    assert_int_equal(out.exp, 2000);
    assert_string_equal(out.jti, in.jti);
    /* Another key (another app in this process) does not see it. */
    assert_false(credcache_session_get(KEY_B, tok, &out));
    /* Nor does a token one byte off, or a prefix of it. */
    assert_false(credcache_session_get(KEY_A, "eyJhbGciOiJIUzI1NiJ9.eyJ1IjoiYSJ9.c2lnbmF0dXJm", &out));
    assert_false(credcache_session_get(KEY_A, "eyJhbGciOiJIUzI1NiJ9.eyJ1IjoiYSJ9.c2lnbmF0dXJ", &out));
    assert_false(credcache_session_get(KEY_A, "", &out));
}

static void test_overlong_tokens_are_not_kept(void **state)
{
    (void)state;
    char big[2000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    struct session_claims in = claims(7), out;
    credcache_session_put(KEY_A, big, &in);
    assert_false(credcache_session_get(KEY_A, big, &out));
}

static void *other_thread(void *arg)
{
    struct session_claims out;
    *(int *)arg = credcache_session_get(KEY_A, "thread-local-token", &out);
    return NULL;
}

static void test_per_thread(void **state)
{
    (void)state;
    struct session_claims in = claims(5), out;
    credcache_session_put(KEY_A, "thread-local-token", &in);
    assert_true(credcache_session_get(KEY_A, "thread-local-token", &out));
    int found = -1;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, other_thread, &found), 0);
    pthread_join(t, NULL);
    assert_int_equal(found, 0);
}

/* credcache_temp answers exactly what token_parse_temp and token_temp_id do. */
static void expect_temp(const uint8_t *key, const char *tk)
{
    struct token_temp_claims want, got;
    char want_id[TOKEN_ID_LEN + 1], id[TOKEN_ID_LEN + 1];
    int want_rc = token_parse_temp(key, tk, &want);
    assert_int_equal(credcache_temp(key, tk, &got, id), want_rc);
    if (want_rc < 0)
        return;
    assert_int_equal(token_temp_id(tk, want_id), 0);
    assert_string_equal(id, want_id);
    assert_string_equal(got.username, want.username);
    assert_string_equal(got.parent, want.parent);
    assert_string_equal(got.instance, want.instance);
    assert_int_equal(got.iat, want.iat);
    assert_int_equal(got.exp, want.exp);
    assert_int_equal(got.scopes.n, want.scopes.n);
    for (size_t i = 0; i < want.scopes.n; i++)
        assert_string_equal(got.scopes.v[i], want.scopes.v[i]);
    assert_int_equal(got.resources.n, want.resources.n);
    for (size_t i = 0; i < want.resources.n; i++)
        assert_string_equal(got.resources.v[i], want.resources.v[i]);
    strlist_free(&want.scopes);
    strlist_free(&want.resources);
    strlist_free(&got.scopes);
    strlist_free(&got.resources);
}

static char *make_temp(const uint8_t *key, size_t nscopes, const char *resource)
{
    struct token_temp_claims c = {.username = "carol", .parent = "abcdefghijklmnopqrstuvwxy",
                                  .iat = 1795435200, .exp = 1795438800, .instance = "inst1"};
    for (size_t i = 0; i < nscopes; i++) {
        char scope[32];
        snprintf(scope, sizeof(scope), "scope:%zu", i);
        assert_int_equal(strlist_add(&c.scopes, scope), 0);
    }
    if (resource)
        assert_int_equal(strlist_add(&c.resources, resource), 0);
    char *tk = token_format_temp(key, &c);
    assert_non_null(tk);
    strlist_free(&c.scopes);
    strlist_free(&c.resources);
    return tk;
}

static void test_temp(void **state)
{
    (void)state;
    char *tk = make_temp(KEY_A, 3, "collection:a");
    char *bare = make_temp(KEY_A, 0, NULL);
    char *wide = make_temp(KEY_A, 80, NULL); /* longer than a slot keeps */
    expect_temp(KEY_A, tk); /* verified and kept */
    expect_temp(KEY_A, tk); /* from the table */
    expect_temp(KEY_A, bare);
    expect_temp(KEY_A, bare);
    expect_temp(KEY_A, wide);
    expect_temp(KEY_A, wide);
    /* Another key or a changed byte is verified on its own, never answered
     * from the kept token. */
    expect_temp(KEY_B, tk);
    char *off = strdup(tk);
    off[strlen(off) - 2] = off[strlen(off) - 2] == 'A' ? 'B' : 'A';
    expect_temp(KEY_A, off);
    expect_temp(KEY_A, "tk.e30.x");
    expect_temp(KEY_A, "");
    /* A session kept under the same text neither evicts nor answers for it. */
    struct session_claims in = claims(3), out;
    assert_false(credcache_session_get(KEY_A, tk, &out));
    credcache_session_put(KEY_A, tk, &in);
    expect_temp(KEY_A, tk);
    free(off);
    free(tk);
    free(bare);
    free(wide);
}

/* The pk/sk table hands back what token_parse_stored and token_hash_secret
 * give, for the same key and token text only; it keeps no secret, and
 * never keeps a malformed token. */
static void expect_stored(const uint8_t *key, const char *token)
{
    struct token_stored_parts want, got;
    uint8_t want_mac[CRYPTO_MAC_LEN], mac[CRYPTO_MAC_LEN];
    assert_int_equal(token_parse_stored(token, &want), 0);
    assert_int_equal(token_hash_secret(key, want.secret, want_mac), 0);
    assert_int_equal(credcache_stored(key, token, &got, mac), 0);
    assert_memory_equal(mac, want_mac, sizeof(mac));
    assert_int_equal(got.kind, want.kind);
    assert_string_equal(got.username, want.username);
    assert_string_equal(got.id, want.id);
    assert_string_equal(got.instance, want.instance);
}

static void test_stored(void **state)
{
    (void)state;
    char secret[TOKEN_SECRET_LEN + 1], other_secret[TOKEN_SECRET_LEN + 1];
    token_new_secret(secret);
    token_new_secret(other_secret);
    const char *id = "abcdefghijklmnopqrstuvwxy";
    char *sk = token_format_stored(TOKEN_SK, "alice", id, "inst1", secret);
    char *other = token_format_stored(TOKEN_SK, "alice", id, "inst1", other_secret);
    char *pk = token_format_stored(TOKEN_PK, "bob", "bbcdefghijklmnopqrstuvwxy", "", secret);
    assert_non_null(sk);
    assert_non_null(other);
    assert_non_null(pk);
    expect_stored(KEY_A, sk); /* parsed and hashed */
    expect_stored(KEY_A, sk); /* kept */
    /* Another secret, key or token gets its own answer, never the kept one. */
    expect_stored(KEY_A, other);
    expect_stored(KEY_B, sk);
    expect_stored(KEY_A, pk);
    expect_stored(KEY_A, sk);
    /* A hit hands back no secret: the table never had it. */
    struct token_stored_parts parts;
    uint8_t mac[CRYPTO_MAC_LEN];
    assert_int_equal(credcache_stored(KEY_A, sk, &parts, mac), 0);
    assert_string_equal(parts.secret, "");
    /* A broken checksum or shape is malformed, seen once or twice. */
    char *bad = strdup(sk);
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'A' ? 'B' : 'A';
    for (int i = 0; i < 2; i++) {
        assert_int_equal(credcache_stored(KEY_A, bad, &parts, mac), -EINVAL);
        assert_int_equal(credcache_stored(KEY_A, "sk.e30.", &parts, mac), -EINVAL);
        assert_int_equal(credcache_stored(KEY_A, "", &parts, mac), -EINVAL);
    }
    char big[TOKEN_MAX_LEN + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    assert_int_equal(credcache_stored(KEY_A, big, &parts, mac), -EINVAL);
    free(bad);
    free(sk);
    free(other);
    free(pk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_then_get),
        cmocka_unit_test(test_overlong_tokens_are_not_kept),
        cmocka_unit_test(test_per_thread),
        cmocka_unit_test(test_temp),
        cmocka_unit_test(test_stored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
