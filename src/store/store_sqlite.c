/* The SQLite storage backend (WAL, synchronous=FULL so an acknowledged write
 * survives kill -9). Threading: each thread gets its own sqlite3 connection,
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
#include "util/log.h"

/* ------------------------------------------------------------------------ */
/* Schema                                                                   */

/* Migrations are applied in order, each in its own BEGIN IMMEDIATE
 * transaction together with its row in schema_migrations, so a crash leaves
 * the schema either before or after a step, never in between. Never edit a
 * shipped entry: append a new one. */
static const char *const migrations[] = {
    /* 1: initial schema and the built-in scopes and groups. */
    "CREATE TABLE accounts ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  username TEXT NOT NULL UNIQUE,"
    "  email TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    "  password_hash TEXT NOT NULL DEFAULT '',"
    "  first_name TEXT NOT NULL DEFAULT '',"
    "  last_name TEXT NOT NULL DEFAULT '',"
    "  organization TEXT NOT NULL DEFAULT '',"
    "  \"groups\" TEXT NOT NULL DEFAULT '',"
    "  scopes TEXT NOT NULL DEFAULT '',"
    "  is_active INTEGER NOT NULL DEFAULT 1,"
    "  is_staff INTEGER NOT NULL DEFAULT 0,"
    "  created INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL,"
    "  sessions_valid_after INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE TABLE scopes ("
    "  id TEXT PRIMARY KEY,"
    "  description TEXT NOT NULL DEFAULT '',"
    "  is_public INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE TABLE \"groups\" ("
    "  name TEXT PRIMARY KEY,"
    "  description TEXT NOT NULL DEFAULT ''"
    ");"
    "CREATE TABLE tokens ("
    "  id TEXT PRIMARY KEY,"
    "  account_id INTEGER NOT NULL REFERENCES accounts(id),"
    "  usage TEXT NOT NULL CHECK (usage IN ('pk', 'sk')),"
    "  note TEXT NOT NULL DEFAULT '',"
    "  scopes TEXT NOT NULL DEFAULT '',"
    "  allowed_urls TEXT NOT NULL DEFAULT '[]',"
    "  secret_hash BLOB NOT NULL,"
    "  public_token TEXT,"
    "  is_default INTEGER NOT NULL DEFAULT 0,"
    "  expires_at INTEGER NOT NULL DEFAULT 0,"
    "  created INTEGER NOT NULL,"
    "  modified INTEGER NOT NULL,"
    "  last_used_at INTEGER NOT NULL DEFAULT 0,"
    "  revoked_at INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX tokens_account_created ON tokens(account_id, created, id);"
    "CREATE INDEX tokens_account_modified ON tokens(account_id, modified, id);"
    "CREATE TABLE refresh_tokens ("
    "  jti TEXT PRIMARY KEY,"
    "  family TEXT NOT NULL,"
    "  account_id INTEGER NOT NULL REFERENCES accounts(id),"
    "  expires_at INTEGER NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'used', 'revoked')),"
    "  created INTEGER NOT NULL"
    ");"
    "CREATE INDEX refresh_tokens_family ON refresh_tokens(family);"
    "CREATE INDEX refresh_tokens_account ON refresh_tokens(account_id);"
    "INSERT INTO scopes (id, description, is_public) VALUES"
    "  ('stac', 'Search the STAC catalog', 0),"
    "  ('catalog:read', 'Download catalog assets', 0),"
    "  ('tokens:read', 'List and read API tokens', 0),"
    "  ('tokens:write', 'Create, update and revoke API tokens', 0),"
    "  ('scopes:list', 'List the available scopes', 0),"
    "  ('tokens:introspect', 'Introspect tokens of other accounts', 0),"
    "  ('styles:tiles', 'Read styles as raster tiles', 1),"
    "  ('styles:read', 'Read styles', 1),"
    "  ('fonts:read', 'Read fonts', 1),"
    "  ('datasets:read', 'Read datasets', 1),"
    "  ('vision:read', 'Use the vision APIs', 1);"
    "INSERT INTO \"groups\" (name, description) VALUES"
    "  ('Public', 'Everyone'),"
    "  ('Partners', 'Partner organizations');",
    /* 2: the change feed (changefeed_sqlite.c). Triggers log every account
     * and token write inside the writer's own transaction, whoever writes
     * (this server or a CLI process), so other processes can follow. */
    "CREATE TABLE change_log ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  kind INTEGER NOT NULL,"
    "  account_id INTEGER NOT NULL,"
    "  token_id TEXT NOT NULL DEFAULT '',"
    "  at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))"
    ");"
    "CREATE TRIGGER change_log_account_insert AFTER INSERT ON accounts"
    " BEGIN INSERT INTO change_log (kind, account_id) VALUES (1, NEW.id); END;"
    "CREATE TRIGGER change_log_account_update AFTER UPDATE ON accounts"
    " BEGIN INSERT INTO change_log (kind, account_id) VALUES (1, NEW.id); END;"
    "CREATE TRIGGER change_log_account_delete AFTER DELETE ON accounts"
    " BEGIN INSERT INTO change_log (kind, account_id) VALUES (1, OLD.id); END;"
    "CREATE TRIGGER change_log_token_insert AFTER INSERT ON tokens"
    " BEGIN INSERT INTO change_log (kind, account_id, token_id)"
    " VALUES (2, NEW.account_id, NEW.id); END;"
    "CREATE TRIGGER change_log_token_update AFTER UPDATE ON tokens"
    " BEGIN INSERT INTO change_log (kind, account_id, token_id)"
    " VALUES (2, NEW.account_id, NEW.id); END;"
    "CREATE TRIGGER change_log_token_delete AFTER DELETE ON tokens"
    " BEGIN INSERT INTO change_log (kind, account_id, token_id)"
    " VALUES (2, OLD.account_id, OLD.id); END;",
};
#define MIGRATION_COUNT ((int)(sizeof(migrations) / sizeof(migrations[0])))

