/* Unit-test helpers shared by test_store*.c (the store contract on both
 * drivers) and test_store_pg.c (what only the PostgreSQL driver does): a
 * fixture holding a freshly migrated store of either driver (SQLite in a
 * mkdtemp directory, PostgreSQL in a fresh database of the test cluster,
 * pgtest.h) and builders for accounts, tokens and refresh records.
 * Test code only; header-only (static inline) like pgtest.h. */
#ifndef TESSERA_TEST_STORETEST_H
#define TESSERA_TEST_STORETEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgtest.h"
#include "store/store.h"

enum store_driver { DRIVER_SQLITE, DRIVER_PG };

struct fixture {
    enum store_driver driver;
    char dir[64]; /* SQLite: the temporary directory */
    char *url;    /* PostgreSQL: the test database */
    struct store *st;
};

/* The schema version each driver's migrations end at. */
#define SQLITE_SCHEMA_VERSION 11
#define PG_SCHEMA_VERSION 8

static inline int fixture_schema_version(const struct fixture *f)
{
    return f->driver == DRIVER_PG ? PG_SCHEMA_VERSION : SQLITE_SCHEMA_VERSION;
}

/* Where the SQLite fixture keeps its database: a nested path checks that
 * open creates missing directories. */
static inline void fixture_sqlite_data(const struct fixture *f, char *out, size_t len)
{
    snprintf(out, len, "%s/var/data", f->dir);
}

/* Opens another store on the fixture's database (not migrated). */
static inline struct store *fixture_open_store(const struct fixture *f)
{
    if (f->driver == DRIVER_PG)
        return store_pg_open(f->url);
    char data[96];
    fixture_sqlite_data(f, data, sizeof(data));
    return store_open(NULL, data);
}

static inline int rm_tree(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

static inline int fixture_setup(void **state, enum store_driver driver, bool migrate)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->driver = driver;
    if (driver == DRIVER_PG) {
        f->url = pgtest_db_create();
        assert_non_null(f->url);
    } else {
        snprintf(f->dir, sizeof(f->dir), "/tmp/tessera-store-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
    }
    *state = f;
    if (migrate) {
        f->st = fixture_open_store(f);
        assert_non_null(f->st);
        assert_int_equal(f->st->ops->migrate(f->st), 0);
    }
    return 0;
}

static inline int setup_sqlite(void **state)
{
    return fixture_setup(state, DRIVER_SQLITE, true);
}

static inline int setup_pg(void **state)
{
    return fixture_setup(state, DRIVER_PG, true);
}

/* A fresh, empty PostgreSQL database and no store yet. */
static inline int setup_pg_bare(void **state)
{
    return fixture_setup(state, DRIVER_PG, false);
}

static inline int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->st)
        f->st->ops->close(f->st);
    if (f->driver == DRIVER_PG)
        pgtest_db_drop(f->url);
    else
        rm_tree(f->dir);
    free(f);
    return 0;
}

static inline void make_account(struct account *a, const char *username, const char *email)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->username, sizeof(a->username), "%s", username);
    snprintf(a->email, sizeof(a->email), "%s", email);
    snprintf(a->password_hash, sizeof(a->password_hash), "$argon2id$v=19$m=19456,t=2,p=1$x$y");
    a->is_active = true;
    assert_int_equal(strlist_add(&a->groups, "Public"), 0);
    assert_int_equal(strlist_add(&a->scopes, "stac"), 0);
    assert_int_equal(strlist_add(&a->scopes, "tokens:read"), 0);
}

static inline int64_t create_account(struct store *st, const char *username, const char *email)
{
    struct account a;
    make_account(&a, username, email);
    assert_int_equal(st->ops->account_create(st, &a, NULL), 0);
    account_free(&a);
    return a.id;
}

static inline void make_token(struct token_record *t, const char *id, int64_t account,
                              enum token_kind usage, bool is_default, int64_t created)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->id, sizeof(t->id), "%s", id);
    t->account_id = account;
    t->usage = usage;
    t->is_default = is_default;
    t->created = created;
    t->modified = created;
    snprintf(t->note, sizeof(t->note), "note of %s", id);
    memset(t->secret_hash, 0xAB, sizeof(t->secret_hash));
    assert_int_equal(strlist_add(&t->scopes, "stac"), 0);
    assert_int_equal(strlist_push(&t->allowed_urls, "https://example.com/a b,c"), 0);
    assert_int_equal(strlist_push(&t->resources, "collection:l4a"), 0);
    if (usage == TOKEN_PK)
        t->public_token = strdup("pk.eyJ1IjoiYSJ9.secret");
}

static inline void insert_token(struct store *st, const char *id, int64_t account,
                                enum token_kind usage, bool is_default, int64_t created)
{
    struct token_record t;
    make_token(&t, id, account, usage, is_default, created);
    assert_int_equal(st->ops->token_insert(st, &t), 0);
    token_record_free(&t);
}

/* 25-char ids of [a-z0-9]. */
static inline void token_id(char out[TOKEN_ID_LEN + 1], const char *prefix, int n)
{
    /* The prefix is short (a few letters); bounding it keeps the compiler's
     * truncation check quiet and the id exactly TOKEN_ID_LEN long. */
    int plen = (int)strnlen(prefix, 8);
    snprintf(out, TOKEN_ID_LEN + 1, "%.*s%0*d", plen, prefix, TOKEN_ID_LEN - plen, n);
}

static inline void make_refresh(struct refresh_record *r, const char *jti, const char *family,
                                int64_t account)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->jti, sizeof(r->jti), "%s", jti);
    snprintf(r->family, sizeof(r->family), "%s", family);
    r->account_id = account;
    r->expires_at = 1234;
}

/* A test run twice, once per driver, named after both. */
#define STORE_TEST_BOTH(t)                                                                         \
    {"sqlite/" #t, t, setup_sqlite, teardown, NULL},                                               \
    {                                                                                              \
        "pg/" #t, t, setup_pg, teardown, NULL                                                      \
    }

#endif
