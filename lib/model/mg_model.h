/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_MODEL_H
#define MG_MODEL_H

/**
 * @file
 * The control plane's model: networks, ports, interfaces (a port's untagged
 * interface and its VLAN sub-interfaces), interface addresses, static routes
 * and static neighbors.
 *
 * The YAML file at start, and later the NSM socket and REST, all become the
 * requests declared here, so each feature is written once. A request is
 * validated whole against the model before anything changes; when it is
 * valid it is handed to the backend (the data plane), and only if the
 * backend accepts it is the model changed. A refused request leaves model
 * and data plane as they were, and says which field was wrong.
 *
 * The model is plain C with no DPDK dependency: `meshgate --check` and the
 * unit tests run it with no backend attached.
 *
 * Threading: the model belongs to the main lcore; nothing here is called
 * from a worker.
 */

#include <stdbool.h>
#include <stdint.h>

#include "mg_addr.h"
#include "mg_common.h"

#define MG_MODEL_MAX_NETWORKS 256
#define MG_MODEL_MAX_PORTS 64
#define MG_MODEL_MAX_IFACES 4096
#define MG_MODEL_MAX_ADDRS 16    /**< Addresses per interface and family. */
#define MG_DEVICE_MAX 256
#define MG_MTU_MIN 68
#define MG_MTU_MAX 9600
#define MG_MTU_IPV6_MIN 1280

/** What a network does with IPv4 options and with fragments. */
enum mg_policy {
	MG_POLICY_FORWARD = 0,
	MG_POLICY_DROP = 1,
};

/** A route's action. */
enum mg_route_action {
	MG_ROUTE_FORWARD = 0,     /**< To a next hop (via) or out of an interface. */
	MG_ROUTE_DROP,            /**< Blackhole: drop silently (counted). */
	MG_ROUTE_UNREACHABLE,     /**< Drop and send ICMP unreachable. */
	MG_ROUTE_PROHIBIT,        /**< Drop and send ICMP administratively prohibited. */
};

/** Interface kinds. */
enum mg_iface_kind {
	MG_IFACE_PORT = 0,  /**< A port's untagged interface. */
	MG_IFACE_VLAN,      /**< An 802.1Q sub-interface of a port. */
	MG_IFACE_WG,        /**< A WireGuard tunnel (no port; see struct mg_wg_spec). */
	MG_IFACE_ESP,       /**< An IPsec ESP tunnel (point to point, no port): see model_esp.c. */
	MG_IFACE_VXLAN,     /**< A VXLAN tunnel (an Ethernet link, no port): see model_vxlan.c. */
};

/* ---- Requests ---------------------------------------------------------- */

/** Flow timeout classes of struct mg_flows_spec, in the order of lib/flow's mg_ct_tclass. */
enum mg_flows_timeout {
	MG_FLOWS_T_TCP_OPENING = 0,
	MG_FLOWS_T_TCP_ESTABLISHED,
	MG_FLOWS_T_TCP_CLOSING,
	MG_FLOWS_T_UDP,
	MG_FLOWS_T_ICMP,
	MG_FLOWS_T_OTHER,
	MG_FLOWS_T_MAX,
};

/** Names of the timeouts as the file and REST spell them, indexed by enum mg_flows_timeout. */
extern const char *const mg_flows_timeout_names[MG_FLOWS_T_MAX + 1];

#define MG_FLOWS_SIZE_MAX (1u << 24)      /**< Flows per worker table. */
#define MG_FLOWS_SIZE_DEFAULT 65536u
#define MG_FLOWS_TIMEOUT_MAX (7u * 86400u) /**< Seconds. */

/**
 * A network's flow tracking (`flows:` of a network): every flow of the
 * network in a table per worker, ended flows into the flow history, and,
 * when stateful, the packets of tracked flows admitted where the rules would
 * deny them (replies of permitted flows).
 */
