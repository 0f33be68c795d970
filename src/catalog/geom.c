/* GeoJSON geometry for STAC search: parsing into flat rings of doubles, the
 * bounding box, and an exact intersection test (segment crossings, then
 * point-in-polygon with holes for the contained cases). No projection: lon/lat
 * are treated as plane coordinates, as STAC's bbox semantics do. Pure
 * functions; any thread. */
#include "catalog/geom.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/array.h"

#define MAX_GEOM_DEPTH 8

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

bool catalog_geom_is_box(const struct catalog_geom *g)
{
    if (g->nparts != 1 || g->parts[0].kind != PART_POLY || g->parts[0].nrings != 1 ||
        g->parts[0].rings[0].n != 5)
        return false;
    const double *b = g->bbox, *xy = g->parts[0].rings[0].xy;
    /* Every vertex a corner, and the four sides axis-parallel. */
    for (int i = 0; i < 5; i++) {
        if ((xy[2 * i] != b[0] && xy[2 * i] != b[2]) ||
            (xy[2 * i + 1] != b[1] && xy[2 * i + 1] != b[3]))
            return false;
        if (i && xy[2 * i] != xy[2 * i - 2] && xy[2 * i + 1] != xy[2 * i - 1])
            return false;
    }
    return b[0] < b[2] && b[1] < b[3];
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
        snprintf(err, errlen, "%s needs at least %zu positions",
                 closed ? "a polygon ring" : "a line", min);
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
    if (ARRAY_RESERVE(g->parts, g->cap, g->nparts + 1, 4) < 0)
        return NULL;
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

bool catalog_geom_text_intersects(const char *text, size_t len, const struct catalog_geom *q)
{
    if (!text || !q)
        return false;
    cJSON *json = cJSON_ParseWithLength(text, len);
    char err[128];
    struct catalog_geom *g = json ? catalog_geom_parse(json, err, sizeof(err)) : NULL;
    bool hit = g && catalog_geom_intersects(g, q);
    catalog_geom_free(g);
    cJSON_Delete(json);
    return hit;
}
