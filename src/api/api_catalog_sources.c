/* Emission sources: GET /api/v1/catalog/sources.geojson clusters the plumes
 * matching the plume filters, per gas and sector, into sources of plumes
 * within eps metres of each other (single linkage, catalog/cluster.c) with
 * at least minpoints plumes; GET /api/v1/catalog/source/{source_name}
 * answers one source with its plumes, the scenes over it and the dates. A
 * source's name, {gas}_{sector}_{eps}m_{lon}_{lat} with the centroid's
 * coordinates, is enough to find it again: the same clustering over the
 * same plumes gives the same centroid. Sources are computed per request
 * from what the caller sees, so a partner's sources include embargoed
 * plumes and a Public caller's never do. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/api_catalog_cm.h"
#include "api/baseurl.h"
#include "app.h"
#include "catalog/cluster.h"
#include "http/server.h"
#include "util/array.h"

#define DEFAULT_EPS_M 100.0
#define MAX_EPS_M 100000.0
#define MAX_PLUMES 200000 /* clustered in one request */
#define SOURCE_NAME_MAX 96

/* A plume as clustering sees it. item is kept only for source/{name}. */
struct plume_pt {
    struct cluster_point pt;
    double emission; /* NAN when the plume has none */
    char gas[16], sector[16];
    char date[11]; /* YYYY-MM-DD of the scene */
    cJSON *item;
};

struct plume_set {
    struct plume_pt *v;
    size_t n, cap;
    bool keep_items;
};

static void plume_set_free(struct plume_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        cJSON_Delete(s->v[i].item);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static void copy_text(char *out, size_t len, const cJSON *v, const char *absent)
{
    snprintf(out, len, "%s", cJSON_IsString(v) ? v->valuestring : absent);
}

static int collect_plume(void *ctx, const cJSON *item)
{
    struct plume_set *s = ctx;
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(item, "geometry");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(g, "coordinates");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(g, "type");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "Point") != 0 ||
        !cJSON_IsNumber(cJSON_GetArrayItem(c, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(c, 1)))
        return 0; /* an estimate without a point is no emitter location */
    if (ARRAY_RESERVE(s->v, s->cap, s->n + 1, 256) < 0)
        return -ENOMEM;
    struct plume_pt *p = &s->v[s->n];
    memset(p, 0, sizeof(*p));
    p->pt.lon = cJSON_GetArrayItem(c, 0)->valuedouble;
    p->pt.lat = cJSON_GetArrayItem(c, 1)->valuedouble;
    const cJSON *e = cm_item_prop(item, "cm:emission");
    p->emission = cJSON_IsNumber(e) ? e->valuedouble : NAN;
    copy_text(p->gas, sizeof(p->gas), cm_item_prop(item, "cm:gas"), "NULL");
    copy_text(p->sector, sizeof(p->sector), cm_item_prop(item, "cm:plume:sector"), "NULL");
    copy_text(p->date, sizeof(p->date), cm_item_prop(item, "datetime"), "");
    if (s->keep_items && !(p->item = cJSON_Duplicate(item, true)))
        return -ENOMEM;
    s->n++;
    return 0;
}

/* One source: the plumes (indexes into the set) of one cluster. */
struct source {
    char name[SOURCE_NAME_MAX];
    struct cluster_point centroid;
    double emission_avg; /* NAN: no plume has an emission */
    size_t *members, n;
    const char *gas, *sector;
};

struct sources {
    struct source *v;
    size_t n;
    size_t *members; /* every member list, back to back */
};

static void sources_free(struct sources *s)
{
    free(s->v);
    free(s->members);
    memset(s, 0, sizeof(*s));
}

static int by_group(const void *a, const void *b, void *ctx)
{
    const struct plume_pt *v = ctx;
    const struct plume_pt *x = &v[*(const size_t *)a], *y = &v[*(const size_t *)b];
    int c = strcmp(x->gas, y->gas);
    if (!c)
        c = strcmp(x->sector, y->sector);
    return c ? c
             : (*(const size_t *)a > *(const size_t *)b) -
                   (*(const size_t *)a < *(const size_t *)b);
}

static void format_name(struct source *src, double eps)
{
    snprintf(src->name, sizeof(src->name), "%s_%s_%gm_%.5f_%.5f", src->gas, src->sector, eps,
             src->centroid.lon, src->centroid.lat);
}

