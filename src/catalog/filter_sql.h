/* SQL text with numbered parameters, and the translation of a normalized
 * filter (filter.h) and of sort keys into it, shared by the SQLite and
 * PostgreSQL drivers so that both give the same answers: each driver only
 * names its tables and columns and supplies the spatial test. Values are
 * always parameters, never spliced into the text. Internal to src/catalog/.
 * Single-threaded per buffer. */
#ifndef TESSERA_CATALOG_FILTER_SQL_H
#define TESSERA_CATALOG_FILTER_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog/filter.h"
#include "util/buf.h"

enum sqlb_type { SQLB_TEXT, SQLB_DOUBLE, SQLB_INT, SQLB_POINTER };

struct sqlb_param {
    enum sqlb_type type;
    const char *text; /* TEXT: borrowed, or owned (then == owned) */
    char *owned;
    double d;
    int64_t i;
    const void *ptr;  /* POINTER (SQLite only): a struct catalog_geom */
    const char *cast; /* PostgreSQL: the placeholder's type, e.g. "::bigint[]" */
};

/* An SQL statement being written. oom stays set once an append failed. */
struct sqlb {
    bool pg; /* placeholders "$n::type" (PostgreSQL) or "?n" (SQLite) */
    struct buf text; /* its oom is the statement's: a failed parameter sets it too */
    struct sqlb_param *params;
    size_t np, capp;
    char (*pgtext)[32]; /* PostgreSQL: numbers formatted for sqlb_pg_values */
    const char **pgvalues;
};

void sqlb_init(struct sqlb *b, bool pg);
void sqlb_free(struct sqlb *b);
__attribute__((format(printf, 2, 3))) void sqlb_add(struct sqlb *b, const char *fmt, ...);
/* Appends a placeholder for a new parameter and returns its number, which
 * may be written again with sqlb_ref. text is borrowed: it must outlive b
 * (sqlb_text_copy copies). */
int sqlb_text(struct sqlb *b, const char *text);
int sqlb_text_copy(struct sqlb *b, const char *text);
int sqlb_double(struct sqlb *b, double d);
int sqlb_int(struct sqlb *b, int64_t i);
int sqlb_pointer(struct sqlb *b, const void *ptr);
/* A text parameter of another PostgreSQL type: cast is e.g. "::text[]". */
int sqlb_text_as(struct sqlb *b, const char *text, const char *cast);
/* Appends the placeholder of parameter n again. */
void sqlb_ref(struct sqlb *b, int n);
/* PostgreSQL: the parameters as text values for PQexecParams (owned by b).
 * NULL when out of memory. */
const char *const *sqlb_pg_values(struct sqlb *b);

/* How a driver names what a filter refers to. */
struct filter_sql {
    bool pg;
    const char *item;        /* the item's key, e.g. "s.rowid" */
    const char *props;       /* the property table: (item, key, kind, num, txt) */
    const char *id, *coll;   /* the item's id and collection, compared byte-wise */
    const char *start, *end; /* the item's datetime interval (ms) */
    const char *assets;      /* the asset table: (key, item) */
    /* Appends the test of an S_INTERSECTS leaf: leaf->negated selects the
     * "known not to intersect" form. */
    void (*spatial)(void *ctx, struct sqlb *b, const struct filter_node *leaf);
    void *ctx;
    /* A leaf the statement already applies another way (the property row
     * it starts from): written as TRUE. */
    const struct filter_node *skip;
    /* SQLite: the column holding each item's packed properties
     * (catalog_props_pack), which property leaves and sort keys then read
     * with tessera_pk/pn/pt instead of rows of props. NULL: rows. */
    const char *packed;
};

/* Appends a boolean SQL expression that is true exactly for the items the
 * (normalized) filter n selects. */
void filter_sql_where(const struct filter_sql *d, struct sqlb *b, const struct filter_node *n);

/* Appends the value condition of a property leaf (its "true" form), over
 * the columns kind, num and txt of one property row, qualified by alias
 * ("" for none). */
void filter_sql_value_cond(const struct filter_sql *d, struct sqlb *b, const struct filter_node *n,
                           const char *alias);
/* True when a property leaf's value condition can seek the property index
 * (key, kind, num, txt) rather than scan all of the key's rows. */
bool filter_sql_indexable(const struct filter_node *n);

/* Appends the ORDER BY terms (without "ORDER BY") of key k, whose property
 * row, if any, is alias (joined with LEFT JOIN on key; missing ones sort
 * last in either direction), followed by ", ". present: alias is an inner
 * join, so the "missing last" term is left out and the index's own order
 * is used (PostgreSQL compares a prefix of the text first). With packed
 * properties (and not present), the terms read the packed record and alias
 * is unused. */
void filter_sql_order_key(const struct filter_sql *d, struct sqlb *b,
                          const struct catalog_sort_key *k, const char *alias, bool present);

#endif
