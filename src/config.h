/* Configuration: defaults, then a key = value file (--config), then TESSERA_*
 * environment variables, then command-line flags, in rising precedence. All
 * three feed config_set(), so every setting has one name everywhere
 * (file key "data_dir" = env TESSERA_DATA_DIR = flag --data-dir).
 * A config is filled at start-up on the main thread and read-only after. */
#ifndef TESSERA_CONFIG_H
#define TESSERA_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/cidr.h"

struct config {
    char listen_host[64];
    int listen_port;            /* 0 = pick a free port (see port_file) */
    char data_dir[PATH_MAX];
    /* Storage: "" = data_dir/tessera.db; sqlite:PATH or a path; postgresql://... */
    char database_url[1024];
    char jwt_key_file[PATH_MAX];   /* "" = shared through the database, or data_dir/jwt.key */
    char token_key_file[PATH_MAX]; /* likewise for token.key */
    char node_name[128];           /* "" = host:port; names this node on PostgreSQL */
    /* The marker in this deployment's tokens (token.h): "" = the one the
     * database holds, chosen at random at its first start. */
    char instance_id[32];
    unsigned node_lease_ms;        /* PostgreSQL: how long a heartbeat keeps the node trusted */
    unsigned last_used_interval;   /* seconds between writes of tokens' last-use times */
    char tls_cert[PATH_MAX];    /* both set = serve HTTPS */
    char tls_key[PATH_MAX];
    char asset_dir[PATH_MAX];
    char port_file[PATH_MAX];   /* when set, the bound port is written here */
    unsigned threads;           /* HTTP thread pool size */
    unsigned workers;           /* worker pool threads (Argon2id, writes) */
    unsigned worker_nice;       /* their nice value: checks win the CPU under a sign-in storm */
    unsigned worker_queue;      /* max queued jobs before 503 */
    size_t max_body;            /* request body limit, bytes */
    unsigned connection_timeout; /* seconds of inactivity before a connection is closed */
    unsigned max_connections;   /* open at once; beyond it accepting waits (back-pressure) */
    /* Abuse limits of the HTTP layer (src/http/): a request head must be
     * complete within header_timeout seconds of its first byte, a body must
     * arrive at body_min_rate bytes/s or more after that grace, and one
     * client address holds at most max_connections_per_addr connections
     * (0 = no cap; trusted_proxies are exempt). */
    unsigned header_timeout;
    unsigned body_min_rate;
    unsigned max_connections_per_addr;
    size_t max_header_bytes;    /* request line + header fields (414/431 beyond) */
    unsigned max_headers;       /* header field lines (431 beyond) */
    char log_format[8];         /* "text" or "json" (one JSON object per line) */
    unsigned stac_cache_mb;     /* STAC search page cache budget, MiB (0 = off) */
    int64_t access_ttl;         /* session access JWT lifetime, seconds */
    int64_t refresh_ttl;        /* refresh JWT lifetime, seconds */
    int max_token_days;         /* the furthest ahead any token's expiry may be set, days */
    int token_max_lifetime_days; /* 0, or every new pk/sk expires within it (default = it) */
    int expiry_warning_days;    /* listings flag tokens expiring within it (expiring_soon) */
    int audit_retention_days;   /* audit events older are deleted (0 = kept forever) */
    /* Expiry notices (notify/): how often each node looks for tokens near
     * or past expiry, and the webhook they are posted to ("" = none), signed
     * with webhook_secret, retried from webhook_retry_seconds on, doubling,
     * up to webhook_max_attempts. */
    unsigned notice_scan_interval;
    char webhook_url[1024];
    char webhook_secret[256];
    unsigned webhook_retry_seconds;
    unsigned webhook_max_attempts;
    /* Password reset (auth/reset.c): links live password_reset_ttl seconds,
     * point at public_url ("" = this node's listen address) and go out by
     * mail_transport (notify/mail.h) from mail_from. */
    unsigned password_reset_ttl;
    char public_url[1024];
    char mail_transport[1024];
    char mail_from[320];
    char default_scopes[1024];  /* space-separated, granted to new accounts */
    char default_groups[256];   /* space-separated, for new accounts */
    char auth_rules[4096];      /* forward-auth: "prefix=scope prefix=scope" */
    char introspect_scope[64];  /* scope required to call oauth/introspect */
    unsigned login_rate_account; /* login attempts per minute per (account, address) */
    unsigned login_rate_account_hourly; /* ... per account from all addresses, per hour */
    unsigned register_rate_addr; /* registrations per minute per client address */
    unsigned login_rate_addr;    /* login attempts per minute per client address */
    unsigned token_api_rate;     /* token API calls per minute per account */
    unsigned rate_window;        /* seconds per rate-limit window (60: "per minute") */
    /* Peers whose Forwarded / X-Forwarded-* headers are believed when links
     * are built (api/baseurl.c): CIDRs, comma/space-separated; "" = nobody.
     * trusted_nets is the parsed form, kept in step by config_set. */
    char trusted_proxies[2048];
    struct cidr_list trusted_nets;
    /* CORS on the STAC, asset and token-check routes (api/cors.c): "*",
     * origins (scheme://host[:port]) comma/space-separated, or "" = off.
     * cors_any (the value is "*" alone) is kept in step by config_set: the
     * reply hook asks on every reply. */
    char cors_origins[2048];
    bool cors_any;
    /* POST /api/v1/token/report-leak (api/api_leak.c): the public keys
     * document its reports are signed with ("" = the endpoint is off). */
    char leak_report_keys[PATH_MAX];
};

void config_defaults(struct config *c);
/* True when key names a setting (file key form, e.g. "data_dir"). */
bool config_known(const char *key);
/* Sets one setting by its file key (e.g. "data_dir", "listen"). Returns 0, or
 * -EINVAL with a message in err. */
int config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen);
/* Applies a key = value file ('#' comments). 0 or -errno with err filled. */
int config_load_file(struct config *c, const char *path, char *err, size_t errlen);
/* Applies every TESSERA_<KEY> environment variable. */
int config_load_env(struct config *c, char *err, size_t errlen);
/* Path of a file inside data_dir into out. */
void config_data_path(const struct config *c, const char *name, char *out, size_t outlen);

#endif
