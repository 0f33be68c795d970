/* Unit tests of the PostgreSQL plumbing (src/store/pg.c) on a real server:
 * URL redaction, the bounded pool (waiting, reconnecting after the server
 * killed a connection), parameters that stay parameters, constraint
 * violations mapped to errno values, bytea round trips, and migrations that
 * run once when several threads start them at the same moment and refuse a
 * schema newer than the binary. Each test gets a fresh database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgtest.h"
#include "store/pg.h"

struct fixture {
    char *url;
    struct pg_pool *pool;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->url = pgtest_db_create();
    assert_non_null(f->url);
    f->pool = pg_pool_open(f->url, 4);
    assert_non_null(f->pool);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    pg_pool_close(f->pool);
    pgtest_db_drop(f->url);
    free(f);
    return 0;
}

static void test_url_helpers(void **state)
{
    (void)state;
    char out[256];
    assert_true(pg_url_is_pg("postgresql://u@h/db"));
    assert_true(pg_url_is_pg("postgres://h/db"));
    assert_false(pg_url_is_pg("sqlite:/var/tessera.db"));
    assert_false(pg_url_is_pg("/var/lib/tessera"));
    assert_false(pg_url_is_pg(NULL));
    pg_url_redacted("postgresql://alice:s3cret@db.example:5432/tessera", out, sizeof(out));
    assert_string_equal(out, "postgresql://alice:***@db.example:5432/tessera");
    assert_null(strstr(out, "s3cret"));
    pg_url_redacted("postgresql://alice@db/tessera?password=s3cret&sslmode=require", out,
                    sizeof(out));
    assert_null(strstr(out, "s3cret"));
    pg_url_redacted("postgresql://db/tessera", out, sizeof(out));
    assert_string_equal(out, "postgresql://db/tessera");
}

static void test_open_unreachable(void **state)
{
    (void)state;
    /* Port 1 on loopback: nothing listens, the connect fails at once. */
    assert_null(pg_pool_open("postgresql://tessera@127.0.0.1:1/none", 2));
}

static void test_query_params_and_errors(void **state)
{
    struct fixture *f = *state;
    PGconn *c = pg_acquire(f->pool);
    assert_non_null(c);
    assert_int_equal(pg_exec(c, "CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT,"
                                " b BYTEA, r BIGINT REFERENCES t2(id))", 0, NULL, NULL), -EIO);
    assert_int_equal(pg_exec(c, "CREATE TABLE t2 (id BIGINT PRIMARY KEY)", 0, NULL, NULL), 0);
    assert_int_equal(pg_exec(c, "CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT,"
                                " b BYTEA, r BIGINT REFERENCES t2(id))", 0, NULL, NULL), 0);
    /* A value that would be an injection if spliced stays one value. */
    const char *evil = "x'); DROP TABLE t; --";
    char n[24], b[2 * 4 + 3];
    const uint8_t bytes[4] = {0x00, 0xff, 0x10, 0x7f};
    pg_bytea_param(bytes, sizeof(bytes), b);
    assert_string_equal(b, "\\x00ff107f");
    const char *p1[] = {evil, pg_int_param(-9007199254740991LL, n), b, NULL};
    int64_t changed = -1;
    assert_int_equal(pg_exec(c, "INSERT INTO t VALUES ($1, $2, $3, $4)", 4, p1, &changed), 0);
    assert_int_equal(changed, 1);
    assert_int_equal(pg_exec(c, "INSERT INTO t VALUES ($1, $2, $3, $4)", 4, p1, NULL), -EEXIST);
    const char *p2[] = {"other", "1", b, "42"};
    assert_int_equal(pg_exec(c, "INSERT INTO t VALUES ($1, $2, $3, $4)", 4, p2, NULL), -ENOENT);

    const char *key[] = {evil};
    PGresult *r = pg_query(c, "SELECT k, n, b, n > 0 FROM t WHERE k = $1", 1, key, NULL);
    assert_non_null(r);
    assert_int_equal(PQntuples(r), 1);
    char text[64];
    pg_get_text(r, 0, 0, text, sizeof(text));
    assert_string_equal(text, evil);
    assert_true(pg_get_int64(r, 0, 1) == -9007199254740991LL);
    uint8_t back[4];
    assert_int_equal(pg_get_bytea(r, 0, 2, back, sizeof(back)), 0);
    assert_memory_equal(back, bytes, sizeof(bytes));
    assert_int_equal(pg_get_bytea(r, 0, 2, back, 3), -EIO); /* wrong length */
    assert_false(pg_get_bool(r, 0, 3));
    PQclear(r);

    char state_code[6] = "x";
    assert_null(pg_query(c, "SELECT * FROM no_such_table", 0, NULL, state_code));
    assert_string_equal(state_code, "42P01");
    pg_release(f->pool, c);
}

