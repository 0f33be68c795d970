/* Unit-test helpers shared by the catalog tests (test_catalog*.c): writing
 * the small documents they import, parsing a geometry. Test code only; header-only (static
 * inline) like pgtest.h. */
#ifndef TESSERA_TEST_CATALOGTEST_H
#define TESSERA_TEST_CATALOGTEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>

#include <cjson/cJSON.h>

#include "catalog/catalog.h"

/* Writes text to dir/name (replacing it). */
static inline void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* A geometry from its GeoJSON text, or NULL when catalog_geom_parse refuses it. */
static inline struct catalog_geom *geom(const char *json)
{
    char err[256];
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    struct catalog_geom *g = catalog_geom_parse(j, err, sizeof(err));
    cJSON_Delete(j);
    return g;
}

#endif
