/* The `tessera` command line: serve, migrate, and the operator commands on
 * users, tokens, scopes, groups and the STAC catalog, all over the same store
 * the server uses. Settings come from defaults, --config FILE, TESSERA_*
 * variables and flags (every setting is also a flag: data_dir → --data-dir).
 * Runs on the main thread. */
#include "cli/cli.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "auth/accounts.h"
#include "auth/audit.h"
#include "app.h"
#include "catalog/catalog.h"
#include "cli/cli_int.h"
#include "cli/table.h"
#include "util/json.h"
#include "util/log.h"
#include "auth/password.h"
#include "http/server.h"
#include "store/store.h"
#include "util/timeutil.h"
#include "auth/token.h"
#include "auth/tokens.h"
#include "http/workpool.h"

static const char usage_main[] =
    "usage: tessera [--config FILE] COMMAND [ARGS] [--SETTING VALUE ...]\n"
    "\n"
    "Commands:\n"
    "  serve                 run the HTTP(S) server\n"
    "  migrate               create or upgrade the storage schema\n"
    "  user add|list|set|disable\n"
    "  token create|list|revoke|rotate\n"
    "  scope add|list\n"
    "  group add|list\n"
    "  stac import FILE|DIR --visibility GROUP[,GROUP]\n"
    "  audit [--account EMAIL] [--since TIME] [--limit N] [--json]\n"
    "  instance              this deployment's token marker and a pattern for scanners\n"
    "\n"
    "Every command takes the settings as flags, e.g. --data-dir DIR (default ./var),\n"
    "--config FILE, --listen HOST:PORT. Precedence: defaults < --config file <\n"
    "TESSERA_* environment (TESSERA_DATA_DIR, TESSERA_LISTEN, ...) < flags.\n"
    "Run `tessera COMMAND --help` for a command's own options; `tessera --version`\n"
    "prints the version.\n";

static const char usage_serve[] =
    "usage: tessera serve [--listen HOST:PORT] [--data-dir DIR] [--config FILE]\n"
    "                     [--tls-cert FILE --tls-key FILE] [--asset-dir DIR]\n"
    "                     [--port-file FILE] [--threads N] [--workers N] [--SETTING VALUE]\n"
    "Serves the API on HOST:PORT (default 127.0.0.1:8080; port 0 picks a free one\n"
    "and writes it to --port-file). With --tls-cert and --tls-key it serves HTTPS.\n"
    "HTTP limits: max_body (64 KiB), max_header_bytes (16 KiB), max_headers (100),\n"
    "connection_timeout (30 s of silence), header_timeout (10 s for a whole request\n"
    "head), body_min_rate (1024 bytes/s after that), max_connections (4096; beyond,\n"
    "new connections wait in the backlog), max_connections_per_addr (1024, 0 = off;\n"
    "trusted_proxies are exempt). log_format: text (default) or json (one object a\n"
    "line; access lines carry method, route, status, bytes, duration, request id,\n"
    "account and token id).\n"
    "Other settings: access_ttl,\n"
    "refresh_ttl, max_token_days, default_scopes, default_groups, auth_rules,\n"
    "introspect_scope, login_rate_account (per account and address), login_rate_addr,\n"
    "login_rate_account_hourly (per account, all addresses), register_rate_addr,\n"
    "token_api_rate, worker_queue,\n"
    "worker_nice, stac_cache_mb, last_used_interval, token_max_lifetime_days,\n"
    "expiry_warning_days, audit_retention_days; expiry notices: notice_scan_interval,\n"
    "webhook_url, webhook_secret (use TESSERA_WEBHOOK_SECRET), webhook_retry_seconds,\n"
    "webhook_max_attempts; password reset: password_reset_ttl, public_url,\n"
    "mail_transport (file | smtp://HOST[:PORT] | smtps://...), mail_from;\n"
    "several nodes: database_url\n"
    "(postgresql://...), node_name, node_lease_ms, jwt_key_file, token_key_file;\n"
    "instance_id (the token marker, see tessera instance); leak_report_keys (the public\n"
    "keys document that signs POST /api/v1/token/report-leak, GitHub's secret-scanning\n"
    "format; unset = off); and:\n"
    "  --trusted-proxies CIDRS   proxies whose Forwarded / X-Forwarded-Proto, -Host and\n"
    "                            -Prefix headers are believed when links are built\n"
    "                            (comma/space-separated, IPv4 and IPv6, e.g.\n"
    "                            127.0.0.1/32,::1). Default empty: trust nobody.\n"
    "  --cors-origins ORIGINS    CORS for the STAC API, assets, GET /tokens/v2 and\n"
    "                            openapi.json: * (default), origins such as\n"
    "                            https://app.example (comma/space-separated), or empty\n"
    "                            to turn CORS off.\n"
    "Stops gracefully on SIGINT/SIGTERM; SIGHUP rereads the TLS certificate and key.\n"
    "Logs to stderr.\n"
    "Example: tessera serve --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem\n";

