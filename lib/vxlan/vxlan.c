/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * VXLAN tunnels on the main lcore: the records and the search list the
 * workers read (lib/nodes/node_vxlan.c), their counters, Prometheus text and
 * the telemetry snapshot.
 *
 * DPDK telemetry (/meshgate/vxlan) answers from its own thread: it reads a
 * snapshot the main lcore writes at most once a second under a mutex, never
 * the per-worker counters themselves.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_telemetry.h>

#include "mg_vxlan.h"

#define SNAP_MAX 256
#define SNAP_NS 1000000000ull

struct tun_snap {
	char key[MG_NAME_MAX];
	uint32_t vni;
	struct mg_vxlan_counters c;
};

static pthread_mutex_t snap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tun_snap snap[SNAP_MAX];
static unsigned int snap_n;

static int
tel_vxlan(const char *cmd, const char *params, struct rte_tel_data *d)
{
	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&snap_lock);
	for (unsigned int i = 0; i < snap_n; i++) {
		struct rte_tel_data *c = rte_tel_data_alloc();

		if (c == NULL)
			break;
		rte_tel_data_start_dict(c);
		rte_tel_data_add_dict_u64(c, "vni", snap[i].vni);
		rte_tel_data_add_dict_u64(c, "rx_packets", snap[i].c.rx_pkts);
		rte_tel_data_add_dict_u64(c, "rx_bytes", snap[i].c.rx_bytes);
		rte_tel_data_add_dict_u64(c, "tx_packets", snap[i].c.tx_pkts);
		rte_tel_data_add_dict_u64(c, "tx_bytes", snap[i].c.tx_bytes);
		rte_tel_data_add_dict_u64(c, "tx_errors", snap[i].c.tx_errors);
		if (rte_tel_data_add_dict_container(d, snap[i].key, c, 0) != 0)
			rte_tel_data_free(c);
	}
	pthread_mutex_unlock(&snap_lock);
	return 0;
}

static void
counters_raw(const struct mg_vxlan *vx, uint16_t ifindex, struct mg_vxlan_counters *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned int w = 0; w < MG_MAX_WORKERS; w++) {
		const struct mg_vxlan_counters *c = vx->cnt[w];

		if (c == NULL)
			continue;
		out->rx_pkts += c[ifindex].rx_pkts;
		out->rx_bytes += c[ifindex].rx_bytes;
		out->tx_pkts += c[ifindex].tx_pkts;
		out->tx_bytes += c[ifindex].tx_bytes;
		out->tx_errors += c[ifindex].tx_errors;
	}
}

void
mg_vxlan_counters(const struct mg_vxlan *vx, uint16_t ifindex, struct mg_vxlan_counters *out)
{
	const struct mg_vxlan_counters *b;

	memset(out, 0, sizeof(*out));
	if (vx == NULL || ifindex >= MG_MAX_IFACES)
		return;
	counters_raw(vx, ifindex, out);
	b = &vx->base[ifindex];
	out->rx_pkts -= b->rx_pkts;
	out->rx_bytes -= b->rx_bytes;
	out->tx_pkts -= b->tx_pkts;
	out->tx_bytes -= b->tx_bytes;
	out->tx_errors -= b->tx_errors;
}

struct mg_vxlan *
mg_vxlan_get(struct mg_dp *dp, struct mg_error *err)
{
	struct mg_vxlan *vx;
	struct mg_vxlan_list *l;

	if (dp->vxlan != NULL)
		return dp->vxlan;
	RTE_ASSERT(rte_lcore_id() == dp->main_lcore);
	vx = rte_zmalloc("mg_vxlan", sizeof(*vx), RTE_CACHE_LINE_SIZE);
	l = mg_vxlan_list_build(NULL, 0);
	if (vx == NULL || l == NULL) {
		rte_free(vx);
		rte_free(l);
		mg_error_set(err, ENOMEM, "", "out of memory for VXLAN tunnels");
		return NULL;
	}
	for (unsigned int w = 0; w < dp->nb_workers && w < MG_MAX_WORKERS; w++) {
		vx->cnt[w] = rte_zmalloc_socket("mg_vxlan_cnt",
						MG_MAX_IFACES * sizeof(struct mg_vxlan_counters),
						RTE_CACHE_LINE_SIZE,
						(int)rte_lcore_to_socket_id(dp->workers[w]->lcore));
		if (vx->cnt[w] == NULL) {
			for (unsigned int k = 0; k < w; k++)
				rte_free(vx->cnt[k]);
			rte_free(vx);
			rte_free(l);
			mg_error_set(err, ENOMEM, "", "out of memory for VXLAN counters");
			return NULL;
		}
	}
	vx->list = l;
	vx->dp = dp;
	__atomic_store_n(&dp->vxlan, vx, __ATOMIC_RELEASE);
	{
		static bool registered;

		if (!registered && rte_telemetry_register_cmd("/meshgate/vxlan", tel_vxlan,
				"meshgate VXLAN tunnels (by name): vni, rx/tx packets and bytes, "
				"tx errors. No parameters") == 0)
			registered = true;
	}
	return vx;
}

