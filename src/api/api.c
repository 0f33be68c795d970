/* Helpers shared by all handlers: the two error dialects (Mapbox-style
 * {"message"} under /tokens/v2 and /scopes/v1, Django-Ninja-style
 * {"detail","code"} elsewhere), strict JSON body parsing, and the
 * authenticate-then-authorize step. Called on the thread running a handler. */
#include "api/api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/cors.h"
#include "auth/resources.h"
#include "auth/tokens.h"
#include "util/json.h"
#include "http/server.h"

/* Whole segments only: "/tokens/v20" is not under /tokens/v2. */
static bool is_mapbox_path(const char *path)
{
    return (strncmp(path, "/tokens/v2", 10) == 0 || strncmp(path, "/scopes/v1", 10) == 0) &&
           (path[10] == '\0' || path[10] == '/');
}

void api_reply_error(struct request *r, int status, const char *message, const char *code)
{
    cJSON *body = cJSON_CreateObject();
    if (is_mapbox_path(request_path(r))) {
        cJSON_AddStringToObject(body, "message", message);
    } else {
        cJSON_AddStringToObject(body, "detail", message);
        if (code)
            cJSON_AddStringToObject(body, "code", code);
    }
    reply_json(r, status, body);
}

void api_reply_invalid(struct request *r, const char *msg)
{
    api_reply_error(r, 400, msg, "invalid_parameter");
}

void api_reply_not_found(struct request *r, const char *what)
{
    api_reply_error(r, 404, what, "not_found");
}

void api_reply_catalog_error(struct request *r, int rc)
{
    if (rc == -ENOMEM)
        api_reply_error(r, 500, "out of memory", NULL);
    else
        api_reply_error(r, 503, "The catalog is temporarily unavailable", "catalog_unavailable");
}

/* Most replies fit the stack buffer; a larger one is written again. */
void api_reply_written(struct request *r, int status,
                       void (*write)(struct json_out *o, const void *ctx), const void *ctx)
{
    char small[2048];
    struct json_out o;
    size_t len;
    json_out_init(&o, small, sizeof(small));
    write(&o, ctx);
    const char *text = json_out_text(&o, &len);
    if (text) {
        reply_json_text(r, status, text, len);
        return;
    }
    char *big = json_out_alloc(write, ctx, &len);
    if (big) {
        reply_json_text(r, status, big, len);
        free(big);
        return;
    }
    api_reply_error(r, 500, "Out of memory", "internal_error");
}

void api_reply_validation(struct request *r, const char *field, const char *msg, const char *type)
{
    if (is_mapbox_path(request_path(r))) {
        api_reply_error(r, 422, msg, NULL);
        return;
    }
    cJSON *body = cJSON_CreateObject();
    cJSON *detail = cJSON_AddArrayToObject(body, "detail");
    cJSON *item = cJSON_CreateObject();
    cJSON *loc = cJSON_AddArrayToObject(item, "loc");
    cJSON_AddItemToArray(loc, cJSON_CreateString("body"));
    if (field)
        cJSON_AddItemToArray(loc, cJSON_CreateString(field));
    cJSON_AddStringToObject(item, "msg", msg);
    cJSON_AddStringToObject(item, "type", type);
    cJSON_AddItemToArray(detail, item);
    reply_json(r, 422, body);
}

void api_reply_unauthorized(struct request *r, enum auth_result why)
{
    bool mapbox = is_mapbox_path(request_path(r));
    if (why == AUTH_UNAVAILABLE) {
        /* Fail closed: this node lost touch with the database long enough
         * that it cannot vouch for any revocation, so it answers nothing. */
        reply_header(r, "Retry-After", "1");
        api_reply_error(r, 503, "This node cannot verify credentials right now; retry shortly",
                        "verification_unavailable");
        return;
    }
    if (why == AUTH_NONE) {
        reply_header(r, "WWW-Authenticate", "Bearer realm=\"tessera\"");
        api_reply_error(r, 401, mapbox ? "Unauthorized" : "Authentication credentials were not provided.",
                        "not_authenticated");
        return;
    }
    /* Unknown, wrong, expired and revoked credentials all look the same here;
     * only GET /tokens/v2 tells them apart (SPEC §5 rule 4). */
    reply_header(r, "WWW-Authenticate",
                 "Bearer realm=\"tessera\", error=\"invalid_token\", "
                 "error_description=\"The access token is invalid, expired or revoked\"");
    api_reply_error(r, 401, mapbox ? "Not Authorized - Invalid Token" : "Token is invalid or expired",
                    "token_not_valid");
}

void api_reply_insufficient_scope(struct request *r, const char *scope)
{
    char header[160], msg[128];
    snprintf(header, sizeof(header),
             "Bearer realm=\"tessera\", error=\"insufficient_scope\", scope=\"%.64s\"", scope);
    snprintf(msg, sizeof(msg), "This token lacks the required scope: %.64s", scope);
    reply_header(r, "WWW-Authenticate", header);
    api_reply_error(r, 403, msg, "insufficient_scope");
}

/* Strict UTF-8 (no overlongs, no surrogates, ≤ U+10FFFF): cJSON does not
 * check encoding, and we must not store or echo broken text. */
static bool utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            if (c == 0)
                return false;
            i++;
            continue;
        }
        size_t n;
        unsigned min;
        unsigned cp;
        if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; min = 0x10000; }
        else return false;
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

