/* Unit tests of the store contract (store.h), each run against both drivers:
 * SQLite in a fresh mkdtemp directory and PostgreSQL in a fresh database of
 * the test cluster (storetest.h). Migrations, accounts, scopes, groups,
 * tokens (filters, keyset pagination under concurrent changes, revocation,
 * the one-scan token_each), refresh-token rotation and re-use detection,
 * multi-threaded use and persistence across reopen. What only PostgreSQL
 * does (several nodes on one database) is in test_store_pg.c. */
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

static void test_token_insert_get(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    int64_t acc = create_account(st, "tok", "tok@example.com");
    struct token_record t, g;
    make_token(&t, "aaaaaaaaaaaaaaaaaaaaaaaa1", acc, TOKEN_PK, true, 1000);
    t.expires_at = 99999;
    assert_int_equal(strlist_add(&t.scopes, "styles:read"), 0);
    assert_int_equal(strlist_push(&t.allowed_urls, "https://x.org/?q=1"), 0);
    assert_int_equal(strlist_push(&t.resources, "asset:l2b/2023/"), 0);
    assert_int_equal(st->ops->token_insert(st, &t), 0);
    assert_int_equal(st->ops->token_insert(st, &t), -EEXIST);

    assert_int_equal(st->ops->token_get(st, t.id, &g), 0);
    assert_string_equal(g.id, t.id);
    assert_int_equal(g.account_id, acc);
    assert_int_equal(g.usage, TOKEN_PK);
    assert_string_equal(g.note, t.note);
    assert_int_equal(g.scopes.n, 2);
    assert_true(strlist_contains(&g.scopes, "styles:read"));
    assert_int_equal(g.allowed_urls.n, 2);
    assert_string_equal(g.allowed_urls.v[0], "https://example.com/a b,c");
    assert_string_equal(g.allowed_urls.v[1], "https://x.org/?q=1");
    assert_int_equal(g.resources.n, 2);
    assert_string_equal(g.resources.v[0], "collection:l4a");
    assert_string_equal(g.resources.v[1], "asset:l2b/2023/");
    assert_memory_equal(g.secret_hash, t.secret_hash, CRYPTO_MAC_LEN);
    assert_non_null(g.public_token);
    assert_string_equal(g.public_token, t.public_token);
    assert_true(g.is_default);
    assert_int_equal(g.expires_at, 99999);
    assert_int_equal(g.created, 1000);
    assert_int_equal(g.modified, 1000);
    assert_int_equal(g.last_used_at, 0);
    assert_int_equal(g.revoked_at, 0);
    token_record_free(&g);
    token_record_free(&t);

    make_token(&t, "aaaaaaaaaaaaaaaaaaaaaaaa2", acc, TOKEN_SK, false, 0);
    assert_int_equal(st->ops->token_insert(st, &t), 0);
    assert_int_equal(st->ops->token_get(st, t.id, &g), 0);
    assert_int_equal(g.usage, TOKEN_SK);
    assert_null(g.public_token);
    assert_true(g.created > 0); /* 0 means "now" */
    token_record_free(&g);
    token_record_free(&t);

    assert_int_equal(st->ops->token_get(st, "zzzzzzzzzzzzzzzzzzzzzzzzz", &g), -ENOENT);

    /* Unknown account: the foreign key refuses it. */
    make_token(&t, "aaaaaaaaaaaaaaaaaaaaaaaa3", acc + 1000, TOKEN_SK, false, 0);
    assert_int_equal(st->ops->token_insert(st, &t), -ENOENT);
    token_record_free(&t);
}

static size_t list_count(struct store *st, const struct token_query *q)
{
    struct token_record *v;
    size_t n;
    assert_int_equal(st->ops->token_list(st, q, &v, &n), 0);
    token_records_free(v, n);
    return n;
}

