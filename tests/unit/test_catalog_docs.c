/* Unit tests for what the catalog reads from STAC documents beyond
 * test_catalog.c: datetimes across the whole RFC 3339 range (items from
 * before 1970 and year 0001, with up to nine fractional digits, imported and
 * found by datetime searches in the right order) and the media type an item
 * declares for an asset (catalog_asset_type, catalog_asset_key). Both
 * drivers: SQLite in a temporary data directory and PostgreSQL in a fresh
 * database on the ctest cluster (pgtest.h). Single-threaded. */
#include <errno.h>
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
#include "catalogtest.h"
#include "pgtest.h"

struct fixture {
    char dir[64];
    char *url; /* PostgreSQL: the test's own database; NULL for SQLite */
    struct catalog *cat;
};

/* A fresh database with the change-log tables the catalog driver writes to
 * (in a deployment the store's migrations create them first). */
static char *pg_db(void)
{
    char *url = pgtest_db_create();
    if (!url)
        return NULL;
    PGconn *c = PQconnectdb(url);
    PGresult *r = PQexec(c, "CREATE TABLE change_seq (seq BIGINT NOT NULL);"
                            "INSERT INTO change_seq VALUES (0);"
                            "CREATE TABLE change_log (seq BIGINT PRIMARY KEY, kind INTEGER NOT NULL,"
                            " account_id BIGINT NOT NULL, token_id TEXT NOT NULL,"
                            " at BIGINT NOT NULL);"
                            "CREATE TABLE nodes (id TEXT PRIMARY KEY, applied_seq BIGINT NOT NULL,"
                            " lease_until BIGINT NOT NULL)");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    PQfinish(c);
    if (!ok) {
        pgtest_db_drop(url);
        return NULL;
    }
    return url;
}

static int setup_driver(void **state, bool pg)
{
    struct fixture *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/test_catalog_docs.XXXXXX");
    if (!mkdtemp(f->dir) || (pg && !(f->url = pg_db())))
        return -1;
    f->cat = catalog_open(f->dir, f->url);
    if (!f->cat)
        return -1;
    *state = f;
    return 0;
}

static int setup_sqlite(void **state)
{
    return setup_driver(state, false);
}

static int setup_pg(void **state)
{
    return setup_driver(state, true);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    catalog_close(f->cat);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    pgtest_db_drop(f->url);
    free(f);
    return 0;
}

#define ITEM(id, props)                                                                            \
    "{\"type\":\"Feature\",\"stac_version\":\"1.0.0\",\"id\":\"" id "\",\"collection\":\"old\","  \
    "\"geometry\":{\"type\":\"Point\",\"coordinates\":[1,2]},\"properties\":{" props "},"          \
    "\"links\":[],\"assets\":{}}"

static const char *const collection_text =
    "{\"type\":\"Collection\",\"stac_version\":\"1.0.0\",\"id\":\"old\",\"description\":\"d\","
    "\"license\":\"CC-BY-4.0\",\"extent\":{\"spatial\":{\"bbox\":[[-10,-10,10,10]]},"
    "\"temporal\":{\"interval\":[[\"0001-01-01T00:00:00Z\",\"2001-01-01T00:00:00.123456789Z\"]]}},"
    "\"links\":[]}";

static const char *const items_text =
    "{\"type\":\"FeatureCollection\",\"features\":["
    ITEM("y0001", "\"datetime\":\"0001-01-01T00:00:00Z\"") ","
    ITEM("y1850", "\"datetime\":null,\"start_datetime\":\"1850-06-01T00:00:00+01:00\","
                  "\"end_datetime\":\"1851-06-01T00:00:00-05:00\"") ","
    ITEM("y1900", "\"datetime\":\"1900-01-01T00:00:00Z\"") ","
    ITEM("y1955", "\"datetime\":\"1955-05-05T05:05:05.1234567Z\"") ","
    ITEM("y1969", "\"datetime\":\"1969-12-31T23:59:59.999999999Z\"") ","
    ITEM("y1970", "\"datetime\":\"1970-01-01T00:00:00Z\"") ","
    ITEM("y2001", "\"datetime\":\"2001-02-03T04:05:06.123456789+00:00\"") "]}";

