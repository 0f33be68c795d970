/* The PostgreSQL driver's ops on rows that every node reads from the
 * database itself, so their writes need no change note and no barrier:
 * refresh tokens (rotation with re-use detection, safe across nodes), the
 * keys all nodes share, and throttle counters in fixed windows of the
 * database clock. Threading: any thread, concurrently; each op borrows a
 * pooled connection for its duration. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/driver.h"
#include "store/pg.h"
#include "store/store_pg_int.h"
#include "util/log.h"
#include "util/timeutil.h"

/* Advisory-lock class (the first key of the two-key form, a key space apart
 * from the migration locks) for the refresh tokens of one account. */
#define REFRESH_LOCK_CLASS "1919251317"
/* Every this many throttle hits, the store deletes expired throttle rows. */
#define THROTTLE_PRUNE_EVERY 4096u

/* ------------------------------------------------------------------------ */
/* Refresh tokens                                                           */

int pgstore_refresh_insert(struct store *st, const struct refresh_record *r)
{
    char acc[24], exp[24], now[24];
    const char *params[] = {r->jti, r->family, pg_int_param(r->account_id, acc),
                            pg_int_param(r->expires_at, exp), pg_int_param(time_now_ms(), now)};
    if (!pgstore_texts_ok(params, 2))
        return -EINVAL;
    return pgstore_exec_once(
        to_pg(st),
        "INSERT INTO refresh_tokens (jti, family, account_id, expires_at, state,"
        " created) VALUES ($1, $2, $3, $4, 'active', $5)",
        5, params, NULL);
}

/* Inside c's transaction: waits for the account's refresh-token lock, held to
 * the end of the transaction. Rotations and revocations of one account
 * serialise on it, and each statement after it sees what the one before
 * committed: a rotation's new token can never slip past a concurrent
 * revocation of its family or account (each statement of a READ COMMITTED
 * transaction would otherwise miss rows inserted after it began). */
static int refresh_lock(PGconn *c, int64_t account_id)
{
    char key[24];
    const char *params[] = {pg_int_param((int32_t)(account_id ^ (account_id >> 32)), key)};
    return pg_exec(c, "SELECT pg_advisory_xact_lock(" REFRESH_LOCK_CLASS ", $1::int)", 1, params,
                   NULL);
}

int pgstore_refresh_rotate(struct store *st, const char *old_jti, const struct refresh_record *next)
{
    struct pg_store *ps = to_pg(st);
    if (!old_jti || !store_text_valid(old_jti))
        return -ENOENT;
    if (!store_text_valid(next->jti))
        return -EINVAL;
    PGconn *c = pg_acquire(ps->pool);
    if (!c)
        return -EIO;
    PGresult *r = NULL;
    int rc = -EIO;
    const char *jti[] = {old_jti};
    if (pg_begin(c) < 0 ||
        !(r = pg_query(c, "SELECT account_id FROM refresh_tokens WHERE jti = $1", 1, jti, NULL)))
        goto fail;
    if (PQntuples(r) == 0) {
        rc = -ENOENT;
        goto fail;
    }
    int64_t account = pg_get_int64(r, 0, 0);
    PQclear(r);
    r = NULL;
    if ((rc = refresh_lock(c, account)) < 0)
        goto fail;
    /* Only the active member can be spent, once: of two rotations of one
     * jti, the second finds it used. */
    rc = -EIO;
    r = pg_query(c,
                 "UPDATE refresh_tokens SET state = 'used' WHERE jti = $1 AND state = 'active'"
                 " RETURNING family, account_id",
                 1, jti, NULL);
    if (!r)
        goto fail;
    if (PQntuples(r) == 0) {
        /* Re-use of a spent refresh token: assume it was stolen and kill the
         * whole family, committed before reporting -EPERM. */
        PQclear(r);
        r = NULL;
        rc = pg_exec(c,
                     "UPDATE refresh_tokens SET state = 'revoked'"
                     " WHERE family = (SELECT family FROM refresh_tokens WHERE jti = $1)"
                     " AND state <> 'revoked'",
                     1, jti, NULL);
        if (rc < 0)
            goto fail;
        rc = pgstore_write_end(ps, c, 0, false);
        if (rc == 0)
            log_warn("store: refresh token re-use detected, family of account %lld revoked",
                     (long long)account);
        return rc < 0 ? rc : -EPERM;
    }
    /* The family and the account are inherited from the spent token, whatever
     * the caller put in next, so a rotation can never move a family. */
    char family[sizeof(next->family)], acc[24], exp[24], now[24];
    pgstore_get_text(r, 0, 0, family, sizeof(family));
    const char *params[] = {next->jti, family, pg_int_param(pg_get_int64(r, 0, 1), acc),
                            pg_int_param(next->expires_at, exp), pg_int_param(time_now_ms(), now)};
    rc = pg_exec(c,
                 "INSERT INTO refresh_tokens (jti, family, account_id, expires_at, state, created)"
                 " VALUES ($1, $2, $3, $4, 'active', $5)",
                 5, params, NULL);
    PQclear(r);
    return pgstore_write_end(ps, c, rc, false);
fail:
    PQclear(r);
    pgstore_write_abort(ps, c);
    return rc;
}

