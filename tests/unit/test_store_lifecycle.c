/* Unit tests of the store's token-lifecycle tables, each run against both
 * drivers (storetest.h): expiry notices (token_expiring and notice_*: the
 * scan window, one notice per (token, kind, expiry), what the account's list
 * shows, the delivery claim that lets one node post each notice) and
 * one-time password reset links (reset_*). */
#include "storetest.h"

#include <errno.h>

static void insert_expiring(struct store *st, const char *id, int64_t account, int64_t expires_at)
{
    struct token_record t;
    make_token(&t, id, account, TOKEN_SK, false, 1);
    t.expires_at = expires_at;
    assert_int_equal(st->ops->token_insert(st, &t), 0);
    token_record_free(&t);
}

struct seen {
    char ids[8][TOKEN_ID_LEN + 1];
    int64_t accounts[8], expiries[8];
    int n;
};

static int collect(void *ctx, const char *id, int64_t account_id, int64_t expires_at)
{
    struct seen *s = ctx;
    assert_true(s->n < 8);
    snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", id);
    s->accounts[s->n] = account_id;
    s->expiries[s->n++] = expires_at;
    return 0;
}

static int stop_at_first(void *ctx, const char *id, int64_t account_id, int64_t expires_at)
{
    (void)ctx, (void)id, (void)account_id, (void)expires_at;
    return 42;
}

/* The scan finds live, not rotated tokens with an expiry in (from, until],
 * soonest first. */
