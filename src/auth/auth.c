/* Credential verification for every protected endpoint. Stored tokens are
 * checked against their keyed hash in constant time; tk. tokens and session
 * JWTs by MAC. Token and account state (revoked, active, granted scopes,
 * groups, logout watermark) comes from the in-memory index (tokenindex.c),
 * which is exact on every request, so a check reads no storage; when the
 * index cannot be trusted (a node whose lease ran out) the answer is
 * AUTH_UNAVAILABLE, never a guess.
 * Thread-safe: no shared mutable state besides the index and metrics. */
#include "auth/auth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "auth/jwt.h"
#include "auth/resources.h"
#include "auth/credcache.h"
#include "auth/listcache.h"
#include "auth/tokenindex.h"
#include "http/metrics.h"
#include "http/server.h"
#include "store/store.h"
#include "util/log.h"
#include "util/strcopy.h"
#include "util/timeutil.h"

const char *auth_credential(const struct request *r)
{
    const char *h = request_header(r, "Authorization");
    if (h) {
        if (strncasecmp(h, "Bearer ", 7) != 0)
            return "";
        h += 7;
        while (*h == ' ')
            h++;
        return h;
    }
    return request_query(r, "access_token");
}

bool principal_has_scope(const struct principal *p, const char *scope)
{
    return strlist_contains(&p->scopes, scope);
}

void principal_free(struct principal *p)
{
    strlist_free(&p->scopes);
    strlist_free(&p->token_scopes);
    strlist_free(&p->groups);
    strlist_free(&p->allowed_urls);
    strlist_free(&p->resources);
    listcache_release(p->lists); /* after the lists that view it */
    p->lists = NULL;
}

const char *auth_result_name(enum auth_result r)
{
    switch (r) {
    case AUTH_OK: return "TokenValid";
    case AUTH_NONE: return "TokenMissing";
    case AUTH_MALFORMED: return "TokenMalformed";
    case AUTH_INVALID: return "TokenInvalid";
    case AUTH_EXPIRED: return "TokenExpired";
    case AUTH_REVOKED: return "TokenRevoked";
    case AUTH_UNAVAILABLE: return "TokenUnavailable";
    }
    return "TokenInvalid";
}

bool auth_instance_ours(const struct app *app, const char *instance)
{
    return !instance[0] || strcmp(instance, app->instance) == 0;
}

/* The account's identity, into p. These fill functions run under the
 * index's read lock. */
static void fill_account(struct principal *p, const struct tokenindex_account *a)
{
    p->account_id = a->id;
    str_copy(p->username, sizeof(p->username), a->username);
    p->is_staff = a->is_staff;
}

/* The account's part of a tk principal: its groups, and its effective
 * scopes, those it was issued (already in p) that the account still holds. */
static int fill_from_account(struct principal *p, const struct tokenindex_account *a)
{
    fill_account(p, a);
    if (strlist_copy(&p->groups, a->groups) < 0)
        return -ENOMEM;
    return strlist_intersect(&p->scopes, &p->token_scopes, a->scopes);
}

/* The account's part of the principal of a stored token t, or of a session
 * when t is NULL (a session speaks for the whole account: its scopes are
 * the account's current grants; a token's, those it was issued that the
 * account still holds), and the five lists, shared from this thread's list
 * cache when the index has not changed since they were copied. */
static int fill_shared(struct principal *p, const struct tokenindex_token *t,
                       const struct tokenindex_account *a)
{
    fill_account(p, a);
    struct strlist *const out[LISTCACHE_LISTS] = {&p->token_scopes, &p->allowed_urls,
                                                  &p->resources, &p->groups, &p->scopes};
    /* Within one generation no record moves: its address names it. */
    struct listcache_key key = {a->generation, t ? (const void *)t->id : (const void *)a->username};
    if ((p->lists = listcache_get(&key, out)))
        return 0;
    static const struct strlist none = STRLIST_INIT;
    struct strlist effective = STRLIST_INIT;
    if (t && strlist_intersect(&effective, t->scopes, a->scopes) < 0)
        return -ENOMEM;
    const struct strlist *const src[LISTCACHE_LISTS] = {
        t ? t->scopes : a->scopes, t ? t->allowed_urls : &none, t ? t->resources : &none,
        a->groups, t ? &effective : a->scopes};
    p->lists = listcache_put(&key, src, out);
    strlist_free(&effective);
    return p->lists ? 0 : -ENOMEM;
}

