/* The asset endpoint, GET /api/v1/catalog/asset/{key...}: serves a file of the
 * configured asset directory to a caller holding catalog:read when some item
 * it may see references the file, with single Range requests (206/416).
 * Handlers run on the HTTP threads; the file is sent by the HTTP layer from
 * the open descriptor. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "app.h"
#include "catalog/catalog.h"
#include "http/server.h"

static void reply_invalid(struct request *r, const char *msg)
{
    api_reply_error(r, 400, msg, "invalid_parameter");
}

static void reply_not_found(struct request *r, const char *what)
{
    api_reply_error(r, 404, what, "not_found");
}

static void reply_catalog_error(struct request *r, int rc)
{
    if (rc == -ENOMEM)
        api_reply_error(r, 500, "out of memory", NULL);
    else
        api_reply_error(r, 503, "The catalog is temporarily unavailable", "catalog_unavailable");
}

/* Keys are relative paths of plain segments: no "..", ".", empty segments,
 * backslashes or control characters. */
static bool asset_key_ok(const char *key)
{
    if (!key || !*key || key[0] == '/' || strlen(key) > 1024)
        return false;
    for (const char *s = key; *s;) {
        size_t seg = strcspn(s, "/");
        if (seg == 0 || (seg == 1 && s[0] == '.') || (seg == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        for (size_t i = 0; i < seg; i++)
            if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '\\')
                return false;
        s += seg;
        if (*s == '/' && !*++s)
            return false;
    }
    return true;
}

static const char *content_type_of(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".webp", "image/webp"},
        {".gif", "image/gif"},
        {".tif", "image/tiff; application=geotiff"},
        {".tiff", "image/tiff; application=geotiff"},
        {".geojson", "application/geo+json"},
        {".json", "application/json"},
        {".txt", "text/plain; charset=utf-8"},
        {".csv", "text/csv; charset=utf-8"},
        {".nc", "application/x-netcdf"},
        {".h5", "application/x-hdf5"},
        {".zip", "application/zip"},
        {".pdf", "application/pdf"},
    };
    const char *dot = strrchr(path, '.');
    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (strcasecmp(dot, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 18)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* A single "bytes=a-b", "bytes=a-" or "bytes=-n" range. Returns 1 with
 * off and len set, 0 to ignore the header (absent, malformed or several
 * ranges: the whole file is served), -1 when unsatisfiable. */
static int parse_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
    if (!h || strncmp(h, "bytes=", 6) != 0)
        return 0;
    const char *spec = h + 6;
    while (*spec == ' ')
        spec++;
    size_t n = strlen(spec);
    while (n && spec[n - 1] == ' ')
        n--;
    const char *dash = memchr(spec, '-', n);
    if (!dash || memchr(spec, ',', n))
        return 0;
    size_t alen = (size_t)(dash - spec), blen = n - alen - 1;
    uint64_t a, b;
    if (alen == 0) { /* suffix: the last b bytes */
        if (!parse_u64(dash + 1, blen, &b))
            return 0;
        if (b == 0 || size == 0)
            return -1;
        if (b > size)
            b = size;
        *off = size - b;
        *len = b;
        return 1;
    }
    if (!parse_u64(spec, alen, &a))
        return 0;
    if (blen == 0) {
        b = UINT64_MAX;
    } else if (!parse_u64(dash + 1, blen, &b) || b < a) {
        return 0;
    }
    if (a >= size)
        return -1;
    if (b >= size)
        b = size - 1;
    *off = a;
    *len = b - a + 1;
    return 1;
}

static void h_asset(struct request *r)
{
    struct principal p = {0};
    int fd = -1;
    if (!api_authenticate(r, &p, "catalog:read"))
        goto out;
    struct app *app = request_app(r);
    const char *key = request_param(r, 0);
    if (!asset_key_ok(key)) {
        reply_invalid(r, "invalid asset path");
        goto out;
    }
    int rc = catalog_asset_visible(app->catalog, &p.groups, key);
    if (rc == -ENOENT || !app->cfg.asset_dir[0]) {
        reply_not_found(r, "Asset not found");
        goto out;
    }
    if (rc < 0) {
        reply_catalog_error(r, rc);
        goto out;
    }
    /* Resolve symlinks and make sure the file is still inside the asset directory. */
    char root[PATH_MAX] = "", path[PATH_MAX], real[PATH_MAX];
    int n = -1;
    if (realpath(app->cfg.asset_dir, root))
        n = snprintf(path, sizeof(path), "%s/%s", root, key);
    size_t rootlen = strlen(root);
    if (n < 0 || (size_t)n >= sizeof(path) || !realpath(path, real) ||
        strncmp(real, root, rootlen) != 0 || real[rootlen] != '/') {
        reply_not_found(r, "Asset not found");
        goto out;
    }
    fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        reply_not_found(r, "Asset not found");
        goto out;
    }
    uint64_t size = (uint64_t)sb.st_size, off = 0, len = size;
    char cr[96];
    reply_header(r, "Accept-Ranges", "bytes");
    reply_header(r, "Cache-Control", "private, max-age=0");
    int range = parse_range(request_header(r, "Range"), size, &off, &len);
    if (range < 0) {
        snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)size);
        reply_header(r, "Content-Range", cr);
        api_reply_error(r, 416, "Requested range not satisfiable", "range_not_satisfiable");
        goto out;
    }
    if (range > 0) {
        snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)off,
                 (unsigned long long)(off + len - 1), (unsigned long long)size);
        reply_header(r, "Content-Range", cr);
    }
    reply_file(r, range > 0 ? 206 : 200, fd, off, len, content_type_of(real));
    fd = -1; /* owned by the reply now */
out:
    if (fd >= 0)
        close(fd);
    principal_free(&p);
}

void api_asset_register(struct server *srv)
{
    server_route(srv, "GET", "/api/v1/catalog/asset/{*}", h_asset, 0);
}
