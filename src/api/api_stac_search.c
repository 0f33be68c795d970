/* STAC search parameters into a catalog query (api_stac_search.h). */
#include "api/api_stac_search.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/server.h"

#define MAX_OFFSET 1000000000LL

void search_free(struct search *s)
{
    stac_ext_free(&s->ext);
    strlist_free(&s->ids);
    strlist_free(&s->colls);
    catalog_geom_free(s->geom);
    free(s->page.key.s);
}

int parse_sign(const char *v, bool *sign, char *msg, size_t msglen)
{
    if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
        snprintf(msg, msglen, "sign must be true or false");
        return -EINVAL;
    }
    *sign = strcmp(v, "true") == 0;
    return 0;
}

/* Strict decimal integer (optional leading '-'), no spaces, ≤ 18 digits. */
static bool parse_int(const char *s, long long *out)
{
    const char *p = s;
    if (*p == '-')
        p++;
    size_t n = strlen(p);
    if (n == 0 || n > 18)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)p[i]))
            return false;
    *out = strtoll(s, NULL, 10);
    return true;
}

/* A limit above the maximum is served as the maximum, not refused (STAC API
 * item search, OGC API Features /req/core/fc-limit-response-1); the next
 * links repeat the limit as given, so every page is clamped the same way. */
static int set_limit(struct search *s, bool ok, long long v)
{
    if (!ok || v < 1) {
        snprintf(s->msg, sizeof(s->msg),
                 "limit must be a positive integer (at most %d items are returned)",
                 STAC_MAX_LIMIT);
        return -EINVAL;
    }
    s->q.limit = v > STAC_MAX_LIMIT ? STAC_MAX_LIMIT : v;
    return 0;
}

static int set_offset(struct search *s, bool ok, long long v)
{
    if (!ok || v < 0 || v > MAX_OFFSET) {
        snprintf(s->msg, sizeof(s->msg), "offset must be an integer between 0 and %lld",
                 MAX_OFFSET);
        return -EINVAL;
    }
    s->q.offset = v;
    return 0;
}

static int set_intersects(struct search *s, const cJSON *geometry)
{
    char err[200];
    s->geom = catalog_geom_parse(geometry, err, sizeof(err));
    if (!s->geom) {
        snprintf(s->msg, sizeof(s->msg), "intersects must be a GeoJSON geometry: %s", err);
        return -EINVAL;
    }
    s->q.intersects = s->geom;
    return 0;
}

static int check_exclusive(struct search *s)
{
    if (s->q.has_bbox && s->q.intersects) {
        snprintf(s->msg, sizeof(s->msg), "bbox and intersects cannot be used together");
        return -EINVAL;
    }
    return 0;
}

/* Parses GET query parameters, the extensions' too (api_stac_ext.c);
 * unknown ones (access_token, ...) are ignored. */
/* The query parameters a search takes (core, item search, the extensions,
 * and the credential). Anything else is refused by name: a client that
 * believes a parameter works must not get an unfiltered answer. */
static const char *const SEARCH_PARAMS[] = {
    "limit", "offset", "bbox", "datetime", "ids", "collections", "intersects", "query",
    "filter", "filter-lang", "filter-crs", "sortby", "fields", "sign",
    "access_token", /* last: the query string only, not a POST body member */
};
#define NSEARCH_PARAMS (sizeof(SEARCH_PARAMS) / sizeof(SEARCH_PARAMS[0]))

struct param_check {
    unsigned seen; /* bit i: SEARCH_PARAMS[i] was given */
    char *msg;
    size_t msglen;
    size_t known; /* how many of SEARCH_PARAMS apply */
};

static int check_param(void *ctx, const char *key, const char *value)
{
    (void)value;
    struct param_check *c = ctx;
    for (size_t i = 0; i < c->known; i++) {
        if (strcmp(key, SEARCH_PARAMS[i]) != 0)
            continue;
        if (c->seen & (1u << i)) {
            snprintf(c->msg, c->msglen, "parameter \"%s\" is given more than once", key);
            return -EINVAL;
        }
        c->seen |= 1u << i;
        return 0;
    }
    snprintf(c->msg, c->msglen,
             "unknown parameter \"%.64s\": a search takes limit, offset, bbox, datetime, ids, "
             "collections, intersects, query, filter, filter-lang, filter-crs, sortby, fields "
             "and sign",
             key ? key : "");
    return -EINVAL;
}

