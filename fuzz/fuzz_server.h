/* In-process Tessera server for the HTTP-level fuzz targets (header-only so
 * the fuzz/fuzz_*.c glob sees targets only). fuzz_server_init() opens an app
 * on a fresh temporary data directory, starts the real server (our epoll
 * thread pool + worker pool) on 127.0.0.1:0, and signs up one account to get
 * real credentials (session access + refresh JWT, an sk. and, when listed, a
 * pk. token). fuzz_send() writes a raw request on a new loopback connection,
 * half-closes it and parses every reply: any 5xx other than 503/505, a reply that
 * does not parse, or a server that stops accepting connections aborts (which
 * libFuzzer reports as a crash). Called from the fuzzing thread only. */
#ifndef TESSERA_FUZZ_SERVER_H
#define TESSERA_FUZZ_SERVER_H

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "app.h"
#include "catalog/catalog.h"
#include "util/log.h"
#include "http/server.h"

struct fuzz_creds {
    char username[64];
    char *access, *refresh, *sk, *pk;
    char sk_id[64];
};

static struct app fuzz_app;
static struct server *fuzz_srv;
static int fuzz_port;
/* How long a well-formed request waits for its reply to begin before the
 * half-close (see fuzz_exchange). */
#define FUZZ_REPLY_WAIT_MS 20
#define FUZZ_NO_HALF_CLOSE (-1)
static struct fuzz_creds fuzz_cred;

struct fuzz_buf {
    char *p;
    size_t len, cap;
};

static inline void fuzz_buf_add(struct fuzz_buf *b, const void *data, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            abort();
        b->p = p;
        b->cap = cap;
    }
    if (len)
        memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = '\0';
}

static inline void fuzz_buf_str(struct fuzz_buf *b, const char *s)
{
    fuzz_buf_add(b, s, strlen(s));
}

/* Sends req (raw bytes) on a new connection, reads until the server closes.
 * Returns the reply bytes (malloc'd, NUL-terminated) in *out.
 *
 * The half-close tells the server that nothing more is coming, so a partial
 * request (or a fuzzed header that keeps the connection alive) is closed at
 * once instead of after connection_timeout; complete requests before it are
 * still answered, worker-pool routes included (a half-close is not an
 * abort). A well-formed request (reply_wait_ms > 0) first waits up to that
 * long for the reply to begin. Raw inputs (0) half-close at once; the
 * harness's own set-up calls (FUZZ_NO_HALF_CLOSE) never do. */
static inline void fuzz_exchange(const char *req, size_t len, int reply_wait_ms,
                                 struct fuzz_buf *out)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("fuzz: socket");
        abort();
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fuzz_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* A hung server must show up as a failure, not as a stuck fuzzer. */
    struct timeval tv = {.tv_sec = 20};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int rc = -1;
    for (int attempt = 0; attempt < 50 && rc < 0; attempt++) {
        rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
        if (rc < 0 && errno != EINTR && errno != EAGAIN && errno != ECONNREFUSED)
            break;
        if (rc < 0)
            usleep(10000);
    }
    if (rc < 0) {
        perror("fuzz: the server stopped accepting connections");
        abort();
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server may close early (e.g. after a 4xx); fine */
        off += (size_t)n;
    }
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    if (reply_wait_ms > 0)
        (void)poll(&pfd, 1, reply_wait_ms);
    if (reply_wait_ms != FUZZ_NO_HALF_CLOSE)
        shutdown(fd, SHUT_WR);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char buf[16384];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n > 0) {
            fuzz_buf_add(out, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            fprintf(stderr, "fuzz: no reply (or no close) within 20 s\n");
            abort();
        }
        break; /* EOF or reset */
    }
    close(fd);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (getenv("FUZZ_DEBUG_SLOW") && t1.tv_sec - t0.tv_sec >= 2)
        fprintf(stderr, "fuzz: slow reply (%lds) to %zu bytes: %.*s\n", (long)(t1.tv_sec - t0.tv_sec), len, (int)(len < 300 ? len : 300), req);
    if (!out->p)
        fuzz_buf_add(out, "", 0);
}

/* Walks every response in a reply stream; aborts on a 5xx other than 501,
 * 503 or 505, on a response without X-Request-Id and on an error that is
 * not JSON. Returns the status of the first final response (0 when there
 * is none: an input of nothing but an empty line gets no answer). body/blen
 * get its body. */
