/* Authenticating reports of leaked tokens sent in the format of GitHub's
 * secret-scanning partner programme: the sender's public keys come from a
 * document shaped like https://api.github.com/meta/public_keys/secret_scanning
 * ({"public_keys": [{"key_identifier", "key" (PEM), "is_current"}]}), and a
 * report is signed with ECDSA P-256 / SHA-256 over its raw body, the DER
 * signature sent base64-encoded (Github-Public-Key-Signature) next to the
 * key's identifier (Github-Public-Key-Identifier).
 * A key set is immutable once loaded: any thread may verify with it. */
#ifndef TESSERA_LEAKREPORT_H
#define TESSERA_LEAKREPORT_H

#include <stddef.h>

struct leakreport_keys;

/* Reads the keys document at path. Every listed key must be an ECDSA P-256
 * public key in PEM, with an identifier; keys no longer current stay valid
 * (a sender rotating keys signs with either for a while). 0 with *out set
 * (free with leakreport_keys_free), or -errno with a message in err: the
 * file's own errno, -EINVAL for a document of another shape. */
int leakreport_keys_load(const char *path, struct leakreport_keys **out, char *err, size_t errlen);
void leakreport_keys_free(struct leakreport_keys *k); /* NULL is a no-op */

/* Checks the signature of body (len bytes, exactly as received) against
 * the key named key_id: 0 when it verifies; -ENOKEY when no key has that
 * identifier; -EBADMSG when the signature is not base64 of a DER ECDSA
 * signature, or does not verify. */
int leakreport_verify(const struct leakreport_keys *k, const char *key_id,
                      const char *signature_b64, const void *body, size_t len);

#endif
