/* Unit tests for src/util/buf.c: appends, formatted appends and
 * concatenations give the same text, stay NUL-terminated, and grow the
 * buffer past its first allocation without losing a byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/buf.h"

static void test_append_printf_concat_agree(void **state)
{
    (void)state;
    struct buf a = {0}, p = {0}, c = {0};
    buf_append(&a, "", 0);
    assert_non_null(a.s);
    assert_string_equal(a.s, "");
    buf_append(&a, "{\"href\":\"", 9);
    buf_append(&a, "https://h", 9);
    buf_append(&a, "/items/x\"}", 10);
    buf_printf(&p, "{\"href\":\"%s/items/%s\"}", "https://h", "x");
    buf_concat(&c, "{\"href\":\"", "https://h", "", "/items/", "x", "\"}", NULL);
    assert_string_equal(a.s, "{\"href\":\"https://h/items/x\"}");
    assert_string_equal(p.s, a.s);
    assert_string_equal(c.s, a.s);
    assert_int_equal(c.n, strlen(a.s));
    buf_concat(&c, NULL); /* nothing to add */
    assert_int_equal(c.n, strlen(a.s));
    assert_false(a.oom || p.oom || c.oom);
    free(a.s);
    free(p.s);
    free(c.s);
}

/* Many pieces, past the first 8 KiB allocation and the 256 bytes
 * buf_printf reserves before formatting. */
static void test_growth_keeps_every_byte(void **state)
{
    (void)state;
    char piece[1000];
    for (size_t i = 0; i < sizeof(piece) - 1; i++)
        piece[i] = (char)('a' + i % 26);
    piece[sizeof(piece) - 1] = '\0';
    struct buf p = {0}, c = {0};
    for (int i = 0; i < 40; i++) {
        buf_printf(&p, "%d:%s;", i, piece);
        char num[16];
        snprintf(num, sizeof(num), "%d", i);
        buf_concat(&c, num, ":", piece, ";", NULL);
    }
    assert_false(p.oom || c.oom);
    assert_true(c.cap > 8192);
    assert_int_equal(p.n, c.n);
    assert_int_equal(strlen(c.s), c.n);
    assert_memory_equal(p.s, c.s, c.n);
    size_t tail = strlen(piece) + 4; /* the last piece, "39:...;" */
    assert_memory_equal(c.s + c.n - tail, "39:", 3);
    assert_memory_equal(c.s + c.n - tail + 3, piece, strlen(piece));
    assert_int_equal(c.s[c.n - 1], ';');
    free(p.s);
    free(c.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_printf_concat_agree),
        cmocka_unit_test(test_growth_keeps_every_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
