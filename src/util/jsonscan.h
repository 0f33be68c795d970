/* Reading a few members out of JSON text without building a tree: values
 * are slices of the text, found by skipping over everything else, and only
 * the strings read are unescaped. For hot paths that need a handful of
 * fields from many documents (the plume CSV reads about twenty of each of a
 * thousand items); everything else uses cJSON. The text may be cut short
 * (an item template ends inside its links): what comes before the cut is
 * read. Pure functions; any thread. */
#ifndef TESSERA_JSONSCAN_H
#define TESSERA_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>

enum jsonscan_type {
    JSONSCAN_NONE, /* absent */
    JSONSCAN_NULL,
    JSONSCAN_FALSE,
    JSONSCAN_TRUE,
    JSONSCAN_NUMBER,
    JSONSCAN_STRING, /* p includes the quotes */
    JSONSCAN_ARRAY,
    JSONSCAN_OBJECT,
};

/* One value: its text (borrowed from the document) and type. */
struct jsonscan {
    const char *p;
    size_t len;
    enum jsonscan_type type;
};

/* The value at the start of the n bytes of text (leading whitespace
 * skipped): true with *v filled, false when it is malformed or cut. */
bool jsonscan_value(const char *text, size_t n, struct jsonscan *v);

/* The object opening at the start of the n bytes of text (leading
 * whitespace skipped), whole or cut short: *obj spans the rest of the text,
 * for jsonscan_members. False when text does not open an object. */
bool jsonscan_open_object(const char *text, size_t n, struct jsonscan *obj);

/* Walks the members of an object: start with jsonscan_members, then each
 * jsonscan_next gives a key (a STRING) and its value, until false (the end
 * of the object, or text that is malformed or cut). obj may be an object
 * whose closing brace was cut off. */
struct jsonscan_iter {
    const char *p, *end;
};
bool jsonscan_members(const struct jsonscan *obj, struct jsonscan_iter *it);
bool jsonscan_next(struct jsonscan_iter *it, struct jsonscan *key, struct jsonscan *val);
/* The same walk a member at a time, for a reader that goes through some
 * nested objects anyway, so that it reads their text once instead of
 * skipping it first: jsonscan_key reads the next key (and its colon), then
 * jsonscan_val reads the value as jsonscan_next would or, when the value is
 * an object, jsonscan_enter starts *in on its members (read them with
 * jsonscan_next) and jsonscan_leave moves it past the object, skipping the
 * members *in has not read. Each returns false as jsonscan_next does, and
 * jsonscan_enter also for a value that is no object. */
bool jsonscan_key(struct jsonscan_iter *it, struct jsonscan *key);
bool jsonscan_val(struct jsonscan_iter *it, struct jsonscan *val);
bool jsonscan_enter(const struct jsonscan_iter *it, struct jsonscan_iter *in);
bool jsonscan_leave(struct jsonscan_iter *it, const struct jsonscan_iter *in);

/* Element i of an array; false when it has fewer. */
bool jsonscan_index(const struct jsonscan *arr, size_t i, struct jsonscan *out);

/* Whether STRING s unescaped is name. */
bool jsonscan_string_is(const struct jsonscan *s, const char *name);
/* STRING s unescaped as cJSON unescapes it, NUL-terminated, into out, which
 * has room for s->len bytes (the unescaped text is never longer than the
 * escaped one). Its length, or -1 for a malformed escape. */
long jsonscan_string(const struct jsonscan *s, char *out);

#endif
