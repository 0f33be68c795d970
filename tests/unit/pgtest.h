/* Unit-test helper: a fresh, empty PostgreSQL database per test on the
 * throwaway cluster that ctest's `pg` fixture starts (tests/pg/pgcluster.py).
 * The cluster's maintenance URL comes from TESSERA_TEST_PG_URL, or from the
 * file named by TESSERA_TEST_PG_URL_FILE (set by CMake). Under ctest the
 * cluster is required: a missing one fails the test instead of skipping it.
 * Test code only; header-only so each test binary stays one file. */
#ifndef TESSERA_TEST_PGTEST_H
#define TESSERA_TEST_PGTEST_H

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The cluster's maintenance URL (static buffer), or NULL when none is set. */
static inline const char *pgtest_admin_url(void)
{
    static char url[512];
    const char *env = getenv("TESSERA_TEST_PG_URL");
    if (env && *env)
        return env;
    const char *file = getenv("TESSERA_TEST_PG_URL_FILE");
    FILE *f = file ? fopen(file, "r") : NULL;
    if (!f)
        return NULL;
    char *line = fgets(url, sizeof(url), f);
    fclose(f);
    if (!line)
        return NULL;
    url[strcspn(url, "\r\n")] = '\0';
    return url[0] ? url : NULL;
}

static inline int pgtest_admin_exec(const char *sql)
{
    const char *admin = pgtest_admin_url();
    PGconn *c = admin ? PQconnectdb(admin) : NULL;
    int rc = -1;
    if (c && PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_COMMAND_OK)
            rc = 0;
        else
            fprintf(stderr, "pgtest: %s: %s", sql, PQerrorMessage(c));
        PQclear(r);
    } else {
        fprintf(stderr, "pgtest: cannot reach the test cluster (%s): %s\n",
                admin ? admin : "no URL", c ? PQerrorMessage(c) : "");
    }
    PQfinish(c);
    return rc;
}

/* Creates a database with a unique name and returns its URL (malloc'd), or
 * NULL. Free with pgtest_db_drop. */
static inline char *pgtest_db_create(void)
{
    static atomic_uint counter;
    const char *admin = pgtest_admin_url();
    if (!admin)
        return NULL;
    char name[64], sql[128];
    snprintf(name, sizeof(name), "unit_%d_%u_%u", (int)getpid(), atomic_fetch_add(&counter, 1),
             (unsigned)rand());
    snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\"", name);
    if (pgtest_admin_exec(sql) < 0)
        return NULL;
    /* Same server, other database: replace the path of the URL. */
    const char *path = strchr(strstr(admin, "://") + 3, '/');
    size_t prefix = path ? (size_t)(path - admin) : strlen(admin);
    char *url = malloc(prefix + strlen(name) + 2);
    if (url)
        sprintf(url, "%.*s/%s", (int)prefix, admin, name);
    return url;
}

/* Drops the database (closing any session still on it) and frees url. */
static inline void pgtest_db_drop(char *url)
{
    if (!url)
        return;
    char sql[160];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)",
             strrchr(url, '/') + 1);
    pgtest_admin_exec(sql);
    free(url);
}

#endif
