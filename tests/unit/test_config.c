/* Unit tests for config.c: defaults, config_set validation for every kind of
 * setting (trusted_proxies and cors_origins included, with the origin
 * matching of api/cors.c), the key = value file (comments, errors with line
 * numbers) and the TESSERA_* environment. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/cors.h"
#include "config.h"

static void test_defaults(void **state)
{
    (void)state;
    struct config c;
    config_defaults(&c);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 8080);
    assert_string_equal(c.data_dir, "./var");
    assert_int_equal(c.max_body, 64 * 1024);
    assert_int_equal(c.max_token_days, 365);
    assert_true(c.threads >= 2);
    assert_true(c.workers >= 1);
    assert_true(c.worker_queue >= 1);
    assert_string_equal(c.default_groups, "Public");
    const char *needed[] = {"stac", "catalog:read", "tokens:read", "tokens:write", "scopes:list",
                            "styles:tiles", "styles:read", "fonts:read", "datasets:read",
                            "vision:read"};
    for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++)
        assert_non_null(strstr(c.default_scopes, needed[i]));
    assert_string_equal(c.tls_cert, "");
    assert_string_equal(c.tls_key, "");
    assert_string_equal(c.port_file, "");
    assert_true(c.access_ttl > 0 && c.refresh_ttl > c.access_ttl);
}

static void test_set_valid(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    config_defaults(&c);
    assert_int_equal(config_set(&c, "data_dir", "/tmp/x", err, sizeof(err)), 0);
    assert_string_equal(c.data_dir, "/tmp/x");
    assert_int_equal(config_set(&c, "threads", "8", err, sizeof(err)), 0);
    assert_int_equal(c.threads, 8);
    assert_int_equal(config_set(&c, "max_body", "1024", err, sizeof(err)), 0);
    assert_int_equal(c.max_body, 1024);
    assert_int_equal(config_set(&c, "access_ttl", "10", err, sizeof(err)), 0);
    assert_int_equal(c.access_ttl, 10);
    assert_int_equal(config_set(&c, "max_token_days", "36500", err, sizeof(err)), 0);
    assert_int_equal(c.max_token_days, 36500);
    assert_int_equal(config_set(&c, "login_rate_account", "0", err, sizeof(err)), 0);
    assert_int_equal(c.login_rate_account, 0);
    assert_int_equal(config_set(&c, "default_groups", "", err, sizeof(err)), 0);
    assert_string_equal(c.default_groups, "");
    /* The token marker: empty (the database's), or 4-16 of [a-z0-9]. */
    assert_string_equal(c.instance_id, "");
    assert_int_equal(config_set(&c, "instance_id", "acme42", err, sizeof(err)), 0);
    assert_string_equal(c.instance_id, "acme42");
    assert_int_equal(config_set(&c, "leak_report_keys", "/etc/tessera/gh.json", err,
                                sizeof(err)), 0);
    assert_string_equal(c.leak_report_keys, "/etc/tessera/gh.json");
}

static void test_set_invalid(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    config_defaults(&c);
    err[0] = '\0';
    assert_int_equal(config_set(&c, "no_such", "1", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "no_such"));
    /* Numbers: range, garbage, trailing text, empty; the old value stays. */
    const char *bad_threads[] = {"0", "257", "-1", "lots", "4x", "", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad_threads) / sizeof(bad_threads[0]); i++) {
        err[0] = '\0';
        assert_int_equal(config_set(&c, "threads", bad_threads[i], err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "threads"));
    }
    assert_true(c.threads >= 2);
    assert_int_equal(config_set(&c, "max_body", "1023", err, sizeof(err)), -EINVAL);
    assert_int_equal(config_set(&c, "access_ttl", "9", err, sizeof(err)), -EINVAL);
    assert_int_equal(config_set(&c, "max_token_days", "0", err, sizeof(err)), -EINVAL);
    assert_int_equal(c.max_body, 64 * 1024);
    const char *bad_instances[] = {"abc", "ACME42", "acme-42", "abcdefghijklmnopq", "acme 42"};
    for (size_t i = 0; i < sizeof(bad_instances) / sizeof(bad_instances[0]); i++) {
        err[0] = '\0';
        assert_int_equal(config_set(&c, "instance_id", bad_instances[i], err, sizeof(err)),
                         -EINVAL);
        assert_non_null(strstr(err, "instance_id must be 4 to 16 characters"));
    }
    assert_string_equal(c.instance_id, "");
    /* Strings longer than their buffer. */
    char long_value[5000];
    memset(long_value, 'a', sizeof(long_value) - 1);
    long_value[sizeof(long_value) - 1] = '\0';
    assert_int_equal(config_set(&c, "data_dir", long_value, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "too long"));
    assert_string_equal(c.data_dir, "./var");
    /* A tiny error buffer is never overrun. */
    char tiny[8];
    assert_int_equal(config_set(&c, "threads", "x", tiny, sizeof(tiny)), -EINVAL);
    assert_true(strlen(tiny) < sizeof(tiny));
}