#define ACCOUNT_COLS                                                                              \
    "id, username, email, password_hash, first_name, last_name, organization, \"groups\", "      \
    "scopes, is_active, is_staff, created, updated, sessions_valid_after"
#define TOKEN_COLS                                                                                \
    "id, account_id, usage, note, scopes, allowed_urls, secret_hash, public_token, is_default, "  \
    "expires_at, created, modified, last_used_at, revoked_at"
/* account_each reads rows in batches of this size, so no statement (and no
 * read transaction) stays open while a callback runs. */
#define EACH_BATCH 256

/* Every statement the backend runs, prepared once per connection on first
 * use. The enum indexes both this table and the per-connection cache. */
enum stmt_id {
    ST_BEGIN_IMMEDIATE,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_PING,
    ST_MIGRATIONS_TABLE_EXISTS,
    ST_MIGRATIONS_CREATE,
    ST_SCHEMA_VERSION,
    ST_MIGRATION_APPLIED,
    ST_MIGRATION_RECORD,
    ST_ACCOUNT_INSERT,
    ST_ACCOUNT_BY_ID,
    ST_ACCOUNT_BY_EMAIL,
    ST_ACCOUNT_BY_USERNAME,
    ST_ACCOUNT_UPDATE,
    ST_ACCOUNT_PAGE,
    ST_SCOPE_INSERT,
    ST_SCOPE_LIST,
    ST_GROUP_INSERT,
    ST_GROUP_LIST,
    ST_TOKEN_INSERT,
    ST_TOKEN_GET,
    ST_TOKEN_CURSOR,
    ST_TOKEN_LIST_CREATED,
    ST_TOKEN_LIST_CREATED_AFTER,
    ST_TOKEN_LIST_MODIFIED,
    ST_TOKEN_LIST_MODIFIED_AFTER,
    ST_TOKEN_UPDATE,
    ST_TOKEN_REVOKE,
    ST_TOKEN_SCAN,
    ST_REFRESH_INSERT,
    ST_REFRESH_GET,
    ST_REFRESH_MARK_USED,
    ST_REFRESH_REVOKE_FAMILY,
    ST_REFRESH_REVOKE_ACCOUNT,
    ST_COUNT
};

/* Token list filters: ?2 = -1 means any usage, else ?3 is 'pk'/'sk';
 * ?4 = -1 means any is_default. The keyset variants continue strictly after
 * (?5, ?6) using a row-value comparison, which SQLite turns into an index
 * range scan on (account_id, sort key, id). */
