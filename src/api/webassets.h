/* Files from web/ embedded into the binary at build time (cmake/embed.cmake),
 * and the allow-listed files of Swagger UI (cmake/swagger_ui.cmake, from
 * web/vendor/node_modules/swagger-ui-dist). Immutable; safe from any thread. */
#ifndef TESSERA_WEBASSETS_H
#define TESSERA_WEBASSETS_H

#include <stddef.h>

struct web_asset {
    const char *name; /* file name, e.g. "login.html" */
    const char *data; /* NUL-terminated for convenience; len excludes the NUL */
    size_t len;
};

/* Terminated by an entry with name == NULL. */
extern const struct web_asset web_assets[];
extern const struct web_asset swagger_ui_assets[];

#endif
