/* Unit tests for the prepared-statement cache (src/catalog/stmtcache.c) and
 * its use by the SQLite catalog search: kept statements are reused, reset and
 * unbound; the least recently used goes first; a search repeated with other
 * values reuses its statements; answers stay right after a re-import and
 * after another connection changes the schema under the kept statements.
 * SQLite only (the PostgreSQL driver prepares nothing per connection).
 * Single-threaded. */
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
#include "catalog/catalog_sqlite.h"
#include "catalog/stmtcache.h"
#include "catalogtest.h"

static sqlite3_stmt *get(struct stmtcache *c, sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = stmtcache_get(c, db, sql, strlen(sql));
    assert_non_null(st);
    return st;
}

static void test_reuse_and_reset(void **state)
{
    (void)state;
    sqlite3 *db;
    struct stmtcache c = {0};
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    sqlite3_stmt *st = get(&c, db, "SELECT ?1");
    assert_int_equal(sqlite3_bind_int(st, 1, 7), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    stmtcache_put(&c, st); /* mid-result: put resets it */
    assert_int_equal(c.misses, 1);
    assert_ptr_equal(get(&c, db, "SELECT ?1"), st);
    assert_int_equal(c.hits, 1);
    /* The old binding is gone. */
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_type(st, 0), SQLITE_NULL);
    /* The same text while the kept one is out: another statement, not kept. */
    sqlite3_stmt *other = get(&c, db, "SELECT ?1");
    assert_ptr_not_equal(other, st);
    stmtcache_put(&c, other);
    stmtcache_put(&c, st);
    assert_ptr_equal(get(&c, db, "SELECT ?1"), st);
    stmtcache_put(&c, st);
    /* A text that does not prepare: NULL, with the database's error. */
    assert_null(stmtcache_get(&c, db, "SELECT FROM", 11));
    assert_int_equal(sqlite3_errcode(db), SQLITE_ERROR);
    stmtcache_clear(&c);
    assert_int_equal(sqlite3_close(db), SQLITE_OK); /* nothing left unfinalized */
}

static void test_least_recently_used_out(void **state)
{
    (void)state;
    sqlite3 *db;
    struct stmtcache c = {0};
    char sql[64];
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    for (int i = 0; i < STMTCACHE_SIZE; i++) {
        snprintf(sql, sizeof(sql), "SELECT %d", i);
        stmtcache_put(&c, get(&c, db, sql));
    }
    stmtcache_put(&c, get(&c, db, "SELECT 0")); /* 0 is now the most recent; 1 the least */
    stmtcache_put(&c, get(&c, db, "SELECT 'new'"));
    uint64_t misses = c.misses;
    stmtcache_put(&c, get(&c, db, "SELECT 0"));
    assert_int_equal(c.misses, misses);
    stmtcache_put(&c, get(&c, db, "SELECT 1"));
    assert_int_equal(c.misses, misses + 1);
    stmtcache_clear(&c);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* ---- the catalog search -------------------------------------------------- */

struct fixture {
    char dir[64];
    struct catalog *cat;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/test_catalog_stmtcache.XXXXXX");
    if (!mkdtemp(f->dir) || !(f->cat = catalog_open(f->dir, NULL)))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    catalog_close(f->cat);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Imports collection c1 with items i0..i3 at longitude i, dated in year
 * 2020 + i, or, with shift, a century later. */
static void import_items(struct fixture *f, bool shift)
{
    char dir[128], name[32], doc[1024], err[512];
    snprintf(dir, sizeof(dir), "%s/cat", f->dir);
    mkdir(dir, 0700);
    write_file(dir, "c.json",
               "{\"type\":\"Collection\",\"stac_version\":\"1.0.0\",\"id\":\"c1\","
               "\"description\":\"d\",\"license\":\"CC-BY-4.0\",\"extent\":{\"spatial\":"
               "{\"bbox\":[[-10,-10,10,10]]},\"temporal\":{\"interval\":"
               "[[\"2020-01-01T00:00:00Z\",null]]}},\"links\":[]}");
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "i%d.json", i);
        snprintf(doc, sizeof(doc),
                 "{\"type\":\"Feature\",\"stac_version\":\"1.0.0\",\"id\":\"i%d\","
                 "\"collection\":\"c1\",\"geometry\":{\"type\":\"Point\",\"coordinates\":"
                 "[%d,0]},\"properties\":{\"datetime\":\"%d-06-01T00:00:00Z\"},"
                 "\"links\":[],\"assets\":{}}",
                 i, i, 2020 + i + (shift ? 100 : 0));
        write_file(dir, name, doc);
    }
    assert_int_equal(catalog_import_path(f->cat, dir, NULL, err, sizeof(err)), 0);
}

