/* Unit tests for ratelimit.c: the limit per window, independent keys, reset
 * when the window turns over (window_s = 1), and the sign-in helper's
 * case-insensitive e-mail key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/ratelimit.h"
#include "app.h"
#include "pgtest.h"
#include "store/store.h"
#include "util/timeutil.h"

/* Windows are aligned to the clock (multiples of their length since the
 * epoch). A test that counts up to a limit starts here: with fewer than
 * need_ms left in the current window, it waits for the next one, so
 * its hits cannot straddle a reset. */
static void start_early_in_window(int64_t window_ms, int64_t need_ms)
{
    while (window_ms - time_now_ms() % window_ms < need_ms)
        usleep(5000);
}

static void test_limit_and_reset(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_create();
    assert_non_null(rl);
    start_early_in_window(1000, 900);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ratelimit_hit(rl, "k", 3, 1), 0);
    int retry = ratelimit_hit(rl, "k", 3, 1);
    assert_int_equal(retry, 1);
    assert_int_equal(ratelimit_hit(rl, "k", 3, 1), 1); /* refusals are not counted up */
    /* Other keys have their own budget. */
    assert_int_equal(ratelimit_hit(rl, "other", 3, 1), 0);
    sleep(1);
    usleep(100 * 1000);
    assert_int_equal(ratelimit_hit(rl, "k", 3, 1), 0);
    ratelimit_destroy(rl);
}

static void test_retry_after_within_window(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_create();
    start_early_in_window(60000, 5000);
    assert_int_equal(ratelimit_hit(rl, "w", 1, 60), 0);
    int retry = ratelimit_hit(rl, "w", 1, 60);
    assert_true(retry >= 1 && retry <= 60);
    ratelimit_destroy(rl);
}

static void test_unlimited_and_null(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_create();
    for (int i = 0; i < 1000; i++)
        assert_int_equal(ratelimit_hit(rl, "u", 0, 1), 0);
    assert_int_equal(ratelimit_hit(NULL, "u", 1, 1), 0);
    ratelimit_destroy(rl);
    ratelimit_destroy(NULL);
}

static void test_many_keys_bounded(void **state)
{
    (void)state;
    struct ratelimit *rl = ratelimit_create();
    char key[32];
    /* Far more keys than slots: never crashes; a fresh key is always let in. */
    for (int i = 0; i < 200000; i++) {
        snprintf(key, sizeof(key), "flood-%d", i);
        assert_int_equal(ratelimit_hit(rl, key, 1, 60), 0);
    }
    ratelimit_destroy(rl);
}

