/* Search and queryables of the SQLite catalog driver. A search is written as
 * SQL over the narrow item_search table (visibility, interval, keys) and the
 * property rows of item_props (filter_sql.c), with bound parameters only;
 * the R*Tree answers bbox and prefilters intersects, and the SQL function
 * tessera_intersects (catalog_sqlite.c) makes the exact test. The page query
 * returns rowids; the documents of the page alone are then read from the
 * wide items table. When the first sort key is a property, the items that
 * have it are read in the order of the property index, then those that do
 * not (they sort last), so that a sorted page never sorts the whole catalog.
 * Everything of one search runs in one read transaction, so the count and
 * the page agree. Any thread: each call takes its own pooled connection. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_sqlite.h"
#include "catalog/filter_sql.h"
#include "catalog/geom.h"
#include "util/log.h"

struct search {
    struct catalog_sqlite_conn *c;
    const struct catalog_query *q;
    const struct catalog_sort *sort; /* never NULL: empty for the default order */
    int64_t mask;
    char *ids, *colls; /* JSON arrays for json_each, or NULL */
    struct filter_sql dialect;
};

/* The S_INTERSECTS test, also used for the intersects parameter: the
 * R*Tree's boxes first, then the exact test on the stored geometry. */
static void spatial(void *ctx, struct sqlb *b, const struct filter_node *n)
{
    (void)ctx;
    double bb[4];
    catalog_geom_bbox(n->geom, bb);
    if (n->negated) {
        sqlb_add(b, "EXISTS (SELECT 1 FROM items g WHERE g.rowid = s.rowid AND g.geometry IS NOT"
                    " NULL AND NOT tessera_intersects(g.geometry, ");
        sqlb_pointer(b, n->geom);
        sqlb_add(b, "))");
        return;
    }
    sqlb_add(b, "(s.rowid IN (SELECT id FROM item_bbox WHERE minx <= ");
    sqlb_double(b, bb[2]);
    sqlb_add(b, " AND maxx >= ");
    sqlb_double(b, bb[0]);
    sqlb_add(b, " AND miny <= ");
    sqlb_double(b, bb[3]);
    sqlb_add(b, " AND maxy >= ");
    sqlb_double(b, bb[1]);
    sqlb_add(b, ") AND tessera_intersects((SELECT g.geometry FROM items g WHERE g.rowid ="
                " s.rowid), ");
    sqlb_pointer(b, n->geom);
    sqlb_add(b, "))");
}

static void bbox_range(struct sqlb *b, double minx, double maxx, const double *q)
{
    sqlb_add(b, "SELECT id FROM item_bbox WHERE minx <= ");
    sqlb_double(b, maxx);
    sqlb_add(b, " AND maxx >= ");
    sqlb_double(b, minx);
    sqlb_add(b, " AND miny <= ");
    sqlb_double(b, q[3]);
    sqlb_add(b, " AND maxy >= ");
    sqlb_double(b, q[1]);
}

/* Appends every condition of the query: visibility, the core parameters,
 * then the filter. */
static void add_where(struct search *x, struct sqlb *b)
{
    const struct catalog_query *q = x->q;
    sqlb_add(b, "(s.vis & ");
    int m = sqlb_int(b, x->mask);
    sqlb_add(b, ") != 0 AND (s.cvis & ");
    sqlb_ref(b, m);
    sqlb_add(b, ") != 0");
    if (q->has_bbox) {
        sqlb_add(b, " AND s.rowid IN (");
        if (q->bbox[0] <= q->bbox[2]) {
            bbox_range(b, q->bbox[0], q->bbox[2], q->bbox);
        } else { /* across the antimeridian: [minx, 180] and [-180, maxx] */
            bbox_range(b, q->bbox[0], 180, q->bbox);
            sqlb_add(b, " UNION ");
            bbox_range(b, -180, q->bbox[2], q->bbox);
        }
        sqlb_add(b, ")");
    }
    if (q->has_start) {
        sqlb_add(b, " AND s.datetime_end >= ");
        sqlb_int(b, q->start);
    }
    if (q->has_end) {
        sqlb_add(b, " AND s.datetime_start <= ");
        sqlb_int(b, q->end);
    }
    if (x->ids) {
        sqlb_add(b, " AND s.id IN (SELECT value FROM json_each(");
        sqlb_text(b, x->ids);
        sqlb_add(b, "))");
    }
    if (x->colls) {
        sqlb_add(b, " AND s.collection IN (SELECT value FROM json_each(");
        sqlb_text(b, x->colls);
        sqlb_add(b, "))");
    }
    if (q->intersects) {
        struct filter_node n = {.op = FILTER_S_INTERSECTS,
                                .geom = (struct catalog_geom *)q->intersects};
        sqlb_add(b, " AND ");
        spatial(x, b, &n);
    }
    if (q->filter) {
        sqlb_add(b, " AND ");
        filter_sql_where(&x->dialect, b, q->filter);
    }
}

