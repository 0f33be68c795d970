/* The SQLite change feed: triggers append (kind, account, token id) to
 * change_log on every write to accounts and tokens, whoever writes (this
 * server, a CLI process). "Did anything commit?" is answered by the
 * WAL-index header (walwatch.h): one memory compare per check. PRAGMA
 * data_version (which takes fcntl locks, ~5 us) is the fallback. Threading:
 * each thread gets its own probe connection (thread-local, registered for
 * close). */
#include "store/changefeed.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "util/log.h"
#include "store/store.h"
#include "store/walwatch.h"

struct probe {
    struct changefeed *owner;
    sqlite3 *db;
    sqlite3_stmt *version; /* PRAGMA data_version */
    sqlite3_stmt *read;    /* entries after ?1 */
    sqlite3_stmt *head;
    sqlite3_stmt *prune;
    long long last_version;
    uint32_t last_hdr[WALWATCH_WORDS];
    bool have_hdr;
    struct probe *next, *prev;
};


struct changefeed {
    char *path;
    sqlite3 *anchor; /* for the start-up bulk read */
    struct walwatch *wal;
    pthread_key_t key;
    pthread_mutex_t lock; /* guards the probe list */
    struct probe *probes;
};

static void probe_close(struct probe *p)
{
    if (!p)
        return;
    sqlite3_finalize(p->version);
    sqlite3_finalize(p->read);
    sqlite3_finalize(p->head);
    sqlite3_finalize(p->prune);
    sqlite3_close(p->db);
    free(p);
}

static void probe_thread_exit(void *arg)
{
    struct probe *p = arg;
    struct changefeed *cf = p->owner;
    pthread_mutex_lock(&cf->lock);
    if (p->prev)
        p->prev->next = p->next;
    else
        cf->probes = p->next;
    if (p->next)
        p->next->prev = p->prev;
    pthread_mutex_unlock(&cf->lock);
    probe_close(p);
}

static int exec_sql(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        log_error("changefeed: %s", err ? err : sqlite3_errmsg(db));
        sqlite3_free(err);
        return -EIO;
    }
    return 0;
}

