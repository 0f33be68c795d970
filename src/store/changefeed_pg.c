/* The PostgreSQL change feed of one node (see changefeed.h), on one dedicated
 * connection (never a transaction-mode pooler: LISTEN needs a session):
 *  - LISTEN tessera_changes is only a wake-up; change_log is the record, read
 *    by sequence number, so a notification lost while the connection was
 *    down costs nothing but the wait until the next heartbeat;
 *  - the node's row in `nodes` carries how far it has applied the log and
 *    its lease; pg_barrier (pg.c) makes every write wait for each node whose
 *    lease is live until it has applied the write.
 *
 * Why a renewed lease is safe: a heartbeat renews the lease only when the
 * node has applied everything up to the head it reads, and it reads the head
 * under FOR SHARE on the change_seq row, which every writer holds (FOR
 * UPDATE) from its change note to its commit. So a writer either committed
 * before the heartbeat (the head includes it, and the node has applied it)
 * or commits after the heartbeat's transaction, and then its barrier sees
 * the renewed lease and waits for the node. The node's own deadline counts
 * from before the heartbeat was sent, so it expires first.
 * Threading: the feed thread only (and the main thread before it starts). */
#include "store/changefeed.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg.h"
#include "util/log.h"

#define READ_BATCH 10000
#define DB_NOW_MS "(extract(epoch from clock_timestamp()) * 1000)::bigint"
/* Rows of nodes that stopped without withdrawing (kill -9) are swept after
 * an hour; until then their expired lease already makes writers ignore them. */
#define DEAD_NODE_MS (3600 * 1000)

struct pg_feed {
    struct changefeed base; /* first: struct changefeed * casts to this */
    char *url;
    char *node_name;
    PGconn *conn;
    int64_t node_id; /* 0 = not registered */
};

static struct pg_feed *to_feed(struct changefeed *cf)
{
    return (struct pg_feed *)cf;
}

/* Inserts this node's row. live: with a lease already (at start-up, so that
 * writers wait for the node from the very first moment), or without one
 * (re-registering after the row vanished: it must earn its lease). */
static int register_node(struct pg_feed *f, bool live)
{
    char lease[24], dead[24];
    const char *params[] = {f->node_name, pg_int_param(live ? f->base.lease_ms : -1, lease),
                            pg_int_param(DEAD_NODE_MS, dead)};
    PGresult *r = pg_query(f->conn,
                           "WITH gone AS (DELETE FROM nodes WHERE lease_until < " DB_NOW_MS " - $3)"
                           " INSERT INTO nodes (name, applied_seq, lease_until, started_at)"
                           " VALUES ($1, 0, " DB_NOW_MS " + $2, " DB_NOW_MS ") RETURNING id",
                           3, params, NULL);
    if (!r)
        return -EIO;
    f->node_id = pg_get_int64(r, 0, 0);
    PQclear(r);
    log_info("changefeed: registered node %s as #%lld", f->node_name, (long long)f->node_id);
    return 0;
}

/* The dedicated connection, (re)opened and listening. */
static int ensure_connected(struct pg_feed *f)
{
    if (f->conn && PQstatus(f->conn) == CONNECTION_OK)
        return 0;
    PQfinish(f->conn);
    f->conn = pg_connect(f->url);
    if (!f->conn)
        return -EIO;
    /* A name operators (and the fault tests) can find in pg_stat_activity. */
    char app_name[200];
    snprintf(app_name, sizeof(app_name), "tessera-feed %s", f->node_name);
    const char *params[] = {app_name};
    /* What this connection writes (the node's row, pruning) needs no fsync
     * of its own: losing it in a crash only makes writers wait for a lease.
     * A durable heartbeat would hold the change_seq row (FOR SHARE) through
     * an fsync and halve the rate at which writers can take it. */
    if (pg_exec(f->conn, "SELECT set_config('application_name', $1, false)", 1, params, NULL) < 0 ||
        pg_exec(f->conn, "SET synchronous_commit = off", 0, NULL, NULL) < 0 ||
        pg_exec(f->conn, "LISTEN tessera_changes", 0, NULL, NULL) < 0) {
        PQfinish(f->conn);
        f->conn = NULL;
        return -EIO;
    }
    return 0;
}

