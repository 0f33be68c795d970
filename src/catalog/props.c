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
            if (time_parse_rfc3339_wide(p->valuestring, &ms) == 0) {
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

static bool has_num(int kind)
{
    return kind == CATALOG_PROP_BOOL || kind == CATALOG_PROP_NUMBER ||
           kind == CATALOG_PROP_TIMESTAMP;
}

static bool has_txt(int kind)
{
    return kind == CATALOG_PROP_STRING || kind == CATALOG_PROP_TIMESTAMP;
}

int catalog_props_pack(const struct catalog_prop *props, size_t n, uint8_t **out, size_t *len)
{
    size_t total = 0;
    *out = NULL;
    *len = 0;
    for (size_t i = 0; i < n; i++) {
        total += 2 + strlen(props[i].key) + 1;
        if (has_num(props[i].kind))
            total += sizeof(double);
        if (has_txt(props[i].kind))
            total += 4 + strlen(props[i].txt);
    }
    if (total == 0)
        return 0;
    uint8_t *rec = malloc(total), *o = rec;
    if (!rec)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        uint16_t kl = (uint16_t)strlen(props[i].key); /* names are at most FILTER_MAX_NAME */
        memcpy(o, &kl, 2);
        memcpy(o + 2, props[i].key, kl);
        o += 2 + kl;
        *o++ = (uint8_t)props[i].kind;
        if (has_num(props[i].kind)) {
            memcpy(o, &props[i].num, sizeof(double));
            o += sizeof(double);
        }
        if (has_txt(props[i].kind)) {
            uint32_t tl = (uint32_t)strlen(props[i].txt);
            memcpy(o, &tl, 4);
            memcpy(o + 4, props[i].txt, tl);
            o += 4 + tl;
        }
    }
    *out = rec;
    *len = total;
    return 0;
}

bool catalog_props_find(const uint8_t *rec, size_t len, const char *key, size_t keylen,
                        struct catalog_prop *p, size_t *txtlen)
{
    size_t i = 0;
    while (rec && i + 3 <= len) {
        uint16_t kl;
        memcpy(&kl, rec + i, 2);
        if (i + 2 + kl + 1 > len)
            return false;
        const uint8_t *k = rec + i + 2;
        int kind = rec[i + 2 + kl];
        i += 2 + (size_t)kl + 1;
        double num = 0;
        const char *txt = NULL;
        uint32_t tl = 0;
        if (has_num(kind)) {
            if (i + sizeof(double) > len)
                return false;
            memcpy(&num, rec + i, sizeof(double));
            i += sizeof(double);
        }
        if (has_txt(kind)) {
            if (i + 4 > len)
                return false;
            memcpy(&tl, rec + i, 4);
            if (tl > len - i - 4)
                return false;
            txt = (const char *)rec + i + 4;
            i += 4 + (size_t)tl;
        }
        if (kl == keylen && memcmp(k, key, keylen) == 0) {
            p->key = NULL;
            p->kind = kind;
            p->has_num = has_num(kind);
            p->num = num;
            p->txt = txt;
            *txtlen = tl;
            return true;
        }
    }
    return false;
}