struct mg_vxlan_list *
mg_vxlan_list_build(const struct mg_vxlan_tun *const *t, uint32_t n)
{
	uint32_t slots = 16;
	struct mg_vxlan_list *l;

	while (slots < 2 * n)
		slots *= 2;
	l = rte_zmalloc("mg_vxlan_list", sizeof(*l) + slots * sizeof(l->t[0]), RTE_CACHE_LINE_SIZE);
	if (l == NULL)
		return NULL;
	l->mask = slots - 1;
	for (uint32_t k = 0; k < n; k++) {
		size_t alen = t[k]->family == AF_INET ? 4 : 16;
		uint32_t i = mg_vxlan_hash(t[k]->vni_be, t[k]->remote, alen) & l->mask;

		while (l->t[i] != NULL)
			i = (i + 1) & l->mask;
		l->t[i] = t[k];
		l->n++;
	}
	return l;
}

/* Rebuild the table vxlan-input searches from the published records (but @p skip). */
static int
list_publish(struct mg_vxlan *vx, uint16_t skip)
{
	const struct mg_vxlan_tun *t[MG_MAX_IFACES];
	struct mg_vxlan_list *l, *old;
	uint32_t n = 0;

	for (unsigned int i = 0; i < MG_MAX_IFACES; i++)
		if (vx->tun[i] != NULL && i != skip)
			t[n++] = vx->tun[i];
	l = mg_vxlan_list_build(t, n);
	if (l == NULL)
		return -ENOMEM;
	old = vx->list;
	__atomic_store_n(&vx->list, l, __ATOMIC_RELEASE);
	mg_dp_sync(vx->dp);
	rte_free(old);
	return 0;
}

/* Recompute the UDP port bitmap from the tunnels (but @p skip). */
static void
ports_publish(struct mg_vxlan *vx, uint16_t skip)
{
	uint64_t next[65536 / 64];

	memset(next, 0, sizeof(next));
	for (unsigned int i = 0; i < MG_MAX_IFACES; i++) {
		const struct mg_vxlan_tun *t = vx->tun[i];

		if (t != NULL && i != skip) {
			uint16_t p = rte_be_to_cpu_16(t->port_be);

			next[p >> 6] |= 1ull << (p & 63);
		}
	}
	for (unsigned int i = 0; i < RTE_DIM(next); i++)
		if (vx->ports[i] != next[i])
			__atomic_store_n(&vx->ports[i], next[i], __ATOMIC_RELAXED);
}

int
mg_vxlan_tunnel_add(struct mg_vxlan *vx, const struct mg_vxlan_conf *c, struct mg_error *err)
{
	uint16_t port = c->port ? c->port : MG_VXLAN_PORT;
	struct mg_vxlan_tun *t;
	size_t alen = c->family == AF_INET ? 4 : 16;

	RTE_ASSERT(rte_lcore_id() == vx->dp->main_lcore);
	if (c->ifindex >= MG_MAX_IFACES || vx->tun[c->ifindex] != NULL)
		return mg_error_set(err, EEXIST, "", "interface slot %u is taken", c->ifindex);
	if (c->vni > MG_VXLAN_VNI_MAX)
		return mg_error_set(err, EINVAL, "vni", "%u is over %u", c->vni, MG_VXLAN_VNI_MAX);
	for (unsigned int i = 0; i < MG_MAX_IFACES; i++) {
		const struct mg_vxlan_tun *o = vx->tun[i];

		if (o != NULL && o->underlay == c->underlay && o->family == c->family &&
		    o->vni == c->vni && rte_be_to_cpu_16(o->port_be) == port &&
		    memcmp(o->local, c->local, alen) == 0 && memcmp(o->remote, c->remote, alen) == 0)
			return mg_error_set(err, EEXIST, "vni",
					    "tunnel '%s' has VNI %u between the same VTEPs and port",
					    o->name, c->vni);
	}
	t = rte_zmalloc("mg_vxlan_tun", sizeof(*t), RTE_CACHE_LINE_SIZE);
	if (t == NULL)
		return mg_error_set(err, ENOMEM, "", "out of memory for a VXLAN tunnel");
	t->ifindex = c->ifindex;
	t->underlay = c->underlay;
	t->family = c->family;
	t->port_be = rte_cpu_to_be_16(port);
	t->vni = c->vni;
	t->vni_be = rte_cpu_to_be_32(c->vni << 8);
	memcpy(t->local, c->local, alen);
	memcpy(t->remote, c->remote, alen);
	mg_strlcpy(t->name, c->name, sizeof(t->name));
	/* A tunnel in this slot counts from zero. */
	counters_raw(vx, c->ifindex, &vx->base[c->ifindex]);
	__atomic_store_n(&vx->tun[c->ifindex], t, __ATOMIC_RELEASE);
	if (list_publish(vx, MG_IF_NONE) < 0) {
		__atomic_store_n(&vx->tun[c->ifindex], NULL, __ATOMIC_RELEASE);
		mg_dp_sync(vx->dp);
		rte_free(t);
		return mg_error_set(err, ENOMEM, "", "out of memory for the VXLAN tunnel list");
	}
	ports_publish(vx, MG_IF_NONE);
	return 0;
}

