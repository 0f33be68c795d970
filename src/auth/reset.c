#include "auth/reset.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "auth/accounts.h"
#include "auth/crypto.h"
#include "notify/mail.h"
#include "store/store.h"
#include "util/log.h"
#include "util/timeutil.h"

#define SECRET_BYTES 32
#define SECRET_CHARS 43 /* base64url of 32 bytes */

/* The stored form: a keyed hash, so the table alone opens nothing. */
static int secret_hash(struct app *app, const char *secret, uint8_t out[CRYPTO_MAC_LEN])
{
    char tagged[16 + SECRET_CHARS + 1];
    int n = snprintf(tagged, sizeof(tagged), "password-reset:%s", secret);
    return crypto_hmac_sha256(app->token_key, sizeof(app->token_key), tagged, (size_t)n, out);
}

static bool can_reset(const struct account *a)
{
    return a->is_active && !accounts_is_service(a);
}

int reset_request(struct app *app, const char *email, const char *base, const struct audit_who *who)
{
    struct account a = {0};
    if (app->store->ops->account_get_by_email(app->store, email, &a) < 0 || !can_reset(&a)) {
        account_free(&a);
        return 0;
    }
    uint8_t raw[SECRET_BYTES], hash[CRYPTO_MAC_LEN];
    char secret[SECRET_CHARS + 1], text[2048];
    crypto_random(raw, sizeof(raw));
    crypto_b64url_encode(raw, sizeof(raw), secret);
    int64_t ttl_min = (app->cfg.password_reset_ttl + 59) / 60;
    int rc = secret_hash(app, secret, hash);
    if (rc == 0)
        rc = app->store->ops->reset_insert(
            app->store, hash, a.id, time_now_ms() + (int64_t)app->cfg.password_reset_ttl * 1000);
    if (rc == 0) {
        snprintf(text, sizeof(text),
                 "Someone asked to reset the password of the Tessera account %s.\n\n"
                 "To choose a new password, open this link within %lld minute%s:\n\n"
                 "%s/account/reset#token=%s\n\n"
                 "The link works once. Setting a new password signs you out everywhere;\n"
                 "your API tokens keep working. If you did not ask for this, ignore this\n"
                 "message: your password stays as it is.\n",
                 a.email, (long long)ttl_min, ttl_min == 1 ? "" : "s", base, secret);
        rc = mail_send(&app->cfg, a.email, "Reset your Tessera password", text);
    }
    if (rc == 0)
        audit_log(app->audit, AUDIT_RESET_REQUEST, a.id, NULL, who, "link sent");
    else
        log_error("password reset for account %lld: the link could not be %s", (long long)a.id,
                  rc == -EIO ? "sent" : "stored");
    crypto_wipe(raw, sizeof(raw));
    crypto_wipe(secret, sizeof(secret));
    crypto_wipe(text, sizeof(text));
    account_free(&a);
    return rc < 0 ? -EIO : 0;
}

int reset_confirm(struct app *app, const char *secret, const char *password,
                  const struct audit_who *who)
{
    uint8_t hash[CRYPTO_MAC_LEN];
    if (strlen(secret) != SECRET_CHARS)
        return -ENOENT;
    int64_t account_id = 0;
    int rc = secret_hash(app, secret, hash);
    if (rc == 0)
        rc = app->store->ops->reset_use(app->store, hash, time_now_ms(), &account_id);
    if (rc < 0)
        return rc == -ENOENT || rc == -EPERM ? rc : -EIO;
    struct account a = {0};
    rc = app->store->ops->account_get_by_id(app->store, account_id, &a);
    if (rc == 0 && !can_reset(&a))
        rc = -EACCES;
    else if (rc == 0)
        rc = accounts_set_password(app, &a, password, who) < 0 ? -EIO : 0;
    else
        rc = -EIO;
    account_free(&a);
    return rc;
}
