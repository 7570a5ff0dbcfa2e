/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <numa.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_ring.h>

#include "gw_cls.h"
#include "gw_ike.h"
#include "mg_config.h"
#include "mg_capture.h"
#include "gw_flows.h"
#include "mg_ctl.h"
#include "mg_dp.h"
#include "mg_fwd.h"
#include "mg_espgw.h"
#include "mg_gw.h"
#include "mg_model.h"
#include "mg_port.h"
#include "mg_rules.h"
#include "mg_stats.h"
#include "mg_natgw_setup.h"
#include "mg_svc_setup.h"
#include "mg_vxlan.h"
#include "mg_wgif.h"
#include "mg_workers.h"

RTE_LOG_REGISTER_SUFFIX(mg_gw_logtype, gw, INFO);
#define GW_LOG(l, ...) rte_log(RTE_LOG_##l, mg_gw_logtype, "meshgate: " __VA_ARGS__)

static volatile sig_atomic_t stop_requested;

void
mg_gw_request_stop(void)
{
	stop_requested = 1;
}

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Everything the running gateway owns. */
struct gw {
	struct mg_settings st;
	struct mg_model *model;
	struct mg_dp *dp;
	struct mg_fwd *fwd;
	struct mg_model_backend be;
	struct mg_ctl *ctl;
	struct mg_capture *capture;
	struct gw_ike *ike;        /* IKEv2 peers of ESP tunnels, or NULL */
	bool rx_interrupts;
	uint64_t next_stats_ns, next_print_ns, next_link_ns;
	uint64_t next_police_ns;  /* next rebalance of police rates between workers */
	uint32_t print_interval_s;
	bool svc_ready;           /* services set up: rule actions `service` resolve */
};

/* ---- model backend: the data plane side of every request ----------------------------- */

static int
be_network_add(void *ctx, const struct mg_network *n, struct mg_error *err)
{
	struct gw *g = ctx;
	int rc = mg_fwd_net_add(g->fwd, n, err);

	if (rc < 0 || !n->spec.flows.enabled)
		return rc;
	rc = mg_gw_flows_set(g->dp, n->id, &n->spec.flows, err);
	if (rc < 0)
		mg_fwd_net_del(g->fwd, n->id);
	return rc;
}

static void
be_network_del(void *ctx, const struct mg_network *n)
{
	struct gw *g = ctx;
	struct mg_flows_spec off = {.enabled = false};
	struct mg_error err;

	mg_gw_flows_set(g->dp, n->id, &off, &err);
	mg_fwd_net_del(g->fwd, n->id);
}

static int
be_network_flows(void *ctx, const struct mg_network *n, const struct mg_flows_spec *fs,
		 struct mg_error *err)
{
	struct gw *g = ctx;

	return mg_gw_flows_set(g->dp, n->id, fs, err);
}

/*
 * Which worker polls each RX queue of a port: the workers on its device's
 * NUMA node (mg_workers_place_rxqs()), with a warning when none runs there.
 */
static void
place_rxqs(const struct gw *g, const char *name, const struct mg_port_info *info,
	   uint16_t *owner)
{
	unsigned int nw = RTE_MIN(g->dp->nb_workers, (unsigned int)MG_PLACE_MAX_WORKERS);
	int nodes[MG_PLACE_MAX_WORKERS];
	unsigned int lcores[MG_PLACE_MAX_WORKERS];
	char warn[512];

	for (unsigned int w = 0; w < nw; w++) {
		lcores[w] = g->dp->workers[w]->lcore;
		nodes[w] = mg_port_lcore_node(lcores[w]);
	}
	/* A vdev lives wherever it was created: no node to follow. */
	if (mg_workers_place_rxqs(nodes, lcores, nw, info->vdev ? -1 : info->socket, info->nb_rxq,
				  owner, warn, sizeof(warn)) > 0)
		GW_LOG(WARNING, "%s: %s\n", name, warn);
}

static int
be_port_add(void *ctx, struct mg_port *p, struct mg_iface *ifc, struct mg_error *err)
{
	struct gw *g = ctx;
	struct mg_port_conf pc;
	struct mg_port_info info;
	struct rte_ether_addr mac;
	char devargs[MG_DEVICE_MAX];
	uint16_t owner[RTE_MAX_QUEUES_PER_PORT];
	int rc;

	rc = mg_port_resolve_device(p->spec.device, devargs, sizeof(devargs), err);
	if (rc < 0)
		return rc;
	memset(&pc, 0, sizeof(pc));
	pc.name = p->spec.name;
	pc.devargs = devargs;
	pc.mtu = p->spec.mtu;
	if (p->spec.mac_set) {
		memcpy(&mac, p->spec.mac.b, 6);
		pc.mac = &mac;
	}
	pc.rx_queues = p->spec.rx_queues;
	pc.rx_desc = p->spec.rx_desc;
	pc.tx_desc = p->spec.tx_desc;
	pc.promiscuous = p->spec.promiscuous;
	pc.rx_interrupts = g->rx_interrupts;
	pc.nb_workers = g->dp->nb_workers;
	rc = mg_port_open(g->dp, &pc, &info, err);
	if (rc < 0)
		return rc;
	place_rxqs(g, p->spec.name, &info, owner);
	p->ethdev = info.ethdev;
	g->next_stats_ns = 0; /* telemetry lists the new port at once */
	memcpy(ifc->mac.b, &info.mac, 6);
	rc = mg_fwd_iface_add(g->fwd, ifc, info.ethdev, err);
	if (rc < 0) {
		mg_port_close(g->dp, info.ethdev, info.vdev);
		return rc;
	}
	if (mg_workers_add_port(g->dp, info.ethdev, info.nb_rxq, owner, info.rx_interrupts) < 0) {
		mg_fwd_iface_del(g->fwd, ifc->id);
		mg_port_close(g->dp, info.ethdev, info.vdev);
		return mg_error_set(err, ENOMEM, "", "cannot assign RX queues to workers");
	}
	return 0;
}

static void
be_port_del(void *ctx, const struct mg_port *p, const struct mg_iface *ifc)
{
	struct gw *g = ctx;

	mg_workers_del_port(g->dp, p->ethdev);
	mg_fwd_iface_del(g->fwd, ifc->id);
	mg_port_close(g->dp, p->ethdev, !mg_port_is_pci(p->spec.device));
	/* Telemetry lists ports: let it forget this one now, not within a second. */
	g->next_stats_ns = 0;
}

static int
be_iface_add(void *ctx, const struct mg_iface *ifc, struct mg_error *err)
{
	struct gw *g = ctx;
	const struct mg_port *p = mg_model_port_get(g->model, ifc->port);
	int rc;

	if (p == NULL)
		return mg_error_set(err, ENOENT, "port", "port of '%s' is gone", ifc->name);
	if (mg_port_vlan(p->ethdev, ifc->vlan, true) != 0)
		return mg_error_set(err, EIO, "id", "the device refused VLAN %u in its filter",
				    ifc->vlan);
	rc = mg_fwd_iface_add(g->fwd, ifc, p->ethdev, err);
	if (rc < 0)
		mg_port_vlan(p->ethdev, ifc->vlan, false);
	return rc;
}

static void
be_iface_del(void *ctx, const struct mg_iface *ifc)
{
	struct gw *g = ctx;
	const struct mg_port *p = mg_model_port_get(g->model, ifc->port);

	mg_fwd_iface_del(g->fwd, ifc->id);
	if (p != NULL)
		mg_port_vlan(p->ethdev, ifc->vlan, false);
}

