/* Carbon Mapper style account and session endpoints under /api/v1/:
 * register, me, and the JWT session pair (token/pair, refresh, verify,
 * blacklist). Handlers that hash passwords or write run with ROUTE_OFFLOAD on
 * the worker pool; me and verify are reads and run on the HTTP thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/accounts.h"
#include "api/api.h"
#include "app.h"
#include "util/json.h"
#include "auth/jwt.h"
#include "auth/password.h"
#include "auth/tokens.h"
#include "api/ratelimit.h"
#include "http/server.h"
#include "notify/notices.h"
#include "auth/reset.h"
#include "api/baseurl.h"
#include "store/store.h"
#include "util/timeutil.h"

/* 400 {"errors": {field: [msg]}} — the registration form's error shape. */
static void reply_form_error(struct request *r, const char *field, const char *msg)
{
    cJSON *body = cJSON_CreateObject();
    cJSON *errors = cJSON_AddObjectToObject(body, "errors");
    cJSON *list = cJSON_AddArrayToObject(errors, field ? field : "__all__");
    cJSON_AddItemToArray(list, cJSON_CreateString(msg));
    reply_json(r, 400, body);
}

static void handle_register(struct request *r)
{
    /* Per client address, before any work: account creation costs an
     * Argon2id hash and a row, and sign-up floods fill the store. */
    int retry_after = ratelimit_register(request_app(r), request_client_addr(r));
    if (retry_after > 0) {
        char secs[16];
        snprintf(secs, sizeof(secs), "%d", retry_after);
        reply_header(r, "Retry-After", secs);
        api_reply_error(r, 429, "Too many registrations from this address; try again later",
                        "throttled");
        return;
    }
    cJSON *body = api_parse_body(r);
    if (!body)
        return;
    bool wrong = false;
    struct account_input in = {
        .email = api_json_string(body, "email", &wrong),
        .password = api_json_string(body, "password", &wrong),
        .username = api_json_string(body, "username", &wrong),
        .first_name = api_json_string(body, "first_name", &wrong),
        .last_name = api_json_string(body, "last_name", &wrong),
        .organization = api_json_string(body, "organization", &wrong),
    };
    const char *password1 = api_json_string(body, "password1", &wrong);
    const char *password2 = api_json_string(body, "password2", &wrong);
    if (wrong) {
        api_reply_validation(r, NULL, "Every field must be a string", "type_error.str");
        goto out;
    }
    if (!in.password && password1) {
        if (!password2 || strcmp(password1, password2) != 0) {
            reply_form_error(r, "password2", "The two password fields didn't match.");
            goto out;
        }
        in.password = password1;
    }
    struct account a;
    const char *field;
    char msg[256];
    int rc = accounts_create(request_app(r), &in, &a, &field, msg, sizeof(msg));
    if (rc == -EINVAL || rc == -EEXIST || rc == -EADDRINUSE) {
        reply_form_error(r, field, msg);
        goto out;
    }
    if (rc < 0) {
        api_reply_error(r, 500, "Could not create the account", "internal_error");
        goto out;
    }
    api_reply_written(r, 201, accounts_write_json, &a);
    struct api_who who;
    api_who(r, NULL, &who);
    audit_log(request_app(r)->audit, AUDIT_REGISTER, a.id, NULL, &who.who, NULL);
    account_free(&a);
out:
    cJSON_Delete(body);
}

static void handle_me(struct request *r)
{
    struct principal p;
    if (!api_authenticate_session(r, &p)) {
        principal_free(&p);
        return;
    }
    struct app *app = request_app(r);
    /* Zeroed: the store leaves it untouched on failure, and it is freed
     * either way. */
    struct account a = {0};
    if (app->store->ops->account_get_by_id(app->store, p.account_id, &a) < 0)
        api_reply_not_found(r, "Account not found");
    else
        api_reply_written(r, 200, accounts_write_json, &a);
    account_free(&a);
    principal_free(&p);
}

