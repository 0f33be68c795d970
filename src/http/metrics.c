/* Request and verification counters. Every route gets a fixed block of
 * atomic counters at registration time, so observing a request is a few
 * relaxed atomic increments and never takes a lock. */
#include "http/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util/buf.h"

#define STATUS_MIN 100
#define STATUS_MAX 599
static const int64_t bucket_us[] = {100,    250,    500,     1000,    2500,    5000,
                                    10000,  25000,  50000,   100000,  250000,  500000,
                                    1000000, 2500000, 5000000, 10000000};
#define NBUCKETS (sizeof(bucket_us) / sizeof(bucket_us[0]))

struct route_metrics {
    char method[16];
    char pattern[128];
    atomic_uint_fast64_t by_status[STATUS_MAX - STATUS_MIN + 1];
    atomic_uint_fast64_t buckets[NBUCKETS + 1]; /* last = +Inf */
    atomic_uint_fast64_t sum_us;
    struct route_metrics *next;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct route_metrics *registry;
static atomic_uint_fast64_t verifications[AUTH_UNAVAILABLE + 1];
static atomic_uint_fast64_t throttled[THROTTLE_REASONS];
static const char *const throttle_names[THROTTLE_REASONS] = {
    [THROTTLE_LOGIN_ACCOUNT] = "login_account",
    [THROTTLE_LOGIN_ADDR] = "login_addr",
    [THROTTLE_TOKEN_API] = "token_api",
    [THROTTLE_REGISTER_ADDR] = "register_addr",
};

static atomic_uint_fast64_t webhooks[WEBHOOK_OUTCOMES];
static const char *const webhook_names[WEBHOOK_OUTCOMES] = {
    [WEBHOOK_DELIVERED] = "delivered",
    [WEBHOOK_RETRIED] = "retried",
    [WEBHOOK_FAILED] = "failed",
    [WEBHOOK_CANCELLED] = "cancelled",
};

struct route_metrics *metrics_route(const char *method, const char *pattern)
{
    pthread_mutex_lock(&registry_lock);
    struct route_metrics *m;
    for (m = registry; m; m = m->next)
        if (strcmp(m->method, method) == 0 && strcmp(m->pattern, pattern) == 0)
            break;
    if (!m && (m = calloc(1, sizeof(*m)))) {
        snprintf(m->method, sizeof(m->method), "%s", method);
        snprintf(m->pattern, sizeof(m->pattern), "%s", pattern);
        m->next = registry;
        registry = m;
    }
    pthread_mutex_unlock(&registry_lock);
    return m;
}

void metrics_observe(struct route_metrics *m, int status, int64_t duration_us)
{
    if (!m)
        return;
    if (status >= STATUS_MIN && status <= STATUS_MAX)
        atomic_fetch_add_explicit(&m->by_status[status - STATUS_MIN], 1, memory_order_relaxed);
    size_t b = 0;
    while (b < NBUCKETS && duration_us > bucket_us[b])
        b++;
    atomic_fetch_add_explicit(&m->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_us, (uint64_t)(duration_us > 0 ? duration_us : 0),
                              memory_order_relaxed);
}

void metrics_count_throttled(enum throttle_reason reason)
{
    if ((unsigned)reason < THROTTLE_REASONS)
        atomic_fetch_add_explicit(&throttled[reason], 1, memory_order_relaxed);
}

void metrics_count_webhook(enum webhook_outcome outcome)
{
    if ((unsigned)outcome < WEBHOOK_OUTCOMES)
        atomic_fetch_add_explicit(&webhooks[outcome], 1, memory_order_relaxed);
}

void metrics_count_verification(enum auth_result outcome)
{
    if ((unsigned)outcome <= AUTH_UNAVAILABLE)
        atomic_fetch_add_explicit(&verifications[outcome], 1, memory_order_relaxed);
}

/* The process_* metrics of the Prometheus client conventions, from /proc,
 * and the build's identity. */
static void render_process(struct buf *tb)
{
    long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    unsigned long long utime = 0, stime = 0, start = 0, vsize = 0;
    long long rss = 0;
    FILE *f = fopen("/proc/self/stat", "r");
    if (f) {
        /* Fields 14, 15 (utime, stime), 22 (starttime), 23 (vsize), 24
         * (rss); the command name (field 2) may hold spaces, so skip past
         * its closing parenthesis first. */
        char buf[1024];
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        const char *p = strrchr(buf, ')');
        if (p)
            sscanf(p + 2,
                   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d"
                   " %llu %llu %lld",
                   &utime, &stime, &start, &vsize, &rss);
        fclose(f);
    }
    double boot = 0;
    if ((f = fopen("/proc/stat", "r"))) {
        char line[256];
        while (fgets(line, sizeof(line), f))
            if (sscanf(line, "btime %lf", &boot) == 1)
                break;
        fclose(f);
    }
    unsigned fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        for (struct dirent *e; (e = readdir(d));)
            if (e->d_name[0] != '.')
                fds++;
        closedir(d);
        fds--; /* the directory stream's own */
    }
    struct rlimit lim = {0};
    getrlimit(RLIMIT_NOFILE, &lim);
    buf_printf(tb,
               "# HELP process_cpu_seconds_total User and system CPU time spent, seconds.\n"
               "# TYPE process_cpu_seconds_total counter\n"
               "process_cpu_seconds_total %.2f\n"
               "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
               "# TYPE process_resident_memory_bytes gauge\n"
               "process_resident_memory_bytes %lld\n"
               "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
               "# TYPE process_virtual_memory_bytes gauge\n"
               "process_virtual_memory_bytes %llu\n"
               "# HELP process_start_time_seconds Start time of the process since the epoch.\n"
               "# TYPE process_start_time_seconds gauge\n"
               "process_start_time_seconds %.2f\n"
               "# HELP process_open_fds Open file descriptors.\n"
               "# TYPE process_open_fds gauge\n"
               "process_open_fds %u\n"
               "# HELP process_max_fds Maximum open file descriptors.\n"
               "# TYPE process_max_fds gauge\n"
               "process_max_fds %llu\n"
               "# HELP tessera_build_info The running build; the value is always 1.\n"
               "# TYPE tessera_build_info gauge\n"
               "tessera_build_info{version=\"%s\"} 1\n",
               ticks > 0 ? (double)(utime + stime) / (double)ticks : 0.0, rss * (long long)page,
               vsize, ticks > 0 ? boot + (double)start / (double)ticks : 0.0, fds,
               (unsigned long long)lim.rlim_cur, TESSERA_VERSION);
}

