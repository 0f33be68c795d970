/* The Carbon Mapper platform's catalog endpoints (CARBONMAPPER.md) over the
 * STAC catalog: plumes are the items of the L4A collections, scenes those of
 * the L2B ones, each seen through the caller's groups exactly as the STAC
 * API sees them (one search, one visibility rule). This file: plume lists
 * (JSON and CSV), one plume, and scenes; emission sources and the scenes
 * GeoPackage are api_catalog_sources.c and api_catalog_gpkg.c. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/api_catalog_cm.h"
#include "api/baseurl.h"
#include "api/sign.h"
#include "app.h"
#include "http/server.h"

#define PLUMES_DEFAULT_LIMIT 100
#define SCENES_DEFAULT_LIMIT 100

bool cm_caller(struct request *r, struct principal *p, bool required, struct viewer *v)
{
    *v = (struct viewer){NULL, NULL};
    if (!required && !auth_credential(r))
        return true;
    if (!api_authenticate(r, p, "catalog:read"))
        return false;
    *v = viewer_of(p);
    return true;
}

/* No visible collection of the kind: nothing to find (an empty list would
 * mean "any collection" to the catalog). */
static bool none_visible(const struct cm_search *s)
{
    return s->q.collections && s->q.collections->n == 0;
}

int cm_search_run(struct catalog *cat, struct cm_search *s, int64_t *matched, cJSON **items)
{
    if (none_visible(s)) {
        *matched = 0;
        *items = cJSON_CreateArray();
        return *items ? 0 : -ENOMEM;
    }
    if (s->q.limit == 0) { /* a count only */
        s->q.limit = 1;
        int rc = catalog_search(cat, &s->q, matched, items);
        s->q.limit = 0;
        cJSON_Delete(*items);
        *items = rc == 0 ? cJSON_CreateArray() : NULL;
        return rc == 0 && !*items ? -ENOMEM : rc;
    }
    return catalog_search(cat, &s->q, matched, items);
}

int cm_search_templates(struct catalog *cat, struct cm_search *s, int64_t *matched,
                        catalog_item_fn fn, void *ctx)
{
    if (none_visible(s)) {
        *matched = 0;
        return 0;
    }
    return catalog_search_each(cat, &s->q, matched, fn, ctx);
}

int cm_search_each(struct catalog *cat, struct cm_search *s, int64_t max,
                   int (*fn)(void *ctx, const cJSON *item), void *ctx)
{
    int64_t limit = s->q.limit, offset = s->q.offset, seen = 0, matched = 0;
    int rc = 0;
    s->q.limit = CM_MAX_LIMIT;
    for (s->q.offset = 0; rc == 0; s->q.offset += CM_MAX_LIMIT) {
        cJSON *items = NULL;
        rc = cm_search_run(cat, s, &matched, &items);
        if (rc == 0 && matched > max)
            rc = -E2BIG;
        int n = cJSON_GetArraySize(items);
        const cJSON *it;
        cJSON_ArrayForEach(it, items)
        {
            if (rc == 0)
                rc = fn(ctx, it);
        }
        cJSON_Delete(items);
        seen += n;
        if (n == 0 || seen >= matched) /* an empty page: the catalog changed meanwhile */
            break;
    }
    s->q.limit = limit;
    s->q.offset = offset;
    return rc;
}

/* ---- plumes/annotated and plume/{id} ------------------------------------ */

/* The plumes matching s but outside its bbox, within the bbox grown by half
 * its size on every side: what a map shows around the view. */
static int nearby(struct catalog *cat, struct cm_search *s, int64_t limit, cJSON **out)
{
    const double *b = s->bbox;
    double w = (b[2] >= b[0] ? b[2] - b[0] : b[2] + 360 - b[0]) / 2, h = (b[3] - b[1]) / 2;
    cJSON *box = filter_bbox_geojson(b);
    char err[64];
    struct catalog_geom *g = box ? catalog_geom_parse(box, err, sizeof(err)) : NULL;
    cJSON_Delete(box);
    struct filter_budget budget = {0};
    bool over = false;
    struct filter_node *outside = g ? filter_node_new(&budget, FILTER_S_INTERSECTS, &over) : NULL;
    if (!outside) {
        catalog_geom_free(g);
        return -ENOMEM;
    }
    outside->geom = g;
    outside->negated = true; /* the point is not in the bbox */
    struct catalog_query q = s->q;
    q.bbox[0] = w >= 90 ? -180 : fmod(b[0] - w + 540, 360) - 180;
    q.bbox[2] = w >= 90 ? 180 : fmod(b[2] + w + 540, 360) - 180;
    q.bbox[1] = fmax(-90, b[1] - h);
    q.bbox[3] = fmin(90, b[3] + h);
    q.offset = 0;
    q.limit = limit;
    q.page_only = true;
    struct filter_node *all = s->filter ? NULL : outside;
    /* The search's own filter stays owned by s: AND it under a node that
     * borrows it for this one query. */
    struct filter_node and = {.op = FILTER_AND};
    struct filter_node *kids[2] = {s->filter, outside};
    if (s->filter) {
        and.kids = kids;
        and.nkids = 2;
        all = &and;
    }
    q.filter = all;
    int64_t matched;
    int rc = catalog_search(cat, &q, &matched, out);
    filter_free(outside);
    return rc;
}