/* Signs a JWT for a; type, jti and family filled by the caller. */
static char *sign_session_jwt(struct app *app, const struct account *a, enum jwt_type type,
                              const char *jti, const char *family, int64_t now_s)
{
    struct jwt_claims c = {0};
    c.type = type;
    c.iat = now_s;
    c.exp = now_s + (type == JWT_ACCESS ? app->cfg.access_ttl : app->cfg.refresh_ttl);
    snprintf(c.jti, sizeof(c.jti), "%s", jti);
    snprintf(c.family, sizeof(c.family), "%s", family);
    c.user_id = a->id;
    snprintf(c.username, sizeof(c.username), "%s", a->username);
    char *token = NULL;
    if (strlist_copy(&c.scopes, &a->scopes) == 0 && strlist_copy(&c.groups, &a->groups) == 0)
        token = jwt_sign(app->jwt_key, &c);
    jwt_claims_free(&c);
    return token;
}

/* Issues a new access + refresh pair. family NULL starts a new session
 * family (sign-in); otherwise the pair continues a rotation, and the refresh
 * record was already written by refresh_rotate. */
static int issue_pair(struct app *app, const struct account *a, const char *family,
                      struct refresh_record *next, char **access, char **refresh)
{
    int64_t now_s = time_now_ms() / 1000;
    char access_jti[JWT_JTI_LEN + 1];
    jwt_new_jti(access_jti);
    jwt_new_jti(next->jti);
    if (family)
        snprintf(next->family, sizeof(next->family), "%s", family);
    else
        jwt_new_jti(next->family);
    next->account_id = a->id;
    next->expires_at = (now_s + app->cfg.refresh_ttl) * 1000;
    *access = sign_session_jwt(app, a, JWT_ACCESS, access_jti, next->family, now_s);
    *refresh = sign_session_jwt(app, a, JWT_REFRESH, next->jti, next->family, now_s);
    if (!*access || !*refresh) {
        free(*access);
        free(*refresh);
        return -ENOMEM;
    }
    return 0;
}

static void reply_missing_fields(struct request *r, const char *fields)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "Field required: %s", fields);
    api_reply_error(r, 400, msg, "invalid_request");
}

/* Parses a body whose one required field is a token string. On failure
 * replies (400) and returns NULL; else *token points into the returned body. */
static cJSON *parse_token_body(struct request *r, const char *field, const char **token)
{
    cJSON *body = api_parse_body(r);
    if (!body)
        return NULL;
    bool wrong = false;
    *token = api_json_string(body, field, &wrong);
    if (wrong || !*token) {
        reply_missing_fields(r, field);
        cJSON_Delete(body);
        return NULL;
    }
    return body;
}

/* Sign-in and password-reset requests share the sign-in throttles (per
 * e-mail and per client address): when over, replies 429 with Retry-After,
 * audits it and returns true. */
static bool login_throttled(struct request *r, const char *email, const struct api_who *who,
                            const char *what)
{
    struct app *app = request_app(r);
    int retry_after = ratelimit_login(app, email, request_client_addr(r));
    if (retry_after <= 0)
        return false;
    audit_log(app->audit, AUDIT_THROTTLED, 0, NULL, &who->who, what);
    char secs[16], msg[96];
    snprintf(secs, sizeof(secs), "%d", retry_after);
    snprintf(msg, sizeof(msg), "Too many %s attempts; try again later", what);
    reply_header(r, "Retry-After", secs);
    api_reply_error(r, 429, msg, "throttled");
    return true;
}

