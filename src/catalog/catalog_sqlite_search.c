/* Search of the SQLite catalog driver: planning and running it. A search is
 * SQL over the search tables of catalog_sqlite.c (item_search with each
 * item's packed properties, item_rtree, item_props), its conditions written
 * by catalog_sqlite_search_sql.c with bound parameters only, the filter and
 * sort keys by filter_sql.c.
 *
 * SQLite's planner cannot tell how selective a box or a property range is,
 * so this file asks first: it counts, up to a cap, the candidates of each
 * constraint that every match must meet and that an index can enumerate
 * (the bbox, intersects or an S_INTERSECTS through the R*Tree, whose third
 * dimension is the item's interval; a property range through the property
 * index), and starts from the one with the fewest. The count then reads
 * that source alone: each R*Tree entry and property row carries its item's
 * class (collection and visibility) and interval, so visibility, the
 * collections and the datetime parameter need no row of item_search (a
 * rowid lookup per candidate was most of a search's time). The same pass
 * keeps the matches when they are few, and the page is cut from them in
 * order; otherwise (or when nothing filters but the platform's status
 * test: then the count is a sum of item_counts per state) the page walks an
 * index in page order and stops after the page: the order index, which
 * covers visibility, the interval and the item's state (so that the status
 * test reads no properties), or, when the first sort key is a property,
 * that property's index (items without it follow, as they sort last).
 * Everything runs in one read transaction, so the count and the page agree.
 * Any thread: each call takes its own pooled connection. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_sqlite_search.h"
#include "catalog/geom.h"
#include "util/log.h"

/* Up to this many candidates, a search reads all its matches in one
 * ordered statement; estimates stop counting here. catalog_set_small_set
 * moves it (tests use 0 to take the other paths on small catalogs). */
static _Atomic int64_t small_set = 3000;
#define SMALL_SET atomic_load(&small_set)

void catalog_set_small_set(int64_t n)
{
    atomic_store(&small_set, n < 0 ? 0 : n);
}

/* A source and what it needs, to switch between them. */
struct choice {
    enum source src;
    double box[4];
    const struct filter_node *lead;
    int64_t estimate;
};

static void use(struct search *x, const struct choice *c)
{
    x->src = c->src;
    memcpy(x->box, c->box, sizeof(x->box));
    x->lead = c->lead;
    x->estimate = c->estimate;
    x->dialect.skip = c->src == SRC_PROP ? c->lead : c->src == SRC_ORDER ? x->fold : NULL;
}

/* Resets st for its next use, its bindings cleared: they may borrow
 * memory of this search. */
static void release(struct search *x, sqlite3_stmt *st)
{
    stmtcache_put(&x->c->search, st);
}

/* The statement of b with its parameters bound, from the connection's
 * cache (the text depends only on the query's shape, so it repeats); give
 * it back with release. */
static int prepare(struct search *x, struct sqlb *b, sqlite3_stmt **out)
{
    *out = NULL;
    if (b->text.oom)
        return -ENOMEM;
    if (!(*out = stmtcache_get(&x->c->search, x->c->db, b->text.s, b->text.n))) {
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
            release(x, *out);
            *out = NULL;
            return rc == SQLITE_RANGE ? -E2BIG : -EIO;
        }
    }
    return 0;
}

/* Runs a statement without parameters or rows (BEGIN, COMMIT) from the
 * cache: sqlite3_exec would prepare it again on every search. */
static int run_plain(struct search *x, const char *sql)
{
    sqlite3_stmt *st = stmtcache_get(&x->c->search, x->c->db, sql, strlen(sql));
    int s = st ? sqlite3_step(st) : SQLITE_ERROR;
    release(x, st);
    return s == SQLITE_DONE ? 0 : -EIO;
}

/* Runs a one-number statement (a count or a sum). */
static int run_number(struct search *x, struct sqlb *b, int64_t *n)
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
    release(x, st);
    return s == SQLITE_ROW ? 0 : -EIO;
}

/* ---- choosing where to start ------------------------------------------------ */

/* When several sources have SMALL_SET candidates or more, they are counted
 * again up to this many, to start the count from the smallest. */
