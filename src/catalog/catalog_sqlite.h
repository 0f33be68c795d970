/* Internals shared by the files of the SQLite catalog driver:
 * catalog_sqlite.c (schema, connection pool, import, generation),
 * catalog_sqlite_func.c (SQL functions),
 * catalog_sqlite_read.c (reads and queryables) and catalog_sqlite_search*.c
 * (search). Internal to src/catalog/.
 * Threading: the pool is mutex-guarded; a connection taken from it belongs
 * to the taking thread until it is put back. */
#ifndef TESSERA_CATALOG_SQLITE_H
#define TESSERA_CATALOG_SQLITE_H

#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#include "catalog/catalog_driver.h"
#include "catalog/stmtcache.h"
#include "store/walwatch.h"

/* Visibility is a bit mask over the vgroups table; bit 0 is Public. Bits
 * 0..62 keep sums of masks within int64. */
#define CATALOG_SQLITE_MAX_GROUP_BITS 62

/* The prepared statements of the reads, made on first use per connection. */
enum catalog_sqlite_stmt {
    CSQ_GROUP_BIT,
    CSQ_COLLECTIONS,
    CSQ_COLLECTION,
    CSQ_ITEM,
    CSQ_ITEM_TPL,
    CSQ_ASSET,
    CSQ_FETCH_DOC, /* an item's document by rowid (search pages) */
    CSQ_FETCH_TPL, /* an item's template by rowid */
    CSQ_PROP_KEYS, /* the property names and kinds seen in a collection, or in all */
    CSQ_PROP_ANY,  /* is some visible item of the collection (NULL: any) holding key? */
    CSQ_PROP_KIND, /* ... holding key with a value of kind? */
    CSQ_COUNT
};

struct catalog_sqlite_conn {
    sqlite3 *db;
    sqlite3_stmt *st[CSQ_COUNT];
    struct stmtcache search; /* the search's statements, by SQL text */
    struct catalog_sqlite_conn *next;
};

struct catalog_sqlite {
    struct catalog base;
    char path[PATH_MAX];
    pthread_mutex_t mu; /* guards idle and nidle */
    struct catalog_sqlite_conn *idle;
    unsigned nidle;
    struct walwatch *wal;   /* catalog_generation's probe */
    pthread_mutex_t gen_mu; /* guards gen and gen_hdr */
    uint64_t gen;
    struct walwatch_header gen_hdr;
};

/* Registers the driver's SQL functions on db (catalog_sqlite_func.c). */
void catalog_sqlite_functions(sqlite3 *db);

/* A read-only connection from the pool (opened when none is idle); NULL on
 * failure (logged). Give it back with catalog_sqlite_conn_put. */
struct catalog_sqlite_conn *catalog_sqlite_conn_get(struct catalog_sqlite *cat);
void catalog_sqlite_conn_put(struct catalog_sqlite *cat, struct catalog_sqlite_conn *c);

/* The reads of catalog_driver.h (catalog_sqlite_read.c). */
int catalog_sqlite_collections(struct catalog *cat, const struct strlist *groups, cJSON **out);
int catalog_sqlite_collection_get(struct catalog *cat, const struct strlist *groups, const char *id,
                                  cJSON **out);
int catalog_sqlite_item_get(struct catalog *cat, const struct strlist *groups,
                            const char *collection, const char *id, cJSON **out);
int catalog_sqlite_item_each(struct catalog *cat, const struct strlist *groups,
                             const char *collection, const char *id, catalog_item_fn fn, void *ctx);
int catalog_sqlite_asset_visible(struct catalog *cat, const struct strlist *groups,
                                 const char *key, cJSON **doc);
/* The read statement id on c, prepared on first use and kept with c (NULL
 * on failure, logged). */
sqlite3_stmt *catalog_sqlite_stmt(struct catalog_sqlite_conn *c, enum catalog_sqlite_stmt id);
/* The caller's visibility mask: Public plus every known group of theirs. */
int catalog_sqlite_group_mask(struct catalog_sqlite_conn *c, const struct strlist *groups,
                              int64_t *mask);

/* catalog_sqlite_search.c */
int catalog_sqlite_search(struct catalog *cat, const struct catalog_query *q, int64_t *matched,
                          cJSON **items, catalog_item_fn fn, void *ctx);
/* catalog_sqlite_read.c */
int catalog_sqlite_queryables(struct catalog *cat, const struct strlist *groups,
                              const char *collection, struct catalog_queryable **out, size_t *n);
int catalog_sqlite_properties_visible(struct catalog *cat, const struct strlist *groups,
                                      const char *collection, const struct strlist *names,
                                      size_t *missing);

#endif
