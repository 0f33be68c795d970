/* One connection's current request: the accessors handlers read it with,
 * the reply_* functions they answer with, and the response bytes. Called
 * by the thread running the handler (a loop or a worker), never by two at
 * once: the loop leaves an offloaded request alone until it comes back. */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "auth/crypto.h"
#include "http/internal.h"
#include "http/metrics.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/url.h"

int64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int outbuf_reserve(struct outbuf *o, size_t more)
{
    if (o->len + more <= o->cap)
        return 0;
    size_t cap = buf_grow_cap(o->cap, 1024, o->len + more);
    char *p = realloc(o->p, cap);
    if (!p)
        return -ENOMEM;
    o->p = p;
    o->cap = cap;
    return 0;
}

int outbuf_add(struct outbuf *o, const char *s, size_t n)
{
    if (outbuf_reserve(o, n) < 0)
        return -ENOMEM;
    memcpy(o->p + o->len, s, n);
    o->len += n;
    return 0;
}

struct request *request_alloc(struct server *srv, struct loop *loop)
{
    struct request *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    if (http_parser_init(&r->parser, &srv->limits) < 0) {
        free(r);
        return NULL;
    }
    r->srv = srv;
    r->loop = loop;
    r->file_fd = -1;
    return r;
}

static void reply_drop(struct request *r)
{
    if (r->body_owned)
        free(r->body);
    r->body = NULL;
    r->body_len = 0;
    r->body_owned = false;
    if (r->file_fd >= 0)
        close(r->file_fd);
    r->file_fd = -1;
    r->hdrs.len = 0;
    r->replied = false;
}

void request_free(struct request *r)
{
    if (!r)
        return;
    request_reset(r);
    http_parser_free(&r->parser);
    free(r->buf);
    free(r->scratch);
    free(r->qargs);
    free(r->hdrs.p);
    free(r);
}

void request_reset(struct request *r)
{
    reply_drop(r);
    for (unsigned i = 0; i < r->nparams; i++)
        free(r->params[i]);
    r->nparams = 0;
    r->nqargs = 0;
    r->qargs_state = 0;
    r->scratch_used = 0;
    if (r->scratch_cap > 4096) { /* an idle connection stays small */
        free(r->scratch);
        r->scratch = NULL;
        r->scratch_cap = 0;
    }
    if (r->hdrs.cap > 4096) {
        free(r->hdrs.p);
        r->hdrs = (struct outbuf){0};
    }
    r->route = NULL;
    r->log_account = 0;
    r->log_token[0] = '\0';
    r->method = "";
    r->path = "";
    r->query = "";
    r->status = 0;
    r->ctype[0] = '\0';
    r->head_only = false;
}

/* ---- the request ------------------------------------------------------ */

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

/* prefix (8 hex digits) + counter in at least 8 lower-case hex digits; the
 * printf family would cost as much as the rest of the bookkeeping. */
static void format_request_id(const char *prefix, uint64_t counter, char out[65])
{
    int n = 8;
    while (n < 16 && counter >> (4 * n))
        n++;
    size_t plen = strlen(prefix);
    memcpy(out, prefix, plen);
    char *w = out + plen;
    w[n] = '\0';
    while (n--) {
        w[n] = "0123456789abcdef"[counter & 0xF];
        counter >>= 4;
    }
}

static void assign_id(struct request *r)
{
    /* Honour a caller's request id for tracing, but only a short, safe one. */
    const char *given = r->parser.phase == HP_READY ? request_header(r, "X-Request-Id") : NULL;
    if (given && request_id_acceptable(given))
        memcpy(r->id, given, strlen(given) + 1);
    else
        format_request_id(r->srv->id_prefix, atomic_fetch_add(&r->srv->next_id, 1), r->id);
}

static char *scratch_take(struct request *r, size_t n)
{
    if (r->scratch_used + n > r->scratch_cap)
        return NULL;
    char *p = r->scratch + r->scratch_used;
    r->scratch_used += n;
    return p;
}

