/* Unit tests for src/catalog/cluster.c: distances, and single-linkage
 * clusters within eps metres (chains, the eps boundary, numbering in input
 * order, points on one latitude, across the equator). Pure; single-threaded. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "catalog/cluster.h"

static void test_distance(void **state)
{
    (void)state;
    struct cluster_point a = {0, 0}, b = {0, 1}, c = {1, 60};
    /* One degree of latitude is about 111.2 km on this sphere. */
    assert_true(fabs(cluster_distance_m(a, b) - 111195) < 5);
    assert_true(fabs(cluster_distance_m(a, a)) < 1e-9);
    /* A degree of longitude at 60° is half of one at the equator. */
    struct cluster_point d = {0, 60};
    assert_true(fabs(cluster_distance_m(c, d) - 111195 / 2.0) < 200);
}

static void test_clusters(void **state)
{
    (void)state;
    /* ~11 m per 0.0001° of latitude: a chain 0-1-2 (each 22 m apart, ends
     * 44 m apart), a lone point, and a pair on the same latitude. */
    struct cluster_point pts[] = {
        {10, 50.0000}, {20, 0}, {10, 50.0002}, {10, 50.0004}, {-70, -33}, {-70.0001, -33},
    };
    size_t label[6], k;
    assert_int_equal(cluster_points(pts, 6, 30, label, &k), 0);
    assert_int_equal(k, 3);
    size_t want[] = {0, 1, 0, 0, 2, 2};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(label[i], want[i]);
    /* Below the step: every point alone. */
    assert_int_equal(cluster_points(pts, 6, 5, label, &k), 0);
    assert_int_equal(k, 6);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(label[i], i);
    /* Wide enough for everything to join the chain but not across oceans. */
    assert_int_equal(cluster_points(pts, 6, 100000, label, &k), 0);
    assert_int_equal(k, 3);
}

static void test_edges(void **state)
{
    (void)state;
    size_t label[2], k = 99;
    assert_int_equal(cluster_points(NULL, 0, 10, label, &k), 0);
    assert_int_equal(k, 0);
    struct cluster_point pts[] = {{0, 0}, {0, 0}};
    assert_int_equal(cluster_points(pts, 2, 0, label, &k), -EINVAL);
    assert_int_equal(cluster_points(pts, 2, -1, label, &k), -EINVAL);
    assert_int_equal(cluster_points(pts, 2, 1e-6, label, &k), 0); /* the same place */
    assert_int_equal(k, 1);
    /* Across the equator, 22 m apart. */
    struct cluster_point eq[] = {{5, -0.0001}, {5, 0.0001}};
    assert_int_equal(cluster_points(eq, 2, 30, label, &k), 0);
    assert_int_equal(k, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distance),
        cmocka_unit_test(test_clusters),
        cmocka_unit_test(test_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
