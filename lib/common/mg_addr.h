/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_ADDR_H
#define MG_ADDR_H

/**
 * @file
 * IPv4/IPv6 addresses, prefixes and MAC addresses as the control plane holds
 * them, with strict parsers (the text must be exactly an address) and
 * formatters. IPv4 addresses are kept in network byte order.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/** An IPv4 or IPv6 address. */
struct mg_ip {
	uint8_t family; /**< AF_INET or AF_INET6. */
	union {
		uint32_t v4;    /**< Network byte order. */
		uint8_t v6[16];
		uint8_t bytes[16];
	};
};

/** A prefix: address and length. */
struct mg_prefix {
	struct mg_ip addr;
	uint8_t len;
};

/** A MAC address. */
struct mg_mac {
	uint8_t b[6];
};

#define MG_IP_STRLEN 46      /**< INET6_ADDRSTRLEN */
#define MG_PREFIX_STRLEN 50
#define MG_MAC_STRLEN 18

/** Parse an IPv4 or IPv6 address. Returns 0 or -EINVAL. */
int mg_ip_parse(const char *s, struct mg_ip *ip);
/** Parse "ADDR/LEN" (or a bare address, meaning a host prefix). 0 or -EINVAL. */
int mg_prefix_parse(const char *s, struct mg_prefix *p);
/** Parse "aa:bb:cc:dd:ee:ff". 0 or -EINVAL. */
int mg_mac_parse(const char *s, struct mg_mac *mac);

/** Format into @p buf; returns @p buf. */
const char *mg_ip_fmt(const struct mg_ip *ip, char *buf, size_t size);
const char *mg_prefix_fmt(const struct mg_prefix *p, char *buf, size_t size);
const char *mg_mac_fmt(const struct mg_mac *mac, char *buf, size_t size);

/** Maximum prefix length for the family (32 or 128). */
static inline uint8_t
mg_ip_maxlen(const struct mg_ip *ip)
{
	return ip->family == AF_INET ? 32 : 128;
}

bool mg_ip_equal(const struct mg_ip *a, const struct mg_ip *b);
bool mg_prefix_equal(const struct mg_prefix *a, const struct mg_prefix *b);
/** Clear the host bits of @p p. */
void mg_prefix_mask(struct mg_prefix *p);
/** True if @p p has bits set below its length. */
bool mg_prefix_host_bits_set(const struct mg_prefix *p);
/** True if @p ip (same family) lies in @p p. */
bool mg_prefix_contains(const struct mg_prefix *p, const struct mg_ip *ip);
/** True if the two prefixes share any address. */
bool mg_prefix_overlap(const struct mg_prefix *a, const struct mg_prefix *b);

bool mg_ip_is_unspecified(const struct mg_ip *ip);
bool mg_ip_is_multicast(const struct mg_ip *ip);
bool mg_ip_is_loopback(const struct mg_ip *ip);
/** IPv6 fe80::/10. */
bool mg_ip_is_link_local(const struct mg_ip *ip);
/** IPv4 255.255.255.255. */
bool mg_ip_is_broadcast(const struct mg_ip *ip);

bool mg_mac_is_zero(const struct mg_mac *m);
bool mg_mac_is_multicast(const struct mg_mac *m);

/**
 * A fixed-size, padding-free hash key for a prefix or address inside a scope
 * (a network or interface id), for the control plane's maps.
 */
struct mg_addr_key {
	uint16_t scope;
	uint8_t family;
	uint8_t len;        /**< Prefix length; the full length for an address. */
	uint8_t addr[16];
};

/** Key of prefix @p p in @p scope. */
struct mg_addr_key mg_prefix_key(uint16_t scope, const struct mg_prefix *p);
/** Key of address @p ip in @p scope. */
struct mg_addr_key mg_ip_key(uint16_t scope, const struct mg_ip *ip);

/** Build the EUI-64 link-local address fe80::/64 of @p mac (RFC 4291). */
void mg_ip6_link_local_from_mac(const struct mg_mac *mac, struct mg_ip *ip);

#endif /* MG_ADDR_H */
