/* The storage interface. Handlers, the CLI and the token index talk only to
 * these ops; a driver implements them: store_sqlite.c (embedded, one machine)
 * and store_pg.c (PostgreSQL, several nodes). store_open picks the driver from
 * the database URL, in this one place.
 *
 * Threading: every operation may be called from any thread concurrently.
 * Writes are durable when they return 0 (an acknowledged write survives
 * kill -9); on PostgreSQL a write to accounts or tokens also returns only
 * once every live node has applied it (pg_barrier). Times are ms since the
 * epoch.
 * Return values: 0, or -ENOENT (no such row), -EEXIST / -EADDRINUSE (unique
 * conflicts, see each op), -EPERM (see refresh_rotate), -EINVAL (a value the
 * driver cannot store: a list name holding a separator; on PostgreSQL, text
 * that is not UTF-8, which lookups answer with -ENOENT), -EIO (backend
 * error, already logged). */
#ifndef TESSERA_STORE_H
#define TESSERA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/crypto.h"
#include "util/strlist.h"
#include "auth/token.h"
#include "store/changefeed.h"

#define ACCOUNT_USERNAME_MAX 32
#define ACCOUNT_EMAIL_MAX 254
#define ACCOUNT_NAME_MAX 150
#define TOKEN_NOTE_MAX 256
#define SCOPE_ID_MAX 64
#define GROUP_NAME_MAX 64
#define DESCRIPTION_MAX 256

struct account {
    int64_t id;
    char username[ACCOUNT_USERNAME_MAX + 1];
    char email[ACCOUNT_EMAIL_MAX + 1];
    char password_hash[128];
    char first_name[ACCOUNT_NAME_MAX + 1];
    char last_name[ACCOUNT_NAME_MAX + 1];
    char organization[ACCOUNT_NAME_MAX + 1];
    struct strlist groups; /* owned */
    struct strlist scopes; /* owned: granted scopes, the ceiling of every token */
    bool is_active;
    bool is_staff;
    int64_t created;
    int64_t updated;
    /* Session JWTs issued before this instant are dead (logout, password
     * change, deactivation). 0 = none. */
    int64_t sessions_valid_after;
};

struct token_record {
    char id[TOKEN_ID_LEN + 1];
    int64_t account_id;
    enum token_kind usage; /* TOKEN_PK or TOKEN_SK */
    char note[TOKEN_NOTE_MAX + 1];
    struct strlist scopes;       /* owned */
    struct strlist allowed_urls; /* owned */
    struct strlist resources;    /* owned: resource bounds (auth/resources.h), empty = none */
    uint8_t secret_hash[CRYPTO_MAC_LEN];
    char *public_token; /* owned; the full token string for pk only (pk may be listed again) */
    bool is_default;
    int64_t expires_at; /* 0 = never */
    int64_t created;
    int64_t modified;
    int64_t last_used_at; /* 0 = never */
    int64_t revoked_at;   /* 0 = live */
    /* Rotated: the token that replaced it ("" = none). Such a token works
     * until expires_at (the end of its grace period), then counts as
     * revoked. */
    char replaced_by[TOKEN_ID_LEN + 1];
};

/* A token's last use, for token_touch. */
struct token_use {
    char id[TOKEN_ID_LEN + 1];
    int64_t at; /* ms */
};

struct refresh_record {
    char jti[33];
    char family[33];
    int64_t account_id;
    int64_t expires_at;
};

struct scope_def {
    char id[SCOPE_ID_MAX + 1];
    char description[DESCRIPTION_MAX + 1];
    bool is_public;
};

struct group_def {
    char name[GROUP_NAME_MAX + 1];
    char description[DESCRIPTION_MAX + 1];
};

/* One entry of the append-only audit trail. Never a secret: no password,
 * token string or key ever goes in. Text fields are cut to their size. */
