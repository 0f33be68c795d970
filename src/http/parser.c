/* Strict HTTP/1.1 request parsing: a byte scanner for what llhttp lets
 * through (RFC 9112 §2.2, §5, §6), then llhttp over the complete head and
 * over the body. The head is parsed only once it is whole, so every string
 * of it lives in the caller's buffer and llhttp sees each field in one span.
 * Runs on the connection's thread only. */
#include "http/parser.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

static int on_method(llhttp_t *ll, const char *at, size_t n);
static int on_url(llhttp_t *ll, const char *at, size_t n);
static int on_field(llhttp_t *ll, const char *at, size_t n);
static int on_value(llhttp_t *ll, const char *at, size_t n);
static int on_headers_complete(llhttp_t *ll);
static int on_body(llhttp_t *ll, const char *at, size_t n);
static int on_chunk_header(llhttp_t *ll);
static int on_message_complete(llhttp_t *ll);

static const llhttp_settings_t settings = {
    .on_method = on_method,
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_chunk_header = on_chunk_header,
    .on_message_complete = on_message_complete,
};

/* Span ends are kept as lengths in the otherwise unused pointer slots until
 * the head is terminated in place (see terminate_head). */
struct span {
    const char *at;
    size_t len;
};

/* Per-parser scratch for spans: method, target, and a (name, value) pair
 * per field. Allocated with the fields array: 2 + 2 * max_headers spans. */
static struct span *spans(struct http_parser *p)
{
    return (struct span *)(p->req.fields + p->lim->max_headers);
}

int http_parser_init(struct http_parser *p, const struct http_limits *lim)
{
    memset(p, 0, sizeof(*p));
    p->lim = lim;
    size_t n = lim->max_headers;
    p->req.fields = calloc(1, n * sizeof(struct http_field) + (2 + 2 * n) * sizeof(struct span));
    if (!p->req.fields)
        return -ENOMEM;
    llhttp_init(&p->ll, HTTP_REQUEST, &settings);
    p->ll.data = p;
    return 0;
}

void http_parser_free(struct http_parser *p)
{
    free(p->req.fields);
    free(p->req.body);
    p->req.fields = NULL;
    p->req.body = NULL;
}

static enum http_result fail(struct http_parser *p, int status, const char *msg)
{
    if (!p->err_status) { /* the first reason wins */
        p->err_status = status;
        p->err_msg = msg;
    }
    p->phase = HP_FAILED;
    p->req.nfields = 0; /* their strings were never cut: no header is readable */
    return HTTP_FAIL;
}

bool http_parser_started(const struct http_parser *p, size_t len)
{
    return p->phase != HP_HEAD || len > p->skip;
}

/* ---- head scanner ----------------------------------------------------- */

/* tchar (RFC 9110 §5.6.2), the bytes of a field name. */
static const unsigned char tchar[256] = {
    ['a' ... 'z'] = 1, ['A' ... 'Z'] = 1, ['0' ... '9'] = 1, ['!'] = 1, ['#'] = 1, ['$'] = 1,
    ['%'] = 1,         ['&'] = 1,         ['\''] = 1,        ['*'] = 1, ['+'] = 1, ['-'] = 1,
    ['.'] = 1,         ['^'] = 1,         ['_'] = 1,         ['`'] = 1, ['|'] = 1, ['~'] = 1,
};

/* The bytes scan_head must look at one by one: CR, LF and the other
 * controls everywhere but HTAB in field lines; HTAB and non-ASCII in the
 * request line too. All others are skipped by a table lookup each. */
static const unsigned char special_in_field[256] = {[0 ... 8] = 1, [10 ... 0x1f] = 1, [0x7f] = 1};
static const unsigned char special_in_request_line[256] = {[0 ... 0x1f] = 1, [0x7f ... 0xff] = 1};

/* The first index in [i, stop) whose byte scan_head must look at, or stop.
 * Sixteen bytes a step where SSE2 is there (every x86-64), the same tests
 * as the tables: a head is mostly ordinary bytes (a session JWT alone is
 * 300 of them), and byte by byte this was most of a check's parsing. */
