/* Unit tests for src/auth/credcache.c: a verified token is found again
 * with its claims, only under the same key and only for the exact text;
 * overlong tokens are not kept; each thread has its own tables; sessions
 * and tk tokens are kept apart. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

static void test_temp_table_apart(void **state)
{
    (void)state;
    const char *tk = "tk.eyJ1IjoiYSJ9.bWFjLW9mLXRoZS10ay10b2tlbg";
    struct session_claims in = claims(3), out;
    assert_false(credcache_temp_verified(KEY_A, tk));
    credcache_temp_put(KEY_A, tk);
    assert_true(credcache_temp_verified(KEY_A, tk));
    assert_false(credcache_temp_verified(KEY_B, tk));
    assert_false(credcache_temp_verified(KEY_A, "tk.eyJ1IjoiYSJ9.bWFjLW9mLXRoZS10ay10b2tlbh"));
    /* A session put under the same text neither evicts nor answers for it. */
    assert_false(credcache_session_get(KEY_A, tk, &out));
    credcache_session_put(KEY_A, tk, &in);
    assert_true(credcache_temp_verified(KEY_A, tk));
    char big[2000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    credcache_temp_put(KEY_A, big);
    assert_false(credcache_temp_verified(KEY_A, big));
}

/* The pk/sk table hands back the HMAC token_hash_secret computes, for the
 * same key, id and secret only; it keeps no secret. */
static void test_secret_hash(void **state)
{
    (void)state;
    const char *id = "abcdefghijklmnopqrstuvwxy", *other_id = "bbcdefghijklmnopqrstuvwxy";
    const char *secret = "s3cretS3cretS3cretS3cretS3cret12";
    uint8_t want[CRYPTO_MAC_LEN], got[CRYPTO_MAC_LEN], again[CRYPTO_MAC_LEN];
    assert_int_equal(token_hash_secret(KEY_A, secret, want), 0);
    assert_int_equal(credcache_secret_hash(KEY_A, id, secret, got), 0); /* computed */
    assert_memory_equal(got, want, sizeof(want));
    assert_int_equal(credcache_secret_hash(KEY_A, id, secret, again), 0); /* kept */
    assert_memory_equal(again, want, sizeof(want));
    /* Another secret, key or id gets its own HMAC, never the kept one. */
    const char *wrong = "s3cretS3cretS3cretS3cretS3cret13";
    assert_int_equal(token_hash_secret(KEY_A, wrong, want), 0);
    assert_int_equal(credcache_secret_hash(KEY_A, id, wrong, got), 0);
    assert_memory_equal(got, want, sizeof(want));
    assert_int_equal(token_hash_secret(KEY_B, secret, want), 0);
    assert_int_equal(credcache_secret_hash(KEY_B, id, secret, got), 0);
    assert_memory_equal(got, want, sizeof(want));
    assert_int_equal(token_hash_secret(KEY_A, secret, want), 0);
    assert_int_equal(credcache_secret_hash(KEY_A, other_id, secret, got), 0);
    assert_memory_equal(got, want, sizeof(want));
    assert_int_equal(credcache_secret_hash(KEY_A, "short", secret, got), 0); /* no slot */
    assert_memory_equal(got, want, sizeof(want));
    /* The first token is still answered right after the others. */
    assert_int_equal(credcache_secret_hash(KEY_A, id, secret, got), 0);
    assert_memory_equal(got, want, sizeof(want));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_then_get),
        cmocka_unit_test(test_overlong_tokens_are_not_kept),
        cmocka_unit_test(test_per_thread),
        cmocka_unit_test(test_temp_table_apart),
        cmocka_unit_test(test_secret_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
