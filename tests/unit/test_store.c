/* Unit tests of the store contract (store.h), each run against both drivers:
 * SQLite in a fresh mkdtemp directory and PostgreSQL in a fresh database of
 * the test cluster (storetest.h). Migrations, accounts, scopes, groups,
 * refresh-token rotation and re-use detection, the audit trail, shared
 * throttles, multi-threaded use and persistence across reopen. Token
 * operations are in test_store_tokens.c; what only PostgreSQL does (several
 * nodes on one database) is in test_store_pg.c. */
#include "storetest.h"

#include "util/timeutil.h"

#include <errno.h>
#include <pthread.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */

/* An account and its first token are stored together or not at all. */
static void test_account_with_first_token(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    struct account a, b;
    struct token_record t, g;
    make_account(&a, "carol", "carol@example.com");
    make_token(&t, "firsttokenfirsttokenfirst", 0, TOKEN_PK, true, 0);
    assert_int_equal(st->ops->account_create(st, &a, &t), 0);
    assert_int_equal(t.account_id, a.id);
    assert_int_equal(st->ops->token_get(st, t.id, &g), 0);
    assert_int_equal(g.account_id, a.id);
    assert_true(g.is_default);
    token_record_free(&g);
    token_record_free(&t);
    account_free(&a);

    /* A token that cannot be stored (here: a taken id) rolls the account back. */
    make_account(&a, "dave", "dave@example.com");
    make_token(&t, "firsttokenfirsttokenfirst", 0, TOKEN_PK, true, 0);
    assert_int_not_equal(st->ops->account_create(st, &a, &t), 0);
    assert_int_equal(st->ops->account_get_by_email(st, "dave@example.com", &b), -ENOENT);
    token_record_free(&t);
    account_free(&a);

    /* And a taken e-mail stores no token. */
    make_account(&a, "carol2", "carol@example.com");
    make_token(&t, "secondtokensecondtokensec", 0, TOKEN_PK, true, 0);
    assert_int_equal(st->ops->account_create(st, &a, &t), -EEXIST);
    assert_int_equal(st->ops->token_get(st, t.id, &g), -ENOENT);
    token_record_free(&t);
    account_free(&a);
}

static void test_migrate_idempotent(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    int v = st->ops->schema_version(st);
    assert_true(v >= 1);
    assert_int_equal(st->ops->migrate(st), 0);
    assert_int_equal(st->ops->migrate(st), 0);
    assert_int_equal(st->ops->schema_version(st), v);
    assert_int_equal(st->ops->ping(st), 0);
}

/* SQLite: a new file starts at version 0 (PostgreSQL: test_store_pg.c). */
static void test_unmigrated_version_zero(void **state)
{
    (void)state;
    char dir[] = "/tmp/tessera-store-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct store *st = store_open(NULL, dir);
    assert_non_null(st);
    assert_int_equal(st->ops->schema_version(st), 0);
    assert_int_equal(st->ops->migrate(st), 0);
    assert_int_equal(st->ops->schema_version(st), SQLITE_SCHEMA_VERSION);
    st->ops->close(st);
    rm_tree(dir);
}

