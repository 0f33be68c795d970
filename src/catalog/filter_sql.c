/* Filters and sort keys to SQL for both catalog drivers (filter_sql.h).
 *
 * Property values live in a table of (item, key, kind, num, txt) rows, one
 * per non-null property (catalog_driver.h). A leaf of the normalized filter
 * becomes "the item has a row for the key whose value satisfies C" or, when
 * negated, "... whose value does not satisfy C": an item without the
 * property matches neither, which is the three-valued logic of filter.h.
 * Every C is written so that it is true or false (never NULL) on every row,
 * so that NOT C is its exact complement. Pure; single-threaded per buffer. */
#include "catalog/filter_sql.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "util/array.h"
#include "util/timeutil.h"

/* ---- the buffer ----------------------------------------------------------- */

void sqlb_init(struct sqlb *b, bool pg)
{
    memset(b, 0, sizeof(*b));
    b->pg = pg;
}

void sqlb_free(struct sqlb *b)
{
    for (size_t i = 0; i < b->np; i++)
        free(b->params[i].owned);
    free(b->params);
    free(b->text.s);
    free(b->pgtext);
    free(b->pgvalues);
    memset(b, 0, sizeof(*b));
}

void sqlb_add(struct sqlb *b, const char *fmt, ...)
{
    /* Most pieces are plain SQL text: copied, not formatted (a search
     * builds its statements from dozens of them). */
    if (!strchr(fmt, '%')) {
        buf_append(&b->text, fmt, strlen(fmt));
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b->text, fmt, ap);
    va_end(ap);
}

static void placeholder(struct sqlb *b, int n)
{
    static const char *const casts[] = {[SQLB_TEXT] = "::text",
                                        [SQLB_DOUBLE] = "::float8",
                                        [SQLB_INT] = "::bigint",
                                        [SQLB_POINTER] = ""};
    const struct sqlb_param *p = &b->params[n - 1];
    if (b->pg) {
        sqlb_add(b, "$%d%s", n, p->cast ? p->cast : casts[p->type]);
        return;
    }
    char text[16]; /* "?n", written by hand: every parameter has one */
    size_t at = sizeof(text);
    do
        text[--at] = (char)('0' + n % 10);
    while (n /= 10);
    text[--at] = '?';
    buf_append(&b->text, text + at, sizeof(text) - at);
}

static int new_param(struct sqlb *b, struct sqlb_param *p)
{
    if (b->text.oom) {
        free(p->owned);
        return 1;
    }
    if (ARRAY_RESERVE(b->params, b->capp, b->np + 1, 16) < 0) {
        free(p->owned);
        b->text.oom = true;
        return 1;
    }
    b->params[b->np++] = *p;
    int n = (int)b->np;
    placeholder(b, n);
    return n;
}

int sqlb_text(struct sqlb *b, const char *text)
{
    struct sqlb_param p = {.type = SQLB_TEXT, .text = text};
    return new_param(b, &p);
}

int sqlb_text_copy(struct sqlb *b, const char *text)
{
    struct sqlb_param p = {.type = SQLB_TEXT, .owned = strdup(text)};
    if (!p.owned)
        b->text.oom = true;
    p.text = p.owned;
    return new_param(b, &p);
}

int sqlb_double(struct sqlb *b, double d)
{
    struct sqlb_param p = {.type = SQLB_DOUBLE, .d = d};
    return new_param(b, &p);
}

int sqlb_int(struct sqlb *b, int64_t i)
{
    struct sqlb_param p = {.type = SQLB_INT, .i = i};
    return new_param(b, &p);
}

int sqlb_pointer(struct sqlb *b, const void *ptr)
{
    struct sqlb_param p = {.type = SQLB_POINTER, .ptr = ptr};
    return new_param(b, &p);
}

int sqlb_text_as(struct sqlb *b, const char *text, const char *cast)
{
    struct sqlb_param p = {.type = SQLB_TEXT, .text = text, .cast = cast};
    return new_param(b, &p);
}

void sqlb_ref(struct sqlb *b, int n)
{
    if (n >= 1 && (size_t)n <= b->np)
        placeholder(b, n);
}

