/* Unit tests of what only the PostgreSQL store does, on the test cluster
 * (several "nodes" are several stores on one database): migrations that
 * several pools start at once, a schema newer than the binary, keys shared
 * by all nodes (created once; configured ones recorded by fingerprint only),
 * throttles counted across nodes, the change log every account/token write
 * appends to, writes that wait for live nodes, refresh rotation races across
 * nodes, recovery after the server ends pooled connections, the cursor scan
 * of token_each, and text that is not UTF-8. The contract both drivers share
 * is tested by test_store.c, test_store_tokens.c and test_store_lifecycle.c. */
#include "storetest.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "store/driver.h"
#include "store/pg.h"
#include "util/timeutil.h"

/* ------------------------------------------------------------------------ */
/* Direct access to the test database, to look behind the store's back      */

static PGconn *db_open(const struct fixture *f)
{
    PGconn *c = PQconnectdb(f->url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    return c;
}

static void db_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

/* The first column of the first row of sql with text parameters, as int. */
static int64_t db_int(PGconn *c, const char *sql, int n, const char *const *params)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    int64_t v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static int64_t db_now_ms(PGconn *c)
{
    return db_int(c, "SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint", 0, NULL);
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0)
        ;
}

static void sha256_hex(const uint8_t *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    assert_int_equal(EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL), 1);
    crypto_hex(md, mdlen, out);
}

/* ------------------------------------------------------------------------ */
/* Migrations                                                               */

static void test_unmigrated_version_zero(void **state)
{
    struct fixture *f = *state;
    f->st = store_pg_open(f->url);
    assert_non_null(f->st);
    assert_int_equal(f->st->ops->schema_version(f->st), 0);
    assert_int_equal(f->st->ops->migrate(f->st), 0);
    assert_int_equal(f->st->ops->schema_version(f->st), PG_SCHEMA_VERSION);
}

struct migrate_arg {
    const char *url;
    pthread_barrier_t *go;
    struct store *st;
    int rc;
};

static void *migrate_node(void *p)
{
    struct migrate_arg *a = p;
    a->st = store_pg_open(a->url);
    pthread_barrier_wait(a->go);
    a->rc = a->st ? a->st->ops->migrate(a->st) : -EIO;
    return NULL;
}

/* Nodes starting together on an empty database: each step runs once. */
static void test_migrate_concurrently(void **state)
{
    struct fixture *f = *state;
    enum { NODES = 4 };
    pthread_t th[NODES];
    struct migrate_arg args[NODES];
    pthread_barrier_t go;
    assert_int_equal(pthread_barrier_init(&go, NULL, NODES), 0);
    for (int i = 0; i < NODES; i++) {
        args[i] = (struct migrate_arg){.url = f->url, .go = &go, .rc = -1};
        assert_int_equal(pthread_create(&th[i], NULL, migrate_node, &args[i]), 0);
    }
    for (int i = 0; i < NODES; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(args[i].rc, 0);
        if (i > 0)
            args[i].st->ops->close(args[i].st);
    }
    pthread_barrier_destroy(&go);
    f->st = args[0].st;
    assert_int_equal(f->st->ops->schema_version(f->st), PG_SCHEMA_VERSION);
    PGconn *db = db_open(f);
    assert_int_equal(
        db_int(db, "SELECT count(*) FROM schema_migrations WHERE track = 'store'", 0, NULL),
        PG_SCHEMA_VERSION);
    assert_int_equal(db_int(db, "SELECT count(*) FROM scopes", 0, NULL), 11);
    assert_int_equal(db_int(db, "SELECT count(*) FROM \"groups\"", 0, NULL), 2);
    assert_int_equal(db_int(db, "SELECT count(*) FROM change_seq", 0, NULL), 1);
    PQfinish(db);
}

/* A database migrated by a newer Tessera: this binary must not serve it. */
static void test_schema_newer_than_binary(void **state)
{
    struct fixture *f = *state;
    PGconn *db = db_open(f);
    db_exec(db, "INSERT INTO schema_migrations (track, version, applied_at)"
                " VALUES ('store', 99, 0)");
    PQfinish(db);
    assert_int_equal(f->st->ops->migrate(f->st), -EPROTO);
    assert_int_equal(f->st->ops->schema_version(f->st), 99);
}

/* ------------------------------------------------------------------------ */
/* Shared keys                                                              */