static const char usage_migrate[] = "usage: tessera migrate [--data-dir DIR]\n"
                                    "Applies pending schema migrations and prints the version.\n"
                                    "Example: tessera migrate --database-url postgresql://tessera@db/tessera\n";

static const char usage_user[] =
    "usage: tessera user add EMAIL [--password P | --password-stdin | --service]\n"
    "                        [--username U] [--groups G,G] [--scopes S,S] [--staff]\n"
    "       tessera user list [--json]\n"
    "       tessera user set EMAIL [--groups G,G] [--scopes S,S] [--active true|false]\n"
    "                        [--staff true|false] [--password P | --password-stdin]\n"
    "       tessera user disable EMAIL\n"
    "Changing a password or disabling an account ends its sessions at once;\n"
    "removing a scope or group takes effect on its tokens at the next request.\n"
    "A --service account has no password and cannot sign in: it only holds the\n"
    "tokens an operator creates for it (tessera token create).\n"
    "list prints a header, then one tab-separated row per account; --json prints\n"
    "the same accounts as a JSON array.\n"
    "Examples: tessera user add ada@example.com --password-stdin --groups Public,Partners\n"
    "          tessera user add ci@example.com --service --scopes stac,catalog:read\n";

static const char usage_scope[] =
    "usage: tessera scope add ID [--description TEXT] [--public]\n"
    "       tessera scope list [--json]\n"
    "A --public scope may be held by a public (pk) token.\n"
    "Example: tessera scope add reports:read --description \"Read reports\" --public\n";

static const char usage_group[] =
    "usage: tessera group add NAME [--description TEXT]\n"
    "       tessera group list [--json]\n"
    "Groups decide which STAC collections and items an account sees.\n"
    "Example: tessera group add Partners --description \"Partner organizations\"\n";

static const char usage_stac[] =
    "usage: tessera stac import FILE|DIR --visibility GROUP[,GROUP]\n"
    "Imports STAC Collections, Items and ItemCollections (all *.json under DIR) in\n"
    "one transaction: on any invalid document nothing is loaded. On a terminal a\n"
    "progress line counts files, collections and items.\n"
    "Example: tessera stac import ./catalog --visibility Public,Partners\n";

static const char usage_audit[] =
    "usage: tessera audit [--account EMAIL] [--since TIME] [--limit N] [--json]\n"
    "Prints the audit trail, newest first: sign-ins (and failures), sign-outs,\n"
    "registrations, token creation, update, rotation and revocation, account\n"
    "changes and throttling, with time, actor, account, token, client address and\n"
    "request id (never a secret). TIME is RFC 3339 (2026-11-01T00:00:00Z) or a\n"
    "date; --limit defaults to 100. Events older than audit_retention_days are\n"
    "deleted.\n"
    "Example: tessera audit --account ada@example.com --since 2026-11-01 --json\n";

static const char usage_instance[] =
    "usage: tessera instance\n"
    "Prints this deployment's instance marker, which every new token carries in\n"
    "its payload (\"i\"; shared by every node of one database), and a regular\n"
    "expression matching exactly the tokens that carry it, for secret scanners\n"
    "(e.g. a GitHub custom pattern). The marker is set at the first start, at\n"
    "random or by the instance_id setting, and never changes.\n"
    "Example: tessera instance --database-url postgresql://tessera@db/tessera\n";

static bool opt_takes_value(const char *name)
{
    static const char *const with_value[] = {"password", "username", "groups", "scopes",
                                             "note", "description", "visibility", "active",
                                             "staff-value", "expires-days", "grace-seconds",
                                             "account", "since", "limit", "resources", NULL};
    for (int i = 0; with_value[i]; i++)
        if (strcmp(name, with_value[i]) == 0)
            return true;
    return false;
}