char *metrics_render(const char *extra)
{
    struct buf tb = {0};
    buf_printf(&tb, "# HELP tessera_http_requests_total HTTP requests by route and status.\n"
                    "# TYPE tessera_http_requests_total counter\n");
    pthread_mutex_lock(&registry_lock);
    struct route_metrics *head = registry;
    pthread_mutex_unlock(&registry_lock);
    /* Routes are only ever prepended, so walking from a snapshot of the head
     * is safe without the lock. */
    for (struct route_metrics *m = head; m; m = m->next)
        for (int s = STATUS_MIN; s <= STATUS_MAX; s++) {
            uint64_t v = atomic_load_explicit(&m->by_status[s - STATUS_MIN], memory_order_relaxed);
            if (v)
                buf_printf(
                    &tb,
                    "tessera_http_requests_total{method=\"%s\",route=\"%s\",status=\"%d\"} %llu\n",
                    m->method, m->pattern, s, (unsigned long long)v);
        }
    buf_printf(&tb, "# HELP tessera_http_request_duration_seconds Request latency.\n"
                    "# TYPE tessera_http_request_duration_seconds histogram\n");
    for (struct route_metrics *m = head; m; m = m->next) {
        uint64_t cumulative = 0;
        for (size_t b = 0; b <= NBUCKETS; b++) {
            cumulative += atomic_load_explicit(&m->buckets[b], memory_order_relaxed);
            if (b < NBUCKETS)
                buf_printf(&tb,
                           "tessera_http_request_duration_seconds_bucket{method=\"%s\","
                           "route=\"%s\",le=\"%g\"} %llu\n",
                           m->method, m->pattern, (double)bucket_us[b] / 1e6,
                           (unsigned long long)cumulative);
            else
                buf_printf(&tb,
                           "tessera_http_request_duration_seconds_bucket{method=\"%s\","
                           "route=\"%s\",le=\"+Inf\"} %llu\n",
                           m->method, m->pattern, (unsigned long long)cumulative);
        }
        buf_printf(&tb,
                   "tessera_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %g\n",
                   m->method, m->pattern, (double)atomic_load(&m->sum_us) / 1e6);
        buf_printf(&tb,
                   "tessera_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %llu\n",
                   m->method, m->pattern, (unsigned long long)cumulative);
    }
    buf_printf(&tb, "# HELP tessera_verifications_total Credential verifications by outcome.\n"
                    "# TYPE tessera_verifications_total counter\n");
    for (int o = AUTH_OK; o <= AUTH_UNAVAILABLE; o++)
        buf_printf(&tb, "tessera_verifications_total{outcome=\"%s\"} %llu\n",
                   auth_result_name((enum auth_result)o),
                   (unsigned long long)atomic_load(&verifications[o]));
    buf_printf(&tb, "# HELP tessera_throttled_total Requests refused with 429, by limit.\n"
                    "# TYPE tessera_throttled_total counter\n");
    for (int t = 0; t < THROTTLE_REASONS; t++)
        buf_printf(&tb, "tessera_throttled_total{reason=\"%s\"} %llu\n", throttle_names[t],
                   (unsigned long long)atomic_load(&throttled[t]));
    buf_printf(&tb, "# HELP tessera_webhook_deliveries_total Expiry-notice webhook posts by "
                    "outcome (retried: failed, to be tried again; failed: out of attempts; "
                    "cancelled: the token changed first).\n"
                    "# TYPE tessera_webhook_deliveries_total counter\n");
    for (int w = 0; w < WEBHOOK_OUTCOMES; w++)
        buf_printf(&tb, "tessera_webhook_deliveries_total{outcome=\"%s\"} %llu\n", webhook_names[w],
                   (unsigned long long)atomic_load(&webhooks[w]));
    render_process(&tb);
    if (extra)
        buf_append(&tb, extra, strlen(extra));
    if (tb.oom) { /* never a page with metrics missing */
        free(tb.s);
        return NULL;
    }
    return tb.s;
}
