/* Unit tests for authrules.c: rule parsing and validation, longest-prefix and
 * method-specific matching, original-URI normalization, and form/query
 * parameter decoding. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/authrules.h"

static struct authrules rs; /* ~7 KiB: keep it off the test stack */

static const char *scope_for(const char *method, const char *path)
{
    const struct authrule *r = authrules_match(&rs, method, path);
    if (!r)
        return "<none>";
    if (r->access == AUTHRULE_PUBLIC)
        return "<public>";
    if (r->access == AUTHRULE_ANY)
        return "<any>";
    return r->scope;
}

static void test_parse_valid(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(authrules_parse(&rs, "  /=stac\t/public=-\n/any=  /static/=catalog:read "
                                          "GET,HEAD:/data=x.y_z-1 ",
                                     err, sizeof(err)),
                     0);
    assert_int_equal(rs.n, 5);
    assert_string_equal(rs.v[0].prefix, "/");
    assert_int_equal(rs.v[0].access, AUTHRULE_SCOPE);
    assert_string_equal(rs.v[0].scope, "stac");
    assert_int_equal(rs.v[1].access, AUTHRULE_PUBLIC);
    assert_int_equal(rs.v[2].access, AUTHRULE_ANY);
    assert_string_equal(rs.v[2].scope, "");
    /* The trailing slash is dropped so "/static" matches too. */
    assert_string_equal(rs.v[3].prefix, "/static");
    assert_int_equal(rs.v[3].prefix_len, 7);
    assert_string_equal(rs.v[4].methods, "GET,HEAD");
    assert_string_equal(rs.v[4].prefix, "/data");
    assert_string_equal(rs.v[4].scope, "x.y_z-1");
    assert_null(rs.v[0].methods);

    assert_int_equal(authrules_parse(&rs, "", err, sizeof(err)), 0);
    assert_int_equal(rs.n, 0);
    assert_int_equal(authrules_parse(&rs, NULL, err, sizeof(err)), 0);
    /* A prefix may contain '=': the last '=' separates the scope. */
    assert_int_equal(authrules_parse(&rs, "/a=b=stac", err, sizeof(err)), 0);
    assert_string_equal(rs.v[0].prefix, "/a=b");
    assert_string_equal(rs.v[0].scope, "stac");
    /* Same prefix with different method lists is fine. */
    assert_int_equal(authrules_parse(&rs, "/a=x GET:/a=y POST:/a=z", err, sizeof(err)), 0);
}

static void test_parse_invalid(void **state)
{
    (void)state;
    static const char *bad[] = {
        "nonsense",          "/ok=stac nonsense", "stac",       "a=stac",
        "/x=bad*scope",      "/x=with space",     "get:/x=s",   "GET,:/x=s",
        ",GET:/x=s",         "GET;POST:/x=s",     ":/x=s",      "GET:x=s",
        "/a/../b=s",         "/a/./b=s",          "/a//b=s",    "/a%2fb=s",
        "/a?b=s",            "/a#b=s",            "/a=s /a/=t", "/=s /=t",
        "GET:/a=s GET:/a=t", "/..=s",             "/.=s",
    };
    char err[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        int rc = authrules_parse(&rs, bad[i], err, sizeof(err));
        if (rc != -EINVAL)
            fail_msg("rule text \"%s\" parsed (rc %d)", bad[i], rc);
        assert_true(strlen(err) > 0);
    }
    /* A 65-character scope is too long. */
    char text[128] = "/x=";
    memset(text + 3, 'a', 65);
    text[68] = '\0';
    assert_int_equal(authrules_parse(&rs, text, err, sizeof(err)), -EINVAL);
    /* More rules than the table holds. */
    char many[AUTHRULES_TEXT_MAX];
    size_t o = 0;
    for (int i = 0; i <= AUTHRULES_MAX; i++)
        o += (size_t)snprintf(many + o, sizeof(many) - o, "/r%d=s ", i);
    assert_int_equal(authrules_parse(&rs, many, err, sizeof(err)), -E2BIG);
    /* Longer than the configuration field. */
    char *huge = malloc(AUTHRULES_TEXT_MAX + 2);
    assert_non_null(huge);
    memset(huge, ' ', AUTHRULES_TEXT_MAX + 1);
    huge[AUTHRULES_TEXT_MAX + 1] = '\0';
    assert_int_equal(authrules_parse(&rs, huge, err, sizeof(err)), -E2BIG);
    free(huge);
    /* err may be NULL. */
    assert_int_equal(authrules_parse(&rs, "junk", NULL, 0), -EINVAL);
}

