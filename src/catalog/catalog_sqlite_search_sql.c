/* The SQL conditions of the SQLite catalog search (catalog_sqlite_search.c
 * plans and runs it): how a statement reads its source (the order index,
 * the R*Tree, the property index), visibility, the core parameters, the
 * filter's spatial leaves and the order, written as text with bound
 * parameters only, so that the text depends on the query's shape and never
 * on its values. Pure functions of a struct search; its thread only. */
#include <string.h>

#include "catalog/catalog_sqlite_search.h"
#include "catalog/geom.h"
#include "util/timeutil.h"

static const struct names wide = {"s.rowid",      "s.geom",           "s.id",
                                  "s.collection", "s.datetime_start", "s.datetime_end"};
static const struct names by_rtree = {"r.id",
                                      "(SELECT gs.geom FROM item_search gs WHERE gs.rowid = r.id)",
                                      "(SELECT gs.id FROM item_search gs WHERE gs.rowid = r.id)",
                                      "(SELECT gs.collection FROM item_search gs"
                                      " WHERE gs.rowid = r.id)",
                                      "(SELECT gs.datetime_start FROM item_search gs"
                                      " WHERE gs.rowid = r.id)",
                                      "(SELECT gs.datetime_end FROM item_search gs"
                                      " WHERE gs.rowid = r.id)"};
static const struct names by_prop = {"d.item",
                                     "(SELECT gs.geom FROM item_search gs WHERE gs.rowid = d.item)",
                                     "(SELECT gs.id FROM item_search gs WHERE gs.rowid = d.item)",
                                     "(SELECT gs.collection FROM item_search gs"
                                     " WHERE gs.rowid = d.item)",
                                     "(SELECT gs.datetime_start FROM item_search gs"
                                     " WHERE gs.rowid = d.item)",
                                     "(SELECT gs.datetime_end FROM item_search gs"
                                     " WHERE gs.rowid = d.item)"};

void search_box_terms(struct sqlb *b, const char *t, double minx, double maxx, const double *q)
{
    sqlb_add(b, "%s.minx <= ", t);
    sqlb_double(b, maxx);
    sqlb_add(b, " AND %s.maxx >= ", t);
    sqlb_double(b, minx);
    sqlb_add(b, " AND %s.miny <= ", t);
    sqlb_double(b, q[3]);
    sqlb_add(b, " AND %s.maxy >= ", t);
    sqlb_double(b, q[1]);
}

/* The item's box meets bbox q (two ranges across the antimeridian). */
static void bbox_terms(struct sqlb *b, const char *t, const double *q)
{
    if (q[0] <= q[2]) {
        search_box_terms(b, t, q[0], q[2], q);
        return;
    }
    sqlb_add(b, "((");
    search_box_terms(b, t, q[0], 180, q);
    sqlb_add(b, ") OR (");
    search_box_terms(b, t, -180, q[2], q);
    sqlb_add(b, "))");
}

/* The R*Tree's interval dimension: it stores 32-bit floats rounded outwards,
 * so it may only widen the candidates; the exact test is on item_search. */
void search_time_terms(struct search *x, struct sqlb *b, const char *t)
{
    /* In years, as stored (catalog_sqlite.c). */
    if (x->has_t1) {
        sqlb_add(b, " AND %s.mint <= ", t);
        sqlb_double(b, (double)x->t1 / (365.25 * 86400000.0));
    }
    if (x->has_t0) {
        sqlb_add(b, " AND %s.maxt >= ", t);
        sqlb_double(b, (double)x->t0 / (365.25 * 86400000.0));
    }
}

/* The exact test of a geometry against the item's stored one. */
static void exact_test(struct search *x, struct sqlb *b, const struct catalog_geom *g, bool negated)
{
    sqlb_add(b, negated ? "NOT " : "");
    sqlb_add(b, "tessera_intersects((SELECT g.geometry FROM items g WHERE g.rowid = %s), ",
             x->names->row);
    sqlb_pointer(b, g);
    sqlb_add(b, ")");
}

/* The item's R*Tree box (r) lies inside box bb: the R*Tree's boxes are
 * rounded outwards, so inside here is inside for sure. */
static void inside_terms(struct sqlb *b, const double *bb)
{
    sqlb_add(b, "r.minx >= ");
    sqlb_double(b, bb[0]);
    sqlb_add(b, " AND r.maxx <= ");
    sqlb_double(b, bb[2]);
    sqlb_add(b, " AND r.miny >= ");
    sqlb_double(b, bb[1]);
    sqlb_add(b, " AND r.maxy <= ");
    sqlb_double(b, bb[3]);
}