static void h_plumes_annotated(struct request *r)
{
    struct principal p = {0};
    struct cm_search s = {0};
    struct cm_error e;
    struct viewer v;
    cJSON *items = NULL, *near = NULL, *body = NULL;
    int rc = 0;
    if (!cm_caller(r, &p, false, &v))
        goto out;
    if (!cm_parse_paging(r, PLUMES_DEFAULT_LIMIT, CM_MAX_LIMIT, true, &s, &e) ||
        !cm_parse_plume_search(r, &v, &s, &e, &rc)) {
        if (rc == 0)
            cm_reply_invalid(r, &e);
        goto out;
    }
    struct catalog *cat = request_app(r)->catalog;
    int64_t in_bbox = 0, total = 0;
    if (rc == 0)
        rc = cm_search_run(cat, &s, &in_bbox, &items);
    total = in_bbox;
    if (rc == 0 && s.has_bbox) {
        cJSON *none = NULL;
        struct cm_search all = s;
        all.q.has_bbox = false;
        all.q.limit = 0;
        rc = cm_search_run(cat, &all, &total, &none);
        cJSON_Delete(none);
        if (rc == 0 && s.collections.n)
            rc = nearby(cat, &s, s.q.limit ? s.q.limit : 1, &near);
    }
    if (rc < 0) {
        api_reply_catalog_error(r, rc);
        goto out;
    }
    char base[320];
    request_base_url(r, base, sizeof(base));
    body = cJSON_CreateObject();
    cJSON_AddNumberToObject(body, "bbox_count", (double)in_bbox);
    cJSON_AddNumberToObject(body, "total_count", (double)total);
    cJSON_AddNumberToObject(body, "limit", (double)s.q.limit);
    cJSON_AddNumberToObject(body, "offset", (double)s.q.offset);
    cJSON *list = cJSON_AddArrayToObject(body, "items");
    const cJSON *it;
    cJSON_ArrayForEach(it, items) cJSON_AddItemToArray(list, cm_plume_json(it, base));
    list = cJSON_AddArrayToObject(body, "nearby_items");
    cJSON_ArrayForEach(it, near) cJSON_AddItemToArray(list, cm_plume_json(it, base));
    reply_json(r, 200, body);
out:
    cJSON_Delete(items);
    cJSON_Delete(near);
    cm_search_free(&s);
    principal_free(&p);
}

static void h_plume(struct request *r)
{
    struct principal p = {0};
    struct cm_search s = {0};
    struct viewer v;
    cJSON *items = NULL;
    if (!cm_caller(r, &p, false, &v))
        goto out;
    const char *id = request_param(r, 0);
    s.q.limit = 1;
    int rc = 0;
    if (cm_is_uuid(id)) {
        struct filter_budget b = {0};
        bool over = false;
        struct filter_node *n = filter_node_new(&b, FILTER_CMP, &over);
        struct filter_value uuid = {.type = FILTER_STRING, .str = strdup(id)};
        rc = n && uuid.str ? filter_set_field(n, "cm:plume_uuid") : -ENOMEM;
        if (rc == 0)
            rc = filter_add_value(&b, n, &uuid);
        else
            free(uuid.str);
        s.filter = n;
    } else {
        rc = strlist_add(&s.ids, id);
        s.q.ids = &s.ids;
    }
    if (rc == 0)
        rc = cm_search_in(request_app(r)->catalog, &v, CM_PLUME_COLLECTION_PREFIX, &s);
    int64_t matched = 0;
    if (rc == 0)
        rc = cm_search_run(request_app(r)->catalog, &s, &matched, &items);
    if (rc < 0) {
        api_reply_catalog_error(r, rc);
    } else if (cJSON_GetArraySize(items) == 0) {
        api_reply_not_found(r, "Plume not found");
    } else {
        char base[320];
        request_base_url(r, base, sizeof(base));
        reply_json(r, 200, cm_plume_json(cJSON_GetArrayItem(items, 0), base));
    }
out:
    cJSON_Delete(items);
    cm_search_free(&s);
    principal_free(&p);
}

/* ---- scenes ---------------------------------------------------------------- */

bool cm_scene_page(struct request *r, int64_t def_limit, struct principal *p, struct cm_search *s,
                   int64_t *count, cJSON **items)
{
    struct cm_error e;
    struct viewer v;
    int rc = 0;
    if (!cm_caller(r, p, true, &v))
        return false;
    if (!cm_parse_paging(r, def_limit, CM_MAX_LIMIT, true, s, &e) ||
        !cm_parse_scene_search(r, &v, s, &e, &rc)) {
        cm_reply_invalid(r, &e);
        return false;
    }
    if (rc == 0)
        rc = cm_search_run(request_app(r)->catalog, s, count, items);
    if (rc < 0) {
        api_reply_catalog_error(r, rc);
        return false;
    }
    return true;
}

static void h_scenes(struct request *r)
{
    struct principal p = {0};
    struct cm_search s = {0};
    cJSON *items = NULL;
    int64_t count = 0;
    if (!cm_scene_page(r, SCENES_DEFAULT_LIMIT, &p, &s, &count, &items))
        goto out;
    cJSON *body = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(body, "items");
    const cJSON *it;
    cJSON_ArrayForEach(it, items) cJSON_AddItemToArray(list, cm_scene_json(it));
    cJSON_AddNumberToObject(body, "count", (double)count);
    reply_json(r, 200, body);
out:
    cJSON_Delete(items);
    cm_search_free(&s);
    principal_free(&p);
}

void api_catalog_cm_register(struct server *srv)
{
    server_route(srv, "GET", "/api/v1/catalog/plumes/annotated", h_plumes_annotated, 0);
    server_route(srv, "GET", "/api/v1/catalog/plume/{}", h_plume, 0);
    server_route(srv, "GET", "/api/v1/catalog/scenes", h_scenes, 0);
    api_catalog_csv_register(srv);
    api_catalog_sources_register(srv);
    api_catalog_gpkg_register(srv);
    api_sign_register(srv);
}
