/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_NATGW_FRAG_H
#define MG_NATGW_FRAG_H

/**
 * @file
 * NAT of fragments after the first (RFC 4787 REQ-14 asks a NAT to handle
 * fragments in any order; this one handles them in order and drops the
 * others). Only the first fragment carries the ports, so it alone can find
 * its flow: when it is translated, the datagram's identity as it arrived
 * (network, family, protocol, source, destination, IP identification) and
 * the addresses it left with are recorded here. A later fragment with that
 * identity gets the same addresses (and, IPv4, its header checksum
 * patched); its L4 checksum is in the first fragment, already patched.
 *
 * A later fragment that comes before its first (reordered), or whose entry
 * was evicted or expired, is dropped and counted (frag_unknown): the
 * table holds no packets. Production NATs either do this (a stateless
 * "virtual reassembly" with a small table, as here) or buffer a bounded
 * number of fragments; dropping keeps the workers free of buffers, and the
 * sender's retransmission or PMTU discovery recovers.
 *
 * Workers: the first fragment is translated by its flow's owner worker, but
 * RSS hashes fragments on addresses, so the later ones may be elsewhere,
 * and they carry no port to find the owner by. The table is therefore
 * shared by the workers, and a worker that hands a first fragment to its
 * owner records that (a pending entry): the later fragments it receives
 * follow through the same ring, so they reach the owner after the first
 * has been translated there. A first fragment handed over by the service
 * node (a nat service's first packet, whose owner continues at its
 * lookup) leaves a pending entry of the other kind: the nat node lets the
 * later ones go on to the service node, which hands them over behind it
 * through the same ring. The table is a bounded, 4-way
 * set-associative array whose entries are written under a per-entry try
 * lock (a writer that finds the entry busy skips it: no waiting) and read
 * with a sequence check (a torn read is read again, a bounded number of
 * times). Entries expire after
 * MG_NATGW_FRAG_TTL_MS; the oldest of a full set is replaced.
 */

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_branch_prediction.h>
#include <rte_pause.h>

#include "mg_proto.h"

#define MG_NATGW_FRAG_SETS 1024   /**< Sets of the table (a power of two). */
#define MG_NATGW_FRAG_WAYS 4      /**< Entries per set. */
#define MG_NATGW_FRAG_READ_TRIES 1000 /**< Reads of an entry being written before a miss. */
#define MG_NATGW_FRAG_TTL_MS 2000 /**< How long an entry serves later fragments. */

/**
 * Called by mg_natgw_frag_get where another worker's write can come between
 * its steps: @p point 0 before it reads entry @p e's sequence, 1 between
 * copying the entry and reading the sequence again. Nothing in the product;
 * the unit tests define it before including this header, to write the entry
 * there as a concurrent worker would, and so make each interleaving happen.
 */
#ifndef MG_NATGW_FRAG_READ_HOOK
#define MG_NATGW_FRAG_READ_HOOK(e, point) do { } while (0)
#endif

/** State of an entry (mg_natgw_frag.pending). */
enum mg_natgw_frag_state {
	/** Translated: the later fragments take nsrc, ndst and tnet. */
	MG_NATGW_FRAG_DONE = 0,
	/** The first went to worker @c owner's nat node: the nat node hands the later ones. */
	MG_NATGW_FRAG_TO_NAT = 1,
	/** The first went to worker @c owner's lookup from the service node: the
	 * later ones go on to the service node, which hands them over. */
	MG_NATGW_FRAG_TO_SVC = 2,
};

/** One datagram being fragmented through NAT. */
struct mg_natgw_frag {
	uint32_t seq;        /**< Even: stable; odd: being written. */
	uint32_t id;         /**< IP identification (IPv4: 16 bits). */
	uint16_t net;        /**< Network the fragments arrive in. */
	uint16_t tnet;       /**< Network they leave in. */
	uint8_t family;      /**< AF_INET or AF_INET6 (0: unused). */
	uint8_t proto;       /**< Upper-layer protocol. */
	uint8_t pending;     /**< enum mg_natgw_frag_state: non-zero, the first went to @c owner. */
	uint8_t owner;       /**< With @c pending: where the later fragments follow it. */
	uint64_t expires;    /**< TSC. */
	uint8_t src[16], dst[16];   /**< As they arrive. */
	uint8_t nsrc[16], ndst[16]; /**< As they leave. */
};