struct mg_flows_spec {
	/** Track the network's flows. */
	bool enabled;
	/** Admit the packets of tracked flows that the rules deny. */
	bool stateful;
	/** Flows per worker, 1..MG_FLOWS_SIZE_MAX (0: MG_FLOWS_SIZE_DEFAULT). */
	uint32_t size;
	/** Idle timeouts in seconds, 1..MG_FLOWS_TIMEOUT_MAX (0: the default). */
	uint32_t timeout_s[MG_FLOWS_T_MAX];
};

/** Check @p s; errors name the field ("size", "timeouts.udp"). 0 or -EINVAL. */
int mg_flows_spec_check(const struct mg_flows_spec *s, struct mg_error *err);

struct mg_network_spec {
	char name[MG_NAME_MAX];
	enum mg_policy fragments;
	enum mg_policy ip_options;
	/** Flow tracking (enabled false: none). */
	struct mg_flows_spec flows;
};

struct mg_port_spec {
	char name[MG_NAME_MAX];
	char device[MG_DEVICE_MAX]; /**< PCI address, env:PCIDEVICE_X[#n], k8s:ATTACHMENT or a vdev. */
	char network[MG_NAME_MAX];
	struct mg_mac mac;
	bool mac_set;
	uint16_t mtu;               /**< 0 means 1500. */
	uint16_t rx_queues;         /**< 0 means one per worker. */
	uint16_t rx_desc;           /**< 0 means 1024. */
	uint16_t tx_desc;           /**< 0 means 1024. */
	bool promiscuous;
};

struct mg_vlan_spec {
	char port[MG_NAME_MAX];
	uint16_t vlan;              /**< 1..4094 */
	char network[MG_NAME_MAX];  /**< Empty: the port's network. */
	uint16_t mtu;               /**< 0: the port's MTU. */
};

struct mg_addr_spec {
	char iface[MG_NAME_MAX];
	struct mg_prefix prefix;    /**< Address with its subnet length. */
};

struct mg_route_spec {
	char network[MG_NAME_MAX];  /**< Empty: taken from iface, else "default". */
	struct mg_prefix prefix;
	enum mg_route_action action;
	struct mg_ip via;           /**< family 0 when absent. */
	char iface[MG_NAME_MAX];    /**< Optional. */
};

struct mg_neigh_spec {
	char iface[MG_NAME_MAX];
	struct mg_ip ip;
	struct mg_mac mac;
};

#define MG_WG_KEY_BYTES 32
#define MG_WG_MAX_PEERS 256      /**< Peers per WireGuard interface. */
#define MG_WG_MAX_ALLOWED 64     /**< Allowed-IPs prefixes per peer. */
#define MG_WG_MTU_DEFAULT 1420

/** One peer of a WireGuard interface. */
struct mg_wg_peer_spec {
	uint8_t public_key[MG_WG_KEY_BYTES];
	uint8_t preshared_key[MG_WG_KEY_BYTES]; /**< Secret; valid if has_psk. */
	bool has_psk;
	struct mg_ip endpoint;      /**< family 0: none (learnt from the peer). */
	uint16_t endpoint_port;
	uint16_t persistent_keepalive; /**< Seconds, 0 = off. */
	uint16_t nallowed;
	struct mg_prefix allowed[MG_WG_MAX_ALLOWED];
};

/**
 * A WireGuard interface: a point-to-point tunnel interface of @c network
 * (routes and connected subnets lead into it, decrypted packets come out
 * into it) whose UDP messages travel in @c underlay. Holds secrets: copies
 * are made with mg_wg_spec_copy and released with mg_wg_spec_free, which
 * wipes them.
 */
struct mg_wg_spec {
	char name[MG_NAME_MAX];
	char network[MG_NAME_MAX];  /**< Inner network; empty: "default". */
	char underlay[MG_NAME_MAX]; /**< Network of the UDP messages; empty: same as network. */
	uint16_t mtu;               /**< 0 means MG_WG_MTU_DEFAULT. */
	uint16_t listen_port;       /**< 1..65535, unique among WireGuard interfaces. */
	uint8_t private_key[MG_WG_KEY_BYTES]; /**< Secret. */
	uint16_t npeers;
	struct mg_wg_peer_spec *peers; /**< npeers entries (heap). */
};

