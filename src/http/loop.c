/* One epoll loop per HTTP thread. All loops share the one listening socket
 * (EPOLLEXCLUSIVE: one loop wakes per connection); a connection then lives
 * on the loop that accepted it. Edge-triggered: a socket is read until it
 * would block, requests are parsed and answered in order (pipelining), the
 * replies are written at once and the rest on EPOLLOUT. Offloaded handlers
 * come back through the completion queue (a list and an eventfd), looked up
 * by (fd, generation). Deadlines are checked by a sweep twice a second:
 * the whole head within header_timeout of its first byte, a body at
 * body_min_rate, idle keep-alive and stalled writes within
 * connection_timeout. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "http/internal.h"
#include "util/log.h"

#define READ_CHUNK 4096
#define OUT_HIGH_WATER (256 * 1024) /* stop answering pipelined requests above */
#define LINGER_MS 2000              /* reading what a client still sends before close */
#define DRAIN_MS 3000               /* server_stop: time for replies in flight */
#define SWEEP_MS 250

enum conn_state { C_READING, C_BUSY, C_LINGER };

struct conn {
    int fd;
    uint32_t gen;
    enum conn_state state;
    struct loop *loop;
    struct request *req;
    struct outbuf out;
    int file_fd;
    uint64_t file_off, file_left;
    SSL *ssl;
    bool handshaken;
    bool close_after;    /* close once the output is written */
    bool peer_closed;    /* read side at EOF (half-close): reply, then close */
    bool rdhup;          /* epoll saw the FIN: read on to EOF, not one short read */
    bool maybe_readable; /* stopped reading for a reason other than EAGAIN */
    bool continue_sent;
    int64_t deadline; /* ms, 0 = none */
    int64_t head_start, body_start;
    uint8_t addr[16];
    bool capped; /* holds a per-address slot */
    struct conn *prev, *next;
};

struct loop {
    struct server *srv;
    unsigned index;
    int epfd, evfd;
    pthread_t thread;
    bool started;
    struct conn **byfd;
    size_t nbyfd;
    struct conn *conns;
    unsigned nconns;
    uint32_t next_gen;
    bool listening;
    pthread_mutex_t done_lock;
    struct request *done_head, *done_tail;
    atomic_bool stop;
    bool draining;
    int64_t now, next_sweep, stop_deadline;
    /* settings in ms */
    int64_t header_ms, idle_ms;
    unsigned body_rate;
    /* Buffers an idle connection gave back (see lend_buffers). */
    char *spare_in;
    size_t spare_in_cap;
    struct outbuf spare_out;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An idle keep-alive connection holds no buffers: it borrows the loop's
 * spare input and output buffers while it has bytes in them and gives them
 * back when they are empty, so that many connections answered in turn keep
 * touching the same few warm buffers, as nginx's per-request pools do,
 * rather than one cold set each (that cost Tessera ~8 % more CPU a request
 * at 256 connections than at 64). Ownership moves; nothing is copied. */
static void borrow_in(struct conn *c)
{
    struct loop *l = c->loop;
    struct request *r = c->req;
    if (!r->buf && l->spare_in) {
        r->buf = l->spare_in;
        r->cap = l->spare_in_cap;
        l->spare_in = NULL;
    }
}

static void give_back(struct conn *c)
{
    struct loop *l = c->loop;
    struct request *r = c->req;
    /* A request at a worker, or any byte of one, still points into buf. */
    if (c->state == C_READING && r->len == 0 && r->parser.phase == HP_HEAD && r->buf &&
        !l->spare_in) {
        l->spare_in = r->buf;
        l->spare_in_cap = r->cap;
        r->buf = NULL;
        r->cap = 0;
    }
    if (c->out.p && c->out.len == 0 && !l->spare_out.p) {
        l->spare_out = c->out;
        c->out = (struct outbuf){0};
    }
}

static void borrow_out(struct conn *c)
{
    struct loop *l = c->loop;
    if (!c->out.p && l->spare_out.p) {
        c->out = l->spare_out;
        l->spare_out = (struct outbuf){0};
    }
}

static void watch_listen(struct loop *l, bool on)
{
    if (l->listening == on)
        return;
    if (on) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = l->srv->listen_fd};
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->srv->listen_fd, &ev) == 0)
            l->listening = true;
    } else {
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->srv->listen_fd, NULL);
        l->listening = false;
    }
}

