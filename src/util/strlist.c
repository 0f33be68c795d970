/* Owned string lists: scope sets, groups, allowedUrls. Small n (≤ 100), so
 * linear search is the right trade-off. */
#include "util/strlist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/array.h"

/* A list made by strlist_copy or strlist_intersect is packed: its pointer
 * array and its strings are one allocation, marked by cap 0 (the check path
 * copies several lists per request, and one malloc each beats one per
 * string). Pushing onto a packed list or a view copies it into a list of
 * its own first. */
static bool packed(const struct strlist *l)
{
    return (l->cap == 0 && l->v) || l->cap == STRLIST_VIEW;
}

size_t strlist_text_size(char *const *items, size_t n)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(items[i]) + 1;
    return bytes;
}

char *strlist_pack_to(char *const *items, size_t n, char **v, char *at)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(items[i]) + 1;
        memcpy(at, items[i], len);
        v[i] = at;
        at += len;
    }
    return at;
}

int strlist_set(struct strlist *dst, char *const *items, size_t n)
{
    char **v = NULL;
    if (n) {
        if (!(v = malloc(n * sizeof(*v) + strlist_text_size(items, n))))
            return -ENOMEM;
        strlist_pack_to(items, n, v, (char *)(v + n));
    }
    strlist_free(dst);
    dst->v = v;
    dst->n = n;
    return 0;
}

static int unpack(struct strlist *l)
{
    struct strlist out = STRLIST_INIT;
    for (size_t i = 0; i < l->n; i++) {
        if (strlist_push(&out, l->v[i]) < 0) {
            strlist_free(&out);
            return -ENOMEM;
        }
    }
    strlist_free(l);
    *l = out;
    return 0;
}

int strlist_push(struct strlist *l, const char *s)
{
    if (packed(l) && unpack(l) < 0)
        return -ENOMEM;
    if (ARRAY_RESERVE(l->v, l->cap, l->n + 1, 8) < 0)
        return -ENOMEM;
    char *copy = strdup(s);
    if (!copy)
        return -ENOMEM;
    l->v[l->n++] = copy;
    return 0;
}

int strlist_add(struct strlist *l, const char *s)
{
    if (strlist_contains(l, s))
        return 0;
    return strlist_push(l, s);
}

bool strlist_contains(const struct strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i][0] == s[0] && strcmp(l->v[i], s) == 0) /* the first byte decides most */
            return true;
    return false;
}

bool strlist_is_subset(const struct strlist *sub, const struct strlist *super)
{
    for (size_t i = 0; i < sub->n; i++)
        if (!strlist_contains(super, sub->v[i]))
            return false;
    return true;
}

int strlist_intersect(struct strlist *dst, const struct strlist *a, const struct strlist *b)
{
    char *small[32] = {NULL}, **keep = a->n <= 32 ? small : malloc(a->n * sizeof(*keep));
    if (!keep)
        return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < a->n; i++) {
        bool again = false;
        for (size_t j = 0; j < n && !again; j++)
            again = strcmp(keep[j], a->v[i]) == 0;
        if (!again && strlist_contains(b, a->v[i]))
            keep[n++] = a->v[i];
    }
    int rc = strlist_set(dst, keep, n);
    if (keep != small)
        free(keep);
    return rc;
}
int strlist_copy(struct strlist *dst, const struct strlist *src)
{
    return dst == src ? 0 : strlist_set(dst, src->v, src->n);
}
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void strlist_sort(struct strlist *l)
{
    if (l->n > 1)
        qsort(l->v, l->n, sizeof(*l->v), cmp_str);
}

int strlist_split(struct strlist *dst, const char *text)
{
    const char *p = text ? text : "";
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ' ' && *p != ',')
            p++;
        if (p > start) {
            char *item = strndup(start, (size_t)(p - start));
            if (!item)
                return -ENOMEM;
            int rc = strlist_add(dst, item);
            free(item);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

char *strlist_join(const struct strlist *l, const char *sep)
{
    size_t seplen = strlen(sep), len = 1;
    for (size_t i = 0; i < l->n; i++)
        len += strlen(l->v[i]) + seplen;
    char *out = malloc(len), *w = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < l->n; i++) {
        if (i) {
            memcpy(w, sep, seplen);
            w += seplen;
        }
        size_t n = strlen(l->v[i]);
        memcpy(w, l->v[i], n);
        w += n;
    }
    *w = '\0';
    return out;
}

void strlist_free(struct strlist *l)
{
    if (!l->v) /* empty: a principal frees several per request */
        return;
    for (size_t i = 0; !packed(l) && i < l->n; i++)
        free(l->v[i]);
    if (l->cap != STRLIST_VIEW)
        free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}
