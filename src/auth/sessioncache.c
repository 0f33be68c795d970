/* Per-thread cache of verified session JWTs (see sessioncache.h). Equality
 * is tested in constant time, so the time a lookup takes tells nothing about
 * how much of a cached (valid) token a guess matched. */
#include "auth/sessioncache.h"

#include <string.h>

#define SLOTS 64          /* per thread */
#define MAX_TOKEN_LEN 640 /* an access JWT is about 300 bytes */

struct slot {
    uint8_t key[CRYPTO_KEY_LEN];
    uint16_t len; /* 0: empty */
    char token[MAX_TOKEN_LEN];
    struct session_claims claims;
};

static _Thread_local struct slot slots[SLOTS];

/* FNV-1a: only picks the slot; the comparison decides. */
static size_t slot_of(const char *token, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)token[i]) * 1099511628211ULL;
    return (size_t)(h % SLOTS);
}

bool sessioncache_get(const uint8_t key[CRYPTO_KEY_LEN], const char *token,
                      struct session_claims *out)
{
    size_t len = strnlen(token, MAX_TOKEN_LEN + 1);
    if (len == 0 || len > MAX_TOKEN_LEN)
        return false;
    const struct slot *s = &slots[slot_of(token, len)];
    if (s->len != len || !crypto_equal(s->token, token, len) ||
        !crypto_equal(s->key, key, CRYPTO_KEY_LEN))
        return false;
    *out = s->claims;
    return true;
}

void sessioncache_put(const uint8_t key[CRYPTO_KEY_LEN], const char *token,
                      const struct session_claims *c)
{
    size_t len = strnlen(token, MAX_TOKEN_LEN + 1);
    if (len == 0 || len > MAX_TOKEN_LEN)
        return;
    struct slot *s = &slots[slot_of(token, len)];
    memcpy(s->key, key, CRYPTO_KEY_LEN);
    memcpy(s->token, token, len);
    s->len = (uint16_t)len;
    s->claims = *c;
}
