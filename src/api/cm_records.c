/* Plume and Scene records from STAC items (see cm_records.h). */
#include "api/cm_records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "util/url.h"

const struct cm_field CM_PLUME_FIELDS[] = {
    {"id", CM_PROP, "cm:plume_uuid", true, true},
    {"plume_id", CM_MEMBER, "id", true, true},
    {"gas", CM_PROP, "cm:gas", true, true},
    {"geometry_json", CM_MEMBER, "geometry", true, false},
    {"plume_latitude", CM_LAT, NULL, false, true},
    {"plume_longitude", CM_LON, NULL, false, true},
    {"scene_id", CM_PROP, "cm:scene_id", true, true},
    {"scene_timestamp", CM_PROP, "datetime", true, true},
    {"instrument", CM_PROP, "cm:instrument", true, true},
    {"platform", CM_PROP, "platform", true, true},
    {"emission_auto", CM_PROP, "cm:emission", true, true},
    {"emission_uncertainty_auto", CM_PROP, "cm:emission_uncertainty", true, true},
    {"plume_bounds", CM_PROP, "cm:plume_bounds", true, true},
    {"plume_quality", CM_PROP, "cm:plume:quality", true, true},
    {"wind_speed_avg_auto", CM_PROP, "cm:wind_speed_avg_auto", true, true},
    {"wind_direction_avg_auto", CM_PROP, "cm:wind_direction_avg_auto", true, true},
    {"sector", CM_PROP, "cm:plume:sector", true, true},
    {"status", CM_PROP, "cm:status", true, true},
    {"published_at", CM_PROP, "cm:published_at", true, true},
    {"collection", CM_MEMBER, "collection", true, true},
    {"plume_png", CM_ASSET, "plume.png", true, true},
    {"plume_rgb_png", CM_ASSET, "plume-rgb.png", true, true},
    {"plume_tif", CM_ASSET, "plume.tif", true, true},
    {"rgb_png", CM_ASSET, "rgb.png", true, true},
};
_Static_assert(sizeof(CM_PLUME_FIELDS) / sizeof(CM_PLUME_FIELDS[0]) == CM_PLUME_NFIELDS,
               "CM_PLUME_NFIELDS counts the Plume fields");

static const struct cm_field SCENE_FIELDS[] = {
    {"id", CM_PROP, "cm:scene_uuid", true, true},
    {"name", CM_MEMBER, "id", true, true},
    {"timestamp", CM_PROP, "datetime", true, true},
    {"instrument", CM_PROP, "cm:instrument", true, true},
    {"platform", CM_PROP, "platform", true, true},
    {"geometry", CM_MEMBER, "geometry", true, true},
    {"cloud_cover_pct", CM_PROP, "eo:cloud_cover", true, true},
    {"plume_count", CM_PROP, "cm:plume_count", true, true},
    {"collection", CM_MEMBER, "collection", true, true},
};

const cJSON *cm_item_prop(const cJSON *item, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(item, "properties"), name);
    return cJSON_IsNull(v) ? NULL : v;
}

const cJSON *cm_field_value(const cJSON *item, const struct cm_field *f)
{
    switch (f->source) {
    case CM_PROP:
        return cm_item_prop(item, f->key);
    case CM_MEMBER: {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, f->key);
        return cJSON_IsNull(v) ? NULL : v;
    }
    case CM_LAT:
    case CM_LON: {
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(item, "geometry");
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(g, "type");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "Point") != 0)
            return NULL;
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(g, "coordinates");
        return cJSON_GetArrayItem(c, f->source == CM_LAT ? 1 : 0);
    }
    case CM_ASSET:
        break;
    }
    return NULL;
}

bool cm_asset_url(const cJSON *item, const char *key, const char *base, char *out, size_t len)
{
    const cJSON *a =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(item, "assets"), key);
    const cJSON *href = cJSON_GetObjectItemCaseSensitive(a, "href");
    char akey[1024];
    if (!cJSON_IsString(href) || !catalog_asset_key(href->valuestring, akey, sizeof(akey)))
        return false;
    char *enc = url_encode(akey, "/");
    if (!enc)
        return false;
    int n = snprintf(out, len, "%s/api/v1/catalog/asset/%s", base, enc);
    free(enc);
    return n > 0 && (size_t)n < len;
}

static cJSON *record(const cJSON *item, const struct cm_field *fields, size_t n, const char *base)
{
    cJSON *rec = cJSON_CreateObject();
    for (size_t i = 0; rec && i < n; i++) {
        const struct cm_field *f = &fields[i];
        if (!f->in_json)
            continue;
        cJSON *v;
        if (f->source == CM_ASSET) {
            char url[2048];
            v = cm_asset_url(item, f->key, base, url, sizeof(url)) ? cJSON_CreateString(url)
                                                                   : cJSON_CreateNull();
        } else {
            const cJSON *src = cm_field_value(item, f);
            v = src ? cJSON_Duplicate(src, true) : cJSON_CreateNull();
        }
        if (!v || !cJSON_AddItemToObject(rec, f->name, v)) {
            cJSON_Delete(v);
            cJSON_Delete(rec);
            return NULL;
        }
    }
    return rec;
}

cJSON *cm_plume_json(const cJSON *item, const char *base)
{
    return record(item, CM_PLUME_FIELDS, CM_PLUME_NFIELDS, base);
}

cJSON *cm_scene_json(const cJSON *item)
{
    return record(item, SCENE_FIELDS, sizeof(SCENE_FIELDS) / sizeof(SCENE_FIELDS[0]), "");
}
