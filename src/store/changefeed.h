/* A feed of committed account/token changes made by any process (the server's
 * own workers, CLI commands writing the database directly, other nodes), so
 * the in-memory token index can stay exact without reading storage per check.
 * Threading: every function may be called from any thread; changefeed_poll
 * keeps one cheap per-thread probe so that "nothing changed" costs no lock. */
#ifndef TESSERA_CHANGEFEED_H
#define TESSERA_CHANGEFEED_H

#include <stdbool.h>
#include <stdint.h>

enum changefeed_kind { CHANGE_ACCOUNT = 1, CHANGE_TOKEN = 2 };

struct changefeed;

/* Opens the feed of the SQLite database in data_dir (after migrations):
 * installs, if missing, the change_log table and the triggers that append to
 * it on every write to accounts and tokens. NULL on failure (logged). */
struct changefeed *changefeed_sqlite_open(const char *data_dir);
/* True when the database may have changed since this thread last asked
 * (PRAGMA data_version on the thread's probe connection). Errors say true. */
bool changefeed_maybe_changed(struct changefeed *cf);
/* Highest sequence number written so far (0 when empty), or -EIO. */
int64_t changefeed_head(struct changefeed *cf);
/* Calls fn for every change with sequence > *seq in order and advances *seq.
 * Returns 0, -ESTALE when entries after *seq were already pruned (the caller
 * must reload everything), -EIO, or fn's non-zero return. key_id is the
 * account id for CHANGE_ACCOUNT and the owning account for CHANGE_TOKEN;
 * token_id is "" for accounts. */
int changefeed_read(struct changefeed *cf, int64_t *seq,
                    int (*fn)(void *ctx, enum changefeed_kind kind, int64_t account_id,
                              const char *token_id),
                    void *ctx);
/* Start-up bulk read: calls fn for every live token (id, account, usage,
 * scopes, allowed_urls, secret hash, default flag, expiry, created; no note
 * or public token) in one sequential scan of the table, which is several
 * times faster than the store's id-ordered pages. Main thread, before
 * serving. 0, -EIO, or fn's non-zero return. */
struct token_record;
int changefeed_load_tokens(struct changefeed *cf,
                           int (*fn)(void *ctx, const struct token_record *t), void *ctx);
/* Deletes entries older than max_age_ms. Called now and then from the write
 * path (worker threads), never from a check. */
int changefeed_prune(struct changefeed *cf, int64_t max_age_ms);
/* After every thread that used the feed has stopped. NULL is a no-op. */
void changefeed_close(struct changefeed *cf);

#endif
