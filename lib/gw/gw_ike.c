/* SPDX-License-Identifier: BSD-3-Clause */
/* The gateway's IKEv2 peers: punted packets in, injected packets out, keys to ESP tunnels. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_telemetry.h>
#include <rte_udp.h>

#include "gw_ike.h"
#include "mg_esp_algos.h"
#include "mg_espgw.h"

RTE_LOG_REGISTER_SUFFIX(mg_ike_logtype, ike, INFO);
#define IKE_LOG(l, ...) rte_log(RTE_LOG_##l, mg_ike_logtype, "ike: " __VA_ARGS__)

struct gw_ike {
	struct mg_dp *dp;
	struct mg_model *model;
	struct mg_ike *ike;
	uint64_t next_ns;
	uint16_t ip_id;
	uint64_t rx_bad;        /* punted packets that were not IKE for a peer */
	uint64_t tx_failed;     /* messages that could not be sent */
	uint64_t installed;     /* CHILD_SAs installed */
	uint64_t install_failed;
	unsigned int npeers;
	char names[MG_IKE_MAX_PEERS][MG_NAME_MAX];
	uint64_t next_snap_ns;  /* next telemetry snapshot */
	gw_ike_event_fn *on_event;  /* SA events to the control plane (NSM monitors), or NULL */
	void *on_event_arg;
};

/*
 * DPDK telemetry (/meshgate/ike) answers from its own thread: it reads a
 * snapshot the main lcore writes once a second, never the engine.
 */
struct ike_snap {
	char name[MG_NAME_MAX];
	uint8_t state, initiator, natt;
	uint32_t rekeys, child_rekeys, spi_in, spi_out;
};
static pthread_mutex_t snap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ike_snap snap[64];
static unsigned int snap_n;

static int
tel_ike(const char *cmd, const char *params, struct rte_tel_data *d)
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
		rte_tel_data_add_dict_string(c, "state", mg_ike_state_name(snap[i].state));
		rte_tel_data_add_dict_string(c, "role", snap[i].initiator ? "initiator" : "responder");
		rte_tel_data_add_dict_u64(c, "natt", snap[i].natt);
		rte_tel_data_add_dict_u64(c, "child_spi_in", snap[i].spi_in);
		rte_tel_data_add_dict_u64(c, "child_spi_out", snap[i].spi_out);
		rte_tel_data_add_dict_u64(c, "rekeys", snap[i].rekeys);
		rte_tel_data_add_dict_u64(c, "child_rekeys", snap[i].child_rekeys);
		if (rte_tel_data_add_dict_container(d, snap[i].name, c, 0) != 0)
			rte_tel_data_free(c);
	}
	pthread_mutex_unlock(&snap_lock);
	return 0;
}

/* Main lcore: refresh the telemetry snapshot. */
static void
snap_refresh(const struct gw_ike *gi)
{
	struct ike_snap next[64];
	unsigned int n = 0;

	for (unsigned int i = 0; i < mg_ike_peer_count(gi->ike) && n < RTE_DIM(next); i++) {
		struct mg_ike_peer_info in;

		if (mg_ike_peer_info(gi->ike, i, &in) < 0)
			continue;
		snprintf(next[n].name, sizeof(next[n].name), "%s", in.name);
		for (char *c = next[n].name; *c; c++) /* 22.11's telemetry names */
			if (!isalnum((unsigned char)*c) && *c != '_' && *c != '/')
				*c = '_';
		next[n].state = (uint8_t)in.state;
		next[n].initiator = in.initiator;
		next[n].natt = in.natt;
		next[n].spi_in = in.child_spi_in;
		next[n].spi_out = in.child_spi_out;
		next[n].rekeys = in.rekeys;
		next[n].child_rekeys = in.child_rekeys;
		n++;
	}
	pthread_mutex_lock(&snap_lock);
	memcpy(snap, next, n * sizeof(next[0]));
	snap_n = n;
	pthread_mutex_unlock(&snap_lock);
}

/* ---- lib/ike's callbacks ------------------------------------------------------------------ */

