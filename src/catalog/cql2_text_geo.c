/* CQL2 text's geometry and temporal literals and the two functions that
 * take them: WKT (POINT, LINESTRING, POLYGON, the MULTI forms and
 * GEOMETRYCOLLECTION, optionally Z) and BBOX for S_INTERSECTS, made into
 * GeoJSON and then a catalog_geom; TIMESTAMP, DATE and INTERVAL for
 * T_INTERSECTS on datetime. Part of the parser of cql2_text.c; pure,
 * single-threaded per parser. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/cql2_text.h"
#include "util/timeutil.h"

#define MAX_GEOM_NESTING 4

/* ---- geometry literals (WKT and BBOX) --------------------------------------- */

static cJSON *wkt_geometry(struct parser *ps, int depth);

/* One position: two to four numbers. */
static cJSON *wkt_position(struct parser *ps)
{
    double c[4];
    int n = 0;
    while (n < 4 && (ps->tok.t == T_NUMBER || ps->tok.t == T_MINUS || ps->tok.t == T_PLUS)) {
        double sign = ps->tok.t == T_MINUS ? -1 : 1;
        if (ps->tok.t != T_NUMBER)
            cql2_next(ps);
        if (ps->tok.t != T_NUMBER)
            break;
        c[n++] = sign * ps->tok.num;
        cql2_next(ps);
    }
    if (n < 2) {
        cql2_fail(ps, "expected a position (x y)");
        return NULL;
    }
    cJSON *pos = cJSON_CreateDoubleArray(c, n > 3 ? 3 : n);
    if (!pos)
        cql2_oom(ps);
    return pos;
}

/* "(" item {"," item} ")" where item is a position, or (nested > 0) the
 * same structure one level down. */
static cJSON *wkt_list(struct parser *ps, int nested)
{
    if (!cql2_expect(ps, T_LPAREN, "'('"))
        return NULL;
    cJSON *arr = cJSON_CreateArray();
    if (!arr) {
        cql2_oom(ps);
        return NULL;
    }
    do {
        cJSON *item;
        if (nested == 0) {
            /* MULTIPOINT allows each point in brackets as well. */
            bool bracket = cql2_accept(ps, T_LPAREN);
            item = wkt_position(ps);
            if (item && bracket && !cql2_expect(ps, T_RPAREN, "')'")) {
                cJSON_Delete(item);
                item = NULL;
            }
        } else {
            item = wkt_list(ps, nested - 1);
        }
        if (!item) {
            cJSON_Delete(arr);
            return NULL;
        }
        cJSON_AddItemToArray(arr, item);
    } while (cql2_accept(ps, T_COMMA));
    if (!cql2_expect(ps, T_RPAREN, "')' or ','")) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}

/* BBOX(minx, miny, maxx, maxy) or with six numbers, as a Polygon (two, as
 * a MultiPolygon, when it crosses the antimeridian). */
static cJSON *bbox_geometry(struct parser *ps)
{
    cJSON *nums = cJSON_CreateArray();
    if (!nums || !cql2_expect(ps, T_LPAREN, "'('")) {
        if (!nums)
            cql2_oom(ps);
        cJSON_Delete(nums);
        return NULL;
    }
    do {
        double sign = ps->tok.t == T_MINUS ? -1 : 1;
        if (ps->tok.t == T_MINUS || ps->tok.t == T_PLUS)
            cql2_next(ps);
        if (ps->tok.t != T_NUMBER) {
            cql2_fail(ps, "expected a number in BBOX");
            cJSON_Delete(nums);
            return NULL;
        }
        cJSON_AddItemToArray(nums, cJSON_CreateNumber(sign * ps->tok.num));
        cql2_next(ps);
    } while (cJSON_GetArraySize(nums) < 6 && cql2_accept(ps, T_COMMA));
    if (!cql2_expect(ps, T_RPAREN, "')'")) {
        cJSON_Delete(nums);
        return NULL;
    }
    double b[4];
    char err[160];
    if (catalog_parse_bbox_json(nums, b, err, sizeof(err)) < 0) {
        cql2_fail(ps, "BBOX: %s", err);
        cJSON_Delete(nums);
        return NULL;
    }
    cJSON_Delete(nums);
    return filter_bbox_geojson(b);
}

