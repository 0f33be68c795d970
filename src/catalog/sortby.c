/* The STAC API sort extension's two spellings of a sort order: GET
 * "sortby=+a,-b" and POST [{"field": "a", "direction": "desc"}]. Fields are
 * item properties ("properties.x" or "x") or id, collection and datetime.
 * Strict: an empty or repeated field, an unknown direction or member, or
 * more than SORT_MAX_KEYS keys is an error that names it. Pure functions;
 * any thread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/filter.h"

void catalog_sort_free(struct catalog_sort *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->keys[i].prop);
    s->n = 0;
}

static bool same_key(const struct catalog_sort_key *a, const struct catalog_sort_key *b)
{
    if (a->field != b->field)
        return false;
    return a->field != FILTER_FIELD_PROPERTY || strcmp(a->prop, b->prop) == 0;
}

/* Appends the field name[0..len) with direction desc. */
static int add_key(struct catalog_sort *s, const char *name, size_t len, bool desc, char *err,
                   size_t errlen)
{
    char q[80];
    filter_quote(name, len, q, sizeof(q), 60);
    if (s->n == SORT_MAX_KEYS)
        return filter_fail(err, errlen, "sortby: at most %d fields", SORT_MAX_KEYS);
    char *copy = strndup(name, len);
    if (!copy)
        return -ENOMEM;
    struct catalog_sort_key k = {.desc = desc};
    const char *prop;
    if (len == 0 || strlen(copy) != len || !filter_field_of(copy, true, &k.field, &prop)) {
        free(copy);
        return filter_fail(err, errlen, "sortby: invalid field name \"%s\"", q);
    }
    if (prop && !(k.prop = strdup(prop))) {
        free(copy);
        return -ENOMEM;
    }
    free(copy);
    for (size_t i = 0; i < s->n; i++) {
        if (same_key(&s->keys[i], &k)) {
            free(k.prop);
            return filter_fail(err, errlen, "sortby: field \"%s\" is given twice", q);
        }
    }
    s->keys[s->n++] = k;
    return 0;
}

int catalog_sort_parse_text(const char *text, struct catalog_sort *out, char *err, size_t errlen)
{
    out->n = 0;
    const char *p = text;
    int rc = 0;
    if (!*text)
        return filter_fail(err, errlen, "sortby is empty");
    for (;;) {
        size_t len = strcspn(p, ",");
        bool desc = false;
        if (len && (*p == '+' || *p == ' ' || *p == '-')) {
            desc = *p == '-';
            p++;
            len--;
        }
        /* After the one direction sign: no second sign, no spaces. */
        if (len && (*p == '+' || *p == '-' || *p == ' ' || memchr(p, ' ', len))) {
            char q[80];
            filter_quote(p, len, q, sizeof(q), 60);
            rc = filter_fail(err, errlen, "sortby: invalid field name \"%s\"", q);
        }
        if (rc == 0)
            rc = add_key(out, p, len, desc, err, errlen);
        if (rc < 0)
            break;
        p += len;
        if (!*p)
            break;
        p++; /* the comma */
    }
    if (rc < 0)
        catalog_sort_free(out);
    return rc;
}

int catalog_sort_parse_json(const cJSON *arr, struct catalog_sort *out, char *err, size_t errlen)
{
    out->n = 0;
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) < 1)
        return filter_fail(err, errlen,
                           "sortby must be a non-empty array of {\"field\": ..., \"direction\": "
                           "\"asc\"|\"desc\"} objects");
    const cJSON *k;
    int rc = 0, i = 0;
    cJSON_ArrayForEach(k, arr)
    {
        const cJSON *field = cJSON_GetObjectItemCaseSensitive(k, "field");
        const cJSON *dir = cJSON_GetObjectItemCaseSensitive(k, "direction");
        if (!cJSON_IsObject(k) || !cJSON_IsString(field)) {
            rc =
                filter_fail(err, errlen, "sortby[%d] must be an object with a string \"field\"", i);
            break;
        }
        const cJSON *m;
        cJSON_ArrayForEach(m, k)
        {
            if (strcmp(m->string, "field") != 0 && strcmp(m->string, "direction") != 0) {
                char q[40];
                filter_quote(m->string, strlen(m->string), q, sizeof(q), 30);
                rc = filter_fail(err, errlen, "sortby[%d]: unknown member \"%s\"", i, q);
                break;
            }
        }
        if (rc < 0)
            break;
        bool desc = false;
        if (dir && !cJSON_IsNull(dir)) {
            if (cJSON_IsString(dir) && strcmp(dir->valuestring, "desc") == 0) {
                desc = true;
            } else if (!cJSON_IsString(dir) || strcmp(dir->valuestring, "asc") != 0) {
                char q[40] = "(not a string)";
                if (cJSON_IsString(dir))
                    filter_quote(dir->valuestring, strlen(dir->valuestring), q, sizeof(q), 30);
                rc = filter_fail(err, errlen,
                                 "sortby[%d]: direction must be \"asc\" or \"desc\", not %s", i, q);
                break;
            }
        }
        if ((rc = add_key(out, field->valuestring, strlen(field->valuestring), desc, err, errlen)) <
            0)
            break;
        i++;
    }
    if (rc < 0)
        catalog_sort_free(out);
    return rc;
}