static int
ike_send(void *arg, unsigned int peer, const struct mg_ike_dgram *d, const uint8_t *msg,
	 size_t len)
{
	struct gw_ike *gi = arg;
	const struct mg_esp_tunnel *t = mg_model_esp_find(gi->model, gi->names[peer]);
	const size_t mk = d->marker ? 4 : 0;
	const bool v4 = d->src.family == AF_INET;
	const size_t hl = v4 ? sizeof(struct rte_ipv4_hdr) : sizeof(struct rte_ipv6_hdr);
	struct rte_mbuf *m;
	struct rte_udp_hdr *udp;
	struct mg_meta *md;
	uint8_t *p;

	if (t == NULL || len + mk + hl + 8 > 65535)
		goto fail;
	m = rte_pktmbuf_alloc(mg_dp_pool(gi->dp, (int)rte_socket_id()));
	if (m == NULL)
		goto fail;
	p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(hl + 8 + mk + len));
	if (p == NULL) {
		rte_pktmbuf_free(m);
		goto fail;
	}
	udp = (struct rte_udp_hdr *)(p + hl);
	udp->src_port = rte_cpu_to_be_16(d->sport);
	udp->dst_port = rte_cpu_to_be_16(d->dport);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(8 + mk + len));
	udp->dgram_cksum = 0;
	memset(p + hl + 8, 0, mk);
	memcpy(p + hl + 8 + mk, msg, len);
	if (v4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)p;

		memset(ip, 0, sizeof(*ip));
		ip->version_ihl = 0x45;
		ip->total_length = rte_cpu_to_be_16((uint16_t)(hl + 8 + mk + len));
		ip->packet_id = rte_cpu_to_be_16(gi->ip_id++);
		ip->time_to_live = 64;
		ip->next_proto_id = IPPROTO_UDP;
		ip->src_addr = d->src.v4;
		ip->dst_addr = d->dst.v4;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
	} else {
		struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)p;

		memset(ip6, 0, sizeof(*ip6));
		ip6->vtc_flow = rte_cpu_to_be_32(6u << 28);
		ip6->payload_len = rte_cpu_to_be_16((uint16_t)(8 + mk + len));
		ip6->proto = IPPROTO_UDP;
		ip6->hop_limits = 64;
		memcpy(ip6->src_addr, d->src.v6, 16);
		memcpy(ip6->dst_addr, d->dst.v6, 16);
		udp->dgram_cksum = rte_ipv6_udptcp_cksum(ip6, udp);
	}
	md = mg_meta(m);
	memset(md, 0, sizeof(*md));
	md->rx_if = MG_IF_NONE;
	md->net = t->underlay;
	md->flags = MG_META_LOCAL;
	md->punt = v4 ? MG_INJECT_IP4 : MG_INJECT_IP6;
	if (mg_dp_inject(gi->dp, m) < 0)
		goto fail;
	return 0;
fail:
	gi->tx_failed++;
	return -ENOBUFS;
}

