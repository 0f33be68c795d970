/* See url.h. */
#include "util/url.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/hex.h"

/* RFC 3986's unreserved characters: ALPHA DIGIT - . _ ~, compared rather
 * than looked up with isalnum and strchr (the plume CSV encodes 4,000 asset
 * keys per page). */
static bool unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

bool url_encode_to(const char *s, const char *keep, char *out, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (unreserved(*p) || strchr(keep, *p)) {
            if (o + 1 >= len)
                return false;
            out[o++] = (char)*p;
        } else {
            if (o + 3 >= len)
                return false;
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (o >= len)
        return false;
    out[o] = '\0';
    return true;
}

char *url_encode(const char *s, const char *keep)
{
    size_t len = 3 * strlen(s) + 1;
    char *out = malloc(len);
    if (out)
        url_encode_to(s, keep, out, len);
    return out;
}

long url_decode(const char *s, size_t n, unsigned flags, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int hi, lo;
        if (c == '%' && n - i >= 3 && (hi = hex_digit_value(s[i + 1])) >= 0 &&
            (lo = hex_digit_value(s[i + 2])) >= 0) {
            c = (char)(hi << 4 | lo);
            if (c == '\0')
                return -EINVAL;
            i += 2;
        } else if (c == '%' && (flags & URL_DECODE_STRICT)) {
            return -EINVAL;
        } else if (c == '+' && (flags & URL_DECODE_PLUS)) {
            c = ' ';
        }
        if (o + 1 >= outlen)
            return -E2BIG;
        out[o++] = c;
    }
    if (outlen == 0)
        return -E2BIG;
    out[o] = '\0';
    return (long)o;
}

bool url_host_ok(const char *host)
{
    size_t n = host ? strlen(host) : 0;
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)host[i];
        if (!isalnum(c) && !strchr(".-_:[]", c))
            return false;
    }
    return true;
}
