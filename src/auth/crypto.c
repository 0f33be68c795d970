/* Cryptographic primitives: libsodium randomness and constant-time helpers,
 * OpenSSL 3 HMAC-SHA256 through a per-thread reused EVP_MAC context, strict
 * unpadded base64url, CRC32 and the server key files. Every function is safe
 * to call from any thread; the only shared state is set up once under
 * pthread_once and is read-only afterwards. */
#include "auth/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

int crypto_init(void)
{
    /* sodium_init() returns 1 when already initialised, which is fine. */
    return sodium_init() < 0 ? -EIO : 0;
}

void crypto_random(void *buf, size_t len)
{
    randombytes_buf(buf, len);
}

void crypto_random_chars(char *out, size_t len, const char *alphabet)
{
    size_t n = strlen(alphabet);
    if (n == 0 || n > 256) {
        out[0] = '\0';
        return;
    }
    /* Rejection sampling: bytes at or above the largest multiple of n are
     * discarded so that every character is exactly equally likely. */
    unsigned limit = 256u - (256u % (unsigned)n);
    uint8_t pool[64];
    size_t avail = 0, pos = 0, i = 0;
    while (i < len) {
        if (pos == avail) {
            randombytes_buf(pool, sizeof(pool));
            avail = sizeof(pool);
            pos = 0;
        }
        unsigned b = pool[pos++];
        if (b < limit)
            out[i++] = alphabet[b % (unsigned)n];
    }
    out[len] = '\0';
    sodium_memzero(pool, sizeof(pool));
}

/* ---- HMAC-SHA256 ------------------------------------------------------- */

/* The fetched algorithm is shared (EVP_MAC objects are immutable and
 * thread-safe); each thread owns one EVP_MAC_CTX. Creating a context costs an
 * allocation and a provider lookup, which is most of the price of a one-shot
 * HMAC(), so the hot path reuses it. The thread's context is registered with
 * a pthread key whose destructor frees it when the thread exits, so worker
 * threads do not leak (and LeakSanitizer stays quiet). */
static EVP_MAC *hmac_alg;
static pthread_key_t hmac_key;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;
static bool hmac_ready;

struct hmac_tls {
    EVP_MAC_CTX *ctx;
    /* The last key used. Re-keying computes the inner and outer pads, so when
     * the same server key is used again (the common case) the context is only
     * reset. The copy lives as long as the thread, like the key itself. */
    size_t keylen;
    bool keyed;
    uint8_t key[64];
};

static __thread struct hmac_tls *hmac_tls;

static void hmac_tls_free(void *p)
{
    struct hmac_tls *t = p;
    if (!t)
        return;
    EVP_MAC_CTX_free(t->ctx);
    sodium_memzero(t, sizeof(*t));
    free(t);
    hmac_tls = NULL;
}

static void hmac_global_init(void)
{
    if (pthread_key_create(&hmac_key, hmac_tls_free) != 0)
        return;
    hmac_alg = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
    hmac_ready = hmac_alg != NULL;
}

static struct hmac_tls *hmac_thread_ctx(void)
{
    if (hmac_tls)
        return hmac_tls;
    pthread_once(&hmac_once, hmac_global_init);
    if (!hmac_ready)
        return NULL;
    struct hmac_tls *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->ctx = EVP_MAC_CTX_new(hmac_alg);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (!t->ctx || !EVP_MAC_CTX_set_params(t->ctx, params) ||
        pthread_setspecific(hmac_key, t) != 0) {
        EVP_MAC_CTX_free(t->ctx);
        free(t);
        return NULL;
    }
    hmac_tls = t;
    return t;
}

int crypto_hmac_sha256(const uint8_t *key, size_t keylen, const void *data, size_t len,
                       uint8_t out[CRYPTO_MAC_LEN])
{
    struct hmac_tls *t = hmac_thread_ctx();
    if (!t)
        return -EIO;
    static const uint8_t empty_key[1];
    if (!key)
        key = empty_key;
    int ok;
    /* Plain memcmp: both keys are the server's own, nothing a caller sends;
     * its timing tells nobody anything (sodium_memcmp cost ~1 % of a check). */
    if (t->keyed && t->keylen == keylen && memcmp(t->key, key, keylen) == 0) {
        /* A NULL key re-initialises with the key already set (OpenSSL 3). */
        ok = EVP_MAC_init(t->ctx, NULL, 0, NULL);
    } else {
        t->keyed = false;
        ok = EVP_MAC_init(t->ctx, key, keylen, NULL);
        if (ok && keylen <= sizeof(t->key)) {
            memcpy(t->key, key, keylen);
            t->keylen = keylen;
            t->keyed = true;
        }
    }
    size_t outlen = 0;
    if (!ok || !EVP_MAC_update(t->ctx, data, len) ||
        !EVP_MAC_final(t->ctx, out, &outlen, CRYPTO_MAC_LEN) || outlen != CRYPTO_MAC_LEN) {
        /* Leave no half-used state behind: the next call re-keys. */
        t->keyed = false;
        return -EIO;
    }
    return 0;
}

