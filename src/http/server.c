/* HTTP front end on libmicrohttpd with its internal thread pool (epoll).
 * Each connection's request is accumulated (body capped at max_body), routed,
 * and answered either inline on the HTTP thread or, for ROUTE_OFFLOAD routes,
 * on the worker pool while the connection is suspended. The access log and the
 * metrics are written from the completion callback, once per request. */
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "auth/crypto.h"
#include "util/log.h"
#include "http/metrics.h"
#include "http/workpool.h"

#define MAX_SEGMENTS 32
#define MAX_PARAMS 8
#define MAX_PENDING_HEADERS 8

enum seg_kind { SEG_LITERAL, SEG_PARAM /* {} */, SEG_TAIL /* {*}, the rest of the path */ };

struct route {
    char method[8];
    char *pattern;
    char *segs[MAX_SEGMENTS];
    enum seg_kind kinds[MAX_SEGMENTS];
    size_t nsegs;
    bool has_tail;
    route_handler handler;
    unsigned flags;
    struct route_metrics *metrics;
};

struct server {
    struct app *app;
    struct MHD_Daemon *daemon;
    int quiesced_fd; /* the listen socket after server_quiesce, or -1 */
    struct route *routes;
    size_t nroutes, cap;
    atomic_int port; /* written once bound; read by request threads */
    char *tls_cert_pem, *tls_key_pem;
    struct route_metrics *unmatched;
    server_error_fn reply_error; /* the API's error body, in its dialect */
    server_reply_hook on_reply;  /* or NULL */
    server_options_fn on_options; /* or NULL */
    char id_prefix[9];
    atomic_uint_fast64_t next_id;
};

enum request_state { REQ_READING, REQ_OFFLOADED, REQ_DONE };

struct request {
    struct server *srv;
    struct MHD_Connection *conn;
    const char *method; /* owned by MHD for the connection's lifetime */
    char *path;
    char *params[MAX_PARAMS];
    unsigned nparams;
    char *body;
    size_t body_len, body_cap;
    bool too_large;
    enum request_state state;
    const struct route *route;
    char id[65];
    char client[INET6_ADDRSTRLEN];
    int64_t start_us;
    struct MHD_Response *response;
    int status;
    char *pending_headers[MAX_PENDING_HEADERS][2];
    unsigned npending;
};

static int64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- routing ---------------------------------------------------------- */

/* Splits path in place on '/', skipping empty segments (so a trailing slash
 * does not matter). Returns the count, or -1 when there are too many. */
static int split_path(char *path, char **segs, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *p = strtok_r(path, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
        if (n == max)
            return -1;
        segs[n++] = p;
    }
    return (int)n;
}

int server_route(struct server *srv, const char *method, const char *pattern,
                 route_handler handler, unsigned flags)
{
    if (srv->nroutes == srv->cap) {
        size_t cap = srv->cap ? srv->cap * 2 : 32;
        struct route *r = realloc(srv->routes, cap * sizeof(*r));
        if (!r)
            return -ENOMEM;
        srv->routes = r;
        srv->cap = cap;
    }
    struct route *r = &srv->routes[srv->nroutes];
    memset(r, 0, sizeof(*r));
    snprintf(r->method, sizeof(r->method), "%s", method);
    r->pattern = strdup(pattern);
    char *work = strdup(pattern);
    if (!r->pattern || !work) {
        free(r->pattern);
        free(work);
        return -ENOMEM;
    }
    char *segs[MAX_SEGMENTS];
    int n = split_path(work, segs, MAX_SEGMENTS);
    for (int i = 0; i < n; i++) {
        r->segs[i] = strdup(segs[i]);
        r->kinds[i] = strcmp(segs[i], "{*}") == 0  ? SEG_TAIL
                      : strcmp(segs[i], "{}") == 0 ? SEG_PARAM
                                                   : SEG_LITERAL;
        r->has_tail |= r->kinds[i] == SEG_TAIL;
    }
    r->nsegs = n > 0 ? (size_t)n : 0;
    free(work);
    r->handler = handler;
    r->flags = flags;
    r->metrics = metrics_route(method, pattern);
    srv->nroutes++;
    return 0;
}

