/* Search on the PostgreSQL catalog driver. The filters become one WHERE
 * clause with numbered text parameters. Without `intersects`, one statement
 * returns the count and the page together (one snapshot, one round trip).
 * With it, the GiST box index prefilters, a cursor streams the candidates'
 * geometries in page order through the exact test in C (catalog_geom), and
 * the page's documents are read last, all in one REPEATABLE READ
 * transaction so that the count and the page agree. Any thread: each search
 * borrows its own connection. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_pg.h"
#include "catalog/geom.h"
#include "util/log.h"

/* Candidates fetched per round trip in the intersects path: bounds memory
 * to this many geometries at a time. */
#define FETCH_ROWS 256
#define STR_(x) #x
#define STR(x) STR_(x)
#define FETCH_SQL "FETCH FORWARD " STR(FETCH_ROWS) " FROM catalog_candidates"
#define MAX_PARAMS 24
#define MAX_NUMS 16

/* An SQL text under construction and its parameters. */
struct qbuf {
    char sql[4096];
    size_t n;
    bool overflow;
    const char *params[MAX_PARAMS];
    int np;
    char nums[MAX_NUMS][32]; /* storage for formatted number parameters */
    int nnum;
};

__attribute__((format(printf, 2, 3))) static void q_sql(struct qbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = b->overflow ? -1 : vsnprintf(b->sql + b->n, sizeof(b->sql) - b->n, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(b->sql) - b->n)
        b->overflow = true;
    else
        b->n += (size_t)n;
}

/* Adds v as the next parameter; returns its number ($n). */
static int q_param(struct qbuf *b, const char *v)
{
    if (b->np == MAX_PARAMS) {
        b->overflow = true;
        return 1;
    }
    b->params[b->np] = v;
    return ++b->np;
}

static int q_double(struct qbuf *b, double v)
{
    if (b->nnum == MAX_NUMS) {
        b->overflow = true;
        return 1;
    }
    char *s = b->nums[b->nnum++];
    snprintf(s, sizeof(b->nums[0]), "%.17g", v);
    return q_param(b, s);
}

static int q_int(struct qbuf *b, int64_t v)
{
    if (b->nnum == MAX_NUMS) {
        b->overflow = true;
        return 1;
    }
    return q_param(b, pg_int_param(v, b->nums[b->nnum++]));
}

/* Items whose box meets [minx, maxx] x [miny, maxy]. The && operator lets
 * the GiST index answer, but PostgreSQL compares boxes with a tolerance of
 * 1e-6, so the corners are compared exactly as well (box[0] is the upper
 * right corner, box[1] the lower left). */
static void q_box_meets(struct qbuf *b, double minx, double miny, double maxx, double maxy,
                        char *boxbuf)
{
    double v[4] = {minx, miny, maxx, maxy};
    catalog_pg_box_param(v, boxbuf);
    int pb = q_param(b, boxbuf);
    int p0 = q_double(b, minx), p1 = q_double(b, miny), p2 = q_double(b, maxx),
        p3 = q_double(b, maxy);
    q_sql(b,
          "(i.box && $%d::box AND (i.box[1])[0] <= $%d::float8 AND (i.box[0])[0] >= $%d::float8"
          " AND (i.box[1])[1] <= $%d::float8 AND (i.box[0])[1] >= $%d::float8)",
          pb, p2, p0, p3, p1);
}

/* Literals the filters refer to; they outlive the query buffer's use. */
struct filter_args {
    char *groups, *ids, *colls;
    char box1[CATALOG_PG_BOX_LEN], box2[CATALOG_PG_BOX_LEN], geombox[CATALOG_PG_BOX_LEN];
};

/* Appends " WHERE ..." for every filter of q except the exact intersects
 * test, whose box prefilter it does add. $1 is the caller's groups. */