static void test_builtin_scopes_groups(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    struct scope_def *scopes;
    size_t n;
    assert_int_equal(st->ops->scope_list(st, &scopes, &n), 0);
    const char *secret[] = {"stac",         "catalog:read", "tokens:read",
                            "tokens:write", "scopes:list",  "tokens:introspect"};
    const char *pub[] = {"styles:tiles", "styles:read", "fonts:read", "datasets:read",
                         "vision:read"};
    assert_int_equal(n, 11);
    for (size_t i = 1; i < n; i++)
        assert_true(strcmp(scopes[i - 1].id, scopes[i].id) < 0); /* sorted */
    for (size_t k = 0; k < sizeof(secret) / sizeof(*secret); k++) {
        bool found = false;
        for (size_t i = 0; i < n; i++)
            if (strcmp(scopes[i].id, secret[k]) == 0) {
                found = true;
                assert_false(scopes[i].is_public);
                assert_true(scopes[i].description[0] != '\0');
            }
        assert_true(found);
    }
    for (size_t k = 0; k < sizeof(pub) / sizeof(*pub); k++) {
        bool found = false;
        for (size_t i = 0; i < n; i++)
            if (strcmp(scopes[i].id, pub[k]) == 0) {
                found = true;
                assert_true(scopes[i].is_public);
            }
        assert_true(found);
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(scopes[i].id, "stac") == 0)
            assert_string_equal(scopes[i].description, "Search the STAC catalog");
    free(scopes);

    struct group_def *groups;
    assert_int_equal(st->ops->group_list(st, &groups, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(groups[0].name, "Partners");
    assert_string_equal(groups[0].description, "Partner organizations");
    assert_string_equal(groups[1].name, "Public");
    assert_string_equal(groups[1].description, "Everyone");
    free(groups);
}

static void test_scope_group_add(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    struct scope_def sd = {.id = "assets:write", .description = "Upload assets", .is_public = 0};
    assert_int_equal(st->ops->scope_add(st, &sd), 0);
    assert_int_equal(st->ops->scope_add(st, &sd), -EEXIST);
    struct scope_def stac = {.id = "stac", .description = "dup"};
    assert_int_equal(st->ops->scope_add(st, &stac), -EEXIST);
    struct scope_def *scopes;
    size_t n;
    assert_int_equal(st->ops->scope_list(st, &scopes, &n), 0);
    assert_int_equal(n, 12);
    assert_string_equal(scopes[0].id, "assets:write");
    assert_string_equal(scopes[0].description, "Upload assets");
    free(scopes);

    struct group_def g = {.name = "Staff", .description = "Operators"};
    assert_int_equal(st->ops->group_add(st, &g), 0);
    assert_int_equal(st->ops->group_add(st, &g), -EEXIST);
    struct group_def *groups;
    assert_int_equal(st->ops->group_list(st, &groups, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(groups[2].name, "Staff");
    free(groups);
}

static void test_account_crud(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    struct account a, b;
    make_account(&a, "alice", "Alice@Example.com");
    snprintf(a.first_name, sizeof(a.first_name), "Alice");
    snprintf(a.organization, sizeof(a.organization), "ACME");
    assert_int_equal(st->ops->account_create(st, &a, NULL), 0);
    assert_true(a.id > 0);
    assert_true(a.created > 0);
    assert_int_equal(a.created, a.updated);

    assert_int_equal(st->ops->account_get_by_id(st, a.id, &b), 0);
    assert_string_equal(b.username, "alice");
    assert_string_equal(b.email, "Alice@Example.com");
    assert_string_equal(b.first_name, "Alice");
    assert_string_equal(b.organization, "ACME");
    assert_string_equal(b.password_hash, a.password_hash);
    assert_true(b.is_active);
    assert_false(b.is_staff);
    assert_int_equal(b.groups.n, 1);
    assert_true(strlist_contains(&b.groups, "Public"));
    assert_int_equal(b.scopes.n, 2);
    assert_int_equal(b.created, a.created);
    account_free(&b);

    assert_int_equal(st->ops->account_get_by_email(st, "alice@EXAMPLE.COM", &b), 0);
    assert_int_equal(b.id, a.id);
    account_free(&b);
    assert_int_equal(st->ops->account_get_by_username(st, "alice", &b), 0);
    assert_int_equal(b.id, a.id);
    account_free(&b);
    assert_int_equal(st->ops->account_get_by_username(st, "bob", &b), -ENOENT);
    assert_int_equal(st->ops->account_get_by_email(st, "bob@example.com", &b), -ENOENT);
    assert_int_equal(st->ops->account_get_by_id(st, a.id + 100, &b), -ENOENT);

    struct account dup;
    make_account(&dup, "alice2", "ALICE@example.COM");
    assert_int_equal(st->ops->account_create(st, &dup, NULL), -EEXIST);
    account_free(&dup);
    make_account(&dup, "alice", "other@example.com");
    assert_int_equal(st->ops->account_create(st, &dup, NULL), -EADDRINUSE);
    account_free(&dup);

    /* Update round-trip. */
    snprintf(a.password_hash, sizeof(a.password_hash), "$argon2id$new");
    snprintf(a.last_name, sizeof(a.last_name), "Liddell");
    assert_int_equal(strlist_add(&a.groups, "Partners"), 0);
    assert_int_equal(strlist_add(&a.scopes, "catalog:read"), 0);
    a.is_staff = true;
    a.is_active = false;
    a.sessions_valid_after = 1234567;
    int64_t before = a.updated;
    usleep(2000);
    assert_int_equal(st->ops->account_update(st, &a), 0);
    assert_true(a.updated > before);
    assert_int_equal(st->ops->account_get_by_id(st, a.id, &b), 0);
    assert_string_equal(b.password_hash, "$argon2id$new");
    assert_string_equal(b.last_name, "Liddell");
    assert_int_equal(b.groups.n, 2);
    assert_true(strlist_contains(&b.groups, "Partners"));
    assert_int_equal(b.scopes.n, 3);
    assert_true(strlist_contains(&b.scopes, "catalog:read"));
    assert_true(b.is_staff);
    assert_false(b.is_active);
    assert_int_equal(b.sessions_valid_after, 1234567);
    assert_int_equal(b.updated, a.updated);
    account_free(&b);

    /* Names with separators cannot round-trip, so they are refused. */
    assert_int_equal(strlist_add(&a.groups, "bad name"), 0);
    assert_int_equal(st->ops->account_update(st, &a), -EINVAL);
    account_free(&a);

    struct account ghost;
    make_account(&ghost, "ghost", "ghost@example.com");
    ghost.id = 999999;
    assert_int_equal(st->ops->account_update(st, &ghost), -ENOENT);
    account_free(&ghost);

    /* And so is a new account with one: nothing is stored. */
    struct account odd;
    make_account(&odd, "odd", "odd@example.com");
    assert_int_equal(strlist_add(&odd.scopes, "tokens:read,tokens:write"), 0);
    assert_int_equal(st->ops->account_create(st, &odd, NULL), -EINVAL);
    assert_int_equal(st->ops->account_get_by_email(st, "odd@example.com", &b), -ENOENT);
    account_free(&odd);
}

static void test_account_truncation(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    struct account a;
    make_account(&a, "trunc", "trunc@example.com");
    /* Fill first_name to the brim with 2-byte characters: stored as is,
     * read back intact and NUL-terminated. */
    size_t i = 0;
    while (i + 2 <= ACCOUNT_NAME_MAX) {
        a.first_name[i++] = (char)0xC3;
        a.first_name[i++] = (char)0xA9;
    }
    a.first_name[i] = '\0';
    assert_int_equal(st->ops->account_create(st, &a, NULL), 0);
    struct account b;
    assert_int_equal(st->ops->account_get_by_id(st, a.id, &b), 0);
    assert_string_equal(b.first_name, a.first_name);
    account_free(&b);
    account_free(&a);
}

struct each_ctx {
    int count;
    int64_t last;
    int stop_at;
};

static int count_accounts(void *ctx, const struct account *a)
{
    struct each_ctx *c = ctx;
    assert_true(a->id > c->last);
    c->last = a->id;
    c->count++;
    return c->stop_at && c->count == c->stop_at ? 42 : 0;
}

static int count_tokens(void *ctx, const struct token_record *t)
{
    struct each_ctx *c = ctx;
    assert_int_equal(t->revoked_at, 0);
    c->count++;
    return 0;
}

static void test_account_each(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    char u[32], e[64];
    for (int i = 0; i < 300; i++) {
        snprintf(u, sizeof(u), "user%d", i);
        snprintf(e, sizeof(e), "user%d@example.com", i);
        create_account(st, u, e);
    }
    struct each_ctx c = {0};
    assert_int_equal(st->ops->account_each(st, count_accounts, &c), 0);
    assert_int_equal(c.count, 300);
    struct each_ctx stop = {.stop_at = 5};
    assert_int_equal(st->ops->account_each(st, count_accounts, &stop), 42);
    assert_int_equal(stop.count, 5);
}

static void test_refresh(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    int64_t acc = create_account(st, "fresh", "fresh@example.com");
    struct refresh_record r1, r2, r3, out;
    make_refresh(&r1, "jti1", "fam1", acc);
    assert_int_equal(st->ops->refresh_insert(st, &r1), 0);
    assert_int_equal(st->ops->refresh_insert(st, &r1), -EEXIST);
    assert_int_equal(st->ops->refresh_check(st, "jti1", &out), 0);
    assert_string_equal(out.family, "fam1");
    assert_int_equal(out.account_id, acc);
    assert_int_equal(out.expires_at, 1234);
    assert_int_equal(st->ops->refresh_check(st, "nope", &out), -ENOENT);

    make_refresh(&r2, "jti2", "fam1", acc);
    assert_int_equal(st->ops->refresh_rotate(st, "jti1", &r2), 0);
    assert_int_equal(st->ops->refresh_check(st, "jti1", &out), -EPERM);
    assert_int_equal(st->ops->refresh_check(st, "jti2", &out), 0);
    assert_string_equal(out.family, "fam1");
    assert_int_equal(st->ops->refresh_rotate(st, "nope", &r2), -ENOENT);

    /* Re-use of jti1 kills the family, including the live jti2. */
    make_refresh(&r3, "jti3", "fam1", acc);
    assert_int_equal(st->ops->refresh_rotate(st, "jti1", &r3), -EPERM);
    assert_int_equal(st->ops->refresh_check(st, "jti2", &out), -EPERM);
    assert_int_equal(st->ops->refresh_check(st, "jti3", &out), -ENOENT);
    assert_int_equal(st->ops->refresh_rotate(st, "jti2", &r3), -EPERM);

    /* revoke_family touches only that family. */
    struct refresh_record a, b;
    make_refresh(&a, "a1", "famA", acc);
    make_refresh(&b, "b1", "famB", acc);
    assert_int_equal(st->ops->refresh_insert(st, &a), 0);
    assert_int_equal(st->ops->refresh_insert(st, &b), 0);
    assert_int_equal(st->ops->refresh_revoke_family(st, "famA"), 0);
    assert_int_equal(st->ops->refresh_check(st, "a1", &out), -EPERM);
    assert_int_equal(st->ops->refresh_check(st, "b1", &out), 0);

    /* revoke_account touches only that account. */
    int64_t acc2 = create_account(st, "fresh2", "fresh2@example.com");
    struct refresh_record c;
    make_refresh(&c, "c1", "famC", acc2);
    assert_int_equal(st->ops->refresh_insert(st, &c), 0);
    assert_int_equal(st->ops->refresh_revoke_account(st, acc), 0);
    assert_int_equal(st->ops->refresh_check(st, "b1", &out), -EPERM);
    assert_int_equal(st->ops->refresh_check(st, "c1", &out), 0);
}

struct worker {
    struct store *st;
    int n;
    int failures;
};

static void *worker_main(void *p)
{
    struct worker *w = p;
    struct store *st = w->st;
    char u[32], e[64], id[TOKEN_ID_LEN + 1];
    for (int i = 0; i < 20; i++) {
        struct account a;
        memset(&a, 0, sizeof(a));
        snprintf(u, sizeof(u), "w%du%d", w->n, i);
        snprintf(e, sizeof(e), "w%du%d@example.com", w->n, i);
        snprintf(a.username, sizeof(a.username), "%s", u);
        snprintf(a.email, sizeof(a.email), "%s", e);
        a.is_active = true;
        if (st->ops->account_create(st, &a, NULL) != 0)
            w->failures++;
        for (int j = 0; j < 3; j++) {
            struct token_record t;
            memset(&t, 0, sizeof(t));
            snprintf(id, sizeof(id), "w%dt%dx%d", w->n, i, j);
            snprintf(t.id, sizeof(t.id), "%s", id);
            t.account_id = a.id;
            t.usage = TOKEN_SK;
            if (st->ops->token_insert(st, &t) != 0)
                w->failures++;
            struct token_record g;
            if (st->ops->token_get(st, id, &g) != 0)
                w->failures++;
            else
                token_record_free(&g);
        }
        struct token_query q = {.account_id = a.id, .usage = -1, .is_default = -1};
        struct token_record *v;
        size_t n;
        if (st->ops->token_list(st, &q, &v, &n) != 0 || n != 3)
            w->failures++;
        else
            token_records_free(v, n);
        account_free(&a);
    }
    return NULL;
}

static void test_threads(void **state)
{
    struct fixture *f = *state;
    pthread_t th[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.st = f->st, .n = i};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
    }
    struct each_ctx c = {0};
    assert_int_equal(f->st->ops->account_each(f->st, count_accounts, &c), 0);
    assert_int_equal(c.count, 80);
    struct each_ctx tc = {0};
    assert_int_equal(f->st->ops->token_each(f->st, count_tokens, &tc), 0);
    assert_int_equal(tc.count, 240);
}

/* Threads still alive at close(): close must finalize their connections and
 * their later exit must not touch the freed store. */
static pthread_barrier_t close_barrier;

static void *idle_user(void *p)
{
    struct store *st = p;
    assert_int_equal(st->ops->ping(st), 0);
    pthread_barrier_wait(&close_barrier); /* used the store */
    pthread_barrier_wait(&close_barrier); /* store closed */
    return NULL;
}

static void test_close_with_live_threads(void **state)
{
    struct fixture *f = *state;
    pthread_t th;
    assert_int_equal(pthread_barrier_init(&close_barrier, NULL, 2), 0);
    assert_int_equal(pthread_create(&th, NULL, idle_user, f->st), 0);
    pthread_barrier_wait(&close_barrier);
    f->st->ops->close(f->st);
    f->st = NULL;
    pthread_barrier_wait(&close_barrier);
    assert_int_equal(pthread_join(th, NULL), 0);
    pthread_barrier_destroy(&close_barrier);
}

/* Everything written is there after the store is closed and opened again:
 * the same SQLite file, or a new pool on the same PostgreSQL database. */
static void test_persistence(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    int64_t acc = create_account(st, "keep", "keep@example.com");
    insert_token(st, "kkkkkkkkkkkkkkkkkkkkkkkk1", acc, TOKEN_PK, true, 10);
    struct refresh_record r;
    make_refresh(&r, "kjti", "kfam", acc);
    assert_int_equal(st->ops->refresh_insert(st, &r), 0);
    struct scope_def sd = {.id = "keep:me", .description = "kept"};
    assert_int_equal(st->ops->scope_add(st, &sd), 0);
    struct group_def gd = {.name = "Keepers", .description = "kept too"};
    assert_int_equal(st->ops->group_add(st, &gd), 0);
    char data[96], path[128];
    fixture_sqlite_data(f, data, sizeof(data));
    if (f->driver == DRIVER_SQLITE) {
        /* WAL mode is on: the log file exists while the store is open. */
        snprintf(path, sizeof(path), "%s/tessera.db-wal", data);
        assert_int_equal(access(path, F_OK), 0);
    }
    st->ops->close(st);

    f->st = st = fixture_open_store(f);
    assert_non_null(st);
    assert_int_equal(st->ops->schema_version(st), fixture_schema_version(f));
    assert_int_equal(st->ops->migrate(st), 0);
    struct account a;
    assert_int_equal(st->ops->account_get_by_username(st, "keep", &a), 0);
    assert_int_equal(a.id, acc);
    account_free(&a);
    struct token_record t;
    assert_int_equal(st->ops->token_get(st, "kkkkkkkkkkkkkkkkkkkkkkkk1", &t), 0);
    assert_int_equal(t.account_id, acc);
    assert_string_equal(t.public_token, "pk.eyJ1IjoiYSJ9.secret");
    token_record_free(&t);
    struct refresh_record out;
    assert_int_equal(st->ops->refresh_check(st, "kjti", &out), 0);
    struct scope_def *scopes;
    size_t n;
    assert_int_equal(st->ops->scope_list(st, &scopes, &n), 0);
    assert_int_equal(n, 12);
    free(scopes);
    struct group_def *groups;
    assert_int_equal(st->ops->group_list(st, &groups, &n), 0);
    assert_int_equal(n, 3);
    free(groups);
    /* New ids continue after the old ones. */
    assert_true(create_account(st, "after", "after@example.com") > acc);
    if (f->driver == DRIVER_SQLITE) {
        /* The database file lives where documented. */
        snprintf(path, sizeof(path), "%s/tessera.db", data);
        assert_int_equal(access(path, F_OK), 0);
    }
}

/* store_open picks the driver from the URL; both open unmigrated at 0. */
static void test_open_by_url(void **state)
{
    struct fixture *f = *state;
    if (f->driver == DRIVER_SQLITE) {
        char path[128];
        snprintf(path, sizeof(path), "sqlite:%s/other.db", f->dir);
        struct store *st = store_open(path, "/nonexistent");
        assert_non_null(st);
        assert_int_equal(st->ops->schema_version(st), 0);
        st->ops->close(st);
        assert_int_equal(access(path + 7, F_OK), 0);
        return;
    }
    char *other = pgtest_db_create();
    assert_non_null(other);
    struct store *st = store_open(other, "/nonexistent");
    assert_non_null(st);
    assert_int_equal(st->ops->ping(st), 0);
    assert_int_equal(st->ops->schema_version(st), 0);
    assert_int_equal(st->ops->migrate(st), 0);
    assert_int_equal(st->ops->schema_version(st), PG_SCHEMA_VERSION);
    st->ops->close(st);
    pgtest_db_drop(other);
    /* Nothing listens on port 1: refused at open, not on first use. */
    assert_null(store_open("postgresql://tessera:pw@127.0.0.1:1/none", "/nonexistent"));
}

/* The audit trail: appended in batches, listed newest first per account or
 * for all, paged by id, filtered by time, pruned by age. */
static void test_audit(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    struct audit_event ev[5];
    memset(ev, 0, sizeof(ev));
    for (int i = 0; i < 5; i++) {
        ev[i].at = 1000 * (i + 1);
        snprintf(ev[i].kind, sizeof(ev[i].kind), "%s", i % 2 ? "signin" : "token.revoke");
        snprintf(ev[i].actor, sizeof(ev[i].actor), "session");
        ev[i].account_id = i < 3 ? 7 : 8;
        snprintf(ev[i].client, sizeof(ev[i].client), "10.0.0.%d", i);
        snprintf(ev[i].user_agent, sizeof(ev[i].user_agent), "agent %d", i);
        snprintf(ev[i].request_id, sizeof(ev[i].request_id), "req-%d", i);
        snprintf(ev[i].detail, sizeof(ev[i].detail), "detail %d", i);
    }
    assert_int_equal(st->ops->audit_append(st, ev, 3), 0);
    assert_int_equal(st->ops->audit_append(st, ev + 3, 2), 0);
    assert_int_equal(st->ops->audit_append(st, ev, 0), 0);
    struct audit_event *v;
    size_t n;
    struct audit_query q = {.account_id = 7, .limit = 10};
    assert_int_equal(st->ops->audit_list(st, &q, &v, &n), 0);
    assert_int_equal(n, 3);
    assert_true(v[0].at == 3000 && v[2].at == 1000); /* newest first */
    assert_true(v[0].id > v[1].id && v[1].id > v[2].id);
    assert_string_equal(v[0].kind, "token.revoke");
    assert_string_equal(v[1].user_agent, "agent 1");
    assert_string_equal(v[2].request_id, "req-0");
    int64_t second = v[1].id;
    free(v);
    /* Paging: below an id; every account; since a time. */
    q.before_id = second;
    assert_int_equal(st->ops->audit_list(st, &q, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_true(v[0].at == 1000);
    free(v);
    struct audit_query all = {.account_id = -1, .since = 2500, .limit = 2};
    assert_int_equal(st->ops->audit_list(st, &all, &v, &n), 0);
    assert_int_equal(n, 2);
    assert_true(v[0].at == 5000 && v[1].at == 4000);
    assert_true(v[0].account_id == 8);
    free(v);
    assert_int_equal(st->ops->audit_prune(st, 3500), 0);
    all.since = 0;
    all.limit = 10;
    assert_int_equal(st->ops->audit_list(st, &all, &v, &n), 0);
    assert_int_equal(n, 2);
    free(v);
}

/* Throttle counters are the store's, so every process (here: a second
 * handle on the same database) counts in the same fixed window. */
static void test_throttle_shared(void **state)
{
    struct fixture *f = *state;
    struct store *a = f->st, *b = fixture_open_store(f);
    assert_non_null(b);
    /* Start early in a 4-second window so the hits below share it. */
    for (int64_t now = time_now_ms(); now % 4000 > 1500; now = time_now_ms())
        usleep(20000);
    assert_int_equal(a->ops->throttle_hit(a, "login-pair:ann|10.0.0.1", 3, 4), 0);
    assert_int_equal(b->ops->throttle_hit(b, "login-pair:ann|10.0.0.1", 3, 4), 0);
    assert_int_equal(a->ops->throttle_hit(a, "login-pair:ann|10.0.0.1", 3, 4), 0);
    int left = b->ops->throttle_hit(b, "login-pair:ann|10.0.0.1", 3, 4);
    assert_true(left >= 1 && left <= 4);
    assert_int_equal(a->ops->throttle_hit(a, "login-pair:ann|10.0.0.2", 3, 4), 0); /* apart */
    assert_int_equal(a->ops->throttle_hit(a, "x", 0, 4), 0);                         /* unlimited */
    assert_int_equal(a->ops->throttle_hit(a, "bytes:\xff\xfe", 1, 4), 0);
    assert_true(b->ops->throttle_hit(b, "bytes:\xff\xfe", 1, 4) >= 1);
    b->ops->close(b);
}

/* A value set once per deployment: the first writer wins, and every later
 * proposal (another process, here a second handle) reads the stored one. */
static void test_meta_ensure(void **state)
{
    struct fixture *f = *state;
    struct store *a = f->st, *b = fixture_open_store(f);
    assert_non_null(b);
    char out[16];
    assert_int_equal(a->ops->meta_ensure(a, "instance", "abc123", out, sizeof(out)), 0);
    assert_string_equal(out, "abc123");
    assert_int_equal(b->ops->meta_ensure(b, "instance", "zzz999", out, sizeof(out)), 0);
    assert_string_equal(out, "abc123");
    assert_int_equal(b->ops->meta_ensure(b, "other", "zzz999", out, sizeof(out)), 0);
    assert_string_equal(out, "zzz999");
    char tiny[4];
    assert_int_equal(a->ops->meta_ensure(a, "instance", "x", tiny, sizeof(tiny)), -ENAMETOOLONG);
    b->ops->close(b);
}

int main(void)
{
    assert_int_equal(crypto_init(), 0);
    const struct CMUnitTest tests[] = {
        STORE_TEST_BOTH(test_migrate_idempotent),
        cmocka_unit_test(test_unmigrated_version_zero),
        STORE_TEST_BOTH(test_open_by_url),
        STORE_TEST_BOTH(test_builtin_scopes_groups),
        STORE_TEST_BOTH(test_scope_group_add),
        STORE_TEST_BOTH(test_account_crud),
        STORE_TEST_BOTH(test_account_with_first_token),
        STORE_TEST_BOTH(test_account_truncation),
        STORE_TEST_BOTH(test_account_each),
        STORE_TEST_BOTH(test_throttle_shared),
        STORE_TEST_BOTH(test_meta_ensure),
        STORE_TEST_BOTH(test_audit),
        STORE_TEST_BOTH(test_refresh),
        STORE_TEST_BOTH(test_threads),
        STORE_TEST_BOTH(test_close_with_live_threads),
        STORE_TEST_BOTH(test_persistence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