/* ---- connection I/O (plain or TLS) ------------------------------------- */

/* >0 bytes, 0 at EOF, -EAGAIN, or another -errno. */
static ssize_t conn_recv(struct conn *c, char *buf, size_t len)
{
    if (!c->ssl) {
        ssize_t n = recv(c->fd, buf, len, 0);
        if (n >= 0)
            return n;
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -errno;
    }
    ERR_clear_error();
    int n = SSL_read(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    if (n > 0)
        return n;
    switch (SSL_get_error(c->ssl, n)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return -EAGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        return errno ? -errno : 0;
    default:
        return -EPROTO;
    }
}

static ssize_t conn_send(struct conn *c, const char *buf, size_t len)
{
    if (!c->ssl) {
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0)
            return n;
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -errno;
    }
    ERR_clear_error();
    int n = SSL_write(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    if (n > 0)
        return n;
    int e = SSL_get_error(c->ssl, n);
    return e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? -EAGAIN : -EPIPE;
}

/* ---- connection lifecycle ---------------------------------------------- */

static void conn_free(struct conn *c)
{
    struct loop *l = c->loop;
    struct server *srv = l->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if ((size_t)c->fd < l->nbyfd)
        l->byfd[c->fd] = NULL;
    l->nconns--;
    if (c->ssl)
        SSL_free(c->ssl);
    close(c->fd);
    if (c->capped)
        addrcap_release(srv->per_addr, c->addr);
    atomic_fetch_sub(&srv->connections, 1);
    /* An offloaded request is the worker's now: its completion finds no
     * connection under (fd, generation) and frees it. */
    if (c->state != C_BUSY)
        request_free(c->req);
    if (c->file_fd >= 0)
        close(c->file_fd);
    free(c->out.p);
    free(c);
    if (!l->listening && !atomic_load(&srv->quiescing) &&
        atomic_load(&srv->connections) < srv->app->cfg.max_connections)
        watch_listen(l, true); /* back-pressure released */
}

/* Stops writing and reads what the client still sends until it closes (or
 * LINGER_MS), so that closing with unread bytes does not reset the
 * connection before the client has read the reply. 0 while c lingers, -1
 * when c is gone (the client had closed already). */
static int conn_linger(struct conn *c)
{
    if (c->peer_closed) {
        conn_free(c);
        return -1;
    }
    if (c->ssl && c->handshaken)
        SSL_shutdown(c->ssl);
    shutdown(c->fd, SHUT_WR);
    c->state = C_LINGER;
    c->deadline = c->loop->now + LINGER_MS;
    return 0;
}

static int conn_process(struct conn *c);

/* Writes the output buffer, then the file part. 0 when everything is out
 * or the socket is full (EPOLLOUT resumes), -1 when c is gone. */
static int conn_flush_out(struct conn *c)
{
    struct loop *l = c->loop;
    for (;;) {
        while (c->out.off < c->out.len) {
            ssize_t n = conn_send(c, c->out.p + c->out.off, c->out.len - c->out.off);
            if (n == -EAGAIN) {
                c->deadline = l->now + l->idle_ms;
                return 0;
            }
            if (n < 0) {
                conn_free(c);
                return -1;
            }
            c->out.off += (size_t)n;
        }
        c->out.off = c->out.len = 0;
        if (c->out.cap > 64 * 1024) { /* keep idle connections small */
            free(c->out.p);
            c->out.p = NULL;
            c->out.cap = 0;
        }
        while (c->file_left) {
            ssize_t n;
            if (!c->ssl) {
                off_t off = (off_t)c->file_off;
                size_t chunk = c->file_left > (1u << 20) ? (1u << 20) : (size_t)c->file_left;
                n = sendfile(c->fd, c->file_fd, &off, chunk);
                if (n < 0)
                    n = errno == EAGAIN ? -EAGAIN : -errno;
            } else {
                char chunk[16384];
                size_t want = c->file_left > sizeof(chunk) ? sizeof(chunk) : (size_t)c->file_left;
                ssize_t got = pread(c->file_fd, chunk, want, (off_t)c->file_off);
                n = got <= 0 ? -EIO : conn_send(c, chunk, (size_t)got);
            }
            if (n == -EAGAIN) {
                c->deadline = l->now + l->idle_ms;
                return 0;
            }
            if (n <= 0) { /* the file shrank, or the client left */
                conn_free(c);
                return -1;
            }
            c->file_off += (uint64_t)n;
            c->file_left -= (uint64_t)n;
        }
        if (c->file_fd >= 0) {
            close(c->file_fd);
            c->file_fd = -1;
        }
        if (c->state != C_READING)
            return 0;
        bool idle = !http_parser_started(&c->req->parser, c->req->len);
        if (c->close_after || ((c->peer_closed || l->draining) && idle)) {
            return conn_linger(c);
        }
        /* Output drained: answer what was held back by OUT_HIGH_WATER. */
        if (c->req->len == 0)
            return 0;
        if (conn_process(c) < 0)
            return -1;
        if (c->out.len == 0)
            return 0;
    }
}

/* conn_flush_out, then the buffers c no longer needs go back to the loop. */
static int conn_flush(struct conn *c)
{
    if (conn_flush_out(c) < 0)
        return -1;
    give_back(c);
    return 0;
}

/* The request in c->req has its reply: queue the bytes, get ready for the
 * next request. */
static int conn_finish_request(struct conn *c)
{
    struct loop *l = c->loop;
    struct request *r = c->req;
    if (l->draining)
        r->close = true;
    borrow_out(c);
    if (request_finish(r, &c->out) < 0) {
        conn_free(c);
        return -1;
    }
    if (r->file_fd >= 0) {
        c->file_fd = r->file_fd;
        c->file_off = r->file_off;
        c->file_left = r->file_len;
        r->file_fd = -1;
    }
    if (r->close)
        c->close_after = true;
    bool failed = r->parser.phase == HP_FAILED;
    request_reset(r);
    http_parser_next(&r->parser, r->buf, &r->len);
    if (failed)
        r->len = 0; /* what follows a malformed request cannot be framed */
    c->head_start = c->body_start = 0;
    c->continue_sent = false;
    c->deadline = l->now + l->idle_ms;
    return 0;
}

static const char *error_code(int status)
{
    switch (status) {
    case 408:
        return "request_timeout";
    case 413:
        return "payload_too_large";
    case 414:
        return "uri_too_long";
    case 417:
        return "expectation_failed";
    case 431:
        return "request_header_fields_too_large";
    case 501:
        return "not_implemented";
    case 503:
        return "server_busy";
    case 505:
        return "http_version_not_supported";
    default:
        return "bad_request";
    }
}

/* A reply of the layer itself (malformed request, limits, timeouts): JSON
 * in the path's dialect through the API's error hook, then close. */
static int conn_layer_error(struct conn *c, int status, const char *msg)
{
    struct request *r = c->req;
    request_begin_error(r);
    if (r->path[0]) { /* counted under the route it was meant for */
        bool known;
        r->route = router_find(c->loop->srv, r, &known);
    }
    c->loop->srv->reply_error(r, status, msg, error_code(status));
    r->close = true;
    if (conn_finish_request(c) < 0)
        return -1;
    r->len = 0; /* what follows cannot be framed */
    return 0;
}

/* Parses and answers the buffered requests in order, until one goes to
 * the worker pool, more bytes are needed, or the output is too large.
 * Returns -1 when c is gone. */
static int conn_process(struct conn *c)
{
    struct loop *l = c->loop;
    struct request *r = c->req;
    while (c->state == C_READING && !c->close_after) {
        if (c->out.len - c->out.off > OUT_HIGH_WATER || c->file_left)
            return 0; /* conn_flush comes back here */
        enum http_result res = http_parse(&r->parser, r->buf, &r->len);
        if (res == HTTP_MORE) {
            /* Two clocks: silence (connection_timeout since the last
             * bytes) and the whole head (header_timeout from its first
             * byte), which trickling cannot extend. */
            int64_t quiet = l->now + l->idle_ms;
            if (!c->head_start && http_parser_started(&r->parser, r->len))
                c->head_start = l->now;
            if (c->head_start)
                c->deadline =
                    c->head_start + l->header_ms < quiet ? c->head_start + l->header_ms : quiet;
            if (r->parser.phase == HP_BODY) {
                if (!c->body_start)
                    c->body_start = l->now;
                /* The body-rate floor: a grace of header_timeout, then at
                 * least body_rate bytes per second on average. */
                int64_t floor = c->body_start + l->header_ms +
                                (int64_t)(r->parser.req.body_len * 1000 / l->body_rate);
                c->deadline = floor < quiet ? floor : quiet;
                if (r->parser.req.expect_continue && !c->continue_sent) {
                    c->continue_sent = true;
                    borrow_out(c);
                    if (outbuf_add(&c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0)
                        return conn_free(c), -1;
                }
            }
            return 0;
        }
        if (res == HTTP_FAIL) {
            if (conn_layer_error(c, r->parser.err_status, r->parser.err_msg) < 0)
                return -1;
            return 0;
        }
        c->deadline = 0; /* the handler's time is not the client's */
        const char *msg = NULL;
        int status = request_begin(r, &msg);
        if (status) {
            l->srv->reply_error(r, status, msg, error_code(status));
            r->close = true;
        } else if (!server_dispatch(r)) {
            c->state = C_BUSY; /* a worker has r now */
            return 0;
        }
        if (conn_finish_request(c) < 0)
            return -1;
    }
    return 0;
}

/* Reads until the socket would block, answering as requests complete. */
static int conn_read(struct conn *c)
{
    struct loop *l = c->loop;
    size_t max = l->srv->limits.max_head + READ_CHUNK;
    c->maybe_readable = false;
    borrow_in(c);
    for (;;) {
        if (c->state == C_BUSY) {
            c->maybe_readable = true;
            break;
        }
        struct request *r = c->req;
        if (c->state == C_LINGER) {
            char sink[4096];
            ssize_t n = conn_recv(c, sink, sizeof(sink));
            if (n == -EAGAIN)
                return 0;
            if (n <= 0) {
                conn_free(c);
                return -1;
            }
            continue;
        }
        if (c->close_after || c->out.len - c->out.off > OUT_HIGH_WATER) {
            c->maybe_readable = true;
            break;
        }
        if (r->cap - r->len < READ_CHUNK && r->cap < max) {
            size_t cap = r->cap ? r->cap * 2 : READ_CHUNK;
            if (cap > max)
                cap = max;
            char *b = realloc(r->buf, cap);
            if (!b) {
                conn_free(c);
                return -1;
            }
            if (b != r->buf && r->buf) /* a head parsed, its body to come */
                http_parser_rebase(&r->parser, r->buf, b);
            r->buf = b;
            r->cap = cap;
        }
        size_t room = r->cap - r->len;
        if (room == 0) { /* the parser always fails or consumes before this */
            c->maybe_readable = true;
            break;
        }
        ssize_t n = conn_recv(c, r->buf + r->len, room);
        if (n == -EAGAIN)
            break;
        if (n < 0) {
            conn_free(c);
            return -1;
        }
        if (n == 0) {
            c->peer_closed = true;
            break;
        }
        r->len += (size_t)n;
        if (conn_process(c) < 0)
            return -1;
        /* A short read drains the socket and the next edge says more, but a
         * FIN that came with the data raises no further edge: read to EOF. */
        if (!c->ssl && (size_t)n < room && !c->rdhup)
            break;
    }
    if (c->peer_closed && c->state == C_READING && c->out.len == c->out.off && !c->file_left &&
        !c->close_after) {
        conn_free(c); /* nothing in flight, nothing to say */
        return -1;
    }
    return conn_flush(c);
}

static int conn_handshake(struct conn *c)
{
    ERR_clear_error();
    int rc = SSL_do_handshake(c->ssl);
    if (rc == 1) {
        c->handshaken = true;
        return 0;
    }
    int e = SSL_get_error(c->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    conn_free(c);
    return -1;
}

static void conn_event(struct conn *c, uint32_t events)
{
    if (events & EPOLLERR) {
        conn_free(c);
        return;
    }
    if (c->ssl && !c->handshaken) {
        if (conn_handshake(c) < 0 || !c->handshaken)
            return;
        events |= EPOLLIN; /* application data may have come with it */
    }
    if (events & (EPOLLRDHUP | EPOLLHUP))
        c->rdhup = true;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
        if (conn_read(c) < 0)
            return;
    }
    if ((events & EPOLLOUT) && (c->out.len > c->out.off || c->file_left) && c->state != C_LINGER) {
        if (conn_flush(c) < 0)
            return;
        if (c->maybe_readable && c->out.len == c->out.off && !c->file_left)
            conn_read(c); /* reading stopped at OUT_HIGH_WATER */
    }
}

/* The over-the-cap answer for a plain connection, written before any
 * request is read (RFC 9110 allows a server to answer early), then close. */
static void refuse(struct server *srv, int fd)
{
    static const char body[] = "{\"detail\":\"Too many connections from this address\","
                               "\"code\":\"too_many_connections\"}";
    char id[65], head[512];
    snprintf(id, sizeof(id), "%s%08llx", srv->id_prefix,
             (unsigned long long)atomic_fetch_add(&srv->next_id, 1));
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nRetry-After: 5\r\nX-Request-Id: %s\r\n"
                     "Connection: close\r\n\r\n%s",
                     sizeof(body) - 1, id, body);
    if (!srv->tls)
        (void)send(fd, head, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    close(fd);
}

static void addr_key(const struct sockaddr_storage *ss, uint8_t out[16], char *text, size_t tlen)
{
    memset(out, 0, 16);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &in->sin_addr, 4);
        inet_ntop(AF_INET, &in->sin_addr, text, (socklen_t)tlen);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        memcpy(out, &in6->sin6_addr, 16);
        inet_ntop(AF_INET6, &in6->sin6_addr, text, (socklen_t)tlen);
    } else {
        snprintf(text, tlen, "-");
    }
}