static void q_filters(struct qbuf *b, const struct catalog_query *q, struct filter_args *a)
{
    q_param(b, a->groups);
    q_sql(b, " WHERE " CATALOG_PG_ITEM_VISIBLE);
    if (q->has_bbox) {
        q_sql(b, " AND ");
        if (q->bbox[0] <= q->bbox[2]) {
            q_box_meets(b, q->bbox[0], q->bbox[1], q->bbox[2], q->bbox[3], a->box1);
        } else { /* across the antimeridian: [minx, 180] and [-180, maxx] */
            q_sql(b, "(");
            q_box_meets(b, q->bbox[0], q->bbox[1], 180, q->bbox[3], a->box1);
            q_sql(b, " OR ");
            q_box_meets(b, -180, q->bbox[1], q->bbox[2], q->bbox[3], a->box2);
            q_sql(b, ")");
        }
    }
    if (q->has_start)
        q_sql(b, " AND i.datetime_end >= $%d::bigint", q_int(b, q->start));
    if (q->has_end)
        q_sql(b, " AND i.datetime_start <= $%d::bigint", q_int(b, q->end));
    if (a->ids)
        q_sql(b, " AND i.id = ANY ($%d::text[])", q_param(b, a->ids));
    if (a->colls)
        q_sql(b, " AND i.collection = ANY ($%d::text[])", q_param(b, a->colls));
    if (q->intersects) {
        double gb[4];
        catalog_geom_bbox(q->intersects, gb);
        catalog_pg_box_param(gb, a->geombox);
        q_sql(b, " AND i.geometry IS NOT NULL AND i.box && $%d::box", q_param(b, a->geombox));
    }
}

/* What a search path hands back: the page's rows (NULL when the page is
 * empty), whose columns from col on are body (doc or tpl), collection, id. */
struct page {
    PGresult *r;
    int col;
};

/* Count and page in one statement. The count is the outer row, so it is
 * there even when the page is empty (then the page columns are NULL). */
static int search_plain(PGconn *c, const struct catalog_query *q, struct filter_args *a, bool docs,
                        int64_t *matched, struct page *page)
{
    struct qbuf b = {.n = 0};
    char filters[sizeof(b.sql)];
    /* The count and the page share the conditions and their parameters. */
    q_filters(&b, q, a);
    memcpy(filters, b.sql, b.n + 1);
    b.n = 0;
    q_sql(&b,
          "SELECT m.n, p.body, p.collection, p.id FROM (SELECT count(*) AS n"
          " FROM catalog_items i%s) m LEFT JOIN (SELECT %s AS body, i.collection, i.id,"
          " i.datetime_start FROM catalog_items i%s ORDER BY " CATALOG_PG_ITEM_ORDER,
          filters, docs ? "i.doc" : "i.tpl", filters);
    int pl = q_int(&b, q->limit), po = q_int(&b, q->offset);
    q_sql(&b,
          " LIMIT $%d OFFSET $%d) p ON true ORDER BY p.datetime_start DESC,"
          " p.collection COLLATE \"C\", p.id COLLATE \"C\"",
          pl, po);
    if (b.overflow) {
        log_error("catalog: search statement too long");
        return -EINVAL;
    }
    PGresult *r = pg_query(c, b.sql, b.np, b.params, NULL);
    if (!r)
        return -EIO;
    if (PQntuples(r) < 1) {
        PQclear(r);
        return -EIO;
    }
    *matched = pg_get_int64(r, 0, 0);
    if (PQntuples(r) == 1 && PQgetisnull(r, 0, 1)) {
        PQclear(r); /* the count alone: an empty page */
        r = NULL;
    }
    page->r = r;
    page->col = 1;
    return 0;
}

/* Appends rid to the bigint[] literal in buf (at most CATALOG_MAX_LIMIT
 * ids of up to 20 digits). */
static void rid_append(char *buf, size_t len, const char *rid)
{
    size_t n = strlen(buf);
    snprintf(buf + n, len - n, "%s%s", n > 1 ? "," : "", rid);
}

/* The intersects path: streams candidates through the exact test, counting
 * every hit and keeping the rids of the page's ones. */