static void import(struct fixture *f)
{
    char dir[96], err[512];
    snprintf(dir, sizeof(dir), "%s/in", f->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    write_file(dir, "collection.json", collection_text);
    write_file(dir, "items.json", items_text);
    struct catalog_import_result res;
    int rc = catalog_import_path_ex(f->cat, dir, NULL, NULL, &res, err, sizeof(err));
    if (rc)
        fail_msg("import: %s", err);
    assert_int_equal(res.items, 7);
}

/* The ids a datetime search finds, in page order, comma-separated. */
static void search_ids(struct fixture *f, const char *datetime, char *out, size_t outlen)
{
    struct catalog_query q = {.limit = 100};
    char err[256];
    if (catalog_parse_datetime(datetime, &q.has_start, &q.start, &q.has_end, &q.end, err,
                               sizeof(err)) < 0)
        fail_msg("%s: %s", datetime, err);
    int64_t matched = -1;
    cJSON *items = NULL;
    assert_int_equal(catalog_search(f->cat, &q, &matched, &items), 0);
    out[0] = '\0';
    const cJSON *it;
    cJSON_ArrayForEach(it, items)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        snprintf(out + strlen(out), outlen - strlen(out), "%s%s", out[0] ? "," : "",
                 id->valuestring);
    }
    assert_int_equal(matched, cJSON_GetArraySize(items));
    cJSON_Delete(items);
}

static void test_before_1970(void **state)
{
    struct fixture *f = *state;
    import(f);
    char ids[256];
    /* Newest first, negative start times included. */
    search_ids(f, "0001-01-01T00:00:00Z/..", ids, sizeof(ids));
    assert_string_equal(ids, "y2001,y1970,y1969,y1955,y1900,y1850,y0001");
    search_ids(f, "../1969-12-31T23:59:59.999Z", ids, sizeof(ids));
    assert_string_equal(ids, "y1969,y1955,y1900,y1850,y0001");
    search_ids(f, "1900-01-01", ids, sizeof(ids));
    assert_string_equal(ids, "y1900");
    search_ids(f, "0001-01-01T00:00:00Z", ids, sizeof(ids));
    assert_string_equal(ids, "y0001");
    /* The 1850-51 interval, from within and at its (offset-shifted) ends. */
    search_ids(f, "1851-01-01T00:00:00Z", ids, sizeof(ids));
    assert_string_equal(ids, "y1850");
    search_ids(f, "1850-05-31T23:00:00Z/1850-05-31T23:00:00Z", ids, sizeof(ids));
    assert_string_equal(ids, "y1850");
    search_ids(f, "1850-05-31T22:59:59.999999Z/1850-05-31T22:59:59.999Z", ids, sizeof(ids));
    assert_string_equal(ids, "");
    search_ids(f, "1851-06-01T05:00:00.001Z/1860-01-01", ids, sizeof(ids));
    assert_string_equal(ids, "");
    /* Nine fractional digits are truncated to the millisecond. */
    search_ids(f, "1955-05-05T05:05:05.123999999Z", ids, sizeof(ids));
    assert_string_equal(ids, "y1955");
    search_ids(f, "1969-12-31T23:59:59.999Z/1970-01-01T00:00:00Z", ids, sizeof(ids));
    assert_string_equal(ids, "y1970,y1969");
    search_ids(f, "2001-02-03T04:05:06.123Z", ids, sizeof(ids));
    assert_string_equal(ids, "y2001");
}