/* Matches one route against the split request path, capturing parameters. */
static bool route_matches(const struct route *rt, char **segs, size_t nsegs, struct request *r)
{
    if (!rt->has_tail && rt->nsegs != nsegs)
        return false;
    unsigned np = 0;
    for (size_t i = 0; i < rt->nsegs; i++) {
        const char *s = rt->segs[i];
        if (rt->kinds[i] == SEG_TAIL) {
            if (i >= nsegs || np == MAX_PARAMS)
                return false;
            size_t len = 0;
            for (size_t j = i; j < nsegs; j++)
                len += strlen(segs[j]) + 1;
            char *tail = malloc(len), *w = tail;
            if (!tail)
                return false;
            for (size_t j = i; j < nsegs; j++) {
                size_t l = strlen(segs[j]);
                memcpy(w, segs[j], l);
                w += l;
                *w++ = j + 1 < nsegs ? '/' : '\0';
            }
            r->params[np++] = tail;
            r->nparams = np;
            return true;
        }
        if (i >= nsegs)
            goto no;
        if (rt->kinds[i] == SEG_PARAM) {
            if (np == MAX_PARAMS || !(r->params[np] = strdup(segs[i])))
                goto no;
            np++;
        } else if (strcmp(s, segs[i]) != 0) {
            goto no;
        }
    }
    r->nparams = np;
    return true;
no:
    for (unsigned k = 0; k < np; k++) {
        free(r->params[k]);
        r->params[k] = NULL;
    }
    return false;
}

/* Finds the route for r. *path_known is set when some route matches the path
 * with another method (→ 405). */
static const struct route *route_find(struct server *srv, struct request *r, bool *path_known)
{
    char *work = strdup(r->path);
    char *segs[MAX_SEGMENTS];
    const struct route *found = NULL;
    *path_known = false;
    if (!work)
        return NULL;
    int n = split_path(work, segs, MAX_SEGMENTS);
    const char *method = strcmp(r->method, "HEAD") == 0 ? "GET" : r->method;
    for (size_t i = 0; n >= 0 && i < srv->nroutes && !found; i++) {
        struct route *rt = &srv->routes[i];
        if (!route_matches(rt, segs, (size_t)n, r))
            continue;
        if (strcmp(rt->method, method) == 0) {
            found = rt;
        } else {
            *path_known = true;
            for (unsigned k = 0; k < r->nparams; k++) {
                free(r->params[k]);
                r->params[k] = NULL;
            }
            r->nparams = 0;
        }
    }
    free(work);
    return found;
}

/* ---- request accessors ------------------------------------------------ */

struct app *request_app(const struct request *r)
{
    return r->srv->app;
}
int request_server_port(const struct request *r)
{
    return atomic_load(&r->srv->port);
}
const char *request_method(const struct request *r)
{
    return r->method;
}
const char *request_path(const struct request *r)
{
    return r->path;
}
const char *request_param(const struct request *r, unsigned i)
{
    return i < r->nparams ? r->params[i] : NULL;
}
const char *request_query(const struct request *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}
const char *request_header(const struct request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}
const char *request_body(const struct request *r, size_t *len)
{
    *len = r->body_len;
    return r->body ? r->body : "";
}
const char *request_id(const struct request *r)
{
    return r->id;
}
const char *request_client_addr(const struct request *r)
{
    return r->client;
}
const char *request_scheme(const struct request *r)
{
    return r->srv->tls_cert_pem ? "https" : "http";
}
bool request_replied(const struct request *r)
{
    return r->response != NULL;
}

struct header_join {
    const char *name;
    char *out;
    size_t len, used;
    int lines;
    bool overflow;
};

