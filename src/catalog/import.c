/* `tessera stac import`: reads a STAC file or a tree of them, validates each
 * Collection, Item and ItemCollection, derives what the drivers store (box,
 * datetime interval, asset keys, item template), and hands the records to
 * the chosen driver inside one transaction, so that an import loads all of
 * its documents or none. Runs on the calling thread; the driver serialises
 * concurrent imports. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog/catalog.h"
#include "catalog/catalog_driver.h"
#include "catalog/template.h"
#include "util/array.h"
#include "util/timeutil.h"

#define MAX_FILE_BYTES (64u << 20)
#define MAX_DIR_DEPTH 16
#define MAX_GROUP_NAME 64

/* An item's collection is checked once the whole import is in, so that a
 * tree may hold items before their collection. */
struct pending_ref {
    char *file, *item, *collection;
};

struct importer {
    const struct catalog_ops *ops;
    const struct catalog_import_progress *progress; /* may be NULL */
    struct catalog_tx *tx;
    struct catalog_import_result res;
    struct pending_ref *refs;
    size_t nrefs, caprefs;
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int import_fail(struct importer *im, const char *file,
                                                             const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(im->err, im->errlen, "%s: %s", file, msg);
    return -EINVAL;
}

static int db_fail(struct importer *im, const char *file)
{
    snprintf(im->err, im->errlen, "%s: database error: %s", file, im->ops->tx_error(im->tx));
    return -EIO;
}

/* A driver's -EIO gets the database's message; other errors speak for
 * themselves (-ENOMEM becomes "out of memory" at the end). */
static int tx_result(struct importer *im, const char *file, int rc)
{
    return rc == -EIO ? db_fail(im, file) : rc;
}

static const cJSON *get(const cJSON *obj, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(obj, name);
}

static bool nonempty_string(const cJSON *v)
{
    return cJSON_IsString(v) && v->valuestring[0];
}

/* Validates the links array common to every STAC document. */
static int check_links(struct importer *im, const char *file, const char *what, const cJSON *doc)
{
    const cJSON *links = get(doc, "links");
    if (!cJSON_IsArray(links))
        return import_fail(im, file, "%s: field \"links\" is required and must be an array", what);
    int i = 0;
    const cJSON *l;
    cJSON_ArrayForEach(l, links)
    {
        if (!cJSON_IsObject(l) || !cJSON_IsString(get(l, "href")) || !cJSON_IsString(get(l, "rel")))
            return import_fail(im, file, "%s: links[%d] must be an object with string href and rel",
                               what, i);
        i++;
    }
    return 0;
}

/* The n bytes at in (no NUL among them) percent-decoded into out. Runs
 * without '%' are copied whole: the plume CSV decodes 4,000 keys a page. */
static int pct_decode(const char *in, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const char *pct = memchr(in + i, '%', n - i);
        size_t run = pct ? (size_t)(pct - in) - i : n - i;
        if (o + run >= outlen)
            return -EINVAL;
        memcpy(out + o, in + i, run);
        o += run;
        i += run;
        if (i == n)
            break;
        char ch = '%';
        if (i + 2 < n && isxdigit((unsigned char)in[i + 1]) && isxdigit((unsigned char)in[i + 2])) {
            char hex[3] = {in[i + 1], in[i + 2], 0};
            ch = (char)strtol(hex, NULL, 16);
            i += 2;
        }
        if (ch == 0 || o + 1 >= outlen)
            return -EINVAL;
        out[o++] = ch;
    }
    out[o] = 0;
    return 0;
}

/* The asset key an href refers to: relative hrefs are relative to the asset
 * directory; absolute URLs count when they point at our asset endpoint.
 * Returns false for hrefs that name no servable asset. */
bool catalog_asset_key(const char *href, char *key, size_t keylen)
{
    static const char marker[] = "/api/v1/catalog/asset/";
    const char *p = href;
    const char *m = strstr(href, marker);
    if (m)
        p = m + strlen(marker);
    else if (strstr(href, "://") || href[0] == '/' || strncmp(href, "data:", 5) == 0)
        return false;
    while (p[0] == '.' && p[1] == '/')
        p += 2;
    size_t n = strcspn(p, "?#");
    if (n == 0 || pct_decode(p, n, key, keylen) < 0)
        return false;
    /* Keys that would leave the asset directory are never registered. */
    if (key[0] == '/' || strstr(key, "//"))
        return false;
    for (const char *s = key; *s;) {
        size_t seg = strcspn(s, "/");
        if ((seg == 2 && s[0] == '.' && s[1] == '.') || (seg == 1 && s[0] == '.'))
            return false;
        s += seg;
        if (*s == '/')
            s++;
    }
    return true;
}

