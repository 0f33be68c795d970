/* Leaked-token self-defence endpoints:
 *   POST /api/v1/token/report-leak  reports in the format of GitHub's
 *        secret-scanning partner programme (leakreport.h), signed by a key
 *        of leak_report_keys: every genuine, live token reported is revoked
 *        and every genuine one recorded in its account's audit trail;
 *   DELETE /api/v1/token/self        the presented pk/sk revokes itself.
 * Both write the store: they run on the worker pool (ROUTE_OFFLOAD). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "api/api.h"
#include "app.h"
#include "auth/leakreport.h"
#include "auth/token.h"
#include "auth/tokens.h"
#include "http/server.h"
#include "store/store.h"
#include "util/log.h"
#include "util/timeutil.h"

/* Each token costs a lookup and perhaps a revocation that every node must
 * apply: a report is bounded (the body by max_body as well). */
#define REPORT_MAX_TOKENS 100

/* What became of one reported token. Genuine ones (ours, secret or MAC
 * checked) are true positives, whatever their state. */
enum leak_outcome {
    LEAK_REVOKED,         /* was live, now revoked */
    LEAK_ALREADY_REVOKED, /* revoked before (or its tk's parent was) */
    LEAK_EXPIRED,         /* ended on its own before */
    LEAK_DEFAULT_KEPT,    /* the account's default public token: never revoked, rotate it */
    LEAK_UNKNOWN,         /* shaped like ours, but no such token (or not our MAC) */
    LEAK_MALFORMED,       /* not a token of ours in shape */
    LEAK_OTHER_INSTANCE,  /* its marker names another deployment */
};

static const char *const outcome_names[] = {
    [LEAK_REVOKED] = "revoked",
    [LEAK_ALREADY_REVOKED] = "already_revoked",
    [LEAK_EXPIRED] = "expired",
    [LEAK_DEFAULT_KEPT] = "default_token_kept",
    [LEAK_UNKNOWN] = "unknown",
    [LEAK_MALFORMED] = "malformed",
    [LEAK_OTHER_INSTANCE] = "other_instance",
};

static bool outcome_genuine(enum leak_outcome o)
{
    return o <= LEAK_DEFAULT_KEPT;
}

/* Where a reported token was found, for the audit trail. */
struct leak_where {
    const char *url, *source;
};

/* Whose token it was, once known genuine: the audit event's subject. */
struct leak_subject {
    int64_t account_id;
    char token_id[TOKEN_ID_LEN + 1]; /* pk/sk: itself; tk: its parent ("" = a session) */
};

/* A reported pk/sk: revoked when genuine and live (tokens_revoke audits the
 * revocation). -EIO when the store failed (the report is answered 503 and
 * can be sent again: what was revoked stays revoked). */
static int handle_stored(struct app *app, const char *token, const struct audit_who *who,
                         enum leak_outcome *o, struct leak_subject *s)
{
    struct token_record t;
    int rc = tokens_find_presented(app, token, &t);
    if (rc == -EINVAL || rc == -EXDEV || rc == -ENOENT) {
        *o = rc == -EINVAL ? LEAK_MALFORMED : rc == -EXDEV ? LEAK_OTHER_INSTANCE : LEAK_UNKNOWN;
        return 0;
    }
    if (rc < 0)
        return rc;
    s->account_id = t.account_id;
    memcpy(s->token_id, t.id, sizeof(s->token_id));
    bool past = t.expires_at && t.expires_at <= time_now_ms();
    if (t.revoked_at || (t.replaced_by[0] && past))
        *o = LEAK_ALREADY_REVOKED;
    else if (past)
        *o = LEAK_EXPIRED;
    else if (t.is_default)
        *o = LEAK_DEFAULT_KEPT;
    else if ((rc = tokens_revoke(app, t.id, t.account_id, who)) == 0)
        *o = LEAK_REVOKED;
    else if (rc == -ENOENT) /* revoked concurrently */
        *o = LEAK_ALREADY_REVOKED;
    else if (rc == -EPERM)
        *o = LEAK_DEFAULT_KEPT;
    token_record_free(&t);
    return rc == -ENOENT || rc == -EPERM ? 0 : rc;
}

/* A reported tk: verified as any credential is, and revoked when live
 * (tokens_revoke_temp audits it). -EAGAIN when this node cannot tell now,
 * -EIO when the store failed (both answered 503). */