static inline int fuzz_check_replies(const char *p, size_t len, const char **body, size_t *blen)
{
    int first = 0;
    const char *end = p + len;
    bool started = false;
    while (p < end) {
        if ((size_t)(end - p) < 12 || memcmp(p, "HTTP/1.1 ", 9) != 0) {
            fprintf(stderr, "fuzz: unparsable reply: %.200s\n", p);
            abort();
        }
        started = true;
        int status = atoi(p + 9);
        const char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hend) {
            fprintf(stderr, "fuzz: truncated reply headers: %.200s\n", p);
            abort();
        }
        /* 501: a transfer coding other than chunked; 503: overload (worker
         * queue full), by design; 505: an HTTP version other than 1.x; all
         * what RFC 9110/9112 prescribe, none from a handler. */
        if (status >= 500 && status != 501 && status != 503 && status != 505) {
            fprintf(stderr, "fuzz: server answered %d:\n%.*s\n", status, (int)(end - p), p);
            abort();
        }
        size_t clen = SIZE_MAX; /* no Content-Length: the body runs to the close */
        bool chunked = false, has_id = false, json = false;
        for (const char *h = p; h < hend;) {
            const char *eol = memmem(h, (size_t)(hend - h) + 2, "\r\n", 2);
            if (!eol)
                break;
            if ((size_t)(eol - h) > 15 && strncasecmp(h, "Content-Length:", 15) == 0)
                clen = strtoull(h + 15, NULL, 10);
            if ((size_t)(eol - h) > 18 && strncasecmp(h, "Transfer-Encoding:", 18) == 0)
                chunked = true;
            if ((size_t)(eol - h) > 13 && strncasecmp(h, "X-Request-Id:", 13) == 0)
                has_id = true;
            if ((size_t)(eol - h) >= 30 &&
                strncasecmp(h, "Content-Type: application/json", 30) == 0)
                json = true;
            h = eol + 2;
        }
        if (status >= 200 && (!has_id || (status >= 400 && !json))) {
            fprintf(stderr, "fuzz: reply without X-Request-Id or a JSON error:\n%.*s\n",
                    (int)(hend - p), p);
            abort();
        }
        const char *b = hend + 4;
        if (status < 200) { /* 100 Continue: the real reply follows */
            p = b;
            continue;
        }
        if (chunked) /* not produced by our replies; stop parsing here */
            clen = (size_t)(end - b);
        if (clen == SIZE_MAX && (status == 204 || status == 304))
            clen = 0;
        if (clen > (size_t)(end - b))
            clen = (size_t)(end - b); /* HEAD replies announce a length without a body */
        if (!first) {
            first = status;
            if (body) {
                *body = b;
                *blen = clen;
            }
        }
        p = b + clen;
    }
    return first;
}

/* A simple well-formed request for setting up credentials. */
static inline cJSON *fuzz_call(const char *method, const char *path, const char *auth,
                               const char *json, int *status)
{
    struct fuzz_buf req = {0}, rep = {0};
    char line[512];
    snprintf(line, sizeof(line), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n",
             method, path);
    fuzz_buf_str(&req, line);
    if (auth) {
        fuzz_buf_str(&req, "Authorization: Bearer ");
        fuzz_buf_str(&req, auth);
        fuzz_buf_str(&req, "\r\n");
    }
    if (json) {
        snprintf(line, sizeof(line), "Content-Type: application/json\r\nContent-Length: %zu\r\n",
                 strlen(json));
        fuzz_buf_str(&req, line);
    }
    fuzz_buf_str(&req, "\r\n");
    if (json)
        fuzz_buf_str(&req, json);
    fuzz_exchange(req.p, req.len, FUZZ_NO_HALF_CLOSE, &rep);
    const char *body = NULL;
    size_t blen = 0;
    *status = fuzz_check_replies(rep.p, rep.len, &body, &blen);
    cJSON *j = body ? cJSON_ParseWithLength(body, blen) : NULL;
    free(req.p);
    free(rep.p);
    return j;
}

static inline char *fuzz_json_dup(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsString(v) || !v->valuestring)
        return NULL;
    char *s = strdup(v->valuestring);
    if (!s)
        abort();
    return s;
}

static inline void fuzz_setup_credentials(void)
{
    int st;
    const char *signup = "{\"email\":\"fuzz@example.com\",\"password\":\"correct horse battery\"}";
    cJSON *j = fuzz_call("POST", "/api/v1/account/register", NULL, signup, &st);
    if (st != 201) {
        fprintf(stderr, "fuzz: register answered %d\n", st);
        abort();
    }
    char *u = fuzz_json_dup(j, "username");
    snprintf(fuzz_cred.username, sizeof(fuzz_cred.username), "%s", u ? u : "fuzz");
    free(u);
    cJSON_Delete(j);
    j = fuzz_call("POST", "/api/v1/token/pair", NULL, signup, &st);
    fuzz_cred.access = fuzz_json_dup(j, "access");
    fuzz_cred.refresh = fuzz_json_dup(j, "refresh");
    cJSON_Delete(j);
    if (st != 200 || !fuzz_cred.access || !fuzz_cred.refresh) {
        fprintf(stderr, "fuzz: sign-in answered %d\n", st);
        abort();
    }
    /* Within max_token_days (default 365) of today, or the request is refused. */
    char stac_req[96], day[16];
    time_t soon = time(NULL) + 30 * 86400;
    struct tm tm;
    strftime(day, sizeof(day), "%Y-%m-%d", gmtime_r(&soon, &tm));
    snprintf(stac_req, sizeof(stac_req), "{\"expiration_date\":\"%s\",\"name\":\"fuzz\"}", day);
    j = fuzz_call("POST", "/api/v1/account/tokens/create-stac", fuzz_cred.access, stac_req, &st);
    fuzz_cred.sk = fuzz_json_dup(j, "token_value");
    char *id = fuzz_json_dup(j, "id");
    snprintf(fuzz_cred.sk_id, sizeof(fuzz_cred.sk_id), "%s", id ? id : "");
    free(id);
    cJSON_Delete(j);
    if (!fuzz_cred.sk) { /* a credential that is refused would fuzz nothing behind it */
        fprintf(stderr, "fuzz: create-stac answered %d\n", st);
        abort();
    }
    /* The default public token, when the list shows its value. */
    j = fuzz_call("GET", "/api/v1/account/tokens", fuzz_cred.access, NULL, &st);
    const cJSON *list = cJSON_IsArray(j) ? j : cJSON_GetObjectItemCaseSensitive(j, "items");
    const cJSON *t;
    cJSON_ArrayForEach(t, list)
    {
        char *tok = fuzz_json_dup(t, "token");
        if (!tok)
            tok = fuzz_json_dup(t, "token_value");
        if (tok && strncmp(tok, "pk.", 3) == 0 && !fuzz_cred.pk)
            fuzz_cred.pk = tok;
        else
            free(tok);
    }
    cJSON_Delete(j);
}

