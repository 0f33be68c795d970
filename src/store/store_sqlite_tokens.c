/* The SQLite driver's tokens and refresh tokens (see store_sqlite.c for the
 * connection model: each thread its own connection and statements). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/driver.h"
#include "store/store_sqlite_int.h"
#include "util/log.h"

/* ------------------------------------------------------------------------ */
/* Tokens                                                                   */

static int token_from_row(sqlite3_stmt *s, struct token_record *t)
{
    memset(t, 0, sizeof(*t));
    sq_col_text(s, 0, t->id, sizeof(t->id));
    t->account_id = sqlite3_column_int64(s, 1);
    const char *usage = (const char *)sqlite3_column_text(s, 2);
    t->usage = !usage                    ? TOKEN_PK
               : strcmp(usage, "sk") == 0 ? TOKEN_SK
               : strcmp(usage, "tk") == 0 ? TOKEN_TK
                                          : TOKEN_PK;
    sq_col_text(s, 3, t->note, sizeof(t->note));
    int rc = sq_col_names(s, 4, &t->scopes);
    if (rc < 0)
        goto fail;
    rc = store_urls_from_json((const char *)sqlite3_column_text(s, 5), &t->allowed_urls);
    if (rc < 0) {
        if (rc == -EIO)
            log_error("store: token %s has malformed allowed_urls", t->id);
        goto fail;
    }
    if (sqlite3_column_bytes(s, 6) != CRYPTO_MAC_LEN) {
        log_error("store: token %s has a secret hash of the wrong size", t->id);
        rc = -EIO;
        goto fail;
    }
    memcpy(t->secret_hash, sqlite3_column_blob(s, 6), CRYPTO_MAC_LEN);
    const unsigned char *pub = sqlite3_column_text(s, 7);
    if (pub) {
        t->public_token = strdup((const char *)pub);
        if (!t->public_token) {
            rc = -ENOMEM;
            goto fail;
        }
    }
    t->is_default = sqlite3_column_int(s, 8) != 0;
    t->expires_at = sqlite3_column_int64(s, 9);
    t->created = sqlite3_column_int64(s, 10);
    t->modified = sqlite3_column_int64(s, 11);
    t->last_used_at = sqlite3_column_int64(s, 12);
    t->revoked_at = sqlite3_column_int64(s, 13);
    sq_col_text(s, 14, t->replaced_by, sizeof(t->replaced_by));
    if ((rc = sq_col_names(s, 15, &t->resources)) < 0)
        goto fail;
    return 0;
fail:
    token_record_free(t);
    return rc;
}

int sq_token_insert_on(struct sqlite_conn *c, const struct token_record *t)
{
    if ((t->usage != TOKEN_PK && t->usage != TOKEN_SK) || !store_names_storable(&t->scopes) ||
        !store_names_storable(&t->resources))
        return -EINVAL;
    int rc = -ENOMEM;
    sqlite3_stmt *s = NULL;
    struct token_texts tx = {NULL, NULL, NULL};
    if (token_texts_of(t, &tx) < 0)
        goto fail;
    rc = -EIO;
    s = sq_stmt_get(c, ST_TOKEN_INSERT);
    if (!s)
        goto fail;
    int64_t created = t->created ? t->created : sq_now_ms();
    int b = sqlite3_bind_text(s, 1, t->id, -1, SQLITE_STATIC);
    b |= sqlite3_bind_int64(s, 2, t->account_id);
    b |= sqlite3_bind_text(s, 3, t->usage == TOKEN_SK ? "sk" : "pk", -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 4, t->note, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 5, tx.scopes, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 6, tx.urls, -1, SQLITE_STATIC);
    b |= sqlite3_bind_blob(s, 7, t->secret_hash, CRYPTO_MAC_LEN, SQLITE_STATIC);
    if (t->public_token)
        b |= sqlite3_bind_text(s, 8, t->public_token, -1, SQLITE_STATIC);
    else
        b |= sqlite3_bind_null(s, 8);
    b |= sqlite3_bind_int(s, 9, t->is_default);
    b |= sqlite3_bind_int64(s, 10, t->expires_at);
    b |= sqlite3_bind_int64(s, 11, created);
    b |= sqlite3_bind_int64(s, 12, t->modified ? t->modified : created);
    b |= sqlite3_bind_int64(s, 13, t->last_used_at);
    b |= sqlite3_bind_int64(s, 14, t->revoked_at);
    b |= sqlite3_bind_text(s, 15, t->replaced_by, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 16, tx.resources, -1, SQLITE_STATIC);
    if (b != SQLITE_OK) {
        sq_db_fail(c, "token_insert bind");
        goto fail;
    }
    int step = sqlite3_step(s);
    if (step == SQLITE_CONSTRAINT_FOREIGNKEY)
        rc = -ENOENT; /* no such account */
    else
        rc = sq_insert_result(c, step, "token_insert");
fail:
    sq_stmt_done(s);
    token_texts_free(&tx);
    return rc;
}

