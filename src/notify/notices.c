#include "notify/notices.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "auth/audit.h"
#include "util/json.h"
#include "util/log.h"
#include "util/timeutil.h"

#define DAY_MS 86400000LL
/* How far back an expiry still gets its "expired" notice. */
#define EXPIRED_LOOKBACK_MS (7 * DAY_MS)

struct scan {
    struct app *app;
    const char *kind;
    int64_t now;
    int made;
};

static int add_notice(void *ctx, const char *id, int64_t account_id, int64_t expires_at)
{
    struct scan *s = ctx;
    struct notice n = {.account_id = account_id,
                       .token_expires_at = expires_at,
                       .delivery = s->app->cfg.webhook_url[0] ? NOTICE_PENDING : NOTICE_NO_WEBHOOK,
                       .next_attempt_at = s->now};
    snprintf(n.token_id, sizeof(n.token_id), "%s", id);
    snprintf(n.kind, sizeof(n.kind), "%s", s->kind);
    int rc = s->app->store->ops->notice_add(s->app->store, &n);
    if (rc == -EEXIST) /* another node was first */
        return 0;
    if (rc < 0)
        return rc;
    log_info("notice %s for token %s (account %lld)", s->kind, id, (long long)account_id);
    /* The owner's audit trail shows the warning beside the token's other
     * events; the node that made the notice writes it, once. */
    static const struct audit_who system = {.actor = "system"};
    char when[TIME_RFC3339_LEN], detail[64];
    time_format_rfc3339(expires_at, when);
    snprintf(detail, sizeof(detail), "expires at %s", when);
    audit_log(s->app->audit, s->kind, account_id, id, &system, detail);
    s->made++;
    return 0;
}

int notices_scan(struct app *app, int64_t now)
{
    struct store *st = app->store;
    struct scan s = {app, NOTICE_TOKEN_EXPIRED, now, 0};
    int rc = st->ops->token_expiring(st, NOTICE_TOKEN_EXPIRED, now - EXPIRED_LOOKBACK_MS, now,
                                     add_notice, &s);
    if (rc == 0 && app->cfg.expiry_warning_days > 0) {
        s.kind = NOTICE_TOKEN_EXPIRING;
        rc = st->ops->token_expiring(st, NOTICE_TOKEN_EXPIRING, now,
                                     now + app->cfg.expiry_warning_days * DAY_MS, add_notice, &s);
    }
    return rc < 0 ? rc : s.made;
}

/* "ci" (its note), or the id for a token without one. */
static const char *token_name(const struct token_record *t)
{
    return t->note[0] ? t->note : t->id;
}

static void describe(const struct notice *n, const struct token_record *t, int64_t now, char *out,
                     size_t len)
{
    char when[TIME_RFC3339_LEN];
    time_format_rfc3339(n->token_expires_at, when);
    if (strcmp(n->kind, NOTICE_TOKEN_EXPIRED) == 0) {
        snprintf(out, len, "Token \"%s\" expired at %s.", token_name(t), when);
        return;
    }
    int64_t days = (n->token_expires_at - now) / DAY_MS;
    if (days < 1)
        snprintf(out, len, "Token \"%s\" expires at %s, in less than a day.", token_name(t), when);
    else
        snprintf(out, len, "Token \"%s\" expires at %s, in %lld day%s.", token_name(t), when,
                 (long long)days, days == 1 ? "" : "s");
}

static cJSON *token_summary(const struct token_record *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", t->id);
    cJSON_AddStringToObject(o, "note", t->note);
    cJSON_AddStringToObject(o, "usage", t->usage == TOKEN_PK ? "pk" : "sk");
    cJSON_AddItemToObject(o, "scopes", json_from_strlist(&t->scopes));
    json_add_time(o, "expires", t->expires_at);
    return o;
}

static cJSON *notice_json(const struct notice *n, const struct token_record *t, int64_t now)
{
    char message[TOKEN_NOTE_MAX + 128];
    describe(n, t, now, message, sizeof(message));
    cJSON *o = cJSON_CreateObject();
    json_add_int(o, "id", n->id);
    cJSON_AddStringToObject(o, "kind", n->kind);
    json_add_time(o, "created", n->created);
    cJSON_AddStringToObject(o, "message", message);
    cJSON_AddItemToObject(o, "token", token_summary(t));
    return o;
}

/* An expiring notice whose token also has the expired one for the same
 * expiry says less than it: only the latter is shown. */
static bool superseded(const struct notice *v, size_t n, size_t i)
{
    if (strcmp(v[i].kind, NOTICE_TOKEN_EXPIRING) != 0)
        return false;
    for (size_t j = 0; j < n; j++)
        if (j != i && strcmp(v[j].token_id, v[i].token_id) == 0 &&
            v[j].token_expires_at == v[i].token_expires_at &&
            strcmp(v[j].kind, NOTICE_TOKEN_EXPIRED) == 0)
            return true;
    return false;
}

int notices_list_json(struct app *app, int64_t account_id, int64_t now, cJSON **out)
{
    struct notice *v = NULL;
    size_t n = 0;
    int rc = app->store->ops->notice_list(app->store, account_id, &v, &n);
    if (rc < 0)
        return rc;
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n && arr; i++) {
        struct token_record t;
        if (superseded(v, n, i) || app->store->ops->token_get(app->store, v[i].token_id, &t) < 0)
            continue;
        cJSON_AddItemToArray(arr, notice_json(&v[i], &t, now));
        token_record_free(&t);
    }
    free(v);
    if (!arr)
        return -ENOMEM;
    *out = arr;
    return 0;
}

char *notices_webhook_body(struct app *app, const struct notice *n, int64_t now, bool *gone)
{
    *gone = false;
    struct token_record t;
    struct account a = {0};
    int rc = app->store->ops->token_get(app->store, n->token_id, &t);
    if (rc == -ENOENT) {
        *gone = true;
        return NULL;
    }
    if (rc < 0)
        return NULL;
    char *body = NULL;
    *gone = t.revoked_at || t.replaced_by[0] || t.expires_at != n->token_expires_at;
    if (!*gone && app->store->ops->account_get_by_id(app->store, n->account_id, &a) == 0) {
        cJSON *o = cJSON_CreateObject(), *acc = cJSON_CreateObject();
        json_add_int(o, "id", n->id);
        cJSON_AddStringToObject(o, "type", n->kind);
        json_add_time(o, "created", n->created);
        char message[TOKEN_NOTE_MAX + 128];
        describe(n, &t, now, message, sizeof(message));
        cJSON_AddStringToObject(o, "message", message);
        json_add_int(acc, "id", a.id);
        cJSON_AddStringToObject(acc, "email", a.email);
        cJSON_AddStringToObject(acc, "username", a.username);
        cJSON_AddItemToObject(o, "account", acc);
        cJSON_AddItemToObject(o, "token", token_summary(&t));
        body = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
    }
    account_free(&a);
    token_record_free(&t);
    return body;
}
