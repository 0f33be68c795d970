/* Unit tests for util/jsonscan.c: values as slices, members and elements
 * (also a member at a time, objects entered in place), text cut short (as
 * item templates are), and strings unescaped exactly as cJSON unescapes
 * them. Single-threaded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "util/jsonscan.h"

static struct jsonscan value(const char *text)
{
    struct jsonscan v;
    assert_true(jsonscan_value(text, strlen(text), &v));
    return v;
}

static void test_values(void **state)
{
    (void)state;
    static const struct {
        const char *text, *slice;
        enum jsonscan_type type;
    } cases[] = {
        {" null,", "null", JSONSCAN_NULL},
        {"true]", "true", JSONSCAN_TRUE},
        {"false}", "false", JSONSCAN_FALSE},
        {"-12.5e+3,", "-12.5e+3", JSONSCAN_NUMBER},
        {"\"a\\\"b\\\\\" ,", "\"a\\\"b\\\\\"", JSONSCAN_STRING},
        {"[1,[2,{\"]\":\"}\"}]] x", "[1,[2,{\"]\":\"}\"}]]", JSONSCAN_ARRAY},
        {"{\"a\":{\"b\":[]}}", "{\"a\":{\"b\":[]}}", JSONSCAN_OBJECT},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct jsonscan v = value(cases[i].text);
        assert_int_equal(v.type, cases[i].type);
        assert_int_equal(v.len, strlen(cases[i].slice));
        assert_memory_equal(v.p, cases[i].slice, v.len);
    }
    struct jsonscan v;
    static const char *const bad[] = {"", "  ", "nul", "\"open", "[1,2", "{\"a\":\"}", "x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(jsonscan_value(bad[i], strlen(bad[i]), &v));
}

static void test_members_and_elements(void **state)
{
    (void)state;
    const char *text = "{\"a\" : 1, \"b\":[10, \"x\", [3]], \"a\":2, \"c\":{}}";
    struct jsonscan obj = value(text), k, v, e;
    struct jsonscan_iter it;
    const char *keys[] = {"a", "b", "a", "c"};
    size_t n = 0;
    assert_true(jsonscan_members(&obj, &it));
    while (jsonscan_next(&it, &k, &v))
        assert_true(jsonscan_string_is(&k, keys[n++]));
    assert_int_equal(n, 4);
    assert_true(jsonscan_members(&obj, &it));
    assert_true(jsonscan_next(&it, &k, &v));
    assert_true(jsonscan_next(&it, &k, &v));
    assert_true(jsonscan_index(&v, 1, &e));
    assert_int_equal(e.type, JSONSCAN_STRING);
    assert_true(jsonscan_index(&v, 2, &e));
    assert_int_equal(e.type, JSONSCAN_ARRAY);
    assert_false(jsonscan_index(&v, 3, &e));
    assert_false(jsonscan_index(&k, 0, &e)); /* not an array */

    /* Cut inside the last member (as a template is, inside its links): the
     * members before it are read. */
    const char *cut = "{\"id\":\"x\",\"p\":{\"q\":1},\"links\":[{\"rel\":\"li";
    assert_false(jsonscan_value(cut, strlen(cut), &obj));
    assert_true(jsonscan_open_object(cut, strlen(cut), &obj));
    assert_true(jsonscan_members(&obj, &it));
    assert_true(jsonscan_next(&it, &k, &v) && jsonscan_string_is(&k, "id"));
    assert_true(jsonscan_next(&it, &k, &v) && jsonscan_string_is(&k, "p"));
    assert_false(jsonscan_next(&it, &k, &v));
    assert_false(jsonscan_open_object(" [1]", 4, &obj));
}

/* A member at a time: an object value entered in place reads the same
 * members, and leaving it (whether read to the end or not) goes on after
 * it; a value that is no object is not entered. */
static void test_enter_and_leave(void **state)
{
    (void)state;
    const char *text = "{\"a\":1, \"p\" : {\"x\":{\"y\":\"}\"}, \"z\":[2]} , \"q\":{}, "
                       "\"b\":\"end\"}";
    struct jsonscan obj = value(text), k, v;
    struct jsonscan_iter it, in;
    for (int partly = 0; partly < 2; partly++) {
        assert_true(jsonscan_members(&obj, &it));
        assert_true(jsonscan_key(&it, &k) && jsonscan_string_is(&k, "a"));
        assert_false(jsonscan_enter(&it, &in));
        assert_true(jsonscan_val(&it, &v) && v.type == JSONSCAN_NUMBER);
        assert_true(jsonscan_key(&it, &k) && jsonscan_string_is(&k, "p"));
        assert_true(jsonscan_enter(&it, &in));
        assert_true(jsonscan_next(&in, &k, &v) && jsonscan_string_is(&k, "x"));
        assert_int_equal(v.type, JSONSCAN_OBJECT);
        if (!partly) {
            assert_true(jsonscan_next(&in, &k, &v) && jsonscan_string_is(&k, "z"));
            assert_false(jsonscan_next(&in, &k, &v));
        }
        assert_true(jsonscan_leave(&it, &in));
        assert_true(jsonscan_key(&it, &k) && jsonscan_string_is(&k, "q"));
        assert_true(jsonscan_enter(&it, &in));
        assert_false(jsonscan_next(&in, &k, &v));
        assert_true(jsonscan_leave(&it, &in));
        assert_true(jsonscan_next(&it, &k, &v) && jsonscan_string_is(&k, "b"));
        assert_false(jsonscan_key(&it, &k));
    }
    /* An object cut short cannot be left. */
    const char *cut = "{\"p\":{\"x\":1, \"y\":[";
    assert_true(jsonscan_open_object(cut, strlen(cut), &obj));
    assert_true(jsonscan_members(&obj, &it));
    assert_true(jsonscan_key(&it, &k) && jsonscan_enter(&it, &in));
    assert_true(jsonscan_next(&in, &k, &v));
    assert_false(jsonscan_next(&in, &k, &v));
    assert_false(jsonscan_leave(&it, &in));
}

/* Strings come out as cJSON parses them. */
static void test_strings_as_cjson(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "\"plain\"",
        "\"\"",
        "\"tab\\tnl\\ncr\\rbs\\\\q\\\"sl\\/b\\bf\\f\"",
        "\"\\u00e9\\u4e2d\\ud83d\\ude00 \\u001etessera-asset\\u001e\"",
        "\"raw UTF-8: \xc3\xa9\"",
    };
    char out[256];
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct jsonscan v = value(texts[i]);
        cJSON *c = cJSON_Parse(texts[i]);
        assert_non_null(c);
        long n = jsonscan_string(&v, out);
        assert_int_equal(n, (long)strlen(c->valuestring));
        assert_string_equal(out, c->valuestring);
        assert_true(jsonscan_string_is(&v, c->valuestring));
        cJSON_Delete(c);
    }
    /* Escapes cJSON refuses are refused. */
    static const char *const bad[] = {"\"\\x\"", "\"\\u12\"", "\"\\udc00\"", "\"\\ud83d x\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct jsonscan v = value(bad[i]);
        assert_int_equal(jsonscan_string(&v, out), -1);
        assert_null(cJSON_Parse(bad[i]));
    }
    struct jsonscan k = value("\"cm\\u003aemission\"");
    assert_true(jsonscan_string_is(&k, "cm:emission"));
    assert_false(jsonscan_string_is(&k, "cm:emissio"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_members_and_elements),
        cmocka_unit_test(test_enter_and_leave),
        cmocka_unit_test(test_strings_as_cjson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
