/* libFuzzer target for date/time input parsing: time_parse_rfc3339 and
 * time_parse_date. Checks, beyond "no crash": an accepted time formats and
 * parses back to the same millisecond (for years the formatter can write),
 * and an accepted date is midnight UTC. Single-threaded; pure functions. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "util/timeutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MS_PER_DAY 86400000LL
/* 0001-01-01 .. 9999-12-31: the range "YYYY" can express. */
#define MIN_MS (-62135596800000LL)
#define MAX_MS (253402300799999LL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    int64_t ms;
    if (time_parse_rfc3339(s, &ms) == 0 && ms >= MIN_MS && ms <= MAX_MS) {
        char buf[TIME_RFC3339_LEN];
        time_format_rfc3339(ms, buf);
        int64_t back;
        if (time_parse_rfc3339(buf, &back) != 0 || back != ms)
            abort();
    }
    if (time_parse_date(s, &ms) == 0) {
        if (ms % MS_PER_DAY != 0)
            abort();
        if (ms >= MIN_MS && ms <= MAX_MS) {
            char buf[TIME_RFC3339_LEN];
            time_format_rfc3339(ms, buf);
            buf[10] = '\0';
            int64_t back;
            if (time_parse_date(buf, &back) != 0 || back != ms)
                abort();
        }
    }
    free(s);
    return 0;
}
