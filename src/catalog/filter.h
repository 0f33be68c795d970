/* Filters and sort orders for STAC search: one small syntax tree that the
 * query extension (filter.c), CQL2 text (cql2_text.c) and CQL2 JSON
 * (cql2_json.c) parsers produce and that both catalog drivers translate to
 * SQL (filter_sql.c), plus the sortby parsers (sortby.c). Every parser is
 * strict (anything it does not implement is an error that names it) and
 * bounded (depth, nodes, values, string sizes). Pure functions on
 * caller-owned values: any thread.
 *
 * Semantics, shared by both drivers:
 *  - A property is an item property (a top-level member of "properties";
 *    "properties.x" and "x" are the same), except that id and collection
 *    name the item's own members. Nested members cannot be addressed.
 *  - A comparison with a property that is missing or null is unknown: it is
 *    neither true nor false, so NOT does not select the item either (SQL's
 *    three-valued logic). Values of different JSON types are never equal and
 *    never ordered (x = 'a' is false for a number x, and x <> 'a' true).
 *  - Strings compare byte by byte (UTF-8, case-sensitive). A string property
 *    that is an RFC 3339 date-time also compares as an instant with
 *    TIMESTAMP()/DATE() literals (DATE means that day's midnight, UTC).
 *  - T_INTERSECTS works on the item's datetime, or its start/end interval.
 *  - S_INTERSECTS works on the item geometry; an item without one is unknown. */
#ifndef TESSERA_CATALOG_FILTER_H
#define TESSERA_CATALOG_FILTER_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog/geom.h"
#include "util/strlist.h"

#define FILTER_MAX_DEPTH 32    /* nesting of boolean operators and brackets */
#define FILTER_MAX_NODES 256   /* predicates and operators in one filter */
#define FILTER_MAX_VALUES 1000 /* literal values in one filter (IN lists included) */
#define FILTER_MAX_NAME 256    /* bytes of a property name */
#define FILTER_MAX_STRING 4096 /* bytes of a string literal */
#define FILTER_MAX_TEXT 65536  /* bytes of a CQL2 text filter */
#define SORT_MAX_KEYS 8

enum filter_op {
    FILTER_AND,
    FILTER_OR,
    FILTER_NOT,          /* never left after filter_normalize */
    FILTER_CONST,        /* TRUE or FALSE: value in negated (false = TRUE) */
    FILTER_CMP,          /* field cmp values[0] */
    FILTER_LIKE,         /* field LIKE values[0].str (CQL2 pattern: % _ and \ escapes) */
    FILTER_IN,           /* field IN values[0..n) */
    FILTER_BETWEEN,      /* values[0] <= field <= values[1] */
    FILTER_ISNULL,       /* field is missing or null */
    FILTER_S_INTERSECTS, /* the item geometry shares a point with geom */
    FILTER_T_INTERSECTS, /* the item's datetime interval meets [start, end] */
    /* The item has an asset whose key starts with values[0].str. Never
     * parsed from a client's filter: resource bounds (api/bounds.c) add it. */
    FILTER_ASSET_PREFIX,
    FILTER_ASSET_KEY, /* the same for an asset key exactly (api/bounds.c) */
};

enum filter_cmp { FILTER_EQ, FILTER_NE, FILTER_LT, FILTER_LE, FILTER_GT, FILTER_GE };

enum filter_vtype { FILTER_BOOL, FILTER_NUMBER, FILTER_STRING, FILTER_TIME };

struct filter_value {
    enum filter_vtype type;
    double num; /* NUMBER; BOOL as 0 or 1 */
    int64_t ms; /* TIME */
    char *str;  /* STRING */
};

enum filter_field {
    FILTER_FIELD_PROPERTY,   /* prop names an item property */
    FILTER_FIELD_ID,         /* the item id */
    FILTER_FIELD_COLLECTION, /* the item's collection id */
    FILTER_FIELD_DATETIME,   /* sort only: the item's datetime or interval start */
    FILTER_FIELD_ASSET,      /* FILTER_ASSET_PREFIX: the item's asset keys */
};

