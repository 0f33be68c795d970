/* cJSON ⇄ strlist conversions used by every handler that reads or writes a
 * list of scopes, groups or URLs. */
#include "json.h"

#include <errno.h>
#include <string.h>

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
