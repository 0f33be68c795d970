/* See baseurl.h. The trust decision is made once per call, on the direct
 * peer's address; every forwarded value then goes through forwarded.c's
 * validation. Runs on the handler's thread; reads only the request and the
 * read-only configuration. */
#include "api/baseurl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "http/server.h"
#include "util/url.h"

/* Room for every field line of one forwarding header; longer ones are
 * ignored as a whole (the request is then described by its direct values). */
#define HEADER_JOIN_MAX 4096

/* The last value of a list-valued X-Forwarded-* header, or false. */
static bool x_forwarded(struct request *r, const char *name, char *out, size_t len)
{
    char joined[HEADER_JOIN_MAX];
    return request_header_join(r, name, joined, sizeof(joined)) > 0 &&
           fwd_last_value(joined, out, len);
}

void request_base_parts(struct request *r, struct base_url *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->scheme, sizeof(out->scheme), "%s", request_scheme(r));
    const char *host = request_header(r, "Host");
    if (url_host_ok(host)) {
        snprintf(out->host, sizeof(out->host), "%s", host);
        out->host_ok = true;
    }
    const struct cidr_list *trusted = &request_app(r)->cfg.trusted_nets;
    if (!cidr_list_match(trusted, request_client_addr(r)))
        return;
    struct fwd_values fv;
    char joined[HEADER_JOIN_MAX], v[FWD_HOST_MAX + 1];
    if (request_header_join(r, "Forwarded", joined, sizeof(joined)) > 0)
        fwd_parse_forwarded(joined, trusted, &fv);
    else
        memset(&fv, 0, sizeof(fv));
    if (!fv.proto[0] && x_forwarded(r, "X-Forwarded-Proto", v, sizeof(v)))
        fwd_proto(v, fv.proto);
    if (!fv.host[0] && x_forwarded(r, "X-Forwarded-Host", v, sizeof(v)) && url_host_ok(v))
        snprintf(fv.host, sizeof(fv.host), "%s", v);
    if (fv.proto[0])
        snprintf(out->scheme, sizeof(out->scheme), "%s", fv.proto);
    if (fv.host[0]) {
        snprintf(out->host, sizeof(out->host), "%s", fv.host);
        out->host_ok = true;
    }
    if (x_forwarded(r, "X-Forwarded-Prefix", v, sizeof(v)))
        fwd_prefix(v, out->prefix, sizeof(out->prefix));
}

int request_base_url(struct request *r, char *out, size_t len)
{
    struct base_url b;
    request_base_parts(r, &b);
    int n = snprintf(out, len, "%s://%s%s", b.scheme, b.host_ok ? b.host : "localhost", b.prefix);
    if (n >= 0 && (size_t)n < len)
        return 0;
    snprintf(out, len, "%s://localhost", request_scheme(r));
    return -ENOSPC;
}

void request_public_base_url(struct request *r, char *out, size_t len)
{
    const struct config *cfg = &request_app(r)->cfg;
    if (cfg->public_url[0]) {
        snprintf(out, len, "%s", cfg->public_url);
        return;
    }
    const char *host = cfg->listen_host;
    bool wildcard = !*host || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 ||
                    strcmp(host, "[::]") == 0;
    bool v6 = !wildcard && strchr(host, ':') && host[0] != '[';
    snprintf(out, len, "%s://%s%s%s:%d", request_scheme(r), v6 ? "[" : "",
             wildcard ? "localhost" : host, v6 ? "]" : "", request_server_port(r));
}
