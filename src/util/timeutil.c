/* RFC 3339 formatting and parsing with plain integer calendar arithmetic
 * (Howard Hinnant's days-from-civil), so results never depend on the time
 * zone, the locale or timegm(). Pure functions, safe from any thread. */
#include "util/timeutil.h"

#include <errno.h>
#include <stdbool.h>
#include <time.h>

#define YEAR_MAX 9999
/* 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z, the first and last
 * instants four year digits can show (RFC 3339 allows years 0000-9999). */
#define MS_MIN (-62167219200000LL)
#define MS_MAX 253402300799999LL

/* What one flavour of the parser accepts (see timeutil.h). */
struct time_syntax {
    unsigned year_min; /* 1970 (narrow) or 0 (wide) */
    int max_frac;      /* fractional-second digits allowed */
};
static const struct time_syntax narrow = {1970, 6}, wide = {0, 9};

int64_t time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

static void put_digits(char *out, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

void time_format_rfc3339(int64_t ms, char out[TIME_RFC3339_LEN])
{
    /* The output has room for four year digits only; clamp instead of
     * overflowing. Parsing never yields a value outside this range. */
    if (ms < MS_MIN)
        ms = MS_MIN;
    if (ms > MS_MAX)
        ms = MS_MAX;
    /* Floor division, so that instants before 1970 count their
     * milliseconds and seconds forward from the previous second and day. */
    int64_t secs = ms >= 0 ? ms / 1000 : -((999 - ms) / 1000);
    unsigned milli = (unsigned)(ms - secs * 1000);
    int64_t days = secs >= 0 ? secs / 86400 : -((86399 - secs) / 86400);
    unsigned sod = (unsigned)(secs - days * 86400);
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    put_digits(out, (unsigned)y, 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
    out[10] = 'T';
    put_digits(out + 11, sod / 3600, 2);
    out[13] = ':';
    put_digits(out + 14, sod / 60 % 60, 2);
    out[16] = ':';
    put_digits(out + 17, sod % 60, 2);
    out[19] = '.';
    put_digits(out + 20, milli, 3);
    out[23] = 'Z';
    out[24] = '\0';
}

/* Reads exactly n ASCII digits; the caller has checked nothing, so each
 * character is tested before the next is read (a NUL stops the scan). */
static bool read_digits(const char **pp, int n, unsigned *out)
{
    const char *p = *pp;
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    *pp = p + n;
    *out = v;
    return true;
}

static bool expect(const char **pp, char c)
{
    if (**pp != c)
        return false;
    (*pp)++;
    return true;
}

/* Parses "YYYY-MM-DD" at *pp and returns the day number. */
static bool parse_date_part(const char **pp, unsigned year_min, int64_t *days)
{
    unsigned y, m, d;
    if (!read_digits(pp, 4, &y) || !expect(pp, '-') || !read_digits(pp, 2, &m) ||
        !expect(pp, '-') || !read_digits(pp, 2, &d))
        return false;
    if (y < year_min || y > YEAR_MAX || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return false;
    *days = days_from_civil(y, m, d);
    return true;
}

static int parse_rfc3339(const char *s, const struct time_syntax *syn, int64_t *out_ms)
{
    if (!s || !out_ms)
        return -EINVAL;
    const char *p = s;
    int64_t days;
    unsigned hh, mi, ss, frac_ms = 0;
    if (!parse_date_part(&p, syn->year_min, &days))
        return -EINVAL;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -EINVAL;
    p++;
    if (!read_digits(&p, 2, &hh) || !expect(&p, ':') || !read_digits(&p, 2, &mi) ||
        !expect(&p, ':') || !read_digits(&p, 2, &ss))
        return -EINVAL;
    /* Leap seconds (:60) are rejected: no client we serve produces them. */
    if (hh > 23 || mi > 59 || ss > 59)
        return -EINVAL;
    if (*p == '.') {
        p++;
        int n = 0;
        unsigned scale = 100;
        while (*p >= '0' && *p <= '9') {
            if (++n > syn->max_frac)
                return -EINVAL;
            /* Digits past milliseconds are truncated, as documented: toward
             * the earlier instant, before 1970 too. */
            frac_ms += (unsigned)(*p - '0') * scale;
            scale /= 10;
            p++;
        }
        if (n == 0)
            return -EINVAL;
    }
    int64_t offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        unsigned oh, om;
        p++;
        if (!read_digits(&p, 2, &oh) || !expect(&p, ':') || !read_digits(&p, 2, &om))
            return -EINVAL;
        if (oh > 23 || om > 59)
            return -EINVAL;
        offset_min = sign * (int64_t)(oh * 60 + om);
    }
    if (*p != '\0')
        return -EINVAL;
    int64_t secs = days * 86400 + hh * 3600 + mi * 60 + ss - offset_min * 60;
    int64_t ms = secs * 1000 + frac_ms;
    /* An offset can push the first or last day past the representable
     * range; such instants are refused rather than clamped. */
    if (ms < (syn->year_min ? 0 : MS_MIN) || ms > MS_MAX)
        return -EINVAL;
    *out_ms = ms;
    return 0;
}

static int parse_date(const char *s, const struct time_syntax *syn, int64_t *out_ms)
{
    if (!s || !out_ms)
        return -EINVAL;
    const char *p = s;
    int64_t days;
    if (!parse_date_part(&p, syn->year_min, &days) || *p != '\0')
        return -EINVAL;
    *out_ms = days * 86400 * 1000;
    return 0;
}

int time_parse_rfc3339(const char *s, int64_t *out_ms)
{
    return parse_rfc3339(s, &narrow, out_ms);
}

int time_parse_rfc3339_wide(const char *s, int64_t *out_ms)
{
    return parse_rfc3339(s, &wide, out_ms);
}

int time_parse_date(const char *s, int64_t *out_ms)
{
    return parse_date(s, &narrow, out_ms);
}

int time_parse_date_wide(const char *s, int64_t *out_ms)
{
    return parse_date(s, &wide, out_ms);
}
