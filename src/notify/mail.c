#include "notify/mail.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/crypto.h"
#include "config.h"
#include "notify/curl.h"
#include "util/log.h"
#include "util/timeutil.h"

int mail_transport_check(const char *value)
{
    return strcmp(value, "file") == 0 || strncmp(value, "smtp://", 7) == 0 ||
                   strncmp(value, "smtps://", 8) == 0
               ? 0
               : -EINVAL;
}

/* The whole message, headers first; malloc'd. */
static char *compose(const struct config *cfg, const char *to, const char *subject,
                     const char *text, char message_id[64])
{
    char date[64], rnd[17];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    crypto_random_chars(rnd, 16, "abcdefghijklmnopqrstuvwxyz0123456789");
    rnd[16] = '\0';
    const char *at = strrchr(cfg->mail_from, '@');
    snprintf(message_id, 64, "%lld.%s@%.24s", (long long)time_now_ms(), rnd,
             at ? at + 1 : "tessera");
    char *end = message_id + strlen(message_id);
    if (end > message_id && end[-1] == '>') /* "Name <a@b>" */
        end[-1] = '\0';
    char *msg = NULL;
    /* Lines end in CRLF, as SMTP wants; the text's own LFs become CRLF. */
    size_t len = strlen(text), extra = 0;
    for (size_t i = 0; i < len; i++)
        extra += text[i] == '\n';
    char *body = malloc(len + extra + 1), *o = body;
    if (!body)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n')
            *o++ = '\r';
        *o++ = text[i];
    }
    *o = '\0';
    if (asprintf(&msg,
                 "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s>\r\n"
                 "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 "Content-Transfer-Encoding: 8bit\r\n\r\n%s",
                 cfg->mail_from, to, subject, date, message_id, body) < 0)
        msg = NULL;
    free(body);
    return msg;
}

static int send_file(const struct config *cfg, const char *message, const char *message_id)
{
    char dir[PATH_MAX], tmp[PATH_MAX + 80], path[PATH_MAX + 80];
    config_data_path(cfg, "outbox", dir, sizeof(dir));
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        int e = errno;
        log_error("mail: cannot create %s: %s", dir, strerror(e));
        return -e;
    }
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, message_id);
    snprintf(path, sizeof(path), "%s/%s.eml", dir, message_id);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        log_error("mail: cannot write to the outbox %s: %s", dir, strerror(e));
        return -e;
    }
    size_t len = strlen(message), off = 0;
    while (off < len) {
        ssize_t n = write(fd, message + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    int rc = off == len && fsync(fd) == 0 ? 0 : -EIO;
    close(fd);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0) {
        unlink(tmp);
        log_error("mail: cannot write to the outbox %s", dir);
    }
    return rc;
}

struct upload {
    const char *data;
    size_t left;
};

static size_t read_message(char *buf, size_t size, size_t n, void *ctx)
{
    struct upload *u = ctx;
    size_t len = size * n < u->left ? size * n : u->left;
    memcpy(buf, u->data, len);
    u->data += len;
    u->left -= len;
    return len;
}

/* The address inside "Name <a@b>", or the whole value; "" when it does
 * not fit (the server then refuses the envelope, and the send fails). */
static void bare_address(const char *from, char *out, size_t len)
{
    const char *lt = strrchr(from, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    int n = lt && gt ? snprintf(out, len, "<%.*s>", (int)(gt - lt - 1), lt + 1)
                     : snprintf(out, len, "<%s>", from);
    if (n < 0 || (size_t)n >= len)
        out[0] = 0;
}

static int send_smtp(const struct config *cfg, const char *to, const char *message)
{
    if (notify_curl_ready() < 0)
        return -EIO;
    CURL *curl = curl_easy_init();
    char rcpt_addr[320], from_addr[320];
    snprintf(rcpt_addr, sizeof(rcpt_addr), "<%s>", to);
    bare_address(cfg->mail_from, from_addr, sizeof(from_addr));
    struct curl_slist *rcpt = curl ? curl_slist_append(NULL, rcpt_addr) : NULL;
    if (!rcpt) {
        curl_easy_cleanup(curl);
        return -ENOMEM;
    }
    struct upload u = {message, strlen(message)};
    curl_easy_setopt(curl, CURLOPT_URL, cfg->mail_transport);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from_addr);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_message);
    curl_easy_setopt(curl, CURLOPT_READDATA, &u);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) {
        log_error("mail: SMTP delivery failed: %s", curl_easy_strerror(rc));
        return -EIO;
    }
    return 0;
}

int mail_send(const struct config *cfg, const char *to, const char *subject, const char *text)
{
    if (strpbrk(to, "\r\n<>") || strpbrk(subject, "\r\n"))
        return -EINVAL;
    char message_id[64];
    char *message = compose(cfg, to, subject, text, message_id);
    if (!message)
        return -ENOMEM;
    int rc = strcmp(cfg->mail_transport, "file") == 0 ? send_file(cfg, message, message_id)
                                                      : send_smtp(cfg, to, message);
    crypto_wipe(message, strlen(message)); /* it may hold a one-time link */
    free(message);
    return rc;
}
