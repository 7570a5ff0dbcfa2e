/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_CONFIG_H
#define MG_CONFIG_H

/**
 * @file
 * The YAML configuration file. Loading it fills the start-up settings (EAL,
 * workers, pools, limits, timers) and turns every network, port, VLAN,
 * address, neighbor and route into a request on the model, exactly as the
 * NSM socket and REST do at runtime.
 *
 * Every error names FILE:LINE:COLUMN and the field path (for example
 * "gw.yaml:12:11: ports[0].mtu: 70000 is out of range 68-9600"). Loading
 * goes on after an error to report as many as it can; a file with any error
 * must not be started.
 */

#include <stdbool.h>
#include <stdint.h>

#include "mg_model.h"

struct mg_ike_peer_conf; /* mg_ike.h */

#define MG_MAX_LIST 64

/** Idle behaviour of a worker that finds no packets. */
enum mg_idle_mode {
	MG_IDLE_POLL = 0,   /**< Busy-poll always (benchmarks). */
	MG_IDLE_PAUSE,      /**< rte_pause() between empty polls. */
	MG_IDLE_SLEEP,      /**< Pause, then sleep with a growing period. */
	MG_IDLE_INTERRUPT,  /**< Pause, then wait for RX interrupts (sleep where a PMD has none). */
};

#define MG_CFG_MAX_SERVICES 256  /**< services: entries. */
#define MG_CFG_MAX_SVC_EPS 256   /**< Endpoints per service in the file. */
#define MG_CFG_MAX_SVC_VIPS 8    /**< VIPs per service. */

/** A service endpoint from the file (services[].endpoints[]). */
struct mg_svc_ep_cfg {
	char name[MG_NAME_MAX];
	struct mg_ip addr;          /**< A neighbor of the gateway in the service's network. */
	uint32_t weight;            /**< Default 1; 0 drains. */
	bool up;                    /**< Default true. */
	uint16_t port;              /**< Nat mode: the endpoint's port (0: the packet's). */
};

/** A service from the file (lib/svc steers its VIPs' packets to its endpoints). */
struct mg_svc_cfg {
	char name[MG_NAME_MAX];
	char network[MG_NAME_MAX];  /**< Default "default". */
	struct mg_ip vips[MG_CFG_MAX_SVC_VIPS];
	unsigned int nvips;
	uint32_t table_size;        /**< 0: the default (65537). */
	uint8_t mode;               /**< enum mg_svc_mode: 0 route, 1 nat. */
	unsigned int neps;
	struct mg_svc_ep_cfg eps[MG_CFG_MAX_SVC_EPS];
	char where[96];             /**< FILE:LINE:COLUMN of the entry, for start-up errors. */
};

#define MG_CFG_MAX_GATEWAYS 16    /**< gateways: entries (as MG_NATGW_MAX). */
#define MG_CFG_MAX_GW_PREFIXES 16 /**< routes / sources per gateway. */
#define MG_CFG_MAX_GW_PUBLISH 32  /**< publish entries per gateway. */

/** A published service of a gateway (gateways[].publish[]). */
struct mg_gw_pub_cfg {
	struct mg_ip addr;          /**< Outside address; family 0: the gateway's snat4/snat6. */
	uint8_t family;             /**< With addr unset: AF_INET, AF_INET6, or 0 for both. */
	uint8_t proto;              /**< IP protocol: TCP, UDP or SCTP. */
	uint16_t port;              /**< Outside port. */
	char service[MG_NAME_MAX];  /**< A nat-mode service of the inside network. */
};

/** A dual-homed gateway from the file (lib/natgw). */
struct mg_gw_cfg {
	char name[MG_NAME_MAX];
	char inside[MG_NAME_MAX];   /**< The pods' network. */
	char outside[MG_NAME_MAX];  /**< The external network. */
	struct mg_prefix routes[MG_CFG_MAX_GW_PREFIXES]; /**< Destinations that cross. */
	unsigned int nroutes;
	struct mg_prefix sources[MG_CFG_MAX_GW_PREFIXES]; /**< Inside sources allowed (none: any). */
	unsigned int nsources;
	struct mg_ip snat4, snat6;  /**< Masquerade addresses; family 0: the outside's first. */
	uint8_t ipv6;               /**< enum mg_natgw_v6: 0 nat66, 1 npt6, 2 route. */
	struct mg_prefix npt_inside, npt_outside; /**< NPTv6 prefixes (ipv6: npt6). */
	uint16_t port_first, port_last; /**< SNAT ports (default 1024-65535). */
	bool port_preserve;         /**< Keep the source port when free (default false). */
	struct mg_gw_pub_cfg pub[MG_CFG_MAX_GW_PUBLISH];
	unsigned int npub;
	char where[96];             /**< FILE:LINE:COLUMN of the entry, for start-up errors. */
};

