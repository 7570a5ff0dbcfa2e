/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wg_probe: one WireGuard peer built on lib/wg over a plain kernel UDP
 * socket, for interop tests against wireguard-go. It runs the library's
 * real data path functions on rte_mbufs (EAL without hugepages or devices),
 * answers ICMP and ICMPv6 echo requests it decrypts, can ping through the
 * tunnel itself, and writes its counters as JSON.
 *
 * usage: wg_probe --private-key B64 --peer-public B64 [--psk B64]
 *                 --listen ADDR:PORT [--endpoint ADDR:PORT] [--initiate]
 *                 --tunnel-ip IP [--tunnel-ip IP] [--allowed PREFIX]...
 *                 [--keepalive S] [--ping IP] [--duration S] [--stats FILE]
 * IPv6 socket addresses are written [ADDR]:PORT. Stops on SIGTERM/SIGINT or
 * after --duration, writing the stats file (also every 200 ms).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "mg_addr.h"
#include "mg_common.h"
#include "mg_wg.h"

#define NS_PER_MS 1000000ULL

/** Probe state. */
struct probe {
	int fd;                              /**< The UDP socket. */
	struct mg_wg_iface *wg;              /**< Our interface. */
	struct mg_wg_peer *peer;             /**< The one peer. */
	struct mg_wg_aip *aip;               /**< The peer's allowed IPs. */
	struct mg_wg_worker *w;              /**< Crypto context. */
	struct rte_mempool *pool;            /**< mbufs. */
	struct sockaddr_storage ep;          /**< The peer's endpoint. */
	socklen_t ep_len;                    /**< 0 while unknown. */
	struct mg_ip tun[2];                 /**< Our tunnel addresses. */
	int ntun;                            /**< How many. */
	struct mg_ip ping_dst;               /**< Address to ping through the tunnel. */
	bool ping;                           /**< --ping given. */
	uint16_t ping_seq;                   /**< Next echo sequence number. */
	/* Counters. */
	uint64_t hs[MG_WG_HS_RESULT_MAX];    /**< Handshake outcomes. */
	uint64_t rx[MG_WG_RX_STATUS_MAX];    /**< Decrypt outcomes. */
	uint64_t tx[MG_WG_TX_STATUS_MAX];    /**< Encrypt outcomes. */
	uint64_t initiations_sent;           /**< Initiations sent. */
	uint64_t keepalives_sent;            /**< Keepalives sent. */
	uint64_t echo_replied;               /**< Echo requests answered. */
	uint64_t echo_sent;                  /**< Our echo requests sent. */
	uint64_t echo_reply_received;        /**< Replies to ours. */
	uint64_t gave_up;                    /**< Handshakes given up. */
	uint64_t no_session;                 /**< Packets not sent for want of a session. */
	uint64_t udp_rx_bytes;               /**< UDP payload bytes received. */
	uint64_t udp_tx_bytes;               /**< UDP payload bytes sent. */
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
die(const char *what)
{
	fprintf(stderr, "wg_probe: %s\n", what);
	exit(1);
}

/* Parse "A.B.C.D:PORT" or "[V6]:PORT" into a socket address. */
static int
parse_sockaddr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *colon = strrchr(s, ':');
	struct mg_ip ip;
	long port;

	if (colon == NULL || colon - s >= (long)sizeof(host))
		return -1;
	memcpy(host, s, colon - s);
	host[colon - s] = '\0';
	if (host[0] == '[') {
		size_t n = strlen(host);

		if (n < 2 || host[n - 1] != ']')
			return -1;
		memmove(host, host + 1, n - 2);
		host[n - 2] = '\0';
	}
	port = strtol(colon + 1, NULL, 10);
	if (mg_ip_parse(host, &ip) < 0 || port <= 0 || port > 65535)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (ip.family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		a->sin_addr.s_addr = ip.v4;
		*len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		memcpy(&a->sin6_addr, ip.v6, 16);
		*len = sizeof(*a);
	}
	return 0;
}

