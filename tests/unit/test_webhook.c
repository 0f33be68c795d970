/* Unit tests of the webhook signature (notify/webhook.c) against an HMAC
 * computed independently (OpenSSL's), and of the retry backoff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/hmac.h>

#include "auth/crypto.h"
#include "notify/notifier.h"
#include "notify/webhook.h"

static void test_signature_is_hmac_of_time_and_body(void **state)
{
    (void)state;
    const char *secret = "a-webhook-secret-of-some-length";
    const char *body = "{\"type\":\"token.expiring\",\"id\":1}";
    char sig[WEBHOOK_SIGNATURE_LEN];
    assert_int_equal(webhook_sign(secret, 1700000000, body, sig), 0);
    char signed_text[256];
    snprintf(signed_text, sizeof(signed_text), "1700000000.%s", body);
    unsigned char mac[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)signed_text,
         strlen(signed_text), mac, &len);
    assert_int_equal(len, 32);
    char expected[WEBHOOK_SIGNATURE_LEN] = "t=1700000000,v1=";
    for (unsigned i = 0; i < len; i++)
        snprintf(expected + strlen(expected), 3, "%02x", mac[i]);
    assert_string_equal(sig, expected);
    /* Another time or body signs differently. */
    char other[WEBHOOK_SIGNATURE_LEN];
    assert_int_equal(webhook_sign(secret, 1700000001, body, other), 0);
    assert_string_not_equal(strchr(sig, ','), strchr(other, ','));
}

static void test_backoff_doubles_with_jitter_and_a_cap(void **state)
{
    (void)state;
    for (int attempts = 1; attempts <= 5; attempts++) {
        int64_t base = 30000LL << (attempts - 1);
        for (int i = 0; i < 50; i++) {
            int64_t d = notifier_backoff_ms(30, attempts);
            assert_true(d >= base && d <= base + base / 10);
        }
    }
    int64_t capped = notifier_backoff_ms(3600, 60);
    assert_true(capped >= 86400000LL && capped <= 86400000LL * 11 / 10);
}

int main(void)
{
    assert_int_equal(crypto_init(), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature_is_hmac_of_time_and_body),
        cmocka_unit_test(test_backoff_doubles_with_jitter_and_a_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
