/* The PostgreSQL driver's tokens (see store_pg.c for the connection model:
 * each op borrows a pooled connection; writes note the change and wait for
 * every live node). Any thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/driver.h"
#include "store/pg.h"
#include "store/store.h"
#include "store/store_pg_int.h"
#include "util/log.h"
#include "util/timeutil.h"

#define TOKEN_COLS                                                                                 \
    "id, account_id, usage, note, scopes, allowed_urls, secret_hash, public_token, is_default, "   \
    "expires_at, created, modified, last_used_at, revoked_at, replaced_by, resources"

/* A revoked temporary token in the shape of TOKEN_COLS. */
#define TEMP_AS_TOKEN                                                                              \
    "SELECT id, account_id, 'tk', '', '', '[]', decode(repeat('00', 32), 'hex'), NULL, false, "    \
    "expires_at, revoked_at, revoked_at, 0, revoked_at, '', '' FROM temp_revocations"

/* token_each fetches the scan's cursor in batches of this many rows, so a
 * million tokens never sit in memory at once. */
#define SCAN_FETCH "10000"

/* ------------------------------------------------------------------------ */
/* Tokens                                                                   */

static int token_from_row(const PGresult *r, int row, struct token_record *t)
{
    memset(t, 0, sizeof(*t));
    pgstore_get_text(r, row, 0, t->id, sizeof(t->id));
    t->account_id = pg_get_int64(r, row, 1);
    const char *usage = PQgetvalue(r, row, 2);
    t->usage = strcmp(usage, "sk") == 0   ? TOKEN_SK
               : strcmp(usage, "tk") == 0 ? TOKEN_TK
                                          : TOKEN_PK;
    pgstore_get_text(r, row, 3, t->note, sizeof(t->note));
    int rc = strlist_split(&t->scopes, PQgetvalue(r, row, 4));
    if (rc < 0)
        goto fail;
    rc = store_urls_from_json(PQgetvalue(r, row, 5), &t->allowed_urls);
    if (rc < 0) {
        if (rc == -EIO)
            log_error("store: token %s has malformed allowed_urls", t->id);
        goto fail;
    }
    if ((rc = pg_get_bytea(r, row, 6, t->secret_hash, CRYPTO_MAC_LEN)) < 0) {
        log_error("store: token %s has a secret hash of the wrong size", t->id);
        goto fail;
    }
    if (!PQgetisnull(r, row, 7) && !(t->public_token = strdup(PQgetvalue(r, row, 7)))) {
        rc = -ENOMEM;
        goto fail;
    }
    t->is_default = pg_get_bool(r, row, 8);
    t->expires_at = pg_get_int64(r, row, 9);
    t->created = pg_get_int64(r, row, 10);
    t->modified = pg_get_int64(r, row, 11);
    t->last_used_at = pg_get_int64(r, row, 12);
    t->revoked_at = pg_get_int64(r, row, 13);
    pgstore_get_text(r, row, 14, t->replaced_by, sizeof(t->replaced_by));
    if ((rc = strlist_split(&t->resources, PQgetvalue(r, row, 15))) < 0)
        goto fail;
    return 0;
fail:
    token_record_free(t);
    return rc;
}

bool pgstore_token_storable(const struct token_record *t)
{
    const char *text[] = {t->id, t->note, t->public_token};
    return (t->usage == TOKEN_PK || t->usage == TOKEN_SK) && store_names_storable(&t->scopes) &&
           pgstore_texts_ok(text, 3) && pgstore_list_ok(&t->scopes) &&
           pgstore_list_ok(&t->allowed_urls) && store_names_storable(&t->resources) &&
           pgstore_list_ok(&t->resources);
}

/* Inserts t on c (inside the caller's transaction): 0, -EEXIST (id taken),
 * -ENOENT (no such account), -EINVAL, -ENOMEM or -EIO. */
