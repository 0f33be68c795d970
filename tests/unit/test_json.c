/* Unit tests for json.c: strlist ⇄ JSON array, and json_to_strlist's limits
 * (type, item count, item length, empty items, duplicates). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "util/json.h"

static int parse_into(const char *text, struct strlist *out, size_t max_items, size_t max_len)
{
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    int rc = json_to_strlist(j, out, max_items, max_len);
    cJSON_Delete(j);
    return rc;
}

static void test_roundtrip(void **state)
{
    (void)state;
    struct strlist l = STRLIST_INIT;
    strlist_add(&l, "stac");
    strlist_add(&l, "catalog:read");
    cJSON *arr = json_from_strlist(&l);
    char *text = cJSON_PrintUnformatted(arr);
    assert_string_equal(text, "[\"stac\",\"catalog:read\"]");
    struct strlist back = STRLIST_INIT;
    assert_int_equal(json_to_strlist(arr, &back, 10, 64), 0);
    assert_int_equal(back.n, 2);
    assert_string_equal(back.v[0], "stac");
    assert_string_equal(back.v[1], "catalog:read");
    free(text);
    cJSON_Delete(arr);
    strlist_free(&l);
    strlist_free(&back);

    struct strlist empty = STRLIST_INIT;
    arr = json_from_strlist(&empty);
    text = cJSON_PrintUnformatted(arr);
    assert_string_equal(text, "[]");
    free(text);
    cJSON_Delete(arr);
}

static void test_limits(void **state)
{
    (void)state;
    struct strlist l = STRLIST_INIT;
    assert_int_equal(parse_into("[\"a\",\"b\",\"c\"]", &l, 3, 8), 0);
    assert_int_equal(l.n, 3);
    strlist_free(&l);
    assert_int_equal(parse_into("[\"a\",\"b\",\"c\",\"d\"]", &l, 3, 8), -EINVAL);
    strlist_free(&l);
    assert_int_equal(parse_into("[\"12345678\"]", &l, 3, 8), 0);
    strlist_free(&l);
    assert_int_equal(parse_into("[\"123456789\"]", &l, 3, 8), -EINVAL);
    strlist_free(&l);
    assert_int_equal(parse_into("[]", &l, 0, 8), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(parse_into("[\"x\"]", &l, 0, 8), -EINVAL);
    strlist_free(&l);
}

static void test_bad_items(void **state)
{
    (void)state;
    const char *bad[] = {"[\"\"]", "[1]", "[null]", "[[\"a\"]]", "[{\"a\":1}]", "[true]",
                         "[\"ok\", 2]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct strlist l = STRLIST_INIT;
        assert_int_equal(parse_into(bad[i], &l, 10, 64), -EINVAL);
        strlist_free(&l);
    }
    const char *not_arrays[] = {"\"a\"", "{\"a\":\"b\"}", "null", "3"};
    for (size_t i = 0; i < sizeof(not_arrays) / sizeof(not_arrays[0]); i++) {
        struct strlist l = STRLIST_INIT;
        assert_int_equal(parse_into(not_arrays[i], &l, 10, 64), -EINVAL);
        assert_int_equal(l.n, 0);
    }
    struct strlist l = STRLIST_INIT;
    assert_int_equal(json_to_strlist(NULL, &l, 10, 64), -EINVAL);
}

static void test_duplicates_dropped(void **state)
{
    (void)state;
    struct strlist l = STRLIST_INIT;
    assert_int_equal(parse_into("[\"a\",\"b\",\"a\",\"b\"]", &l, 10, 8), 0);
    assert_int_equal(l.n, 2);
    strlist_free(&l);
}

static void test_writer_escapes_parse_back(void **state)
{
    (void)state;
    const char *nasty = "q\"b\\s/\n\r\t\x01\x1f caf\xc3\xa9 \xe2\x9c\x93";
    char buf[256];
    struct json_out o;
    json_out_init(&o, buf, sizeof(buf));
    json_out_raw(&o, "{\"k\":");
    json_out_string(&o, nasty);
    json_out_raw(&o, ",\"list\":");
    struct strlist l = STRLIST_INIT;
    assert_int_equal(strlist_add(&l, "a"), 0);
    assert_int_equal(strlist_add(&l, "b\"c"), 0);
    json_out_strings(&o, &l);
    json_out_raw(&o, ",\"empty\":");
    struct strlist none = STRLIST_INIT;
    json_out_strings(&o, &none);
    json_out_raw(&o, "}");
    size_t len = 0;
    const char *text = json_out_text(&o, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    assert_non_null(strstr(text, "\\u0001\\u001f")); /* control characters as \u00XX */
    cJSON *back = cJSON_Parse(text);
    assert_non_null(back);
    assert_string_equal(cJSON_GetObjectItem(back, "k")->valuestring, nasty);
    cJSON *arr = cJSON_GetObjectItem(back, "list");
    assert_int_equal(cJSON_GetArraySize(arr), 2);
    assert_string_equal(cJSON_GetArrayItem(arr, 1)->valuestring, "b\"c");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(back, "empty")), 0);
    cJSON_Delete(back);
    strlist_free(&l);
}

