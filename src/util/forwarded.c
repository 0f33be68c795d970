/* See forwarded.h. The Forwarded grammar (RFC 7239 §4): elements separated
 * by commas, each a ';'-separated list of name=value pairs, where a value is
 * a token or a quoted-string. Elements are split first (commas inside quotes
 * do not count), then each is parsed on its own, so a malformed element
 * spoils only itself. */
#include "util/forwarded.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/url.h"

struct element {
    bool bad;       /* malformed: nothing in it is used */
    char for_[64];  /* the for= value as written, or "" */
    char proto[16]; /* raw values, validated when used */
    char host[FWD_HOST_MAX + 1];
};

/* RFC 9110 tchar. */
static bool is_tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Reads a token or quoted-string value at *pp (up to end) into out.
 * False on bad syntax, a control character, or a value that does not fit. */
static bool read_value(const char **pp, const char *end, char *out, size_t outlen)
{
    const char *p = *pp;
    size_t n = 0;
    if (p < end && *p == '"') {
        for (p++;; p++) {
            if (p >= end)
                return false; /* unterminated */
            unsigned char c = (unsigned char)*p;
            if (c == '"')
                break;
            if (c == '\\') {
                if (++p >= end)
                    return false;
                c = (unsigned char)*p;
            }
            /* qdtext and quoted-pair exclude controls (HTAB aside). */
            if ((c < 0x20 && c != '\t') || c == 0x7f || n + 1 >= outlen)
                return false;
            out[n++] = (char)c;
        }
        p++;
    } else {
        /* A token, leniently: ':' '[' ']' are not tchars, so RFC 7239 wants
         * host:port and IPv6 quoted, but proxies configured by hand often
         * write them bare; the value is validated afterwards either way. */
        while (p < end && (is_tchar((unsigned char)*p) || *p == ':' || *p == '[' || *p == ']')) {
            if (n + 1 >= outlen)
                return false;
            out[n++] = *p++;
        }
        if (n == 0)
            return false;
    }
    out[n] = '\0';
    *pp = p;
    return true;
}

static void skip_ows(const char **pp, const char *end)
{
    while (*pp < end && (**pp == ' ' || **pp == '\t'))
        (*pp)++;
}

/* Parses one element [begin, end). */
static void parse_element(const char *begin, const char *end, struct element *e)
{
    memset(e, 0, sizeof(*e));
    bool seen_for = false, seen_proto = false, seen_host = false;
    const char *p = begin;
    skip_ows(&p, end);
    while (p < end) {
        if (*p == ';') { /* empty pairs are allowed: [ pair ] *( ";" [ pair ] ) */
            p++;
            skip_ows(&p, end);
            continue;
        }
        const char *name = p;
        while (p < end && is_tchar((unsigned char)*p))
            p++;
        size_t nlen = (size_t)(p - name);
        if (nlen == 0 || p >= end || *p != '=')
            goto bad;
        p++;
        /* Values of other parameters (by=, extensions) are read and dropped. */
        char scratch[FWD_HOST_MAX + 1];
        char *dst = scratch;
        size_t dlen = sizeof(scratch);
        bool *seen = NULL;
        /* Parameter names are case-insensitive (RFC 7239 §4). */
        if (nlen == 3 && strncasecmp(name, "for", 3) == 0) {
            dst = e->for_;
            dlen = sizeof(e->for_);
            seen = &seen_for;
        } else if (nlen == 5 && strncasecmp(name, "proto", 5) == 0) {
            dst = e->proto;
            dlen = sizeof(e->proto);
            seen = &seen_proto;
        } else if (nlen == 4 && strncasecmp(name, "host", 4) == 0) {
            dst = e->host;
            dlen = sizeof(e->host);
            seen = &seen_host;
        }
        /* A parameter must not repeat within an element (§4): which one
         * the proxy meant cannot be told, so the element is refused. */
        if (seen && *seen)
            goto bad;
        if (!read_value(&p, end, dst, dlen))
            goto bad;
        if (seen)
            *seen = true;
        skip_ows(&p, end);
        if (p == end)
            break;
        if (*p != ';')
            goto bad;
        p++;
        skip_ows(&p, end);
    }
    return;
bad:
    memset(e, 0, sizeof(*e));
    e->bad = true;
}

/* The address in a for= value: "192.0.2.1", "192.0.2.1:47011",
 * "[2001:db8::1]", "[2001:db8::1]:4711". False for "unknown", obfuscated
 * identifiers and anything else. */
