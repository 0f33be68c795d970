/* A GeoPackage written with SQLite (see gpkg.h): the application id and
 * version, the three required metadata tables (spatial reference systems,
 * contents, geometry columns), and a feature table whose geometries are
 * GeoPackage binary blobs: a "GP" header with the SRS id and the envelope,
 * then little-endian WKB. The database lives in memory and is handed out
 * with sqlite3_serialize. */
#include "catalog/gpkg.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/timeutil.h"

#define LAYER "scenes"
#define SRS_ID 4326
#define GPKG_APPLICATION_ID 0x47504B47 /* "GPKG" */
#define GPKG_VERSION 10300             /* 1.3.0 */

static const char SCHEMA[] =
    "CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY "
    "KEY, organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT "
    "NOT NULL, description TEXT);"
    "INSERT INTO gpkg_spatial_ref_sys VALUES ('Undefined cartesian SRS', -1, 'NONE', -1, "
    "'undefined', 'undefined cartesian coordinate reference system'),"
    "('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate "
    "reference system'),"
    "('WGS 84 geodetic', 4326, 'EPSG', 4326, 'GEOGCS[\"WGS 84\",DATUM[\"WGS_1984\",SPHEROID[\"WGS "
    "84\",6378137,298.257223563,AUTHORITY[\"EPSG\",\"7030\"]],AUTHORITY[\"EPSG\",\"6326\"]],"
    "PRIMEM[\"Greenwich\",0,AUTHORITY[\"EPSG\",\"8901\"]],UNIT[\"degree\",0.0174532925199433,"
    "AUTHORITY[\"EPSG\",\"9122\"]],AUTHORITY[\"EPSG\",\"4326\"]]', 'longitude/latitude "
    "coordinates in decimal degrees on the WGS 84 spheroid');"
    "CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, "
    "identifier TEXT UNIQUE, description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT "
    "(strftime('%Y-%m-%dT%H:%M:%fZ','now')), min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y "
    "DOUBLE, srs_id INTEGER, CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES "
    "gpkg_spatial_ref_sys(srs_id));"
    "CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, "
    "geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT "
    "NULL, CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name), CONSTRAINT "
    "uk_gc_table_name UNIQUE (table_name), CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) "
    "REFERENCES gpkg_contents(table_name), CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES "
    "gpkg_spatial_ref_sys (srs_id));"
    "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) VALUES "
    "('" LAYER "', 'features', '" LAYER "', 'Scene footprints', 4326);";

/* The layer's table and geometry type: POLYGON, or MULTIPOLYGON when some
 * footprint is one (polygons are then written as one-part multipolygons). */
static const char LAYER_POLYGON[] =
    "CREATE TABLE " LAYER " (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, geom POLYGON, "
    "id TEXT, name TEXT, timestamp DATETIME, instrument TEXT, platform TEXT, cloud_cover_pct "
    "REAL, plume_count INTEGER, collection TEXT);"
    "INSERT INTO gpkg_geometry_columns VALUES ('" LAYER "', 'geom', 'POLYGON', 4326, 0, 0);";
static const char LAYER_MULTIPOLYGON[] =
    "CREATE TABLE " LAYER " (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, geom MULTIPOLYGON, "
    "id TEXT, name TEXT, timestamp DATETIME, instrument TEXT, platform TEXT, cloud_cover_pct "
    "REAL, plume_count INTEGER, collection TEXT);"
    "INSERT INTO gpkg_geometry_columns VALUES ('" LAYER "', 'geom', 'MULTIPOLYGON', 4326, 0, 0);";

/* ---- geometry blobs ------------------------------------------------------ */

/* Bytes appended to a growing buffer (its oom is sticky). */
static void put(struct buf *b, const void *v, size_t n)
{
    buf_append(b, v, n);
}

