/* Single-linkage clustering within eps metres (see cluster.h): points
 * sorted by latitude, each compared only with those within eps north of it
 * (a band that holds few points for any sensible eps), joined with
 * union-find. */
#include "catalog/cluster.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#define EARTH_RADIUS_M 6371008.8
#define DEG (M_PI / 180.0)

double cluster_distance_m(struct cluster_point a, struct cluster_point b)
{
    double dlat = (b.lat - a.lat) * DEG, dlon = (b.lon - a.lon) * DEG;
    double h = sin(dlat / 2) * sin(dlat / 2) +
               cos(a.lat * DEG) * cos(b.lat * DEG) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * EARTH_RADIUS_M * asin(sqrt(fmin(1.0, h)));
}

static size_t find(size_t *parent, size_t i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

struct by_lat {
    double lat;
    size_t i;
};

static int cmp_lat(const void *a, const void *b)
{
    const struct by_lat *x = a, *y = b;
    if (x->lat != y->lat)
        return x->lat < y->lat ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

int cluster_points(const struct cluster_point *pts, size_t n, double eps_m, size_t *label,
                   size_t *nclusters)
{
    *nclusters = 0;
    if (!(eps_m > 0))
        return -EINVAL;
    if (n == 0)
        return 0;
    struct by_lat *order = malloc(n * sizeof(*order));
    size_t *parent = malloc(n * sizeof(*parent));
    if (!order || !parent) {
        free(order);
        free(parent);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        order[i] = (struct by_lat){pts[i].lat, i};
        parent[i] = i;
    }
    qsort(order, n, sizeof(*order), cmp_lat);
    double band = eps_m / (EARTH_RADIUS_M * DEG); /* eps as degrees of latitude */
    for (size_t i = 0; i < n; i++) {
        struct cluster_point a = pts[order[i].i];
        for (size_t j = i + 1; j < n && order[j].lat - a.lat <= band; j++) {
            if (cluster_distance_m(a, pts[order[j].i]) > eps_m)
                continue;
            size_t x = find(parent, order[i].i), y = find(parent, order[j].i);
            if (x != y)
                parent[x > y ? x : y] = x > y ? y : x; /* the smaller index is the root */
        }
    }
    /* Number the clusters by their first point (roots are the smallest
     * index of their cluster, so they come first in input order). */
    for (size_t i = 0; i < n; i++) {
        size_t root = find(parent, i);
        label[i] = root == i ? (*nclusters)++ : label[root];
    }
    free(order);
    free(parent);
    return 0;
}