int pgstore_token_insert_on(PGconn *c, const struct token_record *t)
{
    if (!pgstore_token_storable(t))
        return -EINVAL;
    int rc = -ENOMEM;
    struct token_texts tx = {NULL, NULL, NULL};
    if (token_texts_of(t, &tx) < 0)
        goto fail;
    int64_t created = t->created ? t->created : time_now_ms();
    char hash[2 * CRYPTO_MAC_LEN + 3], acc[24], exp[24], cre[24], mod[24], used[24], rev[24];
    pg_bytea_param(t->secret_hash, CRYPTO_MAC_LEN, hash);
    const char *params[] = {t->id,
                            pg_int_param(t->account_id, acc),
                            t->usage == TOKEN_SK ? "sk" : "pk",
                            t->note,
                            tx.scopes,
                            tx.urls,
                            hash,
                            t->public_token,
                            pgstore_bool_param(t->is_default),
                            pg_int_param(t->expires_at, exp),
                            pg_int_param(created, cre),
                            pg_int_param(t->modified ? t->modified : created, mod),
                            pg_int_param(t->last_used_at, used),
                            pg_int_param(t->revoked_at, rev),
                            t->replaced_by,
                            tx.resources};
    rc = pg_exec(c,
                 "INSERT INTO tokens (" TOKEN_COLS ") VALUES"
                 " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                 16, params, NULL);
fail:
    token_texts_free(&tx);
    return rc;
}

int pgstore_token_insert(struct store *st, const struct token_record *t)
{
    struct pg_store *ps = to_pg(st);
    if (!pgstore_token_storable(t))
        return -EINVAL;
    PGconn *c = pg_acquire(ps->pool);
    if (!c)
        return -EIO;
    int rc = pg_begin(c);
    if (rc == 0)
        rc = pgstore_token_insert_on(c, t);
    if (rc == 0)
        rc = pg_change_note(c, PG_CHANGE_TOKEN, t->account_id, t->id);
    return pgstore_write_end(ps, c, rc, true);
}

int pgstore_token_rotate(struct store *st, const char *old_id, int64_t account_id,
                           struct token_record *fresh, int64_t valid_until)
{
    struct pg_store *ps = to_pg(st);
    if (!old_id || !store_text_valid(old_id))
        return -ENOENT;
    fresh->account_id = account_id;
    if (!pgstore_token_storable(fresh))
        return -EINVAL;
    PGconn *c = pg_acquire(ps->pool);
    if (!c)
        return -EIO;
    char acc[24], until[24], now[24];
    const char *params[] = {old_id, fresh->id, pg_int_param(valid_until, until),
                            pg_int_param(time_now_ms(), now), pg_int_param(account_id, acc)};
    int rc = pg_begin(c);
    if (rc == 0)
        rc = pg_exec_write(
            c,
            "UPDATE tokens SET replaced_by = $2, is_default = false, modified = $4,"
            " expires_at = CASE WHEN expires_at = 0 OR expires_at > $3 THEN $3"
            " ELSE expires_at END"
            " WHERE id = $1 AND account_id = $5 AND revoked_at = 0 AND replaced_by = ''",
            5, params, -ENOENT);
    if (rc == 0)
        rc = pgstore_token_insert_on(c, fresh);
    if (rc == 0)
        rc = pg_change_note(c, PG_CHANGE_TOKEN, account_id, old_id);
    if (rc == 0)
        rc = pg_change_note(c, PG_CHANGE_TOKEN, account_id, fresh->id);
    return pgstore_write_end(ps, c, rc, true);
}

int pgstore_token_get(struct store *st, const char *id, struct token_record *out)
{
    if (!id || !store_text_valid(id))
        return -ENOENT;
    const char *params[] = {id};
    PGresult *r =
        pgstore_query_once(to_pg(st),
                           "SELECT " TOKEN_COLS " FROM tokens WHERE id = $1"
                           " UNION ALL " TEMP_AS_TOKEN " WHERE id = $1",
                           1, params);
    int rc = !r ? -EIO : PQntuples(r) == 0 ? -ENOENT : token_from_row(r, 0, out);
    PQclear(r);
    return rc;
}

/* Token list filters: $2 NULL = any usage, else 'pk'/'sk'; $3 NULL = any
 * is_default. The keyset variants continue strictly after ($4, $5) with a
 * row-value comparison, an index range scan on (account_id, key, id). A NULL
 * limit is no limit. */
#define TOKEN_LIST_FILTER                                                                          \
    " WHERE account_id = $1 AND revoked_at = 0 AND ($2::text IS NULL OR usage = $2)"               \
    " AND ($3::boolean IS NULL OR is_default = $3)"
static const char *const token_list_sql[2][2] = {
    /* [by_modified][has cursor] */
    {"SELECT " TOKEN_COLS " FROM tokens" TOKEN_LIST_FILTER " ORDER BY created, id LIMIT $4",
     "SELECT " TOKEN_COLS " FROM tokens" TOKEN_LIST_FILTER
     " AND (created, id) > ($4::bigint, $5::text) ORDER BY created, id LIMIT $6"},
    {"SELECT " TOKEN_COLS " FROM tokens" TOKEN_LIST_FILTER " ORDER BY modified, id LIMIT $4",
     "SELECT " TOKEN_COLS " FROM tokens" TOKEN_LIST_FILTER
     " AND (modified, id) > ($4::bigint, $5::text) ORDER BY modified, id LIMIT $6"},
};

int pgstore_token_list(struct store *st, const struct token_query *q, struct token_record **out,
                         size_t *n)
{
    *out = NULL;
    *n = 0;
    struct pg_store *ps = to_pg(st);
    bool by_modified = q->sortby == TOKEN_SORT_MODIFIED;
    char acc_p[24], key_p[24], limit_p[24];
    pg_int_param(q->account_id, acc_p);
    int rc = -EIO;
    PGresult *r = NULL;
    struct token_record *v = NULL;
    int len = 0;

    if (q->start_after) {
        /* The cursor must be a token of the same account (a foreign id would
         * leak ordering); a revoked one keeps its place in the order. */
        if (!store_text_valid(q->start_after))
            return -ENOENT;
        const char *params[] = {q->start_after, acc_p};
        r = pgstore_query_once(
            ps, "SELECT created, modified FROM tokens WHERE id = $1 AND account_id = $2", 2,
            params);
        if (!r)
            return -EIO;
        if (PQntuples(r) == 0) {
            PQclear(r);
            return -ENOENT;
        }
        pg_int_param(pg_get_int64(r, 0, by_modified ? 1 : 0), key_p);
        PQclear(r);
    }
    const char *usage = q->usage == TOKEN_PK ? "pk" : q->usage == TOKEN_SK ? "sk" : NULL;
    const char *is_default = q->is_default < 0 ? NULL : pgstore_bool_param(q->is_default != 0);
    const char *limit =
        q->limit && q->limit <= (size_t)INT64_MAX ? pg_int_param((int64_t)q->limit, limit_p) : NULL;
    const char *plain[] = {acc_p, usage, is_default, limit};
    const char *after[] = {acc_p, usage, is_default, key_p, q->start_after, limit};
    const char *sql = token_list_sql[by_modified][q->start_after != NULL];
    r = q->start_after ? pgstore_query_once(ps, sql, 6, after)
                       : pgstore_query_once(ps, sql, 4, plain);
    if (!r)
        return -EIO;
    int rows = PQntuples(r);
    if (rows && !(v = calloc((size_t)rows, sizeof(*v)))) {
        rc = -ENOMEM;
        goto fail;
    }
    for (; len < rows; len++)
        if ((rc = token_from_row(r, len, &v[len])) < 0)
            goto fail;
    PQclear(r);
    *out = v;
    *n = (size_t)len;
    return 0;
fail:
    PQclear(r);
    token_records_free(v, (size_t)len);
    return rc;
}

int pgstore_token_update(struct store *st, const struct token_record *t)
{
    struct pg_store *ps = to_pg(st);
    if (!store_names_storable(&t->scopes) || !store_text_valid(t->note) ||
        !pgstore_list_ok(&t->scopes) || !pgstore_list_ok(&t->allowed_urls) ||
        !store_names_storable(&t->resources) || !pgstore_list_ok(&t->resources))
        return -EINVAL;
    if (!store_text_valid(t->id))
        return -ENOENT;
    int rc = -ENOMEM;
    PGconn *c = NULL;
    PGresult *r = NULL;
    struct token_texts tx = {NULL, NULL, NULL};
    if (token_texts_of(t, &tx) < 0)
        goto fail;
    rc = -EIO;
    if (!(c = pg_acquire(ps->pool)) || pg_begin(c) < 0)
        goto fail;
    char mod[24], exp[24];
    const char *params[] = {t->id, t->note, tx.scopes, tx.urls,
                            pg_int_param(t->modified ? t->modified : time_now_ms(), mod),
                            pg_int_param(t->expires_at, exp), tx.resources};
    /* The owner comes from the row: the change note names it, whatever the
     * caller left in t->account_id. */
    r = pg_query(c,
                 "UPDATE tokens SET note = $2, scopes = $3, allowed_urls = $4, modified = $5,"
                 " expires_at = $6, resources = $7 WHERE id = $1 AND revoked_at = 0"
                 " RETURNING account_id",
                 7, params, NULL);
    if (!r)
        goto fail;
    if (PQntuples(r) == 0) {
        rc = -ENOENT;
        goto fail;
    }
    if ((rc = pg_change_note(c, PG_CHANGE_TOKEN, pg_get_int64(r, 0, 0), t->id)) < 0)
        goto fail;
    rc = pgstore_write_end(ps, c, 0, true);
    c = NULL;
fail:
    pgstore_write_abort(ps, c);
    PQclear(r);
    token_texts_free(&tx);
    return rc;
}

int pgstore_token_revoke_temp(struct store *st, const char *id, int64_t account_id,
                              int64_t expires_at)
{
    struct pg_store *ps = to_pg(st);
    if (!token_id_valid(id))
        return -EINVAL;
    PGconn *c = pg_acquire(ps->pool);
    if (!c)
        return -EIO;
    char acc[24], exp[24], now[24];
    const char *params[] = {id, pg_int_param(account_id, acc), pg_int_param(expires_at, exp),
                            pg_int_param(time_now_ms(), now)};
    int rc = pg_begin(c);
    if (rc == 0)
        rc = pg_exec_write(c,
                           "INSERT INTO temp_revocations (id, account_id, expires_at, revoked_at)"
                           " VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
                           4, params, -EEXIST);
    if (rc == 0)
        rc = pg_change_note(c, PG_CHANGE_TOKEN, account_id, id);
    return pgstore_write_end(ps, c, rc, true);
}

int pgstore_token_revoke(struct store *st, const char *id, int64_t account_id)
{
    struct pg_store *ps = to_pg(st);
    if (!id || !store_text_valid(id))
        return -ENOENT;
    PGconn *c = pg_acquire(ps->pool);
    if (!c)
        return -EIO;
    char acc[24], now[24];
    const char *params[] = {id, pg_int_param(account_id, acc), pg_int_param(time_now_ms(), now)};
    int rc = pg_begin(c);
    if (rc == 0)
        rc = pg_exec_write(c,
                           "UPDATE tokens SET revoked_at = $3"
                           " WHERE id = $1 AND account_id = $2 AND revoked_at = 0",
                           3, params, -ENOENT);
    if (rc == 0)
        rc = pg_change_note(c, PG_CHANGE_TOKEN, account_id, id);
    return pgstore_write_end(ps, c, rc, true);
}

/* One statement for the whole batch, the ids and times as two arrays. Not a
 * noted change and no barrier: a last use reduces nobody's access. */
int pgstore_token_touch(struct store *st, const struct token_use *uses, size_t n)
{
    if (n == 0)
        return 0;
    /* Ids are [a-z0-9] (token_id_valid), so the array literal needs no
     * quoting; anything else is skipped rather than spliced. */
    char *ids = malloc(n * (TOKEN_ID_LEN + 1) + 3), *ats = malloc(n * 21 + 3);
    int rc = -ENOMEM;
    if (!ids || !ats)
        goto out;
    size_t ni = 0, na = 0;
    ids[ni++] = '{';
    ats[na++] = '{';
    for (size_t i = 0; i < n; i++) {
        if (!token_id_valid(uses[i].id))
            continue;
        ni += (size_t)sprintf(ids + ni, "%s%s", ni > 1 ? "," : "", uses[i].id);
        na += (size_t)sprintf(ats + na, "%s%lld", na > 1 ? "," : "", (long long)uses[i].at);
    }
    strcpy(ids + ni, "}");
    strcpy(ats + na, "}");
    const char *params[] = {ids, ats};
    rc = pgstore_exec_once(to_pg(st),
                           "UPDATE tokens t SET last_used_at = GREATEST(t.last_used_at, u.at)"
                           " FROM unnest($1::text[], $2::bigint[]) AS u(id, at) WHERE t.id = u.id",
                           2, params, NULL);
out:
    free(ids);
    free(ats);
    return rc;
}

int pgstore_token_each(struct store *st, int (*fn)(void *ctx, const struct token_record *t),
                         void *ctx)
{
    struct pg_store *ps = to_pg(st);
    PGconn *c = pg_acquire(ps->pool);
    if (!c)
        return -EIO;
    /* A cursor streams the scan in batches (a million rows never sit in one
     * result), and lives only inside this transaction, which a
     * transaction-mode pooler keeps on one server connection. fn runs while
     * it is open and may read the store: on other pooled connections. The
     * note and the public token string are left out (the index keeps
     * neither). */
    int rc = pg_begin(c);
    PGresult *r = NULL;
    char now[24];
    const char *params[] = {pg_int_param(time_now_ms(), now)};
    if (rc == 0 &&
        !(r = pg_query(c,
                       "DECLARE tessera_token_scan NO SCROLL CURSOR FOR"
                       " SELECT id, account_id, usage, '', scopes, allowed_urls, secret_hash,"
                       " NULL, is_default, expires_at, created, modified, last_used_at, revoked_at,"
                       " replaced_by, resources FROM tokens WHERE revoked_at = 0"
                       " UNION ALL " TEMP_AS_TOKEN " WHERE expires_at > $1::bigint",
                       1, params, NULL)))
        rc = -EIO;
    PQclear(r);
    while (rc == 0) {
        r = pg_query(c, "FETCH " SCAN_FETCH " FROM tessera_token_scan", 0, NULL, NULL);
        if (!r) {
            rc = -EIO;
            break;
        }
        int rows = PQntuples(r);
        for (int i = 0; i < rows && rc == 0; i++) {
            struct token_record t;
            if ((rc = token_from_row(r, i, &t)) == 0) {
                rc = fn(ctx, &t);
                token_record_free(&t);
            }
        }
        PQclear(r);
        if (rows == 0)
            break;
    }
    /* Read-only: ending it either way closes the cursor. */
    pg_rollback(c);
    pg_release(ps->pool, c);
    return rc;
}