static int set_opt(struct cli_opts *o, const char *name, const char *value)
{
    if (strcmp(name, "password") == 0) o->password = value;
    else if (strcmp(name, "username") == 0) o->username = value;
    else if (strcmp(name, "groups") == 0) o->groups = value;
    else if (strcmp(name, "scopes") == 0) o->scopes = value;
    else if (strcmp(name, "resources") == 0) o->resources = value;
    else if (strcmp(name, "note") == 0) o->note = value;
    else if (strcmp(name, "description") == 0) o->description = value;
    else if (strcmp(name, "visibility") == 0) o->visibility = value;
    else if (strcmp(name, "active") == 0) o->active = value;
    else if (strcmp(name, "account") == 0) o->account = value;
    else if (strcmp(name, "since") == 0) o->since = value;
    else if (strcmp(name, "limit") == 0) o->limit = value;
    else if (strcmp(name, "grace-seconds") == 0) {
        char *end;
        long v = strtol(value, &end, 10);
        if (*end || v < 0 || v > 7 * 86400) {
            fprintf(stderr, "tessera: --grace-seconds must be 0..604800 (7 days)\n");
            return -EINVAL;
        }
        o->grace_seconds = v;
    } else if (strcmp(name, "expires-days") == 0) {
        char *end;
        long v = strtol(value, &end, 10);
        if (*end || v < 1 || v > 36500) {
            fprintf(stderr, "tessera: --expires-days must be 1..36500\n");
            return -EINVAL;
        }
        o->expires_days = (int)v;
    }
    return 0;
}

/* Parses argv (after the command words): command options into o, settings
 * into cfg. --staff is a flag for `user add` and takes true|false for `user set`. */
static int parse_args(int argc, char **argv, struct config *cfg, struct cli_opts *o, bool staff_takes_value)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            o->help = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            if (o->npositional == 4) {
                fprintf(stderr, "tessera: unexpected argument \"%s\"\n", a);
                return -EINVAL;
            }
            o->positional[o->npositional++] = a;
            continue;
        }
        char name[64];
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (len >= sizeof(name)) {
            fprintf(stderr, "tessera: unknown option %.80s\n", a);
            return -EINVAL;
        }
        memcpy(name, a + 2, len);
        name[len] = '\0';
        if (strcmp(name, "password-stdin") == 0) { o->password_stdin = true; continue; }
        if (strcmp(name, "public") == 0) { o->is_public = true; continue; }
        if (strcmp(name, "json") == 0) { o->json = true; continue; }
        if (strcmp(name, "service") == 0) { o->service = true; continue; }
        if (strcmp(name, "staff") == 0 && !staff_takes_value) { o->staff = true; continue; }
        if (strcmp(name, "staff") == 0)
            strcpy(name, "staff-value");
        char key[64];
        for (size_t k = 0; k <= len; k++)
            key[k] = name[k] == '-' ? '_' : name[k];
        if (!opt_takes_value(name) && strcmp(name, "config") != 0 && !config_known(key)) {
            fprintf(stderr, "tessera: unknown option --%s (see `tessera COMMAND --help`)\n", name);
            return -EINVAL;
        }
        /* A missing value must not swallow the next option: "--data-dir
         * --threads 4" would silently use "./--threads" as the data directory.
         * A value that starts with "--" can still be given as --name=value. */
        const char *value = eq ? eq + 1
                               : (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0 ? argv[++i]
                                                                                    : NULL);
        if (!value) {
            fprintf(stderr, "tessera: option --%s needs a value\n", name);
            return -EINVAL;
        }
        if (opt_takes_value(name)) {
            if (strcmp(name, "staff-value") == 0)
                o->staff_value = value;
            else if (set_opt(o, name, value) < 0)
                return -EINVAL;
            continue;
        }
        if (strcmp(name, "config") == 0)
            continue; /* applied before everything else */
        char err[256];
        if (config_set(cfg, key, value, err, sizeof(err)) < 0) {
            fprintf(stderr, "tessera: %s\n", err);
            return -EINVAL;
        }
    }
    return 0;
}

