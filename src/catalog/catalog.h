/* The STAC catalog: collections and items with their visibility groups, a
 * spatial index, and search. Stored by a driver chosen at open: its own SQLite
 * file (catalog.db in the data directory) by default, or PostgreSQL. Loaded by
 * `tessera stac import`, read by api_stac.c.
 * Thread-safe: any thread may search; imports may run while serving (also from
 * another process: readers see the state before or after an import, never a
 * part of it). */
#ifndef TESSERA_CATALOG_H
#define TESSERA_CATALOG_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog/geom.h"
#include "util/strlist.h"

struct catalog;
struct catalog_sort;
struct filter_node;

#define CATALOG_PUBLIC_GROUP "Public"
/* Items in one search page: the STAC API serves at most STAC_MAX_LIMIT
 * (api_stac.c), the platform's catalog endpoints up to this. */
#define CATALOG_MAX_LIMIT 1000

/* Opens the catalog, creating and migrating its schema. database_url NULL,
 * "", a path or a "sqlite:" URL means the SQLite file data_dir/catalog.db;
 * "postgresql://..." or "postgres://..." means that PostgreSQL database
 * (data_dir is then unused). NULL on failure (logged). Free with
 * catalog_close. */
struct catalog *catalog_open(const char *data_dir, const char *database_url);
/* Closes every pooled connection. No other thread may still use cat. NULL ok. */
void catalog_close(struct catalog *cat);

struct catalog_import_result {
    size_t files;       /* JSON files read */
    size_t collections; /* collections written (new or replaced) */
    size_t items;       /* items written (new or replaced) */
    size_t skipped;     /* documents of other STAC types (e.g. Catalog), ignored */
};

/* Called with the counts so far after each file, and once more with
 * committing = true before the commit (a progress line). */
struct catalog_import_progress {
    void (*fn)(void *ctx, const struct catalog_import_result *so_far, bool committing);
    void *ctx;
};

/* Imports a STAC Collection, Item or ItemCollection file, or every *.json /
 * *.geojson file under a directory (recursively), all in one transaction: on
 * any invalid document nothing is loaded and err says which file and why.
 * Documents with the same id (items: same collection and id) are replaced.
 * Every item must name a collection that is in the import or already loaded.
 * visibility: groups allowed to see the imported documents (NULL or empty =
 * Public). 0 or -errno. */
int catalog_import_path(struct catalog *cat, const char *path, const struct strlist *visibility,
                        char *err, size_t errlen);
/* Same, and reports counts in res (may be NULL) and, on the way, to
 * progress (may be NULL). */
int catalog_import_path_ex(struct catalog *cat, const char *path, const struct strlist *visibility,
                           const struct catalog_import_progress *progress,
                           struct catalog_import_result *res, char *err, size_t errlen);

/* A number that changes whenever the catalog may have changed since it was
 * last asked (a commit by any process, this one included). 0 when that
 * cannot be told cheaply: then nothing derived from the catalog may be
 * cached. Ask before the reads whose result is to be cached, so that a
 * commit in between shows as a change the next time. Any thread. */
uint64_t catalog_generation(struct catalog *cat);
/* Tells the catalog that its data changed elsewhere: on PostgreSQL the
 * generation cannot be probed from a file, so the node's change-feed thread
 * calls this when it applies a PG_CHANGE_CATALOG entry (this process's own
 * imports move the generation by themselves). A no-op on SQLite, whose probe
 * sees every commit. NULL is a no-op. Any thread. */
void catalog_note_change(struct catalog *cat);

/* --- Reads. groups = the caller's groups (NULL = anonymous); Public is always
 * implied. Hidden documents behave exactly like missing ones. cat may be NULL
 * (an empty catalog). Any thread. --- */

/* *out = JSON array of the visible collection documents (ordered by id); the
 * caller owns it. 0 or -errno. */
int catalog_collections(struct catalog *cat, const struct strlist *groups, cJSON **out);
/* *out = the collection document (caller owns). 0, -ENOENT (missing or
 * hidden) or -errno. */
int catalog_collection_get(struct catalog *cat, const struct strlist *groups, const char *id,
                           cJSON **out);
/* *out = the item document (caller owns). 0, -ENOENT or -errno. */
int catalog_item_get(struct catalog *cat, const struct strlist *groups, const char *collection,
                     const char *id, cJSON **out);
/* 0 when some visible item has an asset whose href is key (relative to the
 * asset directory), -ENOENT when none does, else -errno. */
int catalog_asset_visible(struct catalog *cat, const struct strlist *groups, const char *key);
/* The same, and the media type ("type") that item declares for the asset
 * into type ("" when it declares none or it does not fit). When several
 * visible items reference key, the first by collection and id speaks. */
int catalog_asset_type(struct catalog *cat, const struct strlist *groups, const char *key,
                       char *type, size_t typelen);
/* The asset key an href refers to (hrefs relative to the asset directory,
 * or absolute URLs of the asset endpoint), percent-decoded, into key. False
 * for hrefs that name no servable asset (elsewhere, or leaving the
 * directory). Pure; any thread. */
bool catalog_asset_key(const char *href, char *key, size_t keylen);

/* Item templates. A template is the item's JSON text with its navigation
 * links (self, root, parent, collection, ...) removed, "links" moved to the
 * end and the final "]}" cut off, so that a caller appends its own links and
 * "]}" without parsing the document. Asset hrefs relative to the asset
 * directory begin with CATALOG_ASSET_MARKER (as written in the JSON text),
 * followed by the percent-encoded key: replace the marker with
 * "<scheme>://<host>/api/v1/catalog/asset/". The template ends with '[' when
 * no links remain. */