static int
ike_child_up(void *arg, unsigned int peer, const struct mg_ike_child_keys *k)
{
	struct gw_ike *gi = arg;
	const char *name = gi->names[peer];
	const struct mg_esp_tunnel *t = mg_model_esp_find(gi->model, name);
	struct mg_esp_sa_conf sas[2];
	struct mg_error err;
	int rc;

	if (t == NULL)
		return -ENOENT;
	if (k->udp_encap != t->spec.udp_encap)
		IKE_LOG(WARNING, "tunnel %s: the peer %s UDP encapsulation but the tunnel has "
			"udp_encap: %s; ESP will not pass until they agree\n", name,
			k->udp_encap ? "negotiated" : "did not negotiate",
			t->spec.udp_encap ? "true" : "false");
	memset(sas, 0, sizeof(sas));
	for (int i = 0; i < 2; i++) {
		struct mg_esp_sa_conf *c = &sas[i];
		/* One direction only when lib/ike installs a rekey in two steps. */
		const bool in = k->install == MG_IKE_INSTALL_IN ? true :
				k->install == MG_IKE_INSTALL_OUT ? false : i == 1;

		c->inbound = in;
		c->spi = in ? k->spi_in : k->spi_out;
		c->inner_family = k->inner_family;
		c->algo = k->esp_algo;
		c->key_len = k->enc_len;
		memcpy(c->key, in ? k->enc_in : k->enc_out, k->enc_len);
		c->auth_key_len = k->auth_len;
		memcpy(c->auth_key, in ? k->auth_in : k->auth_out, k->auth_len);
		c->salt_len = k->salt_len;
		memcpy(c->salt, in ? k->salt_in : k->salt_out, k->salt_len);
		c->seconds_hard = k->lifetime_s;
		c->seconds_soft = k->lifetime_s * 9 / 10;
	}
	rc = mg_model_esp_rekey(gi->model, name, sas,
				k->install == MG_IKE_INSTALL_BOTH ? 2 : 1, &err);
	mg_wipe(sas, sizeof(sas));
	if (rc < 0) {
		gi->install_failed++;
		IKE_LOG(ERR, "tunnel %s: cannot install the CHILD_SA: %s%s%s\n", name,
			err.field[0] ? err.field : "", err.field[0] ? ": " : "", err.msg);
		return rc;
	}
	gi->installed++;
	return 0;
}

static void
ike_child_down(void *arg, unsigned int peer)
{
	struct gw_ike *gi = arg;
	const struct mg_esp_tunnel *t = mg_model_esp_find(gi->model, gi->names[peer]);

	/*
	 * Its keys stop (RFC 7296 1.4.1: a deleted SA carries nothing): packets
	 * into the tunnel are dropped and counted as expired, rather than sent
	 * to a peer that deleted the SA or is gone, until the next CHILD_SA.
	 */
	IKE_LOG(NOTICE, "tunnel %s: CHILD_SA gone: its SAs stop until the next one\n",
		gi->names[peer]);
	if (t != NULL)
		mg_espgw_stop(__atomic_load_n(&gi->dp->esp, __ATOMIC_ACQUIRE), t->iface);
}

static void
ike_event(void *arg, unsigned int peer, int level, const char *msg)
{
	struct gw_ike *gi = arg;

	rte_log((uint32_t)level, mg_ike_logtype, "ike: tunnel %s: %s\n", gi->names[peer], msg);
}

static void
ike_sa_event(void *arg, unsigned int peer, enum mg_ike_event ev, enum mg_ike_reason r)
{
	struct gw_ike *gi = arg;

	if (gi->on_event != NULL)
		gi->on_event(gi->on_event_arg, gi->names[peer], mg_ike_event_name(ev),
			     mg_ike_reason_name(r));
}

/* ---- the gateway side -------------------------------------------------------------------- */

void
gw_ike_on_event(struct gw_ike *gi, gw_ike_event_fn *fn, void *arg)
{
	gi->on_event = fn;
	gi->on_event_arg = arg;
}

struct gw_ike *
gw_ike_create(struct mg_dp *dp, struct mg_model *model)
{
	struct gw_ike *gi = calloc(1, sizeof(*gi));
	struct mg_ike_ops ops = {.send = ike_send, .child_up = ike_child_up,
				 .child_down = ike_child_down, .event = ike_event,
				 .sa_event = ike_sa_event};

	if (gi == NULL)
		return NULL;
	ops.arg = gi;
	gi->dp = dp;
	gi->model = model;
	gi->ike = mg_ike_create(&ops);
	if (gi->ike == NULL) {
		free(gi);
		return NULL;
	}
	{
		static bool registered;

		if (!registered && rte_telemetry_register_cmd("/meshgate/ike", tel_ike,
				"meshgate IKEv2 peers by tunnel: state, role, NAT-T, CHILD_SA SPIs, "
				"rekeys. No parameters") == 0)
			registered = true;
	}
	return gi;
}

void
gw_ike_destroy(struct gw_ike *gi)
{
	if (gi == NULL)
		return;
	if (gi->dp != NULL)
		__atomic_store_n(&gi->dp->ike, 0, __ATOMIC_RELEASE);
	pthread_mutex_lock(&snap_lock);
	snap_n = 0;
	pthread_mutex_unlock(&snap_lock);
	mg_ike_destroy(gi->ike);
	free(gi);
}