struct filter_node {
    enum filter_op op;
    /* Leaves (and CONST): after filter_normalize, true means "the predicate
     * is false" (not merely "not true"): see the three-valued logic above. */
    bool negated;
    enum filter_cmp cmp;
    enum filter_field field;
    char *prop; /* property name, without "properties." */
    struct filter_value *values;
    size_t nvalues;
    struct filter_node **kids; /* AND, OR: two or more; NOT: one */
    size_t nkids;
    struct catalog_geom *geom; /* S_INTERSECTS */
    bool has_start, has_end;   /* T_INTERSECTS: inclusive bounds in ms */
    int64_t start, end;
};

/* Frees a tree (NULL is a no-op). */
void filter_free(struct filter_node *n);
/* A and b joined by AND; either may be NULL (then the other is returned).
 * Takes both; NULL only when out of memory (both are then freed). */
struct filter_node *filter_and(struct filter_node *a, struct filter_node *b);
/* Rewrites *root into negation normal form: NOT pushed down to the leaves
 * (De Morgan, as three-valued logic allows), <> turned into negated =,
 * nested AND/OR flattened, TRUE/FALSE folded away. May free nodes. */
void filter_normalize(struct filter_node **root);
/* Appends the distinct property names the tree uses (FILTER_FIELD_PROPERTY)
 * to out. 0 or -ENOMEM. */
int filter_properties(const struct filter_node *n, struct strlist *out);

/* Maps a name as a client writes it ("properties.x", "x", "id",
 * "collection") to a field and property name (a pointer into name). For
 * sorting, datetime is its own field; for filters it is a property. false
 * when the name is empty, too long or holds control characters. */
bool filter_field_of(const char *name, bool sorting, enum filter_field *field, const char **prop);

/* The parsers: 0 with *out set (NULL for an empty query object), -EINVAL
 * with a message naming the culprit in err, or -ENOMEM. The result is not
 * yet normalized. */
int filter_parse_query(const cJSON *query, struct filter_node **out, char *err, size_t errlen);
int filter_parse_cql2_text(const char *text, struct filter_node **out, char *err, size_t errlen);
int filter_parse_cql2_json(const cJSON *json, struct filter_node **out, char *err, size_t errlen);

/* --- Internals shared by the parsers (filter.c). --- */

/* Counts nodes and values against the limits while a filter is built. */
struct filter_budget {
    size_t nodes, values;
};
/* A new node of op, counted against b; NULL when out of memory or over the
 * node limit (*over set then). */
struct filter_node *filter_node_new(struct filter_budget *b, enum filter_op op, bool *over);
/* Appends a child to an AND/OR/NOT node. 0 or -ENOMEM. */
int filter_add_kid(struct filter_node *n, struct filter_node *kid);
/* Appends a value (taking v->str). 0, -E2BIG over the value limit, or -ENOMEM. */
int filter_add_value(struct filter_budget *b, struct filter_node *n, struct filter_value *v);
/* Sets the field of a leaf from a property name. 0, -EINVAL (bad name) or -ENOMEM. */
int filter_set_field(struct filter_node *n, const char *name);
/* A GeoJSON Polygon of bbox b (minx, miny, maxx, maxy), or a MultiPolygon
 * of its two halves when minx > maxx (it crosses the antimeridian). NULL
 * when out of memory. */
cJSON *filter_bbox_geojson(const double b[4]);
/* Writes the message into err and returns -EINVAL: the refusal of the
 * parameter parsers (query, sortby, fields). */
__attribute__((format(printf, 3, 4))) int filter_fail(char *err, size_t errlen, const char *fmt,
                                                      ...);
/* Writes s into out for an error message: at most max bytes, control and
 * non-ASCII bytes as '?', "..." when cut. */
void filter_quote(const char *s, size_t len, char *out, size_t outlen, size_t max);

/* --- Sort orders (sortby.c). --- */

struct catalog_sort_key {
    enum filter_field field;
    char *prop; /* FILTER_FIELD_PROPERTY */
    bool desc;
};

struct catalog_sort {
    struct catalog_sort_key keys[SORT_MAX_KEYS];
    size_t n;
};

/* GET form: "+a,-b,c" (a leading space counts as '+', since '+' in a query
 * string often arrives decoded as a space). */
int catalog_sort_parse_text(const char *text, struct catalog_sort *out, char *err, size_t errlen);
/* POST form: [{"field": "a", "direction": "asc"|"desc"}, ...]. */
int catalog_sort_parse_json(const cJSON *arr, struct catalog_sort *out, char *err, size_t errlen);
void catalog_sort_free(struct catalog_sort *s);

#endif
