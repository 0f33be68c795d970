/* libFuzzer target for API token parsing: pk./sk. (shape, payload JSON,
 * secret checksum), tk. (MAC, then claims) and token_peek_username. The first
 * byte picks a mode: raw string, or a fuzzed payload wrapped into a correctly
 * MAC'd tk. / checksummed pk./sk. token so the claim decoders are reached.
 * Single-threaded; pure functions only. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/crypto.h"
#include "fuzz_common.h"
#include "util/strlist.h"
#include "auth/token.h"

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

static void check_all(const char *s)
{
    struct token_stored_parts sp;
    if (token_parse_stored(s, &sp) == 0) {
        /* A parsed token must round-trip through the formatter. */
        if (sp.kind != TOKEN_PK && sp.kind != TOKEN_SK)
            abort();
        if (strlen(sp.id) != TOKEN_ID_LEN || !token_secret_checksum_ok(sp.secret))
            abort();
        char *again = token_format_stored(sp.kind, sp.username, sp.id, sp.instance, sp.secret);
        struct token_stored_parts sp2;
        if (!again || token_parse_stored(again, &sp2) != 0 || strcmp(sp.id, sp2.id) != 0 ||
            strcmp(sp.username, sp2.username) != 0 || strcmp(sp.instance, sp2.instance) != 0)
            abort();
        free(again);
    }
    struct token_temp_claims tc;
    int rc = token_parse_temp(fuzz_key, s, &tc);
    if (rc == 0) {
        char *again = token_format_temp(fuzz_key, &tc);
        struct token_temp_claims tc2;
        if (!again || token_parse_temp(fuzz_key, again, &tc2) != 0 || tc.exp != tc2.exp ||
            tc.iat != tc2.iat || strcmp(tc.username, tc2.username) != 0 ||
            strcmp(tc.instance, tc2.instance) != 0 ||
            tc.scopes.n != tc2.scopes.n)
            abort();
        strlist_free(&tc2.scopes);
        strlist_free(&tc2.resources);
        free(again);
        strlist_free(&tc.scopes);
        strlist_free(&tc.resources);
    }
    char user[TOKEN_USERNAME_MAX + 1];
    if (token_peek_username(s, user) == 0 && strlen(user) > TOKEN_USERNAME_MAX)
        abort();
    (void)token_kind_of(s);
    (void)token_secret_checksum_ok(s);
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
        s = fuzz_sign("tk.", data, size);
    } else {
        /* Fuzzed payload with a valid secret: reaches the payload decoder. */
        char secret[TOKEN_SECRET_LEN + 1];
        token_new_secret(secret);
        size_t blen = crypto_b64url_encoded_len(size);
        s = malloc(3 + blen + 1 + TOKEN_SECRET_LEN + 1);
        if (!s)
            abort();
        memcpy(s, (size & 1) ? "sk." : "pk.", 3);
        size_t n = 3 + crypto_b64url_encode(data, size, s + 3);
        s[n++] = '.';
        memcpy(s + n, secret, TOKEN_SECRET_LEN + 1);
    }
    check_all(s);
    free(s);
    return 0;
}
