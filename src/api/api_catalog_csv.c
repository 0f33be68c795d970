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

/* A number as JSON writes it: the shortest of %.15g and %.17g that reads
 * back exactly (what cJSON prints, without its allocations). */
static void csv_number(struct buf *b, double v)
{
    char text[32];
    if (v == (double)(long long)v && v > -1e15 && v < 1e15) {
        snprintf(text, sizeof(text), "%lld", (long long)v);
    } else {
        snprintf(text, sizeof(text), "%.15g", v);
        if (strtod(text, NULL) != v)
            snprintf(text, sizeof(text), "%.17g", v);
    }
    buf_append(b, text, strlen(text));
}

static void csv_value(struct buf *b, const cJSON *item, const struct cm_field *f, const char *base)
{
    if (f->source == CM_ASSET) {
        char url[2048];
        if (cm_asset_url(item, f->key, base, url, sizeof(url)))
            csv_field(b, url);
        return;
    }
    const cJSON *v = cm_field_value(item, f);
    if (!v)
        return;
    if (cJSON_IsString(v)) {
        csv_field(b, v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        csv_number(b, v->valuedouble);
    } else {
        char *text = cJSON_PrintUnformatted(v); /* arrays (plume_bounds), objects */
        if (!text) {
            b->oom = true;
            return;
        }
        csv_field(b, text);
        free(text);
    }
}

/* Which columns to write; false with e set for an unknown one. */
static bool chosen_columns(struct request *r, bool keep[CM_PLUME_NFIELDS], struct cm_error *e)
{
    struct strlist ex = STRLIST_INIT;
    bool ok = cm_query_all(r, "exclude_columns", &ex) == 0;
    for (size_t c = 0; c < CM_PLUME_NFIELDS; c++)
        keep[c] = CM_PLUME_FIELDS[c].in_csv && !strlist_contains(&ex, CM_PLUME_FIELDS[c].name);
    for (size_t i = 0; ok && i < ex.n; i++) {
        bool known = false;
        for (size_t c = 0; c < CM_PLUME_NFIELDS; c++)
            known |= CM_PLUME_FIELDS[c].in_csv && strcmp(ex.v[i], CM_PLUME_FIELDS[c].name) == 0;
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

/* One line: the kept columns of the header (item NULL) or of an item. */
static void csv_line(struct buf *b, const bool keep[], const cJSON *item, const char *base)
{
    bool first = true;
    for (size_t c = 0; c < CM_PLUME_NFIELDS; c++) {
        if (!keep[c])
            continue;
        if (!first)
            buf_append(b, ",", 1);
        if (item)
            csv_value(b, item, &CM_PLUME_FIELDS[c], base);
        else
            csv_field(b, CM_PLUME_FIELDS[c].name);
        first = false;
    }
    buf_append(b, "\r\n", 2);
}

static void h_plume_csv(struct request *r)
{
    struct principal p = {0};
    struct cm_search s = {0};
    struct cm_error e;
    e.param[0] = 0; /* set only when a parameter is refused */
    struct viewer v;
    cJSON *items = NULL;
    struct buf b = {0};
    bool keep[CM_PLUME_NFIELDS];
    int rc = 0;
    if (!cm_caller(r, &p, true, &v))
        goto out;
    if (!cm_parse_paging(r, CSV_DEFAULT_LIMIT, CM_MAX_LIMIT, false, &s, &e) ||
        !chosen_columns(r, keep, &e) || !cm_parse_plume_search(r, &v, &s, &e, &rc)) {
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
    char base[320];
    request_base_url(r, base, sizeof(base));
    csv_line(&b, keep, NULL, base);
    const cJSON *it;
    cJSON_ArrayForEach(it, items) csv_line(&b, keep, it, base);
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