static int
be_addr_add(void *ctx, const struct mg_iface *ifc, const struct mg_prefix *a,
	    struct mg_error *err)
{
	struct gw *g = ctx;

	return mg_fwd_addr_add(g->fwd, ifc->id, a, err);
}

static void
be_addr_del(void *ctx, const struct mg_iface *ifc, const struct mg_prefix *a)
{
	struct gw *g = ctx;

	mg_fwd_addr_del(g->fwd, ifc->id, a);
}

static int
be_route_add(void *ctx, struct mg_route *r, struct mg_error *err)
{
	struct gw *g = ctx;

	return mg_fwd_route_add(g->fwd, r, err);
}

static void
be_route_del(void *ctx, const struct mg_route *r)
{
	struct gw *g = ctx;

	mg_fwd_route_del(g->fwd, r);
}

static int
be_route_replace(void *ctx, const struct mg_route *old, struct mg_route *r, struct mg_error *err)
{
	struct gw *g = ctx;

	return mg_fwd_route_replace(g->fwd, old, r, err);
}

static int
be_neigh_add(void *ctx, const struct mg_neigh *n, struct mg_error *err)
{
	struct gw *g = ctx;

	return mg_fwd_neigh_add(g->fwd, n, err);
}

static int
be_wg_add(void *ctx, const struct mg_iface *ifc, struct mg_error *err)
{
	struct gw *g = ctx;
	int rc = mg_fwd_iface_add(g->fwd, ifc, MG_IF_NONE, err);

	if (rc < 0)
		return rc;
	rc = mg_wgif_create(g->dp, ifc, err);
	if (rc < 0)
		mg_fwd_iface_del(g->fwd, ifc->id);
	return rc;
}

static void
be_wg_del(void *ctx, const struct mg_iface *ifc)
{
	struct gw *g = ctx;

	mg_wgif_destroy(g->dp, ifc->id);
	mg_fwd_iface_del(g->fwd, ifc->id);
}

static void
be_neigh_del(void *ctx, const struct mg_neigh *n)
{
	struct gw *g = ctx;

	mg_fwd_neigh_del(g->fwd, n);
}

static int
be_rules_set(void *ctx, uint16_t net, const struct mg_ruleset *rs, struct mg_error *err)
{
	struct gw *g = ctx;

	return mg_gw_cls_set(g->dp, net, rs, err);
}

/* Targets of rule actions `service` and `tunnel` (gw_cls.h). */
static int
cls_target(void *ctx, uint16_t net, const struct mg_rule *r, uint8_t family, uint32_t *adj,
	   struct mg_error *err)
{
	struct gw *g = ctx;
	char b[MG_IP_STRLEN];
	uint16_t snet;
	uint32_t a;

	*adj = 0;
	if (r->spec.action == MG_RULE_SERVICE) {
		if (!g->svc_ready)
			return 0; /* installed again once the services are up */
		a = mg_svc_ctl_adj(r->spec.service, &snet);
		if (a == 0)
			return mg_error_set(err, ENOENT, "service", "no service named '%s'",
					    r->spec.service);
		if (snet != net)
			return mg_error_set(err, EINVAL, "service",
					    "service '%s' is in network '%s', not this rule's",
					    r->spec.service, mg_model_network_get(g->model, snet)->spec.name);
		*adj = a;
		return 0;
	}
	if (r->tunnel_kind == MG_IFACE_VXLAN) {
		/* An Ethernet link: the held next hop's neighbor adjacency. */
		if (r->spec.via.family != family)
			return 0;
		if (mg_fwd_nexthop_hold(g->fwd, net, &r->spec.via, err) < 0) {
			mg_strlcpy(err->field, "via", sizeof(err->field));
			return -err->code;
		}
		a = mg_fwd_lookup(g->fwd, net, &r->spec.via);
		if (g->dp->adj[a].type != MG_ADJ_NEIGHBOR || g->dp->adj[a].ifindex != r->tunnel) {
			mg_fwd_nexthop_release(g->fwd, net, &r->spec.via);
			return mg_error_set(err, EINVAL, "via", "%s is not in a connected subnet of '%s'",
					    mg_ip_fmt(&r->spec.via, b, sizeof(b)), r->spec.tunnel);
		}
		*adj = a;
		return 0;
	}
	a = mg_dp_adj_alloc(g->dp, r->tunnel_kind == MG_IFACE_WG ? MG_ADJ_WG : MG_ADJ_ESP, family,
			    r->tunnel);
	if (a == 0)
		return mg_error_set(err, ENOSPC, "tunnel", "no adjacency left (limits.adjacencies)");
	*adj = a;
	return 0;
}

static void
cls_release(void *ctx, uint16_t net, const struct mg_rule *r, uint8_t family, uint32_t adj)
{
	struct gw *g = ctx;

	(void)family;
	if (r->spec.action != MG_RULE_TUNNEL)
		return;
	if (r->tunnel_kind == MG_IFACE_VXLAN)
		mg_fwd_nexthop_release(g->fwd, net, &r->spec.via);
	else
		mg_dp_adj_free(g->dp, adj); /* past a grace period only (limbo) */
}

/* Install again the rule sets that steer to services, now that those exist. */
static int
cls_services_up(struct gw *g, struct mg_error *err)
{
	g->svc_ready = true;
	for (uint16_t net = 0; net < MG_MAX_NETS && net < mg_model_network_max(); net++) {
		const struct mg_ruleset *rs = mg_model_rules_get(g->model, net);
		bool any = false;

		for (uint32_t i = 0; rs != NULL && i < rs->n && !any; i++)
			any = rs->rules[i].spec.action == MG_RULE_SERVICE;
		if (any && mg_gw_cls_set(g->dp, net, rs, err) < 0) {
			mg_error_prefix_field(err, "classify[%s]",
					      mg_model_network_get(g->model, net)->spec.name);
			return -err->code;
		}
	}
	return 0;
}

/* The stats JSON's "rules" member. */
static void
json_rules(FILE *f, void *arg)
{
	struct gw *g = arg;

	if (g->dp != NULL && g->model != NULL)
		mg_gw_cls_write_json(f, g->dp, g->model);
	if (mg_natgw_get() != NULL) {
		struct mg_natgw_stats s;

		/* The NAT counters (lib/natgw), summed over the workers. */
		mg_natgw_stats_sum(mg_natgw_get(), &s);
		fprintf(f, ",\n  \"nat\": {\"snat_flows\": %" PRIu64 ", \"dnat_flows\": %" PRIu64
			", \"translated_forward\": %" PRIu64 ", \"translated_reply\": %" PRIu64
			", \"icmp_errors\": %" PRIu64 ", \"npt6\": %" PRIu64 ", \"routed\": %" PRIu64
			", \"no_port\": %" PRIu64 ", \"no_flow\": %" PRIu64
			", \"source_not_allowed\": %" PRIu64 ", \"untranslatable\": %" PRIu64
			", \"handoffs\": %" PRIu64 ", \"handoff_drops\": %" PRIu64
			", \"fragments\": %" PRIu64 ", \"fragments_unknown\": %" PRIu64 "}",
			s.snat_flows, s.dnat_flows, s.xlate_fwd, s.xlate_reply, s.icmp_errors, s.npt6,
			s.routed, s.no_port, s.no_flow, s.not_allowed, s.untranslatable, s.handoffs,
			s.handoff_drops, s.frags, s.frag_unknown);
	}
}

