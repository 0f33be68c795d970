/* Process-wide counters for GET /metrics (Prometheus text format): requests by
 * route and status with a latency histogram up to 10 s, credential
 * verifications by outcome, throttling by limit, webhook deliveries and the
 * process_* metrics. Lock-free atomics: safe and cheap from any thread. */
#ifndef TESSERA_METRICS_H
#define TESSERA_METRICS_H

#include <stdint.h>

#include "auth/auth.h"

struct route_metrics;

/* A counter block for one route pattern; lives until exit. NULL on ENOMEM. */
struct route_metrics *metrics_route(const char *method, const char *pattern);
void metrics_observe(struct route_metrics *m, int status, int64_t duration_us);
void metrics_count_verification(enum auth_result outcome);
/* Requests refused with 429, by the limit that refused them. */
enum throttle_reason { THROTTLE_LOGIN_ACCOUNT, THROTTLE_LOGIN_ADDR, THROTTLE_TOKEN_API,
                       THROTTLE_REGISTER_ADDR, THROTTLE_REASONS };
void metrics_count_throttled(enum throttle_reason reason);
/* Webhook delivery attempts by outcome (notify/notifier.c). */
enum webhook_outcome { WEBHOOK_DELIVERED, WEBHOOK_RETRIED, WEBHOOK_FAILED, WEBHOOK_CANCELLED,
                       WEBHOOK_OUTCOMES };
void metrics_count_webhook(enum webhook_outcome outcome);
/* Renders every metric; extra (may be NULL) is appended verbatim. Returns a
 * malloc'd string, or NULL when out of memory. */
char *metrics_render(const char *extra);

#endif
