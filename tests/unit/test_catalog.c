/* Unit tests for the catalog (src/catalog/): importing a small fixture
 * catalog (tests/fixtures/catalog: two public collections, one for Partners)
 * and bad documents (nothing partial), search by bbox / datetime /
 * ids / collections / intersects with visibility filtering, counts, offsets
 * and order, asset ownership, templates and the generation (the parameter
 * parsers and geometry are in test_catalog_parse.c). Every store-level test
 * runs against both drivers: SQLite in a temporary data directory, and
 * PostgreSQL in a fresh database on the ctest cluster (tests/unit/pgtest.h).
 * Single-threaded apart from the concurrent search and import tests. */
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
#include "catalogtest.h"
#include "pgtest.h"

#define FIXTURE TESSERA_SOURCE_DIR "/tests/fixtures/catalog"

struct fixture {
    char dir[64]; /* temporary files (and catalog.db for SQLite) */
    char *url;    /* PostgreSQL: the test's own database; NULL for SQLite */
    struct catalog *cat;
    struct strlist partners; /* groups of a Partners account */
};

static int rm_tree(const char *path)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    return system(cmd);
}

static PGresult *sql_on(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQfinish(c);
    return r;
}

/* A fresh database whose default collation is ICU's en-US, where "a" sorts
 * before "B": the driver must order ids byte-wise (as SQLite does) whatever
 * the database's collation. Then the change-log tables that pg_change_note
 * and pg_barrier use (pg.c's statements give their shape); in a real
 * deployment the store's migrations create them before the catalog opens. */
static char *pg_catalog_db(void)
{
    static unsigned counter;
    const char *admin = pgtest_admin_url();
    if (!admin)
        return NULL;
    char name[64], sql[256];
    snprintf(name, sizeof(name), "catalog_%d_%u", (int)getpid(), counter++);
    snprintf(sql, sizeof(sql),
             "CREATE DATABASE \"%s\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
             " LOCALE 'C'",
             name);
    if (pgtest_admin_exec(sql) < 0)
        return NULL;
    /* Same server, other database: replace the path of the URL. */
    size_t prefix = (size_t)(strchr(strstr(admin, "://") + 3, '/') - admin);
    char *url = malloc(prefix + strlen(name) + 2);
    sprintf(url, "%.*s/%s", (int)prefix, admin, name);
    PQclear(sql_on(url, "CREATE TABLE change_seq (seq BIGINT NOT NULL);"
                        "INSERT INTO change_seq VALUES (0);"
                        "CREATE TABLE change_log (seq BIGINT PRIMARY KEY, kind INTEGER NOT NULL,"
                        " account_id BIGINT NOT NULL, token_id TEXT NOT NULL, at BIGINT NOT NULL);"
                        "CREATE TABLE nodes (id TEXT PRIMARY KEY, applied_seq BIGINT NOT NULL,"
                        " lease_until BIGINT NOT NULL)"));
    return url;
}

static int setup_driver(void **state, bool pg)
{
    struct fixture *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/test_catalog.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    if (pg && !(f->url = pg_catalog_db()))
        return -1;
    f->cat = catalog_open(f->dir, f->url);
    if (!f->cat)
        return -1;
    strlist_add(&f->partners, "Public");
    strlist_add(&f->partners, "Partners");
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
    catalog_close(f->cat);
    rm_tree(f->dir);
    pgtest_db_drop(f->url);
    strlist_free(&f->partners);
    free(f);
    return 0;
}

