/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow keys and selection hashes of packets: the 5-tuple for TCP, UDP and
 * ICMP echo, the TEID for GTP-U, ports and verification tag for SCTP, the
 * SPI for ESP, the address pair for the rest, and the reversed quoted
 * packet for ICMP errors. Never reads past the length it is given.
 */
#include <string.h>
#include <sys/socket.h>

#include <rte_hash_crc.h>

#include "mg_proto.h"
#include "mg_svc.h"

/* Fixed seed: every gateway with the same endpoints picks the same one. */
#define SEL_SEED 0x5eed5e1cu

enum {
	UDP_HLEN = 8,
	GTPU_MIN_HLEN = 8,
	SCTP_MIN_HLEN = 12,
	ESP_MIN_HLEN = 8,
	ICMP_HLEN = 8,
};

/* murmur3's finalizer: CRC32c alone is linear, the table lookup wants every bit mixed. */
static inline uint32_t
fmix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

static inline uint16_t
ld16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static inline uint32_t
ld32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* Addresses of @l3 into @k (reversed when @swap). */
static inline void
key_addrs(struct mg_flow_key *k, const uint8_t *l3, uint8_t family, bool swap)
{
	const uint8_t *s = l3 + (family == AF_INET ? 12 : 8);
	const uint8_t *d = l3 + (family == AF_INET ? 16 : 24);
	uint32_t n = family == AF_INET ? 4 : 16;

	memcpy(swap ? k->dst : k->src, s, n);
	memcpy(swap ? k->src : k->dst, d, n);
}

/* Hash of the address pair and protocol (and ports, when set) of @k. */
static inline uint32_t
key_hash(const struct mg_flow_key *k)
{
	uint32_t h = rte_hash_crc(k->src, 32, SEL_SEED);

	h = rte_hash_crc_4byte((uint32_t)k->sport << 16 | k->dport, h);
	h = rte_hash_crc_4byte((uint32_t)k->proto << 8 | k->family, h);
	return fmix32(h);
}

/* True for the ICMP types whose identifier works as a port. */
static inline bool
is_echo(uint8_t proto, uint8_t type)
{
	if (proto == MG_IPPROTO_ICMP)
		return type == MG_ICMP4_ECHO_REQUEST || type == MG_ICMP4_ECHO_REPLY;
	return type == MG_ICMP6_ECHO_REQUEST || type == MG_ICMP6_ECHO_REPLY;
}

static inline bool
is_error(uint8_t proto, uint8_t type)
{
	if (proto == MG_IPPROTO_ICMP)
		return type == MG_ICMP4_DEST_UNREACH || type == MG_ICMP4_TIME_EXCEEDED ||
		       type == MG_ICMP4_PARAM_PROBLEM;
	return type >= MG_ICMP6_DEST_UNREACH && type <= MG_ICMP6_PARAM_PROBLEM;
}

/*
 * The packet quoted by an ICMP error at @q (@qlen bytes): its 5-tuple
 * reversed into @k. Returns false if the quote is unusable.
 */
static bool
quoted_key(const uint8_t *q, uint32_t qlen, uint8_t family, struct mg_flow_key *k)
{
	uint8_t proto;
	uint32_t off;

	if (family == AF_INET) {
		if (qlen < MG_IP4_MIN_HLEN || (q[0] >> 4) != 4)
			return false;
		off = (q[0] & 0xfu) * 4u;
		if (off < MG_IP4_MIN_HLEN || off > qlen)
			return false;
		proto = q[9];
		if (ld16(q + 6) & MG_IP4_OFF_MASK_BE)
			proto = MG_IPPROTO_NONE; /* a later fragment: no ports */
	} else {
		int frag, first;

		if (qlen < MG_IP6_HLEN || (q[0] >> 4) != 6 ||
		    mg_ip6_walk(q, qlen, &proto, &off, &frag, &first) < 0)
			return false;
		if (frag && !first)
			proto = MG_IPPROTO_NONE;
	}
	key_addrs(k, q, family, true);
	k->proto = proto;
	if ((proto == MG_IPPROTO_TCP || proto == MG_IPPROTO_UDP || proto == MG_IPPROTO_SCTP) &&
	    off + 4 <= qlen) {
		k->sport = ld16(q + off + 2);
		k->dport = ld16(q + off);
	} else if (((proto == MG_IPPROTO_ICMP && family == AF_INET) ||
		    (proto == MG_IPPROTO_ICMPV6 && family == AF_INET6)) &&
		   off + ICMP_HLEN <= qlen && is_echo(proto, q[off])) {
		k->sport = k->dport = ld16(q + off + 4);
	}
	return true;
}

