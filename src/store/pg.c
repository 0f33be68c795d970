/* PostgreSQL plumbing (see pg.h): the connection pool, statement helpers,
 * migrations under an advisory lock, the change-log append and the
 * all-nodes barrier. Threading: the pool is guarded by one mutex; a borrowed
 * connection is used by one thread at a time. */
#include "store/pg.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/hex.h"
#include "util/log.h"
#include "util/timeutil.h"

struct pg_pool {
    char *url;
    unsigned max;
    unsigned open; /* borrowed + idle */
    PGconn **idle;
    unsigned nidle;
    pthread_mutex_t mu;
    pthread_cond_t freed;
    int64_t last_refusal_log; /* ms: "unreachable" is logged once a second at most */
};

bool pg_url_is_pg(const char *url)
{
    return url && (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0);
}

void pg_url_redacted(const char *url, char *out, size_t outlen)
{
    const char *scheme_end = strstr(url, "://");
    const char *at = scheme_end ? strchr(scheme_end + 3, '@') : NULL;
    const char *colon = at ? memchr(scheme_end + 3, ':', (size_t)(at - scheme_end - 3)) : NULL;
    if (colon)
        snprintf(out, outlen, "%.*s:***%s", (int)(colon - url), url, at);
    else
        snprintf(out, outlen, "%s", url);
    /* A password may also come as ?password=...: cut the query off. */
    char *q = strchr(out, '?');
    if (q && strstr(q, "password"))
        snprintf(q, outlen - (size_t)(q - out), "?***");
}

/* Failures to reach the database come in bursts (one per request): log the
 * first of each second. */
static void log_unreachable(struct pg_pool *p, PGconn *c)
{
    int64_t now = time_now_ms();
    bool log_it = false;
    if (p) {
        pthread_mutex_lock(&p->mu);
        log_it = now - p->last_refusal_log >= 1000;
        if (log_it)
            p->last_refusal_log = now;
        pthread_mutex_unlock(&p->mu);
    }
    if (log_it || !p) {
        const char *msg = c ? PQerrorMessage(c) : "out of memory";
        log_error("postgresql: cannot connect: %.*s", (int)strcspn(msg, "\n"), msg);
    }
}

/* Server notices ("relation already exists, skipping") would go to stderr
 * raw; they are informational, so they become debug lines. */
static void on_notice(void *arg, const char *message)
{
    (void)arg;
    log_debug("postgresql: %.*s", (int)strcspn(message, "\n"), message);
}

static PGconn *connect_url(const char *url)
{
    /* Bounded waits: a vanished server must not hang a worker for minutes.
     * Keywords after the expanded URL would override it, so the defaults
     * come first and the URL's own settings win. */
    const char *const keys[] = {
        "connect_timeout",  "tcp_user_timeout", "keepalives_idle", "keepalives_interval",
        "keepalives_count", "application_name", "dbname",          NULL};
    const char *const values[] = {"5", "10000", "5", "2", "3", "tessera", url, NULL};
    PGconn *c = PQconnectdbParams(keys, values, 1);
    if (c && PQstatus(c) == CONNECTION_OK) {
        PQsetNoticeProcessor(c, on_notice, NULL);
        /* Short statements only: JIT compiling one (which the planner does
         * for large estimates, e.g. on tables not analysed yet) costs ~10 ms,
         * 50 times the statement. A SET, not a startup option, so that a
         * transaction-mode pooler accepts the connection; should a pooler
         * hand us a server session without it, only speed suffers. */
        PQclear(PQexec(c, "SET jit = off"));
    }
    return c;
}

PGconn *pg_connect(const char *url)
{
    PGconn *c = connect_url(url);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        log_unreachable(NULL, c);
        PQfinish(c);
        return NULL;
    }
    return c;
}

struct pg_pool *pg_pool_open(const char *url, unsigned max)
{
    struct pg_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->max = max ? max : 1;
    p->url = strdup(url);
    p->idle = calloc(p->max, sizeof(*p->idle));
    if (!p->url || !p->idle)
        goto fail;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->freed, NULL);
    PGconn *c = pg_connect(url);
    if (!c) {
        char shown[512];
        pg_url_redacted(url, shown, sizeof(shown));
        log_error("postgresql: cannot open %s", shown);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->freed);
        goto fail;
    }
    p->idle[p->nidle++] = c;
    p->open = 1;
    return p;