#define AUDIT_TEXT_MAX 160
struct audit_event {
    int64_t id;          /* set by the store: increasing */
    int64_t at;          /* ms */
    char kind[32];       /* "signin", "token.revoke", ... (audit.h) */
    char actor[64];      /* who acted: "session", "token:ID", "cli", "anonymous" */
    int64_t account_id;  /* whose account, 0 = none known */
    char token_id[TOKEN_ID_LEN + 1];
    char client[64];     /* client address */
    char user_agent[AUDIT_TEXT_MAX + 1];
    char request_id[65];
    char detail[AUDIT_TEXT_MAX + 1];
};

struct audit_query {
    int64_t account_id; /* < 0: every account */
    int64_t since;      /* ms, 0 = from the start */
    int64_t before_id;  /* 0 = from the newest; else those after this event (paging) */
    size_t limit;       /* 1.. */
};

/* A notice to a token's owner (notices.h): its expiry is near, or came.
 * One per (token, kind, expiry), whichever node saw it first. It is shown
 * on the account's pages until dismissed, and posted to the webhook when
 * one is configured. */
enum notice_delivery {
    NOTICE_NO_WEBHOOK, /* none was configured when the notice was made */
    NOTICE_PENDING,
    NOTICE_DELIVERED,
    NOTICE_FAILED,    /* every attempt failed */
    NOTICE_CANCELLED, /* the token was revoked, rotated or re-dated first */
};

struct notice {
    int64_t id; /* set by the store */
    int64_t account_id;
    char token_id[TOKEN_ID_LEN + 1];
    char kind[24];            /* NOTICE_TOKEN_EXPIRING / NOTICE_TOKEN_EXPIRED */
    int64_t token_expires_at; /* ms: the expiry the notice is about */
    int64_t created;          /* ms */
    int64_t dismissed_at;     /* ms, 0 = shown */
    enum notice_delivery delivery;
    int attempts;
    int64_t next_attempt_at; /* ms */
};

enum token_sort { TOKEN_SORT_CREATED, TOKEN_SORT_MODIFIED };

struct token_query {
    int64_t account_id;
    int usage;        /* -1 any, else TOKEN_PK / TOKEN_SK */
    int is_default;   /* -1 any, 0, 1 */
    enum token_sort sortby;
    const char *start_after; /* token id or NULL: keyset pagination */
    size_t limit;
};

struct store;
struct changefeed;

struct store_ops {
    int (*migrate)(struct store *st);
    int (*schema_version)(struct store *st);
    int (*ping)(struct store *st);
    void (*close)(struct store *st);

    /* Sets a->id, a->created, a->updated. first_token (may be NULL) is
     * inserted in the same transaction, with its account_id set to the new
     * id: both are stored or neither. -EEXIST: e-mail taken (compared
     * case-insensitively); -EADDRINUSE: username taken. */
    int (*account_create)(struct store *st, struct account *a, struct token_record *first_token);
    int (*account_get_by_id)(struct store *st, int64_t id, struct account *out);
    int (*account_get_by_email)(struct store *st, const char *email, struct account *out);
    int (*account_get_by_username)(struct store *st, const char *username, struct account *out);
    /* Writes every mutable field of a (password hash, names, groups, scopes,
     * flags, sessions_valid_after) and sets a->updated. */
    int (*account_update)(struct store *st, struct account *a);
    /* Calls fn for every account in id order; stops early when fn returns
     * non-zero and returns that value. */
    int (*account_each)(struct store *st, int (*fn)(void *ctx, const struct account *a),
                        void *ctx);

    int (*scope_add)(struct store *st, const struct scope_def *s); /* -EEXIST */
    /* *out is malloc'd (caller frees), sorted by id. */
    int (*scope_list)(struct store *st, struct scope_def **out, size_t *n);
    int (*group_add)(struct store *st, const struct group_def *g); /* -EEXIST */
    int (*group_list)(struct store *st, struct group_def **out, size_t *n);

