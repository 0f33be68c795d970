/* The Mapbox Tokens API dialect (SPEC §4.2): /tokens/v2 and /scopes/v1 over the
 * same accounts, scopes and token store as the Carbon Mapper endpoints.
 * Handlers that write (create, update, delete) run on the worker pool
 * (ROUTE_OFFLOAD); the listing, the scope list and the validity check run on
 * the HTTP thread that received the request. No state of its own. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/baseurl.h"
#include "app.h"
#include "util/json.h"
#include "api/ratelimit.h"
#include "http/server.h"
#include "store/store.h"
#include "util/timeutil.h"
#include "auth/resources.h"
#include "auth/token.h"
#include "auth/tokens.h"

#define LIST_LIMIT_MAX 100
#define ALLOWED_URLS_MAX 100
#define ALLOWED_URL_LEN_MAX 1024
#define SCOPES_MAX 64
_Static_assert(TOKEN_SCOPE_MAX == SCOPE_ID_MAX, "a tk must carry every scope id");
#define TEMP_LIFETIME_MS (3600LL * 1000)
/* Clients compute `expires` from their own clock (the Python client sends
 * utcnow() + seconds); this much skew is forgiven at the one-hour bound. */
#define TEMP_SLACK_MS (10LL * 1000)

/* ---- common steps --------------------------------------------------------- */

/* Every 404 of this API says what Mapbox's does, whatever was missing: an
 * account that is not the caller's, a token or an account gone. */
#define MAPBOX_NOT_FOUND "Not Found"

/* Authenticates, checks that {username} is the caller's own account (404
 * otherwise, so other accounts' names are not confirmed), checks the scope and
 * counts one call against the account's token API budget. Returns false when
 * a reply was sent; call principal_free(p) in every case. */
static bool mapbox_begin(struct request *r, struct principal *p, const char *scope)
{
    if (!api_authenticate(r, p, NULL))
        return false;
    const char *username = request_param(r, 0);
    if (!username || strcmp(username, p->username) != 0) {
        api_reply_not_found(r, MAPBOX_NOT_FOUND);
        return false;
    }
    if (!principal_has_scope(p, scope)) {
        api_reply_insufficient_scope(r, scope);
        return false;
    }
    int wait = ratelimit_token_api(request_app(r), p->account_id);
    if (wait > 0) {
        struct api_who who;
        api_who(r, p, &who);
        audit_log(request_app(r)->audit, AUDIT_THROTTLED, p->account_id, NULL, &who.who,
                  "token API");
        char secs[16];
        snprintf(secs, sizeof(secs), "%d", wait);
        reply_header(r, "Retry-After", secs);
        api_reply_error(r, 429, "Too Many Requests", "throttled");
        return false;
    }
    return true;
}

/* The token object; pk strings are public by design and listed again, sk
 * secrets exist only in the creation reply. */
static cJSON *record_json(struct app *app, const struct token_record *t)
{
    return tokens_to_json(app, t, t->usage == TOKEN_PK ? t->public_token : NULL);
}

/* Reads and checks "scopes": an array of known scope ids, every one held by
 * the authorizer (a token never mints or widens beyond itself, SPEC §5.2).
 * Replies 422 and returns false when not. */
static bool read_scopes(struct request *r, const struct principal *p, const cJSON *item,
                        struct strlist *out, bool *all_public)
{
    if (json_to_strlist(item, out, SCOPES_MAX, SCOPE_ID_MAX) < 0 || out->n == 0 ||
        tokens_check_scopes(request_app(r), out, &p->scopes, all_public) < 0) {
        api_reply_validation(r, "scopes", "scopes are invalid", "value_error");
        return false;
    }
    return true;
}

static bool url_text_ok(const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        if (*c <= 0x20 || *c == 0x7f)
            return false;
    return true;
}

