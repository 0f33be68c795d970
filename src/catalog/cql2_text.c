/* CQL2 text (OGC 21-065, the cql2-text encoding) to the filter tree of
 * filter.h: a tokenizer and a recursive-descent parser for Basic CQL2 (AND,
 * OR, NOT, comparisons, IS NULL), the advanced comparison operators (LIKE,
 * BETWEEN, IN), S_INTERSECTS with WKT and BBOX literals, and T_INTERSECTS
 * with TIMESTAMP, DATE and INTERVAL literals (those two in cql2_text_geo.c).
 * Everything else (other
 * functions, arithmetic, property-property comparisons) is an error naming
 * it. Depth, nodes, values and sizes are bounded (filter.h). Pure; any
 * thread. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog/catalog.h"
#include "catalog/cql2_text.h"
#include "catalog/filter.h"
#include "util/timeutil.h"

__attribute__((format(printf, 2, 3))) void cql2_fail(struct parser *ps, const char *fmt, ...)
{
    if (ps->rc)
        return;
    char msg[256], near[48];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t pos = (size_t)(ps->tok.start - ps->src);
    if (ps->tok.t == T_EOF) {
        snprintf(ps->err, ps->errlen, "filter: %s at the end of the text", msg);
    } else {
        filter_quote(ps->tok.start, strlen(ps->tok.start), near, sizeof(near), 24);
        snprintf(ps->err, ps->errlen, "filter: %s at position %zu, near \"%s\"", msg, pos + 1,
                 near);
    }
    ps->rc = -EINVAL;
}

void cql2_oom(struct parser *ps)
{
    if (!ps->rc)
        ps->rc = -ENOMEM;
}

static bool ident_start(unsigned char c)
{
    return isalpha(c) || c == '_' || c == ':' || c >= 0x80;
}

static bool ident_part(unsigned char c)
{
    return ident_start(c) || isdigit(c) || c == '.';
}

/* Decodes a quoted token (quote doubled inside) starting at p; returns the
 * end, or NULL when unterminated or too long. The end and the decoded
 * length come first, so the text takes one allocation. */
static const char *lex_quoted(struct parser *ps, const char *p, char quote)
{
    const char *close = p + 1;
    size_t n = 0;
    for (;; close++, n++) {
        if (!*close)
            return NULL;
        if (*close == quote) {
            if (close[1] != quote)
                break;
            close++;
        }
    }
    if (n > FILTER_MAX_STRING)
        return NULL;
    char *out = malloc(n + 1);
    if (!out) {
        cql2_oom(ps);
        return NULL;
    }
    size_t w = 0;
    for (const char *s = p + 1; s < close; s++) {
        if (*s == quote) /* the first of a doubled quote */
            s++;
        out[w++] = *s;
    }
    out[w] = 0;
    ps->tok.text = out;
    return close + 1;
}

void cql2_next(struct parser *ps)
{
    free(ps->tok.text);
    ps->tok.text = NULL;
    const char *p = ps->p;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    ps->tok.start = p;
    const char *end = p + 1;
    enum tok t = T_OTHER;
    switch (*p) {
    case 0:
        t = T_EOF;
        end = p;
        break;
    case '(':
        t = T_LPAREN;
        break;
    case ')':
        t = T_RPAREN;
        break;
    case ',':
        t = T_COMMA;
        break;
    case '=':
        t = T_EQ;
        break;
    case '+':
        t = T_PLUS;
        break;
    case '-':
        t = T_MINUS;
        break;
    case '<':
        t = p[1] == '>' ? T_NE : p[1] == '=' ? T_LE : T_LT;
        end = p + (t == T_LT ? 1 : 2);
        break;
    case '>':
        t = p[1] == '=' ? T_GE : T_GT;
        end = p + (t == T_GT ? 1 : 2);
        break;
    case '\'':
    case '"': {
        const char *e = lex_quoted(ps, p, *p);
        if (!e) {
            ps->tok.t = T_OTHER;
            ps->tok.len = 1;
            ps->p = p + strlen(p);
            if (!ps->rc)
                cql2_fail(ps, "unterminated or too long (over %d bytes) %s", FILTER_MAX_STRING,
                          *p == '"' ? "quoted identifier" : "string");
            return;
        }
        t = *p == '"' ? T_QIDENT : T_STRING;
        end = e;
        break;
    }
    default:
        if (isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) {
            const char *q = p;
            while (isdigit((unsigned char)*q))
                q++;
            if (*q == '.') {
                q++;
                while (isdigit((unsigned char)*q))
                    q++;
            }
            if ((*q == 'e' || *q == 'E') &&
                (isdigit((unsigned char)q[1]) ||
                 ((q[1] == '+' || q[1] == '-') && isdigit((unsigned char)q[2])))) {
                q += 2;
                while (isdigit((unsigned char)*q))
                    q++;
            }
            char buf[64];
            size_t n = (size_t)(q - p);
            if (n < sizeof(buf)) {
                memcpy(buf, p, n);
                buf[n] = 0;
                ps->tok.num = strtod(buf, NULL);
            }
            t = n < sizeof(buf) && isfinite(ps->tok.num) ? T_NUMBER : T_OTHER;
            end = q;
        } else if (ident_start((unsigned char)*p)) {
            const char *q = p + 1;
            while (ident_part((unsigned char)*q))
                q++;
            t = T_IDENT;
            end = q;
        }
        break;
    }
    ps->tok.t = t;
    ps->tok.len = (size_t)(end - p);
    ps->p = end;
}

