/* Internals shared by the two files of the PostgreSQL catalog driver:
 * catalog_pg.c (schema, import, the simple reads, generation) and
 * catalog_pg_search.c (search). Internal to src/catalog/.
 * Threading: the pool (store/pg.h) is thread-safe; a borrowed connection
 * belongs to its borrower until released; gen is atomic. */
#ifndef TESSERA_CATALOG_PG_H
#define TESSERA_CATALOG_PG_H

#include <stdatomic.h>
#include <stdint.h>

#include "catalog/catalog_driver.h"
#include "store/pg.h"

struct catalog_pg {
    struct catalog base;
    struct pg_pool *pool;
    /* catalog_generation: bumped after this process's own imports and by
     * catalog_note_change when the change feed applies another node's. */
    _Atomic uint64_t gen;
};

/* A PostgreSQL text[] literal of l's strings, plus extra when not NULL
 * ({"a","b\"c"}): malloc'd, NULL when out of memory. */
char *catalog_pg_text_array(const struct strlist *l, const char *extra);
/* A box literal "((minx,miny),(maxx,maxy))" of b[4] = minx, miny, maxx, maxy
 * into out (at least CATALOG_PG_BOX_LEN bytes). */
#define CATALOG_PG_BOX_LEN 112
void catalog_pg_box_param(const double b[4], char *out);

#endif
