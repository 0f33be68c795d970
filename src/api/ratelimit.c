/* Fixed-window counters in an open-addressed table of 64-bit key hashes.
 * A full probe range evicts its stalest slot: under a flood of distinct
 * keys, limits degrade towards "more permissive" rather than using more
 * memory. */
#include "api/ratelimit.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "http/metrics.h"
#include "store/store.h"

#define SLOTS 65536
#define STRIPES 64
#define PROBE 8

struct slot {
    uint64_t key;
    int64_t window_start;
    unsigned count;
};

struct ratelimit {
    pthread_mutex_t locks[STRIPES];
    struct slot slots[SLOTS];
};

struct ratelimit *ratelimit_create(void)
{
    struct ratelimit *rl = calloc(1, sizeof(*rl));
    if (!rl)
        return NULL;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&rl->locks[i], NULL);
    return rl;
}

void ratelimit_destroy(struct ratelimit *rl)
{
    if (!rl)
        return;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&rl->locks[i]);
    free(rl);
}

/* FNV-1a; never 0, which marks an empty slot. */
static uint64_t hash_key(const char *key)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h ? h : 1;
}

int ratelimit_hit(struct ratelimit *rl, const char *key, unsigned limit, int window_s)
{
    if (!rl || limit == 0)
        return 0;
    if (window_s <= 0)
        window_s = 60;
    uint64_t h = hash_key(key);
    int64_t now = (int64_t)time(NULL);
    int64_t window = now - now % window_s;
    /* Probe ranges never cross a stripe: slot index bits above log2(PROBE)
     * pick the stripe. */
    size_t base = (size_t)(h % (SLOTS / PROBE)) * PROBE;
    pthread_mutex_t *lock = &rl->locks[(base / PROBE) % STRIPES];
    pthread_mutex_lock(lock);
    struct slot *found = NULL, *victim = &rl->slots[base];
    for (size_t i = 0; i < PROBE; i++) {
        struct slot *s = &rl->slots[base + i];
        if (s->key == h) {
            found = s;
            break;
        }
        if (s->window_start < victim->window_start)
            victim = s;
    }
    if (!found) {
        found = victim;
        found->key = h;
        found->window_start = window;
        found->count = 0;
    } else if (found->window_start != window) {
        found->window_start = window;
        found->count = 0;
    }
    int retry = 0;
    if (found->count >= limit)
        retry = (int)(window + window_s - now);
    else
        found->count++;
    pthread_mutex_unlock(lock);
    return retry;
}

/* The counters live in the store (the driver's throttle_hit: a table in
 * SQLite or PostgreSQL), so every process on one store counts together;
 * only a driver without one counts in this process. */
static int hit_window(struct app *app, const char *key, unsigned limit, int window)
{
    if (limit == 0)
        return 0;
    int rc = app->store->ops->throttle_hit(app->store, key, limit, window);
    if (rc == -ENOTSUP)
        return ratelimit_hit(app->limits, key, limit, window);
    return rc < 0 ? 0 : rc;
}

static int hit(struct app *app, const char *key, unsigned limit)
{
    return hit_window(app, key, limit, (int)app->cfg.rate_window);
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

int ratelimit_login(struct app *app, const char *email, const char *addr)
{
    /* Per (account, address): someone guessing from one place is stopped
     * there without locking the owner out everywhere else; per account from
     * all addresses, a slower hourly ceiling against guessing from many;
     * per address, across accounts. */
    char key[400];
    snprintf(key, sizeof(key), "login-pair:%.256s|%s", email, addr);
    lower(key);
    int by_pair = hit(app, key, app->cfg.login_rate_account);
    snprintf(key, sizeof(key), "login-account:%.256s", email);
    lower(key);
    int by_account = hit_window(app, key, app->cfg.login_rate_account_hourly, 3600);
    snprintf(key, sizeof(key), "login-addr:%s", addr);
    int by_addr = hit(app, key, app->cfg.login_rate_addr);
    if (by_pair || by_account)
        metrics_count_throttled(THROTTLE_LOGIN_ACCOUNT);
    if (by_addr)
        metrics_count_throttled(THROTTLE_LOGIN_ADDR);
    int worst = by_pair > by_account ? by_pair : by_account;
    return worst > by_addr ? worst : by_addr;
}

int ratelimit_register(struct app *app, const char *addr)
{
    char key[96];
    snprintf(key, sizeof(key), "register-addr:%s", addr);
    int retry = hit(app, key, app->cfg.register_rate_addr);
    if (retry)
        metrics_count_throttled(THROTTLE_REGISTER_ADDR);
    return retry;
}

int ratelimit_token_api(struct app *app, int64_t account_id)
{
    char key[64];
    snprintf(key, sizeof(key), "token-api:%lld", (long long)account_id);
    int wait = hit(app, key, app->cfg.token_api_rate);
    if (wait)
        metrics_count_throttled(THROTTLE_TOKEN_API);
    return wait;
}