static size_t skip_ordinary(const char *buf, size_t i, size_t stop, bool request_line)
{
#ifdef __SSE2__
    const __m128i ctl_max = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f),
                  tab = _mm_set1_epi8('\t');
    for (; i + 16 <= stop; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(buf + i));
        __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, ctl_max), v); /* v <= 0x1f */
        __m128i odd = request_line ? _mm_or_si128(ctl, _mm_cmpeq_epi8(_mm_max_epu8(v, del), v))
                                   : _mm_or_si128(_mm_andnot_si128(_mm_cmpeq_epi8(v, tab), ctl),
                                                  _mm_cmpeq_epi8(v, del));
        unsigned mask = (unsigned)_mm_movemask_epi8(odd);
        if (mask)
            return i + (size_t)__builtin_ctz(mask);
    }
#endif
    const unsigned char *special = request_line ? special_in_request_line : special_in_field;
    while (i < stop && !special[(unsigned char)buf[i]])
        i++;
    return i;
}

/* The request line ends in HTTP-version (RFC 9112 §2.3): only 1.0 and 1.1
 * are served; any other well-formed version is 505, the rest 400. */
static enum http_result check_request_line(struct http_parser *p, const char *line, size_t n)
{
    if (n < 9 || memcmp(line + n - 9, " HTTP/", 6) != 0)
        return fail(p, 400, "Malformed request line");
    const char *v = line + n - 3;
    if (v[0] < '0' || v[0] > '9' || v[1] != '.' || v[2] < '0' || v[2] > '9')
        return fail(p, 400, "Malformed HTTP version");
    if (v[0] != '1' || v[2] > '1')
        return fail(p, 505, "HTTP version not supported; use HTTP/1.1");
    return HTTP_MORE;
}

/* A field line (RFC 9112 §5): a token, a colon, then the value. A line that
 * starts with whitespace is obs-fold; whitespace before the colon is a
 * smuggling vector (§5.1). Both must be 400. */
static enum http_result check_field_line(struct http_parser *p, const char *line, size_t n)
{
    if (line[0] == ' ' || line[0] == '\t')
        return fail(p, 400, "Obsolete line folding is not accepted");
    size_t i = 0;
    while (i < n && tchar[(unsigned char)line[i]])
        i++;
    if (i == 0 || i == n || line[i] != ':')
        return fail(p, 400, "Malformed header field");
    return HTTP_MORE;
}

