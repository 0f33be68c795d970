/* The STAC catalog: collections and items with their visibility groups, a
 * spatial index, and search. Stored in its own SQLite file (catalog.db in the
 * data directory), loaded by `tessera stac import`, read by api_stac.c.
 * Thread-safe: any thread may search; imports may run while serving. */
#ifndef TESSERA_CATALOG_H
#define TESSERA_CATALOG_H

#include <stddef.h>

#include "strlist.h"

struct catalog;

/* Opens (creating and migrating) data_dir/catalog.db. NULL on failure. */
struct catalog *catalog_open(const char *data_dir);
void catalog_close(struct catalog *cat);
/* Imports a STAC Collection, Item or ItemCollection file, or every *.json
 * file under a directory (recursively), all in one transaction: on any
 * invalid document nothing is loaded and err says which file and why.
 * visibility: groups allowed to see the imported documents. 0 or -errno. */
int catalog_import_path(struct catalog *cat, const char *path, const struct strlist *visibility,
                        char *err, size_t errlen);

#endif