/* WKB and the GeoPackage header are little-endian here (flag bit 0 and
 * byte order 1); x86 and ARM Linux are too, checked at build time. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "little-endian host");

static void put_u32(struct buf *b, uint32_t v)
{
    put(b, &v, 4);
}
static void put_f64(struct buf *b, double v)
{
    put(b, &v, 8);
}

struct envelope {
    double minx, maxx, miny, maxy;
};

/* One polygon's WKB (its rings as GeoJSON coordinates). */
static int put_polygon(struct buf *b, const cJSON *rings, struct envelope *env)
{
    if (!cJSON_IsArray(rings) || cJSON_GetArraySize(rings) < 1)
        return -EINVAL;
    put(b, "\x01", 1);
    put_u32(b, 3); /* Polygon */
    put_u32(b, (uint32_t)cJSON_GetArraySize(rings));
    const cJSON *ring, *pt;
    cJSON_ArrayForEach(ring, rings)
    {
        if (!cJSON_IsArray(ring) || cJSON_GetArraySize(ring) < 4)
            return -EINVAL;
        put_u32(b, (uint32_t)cJSON_GetArraySize(ring));
        cJSON_ArrayForEach(pt, ring)
        {
            const cJSON *x = cJSON_GetArrayItem(pt, 0), *y = cJSON_GetArrayItem(pt, 1);
            if (!cJSON_IsNumber(x) || !cJSON_IsNumber(y))
                return -EINVAL;
            put_f64(b, x->valuedouble);
            put_f64(b, y->valuedouble);
            env->minx = fmin(env->minx, x->valuedouble);
            env->maxx = fmax(env->maxx, x->valuedouble);
            env->miny = fmin(env->miny, y->valuedouble);
            env->maxy = fmax(env->maxy, y->valuedouble);
        }
    }
    return 0;
}

static bool is_multipolygon(const cJSON *geom)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(geom, "type");
    return cJSON_IsString(type) && strcmp(type->valuestring, "MultiPolygon") == 0;
}

/* A GeoJSON Polygon or MultiPolygon as a GeoPackage blob of the layer's
 * type (as_multi: MultiPolygon), its envelope into env. */
static int geometry_blob(const cJSON *geom, bool as_multi, struct buf *out, struct envelope *env)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(geom, "type");
    const cJSON *coords = cJSON_GetObjectItemCaseSensitive(geom, "coordinates");
    if (!cJSON_IsString(type) || !cJSON_IsArray(coords))
        return -EINVAL;
    bool multi = strcmp(type->valuestring, "MultiPolygon") == 0;
    if (!multi && strcmp(type->valuestring, "Polygon") != 0)
        return -EINVAL;
    struct buf wkb = {0};
    *env = (struct envelope){INFINITY, -INFINITY, INFINITY, -INFINITY};
    if (as_multi) {
        put(&wkb, "\x01", 1);
        put_u32(&wkb, 6); /* MultiPolygon */
        put_u32(&wkb, multi ? (uint32_t)cJSON_GetArraySize(coords) : 1);
    }
    int rc = 0;
    if (multi) {
        const cJSON *poly;
        cJSON_ArrayForEach(poly, coords) if (rc == 0) rc = put_polygon(&wkb, poly, env);
    } else {
        rc = put_polygon(&wkb, coords, env);
    }
    if (rc == 0 && !isfinite(env->minx))
        rc = -EINVAL;
    if (rc == 0) {
        put(out, "GP", 2);
        put(out, "\x00", 1); /* version 1 */
        put(out, "\x03", 1); /* little-endian, envelope [minx, maxx, miny, maxy] */
        put_u32(out, SRS_ID);
        put_f64(out, env->minx);
        put_f64(out, env->maxx);
        put_f64(out, env->miny);
        put_f64(out, env->maxy);
        put(out, wkb.s, wkb.n);
    }
    if (wkb.oom || out->oom)
        rc = -ENOMEM;
    free(wkb.s);
    return rc;
}

/* ---- the database ---------------------------------------------------------- */

static void bind_member(sqlite3_stmt *st, int col, const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (cJSON_IsString(v))
        sqlite3_bind_text(st, col, v->valuestring, -1, SQLITE_TRANSIENT);
    else if (cJSON_IsNumber(v))
        sqlite3_bind_double(st, col, v->valuedouble);
    else
        sqlite3_bind_null(st, col);
}