/* Scans new bytes for the end of the head. Every byte is checked once. */
static enum http_result scan_head(struct http_parser *p, const char *buf, size_t len)
{
    const struct http_limits *lim = p->lim;
    for (size_t i = p->scan; i < len; i++) {
        size_t stop = p->skip + lim->max_head < len ? p->skip + lim->max_head : len;
        i = skip_ordinary(buf, i, stop, p->lines == 0);
        if (i == len)
            break;
        unsigned char c = (unsigned char)buf[i];
        /* The limit first, byte by byte, so that the answer does not
         * depend on how the head was split into reads. */
        if (i - p->skip >= lim->max_head)
            return p->lines == 0 ? fail(p, 414, "Request line too long")
                                 : fail(p, 431, "Request header fields too large");
        if (c == '\r') {
            if (i + 1 == len) { /* look at the next byte when it comes */
                p->scan = i;
                goto incomplete;
            }
            if (buf[i + 1] != '\n')
                return fail(p, 400, "Bare CR in request head");
            continue;
        }
        if (c == '\n') {
            if (i == 0 || buf[i - 1] != '\r')
                return fail(p, 400, "Bare LF in request head");
            size_t n = i - 1 - p->line_start;
            const char *line = buf + p->line_start;
            p->line_start = i + 1;
            if (n == 0) {
                if (p->lines > 0) {
                    p->head_len = i + 1;
                    p->scan = i + 1;
                    return HTTP_READY;
                }
                if (p->skip) /* one empty line is tolerated, not a stream */
                    return fail(p, 400, "Empty request line");
                p->skip = i + 1;
                continue;
            }
            enum http_result r =
                p->lines == 0 ? check_request_line(p, line, n) : check_field_line(p, line, n);
            if (r == HTTP_FAIL)
                return r;
            if (p->lines++ > lim->max_headers)
                return fail(p, 431, "Too many header fields");
            continue;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return fail(p, 400,
                        c == 0 ? "NUL byte in request head" : "Control character in request head");
        if (p->lines == 0 && (c == '\t' || c >= 0x80))
            return fail(p, 400, "Invalid character in request line");
    }
    p->scan = len;
incomplete:
    if (len - p->skip > lim->max_head)
        return p->lines == 0 ? fail(p, 414, "Request line too long")
                             : fail(p, 431, "Request header fields too large");
    return HTTP_MORE;
}

/* ---- llhttp callbacks ------------------------------------------------- */

static int on_method(llhttp_t *ll, const char *at, size_t n)
{
    struct http_parser *p = ll->data;
    spans(p)[0] = (struct span){at, n};
    return 0;
}

static int on_url(llhttp_t *ll, const char *at, size_t n)
{
    struct http_parser *p = ll->data;
    struct span *s = &spans(p)[1];
    if (!s->at)
        *s = (struct span){at, 0};
    s->len = (size_t)(at + n - s->at);
    return 0;
}

static int on_field(llhttp_t *ll, const char *at, size_t n)
{
    /* The whole head is in one llhttp_execute, so each name is one span. */
    struct http_parser *p = ll->data;
    struct http_request_head *q = &p->req;
    if (p->phase != HP_HEAD)
        return 0; /* a chunked body's trailer fields: discarded (RFC 9112 §7.1.2) */
    if (q->nfields == p->lim->max_headers) {
        fail(p, 431, "Too many header fields");
        return -1;
    }
    spans(p)[2 + 2 * q->nfields] = (struct span){at, n};
    spans(p)[3 + 2 * q->nfields] = (struct span){NULL, 0};
    q->nfields++;
    return 0;
}

static int on_value(llhttp_t *ll, const char *at, size_t n)
{
    struct http_parser *p = ll->data;
    /* llhttp reports an empty value at the start of the next line: cutting
     * it there would erase the next field name's first byte. */
    if (n == 0 || p->phase != HP_HEAD)
        return 0;
    struct span *s = &spans(p)[3 + 2 * (p->req.nfields - 1)];
    if (!s->at)
        *s = (struct span){at, 0};
    s->len = (size_t)(at + n - s->at);
    return 0;
}

static bool span_is(const struct span *s, const char *name)
{
    return s->len == strlen(name) && strncasecmp(s->at, name, s->len) == 0;
}

/* Checks a Transfer-Encoding value list (RFC 9112 §6.1, §6.3): chunked
 * must be last and only once; other codings are not implemented. */
static int check_transfer_coding(struct http_parser *p, const struct span *v, bool *seen_chunked,
                                 bool *other)
{
    if (!v->len) /* an empty value (its span was never set): no chunked */
        return 0;
    const char *s = v->at, *end = v->at + v->len;
    while (s < end) {
        while (s < end && (*s == ' ' || *s == '\t' || *s == ','))
            s++;
        const char *t = s;
        while (t < end && *t != ',' && *t != ' ' && *t != '\t' && *t != ';')
            t++;
        if (t == s)
            break;
        bool chunked = (size_t)(t - s) == 7 && strncasecmp(s, "chunked", 7) == 0;
        if (*seen_chunked) /* anything after chunked, chunked twice included */
            return fail(p, 400, "Transfer-Encoding must end with a single chunked"), -1;
        if (chunked)
            *seen_chunked = true;
        else
            *other = true;
        while (t < end && *t != ',') /* skip parameters */
            t++;
        s = t;
    }
    return 0;
}

static int on_headers_complete(llhttp_t *ll)
{
    struct http_parser *p = ll->data;
    struct http_request_head *q = &p->req;
    unsigned hosts = 0, lengths = 0, codings = 0;
    bool chunked = false, other = false, expect = false;
    for (unsigned i = 0; i < q->nfields; i++) {
        const struct span *name = &spans(p)[2 + 2 * i], *value = &spans(p)[3 + 2 * i];
        if (span_is(name, "host"))
            hosts++;
        else if (span_is(name, "content-length"))
            lengths++;
        else if (span_is(name, "transfer-encoding")) {
            codings++;
            if (check_transfer_coding(p, value, &chunked, &other) < 0)
                return -1;
        } else if (span_is(name, "expect")) {
            size_t n = value->len;
            while (n && (value->at[n - 1] == ' ' || value->at[n - 1] == '\t'))
                n--;
            if (n != 12 || strncasecmp(value->at, "100-continue", 12) != 0) {
                fail(p, 417, "Only Expect: 100-continue is supported");
                return -1;
            }
            expect = true;
        }
    }
    q->version_minor = ll->http_minor;
    if (hosts > 1 || (hosts == 0 && ll->http_minor == 1)) {
        fail(p, 400, hosts ? "More than one Host header" : "Missing Host header");
        return -1;
    }
    if (lengths > 1) {
        fail(p, 400, "More than one Content-Length");
        return -1;
    }
    if (codings && lengths) {
        fail(p, 400, "Content-Length together with Transfer-Encoding");
        return -1;
    }
    if (codings && ll->http_minor == 0) {
        fail(p, 400, "Transfer-Encoding in an HTTP/1.0 request");
        return -1;
    }
    if (codings && !chunked) {
        fail(p, 400, "Transfer-Encoding must end with chunked");
        return -1;
    }
    if (other) {
        fail(p, 501, "Only the chunked transfer coding is supported");
        return -1;
    }
    q->keep_alive = llhttp_should_keep_alive(ll);
    q->has_body = chunked || ll->content_length > 0;
    q->content_length = chunked ? 0 : ll->content_length;
    q->expect_continue = expect && q->has_body;
    if (!chunked && ll->content_length > p->lim->max_body) {
        fail(p, 413, "Request body too large");
        return -1;
    }
    return 0;
}

/* llhttp 8.1 takes any two bytes after a chunk's data as its CRLF, which
 * lets a front end and Tessera frame a body differently. The bytes are
 * checked here, those not received yet at the next call. */
static int check_chunk_crlf(struct http_parser *p, const char *at, const char *end)
{
    for (; p->crlf_due && at < end; at++, p->crlf_due--) {
        if (*at != "\r\n"[2 - p->crlf_due]) {
            fail(p, 400, "Chunk data not followed by CRLF");
            return -1;
        }
    }
    return 0;
}

static int on_chunk_header(llhttp_t *ll)
{
    struct http_parser *p = ll->data;
    p->chunk_left = ll->content_length;
    return 0;
}

static int on_body(llhttp_t *ll, const char *at, size_t n)
{
    struct http_parser *p = ll->data;
    struct http_request_head *q = &p->req;
    if (q->body_len + n > p->lim->max_body) {
        fail(p, 413, "Request body too large");
        return -1;
    }
    if (q->body_len + n + 1 > p->body_cap) {
        /* Exactly the declared length when known: one allocation. */
        size_t cap = q->content_length ? (size_t)q->content_length + 1 : 1024;
        while (cap < q->body_len + n + 1)
            cap *= 2;
        char *b = realloc(q->body, cap);
        if (!b) {
            fail(p, 503, "Out of memory");
            return -1;
        }
        q->body = b;
        p->body_cap = cap;
    }
    memcpy(q->body + q->body_len, at, n);
    q->body_len += n;
    q->body[q->body_len] = '\0';
    if (p->chunk_left && !(p->chunk_left -= n)) {
        p->crlf_due = 2;
        return check_chunk_crlf(p, at + n, p->exec_end);
    }
    return 0;
}

static int on_message_complete(llhttp_t *ll)
{
    return HPE_PAUSED; /* stop right after this request: pipelined bytes wait */
}

/* ---- driving ---------------------------------------------------------- */

/* Keeps the method and target of a request that failed after its request
 * line, so the error can follow the path's dialect and route. */
static void keep_target(struct http_parser *p)
{
    struct span *s = spans(p);
    if (!s[0].at || !s[1].at || p->req.target)
        return;
    ((char *)s[0].at)[s[0].len] = '\0'; /* the caller's buffer: a space was there */
    ((char *)s[1].at)[s[1].len] = '\0';
    p->req.method = s[0].at;
    p->req.target = s[1].at;
}

static enum http_result llhttp_failed(struct http_parser *p, llhttp_errno_t e)
{
    keep_target(p);
    if (p->err_status) /* one of ours */
        return fail(p, p->err_status, p->err_msg);
    switch (e) {
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        return fail(p, 400,
                    strstr(llhttp_get_error_reason(&p->ll), "Duplicate")
                        ? "More than one Content-Length"
                        : "Content-Length together with Transfer-Encoding");
    case HPE_INVALID_CONTENT_LENGTH:
        return fail(p, 400, "Invalid Content-Length");
    case HPE_INVALID_TRANSFER_ENCODING:
        return fail(p, 400, "Transfer-Encoding must end with chunked");
    case HPE_INVALID_METHOD:
        return fail(p, 400, "Invalid method");
    case HPE_INVALID_URL:
        return fail(p, 400, "Invalid request target");
    case HPE_INVALID_CHUNK_SIZE:
        return fail(p, 400, "Invalid chunk size");
    case HPE_PAUSED_UPGRADE:
    case HPE_PAUSED_H2_UPGRADE:
        return fail(p, 505, "HTTP version not supported; use HTTP/1.1");
    default:
        return fail(p, 400, "Malformed request");
    }
}

/* Cuts the head's strings in place: the byte after a name is its colon,
 * the one after a value's last non-blank is whitespace or the CR. */
static void terminate_head(struct http_parser *p, char *buf)
{
    struct http_request_head *q = &p->req;
    struct span *s = spans(p);
    char *m = buf + (s[0].at - buf), *u = buf + (s[1].at - buf);
    m[s[0].len] = '\0';
    u[s[1].len] = '\0';
    q->method = m;
    q->target = u;
    for (unsigned i = 0; i < q->nfields; i++) {
        struct span *name = &s[2 + 2 * i], *value = &s[3 + 2 * i];
        char *nm = buf + (name->at - buf);
        nm[name->len] = '\0';
        q->fields[i].name = nm;
        if (!value->at) { /* empty value: point at the name's NUL */
            q->fields[i].value = nm + name->len;
            continue;
        }
        char *v = buf + (value->at - buf);
        size_t n = value->len;
        while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
            n--;
        v[n] = '\0';
        q->fields[i].value = v;
    }
}

enum http_result http_parse(struct http_parser *p, char *buf, size_t *len)
{
    if (p->phase == HP_FAILED)
        return HTTP_FAIL;
    if (p->phase == HP_READY)
        return HTTP_READY;
    if (p->phase == HP_HEAD) {
        enum http_result r = scan_head(p, buf, *len);
        if (r != HTTP_READY)
            return r;
        p->base = buf;
        llhttp_errno_t e = llhttp_execute(&p->ll, buf, p->head_len);
        if (e != HPE_OK && e != HPE_PAUSED)
            return llhttp_failed(p, e);
        if (!spans(p)[0].at || !spans(p)[1].at)
            return fail(p, 400, "Malformed request line");
        terminate_head(p, buf);
        if (e == HPE_PAUSED) { /* no body: complete already */
            p->phase = HP_READY;
            return HTTP_READY;
        }
        p->phase = HP_BODY;
    }
    /* HP_BODY: feed what follows the head, then drop it from the buffer. */
    size_t avail = *len - p->head_len;
    if (avail == 0)
        return HTTP_MORE;
    char *at = buf + p->head_len;
    if (check_chunk_crlf(p, at, at + avail) < 0)
        return HTTP_FAIL;
    p->exec_end = at + avail;
    llhttp_errno_t e = llhttp_execute(&p->ll, at, avail);
    size_t used = avail;
    if (e == HPE_PAUSED)
        used = (size_t)(llhttp_get_error_pos(&p->ll) - at);
    else if (e != HPE_OK)
        return llhttp_failed(p, e);
    memmove(at, at + used, avail - used);
    *len -= used;
    if (e != HPE_PAUSED)
        return HTTP_MORE;
    p->phase = HP_READY;
    return HTTP_READY;
}

void http_parser_rebase(struct http_parser *p, const char *old, const char *buf)
{
    struct http_request_head *q = &p->req;
#define REBASE(ptr) ((ptr) = (ptr) ? buf + ((const char *)(ptr)-old) : NULL)
    REBASE(q->method);
    REBASE(q->target);
    for (unsigned i = 0; i < q->nfields; i++) {
        REBASE(q->fields[i].name);
        REBASE(q->fields[i].value);
    }
#undef REBASE
}

void http_parser_next(struct http_parser *p, char *buf, size_t *len)
{
    size_t done = p->phase == HP_READY ? p->head_len : 0;
    if (done && *len > done)
        memmove(buf, buf + done, *len - done);
    *len = *len > done ? *len - done : 0;
    struct http_field *fields = p->req.fields;
    char *body = p->req.body;
    if (body) { /* bodies carry passwords */
        explicit_bzero(body, p->req.body_len);
        if (p->body_cap > 4096) { /* keep idle connections small */
            free(body);
            body = NULL;
            p->body_cap = 0;
        }
    }
    memset(spans(p), 0, (2 + 2 * (size_t)p->req.nfields) * sizeof(struct span));
    p->req = (struct http_request_head){.fields = fields, .body = body};
    p->phase = HP_HEAD;
    p->scan = p->line_start = p->skip = 0;
    p->lines = 0;
    p->head_len = 0;
    p->chunk_left = 0;
    p->crlf_due = 0;
    p->err_status = 0;
    p->err_msg = NULL;
    llhttp_reset(&p->ll);
}
