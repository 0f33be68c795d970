/* An OGC GeoPackage (1.3) written in memory with SQLite: one feature layer
 * of polygons in EPSG:4326, for the platform's scenes download. Pure apart
 * from its own in-memory database; any thread. */
#ifndef TESSERA_CATALOG_GPKG_H
#define TESSERA_CATALOG_GPKG_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* The layer "scenes" holding each of scenes (the platform's Scene objects:
 * a GeoJSON Polygon or MultiPolygon geometry, and id, name, timestamp,
 * instrument, platform, cloud_cover_pct, plume_count, collection), in
 * order. An empty array gives a GeoPackage with the layer's schema and no
 * rows. *out (malloc'd, caller frees) and *len. 0, -EINVAL (a geometry that
 * is not a polygon) or -ENOMEM / -EIO. */
int gpkg_write_scenes(const cJSON *scenes, unsigned char **out, size_t *len);

#endif
