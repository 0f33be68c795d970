/* Signed asset URLs: formatting and verifying the signature (signedurl.h). */
#include "auth/signedurl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

#define SIG_B64_LEN 43 /* b64url of 32 bytes, unpadded */

/* The signing key, apart from the token key's other uses. */
static int signing_key(const uint8_t token_key[CRYPTO_KEY_LEN], uint8_t out[CRYPTO_MAC_LEN])
{
    static const char label[] = "tessera signed asset URLs";
    return crypto_hmac_sha256(token_key, CRYPTO_KEY_LEN, label, sizeof(label) - 1, out);
}

static int sign(const uint8_t token_key[CRYPTO_KEY_LEN], const char *scope, const char *what,
                int64_t expires, const char *signer, char out[SIG_B64_LEN + 1])
{
    struct buf msg = {0};
    buf_printf(&msg, "tessera-signed-url-v1\n%s\n%s\n%lld\n%s", scope, what, (long long)expires,
               signer);
    uint8_t key[CRYPTO_MAC_LEN], mac[CRYPTO_MAC_LEN];
    int rc = msg.oom ? -ENOMEM : signing_key(token_key, key);
    if (rc == 0)
        rc = crypto_hmac_sha256(key, sizeof(key), msg.s, msg.n, mac);
    if (rc == 0)
        crypto_b64url_encode(mac, sizeof(mac), out);
    crypto_wipe(key, sizeof(key));
    free(msg.s);
    return rc;
}

/* Percent-encodes everything but RFC 3986's unreserved characters and '/'. */
static void append_encoded(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~/", *p)) {
            buf_append(b, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            buf_append(b, e, 3);
        }
    }
}

char *signedurl_query(const uint8_t token_key[CRYPTO_KEY_LEN], const char *signer, int64_t expires,
                      const char *prefix, const char *asset_key)
{
    if (!token_id_valid(signer) || expires <= 0 || (!prefix && !asset_key))
        return NULL;
    char sig[SIG_B64_LEN + 1];
    if (sign(token_key, prefix ? "prefix" : "key", prefix ? prefix : asset_key, expires, signer,
             sig) < 0)
        return NULL;
    struct buf q = {0};
    buf_printf(&q, "expires=%lld&signer=%s", (long long)expires, signer);
    if (prefix) {
        buf_append(&q, "&prefix=", 8);
        append_encoded(&q, prefix);
    }
    buf_printf(&q, "&signature=%s", sig);
    if (q.oom) {
        free(q.s);
        return NULL;
    }
    return q.s;
}

static bool parse_expires(const char *s, int64_t *out)
{
    int64_t v = 0;
    if (!s || !*s || strlen(s) > 12)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return true;
}

int signedurl_verify(const uint8_t token_key[CRYPTO_KEY_LEN], const struct signedurl_params *sp,
                     const char *asset_key, int64_t now, char signer[TOKEN_ID_LEN + 1])
{
    int64_t expires;
    if (!parse_expires(sp->expires, &expires) || !token_id_valid(sp->signer) || !sp->signature ||
        strlen(sp->signature) != SIG_B64_LEN || (sp->prefix && !*sp->prefix))
        return -EINVAL;
    char want[SIG_B64_LEN + 1];
    int rc = sign(token_key, sp->prefix ? "prefix" : "key", sp->prefix ? sp->prefix : asset_key,
                  expires, sp->signer, want);
    if (rc < 0)
        return rc;
    bool match = crypto_equal(want, sp->signature, SIG_B64_LEN);
    crypto_wipe(want, sizeof(want));
    /* A prefix signature covers the keys under it, and nothing else. */
    if (!match || (sp->prefix && strncmp(asset_key, sp->prefix, strlen(sp->prefix)) != 0))
        return -EPERM;
    if (now >= expires)
        return -ETIMEDOUT;
    memcpy(signer, sp->signer, TOKEN_ID_LEN + 1);
    return 0;
}