int search_from_query(struct request *r, struct search *s)
{
    struct param_check pc = {0, s->msg, sizeof(s->msg), NSEARCH_PARAMS};
    if (request_query_each(r, check_param, &pc) < 0)
        return -EINVAL;
    const char *v;
    long long n = 0;
    char err[200];
    s->q.limit = DEFAULT_LIMIT;
    /* (The parse must run before n is read: argument order is unspecified.) */
    bool ok;
    if ((v = request_query(r, "limit")) && (ok = parse_int(v, &n), set_limit(s, ok, n) < 0))
        return -EINVAL;
    if ((v = request_query(r, "offset")) && (ok = parse_int(v, &n), set_offset(s, ok, n) < 0))
        return -EINVAL;
    if ((v = request_query(r, "bbox"))) {
        if (catalog_parse_bbox_text(v, s->q.bbox, err, sizeof(err)) < 0) {
            snprintf(s->msg, sizeof(s->msg), "%s", err);
            return -EINVAL;
        }
        s->q.has_bbox = true;
    }
    if ((v = request_query(r, "datetime")) &&
        catalog_parse_datetime(v, &s->q.has_start, &s->q.start, &s->q.has_end, &s->q.end, s->msg,
                               sizeof(s->msg)) < 0)
        return -EINVAL;
    if ((v = request_query(r, "ids")) && strlist_split(&s->ids, v) < 0)
        return -ENOMEM;
    if ((v = request_query(r, "collections")) && strlist_split(&s->colls, v) < 0)
        return -ENOMEM;
    if ((v = request_query(r, "intersects"))) {
        cJSON *g = cJSON_Parse(v);
        int rc = set_intersects(s, g);
        cJSON_Delete(g);
        if (rc < 0)
            return rc;
    }
    if ((v = request_query(r, "sign")) && parse_sign(v, &s->sign, s->msg, sizeof(s->msg)) < 0)
        return -EINVAL;
    int rc = stac_ext_from_query(r, &s->ext, s->msg, sizeof(s->msg));
    if (rc < 0)
        return rc;
    s->q.ids = &s->ids;
    s->q.collections = &s->colls;
    return check_exclusive(s);
}

static int string_array(struct search *s, const cJSON *arr, const char *name, struct strlist *out)
{
    if (!cJSON_IsArray(arr)) {
        snprintf(s->msg, sizeof(s->msg), "%s must be an array of strings", name);
        return -EINVAL;
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, arr)
    {
        if (!cJSON_IsString(c)) {
            snprintf(s->msg, sizeof(s->msg), "%s must be an array of strings", name);
            return -EINVAL;
        }
        if (strlist_add(out, c->valuestring) < 0)
            return -ENOMEM;
    }
    return 0;
}

static bool json_int(const cJSON *v, long long *out)
{
    /* Range first: converting an out-of-range double to an integer is undefined. */
    if (!cJSON_IsNumber(v) || !(v->valuedouble <= 1e15 && v->valuedouble >= -1e15) ||
        v->valuedouble != (double)(long long)v->valuedouble)
        return false;
    *out = (long long)v->valuedouble;
    return true;
}

int search_from_body(const cJSON *body, struct search *s)
{
    struct param_check pc = {0, s->msg, sizeof(s->msg), NSEARCH_PARAMS - 1};
    const cJSON *member;
    cJSON_ArrayForEach(member, body)
    {
        if (check_param(&pc, member->string, NULL) < 0)
            return -EINVAL;
    }
    const cJSON *v;
    long long n = 0;
    char err[200];
    s->q.limit = DEFAULT_LIMIT;
    bool ok;
    if ((v = cJSON_GetObjectItemCaseSensitive(body, "limit")) && !cJSON_IsNull(v) &&
        (ok = json_int(v, &n), set_limit(s, ok, n) < 0))
        return -EINVAL;
    if ((v = cJSON_GetObjectItemCaseSensitive(body, "offset")) && !cJSON_IsNull(v) &&
        (ok = json_int(v, &n), set_offset(s, ok, n) < 0))
        return -EINVAL;
    if ((v = cJSON_GetObjectItemCaseSensitive(body, "bbox")) && !cJSON_IsNull(v)) {
        if (catalog_parse_bbox_json(v, s->q.bbox, err, sizeof(err)) < 0) {
            snprintf(s->msg, sizeof(s->msg), "%s", err);
            return -EINVAL;
        }
        s->q.has_bbox = true;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(body, "sign")) && !cJSON_IsNull(v)) {
        if (!cJSON_IsBool(v)) {
            snprintf(s->msg, sizeof(s->msg), "sign must be true or false");
            return -EINVAL;
        }
        s->sign = cJSON_IsTrue(v);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(body, "datetime")) && !cJSON_IsNull(v)) {
        if (!cJSON_IsString(v) ||
            catalog_parse_datetime(v->valuestring, &s->q.has_start, &s->q.start, &s->q.has_end,
                                   &s->q.end, s->msg, sizeof(s->msg)) < 0) {
            if (!cJSON_IsString(v))
                snprintf(s->msg, sizeof(s->msg), "datetime must be a string");
            return -EINVAL;
        }
    }
    int rc;
    if ((v = cJSON_GetObjectItemCaseSensitive(body, "ids")) && !cJSON_IsNull(v) &&
        (rc = string_array(s, v, "ids", &s->ids)) < 0)
        return rc;
    if ((v = cJSON_GetObjectItemCaseSensitive(body, "collections")) && !cJSON_IsNull(v) &&
        (rc = string_array(s, v, "collections", &s->colls)) < 0)
        return rc;
    if ((v = cJSON_GetObjectItemCaseSensitive(body, "intersects")) && !cJSON_IsNull(v) &&
        (rc = set_intersects(s, v)) < 0)
        return rc;
    if ((rc = stac_ext_from_body(body, &s->ext, s->msg, sizeof(s->msg))) < 0)
        return rc;
    s->q.ids = &s->ids;
    s->q.collections = &s->colls;
    return check_exclusive(s);
}
