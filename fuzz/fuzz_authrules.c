/* libFuzzer target for authrules.c: the forward-auth rule parser, original-URI
 * normalization and form/query decoding. Checks, beyond "no crash": a parsed
 * table matches its own prefixes, a normalized path is canonical (leading
 * '/', no empty, "." or ".." segments), and decoded values never grow.
 * Single-threaded; pure functions. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/authrules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct authrules rs;

static void check_canonical(const char *p)
{
    if (p[0] != '/')
        abort();
    if (strcmp(p, "/") == 0)
        return;
    for (const char *s = p; *s; s++) {
        if (*s != '/')
            continue;
        const char *seg = s + 1;
        size_t n = strcspn(seg, "/");
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';

    char err[256];
    if (authrules_parse(&rs, s, err, sizeof(err)) == 0) {
        for (size_t i = 0; i < rs.n; i++) {
            const struct authrule *r = &rs.v[i];
            if (r->prefix[0] != '/' || strlen(r->prefix) != r->prefix_len)
                abort();
            const struct authrule *m = authrules_match(&rs, r->methods ? "GET" : NULL, r->prefix);
            if (!r->methods && (!m || m->prefix_len < r->prefix_len))
                abort();
        }
    }

    char path[AUTHRULES_PATH_MAX];
    if (authrules_normalize_path(s, path, sizeof(path)) == 0) {
        check_canonical(path);
        /* Without escapes, or decoded '?'/'#' that a second pass would read
         * as a query or fragment, normalizing again changes nothing. */
        if (!strpbrk(path, "%?#")) {
            char again[AUTHRULES_PATH_MAX];
            if (authrules_normalize_path(path, again, sizeof(again)) != 0 ||
                strcmp(again, path) != 0)
                abort();
        }
    }

    char *out = malloc(size + 1);
    if (!out)
        abort();
    int rc = authrules_query_get(s, size, "token", out, size + 1);
    if (rc == 0 && strlen(out) > size)
        abort();
    if (rc != 0 && rc != -ENOENT && rc != -EEXIST && rc != -EINVAL && rc != -E2BIG)
        abort();
    free(out);
    free(s);
    return 0;
}
