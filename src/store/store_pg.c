/* The PostgreSQL storage driver: the ops of store.h on one database shared by
 * several Tessera nodes, with the semantics of store_sqlite.c. What several
 * nodes add: every write to accounts or tokens appends to the change log in
 * its own transaction (pg_change_note) and, once committed, waits until every
 * live node has applied it (pg_barrier); shared keys and throttle counters
 * live in the database so that all nodes agree on them.
 * Threading: any thread, concurrently. Each op borrows a pooled connection
 * (pg.h) and gives it back before returning, so no session state is kept
 * between statements of different ops (transaction-mode poolers work). */
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/driver.h"
#include "store/pg.h"
#include "store/store_pg_int.h"
#include "util/log.h"
#include "util/timeutil.h"

/* ------------------------------------------------------------------------ */
/* Schema                                                                   */

/* The names of the two unique keys of accounts: a unique violation reports
 * the constraint, which is how account_create tells them apart. */
#define EMAIL_KEY "accounts_email_key"
#define USERNAME_KEY "accounts_username_key"

_Static_assert(CRYPTO_KEY_LEN == 32, "shared_keys.key holds 32 bytes");

/* Applied in order by pg_migrate under an advisory lock, each step in its own
 * transaction with its schema_migrations row (track "store"). Never edit a
 * shipped entry: append a new one. Times are BIGINT ms since the epoch and
 * lists are stored as SQLite stores them (space-separated names, allowed_urls
 * as JSON). Ids compared or ordered as strings use the "C" collation, so the
 * order (scope lists, keyset pagination) is bytewise as on SQLite whatever the
 * database's locale. */
