/* The token index's feed thread, write-through and freshness gate (see
 * indexsync.h). Locks: `update` serialises everything that changes the
 * index from storage (the feed thread, write-throughs), across their storage
 * reads, so two updaters never apply two versions of one row out of order;
 * `mu` guards the wake-up handshake between lookups and the feed thread. */
#include "auth/indexsync.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/tokenindex.h"
#include "store/changefeed.h"
#include "store/store.h"
#include "util/log.h"

/* A lookup waits at most this long for the feed thread before failing
 * closed; the feed thread applies a change in well under a millisecond. */
#define GATE_WAIT_MS 5000
/* Without a lease (one machine) the feed thread still looks every so often,
 * and prunes the change log now and then. */
#define IDLE_LOOK_MS 1000
#define PRUNE_EVERY_MS (10 * 60 * 1000)
#define USES_EVERY_MS 10000 /* default last_used_interval_ms */
#define USES_BATCH 4096
#define LOG_KEEP_MS (3600 * 1000)

struct indexsync {
    struct tokenindex *ix;
    struct store *backend;
    struct changefeed *cf;
    struct indexsync_hooks hooks;

    pthread_mutex_t update; /* one updater at a time */
    int64_t seq;            /* last change-log entry applied (under update) */

    pthread_mutex_t mu; /* the handshake below */
    pthread_cond_t kick, done;
    uint64_t asked, answered; /* lookups' wake-up requests, and how far served */
    int last_rc;              /* outcome of the last served round */
    bool stopping;

