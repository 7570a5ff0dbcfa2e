/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control plane model. Every request is checked completely first
 * (names, references, ranges, conflicts), then handed to the backend, then
 * recorded. Nothing is recorded when the backend refuses.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg_hmap.h"
#include "mg_model.h"
#include "mg_rules.h"
#include "model_priv.h"

#define NO_IFACE UINT16_MAX

struct mg_model {
	struct mg_model_limits limits;
	const struct mg_model_backend *be;
	struct mg_network nets[MG_MODEL_MAX_NETWORKS];
	struct mg_port ports[MG_MODEL_MAX_PORTS];
	struct mg_iface *ifaces; /* MG_MODEL_MAX_IFACES */
	uint32_t iface_end;      /* no slot at or after this index was ever used */
	struct slab routes;       /* struct mg_route by (network, prefix) */
	struct slab neighs;       /* struct mg_neigh by (interface, address) */
	/* Classification rules by network (mg_rules.h). */
	struct mg_ruleset *rules[MG_MODEL_MAX_NETWORKS];
	struct mg_esp_tunnel *esp; /* MG_MODEL_MAX_ESP, allocated on first use (model_esp.c) */
	struct mg_vxlan_tunnel *vxlan; /* MG_MODEL_MAX_VXLAN, on first use (model_vxlan.c) */
	/* A shadow (mg_model_shadow): rules, tunnels and WireGuard settings are lent. */
	bool shadow;
};

struct mg_ruleset **
mg_model_rules_slot(struct mg_model *m, uint16_t net)
{
	return &m->rules[net];
}

const struct mg_model_backend *
mg_model_backend(const struct mg_model *m)
{
	return m->be;
}

/* ---- helpers ------------------------------------------------------------ */

static const char *
fam_name(uint8_t family)
{
	return family == AF_INET ? "IPv4" : "IPv6";
}

const char *
mg_route_action_name(enum mg_route_action a)
{
	switch (a) {
	case MG_ROUTE_FORWARD: return "forward";
	case MG_ROUTE_DROP: return "drop";
	case MG_ROUTE_UNREACHABLE: return "unreachable";
	case MG_ROUTE_PROHIBIT: return "prohibit";
	}
	return "?";
}

const char *
mg_policy_name(enum mg_policy p)
{
	return p == MG_POLICY_DROP ? "drop" : "forward";
}

uint16_t mg_model_network_max(void) { return MG_MODEL_MAX_NETWORKS; }
uint16_t mg_model_port_max(void) { return MG_MODEL_MAX_PORTS; }
uint16_t mg_model_iface_max(void) { return MG_MODEL_MAX_IFACES; }

/* ---- lifecycle ------------------------------------------------------------ */

static struct mg_addr_key
route_key(const void *item)
{
	const struct mg_route *r = item;

	return mg_prefix_key(r->network, &r->prefix);
}

static struct mg_addr_key
neigh_key(const void *item)
{
	const struct mg_neigh *n = item;

	return mg_ip_key(n->iface, &n->ip);
}

struct mg_model *
mg_model_create(const struct mg_model_limits *limits)
{
	struct mg_model *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->limits = *limits;
	m->ifaces = calloc(MG_MODEL_MAX_IFACES, sizeof(*m->ifaces));
	if (m->ifaces == NULL ||
	    slab_init(&m->routes, sizeof(struct mg_route), route_key, NULL) < 0 ||
	    slab_init(&m->neighs, sizeof(struct mg_neigh), neigh_key, NULL) < 0) {
		mg_model_destroy(m);
		return NULL;
	}
	return m;
}

struct mg_model *
mg_model_shadow(const struct mg_model *m)
{
	struct mg_model *s = malloc(sizeof(*s));

	if (s == NULL)
		return NULL;
	*s = *m;
	memset(&s->routes, 0, sizeof(s->routes));
	memset(&s->neighs, 0, sizeof(s->neighs));
	s->be = NULL;
	s->shadow = true;
	/* Uninitialised past iface_end, where the model never looks. */
	s->ifaces = malloc(MG_MODEL_MAX_IFACES * sizeof(*s->ifaces));
	if (s->ifaces != NULL)
		memcpy(s->ifaces, m->ifaces, m->iface_end * sizeof(*s->ifaces));
	/* Routes and neighbors: overlays on the model's, filled by what is tried. */
	if (s->ifaces == NULL ||
	    slab_init(&s->routes, sizeof(struct mg_route), route_key, &m->routes) < 0 ||
	    slab_init(&s->neighs, sizeof(struct mg_neigh), neigh_key, &m->neighs) < 0) {
		mg_model_destroy(s);
		return NULL;
	}
	return s;
}

void
mg_model_destroy(struct mg_model *m)
{
	if (m == NULL)
		return;
	if (m->shadow) {
		/* Only the copies are its own. */
		free(m->ifaces);
		slab_free(&m->routes);
		slab_free(&m->neighs);
		free(m);
		return;
	}
	for (unsigned int i = 0; m->ifaces != NULL && i < m->iface_end; i++)
		if (m->ifaces[i].wg != NULL) {
			mg_wg_spec_free(m->ifaces[i].wg);
			free(m->ifaces[i].wg);
		}
	free(m->ifaces);
	slab_free(&m->routes);
	slab_free(&m->neighs);
	for (unsigned int i = 0; i < MG_MODEL_MAX_NETWORKS; i++)
		mg_ruleset_free(m->rules[i]);
	model_esp_free(m);
	model_vxlan_free(m);
	free(m);
}

void
mg_model_set_backend(struct mg_model *m, const struct mg_model_backend *b)
{
	m->be = b;
}

void
mg_model_set_limits(struct mg_model *m, const struct mg_model_limits *limits)
{
	m->limits = *limits;
}

/* ---- lookups ---------------------------------------------------------------- */

const struct mg_network *
mg_model_network_find(const struct mg_model *m, const char *name)
{
	for (unsigned int i = 0; i < MG_MODEL_MAX_NETWORKS; i++)
		if (m->nets[i].used && strcmp(m->nets[i].spec.name, name) == 0)
			return &m->nets[i];
	return NULL;
}

const struct mg_network *
mg_model_network_get(const struct mg_model *m, uint16_t id)
{
	if (id >= MG_MODEL_MAX_NETWORKS || !m->nets[id].used)
		return NULL;
	return &m->nets[id];
}

const struct mg_port *
mg_model_port_find(const struct mg_model *m, const char *name)
{
	for (unsigned int i = 0; i < MG_MODEL_MAX_PORTS; i++)
		if (m->ports[i].used && strcmp(m->ports[i].spec.name, name) == 0)
			return &m->ports[i];
	return NULL;
}

const struct mg_port *
mg_model_port_get(const struct mg_model *m, uint16_t id)
{
	if (id >= MG_MODEL_MAX_PORTS || !m->ports[id].used)
		return NULL;
	return &m->ports[id];
}

const struct mg_iface *
mg_model_iface_find(const struct mg_model *m, const char *name)
{
	for (unsigned int i = 0; i < m->iface_end; i++)
		if (m->ifaces[i].used && strcmp(m->ifaces[i].name, name) == 0)
			return &m->ifaces[i];
	return NULL;
}

const struct mg_iface *
mg_model_iface_get(const struct mg_model *m, uint16_t id)
{
	if (id >= m->iface_end || !m->ifaces[id].used)
		return NULL;
	return &m->ifaces[id];
}

static const struct mg_prefix *
iface_addrs(const struct mg_iface *ifc, uint8_t family, unsigned int *n)
{
	if (family == AF_INET) {
		*n = ifc->naddr4;
		return ifc->addr4;
	}
	*n = ifc->naddr6;
	return ifc->addr6;
}

/* The next interface of network @net from *@i on (*@i moves past it), or NULL. */
static const struct mg_iface *
net_iface_next(const struct mg_model *m, uint16_t net, unsigned int *i)
{
	while (*i < m->iface_end) {
		const struct mg_iface *ifc = &m->ifaces[(*i)++];

		if (ifc->used && ifc->network == net)
			return ifc;
	}
	return NULL;
}

const struct mg_iface *
mg_model_iface_connected(const struct mg_model *m, uint16_t net, const struct mg_ip *ip)
{
	const struct mg_iface *ifc;
	unsigned int i = 0, n;

	while ((ifc = net_iface_next(m, net, &i)) != NULL) {
		const struct mg_prefix *a = iface_addrs(ifc, ip->family, &n);

		for (unsigned int j = 0; j < n; j++)
			if (mg_prefix_contains(&a[j], ip))
				return ifc;
	}
	return NULL;
}