/** Deep copy of @p s (peers included) into @p d; 0 or -ENOMEM. */
int mg_wg_spec_copy(struct mg_wg_spec *d, const struct mg_wg_spec *s);
/** Wipe the keys of @p s and free its peers; the struct itself is the caller's. */
void mg_wg_spec_free(struct mg_wg_spec *s);

/* ---- Objects ------------------------------------------------------------ */

struct mg_network {
	bool used;
	uint16_t id;
	struct mg_network_spec spec;
	uint32_t nifaces;           /**< Interfaces in this network. */
	uint32_t nroutes;           /**< Static routes in this network. */
};

struct mg_port {
	bool used;
	uint16_t id;
	struct mg_port_spec spec;   /**< As requested (network name resolved). */
	uint16_t iface;             /**< Its untagged interface. */
	uint16_t nvlans;
	/* Filled by the backend when it brings the port up. */
	uint16_t ethdev;            /**< DPDK port id. */
	char origin[96];            /**< Where it was declared, for messages. */
};

struct mg_iface {
	bool used;
	uint16_t id;                /**< ifindex, also the data plane's index. */
	enum mg_iface_kind kind;
	char name[MG_NAME_MAX];     /**< Port name, or "port.vlan". */
	uint16_t port;              /**< Model port id. */
	uint16_t vlan;              /**< 0 for MG_IFACE_PORT. */
	uint16_t network;
	uint16_t mtu;
	struct mg_mac mac;          /**< The port's MAC (set by backend or spec). */
	struct mg_prefix addr4[MG_MODEL_MAX_ADDRS];
	uint8_t naddr4;
	struct mg_prefix addr6[MG_MODEL_MAX_ADDRS];
	uint8_t naddr6;
	struct mg_ip ll6;           /**< Its IPv6 link-local address (EUI-64). */
	uint32_t nroutes;           /**< Static routes and neighbors that use it. */
	struct mg_wg_spec *wg;      /**< MG_IFACE_WG: its settings (model-owned), else NULL. */
	uint16_t underlay;          /**< MG_IFACE_WG: network id of its UDP messages. */
};

struct mg_route {
	uint16_t network;
	struct mg_prefix prefix;
	enum mg_route_action action;
	struct mg_ip via;           /**< family 0 if none. */
	uint16_t iface;             /**< Resolved output interface, or UINT16_MAX. */
	uint64_t backend_handle;    /**< Opaque to the model. */
};

struct mg_neigh {
	uint16_t iface;
	struct mg_ip ip;
	struct mg_mac mac;
};

struct mg_model;
struct mg_ruleset;
struct mg_esp_tunnel;
struct mg_esp_sa_conf;
struct mg_vxlan_tunnel;

/**
 * The data plane side of the model. Each hook applies one already validated
 * change; it returns 0, or a negative errno with @p err filled when the data
 * plane cannot take it (a table full, a device that does not probe), in
 * which case the model stays unchanged. Delete hooks cannot fail.
 */
