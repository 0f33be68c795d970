/* Unit tests of the store's token operations (store.h), each run against
 * both drivers (storetest.h): insert and get, list filters, keyset pagination
 * under concurrent changes, update and revocation (of temporary tokens with
 * their parent too), the one-scan token_each, last-use touches and rotation.
 * The rest of the store contract is tested by test_store.c. */
#include "storetest.h"

#include "util/timeutil.h"

#include <errno.h>

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

int main(void)
{
    assert_int_equal(crypto_init(), 0);
    const struct CMUnitTest tests[] = {
        STORE_TEST_BOTH(test_token_insert_get),
        STORE_TEST_BOTH(test_token_list_filters),
        STORE_TEST_BOTH(test_token_pagination),
        STORE_TEST_BOTH(test_token_update_revoke),
        STORE_TEST_BOTH(test_token_revoke_temp),
        STORE_TEST_BOTH(test_token_each),
        STORE_TEST_BOTH(test_token_touch),
        STORE_TEST_BOTH(test_token_rotate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