static const char *const migrations[] = {
    /* 1: the initial schema with the built-in scopes and groups, and the
     * multi-node tables: change_seq/change_log (pg_change_note, the change
     * feed), nodes (leases, pg_barrier), shared_keys and throttle. */
    "CREATE TABLE accounts ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  username TEXT NOT NULL CONSTRAINT " USERNAME_KEY " UNIQUE,"
    "  email TEXT NOT NULL,"
    "  password_hash TEXT NOT NULL DEFAULT '',"
    "  first_name TEXT NOT NULL DEFAULT '',"
    "  last_name TEXT NOT NULL DEFAULT '',"
    "  organization TEXT NOT NULL DEFAULT '',"
    "  \"groups\" TEXT NOT NULL DEFAULT '',"
    "  scopes TEXT NOT NULL DEFAULT '',"
    "  is_active BOOLEAN NOT NULL DEFAULT true,"
    "  is_staff BOOLEAN NOT NULL DEFAULT false,"
    "  created BIGINT NOT NULL,"
    "  updated BIGINT NOT NULL,"
    "  sessions_valid_after BIGINT NOT NULL DEFAULT 0"
    ");"
    /* E-mail addresses are unique whatever their case: an index on lower()
     * rather than citext, which would need an extension. */
    "CREATE UNIQUE INDEX " EMAIL_KEY " ON accounts (lower(email));"
    "CREATE TABLE scopes ("
    "  id TEXT COLLATE \"C\" PRIMARY KEY,"
    "  description TEXT NOT NULL DEFAULT '',"
    "  is_public BOOLEAN NOT NULL DEFAULT false"
    ");"
    "CREATE TABLE \"groups\" ("
    "  name TEXT COLLATE \"C\" PRIMARY KEY,"
    "  description TEXT NOT NULL DEFAULT ''"
    ");"
    "CREATE TABLE tokens ("
    "  id TEXT COLLATE \"C\" PRIMARY KEY,"
    "  account_id BIGINT NOT NULL REFERENCES accounts(id),"
    "  usage TEXT NOT NULL CHECK (usage IN ('pk', 'sk')),"
    "  note TEXT NOT NULL DEFAULT '',"
    "  scopes TEXT NOT NULL DEFAULT '',"
    "  allowed_urls TEXT NOT NULL DEFAULT '[]',"
    "  secret_hash BYTEA NOT NULL,"
    "  public_token TEXT,"
    "  is_default BOOLEAN NOT NULL DEFAULT false,"
    "  expires_at BIGINT NOT NULL DEFAULT 0,"
    "  created BIGINT NOT NULL,"
    "  modified BIGINT NOT NULL,"
    "  last_used_at BIGINT NOT NULL DEFAULT 0,"
    "  revoked_at BIGINT NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX tokens_account_created ON tokens (account_id, created, id);"
    "CREATE INDEX tokens_account_modified ON tokens (account_id, modified, id);"
    "CREATE TABLE refresh_tokens ("
    "  jti TEXT PRIMARY KEY,"
    "  family TEXT NOT NULL,"
    "  account_id BIGINT NOT NULL REFERENCES accounts(id),"
    "  expires_at BIGINT NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'used', 'revoked')),"
    "  created BIGINT NOT NULL"
    ");"
    "CREATE INDEX refresh_tokens_family ON refresh_tokens (family);"
    "CREATE INDEX refresh_tokens_account ON refresh_tokens (account_id);"
    "INSERT INTO scopes (id, description, is_public) VALUES"
    "  ('stac', 'Search the STAC catalog', false),"
    "  ('catalog:read', 'Download catalog assets', false),"
    "  ('tokens:read', 'List and read API tokens', false),"
    "  ('tokens:write', 'Create, update and revoke API tokens', false),"
    "  ('scopes:list', 'List the available scopes', false),"
    "  ('tokens:introspect', 'Introspect tokens of other accounts', false),"
    "  ('styles:tiles', 'Read styles as raster tiles', true),"
    "  ('styles:read', 'Read styles', true),"
    "  ('fonts:read', 'Read fonts', true),"
    "  ('datasets:read', 'Read datasets', true),"
    "  ('vision:read', 'Use the vision APIs', true);"
    "INSERT INTO \"groups\" (name, description) VALUES"
    "  ('Public', 'Everyone'),"
    "  ('Partners', 'Partner organizations');"
    /* Exactly one row (the primary key admits only "true"): pg_change_note
     * bumps it, which serialises noted writers in commit order. */
    "CREATE TABLE change_seq ("
    "  one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),"
    "  seq BIGINT NOT NULL DEFAULT 0"
    ");"
    "INSERT INTO change_seq DEFAULT VALUES;"
    "CREATE TABLE change_log ("
    "  seq BIGINT PRIMARY KEY,"
    "  kind INT NOT NULL,"
    "  account_id BIGINT NOT NULL,"
    "  token_id TEXT NOT NULL DEFAULT '',"
    "  at BIGINT NOT NULL"
    ");"
    "CREATE TABLE nodes ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  name TEXT,"
    "  applied_seq BIGINT NOT NULL DEFAULT 0,"
    "  lease_until BIGINT NOT NULL,"
    "  started_at BIGINT NOT NULL"
    ");"
    /* A generated key is stored with its fingerprint; a key configured from
     * a file only by its fingerprint (key NULL): the database never holds
     * key material that an operator chose to keep in files. */
    "CREATE TABLE shared_keys ("
    "  name TEXT PRIMARY KEY,"
    "  key BYTEA CHECK (key IS NULL OR octet_length(key) = 32),"
    "  fingerprint TEXT NOT NULL"
    ");"
    /* Counters, not records: UNLOGGED skips the WAL (a crash empties it,
     * which only forgives a window). window_end lets stale rows be pruned
     * whatever window their key used. */
    "CREATE UNLOGGED TABLE throttle ("
    "  key TEXT PRIMARY KEY,"
    "  window_start BIGINT NOT NULL,"
    "  window_end BIGINT NOT NULL,"
    "  count INT NOT NULL"
    ");",
    /* 2: rotation with a grace period (token_rotate). */
    "ALTER TABLE tokens ADD COLUMN replaced_by TEXT COLLATE \"C\" NOT NULL DEFAULT '';",
    /* 3: the audit trail (store_pg_audit.c). */
    "CREATE TABLE audit_events ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  at BIGINT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  actor TEXT NOT NULL DEFAULT '',"
    "  account_id BIGINT NOT NULL DEFAULT 0,"
    "  token_id TEXT NOT NULL DEFAULT '',"
    "  client TEXT NOT NULL DEFAULT '',"
    "  user_agent TEXT NOT NULL DEFAULT '',"
    "  request_id TEXT NOT NULL DEFAULT '',"
    "  detail TEXT NOT NULL DEFAULT ''"
    ");"
    "CREATE INDEX audit_account ON audit_events (account_id, at, id);"
    "CREATE INDEX audit_at ON audit_events (at, id);",
    /* 4: expiry notices (store_pg_notices.c) and the index their scan reads. */
    "CREATE INDEX tokens_expiring ON tokens (expires_at) WHERE expires_at > 0 AND revoked_at = 0;"
    "CREATE TABLE notices ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  account_id BIGINT NOT NULL,"
    "  token_id TEXT COLLATE \"C\" NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  token_expires_at BIGINT NOT NULL,"
    "  created BIGINT NOT NULL,"
    "  dismissed_at BIGINT NOT NULL DEFAULT 0,"
    "  delivery INT NOT NULL DEFAULT 0,"
    "  attempts INT NOT NULL DEFAULT 0,"
    "  next_attempt_at BIGINT NOT NULL DEFAULT 0,"
    "  claimed_until BIGINT NOT NULL DEFAULT 0,"
    "  UNIQUE (token_id, kind, token_expires_at)"
    ");"
    "CREATE INDEX notices_account ON notices (account_id, created);"
    "CREATE INDEX notices_due ON notices (next_attempt_at) WHERE delivery = 1;",
    /* 5: one-time password reset links (store_pg_resets.c). */
    "CREATE TABLE password_resets ("
    "  token_hash BYTEA PRIMARY KEY,"
    "  account_id BIGINT NOT NULL REFERENCES accounts(id),"
    "  created BIGINT NOT NULL,"
    "  expires_at BIGINT NOT NULL,"
    "  used_at BIGINT NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX password_resets_account ON password_resets (account_id);",
    /* 6: resource bounds (space-separated, as scopes are; auth/resources.h). */
    "ALTER TABLE tokens ADD COLUMN resources TEXT NOT NULL DEFAULT '';",
    /* 7: values set once per deployment (meta_ensure), e.g. the instance
     * marker every token carries. */
    "CREATE TABLE meta ("
    "  name TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL"
    ");",
    /* 8: revoked temporary tokens (token_revoke_temp), by the id of their
     * MAC; read back as tokens of usage 'tk' (TEMP_AS_TOKEN). */
    "CREATE TABLE temp_revocations ("
    "  id TEXT COLLATE \"C\" PRIMARY KEY,"
    "  account_id BIGINT NOT NULL,"
    "  expires_at BIGINT NOT NULL,"
    "  revoked_at BIGINT NOT NULL"
    ");",
};
#define MIGRATION_COUNT ((int)(sizeof(migrations) / sizeof(migrations[0])))

