/* The STAC API query, filter, sort and fields extensions around the search
 * handlers of api_stac.c (see api_stac_ext.h), and the queryables resources:
 * JSON Schemas of the properties that the caller's visible items have. A
 * filter or sort naming a property that no visible item has is a 400 that
 * names it (the schemas say additionalProperties: false), so that neither a
 * typo nor another group's property passes in silence. Handlers run on the
 * HTTP threads; catalog reads are short queries on pooled connections. */
#include "api/api_stac_ext.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/baseurl.h"
#include "app.h"
#include "auth/resources.h"
#include "http/server.h"
#include "util/url.h"

#define CRS84 "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
#define SCHEMA_JSON "application/schema+json"

static const char *const conformance[] = {
    "https://api.stacspec.org/v1.0.0/item-search#query",
    "https://api.stacspec.org/v1.0.0/item-search#filter",
    "https://api.stacspec.org/v1.0.0/item-search#sort",
    "https://api.stacspec.org/v1.0.0/item-search#fields",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#query",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#sort",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#fields",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
};

void stac_ext_conformance(cJSON *arr)
{
    for (size_t i = 0; i < sizeof(conformance) / sizeof(conformance[0]); i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(conformance[i]));
}

void stac_ext_free(struct stac_ext *e)
{
    filter_free(e->filter);
    e->filter = NULL;
    catalog_sort_free(&e->sort);
    catalog_fields_free(&e->fields);
}

/* ANDs f into the search's filter. */
static int add_filter(struct stac_ext *e, struct filter_node *f)
{
    if (!f)
        return 0;
    e->filter = filter_and(e->filter, f);
    return e->filter ? 0 : -ENOMEM;
}

static int check_crs(const char *crs, char *msg, size_t msglen)
{
    if (!crs || strcmp(crs, CRS84) == 0)
        return 0;
    char q[80];
    filter_quote(crs, strlen(crs), q, sizeof(q), 60);
    snprintf(msg, msglen, "filter-crs \"%s\" is not supported (only " CRS84 ")", q);
    return -EINVAL;
}

static int bad_lang(const char *lang, char *msg, size_t msglen)
{
    char q[80];
    filter_quote(lang, strlen(lang), q, sizeof(q), 60);
    snprintf(msg, msglen, "filter-lang \"%s\" is not supported (use cql2-text or cql2-json)", q);
    return -EINVAL;
}

int stac_ext_from_query(struct request *r, struct stac_ext *e, char *msg, size_t msglen)
{
    const char *v;
    int rc;
    struct filter_node *f = NULL;
    if ((v = request_query(r, "query"))) {
        cJSON *j = cJSON_Parse(v);
        if (!j) {
            snprintf(msg, msglen, "query must be a JSON object (not valid JSON)");
            return -EINVAL;
        }
        rc = filter_parse_query(j, &f, msg, msglen);
        cJSON_Delete(j);
        if (rc < 0 || (rc = add_filter(e, f)) < 0)
            return rc;
    }
    const char *lang = request_query(r, "filter-lang");
    if (lang && strcmp(lang, "cql2-text") != 0 && strcmp(lang, "cql2-json") != 0)
        return bad_lang(lang, msg, msglen);
    if ((rc = check_crs(request_query(r, "filter-crs"), msg, msglen)) < 0)
        return rc;
    if ((v = request_query(r, "filter"))) {
        if (lang && strcmp(lang, "cql2-json") == 0) {
            cJSON *j = cJSON_Parse(v);
            if (!j) {
                snprintf(msg, msglen, "filter: not valid JSON (filter-lang is cql2-json)");
                return -EINVAL;
            }
            rc = filter_parse_cql2_json(j, &f, msg, msglen);
            cJSON_Delete(j);
        } else {
            rc = filter_parse_cql2_text(v, &f, msg, msglen);
        }
        if (rc < 0 || (rc = add_filter(e, f)) < 0)
            return rc;
    }
    filter_normalize(&e->filter);
    if ((v = request_query(r, "sortby")) &&
        (rc = catalog_sort_parse_text(v, &e->sort, msg, msglen)) < 0)
        return rc;
    if ((v = request_query(r, "fields")) &&
        (rc = catalog_fields_parse_text(v, &e->fields, msg, msglen)) < 0)
        return rc;
    return 0;
}

static const cJSON *member(const cJSON *body, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, name);
    return cJSON_IsNull(v) ? NULL : v;
}

