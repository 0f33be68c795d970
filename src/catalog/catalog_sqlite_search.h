/* Internals shared by the two files of the SQLite catalog search:
 * catalog_sqlite_search.c plans and runs a search, catalog_sqlite_search_sql.c
 * writes the SQL conditions its statements share. Internal to src/catalog/.
 * A struct search belongs to the one thread running that search. */
#ifndef TESSERA_CATALOG_SQLITE_SEARCH_H
#define TESSERA_CATALOG_SQLITE_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog_sqlite.h"
#include "catalog/filter_sql.h"

enum source {
    SRC_ORDER, /* the order index (or everything) */
    SRC_RTREE, /* the R*Tree of item boxes and intervals: box[], t0, t1 */
    SRC_PROP,  /* the property index: the filter leaf lead */
};

/* How a statement names the item's columns: through item_search (s), or,
 * when it reads its source alone (a narrow count), through the source's
 * rowid, so that only the tests that need them look item_search up. */
struct names {
    const char *row, *geom, *id, *coll, *start, *end;
};

struct search {
    struct catalog_sqlite_conn *c;
    const struct catalog_query *q;
    const struct catalog_sort *sort; /* never NULL: empty for the default order */
    int64_t mask;
    char *ids, *colls; /* JSON arrays for json_each, or NULL */
    struct filter_sql dialect;
    bool has_t0, has_t1; /* the interval every match meets (datetime, T_INTERSECTS) */
    int64_t t0, t1;
    enum source src;                /* where the statement at hand starts */
    double box[4];                  /* SRC_RTREE */
    const struct filter_node *lead; /* SRC_RTREE: the S_INTERSECTS leaf or NULL; SRC_PROP */
    int64_t estimate;               /* the source's candidates, capped at SMALL_SET */
    struct filter_node intersects;  /* the intersects parameter as a leaf */
    bool sorts_props;               /* the sort reads properties */
    const struct names *names;      /* wide, or by_rtree/by_prop when narrow */
    bool narrow;                    /* the statement tests visibility on its source alone */
    bool joins;    /* narrow statements still join item_search: the query reads it more than once */
    bool walk;     /* the page walks the order index, collections or not */
    char *classes; /* JSON array of the classes the caller sees in the query's collections */
    /* The filter's leaf on CATALOG_STATE_PROP that item states answer
     * (migrate_v5), or NULL; statements on the order index test it there. */
    const struct filter_node *fold;
    char *states; /* JSON array of the states the caller sees (fold: with its values) */
};

/* The item's R*Tree box (table alias t) meets box q in x, given its own
 * minx and maxx (one of the two ranges of a box across the antimeridian). */
void search_box_terms(struct sqlb *b, const char *t, double minx, double maxx, const double *q);
/* The R*Tree row t's interval meets the interval every match meets. */
void search_time_terms(struct search *x, struct sqlb *b, const char *t);
/* The test of an S_INTERSECTS leaf (the dialect's spatial hook; ctx is the
 * struct search). */
void search_spatial(void *ctx, struct sqlb *b, const struct filter_node *n);
/* " LEFT JOIN item_packed pk ...", when the statement reads properties. */
void search_join_packed(struct search *x, struct sqlb *b);
/* " FROM ... WHERE <the source's own conditions> AND ". */
void search_add_source(struct search *x, struct sqlb *b);
/* Every condition of the query but the source's own. */
void search_add_where(struct search *x, struct sqlb *b);
/* " ORDER BY ..."; held: the first key's property row is p0; from: the
 * first key written. */
void search_add_order(struct search *x, struct sqlb *b, bool held, size_t from);
/* The caller sees the kind of item in row k (item_classes or item_counts)
 * of collection c, and the query names that collection if it names any. */
void search_add_visible_kinds(struct search *x, struct sqlb *b);
/* The references to item_search's columns filter n makes. */
size_t search_row_reads(const struct filter_node *n);
/* Names the item's columns for a wide or a narrow statement. */
void search_set_narrow(struct search *x, bool narrow);
/* The top-level leaf of filter f that item states answer, or NULL. */
const struct filter_node *search_state_leaf(const struct filter_node *f);

#endif
