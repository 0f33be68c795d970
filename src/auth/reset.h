/* Password reset by a one-time link (issue 14). A request mails the
 * account's address a link to the reset page carrying a random secret in
 * its fragment (kept out of server and proxy logs); only a keyed hash of
 * the secret is stored. Using it sets the new password, ends every session
 * and spends every other link of the account. Slow (mail, Argon2id): call
 * from a worker or the CLI. */
#ifndef TESSERA_RESET_H
#define TESSERA_RESET_H

#include "auth/audit.h"

struct app;

#define AUDIT_RESET_REQUEST "password.reset.request"

/* Mails a reset link for the active, password-holding account with that
 * e-mail, if there is one; base is where the link points (e.g.
 * https://tokens.example.com). 0 also when there is none (the caller must
 * answer alike); -EIO when the link could not be stored or sent (logged). */
int reset_request(struct app *app, const char *email, const char *base,
                  const struct audit_who *who);

/* Sets password for the account the link's secret belongs to. The caller
 * checked the password's strength. 0; -ENOENT (unknown secret), -EPERM
 * (used or expired), -EACCES (the account is disabled or a service
 * account), or -EIO. */
int reset_confirm(struct app *app, const char *secret, const char *password,
                  const struct audit_who *who);

#endif
