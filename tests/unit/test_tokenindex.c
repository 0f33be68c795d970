/* Unit tests of the in-memory token index, its feed thread and the caching
 * store wrapper, against both drivers (SQLite in a temp directory; PostgreSQL
 * in a fresh database on the test cluster, where "another process" is a
 * second store on the same database, as another node or the CLI would be):
 * insert, update, revoke, expiry (through auth_verify), account changes,
 * writes by another process's connection (the CLI case, via the change
 * feed), interned lists, and a stress test in which reader threads check
 * tokens while writers revoke and update them: once a revoke has returned, no
 * reader may see that token alive. Each test gets a fresh data directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "auth/auth.h"
#include "auth/jwt.h"
#include "store/changefeed.h"
#include "store/store.h"
#include "util/timeutil.h"
#include "auth/token.h"
#include "auth/indexsync.h"
#include "auth/store_cached.h"
#include "auth/tokenindex.h"
#include "auth/tokens.h"
#include "pgtest.h"

struct fixture {
    char dir[64];
    char *pg_url; /* NULL: SQLite */
    struct store *st;    /* the wrapper, as the server uses it */
    struct store *other; /* a second, unwrapped connection: "the CLI" */
    struct tokenindex *tc;
    struct indexsync *sync;
    struct app app;
};

static int rm_tree(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

static int setup_with(void **state, bool pg)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(crypto_init(), 0);
    snprintf(f->dir, sizeof(f->dir), "/tmp/tessera-tc-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    if (pg)
        assert_non_null(f->pg_url = pgtest_db_create());
    struct store *backend = store_open(f->pg_url, f->dir);
    assert_non_null(backend);
    assert_int_equal(backend->ops->migrate(backend), 0);
    struct changefeed_config feed_cfg = {"unit", 1500};
    struct changefeed *cf = backend->ops->feed_open(backend, &feed_cfg);
    assert_non_null(cf);
    f->tc = tokenindex_create();
    assert_non_null(f->tc);
    f->sync = indexsync_start(f->tc, backend, cf, NULL);
    assert_non_null(f->sync);
    f->st = store_cached_wrap(backend, f->tc, f->sync);
    assert_non_null(f->st);
    f->app.index = f->tc;
    f->other = store_open(f->pg_url, f->dir);
    assert_non_null(f->other);
    f->app.store = f->st;
    crypto_random(f->app.token_key, sizeof(f->app.token_key));
    crypto_random(f->app.jwt_key, sizeof(f->app.jwt_key));
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, false);
}

static int setup_pg(void **state)
{
    return setup_with(state, true);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    f->other->ops->close(f->other);
    indexsync_stop(f->sync);
    f->st->ops->close(f->st);
    tokenindex_destroy(f->tc);
    rm_tree(f->dir);
    pgtest_db_drop(f->pg_url);
    free(f);
    return 0;
}

static int64_t add_account(struct store *st, const char *username, const char *scopes,
                           const char *groups)
{
    struct account a = {0};
    snprintf(a.username, sizeof(a.username), "%s", username);
    snprintf(a.email, sizeof(a.email), "%s@example.com", username);
    snprintf(a.password_hash, sizeof(a.password_hash), "$argon2id$dummy");
    a.is_active = true;
    assert_int_equal(strlist_split(&a.scopes, scopes), 0);
    assert_int_equal(strlist_split(&a.groups, groups), 0);
    assert_int_equal(st->ops->account_create(st, &a, NULL), 0);
    int64_t id = a.id;
    account_free(&a);
    return id;
}

/* Inserts a token through st and returns its full string (caller frees). */
static char *add_token(struct fixture *f, struct store *st, int64_t account, const char *username,
                       enum token_kind usage, const char *scopes, int64_t expires_at,
                       char id_out[TOKEN_ID_LEN + 1])
{
    struct token_record t = {0};
    char secret[TOKEN_SECRET_LEN + 1];
    token_new_id(t.id);
    token_new_secret(secret);
    t.account_id = account;
    t.usage = usage;
    t.expires_at = expires_at;
    t.created = t.modified = time_now_ms();
    assert_int_equal(strlist_split(&t.scopes, scopes), 0);
    assert_int_equal(token_hash_secret(f->app.token_key, secret, t.secret_hash), 0);
    assert_int_equal(st->ops->token_insert(st, &t), 0);
    char *s = token_format_stored(usage, username, t.id, f->app.instance, secret);
    assert_non_null(s);
    if (id_out)
        memcpy(id_out, t.id, TOKEN_ID_LEN + 1);
    token_record_free(&t);
    return s;
}

