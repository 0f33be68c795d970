/* Cryptographic primitives: randomness, HMAC-SHA256 with a reused per-thread
 * context (the hot path of every token check), base64url, CRC32, constant-time
 * comparison, and the server key files. All functions are thread-safe. */
#ifndef TESSERA_CRYPTO_H
#define TESSERA_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_KEY_LEN 32
#define CRYPTO_MAC_LEN 32

/* Must be called once before any other function (initialises libsodium). */
int crypto_init(void);
void crypto_random(void *buf, size_t len);
/* Uniform random characters from alphabet into out[0..len-1], NUL-terminated
 * (out must hold len + 1 bytes). */
void crypto_random_chars(char *out, size_t len, const char *alphabet);

/* HMAC-SHA256 of data under key. Uses a per-thread EVP_MAC context so the
 * hot path pays no allocation. Returns 0 or -EIO. */
int crypto_hmac_sha256(const uint8_t *key, size_t keylen, const void *data, size_t len,
                       uint8_t out[CRYPTO_MAC_LEN]);
bool crypto_equal(const void *a, const void *b, size_t len); /* constant time */
/* A keyed 128-bit digest for lookups (SipHash-2-4, 128-bit output): fast,
 * not a MAC to hand out. */
#define CRYPTO_SHORT_KEY_LEN 16
#define CRYPTO_SHORT_LEN 16
void crypto_short_digest(const uint8_t key[CRYPTO_SHORT_KEY_LEN], const void *data, size_t len,
                         uint8_t out[CRYPTO_SHORT_LEN]);
void crypto_wipe(void *buf, size_t len);
uint32_t crypto_crc32(const void *data, size_t len);

/* Unpadded base64url. encode writes a NUL-terminated string into out (needs
 * crypto_b64url_encoded_len(len) + 1 bytes) and returns its length. decode
 * returns the decoded length, or -EINVAL for bad input / -ENOSPC if outcap is
 * too small (checked first; after -EINVAL out may hold partial output).
 * Padding '=' is rejected on decode. */
size_t crypto_b64url_encoded_len(size_t len);
size_t crypto_b64url_encode(const void *data, size_t len, char *out);
long crypto_b64url_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap);

/* Lower-case hex; out needs 2*len + 1 bytes. */
void crypto_hex(const void *data, size_t len, char *out);

/* Loads a CRYPTO_KEY_LEN key from path, creating it (random, mode 0600, via a
 * temporary file and rename) when it does not exist. Refuses a key file that
 * is readable by group/others or has the wrong size. Returns 0 or -errno. */
int crypto_load_or_create_key(const char *path, uint8_t key[CRYPTO_KEY_LEN]);
/* Loads an existing key file (exactly CRYPTO_KEY_LEN bytes). 0, -ENOENT or
 * -EINVAL (wrong size) / -errno. */
int crypto_load_key(const char *path, uint8_t key[CRYPTO_KEY_LEN]);

#endif
