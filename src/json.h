/* Conversions between cJSON values and Tessera's value types. Pure, thread-safe. */
#ifndef TESSERA_JSON_H
#define TESSERA_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "strlist.h"

/* A new JSON array of strings (NULL on ENOMEM). */
cJSON *json_from_strlist(const struct strlist *l);
/* Reads an array of strings into out (duplicates dropped). Returns 0, or
 * -EINVAL when arr is not an array, an element is not a non-empty string of
 * at most max_len bytes, or there are more than max_items elements. */
int json_to_strlist(const cJSON *arr, struct strlist *out, size_t max_items, size_t max_len);

#endif
