/* POST /api/v1/catalog/sign and GET /api/v1/catalog/sign?href=: URLs that
 * open one asset, or every asset under a key prefix, without a header, for
 * at most an hour and only while the signing token lives (sign.h,
 * auth/signedurl.h). The caller must reach what it signs: visible to its
 * groups and within its resource bounds. */
#include "api/sign.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/baseurl.h"
#include "api/bounds.h"
#include "app.h"
#include "auth/resources.h"
#include "auth/signedurl.h"
#include "catalog/catalog.h"
#include "http/server.h"
#include "util/buf.h"
#include "util/timeutil.h"
#include "util/url.h"

bool url_signer_for(struct request *r, const struct principal *p, int64_t expires_in,
                    struct url_signer *s)
{
    if (!p->username[0]) {
        api_reply_unauthorized(r, AUTH_NONE);
        return false;
    }
    if (!principal_has_scope(p, "catalog:read")) {
        api_reply_insufficient_scope(r, "catalog:read");
        return false;
    }
    /* A session has no token to revoke, and a tk minted by one no parent. */
    if (p->kind == PRINCIPAL_SESSION || !p->token_id[0]) {
        api_reply_error(r, 403,
                        "Signed URLs end with the token that signs them: sign with an API "
                        "token (pk, sk, or a tk minted by one)",
                        "token_required");
        return false;
    }
    int64_t now = time_now_ms() / 1000;
    s->token_key = request_app(r)->token_key;
    snprintf(s->token_id, sizeof(s->token_id), "%s", p->token_id);
    s->expires = now + expires_in;
    if (p->expires && p->expires / 1000 < s->expires)
        s->expires = p->expires / 1000;
    return true;
}

char *url_signer_query(const struct url_signer *s, const char *key)
{
    return signedurl_query(s->token_key, s->token_id, s->expires, NULL, key);
}

void sign_add_auth_schemes(cJSON *doc, const char *base)
{
    cJSON *ext = cJSON_GetObjectItemCaseSensitive(doc, "stac_extensions");
    if (!cJSON_IsArray(ext)) {
        cJSON_DeleteItemFromObjectCaseSensitive(doc, "stac_extensions");
        ext = cJSON_AddArrayToObject(doc, "stac_extensions");
    }
    bool listed = false;
    const cJSON *e;
    cJSON_ArrayForEach(e, ext) listed |=
        cJSON_IsString(e) && strcmp(e->valuestring, STAC_AUTH_EXTENSION) == 0;
    if (!listed)
        cJSON_AddItemToArray(ext, cJSON_CreateString(STAC_AUTH_EXTENSION));
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "auth:schemes");
    cJSON *schemes = cJSON_AddObjectToObject(doc, "auth:schemes");
    cJSON *bearer = cJSON_AddObjectToObject(schemes, "bearer");
    cJSON_AddStringToObject(bearer, "type", "http");
    cJSON_AddStringToObject(bearer, "scheme", "bearer");
    cJSON_AddStringToObject(bearer, "description",
                            "A Tessera token (pk, sk or tk) with catalog:read in the "
                            "Authorization header");
    cJSON *signed_url = cJSON_AddObjectToObject(schemes, "signed_url");
    cJSON_AddStringToObject(signed_url, "type", "signedUrl");
    cJSON_AddStringToObject(signed_url, "description",
                            "A URL signed for one asset (or a key prefix) for up to an hour, "
                            "valid while the signing token lives; also ?sign=true on STAC "
                            "item and search requests");
    cJSON_AddStringToObject(signed_url, "method", "GET");
    char api[400];
    snprintf(api, sizeof(api), "%s/api/v1/catalog/sign", base);
    cJSON_AddStringToObject(signed_url, "authorizationApi", api);
    cJSON *params = cJSON_AddObjectToObject(signed_url, "parameters");
    cJSON *href = cJSON_AddObjectToObject(params, "href");
    cJSON_AddStringToObject(href, "in", "query");
    cJSON_AddTrueToObject(href, "required");
    cJSON_AddStringToObject(href, "description", "The asset's URL");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(href, "schema"), "type", "string");
    cJSON_AddStringToObject(signed_url, "responseField", "href");
}

/* ---- the route ------------------------------------------------------------ */

struct sign_request {
    const char *href, *prefix;
    int64_t expires_in;
};

static bool read_expires_in(struct request *r, const char *text, const cJSON *num, int64_t *out)
{
    double v = SIGNEDURL_MAX_S;
    char *end = NULL;
    if (text)
        v = strtod(text, &end);
    else if (num)
        v = cJSON_IsNumber(num) ? num->valuedouble : -1;
    if ((text && (end == text || *end)) || !(v >= 1 && v <= SIGNEDURL_MAX_S) || v != (int64_t)v) {
        char msg[96];
        snprintf(msg, sizeof(msg), "expires_in must be a whole number of seconds, 1 to %d",
                 SIGNEDURL_MAX_S);
        api_reply_validation(r, "expires_in", msg, "value_error");
        return false;
    }
    *out = (int64_t)v;
    return true;
}