/* Clusters each gas and sector apart; keeps clusters of minpoints or more. */
static int find_sources(const struct plume_set *set, double eps, long long minpoints,
                        struct sources *out)
{
    memset(out, 0, sizeof(*out));
    size_t n = set->n;
    if (n == 0)
        return 0;
    size_t *order = malloc(n * sizeof(*order));
    struct cluster_point *pts = malloc(n * sizeof(*pts));
    size_t *label = malloc(n * sizeof(*label));
    out->members = malloc(n * sizeof(*out->members));
    out->v = calloc(n, sizeof(*out->v));
    int rc = order && pts && label && out->members && out->v ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++)
        order[i] = i;
    if (rc == 0)
        qsort_r(order, n, sizeof(*order), by_group, set->v);
    size_t used = 0;
    for (size_t g = 0; rc == 0 && g < n;) {
        size_t end = g;
        while (end < n && strcmp(set->v[order[g]].gas, set->v[order[end]].gas) == 0 &&
               strcmp(set->v[order[g]].sector, set->v[order[end]].sector) == 0)
            end++;
        size_t k = 0;
        for (size_t i = g; i < end; i++)
            pts[i - g] = set->v[order[i]].pt;
        rc = cluster_points(pts, end - g, eps, label, &k);
        for (size_t c = 0; rc == 0 && c < k; c++) {
            struct source *src = &out->v[out->n];
            src->members = out->members + used;
            double lon = 0, lat = 0, sum = 0;
            size_t with_emission = 0;
            for (size_t i = g; i < end; i++) {
                if (label[i - g] != c)
                    continue;
                const struct plume_pt *p = &set->v[order[i]];
                src->members[src->n++] = order[i];
                lon += p->pt.lon;
                lat += p->pt.lat;
                if (!isnan(p->emission)) {
                    sum += p->emission;
                    with_emission++;
                }
            }
            if ((long long)src->n < minpoints) {
                src->n = 0;
                continue;
            }
            used += src->n;
            src->centroid = (struct cluster_point){lon / (double)src->n, lat / (double)src->n};
            src->emission_avg = with_emission ? sum / (double)with_emission : NAN;
            src->gas = set->v[order[g]].gas;
            src->sector = set->v[order[g]].sector;
            format_name(src, eps);
            out->n++;
        }
        g = end;
    }
    free(order);
    free(pts);
    free(label);
    if (rc < 0)
        sources_free(out);
    return rc;
}

static cJSON *point_json(struct cluster_point p)
{
    cJSON *g = cJSON_CreateObject();
    cJSON_AddStringToObject(g, "type", "Point");
    cJSON *c = cJSON_AddArrayToObject(g, "coordinates");
    cJSON_AddItemToArray(c, cJSON_CreateNumber(round(p.lon * 1e5) / 1e5));
    cJSON_AddItemToArray(c, cJSON_CreateNumber(round(p.lat * 1e5) / 1e5));
    return g;
}