/* LEFT JOINs for the property sort keys from key from on (aliases p1, ...). */
static void add_joins(struct search *x, struct sqlb *b, size_t from)
{
    for (size_t i = from; i < x->sort->n; i++) {
        if (x->sort->keys[i].field != FILTER_FIELD_PROPERTY)
            continue;
        sqlb_add(b, " LEFT JOIN item_props p%zu ON p%zu.item = s.rowid AND p%zu.key = ", i, i, i);
        sqlb_text(b, x->sort->keys[i].prop);
    }
}

enum order_mode {
    ORDER_ALL,        /* every key, properties through LEFT JOINs */
    ORDER_FIRST_HELD, /* the first key's property row is p0, joined */
    ORDER_FIRST_NONE, /* the first key's property is missing on every row */
};

/* " ORDER BY ..." for the sort keys, then collection and id. */
static void add_order(struct search *x, struct sqlb *b, enum order_mode mode)
{
    sqlb_add(b, " ORDER BY ");
    if (x->sort->n == 0)
        sqlb_add(b, "s.datetime_start DESC, ");
    for (size_t i = mode == ORDER_FIRST_NONE ? 1 : 0; i < x->sort->n; i++) {
        char alias[24];
        snprintf(alias, sizeof(alias), "p%u", (unsigned)i);
        filter_sql_order_key(&x->dialect, b, &x->sort->keys[i], alias,
                             i == 0 && mode == ORDER_FIRST_HELD);
    }
    sqlb_add(b, "s.collection, s.id");
}

static int prepare(struct search *x, struct sqlb *b, sqlite3_stmt **out)
{
    *out = NULL;
    if (b->oom)
        return -ENOMEM;
    if (sqlite3_prepare_v2(x->c->db, b->s, (int)b->n, out, NULL) != SQLITE_OK) {
        int code = sqlite3_errcode(x->c->db);
        log_error("catalog: prepare search failed: %s", sqlite3_errmsg(x->c->db));
        return code == SQLITE_TOOBIG || code == SQLITE_RANGE ? -E2BIG : -EIO;
    }
    for (size_t i = 0; i < b->np; i++) {
        const struct sqlb_param *p = &b->params[i];
        int n = (int)i + 1, rc = SQLITE_OK;
        switch (p->type) {
        case SQLB_TEXT:
            rc = sqlite3_bind_text(*out, n, p->text, -1, SQLITE_STATIC);
            break;
        case SQLB_DOUBLE:
            rc = sqlite3_bind_double(*out, n, p->d);
            break;
        case SQLB_INT:
            rc = sqlite3_bind_int64(*out, n, p->i);
            break;
        case SQLB_POINTER:
            rc = sqlite3_bind_pointer(*out, n, (void *)p->ptr, "tessera_geom", NULL);
            break;
        }
        if (rc != SQLITE_OK) {
            sqlite3_finalize(*out);
            *out = NULL;
            return rc == SQLITE_RANGE ? -E2BIG : -EIO;
        }
    }
    return 0;
}

/* Runs a count(*) statement. */
static int run_count(struct search *x, struct sqlb *b, int64_t *n)
{
    sqlite3_stmt *st;
    int rc = prepare(x, b, &st);
    if (rc < 0)
        return rc;
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        log_error("catalog: count failed: %s", sqlite3_errmsg(x->c->db));
    sqlite3_finalize(st);
    return s == SQLITE_ROW ? 0 : -EIO;
}

/* Runs a page statement ending in "LIMIT ? OFFSET ?" (appended here) and
 * appends the rowids to rows. */