/* Trusted proxies carry many clients on one address: no per-address cap. */
static bool addr_exempt(const struct server *srv, const char *text)
{
    return srv->app->cfg.trusted_proxies[0] && cidr_list_match(&srv->app->cfg.trusted_nets, text);
}

static void accept_some(struct loop *l)
{
    struct server *srv = l->srv;
    const struct config *cfg = &srv->app->cfg;
    for (int i = 0; i < 64; i++) {
        if (atomic_load(&srv->connections) >= cfg->max_connections) {
            watch_listen(l, false); /* the kernel's backlog holds the rest */
            return;
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(srv->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                log_warn("accept: %s; pausing new connections", strerror(errno));
                watch_listen(l, false); /* the sweep tries again */
            }
            return;
        }
        uint8_t key[16];
        char text[INET6_ADDRSTRLEN];
        addr_key(&ss, key, text, sizeof(text));
        bool exempt = addr_exempt(srv, text);
        if (!exempt && !addrcap_take(srv->per_addr, key)) {
            refuse(srv, fd);
            continue;
        }
        struct conn *c = calloc(1, sizeof(*c));
        if (c)
            c->req = request_alloc(srv, l);
        if ((size_t)fd >= l->nbyfd) {
            size_t n = l->nbyfd ? l->nbyfd : 1024;
            while (n <= (size_t)fd)
                n *= 2;
            struct conn **t = realloc(l->byfd, n * sizeof(*t));
            if (t) {
                memset(t + l->nbyfd, 0, (n - l->nbyfd) * sizeof(*t));
                l->byfd = t;
                l->nbyfd = n;
            }
        }
        if (!c || !c->req || (size_t)fd >= l->nbyfd) {
            if (c)
                request_free(c->req);
            free(c);
            if (!exempt)
                addrcap_release(srv->per_addr, key);
            close(fd);
            continue;
        }
        c->fd = fd;
        c->gen = ++l->next_gen;
        c->loop = l;
        c->file_fd = -1;
        c->capped = !exempt;
        memcpy(c->addr, key, 16);
        memcpy(c->req->client, text, sizeof(text));
        c->req->fd = fd;
        c->req->gen = c->gen;
        c->deadline = l->now + l->idle_ms; /* silent from the start */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (srv->tls) {
            SSL_CTX *ctx = server_tls_ctx(srv);
            c->ssl = ctx ? SSL_new(ctx) : NULL;
            SSL_CTX_free(ctx);
            if (!c->ssl || !SSL_set_fd(c->ssl, fd)) {
                request_free(c->req);
                if (c->ssl)
                    SSL_free(c->ssl);
                free(c);
                if (!exempt)
                    addrcap_release(srv->per_addr, key);
                close(fd);
                continue;
            }
            SSL_set_accept_state(c->ssl);
        }
        atomic_fetch_add(&srv->connections, 1);
        l->byfd[fd] = c;
        c->next = l->conns;
        if (l->conns)
            l->conns->prev = c;
        l->conns = c;
        l->nconns++;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.fd = fd};
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            conn_free(c);
            continue;
        }
    }
}