static void test_token_list_filters(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    int64_t acc = create_account(st, "lister", "lister@example.com");
    int64_t other = create_account(st, "other", "other@example.com");
    char id[TOKEN_ID_LEN + 1];
    /* 3 default pk, 4 non-default pk, 5 sk (of which 1 default) */
    int k = 0;
    for (int i = 0; i < 3; i++, k++) {
        token_id(id, "f", k);
        insert_token(st, id, acc, TOKEN_PK, true, 100 + k);
    }
    for (int i = 0; i < 4; i++, k++) {
        token_id(id, "f", k);
        insert_token(st, id, acc, TOKEN_PK, false, 100 + k);
    }
    for (int i = 0; i < 5; i++, k++) {
        token_id(id, "f", k);
        insert_token(st, id, acc, TOKEN_SK, i == 0, 100 + k);
    }
    token_id(id, "o", 0);
    insert_token(st, id, other, TOKEN_SK, false, 50);

    struct token_query q = {.account_id = acc, .usage = -1, .is_default = -1};
    assert_int_equal(list_count(st, &q), 12);
    q.usage = TOKEN_PK;
    assert_int_equal(list_count(st, &q), 7);
    q.usage = TOKEN_SK;
    assert_int_equal(list_count(st, &q), 5);
    q.usage = -1;
    q.is_default = 1;
    assert_int_equal(list_count(st, &q), 4);
    q.is_default = 0;
    assert_int_equal(list_count(st, &q), 8);
    q.usage = TOKEN_PK;
    q.is_default = 1;
    assert_int_equal(list_count(st, &q), 3);
    q.usage = TOKEN_SK;
    assert_int_equal(list_count(st, &q), 1);
    q.usage = -1;
    q.is_default = -1;
    q.limit = 5;
    assert_int_equal(list_count(st, &q), 5);

    /* Order: created ascending; sorted by modified after an update flips it. */
    q.limit = 0;
    struct token_record *v;
    size_t n;
    assert_int_equal(st->ops->token_list(st, &q, &v, &n), 0);
    assert_int_equal(n, 12);
    for (size_t i = 1; i < n; i++)
        assert_true(v[i - 1].created < v[i].created);
    struct token_record upd = v[0];
    upd.modified = 100000;
    assert_int_equal(st->ops->token_update(st, &upd), 0);
    char first[TOKEN_ID_LEN + 1];
    memcpy(first, v[0].id, sizeof(first));
    token_records_free(v, n);
    q.sortby = TOKEN_SORT_MODIFIED;
    assert_int_equal(st->ops->token_list(st, &q, &v, &n), 0);
    assert_int_equal(n, 12);
    assert_string_equal(v[n - 1].id, first);
    token_records_free(v, n);

    /* start_after must be a token of the account; a revoked one keeps its
     * place so that paging survives deletions. */
    q.sortby = TOKEN_SORT_CREATED;
    q.start_after = "nosuchtokennosuchtokennos";
    assert_int_equal(st->ops->token_list(st, &q, &v, &n), -ENOENT);
    token_id(id, "o", 0);
    q.start_after = id; /* another account's token */
    assert_int_equal(st->ops->token_list(st, &q, &v, &n), -ENOENT);
    token_id(id, "f", 3);
    q.start_after = id;
    assert_int_equal(st->ops->token_list(st, &q, &v, &n), 0);
    size_t before_revoke = n;
    char next_id[TOKEN_ID_LEN + 1] = "";
    if (n)
        memcpy(next_id, v[0].id, sizeof(next_id));
    token_records_free(v, n);
    assert_int_equal(st->ops->token_revoke(st, id, acc), 0);
    assert_int_equal(st->ops->token_list(st, &q, &v, &n), 0);
    assert_int_equal(n, before_revoke);
    if (n)
        assert_string_equal(v[0].id, next_id);
    token_records_free(v, n);

    /* Empty account. */
    int64_t empty = create_account(st, "empty", "empty@example.com");
    struct token_query qe = {.account_id = empty, .usage = -1, .is_default = -1};
    assert_int_equal(list_count(st, &qe), 0);
}

static void test_token_pagination(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    int64_t acc = create_account(st, "pager", "pager@example.com");
    char id[TOKEN_ID_LEN + 1];
    /* Several tokens share a created time so ties are broken by id. */
    for (int i = 0; i < 25; i++) {
        token_id(id, "p", i);
        insert_token(st, id, acc, i % 2 ? TOKEN_SK : TOKEN_PK, false, 1000 + i / 3);
    }
    int seen[26] = {0};
    char cursor[TOKEN_ID_LEN + 1] = "";
    int pages = 0;
    for (;;) {
        struct token_query q = {.account_id = acc,
                                .usage = -1,
                                .is_default = -1,
                                .sortby = TOKEN_SORT_CREATED,
                                .start_after = cursor[0] ? cursor : NULL,
                                .limit = 10};
        struct token_record *v;
        size_t n;
        assert_int_equal(st->ops->token_list(st, &q, &v, &n), 0);
        for (size_t i = 0; i < n; i++) {
            int idx = atoi(v[i].id + 1);
            if (v[i].id[0] == 'p') {
                assert_true(idx >= 0 && idx < 25);
                seen[idx]++;
            } else {
                seen[25]++;
            }
        }
        if (n)
            memcpy(cursor, v[n - 1].id, sizeof(cursor));
        token_records_free(v, n);
        pages++;
        if (pages == 1) {
            /* Between pages: a new token appears (sorting last) and one not
             * yet visited is revoked. */
            token_id(id, "q", 0);
            insert_token(st, id, acc, TOKEN_PK, false, 5000);
            token_id(id, "p", 20);
            assert_int_equal(st->ops->token_revoke(st, id, acc), 0);
        }
        if (n < 10)
            break;
    }
    for (int i = 0; i < 25; i++)
        assert_int_equal(seen[i], i == 20 ? 0 : 1);
    assert_int_equal(seen[25], 1);
    assert_int_equal(pages, 3);
}

