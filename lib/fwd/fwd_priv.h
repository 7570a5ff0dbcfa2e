/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_FWD_PRIV_H
#define MG_FWD_PRIV_H

#include "mg_dp.h"
#include "mg_fwd.h"
#include "mg_hmap.h"

#define FWD_MAX_ADDRS MG_MODEL_MAX_ADDRS
#define FWD_MAX_HOLD 64
#define FWD_HELD_CAP 8192

/* What forwarding control knows of an interface. */
struct fwd_iface {
	bool used;
	uint16_t ifindex;
	uint16_t port;
	uint16_t vlan;
	uint16_t net;
	uint16_t mtu;
	struct rte_ether_addr mac;
	struct mg_ip ll6;
	char name[MG_NAME_MAX];
	struct mg_prefix a4[FWD_MAX_ADDRS];
	uint8_t n4;
	struct mg_prefix a6[FWD_MAX_ADDRS];
	uint8_t n6;
	uint32_t glean[2];      /* [0] IPv4, [1] IPv6: adjacency id, 0 if none */
	uint32_t glean_refs[2];
	uint8_t p2p_type;       /* 0, or the adjacency type a tunnel (WireGuard, ESP) uses in place of glean */
};

/* One prefix of one network, with what each source wants for it. */
struct rib_entry {
	bool used;
	uint16_t net;
	struct mg_prefix p;
	uint32_t adj[MG_RIB_SRC_MAX];
	uint16_t refs[MG_RIB_SRC_MAX];
	uint32_t installed;     /* adjacency in the FIB, 0 if none */
};

struct nbr {
	bool used;
	bool is_static;
	bool host_route;
	uint8_t state;          /* enum mg_nbr_state */
	uint8_t probes;
	uint16_t ifindex;
	uint16_t net;
	struct mg_ip ip;
	struct rte_ether_addr mac;
	uint32_t adj;
	uint32_t refs;
	uint64_t next_ns;       /* timer deadline, 0 if none */
	uint64_t confirmed_ns;
	uint16_t nheld;
	struct rte_mbuf *held[FWD_MAX_HOLD];
};

struct mg_fwd {
	struct mg_dp *dp;
	struct mg_fwd_conf conf;
	struct fwd_iface *ifs;          /* MG_MAX_IFACES */
	/* RIB */
	struct mg_hmap *rib_idx;
	struct rib_entry *rib;
	uint32_t rib_cap;
	uint64_t fib_rebuilds;          /* tables rebuilt after a refused add */
	/* Deletes per network and family since its last rebuild: DPDK's count
	 * drifts only through deletes, so a table refusing adds without any is
	 * really full and is not rebuilt again. */
	uint32_t fib_dels[MG_MAX_NETS][2];
	uint32_t *rib_free;
	uint32_t rib_nfree;
	/* Neighbors */
	struct mg_hmap *nbr_idx;
	struct nbr *nbrs;               /* conf.max_neighbors */
	uint32_t *nbr_free;
	uint32_t nbr_nfree;
	uint32_t nbr_count;
	uint32_t *adj_nbr;              /* adjacency id -> neighbor index + 1 */
	uint32_t held_total;
	uint64_t now_ns;
	uint64_t next_timer_ns;
};

/* fwd.c */
int fwd_rib_add(struct mg_fwd *f, uint16_t net, const struct mg_prefix *p,
		enum mg_rib_src src, uint32_t adj);
/* Point the existing entry of @src at @adj (its reference count unchanged). */
int fwd_rib_set(struct mg_fwd *f, uint16_t net, const struct mg_prefix *p,
		enum mg_rib_src src, uint32_t adj);
void fwd_rib_del(struct mg_fwd *f, uint16_t net, const struct mg_prefix *p,
		 enum mg_rib_src src);
struct fwd_iface *fwd_iface(struct mg_fwd *f, uint16_t ifindex);
/* The interface address whose subnet holds @ip, or NULL. */
const struct mg_prefix *fwd_iface_subnet_of(const struct fwd_iface *ifc, const struct mg_ip *ip);
bool fwd_iface_owns(const struct fwd_iface *ifc, const struct mg_ip *ip);

/* neigh.c */
int fwd_neigh_init(struct mg_fwd *f);
void fwd_neigh_fini(struct mg_fwd *f);
/* Find or create the neighbor (ifindex, ip) and take a reference. */
struct nbr *fwd_nbr_get(struct mg_fwd *f, uint16_t ifindex, const struct mg_ip *ip,
			struct mg_error *err);
void fwd_nbr_put(struct mg_fwd *f, struct nbr *n);
struct nbr *fwd_nbr_find(struct mg_fwd *f, uint16_t ifindex, const struct mg_ip *ip);
/* Drop every dynamic neighbor of @ifindex in @subnet (or all if NULL). */
void fwd_nbr_flush(struct mg_fwd *f, uint16_t ifindex, const struct mg_prefix *subnet);
/**
 * Destroy the dynamic neighbors in @p prefix on @p ifindex that an on-link
 * route made (outside every address of the interface), with their host
 * routes: the route is going.
 */
void fwd_nbr_flush_offlink(struct mg_fwd *f, uint16_t ifindex, const struct mg_prefix *prefix);
/**
 * Tell the link that @p ip (one of @p ifc's addresses) is at @p ifc's MAC:
 * a gratuitous ARP or an unsolicited NA (none on tunnels or without a MAC).
 */
void fwd_announce(struct mg_fwd *f, const struct fwd_iface *ifc, const struct mg_ip *ip);

#endif /* MG_FWD_PRIV_H */