static int item_time(struct importer *im, const char *file, const char *what, const cJSON *props,
                     const char *name, bool required, int64_t *out, bool *present)
{
    const cJSON *v = get(props, name);
    *present = false;
    if (!v || cJSON_IsNull(v)) {
        if (required)
            return import_fail(im, file, "%s: properties.%s is required", what, name);
        return 0;
    }
    if (!cJSON_IsString(v) || time_parse_rfc3339_wide(v->valuestring, out) < 0)
        return import_fail(im, file, "%s: properties.%s must be an RFC 3339 date-time", what, name);
    *present = true;
    return 0;
}

static int import_item(struct importer *im, const char *file, cJSON *doc, const char *where)
{
    char what[320];
    const cJSON *id = get(doc, "id");
    if (!nonempty_string(id))
        return import_fail(
            im, file, "%sitem: field \"id\" is required and must be a non-empty string", where);
    snprintf(what, sizeof(what), "%sitem \"%.200s\"", where, id->valuestring);
    if (!nonempty_string(get(doc, "stac_version")))
        return import_fail(im, file, "%s: field \"stac_version\" is required", what);
    const cJSON *coll = get(doc, "collection");
    if (!nonempty_string(coll))
        return import_fail(im, file, "%s: field \"collection\" is required (the collection id)",
                           what);

    /* Geometry and bbox. */
    const cJSON *geometry = get(doc, "geometry");
    struct catalog_geom *g = NULL;
    double box[4];
    bool has_box = false;
    char gerr[200];
    if (!geometry)
        return import_fail(im, file, "%s: field \"geometry\" is required (may be null)", what);
    if (!cJSON_IsNull(geometry)) {
        g = catalog_geom_parse(geometry, gerr, sizeof(gerr));
        if (!g)
            return import_fail(im, file, "%s: geometry: %s", what, gerr);
        catalog_geom_bbox(g, box);
        catalog_geom_free(g);
        has_box = true;
    }
    const cJSON *bbox = get(doc, "bbox");
    if (bbox) {
        double given[4];
        if (catalog_parse_bbox_json(bbox, given, gerr, sizeof(gerr)) < 0)
            return import_fail(im, file, "%s: bbox: %s", what, gerr);
        if (!has_box) {
            memcpy(box, given, sizeof(box));
            has_box = true;
        }
    } else if (has_box) {
        cJSON *arr = cJSON_CreateDoubleArray(box, 4);
        if (!arr || !cJSON_AddItemToObject(doc, "bbox", arr)) {
            cJSON_Delete(arr);
            return -ENOMEM;
        }
    }

    /* Time. */
    const cJSON *props = get(doc, "properties");
    if (!cJSON_IsObject(props))
        return import_fail(im, file, "%s: field \"properties\" is required and must be an object",
                           what);
    int64_t dt = 0, ds = 0, de = 0;
    bool has_dt, has_s, has_e;
    const cJSON *dtv = get(props, "datetime");
    if (!dtv)
        return import_fail(im, file,
                           "%s: properties.datetime is required (null when start_datetime and "
                           "end_datetime are given)",
                           what);
    int rc;
    if ((rc = item_time(im, file, what, props, "datetime", false, &dt, &has_dt)) < 0 ||
        (rc = item_time(im, file, what, props, "start_datetime", !has_dt, &ds, &has_s)) < 0 ||
        (rc = item_time(im, file, what, props, "end_datetime", !has_dt, &de, &has_e)) < 0)
        return rc;
    if (has_s != has_e)
        return import_fail(im, file, "%s: properties.start_datetime and end_datetime go together",
                           what);
    if (has_s && ds > de)
        return import_fail(im, file, "%s: properties.start_datetime is after end_datetime", what);
    if (!has_s)
        ds = de = dt;

    if ((rc = check_links(im, file, what, doc)) < 0)
        return rc;
    const cJSON *assets = get(doc, "assets");
    if (!cJSON_IsObject(assets))
        return import_fail(im, file, "%s: field \"assets\" is required and must be an object",
                           what);
    const cJSON *a;
    cJSON_ArrayForEach(a, assets)
    {
        if (!cJSON_IsObject(a) || !cJSON_IsString(get(a, "href")))
            return import_fail(im, file, "%s: assets.%.100s must be an object with a string href",
                               what, a->string);
    }

    char *text = cJSON_PrintUnformatted(doc);
    char *gtext = cJSON_IsNull(geometry) ? NULL : cJSON_PrintUnformatted(geometry);
    char *tpl = catalog_item_template(doc);
    struct strlist keys = STRLIST_INIT;
    struct catalog_prop *pv = NULL;
    size_t npv = 0;
    rc = -ENOMEM;
    if (!text || !tpl || (!gtext && !cJSON_IsNull(geometry)) ||
        catalog_props_of(props, &pv, &npv) < 0)
        goto fail;
    cJSON_ArrayForEach(a, assets)
    {
        char key[1024];
        if (catalog_asset_key(get(a, "href")->valuestring, key, sizeof(key)) && strlist_add(&keys, key) < 0)
            goto fail;
    }
    struct catalog_item_rec rec = {
        .collection = coll->valuestring,
        .id = id->valuestring,
        .doc = text,
        .geometry = gtext,
        .tpl = tpl,
        .has_box = has_box,
        .start = ds,
        .end = de,
        .asset_keys = &keys,
        .props = pv,
        .nprops = npv,
    };
    if (has_box)
        memcpy(rec.box, box, sizeof(rec.box));
    if ((rc = tx_result(im, file, im->ops->tx_put_item(im->tx, &rec))) < 0)
        goto fail;

    rc = -ENOMEM;
    if (ARRAY_RESERVE(im->refs, im->caprefs, im->nrefs + 1, 16) < 0)
        goto fail;
    struct pending_ref *ref = &im->refs[im->nrefs];
    ref->file = strdup(file);
    ref->item = strdup(what);
    ref->collection = strdup(coll->valuestring);
    im->nrefs++;
    if (!ref->file || !ref->item || !ref->collection)
        goto fail;
    im->res.items++;
    rc = 0;
fail:
    free(text);
    free(gtext);
    free(tpl);
    free(pv);
    strlist_free(&keys);
    return rc;
}