static void test_listen(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    config_defaults(&c);
    assert_int_equal(config_set(&c, "listen", "0.0.0.0:9000", err, sizeof(err)), 0);
    assert_string_equal(c.listen_host, "0.0.0.0");
    assert_int_equal(c.listen_port, 9000);
    assert_int_equal(config_set(&c, "listen", "[::1]:0", err, sizeof(err)), 0);
    assert_string_equal(c.listen_host, "[::1]");
    assert_int_equal(c.listen_port, 0);
    assert_int_equal(config_set(&c, "listen", "localhost:65535", err, sizeof(err)), 0);
    assert_int_equal(c.listen_port, 65535);
    const char *bad[] = {"localhost", ":80", "host:", "host:65536", "host:-1", "host:8o",
                         "averyveryveryveryveryveryveryveryveryveryveryveryveryverylonghostname:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(config_set(&c, "listen", bad[i], err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "listen"));
    }
    assert_string_equal(c.listen_host, "localhost");
    assert_int_equal(c.listen_port, 65535);
}

static void test_trusted_proxies(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    config_defaults(&c);
    assert_string_equal(c.trusted_proxies, "");
    assert_int_equal(c.trusted_nets.n, 0); /* trust nobody */
    assert_int_equal(config_set(&c, "trusted_proxies", "127.0.0.1/32, 10.0.0.0/8 ::1", err,
                                sizeof(err)),
                     0);
    assert_int_equal(c.trusted_nets.n, 3);
    assert_true(cidr_list_match(&c.trusted_nets, "10.9.8.7"));
    /* A typo stops the start, and the previous list stays. */
    err[0] = '\0';
    assert_int_equal(config_set(&c, "trusted_proxies", "10.0.0.1/8", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "trusted_proxies"));
    assert_int_equal(c.trusted_nets.n, 3);
    assert_string_equal(c.trusted_proxies, "127.0.0.1/32, 10.0.0.0/8 ::1");
    assert_int_equal(config_set(&c, "trusted_proxies", "bogus", err, sizeof(err)), -EINVAL);
    /* The environment goes through the same parser. */
    setenv("TESSERA_TRUSTED_PROXIES", "192.168.0.0/16", 1);
    assert_int_equal(config_load_env(&c, err, sizeof(err)), 0);
    unsetenv("TESSERA_TRUSTED_PROXIES");
    assert_int_equal(c.trusted_nets.n, 1);
    assert_true(cidr_list_match(&c.trusted_nets, "192.168.1.1"));
    assert_false(cidr_list_match(&c.trusted_nets, "10.9.8.7"));
    assert_int_equal(config_set(&c, "trusted_proxies", "", err, sizeof(err)), 0);
    assert_int_equal(c.trusted_nets.n, 0);
}

/* The paths CORS applies to: under the STAC API and the asset endpoint, and
 * exactly the token check and the OpenAPI document (one trailing slash
 * allowed, as the router allows it). */
