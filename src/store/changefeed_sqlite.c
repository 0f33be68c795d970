/* The SQLite change feed: triggers append (kind, account, token id) to
 * change_log on every write to accounts and tokens, whoever writes (this
 * server, a CLI process). "Did anything commit?" is answered by the
 * WAL-index header (walwatch.h): one memory compare per check. PRAGMA
 * data_version (which takes fcntl locks, ~5 us) is the fallback. One
 * machine, so no wake-up channel and no lease. Threading: each thread gets
 * its own probe connection (thread-local, registered for close). */
#include "store/changefeed.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "store/walwatch.h"

struct probe {
    struct sqlite_feed *owner;
    sqlite3 *db;
    sqlite3_stmt *version; /* PRAGMA data_version */
    sqlite3_stmt *read;    /* entries after ?1 */
    sqlite3_stmt *head;
    sqlite3_stmt *prune;
    long long last_version;
    struct walwatch_header last_hdr;
    bool have_hdr;
    struct probe *next, *prev;
};


struct sqlite_feed {
    struct changefeed base; /* first: struct changefeed * casts to this */
    char *path;
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
    struct sqlite_feed *f = p->owner;
    pthread_mutex_lock(&f->lock);
    if (p->prev)
        p->prev->next = p->next;
    else
        f->probes = p->next;
    if (p->next)
        p->next->prev = p->prev;
    pthread_mutex_unlock(&f->lock);
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

static struct sqlite_feed *to_feed(struct changefeed *cf)
{
    return (struct sqlite_feed *)cf;
}

static struct probe *probe_get(struct sqlite_feed *f)
{
    struct probe *p = pthread_getspecific(f->key);
    if (p)
        return p;
    p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->owner = f;
    p->last_version = -1; /* a new probe has seen nothing yet */
    if (!(p->db = open_db(f->path)) ||
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
    pthread_mutex_lock(&f->lock);
    p->next = f->probes;
    if (f->probes)
        f->probes->prev = p;
    f->probes = p;
    pthread_mutex_unlock(&f->lock);
    pthread_setspecific(f->key, p);
    return p;
}

static bool sf_maybe_changed(struct changefeed *cf)
{
    struct sqlite_feed *f = to_feed(cf);
    struct probe *p = probe_get(f);
    if (!p)
        return true;
    bool changed = true;
    if (walwatch_mapped(f->wal)) {
        struct walwatch_header hdr;
        if (!walwatch_read(f->wal, &hdr)) {
            p->have_hdr = false; /* torn: look again next time too */
            return true;
        }
        changed = !p->have_hdr || !walwatch_header_equal(&hdr, &p->last_hdr);
        p->last_hdr = hdr;
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

static int64_t sf_head(struct changefeed *cf)
{
    struct probe *p = probe_get(to_feed(cf));
    return p ? head_of(p) : -EIO;
}

static int sf_read(struct changefeed *cf, int64_t *seq, changefeed_fn fn, void *ctx)
{
    struct probe *p = probe_get(to_feed(cf));
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

static int sf_prune(struct changefeed *cf, int64_t max_age_ms)
{
    struct probe *p = probe_get(to_feed(cf));
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

static void sf_close(struct changefeed *cf)
{
    struct sqlite_feed *f = to_feed(cf);
    if (!f)
        return;
    pthread_key_delete(f->key);
    struct probe *p = f->probes;
    while (p) {
        struct probe *next = p->next;
        probe_close(p);
        p = next;
    }
    pthread_mutex_destroy(&f->lock);
    walwatch_close(f->wal); /* last: see walwatch_close */
    free(f->path);
    free(f);
}

static const struct changefeed_ops sqlite_feed_ops = {
    .maybe_changed = sf_maybe_changed,
    /* wait: none (checks probe maybe_changed and wake the feed thread);
     * heartbeat: none (one machine, no lease). */
    .head = sf_head,
    .read = sf_read,
    .prune = sf_prune,
    .close = sf_close,
};

struct changefeed *changefeed_sqlite_open(const char *db_path)
{
    struct sqlite_feed *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->base.ops = &sqlite_feed_ops;
    /* change_log and its triggers come with store migration 2. */
    if (!(f->path = strdup(db_path)) || !(f->wal = walwatch_open(f->path)))
        goto fail;
    if (!walwatch_mapped(f->wal))
        log_info("changefeed: WAL-index not mapped; probing with PRAGMA data_version");
    if (pthread_key_create(&f->key, probe_thread_exit) != 0)
        goto fail;
    pthread_mutex_init(&f->lock, NULL);
    return &f->base;
fail:
    walwatch_close(f->wal);
    free(f->path);
    free(f);
    return NULL;
}