/* The library's view of a socket address. */
static struct mg_wg_src
to_src(const struct sockaddr_storage *ss)
{
	struct mg_wg_src s = {0};

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		s.ip.family = AF_INET;
		s.ip.v4 = a->sin_addr.s_addr;
		s.port = ntohs(a->sin_port);
	} else {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		s.ip.family = AF_INET6;
		memcpy(s.ip.v6, &a->sin6_addr, 16);
		s.port = ntohs(a->sin6_port);
	}
	return s;
}

static void
send_to_peer(struct probe *p, const void *buf, size_t len)
{
	if (p->ep_len == 0)
		return;
	if (sendto(p->fd, buf, len, 0, (const struct sockaddr *)&p->ep, p->ep_len) == (ssize_t)len)
		p->udp_tx_bytes += len;
}

/* Encrypt one inner packet (or a keepalive when empty) and send it. */
static void
send_inner(struct probe *p, struct rte_mbuf *m, uint64_t now)
{
	struct mg_wg_keypair *kp = mg_wg_peer_tx_keypair(p->peer, now);
	uint8_t st;

	if (kp == NULL) {
		p->no_session++;
		mg_wg_peer_want_handshake(p->peer);
		rte_pktmbuf_free(m);
		return;
	}
	if (mg_wg_encrypt_burst(p->w, kp, &m, 1, now, &st) == 1)
		send_to_peer(p, rte_pktmbuf_mtod(m, void *), rte_pktmbuf_data_len(m));
	p->tx[st]++;
	rte_pktmbuf_free(m);
}

static void
send_initiation(struct probe *p, uint64_t now)
{
	uint8_t msg[MG_WG_INITIATION_LEN];

	if (p->ep_len == 0 || mg_wg_initiation_create(p->wg, p->peer, now, msg) < 0)
		return;
	send_to_peer(p, msg, sizeof(msg));
	p->initiations_sent++;
}

static void
send_keepalive(struct probe *p, uint64_t now)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(p->pool);

	if (m == NULL)
		return;
	if (mg_wg_keepalive(p->w, p->peer, m, now) == 0) {
		send_to_peer(p, rte_pktmbuf_mtod(m, void *), rte_pktmbuf_data_len(m));
		p->keepalives_sent++;
		p->tx[MG_WG_TX_OK]++;
	}
	rte_pktmbuf_free(m);
}

/* Timer actions from mg_wg_iface_tick. */
static void
on_action(void *arg, struct mg_wg_peer *peer, uint32_t act)
{
	struct probe *p = arg;
	uint64_t now = mg_now_ns();

	(void)peer;
	if (act & MG_WG_ACT_SEND_INITIATION)
		send_initiation(p, now);
	if (act & MG_WG_ACT_SEND_KEEPALIVE)
		send_keepalive(p, now);
	if (act & MG_WG_ACT_GIVE_UP)
		p->gave_up++;
}

static bool
is_ours(const struct probe *p, const struct mg_ip *ip)
{
	for (int i = 0; i < p->ntun; i++)
		if (mg_ip_equal(&p->tun[i], ip))
			return true;
	return false;
}

