/* Leak-report authentication (leakreport.h): the sender's key document
 * parsed into OpenSSL public keys, and ECDSA P-256 / SHA-256 verification
 * of a report's raw body with EVP_DigestVerify. Loaded keys are read-only;
 * verification uses only per-call contexts, so any thread may verify. */
#include "auth/leakreport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

/* GitHub's document holds a handful of keys; anything far larger is not it. */
#define KEYS_FILE_MAX (256 * 1024)
#define KEYS_MAX 64
#define KEY_ID_MAX 128
/* A DER ECDSA P-256 signature is at most 72 bytes; its base64 at most 96. */
#define SIGNATURE_MAX 80
#define SIGNATURE_B64_MAX 128

struct leakreport_key {
    char id[KEY_ID_MAX + 1];
    EVP_PKEY *pkey;
};

struct leakreport_keys {
    size_t n;
    struct leakreport_key v[];
};

void leakreport_keys_free(struct leakreport_keys *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->n; i++)
        EVP_PKEY_free(k->v[i].pkey);
    free(k);
}

/* The whole file into a NUL-terminated buffer (caller frees): 0, -errno,
 * or -EFBIG beyond KEYS_FILE_MAX. */
static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    char *buf = malloc(KEYS_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, KEYS_FILE_MAX + 1, f) : 0;
    int rc = !buf ? -ENOMEM : ferror(f) ? -EIO : n > KEYS_FILE_MAX ? -EFBIG : 0;
    fclose(f);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* A PEM public key that is ECDSA on P-256, the only algorithm the format
 * names (ECDSA-NIST-P256V1-SHA256); NULL otherwise. */
static EVP_PKEY *p256_key(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    char group[32] = "";
    if (pkey && (!EVP_PKEY_is_a(pkey, "EC") ||
                 !EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                                 sizeof(group), NULL) ||
                 strcmp(group, "prime256v1") != 0)) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    return pkey;
}

static int parse_keys(const cJSON *doc, struct leakreport_keys **out, char *err, size_t errlen)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "public_keys");
    int n = cJSON_GetArraySize(list);
    if (!cJSON_IsArray(list) || n < 1 || n > KEYS_MAX) {
        snprintf(err, errlen, "expected {\"public_keys\": [1 to %d keys]}", KEYS_MAX);
        return -EINVAL;
    }
    struct leakreport_keys *k = calloc(1, sizeof(*k) + (size_t)n * sizeof(k->v[0]));
    if (!k)
        return -ENOMEM;
    const cJSON *item;
    cJSON_ArrayForEach(item, list)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "key_identifier");
        const cJSON *pem = cJSON_GetObjectItemCaseSensitive(item, "key");
        size_t i = k->n;
        if (!cJSON_IsString(id) || !id->valuestring[0] || strlen(id->valuestring) > KEY_ID_MAX ||
            !cJSON_IsString(pem) || !(k->v[i].pkey = p256_key(pem->valuestring))) {
            snprintf(err, errlen,
                     "public_keys[%zu] needs a key_identifier (1 to %d characters) and a key"
                     " that is an ECDSA P-256 public key in PEM",
                     i, KEY_ID_MAX);
            leakreport_keys_free(k);
            return -EINVAL;
        }
        strcpy(k->v[i].id, id->valuestring);
        k->n++;
    }
    *out = k;
    return 0;
}

int leakreport_keys_load(const char *path, struct leakreport_keys **out, char *err, size_t errlen)
{
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = read_file(path, &text, &len);
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", path,
                 rc == -EFBIG ? "larger than a public keys document" : strerror(-rc));
        return rc;
    }
    cJSON *doc = cJSON_ParseWithLength(text, len);
    if (!doc) {
        snprintf(err, errlen, "%s: not JSON", path);
        rc = -EINVAL;
    } else {
        char msg[200];
        rc = parse_keys(doc, out, msg, sizeof(msg));
        if (rc < 0)
            snprintf(err, errlen, "%s: %s", path, rc == -ENOMEM ? "out of memory" : msg);
    }
    cJSON_Delete(doc);
    free(text);
    return rc;
}

int leakreport_verify(const struct leakreport_keys *k, const char *key_id,
                      const char *signature_b64, const void *body, size_t len)
{
    EVP_PKEY *pkey = NULL;
    for (size_t i = 0; i < k->n && key_id && !pkey; i++)
        if (strcmp(k->v[i].id, key_id) == 0)
            pkey = k->v[i].pkey;
    if (!pkey)
        return -ENOKEY;
    unsigned char sig[SIGNATURE_MAX];
    size_t siglen = 0;
    if (!signature_b64 || strlen(signature_b64) > SIGNATURE_B64_MAX ||
        sodium_base642bin(sig, sizeof(sig), signature_b64, strlen(signature_b64), NULL, &siglen,
                          NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
        return -EBADMSG;
    /* DigestVerify parses the DER itself and refuses a malformed one. */
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1 &&
             EVP_DigestVerify(ctx, sig, siglen, body, len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -EBADMSG;
}
