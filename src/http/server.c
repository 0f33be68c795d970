/* The HTTP server: binds the listening socket (failing loudly when the
 * address is taken), starts one event loop per HTTP thread (loop.c), routes
 * each parsed request and runs its handler inline or on the worker pool,
 * and keeps the TLS context that SIGHUP can reload. server_create, _route,
 * _start, _quiesce, _stop and _destroy are for the main thread. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app.h"
#include "auth/crypto.h"
#include "http/internal.h"
#include "http/metrics.h"
#include "http/workpool.h"
#include "util/log.h"

/* ---- dispatch ----------------------------------------------------------- */

static void offloaded_job(void *arg)
{
    struct request *r = arg;
    bool idle = r->route->flags & ROUTE_IDLE_CPU;
    if (idle)
        workpool_idle_begin();
    r->route->handler(r);
    if (idle)
        workpool_idle_end();
    loop_complete(r);
}

bool server_dispatch(struct request *r)
{
    struct server *srv = r->srv;
    bool path_known;
    r->route = router_find(srv, r, &path_known);
    /* RFC 6750 §2: one way to send a token per request. Refused here, for
     * every route at once, rather than by each credential reader. */
    if (request_header(r, "Authorization") && request_query(r, "access_token")) {
        reply_header(r, "WWW-Authenticate", "Bearer realm=\"tessera\", error=\"invalid_request\"");
        srv->reply_error(r, 400,
                         "Send the token either in the Authorization header or as access_token, "
                         "not both",
                         "invalid_request");
        return true;
    }
    if (!r->route) {
        if (path_known && srv->on_options && strcmp(r->method, "OPTIONS") == 0 &&
            srv->on_options(r))
            return true;
        if (path_known) {
            reply_header(r, "Allow", "see /api/v1/openapi.json");
            srv->reply_error(r, 405, "Method Not Allowed", "method_not_allowed");
        } else {
            srv->reply_error(r, 404, "Not Found", "not_found");
        }
        return true;
    }
    if (!(r->route->flags & ROUTE_OFFLOAD)) {
        r->route->handler(r);
        return true;
    }
    if (workpool_submit(srv->app->workers, offloaded_job, r) < 0) {
        reply_header(r, "Retry-After", "1");
        srv->reply_error(r, 503, "Server busy, retry shortly", "server_busy");
        return true;
    }
    return false;
}

void server_on_reply(struct server *srv, server_reply_hook hook)
{
    srv->on_reply = hook;
}

void server_on_options(struct server *srv, server_options_fn fn)
{
    srv->on_options = fn;
}

/* ---- TLS ---------------------------------------------------------------- */

static void log_tls_error(const char *what)
{
    char buf[256];
    unsigned long e = ERR_get_error();
    ERR_error_string_n(e, buf, sizeof(buf));
    log_error("%s: %s", what, e ? buf : "unknown error");
    ERR_clear_error();
}