/* A WKT geometry (the current token is its type keyword) as GeoJSON. */
static cJSON *wkt_geometry(struct parser *ps, int depth)
{
    static const struct {
        const char *wkt, *geojson;
        int nested; /* list depth below the outer brackets */
    } types[] = {
        {"POINT", "Point", -1},
        {"LINESTRING", "LineString", 0},
        {"POLYGON", "Polygon", 1},
        {"MULTIPOINT", "MultiPoint", 0},
        {"MULTILINESTRING", "MultiLineString", 1},
        {"MULTIPOLYGON", "MultiPolygon", 2},
        {"GEOMETRYCOLLECTION", "GeometryCollection", -2},
    };
    if (cql2_is_kw(&ps->tok, "BBOX")) {
        cql2_next(ps);
        return bbox_geometry(ps);
    }
    size_t k;
    for (k = 0; k < sizeof(types) / sizeof(types[0]); k++)
        if (cql2_is_kw(&ps->tok, types[k].wkt))
            break;
    if (k == sizeof(types) / sizeof(types[0])) {
        cql2_fail(ps,
                  "expected a geometry (POINT, LINESTRING, POLYGON, MULTIPOINT, MULTILINESTRING, "
                  "MULTIPOLYGON, GEOMETRYCOLLECTION or BBOX)");
        return NULL;
    }
    if (depth > MAX_GEOM_NESTING) {
        cql2_fail(ps, "geometry collections nested too deeply");
        return NULL;
    }
    cql2_next(ps);
    /* Optional dimension marker: Z (the third number is ignored). */
    if (cql2_accept_kw(ps, "Z")) {
    } else if (cql2_is_kw(&ps->tok, "M") || cql2_is_kw(&ps->tok, "ZM")) {
        cql2_fail(ps, "measured (M) coordinates are not supported");
        return NULL;
    }
    if (cql2_is_kw(&ps->tok, "EMPTY")) {
        cql2_fail(ps, "empty geometries are not supported");
        return NULL;
    }
    cJSON *g = cJSON_CreateObject(), *coords = NULL;
    if (!g) {
        cql2_oom(ps);
        return NULL;
    }
    cJSON_AddStringToObject(g, "type", types[k].geojson);
    if (types[k].nested == -2) {
        cJSON *geoms = cJSON_AddArrayToObject(g, "geometries");
        if (!geoms || !cql2_expect(ps, T_LPAREN, "'('"))
            goto fail;
        do {
            cJSON *sub = wkt_geometry(ps, depth + 1);
            if (!sub)
                goto fail;
            cJSON_AddItemToArray(geoms, sub);
        } while (cql2_accept(ps, T_COMMA));
        if (!cql2_expect(ps, T_RPAREN, "')' or ','"))
            goto fail;
        return g;
    }
    if (types[k].nested == -1) {
        if (!cql2_expect(ps, T_LPAREN, "'('") || !(coords = wkt_position(ps)) ||
            !cql2_expect(ps, T_RPAREN, "')'"))
            goto fail;
    } else if (!(coords = wkt_list(ps, types[k].nested))) {
        goto fail;
    }
    cJSON_AddItemToObject(g, "coordinates", coords);
    return g;
fail:
    cJSON_Delete(coords);
    cJSON_Delete(g);
    return NULL;
}

/* ---- spatial and temporal predicates ---------------------------------------- */

