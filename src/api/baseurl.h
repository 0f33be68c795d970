/* The base of every absolute link Tessera writes (STAC documents, asset
 * hrefs, the Mapbox Link header): scheme://host plus a path prefix, as the
 * client addressed us. From a peer inside trusted_proxies the Forwarded
 * header (RFC 7239) and X-Forwarded-Proto / -Host / -Prefix are honoured;
 * from any other peer they are ignored and the connection's scheme and Host
 * header are used. Called on the thread running the handler. */
#ifndef TESSERA_BASEURL_H
#define TESSERA_BASEURL_H

#include <stdbool.h>
#include <stddef.h>

#include "util/forwarded.h"

struct request;

struct base_url {
    char scheme[6];                  /* "http" or "https" */
    char host[FWD_HOST_MAX + 1];     /* valid host[:port], when host_ok */
    bool host_ok;                    /* false: no usable Host at all */
    char prefix[FWD_PREFIX_MAX + 1]; /* "" or "/path" without a trailing '/' */
};

/* The parts, each field on its own: from a trusted peer, Forwarded's value
 * (see fwd_parse_forwarded for which element) when present and valid, else
 * the X-Forwarded-* one (its last list value) when valid, else the direct
 * one. An invalid value is ignored, never echoed. The prefix comes from
 * X-Forwarded-Prefix only (Forwarded has no such parameter). */
void request_base_parts(struct request *r, struct base_url *out);
/* "scheme://host[prefix]" into out ("localhost" when there is no usable
 * host). 0, or -ENOSPC when that does not fit in len: then out holds the
 * direct "scheme://localhost" (len must allow 24 bytes). */
int request_base_url(struct request *r, char *out, size_t len);

/* The base of links that leave the request, in mail (a password reset
 * link): public_url when set, else this node's own listen address
 * (localhost for a wildcard one) and bound port. Never the Host header: a
 * forged one would send the link's secret elsewhere. */
void request_public_base_url(struct request *r, char *out, size_t len);

#endif
