/* Configuration loading. One table names every setting once; the file, the
 * environment and the command line all go through config_set(), so the three
 * sources can never disagree on names or validation. Start-up only. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/cors.h"
#include "auth/authrules.h"
#include "auth/token.h"
#include "notify/mail.h"

enum setting_kind { SET_STRING, SET_UINT, SET_INT64, SET_SIZE, SET_INT, SET_LISTEN };

/* A string setting's own rule: 0, or -EINVAL with the message in err. It
 * may keep a parsed form in c (trusted_proxies). */
typedef int (*setting_check)(struct config *c, const char *value, char *err, size_t errlen);

struct setting {
    const char *key;
    enum setting_kind kind;
    size_t offset;
    size_t size;        /* strings: buffer size */
    long long min, max; /* numbers */
    setting_check check; /* strings: NULL = any value that fits */
};

#define STR(field) SET_STRING, offsetof(struct config, field), sizeof(((struct config *)0)->field), 0, 0, NULL
#define CHECKED(field, fn) SET_STRING, offsetof(struct config, field), sizeof(((struct config *)0)->field), 0, 0, fn
#define NUM(kind, field, lo, hi) kind, offsetof(struct config, field), 0, lo, hi, NULL

/* A forward-auth rule typo must stop the server from starting, not turn
 * every check into an error at run time. */
static int check_auth_rules(struct config *c, const char *value, char *err, size_t errlen)
{
    (void)c;
    struct authrules rules;
    char msg[200];
    if (authrules_parse(&rules, value, msg, sizeof(msg)) < 0) {
        snprintf(err, errlen, "auth_rules: %s", msg);
        return -EINVAL;
    }
    return 0;
}

/* Likewise a proxy range typo: parsed once here, matched per request; a
 * refused list leaves the previous one. */
static int check_trusted_proxies(struct config *c, const char *value, char *err, size_t errlen)
{
    char msg[200];
    struct cidr_list nets;
    if (cidr_list_parse(&nets, value, msg, sizeof(msg)) < 0) {
        snprintf(err, errlen, "trusted_proxies: %s", msg);
        return -EINVAL;
    }
    c->trusted_nets = nets;
    return 0;
}

static int check_cors_origins(struct config *c, const char *value, char *err, size_t errlen)
{
    char msg[200];
    if (cors_origins_check(value, msg, sizeof(msg)) < 0) {
        snprintf(err, errlen, "cors_origins: %s", msg);
        return -EINVAL;
    }
    c->cors_any = cors_origins_any(value);
    return 0;
}

static bool is_http_url(const char *value)
{
    return strncmp(value, "http://", 7) == 0 || strncmp(value, "https://", 8) == 0;
}

static int check_webhook_url(struct config *c, const char *value, char *err, size_t errlen)
{
    (void)c;
    if (*value && !is_http_url(value)) {
        snprintf(err, errlen, "webhook_url must be an http:// or https:// URL");
        return -EINVAL;
    }
    return 0;
}

/* The HMAC key: a short one would be guessable from signatures. */
static int check_webhook_secret(struct config *c, const char *value, char *err, size_t errlen)
{
    (void)c;
    if (*value && strlen(value) < 16) {
        snprintf(err, errlen, "webhook_secret must be at least 16 characters");
        return -EINVAL;
    }
    return 0;
}

static int check_public_url(struct config *c, const char *value, char *err, size_t errlen)
{
    (void)c;
    if (*value && (!is_http_url(value) || value[strlen(value) - 1] == '/')) {
        snprintf(err, errlen, "public_url must be an http:// or https:// URL without a "
                              "trailing slash, e.g. https://tokens.example.com");
        return -EINVAL;
    }
    return 0;
}

static int check_mail_transport(struct config *c, const char *value, char *err, size_t errlen)
{
    (void)c;
    if (mail_transport_check(value) < 0) {
        snprintf(err, errlen, "mail_transport must be file, smtp://HOST[:PORT] or "
                              "smtps://HOST[:PORT]");
        return -EINVAL;
    }
    return 0;
}

/* It becomes a mail header line. */
static int check_mail_from(struct config *c, const char *value, char *err, size_t errlen)
{
    (void)c;
    if (!*value || strpbrk(value, "\r\n")) {
        snprintf(err, errlen, "mail_from must be one line, e.g. Tessera <tessera@example.com>");
        return -EINVAL;
    }
    return 0;
}

static int check_log_format(struct config *c, const char *value, char *err, size_t errlen)
{
    (void)c;
    if (strcmp(value, "text") != 0 && strcmp(value, "json") != 0) {
        snprintf(err, errlen, "log_format must be text or json");
        return -EINVAL;
    }
    return 0;
}

static int check_instance_id(struct config *c, const char *value, char *err, size_t errlen)
{
    (void)c;
    if (*value && !token_instance_ok(value)) {
        snprintf(err, errlen, "instance_id must be %d to %d characters of a-z and 0-9",
                 TOKEN_INSTANCE_MIN, TOKEN_INSTANCE_MAX);
        return -EINVAL;
    }
    return 0;
}

