/* The filter syntax tree of filter.h: building, freeing, normalizing, and
 * the STAC API query extension's parser ({"prop": {"op": value}}), the
 * simplest of the three front ends. Pure functions; any thread. */
#include "catalog/filter.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/array.h"
#include "util/timeutil.h"

void filter_free(struct filter_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nkids; i++)
        filter_free(n->kids[i]);
    free(n->kids);
    for (size_t i = 0; i < n->nvalues; i++)
        free(n->values[i].str);
    free(n->values);
    free(n->prop);
    catalog_geom_free(n->geom);
    free(n);
}

struct filter_node *filter_node_new(struct filter_budget *b, enum filter_op op, bool *over)
{
    if (b->nodes >= FILTER_MAX_NODES) {
        *over = true;
        return NULL;
    }
    struct filter_node *n = calloc(1, sizeof(*n));
    if (n) {
        n->op = op;
        b->nodes++;
    }
    return n;
}

int filter_add_kid(struct filter_node *n, struct filter_node *kid)
{
    struct filter_node **v = realloc(n->kids, (n->nkids + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    n->kids = v;
    n->kids[n->nkids++] = kid;
    return 0;
}

int filter_add_value(struct filter_budget *b, struct filter_node *n, struct filter_value *v)
{
    if (b->values >= FILTER_MAX_VALUES)
        return -E2BIG;
    struct filter_value *vals = realloc(n->values, (n->nvalues + 1) * sizeof(*vals));
    if (!vals)
        return -ENOMEM;
    n->values = vals;
    n->values[n->nvalues++] = *v;
    v->str = NULL;
    b->values++;
    return 0;
}

struct filter_node *filter_and(struct filter_node *a, struct filter_node *b)
{
    if (!a || !b)
        return a ? a : b;
    struct filter_node *n = calloc(1, sizeof(*n));
    if (!n || filter_add_kid(n, a) < 0 || filter_add_kid(n, b) < 0) {
        filter_free(a);
        filter_free(b);
        if (n)
            n->nkids = 0;
        filter_free(n);
        return NULL;
    }
    n->op = FILTER_AND;
    return n;
}

static const char properties_prefix[] = "properties.";

bool filter_field_of(const char *name, bool sorting, enum filter_field *field, const char **prop)
{
    size_t len = strlen(name);
    if (len == 0 || len > FILTER_MAX_NAME)
        return false;
    for (const char *s = name; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    *prop = NULL;
    if (strncmp(name, properties_prefix, sizeof(properties_prefix) - 1) == 0) {
        /* An explicit properties.x is always a property, even one named id. */
        name += sizeof(properties_prefix) - 1;
        if (!*name)
            return false;
        if (sorting && strcmp(name, "datetime") == 0) {
            *field = FILTER_FIELD_DATETIME;
            return true;
        }
        *field = FILTER_FIELD_PROPERTY;
        *prop = name;
        return true;
    }
    if (strcmp(name, "id") == 0)
        *field = FILTER_FIELD_ID;
    else if (strcmp(name, "collection") == 0)
        *field = FILTER_FIELD_COLLECTION;
    else if (sorting && strcmp(name, "datetime") == 0)
        *field = FILTER_FIELD_DATETIME;
    else {
        *field = FILTER_FIELD_PROPERTY;
        *prop = name;
    }
    return true;
}

int filter_set_field(struct filter_node *n, const char *name)
{
    const char *prop;
    if (!filter_field_of(name, false, &n->field, &prop))
        return -EINVAL;
    if (prop && !(n->prop = strdup(prop)))
        return -ENOMEM;
    return 0;
}

void filter_quote(const char *s, size_t len, char *out, size_t outlen, size_t max)
{
    size_t o = 0;
    if (outlen == 0)
        return;
    for (size_t i = 0; i < len && i < max && o + 1 < outlen; i++) {
        unsigned char c = (unsigned char)s[i];
        out[o++] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
    }
    if (len > max && o + 4 < outlen) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = 0;
}

static cJSON *box_rings(double minx, double miny, double maxx, double maxy)
{
    double v[5][2] = {{minx, miny}, {maxx, miny}, {maxx, maxy}, {minx, maxy}, {minx, miny}};
    cJSON *ring = cJSON_CreateArray(), *rings = cJSON_CreateArray();
    for (int i = 0; ring && i < 5; i++)
        cJSON_AddItemToArray(ring, cJSON_CreateDoubleArray(v[i], 2));
    if (!ring || !rings) {
        cJSON_Delete(ring);
        cJSON_Delete(rings);
        return NULL;
    }
    cJSON_AddItemToArray(rings, ring);
    return rings;
}

cJSON *filter_bbox_geojson(const double b[4])
{
    cJSON *g = cJSON_CreateObject();
    if (!g)
        return NULL;
    if (b[0] <= b[2]) {
        cJSON_AddStringToObject(g, "type", "Polygon");
        cJSON_AddItemToObject(g, "coordinates", box_rings(b[0], b[1], b[2], b[3]));
    } else {
        cJSON_AddStringToObject(g, "type", "MultiPolygon");
        cJSON *polys = cJSON_AddArrayToObject(g, "coordinates");
        cJSON_AddItemToArray(polys, box_rings(b[0], b[1], 180, b[3]));
        cJSON_AddItemToArray(polys, box_rings(-180, b[1], b[2], b[3]));
    }
    return g;
}

/* ---- normal form -------------------------------------------------------- */

static struct filter_node *normalize(struct filter_node *n, bool neg);

/* Replaces n's kids by their normal forms, lifting the kids of same-op
 * children and folding constants. Returns the node that replaces n. */
static struct filter_node *normalize_junction(struct filter_node *n, bool neg)
{
    enum filter_op op = n->op;
    if (neg)
        op = op == FILTER_AND ? FILTER_OR : FILTER_AND;
    struct filter_node **old = n->kids, **kids = NULL;
    size_t nold = n->nkids, nk = 0, cap = 0;
    bool decided = false; /* an AND with FALSE, an OR with TRUE */
    bool oom = false;
    n->kids = NULL;
    n->nkids = 0;
    for (size_t i = 0; i < nold; i++) {
        struct filter_node *k = normalize(old[i], neg);
        if (oom || decided) {
            filter_free(k);
            continue;
        }
        if (k->op == FILTER_CONST) {
            if (!k->negated == (op == FILTER_OR))
                decided = true;
            filter_free(k); /* TRUE in an AND, FALSE in an OR: no effect */
            continue;
        }
        size_t add = k->op == op ? k->nkids : 1;
        if (ARRAY_RESERVE(kids, cap, nk + add, 8) < 0) {
            oom = true;
            filter_free(k);
            continue;
        }
        if (k->op == op) {
            memcpy(kids + nk, k->kids, k->nkids * sizeof(*kids));
            nk += k->nkids;
            k->nkids = 0;
            filter_free(k);
        } else {
            kids[nk++] = k;
        }
    }
    free(old);
    if (oom || decided || nk == 0) {
        for (size_t i = 0; i < nk; i++)
            filter_free(kids[i]);
        free(kids);
        n->op = FILTER_CONST;
        /* Out of memory while rewriting: the filter cannot be trusted, so it
         * becomes FALSE (nothing matches) rather than something broader.
         * Decided: AND -> FALSE, OR -> TRUE; empty: AND -> TRUE, OR -> FALSE. */
        bool value = oom ? false : decided ? op == FILTER_OR : op == FILTER_AND;
        n->negated = !value;
        return n;
    }
    if (nk == 1) {
        struct filter_node *only = kids[0];
        free(kids);
        free(n);
        return only;
    }
    n->op = op;
    n->kids = kids;
    n->nkids = nk;
    return n;
}

static struct filter_node *normalize(struct filter_node *n, bool neg)
{
    switch (n->op) {
    case FILTER_NOT: {
        if (n->nkids != 1) { /* never built by the parsers; FALSE is the safe answer */
            for (size_t i = 0; i < n->nkids; i++)
                filter_free(n->kids[i]);
            n->nkids = 0;
            n->op = FILTER_CONST;
            n->negated = true;
            return n;
        }
        struct filter_node *k = n->kids[0];
        n->nkids = 0;
        filter_free(n);
        return normalize(k, !neg);
    }
    case FILTER_AND:
    case FILTER_OR:
        return normalize_junction(n, neg);
    case FILTER_CMP:
        if (n->cmp == FILTER_NE) {
            n->cmp = FILTER_EQ;
            neg = !neg;
        }
        n->negated ^= neg;
        return n;
    default:
        n->negated ^= neg;
        return n;
    }
}

void filter_normalize(struct filter_node **root)
{
    if (*root)
        *root = normalize(*root, false);
}

int filter_properties(const struct filter_node *n, struct strlist *out)
{
    if (!n)
        return 0;
    if (n->field == FILTER_FIELD_PROPERTY && n->prop && !strlist_contains(out, n->prop) &&
        strlist_add(out, n->prop) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < n->nkids; i++)
        if (filter_properties(n->kids[i], out) < 0)
            return -ENOMEM;
    return 0;
}

/* ---- the query extension ------------------------------------------------ */

int filter_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* A scalar JSON value as a literal. Strings that are RFC 3339 date-times
 * compare as instants with a property (the query extension has no
 * TIMESTAMP()), but stay strings against id and collection. */
static int query_value(const cJSON *v, enum filter_field field, struct filter_value *out)
{
    memset(out, 0, sizeof(*out));
    if (cJSON_IsBool(v)) {
        out->type = FILTER_BOOL;
        out->num = cJSON_IsTrue(v) ? 1 : 0;
        return 0;
    }
    if (cJSON_IsNumber(v)) {
        if (!isfinite(v->valuedouble))
            return -EINVAL;
        out->type = FILTER_NUMBER;
        out->num = v->valuedouble;
        return 0;
    }
    if (!cJSON_IsString(v) || strlen(v->valuestring) > FILTER_MAX_STRING)
        return -EINVAL;
    if (field == FILTER_FIELD_PROPERTY && time_parse_rfc3339_wide(v->valuestring, &out->ms) == 0) {
        out->type = FILTER_TIME;
        return 0;
    }
    out->type = FILTER_STRING;
    return (out->str = strdup(v->valuestring)) ? 0 : -ENOMEM;
}

/* Escapes the CQL2 LIKE wildcards and the escape character itself. */
static char *like_literal(const char *s, const char *before, const char *after)
{
    size_t n = strlen(s);
    char *out = malloc(2 * n + 3);
    if (!out)
        return NULL;
    char *o = out;
    o += sprintf(o, "%s", before);
    for (; *s; s++) {
        if (*s == '%' || *s == '_' || *s == '\\')
            *o++ = '\\';
        *o++ = *s;
    }
    sprintf(o, "%s", after);
    return out;
}

static const struct {
    const char *name;
    enum filter_op op;
    enum filter_cmp cmp;
    const char *before, *after; /* LIKE: the wildcards around the value */
} query_ops[] = {
    {"eq", FILTER_CMP, FILTER_EQ, NULL, NULL},       {"neq", FILTER_CMP, FILTER_NE, NULL, NULL},
    {"lt", FILTER_CMP, FILTER_LT, NULL, NULL},       {"lte", FILTER_CMP, FILTER_LE, NULL, NULL},
    {"gt", FILTER_CMP, FILTER_GT, NULL, NULL},       {"gte", FILTER_CMP, FILTER_GE, NULL, NULL},
    {"startsWith", FILTER_LIKE, FILTER_EQ, "", "%"}, {"endsWith", FILTER_LIKE, FILTER_EQ, "%", ""},
    {"contains", FILTER_LIKE, FILTER_EQ, "%", "%"},  {"in", FILTER_IN, FILTER_EQ, NULL, NULL},
};

/* One {"op": value} of property name. */
static int query_predicate(struct filter_budget *b, const char *name, const cJSON *opv,
                           struct filter_node **out, char *err, size_t errlen)
{
    char qn[80], qo[40];
    filter_quote(name, strlen(name), qn, sizeof(qn), 60);
    filter_quote(opv->string, strlen(opv->string), qo, sizeof(qo), 30);
    size_t k;
    for (k = 0; k < sizeof(query_ops) / sizeof(query_ops[0]); k++)
        if (strcmp(opv->string, query_ops[k].name) == 0)
            break;
    if (k == sizeof(query_ops) / sizeof(query_ops[0]))
        return filter_fail(
            err, errlen,
            "query: unknown operator \"%s\" for property \"%s\" (supported: eq, neq, lt, "
            "lte, gt, gte, startsWith, endsWith, contains, in)",
            qo, qn);
    bool over = false;
    struct filter_node *n = filter_node_new(b, query_ops[k].op, &over);
    int rc = -ENOMEM;
    if (!n)
        goto fail;
    n->cmp = query_ops[k].cmp;
    if ((rc = filter_set_field(n, name)) < 0) {
        if (rc == -EINVAL)
            filter_fail(err, errlen, "query: invalid property name \"%s\"", qn);
        goto fail;
    }
    struct filter_value v;
    if (n->op == FILTER_CMP) {
        if ((rc = query_value(opv, n->field, &v)) < 0) {
            if (rc == -EINVAL)
                filter_fail(
                    err, errlen,
                    "query: %s of \"%s\" needs a string, number or boolean (strings up to %d "
                    "bytes)",
                    qo, qn, FILTER_MAX_STRING);
            goto fail;
        }
        rc = filter_add_value(b, n, &v);
    } else if (n->op == FILTER_LIKE) {
        rc = -EINVAL;
        if (!cJSON_IsString(opv) || strlen(opv->valuestring) > FILTER_MAX_STRING) {
            filter_fail(err, errlen, "query: %s of \"%s\" needs a string", qo, qn);
            goto fail;
        }
        memset(&v, 0, sizeof(v));
        v.type = FILTER_STRING;
        rc = -ENOMEM;
        if (!(v.str = like_literal(opv->valuestring, query_ops[k].before, query_ops[k].after)))
            goto fail;
        rc = filter_add_value(b, n, &v);
    } else {
        rc = -EINVAL;
        if (!cJSON_IsArray(opv) || cJSON_GetArraySize(opv) < 1) {
            filter_fail(err, errlen, "query: in of \"%s\" needs a non-empty array", qn);
            goto fail;
        }
        const cJSON *e;
        cJSON_ArrayForEach(e, opv)
        {
            if ((rc = query_value(e, n->field, &v)) < 0) {
                if (rc == -EINVAL)
                    filter_fail(err, errlen,
                                "query: in of \"%s\" needs strings, numbers or booleans", qn);
                goto fail;
            }
            if ((rc = filter_add_value(b, n, &v)) < 0) {
                free(v.str);
                break;
            }
        }
    }
    if (rc == -E2BIG) {
        filter_fail(err, errlen, "query: more than %d values", FILTER_MAX_VALUES);
        rc = -EINVAL;
    }
    if (rc < 0)
        goto fail;
    *out = n;
    return 0;
fail:
    if (over)
        rc = filter_fail(err, errlen, "query: more than %d predicates", FILTER_MAX_NODES);
    filter_free(n);
    return rc;
}

int filter_parse_query(const cJSON *query, struct filter_node **out, char *err, size_t errlen)
{
    struct filter_budget b = {0, 0};
    struct filter_node *all = NULL;
    *out = NULL;
    if (!cJSON_IsObject(query))
        return filter_fail(
            err, errlen, "query must be a JSON object of property names to {\"operator\": value}");
    const cJSON *prop;
    int rc = 0;
    cJSON_ArrayForEach(prop, query)
    {
        char qn[80];
        filter_quote(prop->string, strlen(prop->string), qn, sizeof(qn), 60);
        if (!cJSON_IsObject(prop) || !prop->child) {
            rc =
                filter_fail(err, errlen, "query: \"%s\" needs a non-empty object of operators", qn);
            break;
        }
        const cJSON *opv;
        cJSON_ArrayForEach(opv, prop)
        {
            struct filter_node *n = NULL;
            if ((rc = query_predicate(&b, prop->string, opv, &n, err, errlen)) < 0)
                break;
            if (!(all = filter_and(all, n))) {
                rc = -ENOMEM;
                break;
            }
        }
        if (rc < 0)
            break;
    }
    if (rc < 0) {
        filter_free(all);
        return rc;
    }
    *out = all;
    return 0;
}
