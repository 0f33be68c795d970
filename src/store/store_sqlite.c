/* The SQLite storage driver (WAL, synchronous=FULL so an acknowledged write
 * survives kill -9): connections, migrations, accounts, scopes and groups,
 * and the ops table; tokens and refresh tokens are in store_sqlite_tokens.c,
 * the SQL in store_sqlite_sql.c. Threading: each thread gets its own sqlite3 connection,
 * opened lazily and kept in thread-local storage (a pthread key per store);
 * every connection is also registered in the store so close() can finalize
 * them all. A connection and its cached prepared statements are only ever
 * touched by the thread that owns it. */
#include "store/store.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store/driver.h"
#include "store/store_sqlite_int.h"
#include "util/array.h"
#include "util/log.h"

/* account_each reads rows in batches of this size, so no statement (and no
 * read transaction) stays open while a callback runs. */
#define EACH_BATCH 256

/* ------------------------------------------------------------------------ */
/* Connections                                                              */


int64_t sq_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct sqlite_store *to_sqlite(struct store *st)
{
    return (struct sqlite_store *)st;
}

static void conn_close(struct sqlite_conn *c)
{
    if (!c)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(c->stmt[i]);
    /* close_v2 defers the real close if anything is still outstanding, so a
     * leaked statement cannot make close fail silently mid-shutdown. */
    sqlite3_close_v2(c->db);
    free(c);
}

/* Runs a pragma (or any parameterless statement) and discards its rows. */
static int conn_exec(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(s)) == SQLITE_ROW)
            ;
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK)
        log_error("store: %s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return rc == SQLITE_OK ? 0 : -EIO;
}

/* Switches to WAL and checks that it took: SQLite silently keeps the old
 * journal mode where WAL is impossible (e.g. some network file systems), and
 * readers would then block writers. */
static int conn_enable_wal(sqlite3 *db)
{
    sqlite3_stmt *s = NULL;
    int rc = -EIO;
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &s, NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW) {
        log_error("store: cannot enable WAL: %s", sqlite3_errmsg(db));
        goto fail;
    }
    const char *mode = (const char *)sqlite3_column_text(s, 0);
    if (!mode || strcmp(mode, "wal") != 0) {
        log_error("store: journal mode is %s, WAL is required", mode ? mode : "unknown");
        goto fail;
    }
    rc = 0;
fail:
    sqlite3_finalize(s);
    return rc;
}