static void test_asset_type(void **state)
{
    struct fixture *f = *state;
    char dir[96], err[512], type[128];
    snprintf(dir, sizeof(dir), "%s/in", f->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    write_file(dir, "collection.json", collection_text);
    /* Two items share a.tif with different declarations: the first by
     * collection and id ("i1") speaks. A percent-encoded href decodes to
     * its key. */
    char path[160];
    snprintf(path, sizeof(path), "%s/items.json", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("{\"type\":\"FeatureCollection\",\"features\":["
          "{\"type\":\"Feature\",\"stac_version\":\"1.0.0\",\"id\":\"i2\",\"collection\":\"old\","
          "\"geometry\":null,\"properties\":{\"datetime\":\"2020-01-01T00:00:00Z\"},\"links\":[],"
          "\"assets\":{\"a\":{\"href\":\"./d/a.tif\",\"type\":\"image/tiff\"}}},"
          "{\"type\":\"Feature\",\"stac_version\":\"1.0.0\",\"id\":\"i1\",\"collection\":\"old\","
          "\"geometry\":null,\"properties\":{\"datetime\":\"1900-01-01T00:00:00Z\"},\"links\":[],"
          "\"assets\":{\"x\":{\"href\":\"d/other.png\"},"
          "\"cog\":{\"href\":\"d/a.tif\",\"type\":\"image/tiff; application=geotiff; "
          "profile=cloud-optimized\"},"
          "\"sp\":{\"href\":\"d/with%20space.csv\"}}}]}",
          fp);
    fclose(fp);
    if (catalog_import_path(f->cat, dir, NULL, err, sizeof(err)) != 0)
        fail_msg("import: %s", err);
    assert_int_equal(catalog_asset_type(f->cat, NULL, "d/a.tif", type, sizeof(type)), 0);
    assert_string_equal(type, "image/tiff; application=geotiff; profile=cloud-optimized");
    assert_int_equal(catalog_asset_type(f->cat, NULL, "d/other.png", type, sizeof(type)), 0);
    assert_string_equal(type, "");
    assert_int_equal(catalog_asset_type(f->cat, NULL, "d/with space.csv", type, sizeof(type)), 0);
    assert_string_equal(type, "");
    assert_int_equal(catalog_asset_type(f->cat, NULL, "d/none.tif", type, sizeof(type)), -ENOENT);
    /* A declaration that does not fit is left out, not cut. */
    assert_int_equal(catalog_asset_type(f->cat, NULL, "d/a.tif", type, 10), 0);
    assert_string_equal(type, "");
    char key[64];
    assert_true(catalog_asset_key("./d/a%2Fb.tif?x=1", key, sizeof(key)));
    assert_string_equal(key, "d/a/b.tif");
    assert_true(catalog_asset_key("https://h/api/v1/catalog/asset/d/x.png", key, sizeof(key)));
    assert_string_equal(key, "d/x.png");
    assert_false(catalog_asset_key("https://elsewhere.example/x.png", key, sizeof(key)));
    assert_false(catalog_asset_key("../x.png", key, sizeof(key)));
    /* Percent-decoding: escapes anywhere, a '%' without two hex digits as
     * it is, %00 refused, and a key that does not fit refused, not cut. */
    static const struct {
        const char *href, *key;
    } keys[] = {
        {"%64/a%41b.tif", "d/aAb.tif"}, {"d/100%", "d/100%"},     {"d/1%4", "d/1%4"},
        {"d/%zz%4g", "d/%zz%4g"},       {"d/%41%42", "d/AB"},      {"d/x%2", "d/x%2"},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        assert_true(catalog_asset_key(keys[i].href, key, sizeof(key)));
        assert_string_equal(key, keys[i].key);
    }
    assert_false(catalog_asset_key("d/a%2f%2Fb", key, sizeof(key))); /* an empty segment */
    assert_false(catalog_asset_key("d/a%00b", key, sizeof(key)));
    assert_true(catalog_asset_key("d/abcd", key, 7));
    assert_string_equal(key, "d/abcd");
    assert_false(catalog_asset_key("d/abcde", key, 7));
    assert_false(catalog_asset_key("d/abc%41", key, 6));
    assert_true(catalog_asset_key("d/abc%41", key, 7));
    assert_string_equal(key, "d/abcA");
}

/* A store-level test, once per driver. */
#define BOTH_DRIVERS(t)                                                                            \
    {"sqlite/" #t, t, setup_sqlite, teardown, NULL}, {"postgresql/" #t, t, setup_pg, teardown, NULL}

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH_DRIVERS(test_before_1970),
        BOTH_DRIVERS(test_asset_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
