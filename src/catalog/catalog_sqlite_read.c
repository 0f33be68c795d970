/* Reads of the SQLite catalog driver, and its queryables (search is in
 * catalog_sqlite_search.c).
 * Visibility is a bit mask: the caller's groups become a mask (Public is bit
 * 0, always set) and a document is visible when its mask shares a bit with
 * it. Any thread: each call takes its own connection from the pool. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_sqlite.h"
#include "catalog/geom.h"
#include "util/array.h"
#include "util/log.h"

static const char *const stmt_sql[CSQ_COUNT] = {
    [CSQ_GROUP_BIT] = "SELECT bit FROM vgroups WHERE name = ?1",
    [CSQ_COLLECTIONS] = "SELECT doc FROM collections WHERE (vis & ?1) != 0 ORDER BY id",
    [CSQ_COLLECTION] = "SELECT doc FROM collections WHERE id = ?2 AND (vis & ?1) != 0",
    [CSQ_ITEM] =
        "SELECT i.doc FROM items i JOIN collections c ON c.id = i.collection "
        "WHERE i.collection = ?2 AND i.id = ?3 AND (i.vis & ?1) != 0 AND (c.vis & ?1) != 0",
    [CSQ_ITEM_TPL] = "SELECT i.doc, i.tpl, i.collection, i.id FROM items i JOIN collections c"
                     " ON c.id = i.collection WHERE i.collection = ?2 AND i.id = ?3"
                     " AND (i.vis & ?1) != 0 AND (c.vis & ?1) != 0",
    [CSQ_ASSET] = "SELECT i.doc FROM assets a JOIN items i ON i.rowid = a.item "
                  "JOIN collections c ON c.id = i.collection "
                  "WHERE a.key = ?2 AND (i.vis & ?1) != 0 AND (c.vis & ?1) != 0 "
                  "ORDER BY i.collection, i.id LIMIT 1",
    [CSQ_FETCH_DOC] = "SELECT doc FROM items WHERE rowid = ?1",
    [CSQ_FETCH_TPL] = "SELECT tpl, collection, id FROM items WHERE rowid = ?1",
    [CSQ_PROP_KEYS] = "SELECT collection, key, kind FROM prop_keys"
                      " WHERE ?1 IS NULL OR collection = ?1",
    [CSQ_PROP_ANY] = "SELECT 1 FROM item_props p JOIN item_search s ON s.rowid = p.item"
                     " WHERE p.key = ?2 AND (s.vis & ?1) != 0 AND (s.cvis & ?1) != 0"
                     " AND (?3 IS NULL OR s.collection = ?3) LIMIT 1",
    [CSQ_PROP_KIND] = "SELECT 1 FROM item_props p JOIN item_search s ON s.rowid = p.item"
                      " WHERE p.key = ?2 AND p.kind = ?4 AND (s.vis & ?1) != 0"
                      " AND (s.cvis & ?1) != 0 AND s.collection = ?3 LIMIT 1",
};

sqlite3_stmt *catalog_sqlite_stmt(struct catalog_sqlite_conn *c, enum catalog_sqlite_stmt id)
{
    if (!c->st[id] && sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                         &c->st[id], NULL) != SQLITE_OK) {
        log_error("catalog: prepare failed: %s", sqlite3_errmsg(c->db));
        return NULL;
    }
    return c->st[id];
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}

int catalog_sqlite_group_mask(struct catalog_sqlite_conn *c, const struct strlist *groups,
                              int64_t *mask)
{
    *mask = 1; /* Public is bit 0 */
    if (!groups)
        return 0;
    sqlite3_stmt *st = catalog_sqlite_stmt(c, CSQ_GROUP_BIT);
    if (!st)
        return -EIO;
    for (size_t i = 0; i < groups->n; i++) {
        bind_text(st, 1, groups->v[i]);
        int s = sqlite3_step(st);
        if (s == SQLITE_ROW) {
            int64_t bit = sqlite3_column_int64(st, 0);
            if (bit >= 0 && bit <= CATALOG_SQLITE_MAX_GROUP_BITS)
                *mask |= (int64_t)1 << bit;
        }
        sqlite3_reset(st);
        if (s != SQLITE_ROW && s != SQLITE_DONE)
            return -EIO;
    }
    return 0;
}

/* Runs st (mask already bound as ?1) and collects column 0 parsed as JSON.
 * single: stop after the first row and return -ENOENT when there is none. */
