/* A small owned list of strings, used for scope sets, group sets and URL lists.
 * Plain value type: not thread-safe; each owner frees its own copy. */
#ifndef TESSERA_STRLIST_H
#define TESSERA_STRLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strlist {
    size_t n;
    size_t cap; /* 0 with v set: packed in one allocation; STRLIST_VIEW (strlist.c) */
    char **v;   /* owned strings */
};

/* The cap of a view: a list whose pointer array and strings belong to
 * someone else (auth/listcache.c's shared blocks). Read as any list; freeing
 * it frees nothing; changing it copies it first. */
#define STRLIST_VIEW SIZE_MAX

#define STRLIST_INIT {0, 0, NULL}

/* Appends a copy of s (if not already present). Returns 0 or -ENOMEM. */
int strlist_add(struct strlist *l, const char *s);
/* Appends even when s is already present. Returns 0 or -ENOMEM. */
int strlist_push(struct strlist *l, const char *s);
bool strlist_contains(const struct strlist *l, const char *s);
/* True when every element of sub is in super. */
bool strlist_is_subset(const struct strlist *sub, const struct strlist *super);
/* Replaces dst with the elements of a also in b (order of a). */
int strlist_intersect(struct strlist *dst, const struct strlist *a, const struct strlist *b);
int strlist_copy(struct strlist *dst, const struct strlist *src);
/* Replaces dst with copies of items[0..n) (which may point into dst), in
 * one allocation. 0 or -ENOMEM. */
int strlist_set(struct strlist *dst, char *const *items, size_t n);
/* Packing, for lists laid out in memory of the caller's: the bytes the
 * strings items[0..n) take with their NULs, and the copy of them to at,
 * pointed to from v[0..n). Returns the byte after the last copied. */
size_t strlist_text_size(char *const *items, size_t n);
char *strlist_pack_to(char *const *items, size_t n, char **v, char *at);
void strlist_sort(struct strlist *l);
/* Splits on any run of spaces/commas; empty items are skipped. */
int strlist_split(struct strlist *dst, const char *text);
/* Joins with sep into a new malloc'd string (caller frees); "" for empty. */
char *strlist_join(const struct strlist *l, const char *sep);
void strlist_free(struct strlist *l);

#endif