struct mg_model_backend {
	void *ctx;
	int (*network_add)(void *ctx, const struct mg_network *n, struct mg_error *err);
	void (*network_del)(void *ctx, const struct mg_network *n);
	/** Probe/configure the device; fill port->ethdev and iface->mac. */
	int (*port_add)(void *ctx, struct mg_port *port, struct mg_iface *ifc,
			struct mg_error *err);
	void (*port_del)(void *ctx, const struct mg_port *port, const struct mg_iface *ifc);
	int (*iface_add)(void *ctx, const struct mg_iface *ifc, struct mg_error *err);
	void (*iface_del)(void *ctx, const struct mg_iface *ifc);
	int (*addr_add)(void *ctx, const struct mg_iface *ifc,
			const struct mg_prefix *addr, struct mg_error *err);
	void (*addr_del)(void *ctx, const struct mg_iface *ifc, const struct mg_prefix *addr);
	int (*route_add)(void *ctx, struct mg_route *r, struct mg_error *err);
	void (*route_del)(void *ctx, const struct mg_route *r);
	/** Move an installed route to a new target in one step (no gap). */
	int (*route_replace)(void *ctx, const struct mg_route *old, struct mg_route *r,
			     struct mg_error *err);
	int (*neigh_add)(void *ctx, const struct mg_neigh *n, struct mg_error *err);
	void (*neigh_del)(void *ctx, const struct mg_neigh *n);
	/** Change network @p n's flow tracking to @p fs (n->spec.flows is still the old one). */
	int (*network_flows)(void *ctx, const struct mg_network *n, const struct mg_flows_spec *fs,
			     struct mg_error *err);
	/** Install network @p net's classification rules (NULL: none). See mg_rules.h. */
	int (*rules_set)(void *ctx, uint16_t net, const struct mg_ruleset *rs,
			 struct mg_error *err);
	/** Bring up WireGuard interface @p ifc (ifc->wg holds its settings). */
	int (*wg_add)(void *ctx, const struct mg_iface *ifc, struct mg_error *err);
	void (*wg_del)(void *ctx, const struct mg_iface *ifc);
	/** Bring up ESP tunnel @p t as interface @p ifc (may set ifc->mtu when the spec has none). */
	int (*esp_add)(void *ctx, const struct mg_esp_tunnel *t, struct mg_iface *ifc,
		       struct mg_error *err);
	/** Take ESP tunnel @p t down (its routes and addresses are gone). */
	void (*esp_del)(void *ctx, const struct mg_esp_tunnel *t, const struct mg_iface *ifc);
	/** Install @p n SAs in place of the tunnel's SAs of the same direction and inner family. */
	int (*esp_rekey)(void *ctx, const struct mg_esp_tunnel *t, const struct mg_esp_sa_conf *sas,
			 unsigned int n, struct mg_error *err);
	/** Bring up VXLAN tunnel @p t as interface @p ifc. */
	int (*vxlan_add)(void *ctx, const struct mg_vxlan_tunnel *t, const struct mg_iface *ifc,
			 struct mg_error *err);
	/** Take VXLAN tunnel @p t down (its routes, neighbors and addresses are gone). */
	void (*vxlan_del)(void *ctx, const struct mg_vxlan_tunnel *t, const struct mg_iface *ifc);
};

/** Limits the model enforces (the data plane's table sizes). */
struct mg_model_limits {
	uint32_t routes;      /**< Static routes, all networks. */
	uint32_t neighbors;   /**< Static neighbors. */
};

struct mg_model *mg_model_create(const struct mg_model_limits *limits);
void mg_model_destroy(struct mg_model *m);
/**
 * A shadow of @p m for trying changes before they reach the data plane: a
 * copy of its networks, ports, interfaces, routes and neighbors with no
 * backend, which lends (reads, never changes or frees) @p m's rule sets,
 * tunnels and WireGuard settings. Valid while @p m is unchanged; only the
 * operations of mg_txn.h may be applied to it. Freed with mg_model_destroy.
 * NULL when out of memory.
 */
struct mg_model *mg_model_shadow(const struct mg_model *m);
/** Attach (or detach with NULL) the data plane. */
void mg_model_set_backend(struct mg_model *m, const struct mg_model_backend *b);
/** Change the limits (the config file sets them before any request). */
void mg_model_set_limits(struct mg_model *m, const struct mg_model_limits *limits);
/** Replay every object into the backend in dependency order. */
int mg_model_replay(struct mg_model *m, struct mg_error *err);

int mg_model_network_add(struct mg_model *m, const struct mg_network_spec *s, struct mg_error *err);
int mg_model_network_del(struct mg_model *m, const char *name, struct mg_error *err);
/** Change the flow tracking of network @p name (checked, then the backend's network_flows). */
int mg_model_network_flows_set(struct mg_model *m, const char *name,
			       const struct mg_flows_spec *fs, struct mg_error *err);
int mg_model_port_add(struct mg_model *m, const struct mg_port_spec *s,
		      const char *origin, struct mg_error *err);
