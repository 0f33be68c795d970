/* The SQLite driver's schema (versioned migrations) and the SQL of every
 * statement it prepares. Constant data; any thread. */
#include "store/store_sqlite_int.h"

/* Migrations are applied in order, each in its own BEGIN IMMEDIATE
 * transaction together with its row in schema_migrations, so a crash leaves
 * the schema either before or after a step, never in between. Never edit a
 * shipped entry: append a new one. */
const char *const sq_migrations[] = {
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
    /* 3: recording a token's last use (token_touch) is not a change other
     * processes must apply, so the update trigger names the columns that
     * are. */
    "DROP TRIGGER change_log_token_update;"
    "CREATE TRIGGER change_log_token_update AFTER UPDATE OF account_id, usage, note, scopes,"
    " allowed_urls, secret_hash, public_token, is_default, expires_at, modified, revoked_at"
    " ON tokens BEGIN INSERT INTO change_log (kind, account_id, token_id)"
    " VALUES (2, NEW.account_id, NEW.id); END;",
    /* 4: rotation with a grace period (token_rotate). */
    "ALTER TABLE tokens ADD COLUMN replaced_by TEXT NOT NULL DEFAULT '';"
    "DROP TRIGGER change_log_token_update;"
    "CREATE TRIGGER change_log_token_update AFTER UPDATE OF account_id, usage, note, scopes,"
    " allowed_urls, secret_hash, public_token, is_default, expires_at, modified, revoked_at,"
    " replaced_by ON tokens BEGIN INSERT INTO change_log (kind, account_id, token_id)"
    " VALUES (2, NEW.account_id, NEW.id); END;",
    /* 5: the audit trail (store_sqlite_audit.c). */
    "CREATE TABLE audit_events ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  at INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  actor TEXT NOT NULL DEFAULT '',"
    "  account_id INTEGER NOT NULL DEFAULT 0,"
    "  token_id TEXT NOT NULL DEFAULT '',"
    "  client TEXT NOT NULL DEFAULT '',"
    "  user_agent TEXT NOT NULL DEFAULT '',"
    "  request_id TEXT NOT NULL DEFAULT '',"
    "  detail TEXT NOT NULL DEFAULT ''"
    ");"
    "CREATE INDEX audit_account ON audit_events(account_id, at, id);"
    "CREATE INDEX audit_at ON audit_events(at, id);",
    /* 6: expiry notices (store_sqlite_notices.c) and the index their scan
     * reads. Not access changes: no change-log triggers. */
    "CREATE INDEX tokens_expiring ON tokens(expires_at) WHERE expires_at > 0 AND revoked_at = 0;"
    "CREATE TABLE notices ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  account_id INTEGER NOT NULL,"
    "  token_id TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  token_expires_at INTEGER NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  dismissed_at INTEGER NOT NULL DEFAULT 0,"
    "  delivery INTEGER NOT NULL DEFAULT 0,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_at INTEGER NOT NULL DEFAULT 0,"
    "  claimed_until INTEGER NOT NULL DEFAULT 0,"
    "  UNIQUE (token_id, kind, token_expires_at)"
    ");"
    "CREATE INDEX notices_account ON notices(account_id, created);"
    "CREATE INDEX notices_due ON notices(next_attempt_at) WHERE delivery = 1;",
    /* 7: one-time password reset links (store_sqlite_resets.c). */
    "CREATE TABLE password_resets ("
    "  token_hash BLOB PRIMARY KEY,"
    "  account_id INTEGER NOT NULL REFERENCES accounts(id),"
    "  created INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  used_at INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX password_resets_account ON password_resets(account_id);",
    /* 8: throttle counters shared by every process on this database
     * (store_sqlite_throttle.c), as PostgreSQL's throttle table is. */
    "CREATE TABLE throttle ("
    "  key BLOB PRIMARY KEY,"
    "  window_start INTEGER NOT NULL,"
    "  window_end INTEGER NOT NULL,"
    "  count INTEGER NOT NULL"
    ") WITHOUT ROWID;",
    /* 9: resource bounds (space-separated, as scopes are; auth/resources.h). */
    "ALTER TABLE tokens ADD COLUMN resources TEXT NOT NULL DEFAULT '';"
    "DROP TRIGGER change_log_token_update;"
    "CREATE TRIGGER change_log_token_update AFTER UPDATE OF account_id, usage, note, scopes,"
    " allowed_urls, secret_hash, public_token, is_default, expires_at, modified, revoked_at,"
    " replaced_by, resources ON tokens BEGIN INSERT INTO change_log (kind, account_id, token_id)"
    " VALUES (2, NEW.account_id, NEW.id); END;",
    /* 10: values set once per deployment (meta_ensure), e.g. the instance
     * marker every token carries. */
    "CREATE TABLE meta ("
    "  name TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL"
    ");",
    /* 11: revoked temporary tokens (token_revoke_temp), by the id of their
     * MAC; read back as tokens of usage 'tk' (TEMP_AS_TOKEN), so that every
     * process applies one like any token change. */
    "CREATE TABLE temp_revocations ("
    "  id TEXT PRIMARY KEY,"
    "  account_id INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  revoked_at INTEGER NOT NULL"
    ");"
    "CREATE TRIGGER change_log_temp_revocation AFTER INSERT ON temp_revocations"
    " BEGIN INSERT INTO change_log (kind, account_id, token_id)"
    " VALUES (2, NEW.account_id, NEW.id); END;",
};
const int sq_migration_count = (int)(sizeof(sq_migrations) / sizeof(sq_migrations[0]));

