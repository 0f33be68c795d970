/* A growing string buffer (see buf.h). */
#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t buf_grow_cap(size_t cap, size_t first, size_t need)
{
    if (!cap)
        cap = first;
    while (cap < need)
        cap *= 2;
    return cap;
}

bool buf_reserve(struct buf *b, size_t more)
{
    if (b->oom)
        return false;
    if (b->n + more + 1 <= b->cap)
        return true;
    size_t cap = buf_grow_cap(b->cap, 8192, b->n + more + 1);
    char *p = realloc(b->s, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->s = p;
    b->cap = cap;
    return true;
}

/* Formats straight into the free space, growing and retrying only when it
 * does not fit (measuring first would format everything twice). */
void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    if (!buf_reserve(b, 256))
        return;
    va_list again;
    va_copy(again, ap);
    int need = vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
    if (need >= 0 && (size_t)need >= b->cap - b->n && buf_reserve(b, (size_t)need))
        vsnprintf(b->s + b->n, b->cap - b->n, fmt, again);
    va_end(again);
    if (need < 0)
        b->oom = true;
    else if (!b->oom)
        b->n += (size_t)need;
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void buf_append(struct buf *b, const char *s, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

void buf_concat(struct buf *b, ...)
{
    va_list ap;
    va_start(ap, b);
    for (const char *s; (s = va_arg(ap, const char *));)
        buf_append(b, s, strlen(s));
    va_end(ap);
}
