/* Credentials already verified by this thread, keyed by the exact token
 * text and the key that verified it, so a token seen again skips the
 * HMAC, base64 and the parse of its claims. Only the
 * verification is cached: expiry, revocation and the account's state are
 * checked on every request as before. Per thread, no locks; bounded
 * direct-mapped tables (sessions, tk tokens and pk/sk secrets apart, so
 * none evicts another), where an entry lives until another token takes
 * its slot. Session and tk texts are kept (they live an hour at most); a
 * pk/sk secret never is: its table holds a keyed digest of it beside the
 * token's parsed parts and the HMAC the token index compares. */
#ifndef TESSERA_CREDCACHE_H
#define TESSERA_CREDCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/crypto.h"
#include "auth/jwt.h"
#include "auth/token.h"

/* What verify_session reads from a session JWT. */
struct session_claims {
    enum jwt_type type;
    int64_t user_id;
    int64_t iat, exp; /* seconds */
    char jti[JWT_JTI_LEN + 1];
};

/* True with *out filled when this thread verified token under key before. */
bool credcache_session_get(const uint8_t key[CRYPTO_KEY_LEN], const char *token,
                           struct session_claims *out);
/* Remembers a session JWT whose signature key verified (tokens longer than
 * the cache's slots are not kept). */
void credcache_session_put(const uint8_t key[CRYPTO_KEY_LEN], const char *token,
                           const struct session_claims *c);

/* token_parse_temp(key, token, out), and id = token_temp_id(token): from
 * this thread's table when it verified the same token text under the same
 * key before (the text, its claims and id are kept: a tk lives an hour at
 * most), else verified, parsed and kept. 0 or token_parse_temp's error; on
 * 0 the caller frees out->scopes and out->resources. */
int credcache_temp(const uint8_t key[CRYPTO_KEY_LEN], const char *token,
                   struct token_temp_claims *out, char id[TOKEN_ID_LEN + 1]);

/* A pk/sk token's parts (token_parse_stored's, without the secret) and
 * mac = token_hash_secret(key, secret): from this thread's table when it
 * read the same token text under the same key before, matched by the text
 * before the secret and a SipHash digest of the secret under a per-process
 * random key (the secret is never kept), else parsed, hashed and kept. The
 * caller compares mac with the index's secret_hash as before. 0; -EINVAL
 * when the token is malformed (bad shape or checksum: never kept); -EIO. */
int credcache_stored(const uint8_t key[CRYPTO_KEY_LEN], const char *token,
                     struct token_stored_parts *parts, uint8_t mac[CRYPTO_MAC_LEN]);

#endif
