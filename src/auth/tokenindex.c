/* The in-memory verification index (tokenindex.h). Records are compact (88
 * bytes a token; scope, group and URL lists interned in auth/intern.c;
 * open-addressing tables of 32-bit slots), so a million tokens fit in about
 * 100 MB. Threading: lookups take the read lock; updates take the write lock
 * for the in-memory mutation only. Readers are never starved of a revocation:
 * the lock prefers writers. */
#include "auth/tokenindex.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "auth/crypto.h"
#include "auth/intern.h"
#include "util/array.h"
#include "util/strcopy.h"

enum { TOK_REVOKED = 1, TOK_DEFAULT = 2, TOK_REPLACED = 4 };

struct tc_tok {
    char id[TOKEN_ID_LEN + 1];
    uint8_t usage;
    uint8_t flags;
    uint8_t hash[CRYPTO_MAC_LEN];
    uint32_t account; /* slot in accs */
    uint32_t scopes;  /* set ids */
    uint32_t urls;
    uint32_t resources;
    /* Last use in seconds since the epoch (0 = never), set by checks under
     * the read lock, hence atomic; `flushed` is what storage was last told
     * (the flusher alone touches it). Seconds keep both in 8 bytes. */
    atomic_uint_least32_t used_s;
    uint32_t flushed_s;
    int64_t expires_at;
    int64_t created;
};

struct tc_acc {
    int64_t id;
    char username[ACCOUNT_USERNAME_MAX + 1];
    bool is_active;
    bool is_staff;
    int64_t sessions_valid_after;
    int64_t created;
    int64_t updated;
    uint32_t groups, scopes; /* set ids */
    /* email, password hash, first name, last name, organization, each
     * NUL-terminated: only account_get_by_id/by_username need them. */
    char *blob;
};

struct tc_index {
    struct tc_tok *toks;
    uint32_t ntoks;
    size_t captoks;
    uint32_t *tok_slots; /* record index + 1, 0 = empty; power-of-two size */
    uint32_t ntok_slots;
    struct tc_acc *accs;
    uint32_t naccs;
    size_t capaccs;
    uint32_t *acc_by_id; /* record index + 1 */
    uint32_t *acc_by_name;
    uint32_t nacc_slots;
    struct intern_pool sets; /* scopes, groups and URL lists share one pool */
    uint64_t generation;     /* new with every write (next_generation) */
};

/* Generations are unique across every index of the process, so a value
 * names one state of one index (views hand it out: auth/listcache.c keys
 * what it derives from a view by it). */
static atomic_uint_fast64_t generations;

static uint64_t next_generation(void)
{
    return atomic_fetch_add(&generations, 1) + 1;
}

struct tokenindex {
    pthread_rwlock_t lock; /* readers vs. the in-memory mutation */
    struct tc_index *ix;
    tokenindex_gate_fn gate; /* set once before serving, then read-only */
    void *gate_ctx;
};

/* Wipes (the password hash is in there) and frees an account blob. */
static void blob_free(char *blob)
{
    if (!blob)
        return;
    size_t len = 0;
    for (int i = 0; i < 5; i++)
        len += strlen(blob + len) + 1;
    crypto_wipe(blob, len);
    free(blob);
}

static void index_destroy(struct tc_index *ix)
{
    if (!ix)
        return;
    for (uint32_t i = 0; i < ix->ntoks; i++)
        crypto_wipe(ix->toks[i].hash, sizeof(ix->toks[i].hash));
    for (uint32_t i = 0; i < ix->naccs; i++) {
        blob_free(ix->accs[i].blob);
    }
    free(ix->toks);
    free(ix->tok_slots);
    free(ix->accs);
    free(ix->acc_by_id);
    free(ix->acc_by_name);
    intern_free(&ix->sets);
    free(ix);
}

