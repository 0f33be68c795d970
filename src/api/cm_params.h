/* Query parameters in the Carbon Mapper platform's conventions
 * (CARBONMAPPER.md "Conventions"), for the catalog endpoints under
 * /api/v1/catalog/: arrays as repeated keys, bbox as four repeated numbers,
 * intersects as GeoJSON text, datetime as start/end, limit/offset, and the
 * plume filters turned into a catalog search over the L4A collections. A bad
 * value gets a 422 in Django Ninja's shape, naming the parameter. Unknown
 * parameters are ignored, as on the platform. Handlers only; any thread. */
#ifndef TESSERA_CM_PARAMS_H
#define TESSERA_CM_PARAMS_H

#include <stdbool.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "api/bounds.h"
#include "catalog/filter.h"
#include "util/strlist.h"

struct request;

/* Collections whose items are plumes (emission estimates, level L4A): the
 * ids that start with this. One rule for every catalog endpoint, so the
 * plume set is the same wherever it is counted. */
#define CM_PLUME_COLLECTION_PREFIX "l4a-"
/* Scenes are level L2B items. */
#define CM_SCENE_COLLECTION_PREFIX "l2b-"
#define CM_MAX_LIMIT 1000

/* Why a parameter was refused: the 422 body's loc, msg and type. */
struct cm_error {
    char param[64];
    char msg[256];
    char type[48];
};

/* Replies 422 {"detail": [{"type", "loc": ["query", param], "msg"}]}. */
void cm_reply_invalid(struct request *r, const struct cm_error *e);

/* A search of the catalog built from query parameters. Owns what q points
 * to; free with cm_search_free. */
struct cm_search {
    struct catalog_query q;
    struct strlist collections, ids;
    struct catalog_geom *geom;
    struct filter_node *filter;
    struct catalog_sort sort;
    bool has_bbox;
    double bbox[4]; /* the bbox parameter, also in q */
};
void cm_search_free(struct cm_search *s);

/* Every value of a repeated key, in order, into out. 0 or -ENOMEM. */
int cm_query_all(struct request *r, const char *key, struct strlist *out);

/* limit (default def, 0..max unless zero_ok is false: 1..max) and offset
 * (default 0) into q. False with e set when invalid. */
bool cm_parse_paging(struct request *r, int64_t def, int64_t max, bool zero_ok, struct cm_search *s,
                     struct cm_error *e);
/* intersects, datetime and bbox (4 repeated numbers). */
bool cm_parse_where(struct request *r, struct cm_search *s, struct cm_error *e);
/* The plume filters, sort and the where-parameters: s searches the plume
 * collections the viewer sees, within its bounds. False with e
 * set when invalid; *rc < 0 when the catalog failed instead (e unset). */
bool cm_parse_plume_search(struct request *r, const struct viewer *v, struct cm_search *s,
                           struct cm_error *e, int *rc);
/* intersects, datetime, instruments and ids (scene UUIDs or names): s
 * searches the visible scene collections. As cm_parse_plume_search. */
bool cm_parse_scene_search(struct request *r, const struct viewer *v, struct cm_search *s,
                           struct cm_error *e, int *rc);
/* True for the 8-4-4-4-12 hex form of a UUID. */
bool cm_is_uuid(const char *s);
/* Points s at the collections whose ids start with prefix that the viewer
 * sees (groups and bounds), and narrows s->filter (normalized or NULL) to
 * the bounds; set the filter first. 0 or -errno. */
int cm_search_in(struct catalog *cat, const struct viewer *v, const char *prefix,
                 struct cm_search *s);

#endif
