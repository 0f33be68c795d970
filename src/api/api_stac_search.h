/* The parameters of a STAC search (/search and /collections/{id}/items),
 * from a query string or a POST body, into a catalog query: core and item
 * search parameters, the extensions (api_stac_ext.h) and sign. Unknown or
 * repeated parameters are refused by name. Internal to api_stac*.c; called on
 * the thread running the handler. */
#ifndef TESSERA_API_STAC_SEARCH_H
#define TESSERA_API_STAC_SEARCH_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/api_stac_ext.h"
#include "catalog/catalog.h"
#include "util/buf.h"

struct request;

#define DEFAULT_LIMIT 10
#define STAC_MAX_LIMIT 100 /* advertised in openapi.json */

/* A search page depends on the catalog, whose generation is read before the
 * search, and on what makes the key: method, path (with the collection of
 * /items), the links' base (scheme and Host), the caller's groups, and the
 * query arguments in order or the POST body. */
struct page_key {
    struct buf key; /* length-prefixed parts */
    uint64_t gen;   /* 0: not cached */
};

struct search {
    struct catalog_query q;
    const struct strlist *bounds;     /* the caller's resource bounds */
    const struct principal *caller;   /* who signs, with sign=true */
    bool sign;                        /* sign=true: asset hrefs carry signatures */
    struct strlist ids, colls;
    struct catalog_geom *geom;
    struct stac_ext ext; /* query, filter, sortby, fields */
    struct page_key page;
    char msg[320]; /* the 400 message when parsing fails */
};

void search_free(struct search *s);
/* Fill s from a GET query string or a POST search body. 0; -EINVAL with the
 * 400 message in s->msg; -ENOMEM. */
int search_from_query(struct request *r, struct search *s);
int search_from_body(const cJSON *body, struct search *s);
/* sign=true|false: asset hrefs signed for the caller (api/sign.h). 0, or
 * -EINVAL with msg. */
int parse_sign(const char *v, bool *sign, char *msg, size_t msglen);

#endif