static int
be_esp_add(void *ctx, const struct mg_esp_tunnel *t, struct mg_iface *ifc, struct mg_error *err)
{
	struct gw *g = ctx;
	struct mg_espgw *eg = mg_espgw_get(g->dp, err);
	uint16_t mtu;
	int rc;

	if (eg == NULL)
		return -err->code;
	rc = mg_espgw_tunnel_add(eg, t, ifc->id, &mtu, err);
	if (rc < 0)
		return rc;
	ifc->mtu = mtu;
	rc = mg_fwd_iface_add_p2p(g->fwd, ifc, MG_ADJ_ESP, err);
	if (rc < 0)
		mg_espgw_tunnel_del(eg, ifc->id);
	return rc;
}

static void
be_esp_del(void *ctx, const struct mg_esp_tunnel *t, const struct mg_iface *ifc)
{
	struct gw *g = ctx;

	mg_fwd_iface_del(g->fwd, ifc->id);
	if (g->dp->esp != NULL)
		mg_espgw_tunnel_del(g->dp->esp, ifc->id);
}

static int
be_esp_rekey(void *ctx, const struct mg_esp_tunnel *t, const struct mg_esp_sa_conf *sas,
	     unsigned int n, struct mg_error *err)
{
	struct gw *g = ctx;

	if (g->dp->esp == NULL)
		return mg_error_set(err, ENOENT, "", "no ESP tunnel is up");
	return mg_espgw_rekey(g->dp->esp, t, sas, n, err);
}

static int
be_vxlan_add(void *ctx, const struct mg_vxlan_tunnel *t, const struct mg_iface *ifc,
	     struct mg_error *err)
{
	struct gw *g = ctx;
	struct mg_vxlan *vx = mg_vxlan_get(g->dp, err);
	struct mg_vxlan_conf c;
	int rc;

	if (vx == NULL)
		return -err->code;
	memset(&c, 0, sizeof(c));
	c.ifindex = ifc->id;
	c.underlay = t->underlay;
	c.family = t->spec.local.family;
	memcpy(c.local, t->spec.local.bytes, 16);
	memcpy(c.remote, t->spec.remote.bytes, 16);
	c.port = t->spec.port;
	c.vni = t->spec.vni;
	mg_strlcpy(c.name, t->spec.name, sizeof(c.name));
	rc = mg_vxlan_tunnel_add(vx, &c, err);
	if (rc < 0)
		return rc;
	/* An Ethernet interface whose port is virtual: the tunnel stands for it. */
	rc = mg_fwd_iface_add(g->fwd, ifc, (uint16_t)(MG_PORT_VIRT ^ ifc->id), err);
	if (rc < 0)
		mg_vxlan_tunnel_del(vx, ifc->id);
	return rc;
}

static void
be_vxlan_del(void *ctx, const struct mg_vxlan_tunnel *t, const struct mg_iface *ifc)
{
	struct gw *g = ctx;

	(void)t;
	mg_fwd_iface_del(g->fwd, ifc->id);
	mg_vxlan_tunnel_del(g->dp->vxlan, ifc->id);
}

/* ---- EAL arguments ------------------------------------------------------------------ */

struct argv_buf {
	char *v[256];    /* handed to rte_eal_init, which reorders it */
	char *own[256];  /* the same strings, for freeing */
	int n;
};

static void
arg(struct argv_buf *a, const char *s)
{
	if (a->n < (int)RTE_DIM(a->v) - 1) {
		a->own[a->n] = strdup(s);
		a->v[a->n] = a->own[a->n];
		a->n++;
	}
}

static bool
user_has(const struct mg_gw_opts *o, const char *const *names)
{
	for (int i = 0; i < o->eal_argc; i++)
		for (unsigned int k = 0; names[k]; k++) {
			size_t l = strlen(names[k]);

			if (strncmp(o->eal_argv[i], names[k], l) == 0 &&
			    (o->eal_argv[i][l] == '\0' || o->eal_argv[i][l] == '='))
				return true;
		}
	return false;
}

/*
 * The EAL command line: the file's dpdk: section, then the user's arguments
 * after "--", which win: a setting given there is left out of ours.
 */
static int
build_eal_args(const struct gw *g, const struct mg_gw_opts *o, struct argv_buf *a)
{
	static const char *const lcore_opts[] = {"-l", "-c", "--lcores", NULL};
	static const char *const main_opts[] = {"--main-lcore", NULL};
	static const char *const mem_opts[] = {"-m", "--socket-mem", NULL};
	static const char *const huge_opts[] = {"--no-huge", "--in-memory", "--huge-dir",
						"--no-shconf", "--legacy-mem", NULL};
	static const char *const prefix_opts[] = {"--file-prefix", NULL};
	static const char *const pci_opts[] = {"-a", "-b", "--allow", "--block", "--no-pci",
					       NULL};
	const struct mg_settings *st = &g->st;
	char buf[256];
	bool any_pci = st->npci_allow > 0;

	arg(a, o->prog ? o->prog : "meshgate");
	if (!user_has(o, lcore_opts)) {
		if (st->lcores[0] != '\0') {
			arg(a, "--lcores");
			arg(a, st->lcores);
		} else {
			cpu_set_t set;

			/* One CPU (a small pod): run the main lcore and a worker on it. */
			if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) == 1) {
				for (int c = 0; c < CPU_SETSIZE; c++)
					if (CPU_ISSET(c, &set)) {
						snprintf(buf, sizeof(buf), "0@%d,1@%d", c, c);
						break;
					}
				arg(a, "--lcores");
				arg(a, buf);
			}
		}
	}
	if (st->main_lcore >= 0 && !user_has(o, main_opts)) {
		snprintf(buf, sizeof(buf), "%d", st->main_lcore);
		arg(a, "--main-lcore");
		arg(a, buf);
	}
	arg(a, "-n");
	arg(a, "1");
	if (!user_has(o, huge_opts)) {
		if (st->hugepages) {
			arg(a, "--in-memory");
		} else {
			arg(a, "--no-huge");
			arg(a, "--no-shconf");
		}
	}
	if (!user_has(o, mem_opts)) {
		snprintf(buf, sizeof(buf), "%u", st->memory_mb);
		arg(a, "-m");
		arg(a, buf);
	}
	if (!user_has(o, prefix_opts)) {
		arg(a, "--file-prefix");
		arg(a, st->file_prefix);
	}
	if (!user_has(o, pci_opts)) {
		for (unsigned int i = 0; i < MG_MODEL_MAX_PORTS; i++) {
			const struct mg_port *p = mg_model_port_get(g->model, (uint16_t)i);
			struct mg_error err;
			char dev[MG_DEVICE_MAX];

			if (p == NULL)
				continue;
			if (mg_port_resolve_device(p->spec.device, dev, sizeof(dev), &err) < 0) {
				fprintf(stderr, "%s: ports[%s].device: %s\n", p->origin, p->spec.name,
					err.msg);
				return -1;
			}
			if (mg_port_is_pci(dev)) {
				arg(a, "-a");
				arg(a, dev);
				any_pci = true;
			}
		}
		for (unsigned int i = 0; i < st->npci_allow; i++) {
			arg(a, "-a");
			arg(a, st->pci_allow[i]);
		}
		if (!any_pci)
			arg(a, "--no-pci");
	}
	for (unsigned int i = 0; i < st->nvdevs; i++) {
		arg(a, "--vdev");
		arg(a, st->vdevs[i]);
	}
	if (!st->telemetry)
		arg(a, "--no-telemetry");
	for (unsigned int i = 0; i < st->neal_args; i++)
		arg(a, st->eal_args[i]);
	for (int i = 0; i < o->eal_argc; i++)
		arg(a, o->eal_argv[i]);
	a->v[a->n] = NULL;
	return 0;
}

