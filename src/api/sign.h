/* Signed asset URLs in the API (auth/signedurl.h): who may sign and until
 * when, the signed href of one asset, and the routes POST/GET
 * /api/v1/catalog/sign. Called on the thread running a handler. */
#ifndef TESSERA_API_SIGN_H
#define TESSERA_API_SIGN_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth/auth.h"
#include "auth/token.h"

struct request;
struct server;

/* The signer of a request's URLs: the caller's stored token (a tk signs for
 * its parent, never past its own expiry), and the expiry (unix seconds). */
struct url_signer {
    const uint8_t *token_key;
    char token_id[TOKEN_ID_LEN + 1];
    int64_t expires;
};

/* Sets s up for p, signing for expires_in seconds (1..SIGNEDURL_MAX_S) or
 * less (the token's own expiry). False after a reply: 401 anonymous, 403 a
 * session (URLs die with a token, so one must sign) or no catalog:read. */
bool url_signer_for(struct request *r, const struct principal *p, int64_t expires_in,
                    struct url_signer *s);
/* The signed query string (no '?') for one asset key: malloc'd, or NULL
 * when out of memory. */
char *url_signer_query(const struct url_signer *s, const char *key);

#define STAC_AUTH_EXTENSION "https://stac-extensions.github.io/authentication/v1.1.0/schema.json"

/* Adds the STAC Authentication extension's auth:schemes to a landing page
 * or collection document: "bearer" (a token in Authorization) and
 * "signed_url" (GET base/api/v1/catalog/sign?href=), and the extension to
 * its stac_extensions. Asset hrefs refer to both (auth:refs). */
void sign_add_auth_schemes(cJSON *doc, const char *base);

/* Registers POST and GET /api/v1/catalog/sign. */
void api_sign_register(struct server *srv);

#endif
