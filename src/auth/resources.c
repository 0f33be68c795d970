/* Resource bounds: syntax, narrowing and the reachability tests every
 * resource route calls (resources.h). Pure; any thread. */
#include "auth/resources.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Printable ASCII without what would break storage (space, comma), JSON or a
 * header (quotes, backslash), or a URL (query and fragment marks). */
static bool plain_char(char c)
{
    return c > 0x20 && c < 0x7f && !strchr(",\"\\?#", c);
}

/* A collection id: plain characters, no '/' (it is an asset key's first
 * segment). */
static bool collection_ok(const char *id)
{
    if (!*id)
        return false;
    for (const char *p = id; *p; p++)
        if (!plain_char(*p) || *p == '/')
            return false;
    return true;
}

/* An asset prefix: a relative key of plain segments, possibly ending with
 * '/' or inside a segment; never ".", ".." or an empty segment. */
static bool asset_prefix_ok(const char *p)
{
    if (!*p || *p == '/')
        return false;
    for (const char *s = p; *s;) {
        size_t seg = strcspn(s, "/");
        bool last = s[seg] == '\0';
        if ((seg == 0) || (!last && seg == 1 && s[0] == '.') ||
            (!last && seg == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        for (size_t i = 0; i < seg; i++)
            if (!plain_char(s[i]))
                return false;
        s += seg;
        if (*s == '/')
            s++;
    }
    return true;
}

static bool entry_ok(const char *e)
{
    if (strlen(e) > RESOURCE_MAX_LEN)
        return false;
    if (starts_with(e, RESOURCE_COLLECTION))
        return collection_ok(e + strlen(RESOURCE_COLLECTION));
    if (starts_with(e, RESOURCE_ASSET))
        return asset_prefix_ok(e + strlen(RESOURCE_ASSET));
    return false;
}

int resources_normalize(struct strlist *l, char *err, size_t errlen)
{
    for (size_t i = 0; i < l->n; i++) {
        if (!entry_ok(l->v[i])) {
            char shown[48];
            snprintf(shown, sizeof(shown), "%.40s%s", l->v[i], strlen(l->v[i]) > 40 ? "..." : "");
            for (char *c = shown; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f)
                    *c = '?';
            snprintf(err, errlen,
                     "resources hold an invalid entry \"%s\": expected collection:<id> or "
                     "asset:<key prefix>",
                     shown);
            return -EINVAL;
        }
    }
    /* Duplicates out, in place. */
    size_t kept = 0;
    for (size_t i = 0; i < l->n; i++) {
        bool dup = false;
        for (size_t j = 0; j < kept && !dup; j++)
            dup = strcmp(l->v[j], l->v[i]) == 0;
        if (dup) {
            free(l->v[i]);
            continue;
        }
        l->v[kept++] = l->v[i];
    }
    l->n = kept;
    if (l->n > RESOURCES_MAX) {
        snprintf(err, errlen, "resources hold more than %d entries", RESOURCES_MAX);
        return -EINVAL;
    }
    strlist_sort(l);
    return 0;
}

/* The asset prefix of a collection's keys, "<id>/", into out. */
static bool collection_dir(const char *id, char *out, size_t outlen)
{
    return (size_t)snprintf(out, outlen, "%s/", id) < outlen;
}

static bool entry_covers(const char *parent, const char *child)
{
    if (strcmp(parent, child) == 0)
        return true;
    if (!starts_with(child, RESOURCE_ASSET))
        return false; /* a collection only by itself */
    const char *key = child + strlen(RESOURCE_ASSET);
    if (starts_with(parent, RESOURCE_ASSET))
        return starts_with(key, parent + strlen(RESOURCE_ASSET));
    char dir[RESOURCE_MAX_LEN + 2];
    return collection_dir(parent + strlen(RESOURCE_COLLECTION), dir, sizeof(dir)) &&
           starts_with(key, dir);
}

bool resources_cover(const struct strlist *parent, const struct strlist *child)
{
    if (parent->n == 0)
        return true;
    if (child->n == 0)
        return false;
    for (size_t i = 0; i < child->n; i++) {
        bool covered = false;
        for (size_t j = 0; j < parent->n && !covered; j++)
            covered = entry_covers(parent->v[j], child->v[i]);
        if (!covered)
            return false;
    }
    return true;
}

static bool is_collection(const char *e, const char *id)
{
    return starts_with(e, RESOURCE_COLLECTION) && strcmp(e + strlen(RESOURCE_COLLECTION), id) == 0;
}

bool resources_collection_whole(const struct strlist *b, const char *id)
{
    if (!b || b->n == 0)
        return true;
    for (size_t i = 0; i < b->n; i++)
        if (is_collection(b->v[i], id))
            return true;
    return false;
}

bool resources_collection_some(const struct strlist *b, const char *id)
{
    if (resources_collection_whole(b, id))
        return true;
    char dir[RESOURCE_MAX_LEN + 2];
    if (!collection_dir(id, dir, sizeof(dir)))
        return false;
    size_t dlen = strlen(dir);
    for (size_t i = 0; i < b->n; i++) {
        if (!starts_with(b->v[i], RESOURCE_ASSET))
            continue;
        const char *p = b->v[i] + strlen(RESOURCE_ASSET);
        size_t plen = strlen(p);
        if (strncmp(p, dir, plen < dlen ? plen : dlen) == 0)
            return true;
    }
    return false;
}

bool resources_asset_allowed(const struct strlist *b, const char *key)
{
    if (!b || b->n == 0)
        return true;
    for (size_t i = 0; i < b->n; i++) {
        const char *e = b->v[i];
        if (starts_with(e, RESOURCE_ASSET)) {
            if (starts_with(key, e + strlen(RESOURCE_ASSET)))
                return true;
            continue;
        }
        const char *id = e + strlen(RESOURCE_COLLECTION);
        size_t n = strlen(id);
        if (strncmp(key, id, n) == 0 && key[n] == '/')
            return true;
    }
    return false;
}

/* The entries of b of one kind, past their "kind:". */
static size_t entries_of(const struct strlist *b, const char *kind, const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; b && i < b->n && n < max; i++)
        if (starts_with(b->v[i], kind))
            out[n++] = b->v[i] + strlen(kind);
    return n;
}

size_t resources_asset_prefixes(const struct strlist *b, const char **out, size_t max)
{
    return entries_of(b, RESOURCE_ASSET, out, max);
}

size_t resources_collection_ids(const struct strlist *b, const char **out, size_t max)
{
    return entries_of(b, RESOURCE_COLLECTION, out, max);
}
