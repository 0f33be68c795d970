/* The asset endpoint, GET and HEAD /api/v1/catalog/asset/{key...}: serves a
 * file of the configured asset directory to a caller holding catalog:read
 * when some item it may see references the file. The Content-Type comes from
 * the item's declared type for Cloud-Optimized GeoTIFFs, else from the
 * extension. Validators (a strong ETag from inode, size and mtime, and
 * Last-Modified) make If-None-Match / If-Modified-Since answer 304 and
 * If-Range guard single Range requests (206/416), which is what GDAL's
 * /vsicurl and COG viewers do: HEAD, then ranged GETs. Handlers run on the
 * HTTP threads; the file is sent by the HTTP layer from the open descriptor. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "api/bounds.h"
#include "auth/signedurl.h"
#include "app.h"
#include "catalog/catalog.h"
#include "http/server.h"
#include "util/httpcond.h"
#include "util/timeutil.h"

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

#define GEOTIFF "image/tiff; application=geotiff"
#define COG GEOTIFF "; profile=cloud-optimized"

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
        {".tif", GEOTIFF},
        {".tiff", GEOTIFF},
        {".geojson", "application/geo+json"},
        {".json", "application/json"},
        {".txt", "text/plain; charset=utf-8"},
        {".csv", "text/csv; charset=utf-8"},
        {".gpkg", "application/geopackage+sqlite3"},
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

/* True when an item declares the asset a Cloud-Optimized GeoTIFF: media
 * type image/tiff with profile=cloud-optimized (the STAC best-practice
 * spelling), compared without case and spaces. */
static bool declared_cog(const char *declared)
{
    char t[128];
    size_t n = 0;
    for (const char *p = declared; *p && n + 1 < sizeof(t); p++)
        if (*p != ' ' && *p != '\t' && *p != '"')
            t[n++] = (char)tolower((unsigned char)*p);
    t[n] = '\0';
    return strncmp(t, "image/tiff;", 11) == 0 && strstr(t, ";profile=cloud-optimized") != NULL;
}

/* The declared type counts only to tell a COG apart (a type no extension
 * shows); everything else goes by extension, so that what an item declares
 * can never make the browser read a file as, say, HTML. */