/* Which unique key a row collided with: the driver tells a taken e-mail
 * from a taken username by the violated index's name. */
static void test_constraint_name(void **state)
{
    struct fixture *f = *state;
    PGconn *c = pg_acquire(f->pool);
    assert_non_null(c);
    assert_int_equal(pg_exec(c, "CREATE TABLE u (name TEXT CONSTRAINT u_name_key UNIQUE,"
                                " email TEXT)", 0, NULL, NULL), 0);
    assert_int_equal(pg_exec(c, "CREATE UNIQUE INDEX u_email_key ON u (lower(email))", 0, NULL,
                             NULL), 0);
    const char *a[] = {"ann", "Ann@Example.com"};
    const char *b[] = {"bob", "ann@example.COM"};
    const char *d[] = {"ann", "other@example.com"};
    char state_code[6], name[64] = "x";
    PGresult *r = pg_query_constraint(c, "INSERT INTO u VALUES ($1, $2) RETURNING name", 2, a,
                                      state_code, name, sizeof(name));
    assert_non_null(r);
    assert_string_equal(name, "");
    PQclear(r);
    assert_null(pg_query_constraint(c, "INSERT INTO u VALUES ($1, $2)", 2, b, state_code, name,
                                    sizeof(name)));
    assert_string_equal(state_code, PG_UNIQUE_VIOLATION);
    assert_string_equal(name, "u_email_key");
    assert_null(pg_query_constraint(c, "INSERT INTO u VALUES ($1, $2)", 2, d, state_code, name,
                                    sizeof(name)));
    assert_string_equal(name, "u_name_key");
    /* Not a constraint: no name. */
    assert_null(pg_query_constraint(c, "SELECT * FROM no_such_table", 0, NULL, state_code, name,
                                    sizeof(name)));
    assert_string_equal(name, "");
    pg_release(f->pool, c);
}

static void test_transactions(void **state)
{
    struct fixture *f = *state;
    PGconn *c = pg_acquire(f->pool);
    assert_int_equal(pg_exec(c, "CREATE TABLE t (n INT)", 0, NULL, NULL), 0);
    assert_int_equal(pg_begin(c), 0);
    assert_int_equal(pg_exec(c, "INSERT INTO t VALUES (1)", 0, NULL, NULL), 0);
    pg_rollback(c);
    assert_int_equal(pg_begin(c), 0);
    assert_int_equal(pg_exec(c, "INSERT INTO t VALUES (2)", 0, NULL, NULL), 0);
    /* A failed statement aborts the transaction: COMMIT must not report it
     * as committed (the server answers ROLLBACK). */
    assert_int_equal(pg_exec(c, "INSERT INTO t VALUES ('x')", 0, NULL, NULL), -EIO);
    assert_int_equal(pg_commit(c), -EIO);
    assert_int_equal(pg_begin(c), 0);
    assert_int_equal(pg_exec(c, "INSERT INTO t VALUES (3)", 0, NULL, NULL), 0);
    assert_int_equal(pg_commit(c), 0);
    PGresult *r = pg_query(c, "SELECT string_agg(n::text, ',') FROM t", 0, NULL, NULL);
    char text[16];
    pg_get_text(r, 0, 0, text, sizeof(text));
    assert_string_equal(text, "3");
    PQclear(r);
    /* Released inside a transaction: closed, not pooled half-way. */
    assert_int_equal(pg_begin(c), 0);
    pg_release(f->pool, c);
    c = pg_acquire(f->pool);
    assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);
    pg_release(f->pool, c);
}

