/* CQL2 JSON (OGC 21-065, the cql2-json encoding) to the filter tree of
 * filter.h: {"op": ..., "args": [...]} for and, or, not, the comparisons,
 * like, between, in, isNull, s_intersects (GeoJSON or {"bbox": [...]}) and
 * t_intersects ({"timestamp"}, {"date"}, {"interval"}); properties are
 * {"property": name}, literals are JSON strings, numbers and booleans.
 * Anything else is an error that names it. Bounded like every parser of
 * filter.h (cJSON itself limits nesting to CJSON_NESTING_LIMIT). Pure; any
 * thread. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/filter.h"
#include "util/timeutil.h"

#define DAY_MS 86400000LL

struct jparser {
    struct filter_budget budget;
    int rc;
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 2, 3))) static void fail(struct jparser *ps, const char *fmt, ...)
{
    if (ps->rc)
        return;
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(ps->err, ps->errlen, "filter: %s", msg);
    ps->rc = -EINVAL;
}

static void oom(struct jparser *ps)
{
    if (!ps->rc)
        ps->rc = -ENOMEM;
}

static const cJSON *member(const cJSON *obj, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(obj, name);
}

/* True when obj has exactly the one member name. */
static bool only_member(const cJSON *obj, const char *name)
{
    return cJSON_IsObject(obj) && obj->child && !obj->child->next && obj->child->string &&
           strcmp(obj->child->string, name) == 0;
}

static struct filter_node *new_node(struct jparser *ps, enum filter_op op)
{
    bool over = false;
    struct filter_node *n = filter_node_new(&ps->budget, op, &over);
    if (!n) {
        if (over)
            fail(ps, "more than %d predicates", FILTER_MAX_NODES);
        else
            oom(ps);
    }
    return n;
}

/* {"property": "name"}: the name, or NULL when arg is not a property. */
static const char *property_of(const cJSON *arg)
{
    if (!only_member(arg, "property"))
        return NULL;
    const cJSON *p = member(arg, "property");
    return cJSON_IsString(p) ? p->valuestring : NULL;
}

/* A literal: string, number, boolean, {"timestamp": ...} or {"date": ...}.
 * false (with a message naming what) when arg is none of them. */
static bool literal(struct jparser *ps, const cJSON *arg, const char *op, struct filter_value *v)
{
    memset(v, 0, sizeof(*v));
    if (cJSON_IsString(arg)) {
        if (strlen(arg->valuestring) > FILTER_MAX_STRING) {
            fail(ps, "%s: string longer than %d bytes", op, FILTER_MAX_STRING);
            return false;
        }
        v->type = FILTER_STRING;
        if (!(v->str = strdup(arg->valuestring))) {
            oom(ps);
            return false;
        }
        return true;
    }
    if (cJSON_IsNumber(arg) && isfinite(arg->valuedouble)) {
        v->type = FILTER_NUMBER;
        v->num = arg->valuedouble;
        return true;
    }
    if (cJSON_IsBool(arg)) {
        v->type = FILTER_BOOL;
        v->num = cJSON_IsTrue(arg);
        return true;
    }
    bool date = only_member(arg, "date");
    if (date || only_member(arg, "timestamp")) {
        const cJSON *s = member(arg, date ? "date" : "timestamp");
        if (!cJSON_IsString(s) || (date ? time_parse_date_wide(s->valuestring, &v->ms)
                                        : time_parse_rfc3339_wide(s->valuestring, &v->ms)) < 0) {
            fail(ps, "%s: invalid %s", op, date ? "date (YYYY-MM-DD)" : "timestamp (RFC 3339)");
            return false;
        }
        v->type = FILTER_TIME;
        return true;
    }
    if (cJSON_IsObject(arg) && (member(arg, "op") || member(arg, "function"))) {
        fail(ps, "%s: functions and expressions are not supported as operands", op);
        return false;
    }
    fail(ps, "%s: expected a literal (string, number, boolean, timestamp or date)", op);
    return false;
}

/* A leaf of op on the property named by arg. */
static struct filter_node *leaf(struct jparser *ps, enum filter_op op, const cJSON *arg,
                                const char *opname)
{
    const char *name = property_of(arg);
    if (!name) {
        fail(ps, "%s: the first argument must be {\"property\": name}", opname);
        return NULL;
    }
    struct filter_node *n = new_node(ps, op);
    if (!n)
        return NULL;
    int rc = filter_set_field(n, name);
    if (rc == 0 && n->field == FILTER_FIELD_PROPERTY && strcmp(n->prop, "geometry") == 0) {
        fail(ps, "geometry can only be used with s_intersects");
        rc = -EINVAL;
    } else if (rc == -EINVAL) {
        char q[80];
        filter_quote(name, strlen(name), q, sizeof(q), 60);
        fail(ps, "%s: invalid property name \"%s\"", opname, q);
    } else if (rc < 0) {
        oom(ps);
    }
    if (rc < 0) {
        filter_free(n);
        return NULL;
    }
    return n;
}

