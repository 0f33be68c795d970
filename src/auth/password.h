/* Password hashing (Argon2id via libsodium, m=19 MiB, t=2, p=1) and the weak
 * password policy. Hashing is slow (~17 ms) by design: call only from the
 * worker pool, never from a request thread's fast path. Thread-safe. */
#ifndef TESSERA_PASSWORD_H
#define TESSERA_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#define PASSWORD_HASH_MAX 128 /* PHC string incl. NUL */

/* Writes the PHC string ("$argon2id$v=19$m=19456,t=2,p=1$...") into out.
 * Returns 0, or -ENOMEM when libsodium cannot allocate the memory cost. */
int password_hash(const char *password, char out[PASSWORD_HASH_MAX]);
/* True when password matches the PHC string. */
bool password_verify(const char *password, const char *phc);
/* Burns the same time as a verify; used for unknown accounts so that the
 * response time does not reveal whether an e-mail is registered. */
void password_verify_dummy(const char *password);
/* NULL when acceptable, else a static human-readable reason: shorter than 8
 * characters, longer than 256 bytes, entirely numeric, or in the built-in
 * list of common passwords (case-insensitive). */
const char *password_weakness(const char *password);

#endif
