/* Unit tests for the catalog (src/catalog/): importing the shipped sample catalog and bad
 * documents (nothing partial), search by bbox / datetime / ids / collections /
 * intersects with visibility filtering, counts and offsets, asset ownership,
 * and the parameter parsers. Single-threaded apart from one concurrent search
 * test; every test works in its own temporary data directory. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "catalog/catalog.h"

#define SAMPLE TESSERA_SOURCE_DIR "/catalog/sample"

struct fixture {
    char dir[64];
    struct catalog *cat;
    struct strlist partners; /* groups of a Partners account */
};

static int rm_tree(const char *path)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    return system(cmd);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/test_catalog.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->cat = catalog_open(f->dir, NULL);
    if (!f->cat)
        return -1;
    strlist_add(&f->partners, "Public");
    strlist_add(&f->partners, "Partners");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    catalog_close(f->cat);
    rm_tree(f->dir);
    strlist_free(&f->partners);
    free(f);
    return 0;
}

static void import_sample(struct fixture *f)
{
    char err[512];
    struct strlist pub = STRLIST_INIT, partners = STRLIST_INIT;
    struct catalog_import_result res;
    strlist_add(&pub, "Public");
    strlist_add(&partners, "Partners");
    int rc = catalog_import_path_ex(f->cat, SAMPLE "/public", &pub, &res, err, sizeof(err));
    if (rc)
        fail_msg("import public: %s", err);
    assert_int_equal(res.collections, 2);
    assert_int_equal(res.items, 12);
    rc = catalog_import_path_ex(f->cat, SAMPLE "/restricted", &partners, &res, err, sizeof(err));
    if (rc)
        fail_msg("import restricted: %s", err);
    assert_int_equal(res.collections, 1);
    assert_int_equal(res.items, 5);
    strlist_free(&pub);
    strlist_free(&partners);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* Runs a search and returns the number matched; *returned gets the page size. */
static int64_t search(struct fixture *f, struct catalog_query *q, size_t *returned)
{
    int64_t matched = -1;
    cJSON *items = NULL;
    if (!q->limit)
        q->limit = 100;
    assert_int_equal(catalog_search(f->cat, q, &matched, &items), 0);
    assert_non_null(items);
    if (returned)
        *returned = (size_t)cJSON_GetArraySize(items);
    cJSON_Delete(items);
    return matched;
}

static const char *const collection_doc =
    "{\"type\":\"Collection\",\"stac_version\":\"1.0.0\",\"id\":\"c1\",\"description\":\"d\","
    "\"license\":\"CC-BY-4.0\",\"extent\":{\"spatial\":{\"bbox\":[[-10,-10,10,10]]},"
    "\"temporal\":{\"interval\":[[\"2020-01-01T00:00:00Z\",null]]}},\"links\":[]}";

#define ITEM_FMT \
    "{\"type\":\"Feature\",\"stac_version\":\"1.0.0\",\"id\":\"%s\",\"collection\":\"c1\"," \
    "\"geometry\":{\"type\":\"Point\",\"coordinates\":[1,2]}," \
    "\"properties\":{\"datetime\":\"2021-01-01T00:00:00Z\"},\"links\":[]," \
    "\"assets\":{\"a\":{\"href\":\"./x/%s.txt\"}}}"

static void test_import_sample_and_counts(void **state)
{
    struct fixture *f = *state;
    import_sample(f);
    struct catalog_query q = {0};
    size_t n;
    assert_int_equal(search(f, &q, &n), 12);
    assert_int_equal(n, 12);
    q.groups = &f->partners;
    assert_int_equal(search(f, &q, &n), 17);
    assert_int_equal(n, 17);

    /* Re-import replaces by id: counts stay the same. */
    import_sample(f);
    q.groups = NULL;
    assert_int_equal(search(f, &q, NULL), 12);

    cJSON *colls = NULL;
    assert_int_equal(catalog_collections(f->cat, NULL, &colls), 0);
    assert_int_equal(cJSON_GetArraySize(colls), 2);
    cJSON_Delete(colls);
    assert_int_equal(catalog_collections(f->cat, &f->partners, &colls), 0);
    assert_int_equal(cJSON_GetArraySize(colls), 3);
    cJSON_Delete(colls);
}

static void test_limit_offset_order(void **state)
{
    struct fixture *f = *state;
    import_sample(f);
    struct catalog_query q = {.limit = 5, .offset = 10};
    size_t n;
    assert_int_equal(search(f, &q, &n), 12);
    assert_int_equal(n, 2);
    q.offset = 12;
    assert_int_equal(search(f, &q, &n), 12);
    assert_int_equal(n, 0);

    /* Newest first. */
    q.offset = 0;
    q.limit = 1;
    int64_t matched;
    cJSON *items;
    assert_int_equal(catalog_search(f->cat, &q, &matched, &items), 0);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(items, 0), "id")->valuestring,
                        "ch4-buenosaires-20250304");
    cJSON_Delete(items);

    q.limit = 0;
    assert_int_equal(catalog_search(f->cat, &q, &matched, &items), -EINVAL);
    q.limit = 101;
    assert_int_equal(catalog_search(f->cat, &q, &matched, &items), -EINVAL);
    q.limit = 10;
    q.offset = -1;
    assert_int_equal(catalog_search(f->cat, &q, &matched, &items), -EINVAL);
}

