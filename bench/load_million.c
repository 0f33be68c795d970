/* Bench loader: inserts N tokens (default 1,000,000) spread over 1,000
 * accounts directly through the store API, with realistic variety (pk/sk,
 * a few scope sets, some allowedUrls, some expiries), then prints one usable
 * sk token so the caller can check the loaded server answers. Single thread;
 * run it on a stopped data directory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/crypto.h"
#include "store/store.h"
#include "auth/token.h"

#define ACCOUNTS 1000

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DATA_DIR [COUNT]\n", argv[0]);
        return 2;
    }
    long count = argc > 2 ? atol(argv[2]) : 1000000;
    if (crypto_init() < 0)
        return 1;
    uint8_t key[CRYPTO_KEY_LEN];
    char keypath[4096];
    snprintf(keypath, sizeof(keypath), "%s/token.key", argv[1]);
    struct store *st = store_open(NULL, argv[1]);
    /* The tokens carry the data directory's marker, as the server's do. */
    char fresh[TOKEN_INSTANCE_LEN + 1], instance[TOKEN_INSTANCE_MAX + 1];
    token_new_instance(fresh);
    if (!st || st->ops->migrate(st) < 0 || crypto_load_or_create_key(keypath, key) < 0 ||
        st->ops->meta_ensure(st, "instance", fresh, instance, sizeof(instance)) < 0) {
        fprintf(stderr, "load_million: cannot open %s\n", argv[1]);
        return 1;
    }
    static const char *const scope_sets[] = {"stac catalog:read", "styles:read fonts:read",
                                             "tokens:read tokens:write stac", "datasets:read"};
    int64_t ids[ACCOUNTS];
    char names[ACCOUNTS][ACCOUNT_USERNAME_MAX + 1];
    int64_t t0 = now_ms();
    for (int i = 0; i < ACCOUNTS; i++) {
        struct account a = {0};
        snprintf(a.username, sizeof(a.username), "load%04d", i);
        snprintf(a.email, sizeof(a.email), "load%04d@example.com", i);
        snprintf(a.password_hash, sizeof(a.password_hash), "!");
        a.is_active = true;
        strlist_split(&a.groups, i % 10 ? "Public" : "Public Partners");
        strlist_split(&a.scopes, "stac catalog:read tokens:read tokens:write scopes:list "
                                 "styles:read fonts:read datasets:read");
        int rc = st->ops->account_create(st, &a, NULL);
        if (rc == -EEXIST || rc == -EADDRINUSE)
            rc = st->ops->account_get_by_username(st, a.username, &a);
        if (rc < 0) {
            fprintf(stderr, "load_million: account %d failed\n", i);
            return 1;
        }
        ids[i] = a.id;
        snprintf(names[i], sizeof(names[i]), "%s", a.username);
        account_free(&a);
    }
    char sample[512] = "";
    for (long n = 0; n < count; n++) {
        struct token_record t = {0};
        char secret[TOKEN_SECRET_LEN + 1];
        token_new_id(t.id);
        token_new_secret(secret);
        int acc = (int)(n % ACCOUNTS);
        t.account_id = ids[acc];
        t.usage = n % 3 ? TOKEN_SK : TOKEN_PK;
        snprintf(t.note, sizeof(t.note), "loaded token %ld", n);
        strlist_split(&t.scopes, scope_sets[t.usage == TOKEN_PK ? 1 : (n % 2 ? 0 : 2)]);
        if (n % 50 == 0) {
            char url[64];
            snprintf(url, sizeof(url), "https://app%ld.example.com", n % 500);
            strlist_push(&t.allowed_urls, url);
        }
        t.expires_at = n % 7 == 0 ? now_ms() + 86400000LL * 30 : 0;
        t.created = t.modified = now_ms();
        token_hash_secret(key, secret, t.secret_hash);
        char *full = token_format_stored(t.usage, names[acc], t.id, instance, secret);
        if (t.usage == TOKEN_PK)
            t.public_token = full;
        if (st->ops->token_insert(st, &t) < 0) {
            fprintf(stderr, "load_million: insert %ld failed\n", n);
            return 1;
        }
        if (t.usage == TOKEN_SK && !sample[0] && t.expires_at == 0)
            snprintf(sample, sizeof(sample), "%s", full);
        if (t.usage == TOKEN_SK)
            free(full);
        token_record_free(&t);
        if (n && n % 100000 == 0)
            fprintf(stderr, "load_million: %ld tokens (%.1f s)\n", n, (now_ms() - t0) / 1000.0);
    }
    fprintf(stderr, "load_million: %ld tokens in %.1f s\n", count, (now_ms() - t0) / 1000.0);
    printf("%s\n", sample);
    st->ops->close(st);
    crypto_wipe(key, sizeof(key));
    return 0;
}
