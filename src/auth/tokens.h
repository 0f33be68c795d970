/* Token minting and presentation shared by both API dialects and the CLI:
 * creating stored pk/sk tokens (random id and secret, keyed hash at rest),
 * signing temporary tk tokens, checking requested scopes against the scope
 * registry, and the Mapbox-style token JSON object. Thread-safe. */
#ifndef TESSERA_TOKENS_H
#define TESSERA_TOKENS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth/audit.h"
#include "store/store.h"

struct app;

struct token_spec {
    const struct strlist *scopes;
    const char *note;
    const struct strlist *allowed_urls; /* may be NULL */
    const struct strlist *resources;    /* may be NULL: unrestricted */
    int64_t expires_at;                 /* ms, 0 = never */
    bool is_default;
    int usage;                          /* -1: pk when every scope is public, else sk */
};

/* The one rule for a token's scopes: every one registered, and all inside
 * ceiling (the account's grants, or the authorizing credential's effective
 * scopes, which never exceed them: SPEC §5 rules 1-2). 0, -EINVAL (an
 * unknown scope) or -EPERM (one outside the ceiling); *all_public is set
 * when each is public (a pk, else an sk). */
int tokens_check_scopes(struct app *app, const struct strlist *scopes,
                        const struct strlist *ceiling, bool *all_public);
/* The one rule for a token's resource bounds (auth/resources.h), for every
 * kind and every way in: each entry well-formed (the list is normalized in
 * place) and the whole within ceiling, the bounds of the credential that
 * authorizes it (empty: unrestricted, e.g. a session). 0, -EINVAL (msg names
 * the bad entry) or -EPERM (msg says the bounds are wider). */
int tokens_check_resources(struct strlist *resources, const struct strlist *ceiling, char *msg,
                           size_t msglen);
/* The expiry rules for stored tokens: *expires_at (ms, 0 = none) must lie
 * ahead, at most max_token_days away; with token_max_lifetime_days set it is
 * also at most that far, and "none" becomes exactly that far (the account's
 * default public token is exempt: is_default). 0, or -EINVAL with a message
 * for the API's 422 in msg. */
int tokens_check_expiry(struct app *app, int64_t *expires_at, bool is_default, char *msg,
                        size_t msglen);
/* True when a token expires within expiry_warning_days from now. */
bool tokens_expiring_soon(struct app *app, int64_t expires_at);
/* Mints a token for the account named username without storing it: out is
 * the record to store (account_id left 0), *token_out the token string
 * (caller wipes and frees). Returns 0, -EINVAL for unknown scopes (usage -1)
 * or -ENOMEM. */
int tokens_prepare(struct app *app, const char *username, const struct token_spec *spec,
                   struct token_record *out, char **token_out);
/* Creates and stores a token for account a, whose grants bound its scopes
 * (tokens_check_scopes: -EINVAL / -EPERM) and whose expiry follows
 * tokens_check_expiry (-ERANGE; the caller checked it to say why). On
 * success *token_out is the
 * malloc'd token string (caller wipes and frees) and out the stored record
 * (caller frees with token_record_free). Returns 0 or -errno. */
int tokens_create(struct app *app, const struct account *a, const struct token_spec *spec,
                  struct token_record *out, char **token_out);
/* Rotates the live token id of account a: a new token (new id and secret;
 * the same name, scopes, allowed URLs, resources, expiry and default flag) replaces
 * it, and the old one keeps working for grace_ms, then counts as revoked.
 * On success *token_out is the new token string (caller wipes and frees)
 * and out the new record (token_record_free). -ENOENT (no such live,
 * unrotated, unexpired token of a), -EPERM (its scopes are no longer all
 * granted to a), or -errno from the store. Audited (before it returns) and
 * logged. */
int tokens_rotate(struct app *app, const struct account *a, const char *id, int64_t grace_ms,
                  const struct audit_who *who, struct token_record *out, char **token_out);
/* Revokes the live token id, written once for every way in (both API
 * dialects, RFC 7009, the CLI). owner >= 0: only a token of that account
 * (another account's id is -ENOENT, like an unknown one); owner < 0: whoever
 * owns it (the operator). Audits the revocation before returning, with who,
 * and logs it (never a secret). On PostgreSQL it returns once every live
 * node has applied it. 0, -ENOENT, -EPERM (the account's default public
 * token: rotate it instead) or -EIO. */
int tokens_revoke(struct app *app, const char *id, int64_t owner, const struct audit_who *who);
/* The stored token that the presented pk/sk string is, its secret checked
 * against the keyed hash (knowing an id is not enough): 0 with out filled
 * (revoked, rotated and expired ones too; caller frees with
 * token_record_free), -EINVAL when the string is no pk/sk token of ours in
 * shape, -EXDEV when its marker names another deployment, -ENOENT when no
 * stored token has that id, usage and secret, -EIO. */
int tokens_find_presented(struct app *app, const char *token, struct token_record *out);
/* Revokes the temporary token tk of account account_id, which would end at
 * expires_at (ms) anyway: recorded by the id of its MAC, refused by every
 * node from then on, audited as a token.revoke with who. The caller has
 * verified tk. 0, -EEXIST (already revoked), -EINVAL (not a tk) or -EIO. */
int tokens_revoke_temp(struct app *app, const char *tk, int64_t account_id, int64_t expires_at,
                       const struct audit_who *who);
/* False for a token that is gone for its owner although its row is live: a
 * rotated-away token past its grace period. Listings skip those. */
bool tokens_listed(const struct token_record *t);
/* Stored last-use times lag by up to last_used_interval: this node's own
 * newer ones (from its token index, when serving) replace them in v. */
void tokens_merge_last_used(struct app *app, struct token_record *v, size_t n);
/* Revokes every live token of the account but its default public token
 * (each audited as a token.revoke); *revoked counts them. 0 or -errno (some may
 * be revoked by then). */
int tokens_revoke_all(struct app *app, int64_t account_id, const struct audit_who *who,
                      size_t *revoked);
/* The same, the default pk included when with_default: what deactivating an
 * account does (and only that: elsewhere the default pk is rotated, not
 * ended), so its tokens stay ended when it is enabled again (SPEC §5.3). */
int tokens_revoke_matching(struct app *app, int64_t account_id, bool with_default,
                           const struct audit_who *who, size_t *revoked);
/* The Mapbox token object (SPEC §4.2), plus Tessera's last_used (null =
 * never), expires (when set) and expiring_soon. token_value is included
 * when non-NULL. */
cJSON *tokens_to_json(struct app *app, const struct token_record *t, const char *token_value);

#endif
