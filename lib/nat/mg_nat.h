/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_NAT_H
#define MG_NAT_H

/**
 * @file
 * NAT translation primitives: rewrite the source and/or destination address
 * and port of an IPv4 or IPv6 packet in place and fix every checksum that
 * covers them, translate ICMP/ICMPv6 errors (the outer header and the
 * embedded packet), prefix-translate IPv6 (NPTv6, RFC 6296), and hand out
 * SNAT ports from per-worker blocks.
 *
 * Checksums are patched incrementally (RFC 1624, eqn. 3) for the IPv4
 * header, TCP, UDP, ICMP and ICMPv6; SCTP's CRC32c does not cover the
 * addresses, so only a port change recomputes it over the whole packet.
 *
 * - UDP over IPv4 with checksum 0 (none) keeps 0; an updated checksum that
 *   comes out 0 is sent as 0xffff (RFC 768).
 * - UDP over IPv6 must carry a checksum (RFC 8200 8.1): a packet arriving
 *   with 0 gets one computed over the whole datagram; a fragment arriving
 *   with 0 cannot (the rest of the datagram is elsewhere: -ENOTSUP).
 * - ICMP and ICMPv6 echo request/reply: the identifier is the "port". A
 *   rewrite's source port is used when set, else its destination port.
 * - Other protocols (ESP, GRE, ...): only the addresses change.
 * - Fragments: the first fragment is patched like a whole packet (an
 *   incremental update does not need the rest of the payload), except an
 *   SCTP port change, whose CRC needs the whole packet, and IPv6 UDP
 *   without a checksum, which needs one computed over the whole datagram
 *   (both -ENOTSUP: meshgate does not reassemble); later fragments (no L4
 *   header, l4off = MG_NAT_NO_L4) get their addresses only.
 *
 * Every function validates lengths before it writes anything: a refused
 * packet is left as it was. All functions are thread-safe on distinct
 * packets and never allocate, except the port allocator's create/free.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_byteorder.h>
#include <rte_common.h>

#include "mg_proto.h"

/** l4off value of a packet without an L4 header (a non-first fragment). */
#define MG_NAT_NO_L4 UINT32_MAX

/** What a rewrite changes (mg_nat_rw.flags). */
enum mg_nat_rw_flags {
	MG_NAT_SRC = 1 << 0,   /**< Set the source address. */
	MG_NAT_DST = 1 << 1,   /**< Set the destination address. */
	MG_NAT_SPORT = 1 << 2, /**< Set the source port (or ICMP identifier). */
	MG_NAT_DPORT = 1 << 3, /**< Set the destination port (or ICMP identifier). */
};

/**
 * A rewrite: the new values of the fields named in @c flags. Addresses are
 * in network order; an IPv4 address occupies the first 4 bytes.
 */
struct mg_nat_rw {
	/** Which fields to set: MG_NAT_SRC | MG_NAT_DST | MG_NAT_SPORT | MG_NAT_DPORT. */
	uint8_t flags;
	/** Explicit padding, keep zero. */
	uint8_t pad[3];
	/** New source port (network order). */
	rte_be16_t sport;
	/** New destination port (network order). */
	rte_be16_t dport;
	/** New source address. */
	uint8_t src[16];
	/** New destination address. */
	uint8_t dst[16];
};

/** A packet as the rewrite functions see it: L3 header onwards in one buffer. */
struct mg_nat_pkt {
	/** The IPv4 or IPv6 header. */
	uint8_t *l3;
	/** Bytes readable and writable from @c l3 (at least the IP total length). */
	uint32_t len;
	/** Offset of the upper-layer header from @c l3, or MG_NAT_NO_L4. */
	uint32_t l4off;
	/** AF_INET or AF_INET6. */
	uint8_t family;
	/** Upper-layer protocol (after IPv6 extension headers). */
	uint8_t proto;
	/** Non-zero when the packet is a fragment (first or later). */
	uint8_t frag;
	/** Explicit padding. */
	uint8_t pad;
};

/* ---- checksum arithmetic (RFC 1071, RFC 1624) ----------------------------------------- */

