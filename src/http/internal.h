/* What the HTTP layer's modules share and nothing else sees: the server,
 * the per-connection request, the router and the event loops.
 *
 *   server.c   lifecycle, dispatch (inline or worker pool), TLS contexts
 *   loop.c     one epoll loop per HTTP thread: accept, read, write, timers,
 *              worker-pool completions
 *   request.c  request accessors, reply_* and the response bytes
 *   router.c   route patterns and matching
 *   addrcap.c  connections per client address
 *
 * A struct request belongs to one connection and is reused for each of its
 * requests. While a handler runs on the worker pool the loop does not touch
 * it; the job then hands it back through the loop's completion queue, which
 * finds the connection again by (fd, generation). */
#ifndef TESSERA_HTTP_INTERNAL_H
#define TESSERA_HTTP_INTERNAL_H

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "http/parser.h"
#include "http/server.h"

#define MAX_SEGMENTS 32
#define MAX_PARAMS 8

/* ---- router.c ---- */
enum seg_kind { SEG_LITERAL, SEG_PARAM /* {} */, SEG_TAIL /* {*} */ };

struct route {
    char method[8];
    char *pattern;
    char *segs[MAX_SEGMENTS];
    enum seg_kind kinds[MAX_SEGMENTS];
    size_t nsegs;
    bool has_tail;
    uint32_t first_hash; /* of segs[0] when it is literal: most routes fail on it */
    route_handler handler;
    unsigned flags;
    struct route_metrics *metrics;
};

/* Finds the route for r's method and path, filling r's parameters;
 * *path_known when another method's route matches the path (405). */
const struct route *router_find(struct server *srv, struct request *r, bool *path_known);
void router_free(struct server *srv);

/* ---- server.c ---- */
struct loop;
struct addrcap;

/* Routes by a hash of their literal first path segment, each bucket in
 * registration order (the first match wins); a route whose first segment
 * is not literal is in every bucket. */
#define ROUTE_BUCKETS 32
struct route_bucket {
    size_t *idx;
    size_t n, cap;
};

struct server {
    struct app *app;
    struct route *routes;
    size_t nroutes, cap;
    struct route_bucket buckets[ROUTE_BUCKETS];
    struct route_metrics *unmatched;
    server_error_fn reply_error;
    server_reply_hook on_reply;
    server_options_fn on_options;
    char id_prefix[9];
    atomic_uint_fast64_t next_id;
    atomic_int port;
    int listen_fd;
    struct http_limits limits;
    /* TLS: the current context; a reload swaps it under tls_lock, and
     * connections keep a reference to the one they started with. */
    bool tls;
    pthread_mutex_t tls_lock;
    SSL_CTX *tls_ctx;
    struct loop **loops;
    unsigned nloops;
    atomic_uint connections;  /* open, all loops: the global cap */
    atomic_bool quiescing;    /* no new connections; finish the current ones */
    struct addrcap *per_addr; /* connections per client address */
};

/* Routes r (already parsed) and runs its handler inline or on the worker
 * pool. Returns true when the reply is ready now, false when a worker will
 * hand the request back through loop_complete. */
bool server_dispatch(struct request *r);
/* A reference to the current TLS context, for a new connection. */
SSL_CTX *server_tls_ctx(struct server *srv);

/* ---- request.c ---- */
/* Bytes to send: p[off, len) are still to go; grows by doubling. */
struct outbuf {
    char *p;
    size_t len, off, cap;
};
/* Room for more bytes after len. 0 or -ENOMEM. */
int outbuf_reserve(struct outbuf *o, size_t more);
int outbuf_add(struct outbuf *o, const char *s, size_t n);

struct request {
    struct server *srv;
    struct loop *loop;
    int fd;       /* the connection, for the completion queue */
    uint32_t gen; /* ... and its generation: fds are reused */
    struct http_parser parser;
    char *buf; /* the connection's unconsumed bytes: head + pipelined */
    size_t len, cap;
    char client[INET6_ADDRSTRLEN];
    /* the current request */
    const char *method;
    char *path;        /* decoded, in scratch */
    const char *query; /* raw query string (after '?'), or "" */
    char *scratch;     /* decoded path, then decoded query arguments */
    size_t scratch_cap, scratch_used;
    struct qarg {
        const char *key, *value;
    } * qargs;
    unsigned nqargs;
    int qargs_state; /* 0 not parsed, 1 parsed, -1 failed */
    char *params[MAX_PARAMS];
    unsigned nparams;
    const struct route *route;
    char id[65];
    int64_t start_us;
    int64_t log_account; /* request_set_principal, for the access log */
    char log_token[32];
    bool head_only; /* HEAD: headers as for GET, no body */
    bool close;     /* answer with Connection: close */
    /* the reply */
    bool replied;
    int status;
    char ctype[128];
    char *body;
    size_t body_len;
    bool body_owned;
    int file_fd;
    uint64_t file_off, file_len;
    struct outbuf hdrs; /* extra header lines, "Name: value\r\n" each (off unused) */
    struct request *next_done; /* completion queue link */
};

struct request *request_alloc(struct server *srv, struct loop *loop);
void request_free(struct request *r);
/* Sets up r for the head the parser just completed: request id, decoded
 * path and query. Returns 0, or an HTTP status (400) with *msg. */
int request_begin(struct request *r, const char **msg);
/* Sets up r for a layer error before or without a parsed head (path "" or
 * the target when the parser saw one). */
void request_begin_error(struct request *r);
/* Appends the response (status line, headers, body) to out; the file part,
 * if any, is left in r for the caller. Runs the reply hook, logs the access
 * line and counts the metrics. Returns 0 or -ENOMEM. */
int request_finish(struct request *r, struct outbuf *out);
/* Forgets the request's reply and strings, keeps the buffer and pipelined
 * bytes for the next one. */
void request_reset(struct request *r);
int64_t monotonic_us(void);

/* ---- loop.c ---- */
struct loop *loop_create(struct server *srv, unsigned index);
int loop_start(struct loop *l);
/* From a worker: the handler of r is done; the loop sends its reply. */
void loop_complete(struct request *r);
/* Wakes the loop to notice quiescing or stopping. Any thread. */
void loop_kick(struct loop *l);
/* Stops the loop (after a short drain) and joins its thread. */
void loop_stop(struct loop *l);
void loop_destroy(struct loop *l);

/* ---- addrcap.c ---- */
struct addrcap *addrcap_create(unsigned max_per_addr);
/* Takes a slot for addr (16 bytes, IPv4 mapped); false when it has its cap. */
bool addrcap_take(struct addrcap *c, const uint8_t addr[16]);
void addrcap_release(struct addrcap *c, const uint8_t addr[16]);
void addrcap_destroy(struct addrcap *c);

#endif
