/* CORS (Fetch standard) for the routes browsers call across origins: the
 * STAC API, the asset endpoint, the token check GET /tokens/v2 and the
 * OpenAPI document. A preflight (OPTIONS on a path of theirs that has
 * routes, routes added later included) gets 204 with the allowed methods
 * and headers; every reply on them, error replies included, gets
 * Access-Control-Allow-Origin and -Expose-Headers when the Origin is allowed,
 * through the server's reply hook. Setting cors_origins: "*" (the default; no
 * Vary needed), a list of origins (the matching one is echoed, with Vary:
 * Origin), or "" (off). Access-Control-Allow-Credentials is never sent:
 * credentials travel in Authorization, which needs no credentials mode, and
 * Tessera sets no cookies. The hooks run on the thread replying; the list is
 * read-only configuration. */
#ifndef TESSERA_CORS_H
#define TESSERA_CORS_H

#include <stdbool.h>
#include <stddef.h>

struct request;
struct server;

/* Checks a cors_origins value: "", "*", or origins "scheme://host[:port]"
 * (http or https, a host url_host_ok accepts, no path, no trailing slash)
 * separated by commas and/or spaces. 0, or -EINVAL with a message in err. */
int cors_origins_check(const char *text, char *err, size_t errlen);
/* True when a checked cors_origins value is "*" alone: every origin, nothing
 * to match, no Vary. */
bool cors_origins_any(const char *text);
/* The configured entry matching origin (case-insensitively), pointing into
 * list and not NUL-terminated (*len bytes); NULL when none does. "*" matches
 * every origin. Pure; any thread. */
const char *cors_origin_match(const char *list, const char *origin, size_t *len);
/* True for the paths CORS applies to. */
bool cors_path(const char *path);

/* Hooks the preflight OPTIONS handler and the reply hook into srv. */
void cors_register(struct server *srv);

#endif
