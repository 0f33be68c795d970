/* GET /api/v1/catalog/download/scenes.gpkg: the scenes the caller can see
 * (intersects, datetime, instruments, ids as UUIDs or names), one page of
 * limit/offset, as an OGC GeoPackage with the layer "scenes" in EPSG:4326
 * (catalog/gpkg.c) and the pagination-* headers. limit=0 gives the empty
 * layer, which still carries the schema. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/api_catalog_cm.h"
#include "app.h"
#include "catalog/gpkg.h"
#include "http/server.h"

#define GPKG_DEFAULT_LIMIT 1000
#define GPKG_TYPE "application/geopackage+sqlite3"

static bool is_uuid(const char *s)
{
    static const char form[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    if (strlen(s) != sizeof(form) - 1)
        return false;
    for (size_t i = 0; form[i]; i++)
        if (form[i] == '-' ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]))
            return false;
    return true;
}

/* field IN values, or NULL (*rc set) on failure. */
static struct filter_node *in_node(const char *field, const struct strlist *values, int *rc)
{
    struct filter_budget b = {0};
    bool over = false;
    struct filter_node *n = filter_node_new(&b, FILTER_IN, &over);
    *rc = n ? filter_set_field(n, field) : -ENOMEM;
    for (size_t i = 0; *rc == 0 && i < values->n; i++) {
        struct filter_value v = {.type = FILTER_STRING, .str = strdup(values->v[i])};
        *rc = v.str ? filter_add_value(&b, n, &v) : -ENOMEM;
    }
    if (*rc < 0) {
        filter_free(n);
        return NULL;
    }
    return n;
}

/* ids: scene UUIDs and names, either matching. */
static int ids_filter(struct request *r, struct cm_search *s)
{
    struct strlist all = STRLIST_INIT, uuids = STRLIST_INIT, names = STRLIST_INIT;
    int rc = cm_query_all(r, "ids", &all);
    for (size_t i = 0; rc == 0 && i < all.n; i++)
        rc = strlist_add(is_uuid(all.v[i]) ? &uuids : &names, all.v[i]);
    struct filter_node *by_uuid = NULL, *by_name = NULL, *any = NULL;
    if (rc == 0 && uuids.n)
        by_uuid = in_node("cm:scene_uuid", &uuids, &rc);
    if (rc == 0 && names.n)
        by_name = in_node("id", &names, &rc);
    if (rc == 0 && by_uuid && by_name) {
        struct filter_budget b = {0};
        bool over = false;
        any = filter_node_new(&b, FILTER_OR, &over);
        if (!any || filter_add_kid(any, by_uuid) < 0 || filter_add_kid(any, by_name) < 0)
            rc = -ENOMEM;
        by_uuid = by_name = NULL; /* owned by any now (or freed with it) */
    } else {
        any = by_uuid ? by_uuid : by_name;
        by_uuid = by_name = NULL;
    }
    if (rc == 0 && any) {
        s->filter = filter_and(s->filter, any);
        any = NULL;
        rc = s->filter ? 0 : -ENOMEM;
        filter_normalize(&s->filter);
        s->q.filter = s->filter;
    }
    filter_free(any);
    filter_free(by_uuid);
    filter_free(by_name);
    strlist_free(&all);
    strlist_free(&uuids);
    strlist_free(&names);
    return rc;
}

static void h_scenes_gpkg(struct request *r)
{
    struct principal p = {0};
    struct cm_search s = {0};
    struct cm_error e;
    const struct strlist *groups;
    cJSON *items = NULL, *rows = NULL;
    unsigned char *gpkg = NULL;
    size_t len = 0;
    int rc = 0;
    if (!cm_caller(r, &p, true, &groups))
        goto out;
    if (!cm_parse_paging(r, GPKG_DEFAULT_LIMIT, CM_MAX_LIMIT, true, &s, &e) ||
        !cm_parse_scene_search(r, groups, &s, &e, &rc)) {
        if (rc == 0)
            cm_reply_invalid(r, &e);
        else
            cm_reply_catalog_error(r, rc);
        goto out;
    }
    int64_t count = 0;
    rc = ids_filter(r, &s);
    if (rc == 0)
        rc = cm_search_run(request_app(r)->catalog, &s, &count, &items);
    rows = cJSON_CreateArray();
    const cJSON *it;
    cJSON_ArrayForEach(it, items) if (rc == 0 && rows)
    {
        cJSON *scene = cm_scene_json(it);
        if (!scene)
            rc = -ENOMEM;
        cJSON_AddItemToArray(rows, scene);
    }
    if (rc == 0)
        rc = rows ? gpkg_write_scenes(rows, &gpkg, &len) : -ENOMEM;
    if (rc == -EINVAL) {
        api_reply_error(r, 500, "A scene footprint is not a polygon", NULL);
        goto out;
    }
    if (rc < 0) {
        cm_reply_catalog_error(r, rc);
        goto out;
    }
    cm_pagination_headers(r, count, s.q.limit, s.q.offset);
    reply_header(r, "Content-Disposition", "attachment; filename=\"scenes.gpkg\"");
    reply_buffer(r, 200, GPKG_TYPE, (char *)gpkg, len);
    gpkg = NULL;
out:
    free(gpkg);
    cJSON_Delete(rows);
    cJSON_Delete(items);
    cm_search_free(&s);
    principal_free(&p);
}

void api_catalog_gpkg_register(struct server *srv)
{
    server_route(srv, "GET", "/api/v1/catalog/download/scenes.gpkg", h_scenes_gpkg, 0);
}