const char *const *sqlb_pg_values(struct sqlb *b)
{
    free(b->pgtext);
    free(b->pgvalues);
    b->pgtext = calloc(b->np ? b->np : 1, sizeof(*b->pgtext));
    b->pgvalues = calloc(b->np ? b->np : 1, sizeof(*b->pgvalues));
    if (!b->pgtext || !b->pgvalues)
        return NULL;
    for (size_t i = 0; i < b->np; i++) {
        const struct sqlb_param *p = &b->params[i];
        if (p->type == SQLB_TEXT) {
            b->pgvalues[i] = p->text;
            continue;
        }
        /* %.17g round-trips every double exactly. */
        if (p->type == SQLB_DOUBLE)
            snprintf(b->pgtext[i], sizeof(b->pgtext[i]), "%.17g", p->d);
        else
            snprintf(b->pgtext[i], sizeof(b->pgtext[i]), "%lld", (long long)p->i);
        b->pgvalues[i] = b->pgtext[i];
    }
    return b->pgvalues;
}

/* ---- filters ---------------------------------------------------------------- */

static const char *const cmp_sql[] = {[FILTER_EQ] = "=",  [FILTER_NE] = "<>", [FILTER_LT] = "<",
                                      [FILTER_LE] = "<=", [FILTER_GT] = ">",  [FILTER_GE] = ">="};

static const char *truth(const struct filter_sql *d, bool v)
{
    (void)d;
    return v ? "(1 = 1)" : "(1 = 0)";
}

/* The text column with the byte-wise collation (PostgreSQL's database
 * collation may be anything; SQLite's BINARY already is byte-wise). */
static void text_col(const struct filter_sql *d, struct sqlb *b, const char *col)
{
    sqlb_add(b, d->pg ? "%s COLLATE \"C\"" : "%s", col);
}

/* A LIKE pattern of CQL2 (% and _ wildcards, backslash escapes) in the
 * dialect's own form: PostgreSQL's LIKE has the same syntax (a trailing lone
 * backslash is made a literal one); SQLite's LIKE ignores case, so the
 * pattern becomes a GLOB, whose * ? [ are escaped by brackets. malloc'd. */
static char *like_pattern(const char *pat, bool pg)
{
    char *out = malloc(3 * strlen(pat) + 3), *o = out;
    if (!out)
        return NULL;
    for (const char *p = pat; *p; p++) {
        char c = *p;
        bool literal = false;
        if (c == '\\') {
            literal = true;
            if (p[1])
                c = *++p;
        }
        if (pg) {
            if (literal || c == '\\')
                *o++ = '\\';
            *o++ = c;
        } else if (!literal && c == '%') {
            *o++ = '*';
        } else if (!literal && c == '_') {
            *o++ = '?';
        } else if (c == '*' || c == '?' || c == '[') {
            *o++ = '[';
            *o++ = c;
            *o++ = ']';
        } else {
            *o++ = c;
        }
    }
    *o = 0;
    return out;
}

static void like_op(const struct filter_sql *d, struct sqlb *b, const char *col, const char *pat)
{
    char *p = like_pattern(pat, d->pg);
    if (!p) {
        b->text.oom = true;
        return;
    }
    text_col(d, b, col);
    sqlb_add(b, d->pg ? " LIKE " : " GLOB ");
    sqlb_text_copy(b, p);
    free(p);
}

/* What a property value condition reads: the columns of a property row, or
 * the tessera_pk/pn/pt functions of a packed record. */
struct cols {
    char kind[80], num[80], txt[80];
};

static void row_cols(struct cols *c, const char *a)
{
    const char *dot = *a ? "." : "";
    snprintf(c->kind, sizeof(c->kind), "%s%skind", a, dot);
    snprintf(c->num, sizeof(c->num), "%s%snum", a, dot);
    snprintf(c->txt, sizeof(c->txt), "%s%stxt", a, dot);
}

