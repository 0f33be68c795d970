/* Unit tests for the STAC extension parsers (src/catalog/filter.c,
 * cql2_text.c, cql2_json.c, sortby.c, fields.c): what each accepts, in the
 * normal form the drivers see (printed as an S-expression), and what each
 * refuses with a message that names the culprit. Pure functions;
 * single-threaded. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "catalog/fields.h"
#include "catalog/filter.h"

/* ---- printing the tree ------------------------------------------------------ */

static void put(char *out, size_t len, const char *fmt, ...)
{
    size_t n = strlen(out);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + n, len - n, fmt, ap);
    va_end(ap);
}

static void dump_value(const struct filter_value *v, char *out, size_t len)
{
    switch (v->type) {
    case FILTER_BOOL:
        put(out, len, v->num ? "true" : "false");
        break;
    case FILTER_NUMBER:
        put(out, len, "%g", v->num);
        break;
    case FILTER_STRING:
        put(out, len, "'%s'", v->str);
        break;
    case FILTER_TIME:
        put(out, len, "t%lld", (long long)v->ms);
        break;
    }
}

static void dump(const struct filter_node *n, char *out, size_t len)
{
    static const char *const cmps[] = {"=", "<>", "<", "<=", ">", ">="};
    const char *field = n->field == FILTER_FIELD_ID           ? "#id"
                        : n->field == FILTER_FIELD_COLLECTION ? "#collection"
                                                              : n->prop;
    if (n->negated && n->op != FILTER_CONST)
        put(out, len, "(not ");
    switch (n->op) {
    case FILTER_AND:
    case FILTER_OR:
    case FILTER_NOT:
        put(out, len, "(%s", n->op == FILTER_AND ? "and" : n->op == FILTER_OR ? "or" : "NOT");
        for (size_t i = 0; i < n->nkids; i++) {
            put(out, len, " ");
            dump(n->kids[i], out, len);
        }
        put(out, len, ")");
        break;
    case FILTER_CONST:
        put(out, len, n->negated ? "FALSE" : "TRUE");
        break;
    case FILTER_CMP:
    case FILTER_LIKE:
    case FILTER_IN:
    case FILTER_BETWEEN:
        put(out, len, "(%s %s",
            n->op == FILTER_CMP    ? cmps[n->cmp]
            : n->op == FILTER_LIKE ? "like"
            : n->op == FILTER_IN   ? "in"
                                   : "between",
            field);
        for (size_t i = 0; i < n->nvalues; i++) {
            put(out, len, " ");
            dump_value(&n->values[i], out, len);
        }
        put(out, len, ")");
        break;
    case FILTER_ISNULL:
        put(out, len, "(isnull %s)", field);
        break;
    case FILTER_S_INTERSECTS: {
        double b[4];
        catalog_geom_bbox(n->geom, b);
        put(out, len, "(s_intersects %g %g %g %g)", b[0], b[1], b[2], b[3]);
        break;
    }
    case FILTER_T_INTERSECTS:
        put(out, len, "(t_intersects ");
        if (n->has_start)
            put(out, len, "%lld", (long long)n->start);
        else
            put(out, len, "..");
        if (n->has_end)
            put(out, len, " %lld)", (long long)n->end);
        else
            put(out, len, " ..)");
        break;
    case FILTER_ASSET_PREFIX:
    case FILTER_ASSET_KEY:
        put(out, len, "(asset_%s '%s')", n->op == FILTER_ASSET_KEY ? "key" : "prefix",
            n->values[0].str);
        break;
    }
    if (n->negated && n->op != FILTER_CONST)
        put(out, len, ")");
}

