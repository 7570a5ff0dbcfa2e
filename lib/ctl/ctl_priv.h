/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_CTL_PRIV_H
#define MG_CTL_PRIV_H

#include <jansson.h>
#include <stdio.h>

#include "ctl_json.h"
#include "mg_ctl.h"
#include "mg_hmap.h"
#include "mg_txn.h"

#define CTL_MAX_ARRAY 1024      /* entries in any JSON array a client sends */
#define CTL_MAX_CONNS 4096
#define CTL_MAX_NSM_CLIENTS 64
#define CTL_REST_CONNS 64            /* MHD_OPTION_CONNECTION_LIMIT */

/* A REST connection, for the header deadline (ctl_rest.c). */
struct rest_conn {
	int fd;
	bool used;
	bool in_request;   /* headers complete, the request under way */
	uint64_t mark_ns;  /* accepted, or its last request done: its next headers since */
};
#define CTL_NSM_LINE_MAX (1u << 20)
#define CTL_NSM_OUT_MAX (8u << 20)
#define CTL_RATE_BUCKETS 256    /* REST clients (addresses) rate-limited apart */

struct mg_flowlog_query;
struct mg_network;

/* ---- flows (ctl_flows.c) ---------------------------------------------------------- */

/** GET /v1/flows arguments (NULL: absent) into @p q; errors name the argument. */
int ctl_flows_query_parse(const char *address, const char *port, const char *network,
			  const char *since, const char *until, const char *limit,
			  struct mg_flowlog_query *q, struct mg_error *err);
/** The history entries matching @p q, newest first: {"flows": [...], "count", "history"}. */
json_t *ctl_flows_json(struct mg_ctl *c, const struct mg_flowlog_query *q);
/** A network's flow tracking and its tracker's counters. */
json_t *ctl_net_flows_json(struct mg_ctl *c, const struct mg_network *n);
/** PUT /v1/networks/NAME/flows (null body: off), journaled. */
int ctl_net_flows_put(struct mg_ctl *c, const char *network, json_t *body, struct mg_error *err);
/** Replay a journaled {"flows": ...} entry. */
int ctl_flows_replay(struct mg_ctl *c, json_t *entry, struct mg_error *err);
/** The trackers' and the history's counters for /metrics. */
void ctl_flows_metrics(struct mg_ctl *c, FILE *f);

/* ---- connections (ctl_conn.c) ----------------------------------------------------- */

enum conn_mech {
	MECH_MEMIF = 1,
	MECH_KERNEL,
	MECH_VLAN,
	MECH_WG,     /* WIREGUARD: a WireGuard interface with the client as its peer */
	MECH_VXLAN,  /* VXLAN: a VXLAN tunnel to the client's VTEP */
	MECH_IPSEC,  /* IPSEC: an ESP tunnel to the client, static keys (ctl_connesp.c) */
};

struct conn {
	bool used;
	char id[256];
	char port[MG_NAME_MAX];    /* port created for it (memif, tap), or "" */
	char iface[MG_NAME_MAX];   /* its interface: the port, or PORT.VLAN */
	char network[MG_NAME_MAX];
	enum conn_mech mech;
	char mech_field[48];       /* where the chosen mechanism is in the request */
	json_t *request;           /* normalised NetworkServiceRequest (for the journal) */
	json_t *conn;              /* the Connection as accepted (snake_case) */
	struct mg_op *ops;         /* what it added, to undo on close */
	unsigned int nops;
	struct mg_op *adds;        /* what it added, as added (a change applies the difference) */
	unsigned int nadds;
	uint64_t expires_ns;       /* monotonic */
	char netns[256];           /* a KERNEL interface moved here, or "" */
	char tap[16];
	char wg[MG_NAME_MAX];      /* the WireGuard interface created for it, or "" */
	char vx[MG_NAME_MAX];      /* the VXLAN tunnel created for it (or kept from before), or "" */
	char esp[MG_NAME_MAX];     /* the ESP tunnel created for it (IPSEC), or "" */
	bool camel;                /* the client wrote protojson names */
};

/* ---- ESP sequence reservations (ctl_espstate.c) -------------------------------------- */

#define CTL_ESP_SEQ_MAX 1024       /* SAs whose sequence position is kept */