enum mg_svc_key
mg_svc_pkt_key(const uint8_t *l3, uint32_t len, uint8_t family, uint8_t proto, uint32_t l4off,
	       uint8_t frag, uint16_t net, struct mg_flow_key *k, uint32_t *hash)
{
	const uint8_t *l4 = l3 + l4off;
	uint32_t l4len;

	memset(k, 0, sizeof(*k));
	k->net = net;
	k->family = family;
	k->proto = proto;
	if (len < (family == AF_INET ? (uint32_t)MG_IP4_MIN_HLEN : (uint32_t)MG_IP6_HLEN) ||
	    (family != AF_INET && family != AF_INET6)) {
		memset(k, 0, sizeof(*k));
		k->net = net;
		*hash = 0;
		return MG_SVC_KEY_NONE;
	}
	key_addrs(k, l3, family, false);
	if (frag || l4off >= len) {
		*hash = key_hash(k);
		return frag ? MG_SVC_KEY_ADDRS : MG_SVC_KEY_TRUNCATED;
	}
	l4len = len - l4off;
	switch (proto) {
	case MG_IPPROTO_UDP:
		if (l4len < UDP_HLEN)
			break;
		k->sport = ld16(l4);
		k->dport = ld16(l4 + 2);
		/* GTPv1-U with a TEID (version 1, protocol type GTP). */
		if (k->dport == RTE_BE16(MG_SVC_GTPU_PORT) && l4len >= UDP_HLEN + GTPU_MIN_HLEN &&
		    (l4[UDP_HLEN] & 0xf0) == 0x30) {
			k->tag = ld32(l4 + UDP_HLEN + 4);
			*hash = fmix32(rte_hash_crc_4byte(k->tag, SEL_SEED ^ MG_SVC_GTPU_PORT));
			return MG_SVC_KEY_GTPU;
		}
		*hash = key_hash(k);
		return MG_SVC_KEY_5TUPLE;
	case MG_IPPROTO_TCP:
		if (l4len < 4)
			break;
		k->sport = ld16(l4);
		k->dport = ld16(l4 + 2);
		*hash = key_hash(k);
		return MG_SVC_KEY_5TUPLE;
	case MG_IPPROTO_SCTP:
		if (l4len < SCTP_MIN_HLEN)
			break;
		k->sport = ld16(l4);
		k->dport = ld16(l4 + 2);
		/* Ports and verification tag, not the addresses: a multi-homed
		 * association's paths land on the same endpoint. */
		*hash = fmix32(rte_hash_crc_8byte((uint64_t)ld32(l4) << 32 | ld32(l4 + 4),
						  SEL_SEED ^ MG_IPPROTO_SCTP));
		return MG_SVC_KEY_SCTP;
	case MG_IPPROTO_ESP:
		if (l4len < ESP_MIN_HLEN)
			break;
		k->tag = ld32(l4);
		*hash = fmix32(rte_hash_crc_4byte(k->tag, SEL_SEED ^ MG_IPPROTO_ESP));
		return MG_SVC_KEY_ESP;
	case MG_IPPROTO_ICMP:
	case MG_IPPROTO_ICMPV6:
		if ((proto == MG_IPPROTO_ICMP) != (family == AF_INET)) {
			*hash = key_hash(k);
			return MG_SVC_KEY_ADDRS;
		}
		if (l4len < ICMP_HLEN)
			break;
		if (is_echo(proto, l4[0])) {
			k->sport = k->dport = ld16(l4 + 4);
			*hash = key_hash(k);
			return MG_SVC_KEY_5TUPLE;
		}
		if (is_error(proto, l4[0])) {
			struct mg_flow_key q = {.net = net, .family = family};

			if (quoted_key(l4 + ICMP_HLEN, l4len - ICMP_HLEN, family, &q)) {
				*k = q;
				*hash = key_hash(k);
				return MG_SVC_KEY_ICMP_ERROR;
			}
		}
		*hash = key_hash(k);
		return MG_SVC_KEY_ADDRS;
	default:
		*hash = key_hash(k);
		return MG_SVC_KEY_ADDRS;
	}
	/* The L4 header is cut short: the address pair. */
	k->sport = k->dport = 0;
	*hash = key_hash(k);
	return MG_SVC_KEY_TRUNCATED;
}

bool
mg_svc_proto_ported(uint8_t family, uint8_t proto)
{
	return proto == MG_IPPROTO_TCP || proto == MG_IPPROTO_UDP || proto == MG_IPPROTO_SCTP ||
	       (proto == MG_IPPROTO_ICMP && family == AF_INET) ||
	       (proto == MG_IPPROTO_ICMPV6 && family == AF_INET6);
}

uint32_t
mg_svc_hash_pkt(const uint8_t *l3, uint32_t len, uint8_t family, uint8_t proto, uint32_t l4off,
		uint8_t frag, enum mg_svc_key *kind)
{
	struct mg_flow_key k;
	uint32_t h;
	enum mg_svc_key kd = mg_svc_pkt_key(l3, len, family, proto, l4off, frag, 0, &k, &h);

	if (kind != NULL)
		*kind = kd;
	return h;
}