/* ---- completions, timers, the loop --------------------------------------- */

void loop_complete(struct request *r)
{
    struct loop *l = r->loop;
    r->next_done = NULL;
    pthread_mutex_lock(&l->done_lock);
    if (l->done_tail)
        l->done_tail->next_done = r;
    else
        l->done_head = r;
    l->done_tail = r;
    pthread_mutex_unlock(&l->done_lock);
    loop_kick(l);
}

void loop_kick(struct loop *l)
{
    uint64_t one = 1;
    (void)!write(l->evfd, &one, sizeof(one));
}

static void drain_completions(struct loop *l)
{
    uint64_t n;
    (void)!read(l->evfd, &n, sizeof(n));
    pthread_mutex_lock(&l->done_lock);
    struct request *r = l->done_head;
    l->done_head = l->done_tail = NULL;
    pthread_mutex_unlock(&l->done_lock);
    while (r) {
        struct request *next = r->next_done;
        struct conn *c = (size_t)r->fd < l->nbyfd ? l->byfd[r->fd] : NULL;
        if (c && c->gen == r->gen && c->req == r && c->state == C_BUSY) {
            c->state = C_READING;
            /* Answer, then the pipelined requests, then what the socket
             * holds (conn_read also writes). */
            if (conn_finish_request(c) == 0 && conn_process(c) == 0)
                conn_read(c);
        } else {
            /* The client left while the worker ran: log it, drop it. */
            struct outbuf sink = {0};
            request_finish(r, &sink);
            free(sink.p);
            request_free(r);
        }
        r = next;
    }
}

