/* The caching store wrapper of a serving node: every op goes to the driver;
 * account reads are served from the token index; every committed write to
 * an account or a token is re-read into the index before it returns
 * (indexsync_written), so this node's next request sees it. Reads of what the
 * index does not keep (notes, public token strings, lists) go to the driver.
 * Threading: as the driver's. */
#include "auth/store_cached.h"

#include <errno.h>
#include <stdlib.h>

#include "auth/indexsync.h"
#include "auth/tokenindex.h"

struct cached_store {
    struct store base; /* first: struct store * casts to this */
    struct store *backend;
    struct tokenindex *ix;
    struct indexsync *sync;
};

static struct cached_store *to_cached(struct store *st)
{
    return (struct cached_store *)st;
}

#define BACKEND(st) (to_cached(st)->backend)

static int c_migrate(struct store *st)
{
    return BACKEND(st)->ops->migrate(BACKEND(st));
}

static int c_schema_version(struct store *st)
{
    return BACKEND(st)->ops->schema_version(BACKEND(st));
}

static int c_ping(struct store *st)
{
    return BACKEND(st)->ops->ping(BACKEND(st));
}

static void c_close(struct store *st)
{
    struct cached_store *cs = to_cached(st);
    cs->backend->ops->close(cs->backend);
    free(cs);
}

static int c_account_create(struct store *st, struct account *a, struct token_record *first_token)
{
    int rc = BACKEND(st)->ops->account_create(BACKEND(st), a, first_token);
    if (rc == 0)
        indexsync_written(to_cached(st)->sync, a->id, first_token ? first_token->id : NULL);
    return rc;
}

/* Served from memory; a miss (an account this index has never seen) or an
 * index that cannot be trusted right now still asks the backend, so the
 * answer never depends on the index. */
static int c_account_get_by_id(struct store *st, int64_t id, struct account *out)
{
    int rc = tokenindex_account_get(to_cached(st)->ix, id, NULL, out);
    if (rc == -ENOENT || rc == -EAGAIN)
        rc = BACKEND(st)->ops->account_get_by_id(BACKEND(st), id, out);
    return rc;
}

static int c_account_get_by_username(struct store *st, const char *username, struct account *out)
{
    int rc = tokenindex_account_get(to_cached(st)->ix, 0, username, out);
    if (rc == -ENOENT || rc == -EAGAIN)
        rc = BACKEND(st)->ops->account_get_by_username(BACKEND(st), username, out);
    return rc;
}

static int c_account_get_by_email(struct store *st, const char *email, struct account *out)
{
    /* Sign-in only (Argon2id follows on a worker): not worth an index. */
    return BACKEND(st)->ops->account_get_by_email(BACKEND(st), email, out);
}

static int c_account_update(struct store *st, struct account *a)
{
    int rc = BACKEND(st)->ops->account_update(BACKEND(st), a);
    if (rc == 0)
        indexsync_written(to_cached(st)->sync, a->id, NULL);
    return rc;
}

static int c_account_each(struct store *st, int (*fn)(void *ctx, const struct account *a),
                          void *ctx)
{
    return BACKEND(st)->ops->account_each(BACKEND(st), fn, ctx);
}

static int c_scope_add(struct store *st, const struct scope_def *s)
{
    return BACKEND(st)->ops->scope_add(BACKEND(st), s);
}

static int c_scope_list(struct store *st, struct scope_def **out, size_t *n)
{
    return BACKEND(st)->ops->scope_list(BACKEND(st), out, n);
}

static int c_group_add(struct store *st, const struct group_def *g)
{
    return BACKEND(st)->ops->group_add(BACKEND(st), g);
}

static int c_group_list(struct store *st, struct group_def **out, size_t *n)
{
    return BACKEND(st)->ops->group_list(BACKEND(st), out, n);
}

static int c_token_insert(struct store *st, const struct token_record *t)
{
    int rc = BACKEND(st)->ops->token_insert(BACKEND(st), t);
    if (rc == 0)
        indexsync_written(to_cached(st)->sync, 0, t->id);
    return rc;
}

/* Token records carry notes, public token strings and timestamps the index
 * does not keep (memory); only management endpoints read them, never a check,
 * so they come from the backend. */
