/* See httpcond.h. Dates go through timeutil's calendar arithmetic, so they
 * never depend on the time zone or locale. */
#include "util/httpcond.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/timeutil.h"

static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char wdays[7][4] = {"Thu", "Fri", "Sat", "Sun",
                                 "Mon", "Tue", "Wed"}; /* from 1970-01-01 */

void httpdate_format(int64_t secs, char out[HTTPDATE_LEN])
{
    char iso[TIME_RFC3339_LEN];
    const int64_t min = -62167219200LL, max = 253402300799LL;
    if (secs < min)
        secs = min;
    if (secs > max)
        secs = max;
    time_format_rfc3339(secs * 1000, iso); /* YYYY-MM-DDTHH:MM:SS.mmmZ */
    int64_t days = secs >= 0 ? secs / 86400 : -((86399 - secs) / 86400);
    int wd = (int)(((days % 7) + 7) % 7);
    int mon = (iso[5] - '0') * 10 + (iso[6] - '0');
    snprintf(out, HTTPDATE_LEN, "%s, %.2s %s %.4s %.8s GMT", wdays[wd], iso + 8, months[mon - 1],
             iso, iso + 11);
}

static int month_of(const char *s)
{
    for (int i = 0; i < 12; i++)
        if (strncmp(s, months[i], 3) == 0)
            return i + 1;
    return 0;
}

static bool digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

int httpdate_parse(const char *s, int64_t *secs)
{
    if (!s)
        return -EINVAL;
    char iso[32];
    size_t n = strlen(s);
    const char *comma = strchr(s, ',');
    int mon;
    if (comma && comma - s == 3 && n == 29) {
        /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
        const char *p = s + 5;
        if (!digits(p, 2) || p[2] != ' ' || !(mon = month_of(p + 3)) || p[6] != ' ' ||
            !digits(p + 7, 4) || p[11] != ' ' || strcmp(p + 20, " GMT") != 0)
            return -EINVAL;
        snprintf(iso, sizeof(iso), "%.4s-%02d-%.2sT%.8sZ", p + 7, mon, p, p + 12);
    } else if (comma && n >= 30 && strcmp(s + n - 4, " GMT") == 0) {
        /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
        const char *p = comma + 2;
        if (comma[1] != ' ' || (size_t)(p - s) + 22 != n || !digits(p, 2) || p[2] != '-' ||
            !(mon = month_of(p + 3)) || p[6] != '-' || !digits(p + 7, 2) || p[9] != ' ')
            return -EINVAL;
        int yy = (p[7] - '0') * 10 + (p[8] - '0');
        snprintf(iso, sizeof(iso), "%04d-%02d-%.2sT%.8sZ", yy < 70 ? 2000 + yy : 1900 + yy, mon, p,
                 p + 10);
    } else if (!comma && n == 24) {
        /* asctime: "Sun Nov  6 08:49:37 1994" */
        if (s[3] != ' ' || !(mon = month_of(s + 4)) || s[7] != ' ' ||
            !(s[8] == ' ' || digits(s + 8, 1)) || !digits(s + 9, 1) || s[10] != ' ' ||
            s[19] != ' ' || !digits(s + 20, 4))
            return -EINVAL;
        snprintf(iso, sizeof(iso), "%.4s-%02d-%c%cT%.8sZ", s + 20, mon, s[8] == ' ' ? '0' : s[8],
                 s[9], s + 11);
    } else {
        return -EINVAL;
    }
    /* The time of day is checked by the RFC 3339 parser ("08:49:37"). */
    int64_t ms;
    if (time_parse_rfc3339_wide(iso, &ms) < 0)
        return -EINVAL;
    *secs = ms / 1000;
    return 0;
}

/* Reads one entity-tag at *pp: [W/]"opaque". Sets *opaque and *len to the
 * quoted part (quotes included) and *weak. False on bad syntax. */
static bool read_etag(const char **pp, const char **opaque, size_t *len, bool *weak)
{
    const char *p = *pp;
    *weak = false;
    if (p[0] == 'W' && p[1] == '/') {
        *weak = true;
        p += 2;
    }
    if (*p != '"')
        return false;
    const char *q = p + 1;
    /* etagc = %x21 / %x23-7E / obs-text */
    while (*q && *q != '"') {
        unsigned char c = (unsigned char)*q;
        if (c < 0x21 || c == 0x7f)
            return false;
        q++;
    }
    if (*q != '"')
        return false;
    *opaque = p;
    *len = (size_t)(q + 1 - p);
    *pp = q + 1;
    return true;
}

bool etag_none_match(const char *header, const char *etag)
{
    if (!header || !etag)
        return false;
    const char *p = header;
    while (*p == ' ' || *p == '\t')
        p++;
    if (p[0] == '*') {
        for (p++; *p == ' ' || *p == '\t'; p++)
            ;
        return *p == '\0';
    }
    size_t elen = strlen(etag);
    bool found = false;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            return found;
        const char *opaque;
        size_t len;
        bool weak;
        if (!read_etag(&p, &opaque, &len, &weak))
            return false;
        if (len == elen && memcmp(opaque, etag, len) == 0)
            found = true;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p && *p != ',')
            return false;
    }
}

bool etag_strong_equal(const char *value, const char *etag)
{
    if (!value || !etag)
        return false;
    const char *p = value, *opaque;
    size_t len;
    bool weak;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!read_etag(&p, &opaque, &len, &weak) || weak)
        return false;
    while (*p == ' ' || *p == '\t')
        p++;
    return !*p && len == strlen(etag) && memcmp(opaque, etag, len) == 0;
}
