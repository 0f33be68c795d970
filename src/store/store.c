/* Driver-independent parts of the storage interface: choosing the driver
 * from the database URL, and freeing the owned members of the records every
 * driver fills in. Pure functions on caller-owned values; thread-safe as long
 * as each value has one owner. */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg.h"
#include "util/log.h"

struct store *store_open(const char *database_url, const char *data_dir)
{
    if (pg_url_is_pg(database_url)) {
        /* store_pg.c is being written; until it lands, say so plainly. */
        log_error("store: this build has no PostgreSQL driver yet");
        return NULL;
    }
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
