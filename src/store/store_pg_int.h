/* Internals shared by the files of the PostgreSQL storage driver:
 * store_pg.c (schema, accounts, scopes, groups: the writes that note changes
 * and wait for every node), store_pg_tokens.c (tokens, written the same way),
 * store_pg_shared.c (refresh tokens, shared keys, throttles: rows every node
 * reads from the database itself), and store_pg_audit.c, store_pg_notices.c
 * and store_pg_resets.c.
 * Not part of the storage interface. Threading as store.h: any thread. */
#ifndef TESSERA_STORE_PG_INT_H
#define TESSERA_STORE_PG_INT_H

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/pg.h"
#include "store/store.h"

struct pg_store {
    struct store base; /* first member: struct store * casts to this */
    struct pg_pool *pool;
    atomic_uint throttle_hits; /* counts throttle_hit calls, to prune now and then */
};

static inline struct pg_store *to_pg(struct store *st)
{
    return (struct pg_store *)st;
}

/* The database clock in ms, for values that every node must compare alike. */
#define DB_NOW_MS "(extract(epoch from clock_timestamp()) * 1000)::bigint"

/* True when every string of v (NULL entries count as valid) is UTF-8. */
bool pgstore_texts_ok(const char *const *v, size_t n);
bool pgstore_list_ok(const struct strlist *l);
/* A boolean as a text parameter. */
const char *pgstore_bool_param(bool v);
/* A text column into out, cut on a UTF-8 boundary ("" for NULL). */
void pgstore_get_text(const PGresult *r, int row, int col, char *out, size_t size);
/* Borrows a connection, runs one statement and gives it back: the result
 * (caller PQclear) or NULL (-EIO, logged). */
PGresult *pgstore_query_once(struct pg_store *ps, const char *sql, int n,
                             const char *const *params);
/* The same without rows: as pg_exec. */
int pgstore_exec_once(struct pg_store *ps, const char *sql, int n, const char *const *params,
                      int64_t *changed);
/* Ends a write transaction on c (commit when rc is 0, else rollback), gives c
 * back and, after a commit that noted a change, waits for every live node
 * (pg_barrier). Returns rc or the commit's failure. */
int pgstore_write_end(struct pg_store *ps, PGconn *c, int rc, bool noted);
/* Rolls back and gives back c (NULL: no-op). */
void pgstore_write_abort(struct pg_store *ps, PGconn *c);

/* The ops of store_pg_shared.c (see store.h for their contracts). */
int pgstore_refresh_insert(struct store *st, const struct refresh_record *r);
int pgstore_refresh_rotate(struct store *st, const char *old_jti,
                           const struct refresh_record *next);
int pgstore_refresh_check(struct store *st, const char *jti, struct refresh_record *out);
int pgstore_refresh_revoke_family(struct store *st, const char *family);
int pgstore_refresh_revoke_account(struct store *st, int64_t account_id);
int pgstore_key_shared(struct store *st, const char *name, uint8_t key[CRYPTO_KEY_LEN], bool given);
int pgstore_throttle_hit(struct store *st, const char *key, unsigned limit, int window_s);
int pgstore_meta_ensure(struct store *st, const char *name, const char *value, char *out,
                        size_t size);

/* Tokens (store_pg_tokens.c): the token ops of store.h, and what account
 * creation needs to insert the first token in its own transaction. */
bool pgstore_token_storable(const struct token_record *t);
int pgstore_token_insert_on(PGconn *c, const struct token_record *t);
int pgstore_token_insert(struct store *st, const struct token_record *t);
int pgstore_token_rotate(struct store *st, const char *old_id, int64_t account_id,
                         struct token_record *fresh, int64_t valid_until);
int pgstore_token_get(struct store *st, const char *id, struct token_record *out);
int pgstore_token_list(struct store *st, const struct token_query *q, struct token_record **out,
                       size_t *n);
int pgstore_token_update(struct store *st, const struct token_record *t);
int pgstore_token_revoke(struct store *st, const char *id, int64_t account_id);
int pgstore_token_revoke_temp(struct store *st, const char *id, int64_t account_id,
                              int64_t expires_at);
int pgstore_token_touch(struct store *st, const struct token_use *uses, size_t n);
int pgstore_token_each(struct store *st, int (*fn)(void *ctx, const struct token_record *t),
                       void *ctx);

/* The audit trail (store_pg_audit.c). */
int pgstore_audit_append(struct store *st, const struct audit_event *v, size_t n);
int pgstore_audit_list(struct store *st, const struct audit_query *q, struct audit_event **out,
                       size_t *n);
int pgstore_audit_prune(struct store *st, int64_t before_ms);

/* Expiry notices (store_pg_notices.c). */
int pgstore_token_expiring(struct store *st, const char *kind, int64_t from, int64_t until,
                           int (*fn)(void *ctx, const char *id, int64_t account_id,
                                     int64_t expires_at),
                           void *ctx);
int pgstore_notice_add(struct store *st, struct notice *n);
int pgstore_notice_list(struct store *st, int64_t account_id, struct notice **out, size_t *n);
int pgstore_notice_dismiss(struct store *st, int64_t id, int64_t account_id);
int pgstore_notice_claim(struct store *st, int64_t now, int64_t lease_ms, size_t max,
                         struct notice **out, size_t *n);
/* Password reset links (store_pg_resets.c). */
int pgstore_reset_insert(struct store *st, const uint8_t hash[CRYPTO_MAC_LEN], int64_t account_id,
                         int64_t expires_at);
int pgstore_reset_use(struct store *st, const uint8_t hash[CRYPTO_MAC_LEN], int64_t now,
                      int64_t *account_id);
int pgstore_notice_delivered(struct store *st, int64_t id, enum notice_delivery state,
                             int attempts, int64_t next_attempt_at);

#endif