/* Every running server has an index (app_open builds it); without one we
 * fail closed rather than trust anything. */
static struct tokenindex *index_of(struct app *app)
{
    if (!app->index)
        log_error("auth: no token index; refusing credentials");
    return app->index;
}

struct stored_check {
    const struct token_stored_parts *parts;
    const uint8_t *mac;
    struct principal *p;
    enum auth_result res;
};

/* The principal of a stored token that proved itself (its secret, or its
 * signature on a URL), and whether it may act now. Under the read lock. */
static enum auth_result stored_principal(struct principal *p, const struct tokenindex_token *t,
                                         const struct tokenindex_account *a)
{
    p->kind = t->usage == TOKEN_PK ? PRINCIPAL_PK : PRINCIPAL_SK;
    str_copy(p->token_id, sizeof(p->token_id), t->id);
    p->created = t->created;
    p->expires = t->expires_at;
    if (fill_shared(p, t, a) < 0)
        return AUTH_INVALID;
    int64_t now = time_now_ms();
    bool past = t->expires_at && now >= t->expires_at;
    /* A rotated-away secret past its grace period was replaced on purpose:
     * revoked, not merely expired. */
    if (t->revoked || !a->is_active || (t->replaced && past))
        return AUTH_REVOKED;
    if (past)
        return AUTH_EXPIRED;
    tokenindex_note_use(t, now);
    return AUTH_OK;
}

static int check_stored(void *ctx, const struct tokenindex_token *t,
                        const struct tokenindex_account *a)
{
    struct stored_check *c = ctx;
    c->res = AUTH_INVALID;
    if (crypto_equal(c->mac, t->secret_hash, CRYPTO_MAC_LEN) && t->usage == c->parts->kind &&
        strcmp(a->username, c->parts->username) == 0)
        c->res = stored_principal(c->p, t, a);
    return 0;
}

struct signer_check {
    struct principal *p;
    enum auth_result res;
};

static int check_signer(void *ctx, const struct tokenindex_token *t,
                        const struct tokenindex_account *a)
{
    struct signer_check *c = ctx;
    c->res = stored_principal(c->p, t, a);
    return 0;
}

enum auth_result auth_verify_signer(struct app *app, const char *token_id, struct principal *out)
{
    memset(out, 0, sizeof(*out));
    struct tokenindex *tc = index_of(app);
    struct signer_check c = {out, AUTH_INVALID};
    if (!tc || !token_id_valid(token_id))
        return AUTH_INVALID;
    if (tokenindex_token_view(tc, token_id, check_signer, &c) == -EAGAIN)
        c.res = AUTH_UNAVAILABLE;
    metrics_count_verification(c.res);
    return c.res;
}

static enum auth_result verify_stored(struct app *app, const char *cred, struct principal *p)
{
    struct token_stored_parts parts;
    uint8_t mac[CRYPTO_MAC_LEN];
    /* Shape and checksum, then the HMAC (most of the cost of a check when
     * this thread has not seen the token), outside the lock. */
    int rc = credcache_stored(app->token_key, cred, &parts, mac);
    if (rc == -EINVAL)
        return AUTH_MALFORMED;
    struct stored_check c = {&parts, mac, p, AUTH_INVALID};
    bool ours = rc == 0 && auth_instance_ours(app, parts.instance);
    struct tokenindex *tc = ours ? index_of(app) : NULL;
    if (tc && tokenindex_token_view(tc, parts.id, check_stored, &c) == -EAGAIN)
        c.res = AUTH_UNAVAILABLE;
    crypto_wipe(&parts, sizeof(parts));
    crypto_wipe(mac, sizeof(mac));
    return c.res;
}

/* A signed credential (tk, session JWT) that passed its checks: revoked when
 * what it stands on has ended, else expired once past expires_ms. */
static enum auth_result signed_standing(bool ended, int64_t expires_ms)
{
    if (ended)
        return AUTH_REVOKED;
    return time_now_ms() >= expires_ms ? AUTH_EXPIRED : AUTH_OK;
}