/* Where an SA's sequence numbers may resume after a restart. */
struct esp_resv {
	char tunnel[MG_NAME_MAX];
	uint32_t spi;
	bool inbound;
	uint64_t seq;              /* outbound: reserved up to here; inbound: highest seen */
};

/* ---- NSM clients (ctl_nsm.c) ------------------------------------------------------- */

struct nsm_client {
	int fd;
	char *in;
	size_t nin;
	char *out;
	size_t nout, out_cap;
	bool monitoring;
	json_t *monitor_id;        /* the id of the MonitorConnections message */
	json_t *selector;          /* its path segments (snake_case), or NULL: all */
	bool camel;
	uint64_t partial_ns;       /* when the unfinished line in @in began (nin > 0) */
};

struct mg_ctl {
	struct mg_ctl_conf conf;
	struct mg_ctl_env env;
	/* durable state (ctl_state.c) */
	int journal_fd;
	uint64_t generation;
	uint64_t journal_entries;
	uint64_t journal_bytes;
	bool replaying;
	/* the stored key of the NSM WIREGUARD connection being replayed (ctl_wgstate.c) */
	uint8_t replay_wg_key[MG_WG_KEY_BYTES];
	bool replay_wg_key_set;
	uint16_t replay_wg_port;
	/* ESP sequence positions (ctl_espstate.c, STATE_DIR/esp-seq.json) */
	struct esp_resv *esp_resv;   /* CTL_ESP_SEQ_MAX */
	unsigned int nesp_resv;
	uint64_t next_esp_seq_ns;
	/* connections */
	struct conn *conns;        /* CTL_MAX_CONNS */
	struct mg_hmap *conn_idx;
	uint32_t nconns;
	uint32_t port_seq;
	/* NSM socket */
	int nsm_fd;
	struct nsm_client clients[CTL_MAX_NSM_CLIENTS];
	/* REST */
	struct MHD_Daemon *mhd;
	struct capstream *streams;   /* live pcapng streams (ctl_capture.c) */
	char rest_location[64];      /* the Location of the last 201 */
	char token[128];
	size_t token_len;
	char rest_bound[128];
	struct rate_bucket *rate;    /* CTL_RATE_BUCKETS (ctl_rest.c) */
	struct rest_conn rest_conns[CTL_REST_CONNS];
	char *tls_cert_pem, *tls_key_pem; /* held while the daemon runs; the key wiped after */
	size_t tls_key_len;
	uint64_t next_expiry_check;
	/* counters of the control plane itself */
	uint64_t requests_ok, requests_failed, conns_expired;
	uint64_t rest_rate_limited;  /* requests answered 429 */
	uint64_t rest_header_timeouts; /* connections closed: headers too slow while busy */
	uint64_t nsm_refused;        /* NSM socket peers refused by uid */
	uint64_t nsm_full;           /* NSM socket peers refused: every client slot in use */
	uint64_t nsm_stalled;        /* NSM clients dropped: a line unfinished too long */
	/* IKE peers set over REST: tunnel name -> stored body, secrets sealed (ctl_ike.c) */
	json_t *ike;
};

/* ctl_gw.c: /v1/gateways; returns the HTTP status, *text the JSON reply. */
int ctl_gw_rest(struct mg_ctl *c, const char *method, char **seg, int nseg, char *body,
		size_t len, char **text, const char **allow);
/** Gateway @p name as GET shows it (NULL: every gateway, an array); NULL if none. */
json_t *ctl_gw_json(const char *name);
/** Every gateway as asked for (the snapshot's "gateways"). */
json_t *ctl_gw_snapshot(struct mg_ctl *c);
/** Restore a stored gateway (create or replace). */
int ctl_gw_replay(struct mg_ctl *c, json_t *stored, struct mg_error *err);
/** Replay a journaled deletion. */
int ctl_gw_replay_del(struct mg_ctl *c, const char *name, struct mg_error *err);
/** Delete every gateway (before a snapshot's gateways replace the file's). */
void ctl_gw_clear(struct mg_ctl *c);

/* ctl_vxlan.c: /v1/vxlan; returns the HTTP status, *text the JSON reply. */
int ctl_vxlan_rest(struct mg_ctl *c, const char *method, char **seg, int nseg, char *body,
		   size_t len, char **text, const char **allow);