static int handle_temporary(struct app *app, const char *token, const struct audit_who *who,
                            enum leak_outcome *o, struct leak_subject *s)
{
    struct token_temp_claims c;
    int rc = token_parse_temp(app->token_key, token, &c);
    bool ours = rc == 0 && auth_instance_ours(app, c.instance);
    strlist_free(&c.scopes);
    if (rc < 0 || !ours) {
        *o = rc == -EPERM ? LEAK_UNKNOWN : rc < 0 ? LEAK_MALFORMED : LEAK_OTHER_INSTANCE;
        return 0;
    }
    struct principal p;
    enum auth_result res = auth_verify(app, token, &p);
    s->account_id = p.account_id;
    memcpy(s->token_id, p.token_id, sizeof(s->token_id));
    int64_t expires = p.expires;
    principal_free(&p);
    switch (res) {
    case AUTH_OK:
        rc = tokens_revoke_temp(app, token, s->account_id, expires, who);
        if (rc < 0 && rc != -EEXIST)
            return rc;
        *o = rc == 0 ? LEAK_REVOKED : LEAK_ALREADY_REVOKED; /* -EEXIST: concurrently */
        break;
    case AUTH_EXPIRED:
        *o = LEAK_EXPIRED;
        break;
    case AUTH_REVOKED:
        *o = LEAK_ALREADY_REVOKED;
        break;
    case AUTH_UNAVAILABLE:
        return -EAGAIN;
    default:
        *o = LEAK_UNKNOWN;
        break;
    }
    return 0;
}

/* Records a genuine token's leak in its account's trail (never the token). */
static void audit_leak(struct app *app, const struct leak_subject *s, enum leak_outcome o,
                       const struct leak_where *where, const struct audit_who *who)
{
    char detail[AUDIT_TEXT_MAX + 1];
    snprintf(detail, sizeof(detail), "%s; found in %s at %s", outcome_names[o],
             where->source ? where->source : "?", where->url ? where->url : "?");
    audit_log_now(app->audit, AUDIT_TOKEN_LEAK, s->account_id, s->token_id, who, detail);
    log_info("leak report: token %s of account %lld reported at %.200s: %s",
             s->token_id[0] ? s->token_id : "(session tk)", (long long)s->account_id,
             where->url ? where->url : "?", outcome_names[o]);
}

/* The partner format's answer for one token: its SHA-256 (the token itself
 * is never echoed), the type as reported, and the label; plus Tessera's
 * outcome and whether this report revoked it. */
static cJSON *outcome_json(const char *token, const char *type, enum leak_outcome o)
{
    unsigned char digest[32];
    char hex[65];
    unsigned int dlen = 0;
    EVP_Digest(token, strlen(token), digest, &dlen, EVP_sha256(), NULL);
    crypto_hex(digest, sizeof(digest), hex);
    cJSON *item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "token_hash", hex);
    cJSON_AddStringToObject(item, "token_type", type ? type : "");
    cJSON_AddStringToObject(item, "label", outcome_genuine(o) ? "true_positive" : "false_positive");
    cJSON_AddStringToObject(item, "status", outcome_names[o]);
    cJSON_AddBoolToObject(item, "revoked", o == LEAK_REVOKED);
    return item;
}

/* The optional text members of a report entry: NULL when absent, false when
 * present with another type. */
static bool optional_string(const cJSON *item, const char *name, const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, name);
    *out = cJSON_IsString(v) ? v->valuestring : NULL;
    return !v || cJSON_IsNull(v) || cJSON_IsString(v);
}

/* 0 when the body is the partner format: an array of 1..REPORT_MAX_TOKENS
 * objects, each with a string "token" and optional string type, url and
 * source. Else replies 422 and returns -EINVAL. */
static int check_report(struct request *r, const cJSON *report)
{
    int n = cJSON_GetArraySize(report);
    if (!cJSON_IsArray(report) || n < 1 || n > REPORT_MAX_TOKENS) {
        char msg[96];
        snprintf(msg, sizeof(msg), "The body must be a JSON array of 1 to %d reported tokens",
                 REPORT_MAX_TOKENS);
        api_reply_validation(r, NULL, msg, "type_error.list");
        return -EINVAL;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, report)
    {
        const char *ignored;
        if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(item, "token")) ||
            !optional_string(item, "type", &ignored) || !optional_string(item, "url", &ignored) ||
            !optional_string(item, "source", &ignored)) {
            api_reply_validation(r, NULL,
                                 "Each reported token is an object with a string token, and"
                                 " optional string type, url and source",
                                 "type_error");
            return -EINVAL;
        }
    }
    return 0;
}

/* 0 when the request carries a valid signature by a configured key; else
 * replies (403, or 503 when the keys cannot be read) and returns -errno. */