    atomic_bool resync;         /* a write-through failed: reload */
    atomic_int_least64_t lease; /* CLOCK_MONOTONIC ms until which the index is trusted */
    pthread_t thread;
    bool thread_started;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* ---- applying rows (caller holds `update`) --------------------------------- */

static int reload_account(struct indexsync *s, int64_t id)
{
    struct account a = {0};
    int rc = s->backend->ops->account_get_by_id(s->backend, id, &a);
    if (rc == 0)
        rc = tokenindex_put_account(s->ix, &a);
    else if (rc == -ENOENT) {
        tokenindex_kill_account(s->ix, id); /* deleted: fail closed */
        rc = 0;
    }
    account_free(&a);
    return rc;
}

static int reload_token(struct indexsync *s, const char *id)
{
    struct token_record t = {0};
    int rc = s->backend->ops->token_get(s->backend, id, &t);
    if (rc == -ENOENT) {
        tokenindex_kill_token(s->ix, id);
        return 0;
    }
    if (rc < 0)
        return rc;
    rc = tokenindex_put_token(s->ix, &t);
    if (rc == -ENOENT && (rc = reload_account(s, t.account_id)) == 0)
        rc = tokenindex_put_token(s->ix, &t);
    token_record_free(&t);
    return rc;
}

static int apply_change(void *ctx, enum changefeed_kind kind, int64_t account_id,
                        const char *token_id)
{
    struct indexsync *s = ctx;
    switch (kind) {
    case CHANGE_ACCOUNT:
        return reload_account(s, account_id);
    case CHANGE_TOKEN:
        return reload_token(s, token_id);
    case CHANGE_CATALOG:
        if (s->hooks.catalog_changed)
            s->hooks.catalog_changed(s->hooks.ctx);
        return 0;
    }
    return 0;
}

/* ---- last uses ------------------------------------------------------------ */

/* Writes the last uses noted since the previous call, in batches. A batch
 * that cannot be written is dropped (logged): a last-use time is a hint,
 * and the next use notes it again. */
static void flush_uses(struct indexsync *s)
{
    struct token_use *batch = malloc(USES_BATCH * sizeof(*batch));
    if (!batch)
        return;
    size_t n;
    while ((n = tokenindex_take_uses(s->ix, batch, USES_BATCH)) > 0) {
        int rc = s->backend->ops->token_touch(s->backend, batch, n);
        if (rc < 0) {
            log_warn("token index: could not store %zu last-use times (%s)", n, strerror(-rc));
            break;
        }
        if (n < USES_BATCH)
            break;
    }
    free(batch);
}

/* ---- the full load ------------------------------------------------------- */

struct load_ctx {
    struct indexsync *s;
    struct tokenindex *fresh;
};

static int load_account_cb(void *ctx, const struct account *a)
{
    struct load_ctx *l = ctx;
    return tokenindex_put_account(l->fresh, a);
}

static int load_token_cb(void *ctx, const struct token_record *t)
{
    struct load_ctx *l = ctx;
    int rc = tokenindex_put_token(l->fresh, t);
    if (rc == -ENOENT) {
        /* An account created after account_each passed it. */
        struct account a = {0};
        rc = l->s->backend->ops->account_get_by_id(l->s->backend, t->account_id, &a);
        if (rc == 0 && (rc = tokenindex_put_account(l->fresh, &a)) == 0)
            rc = tokenindex_put_token(l->fresh, t);
        account_free(&a);
    }
    return rc;
}

/* Builds a fresh index from storage and swaps it in (caller holds update).
 * The feed position is taken first, so writes racing with the load are
 * applied (again, harmlessly) by the next round. A catalog change may have
 * been missed too, so the catalog hook runs. */
static int full_load(struct indexsync *s)
{
    flush_uses(s); /* the fresh index starts from what storage knows */
    int64_t head = s->cf->ops->head(s->cf);
    if (head < 0)
        return -EIO;
    struct load_ctx l = {s, tokenindex_create()};
    if (!l.fresh)
        return -ENOMEM;
    int rc = s->backend->ops->account_each(s->backend, load_account_cb, &l);
    if (rc == 0)
        rc = s->backend->ops->token_each(s->backend, load_token_cb, &l);
    if (rc != 0) {
        tokenindex_destroy(l.fresh);
        return rc < 0 ? rc : -EIO;
    }
    tokenindex_adopt(s->ix, l.fresh);
    s->seq = head;
    if (s->hooks.catalog_changed)
        s->hooks.catalog_changed(s->hooks.ctx);
    return 0;
}

/* Applies everything committed since the last round: 0 or -errno. A failed
 * reload is retried by the next round. */
static int sync_round(struct indexsync *s)
{
    pthread_mutex_lock(&s->update);
    int rc = 0;
    if (atomic_exchange(&s->resync, false)) {
        log_info("token index: reloading after a failed write-through");
        rc = full_load(s);
    }
    if (rc == 0)
        rc = s->cf->ops->read(s->cf, &s->seq, apply_change, s);
    if (rc == -ESTALE) {
        log_info("token index: the change log was pruned past our position; reloading");
        rc = full_load(s);
    }
    if (rc < 0 && rc != -EIO)
        atomic_store(&s->resync, true); /* -EIO: the next read resumes where this stopped */
    pthread_mutex_unlock(&s->update);
    return rc;
}

/* PostgreSQL: tells the database how far this node is and renews the lease
 * when that proves it current. The local deadline counts from before the
 * heartbeat was sent, so it always ends before the one the database keeps
 * (which counts from the heartbeat's commit): writers never stop waiting for
 * a node that still trusts its index. */
static void renew_lease(struct indexsync *s, bool *behind)
{
    *behind = false;
    int64_t sent = mono_ms();
    pthread_mutex_lock(&s->update);
    int64_t applied = s->seq;
    pthread_mutex_unlock(&s->update);
    int64_t head = 0;
    if (s->cf->ops->heartbeat(s->cf, applied, &head) < 0)
        return; /* the lease runs out on its own unless a later one works */
    if (head > applied) {
        *behind = true; /* a change slipped in: apply it before trusting */
        return;
    }
    atomic_store(&s->lease, sent + s->cf->lease_ms);
}

/* ---- the feed thread ----------------------------------------------------- */

/* Waits for a lookup's wake-up request, or timeout_ms. Returns the request
 * count to answer. */
static uint64_t wait_for_kick(struct indexsync *s, int timeout_ms)
{
    struct timespec until;
    deadline_in(&until, timeout_ms);
    pthread_mutex_lock(&s->mu);
    while (s->asked == s->answered && !s->stopping)
        if (pthread_cond_timedwait(&s->kick, &s->mu, &until) == ETIMEDOUT)
            break;
    uint64_t target = s->asked;
    pthread_mutex_unlock(&s->mu);
    return target;
}

static void answer(struct indexsync *s, uint64_t target, int rc)
{
    pthread_mutex_lock(&s->mu);
    if (target > s->answered)
        s->answered = target;
    s->last_rc = rc;
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->mu);
}

