/* Operational endpoints: liveness, readiness (storage reachable) and the
 * Prometheus metrics text. None of them takes credentials. */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "app.h"
#include "metrics.h"
#include "server.h"
#include "store.h"

static void handle_healthz(struct request *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "ok");
    reply_json(r, 200, o);
}

static void handle_readyz(struct request *r)
{
    struct app *app = request_app(r);
    if (app->store->ops->ping(app->store) < 0) {
        api_reply_error(r, 503, "Storage is not reachable", "not_ready");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "ready");
    reply_json(r, 200, o);
}

static void handle_metrics(struct request *r)
{
    char *text = metrics_render(NULL);
    if (!text) {
        api_reply_error(r, 500, "Out of memory", "internal_error");
        return;
    }
    reply_buffer(r, 200, "text/plain; version=0.0.4", text, strlen(text));
}

void api_ops_register(struct server *srv)
{
    server_route(srv, "GET", "/healthz", handle_healthz, 0);
    server_route(srv, "GET", "/readyz", handle_readyz, 0);
    server_route(srv, "GET", "/metrics", handle_metrics, 0);
}
