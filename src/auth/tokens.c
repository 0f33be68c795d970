/* Token minting and the Mapbox token object. The secret of a new token exists
 * only in the returned string; the store keeps HMAC-SHA256(server key,
 * secret), and for pk tokens (public by design) the full string so they can
 * be listed again. */
#include "auth/tokens.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "auth/auth.h"
#include "auth/resources.h"
#include "auth/token.h"
#include "auth/tokenindex.h"
#include "util/json.h"
#include "util/log.h"
#include "util/timeutil.h"

/* Every requested scope must be registered; pk or sk follows from whether
 * they are all public. */
static bool scopes_known(struct app *app, const struct strlist *s, bool *all_public)
{
    struct scope_def *defs = NULL;
    size_t n = 0;
    *all_public = true;
    if (app->store->ops->scope_list(app->store, &defs, &n) < 0)
        return false;
    bool known = true;
    for (size_t i = 0; i < s->n && known; i++) {
        known = false;
        for (size_t j = 0; j < n; j++) {
            if (strcmp(defs[j].id, s->v[i]) == 0) {
                known = true;
                if (!defs[j].is_public)
                    *all_public = false;
                break;
            }
        }
    }
    free(defs);
    return known;
}

int tokens_check_scopes(struct app *app, const struct strlist *scopes,
                        const struct strlist *ceiling, bool *all_public)
{
    if (!scopes_known(app, scopes, all_public))
        return -EINVAL;
    return strlist_is_subset(scopes, ceiling) ? 0 : -EPERM;
}

#define DAY_MS (86400 * 1000LL)

int tokens_check_expiry(struct app *app, int64_t *expires_at, bool is_default, char *msg,
                        size_t msglen)
{
    int64_t now = time_now_ms();
    int lifetime = is_default ? 0 : app->cfg.token_max_lifetime_days;
    if (*expires_at == 0 && lifetime > 0)
        *expires_at = now + lifetime * DAY_MS;
    if (*expires_at == 0)
        return 0;
    if (*expires_at <= now) {
        snprintf(msg, msglen, "expires_at is in the past");
        return -EINVAL;
    }
    int days = lifetime > 0 && lifetime < app->cfg.max_token_days ? lifetime
                                                                   : app->cfg.max_token_days;
    /* Through the end of the last allowed day: create-stac's "valid through
     * YYYY-MM-DD" ends at the next midnight. */
    if (*expires_at > now + (days + 1) * DAY_MS) {
        snprintf(msg, msglen, "expires_at is more than %d days in the future", days);
        return -EINVAL;
    }
    return 0;
}

bool tokens_expiring_soon(struct app *app, int64_t expires_at)
{
    return expires_at && expires_at - time_now_ms() < app->cfg.expiry_warning_days * DAY_MS;
}

int tokens_check_resources(struct strlist *resources, const struct strlist *ceiling, char *msg,
                           size_t msglen)
{
    int rc = resources_normalize(resources, msg, msglen);
    if (rc < 0)
        return rc;
    if (!resources_cover(ceiling, resources)) {
        /* An empty ceiling covers everything, so the authorizer is bound. */
        snprintf(msg, msglen,
                 "resources must lie within those of the authorizing token; an unrestricted "
                 "token can only be created with a session or an unrestricted token");
        return -EPERM;
    }
    return 0;
}

int tokens_prepare(struct app *app, const char *username, const struct token_spec *spec,
                   struct token_record *out, char **token_out)
{
    memset(out, 0, sizeof(*out));
    *token_out = NULL;
    int usage = spec->usage;
    if (usage < 0) {
        bool all_public;
        if (!scopes_known(app, spec->scopes, &all_public))
            return -EINVAL;
        usage = all_public ? TOKEN_PK : TOKEN_SK;
    }
    char secret[TOKEN_SECRET_LEN + 1];
    token_new_id(out->id);
    token_new_secret(secret);
    out->usage = (enum token_kind)usage;
    snprintf(out->note, sizeof(out->note), "%s", spec->note ? spec->note : "");
    out->is_default = spec->is_default;
    out->expires_at = spec->expires_at;
    out->created = out->modified = time_now_ms();
    int rc = -ENOMEM;
    if (strlist_copy(&out->scopes, spec->scopes) < 0 ||
        (spec->allowed_urls && strlist_copy(&out->allowed_urls, spec->allowed_urls) < 0) ||
        (spec->resources && strlist_copy(&out->resources, spec->resources) < 0))
        goto fail;
    if (token_hash_secret(app->token_key, secret, out->secret_hash) < 0) {
        rc = -EIO;
        goto fail;
    }
    char *value = token_format_stored(out->usage, username, out->id, app->instance, secret);
    if (!value)
        goto fail;
    if (out->usage == TOKEN_PK && !(out->public_token = strdup(value))) {
        free(value);
        goto fail;
    }
    crypto_wipe(secret, sizeof(secret));
    *token_out = value;
    return 0;
fail:
    crypto_wipe(secret, sizeof(secret));
    token_record_free(out);
    return rc;
}

