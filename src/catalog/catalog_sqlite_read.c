/* Reads and search of the SQLite catalog driver. Visibility is a bit mask:
 * the caller's groups become a mask (Public is bit 0, always set) and a
 * document is visible when its mask shares a bit with it. Search runs one
 * prepared statement per combination of filters present: the R*Tree answers
 * bbox and prefilters intersects, and the SQL function tessera_intersects
 * (catalog_sqlite.c) makes the exact test. Any thread: each call takes its own
 * connection from the pool. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_sqlite.h"
#include "catalog/geom.h"
#include "util/log.h"

static const char *const stmt_sql[CSQ_COUNT] = {
    [CSQ_GROUP_BIT] = "SELECT bit FROM vgroups WHERE name = ?1",
    [CSQ_COLLECTIONS] = "SELECT doc FROM collections WHERE (vis & ?1) != 0 ORDER BY id",
    [CSQ_COLLECTION] = "SELECT doc FROM collections WHERE id = ?2 AND (vis & ?1) != 0",
    [CSQ_ITEM] =
        "SELECT i.doc FROM items i JOIN collections c ON c.id = i.collection "
        "WHERE i.collection = ?2 AND i.id = ?3 AND (i.vis & ?1) != 0 AND (c.vis & ?1) != 0",
    [CSQ_ITEM_TPL] = "SELECT i.doc, i.tpl, i.collection, i.id FROM items i JOIN collections c"
                     " ON c.id = i.collection WHERE i.collection = ?2 AND i.id = ?3"
                     " AND (i.vis & ?1) != 0 AND (c.vis & ?1) != 0",
    [CSQ_ASSET] = "SELECT i.doc FROM assets a JOIN items i ON i.rowid = a.item "
                  "JOIN collections c ON c.id = i.collection "
                  "WHERE a.key = ?2 AND (i.vis & ?1) != 0 AND (c.vis & ?1) != 0 "
                  "ORDER BY i.collection, i.id LIMIT 1",
};

enum search_bits {
    SB_BBOX = 1,
    SB_START = 2,
    SB_END = 4,
    SB_IDS = 8,
    SB_COLLS = 16,
    SB_GEOM = 32,
};
_Static_assert(SB_GEOM * 2 == CATALOG_SQLITE_SHAPES, "one search statement per filter shape");

/* The read statement id on c, prepared on first use and kept with c. */
static sqlite3_stmt *conn_stmt(struct catalog_sqlite_conn *c, enum catalog_sqlite_stmt id)
{
    if (!c->st[id] && sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                         &c->st[id], NULL) != SQLITE_OK) {
        log_error("catalog: prepare failed: %s", sqlite3_errmsg(c->db));
        return NULL;
    }
    return c->st[id];
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}

/* The caller's visibility mask: Public plus every known group of theirs. */
static int group_mask(struct catalog_sqlite_conn *c, const struct strlist *groups, int64_t *mask)
{
    *mask = 1; /* Public is bit 0 */
    if (!groups)
        return 0;
    sqlite3_stmt *st = conn_stmt(c, CSQ_GROUP_BIT);
    if (!st)
        return -EIO;
    for (size_t i = 0; i < groups->n; i++) {
        bind_text(st, 1, groups->v[i]);
        int s = sqlite3_step(st);
        if (s == SQLITE_ROW) {
            int64_t bit = sqlite3_column_int64(st, 0);
            if (bit >= 0 && bit <= CATALOG_SQLITE_MAX_GROUP_BITS)
                *mask |= (int64_t)1 << bit;
        }
        sqlite3_reset(st);
        if (s != SQLITE_ROW && s != SQLITE_DONE)
            return -EIO;
    }
    return 0;
}

/* Runs st (mask already bound as ?1) and collects column 0 parsed as JSON.
 * single: stop after the first row and return -ENOENT when there is none. */