#define TOKEN_LIST_FILTER                                                                         \
    " WHERE account_id = ?1 AND revoked_at = 0 AND (?2 = -1 OR usage = ?3)"                       \
    " AND (?4 = -1 OR is_default = ?4)"

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_PING] = "SELECT 1",
    [ST_MIGRATIONS_TABLE_EXISTS] =
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
    [ST_MIGRATIONS_CREATE] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                             " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    [ST_SCHEMA_VERSION] = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
    [ST_MIGRATION_APPLIED] = "SELECT 1 FROM schema_migrations WHERE version = ?1",
    [ST_MIGRATION_RECORD] = "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
    [ST_ACCOUNT_INSERT] =
        "INSERT INTO accounts (username, email, password_hash, first_name, last_name,"
        " organization, \"groups\", scopes, is_active, is_staff, created, updated,"
        " sessions_valid_after) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [ST_ACCOUNT_BY_ID] = "SELECT " ACCOUNT_COLS " FROM accounts WHERE id = ?1",
    /* The column is COLLATE NOCASE, so this comparison is case-insensitive
     * and uses the unique index. */
    [ST_ACCOUNT_BY_EMAIL] = "SELECT " ACCOUNT_COLS " FROM accounts WHERE email = ?1",
    [ST_ACCOUNT_BY_USERNAME] = "SELECT " ACCOUNT_COLS " FROM accounts WHERE username = ?1",
    [ST_ACCOUNT_UPDATE] =
        "UPDATE accounts SET password_hash = ?2, first_name = ?3, last_name = ?4,"
        " organization = ?5, \"groups\" = ?6, scopes = ?7, is_active = ?8, is_staff = ?9,"
        " updated = ?10, sessions_valid_after = ?11 WHERE id = ?1",
    [ST_ACCOUNT_PAGE] =
        "SELECT " ACCOUNT_COLS " FROM accounts WHERE id > ?1 ORDER BY id LIMIT ?2",
    [ST_SCOPE_INSERT] = "INSERT INTO scopes (id, description, is_public) VALUES (?1, ?2, ?3)",
    [ST_SCOPE_LIST] = "SELECT id, description, is_public FROM scopes ORDER BY id",
    [ST_GROUP_INSERT] = "INSERT INTO \"groups\" (name, description) VALUES (?1, ?2)",
    [ST_GROUP_LIST] = "SELECT name, description FROM \"groups\" ORDER BY name",
    [ST_TOKEN_INSERT] =
        "INSERT INTO tokens (" TOKEN_COLS ") VALUES"
        " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    [ST_TOKEN_GET] = "SELECT " TOKEN_COLS " FROM tokens WHERE id = ?1",
    [ST_TOKEN_CURSOR] = "SELECT created, modified FROM tokens"
                        " WHERE id = ?1 AND account_id = ?2",
    [ST_TOKEN_LIST_CREATED] = "SELECT " TOKEN_COLS " FROM tokens" TOKEN_LIST_FILTER
                              " ORDER BY created, id LIMIT ?7",
    [ST_TOKEN_LIST_CREATED_AFTER] = "SELECT " TOKEN_COLS " FROM tokens" TOKEN_LIST_FILTER
                                    " AND (created, id) > (?5, ?6) ORDER BY created, id LIMIT ?7",
    [ST_TOKEN_LIST_MODIFIED] = "SELECT " TOKEN_COLS " FROM tokens" TOKEN_LIST_FILTER
                               " ORDER BY modified, id LIMIT ?7",
    [ST_TOKEN_LIST_MODIFIED_AFTER] =
        "SELECT " TOKEN_COLS " FROM tokens" TOKEN_LIST_FILTER
        " AND (modified, id) > (?5, ?6) ORDER BY modified, id LIMIT ?7",
    [ST_TOKEN_UPDATE] = "UPDATE tokens SET note = ?2, scopes = ?3, allowed_urls = ?4,"
                        " modified = ?5 WHERE id = ?1 AND revoked_at = 0",
    [ST_TOKEN_REVOKE] = "UPDATE tokens SET revoked_at = ?3"
                        " WHERE id = ?1 AND account_id = ?2 AND revoked_at = 0",
    /* Table (rowid) order reads each page once; the note and the public
     * token string are left out (the index keeps neither). */
    [ST_TOKEN_SCAN] = "SELECT id, account_id, usage, '', scopes, allowed_urls, secret_hash, NULL,"
                      " is_default, expires_at, created, modified, last_used_at, revoked_at"
                      " FROM tokens WHERE revoked_at = 0",
    [ST_REFRESH_INSERT] = "INSERT INTO refresh_tokens (jti, family, account_id, expires_at,"
                          " state, created) VALUES (?1, ?2, ?3, ?4, 'active', ?5)",
    [ST_REFRESH_GET] =
        "SELECT jti, family, account_id, expires_at, state FROM refresh_tokens WHERE jti = ?1",
    [ST_REFRESH_MARK_USED] =
        "UPDATE refresh_tokens SET state = 'used' WHERE jti = ?1 AND state = 'active'",
    [ST_REFRESH_REVOKE_FAMILY] =
        "UPDATE refresh_tokens SET state = 'revoked' WHERE family = ?1 AND state <> 'revoked'",
    [ST_REFRESH_REVOKE_ACCOUNT] = "UPDATE refresh_tokens SET state = 'revoked'"
                                  " WHERE account_id = ?1 AND state <> 'revoked'",
};

/* ------------------------------------------------------------------------ */
/* Connections                                                              */

struct sqlite_store;

struct sqlite_conn {
    sqlite3 *db;
    sqlite3_stmt *stmt[ST_COUNT];
    struct sqlite_store *owner;
    struct sqlite_conn *prev, *next; /* registry, guarded by owner->lock */
};

struct sqlite_store {
    struct store base; /* first member: struct store * casts to this */
    char *path;
    pthread_key_t key;
    pthread_mutex_t lock;
    struct sqlite_conn *conns;
};

static int64_t now_ms(void)
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
static struct sqlite_conn *conn_get(struct store *st)
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
static int db_fail(struct sqlite_conn *c, const char *what)
{
    log_error("store: %s: %s (%d)", what, sqlite3_errmsg(c->db),
              sqlite3_extended_errcode(c->db));
    return -EIO;
}

/* The cached prepared statement, prepared on first use. */
static sqlite3_stmt *stmt_get(struct sqlite_conn *c, enum stmt_id id)
{
    if (c->stmt[id])
        return c->stmt[id];
    if (sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->stmt[id],
                           NULL) != SQLITE_OK) {
        db_fail(c, "prepare");
        c->stmt[id] = NULL;
        return NULL;
    }
    return c->stmt[id];
}

/* Returns a cached statement to its pristine state. Bindings are cleared
 * too, because they may point at caller buffers that are about to die. */