static enum MHD_Result header_join_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    struct header_join *j = cls;
    if (strcasecmp(key, j->name) != 0)
        return MHD_YES;
    size_t n = value ? strlen(value) : 0, sep = j->lines ? 2 : 0;
    if (j->used + sep + n + 1 > j->len) {
        j->overflow = true;
        return MHD_NO;
    }
    memcpy(j->out + j->used, ", ", sep);
    memcpy(j->out + j->used + sep, value ? value : "", n);
    j->used += sep + n;
    j->out[j->used] = '\0';
    j->lines++;
    return MHD_YES;
}

int request_header_join(const struct request *r, const char *name, char *out, size_t len)
{
    if (len == 0)
        return -ENOSPC;
    struct header_join j = {name, out, len, 0, 0, false};
    out[0] = '\0';
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, header_join_cb, &j);
    if (j.overflow) {
        out[0] = '\0';
        return -ENOSPC;
    }
    return j.lines;
}

struct query_iter {
    int (*fn)(void *ctx, const char *key, const char *value);
    void *ctx;
    int rc;
};

static enum MHD_Result query_iter_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct query_iter *it = cls;
    it->rc = it->fn(it->ctx, key, value ? value : "");
    return it->rc ? MHD_NO : MHD_YES;
}

int request_query_each(const struct request *r,
                       int (*fn)(void *ctx, const char *key, const char *value), void *ctx)
{
    struct query_iter it = {fn, ctx, 0};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_iter_cb, &it);
    return it.rc;
}

/* ---- replies ---------------------------------------------------------- */

static void set_response(struct request *r, int status, struct MHD_Response *resp,
                         const char *content_type)
{
    if (!resp) {
        log_error("request %s: cannot allocate response", r->id);
        return;
    }
    if (r->response) { /* a handler bug: keep the first reply */
        log_error("request %s: second reply ignored", r->id);
        MHD_destroy_response(resp);
        return;
    }
    r->response = resp;
    r->status = status;
    if (content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    for (unsigned i = 0; i < r->npending; i++) {
        MHD_add_response_header(resp, r->pending_headers[i][0], r->pending_headers[i][1]);
        free(r->pending_headers[i][0]);
        free(r->pending_headers[i][1]);
    }
    r->npending = 0;
}

void reply_buffer(struct request *r, int status, const char *content_type, char *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, body ? body : (char *)"",
                                         body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp)
        free(body);
    set_response(r, status, resp, content_type);
}

void reply_static(struct request *r, int status, const char *content_type, const char *body,
                  size_t len)
{
    set_response(r, status,
                 MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_PERSISTENT),
                 content_type);
}

void reply_json_text(struct request *r, int status, const char *text, size_t len)
{
    set_response(r, status,
                 MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY),
                 "application/json");
}

void reply_json(struct request *r, int status, cJSON *body)
{
    if (!body || status == 204) {
        cJSON_Delete(body);
        reply_buffer(r, status, NULL, NULL, 0);
        return;
    }
    /* Most replies are small: print them on the stack and let MHD copy once,
     * instead of cJSON growing a heap buffer by reallocation. */
    char small[2048];
    if (cJSON_PrintPreallocated(body, small, (int)sizeof(small), false)) {
        cJSON_Delete(body);
        reply_json_text(r, status, small, strlen(small));
        return;
    }
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (!text) {
        reply_static(r, 500, "application/json", "{\"detail\":\"out of memory\"}", 26);
        return;
    }
    reply_buffer(r, status, "application/json", text, strlen(text));
}

void reply_file(struct request *r, int status, int fd, uint64_t offset, uint64_t len,
                const char *content_type)
{
    struct MHD_Response *resp = MHD_create_response_from_fd_at_offset64(len, fd, offset);
    if (!resp)
        close(fd);
    set_response(r, status, resp, content_type);
}

void reply_header(struct request *r, const char *name, const char *value)
{
    if (r->response) {
        MHD_add_response_header(r->response, name, value);
        return;
    }
    if (r->npending == MAX_PENDING_HEADERS) {
        log_error("request %s: too many pending headers", r->id);
        return;
    }
    r->pending_headers[r->npending][0] = strdup(name);
    r->pending_headers[r->npending][1] = strdup(value);
    if (!r->pending_headers[r->npending][0] || !r->pending_headers[r->npending][1]) {
        free(r->pending_headers[r->npending][0]);
        free(r->pending_headers[r->npending][1]);
        return;
    }
    r->npending++;
}