/* The value of a one-row, one-column query on the test's database. */
static int64_t pg_scalar(struct fixture *f, const char *sql)
{
    PGresult *r = sql_on(f->url, sql);
    assert_int_equal(PQntuples(r), 1);
    int64_t v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static void import_fixture(struct fixture *f)
{
    char err[512];
    struct strlist pub = STRLIST_INIT, partners = STRLIST_INIT;
    struct catalog_import_result res;
    strlist_add(&pub, "Public");
    strlist_add(&partners, "Partners");
    int rc = catalog_import_path_ex(f->cat, FIXTURE "/public", &pub, NULL, &res, err, sizeof(err));
    if (rc)
        fail_msg("import public: %s", err);
    assert_int_equal(res.collections, 2);
    assert_int_equal(res.items, 12);
    rc = catalog_import_path_ex(f->cat, FIXTURE "/restricted", &partners, NULL, &res, err, sizeof(err));
    if (rc)
        fail_msg("import restricted: %s", err);
    assert_int_equal(res.collections, 1);
    assert_int_equal(res.items, 5);
    strlist_free(&pub);
    strlist_free(&partners);
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

static void test_import_fixture_and_counts(void **state)
{
    struct fixture *f = *state;
    import_fixture(f);
    struct catalog_query q = {0};
    size_t n;
    assert_int_equal(search(f, &q, &n), 12);
    assert_int_equal(n, 12);
    q.groups = &f->partners;
    assert_int_equal(search(f, &q, &n), 17);
    assert_int_equal(n, 17);

    /* Re-import replaces by id: counts stay the same. */
    import_fixture(f);
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
    import_fixture(f);
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
    q.limit = CATALOG_MAX_LIMIT + 1;
    assert_int_equal(catalog_search(f->cat, &q, &matched, &items), -EINVAL);
    q.limit = 10;
    q.offset = -1;
    assert_int_equal(catalog_search(f->cat, &q, &matched, &items), -EINVAL);
}

static void test_bbox_search(void **state)
{
    struct fixture *f = *state;
    import_fixture(f);
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
    import_fixture(f);
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
    import_fixture(f);
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

static void test_intersects_search(void **state)
{
    struct fixture *f = *state;
    import_fixture(f);
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
    import_fixture(f);
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
    import_fixture(f);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, search_thread, f);
    for (int i = 0; i < 4; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        assert_null(ret);
    }
}

struct import_arg {
    struct fixture *f;
    int rc;
};

static void *import_thread(void *arg)
{
    struct import_arg *a = arg;
    /* A catalog of its own, as another process or node has. */
    struct catalog *cat = catalog_open(a->f->dir, a->f->url);
    char err[512];
    a->rc = cat ? 0 : -EIO;
    /* Items alone first: no collection row to queue the imports up on. */
    for (int i = 0; i < 5 && a->rc == 0; i++)
        a->rc = catalog_import_path(cat, a->f->dir, NULL, err, sizeof(err));
    for (int i = 0; i < 2 && a->rc == 0; i++)
        a->rc = catalog_import_path(cat, FIXTURE "/public", NULL, err, sizeof(err));
    catalog_close(cat);
    return NULL;
}

/* Imports that replace the same documents at the same time all succeed,
 * one after the other, and leave one copy of each. */
static void test_concurrent_imports(void **state)
{
    struct fixture *f = *state;
    char buf[2048], name[32], err[512];
    import_fixture(f);
    /* 40 items of the already loaded collection c1, in f->dir. */
    snprintf(buf, sizeof(buf), "%s/c.json", f->dir);
    write_file(f->dir, "c.json", collection_doc);
    assert_int_equal(catalog_import_path(f->cat, buf, NULL, err, sizeof(err)), 0);
    unlink(buf);
    for (int i = 0; i < 40; i++) {
        char id[16];
        snprintf(id, sizeof(id), "n%02d", i);
        snprintf(buf, sizeof(buf), ITEM_FMT, id, id);
        snprintf(name, sizeof(name), "%s.json", id);
        write_file(f->dir, name, buf);
    }
    pthread_t t[3];
    struct import_arg args[3];
    for (int i = 0; i < 3; i++) {
        args[i] = (struct import_arg){f, -1};
        pthread_create(&t[i], NULL, import_thread, &args[i]);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].rc, 0);
    }
    struct catalog_query q = {0};
    size_t n;
    assert_int_equal(search(f, &q, &n), 52);
    assert_int_equal(n, 52);
    q.groups = &f->partners;
    assert_int_equal(search(f, &q, NULL), 57);
    assert_int_equal(catalog_asset_visible(f->cat, NULL, "methane/ch4-permian-20230614a/rgb.png"),
                     0);
    assert_int_equal(catalog_asset_visible(f->cat, NULL, "x/n39.txt"), 0);
    if (f->url)
        assert_int_equal(pg_scalar(f, "SELECT count(*) FROM catalog_assets"),
                         pg_scalar(f, "SELECT count(DISTINCT key) FROM catalog_assets"));
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
    import_fixture(f);
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

/* A public item in a hidden collection is hidden too: everywhere, and not
 * counted. */
static void test_hidden_collection_hides_items(void **state)
{
    struct fixture *f = *state;
    char dir[128], buf[2048], err[512], file[160];
    snprintf(dir, sizeof(dir), "%s/hc", f->dir);
    mkdir(dir, 0700);
    write_file(dir, "c.json", collection_doc);
    struct strlist partners = STRLIST_INIT;
    strlist_add(&partners, "Partners");
    snprintf(file, sizeof(file), "%s/c.json", dir);
    assert_int_equal(catalog_import_path(f->cat, file, &partners, err, sizeof(err)), 0);
    snprintf(buf, sizeof(buf), ITEM_FMT, "i1", "i1");
    write_file(dir, "i.json", buf);
    snprintf(file, sizeof(file), "%s/i.json", dir);
    assert_int_equal(catalog_import_path(f->cat, file, NULL, err, sizeof(err)), 0);

    struct catalog_query q = {0};
    assert_int_equal(search(f, &q, NULL), 0);
    struct catalog_geom *g = geom("{\"type\":\"Point\",\"coordinates\":[1,2]}");
    q.intersects = g;
    assert_int_equal(search(f, &q, NULL), 0);
    cJSON *doc = NULL;
    assert_int_equal(catalog_item_get(f->cat, NULL, "c1", "i1", &doc), -ENOENT);
    assert_int_equal(catalog_asset_visible(f->cat, NULL, "x/i1.txt"), -ENOENT);
    struct strlist got = STRLIST_INIT;
    assert_int_equal(catalog_item_each(f->cat, NULL, "c1", "i1", capture_tpl, &got), -ENOENT);
    assert_int_equal(got.n, 0);

    q.groups = &f->partners;
    assert_int_equal(search(f, &q, NULL), 1);
    q.intersects = NULL;
    assert_int_equal(search(f, &q, NULL), 1);
    assert_int_equal(catalog_item_get(f->cat, &f->partners, "c1", "i1", &doc), 0);
    assert_string_equal(cJSON_GetObjectItem(doc, "id")->valuestring, "i1");
    cJSON_Delete(doc);
    assert_int_equal(catalog_asset_visible(f->cat, &f->partners, "x/i1.txt"), 0);
    catalog_geom_free(g);
    strlist_free(&partners);
}

/* The generation moves with every import of this process and stays put
 * while nothing is written; searches do not move it. An import through
 * another catalog (as `tessera stac import` makes from its own process, or
 * another node): SQLite sees it in the WAL header at once; PostgreSQL learns
 * of it when the change feed calls catalog_note_change. */
static void test_generation_follows_writes(void **state)
{
    struct fixture *f = *state;
    uint64_t g0 = catalog_generation(f->cat);
    assert_true(g0 != 0);
    assert_int_equal(catalog_generation(f->cat), g0);
    import_fixture(f);
    uint64_t g1 = catalog_generation(f->cat);
    assert_true(g1 > g0);
    struct catalog_query q = {.groups = &f->partners};
    assert_int_equal(search(f, &q, NULL), 17);
    assert_int_equal(catalog_generation(f->cat), g1);
    struct catalog *other = catalog_open(f->dir, f->url);
    assert_non_null(other);
    char err[512];
    assert_int_equal(catalog_import_path(other, FIXTURE "/public", NULL, err, sizeof(err)), 0);
    if (f->url) {
        assert_int_equal(catalog_generation(f->cat), g1);
        catalog_note_change(f->cat);
    }
    uint64_t g2 = catalog_generation(f->cat);
    assert_true(g2 > g1);
    catalog_close(other);
    if (!f->url) {
        /* Nothing to note on SQLite: the probe already saw the commit. */
        catalog_note_change(f->cat);
        assert_int_equal(catalog_generation(f->cat), g2);
    }
    assert_int_equal(catalog_generation(NULL), 0);
    catalog_note_change(NULL);
}

/* PostgreSQL: each committed import appends one catalog entry to the change
 * log (so other nodes drop their cached pages); a failed one appends none. */
static void test_pg_change_log(void **state)
{
    struct fixture *f = *state;
    import_fixture(f); /* two imports */
    assert_int_equal(pg_scalar(f, "SELECT count(*) FROM change_log WHERE kind = 3"), 2);
    assert_int_equal(pg_scalar(f, "SELECT max(seq) FROM change_log"), 2);
    assert_int_equal(pg_scalar(f, "SELECT seq FROM change_seq"), 2);
    char file[160], err[512];
    snprintf(file, sizeof(file), "%s/bad.json", f->dir);
    write_file(f->dir, "bad.json", "{\"type\":\"Thing\"}");
    assert_int_equal(catalog_import_path(f->cat, file, NULL, err, sizeof(err)), -EINVAL);
    assert_int_equal(pg_scalar(f, "SELECT count(*) FROM change_log"), 2);
    /* The schema is the "catalog" track's, at its current version. */
    assert_int_equal(pg_scalar(f, "SELECT max(version) FROM schema_migrations"
                                  " WHERE track = 'catalog'"),
                     2);
    assert_int_equal(pg_scalar(f, "SELECT count(*) FROM catalog_visibility"
                                  " WHERE collection = 'methane-plumes-partner-preview'"
                                  " AND grp = 'Public'"),
                     0);
}

/* PostgreSQL compares boxes with a tolerance of 1e-6; the driver compares
 * the corners exactly as well. (SQLite's R*Tree keeps 32-bit floats rounded
 * outwards, so it may also return items up to ~1e-6 degrees outside.) */
static void test_pg_box_exact(void **state)
{
    struct fixture *f = *state;
    char dir[128], err[512];
    snprintf(dir, sizeof(dir), "%s/exact", f->dir);
    mkdir(dir, 0700);
    write_file(dir, "c.json", collection_doc);
    write_file(dir, "i.json",
               "{\"type\":\"Feature\",\"stac_version\":\"1.0.0\",\"id\":\"near\","
               "\"collection\":\"c1\",\"geometry\":{\"type\":\"Point\",\"coordinates\":"
               "[10.0000005,0]},\"properties\":{\"datetime\":\"2021-01-01T00:00:00Z\"},"
               "\"links\":[],\"assets\":{}}");
    assert_int_equal(catalog_import_path(f->cat, dir, NULL, err, sizeof(err)), 0);
    struct catalog_query q = {.has_bbox = true, .bbox = {0, -1, 10, 1}};
    assert_int_equal(search(f, &q, NULL), 0);
    q.bbox[2] = 10.0000005;
    assert_int_equal(search(f, &q, NULL), 1);
    double across[4] = {10.0000006, -1, -170, 1};
    memcpy(q.bbox, across, sizeof(across));
    assert_int_equal(search(f, &q, NULL), 0);
}

/* Collects "collection/id" of a page, in order. */
static int page_ids(void *ctx, const char *collection, const char *id, const char *tpl,
                    size_t len)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s/%s", collection, id);
    return strlist_push(ctx, buf);
}

