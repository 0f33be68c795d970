/* Forward-auth rule table and URL helpers (see authrules.h). The rules are
 * parsed once at start-up into a fixed table; matching, path normalization and
 * form decoding run per request on the HTTP thread, so they allocate nothing
 * and touch only caller-owned memory. */
#include "auth/authrules.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/url.h"

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool scope_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == ':' || c == '.' || c == '_' || c == '-';
}

/* "GET" or "GET,HEAD": upper-case letters separated by single commas. */
static bool methods_ok(const char *m)
{
    bool want_letter = true;
    for (; *m; m++) {
        if (*m >= 'A' && *m <= 'Z')
            want_letter = false;
        else if (*m == ',' && !want_letter)
            want_letter = true;
        else
            return false;
    }
    return !want_letter;
}

/* A prefix is matched against normalized paths, so it must itself be one:
 * otherwise a rule like "/a/../b" or "/x%2Fy" could never match and would
 * silently protect nothing. */
static bool prefix_ok(const char *p)
{
    if (p[0] != '/')
        return false;
    for (const char *s = p; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c == 0x7f || c == '?' || c == '#' || c == '%')
            return false;
        if (c == '/') {
            if (s[1] == '/')
                return false;
            if (s[1] == '.' && (s[2] == '/' || s[2] == '\0'))
                return false;
            if (s[1] == '.' && s[2] == '.' && (s[3] == '/' || s[3] == '\0'))
                return false;
        }
    }
    return true;
}

static bool same_methods(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

int authrules_parse(struct authrules *out, const char *text, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (err && errlen)
        err[0] = '\0';
    if (!text)
        text = "";
    size_t len = strlen(text);
    if (len > AUTHRULES_TEXT_MAX)
        return fail(err, errlen, -E2BIG, "auth_rules is longer than %d bytes", AUTHRULES_TEXT_MAX);
    memcpy(out->buf, text, len + 1);
    /* Cut the copy into NUL-terminated rules in place. */
    char *p = out->buf;
    for (;;) {
        while (is_space(*p))
            *p++ = '\0';
        if (!*p)
            break;
        char *rule = p;
        while (*p && !is_space(*p))
            p++;
        if (*p)
            *p++ = '\0';
        if (out->n == AUTHRULES_MAX)
            return fail(err, errlen, -E2BIG, "more than %d auth_rules", AUTHRULES_MAX);
        struct authrule *r = &out->v[out->n];
        /* Scopes never contain '=', so the last '=' separates; a prefix may. */
        char *eq = strrchr(rule, '=');
        if (!eq)
            return fail(err, errlen, -EINVAL,
                        "auth rule \"%.200s\" is not prefix=scope (use prefix= for any valid "
                        "credential, prefix=- for public)",
                        rule);
        *eq = '\0';
        const char *scope = eq + 1;
        char *path = rule;
        if (rule[0] != '/') {
            char *colon = strchr(rule, ':');
            if (!colon)
                return fail(err, errlen, -EINVAL,
                            "auth rule \"%.200s\": the prefix must start with '/'", rule);
            *colon = '\0';
            if (!methods_ok(rule))
                return fail(err, errlen, -EINVAL,
                            "auth rule for \"%.200s\": methods \"%.32s\" must be upper-case "
                            "names separated by commas",
                            colon + 1, rule);
            r->methods = rule;
            path = colon + 1;
        }
        if (!prefix_ok(path))
            return fail(err, errlen, -EINVAL,
                        "auth rule prefix \"%.200s\" must start with '/' and be a plain path "
                        "(no '%%', '?', '#', '//', '.' or '..' segments, no spaces)",
                        path);
        size_t plen = strlen(path);
        while (plen > 1 && path[plen - 1] == '/')
            path[--plen] = '\0';
        r->prefix = path;
        r->prefix_len = plen;
        if (scope[0] == '\0') {
            r->access = AUTHRULE_ANY;
        } else if (strcmp(scope, "-") == 0) {
            r->access = AUTHRULE_PUBLIC;
        } else {
            size_t slen = strlen(scope);
            for (size_t i = 0; i < slen; i++)
                if (!scope_char_ok(scope[i]))
                    return fail(err, errlen, -EINVAL,
                                "auth rule for \"%.200s\": scope \"%.64s\" has characters "
                                "other than [A-Za-z0-9:._-]",
                                path, scope);
            if (slen > AUTHRULES_SCOPE_MAX)
                return fail(err, errlen, -EINVAL,
                            "auth rule for \"%.200s\": scope is longer than %d characters",
                            path, AUTHRULES_SCOPE_MAX);
            r->access = AUTHRULE_SCOPE;
        }
        r->scope = r->access == AUTHRULE_SCOPE ? scope : "";
        /* Two rules for the same prefix and methods would make the table's
         * meaning depend on their order; refuse rather than guess. */
        for (size_t i = 0; i < out->n; i++)
            if (strcmp(out->v[i].prefix, r->prefix) == 0 &&
                same_methods(out->v[i].methods, r->methods))
                return fail(err, errlen, -EINVAL, "auth rule prefix \"%.200s\" is given twice",
                            r->prefix);
        out->n++;
    }
    return 0;
}

static bool method_listed(const char *list, const char *method)
{
    size_t mlen = strlen(method);
    for (const char *s = list; *s;) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == mlen && strncmp(s, method, n) == 0)
            return true;
        if (!e)
            break;
        s = e + 1;
    }
    return false;
}

