/* See cidr.h. Addresses are compared as byte strings under a prefix mask;
 * IPv4-mapped IPv6 is folded to IPv4 before parsing and matching. */
#include "util/cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Parses a textual address into addr (16 bytes); *v4 tells which family.
 * IPv4-mapped IPv6 becomes IPv4, and *mapped says so (its prefix then
 * counts 96 bits fewer). */
static bool parse_addr(const char *s, uint8_t addr[16], bool *v4, bool *mapped)
{
    *mapped = false;
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, s, addr) == 1) {
        *v4 = true;
        return true;
    }
    if (inet_pton(AF_INET6, s, addr) != 1)
        return false;
    *v4 = false;
    if (memcmp(addr, v4_mapped, sizeof(v4_mapped)) == 0) {
        memmove(addr, addr + 12, 4);
        memset(addr + 4, 0, 12);
        *v4 = true;
        *mapped = true;
    }
    return true;
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, whole) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

/* True when addr has no bit set past its first bits (of total). */
static bool host_bits_clear(const uint8_t *addr, unsigned bits, unsigned total)
{
    for (unsigned i = bits; i < total; i++)
        if (addr[i / 8] & (0x80 >> (i % 8)))
            return false;
    return true;
}

static int parse_entry(struct cidr *c, const char *entry, char *err, size_t errlen)
{
    char text[64];
    const char *slash = strchr(entry, '/');
    size_t alen = slash ? (size_t)(slash - entry) : strlen(entry);
    if (alen == 0 || alen >= sizeof(text))
        goto bad;
    memcpy(text, entry, alen);
    text[alen] = '\0';
    bool mapped;
    if (!parse_addr(text, c->addr, &c->v4, &mapped))
        goto bad;
    unsigned total = c->v4 ? 32 : 128, bits = mapped ? 128 : total;
    if (slash) {
        const char *p = slash + 1;
        size_t n = strlen(p);
        if (n == 0 || n > 3 || strspn(p, "0123456789") != n)
            goto bad;
        bits = 0;
        for (; *p; p++)
            bits = bits * 10 + (unsigned)(*p - '0');
        if (bits > (mapped ? 128u : total))
            goto bad;
    }
    if (mapped) {
        if (bits < 96) { /* wider than the mapped range: not an IPv4 range at all */
            snprintf(err, errlen, "\"%.64s\": an IPv4-mapped range needs a prefix of 96-128",
                     entry);
            return -EINVAL;
        }
        bits -= 96;
    }
    if (!host_bits_clear(c->addr, bits, total)) {
        snprintf(err, errlen, "\"%.64s\" has address bits set past its /%u prefix", entry,
                 mapped ? bits + 96 : bits);
        return -EINVAL;
    }
    c->bits = (uint8_t)bits;
    return 0;
bad:
    snprintf(err, errlen, "\"%.64s\" is not an address or CIDR range (e.g. 10.0.0.0/8, ::1)",
             entry);
    return -EINVAL;
}

int cidr_list_parse(struct cidr_list *out, const char *text, char *err, size_t errlen)
{
    out->n = 0;
    const char *p = text ? text : "";
    static const char seps[] = ", \t\r\n";
    for (;;) {
        p += strspn(p, seps);
        if (!*p)
            return 0;
        size_t n = strcspn(p, seps);
        char entry[80];
        if (n >= sizeof(entry)) {
            snprintf(err, errlen, "\"%.32s...\" is not an address or CIDR range", p);
            goto fail;
        }
        if (out->n == CIDR_LIST_MAX) {
            snprintf(err, errlen, "at most %d ranges", CIDR_LIST_MAX);
            goto fail;
        }
        memcpy(entry, p, n);
        entry[n] = '\0';
        if (parse_entry(&out->v[out->n], entry, err, errlen) < 0)
            goto fail;
        out->n++;
        p += n;
    }
fail:
    out->n = 0;
    return -EINVAL;
}

bool cidr_list_match(const struct cidr_list *list, const char *addr)
{
    uint8_t a[16];
    bool v4, mapped;
    if (!list || !list->n || !addr || strlen(addr) >= 64 || !parse_addr(addr, a, &v4, &mapped))
        return false;
    for (size_t i = 0; i < list->n; i++) {
        const struct cidr *c = &list->v[i];
        if (c->v4 == v4 && prefix_equal(a, c->addr, c->bits))
            return true;
    }
    return false;
}
