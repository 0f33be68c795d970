/* The PostgreSQL driver's one-time password reset links: insert (pruning old
 * ones) and use-once, the latter under a row lock so two nodes cannot both
 * spend one link. Not access changes: no change note (the password change
 * that follows a use is one). Any thread. */
#include <errno.h>
#include <stdio.h>

#include "store/store_pg_int.h"

int pgstore_reset_insert(struct store *st, const uint8_t hash[CRYPTO_MAC_LEN], int64_t account_id,
                         int64_t expires_at)
{
    struct pg_store *ps = to_pg(st);
    char h[2 * CRYPTO_MAC_LEN + 3], acc[24], exp[24];
    pg_bytea_param(hash, CRYPTO_MAC_LEN, h);
    const char *params[] = {h, pg_int_param(account_id, acc), pg_int_param(expires_at, exp)};
    PGconn *c = pg_acquire(ps->pool);
    if (!c)
        return -EIO;
    int rc = pg_begin(c);
    if (rc == 0)
        rc = pg_exec(c, "DELETE FROM password_resets WHERE expires_at < " DB_NOW_MS " - 86400000",
                     0, NULL, NULL);
    if (rc == 0)
        rc = pg_exec(c,
                     "INSERT INTO password_resets (token_hash, account_id, created, expires_at)"
                     " VALUES ($1::bytea, $2, " DB_NOW_MS ", $3)",
                     3, params, NULL);
    return pgstore_write_end(ps, c, rc, false);
}

int pgstore_reset_use(struct store *st, const uint8_t hash[CRYPTO_MAC_LEN], int64_t now,
                      int64_t *account_id)
{
    struct pg_store *ps = to_pg(st);
    char h[2 * CRYPTO_MAC_LEN + 3], t[24], acc[24];
    pg_bytea_param(hash, CRYPTO_MAC_LEN, h);
    const char *params[] = {h};
    PGconn *c = pg_acquire(ps->pool);
    if (!c)
        return -EIO;
    int rc = pg_begin(c);
    PGresult *r = rc == 0 ? pg_query(c,
                                     "SELECT account_id, expires_at, used_at FROM password_resets"
                                     " WHERE token_hash = $1::bytea FOR UPDATE",
                                     1, params, NULL)
                          : NULL;
    if (rc == 0 && !r)
        rc = -EIO;
    if (rc == 0 && PQntuples(r) == 0)
        rc = -ENOENT;
    if (rc == 0) {
        *account_id = pg_get_int64(r, 0, 0);
        rc = pg_get_int64(r, 0, 2) || pg_get_int64(r, 0, 1) <= now ? -EPERM : 0;
    }
    if (r)
        PQclear(r);
    if (rc == 0) {
        /* The link is spent, and so is every other link of the account. */
        const char *mark[] = {pg_int_param(*account_id, acc), pg_int_param(now, t)};
        rc = pg_exec(c,
                     "UPDATE password_resets SET used_at = $2 WHERE account_id = $1"
                     " AND used_at = 0",
                     2, mark, NULL);
    }
    return pgstore_write_end(ps, c, rc, false);
}