static bool add_literal(struct jparser *ps, struct filter_node *n, const cJSON *arg, const char *op)
{
    struct filter_value v;
    if (!literal(ps, arg, op, &v))
        return false;
    int rc = filter_add_value(&ps->budget, n, &v);
    free(v.str);
    if (rc == -E2BIG)
        fail(ps, "more than %d literal values", FILTER_MAX_VALUES);
    else if (rc < 0)
        oom(ps);
    return rc == 0;
}

static struct filter_node *expr(struct jparser *ps, const cJSON *j, int depth);

static const struct {
    const char *name;
    enum filter_cmp cmp;
} cmps[] = {{"=", FILTER_EQ},  {"<>", FILTER_NE}, {"<", FILTER_LT},
            {"<=", FILTER_LE}, {">", FILTER_GT},  {">=", FILTER_GE}};

static enum filter_cmp flip(enum filter_cmp c)
{
    return c == FILTER_LT   ? FILTER_GT
           : c == FILTER_LE ? FILTER_GE
           : c == FILTER_GT ? FILTER_LT
           : c == FILTER_GE ? FILTER_LE
                            : c;
}

static struct filter_node *comparison(struct jparser *ps, enum filter_cmp c, const cJSON *args,
                                      const char *op)
{
    const cJSON *a = cJSON_GetArrayItem(args, 0), *b = cJSON_GetArrayItem(args, 1);
    bool pa = property_of(a) != NULL, pb = property_of(b) != NULL;
    if (pa && pb) {
        fail(ps, "%s: comparing two properties is not supported", op);
        return NULL;
    }
    if (!pa && !pb) {
        fail(ps, "%s: a comparison needs {\"property\": name} on one side", op);
        return NULL;
    }
    struct filter_node *n = leaf(ps, FILTER_CMP, pa ? a : b, op);
    if (!n)
        return NULL;
    n->cmp = pa ? c : flip(c);
    if (!add_literal(ps, n, pa ? b : a, op)) {
        filter_free(n);
        return NULL;
    }
    return n;
}

static struct filter_node *s_intersects(struct jparser *ps, const cJSON *args)
{
    const cJSON *a = cJSON_GetArrayItem(args, 0), *b = cJSON_GetArrayItem(args, 1);
    const char *name = property_of(a) ? property_of(a) : property_of(b);
    const cJSON *lit = property_of(a) ? b : a;
    if (!name || property_of(lit)) {
        fail(ps, "s_intersects needs one {\"property\": \"geometry\"} and one geometry");
        return NULL;
    }
    if (strcmp(name, "geometry") != 0 && strcmp(name, "properties.geometry") != 0) {
        fail(ps, "s_intersects is supported on the property geometry only");
        return NULL;
    }
    cJSON *box = NULL;
    if (only_member(lit, "bbox")) {
        double b4[4];
        char err[160];
        if (catalog_parse_bbox_json(member(lit, "bbox"), b4, err, sizeof(err)) < 0) {
            fail(ps, "s_intersects: bbox: %s", err);
            return NULL;
        }
        if (!(box = filter_bbox_geojson(b4))) {
            oom(ps);
            return NULL;
        }
        lit = box;
    }
    char gerr[200];
    struct catalog_geom *g = catalog_geom_parse(lit, gerr, sizeof(gerr));
    cJSON_Delete(box);
    if (!g) {
        fail(ps, "s_intersects: expected a GeoJSON geometry or {\"bbox\": [...]}: %s", gerr);
        return NULL;
    }
    struct filter_node *n = new_node(ps, FILTER_S_INTERSECTS);
    if (!n) {
        catalog_geom_free(g);
        return NULL;
    }
    n->geom = g;
    return n;
}

/* One end of {"interval": [a, b]}: "..", a date or a timestamp. */
static bool interval_end(struct jparser *ps, const cJSON *v, bool is_end, bool *has, int64_t *ms)
{
    if (!cJSON_IsString(v)) {
        fail(ps, "t_intersects: interval ends must be dates, timestamps or \"..\"");
        return false;
    }
    *has = strcmp(v->valuestring, "..") != 0;
    if (!*has)
        return true;
    if (time_parse_date_wide(v->valuestring, ms) == 0) {
        if (is_end)
            *ms += DAY_MS - 1;
        return true;
    }
    if (time_parse_rfc3339_wide(v->valuestring, ms) == 0)
        return true;
    fail(ps, "t_intersects: invalid interval end");
    return false;
}

