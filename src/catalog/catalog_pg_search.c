/* Search on the PostgreSQL catalog driver: the same answers as the SQLite
 * driver, from the same SQL translation of filters and sort keys
 * (filter_sql.c). Searches run on the narrow catalog_item_search table
 * (catalog_pg.c): visibility is two array overlaps on its row (the item's
 * own and its collection's groups); the bbox parameter uses its GiST box
 * index with exact corner comparisons. The page statement returns rids; the
 * page's documents alone are then read from catalog_items. A search without
 * filters counts from catalog_item_counts. The exact geometry test has no SQL here (no
 * PostGIS): for each spatial predicate (the intersects parameter and every
 * S_INTERSECTS) the candidates of the box index stream through a cursor into
 * catalog_geom in C first, and the search then tests membership in the set
 * of matching rids, so that spatial predicates combine with anything else.
 * When the first sort key is a property, the items that have it are read in
 * the order of the property index, then those that do not (they sort last).
 * Everything of one search runs in one REPEATABLE READ, READ ONLY
 * transaction, so the sets, the count and the page agree. Any thread: each
 * search borrows its own connection. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_pg.h"
#include "catalog/filter_sql.h"
#include "catalog/geom.h"
#include "util/log.h"

/* Candidates fetched per round trip of a spatial set: bounds memory to this
 * many geometries at a time. */
#define FETCH_ROWS 256
#define STR_(x) #x
#define STR(x) STR_(x)
#define FETCH_SQL "FETCH FORWARD " STR(FETCH_ROWS) " FROM catalog_candidates"
#define MAX_SPATIAL 64

/* The exact matches of one spatial predicate, as a bigint[] literal. */
struct spatial_set {
    const struct filter_node *leaf;
    struct buf rids;
};

struct search {
    PGconn *c;
    const struct catalog_query *q;
    const struct catalog_sort *sort; /* never NULL: empty for the default order */
    char *groups, *ids, *colls;      /* text[] literals */
    char box1[CATALOG_PG_BOX_LEN], box2[CATALOG_PG_BOX_LEN];
    struct filter_node intersects; /* the intersects parameter as a leaf */
    struct spatial_set sets[MAX_SPATIAL];
    size_t nsets;
    bool docs; /* page rows carry the document (else the template) */
    struct filter_sql dialect;
};

/* ---- spatial sets ------------------------------------------------------------ */

/* Streams the visible candidates of leaf's box through the exact test. */
static int spatial_fill(struct search *x, struct spatial_set *set)
{
    double bb[4];
    char box[CATALOG_PG_BOX_LEN];
    catalog_geom_bbox(set->leaf->geom, bb);
    catalog_pg_box_param(bb, box);
    const char *p[] = {box, x->groups};
    if (pg_exec(x->c,
                "DECLARE catalog_candidates NO SCROLL CURSOR FOR SELECT i.rid, ci.geometry"
                " FROM catalog_item_search i JOIN catalog_items ci ON ci.rid = i.rid"
                " WHERE i.has_geom AND i.box && $1::box"
                " AND i.vis && $2::text[] AND i.cvis && $2::text[]",
                2, p, NULL) < 0)
        return -EIO;
    int rc = 0;
    for (;;) {
        PGresult *r = pg_query(x->c, FETCH_SQL, 0, NULL, NULL);
        if (!r) {
            rc = -EIO;
            break;
        }
        int rows = PQntuples(r);
        for (int i = 0; i < rows; i++) /* out of memory is sticky: checked after */
            if (catalog_geom_text_intersects(PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1),
                                             set->leaf->geom))
                buf_concat(&set->rids, set->rids.n ? "," : "{", PQgetvalue(r, i, 0), NULL);
        PQclear(r);
        if (set->rids.oom)
            rc = -ENOMEM;
        if (rc < 0 || rows < FETCH_ROWS)
            break;
    }
    if (pg_exec(x->c, "CLOSE catalog_candidates", 0, NULL, NULL) < 0 && rc == 0)
        rc = -EIO;
    if (rc == 0) /* close the literal: "{}" when nothing matched */
        buf_concat(&set->rids, set->rids.n ? "}" : "{}", NULL);
    return rc == 0 && set->rids.oom ? -ENOMEM : rc;
}

