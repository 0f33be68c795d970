/* Query parameters in the platform's conventions, and the plume filters as
 * a catalog search (see cm_params.h). */
#include "api/cm_params.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "http/server.h"

__attribute__((format(printf, 4, 5))) static bool fail(struct cm_error *e, const char *param,
                                                       const char *type, const char *fmt, ...)
{
    snprintf(e->param, sizeof(e->param), "%s", param);
    snprintf(e->type, sizeof(e->type), "%s", type);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return false;
}

void cm_reply_invalid(struct request *r, const struct cm_error *e)
{
    cJSON *body = cJSON_CreateObject();
    cJSON *detail = cJSON_AddArrayToObject(body, "detail");
    cJSON *item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "type", e->type);
    cJSON *loc = cJSON_AddArrayToObject(item, "loc");
    cJSON_AddItemToArray(loc, cJSON_CreateString("query"));
    cJSON_AddItemToArray(loc, cJSON_CreateString(e->param));
    cJSON_AddStringToObject(item, "msg", e->msg);
    cJSON_AddItemToArray(detail, item);
    reply_json(r, 422, body);
}

void cm_search_free(struct cm_search *s)
{
    strlist_free(&s->collections);
    strlist_free(&s->ids);
    catalog_geom_free(s->geom);
    filter_free(s->filter);
    catalog_sort_free(&s->sort);
    memset(s, 0, sizeof(*s));
}

struct collect {
    const char *key;
    struct strlist *out;
};

static int collect_arg(void *ctx, const char *key, const char *value)
{
    struct collect *c = ctx;
    return strcmp(key, c->key) == 0 ? strlist_push(c->out, value) : 0;
}

int cm_query_all(struct request *r, const char *key, struct strlist *out)
{
    struct collect c = {key, out};
    return request_query_each(r, collect_arg, &c);
}

static bool parse_int(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno)
        return false;
    *out = v;
    return true;
}

static bool parse_number(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* The one value of a parameter that must not repeat (NULL: absent). */
static bool single(struct request *r, const char *key, const char **out, struct cm_error *e)
{
    struct strlist all = STRLIST_INIT;
    *out = NULL;
    if (cm_query_all(r, key, &all) < 0)
        return fail(e, key, "memory", "out of memory");
    size_t n = all.n;
    strlist_free(&all);
    if (n > 1)
        return fail(e, key, "value_error", "%s may be given once", key);
    *out = request_query(r, key);
    return true;
}

bool cm_parse_paging(struct request *r, int64_t def, int64_t max, bool zero_ok, struct cm_search *s,
                     struct cm_error *e)
{
    const char *v;
    long long n;
    s->q.limit = def;
    if (!single(r, "limit", &v, e))
        return false;
    if (v) {
        if (!parse_int(v, &n))
            return fail(e, "limit", "int_parsing",
                        "Input should be a valid integer, unable to parse string as an integer");
        if (n < (zero_ok ? 0 : 1) || n > max)
            return fail(e, "limit", "value_error", "limit must be between %d and %lld",
                        zero_ok ? 0 : 1, (long long)max);
        s->q.limit = n;
    }
    if (!single(r, "offset", &v, e))
        return false;
    if (v) {
        if (!parse_int(v, &n))
            return fail(e, "offset", "int_parsing",
                        "Input should be a valid integer, unable to parse string as an integer");
        if (n < 0 || n > 1000000000LL)
            return fail(e, "offset", "value_error", "offset must be between 0 and 1000000000");
        s->q.offset = n;
    }
    return true;
}

static bool parse_bbox(struct request *r, struct cm_search *s, struct cm_error *e)
{
    struct strlist v = STRLIST_INIT;
    if (cm_query_all(r, "bbox", &v) < 0)
        return fail(e, "bbox", "memory", "out of memory");
    bool ok = true;
    if (v.n == 0)
        goto out;
    for (size_t i = 0; ok && i < v.n; i++)
        if (!parse_number(v.v[i], &s->bbox[i < 4 ? i : 3]))
            ok = fail(e, "bbox", "float_parsing",
                      "Input should be a valid number (bbox is four repeated keys: "
                      "bbox=W&bbox=S&bbox=E&bbox=N)");
    if (ok && v.n != 4)
        ok = fail(e, "bbox", "value_error",
                  "bbox needs 4 values (bbox=W&bbox=S&bbox=E&bbox=N), got %zu", v.n);
    double *b = s->bbox;
    if (ok && (b[0] < -180 || b[2] > 180 || b[1] < -90 || b[3] > 90 || b[1] > b[3]))
        ok = fail(e, "bbox", "value_error",
                  "bbox must be W,S,E,N in degrees with S <= N (W > E crosses 180°)");
    if (ok) {
        s->has_bbox = s->q.has_bbox = true;
        memcpy(s->q.bbox, b, sizeof(s->q.bbox));
    }
out:
    strlist_free(&v);
    return ok;
}

bool cm_parse_where(struct request *r, struct cm_search *s, struct cm_error *e)
{
    const char *v;
    char err[200];
    if (!parse_bbox(r, s, e) || !single(r, "intersects", &v, e))
        return false;
    if (v) {
        cJSON *json = cJSON_Parse(v);
        s->geom = json ? catalog_geom_parse(json, err, sizeof(err)) : NULL;
        if (!json)
            snprintf(err, sizeof(err), "not JSON");
        cJSON_Delete(json);
        if (!s->geom)
            return fail(e, "intersects", "value_error", "intersects must be a GeoJSON geometry: %s",
                        err);
        s->q.intersects = s->geom;
    }
    if (!single(r, "datetime", &v, e))
        return false;
    if (v && catalog_parse_datetime(v, &s->q.has_start, &s->q.start, &s->q.has_end, &s->q.end, err,
                                    sizeof(err)) < 0)
        return fail(e, "datetime", "value_error", "%s", err);
    return true;
}

int cm_search_in(struct catalog *cat, const struct viewer *v, const char *prefix,
                 struct cm_search *s)
{
    cJSON *colls = NULL;
    s->q.groups = v->groups;
    int rc = bounds_collections(cat, v, &colls);
    const cJSON *c;
    cJSON_ArrayForEach(c, colls)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");
        if (rc == 0 && cJSON_IsString(id) && strncmp(id->valuestring, prefix, strlen(prefix)) == 0)
            rc = strlist_add(&s->collections, id->valuestring);
    }
    cJSON_Delete(colls);
    /* No collection of the kind: cm_search_run finds nothing (the bounds
     * would read an empty list as "any"). */
    if (rc == 0 && s->collections.n)
        rc = bounds_narrow_search(v->bounds, &s->collections, &s->filter);
    s->q.collections = &s->collections;
    s->q.filter = s->filter;
    return rc < 0 ? rc : 0;
}