#define ACCOUNT_COLS                                                                               \
    "id, username, email, password_hash, first_name, last_name, organization, \"groups\", "        \
    "scopes, is_active, is_staff, created, updated, sessions_valid_after"

/* Connections per store: request threads and workers each hold one for a
 * statement or a short transaction; token_each holds one for its scan while
 * its callback borrows another. */
#define POOL_MAX 16
/* A node's lease is ~1.5 s, so a live node that does not apply a change is
 * out of the picture well within this; the barrier usually returns within
 * milliseconds. */
#define BARRIER_TIMEOUT_MS 10000
/* account_each reads this many accounts per statement and runs the callback
 * with no statement or transaction open. */
#define EACH_BATCH 256

/* ------------------------------------------------------------------------ */
/* Helpers (store_pg_int.h)                                                 */

bool pgstore_texts_ok(const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!store_text_valid(v[i]))
            return false;
    return true;
}

bool pgstore_list_ok(const struct strlist *l)
{
    return pgstore_texts_ok((const char *const *)l->v, l->n);
}

const char *pgstore_bool_param(bool v)
{
    return v ? "t" : "f";
}

void pgstore_get_text(const PGresult *r, int row, int col, char *out, size_t size)
{
    store_copy_text(out, size, PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col));
}

/* Borrows a connection and runs one statement on it: the result or NULL
 * (-EIO, logged by pg.c). For the single-statement reads. */
PGresult *pgstore_query_once(struct pg_store *ps, const char *sql, int n, const char *const *params)
{
    PGconn *c = pg_acquire(ps->pool);
    if (!c)
        return NULL;
    PGresult *r = pg_query(c, sql, n, params, NULL);
    pg_release(ps->pool, c);
    return r;
}

