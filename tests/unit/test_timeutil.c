/* Unit tests for timeutil.c: RFC 3339 formatting and parsing (offsets,
 * fractions, leap years, invalid input), date-only parsing, and the wide
 * flavour used for STAC (years 0000-9999, 0-9 fractional digits). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "util/timeutil.h"

static void test_format(void **state)
{
    (void)state;
    char out[TIME_RFC3339_LEN];
    time_format_rfc3339(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    time_format_rfc3339(1795435200000LL, out);
    assert_string_equal(out, "2026-11-23T12:00:00.000Z");
    time_format_rfc3339(951782400123LL, out); /* leap day 2000 */
    assert_string_equal(out, "2000-02-29T00:00:00.123Z");
    time_format_rfc3339(253402300799999LL, out);
    assert_string_equal(out, "9999-12-31T23:59:59.999Z");
    /* Before 1970: milliseconds and seconds count forward from the earlier
     * second and day (floor division). */
    time_format_rfc3339(-5, out);
    assert_string_equal(out, "1969-12-31T23:59:59.995Z");
    time_format_rfc3339(-1000, out);
    assert_string_equal(out, "1969-12-31T23:59:59.000Z");
    time_format_rfc3339(-86400001LL, out);
    assert_string_equal(out, "1969-12-30T23:59:59.999Z");
    time_format_rfc3339(-2208988800000LL, out);
    assert_string_equal(out, "1900-01-01T00:00:00.000Z");
    time_format_rfc3339(-62135596800000LL, out);
    assert_string_equal(out, "0001-01-01T00:00:00.000Z");
    /* Out-of-range values are clamped, never overflow the buffer. */
    time_format_rfc3339(INT64_MIN, out);
    assert_string_equal(out, "0000-01-01T00:00:00.000Z");
    time_format_rfc3339(INT64_MAX, out);
    assert_string_equal(out, "9999-12-31T23:59:59.999Z");
}