/* S_INTERSECTS (and the intersects parameter). On the R*Tree source, r is
 * the item's own row: its box decides, without parsing the item's geometry,
 * for the items wholly outside the geometry's box and, when the geometry is
 * a box, for those wholly inside it (they meet it). Elsewhere the item's
 * R*Tree row, found by its id, prefilters the exact test. */
void search_spatial(void *ctx, struct sqlb *b, const struct filter_node *n)
{
    struct search *x = ctx;
    double bb[4];
    catalog_geom_bbox(n->geom, bb);
    bool own = x->src == SRC_RTREE, is_box = catalog_geom_is_box(n->geom);
    if (n->negated) {
        sqlb_add(b, "(%s AND ", x->names->geom);
        if (own) {
            sqlb_add(b, "(NOT (");
            bbox_terms(b, "r", bb);
            sqlb_add(b, ") OR (");
            if (is_box) {
                sqlb_add(b, "NOT (");
                inside_terms(b, bb);
                sqlb_add(b, ") AND ");
            }
            exact_test(x, b, n->geom, true);
            sqlb_add(b, "))");
        } else {
            exact_test(x, b, n->geom, true);
        }
        sqlb_add(b, ")");
        return;
    }
    sqlb_add(b, "(");
    if (own && x->lead != n) {
        bbox_terms(b, "r", bb);
        sqlb_add(b, " AND ");
    } else if (!own) {
        sqlb_add(b, "EXISTS (SELECT 1 FROM item_rtree b WHERE b.id = %s AND ", x->names->row);
        bbox_terms(b, "b", bb);
        sqlb_add(b, ") AND ");
    }
    if (own && is_box) {
        sqlb_add(b, "((");
        inside_terms(b, bb);
        sqlb_add(b, " AND %s) OR ", x->names->geom);
        exact_test(x, b, n->geom, false);
        sqlb_add(b, ")");
    } else {
        exact_test(x, b, n->geom, false);
    }
    sqlb_add(b, ")");
}

/* Whether filter n has a property leaf other than skip. */
static bool reads_props(const struct filter_node *n, const struct filter_node *skip)
{
    if (!n)
        return false;
    for (size_t i = 0; i < n->nkids; i++)
        if (reads_props(n->kids[i], skip))
            return true;
    return n != skip && n->nkids == 0 && n->op != FILTER_CONST && n->op != FILTER_S_INTERSECTS &&
           n->op != FILTER_T_INTERSECTS && n->field == FILTER_FIELD_PROPERTY;
}

/* The packed properties (pk), when the filter or the sort reads them; SQLite
 * joins them only for the rows that pass the other tests. A narrow count
 * has no sort, and a leaf the statement applies another way (its lead, or a
 * state test) reads no packed properties: SQLite 3.40 would still look up a
 * join nothing reads. */
void search_join_packed(struct search *x, struct sqlb *b)
{
    if ((!x->narrow && x->sorts_props) || reads_props(x->q->filter, x->dialect.skip))
        sqlb_add(b, " LEFT JOIN item_packed pk ON pk.rowid = %s", x->names->row);
}

/* " FROM ... WHERE <the source's own conditions> AND ": the source the rows
 * come from, joined to item_search (s). */
void search_add_source(struct search *x, struct sqlb *b)
{
    switch (x->src) {
    case SRC_RTREE:
        sqlb_add(b, x->narrow && !x->joins
                        ? " FROM item_rtree r"
                        : " FROM item_rtree r JOIN item_search s ON s.rowid = r.id");
        search_join_packed(x, b);
        sqlb_add(b, " WHERE ");
        search_box_terms(b, "r", x->box[0], x->box[2], x->box);
        search_time_terms(x, b, "r");
        sqlb_add(b, " AND ");
        break;
    case SRC_PROP:
        sqlb_add(b, x->narrow && !x->joins
                        ? " FROM item_props d"
                        : " FROM item_props d JOIN item_search s ON s.rowid = d.item");
        search_join_packed(x, b);
        sqlb_add(b, " WHERE d.key = ");
        sqlb_text(b, x->lead->prop);
        sqlb_add(b, " AND (");
        filter_sql_value_cond(&x->dialect, b, x->lead, "d");
        sqlb_add(b, ") AND ");
        break;
    case SRC_ORDER:
        sqlb_add(b, " FROM item_search s");
        search_join_packed(x, b);
        sqlb_add(b, " WHERE ");
        break;
    }
}