static int read_password_stdin(char *buf, size_t len)
{
    if (!fgets(buf, (int)len, stdin)) {
        fprintf(stderr, "tessera: no password on standard input\n");
        return -EINVAL;
    }
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

int cli_open_app(struct app *app)
{
    int rc = app_open(app);
    if (rc < 0)
        fprintf(stderr, "tessera: cannot open %s (see log above)\n",
                app->cfg.database_url[0] ? "the database" : app->cfg.data_dir);
    return rc;
}

/* ---- serve / migrate -------------------------------------------------- */

static int cmd_serve(struct app *app)
{
    /* Block the stop signals in every thread; the main thread waits for
     * them with sigwait so shutdown runs in ordinary code. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    app->serving = true;
    log_set_format(strcmp(app->cfg.log_format, "json") == 0 ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT);
    if (cli_open_app(app) < 0)
        return 1;
    log_start_flusher();
    struct server *srv = server_create(app, api_reply_error);
    if (srv)
        api_register_all(srv);
    if (!srv || server_start(srv) < 0) {
        server_destroy(srv);
        app_close(app);
        log_stop_flusher();
        fprintf(stderr, "tessera: cannot serve on %s:%d (see the log above)\n", app->cfg.listen_host,
                app->cfg.listen_port);
        return 1;
    }
    int sig = 0;
    while (sigwait(&stop, &sig) == 0 && sig == SIGHUP)
        server_reload_tls(srv); /* a renewed certificate, without a restart */
    log_info("received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    /* Order matters: stop accepting, let running jobs finish and resume
     * their connections, then close everything. */
    server_quiesce(srv);
    workpool_drain(app->workers);
    server_destroy(srv);
    app_close(app);
    log_info("stopped");
    log_stop_flusher();
    return 0;
}

static int cmd_migrate(struct app *app)
{
    if (cli_open_app(app) < 0)
        return 1;
    printf("schema version %d\n", app->store->ops->schema_version(app->store));
    app_close(app);
    return 0;
}

static int cmd_instance(struct app *app)
{
    if (cli_open_app(app) < 0)
        return 1;
    char pattern[512];
    int rc = token_instance_pattern(app->instance, pattern, sizeof(pattern));
    if (rc == 0)
        printf("instance %s\npattern %s\n", app->instance, pattern);
    app_close(app);
    return rc == 0 ? 0 : 1;
}

/* ---- users ------------------------------------------------------------ */

int cli_find_account(struct app *app, const char *email, struct account *a)
{
    int rc = app->store->ops->account_get_by_email(app->store, email, a);
    if (rc == -ENOENT)
        fprintf(stderr, "tessera: no account with e-mail %s\n", email);
    return rc;
}

static const struct table_column account_columns[] = {
    TABLE_COLUMN("ID", "id"),
    TABLE_COLUMN("USERNAME", "username"),
    TABLE_COLUMN("EMAIL", "email"),
    TABLE_COLUMN("GROUPS", "groups"),
    TABLE_COLUMN("SCOPES", "scopes"),
    TABLE_BOOL("STATUS", "is_active", "active", "disabled"),
    TABLE_BOOL("STAFF", "is_staff", "staff", "-"),
    TABLE_BOOL("SERVICE", "service", "service", "-"),
    TABLE_END};

/* The row is the API's account object, parsed back: one rule for its shape. */
static int collect_account(void *rows, const struct account *a)
{
    size_t len;
    char *text = json_out_alloc(accounts_write_json, a, &len);
    cJSON *row = text ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    if (!row)
        return -ENOMEM;
    cJSON_AddItemToArray(rows, row);
    return 0;
}

static void print_account(const struct account *a, bool json)
{
    cJSON *rows = cJSON_CreateArray();
    collect_account(rows, a);
    table_print(rows, account_columns, json);
}

static int parse_bool(const char *v, bool *out)
{
    if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "1") == 0)
        *out = true;
    else if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 || strcmp(v, "0") == 0)
        *out = false;
    else {
        fprintf(stderr, "tessera: expected true or false, got \"%s\"\n", v);
        return -EINVAL;
    }
    return 0;
}

/* Every name of the comma-separated list must be a registered scope (or
 * group): a typo must not be granted silently. Prints what is wrong. */
