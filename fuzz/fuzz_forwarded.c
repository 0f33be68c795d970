/* libFuzzer target for what reverse proxies and clients send us about the
 * request: the Forwarded header and X-Forwarded-* values (forwarded.c), CIDR
 * lists (cidr.c), HTTP-dates and entity-tags (httpcond.c). The first byte
 * picks the parser. Checks, beyond "no crash": whatever comes out of the
 * forwarding parsers is a valid proto, host or clean prefix (nothing hostile
 * reaches a link), a parsed CIDR list is non-empty only for valid text and
 * matches its own network addresses, and an accepted HTTP-date formats and
 * parses back to the same second. Pure functions; single-threaded. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "util/cidr.h"
#include "util/forwarded.h"
#include "util/httpcond.h"
#include "util/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_prefix(const char *p)
{
    /* "" or "/seg[/seg...]" of unreserved characters, no "." or ".." segment. */
    if (!p[0])
        return;
    if (p[0] != '/' || p[strlen(p) - 1] == '/' || strstr(p, "//") || strlen(p) > FWD_PREFIX_MAX)
        abort();
    for (const char *c = p; *c; c++)
        if (!(*c == '/' || *c == '-' || *c == '.' || *c == '_' || *c == '~' ||
              (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')))
            abort();
    if (strstr(p, "/../") || strstr(p, "/./") || !strcmp(strrchr(p, '/'), "/..") ||
        !strcmp(strrchr(p, '/'), "/."))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t mode = data[0] % 4;
    char *s = fuzz_cstr(data + 1, size - 1);
    if (mode == 0) {
        static struct cidr_list trusted;
        static int ready;
        char err[128];
        if (!ready &&
            cidr_list_parse(&trusted, "127.0.0.1 10.0.0.0/8 2001:db8::/32", err, sizeof(err)) == 0)
            ready = 1;
        struct fwd_values v;
        fwd_parse_forwarded(s, &trusted, &v);
        if (v.proto[0] && strcmp(v.proto, "http") != 0 && strcmp(v.proto, "https") != 0)
            abort();
        if (v.host[0] && !url_host_ok(v.host))
            abort();
        char last[FWD_HOST_MAX + 1], prefix[FWD_PREFIX_MAX + 1], proto[6];
        if (fwd_last_value(s, last, sizeof(last)) && (!last[0] || strchr(last, ',')))
            abort();
        if (fwd_prefix(s, prefix, sizeof(prefix)))
            check_prefix(prefix);
        else if (prefix[0])
            abort();
        if (fwd_proto(s, proto) && strcmp(proto, "http") != 0 && strcmp(proto, "https") != 0)
            abort();
    } else if (mode == 1) {
        struct cidr_list l;
        char err[128];
        if (cidr_list_parse(&l, s, err, sizeof(err)) == 0) {
            for (size_t i = 0; i < l.n; i++) {
                char text[64];
                if (!inet_ntop(l.v[i].v4 ? AF_INET : AF_INET6, l.v[i].addr, text, sizeof(text)) ||
                    !cidr_list_match(&l, text))
                    abort(); /* a range contains its own network address */
            }
        } else if (l.n != 0) {
            abort();
        }
        (void)cidr_list_match(&l, s);
    } else if (mode == 2) {
        int64_t secs;
        if (httpdate_parse(s, &secs) == 0) {
            char out[HTTPDATE_LEN];
            int64_t back;
            httpdate_format(secs, out);
            if (httpdate_parse(out, &back) != 0 || back != secs)
                abort();
        }
    } else {
        /* Split at the first NUL-free '|': header | etag. */
        char *bar = strchr(s, '|');
        const char *tag = bar ? bar + 1 : "\"a\"";
        if (bar)
            *bar = '\0';
        (void)etag_none_match(s, tag);
        if (etag_strong_equal(s, tag) && !etag_none_match(s, tag))
            abort(); /* strongly equal implies weakly matching */
    }
    free(s);
    return 0;
}