struct seen {
    bool found, revoked, active;
    int64_t expires_at;
    char scopes[256];
    char groups[256];
    char username[40];
};

static void join(char *out, size_t len, const struct strlist *l)
{
    char *s = strlist_join(l, " ");
    snprintf(out, len, "%s", s ? s : "");
    free(s);
}

static int see_token(void *ctx, const struct tokenindex_token *t,
                     const struct tokenindex_account *a)
{
    struct seen *s = ctx;
    s->found = true;
    s->revoked = t->revoked;
    s->active = a->is_active;
    s->expires_at = t->expires_at;
    join(s->scopes, sizeof(s->scopes), t->scopes);
    join(s->groups, sizeof(s->groups), a->groups);
    snprintf(s->username, sizeof(s->username), "%s", a->username);
    return 0;
}

static struct seen look(struct tokenindex *tc, const char *id)
{
    struct seen s = {0};
    tokenindex_token_view(tc, id, see_token, &s);
    return s;
}

static enum auth_result check(struct fixture *f, const char *cred)
{
    struct principal p;
    enum auth_result r = auth_verify(&f->app, cred, &p);
    principal_free(&p);
    return r;
}

static void test_insert_and_lookup(void **state)
{
    struct fixture *f = *state;
    int64_t acc = add_account(f->st, "alice", "stac tokens:read", "Public");
    char id[TOKEN_ID_LEN + 1];
    char *tok = add_token(f, f->st, acc, "alice", TOKEN_SK, "stac tokens:read", 0, id);
    struct seen s = look(f->tc, id);
    assert_true(s.found);
    assert_false(s.revoked);
    assert_true(s.active);
    assert_string_equal(s.scopes, "stac tokens:read");
    assert_string_equal(s.groups, "Public");
    assert_string_equal(s.username, "alice");
    assert_int_equal(check(f, tok), AUTH_OK);

    struct principal p;
    assert_int_equal(auth_verify(&f->app, tok, &p), AUTH_OK);
    assert_int_equal(p.kind, PRINCIPAL_SK);
    assert_int_equal(p.account_id, acc);
    assert_true(principal_has_scope(&p, "stac"));
    principal_free(&p);

    /* Unknown id, wrong secret, wrong username, wrong usage. */
    assert_false(look(f->tc, "aaaaaaaaaaaaaaaaaaaaaaaaa").found);
    assert_false(look(f->tc, "short").found);
    char *other = add_token(f, f->other, acc, "alice", TOKEN_SK, "stac", 0, NULL);
    char forged[512];
    snprintf(forged, sizeof(forged), "%s", tok);
    char secret[TOKEN_SECRET_LEN + 1];
    token_new_secret(secret);
    memcpy(strrchr(forged, '.') + 1, secret, TOKEN_SECRET_LEN);
    assert_int_equal(check(f, forged), AUTH_INVALID);
    char *wrong_user = add_token(f, f->st, acc, "bob", TOKEN_SK, "stac", 0, NULL);
    assert_int_equal(check(f, wrong_user), AUTH_INVALID);
    assert_int_equal(check(f, other), AUTH_OK); /* inserted by "the CLI" */
    /* A checksum failure never reaches the index. */
    forged[strlen(forged) - 1] ^= 1;
    assert_int_equal(check(f, forged), AUTH_MALFORMED);
    free(tok);
    free(other);
    free(wrong_user);
}

/* A tk or JWT whose MAC is right but whose claims no server would sign: a
 * tk living beyond its hour, issued in the future or wider than its parent;
 * a session JWT issued in the future. Only a leaked key makes these. */
static char *temp_token(struct fixture *f, const char *parent, int64_t iat, int64_t exp,
                        const char *scopes)
{
    struct token_temp_claims c = {.iat = iat, .exp = exp};
    snprintf(c.username, sizeof(c.username), "carol");
    snprintf(c.parent, sizeof(c.parent), "%s", parent);
    assert_int_equal(strlist_split(&c.scopes, scopes), 0);
    char *t = token_format_temp(f->app.token_key, &c);
    strlist_free(&c.scopes);
    assert_non_null(t);
    return t;
}

