/* Opening and closing the application context: key files, storage (with
 * migrations, wrapped by the in-memory token index of tokencache.c), the
 * catalog, the worker pool and the rate limiter. Start-up and shutdown only,
 * on the main thread. */
#include "app.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog/catalog.h"
#include "auth/authrules.h"
#include "store/changefeed.h"
#include "util/log.h"
#include "catalog/pagecache.h"
#include "api/ratelimit.h"
#include "store/store.h"
#include "auth/tokencache.h"
#include "http/workpool.h"

static int load_key(const struct app *app, const char *name, uint8_t key[CRYPTO_KEY_LEN])
{
    char path[PATH_MAX];
    config_data_path(&app->cfg, name, path, sizeof(path));
    int rc = crypto_load_or_create_key(path, key);
    if (rc < 0)
        log_error("cannot load key file %s: %s", path, strerror(-rc));
    return rc;
}

/* Token checks read only the in-memory index behind this wrapper; the
 * change feed carries writes made by other processes (CLI commands). */
static int wrap_with_token_index(struct app *app)
{
    struct store *backend = app->store;
    app->store = NULL;
    struct changefeed *cf = backend->ops->feed_open(backend, NULL);
    if (!cf) {
        backend->ops->close(backend);
        return -EIO;
    }
    app->store = store_cached_wrap(backend, cf); /* closes both on failure */
    return app->store ? 0 : -EIO;
}

int app_open(struct app *app)
{
    int rc = crypto_init();
    if (rc < 0) {
        log_error("cannot initialise the crypto library");
        return rc;
    }
    if (mkdir(app->cfg.data_dir, 0700) < 0 && errno != EEXIST) {
        rc = -errno;
        log_error("cannot create data directory %s: %s", app->cfg.data_dir, strerror(errno));
        return rc;
    }
    if ((rc = load_key(app, "jwt.key", app->jwt_key)) < 0 ||
        (rc = load_key(app, "token.key", app->token_key)) < 0)
        goto fail;
    app->store = store_open(NULL, app->cfg.data_dir);
    if (!app->store) {
        rc = -EIO;
        goto fail;
    }
    if ((rc = app->store->ops->migrate(app->store)) < 0) {
        log_error("storage migration failed");
        goto fail;
    }
    if (app->serving && (rc = wrap_with_token_index(app)) < 0)
        goto fail;
    app->catalog = catalog_open(app->cfg.data_dir, NULL);
    if (!app->catalog) {
        rc = -EIO;
        goto fail;
    }
    /* config_set already refused malformed rules; parsing cannot fail here
     * short of a bug, and then the server must not start. */
    char err[320];
    app->auth_rules = malloc(sizeof(*app->auth_rules));
    if (!app->auth_rules || authrules_parse(app->auth_rules, app->cfg.auth_rules, err, sizeof(err)) < 0) {
        log_error("auth_rules: %s", app->auth_rules ? err : "out of memory");
        rc = -EINVAL;
        goto fail;
    }
    if (app->auth_rules->n == 0)
        log_warn("auth_rules is empty: GET /api/v1/auth/check denies every path");
    app->limits = ratelimit_create();
    app->workers = workpool_create(app->cfg.workers, app->cfg.worker_queue, (int)app->cfg.worker_nice);
    if (app->serving && app->cfg.stac_cache_mb &&
        !(app->stac_pages = pagecache_create((size_t)app->cfg.stac_cache_mb << 20))) {
        rc = -ENOMEM;
        goto fail;
    }
    if (!app->limits || !app->workers) {
        rc = -ENOMEM;
        goto fail;
    }
    return 0;
fail:
    app_close(app);
    return rc;
}

void app_close(struct app *app)
{
    workpool_destroy(app->workers);
    app->workers = NULL;
    ratelimit_destroy(app->limits);
    app->limits = NULL;
    free(app->auth_rules);
    app->auth_rules = NULL;
    pagecache_destroy(app->stac_pages);
    app->stac_pages = NULL;
    if (app->catalog)
        catalog_close(app->catalog);
    app->catalog = NULL;
    if (app->store)
        app->store->ops->close(app->store);
    app->store = NULL;
    crypto_wipe(app->jwt_key, sizeof(app->jwt_key));
    crypto_wipe(app->token_key, sizeof(app->token_key));
}