fail:
    free(p->url);
    free(p->idle);
    free(p);
    return NULL;
}

void pg_pool_close(struct pg_pool *p)
{
    if (!p)
        return;
    for (unsigned i = 0; i < p->nidle; i++)
        PQfinish(p->idle[i]);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->freed);
    free(p->idle);
    free(p->url);
    free(p);
}

const char *pg_pool_url(const struct pg_pool *p)
{
    return p->url;
}

/* A pooled connection whose server end is gone (pg_terminate_backend, a
 * server restart) has the server's farewell (a FATAL error) and then the end
 * of the stream waiting on its socket. A healthy idle pooled connection has
 * nothing to read: it never LISTENs, and the server sends nothing unasked
 * but such farewells. So anything readable means "gone", even when only the
 * message has arrived yet and not the end of the stream; one non-blocking
 * poll, no round trip. The borrower then gets a fresh connection instead of
 * an error on its first statement. */
static bool conn_alive(PGconn *c)
{
    if (PQstatus(c) != CONNECTION_OK || PQsocket(c) < 0)
        return false;
    struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
    int n = poll(&pfd, 1, 0);
    return n == 0 || (n < 0 && errno == EINTR);
}

PGconn *pg_acquire(struct pg_pool *p)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += PG_ACQUIRE_TIMEOUT_MS / 1000;
    pthread_mutex_lock(&p->mu);
    while (p->nidle == 0 && p->open >= p->max) {
        if (pthread_cond_timedwait(&p->freed, &p->mu, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&p->mu);
            log_error("postgresql: every pooled connection stayed busy for %d ms",
                      PG_ACQUIRE_TIMEOUT_MS);
            return NULL;
        }
    }
    PGconn *c = NULL;
    if (p->nidle)
        c = p->idle[--p->nidle];
    else
        p->open++;
    pthread_mutex_unlock(&p->mu);
    if (c && conn_alive(c))
        return c;
    /* A new slot, or a pooled connection that broke while idle (a server
     * restart, pg_terminate_backend): connect afresh. */
    PQfinish(c);
    c = connect_url(p->url);
    if (c && PQstatus(c) == CONNECTION_OK)
        return c;
    log_unreachable(p, c);
    PQfinish(c);
    pthread_mutex_lock(&p->mu);
    p->open--;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

void pg_release(struct pg_pool *p, PGconn *c)
{
    if (!c)
        return;
    bool reusable = PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE;
    pthread_mutex_lock(&p->mu);
    if (reusable && p->nidle < p->max) {
        p->idle[p->nidle++] = c;
        c = NULL;
    } else {
        p->open--;
    }
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->mu);
    PQfinish(c);
}

/* ------------------------------------------------------------------------ */
/* Statements                                                               */

PGresult *pg_query_constraint(PGconn *c, const char *sql, int n, const char *const *params,
                              char sqlstate[6], char *constraint, size_t constraint_len)
{
    if (sqlstate)
        sqlstate[0] = '\0';
    if (constraint && constraint_len)
        constraint[0] = '\0';
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (sqlstate && state)
        snprintf(sqlstate, 6, "%s", state);
    const char *name = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : NULL;
    if (constraint && constraint_len && name)
        snprintf(constraint, constraint_len, "%s", name);
    /* Constraint violations are answers ("e-mail taken"), not failures. */
    if (!state || state[0] != '2' || state[1] != '3') {
        const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
        log_error("postgresql: %.*s", (int)strcspn(msg, "\n"), msg);
    }
    PQclear(r);
    return NULL;
}

PGresult *pg_query(PGconn *c, const char *sql, int n, const char *const *params, char sqlstate[6])
{
    return pg_query_constraint(c, sql, n, params, sqlstate, NULL, 0);
}

int pg_exec(PGconn *c, const char *sql, int n, const char *const *params, int64_t *changed)
{
    char state[6];
    PGresult *r = pg_query(c, sql, n, params, state);
    if (!r) {
        if (strcmp(state, PG_UNIQUE_VIOLATION) == 0)
            return -EEXIST;
        if (strcmp(state, PG_FOREIGN_KEY_VIOLATION) == 0)
            return -ENOENT;
        return -EIO;
    }
    if (changed)
        *changed = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return 0;
}