static int check_extent(struct importer *im, const char *file, const char *what, const cJSON *doc)
{
    const cJSON *extent = get(doc, "extent");
    if (!cJSON_IsObject(extent))
        return import_fail(im, file, "%s: field \"extent\" is required and must be an object",
                           what);
    const cJSON *spatial = get(extent, "spatial"), *temporal = get(extent, "temporal");
    const cJSON *bboxes = cJSON_IsObject(spatial) ? get(spatial, "bbox") : NULL;
    if (!cJSON_IsArray(bboxes) || cJSON_GetArraySize(bboxes) < 1)
        return import_fail(im, file, "%s: extent.spatial.bbox must be an array of bboxes", what);
    const cJSON *b;
    int i = 0;
    char err[200];
    cJSON_ArrayForEach(b, bboxes)
    {
        double box[4];
        if (catalog_parse_bbox_json(b, box, err, sizeof(err)) < 0)
            return import_fail(im, file, "%s: extent.spatial.bbox[%d]: %s", what, i, err);
        i++;
    }
    const cJSON *intervals = cJSON_IsObject(temporal) ? get(temporal, "interval") : NULL;
    if (!cJSON_IsArray(intervals) || cJSON_GetArraySize(intervals) < 1)
        return import_fail(im, file, "%s: extent.temporal.interval must be an array of intervals",
                           what);
    i = 0;
    cJSON_ArrayForEach(b, intervals)
    {
        const cJSON *t;
        int64_t ms;
        if (!cJSON_IsArray(b) || cJSON_GetArraySize(b) != 2)
            return import_fail(im, file, "%s: extent.temporal.interval[%d] must be [start, end]",
                               what, i);
        cJSON_ArrayForEach(t, b)
        {
            if (!cJSON_IsNull(t) &&
                (!cJSON_IsString(t) || time_parse_rfc3339_wide(t->valuestring, &ms) < 0))
                return import_fail(im, file,
                                   "%s: extent.temporal.interval[%d] must hold RFC 3339 "
                                   "date-times or null",
                                   what, i);
        }
        i++;
    }
    return 0;
}