static const struct setting settings[] = {
    {"listen", SET_LISTEN, 0, 0, 0, 0, NULL},
    {"data_dir", STR(data_dir)},
    {"database_url", STR(database_url)},
    {"jwt_key_file", STR(jwt_key_file)},
    {"token_key_file", STR(token_key_file)},
    {"node_name", STR(node_name)},
    {"instance_id", CHECKED(instance_id, check_instance_id)},
    {"node_lease_ms", NUM(SET_UINT, node_lease_ms, 300, 60000)},
    {"last_used_interval", NUM(SET_UINT, last_used_interval, 1, 3600)},
    {"tls_cert", STR(tls_cert)},
    {"tls_key", STR(tls_key)},
    {"asset_dir", STR(asset_dir)},
    {"port_file", STR(port_file)},
    {"threads", NUM(SET_UINT, threads, 1, 256)},
    {"workers", NUM(SET_UINT, workers, 1, 256)},
    {"worker_nice", NUM(SET_UINT, worker_nice, 0, 19)},
    {"worker_queue", NUM(SET_UINT, worker_queue, 1, 1000000)},
    {"max_body", NUM(SET_SIZE, max_body, 1024, 16 * 1024 * 1024)},
    {"connection_timeout", NUM(SET_UINT, connection_timeout, 1, 3600)},
    {"max_connections", NUM(SET_UINT, max_connections, 16, 1000000)},
    {"header_timeout", NUM(SET_UINT, header_timeout, 1, 3600)},
    {"body_min_rate", NUM(SET_UINT, body_min_rate, 1, 1 << 30)},
    {"max_connections_per_addr", NUM(SET_UINT, max_connections_per_addr, 0, 1000000)},
    {"max_header_bytes", NUM(SET_SIZE, max_header_bytes, 1024, 1024 * 1024)},
    {"max_headers", NUM(SET_UINT, max_headers, 8, 10000)},
    {"log_format", CHECKED(log_format, check_log_format)},
    {"stac_cache_mb", NUM(SET_UINT, stac_cache_mb, 0, 65536)},
    {"access_ttl", NUM(SET_INT64, access_ttl, 10, 86400 * 7)},
    {"refresh_ttl", NUM(SET_INT64, refresh_ttl, 60, 86400 * 365)},
    {"max_token_days", NUM(SET_INT, max_token_days, 1, 36500)},
    {"token_max_lifetime_days", NUM(SET_INT, token_max_lifetime_days, 0, 36500)},
    {"expiry_warning_days", NUM(SET_INT, expiry_warning_days, 0, 365)},
    {"audit_retention_days", NUM(SET_INT, audit_retention_days, 0, 36500)},
    {"notice_scan_interval", NUM(SET_UINT, notice_scan_interval, 1, 86400)},
    {"webhook_url", CHECKED(webhook_url, check_webhook_url)},
    {"webhook_secret", CHECKED(webhook_secret, check_webhook_secret)},
    {"webhook_retry_seconds", NUM(SET_UINT, webhook_retry_seconds, 1, 86400)},
    {"webhook_max_attempts", NUM(SET_UINT, webhook_max_attempts, 1, 100)},
    {"password_reset_ttl", NUM(SET_UINT, password_reset_ttl, 1, 86400)},
    {"public_url", CHECKED(public_url, check_public_url)},
    {"mail_transport", CHECKED(mail_transport, check_mail_transport)},
    {"mail_from", CHECKED(mail_from, check_mail_from)},
    {"default_scopes", STR(default_scopes)},
    {"default_groups", STR(default_groups)},
    {"auth_rules", CHECKED(auth_rules, check_auth_rules)},
    {"introspect_scope", STR(introspect_scope)},
    {"login_rate_account", NUM(SET_UINT, login_rate_account, 0, 1000000)},
    {"login_rate_addr", NUM(SET_UINT, login_rate_addr, 0, 1000000)},
    {"login_rate_account_hourly", NUM(SET_UINT, login_rate_account_hourly, 0, 100000000)},
    {"register_rate_addr", NUM(SET_UINT, register_rate_addr, 0, 1000000)},
    {"token_api_rate", NUM(SET_UINT, token_api_rate, 0, 1000000)},
    {"rate_window", NUM(SET_UINT, rate_window, 1, 3600)},
    {"trusted_proxies", CHECKED(trusted_proxies, check_trusted_proxies)},
    {"cors_origins", CHECKED(cors_origins, check_cors_origins)},
    {"leak_report_keys", STR(leak_report_keys)},
};

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof(*c));
    strcpy(c->listen_host, "127.0.0.1");
    c->listen_port = 8080;
    strcpy(c->data_dir, "./var");
    c->node_lease_ms = 1500;
    c->last_used_interval = 10;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    c->threads = ncpu >= 2 ? (unsigned)ncpu : 2;
    c->workers = 2;
    c->worker_nice = 19;
    c->worker_queue = 1024;
    c->max_body = 64 * 1024;
    c->connection_timeout = 30;
    c->max_connections = 4096;
    c->header_timeout = 10;
    c->body_min_rate = 1024;
    c->max_connections_per_addr = 1024;
    c->max_header_bytes = 16 * 1024;
    c->max_headers = 100;
    strcpy(c->log_format, "text");
    c->stac_cache_mb = 64;
    c->access_ttl = 3600;
    c->refresh_ttl = 86400;
    c->max_token_days = 365;
    c->expiry_warning_days = 7;
    c->audit_retention_days = 365;
    c->notice_scan_interval = 60;
    c->webhook_retry_seconds = 30;
    c->webhook_max_attempts = 8;
    c->password_reset_ttl = 3600;
    strcpy(c->mail_transport, "file");
    strcpy(c->mail_from, "Tessera <tessera@localhost>");
    strcpy(c->default_scopes, "stac catalog:read tokens:read tokens:write scopes:list "
                              "styles:tiles styles:read fonts:read datasets:read vision:read");
    strcpy(c->default_groups, "Public");
    strcpy(c->auth_rules, "/=stac");
    strcpy(c->introspect_scope, "tokens:introspect");
    c->login_rate_account = 10;
    c->login_rate_addr = 60;
    c->login_rate_account_hourly = 100;
    c->register_rate_addr = 10;
    c->token_api_rate = 100;
    c->rate_window = 60;
    strcpy(c->cors_origins, "*");
    c->cors_any = true;
}