/* Collects the filter's S_INTERSECTS leaves. */
static int collect_spatial(struct search *x, const struct filter_node *n)
{
    if (n->op == FILTER_S_INTERSECTS) {
        if (x->nsets == MAX_SPATIAL)
            return -E2BIG;
        x->sets[x->nsets++].leaf = n;
        return 0;
    }
    for (size_t i = 0; i < n->nkids; i++) {
        int rc = collect_spatial(x, n->kids[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void spatial(void *ctx, struct sqlb *b, const struct filter_node *n)
{
    struct search *x = ctx;
    const char *rids = "{}";
    for (size_t i = 0; i < x->nsets; i++)
        if (x->sets[i].leaf == n)
            rids = x->sets[i].rids.s;
    if (n->negated) {
        sqlb_add(b, "(i.has_geom AND NOT (i.rid = ANY (");
        sqlb_text_as(b, rids, "::bigint[]");
        sqlb_add(b, ")))");
    } else {
        sqlb_add(b, "i.rid = ANY (");
        sqlb_text_as(b, rids, "::bigint[]");
        sqlb_add(b, ")");
    }
}

/* ---- statements ---------------------------------------------------------------- */

/* Items whose box meets [minx, maxx] x [miny, maxy]. The && operator lets
 * the GiST index answer, but PostgreSQL compares boxes with a tolerance of
 * 1e-6, so the corners are compared exactly as well (box[0] is the upper
 * right corner, box[1] the lower left). */
static void box_meets(struct sqlb *b, double minx, double miny, double maxx, double maxy,
                      char *boxbuf)
{
    double v[4] = {minx, miny, maxx, maxy};
    catalog_pg_box_param(v, boxbuf);
    sqlb_add(b, "(i.box && ");
    sqlb_text_as(b, boxbuf, "::box");
    sqlb_add(b, " AND (i.box[1])[0] <= ");
    sqlb_double(b, maxx);
    sqlb_add(b, " AND (i.box[0])[0] >= ");
    sqlb_double(b, minx);
    sqlb_add(b, " AND (i.box[1])[1] <= ");
    sqlb_double(b, maxy);
    sqlb_add(b, " AND (i.box[0])[1] >= ");
    sqlb_double(b, miny);
    sqlb_add(b, ")");
}

static void add_where(struct search *x, struct sqlb *b)
{
    const struct catalog_query *q = x->q;
    sqlb_add(b, "i.vis && ");
    int g = sqlb_text_as(b, x->groups, "::text[]");
    sqlb_add(b, " AND i.cvis && ");
    sqlb_ref(b, g);
    if (q->has_bbox) {
        sqlb_add(b, " AND ");
        if (q->bbox[0] <= q->bbox[2]) {
            box_meets(b, q->bbox[0], q->bbox[1], q->bbox[2], q->bbox[3], x->box1);
        } else { /* across the antimeridian: [minx, 180] and [-180, maxx] */
            sqlb_add(b, "(");
            box_meets(b, q->bbox[0], q->bbox[1], 180, q->bbox[3], x->box1);
            sqlb_add(b, " OR ");
            box_meets(b, -180, q->bbox[1], q->bbox[2], q->bbox[3], x->box2);
            sqlb_add(b, ")");
        }
    }
    if (q->has_start) {
        sqlb_add(b, " AND i.datetime_end >= ");
        sqlb_int(b, q->start);
    }
    if (q->has_end) {
        sqlb_add(b, " AND i.datetime_start <= ");
        sqlb_int(b, q->end);
    }
    if (x->ids) {
        sqlb_add(b, " AND i.id = ANY (");
        sqlb_text_as(b, x->ids, "::text[]");
        sqlb_add(b, ")");
    }
    if (x->colls) {
        sqlb_add(b, " AND i.collection = ANY (");
        sqlb_text_as(b, x->colls, "::text[]");
        sqlb_add(b, ")");
    }
    if (q->intersects) {
        sqlb_add(b, " AND ");
        spatial(x, b, &x->intersects);
    }
    if (q->filter) {
        sqlb_add(b, " AND ");
        filter_sql_where(&x->dialect, b, q->filter);
    }
}

static void add_joins(struct search *x, struct sqlb *b, size_t from)
{
    for (size_t i = from; i < x->sort->n; i++) {
        if (x->sort->keys[i].field != FILTER_FIELD_PROPERTY)
            continue;
        sqlb_add(b, " LEFT JOIN catalog_item_props p%u ON p%u.item = i.rid AND p%u.key = ",
                 (unsigned)i, (unsigned)i, (unsigned)i);
        sqlb_text(b, x->sort->keys[i].prop);
    }
}

enum order_mode { ORDER_ALL, ORDER_FIRST_HELD, ORDER_FIRST_NONE };

static void add_order(struct search *x, struct sqlb *b, enum order_mode mode)
{
    sqlb_add(b, " ORDER BY ");
    if (x->sort->n == 0)
        sqlb_add(b, "i.datetime_start DESC, ");
    for (size_t i = mode == ORDER_FIRST_NONE ? 1 : 0; i < x->sort->n; i++) {
        char alias[24];
        snprintf(alias, sizeof(alias), "p%u", (unsigned)i);
        filter_sql_order_key(&x->dialect, b, &x->sort->keys[i], alias,
                             i == 0 && mode == ORDER_FIRST_HELD);
    }
    sqlb_add(b, "i.collection COLLATE \"C\", i.id COLLATE \"C\"");
}

static PGresult *run(struct search *x, struct sqlb *b, int *rc)
{
    const char *const *values = b->text.oom ? NULL : sqlb_pg_values(b);
    if (!values) {
        *rc = -ENOMEM;
        return NULL;
    }
    if (b->np > 65535) {
        *rc = -E2BIG;
        return NULL;
    }
    PGresult *r = pg_query(x->c, b->text.s, (int)b->np, values, NULL);
    *rc = r ? 0 : -EIO;
    return r;
}

static int run_count(struct search *x, struct sqlb *b, int64_t *n)
{
    int rc;
    PGresult *r = run(x, b, &rc);
    if (r && PQntuples(r) == 1)
        *n = pg_get_int64(r, 0, 0);
    else if (r)
        rc = -EIO;
    PQclear(r);
    return rc;
}

static PGresult *run_page(struct search *x, struct sqlb *b, int64_t limit, int64_t offset, int *rc)
{
    sqlb_add(b, " LIMIT ");
    sqlb_int(b, limit);
    sqlb_add(b, " OFFSET ");
    sqlb_int(b, offset);
    return run(x, b, rc);
}

/* The page in up to two results (the second: items without the first sort
 * key's property); *matched set when the page alone tells it, else -1. */
static int page(struct search *x, PGresult **first, PGresult **second, int64_t *matched)
{
    const struct catalog_query *q = x->q;
    struct sqlb b;
    int rc;
    *matched = -1;
    bool split = x->sort->n && x->sort->keys[0].field == FILTER_FIELD_PROPERTY;
    if (!split) {
        sqlb_init(&b, true);
        sqlb_add(&b, "SELECT i.rid FROM catalog_item_search i");
        add_joins(x, &b, 0);
        sqlb_add(&b, " WHERE ");
        add_where(x, &b);
        add_order(x, &b, ORDER_ALL);
        *first = run_page(x, &b, q->limit, q->offset, &rc);
        sqlb_free(&b);
        int rows = *first ? PQntuples(*first) : 0;
        if (rc == 0 && rows < q->limit && (rows > 0 || q->offset == 0))
            *matched = q->offset + rows;
        return rc;
    }
    const char *key = x->sort->keys[0].prop;
    sqlb_init(&b, true);
    sqlb_add(&b, "SELECT i.rid FROM catalog_item_props p0 JOIN catalog_item_search i"
                 " ON i.rid = p0.item");
    add_joins(x, &b, 1);
    sqlb_add(&b, " WHERE p0.key = ");
    sqlb_text(&b, key);
    sqlb_add(&b, " AND ");
    add_where(x, &b);
    add_order(x, &b, ORDER_FIRST_HELD);
    *first = run_page(x, &b, q->limit, q->offset, &rc);
    sqlb_free(&b);
    int n1 = *first ? PQntuples(*first) : 0;
    if (rc < 0 || n1 == q->limit)
        return rc;
    int64_t have = 0;
    if (n1 > 0) {
        have = q->offset + n1;
    } else {
        sqlb_init(&b, true);
        sqlb_add(&b, "SELECT count(*) FROM catalog_item_props p0 JOIN catalog_item_search i"
                     " ON i.rid = p0.item WHERE p0.key = ");
        sqlb_text(&b, key);
        sqlb_add(&b, " AND ");
        add_where(x, &b);
        rc = run_count(x, &b, &have);
        sqlb_free(&b);
        if (rc < 0)
            return rc;
    }
    sqlb_init(&b, true);
    sqlb_add(&b, "SELECT i.rid FROM catalog_item_search i");
    add_joins(x, &b, 1);
    sqlb_add(&b, " WHERE ");
    add_where(x, &b);
    sqlb_add(&b, " AND NOT EXISTS (SELECT 1 FROM catalog_item_props p0 WHERE p0.item = i.rid"
                 " AND p0.key = ");
    sqlb_text(&b, key);
    sqlb_add(&b, ")");
    add_order(x, &b, ORDER_FIRST_NONE);
    int64_t offset = q->offset > have ? q->offset - have : 0;
    *second = run_page(x, &b, q->limit - n1, offset, &rc);
    sqlb_free(&b);
    int n2 = *second ? PQntuples(*second) : 0;
    if (rc == 0 && n2 < q->limit - n1 && (n1 + n2 > 0 || q->offset == 0))
        *matched = have + offset + n2;
    return rc;
}

/* The page's rids, in page order, as a bigint[] literal. */
static char *rid_list(PGresult *first, PGresult *second)
{
    PGresult *parts[] = {first, second};
    size_t len = 3;
    for (int k = 0; k < 2; k++)
        for (int i = 0; parts[k] && i < PQntuples(parts[k]); i++)
            len += (size_t)PQgetlength(parts[k], i, 0) + 1;
    char *out = malloc(len), *o = out;
    if (!out)
        return NULL;
    *o++ = '{';
    for (int k = 0; k < 2; k++)
        for (int i = 0; parts[k] && i < PQntuples(parts[k]); i++)
            o += sprintf(o, "%s%s", o > out + 1 ? "," : "", PQgetvalue(parts[k], i, 0));
    *o++ = '}';
    *o = 0;
    return out;
}

/* Reads the page's documents (or templates) and hands them out in the
 * order of rids. */
static int emit(struct search *x, const char *rids, PGresult **bodies)
{
    const char *p[] = {rids};
    *bodies = pg_query(x->c,
                       x->docs ? "SELECT i.rid, i.doc, i.collection, i.id FROM catalog_items i"
                                 " WHERE i.rid = ANY ($1::bigint[])"
                               : "SELECT i.rid, i.tpl, i.collection, i.id FROM catalog_items i"
                                 " WHERE i.rid = ANY ($1::bigint[])",
                       1, p, NULL);
    return *bodies ? 0 : -EIO;
}

static int hand_out(PGresult *first, PGresult *second, PGresult *bodies, bool docs, cJSON *items,
                    catalog_item_fn fn, void *ctx)
{
    PGresult *parts[] = {first, second};
    int nb = bodies ? PQntuples(bodies) : 0;
    for (int k = 0; k < 2; k++) {
        for (int i = 0; parts[k] && i < PQntuples(parts[k]); i++) {
            const char *rid = PQgetvalue(parts[k], i, 0);
            int j;
            for (j = 0; j < nb && strcmp(PQgetvalue(bodies, j, 0), rid) != 0; j++)
                ;
            if (j == nb)
                return -EIO; /* cannot happen in one snapshot */
            if (docs) {
                cJSON *doc = cJSON_ParseWithLength(PQgetvalue(bodies, j, 1),
                                                   (size_t)PQgetlength(bodies, j, 1));
                if (!doc)
                    return -EIO;
                cJSON_AddItemToArray(items, doc);
            } else {
                int rc = fn(ctx, PQgetvalue(bodies, j, 2), PQgetvalue(bodies, j, 3),
                            PQgetvalue(bodies, j, 1), (size_t)PQgetlength(bodies, j, 1));
                if (rc != 0)
                    return rc;
            }
        }
    }
    return 0;
}

int catalog_pg_search(struct catalog *base, const struct catalog_query *q, int64_t *matched,
                      cJSON **items, catalog_item_fn fn, void *ctx)
{
    struct catalog_pg *cat = (struct catalog_pg *)base;
    static const struct catalog_sort no_sort = {.n = 0};
    struct search x = {
        .q = q,
        .sort = q->sort ? q->sort : &no_sort,
        .docs = items != NULL,
        .intersects = {.op = FILTER_S_INTERSECTS, .geom = (struct catalog_geom *)q->intersects},
        .dialect = {.pg = true,
                    .item = "i.rid",
                    .props = "catalog_item_props",
                    .id = "i.id",
                    .coll = "i.collection",
                    .start = "i.datetime_start",
                    .end = "i.datetime_end",
                    .assets = "catalog_assets",
                    .spatial = spatial},
    };
    x.dialect.ctx = &x;
    PGresult *first = NULL, *second = NULL, *bodies = NULL;
    char *rids = NULL;
    bool in_tx = false;
    int rc = -ENOMEM;
    *matched = -1;
    if (!(x.groups = catalog_pg_text_array(q->groups, CATALOG_PUBLIC_GROUP)) ||
        (q->ids && q->ids->n && !(x.ids = catalog_pg_text_array(q->ids, NULL))) ||
        (q->collections && q->collections->n &&
         !(x.colls = catalog_pg_text_array(q->collections, NULL))))
        goto done;
    if (q->intersects)
        x.sets[x.nsets++].leaf = &x.intersects;
    if (q->filter && (rc = collect_spatial(&x, q->filter)) < 0)
        goto done;
    rc = -EIO;
    if (!(x.c = pg_acquire(cat->pool)))
        goto done;
    /* One snapshot for the sets, the page and the count. Read-only
     * REPEATABLE READ transactions never fail to serialise. */
    if (pg_exec(x.c, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0, NULL, NULL) < 0)
        goto done;
    in_tx = true;
    for (size_t i = 0; i < x.nsets; i++)
        if ((rc = spatial_fill(&x, &x.sets[i])) < 0)
            goto done;
    if ((rc = page(&x, &first, &second, matched)) < 0)
        goto done;
    if (*matched < 0 && !q->page_only) {
        struct sqlb b;
        sqlb_init(&b, true);
        if (!q->has_bbox && !q->has_start && !q->has_end && !x.ids && !q->intersects &&
            !q->filter) {
            /* Nothing filters but visibility (and collections): the stored
             * counts per collection and visibility add up to it. */
            sqlb_add(&b, "SELECT coalesce(sum(k.n), 0) FROM catalog_item_counts k WHERE k.vis && ");
            int g = sqlb_text_as(&b, x.groups, "::text[]");
            sqlb_add(&b, " AND EXISTS (SELECT 1 FROM catalog_visibility v WHERE v.collection ="
                         " k.collection AND v.item = '' AND v.grp = ANY (");
            sqlb_ref(&b, g);
            sqlb_add(&b, "))");
            if (x.colls) {
                sqlb_add(&b, " AND k.collection = ANY (");
                sqlb_text_as(&b, x.colls, "::text[]");
                sqlb_add(&b, ")");
            }
        } else {
            sqlb_add(&b, "SELECT count(*) FROM catalog_item_search i WHERE ");
            add_where(&x, &b);
        }
        rc = run_count(&x, &b, matched);
        sqlb_free(&b);
        if (rc < 0)
            goto done;
    }
    if (!(rids = rid_list(first, second))) {
        rc = -ENOMEM;
        goto done;
    }
    if ((first && PQntuples(first)) || (second && PQntuples(second))) {
        if ((rc = emit(&x, rids, &bodies)) < 0)
            goto done;
    }
    /* The caller's callback may take its time: the connection goes back
     * first. */
    pg_rollback(x.c);
    in_tx = false;
    pg_release(cat->pool, x.c);
    x.c = NULL;
    if (items && !(*items = cJSON_CreateArray())) {
        rc = -ENOMEM;
        goto done;
    }
    rc = hand_out(first, second, bodies, x.docs, items ? *items : NULL, fn, ctx);
    if (rc != 0 && items) {
        cJSON_Delete(*items);
        *items = NULL;
    }
done:
    if (rc != 0 && *matched < 0)
        *matched = 0;
    if (x.c) {
        if (in_tx)
            pg_rollback(x.c);
        pg_release(cat->pool, x.c);
    }
    PQclear(first);
    PQclear(second);
    PQclear(bodies);
    free(rids);
    for (size_t i = 0; i < x.nsets; i++)
        free(x.sets[i].rids.s);
    free(x.groups);
    free(x.ids);
    free(x.colls);
    return rc;
}