static struct tc_index *index_create(void)
{
    struct tc_index *ix = calloc(1, sizeof(*ix));
    if (!ix)
        return NULL;
    ix->generation = next_generation();
    ix->captoks = 1024;
    ix->ntok_slots = 2048;
    ix->capaccs = 64;
    ix->nacc_slots = 128;
    ix->toks = malloc(ix->captoks * sizeof(*ix->toks));
    ix->tok_slots = calloc(ix->ntok_slots, sizeof(uint32_t));
    ix->accs = malloc(ix->capaccs * sizeof(*ix->accs));
    ix->acc_by_id = calloc(ix->nacc_slots, sizeof(uint32_t));
    ix->acc_by_name = calloc(ix->nacc_slots, sizeof(uint32_t));
    if (!ix->toks || !ix->tok_slots || !ix->accs || !ix->acc_by_id || !ix->acc_by_name ||
        intern_init(&ix->sets) < 0) {
        index_destroy(ix); /* frees what was allocated: the counts are 0 */
        return NULL;
    }
    return ix;
}

static uint64_t hash_id(int64_t id)
{
    uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ULL;
    return h ^ (h >> 31);
}

static uint32_t *tok_find_slot(const struct tc_index *ix, const char *id)
{
    uint32_t mask = ix->ntok_slots - 1;
    uint32_t i = (uint32_t)intern_hash(id, TOKEN_ID_LEN) & mask;
    for (;; i = (i + 1) & mask) {
        uint32_t v = ix->tok_slots[i];
        if (!v || memcmp(ix->toks[v - 1].id, id, TOKEN_ID_LEN + 1) == 0)
            return &ix->tok_slots[i];
    }
}

static struct tc_tok *tok_find(const struct tc_index *ix, const char *id)
{
    if (strnlen(id, TOKEN_ID_LEN + 1) != TOKEN_ID_LEN)
        return NULL;
    uint32_t v = *tok_find_slot(ix, id);
    return v ? &ix->toks[v - 1] : NULL;
}

static uint32_t *acc_find_id_slot(const struct tc_index *ix, int64_t id)
{
    uint32_t mask = ix->nacc_slots - 1;
    for (uint32_t i = (uint32_t)hash_id(id) & mask;; i = (i + 1) & mask) {
        uint32_t v = ix->acc_by_id[i];
        if (!v || ix->accs[v - 1].id == id)
            return &ix->acc_by_id[i];
    }
}

static uint32_t *acc_find_name_slot(const struct tc_index *ix, const char *name)
{
    uint32_t mask = ix->nacc_slots - 1;
    for (uint32_t i = (uint32_t)intern_hash(name, strlen(name)) & mask;; i = (i + 1) & mask) {
        uint32_t v = ix->acc_by_name[i];
        if (!v || strcmp(ix->accs[v - 1].username, name) == 0)
            return &ix->acc_by_name[i];
    }
}

static int tok_grow(struct tc_index *ix)
{
    if (ARRAY_RESERVE(ix->toks, ix->captoks, (size_t)ix->ntoks + 1, 1024) < 0)
        return -ENOMEM;
    /* Keep the table at most half full so probes stay short. */
    if ((ix->ntoks + 1) * 2 > ix->ntok_slots) {
        uint32_t n = ix->ntok_slots * 2;
        uint32_t *slots = calloc(n, sizeof(*slots));
        if (!slots)
            return -ENOMEM;
        free(ix->tok_slots);
        ix->tok_slots = slots;
        ix->ntok_slots = n;
        for (uint32_t r = 0; r < ix->ntoks; r++)
            *tok_find_slot(ix, ix->toks[r].id) = r + 1;
    }
    return 0;
}

static int acc_grow(struct tc_index *ix)
{
    if (ARRAY_RESERVE(ix->accs, ix->capaccs, (size_t)ix->naccs + 1, 64) < 0)
        return -ENOMEM;
    if ((ix->naccs + 1) * 2 > ix->nacc_slots) {
        uint32_t n = ix->nacc_slots * 2;
        uint32_t *by_id = calloc(n, sizeof(uint32_t));
        uint32_t *by_name = calloc(n, sizeof(uint32_t));
        if (!by_id || !by_name) {
            free(by_id);
            free(by_name);
            return -ENOMEM;
        }
        free(ix->acc_by_id);
        free(ix->acc_by_name);
        ix->acc_by_id = by_id;
        ix->acc_by_name = by_name;
        ix->nacc_slots = n;
        for (uint32_t r = 0; r < ix->naccs; r++) {
            *acc_find_id_slot(ix, ix->accs[r].id) = r + 1;
            *acc_find_name_slot(ix, ix->accs[r].username) = r + 1;
        }
    }
    return 0;
}