int pgstore_refresh_check(struct store *st, const char *jti, struct refresh_record *out)
{
    if (!jti || !store_text_valid(jti))
        return -ENOENT;
    const char *params[] = {jti};
    PGresult *r = pgstore_query_once(
        to_pg(st),
        "SELECT jti, family, account_id, expires_at, state FROM refresh_tokens WHERE jti = $1", 1,
        params);
    if (!r)
        return -EIO;
    int rc = -ENOENT;
    if (PQntuples(r)) {
        memset(out, 0, sizeof(*out));
        pgstore_get_text(r, 0, 0, out->jti, sizeof(out->jti));
        pgstore_get_text(r, 0, 1, out->family, sizeof(out->family));
        out->account_id = pg_get_int64(r, 0, 2);
        out->expires_at = pg_get_int64(r, 0, 3);
        rc = strcmp(PQgetvalue(r, 0, 4), "active") == 0 ? 0 : -EPERM;
    }
    PQclear(r);
    return rc;
}

/* Revokes every refresh token of the account that owns `family` (where
 * family is not NULL) or of account_id, under the account's refresh lock. */
static int refresh_revoke(struct pg_store *ps, const char *family, int64_t account_id)
{
    PGconn *c = pg_acquire(ps->pool);
    if (!c)
        return -EIO;
    int rc = pg_begin(c);
    if (rc == 0 && family) {
        const char *params[] = {family};
        PGresult *r = pg_query(c, "SELECT account_id FROM refresh_tokens WHERE family = $1 LIMIT 1",
                               1, params, NULL);
        rc = !r ? -EIO : PQntuples(r) == 0 ? 1 /* nothing to revoke */ : 0;
        if (rc == 0)
            account_id = pg_get_int64(r, 0, 0);
        PQclear(r);
    }
    if (rc == 0)
        rc = refresh_lock(c, account_id);
    if (rc == 0 && family) {
        const char *params[] = {family};
        rc = pg_exec(c,
                     "UPDATE refresh_tokens SET state = 'revoked'"
                     " WHERE family = $1 AND state <> 'revoked'",
                     1, params, NULL);
    } else if (rc == 0) {
        char acc[24];
        const char *params[] = {pg_int_param(account_id, acc)};
        rc = pg_exec(c,
                     "UPDATE refresh_tokens SET state = 'revoked'"
                     " WHERE account_id = $1 AND state <> 'revoked'",
                     1, params, NULL);
    }
    if (rc == 1) {
        pgstore_write_abort(ps, c);
        return 0;
    }
    return pgstore_write_end(ps, c, rc, false);
}

int pgstore_refresh_revoke_family(struct store *st, const char *family)
{
    if (!family || !store_text_valid(family))
        return 0; /* no such family: nothing to revoke */
    return refresh_revoke(to_pg(st), family, 0);
}

int pgstore_refresh_revoke_account(struct store *st, int64_t account_id)
{
    return refresh_revoke(to_pg(st), NULL, account_id);
}

/* ------------------------------------------------------------------------ */
/* Shared keys and throttles                                                */

/* The hex SHA-256 of a key: what the database records to check that every
 * node was configured with the same key file, without holding the key. */