/* ---- sizing --------------------------------------------------------------------------- */

static void
size_pools(const struct gw *g, unsigned int nb_workers, uint32_t *mbufs, uint32_t *room)
{
	uint32_t need = 0, mtu = 1500;

	for (unsigned int i = 0; i < MG_MODEL_MAX_PORTS; i++) {
		const struct mg_port *p = mg_model_port_get(g->model, (uint16_t)i);
		uint32_t rxq, rxd, txd;

		if (p == NULL)
			continue;
		rxq = p->spec.rx_queues ? p->spec.rx_queues : nb_workers;
		rxd = p->spec.rx_desc ? p->spec.rx_desc : 1024;
		txd = p->spec.tx_desc ? p->spec.tx_desc : 1024;
		need += rxq * rxd + nb_workers * txd;
		if (p->spec.mtu > mtu)
			mtu = p->spec.mtu;
	}
	/* In flight in graphs, staged for TX, held for ARP/ND, in rings; and
	 * room for ports added at runtime. */
	need += (nb_workers + 1) * (g->st.mbuf_cache + 4 * RTE_GRAPH_BURST_SIZE +
				    MG_MAX_PORTS * MG_TXB_SIZE / 4);
	need += g->st.punt_ring * nb_workers + g->st.inject_ring * nb_workers + 8192;
	*mbufs = g->st.mbufs ? g->st.mbufs : RTE_MAX(need + need / 2, 16384u);
	*room = g->st.mbuf_data_room
			? g->st.mbuf_data_room
			: RTE_MAX((uint32_t)RTE_MBUF_DEFAULT_DATAROOM,
				  mtu + (uint32_t)RTE_ETHER_HDR_LEN + 8 + RTE_ETHER_CRC_LEN);
}

/* ---- main lcore loop -------------------------------------------------------------------- */

static unsigned int
port_refs(const struct gw *g, struct mg_stats_port_ref *refs)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < MG_MODEL_MAX_PORTS; i++) {
		const struct mg_port *p = mg_model_port_get(g->model, (uint16_t)i);

		if (p != NULL && p->ethdev != UINT16_MAX) {
			refs[n].name = p->spec.name;
			refs[n].ethdev = p->ethdev;
			n++;
		}
	}
	return n;
}

static void
ctl_stats(void *ctx, struct mg_stats *out)
{
	struct gw *g = ctx;
	struct mg_stats_port_ref refs[MG_MAX_PORTS];

	mg_stats_collect(g->dp, refs, port_refs(g, refs), mg_fwd_neigh_count(g->fwd), out);
}

static void
ctl_esp_sas(void *ctx, uint16_t ifindex, FILE *f)
{
	struct gw *g = ctx;

	mg_espgw_sas_json(g->dp->esp, ifindex, f);
}

static unsigned int
ctl_esp_seqs(void *ctx, uint16_t ifindex, struct mg_ctl_esp_seq *out, unsigned int max)
{
	struct gw *g = ctx;
	struct mg_espgw_seq q[MG_ESP_TUN_MAX_SAS];
	unsigned int n = mg_espgw_seqs(g->dp->esp, ifindex, q, RTE_DIM(q));

	n = RTE_MIN(n, max);
	for (unsigned int i = 0; i < n; i++)
		out[i] = (struct mg_ctl_esp_seq){.spi = q[i].spi, .inbound = q[i].inbound,
						 .inner_family = q[i].inner_family,
						 .seq = q[i].seq};
	return n;
}

static void
ctl_ike_json(void *ctx, FILE *f)
{
	struct gw *g = ctx;

	gw_ike_json(g->ike, f);
}

/* IKE SA events to the control plane: NSM IPSEC connections show them to their monitors. */
static void
ike_to_ctl(void *arg, const char *tunnel, const char *event, const char *reason)
{
	struct gw *g = arg;

	mg_ctl_ike_event(g->ctl, tunnel, event, reason);
}

/* REST / NSM / restored state: an IKE peer for an ESP tunnel (the engine made on first use). */
static int
ctl_ike_set(void *ctx, const struct mg_ike_peer_conf *c, struct mg_error *err)
{
	struct gw *g = ctx;

	if (g->ike == NULL) {
		g->ike = gw_ike_create(g->dp, g->model);
		if (g->ike == NULL)
			return mg_error_set(err, ENOMEM, "", "out of memory for IKE");
		gw_ike_on_event(g->ike, ike_to_ctl, g);
	}
	return gw_ike_set(g->ike, c, err);
}

static int
ctl_ike_del(void *ctx, const char *name)
{
	struct gw *g = ctx;

	return gw_ike_del(g->ike, name);
}

static void
ctl_esp_metrics(void *ctx, FILE *f)
{
	struct gw *g = ctx;

	mg_espgw_metrics(g->dp->esp, f);
	mg_vxlan_metrics(g->dp->vxlan, f);
	gw_ike_metrics(g->ike, f);
}

static void
ctl_vxlan_counters(void *ctx, uint16_t ifindex, uint64_t out[5])
{
	struct gw *g = ctx;
	struct mg_vxlan_counters c;

	mg_vxlan_counters(g->dp->vxlan, ifindex, &c);
	out[0] = c.rx_pkts;
	out[1] = c.rx_bytes;
	out[2] = c.tx_pkts;
	out[3] = c.tx_bytes;
	out[4] = c.tx_errors;
}

static void
print_stats(const struct gw *g, FILE *f, const char *json_path)
{
	struct mg_stats_port_ref refs[MG_MAX_PORTS];
	struct mg_stats *s = malloc(sizeof(*s));

	if (s == NULL)
		return;
	mg_stats_collect(g->dp, refs, port_refs(g, refs), mg_fwd_neigh_count(g->fwd), s);
	mg_stats_print(f, s);
	fflush(f);
	if (json_path != NULL) {
		FILE *jf = fopen(json_path, "w");

		if (jf == NULL) {
			fprintf(stderr, "meshgate: cannot write %s: %s\n", json_path, strerror(errno));
		} else {
			mg_stats_write_json(jf, s);
			fclose(jf);
		}
	}
	free(s);
}

static bool
punt_pending(const struct gw *g)
{
	for (unsigned int w = 0; w < g->dp->nb_workers; w++)
		if (rte_ring_count(g->dp->workers[w]->punt) != 0)
			return true;
	return false;
}

/*
 * Sleep until the next timer is due, a worker punts something, or at most
 * @max_ns. Workers write to main_wake_fd only while main_sleeping is set.
 */
