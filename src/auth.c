/* Credential verification for every protected endpoint. Stored tokens are
 * checked against their keyed hash in constant time; tk. tokens and session
 * JWTs by MAC. Account state (active, granted scopes, groups, logout
 * watermark) is read per request so revocation takes effect at once.
 * Thread-safe: no shared mutable state besides the store and metrics. */
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "jwt.h"
#include "metrics.h"
#include "server.h"
#include "store.h"
#include "timeutil.h"

const char *auth_credential(const struct request *r)
{
    const char *h = request_header(r, "Authorization");
    if (h) {
        if (strncasecmp(h, "Bearer ", 7) != 0)
            return "";
        h += 7;
        while (*h == ' ')
            h++;
        return h;
    }
    return request_query(r, "access_token");
}

bool principal_has_scope(const struct principal *p, const char *scope)
{
    return strlist_contains(&p->scopes, scope);
}

void principal_free(struct principal *p)
{
    strlist_free(&p->scopes);
    strlist_free(&p->token_scopes);
    strlist_free(&p->groups);
    strlist_free(&p->allowed_urls);
}

const char *auth_result_name(enum auth_result r)
{
    switch (r) {
    case AUTH_OK: return "TokenValid";
    case AUTH_NONE: return "TokenMissing";
    case AUTH_MALFORMED: return "TokenMalformed";
    case AUTH_INVALID: return "TokenInvalid";
    case AUTH_EXPIRED: return "TokenExpired";
    case AUTH_REVOKED: return "TokenRevoked";
    }
    return "TokenInvalid";
}

/* Copies the account's identity, groups and effective scopes (issued ∩
 * granted) into p. */
static int fill_from_account(struct principal *p, const struct account *a)
{
    p->account_id = a->id;
    snprintf(p->username, sizeof(p->username), "%s", a->username);
    p->is_staff = a->is_staff;
    if (strlist_copy(&p->groups, &a->groups) < 0)
        return -ENOMEM;
    return strlist_intersect(&p->scopes, &p->token_scopes, &a->scopes);
}

static enum auth_result verify_stored(struct app *app, const char *cred, struct principal *p)
{
    struct token_stored_parts parts;
    if (token_parse_stored(cred, &parts) < 0)
        return AUTH_MALFORMED;
    struct token_record t = {0};
    struct account a = {0};
    enum auth_result res = AUTH_INVALID;
    if (app->store->ops->token_get(app->store, parts.id, &t) < 0)
        goto out;
    uint8_t mac[CRYPTO_MAC_LEN];
    if (token_hash_secret(app->token_key, parts.secret, mac) < 0 ||
        !crypto_equal(mac, t.secret_hash, sizeof(mac)) || t.usage != parts.kind)
        goto out;
    if (app->store->ops->account_get_by_id(app->store, t.account_id, &a) < 0 ||
        strcmp(a.username, parts.username) != 0)
        goto out;
    p->kind = t.usage == TOKEN_PK ? PRINCIPAL_PK : PRINCIPAL_SK;
    snprintf(p->token_id, sizeof(p->token_id), "%s", t.id);
    p->created = t.created;
    p->expires = t.expires_at;
    if (strlist_copy(&p->token_scopes, &t.scopes) < 0 ||
        strlist_copy(&p->allowed_urls, &t.allowed_urls) < 0 || fill_from_account(p, &a) < 0)
        goto out;
    if (t.revoked_at || !a.is_active)
        res = AUTH_REVOKED;
    else if (t.expires_at && time_now_ms() >= t.expires_at)
        res = AUTH_EXPIRED;
    else
        res = AUTH_OK;
out:
    crypto_wipe(&parts, sizeof(parts));
    token_record_free(&t);
    account_free(&a);
    return res;
}