static void expect_order(struct fixture *f, struct catalog_query *q, const char *const *want,
                         size_t n)
{
    /* Whole list, then page by page (limit 2), through both entry points. */
    struct strlist got = STRLIST_INIT;
    int64_t matched = -1;
    q->limit = 100;
    q->offset = 0;
    assert_int_equal(catalog_search_each(f->cat, q, &matched, page_ids, &got), 0);
    assert_int_equal(matched, (int64_t)n);
    assert_int_equal(got.n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(got.v[i], want[i]);
    strlist_free(&got);
    q->limit = 2;
    for (q->offset = 0; q->offset < (int64_t)n + 2; q->offset += 2) {
        cJSON *items = NULL;
        assert_int_equal(catalog_search(f->cat, q, &matched, &items), 0);
        assert_int_equal(matched, (int64_t)n);
        int size = cJSON_GetArraySize(items);
        assert_int_equal(size, q->offset >= (int64_t)n ? 0 : n - (size_t)q->offset >= 2 ? 2 : 1);
        for (int i = 0; i < size; i++) {
            cJSON *it = cJSON_GetArrayItem(items, i);
            char buf[256];
            snprintf(buf, sizeof(buf), "%s/%s",
                     cJSON_GetObjectItem(it, "collection")->valuestring,
                     cJSON_GetObjectItem(it, "id")->valuestring);
            assert_string_equal(buf, want[q->offset + i]);
        }
        cJSON_Delete(items);
    }
}

/* Newest first; equal times by collection, then id, compared byte by byte
 * ("B" before "a"), on every path: plain search and the intersects one. */
static void test_order_and_pages(void **state)
{
    struct fixture *f = *state;
    import_fixture(f);
    static const char *const all[] = {
        "methane-plumes-partner-preview/ch4-partner-northsea-20250607",
        "methane-plumes-partner-preview/ch4-partner-appalachia-20250515",
        "methane-plumes-partner-preview/ch4-partner-bakken-20250502",
        "methane-plumes-partner-preview/ch4-partner-permian-20250421",
        "methane-plumes-partner-preview/ch4-partner-permian-20250420",
        "methane-plumes/ch4-buenosaires-20250304",
        "co2-plumes/co2-kendal-20250211",
        "methane-plumes/ch4-delhi-ghazipur-20250118",
        "methane-plumes/ch4-algeria-20241112",
        "co2-plumes/co2-taichung-20241029",
        "methane-plumes/ch4-turkmenistan-20240805",
        "co2-plumes/co2-belchatow-20240610",
        "methane-plumes/ch4-permian-20240322b",
        "co2-plumes/co2-fourcorners-pp-20230921",
        "methane-plumes/ch4-fourcorners-20230921",
        "methane-plumes/ch4-permian-20230614a",
        "methane-plumes/ch4-sanjoaquin-20230502",
    };
    struct catalog_query q = {.groups = &f->partners};
    expect_order(f, &q, all, 17);
    struct catalog_geom *world = geom("{\"type\":\"Polygon\",\"coordinates\":[[[-180,-90],"
                                      "[180,-90],[180,90],[-180,90],[-180,-90]]]}");
    q.intersects = world;
    expect_order(f, &q, all, 17);

    /* Ties: four items at the same instant in two collections. */
    char dir[128], buf[2048], err[512];
    snprintf(dir, sizeof(dir), "%s/ties", f->dir);
    mkdir(dir, 0700);
    write_file(dir, "c1.json", collection_doc);
    const char *c2 = "{\"type\":\"Collection\",\"stac_version\":\"1.0.0\",\"id\":\"C2\","
                     "\"description\":\"d\",\"license\":\"CC-BY-4.0\",\"extent\":{\"spatial\":"
                     "{\"bbox\":[[-10,-10,10,10]]},\"temporal\":{\"interval\":[[null,null]]}},"
                     "\"links\":[]}";
    write_file(dir, "c2.json", c2);
    const char *ids[] = {"a", "B", "b"};
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(buf, sizeof(buf), ITEM_FMT, ids[i], ids[i]);
        snprintf(name, sizeof(name), "i_%s_%d.json", ids[i], i);
        write_file(dir, name, buf);
    }
    snprintf(buf, sizeof(buf), ITEM_FMT, "z", "z");
    memcpy(strstr(buf, "\"c1\""), "\"C2\"", 4);
    write_file(dir, "i_z.json", buf);
    assert_int_equal(catalog_import_path(f->cat, dir, NULL, err, sizeof(err)), 0);
    static const char *const ties[] = {"C2/z", "c1/B", "c1/a", "c1/b"};
    struct strlist colls = STRLIST_INIT;
    strlist_add(&colls, "c1");
    strlist_add(&colls, "C2");
    struct catalog_query t = {.collections = &colls};
    expect_order(f, &t, ties, 4);
    t.intersects = world;
    expect_order(f, &t, ties, 4);
    catalog_geom_free(world);
    strlist_free(&colls);
}