static void test_match(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(authrules_parse(&rs, "/=stac /public=- /any= /admin=ops /data/private=cat "
                                          "POST,PUT:/data=write GET:/data/private=catget",
                                     err, sizeof(err)),
                     0);
    assert_string_equal(scope_for("GET", "/"), "stac");
    assert_string_equal(scope_for("GET", "/maps/x"), "stac");
    assert_string_equal(scope_for("GET", "/public"), "<public>");
    assert_string_equal(scope_for("GET", "/public/a/b"), "<public>");
    assert_string_equal(scope_for("GET", "/publicity"), "stac"); /* whole segments only */
    assert_string_equal(scope_for("GET", "/any/x"), "<any>");
    assert_string_equal(scope_for("GET", "/admin"), "ops");
    assert_string_equal(scope_for("GET", "/admin/"), "ops");
    assert_string_equal(scope_for("GET", "/administrator"), "stac");
    /* Method-specific rules. */
    assert_string_equal(scope_for("GET", "/data/x"), "stac");
    assert_string_equal(scope_for("POST", "/data/x"), "write");
    assert_string_equal(scope_for("PUT", "/data"), "write");
    assert_string_equal(scope_for("DELETE", "/data"), "stac");
    assert_string_equal(scope_for(NULL, "/data"), "stac");
    assert_string_equal(scope_for("POS", "/data"), "stac");
    assert_string_equal(scope_for("POSTX", "/data"), "stac");
    /* Longer prefix beats the method-specific shorter one; at the same
     * prefix the method-specific rule wins. */
    assert_string_equal(scope_for("POST", "/data/private/x"), "cat");
    assert_string_equal(scope_for("GET", "/data/private/x"), "catget");

    assert_int_equal(authrules_parse(&rs, "/only=-", err, sizeof(err)), 0);
    assert_string_equal(scope_for("GET", "/elsewhere"), "<none>");
    assert_string_equal(scope_for("GET", "/"), "<none>");
    assert_int_equal(authrules_parse(&rs, "", err, sizeof(err)), 0);
    assert_string_equal(scope_for("GET", "/"), "<none>");
}

static void expect_path(const char *uri, const char *want)
{
    char out[256];
    int rc = authrules_normalize_path(uri, out, sizeof(out));
    if (rc != 0)
        fail_msg("normalize \"%s\" failed: %d", uri, rc);
    if (strcmp(out, want) != 0)
        fail_msg("normalize \"%s\" gave \"%s\", want \"%s\"", uri, out, want);
}

static void test_normalize(void **state)
{
    (void)state;
    expect_path("/", "/");
    expect_path("/a/b", "/a/b");
    expect_path("/a/b/", "/a/b");
    expect_path("/a/b?x=1&access_token=zz", "/a/b");
    expect_path("/a#frag", "/a");
    expect_path("//a///b", "/a/b");
    expect_path("/a/./b/../c", "/a/c");
    expect_path("/a/..", "/");
    expect_path("/public/../admin", "/admin");
    expect_path("/public/%2e%2e/admin", "/admin");
    expect_path("/public/.%2E/admin", "/admin");
    expect_path("/a%2Fb", "/a/b");
    expect_path("/%70ublic", "/public");
    expect_path("/a+b", "/a+b"); /* '+' is literal in paths */
    expect_path("/..a/b..", "/..a/b..");
    expect_path("http://example.com/a/b?c", "/a/b");
    expect_path("https://example.com", "/");
    expect_path("https://example.com?x", "/");

    char out[256];
    static const char *bad[] = {"", "a/b", "/../x", "/a/../../x", "/%", "/%2", "/%zz",
                                "/%00", "/a%0Ab", "/a\tb", "/%7f", "*"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (authrules_normalize_path(bad[i], out, sizeof(out)) != -EINVAL)
            fail_msg("normalize \"%s\" accepted", bad[i]);
    assert_int_equal(authrules_normalize_path(NULL, out, sizeof(out)), -EINVAL);
    /* Output too small, input too long. */
    assert_int_equal(authrules_normalize_path("/abcdef", out, 4), -E2BIG);
    char *huge = malloc(AUTHRULES_PATH_MAX + 8);
    assert_non_null(huge);
    huge[0] = '/';
    memset(huge + 1, 'a', AUTHRULES_PATH_MAX + 2);
    huge[AUTHRULES_PATH_MAX + 3] = '\0';
    assert_int_equal(authrules_normalize_path(huge, out, sizeof(out)), -E2BIG);
    free(huge);
}

static int get(const char *q, const char *key, char *out, size_t outlen)
{
    return authrules_query_get(q, strlen(q), key, out, outlen);
}

static void test_query_get(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(get("token=abc", "token", out, sizeof(out)), 0);
    assert_string_equal(out, "abc");
    assert_int_equal(get("a=1&token=x%2By+z&b=2", "token", out, sizeof(out)), 0);
    assert_string_equal(out, "x+y z");
    assert_int_equal(get("to%6Ben=k", "token", out, sizeof(out)), 0);
    assert_string_equal(out, "k");
    assert_int_equal(get("&&token=&", "token", out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(get("token", "token", out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(get("tokens=1&xtoken=2", "token", out, sizeof(out)), -ENOENT);
    assert_int_equal(get("", "token", out, sizeof(out)), -ENOENT);
    assert_int_equal(authrules_query_get(NULL, 0, "token", out, sizeof(out)), -ENOENT);
    assert_int_equal(get("token=a&token=b", "token", out, sizeof(out)), -EEXIST);
    assert_int_equal(get("token=%zz", "token", out, sizeof(out)), -EINVAL);
    assert_int_equal(get("token=%4", "token", out, sizeof(out)), -EINVAL);
    assert_int_equal(get("token=a%00b", "token", out, sizeof(out)), -EINVAL);
    assert_int_equal(get("token=abcdef", "token", out, 4), -E2BIG);
    /* The length bounds the scan: a value is not read past len. */
    assert_int_equal(authrules_query_get("token=abc&rest", 8, "token", out, sizeof(out)), 0);
    assert_string_equal(out, "ab");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_query_get),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