static void test_impossible_credentials(void **state)
{
    struct fixture *f = *state;
    int64_t acc = add_account(f->st, "carol", "stac tokens:read tokens:write", "Public");
    char id[TOKEN_ID_LEN + 1];
    free(add_token(f, f->st, acc, "carol", TOKEN_SK, "stac tokens:read", 0, id));
    int64_t now = time_now_ms() / 1000;
    char *t;
    t = temp_token(f, id, now, now + 3000, "stac");
    assert_int_equal(check(f, t), AUTH_OK);
    free(t);
    t = temp_token(f, id, now, now + 2 * 3600, "stac"); /* beyond the hour */
    assert_int_equal(check(f, t), AUTH_INVALID);
    free(t);
    t = temp_token(f, id, now + 600, now + 1200, "stac"); /* issued in the future */
    assert_int_equal(check(f, t), AUTH_INVALID);
    free(t);
    t = temp_token(f, id, now, now + 600, "stac tokens:write"); /* wider than the parent */
    assert_int_equal(check(f, t), AUTH_INVALID);
    free(t);

    struct jwt_claims c = {.type = JWT_ACCESS, .iat = now, .exp = now + 600, .user_id = acc};
    jwt_new_jti(c.jti);
    snprintf(c.username, sizeof(c.username), "carol");
    t = jwt_sign(f->app.jwt_key, &c);
    assert_int_equal(check(f, t), AUTH_OK);
    free(t);
    c.iat = now + 3600; /* from the future */
    c.exp = now + 7200;
    t = jwt_sign(f->app.jwt_key, &c);
    assert_int_equal(check(f, t), AUTH_INVALID);
    free(t);
}

static void test_update_and_revoke(void **state)
{
    struct fixture *f = *state;
    int64_t acc = add_account(f->st, "carol", "stac catalog:read tokens:read", "Public");
    char id[TOKEN_ID_LEN + 1];
    char *tok = add_token(f, f->st, acc, "carol", TOKEN_SK, "stac catalog:read", 0, id);

    struct token_record t = {0};
    assert_int_equal(f->st->ops->token_get(f->st, id, &t), 0);
    strlist_free(&t.scopes);
    assert_int_equal(strlist_split(&t.scopes, "catalog:read"), 0);
    assert_int_equal(strlist_push(&t.allowed_urls, "https://a.example"), 0);
    assert_int_equal(f->st->ops->token_update(f->st, &t), 0);
    token_record_free(&t);
    assert_string_equal(look(f->tc, id).scopes, "catalog:read");

    struct principal p;
    assert_int_equal(auth_verify(&f->app, tok, &p), AUTH_OK);
    assert_false(principal_has_scope(&p, "stac"));
    assert_int_equal(p.allowed_urls.n, 1);
    principal_free(&p);

    assert_int_equal(f->st->ops->token_revoke(f->st, id, acc), 0);
    assert_true(look(f->tc, id).revoked);
    assert_int_equal(check(f, tok), AUTH_REVOKED);
    free(tok);
}

static void test_expiry(void **state)
{
    struct fixture *f = *state;
    int64_t acc = add_account(f->st, "dave", "stac", "Public");
    char *past = add_token(f, f->st, acc, "dave", TOKEN_SK, "stac", time_now_ms() - 1000, NULL);
    char *future = add_token(f, f->st, acc, "dave", TOKEN_SK, "stac", time_now_ms() + 60000, NULL);
    assert_int_equal(check(f, past), AUTH_EXPIRED);
    assert_int_equal(check(f, future), AUTH_OK);
    free(past);
    free(future);
}

