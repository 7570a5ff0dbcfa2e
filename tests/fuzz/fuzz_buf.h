/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_FUZZ_BUF_H
#define MG_FUZZ_BUF_H

/*
 * Guarded packet buffers for the harnesses that hand mbufs to a library
 * (esp, wg): each packet sits in an mbuf external buffer that ends a chosen
 * number of bytes after the packet, where an inaccessible page begins, so
 * reading or writing past the room the library was given faults at once
 * (DPDK memory is not sanitizer-checked). The packet starts 2-byte aligned,
 * as in any mbuf.
 */

#include <stdint.h>

#include <rte_mbuf.h>

#define FZ_BUF_SLOTS 16     /**< Packets alive at once. */
#define FZ_BUF_MAX 2048     /**< Largest packet plus tailroom. */

/** Set up the buffers and an mbuf pool for their headers (once per process). */
void fz_buf_init(void);

/**
 * A packet: a copy of @p len bytes with @p tail bytes of tailroom after it
 * (len + tail at most FZ_BUF_MAX) and RTE_PKTMBUF_HEADROOM before it.
 * Set-up failure (exit 2) when all buffers are in use.
 */
struct rte_mbuf *fz_buf_pkt(const uint8_t *p, uint32_t len, uint32_t tail);

/** The pool of the mbuf headers, for ordinary mbufs too (4095 of them). */
struct rte_mempool *fz_buf_pool(void);

/** Guarded buffers still held by an mbuf. */
unsigned int fz_buf_in_use(void);

#endif /* MG_FUZZ_BUF_H */
