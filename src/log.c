/* Line-oriented logging to stderr. Each line is formatted into a local buffer
 * and written with a single write(2), so lines from concurrent threads never
 * interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "timeutil.h"

static enum log_level min_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
    min_level = level;
}

static void write_line(char *buf, size_t len, size_t cap)
{
    if (len >= cap - 1)
        len = cap - 2;
    buf[len++] = '\n';
    ssize_t rc = write(STDERR_FILENO, buf, len);
    (void)rc; /* nothing sensible to do when stderr is gone */
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level < min_level)
        return;
    char buf[2048], ts[TIME_RFC3339_LEN];
    time_format_rfc3339(time_now_ms(), ts);
    int n = snprintf(buf, sizeof(buf), "%s %s ", ts, level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m > 0 ? (size_t)m : 0);
    write_line(buf, len < sizeof(buf) ? len : sizeof(buf) - 1, sizeof(buf));
}

void log_access(const char *request_id, const char *client, const char *method, const char *path,
                int status, int64_t duration_us)
{
    if (LOG_INFO < min_level)
        return;
    char buf[1024], ts[TIME_RFC3339_LEN];
    time_format_rfc3339(time_now_ms(), ts);
    /* The path is printed with %.512s so a hostile URL cannot flood the log. */
    int n = snprintf(buf, sizeof(buf), "%s access id=%s client=%s %s %.512s %d %lldus", ts,
                     request_id, client, method, path, status, (long long)duration_us);
    if (n < 0)
        return;
    write_line(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1, sizeof(buf));
}
