/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg_addr.h"
#include "mg_common.h"

int
mg_ip_parse(const char *s, struct mg_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (s == NULL || *s == '\0' || strlen(s) >= MG_IP_STRLEN)
		return -EINVAL;
	if (strchr(s, ':') != NULL) {
		if (inet_pton(AF_INET6, s, ip->v6) != 1)
			return -EINVAL;
		ip->family = AF_INET6;
		return 0;
	}
	if (inet_pton(AF_INET, s, &ip->v4) != 1)
		return -EINVAL;
	ip->family = AF_INET;
	return 0;
}

int
mg_prefix_parse(const char *s, struct mg_prefix *p)
{
	char buf[MG_PREFIX_STRLEN + 1];
	const char *slash;
	char *end;
	long len;

	memset(p, 0, sizeof(*p));
	if (s == NULL || strlen(s) > MG_PREFIX_STRLEN)
		return -EINVAL;
	slash = strchr(s, '/');
	if (slash == NULL) {
		if (mg_ip_parse(s, &p->addr) < 0)
			return -EINVAL;
		p->len = mg_ip_maxlen(&p->addr);
		return 0;
	}
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	if (mg_ip_parse(buf, &p->addr) < 0)
		return -EINVAL;
	if (!isdigit((unsigned char)slash[1]))
		return -EINVAL;
	errno = 0;
	len = strtol(slash + 1, &end, 10);
	if (errno != 0 || *end != '\0' || len < 0 || len > mg_ip_maxlen(&p->addr))
		return -EINVAL;
	p->len = (uint8_t)len;
	return 0;
}

int
mg_mac_parse(const char *s, struct mg_mac *mac)
{
	unsigned int b[6];
	char tail;

	if (s == NULL || strlen(s) != 17)
		return -EINVAL;
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		/* sscanf's %x accepts a sign or spaces: insist on hex digits. */
		if (!isxdigit((unsigned char)s[i * 3]) ||
		    !isxdigit((unsigned char)s[i * 3 + 1]) ||
		    (i < 5 && s[i * 3 + 2] != ':'))
			return -EINVAL;
		mac->b[i] = (uint8_t)b[i];
	}
	return 0;
}

const char *
mg_ip_fmt(const struct mg_ip *ip, char *buf, size_t size)
{
	if (ip->family == AF_INET)
		inet_ntop(AF_INET, &ip->v4, buf, (socklen_t)size);
	else if (ip->family == AF_INET6)
		inet_ntop(AF_INET6, ip->v6, buf, (socklen_t)size);
	else
		snprintf(buf, size, "-");
	return buf;
}

const char *
mg_prefix_fmt(const struct mg_prefix *p, char *buf, size_t size)
{
	char ip[MG_IP_STRLEN];

	snprintf(buf, size, "%s/%u", mg_ip_fmt(&p->addr, ip, sizeof(ip)), p->len);
	return buf;
}

const char *
mg_mac_fmt(const struct mg_mac *m, char *buf, size_t size)
{
	snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x", m->b[0], m->b[1],
		 m->b[2], m->b[3], m->b[4], m->b[5]);
	return buf;
}

bool
mg_ip_equal(const struct mg_ip *a, const struct mg_ip *b)
{
	if (a->family != b->family)
		return false;
	if (a->family == AF_INET)
		return a->v4 == b->v4;
	return memcmp(a->v6, b->v6, 16) == 0;
}

bool
mg_prefix_equal(const struct mg_prefix *a, const struct mg_prefix *b)
{
	return a->len == b->len && mg_ip_equal(&a->addr, &b->addr);
}

/* Bytes of an address in network order, for bitwise work on both families. */
static const uint8_t *
ip_bytes(const struct mg_ip *ip)
{
	return ip->family == AF_INET ? (const uint8_t *)&ip->v4 : ip->v6;
}

static bool
bits_equal(const uint8_t *a, const uint8_t *b, unsigned int len)
{
	unsigned int full = len / 8, rem = len % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rem == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rem));
	return (a[full] & mask) == (b[full] & mask);
}

