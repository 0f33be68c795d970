/* Unit tests for signedurl.c: a signed query verifies for its key (or any
 * key under its prefix) until it expires, and any change to the key,
 * prefix, expiry, signer or signature, or another server key, breaks it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/signedurl.h"

static const uint8_t key[CRYPTO_KEY_LEN] = {1, 2, 3};
static const uint8_t other_key[CRYPTO_KEY_LEN] = {3, 2, 1};
static const char signer[] = "abcdefghijklmnopqrstuvwxy";

/* The value of name in a query made by signedurl_query (no escapes but the
 * prefix's, which these tests avoid). */
static void param(const char *query, const char *name, char *out, size_t len)
{
    char needle[32];
    snprintf(needle, sizeof(needle), "%s=", name);
    const char *p = strstr(query, needle);
    out[0] = '\0';
    if (!p)
        return;
    p += strlen(needle);
    size_t n = strcspn(p, "&");
    snprintf(out, len, "%.*s", (int)n, p);
}

struct parsed {
    char expires[32], signer[32], prefix[64], signature[64];
    struct signedurl_params sp;
};

static void parse(const char *query, struct parsed *p)
{
    param(query, "expires", p->expires, sizeof(p->expires));
    param(query, "signer", p->signer, sizeof(p->signer));
    param(query, "prefix", p->prefix, sizeof(p->prefix));
    param(query, "signature", p->signature, sizeof(p->signature));
    p->sp = (struct signedurl_params){p->expires, p->signer, p->prefix[0] ? p->prefix : NULL,
                                      p->signature};
}

static void test_key_roundtrip_and_tampering(void **state)
{
    (void)state;
    char *q = signedurl_query(key, signer, 2000, NULL, "c/2023/a.tif");
    assert_non_null(q);
    assert_null(strstr(q, "prefix="));
    struct parsed p;
    parse(q, &p);
    char who[TOKEN_ID_LEN + 1];
    assert_int_equal(signedurl_verify(key, &p.sp, "c/2023/a.tif", 1000, who), 0);
    assert_string_equal(who, signer);
    assert_int_equal(signedurl_verify(key, &p.sp, "c/2023/a.tif", 2000, who), -ETIMEDOUT);
    assert_int_equal(signedurl_verify(key, &p.sp, "c/2023/b.tif", 1000, who), -EPERM);
    assert_int_equal(signedurl_verify(other_key, &p.sp, "c/2023/a.tif", 1000, who), -EPERM);
    p.sp.expires = "2001";
    assert_int_equal(signedurl_verify(key, &p.sp, "c/2023/a.tif", 1000, who), -EPERM);
    p.sp.expires = p.expires;
    p.sp.signer = "bbcdefghijklmnopqrstuvwxy";
    assert_int_equal(signedurl_verify(key, &p.sp, "c/2023/a.tif", 1000, who), -EPERM);
    p.sp.signer = p.signer;
    p.signature[5] = p.signature[5] == 'A' ? 'B' : 'A';
    assert_int_equal(signedurl_verify(key, &p.sp, "c/2023/a.tif", 1000, who), -EPERM);
    /* The same signature presented as a prefix's is not a prefix's. */
    p.signature[5] = p.signature[5] == 'A' ? 'B' : 'A';
    p.sp.prefix = "c/2023/a.tif";
    assert_int_equal(signedurl_verify(key, &p.sp, "c/2023/a.tif", 1000, who), -EPERM);
    free(q);
}

static void test_prefix(void **state)
{
    (void)state;
    char *q = signedurl_query(key, signer, 2000, "c/2023/", NULL);
    assert_non_null(q);
    struct parsed p;
    parse(q, &p);
    assert_string_equal(p.prefix, "c/2023/");
    char who[TOKEN_ID_LEN + 1];
    assert_int_equal(signedurl_verify(key, &p.sp, "c/2023/05/x.tif", 1000, who), 0);
    assert_int_equal(signedurl_verify(key, &p.sp, "c/2022/05/x.tif", 1000, who), -EPERM);
    p.sp.prefix = "c/";
    assert_int_equal(signedurl_verify(key, &p.sp, "c/2022/05/x.tif", 1000, who), -EPERM);
    free(q);
}

static void test_malformed(void **state)
{
    (void)state;
    char who[TOKEN_ID_LEN + 1];
    struct signedurl_params sp = {"1000", signer, NULL, "short"};
    assert_int_equal(signedurl_verify(key, &sp, "k", 0, who), -EINVAL);
    sp = (struct signedurl_params){"10x0", signer, NULL,
                                   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    assert_int_equal(signedurl_verify(key, &sp, "k", 0, who), -EINVAL);
    sp.expires = "1000";
    sp.signer = "UPPER";
    assert_int_equal(signedurl_verify(key, &sp, "k", 0, who), -EINVAL);
    sp.signer = signer;
    sp.prefix = "";
    assert_int_equal(signedurl_verify(key, &sp, "k", 0, who), -EINVAL);
    sp.prefix = NULL;
    sp.expires = NULL;
    assert_int_equal(signedurl_verify(key, &sp, "k", 0, who), -EINVAL);
    assert_null(signedurl_query(key, "not an id", 1, NULL, "k"));
    assert_null(signedurl_query(key, signer, 0, NULL, "k"));
    assert_null(signedurl_query(key, signer, 1, NULL, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_roundtrip_and_tampering),
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