static void
main_wait(struct gw *g, uint64_t now, uint64_t max_ns)
{
	uint64_t until = now + max_ns, t = mg_fwd_next_timer(g->fwd), v;
	struct pollfd pfd[80];
	int fds[79];
	unsigned int n = 0;
	struct timespec ts;

	if (t != 0 && t < until)
		until = t;
	if (mg_wgif_next_timer(g->dp) < until)
		until = mg_wgif_next_timer(g->dp);
	if (gw_ike_next_timer(g->ike) < until)
		until = gw_ike_next_timer(g->ike);
	if (g->next_stats_ns < until)
		until = g->next_stats_ns;
	if (g->capture != NULL && mg_capture_timeout(g->capture) < until - now)
		until = now + mg_capture_timeout(g->capture);
	if (g->ctl != NULL) {
		uint64_t ct = mg_ctl_timeout(g->ctl, now);

		if (now + ct < until)
			until = now + ct;
		n = mg_ctl_fds(g->ctl, fds, RTE_DIM(fds));
	}
	if (until <= now)
		return;
	pfd[0].fd = g->dp->main_wake_fd;
	pfd[0].events = POLLIN;
	for (unsigned int i = 0; i < n; i++) {
		pfd[i + 1].fd = fds[i];
		pfd[i + 1].events = POLLIN;
	}
	__atomic_store_n(&g->dp->main_sleeping, 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!punt_pending(g) && !mg_wgif_pending(g->dp)) {
		ts.tv_sec = (time_t)((until - now) / 1000000000ull);
		ts.tv_nsec = (long)((until - now) % 1000000000ull);
		ppoll(pfd, n + 1, &ts, NULL);
	}
	__atomic_store_n(&g->dp->main_sleeping, 0, __ATOMIC_RELAXED);
	if (read(g->dp->main_wake_fd, &v, sizeof(v)) < 0)
		v = 0; /* nothing was signalled */
}

static void
main_loop(struct gw *g)
{
	struct rte_mbuf *pkts[64];

	while (!stop_requested) {
		uint64_t now = mg_now_ns();
		unsigned int got = 0;

		for (unsigned int w = 0; w < g->dp->nb_workers; w++) {
			unsigned int n = rte_ring_sc_dequeue_burst(g->dp->workers[w]->punt,
								   (void **)pkts, RTE_DIM(pkts), NULL);

			for (unsigned int i = 0; i < n; i++) {
				if (mg_meta(pkts[i])->punt == MG_PUNT_IKE)
					gw_ike_input(g->ike, pkts[i]);
				else
					mg_fwd_punt(g->fwd, pkts[i]);
			}
			got += n;
		}
		mg_fwd_timer(g->fwd, now);
		got += mg_wgif_poll(g->dp, now);
		mg_espgw_poll(g->dp->esp, now);
		mg_vxlan_poll(g->dp->vxlan, now);
		mg_gw_flows_poll(g->dp);
		gw_ike_poll(g->ike, now);
		mg_dp_reclaim(g->dp);
		if (now >= g->next_police_ns) {
			mg_gw_cls_rebalance(g->dp);
			g->next_police_ns = now + 50000000ull;
		}
		if (now >= g->next_stats_ns) {
			struct mg_stats_port_ref refs[MG_MAX_PORTS];

			mg_stats_refresh(g->dp, refs, port_refs(g, refs), mg_fwd_neigh_count(g->fwd));
			mg_gw_cls_refresh(g->dp, g->model);
			g->next_stats_ns = now + 1000000000ull;
		}
		if (now >= g->next_link_ns) {
			mg_port_poll_link(g->dp);
			g->next_link_ns = now + 1000000000ull;
		}
		if (g->capture != NULL)
			mg_capture_poll(g->capture, now);
		if (g->ctl != NULL)
			mg_ctl_run(g->ctl, now);
		if (g->print_interval_s && now >= g->next_print_ns) {
			printf("--- meshgate counters ---\n");
			print_stats(g, stdout, NULL);
			g->next_print_ns = now + (uint64_t)g->print_interval_s * 1000000000ull;
		}
		/* A signal interrupts the wait; the loop then sees stop_requested. */
		if (got == 0)
			main_wait(g, now, 100000000ull);
	}
}

/* ---- control plane ------------------------------------------------------------------------ */

/* A port's ethdev id by name, for captures. */
static int
capture_port(void *ctx, const char *name, uint16_t *port)
{
	struct gw *g = ctx;
	const struct mg_port *p = mg_model_port_find(g->model, name);

	if (p == NULL || p->ethdev == UINT16_MAX)
		return -ENOENT;
	*port = p->ethdev;
	return 0;
}

/* Names for trace output. */
static void
capture_name(void *ctx, enum mg_name_kind kind, unsigned int id, char *buf, size_t n)
{
	const struct gw *g = ctx;
	const char *name = NULL;

	if (kind == MG_NAME_PORT && id <= UINT16_MAX && mg_port_virtual((uint16_t)id)) {
		/* A VXLAN interface's virtual port: the interface's name. */
		const struct mg_iface *ifc = mg_model_iface_get(g->model, (uint16_t)(id ^ MG_PORT_VIRT));

		name = ifc ? ifc->name : NULL;
	} else if (kind == MG_NAME_PORT) {
		for (unsigned int i = 0; i < MG_MODEL_MAX_PORTS && name == NULL; i++) {
			const struct mg_port *p = mg_model_port_get(g->model, (uint16_t)i);

			if (p != NULL && p->ethdev == id)
				name = p->spec.name;
		}
	} else if (kind == MG_NAME_IFACE && id <= UINT16_MAX) {
		const struct mg_iface *ifc = mg_model_iface_get(g->model, (uint16_t)id);

		name = ifc ? ifc->name : NULL;
	} else if (kind == MG_NAME_NET && id <= UINT16_MAX) {
		const struct mg_network *net = mg_model_network_get(g->model, (uint16_t)id);

		name = net ? net->spec.name : NULL;
	}
	if (name != NULL)
		mg_strlcpy(buf, name, n);
	else
		snprintf(buf, n, "#%u", id);
}

/* control.capture_dir, else /var/tmp/meshgate/PREFIX (the DPDK file prefix). */
static void
capture_dir(const struct gw *g, char *out, size_t n)
{
	const char *rundir = rte_eal_get_runtime_dir();
	const char *prefix = strrchr(rundir, '/') ? strrchr(rundir, '/') + 1 : rundir;

	if (g->st.capture_dir[0] != '\0')
		mg_strlcpy(out, g->st.capture_dir, n);
	else
		snprintf(out, n, "/var/tmp/meshgate/%s", prefix);
}

/*
 * The default instance ("meshgate" file prefix) serves /run/meshgate/nsm.sock
 * and 127.0.0.1:8080; another prefix keeps its sockets in its own DPDK
 * runtime directory and takes an ephemeral REST port (written to rest.addr
 * there), so several gateways never collide.
 */
