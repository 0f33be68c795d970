/* Keeps a serving node's token index (tokenindex.h) exact: loads it from the
 * store at start-up, then follows the driver's change feed on a background
 * thread (the feed thread), applies this process's own writes before they
 * return (write-through), and answers the index's freshness gate:
 *  - one machine (SQLite, no lease): a lookup that finds the database changed
 *    wakes the feed thread and waits until it has applied the change, so a
 *    CLI command's revocation holds from the very next request;
 *  - several nodes (PostgreSQL, a lease): the feed thread renews the node's
 *    lease with each heartbeat that proves it current; a lookup after the
 *    lease ran out fails (-EAGAIN, answered 503) rather than trust a stale
 *    index. Writers wait for every live node (pg_barrier), so a lookup with a
 *    live lease needs no storage read at all.
 * No HTTP thread ever reads the change log or reloads the index.
 * Threading: indexsync_written and the gate from any thread; start and stop
 * on the main thread. */
#ifndef TESSERA_INDEXSYNC_H
#define TESSERA_INDEXSYNC_H

#include <stdbool.h>
#include <stdint.h>

struct changefeed;
struct store;
struct tokenindex;
struct indexsync;

struct indexsync_hooks {
    /* Called on the feed thread for each catalog change applied (the STAC
     * page cache must forget what it built). May be NULL. */
    void (*catalog_changed)(void *ctx);
    void *ctx;
    /* How often the feed thread writes the tokens' last uses to storage
     * (and once more at stop); 0 = every 10 s. */
    int last_used_interval_ms;
};

/* Loads ix from backend (every account and live token), makes the node
 * current (on PostgreSQL: a first heartbeat, so the lease is live), installs
 * the gate on ix and starts the feed thread. Takes ownership of cf (closed by
 * indexsync_stop, or here on failure). NULL on failure (logged). */
struct indexsync *indexsync_start(struct tokenindex *ix, struct store *backend,
                                  struct changefeed *cf, const struct indexsync_hooks *hooks);
/* Stops and joins the feed thread, writes the last uses not yet stored,
 * removes the gate, closes the feed (on
 * PostgreSQL this withdraws the node, so writers stop waiting for it). After
 * every HTTP and worker thread has stopped. NULL is a no-op. */
void indexsync_stop(struct indexsync *s);

/* After this process committed a write: re-reads the changed rows into the
 * index before the write is acknowledged. account_id 0 / token_id NULL when
 * not concerned. A failure kills the cached entries (fail closed) and has the
 * feed thread reload. Any thread. */
void indexsync_written(struct indexsync *s, int64_t account_id, const char *token_id);

/* True while the index may be trusted (always, without a lease). */
bool indexsync_current(struct indexsync *s);

#endif
