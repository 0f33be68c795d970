/* PostgreSQL plumbing shared by the PostgreSQL drivers (store_pg.c, and the
 * catalog's): a bounded pool of libpq connections, parameterised statements,
 * transactions, versioned migrations under pg_advisory_lock, and the change
 * log that every write reducing access appends to (changefeed_pg.c reads it).
 *
 * Statements are always unnamed (PQexecParams), so they also work behind a
 * transaction-mode pooler such as PgBouncer; parameters are passed as text
 * (bytea as "\x<hex>"), never spliced into SQL. Any thread may use the pool;
 * a borrowed connection belongs to its borrower until released. The URL may
 * hold a password: it is never logged (pg_url_redacted gives a loggable form). */
#ifndef TESSERA_STORE_PG_H
#define TESSERA_STORE_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pg_pool;

/* True when url names a PostgreSQL database ("postgresql://" or
 * "postgres://"). */
bool pg_url_is_pg(const char *url);
/* url without its password (user:***@host), for log lines. */
void pg_url_redacted(const char *url, char *out, size_t outlen);

/* Opens a pool of at most max connections and connects one now, so a bad URL
 * or unreachable server is reported at start-up. NULL on failure (logged). */
struct pg_pool *pg_pool_open(const char *url, unsigned max);
/* After every borrowed connection is released. NULL is a no-op. */
void pg_pool_close(struct pg_pool *p);
const char *pg_pool_url(const struct pg_pool *p); /* for a dedicated connection */

/* Borrows a connection, waiting up to PG_ACQUIRE_TIMEOUT_MS when all are in
 * use; reconnects a pooled one that broke, including one the server closed
 * while it sat idle (seen without a round trip). NULL when the database cannot be
 * reached (logged, rate-limited). */
#define PG_ACQUIRE_TIMEOUT_MS 5000
PGconn *pg_acquire(struct pg_pool *p);
/* Gives it back. A connection that is broken or still inside a transaction
 * is closed instead of pooled. */
void pg_release(struct pg_pool *p, PGconn *c);
/* Opens a connection outside the pool (the change-feed listener). NULL on
 * failure (logged). */
PGconn *pg_connect(const char *url);

/* SQLSTATE classes the drivers map to errno values. */
#define PG_UNIQUE_VIOLATION "23505"
#define PG_FOREIGN_KEY_VIOLATION "23503"

/* Runs sql with n text parameters ($1..$n; a NULL entry is SQL NULL). Returns
 * the result (caller PQclear) when it succeeded; else NULL, having logged the
 * error unless it is a constraint violation, and copied the SQLSTATE into
 * sqlstate when that is not NULL ("" when the connection itself failed). */
PGresult *pg_query(PGconn *c, const char *sql, int n, const char *const *params, char sqlstate[6]);
/* pg_query that also copies the name of the violated constraint (a unique
 * index's name for a unique violation) into constraint, "" when there is
 * none, so a driver can tell which unique key was taken. */
PGresult *pg_query_constraint(PGconn *c, const char *sql, int n, const char *const *params,
                              char sqlstate[6], char *constraint, size_t constraint_len);
/* The same for statements whose rows are not needed: 0, -EEXIST (unique
 * violation), -ENOENT (foreign key violation) or -EIO. *changed (may be NULL)
 * receives the affected row count. */
int pg_exec(PGconn *c, const char *sql, int n, const char *const *params, int64_t *changed);
/* pg_exec of a write that must change a row: miss_rc when it changed none. */
int pg_exec_write(PGconn *c, const char *sql, int n, const char *const *params, int miss_rc);
int pg_begin(PGconn *c);     /* BEGIN; 0 or -EIO */
int pg_commit(PGconn *c);    /* COMMIT; 0 or -EIO (the transaction is then gone) */
void pg_rollback(PGconn *c); /* ROLLBACK, ignoring errors */

/* Column helpers for a row of a result. */
int64_t pg_get_int64(const PGresult *r, int row, int col);
bool pg_get_bool(const PGresult *r, int row, int col); /* 't' */
/* Copies a text value into out (truncating, always NUL-terminated). */
void pg_get_text(const PGresult *r, int row, int col, char *out, size_t outlen);
/* Decodes a bytea value of exactly len bytes into out: 0 or -EIO. */
int pg_get_bytea(const PGresult *r, int row, int col, uint8_t *out, size_t len);
/* Formats bytes as a bytea text parameter ("\x" + hex) into out, which must
 * hold 2 * len + 3 bytes. */
void pg_bytea_param(const uint8_t *in, size_t len, char *out);
/* Formats an int64 parameter into buf (at least 21 bytes) and returns buf. */
const char *pg_int_param(int64_t v, char buf[24]);

/* Applies the pending steps of one migration track ("store", "catalog"), each
 * in its own transaction with its row in schema_migrations, all while holding
 * a session-level pg_advisory_lock, so nodes starting at once migrate once.
 * -EPROTO when the database already has a version newer than n (this node is
 * older than the schema and must not serve). 0 or -errno (logged). */
int pg_migrate(struct pg_pool *p, const char *track, const char *const *steps, int n);
/* The highest applied version of a track (0 = none), or -EIO. */
int pg_schema_version(struct pg_pool *p, const char *track);

/* Change kinds in change_log (shared with changefeed.h's enum). */
#define PG_CHANGE_ACCOUNT 1
#define PG_CHANGE_TOKEN 2
#define PG_CHANGE_CATALOG 3
/* Inside the caller's open transaction: takes the next number of the one
 * change_seq row, appends (seq, kind, account_id, token_id) to change_log and
 * queues NOTIFY tessera_changes (sent at commit). Bumping one row serialises
 * writers of access-reducing changes, which is what keeps sequence numbers
 * gap-free in commit order; the row stays locked until the commit, so call
 * this as the last statement before COMMIT. The tables come with the store's
 * migrations (store_pg.c), which run before anything else. 0 or -EIO. */
int pg_change_note(PGconn *c, int kind, int64_t account_id, const char *token_id);
/* After a committed change: waits until every node whose lease is still live
 * has applied every change committed so far, or until its lease has run out,
 * so that "revoked" means revoked on every node. 0, or -ETIMEDOUT when some
 * node neither applied nor lost its lease within timeout_ms (logged). */
int pg_barrier(struct pg_pool *p, int timeout_ms);

#endif
