/* libFuzzer target for resources.c: resource-bound lists as a client sends
 * them. Checks, beyond "no crash": a normalized list is sorted, has no
 * duplicates, stays within the limits, normalizes to itself again, covers
 * itself, and every asset key it allows is allowed by the unrestricted list.
 * Single-threaded; pure functions. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/resources.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    /* The first line is the list, the rest one key to test against it. */
    char *key = strchr(s, '\n');
    if (key)
        *key++ = '\0';
    struct strlist l = STRLIST_INIT, again = STRLIST_INIT;
    char err[160];
    if (strlist_split(&l, s) < 0)
        abort();
    if (resources_normalize(&l, err, sizeof(err)) == 0) {
        if (l.n > RESOURCES_MAX)
            abort();
        for (size_t i = 1; i < l.n; i++)
            if (strcmp(l.v[i - 1], l.v[i]) >= 0)
                abort();
        if (strlist_copy(&again, &l) < 0 || resources_normalize(&again, err, sizeof(err)) != 0 ||
            again.n != l.n || !resources_cover(&l, &again) || !resources_cover(&again, &l))
            abort();
        struct strlist none = STRLIST_INIT;
        if (!resources_cover(&none, &l) || (l.n && resources_cover(&l, &none)))
            abort();
        if (key) {
            (void)resources_asset_allowed(&l, key);
            (void)resources_collection_some(&l, key);
            if (resources_collection_whole(&l, key) && !resources_collection_some(&l, key))
                abort();
        }
    }
    strlist_free(&l);
    strlist_free(&again);
    free(s);
    return 0;
}
