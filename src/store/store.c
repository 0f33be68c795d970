/* Backend-independent helpers of the storage interface: freeing the owned
 * members of the records that every backend fills in. Pure functions on
 * caller-owned values; thread-safe as long as each value has one owner. */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

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