int stac_ext_from_body(const cJSON *body, struct stac_ext *e, char *msg, size_t msglen)
{
    const cJSON *v;
    int rc;
    struct filter_node *f = NULL;
    if ((v = member(body, "query"))) {
        if ((rc = filter_parse_query(v, &f, msg, msglen)) < 0 || (rc = add_filter(e, f)) < 0)
            return rc;
    }
    const cJSON *lang = member(body, "filter-lang");
    if (lang && !cJSON_IsString(lang)) {
        snprintf(msg, msglen, "filter-lang must be a string (cql2-json or cql2-text)");
        return -EINVAL;
    }
    const char *l = lang ? lang->valuestring : "cql2-json";
    if (strcmp(l, "cql2-text") != 0 && strcmp(l, "cql2-json") != 0)
        return bad_lang(l, msg, msglen);
    const cJSON *crs = member(body, "filter-crs");
    if (crs && !cJSON_IsString(crs)) {
        snprintf(msg, msglen, "filter-crs must be a string");
        return -EINVAL;
    }
    if ((rc = check_crs(crs ? crs->valuestring : NULL, msg, msglen)) < 0)
        return rc;
    if ((v = member(body, "filter"))) {
        if (strcmp(l, "cql2-text") == 0) {
            if (!cJSON_IsString(v)) {
                snprintf(msg, msglen, "filter must be a string when filter-lang is cql2-text");
                return -EINVAL;
            }
            rc = filter_parse_cql2_text(v->valuestring, &f, msg, msglen);
        } else {
            rc = filter_parse_cql2_json(v, &f, msg, msglen);
        }
        if (rc < 0 || (rc = add_filter(e, f)) < 0)
            return rc;
    }
    filter_normalize(&e->filter);
    if ((v = member(body, "sortby")) &&
        (rc = catalog_sort_parse_json(v, &e->sort, msg, msglen)) < 0)
        return rc;
    if ((v = member(body, "fields")) &&
        (rc = catalog_fields_parse_json(v, &e->fields, msg, msglen)) < 0)
        return rc;
    return 0;
}

int stac_ext_apply(struct catalog *cat, const char *collection, struct stac_ext *e,
                   struct catalog_query *q, char *msg, size_t msglen)
{
    struct strlist names = STRLIST_INIT, check = STRLIST_INIT;
    int rc = filter_properties(e->filter, &names);
    for (size_t i = 0; rc == 0 && i < e->sort.n; i++)
        if (e->sort.keys[i].field == FILTER_FIELD_PROPERTY)
            rc = strlist_add(&names, e->sort.keys[i].prop);
    /* datetime is every item's (null for an interval): always queryable. */
    for (size_t i = 0; rc == 0 && i < names.n; i++)
        if (strcmp(names.v[i], "datetime") != 0)
            rc = strlist_add(&check, names.v[i]);
    size_t missing = 0;
    if (rc == 0)
        rc = catalog_properties_visible(cat, q->groups, collection, &check, &missing);
    if (rc == -ENOENT) {
        char name[80];
        filter_quote(check.v[missing], strlen(check.v[missing]), name, sizeof(name), 60);
        snprintf(msg, msglen,
                 "the property \"%s\" is not queryable%s (see the queryables resource)", name,
                 collection ? " in this collection" : "");
        rc = -EINVAL;
    }
    strlist_free(&names);
    strlist_free(&check);
    if (rc < 0)
        return rc;
    q->filter = e->filter;
    q->sort = e->sort.n ? &e->sort : NULL;
    return 0;
}

char *stac_ext_fields_text(const struct stac_ext *e, const char *item, size_t len, size_t *outlen)
{
    cJSON *doc = cJSON_ParseWithLength(item, len);
    if (!doc)
        return NULL;
    catalog_fields_apply(&e->fields, doc);
    char *out = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    if (out)
        *outlen = strlen(out);
    return out;
}

/* ---- queryables ------------------------------------------------------------- */

bool stac_viewer(struct request *r, struct principal *p, struct viewer *v)
{
    *v = (struct viewer){NULL, NULL};
    if (!auth_credential(r))
        return true;
    if (!api_authenticate(r, p, "stac"))
        return false;
    *v = viewer_of(p);
    return true;
}

bool stac_collection_failed(struct request *r, int rc)
{
    if (rc == -ENOENT)
        api_reply_not_found(r, "Collection not found");
    else if (rc < 0)
        api_reply_catalog_error(r, rc);
    return rc < 0;
}

