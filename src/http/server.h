/* The HTTP/1.1 server (our own epoll loops, one per HTTP thread, on a strict
 * parser; see http/internal.h) and its router.
 *
 * A handler gets a struct request and must produce exactly one reply with one
 * of the reply_* functions. Handlers run on an HTTP thread, unless their route
 * is registered with ROUTE_OFFLOAD: then the handler runs on the worker pool
 * (for Argon2id or storage writes) while the connection waits, and the loop
 * sends the reply when the job hands the request back. Every request/reply
 * function may be called only by the thread currently running the handler. */
#ifndef TESSERA_SERVER_H
#define TESSERA_SERVER_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct app;
struct request;
struct server;

typedef void (*route_handler)(struct request *req);

enum route_flags {
    ROUTE_OFFLOAD = 1, /* run on the worker pool */
    /* With ROUTE_OFFLOAD: the handler is CPU-heavy (Argon2id) and runs under
     * workpool_idle_begin, so a sign-in storm cannot slow token checks. */
    ROUTE_IDLE_CPU = 2,
};

/* Patterns are literal segments plus "{}" (exactly one non-empty segment)
 * and a final "{*}" (one or more segments, joined with '/'). A trailing slash
 * on the request path is ignored. HEAD requests are routed as GET. */
int server_route(struct server *srv, const char *method, const char *pattern, route_handler handler,
                 unsigned flags);

/* The error replies the HTTP layer itself must give (404, 405, 413, 500,
 * 503 when the worker pool is full) are written by the API, in the dialect
 * of the path: the layer below never knows the handlers. */
typedef void (*server_error_fn)(struct request *r, int status, const char *message,
                                const char *code);

/* Called once per request, after its reply is chosen (by a handler or by
 * this layer: 404, 405, 413, 500, 503) and before it is sent, on the thread
 * that sends it: may add headers with reply_header (e.g. CORS on every reply
 * of some paths, errors included). One hook; register before server_start. */
typedef void (*server_reply_hook)(struct request *r, int status);
void server_on_reply(struct server *srv, server_reply_hook hook);
/* OPTIONS on a path that routes serve with other methods (a CORS preflight)
 * goes to fn before it would get 405: fn replies and returns true, or
 * returns false (without replying) to leave it to the 405. Other paths keep
 * their 404. One; register before server_start. */
typedef bool (*server_options_fn)(struct request *r);
void server_on_options(struct server *srv, server_options_fn fn);

/* The server, with no routes yet: the caller registers them (server_route)
 * before server_start. */
struct server *server_create(struct app *app, server_error_fn reply_error);
/* Binds and starts serving; returns 0 or -errno. */
int server_start(struct server *srv);
/* The port actually bound (useful with port 0). */
int server_port(const struct server *srv);
/* Stops accepting new connections; idle ones close, the others after their
 * current reply. */
void server_quiesce(struct server *srv);
/* Rereads tls_cert and tls_key (on SIGHUP): new connections use them,
 * open ones keep theirs. On failure the old ones stay. 0 or -errno. */
int server_reload_tls(struct server *srv);
/* Lets replies in flight go out (a few seconds at most), closes every
 * connection and joins the HTTP threads. Call after the worker pool is
 * drained, so no handler is still running. */
void server_stop(struct server *srv);
void server_destroy(struct server *srv);

struct app *request_app(const struct request *r);
/* The port this node is bound to (the one chosen, with port 0). */
int request_server_port(const struct request *r);
const char *request_method(const struct request *r);
/* URL-decoded path without the query string. */
const char *request_path(const struct request *r);
/* i-th "{}"/"{*}" capture, or NULL. */
const char *request_param(const struct request *r, unsigned i);
/* URL-decoded query argument, or NULL when absent. */
const char *request_query(const struct request *r, const char *key);
/* Calls fn for every query argument in order; stops when fn returns non-zero. */
int request_query_each(const struct request *r,
                       int (*fn)(void *ctx, const char *key, const char *value), void *ctx);
/* Header value (case-insensitive name), or NULL. With several field lines
 * of that name, the first. */
const char *request_header(const struct request *r, const char *name);
/* Every field line of a header (case-insensitive name), in the order
 * received, joined with ", " into out: for list-valued headers such as
 * Forwarded, whose lines a proxy may append separately (RFC 9110 §5.3).
 * Returns the number of lines (0: absent, out = ""), or -ENOSPC when they do
 * not fit (out = ""). */
int request_header_join(const struct request *r, const char *name, char *out, size_t len);
/* Request body (not NUL-terminated in general; always followed by a NUL). */
const char *request_body(const struct request *r, size_t *len);
const char *request_id(const struct request *r);
/* Who the request acts as, for the access log only: an account id (0 =
 * none) and the public id of the token used (NULL = none; never a secret). */
void request_set_principal(struct request *r, int64_t account_id, const char *token_id);
const char *request_client_addr(const struct request *r);
/* "http" or "https" and the Host header, for building absolute links. */
const char *request_scheme(const struct request *r);

/* Replies. Each takes ownership of what it is given. */
void reply_json(struct request *r, int status, cJSON *body); /* body NULL → empty body */
/* A JSON text the caller already wrote (copied; the caller keeps text). */
void reply_json_text(struct request *r, int status, const char *text, size_t len);
void reply_buffer(struct request *r, int status, const char *content_type, char *body,
                  size_t len); /* body is malloc'd */
void reply_static(struct request *r, int status, const char *content_type, const char *body,
                  size_t len); /* body outlives the server (string literal) */
void reply_file(struct request *r, int status, int fd, uint64_t offset, uint64_t len,
                const char *content_type);
/* Adds a response header; may be called before or after reply_*. Copies. */
void reply_header(struct request *r, const char *name, const char *value);
/* Appends whole header lines ("Name: value\r\n" each) as they are: only for
 * text fixed when compiling (a string literal), which cannot carry a
 * client's bytes; everything else goes through reply_header's checks. */
void reply_header_lines(struct request *r, const char *lines, size_t len);

#endif