/** Load a 16-bit word from possibly unaligned memory, in memory order. */
static inline uint16_t
mg_nat_ld16(const void *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

/** Store a 16-bit word to possibly unaligned memory, in memory order. */
static inline void
mg_nat_st16(void *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

/**
 * Add the change of @p len bytes (even) from @p old to @p new to a running
 * one's complement delta @p acc (sum of ~old + new words, unfolded).
 */
static inline uint32_t
mg_nat_delta(uint32_t acc, const void *old, const void *new, uint32_t len)
{
	const uint8_t *o = (const uint8_t *)old, *n = (const uint8_t *)new;

	for (uint32_t i = 0; i < len; i += 2)
		acc += (uint16_t)~mg_nat_ld16(o + i) + (uint32_t)mg_nat_ld16(n + i);
	return acc;
}

/** Add the change of one 16-bit word (memory order) to delta @p acc. */
static inline uint32_t
mg_nat_delta16(uint32_t acc, uint16_t old, uint16_t new)
{
	return acc + (uint16_t)~old + (uint32_t)new;
}

/** Fold a 32-bit one's complement sum to 16 bits. */
static inline uint16_t
mg_nat_fold(uint32_t s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/** Apply delta @p acc to checksum field value @p ck: ~(~HC + delta) (RFC 1624 eqn. 3). */
static inline uint16_t
mg_nat_csum_adjust(uint16_t ck, uint32_t acc)
{
	return (uint16_t)~mg_nat_fold((uint32_t)(uint16_t)~ck + mg_nat_fold(acc));
}

/**
 * CRC32c (Castagnoli, as SCTP uses it: RFC 9260 appendix A) of @p len
 * bytes: reflected, initial value and final XOR 0xffffffff. Uses the SSE4.2
 * crc32 instruction when the CPU has it (through DPDK's rte_hash_crc),
 * else a table.
 */
uint32_t mg_nat_crc32c(const void *data, uint32_t len);

/**
 * Recompute the SCTP checksum of the SCTP packet at @p sctp (common header
 * and chunks, @p len bytes) and store it.
 * @return 0, or -EINVAL if @p len is below the 12-byte common header.
 */
int mg_nat_sctp_cksum_set(uint8_t *sctp, uint32_t len);

/* ---- packets --------------------------------------------------------------------------- */

/**
 * Describe the packet at @p l3 (@p len bytes) for the rewrite functions:
 * checks the IP version and header lengths, walks IPv6 extension headers,
 * notes fragments. A caller that has already parsed the packet may fill
 * struct mg_nat_pkt itself.
 * @return 0, or -EINVAL for a truncated or malformed header.
 */
int mg_nat_pkt_init(struct mg_nat_pkt *p, uint8_t *l3, uint32_t len);

/**
 * Rewrite the addresses and ports @p rw names and fix the checksums (see
 * the file comment for each protocol).
 * @return 0; -EINVAL if the packet is too short for a field to change
 *   (nothing written); -ENOTSUP for an SCTP port change in a fragment or
 *   a fragment of IPv6 UDP without a checksum (nothing written).
 */
int mg_nat_rewrite(const struct mg_nat_pkt *p, const struct mg_nat_rw *rw);

/** True if @p p is an ICMP (IPv4) or ICMPv6 error message (a type that embeds a packet). */
bool mg_nat_is_icmp_error(const struct mg_nat_pkt *p);

/**
 * Translate an ICMP/ICMPv6 error: @p outer rewrites the error's own IP
 * addresses (its port fields are ignored), @p inner the embedded packet's
 * addresses and ports (the embedded IPv4 header checksum and, when present
 * in the quoted bytes, the embedded TCP/UDP/ICMP checksum are patched; an
 * embedded SCTP CRC is left alone, as nobody can check it on a quote). The
 * outer ICMP checksum absorbs every change (and, for ICMPv6, the outer
 * pseudo-header's). Either rewrite may be NULL.
 *
 * For a flow translated by rewrite R in one direction, an error travelling
 * the opposite way quotes a packet of that direction: translate it with
 * the reverse rewrite on the outer destination and R's reverse on the
 * embedded source (tests/unit/test_nat.c shows it for a source NAT).
 * @return 0, or -EINVAL if it is not an error or the quote is too short
 *   for the fields to change (nothing written).
 */
int mg_nat_rewrite_icmp_error(const struct mg_nat_pkt *p, const struct mg_nat_rw *outer,
			      const struct mg_nat_rw *inner);

/* ---- NPTv6 (RFC 6296) --------------------------------------------------------------------- */

/** Direction of an NPTv6 translation. */
enum mg_npt6_dir {
	MG_NPT6_OUT = 0, /**< Internal to external: the source (and an error's quoted destination). */
	MG_NPT6_IN = 1,  /**< External to internal: the destination (and the quoted source). */
};

/**
 * A stateless, checksum-neutral IPv6 prefix translation between an
 * internal and an external prefix of the same length (1..64).
 */
struct mg_npt6 {
	/** Internal prefix, host bits clear. */
	uint8_t inner[16];
	/** External prefix, host bits clear. */
	uint8_t outer[16];
	/** Prefix length, 1..64. */
	uint8_t plen;
	/** Explicit padding. */
	uint8_t pad;
	/** One's complement adjustment added to one word on the way out (memory order). */
	uint16_t adj_out;
	/** Adjustment on the way in (the negation of adj_out). */
	uint16_t adj_in;
};

/**
 * Set up @p n between @p inner and @p outer prefixes of length @p plen.
 * @return 0, or -EINVAL for a length outside 1..64 or host bits set.
 */
int mg_npt6_init(struct mg_npt6 *n, const uint8_t inner[16], const uint8_t outer[16],
		 uint8_t plen);

/**
 * Translate address @p a in place. For prefixes up to /48 the adjustment
 * goes to bits 48-63; for longer ones to the first word of the interface
 * identifier that is not 0xffff. A result of 0xffff is written as 0.
 * @return 0; -ENOENT if @p a is not in the source prefix; -ERANGE if it
 *   cannot be translated (its subnet word is 0xffff, or, beyond /48, every
 *   interface identifier word is) — RFC 6296 3.4/3.5: drop the packet.
 */
int mg_npt6_addr(const struct mg_npt6 *n, uint8_t a[16], enum mg_npt6_dir dir);

/**
 * Translate an IPv6 packet: MG_NPT6_OUT rewrites the source, MG_NPT6_IN the
 * destination; in an ICMPv6 error the quoted packet's opposite address is
 * translated too. No checksum changes: the mapping is checksum-neutral.
 * @return 0, or a negative errno from mg_npt6_addr (nothing written).
 */
int mg_npt6_rewrite(const struct mg_npt6 *n, const struct mg_nat_pkt *p, enum mg_npt6_dir dir);

/* ---- SNAT port blocks --------------------------------------------------------------------- */

/**
 * The block of ports [first, last] that worker @p w of @p nb_workers owns:
 * the range is cut into contiguous blocks whose sizes differ by at most
 * one, so no two workers ever hand out the same port.
 * @return 0, or -EINVAL (empty range, more workers than ports, bad index).
 */
int mg_nat_port_block(uint16_t first, uint16_t last, unsigned int nb_workers, unsigned int w,
		      uint16_t *bfirst, uint16_t *blast);

/**
 * The worker whose block holds @p port (for a handoff node: the reply to a
 * source-translated flow must reach the worker that holds its state).
 * @return the worker index, or -1 if @p port is outside [first, last].
 */
int mg_nat_port_owner(uint16_t first, uint16_t last, unsigned int nb_workers, uint16_t port);

/** One worker's port allocator over its block (opaque). */
struct mg_nat_ports;

/**
 * Create the allocator of worker @p w's block of [first, last] (main lcore;
 * memory on @p socket). Free ports are handed out least recently freed
 * first, starting from a random permutation (RFC 6056's advice against
 * predictable ports).
 * @return the allocator, or NULL with rte_errno set (EINVAL, ENOMEM).
 */
struct mg_nat_ports *mg_nat_ports_create(uint16_t first, uint16_t last, unsigned int nb_workers,
					 unsigned int w, int socket);

/** Free an allocator (NULL is a no-op). */
void mg_nat_ports_destroy(struct mg_nat_ports *p);

/**
 * Take a port (owner worker only).
 * @return 0 with *@p port set (host order), or -ENOSPC when none is left.
 */
int mg_nat_ports_alloc(struct mg_nat_ports *p, uint16_t *port);

/**
 * Take port @p port itself if it is free (owner worker only): port
 * preservation, for the gateways that ask for it. O(1).
 * @return 0; -EINVAL outside the block; -EBUSY if allocated.
 */
int mg_nat_ports_take(struct mg_nat_ports *p, uint16_t port);

/**
 * Give back a port (owner worker only).
 * @return 0, or -EINVAL if it is outside the block or not allocated.
 */
int mg_nat_ports_free(struct mg_nat_ports *p, uint16_t port);

/** Ports still free. */
uint32_t mg_nat_ports_available(const struct mg_nat_ports *p);

/** The block [*first, *last] this allocator serves. */
void mg_nat_ports_range(const struct mg_nat_ports *p, uint16_t *first, uint16_t *last);

#endif /* MG_NAT_H */
