/* Growing element arrays (see array.h). */
#include "util/array.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

int array_reserve(void *arr, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap)
        return 0;
    /* buf_grow_cap stays below twice need (first is small): no overflow. */
    if (!elem || need > SIZE_MAX / 2 / elem)
        return -ENOMEM;
    size_t ncap = buf_grow_cap(*cap, first ? first : 1, need);
    void *old, *grown;
    /* The pointer is read and written as bytes: arr points at a T *. */
    memcpy(&old, arr, sizeof(old));
    grown = realloc(old, ncap * elem);
    if (!grown)
        return -ENOMEM;
    memcpy(arr, &grown, sizeof(grown));
    *cap = ncap;
    return 0;
}
