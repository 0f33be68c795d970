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

/* Only picks the slot; the comparison decides. A JWT ends in its HMAC, so
 * its last eight bytes are as good as a hash of the whole (hashing all ~300
 * bytes byte by byte cost 3 % of a session request). */
static size_t slot_of(const char *token, size_t len)
{
    uint64_t tail = 0;
    size_t n = len < 8 ? len : 8;
    memcpy(&tail, token + len - n, n);
    return (size_t)((tail * 0x9E3779B97F4A7C15ULL) >> 58) % SLOTS;
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
