/* Conversions between cJSON values and Tessera's value types. Pure, thread-safe. */
#ifndef TESSERA_JSON_H
#define TESSERA_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/strlist.h"

/* Adds name: v as an exact integer. cJSON prints numbers with 15 significant
 * digits when that reads back within its tolerance, which turns
 * 7111111111111111 into 7.11111111111111e+15 (found by fuzz_jwt on a
 * user_id). Returns the new item, NULL on ENOMEM. */
cJSON *json_add_int(cJSON *obj, const char *name, int64_t v);
/* Adds name: an RFC 3339 time (ms since the epoch), or null when ms is 0
 * ("never"). Returns the added item, NULL when out of memory. */
cJSON *json_add_time(cJSON *obj, const char *name, int64_t ms);
/* A new JSON array of strings (NULL on ENOMEM). */
cJSON *json_from_strlist(const struct strlist *l);
/* Reads an array of strings into out (duplicates dropped). Returns 0, or
 * -EINVAL when arr is not an array, an element is not a non-empty string of
 * at most max_len bytes, or there are more than max_items elements. */
int json_to_strlist(const cJSON *arr, struct strlist *out, size_t max_items, size_t max_len);

/* A JSON text written straight into a caller's buffer, for hot replies where
 * building and printing a cJSON tree costs more than the work behind them.
 * Running out of room is sticky: json_out_text then returns NULL. */
struct json_out {
    char *buf;
    size_t cap, len;
    bool overflow;
};
void json_out_init(struct json_out *o, char *buf, size_t cap);
/* Written as is. Inline: most calls copy a literal, whose memcpy the
 * compiler then turns into a few moves. */
static inline void json_out_bytes(struct json_out *o, const char *s, size_t n)
{
    if (o->overflow || n >= o->cap - o->len) { /* keep one byte for the NUL */
        o->overflow = true;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}
/* Written as is; inline so that a literal's length is known when compiling. */
static inline void json_out_raw(struct json_out *o, const char *text)
{
    json_out_bytes(o, text, strlen(text));
}
void json_out_string(struct json_out *o, const char *s);  /* quoted and escaped */
void json_out_strings(struct json_out *o, const struct strlist *l); /* an array of strings */
void json_out_int(struct json_out *o, long long v);
void json_out_bool(struct json_out *o, bool v);
const char *json_out_text(struct json_out *o, size_t *len);      /* NUL-terminated */
/* write(o, ctx) into heap buffers of growing size until it fits (overflow is
 * sticky, so each try writes anew): the malloc'd text, or NULL when out of
 * memory. */
char *json_out_alloc(void (*write)(struct json_out *o, const void *ctx), const void *ctx,
                     size_t *len);

#endif
