/* GET /api/v1/catalog/plume-csv: the plume list as CSV (RFC 4180: CRLF line
 * ends, a header row on every page, quotes where a value needs them), paged
 * by limit/offset with the total in pagination-* headers, so that a client
 * asks for offset += limit until offset >= pagination-count. The columns are
 * the Plume fields, with the point split into plume_latitude and
 * plume_longitude; exclude_columns (repeated) leaves some out. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/api_catalog_cm.h"
#include "api/baseurl.h"
#include "app.h"
#include "http/server.h"
#include "util/buf.h"

#define CSV_DEFAULT_LIMIT 500

/* Column name, and the Plume member it comes from ("" for the point's
 * coordinates, taken from geometry_json). */
static const char *const COLUMNS[] = {
    "id",
    "plume_id",
    "gas",
    "plume_latitude",
    "plume_longitude",
    "scene_id",
    "scene_timestamp",
    "instrument",
    "platform",
    "emission_auto",
    "emission_uncertainty_auto",
    "plume_bounds",
    "plume_quality",
    "wind_speed_avg_auto",
    "wind_direction_avg_auto",
    "sector",
    "status",
    "published_at",
    "collection",
    "plume_png",
    "plume_rgb_png",
    "plume_tif",
    "rgb_png",
};
#define NCOLUMNS (sizeof(COLUMNS) / sizeof(COLUMNS[0]))

void cm_pagination_headers(struct request *r, int64_t count, int64_t limit, int64_t offset)
{
    char v[24];
    snprintf(v, sizeof(v), "%lld", (long long)count);
    reply_header(r, "pagination-count", v);
    snprintf(v, sizeof(v), "%lld", (long long)limit);
    reply_header(r, "pagination-limit", v);
    snprintf(v, sizeof(v), "%lld", (long long)offset);
    reply_header(r, "pagination-offset", v);
}

/* One field: as is, or quoted with doubled quotes when it holds a comma, a
 * quote, CR or LF. */
static void csv_field(struct buf *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        buf_append(b, s, strlen(s));
        return;
    }
    buf_append(b, "\"", 1);
    for (const char *q; (q = strchr(s, '"')); s = q + 1) {
        buf_append(b, s, (size_t)(q - s));
        buf_append(b, "\"\"", 2);
    }
    buf_append(b, s, strlen(s));
    buf_append(b, "\"", 1);
}

static void csv_value(struct buf *b, const cJSON *v)
{
    if (!v || cJSON_IsNull(v))
        return;
    if (cJSON_IsString(v)) {
        csv_field(b, v->valuestring);
        return;
    }
    char *text = cJSON_PrintUnformatted(v);
    if (!text) {
        b->oom = true;
        return;
    }
    csv_field(b, text);
    free(text);
}

static const cJSON *column_value(const cJSON *plume, const char *col)
{
    bool lat = strcmp(col, "plume_latitude") == 0;
    if (lat || strcmp(col, "plume_longitude") == 0) {
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(plume, "geometry_json");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(g, "coordinates");
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(g, "type");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "Point") != 0)
            return NULL;
        return cJSON_GetArrayItem(c, lat ? 1 : 0);
    }
    return cJSON_GetObjectItemCaseSensitive(plume, col);
}

/* Which columns to write; false with e set for an unknown one. */
static bool chosen_columns(struct request *r, bool keep[NCOLUMNS], struct cm_error *e)
{
    struct strlist ex = STRLIST_INIT;
    bool ok = cm_query_all(r, "exclude_columns", &ex) == 0;
    for (size_t c = 0; c < NCOLUMNS; c++)
        keep[c] = !strlist_contains(&ex, COLUMNS[c]);
    for (size_t i = 0; ok && i < ex.n; i++) {
        bool known = false;
        for (size_t c = 0; c < NCOLUMNS; c++)
            known |= strcmp(ex.v[i], COLUMNS[c]) == 0;
        if (!known) {
            snprintf(e->param, sizeof(e->param), "exclude_columns");
            snprintf(e->type, sizeof(e->type), "enum");
            snprintf(e->msg, sizeof(e->msg), "unknown column \"%.100s\"", ex.v[i]);
            ok = false;
        }
    }
    strlist_free(&ex);
    return ok;
}

static void h_plume_csv(struct request *r)
{
    struct principal p = {0};
    struct cm_search s = {0};
    struct cm_error e;
    e.param[0] = 0; /* set only when a parameter is refused */
    const struct strlist *groups;
    cJSON *items = NULL;
    struct buf b = {0};
    bool keep[NCOLUMNS];
    int rc = 0;
    if (!cm_caller(r, &p, true, &groups))
        goto out;
    if (!cm_parse_paging(r, CSV_DEFAULT_LIMIT, CM_MAX_LIMIT, false, &s, &e) ||
        !chosen_columns(r, keep, &e) || !cm_parse_plume_search(r, groups, &s, &e, &rc)) {
        if (e.param[0])
            cm_reply_invalid(r, &e);
        else
            cm_reply_catalog_error(r, -ENOMEM);
        goto out;
    }
    int64_t count = 0;
    if (rc == 0)
        rc = cm_search_run(request_app(r)->catalog, &s, &count, &items);
    if (rc < 0) {
        cm_reply_catalog_error(r, rc);
        goto out;
    }
    bool first = true;
    for (size_t c = 0; c < NCOLUMNS; c++)
        if (keep[c]) {
            if (!first)
                buf_append(&b, ",", 1);
            buf_append(&b, COLUMNS[c], strlen(COLUMNS[c]));
            first = false;
        }
    buf_append(&b, "\r\n", 2);
    char base[320];
    request_base_url(r, base, sizeof(base));
    const cJSON *it;
    cJSON_ArrayForEach(it, items)
    {
        cJSON *plume = cm_plume_json(it, base);
        if (!plume) {
            b.oom = true;
            break;
        }
        first = true;
        for (size_t c = 0; c < NCOLUMNS; c++)
            if (keep[c]) {
                if (!first)
                    buf_append(&b, ",", 1);
                csv_value(&b, column_value(plume, COLUMNS[c]));
                first = false;
            }
        buf_append(&b, "\r\n", 2);
        cJSON_Delete(plume);
    }
    if (b.oom) {
        cm_reply_catalog_error(r, -ENOMEM);
        goto out;
    }
    cm_pagination_headers(r, count, s.q.limit, s.q.offset);
    reply_header(r, "Content-Disposition", "attachment; filename=\"plumes.csv\"");
    reply_buffer(r, 200, "text/csv; charset=utf-8", b.s, b.n);
    b.s = NULL;
out:
    free(b.s);
    cJSON_Delete(items);
    cm_search_free(&s);
    principal_free(&p);
}

void api_catalog_csv_register(struct server *srv)
{
    server_route(srv, "GET", "/api/v1/catalog/plume-csv", h_plume_csv, 0);
}