const struct mg_iface *
mg_model_addr_owner(const struct mg_model *m, uint16_t net, const struct mg_ip *ip)
{
	const struct mg_iface *ifc;
	unsigned int i = 0, n;

	while ((ifc = net_iface_next(m, net, &i)) != NULL) {
		const struct mg_prefix *a = iface_addrs(ifc, ip->family, &n);

		if (ip->family == AF_INET6 && mg_ip_equal(&ifc->ll6, ip))
			return ifc;
		for (unsigned int j = 0; j < n; j++)
			if (mg_ip_equal(&a[j].addr, ip))
				return ifc;
	}
	return NULL;
}

const struct mg_route *
mg_model_route_find(const struct mg_model *m, uint16_t net, const struct mg_prefix *p)
{
	struct mg_addr_key k = mg_prefix_key(net, p);

	return slab_find(&m->routes, &k);
}

const struct mg_route *
mg_model_route_next(const struct mg_model *m, uint32_t *cursor)
{
	return slab_next(&m->routes, cursor);
}

const struct mg_neigh *
mg_model_neigh_next(const struct mg_model *m, uint32_t *cursor)
{
	return slab_next(&m->neighs, cursor);
}

uint32_t
mg_model_route_count(const struct mg_model *m)
{
	return m->routes.count;
}

/* ---- networks ------------------------------------------------------------------- */

const char *const mg_flows_timeout_names[MG_FLOWS_T_MAX + 1] = {
	[MG_FLOWS_T_TCP_OPENING] = "tcp_opening",
	[MG_FLOWS_T_TCP_ESTABLISHED] = "tcp_established",
	[MG_FLOWS_T_TCP_CLOSING] = "tcp_closing",
	[MG_FLOWS_T_UDP] = "udp",
	[MG_FLOWS_T_ICMP] = "icmp",
	[MG_FLOWS_T_OTHER] = "other",
	[MG_FLOWS_T_MAX] = NULL,
};

int
mg_flows_spec_check(const struct mg_flows_spec *s, struct mg_error *err)
{
	if (s->size > MG_FLOWS_SIZE_MAX)
		return mg_error_set(err, EINVAL, "size", "%u is out of range 1-%u", s->size,
				    MG_FLOWS_SIZE_MAX);
	for (unsigned int i = 0; i < MG_FLOWS_T_MAX; i++)
		if (s->timeout_s[i] > MG_FLOWS_TIMEOUT_MAX) {
			char f[48];

			snprintf(f, sizeof(f), "timeouts.%s", mg_flows_timeout_names[i]);
			return mg_error_set(err, EINVAL, f, "%u s is out of range 1-%u",
					    s->timeout_s[i], MG_FLOWS_TIMEOUT_MAX);
		}
	return 0;
}

int
mg_model_network_flows_set(struct mg_model *m, const char *name, const struct mg_flows_spec *fs,
			   struct mg_error *err)
{
	struct mg_network *n = (struct mg_network *)mg_model_network_find(m, name);
	struct mg_flows_spec f = *fs;
	int rc;

	if (n == NULL)
		return mg_error_set(err, ENOENT, "name", "no network named '%s'", name);
	if (f.enabled && f.size == 0)
		f.size = MG_FLOWS_SIZE_DEFAULT;
	rc = mg_flows_spec_check(&f, err);
	if (rc < 0)
		return rc;
	if (m->be != NULL && m->be->network_flows != NULL) {
		rc = m->be->network_flows(m->be->ctx, n, &f, err);
		if (rc < 0)
			return rc;
	}
	n->spec.flows = f;
	return 0;
}

int
mg_model_network_add(struct mg_model *m, const struct mg_network_spec *s, struct mg_error *err)
{
	struct mg_network *n = NULL;
	int rc;

	if (!mg_name_valid(s->name))
		return mg_error_set(err, EINVAL, "name",
				    "invalid network name '%s': use 1-31 of A-Z a-z 0-9 _ - . :",
				    s->name);
	if (mg_model_network_find(m, s->name) != NULL)
		return mg_error_set(err, EEXIST, "name", "network '%s' already exists", s->name);
	for (unsigned int i = 0; i < MG_MODEL_MAX_NETWORKS; i++) {
		if (!m->nets[i].used) {
			n = &m->nets[i];
			break;
		}
	}
	if (n == NULL)
		return mg_error_set(err, ENOSPC, "name", "the network table is full (at most %u)",
				    MG_MODEL_MAX_NETWORKS);
	rc = mg_flows_spec_check(&s->flows, err);
	if (rc < 0) {
		mg_error_prefix_field(err, "flows");
		return rc;
	}
	memset(n, 0, sizeof(*n));
	n->id = (uint16_t)(n - m->nets);
	n->spec = *s;
	if (n->spec.flows.enabled && n->spec.flows.size == 0)
		n->spec.flows.size = MG_FLOWS_SIZE_DEFAULT;
	if (m->be != NULL && m->be->network_add != NULL) {
		rc = m->be->network_add(m->be->ctx, n, err);
		if (rc < 0)
			return rc;
	}
	n->used = true;
	return 0;
}

int
mg_model_network_del(struct mg_model *m, const char *name, struct mg_error *err)
{
	struct mg_network *n = (struct mg_network *)mg_model_network_find(m, name);

	if (n == NULL)
		return mg_error_set(err, ENOENT, "name", "no network named '%s'", name);
	if (n->nifaces > 0)
		return mg_error_set(err, EBUSY, "name",
				    "network '%s' still has %u interface(s)", name, n->nifaces);
	if (n->nroutes > 0)
		return mg_error_set(err, EBUSY, "name",
				    "network '%s' still has %u route(s)", name, n->nroutes);
	int rc = mg_rules_net_busy(m, n->id, "name", err);

	if (rc < 0)
		return rc;
	/* Its own rules go with it (the backend's network_del drops its tables). */
	if (m->rules[n->id] != NULL && m->be != NULL && m->be->rules_set != NULL)
		m->be->rules_set(m->be->ctx, n->id, NULL, NULL);
	if (!m->shadow)
		mg_ruleset_free(m->rules[n->id]);
	m->rules[n->id] = NULL;
	if (m->be != NULL && m->be->network_del != NULL)
		m->be->network_del(m->be->ctx, n);
	n->used = false;
	return 0;
}

/* ---- ports and interfaces ------------------------------------------------------- */

static bool
device_is_pci(const char *d)
{
	unsigned int dom, bus, dev, fn;
	int n = 0;

	if (sscanf(d, "%4x:%2x:%2x.%1x%n", &dom, &bus, &dev, &fn, &n) == 4 &&
	    d[n] == '\0' && n == 12)
		return true;
	n = 0;
	return sscanf(d, "%2x:%2x.%1x%n", &bus, &dev, &fn, &n) == 3 && d[n] == '\0' &&
	       n == 7;
}

