/* Line-oriented logging to stderr, safe from any thread. While the server
 * runs, lines are gathered in a buffer; a flusher thread writes a buffer
 * when it fills, or at most LOG_FLUSH_MS after its first line, while the
 * next lines gather in another (one write(2) per request was a tenth of
 * the CPU of a token check). Full buffers queue for the flusher in a ring,
 * so that a write the page cache holds up for a while does not hold up the
 * server: the thread that logs waits only when every buffer is queued (a
 * disk slower than the log for LOG_BUFFERS - 1 buffers' worth), and no line
 * is ever dropped. Warnings and errors are written at once, after
 * everything before them. Without a flusher (CLI commands), every line is
 * written at once. Lines never interleave. */
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
/* At 135,000 checks a second a buffer fills in 3 ms, and a write to a file
 * sometimes takes longer: with two buffers the server waited about 30
 * times in 20 s (up to 0.4 ms each), with four 0 to 3 times. */
#define LOG_BUFFERS 4
#define LOG_FLUSH_MS 50

static enum log_level min_level = LOG_INFO;
static enum log_format format_mode = LOG_FORMAT_TEXT;
static const char *const level_names[] = {"debug", "info", "warn", "error"};
static char *put_json_str(char *w, const char *end, const char *key, const char *value, size_t max);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;    /* the flusher: a buffer is full */
static pthread_cond_t written = PTHREAD_COND_INITIALIZER; /* loggers: the flusher wrote one */
static char buffers[LOG_BUFFERS][LOG_BUFFER];
/* The ring: buffers[first_queued] and the (queued - 1) after it wait for
 * the flusher, which writes the first without the lock; the next one
 * gathers (used bytes so far). */
static size_t queued_len[LOG_BUFFERS];
static unsigned first_queued, queued;
static size_t used;
static bool flusher_running, flusher_stop;
static pthread_t flusher;

void log_set_level(enum log_level level)
{
    min_level = level;
}

/* The slot of the buffer lines are appended to, after the queued ones (lock
 * held). */
