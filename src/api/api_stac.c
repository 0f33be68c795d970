/* STAC API 1.0 (core, collections, OGC API Features, item search) under
 * /api/v1/stac/ (the asset endpoint is api_asset.c). Results are filtered by
 * the caller's groups (anonymous = Public); documents get absolute links
 * built from the request's scheme, Host and trusted forwarding headers
 * (api/baseurl.c). Handlers run on the HTTP threads: catalog reads are short
 * SQLite queries on pooled connections. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/api_stac_ext.h"
#include "api/api_stac_search.h"
#include "api/baseurl.h"
#include "api/bounds.h"
#include "api/sign.h"
#include "auth/signedurl.h"
#include "app.h"
#include "catalog/catalog.h"
#include "catalog/pagecache.h"
#include "http/server.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/url.h"

#define STAC_VERSION "1.0.0"
#define GEOJSON "application/geo+json"

static const char *const conforms_to[] = {
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
};

/* ---- small helpers ---------------------------------------------------- */

/* "scheme://host[prefix]" as the client addressed us (api/baseurl.c: the
 * Host header, or what a trusted proxy says); an absent or odd Host falls
 * back to localhost. */
static void base_url(struct request *r, char *out, size_t len)
{
    request_base_url(r, out, len);
}

static cJSON *add_link(cJSON *links, const char *rel, const char *href, const char *type,
                       const char *title)
{
    cJSON *l = cJSON_CreateObject();
    if (!l)
        return NULL;
    cJSON_AddStringToObject(l, "rel", rel);
    cJSON_AddStringToObject(l, "href", href);
    if (type)
        cJSON_AddStringToObject(l, "type", type);
    if (title)
        cJSON_AddStringToObject(l, "title", title);
    cJSON_AddItemToArray(links, l);
    return l;
}

/* ---- document rewriting ----------------------------------------------- */

static bool rel_is_ours(const char *rel)
{
    static const char *const ours[] = {"self", "root", "parent", "collection", "items", "item",
                                       "child"};
    for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
        if (strcmp(rel, ours[i]) == 0)
            return true;
    return false;
}

/* Replaces the navigation links of doc (keeping others, e.g. license) and
 * returns the links array to which the caller appends its own. */
static cJSON *reset_links(cJSON *doc)
{
    cJSON *links = cJSON_GetObjectItemCaseSensitive(doc, "links");
    if (!cJSON_IsArray(links)) {
        cJSON_DeleteItemFromObjectCaseSensitive(doc, "links");
        links = cJSON_AddArrayToObject(doc, "links");
        return links;
    }
    cJSON *l = links->child;
    while (l) {
        cJSON *next = l->next;
        const cJSON *rel = cJSON_GetObjectItemCaseSensitive(l, "rel");
        if (!cJSON_IsString(rel) || rel_is_ours(rel->valuestring))
            cJSON_Delete(cJSON_DetachItemViaPointer(links, l));
        l = next;
    }
    return links;
}

static void rewrite_collection(cJSON *doc, const char *base)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "id");
    if (!cJSON_IsString(id))
        return;
    sign_add_auth_schemes(doc, base);
    char *eid = url_encode(id->valuestring, "");
    cJSON *links = reset_links(doc);
    if (!eid || !links) {
        free(eid);
        return;
    }
    size_t n = strlen(base) + strlen(eid) + 64;
    char *href = malloc(n);
    if (href) {
        snprintf(href, n, "%s/api/v1/stac/collections/%s", base, eid);
        add_link(links, "self", href, "application/json", NULL);
        snprintf(href, n, "%s/api/v1/stac/", base);
        add_link(links, "root", href, "application/json", NULL);
        add_link(links, "parent", href, "application/json", NULL);
        snprintf(href, n, "%s/api/v1/stac/collections/%s/items", base, eid);
        add_link(links, "items", href, GEOJSON, NULL);
        snprintf(href, n, "%s/api/v1/stac/collections/%s/queryables", base, eid);
        add_link(links, STAC_QUERYABLES_REL, href, "application/schema+json", NULL);
        free(href);
    }
    free(eid);
}

