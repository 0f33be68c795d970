/* Unit tests for log.c: the hand-assembled access line (fields, order, the
 * path cap and the line cap), message lines, the level filter, and the
 * flusher's ring of buffers under many writing threads and behind a slow
 * reader. stderr is redirected to a temporary file for each test. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/log.h"
#include "util/timeutil.h"

static int saved_stderr = -1;
static FILE *capture;

static int redirect(void **state)
{
    (void)state;
    capture = tmpfile();
    if (!capture)
        return -1;
    saved_stderr = dup(STDERR_FILENO);
    dup2(fileno(capture), STDERR_FILENO);
    log_set_level(LOG_INFO);
    return 0;
}

static int restore(void **state)
{
    (void)state;
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    fclose(capture);
    return 0;
}

/* Everything written so far (without the flusher, lines are written at
 * once). The caller frees. */
static char *captured(void)
{
    long n = lseek(fileno(capture), 0, SEEK_END);
    char *buf = calloc(1, (size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(pread(fileno(capture), buf, (size_t)n, 0), n);
    return buf;
}

static void test_access_line(void **state)
{
    (void)state;
    log_access("abcd1234000000ff", "127.0.0.1", "GET", "/tokens/v2", 200, 1234);
    char *out = captured();
    /* "2026-11-23T12:00:00.000Z access id=... client=... GET /tokens/v2 200 1234us\n" */
    assert_int_equal(strlen(out), 24 + strlen(" access id=abcd1234000000ff client=127.0.0.1 GET "
                                              "/tokens/v2 200 1234us\n"));
    assert_true(out[4] == '-' && out[10] == 'T' && out[23] == 'Z');
    assert_string_equal(out + 24, " access id=abcd1234000000ff client=127.0.0.1 GET /tokens/v2 "
                                  "200 1234us\n");
    free(out);
}

/* The line's time is the time it was written, also across a second (the
 * text up to the second is reused while the second lasts). */
static void expect_line_time(void)
{
    int64_t before = time_now_ms(), at;
    log_access("t", "-", "GET", "/", 200, 1);
    int64_t after = time_now_ms();
    char *out = captured();
    char *line = out, *next;
    while ((next = strchr(line, '\n')) && next[1])
        line = next + 1;
    line[24] = '\0';
    assert_int_equal(time_parse_rfc3339(line, &at), 0);
    assert_true(before <= at && at <= after);
    free(out);
}

static void test_access_line_time(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        expect_line_time();
        expect_line_time();
        usleep((useconds_t)(1000 - time_now_ms() % 1000) * 1000); /* into the next second */
        expect_line_time();
    }
}

static void test_access_zero_and_large_numbers(void **state)
{
    (void)state;
    log_access("x", "-", "POST", "/", 0, 0);
    log_access("y", "::1", "DELETE", "/a", 599, INT64_C(123456789012));
    log_access("z", "::1", "GET", "/b", 200, -5); /* a clock step never prints a sign */
    char *out = captured();
    char *second = strchr(out, '\n') + 1;
    char *third = strchr(second, '\n') + 1;
    assert_non_null(strstr(out, " access id=x client=- POST / 0 0us\n"));
    assert_non_null(strstr(second, " access id=y client=::1 DELETE /a 599 123456789012us\n"));
    assert_non_null(strstr(third, " access id=z client=::1 GET /b 200 0us\n"));
    free(out);
}

static void test_access_path_capped(void **state)
{
    (void)state;
    char path[2000];
    memset(path, 'p', sizeof(path) - 1);
    path[sizeof(path) - 1] = '\0';
    log_access("id", "c", "GET", path, 404, 7);
    char *out = captured();
    char expected[600];
    snprintf(expected, sizeof(expected), " GET %.512s 404 7us\n", path);
    assert_non_null(strstr(out, expected));
    assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out)); /* one line */
    free(out);
}