/** The shared table. */
struct mg_natgw_frags {
	uint64_t ttl;        /**< Entry lifetime in TSC ticks. */
	struct mg_natgw_frag e[MG_NATGW_FRAG_SETS][MG_NATGW_FRAG_WAYS];
};

static inline uint32_t
mg_natgw_frag_set(uint16_t net, uint8_t family, uint8_t proto, uint32_t id, const uint8_t *src,
		  const uint8_t *dst)
{
	uint32_t h = (id * 0x9e3779b9u) ^ ((uint32_t)net << 16) ^ ((uint32_t)proto << 8) ^ family;
	const unsigned int alen = family == AF_INET ? 4 : 16;

	for (unsigned int i = 0; i < alen; i += 4) {
		uint32_t a, b;

		memcpy(&a, src + i, 4);
		memcpy(&b, dst + i, 4);
		h = (h ^ a) * 0x85ebca6bu;
		h = (h ^ b) * 0xc2b2ae35u;
		h ^= h >> 16;
	}
	return h & (MG_NATGW_FRAG_SETS - 1);
}

static inline bool
frag_key_eq(const struct mg_natgw_frag *e, uint16_t net, uint8_t family, uint8_t proto,
	    uint32_t id, const uint8_t *src, const uint8_t *dst)
{
	const unsigned int alen = family == AF_INET ? 4 : 16;

	return e->family == family && e->id == id && e->net == net && e->proto == proto &&
	       memcmp(e->src, src, alen) == 0 && memcmp(e->dst, dst, alen) == 0;
}

/**
 * Record datagram (@p net, @p family, @p proto, @p id, @p src, @p dst)
 * in state @p state (any worker): MG_NATGW_FRAG_DONE, leaving as @p nsrc
 * -> @p ndst in network @p tnet; otherwise its first fragment was handed
 * to worker @p owner (the later ones follow it, in order behind it).
 * @return false if its entry was busy (not recorded).
 */
static inline bool
mg_natgw_frag_put_state(struct mg_natgw_frags *t, uint16_t net, uint8_t family, uint8_t proto,
			uint32_t id, const uint8_t *src, const uint8_t *dst, const uint8_t *nsrc,
			const uint8_t *ndst, uint16_t tnet, enum mg_natgw_frag_state state,
			unsigned int owner, uint64_t now)
{
	struct mg_natgw_frag *set = t->e[mg_natgw_frag_set(net, family, proto, id, src, dst)];
	struct mg_natgw_frag *v = &set[0];
	const unsigned int alen = family == AF_INET ? 4 : 16;
	uint32_t s;

	for (unsigned int w = 0; w < MG_NATGW_FRAG_WAYS; w++) {
		struct mg_natgw_frag *e = &set[w];

		if (frag_key_eq(e, net, family, proto, id, src, dst)) {
			v = e;
			break;
		}
		if (e->expires < v->expires)
			v = e; /* the oldest (or unused: 0) */
	}
	s = __atomic_load_n(&v->seq, __ATOMIC_RELAXED);
	if ((s & 1) || !__atomic_compare_exchange_n(&v->seq, &s, s + 1, false, __ATOMIC_ACQUIRE,
						    __ATOMIC_RELAXED))
		return false;
	v->family = family;
	v->proto = proto;
	v->id = id;
	v->net = net;
	v->tnet = tnet;
	v->pending = (uint8_t)state;
	v->owner = (uint8_t)(state != MG_NATGW_FRAG_DONE ? owner : 0);
	memcpy(v->src, src, alen);
	memcpy(v->dst, dst, alen);
	memcpy(v->nsrc, nsrc, alen);
	memcpy(v->ndst, ndst, alen);
	v->expires = now + t->ttl;
	__atomic_store_n(&v->seq, s + 2, __ATOMIC_RELEASE);
	return true;
}