static int collect_docs(struct catalog_sqlite_conn *c, sqlite3_stmt *st, bool single, cJSON **out)
{
    int rc = 0, s;
    cJSON *arr = single ? NULL : cJSON_CreateArray();
    *out = NULL;
    if (!single && !arr) {
        rc = -ENOMEM;
        goto done;
    }
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 0);
        int len = sqlite3_column_bytes(st, 0);
        cJSON *doc = text ? cJSON_ParseWithLength(text, (size_t)len) : NULL;
        if (!doc) {
            rc = -EIO;
            goto done;
        }
        if (single) {
            *out = doc;
            goto done;
        }
        cJSON_AddItemToArray(arr, doc);
    }
    if (s != SQLITE_DONE) {
        log_error("catalog: query failed: %s", sqlite3_errmsg(c->db));
        rc = -EIO;
    } else if (single) {
        rc = -ENOENT;
    }
done:
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == 0 && !single)
        *out = arr;
    else
        cJSON_Delete(arr);
    return rc;
}

/* Runs read id with the caller's mask as ?1 and the parameters a (?2) and b
 * (?3) when given. */
static int simple_read(struct catalog *base, enum catalog_sqlite_stmt id,
                       const struct strlist *groups, const char *a, const char *b, bool single,
                       cJSON **out)
{
    struct catalog_sqlite *cat = (struct catalog_sqlite *)base;
    *out = NULL;
    struct catalog_sqlite_conn *c = catalog_sqlite_conn_get(cat);
    if (!c)
        return -EIO;
    int64_t mask;
    sqlite3_stmt *st = conn_stmt(c, id);
    int rc = st ? group_mask(c, groups, &mask) : -EIO;
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, mask);
        if (a)
            bind_text(st, 2, a);
        if (b)
            bind_text(st, 3, b);
        rc = collect_docs(c, st, single, out);
    }
    catalog_sqlite_conn_put(cat, c);
    return rc;
}

int catalog_sqlite_collections(struct catalog *cat, const struct strlist *groups, cJSON **out)
{
    return simple_read(cat, CSQ_COLLECTIONS, groups, NULL, NULL, false, out);
}

int catalog_sqlite_collection_get(struct catalog *cat, const struct strlist *groups, const char *id,
                                  cJSON **out)
{
    return simple_read(cat, CSQ_COLLECTION, groups, id, NULL, true, out);
}

int catalog_sqlite_item_get(struct catalog *cat, const struct strlist *groups,
                            const char *collection, const char *id, cJSON **out)
{
    return simple_read(cat, CSQ_ITEM, groups, collection, id, true, out);
}

int catalog_sqlite_asset_visible(struct catalog *base, const struct strlist *groups,
                                 const char *key, cJSON **doc)
{
    struct catalog_sqlite *cat = (struct catalog_sqlite *)base;
    struct catalog_sqlite_conn *c = catalog_sqlite_conn_get(cat);
    if (!c)
        return -EIO;
    int64_t mask;
    sqlite3_stmt *st = conn_stmt(c, CSQ_ASSET);
    int rc = st ? group_mask(c, groups, &mask) : -EIO;
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, mask);
        bind_text(st, 2, key);
        int s = sqlite3_step(st);
        rc = s == SQLITE_ROW ? 0 : s == SQLITE_DONE ? -ENOENT : -EIO;
        if (rc == 0 && doc) {
            const char *text = (const char *)sqlite3_column_text(st, 0);
            *doc = text ? cJSON_Parse(text) : NULL;
            if (!*doc)
                rc = -ENOMEM; /* the text was stored by us, printed by cJSON */
        }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    catalog_sqlite_conn_put(cat, c);
    return rc;
}

