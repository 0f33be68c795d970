/* A bounded pool of worker threads for slow work (Argon2id, storage writes)
 * so that request threads never block on it. Submitting never blocks: a full
 * queue is reported to the caller, who answers 503. */
#ifndef TESSERA_WORKPOOL_H
#define TESSERA_WORKPOOL_H

#include <stddef.h>
#include <stdint.h>

struct workpool;

/* NULL on failure. The threads run nice steps below the creating thread's
 * priority (0: the same). */
struct workpool *workpool_create(unsigned threads, size_t max_queued, int nice);
/* Queues fn(arg). Returns 0, or -EAGAIN when the queue is full, -ESHUTDOWN
 * after workpool_destroy started. Thread-safe. */
int workpool_submit(struct workpool *wp, void (*fn)(void *arg), void *arg);
/* Runs every queued job and joins the threads; later submissions fail with
 * -ESHUTDOWN. The pool stays allocated so late callers can still submit. */
void workpool_drain(struct workpool *wp);
/* Jobs waiting now, and submissions refused so far (queue full), for
 * /metrics. Any thread. */
void workpool_stats(struct workpool *wp, size_t *queued, uint64_t *rejected);
/* Drains (if not done yet) and frees the pool. */
void workpool_destroy(struct workpool *wp);

/* For a CPU-heavy stretch of a job (Argon2id): the calling thread runs under
 * SCHED_IDLE until workpool_idle_end, so it gives way at once whenever a
 * request thread wakes up (Linux still grants it a sliver, so it is slowed,
 * never starved). The nice value is kept. Failure changes nothing. */
void workpool_idle_begin(void);
void workpool_idle_end(void);

#endif