/* ---- the plume filters --------------------------------------------------- */

/* Adds one leaf to the AND of *all. values: strings (strs) or one number. */
struct leaf_spec {
    enum filter_op op;
    enum filter_cmp cmp;
    const char *field;
    const struct strlist *strs;
    double num;
};

static int add_leaf(struct filter_node **all, const struct leaf_spec *spec, bool *over)
{
    struct filter_budget b = {0};
    struct filter_node *n = filter_node_new(&b, spec->op, over);
    if (!n)
        return -ENOMEM;
    n->cmp = spec->cmp;
    int rc = filter_set_field(n, spec->field);
    for (size_t i = 0; rc == 0 && spec->strs && i < spec->strs->n; i++) {
        struct filter_value v = {.type = FILTER_STRING, .str = strdup(spec->strs->v[i])};
        rc = v.str ? filter_add_value(&b, n, &v) : -ENOMEM;
    }
    if (rc == 0 && !spec->strs && spec->op == FILTER_CMP) {
        struct filter_value v = {.type = FILTER_NUMBER, .num = spec->num};
        rc = filter_add_value(&b, n, &v);
    }
    if (rc < 0) {
        *over = rc == -E2BIG;
        filter_free(n);
        return rc;
    }
    *all = filter_and(*all, n);
    return *all ? 0 : -ENOMEM;
}

/* A repeated-key parameter whose every value must be one of allowed (NULL:
 * any), as an IN over field. The platform's sector "NULL" means no sector. */