static SSL_CTX *tls_ctx_load(const char *cert, const char *key)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        log_tls_error("cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Partial writes and a moving buffer suit a non-blocking loop; idle
     * connections give their TLS buffers back. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        log_tls_error("cannot load the TLS certificate");
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        log_tls_error("cannot load the TLS key");
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        log_tls_error("the TLS key does not match the certificate");
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

SSL_CTX *server_tls_ctx(struct server *srv)
{
    pthread_mutex_lock(&srv->tls_lock);
    SSL_CTX *ctx = srv->tls_ctx;
    if (ctx)
        SSL_CTX_up_ref(ctx);
    pthread_mutex_unlock(&srv->tls_lock);
    return ctx;
}

int server_reload_tls(struct server *srv)
{
    if (!srv->tls)
        return 0;
    const struct config *cfg = &srv->app->cfg;
    SSL_CTX *ctx = tls_ctx_load(cfg->tls_cert, cfg->tls_key);
    if (!ctx) {
        log_error("TLS reload failed; keeping the previous certificate");
        return -EINVAL;
    }
    pthread_mutex_lock(&srv->tls_lock);
    SSL_CTX *old = srv->tls_ctx;
    srv->tls_ctx = ctx;
    pthread_mutex_unlock(&srv->tls_lock);
    SSL_CTX_free(old); /* connections that use it hold their own reference */
    log_info("TLS certificate reloaded from %s", cfg->tls_cert);
    return 0;
}

/* ---- lifecycle ---------------------------------------------------------- */

struct server *server_create(struct app *app, server_error_fn reply_error)
{
    struct server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return NULL;
    srv->app = app;
    srv->listen_fd = -1;
    uint8_t rnd[4];
    crypto_random(rnd, sizeof(rnd));
    crypto_hex(rnd, sizeof(rnd), srv->id_prefix);
    srv->unmatched = metrics_route("ANY", "(unmatched)");
    srv->reply_error = reply_error;
    pthread_mutex_init(&srv->tls_lock, NULL);
    const struct config *cfg = &app->cfg;
    srv->limits = (struct http_limits){
        .max_head = cfg->max_header_bytes ? cfg->max_header_bytes : 16384,
        .max_headers = cfg->max_headers ? cfg->max_headers : 100,
        .max_body = cfg->max_body,
    };
    return srv;
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
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
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

/* SO_REUSEADDR only (TIME_WAIT leftovers of a previous run), never
 * SO_REUSEPORT: a second server on a busy port must fail, not share it. */
static int open_listener(struct server *srv)
{
    const struct config *cfg = &srv->app->cfg;
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (resolve_listen(cfg, &ss, &sslen) < 0)
        return -EINVAL;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sslen) < 0 || listen(fd, SOMAXCONN) < 0) {
        int e = errno;
        log_error("cannot listen on %s:%d: %s%s", cfg->listen_host, cfg->listen_port, strerror(e),
                  e == EADDRINUSE ? " (another server is using this address)" : "");
        close(fd);
        return -e;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    getsockname(fd, (struct sockaddr *)&bound, &blen);
    int port = bound.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                                           : ntohs(((struct sockaddr_in *)&bound)->sin_port);
    atomic_store(&srv->port, port);
    srv->listen_fd = fd;
    return 0;
}

/* Every connection is a descriptor: take the hard limit, as nginx's
 * worker_rlimit_nofile would, so max_connections can be reached. */
static void raise_fd_limit(unsigned want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max &&
        rl.rlim_cur < (rlim_t)want + 256) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int server_start(struct server *srv)
{
    const struct config *cfg = &srv->app->cfg;
    srv->tls = cfg->tls_cert[0] && cfg->tls_key[0];
    if (srv->tls && !(srv->tls_ctx = tls_ctx_load(cfg->tls_cert, cfg->tls_key))) {
        log_error("cannot read TLS certificate %s or key %s", cfg->tls_cert, cfg->tls_key);
        return -EINVAL;
    }
    srv->per_addr = addrcap_create(cfg->max_connections_per_addr);
    if (!srv->per_addr)
        return -ENOMEM;
    raise_fd_limit(cfg->max_connections);
    int rc = open_listener(srv);
    if (rc < 0)
        return rc;
    unsigned n = cfg->threads ? cfg->threads : 1;
    srv->loops = calloc(n, sizeof(*srv->loops));
    if (!srv->loops)
        return -ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        srv->loops[i] = loop_create(srv, i);
        if (!srv->loops[i] || (rc = loop_start(srv->loops[i])) < 0) {
            log_error("cannot start HTTP thread %u", i);
            return rc < 0 ? rc : -ENOMEM;
        }
        srv->nloops++;
    }
    if (cfg->port_file[0])
        write_port_file(cfg->port_file, srv->port);
    log_info("listening on %s://%s:%d (%u threads, %u workers)", srv->tls ? "https" : "http",
             cfg->listen_host, srv->port, n, cfg->workers);
    return 0;
}

int server_port(const struct server *srv)
{
    return srv->port;
}

void server_quiesce(struct server *srv)
{
    if (atomic_exchange(&srv->quiescing, true))
        return;
    for (unsigned i = 0; i < srv->nloops; i++)
        loop_kick(srv->loops[i]);
    /* The loops stop watching the socket; shutting it down makes the
     * kernel refuse new connections now instead of queueing them. */
    if (srv->listen_fd >= 0)
        shutdown(srv->listen_fd, SHUT_RDWR);
}

void server_stop(struct server *srv)
{
    atomic_store(&srv->quiescing, true);
    for (unsigned i = 0; i < srv->nloops; i++)
        loop_destroy(srv->loops[i]);
    srv->nloops = 0;
    free(srv->loops);
    srv->loops = NULL;
    if (srv->listen_fd >= 0) { /* closed only once no loop can hold it */
        close(srv->listen_fd);
        srv->listen_fd = -1;
    }
}

void server_destroy(struct server *srv)
{
    if (!srv)
        return;
    server_stop(srv);
    router_free(srv);
    addrcap_destroy(srv->per_addr);
    SSL_CTX_free(srv->tls_ctx);
    pthread_mutex_destroy(&srv->tls_lock);
    free(srv);
}