static bool read_allowed_urls(struct request *r, const cJSON *item, struct strlist *out)
{
    if (!cJSON_IsArray(item) || cJSON_GetArraySize(item) > ALLOWED_URLS_MAX) {
        api_reply_validation(r, "allowedUrls",
                             cJSON_IsArray(item) ? "allowedUrls may have at most 100 entries"
                                                 : "allowedUrls must be an array of URLs",
                             "value_error");
        return false;
    }
    bool ok = json_to_strlist(item, out, ALLOWED_URLS_MAX, ALLOWED_URL_LEN_MAX) == 0;
    for (size_t i = 0; ok && i < out->n; i++)
        ok = url_text_ok(out->v[i]);
    if (!ok)
        api_reply_validation(r, "allowedUrls", "allowedUrls are invalid", "value_error");
    return ok;
}

/* Reads an optional "expires_at" of a stored token (Tessera's field: in the
 * Mapbox API "expires" makes a temporary token): an RFC 3339 time, or null.
 * Absent leaves *expires_at alone and sets *given false; null means "no
 * expiry". The value follows tokens_check_expiry. Replies 422 and returns
 * false when it is not acceptable. */
static bool read_expires_at(struct request *r, const cJSON *body, bool is_default,
                            int64_t *expires_at, bool *given)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "expires_at");
    if (given)
        *given = v != NULL;
    if (!v)
        return true;
    char msg[96];
    if (cJSON_IsNull(v)) {
        *expires_at = 0;
    } else if (!cJSON_IsString(v) || time_parse_rfc3339(v->valuestring, expires_at) < 0) {
        api_reply_validation(r, "expires_at", "expires_at must be an RFC 3339 time or null",
                             "value_error");
        return false;
    }
    if (tokens_check_expiry(request_app(r), expires_at, is_default, msg, sizeof(msg)) < 0) {
        api_reply_validation(r, "expires_at", msg, "value_error");
        return false;
    }
    return true;
}

/* Reads an optional "note"; *note stays NULL when absent. */
static bool read_note(struct request *r, const cJSON *body, const char **note)
{
    bool wrong = false;
    *note = api_json_string(body, "note", &wrong);
    if (wrong) {
        api_reply_validation(r, "note", "note must be a string", "type_error");
        return false;
    }
    if (*note && strlen(*note) > TOKEN_NOTE_MAX) {
        api_reply_validation(r, "note", "note must be at most 256 bytes of UTF-8", "value_error");
        return false;
    }
    return true;
}

/* ---- GET /tokens/v2/{username} --------------------------------------------- */

static void add_next_link(struct request *r, const char *username, const char *last_id,
                          const struct token_query *q)
{
    char link[1024], base[400];
    /* An odd Host makes the link relative rather than echo it. The base is
     * what the client addressed, proxies included (api/baseurl.c). */
    struct base_url b;
    request_base_parts(r, &b);
    if (b.host_ok)
        snprintf(base, sizeof(base), "%s://%s%s", b.scheme, b.host, b.prefix);
    else
        snprintf(base, sizeof(base), "%s", b.prefix);
    /* The filters ride along so following the link continues the same
     * listing; the credential never does (clients send their own). */
    snprintf(link, sizeof(link), "<%s/tokens/v2/%s?start=%s&limit=%zu%s%s%s%s>; rel=\"next\"",
             base, username, last_id, q->limit,
             q->sortby == TOKEN_SORT_MODIFIED ? "&sortby=modified" : "",
             q->usage == TOKEN_PK ? "&usage=pk" : q->usage == TOKEN_SK ? "&usage=sk" : "",
             q->is_default == 1 ? "&default=true" : "",
             q->is_default == 0 ? "&default=false" : "");
    reply_header(r, "Link", link);
}

