/* The STAC catalog store: SQLite file data_dir/catalog.db (WAL) with the
 * documents, their visibility as a bit mask over a small group table, an
 * R*Tree on item bounding boxes, and the asset keys each item references.
 * Reads take a connection (with its prepared statements) from a mutex-guarded
 * pool, so any number of threads may search at once; imports use their own
 * connection and one IMMEDIATE transaction. */
#include "catalog/catalog.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/log.h"
#include "util/timeutil.h"
#include "store/walwatch.h"

#define SCHEMA_VERSION 2
#define MAX_IDLE_CONNS 32
#define MAX_FILE_BYTES (64u << 20)
#define MAX_DIR_DEPTH 16
#define MAX_GEOM_DEPTH 8
#define MAX_GROUP_BITS 62 /* bits 0..62 keep sums of masks within int64 */
#define DAY_MS 86400000LL

/* ------------------------------------------------------------------------ */
/* Geometry                                                                  */
/* ------------------------------------------------------------------------ */

enum part_kind { PART_POINT, PART_LINE, PART_POLY };

struct geom_ring {
    size_t n;
    double *xy; /* x0, y0, x1, y1, ... */
};

struct geom_part {
    enum part_kind kind;
    size_t nrings; /* point/line: 1; polygon: outer ring then holes */
    struct geom_ring *rings;
    double bbox[4];
};

struct catalog_geom {
    size_t nparts, cap;
    struct geom_part *parts;
    double bbox[4];
};

static void bbox_empty(double b[4])
{
    b[0] = b[1] = INFINITY;
    b[2] = b[3] = -INFINITY;
}

static void bbox_add(double b[4], double x, double y)
{
    if (x < b[0])
        b[0] = x;
    if (y < b[1])
        b[1] = y;
    if (x > b[2])
        b[2] = x;
    if (y > b[3])
        b[3] = y;
}

static bool bbox_overlap(const double a[4], const double b[4])
{
    return a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3];
}

void catalog_geom_free(struct catalog_geom *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->nparts; i++) {
        for (size_t j = 0; j < g->parts[i].nrings; j++)
            free(g->parts[i].rings[j].xy);
        free(g->parts[i].rings);
    }
    free(g->parts);
    free(g);
}

void catalog_geom_bbox(const struct catalog_geom *g, double bbox[4])
{
    memcpy(bbox, g->bbox, sizeof(g->bbox));
}

static int parse_position(const cJSON *p, double *x, double *y, char *err, size_t errlen)
{
    int n = cJSON_IsArray(p) ? cJSON_GetArraySize(p) : 0;
    if (n < 2 || n > 4) {
        snprintf(err, errlen, "a position must be an array of 2 or 3 numbers");
        return -EINVAL;
    }
    int i = 0;
    double v[2] = {0, 0};
    const cJSON *c;
    cJSON_ArrayForEach(c, p)
    {
        if (!cJSON_IsNumber(c) || !isfinite(c->valuedouble)) {
            snprintf(err, errlen, "a position must contain only numbers");
            return -EINVAL;
        }
        if (i < 2)
            v[i] = c->valuedouble;
        i++;
    }
    if (v[0] < -180 || v[0] > 180 || v[1] < -90 || v[1] > 90) {
        snprintf(err, errlen, "position [%g, %g] is outside longitude -180..180 / latitude -90..90",
                 v[0], v[1]);
        return -EINVAL;
    }
    *x = v[0];
    *y = v[1];
    return 0;
}

static int parse_ring(const cJSON *arr, size_t min, bool closed, struct geom_ring *ring,
                      double bbox[4], char *err, size_t errlen)
{
    if (!cJSON_IsArray(arr)) {
        snprintf(err, errlen, "coordinates must be an array of positions");
        return -EINVAL;
    }
    size_t n = (size_t)cJSON_GetArraySize(arr);
    if (n < min) {
        snprintf(err, errlen, "%s needs at least %zu positions", closed ? "a polygon ring" : "a line",
                 min);
        return -EINVAL;
    }
    ring->xy = malloc(2 * n * sizeof(double));
    if (!ring->xy)
        return -ENOMEM;
    ring->n = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, arr)
    {
        double x, y;
        if (parse_position(p, &x, &y, err, errlen) < 0)
            return -EINVAL;
        ring->xy[2 * ring->n] = x;
        ring->xy[2 * ring->n + 1] = y;
        ring->n++;
        bbox_add(bbox, x, y);
    }
    if (closed && (ring->xy[0] != ring->xy[2 * (n - 1)] || ring->xy[1] != ring->xy[2 * n - 1])) {
        snprintf(err, errlen, "a polygon ring must be closed (first position = last position)");
        return -EINVAL;
    }
    return 0;
}

static struct geom_part *geom_new_part(struct catalog_geom *g, enum part_kind kind, size_t nrings)
{
    if (g->nparts == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 4;
        struct geom_part *v = realloc(g->parts, cap * sizeof(*v));
        if (!v)
            return NULL;
        g->parts = v;
        g->cap = cap;
    }
    struct geom_part *part = &g->parts[g->nparts];
    part->rings = calloc(nrings ? nrings : 1, sizeof(*part->rings));
    if (!part->rings)
        return NULL;
    part->kind = kind;
    part->nrings = nrings;
    bbox_empty(part->bbox);
    g->nparts++;
    return part;
}

