/* Open connections per client address, for the per-address cap: a small
 * chained hash table under one mutex, touched only at accept and close. */
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"

struct addr_node {
    uint8_t addr[16];
    unsigned count;
    struct addr_node *next;
};

#define ADDRCAP_BUCKETS 4096

struct addrcap {
    pthread_mutex_t lock;
    unsigned max;
    struct addr_node *buckets[ADDRCAP_BUCKETS];
};

static unsigned bucket_of(const uint8_t a[16])
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 16; i++)
        h = (h ^ a[i]) * 16777619u;
    return h % ADDRCAP_BUCKETS;
}

struct addrcap *addrcap_create(unsigned max_per_addr)
{
    struct addrcap *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    pthread_mutex_init(&c->lock, NULL);
    c->max = max_per_addr;
    return c;
}

bool addrcap_take(struct addrcap *c, const uint8_t addr[16])
{
    if (c->max == 0) /* no cap */
        return true;
    bool ok = true;
    pthread_mutex_lock(&c->lock);
    struct addr_node **slot = &c->buckets[bucket_of(addr)], *n = *slot;
    while (n && memcmp(n->addr, addr, 16) != 0)
        n = n->next;
    if (!n && (n = calloc(1, sizeof(*n)))) {
        memcpy(n->addr, addr, 16);
        n->next = *slot;
        *slot = n;
    }
    if (!n || n->count >= c->max)
        ok = false;
    else
        n->count++;
    pthread_mutex_unlock(&c->lock);
    return ok;
}

void addrcap_release(struct addrcap *c, const uint8_t addr[16])
{
    if (c->max == 0)
        return;
    pthread_mutex_lock(&c->lock);
    struct addr_node **p = &c->buckets[bucket_of(addr)];
    while (*p && memcmp((*p)->addr, addr, 16) != 0)
        p = &(*p)->next;
    if (*p && (*p)->count && --(*p)->count == 0) {
        struct addr_node *dead = *p;
        *p = dead->next;
        free(dead);
    }
    pthread_mutex_unlock(&c->lock);
}

void addrcap_destroy(struct addrcap *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < ADDRCAP_BUCKETS; i++)
        for (struct addr_node *n = c->buckets[i], *next; n; n = next) {
            next = n->next;
            free(n);
        }
    pthread_mutex_destroy(&c->lock);
    free(c);
}
