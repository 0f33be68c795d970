/* The SQLite driver's expiry notices: the expiring-token scan, and the
 * notices' shown / dismissed and webhook-delivery states. Statements are
 * prepared per call: a background scan and account pages use them, never
 * the check path. Any thread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/driver.h"
#include "store/store_sqlite_int.h"

#define NOTICE_COLS                                                                                \
    "id, account_id, token_id, kind, token_expires_at, created, dismissed_at, delivery, "          \
    "attempts, next_attempt_at"

static sqlite3_stmt *prepare(struct sqlite_conn *c, const char *sql, const char *what)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, &s, NULL) != SQLITE_OK) {
        sq_db_fail(c, what);
        return NULL;
    }
    return s;
}

int sq_token_expiring(struct store *st, const char *kind, int64_t from, int64_t until,
                      int (*fn)(void *ctx, const char *id, int64_t account_id, int64_t expires_at),
                      void *ctx)
{
    struct sqlite_conn *c = sq_conn_get(st);
    /* The partial index's own terms, spelt out so the planner uses it. */
    sqlite3_stmt *s = c ? prepare(c,
                                  "SELECT id, account_id, expires_at FROM tokens t"
                                  " WHERE expires_at > 0 AND revoked_at = 0 AND expires_at > ?1"
                                  " AND expires_at <= ?2 AND replaced_by = ''"
                                  " AND NOT EXISTS (SELECT 1 FROM notices n"
                                  "  WHERE n.token_id = t.id AND n.kind = ?3"
                                  "  AND n.token_expires_at = t.expires_at)"
                                  " ORDER BY expires_at",
                                  "token_expiring")
                        : NULL;
    if (!s)
        return -EIO;
    sqlite3_bind_int64(s, 1, from);
    sqlite3_bind_int64(s, 2, until);
    sqlite3_bind_text(s, 3, kind, -1, SQLITE_STATIC);
    int rc = 0, step;
    while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW)
        rc = fn(ctx, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1),
                sqlite3_column_int64(s, 2));
    if (rc == 0 && step != SQLITE_DONE)
        rc = sq_db_fail(c, "token_expiring");
    sqlite3_finalize(s);
    return rc;
}

int sq_notice_add(struct store *st, struct notice *n)
{
    struct sqlite_conn *c = sq_conn_get(st);
    sqlite3_stmt *s = c ? prepare(c,
                                  "INSERT INTO notices (account_id, token_id, kind,"
                                  " token_expires_at, created, delivery, next_attempt_at)"
                                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                                  "notice_add")
                        : NULL;
    if (!s)
        return -EIO;
    n->created = sq_now_ms();
    sqlite3_bind_int64(s, 1, n->account_id);
    sqlite3_bind_text(s, 2, n->token_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, n->kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, n->token_expires_at);
    sqlite3_bind_int64(s, 5, n->created);
    sqlite3_bind_int(s, 6, (int)n->delivery);
    sqlite3_bind_int64(s, 7, n->next_attempt_at);
    int rc = sq_insert_result(c, sqlite3_step(s), "notice_add");
    if (rc == 0)
        n->id = sqlite3_last_insert_rowid(c->db);
    sqlite3_finalize(s);
    return rc;
}

static int notice_row(sqlite3_stmt *s, void *row)
{
    struct notice *n = row;
    memset(n, 0, sizeof(*n));
    n->id = sqlite3_column_int64(s, 0);
    n->account_id = sqlite3_column_int64(s, 1);
    sq_col_text(s, 2, n->token_id, sizeof(n->token_id));
    sq_col_text(s, 3, n->kind, sizeof(n->kind));
    n->token_expires_at = sqlite3_column_int64(s, 4);
    n->created = sqlite3_column_int64(s, 5);
    n->dismissed_at = sqlite3_column_int64(s, 6);
    n->delivery = (enum notice_delivery)sqlite3_column_int(s, 7);
    n->attempts = sqlite3_column_int(s, 8);
    n->next_attempt_at = sqlite3_column_int64(s, 9);
    return 0;
}

