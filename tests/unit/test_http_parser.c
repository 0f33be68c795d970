/* Unit tests for http/parser.c: byte-exact requests in, the parsed head or
 * the exact status out (RFC 9112 rules and the probe vectors of issue 13),
 * fed whole, byte by byte, and pipelined. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/parser.h"

static const struct http_limits limits = {.max_head = 512, .max_headers = 8, .max_body = 64};

/* Feeds req into a fresh parser, all at once or one byte at a time, and
 * returns the outcome; buf keeps the bytes (the head's strings live there). */
struct run {
    struct http_parser p;
    char buf[2048];
    size_t len;
    enum http_result r;
};

static void feed(struct run *t, const char *req, size_t n, bool bytewise)
{
    assert_int_equal(http_parser_init(&t->p, &limits), 0);
    t->len = 0;
    t->r = HTTP_MORE;
    size_t i = 0;
    while (i < n && t->r == HTTP_MORE) {
        size_t k = bytewise ? 1 : n - i;
        memcpy(t->buf + t->len, req + i, k);
        t->len += k;
        i += k;
        t->r = http_parse(&t->p, t->buf, &t->len);
    }
}

/* The status a request gets, the same whole and byte by byte (0: parsed). */
static int status_of(const char *req, size_t n)
{
    int out[2];
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        struct run t;
        feed(&t, req, n, bytewise);
        out[bytewise] = t.r == HTTP_FAIL ? t.p.err_status : t.r == HTTP_READY ? 0 : -1;
        http_parser_free(&t.p);
    }
    assert_int_equal(out[0], out[1]);
    return out[0];
}
#define STATUS(lit) status_of(lit, sizeof(lit) - 1)

static const char *field(const struct http_request_head *q, const char *name)
{
    for (unsigned i = 0; i < q->nfields; i++)
        if (strcasecmp(q->fields[i].name, name) == 0)
            return q->fields[i].value;
    return NULL;
}

static void test_simple_get(void **state)
{
    (void)state;
    const char req[] =
        "GET /tokens/v2?access_token=x HTTP/1.1\r\nHost: a\r\n"
        "Authorization:   Bearer sk.1  \r\nX-Empty:\r\nX-Blank: \r\nX-Next: y\r\n\r\n";
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        struct run t;
        feed(&t, req, sizeof(req) - 1, bytewise);
        assert_int_equal(t.r, HTTP_READY);
        const struct http_request_head *q = &t.p.req;
        assert_string_equal(q->method, "GET");
        assert_string_equal(q->target, "/tokens/v2?access_token=x");
        assert_int_equal(q->version_minor, 1);
        assert_int_equal(q->nfields, 5);
        assert_string_equal(field(q, "host"), "a");
        assert_string_equal(field(q, "authorization"), "Bearer sk.1");
        assert_string_equal(field(q, "x-empty"), "");
        /* An empty value once cut the next name's first byte (fuzz_http_parser). */
        assert_string_equal(field(q, "x-blank"), "");
        assert_string_equal(field(q, "x-next"), "y");
        assert_true(q->keep_alive);
        assert_false(q->has_body);
        assert_int_equal(t.p.head_len, sizeof(req) - 1);
        http_parser_free(&t.p);
    }
}

static void test_body_and_pipelining(void **state)
{
    (void)state;
    const char req[] = "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                       "GET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                       "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n";
    struct run t;
    feed(&t, req, sizeof(req) - 1, false);
    assert_int_equal(t.r, HTTP_READY);
    assert_string_equal(t.p.req.target, "/a");
    assert_int_equal(t.p.req.body_len, 5);
    assert_string_equal(t.p.req.body, "hello");
    http_parser_next(&t.p, t.buf, &t.len);
    assert_int_equal(http_parse(&t.p, t.buf, &t.len), HTTP_READY);
    assert_string_equal(t.p.req.target, "/b");
    assert_false(t.p.req.keep_alive);
    assert_int_equal(t.p.req.body_len, 0);
    http_parser_next(&t.p, t.buf, &t.len);
    assert_int_equal(http_parse(&t.p, t.buf, &t.len), HTTP_READY);
    assert_string_equal(t.p.req.target, "/c");
    assert_string_equal(t.p.req.body, "abcde");
    http_parser_next(&t.p, t.buf, &t.len);
    assert_int_equal(t.len, 0);
    assert_int_equal(http_parse(&t.p, t.buf, &t.len), HTTP_MORE);
    assert_false(http_parser_started(&t.p, t.len));
    http_parser_free(&t.p);
}

