/* Carbon Mapper style scoped tokens under /api/v1/account/tokens: the
 * create-stac flow of seed 000, listing and revoking. Authorized by a session
 * access JWT. Writes run on the worker pool (ROUTE_OFFLOAD). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "app.h"
#include "util/json.h"
#include "http/server.h"
#include "store/store.h"
#include "util/timeutil.h"
#include "auth/tokens.h"

#define DAY_MS (86400LL * 1000)
static const char *const stac_scopes[] = {"stac", "catalog:read"};

static void handle_create_stac(struct request *r)
{
    struct app *app = request_app(r);
    struct principal p;
    cJSON *body = NULL;
    struct account a = {0};
    struct strlist scopes = STRLIST_INIT, bounds = STRLIST_INIT;
    bool bounds_given;
    if (!api_authenticate_session(r, &p))
        goto out;
    if (!(body = api_parse_body(r)))
        goto out;
    bool wrong_date = false, wrong_name = false;
    const char *date = api_json_string(body, "expiration_date", &wrong_date);
    const char *name = api_json_string(body, "name", &wrong_name);
    int64_t day_start;
    if (!date || wrong_date) {
        api_reply_validation(r, "expiration_date",
                             wrong_date ? "Input should be a valid date" : "Field required",
                             wrong_date ? "date_type" : "missing");
        goto out;
    }
    if (!name || wrong_name) {
        api_reply_validation(r, "name", wrong_name ? "Input should be a valid string" : "Field required",
                             wrong_name ? "string_type" : "missing");
        goto out;
    }
    if (!api_read_resources(r, &p, body, &bounds, &bounds_given))
        goto out;
    if (!name[0] || strlen(name) > TOKEN_NOTE_MAX) {
        api_reply_validation(r, "name", "Name must be 1 to 256 bytes of UTF-8", "string_length");
        goto out;
    }
    if (time_parse_date(date, &day_start) < 0) {
        api_reply_validation(r, "expiration_date", "Input should be a valid date in the format YYYY-MM-DD",
                             "date_from_datetime_parsing");
        goto out;
    }
    int64_t now = time_now_ms(), today = now - now % DAY_MS;
    if (day_start < today) {
        api_reply_validation(r, "expiration_date", "Expiration date must not be in the past",
                             "value_error");
        goto out;
    }
    if (day_start > today + (int64_t)app->cfg.max_token_days * DAY_MS) {
        char msg[96];
        snprintf(msg, sizeof(msg), "Expiration date must be at most %d days ahead",
                 app->cfg.max_token_days);
        api_reply_validation(r, "expiration_date", msg, "value_error");
        goto out;
    }
    for (size_t i = 0; i < sizeof(stac_scopes) / sizeof(stac_scopes[0]); i++) {
        if (!principal_has_scope(&p, stac_scopes[i])) {
            api_reply_insufficient_scope(r, stac_scopes[i]);
            goto out;
        }
        strlist_add(&scopes, stac_scopes[i]);
    }
    if (app->store->ops->account_get_by_id(app->store, p.account_id, &a) < 0) {
        api_reply_not_found(r, "Account not found");
        goto out;
    }
    /* Valid through the end of expiration_date, UTC. */
    struct token_spec spec = {.scopes = &scopes, .note = name, .resources = &bounds,
                              .expires_at = day_start + DAY_MS, .usage = TOKEN_SK};
    struct token_record t;
    char *value = NULL;
    int rc = tokens_create(app, &a, &spec, &t, &value);
    if (rc == -EPERM) { /* grants removed since the session was checked */
        api_reply_insufficient_scope(r, "stac");
        goto out;
    }
    if (rc == -ERANGE) { /* token_max_lifetime_days is shorter than max_token_days */
        api_reply_validation(r, "expiration_date", "Expiration date is beyond the maximum token"
                             " lifetime", "value_error");
        goto out;
    }
    if (rc < 0) {
        api_reply_error(r, 500, "Could not create the token", "internal_error");
        goto out;
    }
    char created[TIME_RFC3339_LEN], date_out[11];
    time_format_rfc3339(t.created, created);
    memcpy(date_out, date, 10); /* time_parse_date accepted exactly YYYY-MM-DD */
    date_out[10] = '\0';
    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "id", t.id);
    cJSON_AddStringToObject(res, "name", t.note);
    cJSON_AddStringToObject(res, "token_value", value);
    cJSON_AddItemToObject(res, "scopes", json_from_strlist(&t.scopes));
    cJSON_AddStringToObject(res, "expiration_date", date_out);
    cJSON_AddStringToObject(res, "created", created);
    cJSON_AddStringToObject(res, "usage", "sk");
    if (t.resources.n) /* the platform's reply keeps its shape for unbound tokens */
        cJSON_AddItemToObject(res, "resources", json_from_strlist(&t.resources));
    reply_json(r, 200, res);
    struct api_who who;
    api_who(r, &p, &who);
    audit_log(app->audit, AUDIT_TOKEN_CREATE, p.account_id, t.id, &who.who, "sk (create-stac)");
    crypto_wipe(value, strlen(value));
    free(value);
    token_record_free(&t);
