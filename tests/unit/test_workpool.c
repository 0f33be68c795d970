/* Unit tests for workpool.c: every submitted job runs, a full queue answers
 * -EAGAIN at once, drain runs what is queued and refuses later submissions,
 * workers take their nice value, and an idle stretch switches policy and back. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/workpool.h"

static atomic_int counter;

static void count_job(void *arg)
{
    (void)arg;
    atomic_fetch_add(&counter, 1);
}

static void test_all_jobs_run(void **state)
{
    (void)state;
    atomic_store(&counter, 0);
    struct workpool *wp = workpool_create(4, 10000, 0);
    assert_non_null(wp);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(workpool_submit(wp, count_job, NULL), 0);
    workpool_drain(wp);
    assert_int_equal(atomic_load(&counter), 5000);
    workpool_destroy(wp);
}

/* A job that blocks until the test opens the gate. */
struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool open;
    atomic_int started;
};

static void gated_job(void *arg)
{
    struct gate *g = arg;
    atomic_fetch_add(&g->started, 1);
    pthread_mutex_lock(&g->lock);
    while (!g->open)
        pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
    atomic_fetch_add(&counter, 1);
}

static void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->lock);
    g->open = true;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

static void test_full_queue_eagain(void **state)
{
    (void)state;
    atomic_store(&counter, 0);
    struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0};
    struct workpool *wp = workpool_create(1, 2, 0);
    assert_non_null(wp);
    /* The single worker takes the first job and blocks in it... */
    assert_int_equal(workpool_submit(wp, gated_job, &g), 0);
    for (int i = 0; i < 5000 && atomic_load(&g.started) == 0; i++)
        usleep(1000);
    assert_int_equal(atomic_load(&g.started), 1);
    /* ...so two more fill the queue and the next ones are refused at once. */
    assert_int_equal(workpool_submit(wp, gated_job, &g), 0);
    assert_int_equal(workpool_submit(wp, gated_job, &g), 0);
    assert_int_equal(workpool_submit(wp, gated_job, &g), -EAGAIN);
    assert_int_equal(workpool_submit(wp, count_job, NULL), -EAGAIN);
    gate_open(&g);
    workpool_drain(wp);
    assert_int_equal(atomic_load(&counter), 3);
    workpool_destroy(wp);
}

static void test_drain_runs_queued_then_refuses(void **state)
{
    (void)state;
    atomic_store(&counter, 0);
    struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0};
    struct workpool *wp = workpool_create(2, 100, 0);
    assert_non_null(wp);
    assert_int_equal(workpool_submit(wp, gated_job, &g), 0);
    for (int i = 0; i < 50; i++)
        assert_int_equal(workpool_submit(wp, count_job, NULL), 0);
    gate_open(&g);
    workpool_drain(wp);
    /* Everything queued before the drain ran. */
    assert_int_equal(atomic_load(&counter), 51);
    assert_int_equal(workpool_submit(wp, count_job, NULL), -ESHUTDOWN);
    workpool_drain(wp); /* twice is harmless */
    workpool_destroy(wp);
    assert_int_equal(atomic_load(&counter), 51);
}

static void test_zero_sizes_clamped(void **state)
{
    (void)state;
    atomic_store(&counter, 0);
    struct workpool *wp = workpool_create(0, 0, 0);
    assert_non_null(wp);
    assert_int_equal(workpool_submit(wp, count_job, NULL), 0);
    workpool_destroy(wp); /* drains first */
    assert_int_equal(atomic_load(&counter), 1);
    workpool_destroy(NULL);
}

static atomic_int seen_nice = -100;

static void record_nice(void *arg)
{
    (void)arg;
    errno = 0;
    atomic_store(&seen_nice, getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid)));
}

/* Workers run nice steps below the creator; the creating thread keeps its
 * own priority. */
static void test_worker_nice(void **state)
{
    (void)state;
    int before = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    struct workpool *wp = workpool_create(1, 4, 7);
    assert_non_null(wp);
    assert_int_equal(workpool_submit(wp, record_nice, NULL), 0);
    workpool_drain(wp);
    workpool_destroy(wp);
    assert_int_equal(atomic_load(&seen_nice), before + 7 > 19 ? 19 : before + 7);
    assert_int_equal(getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid)), before);
}

static atomic_int idle_policy, after_policy, nice_before, nice_after;

static void idle_stretch(void *arg)
{
    (void)arg;
    id_t tid = (id_t)syscall(SYS_gettid);
    atomic_store(&nice_before, getpriority(PRIO_PROCESS, tid));
    workpool_idle_begin();
    atomic_store(&idle_policy, sched_getscheduler(0));
    workpool_idle_end();
    atomic_store(&after_policy, sched_getscheduler(0));
    atomic_store(&nice_after, getpriority(PRIO_PROCESS, tid));
}

/* A CPU-heavy stretch runs under SCHED_IDLE; afterwards the worker is back
 * to the normal policy with its nice value unchanged. */
static void test_idle_stretch(void **state)
{
    (void)state;
    struct workpool *wp = workpool_create(1, 4, 5);
    assert_non_null(wp);
    assert_int_equal(workpool_submit(wp, idle_stretch, NULL), 0);
    workpool_drain(wp);
    workpool_destroy(wp);
    assert_int_equal(atomic_load(&idle_policy), SCHED_IDLE);
    assert_int_equal(atomic_load(&after_policy), SCHED_OTHER);
    assert_int_equal(atomic_load(&nice_after), atomic_load(&nice_before));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worker_nice),
        cmocka_unit_test(test_all_jobs_run),
        cmocka_unit_test(test_full_queue_eagain),
        cmocka_unit_test(test_drain_runs_queued_then_refuses),
        cmocka_unit_test(test_zero_sizes_clamped),
        cmocka_unit_test(test_idle_stretch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