int
gw_ike_add(struct gw_ike *gi, const struct mg_ike_peer_conf *c, struct mg_error *err)
{
	const struct mg_esp_tunnel *t = mg_model_esp_find(gi->model, c->name);
	struct mg_ike_peer_conf *pc;
	int idx;

	if (t == NULL)
		return mg_error_set(err, ENOENT, "", "no ESP tunnel named '%s'", c->name);
	pc = malloc(sizeof(*pc));
	if (pc == NULL)
		return mg_error_set(err, ENOMEM, "", "out of memory");
	*pc = *c;
	pc->local = t->spec.local;
	pc->remote = t->spec.remote;
	pc->udp_encap = t->spec.udp_encap;
	idx = mg_ike_peer_add(gi->ike, pc, err);
	mg_wipe(pc, sizeof(*pc));
	free(pc);
	if (idx < 0)
		return idx;
	snprintf(gi->names[idx], MG_NAME_MAX, "%s", c->name);
	gi->npeers = (unsigned int)idx + 1;
	gi->next_ns = 0;
	__atomic_store_n(&gi->dp->ike, 1, __ATOMIC_RELEASE);
	IKE_LOG(INFO, "tunnel %s: IKEv2 peer %s (%s)\n", c->name,
		mg_ip_fmt(&t->spec.remote, (char[MG_IP_STRLEN]){0}, MG_IP_STRLEN),
		c->initiator ? "initiator" : "responder");
	return 0;
}

int
gw_ike_set(struct gw_ike *gi, const struct mg_ike_peer_conf *c, struct mg_error *err)
{
	const struct mg_esp_tunnel *t = mg_model_esp_find(gi->model, c->name);
	struct mg_ike_peer_conf *pc;
	int idx, rc;

	if (t == NULL)
		return mg_error_set(err, ENOENT, "", "no ESP tunnel named '%s'", c->name);
	idx = mg_ike_peer_find(gi->ike, c->name);
	if (idx < 0)
		return gw_ike_add(gi, c, err);
	pc = malloc(sizeof(*pc)); /* too large for the main lcore's stack twice over */
	if (pc == NULL)
		return mg_error_set(err, ENOMEM, "", "out of memory");
	*pc = *c;
	pc->local = t->spec.local;
	pc->remote = t->spec.remote;
	pc->udp_encap = t->spec.udp_encap;
	rc = mg_ike_peer_replace(gi->ike, (unsigned int)idx, pc, err);
	mg_wipe(pc, sizeof(*pc));
	free(pc);
	if (rc < 0)
		return rc;
	gi->next_ns = 0;
	IKE_LOG(INFO, "tunnel %s: IKEv2 peer replaced (%s)\n", c->name,
		c->initiator ? "initiator" : "responder");
	return 0;
}

bool
gw_ike_has(const struct gw_ike *gi, const char *name)
{
	return gi != NULL && mg_ike_peer_find(gi->ike, name) >= 0;
}

int
gw_ike_del(struct gw_ike *gi, const char *name)
{
	int idx = gi == NULL ? -ENOENT : mg_ike_peer_find(gi->ike, name);

	if (idx < 0)
		return -ENOENT;
	mg_ike_peer_remove(gi->ike, (unsigned int)idx);
	memmove(gi->names[idx], gi->names[idx + 1], (gi->npeers - (unsigned int)idx - 1) *
		sizeof(gi->names[0]));
	gi->npeers--;
	gi->next_ns = 0;
	if (gi->npeers == 0)
		__atomic_store_n(&gi->dp->ike, 0, __ATOMIC_RELEASE);
	snap_refresh(gi);
	IKE_LOG(INFO, "tunnel %s: IKEv2 peer removed\n", name);
	return 0;
}