void
mg_vxlan_tunnel_del(struct mg_vxlan *vx, uint16_t ifindex)
{
	struct mg_vxlan_tun *t;

	if (vx == NULL || ifindex >= MG_MAX_IFACES || (t = vx->tun[ifindex]) == NULL)
		return;
	/*
	 * First out of the list vxlan-input searches (on failure to allocate the
	 * new list, the old one stays and vxlan-input keeps matching the tunnel
	 * until the slot is cleared below; it then finds no interface and drops).
	 */
	ports_publish(vx, ifindex);
	if (list_publish(vx, ifindex) < 0)
		RTE_LOG(WARNING, USER1, "vxlan: no memory for the list without '%s'\n", t->name);
	__atomic_store_n(&vx->tun[ifindex], NULL, __ATOMIC_RELEASE);
	/* vxlan-encap (by ifindex) and the old list may hold it until their walk ends. */
	mg_dp_sync(vx->dp);
	rte_free(t);
}

void
mg_vxlan_destroy(struct mg_vxlan *vx)
{
	if (vx == NULL)
		return;
	for (unsigned int i = 0; i < MG_MAX_IFACES; i++)
		if (vx->tun[i] != NULL) {
			rte_free(vx->tun[i]);
			vx->tun[i] = NULL;
		}
	rte_free(vx->list);
	for (unsigned int w = 0; w < MG_MAX_WORKERS; w++)
		rte_free(vx->cnt[w]);
	if (vx->dp != NULL)
		vx->dp->vxlan = NULL;
	pthread_mutex_lock(&snap_lock);
	snap_n = 0;
	pthread_mutex_unlock(&snap_lock);
	rte_free(vx);
}

/* Prometheus label value: names are 1-31 of [A-Za-z0-9_.:-], nothing to escape. */
void
mg_vxlan_metrics(const struct mg_vxlan *vx, FILE *f)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} fam[] = {
		{"meshgate_vxlan_rx_packets_total", "Frames decapsulated from a VXLAN tunnel.",
		 offsetof(struct mg_vxlan_counters, rx_pkts)},
		{"meshgate_vxlan_rx_bytes_total", "Inner frame bytes decapsulated from a VXLAN tunnel.",
		 offsetof(struct mg_vxlan_counters, rx_bytes)},
		{"meshgate_vxlan_tx_packets_total", "Frames encapsulated into a VXLAN tunnel.",
		 offsetof(struct mg_vxlan_counters, tx_pkts)},
		{"meshgate_vxlan_tx_bytes_total", "Inner frame bytes encapsulated into a VXLAN tunnel.",
		 offsetof(struct mg_vxlan_counters, tx_bytes)},
		{"meshgate_vxlan_tx_errors_total",
		 "Frames a VXLAN tunnel could not encapsulate (no headroom, tunnel gone).",
		 offsetof(struct mg_vxlan_counters, tx_errors)},
	};
	struct mg_vxlan_counters c;

	if (vx == NULL)
		return;
	for (unsigned int k = 0; k < RTE_DIM(fam); k++) {
		bool any = false;

		for (unsigned int i = 0; i < MG_MAX_IFACES; i++) {
			const struct mg_vxlan_tun *t = vx->tun[i];

			if (t == NULL)
				continue;
			if (!any) {
				fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", fam[k].name, fam[k].help,
					fam[k].name);
				any = true;
			}
			mg_vxlan_counters(vx, (uint16_t)i, &c);
			fprintf(f, "%s{tunnel=\"%s\",vni=\"%u\"} %" PRIu64 "\n", fam[k].name, t->name,
				t->vni, *(const uint64_t *)((const char *)&c + fam[k].off));
		}
	}
}

void
mg_vxlan_poll(struct mg_vxlan *vx, uint64_t now_ns)
{
	static struct tun_snap next[SNAP_MAX];
	unsigned int n = 0;

	if (vx == NULL || now_ns < vx->next_snap_ns)
		return;
	vx->next_snap_ns = now_ns + SNAP_NS;
	for (unsigned int i = 0; i < MG_MAX_IFACES && n < SNAP_MAX; i++) {
		const struct mg_vxlan_tun *t = vx->tun[i];
		char *k;

		if (t == NULL)
			continue;
		snprintf(next[n].key, sizeof(next[n].key), "%s", t->name);
		for (k = next[n].key; *k; k++)
			if (!isalnum((unsigned char)*k) && *k != '_') /* 22.11's telemetry names */
				*k = '_';
		next[n].vni = t->vni;
		mg_vxlan_counters(vx, (uint16_t)i, &next[n].c);
		n++;
	}
	pthread_mutex_lock(&snap_lock);
	memcpy(snap, next, n * sizeof(next[0]));
	snap_n = n;
	pthread_mutex_unlock(&snap_lock);
}