static void test_access_line_capped(void **state)
{
    (void)state;
    /* Fields that together exceed the line buffer are cut, never overrun,
     * and the line still ends with exactly one newline. */
    char big[2000];
    memset(big, 'm', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    log_access(big, big, big, big, 200, 1);
    char *out = captured();
    size_t len = strlen(out);
    assert_true(len <= 1024);
    assert_int_equal(out[len - 1], '\n');
    assert_null(memchr(out, '\n', len - 1));
    free(out);
}

static void test_access_path_credentials_redacted(void **state)
{
    (void)state;
    log_access("id", "c", "PATCH", "/tokens/v2/bob/tk.eyJ1IjoiYm9iIn0.c2lnbmF0dXJl", 404, 1);
    log_access("id", "c", "GET", "/x/sk.abc.def/y/eyJhbGciOi.eyJzdWIi.sig/pk.q", 404, 1);
    log_access("id", "c", "GET", "/tokens/v2/bob/abcdefghij0123456789abcde", 200, 1);
    log_access("id", "c", "GET", "/api/v1/catalog/asset/eyJ/a.tif", 404, 1);
    char *out = captured();
    assert_non_null(strstr(out, " PATCH /tokens/v2/bob/<redacted> 404 1us\n"));
    assert_non_null(strstr(out, " GET /x/<redacted>/y/<redacted>/<redacted> 404 1us\n"));
    assert_non_null(strstr(out, " GET /tokens/v2/bob/abcdefghij0123456789abcde 200 1us\n"));
    assert_non_null(strstr(out, " GET /api/v1/catalog/asset/eyJ/a.tif 404 1us\n"));
    assert_null(strstr(out, "c2lnbmF0dXJl"));
    free(out);
}

static void test_levels(void **state)
{
    (void)state;
    log_set_level(LOG_WARN);
    log_access("hidden", "c", "GET", "/", 200, 1);
    log_info("hidden %d", 1);
    log_warn("shown %d", 2);
    char *out = captured();
    assert_null(strstr(out, "hidden"));
    assert_non_null(strstr(out, " warn shown 2\n"));
    free(out);
}

/* A decoded %0A or %0D in a path once forged a second access line. */
static void test_access_bytes_escaped(void **state)
{
    (void)state;
    log_access("id", "c", "GET", "/a\n2026-01-01T00:00:00.000Z access id=x\r\x01\"\\\xc3\xa9 b",
               404, 1);
    char *out = captured();
    assert_int_equal(strchr(out, '\n') - out, (long)strlen(out) - 1); /* one line */
    assert_non_null(strstr(out, " GET /a\\x0a2026-01-01T00:00:00.000Z\\x20access\\x20id=x"
                                "\\x0d\\x01\\x22\\x5c\\xc3\\xa9\\x20b 404 1us\n"));
    free(out);
}

/* Every byte value in a method (escaped, never redacted), in text and in
 * JSON lines: as it is when plain, else as its escape. */
static void test_every_byte_escaped(void **state)
{
    (void)state;
    for (int json = 0; json < 2; json++) {
        log_set_format(json ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT);
        for (int b = 1; b < 256; b++) {
            assert_int_equal(ftruncate(fileno(capture), 0), 0);
            assert_int_equal(lseek(fileno(capture), 0, SEEK_SET), 0);
            char method[8] = {'M', (char)b, 'M', 0};
            struct access_entry e = {.request_id = "r", .client = "c", .method = method,
                                     .path = "/", .route = "/", .status = 200};
            log_access_entry(&e);
            char *out = captured();
            bool plain = (b > 0x20 && b < 0x7f && b != '"' && b != '\\') || (json && b == ' ');
            char want[32];
            if (plain)
                snprintf(want, sizeof(want), "M%cM", b);
            else
                snprintf(want, sizeof(want), json ? "M\\u00%02xM" : "M\\x%02xM", b);
            if (!strstr(out, want))
                fail_msg("byte 0x%02x (%s): %s", b, json ? "json" : "text", out);
            free(out);
        }
    }
    log_set_format(LOG_FORMAT_TEXT);
}

static void test_access_json(void **state)
{
    (void)state;
    log_set_format(LOG_FORMAT_JSON);
    struct access_entry e = {.request_id = "r1",
                             .client = "::1",
                             .method = "GET",
                             .path = "/tokens/v2/bob/sk.secret.x\n\"",
                             .route = "/tokens/v2/{}/{}",
                             .status = 200,
                             .duration_us = 12,
                             .bytes = 34,
                             .account_id = 7,
                             .token_id = "abc"};
    log_access_entry(&e);
    e.account_id = 0;
    e.token_id = NULL;
    log_access_entry(&e);
    log_info("a \"quoted\" message\n");
    log_set_format(LOG_FORMAT_TEXT);
    char *out = captured();
    char *second = strchr(out, '\n') + 1;
    assert_memory_equal(out, "{\"time\":\"", 9);
    assert_non_null(strstr(out, "\",\"type\":\"access\",\"request_id\":\"r1\",\"client\":\"::1\","
                                "\"method\":\"GET\",\"path\":\"/tokens/v2/bob/<redacted>\","
                                "\"route\":\"/tokens/v2/{}/{}\",\"status\":200,\"bytes\":34,"
                                "\"duration_us\":12,\"account_id\":7,\"token_id\":\"abc\"}\n"));
    assert_non_null(strstr(second, "\"account_id\":null,\"token_id\":null}\n"));
    assert_non_null(strstr(out, "\"level\":\"info\",\"msg\":\"a \\u0022quoted\\u0022 "
                                "message\\u000a\"}\n"));
    assert_null(strstr(out, "secret"));
    free(out);
}

/* ---- the flusher -------------------------------------------------------- */

#define WRITERS 4
#define LINES_EACH 20000 /* about 2 MB a writer: many buffers' worth */

static const char line_text[] = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"
                                "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz";

static void *write_lines(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int n = 0; n < LINES_EACH; n++) /* lengths vary, so buffers fill mid-line */
        log_info("t=%d n=%d %.*s|", t, n, n % 97, line_text);
    return NULL;
}

