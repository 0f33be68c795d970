/* Operational endpoints: liveness, readiness (storage reachable and, on
 * several nodes, this node's lease live) and the Prometheus metrics text.
 * None of them takes credentials. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "app.h"
#include "http/metrics.h"
#include "catalog/pagecache.h"
#include "http/server.h"
#include "http/workpool.h"
#include "store/store.h"
#include "auth/indexsync.h"
#include "auth/tokenindex.h"

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
    if (app->index_sync && !indexsync_current(app->index_sync)) {
        reply_header(r, "Retry-After", "1");
        api_reply_error(r, 503, "This node is not current with the database (lease ran out)",
                        "not_ready");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "ready");
    reply_json(r, 200, o);
}

static void handle_metrics(struct request *r)
{
    struct app *app = request_app(r);
    char extra[2048] = "";
    size_t n = 0;
    if (app->index) {
        struct tokenindex_counts c;
        tokenindex_stats(app->index, &c);
        n += (size_t)snprintf(extra, sizeof(extra),
                              "# HELP tessera_tokens Stored tokens by kind (live = not revoked).\n"
                              "# TYPE tessera_tokens gauge\n"
                              "tessera_tokens{kind=\"pk\"} %zu\n"
                              "tessera_tokens{kind=\"sk\"} %zu\n"
                              "# HELP tessera_accounts Accounts.\n"
                              "# TYPE tessera_accounts gauge\n"
                              "tessera_accounts %zu\n",
                              c.live_pk, c.live_sk, c.accounts);
    }
    if (app->workers && n < sizeof(extra)) {
        size_t queued;
        uint64_t rejected;
        workpool_stats(app->workers, &queued, &rejected);
        n += (size_t)snprintf(extra + n, sizeof(extra) - n,
                              "# HELP tessera_worker_queue_depth Jobs waiting for a worker.\n"
                              "# TYPE tessera_worker_queue_depth gauge\n"
                              "tessera_worker_queue_depth %zu\n"
                              "# HELP tessera_worker_rejected_total Jobs refused (503) because"
                              " the worker queue was full.\n"
                              "# TYPE tessera_worker_rejected_total counter\n"
                              "tessera_worker_rejected_total %llu\n",
                              queued, (unsigned long long)rejected);
    }
    if (app->stac_pages && n < sizeof(extra)) {
        struct pagecache_stats c;
        pagecache_stats(app->stac_pages, &c);
        snprintf(extra + n, sizeof(extra) - n,
                 "# HELP tessera_stac_page_cache_lookups_total STAC search page cache lookups.\n"
                 "# TYPE tessera_stac_page_cache_lookups_total counter\n"
                 "tessera_stac_page_cache_lookups_total{result=\"hit\"} %llu\n"
                 "tessera_stac_page_cache_lookups_total{result=\"miss\"} %llu\n"
                 "# HELP tessera_stac_page_cache_bytes Memory held by cached STAC pages.\n"
                 "# TYPE tessera_stac_page_cache_bytes gauge\n"
                 "tessera_stac_page_cache_bytes %zu\n",
                 (unsigned long long)c.hits, (unsigned long long)c.misses, c.bytes);
    }
    char *text = metrics_render(extra);
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
