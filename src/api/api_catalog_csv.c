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
#include "util/jsonscan.h"

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

/* What csv_line writes while it reads one item's template. */
struct csv_rows {
    struct buf *b;
    const bool *keep;
    const char *base;
    struct buf text; /* an unescaped string */
};

/* One value as the platform writes it: a string as it is (an asset as its
 * URL), anything else as its JSON text, which the template has as cJSON
 * printed it: that is what printing the parsed value gives again (numbers
 * in the shortest of %.15g and %.17g that reads back, compact arrays and
 * objects), so the text is written without parsing it. */
static void csv_value(struct csv_rows *w, const struct jsonscan *v, const struct cm_field *f)
{
    if (v->type == JSONSCAN_NONE)
        return;
    w->text.n = 0;
    if (!buf_reserve(&w->text, v->len)) {
        w->b->oom = true;
        return;
    }
    char url[2048];
    if (v->type != JSONSCAN_STRING) {
        memcpy(w->text.s, v->p, v->len);
        w->text.s[v->len] = 0;
        csv_field(w->b, w->text.s);
    } else if (jsonscan_string(v, w->text.s) < 0) {
        return; /* not from cJSON, which escapes correctly */
    } else if (f->source != CM_ASSET) {
        csv_field(w->b, w->text.s);
    } else if (cm_template_asset_url(w->text.s, w->base, url, sizeof(url))) {
        csv_field(w->b, url);
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

/* The header line. */
static void csv_header(struct buf *b, const bool keep[])
{
    bool first = true;
    for (size_t c = 0; c < CM_PLUME_NFIELDS; c++) {
        if (!keep[c])
            continue;
        if (!first)
            buf_append(b, ",", 1);
        csv_field(b, CM_PLUME_FIELDS[c].name);
        first = false;
    }
    buf_append(b, "\r\n", 2);
}

/* One line: the kept columns of an item, read from its template without
 * parsing it (catalog_item_fn). */
static int csv_line(void *ctx, const char *collection, const char *id, const char *tpl, size_t len)
{
    struct csv_rows *w = ctx;
    struct jsonscan vals[CM_PLUME_NFIELDS];
    bool first = true;
    (void)collection;
    (void)id;
    cm_scan_fields(tpl, len, CM_PLUME_FIELDS, CM_PLUME_NFIELDS, vals);
    for (size_t c = 0; c < CM_PLUME_NFIELDS; c++) {
        if (!w->keep[c])
            continue;
        if (!first)
            buf_append(w->b, ",", 1);
        csv_value(w, &vals[c], &CM_PLUME_FIELDS[c]);
        first = false;
    }
    buf_append(w->b, "\r\n", 2);
    return w->b->oom ? -ENOMEM : 0;
}

static void h_plume_csv(struct request *r)
{
    struct principal p = {0};
    struct cm_search s = {0};
    struct cm_error e;
    e.param[0] = 0; /* set only when a parameter is refused */
    struct viewer v;
    struct buf b = {0};
    char base[320];
    struct csv_rows w = {.b = &b, .base = base};
    bool keep[CM_PLUME_NFIELDS];
    int rc = 0;
    if (!cm_caller(r, &p, true, &v))
        goto out;
    if (!cm_parse_paging(r, CSV_DEFAULT_LIMIT, CM_MAX_LIMIT, false, &s, &e) ||
        !chosen_columns(r, keep, &e) || !cm_parse_plume_search(r, &v, &s, &e, &rc)) {
        if (e.param[0])
            cm_reply_invalid(r, &e);
        else
            api_reply_catalog_error(r, -ENOMEM);
        goto out;
    }
    int64_t count = 0;
    request_base_url(r, base, sizeof(base));
    w.keep = keep;
    csv_header(&b, keep);
    if (rc == 0)
        rc = cm_search_templates(request_app(r)->catalog, &s, &count, csv_line, &w);
    if (rc == 0 && b.oom)
        rc = -ENOMEM;
    if (rc < 0) {
        api_reply_catalog_error(r, rc);
        goto out;
    }
    cm_pagination_headers(r, count, s.q.limit, s.q.offset);
    reply_header(r, "Content-Disposition", "attachment; filename=\"plumes.csv\"");
    reply_buffer(r, 200, "text/csv; charset=utf-8", b.s, b.n);
    b.s = NULL;
out:
    free(b.s);
    free(w.text.s);
    cm_search_free(&s);
    principal_free(&p);
}

void api_catalog_csv_register(struct server *srv)
{
    server_route(srv, "GET", "/api/v1/catalog/plume-csv", h_plume_csv, 0);
}