static bool for_address(const char *v, char *out, size_t outlen)
{
    size_t n;
    if (v[0] == '[') {
        const char *close = strchr(v, ']');
        if (!close || (close[1] && close[1] != ':'))
            return false;
        v++;
        n = (size_t)(close - v);
    } else {
        const char *colon = strchr(v, ':');
        /* One colon is a port; several would be bare IPv6, which RFC 7239
         * requires in brackets, but it is unambiguous, so it is read whole. */
        n = colon && !strchr(colon + 1, ':') ? (size_t)(colon - v) : strlen(v);
    }
    if (n == 0 || n >= outlen)
        return false;
    memcpy(out, v, n);
    out[n] = '\0';
    return true;
}

static bool trusted_hop(const struct element *e, const struct cidr_list *trusted)
{
    char addr[64];
    return !e->bad && e->for_[0] && for_address(e->for_, addr, sizeof(addr)) &&
           cidr_list_match(trusted, addr);
}

void fwd_parse_forwarded(const char *header, const struct cidr_list *trusted,
                         struct fwd_values *out)
{
    memset(out, 0, sizeof(*out));
    if (!header)
        return;
    /* The last FWD_ELEMENTS_MAX elements, in a ring. */
    static const size_t max = FWD_ELEMENTS_MAX;
    struct element ring[FWD_ELEMENTS_MAX];
    size_t count = 0;
    const char *p = header, *start = header;
    bool quoted = false;
    for (;; p++) {
        char c = *p;
        if (quoted && c == '\\' && p[1]) {
            p++;
            continue;
        }
        if (c == '"')
            quoted = !quoted;
        if (c == '\0' || (c == ',' && !quoted)) {
            const char *b = start, *e = p;
            while (b < e && (*b == ' ' || *b == '\t'))
                b++;
            while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            /* Empty list members ("a, , b") are allowed and skipped (RFC 9110 §5.6.1). */
            if (b < e)
                parse_element(b, e, &ring[count++ % max]);
            if (c == '\0')
                break;
            start = p + 1;
        }
    }
    if (count == 0)
        return;
    size_t oldest = count > max ? count - max : 0, i = count - 1;
    while (i > oldest && trusted_hop(&ring[i % max], trusted))
        i--;
    const struct element *e = &ring[i % max];
    if (e->bad)
        return;
    fwd_proto(e->proto, out->proto);
    if (url_host_ok(e->host))
        memcpy(out->host, e->host, strlen(e->host) + 1);
}

bool fwd_last_value(const char *header, char *out, size_t outlen)
{
    if (!header)
        return false;
    const char *comma = strrchr(header, ',');
    const char *b = comma ? comma + 1 : header, *e = b + strlen(b);
    while (b < e && (*b == ' ' || *b == '\t'))
        b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    size_t n = (size_t)(e - b);
    if (n == 0 || n >= outlen)
        return false;
    memcpy(out, b, n);
    out[n] = '\0';
    return true;
}

bool fwd_proto(const char *value, char out[6])
{
    out[0] = '\0';
    if (!value)
        return false;
    if (strcasecmp(value, "http") == 0)
        strcpy(out, "http");
    else if (strcasecmp(value, "https") == 0)
        strcpy(out, "https");
    return out[0] != '\0';
}

bool fwd_prefix(const char *value, char *out, size_t outlen)
{
    if (outlen)
        out[0] = '\0';
    size_t n = value ? strlen(value) : 0;
    if (n == 0 || value[0] != '/' || n > FWD_PREFIX_MAX || n >= outlen)
        return false;
    if (n > 1 && value[n - 1] == '/')
        n--; /* one trailing slash: "/tessera/" is "/tessera" */
    if (n > 1 && value[n - 1] == '/')
        return false;
    for (size_t i = 1; i < n;) {
        size_t seg = 0;
        while (i + seg < n && value[i + seg] != '/') {
            unsigned char c = (unsigned char)value[i + seg];
            if (!isalnum(c) && !strchr("-._~", c))
                return false;
            seg++;
        }
        if (seg == 0 || (seg == 1 && value[i] == '.') ||
            (seg == 2 && value[i] == '.' && value[i + 1] == '.'))
            return false;
        i += seg + 1;
    }
    if (n == 1)
        n = 0; /* "/" alone: no prefix */
    memcpy(out, value, n);
    out[n] = '\0';
    return true;
}