static bool names_registered(struct app *app, const char *csv, bool scopes)
{
    struct strlist names = STRLIST_INIT;
    struct scope_def *sd = NULL;
    struct group_def *gd = NULL;
    size_t n = 0;
    bool ok = strlist_split(&names, csv) == 0 &&
              (scopes ? app->store->ops->scope_list(app->store, &sd, &n)
                      : app->store->ops->group_list(app->store, &gd, &n)) == 0;
    for (size_t i = 0; ok && i < names.n; i++) {
        bool found = false;
        for (size_t j = 0; j < n && !found; j++)
            found = strcmp(names.v[i], scopes ? sd[j].id : gd[j].name) == 0;
        if (!found) {
            fprintf(stderr, "tessera: unknown %s \"%s\" (see `tessera %s list`)\n",
                    scopes ? "scope" : "group", names.v[i], scopes ? "scope" : "group");
            ok = false;
        }
    }
    strlist_free(&names);
    free(sd);
    free(gd);
    return ok;
}

static int replace_list(struct strlist *l, const char *csv)
{
    strlist_free(l);
    return strlist_split(l, csv);
}

static int cmd_user(struct app *app, const char *verb, struct cli_opts *o)
{
    char pwbuf[512] = "";
    int status = 1;
    struct account a = {0};
    if (o->password_stdin && read_password_stdin(pwbuf, sizeof(pwbuf)) < 0)
        return 1;
    const char *password = o->password_stdin ? pwbuf : o->password;
    if (strcmp(verb, "list") == 0) {
        if (cli_open_app(app) < 0)
            return 1;
        cJSON *rows = cJSON_CreateArray();
        status = app->store->ops->account_each(app->store, collect_account, rows) < 0;
        if (status == 0)
            table_print(rows, account_columns, o->json);
        else
            cJSON_Delete(rows);
        goto out;
    }
    if (o->npositional != 1) {
        fputs(usage_user, stderr);
        return 2;
    }
    const char *email = o->positional[0];
    if (cli_open_app(app) < 0)
        return 1;
    if ((o->scopes && !names_registered(app, o->scopes, true)) ||
        (o->groups && !names_registered(app, o->groups, false)))
        goto out;
    if (strcmp(verb, "add") == 0) {
        if (!password && !o->service) {
            fprintf(stderr, "tessera: user add needs --password, --password-stdin or --service\n");
            goto out;
        }
        if (password && o->service) {
            fprintf(stderr, "tessera: a --service account has no password\n");
            goto out;
        }
        struct account_input in = {.email = email, .password = password, .username = o->username,
                                   .service = o->service};
        const char *field;
        char msg[256];
        int rc = accounts_create(app, &in, &a, &field, msg, sizeof(msg));
        if (rc < 0) {
            fprintf(stderr, "tessera: %s: %s\n", field ? field : "error",
                    field ? msg : strerror(-rc));
            goto out;
        }
        bool changed = o->groups || o->scopes || o->staff;
        if ((o->groups && replace_list(&a.groups, o->groups) < 0) ||
            (o->scopes && replace_list(&a.scopes, o->scopes) < 0))
            goto out;
        a.is_staff = o->staff;
        if (changed && app->store->ops->account_update(app->store, &a) < 0)
            goto out;
        audit_log(app->audit, AUDIT_REGISTER, a.id, NULL, &audit_cli, NULL);
        print_account(&a, o->json);
        status = 0;
    } else if (strcmp(verb, "set") == 0 || strcmp(verb, "disable") == 0) {
        if (cli_find_account(app, email, &a) < 0)
            goto out;
        if (strcmp(verb, "disable") == 0) {
            status = accounts_deactivate(app, &a, &audit_cli) < 0;
            goto out;
        }
        bool active = a.is_active, staff = a.is_staff;
        if ((o->active && parse_bool(o->active, &active) < 0) ||
            (o->staff_value && parse_bool(o->staff_value, &staff) < 0))
            goto out;
        if ((o->groups && replace_list(&a.groups, o->groups) < 0) ||
            (o->scopes && replace_list(&a.scopes, o->scopes) < 0))
            goto out;
        a.is_staff = staff;
        if (!active && a.is_active) {
            if (accounts_deactivate(app, &a, &audit_cli) < 0)
                goto out;
        } else if (active && !a.is_active) {
            if (accounts_activate(app, &a, &audit_cli) < 0)
                goto out;
        } else {
            a.is_active = active;
            if (app->store->ops->account_update(app->store, &a) < 0)
                goto out;
            audit_log(app->audit, AUDIT_ACCOUNT_UPDATE, a.id, NULL, &audit_cli,
                      "groups, scopes, staff or active set by an operator");
        }
        if (password) {
            const char *weak = password_weakness(password);
            if (weak) {
                fprintf(stderr, "tessera: password: %s\n", weak);
                goto out;
            }
            if (accounts_set_password(app, &a, password, &audit_cli) < 0)
                goto out;
        }
        print_account(&a, o->json);
        status = 0;
    } else {
        fputs(usage_user, stderr);
        status = 2;
    }
out:
    crypto_wipe(pwbuf, sizeof(pwbuf));
    account_free(&a);
    app_close(app);
    return status;
}

