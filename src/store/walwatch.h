/* "Has this SQLite database committed anything?" for one memory compare: the
 * WAL-index header (documented in SQLite's walformat) changes with every
 * commit, by any process, and lives at the start of the database's -shm file,
 * which is mapped read-only here. Used by the token change feed (tessera.db)
 * and the STAC page cache (catalog.db). Any thread. */
#ifndef TESSERA_WALWATCH_H
#define TESSERA_WALWATCH_H

#include <stdbool.h>
#include <stdint.h>

/* One 48-byte copy of the header, as six 64-bit words: compared on every
 * token check, so in six loads rather than a memcmp. */
#define WALWATCH_QWORDS 6

struct walwatch_header {
    uint64_t q[WALWATCH_QWORDS];
};

static inline bool walwatch_header_equal(const struct walwatch_header *a,
                                         const struct walwatch_header *b)
{
    uint64_t diff = 0;
    for (int i = 0; i < WALWATCH_QWORDS; i++)
        diff |= a->q[i] ^ b->q[i];
    return diff == 0;
}

struct walwatch;

/* Watches db_path, an existing database in WAL mode. Holds a connection of
 * its own so that the -shm file stays the live one. NULL when the database
 * cannot be opened (logged). */
struct walwatch *walwatch_open(const char *db_path);
/* False when the header could not be mapped (not WAL, unknown format): the
 * caller needs a slower probe, such as PRAGMA data_version. */
bool walwatch_mapped(const struct walwatch *w);
/* Copies the current header into out. False when not mapped, or when a
 * writer was in the middle of updating it (look again later). */
bool walwatch_read(const struct walwatch *w, struct walwatch_header *out);
/* Call last, after every other connection of this process to the database
 * is closed (see walwatch.c). NULL is a no-op. */
void walwatch_close(struct walwatch *w);

#endif
