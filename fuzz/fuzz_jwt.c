/* libFuzzer target for session JWT verification (jwt_verify): header checks,
 * signature, claim decoding. The first byte picks a mode: the raw string, a
 * fuzzed payload under the standard HS256 header with a valid signature (so
 * the claim decoder is reached), or fuzzed header + payload (split at a 0xff
 * byte) with a valid signature. Verified claims must survive jwt_sign and
 * verify again. Single-threaded; pure functions only. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/crypto.h"
#include "fuzz_common.h"
#include "auth/jwt.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (crypto_init() < 0)
        abort();
    return 0;
}

static void verify(const char *s)
{
    struct jwt_claims c;
    if (jwt_verify(fuzz_key, s, &c) != 0)
        return;
    char *again = jwt_sign(fuzz_key, &c);
    struct jwt_claims c2;
    if (!again || jwt_verify(fuzz_key, again, &c2) != 0)
        abort();
    if (c.type != c2.type || c.exp != c2.exp || c.iat != c2.iat || c.user_id != c2.user_id ||
        strcmp(c.jti, c2.jti) != 0 || strcmp(c.username, c2.username) != 0 ||
        c.scopes.n != c2.scopes.n || c.groups.n != c2.groups.n)
        abort();
    jwt_claims_free(&c2);
    jwt_claims_free(&c);
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t mode = data[0] % 3;
    data++;
    size--;
    char *s;
    if (mode == 0) {
        s = fuzz_cstr(data, size);
    } else if (mode == 1) {
        /* b64url({"alg":"HS256","typ":"JWT"}) */
        s = fuzz_sign("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", data, size);
    } else {
        const uint8_t *sep = memchr(data, 0xff, size);
        size_t hlen = sep ? (size_t)(sep - data) : 0;
        const uint8_t *payload = sep ? sep + 1 : data;
        size_t plen = size - (size_t)(payload - data);
        char *prefix = malloc(crypto_b64url_encoded_len(hlen) + 2);
        if (!prefix)
            abort();
        size_t n = crypto_b64url_encode(data, hlen, prefix);
        prefix[n] = '.';
        prefix[n + 1] = '\0';
        s = fuzz_sign(prefix, payload, plen);
        free(prefix);
    }
    verify(s);
    free(s);
    return 0;
}