static char *account_blob(const struct account *a)
{
    const char *parts[] = {a->email, a->password_hash, a->first_name, a->last_name,
                           a->organization};
    size_t total = 0;
    for (size_t i = 0; i < 5; i++)
        total += strlen(parts[i]) + 1;
    char *blob = malloc(total);
    if (!blob)
        return NULL;
    char *p = blob;
    for (size_t i = 0; i < 5; i++) {
        size_t n = strlen(parts[i]) + 1;
        memcpy(p, parts[i], n);
        p += n;
    }
    return blob;
}

/* Inserts or replaces an account. The caller holds the write lock (or owns an
 * index nobody else sees yet). */
static int index_put_account(struct tc_index *ix, const struct account *a)
{
    uint32_t *slot = acc_find_id_slot(ix, a->id);
    int64_t groups = intern_get(&ix->sets, &a->groups);
    int64_t scopes = groups < 0 ? -ENOMEM : intern_get(&ix->sets, &a->scopes);
    char *blob = scopes < 0 ? NULL : account_blob(a);
    if (!blob) {
        if (groups > 0)
            intern_release(&ix->sets, (uint32_t)groups);
        if (scopes > 0)
            intern_release(&ix->sets, (uint32_t)scopes);
        return -ENOMEM;
    }
    struct tc_acc *r;
    if (*slot) {
        r = &ix->accs[*slot - 1];
        intern_release(&ix->sets, r->groups);
        intern_release(&ix->sets, r->scopes);
        blob_free(r->blob);
        /* Usernames never change (Mapbox paths are built from them). */
    } else {
        if (acc_grow(ix) < 0) {
            intern_release(&ix->sets, (uint32_t)groups);
            intern_release(&ix->sets, (uint32_t)scopes);
            free(blob);
            return -ENOMEM;
        }
        r = &ix->accs[ix->naccs];
        memset(r, 0, sizeof(*r));
        r->id = a->id;
        str_copy(r->username, sizeof(r->username), a->username);
        *acc_find_id_slot(ix, a->id) = ix->naccs + 1;
        *acc_find_name_slot(ix, r->username) = ix->naccs + 1;
        ix->naccs++;
    }
    r->is_active = a->is_active;
    r->is_staff = a->is_staff;
    r->sessions_valid_after = a->sessions_valid_after;
    r->created = a->created;
    r->updated = a->updated;
    r->groups = (uint32_t)groups;
    r->scopes = (uint32_t)scopes;
    r->blob = blob;
    return 0;
}

/* -ENOENT when the token's account is not indexed. Caller as above. */
static int index_put_token(struct tc_index *ix, const struct token_record *t)
{
    if (strnlen(t->id, sizeof(t->id)) != TOKEN_ID_LEN)
        return -EINVAL;
    uint32_t acc = *acc_find_id_slot(ix, t->account_id);
    if (!acc)
        return -ENOENT;
    int64_t scopes = intern_get(&ix->sets, &t->scopes);
    int64_t urls = scopes < 0 ? -ENOMEM : intern_get(&ix->sets, &t->allowed_urls);
    int64_t res = urls < 0 ? -ENOMEM : intern_get(&ix->sets, &t->resources);
    if (res < 0) {
        if (scopes > 0)
            intern_release(&ix->sets, (uint32_t)scopes);
        if (urls > 0)
            intern_release(&ix->sets, (uint32_t)urls);
        return -ENOMEM;
    }
    uint32_t *slot = tok_find_slot(ix, t->id);
    struct tc_tok *r;
    if (*slot) {
        r = &ix->toks[*slot - 1];
        intern_release(&ix->sets, r->scopes);
        intern_release(&ix->sets, r->urls);
        intern_release(&ix->sets, r->resources);
    } else {
        if (tok_grow(ix) < 0) {
            intern_release(&ix->sets, (uint32_t)scopes);
            intern_release(&ix->sets, (uint32_t)urls);
            intern_release(&ix->sets, (uint32_t)res);
            return -ENOMEM;
        }
        r = &ix->toks[ix->ntoks];
        memcpy(r->id, t->id, sizeof(r->id));
        *tok_find_slot(ix, t->id) = ix->ntoks + 1;
        /* A new record starts from what storage knows; a replaced one keeps
         * the uses not yet flushed. */
        uint32_t used = (uint32_t)(t->last_used_at > 0 ? t->last_used_at / 1000 : 0);
        atomic_init(&r->used_s, used);
        r->flushed_s = used;
        ix->ntoks++;
    }
    r->usage = (uint8_t)t->usage;
    r->flags = (uint8_t)((t->revoked_at ? TOK_REVOKED : 0) | (t->is_default ? TOK_DEFAULT : 0) |
                         (t->replaced_by[0] ? TOK_REPLACED : 0));
    memcpy(r->hash, t->secret_hash, sizeof(r->hash));
    r->account = acc - 1;
    r->scopes = (uint32_t)scopes;
    r->urls = (uint32_t)urls;
    r->resources = (uint32_t)res;
    r->expires_at = t->expires_at;
    r->created = t->created;
    return 0;
}

