/* The application context shared by every handler: configuration, storage,
 * keys and the worker pool. Built once at start-up by main.c; read-only
 * afterwards except through the thread-safe objects it points to. */
#ifndef TESSERA_APP_H
#define TESSERA_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "auth/crypto.h"
#include "auth/token.h"

struct store;
struct tokenindex;
struct indexsync;
struct workpool;
struct catalog;
struct ratelimit;
struct authrules;
struct pagecache;
struct audit;
struct notifier;

struct app {
    struct config cfg;
    /* Serving: the caching wrapper around the driver; CLI: the driver. */
    struct store *store;
    /* Serving only (NULL in one-shot CLI commands): the in-memory token
     * index every check reads, and what keeps it exact. */
    struct tokenindex *index;
    struct indexsync *index_sync;
    struct workpool *workers;
    struct catalog *catalog;  /* STAC collections/items; may be NULL */
    struct ratelimit *limits; /* sign-in and token API throttles */
    struct authrules *auth_rules; /* forward-auth rules, parsed from cfg.auth_rules */
    struct pagecache *stac_pages; /* built STAC search pages (serving only), or NULL */
    struct audit *audit;          /* the audit trail's writer */
    struct notifier *notifier;    /* expiry notices and their webhook (serving only) */
    /* Set by `serve` before app_open: hold every token and account in memory
     * (the token index). One-shot CLI commands work on the store directly. */
    bool serving;
    uint8_t jwt_key[CRYPTO_KEY_LEN];   /* signs session JWTs */
    uint8_t token_key[CRYPTO_KEY_LEN]; /* keys secret hashes and tk. MACs */
    /* This deployment's marker in every new token ("i"; token.h): set once
     * in the store, shared by every node of the database. A token naming
     * another is not ours. */
    char instance[TOKEN_INSTANCE_MAX + 1];
};

/* Opens and migrates the store, loads the keys (shared through the database
 * on PostgreSQL), builds the token index when serving, opens the catalog.
 * 0 or -errno (logged). Used by `serve` and by every CLI command that
 * touches data. */
int app_open(struct app *app);
void app_close(struct app *app);

#endif
