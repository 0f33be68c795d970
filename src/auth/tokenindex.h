/* The in-memory verification index: every stored token (id → keyed hash,
 * account, usage, scopes, expiry, allowedUrls, resources, revoked state) and the account
 * state a check needs (active, username, groups, granted scopes, logout
 * watermark, staff flag), so that checking a pk/sk/tk or a session JWT reads
 * no storage. A member of the serving app (app->index); kept exact by
 * auth/indexsync.c, which applies every committed change and sets the
 * freshness gate every lookup passes first.
 *
 * Threading: lookups from any thread concurrently (read lock); updates take
 * the write lock only for the in-memory mutation (their callers serialise
 * them and read storage without any lock held). */
#ifndef TESSERA_TOKENINDEX_H
#define TESSERA_TOKENINDEX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth/token.h"
#include "store/store.h"
#include "util/strlist.h"

struct tokenindex;

/* Read-only views handed to lookup callbacks. Pointers are valid only while
 * the callback runs (the read lock is held); copy what you keep. */
struct tokenindex_account {
    /* The index's state this view belongs to: it moves with every write, so
     * two views with the same value saw the same records and lists. */
    uint64_t generation;
    int64_t id;
    const char *username;
    bool is_active;
    bool is_staff;
    int64_t sessions_valid_after; /* ms; sessions issued before are dead */
    const struct strlist *groups;
    const struct strlist *scopes; /* granted scopes */
};

struct tokenindex_token {
    const char *id;
    enum token_kind usage; /* TOKEN_PK or TOKEN_SK */
    bool revoked;
    bool is_default;
    bool replaced;              /* rotated: dead once expires_at (its grace) is past */
    const uint8_t *secret_hash; /* CRYPTO_MAC_LEN bytes */
    int64_t expires_at;         /* ms, 0 = never */
    int64_t created;            /* ms */
    const struct strlist *scopes;
    const struct strlist *allowed_urls;
    const struct strlist *resources; /* resource bounds, empty = none */
    atomic_uint_least32_t *used_s; /* for tokenindex_note_use only */
};

typedef int (*tokenindex_token_fn)(void *ctx, const struct tokenindex_token *t,
                                   const struct tokenindex_account *a);
typedef int (*tokenindex_account_fn)(void *ctx, const struct tokenindex_account *a);

struct tokenindex *tokenindex_create(void);
void tokenindex_destroy(struct tokenindex *ix);

/* The freshness gate: called before every lookup, on the caller's thread.
 * It returns 0 once the index reflects every change committed before the
 * call (waiting, if need be, for the feed thread to apply it), or -EAGAIN
 * when the index cannot be trusted now (lease run out): the lookup then
 * fails with -EAGAIN and the caller answers 503. No gate = always fresh. */
typedef int (*tokenindex_gate_fn)(void *ctx);
void tokenindex_set_gate(struct tokenindex *ix, tokenindex_gate_fn gate, void *ctx);

/* Lookups: pass the gate, then call fn under the read lock. -ENOENT when not
 * indexed, -EAGAIN (see the gate), else fn's return value. A token's account
 * is always passed along. */
int tokenindex_token_view(struct tokenindex *ix, const char *id, tokenindex_token_fn fn, void *ctx);
int tokenindex_account_view(struct tokenindex *ix, int64_t account_id, tokenindex_account_fn fn,
                            void *ctx);
/* Several lookups under one gate and one read lock: one consistent state
 * for a check that needs more than one record (a tk: its account, its
 * parent and its own revocation). -EAGAIN (see the gate), else fn's return
 * value. The reader and every view it gives are valid only inside fn. */
struct tokenindex_reader;
typedef int (*tokenindex_read_fn)(void *ctx, const struct tokenindex_reader *rd);
int tokenindex_read(struct tokenindex *ix, tokenindex_read_fn fn, void *ctx);
/* Inside tokenindex_read: a token with its account; an account by id, or by
 * username when username is not NULL. False when not indexed. */
bool tokenindex_reader_token(const struct tokenindex_reader *rd, const char *id,
                             struct tokenindex_token *t, struct tokenindex_account *a);
bool tokenindex_reader_account(const struct tokenindex_reader *rd, int64_t account_id,
                               const char *username, struct tokenindex_account *a);
/* The whole account record (e-mail, password hash and names included) by id,
 * or by username when username is not NULL. Passes the gate. 0, -ENOENT,
 * -EAGAIN or -ENOMEM; out is the caller's (account_free). */
int tokenindex_account_get(struct tokenindex *ix, int64_t id, const char *username,
                           struct account *out);

/* Updates. put_* insert or replace (a token with revoked_at != 0 stays
 * indexed as revoked); put_token returns -ENOENT when its account is not
 * indexed. kill_* mark a record that vanished from storage dead (fail
 * closed). adopt swaps in the contents of fresh, a privately built index
 * (the full reload), and destroys fresh. */
int tokenindex_put_account(struct tokenindex *ix, const struct account *a);
int tokenindex_put_token(struct tokenindex *ix, const struct token_record *t);
void tokenindex_kill_account(struct tokenindex *ix, int64_t account_id);
void tokenindex_kill_token(struct tokenindex *ix, const char *token_id);
void tokenindex_adopt(struct tokenindex *ix, struct tokenindex *fresh);

/* Last use. A check that accepted a stored token notes it, in memory only
 * (from the lookup callback, under the read lock); the feed thread takes
 * the uses not yet written (tokenindex_take_uses, marking them taken) and
 * stores them in batches (store op token_touch). Times are ms, kept to the
 * second; 0 = never. */
void tokenindex_note_use(const struct tokenindex_token *t, int64_t now_ms);
size_t tokenindex_take_uses(struct tokenindex *ix, struct token_use *out, size_t max);
/* The last use this node knows of (0 = none or unknown token). */
int64_t tokenindex_last_used(struct tokenindex *ix, const char *id);

/* Counts for /metrics. tokens = every indexed token (live and
 * revoked-since-start); live_pk / live_sk exclude revoked ones (expiry is not
 * considered: an expired token is still stored). */
struct tokenindex_counts {
    size_t tokens, live_pk, live_sk, accounts;
};
void tokenindex_stats(struct tokenindex *ix, struct tokenindex_counts *out);

#endif
