/* Unit tests for filtering, sorting and queryables in the catalog drivers
 * (src/catalog/catalog_sqlite_search.c, catalog_pg_search.c, filter_sql.c):
 * a small fixture catalog with values of every kind (numbers, strings,
 * date-time strings, booleans, arrays, nulls, missing values, a number
 * stored as a string), an item and a collection only Partners may see.
 * Every test runs against both drivers with the same expectations, so the
 * two give the same answers in the same order; each filter and order is
 * also read page by page. Also: the schema migrations that add the search
 * tables to existing catalogs. Single-threaded. */
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
#include <sqlite3.h>

#include "catalog/catalog.h"
#include "catalog/filter.h"
#include "catalogtest.h"
#include "pgtest.h"

struct fixture {
    char dir[64];
    char *url; /* PostgreSQL: the test's database; NULL for SQLite */
    struct catalog *cat;
    struct strlist partners;
};

static void sql_on(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* A fresh database whose collation sorts "a" before "B" (the driver must
 * compare bytes), with the change-log tables a store would have made. */
static char *pg_catalog_db(void)
{
    static unsigned counter;
    const char *admin = pgtest_admin_url();
    if (!admin)
        return NULL;
    char name[64], sql[256];
    snprintf(name, sizeof(name), "catalog_ext_%d_%u", (int)getpid(), counter++);
    snprintf(sql, sizeof(sql),
             "CREATE DATABASE \"%s\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
             " LOCALE 'C' ENCODING 'UTF8'",
             name);
    if (pgtest_admin_exec(sql) < 0)
        return NULL;
    size_t prefix = (size_t)(strchr(strstr(admin, "://") + 3, '/') - admin);
    char *url = malloc(prefix + strlen(name) + 2);
    sprintf(url, "%.*s/%s", (int)prefix, admin, name);
    sql_on(url, "CREATE TABLE change_seq (seq BIGINT NOT NULL);"
                "INSERT INTO change_seq VALUES (0);"
                "CREATE TABLE change_log (seq BIGINT PRIMARY KEY, kind INTEGER NOT NULL,"
                " account_id BIGINT NOT NULL, token_id TEXT NOT NULL, at BIGINT NOT NULL);"
                "CREATE TABLE nodes (id TEXT PRIMARY KEY, applied_seq BIGINT NOT NULL,"
                " lease_until BIGINT NOT NULL)");
    return url;
}

#define COLLECTION(id)                                                                             \
    "{\"type\":\"Collection\",\"stac_version\":\"1.0.0\",\"id\":\"" id "\",\"description\":\"d\"," \
    "\"license\":\"CC-BY-4.0\",\"extent\":{\"spatial\":{\"bbox\":[[-180,-90,180,90]]},"            \
    "\"temporal\":{\"interval\":[[null,null]]}},\"links\":[]}"

/* id, collection, geometry JSON, properties JSON (without the braces). */
static void write_item(const char *dir, const char *id, const char *coll, const char *geometry,
                       const char *props)
{
    char buf[2048], name[64];
    snprintf(buf, sizeof(buf),
             "{\"type\":\"Feature\",\"stac_version\":\"1.0.0\",\"id\":\"%s\",\"collection\":"
             "\"%s\",\"geometry\":%s,\"properties\":{%s},\"links\":[],\"assets\":{}}",
             id, coll, geometry, props);
    snprintf(name, sizeof(name), "%s.json", id);
    write_file(dir, name, buf);
}

#define PT(x, y) "{\"type\":\"Point\",\"coordinates\":[" #x "," #y "]}"

/* The fixture: c1 (Public) with a..f and p1 (Partners only); c2 (Partners)
 * with z1. Default order (newest first, then collection, id):
 * Public view f c e b a d; Partners p1 f c e b z1 a d. */
static void import_fixture(struct fixture *f)
{
    char pub[128], part[128], coll2[128], err[512];
    struct strlist partners = STRLIST_INIT;
    strlist_add(&partners, "Partners");
    snprintf(pub, sizeof(pub), "%s/pub", f->dir);
    snprintf(part, sizeof(part), "%s/part", f->dir);
    snprintf(coll2, sizeof(coll2), "%s/c2", f->dir);
    mkdir(pub, 0700);
    mkdir(part, 0700);
    mkdir(coll2, 0700);
    write_file(pub, "c1.json", COLLECTION("c1"));
    write_item(pub, "a", "c1", PT(1, 1),
               "\"datetime\":\"2021-01-01T00:00:00Z\",\"num\":10,\"name\":\"alpha\","
               "\"flag\":true,\"when\":\"2021-06-01T00:00:00Z\",\"tags\":[\"x\"]");
    write_item(pub, "b", "c1",
               "{\"type\":\"Polygon\",\"coordinates\":[[[4,4],[6,4],[6,6],[4,6],[4,4]]]}",
               "\"datetime\":\"2021-02-01T00:00:00Z\",\"num\":20,\"name\":\"beta\","
               "\"flag\":false");
    write_item(pub, "c", "c1", PT(10, 10),
               "\"datetime\":\"2021-03-01T00:00:00Z\",\"num\":5.5,\"name\":\"gamma_1%\"");
    write_item(pub, "d", "c1", "null",
               "\"datetime\":null,\"start_datetime\":\"2020-12-01T00:00:00Z\","
               "\"end_datetime\":\"2021-12-31T00:00:00Z\",\"num\":null,\"name\":\"Delta\"");
    write_item(pub, "e", "c1", PT(-170, 0),
               "\"datetime\":\"2021-03-01T00:00:00Z\",\"num\":\"20\",\"name\":\"alpha2\"");
    write_item(pub, "f", "c1", "{\"type\":\"LineString\",\"coordinates\":[[20,20],[21,21]]}",
               "\"datetime\":\"2021-04-01T00:00:00Z\",\"num\":20,\"name\":7");
    assert_int_equal(catalog_import_path(f->cat, pub, NULL, err, sizeof(err)), 0);
    write_item(part, "p1", "c1", PT(1, 1),
               "\"datetime\":\"2021-05-01T00:00:00Z\",\"num\":1000,\"secret\":\"yes\"");
    if (catalog_import_path(f->cat, part, &partners, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    write_file(coll2, "c2.json", COLLECTION("c2"));
    write_item(coll2, "z1", "c2", PT(1, 1),
               "\"datetime\":\"2021-01-15T00:00:00Z\",\"num\":15,\"secret\":\"s\"");
    assert_int_equal(catalog_import_path(f->cat, coll2, &partners, err, sizeof(err)), 0);
    strlist_free(&partners);
}

static int setup_driver(void **state, bool pg)
{
    struct fixture *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/test_catalog_ext.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    if (pg && !(f->url = pg_catalog_db()))
        return -1;
    if (!(f->cat = catalog_open(f->dir, f->url)))
        return -1;
    strlist_add(&f->partners, "Public");
    strlist_add(&f->partners, "Partners");
    import_fixture(f);
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
        fprintf(stderr, "cannot remove %s\n", f->dir);
    pgtest_db_drop(f->url);
    strlist_free(&f->partners);
    free(f);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------ */

static int collect(void *ctx, const char *coll, const char *id, const char *tpl, size_t len)
{
    (void)coll;
    (void)tpl;
    (void)len;
    char *out = ctx;
    size_t n = strlen(out);
    snprintf(out + n, 512 - n, "%s%s", n ? " " : "", id);
    return 0;
}

static void expect_ids_once(struct fixture *f, struct catalog_query *q, const char *want,
                            const char *what);

/* Runs q and checks the ids in order ("" for none), whole and then page by
 * page at several page sizes, through both entry points; on SQLite every
 * way a search may go. */
static void expect_ids(struct fixture *f, struct catalog_query *q, const char *want,
                       const char *what)
{
    /* 3000: all matches at once; 0: index walks and counts of their own;
     * 2: counts first, then the source's few matches or an index walk. */
    static const int64_t sets[] = {3000, 0, 2};
    for (size_t i = 0; i < 3; i++) {
        catalog_set_small_set(sets[i]);
        expect_ids_once(f, q, want, what);
    }
    catalog_set_small_set(3000);
}

static void expect_ids_once(struct fixture *f, struct catalog_query *q, const char *want,
                            const char *what)
{
    char got[512] = "";
    int64_t matched = -1;
    size_t nwant = 0;
    for (const char *p = want; *p; p++)
        nwant += *p == ' ';
    nwant += *want ? 1 : 0;
    q->limit = 100;
    q->offset = 0;
    int rc = catalog_search_each(f->cat, q, &matched, collect, got);
    if (rc != 0)
        fail_msg("%s: search failed (%d)", what, rc);
    if (strcmp(got, want) != 0)
        fail_msg("%s\n  got  [%s]\n  want [%s]", what, got, want);
    assert_int_equal(matched, (int64_t)nwant);
    for (int64_t limit = 1; limit <= 3; limit++) {
        char pages[512] = "";
        for (int64_t off = 0; off < (int64_t)nwant + 2; off += limit) {
            cJSON *items = NULL;
            q->limit = limit;
            q->offset = off;
            assert_int_equal(catalog_search(f->cat, q, &matched, &items), 0);
            if (matched != (int64_t)nwant)
                fail_msg("%s: limit %lld offset %lld: matched %lld, want %zu", what,
                         (long long)limit, (long long)off, (long long)matched, nwant);
            const cJSON *it;
            cJSON_ArrayForEach(it, items)
                collect(pages, NULL, cJSON_GetObjectItem(it, "id")->valuestring, NULL, 0);
            cJSON_Delete(items);
        }
        if (strcmp(pages, want) != 0)
            fail_msg("%s, pages of %lld\n  got  [%s]\n  want [%s]", what, (long long)limit, pages,
                     want);
    }
}

/* A CQL2 text filter, for the groups given (NULL = anonymous). */
static void expect_text(struct fixture *f, const struct strlist *groups, const char *text,
                        const char *want)
{
    struct filter_node *n = NULL;
    char err[320];
    if (filter_parse_cql2_text(text, &n, err, sizeof(err)) != 0)
        fail_msg("%s: %s", text, err);
    filter_normalize(&n);
    struct catalog_query q = {.groups = groups, .filter = n};
    expect_ids(f, &q, want, text);
    filter_free(n);
}

static void expect_query(struct fixture *f, const char *json, const char *want)
{
    struct filter_node *n = NULL;
    char err[320];
    cJSON *j = cJSON_Parse(json);
    if (filter_parse_query(j, &n, err, sizeof(err)) != 0)
        fail_msg("%s: %s", json, err);
    cJSON_Delete(j);
    filter_normalize(&n);
    struct catalog_query q = {.filter = n};
    expect_ids(f, &q, want, json);
    filter_free(n);
}

static void expect_sort(struct fixture *f, const struct strlist *groups, const char *sortby,
                        const char *filter, const char *want)
{
    struct catalog_sort s;
    struct filter_node *n = NULL;
    char err[320], what[256];
    if (catalog_sort_parse_text(sortby, &s, err, sizeof(err)) != 0)
        fail_msg("%s: %s", sortby, err);
    if (filter) {
        assert_int_equal(filter_parse_cql2_text(filter, &n, err, sizeof(err)), 0);
        filter_normalize(&n);
    }
    struct catalog_query q = {.groups = groups, .sort = &s, .filter = n};
    snprintf(what, sizeof(what), "sortby=%s filter=%s", sortby, filter ? filter : "");
    expect_ids(f, &q, want, what);
    catalog_sort_free(&s);
    filter_free(n);
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_comparisons(void **state)
{
    struct fixture *f = *state;
    expect_text(f, NULL, "TRUE", "f c e b a d");
    expect_text(f, &f->partners, "TRUE", "p1 f c e b z1 a d");
    /* Numbers: e's "20" is a string, never equal to or ordered with 20. */
    expect_text(f, NULL, "num > 10", "f b");
    expect_text(f, NULL, "num = 20", "f b");
    expect_text(f, NULL, "num >= 5.5 AND num < 20", "c a");
    expect_text(f, NULL, "num = '20'", "e");
    /* Three-valued logic: d's null num is neither = 20 nor <> 20. */
    expect_text(f, NULL, "NOT num = 20", "c e a");
    expect_text(f, NULL, "num <> 20", "c e a");
    expect_text(f, NULL, "NOT (num = 20 OR num < 6)", "e a");
    expect_text(f, NULL, "num IS NULL", "d");
    expect_text(f, NULL, "num IS NOT NULL", "f c e b a");
    expect_text(f, NULL, "nothere IS NULL", "f c e b a d");
    /* Strings compare byte-wise ("D" < "a"). */
    expect_text(f, NULL, "name < 'a'", "d");
    expect_text(f, NULL, "name = 'Delta'", "d");
    expect_text(f, NULL, "name IN ('beta', 'Delta', 'nope', 7)", "f b d");
    expect_text(f, NULL, "name NOT IN ('beta', 'Delta')", "f c e a");
    expect_text(f, NULL, "num BETWEEN 5 AND 10", "c a");
    expect_text(f, NULL, "num NOT BETWEEN 5 AND 10", "f e b");
    expect_text(f, NULL, "name BETWEEN 'b' AND 'h'", "c b");
    /* Booleans; c has no flag, so NOT flag = true leaves it out. */
    expect_text(f, NULL, "flag = true", "a");
    expect_text(f, NULL, "NOT flag = true", "b");
    /* Date-time strings: as instants with TIMESTAMP, as text with strings. */
    expect_text(f, NULL, "when > TIMESTAMP('2021-05-31T23:59:59Z')", "a");
    expect_text(f, NULL, "when = '2021-06-01T00:00:00Z'", "a");
    expect_text(f, NULL, "when = TIMESTAMP('2021-06-01T02:00:00+02:00')", "a");
    expect_text(f, NULL, "when IN ('x', '2021-06-01T00:00:00Z')", "a");
    expect_text(f, NULL, "when IN ('2021-06-01T02:00:00+02:00')", ""); /* text differs */
    expect_text(f, NULL, "NOT when IN ('2021-06-01T00:00:00Z')", "");
    expect_text(f, NULL, "NOT when IN ('2021-06-01T02:00:00+02:00')", "a");
    expect_text(f, NULL, "datetime > TIMESTAMP('2021-02-15T00:00:00Z')", "f c e");
    expect_text(f, NULL, "datetime >= DATE('2021-03-01')", "f c e");
    expect_text(f, NULL, "start_datetime < TIMESTAMP('2021-01-01T00:00:00Z')", "d");
    /* Arrays can be tested for presence only. */
    expect_text(f, NULL, "tags IS NOT NULL", "a");
    expect_text(f, NULL, "id = 'a' OR id = 'c'", "c a");
    expect_text(f, NULL, "id <> 'a' AND collection = 'c1'", "f c e b d");
    expect_text(f, NULL, "id IN ('b', 'z1', 'p1')", "b");
    expect_text(f, NULL, "id = 5", "");
    expect_text(f, NULL, "NOT id = 5", "f c e b a d");
}

static void test_like(void **state)
{
    struct fixture *f = *state;
    expect_text(f, NULL, "name LIKE 'alpha%'", "e a");
    expect_text(f, NULL, "name LIKE 'alph_'", "a");
    expect_text(f, NULL, "name LIKE 'ALPHA%'", ""); /* case-sensitive */
    expect_text(f, NULL, "name LIKE 'gamma\\_1\\%'", "c");
    expect_text(f, NULL, "name LIKE 'gamma_1%'", "c");
    expect_text(f, NULL, "name LIKE 'gamma\\_'", "");
    expect_text(f, NULL, "name LIKE '%ta'", "b d");
    expect_text(f, NULL, "name NOT LIKE '%a%'", "f"); /* 7 is no string */
    expect_text(f, NULL, "id LIKE '_'", "f c e b a d");
    /* GLOB's own wildcards are literals in a LIKE pattern. */
    expect_text(f, NULL, "name LIKE '*'", "");
    expect_query(f, "{\"name\":{\"startsWith\":\"al\"}}", "e a");
    expect_query(f, "{\"name\":{\"endsWith\":\"_1%\"}}", "c");
    expect_query(f, "{\"name\":{\"contains\":\"lph\"}}", "e a");
    expect_query(f, "{\"num\":{\"gte\":10,\"lt\":20}}", "a");
    expect_query(f, "{\"num\":{\"in\":[5.5,20]}}", "f c b");
    expect_query(f, "{\"num\":{\"neq\":20}}", "c e a");
    expect_query(f, "{\"datetime\":{\"gt\":\"2021-02-15T00:00:00Z\"},\"name\":{\"neq\":7}}", "c e");
}

static void test_spatial_temporal(void **state)
{
    struct fixture *f = *state;
    const char *box = "S_INTERSECTS(geometry, POLYGON((0 0, 7 0, 7 7, 0 7, 0 0)))";
    expect_text(f, NULL, box, "b a");
    expect_text(f, &f->partners, box, "p1 b z1 a");
    char buf[256];
    snprintf(buf, sizeof(buf), "NOT %s", box); /* d has no geometry: unknown */
    expect_text(f, NULL, buf, "f c e");
    snprintf(buf, sizeof(buf), "%s OR num = 5.5", box);
    expect_text(f, NULL, buf, "c b a");
    expect_text(f, NULL, "S_INTERSECTS(geometry, POINT(5 5))", "b");
    expect_text(f, NULL, "S_INTERSECTS(geometry, LINESTRING(20 21, 21 20))", "f");
    expect_text(f, NULL, "S_INTERSECTS(geometry, BBOX(175, -1, -165, 1))", "e");
    expect_text(f, NULL,
                "S_INTERSECTS(geometry, POINT(5 5)) OR S_INTERSECTS(geometry, "
                "POINT(10 10))",
                "c b");
    expect_text(f, NULL, "T_INTERSECTS(datetime, INTERVAL('2021-02-15', '2021-03-15'))", "c e d");
    expect_text(f, NULL, "T_INTERSECTS(datetime, TIMESTAMP('2021-03-01T00:00:00Z'))", "c e d");
    expect_text(f, NULL, "T_INTERSECTS(datetime, INTERVAL('2022-01-01', '..'))", "");
    expect_text(f, NULL, "NOT T_INTERSECTS(datetime, INTERVAL('..', '2021-01-31'))", "f c e b");
    /* With the core parameters too. */
    struct filter_node *n = NULL;
    char err[320];
    assert_int_equal(filter_parse_cql2_text("num >= 10", &n, err, sizeof(err)), 0);
    filter_normalize(&n);
    struct catalog_query q = {.filter = n,
                              .has_bbox = true,
                              .bbox = {0, 0, 30, 30},
                              .has_start = true,
                              .start = 1612137600000 /* 2021-02-01 */};
    expect_ids(f, &q, "f b", "bbox + datetime + filter");
    struct catalog_query qp = {
        .filter = n, .groups = &f->partners, .has_bbox = true, .bbox = {0, 0, 30, 30}};
    expect_ids(f, &qp, "p1 f b z1 a", "partners bbox + filter");
    filter_free(n);
    /* An item without a geometry but with a bbox: found by the bbox
     * parameter, never by S_INTERSECTS (nor by its negation). */
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/nogeom", f->dir);
    mkdir(dir, 0700);
    write_file(dir, "nb.json",
               "{\"type\":\"Feature\",\"stac_version\":\"1.0.0\",\"id\":\"nb\","
               "\"collection\":\"c1\",\"geometry\":null,\"bbox\":[2,2,3,3],\"properties\":"
               "{\"datetime\":\"2020-06-01T00:00:00Z\",\"num\":1},\"links\":[],\"assets\":{}}");
    assert_int_equal(catalog_import_path(f->cat, dir, NULL, err, sizeof(err)), 0);
    expect_text(f, NULL, "S_INTERSECTS(geometry, BBOX(0, 0, 7, 7))", "b a");
    expect_text(f, NULL, "S_INTERSECTS(geometry, BBOX(0, 0, 7, 7)) AND num < 15", "a");
    expect_text(f, NULL, "NOT S_INTERSECTS(geometry, BBOX(0, 0, 7, 7))", "f c e");
    struct catalog_query qb = {.has_bbox = true, .bbox = {0, 0, 7, 7}};
    expect_ids(f, &qb, "b a nb", "bbox parameter, item without geometry");
    /* Within the bbox parameter, where an item's R*Tree box may decide a
     * spatial leaf: boxes wholly outside or inside, and b's across. */
    static const char *const within[][2] = {
        {"NOT S_INTERSECTS(geometry, BBOX(0, 0, 7, 7))", "f c"},
        {"NOT S_INTERSECTS(geometry, POLYGON((0 0, 7 0, 7 7, 0 7, 0 0)))", "f c"},
        {"S_INTERSECTS(geometry, BBOX(5, 5, 30, 30))", "f c b"},
        {"NOT S_INTERSECTS(geometry, BBOX(5, 5, 30, 30))", "a"},
        {"NOT S_INTERSECTS(geometry, POINT(1 1)) AND num >= 10", "f b"},
        /* Several reads of the item's row: the count joins it once. */
        {"T_INTERSECTS(datetime, INTERVAL('2021-02-01', '2021-03-31')) AND id <> 'c'", "b"},
        {"collection = 'c1' AND id IN ('a', 'f', 'nb')", "f a nb"},
    };
    for (size_t i = 0; i < sizeof(within) / sizeof(within[0]); i++) {
        assert_int_equal(filter_parse_cql2_text(within[i][0], &n, err, sizeof(err)), 0);
        filter_normalize(&n);
        struct catalog_query qw = {.filter = n, .has_bbox = true, .bbox = {0, 0, 30, 30}};
        expect_ids(f, &qw, within[i][1], within[i][0]);
        filter_free(n);
    }
}

/* Whatever the filter, hidden items stay hidden and uncounted. */
static void test_visibility(void **state)
{
    struct fixture *f = *state;
    expect_text(f, NULL, "num = 1000", "");
    expect_text(f, &f->partners, "num = 1000", "p1");
    expect_text(f, NULL, "num = 15 OR collection = 'c2' OR id = 'z1'", "");
    expect_text(f, &f->partners, "num = 15 OR collection = 'c2'", "z1");
    expect_text(f, NULL, "NOT num = 999", "f c e b a");
    expect_text(f, NULL, "secret IS NULL", "f c e b a d");
    expect_sort(f, NULL, "-num", NULL, "e b f a c d");
    expect_sort(f, &f->partners, "-num", NULL, "e p1 b f z1 a c d");
    /* Property names: visible ones only. */
    struct strlist names = STRLIST_INIT;
    size_t missing = 99;
    strlist_add(&names, "num");
    strlist_add(&names, "secret");
    assert_int_equal(catalog_properties_visible(f->cat, NULL, NULL, &names, &missing), -ENOENT);
    assert_int_equal(missing, 1);
    assert_int_equal(catalog_properties_visible(f->cat, &f->partners, NULL, &names, &missing), 0);
    assert_int_equal(catalog_properties_visible(f->cat, &f->partners, "c2", &names, &missing), 0);
    strlist_add(&names, "name");
    assert_int_equal(catalog_properties_visible(f->cat, &f->partners, "c2", &names, &missing),
                     -ENOENT);
    assert_int_equal(missing, 2);
    strlist_free(&names);
}

static void test_sorting(void **state)
{
    struct fixture *f = *state;
    /* Numbers, then the string "20"; the missing (null) num last. */
    expect_sort(f, NULL, "num", NULL, "c a b f e d");
    /* Descending: kinds reversed, ties still by collection then id, missing last. */
    expect_sort(f, NULL, "-num", NULL, "e b f a c d");
    expect_sort(f, NULL, "name", NULL, "f d a e b c");
    expect_sort(f, NULL, "-name", NULL, "c b e a d f");
    expect_sort(f, NULL, "-datetime", NULL, "f c e b a d");
    expect_sort(f, NULL, "datetime", NULL, "d a b c e f");
    expect_sort(f, NULL, "-id", NULL, "f e d c b a");
    expect_sort(f, &f->partners, "collection,-id", NULL, "p1 f e d c b a z1");
    expect_sort(f, &f->partners, "-collection", NULL, "z1 a b c d e f p1");
    /* A first key held by few: b a, then the rest by the second key. */
    expect_sort(f, NULL, "flag,-datetime", NULL, "b a f c e d");
    expect_sort(f, NULL, "-flag,id", NULL, "a b c d e f");
    expect_sort(f, NULL, "when", NULL, "a b c d e f");
    /* b and f tie on num; f's name is a number, which sorts before strings. */
    expect_sort(f, NULL, "num,name", "num >= 10", "a f b");
    expect_sort(f, NULL, "-num,-name", "num >= 10", "b f a");
    expect_sort(f, NULL, "nothere,id", NULL, "a b c d e f");
    expect_sort(f, &f->partners, "secret", "num > 0", "z1 p1 a b c f");
}

static bool has_kind(const struct catalog_queryable *q, size_t n, const char *name, unsigned kinds)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(q[i].name, name) == 0)
            return q[i].kinds == kinds;
    return false;
}

static void test_queryables(void **state)
{
    struct fixture *f = *state;
    struct catalog_queryable *q = NULL;
    size_t n = 0;
    assert_int_equal(catalog_queryables(f->cat, NULL, NULL, &q, &n), 0);
    /* datetime end_datetime flag name num start_datetime tags when */
    assert_int_equal(n, 8);
    assert_string_equal(q[0].name, "datetime");
    assert_true(has_kind(q, n, "datetime", 1u << CATALOG_PROP_TIMESTAMP));
    assert_true(has_kind(q, n, "num", 1u << CATALOG_PROP_NUMBER | 1u << CATALOG_PROP_STRING));
    assert_true(has_kind(q, n, "name", 1u << CATALOG_PROP_NUMBER | 1u << CATALOG_PROP_STRING));
    assert_true(has_kind(q, n, "flag", 1u << CATALOG_PROP_BOOL));
    assert_true(has_kind(q, n, "tags", 1u << CATALOG_PROP_ARRAY));
    assert_false(has_kind(q, n, "secret", 1u << CATALOG_PROP_STRING));
    catalog_queryables_free(q, n);
    assert_int_equal(catalog_queryables(f->cat, &f->partners, NULL, &q, &n), 0);
    assert_int_equal(n, 9);
    assert_true(has_kind(q, n, "secret", 1u << CATALOG_PROP_STRING));
    catalog_queryables_free(q, n);
    assert_int_equal(catalog_queryables(f->cat, &f->partners, "c2", &q, &n), 0);
    assert_int_equal(n, 3); /* datetime num secret */
    catalog_queryables_free(q, n);
    assert_int_equal(catalog_queryables(f->cat, NULL, "c2", &q, &n), -ENOENT);
    assert_int_equal(catalog_queryables(f->cat, NULL, "c1", &q, &n), 0);
    assert_int_equal(n, 8);
    catalog_queryables_free(q, n);
}

/* Re-importing an item replaces its property rows. */
static void test_reimport_props(void **state)
{
    struct fixture *f = *state;
    char dir[128], err[512];
    snprintf(dir, sizeof(dir), "%s/again", f->dir);
    mkdir(dir, 0700);
    write_item(dir, "a", "c1", PT(1, 1), "\"datetime\":\"2021-01-01T00:00:00Z\",\"num\":99");
    assert_int_equal(catalog_import_path(f->cat, dir, NULL, err, sizeof(err)), 0);
    expect_text(f, NULL, "num = 99", "a");
    expect_text(f, NULL, "num = 10", "");
    expect_text(f, NULL, "flag IS NOT NULL", "b");
    expect_text(f, NULL, "tags IS NOT NULL", "");
    /* Unfiltered counts come from stored counts: re-import keeps them exact. */
    expect_sort(f, NULL, "id", NULL, "a b c d e f");
    expect_sort(f, &f->partners, "id", NULL, "a b c d e f p1 z1");
    struct strlist names = STRLIST_INIT;
    size_t missing;
    strlist_add(&names, "tags");
    assert_int_equal(catalog_properties_visible(f->cat, NULL, NULL, &names, &missing), -ENOENT);
    strlist_free(&names);
}

/* On SQLite, counts read the R*Tree or the property index alone (each
 * item's class and interval): they must follow visibility, also after a
 * collection or an item is imported again with another one. */
static void test_count_visibility(void **state)
{
    struct fixture *f = *state;
    char dir[128], err[512];
    struct strlist partners = STRLIST_INIT;
    strlist_add(&partners, "Partners");
    struct catalog_query box = {.has_bbox = true,
                                .bbox = {0, 0, 2, 2},
                                .has_start = true,
                                .start = 1609459200000 /* 2021-01-01, a's datetime */,
                                .has_end = true,
                                .end = 1640995199000 /* 2021-12-31T23:59:59Z */};
    expect_ids(f, &box, "a", "box, anonymous");
    box.start++; /* the bounds are exact, not the R*Tree's rounded interval */
    expect_ids(f, &box, "", "box after a, anonymous");
    box.start--;
    box.groups = &f->partners;
    expect_ids(f, &box, "p1 z1 a", "box, partners");
    expect_text(f, NULL, "num >= 10", "f b a");
    expect_text(f, &f->partners, "num >= 10", "p1 f b z1 a");
    /* c2 and its item again, public now. */
    snprintf(dir, sizeof(dir), "%s/c2pub", f->dir);
    mkdir(dir, 0700);
    write_file(dir, "c2.json", COLLECTION("c2"));
    write_item(dir, "z1", "c2", PT(1, 1), "\"datetime\":\"2021-01-15T00:00:00Z\",\"num\":15");
    assert_int_equal(catalog_import_path(f->cat, dir, NULL, err, sizeof(err)), 0);
    box.groups = NULL;
    expect_ids(f, &box, "z1 a", "box, anonymous, c2 public");
    expect_text(f, NULL, "num >= 10", "f b z1 a");
    /* The collection alone again, for partners only: its public item hides. */
    snprintf(dir, sizeof(dir), "%s/c2only", f->dir);
    mkdir(dir, 0700);
    write_file(dir, "c2.json", COLLECTION("c2"));
    assert_int_equal(catalog_import_path(f->cat, dir, &partners, err, sizeof(err)), 0);
    expect_ids(f, &box, "a", "box, anonymous, c2 for partners");
    expect_text(f, NULL, "num >= 10", "f b a");
    box.groups = &f->partners;
    expect_ids(f, &box, "p1 z1 a", "box, partners, c2 for partners");
    /* An item again with another visibility: p1, public now. */
    snprintf(dir, sizeof(dir), "%s/p1pub", f->dir);
    mkdir(dir, 0700);
    write_item(dir, "p1", "c1", PT(1, 1), "\"datetime\":\"2021-05-01T00:00:00Z\",\"num\":1000");
    assert_int_equal(catalog_import_path(f->cat, dir, NULL, err, sizeof(err)), 0);
    box.groups = NULL;
    expect_ids(f, &box, "p1 a", "box, anonymous, p1 public");
    expect_text(f, NULL, "num >= 10", "p1 f b a");
    struct strlist c1 = STRLIST_INIT;
    strlist_add(&c1, "c1");
    box.collections = &c1;
    box.groups = &f->partners;
    expect_ids(f, &box, "p1 a", "box in c1, partners");
    strlist_free(&c1);
    strlist_free(&partners);
}

/* Items before 1970 (negative milliseconds; the SQLite R*Tree's interval
 * in negative years) are found and ordered like any other. */
static void test_before_1970(void **state)
{
    struct fixture *f = *state;
    char dir[128], err[512];
    snprintf(dir, sizeof(dir), "%s/old", f->dir);
    mkdir(dir, 0700);
    write_item(dir, "h0001", "c1", PT(2, 2), "\"datetime\":\"0001-01-01T00:00:00Z\",\"num\":1");
    write_item(dir, "h1900", "c1", PT(2, 2),
               "\"datetime\":\"1900-01-01T00:00:00Z\",\"num\":2,"
               "\"when\":\"1950-01-01T00:00:00.1234567Z\"");
    write_item(dir, "h1969", "c1", PT(3, 3), "\"datetime\":\"1969-12-31T23:59:59.999Z\",\"num\":3");
    assert_int_equal(catalog_import_path(f->cat, dir, NULL, err, sizeof(err)), 0);
    expect_text(f, NULL, "T_INTERSECTS(datetime, INTERVAL('1899-01-01', '1950-01-01'))", "h1900");
    expect_text(f, NULL, "T_INTERSECTS(datetime, INTERVAL('..', '1969-12-31T23:59:59.999Z'))",
                "h1969 h1900 h0001");
    expect_text(f, NULL, "datetime < TIMESTAMP('1970-01-01T00:00:00Z') AND num >= 2",
                "h1969 h1900");
    expect_sort(f, NULL, "datetime", "num <= 10", "h0001 h1900 h1969 a c");
    /* A property holding a date-time before 1970 is a timestamp too. */
    expect_text(f, NULL, "when < TIMESTAMP('1960-01-01T00:00:00Z')", "h1900");
    expect_sort(f, NULL, "when", "when IS NOT NULL", "h1900 a");
    struct catalog_query q = {
        .has_start = true, .start = -2208988800000 /* 1900-01-01 */, .has_end = true, .end = -1};
    expect_ids(f, &q, "h1969 h1900", "datetime parameter before 1970");
    struct catalog_query qb = {.has_bbox = true, .bbox = {0, 0, 4, 4}, .has_end = true, .end = -1};
    expect_ids(f, &qb, "h1969 h1900 h0001", "bbox and datetime before 1970");
}

/* A catalog made before the search tables: opening it fills them in. */
static void test_migration(void **state)
{
    struct fixture *f = *state;
    catalog_close(f->cat);
    f->cat = NULL;
    if (f->url) {
        /* Back to schema version 1: the step that adds the search tables
         * runs again, and the properties are filled in from C. */
        sql_on(f->url, "DROP TABLE catalog_item_search, catalog_item_counts, catalog_item_props,"
                       " catalog_prop_keys; ALTER TABLE catalog_items DROP COLUMN props_ok;"
                       "DELETE FROM schema_migrations WHERE track = 'catalog' AND version = 2");
    } else {
        char path[128];
        sqlite3 *db;
        snprintf(path, sizeof(path), "%s/catalog.db", f->dir);
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(
            sqlite3_exec(db,
                         "CREATE VIRTUAL TABLE item_bbox USING rtree(id, minx, maxx, miny, maxy);"
                         "INSERT INTO item_bbox SELECT id, minx, maxx, miny, maxy FROM item_rtree;"
                         "DROP TABLE item_rtree; DROP TABLE item_search; DROP TABLE item_props;"
                         "DROP TABLE prop_keys; DROP TABLE item_counts; DROP TABLE item_stats;"
                         "DROP TABLE item_packed; DROP TABLE item_classes;"
                         "DROP TABLE item_states;"
                         "DELETE FROM schema_version WHERE version >= 3;"
                         "CREATE INDEX items_id ON items(id);"
                         "CREATE INDEX items_order ON items(datetime_start DESC, collection, id);",
                         NULL, NULL, NULL),
            SQLITE_OK);
        sqlite3_close(db);
    }
    f->cat = catalog_open(f->dir, f->url);
    assert_non_null(f->cat);
    expect_text(f, NULL, "num > 10", "f b");
    expect_text(f, &f->partners, "num > 10", "p1 f b z1");
    expect_sort(f, NULL, "-num", NULL, "e b f a c d");
    expect_text(f, NULL, "S_INTERSECTS(geometry, BBOX(0, 0, 7, 7))", "b a");
    struct catalog_query all = {.groups = &f->partners};
    expect_ids(f, &all, "p1 f c e b z1 a d", "all, after the migration");
    struct catalog_queryable *q = NULL;
    size_t n = 0;
    assert_int_equal(catalog_queryables(f->cat, NULL, NULL, &q, &n), 0);
    assert_int_equal(n, 8);
    catalog_queryables_free(q, n);
}

/* The platform's status filter (CATALOG_STATE_PROP): on SQLite an equality
 * or IN of plain strings is read from each item's state (migrate_v5) when
 * the page walks the order index, and counted from stored counts per state;
 * everything else tests the property as usual. Both must agree, also after
 * items change status or visibility, and after the migration to states. */
static void expect_status(struct fixture *f, const struct strlist *groups, const char *text,
                          const char *want)
{
    struct filter_node *n = NULL;
    char err[320];
    struct strlist c3 = STRLIST_INIT;
    strlist_add(&c3, "c3");
    if (filter_parse_cql2_text(text, &n, err, sizeof(err)) != 0)
        fail_msg("%s: %s", text, err);
    filter_normalize(&n);
    struct catalog_query q = {.groups = groups, .filter = n, .collections = &c3};
    expect_ids(f, &q, want, text);
    filter_free(n);
    strlist_free(&c3);
}

static void status_checks(struct fixture *f)
{
    expect_status(f, NULL, "\"cm:status\" = 'published'", "s5 s1");
    expect_status(f, &f->partners, "\"cm:status\" = 'published'", "s6 s5 s1");
    expect_status(f, NULL, "\"cm:status\" IN ('published', 'in_review')", "s5 s2 s1");
    expect_status(f, NULL, "\"cm:status\" <> 'published'", "s4 s2");
    expect_status(f, NULL, "\"cm:status\" = '2021-01-01T00:00:00Z'", "s4");
    expect_status(f, NULL, "\"cm:status\" = 'published' AND num > 1", "s5");
    expect_status(f, NULL, "\"cm:status\" = 'none'", "");
    expect_text(f, NULL, "\"cm:status\" = 'published'", "s5 s1");
    expect_sort(f, &f->partners, "-num", "\"cm:status\" = 'published'", "s6 s5 s1");
    expect_sort(f, NULL, "id", "\"cm:status\" IN ('in_review', 'published')", "s1 s2 s5");
    expect_status(f, &f->partners, "TRUE", "s6 s5 s4 s3 s2 s1");
}

static void test_status(void **state)
{
    struct fixture *f = *state;
    char dir[128], err[512];
    struct strlist partners = STRLIST_INIT;
    strlist_add(&partners, "Partners");
    snprintf(dir, sizeof(dir), "%s/c3", f->dir);
    mkdir(dir, 0700);
    write_file(dir, "c3.json", COLLECTION("c3"));
    write_item(dir, "s1", "c3", PT(1, 1),
               "\"datetime\":\"2022-01-01T00:00:00Z\",\"num\":1,\"cm:status\":\"published\"");
    write_item(dir, "s2", "c3", PT(1, 1),
               "\"datetime\":\"2022-01-02T00:00:00Z\",\"num\":2,\"cm:status\":\"in_review\"");
    write_item(dir, "s3", "c3", PT(1, 1), "\"datetime\":\"2022-01-03T00:00:00Z\",\"num\":3");
    write_item(dir, "s4", "c3", PT(1, 1),
               "\"datetime\":\"2022-01-04T00:00:00Z\",\"num\":4,"
               "\"cm:status\":\"2021-01-01T00:00:00Z\"");
    write_item(dir, "s5", "c3", PT(1, 1),
               "\"datetime\":\"2022-01-05T00:00:00Z\",\"num\":5,\"cm:status\":\"published\"");
    assert_int_equal(catalog_import_path(f->cat, dir, NULL, err, sizeof(err)), 0);
    snprintf(dir, sizeof(dir), "%s/c3p", f->dir);
    mkdir(dir, 0700);
    write_item(dir, "s6", "c3", PT(1, 1),
               "\"datetime\":\"2022-01-06T00:00:00Z\",\"num\":6,\"cm:status\":\"published\"");
    assert_int_equal(catalog_import_path(f->cat, dir, &partners, err, sizeof(err)), 0);
    status_checks(f);
    /* s2 published and s5 in review: the stored counts follow. */
    snprintf(dir, sizeof(dir), "%s/c3again", f->dir);
    mkdir(dir, 0700);
    write_item(dir, "s2", "c3", PT(1, 1),
               "\"datetime\":\"2022-01-02T00:00:00Z\",\"num\":2,\"cm:status\":\"published\"");
    write_item(dir, "s5", "c3", PT(1, 1),
               "\"datetime\":\"2022-01-05T00:00:00Z\",\"num\":5,\"cm:status\":\"in_review\"");
    assert_int_equal(catalog_import_path(f->cat, dir, NULL, err, sizeof(err)), 0);
    expect_status(f, NULL, "\"cm:status\" = 'published'", "s2 s1");
    expect_status(f, &f->partners, "\"cm:status\" = 'in_review'", "s5");
    /* And back, so that the checks hold again. */
    write_item(dir, "s2", "c3", PT(1, 1),
               "\"datetime\":\"2022-01-02T00:00:00Z\",\"num\":2,\"cm:status\":\"in_review\"");
    write_item(dir, "s5", "c3", PT(1, 1),
               "\"datetime\":\"2022-01-05T00:00:00Z\",\"num\":5,\"cm:status\":\"published\"");
    assert_int_equal(catalog_import_path(f->cat, dir, NULL, err, sizeof(err)), 0);
    status_checks(f);
    if (!f->url) {
        /* A catalog of schema version 4, before states. */
        char path[128];
        sqlite3 *db;
        catalog_close(f->cat);
        snprintf(path, sizeof(path), "%s/catalog.db", f->dir);
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(
            sqlite3_exec(db,
                         "DROP INDEX item_search_order; DROP TABLE item_states;"
                         "ALTER TABLE item_search DROP COLUMN st;"
                         "CREATE INDEX item_search_order ON item_search(datetime_start DESC,"
                         "  collection, id, vis, cvis, datetime_end);"
                         "DROP TABLE item_counts;"
                         "CREATE TABLE item_counts(collection TEXT NOT NULL, vis INTEGER NOT NULL,"
                         "  n INTEGER NOT NULL, PRIMARY KEY(collection, vis)) WITHOUT ROWID;"
                         "INSERT INTO item_counts SELECT collection, vis, count(*)"
                         "  FROM item_search GROUP BY collection, vis;"
                         "DELETE FROM schema_version WHERE version >= 5;",
                         NULL, NULL, NULL),
            SQLITE_OK);
        sqlite3_close(db);
        f->cat = catalog_open(f->dir, NULL);
        assert_non_null(f->cat);
        status_checks(f);
    }
    strlist_free(&partners);
}

#define BOTH_DRIVERS(t)                                                                            \
    {"sqlite/" #t, t, setup_sqlite, teardown, NULL},                                               \
    {                                                                                              \
        "postgresql/" #t, t, setup_pg, teardown, NULL                                              \
    }

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH_DRIVERS(test_comparisons),      BOTH_DRIVERS(test_like),
        BOTH_DRIVERS(test_spatial_temporal), BOTH_DRIVERS(test_visibility),
        BOTH_DRIVERS(test_sorting),          BOTH_DRIVERS(test_queryables),
        BOTH_DRIVERS(test_reimport_props),   BOTH_DRIVERS(test_migration),
        BOTH_DRIVERS(test_before_1970),      BOTH_DRIVERS(test_count_visibility),
        BOTH_DRIVERS(test_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