static int parse_polygon(struct catalog_geom *g, const cJSON *rings, char *err, size_t errlen)
{
    int n = cJSON_IsArray(rings) ? cJSON_GetArraySize(rings) : 0;
    if (n < 1) {
        snprintf(err, errlen, "a polygon needs an array of at least one ring");
        return -EINVAL;
    }
    struct geom_part *part = geom_new_part(g, PART_POLY, (size_t)n);
    if (!part)
        return -ENOMEM;
    size_t i = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, rings)
    {
        int rc = parse_ring(r, 4, true, &part->rings[i++], part->bbox, err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int parse_line(struct catalog_geom *g, const cJSON *coords, char *err, size_t errlen)
{
    struct geom_part *part = geom_new_part(g, PART_LINE, 1);
    if (!part)
        return -ENOMEM;
    return parse_ring(coords, 2, false, &part->rings[0], part->bbox, err, errlen);
}

static int parse_point(struct catalog_geom *g, const cJSON *coords, char *err, size_t errlen)
{
    struct geom_part *part = geom_new_part(g, PART_POINT, 1);
    if (!part)
        return -ENOMEM;
    part->rings[0].xy = malloc(2 * sizeof(double));
    if (!part->rings[0].xy)
        return -ENOMEM;
    part->rings[0].n = 1;
    int rc = parse_position(coords, &part->rings[0].xy[0], &part->rings[0].xy[1], err, errlen);
    if (rc == 0)
        bbox_add(part->bbox, part->rings[0].xy[0], part->rings[0].xy[1]);
    return rc;
}

static int geom_parse_into(struct catalog_geom *g, const cJSON *obj, int depth, char *err,
                           size_t errlen)
{
    if (!cJSON_IsObject(obj)) {
        snprintf(err, errlen, "a geometry must be a GeoJSON object");
        return -EINVAL;
    }
    if (depth > MAX_GEOM_DEPTH) {
        snprintf(err, errlen, "geometry collections are nested too deeply");
        return -EINVAL;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(obj, "type");
    if (!cJSON_IsString(type)) {
        snprintf(err, errlen, "a geometry needs a string \"type\"");
        return -EINVAL;
    }
    const char *t = type->valuestring;
    if (strcmp(t, "GeometryCollection") == 0) {
        const cJSON *geoms = cJSON_GetObjectItemCaseSensitive(obj, "geometries");
        if (!cJSON_IsArray(geoms)) {
            snprintf(err, errlen, "a GeometryCollection needs a \"geometries\" array");
            return -EINVAL;
        }
        const cJSON *c;
        cJSON_ArrayForEach(c, geoms)
        {
            int rc = geom_parse_into(g, c, depth + 1, err, errlen);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    const cJSON *coords = cJSON_GetObjectItemCaseSensitive(obj, "coordinates");
    if (!cJSON_IsArray(coords)) {
        snprintf(err, errlen, "a %.40s geometry needs a \"coordinates\" array", t);
        return -EINVAL;
    }
    const cJSON *c;
    int rc = 0;
    if (strcmp(t, "Point") == 0)
        return parse_point(g, coords, err, errlen);
    if (strcmp(t, "LineString") == 0)
        return parse_line(g, coords, err, errlen);
    if (strcmp(t, "Polygon") == 0)
        return parse_polygon(g, coords, err, errlen);
    if (strcmp(t, "MultiPoint") == 0) {
        cJSON_ArrayForEach(c, coords) if ((rc = parse_point(g, c, err, errlen)) < 0) return rc;
        return 0;
    }
    if (strcmp(t, "MultiLineString") == 0) {
        cJSON_ArrayForEach(c, coords) if ((rc = parse_line(g, c, err, errlen)) < 0) return rc;
        return 0;
    }
    if (strcmp(t, "MultiPolygon") == 0) {
        cJSON_ArrayForEach(c, coords) if ((rc = parse_polygon(g, c, err, errlen)) < 0) return rc;
        return 0;
    }
    snprintf(err, errlen, "unsupported geometry type \"%.40s\"", t);
    return -EINVAL;
}

struct catalog_geom *catalog_geom_parse(const cJSON *geometry, char *err, size_t errlen)
{
    struct catalog_geom *g = calloc(1, sizeof(*g));
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int rc = geom_parse_into(g, geometry, 0, err, errlen);
    if (rc == -ENOMEM)
        snprintf(err, errlen, "out of memory");
    if (rc < 0)
        goto fail;
    bbox_empty(g->bbox);
    for (size_t i = 0; i < g->nparts; i++) {
        bbox_add(g->bbox, g->parts[i].bbox[0], g->parts[i].bbox[1]);
        bbox_add(g->bbox, g->parts[i].bbox[2], g->parts[i].bbox[3]);
    }
    if (g->nparts == 0) {
        snprintf(err, errlen, "the geometry has no coordinates");
        goto fail;
    }
    return g;
fail:
    catalog_geom_free(g);
    return NULL;
}

static int orient(const double *a, const double *b, const double *c)
{
    double v = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
    return (v > 0) - (v < 0);
}

/* q lies within the box spanned by p and r (used when the three are collinear). */
static bool within(const double *p, const double *q, const double *r)
{
    return q[0] <= fmax(p[0], r[0]) && q[0] >= fmin(p[0], r[0]) && q[1] <= fmax(p[1], r[1]) &&
           q[1] >= fmin(p[1], r[1]);
}

/* Closed segments ab and cd share a point; degenerate segments (points) work. */
static bool seg_intersect(const double *a, const double *b, const double *c, const double *d)
{
    int o1 = orient(a, b, c), o2 = orient(a, b, d), o3 = orient(c, d, a), o4 = orient(c, d, b);
    if (o1 * o2 < 0 && o3 * o4 < 0)
        return true;
    if (o1 == 0 && within(a, c, b))
        return true;
    if (o2 == 0 && within(a, d, b))
        return true;
    if (o3 == 0 && within(c, a, d))
        return true;
    if (o4 == 0 && within(c, b, d))
        return true;
    return false;
}

/* Even-odd rule; points exactly on the boundary are handled by the edge tests. */
static bool point_in_ring(const double *p, const struct geom_ring *r)
{
    bool in = false;
    for (size_t i = 0, j = r->n - 1; i < r->n; j = i++) {
        const double *a = &r->xy[2 * i], *b = &r->xy[2 * j];
        if ((a[1] > p[1]) != (b[1] > p[1]) &&
            p[0] < (b[0] - a[0]) * (p[1] - a[1]) / (b[1] - a[1]) + a[0])
            in = !in;
    }
    return in;
}

static bool point_in_poly(const double *p, const struct geom_part *poly)
{
    if (!point_in_ring(p, &poly->rings[0]))
        return false;
    for (size_t i = 1; i < poly->nrings; i++)
        if (point_in_ring(p, &poly->rings[i]))
            return false;
    return true;
}

static bool edges_intersect(const struct geom_part *a, const struct geom_part *b)
{
    for (size_t ra = 0; ra < a->nrings; ra++) {
        const struct geom_ring *x = &a->rings[ra];
        size_t nx = x->n > 1 ? x->n - 1 : 1;
        for (size_t i = 0; i < nx; i++) {
            const double *p1 = &x->xy[2 * i], *p2 = x->n > 1 ? &x->xy[2 * i + 2] : p1;
            for (size_t rb = 0; rb < b->nrings; rb++) {
                const struct geom_ring *y = &b->rings[rb];
                size_t ny = y->n > 1 ? y->n - 1 : 1;
                for (size_t j = 0; j < ny; j++) {
                    const double *q1 = &y->xy[2 * j], *q2 = y->n > 1 ? &y->xy[2 * j + 2] : q1;
                    if (seg_intersect(p1, p2, q1, q2))
                        return true;
                }
            }
        }
    }
    return false;
}

static bool part_intersects(const struct geom_part *a, const struct geom_part *b)
{
    if (!bbox_overlap(a->bbox, b->bbox))
        return false;
    if (edges_intersect(a, b))
        return true;
    /* No boundaries touch: one can only lie wholly inside the other. */
    if (b->kind == PART_POLY && point_in_poly(a->rings[0].xy, b))
        return true;
    if (a->kind == PART_POLY && point_in_poly(b->rings[0].xy, a))
        return true;
    return false;
}

bool catalog_geom_intersects(const struct catalog_geom *a, const struct catalog_geom *b)
{
    if (!bbox_overlap(a->bbox, b->bbox))
        return false;
    for (size_t i = 0; i < a->nparts; i++)
        for (size_t j = 0; j < b->nparts; j++)
            if (part_intersects(&a->parts[i], &b->parts[j]))
                return true;
    return false;
}

/* ------------------------------------------------------------------------ */
/* Query parameter parsing                                                  */
/* ------------------------------------------------------------------------ */

static int bbox_check(const double *v, int n, double bbox[4], char *err, size_t errlen)
{
    double minx = v[0], miny = v[1], maxx = v[n == 6 ? 3 : 2], maxy = v[n == 6 ? 4 : 3];
    for (int i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            snprintf(err, errlen, "bbox values must be finite numbers");
            return -EINVAL;
        }
    }
    if (minx < -180 || minx > 180 || maxx < -180 || maxx > 180) {
        snprintf(err, errlen, "bbox longitudes must be between -180 and 180");
        return -EINVAL;
    }
    if (miny < -90 || miny > 90 || maxy < -90 || maxy > 90) {
        snprintf(err, errlen, "bbox latitudes must be between -90 and 90");
        return -EINVAL;
    }
    if (miny > maxy) {
        snprintf(err, errlen, "bbox minimum latitude is greater than its maximum");
        return -EINVAL;
    }
    if (n == 6 && v[2] > v[5]) {
        snprintf(err, errlen, "bbox minimum elevation is greater than its maximum");
        return -EINVAL;
    }
    bbox[0] = minx;
    bbox[1] = miny;
    bbox[2] = maxx;
    bbox[3] = maxy;
    return 0;
}

int catalog_parse_bbox_text(const char *text, double bbox[4], char *err, size_t errlen)
{
    double v[6];
    int n = 0;
    const char *p = text;
    if (!text || !*text)
        goto bad;
    for (;;) {
        char *end;
        while (*p == ' ')
            p++;
        if (n == 6 || !*p || *p == ',')
            goto bad;
        errno = 0;
        v[n] = strtod(p, &end);
        if (end == p || errno == ERANGE)
            goto bad;
        n++;
        p = end;
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        if (*p != ',')
            goto bad;
        p++;
    }
    if (n != 4 && n != 6)
        goto bad;
    return bbox_check(v, n, bbox, err, errlen);
bad:
    snprintf(err, errlen, "bbox must be 4 or 6 comma-separated numbers: minx,miny,maxx,maxy");
    return -EINVAL;
}

int catalog_parse_bbox_json(const cJSON *arr, double bbox[4], char *err, size_t errlen)
{
    double v[6];
    int n = 0;
    const cJSON *c;
    if (!cJSON_IsArray(arr))
        goto bad;
    cJSON_ArrayForEach(c, arr)
    {
        if (n == 6 || !cJSON_IsNumber(c))
            goto bad;
        v[n++] = c->valuedouble;
    }
    if (n != 4 && n != 6)
        goto bad;
    return bbox_check(v, n, bbox, err, errlen);
bad:
    snprintf(err, errlen, "bbox must be an array of 4 or 6 numbers: [minx, miny, maxx, maxy]");
    return -EINVAL;
}

static bool is_date_only(const char *s)
{
    return strlen(s) == 10 && s[4] == '-' && s[7] == '-';
}

/* One end of a datetime parameter; a '+' of a zone offset that arrived as a
 * space (form-encoding of an unescaped '+') is restored. */
static int parse_instant(const char *s, bool end_of_day, int64_t *out)
{
    char buf[64];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, s, n + 1);
    for (size_t i = 11; i < n; i++)
        if (buf[i] == ' ')
            buf[i] = '+';
    if (is_date_only(buf)) {
        if (time_parse_date(buf, out) < 0)
            return -EINVAL;
        if (end_of_day)
            *out += DAY_MS - 1;
        return 0;
    }
    return time_parse_rfc3339(buf, out);
}

int catalog_parse_datetime(const char *text, bool *has_start, int64_t *start, bool *has_end,
                           int64_t *end, char *err, size_t errlen)
{
    *has_start = *has_end = false;
    *start = *end = 0;
    if (!text || !*text || strlen(text) > 128)
        goto bad;
    const char *slash = strchr(text, '/');
    if (!slash) {
        if (strcmp(text, "..") == 0)
            goto bad;
        if (parse_instant(text, false, start) < 0)
            goto bad;
        *end = *start;
        if (is_date_only(text))
            *end = *start + DAY_MS - 1;
        *has_start = *has_end = true;
        return 0;
    }
    if (strchr(slash + 1, '/'))
        goto bad;
    char a[130];
    size_t alen = (size_t)(slash - text);
    memcpy(a, text, alen);
    a[alen] = 0;
    const char *b = slash + 1;
    if (*a && strcmp(a, "..") != 0) {
        if (parse_instant(a, false, start) < 0)
            goto bad;
        *has_start = true;
    }
    if (*b && strcmp(b, "..") != 0) {
        if (parse_instant(b, true, end) < 0)
            goto bad;
        *has_end = true;
    }
    if (*has_start && *has_end && *start > *end) {
        snprintf(err, errlen, "datetime interval starts after it ends");
        return -EINVAL;
    }
    return 0;
bad:
    snprintf(err, errlen,
             "datetime must be an RFC 3339 date-time (2023-05-01T12:00:00Z) or an interval "
             "start/end where either end may be '..' (open)");
    return -EINVAL;
}

/* ------------------------------------------------------------------------ */
/* Connections                                                               */
/* ------------------------------------------------------------------------ */

enum stmt_id { ST_GROUP_BIT, ST_COLLECTIONS, ST_COLLECTION, ST_ITEM, ST_ITEM_TPL, ST_ASSET, ST_COUNT };

static const char *const stmt_sql[ST_COUNT] = {
    [ST_GROUP_BIT] = "SELECT bit FROM vgroups WHERE name = ?1",
    [ST_COLLECTIONS] = "SELECT doc FROM collections WHERE (vis & ?1) != 0 ORDER BY id",
    [ST_COLLECTION] = "SELECT doc FROM collections WHERE id = ?2 AND (vis & ?1) != 0",
    [ST_ITEM] = "SELECT i.doc FROM items i JOIN collections c ON c.id = i.collection "
                "WHERE i.collection = ?2 AND i.id = ?3 AND (i.vis & ?1) != 0 AND (c.vis & ?1) != 0",
    [ST_ITEM_TPL] = "SELECT i.doc, i.tpl, i.collection, i.id FROM items i JOIN collections c"
                    " ON c.id = i.collection WHERE i.collection = ?2 AND i.id = ?3"
                    " AND (i.vis & ?1) != 0 AND (c.vis & ?1) != 0",
    [ST_ASSET] = "SELECT 1 FROM assets a JOIN items i ON i.rowid = a.item "
                 "JOIN collections c ON c.id = i.collection "
                 "WHERE a.key = ?2 AND (i.vis & ?1) != 0 AND (c.vis & ?1) != 0 LIMIT 1",
};

enum search_bits {
    SB_BBOX = 1,
    SB_START = 2,
    SB_END = 4,
    SB_IDS = 8,
    SB_COLLS = 16,
    SB_GEOM = 32,
    SB_SHAPES = 64,
};

struct conn {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    sqlite3_stmt *search[2][SB_SHAPES]; /* [0] = count, [1] = page */
    struct conn *next;
};

struct catalog {
    char path[PATH_MAX];
    pthread_mutex_t mu;
    struct conn *idle;
    unsigned nidle;
    struct walwatch *wal;     /* catalog_generation's probe */
    pthread_mutex_t gen_mu;   /* guards gen and gen_hdr */
    uint64_t gen;
    uint32_t gen_hdr[WALWATCH_WORDS];
};

/* SQL function tessera_intersects(geometry_json, geom_pointer): the exact test
 * after the R*Tree prefilter. */
static void sql_intersects(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const struct catalog_geom *q = sqlite3_value_pointer(argv[1], "tessera_geom");
    const char *text = (const char *)sqlite3_value_text(argv[0]);
    if (!q || !text) {
        sqlite3_result_int(ctx, 0);
        return;
    }
    cJSON *json = cJSON_Parse(text);
    char err[128];
    struct catalog_geom *g = json ? catalog_geom_parse(json, err, sizeof(err)) : NULL;
    sqlite3_result_int(ctx, g && catalog_geom_intersects(g, q));
    catalog_geom_free(g);
    cJSON_Delete(json);
}

static sqlite3 *db_open(const char *path, bool create)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        log_error("catalog: cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 10000);
    sqlite3_exec(db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
    sqlite3_create_function(db, "tessera_intersects", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                            sql_intersects, NULL, NULL);
    return db;
}

static void conn_free(struct conn *c)
{
    if (!c)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < SB_SHAPES; i++)
            sqlite3_finalize(c->search[k][i]);
    sqlite3_close(c->db);
    free(c);
}

static struct conn *conn_get(struct catalog *cat)
{
    pthread_mutex_lock(&cat->mu);
    struct conn *c = cat->idle;
    if (c) {
        cat->idle = c->next;
        cat->nidle--;
    }
    pthread_mutex_unlock(&cat->mu);
    if (c)
        return c;
    c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->db = db_open(cat->path, false);
    if (!c->db) {
        free(c);
        return NULL;
    }
    sqlite3_exec(c->db, "PRAGMA query_only=1", NULL, NULL, NULL);
    return c;
}

static void conn_put(struct catalog *cat, struct conn *c)
{
    pthread_mutex_lock(&cat->mu);
    if (cat->nidle < MAX_IDLE_CONNS) {
        c->next = cat->idle;
        cat->idle = c;
        cat->nidle++;
        c = NULL;
    }
    pthread_mutex_unlock(&cat->mu);
    conn_free(c);
}

static sqlite3_stmt *conn_stmt(struct conn *c, enum stmt_id id)
{
    if (!c->st[id] && sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                         &c->st[id], NULL) != SQLITE_OK) {
        log_error("catalog: prepare failed: %s", sqlite3_errmsg(c->db));
        return NULL;
    }
    return c->st[id];
}

static const char *const schema_v1 =
    "CREATE TABLE vgroups(name TEXT PRIMARY KEY, bit INTEGER NOT NULL UNIQUE);"
    "INSERT INTO vgroups(name, bit) VALUES('Public', 0);"
    "CREATE TABLE collections(id TEXT PRIMARY KEY, doc TEXT NOT NULL,"
    "  visibility TEXT NOT NULL, vis INTEGER NOT NULL, imported INTEGER NOT NULL);"
    "CREATE TABLE items(rowid INTEGER PRIMARY KEY, id TEXT NOT NULL, collection TEXT NOT NULL,"
    "  doc TEXT NOT NULL, geometry TEXT, datetime_start INTEGER NOT NULL,"
    "  datetime_end INTEGER NOT NULL, visibility TEXT NOT NULL, vis INTEGER NOT NULL,"
    "  imported INTEGER NOT NULL, UNIQUE(collection, id));"
    "CREATE INDEX items_id ON items(id);"
    "CREATE INDEX items_order ON items(datetime_start DESC, collection, id);"
    "CREATE VIRTUAL TABLE item_bbox USING rtree(id, minx, maxx, miny, maxy);"
    "CREATE TABLE assets(key TEXT NOT NULL, item INTEGER NOT NULL, PRIMARY KEY(key, item))"
    "  WITHOUT ROWID;"
    "CREATE INDEX assets_item ON assets(item);";

static bool nav_rel(const char *rel)
{
    static const char *const nav[] = {"self", "root", "parent", "collection", "items", "item",
                                      "child"};
    for (size_t i = 0; i < sizeof(nav) / sizeof(nav[0]); i++)
        if (strcmp(rel, nav[i]) == 0)
            return true;
    return false;
}

static char *pct_encode_key(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(3 * strlen(s) + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-._~/%?#=&", *p)) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = 0;
    return out;
}

/* The item template (see catalog.h), built once at import so that serving an
 * item never parses or prints JSON. NULL when out of memory. */
static char *item_template(const cJSON *doc)
{
    char *head = NULL, *ltext = NULL, *tpl = NULL;
    cJSON *copy = cJSON_Duplicate(doc, true);
    if (!copy)
        return NULL;
    cJSON *links = cJSON_DetachItemFromObjectCaseSensitive(copy, "links");
    if (!cJSON_IsArray(links)) {
        cJSON_Delete(links);
        links = cJSON_CreateArray();
    }
    for (cJSON *l = links ? links->child : NULL, *next; l; l = next) {
        next = l->next;
        const cJSON *rel = cJSON_GetObjectItemCaseSensitive(l, "rel");
        if (!cJSON_IsString(rel) || nav_rel(rel->valuestring))
            cJSON_Delete(cJSON_DetachItemViaPointer(links, l));
    }
    cJSON *a, *assets = cJSON_GetObjectItemCaseSensitive(copy, "assets");
    cJSON_ArrayForEach(a, assets)
    {
        cJSON *h = cJSON_GetObjectItemCaseSensitive(a, "href");
        if (!cJSON_IsString(h))
            continue;
        const char *key = h->valuestring;
        if (strstr(key, "://") || key[0] == '/' || strncmp(key, "data:", 5) == 0)
            continue;
        while (key[0] == '.' && key[1] == '/')
            key += 2;
        char *ekey = pct_encode_key(key);
        char *v = ekey ? malloc(strlen(ekey) + 32) : NULL;
        if (v) {
            sprintf(v, "\x1etessera-asset\x1e%s", ekey);
            cJSON_SetValuestring(h, v);
        }
        free(v);
        free(ekey);
    }
    head = cJSON_PrintUnformatted(copy);
    ltext = links ? cJSON_PrintUnformatted(links) : NULL;
    if (!head || !ltext)
        goto out;
    size_t hn = strlen(head), ln = strlen(ltext);
    tpl = malloc(hn + ln + 16);
    if (!tpl)
        goto out;
    /* head = "{...}", ltext = "[...]": "{...,"links":[..." */
    memcpy(tpl, head, hn - 1);
    size_t n = hn - 1;
    if (hn > 2)
        tpl[n++] = ',';
    memcpy(tpl + n, "\"links\":", 8);
    n += 8;
    memcpy(tpl + n, ltext, ln - 1);
    n += ln - 1;
    tpl[n] = 0;
out:
    free(head);
    free(ltext);
    cJSON_Delete(links);
    cJSON_Delete(copy);
    return tpl;
}

/* Version 2 adds item templates; existing items get theirs here. */
static int migrate_v2(sqlite3 *db)
{
    sqlite3_stmt *sel = NULL, *upd = NULL;
    int rc = -EIO;
    if (sqlite3_exec(db, "ALTER TABLE items ADD COLUMN tpl TEXT NOT NULL DEFAULT ''", NULL, NULL,
                     NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT rowid, doc FROM items", -1, &sel, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "UPDATE items SET tpl = ?2 WHERE rowid = ?1", -1, &upd, NULL) !=
            SQLITE_OK)
        goto out;
    int st;
    while ((st = sqlite3_step(sel)) == SQLITE_ROW) {
        cJSON *doc = cJSON_Parse((const char *)sqlite3_column_text(sel, 1));
        char *tpl = doc ? item_template(doc) : NULL;
        cJSON_Delete(doc);
        if (!tpl)
            goto out;
        sqlite3_bind_int64(upd, 1, sqlite3_column_int64(sel, 0));
        sqlite3_bind_text(upd, 2, tpl, -1, free);
        st = sqlite3_step(upd);
        sqlite3_reset(upd);
        if (st != SQLITE_DONE)
            goto out;
    }
    if (st == SQLITE_DONE &&
        sqlite3_exec(db, "INSERT INTO schema_version VALUES(2)", NULL, NULL, NULL) == SQLITE_OK)
        rc = 0;
out:
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    return rc;
}

static int migrate(sqlite3 *db)
{
    int version = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE;"
                         "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL);",
                     NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_prepare_v2(db, "SELECT max(version) FROM schema_version", -1, &st, NULL) !=
        SQLITE_OK)
        goto fail;
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (version > SCHEMA_VERSION) {
        log_error("catalog: catalog.db has schema version %d, newer than this binary (%d)",
                  version, SCHEMA_VERSION);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -EPROTO;
    }
    if (version < 1 && (sqlite3_exec(db, schema_v1, NULL, NULL, NULL) != SQLITE_OK ||
                        sqlite3_exec(db, "INSERT INTO schema_version VALUES(1)", NULL, NULL,
                                     NULL) != SQLITE_OK))
        goto fail;
    if (version < 2 && migrate_v2(db) < 0)
        goto fail;
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    return 0;
fail:
    log_error("catalog: migration failed: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -EIO;
}

struct catalog *catalog_open(const char *data_dir)
{
    struct catalog *cat = calloc(1, sizeof(*cat));
    sqlite3 *db = NULL;
    if (!cat)
        return NULL;
    int n = snprintf(cat->path, sizeof(cat->path), "%s/catalog.db", data_dir);
    if (n < 0 || (size_t)n >= sizeof(cat->path))
        goto fail;
    db = db_open(cat->path, true);
    if (!db)
        goto fail;
    if (sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK) {
        log_error("catalog: cannot enable WAL: %s", sqlite3_errmsg(db));
        goto fail;
    }
    if (migrate(db) < 0)
        goto fail;
    sqlite3_close(db);
    cat->wal = walwatch_open(cat->path);
    pthread_mutex_init(&cat->mu, NULL);
    pthread_mutex_init(&cat->gen_mu, NULL);
    return cat;
fail:
    sqlite3_close(db);
    free(cat);
    return NULL;
}

void catalog_close(struct catalog *cat)
{
    if (!cat)
        return;
    while (cat->idle) {
        struct conn *c = cat->idle;
        cat->idle = c->next;
        conn_free(c);
    }
    walwatch_close(cat->wal); /* after every connection: see walwatch_close */
    pthread_mutex_destroy(&cat->mu);
    pthread_mutex_destroy(&cat->gen_mu);
    free(cat);
}

uint64_t catalog_generation(struct catalog *cat)
{
    uint32_t hdr[WALWATCH_WORDS];
    if (!cat || !walwatch_read(cat->wal, hdr))
        return 0;
    pthread_mutex_lock(&cat->gen_mu);
    if (cat->gen == 0 || memcmp(hdr, cat->gen_hdr, sizeof(hdr)) != 0) {
        memcpy(cat->gen_hdr, hdr, sizeof(hdr));
        cat->gen++;
    }
    uint64_t gen = cat->gen;
    pthread_mutex_unlock(&cat->gen_mu);
    return gen;
}

/* ------------------------------------------------------------------------ */
/* Import                                                                   */
/* ------------------------------------------------------------------------ */

struct pending_ref {
    char *file, *item, *collection;
};

struct importer {
    sqlite3 *db;
    sqlite3_stmt *find_item, *del_item, *del_bbox, *del_assets, *ins_item, *ins_bbox, *ins_asset,
        *upsert_coll, *has_coll;
    int64_t vis;
    char *visibility_json;
    int64_t now;
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
    snprintf(im->err, im->errlen, "%s: database error: %s", file, sqlite3_errmsg(im->db));
    return -EIO;
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

static int pct_decode(const char *in, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = in[i];
        if (ch == '%' && i + 2 < n && isxdigit((unsigned char)in[i + 1]) &&
            isxdigit((unsigned char)in[i + 2])) {
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
static bool asset_key(const char *href, char *key, size_t keylen)
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
    if (!cJSON_IsString(v) || time_parse_rfc3339(v->valuestring, out) < 0)
        return import_fail(im, file, "%s: properties.%s must be an RFC 3339 date-time", what, name);
    *present = true;
    return 0;
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -EIO;
}

static int import_item(struct importer *im, const char *file, cJSON *doc, const char *where)
{
    char what[320];
    const cJSON *id = get(doc, "id");
    if (!nonempty_string(id))
        return import_fail(im, file, "%sitem: field \"id\" is required and must be a non-empty string",
                           where);
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
        return import_fail(im, file, "%s: field \"assets\" is required and must be an object", what);
    const cJSON *a;
    cJSON_ArrayForEach(a, assets)
    {
        if (!cJSON_IsObject(a) || !cJSON_IsString(get(a, "href")))
            return import_fail(im, file, "%s: assets.%.100s must be an object with a string href",
                               what, a->string);
    }

    /* Replace any previous version. */
    sqlite3_stmt *st = im->find_item;
    bind_text(st, 1, coll->valuestring);
    bind_text(st, 2, id->valuestring);
    int s = sqlite3_step(st);
    int64_t old = s == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (s != SQLITE_ROW && s != SQLITE_DONE)
        return db_fail(im, file);
    if (s == SQLITE_ROW) {
        sqlite3_bind_int64(im->del_assets, 1, old);
        sqlite3_bind_int64(im->del_bbox, 1, old);
        sqlite3_bind_int64(im->del_item, 1, old);
        if (step_done(im->del_assets) || step_done(im->del_bbox) || step_done(im->del_item))
            return db_fail(im, file);
    }

    char *text = cJSON_PrintUnformatted(doc);
    char *gtext = cJSON_IsNull(geometry) ? NULL : cJSON_PrintUnformatted(geometry);
    char *tpl = item_template(doc);
    if (!text || !tpl || (!gtext && !cJSON_IsNull(geometry))) {
        free(text);
        free(gtext);
        free(tpl);
        return -ENOMEM;
    }
    st = im->ins_item;
    bind_text(st, 1, id->valuestring);
    bind_text(st, 2, coll->valuestring);
    sqlite3_bind_text(st, 3, text, -1, free);
    if (gtext)
        sqlite3_bind_text(st, 4, gtext, -1, free);
    sqlite3_bind_int64(st, 5, ds);
    sqlite3_bind_int64(st, 6, de);
    bind_text(st, 7, im->visibility_json);
    sqlite3_bind_int64(st, 8, im->vis);
    sqlite3_bind_int64(st, 9, im->now);
    sqlite3_bind_text(st, 10, tpl, -1, free);
    if (step_done(st))
        return db_fail(im, file);
    int64_t rowid = sqlite3_last_insert_rowid(im->db);

    if (has_box) {
        /* A box across the antimeridian is indexed as the full longitude range. */
        double minx = box[0] <= box[2] ? box[0] : -180, maxx = box[0] <= box[2] ? box[2] : 180;
        st = im->ins_bbox;
        sqlite3_bind_int64(st, 1, rowid);
        sqlite3_bind_double(st, 2, minx);
        sqlite3_bind_double(st, 3, maxx);
        sqlite3_bind_double(st, 4, box[1]);
        sqlite3_bind_double(st, 5, box[3]);
        if (step_done(st))
            return db_fail(im, file);
    }
    cJSON_ArrayForEach(a, assets)
    {
        char key[1024];
        if (!asset_key(get(a, "href")->valuestring, key, sizeof(key)))
            continue;
        bind_text(im->ins_asset, 1, key);
        sqlite3_bind_int64(im->ins_asset, 2, rowid);
        if (step_done(im->ins_asset))
            return db_fail(im, file);
    }

    if (im->nrefs == im->caprefs) {
        size_t cap = im->caprefs ? im->caprefs * 2 : 16;
        struct pending_ref *v = realloc(im->refs, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        im->refs = v;
        im->caprefs = cap;
    }
    struct pending_ref *ref = &im->refs[im->nrefs];
    ref->file = strdup(file);
    ref->item = strdup(what);
    ref->collection = strdup(coll->valuestring);
    im->nrefs++;
    if (!ref->file || !ref->item || !ref->collection)
        return -ENOMEM;
    im->res.items++;
    return 0;
}

static int check_extent(struct importer *im, const char *file, const char *what, const cJSON *doc)
{
    const cJSON *extent = get(doc, "extent");
    if (!cJSON_IsObject(extent))
        return import_fail(im, file, "%s: field \"extent\" is required and must be an object", what);
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
                (!cJSON_IsString(t) || time_parse_rfc3339(t->valuestring, &ms) < 0))
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
    sqlite3_stmt *st = im->upsert_coll;
    bind_text(st, 1, id->valuestring);
    sqlite3_bind_text(st, 2, text, -1, free);
    bind_text(st, 3, im->visibility_json);
    sqlite3_bind_int64(st, 4, im->vis);
    sqlite3_bind_int64(st, 5, im->now);
    if (step_done(st))
        return db_fail(im, file);
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

/* Finds or assigns the bit of each visibility group, in the import transaction. */
static int visibility_mask(struct importer *im, const struct strlist *groups)
{
    sqlite3_stmt *find = NULL, *maxbit = NULL, *ins = NULL;
    int rc = -EIO;
    im->vis = 0;
    if (sqlite3_prepare_v2(im->db, "SELECT bit FROM vgroups WHERE name = ?1", -1, &find, NULL) ||
        sqlite3_prepare_v2(im->db, "SELECT coalesce(max(bit), -1) FROM vgroups", -1, &maxbit,
                           NULL) ||
        sqlite3_prepare_v2(im->db, "INSERT INTO vgroups(name, bit) VALUES(?1, ?2)", -1, &ins,
                           NULL))
        goto fail;
    for (size_t i = 0; i < groups->n; i++) {
        const char *name = groups->v[i];
        size_t len = strlen(name);
        if (len == 0 || len > 64) {
            rc = import_fail(im, "--visibility", "group names must have 1 to 64 characters");
            goto out;
        }
        bind_text(find, 1, name);
        int s = sqlite3_step(find);
        int64_t bit = s == SQLITE_ROW ? sqlite3_column_int64(find, 0) : -1;
        sqlite3_reset(find);
        if (s != SQLITE_ROW && s != SQLITE_DONE)
            goto fail;
        if (bit < 0) {
            if (sqlite3_step(maxbit) != SQLITE_ROW)
                goto fail;
            bit = sqlite3_column_int64(maxbit, 0) + 1;
            sqlite3_reset(maxbit);
            if (bit > MAX_GROUP_BITS) {
                rc = import_fail(im, "--visibility",
                                 "too many distinct visibility groups in the catalog (at most %d)",
                                 MAX_GROUP_BITS + 1);
                goto out;
            }
            bind_text(ins, 1, name);
            sqlite3_bind_int64(ins, 2, bit);
            if (step_done(ins))
                goto fail;
        }
        im->vis |= (int64_t)1 << bit;
    }
    rc = 0;
    goto out;
fail:
    rc = db_fail(im, "--visibility");
out:
    sqlite3_finalize(find);
    sqlite3_finalize(maxbit);
    sqlite3_finalize(ins);
    return rc;
}

static int check_refs(struct importer *im)
{
    for (size_t i = 0; i < im->nrefs; i++) {
        struct pending_ref *r = &im->refs[i];
        bind_text(im->has_coll, 1, r->collection);
        int s = sqlite3_step(im->has_coll);
        sqlite3_reset(im->has_coll);
        if (s == SQLITE_DONE)
            return import_fail(im, r->file,
                               "%s: field \"collection\" names \"%.200s\", which is neither in "
                               "this import nor in the catalog",
                               r->item, r->collection);
        if (s != SQLITE_ROW)
            return db_fail(im, r->file);
    }
    return 0;
}

int catalog_import_path_ex(struct catalog *cat, const char *path, const struct strlist *visibility,
                           struct catalog_import_result *res, char *err, size_t errlen)
{
    struct importer im = {.err = err, .errlen = errlen, .now = time_now_ms()};
    struct strlist groups = STRLIST_INIT;
    int rc = -EIO;
    bool in_tx = false;
    if (errlen)
        err[0] = 0;
    if (res)
        memset(res, 0, sizeof(*res));
    if (!cat || !path) {
        snprintf(err, errlen, "no catalog");
        return -EINVAL;
    }
    if (visibility && visibility->n)
        rc = strlist_copy(&groups, visibility);
    else
        rc = strlist_add(&groups, CATALOG_PUBLIC_GROUP);
    if (rc < 0)
        goto fail;
    strlist_sort(&groups);
    cJSON *arr = cJSON_CreateStringArray((const char *const *)groups.v, (int)groups.n);
    im.visibility_json = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    rc = -ENOMEM;
    if (!im.visibility_json)
        goto fail;
    rc = -EIO;
    im.db = db_open(cat->path, false);
    if (!im.db) {
        snprintf(err, errlen, "%s: cannot open the catalog database", cat->path);
        goto fail;
    }
    struct {
        sqlite3_stmt **st;
        const char *sql;
    } stmts[] = {
        {&im.find_item, "SELECT rowid FROM items WHERE collection = ?1 AND id = ?2"},
        {&im.del_item, "DELETE FROM items WHERE rowid = ?1"},
        {&im.del_bbox, "DELETE FROM item_bbox WHERE id = ?1"},
        {&im.del_assets, "DELETE FROM assets WHERE item = ?1"},
        {&im.ins_item, "INSERT INTO items(id, collection, doc, geometry, datetime_start,"
                       " datetime_end, visibility, vis, imported, tpl)"
                       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"},
        {&im.ins_bbox, "INSERT INTO item_bbox(id, minx, maxx, miny, maxy) VALUES(?1,?2,?3,?4,?5)"},
        {&im.ins_asset, "INSERT OR IGNORE INTO assets(key, item) VALUES(?1, ?2)"},
        {&im.upsert_coll, "INSERT INTO collections(id, doc, visibility, vis, imported)"
                          " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(id) DO UPDATE SET"
                          " doc = excluded.doc, visibility = excluded.visibility,"
                          " vis = excluded.vis, imported = excluded.imported"},
        {&im.has_coll, "SELECT 1 FROM collections WHERE id = ?1"},
    };
    for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
        if (sqlite3_prepare_v2(im.db, stmts[i].sql, -1, stmts[i].st, NULL) != SQLITE_OK) {
            rc = db_fail(&im, cat->path);
            goto fail;
        }
    }
    if (sqlite3_exec(im.db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_fail(&im, cat->path);
        goto fail;
    }
    in_tx = true;
    if ((rc = visibility_mask(&im, &groups)) < 0)
        goto fail;
    if ((rc = import_tree(&im, path, 0)) < 0)
        goto fail;
    if ((rc = check_refs(&im)) < 0)
        goto fail;
    if (sqlite3_exec(im.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_fail(&im, cat->path);
        goto fail;
    }
    in_tx = false;
    if (res)
        *res = im.res;
    rc = 0;
fail:
    if (rc == -ENOMEM && errlen && !err[0])
        snprintf(err, errlen, "out of memory");
    if (in_tx)
        sqlite3_exec(im.db, "ROLLBACK", NULL, NULL, NULL);
    for (size_t i = 0; i < im.nrefs; i++) {
        free(im.refs[i].file);
        free(im.refs[i].item);
        free(im.refs[i].collection);
    }
    free(im.refs);
    sqlite3_finalize(im.find_item);
    sqlite3_finalize(im.del_item);
    sqlite3_finalize(im.del_bbox);
    sqlite3_finalize(im.del_assets);
    sqlite3_finalize(im.ins_item);
    sqlite3_finalize(im.ins_bbox);
    sqlite3_finalize(im.ins_asset);
    sqlite3_finalize(im.upsert_coll);
    sqlite3_finalize(im.has_coll);
    sqlite3_close(im.db);
    free(im.visibility_json);
    strlist_free(&groups);
    return rc;
}

int catalog_import_path(struct catalog *cat, const char *path, const struct strlist *visibility,
                        char *err, size_t errlen)
{
    return catalog_import_path_ex(cat, path, visibility, NULL, err, errlen);
}

/* ------------------------------------------------------------------------ */
/* Reads                                                                     */
/* ------------------------------------------------------------------------ */

/* The caller's visibility mask: Public plus every known group of theirs. */
static int group_mask(struct conn *c, const struct strlist *groups, int64_t *mask)
{
    *mask = 1; /* Public is bit 0 */
    if (!groups)
        return 0;
    sqlite3_stmt *st = conn_stmt(c, ST_GROUP_BIT);
    if (!st)
        return -EIO;
    for (size_t i = 0; i < groups->n; i++) {
        bind_text(st, 1, groups->v[i]);
        int s = sqlite3_step(st);
        if (s == SQLITE_ROW) {
            int64_t bit = sqlite3_column_int64(st, 0);
            if (bit >= 0 && bit <= MAX_GROUP_BITS)
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
static int collect_docs(struct conn *c, sqlite3_stmt *st, bool single, cJSON **out)
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

static int simple_read(struct catalog *cat, enum stmt_id id, const struct strlist *groups,
                       const char *a, const char *b, bool single, cJSON **out)
{
    *out = NULL;
    if (!cat) {
        if (single)
            return -ENOENT;
        *out = cJSON_CreateArray();
        return *out ? 0 : -ENOMEM;
    }
    struct conn *c = conn_get(cat);
    if (!c)
        return -EIO;
    int64_t mask;
    sqlite3_stmt *st = conn_stmt(c, id);
    int rc = st ? group_mask(c, groups, &mask) : -EIO;
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, mask);
        if (a)
            bind_text(st, 2, a);
        if (b)
            bind_text(st, 3, b);
        rc = collect_docs(c, st, single, out);
    }
    conn_put(cat, c);
    return rc;
}

int catalog_collections(struct catalog *cat, const struct strlist *groups, cJSON **out)
{
    return simple_read(cat, ST_COLLECTIONS, groups, NULL, NULL, false, out);
}

int catalog_collection_get(struct catalog *cat, const struct strlist *groups, const char *id,
                           cJSON **out)
{
    if (!id) {
        *out = NULL;
        return -ENOENT;
    }
    return simple_read(cat, ST_COLLECTION, groups, id, NULL, true, out);
}

int catalog_item_get(struct catalog *cat, const struct strlist *groups, const char *collection,
                     const char *id, cJSON **out)
{
    if (!collection || !id) {
        *out = NULL;
        return -ENOENT;
    }
    return simple_read(cat, ST_ITEM, groups, collection, id, true, out);
}

int catalog_asset_visible(struct catalog *cat, const struct strlist *groups, const char *key)
{
    if (!cat || !key)
        return -ENOENT;
    struct conn *c = conn_get(cat);
    if (!c)
        return -EIO;
    int64_t mask;
    sqlite3_stmt *st = conn_stmt(c, ST_ASSET);
    int rc = st ? group_mask(c, groups, &mask) : -EIO;
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, mask);
        bind_text(st, 2, key);
        int s = sqlite3_step(st);
        rc = s == SQLITE_ROW ? 0 : s == SQLITE_DONE ? -ENOENT : -EIO;
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    conn_put(cat, c);
    return rc;
}

static sqlite3_stmt *search_stmt(struct conn *c, unsigned shape, int page)
{
    if (c->search[page][shape])
        return c->search[page][shape];
    char sql[2048];
    size_t n = 0;
#define ADD(s) n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s", s)
    ADD(page ? "SELECT i.doc, i.tpl, i.collection, i.id" : "SELECT count(*)");
    ADD(" FROM items i JOIN collections c ON c.id = i.collection"
        " WHERE (i.vis & ?1) != 0 AND (c.vis & ?1) != 0");
    if (shape & SB_BBOX)
        ADD(" AND i.rowid IN (SELECT id FROM item_bbox WHERE minx <= ?3 AND maxx >= ?2"
            " AND miny <= ?7 AND maxy >= ?6 UNION SELECT id FROM item_bbox WHERE minx <= ?5"
            " AND maxx >= ?4 AND miny <= ?7 AND maxy >= ?6)");
    if (shape & SB_START)
        ADD(" AND i.datetime_end >= ?8");
    if (shape & SB_END)
        ADD(" AND i.datetime_start <= ?9");
    if (shape & SB_IDS)
        ADD(" AND i.id IN (SELECT value FROM json_each(?10))");
    if (shape & SB_COLLS)
        ADD(" AND i.collection IN (SELECT value FROM json_each(?11))");
    if (shape & SB_GEOM)
        ADD(" AND i.rowid IN (SELECT id FROM item_bbox WHERE minx <= ?13 AND maxx >= ?12"
            " AND miny <= ?15 AND maxy >= ?14) AND tessera_intersects(i.geometry, ?16)");
    if (page)
        ADD(" ORDER BY i.datetime_start DESC, i.collection, i.id LIMIT ?17 OFFSET ?18");
#undef ADD
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->search[page][shape],
                           NULL) != SQLITE_OK) {
        log_error("catalog: prepare search failed: %s", sqlite3_errmsg(c->db));
        return NULL;
    }
    return c->search[page][shape];
}

static char *strlist_json(const struct strlist *l)
{
    cJSON *arr = cJSON_CreateStringArray((const char *const *)l->v, (int)l->n);
    char *s = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    return s;
}

static int search_bind(sqlite3_stmt *st, unsigned shape, int64_t mask, const struct catalog_query *q,
                       char *ids, char *colls)
{
    sqlite3_bind_int64(st, 1, mask);
    if (shape & SB_BBOX) {
        if (q->bbox[0] <= q->bbox[2]) {
            sqlite3_bind_double(st, 2, q->bbox[0]);
            sqlite3_bind_double(st, 3, q->bbox[2]);
            sqlite3_bind_double(st, 4, 1000); /* second range empty */
            sqlite3_bind_double(st, 5, -1000);
        } else { /* across the antimeridian: [minx, 180] and [-180, maxx] */
            sqlite3_bind_double(st, 2, q->bbox[0]);
            sqlite3_bind_double(st, 3, 180);
            sqlite3_bind_double(st, 4, -180);
            sqlite3_bind_double(st, 5, q->bbox[2]);
        }
        sqlite3_bind_double(st, 6, q->bbox[1]);
        sqlite3_bind_double(st, 7, q->bbox[3]);
    }
    if (shape & SB_START)
        sqlite3_bind_int64(st, 8, q->start);
    if (shape & SB_END)
        sqlite3_bind_int64(st, 9, q->end);
    if (shape & SB_IDS)
        sqlite3_bind_text(st, 10, ids, -1, SQLITE_STATIC);
    if (shape & SB_COLLS)
        sqlite3_bind_text(st, 11, colls, -1, SQLITE_STATIC);
    if (shape & SB_GEOM) {
        double b[4];
        catalog_geom_bbox(q->intersects, b);
        sqlite3_bind_double(st, 12, b[0]);
        sqlite3_bind_double(st, 13, b[2]);
        sqlite3_bind_double(st, 14, b[1]);
        sqlite3_bind_double(st, 15, b[3]);
        sqlite3_bind_pointer(st, 16, (void *)q->intersects, "tessera_geom", NULL);
    }
    return 0;
}

/* Steps st and calls fn with (collection, id, template) of each row whose
 * columns are doc, tpl, collection, id. */
static int each_template(struct conn *c, sqlite3_stmt *st, catalog_item_fn fn, void *ctx,
                         bool single)
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

int catalog_item_each(struct catalog *cat, const struct strlist *groups, const char *collection,
                      const char *id, catalog_item_fn fn, void *ctx)
{
    if (!cat || !collection || !id)
        return -ENOENT;
    struct conn *c = conn_get(cat);
    if (!c)
        return -EIO;
    int64_t mask;
    sqlite3_stmt *st = conn_stmt(c, ST_ITEM_TPL);
    int rc = st ? group_mask(c, groups, &mask) : -EIO;
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, mask);
        bind_text(st, 2, collection);
        bind_text(st, 3, id);
        rc = each_template(c, st, fn, ctx, true);
    }
    conn_put(cat, c);
    return rc;
}

static int search_run(struct catalog *cat, const struct catalog_query *q, int64_t *matched,
                      cJSON **items, catalog_item_fn fn, void *ctx)
{
    *matched = 0;
    if (items)
        *items = NULL;
    if (q->limit < 1 || q->limit > CATALOG_MAX_LIMIT || q->offset < 0)
        return -EINVAL;
    if (!cat) {
        if (!items)
            return 0;
        *items = cJSON_CreateArray();
        return *items ? 0 : -ENOMEM;
    }
    unsigned shape = 0;
    if (q->has_bbox)
        shape |= SB_BBOX;
    if (q->has_start)
        shape |= SB_START;
    if (q->has_end)
        shape |= SB_END;
    if (q->ids && q->ids->n)
        shape |= SB_IDS;
    if (q->collections && q->collections->n)
        shape |= SB_COLLS;
    if (q->intersects)
        shape |= SB_GEOM;
    char *ids = (shape & SB_IDS) ? strlist_json(q->ids) : NULL;
    char *colls = (shape & SB_COLLS) ? strlist_json(q->collections) : NULL;
    if (((shape & SB_IDS) && !ids) || ((shape & SB_COLLS) && !colls)) {
        free(ids);
        free(colls);
        return -ENOMEM;
    }
    struct conn *c = conn_get(cat);
    if (!c) {
        free(ids);
        free(colls);
        return -EIO;
    }
    int64_t mask;
    int rc = group_mask(c, q->groups, &mask);
    if (rc < 0)
        goto done;
    sqlite3_stmt *count = search_stmt(c, shape, 0), *page = search_stmt(c, shape, 1);
    rc = -EIO;
    if (!count || !page)
        goto done;
    search_bind(count, shape, mask, q, ids, colls);
    int s = sqlite3_step(count);
    if (s == SQLITE_ROW)
        *matched = sqlite3_column_int64(count, 0);
    sqlite3_reset(count);
    sqlite3_clear_bindings(count);
    if (s != SQLITE_ROW) {
        log_error("catalog: count failed: %s", sqlite3_errmsg(c->db));
        goto done;
    }
    search_bind(page, shape, mask, q, ids, colls);
    sqlite3_bind_int64(page, 17, q->limit);
    sqlite3_bind_int64(page, 18, q->offset);
    rc = items ? collect_docs(c, page, false, items) : each_template(c, page, fn, ctx, false);
done:
    conn_put(cat, c);
    free(ids);
    free(colls);
    return rc;
}

int catalog_search(struct catalog *cat, const struct catalog_query *q, int64_t *matched,
                   cJSON **items)
{
    return search_run(cat, q, matched, items, NULL, NULL);
}

int catalog_search_each(struct catalog *cat, const struct catalog_query *q, int64_t *matched,
                        catalog_item_fn fn, void *ctx)
{
    return search_run(cat, q, matched, NULL, fn, ctx);
}