int sq_token_insert(struct store *st, const struct token_record *t)
{
    struct sqlite_conn *c = sq_conn_get(st);
    return c ? sq_token_insert_on(c, t) : -EIO;
}

int sq_token_get(struct store *st, const char *id, struct token_record *out)
{
    struct sqlite_conn *c = sq_conn_get(st);
    sqlite3_stmt *s = c ? sq_stmt_get(c, ST_TOKEN_GET) : NULL;
    if (!s)
        return -EIO;
    if (!id)
        return -ENOENT;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc, step = sqlite3_step(s);
    if (step == SQLITE_ROW)
        rc = token_from_row(s, out);
    else if (step == SQLITE_DONE)
        rc = -ENOENT;
    else
        rc = sq_db_fail(c, "token_get");
    sq_stmt_done(s);
    return rc;
}

static int token_row(sqlite3_stmt *s, void *row)
{
    return token_from_row(s, row);
}

int sq_token_list(struct store *st, const struct token_query *q, struct token_record **out,
                  size_t *n)
{
    *out = NULL;
    *n = 0;
    struct sqlite_conn *c = sq_conn_get(st);
    if (!c)
        return -EIO;
    bool by_modified = q->sortby == TOKEN_SORT_MODIFIED;
    int64_t key = 0;
    sqlite3_stmt *s = NULL;
    struct token_record *v;
    size_t len;
    int rc = -EIO, step;

    if (q->start_after) {
        /* The cursor must be a token of the same account (a foreign id would
         * leak ordering); a revoked one keeps its place in the order. */
        s = sq_stmt_get(c, ST_TOKEN_CURSOR);
        if (!s)
            goto fail;
        sqlite3_bind_text(s, 1, q->start_after, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, q->account_id);
        step = sqlite3_step(s);
        if (step == SQLITE_ROW)
            key = sqlite3_column_int64(s, by_modified ? 1 : 0);
        sq_stmt_done(s);
        s = NULL;
        if (step == SQLITE_DONE) {
            rc = -ENOENT;
            goto fail;
        }
        if (step != SQLITE_ROW) {
            sq_db_fail(c, "token_list cursor");
            goto fail;
        }
    }

    enum stmt_id id = by_modified
                          ? (q->start_after ? ST_TOKEN_LIST_MODIFIED_AFTER : ST_TOKEN_LIST_MODIFIED)
                          : (q->start_after ? ST_TOKEN_LIST_CREATED_AFTER : ST_TOKEN_LIST_CREATED);
    s = sq_stmt_get(c, id);
    if (!s)
        goto fail;
    int usage = q->usage == TOKEN_PK || q->usage == TOKEN_SK ? q->usage : -1;
    int b = sqlite3_bind_int64(s, 1, q->account_id);
    b |= sqlite3_bind_int(s, 2, usage);
    b |= sqlite3_bind_text(s, 3, usage == TOKEN_SK ? "sk" : "pk", -1, SQLITE_STATIC);
    b |= sqlite3_bind_int(s, 4, q->is_default < 0 ? -1 : q->is_default != 0);
    if (q->start_after) {
        b |= sqlite3_bind_int64(s, 5, key);
        b |= sqlite3_bind_text(s, 6, q->start_after, -1, SQLITE_STATIC);
    }
    b |= sq_bind_limit(s, 7, q->limit);
    if (b != SQLITE_OK) {
        sq_db_fail(c, "token_list bind");
        goto fail;
    }
    void *rows;
    rc = sq_collect_rows(c, s, sizeof(*v), token_row, "token_list", &rows, &len);
    v = rows;
    if (rc < 0) {
        token_records_free(v, len);
        return rc;
    }
    *out = v;
    *n = len;
    return 0;
fail:
    sq_stmt_done(s);
    return rc;
}

