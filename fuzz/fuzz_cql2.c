/* libFuzzer target for the STAC extension parsers (filter.h, fields.h): CQL2
 * text and CQL2 JSON filters, the query extension's JSON, sortby as text and
 * JSON, and fields as text and JSON. The first byte picks the parser; the
 * rest is its input. Checks, beyond "no crash": a parser that fails says
 * why in a non-empty message and leaves no filter behind; an
 * accepted filter survives normalization and lists its properties; fields
 * apply to a fixed item without breaking it. Single-threaded; pure. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "catalog/fields.h"
#include "catalog/filter.h"
#include "fuzz_common.h"
#include "util/strlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum mode {
    M_CQL2_TEXT,
    M_CQL2_JSON,
    M_QUERY,
    M_SORT_TEXT,
    M_SORT_JSON,
    M_FIELDS_TEXT,
    M_FIELDS_JSON,
    M_COUNT
};

static const char item_json[] =
    "{\"type\":\"Feature\",\"stac_version\":\"1.0.0\",\"id\":\"i\",\"collection\":\"c\","
    "\"geometry\":{\"type\":\"Point\",\"coordinates\":[1,2]},\"bbox\":[1,2,1,2],"
    "\"properties\":{\"datetime\":\"2020-01-01T00:00:00Z\",\"n\":1,\"s\":\"x\","
    "\"o\":{\"a\":[1,2]}},\"links\":[{\"rel\":\"self\",\"href\":\"http://h/i\"}],"
    "\"assets\":{\"d\":{\"href\":\"http://h/d\",\"type\":\"image/tiff\"}}}";

/* err must be a non-empty string within its buffer when rc < 0. */
static void check_err(int rc, const char *err, size_t len)
{
    if (rc < 0 && (err[0] == '\0' || memchr(err, '\0', len) == NULL))
        abort();
}

static void check_filter(int rc, struct filter_node *f)
{
    if (rc < 0 && f)
        abort();
    if (!f)
        return;
    filter_normalize(&f);
    struct strlist props = STRLIST_INIT;
    if (f && filter_properties(f, &props) < 0)
        abort();
    strlist_free(&props);
    filter_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum mode mode = (enum mode)(data[0] % M_COUNT);
    char *s = fuzz_cstr(data + 1, size - 1);
    char err[320];
    err[0] = '\0';
    struct filter_node *f = NULL;
    int rc;
    if (mode == M_CQL2_TEXT) {
        rc = filter_parse_cql2_text(s, &f, err, sizeof(err));
        check_err(rc, err, sizeof(err));
        check_filter(rc, f);
    } else if (mode == M_SORT_TEXT) {
        struct catalog_sort sort = {0};
        rc = catalog_sort_parse_text(s, &sort, err, sizeof(err));
        check_err(rc, err, sizeof(err));
        catalog_sort_free(&sort);
    } else if (mode == M_FIELDS_TEXT) {
        struct catalog_fields fl = {0};
        rc = catalog_fields_parse_text(s, &fl, err, sizeof(err));
        check_err(rc, err, sizeof(err));
        if (rc == 0) {
            cJSON *item = cJSON_Parse(item_json);
            catalog_fields_apply(&fl, item);
            char *out = cJSON_PrintUnformatted(item);
            if (!out || !cJSON_IsObject(item))
                abort();
            free(out);
            cJSON_Delete(item);
        }
        catalog_fields_free(&fl);
    } else {
        cJSON *json = cJSON_Parse(s);
        if (json) {
            if (mode == M_CQL2_JSON) {
                rc = filter_parse_cql2_json(json, &f, err, sizeof(err));
                check_err(rc, err, sizeof(err));
                check_filter(rc, f);
            } else if (mode == M_QUERY) {
                rc = filter_parse_query(json, &f, err, sizeof(err));
                check_err(rc, err, sizeof(err));
                check_filter(rc, f);
            } else if (mode == M_SORT_JSON) {
                struct catalog_sort sort = {0};
                rc = catalog_sort_parse_json(json, &sort, err, sizeof(err));
                check_err(rc, err, sizeof(err));
                catalog_sort_free(&sort);
            } else {
                struct catalog_fields fl = {0};
                rc = catalog_fields_parse_json(json, &fl, err, sizeof(err));
                check_err(rc, err, sizeof(err));
                if (rc == 0) {
                    cJSON *item = cJSON_Parse(item_json);
                    catalog_fields_apply(&fl, item);
                    if (!cJSON_IsObject(item))
                        abort();
                    cJSON_Delete(item);
                }
                catalog_fields_free(&fl);
            }
            cJSON_Delete(json);
        }
    }
    free(s);
    return 0;
}
