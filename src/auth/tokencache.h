/* The in-memory verification index: every stored token (id → keyed hash,
 * account, usage, scopes, expiry, allowedUrls, revoked state) and the account
 * state a check needs (active, username, groups, granted scopes, logout
 * watermark, staff flag), so that checking a pk/sk/tk or a session JWT reads
 * no storage. It lives behind a caching store wrapper: every write goes to the
 * backend first and, once committed, is re-read into the index in the same
 * call, so a revocation is visible to the very next request; writes by other
 * processes (CLI commands) arrive through the change feed, which each lookup
 * probes first (one PRAGMA data_version on the thread's connection).
 *
 * Threading: lookups from any thread concurrently (read lock); index updates
 * are serialised by a writer mutex and take the write lock only for the
 * in-memory mutation, never across a storage call. */
#ifndef TESSERA_TOKENCACHE_H
#define TESSERA_TOKENCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "util/strlist.h"
#include "auth/token.h"

struct changefeed;
struct tokencache;

/* Read-only views handed to lookup callbacks. Pointers are valid only while
 * the callback runs (the read lock is held); copy what you keep. */
struct tokencache_account {
    int64_t id;
    const char *username;
    bool is_active;
    bool is_staff;
    int64_t sessions_valid_after; /* ms; sessions issued before are dead */
    const struct strlist *groups;
    const struct strlist *scopes; /* granted scopes */
};

struct tokencache_token {
    const char *id;
    enum token_kind usage; /* TOKEN_PK or TOKEN_SK */
    bool revoked;
    bool is_default;
    const uint8_t *secret_hash; /* CRYPTO_MAC_LEN bytes */
    int64_t expires_at;         /* ms, 0 = never */
    int64_t created;            /* ms */
    const struct strlist *scopes;
    const struct strlist *allowed_urls;
};

typedef int (*tokencache_token_fn)(void *ctx, const struct tokencache_token *t,
                                   const struct tokencache_account *a);
typedef int (*tokencache_account_fn)(void *ctx, const struct tokencache_account *a);

/* Wraps backend (taking ownership: closing the wrapper closes it) and loads
 * the index from backend->ops->account_each / token_each. cf (owned, may be
 * NULL) reports writes made by other processes. NULL on failure (logged;
 * backend and cf are then closed). */
struct store *store_cached_wrap(struct store *backend, struct changefeed *cf);
/* The index behind a wrapper, or NULL when st is not one. Any thread. */
struct tokencache *store_cached_index(struct store *st);

/* Lookups: bring the index up to date with the change feed (cheap when
 * nothing changed), then call fn under the read lock. Return -ENOENT when not
 * indexed, else fn's return value. A token's account is always passed. */
int tokencache_token_view(struct tokencache *tc, const char *id, tokencache_token_fn fn,
                          void *ctx);
int tokencache_account_view(struct tokencache *tc, int64_t account_id, tokencache_account_fn fn,
                            void *ctx);
int tokencache_account_view_by_username(struct tokencache *tc, const char *username,
                                        tokencache_account_fn fn, void *ctx);

/* Counts for /metrics and the loader. tokens = every indexed token (live and
 * revoked-since-start); live_pk / live_sk exclude revoked ones (expiry is
 * not considered: an expired token is still stored). */
struct tokencache_counts {
    size_t tokens, live_pk, live_sk, accounts;
};
void tokencache_stats(struct tokencache *tc, struct tokencache_counts *out);

/* The index alone, for tests: an empty index without a backend, filled with
 * the same update functions the wrapper uses. put_* insert or replace (a
 * token with revoked_at != 0 stays indexed as revoked). */
struct tokencache *tokencache_create(void);
void tokencache_destroy(struct tokencache *tc);
int tokencache_put_account(struct tokencache *tc, const struct account *a);
int tokencache_put_token(struct tokencache *tc, const struct token_record *t);

#endif