/* A row that disappeared from storage: keep it indexed, dead. */
static void index_kill_token(struct tc_index *ix, const char *id)
{
    uint32_t v = *tok_find_slot(ix, id);
    if (v)
        ix->toks[v - 1].flags |= TOK_REVOKED;
}

static void index_kill_account(struct tc_index *ix, int64_t id)
{
    uint32_t v = *acc_find_id_slot(ix, id);
    if (v)
        ix->accs[v - 1].is_active = false;
}

static void view_account(const struct tc_index *ix, const struct tc_acc *r,
                         struct tokenindex_account *out)
{
    out->generation = ix->generation;
    out->id = r->id;
    out->username = r->username;
    out->is_active = r->is_active;
    out->is_staff = r->is_staff;
    out->sessions_valid_after = r->sessions_valid_after;
    out->groups = intern_list(&ix->sets, r->groups);
    out->scopes = intern_list(&ix->sets, r->scopes);
}

/* ------------------------------------------------------------------------ */
/* Lifecycle, gate and updates                                              */

struct tokenindex *tokenindex_create(void)
{
    struct tokenindex *tix = calloc(1, sizeof(*tix));
    if (!tix)
        return NULL;
    if (!(tix->ix = index_create())) {
        free(tix);
        return NULL;
    }
    /* Writer preference: a steady stream of checks must not starve the
     * revocation that is waiting for the write lock. */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&tix->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    return tix;
}

void tokenindex_destroy(struct tokenindex *tix)
{
    if (!tix)
        return;
    index_destroy(tix->ix);
    pthread_rwlock_destroy(&tix->lock);
    free(tix);
}

void tokenindex_set_gate(struct tokenindex *tix, tokenindex_gate_fn gate, void *ctx)
{
    tix->gate = gate;
    tix->gate_ctx = ctx;
}

static int pass_gate(struct tokenindex *tix)
{
    return tix->gate ? tix->gate(tix->gate_ctx) : 0;
}

/* Every write ends here: the index's state is new, so is its generation. */
static void write_done(struct tokenindex *tix)
{
    tix->ix->generation = next_generation();
    pthread_rwlock_unlock(&tix->lock);
}

int tokenindex_put_account(struct tokenindex *tix, const struct account *a)
{
    pthread_rwlock_wrlock(&tix->lock);
    int rc = index_put_account(tix->ix, a);
    write_done(tix);
    return rc;
}

int tokenindex_put_token(struct tokenindex *tix, const struct token_record *t)
{
    pthread_rwlock_wrlock(&tix->lock);
    int rc = index_put_token(tix->ix, t);
    write_done(tix);
    return rc;
}

void tokenindex_kill_account(struct tokenindex *tix, int64_t account_id)
{
    pthread_rwlock_wrlock(&tix->lock);
    index_kill_account(tix->ix, account_id);
    write_done(tix);
}

