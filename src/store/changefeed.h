/* A driver's feed of committed changes to accounts, tokens and the catalog,
 * made by any process (this node's workers, CLI commands, other nodes), so a
 * serving node's in-memory token index stays exact without reading storage
 * per check. Opened with store->ops->feed_open; driven by the index's feed
 * thread (auth/indexsync.c).
 *
 * Two drivers, two ways of being current:
 *  - SQLite (one machine): every check probes maybe_changed (one memory
 *    compare of the WAL-index header) and, on a change, has the feed thread
 *    apply it before answering.
 *  - PostgreSQL (several nodes): NOTIFY wakes the feed thread, the change log
 *    is the record, heartbeat proves the node current and renews its lease,
 *    and every write waits until each live node has applied it (pg_barrier).
 *    Checks only look at the lease.
 * Threading: maybe_changed from any thread; everything else from the feed
 * thread (or the main thread before it starts). */
#ifndef TESSERA_CHANGEFEED_H
#define TESSERA_CHANGEFEED_H

#include <stdbool.h>
#include <stdint.h>

enum changefeed_kind { CHANGE_ACCOUNT = 1, CHANGE_TOKEN = 2, CHANGE_CATALOG = 3 };

/* One entry: account_id is the account for CHANGE_ACCOUNT and the owning
 * account for CHANGE_TOKEN (0 for the catalog); token_id is "" unless
 * CHANGE_TOKEN. Return non-zero to stop. */
typedef int (*changefeed_fn)(void *ctx, enum changefeed_kind kind, int64_t account_id,
                             const char *token_id);

struct changefeed_config {
    const char *node_name; /* shown in the nodes table and logs (e.g. host:port/pid) */
    int lease_ms;          /* how long a heartbeat keeps the node trusted; the feed
                            * thread renews it every lease_ms / 6 */
};

struct changefeed;

struct changefeed_ops {
    /* Check path, any thread: true when another process may have committed
     * since this thread last asked; errors say true. NULL when writers wait
     * for every node instead, so there is nothing to probe. */
    bool (*maybe_changed)(struct changefeed *cf);
    /* Feed thread: blocks until a change may have been committed or
     * timeout_ms passed. 0, or -EIO when the wake-up channel broke (the next
     * call re-establishes it; until then the caller relies on heartbeat).
     * NULL when the feed has no wake-up of its own (the check path's
     * maybe_changed wakes the feed thread instead). */
    int (*wait)(struct changefeed *cf, int timeout_ms);
    /* Highest sequence number committed so far (0 when empty), or -EIO. */
    int64_t (*head)(struct changefeed *cf);
    /* Calls fn for every entry with sequence > *seq in order and advances
     * *seq. 0, -ESTALE when entries after *seq were already pruned (reload
     * everything), -EIO, or fn's non-zero return. */
    int (*read)(struct changefeed *cf, int64_t *seq, changefeed_fn fn, void *ctx);
    /* Feed thread: records that this node has applied everything up to
     * applied and renews its lease until lease_ms from now; *head receives
     * the head as of that moment (when it is above applied, the node was not
     * current after all and must read again before trusting the renewal).
     * 0 or -EIO. NULL when there are no leases (one machine). */
    int (*heartbeat)(struct changefeed *cf, int64_t applied, int64_t *head);
    /* Deletes entries older than max_age_ms. Feed thread, now and then. */
    int (*prune)(struct changefeed *cf, int64_t max_age_ms);
    /* After the feed thread stopped; on PostgreSQL this also withdraws the
     * node, so writers stop waiting for it. */
    void (*close)(struct changefeed *cf);
};

struct changefeed {
    const struct changefeed_ops *ops;
    int lease_ms; /* 0: no lease (the index is current by construction) */
};

/* The SQLite feed of the database file db_path (after migrations). */
struct changefeed *changefeed_sqlite_open(const char *db_path);
/* The PostgreSQL feed: registers this node (applied 0, a lease) before
 * returning, so writers from then on wait for it. */
struct changefeed *changefeed_pg_open(const char *url, const struct changefeed_config *cfg);

#endif