static void test_account_changes(void **state)
{
    struct fixture *f = *state;
    int64_t acc = add_account(f->st, "erin", "stac catalog:read", "Public Partners");
    char id[TOKEN_ID_LEN + 1];
    char *tok = add_token(f, f->st, acc, "erin", TOKEN_SK, "stac catalog:read", 0, id);
    struct account a = {0};
    assert_int_equal(f->st->ops->account_get_by_id(f->st, acc, &a), 0);
    assert_string_equal(a.email, "erin@example.com");
    assert_string_equal(a.password_hash, "$argon2id$dummy");

    /* Scope removal through the wrapper: effective scopes shrink at once,
     * although the lists of the check before are kept (auth/listcache.c). */
    struct principal p;
    assert_int_equal(auth_verify(&f->app, tok, &p), AUTH_OK);
    assert_true(principal_has_scope(&p, "catalog:read"));
    principal_free(&p);
    strlist_free(&a.scopes);
    assert_int_equal(strlist_split(&a.scopes, "stac"), 0);
    assert_int_equal(f->st->ops->account_update(f->st, &a), 0);
    assert_int_equal(auth_verify(&f->app, tok, &p), AUTH_OK);
    assert_true(principal_has_scope(&p, "stac"));
    assert_false(principal_has_scope(&p, "catalog:read"));
    principal_free(&p);

    /* Group change and deactivation by another connection (the CLI case). */
    strlist_free(&a.groups);
    assert_int_equal(strlist_split(&a.groups, "Public"), 0);
    assert_int_equal(f->other->ops->account_update(f->other, &a), 0);
    assert_string_equal(look(f->tc, id).groups, "Public");
    assert_int_equal(auth_verify(&f->app, tok, &p), AUTH_OK);
    assert_int_equal(p.groups.n, 1);
    assert_string_equal(p.groups.v[0], "Public");
    principal_free(&p);
    a.is_active = false;
    assert_int_equal(f->other->ops->account_update(f->other, &a), 0);
    assert_false(look(f->tc, id).active);
    assert_int_equal(check(f, tok), AUTH_REVOKED);

    struct account b = {0};
    assert_int_equal(f->st->ops->account_get_by_username(f->st, "erin", &b), 0);
    assert_false(b.is_active);
    assert_string_equal(b.groups.v[0], "Public");
    account_free(&b);
    account_free(&a);
    free(tok);
}

static void test_revoke_by_other_process(void **state)
{
    struct fixture *f = *state;
    int64_t acc = add_account(f->st, "frank", "stac", "Public");
    char id[TOKEN_ID_LEN + 1];
    char *tok = add_token(f, f->st, acc, "frank", TOKEN_PK, "stac", 0, id);
    assert_int_equal(check(f, tok), AUTH_OK);
    assert_int_equal(f->other->ops->token_revoke(f->other, id, acc), 0);
    assert_int_equal(check(f, tok), AUTH_REVOKED);
    free(tok);
}

static void test_bare_index_interning(void **state)
{
    (void)state;
    struct tokenindex *tc = tokenindex_create();
    assert_non_null(tc);
    struct account a = {0};
    a.id = 7;
    snprintf(a.username, sizeof(a.username), "gina");
    a.is_active = true;
    assert_int_equal(strlist_split(&a.scopes, "stac"), 0);
    assert_int_equal(tokenindex_put_account(tc, &a), 0);
    struct token_record t = {0};
    t.account_id = 99; /* unknown account */
    token_new_id(t.id);
    assert_int_equal(tokenindex_put_token(tc, &t), -ENOENT);
    t.account_id = 7;
    /* Many distinct URL lists replaced over and over: released lists are
     * reused, so the index does not grow with churn. */
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 20; i++) {
            snprintf(t.id, sizeof(t.id), "tok%022d", i);
            strlist_free(&t.allowed_urls);
            char url[64];
            snprintf(url, sizeof(url), "https://h%d-%d.example", i, round);
            assert_int_equal(strlist_push(&t.allowed_urls, url), 0);
            t.revoked_at = round == 49 && i % 2 ? 1 : 0;
            assert_int_equal(tokenindex_put_token(tc, &t), 0);
        }
    }
    struct tokenindex_counts counts;
    tokenindex_stats(tc, &counts);
    assert_int_equal(counts.tokens, 20);
    assert_int_equal(counts.accounts, 1);
    assert_int_equal(counts.live_pk + counts.live_sk, 10); /* odd ones revoked */
    struct seen s = look(tc, "tok0000000000000000000001");
    assert_true(s.found);
    assert_true(s.revoked);
    assert_false(look(tc, "tok0000000000000000000002").revoked);
    token_record_free(&t);
    account_free(&a);
    tokenindex_destroy(tc);
}

/* Several lookups in one read: a token with its account, accounts by id and
 * by username, unknown and over-long keys; a failing gate stops the read
 * before its callback. */
struct reads {
    const char *token, *username;
    int64_t account_id;
    int calls;
    bool token_found, by_id_found, by_name_found;
    char token_owner[40], by_id_name[40];
    int64_t by_name_id;
    uint64_t generations[3];
};

