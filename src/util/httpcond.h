/* The pieces of HTTP conditional requests (RFC 9110 §8.8, §13) that a file
 * server needs: HTTP-dates (IMF-fixdate out; IMF-fixdate, RFC 850 and asctime
 * in, as recipients must accept), and entity-tag comparison for If-None-Match
 * (weak) and If-Range (strong). Pure functions; any thread. */
#ifndef TESSERA_HTTPCOND_H
#define TESSERA_HTTPCOND_H

#include <stdbool.h>
#include <stdint.h>

#define HTTPDATE_LEN 30 /* "Sun, 06 Nov 1994 08:49:37 GMT" + NUL */

/* Seconds since the epoch as an IMF-fixdate (years 0000-9999, clamped). */
void httpdate_format(int64_t secs, char out[HTTPDATE_LEN]);
/* Parses any of the three HTTP-date forms into seconds since the epoch. The
 * day name is not checked; two-digit RFC 850 years are 1970-2069. 0, or
 * -EINVAL. */
int httpdate_parse(const char *s, int64_t *secs);
/* If-None-Match: true when the header ("*" or a list of entity-tags, weak or
 * not) matches etag (a strong tag with its quotes) by weak comparison. A
 * malformed list matches nothing. */
bool etag_none_match(const char *header, const char *etag);
/* If-Range with an entity-tag: true only for the same strong tag. */
bool etag_strong_equal(const char *value, const char *etag);

#endif