static void test_parse_basic(void **state)
{
    (void)state;
    int64_t ms = -1;
    assert_int_equal(time_parse_rfc3339("2026-11-23T12:00:00.000Z", &ms), 0);
    assert_int_equal(ms, 1795435200000LL);
    assert_int_equal(time_parse_rfc3339("2026-11-23T12:00:00Z", &ms), 0);
    assert_int_equal(ms, 1795435200000LL);
    assert_int_equal(time_parse_rfc3339("2026-11-23 12:00:00", &ms), 0);
    assert_int_equal(ms, 1795435200000LL);
    assert_int_equal(time_parse_rfc3339("2026-11-23t12:00:00z", &ms), 0);
    assert_int_equal(ms, 1795435200000LL);
    assert_int_equal(time_parse_rfc3339("1970-01-01T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 0);
}

static void test_parse_fractions(void **state)
{
    (void)state;
    int64_t ms;
    /* The Python client's naive UTC time with microseconds. */
    assert_int_equal(time_parse_rfc3339("2026-11-23T12:12:24.577133", &ms), 0);
    assert_int_equal(ms, 1795435200000LL + 12 * 60000 + 24000 + 577);
    assert_int_equal(time_parse_rfc3339("2026-11-23T12:00:00.5Z", &ms), 0);
    assert_int_equal(ms, 1795435200500LL);
    assert_int_equal(time_parse_rfc3339("2026-11-23T12:00:00.05Z", &ms), 0);
    assert_int_equal(ms, 1795435200050LL);
    assert_int_equal(time_parse_rfc3339("2026-11-23T12:00:00.999999Z", &ms), 0);
    assert_int_equal(ms, 1795435200999LL);
    assert_int_equal(time_parse_rfc3339("2026-11-23T12:00:00.1234567Z", &ms), -EINVAL);
    assert_int_equal(time_parse_rfc3339("2026-11-23T12:00:00.Z", &ms), -EINVAL);
    assert_int_equal(time_parse_rfc3339("2026-11-23T12:00:00.", &ms), -EINVAL);
}

static void test_parse_offsets(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(time_parse_rfc3339("2026-11-23T14:30:00+02:30", &ms), 0);
    assert_int_equal(ms, 1795435200000LL);
    assert_int_equal(time_parse_rfc3339("2026-11-23T07:00:00-05:00", &ms), 0);
    assert_int_equal(ms, 1795435200000LL);
    assert_int_equal(time_parse_rfc3339("2026-11-24T00:00:00.250+12:00", &ms), 0);
    assert_int_equal(ms, 1795435200250LL);
    assert_int_equal(time_parse_rfc3339("2026-11-23T12:00:00+00:00", &ms), 0);
    assert_int_equal(ms, 1795435200000LL);
    assert_int_equal(time_parse_rfc3339("2026-11-23T12:00:00-00:00", &ms), 0);
    assert_int_equal(ms, 1795435200000LL);
    /* Bad offsets. */
    assert_int_equal(time_parse_rfc3339("2026-11-23T12:00:00+0200", &ms), -EINVAL);
    assert_int_equal(time_parse_rfc3339("2026-11-23T12:00:00+02", &ms), -EINVAL);
    assert_int_equal(time_parse_rfc3339("2026-11-23T12:00:00+24:00", &ms), -EINVAL);
    assert_int_equal(time_parse_rfc3339("2026-11-23T12:00:00+02:60", &ms), -EINVAL);
    assert_int_equal(time_parse_rfc3339("2026-11-23T12:00:00Z+01:00", &ms), -EINVAL);
    /* An offset that moves the instant before the epoch. */
    assert_int_equal(time_parse_rfc3339("1970-01-01T00:00:00+01:00", &ms), -EINVAL);
}

static void test_parse_leap_years(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(time_parse_rfc3339("2024-02-29T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 1709164800000LL);
    assert_int_equal(time_parse_rfc3339("2000-02-29T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 951782400000LL);
    assert_int_equal(time_parse_rfc3339("2023-02-29T00:00:00Z", &ms), -EINVAL);
    assert_int_equal(time_parse_rfc3339("2100-02-29T00:00:00Z", &ms), -EINVAL);
    assert_int_equal(time_parse_rfc3339("1900-02-28T00:00:00Z", &ms), -EINVAL); /* < 1970 */
    assert_int_equal(time_parse_rfc3339("2024-04-31T00:00:00Z", &ms), -EINVAL);
    assert_int_equal(time_parse_rfc3339("2024-12-31T23:59:59.999Z", &ms), 0);
    assert_int_equal(ms, 1735689599999LL);
}

static void test_parse_invalid(void **state)
{
    (void)state;
    int64_t ms = 42;
    static const char *const bad[] = {
        "",
        "2026",
        "2026-11-23",
        "2026-11-23T",
        "2026-11-23T12:00",
        "2026-11-23T12:00:0",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-01-00T00:00:00Z",
        "2026-01-32T00:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-01-01T00:60:00Z",
        "2026-01-01T00:00:60Z",
        "2026-01-01T00:00:00ZZ",
        "2026-01-01T00:00:00Z ",
        " 2026-01-01T00:00:00Z",
        "2026-01-01X00:00:00Z",
        "2026/01/01T00:00:00Z",
        "+2026-01-01T00:00:00Z",
        "20260-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "10000-01-01T00:00:00Z",
        "2026-1-01T00:00:00Z",
        "2026-01-01T00:00:00.12a",
        "2026-01-01T00:00:00+01:00junk",
        "２０２６-01-01T00:00:00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (time_parse_rfc3339(bad[i], &ms) != -EINVAL)
            fail_msg("accepted: \"%s\"", bad[i]);
    }
    assert_int_equal(ms, 42); /* untouched on failure */
    assert_int_equal(time_parse_rfc3339(NULL, &ms), -EINVAL);
    assert_int_equal(time_parse_rfc3339("9999-12-31T23:59:59.999Z", &ms), 0);
    assert_int_equal(ms, 253402300799999LL);
    assert_int_equal(time_parse_rfc3339("9999-12-31T23:59:59-00:01", &ms), -EINVAL);
}

static void test_roundtrip(void **state)
{
    (void)state;
    char out[TIME_RFC3339_LEN];
    /* Every ~37 hours plus odd milliseconds across 1970..2400. */
    for (int64_t ms = 0; ms < 13569465600000LL; ms += 133333333337LL) {
        time_format_rfc3339(ms, out);
        int64_t back = -1;
        assert_int_equal(time_parse_rfc3339(out, &back), 0);
        assert_int_equal(back, ms);
    }
    int64_t now = time_now_ms();
    assert_true(now > 1700000000000LL);
    time_format_rfc3339(now, out);
    int64_t back;
    assert_int_equal(time_parse_rfc3339(out, &back), 0);
    assert_int_equal(back, now);
}

static void test_matches_libc(void **state)
{
    (void)state;
    /* Cross-check the calendar arithmetic against gmtime_r. */
    char out[TIME_RFC3339_LEN], ref[32];
    for (time_t t = 0; t < 4102444800; t += 86400 * 13 + 3607) {
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(ref, sizeof(ref), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
        time_format_rfc3339((int64_t)t * 1000, out);
        assert_string_equal(out, ref);
    }
}

static void test_parse_date(void **state)
{
    (void)state;
    int64_t ms = 7;
    assert_int_equal(time_parse_date("2026-11-23", &ms), 0);
    assert_int_equal(ms, 1795392000000LL);
    assert_int_equal(time_parse_date("1970-01-01", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(time_parse_date("2024-02-29", &ms), 0);
    assert_int_equal(ms, 1709164800000LL);
    assert_int_equal(time_parse_date("2023-02-29", &ms), -EINVAL);
    assert_int_equal(time_parse_date("2026-11-23T00:00:00Z", &ms), -EINVAL);
    assert_int_equal(time_parse_date("2026-11-2", &ms), -EINVAL);
    assert_int_equal(time_parse_date("2026-11-23 ", &ms), -EINVAL);
    assert_int_equal(time_parse_date("", &ms), -EINVAL);
    assert_int_equal(time_parse_date(NULL, &ms), -EINVAL);
}

static void test_wide_range(void **state)
{
    (void)state;
    int64_t ms = 42;
    /* The narrow parser keeps SPEC §3's range; the wide one goes to year 0000. */
    assert_int_equal(time_parse_rfc3339("1900-01-01T00:00:00Z", &ms), -EINVAL);
    assert_int_equal(time_parse_rfc3339_wide("1900-01-01T00:00:00Z", &ms), 0);
    assert_int_equal(ms, -2208988800000LL);
    assert_int_equal(time_parse_rfc3339_wide("1969-12-31T23:59:59.999Z", &ms), 0);
    assert_int_equal(ms, -1);
    assert_int_equal(time_parse_rfc3339_wide("0001-01-01T00:00:00Z", &ms), 0);
    assert_int_equal(ms, -62135596800000LL);
    assert_int_equal(time_parse_rfc3339_wide("0000-01-01T00:00:00Z", &ms), 0);
    assert_int_equal(ms, -62167219200000LL);
    assert_int_equal(time_parse_rfc3339_wide("0000-02-29T00:00:00Z", &ms), 0); /* 0 is leap */
    assert_int_equal(time_parse_rfc3339_wide("1900-02-29T00:00:00Z", &ms), -EINVAL);
    assert_int_equal(time_parse_rfc3339_wide("1600-02-29T12:00:00Z", &ms), 0);
    /* An offset that crosses either end of the range is refused. */
    assert_int_equal(time_parse_rfc3339_wide("0000-01-01T00:00:00+00:01", &ms), -EINVAL);
    assert_int_equal(time_parse_rfc3339_wide("0000-01-01T00:00:00-00:01", &ms), 0);
    assert_int_equal(ms, -62167219200000LL + 60000);
    assert_int_equal(time_parse_rfc3339_wide("9999-12-31T23:59:59-00:01", &ms), -EINVAL);
    assert_int_equal(time_parse_rfc3339_wide("1970-01-01T00:00:00+01:00", &ms), 0);
    assert_int_equal(ms, -3600000);
    assert_int_equal(time_parse_date_wide("1900-01-01", &ms), 0);
    assert_int_equal(ms, -2208988800000LL);
    assert_int_equal(time_parse_date("1900-01-01", &ms), -EINVAL);
    assert_int_equal(time_parse_date_wide("0000-01-01", &ms), 0);
    assert_int_equal(ms, -62167219200000LL);
    static const char *const bad[] = {
        "-0001-01-01T00:00:00Z", "+1900-01-01T00:00:00Z", "10000-01-01T00:00:00Z",
        "900-01-01T00:00:00Z",   "0000-00-01T00:00:00Z",  "1900-01-01T00:00:00.Z",
        "1900-01-01",            "1900-01-01T24:00:00Z",  "1900-01-01T00:00:00.1234567890Z",
    };
    ms = 42;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (time_parse_rfc3339_wide(bad[i], &ms) != -EINVAL)
            fail_msg("accepted: \"%s\"", bad[i]);
    assert_int_equal(ms, 42);
    assert_int_equal(time_parse_rfc3339_wide(NULL, &ms), -EINVAL);
    assert_int_equal(time_parse_date_wide(NULL, &ms), -EINVAL);
}

static void test_wide_fractions(void **state)
{
    (void)state;
    int64_t ms;
    static const struct {
        const char *s;
        int64_t ms;
    } cases[] = {
        {"2026-11-23T12:00:00Z", 1795435200000LL},
        {"2026-11-23T12:00:00.1Z", 1795435200100LL},
        {"2026-11-23T12:00:00.123456Z", 1795435200123LL},
        {"2026-11-23T12:00:00.1234567Z", 1795435200123LL},
        {"2026-11-23T12:00:00.12345678Z", 1795435200123LL},
        {"2026-11-23T12:00:00.123456789Z", 1795435200123LL},
        {"2026-11-23T12:00:00.999999999Z", 1795435200999LL},
        {"2026-11-23T12:00:00.000000001+00:00", 1795435200000LL},
        /* Before 1970 truncation still goes toward the earlier instant. */
        {"1969-12-31T23:59:59.9999999Z", -1},
        {"1969-12-31T23:59:59.0000001Z", -1000},
        {"1955-05-05T05:05:05.123456789Z", -462653694877LL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ms = 0;
        if (time_parse_rfc3339_wide(cases[i].s, &ms) != 0 || ms != cases[i].ms)
            fail_msg("\"%s\": got %lld, want %lld", cases[i].s, (long long)ms,
                     (long long)cases[i].ms);
    }
    /* 7-9 digits are for the wide flavour only. */
    assert_int_equal(time_parse_rfc3339("2026-11-23T12:00:00.1234567Z", &ms), -EINVAL);
}

static void test_wide_roundtrip(void **state)
{
    (void)state;
    char out[TIME_RFC3339_LEN];
    /* Every ~2.3 days plus odd milliseconds across years 0000..9999. */
    for (int64_t ms = -62167219200000LL; ms <= 253402300799999LL; ms += 199999999937LL) {
        time_format_rfc3339(ms, out);
        int64_t back = 0;
        if (time_parse_rfc3339_wide(out, &back) != 0 || back != ms)
            fail_msg("%lld -> %s -> %lld", (long long)ms, out, (long long)back);
    }
    /* Cross-check pre-1970 calendar arithmetic against gmtime_r (years with
     * four digits, which strftime's %Y writes without padding). */
    char ref[32];
    for (time_t t = -30610224000; t < 0; t += 86400 * 17 + 3607) { /* from 1000-01-01 */
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(ref, sizeof(ref), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
        time_format_rfc3339((int64_t)t * 1000, out);
        assert_string_equal(out, ref);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),        cmocka_unit_test(test_parse_basic),
        cmocka_unit_test(test_parse_fractions), cmocka_unit_test(test_parse_offsets),
        cmocka_unit_test(test_parse_leap_years), cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_roundtrip),     cmocka_unit_test(test_matches_libc),
        cmocka_unit_test(test_parse_date),    cmocka_unit_test(test_wide_range),
        cmocka_unit_test(test_wide_fractions), cmocka_unit_test(test_wide_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
