/* URL building shared by every module that writes links: percent-encoding,
 * and the check that a Host value is fit to be echoed into a link. Pure
 * functions; any thread. */
#ifndef TESSERA_URL_H
#define TESSERA_URL_H

#include <stdbool.h>
#include <stddef.h>

/* Percent-encodes s (malloc'd, caller frees; NULL when out of memory).
 * Unreserved characters (RFC 3986: ALPHA DIGIT - . _ ~) stay as they are,
 * and so does every character listed in keep. */
char *url_encode(const char *s, const char *keep);
/* The same into out (len bytes, NUL-terminated); false when it does not fit. */
bool url_encode_to(const char *s, const char *keep, char *out, size_t len);
/* True for a Host header value that may be written into a link: 1-255 bytes
 * of letters, digits and . - _ : [ ] (a name or an address with a port). */
bool url_host_ok(const char *host);

#endif