void
gw_ike_input(struct gw_ike *gi, struct rte_mbuf *m)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	const uint32_t len = rte_pktmbuf_data_len(m);
	struct mg_ike_dgram d;
	const struct rte_udp_hdr *udp;
	uint32_t l4, ulen;

	memset(&d, 0, sizeof(d));
	if (gi == NULL || len < 20)
		goto bad;
	RTE_ASSERT(rte_lcore_id() == gi->dp->main_lcore);
	if (p[0] >> 4 == 4) {
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)p;

		l4 = (ip->version_ihl & 0xfu) * 4u;
		if (l4 < 20 || rte_be_to_cpu_16(ip->total_length) > len ||
		    rte_be_to_cpu_16(ip->total_length) < l4 || ip->next_proto_id != IPPROTO_UDP)
			goto bad;
		ulen = rte_be_to_cpu_16(ip->total_length) - l4;
		d.src.family = d.dst.family = AF_INET;
		d.src.v4 = ip->src_addr;
		d.dst.v4 = ip->dst_addr;
	} else {
		const struct rte_ipv6_hdr *ip6 = (const struct rte_ipv6_hdr *)p;

		/* ipX-local only punts UDP right after the fixed header here. */
		if (len < 40 || ip6->proto != IPPROTO_UDP ||
		    40u + rte_be_to_cpu_16(ip6->payload_len) > len)
			goto bad;
		l4 = 40;
		ulen = rte_be_to_cpu_16(ip6->payload_len);
		d.src.family = d.dst.family = AF_INET6;
		memcpy(d.src.v6, ip6->src_addr, 16);
		memcpy(d.dst.v6, ip6->dst_addr, 16);
	}
	if (ulen < 8)
		goto bad;
	udp = (const struct rte_udp_hdr *)(p + l4);
	if (rte_be_to_cpu_16(udp->dgram_len) < 8 || rte_be_to_cpu_16(udp->dgram_len) > ulen)
		goto bad;
	ulen = rte_be_to_cpu_16(udp->dgram_len) - 8;
	d.sport = rte_be_to_cpu_16(udp->src_port);
	d.dport = rte_be_to_cpu_16(udp->dst_port);
	p += l4 + 8;
	if (d.dport == MG_IKE_NATT_PORT) {
		if (ulen < 4)
			goto bad;
		d.marker = true;
		p += 4;
		ulen -= 4;
	}
	mg_ike_input(gi->ike, &d, p, ulen, mg_now_ns());
	gi->next_ns = 0; /* the engine may have timers to (re)arm */
	rte_pktmbuf_free(m);
	return;
bad:
	if (gi != NULL)
		gi->rx_bad++;
	rte_pktmbuf_free(m);
}

void
gw_ike_poll(struct gw_ike *gi, uint64_t now)
{
	if (gi == NULL || gi->npeers == 0 || now < gi->next_ns)
		return;
	RTE_ASSERT(rte_lcore_id() == gi->dp->main_lcore);
	gi->next_ns = mg_ike_tick(gi->ike, now);
	if (now >= gi->next_snap_ns) {
		snap_refresh(gi);
		gi->next_snap_ns = now + 1000000000ull;
	}
	if (gi->next_ns > gi->next_snap_ns)
		gi->next_ns = gi->next_snap_ns;
}

uint64_t
gw_ike_next_timer(const struct gw_ike *gi)
{
	return gi == NULL || gi->npeers == 0 ? UINT64_MAX : gi->next_ns;
}

static void
prop_str(const struct mg_ike_proposal *p, bool ike, char *buf, size_t n)
{
	if (p->encr == 0)
		snprintf(buf, n, "%s", "");
	else
		mg_ike_proposal_format(p, ike, buf, n);
}