#define RECOUNT_CAP 20000
#define MAX_CHOICES 8

struct choices {
    struct choice v[MAX_CHOICES];
    size_t n;
};

/* The number of candidates of a source (the statement in b, an open
 * "SELECT count(*) FROM (SELECT 1 ..."), up to cap. */
static int estimate(struct search *x, const struct choice *c, int64_t cap, int64_t *n)
{
    struct sqlb b;
    sqlb_init(&b, false);
    if (c->src == SRC_RTREE) {
        sqlb_add(&b, "SELECT count(*) FROM (SELECT 1 FROM item_rtree r WHERE ");
        search_box_terms(&b, "r", c->box[0], c->box[2], c->box);
        search_time_terms(x, &b, "r");
    } else {
        sqlb_add(&b, "SELECT count(*) FROM (SELECT 1 FROM item_props d WHERE d.key = ");
        sqlb_text(&b, c->lead->prop);
        sqlb_add(&b, " AND (");
        filter_sql_value_cond(&x->dialect, &b, c->lead, "d");
        sqlb_add(&b, ")");
    }
    sqlb_add(&b, " LIMIT ");
    sqlb_int(&b, cap);
    sqlb_add(&b, ")");
    int rc = run_number(x, &b, n);
    sqlb_free(&b);
    return rc;
}

static int consider(struct search *x, struct choices *cs, struct choice *c)
{
    if (cs->n == MAX_CHOICES)
        return 0;
    int rc = estimate(x, c, SMALL_SET, &c->estimate);
    if (rc == 0)
        cs->v[cs->n++] = *c;
    return rc;
}

/* A box the R*Tree can search (not across the antimeridian). */
static int consider_box(struct search *x, struct choices *cs, const double *box,
                        const struct filter_node *lead)
{
    if (box[0] > box[2])
        return 0;
    struct choice c = {.src = SRC_RTREE, .lead = lead};
    memcpy(c.box, box, sizeof(c.box));
    return consider(x, cs, &c);
}

/* The interval every match meets: the datetime parameter and the filter's
 * top-level T_INTERSECTS, intersected. */
static void narrow_time(struct search *x)
{
    const struct catalog_query *q = x->q;
    const struct filter_node *f = q->filter;
    x->has_t0 = q->has_start;
    x->t0 = q->start;
    x->has_t1 = q->has_end;
    x->t1 = q->end;
    size_t n = !f ? 0 : f->op == FILTER_AND ? f->nkids : 1;
    for (size_t i = 0; i < n; i++) {
        const struct filter_node *k = f->op == FILTER_AND ? f->kids[i] : f;
        if (k->op != FILTER_T_INTERSECTS || k->negated)
            continue;
        if (k->has_start && (!x->has_t0 || k->start > x->t0)) {
            x->has_t0 = true;
            x->t0 = k->start;
        }
        if (k->has_end && (!x->has_t1 || k->end < x->t1)) {
            x->has_t1 = true;
            x->t1 = k->end;
        }
    }
}

/* Fewer candidates first; on a tie the R*Tree, whose candidates are the
 * cheapest to go through. */
static bool better(const struct choice *a, const struct choice *b)
{
    return a->estimate < b->estimate ||
           (a->estimate == b->estimate && a->src == SRC_RTREE && b->src != SRC_RTREE);
}

/* The source with the fewest candidates among the constraints every match
 * must meet: the core parameters and the filter's top-level AND. */
