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
/* A kept tk's scopes and resources, NUL-separated: always fewer bytes than
 * the base64 text that carries them. */
#define TEMP_WORDS MAX_TOKEN_LEN

/* A verified token text and the key that verified it. */
struct text {
    uint8_t key[CRYPTO_KEY_LEN];
    uint16_t len; /* 0: empty */
    char token[MAX_TOKEN_LEN];
};

static _Thread_local struct session_slot {
    struct text text;
    struct session_claims claims;
} sessions[SLOTS];

/* A tk's claims, with its lists packed into words (scopes, then resources). */
static _Thread_local struct temp_slot {
    struct text text;
    struct token_temp_claims claims; /* lists left empty */
    char id[TOKEN_ID_LEN + 1];       /* token_temp_id */
    uint16_t nscopes, nresources;
    char words[TEMP_WORDS];
} temps[SLOTS];

/* Only picks the slot; the comparison decides. Both kinds of token end in
 * their MAC, so the last eight bytes are as good as a hash of the whole
 * (hashing all ~300 bytes byte by byte cost 3 % of a session request). */
static size_t slot_of(const char *token, size_t len)
{
    uint64_t tail = 0;
    size_t n = len < 8 ? len : 8;
    memcpy(&tail, token + len - n, n);
    return ((tail * 0x9E3779B97F4A7C15ULL) >> 58) % SLOTS;
}

/* The token's length when it may be kept, else 0. */
static size_t keepable(const char *token)
{
    size_t len = strnlen(token, MAX_TOKEN_LEN + 1);
    return len > MAX_TOKEN_LEN ? 0 : len;
}

static bool holds(const struct text *t, const uint8_t key[CRYPTO_KEY_LEN], const char *token,
                  size_t len)
{
    return len && t->len == len && crypto_equal(t->token, token, len) &&
           crypto_equal(t->key, key, CRYPTO_KEY_LEN);
}

static void keep(struct text *t, const uint8_t key[CRYPTO_KEY_LEN], const char *token, size_t len)
{
    memcpy(t->key, key, CRYPTO_KEY_LEN);
    memcpy(t->token, token, len);
    t->len = (uint16_t)len;
}

bool credcache_session_get(const uint8_t key[CRYPTO_KEY_LEN], const char *token,
                           struct session_claims *out)
{
    size_t len = keepable(token);
    const struct session_slot *s = &sessions[len ? slot_of(token, len) : 0];
    if (!holds(&s->text, key, token, len))
        return false;
    *out = s->claims;
    return true;
}

void credcache_session_put(const uint8_t key[CRYPTO_KEY_LEN], const char *token,
                           const struct session_claims *c)
{
    size_t len = keepable(token);
    if (!len)
        return;
    struct session_slot *s = &sessions[slot_of(token, len)];
    keep(&s->text, key, token, len);
    s->claims = *c;
}

/* Appends l's words to s->words at *at; false when they do not fit. */
static bool pack(struct temp_slot *s, size_t *at, const struct strlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        size_t len = strlen(l->v[i]) + 1;
        if (len < 2 || len > TEMP_WORDS - *at) /* unpack counts on two bytes a word */
            return false;
        memcpy(s->words + *at, l->v[i], len);
        *at += len;
    }
    return true;
}

/* l = the n words from *at on. 0 or -ENOMEM. */
static int unpack(const struct temp_slot *s, size_t *at, size_t n, struct strlist *l)
{
    char *items[TEMP_WORDS / 2]; /* every word takes two bytes or more */
    for (size_t i = 0; i < n; i++) {
        items[i] = (char *)s->words + *at;
        *at += strlen(items[i]) + 1;
    }
    return strlist_set(l, items, n);
}