/* Drops a connection that failed mid-call, so the next call reconnects. */
static int conn_failed(struct pg_feed *f)
{
    if (f->conn && PQstatus(f->conn) != CONNECTION_OK) {
        PQfinish(f->conn);
        f->conn = NULL;
    }
    return -EIO;
}

static void drain_notifications(PGconn *c)
{
    PGnotify *n;
    while ((n = PQnotifies(c)) != NULL)
        PQfreemem(n);
}

static int pf_wait(struct changefeed *cf, int timeout_ms)
{
    struct pg_feed *f = to_feed(cf);
    if (ensure_connected(f) < 0)
        return -EIO;
    if (!PQconsumeInput(f->conn))
        return conn_failed(f);
    PGnotify *n = PQnotifies(f->conn);
    if (n) {
        PQfreemem(n);
        drain_notifications(f->conn);
        return 0;
    }
    struct pollfd p = {.fd = PQsocket(f->conn), .events = POLLIN};
    if (poll(&p, 1, timeout_ms) < 0 && errno != EINTR)
        return -EIO;
    if ((p.revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(f->conn))
        return conn_failed(f);
    drain_notifications(f->conn);
    return 0;
}

static int64_t pf_head(struct changefeed *cf)
{
    struct pg_feed *f = to_feed(cf);
    if (ensure_connected(f) < 0)
        return -EIO;
    PGresult *r = pg_query(f->conn, "SELECT seq FROM change_seq", 0, NULL, NULL);
    if (!r)
        return conn_failed(f);
    int64_t head = PQntuples(r) == 1 ? pg_get_int64(r, 0, 0) : -EIO;
    PQclear(r);
    return head;
}

/* One statement, one snapshot: the head (first row, kind 0) and the entries
 * after *seq agree, so "head above the last entry" can only mean entries
 * were pruned. */
static int read_batch(struct pg_feed *f, int64_t *seq, changefeed_fn fn, void *ctx, bool *more)
{
    char after[24], limit[24];
    const char *params[] = {pg_int_param(*seq, after), pg_int_param(READ_BATCH, limit)};
    PGresult *r = pg_query(f->conn,
                           "SELECT * FROM (SELECT 0 AS part, seq, 0 AS kind, 0::bigint AS account,"
                           "  ''::text AS token FROM change_seq"
                           " UNION ALL (SELECT 1, seq, kind, account_id, token_id FROM change_log"
                           "  WHERE seq > $1 ORDER BY seq LIMIT $2)) u ORDER BY part, seq",
                           2, params, NULL);
    if (!r)
        return conn_failed(f);
    int n = PQntuples(r), rc = 0;
    int64_t head = n ? pg_get_int64(r, 0, 1) : 0;
    *more = false;
    for (int i = 1; i < n && rc == 0; i++) {
        int64_t s = pg_get_int64(r, i, 1);
        if (s != *seq + 1) {
            rc = -ESTALE; /* entries we never saw were pruned */
            break;
        }
        rc = fn(ctx, (enum changefeed_kind)pg_get_int64(r, i, 2), pg_get_int64(r, i, 3),
                PQgetvalue(r, i, 4));
        if (rc == 0)
            *seq = s;
    }
    if (rc == 0 && n - 1 == READ_BATCH)
        *more = true;
    else if (rc == 0 && head > *seq)
        rc = -ESTALE;
    PQclear(r);
    return rc;
}

static int pf_read(struct changefeed *cf, int64_t *seq, changefeed_fn fn, void *ctx)
{
    struct pg_feed *f = to_feed(cf);
    if (ensure_connected(f) < 0)
        return -EIO;
    bool more = true;
    int rc = 0;
    while (rc == 0 && more)
        rc = read_batch(f, seq, fn, ctx, &more);
    return rc;
}

static int pf_heartbeat(struct changefeed *cf, int64_t applied, int64_t *head)
{
    struct pg_feed *f = to_feed(cf);
    if (ensure_connected(f) < 0)
        return -EIO;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!f->node_id && register_node(f, false) < 0)
            return conn_failed(f);
        char id[24], a[24], lease[24];
        const char *params[] = {pg_int_param(f->node_id, id), pg_int_param(applied, a),
                                pg_int_param(f->base.lease_ms, lease)};
        PGresult *r = pg_query(f->conn,
                               "WITH h AS (SELECT seq FROM change_seq FOR SHARE)"
                               " UPDATE nodes SET applied_seq = GREATEST(applied_seq, $2),"
                               "  lease_until = CASE WHEN $2 >= h.seq"
                               "   THEN " DB_NOW_MS " + $3 ELSE lease_until END"
                               " FROM h WHERE nodes.id = $1 RETURNING h.seq",
                               3, params, NULL);
        if (!r)
            return conn_failed(f);
        int rows = PQntuples(r);
        if (rows == 1)
            *head = pg_get_int64(r, 0, 0);
        PQclear(r);
        if (rows == 1)
            return 0;
        /* Our row is gone (swept while we were cut off for an hour, or an
         * operator deleted it): register again, without a lease. */
        log_warn("changefeed: node #%lld is no longer registered; registering again",
                 (long long)f->node_id);
        f->node_id = 0;
    }
    return -EIO;
}

