/* JSON members as slices of the text (see jsonscan.h). Skipping is
 * iterative over brackets, so deep nesting costs no stack; strings are
 * unescaped the way cJSON does, so that a value read here and one read
 * through cJSON are the same bytes. Pure; any thread. */
#include "util/jsonscan.h"

#include <stdint.h>
#include <string.h>

#include "util/hex.h"

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* Past the string whose opening quote is at p; NULL when cut. A quote
 * ends it unless an odd run of backslashes precedes it. */
static const char *skip_string(const char *p, const char *end)
{
    const char *start = ++p;
    while (p < end) {
        const char *q = memchr(p, '"', (size_t)(end - p)), *b;
        if (!q)
            return NULL;
        for (b = q; b > start && b[-1] == '\\';)
            b--;
        if ((q - b) % 2 == 0)
            return q + 1;
        p = q + 1;
    }
    return NULL;
}

/* Past the bracket that closes depth levels of arrays and objects opened
 * before p (0: the one opening at p), contents skipped without checking
 * their grammar (jsonscan_next checks what it reads); NULL when cut. */
static const char *skip_nested(const char *p, const char *end, size_t depth)
{
    static const bool special[256] = {
        ['"'] = true, ['['] = true, [']'] = true, ['{'] = true, ['}'] = true};
    while (p < end) {
        char c = *p;
        if (!special[(unsigned char)c]) {
            p++;
            continue;
        }
        if (c == '"') {
            if (!(p = skip_string(p, end)))
                return NULL;
            continue;
        }
        if (c == '[' || c == '{')
            depth++;
        else if (--depth == 0)
            return p + 1;
        p++;
    }
    return NULL;
}

static bool literal(const char *p, const char *end, const char *word, size_t len)
{
    return (size_t)(end - p) >= len && memcmp(p, word, len) == 0;
}

bool jsonscan_value(const char *text, size_t n, struct jsonscan *v)
{
    const char *end = text + n, *p = skip_ws(text, end), *q = NULL;
    v->type = JSONSCAN_NONE;
    if (p == end)
        return false;
    switch (*p) {
    case '"':
        v->type = JSONSCAN_STRING;
        q = skip_string(p, end);
        break;
    case '[':
    case '{':
        v->type = *p == '[' ? JSONSCAN_ARRAY : JSONSCAN_OBJECT;
        q = skip_nested(p, end, 0);
        break;
    case 'n':
        v->type = JSONSCAN_NULL;
        q = literal(p, end, "null", 4) ? p + 4 : NULL;
        break;
    case 't':
        v->type = JSONSCAN_TRUE;
        q = literal(p, end, "true", 4) ? p + 4 : NULL;
        break;
    case 'f':
        v->type = JSONSCAN_FALSE;
        q = literal(p, end, "false", 5) ? p + 5 : NULL;
        break;
    default:
        if (*p == '-' || (*p >= '0' && *p <= '9')) {
            v->type = JSONSCAN_NUMBER;
            q = p + 1;
            while (q < end && ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E' ||
                               *q == '+' || *q == '-'))
                q++;
        }
        break;
    }
    if (!q) {
        v->type = JSONSCAN_NONE;
        return false;
    }
    v->p = p;
    v->len = (size_t)(q - p);
    return true;
}

bool jsonscan_open_object(const char *text, size_t n, struct jsonscan *obj)
{
    const char *end = text + n, *p = skip_ws(text, end);
    if (p == end || *p != '{')
        return false;
    *obj = (struct jsonscan){.p = p, .len = (size_t)(end - p), .type = JSONSCAN_OBJECT};
    return true;
}

bool jsonscan_members(const struct jsonscan *obj, struct jsonscan_iter *it)
{
    if (obj->type != JSONSCAN_OBJECT)
        return false;
    it->p = obj->p + 1;
    it->end = obj->p + obj->len;
    return true;
}

bool jsonscan_key(struct jsonscan_iter *it, struct jsonscan *key)
{
    const char *p = skip_ws(it->p, it->end);
    if (p < it->end && *p == ',')
        p = skip_ws(p + 1, it->end);
    if (p == it->end || *p != '"' || !jsonscan_value(p, (size_t)(it->end - p), key))
        return false;
    p = skip_ws(key->p + key->len, it->end);
    if (p == it->end || *p != ':')
        return false;
    it->p = p + 1;
    return true;
}

