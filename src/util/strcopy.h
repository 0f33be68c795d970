/* A bounded string copy for hot paths, where snprintf(dst, size, "%s", src)
 * costs several times more (it parses its format on every call). */
#ifndef TESSERA_STRCOPY_H
#define TESSERA_STRCOPY_H

#include <stddef.h>
#include <string.h>

/* Copies src into dst (size bytes, size > 0), cut to fit and always
 * NUL-terminated: strlcpy without its return value. */
static inline void str_copy(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

#endif