static void test_token_update_revoke(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    int64_t acc = create_account(st, "rev", "rev@example.com");
    int64_t other = create_account(st, "rev2", "rev2@example.com");
    struct token_record t, g;
    make_token(&t, "rrrrrrrrrrrrrrrrrrrrrrrr1", acc, TOKEN_SK, false, 500);
    assert_int_equal(st->ops->token_insert(st, &t), 0);

    snprintf(t.note, sizeof(t.note), "renamed");
    strlist_free(&t.scopes);
    assert_int_equal(strlist_add(&t.scopes, "catalog:read"), 0);
    assert_int_equal(strlist_add(&t.scopes, "tokens:write"), 0);
    strlist_free(&t.allowed_urls);
    strlist_free(&t.resources);
    assert_int_equal(strlist_push(&t.resources, "collection:l2b"), 0);
    t.modified = 0; /* now */
    assert_int_equal(st->ops->token_update(st, &t), 0);
    assert_int_equal(st->ops->token_get(st, t.id, &g), 0);
    assert_string_equal(g.note, "renamed");
    assert_int_equal(g.scopes.n, 2);
    assert_true(strlist_contains(&g.scopes, "tokens:write"));
    assert_int_equal(g.allowed_urls.n, 0);
    assert_int_equal(g.resources.n, 1);
    assert_string_equal(g.resources.v[0], "collection:l2b");
    assert_true(g.modified > 500);
    assert_int_equal(g.created, 500);
    token_record_free(&g);

    /* Only the owner can revoke. */
    assert_int_equal(st->ops->token_revoke(st, t.id, other), -ENOENT);
    assert_int_equal(st->ops->token_revoke(st, t.id, acc), 0);
    assert_int_equal(st->ops->token_revoke(st, t.id, acc), -ENOENT);
    assert_int_equal(st->ops->token_revoke(st, "unknownunknownunknownunkn", acc), -ENOENT);
    assert_int_equal(st->ops->token_get(st, t.id, &g), 0);
    assert_true(g.revoked_at > 0);
    token_record_free(&g);
    struct token_query q = {.account_id = acc, .usage = -1, .is_default = -1};
    assert_int_equal(list_count(st, &q), 0);
    assert_int_equal(st->ops->token_update(st, &t), -ENOENT);
    token_record_free(&t);
}

/* The scan's revoked temporary tokens, by id. */
struct temp_scan {
    int temps, expired_seen;
};

static int find_temps(void *ctx, const struct token_record *t)
{
    struct temp_scan *c = ctx;
    if (t->usage == TOKEN_TK) {
        c->temps++;
        c->expired_seen += strcmp(t->id, "0000000000000000000000000") == 0;
        assert_true(t->revoked_at > 0);
    }
    return 0;
}

/* A revoked tk is kept by its MAC's id until it would have expired: read
 * back as a revoked token of usage TOKEN_TK, scanned while unexpired, and
 * never listed. */