/** A tunnel as GET /v1/vxlan shows it (with its counters). */
json_t *ctl_vxlan_json(struct mg_ctl *c, const struct mg_vxlan_tunnel *t);
/* ctl_rest.c / ctl_svcstate.c: services in the durable state. */
struct mg_svc_cfg;
/** A service as the body of POST /v1/services into @p sc (errors name the field). */
int ctl_svc_cfg_json(json_t *j, struct mg_svc_cfg *sc, struct mg_error *err);
/** Journal service @p name as it now is ({"service": body}); 0 without a state. */
int ctl_svc_journal(struct mg_ctl *c, const char *name, struct mg_error *err);
/** Journal the removal of service @p name ({"service_del": name}) if it exists. */
int ctl_svc_journal_del(struct mg_ctl *c, const char *name, struct mg_error *err);
/** Every service, as POST bodies, for the snapshot. */
json_t *ctl_svc_snapshot(void);
/**
 * Make the running service of @p stored's name what @p stored (a POST body)
 * says: added, or changed (endpoints alone when only they differ).
 */
int ctl_svc_restore(struct mg_ctl *c, json_t *stored, struct mg_error *err);
/** ctl_svc_restore for each of a snapshot's @p list, then remove those it does not name;
 * returns how many were restored, counting failures (logged) in *@p failed. */
int ctl_svc_restore_all(struct mg_ctl *c, json_t *list, uint64_t *failed);
/** Remove service @p name unless a rule steers to it (the journal's service_del). */
int ctl_svc_remove(struct mg_ctl *c, const char *name, struct mg_error *err);

/** The tunnels for the durable state: all but the NSM connections' (they come back with them). */
json_t *ctl_vxlan_snapshot(struct mg_ctl *c);
/** Add a stored tunnel (the body of POST /v1/vxlan) with its addresses. */
int ctl_vxlan_restore(struct mg_ctl *c, json_t *stored, struct mg_error *err);

/* ctl_esp.c: /v1/esp-tunnels; returns the HTTP status, *text the JSON reply. */
int ctl_esp_rest(struct mg_ctl *c, const char *method, char **seg, int nseg, char *body,
		 size_t len, char **text, const char **allow);
/**
 * Add an ESP tunnel from a POST /v1/esp-tunnels body (keys in hex), with its
 * addresses; each SA resumes where the state says (ctl_esp_seq_resume). The
 * caller wipes the body. 0 or -errno with @p err.
 */
int ctl_esp_add_body(struct mg_ctl *c, json_t *body, struct mg_error *err);
/** Parse a "sas" list (as in POST /v1/esp-tunnels) into @p sas; 0 or -errno with @p err. */
int ctl_esp_parse_sas(json_t *arr, struct mg_esp_sa_conf *sas, uint8_t *n, struct mg_error *err);
/** Overwrite every string in @p j in place (keys) before it is freed. */
void ctl_json_wipe(json_t *j);

/* ctl_ike.c: /v1/esp-tunnels/NAME/ike, the tunnel's IKEv2 peer. */
struct mg_ike_peer_conf;
int ctl_ike_rest(struct mg_ctl *c, const char *method, const char *name, char *body, size_t len,
		 char **text, const char **allow);
/** Parse an `ike` body into @p pc (addresses left to the caller); errors name the field. */
int ctl_ike_parse(json_t *o, const char *name, struct mg_ike_peer_conf *pc, struct mg_error *err);
/** Set tunnel @p name's IKE peer from body @p o (checked first; nothing changes on error). */
int ctl_ike_set_body(struct mg_ctl *c, const char *name, json_t *o, struct mg_error *err);
/** The stored (sealed) body of tunnel @p name's peer (a new reference), or NULL. */
json_t *ctl_ike_stored(struct mg_ctl *c, const char *name);
/** Restore a stored body (NULL: remove the peer REST had set). */
int ctl_ike_restore(struct mg_ctl *c, const char *name, json_t *stored, struct mg_error *err);
/** Tunnel @p name is gone (or its peer is): remove its IKE peer. */
void ctl_ike_tunnel_gone(struct mg_ctl *c, const char *name);
void ctl_ike_fini(struct mg_ctl *c);

/* ctl_espstate.c: ESP tunnels in the durable state, keys sealed under the state key. */
/** The stored form of tunnel @p name (keys sealed); NULL with @p err set. */
json_t *ctl_esp_state_json(struct mg_ctl *c, const char *name, struct mg_error *err);
/** Every ESP tunnel no connection owns (or, with @p of_conns, every one a connection
 * owns), stored; NULL with @p err set. */