out:
    strlist_free(&scopes);
    strlist_free(&bounds);
    account_free(&a);
    cJSON_Delete(body);
    principal_free(&p);
}

static cJSON *token_summary_json(struct app *app, const struct token_record *t)
{
    char created[TIME_RFC3339_LEN], modified[TIME_RFC3339_LEN];
    time_format_rfc3339(t->created, created);
    time_format_rfc3339(t->modified, modified);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", t->id);
    cJSON_AddStringToObject(o, "name", t->note);
    cJSON_AddStringToObject(o, "usage", t->usage == TOKEN_PK ? "pk" : "sk");
    cJSON_AddItemToObject(o, "scopes", json_from_strlist(&t->scopes));
    if (t->resources.n)
        cJSON_AddItemToObject(o, "resources", json_from_strlist(&t->resources));
    cJSON_AddBoolToObject(o, "default", t->is_default);
    cJSON_AddStringToObject(o, "created", created);
    cJSON_AddStringToObject(o, "modified", modified);
    json_add_time(o, "expires", t->expires_at);
    json_add_time(o, "last_used", t->last_used_at);
    cJSON_AddBoolToObject(o, "expiring_soon", tokens_expiring_soon(app, t->expires_at));
    if (t->replaced_by[0])
        cJSON_AddStringToObject(o, "replaced_by", t->replaced_by);
    return o;
}

static void handle_list(struct request *r)
{
    struct app *app = request_app(r);
    struct principal p;
    if (!api_authenticate_session(r, &p)) {
        principal_free(&p);
        return;
    }
    cJSON *arr = cJSON_CreateArray();
    struct token_query q = {.account_id = p.account_id, .usage = -1, .is_default = -1,
                            .sortby = TOKEN_SORT_CREATED, .limit = 100};
    int rc = 0;
    /* Walk every page: this listing is not paginated for the caller. */
    for (char last[TOKEN_ID_LEN + 1] = "";;) {
        struct token_record *v = NULL;
        size_t n = 0;
        q.start_after = last[0] ? last : NULL;
        rc = app->store->ops->token_list(app->store, &q, &v, &n);
        if (rc < 0)
            break;
        tokens_merge_last_used(app, v, n);
        for (size_t i = 0; i < n; i++)
            if (tokens_listed(&v[i]))
                cJSON_AddItemToArray(arr, token_summary_json(app, &v[i]));
        if (n)
            snprintf(last, sizeof(last), "%s", v[n - 1].id);
        token_records_free(v, n);
        if (n < q.limit)
            break;
    }
    if (rc < 0) {
        cJSON_Delete(arr);
        api_reply_error(r, 500, "Could not list tokens", "internal_error");
    } else {
        reply_json(r, 200, arr);
    }
    principal_free(&p);
}