/* Answer an echo request addressed to us in place; true if @p m is now a reply. */
static bool
echo_reply(struct probe *p, struct rte_mbuf *m)
{
	uint8_t *b = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m);
	struct mg_ip dst = {0};

	if ((b[0] >> 4) == 4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)b;
		uint32_t hl = (uint32_t)(b[0] & 0xf) * 4;
		uint8_t *icmp = b + hl;
		uint32_t a;

		dst.family = AF_INET;
		dst.v4 = ip->dst_addr;
		if (!is_ours(p, &dst) || ip->next_proto_id != IPPROTO_ICMP || len < hl + 8)
			return false;
		if (icmp[0] == 0 && p->ping) { /* a reply to our own ping */
			p->echo_reply_received++;
			return false;
		}
		if (icmp[0] != 8)
			return false;
		a = ip->src_addr;
		ip->src_addr = ip->dst_addr;
		ip->dst_addr = a;
		ip->time_to_live = 64;
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		icmp[0] = 0;
		icmp[2] = icmp[3] = 0;
		uint16_t ck = (uint16_t)~rte_raw_cksum(icmp, len - hl);

		memcpy(icmp + 2, &ck, 2);
		return true;
	}
	if ((b[0] >> 4) == 6 && len >= 40 + 8) {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)b;
		uint8_t *icmp = b + 40, t[16];

		dst.family = AF_INET6;
		memcpy(dst.v6, ip->dst_addr, 16);
		if (!is_ours(p, &dst) || ip->proto != IPPROTO_ICMPV6)
			return false;
		if (icmp[0] == 129 && p->ping) {
			p->echo_reply_received++;
			return false;
		}
		if (icmp[0] != 128)
			return false;
		memcpy(t, ip->src_addr, 16);
		memcpy(ip->src_addr, ip->dst_addr, 16);
		memcpy(ip->dst_addr, t, 16);
		ip->hop_limits = 64;
		icmp[0] = 129;
		icmp[2] = icmp[3] = 0;
		uint16_t ck = rte_ipv6_udptcp_cksum(ip, icmp);

		memcpy(icmp + 2, &ck, 2);
		return true;
	}
	return false;
}

/* Send one echo request to --ping through the tunnel. */
static void
send_ping(struct probe *p, uint64_t now)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(p->pool);
	uint8_t *b;
	const struct mg_ip *src = NULL;

	if (m == NULL)
		return;
	for (int i = 0; i < p->ntun; i++)
		if (p->tun[i].family == p->ping_dst.family)
			src = &p->tun[i];
	if (src == NULL) {
		rte_pktmbuf_free(m);
		return;
	}
	if (p->ping_dst.family == AF_INET) {
		struct rte_ipv4_hdr *ip;

		b = (uint8_t *)rte_pktmbuf_append(m, 20 + 8 + 32);
		if (b == NULL) {
			rte_pktmbuf_free(m);
			return;
		}
		memset(b, 0xa5, 60);
		ip = (struct rte_ipv4_hdr *)b;
		memset(ip, 0, 20);
		ip->version_ihl = 0x45;
		ip->total_length = htons(60);
		ip->time_to_live = 64;
		ip->next_proto_id = IPPROTO_ICMP;
		ip->src_addr = src->v4;
		ip->dst_addr = p->ping_dst.v4;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		b[20] = 8;
		b[21] = 0;
		b[22] = b[23] = 0;
		b[24] = 0x12;
		b[25] = 0x34;
		b[26] = (uint8_t)(p->ping_seq >> 8);
		b[27] = (uint8_t)p->ping_seq;
		uint16_t ck = (uint16_t)~rte_raw_cksum(b + 20, 40);

		memcpy(b + 22, &ck, 2);
	} else {
		struct rte_ipv6_hdr *ip;

		b = (uint8_t *)rte_pktmbuf_append(m, 40 + 8 + 32);
		if (b == NULL) {
			rte_pktmbuf_free(m);
			return;
		}
		memset(b, 0xa5, 80);
		ip = (struct rte_ipv6_hdr *)b;
		ip->vtc_flow = htonl(6u << 28);
		ip->payload_len = htons(40);
		ip->proto = IPPROTO_ICMPV6;
		ip->hop_limits = 64;
		memcpy(ip->src_addr, src->v6, 16);
		memcpy(ip->dst_addr, p->ping_dst.v6, 16);
		b[40] = 128;
		b[41] = 0;
		b[42] = b[43] = 0;
		b[44] = 0x12;
		b[45] = 0x34;
		b[46] = (uint8_t)(p->ping_seq >> 8);
		b[47] = (uint8_t)p->ping_seq;
		uint16_t ck = rte_ipv6_udptcp_cksum(ip, b + 40);

		memcpy(b + 42, &ck, 2);
	}
	p->ping_seq++;
	p->echo_sent++;
	send_inner(p, m, now);
}

