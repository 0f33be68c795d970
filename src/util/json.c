/* cJSON ⇄ strlist conversions used by every handler that reads or writes a
 * list of scopes, groups or URLs, and a direct JSON writer for the replies
 * on the token-check path. */
#include "util/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/timeutil.h"

cJSON *json_add_int(cJSON *obj, const char *name, int64_t v)
{
    char text[24];
    snprintf(text, sizeof(text), "%lld", (long long)v);
    return cJSON_AddRawToObject(obj, name, text);
}

cJSON *json_from_strlist(const struct strlist *l)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < l->n; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(l->v[i]));
    return arr;
}

int json_to_strlist(const cJSON *arr, struct strlist *out, size_t max_items, size_t max_len)
{
    if (!cJSON_IsArray(arr))
        return -EINVAL;
    if ((size_t)cJSON_GetArraySize(arr) > max_items)
        return -EINVAL;
    const cJSON *item;
    cJSON_ArrayForEach(item, arr)
    {
        if (!cJSON_IsString(item) || !item->valuestring[0] ||
            strlen(item->valuestring) > max_len)
            return -EINVAL;
        if (strlist_add(out, item->valuestring) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* ---- direct writer ----------------------------------------------------- */

void json_out_init(struct json_out *o, char *buf, size_t cap)
{
    o->buf = buf;
    o->cap = cap;
    o->len = 0;
    o->overflow = cap == 0;
}

/* Bytes a JSON string holds as they are (RFC 8259 §7): all but the quote,
 * the backslash and the controls. NUL, which ends the C string, is 0 too. */
static const unsigned char json_plain[256] = {
    [0x20 ... 0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0xff] = 1};

/* The length of the run of plain bytes s starts with. */
static size_t plain_run(const char *s)
{
    size_t n = 0;
    while (json_plain[(unsigned char)s[n]])
        n++;
    return n;
}

void json_out_string(struct json_out *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = plain_run(s);
    /* Most strings need no escape: quotes and text in one copy. */
    if (!s[run] && !o->overflow && run + 2 < o->cap - o->len) {
        char *w = o->buf + o->len;
        w[0] = '"';
        memcpy(w + 1, s, run);
        w[run + 1] = '"';
        o->len += run + 2;
        return;
    }
    json_out_bytes(o, "\"", 1);
    for (;; run = plain_run(s)) {
        json_out_bytes(o, s, run);
        s += run;
        unsigned char c = (unsigned char)*s++;
        if (!c)
            break;
        char esc[6] = {'\\', (char)c, 0};
        size_t n = 2;
        switch (c) {
        case '"': case '\\': break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xF];
            n = 6;
        }
        json_out_bytes(o, esc, n);
    }
    json_out_bytes(o, "\"", 1);
}

void json_out_strings(struct json_out *o, const struct strlist *l)
{
    json_out_bytes(o, "[", 1);
    for (size_t i = 0; i < l->n; i++) {
        if (i)
            json_out_bytes(o, ",", 1);
        json_out_string(o, l->v[i]);
    }
    json_out_bytes(o, "]", 1);
}

void json_out_int(struct json_out *o, long long v)
{
    char digits[24];
    size_t i = sizeof(digits);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do
        digits[--i] = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        digits[--i] = '-';
    json_out_bytes(o, digits + i, sizeof(digits) - i);
}

void json_out_bool(struct json_out *o, bool v)
{
    if (v)
        json_out_bytes(o, "true", 4);
    else
        json_out_bytes(o, "false", 5);
}

const char *json_out_text(struct json_out *o, size_t *len)
{
    if (o->overflow)
        return NULL;
    o->buf[o->len] = '\0';
    *len = o->len;
    return o->buf;
}

char *json_out_alloc(void (*write)(struct json_out *o, const void *ctx), const void *ctx,
                     size_t *len)
{
    for (size_t cap = 16384; cap <= 64 << 20; cap *= 4) {
        char *buf = malloc(cap);
        if (!buf)
            return NULL;
        struct json_out o;
        json_out_init(&o, buf, cap);
        write(&o, ctx);
        if (json_out_text(&o, len))
            return buf;
        free(buf);
    }
    return NULL;
}

cJSON *json_add_time(cJSON *obj, const char *name, int64_t ms)
{
    if (!ms)
        return cJSON_AddNullToObject(obj, name);
    char text[TIME_RFC3339_LEN];
    time_format_rfc3339(ms, text);
    return cJSON_AddStringToObject(obj, name, text);
}