/* ---- connection lifecycle --------------------------------------------- */

static bool request_id_acceptable(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= 64 || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return n > 0;
}

/* The two formatters below run on every request; printf-family calls for
 * them cost about as much as the rest of a token check's bookkeeping. */

/* prefix (8 hex digits) + counter in at least 8 lower-case hex digits. */
static void format_request_id(const char *prefix, uint64_t counter, char out[65])
{
    char digits[16];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[counter & 0xF];
        counter >>= 4;
    } while (counter || n < 8);
    size_t plen = strlen(prefix);
    memcpy(out, prefix, plen);
    for (int i = 0; i < n; i++)
        out[plen + (size_t)i] = digits[n - 1 - i];
    out[plen + (size_t)n] = '\0';
}

/* Dotted quad, as inet_ntop would write it. */
static void format_ipv4(const uint8_t b[4], char *out)
{
    for (int i = 0; i < 4; i++) {
        unsigned v = b[i];
        if (v >= 100)
            *out++ = (char)('0' + v / 100);
        if (v >= 10)
            *out++ = (char)('0' + v / 10 % 10);
        *out++ = (char)('0' + v % 10);
        *out++ = i < 3 ? '.' : '\0';
    }
}

static struct request *request_new(struct server *srv, struct MHD_Connection *conn,
                                   const char *url, const char *method)
{
    struct request *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->srv = srv;
    r->conn = conn;
    r->method = method;
    r->start_us = monotonic_us();
    r->path = strdup(url);
    if (!r->path) {
        free(r);
        return NULL;
    }
    /* Honour a caller's request id for tracing, but only a short, safe one. */
    const char *given = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (given && request_id_acceptable(given))
        memcpy(r->id, given, strlen(given) + 1); /* at most 64 characters */
    else
        format_request_id(srv->id_prefix, atomic_fetch_add(&srv->next_id, 1), r->id);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            format_ipv4((const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr, r->client);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, r->client,
                      sizeof(r->client));
    }
    if (!r->client[0])
        strcpy(r->client, "-");
    return r;
}

static void request_free(struct request *r)
{
    for (unsigned i = 0; i < r->nparams; i++)
        free(r->params[i]);
    for (unsigned i = 0; i < r->npending; i++) {
        free(r->pending_headers[i][0]);
        free(r->pending_headers[i][1]);
    }
    if (r->response)
        MHD_destroy_response(r->response);
    if (r->body) {
        crypto_wipe(r->body, r->body_len); /* bodies carry passwords */
        free(r->body);
    }
    free(r->path);
    free(r);
}

static enum MHD_Result queue_reply(struct request *r)
{
    if (!r->response)
        r->srv->reply_error(r, 500, "Internal server error", "internal_error");
    if (!r->response)
        return MHD_NO;
    if (r->srv->on_reply)
        r->srv->on_reply(r, r->status);
    r->state = REQ_DONE;
    return MHD_queue_response(r->conn, (unsigned)r->status, r->response);
}

static void offloaded_job(void *arg)
{
    struct request *r = arg;
    bool idle = r->route->flags & ROUTE_IDLE_CPU;
    if (idle)
        workpool_idle_begin();
    r->route->handler(r);
    if (idle)
        workpool_idle_end();
    MHD_resume_connection(r->conn);
}

static bool append_body(struct request *r, const char *data, size_t len)
{
    size_t limit = r->srv->app->cfg.max_body;
    if (r->too_large || r->body_len + len > limit) {
        r->too_large = true;
        return false;
    }
    if (r->body_len + len + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 1024;
        while (cap < r->body_len + len + 1)
            cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b) {
            r->too_large = true;
            return false;
        }
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return true;
}