static int run_page(struct search *x, struct sqlb *b, int64_t limit, int64_t offset, int64_t *rows,
                    size_t *nrows)
{
    sqlb_add(b, " LIMIT ");
    sqlb_int(b, limit);
    sqlb_add(b, " OFFSET ");
    sqlb_int(b, offset);
    sqlite3_stmt *st;
    int rc = prepare(x, b, &st), s;
    if (rc < 0)
        return rc;
    while ((s = sqlite3_step(st)) == SQLITE_ROW && *nrows < CATALOG_MAX_LIMIT)
        rows[(*nrows)++] = sqlite3_column_int64(st, 0);
    if (s != SQLITE_DONE && s != SQLITE_ROW) {
        log_error("catalog: search failed: %s", sqlite3_errmsg(x->c->db));
        rc = -EIO;
    }
    sqlite3_finalize(st);
    return rc;
}

/* The page's rowids in order; *matched is set when the page alone tells it
 * (a page that is not full and not past the end), else left at -1. */
static int page_rowids(struct search *x, int64_t *rows, size_t *nrows, int64_t *matched)
{
    const struct catalog_query *q = x->q;
    struct sqlb b;
    int rc;
    *nrows = 0;
    *matched = -1;
    bool split = x->sort->n && x->sort->keys[0].field == FILTER_FIELD_PROPERTY;
    if (!split) {
        sqlb_init(&b, false);
        sqlb_add(&b, "SELECT s.rowid FROM item_search s");
        add_joins(x, &b, 0);
        sqlb_add(&b, " WHERE ");
        add_where(x, &b);
        add_order(x, &b, ORDER_ALL);
        rc = run_page(x, &b, q->limit, q->offset, rows, nrows);
        sqlb_free(&b);
        if (rc == 0 && *nrows < (size_t)q->limit && (*nrows > 0 || q->offset == 0))
            *matched = q->offset + (int64_t)*nrows;
        return rc;
    }
    /* The items that have the first key's property, in its index's order. */
    const char *key = x->sort->keys[0].prop;
    sqlb_init(&b, false);
    sqlb_add(&b, "SELECT s.rowid FROM item_props p0 JOIN item_search s ON s.rowid = p0.item");
    add_joins(x, &b, 1);
    sqlb_add(&b, " WHERE p0.key = ");
    sqlb_text(&b, key);
    sqlb_add(&b, " AND ");
    add_where(x, &b);
    add_order(x, &b, ORDER_FIRST_HELD);
    rc = run_page(x, &b, q->limit, q->offset, rows, nrows);
    sqlb_free(&b);
    if (rc < 0 || *nrows == (size_t)q->limit)
        return rc;
    /* Then those without it. Where they start is known when this page
     * holds some of the first part; otherwise it is counted. */
    int64_t have = 0;
    if (*nrows > 0) {
        have = q->offset + (int64_t)*nrows;
    } else {
        sqlb_init(&b, false);
        sqlb_add(&b, "SELECT count(*) FROM item_props p0 JOIN item_search s ON s.rowid ="
                     " p0.item WHERE p0.key = ");
        sqlb_text(&b, key);
        sqlb_add(&b, " AND ");
        add_where(x, &b);
        rc = run_count(x, &b, &have);
        sqlb_free(&b);
        if (rc < 0)
            return rc;
    }
    size_t first = *nrows;
    sqlb_init(&b, false);
    sqlb_add(&b, "SELECT s.rowid FROM item_search s");
    add_joins(x, &b, 1);
    sqlb_add(&b, " WHERE ");
    add_where(x, &b);
    sqlb_add(&b, " AND NOT EXISTS (SELECT 1 FROM item_props p0 WHERE p0.item = s.rowid AND"
                 " p0.key = ");
    sqlb_text(&b, key);
    sqlb_add(&b, ")");
    add_order(x, &b, ORDER_FIRST_NONE);
    int64_t offset = q->offset > have ? q->offset - have : 0;
    rc = run_page(x, &b, q->limit - (int64_t)first, offset, rows, nrows);
    sqlb_free(&b);
    size_t second = *nrows - first;
    if (rc == 0 && second < (size_t)q->limit - first && (*nrows > 0 || q->offset == 0))
        *matched = have + (int64_t)offset + (int64_t)second;
    return rc;
}

