/* Strict HTTP/1.1 request parsing (RFC 9112) on Debian's llhttp.
 *
 * llhttp splits the request line and the field lines and decodes chunked
 * bodies; this module adds what llhttp tolerates and a server must refuse
 * (obs-fold, bare CR or LF, control bytes, whitespace before a colon, a
 * second Host or Content-Length, transfer codings other than a final chunked)
 * and enforces the head and body limits. No sockets here: the caller owns
 * the bytes. One parser per connection; only that connection's thread. */
#ifndef TESSERA_HTTP_PARSER_H
#define TESSERA_HTTP_PARSER_H

#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_limits {
    size_t max_head;      /* request line + fields + blank line, bytes (431/414 above) */
    unsigned max_headers; /* field lines (431 above) */
    size_t max_body;      /* decoded body bytes (413 above) */
};

struct http_field {
    const char *name;  /* NUL-terminated, inside the caller's buffer */
    const char *value; /* without surrounding whitespace */
};

enum http_result {
    HTTP_MORE,  /* need more bytes */
    HTTP_READY, /* a whole request: see p->req; the next one starts at p->head_len */
    HTTP_FAIL,  /* answer p->err_status with p->err_msg, then close */
};

struct http_request_head {
    const char *method;
    const char *target;        /* raw request-target, as sent */
    unsigned version_minor;    /* HTTP/1.x */
    struct http_field *fields; /* max_headers slots, owned by the parser */
    unsigned nfields;
    bool keep_alive;
    bool expect_continue; /* "Expect: 100-continue" with a body to come */
    bool has_body;
    uint64_t content_length; /* when not chunked */
    char *body;              /* malloc'd, NUL-terminated; owned by the parser */
    size_t body_len;
};

struct http_parser {
    llhttp_t ll;
    const struct http_limits *lim;
    enum { HP_HEAD, HP_BODY, HP_READY, HP_FAILED } phase;
    /* head scanner */
    size_t scan;       /* bytes of the buffer already checked */
    size_t line_start; /* offset of the current line */
    size_t skip;       /* one leading CRLF tolerated (RFC 9112 §2.2) */
    unsigned lines;
    size_t head_len; /* bytes of the head (incl. the blank line) once known */
    /* llhttp spans of the head, as offsets into the buffer */
    const char *base;
    size_t body_cap;
    /* chunked bodies: data left in the current chunk, the bytes of its
     * CRLF still to check, and the end of the bytes llhttp is given */
    uint64_t chunk_left;
    unsigned crlf_due;
    const char *exec_end;
    struct http_request_head req;
    int err_status;
    const char *err_msg;
};

/* 0 or -ENOMEM. lim must outlive the parser. */
int http_parser_init(struct http_parser *p, const struct http_limits *lim);
void http_parser_free(struct http_parser *p);

/* Parses buf[0..*len), the bytes of the connection not yet consumed, always
 * starting at the current request's first byte (the same buffer, grown, on
 * each call). Body bytes are moved out of the buffer into req.body (and
 * *len shrinks), so the buffer never holds more than the head plus one
 * read. On HTTP_READY the head's strings point into buf[0..head_len); call
 * http_parser_next when the request is done with. */
enum http_result http_parse(struct http_parser *p, char *buf, size_t *len);

/* The caller moved its buffer (realloc) from old to buf: the head's
 * strings follow. */
void http_parser_rebase(struct http_parser *p, const char *old, const char *buf);

/* Drops the finished request: moves the pipelined bytes after it to the
 * front of buf (updating *len) and resets for the next request. */
void http_parser_next(struct http_parser *p, char *buf, size_t *len);

/* True once any byte of a request (beyond the tolerated leading CRLF) has
 * arrived: an idle keep-alive connection is closed quietly, a partial
 * request gets a 408. */
bool http_parser_started(const struct http_parser *p, size_t len);

#endif
