/* Unit tests for crypto.c: HMAC known answers (RFC 4231), base64url, CRC32,
 * hex, random characters and the key file rules. Single-threaded except for
 * the per-thread HMAC context test. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/crypto.h"

static void hex_of(const uint8_t *b, size_t n, char *out)
{
    crypto_hex(b, n, out);
}

static void test_hmac_rfc4231_case2(void **state)
{
    (void)state;
    uint8_t mac[CRYPTO_MAC_LEN];
    char hex[2 * CRYPTO_MAC_LEN + 1];
    const char *data = "what do ya want for nothing?";
    assert_int_equal(crypto_hmac_sha256((const uint8_t *)"Jefe", 4, data, strlen(data), mac), 0);
    hex_of(mac, sizeof(mac), hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_hmac_rfc4231_case1_and_rekey(void **state)
{
    (void)state;
    uint8_t key1[20];
    memset(key1, 0x0b, sizeof(key1));
    uint8_t mac[CRYPTO_MAC_LEN], again[CRYPTO_MAC_LEN];
    char hex[2 * CRYPTO_MAC_LEN + 1];
    const char *expect1 = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
    const char *expect2 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    /* Same key twice (context reset path), another key, then back. */
    for (int round = 0; round < 3; round++) {
        assert_int_equal(crypto_hmac_sha256(key1, sizeof(key1), "Hi There", 8, mac), 0);
        hex_of(mac, sizeof(mac), hex);
        assert_string_equal(hex, expect1);
        assert_int_equal(crypto_hmac_sha256(key1, sizeof(key1), "Hi There", 8, again), 0);
        assert_memory_equal(mac, again, sizeof(mac));
        const char *data = "what do ya want for nothing?";
        assert_int_equal(
            crypto_hmac_sha256((const uint8_t *)"Jefe", 4, data, strlen(data), mac), 0);
        hex_of(mac, sizeof(mac), hex);
        assert_string_equal(hex, expect2);
    }
}

static void test_hmac_long_key(void **state)
{
    (void)state;
    /* RFC 4231 test case 6: a 131-byte key is hashed first. */
    uint8_t key[131];
    memset(key, 0xaa, sizeof(key));
    const char *data = "Test Using Larger Than Block-Size Key - Hash Key First";
    uint8_t mac[CRYPTO_MAC_LEN];
    char hex[2 * CRYPTO_MAC_LEN + 1];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(crypto_hmac_sha256(key, sizeof(key), data, strlen(data), mac), 0);
        hex_of(mac, sizeof(mac), hex);
        assert_string_equal(hex,
                            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }
}

static void *hmac_thread(void *arg)
{
    uint8_t *mac = arg;
    const char *data = "what do ya want for nothing?";
    for (int i = 0; i < 100; i++)
        if (crypto_hmac_sha256((const uint8_t *)"Jefe", 4, data, strlen(data), mac) != 0)
            return (void *)1;
    return NULL;
}

static void test_hmac_threads(void **state)
{
    (void)state;
    pthread_t th[4];
    uint8_t macs[4][CRYPTO_MAC_LEN];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hmac_thread, macs[i]), 0);
    for (int i = 0; i < 4; i++) {
        void *ret;
        assert_int_equal(pthread_join(th[i], &ret), 0);
        assert_null(ret);
        char hex[2 * CRYPTO_MAC_LEN + 1];
        hex_of(macs[i], CRYPTO_MAC_LEN, hex);
        assert_string_equal(hex,
                            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}

static void test_b64url_known(void **state)
{
    (void)state;
    static const struct {
        const char *raw, *enc;
    } cases[] = {
        {"", ""},         {"f", "Zg"},         {"fo", "Zm8"},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i].raw);
        char enc[16];
        assert_int_equal(crypto_b64url_encoded_len(n), strlen(cases[i].enc));
        assert_int_equal(crypto_b64url_encode(cases[i].raw, n, enc), strlen(cases[i].enc));
        assert_string_equal(enc, cases[i].enc);
        uint8_t dec[16];
        long d = crypto_b64url_decode(enc, strlen(enc), dec, sizeof(dec));
        assert_int_equal(d, (long)n);
        assert_memory_equal(dec, cases[i].raw, n);
    }
    /* The url-safe alphabet: 0xfb 0xff -> "-_8" */
    const uint8_t bytes[] = {0xfb, 0xff};
    char enc[8];
    crypto_b64url_encode(bytes, 2, enc);
    assert_string_equal(enc, "-_8");
}