json_t *ctl_esp_snapshot(struct mg_ctl *c, bool of_conns, struct mg_error *err);
/** Bring back a stored tunnel: added, or its SAs replaced if it exists (a journaled rekey). */
int ctl_esp_state_restore(struct mg_ctl *c, json_t *stored, struct mg_error *err);
/** Journal tunnel @p name as it is now (after an add or a rekey); 0 without a state. */
int ctl_esp_journal(struct mg_ctl *c, const char *name, struct mg_error *err);
/** Journal the removal of tunnel @p name; 0 without a state. */
int ctl_esp_journal_del(struct mg_ctl *c, const char *name, struct mg_error *err);
/** Raise the SAs' initial sequence numbers in @p s to where the state says they stood. */
void ctl_esp_seq_resume(struct mg_ctl *c, struct mg_esp_tunnel_spec *s);
/** Load STATE_DIR/esp-seq.json (before replay). */
void ctl_esp_seq_load(struct mg_ctl *c);
/** Main loop: keep the outbound reservations ahead of the SAs (every 100 ms at most). */
void ctl_esp_seq_tick(struct mg_ctl *c, uint64_t now_ns, bool force);
/** True if connection-owned tunnel @p name (left out of snapshots). */
bool conn_owns_esp(const struct mg_ctl *c, const char *name);

/* ctl_connesp.c: the NSM IPSEC mechanism (static keys in the parameters). */
/** True if mechanism @p mech (a request's) is an IPSEC one meshgate can set up. */
bool ctl_ipsec_acceptable(json_t *mech);
/** True if parameter @p name of an IPSEC mechanism is a secret. */
bool ctl_ipsec_secret_param(const char *name);
/** Create connection @p k's ESP tunnel from @p mech's parameters (answers dst_ip in it). */
int ctl_ipsec_conn_up(struct mg_ctl *c, struct conn *k, json_t *conn, json_t *mech,
		      struct mg_error *err);
/** True for the parameters meshgate adds to an IKE connection's answer (ike_state...). */
bool ctl_ipsec_status_param(const char *name);
/** Wipe and remove the secret parameters of mechanism @p mech. */
void ctl_ipsec_strip(json_t *mech);
/** In a stored entry: replace "request"'s secrets by "ipsec_sealed" (IPSEC connections). */
void ctl_ipsec_seal(struct mg_ctl *c, const struct conn *k, json_t *entry);
/** Put the sealed secrets of a stored entry back into its "request" (replay). */
int ctl_ipsec_open(struct mg_ctl *c, json_t *entry, struct mg_error *err);

/* Sealing under the state key (ctl_wgstate.c). */
#define CTL_STATE_KEY_BYTES 32
#define CTL_SEAL_MAX 2048
/** Load (or with @p create make) the state key into @p key; 0 or -errno with @p err. */
int ctl_state_key(const struct mg_ctl *c, uint8_t key[CTL_STATE_KEY_BYTES], bool create,
		  struct mg_error *err);
/** base64(nonce || XChaCha20-Poly1305(@p data)) with associated data @p ad (len <= CTL_SEAL_MAX). */
json_t *ctl_seal_bytes(const uint8_t *sk, const uint8_t *data, size_t len, const char *ad);
/** Open a ctl_seal_bytes() string into @p data (at most @p max); -EINVAL if it does not open. */
int ctl_unseal_bytes(const uint8_t *sk, json_t *v, const char *ad, uint8_t *data, size_t max,
		     size_t *len);

/* ctl_core.c: the one path every change takes. */
/** Apply @p ops atomically and journal them; 0 or -errno with @p err. */
int ctl_commit_ops(struct mg_ctl *c, const struct mg_op *ops, unsigned int n, struct mg_error *err);
/** Journal an arbitrary entry (connections), fsynced. */
int ctl_journal(struct mg_ctl *c, json_t *entry, struct mg_error *err);
/** Error object for responses: {"code": .., "field": .., "message": ..}. */
json_t *ctl_error_json(const struct mg_error *err);
/** HTTP status for an errno-style code. */
int ctl_http_status(int code);
/*
 * The replies of the REST handlers that answer with a status and *text
 * (ctl_gw.c, ctl_vxlan.c, ctl_esp.c, ctl_ike.c); ctl_rest.c keeps its own
 * (with the Location and rate headers).
 */
