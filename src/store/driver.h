/* Helpers shared by the storage drivers (store_sqlite.c, store_pg.c), so both
 * store lists and text the same way: scope and group lists space-separated,
 * allowed URLs as a JSON array, and text cut on a UTF-8 character boundary
 * when it is longer than its field. Not part of the storage interface.
 * Pure functions on caller-owned values; thread-safe. */
#ifndef TESSERA_STORE_DRIVER_H
#define TESSERA_STORE_DRIVER_H

#include <stdbool.h>
#include <stddef.h>

#include "util/strlist.h"

struct account;
struct token_record;

/* True when every name can be stored space-separated and read back as the
 * same list: not empty, and free of the separators strlist_split uses. */
bool store_names_storable(const struct strlist *l);
/* The list as a JSON array (malloc'd, caller frees), or NULL on ENOMEM. */
char *store_urls_to_json(const struct strlist *l);
/* A token's lists as both drivers store them: scopes and resources
 * space-separated, allowed URLs a JSON array (they may hold spaces). */
struct token_texts {
    char *scopes, *urls, *resources; /* malloc'd */
};
/* Fills out from t: 0, or -ENOMEM (out then holds nothing). Free with
 * token_texts_free. */
int token_texts_of(const struct token_record *t, struct token_texts *out);
void token_texts_free(struct token_texts *tx);
/* An account's groups and scopes as both drivers store them:
 * space-separated. */
struct account_texts {
    char *groups, *scopes; /* malloc'd */
};
/* Fills out from a: 0, -EINVAL when a name cannot be stored (see
 * store_names_storable) or -ENOMEM; out then holds nothing. Free with
 * account_texts_free. */
int account_texts_of(const struct account *a, struct account_texts *out);
void account_texts_free(struct account_texts *tx);
/* Appends the strings of the JSON array text (NULL = empty) to out: 0,
 * -ENOMEM, or -EIO when text is not an array of strings. */
int store_urls_from_json(const char *text, struct strlist *out);
/* Copies src (NULL = "") into dst of size bytes, always NUL-terminated,
 * truncating on a UTF-8 character boundary so a cut never leaves half a
 * character behind. */
void store_copy_text(char *dst, size_t size, const char *src);

/* True when s (NULL counts as valid) is well-formed UTF-8: no overlong
 * forms, surrogates or code points beyond U+10FFFF. PostgreSQL refuses any
 * other text where SQLite stores any bytes, and some inputs come straight
 * from requests (a username in a path): the PostgreSQL driver answers a
 * lookup of such text with -ENOENT and a write of it with -EINVAL, rather
 * than a database error (-EIO, a 500). */
bool store_text_valid(const char *s);

#endif
