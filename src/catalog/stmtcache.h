/* Prepared statements of one SQLite connection, kept by their exact SQL
 * text, so that a statement written again (the catalog search writes its
 * SQL per request, with values as bound parameters) is reset and reused
 * instead of prepared again: preparing was a quarter of an uncached search.
 * At most STMTCACHE_SIZE are kept, the least recently used out first.
 * Statements are prepared with sqlite3_prepare_v3, so SQLite itself
 * re-prepares a kept one on its next step after any schema change (its
 * schema cookie is checked whenever a statement starts): a kept statement
 * never runs against an old schema. Internal to src/catalog/.
 * Threading: a cache belongs to its connection, used by one thread at a
 * time (the one holding the pooled connection). */
#ifndef TESSERA_CATALOG_STMTCACHE_H
#define TESSERA_CATALOG_STMTCACHE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STMTCACHE_SIZE 32

struct stmtcache_entry {
    char *sql; /* owned; NULL: a free slot */
    size_t len;
    uint64_t hash;
    sqlite3_stmt *st;
    uint64_t used; /* the cache's clock at the last get */
    bool busy;     /* handed out and not yet put back */
};

/* Zero-initialised is empty. */
struct stmtcache {
    struct stmtcache_entry e[STMTCACHE_SIZE];
    uint64_t clock;
    uint64_t hits, misses; /* for tests and profiles */
};

/* A statement for the len bytes of sql on db, ready to bind: the kept one
 * when it is not in use, else newly prepared (and kept, in a free slot or
 * that of the least recently used, unless the kept one is in use). NULL on failure, with db's error
 * set. The caller holds it until it gives it back with stmtcache_put. */
sqlite3_stmt *stmtcache_get(struct stmtcache *c, sqlite3 *db, const char *sql, size_t len);
/* Gives st back: reset with its bindings cleared (so no borrowed text or
 * pointer outlives the call that bound it), or finalized when it is not
 * kept. NULL is a no-op. */
void stmtcache_put(struct stmtcache *c, sqlite3_stmt *st);
/* Finalizes every kept statement (before the connection closes). */
void stmtcache_clear(struct stmtcache *c);

#endif