int sq_token_update(struct store *st, const struct token_record *t)
{
    struct sqlite_conn *c = sq_conn_get(st);
    if (!c)
        return -EIO;
    if (!store_names_storable(&t->scopes) || !store_names_storable(&t->resources))
        return -EINVAL;
    int rc = -ENOMEM;
    sqlite3_stmt *s = NULL;
    struct token_texts tx = {NULL, NULL, NULL};
    if (token_texts_of(t, &tx) < 0)
        goto fail;
    rc = -EIO;
    s = sq_stmt_get(c, ST_TOKEN_UPDATE);
    if (!s)
        goto fail;
    int b = sqlite3_bind_text(s, 1, t->id, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 2, t->note, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 3, tx.scopes, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 4, tx.urls, -1, SQLITE_STATIC);
    b |= sqlite3_bind_int64(s, 5, t->modified ? t->modified : sq_now_ms());
    b |= sqlite3_bind_int64(s, 6, t->expires_at);
    b |= sqlite3_bind_text(s, 7, tx.resources, -1, SQLITE_STATIC);
    if (b != SQLITE_OK) {
        sq_db_fail(c, "token_update bind");
        goto fail;
    }
    rc = sq_step_write(c, s, "token_update", -ENOENT);
fail:
    sq_stmt_done(s);
    token_texts_free(&tx);
    return rc;
}

int sq_token_revoke(struct store *st, const char *id, int64_t account_id)
{
    struct sqlite_conn *c = sq_conn_get(st);
    sqlite3_stmt *s = c ? sq_stmt_get(c, ST_TOKEN_REVOKE) : NULL;
    if (!s)
        return -EIO;
    if (!id)
        return -ENOENT;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, account_id);
    sqlite3_bind_int64(s, 3, sq_now_ms());
    int rc = sq_step_write(c, s, "token_revoke", -ENOENT);
    sq_stmt_done(s);
    return rc;
}

int sq_token_revoke_temp(struct store *st, const char *id, int64_t account_id, int64_t expires_at)
{
    struct sqlite_conn *c = sq_conn_get(st);
    sqlite3_stmt *s = c ? sq_stmt_get(c, ST_TOKEN_REVOKE_TEMP) : NULL;
    if (!s)
        return -EIO;
    if (!token_id_valid(id))
        return -EINVAL;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, account_id);
    sqlite3_bind_int64(s, 3, expires_at);
    sqlite3_bind_int64(s, 4, sq_now_ms());
    int rc = sq_step_write(c, s, "token_revoke_temp", -EEXIST);
    sq_stmt_done(s);
    return rc;
}

int sq_token_rotate(struct store *st, const char *old_id, int64_t account_id,
                    struct token_record *fresh, int64_t valid_until)
{
    struct sqlite_conn *c = sq_conn_get(st);
    if (!c)
        return -EIO;
    int rc = sq_tx_begin(c);
    if (rc < 0)
        return rc;
    sqlite3_stmt *s = sq_stmt_get(c, ST_TOKEN_REPLACE);
    if (!s) {
        rc = -EIO;
        goto fail;
    }
    int64_t now = sq_now_ms();
    sqlite3_bind_text(s, 1, old_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, fresh->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, valid_until);
    sqlite3_bind_int64(s, 4, now);
    sqlite3_bind_int64(s, 5, account_id);
    rc = sq_step_write(c, s, "token_rotate", -ENOENT);
    sq_stmt_done(s);
    fresh->account_id = account_id;
    if (rc == 0)
        rc = sq_token_insert_on(c, fresh);
    if (rc == 0 && (rc = sq_tx_commit(c)) == 0)
        return 0;
fail:
    sq_tx_rollback(c);
    return rc;
}