static struct sqlite_conn *conn_open(struct sqlite_store *ss)
{
    struct sqlite_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        log_error("store: out of memory opening a connection");
        return NULL;
    }
    c->owner = ss;
    /* NOMUTEX: the connection never leaves its thread, so SQLite's own
     * per-connection mutex would be pure overhead. */
    int rc = sqlite3_open_v2(ss->path, &c->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        log_error("store: cannot open %s: %s", ss->path,
                  c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(c->db, 1);
    /* The busy timeout goes first: switching to WAL needs a lock that another
     * thread's connection may hold for a moment. */
    if (conn_exec(c->db, "PRAGMA busy_timeout = 5000") < 0 || conn_enable_wal(c->db) < 0 ||
        conn_exec(c->db, "PRAGMA synchronous = FULL") < 0 ||
        conn_exec(c->db, "PRAGMA foreign_keys = ON") < 0)
        goto fail;
    return c;
fail:
    conn_close(c);
    return NULL;
}

/* pthread key destructor: a thread that used the store is exiting. */
static void conn_thread_exit(void *p)
{
    struct sqlite_conn *c = p;
    struct sqlite_store *ss = c->owner;
    pthread_mutex_lock(&ss->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        ss->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&ss->lock);
    conn_close(c);
}

/* The calling thread's connection, opened on first use. NULL (logged) when
 * the database cannot be opened. */
struct sqlite_conn *sq_conn_get(struct store *st)
{
    struct sqlite_store *ss = to_sqlite(st);
    struct sqlite_conn *c = pthread_getspecific(ss->key);
    if (c)
        return c;
    c = conn_open(ss);
    if (!c)
        return NULL;
    pthread_mutex_lock(&ss->lock);
    c->next = ss->conns;
    if (ss->conns)
        ss->conns->prev = c;
    ss->conns = c;
    pthread_mutex_unlock(&ss->lock);
    if (pthread_setspecific(ss->key, c) != 0) {
        log_error("store: pthread_setspecific failed");
        conn_thread_exit(c);
        return NULL;
    }
    return c;
}

/* Logs the connection's last error and returns -EIO. */
int sq_db_fail(struct sqlite_conn *c, const char *what)
{
    log_error("store: %s: %s (%d)", what, sqlite3_errmsg(c->db),
              sqlite3_extended_errcode(c->db));
    return -EIO;
}

int sq_step_write(struct sqlite_conn *c, sqlite3_stmt *s, const char *what, int miss_rc)
{
    if (sqlite3_step(s) != SQLITE_DONE)
        return sq_db_fail(c, what);
    return sqlite3_changes(c->db) ? 0 : miss_rc;
}

/* The cached prepared statement, prepared on first use. */
sqlite3_stmt *sq_stmt_get(struct sqlite_conn *c, enum stmt_id id)
{
    if (c->stmt[id])
        return c->stmt[id];
    if (sqlite3_prepare_v3(c->db, sq_stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->stmt[id],
                           NULL) != SQLITE_OK) {
        sq_db_fail(c, "prepare");
        c->stmt[id] = NULL;
        return NULL;
    }
    return c->stmt[id];
}

/* Returns a cached statement to its pristine state. Bindings are cleared
 * too, because they may point at caller buffers that are about to die. */
void sq_stmt_done(sqlite3_stmt *s)
{
    if (s) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
}

/* Runs a cached statement that returns no rows. Returns the SQLite code. */
static int stmt_run(struct sqlite_conn *c, enum stmt_id id)
{
    sqlite3_stmt *s = sq_stmt_get(c, id);
    if (!s)
        return SQLITE_ERROR;
    int rc = sqlite3_step(s);
    sq_stmt_done(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

int sq_tx_begin(struct sqlite_conn *c)
{
    return stmt_run(c, ST_BEGIN_IMMEDIATE) == SQLITE_OK ? 0 : sq_db_fail(c, "begin");
}

int sq_tx_commit(struct sqlite_conn *c)
{
    return stmt_run(c, ST_COMMIT) == SQLITE_OK ? 0 : sq_db_fail(c, "commit");
}

void sq_tx_rollback(struct sqlite_conn *c)
{
    /* Some errors (e.g. SQLITE_FULL) already rolled the transaction back. */
    if (!sqlite3_get_autocommit(c->db))
        stmt_run(c, ST_ROLLBACK);
}

/* ------------------------------------------------------------------------ */
/* Value helpers                                                            */

void sq_col_text(sqlite3_stmt *s, int col, char *dst, size_t size)
{
    store_copy_text(dst, size, (const char *)sqlite3_column_text(s, col));
}

int sq_col_names(sqlite3_stmt *s, int col, struct strlist *out)
{
    return strlist_split(out, (const char *)sqlite3_column_text(s, col));
}

/* Binds a 64-bit limit where 0 means "no limit" (SQLite's LIMIT -1). */
int sq_bind_limit(sqlite3_stmt *s, int idx, size_t limit)
{
    sqlite3_int64 v = limit == 0 || limit > (size_t)INT64_MAX ? -1 : (sqlite3_int64)limit;
    return sqlite3_bind_int64(s, idx, v);
}

/* ------------------------------------------------------------------------ */
/* Lifecycle and migrations                                                 */

static int sq_ping(struct store *st)
{
    struct sqlite_conn *c = sq_conn_get(st);
    if (!c)
        return -EIO;
    return stmt_run(c, ST_PING) == SQLITE_OK ? 0 : sq_db_fail(c, "ping");
}

static int sq_schema_version(struct store *st)
{
    struct sqlite_conn *c = sq_conn_get(st);
    if (!c)
        return -EIO;
    sqlite3_stmt *s = sq_stmt_get(c, ST_MIGRATIONS_TABLE_EXISTS);
    if (!s)
        return -EIO;
    int rc = sqlite3_step(s);
    sq_stmt_done(s);
    if (rc == SQLITE_DONE)
        return 0; /* never migrated */
    if (rc != SQLITE_ROW)
        return sq_db_fail(c, "schema_version");
    s = sq_stmt_get(c, ST_SCHEMA_VERSION);
    if (!s)
        return -EIO;
    rc = sqlite3_step(s);
    int version = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
    sq_stmt_done(s);
    return rc == SQLITE_ROW ? version : sq_db_fail(c, "schema_version");
}

/* Runs every statement of a multi-statement migration script in turn. */
static int run_script(struct sqlite_conn *c, const char *sql)
{
    const char *tail = sql;
    while (tail && *tail) {
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(c->db, tail, -1, &s, &tail) != SQLITE_OK)
            return sq_db_fail(c, "migration prepare");
        if (!s)
            break; /* only whitespace or comments remain */
        int rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW)
            ;
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE)
            return sq_db_fail(c, "migration step");
    }
    return 0;
}