/* key is the parameter number of the property name. */
static void packed_cols(struct cols *c, const char *packed, int key)
{
    snprintf(c->kind, sizeof(c->kind), "tessera_pk(%s, ?%d)", packed, key);
    snprintf(c->num, sizeof(c->num), "tessera_pn(%s, ?%d)", packed, key);
    snprintf(c->txt, sizeof(c->txt), "tessera_pt(%s, ?%d)", packed, key);
}

/* The date-time strings among the string values of an IN list: a
 * date-time property equals one when their instants and texts agree. */
static void in_timestamps(const struct filter_sql *d, struct sqlb *b, const struct filter_node *n,
                          const struct cols *c)
{
    bool any = false;
    for (size_t i = 0; i < n->nvalues; i++) {
        int64_t ms;
        if (n->values[i].type != FILTER_STRING ||
            time_parse_rfc3339_wide(n->values[i].str, &ms) < 0)
            continue;
        sqlb_add(b, " OR (%s = %d AND %s = ", c->kind, CATALOG_PROP_TIMESTAMP, c->num);
        sqlb_double(b, (double)ms);
        sqlb_add(b, " AND ");
        text_col(d, b, c->txt);
        sqlb_add(b, " = ");
        sqlb_text(b, n->values[i].str);
        sqlb_add(b, ")");
        any = true;
    }
    (void)any;
}

/* The value condition C of a property leaf, over the kind, num and txt of
 * one property value. */
static void value_cond(const struct filter_sql *d, struct sqlb *b, const struct filter_node *n,
                       const struct cols *c)
{
    const struct filter_value *v = n->values;
    const char *kind = c->kind, *num = c->num, *txt = c->txt;
    switch (n->op) {
    case FILTER_CMP:
        switch (v->type) {
        case FILTER_NUMBER:
        case FILTER_BOOL:
            sqlb_add(b, "%s = %d AND %s %s ", kind,
                     v->type == FILTER_BOOL ? CATALOG_PROP_BOOL : CATALOG_PROP_NUMBER, num,
                     cmp_sql[n->cmp]);
            sqlb_double(b, v->num);
            return;
        case FILTER_TIME:
            sqlb_add(b, "%s = %d AND %s %s ", kind, CATALOG_PROP_TIMESTAMP, num, cmp_sql[n->cmp]);
            sqlb_double(b, (double)v->ms);
            return;
        case FILTER_STRING:
            if (n->cmp == FILTER_EQ) {
                /* Spelled out per kind so that an index on (key, kind, num,
                 * txt) finds the rows: a plain string has no num, and a
                 * date-time string equals v only if their instants agree. */
                int64_t ms;
                sqlb_add(b, "(%s = %d AND %s IS NULL AND ", kind, CATALOG_PROP_STRING, num);
                text_col(d, b, txt);
                sqlb_add(b, " = ");
                int pt = sqlb_text(b, v->str);
                if (d->pg) {
                    /* PostgreSQL indexes a prefix of the text (a B-tree
                     * entry has a size limit): say it for the index. */
                    sqlb_add(b, " AND left(%s, 200) COLLATE \"C\" = left(", txt);
                    sqlb_ref(b, pt);
                    sqlb_add(b, ", 200)");
                }
                sqlb_add(b, ")");
                if (time_parse_rfc3339_wide(v->str, &ms) == 0) {
                    sqlb_add(b, " OR (%s = %d AND %s = ", kind, CATALOG_PROP_TIMESTAMP, num);
                    sqlb_double(b, (double)ms);
                    sqlb_add(b, " AND ");
                    text_col(d, b, txt);
                    sqlb_add(b, " = ");
                    sqlb_ref(b, pt);
                    sqlb_add(b, ")");
                }
                return;
            }
            sqlb_add(b, "%s IN (%d, %d) AND ", kind, CATALOG_PROP_STRING, CATALOG_PROP_TIMESTAMP);
            text_col(d, b, txt);
            sqlb_add(b, " %s ", cmp_sql[n->cmp]);
            sqlb_text(b, v->str);
            return;
        }
        return;
    case FILTER_LIKE:
        sqlb_add(b, "%s IN (%d, %d) AND ", kind, CATALOG_PROP_STRING, CATALOG_PROP_TIMESTAMP);
        like_op(d, b, txt, v->str);
        return;
    case FILTER_BETWEEN:
        if (v->type == FILTER_STRING) {
            sqlb_add(b, "%s IN (%d, %d) AND ", kind, CATALOG_PROP_STRING, CATALOG_PROP_TIMESTAMP);
            text_col(d, b, txt);
            sqlb_add(b, " BETWEEN ");
            sqlb_text(b, v[0].str);
            sqlb_add(b, " AND ");
            sqlb_text(b, v[1].str);
            return;
        }
        sqlb_add(b, "%s = %d AND %s BETWEEN ", kind,
                 v->type == FILTER_TIME ? CATALOG_PROP_TIMESTAMP : CATALOG_PROP_NUMBER, num);
        sqlb_double(b, v->type == FILTER_TIME ? (double)v[0].ms : v[0].num);
        sqlb_add(b, " AND ");
        sqlb_double(b, v->type == FILTER_TIME ? (double)v[1].ms : v[1].num);
        return;
    case FILTER_IN: {
        /* One group per type of value in the list. */
        static const enum filter_vtype order[] = {FILTER_NUMBER, FILTER_BOOL, FILTER_TIME,
                                                  FILTER_STRING};
        bool any = false;
        sqlb_add(b, "(");
        for (size_t t = 0; t < 4; t++) {
            bool first = true;
            for (size_t i = 0; i < n->nvalues; i++) {
                if (v[i].type != order[t])
                    continue;
                if (first) {
                    if (any)
                        sqlb_add(b, " OR ");
                    if (order[t] == FILTER_STRING) {
                        /* Plain strings (no num, as in the index), then
                         * below the date-time ones by their instants. */
                        sqlb_add(b, "(%s = %d AND %s IS NULL AND ", kind, CATALOG_PROP_STRING, num);
                        text_col(d, b, txt);
                        sqlb_add(b, " IN (");
                    } else {
                        sqlb_add(b, "(%s = %d AND %s IN (", kind,
                                 order[t] == FILTER_BOOL   ? CATALOG_PROP_BOOL
                                 : order[t] == FILTER_TIME ? CATALOG_PROP_TIMESTAMP
                                                           : CATALOG_PROP_NUMBER,
                                 num);
                    }
                } else {
                    sqlb_add(b, ", ");
                }
                first = false;
                any = true;
                if (order[t] == FILTER_STRING)
                    sqlb_text(b, v[i].str);
                else
                    sqlb_double(b, order[t] == FILTER_TIME ? (double)v[i].ms : v[i].num);
            }
            if (!first)
                sqlb_add(b, "))");
            if (!first && order[t] == FILTER_STRING)
                in_timestamps(d, b, n, c);
        }
        sqlb_add(b, any ? ")" : "1 = 0)");
        return;
    }
    default:
        sqlb_add(b, "1 = 0");
        return;
    }
}

