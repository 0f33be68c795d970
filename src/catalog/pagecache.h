/* A bounded, thread-safe cache of whole reply bodies, each stored with the
 * data generation it was computed from (catalog_generation). Asking with a
 * newer generation drops every older entry, so a cached page is never served
 * after the data under it changed. Least recently used entries are evicted
 * beyond the byte budget. Used for STAC search pages, which are costly to
 * build and asked for again and again with the same query. */
#ifndef TESSERA_PAGECACHE_H
#define TESSERA_PAGECACHE_H

#include <stddef.h>
#include <stdint.h>

struct pagecache;

/* max_bytes: budget for keys, bodies and bookkeeping together. 0 = a cache
 * that stores nothing. NULL when out of memory. */
struct pagecache *pagecache_create(size_t max_bytes);
void pagecache_destroy(struct pagecache *pc);

/* A malloc'd copy of the body stored under key at generation gen (*len set),
 * or NULL. gen 0 never hits. */
char *pagecache_get(struct pagecache *pc, const void *key, size_t klen, uint64_t gen,
                    size_t *len);
/* Stores a copy of body under key (replacing what was there) unless gen is
 * 0, older than what the cache has seen, or the entry would take more than
 * an eighth of the budget. Out of memory just skips it. */
void pagecache_put(struct pagecache *pc, const void *key, size_t klen, uint64_t gen,
                   const char *body, size_t len);

struct pagecache_stats {
    uint64_t hits, misses;
    size_t entries, bytes;
};
void pagecache_stats(struct pagecache *pc, struct pagecache_stats *out);

#endif
