/* API token strings: pk./sk. (stored, secret checked against a keyed hash) and
 * tk. (stateless, MAC-signed claims). Pure functions, thread-safe.
 *
 *   pk|sk . b64url({"u":username,"a":id,"i":instance}) . secret
 *   secret = 32 chars [A-Za-z0-9] (190 bits) + 6 chars base62 CRC32 of those 32
 *   tk . b64url({"u","exp","iat","scopes":[..],"client":"api","p":parent id[,"r":[..]],
 *              "i":instance}) . b64url(MAC)
 *        ("r": resource bounds, auth/resources.h; absent = unrestricted)
 *   MAC = HMAC-SHA256(key, "tk." + payload part)
 *
 * The checksum lets a mistyped or forged secret be rejected before any lookup.
 * "i" is the deployment's instance marker (4-16 chars [a-z0-9], one per
 * database), so that a scanner can tell this deployment's tokens from
 * another's and from Mapbox's. It is the payload's last member: its
 * encoding then ends every payload in one of three ways (the alignment),
 * which token_instance_pattern turns into a regular expression. Tokens made
 * before markers have no "i" and stay valid; clients read only "u". */
#ifndef TESSERA_TOKEN_H
#define TESSERA_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/crypto.h"
#include "util/strlist.h"

#define TOKEN_ID_LEN 25         /* [a-z0-9] */
#define TOKEN_SECRET_LEN 38     /* 32 random + 6 checksum */
#define TOKEN_USERNAME_MAX 32
#define TOKEN_SCOPE_MAX 64 /* a tk scope id: printable ASCII, as SCOPE_ID_MAX */
#define TOKEN_MAX_LEN 4096      /* longer credentials are malformed */
#define TOKEN_INSTANCE_MIN 4
#define TOKEN_INSTANCE_MAX 16
#define TOKEN_INSTANCE_LEN 12   /* a generated marker */

enum token_kind { TOKEN_PK, TOKEN_SK, TOKEN_TK };

/* 1..max printable ASCII characters without spaces, quotes or backslashes:
 * the rule for every name a token carries (usernames, scope ids), so that a
 * payload can never smuggle control characters, quotes or NULs into paths,
 * logs or a re-formatted token. */
bool token_word_ok(const char *s, size_t max);

/* A parsed pk./sk. token. */
struct token_stored_parts {
    enum token_kind kind; /* TOKEN_PK or TOKEN_SK */
    char username[TOKEN_USERNAME_MAX + 1];
    char id[TOKEN_ID_LEN + 1];
    char secret[TOKEN_SECRET_LEN + 1];
    char instance[TOKEN_INSTANCE_MAX + 1]; /* "" when the token has no marker */
};

/* Claims of a tk. token. */
struct token_temp_claims {
    char username[TOKEN_USERNAME_MAX + 1];
    char parent[TOKEN_ID_LEN + 1]; /* authorizing stored token id, or "" for a session */
    int64_t iat;                   /* seconds since epoch */
    int64_t exp;                   /* seconds since epoch */
    struct strlist scopes;         /* owned: free with strlist_free */
    struct strlist resources;      /* owned, as scopes; empty = unrestricted */
    char instance[TOKEN_INSTANCE_MAX + 1]; /* "" = no marker */
};

/* True for a string shaped like a token id (TOKEN_ID_LEN chars of [a-z0-9]);
 * NULL is not. */
bool token_id_valid(const char *id);
/* True for a string that can be an instance marker (TOKEN_INSTANCE_MIN to
 * TOKEN_INSTANCE_MAX chars of [a-z0-9]); NULL is not. */
bool token_instance_ok(const char *s);
/* Fresh random instance marker (TOKEN_INSTANCE_LEN chars of [a-z0-9] + NUL). */
void token_new_instance(char out[TOKEN_INSTANCE_LEN + 1]);
/* A POSIX extended regular expression (also valid for PCRE, RE2 and
 * Hyperscan, as secret scanners use) matching exactly the pk/sk/tk tokens
 * that carry this marker, into out: 0, or -EINVAL (not a marker) /
 * -ENOSPC (out too small; 512 bytes always suffice). */
int token_instance_pattern(const char *instance, char *out, size_t size);
/* Fresh random id (TOKEN_ID_LEN chars of [a-z0-9] + NUL). */
void token_new_id(char out[TOKEN_ID_LEN + 1]);
/* Fresh secret with checksum (TOKEN_SECRET_LEN chars + NUL). */
void token_new_secret(char out[TOKEN_SECRET_LEN + 1]);
/* True when the secret has the right length, alphabet and checksum. */
bool token_secret_checksum_ok(const char *secret);
/* Keyed hash stored for a secret: HMAC-SHA256(key, secret). */
int token_hash_secret(const uint8_t key[CRYPTO_KEY_LEN], const char *secret,
                      uint8_t out[CRYPTO_MAC_LEN]);

/* Which kind a credential string claims to be, from its prefix only; returns
 * -1 when it is not "pk.", "sk." or "tk." (e.g. a JWT). */
int token_kind_of(const char *s);

/* Builds "pk.<payload>.<secret>" / "sk...."; returns malloc'd string.
 * instance is the deployment's marker, or "" for the payload tokens had
 * before markers (so that parsing and formatting again is exact). */
char *token_format_stored(enum token_kind kind, const char *username, const char *id,
                          const char *instance, const char *secret);
/* Parses and checks shape, payload JSON and secret checksum. 0 or -EINVAL. */
int token_parse_stored(const char *s, struct token_stored_parts *out);

/* Signs claims into a malloc'd "tk...." string. */
char *token_format_temp(const uint8_t key[CRYPTO_KEY_LEN], const struct token_temp_claims *c);
/* Verifies MAC (constant time) and decodes the claims (does not check exp).
 * Returns 0; -EINVAL when malformed; -EPERM when well-formed but the MAC is
 * wrong. On success the caller frees out->scopes and out->resources. */
int token_parse_temp(const uint8_t key[CRYPTO_KEY_LEN], const char *s,
                     struct token_temp_claims *out);

/* The identity of a tk. token, which has no id of its own: the first
 * TOKEN_ID_LEN hex digits of its MAC (unique to its claims under one key),
 * into out. What a revocation of it records (store token_revoke_temp).
 * 0, or -EINVAL when s is not shaped like a tk. Does not verify the MAC. */
int token_temp_id(const char *s, char out[TOKEN_ID_LEN + 1]);

/* The username from the second dot-separated part of any pk/sk/tk token,
 * without verifying anything. 0 or -EINVAL. */
int token_peek_username(const char *s, char out[TOKEN_USERNAME_MAX + 1]);

#endif
