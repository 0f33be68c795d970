/* Item templates: the item's JSON text with its navigation links dropped,
 * "links" moved last and left open, and relative asset hrefs marked with
 * CATALOG_ASSET_MARKER so that a server can prefix its own base URL without
 * parsing JSON per request. Pure functions; any thread. */
#include "catalog/template.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "util/url.h"

/* Links a server writes itself, with its own base URL. */
static bool nav_rel(const char *rel)
{
    static const char *const nav[] = {"self",  "root", "parent", "collection",
                                      "items", "item", "child"};
    for (size_t i = 0; i < sizeof(nav) / sizeof(nav[0]); i++)
        if (strcmp(rel, nav[i]) == 0)
            return true;
    return false;
}

/* The item template (see catalog.h), built once at import so that serving an
 * item never parses or prints JSON. NULL when out of memory. */
char *catalog_item_template(const cJSON *doc)
{
    char *head = NULL, *ltext = NULL, *tpl = NULL;
    cJSON *copy = cJSON_Duplicate(doc, true);
    if (!copy)
        return NULL;
    cJSON *links = cJSON_DetachItemFromObjectCaseSensitive(copy, "links");
    if (!cJSON_IsArray(links)) {
        cJSON_Delete(links);
        links = cJSON_CreateArray();
    }
    for (cJSON *l = links ? links->child : NULL, *next; l; l = next) {
        next = l->next;
        const cJSON *rel = cJSON_GetObjectItemCaseSensitive(l, "rel");
        if (!cJSON_IsString(rel) || nav_rel(rel->valuestring))
            cJSON_Delete(cJSON_DetachItemViaPointer(links, l));
    }
    cJSON *a, *assets = cJSON_GetObjectItemCaseSensitive(copy, "assets");
    cJSON_ArrayForEach(a, assets)
    {
        cJSON *h = cJSON_GetObjectItemCaseSensitive(a, "href");
        if (!cJSON_IsString(h))
            continue;
        const char *key = h->valuestring;
        if (strstr(key, "://") || key[0] == '/' || strncmp(key, "data:", 5) == 0)
            continue;
        while (key[0] == '.' && key[1] == '/')
            key += 2;
        /* '%', '/', '?', '#', '=' and '&' are kept, so an href written
         * already encoded, or with a query, reaches the asset endpoint as it
         * was written. */
        char *ekey = url_encode(key, "/%?#=&");
        char *v = ekey ? malloc(strlen(ekey) + 32) : NULL;
        if (v) {
            sprintf(v, CATALOG_ASSET_MARKER_RAW "%s", ekey); /* printed as CATALOG_ASSET_MARKER */
            cJSON_SetValuestring(h, v);
        }
        free(v);
        free(ekey);
    }
    head = cJSON_PrintUnformatted(copy);
    ltext = links ? cJSON_PrintUnformatted(links) : NULL;
    if (!head || !ltext)
        goto out;
    size_t hn = strlen(head), ln = strlen(ltext);
    tpl = malloc(hn + ln + 16);
    if (!tpl)
        goto out;
    /* head = "{...}", ltext = "[...]": "{...,"links":[..." */
    memcpy(tpl, head, hn - 1);
    size_t n = hn - 1;
    if (hn > 2)
        tpl[n++] = ',';
    memcpy(tpl + n, "\"links\":", 8);
    n += 8;
    memcpy(tpl + n, ltext, ln - 1);
    n += ln - 1;
    tpl[n] = 0;
out:
    free(head);
    free(ltext);
    cJSON_Delete(links);
    cJSON_Delete(copy);
    return tpl;
}
