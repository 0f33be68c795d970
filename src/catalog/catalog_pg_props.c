/* Item properties on the PostgreSQL catalog driver: the array parameters
 * that store an item's property rows in one INSERT, the backfill of those
 * rows for items stored before schema version 2, and the queryables (which
 * properties the caller's visible items have). Any thread: each call borrows
 * its own pooled connection. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_pg.h"
#include "util/buf.h"
#include "util/log.h"

/* Appends one element to an array literal ("{...}") being written in l:
 * NULL, or s quoted with '"' and '\' escaped (the only characters special
 * inside a quoted element). */
static void lit_elem(struct buf *l, const char *s)
{
    buf_append(l, l->n > 1 ? "," : "", l->n > 1);
    if (!s) {
        buf_append(l, "NULL", 4);
        return;
    }
    buf_append(l, "\"", 1);
    for (const char *p = s; *p; p++) {
        size_t run = strcspn(p, "\"\\");
        buf_append(l, p, run);
        p += run;
        if (!*p)
            break;
        char esc[2] = {'\\', *p};
        buf_append(l, esc, 2);
    }
    buf_append(l, "\"", 1);
}

void catalog_pg_props_free(struct catalog_pg_props *p)
{
    free(p->keys);
    free(p->kinds);
    free(p->nums);
    free(p->txts);
    memset(p, 0, sizeof(*p));
}

int catalog_pg_props_params(const struct catalog_prop *props, size_t n,
                            struct catalog_pg_props *out)
{
    struct buf keys = {0}, kinds = {0}, nums = {0}, txts = {0};
    memset(out, 0, sizeof(*out));
    buf_append(&keys, "{", 1);
    buf_append(&kinds, "{", 1);
    buf_append(&nums, "{", 1);
    buf_append(&txts, "{", 1);
    for (size_t i = 0; i < n; i++) {
        char buf[40];
        lit_elem(&keys, props[i].key);
        snprintf(buf, sizeof(buf), "%d", props[i].kind);
        lit_elem(&kinds, buf);
        /* %.17g round-trips every double exactly (they are finite). */
        if (props[i].has_num)
            snprintf(buf, sizeof(buf), "%.17g", props[i].num);
        lit_elem(&nums, props[i].has_num ? buf : NULL);
        lit_elem(&txts, props[i].txt);
    }
    buf_append(&keys, "}", 1);
    buf_append(&kinds, "}", 1);
    buf_append(&nums, "}", 1);
    buf_append(&txts, "}", 1);
    out->keys = keys.s;
    out->kinds = kinds.s;
    out->nums = nums.s;
    out->txts = txts.s;
    if (keys.oom || kinds.oom || nums.oom || txts.oom) {
        catalog_pg_props_free(out);
        return -ENOMEM;
    }
    return 0;
}

/* Stores the property rows of one old item and marks it done. */
static int backfill_item(PGconn *c, const char *rid, const char *collection, const char *doc)
{
    cJSON *j = cJSON_Parse(doc);
    struct catalog_prop *props = NULL;
    size_t n = 0;
    struct catalog_pg_props p = {0};
    int rc = -ENOMEM;
    if (j && catalog_props_of(cJSON_GetObjectItemCaseSensitive(j, "properties"), &props, &n) < 0)
        goto done;
    if (!j)
        log_warn("catalog: item %s has an unreadable document; it gets no property rows", rid);
    if (catalog_pg_props_params(props, n, &p) < 0)
        goto done;
    const char *params[] = {rid, collection, p.keys, p.kinds, p.nums, p.txts};
    rc = pg_exec(c,
                 "WITH pr AS (INSERT INTO catalog_item_props (item, key, kind, num, txt)"
                 "   SELECT $1::bigint, u.k, u.kd, u.n, u.t FROM"
                 "   unnest($3::text[], $4::smallint[], $5::float8[], $6::text[])"
                 "   AS u (k, kd, n, t) ON CONFLICT DO NOTHING),"
                 " pk AS (INSERT INTO catalog_prop_keys (collection, key, kind)"
                 "   SELECT $2, u.k, u.kd FROM unnest($3::text[], $4::smallint[]) AS u (k, kd)"
                 "   ON CONFLICT DO NOTHING)"
                 " UPDATE catalog_items SET props_ok = true WHERE rid = $1::bigint",
                 6, params, NULL);
done:
    catalog_pg_props_free(&p);
    free(props);
    cJSON_Delete(j);
    return rc;
}