static enum auth_result verify_temp(struct app *app, const char *cred, struct principal *p)
{
    struct token_temp_claims c = {0};
    int rc = token_parse_temp(app->token_key, cred, &c);
    if (rc == -EPERM)
        return AUTH_INVALID;
    if (rc < 0)
        return AUTH_MALFORMED;
    struct account a = {0};
    struct token_record parent = {0};
    enum auth_result res = AUTH_INVALID;
    if (app->store->ops->account_get_by_username(app->store, c.username, &a) < 0)
        goto out;
    p->kind = PRINCIPAL_TK;
    snprintf(p->token_id, sizeof(p->token_id), "%s", c.parent);
    p->created = c.iat * 1000;
    p->expires = c.exp * 1000;
    if (strlist_copy(&p->token_scopes, &c.scopes) < 0 || fill_from_account(p, &a) < 0)
        goto out;
    bool parent_alive = true;
    if (c.parent[0]) {
        /* A temporary token dies with its parent, and never holds more than
         * the parent holds now. */
        parent_alive = app->store->ops->token_get(app->store, c.parent, &parent) == 0 &&
                       parent.account_id == a.id && !parent.revoked_at &&
                       (!parent.expires_at || time_now_ms() < parent.expires_at);
        if (parent_alive && strlist_intersect(&p->scopes, &p->scopes, &parent.scopes) < 0)
            goto out;
    }
    if (!parent_alive || !a.is_active)
        res = AUTH_REVOKED;
    else if (time_now_ms() >= p->expires)
        res = AUTH_EXPIRED;
    else
        res = AUTH_OK;
out:
    strlist_free(&c.scopes);
    token_record_free(&parent);
    account_free(&a);
    return res;
}

static enum auth_result verify_session(struct app *app, const char *cred, struct principal *p)
{
    struct jwt_claims c = {0};
    int rc = jwt_verify(app->jwt_key, cred, &c);
    if (rc == -EPERM)
        return AUTH_INVALID;
    if (rc < 0)
        return AUTH_MALFORMED;
    struct account a = {0};
    enum auth_result res = AUTH_INVALID;
    if (c.type != JWT_ACCESS ||
        app->store->ops->account_get_by_id(app->store, c.user_id, &a) < 0)
        goto out;
    p->kind = PRINCIPAL_SESSION;
    snprintf(p->jti, sizeof(p->jti), "%s", c.jti);
    p->created = c.iat * 1000;
    p->expires = c.exp * 1000;
    /* A session speaks for the whole account: its scopes are the account's
     * current grants, not a snapshot taken at sign-in. */
    if (strlist_copy(&p->token_scopes, &a.scopes) < 0 || fill_from_account(p, &a) < 0)
        goto out;
    if (!a.is_active || p->created < a.sessions_valid_after)
        res = AUTH_REVOKED;
    else if (time_now_ms() >= p->expires)
        res = AUTH_EXPIRED;
    else
        res = AUTH_OK;
out:
    jwt_claims_free(&c);
    account_free(&a);
    return res;
}

enum auth_result auth_verify(struct app *app, const char *credential, struct principal *out)
{
    memset(out, 0, sizeof(*out));
    enum auth_result res;
    if (!credential)
        return AUTH_NONE;
    if (!*credential || strnlen(credential, JWT_MAX_LEN + 1) > JWT_MAX_LEN)
        res = AUTH_MALFORMED;
    else if (token_kind_of(credential) == TOKEN_TK)
        res = verify_temp(app, credential, out);
    else if (token_kind_of(credential) >= 0)
        res = verify_stored(app, credential, out);
    else
        res = verify_session(app, credential, out);
    metrics_count_verification(res);
    return res;
}

/* Strips "scheme://" so "https://a.example/x" compares as "a.example/x". */
static const char *without_scheme(const char *url)
{
    const char *s = strstr(url, "://");
    return s ? s + 3 : url;
}

static bool url_allowed(const char *candidate, const struct strlist *allowed)
{
    const char *c = without_scheme(candidate);
    for (size_t i = 0; i < allowed->n; i++) {
        const char *a = without_scheme(allowed->v[i]);
        size_t n = strlen(a);
        while (n && a[n - 1] == '/')
            n--;
        if (n && strncasecmp(c, a, n) == 0 &&
            (c[n] == '\0' || c[n] == '/' || c[n] == '?' || c[n] == '#' || c[n] == ':'))
            return true;
    }
    return false;
}

bool auth_origin_allowed(const struct principal *p, const struct request *r)
{
    if (p->allowed_urls.n == 0)
        return true;
    const char *origin = request_header(r, "Origin");
    const char *referer = request_header(r, "Referer");
    if (!origin && !referer)
        return true;
    return (origin && url_allowed(origin, &p->allowed_urls)) ||
           (referer && url_allowed(referer, &p->allowed_urls));
}