static void test_bbox_search(void **state)
{
    struct fixture *f = *state;
    import_sample(f);
    struct catalog_query q = {.has_bbox = true, .bbox = {-104.5, 31.0, -103.0, 32.5}};
    assert_int_equal(search(f, &q, NULL), 2);
    q.groups = &f->partners;
    assert_int_equal(search(f, &q, NULL), 4);

    /* Across the antimeridian: lon >= 100 or lon <= -100. */
    double across[4] = {100, -90, -100, 90};
    memcpy(q.bbox, across, sizeof(across));
    q.groups = NULL;
    assert_int_equal(search(f, &q, NULL), 6);

    double nowhere[4] = {-170, -80, -160, -70};
    memcpy(q.bbox, nowhere, sizeof(nowhere));
    assert_int_equal(search(f, &q, NULL), 0);
}

static void test_datetime_search(void **state)
{
    struct fixture *f = *state;
    import_sample(f);
    struct catalog_query q = {0};
    char err[256];
    assert_int_equal(catalog_parse_datetime("2023-09-21T17:15:02Z", &q.has_start, &q.start,
                                            &q.has_end, &q.end, err, sizeof(err)),
                     0);
    assert_int_equal(search(f, &q, NULL), 1);
    assert_int_equal(catalog_parse_datetime("2024-01-01T00:00:00Z/2024-12-31T23:59:59Z",
                                            &q.has_start, &q.start, &q.has_end, &q.end, err,
                                            sizeof(err)),
                     0);
    assert_int_equal(search(f, &q, NULL), 5);
    assert_int_equal(catalog_parse_datetime("../2023-12-31T23:59:59Z", &q.has_start, &q.start,
                                            &q.has_end, &q.end, err, sizeof(err)),
                     0);
    assert_false(q.has_start);
    assert_int_equal(search(f, &q, NULL), 4);
    assert_int_equal(catalog_parse_datetime("2025-01-01T00:00:00Z/", &q.has_start, &q.start,
                                            &q.has_end, &q.end, err, sizeof(err)),
                     0);
    assert_false(q.has_end);
    assert_int_equal(search(f, &q, NULL), 3);
    q.groups = &f->partners;
    assert_int_equal(search(f, &q, NULL), 8);
    /* A date alone is the whole day. */
    assert_int_equal(catalog_parse_datetime("2023-09-21", &q.has_start, &q.start, &q.has_end,
                                            &q.end, err, sizeof(err)),
                     0);
    assert_int_equal(search(f, &q, NULL), 2);
}

