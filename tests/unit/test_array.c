/* Unit tests for src/util/array.c: an array grows by doubling from its first
 * capacity, keeps every element it held, never shrinks, and refuses sizes
 * that would overflow without touching what it has. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "util/array.h"

struct pair {
    int64_t a, b;
};

static void test_grows_and_keeps(void **state)
{
    (void)state;
    struct pair *v = NULL;
    size_t n = 0, cap = 0;
    for (int64_t i = 0; i < 1000; i++) {
        assert_int_equal(ARRAY_RESERVE(v, cap, n + 1, 8), 0);
        assert_true(cap >= n + 1);
        v[n++] = (struct pair){i, -i};
    }
    /* 8 doubled until 1,000 fit. */
    assert_int_equal(cap, 1024);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(v[i].a, (int64_t)i);
        assert_int_equal(v[i].b, -(int64_t)i);
    }
    /* Room that is there already changes nothing; a larger need jumps. */
    struct pair *before = v;
    assert_int_equal(ARRAY_RESERVE(v, cap, 10, 8), 0);
    assert_ptr_equal(v, before);
    assert_int_equal(cap, 1024);
    assert_int_equal(ARRAY_RESERVE(v, cap, 5000, 8), 0);
    assert_int_equal(cap, 8192);
    assert_int_equal(v[999].a, 999);
    free(v);
}

static void test_first_capacity(void **state)
{
    (void)state;
    char **v = NULL;
    size_t cap = 0;
    assert_int_equal(ARRAY_RESERVE(v, cap, 1, 32), 0);
    assert_int_equal(cap, 32);
    assert_non_null(v);
    free(v);
    /* A first capacity below the need doubles up to it. */
    v = NULL;
    cap = 0;
    assert_int_equal(ARRAY_RESERVE(v, cap, 100, 16), 0);
    assert_int_equal(cap, 128);
    free(v);
}

static void test_overflow_refused(void **state)
{
    (void)state;
    struct pair *v = NULL;
    size_t cap = 0;
    assert_int_equal(ARRAY_RESERVE(v, cap, 4, 4), 0);
    struct pair *kept = v;
    assert_int_equal(ARRAY_RESERVE(v, cap, SIZE_MAX / 8, 4), -ENOMEM);
    assert_int_equal(ARRAY_RESERVE(v, cap, SIZE_MAX, 4), -ENOMEM);
    assert_ptr_equal(v, kept);
    assert_int_equal(cap, 4);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_and_keeps),
        cmocka_unit_test(test_first_capacity),
        cmocka_unit_test(test_overflow_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