static void
control_conf(const struct gw *g, struct mg_ctl_conf *cc)
{
	const struct mg_settings *st = &g->st;
	const char *rundir = rte_eal_get_runtime_dir();
	bool dflt = strcmp(strrchr(rundir, '/') ? strrchr(rundir, '/') + 1 : rundir, "meshgate") == 0;

	memset(cc, 0, sizeof(*cc));
	mg_strlcpy(cc->run_dir, rundir, sizeof(cc->run_dir));
	mg_strlcpy(cc->state_dir, st->state_dir, sizeof(cc->state_dir));
	if (st->nsm_socket_set)
		mg_strlcpy(cc->nsm_socket, st->nsm_socket, sizeof(cc->nsm_socket));
	else if (dflt)
		mg_strlcpy(cc->nsm_socket, "/run/meshgate/nsm.sock", sizeof(cc->nsm_socket));
	else
		snprintf(cc->nsm_socket, sizeof(cc->nsm_socket), "%s/nsm.sock", rundir);
	memcpy(cc->nsm_uids, st->nsm_uids, sizeof(cc->nsm_uids));
	cc->nnsm_uids = st->nnsm_uids;
	if (st->rest_listen_set)
		mg_strlcpy(cc->rest_listen, st->rest_listen, sizeof(cc->rest_listen));
	else
		mg_strlcpy(cc->rest_listen, dflt ? "127.0.0.1:8080" : "127.0.0.1:0",
			   sizeof(cc->rest_listen));
	mg_strlcpy(cc->token_file, st->rest_token_file, sizeof(cc->token_file));
	cc->max_body = st->rest_max_body;
	cc->rest_rate = st->rest_rate;
	cc->rest_burst = st->rest_burst;
	mg_strlcpy(cc->tls_cert, st->rest_tls_cert, sizeof(cc->tls_cert));
	mg_strlcpy(cc->tls_key, st->rest_tls_key, sizeof(cc->tls_key));
	cc->max_lifetime_s = st->conn_max_lifetime_s;
	cc->max_conns = st->max_conns;
	mg_strlcpy(cc->node_name, st->node_name, sizeof(cc->node_name));
}

/* ---- run ------------------------------------------------------------------------------- */

/*
 * With --no-shconf or --in-memory the runtime directory holds only the
 * telemetry socket: remove both, or every run with its own file prefix leaves
 * a directory behind. With shared config files (a user's EAL override) the
 * rmdir fails, harmlessly, and they stay.
 */
static void
remove_rundir(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/dpdk_telemetry.v2", dir);
	unlink(path);
	rmdir(dir);
}

static void
print_errors(const struct mg_config_errors *errs, const char *src)
{
	for (unsigned int i = 0; i < errs->n; i++)
		fprintf(stderr, "%s\n", errs->msgs[i]);
	fprintf(stderr, "meshgate: %u error%s in %s; nothing started\n", errs->n,
		errs->n == 1 ? "" : "s", src);
}

/*
 * Resolve every port's device before anything starts, so that discovery
 * problems (a variable, file or annotation missing or wrong, two ports on one
 * PCI device) are reported with the file's line, by --check too.
 */
static unsigned int
check_devices(const struct gw *g, bool check_only)
{
	struct mg_port_devref refs[MG_MODEL_MAX_PORTS];
	unsigned int n = 0;

	for (unsigned int i = 0; i < MG_MODEL_MAX_PORTS; i++) {
		const struct mg_port *p = mg_model_port_get(g->model, (uint16_t)i);

		if (p != NULL)
			refs[n++] = (struct mg_port_devref){p->spec.name, p->spec.device, p->origin};
	}
	return mg_port_devices_check(refs, n, check_only, stderr);
}

/*
 * The lcores the configuration gives its workers, before the EAL exists:
 * only when dpdk.lcores is a plain CPU list ("1-3,6": lcore N on CPU N) or
 * absent (the CPUs of this process). Returns how many; 0 when it cannot
 * tell (an --lcores map like "0@0,1@2").
 */
static unsigned int
config_workers(const struct mg_settings *st, unsigned int *lcores, unsigned int max)
{
	bool used[CPU_SETSIZE] = {false};
	unsigned int n = 0;
	int main_lcore = st->main_lcore;

	if (st->lcores[0] == '\0') {
		cpu_set_t set;

		if (sched_getaffinity(0, sizeof(set), &set) != 0)
			return 0;
		for (int c = 0; c < CPU_SETSIZE; c++)
			used[c] = CPU_ISSET(c, &set);
	} else {
		const char *p = st->lcores;

		if (p[strspn(p, "0123456789,-")] != '\0')
			return 0;
		while (*p != '\0') {
			char *end;
			long a = strtol(p, &end, 10), b = a;

			if (end == p)
				return 0;
			if (*end == '-')
				b = strtol(end + 1, &end, 10);
			if (a < 0 || b < a || b >= CPU_SETSIZE)
				return 0;
			for (long c = a; c <= b; c++)
				used[c] = true;
			p = *end == ',' ? end + 1 : end;
		}
	}
	if (st->nworker_lcores > 0) {
		for (unsigned int i = 0; i < st->nworker_lcores && n < max; i++)
			lcores[n++] = st->worker_lcores[i];
		return n;
	}
	for (int c = 0; c < CPU_SETSIZE && n < max; c++) {
		if (!used[c])
			continue;
		if (main_lcore < 0)
			main_lcore = c; /* the EAL's default: the first */
		else if (c != main_lcore)
			lcores[n++] = (unsigned int)c;
	}
	return n;
}

/*
 * --check: warn, as the start would, when a PCI port's RX queues would be
 * polled from another NUMA node than its device's (sysfs tells the node).
 */
static void
check_numa(const struct gw *g)
{
	struct mg_numa_port ports[MG_MODEL_MAX_PORTS];
	char pci[MG_MODEL_MAX_PORTS][MG_DEVICE_MAX];
	unsigned int lcores[MG_PLACE_MAX_WORKERS], n = 0, nw;
	int nodes[MG_PLACE_MAX_WORKERS];

	nw = config_workers(&g->st, lcores, MG_PLACE_MAX_WORKERS);
	if (nw == 0)
		return;
	for (unsigned int w = 0; w < nw; w++)
		nodes[w] = numa_available() < 0 ? 0 : numa_node_of_cpu((int)lcores[w]);
	for (unsigned int i = 0; i < MG_MODEL_MAX_PORTS; i++) {
		const struct mg_port *p = mg_model_port_get(g->model, (uint16_t)i);
		struct mg_error err;

		if (p == NULL || mg_port_resolve_device(p->spec.device, pci[n], sizeof(pci[n]),
							&err) < 0 || !mg_port_is_pci(pci[n]))
			continue;
		ports[n] = (struct mg_numa_port){p->spec.name, p->origin, pci[n], p->spec.rx_queues};
		n++;
	}
	mg_workers_numa_check(ports, n, nodes, lcores, nw, "/sys", stderr);
}

/* Add NUMA node @p s to @p nodes unless it is there or unknown (negative). */
static void
add_node(int *nodes, int *n, int s)
{
	if (s < 0 || *n >= RTE_MAX_NUMA_NODES)
		return;
	for (int k = 0; k < *n; k++)
		if (nodes[k] == s)
			return;
	nodes[(*n)++] = s;
}

static unsigned int
count_ports(const struct mg_model *m)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < MG_MODEL_MAX_PORTS; i++)
		n += mg_model_port_get(m, (uint16_t)i) != NULL;
	return n;
}