void filter_sql_value_cond(const struct filter_sql *d, struct sqlb *b, const struct filter_node *n,
                           const char *alias)
{
    struct cols c;
    row_cols(&c, alias);
    value_cond(d, b, n, &c);
}

bool filter_sql_indexable(const struct filter_node *n)
{
    if (n->field != FILTER_FIELD_PROPERTY || n->negated)
        return false;
    switch (n->op) {
    case FILTER_CMP:
        /* Strings other than = compare across two kinds: no single range. */
        return n->values[0].type != FILTER_STRING || n->cmp == FILTER_EQ;
    case FILTER_BETWEEN:
        return n->values[0].type != FILTER_STRING;
    case FILTER_IN:
        return true;
    default:
        return false;
    }
}

/* A leaf on the item's id or collection: always present strings, so the
 * predicate is never unknown and its negation is NOT. */
static void column_leaf(const struct filter_sql *d, struct sqlb *b, const struct filter_node *n)
{
    const char *col = n->field == FILTER_FIELD_ID ? d->id : d->coll;
    const struct filter_value *v = n->values;
    sqlb_add(b, n->negated ? "(NOT (" : "((");
    switch (n->op) {
    case FILTER_CMP:
    case FILTER_BETWEEN:
        if (v->type != FILTER_STRING) {
            sqlb_add(b, "1 = 0"); /* a string is never equal to or ordered with another type */
            break;
        }
        text_col(d, b, col);
        if (n->op == FILTER_CMP) {
            sqlb_add(b, " %s ", cmp_sql[n->cmp]);
            sqlb_text(b, v->str);
        } else {
            sqlb_add(b, " BETWEEN ");
            sqlb_text(b, v[0].str);
            sqlb_add(b, " AND ");
            sqlb_text(b, v[1].str);
        }
        break;
    case FILTER_LIKE:
        like_op(d, b, col, v->str);
        break;
    case FILTER_IN: {
        bool any = false;
        for (size_t i = 0; i < n->nvalues; i++) {
            if (v[i].type != FILTER_STRING)
                continue;
            if (!any) {
                text_col(d, b, col);
                sqlb_add(b, " IN (");
            } else {
                sqlb_add(b, ", ");
            }
            any = true;
            sqlb_text(b, v[i].str);
        }
        sqlb_add(b, any ? ")" : "1 = 0");
        break;
    }
    default: /* IS NULL: never */
        sqlb_add(b, "1 = 0");
        break;
    }
    sqlb_add(b, "))");
}