/** Set *@p text to @p j as indented JSON (NULL: no body), free @p j, return @p status. */
int ctl_reply(int status, json_t *j, char **text);
/** {"error": ctl_error_json(@p e)} with the status of its code. */
int ctl_reply_err(const struct mg_error *e, char **text);
/**
 * {"error": ctl_error_json(@p e)} for a status that no errno gives (401, 405,
 * 413, 429...): "status" says @p status, and "code" its gRPC name when it has one.
 */
json_t *ctl_status_error_json(int status, const struct mg_error *e);
/** The body of every 405, from ctl_rest.c's handlers and the others alike. */
json_t *ctl_not_allowed_json(void);
/** 405 "method not allowed here", with *@p allow set to @p allowed (the Allow header). */
int ctl_not_allowed(const char *allowed, const char **allow, char **text);
/**
 * A request body parsed (duplicate keys refused), or NULL with @p e: "a JSON
 * body is required" or "not valid JSON (line, column: why)". The body is wiped
 * after the parse: it may hold keys, and the caller is done with it.
 */
json_t *ctl_body_json(char *body, size_t len, struct mg_error *e);
const char *ctl_grpc_code(int code);

/* ctl_state.c */
int ctl_state_open(struct mg_ctl *c, bool *restored, struct mg_error *err);
int ctl_state_append(struct mg_ctl *c, json_t *entry, struct mg_error *err);
void ctl_state_maybe_compact(struct mg_ctl *c);
void ctl_state_close(struct mg_ctl *c);

/* ctl_conn.c */
int conn_init(struct mg_ctl *c);
void conn_fini(struct mg_ctl *c);
/** NetworkService.Request: returns the accepted Connection (new reference). */
json_t *conn_request(struct mg_ctl *c, json_t *req, struct mg_error *err);
/** NetworkService.Close. */
int conn_close(struct mg_ctl *c, json_t *connection, struct mg_error *err);
int conn_close_id(struct mg_ctl *c, const char *id, const char *why, struct mg_error *err);
/** The Connection with live metrics, as the client style wants (new reference). */
json_t *conn_render(struct mg_ctl *c, const struct conn *k, bool camel);
struct conn *conn_find(struct mg_ctl *c, const char *id);
/** Close connections whose path segment expired. */
void conn_expire(struct mg_ctl *c, uint64_t now);
/** True if @p op adds an object a connection owns (left out of snapshots). */
bool conn_owns(struct mg_ctl *c, const struct mg_op *op);
/** True if an NSM connection's interface is @p iface (a tunnel it made). */
bool ctl_conn_owns_iface(struct mg_ctl *c, const char *iface);
/**
 * The id of the NSM connection that made tunnel or interface @p name (its
 * interface, or the WireGuard, VXLAN or ESP tunnel it created), or NULL.
 */
const char *ctl_conn_owner(const struct mg_ctl *c, const char *name);
/**
 * Refuse a REST change to @p name (a @p what: "ESP tunnel", ...) that an NSM
 * connection owns: 0 if none does, else -EBUSY (409) with @p e naming the
 * connection, to be closed instead.
 */
int ctl_conn_refuse_owned(const struct mg_ctl *c, const char *what, const char *name,
			  struct mg_error *e);
/** Re-run a journaled connection request (replay). */
int conn_replay(struct mg_ctl *c, json_t *entry, struct mg_error *err);
json_t *conn_snapshot(struct mg_ctl *c);
/** Convert a NetworkServiceRequest / Connection / selector to snake_case, checking it. */
json_t *nsm_normalise(json_t *in, const char *type, bool *camel, struct mg_error *err);
json_t *nsm_camel(json_t *in, const char *type);

/* ctl_nsm.c */
int nsm_open(struct mg_ctl *c, struct mg_error *err);
void nsm_close_all(struct mg_ctl *c);
void nsm_run(struct mg_ctl *c);
/** Tell monitors that @p k changed ("UPDATE") or went ("DELETE"). */
void nsm_event(struct mg_ctl *c, const struct conn *k, const char *type);

/* ctl_rest.c */
int rest_open(struct mg_ctl *c, struct mg_error *err);