static int check_signature(struct request *r)
{
    struct app *app = request_app(r);
    const char *key_id = request_header(r, "Github-Public-Key-Identifier");
    const char *signature = request_header(r, "Github-Public-Key-Signature");
    if (!key_id || !signature) {
        api_reply_error(r, 403,
                        "A report must be signed: Github-Public-Key-Identifier and"
                        " Github-Public-Key-Signature headers",
                        "signature_missing");
        return -EACCES;
    }
    struct leakreport_keys *keys = NULL;
    char err[PATH_MAX + 200];
    int rc = leakreport_keys_load(app->cfg.leak_report_keys, &keys, err, sizeof(err));
    if (rc < 0) {
        log_error("leak report: leak_report_keys: %s", err);
        reply_header(r, "Retry-After", "60");
        api_reply_error(r, 503, "The keys leak reports are checked with cannot be read",
                        "keys_unavailable");
        return rc;
    }
    size_t len;
    const char *body = request_body(r, &len);
    rc = leakreport_verify(keys, key_id, signature, body, len);
    leakreport_keys_free(keys);
    if (rc == -ENOKEY)
        api_reply_error(r, 403, "The report is signed with an unknown key", "unknown_key");
    else if (rc < 0)
        api_reply_error(r, 403, "The report's signature does not verify", "bad_signature");
    return rc;
}

static void handle_report_leak(struct request *r)
{
    struct app *app = request_app(r);
    if (!app->cfg.leak_report_keys[0]) {
        api_reply_error(r, 404, "Leak reports are not enabled on this server (leak_report_keys)",
                        "not_configured");
        return;
    }
    /* Authenticated before parsed: unsigned JSON never reaches cJSON. */
    if (check_signature(r) < 0)
        return;
    cJSON *report = api_parse_json(r);
    if (!report || check_report(r, report) < 0) {
        cJSON_Delete(report);
        return;
    }
    struct api_who who;
    api_who(r, NULL, &who);
    snprintf(who.actor, sizeof(who.actor), "leak-report");
    cJSON *answer = cJSON_CreateArray();
    int rc = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, report)
    {
        const char *token = cJSON_GetObjectItemCaseSensitive(item, "token")->valuestring;
        struct leak_where where;
        const char *type;
        optional_string(item, "type", &type);
        optional_string(item, "url", &where.url);
        optional_string(item, "source", &where.source);
        enum leak_outcome o = LEAK_MALFORMED;
        struct leak_subject s = {0};
        int kind = token_kind_of(token);
        if (kind == TOKEN_PK || kind == TOKEN_SK)
            rc = handle_stored(app, token, &who.who, &o, &s);
        else if (kind == TOKEN_TK)
            rc = handle_temporary(app, token, &who.who, &o, &s);
        if (rc < 0)
            break;
        if (outcome_genuine(o))
            audit_leak(app, &s, o, &where, &who.who);
        cJSON_AddItemToArray(answer, outcome_json(token, type, o));
    }
    cJSON_Delete(report);
    if (rc < 0) {
        cJSON_Delete(answer);
        reply_header(r, "Retry-After", "1");
        api_reply_error(r, 503, "Could not handle the whole report; send it again", "server_busy");
        return;
    }
    reply_header(r, "Cache-Control", "no-store");
    reply_json(r, 200, answer);
}

/* DELETE /api/v1/token/self: whoever holds a pk, sk or tk may end it, the
 * credential itself being the proof. */
static void handle_revoke_self(struct request *r)
{
    struct app *app = request_app(r);
    struct principal p;
    if (!api_authenticate(r, &p, NULL))
        goto out;
    if (p.kind == PRINCIPAL_SESSION) {
        api_reply_error(r, 400,
                        "Session access tokens expire on their own; end the session with"
                        " POST /api/v1/token/blacklist",
                        "unsupported_token_type");
        goto out;
    }
    struct api_who who;
    api_who(r, &p, &who);
    int rc = p.kind == PRINCIPAL_TK
                 ? tokens_revoke_temp(app, auth_credential(r), p.account_id, p.expires, &who.who)
                 : tokens_revoke(app, p.token_id, p.account_id, &who.who);
    if (rc == -EEXIST)
        rc = -ENOENT; /* a tk revoked concurrently, as asked */
    if (rc == -EPERM) {
        api_reply_error(r, 400, API_DEFAULT_TOKEN_KEPT, "default_token");
    } else if (rc < 0 && rc != -ENOENT) { /* -ENOENT: revoked concurrently, as asked */
        reply_header(r, "Retry-After", "1");
        api_reply_error(r, 503, "Could not revoke the token, retry shortly", "server_busy");
    } else {
        reply_json(r, 204, NULL);
    }
out:
    principal_free(&p);
}

void api_leak_register(struct server *srv)
{
    server_route(srv, "POST", "/api/v1/token/report-leak", handle_report_leak, ROUTE_OFFLOAD);
    server_route(srv, "DELETE", "/api/v1/token/self", handle_revoke_self, ROUTE_OFFLOAD);
}
