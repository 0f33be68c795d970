/* `tessera token ...`: operator token management (create, set, list, revoke,
 * rotate). Runs in the CLI process, on its one thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "auth/audit.h"
#include "auth/token.h"
#include "auth/tokens.h"
#include "cli/cli_int.h"
#include "cli/table.h"
#include "util/timeutil.h"

const char cli_usage_token[] =
    "usage: tessera token create EMAIL --scopes S,S [--note TEXT] [--expires-days N]\n"
    "                            [--resources R,R]\n"
    "       tessera token set ID --resources R,R|\"\"\n"
    "       tessera token list EMAIL [--json]\n"
    "       tessera token revoke ID\n"
    "       tessera token rotate ID [--grace-seconds N]\n"
    "create prints the token once (pk when every scope is public, else sk).\n"
    "--resources binds a token to STAC collections and asset key prefixes\n"
    "(collection:ID, asset:PREFIX); set replaces them (\"\" = unrestricted).\n"
    "rotate prints a new token (new secret; same name, scopes, restrictions and expiry);\n"
    "the old one keeps working for --grace-seconds (default 0), then is revoked.\n"
    "list prints a header, then id, usage, created, scopes, note, resources, last used, expiry\n"
    "(\"never\") and whether it is within expiry_warning_days, tab-separated;\n"
    "--json prints the tokens as a JSON array.\n"
    "Examples: tessera token create ci@example.com --scopes stac --note ci --expires-days 90\n"
    "          tessera token set k3v9x2m8q4w7e1r5t6y0u2i8o --resources collection:l4a-ch4-mfa-v3a\n"
    "          tessera token rotate k3v9x2m8q4w7e1r5t6y0u2i8o --grace-seconds 3600\n";

/* ---- tokens ----------------------------------------------------------- */

static const struct table_column token_columns[] = {
    TABLE_COLUMN("ID", "id"),
    TABLE_COLUMN("USAGE", "usage"),
    TABLE_COLUMN("CREATED", "created"),
    TABLE_COLUMN("SCOPES", "scopes"),
    TABLE_COLUMN("NOTE", "note"),
    TABLE_OR_NULL("RESOURCES", "resources", "any"),
    TABLE_OR_NULL("LAST_USED", "last_used", "never"),
    TABLE_OR_NULL("EXPIRES", "expires", "never"),
    TABLE_BOOL("EXPIRING_SOON", "expiring_soon", "yes", "-"),
    TABLE_END};

/* `token set ID --resources`: the operator replaces a live token's bounds
 * (any bounds: the operator speaks for every account). 0 or -errno, said. */
static int set_token_resources(struct app *app, const char *id, struct strlist *bounds)
{
    struct token_record t = {0};
    int rc = token_id_valid(id) ? app->store->ops->token_get(app->store, id, &t) : -ENOENT;
    if (rc == 0 && t.revoked_at)
        rc = -ENOENT;
    if (rc == 0) {
        strlist_free(&t.resources);
        t.resources = *bounds;
        *bounds = (struct strlist)STRLIST_INIT;
        t.modified = time_now_ms();
        rc = app->store->ops->token_update(app->store, &t);
    }
    if (rc == -ENOENT)
        fprintf(stderr, "tessera: no live token with id %s\n", id);
    else if (rc < 0)
        fprintf(stderr, "tessera: could not update %s (see log above)\n", id);
    else
        audit_log(app->audit, AUDIT_TOKEN_UPDATE, t.account_id, t.id, &audit_cli, "resources");
    token_record_free(&t);
    return rc;
}

