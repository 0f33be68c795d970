/* The PostgreSQL catalog driver: the same documents, visibility and search
 * as the SQLite driver, in a database that several Tessera nodes share. Items
 * carry their bounding box in a `box` column with a GiST index (no PostGIS
 * needed); visibility is one row per (document, group). This file has the
 * schema (migration track "catalog"), the import transaction, the simple
 * reads and the generation counter; catalog_pg_search.c has the search.
 * Threading: every call borrows its own connection from the pool (store/pg.h),
 * so any number of threads may read at once; imports are serialised across
 * nodes by a transaction-level advisory lock. */
#include "catalog/catalog_pg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* Connections per process for the catalog (the store has a pool of its own).
 * Searches hold one for a query or two; imports for their transaction. */
#define CATALOG_PG_POOL 8
/* How long an import waits for the other nodes to apply its change (and so
 * drop their cached pages) before reporting success anyway. */
#define CATALOG_PG_BARRIER_MS 10000
#define IMPORT_LOCK_KEYS CATALOG_PG_IMPORT_LOCK_KEYS

/* ------------------------------------------------------------------------ */
/* Schema                                                                    */
/* ------------------------------------------------------------------------ */

static const char *const migrations[] = {
    /* 1: documents, boxes, assets and visibility. Items refer to their
     * collection; the reference is checked at commit, because an import may
     * bring items before their collection (import.c reports a missing one
     * with a clearer message first). */
    "CREATE TABLE catalog_collections ("
    "  id TEXT PRIMARY KEY,"
    "  doc TEXT NOT NULL,"
    "  imported BIGINT NOT NULL);"
    "CREATE TABLE catalog_items ("
    "  rid BIGSERIAL PRIMARY KEY,"
    "  collection TEXT NOT NULL REFERENCES catalog_collections (id)"
    "    DEFERRABLE INITIALLY DEFERRED,"
    "  id TEXT NOT NULL,"
    "  doc TEXT NOT NULL,"
    "  tpl TEXT NOT NULL,"
    "  geometry TEXT,"
    "  datetime_start BIGINT NOT NULL,"
    "  datetime_end BIGINT NOT NULL,"
    "  box BOX,"
    "  imported BIGINT NOT NULL,"
    "  UNIQUE (collection, id));"
    "CREATE INDEX catalog_items_box ON catalog_items USING gist (box);"
    "CREATE INDEX catalog_items_id ON catalog_items (id);"
    "CREATE INDEX catalog_items_order ON catalog_items"
    "  (datetime_start DESC, collection COLLATE \"C\", id COLLATE \"C\");"
    "CREATE TABLE catalog_assets ("
    "  key TEXT NOT NULL,"
    "  item BIGINT NOT NULL REFERENCES catalog_items (rid) ON DELETE CASCADE,"
    "  PRIMARY KEY (key, item));"
    "CREATE INDEX catalog_assets_item ON catalog_assets (item);"
    /* item = '' is the collection document itself (item ids are never
     * empty). */
    "CREATE TABLE catalog_visibility ("
    "  collection TEXT NOT NULL,"
    "  item TEXT NOT NULL,"
    "  grp TEXT NOT NULL,"
    "  PRIMARY KEY (collection, item, grp));",
    /* 2: search. catalog_item_search is a narrow copy of what a search
     * tests and orders on, with the item's own and its collection's groups
     * as arrays (so visibility needs no join) and the box; searches scan it
     * and read the documents of the page alone from catalog_items. Item
     * properties become rows (catalog_driver.h) with an index that serves
     * both range filters and sorting (a prefix of the text: a B-tree entry
     * has a size limit); catalog_prop_keys lists the names seen per
     * collection; catalog_item_counts answers unfiltered counts. Existing
     * items get their property rows from C after this step (props_ok). */
    "ALTER TABLE catalog_items ADD COLUMN props_ok BOOLEAN NOT NULL DEFAULT false;"
    "CREATE TABLE catalog_item_search ("
    "  rid BIGINT PRIMARY KEY REFERENCES catalog_items (rid) ON DELETE CASCADE,"
    "  collection TEXT NOT NULL,"
    "  id TEXT NOT NULL,"
    "  vis TEXT[] NOT NULL,"
    "  cvis TEXT[] NOT NULL,"
    "  datetime_start BIGINT NOT NULL,"
    "  datetime_end BIGINT NOT NULL,"
    "  box BOX,"
    "  has_geom BOOLEAN NOT NULL);"
    "INSERT INTO catalog_item_search SELECT i.rid, i.collection, i.id,"
    "  coalesce((SELECT array_agg(v.grp ORDER BY v.grp) FROM catalog_visibility v"
    "    WHERE v.collection = i.collection AND v.item = i.id), '{}'),"
    "  coalesce((SELECT array_agg(v.grp ORDER BY v.grp) FROM catalog_visibility v"
    "    WHERE v.collection = i.collection AND v.item = ''), '{}'),"
    "  i.datetime_start, i.datetime_end, i.box, i.geometry IS NOT NULL FROM catalog_items i;"
    "CREATE INDEX catalog_item_search_box ON catalog_item_search USING gist (box);"
    "CREATE INDEX catalog_item_search_order ON catalog_item_search"
    "  (datetime_start DESC, collection COLLATE \"C\", id COLLATE \"C\");"
    "CREATE INDEX catalog_item_search_id ON catalog_item_search (id);"
    "CREATE INDEX catalog_item_search_coll ON catalog_item_search (collection);"
    "CREATE TABLE catalog_item_counts ("
    "  collection TEXT NOT NULL,"
    "  vis TEXT[] NOT NULL,"
    "  n BIGINT NOT NULL,"
    "  PRIMARY KEY (collection, vis));"
    "INSERT INTO catalog_item_counts SELECT collection, vis, count(*) FROM catalog_item_search"
    "  GROUP BY collection, vis;"
    "CREATE TABLE catalog_item_props ("
    "  item BIGINT NOT NULL REFERENCES catalog_items (rid) ON DELETE CASCADE,"
    "  key TEXT NOT NULL,"
    "  kind SMALLINT NOT NULL,"
    "  num DOUBLE PRECISION,"
    "  txt TEXT,"
    "  PRIMARY KEY (item, key));"
    "CREATE INDEX catalog_item_props_value ON catalog_item_props"
    "  (key, kind, num, (left(txt, 200)) COLLATE \"C\");"
    "CREATE TABLE catalog_prop_keys ("
    "  collection TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  kind SMALLINT NOT NULL,"
    "  PRIMARY KEY (collection, key, kind));"
    "CREATE INDEX catalog_items_props_todo ON catalog_items (rid) WHERE NOT props_ok;",
};

