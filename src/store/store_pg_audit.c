/* The PostgreSQL driver's audit trail: append in one transaction (one
 * parameterised INSERT an event: batches are small), list newest first with
 * an id cursor, prune by age. Not a change other nodes must apply: no change
 * note, no barrier. Any thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_pg_int.h"

int pgstore_audit_append(struct store *st, const struct audit_event *v, size_t n)
{
    struct pg_store *ps = to_pg(st);
    if (n == 0)
        return 0;
    PGconn *c = pg_acquire(ps->pool);
    if (!c)
        return -EIO;
    int rc = pg_begin(c);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char at[24], acc[24];
        const char *params[] = {pg_int_param(v[i].at, at), v[i].kind, v[i].actor,
                                pg_int_param(v[i].account_id, acc), v[i].token_id, v[i].client,
                                v[i].user_agent, v[i].request_id, v[i].detail};
        if (!pgstore_texts_ok(params + 1, 8)) {
            rc = -EINVAL;
            break;
        }
        rc = pg_exec(c,
                     "INSERT INTO audit_events (at, kind, actor, account_id, token_id, client,"
                     " user_agent, request_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                     9, params, NULL);
    }
    return pgstore_write_end(ps, c, rc, false);
}

int pgstore_audit_list(struct store *st, const struct audit_query *q, struct audit_event **out,
                       size_t *n)
{
    *out = NULL;
    *n = 0;
    char acc[24], since[24], before[24], limit[24];
    const char *params[] = {pg_int_param(q->account_id, acc), pg_int_param(q->since, since),
                            pg_int_param(q->before_id, before),
                            pg_int_param((int64_t)q->limit, limit)};
    PGresult *r = pgstore_query_once(to_pg(st),
                                     "SELECT id, at, kind, actor, account_id, token_id, client,"
                                     " user_agent, request_id, detail FROM audit_events"
                                     " WHERE ($1 < 0 OR account_id = $1) AND at >= $2"
                                     " AND ($3 = 0 OR (at, id) < (SELECT at, id FROM"
                                     "  audit_events WHERE id = $3))"
                                     " ORDER BY at DESC, id DESC LIMIT $4",
                                     4, params);
    if (!r)
        return -EIO;
    int rows = PQntuples(r);
    struct audit_event *v = rows ? calloc((size_t)rows, sizeof(*v)) : NULL;
    if (rows && !v) {
        PQclear(r);
        return -ENOMEM;
    }
    for (int i = 0; i < rows; i++) {
        struct audit_event *e = &v[i];
        e->id = pg_get_int64(r, i, 0);
        e->at = pg_get_int64(r, i, 1);
        pgstore_get_text(r, i, 2, e->kind, sizeof(e->kind));
        pgstore_get_text(r, i, 3, e->actor, sizeof(e->actor));
        e->account_id = pg_get_int64(r, i, 4);
        pgstore_get_text(r, i, 5, e->token_id, sizeof(e->token_id));
        pgstore_get_text(r, i, 6, e->client, sizeof(e->client));
        pgstore_get_text(r, i, 7, e->user_agent, sizeof(e->user_agent));
        pgstore_get_text(r, i, 8, e->request_id, sizeof(e->request_id));
        pgstore_get_text(r, i, 9, e->detail, sizeof(e->detail));
    }
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return 0;
}

int pgstore_audit_prune(struct store *st, int64_t before_ms)
{
    char before[24];
    const char *params[] = {pg_int_param(before_ms, before)};
    return pgstore_exec_once(to_pg(st), "DELETE FROM audit_events WHERE at < $1", 1, params, NULL);
}