/* Constant time: every byte is read whatever differs. Eight bytes a step,
 * since the check path compares a session JWT of ~300 bytes per request and
 * sodium_memcmp goes byte by byte through a volatile. The empty asm keeps
 * the compiler from turning the accumulation into an early exit. */
bool crypto_equal(const void *a, const void *b, size_t len)
{
    const unsigned char *x = a, *y = b;
    uint64_t diff = 0;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t u, v;
        memcpy(&u, x + i, 8);
        memcpy(&v, y + i, 8);
        diff |= u ^ v;
        __asm__("" : "+r"(diff));
    }
    for (; i < len; i++) {
        diff |= (uint64_t)(x[i] ^ y[i]);
        __asm__("" : "+r"(diff));
    }
    return diff == 0;
}

void crypto_short_digest(const uint8_t key[CRYPTO_SHORT_KEY_LEN], const void *data, size_t len,
                         uint8_t out[CRYPTO_SHORT_LEN])
{
    crypto_shorthash_siphashx24(out, data, len, key);
}

void crypto_wipe(void *buf, size_t len)
{
    if (buf && len)
        sodium_memzero(buf, len);
}

/* CRC-32 (IEEE, reflected), one table lookup per byte. The table is built by
 * the preprocessor (eight shift-and-xor steps per entry), so it needs no
 * initialisation at run time. Every token check runs this over the token. */
#define CRC_STEP(c) (((c) >> 1) ^ (0xEDB88320u & (0u - ((c)&1u))))
#define CRC_BYTE(c) CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(c))))))))
#define CRC_4(n) CRC_BYTE(n), CRC_BYTE((n) + 1u), CRC_BYTE((n) + 2u), CRC_BYTE((n) + 3u)
#define CRC_16(n) CRC_4(n), CRC_4((n) + 4u), CRC_4((n) + 8u), CRC_4((n) + 12u)
#define CRC_64(n) CRC_16(n), CRC_16((n) + 16u), CRC_16((n) + 32u), CRC_16((n) + 48u)
static const uint32_t crc32_table[256] = {CRC_64(0u), CRC_64(64u), CRC_64(128u), CRC_64(192u)};

uint32_t crypto_crc32(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++)
        crc = (crc >> 8) ^ crc32_table[(crc ^ p[i]) & 0xFFu];
    return crc ^ 0xFFFFFFFFu;
}

/* ---- base64url --------------------------------------------------------- */

static const char b64url_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t crypto_b64url_encoded_len(size_t len)
{
    return len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
}