/* ------------------------------------------------------------------------ */
/* Helpers shared with catalog_pg_search.c                                   */
/* ------------------------------------------------------------------------ */

/* Appends one array element, quoted, with '"' and '\' escaped: the only
 * characters special inside a quoted element. */
static char *array_elem(char *o, const char *s)
{
    *o++ = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            *o++ = '\\';
        *o++ = *s;
    }
    *o++ = '"';
    return o;
}

char *catalog_pg_text_array(const struct strlist *l, const char *extra)
{
    size_t n = l ? l->n : 0, len = 3;
    for (size_t i = 0; i < n; i++)
        len += 2 * strlen(l->v[i]) + 3;
    if (extra)
        len += 2 * strlen(extra) + 3;
    char *out = malloc(len), *o = out;
    if (!out)
        return NULL;
    *o++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (o > out + 1)
            *o++ = ',';
        o = array_elem(o, l->v[i]);
    }
    if (extra) {
        if (o > out + 1)
            *o++ = ',';
        o = array_elem(o, extra);
    }
    *o++ = '}';
    *o = '\0';
    return out;
}

void catalog_pg_box_param(const double b[4], char *out)
{
    /* %.17g round-trips every double exactly. */
    snprintf(out, CATALOG_PG_BOX_LEN, "((%.17g,%.17g),(%.17g,%.17g))", b[0], b[1], b[2], b[3]);
}

