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

/* SQL conditions for "visible to the groups in $1" (a text[] that always
 * holds Public). A document is visible when one of its visibility rows names
 * one of the groups; an item also needs its collection visible. The
 * collection document's own rows have item = ''. */
#define CATALOG_PG_COLL_VISIBLE(coll)                                                              \
    "EXISTS (SELECT 1 FROM catalog_visibility v WHERE v.collection = " coll                        \
    " AND v.item = '' AND v.grp = ANY ($1::text[]))"
#define CATALOG_PG_ITEM_VISIBLE                                                                    \
    "EXISTS (SELECT 1 FROM catalog_visibility v WHERE v.collection = i.collection"                 \
    " AND v.item = i.id AND v.grp = ANY ($1::text[]))"                                             \
    " AND " CATALOG_PG_COLL_VISIBLE("i.collection")

/* Items in page order: newest first, then collection and id in byte order
 * (COLLATE "C"), as SQLite's BINARY collation sorts them, whatever the
 * database's own collation is. */
#define CATALOG_PG_ITEM_ORDER                                                                      \
    "i.datetime_start DESC, i.collection COLLATE \"C\", i.id COLLATE \"C\""

/* A PostgreSQL text[] literal of l's strings, plus extra when not NULL
 * ({"a","b\"c"}): malloc'd, NULL when out of memory. */
char *catalog_pg_text_array(const struct strlist *l, const char *extra);
/* A box literal "((minx,miny),(maxx,maxy))" of b[4] = minx, miny, maxx, maxy
 * into out (at least CATALOG_PG_BOX_LEN bytes). */
#define CATALOG_PG_BOX_LEN 112
void catalog_pg_box_param(const double b[4], char *out);

/* Collects column col of every row of r, parsed as JSON, into a new array
 * (single: the first row's document alone, -ENOENT when there is none). */
int catalog_pg_collect_docs(const PGresult *r, int col, bool single, cJSON **out);
/* Calls fn(ctx, collection, id, tpl) for each row of r whose columns from col
 * on are tpl, collection, id; stops at the first non-zero return. */
int catalog_pg_each_template(const PGresult *r, int col, catalog_item_fn fn, void *ctx);

int catalog_pg_search(struct catalog *cat, const struct catalog_query *q, int64_t *matched,
                      cJSON **items, catalog_item_fn fn, void *ctx);

#endif