static void test_b64url_roundtrip_random(void **state)
{
    (void)state;
    uint8_t raw[300], dec[300];
    char enc[401];
    for (size_t n = 0; n <= sizeof(raw); n += 7) {
        crypto_random(raw, n);
        size_t e = crypto_b64url_encode(raw, n, enc);
        assert_int_equal(e, crypto_b64url_encoded_len(n));
        assert_int_equal(strlen(enc), e);
        assert_null(strchr(enc, '='));
        assert_null(strchr(enc, '+'));
        assert_null(strchr(enc, '/'));
        assert_int_equal(crypto_b64url_decode(enc, e, dec, sizeof(dec)), (long)n);
        assert_memory_equal(raw, dec, n);
    }
}

static void test_b64url_rejects(void **state)
{
    (void)state;
    uint8_t out[32];
    assert_int_equal(crypto_b64url_decode("Zg==", 4, out, sizeof(out)), -EINVAL);
    assert_int_equal(crypto_b64url_decode("Zm8=", 4, out, sizeof(out)), -EINVAL);
    assert_int_equal(crypto_b64url_decode("Zm9v+A", 6, out, sizeof(out)), -EINVAL);
    assert_int_equal(crypto_b64url_decode("Zm9v/A", 6, out, sizeof(out)), -EINVAL);
    assert_int_equal(crypto_b64url_decode("Zm 9v", 5, out, sizeof(out)), -EINVAL);
    assert_int_equal(crypto_b64url_decode("Z", 1, out, sizeof(out)), -EINVAL);
    assert_int_equal(crypto_b64url_decode("Zm9vY", 5, out, sizeof(out)), -EINVAL);
    /* Embedded NUL inside the counted length. */
    assert_int_equal(crypto_b64url_decode("Zm\0v", 4, out, sizeof(out)), -EINVAL);
    /* Non-canonical: "Zh" has non-zero unused bits (canonical is "Zg"). */
    assert_int_equal(crypto_b64url_decode("Zh", 2, out, sizeof(out)), -EINVAL);
    assert_int_equal(crypto_b64url_decode("Zm9", 3, out, sizeof(out)), -EINVAL);
    /* Too small output buffer. */
    assert_int_equal(crypto_b64url_decode("Zm9vYmFy", 8, out, 5), -ENOSPC);
    assert_int_equal(crypto_b64url_decode("Zm9vYmFy", 8, out, 6), 6);
    assert_int_equal(crypto_b64url_decode("", 0, out, 0), 0);
}

static void test_crc32(void **state)
{
    (void)state;
    assert_int_equal(crypto_crc32("123456789", 9), 0xCBF43926u);
    assert_int_equal(crypto_crc32("", 0), 0u);
    assert_int_equal(crypto_crc32("The quick brown fox jumps over the lazy dog", 43), 0x414FA339u);
}

static void test_hex_equal_wipe(void **state)
{
    (void)state;
    const uint8_t b[] = {0x00, 0x7f, 0xa5, 0xff};
    char hex[9];
    crypto_hex(b, sizeof(b), hex);
    assert_string_equal(hex, "007fa5ff");
    assert_true(crypto_equal("abcd", "abcd", 4));
    assert_false(crypto_equal("abcd", "abce", 4));
    assert_true(crypto_equal("x", "y", 0));
    /* Eight bytes a step and a byte tail: a difference anywhere counts. */
    uint8_t x[42], y[42];
    for (size_t len = 1; len < sizeof(x); len++)
        for (size_t at = 0; at < len; at++) {
            memset(x, 0x5a, sizeof(x));
            memset(y, 0x5a, sizeof(y));
            assert_true(crypto_equal(x, y, len));
            y[at] ^= 0x80;
            assert_false(crypto_equal(x, y, len));
            if (at + 1 < len) { /* a difference past len does not */
                y[at] ^= 0x80;
                y[len] ^= 1;
                assert_true(crypto_equal(x, y, len));
            }
        }
    char secret[8] = "secret!";
    crypto_wipe(secret, sizeof(secret));
    for (size_t i = 0; i < sizeof(secret); i++)
        assert_int_equal(secret[i], 0);
}