int tokens_create(struct app *app, const struct account *a, const struct token_spec *spec,
                  struct token_record *out, char **token_out)
{
    /* Whoever asks, a token never holds what its account is not granted,
     * nor lives longer than the server allows. */
    bool all_public;
    int rc = tokens_check_scopes(app, spec->scopes, &a->scopes, &all_public);
    if (rc < 0)
        return rc;
    struct token_spec checked = *spec;
    char msg[96];
    if (tokens_check_expiry(app, &checked.expires_at, spec->is_default, msg, sizeof(msg)) < 0)
        return -ERANGE;
    rc = tokens_prepare(app, a->username, &checked, out, token_out);
    if (rc < 0)
        return rc;
    out->account_id = a->id;
    rc = app->store->ops->token_insert(app->store, out);
    if (rc < 0) {
        crypto_wipe(*token_out, strlen(*token_out));
        free(*token_out);
        *token_out = NULL;
        token_record_free(out);
    }
    return rc;
}

int tokens_rotate(struct app *app, const struct account *a, const char *id, int64_t grace_ms,
                  const struct audit_who *who, struct token_record *out, char **token_out)
{
    struct token_record old = {0};
    memset(out, 0, sizeof(*out));
    *token_out = NULL;
    if (!token_id_valid(id))
        return -ENOENT;
    int rc = app->store->ops->token_get(app->store, id, &old);
    int64_t now = time_now_ms();
    if (rc == 0 && (old.account_id != a->id || old.revoked_at || old.replaced_by[0] ||
                    (old.expires_at && old.expires_at <= now)))
        rc = -ENOENT;
    bool all_public;
    if (rc == 0 && tokens_check_scopes(app, &old.scopes, &a->scopes, &all_public) < 0)
        rc = -EPERM;
    struct token_spec spec = {.scopes = &old.scopes, .note = old.note,
                              .allowed_urls = &old.allowed_urls, .resources = &old.resources,
                              .expires_at = old.expires_at,
                              .is_default = old.is_default, .usage = (int)old.usage};
    if (rc == 0)
        rc = tokens_prepare(app, a->username, &spec, out, token_out);
    if (rc == 0)
        rc = app->store->ops->token_rotate(app->store, id, a->id, out, now + grace_ms);
    if (rc == 0) {
        char detail[96];
        snprintf(detail, sizeof(detail), "replaced by %s; the old secret works %lld s more",
                 out->id, (long long)(grace_ms / 1000));
        audit_log_now(app->audit, AUDIT_TOKEN_ROTATE, a->id, id, who, detail);
        log_info("token %s of account %lld rotated to %s, the old secret valid for %lld s (%s)",
                 id, (long long)a->id, out->id, (long long)(grace_ms / 1000),
                 who && who->actor ? who->actor : "?");
    } else if (*token_out) {
        crypto_wipe(*token_out, strlen(*token_out));
        free(*token_out);
        *token_out = NULL;
        token_record_free(out);
    }
    token_record_free(&old);
    return rc;
}

int tokens_revoke_temp(struct app *app, const char *tk, int64_t account_id, int64_t expires_at,
                       const struct audit_who *who)
{
    char id[TOKEN_ID_LEN + 1];
    if (token_temp_id(tk, id) < 0)
        return -EINVAL;
    int rc = app->store->ops->token_revoke_temp(app->store, id, account_id, expires_at);
    if (rc == 0) {
        audit_log_now(app->audit, AUDIT_TOKEN_REVOKE, account_id, id, who, "temporary token");
        log_info("temporary token %s of account %lld revoked (%s)", id, (long long)account_id,
                 who && who->actor ? who->actor : "?");
    }
    return rc;
}

/* Ends one live token of account, recorded in the audit trail. Callers
 * decide first whether it may be ended. */
static int revoke_checked(struct app *app, const char *id, int64_t account,
                          const struct audit_who *who)
{
    int rc = app->store->ops->token_revoke(app->store, id, account);
    const char *by = who && who->actor ? who->actor : "?";
    if (rc == 0) {
        /* Acknowledged only once audited; should the trail be unwritable
         * now, the event stays queued for its writer. */
        audit_log_now(app->audit, AUDIT_TOKEN_REVOKE, account, id, who, NULL);
        log_info("token %s of account %lld revoked (%s)", id, (long long)account, by);
    } else if (rc != -ENOENT) {
        log_error("could not revoke token %s (%s): %s", id, by, strerror(-rc));
    }
    return rc;
}

