/* Endpoints for resource servers: GET /api/v1/auth/check (forward-auth for
 * nginx auth_request and Traefik ForwardAuth), POST /api/v1/oauth/introspect
 * (RFC 7662) and POST /api/v1/oauth/revoke (RFC 7009).
 * auth/check and introspect only read, and run on the HTTP threads; revoke
 * writes and runs on the worker pool (ROUTE_OFFLOAD). The forward-auth rule
 * table is parsed once, on first use, and read-only afterwards. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "api/bounds.h"
#include "auth/resources.h"
#include "auth/tokens.h"
#include "app.h"
#include "auth/authrules.h"
#include "auth/jwt.h"
#include "util/json.h"
#include "util/log.h"
#include "http/server.h"
#include "store/store.h"
#include "util/timeutil.h"

/* ---- shared helpers ------------------------------------------------------- */

static const char *first_header(struct request *r, const char *a, const char *b)
{
    const char *v = request_header(r, a);
    return v ? v : request_header(r, b);
}

/* Header values come from scope ids and group names; strip anything that could
 * split a header, in case an operator ever stores such a name. */
static void header_safe(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = ' ';
}

static void reply_list_header(struct request *r, const char *name, const struct strlist *l)
{
    char *v = strlist_join(l, " ");
    if (!v)
        return;
    header_safe(v);
    reply_header(r, name, v);
    free(v);
}

static const char *kind_name(enum principal_kind k)
{
    switch (k) {
    case PRINCIPAL_PK: return "pk";
    case PRINCIPAL_SK: return "sk";
    case PRINCIPAL_TK: return "tk";
    case PRINCIPAL_SESSION: return "access";
    }
    return "unknown";
}

/* OAuth endpoints answer errors in both dialects at once: RFC 6749 §5.2
 * clients read "error"/"error_description", Ninja-style clients of /api/v1
 * read "detail"/"code", and the two never disagree. */
static void reply_oauth_error(struct request *r, int status, const char *error, const char *desc)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "error", error);
    cJSON_AddStringToObject(body, "error_description", desc);
    cJSON_AddStringToObject(body, "detail", desc);
    cJSON_AddStringToObject(body, "code", error);
    reply_header(r, "Cache-Control", "no-store");
    reply_json(r, status, body);
}