static int sq_migrate(struct store *st)
{
    struct sqlite_conn *c = sq_conn_get(st);
    if (!c)
        return -EIO;
    if (stmt_run(c, ST_MIGRATIONS_CREATE) != SQLITE_OK)
        return sq_db_fail(c, "create schema_migrations");
    for (int v = 1; v <= sq_migration_count; v++) {
        int rc = sq_tx_begin(c);
        if (rc < 0)
            return rc;
        /* Checked inside the write transaction, so two processes migrating
         * at once cannot both apply the same step. */
        sqlite3_stmt *s = sq_stmt_get(c, ST_MIGRATION_APPLIED);
        if (!s)
            goto fail;
        sqlite3_bind_int(s, 1, v);
        int step = sqlite3_step(s);
        sq_stmt_done(s);
        if (step == SQLITE_ROW) {
            sq_tx_rollback(c);
            continue;
        }
        if (step != SQLITE_DONE) {
            sq_db_fail(c, "migration check");
            goto fail;
        }
        if (run_script(c, sq_migrations[v - 1]) < 0)
            goto fail;
        s = sq_stmt_get(c, ST_MIGRATION_RECORD);
        if (!s)
            goto fail;
        sqlite3_bind_int(s, 1, v);
        sqlite3_bind_int64(s, 2, sq_now_ms());
        step = sqlite3_step(s);
        sq_stmt_done(s);
        if (step != SQLITE_DONE) {
            sq_db_fail(c, "migration record");
            goto fail;
        }
        if (sq_tx_commit(c) < 0)
            goto fail;
        log_info("store: applied migration %d", v);
        continue;
    fail:
        sq_tx_rollback(c);
        log_error("store: migration %d failed", v);
        return -EIO;
    }
    return 0;
}

static void sq_close(struct store *st)
{
    if (!st)
        return;
    struct sqlite_store *ss = to_sqlite(st);
    /* Deleting the key first means no destructor will run for it any more;
     * the caller guarantees no thread is inside a store call. */
    pthread_key_delete(ss->key);
    pthread_mutex_lock(&ss->lock);
    struct sqlite_conn *c = ss->conns;
    ss->conns = NULL;
    pthread_mutex_unlock(&ss->lock);
    while (c) {
        struct sqlite_conn *next = c->next;
        conn_close(c);
        c = next;
    }
    pthread_mutex_destroy(&ss->lock);
    free(ss->path);
    free(ss);
}

/* ------------------------------------------------------------------------ */
/* Accounts                                                                 */

static int account_from_row(sqlite3_stmt *s, struct account *a)
{
    memset(a, 0, sizeof(*a));
    a->id = sqlite3_column_int64(s, 0);
    sq_col_text(s, 1, a->username, sizeof(a->username));
    sq_col_text(s, 2, a->email, sizeof(a->email));
    sq_col_text(s, 3, a->password_hash, sizeof(a->password_hash));
    sq_col_text(s, 4, a->first_name, sizeof(a->first_name));
    sq_col_text(s, 5, a->last_name, sizeof(a->last_name));
    sq_col_text(s, 6, a->organization, sizeof(a->organization));
    if (sq_col_names(s, 7, &a->groups) < 0 || sq_col_names(s, 8, &a->scopes) < 0) {
        account_free(a);
        return -ENOMEM;
    }
    a->is_active = sqlite3_column_int(s, 9) != 0;
    a->is_staff = sqlite3_column_int(s, 10) != 0;
    a->created = sqlite3_column_int64(s, 11);
    a->updated = sqlite3_column_int64(s, 12);
    a->sessions_valid_after = sqlite3_column_int64(s, 13);
    return 0;
}

int sq_token_insert_on(struct sqlite_conn *c, const struct token_record *t);