/* A queryable's JSON Schema from the kinds of value seen. */
static cJSON *kind_schema(unsigned kinds)
{
    static const struct {
        int kind;
        const char *type;
    } map[] = {{CATALOG_PROP_BOOL, "boolean"},  {CATALOG_PROP_NUMBER, "number"},
               {CATALOG_PROP_STRING, "string"}, {CATALOG_PROP_TIMESTAMP, "string"},
               {CATALOG_PROP_ARRAY, "array"},   {CATALOG_PROP_OBJECT, "object"}};
    cJSON *s = cJSON_CreateObject(), *types = cJSON_CreateArray();
    for (size_t i = 0; s && types && i < sizeof(map) / sizeof(map[0]); i++) {
        if (!(kinds & (1u << map[i].kind)))
            continue;
        bool dup = false;
        const cJSON *t;
        cJSON_ArrayForEach(t, types) dup |= strcmp(t->valuestring, map[i].type) == 0;
        if (!dup)
            cJSON_AddItemToArray(types, cJSON_CreateString(map[i].type));
    }
    if (!s || !types) {
        cJSON_Delete(s);
        cJSON_Delete(types);
        return NULL;
    }
    if (cJSON_GetArraySize(types) == 1) {
        cJSON_AddStringToObject(s, "type", types->child->valuestring);
        cJSON_Delete(types);
    } else {
        cJSON_AddItemToObject(s, "type", types);
    }
    if (kinds == 1u << CATALOG_PROP_TIMESTAMP)
        cJSON_AddStringToObject(s, "format", "date-time");
    return s;
}

static void h_queryables(struct request *r)
{
    struct principal p = {0};
    struct viewer v;
    struct catalog_queryable *qs = NULL;
    size_t n = 0;
    const char *collection = request_param(r, 0);
    if (!stac_viewer(r, &p, &v))
        goto out;
    int rc = collection && v.bounds && !resources_collection_some(v.bounds, collection)
                 ? -ENOENT
                 : catalog_queryables(request_app(r)->catalog, v.groups, collection, &qs, &n);
    if (stac_collection_failed(r, rc))
        goto out;
    char base[512];
    request_base_url(r, base, sizeof(base));
    char *ec = collection ? url_encode(collection, "") : NULL;
    size_t idlen = strlen(base) + (ec ? strlen(ec) : 0) + 96;
    char *id = malloc(idlen);
    cJSON *doc = cJSON_CreateObject();
    if (id)
        snprintf(id, idlen, "%s/api/v1/stac/%s%s%squeryables", base, ec ? "collections/" : "",
                 ec ? ec : "", ec ? "/" : "");
    cJSON_AddStringToObject(doc, "$schema", "https://json-schema.org/draft/2019-09/schema");
    cJSON_AddStringToObject(doc, "$id", id ? id : "");
    cJSON_AddStringToObject(doc, "type", "object");
    cJSON_AddStringToObject(doc, "title",
                            collection ? "Queryables of the collection's items"
                                       : "Queryables of the catalog's items");
    cJSON_AddStringToObject(doc, "description",
                            "The item properties that filters (query, filter) and sortby may "
                            "name, with the JSON types of their values, as seen in the items "
                            "visible to the caller. Other names are rejected.");
    cJSON *props = cJSON_AddObjectToObject(doc, "properties");
    cJSON *s = cJSON_AddObjectToObject(props, "id");
    cJSON_AddStringToObject(s, "description", "Item identifier");
    cJSON_AddStringToObject(s, "type", "string");
    s = cJSON_AddObjectToObject(props, "collection");
    cJSON_AddStringToObject(s, "description", "Collection identifier");
    cJSON_AddStringToObject(s, "type", "string");
    s = cJSON_AddObjectToObject(props, "geometry");
    cJSON_AddStringToObject(s, "description", "Item geometry (S_INTERSECTS)");
    cJSON_AddStringToObject(s, "$ref", "https://geojson.org/schema/Geometry.json");
    s = cJSON_AddObjectToObject(props, "datetime");
    cJSON_AddStringToObject(s, "description",
                            "Item datetime (T_INTERSECTS uses the start/end interval when it "
                            "is null)");
    cJSON_AddStringToObject(s, "type", "string");
    cJSON_AddStringToObject(s, "format", "date-time");
    for (size_t i = 0; i < n; i++) {
        if (cJSON_GetObjectItemCaseSensitive(props, qs[i].name))
            continue; /* datetime, or a property named like a member */
        cJSON *k = kind_schema(qs[i].kinds);
        if (k)
            cJSON_AddItemToObject(props, qs[i].name, k);
    }
    cJSON_AddBoolToObject(doc, "additionalProperties", false);
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    free(id);
    free(ec);
    if (text)
        reply_buffer(r, 200, SCHEMA_JSON, text, strlen(text));
    else
        api_reply_error(r, 500, "out of memory", NULL);
out:
    catalog_queryables_free(qs, n);
    principal_free(&p);
}

void api_stac_ext_register(struct server *srv)
{
    server_route(srv, "GET", "/api/v1/stac/queryables", h_queryables, 0);
    server_route(srv, "GET", "/api/v1/stac/collections/{}/queryables", h_queryables, 0);
}
