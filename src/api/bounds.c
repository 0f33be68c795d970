/* Resource bounds on catalog reads: which collections a bound token
 * reaches, and the filter that keeps the items of a collection reached only
 * through asset prefixes to those with such an asset (bounds.h). */
#include "api/bounds.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth/resources.h"

/* The collection a bound names: collection:C, or the first segment of an
 * asset prefix that has one. False for a prefix inside a collection id
 * (asset:l2b reaches every collection whose id begins so). */
static bool bound_collection(const char *bound, char *out, size_t outlen)
{
    const char *id, *end;
    if (strncmp(bound, RESOURCE_COLLECTION, strlen(RESOURCE_COLLECTION)) == 0) {
        id = bound + strlen(RESOURCE_COLLECTION);
        end = id + strlen(id);
    } else {
        id = bound + strlen(RESOURCE_ASSET);
        if (!(end = strchr(id, '/')))
            return false;
    }
    if ((size_t)(end - id) >= outlen)
        return false;
    memcpy(out, id, (size_t)(end - id));
    out[end - id] = '\0';
    return true;
}

/* Keeps the requested collections bounds reach; with none requested, the
 * collections they name when every bound names one. */
static int narrow_collections(const struct strlist *bounds, struct strlist *collections)
{
    if (collections->n) {
        size_t kept = 0;
        for (size_t i = 0; i < collections->n; i++) {
            if (resources_collection_some(bounds, collections->v[i]))
                collections->v[kept++] = collections->v[i];
            else
                free(collections->v[i]);
        }
        collections->n = kept;
        return kept ? 0 : 1;
    }
    struct strlist named = STRLIST_INIT;
    char id[RESOURCE_MAX_LEN + 1];
    for (size_t i = 0; i < bounds->n; i++) {
        if (!bound_collection(bounds->v[i], id, sizeof(id))) {
            strlist_free(&named);
            return 0; /* unbounded set of collections: the filter decides */
        }
        if (strlist_add(&named, id) < 0) {
            strlist_free(&named);
            return -ENOMEM;
        }
    }
    *collections = named;
    return 0;
}

static struct filter_node *string_leaf(struct filter_budget *b, enum filter_op op,
                                       enum filter_field field, const char *const *values, size_t n)
{
    bool over = false;
    struct filter_node *leaf = filter_node_new(b, op, &over);
    if (!leaf)
        return NULL;
    leaf->field = field;
    for (size_t i = 0; i < n; i++) {
        struct filter_value v = {.type = FILTER_STRING, .str = strdup(values[i])};
        if (!v.str || filter_add_value(b, leaf, &v) < 0) {
            free(v.str);
            filter_free(leaf);
            return NULL;
        }
    }
    return leaf;
}

/* collection IN (the whole collections) OR an asset under one of the
 * prefixes. */
static struct filter_node *reach_filter(const struct strlist *bounds)
{
    struct filter_budget budget = {0};
    const char *prefixes[RESOURCES_MAX], *whole[RESOURCES_MAX];
    size_t np = resources_asset_prefixes(bounds, prefixes, RESOURCES_MAX);
    size_t nw = resources_collection_ids(bounds, whole, RESOURCES_MAX);
    bool over = false;
    struct filter_node *any = filter_node_new(&budget, FILTER_OR, &over);
    if (!any)
        return NULL;
    struct filter_node *k =
        nw ? string_leaf(&budget, FILTER_IN, FILTER_FIELD_COLLECTION, whole, nw) : NULL;
    if (nw && (!k || filter_add_kid(any, k) < 0))
        goto fail;
    for (size_t i = 0; i < np; i++) {
        k = string_leaf(&budget, FILTER_ASSET_PREFIX, FILTER_FIELD_ASSET, &prefixes[i], 1);
        if (!k || filter_add_kid(any, k) < 0)
            goto fail;
    }
    filter_normalize(&any); /* one alternative: the leaf itself */
    return any;
fail:
    filter_free(k);
    filter_free(any);
    return NULL;
}