/* Every writer's lines are in out, whole, each once and in its order. Line
 * by line with lengths: the sanitizers' strstr and sscanf measure all of
 * the rest of out on every call, which made this quadratic (80 s). */
static void assert_all_lines(const char *out)
{
    int next[WRITERS] = {0};
    size_t lines = 0;
    const char *end = out + strlen(out);
    for (const char *line = out, *eol; line < end; line = eol + 1) {
        eol = memchr(line, '\n', (size_t)(end - line));
        assert_non_null(eol);
        const char *tag = memmem(line, (size_t)(eol - line), " info t=", 8);
        if (!tag)
            continue;
        char *at;
        long t = strtol(tag + 8, &at, 10);
        assert_memory_equal(at, " n=", 3);
        long n = strtol(at + 3, &at, 10);
        assert_true(t >= 0 && t < WRITERS);
        if (n != next[t])
            fail_msg("writer %ld: line %ld where %d was due", t, n, next[t]);
        next[t]++;
        /* The line is whole: a space, its text, its bar, then its end. */
        assert_int_equal(*at, ' ');
        assert_int_equal(eol - (at + 1), n % 97 + 1);
        assert_memory_equal(at + 1, line_text, (size_t)(n % 97));
        assert_int_equal(eol[-1], '|');
        lines++;
    }
    for (int t = 0; t < WRITERS; t++)
        assert_int_equal(next[t], LINES_EACH);
    assert_int_equal(lines, (size_t)WRITERS * LINES_EACH);
}

static void run_writers(void)
{
    pthread_t th[WRITERS];
    for (int t = 0; t < WRITERS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, write_lines, (void *)(intptr_t)t), 0);
    for (int t = 0; t < WRITERS; t++)
        pthread_join(th[t], NULL);
}

