/* Unit tests for cidr.c (range lists: IPv4, IPv6, IPv4-mapped IPv6, typos)
 * and forwarded.c (the RFC 7239 Forwarded header, which element is believed,
 * X-Forwarded-* list values, proto and prefix validation), with hostile
 * values throughout: nothing that is not a valid proto, host or clean path
 * may come out. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/cidr.h"
#include "util/forwarded.h"

static struct cidr_list parse_ok(const char *text)
{
    struct cidr_list l;
    char err[200] = "";
    if (cidr_list_parse(&l, text, err, sizeof(err)) != 0)
        fail_msg("\"%s\" refused: %s", text, err);
    return l;
}

static void test_cidr_parse(void **state)
{
    (void)state;
    struct cidr_list l = parse_ok("");
    assert_int_equal(l.n, 0);
    l = parse_ok("  ,, \t");
    assert_int_equal(l.n, 0);
    l = parse_ok("127.0.0.1/32, 10.0.0.0/8 ::1\tfd00::/8,192.168.1.7");
    assert_int_equal(l.n, 5);
    assert_true(l.v[0].v4 && l.v[0].bits == 32);
    assert_true(l.v[1].v4 && l.v[1].bits == 8);
    assert_true(!l.v[2].v4 && l.v[2].bits == 128);
    assert_true(!l.v[3].v4 && l.v[3].bits == 8);
    assert_true(l.v[4].v4 && l.v[4].bits == 32);
    /* An IPv4-mapped range is the IPv4 range it carries. */
    l = parse_ok("::ffff:10.0.0.0/104");
    assert_true(l.n == 1 && l.v[0].v4 && l.v[0].bits == 8);
    l = parse_ok("0.0.0.0/0 ::/0");
    assert_int_equal(l.n, 2);

    static const char *const bad[] = {
        "10.0.0.1/8",         /* bits set past the prefix: a typo for /32? */
        "10.0.0.0/33",        "::/129",     "10.0.0.0/",   "10.0.0.0/-1", "10.0.0.0/+8",
        "10.0.0.0/8/8",       "10.0.0",     "256.0.0.1",   "localhost",   "10.0.0.0 / 8",
        "fe80::1%eth0",       "[::1]",      "::ffff:10.0.0.0/95",         "10.0.0.0/0008",
        "1.2.3.4;5.6.7.8",    "1.2.3.4,,5.6.7.8/40",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[200] = "";
        l.n = 99;
        if (cidr_list_parse(&l, bad[i], err, sizeof(err)) != -EINVAL)
            fail_msg("accepted: \"%s\"", bad[i]);
        assert_int_equal(l.n, 0);
        assert_true(err[0]);
    }
    /* More than CIDR_LIST_MAX entries. */
    char many[CIDR_LIST_MAX * 12 + 16] = "";
    for (int i = 0; i <= CIDR_LIST_MAX; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "10.0.%d.%d ", i / 256,
                 i % 256);
    char err[200];
    assert_int_equal(cidr_list_parse(&l, many, err, sizeof(err)), -EINVAL);
}

static void test_cidr_match(void **state)
{
    (void)state;
    struct cidr_list l = parse_ok("127.0.0.1/32 10.0.0.0/8 172.16.0.0/12 2001:db8::/32 ::1");
    assert_true(cidr_list_match(&l, "127.0.0.1"));
    assert_false(cidr_list_match(&l, "127.0.0.2"));
    assert_true(cidr_list_match(&l, "10.255.1.2"));
    assert_false(cidr_list_match(&l, "11.0.0.0"));
    assert_true(cidr_list_match(&l, "172.31.255.255"));
    assert_false(cidr_list_match(&l, "172.32.0.0"));
    assert_true(cidr_list_match(&l, "2001:db8:ffff::1"));
    assert_true(cidr_list_match(&l, "2001:DB8::"));
    assert_false(cidr_list_match(&l, "2001:db9::1"));
    assert_true(cidr_list_match(&l, "::1"));
    assert_false(cidr_list_match(&l, "::2"));
    /* A dual-stack socket writes IPv4 peers as IPv4-mapped IPv6. */
    assert_true(cidr_list_match(&l, "::ffff:127.0.0.1"));
    assert_true(cidr_list_match(&l, "::ffff:10.1.2.3"));
    assert_false(cidr_list_match(&l, "::ffff:11.1.2.3"));
    /* ...and a mapped range matches plain IPv4 peers. */
    struct cidr_list m = parse_ok("::ffff:192.168.0.0/112");
    assert_true(cidr_list_match(&m, "192.168.4.5"));
    assert_false(cidr_list_match(&m, "192.169.0.1"));
    /* IPv4 ranges never match other IPv6 addresses, nor the reverse. */
    struct cidr_list all4 = parse_ok("0.0.0.0/0");
    assert_false(cidr_list_match(&all4, "::1"));
    assert_false(cidr_list_match(&all4, "2001:db8::1"));
    assert_true(cidr_list_match(&all4, "203.0.113.9"));
    struct cidr_list all6 = parse_ok("::/0");
    assert_false(cidr_list_match(&all6, "203.0.113.9"));
    /* Not addresses. */
    static const char *const junk[] = {"", "-", "localhost", "127.0.0.1:80", "[::1]",
                                       "127.0.0.1 ", "127.0.0.1\r\n", "10.0.0.0/8"};
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
        if (cidr_list_match(&l, junk[i]))
            fail_msg("matched: \"%s\"", junk[i]);
    assert_false(cidr_list_match(&l, NULL));
    assert_false(cidr_list_match(NULL, "127.0.0.1"));
    struct cidr_list empty = parse_ok("");
    assert_false(cidr_list_match(&empty, "127.0.0.1"));
}

