/* Time formatting and parsing for API inputs and outputs. Pure functions,
 * thread-safe. Times are int64 milliseconds since the Unix epoch (UTC). */
#ifndef TESSERA_TIMEUTIL_H
#define TESSERA_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#define TIME_RFC3339_LEN 25 /* "2026-11-23T12:00:00.000Z" + NUL */

int64_t time_now_ms(void);
/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC, milliseconds) into out; values
 * outside years 0000-9999 are clamped to them. */
void time_format_rfc3339(int64_t ms, char out[TIME_RFC3339_LEN]);
/* Parses "YYYY-MM-DDTHH:MM:SS[.f{0,6}][Z|+HH:MM|-HH:MM]" (also a space
 * instead of 'T'; no zone means UTC) from 1970 to 9999, the SPEC §3 input
 * rule for the account and token APIs. Sub-millisecond digits are truncated.
 * Validates ranges (month, day of month incl. leap years, hour < 24, ...).
 * Returns 0 or -EINVAL. */
int time_parse_rfc3339(const char *s, int64_t *out_ms);
/* The same syntax over the whole range RFC 3339 (and so the STAC schema)
 * allows: years 0000-9999, so negative values before 1970, and 0-9
 * fractional digits (nanoseconds; truncated to the millisecond toward the
 * earlier instant). For STAC documents and search parameters. */
int time_parse_rfc3339_wide(const char *s, int64_t *out_ms);
/* Parses "YYYY-MM-DD" (1970-9999) to midnight UTC of that day. Returns 0 or
 * -EINVAL. */
int time_parse_date(const char *s, int64_t *out_ms);
/* Same for years 0000-9999. */
int time_parse_date_wide(const char *s, int64_t *out_ms);

#endif