/* Parses the list query; replies 422 and returns false on a bad value. */
static bool read_list_query(struct request *r, struct token_query *q)
{
    const char *v = request_query(r, "limit");
    if (v) {
        char *end = NULL;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (!*v || *end || errno || n < 1 || n > LIST_LIMIT_MAX) {
            api_reply_validation(r, "limit", "limit must be between 1 and 100", "value_error");
            return false;
        }
        q->limit = (size_t)n;
    }
    if ((v = request_query(r, "sortby"))) {
        if (strcmp(v, "created") == 0) {
            q->sortby = TOKEN_SORT_CREATED;
        } else if (strcmp(v, "modified") == 0) {
            q->sortby = TOKEN_SORT_MODIFIED;
        } else {
            api_reply_validation(r, "sortby", "sortby must be created or modified", "value_error");
            return false;
        }
    }
    if ((v = request_query(r, "usage"))) {
        if (strcmp(v, "pk") == 0) {
            q->usage = TOKEN_PK;
        } else if (strcmp(v, "sk") == 0) {
            q->usage = TOKEN_SK;
        } else {
            api_reply_validation(r, "usage", "usage must be pk or sk", "value_error");
            return false;
        }
    }
    if ((v = request_query(r, "default"))) {
        if (strcmp(v, "true") == 0) {
            q->is_default = 1;
        } else if (strcmp(v, "false") == 0) {
            q->is_default = 0;
        } else {
            api_reply_validation(r, "default", "default must be true or false", "value_error");
            return false;
        }
    }
    if ((v = request_query(r, "start"))) {
        if (!token_id_valid(v)) {
            api_reply_validation(r, "start", "start is invalid", "value_error");
            return false;
        }
        q->start_after = v;
    }
    return true;
}

static void handle_list(struct request *r)
{
    struct app *app = request_app(r);
    struct principal p;
    struct token_record *v = NULL;
    size_t n = 0;
    if (!mapbox_begin(r, &p, "tokens:read"))
        goto out;
    struct token_query q = {.account_id = p.account_id, .usage = -1, .is_default = -1,
                            .sortby = TOKEN_SORT_CREATED, .limit = LIST_LIMIT_MAX};
    if (!read_list_query(r, &q))
        goto out;
    /* One extra row tells whether a next page exists, so the last page never
     * advertises an empty one. */
    size_t want = q.limit;
    q.limit = want + 1;
    int rc = app->store->ops->token_list(app->store, &q, &v, &n);
    q.limit = want;
    if (rc == -ENOENT) {
        api_reply_validation(r, "start", "start is invalid", "value_error");
        goto out;
    }
    if (rc < 0) {
        api_reply_error(r, 500, "Could not list tokens", "internal_error");
        goto out;
    }
    cJSON *arr = cJSON_CreateArray();
    size_t shown = n < want ? n : want;
    tokens_merge_last_used(app, v, shown);
    for (size_t i = 0; i < shown; i++)
        if (tokens_listed(&v[i]))
            cJSON_AddItemToArray(arr, record_json(app, &v[i]));
    if (n > want)
        add_next_link(r, p.username, v[shown - 1].id, &q);
    reply_json(r, 200, arr);
out:
    token_records_free(v, n);
    principal_free(&p);
}

/* ---- POST /tokens/v2/{username} ------------------------------------------- */