/**
 * Record datagram (@p net, @p family, @p proto, @p id, @p src, @p dst)
 * leaving as @p nsrc -> @p ndst in network @p tnet (any worker); or, with
 * @p owner >= 0, that its first fragment was handed to worker @p owner's
 * nat node (the later ones follow it there, in order behind it).
 * @return false if its entry was busy (not recorded).
 */
static inline bool
mg_natgw_frag_put(struct mg_natgw_frags *t, uint16_t net, uint8_t family, uint8_t proto,
		  uint32_t id, const uint8_t *src, const uint8_t *dst, const uint8_t *nsrc,
		  const uint8_t *ndst, uint16_t tnet, int owner, uint64_t now)
{
	return mg_natgw_frag_put_state(t, net, family, proto, id, src, dst, nsrc, ndst, tnet,
				       owner >= 0 ? MG_NATGW_FRAG_TO_NAT : MG_NATGW_FRAG_DONE,
				       owner >= 0 ? (unsigned int)owner : 0, now);
}

/**
 * Find the datagram of a later fragment (any worker); its entry is copied
 * into @p out. @return true if found and not expired.
 */
static inline bool
mg_natgw_frag_get(const struct mg_natgw_frags *t, uint16_t net, uint8_t family, uint8_t proto,
		  uint32_t id, const uint8_t *src, const uint8_t *dst, uint64_t now,
		  struct mg_natgw_frag *out)
{
	const struct mg_natgw_frag *set = t->e[mg_natgw_frag_set(net, family, proto, id, src, dst)];

	for (unsigned int w = 0; w < MG_NATGW_FRAG_WAYS; w++) {
		const struct mg_natgw_frag *e = &set[w];

		/*
		 * An entry being written is read again: a writer holds it for a
		 * few stores, and a miss here would let a later fragment of a
		 * translated datagram leave untranslated (its first's owner
		 * replacing the pending entry while this worker reads it). Bounded,
		 * since a writer is a worker that never waits.
		 */
		for (unsigned int tries = 0; tries < MG_NATGW_FRAG_READ_TRIES; tries++) {
			uint32_t s;

			MG_NATGW_FRAG_READ_HOOK(e, 0);
			s = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
			if (s & 1) {
				rte_pause();
				continue;
			}
			memcpy(out, e, sizeof(*out));
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			MG_NATGW_FRAG_READ_HOOK(e, 1);
			if (__atomic_load_n(&e->seq, __ATOMIC_RELAXED) != s)
				continue;
			if (out->expires > now && frag_key_eq(out, net, family, proto, id, src, dst))
				return true;
			break;
		}
	}
	return false;
}

/**
 * The IP identification of fragment @p l3 (@p len bytes of family
 * @p family): IPv4's 16 bits (host order), IPv6's fragment header field
 * (as it is in memory), the datagram identity mg_natgw_frag_put keys on.
 * @return 0, or -1 if an IPv6 packet has no readable fragment header.
 */
static inline int
mg_natgw_frag_id(const uint8_t *l3, uint32_t len, uint8_t family, uint32_t *id)
{
	uint32_t off = MG_IP6_HLEN;
	uint8_t nh;

	if (family == AF_INET) {
		*id = (uint32_t)l3[4] << 8 | l3[5];
		return 0;
	}
	if (len < MG_IP6_HLEN)
		return -1;
	nh = l3[6];
	for (unsigned int i = 0; i < MG_IP6_MAX_EXT_HDRS; i++) {
		if (nh == MG_IPPROTO_FRAGMENT) {
			if (off + 8 > len)
				return -1;
			memcpy(id, l3 + off + 4, 4);
			return 0;
		}
		if (nh != MG_IPPROTO_HOPOPTS && nh != MG_IPPROTO_ROUTING && nh != MG_IPPROTO_DSTOPTS)
			return -1;
		if (off + 2 > len)
			return -1;
		nh = l3[off];
		off += ((uint32_t)l3[off + 1] + 1) * 8;
	}
	return -1;
}

#endif /* MG_NATGW_FRAG_H */