int pg_exec_write(PGconn *c, const char *sql, int n, const char *const *params, int miss_rc)
{
    int64_t changed = 0;
    int rc = pg_exec(c, sql, n, params, &changed);
    return rc < 0 ? rc : changed ? 0 : miss_rc;
}

int pg_begin(PGconn *c)
{
    return pg_exec(c, "BEGIN", 0, NULL, NULL);
}

int pg_commit(PGconn *c)
{
    /* A COMMIT of a failed transaction "succeeds" as a ROLLBACK: check the
     * command tag, or an aborted write would be acknowledged. */
    PGresult *r = pg_query(c, "COMMIT", 0, NULL, NULL);
    int rc = r && strcmp(PQcmdStatus(r), "COMMIT") == 0 ? 0 : -EIO;
    PQclear(r);
    return rc;
}

void pg_rollback(PGconn *c)
{
    if (PQtransactionStatus(c) != PQTRANS_IDLE)
        PQclear(PQexec(c, "ROLLBACK"));
}

int64_t pg_get_int64(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

bool pg_get_bool(const PGresult *r, int row, int col)
{
    return PQgetvalue(r, row, col)[0] == 't';
}

void pg_get_text(const PGresult *r, int row, int col, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

int pg_get_bytea(const PGresult *r, int row, int col, uint8_t *out, size_t len)
{
    /* Text-format bytea is "\x" + hex (bytea_output = hex, the default). */
    const char *v = PQgetvalue(r, row, col);
    if (PQgetisnull(r, row, col) || strncmp(v, "\\x", 2) != 0 || strlen(v + 2) != 2 * len)
        return -EIO;
    for (size_t i = 0; i < len; i++) {
        int hi = hex_digit_value(v[2 + 2 * i]), lo = hex_digit_value(v[3 + 2 * i]);
        if (hi < 0 || lo < 0)
            return -EIO;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

void pg_bytea_param(const uint8_t *in, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    out[0] = '\\';
    out[1] = 'x';
    for (size_t i = 0; i < len; i++) {
        out[2 + 2 * i] = hex[in[i] >> 4];
        out[3 + 2 * i] = hex[in[i] & 15];
    }
    out[2 + 2 * len] = '\0';
}

const char *pg_int_param(int64_t v, char buf[24])
{
    snprintf(buf, 24, "%lld", (long long)v);
    return buf;
}

/* ------------------------------------------------------------------------ */
/* Migrations                                                               */

/* One advisory-lock key per track, derived from its name (FNV-1a), so the
 * store and the catalog migrate independently. */
static int64_t lock_key(const char *track)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *s = "tessera-migrate:"; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    for (const char *s = track; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (int64_t)(h >> 1);
}

static int version_of(PGconn *c, const char *track)
{
    /* Two statements: the second would not even parse without the table. */
    PGresult *r = pg_query(c, "SELECT to_regclass('schema_migrations') IS NOT NULL", 0, NULL, NULL);
    bool exists = r && pg_get_bool(r, 0, 0);
    int v = r ? 0 : -EIO;
    PQclear(r);
    if (!exists)
        return v;
    const char *params[] = {track};
    r = pg_query(c, "SELECT COALESCE(max(version), 0) FROM schema_migrations WHERE track = $1", 1,
                 params, NULL);
    v = r ? (int)pg_get_int64(r, 0, 0) : -EIO;
    PQclear(r);
    return v;
}

int pg_schema_version(struct pg_pool *p, const char *track)
{
    PGconn *c = pg_acquire(p);
    if (!c)
        return -EIO;
    int v = version_of(c, track);
    pg_release(p, c);
    return v;
}

/* Runs one migration step (several statements, no parameters: the simple
 * query protocol) and records it, in one transaction. */
static int apply_step(PGconn *c, const char *track, int version, const char *sql)
{
    if (pg_begin(c) < 0)
        return -EIO;
    PGresult *r = PQexec(c, sql);
    bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) {
        const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
        log_error("postgresql: %s migration %d failed: %.*s", track, version,
                  (int)strcspn(msg, "\n"), msg);
    }
    PQclear(r);
    char v[24], at[24];
    const char *params[] = {track, pg_int_param(version, v), pg_int_param(time_now_ms(), at)};
    if (!ok ||
        pg_exec(c,
                "INSERT INTO schema_migrations (track, version, applied_at)"
                " VALUES ($1, $2, $3)",
                3, params, NULL) < 0 ||
        pg_commit(c) < 0) {
        pg_rollback(c);
        return -EIO;
    }
    log_info("postgresql: applied %s migration %d", track, version);
    return 0;
}

int pg_migrate(struct pg_pool *p, const char *track, const char *const *steps, int n)
{
    PGconn *c = pg_acquire(p);
    if (!c)
        return -EIO;
    char key[24];
    const char *params[] = {pg_int_param(lock_key(track), key)};
    /* A session-level lock: released by the unlock below or, should this
     * process die half-way, by the server when the connection drops. */
    int rc = pg_exec(c, "SELECT pg_advisory_lock($1)", 1, params, NULL);
    if (rc < 0)
        goto out;
    rc = pg_exec(c,
                 "CREATE TABLE IF NOT EXISTS schema_migrations ("
                 " track TEXT NOT NULL, version INTEGER NOT NULL,"
                 " applied_at BIGINT NOT NULL, PRIMARY KEY (track, version))",
                 0, NULL, NULL);
    int have = rc < 0 ? rc : version_of(c, track);
    if (have < 0) {
        rc = -EIO;
    } else if (have > n) {
        log_error("postgresql: the %s schema is at version %d, newer than this binary knows (%d);"
                  " upgrade Tessera before serving from this database",
                  track, have, n);
        rc = -EPROTO;
    } else {
        rc = 0;
        for (int v = have + 1; v <= n && rc == 0; v++)
            rc = apply_step(c, track, v, steps[v - 1]);
    }
    pg_exec(c, "SELECT pg_advisory_unlock($1)", 1, params, NULL);
out:
    pg_release(p, c);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Change log and barrier (tables from the store's migrations)              */

/* The database clock in ms: lease times are written and compared with it
 * alone, so node clocks never need to agree. */
#define DB_NOW_MS "(extract(epoch from clock_timestamp()) * 1000)::bigint"

int pg_change_note(PGconn *c, int kind, int64_t account_id, const char *token_id)
{
    char k[24], a[24];
    const char *params[] = {pg_int_param(kind, k), pg_int_param(account_id, a),
                            token_id ? token_id : ""};
    PGresult *r = pg_query(c,
                           "WITH s AS (UPDATE change_seq SET seq = seq + 1 RETURNING seq),"
                           " i AS (INSERT INTO change_log (seq, kind, account_id, token_id, at)"
                           "  SELECT seq, $1, $2, $3, " DB_NOW_MS " FROM s RETURNING seq)"
                           " SELECT pg_notify('tessera_changes', seq::text) FROM i",
                           3, params, NULL);
    int rc = r && PQntuples(r) == 1 ? 0 : -EIO;
    PQclear(r);
    return rc;
}

int pg_barrier(struct pg_pool *p, int timeout_ms)
{
    PGconn *c = pg_acquire(p);
    if (!c)
        return -EIO;
    int rc = -EIO;
    PGresult *r = pg_query(c, "SELECT seq FROM change_seq", 0, NULL, NULL);
    if (!r || PQntuples(r) != 1)
        goto out;
    char head[24];
    pg_int_param(pg_get_int64(r, 0, 0), head);
    PQclear(r);
    r = NULL;
    const char *params[] = {head};
    int64_t deadline = time_now_ms() + timeout_ms;
    /* Nodes apply a change within a few milliseconds of its NOTIFY, or at
     * their next heartbeat; poll often for the first 20 ms, then back off. */
    for (int round = 0;; round++) {
        r = pg_query(c,
                     "SELECT count(*) FROM nodes WHERE applied_seq < $1"
                     " AND lease_until > " DB_NOW_MS,
                     1, params, NULL);
        if (!r)
            goto out;
        int64_t behind = pg_get_int64(r, 0, 0);
        PQclear(r);
        r = NULL;
        if (behind == 0) {
            rc = 0;
            break;
        }
        if (time_now_ms() >= deadline) {
            log_error("postgresql: %lld node(s) neither applied change %s nor lost their lease"
                      " within %d ms",
                      (long long)behind, head, timeout_ms);
            rc = -ETIMEDOUT;
            break;
        }
        struct timespec ts = {0, (round < 40 ? 500 : round < 200 ? 2000 : 10000) * 1000L};
        nanosleep(&ts, NULL);
    }
out:
    PQclear(r);
    pg_release(p, c);
    return rc;
}
