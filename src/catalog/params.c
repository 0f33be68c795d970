/* The STAC search parameters that need more than a number: bbox (text or
 * JSON, 2-D or 3-D, antimeridian-crossing allowed) and datetime (instant or
 * interval with open ends). Pure functions; any thread. */
#include "catalog/catalog.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/timeutil.h"

#define DAY_MS 86400000LL

static int bbox_check(const double *v, int n, double bbox[4], char *err, size_t errlen)
{
    double minx = v[0], miny = v[1], maxx = v[n == 6 ? 3 : 2], maxy = v[n == 6 ? 4 : 3];
    for (int i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            snprintf(err, errlen, "bbox values must be finite numbers");
            return -EINVAL;
        }
    }
    if (minx < -180 || minx > 180 || maxx < -180 || maxx > 180) {
        snprintf(err, errlen, "bbox longitudes must be between -180 and 180");
        return -EINVAL;
    }
    if (miny < -90 || miny > 90 || maxy < -90 || maxy > 90) {
        snprintf(err, errlen, "bbox latitudes must be between -90 and 90");
        return -EINVAL;
    }
    if (miny > maxy) {
        snprintf(err, errlen, "bbox minimum latitude is greater than its maximum");
        return -EINVAL;
    }
    if (n == 6 && v[2] > v[5]) {
        snprintf(err, errlen, "bbox minimum elevation is greater than its maximum");
        return -EINVAL;
    }
    bbox[0] = minx;
    bbox[1] = miny;
    bbox[2] = maxx;
    bbox[3] = maxy;
    return 0;
}

int catalog_parse_bbox_text(const char *text, double bbox[4], char *err, size_t errlen)
{
    double v[6];
    int n = 0;
    const char *p = text;
    if (!text || !*text)
        goto bad;
    for (;;) {
        char *end;
        while (*p == ' ')
            p++;
        if (n == 6 || !*p || *p == ',')
            goto bad;
        errno = 0;
        v[n] = strtod(p, &end);
        if (end == p || errno == ERANGE)
            goto bad;
        n++;
        p = end;
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        if (*p != ',')
            goto bad;
        p++;
    }
    if (n != 4 && n != 6)
        goto bad;
    return bbox_check(v, n, bbox, err, errlen);
bad:
    snprintf(err, errlen, "bbox must be 4 or 6 comma-separated numbers: minx,miny,maxx,maxy");
    return -EINVAL;
}

int catalog_parse_bbox_json(const cJSON *arr, double bbox[4], char *err, size_t errlen)
{
    double v[6];
    int n = 0;
    const cJSON *c;
    if (!cJSON_IsArray(arr))
        goto bad;
    cJSON_ArrayForEach(c, arr)
    {
        if (n == 6 || !cJSON_IsNumber(c))
            goto bad;
        v[n++] = c->valuedouble;
    }
    if (n != 4 && n != 6)
        goto bad;
    return bbox_check(v, n, bbox, err, errlen);
bad:
    snprintf(err, errlen, "bbox must be an array of 4 or 6 numbers: [minx, miny, maxx, maxy]");
    return -EINVAL;
}

static bool is_date_only(const char *s)
{
    return strlen(s) == 10 && s[4] == '-' && s[7] == '-';
}

/* One end of a datetime parameter; a '+' of a zone offset that arrived as a
 * space (form-encoding of an unescaped '+') is restored. */
static int parse_instant(const char *s, bool end_of_day, int64_t *out)
{
    char buf[64];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, s, n + 1);
    for (size_t i = 11; i < n; i++)
        if (buf[i] == ' ')
            buf[i] = '+';
    if (is_date_only(buf)) {
        if (time_parse_date_wide(buf, out) < 0)
            return -EINVAL;
        if (end_of_day)
            *out += DAY_MS - 1;
        return 0;
    }
    return time_parse_rfc3339_wide(buf, out);
}

int catalog_parse_datetime(const char *text, bool *has_start, int64_t *start, bool *has_end,
                           int64_t *end, char *err, size_t errlen)
{
    *has_start = *has_end = false;
    *start = *end = 0;
    if (!text || !*text || strlen(text) > 128)
        goto bad;
    const char *slash = strchr(text, '/');
    if (!slash) {
        if (strcmp(text, "..") == 0)
            goto bad;
        if (parse_instant(text, false, start) < 0)
            goto bad;
        *end = *start;
        if (is_date_only(text))
            *end = *start + DAY_MS - 1;
        *has_start = *has_end = true;
        return 0;
    }
    if (strchr(slash + 1, '/'))
        goto bad;
    char a[130];
    size_t alen = (size_t)(slash - text);
    memcpy(a, text, alen);
    a[alen] = 0;
    const char *b = slash + 1;
    if (*a && strcmp(a, "..") != 0) {
        if (parse_instant(a, false, start) < 0)
            goto bad;
        *has_start = true;
    }
    if (*b && strcmp(b, "..") != 0) {
        if (parse_instant(b, true, end) < 0)
            goto bad;
        *has_end = true;
    }
    /* "/", "../..", "/.." and "../" bound nothing: the STAC API lets one
     * end be open, not both, so such a parameter is a client error. */
    if (!*has_start && !*has_end)
        goto bad;
    if (*has_start && *has_end && *start > *end) {
        snprintf(err, errlen, "datetime interval starts after it ends");
        return -EINVAL;
    }
    return 0;
bad:
    snprintf(err, errlen,
             "datetime must be an RFC 3339 date-time (2023-05-01T12:00:00Z) or an interval "
             "start/end where one end may be '..' or empty (open)");
    return -EINVAL;
}
