/* The SQLite driver's one-time password reset links: insert (pruning old
 * ones) and use-once in one transaction. Any thread. */
#include <errno.h>

#include "store/driver.h"
#include "store/store_sqlite_int.h"

#define DAY_MS 86400000LL

static int run(struct sqlite_conn *c, const char *sql, const char *what,
               int (*bind)(sqlite3_stmt *s, const void *ctx), const void *ctx)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, &s, NULL) != SQLITE_OK)
        return sq_db_fail(c, what);
    bind(s, ctx);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : sq_db_fail(c, what);
}

struct reset_args {
    const uint8_t *hash;
    int64_t account_id, expires_at, now;
};

static int bind_insert(sqlite3_stmt *s, const void *ctx)
{
    const struct reset_args *a = ctx;
    sqlite3_bind_blob(s, 1, a->hash, CRYPTO_MAC_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, a->account_id);
    sqlite3_bind_int64(s, 3, a->now);
    return sqlite3_bind_int64(s, 4, a->expires_at);
}

static int bind_prune(sqlite3_stmt *s, const void *ctx)
{
    const struct reset_args *a = ctx;
    return sqlite3_bind_int64(s, 1, a->now - DAY_MS);
}

static int bind_mark(sqlite3_stmt *s, const void *ctx)
{
    const struct reset_args *a = ctx;
    sqlite3_bind_int64(s, 1, a->account_id);
    return sqlite3_bind_int64(s, 2, a->now);
}

int sq_reset_insert(struct store *st, const uint8_t hash[CRYPTO_MAC_LEN], int64_t account_id,
                    int64_t expires_at)
{
    struct sqlite_conn *c = sq_conn_get(st);
    if (!c)
        return -EIO;
    struct reset_args a = {hash, account_id, expires_at, sq_now_ms()};
    int rc = sq_tx_begin(c);
    if (rc == 0)
        rc = run(c, "DELETE FROM password_resets WHERE expires_at < ?1", "reset_insert prune",
                 bind_prune, &a);
    if (rc == 0)
        rc = run(c,
                 "INSERT INTO password_resets (token_hash, account_id, created, expires_at)"
                 " VALUES (?1, ?2, ?3, ?4)",
                 "reset_insert", bind_insert, &a);
    if (rc == 0 && (rc = sq_tx_commit(c)) == 0)
        return 0;
    sq_tx_rollback(c);
    return rc;
}

int sq_reset_use(struct store *st, const uint8_t hash[CRYPTO_MAC_LEN], int64_t now,
                 int64_t *account_id)
{
    struct sqlite_conn *c = sq_conn_get(st);
    if (!c)
        return -EIO;
    sqlite3_stmt *s = NULL;
    int rc = sq_tx_begin(c);
    if (rc < 0)
        return rc;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT account_id, expires_at, used_at FROM password_resets"
                           " WHERE token_hash = ?1",
                           -1, &s, NULL) != SQLITE_OK) {
        rc = sq_db_fail(c, "reset_use prepare");
        goto out;
    }
    sqlite3_bind_blob(s, 1, hash, CRYPTO_MAC_LEN, SQLITE_STATIC);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        *account_id = sqlite3_column_int64(s, 0);
        rc = sqlite3_column_int64(s, 2) || sqlite3_column_int64(s, 1) <= now ? -EPERM : 0;
    } else {
        rc = step == SQLITE_DONE ? -ENOENT : sq_db_fail(c, "reset_use");
    }
    sqlite3_finalize(s);
    if (rc < 0)
        goto out;
    /* The link is spent, and so is every other link of the account. */
    struct reset_args a = {.account_id = *account_id, .now = now};
    rc = run(c, "UPDATE password_resets SET used_at = ?2 WHERE account_id = ?1 AND used_at = 0",
             "reset_use mark", bind_mark, &a);
    if (rc == 0 && (rc = sq_tx_commit(c)) == 0)
        return 0;
out:
    sq_tx_rollback(c);
    return rc;
}