static int sq_account_create(struct store *st, struct account *a, struct token_record *first_token)
{
    struct sqlite_conn *c = sq_conn_get(st);
    if (!c)
        return -EIO;
    struct account_texts tx;
    int rc = account_texts_of(a, &tx);
    if (rc < 0)
        return rc;
    sqlite3_stmt *s = sq_stmt_get(c, ST_ACCOUNT_INSERT);
    rc = -EIO;
    if (!s)
        goto fail;
    int64_t now = sq_now_ms();
    /* Binding can only fail on misuse or OOM; OR-ing the codes keeps the
     * check to one branch (SQLITE_OK is 0). */
    int b = sqlite3_bind_text(s, 1, a->username, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 2, a->email, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 3, a->password_hash, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 4, a->first_name, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 5, a->last_name, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 6, a->organization, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 7, tx.groups, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 8, tx.scopes, -1, SQLITE_STATIC);
    b |= sqlite3_bind_int(s, 9, a->is_active);
    b |= sqlite3_bind_int(s, 10, a->is_staff);
    b |= sqlite3_bind_int64(s, 11, now);
    b |= sqlite3_bind_int64(s, 12, now);
    b |= sqlite3_bind_int64(s, 13, a->sessions_valid_after);
    if (b != SQLITE_OK) {
        sq_db_fail(c, "account_create bind");
        goto fail;
    }
    /* The account and its first token commit together, so a crash never
     * leaves an account without its default token. */
    if (first_token && sq_tx_begin(c) < 0)
        goto fail;
    int step = sqlite3_step(s);
    if (step == SQLITE_DONE) {
        a->id = sqlite3_last_insert_rowid(c->db);
        a->created = a->updated = now;
        rc = 0;
    } else if (step == SQLITE_CONSTRAINT_UNIQUE) {
        /* The message names the constraint ("UNIQUE constraint failed:
         * accounts.email"); it is the only way SQLite tells which one. */
        const char *msg = sqlite3_errmsg(c->db);
        if (strstr(msg, "accounts.email"))
            rc = -EEXIST;
        else if (strstr(msg, "accounts.username"))
            rc = -EADDRINUSE;
        else
            rc = sq_db_fail(c, "account_create");
    } else {
        rc = sq_db_fail(c, "account_create");
    }
    sq_stmt_done(s);
    s = NULL;
    if (first_token) {
        if (rc == 0) {
            first_token->account_id = a->id;
            rc = sq_token_insert_on(c, first_token);
        }
        if (rc == 0)
            rc = sq_tx_commit(c);
        if (rc < 0)
            sq_tx_rollback(c);
    }
fail:
    sq_stmt_done(s);
    account_texts_free(&tx);
    return rc;
}

/* Runs a single-row account SELECT whose parameter 1 is already bound. */
static int account_fetch(struct sqlite_conn *c, sqlite3_stmt *s, struct account *out)
{
    int rc;
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW)
        rc = account_from_row(s, out);
    else if (step == SQLITE_DONE)
        rc = -ENOENT;
    else
        rc = sq_db_fail(c, "account_get");
    sq_stmt_done(s);
    return rc;
}

static int sq_account_get_by_id(struct store *st, int64_t id, struct account *out)
{
    struct sqlite_conn *c = sq_conn_get(st);
    sqlite3_stmt *s = c ? sq_stmt_get(c, ST_ACCOUNT_BY_ID) : NULL;
    if (!s)
        return -EIO;
    sqlite3_bind_int64(s, 1, id);
    return account_fetch(c, s, out);
}

static int sq_account_get_by_email(struct store *st, const char *email, struct account *out)
{
    struct sqlite_conn *c = sq_conn_get(st);
    sqlite3_stmt *s = c ? sq_stmt_get(c, ST_ACCOUNT_BY_EMAIL) : NULL;
    if (!s)
        return -EIO;
    if (!email)
        return -ENOENT;
    sqlite3_bind_text(s, 1, email, -1, SQLITE_STATIC);
    return account_fetch(c, s, out);
}

static int sq_account_get_by_username(struct store *st, const char *username,
                                      struct account *out)
{
    struct sqlite_conn *c = sq_conn_get(st);
    sqlite3_stmt *s = c ? sq_stmt_get(c, ST_ACCOUNT_BY_USERNAME) : NULL;
    if (!s)
        return -EIO;
    if (!username)
        return -ENOENT;
    sqlite3_bind_text(s, 1, username, -1, SQLITE_STATIC);
    return account_fetch(c, s, out);
}