static void stmt_done(sqlite3_stmt *s)
{
    if (s) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
}

/* Runs a cached statement that returns no rows. Returns the SQLite code. */
static int stmt_run(struct sqlite_conn *c, enum stmt_id id)
{
    sqlite3_stmt *s = stmt_get(c, id);
    if (!s)
        return SQLITE_ERROR;
    int rc = sqlite3_step(s);
    stmt_done(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static int tx_begin(struct sqlite_conn *c)
{
    return stmt_run(c, ST_BEGIN_IMMEDIATE) == SQLITE_OK ? 0 : db_fail(c, "begin");
}

static int tx_commit(struct sqlite_conn *c)
{
    return stmt_run(c, ST_COMMIT) == SQLITE_OK ? 0 : db_fail(c, "commit");
}

static void tx_rollback(struct sqlite_conn *c)
{
    /* Some errors (e.g. SQLITE_FULL) already rolled the transaction back. */
    if (!sqlite3_get_autocommit(c->db))
        stmt_run(c, ST_ROLLBACK);
}

/* ------------------------------------------------------------------------ */
/* Value helpers                                                            */

static void col_text(sqlite3_stmt *s, int col, char *dst, size_t size)
{
    store_copy_text(dst, size, (const char *)sqlite3_column_text(s, col));
}

static int col_names(sqlite3_stmt *s, int col, struct strlist *out)
{
    return strlist_split(out, (const char *)sqlite3_column_text(s, col));
}

/* Binds a 64-bit limit where 0 means "no limit" (SQLite's LIMIT -1). */
static int bind_limit(sqlite3_stmt *s, int idx, size_t limit)
{
    sqlite3_int64 v = limit == 0 || limit > (size_t)INT64_MAX ? -1 : (sqlite3_int64)limit;
    return sqlite3_bind_int64(s, idx, v);
}

/* ------------------------------------------------------------------------ */
/* Lifecycle and migrations                                                 */

static int sq_ping(struct store *st)
{
    struct sqlite_conn *c = conn_get(st);
    if (!c)
        return -EIO;
    return stmt_run(c, ST_PING) == SQLITE_OK ? 0 : db_fail(c, "ping");
}

static int sq_schema_version(struct store *st)
{
    struct sqlite_conn *c = conn_get(st);
    if (!c)
        return -EIO;
    sqlite3_stmt *s = stmt_get(c, ST_MIGRATIONS_TABLE_EXISTS);
    if (!s)
        return -EIO;
    int rc = sqlite3_step(s);
    stmt_done(s);
    if (rc == SQLITE_DONE)
        return 0; /* never migrated */
    if (rc != SQLITE_ROW)
        return db_fail(c, "schema_version");
    s = stmt_get(c, ST_SCHEMA_VERSION);
    if (!s)
        return -EIO;
    rc = sqlite3_step(s);
    int version = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
    stmt_done(s);
    return rc == SQLITE_ROW ? version : db_fail(c, "schema_version");
}

/* Runs every statement of a multi-statement migration script in turn. */
static int run_script(struct sqlite_conn *c, const char *sql)
{
    const char *tail = sql;
    while (tail && *tail) {
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(c->db, tail, -1, &s, &tail) != SQLITE_OK)
            return db_fail(c, "migration prepare");
        if (!s)
            break; /* only whitespace or comments remain */
        int rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW)
            ;
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE)
            return db_fail(c, "migration step");
    }
    return 0;
}

