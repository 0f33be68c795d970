/* Line-oriented logging to stderr, safe from any thread. While the server
 * runs, lines are gathered in one buffer and written by a flusher thread at
 * most LOG_FLUSH_MS later (or at once when the buffer fills, or for warnings
 * and errors): one write(2) per request was a tenth of the CPU of a token
 * check. Without a flusher (CLI commands), every line is written at once.
 * Lines never interleave. */
#include "util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/timeutil.h"

#define LOG_LINE_MAX 2048
#define LOG_BUFFER 65536
#define LOG_FLUSH_MS 50

static enum log_level min_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static char buffer[LOG_BUFFER];
static size_t used;
static bool flusher_running, flusher_stop;
static pthread_t flusher;

void log_set_level(enum log_level level)
{
    min_level = level;
}

static void write_all(const char *p, size_t len)
{
    while (len) {
        ssize_t n = write(STDERR_FILENO, p, len);
        if (n <= 0)
            return; /* nothing sensible to do when stderr is gone */
        p += n;
        len -= (size_t)n;
    }
}

static void flush_locked(void)
{
    write_all(buffer, used);
    used = 0;
}

static void emit(const char *line, size_t len, bool urgent)
{
    pthread_mutex_lock(&lock);
    if (used + len > sizeof(buffer))
        flush_locked();
    memcpy(buffer + used, line, len);
    used += len;
    if (urgent || !flusher_running)
        flush_locked();
    pthread_mutex_unlock(&lock);
}

static void *flusher_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    while (!flusher_stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += LOG_FLUSH_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&wake, &lock, &until);
        flush_locked();
    }
    flush_locked();
    pthread_mutex_unlock(&lock);
    return NULL;
}

int log_start_flusher(void)
{
    pthread_mutex_lock(&lock);
    flusher_stop = false;
    int rc = flusher_running ? 0 : -pthread_create(&flusher, NULL, flusher_main, NULL);
    if (rc == 0)
        flusher_running = true;
    pthread_mutex_unlock(&lock);
    return rc;
}

void log_stop_flusher(void)
{
    pthread_mutex_lock(&lock);
    bool running = flusher_running;
    flusher_stop = true;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    if (running)
        pthread_join(flusher, NULL);
    pthread_mutex_lock(&lock);
    flusher_running = false;
    flush_locked();
    pthread_mutex_unlock(&lock);
}

/* Terminates the line with '\n' within cap and returns its full length. */
static size_t finish_line(char *buf, int n, size_t cap)
{
    size_t len = n > 0 ? (size_t)n : 0;
    if (len > cap - 2)
        len = cap - 2;
    buf[len++] = '\n';
    return len;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level < min_level)
        return;
    char buf[LOG_LINE_MAX], ts[TIME_RFC3339_LEN];
    time_format_rfc3339(time_now_ms(), ts);
    int n = snprintf(buf, sizeof(buf), "%s %s ", ts, level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
    va_end(ap);
    emit(buf, finish_line(buf, n + (m > 0 ? m : 0), sizeof(buf)), level >= LOG_WARN);
}

/* Appends at most max bytes of s, leaving room for the final newline. */
static char *put_str(char *w, const char *end, const char *s, size_t max)
{
    while (*s && max-- && w < end)
        *w++ = *s++;
    return w;
}

static char *put_uint(char *w, const char *end, uint64_t v)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n && w < end)
        *w++ = digits[--n];
    return w;
}

/* A path segment that looks like a credential: a pk/sk/tk token or a JWT
 * (clients sometimes put a token where an id belongs). */
static bool looks_like_credential(const char *seg, size_t len)
{
    if (len >= 3 && seg[2] == '.' && seg[1] == 'k' && strchr("pst", seg[0]))
        return true;
    return len >= 3 && memcmp(seg, "eyJ", 3) == 0 && memchr(seg, '.', len);
}

/* Writes at most max bytes of the path with credential-like segments
 * replaced, so a token put into a URL never reaches the log. */
static char *put_path(char *w, const char *end, const char *path, size_t max)
{
    const char *stop = path + strnlen(path, max);
    while (path < stop && w < end) {
        const char *slash = memchr(path, '/', (size_t)(stop - path));
        const char *seg_end = slash ? slash : stop;
        size_t len = (size_t)(seg_end - path);
        if (looks_like_credential(path, len))
            w = put_str(w, end, "<redacted>", SIZE_MAX);
        else
            w = put_str(w, end, path, len);
        if (slash)
            w = put_str(w, end, "/", 1);
        path = slash ? slash + 1 : stop;
    }
    return w;
}

/* One line per request, so it is assembled by hand: snprintf here cost as much
 * as the token check itself. */
void log_access(const char *request_id, const char *client, const char *method, const char *path,
                int status, int64_t duration_us)
{
    if (LOG_INFO < min_level)
        return;
    char buf[1024];
    const char *end = buf + sizeof(buf) - 1; /* room for '\n' */
    time_format_rfc3339(time_now_ms(), buf);
    char *w = buf + TIME_RFC3339_LEN - 1;
    w = put_str(w, end, " access id=", SIZE_MAX);
    w = put_str(w, end, request_id, SIZE_MAX);
    w = put_str(w, end, " client=", SIZE_MAX);
    w = put_str(w, end, client, SIZE_MAX);
    w = put_str(w, end, " ", 1);
    w = put_str(w, end, method, SIZE_MAX);
    w = put_str(w, end, " ", 1);
    w = put_path(w, end, path, 512); /* a hostile URL cannot flood the log */
    w = put_str(w, end, " ", 1);
    w = put_uint(w, end, status > 0 ? (uint64_t)status : 0);
    w = put_str(w, end, " ", 1);
    w = put_uint(w, end, duration_us > 0 ? (uint64_t)duration_us : 0);
    w = put_str(w, end, "us", 2);
    *w++ = '\n';
    emit(buf, (size_t)(w - buf), false);
}