static struct filter_node *t_intersects(struct jparser *ps, const cJSON *args)
{
    const cJSON *a = cJSON_GetArrayItem(args, 0), *b = cJSON_GetArrayItem(args, 1);
    const char *name = property_of(a) ? property_of(a) : property_of(b);
    const cJSON *lit = property_of(a) ? b : a;
    if (!name || property_of(lit)) {
        fail(ps, "t_intersects needs one {\"property\": \"datetime\"} and one temporal literal");
        return NULL;
    }
    if (strcmp(name, "datetime") != 0 && strcmp(name, "properties.datetime") != 0) {
        fail(ps, "t_intersects is supported on the property datetime only");
        return NULL;
    }
    struct filter_node *n = new_node(ps, FILTER_T_INTERSECTS);
    if (!n)
        return NULL;
    if (only_member(lit, "interval")) {
        const cJSON *iv = member(lit, "interval");
        if (!cJSON_IsArray(iv) || cJSON_GetArraySize(iv) != 2) {
            fail(ps, "t_intersects: interval must be [start, end]");
            goto fail;
        }
        if (!interval_end(ps, cJSON_GetArrayItem(iv, 0), false, &n->has_start, &n->start) ||
            !interval_end(ps, cJSON_GetArrayItem(iv, 1), true, &n->has_end, &n->end))
            goto fail;
        if (n->has_start && n->has_end && n->start > n->end) {
            fail(ps, "t_intersects: the interval's start is after its end");
            goto fail;
        }
        return n;
    }
    struct filter_value v;
    if (!(only_member(lit, "timestamp") || only_member(lit, "date"))) {
        fail(ps, "t_intersects: expected {\"timestamp\"}, {\"date\"} or {\"interval\"}");
        goto fail;
    }
    if (!literal(ps, lit, "t_intersects", &v))
        goto fail;
    n->has_start = n->has_end = true;
    n->start = v.ms;
    n->end = only_member(lit, "date") ? v.ms + DAY_MS - 1 : v.ms;
    return n;
fail:
    filter_free(n);
    return NULL;
}

/* The CQL2 operators that are known but not implemented here. */
static bool known_op(const char *op)
{
    static const char *const ops[] = {"s_contains", "s_crosses",
                                      "s_disjoint", "s_equals",
                                      "s_overlaps", "s_touches",
                                      "s_within",   "t_after",
                                      "t_before",   "t_contains",
                                      "t_disjoint", "t_during",
                                      "t_equals",   "t_finishedBy",
                                      "t_finishes", "t_meets",
                                      "t_metBy",    "t_overlappedBy",
                                      "t_overlaps", "t_startedBy",
                                      "t_starts",   "a_equals",
                                      "a_contains", "a_containedBy",
                                      "a_overlaps", "casei",
                                      "accenti",    "+",
                                      "-",          "*",
                                      "/",          "%",
                                      "div",        "^"};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (strcmp(op, ops[i]) == 0)
            return true;
    return false;
}

