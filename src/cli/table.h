/* Operator lists, printed one way: a header line and tab-separated rows for
 * people and `cut`, or the same rows as a JSON array with --json. */
#ifndef TESSERA_CLI_TABLE_H
#define TESSERA_CLI_TABLE_H

#include <stdbool.h>

#include <cjson/cJSON.h>

/* One column: the header, the JSON key it shows, and the words for true and
 * false (a boolean column) or for null (e.g. "never"). Empty values print as
 * "-" so every row keeps its columns. */
struct table_column {
    const char *header;
    const char *key;
    const char *if_true, *if_false;
    const char *if_null;
};

#define TABLE_COLUMN(h, k)                                                                         \
    {                                                                                              \
        .header = (h), .key = (k)                                                                  \
    }
#define TABLE_BOOL(h, k, yes, no)                                                                  \
    {                                                                                              \
        .header = (h), .key = (k), .if_true = (yes), .if_false = (no)                              \
    }
#define TABLE_OR_NULL(h, k, null)                                                                  \
    {                                                                                              \
        .header = (h), .key = (k), .if_null = (null)                                               \
    }
#define TABLE_END                                                                                  \
    {                                                                                              \
        .header = NULL                                                                             \
    }

/* Prints `rows` (a JSON array of objects) and frees it. */
void table_print(cJSON *rows, const struct table_column *columns, bool json);

#endif
