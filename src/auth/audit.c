/* The audit writer (audit.h). One mutex guards the queue; the writer thread
 * takes the whole queue at once and writes it outside the lock, so request
 * threads only ever copy an event under it. A write that fails puts the
 * events back at the front, so order and content survive a database
 * hiccup. */
#include "auth/audit.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"
#include "util/array.h"
#include "util/json.h"
#include "util/log.h"
#include "util/timeutil.h"

#define FLUSH_EVERY_MS 1000
#define QUEUE_MAX 100000 /* events waiting at most: a dead database must not eat memory */
#define PRUNE_EVERY_MS (24 * 3600 * 1000LL)
#define DAY_MS (24 * 3600 * 1000LL)

const struct audit_who audit_cli = {"cli", NULL, NULL, NULL};

struct audit {
    struct store *st;
    int retention_days;
    pthread_mutex_t mu;
    pthread_mutex_t write; /* one writer at a time, so events keep their order */
    pthread_cond_t wake;
    struct audit_event *q;
    size_t n, cap;
    uint64_t dropped;
    bool stopping, background;
    pthread_t thread;
    int64_t last_prune;
};

/* Printable ASCII only, cut to size: whatever a client sent as its user
 * agent cannot break a log line, a terminal or a database encoding. */
static void clean_copy(char *dst, size_t size, const char *src)
{
    size_t i = 0;
    for (; src && *src && i + 1 < size; src++, i++) {
        unsigned char c = (unsigned char)*src;
        dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    dst[i] = '\0';
}

static void fill(struct audit_event *e, const char *kind, int64_t account_id,
                 const char *token_id, const struct audit_who *who, const char *detail)
{
    memset(e, 0, sizeof(*e));
    e->at = time_now_ms();
    clean_copy(e->kind, sizeof(e->kind), kind);
    e->account_id = account_id;
    clean_copy(e->token_id, sizeof(e->token_id), token_id);
    if (who) {
        clean_copy(e->actor, sizeof(e->actor), who->actor);
        clean_copy(e->client, sizeof(e->client), who->client);
        clean_copy(e->user_agent, sizeof(e->user_agent), who->user_agent);
        clean_copy(e->request_id, sizeof(e->request_id), who->request_id);
    }
    clean_copy(e->detail, sizeof(e->detail), detail);
}

/* Appends e to the queue (caller holds mu). */
static void enqueue(struct audit *a, const struct audit_event *e)
{
    if (a->n == QUEUE_MAX) {
        memmove(a->q, a->q + 1, (a->n - 1) * sizeof(*a->q));
        a->n--;
        a->dropped++;
    }
    if (ARRAY_RESERVE(a->q, a->cap, a->n + 1, 64) < 0) {
        a->dropped++;
        return;
    }
    a->q[a->n++] = *e;
}

/* Writes everything queued so far; on failure puts it back in front. */
static int flush(struct audit *a)
{
    pthread_mutex_lock(&a->write);
    pthread_mutex_lock(&a->mu);
    struct audit_event *batch = a->q;
    size_t n = a->n;
    uint64_t dropped = a->dropped;
    a->q = NULL;
    a->n = a->cap = 0;
    a->dropped = 0;
    pthread_mutex_unlock(&a->mu);
    int rc = n ? a->st->ops->audit_append(a->st, batch, n) : 0;
    if (dropped)
        log_error("audit: %llu events dropped (queue full or out of memory)",
                  (unsigned long long)dropped);
    if (rc < 0) {
        /* Back in front of whatever arrived meanwhile. */
        pthread_mutex_lock(&a->mu);
        struct audit_event *later = a->q;
        size_t nlater = a->n;
        struct audit_event *merged = realloc(batch, (n + nlater) * sizeof(*merged));
        if (merged) {
            if (nlater) /* later is NULL when nothing arrived */
                memcpy(merged + n, later, nlater * sizeof(*later));
            free(later);
            a->q = merged;
            a->n = a->cap = n + nlater;
            batch = NULL;
        } else {
            a->dropped += n;
        }
        pthread_mutex_unlock(&a->mu);
        log_warn("audit: cannot write %zu events yet (%s); retrying", n, strerror(-rc));
    }
    free(batch);
    pthread_mutex_unlock(&a->write);
    return rc;
}

static void prune_if_due(struct audit *a)
{
    int64_t now = time_now_ms();
    if (a->retention_days <= 0 || now - a->last_prune < PRUNE_EVERY_MS)
        return;
    a->last_prune = now;
    if (a->st->ops->audit_prune(a->st, now - a->retention_days * DAY_MS) < 0)
        log_warn("audit: pruning old events failed");
}

static void *writer(void *arg)
{
    struct audit *a = arg;
    pthread_mutex_lock(&a->mu);
    while (!a->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += FLUSH_EVERY_MS / 1000;
        pthread_cond_timedwait(&a->wake, &a->mu, &until);
        pthread_mutex_unlock(&a->mu);
        flush(a);
        prune_if_due(a);
        pthread_mutex_lock(&a->mu);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

struct audit *audit_open(struct store *st, int retention_days, bool background)
{
    struct audit *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->st = st;
    a->retention_days = retention_days;
    a->last_prune = time_now_ms() - PRUNE_EVERY_MS; /* once soon after start */
    pthread_mutex_init(&a->mu, NULL);
    pthread_mutex_init(&a->write, NULL);
    pthread_cond_init(&a->wake, NULL);
    if (background && pthread_create(&a->thread, NULL, writer, a) == 0)
        a->background = true;
    else if (background)
        log_warn("audit: no writer thread; events are written as they come");
    return a;
}

void audit_close(struct audit *a)
{
    if (!a)
        return;
    if (a->background) {
        pthread_mutex_lock(&a->mu);
        a->stopping = true;
        pthread_cond_signal(&a->wake);
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->thread, NULL);
    }
    if (flush(a) < 0)
        log_error("audit: %zu events could not be written at shutdown", a->n);
    pthread_mutex_destroy(&a->mu);
    pthread_mutex_destroy(&a->write);
    pthread_cond_destroy(&a->wake);
    free(a->q);
    free(a);
}

void audit_log(struct audit *a, const char *kind, int64_t account_id, const char *token_id,
               const struct audit_who *who, const char *detail)
{
    if (!a)
        return;
    struct audit_event e;
    fill(&e, kind, account_id, token_id, who, detail);
    pthread_mutex_lock(&a->mu);
    enqueue(a, &e);
    pthread_mutex_unlock(&a->mu);
    if (!a->background)
        flush(a);
}

int audit_log_now(struct audit *a, const char *kind, int64_t account_id, const char *token_id,
                  const struct audit_who *who, const char *detail)
{
    if (!a)
        return 0;
    struct audit_event e;
    fill(&e, kind, account_id, token_id, who, detail);
    pthread_mutex_lock(&a->mu);
    enqueue(a, &e);
    pthread_mutex_unlock(&a->mu);
    return flush(a);
}

cJSON *audit_event_json(const struct audit_event *e)
{
    cJSON *o = cJSON_CreateObject();
    json_add_int(o, "id", e->id);
    json_add_time(o, "at", e->at);
    cJSON_AddStringToObject(o, "kind", e->kind);
    cJSON_AddStringToObject(o, "actor", e->actor);
    json_add_int(o, "account_id", e->account_id);
    if (e->token_id[0])
        cJSON_AddStringToObject(o, "token_id", e->token_id);
    else
        cJSON_AddNullToObject(o, "token_id");
    cJSON_AddStringToObject(o, "client", e->client);
    cJSON_AddStringToObject(o, "user_agent", e->user_agent);
    cJSON_AddStringToObject(o, "request_id", e->request_id);
    cJSON_AddStringToObject(o, "detail", e->detail);
    return o;
}
