/* URL building and reading shared by every module that writes links or
 * reads request targets: percent-encoding and -decoding, and the check that
 * a Host value is fit to be echoed into a link. Pure functions; any thread. */
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
/* url_decode's flags. */
enum {
    URL_DECODE_PLUS = 1,   /* '+' is a space (query arguments, form encoding) */
    URL_DECODE_STRICT = 2, /* an invalid escape fails; without it, it stays as it is */
};
/* Percent-decodes s[0, n) into out (outlen bytes, NUL-terminated). Returns
 * the decoded length, -EINVAL for an encoded NUL (no string may hide one)
 * or, with URL_DECODE_STRICT, an invalid escape, and -E2BIG when out is too
 * small (n + 1 bytes always suffice). */
long url_decode(const char *s, size_t n, unsigned flags, char *out, size_t outlen);
/* True for a Host header value that may be written into a link: 1-255 bytes
 * of letters, digits and . - _ : [ ] (a name or an address with a port). */
bool url_host_ok(const char *host);

#endif