#define CATALOG_ASSET_MARKER "\\u001etessera-asset\\u001e"
/* The same marker as a JSON parser returns it: U+001E is a record
 * separator, which cannot occur unescaped in JSON text, so the marker never
 * collides with document content. */
#define CATALOG_ASSET_MARKER_RAW "\x1etessera-asset\x1e"
typedef int (*catalog_item_fn)(void *ctx, const char *collection, const char *id,
                               const char *tpl, size_t len);
/* Calls fn with the template of one visible item. 0, -ENOENT or -errno. */
int catalog_item_each(struct catalog *cat, const struct strlist *groups, const char *collection,
                      const char *id, catalog_item_fn fn, void *ctx);

struct catalog_query {
    const struct strlist *groups; /* caller's groups, NULL = anonymous */
    bool has_bbox;
    double bbox[4];               /* minx, miny, maxx, maxy; minx > maxx crosses 180° */
    bool has_start, has_end;      /* datetime interval bounds, ms, inclusive */
    int64_t start, end;
    const struct strlist *ids;          /* NULL or empty = any */
    const struct strlist *collections;  /* NULL or empty = any */
    const struct catalog_geom *intersects; /* NULL = any */
    int64_t limit;                /* 1..CATALOG_MAX_LIMIT */
    int64_t offset;               /* >= 0 */
    /* A filter (filter.h) already in normal form (filter_normalize), or
     * NULL. The search never checks its property names: see
     * catalog_properties_visible. */
    const struct filter_node *filter;
    /* A sort order (filter.h), or NULL / no keys for the default. Ties are
     * broken by collection, then id, so that pages never overlap. */
    const struct catalog_sort *sort;
    /* The caller needs the page only: *matched may then be -1 (not
     * counted) when the page alone does not tell it. */
    bool page_only;
};

/* Runs a search. *matched = number of visible matching items, *items = JSON
 * array of the page (in the query's order: by default newest first, then
 * collection, id; caller owns). 0 or -errno (-EINVAL for a bad query,
 * -E2BIG for a filter too large for the database). */
int catalog_search(struct catalog *cat, const struct catalog_query *q, int64_t *matched,
                   cJSON **items);

/* Same search, but calls fn with each item's template, in page order; a
 * non-zero return from fn stops and is returned. */
int catalog_search_each(struct catalog *cat, const struct catalog_query *q, int64_t *matched,
                        catalog_item_fn fn, void *ctx);

/* The kinds of property value the catalog tells apart (queryables, and the
 * type rules of filter.h). A TIMESTAMP is a string that is an RFC 3339
 * date-time. */
enum catalog_prop_kind {
    CATALOG_PROP_BOOL = 1,
    CATALOG_PROP_NUMBER = 2,
    CATALOG_PROP_STRING = 3,
    CATALOG_PROP_TIMESTAMP = 4,
    CATALOG_PROP_ARRAY = 5,
    CATALOG_PROP_OBJECT = 6,
};

/* A property present (not null) in some visible item, with the kinds of
 * value it has there: bit (1 << kind) for each. */
struct catalog_queryable {
    char *name;
    unsigned kinds;
};

/* *out = the properties of the items the groups can see (in collection, or
 * in every collection when it is NULL), sorted by name; *n entries. 0,
 * -ENOENT when collection is given and hidden or missing, or -errno. Free
 * with catalog_queryables_free. */
int catalog_queryables(struct catalog *cat, const struct strlist *groups, const char *collection,
                       struct catalog_queryable **out, size_t *n);
void catalog_queryables_free(struct catalog_queryable *q, size_t n);
/* 0 when each of names is a property of some item the groups can see (in
 * collection when it is not NULL); -ENOENT with *missing = the index of the
 * first that is not; or -errno. */
int catalog_properties_visible(struct catalog *cat, const struct strlist *groups,
                               const char *collection, const struct strlist *names,
                               size_t *missing);

/* Tests and benchmarks: the number of candidates up to which the SQLite
 * driver reads all of a search's matches in one ordered statement (default
 * 3000; 0 makes every search walk an index in page order instead). The
 * answers are the same either way. Process-wide; any thread. */
void catalog_set_small_set(int64_t n);

/* --- Parsing helpers for query parameters (params.c; the geometry ones are
 * in geom.h); pure functions, any thread. --- */

/* Parses a bbox given as "minx,miny,maxx,maxy" or with 6 numbers (3-D).
 * 0 or -EINVAL with a message in err. */
int catalog_parse_bbox_text(const char *text, double bbox[4], char *err, size_t errlen);
/* Same for a JSON array of 4 or 6 numbers. */
int catalog_parse_bbox_json(const cJSON *arr, double bbox[4], char *err, size_t errlen);
/* Parses a STAC datetime parameter: an instant, "start/end", with ".." or ""
 * for one open end (both open is refused). Instants are RFC 3339 over years
 * 0000-9999 with 0-9 fractional digits (time_parse_rfc3339_wide). A date
 * without time as an instant means that whole day. 0 or -EINVAL with a
 * message in err. */
int catalog_parse_datetime(const char *text, bool *has_start, int64_t *start, bool *has_end,
                           int64_t *end, char *err, size_t errlen);

#endif
