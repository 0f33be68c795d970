/* Reading what a reverse proxy says about the client-facing request: the
 * RFC 7239 Forwarded header (proto=, host=, for=) and the de-facto
 * X-Forwarded-Proto / -Host / -Prefix. Only syntax and validation live here;
 * whether to believe the headers at all (the peer is a trusted proxy) is the
 * caller's decision (api/baseurl.c). Every value is validated before it is
 * returned, so nothing a client wrote can reach a link unchecked: proto is
 * http or https, host passes url_host_ok, a prefix is a clean path.
 * Pure functions on caller-owned memory; thread-safe, no allocation. */
#ifndef TESSERA_FORWARDED_H
#define TESSERA_FORWARDED_H

#include <stdbool.h>
#include <stddef.h>

#include "util/cidr.h"

#define FWD_HOST_MAX 255    /* as url_host_ok */
#define FWD_PREFIX_MAX 128  /* longer prefixes are refused */
#define FWD_ELEMENTS_MAX 16 /* hops kept, counted from the right */

struct fwd_values {
    char proto[6];               /* "http", "https", or "" when not given / invalid */
    char host[FWD_HOST_MAX + 1]; /* a valid host[:port], or "" */
};

/* Reads a Forwarded header value (every field line joined with ", ") that
 * reached us from a trusted proxy. Proxies append one element each, so the
 * last element is the one our direct peer wrote and anything to its left may
 * have come from the client. The element used is found from the right: step
 * left past an element only while its for= names an address in trusted (the
 * element before it was then written by a trusted proxy too). The element
 * reached was written by the outermost trusted proxy, the client-facing hop,
 * and its proto= and host= are returned when valid. A malformed element, a
 * repeated parameter or a for= that is not a trusted address (obfuscated,
 * "unknown", absent) stops the walk. out is always filled (empty fields when
 * nothing usable was found). */
void fwd_parse_forwarded(const char *header, const struct cidr_list *trusted,
                         struct fwd_values *out);
/* The last comma-separated value of an X-Forwarded-* header (the one our
 * direct peer wrote), without surrounding spaces, into out. False when it is
 * empty or does not fit. */
bool fwd_last_value(const char *header, char *out, size_t outlen);
/* "http" or "https" (any case) into out, lower-cased; false otherwise. */
bool fwd_proto(const char *value, char out[6]);
/* A path prefix such as "/tessera" or "/a/b/": '/'-separated segments of
 * RFC 3986 unreserved characters (letters, digits, - . _ ~), none empty, "."
 * or "..", at most FWD_PREFIX_MAX bytes. Writes it without a trailing '/'
 * ("/" gives ""). False (out = "") for anything else. */
bool fwd_prefix(const char *value, char *out, size_t outlen);

#endif
