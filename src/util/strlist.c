/* Owned string lists: scope sets, groups, allowedUrls. Small n (≤ 100), so
 * linear search is the right trade-off. */
#include "util/strlist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int strlist_push(struct strlist *l, const char *s)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
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
        if (strcmp(l->v[i], s) == 0)
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
    struct strlist out = STRLIST_INIT;
    for (size_t i = 0; i < a->n; i++) {
        if (strlist_contains(b, a->v[i]) && strlist_add(&out, a->v[i]) < 0) {
            strlist_free(&out);
            return -ENOMEM;
        }
    }
    strlist_free(dst);
    *dst = out;
    return 0;
}

int strlist_copy(struct strlist *dst, const struct strlist *src)
{
    struct strlist out = STRLIST_INIT;
    for (size_t i = 0; i < src->n; i++) {
        if (strlist_push(&out, src->v[i]) < 0) {
            strlist_free(&out);
            return -ENOMEM;
        }
    }
    strlist_free(dst);
    *dst = out;
    return 0;
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
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}