static void handle_delete(struct request *r)
{
    struct app *app = request_app(r);
    struct principal p;
    if (!api_authenticate_session(r, &p)) {
        principal_free(&p);
        return;
    }
    struct api_who who;
    api_who(r, &p, &who);
    int rc = tokens_revoke(app, request_param(r, 0), p.account_id, &who.who);
    if (rc == -ENOENT)
        api_reply_not_found(r, "Token not found");
    else if (rc == -EPERM)
        api_reply_error(r, 400, API_DEFAULT_TOKEN_KEPT, "default_token");
    else if (rc < 0)
        api_reply_error(r, 500, "Could not revoke the token", "internal_error");
    else
        reply_json(r, 204, NULL);
    principal_free(&p);
}

#define GRACE_MAX_S (7 * 86400)

/* POST /api/v1/account/tokens/{id}/rotate {"grace_seconds": 0..604800}: a new
 * secret (a new token with the same name, scopes, restrictions and expiry);
 * the old one keeps working for the grace period, then is revoked. */
static void handle_rotate(struct request *r)
{
    struct app *app = request_app(r);
    struct principal p;
    cJSON *body = NULL;
    struct account a = {0};
    struct token_record t = {0};
    char *value = NULL;
    if (!api_authenticate_session(r, &p))
        goto out;
    size_t len;
    request_body(r, &len);
    long long grace = 0;
    if (len) { /* an empty body rotates without grace */
        if (!(body = api_parse_body(r)))
            goto out;
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(body, "grace_seconds");
        if (g && (!cJSON_IsNumber(g) || g->valuedouble != (double)(long long)g->valuedouble ||
                  g->valuedouble < 0 || g->valuedouble > GRACE_MAX_S)) {
            api_reply_validation(r, "grace_seconds",
                                 "grace_seconds must be a whole number from 0 to 604800 (7 days)",
                                 "value_error");
            goto out;
        }
        grace = g ? (long long)g->valuedouble : 0;
    }
    if (app->store->ops->account_get_by_id(app->store, p.account_id, &a) < 0) {
        api_reply_not_found(r, "Token not found");
        goto out;
    }
    struct api_who who;
    api_who(r, &p, &who);
    int rc = tokens_rotate(app, &a, request_param(r, 0), grace * 1000, &who.who, &t, &value);
    if (rc == -ENOENT) {
        api_reply_not_found(r, "Token not found");
        goto out;
    }
    if (rc == -EPERM) {
        api_reply_validation(r, "scopes", "The account is no longer granted every scope of this"
                             " token; change its scopes first", "value_error");
        goto out;
    }
    if (rc < 0) {
        api_reply_error(r, 500, "Could not rotate the token", "internal_error");
        goto out;
    }
    cJSON *res = token_summary_json(app, &t);
    cJSON_AddStringToObject(res, "token_value", value);
    cJSON_AddStringToObject(res, "replaces", request_param(r, 0));
    /* What the store settled on: the grace, or the old token's own expiry
     * when that comes first. */
    struct token_record old = {0};
    if (app->store->ops->token_get(app->store, request_param(r, 0), &old) == 0)
        json_add_time(res, "old_valid_until", old.expires_at);
    token_record_free(&old);
    reply_json(r, 200, res);
out:
    if (value) {
        crypto_wipe(value, strlen(value));
        free(value);
    }
    token_record_free(&t);
    account_free(&a);
    cJSON_Delete(body);
    principal_free(&p);
}

void api_tokens_cm_register(struct server *srv)
{
    server_route(srv, "POST", "/api/v1/account/tokens/create-stac", handle_create_stac,
                 ROUTE_OFFLOAD);
    server_route(srv, "GET", "/api/v1/account/tokens", handle_list, 0);
    server_route(srv, "DELETE", "/api/v1/account/tokens/{}", handle_delete, ROUTE_OFFLOAD);
    server_route(srv, "POST", "/api/v1/account/tokens/{}/rotate", handle_rotate, ROUTE_OFFLOAD);
}