static void test_ids_collections_search(void **state)
{
    struct fixture *f = *state;
    import_sample(f);
    struct strlist ids = STRLIST_INIT, colls = STRLIST_INIT;
    strlist_add(&ids, "ch4-algeria-20241112");
    strlist_add(&ids, "ch4-partner-bakken-20250502");
    strlist_add(&ids, "no-such-item");
    struct catalog_query q = {.ids = &ids};
    assert_int_equal(search(f, &q, NULL), 1);
    q.groups = &f->partners;
    assert_int_equal(search(f, &q, NULL), 2);

    strlist_add(&colls, "co2-plumes");
    struct catalog_query q2 = {.collections = &colls};
    assert_int_equal(search(f, &q2, NULL), 4);
    strlist_add(&colls, "methane-plumes-partner-preview");
    assert_int_equal(search(f, &q2, NULL), 4);
    q2.groups = &f->partners;
    assert_int_equal(search(f, &q2, NULL), 9);
    strlist_free(&ids);
    strlist_free(&colls);
}

static struct catalog_geom *geom(const char *json)
{
    char err[256];
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    struct catalog_geom *g = catalog_geom_parse(j, err, sizeof(err));
    cJSON_Delete(j);
    return g;
}

static void test_intersects_search(void **state)
{
    struct fixture *f = *state;
    import_sample(f);
    /* The footprint's center: exactly one item. */
    struct catalog_geom *g = geom("{\"type\":\"Point\",\"coordinates\":[-103.612,31.874]}");
    assert_non_null(g);
    struct catalog_query q = {.intersects = g};
    assert_int_equal(search(f, &q, NULL), 1);
    catalog_geom_free(g);
    /* Inside the footprint's bbox but outside its slanted left edge: none. */
    g = geom("{\"type\":\"Point\",\"coordinates\":[-103.6235,31.8815]}");
    q.intersects = g;
    assert_int_equal(search(f, &q, NULL), 0);
    catalog_geom_free(g);
    /* A polygon around the Permian basin. */
    g = geom("{\"type\":\"Polygon\",\"coordinates\":[[[-104.5,31],[-103,31],[-103,32.5],"
             "[-104.5,32.5],[-104.5,31]]]}");
    q.intersects = g;
    assert_int_equal(search(f, &q, NULL), 2);
    q.groups = &f->partners;
    assert_int_equal(search(f, &q, NULL), 4);
    catalog_geom_free(g);
}

static void test_get_and_visibility(void **state)
{
    struct fixture *f = *state;
    import_sample(f);
    cJSON *doc = NULL;
    assert_int_equal(catalog_collection_get(f->cat, NULL, "methane-plumes", &doc), 0);
    assert_string_equal(cJSON_GetObjectItem(doc, "id")->valuestring, "methane-plumes");
    cJSON_Delete(doc);
    assert_int_equal(catalog_collection_get(f->cat, NULL, "methane-plumes-partner-preview", &doc),
                     -ENOENT);
    assert_null(doc);
    assert_int_equal(catalog_collection_get(f->cat, NULL, "nope", &doc), -ENOENT);
    assert_int_equal(
        catalog_collection_get(f->cat, &f->partners, "methane-plumes-partner-preview", &doc), 0);
    cJSON_Delete(doc);

    assert_int_equal(catalog_item_get(f->cat, NULL, "co2-plumes", "co2-kendal-20250211", &doc), 0);
    assert_non_null(cJSON_GetObjectItem(doc, "bbox"));
    cJSON_Delete(doc);
    assert_int_equal(catalog_item_get(f->cat, NULL, "methane-plumes-partner-preview",
                                      "ch4-partner-bakken-20250502", &doc),
                     -ENOENT);
    assert_int_equal(catalog_item_get(f->cat, &f->partners, "methane-plumes-partner-preview",
                                      "ch4-partner-bakken-20250502", &doc),
                     0);
    cJSON_Delete(doc);
    assert_int_equal(catalog_item_get(f->cat, NULL, "methane-plumes", "co2-kendal-20250211", &doc),
                     -ENOENT);

    assert_int_equal(
        catalog_asset_visible(f->cat, NULL, "methane/ch4-permian-20230614a/rgb.png"), 0);
    assert_int_equal(
        catalog_asset_visible(f->cat, NULL, "partner/ch4-partner-bakken-20250502/rgb.png"),
        -ENOENT);
    assert_int_equal(catalog_asset_visible(f->cat, &f->partners,
                                           "partner/ch4-partner-bakken-20250502/rgb.png"),
                     0);
    assert_int_equal(catalog_asset_visible(f->cat, NULL, "README.txt"), -ENOENT);
    assert_int_equal(catalog_asset_visible(f->cat, NULL, "../etc/passwd"), -ENOENT);

    /* Groups unknown to the catalog change nothing. */
    struct strlist other = STRLIST_INIT;
    strlist_add(&other, "Staff");
    struct catalog_query q = {.groups = &other};
    assert_int_equal(search(f, &q, NULL), 12);
    strlist_free(&other);
}