void tokenindex_kill_token(struct tokenindex *tix, const char *token_id)
{
    pthread_rwlock_wrlock(&tix->lock);
    index_kill_token(tix->ix, token_id);
    write_done(tix);
}

void tokenindex_adopt(struct tokenindex *tix, struct tokenindex *fresh)
{
    pthread_rwlock_wrlock(&tix->lock);
    struct tc_index *old = tix->ix;
    tix->ix = fresh->ix;
    write_done(tix);
    fresh->ix = old;
    tokenindex_destroy(fresh);
}

/* ------------------------------------------------------------------------ */
/* Lookups                                                                  */

/* The freshness gate, then the read lock (unless the gate failed). */
static int read_begin(struct tokenindex *tix)
{
    int gate = pass_gate(tix);
    if (gate == 0)
        pthread_rwlock_rdlock(&tix->lock);
    return gate;
}

/* The index, read-locked, for the callback of tokenindex_read. */
struct tokenindex_reader {
    const struct tc_index *ix;
};

bool tokenindex_reader_token(const struct tokenindex_reader *rd, const char *id,
                             struct tokenindex_token *t, struct tokenindex_account *a)
{
    const struct tc_index *ix = rd->ix;
    struct tc_tok *r = tok_find(ix, id);
    if (!r)
        return false;
    *t = (struct tokenindex_token){
        .id = r->id,
        .usage = (enum token_kind)r->usage,
        .revoked = (r->flags & TOK_REVOKED) != 0,
        .is_default = (r->flags & TOK_DEFAULT) != 0,
        .replaced = (r->flags & TOK_REPLACED) != 0,
        .secret_hash = r->hash,
        .expires_at = r->expires_at,
        .created = r->created,
        .scopes = intern_list(&ix->sets, r->scopes),
        .allowed_urls = intern_list(&ix->sets, r->urls),
        .resources = intern_list(&ix->sets, r->resources),
        .used_s = &r->used_s,
    };
    view_account(ix, &ix->accs[r->account], a);
    return true;
}

/* An account's slot value (index + 1, 0: none) by id, or by username when
 * username is not NULL. */
static uint32_t acc_lookup(const struct tc_index *ix, int64_t id, const char *username)
{
    if (!username)
        return *acc_find_id_slot(ix, id);
    if (strnlen(username, ACCOUNT_USERNAME_MAX + 1) > ACCOUNT_USERNAME_MAX)
        return 0;
    return *acc_find_name_slot(ix, username);
}

bool tokenindex_reader_account(const struct tokenindex_reader *rd, int64_t account_id,
                               const char *username, struct tokenindex_account *a)
{
    const struct tc_index *ix = rd->ix;
    uint32_t v = acc_lookup(ix, account_id, username);
    if (v)
        view_account(ix, &ix->accs[v - 1], a);
    return v != 0;
}

int tokenindex_read(struct tokenindex *tix, tokenindex_read_fn fn, void *ctx)
{
    int rc = read_begin(tix);
    if (rc < 0)
        return rc;
    rc = fn(ctx, &(struct tokenindex_reader){tix->ix});
    pthread_rwlock_unlock(&tix->lock);
    return rc;
}

int tokenindex_token_view(struct tokenindex *tix, const char *id, tokenindex_token_fn fn, void *ctx)
{
    int rc = read_begin(tix);
    if (rc < 0)
        return rc;
    struct tokenindex_token t;
    struct tokenindex_account a;
    rc = tokenindex_reader_token(&(struct tokenindex_reader){tix->ix}, id, &t, &a) ? fn(ctx, &t, &a)
                                                                                 : -ENOENT;
    pthread_rwlock_unlock(&tix->lock);
    return rc;
}

int tokenindex_account_view(struct tokenindex *tix, int64_t account_id, tokenindex_account_fn fn,
                            void *ctx)
{
    int rc = read_begin(tix);
    if (rc < 0)
        return rc;
    struct tokenindex_account a;
    rc = tokenindex_reader_account(&(struct tokenindex_reader){tix->ix}, account_id, NULL, &a)
             ? fn(ctx, &a)
             : -ENOENT;
    pthread_rwlock_unlock(&tix->lock);
    return rc;
}