/* ctl_capture.c: live pcapng streams of captures. */
#define CTL_MAX_STREAMS 16
struct MHD_Connection;
struct MHD_Response *capstream_open(struct mg_ctl *c, struct MHD_Connection *hc, uint32_t id,
				    struct mg_error *err);
/* Resume the streams whose capture moved on (or all, before the daemon stops). */
void capstream_resume(struct mg_ctl *c, bool all);
void rest_close(struct mg_ctl *c);
void rest_run(struct mg_ctl *c);
int rest_epoll_fd(struct mg_ctl *c);
uint64_t rest_timeout_ns(struct mg_ctl *c);
/**
 * One whole request, answered as the REST endpoint answers it, without
 * libmicrohttpd (tests/fuzz/fuzz_rest.c feeds it): @p url is the path as
 * received (percent-escaped, without the query), @p network the decoded
 * ?network= argument or NULL, @p authorization the header's value or NULL.
 * Returns the HTTP status; *text is the response body (malloc'ed, or NULL),
 * *allow the Allow header of a 405 (or NULL).
 */
int rest_handle(struct mg_ctl *c, const char *method, const char *url, const char *network,
		const char *authorization, const char *body, size_t len, char **text,
		const char **allow);

/* ctl_rules.c: classification rules (mg_rules.h) over REST and in durable state. */
/** A network's rules as JSON ({"network", "default", "rules": [...]}), with counters or not. */
json_t *ctl_rules_json(struct mg_ctl *c, uint16_t net, bool counters);
/** Replace network @p network's rules from a JSON body, journaled; 0 or -errno with @p err. */
int ctl_rules_put(struct mg_ctl *c, const char *network, json_t *body, struct mg_error *err);
/** Re-apply a journaled or snapshotted rules entry. */
int ctl_rules_replay(struct mg_ctl *c, json_t *entry, struct mg_error *err);
/** Every network's rules, for a snapshot. */
json_t *ctl_rules_snapshot(struct mg_ctl *c);
/** The rule counters in the Prometheus text format. */
void ctl_rules_metrics(struct mg_ctl *c, FILE *f);

/* ctl_metrics.c */
char *ctl_metrics_text(struct mg_ctl *c, size_t *len);

/* ctl_wg.c: WireGuard interfaces (never renders private or preshared keys). */
json_t *ctl_wg_json(struct mg_ctl *c, const struct mg_iface *ifc);
json_t *ctl_wg_list_json(struct mg_ctl *c);
void ctl_wg_metrics(struct mg_ctl *c, FILE *f);
int ctl_wg_add(struct mg_ctl *c, json_t *body, struct mg_error *err);
int ctl_wg_del(struct mg_ctl *c, const char *name, struct mg_error *err);
/** Overwrite the key strings of a POST /v1/wireguard body in place (NULL is a no-op). */
void ctl_wg_wipe_body(json_t *body);

/* ctl_wgstate.c: WireGuard interfaces in the durable state, keys sealed under
 * the state key (STATE_DIR/wg-state.key). */
/** The stored form of @p ifc (keys sealed); NULL with @p err set. */
json_t *ctl_wg_state_json(struct mg_ctl *c, const struct mg_iface *ifc, struct mg_error *err);
/** Every WireGuard interface no connection owns, stored; NULL with @p err set. */
json_t *ctl_wg_snapshot(struct mg_ctl *c, struct mg_error *err);
/** Bring back a stored interface (as POST /v1/wireguard would). */
int ctl_wg_state_restore(struct mg_ctl *c, json_t *stored, struct mg_error *err);
/** Journal interface @p name as it is now (after a runtime add); 0 without a state. */
int ctl_wg_journal_add(struct mg_ctl *c, const char *name, struct mg_error *err);
/** Journal the removal of interface @p name; 0 without a state. */
int ctl_wg_journal_del(struct mg_ctl *c, const char *name, struct mg_error *err);
/** Add the sealed key and port of connection @p k's WireGuard interface to its
 * stored @p entry (nothing without a state or a WireGuard interface). */
void ctl_wg_conn_seal(struct mg_ctl *c, const struct conn *k, json_t *entry);
/** Open a stored connection @p entry's key into c->replay_wg_key (left unset, with a
 * log line, if it has none or it does not open: the connection gets a new key). */
int ctl_wg_conn_open(struct mg_ctl *c, json_t *entry, struct mg_error *err);

#endif