static void handle_pair(struct request *r)
{
    struct app *app = request_app(r);
    cJSON *body = api_parse_body(r);
    if (!body)
        return;
    bool wrong = false;
    const char *email = api_json_string(body, "email", &wrong);
    const char *password = api_json_string(body, "password", &wrong);
    struct account a = {0};
    char *access = NULL, *refresh = NULL;
    if (wrong || !email || !password) {
        reply_missing_fields(r, "email and password must both be strings");
        goto out;
    }
    struct api_who who;
    api_who(r, NULL, &who);
    if (login_throttled(r, email, &who, "sign-in"))
        goto out;
    bool found = app->store->ops->account_get_by_email(app->store, email, &a) == 0;
    /* Unknown e-mails pay for a hash too, so timing does not reveal them. */
    bool ok = found ? password_verify(password, a.password_hash) : (password_verify_dummy(password), false);
    if (!ok || !a.is_active) {
        /* Kept under the account when there is one, so its owner sees the
         * attempts; never the password tried. */
        audit_log(app->audit, AUDIT_SIGNIN_FAILED, found ? a.id : 0, NULL, &who.who,
                  !found ? "unknown e-mail" : !ok ? "wrong password" : "account disabled");
        api_reply_error(r, 401, "No active account found with the given credentials",
                        "authentication_failed");
        goto out;
    }
    struct refresh_record next;
    if (issue_pair(app, &a, NULL, &next, &access, &refresh) < 0 ||
        app->store->ops->refresh_insert(app->store, &next) < 0) {
        api_reply_error(r, 500, "Could not start a session", "internal_error");
        goto out;
    }
    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "refresh", refresh);
    cJSON_AddStringToObject(res, "access", access);
    char *groups = strlist_join(&a.groups, " ");
    cJSON_AddStringToObject(res, "groups", groups ? groups : "");
    free(groups);
    cJSON_AddItemToObject(res, "permissions", json_from_strlist(&a.scopes));
    reply_json(r, 200, res);
    snprintf(who.actor, sizeof(who.actor), "password");
    audit_log(app->audit, AUDIT_SIGNIN, a.id, NULL, &who.who, NULL);
out:
    free(access);
    free(refresh);
    account_free(&a);
    cJSON_Delete(body);
}

static void reply_token_not_valid(struct request *r, const char *detail)
{
    reply_header(r, "WWW-Authenticate", "Bearer realm=\"tessera\", error=\"invalid_token\"");
    api_reply_error(r, 401, detail, "token_not_valid");
}

/* Verifies a session JWT of the given type against its account: signature,
 * expiry, account active, not logged out since. Fills c and a on success. */
static bool session_jwt_ok(struct app *app, const char *token, int type, struct jwt_claims *c,
                           struct account *a)
{
    if (jwt_verify(app->jwt_key, token, c) < 0)
        return false;
    if ((type >= 0 && (int)c->type != type) || c->exp * 1000 <= time_now_ms())
        return false;
    if (app->store->ops->account_get_by_id(app->store, c->user_id, a) < 0)
        return false;
    return a->is_active && c->iat * 1000 >= a->sessions_valid_after;
}

static void handle_refresh(struct request *r)
{
    struct app *app = request_app(r);
    const char *token;
    cJSON *body = parse_token_body(r, "refresh", &token);
    if (!body)
        return;
    struct jwt_claims c = {0};
    struct account a = {0};
    char *access = NULL, *refresh = NULL;
    if (!session_jwt_ok(app, token, JWT_REFRESH, &c, &a)) {
        reply_token_not_valid(r, "Token is invalid or expired");
        goto out;
    }
    struct refresh_record next;
    if (issue_pair(app, &a, c.family, &next, &access, &refresh) < 0) {
        api_reply_error(r, 500, "Could not rotate the session", "internal_error");
        goto out;
    }
    int rc = app->store->ops->refresh_rotate(app->store, c.jti, &next);
    if (rc == -EPERM || rc == -ENOENT) {
        /* Re-use of a rotated refresh token: the whole family was revoked. */
        reply_token_not_valid(r, "Token is blacklisted");
        goto out;
    }
    if (rc < 0) {
        api_reply_error(r, 500, "Could not rotate the session", "internal_error");
        goto out;
    }
    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "refresh", refresh);
    cJSON_AddStringToObject(res, "access", access);
    reply_json(r, 200, res);