void tokenindex_note_use(const struct tokenindex_token *t, int64_t now_ms)
{
    /* Written at most once a second per token: a busy token's checks would
     * otherwise all write one shared cache line. */
    uint32_t now = (uint32_t)(now_ms / 1000);
    if (atomic_load_explicit(t->used_s, memory_order_relaxed) < now)
        atomic_store_explicit(t->used_s, now, memory_order_relaxed);
}

size_t tokenindex_take_uses(struct tokenindex *tix, struct token_use *out, size_t max)
{
    size_t n = 0;
    pthread_rwlock_rdlock(&tix->lock);
    struct tc_index *ix = tix->ix;
    for (uint32_t i = 0; i < ix->ntoks && n < max; i++) {
        struct tc_tok *r = &ix->toks[i];
        uint32_t used = atomic_load_explicit(&r->used_s, memory_order_relaxed);
        if (used <= r->flushed_s)
            continue;
        memcpy(out[n].id, r->id, sizeof(out[n].id));
        out[n].at = (int64_t)used * 1000;
        r->flushed_s = used;
        n++;
    }
    pthread_rwlock_unlock(&tix->lock);
    return n;
}

int64_t tokenindex_last_used(struct tokenindex *tix, const char *id)
{
    pthread_rwlock_rdlock(&tix->lock);
    const struct tc_tok *r = tok_find(tix->ix, id);
    int64_t at = r ? (int64_t)atomic_load_explicit(&r->used_s, memory_order_relaxed) * 1000 : 0;
    pthread_rwlock_unlock(&tix->lock);
    return at;
}

/* Copies the whole record, the blob's fields included. Read lock held. */
static int copy_account(const struct tc_index *ix, const struct tc_acc *r, struct account *a)
{
    memset(a, 0, sizeof(*a));
    a->id = r->id;
    str_copy(a->username, sizeof(a->username), r->username);
    const char *p = r->blob;
    char *const fields[] = {a->email, a->password_hash, a->first_name, a->last_name,
                            a->organization};
    const size_t sizes[] = {sizeof(a->email), sizeof(a->password_hash), sizeof(a->first_name),
                            sizeof(a->last_name), sizeof(a->organization)};
    for (size_t i = 0; i < 5; i++) {
        str_copy(fields[i], sizes[i], p);
        p += strlen(p) + 1;
    }
    a->is_active = r->is_active;
    a->is_staff = r->is_staff;
    a->created = r->created;
    a->updated = r->updated;
    a->sessions_valid_after = r->sessions_valid_after;
    if (strlist_copy(&a->groups, intern_list(&ix->sets, r->groups)) < 0 ||
        strlist_copy(&a->scopes, intern_list(&ix->sets, r->scopes)) < 0) {
        account_free(a);
        return -ENOMEM;
    }
    return 0;
}

int tokenindex_account_get(struct tokenindex *tix, int64_t id, const char *username,
                           struct account *out)
{
    int rc = read_begin(tix);
    if (rc < 0)
        return rc;
    uint32_t v = acc_lookup(tix->ix, id, username);
    rc = v ? copy_account(tix->ix, &tix->ix->accs[v - 1], out) : -ENOENT;
    pthread_rwlock_unlock(&tix->lock);
    return rc;
}

void tokenindex_stats(struct tokenindex *tix, struct tokenindex_counts *out)
{
    memset(out, 0, sizeof(*out));
    pthread_rwlock_rdlock(&tix->lock);
    out->tokens = tix->ix->ntoks;
    out->accounts = tix->ix->naccs;
    /* A linear pass (a few ms per million tokens) is fine for a scrape every
     * few seconds, and keeps counters out of every write path. */
    for (uint32_t i = 0; i < tix->ix->ntoks; i++) {
        const struct tc_tok *t = &tix->ix->toks[i];
        if (t->flags & TOK_REVOKED)
            continue;
        if (t->usage == TOKEN_PK)
            out->live_pk++;
        else
            out->live_sk++;
    }
    pthread_rwlock_unlock(&tix->lock);
}