static bool prefix_covers(const struct authrule *r, const char *path)
{
    if (r->prefix_len == 1) /* "/" covers every path */
        return path[0] == '/';
    return strncmp(path, r->prefix, r->prefix_len) == 0 &&
           (path[r->prefix_len] == '\0' || path[r->prefix_len] == '/');
}

const struct authrule *authrules_match(const struct authrules *rs, const char *method,
                                       const char *path)
{
    const struct authrule *best = NULL;
    for (size_t i = 0; i < rs->n; i++) {
        const struct authrule *r = &rs->v[i];
        if (r->methods && (!method || !method_listed(r->methods, method)))
            continue;
        if (!prefix_covers(r, path))
            continue;
        if (!best || r->prefix_len > best->prefix_len ||
            (r->prefix_len == best->prefix_len && r->methods && !best->methods))
            best = r;
    }
    return best;
}

int authrules_normalize_path(const char *uri, char *out, size_t outlen)
{
    if (!uri || outlen < 2)
        return -EINVAL;
    /* Absolute-form request targets ("http://host/p") carry the path after
     * the authority. */
    if (strncmp(uri, "http://", 7) == 0 || strncmp(uri, "https://", 8) == 0) {
        const char *auth = strstr(uri, "://") + 3;
        const char *slash = auth + strcspn(auth, "/?#");
        if (*slash != '/')
            uri = "/";
        else
            uri = slash;
    }
    if (uri[0] != '/')
        return -EINVAL;
    size_t len = strcspn(uri, "?#");
    if (len >= AUTHRULES_PATH_MAX)
        return -E2BIG;
    char dec[AUTHRULES_PATH_MAX];
    long dlen = url_decode(uri, len, URL_DECODE_STRICT, dec, sizeof(dec));
    if (dlen < 0)
        return (int)dlen;
    for (long i = 0; i < dlen; i++)
        if ((unsigned char)dec[i] < 0x20 || dec[i] == 0x7f)
            return -EINVAL;
    /* Walk the segments, keeping a stack in out: "." is skipped, ".." pops,
     * empty segments ("//") vanish. */
    size_t o = 0;
    long i = 0;
    while (i < dlen) {
        while (i < dlen && dec[i] == '/')
            i++;
        long start = i;
        while (i < dlen && dec[i] != '/')
            i++;
        long n = i - start;
        if (n == 0)
            break;
        if (n == 1 && dec[start] == '.')
            continue;
        if (n == 2 && dec[start] == '.' && dec[start + 1] == '.') {
            if (o == 0)
                return -EINVAL; /* above the root: nginx refuses these too */
            while (o > 0 && out[o - 1] != '/')
                o--;
            o--; /* the '/' before the popped segment */
            continue;
        }
        if (o + 1 + (size_t)n + 1 > outlen)
            return -E2BIG;
        out[o++] = '/';
        memcpy(out + o, dec + start, (size_t)n);
        o += (size_t)n;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    return 0;
}

int authrules_query_get(const char *query, size_t len, const char *key, char *out,
                        size_t outlen)
{
    size_t klen = strlen(key);
    bool found = false;
    size_t i = 0;
    while (i <= len && query) {
        const char *pair = query + i;
        size_t plen = 0;
        while (i + plen < len && query[i + plen] != '&')
            plen++;
        i += plen + 1;
        if (plen == 0)
            continue;
        const char *eq = memchr(pair, '=', plen);
        size_t nlen = eq ? (size_t)(eq - pair) : plen;
        /* Keys are compared decoded, so "access%5Ftoken" is the same key. */
        char name[64];
        long n = url_decode(pair, nlen, URL_DECODE_STRICT | URL_DECODE_PLUS, name, sizeof(name));
        if (n == -EINVAL)
            return -EINVAL;
        if (n < 0 || (size_t)n != klen || memcmp(name, key, klen) != 0)
            continue;
        if (found)
            return -EEXIST;
        found = true;
        const char *val = eq ? eq + 1 : pair + plen;
        size_t vlen = eq ? plen - nlen - 1 : 0;
        long v = url_decode(val, vlen, URL_DECODE_STRICT | URL_DECODE_PLUS, out, outlen);
        if (v < 0)
            return (int)v;
    }
    return found ? 0 : -ENOENT;
}