static void test_random_chars(void **state)
{
    (void)state;
    char out[201];
    crypto_random_chars(out, 200, "ab");
    assert_int_equal(strlen(out), 200);
    int a = 0;
    for (int i = 0; i < 200; i++) {
        assert_true(out[i] == 'a' || out[i] == 'b');
        a += out[i] == 'a';
    }
    /* Both letters show up (failure probability 2^-199). */
    assert_true(a > 0 && a < 200);
    char x[33], y[33];
    crypto_random_chars(x, 32, "0123456789abcdef");
    crypto_random_chars(y, 32, "0123456789abcdef");
    assert_string_not_equal(x, y);
    uint8_t r1[16] = {0}, r2[16] = {0};
    crypto_random(r1, sizeof(r1));
    crypto_random(r2, sizeof(r2));
    assert_memory_not_equal(r1, r2, sizeof(r1));
}

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/tessera-crypto-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_key_create_and_reload(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/key", tmpdir);
    uint8_t k1[CRYPTO_KEY_LEN], k2[CRYPTO_KEY_LEN], zero[CRYPTO_KEY_LEN] = {0};
    assert_int_equal(crypto_load_or_create_key(path, k1), 0);
    assert_memory_not_equal(k1, zero, sizeof(k1));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, CRYPTO_KEY_LEN);
    assert_int_equal(crypto_load_or_create_key(path, k2), 0);
    assert_memory_equal(k1, k2, sizeof(k1));
    /* No temporary files left behind. */
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 1", tmpdir);
    assert_int_equal(system(cmd), 0);
}

static void test_key_refuses_open_mode(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/key-open", tmpdir);
    uint8_t k[CRYPTO_KEY_LEN];
    assert_int_equal(crypto_load_or_create_key(path, k), 0);
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(crypto_load_or_create_key(path, k), -EPERM);
    assert_int_equal(chmod(path, 0604), 0);
    assert_int_equal(crypto_load_or_create_key(path, k), -EPERM);
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(crypto_load_or_create_key(path, k), 0);
}

static void test_key_refuses_wrong_size(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/key-short", tmpdir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "short", 5), 5);
    close(fd);
    uint8_t k[CRYPTO_KEY_LEN];
    assert_int_equal(crypto_load_or_create_key(path, k), -EINVAL);
    /* The file was not replaced. */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 5);
}

static void test_key_missing_dir(void **state)
{
    (void)state;
    char path[160];
    snprintf(path, sizeof(path), "%s/no/such/dir/key", tmpdir);
    uint8_t k[CRYPTO_KEY_LEN];
    assert_int_equal(crypto_load_or_create_key(path, k), -ENOENT);
    assert_int_equal(crypto_load_or_create_key("", k), -EINVAL);
}

int main(void)
{
    if (crypto_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_rfc4231_case2),
        cmocka_unit_test(test_hmac_rfc4231_case1_and_rekey),
        cmocka_unit_test(test_hmac_long_key),
        cmocka_unit_test(test_hmac_threads),
        cmocka_unit_test(test_b64url_known),
        cmocka_unit_test(test_b64url_roundtrip_random),
        cmocka_unit_test(test_b64url_rejects),
        cmocka_unit_test(test_crc32),
        cmocka_unit_test(test_hex_equal_wipe),
        cmocka_unit_test(test_random_chars),
        cmocka_unit_test_setup_teardown(test_key_create_and_reload, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_key_refuses_open_mode, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_key_refuses_wrong_size, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_key_missing_dir, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
