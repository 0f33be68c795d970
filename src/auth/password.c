/* Password hashing with libsodium's Argon2id (m=19 MiB, t=2, p=1) and the
 * weak-password policy. Hashing and verifying take ~17 ms and 19 MiB each, so
 * callers run them on the worker pool. Thread-safe: the only shared state is
 * the dummy hash, computed once under pthread_once. */
#include "auth/password.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <sodium.h>

#include "auth/crypto.h"

#ifdef TESSERA_FUZZ_BUILD
/* libFuzzer builds only (never a shipped binary): Argon2id at its minimum
 * cost, or every fuzz input that reaches a sign-up or sign-in spends ~20 ms
 * hashing and the body parsers behind them get a few hundred runs a second. */
#define PASSWORD_OPSLIMIT ((unsigned long long)crypto_pwhash_OPSLIMIT_MIN)
#define PASSWORD_MEMLIMIT ((size_t)crypto_pwhash_MEMLIMIT_MIN)
#else
#define PASSWORD_OPSLIMIT 2ULL
#define PASSWORD_MEMLIMIT ((size_t)19 * 1024 * 1024)
#endif
#define PASSWORD_MIN_CHARS 8
#define PASSWORD_MAX_BYTES 256

_Static_assert(PASSWORD_HASH_MAX >= crypto_pwhash_STRBYTES, "PHC buffer too small");

int password_hash(const char *password, char out[PASSWORD_HASH_MAX])
{
    if (!password)
        return -EINVAL;
    if (crypto_pwhash_str_alg(out, password, strlen(password), PASSWORD_OPSLIMIT,
                              PASSWORD_MEMLIMIT, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return -ENOMEM;
    return 0;
}

bool password_verify(const char *password, const char *phc)
{
    if (!password || !phc)
        return false;
    /* Only our own Argon2id strings are accepted; a foreign or truncated
     * string (or an unterminated one) is simply a mismatch. */
    size_t n = strnlen(phc, PASSWORD_HASH_MAX);
    if (n == 0 || n >= PASSWORD_HASH_MAX || strncmp(phc, "$argon2id$", 10) != 0) {
        /* Costs a hash all the same (a service account's "!" included), so
         * timing does not tell such accounts apart. */
        password_verify_dummy(password);
        return false;
    }
    return crypto_pwhash_str_verify(phc, password, strlen(password)) == 0;
}

static char dummy_phc[PASSWORD_HASH_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_init(void)
{
    /* A hash of a random password nobody knows, with the same cost as real
     * hashes, so verifying against it takes as long as a real verify. */
    char random_pw[33];
    crypto_random_chars(random_pw, 32, "abcdefghijklmnopqrstuvwxyz0123456789");
    if (password_hash(random_pw, dummy_phc) != 0)
        dummy_phc[0] = '\0';
    crypto_wipe(random_pw, sizeof(random_pw));
}

void password_verify_dummy(const char *password)
{
    pthread_once(&dummy_once, dummy_init);
    if (dummy_phc[0])
        (void)password_verify(password ? password : "", dummy_phc);
}

/* Common passwords that pass the length and all-digits rules (shorter and
 * purely numeric ones are refused by those rules already). Compared
 * case-insensitively, so "Password1" is caught by "password1". */
static const char *const common_passwords[] = {
    "password",     "password1",    "password12",   "password123",  "password1234",
    "passw0rd",     "p@ssw0rd",     "p@ssword",     "pa$$word",     "passwort",
    "qwerty123",    "qwertyuiop",   "qwerty12",     "qwerty1234",   "qwertyui",
    "1q2w3e4r",     "1q2w3e4r5t",   "1qaz2wsx",     "1qazxsw2",     "zaq12wsx",
    "zaq1zaq1",     "q1w2e3r4",     "q1w2e3r4t5",   "qazwsxedc",    "asdfghjkl",
    "asdfasdf",     "zxcvbnm1",     "abcd1234",     "abc12345",     "abcdefgh",
    "iloveyou",     "iloveyou1",    "iloveyou2",    "trustno1",     "sunshine",
    "princess",     "football",     "football1",    "baseball",     "basketball",
    "superman",     "batman123",    "starwars",     "whatever",     "welcome1",
    "welcome123",   "letmein1",     "letmein123",   "changeme",     "changeme123",
    "admin123",     "administrator", "adminadmin",  "root1234",     "master123",
    "michelle",     "jennifer",     "jordan23",     "computer",     "internet",
    "corvette",     "mercedes",     "mustang1",     "charlie1",     "chocolate",
    "butterfly",    "liverpool",    "arsenal1",     "chelsea1",     "spiderman",
    "pokemon1",     "minecraft",    "master12",     "hello123",     "helloworld",
    "monkey123",    "dragon123",    "shadow123",    "michael1",     "jessica1",
    "ashley123",    "daniel123",    "loveyou1",     "lovely123",    "babygirl",
    "babygirl1",    "cookie123",    "flower123",    "freedom1",     "nicole123",
    "secret123",    "testtest",     "test1234",     "test12345",    "11111111a",
    "aa123456",     "a1234567",     "a12345678",    "123456789a",   "12345678a",
    "123qweasd",    "1234qwer",     "qweasdzxc",    "qwe123qwe",    "google123",
    "samsung1",     "access14",     "maverick",     "yankees1",     "tessera1",
};

/* ASCII-only case folding, independent of the process locale. */
static bool ascii_equal_nocase(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y - 'A' + 'a');
        if (x != y)
            return false;
        if (x == '\0')
            return true;
    }
}

const char *password_weakness(const char *password)
{
    if (!password)
        return "password is required";
    size_t bytes = strnlen(password, PASSWORD_MAX_BYTES + 1);
    if (bytes > PASSWORD_MAX_BYTES)
        return "password must be at most 256 bytes long";
    /* Count characters, not bytes: UTF-8 continuation bytes (10xxxxxx) do
     * not start a character. */
    size_t chars = 0;
    bool all_digits = true;
    for (size_t i = 0; i < bytes; i++) {
        unsigned char c = (unsigned char)password[i];
        if ((c & 0xC0) != 0x80)
            chars++;
        if (c < '0' || c > '9')
            all_digits = false;
    }
    if (chars < PASSWORD_MIN_CHARS)
        return "password must be at least 8 characters long";
    if (all_digits)
        return "password must not be entirely numeric";
    for (size_t i = 0; i < sizeof(common_passwords) / sizeof(common_passwords[0]); i++)
        if (ascii_equal_nocase(password, common_passwords[i]))
            return "password is too common";
    return NULL;
}