/* Visibility, collections and the datetime parameter from a narrow
 * statement's source: the class (migrate_v4) stands for the first two, the
 * property row carries the interval, and the R*Tree's interval, rounded
 * outwards, decides for the items well inside the range (the margin, about
 * 30 s, is far above the rounding of a double); the others are looked up. */
static void narrow_where(struct search *x, struct sqlb *b)
{
    const struct catalog_query *q = x->q;
    bool rtree = x->src == SRC_RTREE;
    sqlb_add(b, "%s IN (SELECT value FROM json_each(", rtree ? "r.minc" : "d.cls");
    sqlb_text(b, x->classes);
    sqlb_add(b, "))");
    if (!q->has_start && !q->has_end)
        return;
    if (!rtree) {
        if (q->has_end) {
            sqlb_add(b, " AND d.datetime_start <= ");
            sqlb_int(b, q->end);
        }
        if (q->has_start) {
            sqlb_add(b, " AND d.datetime_end >= ");
            sqlb_int(b, q->start);
        }
        return;
    }
    sqlb_add(b, " AND ((1");
    if (q->has_end) {
        sqlb_add(b, " AND r.maxt <= ");
        sqlb_double(b, (double)q->end / (365.25 * 86400000.0) - 1e-6);
    }
    if (q->has_start) {
        sqlb_add(b, " AND r.mint >= ");
        sqlb_double(b, (double)q->start / (365.25 * 86400000.0) + 1e-6);
    }
    sqlb_add(b, ") OR EXISTS (SELECT 1 FROM item_search gs WHERE gs.rowid = r.id");
    if (q->has_end) {
        sqlb_add(b, " AND gs.datetime_start <= ");
        sqlb_int(b, q->end);
    }
    if (q->has_start) {
        sqlb_add(b, " AND gs.datetime_end >= ");
        sqlb_int(b, q->start);
    }
    sqlb_add(b, "))");
}

/* The caller sees items whose visibility (column items) and collection's
 * visibility (column coll) both meet the caller's groups. */
static void vis_terms(struct search *x, struct sqlb *b, const char *items, const char *coll)
{
    sqlb_add(b, "(%s & ", items);
    int m = sqlb_int(b, x->mask);
    sqlb_add(b, ") != 0 AND (%s & ", coll);
    sqlb_ref(b, m);
    sqlb_add(b, ") != 0");
}

/* Visibility, collections and the datetime parameter from item_search. */
static void wide_where(struct search *x, struct sqlb *b)
{
    const struct catalog_query *q = x->q;
    /* The states found for the folded leaf are visible ones of the query's
     * collections, so a walk tests the state alone (the order index has it:
     * no packed properties to read). */
    bool by_state = x->fold && x->dialect.skip == x->fold;
    if (by_state) {
        sqlb_add(b, "s.st IN (SELECT value FROM json_each(");
        sqlb_text(b, x->states);
        sqlb_add(b, "))");
    } else {
        vis_terms(x, b, "s.vis", "s.cvis");
    }
    if (q->has_end) {
        sqlb_add(b, " AND s.datetime_start <= ");
        sqlb_int(b, q->end);
    }
    if (q->has_start) {
        sqlb_add(b, " AND s.datetime_end >= ");
        int p = sqlb_int(b, q->start);
        if (x->src == SRC_ORDER) {
            /* No interval is longer than maxdur: a range of the order index. */
            sqlb_add(b, " AND s.datetime_start >= ");
            sqlb_ref(b, p);
            sqlb_add(b, " - (SELECT maxdur FROM item_stats)");
        }
    }
    if (x->colls && !(by_state && x->walk)) {
        /* "+" keeps SQLite from reading the collections through their
         * index (then sorting them all) when the page should walk. */
        sqlb_add(b, x->walk ? " AND +s.collection IN (SELECT value FROM json_each("
                            : " AND s.collection IN (SELECT value FROM json_each(");
        sqlb_text(b, x->colls);
        sqlb_add(b, "))");
    }
}