static bool content_type_is(const char *ct, const char *want)
{
    size_t n = strlen(want);
    if (strncasecmp(ct, want, n) != 0)
        return false;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

/* Reads the "token" parameter of an introspect/revoke request, from a form
 * body (RFC 7662/7009) or a JSON body. Returns a malloc'd copy the caller
 * wipes and frees, or NULL after replying (400/415). */
static char *read_token_param(struct request *r)
{
    const char *ct = request_header(r, "Content-Type");
    size_t len;
    const char *body = request_body(r, &len);
    char *token = NULL;
    if (ct && content_type_is(ct, "application/json")) {
        cJSON *json = api_parse_body(r);
        if (!json)
            return NULL;
        bool wrong = false;
        const char *t = api_json_string(json, "token", &wrong);
        const cJSON *hint = cJSON_GetObjectItemCaseSensitive(json, "token_type_hint");
        if (wrong || (hint && !cJSON_IsString(hint) && !cJSON_IsNull(hint)))
            reply_oauth_error(r, 400, "invalid_request",
                              "token and token_type_hint must be strings");
        else if (!t || !*t)
            reply_oauth_error(r, 400, "invalid_request", "The token parameter is required");
        else if (!(token = strdup(t)))
            api_reply_error(r, 500, "Out of memory", "internal_error");
        cJSON *item = cJSON_GetObjectItemCaseSensitive(json, "token");
        if (cJSON_IsString(item))
            crypto_wipe(item->valuestring, strlen(item->valuestring));
        cJSON_Delete(json);
        return token;
    }
    /* RFC 7662/7009 clients send forms; a missing Content-Type is read as one
     * too, since curl -d and many HTTP libraries omit or vary it. */
    if (ct && *ct && !content_type_is(ct, "application/x-www-form-urlencoded")) {
        api_reply_error(r, 415,
                        "Send application/x-www-form-urlencoded (token=...) or application/json",
                        "unsupported_media_type");
        return NULL;
    }
    token = malloc(len + 1);
    if (!token) {
        api_reply_error(r, 500, "Out of memory", "internal_error");
        return NULL;
    }
    int rc = authrules_query_get(body, len, "token", token, len + 1);
    if (rc == 0 && !*token)
        rc = -ENOENT;
    if (rc < 0) {
        crypto_wipe(token, len + 1);
        free(token);
        if (rc == -ENOENT)
            reply_oauth_error(r, 400, "invalid_request", "The token parameter is required");
        else if (rc == -EEXIST)
            reply_oauth_error(r, 400, "invalid_request", "The token parameter is given twice");
        else
            reply_oauth_error(r, 400, "invalid_request", "The form body is malformed");
        return NULL;
    }
    return token;
}

static void free_token(char *token)
{
    if (token) {
        crypto_wipe(token, strlen(token));
        free(token);
    }
}

/* ---- GET /api/v1/auth/check ------------------------------------------------ */

/* nginx passes the original URI, so a credential the client put in the URL
 * (?access_token=) is found there; the check request's own Authorization
 * header (copied from the client by nginx) and query come first. *buf is
 * allocated (JWT_MAX_LEN + 1 bytes, zeroed) only when the URI has a query;
 * the caller wipes and frees it. Returns the credential, "" when one is
 * present but unreadable, or NULL when there is none. */
static const char *check_credential(struct request *r, const char *uri, char **buf)
{
    const char *cred = auth_credential(r);
    if (cred || !uri)
        return cred;
    const char *q = strchr(uri, '?');
    if (!q)
        return NULL;
    q++;
    size_t qlen = strcspn(q, "#");
    if (!(*buf = calloc(1, JWT_MAX_LEN + 1)))
        return ""; /* cannot read it: treated as malformed, so denied */
    int rc = authrules_query_get(q, qlen, "access_token", *buf, JWT_MAX_LEN + 1);
    if (rc == -ENOENT)
        return NULL;
    return rc == 0 ? *buf : ""; /* repeated, badly escaped or too long: malformed */
}

/* A bound token (auth/resources.h) passes forward-auth only for what its
 * bounds name, read from the path below the rule's prefix: a whole
 * collection (".../collections/<id>[/...]", for a collection:<id> bound), or
 * an asset key the token reaches. Anything else, a search across
 * collections say, is refused: an upstream cannot apply the bounds. */
static bool bounds_allow_path(struct app *app, const struct principal *p,
                              const struct authrule *rule, const char *path)
{
    if (p->resources.n == 0)
        return true;
    const char *rest = path + (strcmp(rule->prefix, "/") == 0 ? 0 : rule->prefix_len);
    while (*rest == '/')
        rest++;
    const char *coll = strstr(rest, "collections/");
    if (coll && (coll == rest || coll[-1] == '/')) {
        char id[RESOURCE_MAX_LEN + 1];
        coll += strlen("collections/");
        size_t n = strcspn(coll, "/");
        if (n == 0 || n >= sizeof(id))
            return false;
        memcpy(id, coll, n);
        id[n] = '\0';
        return resources_collection_whole(&p->resources, id);
    }
    struct viewer v = viewer_of(p);
    return *rest && bounds_asset_reachable(app->catalog, &v, rest) == 0;
}

static void handle_check(struct request *r)
{
    struct app *app = request_app(r);
    struct principal p = {0};
    char *credbuf = NULL;
    const struct authrules *rs = app->auth_rules;
    const char *uri = first_header(r, "X-Original-URI", "X-Forwarded-Uri");
    const char *method = first_header(r, "X-Original-Method", "X-Forwarded-Method");
    /* Without an original URI (a proxy not configured to send one) the check
     * is about the site root, so "/"'s rule applies. */
    char path[AUTHRULES_PATH_MAX];
    int rc = authrules_normalize_path(uri ? uri : "/", path, sizeof(path));
    if (rc < 0) {
        api_reply_error(r, 400,
                        rc == -E2BIG ? "The original URI is too long"
                                     : "The original URI is not a valid request path",
                        "invalid_uri");
        return;
    }
    const struct authrule *rule = authrules_match(rs, method, path);
    if (!rule) {
        /* Fail closed: a path the operator did not mention is not exposed. */
        api_reply_error(r, 403, "No forward-auth rule covers this path", "permission_denied");
        return;
    }
    const char *cred = check_credential(r, uri, &credbuf);
    if (!cred && rule->access == AUTHRULE_PUBLIC) {
        reply_json(r, 200, NULL);
        goto out;
    }
    /* On a public path a presented credential must still be valid, as on the
     * STAC endpoints (SPEC §4.3): a stale token is a client bug worth seeing. */
    enum auth_result res = auth_verify(app, cred, &p);
    if (res != AUTH_OK) {
        api_reply_unauthorized(r, res);
        goto out;
    }
    if (!auth_origin_allowed(&p, r)) {
        api_reply_error(r, 403, "This token is not allowed from this URL", "url_not_allowed");
        goto out;
    }
    if (rule->access == AUTHRULE_SCOPE && !principal_has_scope(&p, rule->scope)) {
        api_reply_insufficient_scope(r, rule->scope);
        goto out;
    }
    /* A public path stays public whatever the bounds of a token sent along. */
    if (rule->access != AUTHRULE_PUBLIC && !bounds_allow_path(app, &p, rule, path)) {
        api_reply_error(r, 403, "This token is bound to resources that do not include this path",
                        "resource_not_allowed");
        goto out;
    }
    if (p.resources.n)
        reply_list_header(r, "X-Auth-Resources", &p.resources);
    reply_header(r, "X-Auth-User", p.username);
    reply_list_header(r, "X-Auth-Scopes", &p.scopes);
    reply_list_header(r, "X-Auth-Groups", &p.groups);
    reply_header(r, "X-Auth-Token-Type", kind_name(p.kind));
    reply_json(r, 200, NULL);
out:
    if (credbuf) {
        crypto_wipe(credbuf, JWT_MAX_LEN + 1);
        free(credbuf);
    }
    principal_free(&p);
}

/* ---- POST /api/v1/oauth/introspect ----------------------------------------- */

static void add_scopes(cJSON *obj, const char *name, const struct strlist *l)
{
    char *s = strlist_join(l, " ");
    cJSON_AddStringToObject(obj, name, s ? s : "");
    free(s);
}

static void add_common(cJSON *obj, int64_t account_id, const char *username)
{
    char sub[24];
    snprintf(sub, sizeof(sub), "%lld", (long long)account_id);
    cJSON_AddStringToObject(obj, "client_id", "api");
    cJSON_AddStringToObject(obj, "username", username);
    cJSON_AddStringToObject(obj, "sub", sub);
}

/* A refresh JWT is active while its signature, expiry, account and session
 * family all still hold (the same test token/verify applies). Returns the
 * RFC 7662 object, or NULL when inactive. */
static cJSON *introspect_refresh(struct app *app, const char *token)
{
    struct jwt_claims c = {0};
    struct account a = {0};
    struct strlist scopes = STRLIST_INIT;
    struct refresh_record rec;
    cJSON *obj = NULL;
    if (jwt_verify(app->jwt_key, token, &c) < 0 || c.type != JWT_REFRESH ||
        c.exp * 1000 <= time_now_ms() ||
        app->store->ops->account_get_by_id(app->store, c.user_id, &a) < 0 || !a.is_active ||
        c.iat * 1000 < a.sessions_valid_after ||
        app->store->ops->refresh_check(app->store, c.jti, &rec) != 0)
        goto out;
    if (strlist_intersect(&scopes, &c.scopes, &a.scopes) < 0)
        goto out;
    obj = cJSON_CreateObject();
    cJSON_AddTrueToObject(obj, "active");
    add_scopes(obj, "scope", &scopes);
    add_common(obj, a.id, a.username);
    cJSON_AddStringToObject(obj, "token_type", "refresh");
    cJSON_AddNumberToObject(obj, "exp", (double)c.exp);
    cJSON_AddNumberToObject(obj, "iat", (double)c.iat);
    cJSON_AddStringToObject(obj, "jti", c.jti);
    add_scopes(obj, "groups", &a.groups);
out:
    strlist_free(&scopes);
    jwt_claims_free(&c);
    account_free(&a);
    return obj;
}

static cJSON *introspect_token(struct app *app, const char *token, enum auth_result *res_out)
{
    struct principal p;
    enum auth_result res = auth_verify(app, token, &p);
    *res_out = res;
    cJSON *obj = NULL;
    if (res != AUTH_OK) {
        principal_free(&p);
        return token_kind_of(token) < 0 ? introspect_refresh(app, token) : NULL;
    }
    obj = cJSON_CreateObject();
    cJSON_AddTrueToObject(obj, "active");
    add_scopes(obj, "scope", &p.scopes);
    add_common(obj, p.account_id, p.username);
    cJSON_AddStringToObject(obj, "token_type", kind_name(p.kind));
    if (p.expires)
        cJSON_AddNumberToObject(obj, "exp", (double)(p.expires / 1000));
    cJSON_AddNumberToObject(obj, "iat", (double)(p.created / 1000));
    /* jti identifies the credential: a stored token's id, a session's jti;
     * a temporary token has no identity of its own (its parent is "parent"). */
    if (p.kind == PRINCIPAL_SESSION)
        cJSON_AddStringToObject(obj, "jti", p.jti);
    else if (p.kind != PRINCIPAL_TK)
        cJSON_AddStringToObject(obj, "jti", p.token_id);
    else if (p.token_id[0])
        cJSON_AddStringToObject(obj, "parent", p.token_id);
    add_scopes(obj, "groups", &p.groups);
    if (p.resources.n)
        cJSON_AddItemToObject(obj, "resources", json_from_strlist(&p.resources));
    principal_free(&p);
    return obj;
}

static void handle_introspect(struct request *r)
{
    struct app *app = request_app(r);
    struct principal caller;
    char *token = NULL;
    if (!api_authenticate(r, &caller, app->cfg.introspect_scope))
        goto out;
    token = read_token_param(r);
    if (!token)
        goto out;
    enum auth_result res;
    cJSON *obj = introspect_token(app, token, &res);
    if (res == AUTH_UNAVAILABLE) {
        cJSON_Delete(obj);
        api_reply_unauthorized(r, res); /* 503: no answer rather than a guess */
        goto out;
    }
    if (!obj) {
        /* RFC 7662 §2.2: nothing but "active" for an inactive token, so the
         * answer never says why (unknown, expired, revoked, malformed). */
        obj = cJSON_CreateObject();
        cJSON_AddFalseToObject(obj, "active");
    }
    reply_header(r, "Cache-Control", "no-store");
    reply_json(r, 200, obj);
out:
    free_token(token);
    principal_free(&caller);
}

/* ---- POST /api/v1/oauth/revoke ------------------------------------------- */

/* Revokes a pk/sk token when the string really is that token (secret checked,
 * so knowing an id is not enough) and it belongs to owner (or owner < 0: the
 * token speaks for itself). Unknown or foreign tokens are left alone
 * silently. 0, -EPERM for the account's default public token (never
 * revoked: rotated), or -EIO when the store failed. */
static int revoke_stored(struct app *app, const char *token, int64_t owner,
                         const struct audit_who *who)
{
    struct token_record t;
    int rc = tokens_find_presented(app, token, &t);
    if (rc == 0 && (owner < 0 || t.account_id == owner) && !t.revoked_at)
        rc = tokens_revoke(app, t.id, t.account_id, who);
    token_record_free(&t);
    /* -ENOENT: unknown, or revoked concurrently. */
    return rc == -EPERM || rc == -EIO ? rc : 0;
}

static void handle_revoke(struct request *r)
{
    struct app *app = request_app(r);
    struct principal caller = {0};
    struct jwt_claims c = {0};
    char *token = NULL;
    /* RFC 7009 wants the client authenticated. Tessera's clients are the
     * token holders themselves: a presented credential must be valid and of
     * the same account as the token; without one, holding the token (a
     * 190-bit secret or a signed refresh JWT) is the authority to end it, as
     * token/blacklist already does for refresh tokens. */
    int64_t owner = -1;
    if (auth_credential(r)) {
        if (!api_authenticate(r, &caller, NULL))
            goto out;
        owner = caller.account_id;
    }
    token = read_token_param(r);
    if (!token)
        goto out;
    int kind = token_kind_of(token);
    if (kind == TOKEN_TK) {
        /* Ended by its MAC's id; an invalid one is answered 200 (RFC 7009 §2.2). */
        struct principal t;
        enum auth_result res = auth_verify(app, token, &t);
        int rc = 0;
        if (res == AUTH_OK && (owner < 0 || t.account_id == owner)) {
            struct api_who who;
            api_who(r, owner >= 0 ? &caller : NULL, &who);
            rc = tokens_revoke_temp(app, token, t.account_id, t.expires, &who.who);
        }
        principal_free(&t);
        if (rc < 0 && rc != -EEXIST) {
            reply_header(r, "Retry-After", "1");
            api_reply_error(r, 503, "Could not revoke the token, retry shortly", "server_busy");
            goto out;
        }
    }
    if (kind == TOKEN_PK || kind == TOKEN_SK) {
        struct api_who who;
        api_who(r, owner >= 0 ? &caller : NULL, &who);
        int rc = revoke_stored(app, token, owner, &who.who);
        if (rc == -EPERM) {
            reply_oauth_error(r, 400, "unsupported_token_type", API_DEFAULT_TOKEN_KEPT);
            goto out;
        }
        if (rc < 0) {
            reply_header(r, "Retry-After", "1");
            api_reply_error(r, 503, "Could not revoke the token, retry shortly", "server_busy");
            goto out;
        }
    } else if (jwt_verify(app->jwt_key, token, &c) == 0) {
        if (c.type == JWT_ACCESS) {
            reply_oauth_error(r, 400, "unsupported_token_type",
                              "Session access tokens expire on their own; revoke the session's "
                              "refresh token instead");
            goto out;
        }
        if ((owner < 0 || c.user_id == owner) &&
            app->store->ops->refresh_revoke_family(app->store, c.family) < 0) {
            reply_header(r, "Retry-After", "1");
            api_reply_error(r, 503, "Could not end the session, retry shortly", "server_busy");
            goto out;
        }
    }
    /* RFC 7009 §2.2: 200 also for unknown, invalid and foreign tokens, so the
     * endpoint cannot be used to probe them. */
    reply_header(r, "Cache-Control", "no-store");
    reply_json(r, 200, cJSON_CreateObject());
out:
    jwt_claims_free(&c);
    free_token(token);
    principal_free(&caller);
}

void api_resource_register(struct server *srv)
{
    server_route(srv, "GET", "/api/v1/auth/check", handle_check, 0);
    server_route(srv, "POST", "/api/v1/oauth/introspect", handle_introspect, 0);
    server_route(srv, "POST", "/api/v1/oauth/revoke", handle_revoke, ROUTE_OFFLOAD);
}
