#include "cli/table.h"

#include <stdio.h>
#include <stdlib.h>

/* A tab or newline inside a value would break the row apart. */
static void put_cell(const char *s)
{
    if (!*s)
        s = "-";
    for (; *s; s++)
        putchar(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s);
}

static void put_value(const cJSON *v, const struct table_column *c)
{
    if (cJSON_IsBool(v))
        put_cell(cJSON_IsTrue(v) ? c->if_true : c->if_false);
    else if (!v || cJSON_IsNull(v))
        put_cell(c->if_null ? c->if_null : "");
    else if (cJSON_IsRaw(v)) /* json_add_int's exact integers */
        put_cell(v->valuestring);
    else if (cJSON_IsNumber(v))
        printf("%.0f", v->valuedouble);
    else if (cJSON_IsString(v))
        put_cell(v->valuestring);
    else if (cJSON_IsArray(v)) {
        const cJSON *e;
        if (!cJSON_GetArraySize(v))
            put_cell("");
        cJSON_ArrayForEach(e, v)
        {
            if (e != v->child)
                putchar(',');
            put_cell(cJSON_IsString(e) ? e->valuestring : "");
        }
    }
}

void table_print(cJSON *rows, const struct table_column *columns, bool json)
{
    if (json) {
        char *text = cJSON_Print(rows);
        puts(text ? text : "[]");
        free(text);
        cJSON_Delete(rows);
        return;
    }
    for (const struct table_column *c = columns; c->header; c++)
        printf("%s%s", c == columns ? "" : "\t", c->header);
    putchar('\n');
    const cJSON *row;
    cJSON_ArrayForEach(row, rows)
    {
        for (const struct table_column *c = columns; c->header; c++) {
            if (c != columns)
                putchar('\t');
            put_value(cJSON_GetObjectItemCaseSensitive(row, c->key), c);
        }
        putchar('\n');
    }
    cJSON_Delete(rows);
}