static void create_temporary(struct request *r, const struct principal *p, const cJSON *body,
                             const char *expires)
{
    struct app *app = request_app(r);
    struct token_temp_claims c = {0};
    char *value = NULL;
    int64_t now = time_now_ms(), exp_ms;
    if (time_parse_rfc3339(expires, &exp_ms) < 0) {
        api_reply_validation(r, "expires", "expires is invalid", "value_error");
        goto out;
    }
    if (exp_ms <= now) {
        api_reply_validation(r, "expires", "expires is in the past", "value_error");
        goto out;
    }
    if (exp_ms > now + TEMP_LIFETIME_MS + TEMP_SLACK_MS) {
        api_reply_validation(r, "expires", "expires is more than one hour in the future",
                             "value_error");
        goto out;
    }
    /* A temporary token never outlives what authorized it (a tk, or a stored
     * token with an expiry); verification would refuse it afterwards anyway. */
    if (p->kind != PRINCIPAL_SESSION && p->expires && exp_ms > p->expires) {
        api_reply_validation(r, "expires",
                             "expires may not be greater than the expiration of the authorizing token",
                             "value_error");
        goto out;
    }
    const cJSON *au = cJSON_GetObjectItemCaseSensitive(body, "allowedUrls");
    if (au && !cJSON_IsNull(au)) {
        api_reply_validation(r, "allowedUrls", "temporary tokens cannot have allowedUrls",
                             "value_error");
        goto out;
    }
    bool all_public, bounds_given;
    if (!read_scopes(r, p, cJSON_GetObjectItemCaseSensitive(body, "scopes"), &c.scopes,
                     &all_public) ||
        !api_read_resources(r, p, body, &c.resources, &bounds_given))
        goto out;
    snprintf(c.username, sizeof(c.username), "%s", p->username);
    /* The parent is the stored token whose deletion revokes this one: the
     * authorizer itself, or for a tk its own parent; a session has none. */
    if (p->kind != PRINCIPAL_SESSION)
        snprintf(c.parent, sizeof(c.parent), "%s", p->token_id);
    c.iat = now / 1000;
    c.exp = (exp_ms + 999) / 1000; /* round up: never expire before asked */
    snprintf(c.instance, sizeof(c.instance), "%s", app->instance);
    value = token_format_temp(app->token_key, &c);
    if (!value) {
        api_reply_validation(r, "scopes", "too many scopes and resources for a temporary token",
                             "value_error");
        goto out;
    }
    char issued[TIME_RFC3339_LEN], exp_text[TIME_RFC3339_LEN];
    time_format_rfc3339(c.iat * 1000, issued);
    time_format_rfc3339(c.exp * 1000, exp_text);
    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "token", value);
    cJSON_AddStringToObject(res, "issued_at", issued);
    cJSON_AddStringToObject(res, "expires", exp_text);
    cJSON_AddNumberToObject(res, "expires_in", (double)(c.exp - c.iat));
    if (c.resources.n)
        cJSON_AddItemToObject(res, "resources", json_from_strlist(&c.resources));
    reply_json(r, 200, res);
    struct api_who who;
    api_who(r, p, &who);
    char detail[64];
    snprintf(detail, sizeof(detail), "expires %s", exp_text);
    audit_log(app->audit, AUDIT_TOKEN_TEMPORARY, p->account_id, c.parent, &who.who, detail);
out:
    if (value) {
        crypto_wipe(value, strlen(value));
        free(value);
    }
    strlist_free(&c.scopes);
    strlist_free(&c.resources);
}

static void create_permanent(struct request *r, const struct principal *p, const cJSON *body)
{
    struct app *app = request_app(r);
    struct strlist scopes = STRLIST_INIT, urls = STRLIST_INIT, bounds = STRLIST_INIT;
    struct account a = {0};
    struct token_record t = {0};
    char *value = NULL;
    const char *note;
    bool all_public, bounds_given;
    if (!read_scopes(r, p, cJSON_GetObjectItemCaseSensitive(body, "scopes"), &scopes, &all_public) ||
        !read_note(r, body, &note) || !api_read_resources(r, p, body, &bounds, &bounds_given))
        goto out;
    const cJSON *au = cJSON_GetObjectItemCaseSensitive(body, "allowedUrls");
    if (au && !cJSON_IsNull(au) && !read_allowed_urls(r, au, &urls))
        goto out;
    int64_t expires_at = 0;
    if (!read_expires_at(r, body, false, &expires_at, NULL))
        goto out;
    if (app->store->ops->account_get_by_id(app->store, p->account_id, &a) < 0) {
        api_reply_not_found(r, MAPBOX_NOT_FOUND);
        goto out;
    }
    struct token_spec spec = {.scopes = &scopes, .note = note ? note : "", .allowed_urls = &urls,
                              .resources = &bounds, .expires_at = expires_at,
                              .usage = all_public ? TOKEN_PK : TOKEN_SK};
    int rc = tokens_create(app, &a, &spec, &t, &value);
    if (rc == -EINVAL || rc == -EPERM) { /* grants changed since the check */
        api_reply_validation(r, "scopes", "scopes are invalid", "value_error");
        goto out;
    }
    if (rc < 0) {
        api_reply_error(r, 500, "Could not create the token", "internal_error");
        goto out;
    }
    reply_json(r, 200, tokens_to_json(app, &t, value));
    struct api_who who;
    api_who(r, p, &who);
    audit_log(app->audit, AUDIT_TOKEN_CREATE, p->account_id, t.id, &who.who,
              t.usage == TOKEN_PK ? "pk" : "sk");
out:
    if (value) {
        crypto_wipe(value, strlen(value));
        free(value);
    }
    token_record_free(&t);
    account_free(&a);
    strlist_free(&scopes);
    strlist_free(&urls);
    strlist_free(&bounds);
}