    int (*token_insert)(struct store *st, const struct token_record *t); /* -EEXIST on id */
    /* Returns revoked tokens too (revoked_at != 0) so callers can tell
     * "revoked" from "unknown". */
    int (*token_get)(struct store *st, const char *id, struct token_record *out);
    /* Live tokens of q->account_id in (sort key, id) order after
     * q->start_after; *out is malloc'd, free with token_records_free.
     * start_after may name a revoked token of the account: revoked rows keep
     * their place, so a client paging while tokens are deleted neither skips
     * nor repeats. -ENOENT when it is unknown or another account's. */
    int (*token_list)(struct store *st, const struct token_query *q, struct token_record **out,
                      size_t *n);
    /* Writes note, scopes, allowed_urls, resources, expires_at and modified of a live
     * token. */
    int (*token_update)(struct store *st, const struct token_record *t);
    /* Rotation, in one transaction: inserts fresh (a new token of the same
     * account, whose account_id is set here) and marks the live, not yet
     * rotated token old_id of account_id replaced by it, working until
     * valid_until (or its own earlier expiry); the default flag moves to
     * fresh. -ENOENT when old_id is not such a token. */
    int (*token_rotate)(struct store *st, const char *old_id, int64_t account_id,
                        struct token_record *fresh, int64_t valid_until);
    /* Marks a live token of that account revoked now. -ENOENT otherwise. */
    int (*token_revoke)(struct store *st, const char *id, int64_t account_id);
    /* Records a temporary token (stateless, auth/token.h) of that account
     * revoked, by the id of its MAC (token_temp_id), until expires_at (ms),
     * when it would end anyway. token_get and token_each then give it as a
     * revoked token of usage TOKEN_TK, and every node applies it as a token
     * change. -EEXIST when it is already. */
    int (*token_revoke_temp)(struct store *st, const char *id, int64_t account_id,
                             int64_t expires_at);
    /* Records last uses in one batch: each token's last_used_at becomes the
     * later of its stored value and the given one (several nodes: the newest
     * wins). Not an access change: no change-log entry, no wait for other
     * nodes. Unknown ids are skipped. */
    int (*token_touch)(struct store *st, const struct token_use *uses, size_t n);
    /* Calls fn for every live token, and every revoked temporary token
     * that has not expired yet, in one sequential scan (the start-up
     * load of the token index: a million rows in well under a second). The
     * records passed carry everything but the note and the public token
     * string. fn runs while the scan is open: it may read the store, never
     * write it. Stops early when fn returns non-zero and returns that. */
    int (*token_each)(struct store *st, int (*fn)(void *ctx, const struct token_record *t),
                      void *ctx);

    int (*refresh_insert)(struct store *st, const struct refresh_record *r);
    /* In one transaction: if old_jti is the active member of its family, mark
     * it used and insert next (same family) → 0. If old_jti was already used
     * or revoked, revoke its whole family → -EPERM (re-use detected).
     * Unknown → -ENOENT. */
    int (*refresh_rotate)(struct store *st, const char *old_jti, const struct refresh_record *next);
    /* True-ish lookup: 0 when jti exists and is active, -EPERM when used or
     * revoked, -ENOENT when unknown. */
    int (*refresh_check)(struct store *st, const char *jti, struct refresh_record *out);
    int (*refresh_revoke_family)(struct store *st, const char *family);
    int (*refresh_revoke_account)(struct store *st, int64_t account_id);

    /* The audit trail. append stores the events in one transaction (their
     * id is assigned, their at kept: it must be set); list returns the
     * matching events newest first by time, then id (*out malloc'd, caller
     * frees); prune deletes those older than before_ms. */
    int (*audit_append)(struct store *st, const struct audit_event *v, size_t n);
    int (*audit_list)(struct store *st, const struct audit_query *q, struct audit_event **out,
                      size_t *n);
    int (*audit_prune)(struct store *st, int64_t before_ms);

