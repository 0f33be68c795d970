/* See cors.h. The policy is decided per reply from the path and the Origin
 * header alone, so the same code serves handlers' replies, the HTTP layer's
 * own error replies (404, 405, 413, 503) and preflights. */
#include "api/cors.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "http/server.h"
#include "util/url.h"

/* Request headers a cross-origin caller may send: credentials, JSON bodies,
 * ranged and conditional asset reads (GDAL, COG viewers), tracing. */
#define ALLOW_HEADERS                                                                              \
    "Authorization, Content-Type, Range, If-None-Match, If-Modified-Since, If-Range, X-Request-Id"
/* Response headers beyond the CORS-safelisted ones that callers need. */
#define EXPOSE_HEADERS                                                                             \
    "X-Request-Id, Content-Range, Accept-Ranges, ETag, Link, WWW-Authenticate, Retry-After"
/* Chromium caps preflight caching at two hours; longer is pointless. */
#define MAX_AGE "7200"

static const char seps[] = ", \t";

bool cors_path(const char *path)
{
    /* Lengths known when compiling: this runs on every reply. */
#define CORS_PREFIX(text, whole) {text, sizeof(text) - 1, whole}
    static const struct {
        const char *text;
        size_t len;
        bool whole; /* the path itself, not one under it */
    } paths[] = {
        CORS_PREFIX("/api/v1/stac", false),
        CORS_PREFIX("/api/v1/catalog/asset", false),
        CORS_PREFIX("/tokens/v2", true),
        CORS_PREFIX("/api/v1/openapi.json", true),
    };
#undef CORS_PREFIX
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        size_t n = paths[i].len;
        if (strncmp(path, paths[i].text, n) != 0)
            continue;
        /* The router ignores one trailing slash; so does this. */
        if (path[n] == '\0' || (path[n] == '/' && (!paths[i].whole || path[n + 1] == '\0')))
            return true;
    }
    return false;
}

/* One origin entry [s, s + n): scheme://host[:port]. */
static bool origin_ok(const char *s, size_t n)
{
    char host[300];
    size_t skip = n >= 8 && strncasecmp(s, "https://", 8) == 0  ? 8
                  : n >= 7 && strncasecmp(s, "http://", 7) == 0 ? 7
                                                                : 0;
    if (!skip || n - skip >= sizeof(host))
        return false;
    memcpy(host, s + skip, n - skip);
    host[n - skip] = '\0';
    return url_host_ok(host);
}

int cors_origins_check(const char *text, char *err, size_t errlen)
{
    size_t entries = 0;
    bool star = false;
    for (const char *p = text + strspn(text, seps); *p; p += strspn(p, seps)) {
        size_t n = strcspn(p, seps);
        entries++;
        if (n == 1 && *p == '*') {
            star = true;
        } else if (!origin_ok(p, n)) {
            snprintf(err, errlen,
                     "\"%.*s\" is not an origin: use scheme://host[:port] (http or https, no "
                     "path), \"*\", or nothing to turn CORS off",
                     (int)(n > 80 ? 80 : n), p);
            return -EINVAL;
        }
        p += n;
    }
    if (star && entries > 1) {
        snprintf(err, errlen, "\"*\" allows every origin and cannot be combined with others");
        return -EINVAL;
    }
    return 0;
}

const char *cors_origin_match(const char *list, const char *origin, size_t *len)
{
    for (const char *p = list + strspn(list, seps); *p; p += strspn(p, seps)) {
        size_t n = strcspn(p, seps);
        if (n == 1 && *p == '*') {
            *len = 1;
            return p;
        }
        /* Browsers serialise origins in lower case; an operator may not. */
        if (origin && strlen(origin) == n && strncasecmp(p, origin, n) == 0) {
            *len = n;
            return p;
        }
        p += n;
    }
    return NULL;
}

/* The allowed entry for this request, copied into out (the configured
 * spelling, never the request's bytes); false when CORS does not apply. */
static bool allowed_origin(struct request *r, char *out, size_t outlen)
{
    const char *list = request_app(r)->cfg.cors_origins;
    size_t n = 0;
    const char *m = cors_origin_match(list, request_header(r, "Origin"), &n);
    if (!m || n >= outlen)
        return false;
    memcpy(out, m, n);
    out[n] = '\0';
    return true;
}

bool cors_origins_any(const char *list)
{
    list += strspn(list, seps);
    return list[0] == '*' && !list[1 + strspn(list + 1, seps)];
}

static void on_reply(struct request *r, int status)
{
    (void)status;
    const struct config *cfg = &request_app(r)->cfg;
    if (!cfg->cors_origins[0] || !cors_path(request_path(r)))
        return;
    if (cfg->cors_any) { /* the same lines on every reply: no Vary */
        static const char any[] = "Access-Control-Allow-Origin: *\r\n";
        static const char any_exposed[] = "Access-Control-Allow-Origin: *\r\n"
                                          "Access-Control-Expose-Headers: " EXPOSE_HEADERS "\r\n";
        if (strcmp(request_method(r), "OPTIONS") == 0)
            reply_header_lines(r, any, sizeof(any) - 1);
        else
            reply_header_lines(r, any_exposed, sizeof(any_exposed) - 1);
        return;
    }
    /* With a list, the reply depends on Origin: say so to caches even when
     * this Origin gets nothing, or a shared cache could hand the reply for
     * one origin to another. ("*" never stands in a list: cors_origins_check.) */
    reply_header(r, "Vary", "Origin");
    char origin[320];
    if (!allowed_origin(r, origin, sizeof(origin)))
        return;
    reply_header(r, "Access-Control-Allow-Origin", origin);
    if (strcmp(request_method(r), "OPTIONS") != 0)
        reply_header(r, "Access-Control-Expose-Headers", EXPOSE_HEADERS);
}

/* OPTIONS on a path that has routes: on a CORS path 204, and for a
 * preflight from an allowed origin the methods, headers and cache lifetime
 * (the reply hook adds the origin); elsewhere the usual 405. */
static bool on_options(struct request *r)
{
    const char *path = request_path(r);
    if (!cors_path(path))
        return false;
    const char *methods =
        strncmp(path, "/api/v1/stac", 12) == 0 ? "GET, HEAD, POST, OPTIONS" : "GET, HEAD, OPTIONS";
    reply_header(r, "Allow", methods);
    char origin[320];
    if (request_app(r)->cfg.cors_origins[0] && request_header(r, "Access-Control-Request-Method") &&
        allowed_origin(r, origin, sizeof(origin))) {
        reply_header(r, "Access-Control-Allow-Methods", methods);
        reply_header(r, "Access-Control-Allow-Headers", ALLOW_HEADERS);
        reply_header(r, "Access-Control-Max-Age", MAX_AGE);
    }
    reply_buffer(r, 204, NULL, NULL, 0);
    return true;
}

void cors_register(struct server *srv)
{
    server_on_options(srv, on_options);
    server_on_reply(srv, on_reply);
}
