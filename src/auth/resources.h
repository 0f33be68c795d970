/* Resource bounds of a token (issue 15): the list of what a pk/sk/tk may
 * reach, each entry "collection:<id>" (a STAC collection, its items and
 * assets) or "asset:<prefix>" (asset keys starting with prefix, and the items
 * owning such an asset). An empty list means unrestricted. Asset keys follow
 * the platform's layout, "<collection>/<YYYY>/<MM>/<DD>/<item>/<file>", so a
 * collection bound also covers the keys under "<collection>/".
 * Pure functions on caller-owned lists; any thread. */
#ifndef TESSERA_RESOURCES_H
#define TESSERA_RESOURCES_H

#include <stdbool.h>
#include <stddef.h>

#include "util/strlist.h"

#define RESOURCES_MAX 32     /* entries on one token */
#define RESOURCE_MAX_LEN 256 /* bytes of one entry, prefix included */
#define RESOURCE_COLLECTION "collection:"
#define RESOURCE_ASSET "asset:"

/* Checks every entry's syntax and the count, removes duplicates and sorts
 * the list, so that equal bounds compare equal. 0, or -EINVAL with a
 * message naming the first bad entry in err (it begins "resources"). */
int resources_normalize(struct strlist *l, char *err, size_t errlen);

/* True when child reaches nothing parent does not: every entry of child is
 * within an entry of parent. An empty parent covers everything; an empty
 * child (unrestricted) only an empty parent. A collection is within only
 * that same collection (an asset prefix does not cover items without
 * assets); an asset prefix is within a longer-or-equal prefix it starts
 * with, or within the collection whose keys it lies under. */
bool resources_cover(const struct strlist *parent, const struct strlist *child);

/* The whole collection is reachable (no bounds, or collection:id). */
bool resources_collection_whole(const struct strlist *b, const char *id);
/* Some of the collection may be reachable: it is whole, or an asset prefix
 * may fall under "<id>/" (the prefix and "<id>/" agree as far as the
 * shorter goes). */
bool resources_collection_some(const struct strlist *b, const char *id);
/* The asset key is reachable: no bounds, it starts with an asset prefix, or
 * it lies under "<collection>/" of a collection bound. */
bool resources_asset_allowed(const struct strlist *b, const char *key);

/* The asset prefixes of b (pointers into b's strings, past "asset:"), in
 * order, into out[0..max); returns how many there are. */
size_t resources_asset_prefixes(const struct strlist *b, const char **out, size_t max);
/* The same for the collection ids of b (past "collection:"). */
size_t resources_collection_ids(const struct strlist *b, const char **out, size_t max);

#endif