static int c_token_get(struct store *st, const char *id, struct token_record *out)
{
    return BACKEND(st)->ops->token_get(BACKEND(st), id, out);
}

static int c_token_list(struct store *st, const struct token_query *q, struct token_record **out,
                        size_t *n)
{
    return BACKEND(st)->ops->token_list(BACKEND(st), q, out, n);
}

static int c_token_update(struct store *st, const struct token_record *t)
{
    int rc = BACKEND(st)->ops->token_update(BACKEND(st), t);
    if (rc == 0)
        indexsync_written(to_cached(st)->sync, 0, t->id);
    return rc;
}

static int c_token_revoke(struct store *st, const char *id, int64_t account_id)
{
    int rc = BACKEND(st)->ops->token_revoke(BACKEND(st), id, account_id);
    if (rc == 0)
        indexsync_written(to_cached(st)->sync, 0, id);
    return rc;
}

static int c_token_revoke_temp(struct store *st, const char *id, int64_t account_id,
                               int64_t expires_at)
{
    int rc = BACKEND(st)->ops->token_revoke_temp(BACKEND(st), id, account_id, expires_at);
    if (rc == 0)
        indexsync_written(to_cached(st)->sync, 0, id);
    return rc;
}

static int c_token_rotate(struct store *st, const char *old_id, int64_t account_id,
                          struct token_record *fresh, int64_t valid_until)
{
    int rc = BACKEND(st)->ops->token_rotate(BACKEND(st), old_id, account_id, fresh, valid_until);
    if (rc == 0) {
        indexsync_written(to_cached(st)->sync, 0, old_id);
        indexsync_written(to_cached(st)->sync, 0, fresh->id);
    }
    return rc;
}

/* Notices are not access data: straight to the backend. */
static int c_token_expiring(struct store *st, const char *kind, int64_t from, int64_t until,
                            int (*fn)(void *ctx, const char *id, int64_t account_id,
                                      int64_t expires_at),
                            void *ctx)
{
    return BACKEND(st)->ops->token_expiring(BACKEND(st), kind, from, until, fn, ctx);
}

static int c_notice_add(struct store *st, struct notice *n)
{
    return BACKEND(st)->ops->notice_add(BACKEND(st), n);
}

static int c_notice_list(struct store *st, int64_t account_id, struct notice **out, size_t *n)
{
    return BACKEND(st)->ops->notice_list(BACKEND(st), account_id, out, n);
}

static int c_notice_dismiss(struct store *st, int64_t id, int64_t account_id)
{
    return BACKEND(st)->ops->notice_dismiss(BACKEND(st), id, account_id);
}

static int c_notice_claim(struct store *st, int64_t now, int64_t lease_ms, size_t max,
                          struct notice **out, size_t *n)
{
    return BACKEND(st)->ops->notice_claim(BACKEND(st), now, lease_ms, max, out, n);
}

static int c_notice_delivered(struct store *st, int64_t id, enum notice_delivery state,
                              int attempts, int64_t next_attempt_at)
{
    return BACKEND(st)->ops->notice_delivered(BACKEND(st), id, state, attempts, next_attempt_at);
}

static int c_reset_insert(struct store *st, const uint8_t hash[CRYPTO_MAC_LEN],
                          int64_t account_id, int64_t expires_at)
{
    return BACKEND(st)->ops->reset_insert(BACKEND(st), hash, account_id, expires_at);
}

static int c_reset_use(struct store *st, const uint8_t hash[CRYPTO_MAC_LEN], int64_t now,
                       int64_t *account_id)
{
    return BACKEND(st)->ops->reset_use(BACKEND(st), hash, now, account_id);
}

static int c_audit_append(struct store *st, const struct audit_event *v, size_t n)
{
    return BACKEND(st)->ops->audit_append(BACKEND(st), v, n);
}

static int c_audit_list(struct store *st, const struct audit_query *q, struct audit_event **out,
                        size_t *n)
{
    return BACKEND(st)->ops->audit_list(BACKEND(st), q, out, n);
}

static int c_audit_prune(struct store *st, int64_t before_ms)
{
    return BACKEND(st)->ops->audit_prune(BACKEND(st), before_ms);
}

