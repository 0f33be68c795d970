/* Address ranges in CIDR notation (IPv4 and IPv6), for settings such as
 * trusted_proxies: parsing a comma/space-separated list once, and testing a
 * peer address against it. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) count
 * as the IPv4 address they carry, on both sides, so a dual-stack listener
 * matches "10.0.0.0/8". Pure functions on caller-owned memory; thread-safe,
 * no allocation. */
#ifndef TESSERA_CIDR_H
#define TESSERA_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CIDR_LIST_MAX 64

struct cidr {
    uint8_t addr[16]; /* network address; IPv4 in the first 4 bytes */
    uint8_t bits;     /* prefix length: 0-32 (IPv4) or 0-128 (IPv6) */
    bool v4;
};

struct cidr_list {
    size_t n;
    struct cidr v[CIDR_LIST_MAX];
};

/* Parses "ADDR[/BITS]" entries separated by commas and/or whitespace
 * ("127.0.0.1/32, 10.0.0.0/8 ::1 fd00::/8"); an address without /BITS is one
 * host. An entry with bits set below its prefix ("10.0.0.1/8") is refused as
 * a likely typo, as are more than CIDR_LIST_MAX entries. Empty text gives an
 * empty list. 0, or -EINVAL with a message in err (out is then empty). */
int cidr_list_parse(struct cidr_list *out, const char *text, char *err, size_t errlen);
/* True when addr (textual IPv4 or IPv6, as a socket peer is written) lies in
 * one of the list's ranges. Anything that is not an address matches nothing. */
bool cidr_list_match(const struct cidr_list *list, const char *addr);

#endif
