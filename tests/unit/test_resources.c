/* Unit tests for resources.c: the syntax of resource bounds, narrowing, and
 * which collections and asset keys a bound reaches. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/resources.h"

static struct strlist list(const char *text)
{
    struct strlist l = STRLIST_INIT;
    assert_int_equal(strlist_split(&l, text), 0);
    return l;
}

static int normalize(const char *text, struct strlist *out)
{
    char err[160] = "";
    *out = list(text);
    int rc = resources_normalize(out, err, sizeof(err));
    if (rc < 0)
        assert_non_null(strstr(err, "resource"));
    return rc;
}

static void test_syntax(void **state)
{
    (void)state;
    static const char *const good[] = {
        "collection:l4a-ch4-mfa-v3a",
        "asset:l2b-ch4-mfa-v3a/2023/",
        "asset:l2b",
        "asset:a/b/c.tif",
        "asset:a/..b",
        "asset:a/.",
    };
    static const char *const bad[] = {
        "collection:", "collection:a/b", "asset:",    "asset:/abs",   "asset:a//b",
        "asset:../x",  "asset:a/../b",   "asset:./a", "other:x",      "collection",
        "asset:a\"b",  "asset:a?b",      "asset:a#b", "COLLECTION:x", "asset:a\\b",
    };
    struct strlist l;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(normalize(good[i], &l), 0);
        strlist_free(&l);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(normalize(bad[i], &l), -EINVAL);
        strlist_free(&l);
    }
    /* Control bytes, and entries over the length limit. */
    l = (struct strlist)STRLIST_INIT;
    assert_int_equal(strlist_push(&l, "asset:a\x01"), 0);
    char err[160];
    assert_int_equal(resources_normalize(&l, err, sizeof(err)), -EINVAL);
    assert_null(strchr(err, '\x01'));
    strlist_free(&l);
    char longer[RESOURCE_MAX_LEN + 8];
    memset(longer, 'a', sizeof(longer) - 1);
    memcpy(longer, "asset:", 6);
    longer[sizeof(longer) - 1] = '\0';
    assert_int_equal(strlist_push(&l, longer), 0);
    assert_int_equal(resources_normalize(&l, err, sizeof(err)), -EINVAL);
    strlist_free(&l);
}

static void test_normalize_dedupes_sorts_and_counts(void **state)
{
    (void)state;
    struct strlist l;
    assert_int_equal(normalize("collection:b asset:x/ collection:b collection:a", &l), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[0], "asset:x/");
    assert_string_equal(l.v[1], "collection:a");
    assert_string_equal(l.v[2], "collection:b");
    strlist_free(&l);
    for (int i = 0; i <= RESOURCES_MAX; i++) {
        char e[32];
        snprintf(e, sizeof(e), "collection:c%d", i);
        assert_int_equal(strlist_push(&l, e), 0);
    }
    char err[160];
    assert_int_equal(resources_normalize(&l, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "more than 32"));
    strlist_free(&l);
}

static bool covers(const char *parent, const char *child)
{
    struct strlist p = list(parent), c = list(child);
    bool r = resources_cover(&p, &c);
    strlist_free(&p);
    strlist_free(&c);
    return r;
}

static void test_narrowing(void **state)
{
    (void)state;
    assert_true(covers("", ""));
    assert_true(covers("", "collection:a"));
    assert_false(covers("collection:a", ""));
    assert_true(covers("collection:a collection:b", "collection:b"));
    assert_false(covers("collection:a", "collection:b"));
    assert_false(covers("collection:a", "collection:a collection:b"));
    assert_true(covers("collection:a", "asset:a/2023/"));
    assert_false(covers("collection:a", "asset:a"));    /* would reach a-b/ too */
    assert_false(covers("collection:a", "asset:ab/x")); /* another collection */
    assert_true(covers("asset:a/2023/", "asset:a/2023/05/"));
    assert_true(covers("asset:a/2023/", "asset:a/2023/"));
    assert_false(covers("asset:a/2023/05/", "asset:a/2023/"));
    assert_false(covers("asset:a/", "collection:a")); /* items without assets */
}

static void test_reach(void **state)
{
    (void)state;
    struct strlist b = list("collection:l4a asset:l2b-ch4/2023/");
    assert_true(resources_collection_whole(NULL, "x"));
    assert_true(resources_collection_whole(&b, "l4a"));
    assert_false(resources_collection_whole(&b, "l2b-ch4"));
    assert_true(resources_collection_some(&b, "l2b-ch4"));
    assert_false(resources_collection_some(&b, "l2b-co2"));
    assert_false(resources_collection_some(&b, "l4a-ch4"));
    assert_true(resources_asset_allowed(&b, "l4a/2020/01/01/i/i_l4a_plume.tif"));
    assert_false(resources_asset_allowed(&b, "l4a-ch4/2020/01/01/i/x.tif"));
    assert_true(resources_asset_allowed(&b, "l2b-ch4/2023/05/01/i/cmf.tif"));
    assert_false(resources_asset_allowed(&b, "l2b-ch4/2022/05/01/i/cmf.tif"));
    const char *p[4];
    assert_int_equal(resources_asset_prefixes(&b, p, 4), 1);
    assert_string_equal(p[0], "l2b-ch4/2023/");
    assert_int_equal(resources_collection_ids(&b, p, 4), 1);
    assert_string_equal(p[0], "l4a");
    strlist_free(&b);

    /* A prefix inside a collection id reaches every collection it begins. */
    b = list("asset:l2b");
    assert_true(resources_collection_some(&b, "l2b-ch4"));
    assert_true(resources_collection_some(&b, "l2b-co2"));
    assert_false(resources_collection_some(&b, "l4a"));
    strlist_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_syntax),
        cmocka_unit_test(test_normalize_dedupes_sorts_and_counts),
        cmocka_unit_test(test_narrowing),
        cmocka_unit_test(test_reach),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