out:
    free(access);
    free(refresh);
    jwt_claims_free(&c);
    account_free(&a);
    cJSON_Delete(body);
}

static void handle_verify(struct request *r)
{
    struct app *app = request_app(r);
    const char *token;
    cJSON *body = parse_token_body(r, "token", &token);
    if (!body)
        return;
    struct jwt_claims c = {0};
    struct account a = {0};
    bool ok = session_jwt_ok(app, token, -1, &c, &a);
    if (ok && c.type == JWT_REFRESH) {
        struct refresh_record rec;
        ok = app->store->ops->refresh_check(app->store, c.jti, &rec) == 0;
    }
    if (ok)
        reply_json(r, 200, cJSON_CreateObject());
    else
        reply_token_not_valid(r, "Token is invalid or expired");
    jwt_claims_free(&c);
    account_free(&a);
    cJSON_Delete(body);
}

static void handle_blacklist(struct request *r)
{
    struct app *app = request_app(r);
    const char *token;
    cJSON *body = parse_token_body(r, "refresh", &token);
    if (!body)
        return;
    struct jwt_claims c = {0};
    /* A valid signature is enough: blacklisting an expired or already-used
     * refresh token still ends its family. */
    if (jwt_verify(app->jwt_key, token, &c) < 0 || c.type != JWT_REFRESH) {
        reply_token_not_valid(r, "Token is invalid or expired");
        goto out;
    }
    if (app->store->ops->refresh_revoke_family(app->store, c.family) < 0) {
        api_reply_error(r, 500, "Could not end the session", "internal_error");
        goto out;
    }
    reply_json(r, 200, cJSON_CreateObject());
    struct api_who who;
    api_who(r, NULL, &who);
    snprintf(who.actor, sizeof(who.actor), "session");
    audit_log(app->audit, AUDIT_SIGNOUT, c.user_id, NULL, &who.who, NULL);
out:
    jwt_claims_free(&c);
    cJSON_Delete(body);
}

/* ---- self-service -------------------------------------------------------- */

/* A self-service request: the caller's session, its account, the JSON body
 * when one is expected, and who acts, for the audit trail. */
struct self_call {
    struct principal p;
    struct account a;
    cJSON *body;
    struct api_who who;
};

/* Begins a self-service request. Replies and returns false on failure;
 * either way self_end frees what it holds. */
static bool self_begin(struct request *r, struct self_call *s, bool with_body)
{
    struct app *app = request_app(r);
    *s = (struct self_call){0};
    if (!api_authenticate_session(r, &s->p))
        return false;
    if (app->store->ops->account_get_by_id(app->store, s->p.account_id, &s->a) < 0) {
        api_reply_not_found(r, "Account not found");
        return false;
    }
    if (with_body && !(s->body = api_parse_body(r)))
        return false;
    api_who(r, &s->p, &s->who);
    return true;
}

static void self_end(struct self_call *s)
{
    cJSON_Delete(s->body);
    account_free(&s->a);
    principal_free(&s->p);
}

/* POST /api/v1/account/password {current_password, new_password}: every
 * session ends, and this one continues with the new pair in the reply. */
static void handle_password(struct request *r)
{
    struct app *app = request_app(r);
    struct self_call s;
    char *access = NULL, *refresh = NULL;
    if (!self_begin(r, &s, true))
        goto out;
    bool wrong = false;
    const char *current = api_json_string(s.body, "current_password", &wrong);
    const char *fresh = api_json_string(s.body, "new_password", &wrong);
    if (wrong || !current || !fresh) {
        api_reply_validation(r, !current ? "current_password" : "new_password",
                             "Both current_password and new_password are required strings",
                             "missing");
        goto out;
    }
    if (!password_verify(current, s.a.password_hash)) {
        api_reply_validation(r, "current_password", "The current password is not correct",
                             "invalid");
        goto out;
    }
    const char *weak = password_weakness(fresh);
    if (weak) {
        api_reply_validation(r, "new_password", weak, "password_too_weak");
        goto out;
    }
    struct refresh_record next;
    if (accounts_set_password(app, &s.a, fresh, &s.who.who) < 0 ||
        issue_pair(app, &s.a, NULL, &next, &access, &refresh) < 0 ||
        app->store->ops->refresh_insert(app->store, &next) < 0) {
        api_reply_error(r, 500, "Could not change the password", "internal_error");
        goto out;
    }
    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "refresh", refresh);
    cJSON_AddStringToObject(res, "access", access);
    reply_json(r, 200, res);
