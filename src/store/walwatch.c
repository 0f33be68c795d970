/* See walwatch.h. The header is two 48-byte copies at the start of the -shm
 * file: u32 iVersion, u32 unused, u32 iChange, flags, page size, u32 mxFrame,
 * u32 nPage, frame checksums, salts, header checksum. Every commit changes
 * it; so does a WAL reset (new random salts), which restarts iChange, so the
 * whole header is compared, not iChange alone. */
#include "store/walwatch.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/log.h"

#define WALINDEX_VERSION 3007000
#define SHM_MAP_LEN 4096

struct walwatch {
    sqlite3 *anchor;     /* held open so the -shm file stays the live one */
    const uint32_t *shm; /* read-only mapping of the WAL-index */
    int shm_fd;          /* kept open until walwatch_close: see there */
};

struct walwatch *walwatch_open(const char *db_path)
{
    struct walwatch *w = calloc(1, sizeof(*w));
    char shm_path[4096];
    if (!w || snprintf(shm_path, sizeof(shm_path), "%s-shm", db_path) >= (int)sizeof(shm_path)) {
        free(w);
        return NULL;
    }
    w->shm_fd = -1;
    /* A read transaction in WAL mode creates the -shm file if need be. */
    if (sqlite3_open_v2(db_path, &w->anchor, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_busy_timeout(w->anchor, 5000) != SQLITE_OK ||
        sqlite3_exec(w->anchor, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL) !=
            SQLITE_OK) {
        log_error("walwatch: cannot open %s: %s", db_path,
                  w->anchor ? sqlite3_errmsg(w->anchor) : "out of memory");
        walwatch_close(w);
        return NULL;
    }
    /* From here on the descriptor stays open until walwatch_close, even when
     * the mapping fails: see there. */
    w->shm_fd = open(shm_path, O_RDONLY | O_CLOEXEC);
    off_t size = w->shm_fd >= 0 ? lseek(w->shm_fd, 0, SEEK_END) : -1;
    void *m = size >= SHM_MAP_LEN
                  ? mmap(NULL, SHM_MAP_LEN, PROT_READ, MAP_SHARED, w->shm_fd, 0)
                  : MAP_FAILED;
    if (m == MAP_FAILED)
        return w;
    if (__atomic_load_n((const uint32_t *)m, __ATOMIC_ACQUIRE) != WALINDEX_VERSION) {
        log_info("walwatch: unknown WAL-index format in %s", shm_path);
        munmap(m, SHM_MAP_LEN);
        return w;
    }
    w->shm = m;
    return w;
}

bool walwatch_mapped(const struct walwatch *w)
{
    return w && w->shm;
}

/* As SQLite's readers do: copy 0, then copy 1 (writers store copy 1 first,
 * then copy 0); equal copies are a consistent snapshot. */
bool walwatch_read(const struct walwatch *w, struct walwatch_header *out)
{
    if (!walwatch_mapped(w))
        return false;
    /* The mapping is page-aligned, so each word is 8-byte aligned. */
    const uint64_t *copies = (const uint64_t *)(const void *)w->shm;
    struct walwatch_header second;
    for (int i = 0; i < WALWATCH_QWORDS; i++)
        out->q[i] = __atomic_load_n(&copies[i], __ATOMIC_ACQUIRE);
    for (int i = 0; i < WALWATCH_QWORDS; i++)
        second.q[i] = __atomic_load_n(&copies[WALWATCH_QWORDS + i], __ATOMIC_ACQUIRE);
    return walwatch_header_equal(out, &second);
}

void walwatch_close(struct walwatch *w)
{
    if (!w)
        return;
    sqlite3_close(w->anchor);
    if (w->shm)
        munmap((void *)w->shm, SHM_MAP_LEN);
    /* Closing any descriptor of a file drops every POSIX lock this process
     * holds on it, SQLite's own "this -shm is in use" lock included; another
     * process would then reinitialise the WAL-index under our connections.
     * Hence last, and never early. */
    if (w->shm_fd >= 0)
        close(w->shm_fd);
    free(w);
}
