/* Internals shared by the files of the SQLite driver (store_sqlite.c: the
 * connections, migrations, accounts, scopes and groups; store_sqlite_tokens.c:
 * tokens and refresh tokens; store_sqlite_sql.c: the schema and every
 * statement's SQL). Not part of the storage interface. Threading as
 * store_sqlite.c says: a connection and its statements belong to one thread. */
#ifndef TESSERA_STORE_SQLITE_INT_H
#define TESSERA_STORE_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Every statement the backend runs, prepared once per connection on first
 * use. The enum indexes both this table and the per-connection cache. */
enum stmt_id {
    ST_BEGIN_IMMEDIATE,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_PING,
    ST_MIGRATIONS_TABLE_EXISTS,
    ST_MIGRATIONS_CREATE,
    ST_SCHEMA_VERSION,
    ST_MIGRATION_APPLIED,
    ST_MIGRATION_RECORD,
    ST_ACCOUNT_INSERT,
    ST_ACCOUNT_BY_ID,
    ST_ACCOUNT_BY_EMAIL,
    ST_ACCOUNT_BY_USERNAME,
    ST_ACCOUNT_UPDATE,
    ST_ACCOUNT_PAGE,
    ST_SCOPE_INSERT,
    ST_SCOPE_LIST,
    ST_GROUP_INSERT,
    ST_GROUP_LIST,
    ST_TOKEN_INSERT,
    ST_TOKEN_GET,
    ST_TOKEN_CURSOR,
    ST_TOKEN_LIST_CREATED,
    ST_TOKEN_LIST_CREATED_AFTER,
    ST_TOKEN_LIST_MODIFIED,
    ST_TOKEN_LIST_MODIFIED_AFTER,
    ST_TOKEN_UPDATE,
    ST_TOKEN_REVOKE,
    ST_TOKEN_REPLACE,
    ST_TOKEN_TOUCH,
    ST_TOKEN_SCAN,
    ST_TOKEN_REVOKE_TEMP,
    ST_REFRESH_INSERT,
    ST_REFRESH_GET,
    ST_REFRESH_MARK_USED,
    ST_REFRESH_REVOKE_FAMILY,
    ST_REFRESH_REVOKE_ACCOUNT,
    ST_COUNT
};

/* The schema steps (never edit a shipped one: append) and the SQL of each
 * statement, indexed by enum stmt_id. */
extern const char *const sq_migrations[];
extern const int sq_migration_count;
extern const char *const sq_stmt_sql[ST_COUNT];

struct sqlite_store;

struct sqlite_conn {
    sqlite3 *db;
    sqlite3_stmt *stmt[ST_COUNT];
    struct sqlite_store *owner;
    struct sqlite_conn *prev, *next; /* registry, guarded by owner->lock */
};

struct sqlite_store {
    struct store base; /* first member: struct store * casts to this */
    char *path;
    pthread_key_t key;
    pthread_mutex_t lock;
    struct sqlite_conn *conns;
};

/* Helpers (store_sqlite.c). */
int64_t sq_now_ms(void);
/* The calling thread's connection, opened on first use; NULL (logged). */
struct sqlite_conn *sq_conn_get(struct store *st);
/* Logs the connection's last error and returns -EIO. */
int sq_db_fail(struct sqlite_conn *c, const char *what);
/* The cached prepared statement, prepared on first use. */
sqlite3_stmt *sq_stmt_get(struct sqlite_conn *c, enum stmt_id id);
/* Resets a cached statement and clears its bindings. */
void sq_stmt_done(sqlite3_stmt *s);
/* Steps a write statement: 0 when it changed a row, miss_rc when it
 * changed none, -EIO (logged under what) when it failed. */
