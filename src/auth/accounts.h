/* Account life cycle shared by the HTTP API and the CLI: creation (username
 * derivation, default groups and scopes, Argon2id hash, the default public
 * token), password changes and deactivation (which end every session), and
 * the user JSON object. Slow: call from the worker pool or the CLI. */
#ifndef TESSERA_ACCOUNTS_H
#define TESSERA_ACCOUNTS_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "auth/audit.h"
#include "store/store.h"

struct app;

struct account_input {
    const char *email;
    const char *password;
    const char *username;     /* NULL: derived from the e-mail */
    const char *first_name;
    const char *last_name;
    const char *organization;
    /* A service account: no password (it cannot sign in), tokens only,
     * created by an operator. password is then ignored. */
    bool service;
};

/* Validates and creates an account. On a validation failure returns -EINVAL
 * (or -EEXIST for a taken e-mail / -EADDRINUSE for a taken username) and
 * names the offending field in *field with a message in msg. out is filled on
 * success (caller frees with account_free). */
int accounts_create(struct app *app, const struct account_input *in, struct account *out,
                    const char **field, char *msg, size_t msglen);
/* Sets a new password hash and ends every session of the account. Returns
 * only once a session started afterwards is valid (waits up to 1 s).
 * Audited with who (as are the other changes below). */
int accounts_set_password(struct app *app, struct account *a, const char *password,
                          const struct audit_who *who);
/* Ends every session of the account (sign out everywhere): access JWTs
 * issued until now die, refresh families are revoked. Waits as above. */
int accounts_end_sessions(struct app *app, struct account *a, const struct audit_who *who);
/* Deactivates the account and ends every session and every token, its
 * default pk included, each recorded as a revocation (SPEC §5.3: ended
 * stays ended). Waits up to 1 s, as accounts_set_password does. */
int accounts_deactivate(struct app *app, struct account *a, const struct audit_who *who);
/* Enables the account again. Its old tokens stay ended: any still live
 * (from before deactivation ended tokens) are revoked first, audited. It
 * gets a new default pk. Call only for an inactive account. */
int accounts_activate(struct app *app, struct account *a, const struct audit_who *who);
/* True for a plausible e-mail address (one '@', non-empty parts, a dot in
 * the domain, no spaces or control characters, ≤ 254 bytes). */
bool accounts_email_valid(const char *email);
bool accounts_username_valid(const char *username);
/* True for a service account (no password: it holds tokens only). */
bool accounts_is_service(const struct account *a);
/* The user object of SPEC §4.1 (never the password hash), with "service",
 * written into o; account is a const struct account * (the signature
 * api_reply_written takes). */
struct json_out;
void accounts_write_json(struct json_out *o, const void *account);

#endif