void
gw_ike_json(const struct gw_ike *gi, FILE *f)
{
	uint64_t now = mg_now_ns();

	fputc('[', f);
	for (unsigned int i = 0; gi != NULL && i < mg_ike_peer_count(gi->ike); i++) {
		struct mg_ike_peer_info in;
		char ip[MG_IP_STRLEN], ike[64], esp[64];

		if (mg_ike_peer_info(gi->ike, i, &in) < 0)
			continue;
		prop_str(&in.ike, true, ike, sizeof(ike));
		prop_str(&in.esp, false, esp, sizeof(esp));
		fprintf(f, "%s{\"tunnel\":\"%s\",\"role\":\"%s\",\"state\":\"%s\",\"remote\":\"%s\","
			"\"remote_port\":%u,\"spi_i\":\"%016" PRIx64 "\",\"spi_r\":\"%016" PRIx64 "\","
			"\"ike_proposal\":\"%s\",\"esp_proposal\":\"%s\",\"child_spi_in\":%u,"
			"\"child_spi_out\":%u,\"natt\":%s,\"established_s\":%" PRIu64 ","
			"\"reauth_in_s\":%" PRId64 ",\"rekeys\":%u,\"child_rekeys\":%u,"
			"\"last_error\":\"%s\"}",
			i ? "," : "", in.name, in.initiator ? "initiator" : "responder",
			mg_ike_state_name(in.state), mg_ip_fmt(&in.remote, ip, sizeof(ip)),
			in.remote_port, in.spi_i, in.spi_r, ike, esp, in.child_spi_in,
			in.child_spi_out, in.natt ? "true" : "false",
			(uint64_t)(in.established_ns ? (now - in.established_ns) / 1000000000ull : 0),
			in.ike_expires_ns && in.initiator
				? (int64_t)(((int64_t)in.ike_expires_ns - (int64_t)now) / 1000000000)
				: (int64_t)-1,
			in.rekeys, in.child_rekeys, mg_ike_reason_name(in.last_error));
	}
	fputc(']', f);
}

void
gw_ike_metrics(const struct gw_ike *gi, FILE *f)
{
	struct mg_ike_stats st;
	static const struct {
		const char *name, *help;
		size_t off;
	} cs[] = {
		{"rx_messages", "IKE messages received.", offsetof(struct mg_ike_stats, rx)},
		{"tx_messages", "IKE messages sent, retransmissions included.",
		 offsetof(struct mg_ike_stats, tx)},
		{"retransmits", "IKE requests sent again.", offsetof(struct mg_ike_stats, retransmits)},
		{"dropped", "IKE messages dropped (malformed, unknown SA, bad ICV).",
		 offsetof(struct mg_ike_stats, dropped)},
		{"established", "IKE SAs established.", offsetof(struct mg_ike_stats, established)},
		{"failed", "IKE SA attempts that failed.", offsetof(struct mg_ike_stats, failed)},
		{"auth_failed", "IKE SA attempts that failed authentication.",
		 offsetof(struct mg_ike_stats, auth_failed)},
		{"no_proposal", "IKE SA attempts with no acceptable proposal.",
		 offsetof(struct mg_ike_stats, no_proposal)},
		{"rekeys", "IKE SAs replaced by a new one.", offsetof(struct mg_ike_stats, rekeys)},
		{"dpd_sent", "IKE liveness checks sent.", offsetof(struct mg_ike_stats, dpd_sent)},
		{"cookies_sent", "IKE_SA_INIT requests answered with a cookie (under load).",
		 offsetof(struct mg_ike_stats, cookies_sent)},
	};

	if (gi == NULL || gi->npeers == 0)
		return;
	mg_ike_stats(gi->ike, &st);
	for (unsigned int i = 0; i < MG_ARRAY_SIZE(cs); i++)
		fprintf(f, "# HELP meshgate_ike_%s_total %s\n# TYPE meshgate_ike_%s_total counter\n"
			"meshgate_ike_%s_total %" PRIu64 "\n", cs[i].name, cs[i].help, cs[i].name,
			cs[i].name, *(const uint64_t *)((const char *)&st + cs[i].off));
	fputs("# HELP meshgate_ike_sa_up Whether the tunnel's IKE SA is established.\n"
	      "# TYPE meshgate_ike_sa_up gauge\n", f);
	for (unsigned int i = 0; i < mg_ike_peer_count(gi->ike); i++) {
		struct mg_ike_peer_info in;

		if (mg_ike_peer_info(gi->ike, i, &in) == 0)
			fprintf(f, "meshgate_ike_sa_up{tunnel=\"%s\"} %d\n", in.name,
				in.state == MG_IKE_ST_ESTABLISHED);
	}
}