static void expect_import_error(struct fixture *f, const char *path, const char *needle1,
                                const char *needle2)
{
    char err[512];
    assert_int_not_equal(catalog_import_path(f->cat, path, NULL, err, sizeof(err)), 0);
    if (!strstr(err, needle1) || (needle2 && !strstr(err, needle2)))
        fail_msg("error \"%s\" lacks \"%s\" / \"%s\"", err, needle1, needle2 ? needle2 : "");
}

static void test_import_invalid_nothing_partial(void **state)
{
    struct fixture *f = *state;
    char dir[128], buf[2048];
    snprintf(dir, sizeof(dir), "%s/in", f->dir);
    mkdir(dir, 0700);
    write_file(dir, "a_collection.json", collection_doc);
    snprintf(buf, sizeof(buf), ITEM_FMT, "i1", "i1");
    write_file(dir, "b_item.json", buf);
    /* An item without properties.datetime, after valid documents. */
    write_file(dir, "c_bad.json",
               "{\"type\":\"Feature\",\"stac_version\":\"1.0.0\",\"id\":\"bad\","
               "\"collection\":\"c1\",\"geometry\":null,\"properties\":{},\"links\":[],"
               "\"assets\":{}}");
    expect_import_error(f, dir, "c_bad.json", "datetime");
    cJSON *doc = NULL;
    assert_int_equal(catalog_collection_get(f->cat, NULL, "c1", &doc), -ENOENT);
    struct catalog_query q = {0};
    assert_int_equal(search(f, &q, NULL), 0);

    /* Fix it: everything loads. */
    write_file(dir, "c_bad.json",
               "{\"type\":\"Feature\",\"stac_version\":\"1.0.0\",\"id\":\"ok\","
               "\"collection\":\"c1\",\"geometry\":null,\"properties\":{\"datetime\":null,"
               "\"start_datetime\":\"2020-01-01T00:00:00Z\",\"end_datetime\":"
               "\"2020-02-01T00:00:00Z\"},\"links\":[],\"assets\":{}}");
    char err[512];
    assert_int_equal(catalog_import_path(f->cat, dir, NULL, err, sizeof(err)), 0);
    assert_int_equal(search(f, &q, NULL), 2);
    assert_int_equal(catalog_asset_visible(f->cat, NULL, "x/i1.txt"), 0);

    /* Single-file errors name the field. */
    char file[160];
    snprintf(file, sizeof(file), "%s/one.json", f->dir);
    write_file(f->dir, "one.json", "{\"type\":\"Collection\",\"id\":\"c2\"}");
    expect_import_error(f, file, "one.json", "stac_version");
    write_file(f->dir, "one.json",
               "{\"type\":\"Collection\",\"stac_version\":\"1.0.0\",\"id\":\"c2\","
               "\"description\":\"d\",\"links\":[]}");
    expect_import_error(f, file, "one.json", "license");
    write_file(f->dir, "one.json", "{\"type\": \"Feature\", ");
    expect_import_error(f, file, "one.json", "not valid JSON");
    write_file(f->dir, "one.json", "[1,2,3]");
    expect_import_error(f, file, "one.json", "object");
    write_file(f->dir, "one.json", "{\"type\":\"Thing\"}");
    expect_import_error(f, file, "one.json", "Thing");
    snprintf(buf, sizeof(buf), ITEM_FMT, "i2", "i2");
    char *p = strstr(buf, "\"c1\"");
    memcpy(p, "\"zz\"", 4);
    write_file(f->dir, "one.json", buf);
    expect_import_error(f, file, "one.json", "zz");
    write_file(f->dir, "one.json",
               "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\","
               "\"stac_version\":\"1.0.0\",\"id\":\"g\",\"collection\":\"c1\",\"geometry\":"
               "{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1]]]},\"properties\":"
               "{\"datetime\":\"2021-01-01T00:00:00Z\"},\"links\":[],\"assets\":{}}]}");
    expect_import_error(f, file, "features[0]", "geometry");
    write_file(f->dir, "one.json",
               "{\"type\":\"Feature\",\"stac_version\":\"1.0.0\",\"id\":\"g\",\"collection\":"
               "\"c1\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[200,0]},\"properties\":"
               "{\"datetime\":\"2021-13-01T00:00:00Z\"},\"links\":[],\"assets\":{}}");
    expect_import_error(f, file, "one.json", "longitude");
    snprintf(file, sizeof(file), "%s/missing.json", f->dir);
    expect_import_error(f, file, "missing.json", NULL);
    assert_int_equal(search(f, &q, NULL), 2);
}

