/* libFuzzer target for the STAC search parameter parsers of catalog.h:
 * bbox (text and JSON), datetime (instant or interval with ".."), and GeoJSON
 * geometries for "intersects" (parse, bbox, intersection with a fixed
 * polygon and with itself). The first byte picks the parser. Pure functions;
 * single-threaded. (The full GET/POST /search request path is covered by
 * fuzz_http through the real server.) */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "catalog/catalog.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct catalog_geom *square;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    cJSON *g = cJSON_Parse("{\"type\":\"Polygon\",\"coordinates\":"
                           "[[[-10,-10],[10,-10],[10,10],[-10,10],[-10,-10]]]}");
    char err[256];
    square = g ? catalog_geom_parse(g, err, sizeof(err)) : NULL;
    cJSON_Delete(g);
    if (!square)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t mode = data[0] % 4;
    char *s = fuzz_cstr(data + 1, size - 1);
    char err[256];
    double bbox[4];
    if (mode == 0) {
        (void)catalog_parse_bbox_text(s, bbox, err, sizeof(err));
    } else if (mode == 1) {
        bool hs, he;
        int64_t start, end;
        if (catalog_parse_datetime(s, &hs, &start, &he, &end, err, sizeof(err)) == 0 && hs &&
            he && start > end)
            abort(); /* an accepted interval is never reversed */
    } else {
        cJSON *j = cJSON_ParseWithLength(s, size - 1);
        if (j) {
            if (mode == 2) {
                (void)catalog_parse_bbox_json(j, bbox, err, sizeof(err));
            } else {
                struct catalog_geom *g = catalog_geom_parse(j, err, sizeof(err));
                if (g) {
                    catalog_geom_bbox(g, bbox);
                    (void)catalog_geom_intersects(g, square);
                    (void)catalog_geom_intersects(square, g);
                    (void)catalog_geom_intersects(g, g);
                    catalog_geom_free(g);
                }
            }
            cJSON_Delete(j);
        }
    }
    free(s);
    return 0;
}