static void test_token_expiring(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    int64_t a = create_account(st, "exp", "exp@example.com");
    char ids[6][TOKEN_ID_LEN + 1];
    for (int i = 0; i < 6; i++)
        token_id(ids[i], "x", i);
    insert_expiring(st, ids[0], a, 5000);
    insert_expiring(st, ids[1], a, 3000);
    insert_expiring(st, ids[2], a, 9000);            /* beyond the window */
    insert_expiring(st, ids[3], a, 1000);            /* at from: outside */
    insert_expiring(st, ids[4], a, 4000);            /* revoked below */
    insert_token(st, ids[5], a, TOKEN_SK, false, 1); /* no expiry */
    assert_int_equal(st->ops->token_revoke(st, ids[4], a), 0);
    struct seen s = {0};
    assert_int_equal(st->ops->token_expiring(st, "token.expiring", 1000, 8000, collect, &s), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.ids[0], ids[1]);
    assert_string_equal(s.ids[1], ids[0]);
    assert_true(s.accounts[0] == a && s.expiries[0] == 3000 && s.expiries[1] == 5000);
    /* A rotated-away token is not warned about: its grace end is no expiry. */
    char fresh_id[TOKEN_ID_LEN + 1];
    token_id(fresh_id, "x", 9);
    struct token_record fresh;
    make_token(&fresh, fresh_id, 0, TOKEN_SK, false, 2);
    assert_int_equal(st->ops->token_rotate(st, ids[1], a, &fresh, 3500), 0);
    token_record_free(&fresh);
    memset(&s, 0, sizeof(s));
    assert_int_equal(st->ops->token_expiring(st, "token.expiring", 1000, 8000, collect, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.ids[0], ids[0]);
    assert_int_equal(st->ops->token_expiring(st, "token.expiring", 0, 10000, stop_at_first, NULL),
                     42);
    /* A token with a notice of that kind for that expiry is done; another
     * kind, or a new expiry, is not. */
    struct notice n = {.account_id = a, .token_expires_at = 5000};
    snprintf(n.token_id, sizeof(n.token_id), "%s", ids[0]);
    snprintf(n.kind, sizeof(n.kind), "token.expiring");
    assert_int_equal(st->ops->notice_add(st, &n), 0);
    memset(&s, 0, sizeof(s));
    assert_int_equal(st->ops->token_expiring(st, "token.expiring", 1000, 8000, collect, &s), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(st->ops->token_expiring(st, "token.expired", 1000, 8000, collect, &s), 0);
    assert_int_equal(s.n, 1);
    struct token_record t;
    assert_int_equal(st->ops->token_get(st, ids[0], &t), 0);
    t.expires_at = 6000;
    assert_int_equal(st->ops->token_update(st, &t), 0);
    token_record_free(&t);
    memset(&s, 0, sizeof(s));
    assert_int_equal(st->ops->token_expiring(st, "token.expiring", 1000, 8000, collect, &s), 0);
    assert_int_equal(s.n, 1);
    assert_true(s.expiries[0] == 6000);
}

static void make_notice(struct notice *n, int64_t account, const char *token, const char *kind,
                        int64_t expires_at, enum notice_delivery delivery)
{
    memset(n, 0, sizeof(*n));
    n->account_id = account;
    snprintf(n->token_id, sizeof(n->token_id), "%s", token);
    snprintf(n->kind, sizeof(n->kind), "%s", kind);
    n->token_expires_at = expires_at;
    n->delivery = delivery;
}

/* One notice per (token, kind, expiry); the list shows the account's
 * undismissed notices about live tokens still expiring when they say. */
static void test_notice_add_list_dismiss(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    int64_t a = create_account(st, "nt", "nt@example.com");
    int64_t b = create_account(st, "nt2", "nt2@example.com");
    char t1[TOKEN_ID_LEN + 1], t2[TOKEN_ID_LEN + 1], t3[TOKEN_ID_LEN + 1];
    token_id(t1, "n", 1);
    token_id(t2, "n", 2);
    token_id(t3, "n", 3);
    insert_expiring(st, t1, a, 5000);
    insert_expiring(st, t2, a, 6000);
    insert_expiring(st, t3, b, 7000);
    struct notice n1, n2, dup, n3, other;
    make_notice(&n1, a, t1, "token.expiring", 5000, NOTICE_NO_WEBHOOK);
    assert_int_equal(st->ops->notice_add(st, &n1), 0);
    assert_true(n1.id > 0 && n1.created > 0);
    make_notice(&dup, a, t1, "token.expiring", 5000, NOTICE_PENDING);
    assert_int_equal(st->ops->notice_add(st, &dup), -EEXIST);
    make_notice(&n2, a, t1, "token.expired", 5000, NOTICE_NO_WEBHOOK);
    assert_int_equal(st->ops->notice_add(st, &n2), 0);
    make_notice(&n3, a, t2, "token.expiring", 6000, NOTICE_NO_WEBHOOK);
    assert_int_equal(st->ops->notice_add(st, &n3), 0);
    make_notice(&other, b, t3, "token.expiring", 7000, NOTICE_NO_WEBHOOK);
    assert_int_equal(st->ops->notice_add(st, &other), 0);
    struct notice *v;
    size_t n;
    assert_int_equal(st->ops->notice_list(st, a, &v, &n), 0);
    assert_int_equal(n, 3);
    assert_true(v[0].id == n3.id && v[1].id == n2.id && v[2].id == n1.id); /* newest first */
    assert_string_equal(v[1].kind, "token.expired");
    assert_string_equal(v[1].token_id, t1);
    assert_true(v[1].token_expires_at == 5000 && v[1].dismissed_at == 0);
    free(v);
    /* Dismissed: gone; another account's: not found; twice: fine. */
    assert_int_equal(st->ops->notice_dismiss(st, n2.id, b), -ENOENT);
    assert_int_equal(st->ops->notice_dismiss(st, n2.id, a), 0);
    assert_int_equal(st->ops->notice_dismiss(st, n2.id, a), 0);
    assert_int_equal(st->ops->notice_dismiss(st, 999999, a), -ENOENT);
    /* Re-dated or revoked tokens take their notices with them. */
    struct token_record t;
    assert_int_equal(st->ops->token_get(st, t1, &t), 0);
    t.expires_at = 50000;
    assert_int_equal(st->ops->token_update(st, &t), 0);
    token_record_free(&t);
    assert_int_equal(st->ops->notice_list(st, a, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_true(v[0].id == n3.id);
    free(v);
    assert_int_equal(st->ops->token_revoke(st, t2, a), 0);
    assert_int_equal(st->ops->notice_list(st, a, &v, &n), 0);
    assert_int_equal(n, 0);
    free(v);
    assert_int_equal(st->ops->notice_list(st, b, &v, &n), 0);
    assert_int_equal(n, 1);
    free(v);
}

/* Claims hand each due, pending delivery to one caller until its lease
 * ends or its outcome is recorded. */
static void test_notice_claim(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    int64_t a = create_account(st, "cl", "cl@example.com");
    char t1[TOKEN_ID_LEN + 1], t2[TOKEN_ID_LEN + 1], t3[TOKEN_ID_LEN + 1];
    token_id(t1, "c", 1);
    token_id(t2, "c", 2);
    token_id(t3, "c", 3);
    insert_expiring(st, t1, a, 5000);
    insert_expiring(st, t2, a, 6000);
    insert_expiring(st, t3, a, 7000);
    struct notice n1, n2, n3;
    make_notice(&n1, a, t1, "token.expiring", 5000, NOTICE_PENDING);
    n1.next_attempt_at = 100;
    make_notice(&n2, a, t2, "token.expiring", 6000, NOTICE_PENDING);
    n2.next_attempt_at = 200;
    make_notice(&n3, a, t3, "token.expiring", 7000, NOTICE_NO_WEBHOOK);
    assert_int_equal(st->ops->notice_add(st, &n1), 0);
    assert_int_equal(st->ops->notice_add(st, &n2), 0);
    assert_int_equal(st->ops->notice_add(st, &n3), 0);
    struct notice *v;
    size_t n;
    /* At 150 only the first is due. */
    assert_int_equal(st->ops->notice_claim(st, 150, 1000, 10, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_true(v[0].id == n1.id && v[0].delivery == NOTICE_PENDING);
    assert_string_equal(v[0].token_id, t1);
    free(v);
    /* Held: at 300 another caller gets only the second. */
    assert_int_equal(st->ops->notice_claim(st, 300, 1000, 10, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_true(v[0].id == n2.id);
    free(v);
    assert_int_equal(st->ops->notice_claim(st, 400, 1000, 10, &v, &n), 0);
    assert_int_equal(n, 0);
    free(v);
    /* A failed attempt is retried when due; a delivered one never again. */
    assert_int_equal(st->ops->notice_delivered(st, n1.id, NOTICE_PENDING, 1, 500), 0);
    assert_int_equal(st->ops->notice_delivered(st, n2.id, NOTICE_DELIVERED, 1, 0), 0);
    assert_int_equal(st->ops->notice_claim(st, 450, 1000, 10, &v, &n), 0);
    assert_int_equal(n, 0);
    free(v);
    assert_int_equal(st->ops->notice_claim(st, 500, 1000, 10, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_true(v[0].id == n1.id && v[0].attempts == 1);
    free(v);
    /* A lease that ran out (its node died) is claimed again. */
    assert_int_equal(st->ops->notice_claim(st, 1600, 1000, 10, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_true(v[0].id == n1.id);
    free(v);
    assert_int_equal(st->ops->notice_delivered(st, 999999, NOTICE_FAILED, 1, 0), -ENOENT);
    /* max bounds a claim. */
    assert_int_equal(st->ops->notice_delivered(st, n2.id, NOTICE_PENDING, 1, 0), 0);
    assert_int_equal(st->ops->notice_delivered(st, n1.id, NOTICE_PENDING, 2, 0), 0);
    assert_int_equal(st->ops->notice_claim(st, 5000, 1000, 1, &v, &n), 0);
    assert_int_equal(n, 1);
    free(v);
}

/* A reset link works once, before it expires; using one spends every other
 * link of the account. */
static void test_reset_links(void **state)
{
    struct fixture *f = *state;
    struct store *st = f->st;
    int64_t a = create_account(st, "rs", "rs@example.com");
    int64_t b = create_account(st, "rs2", "rs2@example.com");
    uint8_t h1[CRYPTO_MAC_LEN], h2[CRYPTO_MAC_LEN], h3[CRYPTO_MAC_LEN], h4[CRYPTO_MAC_LEN];
    memset(h1, 1, sizeof(h1));
    memset(h2, 2, sizeof(h2));
    memset(h3, 3, sizeof(h3));
    memset(h4, 4, sizeof(h4));
    int64_t far = 4102444800000LL;
    assert_int_equal(st->ops->reset_insert(st, h1, a, far), 0);
    assert_int_equal(st->ops->reset_insert(st, h2, a, far), 0);
    assert_int_equal(st->ops->reset_insert(st, h3, b, far), 0);
    assert_int_equal(st->ops->reset_insert(st, h4, b, 5000), 0);
    int64_t who = 0;
    assert_int_equal(st->ops->reset_use(st, h4, 5000, &who), -EPERM); /* expired */
    assert_int_equal(st->ops->reset_use(st, h1, 1000, &who), 0);
    assert_true(who == a);
    assert_int_equal(st->ops->reset_use(st, h1, 1000, &who), -EPERM); /* used */
    assert_int_equal(st->ops->reset_use(st, h2, 1000, &who), -EPERM); /* spent with h1 */
    assert_int_equal(st->ops->reset_use(st, h3, 1000, &who), 0);     /* b's is untouched */
    assert_true(who == b);
    uint8_t unknown[CRYPTO_MAC_LEN];
    memset(unknown, 9, sizeof(unknown));
    assert_int_equal(st->ops->reset_use(st, unknown, 1000, &who), -ENOENT);
    /* Links that expired a day before an insert are pruned by it. */
    assert_int_equal(st->ops->reset_insert(st, unknown, a, far), 0);
    assert_int_equal(st->ops->reset_use(st, h4, 1000, &who), -ENOENT);
}

int main(void)
{
    assert_int_equal(crypto_init(), 0);
    const struct CMUnitTest tests[] = {
        STORE_TEST_BOTH(test_token_expiring),
        STORE_TEST_BOTH(test_notice_add_list_dismiss),
        STORE_TEST_BOTH(test_notice_claim),
        STORE_TEST_BOTH(test_reset_links),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
