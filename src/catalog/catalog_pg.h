/* Internals shared by the files of the PostgreSQL catalog driver:
 * catalog_pg.c (schema, import, the simple reads, generation),
 * catalog_pg_search.c (search) and catalog_pg_props.c (property rows and
 * queryables). Internal to src/catalog/.
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

/* pg_advisory_xact_lock key pair serialising imports ('tess', 'ctlg'). The
 * two-int form has a key space of its own, apart from the single bigint keys
 * that pg_migrate locks. */
#define CATALOG_PG_IMPORT_LOCK_KEYS "1952805747, 1668574311"

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

/* An item's properties as the array literals of one INSERT ... unnest():
 * keys text[], kinds smallint[], nums float8[], txts text[] (malloc'd). */
struct catalog_pg_props {
    char *keys, *kinds, *nums, *txts;
};
int catalog_pg_props_params(const struct catalog_prop *props, size_t n,
                            struct catalog_pg_props *out);
void catalog_pg_props_free(struct catalog_pg_props *p);
/* Fills in the property rows of items stored before they existed (schema
 * version 2), under the import lock. 0 or -errno (logged). */
int catalog_pg_props_backfill(struct catalog_pg *cat);
int catalog_pg_queryables(struct catalog *cat, const struct strlist *groups, const char *collection,
                          struct catalog_queryable **out, size_t *n);
int catalog_pg_properties_visible(struct catalog *cat, const struct strlist *groups,
                                  const char *collection, const struct strlist *names,
                                  size_t *missing);

#endif
