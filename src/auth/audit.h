/* The audit trail's writer: who did what to which account or token, from
 * where, never with a secret. Events are copied, cleaned (printable ASCII,
 * cut to their field) and queued; a background thread writes them in batches
 * off the request path (serving), or each is written at once (CLI). A
 * revocation is written before it is acknowledged (audit_log_now). The
 * writer also prunes events older than the retention setting, daily.
 * Threading: audit_log / audit_log_now from any thread. */
#ifndef TESSERA_AUDIT_H
#define TESSERA_AUDIT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

struct store;
struct audit;
struct audit_event;

/* Event kinds, as stored and shown. */
#define AUDIT_REGISTER "account.register"
#define AUDIT_SIGNIN "signin"
#define AUDIT_SIGNIN_FAILED "signin.failed"
#define AUDIT_SIGNOUT "signout"
#define AUDIT_THROTTLED "throttled"
#define AUDIT_TOKEN_CREATE "token.create"
#define AUDIT_TOKEN_TEMPORARY "token.temporary"
#define AUDIT_TOKEN_UPDATE "token.update"
#define AUDIT_TOKEN_ROTATE "token.rotate"
#define AUDIT_TOKEN_REVOKE "token.revoke"
#define AUDIT_TOKEN_LEAK "token.leak_reported" /* detail: outcome, source and URL */
#define AUDIT_ACCOUNT_UPDATE "account.update"
#define AUDIT_ACCOUNT_PASSWORD "account.password"
#define AUDIT_ACCOUNT_DISABLE "account.disable"
#define AUDIT_ACCOUNT_ENABLE "account.enable"

/* Who acted, and from where (any field may be NULL). */
struct audit_who {
    const char *actor;      /* "session", "token:ID", "cli", "anonymous", ... */
    const char *client;     /* client address */
    const char *user_agent;
    const char *request_id;
};

/* The command line: actor "cli", no address. */
extern const struct audit_who audit_cli;

/* background: a writer thread (serving); else every event is written at
 * once. retention_days 0 keeps events forever. NULL when out of memory. */
struct audit *audit_open(struct store *st, int retention_days, bool background);
/* Writes what is queued and stops the thread. NULL is a no-op. */
void audit_close(struct audit *a);

/* Queues one event (never fails the caller; a queue full of unwritten
 * events drops the oldest, counted in the log). a NULL is a no-op. */
void audit_log(struct audit *a, const char *kind, int64_t account_id, const char *token_id,
               const struct audit_who *who, const char *detail);
/* Writes the event now, with everything queued before it: 0, or -errno
 * (the event then stays queued for the writer to retry). */
int audit_log_now(struct audit *a, const char *kind, int64_t account_id, const char *token_id,
                  const struct audit_who *who, const char *detail);

/* An event as JSON (the API's and `tessera audit --json`'s shape): id, at,
 * kind, actor, account_id, token_id (null when none), client, user_agent,
 * request_id, detail. */
cJSON *audit_event_json(const struct audit_event *e);

#endif
