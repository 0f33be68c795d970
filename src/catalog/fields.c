/* The fields extension (fields.h): parsing the include/exclude lists and
 * cutting an item down to them. The cut works on the parsed item, after its
 * links and asset hrefs are made absolute, so that what is kept is exactly
 * what a whole item would have shown. Pure functions; any thread. */
#include "catalog/fields.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/filter.h"

static const char *const item_members[] = {"type",     "stac_version", "stac_extensions", "id",
                                           "geometry", "bbox",         "properties",      "links",
                                           "assets",   "collection"};

void catalog_fields_free(struct catalog_fields *f)
{
    strlist_free(&f->include);
    strlist_free(&f->exclude);
    f->active = false;
}

/* Checks a path's shape and adds its normalized form to list. */
static int add_path(struct catalog_fields *f, const char *path, size_t len, bool exclude, char *err,
                    size_t errlen)
{
    char q[80];
    filter_quote(path, len, q, sizeof(q), 60);
    if (f->include.n + f->exclude.n >= FIELDS_MAX_PATHS)
        return filter_fail(err, errlen, "fields: at most %d paths", FIELDS_MAX_PATHS);
    if (len == 0 || len > FIELDS_MAX_PATH)
        return filter_fail(err, errlen, "fields: paths must have 1 to %d bytes", FIELDS_MAX_PATH);
    bool segment_empty = true;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c == '.') {
            if (segment_empty)
                break;
            segment_empty = true;
            continue;
        }
        if (c <= 0x20 || c == 0x7f || strchr("*[]{}\"\\", c) || (i == 0 && (c == '+' || c == '-')))
            return filter_fail(
                err, errlen,
                "fields: unsupported path \"%s\" (dotted member names only: no wildcards, "
                "array indexes, spaces or quotes)",
                q);
        segment_empty = false;
    }
    if (segment_empty)
        return filter_fail(err, errlen, "fields: unsupported path \"%s\" (empty member name)", q);
    size_t first = strcspn(path, ".");
    if (first > len)
        first = len;
    bool member = false;
    for (size_t i = 0; i < sizeof(item_members) / sizeof(item_members[0]); i++)
        if (strlen(item_members[i]) == first && strncmp(path, item_members[i], first) == 0)
            member = true;
    char norm[FIELDS_MAX_PATH + 16];
    snprintf(norm, sizeof(norm), "%s%.*s", member ? "" : "properties.", (int)len, path);
    return strlist_add(exclude ? &f->exclude : &f->include, norm);
}

int catalog_fields_parse_text(const char *text, struct catalog_fields *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof(*f));
    f->active = true;
    int rc = 0;
    for (const char *p = text; *p && rc == 0;) {
        size_t len = strcspn(p, ",");
        bool exclude = false;
        if (len && (*p == '-' || *p == '+' || *p == ' ')) {
            /* '+' often arrives decoded as a space. */
            exclude = *p == '-';
            p++;
            len--;
        }
        rc = add_path(f, p, len, exclude, err, errlen);
        p += len;
        if (*p == ',' && !p[1])
            rc = rc ? rc : filter_fail(err, errlen, "fields: empty path after the last comma");
        if (*p)
            p++;
    }
    if (rc < 0)
        catalog_fields_free(f);
    return rc;
}

int catalog_fields_parse_json(const cJSON *obj, struct catalog_fields *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof(*f));
    if (!cJSON_IsObject(obj))
        return filter_fail(err, errlen,
                           "fields must be an object with \"include\" and/or \"exclude\" "
                           "arrays of strings");
    f->active = true;
    int rc = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, obj)
    {
        bool exclude = strcmp(m->string, "exclude") == 0;
        if (!exclude && strcmp(m->string, "include") != 0) {
            char q[40];
            filter_quote(m->string, strlen(m->string), q, sizeof(q), 30);
            rc = filter_fail(err, errlen,
                             "fields: unknown member \"%s\" (expected include, exclude)", q);
            break;
        }
        if (cJSON_IsNull(m))
            continue;
        if (!cJSON_IsArray(m)) {
            rc = filter_fail(err, errlen, "fields.%s must be an array of strings", m->string);
            break;
        }
        const cJSON *s;
        cJSON_ArrayForEach(s, m)
        {
            if (!cJSON_IsString(s)) {
                rc = filter_fail(err, errlen, "fields.%s must be an array of strings", m->string);
                break;
            }
            if ((rc = add_path(f, s->valuestring, strlen(s->valuestring), exclude, err, errlen)) <
                0)
                break;
        }
        if (rc < 0)
            break;
    }
    if (rc < 0)
        catalog_fields_free(f);
    return rc;
}

/* True when some path of l lies strictly below path. */
static bool below(const struct strlist *l, const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < l->n; i++)
        if (strncmp(l->v[i], path, n) == 0 && l->v[i][n] == '.')
            return true;
    return false;
}

/* Removes the excluded members under obj (at path), which is included. */
static void cut_excluded(cJSON *obj, const char *path, const struct strlist *ex)
{
    cJSON *c = obj->child;
    while (c) {
        cJSON *nxt = c->next;
        char q[2 * FIELDS_MAX_PATH];
        if (c->string && snprintf(q, sizeof(q), "%s.%s", path, c->string) < (int)sizeof(q)) {
            if (strlist_contains(ex, q))
                cJSON_Delete(cJSON_DetachItemViaPointer(obj, c));
            else if (cJSON_IsObject(c) && below(ex, q))
                cut_excluded(c, q, ex);
        }
        c = nxt;
    }
}

/* Keeps the members of obj (at path, "" for the item) that are included and
 * not excluded. */
static void keep(cJSON *obj, const char *path, const struct strlist *in, const struct strlist *ex)
{
    cJSON *c = obj->child;
    while (c) {
        cJSON *nxt = c->next;
        char q[2 * FIELDS_MAX_PATH];
        bool fits = c->string && snprintf(q, sizeof(q), "%s%s%s", path, *path ? "." : "",
                                          c->string) < (int)sizeof(q);
        if (!fits || strlist_contains(ex, q)) {
            cJSON_Delete(cJSON_DetachItemViaPointer(obj, c));
        } else if (strlist_contains(in, q)) {
            if (cJSON_IsObject(c) && below(ex, q))
                cut_excluded(c, q, ex);
        } else if (cJSON_IsObject(c) && below(in, q)) {
            keep(c, q, in, ex);
        } else {
            cJSON_Delete(cJSON_DetachItemViaPointer(obj, c));
        }
        c = nxt;
    }
}

void catalog_fields_apply(const struct catalog_fields *f, cJSON *item)
{
    static const char *const defaults[] = {"id",       "type",       "stac_version",
                                           "geometry", "bbox",       "links",
                                           "assets",   "collection", "properties.datetime"};
    if (!f->active || !cJSON_IsObject(item))
        return;
    struct strlist in = STRLIST_INIT;
    bool ok = strlist_copy(&in, &f->include) == 0;
    for (size_t i = 0; ok && i < sizeof(defaults) / sizeof(defaults[0]); i++)
        ok = strlist_add(&in, defaults[i]) == 0;
    /* An item whose datetime is null has its interval instead. */
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(item, "properties");
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(props, "datetime");
    if (ok && (!dt || cJSON_IsNull(dt)))
        ok = strlist_add(&in, "properties.start_datetime") == 0 &&
             strlist_add(&in, "properties.end_datetime") == 0;
    if (ok)
        keep(item, "", &in, &f->exclude);
    strlist_free(&in);
}