/* The same for writes whose rows are not needed: 0, -EEXIST, -ENOENT (a
 * foreign key) or -EIO. *changed as pg_exec. */
int pgstore_exec_once(struct pg_store *ps, const char *sql, int n, const char *const *params,
                      int64_t *changed)
{
    PGconn *c = pg_acquire(ps->pool);
    if (!c)
        return -EIO;
    int rc = pg_exec(c, sql, n, params, changed);
    pg_release(ps->pool, c);
    return rc;
}

/* Ends a write transaction on c: commits when rc is 0 (else rolls back) and
 * gives c back. After a commit that noted a change of accounts or tokens, it
 * waits until every live node applied it, with a fresh connection so that
 * this one is not held meanwhile. The barrier's outcome does not change the
 * answer: the write is committed and cannot be taken back, and pg_barrier
 * has logged any node that neither applied it nor lost its lease. */
int pgstore_write_end(struct pg_store *ps, PGconn *c, int rc, bool noted)
{
    if (rc == 0)
        rc = pg_commit(c);
    if (rc < 0)
        pg_rollback(c);
    pg_release(ps->pool, c);
    if (rc == 0 && noted)
        (void)pg_barrier(ps->pool, BARRIER_TIMEOUT_MS);
    return rc;
}

/* Gives back a connection whose transaction failed or was abandoned. */
void pgstore_write_abort(struct pg_store *ps, PGconn *c)
{
    if (c) {
        pg_rollback(c);
        pg_release(ps->pool, c);
    }
}

/* ------------------------------------------------------------------------ */
/* Lifecycle and migrations                                                 */

static int pg_store_migrate(struct store *st)
{
    return pg_migrate(to_pg(st)->pool, "store", migrations, MIGRATION_COUNT);
}

static int pg_store_schema_version(struct store *st)
{
    return pg_schema_version(to_pg(st)->pool, "store");
}

static int pg_store_ping(struct store *st)
{
    PGresult *r = pgstore_query_once(to_pg(st), "SELECT 1", 0, NULL);
    int rc = r ? 0 : -EIO;
    PQclear(r);
    return rc;
}

static void pg_store_close(struct store *st)
{
    if (!st)
        return;
    struct pg_store *ps = to_pg(st);
    pg_pool_close(ps->pool);
    free(ps);
}

/* ------------------------------------------------------------------------ */
/* Accounts                                                                 */

static int account_from_row(const PGresult *r, int row, struct account *a)
{
    memset(a, 0, sizeof(*a));
    a->id = pg_get_int64(r, row, 0);
    pgstore_get_text(r, row, 1, a->username, sizeof(a->username));
    pgstore_get_text(r, row, 2, a->email, sizeof(a->email));
    pgstore_get_text(r, row, 3, a->password_hash, sizeof(a->password_hash));
    pgstore_get_text(r, row, 4, a->first_name, sizeof(a->first_name));
    pgstore_get_text(r, row, 5, a->last_name, sizeof(a->last_name));
    pgstore_get_text(r, row, 6, a->organization, sizeof(a->organization));
    if (strlist_split(&a->groups, PQgetvalue(r, row, 7)) < 0 ||
        strlist_split(&a->scopes, PQgetvalue(r, row, 8)) < 0) {
        account_free(a);
        return -ENOMEM;
    }
    a->is_active = pg_get_bool(r, row, 9);
    a->is_staff = pg_get_bool(r, row, 10);
    a->created = pg_get_int64(r, row, 11);
    a->updated = pg_get_int64(r, row, 12);
    a->sessions_valid_after = pg_get_int64(r, row, 13);
    return 0;
}

/* What PostgreSQL refuses beyond the names account_texts_of checks: text
 * (in the lists too) that is not valid UTF-8. */
static bool account_storable(const struct account *a)
{
    const char *text[] = {a->username,   a->email,     a->password_hash,
                          a->first_name, a->last_name, a->organization};
    return pgstore_texts_ok(text, sizeof(text) / sizeof(*text)) && pgstore_list_ok(&a->groups) &&
           pgstore_list_ok(&a->scopes);
}