static int by_count_then_name(const void *a, const void *b)
{
    const struct source *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* eps and minpoints; false with e set when invalid. */
static bool parse_cluster_params(struct request *r, double *eps, long long *minpoints,
                                 struct cm_error *e)
{
    const char *v = request_query(r, "eps");
    char *end;
    *eps = DEFAULT_EPS_M;
    *minpoints = 1;
    if (v) {
        *eps = strtod(v, &end);
        if (!*v || *end || !(*eps > 0) || *eps > MAX_EPS_M) {
            snprintf(e->param, sizeof(e->param), "eps");
            snprintf(e->type, sizeof(e->type), "value_error");
            snprintf(e->msg, sizeof(e->msg),
                     "eps must be a number of metres, above 0 and at most %g", MAX_EPS_M);
            return false;
        }
    }
    v = request_query(r, "minpoints");
    if (v) {
        *minpoints = strtoll(v, &end, 10);
        if (!*v || *end || *minpoints < 1 || *minpoints > MAX_PLUMES) {
            snprintf(e->param, sizeof(e->param), "minpoints");
            snprintf(e->type, sizeof(e->type), "value_error");
            snprintf(e->msg, sizeof(e->msg), "minpoints must be an integer from 1 to %d",
                     MAX_PLUMES);
            return false;
        }
    }
    return true;
}

static void reply_collect_error(struct request *r, int rc)
{
    if (rc == -E2BIG) {
        struct cm_error e = {"limit", "", "value_error"};
        snprintf(e.msg, sizeof(e.msg),
                 "more than %d plumes match; narrow the filters (bbox, datetime, sectors, ...)",
                 MAX_PLUMES);
        cm_reply_invalid(r, &e);
    } else {
        api_reply_catalog_error(r, rc);
    }
}

static void h_sources(struct request *r)
{
    struct principal p = {0};
    struct cm_search s = {0};
    struct cm_error e;
    struct plume_set set = {0};
    struct sources found = {0};
    struct viewer v;
    double eps;
    long long minpoints;
    int rc = 0;
    if (!cm_caller(r, &p, false, &v))
        goto out;
    if (!parse_cluster_params(r, &eps, &minpoints, &e) ||
        !cm_parse_plume_search(r, &v, &s, &e, &rc)) {
        cm_reply_invalid(r, &e);
        goto out;
    }
    if (rc == 0)
        rc = cm_search_each(request_app(r)->catalog, &s, MAX_PLUMES, collect_plume, &set);
    if (rc == 0)
        rc = find_sources(&set, eps, minpoints, &found);
    if (rc < 0) {
        reply_collect_error(r, rc);
        goto out;
    }
    if (found.n > 1)
        qsort(found.v, found.n, sizeof(*found.v), by_count_then_name);
    cJSON *fc = cJSON_CreateObject();
    cJSON_AddStringToObject(fc, "type", "FeatureCollection");
    cJSON *features = cJSON_AddArrayToObject(fc, "features");
    for (size_t i = 0; i < found.n; i++) {
        const struct source *src = &found.v[i];
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "type", "Feature");
        cJSON_AddItemToObject(f, "geometry", point_json(src->centroid));
        cJSON *props = cJSON_AddObjectToObject(f, "properties");
        cJSON_AddStringToObject(props, "source_name", src->name);
        cJSON_AddNumberToObject(props, "plume_count", (double)src->n);
        if (isnan(src->emission_avg))
            cJSON_AddNullToObject(props, "emission_avg");
        else
            cJSON_AddNumberToObject(props, "emission_avg", round(src->emission_avg * 10) / 10);
        cJSON_AddStringToObject(props, "sector", src->sector);
        cJSON_AddStringToObject(props, "gas", src->gas);
        cJSON_AddItemToArray(features, f);
    }
    reply_json(r, 200, fc);
out:
    sources_free(&found);
    plume_set_free(&set);
    cm_search_free(&s);
    principal_free(&p);
}

/* ---- one source -------------------------------------------------------------- */

/* {gas}_{sector}_{eps}m_{lon}_{lat}: the parts, or false for a name no
 * source can have. */
static bool parse_source_name(const char *name, char gas[16], char sector[16], double *eps)
{
    const char *u1 = strchr(name, '_'), *u2 = u1 ? strchr(u1 + 1, '_') : NULL;
    if (!u1 || !u2 || u1 - name >= 16 || u2 - u1 - 1 >= 16 || u1 == name || u2 == u1 + 1)
        return false;
    snprintf(gas, 16, "%.*s", (int)(u1 - name), name);
    snprintf(sector, 16, "%.*s", (int)(u2 - u1 - 1), u1 + 1);
    char *end;
    *eps = strtod(u2 + 1, &end);
    return *eps > 0 && *eps <= MAX_EPS_M && end[0] == 'm' && end[1] == '_';
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted, distinct "YYYY-MM-DD" dates as a JSON array. */
static cJSON *dates_json(struct strlist *dates)
{
    if (dates->n > 1)
        qsort(dates->v, dates->n, sizeof(*dates->v), cmp_str);
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < dates->n; i++)
        if (i == 0 || strcmp(dates->v[i], dates->v[i - 1]) != 0)
            cJSON_AddItemToArray(a, cJSON_CreateString(dates->v[i]));
    return a;
}

static int add_scene(void *ctx, const cJSON *item)
{
    cJSON *scenes = ctx;
    cJSON *s = cm_scene_json(item);
    if (!s)
        return -ENOMEM;
    cJSON_AddItemToArray(scenes, s);
    return 0;
}