/* Boxes across the antimeridian, in the query and in the data. */
static void test_antimeridian(void **state)
{
    struct fixture *f = *state;
    char dir[128], buf[2048], err[512];
    snprintf(dir, sizeof(dir), "%s/am", f->dir);
    mkdir(dir, 0700);
    write_file(dir, "c.json", collection_doc);
    const char *pts[][2] = {{"east", "179.5,1"}, {"west", "-179.5,-1"}, {"zero", "0,0"}};
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(buf, sizeof(buf),
                 "{\"type\":\"Feature\",\"stac_version\":\"1.0.0\",\"id\":\"%s\","
                 "\"collection\":\"c1\",\"geometry\":{\"type\":\"Point\",\"coordinates\":"
                 "[%s]},\"properties\":{\"datetime\":\"2021-01-01T00:00:00Z\"},\"links\":[],"
                 "\"assets\":{}}",
                 pts[i][0], pts[i][1]);
        snprintf(name, sizeof(name), "%s.json", pts[i][0]);
        write_file(dir, name, buf);
    }
    /* No geometry, a bbox that crosses 180°. */
    write_file(dir, "span.json",
               "{\"type\":\"Feature\",\"stac_version\":\"1.0.0\",\"id\":\"span\","
               "\"collection\":\"c1\",\"geometry\":null,\"bbox\":[170,-5,-170,5],"
               "\"properties\":{\"datetime\":\"2021-01-01T00:00:00Z\"},\"links\":[],"
               "\"assets\":{}}");
    assert_int_equal(catalog_import_path(f->cat, dir, NULL, err, sizeof(err)), 0);
    struct catalog_query q = {.has_bbox = true, .bbox = {170, -10, -170, 10}};
    assert_int_equal(search(f, &q, NULL), 3); /* east, west, span */
    double east_only[4] = {179, 0, -179.9, 2};
    memcpy(q.bbox, east_only, sizeof(east_only));
    assert_int_equal(search(f, &q, NULL), 2); /* east, span */
    double north[4] = {170, 6, -170, 10};
    memcpy(q.bbox, north, sizeof(north));
    assert_int_equal(search(f, &q, NULL), 0);
    double plain[4] = {-1, -1, 1, 1};
    memcpy(q.bbox, plain, sizeof(plain));
    assert_int_equal(search(f, &q, NULL), 1 + 1); /* zero, and span's full-range index */
    /* intersects never matches an item without a geometry. */
    struct catalog_geom *g = geom("{\"type\":\"Point\",\"coordinates\":[175,0]}");
    struct catalog_query qi = {.intersects = g};
    assert_int_equal(search(f, &qi, NULL), 0);
    catalog_geom_free(g);
}