/* Reads the page's documents (or templates) by rowid, in page order. */
static int emit_rows(struct search *x, const int64_t *rows, size_t n, cJSON **items,
                     catalog_item_fn fn, void *ctx)
{
    sqlite3_stmt *st = catalog_sqlite_stmt(x->c, items ? CSQ_FETCH_DOC : CSQ_FETCH_TPL);
    int rc = 0;
    if (!st)
        return -EIO;
    if (items && !(*items = cJSON_CreateArray()))
        return -ENOMEM;
    for (size_t i = 0; i < n && rc == 0; i++) {
        sqlite3_bind_int64(st, 1, rows[i]);
        int s = sqlite3_step(st);
        const char *text = s == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
        size_t len = text ? (size_t)sqlite3_column_bytes(st, 0) : 0;
        if (!text) {
            rc = -EIO;
        } else if (items) {
            cJSON *doc = cJSON_ParseWithLength(text, len);
            if (doc)
                cJSON_AddItemToArray(*items, doc);
            else
                rc = -EIO;
        } else {
            const char *coll = (const char *)sqlite3_column_text(st, 1);
            const char *id = (const char *)sqlite3_column_text(st, 2);
            rc = coll && id ? fn(ctx, coll, id, text, len) : -EIO;
        }
        sqlite3_reset(st);
    }
    sqlite3_clear_bindings(st);
    if (rc != 0 && items) {
        cJSON_Delete(*items);
        *items = NULL;
    }
    return rc;
}

static char *strlist_json(const struct strlist *l)
{
    cJSON *arr = cJSON_CreateStringArray((const char *const *)l->v, (int)l->n);
    char *s = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    return s;
}