static void on_deadline(struct conn *c)
{
    if (c->state == C_LINGER || c->out.len > c->out.off || c->file_left) {
        conn_free(c); /* a client that does not read */
        return;
    }
    if (c->head_start) {
        if (conn_layer_error(c, 408, "Request not received in time") == 0)
            conn_flush(c);
        return;
    }
    conn_free(c); /* idle keep-alive */
}

static void sweep(struct loop *l)
{
    for (struct conn *c = l->conns, *next; c; c = next) {
        next = c->next;
        if (c->state != C_BUSY && c->deadline && l->now >= c->deadline)
            on_deadline(c);
    }
    struct server *srv = l->srv;
    if (!l->listening && !atomic_load(&srv->quiescing) &&
        atomic_load(&srv->connections) < srv->app->cfg.max_connections)
        watch_listen(l, true);
}

/* Quiescing: stop accepting, close idle connections, and let the others
 * end after their current reply. */
static void begin_drain(struct loop *l)
{
    if (l->draining)
        return;
    l->draining = true;
    watch_listen(l, false);
    for (struct conn *c = l->conns, *next; c; c = next) {
        next = c->next;
        if (c->state == C_READING && !http_parser_started(&c->req->parser, c->req->len) &&
            c->out.len == c->out.off && !c->file_left)
            conn_free(c); /* the others close after their reply (conn_flush) */
    }
}

