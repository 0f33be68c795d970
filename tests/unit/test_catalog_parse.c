/* Unit tests for the catalog's parameter parsers and geometry: bbox text,
 * RFC 3339 datetimes and intervals (years before 1970, up to nine fractional
 * digits), and intersection of GeoJSON geometries (holes, edges, collections).
 * No store: the searches using them are in test_catalog.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "catalog/catalog.h"
#include "catalogtest.h"

static void test_parse_bbox(void **state)
{
    (void)state;
    double b[4];
    char err[256];
    assert_int_equal(catalog_parse_bbox_text("-10,-5.5,10,5", b, err, sizeof(err)), 0);
    assert_true(b[0] == -10 && b[1] == -5.5 && b[2] == 10 && b[3] == 5);
    assert_int_equal(catalog_parse_bbox_text("-10,-5,0,10,5,100", b, err, sizeof(err)), 0);
    assert_true(b[2] == 10 && b[3] == 5);
    const char *bad[] = {"", "1,2,3", "1,2,3,4,5", "a,b,c,d", "1,,2,3", "1,2,3,4,", ",1,2,3,4",
                         "0,10,1,5", "-200,0,0,1", "0,-91,1,0", "nan,0,1,1", "1e999,0,1,1",
                         "1,2,3,4 x", "1,2,3,4,5,6,7"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (catalog_parse_bbox_text(bad[i], b, err, sizeof(err)) != -EINVAL)
            fail_msg("bbox \"%s\" accepted", bad[i]);
        assert_true(strstr(err, "bbox") != NULL);
    }
    cJSON *j = cJSON_Parse("[1,2,3,\"4\"]");
    assert_int_equal(catalog_parse_bbox_json(j, b, err, sizeof(err)), -EINVAL);
    cJSON_Delete(j);
    j = cJSON_Parse("[1,2,3,4]");
    assert_int_equal(catalog_parse_bbox_json(j, b, err, sizeof(err)), 0);
    cJSON_Delete(j);
}

static void test_parse_datetime(void **state)
{
    (void)state;
    bool hs, he;
    int64_t s, e;
    char err[256];
    assert_int_equal(catalog_parse_datetime("2020-01-01T00:00:00Z", &hs, &s, &he, &e, err, 256), 0);
    assert_true(hs && he && s == e && s == 1577836800000LL);
    assert_int_equal(catalog_parse_datetime("2020-01-01T01:00:00 01:00", &hs, &s, &he, &e, err, 256),
                     0);
    assert_true(s == 1577836800000LL);
    assert_int_equal(catalog_parse_datetime("/2020-01-02", &hs, &s, &he, &e, err, 256), 0);
    assert_true(!hs && he && e == 1577836800000LL + 2 * 86400000LL - 1);
    /* Before 1970, with up to nine fractional digits. */
    assert_int_equal(catalog_parse_datetime("1900-01-01T00:00:00Z/1969-12-31T23:59:59.999999999Z",
                                            &hs, &s, &he, &e, err, 256),
                     0);
    assert_true(hs && he && s == -2208988800000LL && e == -1);
    assert_int_equal(catalog_parse_datetime("0001-01-01", &hs, &s, &he, &e, err, 256), 0);
    assert_true(s == -62135596800000LL && e == s + 86400000LL - 1);
    /* Intervals open at both ends bound nothing: refused, as are empty ones. */
    const char *bad[] = {"", "..", "/", "../..", "/..", "../", "yesterday", "2020-02-30T00:00:00Z",
                         "2020-01-01T00:00:00Z/x", "2021-01-01T00:00:00Z/2020-01-01T00:00:00Z",
                         "a/b/c", "2020-01-01T00:00:00Z/2020-01-02T00:00:00Z/",
                         "2020-01-01T00:00:00.1234567890Z", "-0001-01-01T00:00:00Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (catalog_parse_datetime(bad[i], &hs, &s, &he, &e, err, 256) != -EINVAL)
            fail_msg("datetime \"%s\" accepted", bad[i]);
}

static void test_geometry(void **state)
{
    (void)state;
    /* A square with a square hole. */
    struct catalog_geom *holed =
        geom("{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[10,0],[10,10],[0,10],[0,0]],"
             "[[3,3],[7,3],[7,7],[3,7],[3,3]]]}");
    struct catalog_geom *in_hole = geom("{\"type\":\"Point\",\"coordinates\":[5,5]}");
    struct catalog_geom *in_ring = geom("{\"type\":\"Point\",\"coordinates\":[1,1]}");
    struct catalog_geom *on_edge = geom("{\"type\":\"Point\",\"coordinates\":[10,5]}");
    struct catalog_geom *small_in_hole = geom(
        "{\"type\":\"Polygon\",\"coordinates\":[[[4,4],[6,4],[6,6],[4,6],[4,4]]]}");
    struct catalog_geom *big = geom(
        "{\"type\":\"Polygon\",\"coordinates\":[[[-5,-5],[20,-5],[20,20],[-5,20],[-5,-5]]]}");
    struct catalog_geom *line = geom(
        "{\"type\":\"LineString\",\"coordinates\":[[-1,5],[11,5]]}");
    struct catalog_geom *multi = geom(
        "{\"type\":\"GeometryCollection\",\"geometries\":[{\"type\":\"MultiPoint\","
        "\"coordinates\":[[50,50],[5,5]]}]}");
    assert_non_null(holed);
    assert_non_null(multi);
    assert_false(catalog_geom_intersects(holed, in_hole));
    assert_true(catalog_geom_intersects(holed, in_ring));
    assert_true(catalog_geom_intersects(in_ring, holed));
    assert_true(catalog_geom_intersects(holed, on_edge));
    assert_false(catalog_geom_intersects(holed, small_in_hole));
    assert_true(catalog_geom_intersects(holed, big));
    assert_true(catalog_geom_intersects(big, holed));
    assert_true(catalog_geom_intersects(line, holed));
    assert_true(catalog_geom_intersects(multi, small_in_hole));
    assert_false(catalog_geom_intersects(multi, holed));
    double b[4];
    catalog_geom_bbox(multi, b);
    assert_true(b[0] == 5 && b[1] == 5 && b[2] == 50 && b[3] == 50);

    const char *bad[] = {"{}", "{\"type\":\"Point\"}", "{\"type\":\"Point\",\"coordinates\":[1]}",
                         "{\"type\":\"Point\",\"coordinates\":[1,\"2\"]}",
                         "{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[0,0]]]}",
                         "{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,1]]]}",
                         "{\"type\":\"Polygon\",\"coordinates\":[]}",
                         "{\"type\":\"MultiPolygon\",\"coordinates\":[]}",
                         "{\"type\":\"Circle\",\"coordinates\":[0,0]}",
                         "{\"type\":\"LineString\",\"coordinates\":[[0,0]]}", "[1,2]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[256];
        cJSON *j = cJSON_Parse(bad[i]);
        struct catalog_geom *g = catalog_geom_parse(j, err, sizeof(err));
        if (g)
            fail_msg("geometry %s accepted", bad[i]);
        cJSON_Delete(j);
    }
    catalog_geom_free(holed);
    catalog_geom_free(in_hole);
    catalog_geom_free(in_ring);
    catalog_geom_free(on_edge);
    catalog_geom_free(small_in_hole);
    catalog_geom_free(big);
    catalog_geom_free(line);
    catalog_geom_free(multi);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_bbox),
        cmocka_unit_test(test_parse_datetime),
        cmocka_unit_test(test_geometry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
