/* Opening and closing the application context: storage (the driver chosen by
 * database_url, migrated), the keys, the token index with its feed thread
 * (serving only), the catalog, the worker pool and the rate limiter.
 * Start-up and shutdown only, on the main thread. */
#include "app.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/ratelimit.h"
#include "auth/audit.h"
#include "auth/authrules.h"
#include "auth/indexsync.h"
#include "auth/leakreport.h"
#include "auth/store_cached.h"
#include "auth/tokenindex.h"
#include "catalog/catalog.h"
#include "catalog/pagecache.h"
#include "http/workpool.h"
#include "notify/notifier.h"
#include "store/changefeed.h"
#include "store/store.h"
#include "util/log.h"

/* One key: from a configured file (checked against the database's record of
 * it on PostgreSQL), else shared through the database (PostgreSQL: created
 * once, read by every node), else the data directory's file (SQLite). */
static int load_key(struct app *app, const char *name, const char *configured,
                    uint8_t key[CRYPTO_KEY_LEN])
{
    struct store *st = app->store;
    int rc;
    if (*configured) {
        if ((rc = crypto_load_key(configured, key)) < 0) {
            log_error("cannot load key file %s: %s", configured,
                      rc == -EINVAL  ? "not a 32-byte key"
                      : rc == -EPERM ? "readable by others (chmod 600)"
                                     : strerror(-rc));
            return rc;
        }
        rc = st->ops->key_shared(st, name, key, true);
        if (rc == -EKEYREJECTED)
            log_error("%s (%s) is not the key the other nodes of this database use (its"
                      " fingerprint differs); refusing to start",
                      configured, name);
        return rc == -ENOTSUP ? 0 : rc;
    }
    rc = st->ops->key_shared(st, name, key, false);
    if (rc == -ENOKEY)
        log_error("the other nodes of this database were given %s from a key file; give this"
                  " node the same file (%s_file)",
                  name, strcmp(name, "jwt.key") == 0 ? "jwt_key" : "token_key");
    else if (rc < 0 && rc != -ENOTSUP)
        log_error("cannot read or create the shared key %s in the database", name);
    if (rc != -ENOTSUP)
        return rc;
    char path[PATH_MAX];
    config_data_path(&app->cfg, name, path, sizeof(path));
    if ((rc = crypto_load_or_create_key(path, key)) < 0)
        log_error("cannot load key file %s: %s", path, strerror(-rc));
    return rc;
}

/* The instance marker: chosen at the first start on this database (by
 * instance_id, else at random) and read back by every later start, on
 * every node. Tokens carry it, so a configured one must match it. */
static int load_instance(struct app *app)
{
    struct store *st = app->store;
    const char *given = app->cfg.instance_id;
    char fresh[sizeof(app->cfg.instance_id)];
    if (*given)
        snprintf(fresh, sizeof(fresh), "%s", given);
    else
        token_new_instance(fresh);
    int rc = st->ops->meta_ensure(st, "instance", fresh, app->instance, sizeof(app->instance));
    if (rc < 0 || !token_instance_ok(app->instance)) {
        log_error("cannot read or set this database's instance marker");
        return rc < 0 ? rc : -EINVAL;
    }
    if (*given && strcmp(given, app->instance) != 0) {
        log_error("instance_id %s is not this database's instance marker %s, which its tokens"
                  " carry; remove the setting or set it to %s",
                  given, app->instance, app->instance);
        return -EINVAL;
    }
    return 0;
}

/* Feed thread: another process imported into the catalog (PostgreSQL);
 * cached STAC pages built before it must not be served again. */
static void catalog_changed(void *ctx)
{
    struct app *app = ctx;
    catalog_note_change(app->catalog);
}

/* Serving: build the token index, follow the driver's change feed, and put
 * the caching wrapper in front of the driver. */