/* Handle one received datagram. */
static void
receive(struct probe *p, const uint8_t *buf, size_t len, const struct sockaddr_storage *from,
	socklen_t from_len, uint64_t now)
{
	int type = mg_wg_msg_type(buf, (uint32_t)len);
	struct mg_wg_src src = to_src(from);

	p->udp_rx_bytes += len;
	if (type >= 1 && type <= 3) {
		uint8_t reply[MG_WG_REPLY_MAX];
		size_t rlen = 0;
		struct mg_wg_peer *who = NULL;
		enum mg_wg_hs_result r =
			mg_wg_handshake_receive(p->wg, buf, len, &src, now, reply, &rlen, &who);

		p->hs[r]++;
		if (r == MG_WG_HS_RESPONSE || r == MG_WG_HS_SESSION) {
			/* Roaming: the endpoint follows the last authenticated packet. */
			memcpy(&p->ep, from, from_len);
			p->ep_len = from_len;
		}
		if (rlen > 0) {
			if (sendto(p->fd, reply, rlen, 0, (const struct sockaddr *)from, from_len) ==
			    (ssize_t)rlen)
				p->udp_tx_bytes += rlen;
		}
		if (r == MG_WG_HS_SESSION)
			send_keepalive(p, now); /* confirm the session at once */
		return;
	}
	if (type != 4) {
		p->rx[MG_WG_RX_MALFORMED]++;
		return;
	}

	struct rte_mbuf *m = rte_pktmbuf_alloc(p->pool);
	struct mg_wg_peer *who = NULL;
	uint8_t st;
	void *d;

	if (m == NULL || (d = rte_pktmbuf_append(m, (uint16_t)len)) == NULL) {
		rte_pktmbuf_free(m);
		return;
	}
	memcpy(d, buf, len);
	uint16_t ok = mg_wg_decrypt_burst(p->w, p->wg, p->aip, &m, 1, now, &st, &who);

	p->rx[st]++;
	if (who != NULL) {
		memcpy(&p->ep, from, from_len);
		p->ep_len = from_len;
	}
	if (ok == 1 && echo_reply(p, m)) {
		p->echo_replied++;
		send_inner(p, m, now);
		return;
	}
	rte_pktmbuf_free(m);
}

static void
write_stats(const struct probe *p, const char *path)
{
	char tmp[4096];
	struct mg_wg_peer_info info;
	FILE *f;

	if (path == NULL)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return;
	mg_wg_peer_info(p->peer, &info, mg_now_ns());
	fprintf(f, "{\n  \"hs\": {");
	for (unsigned int i = 0; i < MG_WG_HS_RESULT_MAX; i++)
		fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", mg_wg_hs_result_name(i), p->hs[i]);
	fprintf(f, "},\n  \"rx\": {");
	for (unsigned int i = 0; i < MG_WG_RX_STATUS_MAX; i++)
		fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", mg_wg_rx_status_name(i), p->rx[i]);
	fprintf(f, "},\n  \"tx\": {");
	for (unsigned int i = 0; i < MG_WG_TX_STATUS_MAX; i++)
		fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", mg_wg_tx_status_name(i), p->tx[i]);
	fprintf(f, "},\n");
	fprintf(f, "  \"initiations_sent\": %" PRIu64 ",\n  \"keepalives_sent\": %" PRIu64 ",\n"
		   "  \"echo_replied\": %" PRIu64 ",\n  \"echo_sent\": %" PRIu64 ",\n"
		   "  \"echo_reply_received\": %" PRIu64 ",\n  \"gave_up\": %" PRIu64 ",\n"
		   "  \"no_session\": %" PRIu64 ",\n  \"udp_rx_bytes\": %" PRIu64 ",\n"
		   "  \"udp_tx_bytes\": %" PRIu64 ",\n",
		p->initiations_sent, p->keepalives_sent, p->echo_replied, p->echo_sent,
		p->echo_reply_received, p->gave_up, p->no_session, p->udp_rx_bytes,
		p->udp_tx_bytes);
	fprintf(f, "  \"peer\": {\"rx_bytes\": %" PRIu64 ", \"tx_bytes\": %" PRIu64
		   ", \"rx_packets\": %" PRIu64 ", \"tx_packets\": %" PRIu64
		   ", \"has_session\": %s, \"last_handshake_wall_ns\": %" PRIu64 "}\n}\n",
		info.rx_bytes, info.tx_bytes, info.rx_packets, info.tx_packets,
		info.has_session ? "true" : "false", info.last_handshake_wall_ns);
	fclose(f);
	rename(tmp, path);
}

