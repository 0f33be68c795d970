/* See pagecache.h. A chained hash table plus an LRU list, under one mutex:
 * a lookup is a hash, a compare and one copy of the body, short enough that
 * the HTTP threads do not queue on it. */
#include "catalog/pagecache.h"

#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    struct entry *chain;           /* next in the bucket */
    struct entry *newer, *older;   /* LRU list */
    uint64_t hash;
    size_t klen, blen;
    char *body;
    unsigned char key[];
};

struct pagecache {
    pthread_mutex_t lock;
    size_t max_bytes, bytes, entries;
    uint64_t gen; /* entries belong to this generation */
    struct entry **buckets;
    size_t nbuckets; /* a power of two */
    struct entry *newest, *oldest;
    uint64_t hits, misses;
    unsigned char hash_secret[crypto_shorthash_KEYBYTES];
};

/* Keys carry client-chosen query strings: a keyed hash (SipHash) keeps
 * anyone from lining up entries in one bucket. */
static uint64_t hash_key(const struct pagecache *pc, const void *key, size_t klen)
{
    uint64_t h;
    crypto_shorthash((unsigned char *)&h, key, klen, pc->hash_secret);
    return h;
}

static size_t entry_cost(size_t klen, size_t blen)
{
    return sizeof(struct entry) + klen + blen;
}

struct pagecache *pagecache_create(size_t max_bytes)
{
    struct pagecache *pc = calloc(1, sizeof(*pc));
    if (!pc)
        return NULL;
    pc->nbuckets = 64;
    pc->buckets = calloc(pc->nbuckets, sizeof(*pc->buckets));
    if (!pc->buckets) {
        free(pc);
        return NULL;
    }
    pc->max_bytes = max_bytes;
    randombytes_buf(pc->hash_secret, sizeof(pc->hash_secret));
    pthread_mutex_init(&pc->lock, NULL);
    return pc;
}

static void lru_unlink(struct pagecache *pc, struct entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        pc->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        pc->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void lru_push_newest(struct pagecache *pc, struct entry *e)
{
    e->older = pc->newest;
    e->newer = NULL;
    if (pc->newest)
        pc->newest->newer = e;
    pc->newest = e;
    if (!pc->oldest)
        pc->oldest = e;
}

static struct entry **find_slot(struct pagecache *pc, uint64_t hash, const void *key, size_t klen)
{
    struct entry **slot = &pc->buckets[hash & (pc->nbuckets - 1)];
    while (*slot && !((*slot)->hash == hash && (*slot)->klen == klen &&
                      memcmp((*slot)->key, key, klen) == 0))
        slot = &(*slot)->chain;
    return slot;
}

static void remove_entry(struct pagecache *pc, struct entry **slot)
{
    struct entry *e = *slot;
    *slot = e->chain;
    lru_unlink(pc, e);
    pc->bytes -= entry_cost(e->klen, e->blen);
    pc->entries--;
    free(e->body);
    free(e);
}

static void remove_all(struct pagecache *pc)
{
    for (size_t i = 0; i < pc->nbuckets; i++)
        while (pc->buckets[i])
            remove_entry(pc, &pc->buckets[i]);
}

/* Moves the cache to generation gen (dropping everything older). False when
 * gen is older than the cache's: such a page must not be stored or served. */
static bool at_generation(struct pagecache *pc, uint64_t gen)
{
    if (gen == 0 || gen < pc->gen)
        return false;
    if (gen > pc->gen) {
        remove_all(pc);
        pc->gen = gen;
    }
    return true;
}

char *pagecache_get(struct pagecache *pc, const void *key, size_t klen, uint64_t gen,
                    size_t *len)
{
    char *copy = NULL;
    pthread_mutex_lock(&pc->lock);
    if (at_generation(pc, gen)) {
        struct entry *e = *find_slot(pc, hash_key(pc, key, klen), key, klen);
        if (e && (copy = malloc(e->blen + 1))) {
            memcpy(copy, e->body, e->blen);
            copy[e->blen] = 0;
            *len = e->blen;
            lru_unlink(pc, e);
            lru_push_newest(pc, e);
        }
    }
    if (copy)
        pc->hits++;
    else
        pc->misses++;
    pthread_mutex_unlock(&pc->lock);
    return copy;
}

static void grow_buckets(struct pagecache *pc)
{
    size_t n = pc->nbuckets * 2;
    struct entry **b = calloc(n, sizeof(*b));
    if (!b)
        return; /* longer chains; still correct */
    for (size_t i = 0; i < pc->nbuckets; i++) {
        struct entry *e = pc->buckets[i];
        while (e) {
            struct entry *next = e->chain;
            e->chain = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(pc->buckets);
    pc->buckets = b;
    pc->nbuckets = n;
}

void pagecache_put(struct pagecache *pc, const void *key, size_t klen, uint64_t gen,
                   const char *body, size_t len)
{
    size_t cost = entry_cost(klen, len);
    if (cost > pc->max_bytes / 8)
        return;
    struct entry *e = malloc(sizeof(*e) + klen);
    char *copy = malloc(len ? len : 1);
    if (!e || !copy) {
        free(e);
        free(copy);
        return;
    }
    memcpy(e->key, key, klen);
    memcpy(copy, body, len);
    e->klen = klen;
    e->blen = len;
    e->body = copy;
    e->hash = hash_key(pc, key, klen);
    pthread_mutex_lock(&pc->lock);
    if (!at_generation(pc, gen)) {
        pthread_mutex_unlock(&pc->lock);
        free(copy);
        free(e);
        return;
    }
    struct entry **slot = find_slot(pc, e->hash, key, klen);
    if (*slot)
        remove_entry(pc, slot);
    while (pc->oldest && pc->bytes + cost > pc->max_bytes)
        remove_entry(pc, find_slot(pc, pc->oldest->hash, pc->oldest->key, pc->oldest->klen));
    if (pc->entries >= pc->nbuckets)
        grow_buckets(pc);
    slot = &pc->buckets[e->hash & (pc->nbuckets - 1)];
    e->chain = *slot;
    *slot = e;
    lru_push_newest(pc, e);
    pc->bytes += cost;
    pc->entries++;
    pthread_mutex_unlock(&pc->lock);
}

void pagecache_stats(struct pagecache *pc, struct pagecache_stats *out)
{
    pthread_mutex_lock(&pc->lock);
    out->hits = pc->hits;
    out->misses = pc->misses;
    out->entries = pc->entries;
    out->bytes = pc->bytes;
    pthread_mutex_unlock(&pc->lock);
}

void pagecache_destroy(struct pagecache *pc)
{
    if (!pc)
        return;
    remove_all(pc);
    free(pc->buckets);
    pthread_mutex_destroy(&pc->lock);
    free(pc);
}
