/* The SQLite catalog driver: data_dir/catalog.db (WAL) holding the documents,
 * their visibility as a bit mask over a small group table, an R*Tree on item
 * bounding boxes, the asset keys each item references, and for search a
 * narrow copy of each item's keys, visibility and interval (item_search)
 * with its properties as rows (item_props), which, like the R*Tree, carry
 * the item's class (collection and visibility) so that counts read nothing
 * else, and whose state (class and status, migrate_v5) the order index
 * carries. This file has the schema and its migrations, the pool of read
 * connections, the import transaction and the generation probe;
 * catalog_sqlite_read.c has the reads and queryables and
 * catalog_sqlite_search.c the search.
 * Reads take a connection from the mutex-guarded pool, so any number of
 * threads may search at once; an import uses its own connection and one
 * IMMEDIATE transaction, which also serialises imports from other processes. */
#include "catalog/catalog_sqlite.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/template.h"
#include "util/log.h"

#define SCHEMA_VERSION 5
#define MAX_IDLE_CONNS 32

/* ------------------------------------------------------------------------ */
/* Connections                                                               */
/* ------------------------------------------------------------------------ */

/* A connection with the busy timeout and the SQL functions every reader and
 * the importer need. NULL on failure (logged). */
static sqlite3 *db_open(const char *path, bool create)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        log_error("catalog: cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 10000);
    sqlite3_exec(db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
    catalog_sqlite_functions(db);
    return db;
}

static void conn_free(struct catalog_sqlite_conn *c)
{
    if (!c)
        return;
    for (int i = 0; i < CSQ_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    stmtcache_clear(&c->search);
    sqlite3_close(c->db);
    free(c);
}

struct catalog_sqlite_conn *catalog_sqlite_conn_get(struct catalog_sqlite *cat)
{
    pthread_mutex_lock(&cat->mu);
    struct catalog_sqlite_conn *c = cat->idle;
    if (c) {
        cat->idle = c->next;
        cat->nidle--;
    }
    pthread_mutex_unlock(&cat->mu);
    if (c)
        return c;
    c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->db = db_open(cat->path, false);
    if (!c->db) {
        free(c);
        return NULL;
    }
    /* Searches read the narrow search tables over and over: map the file
     * rather than copy its pages through read() into a small cache. */
    sqlite3_exec(c->db, "PRAGMA query_only=1; PRAGMA mmap_size=1073741824", NULL, NULL, NULL);
    return c;
}

void catalog_sqlite_conn_put(struct catalog_sqlite *cat, struct catalog_sqlite_conn *c)
{
    pthread_mutex_lock(&cat->mu);
    if (cat->nidle < MAX_IDLE_CONNS) {
        c->next = cat->idle;
        cat->idle = c;
        cat->nidle++;
        c = NULL;
    }
    pthread_mutex_unlock(&cat->mu);
    conn_free(c);
}

/* ------------------------------------------------------------------------ */
/* Schema                                                                    */
/* ------------------------------------------------------------------------ */

static const char *const schema_v1 =
    "CREATE TABLE vgroups(name TEXT PRIMARY KEY, bit INTEGER NOT NULL UNIQUE);"
    "INSERT INTO vgroups(name, bit) VALUES('Public', 0);"
    "CREATE TABLE collections(id TEXT PRIMARY KEY, doc TEXT NOT NULL,"
    "  visibility TEXT NOT NULL, vis INTEGER NOT NULL, imported INTEGER NOT NULL);"
    "CREATE TABLE items(rowid INTEGER PRIMARY KEY, id TEXT NOT NULL, collection TEXT NOT NULL,"
    "  doc TEXT NOT NULL, geometry TEXT, datetime_start INTEGER NOT NULL,"
    "  datetime_end INTEGER NOT NULL, visibility TEXT NOT NULL, vis INTEGER NOT NULL,"
    "  imported INTEGER NOT NULL, UNIQUE(collection, id));"
    "CREATE INDEX items_id ON items(id);"
    "CREATE INDEX items_order ON items(datetime_start DESC, collection, id);"
    "CREATE VIRTUAL TABLE item_bbox USING rtree(id, minx, maxx, miny, maxy);"
    "CREATE TABLE assets(key TEXT NOT NULL, item INTEGER NOT NULL, PRIMARY KEY(key, item))"
    "  WITHOUT ROWID;"
    "CREATE INDEX assets_item ON assets(item);";

/* Version 2 adds item templates; existing items get theirs here. */
static int migrate_v2(sqlite3 *db)
{
    sqlite3_stmt *sel = NULL, *upd = NULL;
    int rc = -EIO;
    if (sqlite3_exec(db, "ALTER TABLE items ADD COLUMN tpl TEXT NOT NULL DEFAULT ''", NULL, NULL,
                     NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT rowid, doc FROM items", -1, &sel, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "UPDATE items SET tpl = ?2 WHERE rowid = ?1", -1, &upd, NULL) !=
            SQLITE_OK)
        goto out;
    int st;
    while ((st = sqlite3_step(sel)) == SQLITE_ROW) {
        cJSON *doc = cJSON_Parse((const char *)sqlite3_column_text(sel, 1));
        char *tpl = doc ? catalog_item_template(doc) : NULL;
        cJSON_Delete(doc);
        if (!tpl)
            goto out;
        sqlite3_bind_int64(upd, 1, sqlite3_column_int64(sel, 0));
        sqlite3_bind_text(upd, 2, tpl, -1, free);
        st = sqlite3_step(upd);
        sqlite3_reset(upd);
        if (st != SQLITE_DONE)
            goto out;
    }
    if (st == SQLITE_DONE &&
        sqlite3_exec(db, "INSERT INTO schema_version VALUES(2)", NULL, NULL, NULL) == SQLITE_OK)
        rc = 0;
out:
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    return rc;
}

/* The statements that store an item's search rows, shared by the import
 * transaction and the version 3 migration. */
#define SQL_INS_SEARCH                                                                             \
    "INSERT INTO item_search(rowid, collection, id, vis, cvis, datetime_start, datetime_end, "     \
    "geom, st)"                                                                                    \
    " VALUES(?1, ?2, ?3, ?4, coalesce((SELECT vis FROM collections WHERE id = ?2), 0), ?5, ?6, "   \
    "?7, ?8)"
#define SQL_INS_PACKED "INSERT INTO item_packed(rowid, props) VALUES(?1, ?2)"
/* The R*Tree's third dimension is the interval in years: in milliseconds
 * it would dwarf degrees and the tree would split on time alone. */
#define MS_PER_YEAR (365.25 * 86400000.0)
/* Version 3's property rows, and version 4's, which add the item's class
 * and interval as ?6..?8 (bound by the caller before put_props). */
#define SQL_INS_PROP_V3                                                                            \
    "INSERT INTO item_props(item, key, kind, num, txt) VALUES(?1, ?2, ?3, ?4, ?5)"
#define SQL_INS_PROP                                                                               \
    "INSERT INTO item_props(item, key, kind, num, txt, cls, datetime_start, datetime_end)"         \
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
#define SQL_INS_KEY "INSERT OR IGNORE INTO prop_keys(collection, key, kind) VALUES(?1, ?2, ?3)"

/* Stores the property rows of item rowid (and the names in prop_keys). */
static int put_props(sqlite3_stmt *ins_prop, sqlite3_stmt *ins_key, int64_t rowid,
                     const char *collection, const struct catalog_prop *props, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const struct catalog_prop *p = &props[i];
        sqlite3_bind_int64(ins_prop, 1, rowid);
        sqlite3_bind_text(ins_prop, 2, p->key, -1, SQLITE_STATIC);
        sqlite3_bind_int(ins_prop, 3, p->kind);
        if (p->has_num)
            sqlite3_bind_double(ins_prop, 4, p->num);
        else
            sqlite3_bind_null(ins_prop, 4);
        if (p->txt)
            sqlite3_bind_text(ins_prop, 5, p->txt, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(ins_prop, 5);
        sqlite3_bind_text(ins_key, 1, collection, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins_key, 2, p->key, -1, SQLITE_STATIC);
        sqlite3_bind_int(ins_key, 3, p->kind);
        int a = sqlite3_step(ins_prop), b = sqlite3_step(ins_key);
        sqlite3_reset(ins_prop);
        sqlite3_reset(ins_key);
        if (a != SQLITE_DONE || b != SQLITE_DONE)
            return -EIO;
    }
    sqlite3_clear_bindings(ins_prop);
    sqlite3_clear_bindings(ins_key);
    return 0;
}

/* Version 3 adds the search tables; existing items get their rows here.
 * item_search is a narrow copy of what a search tests and orders on, with
 * the collection's visibility copied in (cvis), so that a search joins
 * nothing; its order index covers the visibility and interval, so that
 * walking it in page order reads no table rows. The R*Tree of item boxes
 * becomes item_rtree, with the interval (in years) as a third dimension, so
 * that a bbox and datetime search narrows both at once; item_packed holds
 * each item's properties in one record (catalog_props_pack), so that a
 * filter tests a candidate with one lookup, not one per property. item_counts
 * answers the count of a search without filters; item_stats bounds the
 * longest interval, so that a datetime search is a range of the order
 * index. The old order and id indexes move to item_search. */
static int migrate_v3(sqlite3 *db)
{
    static const char *const tables =
        "CREATE TABLE item_search(rowid INTEGER PRIMARY KEY, collection TEXT NOT NULL,"
        "  id TEXT NOT NULL, vis INTEGER NOT NULL, cvis INTEGER NOT NULL,"
        "  datetime_start INTEGER NOT NULL, datetime_end INTEGER NOT NULL,"
        "  geom INTEGER NOT NULL);"
        "CREATE TABLE item_packed(rowid INTEGER PRIMARY KEY, props BLOB NOT NULL);"
        "CREATE TABLE item_props(item INTEGER NOT NULL, key TEXT NOT NULL, kind INTEGER NOT NULL,"
        "  num REAL, txt TEXT, PRIMARY KEY(item, key)) WITHOUT ROWID;"
        "CREATE TABLE prop_keys(collection TEXT NOT NULL, key TEXT NOT NULL,"
        "  kind INTEGER NOT NULL, PRIMARY KEY(collection, key, kind)) WITHOUT ROWID;"
        "CREATE TABLE item_counts(collection TEXT NOT NULL, vis INTEGER NOT NULL,"
        "  n INTEGER NOT NULL, PRIMARY KEY(collection, vis)) WITHOUT ROWID;"
        "CREATE TABLE item_stats(maxdur INTEGER NOT NULL);"
        "CREATE VIRTUAL TABLE item_rtree USING rtree(id, minx, maxx, miny, maxy, mint, maxt);"
        "INSERT INTO item_search(rowid, collection, id, vis, cvis, datetime_start, datetime_end,"
        "  geom) SELECT i.rowid, i.collection, i.id, i.vis, coalesce(c.vis, 0),"
        "  i.datetime_start, i.datetime_end, i.geometry IS NOT NULL"
        "  FROM items i LEFT JOIN collections c ON c.id = i.collection;"
        "INSERT INTO item_rtree SELECT b.id, b.minx, b.maxx, b.miny, b.maxy,"
        "  s.datetime_start / (365.25 * 86400000.0), s.datetime_end / (365.25 * 86400000.0)"
        "  FROM item_bbox b JOIN item_search s ON s.rowid = b.id;"
        "DROP TABLE item_bbox;"
        "INSERT INTO item_counts SELECT collection, vis, count(*) FROM item_search"
        "  GROUP BY collection, vis;"
        "INSERT INTO item_stats SELECT coalesce(max(datetime_end - datetime_start), 0)"
        "  FROM item_search;";
    /* Indexes after the rows: building them at once is faster. */
    static const char *const indexes =
        "CREATE INDEX item_search_order ON item_search(datetime_start DESC, collection, id,"
        "  vis, cvis, datetime_end);"
        "CREATE INDEX item_search_id ON item_search(id);"
        "CREATE INDEX item_search_coll ON item_search(collection);"
        "CREATE INDEX item_props_value ON item_props(key, kind, num, txt);"
        "DROP INDEX items_order;"
        "DROP INDEX items_id;"
        "INSERT INTO schema_version VALUES(3);";
    sqlite3_stmt *sel = NULL, *ins_prop = NULL, *ins_key = NULL, *upd = NULL;
    int rc = -EIO, st;
    if (sqlite3_exec(db, tables, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT rowid, collection, doc FROM items", -1, &sel, NULL) ||
        sqlite3_prepare_v2(db, SQL_INS_PROP_V3, -1, &ins_prop, NULL) ||
        sqlite3_prepare_v2(db, SQL_INS_KEY, -1, &ins_key, NULL) ||
        sqlite3_prepare_v2(db, SQL_INS_PACKED, -1, &upd, NULL))
        goto out;
    while ((st = sqlite3_step(sel)) == SQLITE_ROW) {
        cJSON *doc = cJSON_Parse((const char *)sqlite3_column_text(sel, 2));
        struct catalog_prop *props = NULL;
        size_t n = 0, len = 0;
        uint8_t *rec = NULL;
        int64_t rowid = sqlite3_column_int64(sel, 0);
        int prc =
            doc ? catalog_props_of(cJSON_GetObjectItemCaseSensitive(doc, "properties"), &props, &n)
                : -EIO;
        if (prc == 0)
            prc = put_props(ins_prop, ins_key, rowid, (const char *)sqlite3_column_text(sel, 1),
                            props, n);
        if (prc == 0 && (prc = catalog_props_pack(props, n, &rec, &len)) == 0 && rec) {
            sqlite3_bind_int64(upd, 1, rowid);
            sqlite3_bind_blob(upd, 2, rec, (int)len, SQLITE_STATIC);
            prc = sqlite3_step(upd) == SQLITE_DONE ? 0 : -EIO;
            sqlite3_reset(upd);
        }
        free(rec);
        free(props);
        cJSON_Delete(doc);
        if (prc < 0)
            goto out;
    }
    if (st == SQLITE_DONE && sqlite3_exec(db, indexes, NULL, NULL, NULL) == SQLITE_OK)
        rc = 0;
out:
    sqlite3_finalize(sel);
    sqlite3_finalize(ins_prop);
    sqlite3_finalize(ins_key);
    sqlite3_finalize(upd);
    return rc;
}

/* Version 4 lets exact counts read no table rows: a rowid lookup per
 * candidate was 60-76 % of a search's CPU (bench/README.md). Each pair of
 * collection and visibility is a class (item_classes); a search finds the
 * classes its caller sees from the collections' current visibility, so a
 * collection's change of visibility rewrites no item. Each property row
 * carries its item's class and interval, which the property index covers,
 * and the R*Tree's fourth dimension is the class. */
static int migrate_v4(sqlite3 *db)
{
    static const char *const sql =
        "CREATE TABLE item_classes(cls INTEGER PRIMARY KEY, collection TEXT NOT NULL,"
        "  vis INTEGER NOT NULL, UNIQUE(collection, vis));"
        "INSERT INTO item_classes(collection, vis)"
        "  SELECT DISTINCT collection, vis FROM item_search ORDER BY 1, 2;"
        "CREATE TABLE item_props4(item INTEGER NOT NULL, key TEXT NOT NULL,"
        "  kind INTEGER NOT NULL, num REAL, txt TEXT, cls INTEGER NOT NULL,"
        "  datetime_start INTEGER NOT NULL, datetime_end INTEGER NOT NULL,"
        "  PRIMARY KEY(item, key)) WITHOUT ROWID;"
        "INSERT INTO item_props4 SELECT d.item, d.key, d.kind, d.num, d.txt, k.cls,"
        "  s.datetime_start, s.datetime_end FROM item_props d"
        "  JOIN item_search s ON s.rowid = d.item"
        "  JOIN item_classes k ON k.collection = s.collection AND k.vis = s.vis;"
        "DROP TABLE item_props;"
        "ALTER TABLE item_props4 RENAME TO item_props;"
        "CREATE INDEX item_props_value ON item_props(key, kind, num, txt, cls,"
        "  datetime_start, datetime_end);"
        "CREATE VIRTUAL TABLE item_rtree4 USING rtree(id, minx, maxx, miny, maxy, mint, maxt,"
        "  minc, maxc);"
        "INSERT INTO item_rtree4 SELECT r.id, r.minx, r.maxx, r.miny, r.maxy, r.mint, r.maxt,"
        "  k.cls, k.cls FROM item_rtree r JOIN item_search s ON s.rowid = r.id"
        "  JOIN item_classes k ON k.collection = s.collection AND k.vis = s.vis;"
        "DROP TABLE item_rtree;"
        "ALTER TABLE item_rtree4 RENAME TO item_rtree;"
        "INSERT INTO schema_version VALUES(4);";
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

/* Version 5 makes the plume endpoints' default test, CATALOG_STATE_PROP =
 * "published", index-only (bench/README.md: a packed-property lookup per
 * walked plume and an exact count over 80,000 index entries were two thirds
 * of a 1,000-row CSV page). An item's state is its class and the value of
 * that property when it is a plain string (item_states); item_search and its
 * order index carry it, so that a page walk tests it in the index, and
 * item_counts counts per state, so that such a search's count is a sum. */
static int migrate_v5(sqlite3 *db)
{
    /* Each item's class and status first (temp.item_state_of), then the
     * states, each item's state and the counts from them. */
    static const char *const tables =
        "CREATE TABLE item_states(st INTEGER PRIMARY KEY, cls INTEGER NOT NULL, status TEXT);"
        "CREATE TEMP TABLE item_state_of(item INTEGER PRIMARY KEY, cls INTEGER NOT NULL,"
        "  status TEXT);";
    static const char *const state_of =
        "INSERT INTO temp.item_state_of SELECT s.rowid, k.cls, p.txt FROM item_search s"
        "  JOIN item_classes k ON k.collection = s.collection AND k.vis = s.vis"
        "  LEFT JOIN item_props p ON p.item = s.rowid AND p.key = ?1 AND p.kind = ?2";
    static const char *const states =
        "INSERT INTO item_states(cls, status) SELECT DISTINCT cls, status"
        "  FROM temp.item_state_of ORDER BY 1, 2;"
        "CREATE INDEX item_states_cls ON item_states(cls, status);"
        "ALTER TABLE item_search ADD COLUMN st INTEGER NOT NULL DEFAULT 0;"
        "UPDATE item_search SET st = (SELECT t.st FROM temp.item_state_of o JOIN item_states t"
        "  ON t.cls = o.cls AND t.status IS o.status WHERE o.item = item_search.rowid);"
        "DROP TABLE temp.item_state_of;"
        "DROP INDEX item_search_order;"
        "CREATE INDEX item_search_order ON item_search(datetime_start DESC, collection, id,"
        "  vis, cvis, datetime_end, st);"
        "DROP TABLE item_counts;"
        "CREATE TABLE item_counts(st INTEGER PRIMARY KEY, n INTEGER NOT NULL);"
        "INSERT INTO item_counts SELECT st, count(*) FROM item_search GROUP BY st;"
        "INSERT INTO schema_version VALUES(5);";
    sqlite3_stmt *st = NULL;
    int rc = -EIO;
    if (sqlite3_exec(db, tables, NULL, NULL, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, state_of, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, CATALOG_STATE_PROP, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_bind_int(st, 2, CATALOG_PROP_STRING) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_DONE && sqlite3_exec(db, states, NULL, NULL, NULL) == SQLITE_OK)
        rc = 0;
    sqlite3_finalize(st);
    return rc;
}

static int migrate(sqlite3 *db)
{
    int version = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_exec(db,
                     "BEGIN IMMEDIATE;"
                     "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL);",
                     NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_prepare_v2(db, "SELECT max(version) FROM schema_version", -1, &st, NULL) !=
        SQLITE_OK)
        goto fail;
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (version > SCHEMA_VERSION) {
        log_error("catalog: catalog.db has schema version %d, newer than this binary (%d)", version,
                  SCHEMA_VERSION);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -EPROTO;
    }
    if (version < 1 &&
        (sqlite3_exec(db, schema_v1, NULL, NULL, NULL) != SQLITE_OK ||
         sqlite3_exec(db, "INSERT INTO schema_version VALUES(1)", NULL, NULL, NULL) != SQLITE_OK))
        goto fail;
    if (version < 2 && migrate_v2(db) < 0)
        goto fail;
    if (version < 3 && migrate_v3(db) < 0)
        goto fail;
    if (version < 4 && migrate_v4(db) < 0)
        goto fail;
    if (version < 5 && migrate_v5(db) < 0)
        goto fail;
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    return 0;
fail:
    log_error("catalog: migration failed: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -EIO;
}

/* ------------------------------------------------------------------------ */
/* Import transaction                                                        */
/* ------------------------------------------------------------------------ */

struct sqlite_tx {
    struct catalog_tx base;
    sqlite3 *db;
    sqlite3_stmt *find_item, *del_item, *del_bbox, *del_assets, *ins_item, *ins_bbox, *ins_asset,
        *upsert_coll, *has_coll, *del_search, *del_props, *ins_search, *ins_prop, *ins_key,
        *upd_cvis, *count_add, *count_sub, *stats, *ins_packed, *del_packed, *ins_class,
        *find_class, *ins_state, *find_state;
    int64_t vis; /* the imported documents' visibility mask */
    char *visibility_json;
    char *cls_coll; /* the collection whose class is cls (imports go collection by collection) */
    int64_t cls;
    int64_t now;
};

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -EIO;
}

static void tx_free(struct sqlite_tx *tx)
{
    if (!tx)
        return;
    sqlite3_finalize(tx->find_item);
    sqlite3_finalize(tx->del_item);
    sqlite3_finalize(tx->del_bbox);
    sqlite3_finalize(tx->del_assets);
    sqlite3_finalize(tx->ins_item);
    sqlite3_finalize(tx->ins_bbox);
    sqlite3_finalize(tx->ins_asset);
    sqlite3_finalize(tx->upsert_coll);
    sqlite3_finalize(tx->has_coll);
    sqlite3_finalize(tx->del_search);
    sqlite3_finalize(tx->del_props);
    sqlite3_finalize(tx->ins_search);
    sqlite3_finalize(tx->ins_prop);
    sqlite3_finalize(tx->ins_key);
    sqlite3_finalize(tx->upd_cvis);
    sqlite3_finalize(tx->count_add);
    sqlite3_finalize(tx->count_sub);
    sqlite3_finalize(tx->stats);
    sqlite3_finalize(tx->ins_packed);
    sqlite3_finalize(tx->del_packed);
    sqlite3_finalize(tx->ins_class);
    sqlite3_finalize(tx->find_class);
    sqlite3_finalize(tx->ins_state);
    sqlite3_finalize(tx->find_state);
    sqlite3_close(tx->db);
    free(tx->visibility_json);
    free(tx->cls_coll);
    free(tx);
}

/* Finds or assigns the bit of each visibility group, in the import
 * transaction, so that the mask and the group table commit together. */
static int visibility_mask(struct sqlite_tx *tx, const struct strlist *groups, char *err,
                           size_t errlen)
{
    sqlite3_stmt *find = NULL, *maxbit = NULL, *ins = NULL;
    int rc = -EIO;
    tx->vis = 0;
    if (sqlite3_prepare_v2(tx->db, "SELECT bit FROM vgroups WHERE name = ?1", -1, &find, NULL) ||
        sqlite3_prepare_v2(tx->db, "SELECT coalesce(max(bit), -1) FROM vgroups", -1, &maxbit,
                           NULL) ||
        sqlite3_prepare_v2(tx->db, "INSERT INTO vgroups(name, bit) VALUES(?1, ?2)", -1, &ins, NULL))
        goto fail;
    for (size_t i = 0; i < groups->n; i++) {
        const char *name = groups->v[i];
        bind_text(find, 1, name);
        int s = sqlite3_step(find);
        int64_t bit = s == SQLITE_ROW ? sqlite3_column_int64(find, 0) : -1;
        sqlite3_reset(find);
        if (s != SQLITE_ROW && s != SQLITE_DONE)
            goto fail;
        if (bit < 0) {
            if (sqlite3_step(maxbit) != SQLITE_ROW)
                goto fail;
            bit = sqlite3_column_int64(maxbit, 0) + 1;
            sqlite3_reset(maxbit);
            if (bit > CATALOG_SQLITE_MAX_GROUP_BITS) {
                snprintf(err, errlen,
                         "--visibility: too many distinct visibility groups in the catalog (at "
                         "most %d)",
                         CATALOG_SQLITE_MAX_GROUP_BITS + 1);
                rc = -EINVAL;
                goto out;
            }
            bind_text(ins, 1, name);
            sqlite3_bind_int64(ins, 2, bit);
            if (step_done(ins))
                goto fail;
        }
        tx->vis |= (int64_t)1 << bit;
    }
    rc = 0;
    goto out;
fail:
    snprintf(err, errlen, "--visibility: database error: %s", sqlite3_errmsg(tx->db));
out:
    sqlite3_finalize(find);
    sqlite3_finalize(maxbit);
    sqlite3_finalize(ins);
    return rc;
}

static int sqlite_tx_begin(struct catalog *base, const struct strlist *visibility,
                           const char *visibility_json, int64_t now, struct catalog_tx **out,
                           char *err, size_t errlen)
{
    struct catalog_sqlite *cat = (struct catalog_sqlite *)base;
    struct sqlite_tx *tx = calloc(1, sizeof(*tx));
    int rc = -ENOMEM;
    *out = NULL;
    if (!tx || !(tx->visibility_json = strdup(visibility_json)))
        goto fail;
    tx->base.cat = base;
    tx->now = now;
    rc = -EIO;
    tx->db = db_open(cat->path, false);
    if (!tx->db) {
        snprintf(err, errlen, "%s: cannot open the catalog database", cat->path);
        goto fail;
    }
    /* An import is one transaction that touches every index: with the
     * default 2 MiB page cache its pages went to the WAL and were read back
     * again and again (perf: a third of the import in pread/pwrite; 64 MiB
     * took 100,000 items from 30 to 24 s, bench/README.md). */
    sqlite3_exec(tx->db, "PRAGMA cache_size=-65536", NULL, NULL, NULL);
    struct {
        sqlite3_stmt **st;
        const char *sql;
    } stmts[] = {
        {&tx->find_item, "SELECT rowid, (SELECT st FROM item_search s WHERE s.rowid = i.rowid)"
                         " FROM items i WHERE collection = ?1 AND id = ?2"},
        {&tx->del_item, "DELETE FROM items WHERE rowid = ?1"},
        {&tx->del_bbox, "DELETE FROM item_rtree WHERE id = ?1"},
        {&tx->del_assets, "DELETE FROM assets WHERE item = ?1"},
        {&tx->ins_item, "INSERT INTO items(id, collection, doc, geometry, datetime_start,"
                        " datetime_end, visibility, vis, imported, tpl)"
                        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"},
        {&tx->ins_bbox, "INSERT INTO item_rtree(id, minx, maxx, miny, maxy, mint, maxt, minc,"
                        " maxc) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)"},
        {&tx->ins_class, "INSERT OR IGNORE INTO item_classes(collection, vis) VALUES(?1, ?2)"},
        {&tx->find_class, "SELECT cls FROM item_classes WHERE collection = ?1 AND vis = ?2"},
        {&tx->ins_state, "INSERT INTO item_states(cls, status) VALUES(?1, ?2)"},
        {&tx->find_state, "SELECT st FROM item_states WHERE cls = ?1 AND status IS ?2"},
        {&tx->ins_asset, "INSERT OR IGNORE INTO assets(key, item) VALUES(?1, ?2)"},
        {&tx->upsert_coll, "INSERT INTO collections(id, doc, visibility, vis, imported)"
                           " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(id) DO UPDATE SET"
                           " doc = excluded.doc, visibility = excluded.visibility,"
                           " vis = excluded.vis, imported = excluded.imported"},
        {&tx->has_coll, "SELECT 1 FROM collections WHERE id = ?1"},
        {&tx->del_search, "DELETE FROM item_search WHERE rowid = ?1"},
        {&tx->del_props, "DELETE FROM item_props WHERE item = ?1"},
        {&tx->ins_search, SQL_INS_SEARCH},
        {&tx->ins_packed, SQL_INS_PACKED},
        {&tx->del_packed, "DELETE FROM item_packed WHERE rowid = ?1"},
        {&tx->ins_prop, SQL_INS_PROP},
        {&tx->ins_key, SQL_INS_KEY},
        /* A collection's visibility is copied into its items' search rows,
         * so that a search tests two integers per item and joins nothing. */
        {&tx->upd_cvis, "UPDATE item_search SET cvis = ?1 WHERE collection = ?2"},
        {&tx->count_add, "INSERT INTO item_counts(st, n) VALUES(?1, 1)"
                         " ON CONFLICT(st) DO UPDATE SET n = n + 1"},
        {&tx->count_sub, "UPDATE item_counts SET n = n - 1 WHERE st = ?1"},
        /* An upper bound of the longest interval: it never shrinks. */
        {&tx->stats, "UPDATE item_stats SET maxdur = max(maxdur, ?1)"},
    };
    for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
        if (sqlite3_prepare_v2(tx->db, stmts[i].sql, -1, stmts[i].st, NULL) != SQLITE_OK)
            goto db_fail;
    }
    if (sqlite3_exec(tx->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto db_fail;
    if ((rc = visibility_mask(tx, visibility, err, errlen)) < 0) {
        sqlite3_exec(tx->db, "ROLLBACK", NULL, NULL, NULL);
        goto fail;
    }
    *out = &tx->base;
    return 0;
db_fail:
    snprintf(err, errlen, "%s: database error: %s", cat->path, sqlite3_errmsg(tx->db));
    rc = -EIO;
fail:
    tx_free(tx);
    return rc;
}

static int sqlite_tx_put_collection(struct catalog_tx *base, const char *id, const char *doc)
{
    struct sqlite_tx *tx = (struct sqlite_tx *)base;
    sqlite3_stmt *st = tx->upsert_coll;
    bind_text(st, 1, id);
    sqlite3_bind_text(st, 2, doc, -1, SQLITE_STATIC);
    bind_text(st, 3, tx->visibility_json);
    sqlite3_bind_int64(st, 4, tx->vis);
    sqlite3_bind_int64(st, 5, tx->now);
    if (step_done(st))
        return -EIO;
    sqlite3_bind_int64(tx->upd_cvis, 1, tx->vis);
    bind_text(tx->upd_cvis, 2, id);
    return step_done(tx->upd_cvis);
}

/* The class of the items this import puts in collection (migrate_v4),
 * created on first use. */
static int item_class(struct sqlite_tx *tx, const char *collection, int64_t *cls)
{
    if (tx->cls_coll && strcmp(tx->cls_coll, collection) == 0) {
        *cls = tx->cls;
        return 0;
    }
    bind_text(tx->ins_class, 1, collection);
    sqlite3_bind_int64(tx->ins_class, 2, tx->vis);
    if (step_done(tx->ins_class))
        return -EIO;
    bind_text(tx->find_class, 1, collection);
    sqlite3_bind_int64(tx->find_class, 2, tx->vis);
    int s = sqlite3_step(tx->find_class);
    *cls = s == SQLITE_ROW ? sqlite3_column_int64(tx->find_class, 0) : 0;
    sqlite3_reset(tx->find_class);
    sqlite3_clear_bindings(tx->find_class);
    if (s != SQLITE_ROW)
        return -EIO;
    free(tx->cls_coll);
    if (!(tx->cls_coll = strdup(collection)))
        return -ENOMEM;
    tx->cls = *cls;
    return 0;
}

/* The state (migrate_v5) of item it of class cls, created on first use. */
static int item_state(struct sqlite_tx *tx, int64_t cls, const struct catalog_item_rec *it,
                      int64_t *state)
{
    const char *status = NULL;
    for (size_t i = 0; i < it->nprops && !status; i++)
        if (it->props[i].kind == CATALOG_PROP_STRING &&
            strcmp(it->props[i].key, CATALOG_STATE_PROP) == 0)
            status = it->props[i].txt;
    sqlite3_bind_int64(tx->find_state, 1, cls);
    sqlite3_bind_text(tx->find_state, 2, status, -1, SQLITE_STATIC);
    int s = sqlite3_step(tx->find_state);
    *state = s == SQLITE_ROW ? sqlite3_column_int64(tx->find_state, 0) : 0;
    sqlite3_reset(tx->find_state);
    sqlite3_clear_bindings(tx->find_state);
    if (s == SQLITE_ROW)
        return 0;
    if (s != SQLITE_DONE)
        return -EIO;
    sqlite3_bind_int64(tx->ins_state, 1, cls);
    sqlite3_bind_text(tx->ins_state, 2, status, -1, SQLITE_STATIC);
    if (step_done(tx->ins_state))
        return -EIO;
    *state = sqlite3_last_insert_rowid(tx->db);
    return 0;
}

static int sqlite_tx_put_item(struct catalog_tx *base, const struct catalog_item_rec *it)
{
    struct sqlite_tx *tx = (struct sqlite_tx *)base;

    /* Replace any previous version. */
    sqlite3_stmt *st = tx->find_item;
    bind_text(st, 1, it->collection);
    bind_text(st, 2, it->id);
    int s = sqlite3_step(st);
    int64_t old = s == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    int64_t old_st = s == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (s != SQLITE_ROW && s != SQLITE_DONE)
        return -EIO;
    if (s == SQLITE_ROW) {
        sqlite3_bind_int64(tx->del_assets, 1, old);
        sqlite3_bind_int64(tx->del_bbox, 1, old);
        sqlite3_bind_int64(tx->del_item, 1, old);
        sqlite3_bind_int64(tx->del_search, 1, old);
        sqlite3_bind_int64(tx->del_props, 1, old);
        sqlite3_bind_int64(tx->del_packed, 1, old);
        if (step_done(tx->del_packed))
            return -EIO;
        sqlite3_bind_int64(tx->count_sub, 1, old_st);
        if (step_done(tx->del_assets) || step_done(tx->del_bbox) || step_done(tx->del_item) ||
            step_done(tx->del_search) || step_done(tx->del_props) || step_done(tx->count_sub))
            return -EIO;
    }

    st = tx->ins_item;
    bind_text(st, 1, it->id);
    bind_text(st, 2, it->collection);
    sqlite3_bind_text(st, 3, it->doc, -1, SQLITE_STATIC);
    if (it->geometry)
        sqlite3_bind_text(st, 4, it->geometry, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, it->start);
    sqlite3_bind_int64(st, 6, it->end);
    bind_text(st, 7, tx->visibility_json);
    sqlite3_bind_int64(st, 8, tx->vis);
    sqlite3_bind_int64(st, 9, tx->now);
    sqlite3_bind_text(st, 10, it->tpl, -1, SQLITE_STATIC);
    if (step_done(st))
        return -EIO;
    int64_t rowid = sqlite3_last_insert_rowid(tx->db), cls, state;
    int rc = item_class(tx, it->collection, &cls);
    if (rc == 0)
        rc = item_state(tx, cls, it, &state);
    if (rc < 0)
        return rc;

    uint8_t *rec = NULL;
    size_t reclen = 0;
    if (catalog_props_pack(it->props, it->nprops, &rec, &reclen) < 0)
        return -ENOMEM;
    if (rec) {
        sqlite3_bind_int64(tx->ins_packed, 1, rowid);
        sqlite3_bind_blob(tx->ins_packed, 2, rec, (int)reclen, free);
        if (step_done(tx->ins_packed))
            return -EIO;
    }
    st = tx->ins_search;
    sqlite3_bind_int64(st, 1, rowid);
    bind_text(st, 2, it->collection);
    bind_text(st, 3, it->id);
    sqlite3_bind_int64(st, 4, tx->vis);
    sqlite3_bind_int64(st, 5, it->start);
    sqlite3_bind_int64(st, 6, it->end);
    sqlite3_bind_int(st, 7, it->geometry != NULL);
    sqlite3_bind_int64(st, 8, state);
    sqlite3_bind_int64(tx->count_add, 1, state);
    sqlite3_bind_int64(tx->stats, 1, it->end - it->start);
    /* The class and interval every property row of the item carries. */
    sqlite3_bind_int64(tx->ins_prop, 6, cls);
    sqlite3_bind_int64(tx->ins_prop, 7, it->start);
    sqlite3_bind_int64(tx->ins_prop, 8, it->end);
    if (step_done(st) || step_done(tx->count_add) || step_done(tx->stats) ||
        put_props(tx->ins_prop, tx->ins_key, rowid, it->collection, it->props, it->nprops) < 0)
        return -EIO;

    if (it->has_box) {
        /* A box across the antimeridian is indexed as the full longitude range. */
        const double *box = it->box;
        double minx = box[0] <= box[2] ? box[0] : -180, maxx = box[0] <= box[2] ? box[2] : 180;
        st = tx->ins_bbox;
        sqlite3_bind_int64(st, 1, rowid);
        sqlite3_bind_double(st, 2, minx);
        sqlite3_bind_double(st, 3, maxx);
        sqlite3_bind_double(st, 4, box[1]);
        sqlite3_bind_double(st, 5, box[3]);
        sqlite3_bind_double(st, 6, (double)it->start / MS_PER_YEAR);
        sqlite3_bind_double(st, 7, (double)it->end / MS_PER_YEAR);
        sqlite3_bind_int64(st, 8, cls); /* exact as the R*Tree's float up to 2^24 classes */
        if (step_done(st))
            return -EIO;
    }
    for (size_t i = 0; i < it->asset_keys->n; i++) {
        bind_text(tx->ins_asset, 1, it->asset_keys->v[i]);
        sqlite3_bind_int64(tx->ins_asset, 2, rowid);
        if (step_done(tx->ins_asset))
            return -EIO;
    }
    return 0;
}

static int sqlite_tx_has_collection(struct catalog_tx *base, const char *id)
{
    struct sqlite_tx *tx = (struct sqlite_tx *)base;
    bind_text(tx->has_coll, 1, id);
    int s = sqlite3_step(tx->has_coll);
    sqlite3_reset(tx->has_coll);
    return s == SQLITE_ROW ? 0 : s == SQLITE_DONE ? -ENOENT : -EIO;
}

static int sqlite_tx_commit(struct catalog_tx *base)
{
    struct sqlite_tx *tx = (struct sqlite_tx *)base;
    if (sqlite3_exec(tx->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return -EIO;
    tx_free(tx);
    return 0;
}

static void sqlite_tx_rollback(struct catalog_tx *base)
{
    struct sqlite_tx *tx = (struct sqlite_tx *)base;
    sqlite3_exec(tx->db, "ROLLBACK", NULL, NULL, NULL);
    tx_free(tx);
}

static const char *sqlite_tx_error(struct catalog_tx *base)
{
    return sqlite3_errmsg(((struct sqlite_tx *)base)->db);
}

/* ------------------------------------------------------------------------ */
/* Open, close, generation                                                   */
/* ------------------------------------------------------------------------ */

static void sqlite_close(struct catalog *base)
{
    struct catalog_sqlite *cat = (struct catalog_sqlite *)base;
    while (cat->idle) {
        struct catalog_sqlite_conn *c = cat->idle;
        cat->idle = c->next;
        conn_free(c);
    }
    walwatch_close(cat->wal); /* after every connection: see walwatch_close */
    pthread_mutex_destroy(&cat->mu);
    pthread_mutex_destroy(&cat->gen_mu);
    free(cat);
}

/* A commit by any process rewrites the WAL-index header; a changed header is
 * a new generation. */
static uint64_t sqlite_generation(struct catalog *base)
{
    struct catalog_sqlite *cat = (struct catalog_sqlite *)base;
    struct walwatch_header hdr;
    if (!walwatch_read(cat->wal, &hdr))
        return 0;
    pthread_mutex_lock(&cat->gen_mu);
    if (cat->gen == 0 || !walwatch_header_equal(&hdr, &cat->gen_hdr)) {
        cat->gen_hdr = hdr;
        cat->gen++;
    }
    uint64_t gen = cat->gen;
    pthread_mutex_unlock(&cat->gen_mu);
    return gen;
}

/* The WAL header already shows every commit, other nodes' included (they
 * share the file), so there is nothing to note. */
static void sqlite_note_change(struct catalog *base)
{
    (void)base;
}

static const struct catalog_ops sqlite_ops = {
    .name = "sqlite",
    .tx_begin = sqlite_tx_begin,
    .tx_put_collection = sqlite_tx_put_collection,
    .tx_put_item = sqlite_tx_put_item,
    .tx_has_collection = sqlite_tx_has_collection,
    .tx_commit = sqlite_tx_commit,
    .tx_rollback = sqlite_tx_rollback,
    .tx_error = sqlite_tx_error,
    .collections = catalog_sqlite_collections,
    .collection_get = catalog_sqlite_collection_get,
    .item_get = catalog_sqlite_item_get,
    .item_each = catalog_sqlite_item_each,
    .asset_visible = catalog_sqlite_asset_visible,
    .search = catalog_sqlite_search,
    .queryables = catalog_sqlite_queryables,
    .properties_visible = catalog_sqlite_properties_visible,
    .generation = sqlite_generation,
    .note_change = sqlite_note_change,
    .close = sqlite_close,
};

struct catalog *catalog_sqlite_open(const char *data_dir)
{
    struct catalog_sqlite *cat = calloc(1, sizeof(*cat));
    sqlite3 *db = NULL;
    if (!cat)
        return NULL;
    cat->base.ops = &sqlite_ops;
    int n = snprintf(cat->path, sizeof(cat->path), "%s/catalog.db", data_dir);
    if (n < 0 || (size_t)n >= sizeof(cat->path))
        goto fail;
    db = db_open(cat->path, true);
    if (!db)
        goto fail;
    if (sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK) {
        log_error("catalog: cannot enable WAL: %s", sqlite3_errmsg(db));
        goto fail;
    }
    if (migrate(db) < 0)
        goto fail;
    sqlite3_close(db);
    cat->wal = walwatch_open(cat->path);
    pthread_mutex_init(&cat->mu, NULL);
    pthread_mutex_init(&cat->gen_mu, NULL);
    return &cat->base;
fail:
    sqlite3_close(db);
    free(cat);
    return NULL;
}