out:
    free(access);
    free(refresh);
    self_end(&s);
}

/* POST /api/v1/account/logout-all: every session of the account ends, this
 * one included (tokens are not sessions and keep working). */
static void handle_logout_all(struct request *r)
{
    struct self_call s;
    if (self_begin(r, &s, false)) {
        if (accounts_end_sessions(request_app(r), &s.a, &s.who.who) < 0)
            api_reply_error(r, 500, "Could not end the sessions", "internal_error");
        else
            reply_json(r, 204, NULL);
    }
    self_end(&s);
}

/* POST /api/v1/account/tokens/revoke-all: every token of the account but
 * its default public one (rotate that instead). */
static void handle_revoke_all(struct request *r)
{
    struct self_call s;
    if (!self_begin(r, &s, false))
        goto out;
    size_t revoked = 0;
    int rc = tokens_revoke_all(request_app(r), s.a.id, &s.who.who, &revoked);
    if (rc < 0) {
        api_reply_error(r, 500, "Could not revoke every token; some may be revoked",
                        "internal_error");
        goto out;
    }
    cJSON *res = cJSON_CreateObject();
    json_add_int(res, "revoked", (int64_t)revoked);
    reply_json(r, 200, res);
out:
    self_end(&s);
}

/* PATCH /api/v1/account/me {first_name, last_name, organization}. */
static void handle_me_patch(struct request *r)
{
    struct app *app = request_app(r);
    struct self_call s;
    if (!self_begin(r, &s, true))
        goto out;
    static const char *const fields[] = {"first_name", "last_name", "organization"};
    char *const targets[] = {s.a.first_name, s.a.last_name, s.a.organization};
    const char *values[3];
    for (size_t i = 0; i < 3; i++) {
        bool wrong = false;
        values[i] = api_json_string(s.body, fields[i], &wrong);
        if (wrong || (values[i] && strlen(values[i]) > ACCOUNT_NAME_MAX)) {
            char msg[96];
            snprintf(msg, sizeof(msg), "%s must be a string of at most %d bytes", fields[i],
                     ACCOUNT_NAME_MAX);
            api_reply_validation(r, fields[i], msg, "value_error");
            goto out;
        }
    }
    for (size_t i = 0; i < 3; i++)
        if (values[i])
            snprintf(targets[i], ACCOUNT_NAME_MAX + 1, "%s", values[i]);
    if (app->store->ops->account_update(app->store, &s.a) < 0) {
        api_reply_error(r, 500, "Could not update the account", "internal_error");
        goto out;
    }
    audit_log(app->audit, AUDIT_ACCOUNT_UPDATE, s.a.id, NULL, &s.who.who, "names or organization");
    api_reply_written(r, 200, accounts_write_json, &s.a);
out:
    self_end(&s);
}

#define AUDIT_PAGE_MAX 200

/* GET /api/v1/account/audit?limit=N&before=ID: the caller's own events,
 * newest first; "next" (and a Link header) continue below the last id. */
