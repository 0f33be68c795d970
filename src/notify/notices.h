/* Expiry notices: what tells a token's owner that it expires soon (within
 * expiry_warning_days) or has expired. Each node scans for them now and
 * then (notifier.c); the store keeps one per (token, kind, expiry), shows
 * them to the account (GET /api/v1/account/notices, the pages' banner)
 * until dismissed, and queues their webhook delivery. Thread-safe. */
#ifndef TESSERA_NOTIFY_NOTICES_H
#define TESSERA_NOTIFY_NOTICES_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct app;

#define NOTICE_TOKEN_EXPIRING "token.expiring"
#define NOTICE_TOKEN_EXPIRED "token.expired"

/* One scan at time now: a notice for every token expiring within the
 * warning days, and for every one that expired within the last week (a
 * node that was down still tells), unless it has one. Returns how many
 * were made, or -errno. */
int notices_scan(struct app *app, int64_t now);

/* The account's notices to show, newest first, as a JSON array (an
 * expired notice stands in for the same expiry's warning). 0 or -errno. */
int notices_list_json(struct app *app, int64_t account_id, int64_t now, cJSON **out);

/* The webhook body for a claimed notice (malloc'd JSON: the event, the
 * account's id, e-mail and username, the token's id, name, kind, scopes
 * and expiry, never its secret). NULL with *gone set when the token was
 * revoked, rotated or re-dated since (the delivery is moot), or on ENOMEM
 * / a store failure with *gone clear. */
char *notices_webhook_body(struct app *app, const struct notice *n, int64_t now, bool *gone);

#endif