static sqlite3_stmt *search_stmt(struct catalog_sqlite_conn *c, unsigned shape, int page)
{
    if (c->search[page][shape])
        return c->search[page][shape];
    char sql[2048];
    size_t n = 0;
#define ADD(s) n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s", s)
    ADD(page ? "SELECT i.doc, i.tpl, i.collection, i.id" : "SELECT count(*)");
    ADD(" FROM items i JOIN collections c ON c.id = i.collection"
        " WHERE (i.vis & ?1) != 0 AND (c.vis & ?1) != 0");
    if (shape & SB_BBOX)
        ADD(" AND i.rowid IN (SELECT id FROM item_bbox WHERE minx <= ?3 AND maxx >= ?2"
            " AND miny <= ?7 AND maxy >= ?6 UNION SELECT id FROM item_bbox WHERE minx <= ?5"
            " AND maxx >= ?4 AND miny <= ?7 AND maxy >= ?6)");
    if (shape & SB_START)
        ADD(" AND i.datetime_end >= ?8");
    if (shape & SB_END)
        ADD(" AND i.datetime_start <= ?9");
    if (shape & SB_IDS)
        ADD(" AND i.id IN (SELECT value FROM json_each(?10))");
    if (shape & SB_COLLS)
        ADD(" AND i.collection IN (SELECT value FROM json_each(?11))");
    if (shape & SB_GEOM)
        ADD(" AND i.rowid IN (SELECT id FROM item_bbox WHERE minx <= ?13 AND maxx >= ?12"
            " AND miny <= ?15 AND maxy >= ?14) AND tessera_intersects(i.geometry, ?16)");
    if (page)
        ADD(" ORDER BY i.datetime_start DESC, i.collection, i.id LIMIT ?17 OFFSET ?18");
#undef ADD
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->search[page][shape],
                           NULL) != SQLITE_OK) {
        log_error("catalog: prepare search failed: %s", sqlite3_errmsg(c->db));
        return NULL;
    }
    return c->search[page][shape];
}

static char *strlist_json(const struct strlist *l)
{
    cJSON *arr = cJSON_CreateStringArray((const char *const *)l->v, (int)l->n);
    char *s = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    return s;
}

static int search_bind(sqlite3_stmt *st, unsigned shape, int64_t mask,
                       const struct catalog_query *q, char *ids, char *colls)
{
    sqlite3_bind_int64(st, 1, mask);
    if (shape & SB_BBOX) {
        if (q->bbox[0] <= q->bbox[2]) {
            sqlite3_bind_double(st, 2, q->bbox[0]);
            sqlite3_bind_double(st, 3, q->bbox[2]);
            sqlite3_bind_double(st, 4, 1000); /* second range empty */
            sqlite3_bind_double(st, 5, -1000);
        } else { /* across the antimeridian: [minx, 180] and [-180, maxx] */
            sqlite3_bind_double(st, 2, q->bbox[0]);
            sqlite3_bind_double(st, 3, 180);
            sqlite3_bind_double(st, 4, -180);
            sqlite3_bind_double(st, 5, q->bbox[2]);
        }
        sqlite3_bind_double(st, 6, q->bbox[1]);
        sqlite3_bind_double(st, 7, q->bbox[3]);
    }
    if (shape & SB_START)
        sqlite3_bind_int64(st, 8, q->start);
    if (shape & SB_END)
        sqlite3_bind_int64(st, 9, q->end);
    if (shape & SB_IDS)
        sqlite3_bind_text(st, 10, ids, -1, SQLITE_STATIC);
    if (shape & SB_COLLS)
        sqlite3_bind_text(st, 11, colls, -1, SQLITE_STATIC);
    if (shape & SB_GEOM) {
        double b[4];
        catalog_geom_bbox(q->intersects, b);
        sqlite3_bind_double(st, 12, b[0]);
        sqlite3_bind_double(st, 13, b[2]);
        sqlite3_bind_double(st, 14, b[1]);
        sqlite3_bind_double(st, 15, b[3]);
        sqlite3_bind_pointer(st, 16, (void *)q->intersects, "tessera_geom", NULL);
    }
    return 0;
}

/* Steps st and calls fn with (collection, id, template) of each row whose
 * columns are doc, tpl, collection, id. */
