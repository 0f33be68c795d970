/* Item templates (the format is described at CATALOG_ASSET_MARKER in
 * catalog.h): built once per item at import, so that serving an item never
 * parses or prints JSON. Pure functions; any thread. */
#ifndef TESSERA_CATALOG_TEMPLATE_H
#define TESSERA_CATALOG_TEMPLATE_H

#include <cjson/cJSON.h>

/* The template of the item document doc: a malloc'd string the caller frees,
 * or NULL when out of memory. doc is not changed. */
char *catalog_item_template(const cJSON *doc);

#endif
