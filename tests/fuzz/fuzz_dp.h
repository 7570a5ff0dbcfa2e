/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_FUZZ_DP_H
#define MG_FUZZ_DP_H

/*
 * A whole meshgate data plane in one thread, for the packet harnesses: the
 * real graph of one worker (eth-input ... port-tx, drop), forwarding control
 * with its ARP/ND handling, and two ring ports whose TX side the harness
 * reads back. Frames enter eth-input as port-rx hands them over; punted
 * packets go to mg_fwd_punt as the main lcore does; injected ones come back
 * through the graph; what leaves is checked and freed.
 *
 * Each received frame lives in its own buffer that ends where an
 * inaccessible page begins (an mbuf external buffer), so reading past the
 * frame faults at once, even though DPDK memory is not sanitizer-checked
 * (an odd-length frame has one spare byte, so that it starts 2-byte aligned).
 *
 * Topology (ethdev port = ring port):
 *   p0      port 0        network default  02:00:00:00:00:01  10.0.0.1/24 fd00::1/64  MTU 1500
 *   p1      port 1        network default  02:00:00:00:00:02  10.1.0.1/24 fd01::1/64  MTU 1280
 *   p0.100  port 0 VLAN 100  network strict (drops fragments and options)
 *           192.168.100.1/24  MTU 576
 *   static neighbors 10.1.0.2 and fd01::2 on p1 (02:00:00:00:01:02)
 *   routes (default): 198.51.100.0/24 via 10.1.0.2; 2001:db8:1::/48 via fd01::2;
 *     10.9.0.0/16 via 10.0.0.9 (unresolved); 100.64.0.0/24 on-link p1;
 *     192.0.2.0/26 drop, 192.0.2.64/26 unreachable, 192.0.2.128/26 prohibit;
 *     2001:db8:dead::/48 drop, 2001:db8:2::/48 unreachable
 *   routes (strict): 172.16.0.0/12 via 192.168.100.2 (unresolved)
 */

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#define FZ_MAX_FRAME 2048   /**< Largest frame a harness hands in (the mbuf data room). */
#define FZ_NB_PORTS 2

/** Bring the data plane up (once per process). */
void fz_dp_init(const char *name);

/**
 * A received frame: a copy of @p len bytes (at most FZ_MAX_FRAME) in a
 * guarded buffer, on ethdev port @p port with RX offload flags @p ol_flags.
 * NULL when all guarded buffers are in use (the harness then stops feeding).
 */
struct rte_mbuf *fz_frame(const uint8_t *p, uint32_t len, uint16_t port, uint64_t ol_flags);

/**
 * Hand @p n frames to eth-input and run everything they cause until the
 * data plane is quiet again: graph walks, punts handled by forwarding
 * control, injected replies and released packets, egress checked and freed.
 */
void fz_dp_rx(struct rte_mbuf **pkts, uint16_t n);

/** Run forwarding control's neighbor timers @p ms milliseconds from now, then settle. */
void fz_dp_advance(uint64_t ms);

/**
 * End of an input: age out every dynamic neighbor (dropping what they
 * hold), settle, and check that every mbuf and guarded buffer came back.
 */
void fz_dp_reset(void);

struct mg_fwd;
/** Forwarding control of the fixture (for harnesses that change routes and neighbors). */
struct mg_fwd *fz_dp_fwd(void);

/** Frames that left through each port during the current input. */
extern uint32_t fz_dp_tx_frames[FZ_NB_PORTS];

/** Fix the ICMPv6 (or other upper-layer) checksum of an IPv6 packet in place. */
void fz_ip6_fix_l4_cksum(uint8_t *ip6, uint32_t len);

#endif /* MG_FUZZ_DP_H */
