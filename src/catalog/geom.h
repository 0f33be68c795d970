/* GeoJSON geometries for STAC search: parsing (WGS84 lon/lat), bounding
 * boxes, and the exact "do these share a point" test that follows every
 * spatial index prefilter. Pure functions on caller-owned values: any thread,
 * as long as each geometry is freed by one owner. */
#ifndef TESSERA_CATALOG_GEOM_H
#define TESSERA_CATALOG_GEOM_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct catalog_geom;

/* Parses a GeoJSON geometry (Point, MultiPoint, LineString, MultiLineString,
 * Polygon, MultiPolygon, GeometryCollection; WGS84 lon/lat). NULL on failure
 * with a message in err. The caller owns the result: free with
 * catalog_geom_free (NULL is a no-op). */
struct catalog_geom *catalog_geom_parse(const cJSON *geometry, char *err, size_t errlen);
void catalog_geom_free(struct catalog_geom *g);
/* The geometry's bounding box: minx, miny, maxx, maxy. */
void catalog_geom_bbox(const struct catalog_geom *g, double bbox[4]);
/* True when g is exactly its bounding box: one polygon without holes whose
 * ring runs through the box's four corners (a BBOX). Then any geometry
 * inside the box intersects it, which a search can tell from boxes alone. */
bool catalog_geom_is_box(const struct catalog_geom *g);
/* True when the two geometries share at least one point (boundaries count). */
bool catalog_geom_intersects(const struct catalog_geom *a, const struct catalog_geom *b);
/* Parses the JSON text of a geometry (as stored with an item) and tests it
 * against q. False when the text is not a valid geometry. */
bool catalog_geom_text_intersects(const char *text, size_t len, const struct catalog_geom *q);

#endif