static int insert_rows(sqlite3 *db, const cJSON *scenes, bool as_multi, struct envelope *all)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO " LAYER " (geom, id, name, timestamp, instrument, platform,"
                           " cloud_cover_pct, plume_count, collection) VALUES (?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    static const char *const members[] = {"id",          "name",      "timestamp",
                                          "instrument",  "platform",  "cloud_cover_pct",
                                          "plume_count", "collection"};
    int rc = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, scenes)
    {
        struct buf b = {0};
        struct envelope env;
        rc = geometry_blob(cJSON_GetObjectItemCaseSensitive(s, "geometry"), as_multi, &b, &env);
        if (rc == 0) {
            all->minx = fmin(all->minx, env.minx);
            all->maxx = fmax(all->maxx, env.maxx);
            all->miny = fmin(all->miny, env.miny);
            all->maxy = fmax(all->maxy, env.maxy);
            sqlite3_bind_blob(st, 1, b.s, (int)b.n, SQLITE_TRANSIENT);
            for (int i = 0; i < 8; i++)
                bind_member(st, i + 2, s, members[i]);
            /* GeoPackage DATETIME is ISO 8601 with milliseconds and Z. */
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(s, "timestamp");
            int64_t ms;
            char when[TIME_RFC3339_LEN];
            if (cJSON_IsString(t) && time_parse_rfc3339_wide(t->valuestring, &ms) == 0) {
                time_format_rfc3339(ms, when);
                sqlite3_bind_text(st, 4, when, -1, SQLITE_TRANSIENT);
            }
            const cJSON *count = cJSON_GetObjectItemCaseSensitive(s, "plume_count");
            if (cJSON_IsNumber(count))
                sqlite3_bind_int64(st, 8, (sqlite3_int64)count->valuedouble);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = -EIO;
            sqlite3_reset(st);
        }
        free(b.s);
        if (rc < 0)
            break;
    }
    sqlite3_finalize(st);
    return rc;
}

int gpkg_write_scenes(const cJSON *scenes, unsigned char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY, NULL) !=
        SQLITE_OK) {
        sqlite3_close(db);
        return -ENOMEM;
    }
    char pragmas[96];
    snprintf(pragmas, sizeof(pragmas), "PRAGMA application_id = %d; PRAGMA user_version = %d;",
             GPKG_APPLICATION_ID, GPKG_VERSION);
    int rc = sqlite3_exec(db, pragmas, NULL, NULL, NULL) == SQLITE_OK &&
                     sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK &&
                     sqlite3_exec(db, SCHEMA, NULL, NULL, NULL) == SQLITE_OK
                 ? 0
                 : -EIO;
    bool as_multi = false;
    const cJSON *s;
    cJSON_ArrayForEach(s, scenes) as_multi |=
        is_multipolygon(cJSON_GetObjectItemCaseSensitive(s, "geometry"));
    if (rc == 0 && sqlite3_exec(db, as_multi ? LAYER_MULTIPOLYGON : LAYER_POLYGON, NULL, NULL,
                                NULL) != SQLITE_OK)
        rc = -EIO;
    struct envelope all = {INFINITY, -INFINITY, INFINITY, -INFINITY};
    if (rc == 0)
        rc = insert_rows(db, scenes, as_multi, &all);
    if (rc == 0) {
        /* The layer's extent; the whole world for an empty one. */
        if (!isfinite(all.minx))
            all = (struct envelope){-180, 180, -90, 90};
        sqlite3_stmt *st;
        rc = sqlite3_prepare_v2(db,
                                "UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?,"
                                " max_y = ? WHERE table_name = '" LAYER "'",
                                -1, &st, NULL) == SQLITE_OK
                 ? 0
                 : -EIO;
        if (rc == 0) {
            sqlite3_bind_double(st, 1, all.minx);
            sqlite3_bind_double(st, 2, all.miny);
            sqlite3_bind_double(st, 3, all.maxx);
            sqlite3_bind_double(st, 4, all.maxy);
            rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
            sqlite3_finalize(st);
        }
    }
    if (rc == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = -EIO;
    if (rc == 0) {
        sqlite3_int64 size = 0;
        unsigned char *bytes = sqlite3_serialize(db, "main", &size, 0);
        if (bytes && size > 0 && (*out = malloc((size_t)size))) {
            memcpy(*out, bytes, (size_t)size);
            *len = (size_t)size;
        } else {
            rc = -ENOMEM;
        }
        sqlite3_free(bytes);
    }
    sqlite3_close(db);
    return rc;
}