static void dispatch(struct request *r)
{
    bool path_known;
    r->route = route_find(r->srv, r, &path_known);
    if (!r->route) {
        if (path_known && r->srv->on_options && strcmp(r->method, "OPTIONS") == 0 &&
            r->srv->on_options(r))
            return;
        if (path_known) {
            reply_header(r, "Allow", "see /api/v1/openapi.json");
            r->srv->reply_error(r, 405, "Method Not Allowed", "method_not_allowed");
        } else {
            r->srv->reply_error(r, 404, "Not Found", "not_found");
        }
        return;
    }
    if (!(r->route->flags & ROUTE_OFFLOAD)) {
        r->route->handler(r);
        return;
    }
    /* Suspend before submitting: the job may finish and resume at once. */
    r->state = REQ_OFFLOADED;
    MHD_suspend_connection(r->conn);
    int rc = workpool_submit(r->srv->app->workers, offloaded_job, r);
    if (rc < 0) {
        reply_header(r, "Retry-After", "1");
        r->srv->reply_error(r, 503, "Server busy, retry shortly", "server_busy");
        MHD_resume_connection(r->conn);
    }
}

static enum MHD_Result reply_too_large(struct request *r)
{
    /* Counted under the route the request was for, not "(unmatched)". */
    bool path_known;
    if (!r->route)
        r->route = route_find(r->srv, r, &path_known);
    char msg[96];
    snprintf(msg, sizeof(msg), "Request body exceeds %zu bytes", r->srv->app->cfg.max_body);
    r->srv->reply_error(r, 413, msg, "payload_too_large");
    return queue_reply(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct server *srv = cls;
    struct request *r = *con_cls;
    if (!r) {
        r = request_new(srv, conn, url, method);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        /* Refuse a declared oversized body before reading any of it; the
         * connection is closed after the reply, which is what we want. */
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > srv->app->cfg.max_body) {
            r->too_large = true;
            return reply_too_large(r);
        }
        return MHD_YES;
    }
    if (r->state == REQ_OFFLOADED) {
        /* Resumed after the worker produced the reply. */
        if (!r->response)
            return MHD_YES; /* spurious wake-up: still running */
        return queue_reply(r);
    }
    if (r->state == REQ_DONE)
        return MHD_YES;
    if (*upload_data_size) {
        append_body(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->too_large)
        return reply_too_large(r);
    dispatch(r);
    if (r->state == REQ_OFFLOADED)
        return MHD_YES;
    return queue_reply(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct server *srv = cls;
    struct request *r = *con_cls;
    if (!r)
        return;
    int64_t us = monotonic_us() - r->start_us;
    int status = r->response ? r->status : 0;
    log_access(r->id, r->client, r->method, r->path, status, us);
    metrics_observe(r->route ? r->route->metrics : srv->unmatched, status, us);
    request_free(r);
    *con_cls = NULL;
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt,
                                                               va_list ap)
{
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    log_debug("libmicrohttpd: %s", buf);
}

/* ---- daemon ----------------------------------------------------------- */

void server_on_reply(struct server *srv, server_reply_hook hook)
{
    srv->on_reply = hook;
}

void server_on_options(struct server *srv, server_options_fn fn)
{
    srv->on_options = fn;
}

struct server *server_create(struct app *app, server_error_fn reply_error)
{
    struct server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return NULL;
    srv->app = app;
    srv->quiesced_fd = -1;
    uint8_t rnd[4];
    crypto_random(rnd, sizeof(rnd));
    crypto_hex(rnd, sizeof(rnd), srv->id_prefix);
    srv->unmatched = metrics_route("ANY", "(unmatched)");
    srv->reply_error = reply_error;
    return srv;
}

static char *read_pem(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    char *buf = NULL;
    if (fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size < 1024 * 1024 &&
        (buf = malloc((size_t)st.st_size + 1))) {
        ssize_t n = read(fd, buf, (size_t)st.st_size);
        if (n != st.st_size) {
            free(buf);
            buf = NULL;
        } else {
            buf[n] = '\0';
        }
    }
    close(fd);
    return buf;
}

static int resolve_listen(const struct config *cfg, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[64];
    snprintf(host, sizeof(host), "%s", cfg->listen_host);
    size_t hl = strlen(host);
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') { /* [::1] */
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%d", cfg->listen_port);
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0 || !res) {
        log_error("cannot resolve listen address %s: %s", host, gai_strerror(rc));
        return -EINVAL;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void write_port_file(const char *path, int port)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0)
        log_error("cannot write port file %s: %s", path, strerror(errno));
}

int server_start(struct server *srv)
{
    const struct config *cfg = &srv->app->cfg;
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (resolve_listen(cfg, &ss, &sslen) < 0)
        return -EINVAL;
    /* poll() in every HTTP thread, pool or not. libmicrohttpd 0.9.75's epoll
     * loop stalls busy keep-alive connections once a thread has a few hundred
     * (test_load.LoadSingleThread), and MHD_quiesce_daemon on an epoll pool
     * races the pool threads for the listen socket and can abort the process
     * with "Failed to remove listen FD from epoll set" (seen in CI on SIGTERM).
     * The poll loop only reads the quiesce flag. */
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                     MHD_USE_ITC;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    bool tls = cfg->tls_cert[0] && cfg->tls_key[0];
    if (tls) {
        srv->tls_cert_pem = read_pem(cfg->tls_cert);
        srv->tls_key_pem = read_pem(cfg->tls_key);
        if (!srv->tls_cert_pem || !srv->tls_key_pem) {
            log_error("cannot read TLS certificate %s or key %s", cfg->tls_cert, cfg->tls_key);
            return -EINVAL;
        }
        flags |= MHD_USE_TLS;
    }
    struct MHD_OptionItem tls_opts[] = {
        {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, srv->tls_cert_pem},
        {tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, srv->tls_key_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->connection_timeout,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
        MHD_OPTION_ARRAY, tls_opts,
        MHD_OPTION_END);
    if (!srv->daemon) {
        log_error("cannot listen on %s:%d (address in use, or bad TLS files?)",
                  cfg->listen_host, cfg->listen_port);
        return -EADDRINUSE;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    atomic_store(&srv->port, info ? info->port : cfg->listen_port);
    if (cfg->port_file[0])
        write_port_file(cfg->port_file, srv->port);
    log_info("listening on %s://%s:%d (%u threads, %u workers)", tls ? "https" : "http",
             cfg->listen_host, srv->port, cfg->threads, cfg->workers);
    return 0;
}

int server_port(const struct server *srv)
{
    return srv->port;
}

void server_quiesce(struct server *srv)
{
    if (!srv->daemon || srv->quiesced_fd >= 0)
        return;
    srv->quiesced_fd = MHD_quiesce_daemon(srv->daemon);
    /* Refuse new connections now, but keep the descriptor until the HTTP
     * threads are joined: one of them may still be inside a poll() that
     * holds its number, which must not be reused under it. */
    if (srv->quiesced_fd >= 0)
        shutdown(srv->quiesced_fd, SHUT_RDWR);
}

void server_stop(struct server *srv)
{
    if (srv->daemon) {
        MHD_stop_daemon(srv->daemon);
        srv->daemon = NULL;
    }
    if (srv->quiesced_fd >= 0) {
        close(srv->quiesced_fd);
        srv->quiesced_fd = -1;
    }
}

void server_destroy(struct server *srv)
{
    if (!srv)
        return;
    server_stop(srv);
    for (size_t i = 0; i < srv->nroutes; i++) {
        free(srv->routes[i].pattern);
        for (size_t j = 0; j < srv->routes[i].nsegs; j++)
            free(srv->routes[i].segs[j]);
    }
    free(srv->routes);
    if (srv->tls_key_pem) {
        crypto_wipe(srv->tls_key_pem, strlen(srv->tls_key_pem));
        free(srv->tls_key_pem);
    }
    free(srv->tls_cert_pem);
    free(srv);
}