/* Parses CQL2 text, normalizes, and checks the printed form. */
static void text_ok(const char *text, const char *want)
{
    struct filter_node *n = NULL;
    char err[320] = "", out[2048] = "";
    int rc = filter_parse_cql2_text(text, &n, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s: %d %s", text, rc, err);
    filter_normalize(&n);
    dump(n, out, sizeof(out));
    if (strcmp(out, want) != 0)
        fail_msg("%s\n  got  %s\n  want %s", text, out, want);
    filter_free(n);
}

/* Expects a refusal whose message holds every needle. */
static void text_bad(const char *text, const char *needle, const char *needle2)
{
    struct filter_node *n = NULL;
    char err[320] = "";
    int rc = filter_parse_cql2_text(text, &n, err, sizeof(err));
    if (rc != -EINVAL)
        fail_msg("%s: accepted (%d)", text, rc);
    assert_null(n);
    if (!strstr(err, needle) || (needle2 && !strstr(err, needle2)))
        fail_msg("%s: message \"%s\" lacks \"%s\"", text, err, needle2 ? needle2 : needle);
}

static void json_ok(const char *json, const char *want)
{
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    struct filter_node *n = NULL;
    char err[320] = "", out[2048] = "";
    int rc = filter_parse_cql2_json(j, &n, err, sizeof(err));
    cJSON_Delete(j);
    if (rc != 0)
        fail_msg("%s: %d %s", json, rc, err);
    filter_normalize(&n);
    dump(n, out, sizeof(out));
    if (strcmp(out, want) != 0)
        fail_msg("%s\n  got  %s\n  want %s", json, out, want);
    filter_free(n);
}

static void json_bad(const char *json, const char *needle)
{
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    struct filter_node *n = NULL;
    char err[320] = "";
    int rc = filter_parse_cql2_json(j, &n, err, sizeof(err));
    cJSON_Delete(j);
    if (rc != -EINVAL)
        fail_msg("%s: accepted (%d)", json, rc);
    if (!strstr(err, needle))
        fail_msg("%s: message \"%s\" lacks \"%s\"", json, err, needle);
}

static void query_ok(const char *json, const char *want)
{
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    struct filter_node *n = NULL;
    char err[320] = "", out[2048] = "";
    int rc = filter_parse_query(j, &n, err, sizeof(err));
    cJSON_Delete(j);
    if (rc != 0)
        fail_msg("%s: %d %s", json, rc, err);
    filter_normalize(&n);
    if (n)
        dump(n, out, sizeof(out));
    if (strcmp(out, want) != 0)
        fail_msg("%s\n  got  %s\n  want %s", json, out, want);
    filter_free(n);
}

static void query_bad(const char *json, const char *needle)
{
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    struct filter_node *n = NULL;
    char err[320] = "";
    int rc = filter_parse_query(j, &n, err, sizeof(err));
    cJSON_Delete(j);
    if (rc != -EINVAL)
        fail_msg("%s: accepted (%d)", json, rc);
    if (!strstr(err, needle))
        fail_msg("%s: message \"%s\" lacks \"%s\"", json, err, needle);
}

/* ---- CQL2 text -------------------------------------------------------------- */

static void test_cql2_text_basic(void **state)
{
    (void)state;
    text_ok("cm:emission > 1000", "(> cm:emission 1000)");
    text_ok("properties.cm:emission >= 1e3", "(>= cm:emission 1000)");
    text_ok("1000 < cm:emission", "(> cm:emission 1000)"); /* literal first: flipped */
    text_ok("x <= -2.5", "(<= x -2.5)");
    text_ok("x = 'it''s'", "(= x 'it's')");
    text_ok("x = ''", "(= x '')");
    text_ok("x = ''''", "(= x ''')"); /* one quote, doubled */
    text_ok("x = '''a'''", "(= x ''a'')");
    text_ok("\"odd name\" = TRUE", "(= odd name true)");
    text_ok("x <> 3", "(not (= x 3))"); /* <> is a negated = */
    text_ok("id = 'a' and collection = 'c'", "(and (= #id 'a') (= #collection 'c'))");
    text_ok("properties.id = 'a'", "(= id 'a')"); /* an explicit property */
    text_ok("a = 1 OR b = 2 OR c = 3", "(or (= a 1) (= b 2) (= c 3))");
    text_ok("a = 1 AND (b = 2 OR c = 3)", "(and (= a 1) (or (= b 2) (= c 3)))");
    text_ok("a = 1 OR b = 2 AND c = 3", "(or (= a 1) (and (= b 2) (= c 3)))"); /* precedence */
    /* NOT pushed to the leaves (De Morgan), double negation removed. */
    text_ok("NOT (a = 1 AND b < 2)", "(or (not (= a 1)) (not (< b 2)))");
    text_ok("NOT NOT a = 1", "(= a 1)");
    text_ok("not (a = 1 or not b is null)", "(and (not (= a 1)) (isnull b))");
    text_ok("a IS NULL", "(isnull a)");
    text_ok("a IS NOT NULL", "(not (isnull a))");
    text_ok("TRUE", "TRUE");
    text_ok("a = 1 AND FALSE", "FALSE");
    text_ok("a = 1 OR TRUE", "TRUE");
    text_ok("a = 1 AND TRUE", "(= a 1)");
    text_ok("datetime > TIMESTAMP('2021-01-01T00:00:00Z')", "(> datetime t1609459200000)");
    text_ok("datetime >= DATE('2021-01-01')", "(>= datetime t1609459200000)");
}

static void test_cql2_text_advanced(void **state)
{
    (void)state;
    text_ok("name LIKE 'ab%'", "(like name 'ab%')");
    text_ok("name NOT LIKE 'a\\_b'", "(not (like name 'a\\_b'))");
    text_ok("n BETWEEN 1 AND 5", "(between n 1 5)");
    text_ok("n NOT BETWEEN -1 AND 5.5", "(not (between n -1 5.5))");
    text_ok("s IN ('a', 'b', 3)", "(in s 'a' 'b' 3)");
    text_ok("s NOT IN ('a')", "(not (in s 'a'))");
    text_ok("T_INTERSECTS(datetime, TIMESTAMP('1970-01-01T00:00:01Z'))",
            "(t_intersects 1000 1000)");
    text_ok("t_intersects(datetime, DATE('1970-01-02'))", "(t_intersects 86400000 172799999)");
    text_ok("T_INTERSECTS(datetime, INTERVAL('1970-01-01T00:00:01Z', '..'))",
            "(t_intersects 1000 ..)");
    text_ok("T_INTERSECTS(INTERVAL('..', '1970-01-01'), datetime)", "(t_intersects .. 86399999)");
    text_ok("S_INTERSECTS(geometry, POINT(1 2))", "(s_intersects 1 2 1 2)");
    text_ok("S_INTERSECTS(geometry, POINT Z (1 2 3))", "(s_intersects 1 2 1 2)");
    text_ok("S_INTERSECTS(POLYGON((0 0, 4 0, 4 3, 0 3, 0 0)), geometry)", "(s_intersects 0 0 4 3)");
    text_ok("S_INTERSECTS(geometry, LINESTRING(-1 -2, 3 4))", "(s_intersects -1 -2 3 4)");
    text_ok("S_INTERSECTS(geometry, MULTIPOINT((1 2), (3 4)))", "(s_intersects 1 2 3 4)");
    text_ok("S_INTERSECTS(geometry, MULTIPOINT(1 2, 3 4))", "(s_intersects 1 2 3 4)");
    text_ok("S_INTERSECTS(geometry, MULTILINESTRING((0 0, 1 1), (2 2, 3 5)))",
            "(s_intersects 0 0 3 5)");
    text_ok("S_INTERSECTS(geometry, MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5))))",
            "(s_intersects 0 0 6 6)");
    text_ok("S_INTERSECTS(geometry, GEOMETRYCOLLECTION(POINT(1 1), LINESTRING(2 2, 3 3)))",
            "(s_intersects 1 1 3 3)");
    text_ok("S_INTERSECTS(geometry, BBOX(-10, -5, 10, 5))", "(s_intersects -10 -5 10 5)");
    /* Across the antimeridian: two boxes, the full longitude range bounds them. */
    text_ok("S_INTERSECTS(geometry, BBOX(170, -5, -170, 5))", "(s_intersects -180 -5 180 5)");
    text_ok("NOT S_INTERSECTS(geometry, POINT(0 0))", "(not (s_intersects 0 0 0 0))");
}

static void test_cql2_text_errors(void **state)
{
    (void)state;
    text_bad("", "filter is empty", NULL);
    text_bad("   ", "filter is empty", NULL);
    text_bad("a =", "expected a property name or a literal", "end of the text");
    text_bad("a = 1 b", "unexpected text", "position 7");
    text_bad("a = 'open", "unterminated", NULL);
    text_bad("a = 'open''", "unterminated", NULL); /* a doubled quote does not close */
    {
        /* The longest string is taken, one byte more is not (a doubled quote
         * inside counts once). */
        char text[FILTER_MAX_STRING + 16];
        size_t n = strlen("a = '");
        memcpy(text, "a = '", n);
        memset(text + n, 'x', FILTER_MAX_STRING - 1);
        memcpy(text + n + FILTER_MAX_STRING - 1, "'''", 4);
        struct filter_node *f = NULL;
        char err[256] = "";
        if (filter_parse_cql2_text(text, &f, err, sizeof(err)) != 0)
            fail_msg("the longest string was refused: %s", err);
        filter_free(f);
        memcpy(text + n + FILTER_MAX_STRING - 1, "x'''", 5);
        text_bad(text, "too long", NULL);
    }
    text_bad("a == 1", "expected a property name or a literal", "position 4");
    text_bad("a != 1", "expected a comparison", NULL);
    text_bad("a = b", "comparing two properties", NULL);
    text_bad("1 = 1", "a comparison needs a property", NULL);
    text_bad("CASEI(name) = 'x'", "CQL2 function CASEI is not supported", NULL);
    text_bad("S_CONTAINS(geometry, POINT(1 1))", "S_CONTAINS is not supported", NULL);
    text_bad("T_BEFORE(datetime, TIMESTAMP('2020-01-01T00:00:00Z'))", "T_BEFORE", NULL);
    text_bad("frobnicate(x) = 1", "unknown function frobnicate", NULL);
    text_bad("a + 1 = 2", "expected a comparison", NULL);
    text_bad("a LIKE 5", "LIKE needs", NULL);
    text_bad("a BETWEEN 1 AND 'z'", "BETWEEN needs", NULL);
    text_bad("a IN ()", "expected a property name or a literal", NULL);
    text_bad("a IN (b)", "IN lists hold literals only", NULL);
    text_bad("a IS 5", "expected NULL", NULL);
    text_bad("geometry = 1", "geometry can only be used with S_INTERSECTS", NULL);
    text_bad("S_INTERSECTS(footprint, POINT(1 1))", "on the property geometry only", NULL);
    text_bad("S_INTERSECTS(geometry, POINT(1))", "expected a position", NULL);
    text_bad("S_INTERSECTS(geometry, POLYGON((0 0, 1 1, 0 0)))", "invalid geometry", NULL);
    text_bad("S_INTERSECTS(geometry, POINT(200 0))", "invalid geometry", NULL);
    text_bad("S_INTERSECTS(geometry, POINT EMPTY)", "empty geometries", NULL);
    text_bad("S_INTERSECTS(geometry, CIRCLE(1 1))", "expected a geometry", NULL);
    text_bad("S_INTERSECTS(geometry, BBOX(1, 2, 3))", "BBOX", NULL);
    text_bad("T_INTERSECTS(created, TIMESTAMP('2020-01-01T00:00:00Z'))", "datetime only", NULL);
    text_bad("T_INTERSECTS(datetime, INTERVAL('2021-01-01', '2020-01-01'))", "start is after",
             NULL);
    text_bad("T_INTERSECTS(datetime, INTERVAL(start_datetime, '..'))", "INTERVAL takes", NULL);
    text_bad("datetime > TIMESTAMP('yesterday')", "invalid TIMESTAMP", NULL);
    text_bad("datetime > DATE('2021-02-30')", "invalid DATE", NULL);
    text_bad("a = 1e999", "expected a property name or a literal", NULL);
    text_bad("and = 1", "expected a property name or a literal", NULL);
    text_bad("a = 1 AND", "end of the text", NULL);
    text_bad("(a = 1", "expected ')'", NULL);
    /* Control characters are not echoed back. */
    text_bad("a = 1 \x01", "unexpected text", "\"?\"");
}

static void test_cql2_text_limits(void **state)
{
    (void)state;
    char buf[8192] = "";
    /* Depth: 40 nested brackets. */
    for (int i = 0; i < 40; i++)
        strcat(buf, "(");
    strcat(buf, "a = 1");
    for (int i = 0; i < 40; i++)
        strcat(buf, ")");
    text_bad(buf, "nested more than", NULL);
    /* NOT chains count too. */
    buf[0] = 0;
    for (int i = 0; i < 40; i++)
        strcat(buf, "NOT ");
    strcat(buf, "a = 1");
    text_bad(buf, "nested more than", NULL);
    /* Predicates. */
    buf[0] = 0;
    for (int i = 0; i < 300; i++)
        strcat(buf, i ? " OR a = 1" : "a = 1");
    text_bad(buf, "more than 256 predicates", NULL);
    /* Values. */
    char *big = malloc(20000);
    strcpy(big, "a IN (");
    for (int i = 0; i < 1100; i++)
        strcat(big, i ? ",1" : "1");
    strcat(big, ")");
    text_bad(big, "more than 1000 literal values", NULL);
    /* A string literal over the limit. */
    memset(big, 'x', 19990);
    big[19990] = 0;
    memcpy(big, "a = '", 5);
    strcat(big, "'");
    text_bad(big, "too long", NULL);
    free(big);
}

/* ---- CQL2 JSON ------------------------------------------------------------------ */

static void test_cql2_json(void **state)
{
    (void)state;
    json_ok("{\"op\":\">\",\"args\":[{\"property\":\"cm:emission\"},1000]}",
            "(> cm:emission 1000)");
    json_ok("{\"op\":\"<\",\"args\":[5,{\"property\":\"n\"}]}", "(> n 5)");
    json_ok("{\"op\":\"and\",\"args\":[{\"op\":\"=\",\"args\":[{\"property\":\"id\"},\"a\"]},"
            "{\"op\":\"not\",\"args\":[{\"op\":\"isNull\",\"args\":[{\"property\":\"x\"}]}]}]}",
            "(and (= #id 'a') (not (isnull x)))");
    json_ok("{\"op\":\"or\",\"args\":[{\"op\":\"like\",\"args\":[{\"property\":\"s\"},\"a%\"]},"
            "{\"op\":\"between\",\"args\":[{\"property\":\"n\"},1,2]},"
            "{\"op\":\"in\",\"args\":[{\"property\":\"s\"},[\"x\",true]]}]}",
            "(or (like s 'a%') (between n 1 2) (in s 'x' true))");
    json_ok(
        "{\"op\":\"=\",\"args\":[{\"property\":\"t\"},{\"timestamp\":\"1970-01-01T00:00:01Z\"}]}",
        "(= t t1000)");
    json_ok("{\"op\":\"=\",\"args\":[{\"property\":\"t\"},{\"date\":\"1970-01-02\"}]}",
            "(= t t86400000)");
    json_ok("{\"op\":\"s_intersects\",\"args\":[{\"property\":\"geometry\"},"
            "{\"type\":\"Point\",\"coordinates\":[1,2]}]}",
            "(s_intersects 1 2 1 2)");
    json_ok("{\"op\":\"s_intersects\",\"args\":[{\"property\":\"geometry\"},{\"bbox\":[0,1,2,3]}]}",
            "(s_intersects 0 1 2 3)");
    json_ok("{\"op\":\"t_intersects\",\"args\":[{\"property\":\"datetime\"},"
            "{\"interval\":[\"1970-01-01T00:00:01Z\",\"..\"]}]}",
            "(t_intersects 1000 ..)");
    json_ok("{\"op\":\"t_intersects\",\"args\":[{\"property\":\"datetime\"},{\"date\":\"1970-01-"
            "01\"}]}",
            "(t_intersects 0 86399999)");
    json_ok("true", "TRUE");
    json_ok("{\"op\":\"not\",\"args\":[{\"op\":\"<>\",\"args\":[{\"property\":\"a\"},1]}]}",
            "(= a 1)");

    json_bad("{\"op\":\"casei\",\"args\":[{\"property\":\"s\"}]}", "casei is not supported");
    json_bad("{\"op\":\"s_within\",\"args\":[]}", "s_within is not supported");
    json_bad("{\"op\":\"t_before\",\"args\":[]}", "t_before is not supported");
    json_bad("{\"op\":\"frob\",\"args\":[]}", "unknown operator frob");
    json_bad("{\"op\":\"=\",\"args\":[{\"property\":\"a\"},{\"property\":\"b\"}]}",
             "comparing two properties");
    json_bad("{\"op\":\"=\",\"args\":[{\"property\":\"a\"},{\"op\":\"+\",\"args\":[1,2]}]}",
             "functions and expressions are not supported");
    json_bad("{\"op\":\"=\",\"args\":[{\"property\":\"a\"}]}", "= needs two arguments");
    json_bad("{\"op\":\"and\",\"args\":[true]}", "and needs at least two");
    json_bad("{\"op\":\"=\",\"args\":[{\"property\":\"a\"},1],\"extra\":1}",
             "unknown member \"extra\"");
    json_bad("{\"args\":[]}", "expected an expression object");
    json_bad("{\"op\":\"=\",\"args\":[{\"property\":\"a\"},null]}", "expected a literal");
    json_bad("{\"op\":\"in\",\"args\":[{\"property\":\"a\"},[]]}", "non-empty array");
    json_bad(
        "{\"op\":\"like\",\"args\":[{\"property\":\"a\"},{\"op\":\"casei\",\"args\":[\"x\"]}]}",
        "like needs");
    json_bad("{\"op\":\"s_intersects\",\"args\":[{\"property\":\"geometry\"},{\"type\":\"Blob\"}]}",
             "s_intersects");
    json_bad("{\"op\":\"s_intersects\",\"args\":[{\"property\":\"geom\"},{\"bbox\":[0,0,1,1]}]}",
             "geometry only");
    json_bad("{\"op\":\"t_intersects\",\"args\":[{\"property\":\"datetime\"},"
             "{\"interval\":[\"2021-01-01\",\"2020-01-01\"]}]}",
             "start is after");
    json_bad("{\"op\":\"=\",\"args\":[{\"property\":\"t\"},{\"timestamp\":\"nope\"}]}",
             "invalid timestamp");
    json_bad("{\"function\":{\"name\":\"f\",\"args\":[]}}", "functions are not supported");
    json_bad("5", "expected an expression object");
    /* Depth. */
    char buf[4096] = "";
    for (int i = 0; i < 40; i++)
        strcat(buf, "{\"op\":\"not\",\"args\":[");
    strcat(buf, "true");
    for (int i = 0; i < 40; i++)
        strcat(buf, "]}");
    json_bad(buf, "nested more than");
}

/* ---- the query extension ----------------------------------------------------------- */

static void test_query_extension(void **state)
{
    (void)state;
    query_ok("{}", "");
    query_ok("{\"cm:emission\":{\"gt\":1000}}", "(> cm:emission 1000)");
    query_ok("{\"n\":{\"gte\":1,\"lt\":5},\"s\":{\"eq\":\"x\"}}",
             "(and (>= n 1) (< n 5) (= s 'x'))");
    query_ok("{\"s\":{\"neq\":\"x\"}}", "(not (= s 'x'))");
    query_ok("{\"s\":{\"startsWith\":\"a%b\"}}", "(like s 'a\\%b%')");
    query_ok("{\"s\":{\"endsWith\":\"_z\"}}", "(like s '%\\_z')");
    query_ok("{\"s\":{\"contains\":\"\\\\\"}}", "(like s '%\\\\%')");
    query_ok("{\"s\":{\"in\":[\"a\",2,false]}}", "(in s 'a' 2 false)");
    /* A date-time string is an instant for a property, a string for id. */
    query_ok("{\"datetime\":{\"lt\":\"1970-01-01T00:00:01Z\"}}", "(< datetime t1000)");
    query_ok("{\"id\":{\"eq\":\"1970-01-01T00:00:01Z\"}}", "(= #id '1970-01-01T00:00:01Z')");
    query_ok("{\"properties.b\":{\"eq\":true}}", "(= b true)");

    query_bad("[]", "query must be a JSON object");
    query_bad("{\"a\":5}", "\"a\" needs a non-empty object of operators");
    query_bad("{\"a\":{}}", "\"a\" needs a non-empty object");
    query_bad("{\"a\":{\"like\":\"x\"}}", "unknown operator \"like\" for property \"a\"");
    query_bad("{\"a\":{\"eq\":null}}", "eq of \"a\" needs a string, number or boolean");
    query_bad("{\"a\":{\"eq\":[1]}}", "eq of \"a\"");
    query_bad("{\"a\":{\"startsWith\":5}}", "startsWith of \"a\" needs a string");
    query_bad("{\"a\":{\"in\":[]}}", "in of \"a\" needs a non-empty array");
    query_bad("{\"a\":{\"in\":[{}]}}", "in of \"a\" needs strings");
    query_bad("{\"\":{\"eq\":1}}", "invalid property name");
}

/* ---- sortby ------------------------------------------------------------------------ */

static void test_sortby(void **state)
{
    (void)state;
    struct catalog_sort s;
    char err[320];
    assert_int_equal(
        catalog_sort_parse_text("+cm:emission,-id, datetime,collection", &s, err, sizeof(err)), 0);
    assert_int_equal(s.n, 4);
    assert_int_equal(s.keys[0].field, FILTER_FIELD_PROPERTY);
    assert_string_equal(s.keys[0].prop, "cm:emission");
    assert_false(s.keys[0].desc);
    assert_int_equal(s.keys[1].field, FILTER_FIELD_ID);
    assert_true(s.keys[1].desc);
    assert_int_equal(s.keys[2].field, FILTER_FIELD_DATETIME); /* " datetime": a decoded '+' */
    assert_false(s.keys[2].desc);
    assert_int_equal(s.keys[3].field, FILTER_FIELD_COLLECTION);
    catalog_sort_free(&s);
    assert_int_equal(catalog_sort_parse_text("properties.datetime", &s, err, sizeof(err)), 0);
    assert_int_equal(s.keys[0].field, FILTER_FIELD_DATETIME);
    catalog_sort_free(&s);

    const char *bad[][2] = {{"", "sortby is empty"},
                            {"a,,b", "invalid field name \"\""},
                            {"a,", "invalid field name \"\""},
                            {"--a", "invalid field name \"-a\""},
                            {"+-a", "invalid field name \"-a\""},
                            {"a b", "invalid field name \"a b\""},
                            {"a,-a", "field \"a\" is given twice"},
                            {"a,b,c,d,e,f,g,h,i", "at most 8 fields"},
                            {"properties.", "invalid field name"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        assert_int_equal(catalog_sort_parse_text(bad[i][0], &s, err, sizeof(err)), -EINVAL);
        if (!strstr(err, bad[i][1]))
            fail_msg("sortby=%s: \"%s\" lacks \"%s\"", bad[i][0], err, bad[i][1]);
    }

    cJSON *j =
        cJSON_Parse("[{\"field\":\"properties.n\",\"direction\":\"desc\"},{\"field\":\"id\"}]");
    assert_int_equal(catalog_sort_parse_json(j, &s, err, sizeof(err)), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.keys[0].prop, "n");
    assert_true(s.keys[0].desc);
    assert_false(s.keys[1].desc);
    catalog_sort_free(&s);
    cJSON_Delete(j);
    const char *jbad[][2] = {{"[]", "non-empty array"},
                             {"\"-id\"", "non-empty array"},
                             {"[{\"field\":1}]", "sortby[0] must be an object"},
                             {"[{\"field\":\"a\",\"direction\":\"down\"}]", "not down"},
                             {"[{\"field\":\"a\",\"dir\":\"asc\"}]", "unknown member \"dir\""},
                             {"[{\"field\":\"a\"},{\"field\":\"properties.a\"}]", "twice"}};
    for (size_t i = 0; i < sizeof(jbad) / sizeof(jbad[0]); i++) {
        j = cJSON_Parse(jbad[i][0]);
        assert_non_null(j);
        err[0] = 0;
        assert_int_equal(catalog_sort_parse_json(j, &s, err, sizeof(err)), -EINVAL);
        if (!strstr(err, jbad[i][1]))
            fail_msg("sortby %s: \"%s\" lacks \"%s\"", jbad[i][0], err, jbad[i][1]);
        cJSON_Delete(j);
    }
}

/* ---- fields ---------------------------------------------------------------------- */

static const char *const item_json =
    "{\"type\":\"Feature\",\"stac_version\":\"1.0.0\",\"stac_extensions\":[],\"id\":\"i\","
    "\"collection\":\"c\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[0,0]},"
    "\"bbox\":[0,0,0,0],\"properties\":{\"datetime\":\"2021-01-01T00:00:00Z\",\"a\":1,"
    "\"b\":{\"x\":1,\"y\":2},\"c\":\"z\"},\"links\":[],\"assets\":{\"rgb\":{\"href\":\"h\","
    "\"type\":\"image/png\"}}}";

/* Applies fields to the item and returns its members as "k,k.sub,..." */
static void fields_case(const char *text, bool is_json, const char *want)
{
    struct catalog_fields f;
    char err[320] = "", got[1024] = "";
    int rc;
    if (is_json) {
        cJSON *j = cJSON_Parse(text);
        rc = catalog_fields_parse_json(j, &f, err, sizeof(err));
        cJSON_Delete(j);
    } else {
        rc = catalog_fields_parse_text(text, &f, err, sizeof(err));
    }
    if (rc != 0)
        fail_msg("fields %s: %s", text, err);
    cJSON *item = cJSON_Parse(item_json);
    catalog_fields_apply(&f, item);
    const cJSON *m;
    cJSON_ArrayForEach(m, item)
    {
        put(got, sizeof(got), "%s%s", got[0] ? "," : "", m->string);
        if (cJSON_IsObject(m) &&
            (strcmp(m->string, "properties") == 0 || strcmp(m->string, "assets") == 0)) {
            const cJSON *s;
            put(got, sizeof(got), "(");
            cJSON_ArrayForEach(s, m)
            {
                put(got, sizeof(got), "%s%s", s == m->child ? "" : " ", s->string);
                if (cJSON_IsObject(s) && s->child) {
                    const cJSON *t;
                    put(got, sizeof(got), "[");
                    cJSON_ArrayForEach(t, s)
                        put(got, sizeof(got), "%s%s", t == s->child ? "" : " ", t->string);
                    put(got, sizeof(got), "]");
                }
            }
            put(got, sizeof(got), ")");
        }
    }
    cJSON_Delete(item);
    catalog_fields_free(&f);
    if (strcmp(got, want) != 0)
        fail_msg("fields %s\n  got  %s\n  want %s", text, got, want);
}

static void test_fields(void **state)
{
    (void)state;
    const char *defaults = "type,stac_version,id,collection,geometry,bbox,properties(datetime),"
                           "links,assets(rgb[href type])";
    fields_case("", false, defaults);
    fields_case("{}", true, defaults);
    fields_case("{\"include\":null,\"exclude\":[]}", true, defaults);
    /* Includes are added to the default set; bare names are properties. */
    fields_case("a", false,
                "type,stac_version,id,collection,geometry,bbox,properties(datetime a),links,"
                "assets(rgb[href type])");
    fields_case("properties.b.x,stac_extensions", false,
                "type,stac_version,stac_extensions,id,collection,geometry,bbox,"
                "properties(datetime b[x]),links,assets(rgb[href type])");
    /* Excludes leave the default set (and the includes) minus themselves. */
    fields_case("-geometry,-links", false,
                "type,stac_version,id,collection,bbox,properties(datetime),assets(rgb[href type])");
    fields_case("properties,-properties.b,-assets.rgb.type", false,
                "type,stac_version,id,collection,geometry,bbox,properties(datetime a c),links,"
                "assets(rgb[href])");
    fields_case("+properties.b,-properties", false,
                "type,stac_version,id,collection,geometry,bbox,links,assets(rgb[href type])");
    fields_case("{\"include\":[\"c\"],\"exclude\":[\"datetime\",\"assets\"]}", true,
                "type,stac_version,id,collection,geometry,bbox,properties(c),links");
    fields_case("-datetime", false,
                "type,stac_version,id,collection,geometry,bbox,properties(),links,"
                "assets(rgb[href type])");

    struct catalog_fields f;
    char err[320];
    const char *bad[][2] = {{"a,,b", "1 to 256 bytes"},
                            {"a,", "empty path after the last comma"},
                            {"properties.*", "unsupported path \"properties.*\""},
                            {"assets[0]", "unsupported path"},
                            {"a..b", "empty member name"},
                            {".a", "empty member name"},
                            {"a.", "empty member name"},
                            {"--a", "unsupported path \"-a\""}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        assert_int_equal(catalog_fields_parse_text(bad[i][0], &f, err, sizeof(err)), -EINVAL);
        if (!strstr(err, bad[i][1]))
            fail_msg("fields=%s: \"%s\" lacks \"%s\"", bad[i][0], err, bad[i][1]);
    }
    const char *jbad[][2] = {{"[]", "fields must be an object"},
                             {"{\"includes\":[\"a\"]}", "unknown member \"includes\""},
                             {"{\"include\":\"a\"}", "fields.include must be an array"},
                             {"{\"exclude\":[1]}", "fields.exclude must be an array of strings"},
                             {"{\"include\":[\"-a\"]}", "unsupported path \"-a\""}};
    for (size_t i = 0; i < sizeof(jbad) / sizeof(jbad[0]); i++) {
        cJSON *j = cJSON_Parse(jbad[i][0]);
        err[0] = 0;
        assert_int_equal(catalog_fields_parse_json(j, &f, err, sizeof(err)), -EINVAL);
        if (!strstr(err, jbad[i][1]))
            fail_msg("fields %s: \"%s\" lacks \"%s\"", jbad[i][0], err, jbad[i][1]);
        cJSON_Delete(j);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cql2_text_basic),  cmocka_unit_test(test_cql2_text_advanced),
        cmocka_unit_test(test_cql2_text_errors), cmocka_unit_test(test_cql2_text_limits),
        cmocka_unit_test(test_cql2_json),        cmocka_unit_test(test_query_extension),
        cmocka_unit_test(test_sortby),           cmocka_unit_test(test_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