/* The request's href or prefix and expires_in, from the query (GET) or a
 * JSON body (POST). False after a reply. */
static bool read_sign_request(struct request *r, const cJSON *body, struct sign_request *out)
{
    bool wrong = false;
    if (body) {
        out->href = api_json_string(body, "href", &wrong);
        if (!wrong)
            out->prefix = api_json_string(body, "prefix", &wrong);
    } else {
        out->href = request_query(r, "href");
        out->prefix = request_query(r, "prefix");
    }
    if (wrong || (!out->href == !out->prefix)) {
        api_reply_validation(r, out->href ? "prefix" : "href",
                             "give exactly one of href (an asset's URL or key) and prefix "
                             "(an asset key prefix), as strings",
                             "value_error");
        return false;
    }
    return read_expires_in(r, body ? NULL : request_query(r, "expires_in"),
                           body ? cJSON_GetObjectItemCaseSensitive(body, "expires_in") : NULL,
                           &out->expires_in);
}

/* The asset key of href, reachable by the caller, into key. False after a
 * reply (422 not an asset of ours, 404 not found for this caller). */
static bool reachable_key(struct request *r, const struct principal *p, const char *href, char *key,
                          size_t keylen)
{
    struct app *app = request_app(r);
    if (!catalog_asset_key(href, key, keylen)) {
        api_reply_validation(r, "href", "href is not an asset of this catalog", "value_error");
        return false;
    }
    struct viewer v = viewer_of(p);
    int rc = bounds_asset_reachable(app->catalog, &v, key);
    if (rc == 0)
        rc = catalog_asset_visible(app->catalog, &p->groups, key);
    if (rc == -ENOENT)
        api_reply_not_found(r, "Asset not found");
    else if (rc < 0)
        api_reply_catalog_error(r, rc);
    return rc == 0;
}

/* A prefix must be an asset key prefix within the caller's bounds. */
static bool prefix_allowed(struct request *r, const struct principal *p, const char *prefix)
{
    struct strlist asked = STRLIST_INIT;
    struct buf entry = {0};
    char msg[200];
    buf_printf(&entry, "%s%s", RESOURCE_ASSET, prefix);
    int rc = entry.oom || strlist_add(&asked, entry.s) < 0
                 ? -ENOMEM
                 : resources_normalize(&asked, msg, sizeof(msg));
    if (rc == -EINVAL) {
        api_reply_validation(r, "prefix", "prefix is not an asset key prefix", "value_error");
    } else if (rc < 0) {
        api_reply_error(r, 500, "out of memory", NULL);
    } else if (!resources_cover(&p->resources, &asked)) {
        api_reply_error(r, 403, "This prefix is outside the token's resources",
                        "resource_not_allowed");
        rc = -EPERM;
    }
    free(entry.s);
    strlist_free(&asked);
    return rc == 0;
}

static void h_sign(struct request *r)
{
    struct principal p = {0};
    cJSON *body = NULL;
    char *query = NULL, *path = NULL;
    struct sign_request sr = {0};
    if (!api_authenticate(r, &p, "catalog:read"))
        goto out;
    if (strcmp(request_method(r), "POST") == 0 && !(body = api_parse_body(r)))
        goto out;
    struct url_signer s;
    char key[1100];
    if (!read_sign_request(r, body, &sr) || !url_signer_for(r, &p, sr.expires_in, &s))
        goto out;
    if (sr.href ? !reachable_key(r, &p, sr.href, key, sizeof(key))
                : !prefix_allowed(r, &p, sr.prefix))
        goto out;
    query = signedurl_query(s.token_key, s.token_id, s.expires, sr.prefix, sr.href ? key : NULL);
    path = url_encode(sr.href ? key : sr.prefix, "/");
    char base[320], expires[TIME_RFC3339_LEN];
    request_base_url(r, base, sizeof(base));
    time_format_rfc3339(s.expires * 1000, expires);
    size_t n = query && path ? strlen(base) + strlen(path) + strlen(query) + 40 : 0;
    char *href = n ? malloc(n) : NULL;
    if (!href) {
        api_reply_error(r, 500, "out of memory", NULL);
        goto out;
    }
    snprintf(href, n, "%s/api/v1/catalog/asset/%s?%s", base, path, query);
    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "href", href);
    if (sr.prefix) {
        /* Any key under the prefix: its asset URL with this query string. */
        cJSON_AddStringToObject(res, "prefix", sr.prefix);
        cJSON_AddStringToObject(res, "query", query);
    }
    cJSON_AddStringToObject(res, "expires", expires);
    cJSON_AddNumberToObject(res, "expires_in", (double)(s.expires - time_now_ms() / 1000));
    reply_json(r, 200, res);
    free(href);
out:
    free(query);
    free(path);
    cJSON_Delete(body);
    principal_free(&p);
}

void api_sign_register(struct server *srv)
{
    server_route(srv, "GET", "/api/v1/catalog/sign", h_sign, 0);
    server_route(srv, "POST", "/api/v1/catalog/sign", h_sign, 0);
}