static void write_numbers(struct json_out *o, const void *ctx)
{
    size_t repeat = *(const size_t *)ctx;
    json_out_raw(o, "[");
    for (size_t i = 0; i < repeat; i++) {
        json_out_int(o, 0);
        json_out_raw(o, ",");
        json_out_int(o, -9223372036854775807LL - 1);
        json_out_raw(o, ",");
        json_out_int(o, 9223372036854775807LL);
        json_out_raw(o, ",");
        json_out_int(o, -42);
        json_out_raw(o, ",");
        json_out_bool(o, true);
        json_out_raw(o, ",");
        json_out_bool(o, false);
        json_out_raw(o, i + 1 < repeat ? "," : "");
    }
    json_out_raw(o, "]");
}

/* Integers and booleans, and json_out_alloc growing past its first buffer. */
static void test_writer_numbers_and_alloc(void **state)
{
    (void)state;
    const char *one = "[0,-9223372036854775808,9223372036854775807,-42,true,false]";
    for (size_t repeat = 1; repeat <= 20000; repeat *= 100) {
        size_t len = 0;
        char *text = json_out_alloc(write_numbers, &repeat, &len);
        assert_non_null(text);
        assert_int_equal(len, strlen(text));
        assert_int_equal(len, repeat * (strlen(one) - 1) + 1);
        if (repeat == 1)
            assert_string_equal(text, one);
        cJSON *back = cJSON_Parse(text);
        assert_non_null(back);
        assert_int_equal(cJSON_GetArraySize(back), (int)(6 * repeat));
        cJSON_Delete(back);
        free(text);
    }
}

static void test_writer_overflow_is_sticky(void **state)
{
    (void)state;
    char buf[8];
    struct json_out o;
    json_out_init(&o, buf, sizeof(buf));
    json_out_raw(&o, "1234567"); /* exactly fills: 7 bytes + NUL */
    size_t len = 0;
    assert_non_null(json_out_text(&o, &len));
    assert_int_equal(len, 7);
    json_out_raw(&o, "8");
    assert_null(json_out_text(&o, &len));
    json_out_init(&o, buf, sizeof(buf));
    json_out_string(&o, "abcdefgh"); /* the string alone does not fit */
    json_out_raw(&o, "");
    assert_null(json_out_text(&o, &len));
    json_out_init(&o, buf, sizeof(buf));
    json_out_string(&o, "abcde"); /* quoted, exactly fills */
    assert_string_equal(json_out_text(&o, &len), "\"abcde\"");
    json_out_init(&o, buf, sizeof(buf));
    json_out_string(&o, "\"\n"); /* escapes only */
    assert_string_equal(json_out_text(&o, &len), "\"\\\"\\n\"");
    json_out_init(&o, buf, sizeof(buf));
    json_out_string(&o, "\t\x01"); /* one byte too many */
    assert_null(json_out_text(&o, &len));
    json_out_init(&o, buf, 0);
    assert_null(json_out_text(&o, &len));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_bad_items),
        cmocka_unit_test(test_duplicates_dropped),
        cmocka_unit_test(test_writer_escapes_parse_back),
        cmocka_unit_test(test_writer_numbers_and_alloc),
        cmocka_unit_test(test_writer_overflow_is_sticky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