int sq_step_write(struct sqlite_conn *c, sqlite3_stmt *s, const char *what, int miss_rc);
int sq_tx_begin(struct sqlite_conn *c); /* BEGIN IMMEDIATE */
int sq_tx_commit(struct sqlite_conn *c);
void sq_tx_rollback(struct sqlite_conn *c);
void sq_col_text(sqlite3_stmt *s, int col, char *dst, size_t size);
int sq_col_names(sqlite3_stmt *s, int col, struct strlist *out);
/* Binds a limit where 0 means none (SQLite's LIMIT -1). */
int sq_bind_limit(sqlite3_stmt *s, int idx, size_t limit);
/* Maps the step result of a single INSERT to 0 / -EEXIST / -EIO. */
int sq_insert_result(struct sqlite_conn *c, int step, const char *what);
/* Steps s to the end, reading each row into a growing array of elem-byte
 * records (malloc'd into *out, caller frees); 0 or -errno. */
int sq_collect_rows(struct sqlite_conn *c, sqlite3_stmt *s, size_t elem,
                    int (*read_row)(sqlite3_stmt *s, void *row), const char *what, void **out,
                    size_t *n);

/* Tokens and refresh tokens (store_sqlite_tokens.c). token_insert_on runs
 * inside the caller's transaction (account_create's first token). */
int sq_token_insert_on(struct sqlite_conn *c, const struct token_record *t);
int sq_token_insert(struct store *st, const struct token_record *t);
int sq_token_get(struct store *st, const char *id, struct token_record *out);
int sq_token_list(struct store *st, const struct token_query *q, struct token_record **out,
                  size_t *n);
int sq_token_update(struct store *st, const struct token_record *t);
int sq_token_revoke(struct store *st, const char *id, int64_t account_id);
int sq_token_revoke_temp(struct store *st, const char *id, int64_t account_id, int64_t expires_at);
int sq_token_touch(struct store *st, const struct token_use *uses, size_t n);
int sq_token_rotate(struct store *st, const char *old_id, int64_t account_id,
                    struct token_record *fresh, int64_t valid_until);
int sq_token_each(struct store *st, int (*fn)(void *ctx, const struct token_record *t), void *ctx);
int sq_refresh_insert(struct store *st, const struct refresh_record *r);
int sq_refresh_rotate(struct store *st, const char *old_jti, const struct refresh_record *next);
int sq_refresh_check(struct store *st, const char *jti, struct refresh_record *out);
int sq_refresh_revoke_family(struct store *st, const char *family);
int sq_refresh_revoke_account(struct store *st, int64_t account_id);

/* The audit trail (store_sqlite_audit.c). */
int sq_audit_append(struct store *st, const struct audit_event *v, size_t n);
int sq_audit_list(struct store *st, const struct audit_query *q, struct audit_event **out,
                  size_t *n);
int sq_audit_prune(struct store *st, int64_t before_ms);

/* Expiry notices (store_sqlite_notices.c). */
int sq_token_expiring(struct store *st, const char *kind, int64_t from, int64_t until,
                      int (*fn)(void *ctx, const char *id, int64_t account_id,
                                int64_t expires_at),
                      void *ctx);
int sq_notice_add(struct store *st, struct notice *n);
int sq_notice_list(struct store *st, int64_t account_id, struct notice **out, size_t *n);
int sq_notice_dismiss(struct store *st, int64_t id, int64_t account_id);
int sq_notice_claim(struct store *st, int64_t now, int64_t lease_ms, size_t max,
                    struct notice **out, size_t *n);
/* Password reset links (store_sqlite_resets.c). */
int sq_throttle_hit(struct store *st, const char *key, unsigned limit, int window_s);
int sq_meta_ensure(struct store *st, const char *name, const char *value, char *out, size_t size);
int sq_reset_insert(struct store *st, const uint8_t hash[CRYPTO_MAC_LEN], int64_t account_id,
                    int64_t expires_at);
int sq_reset_use(struct store *st, const uint8_t hash[CRYPTO_MAC_LEN], int64_t now,
                 int64_t *account_id);
int sq_notice_delivered(struct store *st, int64_t id, enum notice_delivery state, int attempts,
                        int64_t next_attempt_at);

#endif
