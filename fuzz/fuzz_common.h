/* Helpers shared by the libFuzzer targets (header-only, so the build's
 * fuzz/fuzz_*.c glob picks up targets only): a NUL-terminated copy of the
 * input, a fixed key, and building signed tokens around fuzzed payloads so the
 * fuzzer can reach the claim decoders behind the MAC check. */
#ifndef TESSERA_FUZZ_COMMON_H
#define TESSERA_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/crypto.h"

/* A fixed, non-secret key: fuzzing wants determinism, not secrecy. */
static const uint8_t fuzz_key[CRYPTO_KEY_LEN] = {
    0x54, 0x65, 0x73, 0x73, 0x65, 0x72, 0x61, 0x2d, 0x66, 0x75, 0x7a, 0x7a, 0x2d, 0x6b, 0x65, 0x79,
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};

/* malloc'd copy of data with a terminating NUL (embedded NULs are kept, so
 * the string functions see a prefix, as they would from a C caller). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* "<prefix>" + b64url(payload) + "." + b64url(HMAC(key, prefix + b64url(payload)))
 * -- the tk. shape (prefix "tk.") and the JWT shape (prefix "<b64 header>."). */
static inline char *fuzz_sign(const char *prefix, const uint8_t *payload, size_t plen)
{
    size_t pre = strlen(prefix);
    size_t blen = crypto_b64url_encoded_len(plen);
    size_t mlen = crypto_b64url_encoded_len(CRYPTO_MAC_LEN);
    char *s = malloc(pre + blen + 1 + mlen + 1);
    if (!s)
        abort();
    memcpy(s, prefix, pre);
    size_t n = pre + crypto_b64url_encode(payload, plen, s + pre);
    uint8_t mac[CRYPTO_MAC_LEN];
    if (crypto_hmac_sha256(fuzz_key, CRYPTO_KEY_LEN, s, n, mac) < 0)
        abort();
    s[n++] = '.';
    crypto_b64url_encode(mac, sizeof(mac), s + n);
    return s;
}

#endif