int cli_cmd_token(struct app *app, const char *verb, struct cli_opts *o)
{
    struct account a = {0};
    struct strlist scopes = STRLIST_INIT, bounds = STRLIST_INIT, unbound = STRLIST_INIT;
    int status = 1;
    bool known = strcmp(verb, "create") == 0 || strcmp(verb, "list") == 0 ||
                 strcmp(verb, "revoke") == 0 || strcmp(verb, "rotate") == 0 ||
                 strcmp(verb, "set") == 0;
    if (!known || o->npositional != 1 || (strcmp(verb, "create") == 0 && !o->scopes) ||
        (strcmp(verb, "set") == 0 && !o->resources)) {
        fputs(cli_usage_token, stderr);
        return 2;
    }
    char msg[200] = "out of memory";
    if (o->resources && (strlist_split(&bounds, o->resources) < 0 ||
                         tokens_check_resources(&bounds, &unbound, msg, sizeof(msg)) < 0)) {
        fprintf(stderr, "tessera: %s\n", msg);
        strlist_free(&bounds);
        return 2;
    }
    if (cli_open_app(app) < 0) {
        strlist_free(&bounds);
        return 1;
    }
    if (strcmp(verb, "set") == 0) {
        status = set_token_resources(app, o->positional[0], &bounds) < 0;
        goto out;
    }
    if (strcmp(verb, "rotate") == 0) {
        struct token_record old = {0}, t = {0};
        char *value = NULL;
        int rc = app->store->ops->token_get(app->store, o->positional[0], &old);
        if (rc == 0)
            rc = app->store->ops->account_get_by_id(app->store, old.account_id, &a);
        if (rc == 0)
            rc = tokens_rotate(app, &a, o->positional[0], o->grace_seconds * 1000LL, &audit_cli,
                               &t, &value);
        if (rc == -ENOENT)
            fprintf(stderr, "tessera: no live token with id %s\n", o->positional[0]);
        else if (rc == -EPERM)
            fprintf(stderr, "tessera: the account is no longer granted every scope of %s\n",
                    o->positional[0]);
        else if (rc < 0)
            fprintf(stderr, "tessera: could not rotate %s (see log above)\n", o->positional[0]);
        else
            printf("%s\n", value);
        if (value) {
            crypto_wipe(value, strlen(value));
            free(value);
        }
        token_record_free(&t);
        token_record_free(&old);
        status = rc < 0;
        goto out;
    }
    if (strcmp(verb, "revoke") == 0) {
        int rc = tokens_revoke(app, o->positional[0], -1, &audit_cli);
        if (rc == -ENOENT)
            fprintf(stderr, "tessera: no live token with id %s\n", o->positional[0]);
        else if (rc == -EPERM)
            fprintf(stderr, "tessera: %s is the account's default public token: rotate it "
                            "(tessera token rotate) or disable the account\n",
                    o->positional[0]);
        else if (rc < 0)
            fprintf(stderr, "tessera: could not revoke %s (see log above)\n", o->positional[0]);
        status = rc < 0;
        goto out;
    }
    if (cli_find_account(app, o->positional[0], &a) < 0)
        goto out;
    if (strcmp(verb, "create") == 0) {
        bool all_public;
        int rc = strlist_split(&scopes, o->scopes) < 0 || scopes.n == 0
                     ? -EINVAL
                     : tokens_check_scopes(app, &scopes, &a.scopes, &all_public);
        if (rc == -EINVAL) {
            fprintf(stderr, "tessera: unknown scope in \"%s\" (see `tessera scope list`)\n", o->scopes);
            goto out;
        }
        if (rc < 0) {
            fprintf(stderr, "tessera: the account is not granted every one of \"%s\"\n", o->scopes);
            goto out;
        }
        struct token_spec spec = {.scopes = &scopes, .note = o->note ? o->note : "", .usage = -1,
                                  .resources = &bounds,
                                  .expires_at = o->expires_days
                                                    ? time_now_ms() + o->expires_days * 86400000LL
                                                    : 0};
        struct token_record t;
        char *value;
        int made = tokens_create(app, &a, &spec, &t, &value);
        if (made == -ERANGE) {
            fprintf(stderr, "tessera: --expires-days is beyond the maximum lifetime"
                            " (max_token_days, token_max_lifetime_days)\n");
            goto out;
        }
        if (made < 0) {
            fprintf(stderr, "tessera: could not create the token\n");
            goto out;
        }
        printf("%s\n", value);
        audit_log(app->audit, AUDIT_TOKEN_CREATE, a.id, t.id, &audit_cli,
                  t.usage == TOKEN_PK ? "pk" : "sk");
        crypto_wipe(value, strlen(value));
        free(value);
        token_record_free(&t);
        status = 0;
    } else {
        struct token_query q = {.account_id = a.id, .usage = -1, .is_default = -1, .limit = 100};
        char last[TOKEN_ID_LEN + 1] = "";
        cJSON *rows = cJSON_CreateArray();
        for (;;) {
            struct token_record *v;
            size_t n;
            q.start_after = last[0] ? last : NULL;
            if (app->store->ops->token_list(app->store, &q, &v, &n) < 0) {
                cJSON_Delete(rows);
                goto out;
            }
            for (size_t i = 0; i < n; i++)
                cJSON_AddItemToArray(rows, tokens_to_json(app, &v[i], NULL));
            if (n)
                snprintf(last, sizeof(last), "%s", v[n - 1].id);
            token_records_free(v, n);
            if (n < q.limit)
                break;
        }
        table_print(rows, token_columns, o->json);
        status = 0;
    }
out:
    strlist_free(&scopes);
    strlist_free(&bounds);
    account_free(&a);
    app_close(app);
    return status;
}