int mg_model_port_del(struct mg_model *m, const char *name, struct mg_error *err);
int mg_model_vlan_add(struct mg_model *m, const struct mg_vlan_spec *s, struct mg_error *err);
int mg_model_vlan_del(struct mg_model *m, const char *iface, struct mg_error *err);
int mg_model_addr_add(struct mg_model *m, const struct mg_addr_spec *s, struct mg_error *err);
int mg_model_addr_del(struct mg_model *m, const struct mg_addr_spec *s, struct mg_error *err);
int mg_model_route_add(struct mg_model *m, const struct mg_route_spec *s, struct mg_error *err);
int mg_model_route_del(struct mg_model *m, const char *network,
		       const struct mg_prefix *prefix, struct mg_error *err);
/** Change an existing route's next hop, interface or action, atomically. */
int mg_model_route_replace(struct mg_model *m, const struct mg_route_spec *s,
			   struct mg_error *err);
/** The request that would recreate route @p r. */
void mg_model_route_spec(const struct mg_model *m, const struct mg_route *r,
			 struct mg_route_spec *s);
/** The request that would recreate static neighbor @p n. */
void mg_model_neigh_spec(const struct mg_model *m, const struct mg_neigh *n,
			 struct mg_neigh_spec *s);
int mg_model_neigh_add(struct mg_model *m, const struct mg_neigh_spec *s, struct mg_error *err);
int mg_model_neigh_del(struct mg_model *m, const char *iface, const struct mg_ip *ip,
		       struct mg_error *err);
/**
 * Add a WireGuard interface (addresses are added afterwards like any
 * interface's). Checks names, networks, the listen port, duplicate peer
 * keys and allowed IPs claimed twice. The model keeps its own copy of @p s.
 */
int mg_model_wg_add(struct mg_model *m, const struct mg_wg_spec *s, struct mg_error *err);
/** Remove a WireGuard interface that no route uses. */
int mg_model_wg_del(struct mg_model *m, const char *name, struct mg_error *err);

/* Read access. Pointers stay valid until the next change. */
const struct mg_network *mg_model_network_find(const struct mg_model *m, const char *name);
const struct mg_network *mg_model_network_get(const struct mg_model *m, uint16_t id);
const struct mg_port *mg_model_port_find(const struct mg_model *m, const char *name);
const struct mg_port *mg_model_port_get(const struct mg_model *m, uint16_t id);
const struct mg_iface *mg_model_iface_find(const struct mg_model *m, const char *name);
/**
 * Whether the interface named @p name could be deleted now: 0 if it could
 * (or there is none: the delete reports that), -EBUSY with @p err (the
 * delete's own refusal) while routes, neighbors or rules use it. The
 * control plane asks before it journals a delete.
 */
int mg_model_iface_del_check(const struct mg_model *m, const char *name, struct mg_error *err);
const struct mg_iface *mg_model_iface_get(const struct mg_model *m, uint16_t id);
/** The interface of network @p net that has address @p ip (its IPv6 link-local too), or NULL. */
const struct mg_iface *mg_model_addr_owner(const struct mg_model *m, uint16_t net,
					   const struct mg_ip *ip);
/** Find the interface of network @p net whose connected subnet holds @p ip. */
const struct mg_iface *mg_model_iface_connected(const struct mg_model *m, uint16_t net,
						const struct mg_ip *ip);
const struct mg_route *mg_model_route_find(const struct mg_model *m, uint16_t net,
					   const struct mg_prefix *p);
/** Iterate routes: *cursor starts at 0; returns NULL at the end. */
const struct mg_route *mg_model_route_next(const struct mg_model *m, uint32_t *cursor);
const struct mg_neigh *mg_model_neigh_next(const struct mg_model *m, uint32_t *cursor);
uint32_t mg_model_route_count(const struct mg_model *m);
uint16_t mg_model_network_max(void);
uint16_t mg_model_port_max(void);
uint16_t mg_model_iface_max(void);

const char *mg_route_action_name(enum mg_route_action a);

/* ---- IPsec ESP tunnels (model_esp.c) ------------------------------------------------ */