void
mg_prefix_mask(struct mg_prefix *p)
{
	uint8_t *b = p->addr.family == AF_INET ? (uint8_t *)&p->addr.v4 : p->addr.v6;
	unsigned int nbytes = p->addr.family == AF_INET ? 4 : 16;

	for (unsigned int i = 0; i < nbytes; i++) {
		unsigned int bit = i * 8;

		if (bit >= p->len)
			b[i] = 0;
		else if (bit + 8 > p->len)
			b[i] &= (uint8_t)(0xff << (8 - (p->len - bit)));
	}
}

bool
mg_prefix_host_bits_set(const struct mg_prefix *p)
{
	struct mg_prefix m = *p;

	mg_prefix_mask(&m);
	return !mg_ip_equal(&m.addr, &p->addr);
}

bool
mg_prefix_contains(const struct mg_prefix *p, const struct mg_ip *ip)
{
	if (p->addr.family != ip->family)
		return false;
	return bits_equal(ip_bytes(&p->addr), ip_bytes(ip), p->len);
}

bool
mg_prefix_overlap(const struct mg_prefix *a, const struct mg_prefix *b)
{
	if (a->addr.family != b->addr.family)
		return false;
	return bits_equal(ip_bytes(&a->addr), ip_bytes(&b->addr),
			  a->len < b->len ? a->len : b->len);
}

bool
mg_ip_is_unspecified(const struct mg_ip *ip)
{
	static const uint8_t zero[16];

	if (ip->family == AF_INET)
		return ip->v4 == 0;
	return memcmp(ip->v6, zero, 16) == 0;
}

bool
mg_ip_is_multicast(const struct mg_ip *ip)
{
	if (ip->family == AF_INET)
		return (ntohl(ip->v4) >> 28) == 0xe;
	return ip->v6[0] == 0xff;
}

bool
mg_ip_is_loopback(const struct mg_ip *ip)
{
	static const uint8_t lo6[16] = {[15] = 1};

	if (ip->family == AF_INET)
		return (ntohl(ip->v4) >> 24) == 127;
	return memcmp(ip->v6, lo6, 16) == 0;
}

bool
mg_ip_is_link_local(const struct mg_ip *ip)
{
	return ip->family == AF_INET6 && ip->v6[0] == 0xfe &&
	       (ip->v6[1] & 0xc0) == 0x80;
}

bool
mg_ip_is_broadcast(const struct mg_ip *ip)
{
	return ip->family == AF_INET && ip->v4 == 0xffffffffu;
}

bool
mg_mac_is_zero(const struct mg_mac *m)
{
	static const struct mg_mac zero;

	return memcmp(m, &zero, sizeof(zero)) == 0;
}

bool
mg_mac_is_multicast(const struct mg_mac *m)
{
	return (m->b[0] & 1) != 0;
}

void
mg_ip6_link_local_from_mac(const struct mg_mac *mac, struct mg_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	ip->family = AF_INET6;
	ip->v6[0] = 0xfe;
	ip->v6[1] = 0x80;
	ip->v6[8] = mac->b[0] ^ 0x02;
	ip->v6[9] = mac->b[1];
	ip->v6[10] = mac->b[2];
	ip->v6[11] = 0xff;
	ip->v6[12] = 0xfe;
	ip->v6[13] = mac->b[3];
	ip->v6[14] = mac->b[4];
	ip->v6[15] = mac->b[5];
}

struct mg_addr_key
mg_prefix_key(uint16_t scope, const struct mg_prefix *p)
{
	struct mg_addr_key k;

	memset(&k, 0, sizeof(k));
	k.scope = scope;
	k.family = p->addr.family;
	k.len = p->len;
	memcpy(k.addr, p->addr.bytes, 16);
	return k;
}

struct mg_addr_key
mg_ip_key(uint16_t scope, const struct mg_ip *ip)
{
	struct mg_prefix p = {.addr = *ip, .len = mg_ip_maxlen(ip)};

	return mg_prefix_key(scope, &p);
}