int sq_token_touch(struct store *st, const struct token_use *uses, size_t n)
{
    struct sqlite_conn *c = sq_conn_get(st);
    if (!c)
        return -EIO;
    if (n == 0)
        return 0;
    /* One transaction: one fsync for the whole batch. */
    int rc = sq_tx_begin(c);
    if (rc < 0)
        return rc;
    sqlite3_stmt *s = sq_stmt_get(c, ST_TOKEN_TOUCH);
    for (size_t i = 0; s && i < n && rc == 0; i++) {
        sqlite3_bind_text(s, 1, uses[i].id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, uses[i].at);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = sq_db_fail(c, "token_touch");
        sq_stmt_done(s);
    }
    if (!s)
        rc = -EIO;
    if (rc == 0 && (rc = sq_tx_commit(c)) == 0)
        return 0;
    sq_tx_rollback(c);
    return rc;
}

int sq_token_each(struct store *st, int (*fn)(void *ctx, const struct token_record *t), void *ctx)
{
    struct sqlite_conn *c = sq_conn_get(st);
    sqlite3_stmt *s = c ? sq_stmt_get(c, ST_TOKEN_SCAN) : NULL;
    if (!s)
        return -EIO;
    sqlite3_bind_int64(s, 1, sq_now_ms()); /* revoked temporary tokens still to come */
    int rc = 0, step;
    while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
        struct token_record t;
        rc = token_from_row(s, &t);
        if (rc == 0) {
            rc = fn(ctx, &t);
            token_record_free(&t);
        }
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = sq_db_fail(c, "token_each");
    sq_stmt_done(s);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Refresh tokens                                                           */

int sq_refresh_insert(struct store *st, const struct refresh_record *r)
{
    struct sqlite_conn *c = sq_conn_get(st);
    sqlite3_stmt *s = c ? sq_stmt_get(c, ST_REFRESH_INSERT) : NULL;
    if (!s)
        return -EIO;
    sqlite3_bind_text(s, 1, r->jti, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, r->family, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, r->account_id);
    sqlite3_bind_int64(s, 4, r->expires_at);
    sqlite3_bind_int64(s, 5, sq_now_ms());
    int step = sqlite3_step(s);
    int rc = step == SQLITE_CONSTRAINT_FOREIGNKEY ? -ENOENT
                                                  : sq_insert_result(c, step, "refresh_insert");
    sq_stmt_done(s);
    return rc;
}

enum refresh_state { REFRESH_ACTIVE, REFRESH_USED, REFRESH_REVOKED };

/* Reads one refresh row: 0 (filled), -ENOENT or -EIO. */
static int refresh_load(struct sqlite_conn *c, const char *jti, struct refresh_record *out,
                        enum refresh_state *state)
{
    sqlite3_stmt *s = sq_stmt_get(c, ST_REFRESH_GET);
    if (!s)
        return -EIO;
    sqlite3_bind_text(s, 1, jti, -1, SQLITE_STATIC);
    int rc, step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        sq_col_text(s, 0, out->jti, sizeof(out->jti));
        sq_col_text(s, 1, out->family, sizeof(out->family));
        out->account_id = sqlite3_column_int64(s, 2);
        out->expires_at = sqlite3_column_int64(s, 3);
        const char *text = (const char *)sqlite3_column_text(s, 4);
        *state = text && strcmp(text, "active") == 0 ? REFRESH_ACTIVE
                 : text && strcmp(text, "used") == 0 ? REFRESH_USED
                                                     : REFRESH_REVOKED;
        rc = 0;
    } else if (step == SQLITE_DONE) {
        rc = -ENOENT;
    } else {
        rc = sq_db_fail(c, "refresh lookup");
    }
    sq_stmt_done(s);
    return rc;
}