static void test_smuggling_vectors(void **state)
{
    (void)state;
    /* Issue 13: duplicate Content-Length, the body being a second request. */
    assert_int_equal(STATUS("POST /api/v1/token/verify HTTP/1.1\r\nHost: x\r\nContent-Length: "
                            "0\r\nContent-Length: 47\r\n\r\nGET /api/v1/account/me "
                            "HTTP/1.1\r\nHost: x\r\n\r\n"),
                     400);
    assert_int_equal(STATUS("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: "
                            "5\r\n\r\nhello"),
                     400);
    assert_int_equal(STATUS("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello"),
                     400);
    assert_int_equal(STATUS("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"), 400);
    assert_int_equal(STATUS("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello"), 400);
    assert_int_equal(STATUS("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999"
                            "\r\n\r\n"),
                     400);
    /* Content-Length with Transfer-Encoding, in either order. */
    assert_int_equal(STATUS("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding:"
                            " chunked\r\n\r\n0\r\n\r\n"),
                     400);
    assert_int_equal(STATUS("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-"
                            "Length: 3\r\n\r\n0\r\n\r\n"),
                     400);
    /* Transfer codings: only a final, single chunked. */
    assert_int_equal(STATUS("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n"),
                     400);
    assert_int_equal(
        STATUS("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"), 400);
    assert_int_equal(STATUS("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n"),
                     400);
    assert_int_equal(
        STATUS("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 501);
    assert_int_equal(STATUS("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400);
    assert_int_equal(STATUS("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "zz\r\n"),
                     400);
    /* A chunk's data must end in CRLF: llhttp 8.1 takes any two bytes
     * (found by fuzz_http_parser). */
    assert_int_equal(STATUS("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "4\r\nabcdXY0\r\n\r\n"),
                     400);
    assert_int_equal(STATUS("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "4\r\nabc\r\ng0\r\n\r\n"),
                     400);
    assert_int_equal(STATUS("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "4\r\nabcd\r\n2\r\nef\r\n0\r\nX-Trailer: t\r\n\r\n"),
                     0);
}

static void test_field_syntax(void **state)
{
    (void)state;
    assert_int_equal(STATUS("GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n"), 400); /* obs-fold */
    assert_int_equal(STATUS("GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n\tc\r\n\r\n"), 400);
    assert_int_equal(STATUS("GET / HTTP/1.1\r\nHost : x\r\n\r\n"), 400); /* space before colon */
    assert_int_equal(STATUS("GET / HTTP/1.1\r\nHost: x\rA: b\r\n\r\n"), 400); /* bare CR */
    assert_int_equal(STATUS("GET / HTTP/1.1\nHost: x\n\n"), 400);             /* bare LF */
    assert_int_equal(status_of("GET / HTTP/1.1\r\nHost: x\r\nA: b\0c\r\n\r\n", 34), 400);
    assert_int_equal(STATUS("GET / HTTP/1.1\r\nHost: x\r\nA: b\x01\r\n\r\n"), 400);
    assert_int_equal(STATUS("GET / HTTP/1.1\r\nHost: x\r\nA: b\x7f\r\n\r\n"), 400);
    assert_int_equal(STATUS("GET / HTTP/1.1\r\nHost: x\r\nA: caf\xc3\xa9\r\n\r\n"),
                     0); /* obs-text */
    assert_int_equal(STATUS("GET / HTTP/1.1\r\nHost: x\r\nA: b\tc\r\n\r\n"), 0);
    assert_int_equal(STATUS("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n"), 400);
    assert_int_equal(STATUS("GET / HTTP/1.1\r\nHost: x\r\n: empty-name\r\n\r\n"), 400);
    assert_int_equal(STATUS("GET / HTTP/1.1\r\n\r\n"), 400);                       /* no Host */
    assert_int_equal(STATUS("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400); /* two */
    assert_int_equal(STATUS("GET / HTTP/1.0\r\n\r\n"), 0);
    assert_int_equal(STATUS("GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n"), 0);
    assert_int_equal(STATUS("GET / HTTP/1.1\r\nHost: x\r\nExpect: something\r\n\r\n"), 417);
}

/* A field name is a token (RFC 9110 §5.6.2): every other byte in it is 400,
 * from the head scanner (llhttp 8 alone lets a space through a name). */
static void test_field_name_bytes(void **state)
{
    (void)state;
    static const char tchar_marks[] = "!#$%&'*+-.^_`|~";
    for (int c = 1; c < 256; c++) {
        if (c == '\r' || c == '\n' || c == ':')
            continue;
        bool tchar = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     strchr(tchar_marks, c);
        char req[64];
        int n = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: x\r\nN%cme: v\r\n\r\n", c);
        if (status_of(req, (size_t)n) != (tchar ? 0 : 400))
            fail_msg("byte 0x%02x in a field name", c);
    }
    const char *spaced[] = {"GET / HTTP/1.1\r\nHost: x\r\nNa me: v\r\n\r\n",
                            "GET / HTTP/1.1\r\nHost: x\r\nNa{me: v\r\n\r\n"};
    for (int i = 0; i < 2; i++) { /* a space and a separator, with the same message */
        struct run t;
        feed(&t, spaced[i], strlen(spaced[i]), false);
        assert_int_equal(t.r, HTTP_FAIL);
        assert_string_equal(t.p.err_msg, "Malformed header field");
        http_parser_free(&t.p);
    }
}

static void test_request_line(void **state)
{
    (void)state;
    assert_int_equal(STATUS("GET / HTTP/2.0\r\nHost: x\r\n\r\n"), 505);
    assert_int_equal(STATUS("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 505); /* the h2 preface */
    assert_int_equal(STATUS("GET / HTTP/1.2\r\nHost: x\r\n\r\n"), 505);
    assert_int_equal(STATUS("GET / HTTP/0.9\r\n\r\n"), 505);
    assert_int_equal(STATUS("GET /\r\n\r\n"), 400);
    assert_int_equal(STATUS("GET / HTTX/1.1\r\nHost: x\r\n\r\n"), 400);
    assert_int_equal(STATUS("G@T / HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
    assert_int_equal(STATUS("GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
    assert_int_equal(STATUS("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
    /* A TLS ClientHello on the plain port. */
    assert_int_equal(status_of("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11), 400);
    /* One leading empty line is tolerated (RFC 9112 §2.2), a stream of them not. */
    assert_int_equal(STATUS("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    assert_int_equal(STATUS("\r\n\r\n\r\n"), 400);
}

static void test_limits(void **state)
{
    (void)state;
    char req[2048];
    /* A request line beyond the head limit: 414; fields beyond it: 431. */
    int n = snprintf(req, sizeof(req), "GET /%0600d HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    assert_int_equal(status_of(req, (size_t)n), 414);
    n = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: x\r\nA: %0600d\r\n\r\n", 0);
    assert_int_equal(status_of(req, (size_t)n), 431);
    /* Without an end of head in sight: the same, from the limit on. */
    n = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: x\r\nA: %0600d", 0);
    assert_int_equal(status_of(req, (size_t)n), 431);
    /* Field count. */
    assert_int_equal(STATUS("GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nA: 2\r\nA: 3\r\nA: 4\r\nA: 5\r\n"
                            "A: 6\r\nA: 7\r\n\r\n"),
                     0);
    assert_int_equal(STATUS("GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nA: 2\r\nA: 3\r\nA: 4\r\nA: 5\r\n"
                            "A: 6\r\nA: 7\r\nA: 8\r\n\r\n"),
                     431);
    /* Body: declared too large at once; chunked when it grows past. */
    assert_int_equal(STATUS("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 65\r\n\r\n"), 413);
    n = snprintf(req, sizeof(req),
                 "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n41\r\n%065d\r\n",
                 0);
    assert_int_equal(status_of(req, (size_t)n), 413);
    n = snprintf(req, sizeof(req), "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 64\r\n\r\n%064d",
                 0);
    assert_int_equal(status_of(req, (size_t)n), 0);
}

static void test_incomplete(void **state)
{
    (void)state;
    struct run t;
    feed(&t, "GET / HTTP/1.1\r\nHost: x\r\n\r", 26, false);
    assert_int_equal(t.r, HTTP_MORE);
    assert_true(http_parser_started(&t.p, t.len));
    http_parser_free(&t.p);
    feed(&t, "\r\n", 2, false);
    assert_int_equal(t.r, HTTP_MORE);
    assert_false(http_parser_started(&t.p, t.len)); /* only the tolerated empty line */
    http_parser_free(&t.p);
    const char partial[] =
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\nab";
    feed(&t, partial, sizeof(partial) - 1, false);
    assert_int_equal(t.r, HTTP_MORE);
    assert_true(t.p.req.expect_continue);
    assert_int_equal(t.p.req.body_len, 2);
    assert_int_equal(t.len, t.p.head_len); /* body bytes moved out of the buffer */
    http_parser_free(&t.p);
}

/* Every byte value at every offset of a long field value and of a long
 * target: the scanner's sixteen-byte steps and its byte-by-byte tail (the
 * bytewise feed) agree with the rule (status_of compares both). */
static void test_every_byte_everywhere(void **state)
{
    (void)state;
    for (int b = 0; b < 256; b++) {
        for (size_t at = 0; at < 40; at += 3) {
            char value[41], req[256];
            memset(value, 'v', 40);
            value[40] = '\0';
            value[at] = (char)b;
            int n = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: x\r\nX-Long: ");
            memcpy(req + n, value, 40);
            n += 40;
            n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n\r\n");
            bool bad = (b < 0x20 && b != '\t') || b == 0x7f;
            int status = status_of(req, (size_t)n);
            if (bad ? status != 400 : status != 0)
                fail_msg("byte 0x%02x at %zu of a field value: status %d", b, at, status);
            /* Refused by the scanner itself, not later by llhttp. */
            const char *want = b == 0      ? "NUL byte in request head"
                               : b == '\r' ? "Bare CR in request head"
                               : b == '\n' ? "Bare LF in request head"
                                           : "Control character in request head";
            for (int bytewise = 0; bad && bytewise < 2; bytewise++) {
                struct run t;
                feed(&t, req, (size_t)n, bytewise);
                if (!t.p.err_msg || strcmp(t.p.err_msg, want) != 0)
                    fail_msg("byte 0x%02x at %zu: \"%s\"", b, at, t.p.err_msg ? t.p.err_msg : "");
                http_parser_free(&t.p);
            }
            /* In the target: controls, DEL and non-ASCII are refused. */
            if (b < 0x20 || b >= 0x7f) {
                n = snprintf(req, sizeof(req), "GET /");
                memset(req + n, 'p', 40);
                req[n + (int)at] = (char)b;
                n += 40;
                n += snprintf(req + n, sizeof(req) - (size_t)n, " HTTP/1.1\r\nHost: x\r\n\r\n");
                if (status_of(req, (size_t)n) != 400)
                    fail_msg("byte 0x%02x at %zu of the target was accepted", b, at);
                const char *why = b == 0                    ? "NUL byte in request head"
                                  : b == '\r'               ? "Bare CR in request head"
                                  : b == '\n'               ? "Bare LF in request head"
                                  : b == '\t' || b >= 0x80 ? "Invalid character in request line"
                                                            : "Control character in request head";
                struct run t;
                feed(&t, req, (size_t)n, false);
                if (!t.p.err_msg || strcmp(t.p.err_msg, why) != 0)
                    fail_msg("byte 0x%02x at %zu of the target: \"%s\"", b, at,
                             t.p.err_msg ? t.p.err_msg : "");
                http_parser_free(&t.p);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),        cmocka_unit_test(test_body_and_pipelining),
        cmocka_unit_test(test_smuggling_vectors), cmocka_unit_test(test_field_syntax),
        cmocka_unit_test(test_request_line),      cmocka_unit_test(test_limits),
        cmocka_unit_test(test_incomplete),        cmocka_unit_test(test_field_name_bytes),
        cmocka_unit_test(test_every_byte_everywhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