/* Every condition of the query but the source's own. */
void search_add_where(struct search *x, struct sqlb *b)
{
    const struct catalog_query *q = x->q;
    if (x->narrow)
        narrow_where(x, b);
    else
        wide_where(x, b);
    if (q->has_bbox && x->src == SRC_RTREE && x->lead) { /* the item's own R*Tree row */
        sqlb_add(b, " AND ");
        bbox_terms(b, "r", q->bbox);
    } else if (q->has_bbox && x->src != SRC_RTREE) {
        sqlb_add(b, " AND EXISTS (SELECT 1 FROM item_rtree b WHERE b.id = %s AND ", x->names->row);
        bbox_terms(b, "b", q->bbox);
        sqlb_add(b, ")");
    }
    if (x->ids) {
        sqlb_add(b, " AND %s IN (SELECT value FROM json_each(", x->names->id);
        sqlb_text(b, x->ids);
        sqlb_add(b, "))");
    }
    if (q->filter) {
        sqlb_add(b, " AND ");
        filter_sql_where(&x->dialect, b, q->filter);
    }
    if (q->intersects) { /* last: the exact test parses the item's geometry */
        sqlb_add(b, " AND ");
        search_spatial(x, b, &x->intersects);
    }
}

/* " ORDER BY ..." for the sort keys, then collection and id. held: the first
 * key is a property whose row is p0 (joined); from: the first key used. */
void search_add_order(struct search *x, struct sqlb *b, bool held, size_t from)
{
    sqlb_add(b, " ORDER BY ");
    if (x->sort->n == 0)
        sqlb_add(b, "s.datetime_start DESC, ");
    for (size_t i = from; i < x->sort->n; i++)
        filter_sql_order_key(&x->dialect, b, &x->sort->keys[i], "p0", held && i == 0);
    sqlb_add(b, "s.collection, s.id");
}

/* The condition on a row k (of item_classes or item_counts, joined to its
 * collection c) that the caller sees items of that kind: both the items'
 * and the collection's visibility meet the caller's groups, and the
 * collection is one the query names (when it names any). */
void search_add_visible_kinds(struct search *x, struct sqlb *b)
{
    vis_terms(x, b, "k.vis", "c.vis");
    if (x->colls) {
        sqlb_add(b, " AND k.collection IN (SELECT value FROM json_each(");
        sqlb_text(b, x->colls);
        sqlb_add(b, "))");
    }
}

/* The references to item_search's columns a filter makes: the id, the
 * collection, the interval (two), the geometry flag. */
size_t search_row_reads(const struct filter_node *n)
{
    if (!n)
        return 0;
    size_t k = 0;
    for (size_t i = 0; i < n->nkids; i++)
        k += search_row_reads(n->kids[i]);
    if (n->op == FILTER_T_INTERSECTS)
        return k + 2;
    if (n->op == FILTER_S_INTERSECTS)
        return k + 1;
    if (n->op != FILTER_AND && n->op != FILTER_OR && n->op != FILTER_NOT && n->op != FILTER_CONST)
        k += n->field == FILTER_FIELD_ID || n->field == FILTER_FIELD_COLLECTION;
    return k;
}

/* Switches the statements to come between item_search and the source
 * alone (narrow), naming the item's columns accordingly: each reference is
 * then a lookup of its own, so a query that makes several joins item_search
 * once instead (after the source's own tests of visibility). */
void search_set_narrow(struct search *x, bool narrow)
{
    const struct names *n = !narrow || x->joins   ? &wide
                            : x->src == SRC_RTREE ? &by_rtree
                                                  : &by_prop;
    x->narrow = narrow;
    x->names = n;
    x->dialect.item = n->row;
    x->dialect.id = n->id;
    x->dialect.coll = n->coll;
    x->dialect.start = n->start;
    x->dialect.end = n->end;
}

/* A plain string compared with a date-time string matches by its instant
 * too (filter_sql.c); the state holds plain strings only. */
static bool plain_strings(const struct filter_node *n)
{
    for (size_t i = 0; i < n->nvalues; i++) {
        int64_t ms;
        if (n->values[i].type != FILTER_STRING ||
            time_parse_rfc3339_wide(n->values[i].str, &ms) == 0)
            return false;
    }
    return n->nvalues > 0;
}

const struct filter_node *search_state_leaf(const struct filter_node *f)
{
    size_t n = !f ? 0 : f->op == FILTER_AND ? f->nkids : 1;
    for (size_t i = 0; i < n; i++) {
        const struct filter_node *k = f->op == FILTER_AND ? f->kids[i] : f;
        if ((k->op == FILTER_IN || (k->op == FILTER_CMP && k->cmp == FILTER_EQ)) && !k->negated &&
            k->field == FILTER_FIELD_PROPERTY && strcmp(k->prop, CATALOG_STATE_PROP) == 0 &&
            plain_strings(k))
            return k;
    }
    return NULL;
}
