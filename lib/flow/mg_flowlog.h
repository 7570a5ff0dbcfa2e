/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_FLOWLOG_H
#define MG_FLOWLOG_H

/**
 * @file
 * Flow history: the flows that ended, kept on the main lcore in a bounded
 * ring (the oldest entry makes room for the newest, and is counted), queried
 * by address, port, network and time window, and exported as JSON lines to
 * a file and/or a Unix datagram socket a collector listens on.
 *
 * Entries come from the flow tracker (mg_ct.h: flows of networks with
 * `flows:`) and from the service flow tables (mg_flow.h: flows steered to a
 * service endpoint); the caller (lib/gw/gw_flows.c) turns their records
 * into struct mg_flowlog_entry, names resolved while they still exist.
 *
 * Threads: main lcore only. Nothing here is on the data path.
 *
 * Export: each entry is one line of JSON (mg_flowlog_json()), appended to
 * the file (buffered; written out by mg_flowlog_flush(), which the main
 * loop calls after each drain) and sent as one datagram to the socket
 * (non-blocking: a collector that is away or slow loses lines, counted in
 * socket_drops, never stalls the gateway).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mg_addr.h"
#include "mg_common.h"
#include "mg_flow.h"

/** Where an entry came from. */
enum mg_flowlog_source {
	MG_FLOWLOG_TRACKER = 0, /**< A network's flow tracker. */
	MG_FLOWLOG_SERVICE,     /**< A service's flow table (endpoint known). */
	MG_FLOWLOG_GATEWAY,     /**< A gateway's source NAT flow (lib/natgw). */
};

/** One ended flow. */
struct mg_flowlog_entry {
	/** The key of its first packet (addresses, ports, protocol, family, network id). */
	struct mg_flow_key key;
	/** First and last packet, UNIX time in nanoseconds. */
	uint64_t first_ns, last_ns;
	/** Packets and bytes: [0] as the first packet went, [1] the replies. */
	uint64_t pkts[2], bytes[2];
	/** Position in the history, from 1 (set by mg_flowlog_add). */
	uint64_t seq;
	/** enum mg_flow_end. */
	uint8_t end;
	/** enum mg_ct_tcp_state at the end (tracker, TCP), else 0. */
	uint8_t tcp_state;
	/** TCP flags seen (both directions OR-ed). */
	uint8_t tcp_flags;
	/** enum mg_flowlog_source. */
	uint8_t source;
	/** Worker that saw it. */
	uint16_t worker;
	/** Network name (at the time it ended). */
	char network[MG_NAME_MAX];
	/** Interface the first packet came in on, and the replies' ("" unknown). */
	char ingress[MG_NAME_MAX], reply_ingress[MG_NAME_MAX];
	/** The tunnel interface (WireGuard, ESP, VXLAN) among those two, "" none. */
	char tunnel[MG_NAME_MAX];
	/** Service and endpoint names ("" for tracker entries). */
	char service[MG_NAME_MAX], endpoint[MG_NAME_MAX];
	/** The endpoint's address (family 0: none). */
	struct mg_ip endpoint_addr;
	/** The gateway the flow crossed ("" none, or gone or changed since). */
	char gateway[MG_NAME_MAX];
	/** Source NAT: the outside address and port it was given (family 0: none). */
	struct mg_ip nat_addr;
	uint16_t nat_port;
};

/** History settings. */
struct mg_flowlog_conf {
	/** Entries kept (>= 1). */
	uint32_t size;
	/** JSON-lines file appended to ("" none). */
	char file[256];
	/** Unix datagram socket each line is sent to ("" none). */
	char socket[108];
};

/** Counters. */
struct mg_flowlog_stats {
	uint64_t added;          /**< Entries added. */
	uint64_t overwritten;    /**< Oldest entries dropped to make room. */
	uint64_t held;           /**< Entries held now. */
	uint64_t file_lines;     /**< Lines written to the file. */
	uint64_t file_errors;    /**< Lines lost: the file could not be written. */
	uint64_t socket_lines;   /**< Lines sent to the socket. */
	uint64_t socket_drops;   /**< Lines lost: nobody listening, or its queue full. */
};

struct mg_flowlog;

/**
 * Create the history; opens the export file (created 0640 if missing,
 * appended to) and the socket. @return it, or NULL with @p err set
 * ("size", "export.file", "export.socket").
 */
struct mg_flowlog *mg_flowlog_create(const struct mg_flowlog_conf *c, struct mg_error *err);

/** Flush and free (NULL: no-op). */
void mg_flowlog_destroy(struct mg_flowlog *fl);

/** The settings. */
const struct mg_flowlog_conf *mg_flowlog_conf(const struct mg_flowlog *fl);

/** Add @p e (its seq is set), exporting it. */
void mg_flowlog_add(struct mg_flowlog *fl, const struct mg_flowlog_entry *e);

/** Write the file's buffered lines out. */
void mg_flowlog_flush(struct mg_flowlog *fl);

/** Counters. */
void mg_flowlog_stats(const struct mg_flowlog *fl, struct mg_flowlog_stats *out);

/** What a query selects; zero (with port -1) selects everything. */
struct mg_flowlog_query {
	/** Either end's address equals this (family 0: any). */
	struct mg_ip addr;
	/** Either end's port equals this (-1: any). */
	int32_t port;
	/** Network name ("" any). */
	char network[MG_NAME_MAX];
	/** The flow was active at or after this time (ns; 0: no bound)... */
	uint64_t since_ns;
	/** ... and at or before this one (ns; 0: no bound). */
	uint64_t until_ns;
	/** Most entries returned (0: all). */
	uint32_t limit;
};

/** True when @p e matches @p q. */
bool mg_flowlog_match(const struct mg_flowlog_entry *e, const struct mg_flowlog_query *q);

/**
 * Call @p cb for each entry matching @p q, newest first, at most q->limit.
 * @return the number of calls.
 */
unsigned int mg_flowlog_query(const struct mg_flowlog *fl, const struct mg_flowlog_query *q,
			      void (*cb)(const struct mg_flowlog_entry *e, void *arg), void *arg);

/**
 * Write @p e as one JSON object (no newline) into @p buf.
 * @return the length it needs (as snprintf).
 */
int mg_flowlog_json(const struct mg_flowlog_entry *e, char *buf, size_t n);

/** The process's history (NULL: none), set by mg_flowlog_set. */
struct mg_flowlog *mg_flowlog_get(void);
/** Make @p fl the process's history. */
void mg_flowlog_set(struct mg_flowlog *fl);

#endif /* MG_FLOWLOG_H */
