/* Signed asset URLs (issue 15): a query string that lets whoever holds the
 * URL GET one asset, or any asset under a key prefix, until it expires,
 * with no header, while the token that signed it lives. The signature
 * binds the key or prefix, the expiry and the signing token's id:
 *
 *   ?expires=<unix s>&signer=<token id>[&prefix=<key prefix>]&signature=<b64url>
 *   signature = HMAC-SHA256(K, "tessera-signed-url-v1\n" ("key\n" key | "prefix\n"
 *               prefix) "\n" expires "\n" signer), K = HMAC-SHA256(token_key,
 *               "tessera signed asset URLs")
 *
 * Whether the signer still lives, and still reaches the asset, is the
 * caller's check (auth_verify_signer). Pure functions; any thread. */
#ifndef TESSERA_SIGNEDURL_H
#define TESSERA_SIGNEDURL_H

#include <stddef.h>
#include <stdint.h>

#include "auth/crypto.h"
#include "auth/token.h"

#define SIGNEDURL_MAX_S 3600 /* the longest a signed URL lives */

/* The four parameters of a signed URL as a request carries them (decoded;
 * NULL when absent). */
struct signedurl_params {
    const char *expires, *signer, *prefix, *signature;
};

/* The query string (without '?') signing asset_key exactly (prefix NULL) or
 * every key under prefix, for signer until expires (unix seconds):
 * malloc'd, or NULL when out of memory or an argument is malformed. */
char *signedurl_query(const uint8_t token_key[CRYPTO_KEY_LEN], const char *signer, int64_t expires,
                      const char *prefix, const char *asset_key);

/* Checks a signed request for asset_key at now (unix seconds): 0 with the
 * signer's id in signer; -EINVAL when the parameters are malformed;
 * -EPERM when the signature is wrong or the key is not the one (or under the
 * prefix) signed; -ETIMEDOUT when it expired. Constant time in the
 * signature. */
int signedurl_verify(const uint8_t token_key[CRYPTO_KEY_LEN], const struct signedurl_params *sp,
                     const char *asset_key, int64_t now, char signer[TOKEN_ID_LEN + 1]);

#endif