static bool
device_is_env(const char *d)
{
	const char *p;

	/* k8s:[NAMESPACE/]ATTACHMENT[@INTERFACE]; the port library checks its shape. */
	if (strncmp(d, "k8s:", 4) == 0)
		return d[4] != '\0' && d[4 + strspn(d + 4, "abcdefghijklmnopqrstuvwxyz"
						"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/@")] == '\0';
	if (strncmp(d, "env:", 4) != 0)
		return false;
	p = d + 4;
	if (*p == '\0' || !(isupper((unsigned char)*p) || *p == '_'))
		return false;
	for (; *p != '\0' && *p != '#'; p++)
		if (!isupper((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_')
			return false;
	if (*p == '#') {
		p++;
		if (*p == '\0')
			return false;
		for (; *p != '\0'; p++)
			if (!isdigit((unsigned char)*p))
				return false;
	}
	return true;
}

static bool
device_is_vdev(const char *d)
{
	const char *p = d;

	if (strncmp(d, "net_", 4) != 0)
		return false;
	for (p = d + 4; *p != '\0' && *p != ','; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return false;
	return p != d + 4;
}

static const char *
device_key(const char *d, char *buf, size_t n)
{
	/* A vdev is identified by its name, before the first comma. */
	const char *comma = strchr(d, ',');
	size_t len = comma && device_is_vdev(d) ? (size_t)(comma - d) : strlen(d);

	if (len >= n)
		len = n - 1;
	memcpy(buf, d, len);
	buf[len] = '\0';
	return buf;
}

static bool
iface_name_taken(const struct mg_model *m, const char *name)
{
	return mg_model_iface_find(m, name) != NULL;
}

static struct mg_iface *
iface_alloc(struct mg_model *m)
{
	/* Slots from iface_end on were never used (a shadow has not even zeroed them). */
	for (unsigned int i = 0; i < MG_MODEL_MAX_IFACES; i++)
		if (i >= m->iface_end || !m->ifaces[i].used) {
			memset(&m->ifaces[i], 0, sizeof(m->ifaces[i]));
			m->ifaces[i].id = (uint16_t)i;
			/* Scans stop here instead of at MG_MODEL_MAX_IFACES. */
			if (i + 1 > m->iface_end)
				m->iface_end = i + 1;
			return &m->ifaces[i];
		}
	return NULL;
}

/* A free interface slot, or NULL with @err: the interface table is full. */
static struct mg_iface *
iface_take(struct mg_model *m, struct mg_error *err)
{
	struct mg_iface *ifc = iface_alloc(m);

	if (ifc == NULL)
		mg_error_set(err, ENOSPC, "name", "the interface table is full (at most %u)",
			     MG_MODEL_MAX_IFACES);
	return ifc;
}

/* @ifc is added: in use and counted in its network. */
static void
iface_commit(struct mg_model *m, struct mg_iface *ifc)
{
	ifc->used = true;
	m->nets[ifc->network].nifaces++;
}

/*
 * 0 if @ifc (named @name) may be deleted: nothing routes or points into it
 * and no rule names it; else -EBUSY with @err, worded for its kind.
 */
static int
iface_busy(const struct mg_model *m, const struct mg_iface *ifc, const char *name,
	   struct mg_error *err)
{
	const char *what = "interface", *users = "route(s) or neighbor(s)";

	if (ifc->kind == MG_IFACE_PORT) {
		what = "port";
	} else if (ifc->kind == MG_IFACE_ESP) {
		what = "tunnel";
		users = "route(s)";
	} else if (ifc->kind == MG_IFACE_VXLAN) {
		what = "tunnel";
		users = "route(s) or static neighbor(s)";
	}
	if (ifc->nroutes > 0)
		return mg_error_set(err, EBUSY, "name", "%s '%s' is used by %u %s", what, name,
				    ifc->nroutes, users);
	return mg_rules_iface_busy(m, ifc->id, "name", err);
}

int
mg_model_iface_del_check(const struct mg_model *m, const char *name, struct mg_error *err)
{
	const struct mg_iface *ifc = mg_model_iface_find(m, name);

	return ifc == NULL ? 0 : iface_busy(m, ifc, name, err);
}

/* An interface MTU: 0, or -EINVAL with @err. */
static int
mtu_check(unsigned int mtu, struct mg_error *err)
{
	if (mtu < MG_MTU_MIN || mtu > MG_MTU_MAX)
		return mg_error_set(err, EINVAL, "mtu", "%u is out of range %u-%u", mtu,
				    MG_MTU_MIN, MG_MTU_MAX);
	return 0;
}

static bool
desc_valid(uint16_t v)
{
	return v == 0 || (v >= 64 && v <= 16384 && (v & (v - 1)) == 0);
}

static const struct mg_network *
resolve_network(const struct mg_model *m, const char *name, const char *field,
		struct mg_error *err)
{
	const struct mg_network *n;

	if (name[0] == '\0') {
		n = mg_model_network_find(m, "default");
		if (n == NULL)
			mg_error_set(err, EINVAL, field,
				     "no network given and there is no network named 'default'");
		return n;
	}
	n = mg_model_network_find(m, name);
	if (n == NULL)
		mg_error_set(err, ENOENT, field, "no network named '%s'", name);
	return n;
}

/*
 * A tunnel's inner @network and its @underlay (empty: the inner network
 * itself), each named in errors by its field; 0, or -errno with @err.
 */
static int
resolve_overlay(const struct mg_model *m, const char *network, const char *underlay,
		const struct mg_network **net, const struct mg_network **under,
		struct mg_error *err)
{
	*net = resolve_network(m, network, "network", err);
	if (*net == NULL)
		return -err->code;
	*under = underlay[0] ? resolve_network(m, underlay, "underlay", err) : *net;
	if (*under == NULL)
		return -err->code;
	return 0;
}

int
mg_model_port_add(struct mg_model *m, const struct mg_port_spec *s, const char *origin,
		  struct mg_error *err)
{
	const struct mg_network *net;
	struct mg_port *p = NULL;
	struct mg_iface *ifc;
	char k1[MG_DEVICE_MAX], k2[MG_DEVICE_MAX];
	uint16_t mtu = s->mtu ? s->mtu : 1500;
	int rc;

	if (!mg_name_valid(s->name) || strchr(s->name, '.') != NULL)
		return mg_error_set(err, EINVAL, "name",
				    "invalid port name '%s': use 1-31 of A-Z a-z 0-9 _ - : (no dot: "
				    "dots name VLAN sub-interfaces)", s->name);
	if (iface_name_taken(m, s->name))
		return mg_error_set(err, EEXIST, "name", "port '%s' already exists", s->name);
	if (s->device[0] == '\0')
		return mg_error_set(err, EINVAL, "device", "a device is required");
	if (!device_is_pci(s->device) && !device_is_env(s->device) && !device_is_vdev(s->device))
		return mg_error_set(err, EINVAL, "device",
				    "'%s' is not a PCI address (0000:3b:02.1), an SR-IOV "
				    "resource (env:PCIDEVICE_<RESOURCE>), a Multus attachment "
				    "(k8s:NAME) or a vdev (net_...)",
				    s->device);
	device_key(s->device, k1, sizeof(k1));
	for (unsigned int i = 0; i < MG_MODEL_MAX_PORTS; i++) {
		if (m->ports[i].used &&
		    strcmp(device_key(m->ports[i].spec.device, k2, sizeof(k2)), k1) == 0)
			return mg_error_set(err, EEXIST, "device",
					    "device '%s' is already used by port '%s'", k1,
					    m->ports[i].spec.name);
	}
	net = resolve_network(m, s->network, "network", err);
	if (net == NULL)
		return -err->code;
	rc = mtu_check(mtu, err);
	if (rc < 0)
		return rc;
	if (!desc_valid(s->rx_desc))
		return mg_error_set(err, EINVAL, "rx_desc",
				    "%u is not a power of two between 64 and 16384", s->rx_desc);
	if (!desc_valid(s->tx_desc))
		return mg_error_set(err, EINVAL, "tx_desc",
				    "%u is not a power of two between 64 and 16384", s->tx_desc);
	if (s->rx_queues > 64)
		return mg_error_set(err, EINVAL, "rx_queues", "%u is out of range 1-64",
				    s->rx_queues);
	if (s->mac_set && (mg_mac_is_zero(&s->mac) || mg_mac_is_multicast(&s->mac)))
		return mg_error_set(err, EINVAL, "mac", "must be a unicast, non-zero MAC");
	for (unsigned int i = 0; i < MG_MODEL_MAX_PORTS; i++)
		if (!m->ports[i].used) {
			p = &m->ports[i];
			break;
		}
	if (p == NULL)
		return mg_error_set(err, ENOSPC, "name", "the port table is full (at most %u)",
				    MG_MODEL_MAX_PORTS);
	ifc = iface_take(m, err);
	if (ifc == NULL)
		return -err->code;

	memset(p, 0, sizeof(*p));
	p->id = (uint16_t)(p - m->ports);
	p->spec = *s;
	mg_strlcpy(p->spec.network, net->spec.name, sizeof(p->spec.network));
	p->spec.mtu = mtu;
	p->iface = ifc->id;
	p->ethdev = UINT16_MAX;
	mg_strlcpy(p->origin, origin ? origin : "", sizeof(p->origin));

	ifc->kind = MG_IFACE_PORT;
	mg_strlcpy(ifc->name, s->name, sizeof(ifc->name));
	ifc->port = p->id;
	ifc->network = net->id;
	ifc->mtu = mtu;
	if (s->mac_set)
		ifc->mac = s->mac;
	if (m->be != NULL && m->be->port_add != NULL) {
		rc = m->be->port_add(m->be->ctx, p, ifc, err);
		if (rc < 0) {
			ifc->used = false;
			return rc;
		}
	}
	/*
	 * The link-local address comes from the MAC, which only the device
	 * knows when the spec has none: with no backend to probe it (a shadow,
	 * the file before start) the port has none yet, rather than a wrong
	 * one that would refuse a neighbor or next hop at its real address.
	 */
	if (s->mac_set || (m->be != NULL && m->be->port_add != NULL))
		mg_ip6_link_local_from_mac(&ifc->mac, &ifc->ll6);
	iface_commit(m, ifc);
	p->used = true;
	return 0;
}

static void
iface_addrs_clear(struct mg_model *m, struct mg_iface *ifc)
{
	while (ifc->naddr4 > 0) {
		ifc->naddr4--;
		if (m->be != NULL && m->be->addr_del != NULL)
			m->be->addr_del(m->be->ctx, ifc, &ifc->addr4[ifc->naddr4]);
	}
	while (ifc->naddr6 > 0) {
		ifc->naddr6--;
		if (m->be != NULL && m->be->addr_del != NULL)
			m->be->addr_del(m->be->ctx, ifc, &ifc->addr6[ifc->naddr6]);
	}
}

int
mg_model_port_del(struct mg_model *m, const char *name, struct mg_error *err)
{
	struct mg_port *p = (struct mg_port *)mg_model_port_find(m, name);
	struct mg_iface *ifc;

	if (p == NULL)
		return mg_error_set(err, ENOENT, "name", "no port named '%s'", name);
	ifc = &m->ifaces[p->iface];
	if (p->nvlans > 0)
		return mg_error_set(err, EBUSY, "name", "port '%s' still has %u VLAN(s)", name,
				    p->nvlans);
	int rc = iface_busy(m, ifc, name, err);

	if (rc < 0)
		return rc;
	iface_addrs_clear(m, ifc);
	if (m->be != NULL && m->be->port_del != NULL)
		m->be->port_del(m->be->ctx, p, ifc);
	m->nets[ifc->network].nifaces--;
	ifc->used = false;
	p->used = false;
	return 0;
}

int
mg_model_vlan_add(struct mg_model *m, const struct mg_vlan_spec *s, struct mg_error *err)
{
	struct mg_port *p = (struct mg_port *)mg_model_port_find(m, s->port);
	const struct mg_network *net;
	struct mg_iface *ifc, *base;
	char name[MG_NAME_MAX + 8];
	uint16_t mtu;
	int rc;

	if (p == NULL)
		return mg_error_set(err, ENOENT, "port", "no port named '%s'", s->port);
	base = &m->ifaces[p->iface];
	if (s->vlan < 1 || s->vlan > 4094)
		return mg_error_set(err, EINVAL, "id", "VLAN %u is out of range 1-4094", s->vlan);
	snprintf(name, sizeof(name), "%s.%u", s->port, s->vlan);
	if (strlen(name) >= MG_NAME_MAX)
		return mg_error_set(err, EINVAL, "id", "interface name '%s' is too long", name);
	if (iface_name_taken(m, name))
		return mg_error_set(err, EEXIST, "id", "VLAN %u already exists on port '%s'",
				    s->vlan, s->port);
	net = s->network[0] ? resolve_network(m, s->network, "network", err)
			    : mg_model_network_get(m, base->network);
	if (net == NULL)
		return -err->code;
	mtu = s->mtu ? s->mtu : base->mtu;
	if (mtu < MG_MTU_MIN || mtu > base->mtu)
		return mg_error_set(err, EINVAL, "mtu",
				    "%u is out of range %u-%u (the port's MTU)", mtu, MG_MTU_MIN,
				    base->mtu);
	ifc = iface_take(m, err);
	if (ifc == NULL)
		return -err->code;
	ifc->kind = MG_IFACE_VLAN;
	mg_strlcpy(ifc->name, name, sizeof(ifc->name));
	ifc->port = p->id;
	ifc->vlan = s->vlan;
	ifc->network = net->id;
	ifc->mtu = mtu;
	ifc->mac = base->mac;
	ifc->ll6 = base->ll6;
	if (m->be != NULL && m->be->iface_add != NULL) {
		rc = m->be->iface_add(m->be->ctx, ifc, err);
		if (rc < 0)
			return rc;
	}
	iface_commit(m, ifc);
	p->nvlans++;
	return 0;
}

int
mg_model_vlan_del(struct mg_model *m, const char *name, struct mg_error *err)
{
	struct mg_iface *ifc = (struct mg_iface *)mg_model_iface_find(m, name);

	if (ifc == NULL || ifc->kind != MG_IFACE_VLAN)
		return mg_error_set(err, ENOENT, "name", "no VLAN interface named '%s'", name);
	int rc = iface_busy(m, ifc, name, err);

	if (rc < 0)
		return rc;
	iface_addrs_clear(m, ifc);
	if (m->be != NULL && m->be->iface_del != NULL)
		m->be->iface_del(m->be->ctx, ifc);
	m->ports[ifc->port].nvlans--;
	m->nets[ifc->network].nifaces--;
	ifc->used = false;
	return 0;
}

/* ---- addresses --------------------------------------------------------------------- */

static int
check_unicast(const struct mg_ip *ip, const char *field, const char *what, struct mg_error *err)
{
	char b[MG_IP_STRLEN];

	if (mg_ip_is_unspecified(ip) || mg_ip_is_multicast(ip) || mg_ip_is_loopback(ip) ||
	    mg_ip_is_broadcast(ip))
		return mg_error_set(err, EINVAL, field,
				    "%s %s is not a unicast address", what,
				    mg_ip_fmt(ip, b, sizeof(b)));
	return 0;
}

/*
 * The network or broadcast address of @ifc's IPv4 subnet holding @ip (for
 * subnets of /30 and wider): never a host, so never a next hop or neighbor.
 */
static int
check_not_subnet_edge(const struct mg_iface *ifc, const struct mg_ip *ip, const char *field,
		      const char *what, struct mg_error *err)
{
	char b[MG_PREFIX_STRLEN], ib[MG_IP_STRLEN];

	if (ifc == NULL || ip->family != AF_INET)
		return 0;
	for (unsigned int i = 0; i < ifc->naddr4; i++) {
		const struct mg_prefix *p = &ifc->addr4[i];
		uint32_t host = p->len >= 32 ? 0 : 0xffffffffu >> p->len;
		uint32_t h = ntohl(ip->v4) & host;

		if (p->len > 30 || !mg_prefix_contains(p, ip))
			continue;
		if (h == 0 || h == host)
			return mg_error_set(err, EINVAL, field,
					    "%s %s is the %s address of %s on '%s'", what,
					    mg_ip_fmt(ip, ib, sizeof(ib)), h == 0 ? "network" : "broadcast",
					    mg_prefix_fmt(p, b, sizeof(b)), ifc->name);
	}
	return 0;
}

int
mg_model_addr_add(struct mg_model *m, const struct mg_addr_spec *s, struct mg_error *err)
{
	struct mg_iface *ifc = (struct mg_iface *)mg_model_iface_find(m, s->iface);
	const struct mg_prefix *p = &s->prefix;
	struct mg_prefix subnet = *p;
	char b1[MG_PREFIX_STRLEN], b2[MG_PREFIX_STRLEN];
	unsigned int n;
	int rc;

	if (ifc == NULL)
		return mg_error_set(err, ENOENT, "interface", "no interface named '%s'", s->iface);
	if (p->addr.family != AF_INET && p->addr.family != AF_INET6)
		return mg_error_set(err, EINVAL, "address", "not an IPv4 or IPv6 prefix");
	if (p->len == 0)
		return mg_error_set(err, EINVAL, "address",
				    "%s: an interface address needs a subnet length of 1 or more",
				    mg_prefix_fmt(p, b1, sizeof(b1)));
	rc = check_unicast(&p->addr, "address", "address", err);
	if (rc < 0)
		return rc;
	if (mg_ip_is_link_local(&p->addr))
		return mg_error_set(err, EINVAL, "address",
				    "link-local addresses are derived from the MAC; give a global "
				    "or unique-local address");
	mg_prefix_mask(&subnet);
	if (p->addr.family == AF_INET && p->len <= 30) {
		uint32_t host = ntohl(p->addr.v4) & ((1u << (32 - p->len)) - 1);

		if (host == 0)
			return mg_error_set(err, EINVAL, "address",
					    "%s is the subnet's network address",
					    mg_prefix_fmt(p, b1, sizeof(b1)));
		if (host == (1u << (32 - p->len)) - 1)
			return mg_error_set(err, EINVAL, "address",
					    "%s is the subnet's broadcast address",
					    mg_prefix_fmt(p, b1, sizeof(b1)));
	}
	if (p->addr.family == AF_INET6 && ifc->mtu < MG_MTU_IPV6_MIN)
		return mg_error_set(err, EINVAL, "address",
				    "interface '%s' has MTU %u, below IPv6's minimum of %u",
				    ifc->name, ifc->mtu, MG_MTU_IPV6_MIN);
	if (mg_model_addr_owner(m, ifc->network, &p->addr) != NULL)
		return mg_error_set(err, EEXIST, "address",
				    "address %s is already assigned in network '%s'",
				    mg_ip_fmt(&p->addr, b1, sizeof(b1)),
				    m->nets[ifc->network].spec.name);
	for (unsigned int i = 0; i < m->iface_end; i++) {
		const struct mg_iface *o = &m->ifaces[i];
		const struct mg_prefix *a;

		if (!o->used || o->network != ifc->network)
			continue;
		a = iface_addrs(o, p->addr.family, &n);
		for (unsigned int j = 0; j < n; j++) {
			struct mg_prefix os = a[j];

			mg_prefix_mask(&os);
			if (mg_prefix_overlap(&os, &subnet))
				return mg_error_set(err, EEXIST, "address",
						    "subnet %s overlaps %s of interface '%s'",
						    mg_prefix_fmt(&subnet, b1, sizeof(b1)),
						    mg_prefix_fmt(&a[j], b2, sizeof(b2)), o->name);
		}
	}
	{
		struct mg_prefix host = {.addr = p->addr, .len = mg_ip_maxlen(&p->addr)};

		if (mg_model_route_find(m, ifc->network, &subnet) != NULL ||
		    mg_model_route_find(m, ifc->network, &host) != NULL)
			return mg_error_set(err, EEXIST, "address",
					    "a static route to %s or its subnet already exists in "
					    "network '%s'", mg_prefix_fmt(p, b1, sizeof(b1)),
					    m->nets[ifc->network].spec.name);
	}
	iface_addrs(ifc, p->addr.family, &n);
	if (n >= MG_MODEL_MAX_ADDRS)
		return mg_error_set(err, ENOSPC, "address",
				    "interface '%s' already has %u %s addresses", ifc->name,
				    MG_MODEL_MAX_ADDRS, fam_name(p->addr.family));
	if (m->be != NULL && m->be->addr_add != NULL) {
		rc = m->be->addr_add(m->be->ctx, ifc, p, err);
		if (rc < 0)
			return rc;
	}
	if (p->addr.family == AF_INET)
		ifc->addr4[ifc->naddr4++] = *p;
	else
		ifc->addr6[ifc->naddr6++] = *p;
	return 0;
}

/* True if a route or neighbor resolves through @subnet of @ifc. */
static bool
subnet_in_use(const struct mg_model *m, const struct mg_iface *ifc,
	      const struct mg_prefix *subnet, char *what, size_t n)
{
	char b1[MG_PREFIX_STRLEN], b2[MG_IP_STRLEN];
	const struct mg_route *r;
	const struct mg_neigh *nb;
	uint32_t cur = 0;

	while ((r = mg_model_route_next(m, &cur)) != NULL) {
		if (r->iface != ifc->id || r->via.family == 0)
			continue;
		if (mg_prefix_contains(subnet, &r->via)) {
			snprintf(what, n, "route %s via %s", mg_prefix_fmt(&r->prefix, b1, sizeof(b1)),
				 mg_ip_fmt(&r->via, b2, sizeof(b2)));
			return true;
		}
	}
	cur = 0;
	while ((nb = mg_model_neigh_next(m, &cur)) != NULL) {
		if (nb->iface == ifc->id && mg_prefix_contains(subnet, &nb->ip)) {
			snprintf(what, n, "neighbor %s", mg_ip_fmt(&nb->ip, b2, sizeof(b2)));
			return true;
		}
	}
	return false;
}

int
mg_model_addr_del(struct mg_model *m, const struct mg_addr_spec *s, struct mg_error *err)
{
	struct mg_iface *ifc = (struct mg_iface *)mg_model_iface_find(m, s->iface);
	struct mg_prefix *a;
	uint8_t *n;
	char b[MG_PREFIX_STRLEN], what[128];

	if (ifc == NULL)
		return mg_error_set(err, ENOENT, "interface", "no interface named '%s'", s->iface);
	if (s->prefix.addr.family == AF_INET) {
		a = ifc->addr4;
		n = &ifc->naddr4;
	} else {
		a = ifc->addr6;
		n = &ifc->naddr6;
	}
	for (unsigned int i = 0; i < *n; i++) {
		if (!mg_ip_equal(&a[i].addr, &s->prefix.addr))
			continue;
		struct mg_prefix subnet = a[i];

		mg_prefix_mask(&subnet);
		if (subnet_in_use(m, ifc, &subnet, what, sizeof(what)))
			return mg_error_set(err, EBUSY, "address",
					    "subnet %s of '%s' is still used by %s",
					    mg_prefix_fmt(&subnet, b, sizeof(b)), ifc->name, what);
		if (m->be != NULL && m->be->addr_del != NULL)
			m->be->addr_del(m->be->ctx, ifc, &a[i]);
		memmove(&a[i], &a[i + 1], (*n - i - 1) * sizeof(*a));
		(*n)--;
		return 0;
	}
	return mg_error_set(err, ENOENT, "address", "interface '%s' has no address %s",
			    ifc->name, mg_ip_fmt(&s->prefix.addr, b, sizeof(b)));
}

/* ---- routes ------------------------------------------------------------------------ */

/* Is @p the connected subnet or a local address of some interface in @net? */
static const struct mg_iface *
prefix_is_connected(const struct mg_model *m, uint16_t net, const struct mg_prefix *p)
{
	const struct mg_iface *ifc;
	unsigned int i = 0, n;

	while ((ifc = net_iface_next(m, net, &i)) != NULL) {
		const struct mg_prefix *a = iface_addrs(ifc, p->addr.family, &n);

		for (unsigned int j = 0; j < n; j++) {
			struct mg_prefix sub = a[j];
			struct mg_prefix host = {.addr = a[j].addr, .len = mg_ip_maxlen(&a[j].addr)};

			mg_prefix_mask(&sub);
			if (mg_prefix_equal(&sub, p) || mg_prefix_equal(&host, p))
				return ifc;
		}
	}
	return NULL;
}

/*
 * Check a route request and resolve it into @r (network, output interface).
 * With @replace the route must exist already; otherwise it must not.
 */
static int
route_check(struct mg_model *m, const struct mg_route_spec *s, bool replace, struct mg_route *rout,
	    struct mg_error *err)
{
	const struct mg_network *net;
	const struct mg_iface *ifc = NULL;
	struct mg_route r;
	char b1[MG_PREFIX_STRLEN], b2[MG_IP_STRLEN];
	int rc;

	if (s->prefix.addr.family != AF_INET && s->prefix.addr.family != AF_INET6)
		return mg_error_set(err, EINVAL, "prefix", "not an IPv4 or IPv6 prefix");
	if (s->iface[0] != '\0') {
		ifc = mg_model_iface_find(m, s->iface);
		if (ifc == NULL)
			return mg_error_set(err, ENOENT, "interface", "no interface named '%s'",
					    s->iface);
	}
	if (s->network[0] == '\0' && ifc != NULL)
		net = mg_model_network_get(m, ifc->network);
	else
		net = resolve_network(m, s->network, "network", err);
	if (net == NULL)
		return -err->code;
	if (ifc != NULL && ifc->network != net->id)
		return mg_error_set(err, EINVAL, "interface",
				    "interface '%s' is in network '%s', not '%s'", ifc->name,
				    m->nets[ifc->network].spec.name, net->spec.name);
	if (mg_prefix_host_bits_set(&s->prefix)) {
		struct mg_prefix masked = s->prefix;

		mg_prefix_mask(&masked);
		return mg_error_set(err, EINVAL, "prefix",
				    "%s has host bits set (did you mean %s?)",
				    mg_prefix_fmt(&s->prefix, b1, sizeof(b1)),
				    mg_prefix_fmt(&masked, b2, sizeof(b2)));
	}
	if (!replace && mg_model_route_find(m, net->id, &s->prefix) != NULL)
		return mg_error_set(err, EEXIST, "prefix",
				    "a route to %s already exists in network '%s'",
				    mg_prefix_fmt(&s->prefix, b1, sizeof(b1)), net->spec.name);
	if (replace && mg_model_route_find(m, net->id, &s->prefix) == NULL)
		return mg_error_set(err, ENOENT, "prefix", "no route to %s in network '%s'",
				    mg_prefix_fmt(&s->prefix, b1, sizeof(b1)), net->spec.name);
	{
		const struct mg_iface *c = prefix_is_connected(m, net->id, &s->prefix);

		if (c != NULL)
			return mg_error_set(err, EEXIST, "prefix",
					    "%s is a connected subnet or address of interface '%s'",
					    mg_prefix_fmt(&s->prefix, b1, sizeof(b1)), c->name);
	}

	memset(&r, 0, sizeof(r));
	r.network = net->id;
	r.prefix = s->prefix;
	r.action = s->action;
	r.iface = NO_IFACE;
	if (s->action != MG_ROUTE_FORWARD) {
		if (s->via.family != 0)
			return mg_error_set(err, EINVAL, "via", "a %s route takes no next hop",
					    mg_route_action_name(s->action));
		if (ifc != NULL)
			return mg_error_set(err, EINVAL, "interface",
					    "a %s route takes no interface",
					    mg_route_action_name(s->action));
	} else if (s->via.family == 0) {
		if (ifc == NULL)
			return mg_error_set(err, EINVAL, "via",
					    "a route needs a next hop (via), an interface, or an "
					    "action (drop, unreachable, prohibit)");
		r.iface = ifc->id;
	} else {
		if (s->via.family != s->prefix.addr.family)
			return mg_error_set(err, EINVAL, "via",
					    "next hop %s is %s but the prefix is %s",
					    mg_ip_fmt(&s->via, b2, sizeof(b2)),
					    fam_name(s->via.family), fam_name(s->prefix.addr.family));
		rc = check_unicast(&s->via, "via", "next hop", err);
		if (rc < 0)
			return rc;
		if (mg_model_addr_owner(m, net->id, &s->via) != NULL)
			return mg_error_set(err, EINVAL, "via",
					    "next hop %s is one of this gateway's own addresses",
					    mg_ip_fmt(&s->via, b2, sizeof(b2)));
		if (mg_ip_is_link_local(&s->via)) {
			if (ifc == NULL)
				return mg_error_set(err, EINVAL, "interface",
						    "a link-local next hop needs an interface");
		} else {
			const struct mg_iface *c = mg_model_iface_connected(m, net->id, &s->via);

			if (c == NULL)
				return mg_error_set(err, EINVAL, "via",
						    "next hop %s is not in a connected subnet of "
						    "network '%s'", mg_ip_fmt(&s->via, b2, sizeof(b2)),
						    net->spec.name);
			if (ifc != NULL && c != ifc)
				return mg_error_set(err, EINVAL, "via",
						    "next hop %s is reached through '%s', not '%s'",
						    mg_ip_fmt(&s->via, b2, sizeof(b2)), c->name,
						    ifc->name);
			rc = check_not_subnet_edge(c, &s->via, "via", "next hop", err);
			if (rc < 0)
				return rc;
			ifc = c;
		}
		r.via = s->via;
		r.iface = ifc->id;
	}
	*rout = r;
	return 0;
}

int
mg_model_route_add(struct mg_model *m, const struct mg_route_spec *s, struct mg_error *err)
{
	struct mg_route r, *stored;
	struct mg_addr_key key;
	int rc;

	rc = route_check(m, s, false, &r, err);
	if (rc < 0)
		return rc;
	if (m->routes.count >= m->limits.routes)
		return mg_error_set(err, ENOSPC, "prefix",
				    "the static route table is full (limits.routes = %u)",
				    m->limits.routes);
	stored = slab_put(&m->routes, &r);
	if (stored == NULL)
		return mg_error_set(err, ENOMEM, "", "out of memory");
	if (m->be != NULL && m->be->route_add != NULL) {
		rc = m->be->route_add(m->be->ctx, stored, err);
		if (rc < 0) {
			key = route_key(&r);
			slab_del(&m->routes, &key);
			return rc;
		}
	}
	m->nets[r.network].nroutes++;
	if (r.iface != NO_IFACE)
		m->ifaces[r.iface].nroutes++;
	return 0;
}

int
mg_model_route_replace(struct mg_model *m, const struct mg_route_spec *s, struct mg_error *err)
{
	struct mg_route r;
	const struct mg_route *old;
	uint16_t old_iface;
	int rc;

	rc = route_check(m, s, true, &r, err);
	if (rc < 0)
		return rc;
	old = mg_model_route_find(m, r.network, &r.prefix);
	if (m->be != NULL && m->be->route_replace != NULL) {
		rc = m->be->route_replace(m->be->ctx, old, &r, err);
		if (rc < 0)
			return rc;
	}
	old_iface = old->iface;
	if (slab_set(&m->routes, &r) == NULL)
		return mg_error_set(err, ENOMEM, "", "out of memory"); /* a shadow only */
	if (old_iface != NO_IFACE)
		m->ifaces[old_iface].nroutes--;
	if (r.iface != NO_IFACE)
		m->ifaces[r.iface].nroutes++;
	return 0;
}

void
mg_model_route_spec(const struct mg_model *m, const struct mg_route *r, struct mg_route_spec *s)
{
	memset(s, 0, sizeof(*s));
	mg_strlcpy(s->network, m->nets[r->network].spec.name, sizeof(s->network));
	s->prefix = r->prefix;
	s->action = r->action;
	s->via = r->via;
	/* A route via a next hop resolved its interface itself; keep only one given. */
	if (r->iface != NO_IFACE && (r->via.family == 0 || mg_ip_is_link_local(&r->via)))
		mg_strlcpy(s->iface, m->ifaces[r->iface].name, sizeof(s->iface));
}

void
mg_model_neigh_spec(const struct mg_model *m, const struct mg_neigh *n, struct mg_neigh_spec *s)
{
	memset(s, 0, sizeof(*s));
	mg_strlcpy(s->iface, m->ifaces[n->iface].name, sizeof(s->iface));
	s->ip = n->ip;
	s->mac = n->mac;
}

int
mg_model_route_del(struct mg_model *m, const char *network, const struct mg_prefix *prefix,
		   struct mg_error *err)
{
	const struct mg_network *net = resolve_network(m, network ? network : "", "network", err);
	struct mg_addr_key key;
	const struct mg_route *r;
	uint16_t iface;
	char b[MG_PREFIX_STRLEN];

	if (net == NULL)
		return -err->code;
	key = mg_prefix_key(net->id, prefix);
	r = slab_find(&m->routes, &key);
	if (r == NULL)
		return mg_error_set(err, ENOENT, "prefix", "no route to %s in network '%s'",
				    mg_prefix_fmt(prefix, b, sizeof(b)), net->spec.name);
	iface = r->iface;
	if (m->be != NULL && m->be->route_del != NULL)
		m->be->route_del(m->be->ctx, r);
	/* Fails in a shadow only, which has no backend. */
	if (slab_del(&m->routes, &key) < 0)
		return mg_error_set(err, ENOMEM, "", "out of memory");
	if (iface != NO_IFACE)
		m->ifaces[iface].nroutes--;
	m->nets[net->id].nroutes--;
	return 0;
}

/* ---- neighbors ---------------------------------------------------------------------- */

int
mg_model_neigh_add(struct mg_model *m, const struct mg_neigh_spec *s, struct mg_error *err)
{
	struct mg_iface *ifc = (struct mg_iface *)mg_model_iface_find(m, s->iface);
	struct mg_addr_key key;
	struct mg_neigh nb, *stored;
	char b[MG_IP_STRLEN];
	int rc;

	if (ifc == NULL)
		return mg_error_set(err, ENOENT, "interface", "no interface named '%s'", s->iface);
	if (s->ip.family != AF_INET && s->ip.family != AF_INET6)
		return mg_error_set(err, EINVAL, "ip", "not an IPv4 or IPv6 address");
	rc = check_unicast(&s->ip, "ip", "neighbor", err);
	if (rc < 0)
		return rc;
	if (mg_mac_is_zero(&s->mac) || mg_mac_is_multicast(&s->mac))
		return mg_error_set(err, EINVAL, "mac", "must be a unicast, non-zero MAC");
	if (mg_model_addr_owner(m, ifc->network, &s->ip) != NULL)
		return mg_error_set(err, EINVAL, "ip", "%s is one of this gateway's own addresses",
				    mg_ip_fmt(&s->ip, b, sizeof(b)));
	if (!mg_ip_is_link_local(&s->ip) &&
	    mg_model_iface_connected(m, ifc->network, &s->ip) != ifc)
		return mg_error_set(err, EINVAL, "ip",
				    "%s is not in a connected subnet of interface '%s'",
				    mg_ip_fmt(&s->ip, b, sizeof(b)), ifc->name);
	rc = check_not_subnet_edge(ifc, &s->ip, "ip", "neighbor", err);
	if (rc < 0)
		return rc;
	key = mg_ip_key(ifc->id, &s->ip);
	if (slab_find(&m->neighs, &key) != NULL)
		return mg_error_set(err, EEXIST, "ip", "a static neighbor %s already exists on '%s'",
				    mg_ip_fmt(&s->ip, b, sizeof(b)), ifc->name);
	if (m->neighs.count >= m->limits.neighbors)
		return mg_error_set(err, ENOSPC, "ip",
				    "the static neighbor table is full (limits.neighbors = %u)",
				    m->limits.neighbors);
	memset(&nb, 0, sizeof(nb));
	nb.iface = ifc->id;
	nb.ip = s->ip;
	nb.mac = s->mac;
	stored = slab_put(&m->neighs, &nb);
	if (stored == NULL)
		return mg_error_set(err, ENOMEM, "", "out of memory");
	if (m->be != NULL && m->be->neigh_add != NULL) {
		rc = m->be->neigh_add(m->be->ctx, stored, err);
		if (rc < 0) {
			slab_del(&m->neighs, &key);
			return rc;
		}
	}
	ifc->nroutes++;
	return 0;
}

int
mg_model_neigh_del(struct mg_model *m, const char *iface, const struct mg_ip *ip,
		   struct mg_error *err)
{
	const struct mg_iface *ifc = mg_model_iface_find(m, iface);
	struct mg_addr_key key;
	const struct mg_neigh *nb;
	char b[MG_IP_STRLEN];

	if (ifc == NULL)
		return mg_error_set(err, ENOENT, "interface", "no interface named '%s'", iface);
	key = mg_ip_key(ifc->id, ip);
	nb = slab_find(&m->neighs, &key);
	if (nb == NULL)
		return mg_error_set(err, ENOENT, "ip", "no static neighbor %s on '%s'",
				    mg_ip_fmt(ip, b, sizeof(b)), iface);
	if (m->be != NULL && m->be->neigh_del != NULL)
		m->be->neigh_del(m->be->ctx, nb);
	/* Fails in a shadow only, which has no backend. */
	if (slab_del(&m->neighs, &key) < 0)
		return mg_error_set(err, ENOMEM, "", "out of memory");
	m->ifaces[ifc->id].nroutes--;
	return 0;
}

/* ---- replay --------------------------------------------------------------------------- */

int
mg_model_replay(struct mg_model *m, struct mg_error *err)
{
	const struct mg_model_backend *be = m->be;
	const struct mg_neigh *nb;
	const struct mg_route *r;
	uint32_t cur;
	int rc;

	if (be == NULL)
		return 0;
	for (unsigned int i = 0; i < MG_MODEL_MAX_NETWORKS; i++) {
		if (!m->nets[i].used || be->network_add == NULL)
			continue;
		rc = be->network_add(be->ctx, &m->nets[i], err);
		if (rc < 0) {
			mg_error_prefix_field(err, "networks[%s]", m->nets[i].spec.name);
			return rc;
		}
	}
	for (unsigned int i = 0; i < MG_MODEL_MAX_PORTS; i++) {
		struct mg_port *p = &m->ports[i];
		struct mg_iface *ifc = &m->ifaces[p->iface];

		if (!p->used || be->port_add == NULL)
			continue;
		rc = be->port_add(be->ctx, p, ifc, err);
		if (rc < 0) {
			mg_error_prefix_field(err, "ports[%s]", p->spec.name);
			return rc;
		}
		mg_ip6_link_local_from_mac(&ifc->mac, &ifc->ll6);
	}
	for (unsigned int i = 0; i < m->iface_end; i++) {
		struct mg_iface *ifc = &m->ifaces[i];

		if (!ifc->used || ifc->kind != MG_IFACE_VLAN)
			continue;
		ifc->mac = m->ifaces[m->ports[ifc->port].iface].mac;
		ifc->ll6 = m->ifaces[m->ports[ifc->port].iface].ll6;
		if (be->iface_add != NULL) {
			rc = be->iface_add(be->ctx, ifc, err);
			if (rc < 0) {
				mg_error_prefix_field(err, "interfaces[%s]", ifc->name);
				return rc;
			}
		}
	}
	if ((rc = model_esp_replay(m, err)) < 0)
		return rc;
	if ((rc = model_vxlan_replay(m, err)) < 0)
		return rc;
	for (unsigned int i = 0; i < m->iface_end; i++) {
		struct mg_iface *ifc = &m->ifaces[i];

		if (!ifc->used || ifc->kind != MG_IFACE_WG || be->wg_add == NULL)
			continue;
		rc = be->wg_add(be->ctx, ifc, err);
		if (rc < 0) {
			mg_error_prefix_field(err, "wireguard[%s]", ifc->name);
			return rc;
		}
	}
	for (unsigned int i = 0; i < m->iface_end; i++) {
		struct mg_iface *ifc = &m->ifaces[i];

		if (!ifc->used || be->addr_add == NULL)
			continue;
		for (unsigned int j = 0; j < ifc->naddr4; j++)
			if ((rc = be->addr_add(be->ctx, ifc, &ifc->addr4[j], err)) < 0)
				return rc;
		for (unsigned int j = 0; j < ifc->naddr6; j++)
			if ((rc = be->addr_add(be->ctx, ifc, &ifc->addr6[j], err)) < 0)
				return rc;
	}
	cur = 0;
	while (be->neigh_add != NULL && (nb = slab_next(&m->neighs, &cur)) != NULL)
		if ((rc = be->neigh_add(be->ctx, nb, err)) < 0)
			return rc;
	cur = 0;
	while (be->route_add != NULL && (r = slab_next(&m->routes, &cur)) != NULL)
		if ((rc = be->route_add(be->ctx, (struct mg_route *)(uintptr_t)r, err)) < 0)
			return rc;
	return mg_rules_replay(m, err);
}

/* ---- WireGuard interfaces ------------------------------------------------------------ */

int
mg_wg_spec_copy(struct mg_wg_spec *d, const struct mg_wg_spec *s)
{
	*d = *s;
	d->peers = NULL;
	if (s->npeers == 0)
		return 0;
	d->peers = malloc(s->npeers * sizeof(*d->peers));
	if (d->peers == NULL) {
		mg_wipe(d->private_key, sizeof(d->private_key));
		d->npeers = 0;
		return -ENOMEM;
	}
	memcpy(d->peers, s->peers, s->npeers * sizeof(*d->peers));
	return 0;
}

void
mg_wg_spec_free(struct mg_wg_spec *s)
{
	if (s == NULL)
		return;
	mg_wipe(s->private_key, sizeof(s->private_key));
	if (s->peers != NULL) {
		mg_wipe(s->peers, s->npeers * sizeof(*s->peers));
		free(s->peers);
	}
	s->peers = NULL;
	s->npeers = 0;
}

static bool
key_is_zero(const uint8_t *k)
{
	uint8_t acc = 0;

	for (unsigned int i = 0; i < MG_WG_KEY_BYTES; i++)
		acc |= k[i];
	return acc == 0;
}

/* Check the peers of @p s: keys, endpoints, allowed IPs. */
static int
wg_peers_check(const struct mg_wg_spec *s, struct mg_error *err)
{
	char b[MG_PREFIX_STRLEN], f[48];

	if (s->npeers > MG_WG_MAX_PEERS)
		return mg_error_set(err, EINVAL, "peers", "too many peers (at most %u)",
				    MG_WG_MAX_PEERS);
	for (unsigned int i = 0; i < s->npeers; i++) {
		const struct mg_wg_peer_spec *p = &s->peers[i];

		snprintf(f, sizeof(f), "peers[%u].public_key", i);
		if (key_is_zero(p->public_key))
			return mg_error_set(err, EINVAL, f, "a peer needs a public key");
		for (unsigned int j = 0; j < i; j++)
			if (memcmp(s->peers[j].public_key, p->public_key, MG_WG_KEY_BYTES) == 0)
				return mg_error_set(err, EEXIST, f, "the same key as peers[%u]", j);
		snprintf(f, sizeof(f), "peers[%u].endpoint", i);
		if (p->endpoint.family != 0 && p->endpoint_port == 0)
			return mg_error_set(err, EINVAL, f, "needs a port");
		snprintf(f, sizeof(f), "peers[%u].allowed_ips", i);
		if (p->nallowed > MG_WG_MAX_ALLOWED)
			return mg_error_set(err, EINVAL, f, "at most %u", MG_WG_MAX_ALLOWED);
		for (unsigned int a = 0; a < p->nallowed; a++) {
			struct mg_prefix pa = p->allowed[a];

			mg_prefix_mask(&pa);
			/* The same prefix for two peers: `wg` would move it silently; refuse. */
			for (unsigned int j = 0; j <= i; j++)
				for (unsigned int k = 0; k < s->peers[j].nallowed; k++) {
					struct mg_prefix pb = s->peers[j].allowed[k];

					if (j == i && k >= a)
						break;
					mg_prefix_mask(&pb);
					if (pb.len == pa.len && mg_ip_equal(&pa.addr, &pb.addr))
						return mg_error_set(err, EEXIST, f,
								    "%s is already allowed for peers[%u]",
								    mg_prefix_fmt(&pa, b, sizeof(b)), j);
				}
		}
	}
	return 0;
}

int
mg_model_wg_add(struct mg_model *m, const struct mg_wg_spec *s, struct mg_error *err)
{
	const struct mg_network *net, *under;
	struct mg_iface *ifc;
	uint16_t mtu = s->mtu ? s->mtu : MG_WG_MTU_DEFAULT;
	int rc;

	if (!mg_name_valid(s->name) || strchr(s->name, '.') != NULL)
		return mg_error_set(err, EINVAL, "name",
				    "invalid interface name '%s': use 1-31 of A-Z a-z 0-9 _ - :",
				    s->name);
	if (iface_name_taken(m, s->name))
		return mg_error_set(err, EEXIST, "name", "interface '%s' already exists", s->name);
	rc = resolve_overlay(m, s->network, s->underlay, &net, &under, err);
	if (rc < 0)
		return rc;
	rc = mtu_check(mtu, err);
	if (rc < 0)
		return rc;
	if (s->listen_port == 0)
		return mg_error_set(err, EINVAL, "listen_port", "a listen port (1-65535) is required");
	if (key_is_zero(s->private_key))
		return mg_error_set(err, EINVAL, "private_key", "a private key is required");
	for (unsigned int i = 0; i < m->iface_end; i++)
		if (m->ifaces[i].used && m->ifaces[i].wg != NULL &&
		    m->ifaces[i].wg->listen_port == s->listen_port)
			return mg_error_set(err, EEXIST, "listen_port",
					    "port %u is already used by WireGuard interface '%s'",
					    s->listen_port, m->ifaces[i].name);
	rc = wg_peers_check(s, err);
	if (rc < 0)
		return rc;
	ifc = iface_take(m, err);
	if (ifc == NULL)
		return -err->code;
	ifc->wg = calloc(1, sizeof(*ifc->wg));
	if (ifc->wg == NULL || mg_wg_spec_copy(ifc->wg, s) < 0) {
		free(ifc->wg);
		ifc->wg = NULL;
		return mg_error_set(err, ENOMEM, "", "out of memory");
	}
	ifc->kind = MG_IFACE_WG;
	mg_strlcpy(ifc->name, s->name, sizeof(ifc->name));
	mg_strlcpy(ifc->wg->network, net->spec.name, sizeof(ifc->wg->network));
	mg_strlcpy(ifc->wg->underlay, under->spec.name, sizeof(ifc->wg->underlay));
	ifc->wg->mtu = mtu;
	ifc->port = UINT16_MAX;
	ifc->network = net->id;
	ifc->underlay = under->id;
	ifc->mtu = mtu;
	/* No MAC: the link-local address forwarding control derives from the zero MAC. */
	mg_ip6_link_local_from_mac(&ifc->mac, &ifc->ll6);
	if (m->be != NULL && m->be->wg_add != NULL) {
		rc = m->be->wg_add(m->be->ctx, ifc, err);
		if (rc < 0) {
			mg_wg_spec_free(ifc->wg);
			free(ifc->wg);
			ifc->wg = NULL;
			return rc;
		}
	}
	iface_commit(m, ifc);
	return 0;
}

int
mg_model_wg_del(struct mg_model *m, const char *name, struct mg_error *err)
{
	struct mg_iface *ifc = (struct mg_iface *)mg_model_iface_find(m, name);

	if (ifc == NULL || ifc->kind != MG_IFACE_WG)
		return mg_error_set(err, ENOENT, "name", "no WireGuard interface named '%s'", name);
	{
		int rc = iface_busy(m, ifc, name, err);

		if (rc < 0)
			return rc;
	}
	iface_addrs_clear(m, ifc);
	if (m->be != NULL && m->be->wg_del != NULL)
		m->be->wg_del(m->be->ctx, ifc);
	m->nets[ifc->network].nifaces--;
	mg_wg_spec_free(ifc->wg);
	free(ifc->wg);
	ifc->wg = NULL;
	ifc->used = false;
	return 0;
}

/* ---- for the model's other files (model_priv.h) ------------------------------------ */

struct mg_vxlan_tunnel **
model_vxlan_slot(struct mg_model *m)
{
	return &m->vxlan;
}

struct mg_esp_tunnel **
model_esp_slot(struct mg_model *m)
{
	return &m->esp;
}

const struct mg_model_backend *
model_backend(const struct mg_model *m)
{
	return m->be;
}

struct mg_iface *
model_iface_alloc(struct mg_model *m)
{
	return iface_alloc(m);
}

struct mg_iface *
model_iface(struct mg_model *m, uint16_t id)
{
	return &m->ifaces[id];
}

void
model_iface_release(struct mg_model *m, struct mg_iface *ifc)
{
	iface_addrs_clear(m, ifc);
	m->nets[ifc->network].nifaces--;
	ifc->used = false;
}

struct mg_iface *
model_iface_take(struct mg_model *m, struct mg_error *err)
{
	return iface_take(m, err);
}

int
model_iface_busy(const struct mg_model *m, const struct mg_iface *ifc, const char *name,
		 struct mg_error *err)
{
	return iface_busy(m, ifc, name, err);
}

int
model_mtu_check(unsigned int mtu, struct mg_error *err)
{
	return mtu_check(mtu, err);
}

int
model_resolve_overlay(const struct mg_model *m, const char *network, const char *underlay,
		      const struct mg_network **net, const struct mg_network **under,
		      struct mg_error *err)
{
	return resolve_overlay(m, network, underlay, net, under, err);
}

int
model_tunnel_ends(const struct mg_model *m, const struct mg_network *under,
		  const struct mg_ip *local, const struct mg_ip *remote, bool no_bcast,
		  const char *unicast, struct mg_error *err)
{
	char b[MG_IP_STRLEN];

	if (local->family != AF_INET && local->family != AF_INET6)
		return mg_error_set(err, EINVAL, "local", "an IPv4 or IPv6 address is needed");
	if (remote->family != local->family)
		return mg_error_set(err, EINVAL, "remote", "must be of local's family (%s)",
				    local->family == AF_INET ? "IPv4" : "IPv6");
	if (mg_ip_is_unspecified(remote) || mg_ip_is_multicast(remote) ||
	    (no_bcast && mg_ip_is_broadcast(remote)))
		return mg_error_set(err, EINVAL, "remote", "%s", unicast);
	if (mg_model_addr_owner(m, under->id, local) == NULL)
		return mg_error_set(err, EINVAL, "local",
				    "%s is not an address of an interface in network '%s'",
				    mg_ip_fmt(local, b, sizeof(b)), under->spec.name);
	return 0;
}

void
model_iface_commit(struct mg_model *m, struct mg_iface *ifc)
{
	iface_commit(m, ifc);
}
