/* libFuzzer target for date/time input parsing: time_parse_rfc3339 and
 * time_parse_date, and their wide flavours (years 0000-9999, 0-9 fractional
 * digits). Checks, beyond "no crash": an accepted time formats and parses
 * back to the same millisecond, an accepted date is midnight UTC, and
 * whatever the narrow parsers accept the wide ones accept with the same
 * value. Single-threaded; pure functions. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "util/timeutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MS_PER_DAY 86400000LL
/* 0000-01-01 .. 9999-12-31: the range "YYYY" can express. */
#define MIN_MS (-62167219200000LL)
#define MAX_MS (253402300799999LL)

/* Formats ms and parses it back with parse; aborts unless it round-trips. */
static void roundtrip(int64_t ms, int (*parse)(const char *, int64_t *))
{
    char buf[TIME_RFC3339_LEN];
    time_format_rfc3339(ms, buf);
    int64_t back;
    if (parse(buf, &back) != 0 || back != ms)
        abort();
}

static void check_date(int64_t ms, int (*parse)(const char *, int64_t *))
{
    if (ms % MS_PER_DAY != 0 || ms < MIN_MS || ms > MAX_MS)
        abort();
    char buf[TIME_RFC3339_LEN];
    time_format_rfc3339(ms, buf);
    buf[10] = '\0';
    int64_t back;
    if (parse(buf, &back) != 0 || back != ms)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    int64_t ms, wide;
    int wide_rc = time_parse_rfc3339_wide(s, &wide);
    if (wide_rc == 0) {
        if (wide < MIN_MS || wide > MAX_MS)
            abort();
        roundtrip(wide, time_parse_rfc3339_wide);
    }
    if (time_parse_rfc3339(s, &ms) == 0) {
        if (ms < 0 || ms > MAX_MS || wide_rc != 0 || wide != ms)
            abort();
        roundtrip(ms, time_parse_rfc3339);
    }
    wide_rc = time_parse_date_wide(s, &wide);
    if (wide_rc == 0)
        check_date(wide, time_parse_date_wide);
    if (time_parse_date(s, &ms) == 0) {
        if (ms < 0 || wide_rc != 0 || wide != ms)
            abort();
        check_date(ms, time_parse_date);
    }
    free(s);
    return 0;
}