/* Runs a cached statement whose parameter 1 is the given text. */
static int run_with_text(struct sqlite_conn *c, enum stmt_id id, const char *text, const char *what)
{
    sqlite3_stmt *s = sq_stmt_get(c, id);
    if (!s)
        return -EIO;
    sqlite3_bind_text(s, 1, text, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : sq_db_fail(c, what);
    sq_stmt_done(s);
    return rc;
}

int sq_refresh_rotate(struct store *st, const char *old_jti, const struct refresh_record *next)
{
    struct sqlite_conn *c = sq_conn_get(st);
    if (!c)
        return -EIO;
    if (!old_jti)
        return -ENOENT;
    /* IMMEDIATE takes the write lock up front: two concurrent rotations of
     * the same jti serialize here, and the second one sees "used". */
    int rc = sq_tx_begin(c);
    if (rc < 0)
        return rc;
    struct refresh_record old;
    enum refresh_state state;
    rc = refresh_load(c, old_jti, &old, &state);
    if (rc < 0)
        goto fail;
    if (state != REFRESH_ACTIVE) {
        /* Re-use of a spent refresh token: assume it was stolen and kill the
         * whole family, committed before reporting -EPERM. */
        rc = run_with_text(c, ST_REFRESH_REVOKE_FAMILY, old.family, "refresh revoke family");
        if (rc < 0 || (rc = sq_tx_commit(c)) < 0)
            goto fail;
        log_warn("store: refresh token re-use detected, family of account %lld revoked",
                 (long long)old.account_id);
        return -EPERM;
    }
    rc = run_with_text(c, ST_REFRESH_MARK_USED, old_jti, "refresh mark used");
    if (rc < 0)
        goto fail;
    sqlite3_stmt *s = sq_stmt_get(c, ST_REFRESH_INSERT);
    if (!s) {
        rc = -EIO;
        goto fail;
    }
    /* The family and the account are inherited from the spent token, whatever
     * the caller put in next, so a rotation can never move a family. */
    sqlite3_bind_text(s, 1, next->jti, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, old.family, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, old.account_id);
    sqlite3_bind_int64(s, 4, next->expires_at);
    sqlite3_bind_int64(s, 5, sq_now_ms());
    rc = sq_insert_result(c, sqlite3_step(s), "refresh rotate insert");
    sq_stmt_done(s);
    if (rc < 0 || (rc = sq_tx_commit(c)) < 0)
        goto fail;
    return 0;
fail:
    sq_tx_rollback(c);
    return rc;
}

int sq_refresh_check(struct store *st, const char *jti, struct refresh_record *out)
{
    struct sqlite_conn *c = sq_conn_get(st);
    if (!c)
        return -EIO;
    if (!jti)
        return -ENOENT;
    enum refresh_state state;
    int rc = refresh_load(c, jti, out, &state);
    if (rc < 0)
        return rc;
    return state == REFRESH_ACTIVE ? 0 : -EPERM;
}

int sq_refresh_revoke_family(struct store *st, const char *family)
{
    struct sqlite_conn *c = sq_conn_get(st);
    if (!c)
        return -EIO;
    if (!family)
        return 0;
    return run_with_text(c, ST_REFRESH_REVOKE_FAMILY, family, "refresh_revoke_family");
}

int sq_refresh_revoke_account(struct store *st, int64_t account_id)
{
    struct sqlite_conn *c = sq_conn_get(st);
    sqlite3_stmt *s = c ? sq_stmt_get(c, ST_REFRESH_REVOKE_ACCOUNT) : NULL;
    if (!s)
        return -EIO;
    sqlite3_bind_int64(s, 1, account_id);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : sq_db_fail(c, "refresh_revoke_account");
    sq_stmt_done(s);
    return rc;
}