struct key_arg {
    struct store *st;
    pthread_barrier_t *go;
    uint8_t key[CRYPTO_KEY_LEN];
    int rc;
};

static void *fetch_key(void *p)
{
    struct key_arg *a = p;
    pthread_barrier_wait(a->go);
    a->rc = a->st->ops->key_shared(a->st, "jwt.key", a->key, false);
    return NULL;
}

/* Two nodes asking at the same moment get the one key created. */
static void test_key_shared_created_once(void **state)
{
    struct fixture *f = *state;
    struct store *other = store_pg_open(f->url);
    assert_non_null(other);
    enum { N = 4 };
    pthread_t th[N];
    struct key_arg args[N];
    pthread_barrier_t go;
    assert_int_equal(pthread_barrier_init(&go, NULL, N), 0);
    for (int i = 0; i < N; i++) {
        args[i] = (struct key_arg){.st = i % 2 ? other : f->st, .go = &go, .rc = -1};
        assert_int_equal(pthread_create(&th[i], NULL, fetch_key, &args[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(args[i].rc, 0);
        assert_memory_equal(args[i].key, args[0].key, CRYPTO_KEY_LEN);
    }
    pthread_barrier_destroy(&go);
    static const uint8_t zero[CRYPTO_KEY_LEN];
    assert_memory_not_equal(args[0].key, zero, CRYPTO_KEY_LEN);

    /* Asked again: the same. Another name: another key. */
    uint8_t again[CRYPTO_KEY_LEN], token_key[CRYPTO_KEY_LEN];
    assert_int_equal(other->ops->key_shared(other, "jwt.key", again, false), 0);
    assert_memory_equal(again, args[0].key, CRYPTO_KEY_LEN);
    assert_int_equal(f->st->ops->key_shared(f->st, "token.key", token_key, false), 0);
    assert_memory_not_equal(token_key, args[0].key, CRYPTO_KEY_LEN);
    other->ops->close(other);

    PGconn *db = db_open(f);
    assert_int_equal(db_int(db, "SELECT count(*) FROM shared_keys", 0, NULL), 2);
    char fp[65], hex[2 * CRYPTO_KEY_LEN + 1];
    sha256_hex(args[0].key, CRYPTO_KEY_LEN, fp);
    crypto_hex(args[0].key, CRYPTO_KEY_LEN, hex);
    const char *params[] = {fp, hex};
    assert_int_equal(db_int(db,
                            "SELECT count(*) FROM shared_keys WHERE name = 'jwt.key'"
                            " AND fingerprint = $1 AND key = decode($2, 'hex')",
                            2, params),
                     1);
    PQfinish(db);
}

/* A key from a file is recorded by fingerprint only; a different one is
 * refused; a node without the file cannot get it from the database. */
static void test_key_shared_given(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    struct store *other = store_pg_open(f->url);
    assert_non_null(other);
    uint8_t k1[CRYPTO_KEY_LEN], k1copy[CRYPTO_KEY_LEN], k2[CRYPTO_KEY_LEN], out[CRYPTO_KEY_LEN];
    crypto_random(k1, sizeof(k1));
    crypto_random(k2, sizeof(k2));
    memcpy(k1copy, k1, sizeof(k1));
    assert_int_equal(st->ops->key_shared(st, "file.key", k1, true), 0);
    assert_memory_equal(k1, k1copy, sizeof(k1)); /* a given key is only read */
    assert_int_equal(other->ops->key_shared(other, "file.key", k1copy, true), 0);
    assert_int_equal(other->ops->key_shared(other, "file.key", k2, true), -EKEYREJECTED);
    assert_int_equal(st->ops->key_shared(st, "file.key", out, false), -ENOKEY);

    /* The database holds the fingerprint and nothing of the key itself. */
    PGconn *db = db_open(f);
    char fp[65], hex[2 * CRYPTO_KEY_LEN + 1];
    sha256_hex(k1, sizeof(k1), fp);
    crypto_hex(k1, sizeof(k1), hex);
    const char *p_fp[] = {fp};
    assert_int_equal(db_int(db,
                            "SELECT count(*) FROM shared_keys WHERE name = 'file.key'"
                            " AND key IS NULL AND fingerprint = $1",
                            1, p_fp),
                     1);
    const char *p_hex[] = {hex};
    assert_int_equal(db_int(db,
                            "SELECT count(*) FROM shared_keys WHERE strpos(fingerprint, $1) > 0"
                            " OR strpos(name, $1) > 0"
                            " OR position(decode($1, 'hex') IN coalesce(key, ''::bytea)) > 0",
                            1, p_hex),
                     0);
    PQfinish(db);

    /* A generated key may later come from a file holding the same bytes. */
    uint8_t gen[CRYPTO_KEY_LEN];
    assert_int_equal(st->ops->key_shared(st, "gen.key", gen, false), 0);
    assert_int_equal(other->ops->key_shared(other, "gen.key", gen, true), 0);
    assert_int_equal(other->ops->key_shared(other, "gen.key", k2, true), -EKEYREJECTED);
    other->ops->close(other);
}

/* ------------------------------------------------------------------------ */
/* Throttles                                                                */

static void test_throttle_across_nodes(void **state)
{
    struct fixture *f = *state;
    struct store *a = f->st;
    struct store *b = store_pg_open(f->url);
    assert_non_null(b);
    PGconn *db = db_open(f);
    /* Start just after a window boundary of the database clock, so the hits
     * below share one 2-second window. */
    int64_t now = db_now_ms(db);
    sleep_ms(2000 - now % 2000 + 20);
    assert_int_equal(a->ops->throttle_hit(a, "login:ann", 3, 2), 0);
    assert_int_equal(b->ops->throttle_hit(b, "login:ann", 3, 2), 0);
    assert_int_equal(a->ops->throttle_hit(a, "login:ann", 3, 2), 0);
    int left = b->ops->throttle_hit(b, "login:ann", 3, 2); /* the 4th, on either node */
    assert_true(left >= 1 && left <= 2);
    assert_true(a->ops->throttle_hit(a, "login:ann", 3, 2) >= 1);
    assert_int_equal(a->ops->throttle_hit(a, "login:bob", 3, 2), 0); /* keys are apart */
    for (int i = 0; i < 5; i++)
        assert_int_equal(b->ops->throttle_hit(b, "login:ann", 0, 2), 0); /* 0 = unlimited */
    /* A key that is not UTF-8 is counted too, not let through. */
    assert_int_equal(a->ops->throttle_hit(a, "ip:\xff\xfe", 1, 2), 0);
    assert_true(b->ops->throttle_hit(b, "ip:\xff\xfe", 1, 2) >= 1);

    /* The next window starts from zero. */
    sleep_ms(left * 1000 + 50);
    assert_int_equal(b->ops->throttle_hit(b, "login:ann", 3, 2), 0);
    assert_int_equal(a->ops->throttle_hit(a, "login:ann", 3, 2), 0);
    assert_int_equal(b->ops->throttle_hit(b, "login:ann", 3, 2), 0);
    assert_true(a->ops->throttle_hit(a, "login:ann", 3, 2) >= 1);

    /* A database failure counts as within the limit (and is logged). */
    db_exec(db, "DROP TABLE throttle");
    assert_int_equal(a->ops->throttle_hit(a, "login:ann", 3, 2), 0);
    PQfinish(db);
    b->ops->close(b);
}

/* ------------------------------------------------------------------------ */
/* Change log and barrier                                                   */

struct change {
    int kind;
    int64_t account;
    const char *token;
};

/* The change log holds exactly `want`, in order, numbered 1..n without gaps,
 * and change_seq is at n. */
static void assert_change_log(PGconn *db, const struct change *want, int n)
{
    PGresult *r = PQexec(db, "SELECT seq, kind, account_id, token_id FROM change_log ORDER BY seq");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(strtoll(PQgetvalue(r, i, 0), NULL, 10), i + 1);
        assert_int_equal(atoi(PQgetvalue(r, i, 1)), want[i].kind);
        assert_int_equal(strtoll(PQgetvalue(r, i, 2), NULL, 10), want[i].account);
        assert_string_equal(PQgetvalue(r, i, 3), want[i].token);
    }
    PQclear(r);
    assert_int_equal(db_int(db, "SELECT seq FROM change_seq", 0, NULL), n);
}

struct writer {
    struct store *st;
    int n;
    int failures;
};

static void *write_some(void *p)
{
    struct writer *w = p;
    struct store *st = w->st;
    char u[32], e[64], id[TOKEN_ID_LEN + 1];
    snprintf(u, sizeof(u), "writer%d", w->n);
    snprintf(e, sizeof(e), "writer%d@example.com", w->n);
    struct account a;
    make_account(&a, u, e);
    w->failures += st->ops->account_create(st, &a, NULL) != 0;
    for (int j = 0; j < 3; j++) {
        struct token_record t;
        snprintf(u, sizeof(u), "w%dt%d", w->n, j);
        token_id(id, u, 0);
        make_token(&t, id, a.id, TOKEN_SK, false, 0);
        w->failures += st->ops->token_insert(st, &t) != 0;
        token_record_free(&t);
    }
    w->failures += st->ops->token_revoke(st, id, a.id) != 0;
    a.is_staff = true;
    w->failures += st->ops->account_update(st, &a) != 0;
    account_free(&a);
    return NULL;
}

/* Every account or token write that changed a row appends one entry per
 * changed row; failed writes and other tables append nothing. */
static void test_change_log(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    PGconn *db = db_open(f);
    assert_change_log(db, NULL, 0);

    int64_t ann = create_account(st, "ann", "ann@example.com");
    struct account b, dup;
    struct token_record t;
    make_account(&b, "bob", "bob@example.com");
    make_token(&t, "firsttokenfirsttokenfirst", 0, TOKEN_PK, true, 0);
    assert_int_equal(st->ops->account_create(st, &b, &t), 0);
    token_record_free(&t);
    make_account(&dup, "ann2", "ANN@example.com");
    assert_int_equal(st->ops->account_create(st, &dup, NULL), -EEXIST);
    account_free(&dup);
    b.is_active = false;
    assert_int_equal(st->ops->account_update(st, &b), 0);
    make_account(&dup, "ghost", "ghost@example.com");
    dup.id = 424242;
    assert_int_equal(st->ops->account_update(st, &dup), -ENOENT);
    account_free(&dup);

    make_token(&t, "secondtokensecondtokensec", ann, TOKEN_SK, false, 0);
    assert_int_equal(st->ops->token_insert(st, &t), 0);
    assert_int_equal(st->ops->token_insert(st, &t), -EEXIST);
    snprintf(t.note, sizeof(t.note), "renamed");
    t.account_id = 0; /* token_update names the owner from the row */
    assert_int_equal(st->ops->token_update(st, &t), 0);
    assert_int_equal(st->ops->token_revoke(st, t.id, b.id), -ENOENT);
    assert_int_equal(st->ops->token_revoke(st, t.id, ann), 0);
    assert_int_equal(st->ops->token_update(st, &t), -ENOENT);
    token_record_free(&t);

    /* No notes for refresh tokens, scopes and groups. */
    struct refresh_record r1, r2;
    make_refresh(&r1, "j1", "fam", ann);
    make_refresh(&r2, "j2", "fam", ann);
    assert_int_equal(st->ops->refresh_insert(st, &r1), 0);
    assert_int_equal(st->ops->refresh_rotate(st, "j1", &r2), 0);
    assert_int_equal(st->ops->refresh_revoke_account(st, ann), 0);
    struct scope_def sd = {.id = "x:y", .description = "x"};
    assert_int_equal(st->ops->scope_add(st, &sd), 0);
    struct group_def gd = {.name = "X", .description = "x"};
    assert_int_equal(st->ops->group_add(st, &gd), 0);

    const struct change want[] = {
        {PG_CHANGE_ACCOUNT, ann, ""},
        {PG_CHANGE_ACCOUNT, b.id, ""},
        {PG_CHANGE_TOKEN, b.id, "firsttokenfirsttokenfirst"},
        {PG_CHANGE_ACCOUNT, b.id, ""},
        {PG_CHANGE_TOKEN, ann, "secondtokensecondtokensec"},
        {PG_CHANGE_TOKEN, ann, "secondtokensecondtokensec"},
        {PG_CHANGE_TOKEN, ann, "secondtokensecondtokensec"},
    };
    int n = (int)(sizeof(want) / sizeof(*want));
    assert_change_log(db, want, n);
    account_free(&b);

    /* Concurrent writers on two nodes: still one entry per change, numbered
     * without gaps (in commit order). */
    struct store *other = store_pg_open(f->url);
    assert_non_null(other);
    enum { W = 4 };
    pthread_t th[W];
    struct writer w[W];
    for (int i = 0; i < W; i++) {
        w[i] = (struct writer){.st = i % 2 ? other : st, .n = i};
        assert_int_equal(pthread_create(&th[i], NULL, write_some, &w[i]), 0);
    }
    for (int i = 0; i < W; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
    }
    other->ops->close(other);
    int total = n + W * 6; /* account, 3 tokens, a revocation, an update */
    assert_int_equal(db_int(db, "SELECT count(*) FROM change_log", 0, NULL), total);
    assert_int_equal(db_int(db, "SELECT min(seq) FROM change_log", 0, NULL), 1);
    assert_int_equal(db_int(db, "SELECT max(seq) FROM change_log", 0, NULL), total);
    assert_int_equal(db_int(db, "SELECT seq FROM change_seq", 0, NULL), total);
    assert_int_equal(db_int(db,
                            "SELECT count(*) FROM change_log l JOIN accounts a"
                            " ON a.id = l.account_id WHERE a.username LIKE 'writer%'"
                            " AND l.kind = 2",
                            0, NULL),
                     W * 4);
    PQfinish(db);
}

struct applier {
    const char *url;
    atomic_bool stop;
};

/* A node that applies every change 300 ms after it starts. */
static void *slow_node(void *p)
{
    struct applier *a = p;
    PGconn *c = PQconnectdb(a->url);
    sleep_ms(300);
    while (!atomic_load(&a->stop)) {
        PQclear(PQexec(c, "UPDATE nodes SET applied_seq = (SELECT seq FROM change_seq)"
                          " WHERE name = 'slow'"));
        sleep_ms(20);
    }
    PQfinish(c);
    return NULL;
}

/* A committed write returns once every live node applied it, or lost its
 * lease; a node whose lease is over is not waited for. */
static void test_write_waits_for_nodes(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    int64_t acc = create_account(st, "waiter", "waiter@example.com");
    PGconn *db = db_open(f);
    db_exec(db, "INSERT INTO nodes (name, applied_seq, lease_until, started_at) VALUES ('slow',"
                " 0, (extract(epoch from clock_timestamp()) * 1000)::bigint + 10000, 0)");
    struct applier ap = {.url = f->url};
    atomic_init(&ap.stop, false);
    pthread_t th;
    int64_t t0 = time_now_ms();
    assert_int_equal(pthread_create(&th, NULL, slow_node, &ap), 0);
    insert_token(st, "waitingtokenwaitingtoken1", acc, TOKEN_SK, false, 0);
    int64_t waited = time_now_ms() - t0;
    atomic_store(&ap.stop, true);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(waited >= 250 && waited < 5000);

    /* Never applies, lease runs out in 800 ms: the write waits for that,
     * then succeeds (it is committed either way). */
    db_exec(db, "UPDATE nodes SET applied_seq = 0, lease_until ="
                " (extract(epoch from clock_timestamp()) * 1000)::bigint + 800");
    t0 = time_now_ms();
    assert_int_equal(st->ops->token_revoke(st, "waitingtokenwaitingtoken1", acc), 0);
    waited = time_now_ms() - t0;
    assert_true(waited >= 600 && waited < 5000);

    /* Lease over: no wait. */
    t0 = time_now_ms();
    struct account a;
    assert_int_equal(st->ops->account_get_by_id(st, acc, &a), 0);
    assert_int_equal(st->ops->account_update(st, &a), 0);
    account_free(&a);
    assert_true(time_now_ms() - t0 < 500);
    PQfinish(db);
}

/* ------------------------------------------------------------------------ */
/* Refresh rotation across nodes                                            */

struct rotate_arg {
    struct store *st;
    pthread_barrier_t *go;
    const char *old;
    struct refresh_record next;
    int rc;
};

static void *rotate(void *p)
{
    struct rotate_arg *a = p;
    pthread_barrier_wait(a->go);
    a->rc = a->st->ops->refresh_rotate(a->st, a->old, &a->next);
    return NULL;
}

/* Two nodes rotate the same refresh token at once: one wins, the other sees
 * it used and revokes the family, including the winner's new token. */
static void test_refresh_rotate_race(void **state)
{
    struct fixture *f = *state;
    struct store *other = store_pg_open(f->url);
    assert_non_null(other);
    int64_t acc = create_account(f->st, "racer", "racer@example.com");
    pthread_barrier_t go;
    assert_int_equal(pthread_barrier_init(&go, NULL, 2), 0);
    for (int round = 0; round < 20; round++) {
        char old[33], fam[33], ja[33], jb[33];
        snprintf(old, sizeof(old), "race%d", round);
        snprintf(fam, sizeof(fam), "family%d", round);
        snprintf(ja, sizeof(ja), "race%da", round);
        snprintf(jb, sizeof(jb), "race%db", round);
        struct refresh_record r;
        make_refresh(&r, old, fam, acc);
        assert_int_equal(f->st->ops->refresh_insert(f->st, &r), 0);
        struct rotate_arg args[2] = {{.st = f->st, .go = &go, .old = old},
                                     {.st = other, .go = &go, .old = old}};
        make_refresh(&args[0].next, ja, fam, acc);
        make_refresh(&args[1].next, jb, fam, acc);
        pthread_t th[2];
        for (int i = 0; i < 2; i++)
            assert_int_equal(pthread_create(&th[i], NULL, rotate, &args[i]), 0);
        for (int i = 0; i < 2; i++)
            assert_int_equal(pthread_join(th[i], NULL), 0);
        int winner = args[0].rc == 0 ? 0 : 1;
        assert_int_equal(args[winner].rc, 0);
        assert_int_equal(args[1 - winner].rc, -EPERM);
        struct refresh_record out;
        assert_int_equal(f->st->ops->refresh_check(f->st, args[winner].next.jti, &out), -EPERM);
        assert_int_equal(f->st->ops->refresh_check(f->st, args[1 - winner].next.jti, &out),
                         -ENOENT);
        assert_int_equal(f->st->ops->refresh_check(f->st, old, &out), -EPERM);
    }
    pthread_barrier_destroy(&go);
    other->ops->close(other);
}

struct revoke_arg {
    struct store *st;
    pthread_barrier_t *go;
    const char *family;
    const char *spent; /* replays this spent jti instead, when set */
    int rc;
};

static void *revoke_family(void *p)
{
    struct revoke_arg *a = p;
    struct refresh_record next;
    make_refresh(&next, "never", "x", 0);
    pthread_barrier_wait(a->go);
    a->rc = a->spent ? a->st->ops->refresh_rotate(a->st, a->spent, &next)
                     : a->st->ops->refresh_revoke_family(a->st, a->family);
    return NULL;
}

/* A family revoked (logout, or a replayed spent token) while one node
 * rotates its live token stays revoked: the rotation's new token never
 * slips past the revocation, whichever commits first. */
static void test_refresh_revoke_during_rotation(void **state)
{
    struct fixture *f = *state;
    struct store *other = store_pg_open(f->url);
    assert_non_null(other);
    int64_t acc = create_account(f->st, "revoker", "revoker@example.com");
    pthread_barrier_t go;
    assert_int_equal(pthread_barrier_init(&go, NULL, 2), 0);
    for (int round = 0; round < 60; round++) {
        char fam[33], spent[33], live[33], next[33];
        snprintf(fam, sizeof(fam), "fam%d", round);
        snprintf(spent, sizeof(spent), "spent%d", round);
        snprintf(live, sizeof(live), "live%d", round);
        snprintf(next, sizeof(next), "next%d", round);
        struct refresh_record r;
        make_refresh(&r, spent, fam, acc);
        assert_int_equal(f->st->ops->refresh_insert(f->st, &r), 0);
        make_refresh(&r, live, fam, acc);
        assert_int_equal(f->st->ops->refresh_rotate(f->st, spent, &r), 0);
        struct rotate_arg rot = {.st = f->st, .go = &go, .old = live};
        make_refresh(&rot.next, next, fam, acc);
        struct revoke_arg rev = {
            .st = other, .go = &go, .family = fam, .spent = round % 2 ? spent : NULL};
        pthread_t th[2];
        assert_int_equal(pthread_create(&th[0], NULL, rotate, &rot), 0);
        assert_int_equal(pthread_create(&th[1], NULL, revoke_family, &rev), 0);
        for (int i = 0; i < 2; i++)
            assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_true(rot.rc == 0 || rot.rc == -EPERM);
        assert_int_equal(rev.rc, round % 2 ? -EPERM : 0);
        struct refresh_record out;
        assert_int_not_equal(f->st->ops->refresh_check(f->st, next, &out), 0);
        assert_int_not_equal(f->st->ops->refresh_check(f->st, live, &out), 0);
    }
    pthread_barrier_destroy(&go);
    other->ops->close(other);
}

/* ------------------------------------------------------------------------ */
/* Connections the server ended                                             */

struct reader {
    struct store *st;
    const char *id;
    int failures;
};

static void *read_some(void *p)
{
    struct reader *r = p;
    for (int i = 0; i < 20; i++) {
        struct token_record t;
        if (r->st->ops->token_get(r->st, r->id, &t) != 0)
            r->failures++;
        else
            token_record_free(&t);
    }
    return NULL;
}

static int read_during_scan(void *ctx, const struct token_record *t)
{
    struct reader *r = ctx;
    struct token_record g;
    if (r->st->ops->token_get(r->st, t->id, &g) != 0)
        r->failures++;
    else
        token_record_free(&g);
    return 0;
}

static int read_readers(struct store *st, const char *id)
{
    enum { R = 4 };
    pthread_t th[R];
    struct reader rd[R];
    int failures = 0;
    for (int i = 0; i < R; i++) {
        rd[i] = (struct reader){.st = st, .id = id};
        assert_int_equal(pthread_create(&th[i], NULL, read_some, &rd[i]), 0);
    }
    for (int i = 0; i < R; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        failures += rd[i].failures;
    }
    return failures;
}

/* pg_terminate_backend of every pooled connection (as a server restart or
 * an operator would): the next operations all succeed on fresh ones. */
static void test_survives_terminated_connections(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    int64_t acc = create_account(st, "survivor", "survivor@example.com");
    insert_token(st, "survivortokensurvivortoke", acc, TOKEN_PK, false, 0);
    /* Several pooled connections, all idle afterwards. */
    assert_int_equal(read_readers(st, "survivortokensurvivortoke"), 0);
    struct reader scan = {.st = st};
    assert_int_equal(st->ops->token_each(st, read_during_scan, &scan), 0);

    PGconn *db = db_open(f);
    const char *others = "SELECT count(*) FROM pg_stat_activity"
                         " WHERE datname = current_database() AND pid <> pg_backend_pid()";
    assert_true(db_int(db, others, 0, NULL) >= 2);
    db_exec(db, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()");
    for (int i = 0; i < 500 && db_int(db, others, 0, NULL) > 0; i++)
        sleep_ms(10);
    assert_int_equal(db_int(db, others, 0, NULL), 0);
    PQfinish(db);

    /* No operation sees a dead connection. */
    assert_int_equal(read_readers(st, "survivortokensurvivortoke"), 0);
    assert_int_equal(st->ops->ping(st), 0);
    int64_t acc2 = create_account(st, "phoenix", "phoenix@example.com");
    insert_token(st, "phoenixtokenphoenixtoken1", acc2, TOKEN_SK, false, 0);
    struct token_query q = {.account_id = acc2, .usage = -1, .is_default = -1};
    struct token_record *v;
    size_t n;
    assert_int_equal(st->ops->token_list(st, &q, &v, &n), 0);
    assert_int_equal(n, 1);
    token_records_free(v, n);
    scan.failures = 0;
    assert_int_equal(st->ops->token_each(st, read_during_scan, &scan), 0);
    assert_int_equal(scan.failures, 0);
    assert_int_equal(st->ops->token_revoke(st, "phoenixtokenphoenixtoken1", acc2), 0);
    struct refresh_record r1, r2;
    make_refresh(&r1, "p1", "pfam", acc2);
    make_refresh(&r2, "p2", "pfam", acc2);
    assert_int_equal(st->ops->refresh_insert(st, &r1), 0);
    assert_int_equal(st->ops->refresh_rotate(st, "p1", &r2), 0);
    uint8_t key[CRYPTO_KEY_LEN];
    assert_int_equal(st->ops->key_shared(st, "jwt.key", key, false), 0);
}

/* ------------------------------------------------------------------------ */
/* token_each over many rows                                                */

struct big_scan {
    struct store *st;
    uint8_t *seen;
    int count;
    int bad;
};

static int check_big(void *ctx, const struct token_record *t)
{
    struct big_scan *b = ctx;
    int n = atoi(t->id + 3);
    if (strncmp(t->id, "big", 3) != 0 || n < 1 || n > 25000 || n % 10 == 0 || b->seen[n]++ ||
        t->secret_hash[31] != 0xAB || t->usage != (n % 2 ? TOKEN_PK : TOKEN_SK) ||
        t->created != n || !strlist_contains(&t->scopes, "stac"))
        b->bad++;
    if (b->count++ % 5000 == 0) { /* reads the store while the cursor is open */
        struct token_record g;
        if (b->st->ops->token_get(b->st, t->id, &g) != 0)
            b->bad++;
        else
            token_record_free(&g);
    }
    return 0;
}

/* More rows than one cursor batch, each live one exactly once. */
static void test_token_each_batches(void **state)
{
    struct fixture *f = *state;
    int64_t acc = create_account(f->st, "many", "many@example.com");
    PGconn *db = db_open(f);
    char acc_p[24];
    snprintf(acc_p, sizeof(acc_p), "%lld", (long long)acc);
    const char *params[] = {acc_p};
    PGresult *r = PQexecParams(
        db,
        "INSERT INTO tokens (id, account_id, usage, scopes, allowed_urls, secret_hash, created,"
        " modified, revoked_at) SELECT 'big' || lpad(i::text, 22, '0'), $1::bigint,"
        " CASE WHEN i % 2 = 1 THEN 'pk' ELSE 'sk' END, 'stac', '[]',"
        " decode(repeat('ab', 32), 'hex'), i, i, CASE WHEN i % 10 = 0 THEN 7 ELSE 0 END"
        " FROM generate_series(1, 25000) i",
        1, NULL, params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(db);
    struct big_scan b = {.st = f->st, .seen = calloc(25001, 1)};
    assert_non_null(b.seen);
    assert_int_equal(f->st->ops->token_each(f->st, check_big, &b), 0);
    assert_int_equal(b.count, 22500);
    assert_int_equal(b.bad, 0);
    free(b.seen);
}

/* ------------------------------------------------------------------------ */
/* Text that is not UTF-8                                                   */

static void test_text_not_utf8(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    assert_true(store_text_valid("plain ascii"));
    assert_true(store_text_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
    assert_true(store_text_valid(NULL));
    assert_false(store_text_valid("\xff"));
    assert_false(store_text_valid("\xc3"));             /* cut short */
    assert_false(store_text_valid("\xc0\x80"));         /* overlong NUL */
    assert_false(store_text_valid("\xed\xa0\x80"));     /* surrogate */
    assert_false(store_text_valid("\xf4\x90\x80\x80")); /* beyond U+10FFFF */

    /* Lookups find nothing; writes are refused as invalid, not as -EIO. */
    struct account a;
    struct token_record t;
    struct refresh_record r;
    assert_int_equal(st->ops->account_get_by_username(st, "\xff", &a), -ENOENT);
    assert_int_equal(st->ops->account_get_by_email(st, "a\xc0\x80@x.org", &a), -ENOENT);
    assert_int_equal(st->ops->token_get(st, "\xed\xa0\x80", &t), -ENOENT);
    assert_int_equal(st->ops->refresh_check(st, "\xff", &r), -ENOENT);
    make_account(&a, "utf", "utf@example.com");
    snprintf(a.first_name, sizeof(a.first_name), "bad \xff");
    assert_int_equal(st->ops->account_create(st, &a, NULL), -EINVAL);
    snprintf(a.first_name, sizeof(a.first_name),
             "Ren\xc3\xa9"
             "e \xf0\x9f\x98\x80");
    assert_int_equal(st->ops->account_create(st, &a, NULL), 0);
    struct account b;
    assert_int_equal(st->ops->account_get_by_email(st, "UTF@example.com", &b), 0);
    assert_string_equal(b.first_name, a.first_name);
    account_free(&b);
    make_token(&t, "utftokenutftokenutftoken1", a.id, TOKEN_SK, false, 0);
    snprintf(t.note, sizeof(t.note), "\xfe");
    assert_int_equal(st->ops->token_insert(st, &t), -EINVAL);
    struct token_query q = {
        .account_id = a.id, .usage = -1, .is_default = -1, .start_after = "\xff"};
    struct token_record *v;
    size_t n;
    assert_int_equal(st->ops->token_list(st, &q, &v, &n), -ENOENT);
    token_record_free(&t);
    account_free(&a);
}

int main(void)
{
    assert_int_equal(crypto_init(), 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unmigrated_version_zero, setup_pg_bare, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_concurrently, setup_pg_bare, teardown),
        cmocka_unit_test_setup_teardown(test_schema_newer_than_binary, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_key_shared_created_once, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_key_shared_given, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_throttle_across_nodes, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_change_log, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_write_waits_for_nodes, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_rotate_race, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_revoke_during_rotation, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_survives_terminated_connections, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_token_each_batches, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_text_not_utf8, setup_pg, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