int tokens_revoke(struct app *app, const char *id, int64_t owner, const struct audit_who *who)
{
    if (!token_id_valid(id))
        return -ENOENT; /* not even shaped like an id: no storage read */
    struct token_record t = {0};
    int rc = app->store->ops->token_get(app->store, id, &t);
    int64_t account = t.account_id;
    bool dead = t.revoked_at != 0, is_default = t.is_default;
    token_record_free(&t);
    if (rc < 0)
        return rc;
    if (dead || (owner >= 0 && account != owner))
        return -ENOENT;
    /* The account's one pk is how its pages and public clients work: it is
     * rotated, never ended by a request (only disabling the account ends it,
     * through tokens_revoke_matching). */
    if (is_default)
        return -EPERM;
    return revoke_checked(app, id, account, who);
}

int tokens_find_presented(struct app *app, const char *token, struct token_record *out)
{
    memset(out, 0, sizeof(*out));
    struct token_stored_parts parts;
    if (token_parse_stored(token, &parts) < 0)
        return -EINVAL;
    uint8_t mac[CRYPTO_MAC_LEN];
    int rc = -EXDEV;
    if (!auth_instance_ours(app, parts.instance))
        goto out;
    rc = app->store->ops->token_get(app->store, parts.id, out);
    if (rc == 0 && (token_hash_secret(app->token_key, parts.secret, mac) < 0 ||
                    !crypto_equal(mac, out->secret_hash, sizeof(mac)) || out->usage != parts.kind))
        rc = -ENOENT;
    if (rc < 0)
        token_record_free(out);
out:
    crypto_wipe(&parts, sizeof(parts));
    crypto_wipe(mac, sizeof(mac));
    return rc == 0 || rc == -ENOENT || rc == -EXDEV ? rc : -EIO;
}

bool tokens_listed(const struct token_record *t)
{
    return !(t->replaced_by[0] && t->expires_at && t->expires_at <= time_now_ms());
}

void tokens_merge_last_used(struct app *app, struct token_record *v, size_t n)
{
    if (!app->index)
        return;
    for (size_t i = 0; i < n; i++) {
        int64_t here = tokenindex_last_used(app->index, v[i].id);
        if (here > v[i].last_used_at)
            v[i].last_used_at = here;
    }
}

int tokens_revoke_all(struct app *app, int64_t account_id, const struct audit_who *who,
                      size_t *revoked)
{
    return tokens_revoke_matching(app, account_id, false, who, revoked);
}

int tokens_revoke_matching(struct app *app, int64_t account_id, bool with_default,
                           const struct audit_who *who, size_t *revoked)
{
    *revoked = 0;
    struct token_query q = {.account_id = account_id,
                            .usage = -1,
                            .is_default = with_default ? -1 : 0,
                            .sortby = TOKEN_SORT_CREATED,
                            .limit = 100};
    int rc = 0;
    /* Each page starts from the beginning: revoked rows leave the listing. */
    for (;;) {
        struct token_record *v = NULL;
        size_t n = 0;
        if ((rc = app->store->ops->token_list(app->store, &q, &v, &n)) < 0)
            break;
        for (size_t i = 0; i < n && rc == 0; i++) {
            rc = revoke_checked(app, v[i].id, account_id, who);
            if (rc == -ENOENT) /* revoked meanwhile */
                rc = 0;
            else if (rc == 0)
                (*revoked)++;
        }
        token_records_free(v, n);
        if (rc < 0 || n < q.limit)
            break;
    }
    return rc;
}

cJSON *tokens_to_json(struct app *app, const struct token_record *t, const char *token_value)
{
    char created[TIME_RFC3339_LEN], modified[TIME_RFC3339_LEN];
    time_format_rfc3339(t->created, created);
    time_format_rfc3339(t->modified, modified);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", t->id);
    cJSON_AddStringToObject(o, "usage", t->usage == TOKEN_PK ? "pk" : "sk");
    cJSON_AddStringToObject(o, "client", "api");
    cJSON_AddBoolToObject(o, "default", t->is_default);
    cJSON_AddItemToObject(o, "scopes", json_from_strlist(&t->scopes));
    cJSON_AddStringToObject(o, "note", t->note);
    cJSON_AddStringToObject(o, "created", created);
    cJSON_AddStringToObject(o, "modified", modified);
    if (t->expires_at) {
        char expires[TIME_RFC3339_LEN];
        time_format_rfc3339(t->expires_at, expires);
        cJSON_AddStringToObject(o, "expires", expires);
    }
    if (t->allowed_urls.n)
        cJSON_AddItemToObject(o, "allowedUrls", json_from_strlist(&t->allowed_urls));
    if (t->resources.n)
        cJSON_AddItemToObject(o, "resources", json_from_strlist(&t->resources));
    json_add_time(o, "last_used", t->last_used_at);
    cJSON_AddBoolToObject(o, "expiring_soon", tokens_expiring_soon(app, t->expires_at));
    if (t->replaced_by[0])
        cJSON_AddStringToObject(o, "replaced_by", t->replaced_by);
    if (token_value)
        cJSON_AddStringToObject(o, "token", token_value);
    return o;
}