size_t crypto_b64url_encode(const void *data, size_t len, char *out)
{
    const uint8_t *p = data;
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = b64url_chars[v >> 18 & 63];
        out[o++] = b64url_chars[v >> 12 & 63];
        out[o++] = b64url_chars[v >> 6 & 63];
        out[o++] = b64url_chars[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = b64url_chars[v >> 18 & 63];
        out[o++] = b64url_chars[v >> 12 & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = b64url_chars[v >> 18 & 63];
        out[o++] = b64url_chars[v >> 12 & 63];
        out[o++] = b64url_chars[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

/* base64url digit value + 1 by character; 0 marks a character outside the
 * alphabet. A lookup per character: JWTs are decoded on every session check. */
static const uint8_t b64url_plus1[256] = {
    ['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8,
    ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
    ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
    ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
    ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['-'] = 63, ['_'] = 64,
};

long crypto_b64url_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap)
{
    if (!in && inlen)
        return -EINVAL;
    /* One leftover character cannot encode a whole byte. */
    if (inlen % 4 == 1)
        return -EINVAL;
    size_t outlen = inlen / 4 * 3 + (inlen % 4 ? inlen % 4 - 1 : 0);
    if (outlen > (size_t)LONG_MAX)
        return -EINVAL;
    if (outlen > outcap)
        return -ENOSPC;
    const unsigned char *u = (const unsigned char *)in;
    size_t o = 0, i = 0;
    /* Each digit is looked up as value + 1, so a 0 anywhere (an invalid
     * character) shows as a missing 1 in the OR of the four lookups. */
    for (; i + 4 <= inlen; i += 4) {
        unsigned a = b64url_plus1[u[i]], b = b64url_plus1[u[i + 1]], c = b64url_plus1[u[i + 2]],
                 d = b64url_plus1[u[i + 3]];
        if (!a || !b || !c || !d)
            return -EINVAL;
        uint32_t v = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6 | (d - 1);
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    size_t rem = inlen - i;
    if (rem >= 2) {
        unsigned a = b64url_plus1[u[i]], b = b64url_plus1[u[i + 1]],
                 c = rem == 3 ? b64url_plus1[u[i + 2]] : 1;
        if (!a || !b || !c)
            return -EINVAL;
        uint32_t v = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6;
        /* Reject non-zero unused bits: every byte string then has exactly one
         * accepted encoding, so a signature cannot be re-spelled. */
        if ((rem == 2 && (v & 0xFFFF)) || (rem == 3 && (v & 0xFF)))
            return -EINVAL;
        out[o++] = (uint8_t)(v >> 16);
        if (rem == 3)
            out[o++] = (uint8_t)(v >> 8);
    }
    return (long)o;
}

void crypto_hex(const void *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = '\0';
}

/* ---- key files --------------------------------------------------------- */

static int read_full(int fd, uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            return -EINVAL; /* shrank since fstat */
        got += (size_t)r;
    }
    return 0;
}

static int write_full(int fd, const uint8_t *buf, size_t len)
{
    size_t put = 0;
    while (put < len) {
        ssize_t w = write(fd, buf + put, len - put);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        put += (size_t)w;
    }
    return 0;
}

/* Returns 0, -ENOENT when the file does not exist, or another -errno. */
static int load_key(const char *path, uint8_t key[CRYPTO_KEY_LEN])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size != CRYPTO_KEY_LEN) {
        rc = -EINVAL;
        goto out;
    }
    /* A key others can read is a key others may have copied. */
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        rc = -EPERM;
        goto out;
    }
    rc = read_full(fd, key, CRYPTO_KEY_LEN);
out:
    close(fd);
    if (rc < 0)
        sodium_memzero(key, CRYPTO_KEY_LEN);
    return rc;
}

static void fsync_parent_dir(const char *path)
{
    char *dir = strdup(path);
    if (!dir)
        return;
    char *slash = strrchr(dir, '/');
    const char *d = ".";
    if (slash == dir)
        d = "/";
    else if (slash) {
        *slash = '\0';
        d = dir;
    }
    int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

/* Publishes tmp as path without ever replacing an existing file, so two
 * processes starting together agree on one key. */
static int publish_no_replace(const char *tmp, const char *path)
{
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -errno;
    /* The file system cannot rename without replacing: link() also fails
     * with EEXIST instead of overwriting. */
    if (link(tmp, path) < 0)
        return -errno;
    (void)unlink(tmp);
    return 0;
}

static int create_key(const char *path, uint8_t key[CRYPTO_KEY_LEN])
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp)
        return -ENOMEM;
    char suffix[17];
    crypto_random_chars(suffix, 16, "abcdefghijklmnopqrstuvwxyz0123456789");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp-", 5);
    memcpy(tmp + plen + 5, suffix, 17);

    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = -errno;
        goto fail;
    }
    /* umask can only clear bits, but be explicit about the final mode. */
    randombytes_buf(key, CRYPTO_KEY_LEN);
    if (fchmod(fd, 0600) < 0 || (rc = write_full(fd, key, CRYPTO_KEY_LEN)) < 0 ||
        fsync(fd) < 0) {
        if (rc == 0)
            rc = -errno;
        close(fd);
        (void)unlink(tmp);
        goto fail;
    }
    if (close(fd) < 0) {
        rc = -errno;
        (void)unlink(tmp);
        goto fail;
    }
    rc = publish_no_replace(tmp, path);
    if (rc < 0) {
        (void)unlink(tmp);
        goto fail;
    }
    fsync_parent_dir(path);
    free(tmp);
    return 0;
fail:
    sodium_memzero(key, CRYPTO_KEY_LEN);
    free(tmp);
    return rc;
}

int crypto_load_key(const char *path, uint8_t key[CRYPTO_KEY_LEN])
{
    return path && *path ? load_key(path, key) : -EINVAL;
}

int crypto_load_or_create_key(const char *path, uint8_t key[CRYPTO_KEY_LEN])
{
    if (!path || !*path)
        return -EINVAL;
    /* Two rounds: if another process publishes the key between our failed
     * load and our create, the create reports EEXIST and we load theirs. */
    for (int attempt = 0; attempt < 2; attempt++) {
        int rc = load_key(path, key);
        if (rc != -ENOENT)
            return rc;
        rc = create_key(path, key);
        if (rc != -EEXIST)
            return rc;
    }
    return load_key(path, key);
}