static int pg_account_create(struct store *st, struct account *a, struct token_record *first_token)
{
    struct pg_store *ps = to_pg(st);
    if (!account_storable(a) || (first_token && !pgstore_token_storable(first_token)))
        return -EINVAL;
    struct account_texts tx;
    int rc = account_texts_of(a, &tx);
    if (rc < 0)
        return rc;
    PGconn *c = NULL;
    PGresult *r = NULL;
    rc = -EIO;
    if (!(c = pg_acquire(ps->pool)) || pg_begin(c) < 0)
        goto fail;
    int64_t now = time_now_ms();
    char now_p[24], sva_p[24];
    const char *params[] = {a->username,
                            a->email,
                            a->password_hash,
                            a->first_name,
                            a->last_name,
                            a->organization,
                            tx.groups,
                            tx.scopes,
                            pgstore_bool_param(a->is_active),
                            pgstore_bool_param(a->is_staff),
                            pg_int_param(now, now_p),
                            pg_int_param(a->sessions_valid_after, sva_p)};
    char state[6], constraint[64];
    r = pg_query_constraint(c,
                            "INSERT INTO accounts (username, email, password_hash, first_name,"
                            " last_name, organization, \"groups\", scopes, is_active, is_staff,"
                            " created, updated, sessions_valid_after)"
                            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)"
                            " RETURNING id",
                            12, params, state, constraint, sizeof(constraint));
    if (!r) {
        if (strcmp(state, PG_UNIQUE_VIOLATION) == 0 && strcmp(constraint, EMAIL_KEY) == 0)
            rc = -EEXIST;
        else if (strcmp(state, PG_UNIQUE_VIOLATION) == 0 && strcmp(constraint, USERNAME_KEY) == 0)
            rc = -EADDRINUSE;
        else if (state[0] == '2' && state[1] == '3')
            log_error("store: account_create violated %s (%s)", constraint, state);
        goto fail;
    }
    int64_t id = pg_get_int64(r, 0, 0);
    /* The account and its first token commit together, so a crash never
     * leaves an account without its default token. */
    if (first_token) {
        first_token->account_id = id;
        if ((rc = pgstore_token_insert_on(c, first_token)) < 0)
            goto fail;
    }
    /* The change notes come last: they lock the one change_seq row until
     * the commit. */
    if ((rc = pg_change_note(c, PG_CHANGE_ACCOUNT, id, "")) < 0 ||
        (first_token && (rc = pg_change_note(c, PG_CHANGE_TOKEN, id, first_token->id)) < 0))
        goto fail;
    rc = pgstore_write_end(ps, c, 0, true);
    c = NULL;
    if (rc == 0) {
        a->id = id;
        a->created = a->updated = now;
    }
fail:
    pgstore_write_abort(ps, c);
    PQclear(r);
    account_texts_free(&tx);
    return rc;
}

/* One account by a single-parameter WHERE clause. */
static int account_fetch(struct pg_store *ps, const char *where, const char *param,
                         struct account *out)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT " ACCOUNT_COLS " FROM accounts WHERE %s", where);
    const char *params[] = {param};
    PGresult *r = pgstore_query_once(ps, sql, 1, params);
    int rc = !r ? -EIO : PQntuples(r) == 0 ? -ENOENT : account_from_row(r, 0, out);
    PQclear(r);
    return rc;
}

static int pg_account_get_by_id(struct store *st, int64_t id, struct account *out)
{
    char id_p[24];
    return account_fetch(to_pg(st), "id = $1", pg_int_param(id, id_p), out);
}

static int pg_account_get_by_email(struct store *st, const char *email, struct account *out)
{
    if (!email || !store_text_valid(email))
        return -ENOENT;
    /* The same expression as the unique index, which this lookup uses. */
    return account_fetch(to_pg(st), "lower(email) = lower($1)", email, out);
}

static int pg_account_get_by_username(struct store *st, const char *username, struct account *out)
{
    if (!username || !store_text_valid(username))
        return -ENOENT;
    return account_fetch(to_pg(st), "username = $1", username, out);
}