int bounds_narrow_search(const struct strlist *bounds, struct strlist *collections,
                         struct filter_node **filter)
{
    if (!bounds || bounds->n == 0)
        return 0;
    int rc = narrow_collections(bounds, collections);
    if (rc != 0)
        return rc;
    /* Collections reached whole need no test of their items. */
    bool all_whole = collections->n > 0;
    for (size_t i = 0; all_whole && i < collections->n; i++)
        all_whole = resources_collection_whole(bounds, collections->v[i]);
    if (all_whole)
        return 0;
    struct filter_node *reach = reach_filter(bounds);
    if (!reach)
        return -ENOMEM;
    if (!(*filter = filter_and(*filter, reach)))
        return -ENOMEM;
    filter_normalize(filter);
    return 0;
}

/* 0 when q (limit and paging aside) matches an item, -ENOENT when not, or
 * -errno. */
static int any_match(struct catalog *cat, struct catalog_query *q)
{
    int64_t matched = 0;
    cJSON *items = NULL;
    q->limit = 1;
    q->page_only = true;
    int rc = catalog_search(cat, q, &matched, &items);
    if (rc == 0 && cJSON_GetArraySize(items) == 0)
        rc = -ENOENT;
    cJSON_Delete(items);
    return rc;
}

int bounds_collections(struct catalog *cat, const struct viewer *v, cJSON **out)
{
    int rc = catalog_collections(cat, v->groups, out);
    if (rc < 0 || !v->bounds || !v->bounds->n)
        return rc;
    cJSON *c = (*out)->child;
    while (c) {
        cJSON *next = c->next;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "id");
        if (!cJSON_IsString(id) || !resources_collection_some(v->bounds, id->valuestring))
            cJSON_Delete(cJSON_DetachItemViaPointer(*out, c));
        c = next;
    }
    return 0;
}

int bounds_collection_get(struct catalog *cat, const struct viewer *v, const char *id, cJSON **out)
{
    *out = NULL;
    if (v->bounds && !resources_collection_some(v->bounds, id))
        return -ENOENT;
    return catalog_collection_get(cat, v->groups, id, out);
}

int bounds_item_reachable(struct catalog *cat, const struct viewer *v, const char *collection,
                          const char *id)
{
    const struct strlist *bounds = v->bounds;
    if (!bounds || resources_collection_whole(bounds, collection))
        return 0;
    if (!resources_collection_some(bounds, collection))
        return -ENOENT;
    struct strlist collections = STRLIST_INIT, ids = STRLIST_INIT;
    struct filter_node *filter = NULL;
    int rc = strlist_add(&collections, collection) < 0 || strlist_add(&ids, id) < 0
                 ? -ENOMEM
                 : bounds_narrow_search(bounds, &collections, &filter);
    if (rc == 0) {
        struct catalog_query q = {
            .groups = v->groups, .ids = &ids, .collections = &collections, .filter = filter};
        rc = any_match(cat, &q);
    }
    filter_free(filter);
    strlist_free(&collections);
    strlist_free(&ids);
    return rc == 1 ? -ENOENT : rc;
}

int bounds_asset_reachable(struct catalog *cat, const struct viewer *v, const char *key)
{
    const struct strlist *bounds = v->bounds;
    if (!bounds || resources_asset_allowed(bounds, key))
        return 0;
    struct strlist whole = STRLIST_INIT;
    const char *ids[RESOURCES_MAX];
    size_t nw = resources_collection_ids(bounds, ids, RESOURCES_MAX);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < nw; i++)
        rc = strlist_add(&whole, ids[i]);
    struct filter_budget budget = {0};
    struct filter_node *has = NULL;
    if (rc == 0 && whole.n == 0)
        rc = -ENOENT;
    if (rc == 0 && !(has = string_leaf(&budget, FILTER_ASSET_KEY, FILTER_FIELD_ASSET, &key, 1)))
        rc = -ENOMEM;
    if (rc == 0) {
        struct catalog_query q = {.groups = v->groups, .collections = &whole, .filter = has};
        rc = any_match(cat, &q);
    }
    filter_free(has);
    strlist_free(&whole);
    return rc;
}
