/* Prepared statements kept by SQL text (see stmtcache.h). A linear scan of
 * STMTCACHE_SIZE hashes costs far less than the prepare it saves. One
 * thread at a time per cache. */
#include "catalog/stmtcache.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a, 64 bits. */
static uint64_t hash_text(const char *s, size_t len)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql, size_t len)
{
    sqlite3_stmt *st = NULL;
    /* PERSISTENT: kept statements live long; SQLite then allocates them
     * outside its lookaside memory, which is for short-lived ones. */
    if (len > INT32_MAX ||
        sqlite3_prepare_v3(db, sql, (int)len, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

static void entry_free(struct stmtcache_entry *e)
{
    sqlite3_finalize(e->st);
    free(e->sql);
    memset(e, 0, sizeof(*e));
}

sqlite3_stmt *stmtcache_get(struct stmtcache *c, sqlite3 *db, const char *sql, size_t len)
{
    uint64_t h = hash_text(sql, len);
    struct stmtcache_entry *victim = NULL;
    bool out = false; /* the kept statement of this text is in use */
    c->clock++;
    for (size_t i = 0; i < STMTCACHE_SIZE; i++) {
        struct stmtcache_entry *e = &c->e[i];
        if (e->sql && e->hash == h && e->len == len && memcmp(e->sql, sql, len) == 0) {
            if (!e->busy) {
                e->busy = true;
                e->used = c->clock;
                c->hits++;
                return e->st;
            }
            out = true;
        }
        /* A free slot, else the least recently used one not in use. */
        if (!e->busy && (!victim || (victim->sql && (!e->sql || e->used < victim->used))))
            victim = e;
    }
    c->misses++;
    sqlite3_stmt *st = prepare(db, sql, len);
    char *copy = st && victim && !out ? malloc(len) : NULL;
    if (!copy) /* a second one of the same text, no slot, or no memory: not kept */
        return st;
    entry_free(victim);
    memcpy(copy, sql, len);
    *victim = (struct stmtcache_entry){
        .sql = copy, .len = len, .hash = h, .st = st, .used = c->clock, .busy = true};
    return st;
}

void stmtcache_put(struct stmtcache *c, sqlite3_stmt *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < STMTCACHE_SIZE; i++) {
        if (c->e[i].st == st) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            c->e[i].busy = false;
            return;
        }
    }
    sqlite3_finalize(st);
}

void stmtcache_clear(struct stmtcache *c)
{
    for (size_t i = 0; i < STMTCACHE_SIZE; i++)
        entry_free(&c->e[i]);
}
