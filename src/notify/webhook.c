#include "notify/webhook.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/crypto.h"
#include "notify/curl.h"
#include "util/log.h"

int webhook_sign(const char *secret, int64_t t, const char *body, char out[WEBHOOK_SIGNATURE_LEN])
{
    char stamp[24];
    int stamp_len = snprintf(stamp, sizeof(stamp), "%" PRId64 ".", t);
    size_t body_len = strlen(body);
    char *signed_text = malloc((size_t)stamp_len + body_len);
    if (!signed_text)
        return -ENOMEM;
    memcpy(signed_text, stamp, (size_t)stamp_len);
    memcpy(signed_text + stamp_len, body, body_len);
    uint8_t mac[CRYPTO_MAC_LEN];
    char hex[2 * CRYPTO_MAC_LEN + 1];
    int rc = crypto_hmac_sha256((const uint8_t *)secret, strlen(secret), signed_text,
                                (size_t)stamp_len + body_len, mac);
    free(signed_text);
    if (rc < 0)
        return rc;
    crypto_hex(mac, sizeof(mac), hex);
    snprintf(out, WEBHOOK_SIGNATURE_LEN, "t=%" PRId64 ",v1=%s", t, hex);
    return 0;
}

/* The receiver's answer is not needed: read and drop it. */
static size_t discard(char *data, size_t size, size_t n, void *ctx)
{
    (void)data, (void)ctx;
    return size * n;
}

/* Aborts the transfer once the caller asks to stop (shutdown). */
static int check_cancel(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                        curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    const atomic_bool *cancel = ctx;
    return cancel && atomic_load(cancel);
}

/* Appends a header line; on ENOMEM frees the list and returns false. */
static bool add_header(struct curl_slist **list, const char *line)
{
    struct curl_slist *next = curl_slist_append(*list, line);
    if (!next) {
        curl_slist_free_all(*list);
        *list = NULL;
        return false;
    }
    *list = next;
    return true;
}

int webhook_post(const char *url, const char *secret, const char *event, const char *delivery_id,
                 const char *body, const atomic_bool *cancel, char *err, size_t errlen)
{
    char signature[WEBHOOK_SIGNATURE_LEN], sig_line[128], event_line[96], id_line[96];
    if (webhook_sign(secret, (int64_t)time(NULL), body, signature) < 0) {
        snprintf(err, errlen, "cannot sign the body");
        return -1;
    }
    snprintf(sig_line, sizeof(sig_line), "X-Tessera-Signature: %s", signature);
    snprintf(event_line, sizeof(event_line), "X-Tessera-Event: %s", event);
    snprintf(id_line, sizeof(id_line), "X-Tessera-Delivery: %s", delivery_id);
    struct curl_slist *headers = NULL;
    if (notify_curl_ready() < 0) {
        snprintf(err, errlen, "libcurl is not available");
        return -1;
    }
    CURL *curl = curl_easy_init();
    if (!curl || !add_header(&headers, "Content-Type: application/json") ||
        !add_header(&headers, sig_line) || !add_header(&headers, event_line) ||
        !add_header(&headers, id_line) ||
        !add_header(&headers, "User-Agent: tessera/" TESSERA_VERSION) ||
        !add_header(&headers, "Expect:")) { /* no 100-continue round trip */
        curl_easy_cleanup(curl);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)WEBHOOK_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, check_cancel);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, (void *)cancel);
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s", curl_easy_strerror(rc));
        return -1;
    }
    if (status < 200 || status > 299) {
        snprintf(err, errlen, "the receiver answered %ld", status);
        return -1;
    }
    return 0;
}
