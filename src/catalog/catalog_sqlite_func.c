/* The SQL functions of the SQLite catalog driver, registered on every
 * connection (catalog_sqlite.c): the exact geometry test, the packed
 * property readers and the aggregate that keeps a search's few matches.
 * Pure functions of their arguments; SQLite calls them on the thread that
 * steps the statement. */
#include <stdio.h>
#include <stdlib.h>

#include "catalog/catalog_sqlite.h"
#include "catalog/geom.h"

/* SQL function tessera_intersects(geometry_json, geom_pointer): the exact test
 * after the R*Tree prefilter. */
static void sql_intersects(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const struct catalog_geom *q = sqlite3_value_pointer(argv[1], "tessera_geom");
    const char *text = (const char *)sqlite3_value_text(argv[0]);
    size_t len = (size_t)sqlite3_value_bytes(argv[0]);
    sqlite3_result_int(ctx, text && q && catalog_geom_text_intersects(text, len, q));
}

/* SQL functions tessera_pk, tessera_pn and tessera_pt(record, key): the
 * kind, num and txt of property key in a packed record (item_search.props;
 * catalog_driver.h), or NULL when it has none. They stand for the columns
 * of an item_props row, so that a filter tests a candidate's properties
 * without a lookup. */
static void sql_prop(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const uint8_t *rec = sqlite3_value_blob(argv[0]);
    size_t len = (size_t)sqlite3_value_bytes(argv[0]);
    const char *key = (const char *)sqlite3_value_text(argv[1]);
    size_t keylen = (size_t)sqlite3_value_bytes(argv[1]);
    struct catalog_prop p;
    size_t tl;
    if (!key || !catalog_props_find(rec, len, key, keylen, &p, &tl))
        return; /* NULL */
    switch (*(const char *)sqlite3_user_data(ctx)) {
    case 'k':
        sqlite3_result_int(ctx, p.kind);
        break;
    case 'n':
        if (p.has_num)
            sqlite3_result_double(ctx, p.num);
        break;
    default:
        if (p.txt)
            sqlite3_result_text(ctx, p.txt, (int)tl, SQLITE_TRANSIENT);
        break;
    }
}

/* Aggregate tessera_ids(rowid, cap): the rowids as a JSON array when there
 * are fewer than cap of them, else NULL. With count(*) beside it, one pass
 * over a search's matches gives their number and, when they are few, the
 * matches themselves (catalog_sqlite_search.c). */
struct ids_acc {
    int64_t n, cap, *v;
    bool oom;
};

static void ids_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    struct ids_acc *a = sqlite3_aggregate_context(ctx, sizeof(*a));
    if (!a || a->oom)
        return;
    if (a->n == 0) {
        a->cap = sqlite3_value_int64(argv[1]);
        if (a->cap > 0 && !(a->v = malloc((size_t)a->cap * sizeof(*a->v))))
            a->oom = true;
    }
    if (a->n < a->cap && a->v)
        a->v[a->n] = sqlite3_value_int64(argv[0]);
    a->n++;
}

static void ids_final(sqlite3_context *ctx)
{
    struct ids_acc *a = sqlite3_aggregate_context(ctx, 0);
    if (!a) { /* no rows */
        sqlite3_result_text(ctx, "[]", 2, SQLITE_STATIC);
        return;
    }
    char *s = NULL;
    if (!a->oom && a->n < a->cap && (s = malloc((size_t)a->n * 21 + 3))) {
        size_t len = 0;
        s[len++] = '[';
        for (int64_t i = 0; i < a->n; i++)
            len += (size_t)sprintf(s + len, i ? ",%lld" : "%lld", (long long)a->v[i]);
        s[len++] = ']';
        sqlite3_result_text(ctx, s, (int)len, free);
    } else if (a->oom || a->n < a->cap) {
        sqlite3_result_error_nomem(ctx);
    }
    free(a->v);
}

void catalog_sqlite_functions(sqlite3 *db)
{
    sqlite3_create_function(db, "tessera_intersects", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                            sql_intersects, NULL, NULL);
    static const char k = 'k', n = 'n', t = 't';
    sqlite3_create_function(db, "tessera_pk", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, (void *)&k,
                            sql_prop, NULL, NULL);
    sqlite3_create_function(db, "tessera_pn", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, (void *)&n,
                            sql_prop, NULL, NULL);
    sqlite3_create_function(db, "tessera_pt", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, (void *)&t,
                            sql_prop, NULL, NULL);
    sqlite3_create_function(db, "tessera_ids", 2, SQLITE_UTF8, NULL, NULL, ids_step, ids_final);
}