static int choose_source(struct search *x, struct choice *best)
{
    const struct catalog_query *q = x->q;
    const struct filter_node *f = q->filter;
    struct choices cs = {.n = 0};
    int rc = 0;
    narrow_time(x);
    if (q->has_bbox)
        rc = consider_box(x, &cs, q->bbox, NULL);
    if (rc == 0 && q->intersects) {
        double bb[4];
        catalog_geom_bbox(q->intersects, bb);
        rc = consider_box(x, &cs, bb, &x->intersects);
    }
    size_t n = !f ? 0 : f->op == FILTER_AND ? f->nkids : 1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct filter_node *k = f->op == FILTER_AND ? f->kids[i] : f;
        struct choice c = {.src = SRC_PROP, .lead = k};
        if (k->op == FILTER_S_INTERSECTS && !k->negated) {
            double bb[4];
            catalog_geom_bbox(k->geom, bb);
            rc = consider_box(x, &cs, bb, k);
        } else if (filter_sql_indexable(k)) {
            rc = consider(x, &cs, &c);
        }
    }
    if (rc < 0)
        return rc;
    /* Several large ones: count them further to tell them apart. */
    size_t large = 0, small = 0;
    for (size_t i = 0; i < cs.n; i++) {
        large += cs.v[i].estimate >= SMALL_SET;
        small += cs.v[i].estimate < SMALL_SET;
    }
    for (size_t i = 0; !small && large > 1 && i < cs.n && rc == 0; i++)
        if (cs.v[i].estimate >= SMALL_SET && SMALL_SET > 0)
            rc = estimate(x, &cs.v[i], RECOUNT_CAP, &cs.v[i].estimate);
    best->src = SRC_ORDER;
    best->lead = NULL;
    best->estimate = INT64_MAX;
    for (size_t i = 0; i < cs.n; i++)
        if (better(&cs.v[i], best))
            *best = cs.v[i];
    /* A short list of ids leads by itself, through the id index. */
    if (x->ids && (int64_t)q->ids->n < best->estimate && (int64_t)q->ids->n < SMALL_SET) {
        best->src = SRC_ORDER;
        best->lead = NULL;
        best->estimate = (int64_t)q->ids->n;
    }
    return rc;
}

/* Runs b's statement (and frees b) for its one text value, strdup'd into
 * *out. 0, -EIO or -ENOMEM. */
static int one_text(struct search *x, struct sqlb *b, char **out)
{
    sqlite3_stmt *st;
    int rc = prepare(x, b, &st);
    sqlb_free(b);
    if (rc < 0)
        return rc;
    const char *v =
        sqlite3_step(st) == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    rc = !v ? -EIO : !(*out = strdup(v)) ? -ENOMEM : 0;
    release(x, st);
    return rc;
}

/* The classes (migrate_v4) of the items the caller sees in the query's
 * collections, as a JSON array in x->classes, found once per search. */
static int visible_classes(struct search *x)
{
    struct sqlb b;
    if (x->classes)
        return 0;
    sqlb_init(&b, false);
    sqlb_add(&b, "SELECT json_group_array(k.cls) FROM item_classes k JOIN collections c"
                 " ON c.id = k.collection WHERE ");
    search_add_visible_kinds(x, &b);
    return one_text(x, &b, &x->classes);
}

/* The states (migrate_v5) of the items the caller sees in the query's
 * collections, with the folded leaf's values when there is one, as a JSON
 * array in x->states, found once per search. */
static int visible_states(struct search *x)
{
    struct sqlb b;
    if (x->states)
        return 0;
    sqlb_init(&b, false);
    sqlb_add(&b, "SELECT json_group_array(t.st) FROM item_states t JOIN item_classes k"
                 " ON k.cls = t.cls JOIN collections c ON c.id = k.collection WHERE ");
    search_add_visible_kinds(x, &b);
    for (size_t i = 0; x->fold && i < x->fold->nvalues; i++) {
        sqlb_add(&b, i ? ", " : " AND t.status IN (");
        sqlb_text(&b, x->fold->values[i].str);
    }
    sqlb_add(&b, x->fold ? ")" : "");
    return one_text(x, &b, &x->states);
}

/* ---- the page ---------------------------------------------------------------- */

struct rows {
    int64_t v[CATALOG_MAX_LIMIT];
    size_t n;
};

/* Runs a page statement and appends the rowids of rows [offset, offset +
 * limit) to out; with all set, steps through every row (no LIMIT) and
 * returns their number in *total. */
