/* The item properties that the drivers store for filtering and sorting
 * (catalog_driver.h), derived in one place so that every driver, and every
 * migration that fills them in for existing items, classifies values alike:
 * the kinds of filter.h, with strings that are RFC 3339 date-times also
 * carrying their instant. Pure; any thread. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_driver.h"
#include "catalog/filter.h"
#include "util/timeutil.h"

int catalog_props_of(const cJSON *props, struct catalog_prop **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int count = cJSON_IsObject(props) ? cJSON_GetArraySize(props) : 0;
    if (count == 0)
        return 0;
    struct catalog_prop *v = calloc((size_t)count, sizeof(*v));
    if (!v)
        return -ENOMEM;
    size_t k = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, props)
    {
        struct catalog_prop *c = &v[k];
        size_t len = p->string ? strlen(p->string) : 0;
        /* Names a filter could not spell are not stored: nothing could ask
         * for them. */
        if (len == 0 || len > FILTER_MAX_NAME)
            continue;
        memset(c, 0, sizeof(*c));
        c->key = p->string;
        if (cJSON_IsBool(p)) {
            c->kind = CATALOG_PROP_BOOL;
            c->has_num = true;
            c->num = cJSON_IsTrue(p) ? 1 : 0;
        } else if (cJSON_IsNumber(p)) {
            if (!isfinite(p->valuedouble))
                continue;
            c->kind = CATALOG_PROP_NUMBER;
            c->has_num = true;
            c->num = p->valuedouble;
        } else if (cJSON_IsString(p)) {
            int64_t ms;
            c->txt = p->valuestring;
            c->kind = CATALOG_PROP_STRING;
            if (time_parse_rfc3339(p->valuestring, &ms) == 0) {
                c->kind = CATALOG_PROP_TIMESTAMP;
                c->has_num = true;
                c->num = (double)ms;
            }
        } else if (cJSON_IsArray(p)) {
            c->kind = CATALOG_PROP_ARRAY;
        } else if (cJSON_IsObject(p)) {
            c->kind = CATALOG_PROP_OBJECT;
        } else {
            continue; /* null */
        }
        /* JSON objects may repeat a name; the first one wins, as cJSON's
         * lookups (and so the item document's readers) see it. */
        bool dup = false;
        for (size_t i = 0; i < k && !dup; i++)
            dup = strcmp(v[i].key, c->key) == 0;
        if (!dup)
            k++;
    }
    if (k == 0) {
        free(v);
        return 0;
    }
    *out = v;
    *n = k;
    return 0;
}
