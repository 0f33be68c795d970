/* Interned string lists: every record holding the same list (most tokens of
 * an installation share a handful of scope sets) refers to one shared copy by
 * a 32-bit id, so a million tokens cost two ids each instead of two lists.
 * Reference counted; id 0 is the empty list and is never released.
 * Threading: none of its own; the owner (the token index) serialises every
 * call that changes the pool and lets readers call intern_list under its read
 * lock. */
#ifndef TESSERA_INTERN_H
#define TESSERA_INTERN_H

#include <stdint.h>

#include "util/strlist.h"

struct intern_entry;

struct intern_pool {
    struct intern_entry *v;
    uint32_t n;
    size_t cap;
    uint32_t *buckets; /* entry index + 1; power-of-two count */
    uint32_t nbuckets;
    uint32_t live;
    uint32_t free_head; /* free entries: index + 1, 0 = none */
};

/* 0 or -ENOMEM. */
int intern_init(struct intern_pool *p);
void intern_free(struct intern_pool *p);
/* The id of a list equal to l, taking a reference; -ENOMEM. */
int64_t intern_get(struct intern_pool *p, const struct strlist *l);
/* Drops one reference taken by intern_get. */
void intern_release(struct intern_pool *p, uint32_t id);
/* The list behind id, valid until its last reference is released. */
const struct strlist *intern_list(const struct intern_pool *p, uint32_t id);

/* A fast non-cryptographic hash, shared with the index's hash tables: keys
 * are short and never chosen by a client for insertion. */
uint64_t intern_hash(const void *data, size_t len);

#endif
