/* Hexadecimal digits: the one rule for every decoder (percent-escapes,
 * PostgreSQL bytea, JSON \u escapes). Pure; any thread. */
#ifndef TESSERA_HEX_H
#define TESSERA_HEX_H

/* The value of a hex digit in either case, or -1. */
static inline int hex_digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20); /* upper case to lower; no other byte lands on a-f */
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

#endif