static int sq_account_update(struct store *st, struct account *a)
{
    struct sqlite_conn *c = sq_conn_get(st);
    if (!c)
        return -EIO;
    struct account_texts tx;
    int rc = account_texts_of(a, &tx);
    if (rc < 0)
        return rc;
    sqlite3_stmt *s = sq_stmt_get(c, ST_ACCOUNT_UPDATE);
    rc = -EIO;
    if (!s)
        goto fail;
    int64_t now = sq_now_ms();
    int b = sqlite3_bind_int64(s, 1, a->id);
    b |= sqlite3_bind_text(s, 2, a->password_hash, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 3, a->first_name, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 4, a->last_name, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 5, a->organization, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 6, tx.groups, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 7, tx.scopes, -1, SQLITE_STATIC);
    b |= sqlite3_bind_int(s, 8, a->is_active);
    b |= sqlite3_bind_int(s, 9, a->is_staff);
    b |= sqlite3_bind_int64(s, 10, now);
    b |= sqlite3_bind_int64(s, 11, a->sessions_valid_after);
    if (b != SQLITE_OK) {
        sq_db_fail(c, "account_update bind");
        goto fail;
    }
    if ((rc = sq_step_write(c, s, "account_update", -ENOENT)) == 0)
        a->updated = now;
fail:
    sq_stmt_done(s);
    account_texts_free(&tx);
    return rc;
}