static void test_reimport_replaces(void **state)
{
    struct fixture *f = *state;
    char dir[128], buf[2048], err[512];
    snprintf(dir, sizeof(dir), "%s/re", f->dir);
    mkdir(dir, 0700);
    write_file(dir, "c.json", collection_doc);
    snprintf(buf, sizeof(buf), ITEM_FMT, "i1", "old");
    write_file(dir, "i.json", buf);
    assert_int_equal(catalog_import_path(f->cat, dir, NULL, err, sizeof(err)), 0);
    snprintf(buf, sizeof(buf), ITEM_FMT, "i1", "new");
    write_file(dir, "i.json", buf);
    struct strlist partners = STRLIST_INIT;
    strlist_add(&partners, "Partners");
    /* Re-import the item alone, now restricted; its collection is already loaded. */
    char file[160];
    snprintf(file, sizeof(file), "%s/i.json", dir);
    assert_int_equal(catalog_import_path(f->cat, file, &partners, err, sizeof(err)), 0);
    struct catalog_query q = {0};
    assert_int_equal(search(f, &q, NULL), 0);
    q.groups = &f->partners;
    assert_int_equal(search(f, &q, NULL), 1);
    assert_int_equal(catalog_asset_visible(f->cat, &f->partners, "x/old.txt"), -ENOENT);
    assert_int_equal(catalog_asset_visible(f->cat, &f->partners, "x/new.txt"), 0);
    /* Bbox from geometry was added to the stored document. */
    cJSON *doc;
    assert_int_equal(catalog_item_get(f->cat, &f->partners, "c1", "i1", &doc), 0);
    cJSON *bbox = cJSON_GetObjectItem(doc, "bbox");
    assert_int_equal(cJSON_GetArraySize(bbox), 4);
    assert_true(cJSON_GetArrayItem(bbox, 0)->valuedouble == 1.0);
    cJSON_Delete(doc);
    strlist_free(&partners);
}

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
    assert_int_equal(catalog_parse_datetime("../..", &hs, &s, &he, &e, err, 256), 0);
    assert_false(hs || he);
    assert_int_equal(catalog_parse_datetime("/2020-01-02", &hs, &s, &he, &e, err, 256), 0);
    assert_true(!hs && he && e == 1577836800000LL + 2 * 86400000LL - 1);
    const char *bad[] = {"", "..", "yesterday", "2020-02-30T00:00:00Z", "2020-01-01T00:00:00Z/x",
                         "2021-01-01T00:00:00Z/2020-01-01T00:00:00Z", "a/b/c",
                         "2020-01-01T00:00:00Z/2020-01-02T00:00:00Z/"};
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

static void *search_thread(void *arg)
{
    struct fixture *f = arg;
    for (int i = 0; i < 200; i++) {
        struct catalog_query q = {.limit = 10, .has_bbox = true, .bbox = {-180, -90, 180, 90}};
        int64_t matched;
        cJSON *items;
        if (catalog_search(f->cat, &q, &matched, &items) != 0 || matched != 12) {
            cJSON_Delete(items);
            return (void *)1;
        }
        cJSON_Delete(items);
    }
    return NULL;
}

static void test_concurrent_search(void **state)
{
    struct fixture *f = *state;
    import_sample(f);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, search_thread, f);
    for (int i = 0; i < 4; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        assert_null(ret);
    }
}