int request_begin(struct request *r, const char **msg)
{
    const struct http_request_head *q = &r->parser.req;
    r->start_us = monotonic_us();
    r->method = q->method;
    r->head_only = strcmp(q->method, "HEAD") == 0;
    r->close = !q->keep_alive;
    assign_id(r);
    const char *t = q->target;
    /* absolute-form (RFC 9112 §3.2.2): the authority is not ours to use. */
    if (t[0] != '/' &&
        (strncasecmp(t, "http://", 7) == 0 || strncasecmp(t, "https://", 8) == 0)) {
        t = strchr(t + 7 + (t[4] == 's'), '/');
        if (!t)
            t = "/";
    }
    if (t[0] != '/' && strcmp(t, "*") != 0) {
        r->path = "";
        *msg = "Invalid request target";
        return 400;
    }
    const char *qm = strchr(t, '?');
    size_t plen = qm ? (size_t)(qm - t) : strlen(t);
    r->query = qm ? qm + 1 : "";
    /* Room for the decoded path and, later, every decoded query argument. */
    size_t need = 2 * (strlen(t) + 2);
    if (need > r->scratch_cap) {
        char *s = realloc(r->scratch, need);
        if (!s) {
            r->path = "";
            *msg = "Out of memory";
            return 503;
        }
        r->scratch = s;
        r->scratch_cap = need;
    }
    r->scratch_used = 0;
    r->path = scratch_take(r, plen + 1);
    if (url_decode(t, plen, 0, r->path, plen + 1) < 0) {
        r->path = "";
        *msg = "Encoded NUL in the request path";
        return 400;
    }
    if (strstr(r->query, "%00")) {
        *msg = "Encoded NUL in the query string";
        return 400;
    }
    return 0;
}

void request_begin_error(struct request *r)
{
    r->start_us = monotonic_us();
    r->method = r->parser.req.method ? r->parser.req.method : "-";
    r->path = "";
    r->close = true;
    const char *t = r->parser.req.target;
    size_t n = t && t[0] == '/' ? strcspn(t, "?") : 0;
    if (n) { /* the dialect of an error follows the path */
        if (n + 1 > r->scratch_cap) {
            free(r->scratch);
            r->scratch = malloc(n + 1);
            r->scratch_cap = r->scratch ? n + 1 : 0;
        }
        if (r->scratch && url_decode(t, n, 0, r->scratch, n + 1) >= 0)
            r->path = r->scratch;
    }
    format_request_id(r->srv->id_prefix, atomic_fetch_add(&r->srv->next_id, 1), r->id);
}

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
const char *request_id(const struct request *r)
{
    return r->id;
}
void request_set_principal(struct request *r, int64_t account_id, const char *token_id)
{
    r->log_account = account_id;
    size_t n = token_id ? strnlen(token_id, sizeof(r->log_token) - 1) : 0;
    memcpy(r->log_token, token_id ? token_id : "", n);
    r->log_token[n] = '\0';
}
const char *request_client_addr(const struct request *r)
{
    return r->client;
}
const char *request_scheme(const struct request *r)
{
    return r->srv->tls ? "https" : "http";
}

const char *request_body(const struct request *r, size_t *len)
{
    *len = r->parser.req.body_len;
    return r->parser.req.body && *len ? r->parser.req.body : "";
}

const char *request_header(const struct request *r, const char *name)
{
    const struct http_request_head *q = &r->parser.req;
    char first = (char)(name[0] | 0x20); /* field names are tokens: ASCII */
    for (unsigned i = 0; i < q->nfields; i++)
        if ((q->fields[i].name[0] | 0x20) == first && strcasecmp(q->fields[i].name, name) == 0)
            return q->fields[i].value;
    return NULL;
}

int request_header_join(const struct request *r, const char *name, char *out, size_t len)
{
    if (len == 0)
        return -ENOSPC;
    const struct http_request_head *q = &r->parser.req;
    size_t used = 0;
    int lines = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < q->nfields; i++) {
        if (strcasecmp(q->fields[i].name, name) != 0)
            continue;
        size_t n = strlen(q->fields[i].value), sep = lines ? 2 : 0;
        if (used + sep + n + 1 > len) {
            out[0] = '\0';
            return -ENOSPC;
        }
        memcpy(out + used, ", ", sep);
        memcpy(out + used + sep, q->fields[i].value, n);
        used += sep + n;
        out[used] = '\0';
        lines++;
    }
    return lines;
}

