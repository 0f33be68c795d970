/* A growing string buffer for replies built piece by piece (STAC pages,
 * CSV). Plain value type: one owner, not thread-safe. Start from {0}; free
 * s when done (or take it). */
#ifndef TESSERA_BUF_H
#define TESSERA_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* A growing string; oom is set (and stays set) when an append fails. s is
 * NUL-terminated after any successful append. */
struct buf {
    char *s;
    size_t n, cap;
    bool oom;
};

/* The capacity a growing buffer moves to for need bytes: cap (first when
 * 0) doubled until need fits. Shared with the HTTP layer's send buffer. */
size_t buf_grow_cap(size_t cap, size_t first, size_t need);
/* Room for more bytes (and a NUL); false (oom set) when out of memory. */
bool buf_reserve(struct buf *b, size_t more);
__attribute__((format(printf, 2, 3))) void buf_printf(struct buf *b, const char *fmt, ...);
__attribute__((format(printf, 2, 0))) void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
void buf_append(struct buf *b, const char *s, size_t n);
/* Appends each string up to a NULL: for text assembled from many pieces
 * on a hot path (a search page's links), where buf_printf's format
 * parsing costs more than the copies. */
__attribute__((sentinel)) void buf_concat(struct buf *b, ...);

#endif
