/* libFuzzer target for signedurl.c: the parameters of a signed asset URL as
 * a request carries them, against a key. Checks, beyond "no crash": nothing
 * verifies but what signedurl_query made (a fuzzed signature never passes),
 * and what it made verifies for its key until it expires.
 * Single-threaded; pure functions. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/signedurl.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Five NUL-separated fields: expires, signer, prefix ("" = none),
     * signature, asset key. */
    char *s = fuzz_cstr(data, size);
    const char *f[5];
    const char *p = s;
    for (int i = 0; i < 5; i++) {
        f[i] = p;
        p += strlen(p);
        if (p < s + size)
            p++; /* past the NUL that ends this field */
    }
    struct signedurl_params sp = {f[0], f[1], f[2][0] ? f[2] : NULL, f[3]};
    char signer[TOKEN_ID_LEN + 1];
    if (signedurl_verify(fuzz_key, &sp, f[4], 0, signer) == 0)
        abort(); /* a forged signature passed */
    char *q = signedurl_query(fuzz_key, "abcdefghijklmnopqrstuvwxy", 100, NULL, f[4]);
    if (q) {
        const char *sig = strstr(q, "signature=");
        struct signedurl_params good = {"100", "abcdefghijklmnopqrstuvwxy", NULL,
                                        sig ? sig + 10 : ""};
        if (!sig || signedurl_verify(fuzz_key, &good, f[4], 99, signer) != 0 ||
            signedurl_verify(fuzz_key, &good, f[4], 100, signer) == 0)
            abort();
        free(q);
    }
    free(s);
    return 0;
}