static void handle_audit(struct request *r)
{
    struct app *app = request_app(r);
    struct principal p;
    if (!api_authenticate(r, &p, NULL))
        goto out;
    if (p.kind != PRINCIPAL_SESSION && !principal_has_scope(&p, "tokens:read")) {
        api_reply_insufficient_scope(r, "tokens:read");
        goto out;
    }
    long long limit = 50, before = 0;
    const char *lv = request_query(r, "limit"), *bv = request_query(r, "before");
    char *end;
    if (lv && (limit = strtoll(lv, &end, 10), *end || limit < 1 || limit > AUDIT_PAGE_MAX)) {
        api_reply_validation(r, "limit", "limit must be a whole number from 1 to 200",
                             "value_error");
        goto out;
    }
    if (bv && (before = strtoll(bv, &end, 10), *end || before < 1)) {
        api_reply_validation(r, "before", "before must be an event id", "value_error");
        goto out;
    }
    struct audit_query q = {.account_id = p.account_id, .before_id = before,
                            .limit = (size_t)limit};
    struct audit_event *v = NULL;
    size_t n = 0;
    if (app->store->ops->audit_list(app->store, &q, &v, &n) < 0) {
        api_reply_error(r, 500, "Could not read the audit trail", "internal_error");
        goto out;
    }
    cJSON *res = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(res, "events");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, audit_event_json(&v[i]));
    if (n == (size_t)limit) {
        char next[160], link[200];
        snprintf(next, sizeof(next), "/api/v1/account/audit?limit=%lld&before=%lld", limit,
                 (long long)v[n - 1].id);
        snprintf(link, sizeof(link), "<%s>; rel=\"next\"", next);
        cJSON_AddStringToObject(res, "next", next);
        reply_header(r, "Link", link);
    } else {
        cJSON_AddNullToObject(res, "next");
    }
    free(v);
    reply_json(r, 200, res);
out:
    principal_free(&p);
}

/* POST /api/v1/account/password/reset {email}: mails a one-time reset link
 * when the address belongs to an active account; the answer is the same
 * either way, so it does not tell who has an account. Throttled like
 * sign-in, per address and per e-mail. */
static void handle_reset_request(struct request *r)
{
    struct app *app = request_app(r);
    cJSON *body = api_parse_body(r);
    if (!body)
        return;
    bool wrong = false;
    const char *email = api_json_string(body, "email", &wrong);
    if (wrong || !email || !accounts_email_valid(email)) {
        api_reply_validation(r, "email", "Enter a valid e-mail address", "value_error");
        goto out;
    }
    struct api_who who;
    api_who(r, NULL, &who);
    if (login_throttled(r, email, &who, "password reset"))
        goto out;
    char base[1100];
    request_public_base_url(r, base, sizeof(base));
    if (reset_request(app, email, base, &who.who) < 0) {
        api_reply_error(r, 503, "The reset link could not be sent; try again later",
                        "unavailable");
        goto out;
    }
    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "detail",
                            "If an account uses that e-mail address, a link to reset its "
                            "password is on its way.");
    reply_json(r, 202, res);
out:
    cJSON_Delete(body);
}

/* POST /api/v1/account/password/reset/confirm {token, new_password}: the
 * link's secret sets a new password and ends every session. */
static void handle_reset_confirm(struct request *r)
{
    struct app *app = request_app(r);
    cJSON *body = api_parse_body(r);
    if (!body)
        return;
    bool wrong = false;
    const char *secret = api_json_string(body, "token", &wrong);
    const char *fresh = api_json_string(body, "new_password", &wrong);
    const char *weak = wrong || !fresh ? "Enter a new password" : password_weakness(fresh);
    if (wrong || !secret) {
        reply_missing_fields(r, "token and new_password must both be strings");
        goto out;
    }
    if (weak) {
        api_reply_validation(r, "new_password", weak, "password_too_weak");
        goto out;
    }
    struct api_who who;
    api_who(r, NULL, &who);
    snprintf(who.actor, sizeof(who.actor), "reset link");
    int rc = reset_confirm(app, secret, fresh, &who.who);
    if (rc == -EIO) {
        api_reply_error(r, 500, "Could not change the password", "internal_error");
        goto out;
    }
    if (rc < 0) {
        api_reply_error(r, 400, "This reset link is not valid: it was used, it expired, or it "
                                "was mistyped. Ask for a new one.",
                        "invalid_reset_link");
        goto out;
    }
    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "detail", "Your password is changed; sign in with it.");
    reply_json(r, 200, res);