int
mg_gw_run(const struct mg_gw_opts *o)
{
	struct mg_model_limits lim = {.routes = 65536, .neighbors = 16384};
	struct mg_config_errors errs = {0};
	struct gw *g = calloc(1, sizeof(*g));
	struct argv_buf eal = {.n = 0};
	struct mg_dp_conf dc;
	struct mg_fwd_conf fc;
	struct mg_idle_conf ic;
	struct mg_error err;
	const char *src = o->config ? o->config : "<embedded default>";
	unsigned int nerr, nw;
	uint32_t mbufs, room;
	int sockets[RTE_MAX_NUMA_NODES], nsockets = 0, status = 1, rc;
	bool eal_up = false, workers_up = false, from_state = false;

	if (g == NULL)
		return 1;
	mg_settings_init(&g->st);
	g->model = mg_model_create(&lim);
	if (g->model == NULL)
		goto out;
	if (o->config != NULL)
		nerr = mg_config_load_file(o->config, &g->st, g->model, &errs);
	else
		nerr = mg_config_load_string("<embedded default>", mg_config_default_yaml,
					     strlen(mg_config_default_yaml), &g->st, g->model, &errs);
	if (nerr > 0) {
		print_errors(&errs, src);
		goto out;
	}
	nerr = check_devices(g, o->check_only);
	if (nerr > 0) {
		fprintf(stderr, "meshgate: %u error%s in %s; nothing started\n", nerr,
			nerr == 1 ? "" : "s", src);
		goto out;
	}
	if (o->check_only) {
		check_numa(g);
		printf("%s: OK (%u port(s), %u route(s))\n", src, count_ports(g->model),
		       mg_model_route_count(g->model));
		status = 0;
		goto out;
	}
	g->print_interval_s = o->stats_interval >= 0 ? (uint32_t)o->stats_interval
						     : g->st.stats_interval_s;

	if (build_eal_args(g, o, &eal) < 0)
		goto out;
	rc = rte_eal_init(eal.n, eal.v);
	if (rc < 0) {
		fprintf(stderr, "meshgate: cannot start the DPDK EAL: %s (its message is above)\n",
			rte_strerror(rte_errno));
		goto out;
	}
	eal_up = true;
	rte_log_set_level_pattern("mg.*", g->st.log_level);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (mg_meta_register() < 0) {
		fprintf(stderr, "meshgate: cannot register the mbuf metadata field\n");
		goto out;
	}
	nw = g->st.nworker_lcores ? g->st.nworker_lcores : mg_workers_available();
	if (nw == 0) {
		fprintf(stderr, "meshgate: no worker lcore: give dpdk.lcores two or more lcores "
				"(like '0-1', or '0@0,1@0' to share one CPU)\n");
		goto out;
	}
	if (nw > MG_MAX_WORKERS) {
		fprintf(stderr, "meshgate: %u workers, at most %u are supported\n", nw,
			MG_MAX_WORKERS);
		goto out;
	}
	memset(&dc, 0, sizeof(dc));
	dc.max_adjacencies = g->st.max_adjacencies;
	dc.fib_routes = g->st.fib_routes;
	dc.fib_tbl8 = g->st.fib_tbl8;
	dc.fib6_tbl8 = g->st.fib6_tbl8;
	dc.punt_ring = g->st.punt_ring;
	dc.inject_ring = g->st.inject_ring;
	dc.icmp_rate = g->st.icmp_rate;
	dc.icmp_burst = g->st.icmp_burst;
	dc.nb_workers = nw;
	g->dp = mg_dp_create(&dc);
	if (g->dp == NULL) {
		fprintf(stderr, "meshgate: cannot create the data plane: %s\n",
			rte_strerror(rte_errno));
		goto out;
	}
	memset(&ic, 0, sizeof(ic));
	ic.mode = g->st.idle_mode;
	ic.pause_polls = g->st.idle_pause_polls;
	ic.sleep_polls = g->st.idle_sleep_polls;
	ic.sleep_min_us = g->st.idle_sleep_min_us;
	ic.sleep_max_us = g->st.idle_sleep_max_us;
	g->rx_interrupts = ic.mode == MG_IDLE_INTERRUPT;
	if (mg_workers_setup(g->dp, g->st.worker_lcores, g->st.nworker_lcores, &ic, g->st.burst,
			     &err) < 0) {
		fprintf(stderr, "meshgate: %s: %s\n", err.field, err.msg);
		goto out;
	}
	/* One pool per NUMA node where a worker, the main lcore or a PCI device is:
	 * each port's RX queues draw from the pool of its device's node. */
	sockets[nsockets++] = mg_port_lcore_node(rte_get_main_lcore());
	for (unsigned int w = 0; w < nw; w++)
		add_node(sockets, &nsockets, mg_port_lcore_node(g->dp->workers[w]->lcore));
	for (unsigned int i = 0; i < MG_MODEL_MAX_PORTS; i++) {
		const struct mg_port *p = mg_model_port_get(g->model, (uint16_t)i);
		char dev[MG_DEVICE_MAX];
		uint16_t pid;

		if (p != NULL && mg_port_resolve_device(p->spec.device, dev, sizeof(dev), &err) == 0 &&
		    mg_port_is_pci(dev) && rte_eth_dev_get_port_by_name(dev, &pid) == 0)
			add_node(sockets, &nsockets, rte_eth_dev_socket_id(pid));
	}
	size_pools(g, nw, &mbufs, &room);
	if (mg_port_pools_create(g->dp, mbufs, g->st.mbuf_cache, room, sockets,
				 (unsigned int)nsockets, &err) < 0) {
		fprintf(stderr, "meshgate: %s: %s\n", err.field, err.msg);
		goto out;
	}
	memset(&fc, 0, sizeof(fc));
	fc.max_neighbors = g->st.max_neighbors;
	fc.reachable_ms = g->st.nd_reachable_ms;
	fc.retrans_ms = g->st.nd_retrans_ms;
	fc.probes = g->st.nd_probes;
	fc.hold_packets = g->st.nd_hold_packets;
	fc.failed_ms = g->st.nd_failed_ms;
	fc.announce = g->st.nd_announce;
	g->fwd = mg_fwd_create(g->dp, &fc);
	if (g->fwd == NULL) {
		fprintf(stderr, "meshgate: out of memory for forwarding control\n");
		goto out;
	}
	g->be = (struct mg_model_backend){
		.ctx = g,
		.network_add = be_network_add,
		.network_del = be_network_del,
		.network_flows = be_network_flows,
		.port_add = be_port_add,
		.port_del = be_port_del,
		.iface_add = be_iface_add,
		.iface_del = be_iface_del,
		.addr_add = be_addr_add,
		.addr_del = be_addr_del,
		.route_add = be_route_add,
		.route_del = be_route_del,
		.route_replace = be_route_replace,
		.neigh_add = be_neigh_add,
		.neigh_del = be_neigh_del,
		.rules_set = be_rules_set,
		.wg_add = be_wg_add,
		.wg_del = be_wg_del,
		.esp_add = be_esp_add,
		.esp_del = be_esp_del,
		.esp_rekey = be_esp_rekey,
		.vxlan_add = be_vxlan_add,
		.vxlan_del = be_vxlan_del,
	};
	if (mg_ctl_state_exists(g->st.state_dir)) {
		/* Durable state wins over the file's objects: start empty, restore below. */
		from_state = true;
		struct mg_model_limits l2 = {.routes = g->st.max_routes,
					     .neighbors = g->st.max_neighbors};

		GW_LOG(NOTICE, "restoring from %s; the file's networks, ports, tunnels, "
		       "services, routes and neighbors are not used (remove the state to "
		       "start from the file)\n",
		       g->st.state_dir);
		mg_model_destroy(g->model);
		g->model = mg_model_create(&l2);
		if (g->model == NULL)
			goto out;
		/* The state brings the services back (ctl_svcstate.c), in networks
		 * the file's services could not find now. */
		g->st.nservices = 0;
	}
	{
		struct mg_gw_cls_targets tg = {.ctx = g, .target = cls_target,
					       .release = cls_release};

		mg_gw_cls_set_targets(&tg);
	}
	mg_error_clear(&err);
	if (mg_gw_flows_init(g->dp, g->model, &g->st, &err) < 0) {
		fprintf(stderr, "meshgate: %s: %s%s%s\n", src, err.field, err.field[0] ? ": " : "",
			err.msg);
		goto out;
	}
	mg_model_set_backend(g->model, &g->be);
	mg_error_clear(&err);
	if (mg_model_replay(g->model, &err) < 0) {
		fprintf(stderr, "meshgate: %s: %s%s%s\n", src, err.field, err.field[0] ? ": " : "",
			err.msg);
		goto out;
	}
	if (mg_svc_setup(g->dp, g->fwd, g->model, &g->st, &err) < 0 ||
	    cls_services_up(g, &err) < 0) {
		fprintf(stderr, "meshgate: %s: %s\n", err.field, err.msg);
		goto out;
	}
	/* From a state, the file's tunnels are back only once the control plane
	 * restored them: their IKE peers follow then (below). */
	if (g->st.nike_peers > 0 && !from_state) {
		g->ike = gw_ike_create(g->dp, g->model);
		if (g->ike == NULL) {
			fprintf(stderr, "meshgate: out of memory for IKE\n");
			goto out;
		}
		gw_ike_on_event(g->ike, ike_to_ctl, g);
		for (unsigned int i = 0; i < g->st.nike_peers; i++)
			if (gw_ike_add(g->ike, &g->st.ike_peers[i], &err) < 0) {
				fprintf(stderr, "meshgate: esp_tunnels[%s].ike: %s%s%s\n",
					g->st.ike_peers[i].name, err.field,
					err.field[0] ? ": " : "", err.msg);
				goto out;
			}
	}
	if (mg_natgw_setup(g->dp, g->fwd, g->model, &g->st, &err) < 0) {
		fprintf(stderr, "meshgate: %s: %s\n", err.field, err.msg);
		goto out;
	}
	if (mg_workers_launch(g->dp) != 0) {
		fprintf(stderr, "meshgate: cannot launch the workers\n");
		goto out;
	}
	workers_up = true;
	{
		/* Counters exist from the first telemetry request on. */
		struct mg_stats_port_ref refs[MG_MAX_PORTS];

		mg_stats_refresh(g->dp, refs, port_refs(g, refs), 0);
	}
	mg_stats_telemetry_register();
	mg_gw_cls_telemetry_register();
	mg_stats_set_json_extra(json_rules, g);
	{
		struct mg_capture_env ce = {.dp = g->dp, .port_id = capture_port,
					    .name = capture_name, .ctx = g};

		capture_dir(g, ce.dir, sizeof(ce.dir));
		g->capture = mg_capture_create(&ce, &err);
		if (g->capture == NULL) {
			fprintf(stderr, "meshgate: %s%s%s\n", err.field, err.field[0] ? ": " : "",
				err.msg);
			goto out;
		}
	}
	{
		struct mg_ctl_conf cc;
		struct mg_ctl_env env = {.model = g->model, .fwd = g->fwd, .dp = g->dp,
					 .capture = g->capture, .stats = ctl_stats,
					 .esp_sas = ctl_esp_sas, .metrics_extra = ctl_esp_metrics,
					 .vxlan_counters = ctl_vxlan_counters,
					 .ike_json = ctl_ike_json,
					 .ike_set = ctl_ike_set, .ike_del = ctl_ike_del,
					 .esp_seqs = ctl_esp_seqs,
					 .ctx = g};
		bool restored = false;

		control_conf(g, &cc);
		g->ctl = mg_ctl_create(&cc, &env, &restored, &err);
		if (g->ctl == NULL) {
			fprintf(stderr, "meshgate: %s%s%s\n", err.field, err.field[0] ? ": " : "",
				err.msg);
			goto out;
		}
	}
	/* The file's IKE peers of restored tunnels that the state gave none (a
	 * peer set over REST is in the state and wins). */
	for (unsigned int i = 0; from_state && i < g->st.nike_peers; i++) {
		const struct mg_ike_peer_conf *pc = &g->st.ike_peers[i];

		if (gw_ike_has(g->ike, pc->name))
			continue;
		mg_error_clear(&err);
		if (mg_model_esp_find(g->model, pc->name) == NULL ||
		    ctl_ike_set(g, pc, &err) < 0)
			GW_LOG(WARNING, "esp_tunnels[%s].ike: not started: %s\n", pc->name,
			       err.msg[0] ? err.msg : "the tunnel is not in the restored state");
	}
	/* The IKE engine has its copies: the file's PSKs and keys go. */
	mg_settings_drop_ike_peers(&g->st);
	GW_LOG(NOTICE, "running from %s: %u worker(s), %u port(s), %u mbufs of %u bytes\n", src,
	       nw, count_ports(g->model), mbufs, room);
	printf("meshgate: running (%s); Ctrl-C to stop\n", src);
	fflush(stdout);
	main_loop(g);
	printf("meshgate: stopping\n");
	status = 0;
out:
	mg_ctl_destroy(g->ctl);
	g->ctl = NULL;
	/* Before the workers stop: it waits for them to let go of the capture set. */
	mg_capture_destroy(g->capture);
	g->capture = NULL;
	if (workers_up)
		mg_workers_stop(g->dp);
	if (g->dp != NULL && eal_up) {
		/* Final counters, then take the ports down in order. */
		if (workers_up) {
			printf("--- final counters ---\n");
			print_stats(g, stdout, o->stats_json);
		}
		for (unsigned int i = 0; i < MG_MODEL_MAX_PORTS; i++) {
			const struct mg_port *p = mg_model_port_get(g->model, (uint16_t)i);

			if (p != NULL && p->ethdev != UINT16_MAX)
				mg_port_close(g->dp, p->ethdev, !mg_port_is_pci(p->spec.device));
		}
	}
	/* Workers stopped: the flows still active go to the history (and its export). */
	mg_gw_flows_destroy(g->dp);
	mg_svc_teardown();
	mg_natgw_teardown(); /* after: the flow tables' last flows give their ports back */
	if (g->model != NULL)
		mg_model_set_backend(g->model, NULL);
	if (g->dp != NULL)
		mg_wgif_fini(g->dp);
	gw_ike_destroy(g->ike);
	g->ike = NULL;
	if (g->dp != NULL)
		mg_espgw_destroy(g->dp->esp);
	if (g->dp != NULL)
		mg_vxlan_destroy(g->dp->vxlan);
	mg_fwd_destroy(g->fwd);
	if (g->dp != NULL) {
		mg_gw_cls_destroy(g->dp);
		mg_port_pools_free(g->dp);
		mg_dp_destroy(g->dp);
	}
	mg_model_destroy(g->model);
	mg_settings_free(&g->st);
	mg_config_errors_free(&errs);
	for (int i = 0; i < eal.n; i++)
		free(eal.own[i]);
	if (eal_up) {
		char rundir[PATH_MAX];

		mg_strlcpy(rundir, rte_eal_get_runtime_dir(), sizeof(rundir));
		rte_eal_cleanup();
		remove_rundir(rundir);
	}
	free(g);
	return status;
}
