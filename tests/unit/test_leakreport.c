/* Unit tests for leakreport.c: loading a secret-scanning public keys
 * document (tests/fixtures/leak/) and verifying report signatures, made here
 * with the fixture's private keys as a scanner would make them. */
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
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include "auth/leakreport.h"

#define FIXTURES TESSERA_SOURCE_DIR "/tests/fixtures/leak/"
#define KEY_ID "0ffcf9fabba0bfdf42b0447b7cf74ba697f997ce679d27ec8e89a5984c1b60de"

static const char body[] =
    "[{\"token\":\"sk.abc.def\",\"type\":\"tessera_sk\",\"url\":\"https://github.com/o/r/blob/"
    "0/x.txt\",\"source\":\"content\"}]";

/* The base64 DER ECDSA signature of data by the PEM private key in file. */
static void sign(const char *file, const void *data, size_t len, char *out, size_t outlen)
{
    FILE *f = fopen(file, "r");
    assert_non_null(f);
    EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(key);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char sig[128];
    size_t siglen = sizeof(sig);
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &siglen, data, len), 1);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    sodium_bin2base64(out, outlen, sig, siglen, sodium_base64_VARIANT_ORIGINAL);
}

static struct leakreport_keys *load_fixture(void)
{
    struct leakreport_keys *k = NULL;
    char err[256];
    assert_int_equal(leakreport_keys_load(FIXTURES "public_keys.json", &k, err, sizeof(err)), 0);
    assert_non_null(k);
    return k;
}

static void test_valid_signature(void **state)
{
    (void)state;
    struct leakreport_keys *k = load_fixture();
    char sig[200];
    sign(FIXTURES "scanner_key.pem", body, strlen(body), sig, sizeof(sig));
    assert_int_equal(leakreport_verify(k, KEY_ID, sig, body, strlen(body)), 0);
    leakreport_keys_free(k);
}

static void test_refused_signatures(void **state)
{
    (void)state;
    struct leakreport_keys *k = load_fixture();
    char sig[200], forged[200];
    sign(FIXTURES "scanner_key.pem", body, strlen(body), sig, sizeof(sig));
    sign(FIXTURES "forger_key.pem", body, strlen(body), forged, sizeof(forged));
    size_t len = strlen(body);
    /* Unknown key identifiers, whatever the signature. */
    assert_int_equal(leakreport_verify(k, "feedface", sig, body, len), -ENOKEY);
    assert_int_equal(leakreport_verify(k, "", sig, body, len), -ENOKEY);
    assert_int_equal(leakreport_verify(k, NULL, sig, body, len), -ENOKEY);
    /* Another key's signature, a changed body, a changed signature. */
    assert_int_equal(leakreport_verify(k, KEY_ID, forged, body, len), -EBADMSG);
    assert_int_equal(leakreport_verify(k, KEY_ID, sig, body, len - 1), -EBADMSG);
    char changed[sizeof(body)];
    memcpy(changed, body, sizeof(body));
    changed[12] ^= 1;
    assert_int_equal(leakreport_verify(k, KEY_ID, sig, changed, len), -EBADMSG);
    char flipped[200];
    strcpy(flipped, sig);
    flipped[20] = flipped[20] == 'A' ? 'B' : 'A';
    assert_int_equal(leakreport_verify(k, KEY_ID, flipped, body, len), -EBADMSG);
    /* Not base64, empty, absent, too long, truncated DER. */
    assert_int_equal(leakreport_verify(k, KEY_ID, "!!!!", body, len), -EBADMSG);
    assert_int_equal(leakreport_verify(k, KEY_ID, "", body, len), -EBADMSG);
    assert_int_equal(leakreport_verify(k, KEY_ID, NULL, body, len), -EBADMSG);
    char huge[400];
    memset(huge, 'A', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    assert_int_equal(leakreport_verify(k, KEY_ID, huge, body, len), -EBADMSG);
    unsigned char der[128];
    size_t derlen = 0;
    assert_int_equal(sodium_base642bin(der, sizeof(der), sig, strlen(sig), NULL, &derlen, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    char cut[200];
    sodium_bin2base64(cut, sizeof(cut), der, derlen - 4, sodium_base64_VARIANT_ORIGINAL);
    assert_int_equal(leakreport_verify(k, KEY_ID, cut, body, len), -EBADMSG);
    leakreport_keys_free(k);
}

/* Writes text to a temporary file; returns its path (static buffer). */
static const char *temp_file(const char *text)
{
    static char path[64];
    strcpy(path, "/tmp/tessera-leakkeys-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

/* A keys document holding one public key of the given kind. */
static const char *doc_with_key(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(bio, key), 1);
    char *pem = NULL;
    long n = BIO_get_mem_data(bio, &pem);
    static char doc[4096];
    char escaped[2048];
    size_t j = 0;
    for (long i = 0; i < n; i++) {
        if (pem[i] == '\n') {
            escaped[j++] = '\\';
            escaped[j++] = 'n';
        } else {
            escaped[j++] = pem[i];
        }
    }
    escaped[j] = '\0';
    snprintf(doc, sizeof(doc),
             "{\"public_keys\":[{\"key_identifier\":\"x\",\"key\":\"%s\",\"is_current\":true}]}",
             escaped);
    BIO_free(bio);
    return doc;
}

static void expect_invalid(const char *text)
{
    const char *path = temp_file(text);
    struct leakreport_keys *k = NULL;
    char err[256] = "";
    if (leakreport_keys_load(path, &k, err, sizeof(err)) != -EINVAL)
        fail_msg("accepted %.120s", text);
    assert_null(k);
    assert_non_null(strstr(err, path));
    unlink(path);
}

static void test_bad_documents(void **state)
{
    (void)state;
    struct leakreport_keys *k = NULL;
    char err[256];
    assert_int_equal(leakreport_keys_load("/nonexistent/keys.json", &k, err, sizeof(err)), -ENOENT);
    assert_null(k);
    expect_invalid("not json");
    expect_invalid("[]");
    expect_invalid("{\"public_keys\": []}");
    expect_invalid("{\"public_keys\": [{\"key_identifier\": \"a\"}]}");
    expect_invalid("{\"public_keys\": [{\"key_identifier\": \"a\", \"key\": \"nope\"}]}");
    /* Keys of the wrong kind: P-384, RSA. */
    EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp384r1");
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    assert_non_null(p384);
    assert_non_null(rsa);
    expect_invalid(doc_with_key(p384));
    expect_invalid(doc_with_key(rsa));
    /* The same document shape with a P-256 key loads. */
    EVP_PKEY *p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "prime256v1");
    const char *path = temp_file(doc_with_key(p256));
    assert_int_equal(leakreport_keys_load(path, &k, err, sizeof(err)), 0);
    leakreport_keys_free(k);
    unlink(path);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(p256);
    leakreport_keys_free(NULL);
}

int main(void)
{
    assert_true(sodium_init() >= 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_signature),
        cmocka_unit_test(test_refused_signatures),
        cmocka_unit_test(test_bad_documents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