/* The item has an asset under a key prefix: a range of the asset table's
 * (key, item) primary key on SQLite, whose text compares byte-wise (the
 * prefix with its last byte raised bounds it: UTF-8 never holds 0xFF);
 * PostgreSQL's collations do not compare byte-wise, so starts_with there,
 * on the item's own few asset rows. */
static void asset_prefix_leaf(const struct filter_sql *d, struct sqlb *b,
                              const struct filter_node *n)
{
    const char *prefix = n->values[0].str;
    sqlb_add(b, "(%sEXISTS (SELECT 1 FROM %s WHERE item = %s AND ", n->negated ? "NOT " : "",
             d->assets, d->item);
    if (d->pg) {
        sqlb_add(b, "starts_with(key, ");
        sqlb_text(b, prefix);
        sqlb_add(b, ")))");
        return;
    }
    size_t len = strlen(prefix);
    char *upper = len ? strdup(prefix) : NULL;
    if (!upper) {
        b->text.oom = true;
        return;
    }
    upper[len - 1] = (char)((unsigned char)upper[len - 1] + 1);
    sqlb_add(b, "key >= ");
    sqlb_text(b, prefix);
    sqlb_add(b, " AND key < ");
    sqlb_text_copy(b, upper);
    sqlb_add(b, "))");
    free(upper);
}

static void leaf(const struct filter_sql *d, struct sqlb *b, const struct filter_node *n)
{
    if (n == d->skip) {
        sqlb_add(b, "(1 = 1)");
        return;
    }
    switch (n->op) {
    case FILTER_CONST:
        sqlb_add(b, "%s", truth(d, !n->negated));
        return;
    case FILTER_S_INTERSECTS:
        d->spatial(d->ctx, b, n);
        return;
    case FILTER_ASSET_PREFIX:
        asset_prefix_leaf(d, b, n);
        return;
    case FILTER_ASSET_KEY:
        sqlb_add(b, "(%sEXISTS (SELECT 1 FROM %s WHERE item = %s AND key = ",
                 n->negated ? "NOT " : "", d->assets, d->item);
        sqlb_text(b, n->values[0].str);
        sqlb_add(b, "))");
        return;
    case FILTER_T_INTERSECTS:
        sqlb_add(b, n->negated ? "(NOT (" : "((");
        if (n->has_start) {
            sqlb_add(b, "%s >= ", d->end);
            sqlb_int(b, n->start);
        }
        if (n->has_start && n->has_end)
            sqlb_add(b, " AND ");
        if (n->has_end) {
            sqlb_add(b, "%s <= ", d->start);
            sqlb_int(b, n->end);
        }
        if (!n->has_start && !n->has_end)
            sqlb_add(b, "1 = 1");
        sqlb_add(b, "))");
        return;
    default:
        break;
    }
    if (n->field != FILTER_FIELD_PROPERTY) {
        column_leaf(d, b, n);
        return;
    }
    if (d->packed) {
        /* The record holds a value for the key, and it satisfies C (or,
         * negated, does not). */
        struct cols c;
        sqlb_add(b, "(tessera_pk(%s, ", d->packed);
        int key = sqlb_text(b, n->prop);
        if (n->op == FILTER_ISNULL) {
            sqlb_add(b, ") IS %sNULL)", n->negated ? "NOT " : "");
            return;
        }
        sqlb_add(b, ") IS NOT NULL AND %s(", n->negated ? "NOT " : "");
        packed_cols(&c, d->packed, key);
        value_cond(d, b, n, &c);
        sqlb_add(b, "))");
        return;
    }
    if (n->op == FILTER_ISNULL) {
        sqlb_add(b,
                 "%sEXISTS (SELECT 1 FROM %s WHERE item = %s AND key = ", n->negated ? "" : "NOT ",
                 d->props, d->item);
        sqlb_text(b, n->prop);
        sqlb_add(b, ")");
        return;
    }
    /* IN (subquery) lets the planner either start from the property index
     * (a selective predicate) or test each candidate against it. */
    sqlb_add(b, "%s IN (SELECT item FROM %s WHERE key = ", d->item, d->props);
    sqlb_text(b, n->prop);
    sqlb_add(b, n->negated ? " AND NOT (" : " AND (");
    struct cols c;
    row_cols(&c, "");
    value_cond(d, b, n, &c);
    sqlb_add(b, "))");
}

