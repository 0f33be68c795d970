/* libFuzzer target for the whole HTTP request path: our parser and event
 * loop (src/http/), the router, authentication and every route's handler, through the real
 * server started in-process (fuzz_server.h) on loopback. Two input modes,
 * picked by the first byte:
 *   even: the rest is sent verbatim as raw bytes (request line, headers,
 *         body, pipelined requests, garbage);
 *   odd:  structured -- bytes pick the method, a route template (every route
 *         of SPEC §4) and a credential (none, garbage, or a real session JWT,
 *         refresh JWT, sk. or pk. token, in the header or the access_token
 *         query parameter); the rest is split at NUL bytes into two path
 *         parameters, the query string, extra header lines and the body.
 * Every reply must parse, carry X-Request-Id, be JSON when an error, and be
 * < 500, 501, 503 or 505 (see fuzz_server.h); the server must keep accepting
 * connections. Runs on the fuzzing thread; the server has its own threads. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const methods[] = {"GET", "POST", "DELETE", "PATCH", "PUT",
                                      "HEAD", "OPTIONS", "get"};

/* {0}/{1}: fuzzed path parameters; {u}: the fuzz account's username (or
 * parameter 0 when given); {id}: the fuzz account's sk id (or parameter 1). */
static const char *const routes[] = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/v1/account/register",
    "/api/v1/account/me",
    "/api/v1/token/pair",
    "/api/v1/token/refresh",
    "/api/v1/token/verify",
    "/api/v1/token/blacklist",
    "/api/v1/account/tokens/create-stac",
    "/api/v1/account/tokens",
    "/api/v1/account/tokens/{id}",
    "/api/v1/stac/",
    "/api/v1/stac/conformance",
    "/api/v1/stac/collections",
    "/api/v1/stac/collections/{0}",
    "/api/v1/stac/collections/{0}/items",
    "/api/v1/stac/collections/{0}/items/{1}",
    "/api/v1/stac/search",
    "/api/v1/catalog/asset/{0}",
    "/api/v1/auth/check",
    "/api/v1/oauth/introspect",
    "/api/v1/oauth/revoke",
    "/api/v1/openapi.json",
    "/api/v1/docs",
    "/tokens/v2",
    "/tokens/v2/{u}",
    "/tokens/v2/{u}/{id}",
    "/scopes/v1/{u}",
    "/account/register/",
    "/account/login/",
    "/account/tokens/",
    "/{0}",
    "/{0}/{1}",
    "/",
    "/static/{0}",
    "/api/v1/token/self",
    "/api/v1/token/report-leak",
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_server_init();
    return 0;
}

/* Percent-encodes bytes that would break the request line. */
static void add_path_bytes(struct fuzz_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c >= 0x7f || c == '%' || c == '#' || c == '?') {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            fuzz_buf_add(b, e, 3);
        } else {
            fuzz_buf_add(b, &s[i], 1);
        }
    }
}

/* Next NUL-separated field of [*p, end). */
static const char *next_field(const char **p, const char *end, size_t *len)
{
    const char *start = *p;
    const char *nul = start < end ? memchr(start, '\0', (size_t)(end - start)) : NULL;
    const char *stop = nul ? nul : end;
    *len = (size_t)(stop - start);
    *p = nul ? nul + 1 : end;
    return start;
}

static void build_structured(const uint8_t *data, size_t size, struct fuzz_buf *req)
{
    if (size < 3)
        return;
    const char *method = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
    const char *route = routes[data[1] % (sizeof(routes) / sizeof(routes[0]))];
    uint8_t credbyte = data[2];
    const char *cred = fuzz_pick_credential(credbyte);
    bool cred_in_query = (credbyte & 0x08) != 0;
    const char *p = (const char *)data + 3, *end = (const char *)data + size;
    size_t l0, l1, lq, lh, lb;
    const char *p0 = next_field(&p, end, &l0);
    const char *p1 = next_field(&p, end, &l1);
    const char *q = next_field(&p, end, &lq);
    const char *h = next_field(&p, end, &lh);
    const char *body = p;
    lb = (size_t)(end - p);
    (void)h;

    fuzz_buf_str(req, method);
    fuzz_buf_str(req, " ");
    for (const char *r = route; *r;) {
        if (strncmp(r, "{0}", 3) == 0) {
            add_path_bytes(req, p0, l0);
            r += 3;
        } else if (strncmp(r, "{1}", 3) == 0) {
            add_path_bytes(req, p1, l1);
            r += 3;
        } else if (strncmp(r, "{u}", 3) == 0) {
            if (l0)
                add_path_bytes(req, p0, l0);
            else
                fuzz_buf_str(req, fuzz_cred.username);
            r += 3;
        } else if (strncmp(r, "{id}", 4) == 0) {
            if (l1)
                add_path_bytes(req, p1, l1);
            else
                fuzz_buf_str(req, fuzz_cred.sk_id);
            r += 4;
        } else {
            fuzz_buf_add(req, r, 1);
            r++;
        }
    }
    if (lq || (cred && cred_in_query)) {
        fuzz_buf_str(req, "?");
        add_path_bytes(req, q, lq); /* '&' and '=' stay literal */
        if (cred && cred_in_query) {
            fuzz_buf_str(req, lq ? "&access_token=" : "access_token=");
            fuzz_buf_str(req, cred);
        }
    }
    fuzz_buf_str(req, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if (cred && !cred_in_query) {
        fuzz_buf_str(req, "Authorization: Bearer ");
        fuzz_buf_str(req, cred);
        fuzz_buf_str(req, "\r\n");
    }
    /* Extra header lines: fuzzed, but CR/LF only as line breaks. */
    for (size_t i = 0; i < lh; i++) {
        char c = h[i];
        if (c == '\n')
            fuzz_buf_str(req, "\r\n");
        else if (c != '\r')
            fuzz_buf_add(req, &c, 1);
    }
    if (lh && h[lh - 1] != '\n')
        fuzz_buf_str(req, "\r\n");
    char cl[64];
    if (lb || strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0) {
        snprintf(cl, sizeof(cl), "Content-Type: application/json\r\nContent-Length: %zu\r\n", lb);
        fuzz_buf_str(req, cl);
    }
    fuzz_buf_str(req, "\r\n");
    fuzz_buf_add(req, body, lb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    struct fuzz_buf req = {0}, rep = {0};
    bool structured = data[0] & 1;
    if (structured)
        build_structured(data + 1, size - 1, &req);
    else
        fuzz_buf_add(&req, data + 1, size - 1);
    if (req.len) {
        fuzz_exchange(req.p, req.len, structured ? FUZZ_REPLY_WAIT_MS : 0, &rep);
        fuzz_check_replies(rep.p, rep.len, NULL, NULL);
    }
    free(req.p);
    free(rep.p);
    return 0;
}