/* A temporary token dies with its parent, and never holds more than the
 * parent holds now. */
#define TK_MAX_LIFETIME_S 3600 /* SPEC §4.2: at most one hour ahead */

/* The parent t (of account a) of the tk in p: whether it is alive, and the
 * tk's scopes narrowed to the parent's. False when the tk claims a scope or
 * a resource its parent does not hold (never minted by us: a leaked key),
 * or when out of memory. */
static bool check_parent(struct principal *p, const struct tokenindex_token *t,
                         const struct tokenindex_account *a, bool *alive)
{
    int64_t now = time_now_ms();
    *alive = a->id == p->account_id && !t->revoked && (!t->expires_at || now < t->expires_at);
    if (!strlist_is_subset(&p->token_scopes, t->scopes) ||
        !resources_cover(t->resources, &p->resources))
        return false;
    if (*alive && strlist_intersect(&p->scopes, &p->scopes, t->scopes) < 0)
        return false;
    /* A temporary token in use is its parent's authority in use. */
    if (*alive && a->is_active && now < p->expires)
        tokenindex_note_use(t, now);
    return true;
}

struct temp_check {
    struct principal *p; /* the claims' part already in */
    const struct token_temp_claims *c;
    const char *tk_id;
    enum auth_result res;
};

/* The whole tk check in one state of the index: its account, its parent,
 * and its own revocation (a revoked tk is indexed as a revoked token of
 * usage TOKEN_TK, under its MAC's id: token_temp_id). */
static int check_temp(void *ctx, const struct tokenindex_reader *rd)
{
    struct temp_check *k = ctx;
    struct principal *p = k->p;
    struct tokenindex_account a, owner;
    struct tokenindex_token t;
    if (!tokenindex_reader_account(rd, 0, k->c->username, &a) || fill_from_account(p, &a) < 0)
        return 0;
    /* Without a stored parent the token was minted by a session, and it ends
     * with the account's sessions (logout everywhere, password change). */
    bool parent_alive = p->created >= a.sessions_valid_after;
    if (k->c->parent[0]) {
        parent_alive = false;
        if (tokenindex_reader_token(rd, k->c->parent, &t, &owner) &&
            !check_parent(p, &t, &owner, &parent_alive))
            return 0;
    }
    bool revoked = tokenindex_reader_token(rd, k->tk_id, &t, &owner) && t.usage == TOKEN_TK;
    k->res = signed_standing(!parent_alive || !a.is_active || revoked, p->expires);
    return 0;
}

static enum auth_result verify_temp(struct app *app, const char *cred, struct principal *p)
{
    struct token_temp_claims c = {0};
    char tk_id[TOKEN_ID_LEN + 1];
    /* A tk seen by this thread before skips the HMAC and the parse, not the checks. */
    int rc = credcache_temp(app->token_key, cred, &c, tk_id);
    if (rc == -EPERM)
        return AUTH_INVALID;
    if (rc < 0)
        return AUTH_MALFORMED;
    enum auth_result res = AUTH_INVALID;
    struct tokenindex *tc = index_of(app);
    if (!tc || !auth_instance_ours(app, c.instance))
        goto out;
    /* Signed but impossible, so only made with a leaked key: living longer
     * than the hour a tk may live, or issued in the future. */
    if (c.exp - c.iat > TK_MAX_LIFETIME_S + JWT_CLOCK_SLACK_S ||
        c.iat > time_now_ms() / 1000 + JWT_CLOCK_SLACK_S)
        goto out;
    p->kind = PRINCIPAL_TK;
    str_copy(p->token_id, sizeof(p->token_id), c.parent);
    p->created = c.iat * 1000;
    p->expires = c.exp * 1000;
    p->token_scopes = c.scopes; /* the principal takes the claims' lists */
    p->resources = c.resources;
    c.scopes = c.resources = (struct strlist)STRLIST_INIT;
    struct temp_check k = {p, &c, tk_id, AUTH_INVALID};
    res = tokenindex_read(tc, check_temp, &k) == -EAGAIN ? AUTH_UNAVAILABLE : k.res;
out:
    strlist_free(&c.scopes);
    strlist_free(&c.resources);
    return res;
}