static int collect_docs(struct catalog_sqlite_conn *c, sqlite3_stmt *st, bool single, cJSON **out)
{
    int rc = 0, s;
    cJSON *arr = single ? NULL : cJSON_CreateArray();
    *out = NULL;
    if (!single && !arr) {
        rc = -ENOMEM;
        goto done;
    }
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 0);
        int len = sqlite3_column_bytes(st, 0);
        cJSON *doc = text ? cJSON_ParseWithLength(text, (size_t)len) : NULL;
        if (!doc) {
            rc = -EIO;
            goto done;
        }
        if (single) {
            *out = doc;
            goto done;
        }
        cJSON_AddItemToArray(arr, doc);
    }
    if (s != SQLITE_DONE) {
        log_error("catalog: query failed: %s", sqlite3_errmsg(c->db));
        rc = -EIO;
    } else if (single) {
        rc = -ENOENT;
    }
done:
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == 0 && !single)
        *out = arr;
    else
        cJSON_Delete(arr);
    return rc;
}

/* Runs read id with the caller's mask as ?1 and the parameters a (?2) and b
 * (?3) when given. */
static int simple_read(struct catalog *base, enum catalog_sqlite_stmt id,
                       const struct strlist *groups, const char *a, const char *b, bool single,
                       cJSON **out)
{
    struct catalog_sqlite *cat = (struct catalog_sqlite *)base;
    *out = NULL;
    struct catalog_sqlite_conn *c = catalog_sqlite_conn_get(cat);
    if (!c)
        return -EIO;
    int64_t mask;
    sqlite3_stmt *st = catalog_sqlite_stmt(c, id);
    int rc = st ? catalog_sqlite_group_mask(c, groups, &mask) : -EIO;
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, mask);
        if (a)
            bind_text(st, 2, a);
        if (b)
            bind_text(st, 3, b);
        rc = collect_docs(c, st, single, out);
    }
    catalog_sqlite_conn_put(cat, c);
    return rc;
}

int catalog_sqlite_collections(struct catalog *cat, const struct strlist *groups, cJSON **out)
{
    return simple_read(cat, CSQ_COLLECTIONS, groups, NULL, NULL, false, out);
}

int catalog_sqlite_collection_get(struct catalog *cat, const struct strlist *groups, const char *id,
                                  cJSON **out)
{
    return simple_read(cat, CSQ_COLLECTION, groups, id, NULL, true, out);
}

int catalog_sqlite_item_get(struct catalog *cat, const struct strlist *groups,
                            const char *collection, const char *id, cJSON **out)
{
    return simple_read(cat, CSQ_ITEM, groups, collection, id, true, out);
}

int catalog_sqlite_asset_visible(struct catalog *base, const struct strlist *groups,
                                 const char *key, cJSON **doc)
{
    struct catalog_sqlite *cat = (struct catalog_sqlite *)base;
    struct catalog_sqlite_conn *c = catalog_sqlite_conn_get(cat);
    if (!c)
        return -EIO;
    int64_t mask;
    sqlite3_stmt *st = catalog_sqlite_stmt(c, CSQ_ASSET);
    int rc = st ? catalog_sqlite_group_mask(c, groups, &mask) : -EIO;
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, mask);
        bind_text(st, 2, key);
        int s = sqlite3_step(st);
        rc = s == SQLITE_ROW ? 0 : s == SQLITE_DONE ? -ENOENT : -EIO;
        if (rc == 0 && doc) {
            const char *text = (const char *)sqlite3_column_text(st, 0);
            *doc = text ? cJSON_Parse(text) : NULL;
            if (!*doc)
                rc = -ENOMEM; /* the text was stored by us, printed by cJSON */
        }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    catalog_sqlite_conn_put(cat, c);
    return rc;
}

/* Steps st and calls fn with (collection, id, template) of each row whose
 * columns are doc, tpl, collection, id. */
static int each_template(struct catalog_sqlite_conn *c, sqlite3_stmt *st, catalog_item_fn fn,
                         void *ctx, bool single)
{
    int rc = 0, s;
    bool any = false;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *tpl = (const char *)sqlite3_column_text(st, 1);
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        const char *coll = (const char *)sqlite3_column_text(st, 2);
        const char *id = (const char *)sqlite3_column_text(st, 3);
        any = true;
        if (!tpl || !coll || !id) {
            rc = -EIO;
            break;
        }
        if ((rc = fn(ctx, coll, id, tpl, len)) != 0 || single)
            break;
    }
    if (rc == 0 && s != SQLITE_DONE && s != SQLITE_ROW) {
        log_error("catalog: query failed: %s", sqlite3_errmsg(c->db));
        rc = -EIO;
    }
    if (rc == 0 && single && !any)
        rc = -ENOENT;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