static void test_login_helper(void **state)
{
    (void)state;
    static struct app app;
    config_defaults(&app.cfg);
    /* SQLite: the counters are in the database, shared by its processes. */
    char dir[] = "/tmp/tessera-rl-XXXXXX";
    assert_non_null(mkdtemp(dir));
    app.store = store_open(NULL, dir);
    assert_non_null(app.store);
    assert_int_equal(app.store->ops->migrate(app.store), 0);
    app.cfg.login_rate_account = 2;
    app.cfg.login_rate_account_hourly = 4;
    app.cfg.login_rate_addr = 100;
    app.limits = ratelimit_create();
    start_early_in_window(3600000, 10000); /* the hourly ceiling's */
    start_early_in_window(60000, 10000);   /* and the default rate_window's */
    assert_int_equal(ratelimit_login(&app, "Someone@Example.com", "10.0.0.1"), 0);
    assert_int_equal(ratelimit_login(&app, "someone@example.com", "10.0.0.1"), 0);
    /* The same pair in another case: over its limit... */
    assert_true(ratelimit_login(&app, "SOMEONE@EXAMPLE.COM", "10.0.0.1") > 0);
    /* ...but the owner elsewhere is not locked out, up to the hourly
     * ceiling of the account (4 attempts counted so far: 3 + this one). */
    assert_int_equal(ratelimit_login(&app, "someone@example.com", "10.0.0.2"), 0);
    int wait = ratelimit_login(&app, "someone@example.com", "10.0.0.3");
    assert_true(wait >= 1 && wait <= 3600); /* until the ceiling's hour ends */
    assert_int_equal(ratelimit_login(&app, "other@example.com", "10.0.0.3"), 0);
    /* Registration per address. */
    app.cfg.register_rate_addr = 2;
    assert_int_equal(ratelimit_register(&app, "10.1.1.1"), 0);
    assert_int_equal(ratelimit_register(&app, "10.1.1.1"), 0);
    assert_true(ratelimit_register(&app, "10.1.1.1") > 0);
    assert_int_equal(ratelimit_register(&app, "10.1.1.2"), 0);
    /* Per-address limit. */
    app.cfg.login_rate_addr = 2;
    assert_int_equal(ratelimit_login(&app, "a1@example.com", "10.9.9.9"), 0);
    assert_int_equal(ratelimit_login(&app, "a2@example.com", "10.9.9.9"), 0);
    assert_true(ratelimit_login(&app, "a3@example.com", "10.9.9.9") > 0);
    /* Token API: per account id. */
    app.cfg.token_api_rate = 1;
    assert_int_equal(ratelimit_token_api(&app, 42), 0);
    assert_true(ratelimit_token_api(&app, 42) > 0);
    assert_int_equal(ratelimit_token_api(&app, 43), 0);
    ratelimit_destroy(app.limits);
    app.store->ops->close(app.store);
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* On PostgreSQL the counters live in the database: two nodes (two stores
 * on one database) count against one limit. */
static void test_limits_hold_across_nodes(void **state)
{
    (void)state;
    char *url = pgtest_db_create();
    assert_non_null(url);
    static struct app node[2];
    for (int i = 0; i < 2; i++) {
        config_defaults(&node[i].cfg);
        node[i].cfg.login_rate_account = 3;
        node[i].cfg.login_rate_addr = 1000;
        node[i].cfg.token_api_rate = 2;
        node[i].limits = ratelimit_create();
        node[i].store = store_open(url, "/nonexistent");
        assert_non_null(node[i].store);
        assert_int_equal(node[i].store->ops->migrate(node[i].store), 0);
    }
    start_early_in_window(3600000, 10000);
    start_early_in_window(60000, 10000);
    assert_int_equal(ratelimit_login(&node[0], "shared@example.com", "10.0.0.1"), 0);
    assert_int_equal(ratelimit_login(&node[1], "Shared@Example.com", "10.0.0.1"), 0);
    assert_int_equal(ratelimit_login(&node[0], "shared@example.com", "10.0.0.1"), 0);
    /* The fourth attempt of the pair, on the other node: over its limit. */
    int retry = ratelimit_login(&node[1], "shared@example.com", "10.0.0.1");
    assert_true(retry > 0 && retry <= 60);
    /* The hourly ceiling of the account counts every address on both. */
    for (int i = 0; i < 2; i++)
        node[i].cfg.login_rate_account_hourly = 6;
    assert_int_equal(ratelimit_login(&node[0], "shared@example.com", "10.0.0.2"), 0);
    assert_int_equal(ratelimit_login(&node[1], "shared@example.com", "10.0.0.3"), 0);
    assert_true(ratelimit_login(&node[0], "shared@example.com", "10.0.0.4") > 0);
    assert_int_equal(ratelimit_token_api(&node[1], 7), 0);
    assert_int_equal(ratelimit_token_api(&node[0], 7), 0);
    assert_true(ratelimit_token_api(&node[1], 7) > 0);
    for (int i = 0; i < 2; i++) {
        node[i].store->ops->close(node[i].store);
        ratelimit_destroy(node[i].limits);
    }
    pgtest_db_drop(url);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_and_reset),    cmocka_unit_test(test_retry_after_within_window),
        cmocka_unit_test(test_unlimited_and_null), cmocka_unit_test(test_many_keys_bounded),
        cmocka_unit_test(test_login_helper),       cmocka_unit_test(test_limits_hold_across_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
