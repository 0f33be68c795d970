/* The seam between the catalog's front door (catalog.c, import.c) and its
 * storage drivers (catalog_sqlite*.c, catalog_pg*.c): a table of operations
 * per driver. Validation, templates and asset keys are computed once, above
 * the seam, so that every driver stores and reads exactly the same records.
 * Internal to src/catalog/.
 *
 * Threading: the read operations, generation and note_change may be called
 * from any thread at once. An import transaction belongs to the thread that
 * began it until it is committed or rolled back. */
#ifndef TESSERA_CATALOG_DRIVER_H
#define TESSERA_CATALOG_DRIVER_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "util/strlist.h"

struct catalog_ops;

/* Every driver's catalog starts with this, so catalog.c can dispatch. */
struct catalog {
    const struct catalog_ops *ops;
};

/* Every driver's import transaction starts with this. */
struct catalog_tx {
    struct catalog *cat;
};

/* One item property as the drivers store it for filtering and sorting
 * (props.c derives them from the item's properties, once for every driver).
 * kind is an enum catalog_prop_kind; num holds a NUMBER, a BOOL (0 or 1) or
 * a TIMESTAMP's milliseconds; txt a STRING's or TIMESTAMP's text. ARRAY and
 * OBJECT values have neither: they can be tested for presence only. Null
 * values and non-finite numbers are not stored. */
struct catalog_prop {
    const char *key;
    int kind;
    bool has_num;
    double num;
    const char *txt;
};

/* The property whose plain string value is part of an item's state in the
 * SQLite driver (catalog_sqlite.c, migrate_v5): the platform's plume
 * endpoints test it (= "published") on every request unless told otherwise,
 * so that test is read from the order index, and its count from stored
 * counts. Any other property is tested as usual. */
#define CATALOG_STATE_PROP "cm:status"

/* The stored properties of a properties object: *out (malloc'd; strings
 * borrowed from props, which must outlive them), *n entries. 0 or -ENOMEM. */
int catalog_props_of(const cJSON *props, struct catalog_prop **out, size_t *n);

/* The same properties in one compact record, for a driver that keeps them
 * beside each item (the SQLite driver tests them without a lookup):
 * entries of u16 key length, key, u8 kind, then a double for the kinds with
 * num and a u32 length and the text for the kinds with txt (host byte
 * order: the record never leaves the machine's own database). malloc'd;
 * NULL with *len 0 when there are none; -ENOMEM. */
int catalog_props_pack(const struct catalog_prop *props, size_t n, uint8_t **out, size_t *len);
/* Finds key in a packed record: true with *p filled (txt pointing into the
 * record, txtlen its length) when present. Malformed records find nothing. */
bool catalog_props_find(const uint8_t *rec, size_t len, const char *key, size_t keylen,
                        struct catalog_prop *p, size_t *txtlen);

/* One validated item, as import.c hands it to a driver. Pointers are
 * borrowed for the duration of the call. */
struct catalog_item_rec {
    const char *collection, *id;
    const char *doc;      /* the item's JSON text (with "bbox" filled in) */
    const char *geometry; /* the geometry's JSON text; NULL when it is null */
    const char *tpl;      /* the item template (template.h) */
    bool has_box;
    double box[4];                    /* minx, miny, maxx, maxy; minx > maxx crosses 180° */
    int64_t start, end;               /* datetime interval in ms (both = datetime for an instant) */
    const struct strlist *asset_keys; /* keys relative to the asset directory */
    const struct catalog_prop *props; /* the properties to filter and sort on */
    size_t nprops;
};

struct catalog_ops {
    const char *name; /* "sqlite", "postgresql": for log lines */

    /* --- Import: all-or-nothing. After tx_begin succeeds, a successful
     * tx_commit or a tx_rollback ends (and frees) the transaction. --- */

    /* Starts a transaction in which every document put gets the visibility
     * groups (sorted, deduplicated, never empty; visibility_json is the same
     * list as a JSON array) and the import time now (ms). 0 or -errno with a
     * complete message in err. */
    int (*tx_begin)(struct catalog *cat, const struct strlist *visibility,
                    const char *visibility_json, int64_t now, struct catalog_tx **out, char *err,
                    size_t errlen);
    /* Inserts or replaces a collection. 0 or -errno. */
    int (*tx_put_collection)(struct catalog_tx *tx, const char *id, const char *doc);
    /* Inserts or replaces an item (same collection and id) with its box,
     * interval and asset keys; the old version's keys are forgotten. */
    int (*tx_put_item)(struct catalog_tx *tx, const struct catalog_item_rec *it);
    /* 0 when the collection exists in the transaction's view, -ENOENT when
     * not, else -errno. */
    int (*tx_has_collection)(struct catalog_tx *tx, const char *id);
    /* 0: committed (durable) and ended. On failure the transaction is still
     * there for tx_error, and must be rolled back. */
    int (*tx_commit)(struct catalog_tx *tx);
    void (*tx_rollback)(struct catalog_tx *tx);
    /* The database's message for the last -EIO of this transaction. */
    const char *(*tx_error)(struct catalog_tx *tx);

    /* --- Reads, as in catalog.h; cat and the ids are never NULL here and a
     * query's limit and offset are already checked. --- */
    int (*collections)(struct catalog *cat, const struct strlist *groups, cJSON **out);
    int (*collection_get)(struct catalog *cat, const struct strlist *groups, const char *id,
                          cJSON **out);
    int (*item_get)(struct catalog *cat, const struct strlist *groups, const char *collection,
                    const char *id, cJSON **out);
    int (*item_each)(struct catalog *cat, const struct strlist *groups, const char *collection,
                     const char *id, catalog_item_fn fn, void *ctx);
    /* doc NULL: visibility only. Else *doc = the document of one visible item
     * referencing key (the first by collection and id, byte-wise). */
    int (*asset_visible)(struct catalog *cat, const struct strlist *groups, const char *key,
                         cJSON **doc);
    /* Exactly one of items and fn is set: collect documents into *items, or
     * call fn with each template in page order. */
    int (*search)(struct catalog *cat, const struct catalog_query *q, int64_t *matched,
                  cJSON **items, catalog_item_fn fn, void *ctx);

    /* As catalog_queryables (the result unsorted) and
     * catalog_properties_visible. */
    int (*queryables)(struct catalog *cat, const struct strlist *groups, const char *collection,
                      struct catalog_queryable **out, size_t *n);
    int (*properties_visible)(struct catalog *cat, const struct strlist *groups,
                              const char *collection, const struct strlist *names, size_t *missing);

    uint64_t (*generation)(struct catalog *cat);
    void (*note_change)(struct catalog *cat);
    void (*close)(struct catalog *cat);
};

/* The drivers' constructors, for catalog_open. NULL on failure (logged). */
struct catalog *catalog_sqlite_open(const char *data_dir);
struct catalog *catalog_pg_open(const char *url);

#endif
