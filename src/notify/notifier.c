#include "notify/notifier.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "app.h"
#include "http/metrics.h"
#include "notify/curl.h"
#include "notify/notices.h"
#include "notify/webhook.h"
#include "store/store.h"
#include "util/log.h"
#include "util/timeutil.h"

#define CLAIM_BATCH 8
/* Long enough for a whole batch to time out one post after another. */
#define CLAIM_LEASE_MS (CLAIM_BATCH * WEBHOOK_TIMEOUT_MS + 30000)
#define DELIVERY_POLL_MS 1000
#define BACKOFF_CAP_MS 86400000LL

struct notifier {
    struct app *app;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_bool stopping;
};

int64_t notifier_backoff_ms(unsigned base_s, int attempts)
{
    int64_t delay = (int64_t)base_s * 1000;
    for (int i = 1; i < attempts && delay < BACKOFF_CAP_MS; i++)
        delay *= 2;
    if (delay > BACKOFF_CAP_MS)
        delay = BACKOFF_CAP_MS;
    return delay + (int64_t)randombytes_uniform((uint32_t)(delay / 10 + 1));
}

/* Posts one claimed notice and records the outcome. */
static void deliver(struct notifier *nf, const struct notice *n)
{
    struct app *app = nf->app;
    struct store *st = app->store;
    int64_t now = time_now_ms();
    bool gone;
    char *body = notices_webhook_body(app, n, now, &gone);
    if (!body) {
        if (gone) {
            metrics_count_webhook(WEBHOOK_CANCELLED);
            st->ops->notice_delivered(st, n->id, NOTICE_CANCELLED, n->attempts, 0);
        } else { /* the store failed (logged): try again later, not counted */
            st->ops->notice_delivered(st, n->id, NOTICE_PENDING, n->attempts,
                                      now + notifier_backoff_ms(app->cfg.webhook_retry_seconds, 1));
        }
        return;
    }
    char id[24], err[160];
    snprintf(id, sizeof(id), "%lld", (long long)n->id);
    int rc = webhook_post(app->cfg.webhook_url, app->cfg.webhook_secret, n->kind, id, body,
                          &nf->stopping, err, sizeof(err));
    free(body);
    int attempts = n->attempts + 1;
    if (rc == 0) {
        metrics_count_webhook(WEBHOOK_DELIVERED);
        st->ops->notice_delivered(st, n->id, NOTICE_DELIVERED, attempts, 0);
        log_info("webhook: delivered notice %s (%s) on attempt %d", id, n->kind, attempts);
    } else if (attempts >= (int)app->cfg.webhook_max_attempts) {
        metrics_count_webhook(WEBHOOK_FAILED);
        st->ops->notice_delivered(st, n->id, NOTICE_FAILED, attempts, 0);
        log_warn("webhook: notice %s not delivered after %d attempts (%s); giving up", id, attempts,
                 err);
    } else {
        int64_t delay = notifier_backoff_ms(app->cfg.webhook_retry_seconds, attempts);
        metrics_count_webhook(WEBHOOK_RETRIED);
        st->ops->notice_delivered(st, n->id, NOTICE_PENDING, attempts, now + delay);
        log_warn("webhook: notice %s attempt %d of %u failed (%s); next in %llds", id, attempts,
                 app->cfg.webhook_max_attempts, err, (long long)(delay / 1000));
    }
}

/* Delivers every due notice, a batch at a time, until none is left or the
 * thread is asked to stop. */
static void deliver_due(struct notifier *nf)
{
    struct store *st = nf->app->store;
    for (;;) {
        struct notice *v = NULL;
        size_t n = 0;
        if (st->ops->notice_claim(st, time_now_ms(), CLAIM_LEASE_MS, CLAIM_BATCH, &v, &n) < 0)
            return; /* logged; the next poll tries again */
        for (size_t i = 0; i < n && !atomic_load(&nf->stopping); i++)
            deliver(nf, &v[i]);
        free(v);
        if (n < CLAIM_BATCH || atomic_load(&nf->stopping))
            return;
    }
}

static void *run(void *arg)
{
    struct notifier *nf = arg;
    struct app *app = nf->app;
    int64_t next_scan = 0;
    while (!atomic_load(&nf->stopping)) {
        int64_t now = time_now_ms();
        if (now >= next_scan) {
            if (notices_scan(app, now) < 0)
                log_warn("notices: the expiry scan failed; trying again next interval");
            next_scan = now + (int64_t)app->cfg.notice_scan_interval * 1000;
        }
        if (app->cfg.webhook_url[0])
            deliver_due(nf);
        int64_t until = time_now_ms() + DELIVERY_POLL_MS;
        if (until > next_scan)
            until = next_scan;
        struct timespec ts = {.tv_sec = until / 1000, .tv_nsec = (long)(until % 1000) * 1000000};
        pthread_mutex_lock(&nf->lock);
        if (!atomic_load(&nf->stopping))
            pthread_cond_timedwait(&nf->wake, &nf->lock, &ts);
        pthread_mutex_unlock(&nf->lock);
    }
    return NULL;
}

struct notifier *notifier_start(struct app *app)
{
    if (app->cfg.webhook_url[0] && !app->cfg.webhook_secret[0]) {
        log_error("webhook_url is set but webhook_secret is not: deliveries must be signed "
                  "(set webhook_secret, at least 16 characters, e.g. in TESSERA_WEBHOOK_SECRET)");
        return NULL;
    }
    if (app->cfg.webhook_url[0] && notify_curl_ready() < 0)
        return NULL;
    struct notifier *nf = calloc(1, sizeof(*nf));
    if (!nf)
        return NULL;
    nf->app = app;
    pthread_mutex_init(&nf->lock, NULL);
    pthread_cond_init(&nf->wake, NULL); /* CLOCK_REALTIME, as time_now_ms */
    if (pthread_create(&nf->thread, NULL, run, nf) != 0) {
        log_error("notices: cannot start the notice thread");
        pthread_cond_destroy(&nf->wake);
        pthread_mutex_destroy(&nf->lock);
        free(nf);
        return NULL;
    }
    return nf;
}

void notifier_stop(struct notifier *nf)
{
    if (!nf)
        return;
    pthread_mutex_lock(&nf->lock);
    atomic_store(&nf->stopping, true);
    pthread_cond_signal(&nf->wake);
    pthread_mutex_unlock(&nf->lock);
    pthread_join(nf->thread, NULL);
    pthread_cond_destroy(&nf->wake);
    pthread_mutex_destroy(&nf->lock);
    free(nf);
}