static int sq_migrate(struct store *st)
{
    struct sqlite_conn *c = conn_get(st);
    if (!c)
        return -EIO;
    if (stmt_run(c, ST_MIGRATIONS_CREATE) != SQLITE_OK)
        return db_fail(c, "create schema_migrations");
    for (int v = 1; v <= MIGRATION_COUNT; v++) {
        int rc = tx_begin(c);
        if (rc < 0)
            return rc;
        /* Checked inside the write transaction, so two processes migrating
         * at once cannot both apply the same step. */
        sqlite3_stmt *s = stmt_get(c, ST_MIGRATION_APPLIED);
        if (!s)
            goto fail;
        sqlite3_bind_int(s, 1, v);
        int step = sqlite3_step(s);
        stmt_done(s);
        if (step == SQLITE_ROW) {
            tx_rollback(c);
            continue;
        }
        if (step != SQLITE_DONE) {
            db_fail(c, "migration check");
            goto fail;
        }
        if (run_script(c, migrations[v - 1]) < 0)
            goto fail;
        s = stmt_get(c, ST_MIGRATION_RECORD);
        if (!s)
            goto fail;
        sqlite3_bind_int(s, 1, v);
        sqlite3_bind_int64(s, 2, now_ms());
        step = sqlite3_step(s);
        stmt_done(s);
        if (step != SQLITE_DONE) {
            db_fail(c, "migration record");
            goto fail;
        }
        if (tx_commit(c) < 0)
            goto fail;
        log_info("store: applied migration %d", v);
        continue;
    fail:
        tx_rollback(c);
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
    col_text(s, 1, a->username, sizeof(a->username));
    col_text(s, 2, a->email, sizeof(a->email));
    col_text(s, 3, a->password_hash, sizeof(a->password_hash));
    col_text(s, 4, a->first_name, sizeof(a->first_name));
    col_text(s, 5, a->last_name, sizeof(a->last_name));
    col_text(s, 6, a->organization, sizeof(a->organization));
    if (col_names(s, 7, &a->groups) < 0 || col_names(s, 8, &a->scopes) < 0) {
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

static int token_insert_on(struct sqlite_conn *c, const struct token_record *t);

static int sq_account_create(struct store *st, struct account *a, struct token_record *first_token)
{
    struct sqlite_conn *c = conn_get(st);
    if (!c)
        return -EIO;
    if (!store_names_storable(&a->groups) || !store_names_storable(&a->scopes))
        return -EINVAL;
    int rc = -ENOMEM;
    sqlite3_stmt *s = NULL;
    char *groups = strlist_join(&a->groups, " ");
    char *scopes = strlist_join(&a->scopes, " ");
    if (!groups || !scopes)
        goto fail;
    rc = -EIO;
    s = stmt_get(c, ST_ACCOUNT_INSERT);
    if (!s)
        goto fail;
    int64_t now = now_ms();
    /* Binding can only fail on misuse or OOM; OR-ing the codes keeps the
     * check to one branch (SQLITE_OK is 0). */
    int b = sqlite3_bind_text(s, 1, a->username, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 2, a->email, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 3, a->password_hash, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 4, a->first_name, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 5, a->last_name, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 6, a->organization, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 7, groups, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 8, scopes, -1, SQLITE_STATIC);
    b |= sqlite3_bind_int(s, 9, a->is_active);
    b |= sqlite3_bind_int(s, 10, a->is_staff);
    b |= sqlite3_bind_int64(s, 11, now);
    b |= sqlite3_bind_int64(s, 12, now);
    b |= sqlite3_bind_int64(s, 13, a->sessions_valid_after);
    if (b != SQLITE_OK) {
        db_fail(c, "account_create bind");
        goto fail;
    }
    /* The account and its first token commit together, so a crash never
     * leaves an account without its default token. */
    if (first_token && tx_begin(c) < 0)
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
            rc = db_fail(c, "account_create");
    } else {
        rc = db_fail(c, "account_create");
    }
    stmt_done(s);
    s = NULL;
    if (first_token) {
        if (rc == 0) {
            first_token->account_id = a->id;
            rc = token_insert_on(c, first_token);
        }
        if (rc == 0)
            rc = tx_commit(c);
        if (rc < 0)
            tx_rollback(c);
    }
fail:
    stmt_done(s);
    free(groups);
    free(scopes);
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
        rc = db_fail(c, "account_get");
    stmt_done(s);
    return rc;
}

static int sq_account_get_by_id(struct store *st, int64_t id, struct account *out)
{
    struct sqlite_conn *c = conn_get(st);
    sqlite3_stmt *s = c ? stmt_get(c, ST_ACCOUNT_BY_ID) : NULL;
    if (!s)
        return -EIO;
    sqlite3_bind_int64(s, 1, id);
    return account_fetch(c, s, out);
}

static int sq_account_get_by_email(struct store *st, const char *email, struct account *out)
{
    struct sqlite_conn *c = conn_get(st);
    sqlite3_stmt *s = c ? stmt_get(c, ST_ACCOUNT_BY_EMAIL) : NULL;
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
    struct sqlite_conn *c = conn_get(st);
    sqlite3_stmt *s = c ? stmt_get(c, ST_ACCOUNT_BY_USERNAME) : NULL;
    if (!s)
        return -EIO;
    if (!username)
        return -ENOENT;
    sqlite3_bind_text(s, 1, username, -1, SQLITE_STATIC);
    return account_fetch(c, s, out);
}

static int sq_account_update(struct store *st, struct account *a)
{
    struct sqlite_conn *c = conn_get(st);
    if (!c)
        return -EIO;
    if (!store_names_storable(&a->groups) || !store_names_storable(&a->scopes))
        return -EINVAL;
    int rc = -ENOMEM;
    sqlite3_stmt *s = NULL;
    char *groups = strlist_join(&a->groups, " ");
    char *scopes = strlist_join(&a->scopes, " ");
    if (!groups || !scopes)
        goto fail;
    rc = -EIO;
    s = stmt_get(c, ST_ACCOUNT_UPDATE);
    if (!s)
        goto fail;
    int64_t now = now_ms();
    int b = sqlite3_bind_int64(s, 1, a->id);
    b |= sqlite3_bind_text(s, 2, a->password_hash, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 3, a->first_name, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 4, a->last_name, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 5, a->organization, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 6, groups, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 7, scopes, -1, SQLITE_STATIC);
    b |= sqlite3_bind_int(s, 8, a->is_active);
    b |= sqlite3_bind_int(s, 9, a->is_staff);
    b |= sqlite3_bind_int64(s, 10, now);
    b |= sqlite3_bind_int64(s, 11, a->sessions_valid_after);
    if (b != SQLITE_OK) {
        db_fail(c, "account_update bind");
        goto fail;
    }
    if (sqlite3_step(s) != SQLITE_DONE) {
        db_fail(c, "account_update");
        goto fail;
    }
    if (sqlite3_changes(c->db) == 0) {
        rc = -ENOENT;
        goto fail;
    }
    a->updated = now;
    rc = 0;
fail:
    stmt_done(s);
    free(groups);
    free(scopes);
    return rc;
}

static int sq_account_each(struct store *st, int (*fn)(void *ctx, const struct account *a),
                           void *ctx)
{
    struct sqlite_conn *c = conn_get(st);
    if (!c)
        return -EIO;
    struct account *batch = calloc(EACH_BATCH, sizeof(*batch));
    if (!batch)
        return -ENOMEM;
    int64_t last = 0;
    int rc = 0;
    for (;;) {
        sqlite3_stmt *s = stmt_get(c, ST_ACCOUNT_PAGE);
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
            rc = db_fail(c, "account_each");
        stmt_done(s);
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
static int insert_result(struct sqlite_conn *c, int step, const char *what)
{
    if (step == SQLITE_DONE)
        return 0;
    if (step == SQLITE_CONSTRAINT_PRIMARYKEY || step == SQLITE_CONSTRAINT_UNIQUE)
        return -EEXIST;
    return db_fail(c, what);
}

/* Doubles a result array; NULL on ENOMEM, leaving v untouched. */
static void *grow_array(void *v, size_t *cap, size_t elem)
{
    size_t ncap = *cap ? *cap * 2 : 16;
    void *nv = realloc(v, ncap * elem);
    if (nv)
        *cap = ncap;
    return nv;
}

/* Steps s to the end, reading each row into a growing array of elem-byte
 * elements with read_row. *out and *n are set even on failure, so the caller
 * frees whatever rows were read; s is finished either way. */
static int collect_rows(struct sqlite_conn *c, sqlite3_stmt *s, size_t elem,
                        int (*read_row)(sqlite3_stmt *s, void *row), const char *what,
                        void **out, size_t *n)
{
    char *v = NULL;
    size_t len = 0, cap = 0;
    int rc = 0, step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (len == cap) {
            void *nv = grow_array(v, &cap, elem);
            if (!nv) {
                rc = -ENOMEM;
                break;
            }
            v = nv;
        }
        if ((rc = read_row(s, v + len * elem)) < 0)
            break;
        len++;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = db_fail(c, what);
    stmt_done(s);
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
    struct sqlite_conn *c = conn_get(st);
    sqlite3_stmt *s = c ? stmt_get(c, id) : NULL;
    if (!s)
        return -EIO;
    void *v;
    size_t len;
    int rc = collect_rows(c, s, elem, read_row, what, &v, &len);
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
    struct sqlite_conn *c = conn_get(st);
    sqlite3_stmt *s = c ? stmt_get(c, ST_SCOPE_INSERT) : NULL;
    if (!s)
        return -EIO;
    sqlite3_bind_text(s, 1, sd->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, sd->description, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, sd->is_public);
    int rc = insert_result(c, sqlite3_step(s), "scope_add");
    stmt_done(s);
    return rc;
}

static int scope_from_row(sqlite3_stmt *s, void *row)
{
    struct scope_def *d = row;
    col_text(s, 0, d->id, sizeof(d->id));
    col_text(s, 1, d->description, sizeof(d->description));
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
    struct sqlite_conn *c = conn_get(st);
    sqlite3_stmt *s = c ? stmt_get(c, ST_GROUP_INSERT) : NULL;
    if (!s)
        return -EIO;
    sqlite3_bind_text(s, 1, g->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, g->description, -1, SQLITE_STATIC);
    int rc = insert_result(c, sqlite3_step(s), "group_add");
    stmt_done(s);
    return rc;
}

static int group_from_row(sqlite3_stmt *s, void *row)
{
    struct group_def *g = row;
    col_text(s, 0, g->name, sizeof(g->name));
    col_text(s, 1, g->description, sizeof(g->description));
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
/* Tokens                                                                   */

static int token_from_row(sqlite3_stmt *s, struct token_record *t)
{
    memset(t, 0, sizeof(*t));
    col_text(s, 0, t->id, sizeof(t->id));
    t->account_id = sqlite3_column_int64(s, 1);
    const char *usage = (const char *)sqlite3_column_text(s, 2);
    t->usage = usage && strcmp(usage, "sk") == 0 ? TOKEN_SK : TOKEN_PK;
    col_text(s, 3, t->note, sizeof(t->note));
    int rc = col_names(s, 4, &t->scopes);
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
    return 0;
fail:
    token_record_free(t);
    return rc;
}

static int token_insert_on(struct sqlite_conn *c, const struct token_record *t)
{
    if ((t->usage != TOKEN_PK && t->usage != TOKEN_SK) || !store_names_storable(&t->scopes))
        return -EINVAL;
    int rc = -ENOMEM;
    sqlite3_stmt *s = NULL;
    char *scopes = strlist_join(&t->scopes, " ");
    char *urls = store_urls_to_json(&t->allowed_urls);
    if (!scopes || !urls)
        goto fail;
    rc = -EIO;
    s = stmt_get(c, ST_TOKEN_INSERT);
    if (!s)
        goto fail;
    int64_t created = t->created ? t->created : now_ms();
    int b = sqlite3_bind_text(s, 1, t->id, -1, SQLITE_STATIC);
    b |= sqlite3_bind_int64(s, 2, t->account_id);
    b |= sqlite3_bind_text(s, 3, t->usage == TOKEN_SK ? "sk" : "pk", -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 4, t->note, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 5, scopes, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 6, urls, -1, SQLITE_STATIC);
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
    if (b != SQLITE_OK) {
        db_fail(c, "token_insert bind");
        goto fail;
    }
    int step = sqlite3_step(s);
    if (step == SQLITE_CONSTRAINT_FOREIGNKEY)
        rc = -ENOENT; /* no such account */
    else
        rc = insert_result(c, step, "token_insert");
fail:
    stmt_done(s);
    free(scopes);
    free(urls);
    return rc;
}

static int sq_token_insert(struct store *st, const struct token_record *t)
{
    struct sqlite_conn *c = conn_get(st);
    return c ? token_insert_on(c, t) : -EIO;
}

static int sq_token_get(struct store *st, const char *id, struct token_record *out)
{
    struct sqlite_conn *c = conn_get(st);
    sqlite3_stmt *s = c ? stmt_get(c, ST_TOKEN_GET) : NULL;
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
        rc = db_fail(c, "token_get");
    stmt_done(s);
    return rc;
}

static int token_row(sqlite3_stmt *s, void *row)
{
    return token_from_row(s, row);
}

static int sq_token_list(struct store *st, const struct token_query *q, struct token_record **out,
                         size_t *n)
{
    *out = NULL;
    *n = 0;
    struct sqlite_conn *c = conn_get(st);
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
        s = stmt_get(c, ST_TOKEN_CURSOR);
        if (!s)
            goto fail;
        sqlite3_bind_text(s, 1, q->start_after, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, q->account_id);
        step = sqlite3_step(s);
        if (step == SQLITE_ROW)
            key = sqlite3_column_int64(s, by_modified ? 1 : 0);
        stmt_done(s);
        s = NULL;
        if (step == SQLITE_DONE) {
            rc = -ENOENT;
            goto fail;
        }
        if (step != SQLITE_ROW) {
            db_fail(c, "token_list cursor");
            goto fail;
        }
    }

    enum stmt_id id = by_modified ? (q->start_after ? ST_TOKEN_LIST_MODIFIED_AFTER
                                                    : ST_TOKEN_LIST_MODIFIED)
                                  : (q->start_after ? ST_TOKEN_LIST_CREATED_AFTER
                                                    : ST_TOKEN_LIST_CREATED);
    s = stmt_get(c, id);
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
    b |= bind_limit(s, 7, q->limit);
    if (b != SQLITE_OK) {
        db_fail(c, "token_list bind");
        goto fail;
    }
    void *rows;
    rc = collect_rows(c, s, sizeof(*v), token_row, "token_list", &rows, &len);
    v = rows;
    if (rc < 0) {
        token_records_free(v, len);
        return rc;
    }
    *out = v;
    *n = len;
    return 0;
fail:
    stmt_done(s);
    return rc;
}

static int sq_token_update(struct store *st, const struct token_record *t)
{
    struct sqlite_conn *c = conn_get(st);
    if (!c)
        return -EIO;
    if (!store_names_storable(&t->scopes))
        return -EINVAL;
    int rc = -ENOMEM;
    sqlite3_stmt *s = NULL;
    char *scopes = strlist_join(&t->scopes, " ");
    char *urls = store_urls_to_json(&t->allowed_urls);
    if (!scopes || !urls)
        goto fail;
    rc = -EIO;
    s = stmt_get(c, ST_TOKEN_UPDATE);
    if (!s)
        goto fail;
    int b = sqlite3_bind_text(s, 1, t->id, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 2, t->note, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 3, scopes, -1, SQLITE_STATIC);
    b |= sqlite3_bind_text(s, 4, urls, -1, SQLITE_STATIC);
    b |= sqlite3_bind_int64(s, 5, t->modified ? t->modified : now_ms());
    if (b != SQLITE_OK) {
        db_fail(c, "token_update bind");
        goto fail;
    }
    if (sqlite3_step(s) != SQLITE_DONE) {
        db_fail(c, "token_update");
        goto fail;
    }
    rc = sqlite3_changes(c->db) ? 0 : -ENOENT;
fail:
    stmt_done(s);
    free(scopes);
    free(urls);
    return rc;
}

static int sq_token_revoke(struct store *st, const char *id, int64_t account_id)
{
    struct sqlite_conn *c = conn_get(st);
    sqlite3_stmt *s = c ? stmt_get(c, ST_TOKEN_REVOKE) : NULL;
    if (!s)
        return -EIO;
    if (!id)
        return -ENOENT;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, account_id);
    sqlite3_bind_int64(s, 3, now_ms());
    int rc;
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = db_fail(c, "token_revoke");
    else
        rc = sqlite3_changes(c->db) ? 0 : -ENOENT;
    stmt_done(s);
    return rc;
}

static int sq_token_each(struct store *st, int (*fn)(void *ctx, const struct token_record *t),
                         void *ctx)
{
    struct sqlite_conn *c = conn_get(st);
    sqlite3_stmt *s = c ? stmt_get(c, ST_TOKEN_SCAN) : NULL;
    if (!s)
        return -EIO;
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
        rc = db_fail(c, "token_each");
    stmt_done(s);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Refresh tokens                                                           */

static int sq_refresh_insert(struct store *st, const struct refresh_record *r)
{
    struct sqlite_conn *c = conn_get(st);
    sqlite3_stmt *s = c ? stmt_get(c, ST_REFRESH_INSERT) : NULL;
    if (!s)
        return -EIO;
    sqlite3_bind_text(s, 1, r->jti, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, r->family, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, r->account_id);
    sqlite3_bind_int64(s, 4, r->expires_at);
    sqlite3_bind_int64(s, 5, now_ms());
    int step = sqlite3_step(s);
    int rc = step == SQLITE_CONSTRAINT_FOREIGNKEY ? -ENOENT
                                                  : insert_result(c, step, "refresh_insert");
    stmt_done(s);
    return rc;
}

enum refresh_state { REFRESH_ACTIVE, REFRESH_USED, REFRESH_REVOKED };

/* Reads one refresh row: 0 (filled), -ENOENT or -EIO. */
static int refresh_load(struct sqlite_conn *c, const char *jti, struct refresh_record *out,
                        enum refresh_state *state)
{
    sqlite3_stmt *s = stmt_get(c, ST_REFRESH_GET);
    if (!s)
        return -EIO;
    sqlite3_bind_text(s, 1, jti, -1, SQLITE_STATIC);
    int rc, step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        col_text(s, 0, out->jti, sizeof(out->jti));
        col_text(s, 1, out->family, sizeof(out->family));
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
        rc = db_fail(c, "refresh lookup");
    }
    stmt_done(s);
    return rc;
}

/* Runs a cached statement whose parameter 1 is the given text. */
static int run_with_text(struct sqlite_conn *c, enum stmt_id id, const char *text,
                         const char *what)
{
    sqlite3_stmt *s = stmt_get(c, id);
    if (!s)
        return -EIO;
    sqlite3_bind_text(s, 1, text, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_fail(c, what);
    stmt_done(s);
    return rc;
}

static int sq_refresh_rotate(struct store *st, const char *old_jti,
                             const struct refresh_record *next)
{
    struct sqlite_conn *c = conn_get(st);
    if (!c)
        return -EIO;
    if (!old_jti)
        return -ENOENT;
    /* IMMEDIATE takes the write lock up front: two concurrent rotations of
     * the same jti serialize here, and the second one sees "used". */
    int rc = tx_begin(c);
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
        if (rc < 0 || (rc = tx_commit(c)) < 0)
            goto fail;
        log_warn("store: refresh token re-use detected, family of account %lld revoked",
                 (long long)old.account_id);
        return -EPERM;
    }
    rc = run_with_text(c, ST_REFRESH_MARK_USED, old_jti, "refresh mark used");
    if (rc < 0)
        goto fail;
    sqlite3_stmt *s = stmt_get(c, ST_REFRESH_INSERT);
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
    sqlite3_bind_int64(s, 5, now_ms());
    rc = insert_result(c, sqlite3_step(s), "refresh rotate insert");
    stmt_done(s);
    if (rc < 0 || (rc = tx_commit(c)) < 0)
        goto fail;
    return 0;
fail:
    tx_rollback(c);
    return rc;
}

static int sq_refresh_check(struct store *st, const char *jti, struct refresh_record *out)
{
    struct sqlite_conn *c = conn_get(st);
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

static int sq_refresh_revoke_family(struct store *st, const char *family)
{
    struct sqlite_conn *c = conn_get(st);
    if (!c)
        return -EIO;
    if (!family)
        return 0;
    return run_with_text(c, ST_REFRESH_REVOKE_FAMILY, family, "refresh_revoke_family");
}

static int sq_refresh_revoke_account(struct store *st, int64_t account_id)
{
    struct sqlite_conn *c = conn_get(st);
    sqlite3_stmt *s = c ? stmt_get(c, ST_REFRESH_REVOKE_ACCOUNT) : NULL;
    if (!s)
        return -EIO;
    sqlite3_bind_int64(s, 1, account_id);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_fail(c, "refresh_revoke_account");
    stmt_done(s);
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

static int sq_throttle_hit(struct store *st, const char *key, unsigned limit, int window_s)
{
    return -ENOTSUP;
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
    .token_each = sq_token_each,
    .refresh_insert = sq_refresh_insert,
    .refresh_rotate = sq_refresh_rotate,
    .refresh_check = sq_refresh_check,
    .refresh_revoke_family = sq_refresh_revoke_family,
    .refresh_revoke_account = sq_refresh_revoke_account,
    .feed_open = sq_feed_open,
    .key_shared = sq_key_shared,
    .throttle_hit = sq_throttle_hit,
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
    if (!conn_get(&ss->base))
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
