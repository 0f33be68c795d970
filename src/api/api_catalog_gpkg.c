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

static void h_scenes_gpkg(struct request *r)
{
    struct principal p = {0};
    struct cm_search s = {0};
    cJSON *items = NULL, *rows = NULL;
    unsigned char *gpkg = NULL;
    size_t len = 0;
    int64_t count = 0;
    if (!cm_scene_page(r, GPKG_DEFAULT_LIMIT, &p, &s, &count, &items))
        goto out;
    int rc = 0;
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
        api_reply_catalog_error(r, rc);
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