/* Appends the rest of an asset's href (its percent-encoded key, up to the
 * closing quote at or after p), signed when signer is set, then the
 * asset's auth:refs (the STAC Authentication extension). Returns where the
 * template goes on. */
static const char *emit_asset_href(struct buf *b, const char *p, const char *end,
                                   const struct url_signer *signer)
{
    const char *q = memchr(p, '"', (size_t)(end - p));
    if (!q)
        q = end;
    buf_append(b, p, (size_t)(q - p));
    if (signer) {
        char text[1100], key[1100];
        size_t n = (size_t)(q - p);
        char *query = NULL;
        if (n < sizeof(text)) {
            memcpy(text, p, n);
            text[n] = '\0';
            if (catalog_asset_key(text, key, sizeof(key)))
                query = url_signer_query(signer, key);
        }
        if (query)
            buf_concat(b, "?", query, NULL);
        else
            b->oom = true; /* a key we cannot sign: fail rather than leave it unsigned */
        free(query);
    }
    if (q == end)
        return end;
    static const char refs[] = "\",\"auth:refs\":[\"bearer\",\"signed_url\"]";
    buf_append(b, refs, sizeof(refs) - 1);
    return q + 1;
}

/* Appends one item: its template with asset hrefs made absolute (and signed
 * by signer, when set), then its navigation links and the closing "]}". */
static void emit_item(struct buf *b, const char *base, const struct url_signer *signer,
                      const char *coll, const char *id, const char *tpl, size_t len)
{
    static const char marker[] = CATALOG_ASSET_MARKER;
    const size_t mlen = sizeof(marker) - 1;
    const char *p = tpl, *end = tpl + len;
    while (p < end) {
        const char *m = memmem(p, (size_t)(end - p), marker, mlen);
        buf_append(b, p, (size_t)((m ? m : end) - p));
        if (!m)
            break;
        buf_concat(b, base, "/api/v1/catalog/asset/", NULL);
        p = emit_asset_href(b, m + mlen, end, signer);
    }
    char *ec = url_encode(coll, ""), *ei = url_encode(id, "");
    if (ec && ei)
        buf_concat(b, len && tpl[len - 1] == '[' ? "" : ",",
                   "{\"rel\":\"self\",\"href\":\"", base, "/api/v1/stac/collections/", ec,
                   "/items/", ei, "\",\"type\":\"" GEOJSON "\"},",
                   "{\"rel\":\"parent\",\"href\":\"", base, "/api/v1/stac/collections/", ec,
                   "\",\"type\":\"application/json\"},",
                   "{\"rel\":\"collection\",\"href\":\"", base, "/api/v1/stac/collections/", ec,
                   "\",\"type\":\"application/json\"},",
                   "{\"rel\":\"root\",\"href\":\"", base,
                   "/api/v1/stac/\",\"type\":\"application/json\"}]}", NULL);
    else
        b->oom = true;
    free(ec);
    free(ei);
}

struct emit_ctx {
    struct buf *b;
    const char *base;
    size_t count;
    const struct stac_ext *ext;       /* fields to keep, or NULL: whole items */
    const struct url_signer *signer; /* sign asset hrefs (sign=true), or NULL */
};

static int emit_cb(void *ctx, const char *coll, const char *id, const char *tpl, size_t len)
{
    struct emit_ctx *e = ctx;
    if (e->count++)
        buf_append(e->b, ",", 1);
    if (!e->ext || !e->ext->fields.active) {
        emit_item(e->b, e->base, e->signer, coll, id, tpl, len);
        return e->b->oom ? -ENOMEM : 0;
    }
    /* The whole item first (absolute links and hrefs), then the cut. */
    struct buf item = {0};
    size_t n = 0;
    emit_item(&item, e->base, e->signer, coll, id, tpl, len);
    char *cut = item.oom ? NULL : stac_ext_fields_text(e->ext, item.s, item.n, &n);
    free(item.s);
    if (!cut)
        return -ENOMEM;
    buf_append(e->b, cut, n);
    free(cut);
    return e->b->oom ? -ENOMEM : 0;
}