static unsigned gathering_slot(void)
{
    return (first_queued + queued) % LOG_BUFFERS;
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

/* Waits (lock held) until at most `left` buffers are queued: none, so that
 * nothing gathered later is written before them, or few enough that, with
 * the gathering one queued too, another is free to gather in. */
static void wait_queued_locked(unsigned left)
{
    while (queued > left)
        pthread_cond_wait(&written, &lock);
}

/* Writes everything, in order, in the calling thread (lock held). */
static void write_now_locked(void)
{
    wait_queued_locked(0);
    write_all(buffers[gathering_slot()], used);
    used = 0;
}

/* Empties the gathering buffer (lock held): queues its lines for the
 * flusher and gathers on in the next buffer of the ring, or writes them
 * here when no flusher runs (any more). */
static void make_room_locked(void)
{
    if (!flusher_running) {
        write_now_locked();
        return;
    }
    wait_queued_locked(LOG_BUFFERS - 2);
    queued_len[gathering_slot()] = used;
    queued++;
    used = 0;
    pthread_cond_signal(&wake);
}

static void emit(const char *line, size_t len, bool urgent)
{
    pthread_mutex_lock(&lock);
    if (used + len > sizeof(buffers[0]))
        make_room_locked();
    memcpy(buffers[gathering_slot()] + used, line, len);
    used += len;
    if (urgent || !flusher_running)
        write_now_locked();
    pthread_mutex_unlock(&lock);
}

static void *flusher_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    for (;;) {
        if (!queued && !flusher_stop) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += LOG_FLUSH_MS * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&wake, &lock, &until);
        }
        if (!queued && used) /* the time is up for what was gathered */
            make_room_locked();
        if (queued) { /* the first stays queued, and so unused, until written */
            const char *p = buffers[first_queued];
            size_t n = queued_len[first_queued];
            pthread_mutex_unlock(&lock);
            write_all(p, n);
            pthread_mutex_lock(&lock);
            first_queued = (first_queued + 1) % LOG_BUFFERS;
            queued--;
            pthread_cond_broadcast(&written);
        }
        if (flusher_stop && !used && !queued)
            break;
    }
    /* Under the lock, so no line is handed to a flusher that has gone. */
    flusher_running = false;
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
    write_now_locked(); /* lines logged while it stopped */
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
    if (format_mode == LOG_FORMAT_JSON) {
        char msg[LOG_LINE_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        const char *end = buf + sizeof(buf) - 3;
        char *w = put_json_str(buf, end, "{\"time\":", ts, SIZE_MAX);
        w = put_json_str(w, end, ",\"level\":", level_names[level], SIZE_MAX);
        w = put_json_str(w, end, ",\"msg\":", msg, SIZE_MAX);
        *w++ = '}';
        *w++ = '\n';
        emit(buf, (size_t)(w - buf), level >= LOG_WARN);
        return;
    }
    int n = snprintf(buf, sizeof(buf), "%s %s ", ts, level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
    va_end(ap);
    emit(buf, finish_line(buf, n + (m > 0 ? m : 0), sizeof(buf)), level >= LOG_WARN);
}

/* Appends the n bytes of s, or what fits (end leaves room for the final
 * newline). */
static inline char *put_bytes(char *w, const char *end, const char *s, size_t n)
{
    if (__builtin_expect(n > (size_t)(end - w), 0)) {
        n = (size_t)(end - w);
        memcpy(w, s, n);
        return w + n;
    }
    memcpy(w, s, n); /* n as the caller wrote it: a literal's is a few moves */
    return w + n;
}

/* A string literal, copied at once rather than byte by byte. */
#define put_lit(w, end, lit) put_bytes(w, end, "" lit, sizeof(lit) - 1)

/* time_format_rfc3339 of now: the text up to the second is kept per thread
 * and written again while the second lasts. */
static void format_now(char out[TIME_RFC3339_LEN])
{
    static _Thread_local int64_t second = INT64_MIN;
    static _Thread_local char text[TIME_RFC3339_LEN];
    int64_t ms = time_now_ms();
    if (ms < 0 || ms / 1000 != second) {
        time_format_rfc3339(ms, text);
        second = ms < 0 ? INT64_MIN : ms / 1000;
    }
    memcpy(out, text, TIME_RFC3339_LEN);
    unsigned milli = (unsigned)(ms % 1000);
    if (ms >= 0) {
        out[20] = (char)('0' + milli / 100);
        out[21] = (char)('0' + milli / 10 % 10);
        out[22] = (char)('0' + milli % 10);
    }
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

/* Bytes a log line holds as they are: printable ASCII but the quote and
 * the backslash, and the space in JSON strings (in text lines it separates
 * fields). [json][byte]. */
static const unsigned char plain_byte[2][256] = {
    {[0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7e] = 1},
    {[0x20 ... 0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7e] = 1},
};

/* Appends at most max bytes of s with every byte that could forge or
 * break a line escaped: outside printable ASCII, the escape character
 * itself, and (JSON) the quote. Text uses \xHH, JSON \u00HH. */
static char *put_esc(char *w, const char *end, const char *s, size_t max, bool json)
{
    static const char hex[] = "0123456789abcdef";
    while (*s && max && w < end) {
        /* A run of plain bytes (most of every line) is copied at once. */
        size_t run = 0, room = (size_t)(end - w) < max ? (size_t)(end - w) : max;
        while (run < room && plain_byte[json][(unsigned char)s[run]])
            run++;
        memcpy(w, s, run);
        w += run;
        s += run;
        max -= run;
        if (!*s || !max || w >= end)
            break;
        unsigned char c = (unsigned char)*s++;
        max--;
        if (end - w < 6)
            break;
        *w++ = '\\';
        if (json) {
            memcpy(w, "u00", 3);
            w += 3;
        } else {
            *w++ = 'x';
        }
        *w++ = hex[c >> 4];
        *w++ = hex[c & 15];
    }
    return w;
}

/* Writes at most max bytes of the path, escaped, with credential-like
 * segments replaced, so a token put into a URL never reaches the log. */
static char *put_path(char *w, const char *end, const char *path, size_t max, bool json)
{
    const char *stop = path + strnlen(path, max);
    while (path < stop && w < end) {
        const char *slash = memchr(path, '/', (size_t)(stop - path));
        const char *seg_end = slash ? slash : stop;
        size_t len = (size_t)(seg_end - path);
        if (looks_like_credential(path, len))
            w = put_lit(w, end, "<redacted>");
        else
            w = put_esc(w, end, path, len, json);
        if (slash)
            w = put_lit(w, end, "/");
        path = slash ? slash + 1 : stop;
    }
    return w;
}

void log_set_format(enum log_format format)
{
    format_mode = format;
}

static char *put_json_str(char *w, const char *end, const char *key, const char *value, size_t max)
{
    w = put_bytes(w, end, key, strlen(key));
    if (!value)
        return put_lit(w, end, "null");
    w = put_lit(w, end, "\"");
    w = put_esc(w, end, value, max, true);
    return put_lit(w, end, "\"");
}

/* One line per request, so it is assembled by hand: snprintf here cost as much
 * as the token check itself. */
void log_access_entry(const struct access_entry *e)
{
    if (LOG_INFO < min_level)
        return;
    char buf[1536];
    const char *end = buf + sizeof(buf) - 2; /* room for "}\n" */
    uint64_t status = e->status > 0 ? (uint64_t)e->status : 0;
    uint64_t us = e->duration_us > 0 ? (uint64_t)e->duration_us : 0;
    char *w = buf;
    if (format_mode == LOG_FORMAT_JSON) {
        char ts[TIME_RFC3339_LEN];
        format_now(ts);
        w = put_json_str(w, end, "{\"time\":", ts, SIZE_MAX);
        w = put_lit(w, end, ",\"type\":\"access\"");
        w = put_json_str(w, end, ",\"request_id\":", e->request_id, 64);
        w = put_json_str(w, end, ",\"client\":", e->client, 64);
        w = put_json_str(w, end, ",\"method\":", e->method, 32);
        w = put_lit(w, end, ",\"path\":\"");
        w = put_path(w, end, e->path, 512, true);
        w = put_json_str(w, end, "\",\"route\":", e->route, 128);
        w = put_lit(w, end, ",\"status\":");
        w = put_uint(w, end, status);
        w = put_lit(w, end, ",\"bytes\":");
        w = put_uint(w, end, e->bytes);
        w = put_lit(w, end, ",\"duration_us\":");
        w = put_uint(w, end, us);
        w = put_lit(w, end, ",\"account_id\":");
        if (e->account_id > 0)
            w = put_uint(w, end, (uint64_t)e->account_id);
        else
            w = put_lit(w, end, "null");
        w = put_json_str(w, end, ",\"token_id\":", e->token_id && *e->token_id ? e->token_id : NULL,
                         32);
        *w++ = '}';
    } else {
        format_now(buf);
        w = buf + TIME_RFC3339_LEN - 1;
        w = put_lit(w, end, " access id=");
        w = put_esc(w, end, e->request_id, 64, false);
        w = put_lit(w, end, " client=");
        w = put_esc(w, end, e->client, 64, false);
        w = put_lit(w, end, " ");
        w = put_esc(w, end, e->method, 32, false);
        w = put_lit(w, end, " ");
        w = put_path(w, end, e->path, 512, false); /* a hostile URL cannot flood the log */
        w = put_lit(w, end, " ");
        w = put_uint(w, end, status);
        w = put_lit(w, end, " ");
        w = put_uint(w, end, us);
        w = put_lit(w, end, "us");
        if (e->route) { /* the server's lines; log_access keeps the short form */
            w = put_lit(w, end, " route=");
            w = put_esc(w, end, e->route, 128, false);
            w = put_lit(w, end, " bytes=");
            w = put_uint(w, end, e->bytes);
            if (e->account_id > 0) {
                w = put_lit(w, end, " account=");
                w = put_uint(w, end, (uint64_t)e->account_id);
            }
            if (e->token_id && *e->token_id) {
                w = put_lit(w, end, " token=");
                w = put_esc(w, end, e->token_id, 32, false);
            }
        }
    }
    *w++ = '\n';
    emit(buf, (size_t)(w - buf), false);
}

void log_access(const char *request_id, const char *client, const char *method, const char *path,
                int status, int64_t duration_us)
{
    struct access_entry e = {.request_id = request_id,
                             .client = client,
                             .method = method,
                             .path = path,
                             .status = status,
                             .duration_us = duration_us};
    log_access_entry(&e);
}