/* The search statements kept by the catalog's idle connections. */
static void cache_counts(struct fixture *f, uint64_t *hits, uint64_t *misses)
{
    const struct catalog_sqlite *s = (const struct catalog_sqlite *)f->cat;
    *hits = *misses = 0;
    for (const struct catalog_sqlite_conn *c = s->idle; c; c = c->next) {
        *hits += c->search.hits;
        *misses += c->search.misses;
    }
}

/* The ids of the page, comma-separated, into out; returns numberMatched. */
static int64_t search_ids(struct fixture *f, struct catalog_query *q, char *out, size_t len)
{
    int64_t matched = -1;
    cJSON *items = NULL, *it;
    assert_int_equal(catalog_search(f->cat, q, &matched, &items), 0);
    out[0] = 0;
    cJSON_ArrayForEach(it, items)
    {
        size_t n = strlen(out);
        snprintf(out + n, len - n, "%s%s", n ? "," : "",
                 cJSON_GetObjectItem(it, "id")->valuestring);
    }
    cJSON_Delete(items);
    return matched;
}

/* A box over items 1..3 from 2021 on (so items 1, 2, 3 before a shift). */
static struct catalog_query box_query(double minx)
{
    return (struct catalog_query){.has_bbox = true,
                                  .bbox = {minx, -1, 3.5, 1},
                                  .has_start = true,
                                  .start = 1609459200000, /* 2021-01-01 */
                                  .limit = 10};
}

static void test_search_reuses_statements(void **state)
{
    struct fixture *f = *state;
    char ids[256];
    uint64_t hits, misses, hits2, misses2;
    import_items(f, false);
    struct catalog_query q = box_query(0.5);
    assert_int_equal(search_ids(f, &q, ids, sizeof(ids)), 3);
    assert_string_equal(ids, "i3,i2,i1");
    cache_counts(f, &hits, &misses);
    assert_true(misses > 0);
    /* Other values, the same shape: every statement comes from the cache. */
    q = box_query(1.5);
    assert_int_equal(search_ids(f, &q, ids, sizeof(ids)), 2);
    assert_string_equal(ids, "i3,i2");
    cache_counts(f, &hits2, &misses2);
    assert_int_equal(misses2, misses);
    assert_true(hits2 >= hits + misses);
}

static void test_search_after_reimport_and_schema_change(void **state)
{
    struct fixture *f = *state;
    char ids[256], path[128];
    uint64_t hits, misses, hits2, misses2;
    import_items(f, false);
    struct catalog_query q = box_query(0.5), all = {.limit = 10};
    assert_int_equal(search_ids(f, &q, ids, sizeof(ids)), 3);
    assert_int_equal(search_ids(f, &all, ids, sizeof(ids)), 4);
    assert_string_equal(ids, "i3,i2,i1,i0");
    cache_counts(f, &hits, &misses);

    /* The same items a century later: new rows under the kept statements. */
    import_items(f, true);
    q = box_query(0.5);
    assert_int_equal(search_ids(f, &q, ids, sizeof(ids)), 3);
    assert_string_equal(ids, "i3,i2,i1");
    q.has_end = true;
    q.end = 4102444800000; /* 2100-01-01: none of them any more */
    assert_int_equal(search_ids(f, &q, ids, sizeof(ids)), 0);
    assert_int_equal(search_ids(f, &all, ids, sizeof(ids)), 4);
    cache_counts(f, &hits2, &misses2);
    assert_true(hits2 > hits);

    /* Another connection changes the schema (as a newer binary's migration
     * would): the kept statements are prepared again by SQLite, not run
     * against the old schema. */
    sqlite3 *db;
    snprintf(path, sizeof(path), "%s/catalog.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE INDEX test_tmp ON items(imported);"
                                  "DELETE FROM item_rtree WHERE id = (SELECT rowid FROM items"
                                  " WHERE id = 'i3');",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    q = box_query(0.5);
    assert_int_equal(search_ids(f, &q, ids, sizeof(ids)), 2);
    assert_string_equal(ids, "i2,i1");
    cache_counts(f, &hits, &misses);
    assert_int_equal(misses, misses2);
    assert_true(hits > hits2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_and_reset),
        cmocka_unit_test(test_least_recently_used_out),
        cmocka_unit_test_setup_teardown(test_search_reuses_statements, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_after_reimport_and_schema_change, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