static void test_cors_paths(void **state)
{
    (void)state;
    static const char *const yes[] = {
        "/api/v1/stac",         "/api/v1/stac/",         "/api/v1/stac/search",
        "/api/v1/catalog/asset", "/api/v1/catalog/asset/files/a.tif", "/tokens/v2",
        "/tokens/v2/",          "/api/v1/openapi.json",  "/api/v1/openapi.json/"};
    static const char *const no[] = {
        "",  "/", "/api/v1/stacks", "/api/v1/sta", "/api/v1/catalog/assets", "/tokens/v2/bench",
        "/tokens/v2//", "/tokens/v", "/tokens/v2x", "/api/v1/openapi.json/x", "/healthz"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (!cors_path(yes[i]))
            fail_msg("\"%s\" is not a CORS path", yes[i]);
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (cors_path(no[i]))
            fail_msg("\"%s\" is a CORS path", no[i]);
}

static void test_cors_origins(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    config_defaults(&c);
    assert_string_equal(c.cors_origins, "*");
    assert_true(c.cors_any);
    static const char *const good[] = {"", "*", " * ", "https://a.example",
                                       "https://a.example, http://b.example:8080 http://[::1]:3000"};
    static const bool any[] = {false, true, true, false, false}; /* cors_any kept in step */
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (config_set(&c, "cors_origins", good[i], err, sizeof(err)) != 0)
            fail_msg("refused \"%s\": %s", good[i], err);
        if (c.cors_any != any[i])
            fail_msg("cors_any is %d for \"%s\"", c.cors_any, good[i]);
    }
    static const char *const bad[] = {"https://a.example/", "https://a.example/path", "a.example",
                                      "ftp://a.example",    "null",  "* https://a.example",
                                      "https://",           "https://a b", "https://a.example\"",
                                      "**"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (config_set(&c, "cors_origins", bad[i], err, sizeof(err)) != -EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_non_null(strstr(err, "cors_origins"));
    }
    /* The last good value stays, and so does its cors_any. */
    assert_string_equal(c.cors_origins, "https://a.example, http://b.example:8080 http://[::1]:3000");
    assert_false(c.cors_any);
    size_t n = 0;
    const char *m = cors_origin_match(c.cors_origins, "http://b.example:8080", &n);
    assert_non_null(m);
    assert_int_equal(n, strlen("http://b.example:8080"));
    assert_non_null(cors_origin_match(c.cors_origins, "HTTPS://A.EXAMPLE", &n));
    assert_null(cors_origin_match(c.cors_origins, "https://a.example.evil", &n));
    assert_null(cors_origin_match(c.cors_origins, "https://a.exampl", &n));
    assert_null(cors_origin_match(c.cors_origins, "http://b.example", &n));
    assert_null(cors_origin_match(c.cors_origins, "null", &n));
    assert_null(cors_origin_match(c.cors_origins, "", &n));
    assert_null(cors_origin_match(c.cors_origins, NULL, &n));
    assert_non_null(cors_origin_match("*", NULL, &n));
    assert_null(cors_origin_match("", "https://a.example", &n));
}

static char tmp_path[64];

static const char *write_tmp(const char *text)
{
    snprintf(tmp_path, sizeof(tmp_path), "/tmp/tessera-test-config-XXXXXX");
    int fd = mkstemp(tmp_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return tmp_path;
}

static void test_file(void **state)
{
    (void)state;
    struct config c;
    char err[512];
    config_defaults(&c);
    const char *p = write_tmp("# a comment\n"
                              "\n"
                              "   data_dir   =   /srv/tessera   \n"
                              "\tthreads=3\n"
                              "listen = 127.0.0.2:81\n"
                              "default_scopes = stac catalog:read\n"
                              "   # indented comment\n");
    assert_int_equal(config_load_file(&c, p, err, sizeof(err)), 0);
    unlink(p);
    assert_string_equal(c.data_dir, "/srv/tessera");
    assert_int_equal(c.threads, 3);
    assert_string_equal(c.listen_host, "127.0.0.2");
    assert_int_equal(c.listen_port, 81);
    assert_string_equal(c.default_scopes, "stac catalog:read");
}

static void test_file_errors(void **state)
{
    (void)state;
    struct config c;
    char err[512], want[128];
    config_defaults(&c);
    const char *p = write_tmp("data_dir = /a\n# fine\nno equals sign here\nthreads = 4\n");
    assert_int_equal(config_load_file(&c, p, err, sizeof(err)), -EINVAL);
    snprintf(want, sizeof(want), "%s:3:", p);
    assert_non_null(strstr(err, want));
    unlink(p);
    /* Lines before the error were applied; the one after it was not. */
    assert_string_equal(c.data_dir, "/a");
    assert_int_not_equal(c.threads, 4);

    config_defaults(&c);
    p = write_tmp("\n\nthreads = 0\n");
    assert_int_equal(config_load_file(&c, p, err, sizeof(err)), -EINVAL);
    snprintf(want, sizeof(want), "%s:3: threads", p);
    assert_non_null(strstr(err, want));
    unlink(p);

    config_defaults(&c);
    p = write_tmp("bogus_key = 1\n");
    assert_int_equal(config_load_file(&c, p, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, ":1:"));
    assert_non_null(strstr(err, "bogus_key"));
    unlink(p);

    assert_int_equal(config_load_file(&c, "/nonexistent/tessera.conf", err, sizeof(err)),
                     -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/tessera.conf"));
}

static void test_env(void **state)
{
    (void)state;
    struct config c;
    char err[512];
    config_defaults(&c);
    setenv("TESSERA_DATA_DIR", "/from/env", 1);
    setenv("TESSERA_LISTEN", "127.0.0.1:0", 1);
    setenv("TESSERA_LOGIN_RATE_ADDR", "7", 1);
    assert_int_equal(config_load_env(&c, err, sizeof(err)), 0);
    assert_string_equal(c.data_dir, "/from/env");
    assert_int_equal(c.listen_port, 0);
    assert_int_equal(c.login_rate_addr, 7);
    setenv("TESSERA_MAX_BODY", "tiny", 1);
    assert_int_equal(config_load_env(&c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "TESSERA_MAX_BODY"));
    unsetenv("TESSERA_MAX_BODY");
    unsetenv("TESSERA_DATA_DIR");
    unsetenv("TESSERA_LISTEN");
    unsetenv("TESSERA_LOGIN_RATE_ADDR");
}

static void test_precedence_file_then_env(void **state)
{
    (void)state;
    struct config c;
    char err[512];
    config_defaults(&c);
    const char *p = write_tmp("data_dir = /from/file\nthreads = 5\n");
    assert_int_equal(config_load_file(&c, p, err, sizeof(err)), 0);
    unlink(p);
    setenv("TESSERA_DATA_DIR", "/from/env", 1);
    assert_int_equal(config_load_env(&c, err, sizeof(err)), 0);
    unsetenv("TESSERA_DATA_DIR");
    assert_string_equal(c.data_dir, "/from/env");
    assert_int_equal(c.threads, 5);
    assert_int_equal(config_set(&c, "data_dir", "/from/flag", err, sizeof(err)), 0);
    assert_string_equal(c.data_dir, "/from/flag");
}

static void test_data_path(void **state)
{
    (void)state;
    struct config c;
    config_defaults(&c);
    char out[64];
    config_data_path(&c, "jwt.key", out, sizeof(out));
    assert_string_equal(out, "./var/jwt.key");
    char small[8];
    config_data_path(&c, "jwt.key", small, sizeof(small));
    assert_int_equal(strlen(small), sizeof(small) - 1);
}

/* The notice and mail settings refuse what would fail later, saying why;
 * a refused value leaves the previous one. */
static void test_notify_settings(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    config_defaults(&c);
    assert_string_equal(c.webhook_url, "");
    assert_string_equal(c.mail_transport, "file");
    assert_int_equal(c.password_reset_ttl, 3600);
    static const struct {
        const char *key, *value, *says;
    } bad[] = {
        {"webhook_url", "ftp://example.com/hook", "http:// or https://"},
        {"webhook_secret", "too-short", "at least 16"},
        {"public_url", "https://tokens.example.com/", "trailing slash"},
        {"public_url", "tokens.example.com", "http:// or https://"},
        {"mail_transport", "sendmail", "smtp://"},
        {"mail_from", "a@b.c\r\nBcc: x@y.z", "one line"},
        {"mail_from", "", "one line"},
        {"password_reset_ttl", "0", "password_reset_ttl"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(config_set(&c, bad[i].key, bad[i].value, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, bad[i].says));
    }
    assert_string_equal(c.mail_transport, "file");
    assert_int_equal(config_set(&c, "webhook_url", "https://hooks.example.com/t", err, sizeof(err)),
                     0);
    assert_int_equal(config_set(&c, "webhook_secret", "0123456789abcdef", err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "public_url", "https://tokens.example.com", err, sizeof(err)),
                     0);
    assert_int_equal(config_set(&c, "mail_transport", "smtp://127.0.0.1:2525", err, sizeof(err)),
                     0);
    assert_int_equal(config_set(&c, "mail_from", "Ops <ops@example.com>", err, sizeof(err)), 0);
    assert_string_equal(c.mail_from, "Ops <ops@example.com>");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),    cmocka_unit_test(test_set_valid),
        cmocka_unit_test(test_set_invalid), cmocka_unit_test(test_listen),
        cmocka_unit_test(test_file),        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_env),         cmocka_unit_test(test_precedence_file_then_env),
        cmocka_unit_test(test_data_path),   cmocka_unit_test(test_trusted_proxies),
        cmocka_unit_test(test_cors_origins),
        cmocka_unit_test(test_cors_paths),
        cmocka_unit_test(test_notify_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