static bool in_filter(struct request *r, struct cm_search *s, const char *param, const char *field,
                      const char *const *allowed, struct cm_error *e)
{
    struct strlist v = STRLIST_INIT;
    bool ok = cm_query_all(r, param, &v) == 0 || fail(e, param, "memory", "out of memory");
    bool with_null = false;
    for (size_t i = 0; ok && allowed && i < v.n; i++) {
        bool known = false;
        for (size_t k = 0; allowed[k]; k++)
            known |= strcmp(v.v[i], allowed[k]) == 0;
        if (!known) {
            char list[200] = "";
            for (size_t k = 0; allowed[k]; k++)
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s'%s'", k ? ", " : "",
                         allowed[k]);
            ok = fail(e, param, "enum", "Input should be %s", list);
        }
        if (ok && strcmp(param, "sectors") == 0 && strcmp(v.v[i], "NULL") == 0) {
            with_null = true;
            free(v.v[i]);
            v.v[i--] = v.v[--v.n];
        }
    }
    bool over = false;
    if (ok && (v.n || with_null)) {
        struct filter_node *any = NULL;
        struct leaf_spec in = {.op = FILTER_IN, .field = field, .strs = &v};
        struct leaf_spec null = {.op = FILTER_ISNULL, .field = field};
        int rc = v.n ? add_leaf(&any, &in, &over) : 0;
        if (rc == 0 && with_null) {
            struct filter_node *n = NULL;
            rc = add_leaf(&n, &null, &over);
            if (rc == 0) {
                /* IN or IS NULL: an OR of the two leaves. */
                struct filter_budget b = {0};
                struct filter_node * or = any ? filter_node_new(&b, FILTER_OR, &over) : n;
                if (any && or &&(filter_add_kid(or, any) < 0 || filter_add_kid(or, n) < 0))
                    rc = -ENOMEM;
                else if (! or)
                    rc = -ENOMEM;
                any = or ;
            }
        }
        if (rc == 0)
            s->filter = filter_and(s->filter, any);
        else
            filter_free(any);
        if (rc < 0)
            ok = fail(e, param, over ? "too_long" : "memory",
                      over ? "too many values" : "out of memory");
    }
    strlist_free(&v);
    return ok;
}

static bool number_filter(struct request *r, struct cm_search *s, const char *param,
                          enum filter_cmp cmp, struct cm_error *e)
{
    const char *v;
    double x;
    if (!single(r, param, &v, e))
        return false;
    if (!v)
        return true;
    if (!parse_number(v, &x))
        return fail(e, param, "float_parsing", "Input should be a valid number");
    bool over = false;
    struct leaf_spec leaf = {.op = FILTER_CMP, .cmp = cmp, .field = "cm:emission", .num = x};
    if (add_leaf(&s->filter, &leaf, &over) < 0)
        return fail(e, param, "memory", "out of memory");
    return true;
}

/* One-valued string filters: the parameter as a one-element IN. */
static bool eq_filter(struct request *r, struct cm_search *s, const char *param, const char *field,
                      const char *def, const char *const *allowed, struct cm_error *e)
{
    const char *v;
    if (!single(r, param, &v, e))
        return false;
    if (!v)
        v = def;
    if (!v)
        return true;
    bool known = !allowed;
    for (size_t k = 0; allowed && allowed[k]; k++)
        known |= strcmp(v, allowed[k]) == 0;
    if (!known)
        return fail(e, param, "enum", "Input should be one of the documented values");
    struct strlist one = STRLIST_INIT;
    bool over = false;
    struct leaf_spec leaf = {.op = FILTER_IN, .field = field, .strs = &one};
    bool ok = (strlist_push(&one, v) == 0 && add_leaf(&s->filter, &leaf, &over) == 0) ||
              fail(e, param, "memory", "out of memory");
    strlist_free(&one);
    return ok;
}

static const char *const SECTORS[] = {"1B2", "6A",    "6B",   "4B", "1B1a",
                                      "1A1", "other", "NULL", "NA", NULL};
static const char *const INSTRUMENTS[] = {"GAO", "ang", "emi", "tan", "av3", NULL};
static const char *const QUALITIES[] = {"good", "questionable", "bad", NULL};
static const char *const GASES[] = {"CO2", "CH4", NULL};

/* sort: the platform's names, as (field, property, descending). */
static bool parse_sort(struct request *r, struct cm_search *s, struct cm_error *e)
{
    static const struct {
        const char *name;
        enum filter_field field;
        const char *prop;
        bool desc;
    } sorts[] = {
        {"desc", FILTER_FIELD_DATETIME, NULL, true},
        {"asc", FILTER_FIELD_DATETIME, NULL, false},
        {"emissions_desc", FILTER_FIELD_PROPERTY, "cm:emission", true},
        {"emissions_asc", FILTER_FIELD_PROPERTY, "cm:emission", false},
        {"published_desc", FILTER_FIELD_PROPERTY, "cm:published_at", true},
        {"published_asc", FILTER_FIELD_PROPERTY, "cm:published_at", false},
    };
    const char *v;
    if (!single(r, "sort", &v, e))
        return false;
    if (!v)
        v = "desc";
    for (size_t i = 0; i < sizeof(sorts) / sizeof(sorts[0]); i++) {
        if (strcmp(v, sorts[i].name) != 0)
            continue;
        struct catalog_sort_key *k = &s->sort.keys[0];
        k->field = sorts[i].field;
        k->desc = sorts[i].desc;
        if (sorts[i].prop && !(k->prop = strdup(sorts[i].prop)))
            return fail(e, "sort", "memory", "out of memory");
        s->sort.n = 1;
        s->q.sort = &s->sort;
        return true;
    }
    return fail(e, "sort", "enum",
                "Input should be 'asc', 'desc', 'emissions_desc', 'emissions_asc', "
                "'published_desc' or 'published_asc'");
}