static inline void fuzz_server_init(void)
{
    signal(SIGPIPE, SIG_IGN);
    const char *tmp = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/tessera-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    /* Warnings and errors only: the access log at fuzzing speed would be the
     * bottleneck, and a real problem still shows. */
    log_set_level(LOG_WARN);
    config_defaults(&fuzz_app.cfg);
    snprintf(fuzz_app.cfg.data_dir, sizeof(fuzz_app.cfg.data_dir), "%s/data", dir);
    snprintf(fuzz_app.cfg.listen_host, sizeof(fuzz_app.cfg.listen_host), "127.0.0.1");
    fuzz_app.cfg.listen_port = 0;
    fuzz_app.cfg.threads = 2;
    fuzz_app.cfg.workers = 2;
    fuzz_app.cfg.connection_timeout = 3;
    /* Workers at the fuzzer's own priority: at the default 19 a loaded
     * machine delays worker-pool replies past FUZZ_REPLY_WAIT_MS, and those
     * replies then go unchecked. */
    fuzz_app.cfg.worker_nice = 0;
    /* As `serve` does: token checks read the in-memory index, which app_open
     * builds only for a serving app (without it every credential is refused). */
    fuzz_app.serving = true;
    snprintf(fuzz_app.cfg.asset_dir, sizeof(fuzz_app.cfg.asset_dir), "%s/catalog/sample/assets",
             TESSERA_SOURCE_DIR);
    /* Leak reports on, so fuzzed signature headers reach the verifier. */
    snprintf(fuzz_app.cfg.leak_report_keys, sizeof(fuzz_app.cfg.leak_report_keys),
             "%s/tests/fixtures/leak/public_keys.json", TESSERA_SOURCE_DIR);
    if (app_open(&fuzz_app) < 0) {
        fprintf(stderr, "fuzz: app_open failed in %s\n", dir);
        abort();
    }
    /* The sample catalog, so STAC handlers have documents to filter. */
    char sample[1024], err[512];
    struct strlist partners = {0};
    strlist_add(&partners, "Partners");
    snprintf(sample, sizeof(sample), "%s/catalog/sample/public", TESSERA_SOURCE_DIR);
    if (fuzz_app.catalog &&
        catalog_import_path(fuzz_app.catalog, sample, NULL, err, sizeof(err)) < 0)
        fprintf(stderr, "fuzz: sample catalog not imported: %s\n", err);
    snprintf(sample, sizeof(sample), "%s/catalog/sample/partners", TESSERA_SOURCE_DIR);
    if (fuzz_app.catalog &&
        catalog_import_path(fuzz_app.catalog, sample, &partners, err, sizeof(err)) < 0)
        fprintf(stderr, "fuzz: restricted sample not imported: %s\n", err);
    strlist_free(&partners);
    fuzz_srv = server_create(&fuzz_app, api_reply_error);
    if (fuzz_srv)
        api_register_all(fuzz_srv);
    if (!fuzz_srv || server_start(fuzz_srv) < 0) {
        fprintf(stderr, "fuzz: server did not start\n");
        abort();
    }
    fuzz_port = server_port(fuzz_srv);
    fuzz_setup_credentials();
}

/* Credential chosen by one fuzz byte: none, garbage, or a real one. */
static inline const char *fuzz_pick_credential(uint8_t b)
{
    switch (b % 8) {
    case 0: return NULL;
    case 1: return fuzz_cred.access;
    case 2: return fuzz_cred.sk;
    case 3: return fuzz_cred.pk;
    case 4: return fuzz_cred.refresh;
    case 5: return "sk.eyJ1IjoiZnV6eiIsImEiOiJhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhIn0.x";
    case 6: return "tk.e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    default: return "";
    }
}

#endif