/* Runs s (bound) to the end into a malloc'd notice array. */
static int collect_notices(struct sqlite_conn *c, sqlite3_stmt *s, const char *what,
                           struct notice **out, size_t *n)
{
    void *rows;
    int rc = sq_collect_rows(c, s, sizeof(struct notice), notice_row, what, &rows, n);
    sqlite3_finalize(s);
    if (rc < 0) {
        free(rows);
        *n = 0;
        return rc;
    }
    *out = rows;
    return 0;
}

int sq_notice_list(struct store *st, int64_t account_id, struct notice **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct sqlite_conn *c = sq_conn_get(st);
    sqlite3_stmt *s =
        c ? prepare(c,
                    "SELECT n.id, n.account_id, n.token_id, n.kind, n.token_expires_at,"
                    " n.created, n.dismissed_at, n.delivery, n.attempts, n.next_attempt_at"
                    " FROM notices n JOIN tokens t ON t.id = n.token_id"
                    " WHERE n.account_id = ?1 AND n.dismissed_at = 0 AND t.revoked_at = 0"
                    " AND t.replaced_by = '' AND t.expires_at = n.token_expires_at"
                    " ORDER BY n.created DESC, n.id DESC",
                    "notice_list")
          : NULL;
    if (!s)
        return -EIO;
    sqlite3_bind_int64(s, 1, account_id);
    return collect_notices(c, s, "notice_list", out, n);
}

/* Runs a bound single-row UPDATE: -ENOENT when it matched no row. */
static int update_one(struct sqlite_conn *c, sqlite3_stmt *s, const char *what)
{
    int rc = sq_step_write(c, s, what, -ENOENT);
    sqlite3_finalize(s);
    return rc;
}

int sq_notice_dismiss(struct store *st, int64_t id, int64_t account_id)
{
    struct sqlite_conn *c = sq_conn_get(st);
    /* Dismissing twice keeps the first time. */
    sqlite3_stmt *s = c ? prepare(c,
                                  "UPDATE notices SET dismissed_at = CASE dismissed_at"
                                  " WHEN 0 THEN ?3 ELSE dismissed_at END"
                                  " WHERE id = ?1 AND account_id = ?2",
                                  "notice_dismiss")
                        : NULL;
    if (!s)
        return -EIO;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, account_id);
    sqlite3_bind_int64(s, 3, sq_now_ms());
    return update_one(c, s, "notice_dismiss");
}

int sq_notice_claim(struct store *st, int64_t now, int64_t lease_ms, size_t max,
                    struct notice **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct sqlite_conn *c = sq_conn_get(st);
    sqlite3_stmt *s = c ? prepare(c,
                                  "UPDATE notices SET claimed_until = ?1 + ?2 WHERE id IN"
                                  " (SELECT id FROM notices WHERE delivery = 1"
                                  "  AND next_attempt_at <= ?1 AND claimed_until <= ?1"
                                  "  ORDER BY next_attempt_at LIMIT ?3) RETURNING " NOTICE_COLS,
                                  "notice_claim")
                        : NULL;
    if (!s)
        return -EIO;
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_int64(s, 2, lease_ms);
    sq_bind_limit(s, 3, max);
    return collect_notices(c, s, "notice_claim", out, n);
}

int sq_notice_delivered(struct store *st, int64_t id, enum notice_delivery state, int attempts,
                        int64_t next_attempt_at)
{
    struct sqlite_conn *c = sq_conn_get(st);
    sqlite3_stmt *s = c ? prepare(c,
                                  "UPDATE notices SET delivery = ?2, attempts = ?3,"
                                  " next_attempt_at = ?4, claimed_until = 0 WHERE id = ?1",
                                  "notice_delivered")
                        : NULL;
    if (!s)
        return -EIO;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int(s, 2, (int)state);
    sqlite3_bind_int(s, 3, attempts);
    sqlite3_bind_int64(s, 4, next_attempt_at);
    return update_one(c, s, "notice_delivered");
}