/* ---- scopes, groups, catalog ------------------------------------------ */

/* Scope ids and group names travel in tokens, in space-separated JWT claims
 * and in comma-separated lists (--groups, --visibility, X-Auth-Groups); the
 * description is printed as one tab-separated line of `list`. */
static bool registry_entry_ok(bool scope, const char *name, const char *description)
{
    const char *what = scope ? "scope id" : "group name";
    if (!token_word_ok(name, scope ? SCOPE_ID_MAX : GROUP_NAME_MAX) || strchr(name, ',')) {
        fprintf(stderr,
                "tessera: invalid %s \"%s\": 1 to %d printable ASCII characters, without "
                "spaces, commas, quotes or backslashes\n",
                what, name, scope ? SCOPE_ID_MAX : GROUP_NAME_MAX);
        return false;
    }
    size_t n = description ? strlen(description) : 0;
    bool printable = true;
    for (size_t i = 0; i < n; i++)
        printable &= (unsigned char)description[i] >= ' ' && description[i] != 0x7f;
    if (n > DESCRIPTION_MAX || !printable) {
        fprintf(stderr, "tessera: the description must be at most %d bytes without control "
                        "characters\n", DESCRIPTION_MAX);
        return false;
    }
    return true;
}

static int cmd_scope_group(struct app *app, bool scope, const char *verb, struct cli_opts *o)
{
    bool add = strcmp(verb, "add") == 0;
    if ((!add && strcmp(verb, "list") != 0) || (add && o->npositional != 1)) {
        fputs(scope ? usage_scope : usage_group, stderr);
        return 2;
    }
    if (add && !registry_entry_ok(scope, o->positional[0], o->description))
        return 2;
    if (cli_open_app(app) < 0)
        return 1;
    int rc = 0;
    if (add && scope) {
        struct scope_def d = {.is_public = o->is_public};
        snprintf(d.id, sizeof(d.id), "%s", o->positional[0]);
        snprintf(d.description, sizeof(d.description), "%s", o->description ? o->description : "");
        rc = app->store->ops->scope_add(app->store, &d);
    } else if (add) {
        struct group_def d = {0};
        snprintf(d.name, sizeof(d.name), "%s", o->positional[0]);
        snprintf(d.description, sizeof(d.description), "%s", o->description ? o->description : "");
        rc = app->store->ops->group_add(app->store, &d);
    } else if (scope) {
        struct scope_def *v = NULL;
        size_t n = 0;
        rc = app->store->ops->scope_list(app->store, &v, &n);
        cJSON *rows = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++) {
            cJSON *row = cJSON_CreateObject();
            cJSON_AddStringToObject(row, "id", v[i].id);
            cJSON_AddBoolToObject(row, "public", v[i].is_public);
            cJSON_AddStringToObject(row, "description", v[i].description);
            cJSON_AddItemToArray(rows, row);
        }
        static const struct table_column columns[] = {
            TABLE_COLUMN("ID", "id"), TABLE_BOOL("KIND", "public", "public", "secret"),
            TABLE_COLUMN("DESCRIPTION", "description"), TABLE_END};
        table_print(rows, columns, o->json);
        free(v);
    } else {
        struct group_def *v = NULL;
        size_t n = 0;
        rc = app->store->ops->group_list(app->store, &v, &n);
        cJSON *rows = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++) {
            cJSON *row = cJSON_CreateObject();
            cJSON_AddStringToObject(row, "name", v[i].name);
            cJSON_AddStringToObject(row, "description", v[i].description);
            cJSON_AddItemToArray(rows, row);
        }
        static const struct table_column columns[] = {
            TABLE_COLUMN("NAME", "name"), TABLE_COLUMN("DESCRIPTION", "description"), TABLE_END};
        table_print(rows, columns, o->json);
        free(v);
    }
    if (rc == -EEXIST)
        fprintf(stderr, "tessera: %s \"%s\" already exists\n", scope ? "scope" : "group",
                o->positional[0]);
    app_close(app);
    return rc < 0;
}