int catalog_pg_collect_docs(const PGresult *r, int col, bool single, cJSON **out)
{
    int rows = PQntuples(r);
    *out = NULL;
    if (single) {
        if (rows == 0)
            return -ENOENT;
        *out = cJSON_ParseWithLength(PQgetvalue(r, 0, col), (size_t)PQgetlength(r, 0, col));
        return *out ? 0 : -EIO;
    }
    cJSON *arr = cJSON_CreateArray();
    if (!arr)
        return -ENOMEM;
    for (int i = 0; i < rows; i++) {
        cJSON *doc = cJSON_ParseWithLength(PQgetvalue(r, i, col), (size_t)PQgetlength(r, i, col));
        if (!doc) {
            cJSON_Delete(arr);
            return -EIO;
        }
        cJSON_AddItemToArray(arr, doc);
    }
    *out = arr;
    return 0;
}

int catalog_pg_each_template(const PGresult *r, int col, catalog_item_fn fn, void *ctx)
{
    for (int i = 0; i < PQntuples(r); i++) {
        int rc = fn(ctx, PQgetvalue(r, i, col + 1), PQgetvalue(r, i, col + 2),
                    PQgetvalue(r, i, col), (size_t)PQgetlength(r, i, col));
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Import transaction                                                        */
/* ------------------------------------------------------------------------ */

struct pg_tx {
    struct catalog_tx base;
    PGconn *c;
    char *visibility; /* text[] literal of the imported documents' groups */
    char now[24];
    char error[256];
};

/* Remembers the connection's message for tx_error (pg_query has logged it). */
static int tx_fail(struct pg_tx *tx)
{
    const char *msg = PQerrorMessage(tx->c);
    snprintf(tx->error, sizeof(tx->error), "%.*s", (int)strcspn(msg, "\n"), msg);
    return -EIO;
}

static void tx_free(struct catalog_pg *cat, struct pg_tx *tx)
{
    if (!tx)
        return;
    if (tx->c) {
        pg_rollback(tx->c);
        pg_release(cat->pool, tx->c);
    }
    free(tx->visibility);
    free(tx);
}

static int pg_tx_begin(struct catalog *base, const struct strlist *visibility,
                       const char *visibility_json, int64_t now, struct catalog_tx **out, char *err,
                       size_t errlen)
{
    struct catalog_pg *cat = (struct catalog_pg *)base;
    struct pg_tx *tx = calloc(1, sizeof(*tx));
    int rc = -ENOMEM;
    (void)visibility_json; /* the groups are stored as rows, not as JSON */
    *out = NULL;
    if (!tx || !(tx->visibility = catalog_pg_text_array(visibility, NULL)))
        goto fail;
    tx->base.cat = base;
    pg_int_param(now, tx->now);
    rc = -EIO;
    if (!(tx->c = pg_acquire(cat->pool))) {
        snprintf(err, errlen, "catalog: cannot reach the PostgreSQL database");
        goto fail;
    }
    /* One import at a time, cluster-wide: two imports replacing the same
     * item would otherwise collide on its unique key. The lock ends with the
     * transaction, which also suits a transaction-mode pooler. */
    if (pg_begin(tx->c) < 0 ||
        pg_exec(tx->c, "SELECT pg_advisory_xact_lock(" IMPORT_LOCK_KEYS ")", 0, NULL, NULL) < 0) {
        tx_fail(tx);
        snprintf(err, errlen, "catalog: database error: %s", tx->error);
        goto fail;
    }
    *out = &tx->base;
    return 0;
fail:
    tx_free(cat, tx);
    return rc;
}

static int pg_tx_put_collection(struct catalog_tx *base, const char *id, const char *doc)
{
    struct pg_tx *tx = (struct pg_tx *)base;
    const char *p[] = {id, doc, tx->now};
    /* Separate statements: sub-statements of one WITH run in no set order,
     * so a delete and an insert of the same visibility row could collide. */
    if (pg_exec(tx->c,
                "INSERT INTO catalog_collections (id, doc, imported) VALUES ($1, $2, $3)"
                " ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, imported = excluded.imported",
                3, p, NULL) < 0 ||
        pg_exec(tx->c, "DELETE FROM catalog_visibility WHERE collection = $1 AND item = ''", 1, p,
                NULL) < 0 ||
        pg_exec(tx->c,
                "INSERT INTO catalog_visibility (collection, item, grp)"
                " SELECT $1, '', g FROM unnest($2::text[]) AS g",
                2, (const char *const[]){id, tx->visibility}, NULL) < 0 ||
        pg_exec(tx->c, "UPDATE catalog_item_search SET cvis = $2::text[] WHERE collection = $1", 2,
                (const char *const[]){id, tx->visibility}, NULL) < 0)
        return tx_fail(tx);
    return 0;
}

static int pg_tx_put_item(struct catalog_tx *base, const struct catalog_item_rec *it)
{
    struct pg_tx *tx = (struct pg_tx *)base;
    char start[24], end[24], box[CATALOG_PG_BOX_LEN];
    char *assets = catalog_pg_text_array(it->asset_keys, NULL);
    struct catalog_pg_props props;
    int rc = catalog_pg_props_params(it->props, it->nprops, &props);
    if (!assets || rc < 0) {
        free(assets);
        catalog_pg_props_free(&props);
        return -ENOMEM;
    }
    if (it->has_box) {
        /* A box across the antimeridian is indexed as the full longitude
         * range, as the SQLite driver's R*Tree does. */
        double b[4] = {it->box[0], it->box[1], it->box[2], it->box[3]};
        if (b[0] > b[2]) {
            b[0] = -180;
            b[2] = 180;
        }
        catalog_pg_box_param(b, box);
    }
    const char *p[] = {it->collection,
                       it->id,
                       it->doc,
                       it->tpl,
                       it->geometry,
                       pg_int_param(it->start, start),
                       pg_int_param(it->end, end),
                       it->has_box ? box : NULL,
                       tx->now,
                       assets,
                       tx->visibility,
                       props.keys,
                       props.kinds,
                       props.nums,
                       props.txts};
    /* Replace any previous version: its assets and property rows go with it
     * (ON DELETE CASCADE), its visibility rows by hand. Then the new row,
     * its assets, properties and visibility in one statement (inserts only,
     * so no collision). The collection's groups are copied from its own
     * visibility rows, as the collection's import last wrote them. */
    rc = 0;
    if (pg_exec(tx->c,
                "WITH v AS (DELETE FROM catalog_visibility WHERE collection = $1 AND item = $2),"
                " s AS (DELETE FROM catalog_item_search WHERE rid = (SELECT rid FROM"
                "   catalog_items WHERE collection = $1 AND id = $2) RETURNING collection, vis),"
                " c AS (UPDATE catalog_item_counts k SET n = k.n - 1 FROM s"
                "   WHERE k.collection = s.collection AND k.vis = s.vis)"
                " DELETE FROM catalog_items WHERE collection = $1 AND id = $2",
                2, p, NULL) < 0 ||
        pg_exec(tx->c,
                "WITH ins AS (INSERT INTO catalog_items (collection, id, doc, tpl, geometry,"
                "   datetime_start, datetime_end, box, imported, props_ok)"
                "   VALUES ($1, $2, $3, $4, $5, $6, $7, $8::box, $9, true) RETURNING rid),"
                " se AS (INSERT INTO catalog_item_search (rid, collection, id, vis, cvis,"
                "   datetime_start, datetime_end, box, has_geom)"
                "   SELECT ins.rid, $1, $2, $11::text[],"
                "   (SELECT coalesce(array_agg(grp ORDER BY grp), '{}'::text[])"
                "    FROM catalog_visibility WHERE collection = $1 AND item = ''),"
                "   $6, $7, $8::box, $5::text IS NOT NULL FROM ins),"
                " cn AS (INSERT INTO catalog_item_counts (collection, vis, n)"
                "   VALUES ($1, $11::text[], 1) ON CONFLICT (collection, vis)"
                "   DO UPDATE SET n = catalog_item_counts.n + 1),"
                " a AS (INSERT INTO catalog_assets (key, item)"
                "   SELECT k, ins.rid FROM ins, unnest($10::text[]) AS k ON CONFLICT DO NOTHING),"
                " pr AS (INSERT INTO catalog_item_props (item, key, kind, num, txt)"
                "   SELECT ins.rid, u.k, u.kd, u.n, u.t FROM ins,"
                "   unnest($12::text[], $13::smallint[], $14::float8[], $15::text[])"
                "   AS u (k, kd, n, t)),"
                " pk AS (INSERT INTO catalog_prop_keys (collection, key, kind)"
                "   SELECT $1, u.k, u.kd FROM unnest($12::text[], $13::smallint[]) AS u (k, kd)"
                "   ON CONFLICT DO NOTHING)"
                " INSERT INTO catalog_visibility (collection, item, grp)"
                " SELECT $1, $2, g FROM unnest($11::text[]) AS g",
                15, p, NULL) < 0)
        rc = tx_fail(tx);
    free(assets);
    catalog_pg_props_free(&props);
    return rc;
}

static int pg_tx_has_collection(struct catalog_tx *base, const char *id)
{
    struct pg_tx *tx = (struct pg_tx *)base;
    const char *p[] = {id};
    PGresult *r = pg_query(tx->c, "SELECT 1 FROM catalog_collections WHERE id = $1", 1, p, NULL);
    if (!r)
        return tx_fail(tx);
    int rc = PQntuples(r) ? 0 : -ENOENT;
    PQclear(r);
    return rc;
}

static int pg_tx_commit(struct catalog_tx *base)
{
    struct pg_tx *tx = (struct pg_tx *)base;
    struct catalog_pg *cat = (struct catalog_pg *)base->cat;
    /* The change-log entry commits with the documents, so every node learns
     * of exactly the committed imports; it is the last statement because it
     * keeps the change_seq row locked until COMMIT. */
    if (pg_change_note(tx->c, PG_CHANGE_CATALOG, 0, "") < 0 || pg_commit(tx->c) < 0)
        return tx_fail(tx);
    /* Fresh statistics for the search tables, so that the planner starts
     * searches from the right index right after an import (autovacuum would
     * get there later). Best effort: the import is committed. */
    pg_exec(tx->c, "ANALYZE catalog_item_search, catalog_item_props", 0, NULL, NULL);
    pg_release(cat->pool, tx->c);
    tx->c = NULL;
    tx_free(cat, tx);
    atomic_fetch_add(&cat->gen, 1);
    /* Committed: a barrier that times out leaves the import loaded, and the
     * late nodes catch up at their next heartbeat; it is logged, not an
     * error of the import. */
    if (pg_barrier(cat->pool, CATALOG_PG_BARRIER_MS) < 0)
        log_warn("catalog: import committed, but not every node confirmed it yet");
    return 0;
}

static void pg_tx_rollback(struct catalog_tx *base)
{
    tx_free((struct catalog_pg *)base->cat, (struct pg_tx *)base);
}

static const char *pg_tx_error(struct catalog_tx *base)
{
    return ((struct pg_tx *)base)->error;
}

/* ------------------------------------------------------------------------ */
/* Reads                                                                     */
/* ------------------------------------------------------------------------ */

/* Runs sql with $1 = the caller's groups (plus Public) and $2, $3 = a, b.
 * Returns the result (caller PQclear) or NULL with *rc set. */
static PGresult *read_query(struct catalog_pg *cat, const char *sql, const struct strlist *groups,
                            const char *a, const char *b, int *rc)
{
    char *grp = catalog_pg_text_array(groups, CATALOG_PUBLIC_GROUP);
    PGconn *c = grp ? pg_acquire(cat->pool) : NULL;
    PGresult *r = NULL;
    *rc = grp ? -EIO : -ENOMEM;
    if (c) {
        const char *p[] = {grp, a, b};
        r = pg_query(c, sql, b ? 3 : a ? 2 : 1, p, NULL);
        pg_release(cat->pool, c);
        if (r)
            *rc = 0;
    }
    free(grp);
    return r;
}

static int pg_collections(struct catalog *base, const struct strlist *groups, cJSON **out)
{
    int rc;
    PGresult *r =
        read_query((struct catalog_pg *)base,
                   "SELECT c.doc FROM catalog_collections c WHERE " CATALOG_PG_COLL_VISIBLE(
                       "c.id") " ORDER BY c.id COLLATE \"C\"",
                   groups, NULL, NULL, &rc);
    if (r)
        rc = catalog_pg_collect_docs(r, 0, false, out);
    PQclear(r);
    return rc;
}

static int pg_collection_get(struct catalog *base, const struct strlist *groups, const char *id,
                             cJSON **out)
{
    int rc;
    PGresult *r = read_query((struct catalog_pg *)base,
                             "SELECT c.doc FROM catalog_collections c"
                             " WHERE c.id = $2 AND " CATALOG_PG_COLL_VISIBLE("c.id"),
                             groups, id, NULL, &rc);
    if (r)
        rc = catalog_pg_collect_docs(r, 0, true, out);
    PQclear(r);
    return rc;
}

static int pg_item_get(struct catalog *base, const struct strlist *groups, const char *collection,
                       const char *id, cJSON **out)
{
    int rc;
    PGresult *r = read_query((struct catalog_pg *)base,
                             "SELECT i.doc FROM catalog_items i"
                             " WHERE i.collection = $2 AND i.id = $3 AND " CATALOG_PG_ITEM_VISIBLE,
                             groups, collection, id, &rc);
    if (r)
        rc = catalog_pg_collect_docs(r, 0, true, out);
    PQclear(r);
    return rc;
}

static int pg_item_each(struct catalog *base, const struct strlist *groups, const char *collection,
                        const char *id, catalog_item_fn fn, void *ctx)
{
    int rc;
    PGresult *r = read_query((struct catalog_pg *)base,
                             "SELECT i.tpl, i.collection, i.id FROM catalog_items i"
                             " WHERE i.collection = $2 AND i.id = $3 AND " CATALOG_PG_ITEM_VISIBLE,
                             groups, collection, id, &rc);
    if (r)
        rc = PQntuples(r) ? catalog_pg_each_template(r, 0, fn, ctx) : -ENOENT;
    PQclear(r);
    return rc;
}

static int pg_asset_visible(struct catalog *base, const struct strlist *groups, const char *key,
                            cJSON **doc)
{
    int rc;
    PGresult *r = read_query((struct catalog_pg *)base,
                             "SELECT i.doc FROM catalog_assets a JOIN catalog_items i ON i.rid = a.item"
                             " WHERE a.key = $2 AND " CATALOG_PG_ITEM_VISIBLE
                             " ORDER BY i.collection COLLATE \"C\", i.id COLLATE \"C\" LIMIT 1",
                             groups, key, NULL, &rc);
    if (r)
        rc = PQntuples(r) ? 0 : -ENOENT;
    if (rc == 0 && doc && !(*doc = cJSON_Parse(PQgetvalue(r, 0, 0))))
        rc = -ENOMEM; /* the text was stored by us, printed by cJSON */
    PQclear(r);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Open, close, generation                                                   */
/* ------------------------------------------------------------------------ */

static uint64_t pg_generation(struct catalog *base)
{
    return atomic_load(&((struct catalog_pg *)base)->gen);
}

static void pg_note_change(struct catalog *base)
{
    atomic_fetch_add(&((struct catalog_pg *)base)->gen, 1);
}

static void pg_close(struct catalog *base)
{
    struct catalog_pg *cat = (struct catalog_pg *)base;
    pg_pool_close(cat->pool);
    free(cat);
}

static const struct catalog_ops pg_ops = {
    .name = "postgresql",
    .tx_begin = pg_tx_begin,
    .tx_put_collection = pg_tx_put_collection,
    .tx_put_item = pg_tx_put_item,
    .tx_has_collection = pg_tx_has_collection,
    .tx_commit = pg_tx_commit,
    .tx_rollback = pg_tx_rollback,
    .tx_error = pg_tx_error,
    .collections = pg_collections,
    .collection_get = pg_collection_get,
    .item_get = pg_item_get,
    .item_each = pg_item_each,
    .asset_visible = pg_asset_visible,
    .search = catalog_pg_search,
    .queryables = catalog_pg_queryables,
    .properties_visible = catalog_pg_properties_visible,
    .generation = pg_generation,
    .note_change = pg_note_change,
    .close = pg_close,
};

struct catalog *catalog_pg_open(const char *url)
{
    struct catalog_pg *cat = calloc(1, sizeof(*cat));
    if (!cat)
        return NULL;
    cat->base.ops = &pg_ops;
    /* Never 0: 0 tells the page cache that nothing may be cached. */
    atomic_init(&cat->gen, 1);
    cat->pool = pg_pool_open(url, CATALOG_PG_POOL);
    if (!cat->pool)
        goto fail;
    if (pg_migrate(cat->pool, "catalog", migrations,
                   (int)(sizeof(migrations) / sizeof(migrations[0]))) < 0 ||
        catalog_pg_props_backfill(cat) < 0) {
        log_error("catalog: PostgreSQL schema migration failed");
        goto fail;
    }
    return &cat->base;
fail:
    pg_pool_close(cat->pool);
    free(cat);
    return NULL;
}
