/* Unit tests for src/auth/listcache.c: a block is found again only under the
 * same generation and record; its lists are views that read like the
 * sources and survive the table's turning to another block while a
 * principal holds them; each thread has its own table, freed with the
 * thread. Also the strlist view rules the blocks rely on. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/listcache.h"

struct lists {
    struct strlist l[LISTCACHE_LISTS];
};

/* x emptied, and out pointing at its lists. */
static void out_of(struct lists *x, struct strlist *out[LISTCACHE_LISTS])
{
    memset(x, 0, sizeof(*x));
    for (size_t i = 0; i < LISTCACHE_LISTS; i++)
        out[i] = &x->l[i];
}

/* x filled with lists tagged tag (list i has i items: the first is empty),
 * and in pointing at them. */
static void sources(struct lists *x, const char *tag, const struct strlist *in[LISTCACHE_LISTS])
{
    memset(x, 0, sizeof(*x));
    for (size_t i = 0; i < LISTCACHE_LISTS; i++)
        in[i] = &x->l[i];
    char item[32];
    for (size_t i = 0; i < LISTCACHE_LISTS; i++)
        for (size_t j = 0; j < i; j++) {
            snprintf(item, sizeof(item), "%s-%zu-%zu", tag, i, j);
            assert_int_equal(strlist_push(&x->l[i], item), 0);
        }
}

static void expect_same(const struct lists *got, const struct lists *want)
{
    for (size_t i = 0; i < LISTCACHE_LISTS; i++) {
        assert_int_equal(got->l[i].n, want->l[i].n);
        for (size_t j = 0; j < want->l[i].n; j++)
            assert_string_equal(got->l[i].v[j], want->l[i].v[j]);
    }
}

static void free_lists(struct lists *x)
{
    for (size_t i = 0; i < LISTCACHE_LISTS; i++)
        strlist_free(&x->l[i]);
}

static void test_put_then_get(void **state)
{
    (void)state;
    static const int record_a = 0, record_b = 0;
    struct lists src, got, again;
    struct strlist *out[LISTCACHE_LISTS], *out2[LISTCACHE_LISTS];
    const struct strlist *in[LISTCACHE_LISTS];
    sources(&src, "a", in);
    out_of(&got, out);
    out_of(&again, out2);
    struct listcache_key key = {7, &record_a};
    assert_null(listcache_get(&key, out));
    struct listblock *b = listcache_put(&key, in, out);
    assert_non_null(b);
    expect_same(&got, &src);
    struct listblock *b2 = listcache_get(&key, out2);
    assert_ptr_equal(b2, b);
    expect_same(&again, &src);
    /* Another generation or record is another state: not found. */
    struct listcache_key later = {8, &record_a}, other = {7, &record_b};
    struct lists none;
    struct strlist *out3[LISTCACHE_LISTS];
    out_of(&none, out3);
    assert_null(listcache_get(&later, out3));
    assert_null(listcache_get(&other, out3));
    /* The lists are views: freeing them frees nothing of the block. */
    free_lists(&got);
    expect_same(&again, &src);
    listcache_release(b);
    /* A view changed becomes a list of its own; the block stays as it was. */
    assert_int_equal(strlist_add(&again.l[4], "extra"), 0);
    assert_int_equal(again.l[4].n, 5);
    struct lists third;
    struct strlist *out4[LISTCACHE_LISTS];
    out_of(&third, out4);
    assert_ptr_equal(listcache_get(&key, out4), b);
    expect_same(&third, &src);
    free_lists(&again);
    free_lists(&third);
    listcache_release(b);
    listcache_release(b2);
    free_lists(&src);
}

/* The table turning to other blocks never frees one a principal holds. */
static void test_held_block_outlives_the_table(void **state)
{
    (void)state;
    static int records[512];
    struct lists src, held;
    struct strlist *out[LISTCACHE_LISTS];
    const struct strlist *in[LISTCACHE_LISTS];
    sources(&src, "held", in);
    out_of(&held, out);
    struct listcache_key key = {1, &records[0]};
    struct listblock *b = listcache_put(&key, in, out);
    assert_non_null(b);
    for (size_t r = 1; r < 512; r++) { /* every slot taken over, several times */
        struct lists tmp;
        struct strlist *tout[LISTCACHE_LISTS];
        out_of(&tmp, tout);
        struct listcache_key k = {1, &records[r]};
        listcache_release(listcache_put(&k, in, tout));
        free_lists(&tmp);
    }
    expect_same(&held, &src); /* still readable (ASan would see a use after free) */
    free_lists(&held);
    listcache_release(b);
    free_lists(&src);
}

static void *other_thread(void *arg)
{
    struct listcache_key *key = arg;
    struct lists x;
    struct strlist *out[LISTCACHE_LISTS];
    out_of(&x, out);
    struct listblock *b = listcache_get(key, out);
    /* Its own table, left with a block of its own when the thread ends. */
    struct lists src;
    const struct strlist *in[LISTCACHE_LISTS];
    sources(&src, "thread", in);
    listcache_release(listcache_put(key, in, out));
    free_lists(&src);
    return b;
}

static void test_per_thread(void **state)
{
    (void)state;
    static const int record = 0;
    struct listcache_key key = {99, &record};
    struct lists src, got;
    struct strlist *out[LISTCACHE_LISTS];
    const struct strlist *in[LISTCACHE_LISTS];
    sources(&src, "main", in);
    out_of(&got, out);
    struct listblock *b = listcache_put(&key, in, out);
    pthread_t t;
    void *found = (void *)1;
    assert_int_equal(pthread_create(&t, NULL, other_thread, &key), 0);
    pthread_join(t, &found);
    assert_null(found);
    /* This thread's block is untouched by the other's put. */
    expect_same(&got, &src);
    listcache_release(b);
    free_lists(&got);
    free_lists(&src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_then_get),
        cmocka_unit_test(test_held_block_outlives_the_table),
        cmocka_unit_test(test_per_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