int catalog_sqlite_search(struct catalog *base, const struct catalog_query *q, int64_t *matched,
                          cJSON **items, catalog_item_fn fn, void *ctx)
{
    struct catalog_sqlite *cat = (struct catalog_sqlite *)base;
    static const struct catalog_sort no_sort = {.n = 0};
    struct search x = {
        .q = q,
        .sort = q->sort ? q->sort : &no_sort,
        .dialect = {.pg = false,
                    .item = "s.rowid",
                    .props = "item_props",
                    .id = "s.id",
                    .coll = "s.collection",
                    .start = "s.datetime_start",
                    .end = "s.datetime_end",
                    .spatial = spatial},
    };
    x.dialect.ctx = &x;
    int64_t rows[CATALOG_MAX_LIMIT];
    size_t nrows = 0;
    bool in_tx = false;
    int rc = -ENOMEM;
    if ((q->ids && q->ids->n && !(x.ids = strlist_json(q->ids))) ||
        (q->collections && q->collections->n && !(x.colls = strlist_json(q->collections))))
        goto done;
    rc = -EIO;
    if (!(x.c = catalog_sqlite_conn_get(cat)))
        goto done;
    if ((rc = catalog_sqlite_group_mask(x.c, q->groups, &x.mask)) < 0)
        goto done;
    /* One snapshot for the page, the count and the documents. */
    if (sqlite3_exec(x.c->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        rc = -EIO;
        goto done;
    }
    in_tx = true;
    if ((rc = page_rowids(&x, rows, &nrows, matched)) < 0)
        goto done;
    if (*matched < 0) {
        struct sqlb b;
        sqlb_init(&b, false);
        sqlb_add(&b, "SELECT count(*) FROM item_search s WHERE ");
        add_where(&x, &b);
        rc = run_count(&x, &b, matched);
        sqlb_free(&b);
        if (rc < 0)
            goto done;
    }
    rc = emit_rows(&x, rows, nrows, items, fn, ctx);
done:
    if (rc != 0 && *matched < 0)
        *matched = 0;
    if (in_tx)
        sqlite3_exec(x.c->db, "COMMIT", NULL, NULL, NULL);
    if (x.c)
        catalog_sqlite_conn_put(cat, x.c);
    free(x.ids);
    free(x.colls);
    return rc;
}

/* ---- queryables --------------------------------------------------------------- */

/* Steps a "SELECT 1 ... LIMIT 1" statement: 1 (a row), 0 (none) or -EIO. */
static int exists(sqlite3_stmt *st)
{
    int s = sqlite3_step(st);
    sqlite3_reset(st);
    return s == SQLITE_ROW ? 1 : s == SQLITE_DONE ? 0 : -EIO;
}

int catalog_sqlite_queryables(struct catalog *base, const struct strlist *groups,
                              const char *collection, struct catalog_queryable **out, size_t *n)
{
    struct catalog_sqlite *cat = (struct catalog_sqlite *)base;
    struct catalog_sqlite_conn *c = catalog_sqlite_conn_get(cat);
    struct catalog_queryable *v = NULL;
    size_t nv = 0, cap = 0;
    int64_t mask;
    int rc = -EIO;
    if (!c)
        return -EIO;
    sqlite3_stmt *keys = catalog_sqlite_stmt(c, CSQ_PROP_KEYS);
    sqlite3_stmt *kind = catalog_sqlite_stmt(c, CSQ_PROP_KIND);
    if (!keys || !kind || catalog_sqlite_group_mask(c, groups, &mask) < 0 ||
        sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        goto done;
    if (collection)
        sqlite3_bind_text(keys, 1, collection, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(kind, 1, mask);
    int s;
    rc = 0;
    /* Each name and kind seen in a collection counts when some item there
     * that the caller can see still has it. */
    while (rc == 0 && (s = sqlite3_step(keys)) == SQLITE_ROW) {
        const char *coll = (const char *)sqlite3_column_text(keys, 0);
        const char *key = (const char *)sqlite3_column_text(keys, 1);
        int k = sqlite3_column_int(keys, 2);
        size_t i;
        for (i = 0; i < nv && strcmp(v[i].name, key) != 0; i++)
            ;
        if (i < nv && (v[i].kinds & (1u << k)))
            continue; /* already known from another collection */
        sqlite3_bind_text(kind, 2, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(kind, 3, coll, -1, SQLITE_STATIC);
        sqlite3_bind_int(kind, 4, k);
        int e = exists(kind);
        if (e < 0) {
            rc = -EIO;
        } else if (e && i < nv) {
            v[i].kinds |= 1u << k;
        } else if (e) {
            if (nv == cap) {
                size_t ncap = cap ? 2 * cap : 32;
                struct catalog_queryable *nvv = realloc(v, ncap * sizeof(*nvv));
                if (!nvv) {
                    rc = -ENOMEM;
                    break;
                }
                v = nvv;
                cap = ncap;
            }
            if (!(v[nv].name = strdup(key)))
                rc = -ENOMEM;
            else
                v[nv++].kinds = 1u << k;
        }
    }
    if (rc == 0 && s != SQLITE_DONE)
        rc = -EIO;
    sqlite3_reset(keys);
    sqlite3_clear_bindings(keys);
    sqlite3_clear_bindings(kind);
    sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
done:
    catalog_sqlite_conn_put(cat, c);
    if (rc < 0) {
        catalog_queryables_free(v, nv);
        return rc;
    }
    *out = v;
    *n = nv;
    return 0;
}

int catalog_sqlite_properties_visible(struct catalog *base, const struct strlist *groups,
                                      const char *collection, const struct strlist *names,
                                      size_t *missing)
{
    struct catalog_sqlite *cat = (struct catalog_sqlite *)base;
    struct catalog_sqlite_conn *c = catalog_sqlite_conn_get(cat);
    int64_t mask;
    int rc = -EIO;
    if (!c)
        return -EIO;
    sqlite3_stmt *st = catalog_sqlite_stmt(c, CSQ_PROP_ANY);
    if (st && catalog_sqlite_group_mask(c, groups, &mask) == 0) {
        sqlite3_bind_int64(st, 1, mask);
        if (collection)
            sqlite3_bind_text(st, 3, collection, -1, SQLITE_TRANSIENT);
        rc = 0;
        for (size_t i = 0; rc == 0 && i < names->n; i++) {
            sqlite3_bind_text(st, 2, names->v[i], -1, SQLITE_STATIC);
            int e = exists(st);
            if (e < 0) {
                rc = -EIO;
            } else if (!e) {
                *missing = i;
                rc = -ENOENT;
            }
        }
        sqlite3_clear_bindings(st);
    }
    catalog_sqlite_conn_put(cat, c);
    return rc;
}