static int each_template(struct catalog_sqlite_conn *c, sqlite3_stmt *st, catalog_item_fn fn,
                         void *ctx, bool single)
{
    int rc = 0, s;
    bool any = false;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *tpl = (const char *)sqlite3_column_text(st, 1);
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        const char *coll = (const char *)sqlite3_column_text(st, 2);
        const char *id = (const char *)sqlite3_column_text(st, 3);
        any = true;
        if (!tpl || !coll || !id) {
            rc = -EIO;
            break;
        }
        if ((rc = fn(ctx, coll, id, tpl, len)) != 0 || single)
            break;
    }
    if (rc == 0 && s != SQLITE_DONE && s != SQLITE_ROW) {
        log_error("catalog: query failed: %s", sqlite3_errmsg(c->db));
        rc = -EIO;
    }
    if (rc == 0 && single && !any)
        rc = -ENOENT;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

int catalog_sqlite_item_each(struct catalog *base, const struct strlist *groups,
                             const char *collection, const char *id, catalog_item_fn fn, void *ctx)
{
    struct catalog_sqlite *cat = (struct catalog_sqlite *)base;
    struct catalog_sqlite_conn *c = catalog_sqlite_conn_get(cat);
    if (!c)
        return -EIO;
    int64_t mask;
    sqlite3_stmt *st = conn_stmt(c, CSQ_ITEM_TPL);
    int rc = st ? group_mask(c, groups, &mask) : -EIO;
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, mask);
        bind_text(st, 2, collection);
        bind_text(st, 3, id);
        rc = each_template(c, st, fn, ctx, true);
    }
    catalog_sqlite_conn_put(cat, c);
    return rc;
}

int catalog_sqlite_search(struct catalog *base, const struct catalog_query *q, int64_t *matched,
                          cJSON **items, catalog_item_fn fn, void *ctx)
{
    struct catalog_sqlite *cat = (struct catalog_sqlite *)base;
    unsigned shape = 0;
    if (q->has_bbox)
        shape |= SB_BBOX;
    if (q->has_start)
        shape |= SB_START;
    if (q->has_end)
        shape |= SB_END;
    if (q->ids && q->ids->n)
        shape |= SB_IDS;
    if (q->collections && q->collections->n)
        shape |= SB_COLLS;
    if (q->intersects)
        shape |= SB_GEOM;
    char *ids = (shape & SB_IDS) ? strlist_json(q->ids) : NULL;
    char *colls = (shape & SB_COLLS) ? strlist_json(q->collections) : NULL;
    if (((shape & SB_IDS) && !ids) || ((shape & SB_COLLS) && !colls)) {
        free(ids);
        free(colls);
        return -ENOMEM;
    }
    struct catalog_sqlite_conn *c = catalog_sqlite_conn_get(cat);
    if (!c) {
        free(ids);
        free(colls);
        return -EIO;
    }
    int64_t mask;
    int rc = group_mask(c, q->groups, &mask);
    if (rc < 0)
        goto done;
    sqlite3_stmt *count = search_stmt(c, shape, 0), *page = search_stmt(c, shape, 1);
    rc = -EIO;
    if (!count || !page)
        goto done;
    search_bind(count, shape, mask, q, ids, colls);
    int s = sqlite3_step(count);
    if (s == SQLITE_ROW)
        *matched = sqlite3_column_int64(count, 0);
    sqlite3_reset(count);
    sqlite3_clear_bindings(count);
    if (s != SQLITE_ROW) {
        log_error("catalog: count failed: %s", sqlite3_errmsg(c->db));
        goto done;
    }
    search_bind(page, shape, mask, q, ids, colls);
    sqlite3_bind_int64(page, 17, q->limit);
    sqlite3_bind_int64(page, 18, q->offset);
    rc = items ? collect_docs(c, page, false, items) : each_template(c, page, fn, ctx, false);
done:
    catalog_sqlite_conn_put(cat, c);
    free(ids);
    free(colls);
    return rc;
}
