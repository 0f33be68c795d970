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

/* The asset endpoint's URL for an href as the document has it, written in
 * place: a 1,000-row CSV page writes 4,000 of them. */
static bool href_url(const char *href, const char *base, char *out, size_t len)
{
    static const char path[] = "/api/v1/catalog/asset/";
    char akey[1024];
    size_t bl = strlen(base), pl = sizeof(path) - 1;
    if (!catalog_asset_key(href, akey, sizeof(akey)) || bl + pl >= len)
        return false;
    memcpy(out, base, bl);
    memcpy(out + bl, path, pl);
    return url_encode_to(akey, "/", out + bl + pl, len - bl - pl);
}

bool cm_asset_url(const cJSON *item, const char *key, const char *base, char *out, size_t len)
{
    const cJSON *a =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(item, "assets"), key);
    const cJSON *href = cJSON_GetObjectItemCaseSensitive(a, "href");
    return cJSON_IsString(href) && href_url(href->valuestring, base, out, len);
}

/* The marked href is the relative one percent-encoded (template.c), which
 * catalog_asset_key decodes to the same key as the document's href. */
bool cm_template_asset_url(const char *href, const char *base, char *out, size_t len)
{
    size_t m = strlen(CATALOG_ASSET_MARKER_RAW);
    return href_url(strncmp(href, CATALOG_ASSET_MARKER_RAW, m) == 0 ? href + m : href, base, out,
                    len);
}

/* The first member of obj named name (cJSON_GetObjectItemCaseSensitive's
 * choice among duplicates); JSONSCAN_NONE when there is none. */
static struct jsonscan member(const struct jsonscan *obj, const char *name)
{
    struct jsonscan_iter it;
    struct jsonscan k, v, none = {.type = JSONSCAN_NONE};
    if (!jsonscan_members(obj, &it))
        return none;
    while (jsonscan_next(&it, &k, &v))
        if (jsonscan_string_is(&k, name))
            return v;
    return none;
}

/* A Point's coordinate i, as cm_field_value reads it. */
static struct jsonscan coordinate(const struct jsonscan *geometry, size_t i)
{
    struct jsonscan type = member(geometry, "type"), c, none = {.type = JSONSCAN_NONE};
    if (!jsonscan_string_is(&type, "Point"))
        return none;
    c = member(geometry, "coordinates");
    return jsonscan_index(&c, i, &c) ? c : none;
}

/* The fields of one source (their indexes), and how many still have no
 * value, so that a scan tests each member against its own source's keys
 * only and leaves an object once they all have one. */
struct wanted {
    size_t i[CM_PLUME_NFIELDS], n, left;
};

/* Each wanted field whose key is k gets v, unless an earlier member gave it
 * one (cJSON_GetObjectItemCaseSensitive's choice among duplicates). klen:
 * the fields' key lengths. A key without escapes (all of cJSON's, for these
 * names) is compared as it is. */
static void assign(const struct cm_field *fields, const size_t *klen, struct wanted *w,
                   const struct jsonscan *k, const struct jsonscan *v, struct jsonscan *vals)
{
    bool plain = !memchr(k->p + 1, '\\', k->len - 2);
    for (size_t j = 0; j < w->n; j++) {
        size_t i = w->i[j];
        if (vals[i].type != JSONSCAN_NONE)
            continue;
        if (plain ? k->len == klen[i] + 2 && memcmp(k->p + 1, fields[i].key, klen[i]) == 0
                  : jsonscan_string_is(k, fields[i].key)) {
            vals[i] = *v;
            w->left--;
        }
    }
}

void cm_scan_fields(const char *text, size_t len, const struct cm_field *fields, size_t n,
                    struct jsonscan *vals)
{
    struct jsonscan item, k, v, geometry = {0};
    struct jsonscan_iter it, in;
    bool seen_props = false, seen_assets = false;
    size_t klen[CM_PLUME_NFIELDS];
    struct wanted in_item = {.n = 0}, in_props = {.n = 0}, in_assets = {.n = 0};
    if (n > CM_PLUME_NFIELDS) /* the largest table; see cm_records.h */
        n = CM_PLUME_NFIELDS;
    for (size_t i = 0; i < n; i++) {
        struct wanted *w = fields[i].source == CM_MEMBER  ? &in_item
                           : fields[i].source == CM_PROP  ? &in_props
                           : fields[i].source == CM_ASSET ? &in_assets
                                                          : NULL;
        vals[i].type = JSONSCAN_NONE;
        klen[i] = fields[i].key ? strlen(fields[i].key) : 0;
        if (w)
            w->i[w->n++] = i;
    }
    in_item.left = in_item.n;
    in_props.left = in_props.n;
    in_assets.left = in_assets.n;
    /* A template is cut inside its links, the last member: read up to there. */
    if (!jsonscan_open_object(text, len, &item) || !jsonscan_members(&item, &it))
        return;
    while (jsonscan_key(&it, &k)) {
        struct wanted *w = NULL;
        if (!seen_props && jsonscan_string_is(&k, "properties")) {
            seen_props = true;
            w = &in_props;
        } else if (!seen_assets && jsonscan_string_is(&k, "assets")) {
            seen_assets = true;
            w = &in_assets;
        }
        if (w && jsonscan_enter(&it, &in)) {
            /* Read where they are rather than skipped first: they are most
             * of the text. */
            while (w->left && jsonscan_next(&in, &k, &v))
                assign(fields, klen, w, &k, &v, vals);
            if (!jsonscan_leave(&it, &in))
                break;
            continue;
        }
        if (!jsonscan_val(&it, &v))
            break;
        if (!geometry.p && jsonscan_string_is(&k, "geometry"))
            geometry = v;
        assign(fields, klen, &in_item, &k, &v, vals);
    }
    for (size_t i = 0; i < n; i++) {
        struct jsonscan *x = &vals[i];
        if (fields[i].source == CM_LAT || fields[i].source == CM_LON)
            *x = coordinate(&geometry, fields[i].source == CM_LAT ? 1 : 0);
        else if (fields[i].source == CM_ASSET)
            *x = member(x, "href");
        if (x->type == JSONSCAN_NULL && fields[i].source != CM_LAT && fields[i].source != CM_LON)
            x->type = JSONSCAN_NONE; /* a null property or member reads as missing */
        if (fields[i].source == CM_ASSET && x->type != JSONSCAN_STRING)
            x->type = JSONSCAN_NONE;
    }
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
