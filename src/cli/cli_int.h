/* Internals shared by the CLI's files (cli.c: parsing, dispatch and the
 * other commands; cli_tokens.c: `tessera token`). Not part of cli.h. */
#ifndef TESSERA_CLI_INT_H
#define TESSERA_CLI_INT_H

#include <stdbool.h>

#include "store/store.h"

struct app;

/* Command-specific options collected while parsing. */
struct cli_opts {
    const char *positional[4];
    int npositional;
    const char *password, *username, *groups, *scopes, *note, *description, *visibility;
    const char *resources;
    const char *active, *staff_value;
    int expires_days;
    long grace_seconds;
    const char *account, *since, *limit;
    bool password_stdin, staff, is_public, help, json, service;
};

/* Opens the app's storage, saying why not on stderr. 0 or -errno. */
int cli_open_app(struct app *app);
/* The account with e-mail email, or -ENOENT (said on stderr). */
int cli_find_account(struct app *app, const char *email, struct account *a);

extern const char cli_usage_token[];
/* `tessera token VERB ...`: the exit status. */
int cli_cmd_token(struct app *app, const char *verb, struct cli_opts *o);

#endif
