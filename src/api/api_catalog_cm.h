/* Shared by the Carbon Mapper catalog endpoint modules (api_catalog_*.c). */
#ifndef TESSERA_API_CATALOG_CM_H
#define TESSERA_API_CATALOG_CM_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "api/cm_params.h"
#include "api/cm_records.h"
#include "auth/auth.h"

struct server;

/* The caller of a catalog endpoint: anonymous is allowed unless required
 * (then 401); a presented credential must be valid (401) and hold
 * catalog:read (403); its groups and bounds make the view (p owns them).
 * False when a reply was sent. Call principal_free(p) in every case. */
bool cm_caller(struct request *r, struct principal *p, bool required, struct viewer *v);
/* Runs s: *matched visible matches and *items the page (caller owns), an
 * empty page for limit 0 or when no collection of the kind is visible. */
int cm_search_run(struct catalog *cat, struct cm_search *s, int64_t *matched, cJSON **items);
/* The same for a page of at least one item, calling fn with each item's
 * template (catalog.h) in page order instead of collecting documents. */
int cm_search_templates(struct catalog *cat, struct cm_search *s, int64_t *matched,
                        catalog_item_fn fn, void *ctx);
/* Calls fn with every item s matches, in its order, a page of
 * CM_MAX_LIMIT at a time (s->q.limit and offset are used and restored);
 * stops at max items (-E2BIG then) or when fn returns non-zero (returned). */
int cm_search_each(struct catalog *cat, struct cm_search *s, int64_t max,
                   int (*fn)(void *ctx, const cJSON *item), void *ctx);
/* A scenes request up to its page: the caller (catalog:read required),
 * limit (default def_limit) and offset, the scene parameters, then the
 * search into *count and *items (caller frees). False when a reply was
 * sent (401, 403, 422, 503); call principal_free and cm_search_free in
 * every case. */
bool cm_scene_page(struct request *r, int64_t def_limit, struct principal *p, struct cm_search *s,
                   int64_t *count, cJSON **items);
/* The pagination-count/-limit/-offset headers of the downloads. */
void cm_pagination_headers(struct request *r, int64_t count, int64_t limit, int64_t offset);

void api_catalog_csv_register(struct server *srv); /* api_catalog_csv.c: plume-csv */
/* api_catalog_sources.c: sources.geojson, source/{name} */
void api_catalog_sources_register(struct server *srv);
/* api_catalog_gpkg.c: download/scenes.gpkg */
void api_catalog_gpkg_register(struct server *srv);

#endif
