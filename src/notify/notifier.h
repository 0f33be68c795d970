/* The serving node's notice thread: every notice_scan_interval it makes the
 * expiry notices that are due (notices_scan), and every second it posts the
 * webhook deliveries that are due, each claimed so one node posts it,
 * retried with doubling delays from webhook_retry_seconds on until
 * webhook_max_attempts. Delivery is at least once: a node that dies
 * mid-post leaves it to another after the claim's lease; receivers
 * de-duplicate by X-Tessera-Delivery. */
#ifndef TESSERA_NOTIFY_NOTIFIER_H
#define TESSERA_NOTIFY_NOTIFIER_H

#include <stdint.h>

struct app;
struct notifier;

/* NULL on failure (logged): webhook_url without webhook_secret, or no
 * thread. */
struct notifier *notifier_start(struct app *app);
/* Stops the thread (an unfinished post is abandoned and retried later). */
void notifier_stop(struct notifier *n);

/* The delay before attempt number `attempts + 1`, given that `attempts`
 * failed: base_s, doubling, at most a day, spread by up to a tenth so
 * deliveries that failed together do not retry together. */
int64_t notifier_backoff_ms(unsigned base_s, int attempts);

#endif
