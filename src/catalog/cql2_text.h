/* Internals shared by the two files of the CQL2 text parser: cql2_text.c
 * (tokens, scalars, the boolean structure) and cql2_text_geo.c (geometry
 * and temporal literals, S_INTERSECTS and T_INTERSECTS). Internal to
 * src/catalog/; single-threaded per parser. */
#ifndef TESSERA_CATALOG_CQL2_TEXT_H
#define TESSERA_CATALOG_CQL2_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog/filter.h"

#define CQL2_DAY_MS 86400000LL

enum tok {
    T_EOF,
    T_IDENT,  /* a bare identifier or keyword */
    T_QIDENT, /* a "double-quoted" identifier */
    T_STRING,
    T_NUMBER,
    T_LPAREN,
    T_RPAREN,
    T_COMMA,
    T_EQ,
    T_NE,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_PLUS,
    T_MINUS,
    T_OTHER, /* anything else: an error where it is met */
};

struct token {
    enum tok t;
    const char *start; /* in the text */
    size_t len;
    char *text; /* decoded T_STRING / T_QIDENT (malloc'd) */
    double num;
};

struct parser {
    const char *src, *p;
    struct token tok;
    struct filter_budget budget;
    int rc; /* first error: -EINVAL (message in err) or -ENOMEM */
    char *err;
    size_t errlen;
};

/* Records the first error: -EINVAL with "filter: <msg> at position N, near
 * ...", unless one is recorded already. */
__attribute__((format(printf, 2, 3))) void cql2_fail(struct parser *ps, const char *fmt, ...);
void cql2_oom(struct parser *ps);
/* Moves to the next token. */
void cql2_next(struct parser *ps);
/* True when tk is the keyword kw (any case). */
bool cql2_is_kw(const struct token *tk, const char *kw);
/* Consumes the current token when it is t (the keyword kw). */
bool cql2_accept(struct parser *ps, enum tok t);
bool cql2_accept_kw(struct parser *ps, const char *kw);
/* Consumes t, or records "expected <what>" and returns false. */
bool cql2_expect(struct parser *ps, enum tok t, const char *what);
/* CQL2's reserved words (AND, OR, NOT, LIKE, ...), never property names. */
bool cql2_reserved(const struct token *tk);
/* True when the next token is '(' (a function call follows a name). */
bool cql2_peek_lparen(const struct parser *ps);
/* TIMESTAMP('...') or DATE('...') after its keyword: the instant, and in
 * *last the last millisecond of the day for a date. */
bool cql2_parse_instant(struct parser *ps, bool date, int64_t *ms, int64_t *last);

/* S_INTERSECTS(...) and T_INTERSECTS(...) after their names (cql2_text_geo.c). */
struct filter_node *cql2_s_intersects(struct parser *ps);
struct filter_node *cql2_t_intersects(struct parser *ps);

#endif