static struct filter_node *expr(struct jparser *ps, const cJSON *j, int depth)
{
    if (depth > FILTER_MAX_DEPTH) {
        fail(ps, "nested more than %d levels deep", FILTER_MAX_DEPTH);
        return NULL;
    }
    if (cJSON_IsBool(j)) {
        struct filter_node *n = new_node(ps, FILTER_CONST);
        if (n)
            n->negated = !cJSON_IsTrue(j);
        return n;
    }
    if (!cJSON_IsObject(j)) {
        fail(ps, "expected an expression object {\"op\": ..., \"args\": [...]}");
        return NULL;
    }
    if (member(j, "function")) {
        fail(ps, "functions are not supported");
        return NULL;
    }
    const cJSON *opj = member(j, "op"), *args = member(j, "args");
    if (!cJSON_IsString(opj)) {
        fail(ps, "expected an expression object {\"op\": ..., \"args\": [...]}");
        return NULL;
    }
    char op[40];
    filter_quote(opj->valuestring, strlen(opj->valuestring), op, sizeof(op), 30);
    const cJSON *m;
    cJSON_ArrayForEach(m, j)
    {
        if (strcmp(m->string, "op") != 0 && strcmp(m->string, "args") != 0) {
            char q[40];
            filter_quote(m->string, strlen(m->string), q, sizeof(q), 30);
            fail(ps, "%s: unknown member \"%s\"", op, q);
            return NULL;
        }
    }
    if (!cJSON_IsArray(args)) {
        fail(ps, "%s: \"args\" must be an array", op);
        return NULL;
    }
    int nargs = cJSON_GetArraySize(args);
    const char *o = opj->valuestring;
    bool is_and = strcmp(o, "and") == 0;
    if (is_and || strcmp(o, "or") == 0) {
        if (nargs < 2) {
            fail(ps, "%s needs at least two arguments", op);
            return NULL;
        }
        struct filter_node *n = new_node(ps, is_and ? FILTER_AND : FILTER_OR);
        const cJSON *a;
        cJSON_ArrayForEach(a, args)
        {
            if (!n)
                break;
            struct filter_node *k = expr(ps, a, depth + 1);
            if (!k || filter_add_kid(n, k) < 0) {
                if (k)
                    oom(ps);
                filter_free(k);
                filter_free(n);
                n = NULL;
            }
        }
        return n;
    }
    if (strcmp(o, "not") == 0) {
        if (nargs != 1) {
            fail(ps, "not needs one argument");
            return NULL;
        }
        struct filter_node *k = expr(ps, args->child, depth + 1),
                           *n = k ? new_node(ps, FILTER_NOT) : NULL;
        if (!n || filter_add_kid(n, k) < 0) {
            if (n)
                oom(ps);
            filter_free(k);
            free(n);
            return NULL;
        }
        return n;
    }
    for (size_t i = 0; i < sizeof(cmps) / sizeof(cmps[0]); i++) {
        if (strcmp(o, cmps[i].name) == 0) {
            if (nargs != 2) {
                fail(ps, "%s needs two arguments", op);
                return NULL;
            }
            return comparison(ps, cmps[i].cmp, args, op);
        }
    }
    if (strcmp(o, "like") == 0) {
        const cJSON *pat = cJSON_GetArrayItem(args, 1);
        if (nargs != 2 || !cJSON_IsString(pat)) {
            fail(ps, "like needs {\"property\": name} and a pattern string");
            return NULL;
        }
        struct filter_node *n = leaf(ps, FILTER_LIKE, args->child, "like");
        if (n && !add_literal(ps, n, pat, "like")) {
            filter_free(n);
            n = NULL;
        }
        return n;
    }
    if (strcmp(o, "between") == 0) {
        if (nargs != 3) {
            fail(ps, "between needs three arguments: {\"property\": name}, low, high");
            return NULL;
        }
        struct filter_node *n = leaf(ps, FILTER_BETWEEN, args->child, "between");
        if (n && (!add_literal(ps, n, args->child->next, "between") ||
                  !add_literal(ps, n, args->child->next->next, "between"))) {
            filter_free(n);
            return NULL;
        }
        if (n && (n->values[0].type != n->values[1].type || n->values[0].type == FILTER_BOOL)) {
            fail(ps, "between needs two numbers, strings or timestamps of one type");
            filter_free(n);
            return NULL;
        }
        return n;
    }
    if (strcmp(o, "in") == 0) {
        const cJSON *list = cJSON_GetArrayItem(args, 1);
        if (nargs != 2 || !cJSON_IsArray(list) || cJSON_GetArraySize(list) < 1) {
            fail(ps, "in needs {\"property\": name} and a non-empty array of literals");
            return NULL;
        }
        struct filter_node *n = leaf(ps, FILTER_IN, args->child, "in");
        const cJSON *v;
        cJSON_ArrayForEach(v, list)
        {
            if (n && !add_literal(ps, n, v, "in")) {
                filter_free(n);
                n = NULL;
            }
        }
        return n;
    }
    if (strcmp(o, "isNull") == 0) {
        if (nargs != 1) {
            fail(ps, "isNull needs one argument");
            return NULL;
        }
        return leaf(ps, FILTER_ISNULL, args->child, "isNull");
    }
    if (strcmp(o, "s_intersects") == 0 || strcmp(o, "t_intersects") == 0) {
        if (nargs != 2) {
            fail(ps, "%s needs two arguments", op);
            return NULL;
        }
        return o[0] == 's' ? s_intersects(ps, args) : t_intersects(ps, args);
    }
    if (known_op(o))
        fail(ps, "the CQL2 operator %s is not supported", op);
    else
        fail(ps, "unknown operator %s", op);
    return NULL;
}

int filter_parse_cql2_json(const cJSON *json, struct filter_node **out, char *err, size_t errlen)
{
    struct jparser ps = {.err = err, .errlen = errlen};
    *out = expr(&ps, json, 0);
    if (!*out) {
        if (!ps.rc)
            ps.rc = -ENOMEM;
        return ps.rc;
    }
    return 0;
}