static int pf_prune(struct changefeed *cf, int64_t max_age_ms)
{
    struct pg_feed *f = to_feed(cf);
    if (ensure_connected(f) < 0)
        return -EIO;
    char age[24];
    const char *params[] = {pg_int_param(max_age_ms, age)};
    /* Never the newest entry: a node reading an empty log could not tell a
     * quiet database from a pruned one. */
    return pg_exec(f->conn,
                   "DELETE FROM change_log WHERE at < " DB_NOW_MS " - $1"
                   " AND seq < (SELECT seq FROM change_seq)",
                   1, params, NULL) < 0
               ? conn_failed(f)
               : 0;
}

static void pf_close(struct changefeed *cf)
{
    struct pg_feed *f = to_feed(cf);
    if (!f)
        return;
    /* Withdraw, so writers stop waiting for this node at once instead of
     * when its lease runs out. */
    if (f->node_id && f->conn && PQstatus(f->conn) == CONNECTION_OK) {
        char id[24];
        const char *params[] = {pg_int_param(f->node_id, id)};
        pg_exec(f->conn, "DELETE FROM nodes WHERE id = $1", 1, params, NULL);
    }
    PQfinish(f->conn);
    free(f->url);
    free(f->node_name);
    free(f);
}

static const struct changefeed_ops pg_feed_ops = {
    /* maybe_changed: none. Writers wait for this node (pg_barrier), so a
     * check has nothing to probe; it looks at the lease instead. */
    .wait = pf_wait,
    .head = pf_head,
    .read = pf_read,
    .heartbeat = pf_heartbeat,
    .prune = pf_prune,
    .close = pf_close,
};

struct changefeed *changefeed_pg_open(const char *url, const struct changefeed_config *cfg)
{
    struct pg_feed *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->base.ops = &pg_feed_ops;
    f->base.lease_ms = cfg && cfg->lease_ms > 0 ? cfg->lease_ms : 1500;
    f->url = strdup(url);
    f->node_name = strdup(cfg && cfg->node_name ? cfg->node_name : "tessera");
    if (!f->url || !f->node_name || ensure_connected(f) < 0 || register_node(f, true) < 0) {
        log_error("changefeed: cannot register this node with the database");
        pf_close(&f->base);
        return NULL;
    }
    return &f->base;
}
