/* The SQLite driver's audit trail: append in one transaction, list newest
 * first with an id cursor, prune by age. Statements are prepared per call:
 * audit writes come in batches and reads from operators and account pages,
 * never from the check path. Any thread (each has its own connection). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/driver.h"
#include "store/store_sqlite_int.h"
#include "util/log.h"

int sq_audit_append(struct store *st, const struct audit_event *v, size_t n)
{
    struct sqlite_conn *c = sq_conn_get(st);
    if (!c)
        return -EIO;
    if (n == 0)
        return 0;
    sqlite3_stmt *s = NULL;
    int rc = sq_tx_begin(c);
    if (rc < 0)
        return rc;
    if (sqlite3_prepare_v2(c->db,
                           "INSERT INTO audit_events (at, kind, actor, account_id, token_id,"
                           " client, user_agent, request_id, detail)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                           -1, &s, NULL) != SQLITE_OK) {
        rc = sq_db_fail(c, "audit_append prepare");
        goto fail;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        sqlite3_bind_int64(s, 1, v[i].at);
        sqlite3_bind_text(s, 2, v[i].kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, v[i].actor, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 4, v[i].account_id);
        sqlite3_bind_text(s, 5, v[i].token_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 6, v[i].client, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 7, v[i].user_agent, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 8, v[i].request_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 9, v[i].detail, -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = sq_db_fail(c, "audit_append");
        sqlite3_reset(s);
    }
    sqlite3_finalize(s);
    if (rc == 0 && (rc = sq_tx_commit(c)) == 0)
        return 0;
fail:
    sq_tx_rollback(c);
    return rc;
}

static int audit_row(sqlite3_stmt *s, void *row)
{
    struct audit_event *e = row;
    memset(e, 0, sizeof(*e));
    e->id = sqlite3_column_int64(s, 0);
    e->at = sqlite3_column_int64(s, 1);
    sq_col_text(s, 2, e->kind, sizeof(e->kind));
    sq_col_text(s, 3, e->actor, sizeof(e->actor));
    e->account_id = sqlite3_column_int64(s, 4);
    sq_col_text(s, 5, e->token_id, sizeof(e->token_id));
    sq_col_text(s, 6, e->client, sizeof(e->client));
    sq_col_text(s, 7, e->user_agent, sizeof(e->user_agent));
    sq_col_text(s, 8, e->request_id, sizeof(e->request_id));
    sq_col_text(s, 9, e->detail, sizeof(e->detail));
    return 0;
}

int sq_audit_list(struct store *st, const struct audit_query *q, struct audit_event **out,
                  size_t *n)
{
    *out = NULL;
    *n = 0;
    struct sqlite_conn *c = sq_conn_get(st);
    if (!c)
        return -EIO;
    sqlite3_stmt *s = NULL;
    /* ?1 < 0: every account; ?3 = 0: from the newest, else after the event
     * ?3 in (at, id) order: events are written in batches, so ids follow
     * writes and only the time orders events. */
    if (sqlite3_prepare_v2(c->db,
                           "SELECT id, at, kind, actor, account_id, token_id, client, user_agent,"
                           " request_id, detail FROM audit_events"
                           " WHERE (?1 < 0 OR account_id = ?1) AND at >= ?2"
                           " AND (?3 = 0 OR (at, id) < (SELECT at, id FROM audit_events"
                           "  WHERE id = ?3)) ORDER BY at DESC, id DESC LIMIT ?4",
                           -1, &s, NULL) != SQLITE_OK)
        return sq_db_fail(c, "audit_list prepare");
    sqlite3_bind_int64(s, 1, q->account_id);
    sqlite3_bind_int64(s, 2, q->since);
    sqlite3_bind_int64(s, 3, q->before_id);
    sq_bind_limit(s, 4, q->limit);
    void *rows;
    int rc = sq_collect_rows(c, s, sizeof(struct audit_event), audit_row, "audit_list", &rows, n);
    sqlite3_finalize(s);
    if (rc < 0) {
        free(rows);
        *n = 0;
        return rc;
    }
    *out = rows;
    return 0;
}

int sq_audit_prune(struct store *st, int64_t before_ms)
{
    struct sqlite_conn *c = sq_conn_get(st);
    if (!c)
        return -EIO;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(c->db, "DELETE FROM audit_events WHERE at < ?1", -1, &s, NULL) !=
        SQLITE_OK)
        return sq_db_fail(c, "audit_prune prepare");
    sqlite3_bind_int64(s, 1, before_ms);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : sq_db_fail(c, "audit_prune");
    sqlite3_finalize(s);
    return rc;
}