static const char *media_type(const char *path, const char *declared)
{
    return declared_cog(declared) ? COG : content_type_of(path);
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

/* RFC 9110 §13.2.2 for GET/HEAD: If-None-Match (weak comparison) when
 * present, else If-Modified-Since. True when the answer is 304. */
static bool not_modified(struct request *r, const char *etag, int64_t mtime)
{
    const char *inm = request_header(r, "If-None-Match");
    if (inm)
        return etag_none_match(inm, etag);
    int64_t since;
    const char *ims = request_header(r, "If-Modified-Since");
    return ims && httpdate_parse(ims, &since) == 0 && mtime <= since;
}

/* If-Range (§13.1.5): the Range applies only when the validator is our
 * strong ETag or exactly our Last-Modified; else the whole file is sent. */
static bool range_applies(struct request *r, const char *etag, int64_t mtime)
{
    const char *ir = request_header(r, "If-Range");
    if (!ir)
        return true;
    int64_t date;
    if (ir[0] == '"' || (ir[0] == 'W' && ir[1] == '/'))
        return etag_strong_equal(ir, etag);
    return httpdate_parse(ir, &date) == 0 && date == mtime;
}

/* The parameters of a signed URL (auth/signedurl.h). */
static const char *const signed_names[] = {"expires", "signer", "prefix", "signature"};
#define NSIGNED (sizeof(signed_names) / sizeof(signed_names[0]))

static int count_signed_param(void *ctx, const char *key, const char *value)
{
    (void)value;
    unsigned *seen = ctx;
    for (unsigned i = 0; i < NSIGNED; i++) {
        if (strcmp(key, signed_names[i]) != 0)
            continue;
        if (*seen & (1u << i))
            return -EEXIST;
        *seen |= 1u << i;
    }
    return 0;
}

/* The caller of a signed URL (auth/signedurl.h) is the token that signed
 * it, for as long as that token lives and may still read the catalog; the
 * signature stands in for its credential, so sending one too is refused
 * (as RFC 6750 refuses two credentials). False when a reply was sent. */
static bool signed_caller(struct request *r, const char *key, struct principal *p)
{
    unsigned seen = 0;
    if (request_query_each(r, count_signed_param, &seen) < 0) {
        api_reply_invalid(r, "a signed URL parameter is given more than once");
        return false;
    }
    if (auth_credential(r)) {
        api_reply_invalid(r, "send either a signed URL or a credential, not both");
        return false;
    }
    struct signedurl_params sp = {request_query(r, "expires"), request_query(r, "signer"),
                                  request_query(r, "prefix"), request_query(r, "signature")};
    char signer[TOKEN_ID_LEN + 1];
    struct app *app = request_app(r);
    int rc = signedurl_verify(app->token_key, &sp, key, time_now_ms() / 1000, signer);
    if (rc == -EINVAL) {
        api_reply_invalid(r, "malformed signed URL: expires, signer and signature are required");
        return false;
    }
    if (rc == -ETIMEDOUT) {
        api_reply_error(r, 403, "This signed URL has expired", "signature_expired");
        return false;
    }
    if (rc < 0) {
        api_reply_error(r, 403, "This URL's signature is not valid for this asset",
                        "signature_invalid");
        return false;
    }
    enum auth_result res = auth_verify_signer(app, signer, p);
    if (res == AUTH_UNAVAILABLE) {
        api_reply_unauthorized(r, res);
        return false;
    }
    if (res != AUTH_OK) {
        api_reply_error(r, 403, "The token that signed this URL is no longer valid",
                        "signer_revoked");
        return false;
    }
    if (!principal_has_scope(p, "catalog:read")) {
        api_reply_insufficient_scope(r, "catalog:read");
        return false;
    }
    request_set_principal(r, p->account_id, p->token_id);
    return true;
}

static bool is_signed(struct request *r)
{
    for (unsigned i = 0; i < NSIGNED; i++)
        if (request_query(r, signed_names[i]))
            return true;
    return false;
}

static void h_asset(struct request *r)
{
    struct principal p = {0};
    int fd = -1;
    struct app *app = request_app(r);
    const char *key = request_param(r, 0);
    bool by_signature = is_signed(r);
    if (!by_signature && !api_authenticate(r, &p, "catalog:read"))
        goto out;
    if (!asset_key_ok(key)) {
        api_reply_invalid(r, "invalid asset path");
        goto out;
    }
    if (by_signature && !signed_caller(r, key, &p))
        goto out;
    char declared[128];
    /* Outside the token's bounds is missing, as hidden is. */
    struct viewer v = viewer_of(&p);
    int rc = bounds_asset_reachable(app->catalog, &v, key);
    if (rc == 0)
        rc = catalog_asset_type(app->catalog, &p.groups, key, declared, sizeof(declared));
    if (rc == -ENOENT || !app->cfg.asset_dir[0]) {
        api_reply_not_found(r, "Asset not found");
        goto out;
    }
    if (rc < 0) {
        api_reply_catalog_error(r, rc);
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
        api_reply_not_found(r, "Asset not found");
        goto out;
    }
    fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        api_reply_not_found(r, "Asset not found");
        goto out;
    }
    uint64_t size = (uint64_t)sb.st_size, off = 0, len = size;
    /* Strong: a rewrite changes the mtime (nanoseconds) or the inode (a
     * file replaced by rename), and the size usually too. */
    char etag[80], modified[HTTPDATE_LEN], cr[96];
    snprintf(etag, sizeof(etag), "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"", (uint64_t)sb.st_ino,
             size, (uint64_t)sb.st_mtim.tv_sec * 1000000000u + (uint64_t)sb.st_mtim.tv_nsec);
    httpdate_format((int64_t)sb.st_mtim.tv_sec, modified);
    reply_header(r, "Accept-Ranges", "bytes");
    reply_header(r, "Cache-Control", "private, max-age=0");
    reply_header(r, "ETag", etag);
    reply_header(r, "Last-Modified", modified);
    reply_header(r, "X-Content-Type-Options", "nosniff");
    if (not_modified(r, etag, (int64_t)sb.st_mtim.tv_sec)) {
        /* From the file, not an empty buffer: the HTTP layer sends no body
         * for 304 but writes the response's size as Content-Length, which
         * must then be the size a 200 would have (RFC 9110 §8.6), not 0. */
        reply_file(r, 304, fd, 0, size, NULL);
        fd = -1;
        goto out;
    }
    const char *range_header = request_header(r, "Range");
    if (range_header && !range_applies(r, etag, (int64_t)sb.st_mtim.tv_sec))
        range_header = NULL;
    int range = parse_range(range_header, size, &off, &len);
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
    reply_file(r, range > 0 ? 206 : 200, fd, off, len, media_type(real, declared));
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