static int import_collection(struct importer *im, const char *file, const cJSON *doc)
{
    char what[300];
    const cJSON *id = get(doc, "id");
    if (!nonempty_string(id))
        return import_fail(im, file,
                           "collection: field \"id\" is required and must be a non-empty string");
    snprintf(what, sizeof(what), "collection \"%.200s\"", id->valuestring);
    if (!nonempty_string(get(doc, "stac_version")))
        return import_fail(im, file, "%s: field \"stac_version\" is required", what);
    if (!cJSON_IsString(get(doc, "description")))
        return import_fail(im, file, "%s: field \"description\" is required and must be a string",
                           what);
    if (!nonempty_string(get(doc, "license")))
        return import_fail(im, file, "%s: field \"license\" is required and must be a string",
                           what);
    int rc;
    if ((rc = check_extent(im, file, what, doc)) < 0 || (rc = check_links(im, file, what, doc)) < 0)
        return rc;
    char *text = cJSON_PrintUnformatted(doc);
    if (!text)
        return -ENOMEM;
    rc = tx_result(im, file, im->ops->tx_put_collection(im->tx, id->valuestring, text));
    free(text);
    if (rc < 0)
        return rc;
    im->res.collections++;
    return 0;
}

static int import_doc(struct importer *im, const char *file, cJSON *doc)
{
    if (!cJSON_IsObject(doc))
        return import_fail(im, file, "not a JSON object");
    const cJSON *type = get(doc, "type");
    if (!cJSON_IsString(type))
        return import_fail(im, file,
                           "field \"type\" is required (Collection, Feature or FeatureCollection)");
    const char *t = type->valuestring;
    if (strcmp(t, "Collection") == 0)
        return import_collection(im, file, doc);
    if (strcmp(t, "Feature") == 0)
        return import_item(im, file, doc, "");
    if (strcmp(t, "FeatureCollection") == 0) {
        cJSON *features = cJSON_GetObjectItemCaseSensitive(doc, "features");
        if (!cJSON_IsArray(features))
            return import_fail(im, file, "field \"features\" is required and must be an array");
        int i = 0;
        cJSON *f;
        cJSON_ArrayForEach(f, features)
        {
            char where[40];
            snprintf(where, sizeof(where), "features[%d]: ", i++);
            if (!cJSON_IsObject(f) || !cJSON_IsString(get(f, "type")) ||
                strcmp(get(f, "type")->valuestring, "Feature") != 0)
                return import_fail(im, file, "%sfield \"type\" must be \"Feature\"", where);
            int rc = import_item(im, file, f, where);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    if (strcmp(t, "Catalog") == 0) {
        im->res.skipped++;
        return 0;
    }
    return import_fail(im, file,
                       "field \"type\" is \"%.40s\"; expected Collection, Feature or "
                       "FeatureCollection",
                       t);
}

static int import_file(struct importer *im, const char *file)
{
    FILE *f = fopen(file, "rb");
    char *buf = NULL;
    cJSON *doc = NULL;
    int rc;
    if (!f) {
        rc = -errno;
        snprintf(im->err, im->errlen, "%s: %s", file, strerror(errno));
        return rc;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size > MAX_FILE_BYTES) {
        rc = import_fail(im, file, "not a regular file of at most %u bytes", MAX_FILE_BYTES);
        goto done;
    }
    buf = malloc((size_t)sb.st_size + 1);
    if (!buf) {
        rc = -ENOMEM;
        goto done;
    }
    size_t n = fread(buf, 1, (size_t)sb.st_size, f);
    buf[n] = 0;
    const char *end = NULL;
    doc = cJSON_ParseWithLengthOpts(buf, n, &end, false);
    if (!doc) {
        rc = import_fail(im, file, "not valid JSON (error near byte %zu)",
                         end ? (size_t)(end - buf) : (size_t)0);
        goto done;
    }
    im->res.files++;
    rc = import_doc(im, file, doc);
    if (rc == 0 && im->progress)
        im->progress->fn(im->progress->ctx, &im->res, false);
done:
    cJSON_Delete(doc);
    free(buf);
    fclose(f);
    return rc;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool json_name(const char *name)
{
    size_t n = strlen(name);
    return (n > 5 && strcmp(name + n - 5, ".json") == 0) ||
           (n > 8 && strcmp(name + n - 8, ".geojson") == 0);
}

static int import_tree(struct importer *im, const char *path, int depth)
{
    struct stat sb;
    if (stat(path, &sb) < 0) {
        int rc = -errno;
        snprintf(im->err, im->errlen, "%s: %s", path, strerror(errno));
        return rc;
    }
    if (!S_ISDIR(sb.st_mode))
        return import_file(im, path);
    if (depth > MAX_DIR_DEPTH)
        return import_fail(im, path, "directories nested too deeply");
    DIR *dir = opendir(path);
    if (!dir) {
        int rc = -errno;
        snprintf(im->err, im->errlen, "%s: %s", path, strerror(errno));
        return rc;
    }
    struct strlist names = STRLIST_INIT;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(dir))) {
        if (de->d_name[0] == '.')
            continue;
        if ((rc = strlist_push(&names, de->d_name)) < 0)
            break;
    }
    closedir(dir);
    if (names.n)
        qsort(names.v, names.n, sizeof(char *), name_cmp);
    for (size_t i = 0; rc == 0 && i < names.n; i++) {
        char child[PATH_MAX];
        int n = snprintf(child, sizeof(child), "%s/%s", path, names.v[i]);
        if (n < 0 || (size_t)n >= sizeof(child)) {
            rc = import_fail(im, path, "path too long");
            break;
        }
        struct stat cs;
        if (stat(child, &cs) < 0)
            continue; /* dangling symlink */
        if (S_ISDIR(cs.st_mode))
            rc = import_tree(im, child, depth + 1);
        else if (S_ISREG(cs.st_mode) && json_name(names.v[i]))
            rc = import_file(im, child);
    }
    strlist_free(&names);
    return rc;
}

/* The groups that will see the imported documents: the given ones, or
 * Public; deduplicated and sorted, so that equal sets are stored alike. */
static int resolve_visibility(struct importer *im, const struct strlist *visibility,
                              struct strlist *groups)
{
    int rc = 0;
    if (!visibility || visibility->n == 0)
        return strlist_add(groups, CATALOG_PUBLIC_GROUP);
    for (size_t i = 0; rc == 0 && i < visibility->n; i++) {
        size_t len = strlen(visibility->v[i]);
        if (len == 0 || len > MAX_GROUP_NAME)
            return import_fail(im, "--visibility", "group names must have 1 to %d characters",
                               MAX_GROUP_NAME);
        rc = strlist_add(groups, visibility->v[i]);
    }
    strlist_sort(groups);
    return rc;
}

static int check_refs(struct importer *im)
{
    for (size_t i = 0; i < im->nrefs; i++) {
        struct pending_ref *r = &im->refs[i];
        int rc = im->ops->tx_has_collection(im->tx, r->collection);
        if (rc == -ENOENT)
            return import_fail(im, r->file,
                               "%s: field \"collection\" names \"%.200s\", which is neither in "
                               "this import nor in the catalog",
                               r->item, r->collection);
        if (rc < 0)
            return tx_result(im, r->file, rc);
    }
    return 0;
}

int catalog_import_path_ex(struct catalog *cat, const char *path, const struct strlist *visibility,
                           const struct catalog_import_progress *progress,
                           struct catalog_import_result *res, char *err, size_t errlen)
{
    struct importer im = {.err = err, .errlen = errlen, .progress = progress};
    struct strlist groups = STRLIST_INIT;
    char *visibility_json = NULL;
    int rc;
    if (errlen)
        err[0] = 0;
    if (res)
        memset(res, 0, sizeof(*res));
    if (!cat || !path) {
        snprintf(err, errlen, "no catalog");
        return -EINVAL;
    }
    im.ops = cat->ops;
    if ((rc = resolve_visibility(&im, visibility, &groups)) < 0)
        goto fail;
    cJSON *arr = cJSON_CreateStringArray((const char *const *)groups.v, (int)groups.n);
    visibility_json = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    rc = -ENOMEM;
    if (!visibility_json)
        goto fail;
    if ((rc = im.ops->tx_begin(cat, &groups, visibility_json, time_now_ms(), &im.tx, err, errlen)) <
        0)
        goto fail;
    if ((rc = import_tree(&im, path, 0)) < 0 || (rc = check_refs(&im)) < 0)
        goto fail;
    if (im.progress)
        im.progress->fn(im.progress->ctx, &im.res, true);
    if ((rc = im.ops->tx_commit(im.tx)) < 0) {
        rc = tx_result(&im, path, rc);
        goto fail;
    }
    im.tx = NULL;
    if (res)
        *res = im.res;
fail:
    if (rc == -ENOMEM && errlen && !err[0])
        snprintf(err, errlen, "out of memory");
    if (im.tx)
        im.ops->tx_rollback(im.tx);
    for (size_t i = 0; i < im.nrefs; i++) {
        free(im.refs[i].file);
        free(im.refs[i].item);
        free(im.refs[i].collection);
    }
    free(im.refs);
    free(visibility_json);
    strlist_free(&groups);
    return rc;
}

int catalog_import_path(struct catalog *cat, const char *path, const struct strlist *visibility,
                        char *err, size_t errlen)
{
    return catalog_import_path_ex(cat, path, visibility, NULL, NULL, err, errlen);
}