/* Parses h with proxies trusted and checks the proto and host found. */
static void expect_fwd(const struct cidr_list *trusted, const char *h, const char *proto,
                       const char *host)
{
    struct fwd_values v;
    memset(&v, 'x', sizeof(v));
    fwd_parse_forwarded(h, trusted, &v);
    if (strcmp(v.proto, proto) != 0 || strcmp(v.host, host) != 0)
        fail_msg("Forwarded: %s\n got proto=\"%s\" host=\"%s\", want \"%s\" \"%s\"", h, v.proto,
                 v.host, proto, host);
}

static void test_forwarded_element_choice(void **state)
{
    (void)state;
    struct cidr_list t = parse_ok("127.0.0.1 10.0.0.0/8 2001:db8::/32");
    expect_fwd(&t, "proto=https;host=example.org", "https", "example.org");
    expect_fwd(&t, "for=192.0.2.60;proto=http;by=203.0.113.43;host=a.example:8443", "http",
               "a.example:8443");
    /* Names are case-insensitive, values keep their case. */
    expect_fwd(&t, "Proto=HTTPS;HOST=Example.ORG", "https", "Example.ORG");
    /* Bare host:port and IPv6, as hand-written proxy configurations send them. */
    expect_fwd(&t, "host=[2001:db8::1]:8080, for=[2001:db8::2]:99;proto=https", "", "[2001:db8::1]:8080");
    /* Quoted values. */
    expect_fwd(&t, "proto=\"https\";host=\"[2001:db8::1]:8443\"", "https", "[2001:db8::1]:8443");
    /* Appended elements: the last one is our peer's; its for= (the client)
     * is not trusted, so the client's own element on the left is ignored. */
    expect_fwd(&t, "host=evil.example;proto=http, for=198.51.100.7;host=good.example;proto=https",
               "https", "good.example");
    /* Two trusted proxies: the inner one's element says its peer (for=) was
     * the outer proxy, so the outer one's element is the client-facing hop. */
    expect_fwd(&t, "for=198.51.100.7;host=public.example;proto=https, "
                   "for=10.1.2.3;host=internal:8080;proto=http",
               "https", "public.example");
    expect_fwd(&t, "for=\"[2001:db8::5]:4711\";host=public.example, "
                   "for=\"[2001:db8::9]\";host=lb.internal",
               "", "public.example");
    expect_fwd(&t, "host=client.example, for=\"[2001:db9::1]:4711\";host=lb.example", "",
               "lb.example");
    expect_fwd(&t, "host=client-made.example, for=\"198.51.100.1:5555\";host=outer.example, "
                   "for=\"10.0.0.1:80\";host=inner.example",
               "", "outer.example");
    /* Every hop trusted: the leftmost element is used. */
    expect_fwd(&t, "for=10.0.0.1;host=first.example, for=10.0.0.2;host=second.example",
               "", "first.example");
    /* A for= that is not a trusted address stops the walk. */
    expect_fwd(&t, "host=a.example, for=unknown;host=b.example", "", "b.example");
    expect_fwd(&t, "host=a.example, for=_hidden;host=b.example", "", "b.example");
    expect_fwd(&t, "host=a.example, host=b.example", "", "b.example");
    /* A malformed element stops the walk and yields nothing. */
    expect_fwd(&t, "host=a.example, for=10.0.0.1;host", "", "");
    expect_fwd(&t, "host=ok.example, for=10.0.0.1;;host=x", "", "ok.example");
    /* Empty list members are skipped; several field lines arrive joined. */
    expect_fwd(&t, " , host=a.example ,, ", "", "a.example");
    expect_fwd(&t, "", "", "");
    expect_fwd(&t, "   ", "", "");
    expect_fwd(&t, NULL, "", "");
}

