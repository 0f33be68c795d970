/* Unit tests for httpcond.c: HTTP-date formatting and parsing in the three
 * forms recipients must accept (with invalid dates refused), and entity-tag
 * comparison for If-None-Match (weak, lists, "*") and If-Range (strong). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "util/httpcond.h"

static void test_format(void **state)
{
    (void)state;
    char out[HTTPDATE_LEN];
    httpdate_format(784111777, out);
    assert_string_equal(out, "Sun, 06 Nov 1994 08:49:37 GMT");
    httpdate_format(0, out);
    assert_string_equal(out, "Thu, 01 Jan 1970 00:00:00 GMT");
    httpdate_format(-1, out);
    assert_string_equal(out, "Wed, 31 Dec 1969 23:59:59 GMT");
    httpdate_format(951782400, out);
    assert_string_equal(out, "Tue, 29 Feb 2000 00:00:00 GMT");
    httpdate_format(INT64_MAX, out);
    assert_string_equal(out, "Fri, 31 Dec 9999 23:59:59 GMT");
    /* Cross-check the weekday and calendar against gmtime_r/strftime. */
    char ref[64];
    for (time_t t = -2208988800; t < 4102444800; t += 86400 * 7 + 3601 * 5) {
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(ref, sizeof(ref), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        httpdate_format((int64_t)t, out);
        assert_string_equal(out, ref);
        int64_t back = 0;
        assert_int_equal(httpdate_parse(out, &back), 0);
        assert_int_equal(back, (int64_t)t);
    }
}

static void test_parse(void **state)
{
    (void)state;
    int64_t s = 0;
    assert_int_equal(httpdate_parse("Sun, 06 Nov 1994 08:49:37 GMT", &s), 0);
    assert_int_equal(s, 784111777);
    assert_int_equal(httpdate_parse("Sunday, 06-Nov-94 08:49:37 GMT", &s), 0);
    assert_int_equal(s, 784111777);
    assert_int_equal(httpdate_parse("Sun Nov  6 08:49:37 1994", &s), 0);
    assert_int_equal(s, 784111777);
    assert_int_equal(httpdate_parse("Wednesday, 01-Jan-20 00:00:00 GMT", &s), 0);
    assert_int_equal(s, 1577836800); /* two-digit years below 70 are 20xx */
    assert_int_equal(httpdate_parse("Thu Feb 29 12:00:00 2024", &s), 0);
    assert_int_equal(httpdate_parse("Mon, 01 Jan 1900 00:00:00 GMT", &s), 0);
    assert_int_equal(s, -2208988800LL);
    static const char *const bad[] = {
        "",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sun, 06 Now 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:49:60 GMT",
        "Sun, 06 Nov 1994 08:49:3x GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sunday,06-Nov-94 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov  6 08:49:37 1994 ",
        "Thu Feb 30 12:00:00 2024",
        "1994-11-06T08:49:37Z",
        "784111777",
        "Sun, 06 Nov 1994 08:49:37 GMT\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s = 7;
        if (httpdate_parse(bad[i], &s) != -EINVAL)
            fail_msg("accepted: \"%s\"", bad[i]);
        assert_int_equal(s, 7);
    }
    assert_int_equal(httpdate_parse(NULL, &s), -EINVAL);
}

static void test_etags(void **state)
{
    (void)state;
    const char *tag = "\"a1-2b-3c\"";
    assert_true(etag_none_match("\"a1-2b-3c\"", tag));
    assert_true(etag_none_match("W/\"a1-2b-3c\"", tag)); /* weak comparison */
    assert_true(etag_none_match("\"x\", \"a1-2b-3c\"", tag));
    assert_true(etag_none_match("\"x\",W/\"a1-2b-3c\" , \"y\"", tag));
    assert_true(etag_none_match("*", tag));
    assert_true(etag_none_match(" * ", tag));
    assert_false(etag_none_match("\"a1-2b-3\"", tag));
    assert_false(etag_none_match("a1-2b-3c", tag)); /* unquoted */
    assert_false(etag_none_match("\"x\"", tag));
    assert_false(etag_none_match("", tag));
    assert_false(etag_none_match("*, \"a1-2b-3c\"", tag)); /* "*" stands alone */
    assert_false(etag_none_match("\"a1-2b-3c\" junk", tag));
    assert_false(etag_none_match("\"a1-2b-3c", tag));
    assert_false(etag_none_match("w/\"a1-2b-3c\"", tag));
    assert_false(etag_none_match("\"a1 2b\"", "\"a1 2b\"")); /* space is no etagc */
    assert_false(etag_none_match(NULL, tag));

    assert_true(etag_strong_equal("\"a1-2b-3c\"", tag));
    assert_true(etag_strong_equal(" \"a1-2b-3c\" ", tag));
    assert_false(etag_strong_equal("W/\"a1-2b-3c\"", tag)); /* weak never matches */
    assert_false(etag_strong_equal("\"a1-2b-3c\", \"x\"", tag));
    assert_false(etag_strong_equal("\"x\"", tag));
    assert_false(etag_strong_equal("*", tag));
    assert_false(etag_strong_equal(NULL, tag));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_etags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
