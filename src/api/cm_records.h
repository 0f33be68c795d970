/* The platform's Plume and Scene records, read from STAC items: each field
 * once, in one table per record, so that the JSON endpoints, the CSV and
 * the GeoPackage write the same values. Pure; any thread. */
#ifndef TESSERA_CM_RECORDS_H
#define TESSERA_CM_RECORDS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/jsonscan.h"

enum cm_source {
    CM_PROP,   /* an item property */
    CM_MEMBER, /* a member of the item itself (id, collection, geometry) */
    CM_ASSET,  /* the absolute URL of an item asset */
    CM_LAT,    /* the latitude of the item's Point */
    CM_LON,    /* its longitude */
};

struct cm_field {
    const char *name; /* the platform's field or column */
    enum cm_source source;
    const char *key; /* property, member or asset key */
    bool in_json;    /* a member of the JSON record */
    bool in_csv;     /* a column of the CSV */
};

#define CM_PLUME_NFIELDS 24
extern const struct cm_field CM_PLUME_FIELDS[CM_PLUME_NFIELDS];

/* An item's property, NULL when missing or null. */
const cJSON *cm_item_prop(const cJSON *item, const char *name);
/* A field's value in the item, borrowed (NULL when missing; not for
 * CM_ASSET). For CM_LAT/CM_LON, the coordinate of a Point geometry. */
const cJSON *cm_field_value(const cJSON *item, const struct cm_field *f);
/* The absolute URL of the asset f names, under base, into out; false when
 * the item has no such servable asset (or out is too small). */
bool cm_asset_url(const cJSON *item, const char *key, const char *base, char *out, size_t len);

/* The values of fields in an item's JSON text (its template, see catalog.h,
 * or its document), in one pass without a tree: vals[i] is what
 * cm_field_value gives for fields[i] (JSONSCAN_NONE for its NULL), and for
 * a CM_ASSET the asset's href when it is a string. n <= CM_PLUME_NFIELDS. */
void cm_scan_fields(const char *text, size_t len, const struct cm_field *fields, size_t n,
                    struct jsonscan *vals);
/* cm_asset_url for an href read from an item template, where relative
 * hrefs start with CATALOG_ASSET_MARKER_RAW. */
bool cm_template_asset_url(const char *href, const char *base, char *out, size_t len);

/* The Plume object of an L4A item (asset links absolute under base), or
 * the Scene object of an L2B item. NULL when out of memory. */
cJSON *cm_plume_json(const cJSON *item, const char *base);
cJSON *cm_scene_json(const cJSON *item);

#endif