static void *loop_main(void *arg)
{
    struct loop *l = arg;
    struct epoll_event evs[256];
    l->now = now_ms();
    l->next_sweep = l->now + SWEEP_MS;
    for (;;) {
        int n = epoll_wait(l->epfd, evs, 256, SWEEP_MS);
        l->now = now_ms();
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == l->evfd) {
                drain_completions(l);
            } else if (fd == l->srv->listen_fd) {
                if (!atomic_load(&l->srv->quiescing))
                    accept_some(l);
            } else if ((size_t)fd < l->nbyfd && l->byfd[fd]) {
                conn_event(l->byfd[fd], evs[i].events);
            }
        }
        if (atomic_load(&l->srv->quiescing))
            begin_drain(l);
        if (l->now >= l->next_sweep) {
            sweep(l);
            l->next_sweep = l->now + SWEEP_MS;
        }
        if (atomic_load(&l->stop)) {
            if (!l->stop_deadline)
                l->stop_deadline = l->now + DRAIN_MS;
            bool busy = false;
            for (struct conn *c = l->conns; c && !busy; c = c->next)
                busy = c->state == C_BUSY || c->out.len > c->out.off || c->file_left;
            if (!busy || l->now >= l->stop_deadline)
                break;
        }
    }
    while (l->conns)
        conn_free(l->conns);
    return NULL;
}