static int key_fingerprint(const uint8_t key[CRYPTO_KEY_LEN], char out[2 * 32 + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (EVP_Digest(key, CRYPTO_KEY_LEN, md, &len, EVP_sha256(), NULL) != 1 || len != 32) {
        log_error("store: SHA-256 failed");
        return -EIO;
    }
    crypto_hex(md, len, out);
    return 0;
}

int pgstore_key_shared(struct store *st, const char *name, uint8_t key[CRYPTO_KEY_LEN], bool given)
{
    struct pg_store *ps = to_pg(st);
    if (!name || !*name || !store_text_valid(name))
        return -EINVAL;
    uint8_t fresh[CRYPTO_KEY_LEN];
    char hex[2 * CRYPTO_KEY_LEN + 3], fp[2 * 32 + 1];
    PGconn *c = NULL;
    PGresult *r = NULL;
    int rc;
    /* Created once: the first node to get here inserts a random key, every
     * other one (even at the same moment) reads back the row that won. A
     * configured key is recorded by its fingerprint alone. */
    if (!given)
        crypto_random(fresh, sizeof(fresh));
    if ((rc = key_fingerprint(given ? key : fresh, fp)) < 0)
        goto out;
    pg_bytea_param(fresh, sizeof(fresh), hex);
    rc = -EIO;
    if (!(c = pg_acquire(ps->pool)))
        goto out;
    const char *params[] = {name, given ? NULL : hex, fp};
    if (pg_exec(c,
                "INSERT INTO shared_keys (name, key, fingerprint) VALUES ($1, $2::bytea, $3)"
                " ON CONFLICT (name) DO NOTHING",
                3, params, NULL) < 0 ||
        !(r = pg_query(c, "SELECT key, fingerprint FROM shared_keys WHERE name = $1", 1, params,
                       NULL)) ||
        PQntuples(r) != 1)
        goto out;
    if (given) {
        char stored[2 * 32 + 1];
        pgstore_get_text(r, 0, 1, stored, sizeof(stored));
        rc = strlen(stored) == strlen(fp) && crypto_equal(stored, fp, strlen(fp)) ? 0
                                                                                  : -EKEYREJECTED;
        if (rc < 0)
            log_error("store: the configured %s differs from the one the other nodes use"
                      " (fingerprints differ)",
                      name);
    } else if (PQgetisnull(r, 0, 0)) {
        /* Other nodes were given this key from a file, which the database
         * does not hold: this node needs the same file. */
        log_error("store: %s is configured from a file on other nodes; configure it here too",
                  name);
        rc = -ENOKEY;
    } else {
        rc = pg_get_bytea(r, 0, 0, key, CRYPTO_KEY_LEN);
        if (rc < 0)
            log_error("store: the shared %s has the wrong size", name);
    }
out:
    PQclear(r);
    if (c)
        pg_release(ps->pool, c);
    crypto_wipe(fresh, sizeof(fresh));
    crypto_wipe(hex, sizeof(hex));
    return rc;
}

int pgstore_throttle_hit(struct store *st, const char *key, unsigned limit, int window_s)
{
    struct pg_store *ps = to_pg(st);
    if (limit == 0 || window_s <= 0 || !key)
        return 0;
    /* Keys are built from request input; one that is not UTF-8 is counted
     * under its hex form rather than slipping past as a database error. */
    char *hexkey = NULL;
    if (!store_text_valid(key)) {
        size_t len = strlen(key);
        if (!(hexkey = malloc(2 * len + 3)))
            return 0;
        memcpy(hexkey, "x:", 2);
        crypto_hex(key, len, hexkey + 2);
        key = hexkey;
    }
    char window[24];
    const char *params[] = {key, pg_int_param((int64_t)window_s * 1000, window)};
    /* One statement: the fixed window of the database clock (all nodes
     * agree on it), the hit counted in it, and the time left. The count
     * saturates instead of overflowing. */
    PGresult *r = pgstore_query_once(
        ps,
        "WITH n AS (SELECT " DB_NOW_MS " AS now)"
        " INSERT INTO throttle AS t (key, window_start, window_end, count)"
        " SELECT $1, now - now % $2::bigint, now - now % $2::bigint + $2::bigint, 1 FROM n"
        " ON CONFLICT (key) DO UPDATE SET"
        "  count = CASE WHEN t.window_start = EXCLUDED.window_start"
        "   THEN LEAST(t.count, 2147483646) + 1 ELSE 1 END,"
        "  window_start = EXCLUDED.window_start, window_end = EXCLUDED.window_end"
        " RETURNING count, window_end - (SELECT now FROM n)",
        2, params);
    free(hexkey);
    if (!r)
        return 0; /* logged: a database hiccup never locks users out */
    int64_t count = pg_get_int64(r, 0, 0), left_ms = pg_get_int64(r, 0, 1);
    PQclear(r);
    /* Keys that stopped coming would stay forever: now and then, drop the
     * rows whose window is over (a later hit starts a new window anyway). */
    if (atomic_fetch_add_explicit(&ps->throttle_hits, 1, memory_order_relaxed) %
            THROTTLE_PRUNE_EVERY ==
        THROTTLE_PRUNE_EVERY - 1)
        pgstore_exec_once(ps, "DELETE FROM throttle WHERE window_end < " DB_NOW_MS, 0, NULL, NULL);
    if (count <= (int64_t)limit)
        return 0;
    int64_t left_s = (left_ms + 999) / 1000;
    return left_s < 1 ? 1 : left_s > window_s ? window_s : (int)left_s;
}

/* ------------------------------------------------------------------------ */
/* Values set once per deployment                                           */

/* One statement: concurrent first starts of several nodes insert at most
 * one row, and the conflict branch returns the row that won. */
int pgstore_meta_ensure(struct store *st, const char *name, const char *value, char *out,
                        size_t size)
{
    const char *params[] = {name, value};
    if (!pgstore_texts_ok(params, 2))
        return -EINVAL;
    PGresult *r = pgstore_query_once(to_pg(st),
                                     "INSERT INTO meta (name, value) VALUES ($1, $2)"
                                     " ON CONFLICT (name) DO UPDATE SET value = meta.value"
                                     " RETURNING value",
                                     2, params);
    if (!r)
        return -EIO;
    const char *stored = PQgetvalue(r, 0, 0);
    int rc = strlen(stored) < size ? 0 : -ENAMETOOLONG;
    if (rc == 0)
        strcpy(out, stored);
    PQclear(r);
    return rc;
}