#define MG_MODEL_MAX_ESP 256    /**< ESP tunnels. */
#define MG_ESP_TUN_MAX_SAS 4    /**< Outbound and inbound, for each inner family. */
#define MG_ESP_CONF_KEY_MAX 32  /**< Longest cipher or HMAC key. */
#define MG_ESP_MSS_AUTO 1       /**< mss_clamp: from the tunnel MTU. */
#define MG_ESP_MSS_MIN 536      /**< Smallest MSS to clamp to (RFC 879). */
#define MG_ESP_MSS_MAX 65495    /**< Largest. */

/** An SA of a tunnel as requested (keys included: never shown, wiped when dropped). */
struct mg_esp_sa_conf {
	uint32_t spi;               /**< 256 and above. */
	bool inbound;               /**< Direction: false outbound, true inbound. */
	uint8_t inner_family;       /**< AF_INET or AF_INET6: the inner packets it carries. */
	int algo;                   /**< enum mg_esp_algo (mg_esp_algos.h). */
	uint8_t key[MG_ESP_CONF_KEY_MAX];      /**< Cipher key. */
	uint8_t key_len;
	uint8_t auth_key[MG_ESP_CONF_KEY_MAX]; /**< HMAC key (CBC and NULL algorithms). */
	uint8_t auth_key_len;
	uint8_t salt[4];            /**< AES-GCM and ChaCha20-Poly1305 salt. */
	uint8_t salt_len;
	uint64_t packets_soft, packets_hard;  /**< Lifetime in packets (0: none). */
	uint64_t bytes_soft, bytes_hard;      /**< Lifetime in bytes. */
	uint64_t seconds_soft, seconds_hard;  /**< Lifetime in seconds. */
	/**
	 * Where to resume (durable state, lib/ctl): outbound, the first sequence
	 * number to send (0: 1); inbound, the highest one already seen (0: none).
	 */
	uint64_t initial_seq;
};

/** An ESP tunnel interface as requested. */
struct mg_esp_tunnel_spec {
	char name[MG_NAME_MAX];     /**< Interface name. */
	char network[MG_NAME_MAX];  /**< Network of the inner packets (empty: "default"). */
	char underlay[MG_NAME_MAX]; /**< Network of the outer packets (empty: @c network). */
	struct mg_ip local;         /**< Our outer address: an address of the underlay. */
	struct mg_ip remote;        /**< The peer's outer address (same family). */
	uint16_t mtu;               /**< Interface MTU; 0: the largest inner packet path_mtu fits. */
	uint16_t path_mtu;          /**< MTU of the outer path (0: 1500). */
	bool udp_encap;             /**< NAT-T (RFC 3948). */
	uint16_t local_port;        /**< 0: 4500. */
	uint16_t remote_port;       /**< 0: 4500. */
	uint32_t replay_window;     /**< 0: 64; 64..4096. */
	bool esn;                   /**< Extended sequence numbers. */
	bool no_replay;             /**< anti_replay: false (RFC 4303 3.4.3; benchmarks). */
	/**
	 * TCP MSS clamping of SYNs through the tunnel, both ways: 0 off,
	 * MG_ESP_MSS_AUTO from the tunnel MTU (MTU - 40 inner IPv4, - 60 IPv6),
	 * else the largest MSS (MG_ESP_MSS_MIN..MG_ESP_MSS_MAX).
	 */
	uint16_t mss_clamp;
	struct mg_esp_sa_conf sas[MG_ESP_TUN_MAX_SAS]; /**< At most one per direction and inner family. */
	uint8_t nsas;
};

/** An ESP tunnel. */
struct mg_esp_tunnel {
	bool used;
	uint16_t id;
	uint16_t iface;             /**< Its interface (kind MG_IFACE_ESP). */
	uint16_t network;           /**< Inner network id. */
	uint16_t underlay;          /**< Outer network id. */
	uint32_t rekeys;            /**< SA replacements so far. */
	struct mg_esp_tunnel_spec spec;
};

