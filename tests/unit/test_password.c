/* Unit tests for password.c: Argon2id PHC strings, verification and the
 * weak-password policy. Each hash costs ~17 ms (more under sanitizers), so
 * the tests hash only a handful of times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth/crypto.h"
#include "auth/password.h"

static void test_hash_format(void **state)
{
    (void)state;
    char phc[PASSWORD_HASH_MAX];
    assert_int_equal(password_hash("correct horse battery staple", phc), 0);
    assert_true(strncmp(phc, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
    assert_true(strlen(phc) < PASSWORD_HASH_MAX);
    /* Salted: the same password hashes differently each time. */
    char phc2[PASSWORD_HASH_MAX];
    assert_int_equal(password_hash("correct horse battery staple", phc2), 0);
    assert_string_not_equal(phc, phc2);
}

static void test_verify(void **state)
{
    (void)state;
    char phc[PASSWORD_HASH_MAX];
    assert_int_equal(password_hash("s3cret-Passphrase", phc), 0);
    assert_true(password_verify("s3cret-Passphrase", phc));
    assert_false(password_verify("s3cret-passphrase", phc));
    assert_false(password_verify("", phc));
    assert_false(password_verify("s3cret-Passphrase ", phc));
    assert_false(password_verify(NULL, phc));
    assert_false(password_verify("s3cret-Passphrase", NULL));
    assert_false(password_verify("s3cret-Passphrase", ""));
    assert_false(password_verify("s3cret-Passphrase", "not a phc string"));
    /* A foreign algorithm or a damaged hash is a mismatch, not a crash. */
    assert_false(password_verify("s3cret-Passphrase",
                                 "$argon2i$v=19$m=4096,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"));
    char damaged[PASSWORD_HASH_MAX];
    strcpy(damaged, phc);
    damaged[strlen(damaged) - 3] ^= 1;
    assert_false(password_verify("s3cret-Passphrase", damaged));
    damaged[40] = '\0';
    assert_false(password_verify("s3cret-Passphrase", damaged));
}

static void test_unicode_password(void **state)
{
    (void)state;
    char phc[PASSWORD_HASH_MAX];
    const char *pw = "pässwörd-日本語-ok";
    assert_int_equal(password_hash(pw, phc), 0);
    assert_true(password_verify(pw, phc));
    assert_false(password_verify("passwort-日本語-ok", phc));
}

static void test_dummy(void **state)
{
    (void)state;
    /* Only has to return without effect; call twice (lazy init path). */
    password_verify_dummy("whatever-password");
    password_verify_dummy(NULL);
}

static void test_weakness(void **state)
{
    (void)state;
    assert_null(password_weakness("correct horse battery staple"));
    assert_null(password_weakness("Tr0ub4dor&3x"));
    assert_null(password_weakness("12345678x9"));
    assert_non_null(password_weakness(NULL));
    assert_non_null(password_weakness(""));
    assert_non_null(password_weakness("short"));
    assert_non_null(password_weakness("abc1234")); /* 7 characters */
    assert_null(password_weakness("abc1234z"));    /* 8 characters */
    /* Characters, not bytes: 7 two-byte characters are still too short. */
    assert_non_null(password_weakness("ééééééé"));
    assert_null(password_weakness("éééééééé"));
    assert_non_null(password_weakness("12345678"));
    assert_non_null(password_weakness("0000000000000000"));
    /* Common passwords, case-insensitively. */
    assert_non_null(password_weakness("password"));
    assert_non_null(password_weakness("PASSWORD"));
    assert_non_null(password_weakness("Password1"));
    assert_non_null(password_weakness("qwerty123"));
    assert_non_null(password_weakness("iLoveYou"));
    assert_non_null(password_weakness("password1"));
    assert_null(password_weakness("password1!x"));
    /* Length limits: 256 bytes is fine, 257 is not. */
    char long_pw[300];
    memset(long_pw, 'a', sizeof(long_pw));
    long_pw[0] = 'Z';
    long_pw[256] = '\0';
    assert_null(password_weakness(long_pw));
    long_pw[256] = 'a';
    long_pw[257] = '\0';
    assert_non_null(password_weakness(long_pw));
    /* The reasons are distinct, readable strings. */
    assert_string_not_equal(password_weakness("short"), password_weakness("password"));
    assert_string_not_equal(password_weakness("123456789"), password_weakness("password"));
}

int main(void)
{
    if (crypto_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_format), cmocka_unit_test(test_verify),
        cmocka_unit_test(test_unicode_password), cmocka_unit_test(test_dummy),
        cmocka_unit_test(test_weakness),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