/* ---- landing, conformance, collections -------------------------------- */

static cJSON *conformance_array(void)
{
    cJSON *a =
        cJSON_CreateStringArray(conforms_to, (int)(sizeof(conforms_to) / sizeof(conforms_to[0])));
    if (a)
        stac_ext_conformance(a);
    return a;
}

static void h_landing(struct request *r)
{
    struct principal p = {0};
    struct viewer v;
    if (!stac_viewer(r, &p, &v))
        goto out;
    struct app *app = request_app(r);
    cJSON *colls = NULL;
    int rc = bounds_collections(app->catalog, &v, &colls);
    if (rc < 0) {
        api_reply_catalog_error(r, rc);
        goto out;
    }
    char base[320], href[1024];
    base_url(r, base, sizeof(base));
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "type", "Catalog");
    cJSON_AddStringToObject(doc, "id", "tessera");
    cJSON_AddStringToObject(doc, "stac_version", STAC_VERSION);
    cJSON_AddStringToObject(doc, "title", "Tessera STAC API");
    cJSON_AddStringToObject(doc, "description",
                            "STAC catalog served by Tessera; results depend on the caller's "
                            "groups (anonymous callers see the Public view).");
    cJSON_AddItemToObject(doc, "conformsTo", conformance_array());
    sign_add_auth_schemes(doc, base);
    cJSON *links = cJSON_AddArrayToObject(doc, "links");
    snprintf(href, sizeof(href), "%s/api/v1/stac/", base);
    add_link(links, "self", href, "application/json", NULL);
    add_link(links, "root", href, "application/json", NULL);
    snprintf(href, sizeof(href), "%s/api/v1/stac/conformance", base);
    add_link(links, "conformance", href, "application/json", "Conformance classes");
    snprintf(href, sizeof(href), "%s/api/v1/stac/collections", base);
    add_link(links, "data", href, "application/json", "Collections");
    snprintf(href, sizeof(href), "%s/api/v1/stac/queryables", base);
    add_link(links, STAC_QUERYABLES_REL, href, "application/schema+json", "Queryables");
    snprintf(href, sizeof(href), "%s/api/v1/stac/search", base);
    cJSON *l = add_link(links, "search", href, GEOJSON, "Item search (GET)");
    cJSON_AddStringToObject(l, "method", "GET");
    l = add_link(links, "search", href, GEOJSON, "Item search (POST)");
    cJSON_AddStringToObject(l, "method", "POST");
    snprintf(href, sizeof(href), "%s/api/v1/openapi.json", base);
    add_link(links, "service-desc", href, API_OPENAPI_TYPE, "OpenAPI description");
    snprintf(href, sizeof(href), "%s/api/v1/docs", base);
    add_link(links, "service-doc", href, "text/html", "API documentation");
    const cJSON *c;
    cJSON_ArrayForEach(c, colls)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");
        const cJSON *title = cJSON_GetObjectItemCaseSensitive(c, "title");
        char *eid = cJSON_IsString(id) ? url_encode(id->valuestring, "") : NULL;
        if (!eid)
            continue;
        char *h = malloc(strlen(base) + strlen(eid) + 40);
        if (h) {
            sprintf(h, "%s/api/v1/stac/collections/%s", base, eid);
            add_link(links, "child", h, "application/json",
                     cJSON_IsString(title) ? title->valuestring : NULL);
        }
        free(h);
        free(eid);
    }
    cJSON_Delete(colls);
    reply_json(r, 200, doc);
out:
    principal_free(&p);
}

static void h_conformance(struct request *r)
{
    struct principal p = {0};
    struct viewer v;
    if (stac_viewer(r, &p, &v)) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddItemToObject(doc, "conformsTo", conformance_array());
        reply_json(r, 200, doc);
    }
    principal_free(&p);
}