bool cql2_is_kw(const struct token *tk, const char *kw)
{
    return tk->t == T_IDENT && tk->len == strlen(kw) && strncasecmp(tk->start, kw, tk->len) == 0;
}

bool cql2_accept(struct parser *ps, enum tok t)
{
    if (ps->tok.t != t)
        return false;
    cql2_next(ps);
    return true;
}

bool cql2_accept_kw(struct parser *ps, const char *kw)
{
    if (!cql2_is_kw(&ps->tok, kw))
        return false;
    cql2_next(ps);
    return true;
}

bool cql2_expect(struct parser *ps, enum tok t, const char *what)
{
    if (cql2_accept(ps, t))
        return true;
    cql2_fail(ps, "expected %s", what);
    return false;
}

/* Words that end a property name: CQL2's reserved operators and literals. */
bool cql2_reserved(const struct token *tk)
{
    static const char *const words[] = {"AND", "OR", "NOT",  "LIKE", "BETWEEN",
                                        "IN",  "IS", "NULL", "TRUE", "FALSE"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (cql2_is_kw(tk, words[i]))
            return true;
    return false;
}

/* The function names of CQL2 that this parser knows but does not implement:
 * asked for, they get a message that says so, not a syntax error. */
static bool known_function(const struct token *tk)
{
    static const char *const names[] = {
        "S_CONTAINS", "S_CROSSES",    "S_DISJOINT", "S_EQUALS",   "S_OVERLAPS", "S_TOUCHES",
        "S_WITHIN",   "T_AFTER",      "T_BEFORE",   "T_CONTAINS", "T_DISJOINT", "T_DURING",
        "T_EQUALS",   "T_FINISHEDBY", "T_FINISHES", "T_MEETS",    "T_METBY",    "T_OVERLAPPEDBY",
        "T_OVERLAPS", "T_STARTEDBY",  "T_STARTS",   "A_EQUALS",   "A_CONTAINS", "A_CONTAINEDBY",
        "A_OVERLAPS", "CASEI",        "ACCENTI",    "UPPER",      "LOWER"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (cql2_is_kw(tk, names[i]))
            return true;
    return false;
}

/* ---- scalars -------------------------------------------------------------- */

struct scalar {
    bool is_prop;
    char *name; /* property */
    struct filter_value v;
};

static void scalar_free(struct scalar *s)
{
    free(s->name);
    free(s->v.str);
    memset(s, 0, sizeof(*s));
}

bool cql2_peek_lparen(const struct parser *ps)
{
    const char *p = ps->p;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    return *p == '(';
}

static void unsupported_function(struct parser *ps)
{
    char name[48];
    filter_quote(ps->tok.start, ps->tok.len, name, sizeof(name), 40);
    if (known_function(&ps->tok))
        cql2_fail(ps,
                  "the CQL2 function %s is not supported (supported: S_INTERSECTS, T_INTERSECTS)",
                  name);
    else
        cql2_fail(ps, "unknown function %s (supported: S_INTERSECTS, T_INTERSECTS)", name);
}

/* TIMESTAMP('...') or DATE('...') after its keyword: the instant, and for a
 * date the last millisecond of that day in *last. */
bool cql2_parse_instant(struct parser *ps, bool date, int64_t *ms, int64_t *last)
{
    if (!cql2_expect(ps, T_LPAREN, "'('"))
        return false;
    if (ps->tok.t != T_STRING) {
        cql2_fail(ps, "expected a quoted %s", date ? "date" : "timestamp");
        return false;
    }
    int rc =
        date ? time_parse_date_wide(ps->tok.text, ms) : time_parse_rfc3339_wide(ps->tok.text, ms);
    if (rc < 0) {
        cql2_fail(ps, "invalid %s", date ? "DATE (YYYY-MM-DD)" : "TIMESTAMP (RFC 3339)");
        return false;
    }
    *last = date ? *ms + CQL2_DAY_MS - 1 : *ms;
    cql2_next(ps);
    return cql2_expect(ps, T_RPAREN, "')'");
}

/* A property name or a literal (string, number, boolean, TIMESTAMP, DATE). */
static bool parse_scalar(struct parser *ps, struct scalar *out)
{
    memset(out, 0, sizeof(*out));
    struct token *tk = &ps->tok;
    if (tk->t == T_STRING) {
        out->v.type = FILTER_STRING;
        out->v.str = tk->text;
        tk->text = NULL;
        cql2_next(ps);
        return true;
    }
    if (tk->t == T_NUMBER || tk->t == T_MINUS || tk->t == T_PLUS) {
        double sign = tk->t == T_MINUS ? -1 : 1;
        if (tk->t != T_NUMBER)
            cql2_next(ps);
        if (tk->t != T_NUMBER) {
            cql2_fail(ps, "expected a number");
            return false;
        }
        out->v.type = FILTER_NUMBER;
        out->v.num = sign * tk->num;
        cql2_next(ps);
        return true;
    }
    if (cql2_is_kw(tk, "TRUE") || cql2_is_kw(tk, "FALSE")) {
        out->v.type = FILTER_BOOL;
        out->v.num = cql2_is_kw(tk, "TRUE");
        cql2_next(ps);
        return true;
    }
    if (tk->t == T_IDENT && (cql2_is_kw(tk, "TIMESTAMP") || cql2_is_kw(tk, "DATE")) &&
        cql2_peek_lparen(ps)) {
        bool date = cql2_is_kw(tk, "DATE");
        int64_t last;
        cql2_next(ps);
        out->v.type = FILTER_TIME;
        return cql2_parse_instant(ps, date, &out->v.ms, &last);
    }
    if (tk->t == T_IDENT && cql2_peek_lparen(ps)) {
        unsupported_function(ps);
        return false;
    }
    if ((tk->t == T_IDENT && !cql2_reserved(tk)) || tk->t == T_QIDENT) {
        out->is_prop = true;
        out->name = tk->t == T_QIDENT ? tk->text : strndup(tk->start, tk->len);
        tk->text = NULL;
        if (!out->name) {
            cql2_oom(ps);
            return false;
        }
        cql2_next(ps);
        return true;
    }
    cql2_fail(ps, "expected a property name or a literal");
    return false;
}

/* A leaf on property s (taken). */
static struct filter_node *leaf(struct parser *ps, enum filter_op op, struct scalar *s)
{
    bool over = false;
    struct filter_node *n = filter_node_new(&ps->budget, op, &over);
    if (!n) {
        if (over)
            cql2_fail(ps, "more than %d predicates", FILTER_MAX_NODES);
        else
            cql2_oom(ps);
        return NULL;
    }
    int rc = filter_set_field(n, s->name);
    if (rc == 0 && n->field == FILTER_FIELD_PROPERTY && strcmp(n->prop, "geometry") == 0) {
        cql2_fail(ps, "geometry can only be used with S_INTERSECTS");
        rc = -EINVAL;
    } else if (rc == -EINVAL) {
        cql2_fail(ps, "invalid property name");
    } else if (rc < 0) {
        cql2_oom(ps);
    }
    if (rc < 0) {
        filter_free(n);
        return NULL;
    }
    return n;
}

static bool add_value(struct parser *ps, struct filter_node *n, struct scalar *s)
{
    int rc = filter_add_value(&ps->budget, n, &s->v);
    if (rc == -E2BIG)
        cql2_fail(ps, "more than %d literal values", FILTER_MAX_VALUES);
    else if (rc < 0)
        cql2_oom(ps);
    return rc == 0;
}

static struct filter_node *negate(struct parser *ps, struct filter_node *n)
{
    bool over = false;
    struct filter_node *not = filter_node_new(&ps->budget, FILTER_NOT, &over);
    if (!not || filter_add_kid(not, n) < 0) {
        if (over)
            cql2_fail(ps, "more than %d predicates", FILTER_MAX_NODES);
        else
            cql2_oom(ps);
        filter_free(n);
        free(not );
        return NULL;
    }
    return not ;
}

/* ---- boolean structure ------------------------------------------------------- */

static struct filter_node *parse_or(struct parser *ps, int depth);

static enum filter_cmp flip(enum filter_cmp c)
{
    switch (c) {
    case FILTER_LT:
        return FILTER_GT;
    case FILTER_LE:
        return FILTER_GE;
    case FILTER_GT:
        return FILTER_LT;
    case FILTER_GE:
        return FILTER_LE;
    default:
        return c;
    }
}

static bool cmp_token(enum tok t, enum filter_cmp *c)
{
    switch (t) {
    case T_EQ:
        *c = FILTER_EQ;
        return true;
    case T_NE:
        *c = FILTER_NE;
        return true;
    case T_LT:
        *c = FILTER_LT;
        return true;
    case T_LE:
        *c = FILTER_LE;
        return true;
    case T_GT:
        *c = FILTER_GT;
        return true;
    case T_GE:
        *c = FILTER_GE;
        return true;
    default:
        return false;
    }
}

/* The predicate that follows lhs (taken). */
static struct filter_node *predicate(struct parser *ps, struct scalar *lhs)
{
    struct filter_node *n = NULL;
    struct scalar rhs = {0}, hi = {0};
    enum filter_cmp c;
    if (cmp_token(ps->tok.t, &c)) {
        cql2_next(ps);
        if (!parse_scalar(ps, &rhs))
            goto done;
        if (lhs->is_prop == rhs.is_prop) {
            cql2_fail(ps, lhs->is_prop ? "comparing two properties is not supported"
                                       : "a comparison needs a property on one side");
            goto done;
        }
        struct scalar *prop = lhs->is_prop ? lhs : &rhs, *lit = lhs->is_prop ? &rhs : lhs;
        if (!(n = leaf(ps, FILTER_CMP, prop)))
            goto done;
        n->cmp = lhs->is_prop ? c : flip(c);
        if (!add_value(ps, n, lit)) {
            filter_free(n);
            n = NULL;
        }
        goto done;
    }
    if (cql2_is_kw(&ps->tok, "IS")) {
        cql2_next(ps);
        bool not = cql2_accept_kw(ps, "NOT");
        if (!cql2_accept_kw(ps, "NULL")) {
            cql2_fail(ps, "expected NULL");
            goto done;
        }
        if (!lhs->is_prop) {
            cql2_fail(ps, "IS NULL needs a property");
            goto done;
        }
        if ((n = leaf(ps, FILTER_ISNULL, lhs)) && not )
            n = negate(ps, n);
        goto done;
    }
    bool not = cql2_accept_kw(ps, "NOT");
    if (cql2_accept_kw(ps, "LIKE")) {
        if (!parse_scalar(ps, &rhs))
            goto done;
        if (!lhs->is_prop || rhs.is_prop || rhs.v.type != FILTER_STRING) {
            cql2_fail(ps, "LIKE needs a property and a quoted pattern");
            goto done;
        }
        if ((n = leaf(ps, FILTER_LIKE, lhs)) && !add_value(ps, n, &rhs)) {
            filter_free(n);
            n = NULL;
        }
    } else if (cql2_accept_kw(ps, "BETWEEN")) {
        if (!parse_scalar(ps, &rhs) ||
            !(cql2_accept_kw(ps, "AND") || (cql2_fail(ps, "expected AND"), 0)) ||
            !parse_scalar(ps, &hi))
            goto done;
        if (!lhs->is_prop || rhs.is_prop || hi.is_prop || rhs.v.type != hi.v.type ||
            rhs.v.type == FILTER_BOOL) {
            cql2_fail(ps, "BETWEEN needs a property and two numbers, strings or timestamps of one "
                          "type");
            goto done;
        }
        if ((n = leaf(ps, FILTER_BETWEEN, lhs)) &&
            (!add_value(ps, n, &rhs) || !add_value(ps, n, &hi))) {
            filter_free(n);
            n = NULL;
        }
    } else if (cql2_accept_kw(ps, "IN")) {
        if (!lhs->is_prop) {
            cql2_fail(ps, "IN needs a property");
            goto done;
        }
        if (!cql2_expect(ps, T_LPAREN, "'('") || !(n = leaf(ps, FILTER_IN, lhs)))
            goto done;
        do {
            if (!parse_scalar(ps, &rhs))
                break;
            if (rhs.is_prop) {
                cql2_fail(ps, "IN lists hold literals only");
                break;
            }
            if (!add_value(ps, n, &rhs))
                break;
            scalar_free(&rhs);
        } while (cql2_accept(ps, T_COMMA));
        if (ps->rc || !cql2_expect(ps, T_RPAREN, "')' or ','")) {
            filter_free(n);
            n = NULL;
        }
    } else {
        if (!not &&!lhs->is_prop && lhs->v.type == FILTER_BOOL) {
            bool over = false;
            if ((n = filter_node_new(&ps->budget, FILTER_CONST, &over)))
                n->negated = lhs->v.num == 0;
            else if (over)
                cql2_fail(ps, "more than %d predicates", FILTER_MAX_NODES);
            else
                cql2_oom(ps);
            goto done;
        }
        cql2_fail(ps, "expected a comparison (=, <>, <, <=, >, >=, LIKE, BETWEEN, IN, IS NULL)");
        goto done;
    }
    if (n && not )
        n = negate(ps, n);
done:
    scalar_free(lhs);
    scalar_free(&rhs);
    scalar_free(&hi);
    return n;
}

static struct filter_node *parse_primary(struct parser *ps, int depth)
{
    if (cql2_accept(ps, T_LPAREN)) {
        struct filter_node *n = parse_or(ps, depth + 1);
        if (n && !cql2_expect(ps, T_RPAREN, "')'")) {
            filter_free(n);
            return NULL;
        }
        return n;
    }
    if (ps->tok.t == T_IDENT && cql2_peek_lparen(ps)) {
        if (cql2_accept_kw(ps, "S_INTERSECTS"))
            return cql2_s_intersects(ps);
        if (cql2_accept_kw(ps, "T_INTERSECTS"))
            return cql2_t_intersects(ps);
        if (!cql2_is_kw(&ps->tok, "TIMESTAMP") && !cql2_is_kw(&ps->tok, "DATE")) {
            unsupported_function(ps);
            return NULL;
        }
    }
    struct scalar lhs;
    if (!parse_scalar(ps, &lhs))
        return NULL;
    return predicate(ps, &lhs);
}

static struct filter_node *parse_not(struct parser *ps, int depth)
{
    if (depth > FILTER_MAX_DEPTH) {
        cql2_fail(ps, "nested more than %d levels deep", FILTER_MAX_DEPTH);
        return NULL;
    }
    if (cql2_accept_kw(ps, "NOT")) {
        struct filter_node *n = parse_not(ps, depth + 1);
        return n ? negate(ps, n) : NULL;
    }
    return parse_primary(ps, depth);
}

/* AND (kw "AND", parse_not) and OR (kw "OR", parse_and) share this shape. */
static struct filter_node *parse_junction(struct parser *ps, int depth, bool is_or)
{
    struct filter_node *n = is_or ? parse_junction(ps, depth, false) : parse_not(ps, depth);
    if (!n)
        return NULL;
    enum filter_op op = is_or ? FILTER_OR : FILTER_AND;
    struct filter_node *j = NULL;
    while (cql2_accept_kw(ps, is_or ? "OR" : "AND")) {
        struct filter_node *k = is_or ? parse_junction(ps, depth, false) : parse_not(ps, depth);
        if (!k)
            goto fail;
        if (!j) {
            bool over = false;
            if (!(j = filter_node_new(&ps->budget, op, &over)) || filter_add_kid(j, n) < 0) {
                if (over)
                    cql2_fail(ps, "more than %d predicates", FILTER_MAX_NODES);
                else
                    cql2_oom(ps);
                filter_free(k);
                goto fail;
            }
            n = NULL;
        }
        if (filter_add_kid(j, k) < 0) {
            cql2_oom(ps);
            filter_free(k);
            goto fail;
        }
    }
    return j ? j : n;
fail:
    filter_free(n);
    filter_free(j);
    return NULL;
}

static struct filter_node *parse_or(struct parser *ps, int depth)
{
    if (depth > FILTER_MAX_DEPTH) {
        cql2_fail(ps, "nested more than %d levels deep", FILTER_MAX_DEPTH);
        return NULL;
    }
    return parse_junction(ps, depth, true);
}

int filter_parse_cql2_text(const char *text, struct filter_node **out, char *err, size_t errlen)
{
    *out = NULL;
    if (strlen(text) > FILTER_MAX_TEXT) {
        snprintf(err, errlen, "filter: longer than %d bytes", FILTER_MAX_TEXT);
        return -EINVAL;
    }
    struct parser ps = {.src = text, .p = text, .err = err, .errlen = errlen};
    cql2_next(&ps);
    if (ps.tok.t == T_EOF) {
        snprintf(err, errlen, "filter is empty");
        return -EINVAL;
    }
    struct filter_node *n = ps.rc ? NULL : parse_or(&ps, 0);
    if (n && ps.tok.t != T_EOF)
        cql2_fail(&ps, "unexpected text after the filter");
    free(ps.tok.text);
    if (ps.rc || !n) {
        filter_free(n);
        if (!ps.rc)
            ps.rc = -ENOMEM;
        return ps.rc;
    }
    *out = n;
    return 0;
}