static void handle_create(struct request *r)
{
    struct principal p;
    cJSON *body = NULL;
    if (!mapbox_begin(r, &p, "tokens:write") || !(body = api_parse_body(r)))
        goto out;
    bool wrong = false;
    const char *expires = api_json_string(body, "expires", &wrong);
    if (wrong)
        api_reply_validation(r, "expires", "expires is invalid", "value_error");
    else if (expires)
        create_temporary(r, &p, body, expires);
    else
        create_permanent(r, &p, body);
out:
    cJSON_Delete(body);
    principal_free(&p);
}

/* ---- PATCH / DELETE /tokens/v2/{username}/{id} ---------------------------- */

static void handle_update(struct request *r)
{
    struct app *app = request_app(r);
    struct principal p;
    cJSON *body = NULL;
    struct token_record t = {0};
    struct strlist scopes = STRLIST_INIT, urls = STRLIST_INIT, bounds = STRLIST_INIT;
    if (!mapbox_begin(r, &p, "tokens:write"))
        goto out;
    /* Temporary tokens have no id to address, so they land here too. */
    const char *id = request_param(r, 1);
    if (!token_id_valid(id) || app->store->ops->token_get(app->store, id, &t) < 0 || t.revoked_at ||
        t.account_id != p.account_id) {
        api_reply_not_found(r, MAPBOX_NOT_FOUND);
        goto out;
    }
    /* A bound token edits only tokens within its own bounds: it could
     * otherwise change what a wider token may do. */
    if (!resources_cover(&p.resources, &t.resources)) {
        api_reply_not_found(r, MAPBOX_NOT_FOUND);
        goto out;
    }
    if (!(body = api_parse_body(r)))
        goto out;
    const char *note;
    if (!read_note(r, body, &note))
        goto out;
    /* null means "leave as is", like an absent field. */
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(body, "scopes");
    const cJSON *au = cJSON_GetObjectItemCaseSensitive(body, "allowedUrls");
    if (cJSON_IsNull(sc))
        sc = NULL;
    if (cJSON_IsNull(au))
        au = NULL;
    bool all_public = true;
    if (sc && !read_scopes(r, &p, sc, &scopes, &all_public))
        goto out;
    if (sc && t.usage == TOKEN_PK && !all_public) {
        /* A public token stays public: its string may already be embedded in
         * web pages. */
        api_reply_validation(r, "scopes", "scopes are invalid", "value_error");
        goto out;
    }
    if (au && !read_allowed_urls(r, au, &urls))
        goto out;
    bool bounds_given;
    if (!api_read_resources(r, &p, body, &bounds, &bounds_given))
        goto out;
    int64_t expires_at = t.expires_at;
    bool expiry_given;
    if (!read_expires_at(r, body, t.is_default, &expires_at, &expiry_given))
        goto out;
    if (expiry_given)
        t.expires_at = expires_at;
    if (note)
        snprintf(t.note, sizeof(t.note), "%s", note);
    if (sc) {
        strlist_free(&t.scopes);
        t.scopes = scopes;
        scopes = (struct strlist)STRLIST_INIT;
    }
    if (au) {
        strlist_free(&t.allowed_urls);
        t.allowed_urls = urls;
        urls = (struct strlist)STRLIST_INIT;
    }
    if (bounds_given) {
        strlist_free(&t.resources);
        t.resources = bounds;
        bounds = (struct strlist)STRLIST_INIT;
    }
    t.modified = time_now_ms();
    int rc = app->store->ops->token_update(app->store, &t);
    if (rc == -ENOENT)
        api_reply_not_found(r, MAPBOX_NOT_FOUND); /* deleted meanwhile */
    else if (rc == -EINVAL)
        api_reply_validation(r, "scopes", "scopes are invalid", "value_error");
    else if (rc < 0)
        api_reply_error(r, 500, "Could not update the token", "internal_error");
    else {
        tokens_merge_last_used(app, &t, 1);
        reply_json(r, 200, record_json(app, &t));
        struct api_who who;
        api_who(r, &p, &who);
        audit_log(app->audit, AUDIT_TOKEN_UPDATE, p.account_id, t.id, &who.who, NULL);
    }
out:
    strlist_free(&scopes);
    strlist_free(&urls);
    strlist_free(&bounds);
    token_record_free(&t);
    cJSON_Delete(body);
    principal_free(&p);
}

