/* Clustering of points on the globe by distance: two points within eps
 * metres (great-circle) belong to one cluster, and so does every chain of
 * such neighbours (single linkage). What the emission-source endpoints
 * group plumes by. Pure; any thread. */
#ifndef TESSERA_CATALOG_CLUSTER_H
#define TESSERA_CATALOG_CLUSTER_H

#include <stddef.h>

struct cluster_point {
    double lon, lat; /* degrees */
};

/* The great-circle distance in metres (haversine on a 6,371 km sphere). */
double cluster_distance_m(struct cluster_point a, struct cluster_point b);

/* Labels each of the n points with its cluster, 0..*nclusters-1, numbered
 * in the order of each cluster's first point. label has n entries. 0 or
 * -ENOMEM (-EINVAL when eps_m is not positive). */
int cluster_points(const struct cluster_point *pts, size_t n, double eps_m, size_t *label,
                   size_t *nclusters);

#endif