/* With the flusher, lines from many threads all arrive, whole, each once
 * and in each thread's order, across many buffer hand-overs; a warning is
 * in the file when log_warn returns, after every line logged before it. */
static void test_flusher_loses_nothing(void **state)
{
    (void)state;
    assert_int_equal(log_start_flusher(), 0);
    log_info("before the warning");
    log_warn("the warning");
    char *early = captured();
    const char *before = strstr(early, " info before the warning\n");
    const char *warning = strstr(early, " warn the warning\n");
    assert_non_null(before);
    assert_non_null(warning);
    assert_true(before < warning);
    free(early);

    run_writers();
    log_stop_flusher();
    char *out = captured();
    assert_all_lines(out);
    free(out);

    /* Stopped: lines are written at once again. */
    log_info("after the stop");
    out = captured();
    assert_non_null(strstr(out, " info after the stop\n"));
    free(out);
}

/* A reader of stderr (a pipe) that starts late, then reads to the end. */
struct slow_reader {
    int fd;
    int64_t delay_ms, started_ms;
    char *text;
    size_t len, cap;
};

static void *read_late(void *arg)
{
    struct slow_reader *r = arg;
    usleep((useconds_t)(r->delay_ms * 1000));
    r->started_ms = time_now_ms();
    for (;;) {
        if (r->cap - r->len < 65536) {
            r->cap = r->cap * 2 + 65536;
            r->text = realloc(r->text, r->cap + 1);
            if (!r->text)
                return NULL;
        }
        ssize_t n = read(r->fd, r->text + r->len, r->cap - r->len);
        if (n <= 0)
            break;
        r->len += (size_t)n;
    }
    if (r->text)
        r->text[r->len] = '\0';
    return NULL;
}

/* A disk slower than the log: while nothing reads stderr, the flusher
 * blocks, the ring of buffers fills and the writers wait (they finish only
 * after the reader starts); once it reads, every line arrives in order. */
static void test_flusher_slow_disk(void **state)
{
    (void)state;
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    struct slow_reader reader = {.fd = pipefd[0], .delay_ms = 300};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, read_late, &reader), 0);
    int saved = dup(STDERR_FILENO);
    dup2(pipefd[1], STDERR_FILENO);
    close(pipefd[1]);
    assert_int_equal(log_start_flusher(), 0);
    run_writers(); /* 8 MB: far more than the pipe and the ring hold */
    int64_t writers_done_ms = time_now_ms();
    log_stop_flusher();
    dup2(saved, STDERR_FILENO); /* the pipe's last writer: the reader sees its end */
    close(saved);
    pthread_join(th, NULL);
    close(pipefd[0]);
    assert_non_null(reader.text);
    assert_true(writers_done_ms >= reader.started_ms);
    assert_all_lines(reader.text);
    free(reader.text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_access_line_time, redirect, restore),
        cmocka_unit_test_setup_teardown(test_access_line, redirect, restore),
        cmocka_unit_test_setup_teardown(test_access_zero_and_large_numbers, redirect, restore),
        cmocka_unit_test_setup_teardown(test_access_path_capped, redirect, restore),
        cmocka_unit_test_setup_teardown(test_access_line_capped, redirect, restore),
        cmocka_unit_test_setup_teardown(test_access_path_credentials_redacted, redirect, restore),
        cmocka_unit_test_setup_teardown(test_levels, redirect, restore),
        cmocka_unit_test_setup_teardown(test_access_bytes_escaped, redirect, restore),
        cmocka_unit_test_setup_teardown(test_every_byte_escaped, redirect, restore),
        cmocka_unit_test_setup_teardown(test_access_json, redirect, restore),
        cmocka_unit_test_setup_teardown(test_flusher_loses_nothing, redirect, restore),
        cmocka_unit_test_setup_teardown(test_flusher_slow_disk, redirect, restore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
