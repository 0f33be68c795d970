/* Bounded worker pool: a fixed set of threads draining a FIFO of jobs. The
 * queue has a hard cap so overload turns into fast 503s instead of unbounded
 * memory and latency. */
#include "http/workpool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

struct job {
    void (*fn)(void *arg);
    void *arg;
    struct job *next;
};

struct workpool {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    struct job *head, *tail;
    size_t queued, max_queued;
    uint64_t rejected; /* submissions refused because the queue was full */
    bool stopping;
    int nice;
    unsigned nthreads;
    pthread_t *threads;
};

static void *worker_main(void *arg)
{
    struct workpool *wp = arg;
    /* On Linux the nice value belongs to the thread, so only the workers get
     * it: Argon2id under a sign-in storm then yields the CPU to the HTTP
     * threads' token checks instead of starving them. Failure only means
     * equal priority, so it is not fatal. */
    if (wp->nice) {
        id_t tid = (id_t)syscall(SYS_gettid);
        errno = 0;
        int current = getpriority(PRIO_PROCESS, tid);
        if (errno == 0)
            (void)setpriority(PRIO_PROCESS, tid, current + wp->nice > 19 ? 19 : current + wp->nice);
    }
    for (;;) {
        pthread_mutex_lock(&wp->lock);
        while (!wp->head && !wp->stopping)
            pthread_cond_wait(&wp->ready, &wp->lock);
        struct job *job = wp->head;
        if (!job) { /* stopping and drained */
            pthread_mutex_unlock(&wp->lock);
            return NULL;
        }
        wp->head = job->next;
        if (!wp->head)
            wp->tail = NULL;
        wp->queued--;
        pthread_mutex_unlock(&wp->lock);
        job->fn(job->arg);
        free(job);
    }
}

void workpool_idle_begin(void)
{
    struct sched_param none = {0};
    (void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &none);
}

void workpool_idle_end(void)
{
    struct sched_param none = {0};
    (void)pthread_setschedparam(pthread_self(), SCHED_OTHER, &none);
}

struct workpool *workpool_create(unsigned threads, size_t max_queued, int nice)
{
    struct workpool *wp = calloc(1, sizeof(*wp));
    if (!wp)
        return NULL;
    pthread_mutex_init(&wp->lock, NULL);
    pthread_cond_init(&wp->ready, NULL);
    wp->max_queued = max_queued ? max_queued : 1;
    wp->nice = nice;
    wp->threads = calloc(threads ? threads : 1, sizeof(pthread_t));
    if (!wp->threads)
        goto fail;
    for (unsigned i = 0; i < (threads ? threads : 1); i++) {
        if (pthread_create(&wp->threads[i], NULL, worker_main, wp) != 0)
            goto fail;
        wp->nthreads++;
    }
    return wp;
fail:
    workpool_destroy(wp);
    return NULL;
}

int workpool_submit(struct workpool *wp, void (*fn)(void *arg), void *arg)
{
    struct job *job = malloc(sizeof(*job));
    if (!job)
        return -ENOMEM;
    job->fn = fn;
    job->arg = arg;
    job->next = NULL;
    pthread_mutex_lock(&wp->lock);
    int rc = 0;
    if (wp->stopping)
        rc = -ESHUTDOWN;
    else if (wp->queued >= wp->max_queued) {
        rc = -EAGAIN;
        wp->rejected++;
    }
    if (rc == 0) {
        if (wp->tail)
            wp->tail->next = job;
        else
            wp->head = job;
        wp->tail = job;
        wp->queued++;
        pthread_cond_signal(&wp->ready);
    }
    pthread_mutex_unlock(&wp->lock);
    if (rc)
        free(job);
    return rc;
}

void workpool_drain(struct workpool *wp)
{
    pthread_mutex_lock(&wp->lock);
    wp->stopping = true;
    pthread_cond_broadcast(&wp->ready);
    pthread_mutex_unlock(&wp->lock);
    for (unsigned i = 0; i < wp->nthreads; i++)
        pthread_join(wp->threads[i], NULL);
    wp->nthreads = 0;
}

void workpool_destroy(struct workpool *wp)
{
    if (!wp)
        return;
    workpool_drain(wp);
    free(wp->threads);
    pthread_mutex_destroy(&wp->lock);
    pthread_cond_destroy(&wp->ready);
    free(wp);
}

void workpool_stats(struct workpool *wp, size_t *queued, uint64_t *rejected)
{
    pthread_mutex_lock(&wp->lock);
    *queued = wp->queued;
    *rejected = wp->rejected;
    pthread_mutex_unlock(&wp->lock);
}