static int run_page(struct search *x, struct sqlb *b, int64_t limit, int64_t offset, bool all,
                    struct rows *out, int64_t *total)
{
    if (!all) {
        sqlb_add(b, " LIMIT ");
        sqlb_int(b, limit);
        sqlb_add(b, " OFFSET ");
        sqlb_int(b, offset);
    }
    sqlite3_stmt *st;
    int rc = prepare(x, b, &st), s;
    if (rc < 0)
        return rc;
    int64_t i = 0;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if ((!all || (i >= offset && i < offset + limit)) && out->n < CATALOG_MAX_LIMIT)
            out->v[out->n++] = sqlite3_column_int64(st, 0);
        i++;
    }
    if (s != SQLITE_DONE) {
        log_error("catalog: search failed: %s", sqlite3_errmsg(x->c->db));
        rc = -EIO;
    }
    if (total)
        *total = i;
    release(x, st);
    return rc;
}

/* The items that have the first key's property, in the property index's
 * order, then those that do not. *matched is set when the pages tell it. */
static int page_split(struct search *x, struct rows *rows, int64_t *matched)
{
    const struct catalog_query *q = x->q;
    const char *key = x->sort->keys[0].prop;
    struct sqlb b;
    sqlb_init(&b, false);
    sqlb_add(&b, "SELECT s.rowid FROM item_props p0 JOIN item_search s ON s.rowid = p0.item");
    search_join_packed(x, &b);
    sqlb_add(&b, " WHERE p0.key = ");
    sqlb_text(&b, key);
    sqlb_add(&b, " AND ");
    search_add_where(x, &b);
    search_add_order(x, &b, true, 0);
    int rc = run_page(x, &b, q->limit, q->offset, false, rows, NULL);
    sqlb_free(&b);
    if (rc < 0 || rows->n == (size_t)q->limit)
        return rc;
    /* Where the second part starts is known when this page holds some of
     * the first; otherwise it is counted. */
    int64_t have = 0;
    if (rows->n > 0) {
        have = q->offset + (int64_t)rows->n;
    } else {
        sqlb_init(&b, false);
        sqlb_add(&b, "SELECT count(*) FROM item_props p0 JOIN item_search s ON s.rowid ="
                     " p0.item");
        search_join_packed(x, &b);
        sqlb_add(&b, " WHERE p0.key = ");
        sqlb_text(&b, key);
        sqlb_add(&b, " AND ");
        search_add_where(x, &b);
        rc = run_number(x, &b, &have);
        sqlb_free(&b);
        if (rc < 0)
            return rc;
    }
    size_t first = rows->n;
    sqlb_init(&b, false);
    sqlb_add(&b, "SELECT s.rowid FROM item_search s");
    search_join_packed(x, &b);
    sqlb_add(&b, " WHERE ");
    search_add_where(x, &b);
    sqlb_add(&b, " AND tessera_pk(pk.props, ");
    sqlb_text(&b, key);
    sqlb_add(&b, ") IS NULL");
    search_add_order(x, &b, false, 1);
    int64_t offset = q->offset > have ? q->offset - have : 0;
    rc = run_page(x, &b, q->limit - (int64_t)first, offset, false, rows, NULL);
    sqlb_free(&b);
    size_t second = rows->n - first;
    if (rc == 0 && second < (size_t)q->limit - first && (rows->n > 0 || q->offset == 0))
        *matched = have + offset + (int64_t)second;
    return rc;
}

/* The page from the current source, in order; all: read every match and
 * set *matched to their number (else set only when the page tells it). */
static int page(struct search *x, bool all, struct rows *rows, int64_t *matched)
{
    const struct catalog_query *q = x->q;
    struct sqlb b;
    sqlb_init(&b, false);
    sqlb_add(&b, "SELECT s.rowid");
    search_add_source(x, &b);
    search_add_where(x, &b);
    search_add_order(x, &b, false, 0);
    int64_t total = 0;
    int rc = run_page(x, &b, q->limit, q->offset, all, rows, &total);
    sqlb_free(&b);
    if (rc < 0)
        return rc;
    if (all)
        *matched = total;
    else if (rows->n < (size_t)q->limit && (rows->n > 0 || q->offset == 0))
        *matched = q->offset + (int64_t)rows->n;
    return 0;
}

/* The page of few matches (set: their rowids as a JSON array), in order:
 * only their rows are looked up. */