/** Start-up settings: what cannot change while running. */
struct mg_settings {
	/* dpdk: */
	char lcores[128];           /**< EAL --lcores; empty: from the CPU affinity. */
	int main_lcore;             /**< -1: EAL's default (the first). */
	uint32_t memory_mb;
	bool hugepages;
	char file_prefix[64];
	char *pci_allow[MG_MAX_LIST];
	unsigned int npci_allow;
	char *vdevs[MG_MAX_LIST];   /**< Extra vdevs (crypto PMDs...), not ports. */
	unsigned int nvdevs;
	char *eal_args[MG_MAX_LIST];
	unsigned int neal_args;
	bool telemetry;
	/* workers: */
	unsigned int worker_lcores[128];
	unsigned int nworker_lcores;  /**< 0: every EAL lcore but the main one. */
	uint16_t burst;
	enum mg_idle_mode idle_mode;
	uint32_t idle_pause_polls;    /**< Empty polls before pausing. */
	uint32_t idle_sleep_polls;    /**< Empty polls before sleeping. */
	uint32_t idle_sleep_min_us;
	uint32_t idle_sleep_max_us;
	/* mbufs: */
	uint32_t mbufs;               /**< 0: computed from ports and workers. */
	uint32_t mbuf_cache;
	uint32_t mbuf_data_room;      /**< 0: fits the largest MTU. */
	/* limits: */
	uint32_t max_adjacencies;
	uint32_t max_routes;          /**< Static routes, all networks. */
	uint32_t fib_routes;          /**< Per network and family (incl. connected/host). */
	uint32_t fib_tbl8;            /**< IPv4 tbl8 groups per network (one per /24 with longer routes). */
	uint32_t fib6_tbl8;           /**< IPv6 tbl8 groups per network (a /64 takes ~5, a /128 ~13). */
	uint32_t max_neighbors;       /**< Dynamic + static neighbor entries. */
	uint32_t punt_ring;
	uint32_t inject_ring;
	uint32_t icmp_rate;           /**< ICMP errors per second per worker. */
	uint32_t icmp_burst;
	/* arp_nd: */
	uint32_t nd_reachable_ms;
	uint32_t nd_retrans_ms;
	uint32_t nd_probes;
	uint32_t nd_hold_packets;
	uint32_t nd_failed_ms;
	bool nd_announce;             /**< Gratuitous ARP / unsolicited NA for new addresses. */
	/* control: (empty strings: the defaults mg_gw works out) */
	char state_dir[256];
	char capture_dir[256];
	char nsm_socket[256];
	bool nsm_socket_set;          /**< Given in the file ("" there turns it off). */
	unsigned int nsm_uids[16];
	unsigned int nnsm_uids;
	char rest_listen[128];
	bool rest_listen_set;
	char rest_token_file[256];
	uint32_t rest_max_body;
	uint32_t rest_rate;           /**< Requests per second per client address; 0: no limit. */
	uint32_t rest_burst;          /**< Requests a client may send at once (0: twice rest_rate). */
	char rest_tls_cert[256];      /**< PEM certificate chain; empty: plain HTTP. */
	char rest_tls_key[256];       /**< PEM private key (given with the certificate). */
	uint32_t conn_max_lifetime_s;
	char node_name[64];
	/* stats / log: */
	uint32_t stats_interval_s;
	uint32_t log_level;           /**< RTE_LOG_* value. */
	char source[256];             /**< File the settings came from. */
	/* services: (start-up only for now) */
	struct mg_svc_cfg *services;  /**< nservices entries (owned). */
	unsigned int nservices;
	uint32_t svc_flows;           /**< limits.service_flows: flow table entries per worker. */
	uint32_t max_conns;           /**< limits.connections: NSM connections (at most 4096). */
	/* flow_history: */
	uint32_t flow_history;        /**< Ended flows kept (GET /v1/flows). */
	char flow_export_file[256];   /**< JSON lines appended here ("" none). */
	char flow_export_socket[108]; /**< JSON lines sent to this Unix datagram socket ("" none). */
	/* esp_tunnels[].ike: (start-up only for now; PSKs inside: wiped when freed) */
	struct mg_ike_peer_conf *ike_peers;  /**< nike_peers entries (owned). */
	unsigned int nike_peers;
	/* gateways: (start-up only) */
	struct mg_gw_cfg *gateways;   /**< ngateways entries (owned). */
	unsigned int ngateways;
};

/** Errors collected while loading. */
struct mg_config_errors {
	char **msgs;
	unsigned int n;
	unsigned int cap;
};

/** Defaults for every setting. */
void mg_settings_init(struct mg_settings *st);
/** Free what the settings own. */
void mg_settings_free(struct mg_settings *st);
/**
 * Wipe and free the IKE peers of the file (their PSKs and keys) once the
 * IKE engine has its own copies: a deleted tunnel's PSK then leaves memory.
 */
void mg_settings_drop_ike_peers(struct mg_settings *st);

/**
 * Load the file at @p path into @p st and @p m (which has no backend attached,
 * or one: the requests go through it either way). Returns the number of
 * errors appended to @p errs.
 */
unsigned int mg_config_load_file(const char *path, struct mg_settings *st,
				 struct mg_model *m, struct mg_config_errors *errs);
/** Same, from memory; @p name is used in messages. */
unsigned int mg_config_load_string(const char *name, const char *text, size_t len,
				   struct mg_settings *st, struct mg_model *m,
				   struct mg_config_errors *errs);

void mg_config_errors_free(struct mg_config_errors *errs);

/**
 * Parse one gateway (a `gateways:` entry as YAML or JSON text) with the
 * file's checks: networks are looked up in @p m (read only), published
 * services in @p services. Messages read "NAME:LINE:COLUMN: FIELD: what".
 * @return the number of errors appended to @p errs (0: @p g is set).
 */
unsigned int mg_config_gateway_parse(const char *name, const char *text, size_t len,
				     const struct mg_model *m, const struct mg_svc_cfg *services,
				     unsigned int nservices, struct mg_gw_cfg *g,
				     struct mg_config_errors *errs);

/** The embedded default configuration (conf/default.yaml). */
extern const char mg_config_default_yaml[];

#endif /* MG_CONFIG_H */