/* Copy a prefix into another builder for the probe's peer. */
struct rebind {
	struct mg_wg_aip_builder *b;  /**< Destination. */
	struct mg_wg_peer *peer;      /**< The peer to map to. */
};

static void
rebind_prefix(void *arg, const struct mg_prefix *pfx, struct mg_wg_peer *unused)
{
	struct rebind *r = arg;

	(void)unused;
	mg_wg_aip_builder_add(r->b, pfx, r->peer, NULL);
}

static void
usage(void)
{
	fprintf(stderr,
		"usage: wg_probe --private-key B64 --peer-public B64 [--psk B64]\n"
		"                --listen ADDR:PORT [--endpoint ADDR:PORT] [--initiate]\n"
		"                --tunnel-ip IP [--allowed PREFIX]... [--keepalive S]\n"
		"                [--ping IP] [--duration S] [--stats FILE]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"private-key", required_argument, NULL, 'k'},
		{"peer-public", required_argument, NULL, 'p'},
		{"psk", required_argument, NULL, 's'},
		{"listen", required_argument, NULL, 'l'},
		{"endpoint", required_argument, NULL, 'e'},
		{"initiate", no_argument, NULL, 'i'},
		{"tunnel-ip", required_argument, NULL, 't'},
		{"allowed", required_argument, NULL, 'a'},
		{"keepalive", required_argument, NULL, 'K'},
		{"ping", required_argument, NULL, 'P'},
		{"duration", required_argument, NULL, 'd'},
		{"stats", required_argument, NULL, 'S'},
		{NULL, 0, NULL, 0},
	};
	struct probe p = {.fd = -1};
	struct mg_wg_iface_conf ic = {.name = "probe"};
	struct mg_wg_peer_conf pc = {0};
	struct mg_wg_aip_builder *b = mg_wg_aip_builder_create();
	struct sockaddr_storage listen_addr;
	socklen_t listen_len = 0;
	uint8_t priv[32], psk[32];
	bool have_priv = false, have_pub = false, have_psk = false, initiate = false;
	double duration = 0;
	const char *stats = NULL;
	struct mg_error err;
	struct mg_prefix pfx;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'k':
			if (mg_wg_key_from_base64(priv, optarg, &err) < 0)
				die(err.msg);
			have_priv = true;
			break;
		case 'p':
			if (mg_wg_key_from_base64(pc.public_key, optarg, &err) < 0)
				die(err.msg);
			have_pub = true;
			break;
		case 's':
			if (mg_wg_key_from_base64(psk, optarg, &err) < 0)
				die(err.msg);
			have_psk = true;
			break;
		case 'l':
			if (parse_sockaddr(optarg, &listen_addr, &listen_len) < 0)
				die("bad --listen");
			break;
		case 'e':
			if (parse_sockaddr(optarg, &p.ep, &p.ep_len) < 0)
				die("bad --endpoint");
			break;
		case 'i':
			initiate = true;
			break;
		case 't':
			if (p.ntun == 2 || mg_ip_parse(optarg, &p.tun[p.ntun++]) < 0)
				die("bad --tunnel-ip");
			break;
		case 'a':
			if (mg_prefix_parse(optarg, &pfx) < 0)
				die("bad --allowed");
			/* The peer is set once it exists: remember the prefix for now. */
			if (mg_wg_aip_builder_add(b, &pfx, NULL, &err) < 0)
				die(err.msg);
			break;
		case 'K':
			pc.persistent_keepalive = (uint16_t)atoi(optarg);
			break;
		case 'P':
			if (mg_ip_parse(optarg, &p.ping_dst) < 0)
				die("bad --ping");
			p.ping = true;
			break;
		case 'd':
			duration = atof(optarg);
			break;
		case 'S':
			stats = optarg;
			break;
		default:
			usage();
		}
	}
	if (!have_priv || !have_pub || listen_len == 0 || p.ntun == 0)
		usage();

	/* EAL without hugepages, devices or shared files: only mbufs are needed. */
	char prefix[64];
	char *eal[] = {"wg_probe", "-l", "0", "--no-huge", "-m", "256", "--no-pci",
		       "--no-shconf", "--no-telemetry", "--log-level", "error",
		       "--file-prefix", prefix, NULL};

	snprintf(prefix, sizeof(prefix), "wgprobe%d", getpid());
	if (rte_eal_init(RTE_DIM(eal) - 1, eal) < 0)
		die("EAL init failed");
	p.pool = rte_pktmbuf_pool_create("probe_pool", 511, 0, 0, 2176, SOCKET_ID_ANY);
	p.w = mg_wg_worker_create(SOCKET_ID_ANY);
	ic.private_key = priv;
	p.wg = mg_wg_iface_create(&ic, &err);
	if (p.pool == NULL || p.w == NULL || p.wg == NULL)
		die("setup failed");
	mg_wipe(priv, sizeof(priv));
	pc.preshared_key = have_psk ? psk : NULL;
	p.peer = mg_wg_peer_add(p.wg, &pc, mg_now_ns(), &err);
	mg_wipe(psk, sizeof(psk));
	if (p.peer == NULL)
		die(err.msg);
	/* Rebuild the allowed IPs with the peer in place of the placeholders. */
	{
		struct mg_wg_aip *t = mg_wg_aip_build(b, &err);
		struct mg_wg_aip_builder *b2 = mg_wg_aip_builder_create();

		struct rebind r = {b2, p.peer};

		if (t == NULL || b2 == NULL)
			die("allowed IPs");
		mg_wg_aip_walk(t, rebind_prefix, &r);
		mg_wg_aip_free(t);
		p.aip = mg_wg_aip_build(b2, &err);
		mg_wg_aip_builder_destroy(b2);
		mg_wg_aip_builder_destroy(b);
	}

	p.fd = socket(listen_addr.ss_family, SOCK_DGRAM, 0);
	if (p.fd < 0 || bind(p.fd, (struct sockaddr *)&listen_addr, listen_len) < 0)
		die(strerror(errno));
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	uint64_t start = mg_now_ns(), last_stats = 0, last_ping = 0;

	if (initiate)
		mg_wg_peer_want_handshake(p.peer);
	printf("wg_probe: running\n");
	fflush(stdout);
	while (!stop) {
		uint64_t now = mg_now_ns(), next;
		struct pollfd pfd = {.fd = p.fd, .events = POLLIN};
		int timeout;

		if (duration > 0 && now - start >= (uint64_t)(duration * 1e9))
			break;
		if (p.ping && now - last_ping >= 1000 * NS_PER_MS) {
			last_ping = now;
			send_ping(&p, now);
		}
		next = mg_wg_iface_tick(p.wg, now, on_action, &p);
		timeout = next <= now ? 0 : next - now > 50 * NS_PER_MS ? 50
									 : (int)((next - now) / NS_PER_MS);
		if (now - last_stats >= 200 * NS_PER_MS) {
			last_stats = now;
			write_stats(&p, stats);
		}
		if (poll(&pfd, 1, timeout) <= 0)
			continue;
		for (;;) {
			uint8_t buf[2048];
			struct sockaddr_storage from;
			socklen_t flen = sizeof(from);
			ssize_t n = recvfrom(p.fd, buf, sizeof(buf), MSG_DONTWAIT,
					     (struct sockaddr *)&from, &flen);

			if (n < 0)
				break;
			receive(&p, buf, (size_t)n, &from, flen, mg_now_ns());
		}
	}
	write_stats(&p, stats);
	close(p.fd);
	mg_wg_aip_free(p.aip);
	mg_wg_iface_destroy(p.wg);
	mg_wg_worker_destroy(p.w);
	rte_mempool_free(p.pool);
	rte_eal_cleanup();
	return 0;
}