int catalog_sqlite_item_each(struct catalog *base, const struct strlist *groups,
                             const char *collection, const char *id, catalog_item_fn fn, void *ctx)
{
    struct catalog_sqlite *cat = (struct catalog_sqlite *)base;
    struct catalog_sqlite_conn *c = catalog_sqlite_conn_get(cat);
    if (!c)
        return -EIO;
    int64_t mask;
    sqlite3_stmt *st = catalog_sqlite_stmt(c, CSQ_ITEM_TPL);
    int rc = st ? catalog_sqlite_group_mask(c, groups, &mask) : -EIO;
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, mask);
        bind_text(st, 2, collection);
        bind_text(st, 3, id);
        rc = each_template(c, st, fn, ctx, true);
    }
    catalog_sqlite_conn_put(cat, c);
    return rc;
}

/* ---- queryables --------------------------------------------------------------- */

/* Steps a "SELECT 1 ... LIMIT 1" statement: 1 (a row), 0 (none) or -EIO. */
static int exists(sqlite3_stmt *st)
{
    int s = sqlite3_step(st);
    sqlite3_reset(st);
    return s == SQLITE_ROW ? 1 : s == SQLITE_DONE ? 0 : -EIO;
}

int catalog_sqlite_queryables(struct catalog *base, const struct strlist *groups,
                              const char *collection, struct catalog_queryable **out, size_t *n)
{
    struct catalog_sqlite *cat = (struct catalog_sqlite *)base;
    struct catalog_sqlite_conn *c = catalog_sqlite_conn_get(cat);
    struct catalog_queryable *v = NULL;
    size_t nv = 0, cap = 0;
    int64_t mask;
    int rc = -EIO;
    if (!c)
        return -EIO;
    sqlite3_stmt *keys = catalog_sqlite_stmt(c, CSQ_PROP_KEYS);
    sqlite3_stmt *kind = catalog_sqlite_stmt(c, CSQ_PROP_KIND);
    if (!keys || !kind || catalog_sqlite_group_mask(c, groups, &mask) < 0 ||
        sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        goto done;
    if (collection)
        sqlite3_bind_text(keys, 1, collection, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(kind, 1, mask);
    int s;
    rc = 0;
    /* Each name and kind seen in a collection counts when some item there
     * that the caller can see still has it. */
    while (rc == 0 && (s = sqlite3_step(keys)) == SQLITE_ROW) {
        const char *coll = (const char *)sqlite3_column_text(keys, 0);
        const char *key = (const char *)sqlite3_column_text(keys, 1);
        int k = sqlite3_column_int(keys, 2);
        size_t i;
        for (i = 0; i < nv && strcmp(v[i].name, key) != 0; i++)
            ;
        if (k < 1 || k > 30 || (i < nv && (v[i].kinds & (1u << k))))
            continue; /* already known from another collection */
        sqlite3_bind_text(kind, 2, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(kind, 3, coll, -1, SQLITE_STATIC);
        sqlite3_bind_int(kind, 4, k);
        int e = exists(kind);
        if (e < 0) {
            rc = -EIO;
        } else if (e && i < nv) {
            v[i].kinds |= 1u << k;
        } else if (e) {
            if (ARRAY_RESERVE(v, cap, nv + 1, 32) < 0) {
                rc = -ENOMEM;
                break;
            }
            if (!(v[nv].name = strdup(key)))
                rc = -ENOMEM;
            else
                v[nv++].kinds = 1u << k;
        }
    }
    if (rc == 0 && s != SQLITE_DONE)
        rc = -EIO;
    sqlite3_reset(keys);
    sqlite3_clear_bindings(keys);
    sqlite3_clear_bindings(kind);
    sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
done:
    catalog_sqlite_conn_put(cat, c);
    if (rc < 0) {
        catalog_queryables_free(v, nv);
        return rc;
    }
    *out = v;
    *n = nv;
    return 0;
}

int catalog_sqlite_properties_visible(struct catalog *base, const struct strlist *groups,
                                      const char *collection, const struct strlist *names,
                                      size_t *missing)
{
    struct catalog_sqlite *cat = (struct catalog_sqlite *)base;
    struct catalog_sqlite_conn *c = catalog_sqlite_conn_get(cat);
    int64_t mask;
    int rc = -EIO;
    if (!c)
        return -EIO;
    sqlite3_stmt *st = catalog_sqlite_stmt(c, CSQ_PROP_ANY);
    if (st && catalog_sqlite_group_mask(c, groups, &mask) == 0) {
        sqlite3_bind_int64(st, 1, mask);
        if (collection)
            sqlite3_bind_text(st, 3, collection, -1, SQLITE_TRANSIENT);
        rc = 0;
        for (size_t i = 0; rc == 0 && i < names->n; i++) {
            sqlite3_bind_text(st, 2, names->v[i], -1, SQLITE_STATIC);
            int e = exists(st);
            if (e < 0) {
                rc = -EIO;
            } else if (!e) {
                *missing = i;
                rc = -ENOENT;
            }
        }
        sqlite3_clear_bindings(st);
    }
    catalog_sqlite_conn_put(cat, c);
    return rc;
}