/* ---- stac import: the progress line ------------------------------------ */

struct import_progress {
    int64_t last_ms;
    bool printed;
};

/* Rewrites one stderr line at most ten times a second. */
static void show_import_progress(void *ctx, const struct catalog_import_result *r, bool committing)
{
    struct import_progress *p = ctx;
    int64_t now = time_now_ms();
    if (!committing && now - p->last_ms < 100)
        return;
    p->last_ms = now;
    p->printed = true;
    fprintf(stderr, "\rimporting: %zu files, %zu collections, %zu items%s", r->files,
            r->collections, r->items, committing ? "; committing ..." : "");
    fflush(stderr);
}

static int cmd_stac(struct app *app, const char *verb, struct cli_opts *o)
{
    if (strcmp(verb, "import") != 0 || o->npositional != 1 || !o->visibility) {
        fputs(usage_stac, stderr);
        return 2;
    }
    struct strlist visibility = STRLIST_INIT;
    if (strlist_split(&visibility, o->visibility) < 0 || visibility.n == 0) {
        fprintf(stderr, "tessera: --visibility needs at least one group\n");
        return 2;
    }
    if (cli_open_app(app) < 0) {
        strlist_free(&visibility);
        return 1;
    }
    if (!names_registered(app, o->visibility, false)) {
        strlist_free(&visibility);
        app_close(app);
        return 1;
    }
    char err[512] = "";
    struct catalog_import_result res = {0};
    struct import_progress shown = {0};
    struct catalog_import_progress progress = {show_import_progress, &shown};
    /* A progress line for people on a terminal, none in pipes and logs. */
    int rc = catalog_import_path_ex(app->catalog, o->positional[0], &visibility,
                                    isatty(STDERR_FILENO) ? &progress : NULL, &res, err,
                                    sizeof(err));
    if (shown.printed)
        fputc('\n', stderr);
    if (rc < 0)
        fprintf(stderr, "tessera: import failed, nothing was loaded: %s\n", err);
    else
        printf("imported %s: %zu files, %zu collections, %zu items, %zu skipped\n",
               o->positional[0], res.files, res.collections, res.items, res.skipped);
    strlist_free(&visibility);
    app_close(app);
    return rc < 0;
}

/* ---- audit ------------------------------------------------------------ */

static int cmd_audit(struct app *app, struct cli_opts *o)
{
    struct audit_query q = {.account_id = -1, .limit = 100};
    if (o->limit) {
        char *end;
        long v = strtol(o->limit, &end, 10);
        if (*end || v < 1 || v > 100000) {
            fprintf(stderr, "tessera: --limit must be 1..100000\n");
            return 2;
        }
        q.limit = (size_t)v;
    }
    if (o->since && time_parse_rfc3339(o->since, &q.since) < 0 &&
        time_parse_date(o->since, &q.since) < 0) {
        fprintf(stderr, "tessera: --since must be an RFC 3339 time or a date (YYYY-MM-DD)\n");
        return 2;
    }
    if (cli_open_app(app) < 0)
        return 1;
    int status = 1;
    struct account a = {0};
    struct audit_event *v = NULL;
    size_t n = 0;
    if (o->account) {
        if (cli_find_account(app, o->account, &a) < 0)
            goto out;
        q.account_id = a.id;
    }
    if (app->store->ops->audit_list(app->store, &q, &v, &n) < 0) {
        fprintf(stderr, "tessera: cannot read the audit trail (see log above)\n");
        goto out;
    }
    cJSON *rows = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(rows, audit_event_json(&v[i]));
    static const struct table_column columns[] = {
        TABLE_COLUMN("ID", "id"),          TABLE_COLUMN("AT", "at"),
        TABLE_COLUMN("KIND", "kind"),      TABLE_COLUMN("ACTOR", "actor"),
        TABLE_COLUMN("ACCOUNT", "account_id"), TABLE_COLUMN("TOKEN", "token_id"),
        TABLE_COLUMN("CLIENT", "client"),  TABLE_COLUMN("DETAIL", "detail"),
        TABLE_END};
    table_print(rows, columns, o->json);
    status = 0;
out:
    free(v);
    account_free(&a);
    app_close(app);
    return status;
}

