/* Route patterns: literal segments, "{}" (one segment) and a final "{*}"
 * (the rest of the path). Routes are registered before server_start and
 * read-only after, so matching needs no lock. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"
#include "http/metrics.h"
#include "util/array.h"

/* Splits path in place on '/', skipping empty segments (so a trailing slash
 * does not matter). Returns the count, or -1 when there are too many. */
static int split_path(char *path, char **segs, size_t max)
{
    size_t n = 0;
    for (char *p = path; *p;) {
        if (*p == '/') {
            *p++ = '\0';
            continue;
        }
        if (n == max)
            return -1;
        segs[n++] = p;
        while (*p && *p != '/')
            p++;
    }
    return (int)n;
}

/* FNV-1a of a segment: a route whose first segment is literal is skipped on
 * a hash compare, before any string compare. */
static uint32_t segment_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static int bucket_add(struct route_bucket *b, size_t route)
{
    if (ARRAY_RESERVE(b->idx, b->cap, b->n + 1, 8) < 0)
        return -ENOMEM;
    b->idx[b->n++] = route;
    return 0;
}

int server_route(struct server *srv, const char *method, const char *pattern, route_handler handler,
                 unsigned flags)
{
    if (ARRAY_RESERVE(srv->routes, srv->cap, srv->nroutes + 1, 32) < 0)
        return -ENOMEM;
    struct route *r = &srv->routes[srv->nroutes];
    memset(r, 0, sizeof(*r));
    snprintf(r->method, sizeof(r->method), "%s", method);
    r->pattern = strdup(pattern);
    char *work = strdup(pattern);
    if (!r->pattern || !work) {
        free(r->pattern);
        free(work);
        return -ENOMEM;
    }
    char *segs[MAX_SEGMENTS];
    int n = split_path(work, segs, MAX_SEGMENTS);
    for (int i = 0; i < n; i++) {
        r->segs[i] = strdup(segs[i]);
        r->kinds[i] = strcmp(segs[i], "{*}") == 0  ? SEG_TAIL
                      : strcmp(segs[i], "{}") == 0 ? SEG_PARAM
                                                   : SEG_LITERAL;
        r->has_tail |= r->kinds[i] == SEG_TAIL;
    }
    r->nsegs = n > 0 ? (size_t)n : 0;
    r->first_hash = n > 0 && r->kinds[0] == SEG_LITERAL ? segment_hash(r->segs[0]) : 0;
    free(work);
    r->handler = handler;
    r->flags = flags;
    r->metrics = metrics_route(method, pattern);
    size_t i = srv->nroutes++;
    if (r->nsegs && r->kinds[0] == SEG_LITERAL)
        return bucket_add(&srv->buckets[r->first_hash % ROUTE_BUCKETS], i);
    for (size_t b = 0; b < ROUTE_BUCKETS; b++)
        if (bucket_add(&srv->buckets[b], i) < 0)
            return -ENOMEM;
    return 0;
}

static void drop_params(struct request *r)
{
    for (unsigned k = 0; k < r->nparams; k++) {
        free(r->params[k]);
        r->params[k] = NULL;
    }
    r->nparams = 0;
}

/* Matches one route against the split request path, capturing parameters. */
static bool route_matches(const struct route *rt, char **segs, size_t nsegs, uint32_t first_hash,
                          struct request *r)
{
    if ((!rt->has_tail && rt->nsegs != nsegs) ||
        (rt->nsegs && rt->kinds[0] == SEG_LITERAL && rt->first_hash != first_hash))
        return false;
    for (size_t i = 0; i < rt->nsegs; i++) {
        if (rt->kinds[i] == SEG_TAIL) {
            if (i >= nsegs || r->nparams == MAX_PARAMS)
                goto no;
            size_t len = 0;
            for (size_t j = i; j < nsegs; j++)
                len += strlen(segs[j]) + 1;
            char *tail = malloc(len), *w = tail;
            if (!tail)
                goto no;
            for (size_t j = i; j < nsegs; j++) {
                size_t l = strlen(segs[j]);
                memcpy(w, segs[j], l);
                w += l;
                *w++ = j + 1 < nsegs ? '/' : '\0';
            }
            r->params[r->nparams++] = tail;
            return true;
        }
        if (i >= nsegs)
            goto no;
        if (rt->kinds[i] == SEG_PARAM) {
            if (r->nparams == MAX_PARAMS || !(r->params[r->nparams] = strdup(segs[i])))
                goto no;
            r->nparams++;
        } else if (strcmp(rt->segs[i], segs[i]) != 0) {
            goto no;
        }
    }
    return true;
no:
    drop_params(r);
    return false;
}

const struct route *router_find(struct server *srv, struct request *r, bool *path_known)
{
    char stack[512];
    size_t n = strlen(r->path) + 1;
    char *work = n <= sizeof(stack) ? stack : malloc(n);
    char *segs[MAX_SEGMENTS];
    const struct route *found = NULL;
    *path_known = false;
    if (!work)
        return NULL;
    memcpy(work, r->path, n);
    int nsegs = split_path(work, segs, MAX_SEGMENTS);
    uint32_t first_hash = nsegs > 0 ? segment_hash(segs[0]) : 0;
    const char *method = strcmp(r->method, "HEAD") == 0 ? "GET" : r->method;
    const struct route_bucket *b = &srv->buckets[first_hash % ROUTE_BUCKETS];
    for (size_t i = 0; nsegs >= 0 && i < b->n && !found; i++) {
        struct route *rt = &srv->routes[b->idx[i]];
        if (!route_matches(rt, segs, (size_t)nsegs, first_hash, r))
            continue;
        if (strcmp(rt->method, method) == 0) {
            found = rt;
        } else {
            *path_known = true;
            drop_params(r);
        }
    }
    if (work != stack)
        free(work);
    return found;
}

void router_free(struct server *srv)
{
    for (size_t i = 0; i < srv->nroutes; i++) {
        free(srv->routes[i].pattern);
        for (size_t j = 0; j < srv->routes[i].nsegs; j++)
            free(srv->routes[i].segs[j]);
    }
    free(srv->routes);
    srv->routes = NULL;
    for (size_t b = 0; b < ROUTE_BUCKETS; b++) {
        free(srv->buckets[b].idx);
        srv->buckets[b] = (struct route_bucket){0};
    }
    srv->nroutes = srv->cap = 0;
}
