/* Unit tests for util/strcopy.h: str_copy copies what fits, cuts the rest
 * and always ends the copy with a NUL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/strcopy.h"

static void test_copies_and_cuts(void **state)
{
    (void)state;
    char out[6];
    memset(out, 'x', sizeof(out));
    str_copy(out, sizeof(out), "abc");
    assert_string_equal(out, "abc");
    str_copy(out, sizeof(out), "abcde"); /* exactly fits with its NUL */
    assert_string_equal(out, "abcde");
    str_copy(out, sizeof(out), "abcdefgh"); /* cut */
    assert_string_equal(out, "abcde");
    str_copy(out, sizeof(out), "");
    assert_string_equal(out, "");
    str_copy(out, 1, "abc"); /* room for the NUL only */
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copies_and_cuts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