bool cm_is_uuid(const char *s)
{
    static const char form[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    if (strlen(s) != sizeof(form) - 1)
        return false;
    for (size_t i = 0; form[i]; i++)
        if (form[i] == '-' ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]))
            return false;
    return true;
}

/* ids: scene UUIDs and names, either matching (UUID IN ... OR id IN ...). */
static bool ids_filter(struct request *r, struct cm_search *s, struct cm_error *e)
{
    struct strlist all = STRLIST_INIT, uuids = STRLIST_INIT, names = STRLIST_INIT;
    int rc = cm_query_all(r, "ids", &all);
    for (size_t i = 0; rc == 0 && i < all.n; i++)
        rc = strlist_add(cm_is_uuid(all.v[i]) ? &uuids : &names, all.v[i]);
    bool over = false;
    struct filter_node *by_uuid = NULL, *by_name = NULL, *any = NULL;
    struct leaf_spec uuid_in = {.op = FILTER_IN, .field = "cm:scene_uuid", .strs = &uuids};
    struct leaf_spec name_in = {.op = FILTER_IN, .field = "id", .strs = &names};
    if (rc == 0 && uuids.n)
        rc = add_leaf(&by_uuid, &uuid_in, &over);
    if (rc == 0 && names.n)
        rc = add_leaf(&by_name, &name_in, &over);
    if (rc == 0 && by_uuid && by_name) {
        struct filter_budget b = {0};
        any = filter_node_new(&b, FILTER_OR, &over);
        if (!any || filter_add_kid(any, by_uuid) < 0)
            rc = -ENOMEM;
        else
            by_uuid = NULL;
        if (rc == 0 && filter_add_kid(any, by_name) < 0)
            rc = -ENOMEM;
        else if (rc == 0)
            by_name = NULL;
    } else {
        any = by_uuid ? by_uuid : by_name;
        by_uuid = by_name = NULL;
    }
    if (rc == 0 && any) {
        s->filter = filter_and(s->filter, any);
        any = NULL;
        rc = s->filter ? 0 : -ENOMEM;
    }
    filter_free(any);
    filter_free(by_uuid);
    filter_free(by_name);
    strlist_free(&all);
    strlist_free(&uuids);
    strlist_free(&names);
    return rc == 0 ||
           fail(e, "ids", over ? "too_long" : "memory", over ? "too many values" : "out of memory");
}

bool cm_parse_scene_search(struct request *r, const struct viewer *v, struct cm_search *s,
                           struct cm_error *e, int *rc)
{
    *rc = 0;
    if (!cm_parse_where(r, s, e) ||
        !in_filter(r, s, "instruments", "cm:instrument", INSTRUMENTS, e) || !ids_filter(r, s, e))
        return false;
    if (s->filter)
        filter_normalize(&s->filter);
    *rc = cm_search_in(request_app(r)->catalog, v, CM_SCENE_COLLECTION_PREFIX, s);
    return true;
}

bool cm_parse_plume_search(struct request *r, const struct viewer *v, struct cm_search *s,
                           struct cm_error *e, int *rc)
{
    *rc = 0;
    bool ok = cm_parse_where(r, s, e) && in_filter(r, s, "plume_ids", "cm:plume_uuid", NULL, e) &&
              eq_filter(r, s, "scene_id", "cm:scene_id", NULL, NULL, e) &&
              number_filter(r, s, "emission_min", FILTER_GE, e) &&
              number_filter(r, s, "emission_max", FILTER_LE, e) &&
              in_filter(r, s, "sectors", "cm:plume:sector", SECTORS, e) &&
              eq_filter(r, s, "plume_gas", "cm:gas", NULL, GASES, e) &&
              in_filter(r, s, "instruments", "cm:instrument", INSTRUMENTS, e) &&
              in_filter(r, s, "qualities", "cm:plume:quality", QUALITIES, e) &&
              eq_filter(r, s, "status", "cm:status", "published", NULL, e) && parse_sort(r, s, e);
    /* Plume names are item ids: the search's own ids list. */
    if (ok && cm_query_all(r, "plume_names", &s->ids) < 0)
        ok = fail(e, "plume_names", "memory", "out of memory");
    if (!ok)
        return false;
    if (s->ids.n)
        s->q.ids = &s->ids;
    if (s->filter)
        filter_normalize(&s->filter);
    *rc = cm_search_in(request_app(r)->catalog, v, CM_PLUME_COLLECTION_PREFIX, s);
    return true;
}
