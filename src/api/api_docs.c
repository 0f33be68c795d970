/* Documentation and pages for people, served from files embedded at build
 * time (web/ → webassets.c): the OpenAPI document, the docs page (Swagger UI,
 * whose files npm installs into web/vendor/ and cmake/swagger_ui.cmake embeds
 * → swaggerassets.c), and the register / sign-in / password reset / tokens /
 * settings / audit pages, which talk to the JSON API. Static, so every handler
 * runs on the HTTP thread. */
#include <string.h>

#include "api/api.h"
#include "http/server.h"
#include "api/webassets.h"

/* The docs page runs Swagger UI: scripts, styles and the API calls of "Try
 * it out" from this origin only (Swagger UI sets styles through the DOM, and
 * its CSS draws icons from data: URIs), and it is never framed. */
#define DOCS_CSP                                                                                   \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "                   \
    "frame-ancestors 'none'"

static const struct web_asset *find_in(const struct web_asset *table, const char *name)
{
    for (const struct web_asset *a = table; a->name; a++)
        if (strcmp(a->name, name) == 0)
            return a;
    return NULL;
}

static const struct web_asset *find_asset(const char *name)
{
    return find_in(web_assets, name);
}

static const char *content_type_of(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {{".html", "text/html; charset=utf-8"},
                 {".css", "text/css; charset=utf-8"},
                 {".js", "text/javascript; charset=utf-8"},
                 {".json", "application/json"},
                 {".txt", "text/plain; charset=utf-8"}};
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static void serve_asset_as(struct request *r, const char *name, const char *type)
{
    const struct web_asset *a = find_asset(name);
    if (!a) {
        api_reply_not_found(r, "Not Found");
        return;
    }
    /* Pages carry no secrets, but they handle them: never let a page be
     * framed by another site. */
    reply_header(r, "X-Frame-Options", "DENY");
    reply_header(r, "Cache-Control", "no-cache");
    reply_static(r, 200, type ? type : content_type_of(a->name), a->data, a->len);
}

static void serve_asset(struct request *r, const char *name)
{
    serve_asset_as(r, name, NULL);
}

static void handle_openapi(struct request *r)
{
    serve_asset_as(r, "openapi.json", API_OPENAPI_TYPE);
}
static void handle_docs(struct request *r)
{
    reply_header(r, "Content-Security-Policy", DOCS_CSP);
    reply_header(r, "X-Content-Type-Options", "nosniff");
    serve_asset(r, "docs.html");
}

/* Swagger UI's own files, by name from the embedded allow-list (the files
 * CMakeLists.txt names in SWAGGER_UI_FILES; nothing else of the npm package
 * is in the binary). LICENSE and NOTICE have no extension: plain text. */
static void handle_swagger(struct request *r)
{
    const char *name = request_param(r, 0);
    const struct web_asset *a = find_in(swagger_ui_assets, name);
    if (!a) {
        api_reply_not_found(r, "Not Found");
        return;
    }
    const char *type =
        strchr(a->name, '.') ? content_type_of(a->name) : "text/plain; charset=utf-8";
    reply_header(r, "X-Content-Type-Options", "nosniff");
    reply_header(r, "Cache-Control", "no-cache");
    reply_static(r, 200, type, a->data, a->len);
}
static void handle_index(struct request *r)
{
    serve_asset(r, "index.html");
}
static void handle_register_page(struct request *r)
{
    serve_asset(r, "register.html");
}
static void handle_login_page(struct request *r)
{
    serve_asset(r, "login.html");
}
static void handle_forgot_page(struct request *r)
{
    serve_asset(r, "forgot.html");
}
static void handle_reset_page(struct request *r)
{
    serve_asset(r, "reset.html");
}
static void handle_tokens_page(struct request *r)
{
    serve_asset(r, "tokens.html");
}
static void handle_settings_page(struct request *r)
{
    serve_asset(r, "settings.html");
}
static void handle_audit_page(struct request *r)
{
    serve_asset(r, "audit.html");
}

static void handle_static(struct request *r)
{
    /* Only the shared stylesheet and script, and the docs page's script that
     * starts Swagger UI, are public under /static/. */
    const char *name = request_param(r, 0);
    if (strcmp(name, "app.css") != 0 && strcmp(name, "app.js") != 0 &&
        strcmp(name, "docs.js") != 0) {
        api_reply_not_found(r, "Not Found");
        return;
    }
    serve_asset(r, name);
}

void api_docs_register(struct server *srv)
{
    server_route(srv, "GET", "/api/v1/openapi.json", handle_openapi, 0);
    server_route(srv, "GET", "/api/v1/docs", handle_docs, 0);
    server_route(srv, "GET", "/", handle_index, 0);
    server_route(srv, "GET", "/account/register", handle_register_page, 0);
    server_route(srv, "GET", "/account/login", handle_login_page, 0);
    server_route(srv, "GET", "/account/tokens", handle_tokens_page, 0);
    server_route(srv, "GET", "/account/settings", handle_settings_page, 0);
    server_route(srv, "GET", "/account/audit", handle_audit_page, 0);
    server_route(srv, "GET", "/account/forgot", handle_forgot_page, 0);
    server_route(srv, "GET", "/account/reset", handle_reset_page, 0);
    server_route(srv, "GET", "/static/{}", handle_static, 0);
    server_route(srv, "GET", "/static/swagger/{}", handle_swagger, 0);
}
