/* The caching store wrapper of a serving node (see store_cached.c): the same
 * ops as the driver it wraps, with account reads served from the token index
 * and writes applied to the index before they return. */
#ifndef TESSERA_STORE_CACHED_H
#define TESSERA_STORE_CACHED_H

#include "store/store.h"

struct tokenindex;
struct indexsync;

/* Wraps backend, taking ownership (closing the wrapper closes it). ix and
 * sync stay the caller's: stop sync before closing the wrapper. NULL when
 * out of memory (backend is then still the caller's). */
struct store *store_cached_wrap(struct store *backend, struct tokenindex *ix,
                                struct indexsync *sync);

#endif