static void test_forwarded_hostile(void **state)
{
    (void)state;
    struct cidr_list t = parse_ok("127.0.0.1");
    static const char *const no_host[] = {
        "host=\"evil.example\r\nSet-Cookie: a=b\"",
        "host=\"evil.example\\r\\nX: y\"", /* quoted-pair: "evil.exampler nX: y" */
        "host=evil.example\r\nX-Injected: 1",
        "host=\"evil.example/path\"",
        "host=\"evil.example?q\"",
        "host=\"user@evil.example\"",
        "host=\"evil.example#frag\"",
        "host=\"<script>\"",
        "host=\"evil example\"",
        "host=\"evil.example\\\"\"",
        "host=\"\"",
        "host=\"evil.example",  /* unterminated */
        "host=evil.example\"",
        "host=\"a\";host=\"b\"",  /* repeated */
        "host=\"\x01\"",
        "host=\"\xc3\xa9vil.example\"",
        "host==evil.example",
        "host evil.example",
        "=evil.example",
    };
    for (size_t i = 0; i < sizeof(no_host) / sizeof(no_host[0]); i++)
        expect_fwd(&t, no_host[i], "", "");
    /* A host longer than url_host_ok allows. */
    char longhost[400] = "host=";
    memset(longhost + 5, 'a', 300);
    longhost[305] = '\0';
    expect_fwd(&t, longhost, "", "");
    /* Only http and https. */
    static const char *const bad_proto[] = {"proto=javascript", "proto=ftp", "proto=\"https \"",
                                            "proto=\"https\r\n\"", "proto=htt",
                                            "proto=httpss", "proto=\"\"", "proto=ws"};
    for (size_t i = 0; i < sizeof(bad_proto) / sizeof(bad_proto[0]); i++)
        expect_fwd(&t, bad_proto[i], "", "");
    /* A bad value spoils only itself: the other parameter still counts. */
    expect_fwd(&t, "proto=gopher;host=fine.example", "", "fine.example");
    expect_fwd(&t, "proto=https;host=\"bad/host\"", "https", "");
    /* Commas inside quotes do not split elements. */
    expect_fwd(&t, "host=\"a.example,b.example\"", "", "");
    expect_fwd(&t, "for=\"x,y\";host=good.example", "", "good.example");
    /* Many elements: only the last FWD_ELEMENTS_MAX are kept, which is
     * enough, since the walk never passes an untrusted hop. */
    char many[2048] = "";
    for (int i = 0; i < 40; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "for=127.0.0.1;host=h%d, ",
                 i);
    strcat(many, "for=127.0.0.1;host=last");
    expect_fwd(&t, many, "", "h25");
}

static void test_x_forwarded_values(void **state)
{
    (void)state;
    char v[64], proto[6];
    assert_true(fwd_last_value("https", v, sizeof(v)));
    assert_string_equal(v, "https");
    assert_true(fwd_last_value("http, https", v, sizeof(v)));
    assert_string_equal(v, "https");
    assert_true(fwd_last_value("client.example,  proxy.example \t", v, sizeof(v)));
    assert_string_equal(v, "proxy.example");
    assert_false(fwd_last_value("a, ", v, sizeof(v)));
    assert_false(fwd_last_value("", v, sizeof(v)));
    assert_false(fwd_last_value(NULL, v, sizeof(v)));
    assert_false(fwd_last_value("0123456789", v, 10));

    assert_true(fwd_proto("https", proto));
    assert_string_equal(proto, "https");
    assert_true(fwd_proto("HTTP", proto));
    assert_string_equal(proto, "http");
    static const char *const bad_proto[] = {"", "ftp", "https:", "https ", " http", "http\r\n",
                                            "javascript", "httpss"};
    for (size_t i = 0; i < sizeof(bad_proto) / sizeof(bad_proto[0]); i++) {
        if (fwd_proto(bad_proto[i], proto) || proto[0])
            fail_msg("proto accepted: \"%s\"", bad_proto[i]);
    }
    assert_false(fwd_proto(NULL, proto));

    char p[FWD_PREFIX_MAX + 1];
    static const struct {
        const char *in, *out;
    } good[] = {{"/tessera", "/tessera"}, {"/tessera/", "/tessera"}, {"/", ""},
                {"/a/b-c/d_e.f~g", "/a/b-c/d_e.f~g"}, {"/v1.2", "/v1.2"}, {"/...", "/..."}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (!fwd_prefix(good[i].in, p, sizeof(p)) || strcmp(p, good[i].out) != 0)
            fail_msg("prefix \"%s\" gave \"%s\"", good[i].in, p);
    }
    static const char *const bad[] = {
        "",           "tessera",        "//evil.example", "/a//b",     "/a/./b",  "/a/../b",
        "/..",        "/.",             "/a b",           "/a%2Fb",    "/a?b",    "/a#b",
        "/a\r\nb",    "/a\"b",          "/<script>",      "/a;b",      "/a\\b",   "https://x/",
        "/tessera//", "/\xc3\xa9",      "/a,b",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        strcpy(p, "junk");
        if (fwd_prefix(bad[i], p, sizeof(p)) || p[0])
            fail_msg("prefix accepted: \"%s\" -> \"%s\"", bad[i], p);
    }
    char longp[FWD_PREFIX_MAX + 8] = "/";
    memset(longp + 1, 'a', FWD_PREFIX_MAX);
    longp[FWD_PREFIX_MAX + 1] = '\0';
    assert_false(fwd_prefix(longp, p, sizeof(p)));
    longp[FWD_PREFIX_MAX] = '\0';
    assert_true(fwd_prefix(longp, p, sizeof(p)));
    assert_false(fwd_prefix(NULL, p, sizeof(p)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cidr_parse),
        cmocka_unit_test(test_cidr_match),
        cmocka_unit_test(test_forwarded_element_choice),
        cmocka_unit_test(test_forwarded_hostile),
        cmocka_unit_test(test_x_forwarded_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