static int pg_account_update(struct store *st, struct account *a)
{
    struct pg_store *ps = to_pg(st);
    if (!account_storable(a))
        return -EINVAL;
    struct account_texts tx;
    int rc = account_texts_of(a, &tx);
    if (rc < 0)
        return rc;
    PGconn *c = NULL;
    rc = -EIO;
    if (!(c = pg_acquire(ps->pool)) || pg_begin(c) < 0)
        goto fail;
    int64_t now = time_now_ms();
    char id_p[24], now_p[24], sva_p[24];
    const char *params[] = {pg_int_param(a->id, id_p),
                            a->password_hash,
                            a->first_name,
                            a->last_name,
                            a->organization,
                            tx.groups,
                            tx.scopes,
                            pgstore_bool_param(a->is_active),
                            pgstore_bool_param(a->is_staff),
                            pg_int_param(now, now_p),
                            pg_int_param(a->sessions_valid_after, sva_p)};
    if ((rc = pg_exec_write(
             c,
             "UPDATE accounts SET password_hash = $2, first_name = $3, last_name = $4,"
             " organization = $5, \"groups\" = $6, scopes = $7, is_active = $8,"
             " is_staff = $9, updated = $10, sessions_valid_after = $11 WHERE id = $1",
             11, params, -ENOENT)) < 0)
        goto fail;
    if ((rc = pg_change_note(c, PG_CHANGE_ACCOUNT, a->id, "")) < 0)
        goto fail;
    rc = pgstore_write_end(ps, c, 0, true);
    c = NULL;
    if (rc == 0)
        a->updated = now;
fail:
    pgstore_write_abort(ps, c);
    account_texts_free(&tx);
    return rc;
}

static int pg_account_each(struct store *st, int (*fn)(void *ctx, const struct account *a),
                           void *ctx)
{
    struct pg_store *ps = to_pg(st);
    int64_t last = 0;
    int rc = 0;
    char last_p[24], batch_p[24];
    pg_int_param(EACH_BATCH, batch_p);
    for (;;) {
        const char *params[] = {pg_int_param(last, last_p), batch_p};
        PGresult *r = pgstore_query_once(ps,
                                         "SELECT " ACCOUNT_COLS " FROM accounts WHERE id > $1"
                                         " ORDER BY id LIMIT $2",
                                         2, params);
        if (!r)
            return -EIO;
        /* The rows are in client memory and the connection is back in the
         * pool: callbacks may use the store. */
        int n = PQntuples(r);
        for (int i = 0; i < n && rc == 0; i++) {
            struct account a;
            if ((rc = account_from_row(r, i, &a)) < 0)
                break;
            rc = fn(ctx, &a);
            last = a.id;
            account_free(&a);
        }
        PQclear(r);
        if (rc != 0 || n < EACH_BATCH)
            return rc;
    }
}

/* ------------------------------------------------------------------------ */
/* Scopes and groups                                                        */

static int pg_scope_add(struct store *st, const struct scope_def *sd)
{
    const char *params[] = {sd->id, sd->description, pgstore_bool_param(sd->is_public)};
    if (!pgstore_texts_ok(params, 2))
        return -EINVAL;
    return pgstore_exec_once(to_pg(st),
                             "INSERT INTO scopes (id, description, is_public)"
                             " VALUES ($1, $2, $3)",
                             3, params, NULL);
}

/* Every row of a parameterless list SELECT as an array of elem-byte records
 * (malloc'd into *out), each filled by fill. 0, -EIO or -ENOMEM. */
static int list_rows(struct store *st, const char *sql, size_t elem,
                     void (*fill)(const PGresult *r, int row, void *rec), void **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    PGresult *r = pgstore_query_once(to_pg(st), sql, 0, NULL);
    if (!r)
        return -EIO;
    int rows = PQntuples(r);
    char *v = rows ? calloc((size_t)rows, elem) : NULL;
    if (rows && !v) {
        PQclear(r);
        return -ENOMEM;
    }
    for (int i = 0; i < rows; i++)
        fill(r, i, v + (size_t)i * elem);
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return 0;
}

static void fill_scope(const PGresult *r, int row, void *rec)
{
    struct scope_def *d = rec;
    pgstore_get_text(r, row, 0, d->id, sizeof(d->id));
    pgstore_get_text(r, row, 1, d->description, sizeof(d->description));
    d->is_public = pg_get_bool(r, row, 2);
}

