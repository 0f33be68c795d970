/* Unit tests of the shared URL helpers: percent-encoding with and without
 * kept reserved characters, allocated or in place; percent-decoding,
 * lenient and strict, with '+' as a space or not; and which Host values
 * may be echoed into links. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/url.h"

static void check_encode(const char *in, const char *keep, const char *want)
{
    char *got = url_encode(in, keep), out[64];
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
    assert_true(url_encode_to(in, keep, out, sizeof(out)));
    assert_string_equal(out, want);
}

static void test_encode(void **state)
{
    (void)state;
    check_encode("", "", "");
    check_encode("abc-XYZ_0.9~", "", "abc-XYZ_0.9~");
    check_encode("a b/c?d=e&f#g%", "", "a%20b%2Fc%3Fd%3De%26f%23g%25");
    check_encode("a b/c?d=e&f#g%", "/%?#=&", "a%20b/c?d=e&f#g%");
    check_encode("2024-01-01T00:00:00Z/..", "/:,", "2024-01-01T00:00:00Z/..");
    /* UTF-8 bytes are encoded one by one, upper-case hex. */
    check_encode("\xc3\xa9", "", "%C3%A9");
    check_encode("\x01\x7f", "", "%01%7F");
}

/* In place (the plume CSV writes its asset URLs so), the result and its
 * NUL must fit: one byte short fails. */
static void test_encode_to_bounds(void **state)
{
    (void)state;
    char out[16];
    assert_true(url_encode_to("abc", "", out, 4));
    assert_string_equal(out, "abc");
    assert_false(url_encode_to("abc", "", out, 3));
    assert_true(url_encode_to("a b", "", out, 6));
    assert_string_equal(out, "a%20b");
    assert_false(url_encode_to("a b", "", out, 5));
    assert_false(url_encode_to("a b", "", out, 3));
    assert_false(url_encode_to("", "", out, 0));
}

/* Decodes in and expects want (len bytes) or the error rc. */
static void check_decode(const char *in, unsigned flags, long rc, const char *want)
{
    char out[64];
    long n = url_decode(in, strlen(in), flags, out, sizeof(out));
    if (n != rc)
        fail_msg("\"%s\" (flags %u): %ld, want %ld", in, flags, n, rc);
    if (rc >= 0)
        assert_memory_equal(out, want, (size_t)rc + 1); /* with its NUL */
}

static void test_decode(void **state)
{
    (void)state;
    check_decode("", 0, 0, "");
    check_decode("/a%20b/%C3%a9", 0, 7, "/a b/\xc3\xa9");
    check_decode("a+b%2B", 0, 4, "a+b+");
    check_decode("a+b%2B", URL_DECODE_PLUS, 4, "a b+");
    /* Lenient: an invalid or cut escape stays as it is. */
    check_decode("100%", 0, 4, "100%");
    check_decode("%4", 0, 2, "%4");
    check_decode("%zz%41", 0, 4, "%zzA");
    /* Strict: it fails. */
    check_decode("100%", URL_DECODE_STRICT, -EINVAL, NULL);
    check_decode("%4", URL_DECODE_STRICT, -EINVAL, NULL);
    check_decode("%zz", URL_DECODE_STRICT | URL_DECODE_PLUS, -EINVAL, NULL);
    check_decode("%41+", URL_DECODE_STRICT | URL_DECODE_PLUS, 2, "A ");
    /* An encoded NUL fails either way. */
    check_decode("a%00b", 0, -EINVAL, NULL);
    check_decode("a%00b", URL_DECODE_STRICT, -EINVAL, NULL);
}

/* The result and its NUL must fit; n + 1 bytes always do. */
static void test_decode_bounds(void **state)
{
    (void)state;
    char out[8];
    assert_int_equal(url_decode("a%41c", 5, 0, out, 4), 3);
    assert_string_equal(out, "aAc");
    assert_int_equal(url_decode("a%41c", 5, 0, out, 3), -E2BIG);
    assert_int_equal(url_decode("abc", 3, 0, out, 0), -E2BIG);
    assert_int_equal(url_decode("", 0, 0, out, 0), -E2BIG);
    assert_int_equal(url_decode("abc", 2, 0, out, sizeof(out)), 2); /* only the first n bytes */
    assert_string_equal(out, "ab");
}

static void test_host_ok(void **state)
{
    (void)state;
    assert_true(url_host_ok("localhost"));
    assert_true(url_host_ok("api.example.com:8443"));
    assert_true(url_host_ok("[::1]:8080"));
    assert_true(url_host_ok("127.0.0.1"));
    assert_false(url_host_ok(NULL));
    assert_false(url_host_ok(""));
    assert_false(url_host_ok("evil.com/path"));
    assert_false(url_host_ok("a b"));
    assert_false(url_host_ok("x\r\nSet-Cookie: y"));
    assert_false(url_host_ok("\"quoted\""));
    char long_host[300];
    for (size_t i = 0; i < sizeof(long_host) - 1; i++)
        long_host[i] = 'a';
    long_host[sizeof(long_host) - 1] = '\0';
    assert_false(url_host_ok(long_host));
    long_host[255] = '\0';
    assert_true(url_host_ok(long_host));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_encode_to_bounds),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_decode_bounds),
        cmocka_unit_test(test_host_ok),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