static int sq_account_each(struct store *st, int (*fn)(void *ctx, const struct account *a),
                           void *ctx)
{
    struct sqlite_conn *c = sq_conn_get(st);
    if (!c)
        return -EIO;
    struct account *batch = calloc(EACH_BATCH, sizeof(*batch));
    if (!batch)
        return -ENOMEM;
    int64_t last = 0;
    int rc = 0;
    for (;;) {
        sqlite3_stmt *s = sq_stmt_get(c, ST_ACCOUNT_PAGE);
        if (!s) {
            rc = -EIO;
            break;
        }
        sqlite3_bind_int64(s, 1, last);
        sqlite3_bind_int(s, 2, EACH_BATCH);
        size_t n = 0;
        int step;
        while (n < EACH_BATCH && (step = sqlite3_step(s)) == SQLITE_ROW) {
            rc = account_from_row(s, &batch[n]);
            if (rc < 0)
                break;
            n++;
        }
        if (rc == 0 && step != SQLITE_DONE && step != SQLITE_ROW)
            rc = sq_db_fail(c, "account_each");
        sq_stmt_done(s);
        /* Callbacks run with no statement open, so they may use the store. */
        for (size_t i = 0; i < n; i++) {
            if (rc == 0)
                rc = fn(ctx, &batch[i]);
            last = batch[i].id;
            account_free(&batch[i]);
        }
        if (rc != 0 || n < EACH_BATCH)
            break;
    }
    free(batch);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Scopes and groups                                                        */

/* Maps the result of a single INSERT into 0 / -EEXIST / -EIO. */
int sq_insert_result(struct sqlite_conn *c, int step, const char *what)
{
    if (step == SQLITE_DONE)
        return 0;
    if (step == SQLITE_CONSTRAINT_PRIMARYKEY || step == SQLITE_CONSTRAINT_UNIQUE)
        return -EEXIST;
    return sq_db_fail(c, what);
}

/* Steps s to the end, reading each row into a growing array of elem-byte
 * elements with read_row. *out and *n are set even on failure, so the caller
 * frees whatever rows were read; s is finished either way. */
int sq_collect_rows(struct sqlite_conn *c, sqlite3_stmt *s, size_t elem,
                        int (*read_row)(sqlite3_stmt *s, void *row), const char *what,
                        void **out, size_t *n)
{
    char *v = NULL;
    size_t len = 0, cap = 0;
    int rc = 0, step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (array_reserve(&v, &cap, len + 1, elem, 16) < 0) {
            rc = -ENOMEM;
            break;
        }
        if ((rc = read_row(s, v + len * elem)) < 0)
            break;
        len++;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = sq_db_fail(c, what);
    sq_stmt_done(s);
    *out = v;
    *n = len;
    return rc;
}

/* Every row of a parameterless list statement whose rows own no memory: a
 * malloc'd array in *out (NULL and 0 rows on failure). */
static int list_flat_rows(struct store *st, enum stmt_id id, size_t elem,
                          int (*read_row)(sqlite3_stmt *s, void *row), const char *what,
                          void **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct sqlite_conn *c = sq_conn_get(st);
    sqlite3_stmt *s = c ? sq_stmt_get(c, id) : NULL;
    if (!s)
        return -EIO;
    void *v;
    size_t len;
    int rc = sq_collect_rows(c, s, elem, read_row, what, &v, &len);
    if (rc < 0) {
        free(v);
        return rc;
    }
    *out = v;
    *n = len;
    return 0;
}

static int sq_scope_add(struct store *st, const struct scope_def *sd)
{
    struct sqlite_conn *c = sq_conn_get(st);
    sqlite3_stmt *s = c ? sq_stmt_get(c, ST_SCOPE_INSERT) : NULL;
    if (!s)
        return -EIO;
    sqlite3_bind_text(s, 1, sd->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, sd->description, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, sd->is_public);
    int rc = sq_insert_result(c, sqlite3_step(s), "scope_add");
    sq_stmt_done(s);
    return rc;
}

static int scope_from_row(sqlite3_stmt *s, void *row)
{
    struct scope_def *d = row;
    sq_col_text(s, 0, d->id, sizeof(d->id));
    sq_col_text(s, 1, d->description, sizeof(d->description));
    d->is_public = sqlite3_column_int(s, 2) != 0;
    return 0;
}

static int sq_scope_list(struct store *st, struct scope_def **out, size_t *n)
{
    void *v;
    int rc = list_flat_rows(st, ST_SCOPE_LIST, sizeof(**out), scope_from_row, "scope_list", &v, n);
    *out = v;
    return rc;
}

static int sq_group_add(struct store *st, const struct group_def *g)
{
    struct sqlite_conn *c = sq_conn_get(st);
    sqlite3_stmt *s = c ? sq_stmt_get(c, ST_GROUP_INSERT) : NULL;
    if (!s)
        return -EIO;
    sqlite3_bind_text(s, 1, g->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, g->description, -1, SQLITE_STATIC);
    int rc = sq_insert_result(c, sqlite3_step(s), "group_add");
    sq_stmt_done(s);
    return rc;
}

static int group_from_row(sqlite3_stmt *s, void *row)
{
    struct group_def *g = row;
    sq_col_text(s, 0, g->name, sizeof(g->name));
    sq_col_text(s, 1, g->description, sizeof(g->description));
    return 0;
}

static int sq_group_list(struct store *st, struct group_def **out, size_t *n)
{
    void *v;
    int rc = list_flat_rows(st, ST_GROUP_LIST, sizeof(**out), group_from_row, "group_list", &v, n);
    *out = v;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Opening                                                                  */

static struct changefeed *sq_feed_open(struct store *st, const struct changefeed_config *cfg)
{
    (void)cfg; /* one machine: no node, no lease */
    return changefeed_sqlite_open(to_sqlite(st)->path);
}

/* One machine: the keys live in the data directory and the throttles are
 * the process's own counters. */
static int sq_key_shared(struct store *st, const char *name, uint8_t key[CRYPTO_KEY_LEN],
                         bool given)
{
    return -ENOTSUP;
}

/* One statement: the conflict branch rewrites the row unchanged, so that
 * RETURNING yields the stored value whichever process wrote it first. */
int sq_meta_ensure(struct store *st, const char *name, const char *value, char *out, size_t size)
{
    struct sqlite_conn *c = sq_conn_get(st);
    if (!c)
        return -EIO;
    sqlite3_stmt *s = NULL;
    int rc = -EIO;
    if (sqlite3_prepare_v2(c->db,
                           "INSERT INTO meta (name, value) VALUES (?1, ?2)"
                           " ON CONFLICT (name) DO UPDATE SET value = meta.value RETURNING value",
                           -1, &s, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_ROW)
        goto fail;
    const char *stored = (const char *)sqlite3_column_text(s, 0);
    rc = stored && strlen(stored) < size ? 0 : -ENAMETOOLONG;
    if (rc == 0)
        strcpy(out, stored);
    sqlite3_finalize(s);
    return rc;
fail:
    sqlite3_finalize(s);
    return sq_db_fail(c, "meta_ensure");
}

static const struct store_ops sqlite_ops = {
    .migrate = sq_migrate,
    .schema_version = sq_schema_version,
    .ping = sq_ping,
    .close = sq_close,
    .account_create = sq_account_create,
    .account_get_by_id = sq_account_get_by_id,
    .account_get_by_email = sq_account_get_by_email,
    .account_get_by_username = sq_account_get_by_username,
    .account_update = sq_account_update,
    .account_each = sq_account_each,
    .scope_add = sq_scope_add,
    .scope_list = sq_scope_list,
    .group_add = sq_group_add,
    .group_list = sq_group_list,
    .token_insert = sq_token_insert,
    .token_get = sq_token_get,
    .token_list = sq_token_list,
    .token_update = sq_token_update,
    .token_revoke = sq_token_revoke,
    .token_revoke_temp = sq_token_revoke_temp,
    .token_touch = sq_token_touch,
    .token_rotate = sq_token_rotate,
    .token_each = sq_token_each,
    .refresh_insert = sq_refresh_insert,
    .refresh_rotate = sq_refresh_rotate,
    .refresh_check = sq_refresh_check,
    .refresh_revoke_family = sq_refresh_revoke_family,
    .refresh_revoke_account = sq_refresh_revoke_account,
    .audit_append = sq_audit_append,
    .audit_list = sq_audit_list,
    .audit_prune = sq_audit_prune,
    .token_expiring = sq_token_expiring,
    .notice_add = sq_notice_add,
    .notice_list = sq_notice_list,
    .notice_dismiss = sq_notice_dismiss,
    .notice_claim = sq_notice_claim,
    .notice_delivered = sq_notice_delivered,
    .reset_insert = sq_reset_insert,
    .reset_use = sq_reset_use,
    .feed_open = sq_feed_open,
    .key_shared = sq_key_shared,
    .throttle_hit = sq_throttle_hit,
    .meta_ensure = sq_meta_ensure,
};

/* mkdir -p with mode 0700 for every component we create. */
static int mkdir_p(const char *dir)
{
    char *path = strdup(dir);
    if (!path)
        return -ENOMEM;
    int rc = 0;
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(path, 0700) < 0 && errno != EEXIST) {
            rc = -errno;
            break;
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    struct stat sb;
    if (rc == 0 && (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode)))
        rc = -ENOTDIR;
    free(path);
    return rc;
}

/* Creates the directory that will hold db_path. */
static int make_parent_dir(const char *db_path)
{
    const char *slash = strrchr(db_path, '/');
    if (!slash || slash == db_path)
        return 0;
    char *dir = strndup(db_path, (size_t)(slash - db_path));
    if (!dir)
        return -ENOMEM;
    int rc = mkdir_p(dir);
    if (rc < 0)
        log_error("store: cannot create directory %s: %s", dir, strerror(-rc));
    free(dir);
    return rc;
}

struct store *store_sqlite_open(const char *db_path)
{
    struct sqlite_store *ss = NULL;
    bool key_made = false, lock_made = false;
    if (!db_path || !*db_path) {
        log_error("store: empty database path");
        return NULL;
    }
    /* Connections never cross threads, but SQLite's shared caches and
     * memory allocator still need a thread-safe build. */
    if (!sqlite3_threadsafe()) {
        log_error("store: SQLite was built without thread support");
        return NULL;
    }
    if (make_parent_dir(db_path) < 0)
        return NULL;
    ss = calloc(1, sizeof(*ss));
    if (!ss)
        goto fail;
    ss->base.ops = &sqlite_ops;
    if (!(ss->path = strdup(db_path)))
        goto fail;
    if (pthread_mutex_init(&ss->lock, NULL) != 0)
        goto fail;
    lock_made = true;
    if (pthread_key_create(&ss->key, conn_thread_exit) != 0)
        goto fail;
    key_made = true;
    /* Open the calling thread's connection now, so a bad path or a locked
     * or corrupt file is reported at start-up rather than on first request. */
    if (!sq_conn_get(&ss->base))
        goto fail;
    return &ss->base;
fail:
    log_error("store: cannot open the SQLite store %s", db_path);
    if (ss) {
        if (key_made) {
            struct sqlite_conn *c = pthread_getspecific(ss->key);
            pthread_key_delete(ss->key);
            conn_close(c);
        }
        if (lock_made)
            pthread_mutex_destroy(&ss->lock);
        free(ss->path);
        free(ss);
    }
    return NULL;
}