static void h_collections(struct request *r)
{
    struct principal p = {0};
    struct viewer v;
    if (!stac_viewer(r, &p, &v))
        goto out;
    cJSON *colls = NULL;
    int rc = bounds_collections(request_app(r)->catalog, &v, &colls);
    if (rc < 0) {
        api_reply_catalog_error(r, rc);
        goto out;
    }
    char base[320], href[1024];
    base_url(r, base, sizeof(base));
    cJSON *c;
    cJSON_ArrayForEach(c, colls) rewrite_collection(c, base);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "collections", colls);
    cJSON *links = cJSON_AddArrayToObject(doc, "links");
    snprintf(href, sizeof(href), "%s/api/v1/stac/collections", base);
    add_link(links, "self", href, "application/json", NULL);
    snprintf(href, sizeof(href), "%s/api/v1/stac/", base);
    add_link(links, "root", href, "application/json", NULL);
    add_link(links, "parent", href, "application/json", NULL);
    cJSON_AddNumberToObject(doc, "numberMatched", cJSON_GetArraySize(colls));
    cJSON_AddNumberToObject(doc, "numberReturned", cJSON_GetArraySize(colls));
    reply_json(r, 200, doc);
out:
    principal_free(&p);
}

static void h_collection(struct request *r)
{
    struct principal p = {0};
    struct viewer v;
    if (!stac_viewer(r, &p, &v))
        goto out;
    cJSON *doc = NULL;
    int rc = bounds_collection_get(request_app(r)->catalog, &v, request_param(r, 0), &doc);
    if (stac_collection_failed(r, rc))
        goto out;
    char base[320];
    base_url(r, base, sizeof(base));
    rewrite_collection(doc, base);
    reply_json(r, 200, doc);
out:
    principal_free(&p);
}

static void h_item(struct request *r)
{
    struct principal p = {0};
    struct viewer v;
    if (!stac_viewer(r, &p, &v))
        goto out;
    struct catalog *cat = request_app(r)->catalog;
    cJSON *doc = NULL;
    int rc = bounds_collection_get(cat, &v, request_param(r, 0), &doc);
    cJSON_Delete(doc);
    doc = NULL;
    if (rc == -ENOENT) {
        api_reply_not_found(r, "Collection not found");
        goto out;
    }
    if (rc == 0)
        rc = bounds_item_reachable(cat, &v, request_param(r, 0), request_param(r, 1));
    char base[320], msg[64];
    base_url(r, base, sizeof(base));
    struct buf b = {0};
    struct url_signer signer;
    bool sign = false;
    const char *sign_arg = request_query(r, "sign");
    if (sign_arg && parse_sign(sign_arg, &sign, msg, sizeof(msg)) < 0) {
        api_reply_invalid(r, msg);
        goto out;
    }
    if (sign && !url_signer_for(r, &p, SIGNEDURL_MAX_S, &signer))
        goto out;
    struct emit_ctx e = {&b, base, 0, NULL, sign ? &signer : NULL};
    if (rc == 0)
        rc = catalog_item_each(cat, v.groups, request_param(r, 0), request_param(r, 1), emit_cb,
                               &e);
    if (rc == -ENOENT) {
        api_reply_not_found(r, "Item not found");
    } else if (rc < 0 || b.oom) {
        api_reply_catalog_error(r, b.oom ? -ENOMEM : rc);
    } else {
        reply_buffer(r, 200, GEOJSON, b.s, b.n);
        b.s = NULL;
    }
    free(b.s);
out:
    principal_free(&p);
}

/* ---- search ------------------------------------------------------------ */


static void key_part(struct buf *b, const char *part, size_t len)
{
    uint32_t n = (uint32_t)len;
    buf_append(b, (const char *)&n, sizeof(n));
    buf_append(b, part, len);
}

/* A list's length, then each element. */
static void key_list(struct buf *b, const struct strlist *l)
{
    uint32_t n = l ? (uint32_t)l->n : 0;
    buf_append(b, (const char *)&n, sizeof(n));
    for (size_t i = 0; i < n; i++)
        key_part(b, l->v[i], strlen(l->v[i]));
}