/* ---- entry point ------------------------------------------------------ */

static int load_config(struct config *cfg, int argc, char **argv)
{
    char err[512];
    config_defaults(cfg);
    for (int i = 1; i < argc; i++) {
        const char *path = NULL;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
        if (path && config_load_file(cfg, path, err, sizeof(err)) < 0) {
            fprintf(stderr, "tessera: %s\n", err);
            return -EINVAL;
        }
    }
    if (config_load_env(cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "tessera: %s\n", err);
        return -EINVAL;
    }
    return 0;
}

int cli_main(int argc, char **argv)
{
    static struct app app; /* large (paths); static keeps it off the stack */
    struct cli_opts o = {0};
    /* Skip global options before the command word. */
    int cmd = 1;
    while (cmd < argc && strncmp(argv[cmd], "--", 2) == 0 && strcmp(argv[cmd], "--help") != 0 &&
           strcmp(argv[cmd], "--version") != 0)
        cmd += strchr(argv[cmd], '=') ? 1 : 2;
    if (cmd < argc && (strcmp(argv[cmd], "--version") == 0 || strcmp(argv[cmd], "version") == 0)) {
        printf("tessera %s\n", TESSERA_VERSION);
        return 0;
    }
    if (cmd >= argc || strcmp(argv[cmd], "--help") == 0 || strcmp(argv[cmd], "help") == 0) {
        fputs(usage_main, cmd >= argc ? stderr : stdout);
        return cmd >= argc ? 2 : 0;
    }
    if (load_config(&app.cfg, argc, argv) < 0)
        return 2;
    const char *command = argv[cmd];
    bool has_verb = strcmp(command, "serve") != 0 && strcmp(command, "migrate") != 0 &&
                    strcmp(command, "audit") != 0 && strcmp(command, "instance") != 0;
    const char *verb = has_verb && cmd + 1 < argc && argv[cmd + 1][0] != '-' ? argv[cmd + 1] : "";
    int first = cmd + 1 + (verb[0] ? 1 : 0);
    bool staff_value = strcmp(command, "user") == 0 && strcmp(verb, "set") == 0;
    /* Global options given before the command are parsed as well. */
    if (parse_args(cmd - 1, argv + 1, &app.cfg, &o, staff_value) < 0 ||
        parse_args(argc - first, argv + first, &app.cfg, &o, staff_value) < 0)
        return 2;

    struct {
        const char *name;
        const char *usage;
    } usages[] = {{"serve", usage_serve}, {"migrate", usage_migrate}, {"user", usage_user},
                  {"token", cli_usage_token}, {"scope", usage_scope},     {"group", usage_group},
                  {"stac", usage_stac}, {"audit", usage_audit}, {"instance", usage_instance}};
    const char *usage = NULL;
    for (size_t i = 0; i < sizeof(usages) / sizeof(usages[0]); i++)
        if (strcmp(usages[i].name, command) == 0)
            usage = usages[i].usage;
    if (!usage) {
        fprintf(stderr, "tessera: unknown command \"%s\"\n\n%s", command, usage_main);
        return 2;
    }
    if (o.help) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(command, "serve") == 0)
        return cmd_serve(&app);
    if (strcmp(command, "migrate") == 0)
        return cmd_migrate(&app);
    if (strcmp(command, "user") == 0)
        return cmd_user(&app, verb, &o);
    if (strcmp(command, "token") == 0)
        return cli_cmd_token(&app, verb, &o);
    if (strcmp(command, "audit") == 0)
        return cmd_audit(&app, &o);
    if (strcmp(command, "instance") == 0)
        return cmd_instance(&app);
    if (strcmp(command, "scope") == 0 || strcmp(command, "group") == 0)
        return cmd_scope_group(&app, strcmp(command, "scope") == 0, verb, &o);
    return cmd_stac(&app, verb, &o);
}
