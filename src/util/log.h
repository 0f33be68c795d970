/* Logging to stderr, one line per event, safe from any thread. Callers must
 * never pass credentials: the access log takes the path without its query
 * string for exactly that reason. */
#ifndef TESSERA_LOG_H
#define TESSERA_LOG_H

#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
/* text (default): "TIME LEVEL message"; json: one JSON object per line. */
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };
void log_set_format(enum log_format format);
/* Starts the background flusher (serve only): info lines are then written
 * within 50 ms instead of one write per line. 0 or -errno. */
int log_start_flusher(void);
/* Stops the flusher and writes everything buffered. */
void log_stop_flusher(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
/* One access-log line. path must not contain the query string; path
 * segments that look like tokens or JWTs are written as <redacted>, and
 * every byte outside printable ASCII is escaped (\xHH, or \u00HH in JSON),
 * so no request can forge or split a line. Never pass a credential. */
struct access_entry {
    const char *request_id, *client, *method, *path;
    const char *route; /* the matched pattern, or NULL */
    int status;
    int64_t duration_us;
    uint64_t bytes;       /* response body */
    int64_t account_id;   /* 0 = none */
    const char *token_id; /* the public id of the token used, or NULL */
};
void log_access_entry(const struct access_entry *e);
/* The short form: no route, bytes or principal. */
void log_access(const char *request_id, const char *client, const char *method, const char *path,
                int status, int64_t duration_us);

#endif