static void handle_delete(struct request *r)
{
    struct app *app = request_app(r);
    struct principal p;
    if (!mapbox_begin(r, &p, "tokens:write"))
        goto out;
    const char *id = request_param(r, 1);
    struct api_who who;
    api_who(r, &p, &who);
    int rc = tokens_revoke(app, id, p.account_id, &who.who);
    if (rc == -ENOENT)
        api_reply_not_found(r, MAPBOX_NOT_FOUND);
    else if (rc == -EPERM)
        api_reply_error(r, 400, API_DEFAULT_TOKEN_KEPT, "default_token");
    else if (rc < 0)
        api_reply_error(r, 500, "Could not delete the token", "internal_error");
    else
        reply_json(r, 204, NULL);
out:
    principal_free(&p);
}

/* ---- GET /tokens/v2 --------------------------------------------------------- */

static const char *usage_name(enum principal_kind k)
{
    switch (k) {
    case PRINCIPAL_PK: return "pk";
    case PRINCIPAL_SK: return "sk";
    case PRINCIPAL_TK: return "tk";
    case PRINCIPAL_SESSION: return "session";
    }
    return "sk";
}

/* What we know about the presented credential. Only verified facts are
 * reported: a malformed or forged credential gets no details beyond the kind
 * its prefix claims. */
static void write_validity_token(struct json_out *o, const char *cred, enum auth_result res,
                                 const struct principal *p)
{
    bool known = (res == AUTH_OK || res == AUTH_EXPIRED || res == AUTH_REVOKED) && p->username[0];
    if (!known) {
        int kind = token_kind_of(cred);
        if (res == AUTH_INVALID && kind >= 0)
            json_out_raw(o, kind == TOKEN_PK   ? "{\"usage\":\"pk\"}"
                            : kind == TOKEN_SK ? "{\"usage\":\"sk\"}"
                                               : "{\"usage\":\"tk\"}");
        else
            json_out_raw(o, "{}");
        return;
    }
    json_out_raw(o, "{\"usage\":");
    json_out_string(o, usage_name(p->kind));
    json_out_raw(o, ",\"user\":");
    json_out_string(o, p->username);
    if (p->resources.n) {
        json_out_raw(o, ",\"resources\":");
        json_out_strings(o, &p->resources);
    }
    if (p->kind == PRINCIPAL_PK || p->kind == PRINCIPAL_SK) {
        json_out_raw(o, ",\"authorization\":");
        json_out_string(o, p->token_id);
        json_out_raw(o, "}");
        return;
    }
    char created[TIME_RFC3339_LEN], expires[TIME_RFC3339_LEN];
    time_format_rfc3339(p->created, created);
    time_format_rfc3339(p->expires, expires);
    json_out_raw(o, ",\"expires\":");
    json_out_string(o, expires);
    json_out_raw(o, ",\"created\":");
    json_out_string(o, created);
    json_out_raw(o, ",\"scopes\":");
    json_out_strings(o, &p->token_scopes);
    json_out_raw(o, ",\"client\":\"api\"}");
}