static bool geometry_keyword(const struct token *tk)
{
    static const char *const words[] = {
        "POINT",        "LINESTRING",         "POLYGON", "MULTIPOINT", "MULTILINESTRING",
        "MULTIPOLYGON", "GEOMETRYCOLLECTION", "BBOX"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (cql2_is_kw(tk, words[i]))
            return true;
    return false;
}

/* One argument of S_/T_INTERSECTS: a property name (returned malloc'd in
 * *name) or, when it is not one, nothing consumed. */
static bool function_property(struct parser *ps, char **name)
{
    *name = NULL;
    if (ps->tok.t == T_QIDENT || (ps->tok.t == T_IDENT && !cql2_peek_lparen(ps) &&
                                  !cql2_reserved(&ps->tok) && !geometry_keyword(&ps->tok))) {
        *name = ps->tok.t == T_QIDENT ? ps->tok.text : strndup(ps->tok.start, ps->tok.len);
        ps->tok.text = NULL;
        if (!*name) {
            cql2_oom(ps);
            return false;
        }
        cql2_next(ps);
    }
    return true;
}

static bool is_named(const char *name, const char *want)
{
    if (strncmp(name, "properties.", 11) == 0)
        name += 11;
    return strcmp(name, want) == 0;
}

struct filter_node *cql2_s_intersects(struct parser *ps)
{
    char *name = NULL;
    cJSON *gj = NULL;
    struct filter_node *n = NULL;
    if (!cql2_expect(ps, T_LPAREN, "'('"))
        return NULL;
    for (int arg = 0; arg < 2; arg++) {
        char *p = NULL;
        if (!function_property(ps, &p))
            goto done;
        if (p && name) {
            free(p);
            cql2_fail(ps, "S_INTERSECTS needs one property and one geometry literal");
            goto done;
        }
        if (p) {
            name = p;
        } else if (gj) {
            cql2_fail(ps, "S_INTERSECTS needs one property and one geometry literal");
            goto done;
        } else if (!(gj = wkt_geometry(ps, 0))) {
            goto done;
        }
        if (arg == 0 && !cql2_expect(ps, T_COMMA, "','"))
            goto done;
    }
    if (!cql2_expect(ps, T_RPAREN, "')'"))
        goto done;
    if (!name || !is_named(name, "geometry")) {
        cql2_fail(ps, "S_INTERSECTS is supported on the property geometry only");
        goto done;
    }
    char gerr[200];
    struct catalog_geom *g = catalog_geom_parse(gj, gerr, sizeof(gerr));
    if (!g) {
        cql2_fail(ps, "S_INTERSECTS: invalid geometry: %s", gerr);
        goto done;
    }
    bool over = false;
    if (!(n = filter_node_new(&ps->budget, FILTER_S_INTERSECTS, &over))) {
        catalog_geom_free(g);
        if (over)
            cql2_fail(ps, "more than %d predicates", FILTER_MAX_NODES);
        else
            cql2_oom(ps);
        goto done;
    }
    n->geom = g;
done:
    free(name);
    cJSON_Delete(gj);
    return n;
}

/* One end of an INTERVAL: '..', a date or a timestamp. */
static bool interval_end(struct parser *ps, bool is_end, bool *has, int64_t *ms)
{
    if (ps->tok.t != T_STRING) {
        cql2_fail(ps, "INTERVAL takes quoted dates, timestamps or '..'");
        return false;
    }
    const char *s = ps->tok.text;
    *has = strcmp(s, "..") != 0;
    if (*has) {
        if (time_parse_date_wide(s, ms) == 0) {
            if (is_end)
                *ms += CQL2_DAY_MS - 1;
        } else if (time_parse_rfc3339_wide(s, ms) < 0) {
            cql2_fail(ps, "INTERVAL: invalid date or timestamp");
            return false;
        }
    }
    cql2_next(ps);
    return true;
}

/* A temporal literal into n's bounds. */
static bool temporal_literal(struct parser *ps, struct filter_node *n)
{
    if ((cql2_is_kw(&ps->tok, "TIMESTAMP") || cql2_is_kw(&ps->tok, "DATE")) &&
        cql2_peek_lparen(ps)) {
        bool date = cql2_is_kw(&ps->tok, "DATE");
        cql2_next(ps);
        n->has_start = n->has_end = true;
        return cql2_parse_instant(ps, date, &n->start, &n->end);
    }
    if (!(cql2_is_kw(&ps->tok, "INTERVAL") && cql2_peek_lparen(ps))) {
        cql2_fail(ps, "expected TIMESTAMP(...), DATE(...) or INTERVAL(...)");
        return false;
    }
    cql2_next(ps);
    if (!cql2_expect(ps, T_LPAREN, "'('") || !interval_end(ps, false, &n->has_start, &n->start) ||
        !cql2_expect(ps, T_COMMA, "','") || !interval_end(ps, true, &n->has_end, &n->end) ||
        !cql2_expect(ps, T_RPAREN, "')'"))
        return false;
    if (n->has_start && n->has_end && n->start > n->end) {
        cql2_fail(ps, "INTERVAL: the start is after the end");
        return false;
    }
    return true;
}

struct filter_node *cql2_t_intersects(struct parser *ps)
{
    bool over = false;
    struct filter_node *n = filter_node_new(&ps->budget, FILTER_T_INTERSECTS, &over);
    char *name = NULL;
    bool have_literal = false;
    if (!n) {
        if (over)
            cql2_fail(ps, "more than %d predicates", FILTER_MAX_NODES);
        else
            cql2_oom(ps);
        return NULL;
    }
    if (!cql2_expect(ps, T_LPAREN, "'('"))
        goto fail;
    for (int arg = 0; arg < 2; arg++) {
        char *p = NULL;
        if ((cql2_is_kw(&ps->tok, "TIMESTAMP") || cql2_is_kw(&ps->tok, "DATE") ||
             cql2_is_kw(&ps->tok, "INTERVAL")) &&
            cql2_peek_lparen(ps)) {
            if (have_literal) {
                cql2_fail(ps, "T_INTERSECTS needs one property and one temporal literal");
                goto fail;
            }
            if (!temporal_literal(ps, n))
                goto fail;
            have_literal = true;
        } else {
            if (!function_property(ps, &p))
                goto fail;
            if (!p || name) {
                free(p);
                cql2_fail(ps, "T_INTERSECTS needs one property and one temporal literal");
                goto fail;
            }
            name = p;
        }
        if (arg == 0 && !cql2_expect(ps, T_COMMA, "','"))
            goto fail;
    }
    if (!cql2_expect(ps, T_RPAREN, "')'"))
        goto fail;
    if (!is_named(name, "datetime")) {
        cql2_fail(ps, "T_INTERSECTS is supported on the property datetime only");
        goto fail;
    }
    free(name);
    return n;
fail:
    free(name);
    filter_free(n);
    return NULL;
}
