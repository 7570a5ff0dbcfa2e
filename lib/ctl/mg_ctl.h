/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_CTL_H
#define MG_CTL_H

/**
 * @file
 * The runtime control plane, on the main lcore: the NSM control socket
 * (newline-delimited JSON mirroring Network Service Mesh's Request, Close and
 * MonitorConnections), the REST endpoint (libmicrohttpd, no threads of its
 * own: the main loop polls it), Prometheus metrics, and durable state.
 *
 * Every change, from any transport, becomes model operations applied in one
 * transaction (mg_txn), journaled and fsynced before it is acknowledged.
 */

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#include "mg_common.h"

struct mg_model;
struct mg_fwd;
struct mg_dp;
struct mg_stats;
struct mg_capture;
struct mg_ctl;

/** Settings from the file's control: section. */
struct mg_ctl_conf {
	char run_dir[256];          /**< Sockets, token, bound address (created 0700). */
	char state_dir[256];        /**< Durable state; empty: none. */
	char nsm_socket[256];       /**< Empty: no NSM socket. */
	unsigned int nsm_uids[16];  /**< Peers allowed on the NSM socket (SO_PEERCRED). */
	unsigned int nnsm_uids;
	char rest_listen[128];      /**< "127.0.0.1:8080", "[::1]:8080"; empty: no REST. */
	char token_file[256];       /**< Empty: generated into run_dir/rest.token. */
	uint32_t max_body;          /**< Largest request body, bytes. */
	uint32_t rest_rate;         /**< Requests per second per client address (429 above); 0: none. */
	uint32_t rest_burst;        /**< Requests a client may send at once; 0: twice rest_rate. */
	char tls_cert[256];         /**< PEM certificate (chain) for HTTPS; empty: plain HTTP. */
	char tls_key[256];          /**< PEM private key for HTTPS (read, then wiped when REST stops). */
	uint32_t max_lifetime_s;    /**< Longest a connection lives without a refresh. */
	uint32_t max_conns;         /**< NSM connections at once (limits.connections); 0: 4096. */
	char node_name[64];         /**< This hop's path segment name. */
	char file_prefix[64];
};

struct mg_ike_peer_conf; /* mg_ike.h */

/** Where one ESP SA's sequence numbers stand (for the durable state). */
struct mg_ctl_esp_seq {
	uint32_t spi;
	bool inbound;
	uint8_t inner_family;
	uint64_t seq;               /**< Outbound: above every number sent; inbound: highest seen. */
};

/** What the control plane reads of the running gateway. */
struct mg_ctl_env {
	struct mg_model *model;
	struct mg_fwd *fwd;
	struct mg_dp *dp;
	struct mg_capture *capture;  /**< Packet captures, or NULL. */
	/** Collect counters now. */
	void (*stats)(void *ctx, struct mg_stats *out);
	/** Write ESP tunnel @p ifindex's SAs and events as a JSON object (redacted); may be NULL. */
	void (*esp_sas)(void *ctx, uint16_t ifindex, FILE *f);
	/** Append more Prometheus text to /metrics (ESP SAs); may be NULL. */
	void (*metrics_extra)(void *ctx, FILE *f);
	/**
	 * Counters of VXLAN tunnel interface @p ifindex: rx packets, rx bytes, tx
	 * packets, tx bytes, tx errors; may be NULL.
	 */
	void (*vxlan_counters)(void *ctx, uint16_t ifindex, uint64_t out[5]);
	/** Write the IKEv2 peers and their SAs as a JSON array (redacted); may be NULL. */
	void (*ike_json)(void *ctx, FILE *f);
	/**
	 * Add or replace the IKE peer of ESP tunnel c->name (checked first: on
	 * error nothing changes); may be NULL.
	 */
	int (*ike_set)(void *ctx, const struct mg_ike_peer_conf *c, struct mg_error *err);
	/** Remove the IKE peer of tunnel @p name: 0 or -ENOENT; may be NULL. */
	int (*ike_del)(void *ctx, const char *name);
	/** ESP tunnel @p ifindex's SAs' sequence positions (at most @p max); may be NULL. */
	unsigned int (*esp_seqs)(void *ctx, uint16_t ifindex, struct mg_ctl_esp_seq *out,
				 unsigned int max);
	void *ctx;
};

/**
 * Create the control plane: restore durable state if there is any (which
 * replaces the model built from the file), then open the sockets.
 * @p restored is set when state was restored.
 */
struct mg_ctl *mg_ctl_create(const struct mg_ctl_conf *conf, const struct mg_ctl_env *env,
			     bool *restored, struct mg_error *err);
void mg_ctl_destroy(struct mg_ctl *c);
/** True if @p dir holds state to restore (the file's objects are then not used). */
bool mg_ctl_state_exists(const char *dir);

/**
 * An IKE event on ESP tunnel @p tunnel ("established", "rekeyed",
 * "child-rekeyed", "deleted", "failed"; @p reason for failures): the NSM
 * IPSEC connection of that tunnel, if any, shows it and its monitors get
 * an UPDATE. Main lcore.
 */
void mg_ctl_ike_event(struct mg_ctl *c, const char *tunnel, const char *event,
		      const char *reason);

/** File descriptors to wait on (readable), at most @p max; returns how many. */
unsigned int mg_ctl_fds(struct mg_ctl *c, int *fds, unsigned int max);
/** Longest the caller may wait before calling mg_ctl_run again, in ns. */
uint64_t mg_ctl_timeout(struct mg_ctl *c, uint64_t now_ns);
/** Serve whatever is ready: requests, monitor streams, connection expiry. */
void mg_ctl_run(struct mg_ctl *c, uint64_t now_ns);

#endif /* MG_CTL_H */
