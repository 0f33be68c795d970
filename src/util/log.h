/* Logging to stderr, one line per event, safe from any thread. Callers must
 * never pass credentials: the access log takes the path without its query
 * string for exactly that reason. */
#ifndef TESSERA_LOG_H
#define TESSERA_LOG_H

#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
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
 * segments that look like tokens or JWTs are written as <redacted>. */
void log_access(const char *request_id, const char *client, const char *method, const char *path,
                int status, int64_t duration_us);

#endif
