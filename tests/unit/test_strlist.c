/* Unit tests for strlist.c: add/push semantics, set operations, split, join
 * and sort. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/strlist.h"

static void test_add_push_contains(void **state)
{
    (void)state;
    struct strlist l = STRLIST_INIT;
    assert_int_equal(strlist_add(&l, "a"), 0);
    assert_int_equal(strlist_add(&l, "b"), 0);
    assert_int_equal(strlist_add(&l, "a"), 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(strlist_push(&l, "a"), 0);
    assert_int_equal(l.n, 3);
    assert_true(strlist_contains(&l, "a"));
    assert_true(strlist_contains(&l, "b"));
    assert_false(strlist_contains(&l, "c"));
    assert_false(strlist_contains(&l, "A"));
    /* Growth past the initial capacity keeps every element. */
    char name[8];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "s%d", i);
        assert_int_equal(strlist_add(&l, name), 0);
    }
    assert_int_equal(l.n, 103);
    assert_true(strlist_contains(&l, "s99"));
    strlist_free(&l);
    assert_int_equal(l.n, 0);
    assert_null(l.v);
    strlist_free(&l); /* freeing twice is harmless */
}

static void test_copy_is_deep(void **state)
{
    (void)state;
    struct strlist a = STRLIST_INIT, b = STRLIST_INIT;
    char buf[8] = "scope";
    assert_int_equal(strlist_push(&a, buf), 0);
    buf[0] = 'X';
    assert_string_equal(a.v[0], "scope");
    assert_int_equal(strlist_push(&b, "old"), 0);
    assert_int_equal(strlist_copy(&b, &a), 0);
    assert_int_equal(b.n, 1);
    assert_string_equal(b.v[0], "scope");
    assert_ptr_not_equal(a.v[0], b.v[0]);
    strlist_free(&a);
    assert_string_equal(b.v[0], "scope");
    strlist_free(&b);
}

static void test_subset_intersect(void **state)
{
    (void)state;
    struct strlist a = STRLIST_INIT, b = STRLIST_INIT, empty = STRLIST_INIT, r = STRLIST_INIT;
    assert_int_equal(strlist_split(&a, "stac catalog:read tokens:write"), 0);
    assert_int_equal(strlist_split(&b, "tokens:write,stac"), 0);
    assert_true(strlist_is_subset(&b, &a));
    assert_false(strlist_is_subset(&a, &b));
    assert_true(strlist_is_subset(&empty, &a));
    assert_true(strlist_is_subset(&empty, &empty));
    assert_false(strlist_is_subset(&a, &empty));
    assert_int_equal(strlist_push(&r, "stale"), 0);
    assert_int_equal(strlist_intersect(&r, &a, &b), 0);
    assert_int_equal(r.n, 2);
    /* Order of the first list. */
    assert_string_equal(r.v[0], "stac");
    assert_string_equal(r.v[1], "tokens:write");
    assert_int_equal(strlist_intersect(&r, &a, &empty), 0);
    assert_int_equal(r.n, 0);
    strlist_free(&a);
    strlist_free(&b);
    strlist_free(&r);
}

/* Copies and intersections are packed in one allocation; pushing onto one
 * unpacks it, and every list is freed alike (ASan checks the frees). */
static void test_packed_lists(void **state)
{
    (void)state;
    struct strlist a = STRLIST_INIT, b = STRLIST_INIT, c = STRLIST_INIT;
    assert_int_equal(strlist_split(&a, "x y x2 y2 x"), 0); /* split drops the repeat */
    for (int i = 0; i < 40; i++) { /* past the intersection's stack buffer */
        char name[16];
        snprintf(name, sizeof(name), "s%d", i);
        assert_int_equal(strlist_push(&a, name), 0);
        assert_int_equal(strlist_push(&a, name), 0); /* repeats in a */
        if (i % 2)
            assert_int_equal(strlist_push(&b, name), 0);
    }
    assert_int_equal(strlist_push(&b, "y"), 0);
    assert_int_equal(strlist_intersect(&c, &a, &b), 0);
    assert_int_equal(c.n, 21); /* y and the 20 odd names, each once */
    assert_string_equal(c.v[0], "y");
    assert_string_equal(c.v[1], "s1");
    assert_string_equal(c.v[20], "s39");
    assert_int_equal(strlist_intersect(&c, &c, &b), 0); /* dst may be a source */
    assert_int_equal(c.n, 21);
    assert_int_equal(strlist_push(&c, "new"), 0); /* unpacks */
    assert_int_equal(c.n, 22);
    assert_string_equal(c.v[21], "new");
    assert_string_equal(c.v[0], "y");
    assert_int_equal(strlist_copy(&c, &b), 0);
    assert_int_equal(c.n, b.n);
    assert_int_equal(strlist_copy(&c, &c), 0); /* a copy of itself is itself */
    assert_int_equal(c.n, b.n);
    strlist_sort(&c);
    assert_string_equal(c.v[0], "s1");
    assert_int_equal(strlist_add(&c, "s1"), 0); /* already there */
    assert_int_equal(strlist_add(&c, "zz"), 0);
    assert_true(strlist_contains(&c, "zz"));
    struct strlist empty = STRLIST_INIT;
    assert_int_equal(strlist_copy(&c, &empty), 0);
    assert_int_equal(c.n, 0);
    assert_null(c.v);
    strlist_free(&a);
    strlist_free(&b);
    strlist_free(&c);
}

static void test_split(void **state)
{
    (void)state;
    struct strlist l = STRLIST_INIT;
    assert_int_equal(strlist_split(&l, "  a,, b ,c a  "), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[0], "a");
    assert_string_equal(l.v[1], "b");
    assert_string_equal(l.v[2], "c");
    strlist_free(&l);
    assert_int_equal(strlist_split(&l, ""), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(strlist_split(&l, NULL), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(strlist_split(&l, " , ,"), 0);
    assert_int_equal(l.n, 0);
    /* Split appends to an existing list, without duplicates. */
    assert_int_equal(strlist_push(&l, "x"), 0);
    assert_int_equal(strlist_split(&l, "x y"), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[1], "y");
    strlist_free(&l);
}

static void test_join_sort(void **state)
{
    (void)state;
    struct strlist l = STRLIST_INIT;
    char *s = strlist_join(&l, " ");
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    assert_int_equal(strlist_split(&l, "tokens:read stac catalog:read"), 0);
    s = strlist_join(&l, " ");
    assert_string_equal(s, "tokens:read stac catalog:read");
    free(s);
    strlist_sort(&l);
    s = strlist_join(&l, ", ");
    assert_string_equal(s, "catalog:read, stac, tokens:read");
    free(s);
    s = strlist_join(&l, "");
    assert_string_equal(s, "catalog:readstactokens:read");
    free(s);
    strlist_free(&l);
    strlist_sort(&l); /* empty list: no-op */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_push_contains),
        cmocka_unit_test(test_copy_is_deep),
        cmocka_unit_test(test_subset_intersect),
        cmocka_unit_test(test_packed_lists),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_join_sort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