static int open_token_index(struct app *app)
{
    char name[sizeof(app->cfg.node_name)];
    if (app->cfg.node_name[0]) {
        snprintf(name, sizeof(name), "%s", app->cfg.node_name);
    } else {
        char host[64] = "localhost";
        gethostname(host, sizeof(host) - 1);
        snprintf(name, sizeof(name), "%.64s:%d/%d", host, app->cfg.listen_port, (int)getpid());
    }
    struct changefeed_config feed_cfg = {
        .node_name = name,
        .lease_ms = (int)app->cfg.node_lease_ms,
    };
    struct changefeed *cf = app->store->ops->feed_open(app->store, &feed_cfg);
    if (!cf || !(app->index = tokenindex_create())) {
        if (cf)
            cf->ops->close(cf);
        return -EIO;
    }
    struct indexsync_hooks hooks = {catalog_changed, app,
                                    (int)app->cfg.last_used_interval * 1000};
    if (!(app->index_sync = indexsync_start(app->index, app->store, cf, &hooks)))
        return -EIO;
    struct store *wrapped = store_cached_wrap(app->store, app->index, app->index_sync);
    if (!wrapped)
        return -ENOMEM;
    app->store = wrapped;
    return 0;
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
    app->store = store_open(app->cfg.database_url, app->cfg.data_dir);
    if (!app->store) {
        rc = -EIO;
        goto fail;
    }
    if ((rc = app->store->ops->migrate(app->store)) < 0) {
        log_error("storage migration failed");
        goto fail;
    }
    if (!(app->audit = audit_open(app->store, app->cfg.audit_retention_days, app->serving))) {
        rc = -ENOMEM;
        goto fail;
    }
    if ((rc = load_key(app, "jwt.key", app->cfg.jwt_key_file, app->jwt_key)) < 0 ||
        (rc = load_key(app, "token.key", app->cfg.token_key_file, app->token_key)) < 0 ||
        (rc = load_instance(app)) < 0)
        goto fail;
    /* The catalog first: the feed thread tells it about imports by other
     * nodes as soon as it runs. */
    app->catalog = catalog_open(app->cfg.data_dir, app->cfg.database_url);
    if (!app->catalog) {
        rc = -EIO;
        goto fail;
    }
    if (app->serving && (rc = open_token_index(app)) < 0)
        goto fail;
    /* config_set already refused malformed rules; parsing cannot fail here
     * short of a bug, and then the server must not start. */
    char err[320];
    app->auth_rules = malloc(sizeof(*app->auth_rules));
    if (!app->auth_rules ||
        authrules_parse(app->auth_rules, app->cfg.auth_rules, err, sizeof(err)) < 0) {
        log_error("auth_rules: %s", app->auth_rules ? err : "out of memory");
        rc = -EINVAL;
        goto fail;
    }
    if (app->auth_rules->n == 0)
        log_warn("auth_rules is empty: GET /api/v1/auth/check denies every path");
    /* Read again for every report (so replacing the file rotates the keys),
     * but a file that cannot serve must stop the start, as a rule typo does. */
    struct leakreport_keys *leak_keys = NULL;
    if (app->serving && app->cfg.leak_report_keys[0] &&
        leakreport_keys_load(app->cfg.leak_report_keys, &leak_keys, err, sizeof(err)) < 0) {
        log_error("leak_report_keys: %s", err);
        rc = -EINVAL;
        goto fail;
    }
    leakreport_keys_free(leak_keys);
    app->limits = ratelimit_create();
    app->workers =
        workpool_create(app->cfg.workers, app->cfg.worker_queue, (int)app->cfg.worker_nice);
    if (app->serving && app->cfg.stac_cache_mb &&
        !(app->stac_pages = pagecache_create((size_t)app->cfg.stac_cache_mb << 20))) {
        rc = -ENOMEM;
        goto fail;
    }
    if (!app->limits || !app->workers) {
        rc = -ENOMEM;
        goto fail;
    }
    if (app->serving && !(app->notifier = notifier_start(app))) {
        rc = -EINVAL;
        goto fail;
    }
    return 0;
fail:
    app_close(app);
    return rc;
}

void app_close(struct app *app)
{
    notifier_stop(app->notifier);
    app->notifier = NULL;
    workpool_destroy(app->workers);
    app->workers = NULL;
    /* The feed thread stops before the store it reads and the catalog it
     * notifies go away. */
    indexsync_stop(app->index_sync);
    app->index_sync = NULL;
    ratelimit_destroy(app->limits);
    app->limits = NULL;
    free(app->auth_rules);
    app->auth_rules = NULL;
    pagecache_destroy(app->stac_pages);
    app->stac_pages = NULL;
    if (app->catalog)
        catalog_close(app->catalog);
    app->catalog = NULL;
    /* The audit writer writes what is queued through the store, so it goes
     * first; the workers that queue events stopped above. */
    audit_close(app->audit);
    app->audit = NULL;
    if (app->store)
        app->store->ops->close(app->store);
    app->store = NULL;
    tokenindex_destroy(app->index);
    app->index = NULL;
    crypto_wipe(app->jwt_key, sizeof(app->jwt_key));
    crypto_wipe(app->token_key, sizeof(app->token_key));
}
