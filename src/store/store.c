/* Driver-independent parts of the storage interface: choosing the driver
 * from the database URL, freeing the owned members of the records every
 * driver fills in, and the value encodings the drivers share (driver.h).
 * Pure functions on caller-owned values; thread-safe as long as each value
 * has one owner. */
#include "store/store.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/driver.h"
#include "store/pg.h"
#include "util/log.h"

struct store *store_open(const char *database_url, const char *data_dir)
{
    if (pg_url_is_pg(database_url))
        return store_pg_open(database_url);
    char path[4096];
    if (!database_url || !*database_url) {
        if (snprintf(path, sizeof(path), "%s/tessera.db", data_dir) >= (int)sizeof(path)) {
            log_error("store: data directory path too long");
            return NULL;
        }
        return store_sqlite_open(path);
    }
    /* "sqlite:PATH", "sqlite://PATH" (so sqlite:///abs/path) or a plain path. */
    const char *p = database_url;
    if (strncmp(p, "sqlite:", 7) == 0) {
        p += 7;
        if (strncmp(p, "//", 2) == 0)
            p += 2;
    } else if (strstr(p, "://")) {
        log_error("store: database_url must be postgresql://..., sqlite:PATH or a file path");
        return NULL;
    }
    if (!*p) {
        log_error("store: database_url names no SQLite file");
        return NULL;
    }
    return store_sqlite_open(p);
}

void account_free(struct account *a)
{
    if (!a)
        return;
    strlist_free(&a->groups);
    strlist_free(&a->scopes);
    /* The password hash is not a secret in itself, but wiping it keeps stale
     * copies out of freed memory and core dumps. */
    explicit_bzero(a->password_hash, sizeof(a->password_hash));
}

void token_record_free(struct token_record *t)
{
    if (!t)
        return;
    strlist_free(&t->scopes);
    strlist_free(&t->allowed_urls);
    strlist_free(&t->resources);
    if (t->public_token) {
        explicit_bzero(t->public_token, strlen(t->public_token));
        free(t->public_token);
        t->public_token = NULL;
    }
    explicit_bzero(t->secret_hash, sizeof(t->secret_hash));
}

void token_records_free(struct token_record *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        token_record_free(&v[i]);
    free(v);
}

/* Names stored space-separated (scopes, groups) must not contain the
 * separators, or they would split into different names on the way back. */
bool store_names_storable(const struct strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (!l->v[i][0] || strpbrk(l->v[i], " ,\t\n"))
            return false;
    return true;
}

/* allowed_urls are stored as a JSON array: URLs may contain spaces/commas. */
char *store_urls_to_json(const struct strlist *l)
{
    cJSON *arr = cJSON_CreateArray();
    char *out = NULL;
    if (!arr)
        return NULL;
    for (size_t i = 0; i < l->n; i++) {
        cJSON *item = cJSON_CreateString(l->v[i]);
        if (!item || !cJSON_AddItemToArray(arr, item)) {
            cJSON_Delete(item);
            goto done;
        }
    }
    out = cJSON_PrintUnformatted(arr);
done:
    cJSON_Delete(arr);
    return out;
}

int token_texts_of(const struct token_record *t, struct token_texts *out)
{
    out->scopes = strlist_join(&t->scopes, " ");
    out->urls = store_urls_to_json(&t->allowed_urls);
    out->resources = strlist_join(&t->resources, " ");
    if (out->scopes && out->urls && out->resources)
        return 0;
    token_texts_free(out);
    return -ENOMEM;
}

void token_texts_free(struct token_texts *tx)
{
    free(tx->scopes);
    free(tx->urls);
    free(tx->resources);
    *tx = (struct token_texts){NULL, NULL, NULL};
}

int account_texts_of(const struct account *a, struct account_texts *out)
{
    *out = (struct account_texts){NULL, NULL};
    if (!store_names_storable(&a->groups) || !store_names_storable(&a->scopes))
        return -EINVAL;
    out->groups = strlist_join(&a->groups, " ");
    out->scopes = strlist_join(&a->scopes, " ");
    if (out->groups && out->scopes)
        return 0;
    account_texts_free(out);
    return -ENOMEM;
}

void account_texts_free(struct account_texts *tx)
{
    free(tx->groups);
    free(tx->scopes);
    *tx = (struct account_texts){NULL, NULL};
}

int store_urls_from_json(const char *text, struct strlist *out)
{
    if (!text || strcmp(text, "[]") == 0) /* nearly every token: no parser */
        return 0;
    int rc = -EIO;
    cJSON *arr = cJSON_Parse(text);
    if (!cJSON_IsArray(arr))
        goto fail;
    const cJSON *item;
    cJSON_ArrayForEach(item, arr)
    {
        if (!cJSON_IsString(item))
            goto fail;
        if (strlist_push(out, item->valuestring) < 0) {
            rc = -ENOMEM;
            goto fail;
        }
    }
    rc = 0;
fail:
    cJSON_Delete(arr);
    return rc;
}

void store_copy_text(char *dst, size_t size, const char *src)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t n = s ? strlen(src) : 0;
    if (n >= size) {
        n = size - 1;
        /* Back up over continuation bytes to the start of the character
         * that did not fit. */
        while (n > 0 && (s[n] & 0xC0) == 0x80)
            n--;
    }
    if (n)
        memcpy(dst, s, n);
    dst[n] = '\0';
}

/* Strict UTF-8, as PostgreSQL checks it. */
bool store_text_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    if (!p)
        return true;
    while (*p) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        int n;
        uint32_t cp, min;
        if ((*p & 0xE0) == 0xC0) {
            n = 1, cp = *p & 0x1F, min = 0x80;
        } else if ((*p & 0xF0) == 0xE0) {
            n = 2, cp = *p & 0x0F, min = 0x800;
        } else if ((*p & 0xF8) == 0xF0) {
            n = 3, cp = *p & 0x07, min = 0x10000;
        } else {
            return false;
        }
        /* A NUL ends the loop here too: it is no continuation byte. */
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (p[i] & 0x3F);
        }
        /* Overlong forms, surrogates and code points beyond Unicode are
         * refused by the server too. */
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += n + 1;
    }
    return true;
}
