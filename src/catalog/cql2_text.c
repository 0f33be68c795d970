/* CQL2 text (OGC 21-065, the cql2-text encoding) to the filter tree of
 * filter.h: a tokenizer and a recursive-descent parser for Basic CQL2 (AND,
 * OR, NOT, comparisons, IS NULL), the advanced comparison operators (LIKE,
 * BETWEEN, IN), S_INTERSECTS with WKT and BBOX literals, and T_INTERSECTS
 * with TIMESTAMP, DATE and INTERVAL literals. Everything else (other
 * functions, arithmetic, property-property comparisons) is an error naming
 * it. Depth, nodes, values and sizes are bounded (filter.h). Pure; any
 * thread. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog/catalog.h"
#include "catalog/filter.h"
#include "util/timeutil.h"

#define DAY_MS 86400000LL
#define MAX_GEOM_NESTING 4

enum tok {
    T_EOF,
    T_IDENT,  /* a bare identifier or keyword */
    T_QIDENT, /* a "double-quoted" identifier */
    T_STRING,
    T_NUMBER,
    T_LPAREN,
    T_RPAREN,
    T_COMMA,
    T_EQ,
    T_NE,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_PLUS,
    T_MINUS,
    T_OTHER, /* anything else: an error where it is met */
};

struct token {
    enum tok t;
    const char *start; /* in the text */
    size_t len;
    char *text; /* decoded T_STRING / T_QIDENT (malloc'd) */
    double num;
};

struct parser {
    const char *src, *p;
    struct token tok;
    struct filter_budget budget;
    int rc; /* first error: -EINVAL (message in err) or -ENOMEM */
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 2, 3))) static void fail(struct parser *ps, const char *fmt, ...)
{
    if (ps->rc)
        return;
    char msg[256], near[48];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t pos = (size_t)(ps->tok.start - ps->src);
    if (ps->tok.t == T_EOF) {
        snprintf(ps->err, ps->errlen, "filter: %s at the end of the text", msg);
    } else {
        filter_quote(ps->tok.start, strlen(ps->tok.start), near, sizeof(near), 24);
        snprintf(ps->err, ps->errlen, "filter: %s at position %zu, near \"%s\"", msg, pos + 1,
                 near);
    }
    ps->rc = -EINVAL;
}

static void oom(struct parser *ps)
{
    if (!ps->rc)
        ps->rc = -ENOMEM;
}

static bool ident_start(unsigned char c)
{
    return isalpha(c) || c == '_' || c == ':' || c >= 0x80;
}

static bool ident_part(unsigned char c)
{
    return ident_start(c) || isdigit(c) || c == '.';
}

/* Decodes a quoted token (quote doubled inside) starting at p; returns the
 * end, or NULL when unterminated or too long. */
static const char *lex_quoted(struct parser *ps, const char *p, char quote)
{
    size_t cap = 64, n = 0;
    char *out = malloc(cap);
    if (!out) {
        oom(ps);
        return NULL;
    }
    for (p++;; p++) {
        if (!*p) {
            free(out);
            return NULL;
        }
        if (*p == quote) {
            if (p[1] != quote)
                break;
            p++;
        }
        if (n + 2 > cap) {
            if (cap > FILTER_MAX_STRING) {
                free(out);
                return NULL;
            }
            char *v = realloc(out, cap * 2);
            if (!v) {
                free(out);
                oom(ps);
                return NULL;
            }
            out = v;
            cap *= 2;
        }
        out[n++] = *p;
    }
    if (n > FILTER_MAX_STRING) {
        free(out);
        return NULL;
    }
    out[n] = 0;
    ps->tok.text = out;
    return p + 1;
}