static void test_token_revoke_temp(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    int64_t acc = create_account(st, "tkrev", "tkrev@example.com");
    const char *id = "0123456789abcdef012345678";
    int64_t later = time_now_ms() + 3600 * 1000;
    assert_int_equal(st->ops->token_revoke_temp(st, id, acc, later), 0);
    assert_int_equal(st->ops->token_revoke_temp(st, id, acc, later), -EEXIST);
    assert_int_equal(st->ops->token_revoke_temp(st, "not an id", acc, later), -EINVAL);
    assert_int_equal(st->ops->token_revoke_temp(st, "0000000000000000000000000", acc, 1000), 0);
    struct token_record g;
    assert_int_equal(st->ops->token_get(st, id, &g), 0);
    assert_int_equal(g.usage, TOKEN_TK);
    assert_int_equal(g.account_id, acc);
    assert_int_equal(g.expires_at, later);
    assert_true(g.revoked_at > 0);
    assert_int_equal(g.scopes.n, 0);
    token_record_free(&g);
    struct temp_scan scan = {0};
    assert_int_equal(st->ops->token_each(st, find_temps, &scan), 0);
    assert_int_equal(scan.temps, 1); /* the expired one is no longer needed */
    assert_int_equal(scan.expired_seen, 0);
    struct token_query q = {.account_id = acc, .usage = -1, .is_default = -1};
    assert_int_equal(list_count(st, &q), 0);
    /* Not a stored token: nothing to revoke or update under that id. */
    assert_int_equal(st->ops->token_revoke(st, id, acc), -ENOENT);
}

static int count_tokens(void *ctx, const struct token_record *t)
{
    struct each_ctx *c = ctx;
    assert_int_equal(t->revoked_at, 0);
    c->count++;
    return 0;
}

struct scan_ctx {
    struct store *st;
    int count;
    int reads;
    int bad;
};

/* The index load reads the store from its callback now and then (the scan
 * is still open): that must work, and the record must be complete but for
 * the note and the public token string. */
static int scan_token(void *ctx, const struct token_record *t)
{
    struct scan_ctx *c = ctx;
    if (t->revoked_at != 0 || t->note[0] || t->public_token || t->scopes.n != 1 ||
        t->allowed_urls.n != 1 || t->resources.n != 1 || t->secret_hash[0] != 0xAB)
        c->bad++;
    if (c->count++ % 100 == 0) {
        struct token_record g;
        if (c->st->ops->token_get(c->st, t->id, &g) == 0 && g.account_id == t->account_id)
            c->reads++;
        else
            c->bad++;
        token_record_free(&g);
    }
    return 0;
}

static int stop_after_ten(void *ctx, const struct token_record *t)
{
    (void)t;
    return ++*(int *)ctx == 10 ? 7 : 0;
}

