/* Credential verification shared by every protected endpoint: reads the
 * credential (Authorization: Bearer, or ?access_token=), verifies pk/sk/tk
 * tokens and session JWTs, and yields the principal with its effective scopes
 * (token scopes ∩ the account's current granted scopes) and groups.
 * Thread-safe; never logs a credential. */
#ifndef TESSERA_AUTH_H
#define TESSERA_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "util/strlist.h"
#include "auth/token.h"

struct app;
struct request;

enum auth_result {
    AUTH_OK,
    AUTH_NONE,      /* no credential at all */
    AUTH_MALFORMED, /* not a token of any kind we issue */
    AUTH_INVALID,   /* well-formed but unknown / wrong secret / bad MAC */
    AUTH_EXPIRED,
    AUTH_REVOKED,   /* revoked token, parent gone, logged-out session, inactive account */
    AUTH_UNAVAILABLE, /* this node cannot tell now (its lease on the database ran out): 503 */
};

enum principal_kind { PRINCIPAL_PK, PRINCIPAL_SK, PRINCIPAL_TK, PRINCIPAL_SESSION };

struct principal {
    enum principal_kind kind;
    int64_t account_id;
    char username[TOKEN_USERNAME_MAX + 1];
    char token_id[TOKEN_ID_LEN + 1]; /* pk/sk: its id; tk: parent id ("" for session parent) */
    struct strlist scopes;       /* effective scopes */
    struct strlist token_scopes; /* scopes as issued on the credential */
    struct strlist groups;
    struct strlist allowed_urls; /* pk/sk only */
    /* Resource bounds (auth/resources.h): what the credential may reach;
     * empty = unrestricted (always for a session). */
    struct strlist resources;
    bool is_staff;
    int64_t created;  /* ms */
    int64_t expires;  /* ms, 0 = never */
    char jti[33];     /* session only */
    struct listblock *lists; /* what the lists above view, when shared (auth/listcache.h) */
};

/* The presented credential (Bearer header wins over the query), or NULL. A
 * non-Bearer Authorization header yields "" (present but malformed). */
const char *auth_credential(const struct request *r);
/* Verifies credential; fills out on AUTH_OK and, as far as known, on
 * AUTH_EXPIRED / AUTH_REVOKED (for GET /tokens/v2). Always call
 * principal_free afterwards. */
enum auth_result auth_verify(struct app *app, const char *credential, struct principal *out);
/* The principal of the stored token token_id for a request it signed (a
 * signed URL, auth/signedurl.h, whose signature the caller checked): AUTH_OK
 * while the token lives (not revoked, expired or rotated away, its account
 * active), else as auth_verify. Always call principal_free afterwards. */
enum auth_result auth_verify_signer(struct app *app, const char *token_id, struct principal *out);
bool principal_has_scope(const struct principal *p, const char *scope);
/* False when a token's marker ("" = none: made before markers) names
 * another deployment: such a token is not ours, whatever else it holds. */
bool auth_instance_ours(const struct app *app, const char *instance);
/* allowedUrls check for a pk/sk: true when the token has no restriction, or
 * the request has no Origin/Referer, or one of them matches an allowed URL. */
bool auth_origin_allowed(const struct principal *p, const struct request *r);
void principal_free(struct principal *p);
const char *auth_result_name(enum auth_result r); /* "TokenValid", "TokenMalformed", ... */

#endif
