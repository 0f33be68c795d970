/* Shared principal lists (see listcache.h). */
#include "auth/listcache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 64 /* per thread: a node's busy tokens, direct-mapped (a power of two) */

struct listblock {
    atomic_uint refs;
    struct strlist lists[LISTCACHE_LISTS]; /* views into mem */
    char *mem[];                           /* every pointer array, then the strings */
};

struct slot {
    struct listcache_key key;
    struct listblock *block; /* NULL: empty */
};

static pthread_key_t table_key;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

/* A thread's table goes with the thread, with its references. */
static void table_free(void *arg)
{
    struct slot *table = arg;
    for (size_t i = 0; i < SLOTS; i++)
        listcache_release(table[i].block);
    free(table);
}

static void make_key(void)
{
    (void)pthread_key_create(&table_key, table_free);
}

static struct slot *slot_of(const struct listcache_key *key)
{
    pthread_once(&table_once, make_key);
    struct slot *table = pthread_getspecific(table_key);
    if (!table) {
        if (!(table = calloc(SLOTS, sizeof(*table))))
            return NULL;
        if (pthread_setspecific(table_key, table) != 0) {
            free(table);
            return NULL;
        }
    }
    uint64_t h = ((uint64_t)(uintptr_t)key->record ^ key->generation) * 0x9E3779B97F4A7C15ULL;
    return &table[h >> 58]; /* the top six bits: SLOTS */
}

static struct listblock *hand_out(struct listblock *b, struct strlist *const out[LISTCACHE_LISTS])
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    for (size_t i = 0; i < LISTCACHE_LISTS; i++) {
        strlist_free(out[i]);
        *out[i] = b->lists[i];
    }
    return b;
}

struct listblock *listcache_get(const struct listcache_key *key,
                                struct strlist *const out[LISTCACHE_LISTS])
{
    struct slot *s = slot_of(key);
    if (!s || !s->block || s->key.generation != key->generation || s->key.record != key->record)
        return NULL;
    return hand_out(s->block, out);
}

/* One allocation: the block, every list's pointer array, then the strings. */
static struct listblock *pack(const struct strlist *const src[LISTCACHE_LISTS])
{
    size_t items = 0, bytes = 0;
    for (size_t i = 0; i < LISTCACHE_LISTS; i++) {
        items += src[i]->n;
        bytes += strlist_text_size(src[i]->v, src[i]->n);
    }
    struct listblock *b = malloc(sizeof(*b) + items * sizeof(char *) + bytes);
    if (!b)
        return NULL;
    atomic_init(&b->refs, 1); /* the table's */
    char **v = b->mem, *at = (char *)(b->mem + items);
    for (size_t i = 0; i < LISTCACHE_LISTS; i++) {
        b->lists[i] = src[i]->n ? (struct strlist){src[i]->n, STRLIST_VIEW, v}
                                : (struct strlist)STRLIST_INIT;
        at = strlist_pack_to(src[i]->v, src[i]->n, v, at);
        v += src[i]->n;
    }
    return b;
}

struct listblock *listcache_put(const struct listcache_key *key,
                                const struct strlist *const src[LISTCACHE_LISTS],
                                struct strlist *const out[LISTCACHE_LISTS])
{
    struct listblock *b = pack(src);
    if (!b)
        return NULL;
    struct slot *s = slot_of(key);
    if (!s) { /* no table: the caller's block alone */
        atomic_store_explicit(&b->refs, 0, memory_order_relaxed);
        return hand_out(b, out);
    }
    listcache_release(s->block);
    s->key = *key;
    s->block = b;
    return hand_out(b, out);
}

void listcache_release(struct listblock *b)
{
    if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        free(b);
}