static int key_query_arg(void *ctx, const char *key, const char *value)
{
    key_part(ctx, key, strlen(key));
    key_part(ctx, value ? value : "\x01", value ? strlen(value) : 1); /* "?k" vs "?k=" */
    return 0;
}

/* Replies with the cached page and returns true on a hit; otherwise leaves
 * s->page ready for page_store (or with gen 0 when the page must not be
 * cached). Call after the caller is authenticated. */
static bool page_from_cache(struct request *r, struct search *s)
{
    struct app *app = request_app(r);
    struct page_key *pk = &s->page;
    if (!app->stac_pages || !(pk->gen = catalog_generation(app->catalog)))
        return false;
    char base[320];
    base_url(r, base, sizeof(base));
    const char *method = request_method(r), *path = request_path(r);
    key_part(&pk->key, method, strlen(method));
    key_part(&pk->key, path, strlen(path));
    key_part(&pk->key, base, strlen(base));
    key_list(&pk->key, s->q.groups);
    key_list(&pk->key, s->bounds);
    size_t blen = 0;
    const char *body = request_body(r, &blen);
    key_part(&pk->key, body ? body : "", body ? blen : 0);
    request_query_each(r, key_query_arg, &pk->key);
    if (pk->key.oom) {
        pk->gen = 0;
        return false;
    }
    size_t len = 0;
    char *page = pagecache_get(app->stac_pages, pk->key.s, pk->key.n, pk->gen, &len);
    if (!page)
        return false;
    reply_buffer(r, 200, GEOJSON, page, len);
    return true;
}

static void page_store(struct request *r, const struct search *s, const char *page, size_t len)
{
    /* Signed pages are the signer's alone, and expire. */
    if (s->page.gen && !s->sign)
        pagecache_put(request_app(r)->stac_pages, s->page.key.s, s->page.key.n, s->page.gen, page,
                      len);
}

struct query_copy {
    struct buf *b;
};

static int copy_query_arg(void *ctx, const char *key, const char *value)
{
    struct query_copy *qc = ctx;
    if (strcmp(key, "offset") == 0)
        return 0;
    char *k = url_encode(key, ""), *v = url_encode(value, "/:,");
    if (k && v)
        buf_concat(qc->b, k, "=", v, "&", NULL);
    else
        qc->b->oom = true;
    free(k);
    free(v);
    return 0;
}