    /* Live, not rotated tokens whose expiry is in (from, until] and that
     * have no notice of that kind for that expiry, in expiry order: fn gets
     * id, account and expiry; stops when fn returns non-zero and returns
     * that. Served by an index on expires_at. */
    int (*token_expiring)(struct store *st, const char *kind, int64_t from, int64_t until,
                          int (*fn)(void *ctx, const char *id, int64_t account_id,
                                    int64_t expires_at),
                          void *ctx);
    /* Notices. add sets n->id and created; -EEXIST when the token already has
     * one of that kind for that expiry. list: the account's notices not
     * dismissed whose token is live and still expires at the time they
     * name, newest first (*out malloc'd, caller frees). dismiss: -ENOENT
     * unless it is the account's. claim: up to max pending deliveries due by
     * now that no node holds, held for lease_ms (so one node posts each);
     * delivered records the outcome of an attempt and releases the claim. */
    int (*notice_add)(struct store *st, struct notice *n);
    int (*notice_list)(struct store *st, int64_t account_id, struct notice **out, size_t *n);
    int (*notice_dismiss)(struct store *st, int64_t id, int64_t account_id);
    int (*notice_claim)(struct store *st, int64_t now, int64_t lease_ms, size_t max,
                        struct notice **out, size_t *n);
    int (*notice_delivered)(struct store *st, int64_t id, enum notice_delivery state,
                            int attempts, int64_t next_attempt_at);

    /* One-time password reset links: only a keyed hash of a link's secret
     * is stored. insert also deletes links that expired a day ago. use, when
     * the link is unused and not expired at now, marks it and every other
     * link of its account used and sets *account_id: 0; -ENOENT for an
     * unknown link, -EPERM for a used or expired one. */
    int (*reset_insert)(struct store *st, const uint8_t hash[CRYPTO_MAC_LEN], int64_t account_id,
                        int64_t expires_at);
    int (*reset_use)(struct store *st, const uint8_t hash[CRYPTO_MAC_LEN], int64_t now,
                     int64_t *account_id);

    /* The driver's feed of committed account/token/catalog changes, for a
     * serving node's token index (changefeed.h). Call after migrate. NULL on
     * failure (logged). The caller closes it before the store. */
    struct changefeed *(*feed_open)(struct store *st, const struct changefeed_config *cfg);
    /* Keys every node must share (jwt.key, token.key). given = false: reads
     * the key called name from the database, creating it once if missing.
     * given = true: key came from a configured file; checks it against the
     * fingerprint the database recorded (recording it the first time).
     * -EKEYREJECTED when the fingerprints differ; -ENOKEY (given = false)
     * when other nodes were given the key from a file, which the database
     * records by fingerprint only. -ENOTSUP for a driver whose keys live in
     * the data directory (SQLite: one machine). */
    int (*key_shared)(struct store *st, const char *name, uint8_t key[CRYPTO_KEY_LEN], bool given);
    /* Counts one hit of key in the current fixed window of window_s
     * seconds: 0 when within limit, else the seconds until the window ends.
     * -ENOTSUP for a driver whose throttles are the process's own counters
     * (SQLite). A failure counts as within limit (logged): throttling never
     * locks users out because the database hiccupped. */
    int (*throttle_hit)(struct store *st, const char *key, unsigned limit, int window_s);
    /* A value set once for the whole deployment (e.g. "instance", the
     * marker in its tokens): stores value under name unless the database
     * holds one already, and copies the stored one (value itself, the first
     * time) into out, so every node and process on one database agrees.
     * Names and values are short printable text. -ENAMETOOLONG when the
     * stored value does not fit in size. */
    int (*meta_ensure)(struct store *st, const char *name, const char *value, char *out,
                       size_t size);
};

struct store {
    const struct store_ops *ops;
};

/* The one place that picks a driver: database_url "postgresql://..." or
 * "postgres://..." → PostgreSQL; "sqlite:PATH" or a plain PATH → the SQLite
 * file PATH; NULL or "" → data_dir/tessera.db. Does not migrate. NULL on
 * failure (logged, never with a password). */
struct store *store_open(const char *database_url, const char *data_dir);
/* The drivers themselves (tests and the bench loader use them directly). */
struct store *store_sqlite_open(const char *db_path); /* creates missing directories */
struct store *store_pg_open(const char *url);

void account_free(struct account *a);
void token_record_free(struct token_record *t);
void token_records_free(struct token_record *v, size_t n);

#endif