static int pg_scope_list(struct store *st, struct scope_def **out, size_t *n)
{
    return list_rows(st, "SELECT id, description, is_public FROM scopes ORDER BY id",
                     sizeof(**out), fill_scope, (void **)out, n);
}

static int pg_group_add(struct store *st, const struct group_def *g)
{
    const char *params[] = {g->name, g->description};
    if (!pgstore_texts_ok(params, 2))
        return -EINVAL;
    return pgstore_exec_once(
        to_pg(st), "INSERT INTO \"groups\" (name, description) VALUES ($1, $2)", 2, params, NULL);
}

static void fill_group(const PGresult *r, int row, void *rec)
{
    struct group_def *d = rec;
    pgstore_get_text(r, row, 0, d->name, sizeof(d->name));
    pgstore_get_text(r, row, 1, d->description, sizeof(d->description));
}

static int pg_group_list(struct store *st, struct group_def **out, size_t *n)
{
    return list_rows(st, "SELECT name, description FROM \"groups\" ORDER BY name",
                     sizeof(**out), fill_group, (void **)out, n);
}

/* ------------------------------------------------------------------------ */
/* Opening                                                                  */

/* The node's own dedicated connection (LISTEN needs a session), on the
 * same database as the pool. */
static struct changefeed *pg_feed_open(struct store *st, const struct changefeed_config *cfg)
{
    return changefeed_pg_open(pg_pool_url(to_pg(st)->pool), cfg);
}

static const struct store_ops pg_ops = {
    .migrate = pg_store_migrate,
    .schema_version = pg_store_schema_version,
    .ping = pg_store_ping,
    .close = pg_store_close,
    .account_create = pg_account_create,
    .account_get_by_id = pg_account_get_by_id,
    .account_get_by_email = pg_account_get_by_email,
    .account_get_by_username = pg_account_get_by_username,
    .account_update = pg_account_update,
    .account_each = pg_account_each,
    .scope_add = pg_scope_add,
    .scope_list = pg_scope_list,
    .group_add = pg_group_add,
    .group_list = pg_group_list,
    .token_insert = pgstore_token_insert,
    .token_get = pgstore_token_get,
    .token_list = pgstore_token_list,
    .token_update = pgstore_token_update,
    .token_revoke = pgstore_token_revoke,
    .token_revoke_temp = pgstore_token_revoke_temp,
    .token_touch = pgstore_token_touch,
    .token_rotate = pgstore_token_rotate,
    .token_each = pgstore_token_each,
    .refresh_insert = pgstore_refresh_insert,
    .refresh_rotate = pgstore_refresh_rotate,
    .refresh_check = pgstore_refresh_check,
    .refresh_revoke_family = pgstore_refresh_revoke_family,
    .refresh_revoke_account = pgstore_refresh_revoke_account,
    .audit_append = pgstore_audit_append,
    .audit_list = pgstore_audit_list,
    .audit_prune = pgstore_audit_prune,
    .token_expiring = pgstore_token_expiring,
    .notice_add = pgstore_notice_add,
    .notice_list = pgstore_notice_list,
    .notice_dismiss = pgstore_notice_dismiss,
    .notice_claim = pgstore_notice_claim,
    .notice_delivered = pgstore_notice_delivered,
    .reset_insert = pgstore_reset_insert,
    .reset_use = pgstore_reset_use,
    .feed_open = pg_feed_open,
    .key_shared = pgstore_key_shared,
    .throttle_hit = pgstore_throttle_hit,
    .meta_ensure = pgstore_meta_ensure,
};

struct store *store_pg_open(const char *url)
{
    if (!url || !pg_url_is_pg(url)) {
        log_error("store: not a PostgreSQL URL");
        return NULL;
    }
    struct pg_store *ps = calloc(1, sizeof(*ps));
    if (!ps) {
        log_error("store: out of memory");
        return NULL;
    }
    ps->base.ops = &pg_ops;
    atomic_init(&ps->throttle_hits, 0);
    /* Connects once now (pg_pool_open), so a bad URL or an unreachable
     * server is reported at start-up, without the password. */
    ps->pool = pg_pool_open(url, POOL_MAX);
    if (!ps->pool) {
        free(ps);
        return NULL;
    }
    return &ps->base;
}
