/* Unit tests of the shared URL helpers: percent-encoding with and without
 * kept reserved characters, allocated or in place, and which Host values
 * may be echoed into links. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

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
        cmocka_unit_test(test_host_ok),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
