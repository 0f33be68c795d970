/* HS256 JSON Web Tokens for sessions (access and refresh). Pure functions,
 * thread-safe. */
#ifndef TESSERA_JWT_H
#define TESSERA_JWT_H

/* Clock skew tolerated between the node that signs and the one that checks. */
#define JWT_CLOCK_SLACK_S 60

#include <stdint.h>

#include "auth/crypto.h"
#include "util/strlist.h"

#define JWT_JTI_LEN 32 /* hex chars */
#define JWT_MAX_LEN 8192

enum jwt_type { JWT_ACCESS, JWT_REFRESH };

struct jwt_claims {
    enum jwt_type type;            /* "token_type": "access" | "refresh" */
    int64_t exp;                   /* seconds since epoch */
    int64_t iat;                   /* seconds since epoch */
    char jti[JWT_JTI_LEN + 1];
    int64_t user_id;
    char username[33];             /* claim "u" */
    struct strlist scopes;         /* claim "scope", space separated; owned */
    struct strlist groups;         /* claim "groups", space separated; owned */
    char family[JWT_JTI_LEN + 1];  /* refresh only: claim "fam" */
};

/* Fresh jti (32 lowercase hex chars + NUL). */
void jwt_new_jti(char out[JWT_JTI_LEN + 1]);
/* Returns a malloc'd compact JWT, or NULL on allocation failure. */
char *jwt_sign(const uint8_t key[CRYPTO_KEY_LEN], const struct jwt_claims *c);
/* Verifies header (alg must be HS256, typ JWT if present), signature
 * (constant time) and decodes claims; does NOT check exp. Returns 0,
 * -EINVAL when malformed, -EPERM when the signature is wrong. On success the
 * caller frees with jwt_claims_free. */
int jwt_verify(const uint8_t key[CRYPTO_KEY_LEN], const char *token, struct jwt_claims *out);
void jwt_claims_free(struct jwt_claims *c);

#endif
