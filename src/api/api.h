/* Shared helpers for the api_*.c handlers: dialect-aware error bodies, JSON
 * body parsing, authentication + scope checks. HTTP status codes are chosen
 * only in api_*.c. Called on the thread running the handler. */
#ifndef TESSERA_API_H
#define TESSERA_API_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "auth/audit.h"
#include "auth/auth.h"

struct request;
struct server;

/* Why the default public token cannot be revoked (tokens_revoke -EPERM). */
#define API_DEFAULT_TOKEN_KEPT                                                                    \
    "The default public token cannot be revoked; rotate it to get a new value"
/* The STAC landing page advertises this type for its service-desc link (STAC
 * API core, OGC API Common), and /api/v1/openapi.json is served with exactly
 * it: clients may compare the two. */
#define API_OPENAPI_TYPE "application/vnd.oai.openapi+json;version=3.1"

/* Error body in the dialect of the path: {"message": msg} under /tokens/v2
 * and /scopes/v1, else {"detail": msg, "code": code} (code omitted if NULL). */
void api_reply_error(struct request *r, int status, const char *message, const char *code);
/* 400 with code invalid_parameter: a parameter the caller got wrong, named
 * in msg. */
void api_reply_invalid(struct request *r, const char *msg);
/* 404 with code not_found; what says what was not found. */
void api_reply_not_found(struct request *r, const char *what);
/* A catalog failure: 500 out of memory (-ENOMEM), else 503. */
void api_reply_catalog_error(struct request *r, int rc);
/* A JSON reply written by write(o, ctx) through json_out, without a cJSON
 * tree: for the hot routes, where building and printing a tree costs more
 * than the work behind them (bench/README.md). */
struct json_out;
void api_reply_written(struct request *r, int status,
                       void (*write)(struct json_out *o, const void *ctx), const void *ctx);
/* 422 {"detail": [{"loc": ["body", field], "msg": msg, "type": type}]} for
 * /api/v1, {"message": msg} for Mapbox paths. field may be NULL. */
void api_reply_validation(struct request *r, const char *field, const char *msg, const char *type);
/* 401 with WWW-Authenticate: Bearer ... for the given outcome; 503 with
 * Retry-After for AUTH_UNAVAILABLE. */
void api_reply_unauthorized(struct request *r, enum auth_result why);
/* 403 with WWW-Authenticate: Bearer error="insufficient_scope" scope="...". */
void api_reply_insufficient_scope(struct request *r, const char *scope);

/* Parses the body as a JSON object. On failure replies (400 malformed JSON /
 * invalid UTF-8, 422 when not an object) and returns NULL. */
cJSON *api_parse_body(struct request *r);
/* The same for a body that may be any JSON value (400 only). */
cJSON *api_parse_json(struct request *r);
/* Reads the "resources" member of a create or update body into out:
 * absent or null leaves out as the authorizer's bounds (inherit, so a bound
 * token never mints an unbound one) and sets *given false; an array of
 * resource strings must lie within p's bounds (tokens_check_resources).
 * Replies 422 and returns false when it is not acceptable. */
bool api_read_resources(struct request *r, const struct principal *p, const cJSON *body,
                        struct strlist *out, bool *given);
/* Typed field access: NULL when absent; *wrong_type set when present with
 * another type (then the caller answers 422). */
const char *api_json_string(const cJSON *obj, const char *name, bool *wrong_type);

/* Authenticates the request and checks scope (NULL = any valid credential).
 * On failure replies (401/403) and returns false; on success p is filled
 * (call principal_free). */
bool api_authenticate(struct request *r, struct principal *p, const char *scope);
/* Same, but only a session access JWT is accepted. */
bool api_authenticate_session(struct request *r, struct principal *p);

/* Who is acting, for the audit trail: the principal (NULL: anonymous) and
 * the request's client address, user agent and request id. out owns the
 * actor text; the rest points into the request. */
struct api_who {
    struct audit_who who;
    char actor[48];
};
void api_who(struct request *r, const struct principal *p, struct api_who *out);

/* Registers every route of every api_*.c module. */
void api_register_all(struct server *srv);
void api_account_register(struct server *srv);
void api_tokens_cm_register(struct server *srv);
void api_ops_register(struct server *srv);
void api_stac_register(struct server *srv);   /* api_stac.c: STAC API */
void api_asset_register(struct server *srv);  /* api_asset.c: /api/v1/catalog/asset/ */
void api_catalog_cm_register(struct server *srv); /* api_catalog_*.c: /api/v1/catalog/... */
void api_tokens_mapbox_register(struct server *srv); /* api_tokens_mapbox.c: /tokens/v2, /scopes/v1 */
void api_resource_register(struct server *srv); /* api_resource.c: auth/check, oauth introspect+revoke */
void api_leak_register(struct server *srv); /* api_leak.c: token/report-leak, token/self */
void api_docs_register(struct server *srv);   /* api_docs.c: openapi.json, docs, web pages */

#endif
