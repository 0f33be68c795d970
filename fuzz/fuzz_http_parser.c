/* libFuzzer target for http/parser.c alone: the bytes are one connection's
 * stream, delivered in pieces whose sizes the first byte picks (1, 7, 64 or
 * all at once), and every request found is consumed as the server would.
 * Invariants: the outcome does not depend on how the stream is split; a
 * parsed head is sane (method and target non-empty, no CR/LF/NUL in any
 * string, body within the limit, buffer never above head + one piece); a
 * failure always carries a 4xx/5xx status and a message. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct http_limits limits = {.max_head = 1024, .max_headers = 16, .max_body = 256};

static bool clean(const char *s)
{
    return s && !strpbrk(s, "\r\n");
}

/* Runs the stream split in pieces of `step` bytes; returns a digest of what
 * was parsed (statuses and targets) so two splits can be compared. */
static uint64_t run(const uint8_t *data, size_t size, size_t step)
{
    struct http_parser p;
    if (http_parser_init(&p, &limits) < 0)
        abort();
    size_t cap = limits.max_head + 64 + step;
    char *buf = malloc(cap);
    size_t len = 0, i = 0;
    uint64_t digest = 1469598103934665603ULL;
    for (;;) {
        enum http_result r = http_parse(&p, buf, &len);
        if (r == HTTP_FAIL) {
            if (p.err_status < 400 || p.err_status > 599 || !p.err_msg)
                abort();
            digest = (digest ^ (uint64_t)p.err_status) * 1099511628211ULL;
            break;
        }
        if (r == HTTP_READY) {
            const struct http_request_head *q = &p.req;
            if (!q->method[0] || !q->target[0] || !clean(q->method) || !clean(q->target))
                abort();
            for (unsigned f = 0; f < q->nfields; f++)
                if (!clean(q->fields[f].name) || !clean(q->fields[f].value) ||
                    !q->fields[f].name[0])
                    abort();
            if (q->body_len > limits.max_body || (q->body_len && q->body[q->body_len] != '\0'))
                abort();
            for (const char *t = q->target; *t; t++)
                digest = (digest ^ (uint8_t)*t) * 1099511628211ULL;
            digest = (digest ^ q->body_len) * 1099511628211ULL;
            http_parser_next(&p, buf, &len);
            continue;
        }
        if (i == size)
            break;
        size_t k = size - i < step ? size - i : step;
        if (len + k > cap)
            abort(); /* the parser must have failed or moved the body out */
        memcpy(buf + len, data + i, k);
        len += k;
        i += k;
    }
    free(buf);
    http_parser_free(&p);
    return digest;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const size_t steps[] = {1, 7, 64, 4096};
    size_t step = steps[data[0] & 3];
    uint64_t a = run(data + 1, size - 1, step);
    uint64_t b = run(data + 1, size - 1, 4096);
    if (a != b)
        abort();
    return 0;
}