static sqlite3 *open_db(const char *path)
{
    sqlite3 *db = NULL;
    /* NOMUTEX: a probe connection never leaves its thread. */
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        exec_sql(db, "PRAGMA busy_timeout = 5000") < 0) {
        log_error("changefeed: cannot open %s: %s", path,
                  db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

static struct probe *probe_get(struct changefeed *cf)
{
    struct probe *p = pthread_getspecific(cf->key);
    if (p)
        return p;
    p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->owner = cf;
    p->last_version = -1; /* a new probe has seen nothing yet */
    if (!(p->db = open_db(cf->path)) ||
        sqlite3_prepare_v3(p->db, "PRAGMA data_version", -1, SQLITE_PREPARE_PERSISTENT,
                           &p->version, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(p->db,
                           "SELECT seq, kind, account_id, token_id FROM change_log"
                           " WHERE seq > ?1 ORDER BY seq",
                           -1, SQLITE_PREPARE_PERSISTENT, &p->read, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(p->db,
                           "SELECT COALESCE((SELECT seq FROM sqlite_sequence"
                           " WHERE name = 'change_log'), 0)",
                           -1, SQLITE_PREPARE_PERSISTENT, &p->head, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(p->db, "DELETE FROM change_log WHERE at < ?1", -1,
                           SQLITE_PREPARE_PERSISTENT, &p->prune, NULL) != SQLITE_OK) {
        log_error("changefeed: cannot prepare statements: %s",
                  p->db ? sqlite3_errmsg(p->db) : "no connection");
        probe_close(p);
        return NULL;
    }
    pthread_mutex_lock(&cf->lock);
    p->next = cf->probes;
    if (cf->probes)
        cf->probes->prev = p;
    cf->probes = p;
    pthread_mutex_unlock(&cf->lock);
    pthread_setspecific(cf->key, p);
    return p;
}

struct changefeed *changefeed_sqlite_open(const char *data_dir)
{
    struct changefeed *cf = calloc(1, sizeof(*cf));
    if (!cf)
        return NULL;
    sqlite3 *db = NULL;
    if (asprintf(&cf->path, "%s/tessera.db", data_dir) < 0) {
        cf->path = NULL;
        goto fail_alloc;
    }
    /* change_log and its triggers come with store migration 2. */
    if (!(db = open_db(cf->path)))
        goto fail_alloc;
    cf->anchor = db;
    db = NULL;
    if (!(cf->wal = walwatch_open(cf->path)))
        goto fail_alloc;
    if (!walwatch_mapped(cf->wal))
        log_info("changefeed: WAL-index not mapped; probing with PRAGMA data_version");
    if (pthread_key_create(&cf->key, probe_thread_exit) != 0)
        goto fail_alloc;
    pthread_mutex_init(&cf->lock, NULL);
    return cf;
fail_alloc:
    sqlite3_close(db);
    sqlite3_close(cf->anchor);
    walwatch_close(cf->wal);
    free(cf->path);
    free(cf);
    return NULL;
}

bool changefeed_maybe_changed(struct changefeed *cf)
{
    struct probe *p = probe_get(cf);
    if (!p)
        return true;
    bool changed = true;
    if (walwatch_mapped(cf->wal)) {
        uint32_t hdr[WALWATCH_WORDS];
        if (!walwatch_read(cf->wal, hdr)) {
            p->have_hdr = false; /* torn: look again next time too */
            return true;
        }
        changed = !p->have_hdr || memcmp(hdr, p->last_hdr, sizeof(hdr)) != 0;
        memcpy(p->last_hdr, hdr, sizeof(hdr));
        p->have_hdr = true;
        return changed;
    }
    if (sqlite3_step(p->version) == SQLITE_ROW) {
        long long v = sqlite3_column_int64(p->version, 0);
        changed = v != p->last_version;
        p->last_version = v;
    }
    sqlite3_reset(p->version);
    return changed;
}

static int64_t head_of(struct probe *p)
{
    int64_t head = -EIO;
    if (sqlite3_step(p->head) == SQLITE_ROW)
        head = sqlite3_column_int64(p->head, 0);
    sqlite3_reset(p->head);
    return head;
}

int64_t changefeed_head(struct changefeed *cf)
{
    struct probe *p = probe_get(cf);
    return p ? head_of(p) : -EIO;
}

int changefeed_read(struct changefeed *cf, int64_t *seq,
                    int (*fn)(void *ctx, enum changefeed_kind kind, int64_t account_id,
                              const char *token_id),
                    void *ctx)
{
    struct probe *p = probe_get(cf);
    if (!p)
        return -EIO;
    /* One read transaction, so the head and the rows agree. */
    if (exec_sql(p->db, "BEGIN") < 0)
        return -EIO;
    int rc = 0;
    int64_t head = head_of(p);
    if (head < 0) {
        rc = -EIO;
        goto out;
    }
    int64_t expect = *seq + 1;
    sqlite3_bind_int64(p->read, 1, *seq);
    int step;
    while ((step = sqlite3_step(p->read)) == SQLITE_ROW) {
        int64_t s = sqlite3_column_int64(p->read, 0);
        if (s != expect) { /* entries we never saw were pruned */
            rc = -ESTALE;
            break;
        }
        expect++;
        const char *tid = (const char *)sqlite3_column_text(p->read, 3);
        rc = fn(ctx, (enum changefeed_kind)sqlite3_column_int(p->read, 1),
                sqlite3_column_int64(p->read, 2), tid ? tid : "");
        if (rc != 0)
            break;
        *seq = s;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = -EIO;
    if (rc == 0 && head > *seq)
        rc = -ESTALE;
    sqlite3_reset(p->read);
out:
    exec_sql(p->db, "COMMIT");
    return rc;
}

/* allowed_urls is stored as a JSON array of strings; "[]" needs no parser. */
static int urls_parse(const char *text, struct strlist *out)
{
    if (!text || strcmp(text, "[]") == 0)
        return 0;
    cJSON *arr = cJSON_Parse(text);
    int rc = cJSON_IsArray(arr) ? 0 : -EIO;
    const cJSON *item;
    cJSON_ArrayForEach(item, arr)
    {
        if (rc == 0 && (!cJSON_IsString(item) || strlist_push(out, item->valuestring) < 0))
            rc = -EIO;
    }
    cJSON_Delete(arr);
    return rc;
}

int changefeed_load_tokens(struct changefeed *cf,
                           int (*fn)(void *ctx, const struct token_record *t), void *ctx)
{
    sqlite3_stmt *s = NULL;
    /* Rowid order is table order: the scan reads each page once. (A large
     * mmap window would save a copy per page but counts the whole file as
     * resident memory.) */
    if (sqlite3_prepare_v2(cf->anchor,
                           "SELECT id, account_id, usage, scopes, allowed_urls, secret_hash,"
                           " is_default, expires_at, created FROM tokens WHERE revoked_at = 0",
                           -1, &s, NULL) != SQLITE_OK) {
        log_error("changefeed: %s", sqlite3_errmsg(cf->anchor));
        return -EIO;
    }
    int rc = 0, step;
    while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
        struct token_record t = {0};
        const char *id = (const char *)sqlite3_column_text(s, 0);
        const char *usage = (const char *)sqlite3_column_text(s, 2);
        const void *hash = sqlite3_column_blob(s, 5);
        snprintf(t.id, sizeof(t.id), "%s", id ? id : "");
        t.account_id = sqlite3_column_int64(s, 1);
        t.usage = usage && strcmp(usage, "sk") == 0 ? TOKEN_SK : TOKEN_PK;
        if (hash && sqlite3_column_bytes(s, 5) == CRYPTO_MAC_LEN)
            memcpy(t.secret_hash, hash, CRYPTO_MAC_LEN);
        t.is_default = sqlite3_column_int(s, 6) != 0;
        t.expires_at = sqlite3_column_int64(s, 7);
        t.created = sqlite3_column_int64(s, 8);
        if (strlist_split(&t.scopes, (const char *)sqlite3_column_text(s, 3)) < 0 ||
            urls_parse((const char *)sqlite3_column_text(s, 4), &t.allowed_urls) < 0)
            rc = -EIO;
        else
            rc = fn(ctx, &t);
        token_record_free(&t);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = -EIO;
    sqlite3_finalize(s);
    return rc;
}

int changefeed_prune(struct changefeed *cf, int64_t max_age_ms)
{
    struct probe *p = probe_get(cf);
    if (!p)
        return -EIO;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    sqlite3_bind_int64(p->prune, 1, now - max_age_ms);
    int rc = sqlite3_step(p->prune) == SQLITE_DONE ? 0 : -EIO;
    sqlite3_reset(p->prune);
    return rc;
}

void changefeed_close(struct changefeed *cf)
{
    if (!cf)
        return;
    pthread_key_delete(cf->key);
    struct probe *p = cf->probes;
    while (p) {
        struct probe *next = p->next;
        probe_close(p);
        p = next;
    }
    pthread_mutex_destroy(&cf->lock);
    sqlite3_close(cf->anchor);
    walwatch_close(cf->wal); /* last: see walwatch_close */
    free(cf->path);
    free(cf);
}
