/* Fixed-window rate limits for sign-in attempts and token API calls, per
 * minute by default (the window is the rate_window setting). Keys are hashed
 * into a bounded table, so memory stays fixed however many clients there
 * are. Thread-safe (striped locks). */
#ifndef TESSERA_RATELIMIT_H
#define TESSERA_RATELIMIT_H

#include <stdint.h>

struct app;
struct ratelimit;

struct ratelimit *ratelimit_create(void);
void ratelimit_destroy(struct ratelimit *rl);
/* Counts one hit for key; returns 0 when within limit per window_s, else
 * the seconds until the window resets. limit 0 = unlimited. */
int ratelimit_hit(struct ratelimit *rl, const char *key, unsigned limit, int window_s);

/* Sign-in attempt for e-mail (case-insensitive) from addr: the limits per
 * (account, address), per account (hourly, all addresses) and per address
 * apply. The counters live in the store, shared by every process on it.
 * Returns 0 or the seconds to wait. */
int ratelimit_login(struct app *app, const char *email, const char *addr);
/* Registration from addr (register_rate_addr per window). */
int ratelimit_register(struct app *app, const char *addr);
/* Token API call by account (Mapbox: 100 per minute by default). */
int ratelimit_token_api(struct app *app, int64_t account_id);

#endif
