/* Unit tests for the pure parts of accounts.c: e-mail and username
 * validation. (Creation, password changes and deactivation are covered by
 * the integration tests, which run them against a real store.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth/accounts.h"

static void test_email_valid(void **state)
{
    (void)state;
    const char *good[] = {"a@b.co", "john.doe+tag@example.com", "X@Example.COM",
                          "user@sub.domain.example.org", "ünï@exämple.de"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(accounts_email_valid(good[i]));
}

static void test_email_invalid(void **state)
{
    (void)state;
    const char *bad[] = {"",           "plain",        "@example.com", "a@",
                         "a@b",        "a@b.",         "a@.com",       "a@@b.com",
                         "a@b@c.com",  "a b@c.com",    "a@b c.com",    "a\t@b.com",
                         "a@b.com\n",  "a\x7f@b.com",  " a@b.com"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(accounts_email_valid(bad[i]));
    /* Length: 254 bytes is the maximum. */
    char email[300];
    memset(email, 'a', sizeof(email));
    strcpy(email + 254 - strlen("@example.com"), "@example.com");
    assert_int_equal(strlen(email), 254);
    assert_true(accounts_email_valid(email));
    memset(email, 'a', sizeof(email));
    strcpy(email + 255 - strlen("@example.com"), "@example.com");
    assert_false(accounts_email_valid(email));
}

static void test_username(void **state)
{
    (void)state;
    const char *good[] = {"a", "0", "john-doe", "j_d", "abc123", "a-_-b",
                          "abcdefghijklmnopqrstuvwxyz012345"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(accounts_username_valid(good[i]));
    const char *bad[] = {"",      "-a",     "_a",    "A",      "John",  "a.b",  "a b",
                         "a@b",   "é",      "a/b",   "abcdefghijklmnopqrstuvwxyz0123456"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(accounts_username_valid(bad[i]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_email_valid),
        cmocka_unit_test(test_email_invalid),
        cmocka_unit_test(test_username),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
