/* The catalog's front door: catalog_open picks the storage driver from the
 * database URL, and every other entry point of catalog.h checks its
 * arguments once (a NULL catalog is an empty one) and dispatches through the
 * driver's ops table (catalog_driver.h). Import lives in import.c, the
 * parameter parsers in params.c, geometry in geom.c. Thread-safety is the
 * drivers': see catalog.h. */
#include "catalog/catalog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_driver.h"
#include "store/pg.h"

struct catalog *catalog_open(const char *data_dir, const char *database_url)
{
    if (pg_url_is_pg(database_url))
        return catalog_pg_open(database_url);
    /* No URL, a path or a sqlite: URL all mean the embedded store; the
     * catalog keeps its own file next to it in the data directory. */
    if (!data_dir)
        return NULL;
    return catalog_sqlite_open(data_dir);
}

void catalog_close(struct catalog *cat)
{
    if (cat)
        cat->ops->close(cat);
}

uint64_t catalog_generation(struct catalog *cat)
{
    return cat ? cat->ops->generation(cat) : 0;
}

void catalog_note_change(struct catalog *cat)
{
    if (cat)
        cat->ops->note_change(cat);
}

int catalog_collections(struct catalog *cat, const struct strlist *groups, cJSON **out)
{
    if (!cat) {
        *out = cJSON_CreateArray();
        return *out ? 0 : -ENOMEM;
    }
    return cat->ops->collections(cat, groups, out);
}

int catalog_collection_get(struct catalog *cat, const struct strlist *groups, const char *id,
                           cJSON **out)
{
    *out = NULL;
    if (!cat || !id)
        return -ENOENT;
    return cat->ops->collection_get(cat, groups, id, out);
}

int catalog_item_get(struct catalog *cat, const struct strlist *groups, const char *collection,
                     const char *id, cJSON **out)
{
    *out = NULL;
    if (!cat || !collection || !id)
        return -ENOENT;
    return cat->ops->item_get(cat, groups, collection, id, out);
}

int catalog_asset_visible(struct catalog *cat, const struct strlist *groups, const char *key)
{
    if (!cat || !key)
        return -ENOENT;
    return cat->ops->asset_visible(cat, groups, key, NULL);
}

int catalog_asset_type(struct catalog *cat, const struct strlist *groups, const char *key,
                       char *type, size_t typelen)
{
    if (typelen)
        type[0] = '\0';
    if (!cat || !key)
        return -ENOENT;
    cJSON *doc = NULL;
    int rc = cat->ops->asset_visible(cat, groups, key, &doc);
    if (rc < 0)
        return rc;
    /* The asset of that item whose href names this key: the same mapping
     * from href to key as at import. */
    const cJSON *a, *assets = cJSON_GetObjectItemCaseSensitive(doc, "assets");
    char k[1024];
    cJSON_ArrayForEach(a, assets)
    {
        const cJSON *href = cJSON_GetObjectItemCaseSensitive(a, "href");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(a, "type");
        if (cJSON_IsString(href) && catalog_asset_key(href->valuestring, k, sizeof(k)) &&
            strcmp(k, key) == 0) {
            if (cJSON_IsString(t) && strlen(t->valuestring) < typelen)
                strcpy(type, t->valuestring);
            break;
        }
    }
    cJSON_Delete(doc);
    return 0;
}

int catalog_item_each(struct catalog *cat, const struct strlist *groups, const char *collection,
                      const char *id, catalog_item_fn fn, void *ctx)
{
    if (!cat || !collection || !id)
        return -ENOENT;
    return cat->ops->item_each(cat, groups, collection, id, fn, ctx);
}

static int search_run(struct catalog *cat, const struct catalog_query *q, int64_t *matched,
                      cJSON **items, catalog_item_fn fn, void *ctx)
{
    *matched = 0;
    if (items)
        *items = NULL;
    if (q->limit < 1 || q->limit > CATALOG_MAX_LIMIT || q->offset < 0)
        return -EINVAL;
    if (!cat) {
        if (!items)
            return 0;
        *items = cJSON_CreateArray();
        return *items ? 0 : -ENOMEM;
    }
    return cat->ops->search(cat, q, matched, items, fn, ctx);
}

int catalog_search(struct catalog *cat, const struct catalog_query *q, int64_t *matched,
                   cJSON **items)
{
    return search_run(cat, q, matched, items, NULL, NULL);
}

int catalog_search_each(struct catalog *cat, const struct catalog_query *q, int64_t *matched,
                        catalog_item_fn fn, void *ctx)
{
    return search_run(cat, q, matched, NULL, fn, ctx);
}

static int queryable_cmp(const void *a, const void *b)
{
    return strcmp(((const struct catalog_queryable *)a)->name,
                  ((const struct catalog_queryable *)b)->name);
}

int catalog_queryables(struct catalog *cat, const struct strlist *groups, const char *collection,
                       struct catalog_queryable **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (collection) {
        cJSON *doc = NULL;
        int rc = catalog_collection_get(cat, groups, collection, &doc);
        cJSON_Delete(doc);
        if (rc < 0)
            return rc;
    }
    if (!cat)
        return 0;
    int rc = cat->ops->queryables(cat, groups, collection, out, n);
    if (rc == 0 && *n > 1)
        qsort(*out, *n, sizeof(**out), queryable_cmp);
    return rc;
}

void catalog_queryables_free(struct catalog_queryable *q, size_t n)
{
    for (size_t i = 0; q && i < n; i++)
        free(q[i].name);
    free(q);
}

int catalog_properties_visible(struct catalog *cat, const struct strlist *groups,
                               const char *collection, const struct strlist *names, size_t *missing)
{
    *missing = 0;
    if (!names || names->n == 0)
        return 0;
    if (!cat)
        return -ENOENT;
    return cat->ops->properties_visible(cat, groups, collection, names, missing);
}