struct loop *loop_create(struct server *srv, unsigned index)
{
    struct loop *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->srv = srv;
    l->index = index;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&l->done_lock, NULL);
    const struct config *cfg = &srv->app->cfg;
    l->header_ms = (int64_t)cfg->header_timeout * 1000;
    l->idle_ms = (int64_t)cfg->connection_timeout * 1000;
    l->body_rate = cfg->body_min_rate ? cfg->body_min_rate : 1;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = l->evfd};
    if (l->epfd < 0 || l->evfd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev) < 0) {
        loop_destroy(l);
        return NULL;
    }
    return l;
}

int loop_start(struct loop *l)
{
    watch_listen(l, true);
    if (!l->listening)
        return -errno;
    int rc = pthread_create(&l->thread, NULL, loop_main, l);
    if (rc)
        return -rc;
    l->started = true;
    return 0;
}

void loop_stop(struct loop *l)
{
    if (!l->started)
        return;
    atomic_store(&l->stop, true);
    loop_kick(l);
    pthread_join(l->thread, NULL);
    l->started = false;
}

void loop_destroy(struct loop *l)
{
    if (!l)
        return;
    loop_stop(l);
    while (l->conns)
        conn_free(l->conns);
    for (struct request *r = l->done_head, *next; r; r = next) {
        next = r->next_done;
        request_free(r);
    }
    if (l->epfd >= 0)
        close(l->epfd);
    if (l->evfd >= 0)
        close(l->evfd);
    pthread_mutex_destroy(&l->done_lock);
    free(l->byfd);
    free(l->spare_in);
    free(l->spare_out.p);
    free(l);
}