/* The visible scenes whose footprint holds the point. */
static int scenes_over(struct request *r, const struct viewer *v, struct cluster_point pt,
                       cJSON *out)
{
    struct cm_search s = {0};
    char err[64];
    cJSON *g = point_json(pt);
    s.geom = g ? catalog_geom_parse(g, err, sizeof(err)) : NULL;
    cJSON_Delete(g);
    int rc = s.geom ? 0 : -ENOMEM;
    s.q.intersects = s.geom;
    if (rc == 0)
        rc = cm_search_in(request_app(r)->catalog, v, CM_SCENE_COLLECTION_PREFIX, &s);
    if (rc == 0)
        rc = cm_search_each(request_app(r)->catalog, &s, MAX_PLUMES, add_scene, out);
    cm_search_free(&s);
    return rc;
}

static void h_source(struct request *r)
{
    struct principal p = {0};
    struct cm_search s = {0};
    struct plume_set set = {.keep_items = true};
    struct sources found = {0};
    struct strlist obs = STRLIST_INIT, det = STRLIST_INIT;
    struct viewer v;
    char gas[16], sector[16];
    double eps;
    int rc = 0;
    if (!cm_caller(r, &p, false, &v))
        goto out;
    const char *name = request_param(r, 0);
    if (!parse_source_name(name, gas, sector, &eps)) {
        api_reply_not_found(r, "Source not found");
        goto out;
    }
    /* Every published plume of that gas and sector the caller can see:
     * what sources.geojson clustered. */
    struct cm_error e;
    if (!cm_parse_plume_search(r, &v, &s, &e, &rc)) {
        cm_reply_invalid(r, &e);
        goto out;
    }
    if (rc == 0)
        rc = cm_search_each(request_app(r)->catalog, &s, MAX_PLUMES, collect_plume, &set);
    /* Only the named gas and sector take part. */
    size_t kept = 0;
    for (size_t i = 0; rc == 0 && i < set.n; i++) {
        if (strcmp(set.v[i].gas, gas) == 0 && strcmp(set.v[i].sector, sector) == 0)
            set.v[kept++] = set.v[i];
        else
            cJSON_Delete(set.v[i].item);
    }
    if (rc == 0)
        set.n = kept;
    if (rc == 0)
        rc = find_sources(&set, eps, 1, &found);
    if (rc < 0) {
        reply_collect_error(r, rc);
        goto out;
    }
    const struct source *src = NULL;
    for (size_t i = 0; i < found.n && !src; i++)
        if (strcmp(found.v[i].name, name) == 0)
            src = &found.v[i];
    if (!src) {
        api_reply_not_found(r, "Source not found");
        goto out;
    }
    char base[320];
    request_base_url(r, base, sizeof(base));
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "source_name", src->name);
    cJSON_AddItemToObject(body, "point", point_json(src->centroid));
    cJSON *plumes = cJSON_AddArrayToObject(body, "plumes");
    for (size_t i = 0; i < src->n; i++) {
        const struct plume_pt *pp = &set.v[src->members[i]];
        cJSON_AddItemToArray(plumes, cm_plume_json(pp->item, base));
        strlist_add(&det, pp->date);
    }
    cJSON *scenes = cJSON_AddArrayToObject(body, "scenes");
    rc = scenes_over(r, &v, src->centroid, scenes);
    const cJSON *sc;
    cJSON_ArrayForEach(sc, scenes)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(sc, "timestamp");
        if (cJSON_IsString(t)) {
            char day[11];
            snprintf(day, sizeof(day), "%s", t->valuestring);
            strlist_add(&obs, day);
        }
    }
    cJSON_AddItemToObject(body, "observation_dates", dates_json(&obs));
    cJSON_AddItemToObject(body, "detection_dates", dates_json(&det));
    if (rc < 0) {
        cJSON_Delete(body);
        api_reply_catalog_error(r, rc);
    } else {
        reply_json(r, 200, body);
    }
out:
    strlist_free(&obs);
    strlist_free(&det);
    sources_free(&found);
    plume_set_free(&set);
    cm_search_free(&s);
    principal_free(&p);
}

void api_catalog_sources_register(struct server *srv)
{
    server_route(srv, "GET", "/api/v1/catalog/sources.geojson", h_sources, 0);
    server_route(srv, "GET", "/api/v1/catalog/source/{}", h_source, 0);
}