/* This request's URL with offset set (offset < 0: unchanged). malloc'd. */
static char *page_url(struct request *r, const char *base, long long offset)
{
    struct buf b = {0};
    char *path = url_encode(request_path(r), "/");
    if (!path)
        return NULL;
    buf_concat(&b, base, path, "?", NULL);
    free(path);
    struct query_copy qc = {&b};
    request_query_each(r, copy_query_arg, &qc);
    if (offset >= 0)
        buf_printf(&b, "offset=%lld", offset);
    else if (!b.oom && b.n && (b.s[b.n - 1] == '&' || b.s[b.n - 1] == '?'))
        b.s[--b.n] = 0;
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

static void add_page_link(struct request *r, cJSON *links, const char *rel, const char *base,
                          const cJSON *post_body, long long offset)
{
    if (!post_body) {
        char *href = page_url(r, base, offset);
        if (href)
            cJSON_AddStringToObject(add_link(links, rel, href, GEOJSON, NULL), "method", "GET");
        free(href);
        return;
    }
    char href[400];
    snprintf(href, sizeof(href), "%s/api/v1/stac/search", base);
    cJSON *l = add_link(links, rel, href, GEOJSON, NULL);
    cJSON *body = cJSON_Duplicate(post_body, true);
    if (!l || !body) {
        cJSON_Delete(body);
        return;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(body, "offset");
    cJSON_AddNumberToObject(body, "offset", (double)offset);
    cJSON_AddStringToObject(l, "method", "POST");
    cJSON_AddItemToObject(l, "body", body);
    cJSON_AddBoolToObject(l, "merge", false);
}

/* stac_caller for a search: the caller's view goes into s. */
static bool search_caller(struct request *r, struct principal *p, struct search *s)
{
    struct viewer v;
    if (!stac_viewer(r, p, &v))
        return false;
    s->q.groups = v.groups;
    s->bounds = v.bounds;
    s->caller = p;
    return true;
}

/* Runs the search and replies with an ItemCollection. collection: the
 * collection of /collections/{id}/items (already checked), else NULL. */
static void run_search(struct request *r, struct search *s, const cJSON *post_body,
                       const char *collection)
{
    struct catalog *cat = request_app(r)->catalog;
    /* Unknown (or hidden) collections are a client error in /search. */
    struct viewer v = {s->q.groups, s->bounds};
    for (size_t i = 0; !collection && i < s->colls.n; i++) {
        cJSON *doc = NULL;
        int rc = bounds_collection_get(cat, &v, s->colls.v[i], &doc);
        cJSON_Delete(doc);
        if (rc == -ENOENT) {
            char msg[200];
            snprintf(msg, sizeof(msg), "unknown collection: %.150s", s->colls.v[i]);
            api_reply_invalid(r, msg);
            return;
        }
        if (rc < 0) {
            api_reply_catalog_error(r, rc);
            return;
        }
    }
    int rc = stac_ext_apply(cat, collection, &s->ext, &s->q, s->msg, sizeof(s->msg));
    if (rc < 0) {
        if (rc == -EINVAL)
            api_reply_invalid(r, s->msg);
        else
            api_reply_catalog_error(r, rc);
        return;
    }
    /* Every requested collection is reachable (checked above), so the
     * bounds never leave nothing to search. */
    if (bounds_narrow_search(s->bounds, &s->colls, &s->ext.filter) < 0) {
        api_reply_error(r, 500, "out of memory", NULL);
        return;
    }
    s->q.collections = s->colls.n ? &s->colls : NULL;
    s->q.filter = s->ext.filter;
    struct url_signer signer;
    if (s->sign && !url_signer_for(r, s->caller, SIGNEDURL_MAX_S, &signer))
        return;
    char base[320], href[1024];
    base_url(r, base, sizeof(base));
    int64_t matched = 0;
    struct buf b = {0};
    struct emit_ctx e = {&b, base, 0, &s->ext, s->sign ? &signer : NULL};
    buf_concat(&b, "{\"type\":\"FeatureCollection\",\"features\":[", NULL);
    rc = catalog_search_each(cat, &s->q, &matched, emit_cb, &e);
    if (rc == 0 && b.oom)
        rc = -ENOMEM;
    if (rc < 0) {
        free(b.s);
        if (rc == -EINVAL)
            api_reply_invalid(r, "invalid search parameters");
        else if (rc == -E2BIG)
            api_reply_invalid(r, "filter: too large for the catalog database; simplify it");
        else
            api_reply_catalog_error(r, rc);
        return;
    }
    long long returned = (long long)e.count;

    cJSON *links = cJSON_CreateArray();
    if (post_body) {
        snprintf(href, sizeof(href), "%s/api/v1/stac/search", base);
        add_link(links, "self", href, GEOJSON, NULL);
    } else {
        char *self = page_url(r, base, -1);
        if (self)
            add_link(links, "self", self, GEOJSON, NULL);
        free(self);
    }
    snprintf(href, sizeof(href), "%s/api/v1/stac/", base);
    add_link(links, "root", href, "application/json", NULL);
    if (collection) {
        char *ec = url_encode(collection, "");
        if (ec) {
            snprintf(href, sizeof(href), "%s/api/v1/stac/collections/%.600s", base, ec);
            add_link(links, "parent", href, "application/json", NULL);
            add_link(links, "collection", href, "application/json", NULL);
        }
        free(ec);
    }
    if (s->q.offset + returned < matched)
        add_page_link(r, links, "next", base, post_body, s->q.offset + returned);
    if (s->q.offset > 0) {
        long long prev = s->q.offset - s->q.limit;
        add_page_link(r, links, "prev", base, post_body, prev < 0 ? 0 : prev);
    }
    char *ltext = links ? cJSON_PrintUnformatted(links) : NULL;
    cJSON_Delete(links);
    if (ltext)
        buf_printf(&b, "],\"links\":%s,\"numberMatched\":%lld,\"numberReturned\":%lld}", ltext,
                   (long long)matched, returned);
    free(ltext);
    if (!ltext || b.oom) {
        free(b.s);
        api_reply_error(r, 500, "out of memory", NULL);
        return;
    }
    page_store(r, s, b.s, b.n);
    reply_buffer(r, 200, GEOJSON, b.s, b.n);
}

static void h_search_get(struct request *r)
{
    struct principal p = {0};
    struct search s = {.ids = STRLIST_INIT, .colls = STRLIST_INIT};
    if (!search_caller(r, &p, &s) || page_from_cache(r, &s))
        goto out;
    int rc = search_from_query(r, &s);
    if (rc == -ENOMEM)
        api_reply_error(r, 500, "out of memory", NULL);
    else if (rc < 0)
        api_reply_invalid(r, s.msg);
    else
        run_search(r, &s, NULL, NULL);
out:
    search_free(&s);
    principal_free(&p);
}

static void h_search_post(struct request *r)
{
    struct principal p = {0};
    struct search s = {.ids = STRLIST_INIT, .colls = STRLIST_INIT};
    cJSON *body = NULL;
    if (!search_caller(r, &p, &s) || page_from_cache(r, &s))
        goto out;
    body = api_parse_body(r);
    if (!body)
        goto out;
    int rc = search_from_body(body, &s);
    if (rc == -ENOMEM)
        api_reply_error(r, 500, "out of memory", NULL);
    else if (rc < 0)
        api_reply_invalid(r, s.msg);
    else
        run_search(r, &s, body, NULL);
out:
    cJSON_Delete(body);
    search_free(&s);
    principal_free(&p);
}

static void h_items(struct request *r)
{
    struct principal p = {0};
    struct search s = {.ids = STRLIST_INIT, .colls = STRLIST_INIT};
    if (!search_caller(r, &p, &s) || page_from_cache(r, &s))
        goto out;
    const char *id = request_param(r, 0);
    cJSON *doc = NULL;
    struct viewer v = {s.q.groups, s.bounds};
    int rc = bounds_collection_get(request_app(r)->catalog, &v, id, &doc);
    cJSON_Delete(doc);
    if (stac_collection_failed(r, rc))
        goto out;
    rc = search_from_query(r, &s);
    if (rc == -ENOMEM) {
        api_reply_error(r, 500, "out of memory", NULL);
        goto out;
    }
    if (rc < 0) {
        api_reply_invalid(r, s.msg);
        goto out;
    }
    strlist_free(&s.colls);
    if (strlist_add(&s.colls, id) < 0) {
        api_reply_error(r, 500, "out of memory", NULL);
        goto out;
    }
    run_search(r, &s, NULL, id);
out:
    search_free(&s);
    principal_free(&p);
}

void api_stac_register(struct server *srv)
{
    server_route(srv, "GET", "/api/v1/stac", h_landing, 0);
    server_route(srv, "GET", "/api/v1/stac/conformance", h_conformance, 0);
    server_route(srv, "GET", "/api/v1/stac/collections", h_collections, 0);
    server_route(srv, "GET", "/api/v1/stac/collections/{}", h_collection, 0);
    server_route(srv, "GET", "/api/v1/stac/collections/{}/items", h_items, 0);
    server_route(srv, "GET", "/api/v1/stac/collections/{}/items/{}", h_item, 0);
    server_route(srv, "GET", "/api/v1/stac/search", h_search_get, 0);
    server_route(srv, "POST", "/api/v1/stac/search", h_search_post, 0);
    api_stac_ext_register(srv);
}