static int parse_listen(struct config *c, const char *value, char *err, size_t errlen)
{
    const char *colon = strrchr(value, ':');
    if (!colon || colon == value || (size_t)(colon - value) >= sizeof(c->listen_host)) {
        snprintf(err, errlen, "listen must be HOST:PORT, got \"%.64s\"", value);
        return -EINVAL;
    }
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port < 0 || port > 65535) {
        snprintf(err, errlen, "listen port must be 0-65535, got \"%.16s\"", colon + 1);
        return -EINVAL;
    }
    memcpy(c->listen_host, value, (size_t)(colon - value));
    c->listen_host[colon - value] = '\0';
    c->listen_port = (int)port;
    return 0;
}

bool config_known(const char *key)
{
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
        if (strcmp(settings[i].key, key) == 0)
            return true;
    return false;
}

int config_set(struct config *c, const char *key, const char *value, char *err, size_t errlen)
{
    const struct setting *s = NULL;
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
        if (strcmp(settings[i].key, key) == 0)
            s = &settings[i];
    if (!s) {
        snprintf(err, errlen, "unknown setting \"%.64s\"", key);
        return -EINVAL;
    }
    char *field = (char *)c + s->offset;
    if (s->kind == SET_LISTEN)
        return parse_listen(c, value, err, errlen);
    if (s->kind == SET_STRING) {
        if (strlen(value) >= s->size) {
            snprintf(err, errlen, "%s is too long (max %zu bytes)", key, s->size - 1);
            return -EINVAL;
        }
        if (s->check && s->check(c, value, err, errlen) < 0)
            return -EINVAL;
        strcpy(field, value);
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno || *end || end == value || v < s->min || v > s->max) {
        snprintf(err, errlen, "%s must be an integer in %lld..%lld, got \"%.32s\"", key, s->min,
                 s->max, value);
        return -EINVAL;
    }
    switch (s->kind) {
    case SET_UINT: *(unsigned *)field = (unsigned)v; break;
    case SET_INT: *(int *)field = (int)v; break;
    case SET_INT64: *(int64_t *)field = (int64_t)v; break;
    case SET_SIZE: *(size_t *)field = (size_t)v; break;
    default: break;
    }
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "cannot open config %s: %s", path, strerror(e));
        return -e;
    }
    char line[8192];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected key = value", path, lineno);
            rc = -EINVAL;
            break;
        }
        *eq = '\0';
        char msg[256];
        if (config_set(c, trim(s), trim(eq + 1), msg, sizeof(msg)) < 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
            rc = -EINVAL;
            break;
        }
    }
    fclose(f);
    return rc;
}

int config_load_env(struct config *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
        char name[64] = "TESSERA_";
        size_t n = strlen(name);
        for (const char *k = settings[i].key; *k && n < sizeof(name) - 1; k++)
            name[n++] = (char)toupper((unsigned char)*k);
        name[n] = '\0';
        const char *value = getenv(name);
        if (!value)
            continue;
        char msg[256];
        if (config_set(c, settings[i].key, value, msg, sizeof(msg)) < 0) {
            snprintf(err, errlen, "%s: %s", name, msg);
            return -EINVAL;
        }
    }
    return 0;
}

void config_data_path(const struct config *c, const char *name, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/%s", c->data_dir, name);
}
