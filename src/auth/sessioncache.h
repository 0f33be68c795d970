/* Session JWTs already verified by this thread: the claims a session check
 * needs, keyed by the exact token text and the key that verified it, so a
 * token seen again skips base64, the HMAC and the JSON parse. Only the
 * decoding is cached: expiry, revocation (sessions_valid_after) and the
 * account's state are checked on every request as before. Per thread, no
 * locks; a bounded direct-mapped table, so an entry lives until another
 * token takes its slot. */
#ifndef TESSERA_SESSIONCACHE_H
#define TESSERA_SESSIONCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/crypto.h"
#include "auth/jwt.h"

/* What verify_session reads from a session JWT. */
struct session_claims {
    enum jwt_type type;
    int64_t user_id;
    int64_t iat, exp; /* seconds */
    char jti[JWT_JTI_LEN + 1];
};

/* True with *out filled when this thread verified token under key before. */
bool sessioncache_get(const uint8_t key[CRYPTO_KEY_LEN], const char *token,
                      struct session_claims *out);
/* Remembers a token whose signature key verified (tokens longer than the
 * cache's slots are not kept). */
void sessioncache_put(const uint8_t key[CRYPTO_KEY_LEN], const char *token,
                      const struct session_claims *c);

#endif
