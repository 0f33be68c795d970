/* Account life cycle. Creation hashes the password (Argon2id, slow by
 * design), so every function here runs on the worker pool or in the CLI,
 * never on an HTTP thread's fast path. */
#include "auth/accounts.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "auth/crypto.h"
#include "auth/password.h"
#include "util/json.h"
#include "util/timeutil.h"

/* A service account's password hash: no password verifies against it. */
#define SERVICE_HASH "!service"
#include "auth/tokens.h"

bool accounts_email_valid(const char *email)
{
    size_t len = strlen(email);
    const char *at = strchr(email, '@');
    if (len == 0 || len > ACCOUNT_EMAIL_MAX || !at || at == email || strchr(at + 1, '@'))
        return false;
    for (const char *p = email; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return false;
    const char *dot = strrchr(at + 1, '.');
    return dot && dot > at + 1 && dot[1] != '\0';
}

bool accounts_username_valid(const char *u)
{
    size_t len = strlen(u);
    if (len == 0 || len > ACCOUNT_USERNAME_MAX || !(islower((unsigned char)u[0]) || isdigit((unsigned char)u[0])))
        return false;
    for (const char *p = u; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' || *p == '-'))
            return false;
    return true;
}

/* A taken derived name gets "-2", "-3", "-4", then a random suffix: counting
 * on would cost one write transaction per account already holding the name,
 * so anyone could make sign-ups for a popular local part ever slower (found
 * by fuzz_json_body). 36^5 random suffixes make a clash after that rare. */
#define USERNAME_COUNTED 4
#define USERNAME_ATTEMPTS 12
_Static_assert(USERNAME_COUNTED < 10, "counted suffixes are one digit");

static void next_username(const char *base, int attempt, char out[ACCOUNT_USERNAME_MAX + 1])
{
    if (attempt <= USERNAME_COUNTED) {
        snprintf(out, ACCOUNT_USERNAME_MAX + 1, "%.26s-%c", base, (char)('0' + attempt));
        return;
    }
    char suffix[6];
    crypto_random_chars(suffix, 5, "abcdefghijklmnopqrstuvwxyz0123456789");
    suffix[5] = '\0';
    snprintf(out, ACCOUNT_USERNAME_MAX + 1, "%.26s-%s", base, suffix);
}

/* "John.Doe+x@example.com" → "john-doe-x": lower-case, other characters
 * become '-', leading separators dropped, at most 26 characters so a "-NNNNN"
 * suffix still fits when the name is taken. */
static void derive_username(const char *email, char out[ACCOUNT_USERNAME_MAX + 1])
{
    size_t n = 0;
    for (const char *p = email; *p && *p != '@' && n < 26; p++) {
        unsigned char c = (unsigned char)tolower((unsigned char)*p);
        if (isalnum(c) && c < 0x80)
            out[n++] = (char)c;
        else if (n > 0 && out[n - 1] != '-')
            out[n++] = '-';
    }
    while (n > 0 && out[n - 1] == '-')
        n--;
    out[n] = '\0';
    if (n == 0)
        strcpy(out, "user");
}

static void copy_field(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* Every account starts with one default public token holding its public
 * scopes, as Mapbox accounts do. Minted for one username attempt: the token
 * string carries the username. */
static int prepare_default_token(struct app *app, const struct account *a,
                                 struct token_record *rec)
{
    struct strlist public_scopes = STRLIST_INIT;
    struct scope_def *defs = NULL;
    size_t n = 0;
    int rc = app->store->ops->scope_list(app->store, &defs, &n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (defs[i].is_public && strlist_contains(&a->scopes, defs[i].id))
            rc = strlist_add(&public_scopes, defs[i].id);
    free(defs);
    if (rc == 0) {
        struct token_spec spec = {.scopes = &public_scopes, .note = "Default public token",
                                  .is_default = true, .usage = TOKEN_PK};
        char *value = NULL;
        rc = tokens_prepare(app, a->username, &spec, rec, &value);
        free(value); /* a pk: the record keeps the listable copy */
    }
    strlist_free(&public_scopes);
    return rc;
}

int accounts_create(struct app *app, const struct account_input *in, struct account *out,
                    const char **field, char *msg, size_t msglen)
{
    memset(out, 0, sizeof(*out));
    *field = NULL;
    if (!in->email || !*in->email) {
        *field = "email";
        snprintf(msg, msglen, "This field is required.");
        return -EINVAL;
    }
    if (!accounts_email_valid(in->email)) {
        *field = "email";
        snprintf(msg, msglen, "Enter a valid email address.");
        return -EINVAL;
    }
    if (!in->service && (!in->password || !*in->password)) {
        *field = "password";
        snprintf(msg, msglen, "This field is required.");
        return -EINVAL;
    }
    const char *weak = in->service ? NULL : password_weakness(in->password);
    if (weak) {
        *field = "password";
        snprintf(msg, msglen, "%s", weak);
        return -EINVAL;
    }
    if (in->username && !accounts_username_valid(in->username)) {
        *field = "username";
        snprintf(msg, msglen, "Usernames are 1-32 characters of a-z, 0-9, '_' and '-', "
                              "starting with a letter or digit.");
        return -EINVAL;
    }
    const char *names[] = {in->first_name, in->last_name, in->organization};
    const char *name_fields[] = {"first_name", "last_name", "organization"};
    for (int i = 0; i < 3; i++) {
        if (names[i] && strlen(names[i]) > ACCOUNT_NAME_MAX) {
            *field = name_fields[i];
            snprintf(msg, msglen, "Ensure this field has no more than %d characters.",
                     ACCOUNT_NAME_MAX);
            return -EINVAL;
        }
    }
    copy_field(out->email, sizeof(out->email), in->email);
    copy_field(out->first_name, sizeof(out->first_name), in->first_name);
    copy_field(out->last_name, sizeof(out->last_name), in->last_name);
    copy_field(out->organization, sizeof(out->organization), in->organization);
    out->is_active = true;
    int rc = -ENOMEM;
    if (strlist_split(&out->groups, app->cfg.default_groups) < 0 ||
        strlist_split(&out->scopes, app->cfg.default_scopes) < 0)
        goto fail;
    if (in->service)
        snprintf(out->password_hash, sizeof(out->password_hash), "%s", SERVICE_HASH);
    else if ((rc = password_hash(in->password, out->password_hash)) < 0)
        goto fail;

    char base[ACCOUNT_USERNAME_MAX + 1];
    if (in->username)
        copy_field(base, sizeof(base), in->username);
    else
        derive_username(in->email, base);
    copy_field(out->username, sizeof(out->username), base);
    for (int attempt = 1;; attempt++) {
        struct token_record first;
        rc = prepare_default_token(app, out, &first);
        if (rc < 0)
            goto fail;
        rc = app->store->ops->account_create(app->store, out, &first);
        token_record_free(&first);
        if (rc != -EADDRINUSE || in->username || attempt == USERNAME_ATTEMPTS)
            break;
        next_username(base, attempt + 1, out->username);
    }
    if (rc == -EEXIST) {
        *field = "email";
        snprintf(msg, msglen, "A user with that email already exists.");
        goto fail;
    }
    if (rc == -EADDRINUSE) {
        *field = "username";
        snprintf(msg, msglen, "A user with that username already exists.");
        goto fail;
    }
    if (rc < 0)
        goto fail;
    return 0;
fail:
    account_free(out);
    return rc;
}

/* Session JWTs carry iat in whole seconds, so a watermark of "now" in
 * milliseconds would also kill sessions started later in the same second: a
 * sign-in right after a password change or a re-activation was dead on
 * arrival. The watermark is therefore the next whole second, and we wait for
 * it to pass (at most 1 s, on the worker pool or in the CLI): every session
 * issued before the change has iat < watermark, every one issued after this
 * function returns has iat >= watermark. */
static int64_t sessions_cutoff(void)
{
    int64_t now = time_now_ms();
    return now - now % 1000 + 1000;
}

static void wait_until(int64_t ms)
{
    for (int64_t now = time_now_ms(); now < ms; now = time_now_ms()) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(ms - now) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int accounts_set_password(struct app *app, struct account *a, const char *password,
                          const struct audit_who *who)
{
    int rc = password_hash(password, a->password_hash);
    if (rc < 0)
        return rc;
    a->sessions_valid_after = sessions_cutoff();
    rc = app->store->ops->account_update(app->store, a);
    if (rc == 0)
        rc = app->store->ops->refresh_revoke_account(app->store, a->id);
    if (rc == 0)
        audit_log_now(app->audit, AUDIT_ACCOUNT_PASSWORD, a->id, NULL, who,
                      "every session ended");
    wait_until(a->sessions_valid_after);
    return rc;
}

int accounts_end_sessions(struct app *app, struct account *a, const struct audit_who *who)
{
    a->sessions_valid_after = sessions_cutoff();
    int rc = app->store->ops->account_update(app->store, a);
    if (rc == 0)
        rc = app->store->ops->refresh_revoke_account(app->store, a->id);
    if (rc == 0)
        audit_log_now(app->audit, AUDIT_SIGNOUT, a->id, NULL, who, "every session ended");
    wait_until(a->sessions_valid_after);
    return rc;
}

int accounts_deactivate(struct app *app, struct account *a, const struct audit_who *who)
{
    a->is_active = false;
    a->sessions_valid_after = sessions_cutoff();
    int rc = app->store->ops->account_update(app->store, a);
    if (rc == 0)
        rc = app->store->ops->refresh_revoke_account(app->store, a->id);
    /* Deactivation ends the tokens, recorded as revocations: an inactive
     * account only hid them, and enabling it again brought them back. */
    size_t ended = 0;
    if (rc == 0)
        rc = tokens_revoke_matching(app, a->id, true, who, &ended);
    if (rc == 0)
        audit_log_now(app->audit, AUDIT_ACCOUNT_DISABLE, a->id, NULL, who,
                      "every session and token ended");
    wait_until(a->sessions_valid_after);
    return rc;
}

int accounts_activate(struct app *app, struct account *a, const struct audit_who *who)
{
    /* A token still live here was only hidden: its account was disabled
     * before deactivation ended tokens, or the CLI minted it meanwhile.
     * Ended stays ended (SPEC §5.3): it ends before the account is usable. */
    size_t ended = 0;
    int rc = tokens_revoke_matching(app, a->id, true, who, &ended);
    a->is_active = true;
    if (rc == 0)
        rc = app->store->ops->account_update(app->store, a);
    /* The account's pages and public clients need a default pk: a new
     * value, never the old one. */
    struct token_record fresh = {0};
    if (rc == 0 && (rc = prepare_default_token(app, a, &fresh)) == 0) {
        fresh.account_id = a->id;
        rc = app->store->ops->token_insert(app->store, &fresh);
        if (rc == 0)
            audit_log_now(app->audit, AUDIT_TOKEN_CREATE, a->id, fresh.id, who,
                          "a new default public token");
        token_record_free(&fresh);
    }
    if (rc == 0)
        audit_log_now(app->audit, AUDIT_ACCOUNT_ENABLE, a->id, NULL, who,
                      "enabled; ended tokens stay ended");
    return rc;
}

bool accounts_is_service(const struct account *a)
{
    return strcmp(a->password_hash, SERVICE_HASH) == 0;
}

void accounts_write_json(struct json_out *o, const void *account)
{
    const struct account *a = account;
    char created[TIME_RFC3339_LEN];
    time_format_rfc3339(a->created, created);
    json_out_raw(o, "{\"id\":");
    json_out_int(o, a->id);
    static const char *const names[] = {",\"username\":", ",\"email\":", ",\"first_name\":",
                                        ",\"last_name\":", ",\"organization\":"};
    const char *const values[] = {a->username, a->email, a->first_name, a->last_name,
                                   a->organization};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        json_out_raw(o, names[i]);
        json_out_string(o, values[i] ? values[i] : "");
    }
    json_out_raw(o, ",\"groups\":");
    json_out_strings(o, &a->groups);
    json_out_raw(o, ",\"scopes\":");
    json_out_strings(o, &a->scopes);
    json_out_raw(o, ",\"is_active\":");
    json_out_bool(o, a->is_active);
    json_out_raw(o, ",\"is_staff\":");
    json_out_bool(o, a->is_staff);
    json_out_raw(o, ",\"service\":");
    json_out_bool(o, accounts_is_service(a));
    json_out_raw(o, ",\"created\":");
    json_out_string(o, created);
    json_out_raw(o, "}");
}