/* Splits and decodes the query string once, on first use. */
static int parse_query(struct request *r)
{
    if (r->qargs_state)
        return r->qargs_state;
    r->qargs_state = -1;
    unsigned n = 0;
    for (const char *s = r->query; *s; s++)
        n += *s == '&';
    n++;
    struct qarg *a = realloc(r->qargs, n * sizeof(*a));
    if (!a)
        return -1;
    r->qargs = a;
    r->nqargs = 0;
    for (const char *s = r->query; *s;) {
        size_t len = strcspn(s, "&");
        if (len) {
            const char *eq = memchr(s, '=', len);
            size_t klen = eq ? (size_t)(eq - s) : len;
            size_t vlen = eq ? len - klen - 1 : 0;
            char *k = scratch_take(r, klen + 1), *v = scratch_take(r, vlen + 1);
            if (!k || !v || url_decode(s, klen, URL_DECODE_PLUS, k, klen + 1) < 0 ||
                url_decode(eq ? eq + 1 : "", vlen, URL_DECODE_PLUS, v, vlen + 1) < 0)
                return -1;
            /* "?limit" names an argument without a value: absent to
             * request_query, "" to request_query_each. */
            a[r->nqargs++] = (struct qarg){k, eq ? v : NULL};
        }
        s += len;
        if (*s == '&')
            s++;
    }
    r->qargs_state = 1;
    return 1;
}

const char *request_query(const struct request *r, const char *key)
{
    struct request *w = (struct request *)r; /* the cache is not the request's state */
    if (!*r->query || parse_query(w) < 0)
        return NULL;
    for (unsigned i = 0; i < r->nqargs; i++)
        if (strcmp(r->qargs[i].key, key) == 0)
            return r->qargs[i].value; /* NULL for a bare key: the first one counts */
    return NULL;
}