/* True when a JSON string in text spells an escaped NUL (\u0000). cJSON
 * keeps strings NUL-terminated, so "pw\u0000x" would silently arrive as
 * "pw": a password, e-mail or token name must not be truncated unseen. */
static bool has_escaped_nul(const char *s, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] != '\\')
            continue;
        if (s[i + 1] == 'u' && i + 5 < len && strncmp(s + i + 2, "0000", 4) == 0)
            return true;
        i++; /* skip the escaped character, so "\\u0000" is not a match */
    }
    return false;
}

cJSON *api_parse_json(struct request *r)
{
    size_t len;
    const char *body = request_body(r, &len);
    if (len == 0) {
        api_reply_error(r, 400, "Request body is empty; a JSON object is expected", "parse_error");
        return NULL;
    }
    if (!utf8_valid((const unsigned char *)body, len)) {
        api_reply_error(r, 400, "Request body is not valid UTF-8", "parse_error");
        return NULL;
    }
    if (has_escaped_nul(body, len)) {
        api_reply_error(r, 400, "JSON strings must not contain NUL (\\u0000)", "parse_error");
        return NULL;
    }
    /* cJSON's "require null terminated" wants the NUL inside the length;
     * request bodies always carry one, and utf8_valid refused inner NULs. */
    const char *end = NULL;
    cJSON *json = cJSON_ParseWithLengthOpts(body, len + 1, &end, true);
    if (!json)
        api_reply_error(r, 400, "Malformed JSON body", "parse_error");
    return json;
}

cJSON *api_parse_body(struct request *r)
{
    cJSON *json = api_parse_json(r);
    if (json && !cJSON_IsObject(json)) {
        cJSON_Delete(json);
        api_reply_validation(r, NULL, "Request body must be a JSON object", "type_error.dict");
        return NULL;
    }
    return json;
}

const char *api_json_string(const cJSON *obj, const char *name, bool *wrong_type)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!item || cJSON_IsNull(item))
        return NULL;
    if (!cJSON_IsString(item)) {
        *wrong_type = true;
        return NULL;
    }
    return item->valuestring;
}

bool api_authenticate(struct request *r, struct principal *p, const char *scope)
{
    enum auth_result res = auth_verify(request_app(r), auth_credential(r), p);
    if (res != AUTH_OK) {
        api_reply_unauthorized(r, res);
        return false;
    }
    request_set_principal(r, p->account_id, p->token_id);
    if (!auth_origin_allowed(p, r)) {
        api_reply_error(r, 403, "This token is not allowed from this URL", "url_not_allowed");
        return false;
    }
    if (scope && !principal_has_scope(p, scope)) {
        api_reply_insufficient_scope(r, scope);
        return false;
    }
    return true;
}

bool api_authenticate_session(struct request *r, struct principal *p)
{
    if (!api_authenticate(r, p, NULL))
        return false;
    if (p->kind != PRINCIPAL_SESSION) {
        /* Every 401 carries a Bearer challenge (SPEC §3, RFC 6750), this one
         * too: the credential is valid but of the wrong kind for here. */
        reply_header(r, "WWW-Authenticate",
                     "Bearer realm=\"tessera\", error=\"invalid_token\", "
                     "error_description=\"This endpoint needs a session access token\"");
        api_reply_error(r, 401, "This endpoint needs a session access token from token/pair",
                        "token_not_valid");
        return false;
    }
    return true;
}

void api_who(struct request *r, const struct principal *p, struct api_who *out)
{
    if (!p)
        snprintf(out->actor, sizeof(out->actor), "anonymous");
    else if (p->kind == PRINCIPAL_SESSION)
        snprintf(out->actor, sizeof(out->actor), "session");
    else if (p->kind == PRINCIPAL_TK)
        snprintf(out->actor, sizeof(out->actor), "tk:%s", p->token_id[0] ? p->token_id : "session");
    else
        snprintf(out->actor, sizeof(out->actor), "token:%s", p->token_id);
    out->who.actor = out->actor;
    out->who.client = request_client_addr(r);
    out->who.user_agent = request_header(r, "User-Agent");
    out->who.request_id = request_id(r);
}

void api_register_all(struct server *srv)
{
    api_ops_register(srv);
    api_account_register(srv);
    api_tokens_cm_register(srv);
    api_stac_register(srv);
    api_asset_register(srv);
    api_catalog_cm_register(srv);
    api_resource_register(srv);
    api_leak_register(srv);
    api_tokens_mapbox_register(srv);
    api_docs_register(srv);
    cors_register(srv);
}

bool api_read_resources(struct request *r, const struct principal *p, const cJSON *body,
                        struct strlist *out, bool *given)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(body, "resources");
    *given = item && !cJSON_IsNull(item);
    if (!*given) {
        if (strlist_copy(out, &p->resources) == 0)
            return true;
        api_reply_error(r, 500, "out of memory", NULL);
        return false;
    }
    char msg[200];
    if (!cJSON_IsArray(item) ||
        json_to_strlist(item, out, RESOURCES_MAX, RESOURCE_MAX_LEN) < 0) {
        snprintf(msg, sizeof(msg),
                 "resources must be an array of at most %d strings, each collection:<id> or "
                 "asset:<key prefix>",
                 RESOURCES_MAX);
        api_reply_validation(r, "resources", msg, "value_error");
        return false;
    }
    /* Its messages lead with the field, so that pages can place them. */
    if (tokens_check_resources(out, &p->resources, msg, sizeof(msg)) < 0) {
        api_reply_validation(r, "resources", msg, "value_error");
        return false;
    }
    return true;
}
