/* Unit tests for pagecache.c: hits return an exact copy; a newer generation
 * drops every older page and an older one is neither served nor stored; the
 * byte budget evicts the least recently used page first; and concurrent
 * readers and writers of changing generations (run under ThreadSanitizer). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/crypto.h"
#include "catalog/pagecache.h"

static void put_str(struct pagecache *pc, const char *key, uint64_t gen, const char *body)
{
    pagecache_put(pc, key, strlen(key), gen, body, strlen(body));
}

/* The body stored under key at gen, or NULL; caller frees. */
static char *get_str(struct pagecache *pc, const char *key, uint64_t gen)
{
    size_t len = 0;
    char *body = pagecache_get(pc, key, strlen(key), gen, &len);
    if (body)
        assert_int_equal(strlen(body), len);
    return body;
}

static void assert_cached(struct pagecache *pc, const char *key, uint64_t gen, const char *want)
{
    char *got = get_str(pc, key, gen);
    if (!want) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_hit_miss_and_replace(void **state)
{
    (void)state;
    struct pagecache *pc = pagecache_create(1 << 20);
    assert_non_null(pc);
    assert_cached(pc, "a", 1, NULL);
    put_str(pc, "a", 1, "page a");
    put_str(pc, "ab", 1, "page ab");
    assert_cached(pc, "a", 1, "page a");
    assert_cached(pc, "ab", 1, "page ab");
    put_str(pc, "a", 1, "page a, again");
    assert_cached(pc, "a", 1, "page a, again");
    /* Keys are bytes, NULs included. */
    pagecache_put(pc, "k\0x", 3, 1, "with nul", 8);
    assert_cached(pc, "k", 1, NULL);
    size_t len;
    char *b = pagecache_get(pc, "k\0x", 3, 1, &len);
    assert_non_null(b);
    assert_memory_equal(b, "with nul", 8);
    free(b);
    struct pagecache_stats st;
    pagecache_stats(pc, &st);
    assert_int_equal(st.entries, 3);
    assert_int_equal(st.hits, 4);
    assert_int_equal(st.misses, 2);
    pagecache_destroy(pc);
}

static void test_generations(void **state)
{
    (void)state;
    struct pagecache *pc = pagecache_create(1 << 20);
    /* Generation 0 means "cannot tell whether the data changed". */
    put_str(pc, "a", 0, "never stored");
    assert_cached(pc, "a", 0, NULL);
    put_str(pc, "a", 5, "gen 5");
    put_str(pc, "b", 5, "gen 5 too");
    assert_cached(pc, "a", 5, "gen 5");
    /* An older generation is neither served nor stored... */
    assert_cached(pc, "a", 4, NULL);
    put_str(pc, "c", 4, "stale");
    assert_cached(pc, "c", 5, NULL);
    /* ...and asking with a newer one drops everything older. */
    assert_cached(pc, "a", 6, NULL);
    assert_cached(pc, "a", 5, NULL);
    assert_cached(pc, "b", 6, NULL);
    struct pagecache_stats st;
    pagecache_stats(pc, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.bytes, 0);
    put_str(pc, "a", 6, "gen 6");
    assert_cached(pc, "a", 6, "gen 6");
    pagecache_destroy(pc);
}

static void test_budget_evicts_least_recently_used(void **state)
{
    (void)state;
    char body[1000];
    memset(body, 'x', sizeof(body) - 1);
    body[sizeof(body) - 1] = 0;
    struct pagecache *pc = pagecache_create(12 * 1024);
    char key[16];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        put_str(pc, key, 1, body);
        if (i >= 1) /* keep k0 the most recently used */
            free(get_str(pc, "k0", 1));
    }
    struct pagecache_stats st;
    pagecache_stats(pc, &st);
    assert_true(st.bytes <= 12 * 1024);
    assert_true(st.entries >= 9 && st.entries <= 11); /* ~1.1 KB pages in 12 KB */
    char *k0 = get_str(pc, "k0", 1);
    assert_non_null(k0);
    free(k0);
    assert_cached(pc, "k1", 1, NULL); /* the oldest untouched page went first */
    assert_cached(pc, "k19", 1, body);
    /* A page above an eighth of the budget is not stored at all. */
    char *big = malloc(2048);
    memset(big, 'y', 2047);
    big[2047] = 0;
    put_str(pc, "big", 1, big);
    assert_cached(pc, "big", 1, NULL);
    free(big);
    pagecache_destroy(pc);
    /* Budget 0: stores nothing. */
    pc = pagecache_create(0);
    put_str(pc, "a", 1, "x");
    assert_cached(pc, "a", 1, NULL);
    pagecache_destroy(pc);
}

static void test_many_keys_grow_the_table(void **state)
{
    (void)state;
    struct pagecache *pc = pagecache_create(64 << 20);
    char key[32], body[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "query-%d", i);
        snprintf(body, sizeof(body), "page-%d", i);
        put_str(pc, key, 3, body);
    }
    for (int i = 0; i < 5000; i += 7) {
        snprintf(key, sizeof(key), "query-%d", i);
        snprintf(body, sizeof(body), "page-%d", i);
        assert_cached(pc, key, 3, body);
    }
    struct pagecache_stats st;
    pagecache_stats(pc, &st);
    assert_int_equal(st.entries, 5000);
    pagecache_destroy(pc);
}

struct worker_arg {
    struct pagecache *pc;
    int id;
};

/* Every body names its key and generation, so a reader can tell a wrong
 * page from a right one whatever the interleaving. */
static void *reader_writer(void *p)
{
    struct worker_arg *a = p;
    char key[32], body[64], want[64];
    for (int i = 0; i < 20000; i++) {
        uint64_t gen = 1 + (uint64_t)(i / 2000);
        snprintf(key, sizeof(key), "q%d", (i * 7 + a->id) % 50);
        snprintf(body, sizeof(body), "%s@%llu", key, (unsigned long long)gen);
        if (i % 3 == 0) {
            put_str(a->pc, key, gen, body);
            continue;
        }
        char *got = get_str(a->pc, key, gen);
        if (got) {
            snprintf(want, sizeof(want), "%s@%llu", key, (unsigned long long)gen);
            assert_string_equal(got, want);
            free(got);
        }
    }
    return NULL;
}

static void test_concurrent_readers_and_writers(void **state)
{
    (void)state;
    struct pagecache *pc = pagecache_create(8 * 1024);
    pthread_t t[4];
    struct worker_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct worker_arg){pc, i};
        assert_int_equal(pthread_create(&t[i], NULL, reader_writer, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    struct pagecache_stats st;
    pagecache_stats(pc, &st);
    assert_true(st.bytes <= 8 * 1024);
    assert_true(st.hits > 0);
    pagecache_destroy(pc);
}

int main(void)
{
    if (crypto_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_miss_and_replace),
        cmocka_unit_test(test_generations),
        cmocka_unit_test(test_budget_evicts_least_recently_used),
        cmocka_unit_test(test_many_keys_grow_the_table),
        cmocka_unit_test(test_concurrent_readers_and_writers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
