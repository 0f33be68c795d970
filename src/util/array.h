/* Element arrays that grow by doubling: the one rule for every list a
 * module keeps (routes, SQL parameters, queued events, index entries),
 * the same rule buf_grow_cap writes for byte buffers. */
#ifndef TESSERA_ARRAY_H
#define TESSERA_ARRAY_H

#include <stddef.h>

/* Makes room for need elements of elem bytes in an array of capacity *cap
 * elements; arr is the address of the array's pointer (NULL while empty).
 * The capacity moves to buf_grow_cap(*cap, first, need). 0, or -ENOMEM with
 * the pointer and *cap unchanged (a size that would overflow included). */
int array_reserve(void *arr, size_t *cap, size_t need, size_t elem, size_t first);

/* array_reserve for the typed array pointer a, whose element size it takes. */
#define ARRAY_RESERVE(a, cap, need, first)                                                         \
    array_reserve(&(a), &(cap), (need), sizeof(*(a)), (first))

#endif