struct account_check {
    struct principal *p;
    bool active;
    int64_t sessions_valid_after;
    int rc;
};

/* A session speaks for the whole account: its scopes are the account's
 * current grants, not a snapshot taken at sign-in. */
static int check_session_account(void *ctx, const struct tokenindex_account *a)
{
    struct account_check *c = ctx;
    c->active = a->is_active;
    c->sessions_valid_after = a->sessions_valid_after;
    c->rc = fill_shared(c->p, NULL, a);
    return 0;
}

/* The session claims of cred: from this thread's cache of verified
 * tokens, or by verifying it (then cached). 0, -EINVAL or -EPERM as
 * jwt_verify. */
static int session_claims_of(struct app *app, const char *cred, struct session_claims *out)
{
    if (credcache_session_get(app->jwt_key, cred, out))
        return 0;
    struct jwt_claims c = {0};
    int rc = jwt_verify(app->jwt_key, cred, &c);
    if (rc == 0) {
        *out = (struct session_claims){c.type, c.user_id, c.iat, c.exp, ""};
        str_copy(out->jti, sizeof(out->jti), c.jti);
        credcache_session_put(app->jwt_key, cred, out);
    }
    jwt_claims_free(&c);
    return rc;
}

static enum auth_result verify_session(struct app *app, const char *cred, struct principal *p)
{
    struct session_claims c;
    int rc = session_claims_of(app, cred, &c);
    if (rc == -EPERM)
        return AUTH_INVALID;
    if (rc < 0)
        return AUTH_MALFORMED;
    struct tokenindex *tc = c.type == JWT_ACCESS ? index_of(app) : NULL;
    struct account_check ac = {p, false, 0, 0};
    rc = tc ? tokenindex_account_view(tc, c.user_id, check_session_account, &ac) : -ENOENT;
    if (rc < 0 || ac.rc < 0)
        return rc == -EAGAIN ? AUTH_UNAVAILABLE : AUTH_INVALID;
    p->kind = PRINCIPAL_SESSION;
    str_copy(p->jti, sizeof(p->jti), c.jti);
    p->created = c.iat * 1000;
    p->expires = c.exp * 1000;
    return signed_standing(!ac.active || p->created < ac.sessions_valid_after, p->expires);
}

enum auth_result auth_verify(struct app *app, const char *credential, struct principal *out)
{
    memset(out, 0, sizeof(*out));
    enum auth_result res;
    if (!credential)
        res = AUTH_NONE;
    else if (!*credential || strnlen(credential, JWT_MAX_LEN + 1) > JWT_MAX_LEN)
        res = AUTH_MALFORMED;
    else if (token_kind_of(credential) == TOKEN_TK)
        res = verify_temp(app, credential, out);
    else if (token_kind_of(credential) >= 0)
        res = verify_stored(app, credential, out);
    else
        res = verify_session(app, credential, out);
    metrics_count_verification(res);
    return res;
}

/* Strips "scheme://" so "https://a.example/x" compares as "a.example/x". */
static const char *without_scheme(const char *url)
{
    const char *s = strstr(url, "://");
    return s ? s + 3 : url;
}

static bool url_allowed(const char *candidate, const struct strlist *allowed)
{
    const char *c = without_scheme(candidate);
    for (size_t i = 0; i < allowed->n; i++) {
        const char *a = without_scheme(allowed->v[i]);
        size_t n = strlen(a);
        while (n && a[n - 1] == '/')
            n--;
        if (n && strncasecmp(c, a, n) == 0 &&
            (c[n] == '\0' || c[n] == '/' || c[n] == '?' || c[n] == '#' || c[n] == ':'))
            return true;
    }
    return false;
}

bool auth_origin_allowed(const struct principal *p, const struct request *r)
{
    if (p->allowed_urls.n == 0)
        return true;
    const char *origin = request_header(r, "Origin");
    const char *referer = request_header(r, "Referer");
    if (!origin && !referer)
        return true;
    return (origin && url_allowed(origin, &p->allowed_urls)) ||
           (referer && url_allowed(referer, &p->allowed_urls));
}