static int page_of_set(struct search *x, const char *set, struct rows *rows)
{
    struct sqlb b;
    sqlb_init(&b, false);
    sqlb_add(&b, "SELECT s.rowid FROM json_each(");
    sqlb_text(&b, set);
    sqlb_add(&b, ") m CROSS JOIN item_search s ON s.rowid = m.value");
    search_join_packed(x, &b);
    search_add_order(x, &b, false, 0);
    int rc = run_page(x, &b, x->q->limit, x->q->offset, false, rows, NULL);
    sqlb_free(&b);
    return rc;
}

/* The count from a source (the R*Tree or the property index), which it
 * reads alone: the class and interval it carries stand for item_search's
 * visibility, collection and interval, so an item is looked up only for the
 * tests that need more. When fewer than SMALL_SET match, *set gets their
 * rowids (a JSON array; caller frees), so that one pass finds both the
 * count and the page. */
static int count_source(struct search *x, int64_t *matched, char **set)
{
    struct sqlb b;
    sqlite3_stmt *st;
    int rc = visible_classes(x);
    *set = NULL;
    if (rc < 0)
        return rc;
    sqlb_init(&b, false);
    search_set_narrow(x, true);
    sqlb_add(&b, "SELECT count(*), tessera_ids(%s, ", x->names->row);
    sqlb_int(&b, SMALL_SET);
    sqlb_add(&b, ")");
    search_add_source(x, &b);
    search_add_where(x, &b);
    search_set_narrow(x, false);
    rc = prepare(x, &b, &st);
    sqlb_free(&b);
    if (rc < 0)
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *ids = (const char *)sqlite3_column_text(st, 1);
        *matched = sqlite3_column_int64(st, 0);
        if (ids && !(*set = strdup(ids)))
            rc = -ENOMEM;
    } else {
        log_error("catalog: count failed: %s", sqlite3_errmsg(x->c->db));
        rc = -EIO;
    }
    release(x, st);
    return rc;
}

/* Whether nothing filters but visibility, collections and the folded
 * leaf: the stored counts per state then add up to the count. */
static bool counted_by_state(const struct search *x)
{
    const struct catalog_query *q = x->q;
    return !q->has_bbox && !q->has_start && !q->has_end && !x->ids && !q->intersects &&
           (!q->filter || q->filter == x->fold);
}

/* The count in the order index, or from the stored counts. */
static int count(struct search *x, int64_t *matched)
{
    bool stored = counted_by_state(x);
    int rc = stored ? visible_states(x) : 0;
    if (rc < 0)
        return rc;
    struct sqlb b;
    sqlb_init(&b, false);
    if (stored) {
        sqlb_add(&b, "SELECT coalesce(sum(n), 0) FROM item_counts WHERE st IN (SELECT value"
                     " FROM json_each(");
        sqlb_text(&b, x->states);
        sqlb_add(&b, "))");
    } else {
        sqlb_add(&b, "SELECT count(*)");
        search_add_source(x, &b);
        search_add_where(x, &b);
    }
    rc = run_number(x, &b, matched);
    sqlb_free(&b);
    return rc;
}

/* Whether a page in order walks the order index even when the query names
 * collections: it does unless they hold under a twentieth of the items,
 * since the walk tests a collection in the index alone, while reading the
 * collections through their index means sorting all their matches (for the
 * platform's CSV, 26,000 of 100,000 items sorted for 3,000). */
static int choose_walk(struct search *x)
{
    if (!x->colls)
        return 0;
    struct sqlb b;
    int64_t share = 0;
    sqlb_init(&b, false);
    sqlb_add(&b, "SELECT coalesce(20 * sum(n) FILTER (WHERE k.collection IN (SELECT value FROM"
                 " json_each(");
    sqlb_text(&b, x->colls);
    sqlb_add(&b, "))) >= sum(n), 0) FROM item_counts n JOIN item_states t ON t.st = n.st"
                 " JOIN item_classes k ON k.cls = t.cls");
    int rc = run_number(x, &b, &share);
    sqlb_free(&b);
    x->walk = share != 0;
    return rc;
}

/* Chooses how to run the search, then runs the page and, unless it told
 * it, the count. */
