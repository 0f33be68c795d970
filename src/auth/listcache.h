/* The lists a principal reads (scopes as issued, allowed URLs, resource
 * bounds, groups, effective scopes), packed in one immutable block per
 * token-index record and index generation, and shared by reference: a
 * thread that checks the same token again hands out the block instead of
 * copying and intersecting five lists (most of what a check cost beyond
 * its HMAC). Any write to the token index moves its generation (see
 * tokenindex_account.generation), so a block never outlives the state it
 * was copied from. Blocks are reference counted, so a principal may be
 * freed on any thread; each thread keeps its own bounded table of them. */
#ifndef TESSERA_LISTCACHE_H
#define TESSERA_LISTCACHE_H

#include <stdint.h>

#include "util/strlist.h"

enum { LISTCACHE_LISTS = 5 };

struct listblock;

struct listcache_key {
    uint64_t generation; /* of the index view the lists came from */
    const void *record;  /* the record's identity within that generation */
};

/* Points each out[i] (a view: freeing it frees nothing) into the block this
 * thread keeps for key, and returns the block with a reference for the
 * caller; NULL when there is none. */
struct listblock *listcache_get(const struct listcache_key *key,
                                struct strlist *const out[LISTCACHE_LISTS]);
/* Packs copies of src[i] into a new block kept for key, points out[i] into
 * it as above and returns it with a reference for the caller; NULL when
 * out of memory (out untouched). */
struct listblock *listcache_put(const struct listcache_key *key,
                                const struct strlist *const src[LISTCACHE_LISTS],
                                struct strlist *const out[LISTCACHE_LISTS]);
/* Drops a reference from listcache_get or listcache_put; NULL is ignored. */
void listcache_release(struct listblock *b);

#endif
