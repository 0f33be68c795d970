/* One signed webhook POST. The receiver checks the signature header
 *   X-Tessera-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 * (the time is signed with the body, so an old delivery cannot be replayed
 * later as new), and de-duplicates retries by X-Tessera-Delivery. Any
 * thread. */
#ifndef TESSERA_NOTIFY_WEBHOOK_H
#define TESSERA_NOTIFY_WEBHOOK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define WEBHOOK_SIGNATURE_LEN 96 /* "t=" 20 digits ",v1=" 64 hex, NUL */
#define WEBHOOK_TIMEOUT_MS 10000

/* The signature header's value for body sent at unix time t. 0 or
 * -errno. */
int webhook_sign(const char *secret, int64_t t, const char *body, char out[WEBHOOK_SIGNATURE_LEN]);

/* Posts body (JSON) to url with the event name and delivery id, giving up
 * after WEBHOOK_TIMEOUT_MS or as soon as *cancel (may be NULL) is set. 0
 * when the receiver answered 2xx; else -1 with what went wrong in err (the
 * status or the transport error; never the secret). Redirects are not
 * followed. */
int webhook_post(const char *url, const char *secret, const char *event, const char *delivery_id,
                 const char *body, const atomic_bool *cancel, char *err, size_t errlen);

#endif
