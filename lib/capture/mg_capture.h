/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_CAPTURE_H
#define MG_CAPTURE_H

/**
 * @file
 * Packet capture at any point of the graph: a port's RX or TX, the entry of
 * any graph node, or the drop node (with each packet's drop reason).
 *
 * A capture has a BPF filter (pcap-filter syntax, compiled by libpcap,
 * converted to eBPF and JIT-compiled by DPDK's librte_bpf), a packet, byte
 * and time limit and a snap length. Workers copy matching packets into a
 * per-worker single-producer ring (a full ring or an empty capture pool drops
 * the copy, never the packet, and counts it); only the main lcore writes the
 * file, in pcapng, which tcpdump, tshark and Wireshark read: one Ethernet
 * interface (packets seen where they have no L2 header, after eth-input, get
 * a stand-in header with zero MACs and say so in their comment), the drop
 * reason as a packet comment, the direction as a packet flag.
 *
 * Threading: everything here runs on the main lcore except
 * mg_capture_node(), which workers call from their graph walk for the
 * nodes in the published set's node mask.
 */

#include <stdbool.h>
#include <stdint.h>

#include <rte_graph.h>

#include "mg_common.h"

struct mg_dp;
struct mg_worker;
struct mg_capture;
struct mg_cap_set;

#define MG_CAPTURE_MAX 8          /**< Captures at once. */
#define MG_CAPTURE_NAME_MAX 64    /**< File names (inside the capture directory). */

/** What a capture asks for. */
struct mg_capture_spec {
	char point[96];         /**< "port:NAME:rx", "port:NAME:tx", "port:NAME", "node:NAME", "drop", "rules" */
	char filter[512];       /**< pcap-filter(7) expression; "" takes everything. */
	uint64_t max_packets;   /**< Stop after this many packets; 0: no limit. */
	uint64_t max_bytes;     /**< Stop after this many captured bytes; 0: no limit. */
	uint32_t max_seconds;   /**< Stop after this long; 0: no limit. */
	uint32_t snaplen;       /**< Bytes kept of each packet; 0: 65535. */
	uint32_t buffer;        /**< Copies each worker may queue (16..65536); 0: 1024. */
	char file[MG_CAPTURE_NAME_MAX]; /**< File name in the capture directory; "": capture-ID.pcapng */
};

/** A capture's state and counters. */
struct mg_capture_info {
	uint32_t id;
	struct mg_capture_spec spec;
	bool running;
	char stop_reason[96];   /**< Why it stopped: "packet limit", "stopped", ... */
	uint64_t packets;       /**< Packets written. */
	uint64_t bytes;         /**< Bytes of packet data written. */
	uint64_t dropped;       /**< Copies lost: ring full or capture pool empty (never traffic). */
	uint64_t started_ns;    /**< Wall clock (ns since the epoch). */
	uint64_t stopped_ns;    /**< Wall clock, 0 while running. */
	char path[512];         /**< The pcapng file. */
};

/** What mg_capture_env.name names. */
enum mg_name_kind { MG_NAME_PORT, MG_NAME_IFACE, MG_NAME_NET };

/** What the capture manager needs from the gateway. */
struct mg_capture_env {
	struct mg_dp *dp;
	char dir[256];          /**< Capture files go here (created 0700; files 0600). */
	/** Resolve a port name to its ethdev id; 0 or -ENOENT. */
	int (*port_id)(void *ctx, const char *name, uint16_t *port);
	/** The name of ethdev port / interface index / network id @p id (for traces). */
	void (*name)(void *ctx, enum mg_name_kind kind, unsigned int id, char *buf, size_t n);
	void *ctx;
};

/** Create the manager (main lcore, after the workers' graphs exist). */
struct mg_capture *mg_capture_create(const struct mg_capture_env *env, struct mg_error *err);
/** Stop every capture, close the files, free everything. NULL is fine. */
void mg_capture_destroy(struct mg_capture *c);

/** Start a capture; its id in @p id. Errors name the spec field (point, filter, ...). */
int mg_capture_start(struct mg_capture *c, const struct mg_capture_spec *s, uint32_t *id,
		     struct mg_error *err);
/** Stop a running capture (its file stays, its record too until removed). */
int mg_capture_stop(struct mg_capture *c, uint32_t id, struct mg_error *err);
/** Stop it if running and forget it (the file stays). */
int mg_capture_remove(struct mg_capture *c, uint32_t id, struct mg_error *err);
/** A capture's info; false if there is no such id. */
bool mg_capture_get(const struct mg_capture *c, uint32_t id, struct mg_capture_info *out);
/** Every capture's info (at most @p max); returns how many. */
unsigned int mg_capture_list(const struct mg_capture *c, struct mg_capture_info *out,
			     unsigned int max);
/** How many captures are running. */
unsigned int mg_capture_running(const struct mg_capture *c);
/** Bumped whenever a file grows or a capture stops (live readers wait on it). */
uint64_t mg_capture_generation(const struct mg_capture *c);

/** Main loop: write what the workers copied, enforce the limits. */
void mg_capture_poll(struct mg_capture *c, uint64_t now_ns);
/** Longest the main loop may sleep while captures run, in ns (UINT64_MAX: none run). */
uint64_t mg_capture_timeout(const struct mg_capture *c);

/**
 * Worker side: copy the packets entering graph node @p node that a capture
 * of the published set @p cs wants. Called only when cs's node mask has
 * the node.
 */
void mg_capture_node(struct mg_worker *w, const struct mg_cap_set *cs, rte_node_t node,
		     void **objs, uint16_t n);

/* ---- packet trace (trace.c) ----------------------------------------------------------- */

#define MG_TRACE_MAX_PACKETS 1024 /**< Packets one trace may follow. */
#define MG_TRACE_MAX_HOPS 16      /**< Nodes recorded per packet. */

/** The trace's state. */
struct mg_trace_info {
	bool active;            /**< A trace exists (running or complete). */
	char filter[512];
	uint32_t count;         /**< Packets asked for. */
	uint32_t remaining;     /**< Still to be flagged. */
	uint32_t packets;       /**< Packets recorded. */
	uint64_t lost;          /**< Records lost (ring full, too many hops). */
};

/** One hop of a traced packet: its node, time since the packet's first hop, what it was and what was decided. */
typedef void (*mg_trace_hop_cb)(void *ctx, uint32_t pkt, unsigned int worker, unsigned int hop,
				const char *node, uint64_t ns, const char *text);

/**
 * Trace the next @p count (1..MG_TRACE_MAX_PACKETS) packets received that
 * match @p filter (pcap syntax on the Ethernet frame; NULL or "": all),
 * replacing any earlier trace. Errors name the field (filter, count).
 */
int mg_trace_start(struct mg_capture *c, const char *filter, uint32_t count,
		   struct mg_error *err);
/** Stop and forget the trace. */
void mg_trace_clear(struct mg_capture *c);
/** The trace's state into @p info, and each hop of each packet, in order, to @p cb (may be NULL); returns the packets recorded. */
unsigned int mg_trace_get(const struct mg_capture *c, struct mg_trace_info *info,
			  mg_trace_hop_cb cb, void *ctx);

/** The published set's node mask (bit i: node id i has a capture). */
uint64_t mg_capture_node_mask(const struct mg_cap_set *cs);

#endif /* MG_CAPTURE_H */
