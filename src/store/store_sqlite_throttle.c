/* The SQLite driver's throttle counters: fixed windows in the database
 * file, so every process on one data directory (a second server, the CLI)
 * counts together, as the PostgreSQL nodes do. One short write transaction
 * per hit; only sign-in, registration and password-reset requests, which
 * hash a password anyway, come here. Any thread. */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "store/driver.h"
#include "store/store_sqlite_int.h"

/* Every this many hits, rows whose window is over are deleted. */
#define THROTTLE_PRUNE_EVERY 256

static atomic_uint hits;

int sq_throttle_hit(struct store *st, const char *key, unsigned limit, int window_s)
{
    if (limit == 0 || window_s <= 0 || !key)
        return 0;
    struct sqlite_conn *c = sq_conn_get(st);
    if (!c)
        return 0; /* a storage hiccup never locks users out */
    int64_t now = sq_now_ms(), win = (int64_t)window_s * 1000;
    int64_t start = now - now % win;
    sqlite3_stmt *s = NULL;
    int64_t count = 0;
    if (sq_tx_begin(c) < 0)
        return 0;
    if (sqlite3_prepare_v2(c->db,
                           "INSERT INTO throttle (key, window_start, window_end, count)"
                           " VALUES (?1, ?2, ?3, 1) ON CONFLICT (key) DO UPDATE SET"
                           "  count = CASE WHEN window_start = excluded.window_start"
                           "   THEN min(count, 2147483646) + 1 ELSE 1 END,"
                           "  window_start = excluded.window_start,"
                           "  window_end = excluded.window_end"
                           " RETURNING count",
                           -1, &s, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_blob(s, 1, key, (int)strlen(key), SQLITE_STATIC); /* any bytes */
    sqlite3_bind_int64(s, 2, start);
    sqlite3_bind_int64(s, 3, start + win);
    if (sqlite3_step(s) != SQLITE_ROW)
        goto fail;
    count = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    s = NULL;
    if (atomic_fetch_add(&hits, 1) % THROTTLE_PRUNE_EVERY == THROTTLE_PRUNE_EVERY - 1 &&
        sqlite3_prepare_v2(c->db, "DELETE FROM throttle WHERE window_end < ?1", -1, &s, NULL) ==
            SQLITE_OK) {
        sqlite3_bind_int64(s, 1, now);
        sqlite3_step(s);
        sqlite3_finalize(s);
        s = NULL;
    }
    if (sq_tx_commit(c) < 0)
        return 0;
    if (count <= (int64_t)limit)
        return 0;
    int64_t left = (start + win - now + 999) / 1000;
    return left < 1 ? 1 : left > window_s ? window_s : (int)left;
fail:
    sq_db_fail(c, "throttle_hit");
    sqlite3_finalize(s);
    sq_tx_rollback(c);
    return 0;
}