static void next(struct parser *ps)
{
    free(ps->tok.text);
    ps->tok.text = NULL;
    const char *p = ps->p;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    ps->tok.start = p;
    const char *end = p + 1;
    enum tok t = T_OTHER;
    switch (*p) {
    case 0:
        t = T_EOF;
        end = p;
        break;
    case '(':
        t = T_LPAREN;
        break;
    case ')':
        t = T_RPAREN;
        break;
    case ',':
        t = T_COMMA;
        break;
    case '=':
        t = T_EQ;
        break;
    case '+':
        t = T_PLUS;
        break;
    case '-':
        t = T_MINUS;
        break;
    case '<':
        t = p[1] == '>' ? T_NE : p[1] == '=' ? T_LE : T_LT;
        end = p + (t == T_LT ? 1 : 2);
        break;
    case '>':
        t = p[1] == '=' ? T_GE : T_GT;
        end = p + (t == T_GT ? 1 : 2);
        break;
    case '\'':
    case '"': {
        const char *e = lex_quoted(ps, p, *p);
        if (!e) {
            ps->tok.t = T_OTHER;
            ps->tok.len = 1;
            ps->p = p + strlen(p);
            if (!ps->rc)
                fail(ps, "unterminated or too long (over %d bytes) %s", FILTER_MAX_STRING,
                     *p == '"' ? "quoted identifier" : "string");
            return;
        }
        t = *p == '"' ? T_QIDENT : T_STRING;
        end = e;
        break;
    }
    default:
        if (isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) {
            const char *q = p;
            while (isdigit((unsigned char)*q))
                q++;
            if (*q == '.') {
                q++;
                while (isdigit((unsigned char)*q))
                    q++;
            }
            if ((*q == 'e' || *q == 'E') &&
                (isdigit((unsigned char)q[1]) ||
                 ((q[1] == '+' || q[1] == '-') && isdigit((unsigned char)q[2])))) {
                q += 2;
                while (isdigit((unsigned char)*q))
                    q++;
            }
            char buf[64];
            size_t n = (size_t)(q - p);
            if (n < sizeof(buf)) {
                memcpy(buf, p, n);
                buf[n] = 0;
                ps->tok.num = strtod(buf, NULL);
            }
            t = n < sizeof(buf) && isfinite(ps->tok.num) ? T_NUMBER : T_OTHER;
            end = q;
        } else if (ident_start((unsigned char)*p)) {
            const char *q = p + 1;
            while (ident_part((unsigned char)*q))
                q++;
            t = T_IDENT;
            end = q;
        }
        break;
    }
    ps->tok.t = t;
    ps->tok.len = (size_t)(end - p);
    ps->p = end;
}

static bool is_kw(const struct token *tk, const char *kw)
{
    return tk->t == T_IDENT && tk->len == strlen(kw) && strncasecmp(tk->start, kw, tk->len) == 0;
}

static bool accept(struct parser *ps, enum tok t)
{
    if (ps->tok.t != t)
        return false;
    next(ps);
    return true;
}

static bool accept_kw(struct parser *ps, const char *kw)
{
    if (!is_kw(&ps->tok, kw))
        return false;
    next(ps);
    return true;
}

static bool expect(struct parser *ps, enum tok t, const char *what)
{
    if (accept(ps, t))
        return true;
    fail(ps, "expected %s", what);
    return false;
}