void filter_sql_where(const struct filter_sql *d, struct sqlb *b, const struct filter_node *n)
{
    if (n->op != FILTER_AND && n->op != FILTER_OR) {
        leaf(d, b, n);
        return;
    }
    /* Spatial tests last: they parse the item's geometry, and AND and OR
     * stop at the first term that decides. */
    sqlb_add(b, "(");
    size_t written = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n->nkids; i++) {
            if ((n->kids[i]->op == FILTER_S_INTERSECTS) != (pass == 1))
                continue;
            if (written++)
                sqlb_add(b, n->op == FILTER_AND ? " AND " : " OR ");
            filter_sql_where(d, b, n->kids[i]);
        }
    }
    sqlb_add(b, ")");
}

/* ---- sort keys ---------------------------------------------------------------- */

void filter_sql_order_key(const struct filter_sql *d, struct sqlb *b,
                          const struct catalog_sort_key *k, const char *alias, bool present)
{
    const char *dir = k->desc ? " DESC" : "";
    switch (k->field) {
    case FILTER_FIELD_ID:
        text_col(d, b, d->id);
        sqlb_add(b, "%s, ", dir);
        return;
    case FILTER_FIELD_COLLECTION:
        text_col(d, b, d->coll);
        sqlb_add(b, "%s, ", dir);
        return;
    case FILTER_FIELD_DATETIME:
        sqlb_add(b, "%s%s, ", d->start, dir);
        return;
    case FILTER_FIELD_ASSET: /* filters only: sortby.c never makes one */
        return;
    case FILTER_FIELD_PROPERTY:
        break;
    }
    /* Kinds first (booleans, numbers, strings, date-time strings, arrays,
     * objects), then the value; within one kind num and txt are either
     * always set or always NULL, so NULL ordering never decides. */
    if (d->packed && !present) {
        struct cols c;
        sqlb_add(b, "(tessera_pk(%s, ", d->packed);
        int key = sqlb_text(b, k->prop);
        packed_cols(&c, d->packed, key);
        sqlb_add(b, ") IS NULL), %s%s, %s%s, %s%s, ", c.kind, dir, c.num, dir, c.txt, dir);
        return;
    }
    if (!present)
        sqlb_add(b, "(%s.kind IS NULL), ", alias);
    sqlb_add(b, "%s.kind%s, %s.num%s, ", alias, dir, alias, dir);
    if (d->pg && present)
        sqlb_add(b, "left(%s.txt, 200) COLLATE \"C\"%s, ", alias, dir);
    sqlb_add(b, d->pg ? "%s.txt COLLATE \"C\"%s, " : "%s.txt%s, ", alias, dir);
}