int request_query_each(const struct request *r,
                       int (*fn)(void *ctx, const char *key, const char *value), void *ctx)
{
    struct request *w = (struct request *)r;
    if (!*r->query || parse_query(w) < 0)
        return 0;
    for (unsigned i = 0; i < r->nqargs; i++) {
        int rc = fn(ctx, r->qargs[i].key, r->qargs[i].value ? r->qargs[i].value : "");
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- replies ---------------------------------------------------------- */

static bool reply_begin(struct request *r, int status, const char *content_type)
{
    if (r->replied) { /* a handler bug: keep the first reply */
        log_error("request %s: second reply ignored", r->id);
        return false;
    }
    r->replied = true;
    r->status = status;
    snprintf(r->ctype, sizeof(r->ctype), "%s", content_type ? content_type : "");
    return true;
}

void reply_buffer(struct request *r, int status, const char *content_type, char *body, size_t len)
{
    if (!reply_begin(r, status, content_type)) {
        free(body);
        return;
    }
    r->body = body;
    r->body_len = body ? len : 0;
    r->body_owned = body != NULL;
}

void reply_static(struct request *r, int status, const char *content_type, const char *body,
                  size_t len)
{
    if (!reply_begin(r, status, content_type))
        return;
    r->body = (char *)body;
    r->body_len = len;
    r->body_owned = false;
}

void reply_json_text(struct request *r, int status, const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy) {
        reply_static(r, 500, "application/json", "{\"detail\":\"out of memory\"}", 26);
        return;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    reply_buffer(r, status, "application/json", copy, len);
}

void reply_json(struct request *r, int status, cJSON *body)
{
    if (!body || status == 204) {
        cJSON_Delete(body);
        reply_buffer(r, status, NULL, NULL, 0);
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
    if (!reply_begin(r, status, content_type)) {
        close(fd);
        return;
    }
    r->file_fd = fd;
    r->file_off = offset;
    r->file_len = len;
}

void reply_header(struct request *r, const char *name, const char *value)
{
    /* A header must stay one line: CR or LF would let a value that came
     * from a request forge headers of its own. */
    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n")) {
        log_error("request %s: header %.64s dropped (line break)", r->id, name);
        return;
    }
    size_t nl = strlen(name), vl = strlen(value);
    if (outbuf_reserve(&r->hdrs, nl + vl + 4) < 0)
        return; /* dropped: a reply without it is still a reply */
    char *w = r->hdrs.p + r->hdrs.len;
    memcpy(w, name, nl);
    memcpy(w + nl, ": ", 2);
    memcpy(w + nl + 2, value, vl);
    memcpy(w + nl + 2 + vl, "\r\n", 2);
    r->hdrs.len += nl + vl + 4;
}

void reply_header_lines(struct request *r, const char *lines, size_t len)
{
    assert(len >= 2 && memcmp(lines + len - 2, "\r\n", 2) == 0);
    (void)outbuf_add(&r->hdrs, lines, len); /* dropped when out of memory, as above */
}

/* ---- the response bytes ----------------------------------------------- */

static const char *reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

/* The Date header, formatted once a second per thread. */
static const char *date_header(void)
{
    static __thread time_t cached;
    static __thread char line[48];
    time_t now = time(NULL);
    if (now != cached) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(line, sizeof(line), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        cached = now;
    }
    return line;
}

static char *put(char *w, const char *s, size_t n)
{
    if (n) /* s may be NULL then (no extra headers) */
        memcpy(w, s, n);
    return w + n;
}

static char *put_u64(char *w, uint64_t v)
{
    char d[24];
    int n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *w++ = d[--n];
    return w;
}

int request_finish(struct request *r, struct outbuf *out)
{
    struct server *srv = r->srv;
    if (!r->replied)
        srv->reply_error(r, 500, "Internal server error", "internal_error");
    if (srv->on_reply)
        srv->on_reply(r, r->status);
    int status = r->status;
    bool file = r->file_fd >= 0;
    uint64_t clen = file ? r->file_len : r->body_len;
    bool no_body = r->head_only || status == 204 || status == 304 || status < 200;
    size_t ctl = strlen(r->ctype), idl = strlen(r->id);
    size_t need = 64 + 48 + (ctl + 16) + 40 + (idl + 16) + r->hdrs.len + 24 +
                  (no_body || file ? 0 : r->body_len);
    if (outbuf_reserve(out, need) < 0)
        return -ENOMEM;
    char *w = out->p + out->len;
    w = put(w, "HTTP/1.1 ", 9);
    w = put_u64(w, (uint64_t)status);
    *w++ = ' ';
    const char *why = reason(status);
    w = put(w, why, strlen(why));
    w = put(w, "\r\n", 2);
    const char *date = date_header();
    w = put(w, date, strlen(date));
    if (ctl) {
        w = put(w, "Content-Type: ", 14);
        w = put(w, r->ctype, ctl);
        w = put(w, "\r\n", 2);
    }
    if (status != 204 && status >= 200) {
        w = put(w, "Content-Length: ", 16);
        w = put_u64(w, clen);
        w = put(w, "\r\n", 2);
    }
    w = put(w, "X-Request-Id: ", 14);
    w = put(w, r->id, idl);
    w = put(w, "\r\n", 2);
    w = put(w, r->hdrs.p, r->hdrs.len);
    if (r->close)
        w = put(w, "Connection: close\r\n", 19);
    w = put(w, "\r\n", 2);
    if (!no_body && !file)
        w = put(w, r->body, r->body_len);
    out->len = (size_t)(w - out->p);
    if (no_body && file) {
        close(r->file_fd);
        r->file_fd = -1;
    }

    int64_t us = monotonic_us() - r->start_us;
    struct access_entry e = {.request_id = r->id,
                             .client = r->client,
                             .method = r->method,
                             .path = r->path,
                             .route = r->route ? r->route->pattern : "-",
                             .status = status,
                             .duration_us = us,
                             .bytes = no_body ? 0 : clen,
                             .account_id = r->log_account,
                             .token_id = r->log_token};
    log_access_entry(&e);
    metrics_observe(r->route ? r->route->metrics : srv->unmatched, status, us);
    return 0;
}