/* Words that end a property name: CQL2's reserved operators and literals. */
static bool reserved(const struct token *tk)
{
    static const char *const words[] = {"AND", "OR", "NOT",  "LIKE", "BETWEEN",
                                        "IN",  "IS", "NULL", "TRUE", "FALSE"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (is_kw(tk, words[i]))
            return true;
    return false;
}

/* The function names of CQL2 that this parser knows but does not implement:
 * asked for, they get a message that says so, not a syntax error. */
static bool known_function(const struct token *tk)
{
    static const char *const names[] = {
        "S_CONTAINS", "S_CROSSES",    "S_DISJOINT", "S_EQUALS",   "S_OVERLAPS", "S_TOUCHES",
        "S_WITHIN",   "T_AFTER",      "T_BEFORE",   "T_CONTAINS", "T_DISJOINT", "T_DURING",
        "T_EQUALS",   "T_FINISHEDBY", "T_FINISHES", "T_MEETS",    "T_METBY",    "T_OVERLAPPEDBY",
        "T_OVERLAPS", "T_STARTEDBY",  "T_STARTS",   "A_EQUALS",   "A_CONTAINS", "A_CONTAINEDBY",
        "A_OVERLAPS", "CASEI",        "ACCENTI",    "UPPER",      "LOWER"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (is_kw(tk, names[i]))
            return true;
    return false;
}

/* ---- scalars -------------------------------------------------------------- */

struct scalar {
    bool is_prop;
    char *name; /* property */
    struct filter_value v;
};

static void scalar_free(struct scalar *s)
{
    free(s->name);
    free(s->v.str);
    memset(s, 0, sizeof(*s));
}

static bool peek_lparen(const struct parser *ps)
{
    const char *p = ps->p;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    return *p == '(';
}

static void unsupported_function(struct parser *ps)
{
    char name[48];
    filter_quote(ps->tok.start, ps->tok.len, name, sizeof(name), 40);
    if (known_function(&ps->tok))
        fail(ps, "the CQL2 function %s is not supported (supported: S_INTERSECTS, T_INTERSECTS)",
             name);
    else
        fail(ps, "unknown function %s (supported: S_INTERSECTS, T_INTERSECTS)", name);
}

/* TIMESTAMP('...') or DATE('...') after its keyword: the instant, and for a
 * date the last millisecond of that day in *last. */
static bool parse_instant(struct parser *ps, bool date, int64_t *ms, int64_t *last)
{
    if (!expect(ps, T_LPAREN, "'('"))
        return false;
    if (ps->tok.t != T_STRING) {
        fail(ps, "expected a quoted %s", date ? "date" : "timestamp");
        return false;
    }
    int rc = date ? time_parse_date(ps->tok.text, ms) : time_parse_rfc3339(ps->tok.text, ms);
    if (rc < 0) {
        fail(ps, "invalid %s", date ? "DATE (YYYY-MM-DD)" : "TIMESTAMP (RFC 3339)");
        return false;
    }
    *last = date ? *ms + DAY_MS - 1 : *ms;
    next(ps);
    return expect(ps, T_RPAREN, "')'");
}

/* A property name or a literal (string, number, boolean, TIMESTAMP, DATE). */
static bool parse_scalar(struct parser *ps, struct scalar *out)
{
    memset(out, 0, sizeof(*out));
    struct token *tk = &ps->tok;
    if (tk->t == T_STRING) {
        out->v.type = FILTER_STRING;
        out->v.str = tk->text;
        tk->text = NULL;
        next(ps);
        return true;
    }
    if (tk->t == T_NUMBER || tk->t == T_MINUS || tk->t == T_PLUS) {
        double sign = tk->t == T_MINUS ? -1 : 1;
        if (tk->t != T_NUMBER)
            next(ps);
        if (tk->t != T_NUMBER) {
            fail(ps, "expected a number");
            return false;
        }
        out->v.type = FILTER_NUMBER;
        out->v.num = sign * tk->num;
        next(ps);
        return true;
    }
    if (is_kw(tk, "TRUE") || is_kw(tk, "FALSE")) {
        out->v.type = FILTER_BOOL;
        out->v.num = is_kw(tk, "TRUE");
        next(ps);
        return true;
    }
    if (tk->t == T_IDENT && (is_kw(tk, "TIMESTAMP") || is_kw(tk, "DATE")) && peek_lparen(ps)) {
        bool date = is_kw(tk, "DATE");
        int64_t last;
        next(ps);
        out->v.type = FILTER_TIME;
        return parse_instant(ps, date, &out->v.ms, &last);
    }
    if (tk->t == T_IDENT && peek_lparen(ps)) {
        unsupported_function(ps);
        return false;
    }
    if ((tk->t == T_IDENT && !reserved(tk)) || tk->t == T_QIDENT) {
        out->is_prop = true;
        out->name = tk->t == T_QIDENT ? tk->text : strndup(tk->start, tk->len);
        tk->text = NULL;
        if (!out->name) {
            oom(ps);
            return false;
        }
        next(ps);
        return true;
    }
    fail(ps, "expected a property name or a literal");
    return false;
}

/* A leaf on property s (taken). */
static struct filter_node *leaf(struct parser *ps, enum filter_op op, struct scalar *s)
{
    bool over = false;
    struct filter_node *n = filter_node_new(&ps->budget, op, &over);
    if (!n) {
        if (over)
            fail(ps, "more than %d predicates", FILTER_MAX_NODES);
        else
            oom(ps);
        return NULL;
    }
    int rc = filter_set_field(n, s->name);
    if (rc == 0 && n->field == FILTER_FIELD_PROPERTY && strcmp(n->prop, "geometry") == 0) {
        fail(ps, "geometry can only be used with S_INTERSECTS");
        rc = -EINVAL;
    } else if (rc == -EINVAL) {
        fail(ps, "invalid property name");
    } else if (rc < 0) {
        oom(ps);
    }
    if (rc < 0) {
        filter_free(n);
        return NULL;
    }
    return n;
}

static bool add_value(struct parser *ps, struct filter_node *n, struct scalar *s)
{
    int rc = filter_add_value(&ps->budget, n, &s->v);
    if (rc == -E2BIG)
        fail(ps, "more than %d literal values", FILTER_MAX_VALUES);
    else if (rc < 0)
        oom(ps);
    return rc == 0;
}

static struct filter_node *negate(struct parser *ps, struct filter_node *n)
{
    bool over = false;
    struct filter_node *not = filter_node_new(&ps->budget, FILTER_NOT, &over);
    if (!not || filter_add_kid(not, n) < 0) {
        if (over)
            fail(ps, "more than %d predicates", FILTER_MAX_NODES);
        else
            oom(ps);
        filter_free(n);
        free(not );
        return NULL;
    }
    return not ;
}

/* ---- geometry literals (WKT and BBOX) --------------------------------------- */

static cJSON *wkt_geometry(struct parser *ps, int depth);

/* One position: two to four numbers. */
static cJSON *wkt_position(struct parser *ps)
{
    double c[4];
    int n = 0;
    while (n < 4 && (ps->tok.t == T_NUMBER || ps->tok.t == T_MINUS || ps->tok.t == T_PLUS)) {
        double sign = ps->tok.t == T_MINUS ? -1 : 1;
        if (ps->tok.t != T_NUMBER)
            next(ps);
        if (ps->tok.t != T_NUMBER)
            break;
        c[n++] = sign * ps->tok.num;
        next(ps);
    }
    if (n < 2) {
        fail(ps, "expected a position (x y)");
        return NULL;
    }
    cJSON *pos = cJSON_CreateDoubleArray(c, n > 3 ? 3 : n);
    if (!pos)
        oom(ps);
    return pos;
}

/* "(" item {"," item} ")" where item is a position, or (nested > 0) the
 * same structure one level down. */
static cJSON *wkt_list(struct parser *ps, int nested)
{
    if (!expect(ps, T_LPAREN, "'('"))
        return NULL;
    cJSON *arr = cJSON_CreateArray();
    if (!arr) {
        oom(ps);
        return NULL;
    }
    do {
        cJSON *item;
        if (nested == 0) {
            /* MULTIPOINT allows each point in brackets as well. */
            bool bracket = accept(ps, T_LPAREN);
            item = wkt_position(ps);
            if (item && bracket && !expect(ps, T_RPAREN, "')'")) {
                cJSON_Delete(item);
                item = NULL;
            }
        } else {
            item = wkt_list(ps, nested - 1);
        }
        if (!item) {
            cJSON_Delete(arr);
            return NULL;
        }
        cJSON_AddItemToArray(arr, item);
    } while (accept(ps, T_COMMA));
    if (!expect(ps, T_RPAREN, "')' or ','")) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}

/* BBOX(minx, miny, maxx, maxy) or with six numbers, as a Polygon (two, as
 * a MultiPolygon, when it crosses the antimeridian). */
static cJSON *bbox_geometry(struct parser *ps)
{
    cJSON *nums = cJSON_CreateArray();
    if (!nums || !expect(ps, T_LPAREN, "'('")) {
        if (!nums)
            oom(ps);
        cJSON_Delete(nums);
        return NULL;
    }
    do {
        double sign = ps->tok.t == T_MINUS ? -1 : 1;
        if (ps->tok.t == T_MINUS || ps->tok.t == T_PLUS)
            next(ps);
        if (ps->tok.t != T_NUMBER) {
            fail(ps, "expected a number in BBOX");
            cJSON_Delete(nums);
            return NULL;
        }
        cJSON_AddItemToArray(nums, cJSON_CreateNumber(sign * ps->tok.num));
        next(ps);
    } while (cJSON_GetArraySize(nums) < 6 && accept(ps, T_COMMA));
    if (!expect(ps, T_RPAREN, "')'")) {
        cJSON_Delete(nums);
        return NULL;
    }
    double b[4];
    char err[160];
    if (catalog_parse_bbox_json(nums, b, err, sizeof(err)) < 0) {
        fail(ps, "BBOX: %s", err);
        cJSON_Delete(nums);
        return NULL;
    }
    cJSON_Delete(nums);
    return filter_bbox_geojson(b);
}

/* A WKT geometry (the current token is its type keyword) as GeoJSON. */
static cJSON *wkt_geometry(struct parser *ps, int depth)
{
    static const struct {
        const char *wkt, *geojson;
        int nested; /* list depth below the outer brackets */
    } types[] = {
        {"POINT", "Point", -1},
        {"LINESTRING", "LineString", 0},
        {"POLYGON", "Polygon", 1},
        {"MULTIPOINT", "MultiPoint", 0},
        {"MULTILINESTRING", "MultiLineString", 1},
        {"MULTIPOLYGON", "MultiPolygon", 2},
        {"GEOMETRYCOLLECTION", "GeometryCollection", -2},
    };
    if (is_kw(&ps->tok, "BBOX")) {
        next(ps);
        return bbox_geometry(ps);
    }
    size_t k;
    for (k = 0; k < sizeof(types) / sizeof(types[0]); k++)
        if (is_kw(&ps->tok, types[k].wkt))
            break;
    if (k == sizeof(types) / sizeof(types[0])) {
        fail(ps, "expected a geometry (POINT, LINESTRING, POLYGON, MULTIPOINT, MULTILINESTRING, "
                 "MULTIPOLYGON, GEOMETRYCOLLECTION or BBOX)");
        return NULL;
    }
    if (depth > MAX_GEOM_NESTING) {
        fail(ps, "geometry collections nested too deeply");
        return NULL;
    }
    next(ps);
    /* Optional dimension marker: Z (the third number is ignored). */
    if (accept_kw(ps, "Z")) {
    } else if (is_kw(&ps->tok, "M") || is_kw(&ps->tok, "ZM")) {
        fail(ps, "measured (M) coordinates are not supported");
        return NULL;
    }
    if (is_kw(&ps->tok, "EMPTY")) {
        fail(ps, "empty geometries are not supported");
        return NULL;
    }
    cJSON *g = cJSON_CreateObject(), *coords = NULL;
    if (!g) {
        oom(ps);
        return NULL;
    }
    cJSON_AddStringToObject(g, "type", types[k].geojson);
    if (types[k].nested == -2) {
        cJSON *geoms = cJSON_AddArrayToObject(g, "geometries");
        if (!geoms || !expect(ps, T_LPAREN, "'('"))
            goto fail;
        do {
            cJSON *sub = wkt_geometry(ps, depth + 1);
            if (!sub)
                goto fail;
            cJSON_AddItemToArray(geoms, sub);
        } while (accept(ps, T_COMMA));
        if (!expect(ps, T_RPAREN, "')' or ','"))
            goto fail;
        return g;
    }
    if (types[k].nested == -1) {
        if (!expect(ps, T_LPAREN, "'('") || !(coords = wkt_position(ps)) ||
            !expect(ps, T_RPAREN, "')'"))
            goto fail;
    } else if (!(coords = wkt_list(ps, types[k].nested))) {
        goto fail;
    }
    cJSON_AddItemToObject(g, "coordinates", coords);
    return g;
fail:
    cJSON_Delete(coords);
    cJSON_Delete(g);
    return NULL;
}

/* ---- spatial and temporal predicates ---------------------------------------- */

static bool geometry_keyword(const struct token *tk)
{
    static const char *const words[] = {
        "POINT",        "LINESTRING",         "POLYGON", "MULTIPOINT", "MULTILINESTRING",
        "MULTIPOLYGON", "GEOMETRYCOLLECTION", "BBOX"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (is_kw(tk, words[i]))
            return true;
    return false;
}

/* One argument of S_/T_INTERSECTS: a property name (returned malloc'd in
 * *name) or, when it is not one, nothing consumed. */
static bool function_property(struct parser *ps, char **name)
{
    *name = NULL;
    if (ps->tok.t == T_QIDENT || (ps->tok.t == T_IDENT && !peek_lparen(ps) && !reserved(&ps->tok) &&
                                  !geometry_keyword(&ps->tok))) {
        *name = ps->tok.t == T_QIDENT ? ps->tok.text : strndup(ps->tok.start, ps->tok.len);
        ps->tok.text = NULL;
        if (!*name) {
            oom(ps);
            return false;
        }
        next(ps);
    }
    return true;
}

static bool is_named(const char *name, const char *want)
{
    if (strncmp(name, "properties.", 11) == 0)
        name += 11;
    return strcmp(name, want) == 0;
}

static struct filter_node *s_intersects(struct parser *ps)
{
    char *name = NULL;
    cJSON *gj = NULL;
    struct filter_node *n = NULL;
    if (!expect(ps, T_LPAREN, "'('"))
        return NULL;
    for (int arg = 0; arg < 2; arg++) {
        char *p = NULL;
        if (!function_property(ps, &p))
            goto done;
        if (p && name) {
            free(p);
            fail(ps, "S_INTERSECTS needs one property and one geometry literal");
            goto done;
        }
        if (p) {
            name = p;
        } else if (gj) {
            fail(ps, "S_INTERSECTS needs one property and one geometry literal");
            goto done;
        } else if (!(gj = wkt_geometry(ps, 0))) {
            goto done;
        }
        if (arg == 0 && !expect(ps, T_COMMA, "','"))
            goto done;
    }
    if (!expect(ps, T_RPAREN, "')'"))
        goto done;
    if (!name || !is_named(name, "geometry")) {
        fail(ps, "S_INTERSECTS is supported on the property geometry only");
        goto done;
    }
    char gerr[200];
    struct catalog_geom *g = catalog_geom_parse(gj, gerr, sizeof(gerr));
    if (!g) {
        fail(ps, "S_INTERSECTS: invalid geometry: %s", gerr);
        goto done;
    }
    bool over = false;
    if (!(n = filter_node_new(&ps->budget, FILTER_S_INTERSECTS, &over))) {
        catalog_geom_free(g);
        if (over)
            fail(ps, "more than %d predicates", FILTER_MAX_NODES);
        else
            oom(ps);
        goto done;
    }
    n->geom = g;
done:
    free(name);
    cJSON_Delete(gj);
    return n;
}

/* One end of an INTERVAL: '..', a date or a timestamp. */
static bool interval_end(struct parser *ps, bool is_end, bool *has, int64_t *ms)
{
    if (ps->tok.t != T_STRING) {
        fail(ps, "INTERVAL takes quoted dates, timestamps or '..'");
        return false;
    }
    const char *s = ps->tok.text;
    *has = strcmp(s, "..") != 0;
    if (*has) {
        if (time_parse_date(s, ms) == 0) {
            if (is_end)
                *ms += DAY_MS - 1;
        } else if (time_parse_rfc3339(s, ms) < 0) {
            fail(ps, "INTERVAL: invalid date or timestamp");
            return false;
        }
    }
    next(ps);
    return true;
}

/* A temporal literal into n's bounds. */
static bool temporal_literal(struct parser *ps, struct filter_node *n)
{
    if ((is_kw(&ps->tok, "TIMESTAMP") || is_kw(&ps->tok, "DATE")) && peek_lparen(ps)) {
        bool date = is_kw(&ps->tok, "DATE");
        next(ps);
        n->has_start = n->has_end = true;
        return parse_instant(ps, date, &n->start, &n->end);
    }
    if (!(is_kw(&ps->tok, "INTERVAL") && peek_lparen(ps))) {
        fail(ps, "expected TIMESTAMP(...), DATE(...) or INTERVAL(...)");
        return false;
    }
    next(ps);
    if (!expect(ps, T_LPAREN, "'('") || !interval_end(ps, false, &n->has_start, &n->start) ||
        !expect(ps, T_COMMA, "','") || !interval_end(ps, true, &n->has_end, &n->end) ||
        !expect(ps, T_RPAREN, "')'"))
        return false;
    if (n->has_start && n->has_end && n->start > n->end) {
        fail(ps, "INTERVAL: the start is after the end");
        return false;
    }
    return true;
}

static struct filter_node *t_intersects(struct parser *ps)
{
    bool over = false;
    struct filter_node *n = filter_node_new(&ps->budget, FILTER_T_INTERSECTS, &over);
    char *name = NULL;
    bool have_literal = false;
    if (!n) {
        if (over)
            fail(ps, "more than %d predicates", FILTER_MAX_NODES);
        else
            oom(ps);
        return NULL;
    }
    if (!expect(ps, T_LPAREN, "'('"))
        goto fail;
    for (int arg = 0; arg < 2; arg++) {
        char *p = NULL;
        if ((is_kw(&ps->tok, "TIMESTAMP") || is_kw(&ps->tok, "DATE") ||
             is_kw(&ps->tok, "INTERVAL")) &&
            peek_lparen(ps)) {
            if (have_literal) {
                fail(ps, "T_INTERSECTS needs one property and one temporal literal");
                goto fail;
            }
            if (!temporal_literal(ps, n))
                goto fail;
            have_literal = true;
        } else {
            if (!function_property(ps, &p))
                goto fail;
            if (!p || name) {
                free(p);
                fail(ps, "T_INTERSECTS needs one property and one temporal literal");
                goto fail;
            }
            name = p;
        }
        if (arg == 0 && !expect(ps, T_COMMA, "','"))
            goto fail;
    }
    if (!expect(ps, T_RPAREN, "')'"))
        goto fail;
    if (!is_named(name, "datetime")) {
        fail(ps, "T_INTERSECTS is supported on the property datetime only");
        goto fail;
    }
    free(name);
    return n;
fail:
    free(name);
    filter_free(n);
    return NULL;
}

/* ---- boolean structure ------------------------------------------------------- */

static struct filter_node *parse_or(struct parser *ps, int depth);

static enum filter_cmp flip(enum filter_cmp c)
{
    switch (c) {
    case FILTER_LT:
        return FILTER_GT;
    case FILTER_LE:
        return FILTER_GE;
    case FILTER_GT:
        return FILTER_LT;
    case FILTER_GE:
        return FILTER_LE;
    default:
        return c;
    }
}

static bool cmp_token(enum tok t, enum filter_cmp *c)
{
    switch (t) {
    case T_EQ:
        *c = FILTER_EQ;
        return true;
    case T_NE:
        *c = FILTER_NE;
        return true;
    case T_LT:
        *c = FILTER_LT;
        return true;
    case T_LE:
        *c = FILTER_LE;
        return true;
    case T_GT:
        *c = FILTER_GT;
        return true;
    case T_GE:
        *c = FILTER_GE;
        return true;
    default:
        return false;
    }
}

/* The predicate that follows lhs (taken). */
static struct filter_node *predicate(struct parser *ps, struct scalar *lhs)
{
    struct filter_node *n = NULL;
    struct scalar rhs = {0}, hi = {0};
    enum filter_cmp c;
    if (cmp_token(ps->tok.t, &c)) {
        next(ps);
        if (!parse_scalar(ps, &rhs))
            goto done;
        if (lhs->is_prop == rhs.is_prop) {
            fail(ps, lhs->is_prop ? "comparing two properties is not supported"
                                  : "a comparison needs a property on one side");
            goto done;
        }
        struct scalar *prop = lhs->is_prop ? lhs : &rhs, *lit = lhs->is_prop ? &rhs : lhs;
        if (!(n = leaf(ps, FILTER_CMP, prop)))
            goto done;
        n->cmp = lhs->is_prop ? c : flip(c);
        if (!add_value(ps, n, lit)) {
            filter_free(n);
            n = NULL;
        }
        goto done;
    }
    if (is_kw(&ps->tok, "IS")) {
        next(ps);
        bool not = accept_kw(ps, "NOT");
        if (!accept_kw(ps, "NULL")) {
            fail(ps, "expected NULL");
            goto done;
        }
        if (!lhs->is_prop) {
            fail(ps, "IS NULL needs a property");
            goto done;
        }
        if ((n = leaf(ps, FILTER_ISNULL, lhs)) && not )
            n = negate(ps, n);
        goto done;
    }
    bool not = accept_kw(ps, "NOT");
    if (accept_kw(ps, "LIKE")) {
        if (!parse_scalar(ps, &rhs))
            goto done;
        if (!lhs->is_prop || rhs.is_prop || rhs.v.type != FILTER_STRING) {
            fail(ps, "LIKE needs a property and a quoted pattern");
            goto done;
        }
        if ((n = leaf(ps, FILTER_LIKE, lhs)) && !add_value(ps, n, &rhs)) {
            filter_free(n);
            n = NULL;
        }
    } else if (accept_kw(ps, "BETWEEN")) {
        if (!parse_scalar(ps, &rhs) || !(accept_kw(ps, "AND") || (fail(ps, "expected AND"), 0)) ||
            !parse_scalar(ps, &hi))
            goto done;
        if (!lhs->is_prop || rhs.is_prop || hi.is_prop || rhs.v.type != hi.v.type ||
            rhs.v.type == FILTER_BOOL) {
            fail(ps, "BETWEEN needs a property and two numbers, strings or timestamps of one "
                     "type");
            goto done;
        }
        if ((n = leaf(ps, FILTER_BETWEEN, lhs)) &&
            (!add_value(ps, n, &rhs) || !add_value(ps, n, &hi))) {
            filter_free(n);
            n = NULL;
        }
    } else if (accept_kw(ps, "IN")) {
        if (!lhs->is_prop) {
            fail(ps, "IN needs a property");
            goto done;
        }
        if (!expect(ps, T_LPAREN, "'('") || !(n = leaf(ps, FILTER_IN, lhs)))
            goto done;
        do {
            if (!parse_scalar(ps, &rhs))
                break;
            if (rhs.is_prop) {
                fail(ps, "IN lists hold literals only");
                break;
            }
            if (!add_value(ps, n, &rhs))
                break;
            scalar_free(&rhs);
        } while (accept(ps, T_COMMA));
        if (ps->rc || !expect(ps, T_RPAREN, "')' or ','")) {
            filter_free(n);
            n = NULL;
        }
    } else {
        if (!not &&!lhs->is_prop && lhs->v.type == FILTER_BOOL) {
            bool over = false;
            if ((n = filter_node_new(&ps->budget, FILTER_CONST, &over)))
                n->negated = lhs->v.num == 0;
            else if (over)
                fail(ps, "more than %d predicates", FILTER_MAX_NODES);
            else
                oom(ps);
            goto done;
        }
        fail(ps, "expected a comparison (=, <>, <, <=, >, >=, LIKE, BETWEEN, IN, IS NULL)");
        goto done;
    }
    if (n && not )
        n = negate(ps, n);
done:
    scalar_free(lhs);
    scalar_free(&rhs);
    scalar_free(&hi);
    return n;
}

static struct filter_node *parse_primary(struct parser *ps, int depth)
{
    if (accept(ps, T_LPAREN)) {
        struct filter_node *n = parse_or(ps, depth + 1);
        if (n && !expect(ps, T_RPAREN, "')'")) {
            filter_free(n);
            return NULL;
        }
        return n;
    }
    if (ps->tok.t == T_IDENT && peek_lparen(ps)) {
        if (accept_kw(ps, "S_INTERSECTS"))
            return s_intersects(ps);
        if (accept_kw(ps, "T_INTERSECTS"))
            return t_intersects(ps);
        if (!is_kw(&ps->tok, "TIMESTAMP") && !is_kw(&ps->tok, "DATE")) {
            unsupported_function(ps);
            return NULL;
        }
    }
    struct scalar lhs;
    if (!parse_scalar(ps, &lhs))
        return NULL;
    return predicate(ps, &lhs);
}

static struct filter_node *parse_not(struct parser *ps, int depth)
{
    if (depth > FILTER_MAX_DEPTH) {
        fail(ps, "nested more than %d levels deep", FILTER_MAX_DEPTH);
        return NULL;
    }
    if (accept_kw(ps, "NOT")) {
        struct filter_node *n = parse_not(ps, depth + 1);
        return n ? negate(ps, n) : NULL;
    }
    return parse_primary(ps, depth);
}

/* AND (kw "AND", parse_not) and OR (kw "OR", parse_and) share this shape. */
static struct filter_node *parse_junction(struct parser *ps, int depth, bool is_or)
{
    struct filter_node *n = is_or ? parse_junction(ps, depth, false) : parse_not(ps, depth);
    if (!n)
        return NULL;
    enum filter_op op = is_or ? FILTER_OR : FILTER_AND;
    struct filter_node *j = NULL;
    while (accept_kw(ps, is_or ? "OR" : "AND")) {
        struct filter_node *k = is_or ? parse_junction(ps, depth, false) : parse_not(ps, depth);
        if (!k)
            goto fail;
        if (!j) {
            bool over = false;
            if (!(j = filter_node_new(&ps->budget, op, &over)) || filter_add_kid(j, n) < 0) {
                if (over)
                    fail(ps, "more than %d predicates", FILTER_MAX_NODES);
                else
                    oom(ps);
                filter_free(k);
                goto fail;
            }
            n = NULL;
        }
        if (filter_add_kid(j, k) < 0) {
            oom(ps);
            filter_free(k);
            goto fail;
        }
    }
    return j ? j : n;
fail:
    filter_free(n);
    filter_free(j);
    return NULL;
}

static struct filter_node *parse_or(struct parser *ps, int depth)
{
    if (depth > FILTER_MAX_DEPTH) {
        fail(ps, "nested more than %d levels deep", FILTER_MAX_DEPTH);
        return NULL;
    }
    return parse_junction(ps, depth, true);
}

int filter_parse_cql2_text(const char *text, struct filter_node **out, char *err, size_t errlen)
{
    *out = NULL;
    if (strlen(text) > FILTER_MAX_TEXT) {
        snprintf(err, errlen, "filter: longer than %d bytes", FILTER_MAX_TEXT);
        return -EINVAL;
    }
    struct parser ps = {.src = text, .p = text, .err = err, .errlen = errlen};
    next(&ps);
    if (ps.tok.t == T_EOF) {
        snprintf(err, errlen, "filter is empty");
        return -EINVAL;
    }
    struct filter_node *n = ps.rc ? NULL : parse_or(&ps, 0);
    if (n && ps.tok.t != T_EOF)
        fail(&ps, "unexpected text after the filter");
    free(ps.tok.text);
    if (ps.rc || !n) {
        filter_free(n);
        if (!ps.rc)
            ps.rc = -ENOMEM;
        return ps.rc;
    }
    *out = n;
    return 0;
}