static bool stopping(struct indexsync *s)
{
    pthread_mutex_lock(&s->mu);
    bool stop = s->stopping;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

static void *feed_thread(void *arg)
{
    struct indexsync *s = arg;
    const struct changefeed_ops *ops = s->cf->ops;
    int heartbeat_ms = s->cf->lease_ms ? s->cf->lease_ms / 6 : IDLE_LOOK_MS;
    int64_t last_prune = mono_ms(), last_beat = mono_ms(), last_uses = mono_ms();
    int uses_every = s->hooks.last_used_interval_ms > 0 ? s->hooks.last_used_interval_ms
                                                        : USES_EVERY_MS;
    bool behind = false;
    int last_rc = 0; /* log a failure once, not once a round */
    while (!stopping(s)) {
        uint64_t target = 0;
        if (behind) {
            /* Straight to the next round. */
        } else if (ops->wait) {
            int wait_ms = (int)(last_beat + heartbeat_ms - mono_ms());
            if (wait_ms > 0 && ops->wait(s->cf, wait_ms) < 0) {
                struct timespec pause = {0, 50 * 1000000L}; /* do not spin */
                nanosleep(&pause, NULL);
            }
        } else {
            target = wait_for_kick(s, heartbeat_ms);
        }
        int64_t before = s->seq;
        int rc = sync_round(s);
        if (rc < 0 && rc != last_rc)
            log_error("token index: cannot apply changes (%s); retrying", strerror(-rc));
        else if (rc == 0 && last_rc < 0)
            log_info("token index: applying changes again");
        last_rc = rc;
        answer(s, target, rc);
        if (ops->heartbeat && rc == 0 &&
            (s->seq != before || behind || mono_ms() - last_beat >= heartbeat_ms)) {
            last_beat = mono_ms();
            renew_lease(s, &behind);
        } else if (rc < 0) {
            behind = false;
        }
        if (mono_ms() - last_uses >= uses_every) {
            last_uses = mono_ms();
            flush_uses(s);
        }
        if (mono_ms() - last_prune >= PRUNE_EVERY_MS) {
            last_prune = mono_ms();
            ops->prune(s->cf, LOG_KEEP_MS);
        }
    }
    return NULL;
}

/* ---- the gate ------------------------------------------------------------ */

static int gate_with_lease(void *ctx)
{
    struct indexsync *s = ctx;
    return mono_ms() < atomic_load_explicit(&s->lease, memory_order_acquire) ? 0 : -EAGAIN;
}

/* One machine: when the database changed (another process wrote), have the
 * feed thread apply it and wait for that. */
static int gate_with_probe(void *ctx)
{
    struct indexsync *s = ctx;
    if (!s->cf->ops->maybe_changed(s->cf) && !atomic_load(&s->resync))
        return 0;
    struct timespec until;
    deadline_in(&until, GATE_WAIT_MS);
    pthread_mutex_lock(&s->mu);
    uint64_t mine = ++s->asked;
    pthread_cond_signal(&s->kick);
    while (s->answered < mine && !s->stopping)
        if (pthread_cond_timedwait(&s->done, &s->mu, &until) == ETIMEDOUT)
            break;
    int rc = s->answered >= mine && s->last_rc == 0 ? 0 : -EAGAIN;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- public -------------------------------------------------------------- */

struct indexsync *indexsync_start(struct tokenindex *ix, struct store *backend,
                                  struct changefeed *cf, const struct indexsync_hooks *hooks)
{
    struct indexsync *s = calloc(1, sizeof(*s));
    if (!s) {
        cf->ops->close(cf);
        return NULL;
    }
    s->ix = ix;
    s->backend = backend;
    s->cf = cf;
    if (hooks)
        s->hooks = *hooks;
    pthread_mutex_init(&s->update, NULL);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->kick, NULL);
    pthread_cond_init(&s->done, NULL);
    atomic_init(&s->resync, false);
    atomic_init(&s->lease, 0);
    pthread_mutex_lock(&s->update);
    int rc = full_load(s);
    pthread_mutex_unlock(&s->update);
    if (rc < 0) {
        log_error("token index: initial load failed (%s)", strerror(-rc));
        goto fail;
    }
    if (cf->ops->heartbeat) {
        /* Serve only once the database has this node as current. */
        bool behind = true;
        for (int tries = 0; behind && tries < 50; tries++)
            if ((rc = sync_round(s)) == 0)
                renew_lease(s, &behind);
        if (behind || rc < 0) {
            log_error("token index: cannot become current against the database");
            goto fail;
        }
    }
    tokenindex_set_gate(ix, cf->ops->heartbeat ? gate_with_lease : gate_with_probe, s);
    if (pthread_create(&s->thread, NULL, feed_thread, s) != 0) {
        log_error("token index: cannot start the feed thread");
        tokenindex_set_gate(ix, NULL, NULL);
        goto fail;
    }
    s->thread_started = true;
    return s;
fail:
    indexsync_stop(s);
    return NULL;
}

void indexsync_stop(struct indexsync *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->kick);
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->mu);
    if (s->thread_started) {
        pthread_join(s->thread, NULL);
        flush_uses(s); /* what the last round did not write (SIGTERM) */
    }
    tokenindex_set_gate(s->ix, NULL, NULL);
    s->cf->ops->close(s->cf);
    pthread_mutex_destroy(&s->update);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->kick);
    pthread_cond_destroy(&s->done);
    free(s);
}

void indexsync_written(struct indexsync *s, int64_t account_id, const char *token_id)
{
    pthread_mutex_lock(&s->update);
    int rc = 0;
    if (account_id)
        rc = reload_account(s, account_id);
    if (token_id && rc == 0)
        rc = reload_token(s, token_id);
    if (rc < 0) {
        /* A stale positive must not survive a failed re-read. */
        log_error("token index: cannot re-read a written row (%s)", strerror(-rc));
        if (token_id)
            tokenindex_kill_token(s->ix, token_id);
        if (account_id)
            tokenindex_kill_account(s->ix, account_id);
        atomic_store(&s->resync, true);
    }
    pthread_mutex_unlock(&s->update);
}

bool indexsync_current(struct indexsync *s)
{
    if (!s->cf->ops->heartbeat)
        return true;
    return gate_with_lease(s) == 0;
}