struct check_reply {
    const char *cred;
    enum auth_result res;
    const struct principal *p;
};

static void write_check_reply(struct json_out *o, const void *ctx)
{
    const struct check_reply *c = ctx;
    json_out_raw(o, "{\"code\":");
    json_out_string(o, auth_result_name(c->res));
    json_out_raw(o, ",\"token\":");
    write_validity_token(o, c->cred, c->res, c->p);
    json_out_raw(o, "}");
}

/* Every protected request's cost is dominated by this check, so its reply is
 * written directly instead of through a cJSON tree (see bench/README.md). */
static void handle_check(struct request *r)
{
    const char *cred = auth_credential(r);
    if (!cred) {
        api_reply_unauthorized(r, AUTH_NONE);
        return;
    }
    struct principal p;
    enum auth_result res = auth_verify(request_app(r), cred, &p);
    if (res == AUTH_UNAVAILABLE) {
        principal_free(&p);
        api_reply_unauthorized(r, res);
        return;
    }
    if (res == AUTH_OK)
        request_set_principal(r, p.account_id, p.token_id);
    api_reply_written(r, 200, write_check_reply, &(struct check_reply){cred, res, &p});
    principal_free(&p);
}

/* ---- GET /scopes/v1/{username} ------------------------------------------------ */

static void handle_scopes(struct request *r)
{
    struct app *app = request_app(r);
    struct principal p;
    struct account a = {0};
    struct scope_def *defs = NULL;
    size_t n = 0;
    if (!mapbox_begin(r, &p, "scopes:list"))
        goto out;
    /* The scopes this account may grant: its current grants, whatever the
     * calling token itself holds. */
    if (app->store->ops->account_get_by_id(app->store, p.account_id, &a) < 0) {
        api_reply_not_found(r, MAPBOX_NOT_FOUND);
        goto out;
    }
    if (app->store->ops->scope_list(app->store, &defs, &n) < 0) {
        api_reply_error(r, 500, "Could not list scopes", "internal_error");
        goto out;
    }
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        if (!strlist_contains(&a.scopes, defs[i].id))
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", defs[i].id);
        cJSON_AddStringToObject(o, "description", defs[i].description);
        if (defs[i].is_public)
            cJSON_AddBoolToObject(o, "public", true);
        cJSON_AddItemToArray(arr, o);
    }
    reply_json(r, 200, arr);
out:
    free(defs);
    account_free(&a);
    principal_free(&p);
}

void api_tokens_mapbox_register(struct server *srv)
{
    server_route(srv, "GET", "/tokens/v2", handle_check, 0);
    server_route(srv, "GET", "/tokens/v2/{}", handle_list, 0);
    server_route(srv, "POST", "/tokens/v2/{}", handle_create, ROUTE_OFFLOAD);
    server_route(srv, "PATCH", "/tokens/v2/{}/{}", handle_update, ROUTE_OFFLOAD);
    server_route(srv, "DELETE", "/tokens/v2/{}/{}", handle_delete, ROUTE_OFFLOAD);
    server_route(srv, "GET", "/scopes/v1/{}", handle_scopes, 0);
}
