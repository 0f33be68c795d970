/* Forward-auth rules (cfg.auth_rules) and the URL helpers GET /api/v1/auth/check
 * and the OAuth endpoints need: parsing "[METHODS:]prefix=scope" rules into a
 * fixed table, longest-prefix matching, normalizing an original request URI,
 * and reading one parameter from a query string or form body.
 * Pure functions on caller-owned memory; thread-safe, no allocation. */
#ifndef TESSERA_AUTHRULES_H
#define TESSERA_AUTHRULES_H

#include <stdbool.h>
#include <stddef.h>

#define AUTHRULES_MAX 64
#define AUTHRULES_TEXT_MAX 4096 /* same as struct config's auth_rules */
#define AUTHRULES_SCOPE_MAX 64
#define AUTHRULES_PATH_MAX 4096 /* longer original URIs are refused */

enum authrule_access {
    AUTHRULE_PUBLIC, /* "prefix=-": no credential needed (a presented one must be valid) */
    AUTHRULE_ANY,    /* "prefix=": any valid credential */
    AUTHRULE_SCOPE,  /* "prefix=scope": a valid credential holding scope */
};

struct authrule {
    const char *methods; /* "GET,HEAD" or NULL for every method; points into buf */
    const char *prefix;  /* starts with '/', no trailing '/' except the root "/" */
    size_t prefix_len;
    const char *scope;   /* AUTHRULE_SCOPE only, else "" */
    enum authrule_access access;
};

struct authrules {
    size_t n;
    struct authrule v[AUTHRULES_MAX];
    char buf[AUTHRULES_TEXT_MAX + 1]; /* the rule text, cut into NUL-terminated pieces */
};

/* Parses whitespace-separated rules. Each is `[METHOD[,METHOD...]:]prefix=scope`
 * where prefix starts with '/' and scope is empty (any valid credential), "-"
 * (public) or a scope id of [A-Za-z0-9:._-]. A trailing '/' on a prefix is
 * ignored ("/static/" = "/static"); prefixes match whole path segments.
 * Returns 0, or -EINVAL / -E2BIG with a human message in err (which never
 * quotes more than the offending rule). out is fully overwritten. */
int authrules_parse(struct authrules *out, const char *text, char *err, size_t errlen);

/* The rule deciding (method, path): the longest prefix covering path whose
 * method list (if any) contains method; at equal prefixes a method-specific
 * rule beats a generic one. path must be normalized (authrules_normalize_path).
 * method may be NULL (then only generic rules apply). NULL when no rule
 * covers path (the caller must then deny). */
const struct authrule *authrules_match(const struct authrules *rs, const char *method,
                                       const char *path);

/* Turns a raw request URI ("/a/./b%2Fc/../d?x=1", or absolute-form
 * "https://host/a") into the decoded path the rules are matched against:
 * query and fragment dropped, percent-escapes decoded once, "//" collapsed,
 * "." and ".." segments resolved. Returns 0, -EINVAL for a malformed URI
 * (bad escape, %00, control characters, ".." above the root, no leading
 * '/'), or -E2BIG when it does not fit in outlen. */
int authrules_normalize_path(const char *uri, char *out, size_t outlen);

/* Looks key up in an application/x-www-form-urlencoded string ("a=1&b=2",
 * no leading '?'; also a URL's query): decodes the value ('+' = space,
 * %XX) into out. Returns 0; -ENOENT when absent; -EEXIST when given more
 * than once (RFC 6749 §3.1 forbids repeats); -EINVAL on a bad escape or
 * %00; -E2BIG when the value does not fit in outlen. */
int authrules_query_get(const char *query, size_t len, const char *key, char *out,
                        size_t outlen);

#endif