out:
    cJSON_Delete(body);
}

/* GET /api/v1/account/notices: the caller's expiry notices to show (the
 * pages' banner), newest first. */
static void handle_notices(struct request *r)
{
    struct app *app = request_app(r);
    struct principal p;
    if (!api_authenticate(r, &p, NULL))
        goto out;
    if (p.kind != PRINCIPAL_SESSION && !principal_has_scope(&p, "tokens:read")) {
        api_reply_insufficient_scope(r, "tokens:read");
        goto out;
    }
    cJSON *list;
    if (notices_list_json(app, p.account_id, time_now_ms(), &list) < 0) {
        api_reply_error(r, 500, "Could not read the notices", "internal_error");
        goto out;
    }
    cJSON *res = cJSON_CreateObject();
    cJSON_AddItemToObject(res, "notices", list);
    reply_json(r, 200, res);
out:
    principal_free(&p);
}

/* POST /api/v1/account/notices/{id}/dismiss: hides one of the caller's
 * notices (again: fine). */
static void handle_notice_dismiss(struct request *r)
{
    struct app *app = request_app(r);
    struct principal p;
    if (!api_authenticate(r, &p, NULL))
        goto out;
    if (p.kind != PRINCIPAL_SESSION && !principal_has_scope(&p, "tokens:write")) {
        api_reply_insufficient_scope(r, "tokens:write");
        goto out;
    }
    char *end;
    long long id = strtoll(request_param(r, 0), &end, 10);
    int rc = *end || id < 1 ? -ENOENT
                            : app->store->ops->notice_dismiss(app->store, id, p.account_id);
    if (rc == -ENOENT)
        api_reply_not_found(r, "No such notice");
    else if (rc < 0)
        api_reply_error(r, 500, "Could not dismiss the notice", "internal_error");
    else
        reply_json(r, 204, NULL);
out:
    principal_free(&p);
}

void api_account_register(struct server *srv)
{
    server_route(srv, "POST", "/api/v1/account/register", handle_register,
                 ROUTE_OFFLOAD | ROUTE_IDLE_CPU);
    server_route(srv, "GET", "/api/v1/account/me", handle_me, 0);
    server_route(srv, "POST", "/api/v1/token/pair", handle_pair, ROUTE_OFFLOAD | ROUTE_IDLE_CPU);
    server_route(srv, "POST", "/api/v1/token/refresh", handle_refresh, ROUTE_OFFLOAD);
    server_route(srv, "POST", "/api/v1/token/verify", handle_verify, 0);
    server_route(srv, "POST", "/api/v1/token/blacklist", handle_blacklist, ROUTE_OFFLOAD);
    server_route(srv, "GET", "/api/v1/account/audit", handle_audit, ROUTE_OFFLOAD);
    server_route(srv, "PATCH", "/api/v1/account/me", handle_me_patch, ROUTE_OFFLOAD);
    server_route(srv, "POST", "/api/v1/account/password", handle_password,
                 ROUTE_OFFLOAD | ROUTE_IDLE_CPU);
    server_route(srv, "POST", "/api/v1/account/logout-all", handle_logout_all, ROUTE_OFFLOAD);
    server_route(srv, "POST", "/api/v1/account/tokens/revoke-all", handle_revoke_all,
                 ROUTE_OFFLOAD);
    server_route(srv, "GET", "/api/v1/account/notices", handle_notices, ROUTE_OFFLOAD);
    server_route(srv, "POST", "/api/v1/account/password/reset", handle_reset_request,
                 ROUTE_OFFLOAD);
    server_route(srv, "POST", "/api/v1/account/password/reset/confirm", handle_reset_confirm,
                 ROUTE_OFFLOAD | ROUTE_IDLE_CPU);
    server_route(srv, "POST", "/api/v1/account/notices/{}/dismiss", handle_notice_dismiss,
                 ROUTE_OFFLOAD);
}