static int read_three(void *ctx, const struct tokenindex_reader *rd)
{
    struct reads *r = ctx;
    struct tokenindex_token t;
    struct tokenindex_account a;
    r->calls++;
    if ((r->token_found = tokenindex_reader_token(rd, r->token, &t, &a))) {
        snprintf(r->token_owner, sizeof(r->token_owner), "%s", a.username);
        r->generations[0] = a.generation;
    }
    if ((r->by_id_found = tokenindex_reader_account(rd, r->account_id, NULL, &a))) {
        snprintf(r->by_id_name, sizeof(r->by_id_name), "%s", a.username);
        r->generations[1] = a.generation;
    }
    if ((r->by_name_found = tokenindex_reader_account(rd, 0, r->username, &a))) {
        r->by_name_id = a.id;
        r->generations[2] = a.generation;
    }
    return 42;
}

static int closed_gate(void *ctx)
{
    (void)ctx;
    return -EAGAIN;
}

static void test_one_read_many_lookups(void **state)
{
    (void)state;
    struct tokenindex *tc = tokenindex_create();
    assert_non_null(tc);
    struct account a = {0};
    for (int64_t id = 7; id <= 8; id++) {
        a.id = id;
        snprintf(a.username, sizeof(a.username), id == 7 ? "gina" : "hal");
        a.is_active = true;
        assert_int_equal(tokenindex_put_account(tc, &a), 0);
    }
    struct token_record t = {0};
    t.account_id = 8;
    token_new_id(t.id);
    assert_int_equal(tokenindex_put_token(tc, &t), 0);

    struct reads r = {.token = t.id, .username = "gina", .account_id = 8};
    assert_int_equal(tokenindex_read(tc, read_three, &r), 42);
    assert_int_equal(r.calls, 1);
    assert_true(r.token_found && r.by_id_found && r.by_name_found);
    assert_string_equal(r.token_owner, "hal");
    assert_string_equal(r.by_id_name, "hal");
    assert_int_equal(r.by_name_id, 7);
    /* one state of the index for all three */
    assert_true(r.generations[0] == r.generations[1] && r.generations[1] == r.generations[2]);

    char long_name[ACCOUNT_USERNAME_MAX + 8];
    memset(long_name, 'g', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    struct reads none = {.token = "tok0000000000000000000099", .username = long_name,
                         .account_id = 99};
    assert_int_equal(tokenindex_read(tc, read_three, &none), 42);
    assert_false(none.token_found || none.by_id_found || none.by_name_found);
    none.username = "nobody";
    assert_int_equal(tokenindex_read(tc, read_three, &none), 42);
    assert_false(none.by_name_found);

    tokenindex_set_gate(tc, closed_gate, NULL);
    struct reads gated = {.token = t.id, .username = "gina", .account_id = 8};
    assert_int_equal(tokenindex_read(tc, read_three, &gated), -EAGAIN);
    assert_int_equal(gated.calls, 0);
    token_record_free(&t);
    account_free(&a);
    tokenindex_destroy(tc);
}

/* A check notes the token's last use in memory; the feed thread writes it to
 * storage in batches; listings merge what this node knows. */
static void test_last_used(void **state)
{
    struct fixture *f = *state;
    int64_t acc = add_account(f->st, "ulla", "stac", "Public");
    char id[TOKEN_ID_LEN + 1], other[TOKEN_ID_LEN + 1];
    char *tok = add_token(f, f->st, acc, "ulla", TOKEN_SK, "stac", 0, id);
    char *unused = add_token(f, f->st, acc, "ulla", TOKEN_SK, "stac", 0, other);
    assert_true(tokenindex_last_used(f->tc, id) == 0);
    int64_t before = time_now_ms() / 1000 * 1000;
    assert_int_equal(check(f, tok), AUTH_OK);
    int64_t noted = tokenindex_last_used(f->tc, id);
    assert_true(noted >= before && noted <= time_now_ms());
    assert_true(tokenindex_last_used(f->tc, other) == 0);
    /* A failed check notes nothing. */
    char forged[512];
    snprintf(forged, sizeof(forged), "%s", tok);
    char secret[TOKEN_SECRET_LEN + 1];
    token_new_secret(secret);
    memcpy(strrchr(forged, '.') + 1, secret, TOKEN_SECRET_LEN);
    assert_int_equal(check(f, forged), AUTH_INVALID);
    /* Taken once: a second take finds nothing new. */
    struct token_use uses[8];
    size_t n = tokenindex_take_uses(f->tc, uses, 8);
    assert_int_equal(n, 1);
    assert_string_equal(uses[0].id, id);
    assert_true(uses[0].at == noted);
    assert_int_equal(tokenindex_take_uses(f->tc, uses, 8), 0);
    /* Storage gets it (as the feed thread would write it) and a listing
     * merges this node's newer knowledge over an older stored value. */
    assert_int_equal(f->st->ops->token_touch(f->st, uses, 1), 0);
    struct token_record t;
    assert_int_equal(f->other->ops->token_get(f->other, id, &t), 0);
    assert_true(t.last_used_at == noted);
    t.last_used_at = 1000;
    tokens_merge_last_used(&f->app, &t, 1);
    assert_true(t.last_used_at == noted);
    token_record_free(&t);
    free(tok);
    free(unused);
}

/* ---- concurrency -------------------------------------------------------- */

#define STRESS_TOKENS 200
#define STRESS_READERS 4

struct stress {
    struct fixture *f;
    char ids[STRESS_TOKENS][TOKEN_ID_LEN + 1];
    char *creds[STRESS_TOKENS];
    int64_t account;
    atomic_int revoked_upto; /* tokens [0, revoked_upto) are revoked */
    atomic_bool stop;
    atomic_long stale;
    atomic_long checks;
};

static void *reader(void *arg)
{
    struct stress *s = arg;
    unsigned seed = (unsigned)(uintptr_t)pthread_self();
    while (!atomic_load(&s->stop)) {
        int upto = atomic_load(&s->revoked_upto);
        int i = (int)(rand_r(&seed) % STRESS_TOKENS);
        enum auth_result r = check(s->f, s->creds[i]);
        if (i < upto && r == AUTH_OK)
            atomic_fetch_add(&s->stale, 1);
        if (i >= upto && r != AUTH_OK && r != AUTH_REVOKED)
            atomic_fetch_add(&s->stale, 1000000); /* never "invalid" mid-update */
        atomic_fetch_add(&s->checks, 1);
    }
    return NULL;
}

static void test_concurrent_readers_and_writer(void **state)
{
    struct fixture *f = *state;
    struct stress *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->f = f;
    s->account = add_account(f->st, "henry", "stac catalog:read", "Public");
    for (int i = 0; i < STRESS_TOKENS; i++)
        s->creds[i] = add_token(f, f->st, s->account, "henry", TOKEN_SK, "stac catalog:read", 0,
                                s->ids[i]);
    pthread_t th[STRESS_READERS];
    for (int i = 0; i < STRESS_READERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader, s), 0);
    for (int i = 0; i < STRESS_TOKENS; i++) {
        /* Alternate the server's own write path and an external writer. */
        struct store *w = i % 2 ? f->other : f->st;
        assert_int_equal(w->ops->token_revoke(w, s->ids[i], s->account), 0);
        atomic_store(&s->revoked_upto, i + 1);
        /* Meanwhile rewrite a live token's scopes (interning churn). */
        if (i + 1 < STRESS_TOKENS) {
            struct token_record t = {0};
            assert_int_equal(f->st->ops->token_get(f->st, s->ids[STRESS_TOKENS - 1], &t), 0);
            strlist_free(&t.scopes);
            assert_int_equal(strlist_split(&t.scopes, i % 2 ? "stac" : "stac catalog:read"), 0);
            assert_int_equal(f->st->ops->token_update(f->st, &t), 0);
            token_record_free(&t);
        }
    }
    usleep(20000);
    atomic_store(&s->stop, true);
    for (int i = 0; i < STRESS_READERS; i++)
        pthread_join(th[i], NULL);
    print_message("%ld checks during %d revocations\n", atomic_load(&s->checks), STRESS_TOKENS);
    assert_int_equal(atomic_load(&s->stale), 0);
    assert_true(atomic_load(&s->checks) > STRESS_TOKENS);
    for (int i = 0; i < STRESS_TOKENS; i++)
        free(s->creds[i]);
    free(s);
}

/* The same test on PostgreSQL, named so the two runs are told apart. */
#define PG_TEST(fn) {"pg/" #fn, fn, setup_pg, teardown, NULL}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_insert_and_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_and_revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_impossible_credentials, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_by_other_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_used, setup, teardown),
        cmocka_unit_test(test_bare_index_interning),
        cmocka_unit_test(test_one_read_many_lookups),
        cmocka_unit_test_setup_teardown(test_concurrent_readers_and_writer, setup, teardown),
        PG_TEST(test_insert_and_lookup),
        PG_TEST(test_update_and_revoke),
        PG_TEST(test_expiry),
        PG_TEST(test_account_changes),
        PG_TEST(test_revoke_by_other_process),
        PG_TEST(test_last_used),
        PG_TEST(test_concurrent_readers_and_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
