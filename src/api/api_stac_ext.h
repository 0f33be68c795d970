/* The STAC API extensions of /search and /collections/{id}/items (query,
 * filter with CQL2 text and JSON, sort, fields) as api_stac.c uses them:
 * reading their parameters from a query string or a POST body, checking the
 * property names against what the caller can see, cutting returned items
 * down to the requested fields, the conformance classes they add, and the
 * /queryables routes. Called on the thread running the handler. */
#ifndef TESSERA_API_STAC_EXT_H
#define TESSERA_API_STAC_EXT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "api/bounds.h"
#include "auth/auth.h"
#include "catalog/catalog.h"
#include "catalog/fields.h"
#include "catalog/filter.h"

struct request;
struct server;

/* The STAC caller rule, for every STAC route: anonymous callers get the
 * Public view; a presented credential must be valid and hold `stac`, and
 * its groups and resource bounds make the view (p owns them). false when a
 * reply was sent. */
bool stac_viewer(struct request *r, struct principal *p, struct viewer *v);
/* Replies to a failed look-up of a collection: 404 when it is unknown or
 * hidden from the viewer, the catalog's error otherwise. true when rc is a
 * failure (a reply was sent), false for 0. */
bool stac_collection_failed(struct request *r, int rc);

/* The extension parameters of one search. Zero-initialized = none. */
struct stac_ext {
    struct filter_node *filter; /* the query and filter parameters, ANDed, normalized */
    struct catalog_sort sort;
    struct catalog_fields fields;
};

void stac_ext_free(struct stac_ext *e);
/* Reads query, filter, filter-lang, filter-crs, sortby and fields from the
 * query string (GET: filter-lang defaults to cql2-text) or from a search
 * body (POST: cql2-json). 0, -EINVAL with a message naming the parameter
 * or the culprit in msg, or -ENOMEM. */
int stac_ext_from_query(struct request *r, struct stac_ext *e, char *msg, size_t msglen);
int stac_ext_from_body(const cJSON *body, struct stac_ext *e, char *msg, size_t msglen);
/* Checks that every property the filter and the sort name is queryable for
 * the caller (some item they can see, in collection when not NULL, has it;
 * datetime, id and collection always are), then points q at the filter and
 * the sort. 0, -EINVAL (msg names the property) or -errno. */
int stac_ext_apply(struct catalog *cat, const char *collection, struct stac_ext *e,
                   struct catalog_query *q, char *msg, size_t msglen);
/* With fields active: the item JSON text cut down to the requested fields
 * (malloc'd, *outlen set); NULL when out of memory or the text is not JSON. */
char *stac_ext_fields_text(const struct stac_ext *e, const char *item, size_t len, size_t *outlen);
/* Appends the conformance classes of the extensions to arr. */
void stac_ext_conformance(cJSON *arr);
/* Registers GET /api/v1/stac/queryables and /collections/{id}/queryables. */
void api_stac_ext_register(struct server *srv);

#define STAC_QUERYABLES_REL "http://www.opengis.net/def/rel/ogc/1.0/queryables"

#endif
