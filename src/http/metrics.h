/* Process-wide counters for GET /metrics (Prometheus text format): requests by
 * route and status with a latency histogram, and credential verifications by
 * outcome. Lock-free atomics: safe and cheap from any thread. */
#ifndef TESSERA_METRICS_H
#define TESSERA_METRICS_H

#include <stdint.h>

#include "auth/auth.h"

struct route_metrics;

/* A counter block for one route pattern; lives until exit. NULL on ENOMEM. */
struct route_metrics *metrics_route(const char *method, const char *pattern);
void metrics_observe(struct route_metrics *m, int status, int64_t duration_us);
void metrics_count_verification(enum auth_result outcome);
/* Renders every metric; extra (may be NULL) is appended verbatim. Returns a
 * malloc'd string. */
char *metrics_render(const char *extra);

#endif