bool jsonscan_val(struct jsonscan_iter *it, struct jsonscan *val)
{
    if (!jsonscan_value(it->p, (size_t)(it->end - it->p), val))
        return false;
    it->p = val->p + val->len;
    return true;
}

bool jsonscan_next(struct jsonscan_iter *it, struct jsonscan *key, struct jsonscan *val)
{
    return jsonscan_key(it, key) && jsonscan_val(it, val);
}

bool jsonscan_enter(const struct jsonscan_iter *it, struct jsonscan_iter *in)
{
    const char *p = skip_ws(it->p, it->end);
    if (p == it->end || *p != '{')
        return false;
    in->p = p + 1;
    in->end = it->end;
    return true;
}

bool jsonscan_leave(struct jsonscan_iter *it, const struct jsonscan_iter *in)
{
    const char *q = skip_nested(in->p, in->end, 1);
    if (!q)
        return false;
    it->p = q;
    return true;
}

bool jsonscan_index(const struct jsonscan *arr, size_t i, struct jsonscan *out)
{
    if (arr->type != JSONSCAN_ARRAY)
        return false;
    const char *p = arr->p + 1, *end = arr->p + arr->len;
    for (size_t k = 0;; k++) {
        p = skip_ws(p, end);
        if (k > 0) {
            if (p == end || *p != ',')
                return false;
            p++;
        }
        if (!jsonscan_value(p, (size_t)(end - p), out))
            return false;
        if (k == i)
            return true;
        p = out->p + out->len;
    }
}

static int hex4(const char *p, const char *end, uint32_t *out)
{
    uint32_t v = 0;
    if (end - p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit_value(p[i]);
        if (d < 0)
            return -1;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return 0;
}

/* One \u escape at p (after the backslash, at the 'u'), with the low half
 * of a surrogate pair when one follows, as UTF-8 into *w. Returns the
 * escape's length past the backslash, or -1. */
static int unicode_escape(const char *p, const char *end, char **w)
{
    uint32_t cp, lo;
    int used = 5;
    if (hex4(p + 1, end, &cp) < 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
        return -1;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (end - p < 11 || p[5] != '\\' || p[6] != 'u' || hex4(p + 7, end, &lo) < 0 ||
            lo < 0xDC00 || lo > 0xDFFF)
            return -1;
        cp = 0x10000 + (((cp & 0x3FF) << 10) | (lo & 0x3FF));
        used = 11;
    }
    unsigned char *o = (unsigned char *)*w;
    if (cp < 0x80) {
        *o++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *o++ = (unsigned char)(0xC0 | (cp >> 6));
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (unsigned char)(0xE0 | (cp >> 12));
        *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (unsigned char)(0xF0 | (cp >> 18));
        *o++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (unsigned char)(0x80 | (cp & 0x3F));
    }
    *w = (char *)o;
    return used;
}

long jsonscan_string(const struct jsonscan *s, char *out)
{
    const char *p = s->p + 1, *end = s->p + s->len - 1; /* inside the quotes */
    char *w = out;
    while (p < end) {
        const char *bs = memchr(p, '\\', (size_t)(end - p));
        size_t run = bs ? (size_t)(bs - p) : (size_t)(end - p);
        memcpy(w, p, run);
        w += run;
        p += run;
        if (!bs)
            break;
        if (++p == end)
            return -1;
        static const char from[] = "bfnrt\"\\/", to[] = "\b\f\n\r\t\"\\/";
        const char *k = *p ? strchr(from, *p) : NULL;
        if (k) {
            *w++ = to[k - from];
            p++;
        } else if (*p == 'u') {
            int used = unicode_escape(p, end, &w);
            if (used < 0)
                return -1;
            p += used;
        } else {
            return -1;
        }
    }
    *w = 0;
    return (long)(w - out);
}

bool jsonscan_string_is(const struct jsonscan *s, const char *name)
{
    size_t n = strlen(name);
    if (s->type != JSONSCAN_STRING)
        return false;
    if (!memchr(s->p + 1, '\\', s->len - 2))
        return s->len - 2 == n && memcmp(s->p + 1, name, n) == 0;
    char tmp[256]; /* any name of up to 42 bytes fits, however escaped (6n + 2) */
    if (s->len > sizeof(tmp) || jsonscan_string(s, tmp) < 0)
        return false;
    return strcmp(tmp, name) == 0;
}
