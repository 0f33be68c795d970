/* Per-thread caches of verified credentials (see credcache.h). Equality is
 * tested in constant time, so the time a lookup takes tells nothing about
 * how much of a cached (valid) token a guess matched. */
#include "auth/credcache.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "auth/token.h"

#define SLOTS 64          /* per thread and table */
#define MAX_TOKEN_LEN 640 /* an access JWT is about 300 bytes, a tk about 250 */

struct slot {
    uint8_t key[CRYPTO_KEY_LEN];
    uint16_t len; /* 0: empty */
    char token[MAX_TOKEN_LEN];
    struct session_claims claims; /* sessions only */
};

static _Thread_local struct slot sessions[SLOTS], temps[SLOTS];

/* Only picks the slot; the comparison decides. Both kinds of token end in
 * their MAC, so the last eight bytes are as good as a hash of the whole
 * (hashing all ~300 bytes byte by byte cost 3 % of a session request). */
static struct slot *slot_of(struct slot *table, const char *token, size_t len)
{
    uint64_t tail = 0;
    size_t n = len < 8 ? len : 8;
    memcpy(&tail, token + len - n, n);
    return &table[((tail * 0x9E3779B97F4A7C15ULL) >> 58) % SLOTS];
}

/* The slot holding token under key, or NULL. */
static const struct slot *find(struct slot *table, const uint8_t key[CRYPTO_KEY_LEN],
                               const char *token)
{
    size_t len = strnlen(token, MAX_TOKEN_LEN + 1);
    if (len == 0 || len > MAX_TOKEN_LEN)
        return NULL;
    const struct slot *s = slot_of(table, token, len);
    if (s->len != len || !crypto_equal(s->token, token, len) ||
        !crypto_equal(s->key, key, CRYPTO_KEY_LEN))
        return NULL;
    return s;
}

/* The slot token now holds under key, or NULL when it is too long to keep. */
static struct slot *put(struct slot *table, const uint8_t key[CRYPTO_KEY_LEN], const char *token)
{
    size_t len = strnlen(token, MAX_TOKEN_LEN + 1);
    if (len == 0 || len > MAX_TOKEN_LEN)
        return NULL;
    struct slot *s = slot_of(table, token, len);
    memcpy(s->key, key, CRYPTO_KEY_LEN);
    memcpy(s->token, token, len);
    s->len = (uint16_t)len;
    return s;
}

bool credcache_session_get(const uint8_t key[CRYPTO_KEY_LEN], const char *token,
                           struct session_claims *out)
{
    const struct slot *s = find(sessions, key, token);
    if (s)
        *out = s->claims;
    return s != NULL;
}

void credcache_session_put(const uint8_t key[CRYPTO_KEY_LEN], const char *token,
                           const struct session_claims *c)
{
    struct slot *s = put(sessions, key, token);
    if (s)
        s->claims = *c;
}

bool credcache_temp_verified(const uint8_t key[CRYPTO_KEY_LEN], const char *token)
{
    return find(temps, key, token) != NULL;
}

void credcache_temp_put(const uint8_t key[CRYPTO_KEY_LEN], const char *token)
{
    put(temps, key, token);
}

/* ---- pk/sk tokens ------------------------------------------------------- */

#define STORED_SLOTS 256 /* per thread: clients with many tokens share a node */

struct stored_slot {
    uint8_t key[CRYPTO_KEY_LEN];
    uint8_t digest[CRYPTO_SHORT_LEN]; /* of the whole token text */
    uint8_t mac[CRYPTO_MAC_LEN];
    struct token_stored_parts parts; /* secret left empty; id "" = empty slot */
};

static _Thread_local struct stored_slot stored[STORED_SLOTS];
static uint8_t digest_key[CRYPTO_SHORT_KEY_LEN];
static pthread_once_t digest_key_once = PTHREAD_ONCE_INIT;

static void make_digest_key(void)
{
    crypto_random(digest_key, sizeof(digest_key));
}

int credcache_stored(const uint8_t key[CRYPTO_KEY_LEN], const char *token,
                     struct token_stored_parts *parts, uint8_t mac[CRYPTO_MAC_LEN])
{
    size_t len = strnlen(token, TOKEN_MAX_LEN + 1);
    if (len > TOKEN_MAX_LEN)
        return -EINVAL;
    pthread_once(&digest_key_once, make_digest_key);
    uint8_t digest[CRYPTO_SHORT_LEN];
    crypto_short_digest(digest_key, token, len, digest);
    /* The digest is a keyed PRF of the text: any of its bytes picks a slot. */
    struct stored_slot *s = &stored[digest[0] % STORED_SLOTS];
    if (s->parts.id[0] && crypto_equal(s->digest, digest, sizeof(digest)) &&
        crypto_equal(s->key, key, CRYPTO_KEY_LEN)) {
        *parts = s->parts;
        memcpy(mac, s->mac, CRYPTO_MAC_LEN);
        return 0;
    }
    if (token_parse_stored(token, parts) < 0) /* shape and checksum */
        return -EINVAL;
    if (token_hash_secret(key, parts->secret, mac) < 0) {
        crypto_wipe(parts, sizeof(*parts));
        return -EIO;
    }
    memcpy(s->key, key, CRYPTO_KEY_LEN);
    memcpy(s->digest, digest, sizeof(digest));
    memcpy(s->mac, mac, CRYPTO_MAC_LEN);
    s->parts = *parts;
    crypto_wipe(s->parts.secret, sizeof(s->parts.secret));
    return 0;
}