static void test_token_each(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    int64_t a1 = create_account(st, "each1", "each1@example.com");
    int64_t a2 = create_account(st, "each2", "each2@example.com");
    char id[TOKEN_ID_LEN + 1];
    for (int i = 0; i < 600; i++) {
        token_id(id, "e", i);
        insert_token(st, id, i % 2 ? a1 : a2, i % 3 ? TOKEN_SK : TOKEN_PK, false, i);
    }
    token_id(id, "e", 7);
    assert_int_equal(st->ops->token_revoke(st, id, a1), 0);
    struct scan_ctx c = {.st = st};
    assert_int_equal(st->ops->token_each(st, scan_token, &c), 0);
    assert_int_equal(c.count, 599);
    assert_int_equal(c.reads, 6);
    assert_int_equal(c.bad, 0);
    /* Stops when fn says so and passes its value on; the store still works. */
    int seen = 0;
    assert_int_equal(st->ops->token_each(st, stop_after_ten, &seen), 7);
    assert_int_equal(seen, 10);
    struct token_record g;
    assert_int_equal(st->ops->token_get(st, id, &g), 0);
    token_record_free(&g);
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

/* Last uses: the later time wins, unknown ids are skipped, and recording
 * them is not a change the other nodes or processes are told about. */
static void test_token_touch(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    int64_t a = create_account(st, "touch", "touch@example.com");
    char id1[TOKEN_ID_LEN + 1], id2[TOKEN_ID_LEN + 1];
    token_id(id1, "t", 1);
    token_id(id2, "t", 2);
    insert_token(st, id1, a, TOKEN_SK, false, 1);
    insert_token(st, id2, a, TOKEN_PK, false, 2);
    struct changefeed_config cfg = {"touch-test", 1500};
    struct changefeed *cf = st->ops->feed_open(st, &cfg);
    assert_non_null(cf);
    int64_t head = cf->ops->head(cf);
    assert_true(head >= 0);
    struct token_use uses[3] = {{.at = 5000000}, {.at = 7000000}, {.at = 1}};
    memcpy(uses[0].id, id1, sizeof(uses[0].id));
    memcpy(uses[1].id, id2, sizeof(uses[1].id));
    token_id(uses[2].id, "nosuch", 3);
    assert_int_equal(st->ops->token_touch(st, uses, 3), 0);
    /* An older time for id1 and a newer one for id2 (another node's). */
    uses[0].at = 4000000;
    uses[1].at = 9000000;
    assert_int_equal(st->ops->token_touch(st, uses, 2), 0);
    assert_int_equal(st->ops->token_touch(st, uses, 0), 0);
    struct token_record t;
    assert_int_equal(st->ops->token_get(st, id1, &t), 0);
    assert_true(t.last_used_at == 5000000);
    token_record_free(&t);
    assert_int_equal(st->ops->token_get(st, id2, &t), 0);
    assert_true(t.last_used_at == 9000000);
    token_record_free(&t);
    assert_true(cf->ops->head(cf) == head);
    /* A real change still is one. */
    assert_int_equal(st->ops->token_revoke(st, id1, a), 0);
    assert_true(cf->ops->head(cf) > head);
    cf->ops->close(cf);
}

/* Rotation: the new token and the replaced old one in one transaction. */
static void test_token_rotate(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    int64_t a = create_account(st, "rot", "rot@example.com");
    int64_t b = create_account(st, "rot2", "rot2@example.com");
    char old_id[TOKEN_ID_LEN + 1];
    token_id(old_id, "r", 1);
    insert_token(st, old_id, a, TOKEN_SK, true, 1);
    char fresh_id[TOKEN_ID_LEN + 1], other_id[TOKEN_ID_LEN + 1], unknown[TOKEN_ID_LEN + 1];
    token_id(fresh_id, "r", 2);
    token_id(other_id, "r", 4);
    token_id(unknown, "r", 9);
    struct token_record fresh;
    make_token(&fresh, fresh_id, 0, TOKEN_SK, true, 10);
    /* Not another account's token, not an unknown one. */
    assert_int_equal(st->ops->token_rotate(st, old_id, b, &fresh, 5000), -ENOENT);
    assert_int_equal(st->ops->token_rotate(st, unknown, a, &fresh, 5000), -ENOENT);
    int64_t until = 4102444800000LL; /* 2100: later than no expiry */
    assert_int_equal(st->ops->token_rotate(st, old_id, a, &fresh, until), 0);
    struct token_record t;
    assert_int_equal(st->ops->token_get(st, old_id, &t), 0);
    assert_string_equal(t.replaced_by, fresh.id);
    assert_true(t.expires_at == until);
    assert_false(t.is_default); /* the default flag moved on */
    assert_true(t.revoked_at == 0);
    token_record_free(&t);
    assert_int_equal(st->ops->token_get(st, fresh.id, &t), 0);
    assert_true(t.account_id == a);
    assert_string_equal(t.replaced_by, "");
    assert_true(t.is_default);
    token_record_free(&t);
    /* Once replaced, never again; an earlier own expiry is kept. */
    assert_int_equal(st->ops->token_rotate(st, old_id, a, &fresh, until), -ENOENT);
    token_record_free(&fresh);
    char id3[TOKEN_ID_LEN + 1];
    token_id(id3, "r", 3);
    struct token_record e;
    make_token(&e, id3, a, TOKEN_PK, false, 11);
    e.expires_at = 3000;
    assert_int_equal(st->ops->token_insert(st, &e), 0);
    token_record_free(&e);
    make_token(&fresh, other_id, 0, TOKEN_PK, false, 12);
    assert_int_equal(st->ops->token_rotate(st, id3, a, &fresh, until), 0);
    token_record_free(&fresh);
    assert_int_equal(st->ops->token_get(st, id3, &t), 0);
    assert_true(t.expires_at == 3000);
    token_record_free(&t);
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
        STORE_TEST_BOTH(test_token_insert_get),
        STORE_TEST_BOTH(test_token_list_filters),
        STORE_TEST_BOTH(test_token_pagination),
        STORE_TEST_BOTH(test_token_update_revoke),
        STORE_TEST_BOTH(test_token_revoke_temp),
        STORE_TEST_BOTH(test_token_each),
        STORE_TEST_BOTH(test_token_touch),
        STORE_TEST_BOTH(test_throttle_shared),
        STORE_TEST_BOTH(test_meta_ensure),
        STORE_TEST_BOTH(test_token_rotate),
        STORE_TEST_BOTH(test_audit),
        STORE_TEST_BOTH(test_refresh),
        STORE_TEST_BOTH(test_threads),
        STORE_TEST_BOTH(test_close_with_live_threads),
        STORE_TEST_BOTH(test_persistence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