/** Check one SA request (field names relative to the SA). */
int mg_model_esp_sa_check(const struct mg_esp_sa_conf *c, struct mg_error *err);
/** Add an ESP tunnel and its interface. */
int mg_model_esp_add(struct mg_model *m, const struct mg_esp_tunnel_spec *s, struct mg_error *err);
/** Delete an ESP tunnel (refused while routes use it). */
int mg_model_esp_del(struct mg_model *m, const char *name, struct mg_error *err);
/**
 * Replace SAs of tunnel @p name: each of @p sas takes the place of the SA
 * with its direction and inner family (or is added). All or nothing.
 */
int mg_model_esp_rekey(struct mg_model *m, const char *name, const struct mg_esp_sa_conf *sas,
		       unsigned int n, struct mg_error *err);
const struct mg_esp_tunnel *mg_model_esp_find(const struct mg_model *m, const char *name);
/** The tunnel of interface @p iface, or NULL. */
const struct mg_esp_tunnel *mg_model_esp_by_iface(const struct mg_model *m, uint16_t iface);
/** Iterate tunnels: *cursor starts at 0; NULL at the end. */
const struct mg_esp_tunnel *mg_model_esp_next(const struct mg_model *m, uint32_t *cursor);
const char *mg_policy_name(enum mg_policy p);

/* ---- VXLAN tunnels (model_vxlan.c) ------------------------------------------------------ */

#define MG_MODEL_MAX_VXLAN 1024  /**< VXLAN tunnels. */
#define MG_VXLAN_DEFAULT_PORT 4789
#define MG_VXLAN_MAX_VNI 0xffffff

/**
 * A VXLAN tunnel interface as requested: an Ethernet link of @c network
 * whose frames travel in UDP between @c local (an address of @c underlay)
 * and @c remote (RFC 7348).
 */
struct mg_vxlan_spec {
	char name[MG_NAME_MAX];     /**< Interface name. */
	char network[MG_NAME_MAX];  /**< Network of the inner packets (empty: "default"). */
	char underlay[MG_NAME_MAX]; /**< Network of the outer packets (empty: @c network). */
	struct mg_ip local;         /**< Our VTEP: an address of the underlay. */
	struct mg_ip remote;        /**< The peer's VTEP (same family, unicast). */
	uint32_t vni;               /**< 0..MG_VXLAN_MAX_VNI */
	uint16_t port;              /**< UDP port; 0: MG_VXLAN_DEFAULT_PORT. */
	uint16_t mtu;               /**< 0: 1450 with an IPv4 underlay, 1430 with IPv6. */
	struct mg_mac mac;          /**< The interface's MAC. */
	bool mac_set;               /**< false: one derived from the name and VNI. */
};

/** A VXLAN tunnel. */
struct mg_vxlan_tunnel {
	bool used;
	uint16_t id;
	uint16_t iface;             /**< Its interface (kind MG_IFACE_VXLAN). */
	uint16_t network;           /**< Inner network id. */
	uint16_t underlay;          /**< Outer network id. */
	struct mg_vxlan_spec spec;  /**< As requested, defaults filled in (port, mtu, mac). */
};

/**
 * Add a VXLAN tunnel and its interface (addresses are added afterwards like
 * any interface's). Checks the name, networks, that @c local is an address
 * of the underlay, the VNI range, the MTU, and that no other tunnel has the
 * same underlay, VTEPs, port and VNI.
 */
int mg_model_vxlan_add(struct mg_model *m, const struct mg_vxlan_spec *s, struct mg_error *err);
/** Delete a VXLAN tunnel (refused while routes or static neighbors use it). */
int mg_model_vxlan_del(struct mg_model *m, const char *name, struct mg_error *err);
const struct mg_vxlan_tunnel *mg_model_vxlan_find(const struct mg_model *m, const char *name);
/** The tunnel of interface @p iface, or NULL. */
const struct mg_vxlan_tunnel *mg_model_vxlan_by_iface(const struct mg_model *m, uint16_t iface);
/** Iterate tunnels: *cursor starts at 0; NULL at the end. */
const struct mg_vxlan_tunnel *mg_model_vxlan_next(const struct mg_model *m, uint32_t *cursor);

#endif /* MG_MODEL_H */