static int c_token_touch(struct store *st, const struct token_use *uses, size_t n)
{
    return BACKEND(st)->ops->token_touch(BACKEND(st), uses, n);
}

static int c_token_each(struct store *st, int (*fn)(void *ctx, const struct token_record *t),
                        void *ctx)
{
    return BACKEND(st)->ops->token_each(BACKEND(st), fn, ctx);
}

static int c_refresh_insert(struct store *st, const struct refresh_record *r)
{
    return BACKEND(st)->ops->refresh_insert(BACKEND(st), r);
}

static int c_refresh_rotate(struct store *st, const char *old_jti,
                            const struct refresh_record *next)
{
    return BACKEND(st)->ops->refresh_rotate(BACKEND(st), old_jti, next);
}

static int c_refresh_check(struct store *st, const char *jti, struct refresh_record *out)
{
    return BACKEND(st)->ops->refresh_check(BACKEND(st), jti, out);
}

static int c_refresh_revoke_family(struct store *st, const char *family)
{
    return BACKEND(st)->ops->refresh_revoke_family(BACKEND(st), family);
}

static int c_refresh_revoke_account(struct store *st, int64_t account_id)
{
    return BACKEND(st)->ops->refresh_revoke_account(BACKEND(st), account_id);
}

static struct changefeed *c_feed_open(struct store *st, const struct changefeed_config *cfg)
{
    return BACKEND(st)->ops->feed_open(BACKEND(st), cfg);
}

static int c_key_shared(struct store *st, const char *name, uint8_t key[CRYPTO_KEY_LEN], bool given)
{
    return BACKEND(st)->ops->key_shared(BACKEND(st), name, key, given);
}

static int c_throttle_hit(struct store *st, const char *key, unsigned limit, int window_s)
{
    return BACKEND(st)->ops->throttle_hit(BACKEND(st), key, limit, window_s);
}

static int c_meta_ensure(struct store *st, const char *name, const char *value, char *out,
                         size_t size)
{
    return BACKEND(st)->ops->meta_ensure(BACKEND(st), name, value, out, size);
}

static const struct store_ops cached_ops = {
    .migrate = c_migrate,
    .schema_version = c_schema_version,
    .ping = c_ping,
    .close = c_close,
    .account_create = c_account_create,
    .account_get_by_id = c_account_get_by_id,
    .account_get_by_email = c_account_get_by_email,
    .account_get_by_username = c_account_get_by_username,
    .account_update = c_account_update,
    .account_each = c_account_each,
    .scope_add = c_scope_add,
    .scope_list = c_scope_list,
    .group_add = c_group_add,
    .group_list = c_group_list,
    .token_insert = c_token_insert,
    .token_get = c_token_get,
    .token_list = c_token_list,
    .token_update = c_token_update,
    .token_revoke = c_token_revoke,
    .token_revoke_temp = c_token_revoke_temp,
    .token_touch = c_token_touch,
    .token_rotate = c_token_rotate,
    .audit_append = c_audit_append,
    .audit_list = c_audit_list,
    .audit_prune = c_audit_prune,
    .token_expiring = c_token_expiring,
    .notice_add = c_notice_add,
    .notice_list = c_notice_list,
    .notice_dismiss = c_notice_dismiss,
    .notice_claim = c_notice_claim,
    .notice_delivered = c_notice_delivered,
    .reset_insert = c_reset_insert,
    .reset_use = c_reset_use,
    .token_each = c_token_each,
    .refresh_insert = c_refresh_insert,
    .refresh_rotate = c_refresh_rotate,
    .refresh_check = c_refresh_check,
    .refresh_revoke_family = c_refresh_revoke_family,
    .refresh_revoke_account = c_refresh_revoke_account,
    .feed_open = c_feed_open,
    .key_shared = c_key_shared,
    .throttle_hit = c_throttle_hit,
    .meta_ensure = c_meta_ensure,
};

struct store *store_cached_wrap(struct store *backend, struct tokenindex *ix,
                                struct indexsync *sync)
{
    struct cached_store *cs = calloc(1, sizeof(*cs));
    if (!cs)
        return NULL;
    cs->base.ops = &cached_ops;
    cs->backend = backend;
    cs->ix = ix;
    cs->sync = sync;
    return &cs->base;
}
