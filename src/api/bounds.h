/* A token's resource bounds (auth/resources.h) applied to catalog reads, so
 * that an out-of-bounds record is invisible in exactly the way a record the
 * caller's groups cannot see is: absent from searches and their counts, 404
 * by id. Called on the thread running a handler. */
#ifndef TESSERA_API_BOUNDS_H
#define TESSERA_API_BOUNDS_H

#include "auth/auth.h"
#include "catalog/catalog.h"
#include "catalog/filter.h"
#include "util/strlist.h"

/* Who reads the catalog: the caller's groups (NULL = anonymous) and
 * resource bounds (NULL or empty = none), borrowed from a principal. */
struct viewer {
    const struct strlist *groups;
    const struct strlist *bounds;
};

/* The view of an authenticated principal: its groups and bounds. */
static inline struct viewer viewer_of(const struct principal *p)
{
    return (struct viewer){&p->groups, &p->resources};
}

/* catalog_collections and catalog_collection_get as the viewer sees them:
 * a collection the bounds do not reach at all is missing (-ENOENT). */
int bounds_collections(struct catalog *cat, const struct viewer *v, cJSON **out);
int bounds_collection_get(struct catalog *cat, const struct viewer *v, const char *id, cJSON **out);

/* 0 when the viewer's bounds reach the asset key: no bounds, the key lies
 * under an asset prefix or under "<collection>/" of a collection bound, or
 * a visible item of a bound collection has the asset (an L4A plume's
 * rasters live under the L3A collection). -ENOENT when not, or -errno.
 * Whether the groups see the asset at all is the caller's own test. */
int bounds_asset_reachable(struct catalog *cat, const struct viewer *v, const char *key);

/* Narrows a search to what bounds (NULL or empty: none) reach. collections
 * (owned by the caller; empty = any) keeps the collections bounds reach, or
 * becomes them when it was empty and they are few; *filter (owned, NULL or
 * normalized) is ANDed with the items the bounds reach inside collections
 * they reach only in part (those with an asset under a bound prefix), and
 * stays normalized. 0; 1 when no requested collection is reachable
 * (collections is then empty: nothing to search); -ENOMEM. */
int bounds_narrow_search(const struct strlist *bounds, struct strlist *collections,
                         struct filter_node **filter);

/* 0 when the item (collection, id) is within the viewer's bounds, -ENOENT
 * when it is not (or the groups cannot see it), or -errno. */
int bounds_item_reachable(struct catalog *cat, const struct viewer *v, const char *collection,
                          const char *id);

#endif