/* catalog_open picks the driver from the URL. */
static void test_open_urls(void **state)
{
    (void)state;
    char dir[64] = "/tmp/test_catalog.XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    const char *sqlite_urls[] = {"", "sqlite:/nowhere/tessera.db", "/nowhere/tessera.db"};
    for (size_t i = 0; i < 3; i++) {
        struct catalog *cat = catalog_open(dir, sqlite_urls[i]);
        assert_non_null(cat);
        catalog_close(cat);
    }
    struct stat sb;
    snprintf(path, sizeof(path), "%s/catalog.db", dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_null(catalog_open(dir, "postgresql://tessera@127.0.0.1:1/none"));
    assert_null(catalog_open(NULL, NULL));
    rm_tree(dir);
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

/* A store-level test, once per driver. */
#define BOTH_DRIVERS(t)                                                                            \
    {"sqlite/" #t, t, setup_sqlite, teardown, NULL}, {"postgresql/" #t, t, setup_pg, teardown, NULL}

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH_DRIVERS(test_import_fixture_and_counts),
        BOTH_DRIVERS(test_limit_offset_order),
        BOTH_DRIVERS(test_bbox_search),
        BOTH_DRIVERS(test_datetime_search),
        BOTH_DRIVERS(test_ids_collections_search),
        BOTH_DRIVERS(test_intersects_search),
        BOTH_DRIVERS(test_get_and_visibility),
        BOTH_DRIVERS(test_import_invalid_nothing_partial),
        BOTH_DRIVERS(test_reimport_replaces),
        BOTH_DRIVERS(test_concurrent_search),
        BOTH_DRIVERS(test_concurrent_imports),
        BOTH_DRIVERS(test_item_templates),
        BOTH_DRIVERS(test_generation_follows_writes),
        BOTH_DRIVERS(test_order_and_pages),
        BOTH_DRIVERS(test_antimeridian),
        BOTH_DRIVERS(test_hidden_collection_hides_items),
        cmocka_unit_test_setup_teardown(test_pg_change_log, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_pg_box_exact, setup_pg, teardown),
        cmocka_unit_test(test_open_urls),
        cmocka_unit_test(test_null_catalog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