static void test_pool_bounds_and_reconnect(void **state)
{
    struct fixture *f = *state;
    PGconn *held[4];
    for (int i = 0; i < 4; i++)
        assert_non_null(held[i] = pg_acquire(f->pool));
    /* Full: the next borrower waits PG_ACQUIRE_TIMEOUT_MS, then gets NULL. */
    assert_null(pg_acquire(f->pool));
    int victim = PQbackendPID(held[0]);
    for (int i = 0; i < 4; i++)
        pg_release(f->pool, held[i]);
    /* The server ends a pooled connection (pg_terminate_backend, a restart):
     * the next borrower gets a working one anyway. */
    PGconn *c = pg_acquire(f->pool);
    char pid[24];
    const char *params[] = {pg_int_param(victim, pid)};
    int64_t killed = 0;
    PGresult *r = pg_query(c, "SELECT pg_terminate_backend($1)", 1, params, NULL);
    assert_non_null(r);
    killed = pg_get_bool(r, 0, 0);
    PQclear(r);
    pg_release(f->pool, c);
    assert_true(killed || victim == 0);
    /* pg_terminate_backend only signals: wait until the backend is gone. */
    for (int tries = 0; tries < 500; tries++) {
        c = pg_acquire(f->pool);
        r = pg_query(c, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", 1, params, NULL);
        int64_t alive = r ? pg_get_int64(r, 0, 0) : 1;
        PQclear(r);
        pg_release(f->pool, c);
        if (!alive)
            break;
        usleep(10000);
    }
    /* The pool sees the closed socket before lending the connection out, so
     * no borrower gets the dead one. */
    for (int i = 0; i < 4; i++) {
        held[i] = pg_acquire(f->pool);
        assert_non_null(held[i]);
        PGresult *ok = pg_query(held[i], "SELECT 1", 0, NULL, NULL);
        assert_non_null(ok);
        PQclear(ok);
    }
    for (int i = 0; i < 4; i++)
        pg_release(f->pool, held[i]);
    for (int i = 0; i < 4; i++) {
        held[i] = pg_acquire(f->pool);
        PGresult *ok = pg_query(held[i], "SELECT 1", 0, NULL, NULL);
        assert_non_null(ok);
        PQclear(ok);
    }
    for (int i = 0; i < 4; i++)
        pg_release(f->pool, held[i]);
}

static const char *const steps[] = {
    "CREATE TABLE m1 (n INT); INSERT INTO m1 VALUES (1);",
    "ALTER TABLE m1 ADD COLUMN s TEXT; INSERT INTO m1 VALUES (2, 'two');",
};

struct migrate_arg {
    struct pg_pool *pool;
    int rc;
};

static void *migrate_thread(void *p)
{
    struct migrate_arg *a = p;
    a->rc = pg_migrate(a->pool, "unit", steps, 2);
    return NULL;
}

static void test_migrate_once_concurrently(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(pg_schema_version(f->pool, "unit"), 0);
    /* Two "nodes" (pools of their own) and two threads each. */
    struct pg_pool *other = pg_pool_open(f->url, 4);
    pthread_t th[4];
    struct migrate_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct migrate_arg){i % 2 ? other : f->pool, -1};
        assert_int_equal(pthread_create(&th[i], NULL, migrate_thread, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].rc, 0);
    }
    pg_pool_close(other);
    assert_int_equal(pg_schema_version(f->pool, "unit"), 2);
    PGconn *c = pg_acquire(f->pool);
    PGresult *r = pg_query(c, "SELECT count(*) FROM m1", 0, NULL, NULL);
    assert_int_equal(pg_get_int64(r, 0, 0), 2); /* each step ran exactly once */
    PQclear(r);
    pg_release(f->pool, c);
    /* Idempotent; another track is independent. */
    assert_int_equal(pg_migrate(f->pool, "unit", steps, 2), 0);
    assert_int_equal(pg_schema_version(f->pool, "other"), 0);
    /* A binary that knows fewer steps than the database has refuses. */
    assert_int_equal(pg_migrate(f->pool, "unit", steps, 1), -EPROTO);
}

static void test_failed_migration_rolls_back(void **state)
{
    struct fixture *f = *state;
    static const char *const bad[] = {
        "CREATE TABLE ok1 (n INT);",
        "CREATE TABLE half (n INT); SELECT no_such_function();",
    };
    assert_int_equal(pg_migrate(f->pool, "unit", bad, 2), -EIO);
    assert_int_equal(pg_schema_version(f->pool, "unit"), 1);
    PGconn *c = pg_acquire(f->pool);
    char st[6];
    PGresult *r = pg_query(c, "SELECT 1 FROM half", 0, NULL, st);
    assert_null(r); /* the failed step left nothing behind */
    assert_string_equal(st, "42P01");
    pg_release(f->pool, c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_helpers),
        cmocka_unit_test(test_open_unreachable),
        cmocka_unit_test_setup_teardown(test_query_params_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_constraint_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_bounds_and_reconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_once_concurrently, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_migration_rolls_back, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