int catalog_pg_props_backfill(struct catalog_pg *cat)
{
    PGconn *c = pg_acquire(cat->pool);
    int rc = -EIO;
    if (!c)
        return -EIO;
    for (;;) {
        PGresult *r = pg_query(c, "SELECT EXISTS (SELECT 1 FROM catalog_items WHERE NOT props_ok)",
                               0, NULL, NULL);
        bool todo = r && pg_get_bool(r, 0, 0);
        PQclear(r);
        if (!r)
            goto done;
        if (!todo)
            break;
        /* Under the import lock: an import replacing an item meanwhile
         * would otherwise race with its backfill. */
        if (pg_begin(c) < 0 ||
            pg_exec(c, "SELECT pg_advisory_xact_lock(" CATALOG_PG_IMPORT_LOCK_KEYS ")", 0, NULL,
                    NULL) < 0 ||
            !(r = pg_query(c,
                           "SELECT rid, collection, doc FROM catalog_items WHERE NOT props_ok"
                           " ORDER BY rid LIMIT 500",
                           0, NULL, NULL)))
            goto done;
        int rows = PQntuples(r), i;
        for (i = 0; i < rows; i++)
            if (backfill_item(c, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2)) < 0)
                break;
        PQclear(r);
        if (i < rows || pg_commit(c) < 0)
            goto done;
        log_info("catalog: filled in the search properties of %d stored items", rows);
    }
    rc = 0;
done:
    pg_rollback(c);
    pg_release(cat->pool, c);
    return rc;
}

int catalog_pg_queryables(struct catalog *base, const struct strlist *groups,
                          const char *collection, struct catalog_queryable **out, size_t *n)
{
    struct catalog_pg *cat = (struct catalog_pg *)base;
    char *grp = catalog_pg_text_array(groups, CATALOG_PUBLIC_GROUP);
    PGconn *c = grp ? pg_acquire(cat->pool) : NULL;
    PGresult *r = NULL;
    int rc = grp ? -EIO : -ENOMEM;
    struct catalog_queryable *v = NULL;
    size_t nv = 0;
    if (c) {
        /* Each name and kind seen in a collection counts when some item
         * there that the caller can see still has it. */
        const char *p[] = {grp, collection};
        r = pg_query(c,
                     "SELECT k.key, k.kind FROM catalog_prop_keys k"
                     " WHERE ($2::text IS NULL OR k.collection = $2) AND EXISTS (SELECT 1"
                     "  FROM catalog_item_props p JOIN catalog_item_search i ON i.rid = p.item"
                     "  WHERE p.key = k.key AND p.kind = k.kind AND i.collection = k.collection"
                     "  AND i.vis && $1::text[] AND i.cvis && $1::text[])",
                     2, p, NULL);
        pg_release(cat->pool, c);
    }
    if (r) {
        int rows = PQntuples(r);
        rc = 0;
        v = calloc(rows ? (size_t)rows : 1, sizeof(*v));
        if (!v)
            rc = -ENOMEM;
        for (int i = 0; rc == 0 && i < rows; i++) {
            const char *key = PQgetvalue(r, i, 0);
            int kind = atoi(PQgetvalue(r, i, 1));
            if (kind < 1 || kind > 30)
                continue;
            size_t j;
            for (j = 0; j < nv && strcmp(v[j].name, key) != 0; j++)
                ;
            if (j == nv && !(v[nv++].name = strdup(key)))
                rc = -ENOMEM;
            else
                v[j].kinds |= 1u << kind;
        }
    }
    PQclear(r);
    free(grp);
    if (rc < 0) {
        catalog_queryables_free(v, nv);
        return rc;
    }
    *out = v;
    *n = nv;
    return 0;
}

int catalog_pg_properties_visible(struct catalog *base, const struct strlist *groups,
                                  const char *collection, const struct strlist *names,
                                  size_t *missing)
{
    struct catalog_pg *cat = (struct catalog_pg *)base;
    char *grp = catalog_pg_text_array(groups, CATALOG_PUBLIC_GROUP);
    char *list = catalog_pg_text_array(names, NULL);
    PGconn *c = grp && list ? pg_acquire(cat->pool) : NULL;
    PGresult *r = NULL;
    int rc = grp && list ? -EIO : -ENOMEM;
    if (c) {
        const char *p[] = {grp, list, collection};
        r = pg_query(
            c,
            "SELECT u.ord FROM unnest($2::text[]) WITH ORDINALITY AS u (name, ord)"
            " WHERE NOT EXISTS (SELECT 1 FROM catalog_item_props p JOIN catalog_item_search i"
            "  ON i.rid = p.item WHERE p.key = u.name AND i.vis && $1::text[]"
            "  AND i.cvis && $1::text[] AND ($3::text IS NULL OR i.collection = $3))"
            " ORDER BY u.ord LIMIT 1",
            3, p, NULL);
        pg_release(cat->pool, c);
    }
    if (r) {
        rc = 0;
        if (PQntuples(r) == 1) {
            *missing = (size_t)(pg_get_int64(r, 0, 0) - 1);
            rc = -ENOENT;
        }
    }
    PQclear(r);
    free(grp);
    free(list);
    return rc;
}