/* Keeps a verified tk, unless its lists do not fit the slot. */
static void temp_keep(struct temp_slot *s, const uint8_t key[CRYPTO_KEY_LEN], const char *token,
                      size_t len, const struct token_temp_claims *c, const char *id)
{
    size_t at = 0;
    if (!len) /* too long to keep: the slot keeps what it has */
        return;
    s->text.len = 0; /* the words are rewritten: the old entry is gone */
    if (!pack(s, &at, &c->scopes) || !pack(s, &at, &c->resources))
        return;
    s->claims = *c;
    s->claims.scopes = s->claims.resources = (struct strlist)STRLIST_INIT;
    s->nscopes = (uint16_t)c->scopes.n;
    s->nresources = (uint16_t)c->resources.n;
    memcpy(s->id, id, sizeof(s->id));
    keep(&s->text, key, token, len);
}

int credcache_temp(const uint8_t key[CRYPTO_KEY_LEN], const char *token,
                   struct token_temp_claims *out, char id[TOKEN_ID_LEN + 1])
{
    size_t len = keepable(token);
    struct temp_slot *s = &temps[len ? slot_of(token, len) : 0];
    if (holds(&s->text, key, token, len)) {
        size_t at = 0;
        *out = s->claims;
        memcpy(id, s->id, TOKEN_ID_LEN + 1);
        if (unpack(s, &at, s->nscopes, &out->scopes) < 0 ||
            unpack(s, &at, s->nresources, &out->resources) < 0) {
            strlist_free(&out->scopes);
            return -ENOMEM;
        }
        return 0;
    }
    int rc = token_parse_temp(key, token, out);
    if (rc < 0)
        return rc;
    if (token_temp_id(token, id) < 0) { /* parsed, so never */
        strlist_free(&out->scopes);
        strlist_free(&out->resources);
        return -EINVAL;
    }
    temp_keep(s, key, token, len, out, id);
    return 0;
}

/* ---- pk/sk tokens ------------------------------------------------------- */

#define STORED_SLOTS 256 /* per thread: clients with many tokens share a node */
#define STORED_HEAD_MAX 160 /* "sk.<payload>.": a payload of ours is about 140 */

struct stored_slot {
    uint8_t key[CRYPTO_KEY_LEN];
    uint16_t head_len; /* 0: empty */
    char head[STORED_HEAD_MAX]; /* the text up to the secret: not secret */
    uint8_t digest[CRYPTO_SHORT_LEN]; /* of the secret */
    uint8_t mac[CRYPTO_MAC_LEN];
    struct token_stored_parts parts; /* secret left empty */
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
    /* Matched by the text before the secret, compared as it is, and a
     * digest of the secret: hashing the whole text cost twice as much. */
    const char *dot = memrchr(token, '.', len);
    size_t head_len = dot ? (size_t)(dot - token) + 1 : 0;
    bool keepable = head_len && head_len <= STORED_HEAD_MAX;
    uint8_t digest[CRYPTO_SHORT_LEN] = {0};
    struct stored_slot *s = NULL;
    if (keepable) {
        pthread_once(&digest_key_once, make_digest_key);
        crypto_short_digest(digest_key, dot + 1, len - head_len, digest);
        s = &stored[digest[0] % STORED_SLOTS]; /* a keyed PRF's byte */
        if (s->head_len == head_len && crypto_equal(s->head, token, head_len) &&
            crypto_equal(s->digest, digest, sizeof(digest)) &&
            crypto_equal(s->key, key, CRYPTO_KEY_LEN)) {
            *parts = s->parts;
            memcpy(mac, s->mac, CRYPTO_MAC_LEN);
            return 0;
        }
    }
    if (token_parse_stored(token, parts) < 0) /* shape and checksum */
        return -EINVAL;
    if (token_hash_secret(key, parts->secret, mac) < 0) {
        crypto_wipe(parts, sizeof(*parts));
        return -EIO;
    }
    if (s) {
        memcpy(s->key, key, CRYPTO_KEY_LEN);
        memcpy(s->head, token, head_len);
        s->head_len = (uint16_t)head_len;
        memcpy(s->digest, digest, sizeof(digest));
        memcpy(s->mac, mac, CRYPTO_MAC_LEN);
        s->parts = *parts;
        crypto_wipe(s->parts.secret, sizeof(s->parts.secret));
    }
    return 0;
}
