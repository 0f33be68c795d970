/* The PostgreSQL driver's expiry notices: the expiring-token scan, and the
 * notices' shown / dismissed and webhook-delivery states. Every node scans
 * and delivers: the unique key makes a notice once, and a claim (FOR UPDATE
 * SKIP LOCKED, then a lease) lets one node post it. Not access changes: no
 * change note, no barrier. Any thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_pg_int.h"

#define NOTICE_COLS                                                                                \
    "id, account_id, token_id, kind, token_expires_at, created, dismissed_at, delivery, "          \
    "attempts, next_attempt_at"

int pgstore_token_expiring(struct store *st, const char *kind, int64_t from, int64_t until,
                           int (*fn)(void *ctx, const char *id, int64_t account_id,
                                     int64_t expires_at),
                           void *ctx)
{
    char f[24], u[24];
    const char *params[] = {pg_int_param(from, f), pg_int_param(until, u), kind};
    if (!pgstore_texts_ok(params + 2, 1))
        return -EINVAL;
    PGresult *r = pgstore_query_once(to_pg(st),
                                     "SELECT id, account_id, expires_at FROM tokens t"
                                     " WHERE expires_at > 0 AND revoked_at = 0"
                                     " AND expires_at > $1 AND expires_at <= $2"
                                     " AND replaced_by = '' AND NOT EXISTS (SELECT 1 FROM"
                                     "  notices n WHERE n.token_id = t.id AND n.kind = $3"
                                     "  AND n.token_expires_at = t.expires_at)"
                                     " ORDER BY expires_at",
                                     3, params);
    if (!r)
        return -EIO;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++)
        rc = fn(ctx, PQgetvalue(r, i, 0), pg_get_int64(r, i, 1), pg_get_int64(r, i, 2));
    PQclear(r);
    return rc;
}

int pgstore_notice_add(struct store *st, struct notice *n)
{
    char acc[24], exp[24], delivery[24], next[24];
    const char *params[] = {pg_int_param(n->account_id, acc),
                            n->token_id,
                            n->kind,
                            pg_int_param(n->token_expires_at, exp),
                            pg_int_param(n->delivery, delivery),
                            pg_int_param(n->next_attempt_at, next)};
    if (!pgstore_texts_ok(params + 1, 2))
        return -EINVAL;
    PGresult *r = pgstore_query_once(to_pg(st),
                                     "INSERT INTO notices (account_id, token_id, kind,"
                                     " token_expires_at, created, delivery, next_attempt_at)"
                                     " VALUES ($1, $2, $3, $4, " DB_NOW_MS ", $5, $6)"
                                     " ON CONFLICT (token_id, kind, token_expires_at) DO NOTHING"
                                     " RETURNING id, created",
                                     6, params);
    if (!r)
        return -EIO;
    int rc = -EEXIST;
    if (PQntuples(r)) {
        n->id = pg_get_int64(r, 0, 0);
        n->created = pg_get_int64(r, 0, 1);
        rc = 0;
    }
    PQclear(r);
    return rc;
}

/* The rows of an NOTICE_COLS result into a malloc'd array; frees r. */
static int notices_from(PGresult *r, struct notice **out, size_t *n)
{
    int rows = PQntuples(r);
    struct notice *v = rows ? calloc((size_t)rows, sizeof(*v)) : NULL;
    if (rows && !v) {
        PQclear(r);
        return -ENOMEM;
    }
    for (int i = 0; i < rows; i++) {
        v[i].id = pg_get_int64(r, i, 0);
        v[i].account_id = pg_get_int64(r, i, 1);
        pgstore_get_text(r, i, 2, v[i].token_id, sizeof(v[i].token_id));
        pgstore_get_text(r, i, 3, v[i].kind, sizeof(v[i].kind));
        v[i].token_expires_at = pg_get_int64(r, i, 4);
        v[i].created = pg_get_int64(r, i, 5);
        v[i].dismissed_at = pg_get_int64(r, i, 6);
        v[i].delivery = (enum notice_delivery)pg_get_int64(r, i, 7);
        v[i].attempts = (int)pg_get_int64(r, i, 8);
        v[i].next_attempt_at = pg_get_int64(r, i, 9);
    }
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return 0;
}

int pgstore_notice_list(struct store *st, int64_t account_id, struct notice **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    char acc[24];
    const char *params[] = {pg_int_param(account_id, acc)};
    PGresult *r = pgstore_query_once(
        to_pg(st),
        "SELECT n.id, n.account_id, n.token_id, n.kind, n.token_expires_at, n.created,"
        " n.dismissed_at, n.delivery, n.attempts, n.next_attempt_at"
        " FROM notices n JOIN tokens t ON t.id = n.token_id"
        " WHERE n.account_id = $1 AND n.dismissed_at = 0 AND t.revoked_at = 0"
        " AND t.replaced_by = '' AND t.expires_at = n.token_expires_at"
        " ORDER BY n.created DESC, n.id DESC",
        1, params);
    return r ? notices_from(r, out, n) : -EIO;
}

int pgstore_notice_dismiss(struct store *st, int64_t id, int64_t account_id)
{
    char i[24], acc[24];
    const char *params[] = {pg_int_param(id, i), pg_int_param(account_id, acc)};
    int64_t changed = 0;
    /* Dismissing twice keeps the first time. */
    int rc = pgstore_exec_once(to_pg(st),
                               "UPDATE notices SET dismissed_at = CASE dismissed_at"
                               " WHEN 0 THEN " DB_NOW_MS " ELSE dismissed_at END"
                               " WHERE id = $1 AND account_id = $2",
                               2, params, &changed);
    return rc < 0 ? rc : changed ? 0 : -ENOENT;
}

int pgstore_notice_claim(struct store *st, int64_t now, int64_t lease_ms, size_t max,
                         struct notice **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    char t[24], lease[24], limit[24];
    const char *params[] = {pg_int_param(now, t), pg_int_param(lease_ms, lease),
                            pg_int_param((int64_t)max, limit)};
    PGresult *r =
        pgstore_query_once(to_pg(st),
                           "UPDATE notices SET claimed_until = $1::bigint + $2::bigint WHERE id IN"
                           " (SELECT id FROM notices WHERE delivery = 1 AND next_attempt_at <= $1"
                           "  AND claimed_until <= $1 ORDER BY next_attempt_at LIMIT $3"
                           "  FOR UPDATE SKIP LOCKED) RETURNING " NOTICE_COLS,
                           3, params);
    return r ? notices_from(r, out, n) : -EIO;
}

int pgstore_notice_delivered(struct store *st, int64_t id, enum notice_delivery state, int attempts,
                             int64_t next_attempt_at)
{
    char i[24], s[24], a[24], next[24];
    const char *params[] = {pg_int_param(id, i), pg_int_param(state, s), pg_int_param(attempts, a),
                            pg_int_param(next_attempt_at, next)};
    int64_t changed = 0;
    int rc = pgstore_exec_once(to_pg(st),
                               "UPDATE notices SET delivery = $2, attempts = $3,"
                               " next_attempt_at = $4, claimed_until = 0 WHERE id = $1",
                               4, params, &changed);
    return rc < 0 ? rc : changed ? 0 : -ENOENT;
}