static int plan_and_run(struct search *x, struct rows *rows, int64_t *matched)
{
    struct choice best, order = {.src = SRC_ORDER, .estimate = INT64_MAX};
    int rc = choose_source(x, &best);
    if (rc == 0 && x->fold)
        rc = visible_states(x);
    if (rc < 0)
        return rc;
    *matched = -1;
    use(x, &best);
    if (best.src != SRC_ORDER && (best.estimate < SMALL_SET || !counted_by_state(x))) {
        /* Count from the best source; when few match, the page is cut
         * from those, else an index is walked in page order. */
        char *set = NULL;
        rc = count_source(x, matched, &set);
        bool few = set != NULL;
        if (rc == 0 && few)
            rc = page_of_set(x, set, rows);
        free(set);
        if (rc < 0 || few)
            return rc;
    } else if (best.estimate < SMALL_SET) {
        /* A short list of ids: every match, in order, in one statement. */
        return page(x, true, rows, matched);
    }
    use(x, &order);
    if ((rc = choose_walk(x)) < 0)
        return rc;
    int64_t told = -1;
    if (x->sort->n && x->sort->keys[0].field == FILTER_FIELD_PROPERTY)
        rc = page_split(x, rows, &told);
    else
        rc = page(x, false, rows, &told);
    x->walk = false; /* a count reads every match: the collections' index suits it */
    if (rc == 0 && *matched < 0)
        rc = told >= 0 ? (*matched = told, 0) : x->q->page_only ? 0 : count(x, matched);
    return rc;
}

/* Reads the page's documents (or templates) by rowid, in page order. */
static int emit_rows(struct search *x, const struct rows *rows, cJSON **items, catalog_item_fn fn,
                     void *ctx)
{
    sqlite3_stmt *st = catalog_sqlite_stmt(x->c, items ? CSQ_FETCH_DOC : CSQ_FETCH_TPL);
    int rc = 0;
    if (!st)
        return -EIO;
    if (items && !(*items = cJSON_CreateArray()))
        return -ENOMEM;
    for (size_t i = 0; i < rows->n && rc == 0; i++) {
        sqlite3_bind_int64(st, 1, rows->v[i]);
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
        .intersects = {.op = FILTER_S_INTERSECTS, .geom = (struct catalog_geom *)q->intersects},
        .dialect = {.pg = false,
                    .props = "item_props",
                    .assets = "assets",
                    .spatial = search_spatial,
                    .packed = "pk.props"},
    };
    x.dialect.ctx = &x;
    search_set_narrow(&x, false); /* the item's columns through item_search */
    for (size_t i = 0; i < x.sort->n; i++)
        x.sorts_props |= x.sort->keys[i].field == FILTER_FIELD_PROPERTY;
    x.fold = search_state_leaf(q->filter);
    x.joins = search_row_reads(q->filter) + (q->intersects != NULL) + (q->ids && q->ids->n) > 1;
    struct rows rows = {.n = 0};
    bool in_tx = false;
    int rc = -ENOMEM;
    *matched = -1;
    if ((q->ids && q->ids->n && !(x.ids = strlist_json(q->ids))) ||
        (q->collections && q->collections->n && !(x.colls = strlist_json(q->collections))))
        goto done;
    rc = -EIO;
    if (!(x.c = catalog_sqlite_conn_get(cat)))
        goto done;
    if ((rc = catalog_sqlite_group_mask(x.c, q->groups, &x.mask)) < 0)
        goto done;
    /* One snapshot for the estimates, the page, the count and the documents. */
    if ((rc = run_plain(&x, "BEGIN")) < 0)
        goto done;
    in_tx = true;
    if ((rc = plan_and_run(&x, &rows, matched)) < 0)
        goto done;
    rc = emit_rows(&x, &rows, items, fn, ctx);
done:
    if (rc != 0)
        *matched = 0;
    if (in_tx)
        run_plain(&x, "COMMIT");
    if (x.c)
        catalog_sqlite_conn_put(cat, x.c);
    free(x.ids);
    free(x.colls);
    free(x.classes);
    free(x.states);
    return rc;
}