static int capture_tpl(void *ctx, const char *collection, const char *id, const char *tpl,
                       size_t len)
{
    struct strlist *out = ctx;
    char *copy = strndup(tpl, len);
    strlist_push(out, collection);
    strlist_push(out, id);
    strlist_push(out, copy);
    free(copy);
    return 0;
}

static void test_item_templates(void **state)
{
    struct fixture *f = *state;
    import_sample(f);
    struct strlist got = STRLIST_INIT;
    assert_int_equal(catalog_item_each(f->cat, NULL, "methane-plumes", "ch4-permian-20230614a",
                                       capture_tpl, &got),
                     0);
    assert_int_equal(got.n, 3);
    assert_string_equal(got.v[0], "methane-plumes");
    assert_string_equal(got.v[1], "ch4-permian-20230614a");
    const char *tpl = got.v[2];
    assert_non_null(strstr(tpl, "\"href\":\"" CATALOG_ASSET_MARKER
                                "methane/ch4-permian-20230614a/rgb.png\""));
    /* Links come last and stay open for the caller's navigation links. */
    const char *links = strstr(tpl, "\"links\":[");
    assert_non_null(links);
    assert_null(strstr(links + 1, "\"links\":"));
    assert_int_equal(tpl[strlen(tpl) - 1], '}');
    char text[8192];
    snprintf(text, sizeof(text), "%s]}", tpl);
    cJSON *doc = cJSON_Parse(text);
    assert_non_null(doc);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "links")), 1);
    cJSON_Delete(doc);
    strlist_free(&got);
    assert_int_equal(catalog_item_each(f->cat, NULL, "methane-plumes-partner-preview",
                                       "ch4-partner-bakken-20250502", capture_tpl, &got),
                     -ENOENT);

    struct catalog_query q = {.limit = 4, .offset = 2};
    int64_t matched;
    assert_int_equal(catalog_search_each(f->cat, &q, &matched, capture_tpl, &got), 0);
    assert_int_equal(matched, 12);
    assert_int_equal(got.n, 12);
    strlist_free(&got);
}

/* The generation moves with every import, including one made through
 * another connection (as `tessera stac import` does from its own process),
 * and stays put while nothing is written. Searches do not move it. */
static void test_generation_follows_writes(void **state)
{
    struct fixture *f = *state;
    uint64_t g0 = catalog_generation(f->cat);
    assert_true(g0 != 0);
    assert_int_equal(catalog_generation(f->cat), g0);
    import_sample(f);
    uint64_t g1 = catalog_generation(f->cat);
    assert_true(g1 > g0);
    struct catalog_query q = {.groups = &f->partners};
    assert_int_equal(search(f, &q, NULL), 17);
    assert_int_equal(catalog_generation(f->cat), g1);
    struct catalog *other = catalog_open(f->dir, NULL);
    assert_non_null(other);
    char err[512];
    assert_int_equal(catalog_import_path(other, SAMPLE "/public", NULL, err, sizeof(err)), 0);
    assert_true(catalog_generation(f->cat) > g1);
    catalog_close(other);
    assert_int_equal(catalog_generation(NULL), 0);
}

static void test_null_catalog(void **state)
{
    (void)state;
    cJSON *out = NULL;
    int64_t matched;
    struct catalog_query q = {.limit = 10};
    assert_int_equal(catalog_search(NULL, &q, &matched, &out), 0);
    assert_int_equal(matched, 0);
    cJSON_Delete(out);
    assert_int_equal(catalog_collection_get(NULL, NULL, "x", &out), -ENOENT);
    assert_int_equal(catalog_asset_visible(NULL, NULL, "x"), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_import_sample_and_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_offset_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bbox_search, setup, teardown),
        cmocka_unit_test_setup_teardown(test_datetime_search, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ids_collections_search, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intersects_search, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_and_visibility, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_invalid_nothing_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reimport_replaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_search, setup, teardown),
        cmocka_unit_test_setup_teardown(test_item_templates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generation_follows_writes, setup, teardown),
        cmocka_unit_test(test_parse_bbox),
        cmocka_unit_test(test_parse_datetime),
        cmocka_unit_test(test_geometry),
        cmocka_unit_test(test_null_catalog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