static int search_exact(PGconn *c, const struct catalog_query *q, struct filter_args *a, bool docs,
                        int64_t *matched, struct page *page)
{
    char rids[CATALOG_MAX_LIMIT * 22 + 4] = "{";
    struct qbuf b = {.n = 0};
    PGresult *r = NULL;
    int rc = -EIO;
    q_sql(&b, "DECLARE catalog_candidates NO SCROLL CURSOR FOR"
              " SELECT i.rid, i.geometry FROM catalog_items i");
    q_filters(&b, q, a);
    q_sql(&b, " ORDER BY " CATALOG_PG_ITEM_ORDER);
    if (b.overflow) {
        log_error("catalog: search statement too long");
        return -EINVAL;
    }
    /* One snapshot for the cursor and the final read: an import committing
     * in between can change neither the count nor the page. Read-only
     * REPEATABLE READ transactions never fail to serialise. */
    if (pg_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0, NULL, NULL) < 0 ||
        pg_exec(c, b.sql, b.np, b.params, NULL) < 0)
        goto done;
    int64_t hits = 0;
    for (;;) {
        r = pg_query(c, FETCH_SQL, 0, NULL, NULL);
        if (!r)
            goto done;
        int rows = PQntuples(r);
        for (int i = 0; i < rows; i++) {
            if (!catalog_geom_text_intersects(PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1),
                                              q->intersects))
                continue;
            if (hits >= q->offset && hits - q->offset < q->limit)
                rid_append(rids, sizeof(rids), PQgetvalue(r, i, 0));
            hits++;
        }
        PQclear(r);
        r = NULL;
        if (rows < FETCH_ROWS)
            break;
    }
    *matched = hits;
    rc = 0;
    if (strlen(rids) == 1)
        goto done; /* the page is beyond the last hit */
    strcat(rids, "}");
    rc = -EIO;
    const char *p[] = {rids};
    r = pg_query(c,
                 docs ? "SELECT i.doc, i.collection, i.id FROM catalog_items i"
                        " WHERE i.rid = ANY ($1::bigint[]) ORDER BY " CATALOG_PG_ITEM_ORDER
                      : "SELECT i.tpl, i.collection, i.id FROM catalog_items i"
                        " WHERE i.rid = ANY ($1::bigint[]) ORDER BY " CATALOG_PG_ITEM_ORDER,
                 1, p, NULL);
    if (!r)
        goto done;
    page->r = r;
    page->col = 0;
    r = NULL;
    rc = 0;
done:
    PQclear(r);
    pg_rollback(c); /* read-only: nothing to commit; ends the cursor too */
    return rc;
}

int catalog_pg_search(struct catalog *base, const struct catalog_query *q, int64_t *matched,
                      cJSON **items, catalog_item_fn fn, void *ctx)
{
    struct catalog_pg *cat = (struct catalog_pg *)base;
    struct filter_args a = {0};
    PGconn *c = NULL;
    int rc = -ENOMEM;
    a.groups = catalog_pg_text_array(q->groups, CATALOG_PUBLIC_GROUP);
    if (q->ids && q->ids->n)
        a.ids = catalog_pg_text_array(q->ids, NULL);
    if (q->collections && q->collections->n)
        a.colls = catalog_pg_text_array(q->collections, NULL);
    if (!a.groups || (q->ids && q->ids->n && !a.ids) ||
        (q->collections && q->collections->n && !a.colls))
        goto fail;
    rc = -EIO;
    if (!(c = pg_acquire(cat->pool)))
        goto fail;
    struct page page = {NULL, 0};
    bool docs = items != NULL;
    rc = q->intersects ? search_exact(c, q, &a, docs, matched, &page)
                       : search_plain(c, q, &a, docs, matched, &page);
    /* The caller's callback may take its time: the connection goes back
     * first. */
    pg_release(cat->pool, c);
    c = NULL;
    if (rc == 0 && docs)
        rc = page.r ? catalog_pg_collect_docs(page.r, page.col, false, items)
                    : ((*items = cJSON_CreateArray()) ? 0 : -ENOMEM);
    else if (rc == 0 && page.r)
        rc = catalog_pg_each_template(page.r, page.col, fn, ctx);
    PQclear(page.r);
fail:
    pg_release(cat->pool, c);
    free(a.groups);
    free(a.ids);
    free(a.colls);
    return rc;
}