#define ACCOUNT_COLS                                                                              \
    "id, username, email, password_hash, first_name, last_name, organization, \"groups\", "      \
    "scopes, is_active, is_staff, created, updated, sessions_valid_after"
#define TOKEN_COLS                                                                                \
    "id, account_id, usage, note, scopes, allowed_urls, secret_hash, public_token, is_default, "  \
    "expires_at, created, modified, last_used_at, revoked_at, replaced_by, resources"


/* Token list filters: ?2 = -1 means any usage, else ?3 is 'pk'/'sk';
 * ?4 = -1 means any is_default. The keyset variants continue strictly after
 * (?5, ?6) using a row-value comparison, which SQLite turns into an index
 * range scan on (account_id, sort key, id). */
/* A revoked temporary token in the shape of TOKEN_COLS. */
#define TEMP_AS_TOKEN                                                                             \
    "SELECT id, account_id, 'tk', '', '', '[]', zeroblob(32), NULL, 0, expires_at, revoked_at, "  \
    "revoked_at, 0, revoked_at, '', '' FROM temp_revocations"

#define TOKEN_LIST_FILTER                                                                         \
    " WHERE account_id = ?1 AND revoked_at = 0 AND (?2 = -1 OR usage = ?3)"                       \
    " AND (?4 = -1 OR is_default = ?4)"

const char *const sq_stmt_sql[ST_COUNT] = {
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
        " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    [ST_TOKEN_GET] = "SELECT " TOKEN_COLS " FROM tokens WHERE id = ?1"
                     " UNION ALL " TEMP_AS_TOKEN " WHERE id = ?1",
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
                        " modified = ?5, expires_at = ?6, resources = ?7"
                        " WHERE id = ?1 AND revoked_at = 0",
    [ST_TOKEN_REVOKE] = "UPDATE tokens SET revoked_at = ?3"
                        " WHERE id = ?1 AND account_id = ?2 AND revoked_at = 0",
    /* Table (rowid) order reads each page once; the note and the public
     * token string are left out (the index keeps neither). */
    /* Rotation: the old token is replaced (?2) and works until ?3 at the
     * latest; the default flag goes with the new one. */
    [ST_TOKEN_REPLACE] = "UPDATE tokens SET replaced_by = ?2, is_default = 0, modified = ?4,"
                         " expires_at = CASE WHEN expires_at = 0 OR expires_at > ?3 THEN ?3"
                         " ELSE expires_at END"
                         " WHERE id = ?1 AND account_id = ?5 AND revoked_at = 0 AND replaced_by = ''",
    [ST_TOKEN_TOUCH] = "UPDATE tokens SET last_used_at = max(last_used_at, ?2) WHERE id = ?1",
    [ST_TOKEN_SCAN] = "SELECT id, account_id, usage, '', scopes, allowed_urls, secret_hash, NULL,"
                      " is_default, expires_at, created, modified, last_used_at, revoked_at,"
                      " replaced_by, resources FROM tokens WHERE revoked_at = 0"
                      " UNION ALL " TEMP_AS_TOKEN " WHERE expires_at > ?1",
    [ST_TOKEN_REVOKE_TEMP] = "INSERT INTO temp_revocations (id, account_id, expires_at, revoked_at)"
                             " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING",
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

