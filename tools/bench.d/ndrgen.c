/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndrgen: the traffic side of tools/bench --ndr, a DPDK program on virtual
 * devices (memif clients towards meshgate's memif servers).
 *
 *   ndrgen EAL... -- --mode gen [--tx-port 0] [--rx-port 1] [--size 64] [--flows 256]
 *                    [--dst-mac MAC] [--src-ip A] [--dst-ip B] [--dport N]
 *   ndrgen EAL... -- --mode police --rate PPS [--depth-ms 50] [--tx-port 1] [--rx-port 0]
 *
 * gen: once both ports are up it prints "ready", then reads commands on
 * stdin: "trial PPS SECONDS" offers PPS frames a second for SECONDS from the
 * TX port (paced by the TSC, in bursts of at most 32), counts the frames of
 * this stream that come back on the RX port (also for a short drain after
 * the trial) and prints one JSON line:
 *   {"target": PPS, "seconds": S, "tx": N, "rx": N, "refused": N}
 * where tx counts every frame offered, refused those the device would not
 * take (a full ring: lost as well). The pace is constant: after a stall the
 * generator does not catch up, so tx may fall short of PPS x SECONDS. "quit"
 * ends it.
 *
 * police: a device under test of known capacity, for testing the search:
 * forwards what arrives on the RX port to the TX port through a token bucket
 * of PPS with a depth of --depth-ms, drops the rest, until SIGINT/SIGTERM.
 * Its capacity holds on a busy host: see run_police().
 *
 * Not part of meshgate; built by tools/bench (and the tests) with
 * pkg-config libdpdk.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#define BURST 32
#define NB_MBUFS 8191
#define RING 1024

static volatile sig_atomic_t quit;

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

struct opts {
	int police;
	uint16_t tx_port, rx_port;
	unsigned int size, flows;
	struct rte_ether_addr dst_mac;
	uint32_t src_ip, dst_ip;
	uint16_t dport;
	double rate;
	double depth_ms;
};

static void
die(const char *fmt, const char *arg)
{
	fprintf(stderr, "ndrgen: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(2);
}

static uint32_t
parse_ip(const char *s)
{
	unsigned int a, b, c, d;
	char tail;

	if (sscanf(s, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 || b > 255 ||
	    c > 255 || d > 255)
		die("'%s' is not an IPv4 address", s);
	return a << 24 | b << 16 | c << 8 | d;
}

static void
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"mode", required_argument, NULL, 'm'},   {"tx-port", required_argument, NULL, 't'},
		{"rx-port", required_argument, NULL, 'r'}, {"size", required_argument, NULL, 's'},
		{"flows", required_argument, NULL, 'f'},  {"dst-mac", required_argument, NULL, 'M'},
		{"src-ip", required_argument, NULL, 'S'}, {"dst-ip", required_argument, NULL, 'D'},
		{"dport", required_argument, NULL, 'p'},  {"rate", required_argument, NULL, 'R'},
		{"depth-ms", required_argument, NULL, 'd'}, {NULL, 0, NULL, 0},
	};
	int c;
	int tx_set = 0, rx_set = 0;

	memset(o, 0, sizeof(*o));
	o->size = 64;
	o->flows = 256;
	o->src_ip = parse_ip("198.19.0.2");
	o->dst_ip = parse_ip("198.18.1.1");
	o->dport = 9;
	o->depth_ms = 50;
	rte_ether_unformat_addr("02:00:00:00:00:02", &o->dst_mac);
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (strcmp(optarg, "gen") == 0)
				o->police = 0;
			else if (strcmp(optarg, "police") == 0)
				o->police = 1;
			else
				die("--mode: '%s' is not gen or police", optarg);
			break;
		case 't': o->tx_port = (uint16_t)atoi(optarg); tx_set = 1; break;
		case 'r': o->rx_port = (uint16_t)atoi(optarg); rx_set = 1; break;
		case 's':
			o->size = (unsigned int)atoi(optarg);
			if (o->size < 64 || o->size > 1518)
				die("--size: '%s' is not 64-1518", optarg);
			break;
		case 'f':
			o->flows = (unsigned int)atoi(optarg);
			if (o->flows < 1 || o->flows > 60000)
				die("--flows: '%s' is not 1-60000", optarg);
			break;
		case 'M':
			if (rte_ether_unformat_addr(optarg, &o->dst_mac) < 0)
				die("--dst-mac: '%s' is not a MAC address", optarg);
			break;
		case 'S': o->src_ip = parse_ip(optarg); break;
		case 'D': o->dst_ip = parse_ip(optarg); break;
		case 'p': o->dport = (uint16_t)atoi(optarg); break;
		case 'R': o->rate = atof(optarg); break;
		case 'd': o->depth_ms = atof(optarg); break;
		default: die("%s", "bad option (see the comment at the top of ndrgen.c)");
		}
	}
	if (!tx_set)
		o->tx_port = o->police ? 1 : 0;
	if (!rx_set)
		o->rx_port = o->police ? 0 : 1;
	if (o->police && o->rate <= 0)
		die("%s", "--mode police needs --rate PPS");
}

static void
port_setup(uint16_t port, struct rte_mempool *pool)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	uint16_t rxd = RING, txd = RING;

	memset(&conf, 0, sizeof(conf));
	if (!rte_eth_dev_is_valid_port(port) || rte_eth_dev_info_get(port, &info) != 0)
		die("port %s does not exist (give --vdev for it)", port ? "1" : "0");
	if (rte_eth_dev_configure(port, 1, 1, &conf) < 0 ||
	    rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd) < 0 ||
	    rte_eth_rx_queue_setup(port, 0, rxd, rte_eth_dev_socket_id(port), NULL, pool) < 0 ||
	    rte_eth_tx_queue_setup(port, 0, txd, rte_eth_dev_socket_id(port), NULL) < 0 ||
	    rte_eth_dev_start(port) < 0)
		die("cannot set up port %s", port ? "1" : "0");
	rte_eth_promiscuous_enable(port);
}

static void
wait_links(const uint16_t *ports, int n)
{
	for (int tries = 0; tries < 200 && !quit; tries++) {
		int up = 0;

		for (int i = 0; i < n; i++) {
			struct rte_eth_link l;

			if (rte_eth_link_get_nowait(ports[i], &l) == 0 && l.link_status)
				up++;
		}
		if (up == n)
			return;
		rte_delay_us_sleep(50000);
	}
	die("%s", "links did not come up within 10 s (is the other side running?)");
}

/* ---- gen ------------------------------------------------------------------------------- */

static uint8_t tmpl[1518];

static void
build_template(const struct opts *o, const struct rte_ether_addr *src)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)tmpl;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	unsigned int len = o->size - RTE_ETHER_CRC_LEN;

	memset(tmpl, 0, sizeof(tmpl));
	eth->dst_addr = o->dst_mac;
	eth->src_addr = *src;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(len - sizeof(*eth)));
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(o->src_ip);
	ip->dst_addr = rte_cpu_to_be_32(o->dst_ip);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->dst_port = rte_cpu_to_be_16(o->dport);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(len - sizeof(*eth) - sizeof(*ip)));
	udp->dgram_cksum = 0; /* none: the source port changes per flow */
}

/* Frames of this stream: IPv4, UDP, our destination port. */
static unsigned int
count_ours(struct rte_mbuf **m, uint16_t n, uint16_t dport)
{
	unsigned int ours = 0;

	for (uint16_t i = 0; i < n; i++) {
		const uint8_t *p = rte_pktmbuf_mtod(m[i], const uint8_t *);

		if (m[i]->data_len >= 42 && p[12] == 0x08 && p[13] == 0x00 && p[23] == IPPROTO_UDP &&
		    (uint16_t)(p[36] << 8 | p[37]) == dport)
			ours++;
		rte_pktmbuf_free(m[i]);
	}
	return ours;
}

static void
sleep_us(unsigned int us)
{
	struct timespec ts = {0, (long)us * 1000};

	nanosleep(&ts, NULL);
}

static void
trial(const struct opts *o, struct rte_mempool *pool, double pps, double seconds)
{
	const uint64_t hz = rte_get_tsc_hz();
	const unsigned int len = o->size - RTE_ETHER_CRC_LEN;
	uint64_t start, end, now, tx = 0, refused = 0, rx = 0, last_rx, skipped = 0;
	struct rte_mbuf *m[BURST], *r[BURST];
	uint32_t flow = 0;
	const uint64_t max_debt = RTE_MAX((uint64_t)(pps * 0.005), (uint64_t)(2 * BURST));

	/* Whatever is still in flight from before is not this trial's. */
	for (int idle = 0; idle < 1000; idle++) {
		uint16_t n = rte_eth_rx_burst(o->rx_port, 0, r, BURST);

		if (n)
			idle = 0;
		count_ours(r, n, o->dport);
		if (!n)
			rte_delay_us_block(20);
	}
	start = rte_rdtsc();
	end = start + (uint64_t)(seconds * (double)hz);
	while ((now = rte_rdtsc()) < end && !quit) {
		double due_d = (double)(now - start) * pps / (double)hz - (double)skipped;
		uint64_t due = (uint64_t)due_d > tx ? (uint64_t)due_d - tx : 0;
		uint16_t n, k, got;

		if (due > max_debt) {
			/*
			 * Far behind the schedule (this process was not scheduled for
			 * more than ~5 ms): do not catch up with a burst the rate never
			 * asked for. The frames not sent lower the offered rate the
			 * trial reports.
			 */
			skipped += due - max_debt;
			due = max_debt;
		}

		if (due > 0) {
			n = (uint16_t)RTE_MIN(due, (uint64_t)BURST);
			if (rte_pktmbuf_alloc_bulk(pool, m, n) == 0) {
				for (uint16_t i = 0; i < n; i++) {
					uint8_t *p = (uint8_t *)rte_pktmbuf_append(m[i], (uint16_t)len);
					uint16_t sport = (uint16_t)(1024 + flow);

					rte_memcpy(p, tmpl, len);
					p[34] = (uint8_t)(sport >> 8);
					p[35] = (uint8_t)sport;
					if (++flow == o->flows)
						flow = 0;
				}
				k = rte_eth_tx_burst(o->tx_port, 0, m, n);
				if (k < n) {
					rte_pktmbuf_free_bulk(m + k, n - k);
					refused += n - k;
				}
				tx += n;
			}
		}
		got = rte_eth_rx_burst(o->rx_port, 0, r, BURST);
		rx += count_ours(r, got, o->dport);
		if (due == 0 && got == 0 && pps < 2e6) {
			/* Ahead of the schedule at a low rate: sleep until the next frame. */
			double next_us = 1e6 / pps;

			if (next_us > 30)
				sleep_us((unsigned int)RTE_MIN(next_us, 200.0));
		}
	}
	/* Drain: frames still queued in the device under test. */
	last_rx = rte_rdtsc();
	while (!quit && rte_rdtsc() - last_rx < hz / 20) {
		uint16_t got = rte_eth_rx_burst(o->rx_port, 0, r, BURST);

		if (got) {
			rx += count_ours(r, got, o->dport);
			last_rx = rte_rdtsc();
		} else {
			sleep_us(50);
		}
	}
	printf("{\"target\": %.1f, \"seconds\": %.6f, \"tx\": %" PRIu64 ", \"rx\": %" PRIu64
	       ", \"refused\": %" PRIu64 "}\n",
	       pps, (double)(now < end ? now - start : end - start) / (double)hz, tx, rx, refused);
	fflush(stdout);
}

static int
run_gen(const struct opts *o, struct rte_mempool *pool)
{
	struct rte_ether_addr src;
	char line[256];

	rte_eth_macaddr_get(o->tx_port, &src);
	build_template(o, &src);
	printf("ready\n");
	fflush(stdout);
	while (!quit && fgets(line, sizeof(line), stdin) != NULL) {
		double pps, secs;

		if (strncmp(line, "quit", 4) == 0)
			break;
		if (sscanf(line, "trial %lf %lf", &pps, &secs) == 2 && pps > 0 && secs > 0 &&
		    secs <= 3600) {
			trial(o, pool, pps, secs);
		} else {
			printf("{\"error\": \"expected 'trial PPS SECONDS' or 'quit'\"}\n");
			fflush(stdout);
		}
	}
	return 0;
}

/* ---- police ------------------------------------------------------------------------------ */

static int
run_police(const struct opts *o)
{
	const uint64_t hz = rte_get_tsc_hz();
	const double depth = RTE_MAX(o->rate * o->depth_ms / 1000.0, (double)BURST);
	double tokens = depth;
	uint64_t last = rte_rdtsc(), fwd = 0, dropped = 0;
	unsigned int empty = 0, npend = 0;
	static struct rte_mbuf *pend[4096];
	struct rte_mbuf *m[BURST];

	printf("ready\n");
	fflush(stdout);
	while (!quit) {
		uint16_t n = rte_eth_rx_burst(o->rx_port, 0, m, BURST), pass;
		uint64_t now = rte_rdtsc();

		tokens += (double)(now - last) * o->rate / (double)hz;
		last = now;
		/*
		 * The bucket is capped only when the RX ring is drained: frames that
		 * queued while this process was not scheduled (a busy shared host)
		 * still get the tokens of that time, so the capacity is the rate
		 * whatever the scheduler does, and only the depth is slack.
		 */
		if (n < BURST)
			tokens = RTE_MIN(tokens, depth);
		pass = (uint16_t)RTE_MIN((double)n, tokens);
		tokens -= pass;
		for (uint16_t i = 0; i < n; i++) {
			if (i < pass && npend < RTE_DIM(pend)) {
				pend[npend++] = m[i];
			} else {
				rte_pktmbuf_free(m[i]);
				dropped++;
			}
		}
		/* Frames the generator has no room for yet wait here, not lost. */
		while (npend > 0) {
			uint16_t k = rte_eth_tx_burst(o->tx_port, 0, pend,
						      (uint16_t)RTE_MIN(npend, (unsigned int)BURST));

			if (k == 0)
				break;
			fwd += k;
			npend -= k;
			memmove(pend, pend + k, npend * sizeof(pend[0]));
		}
		if (n == 0 && npend == 0) {
			if (++empty > 64)
				sleep_us(20);
		} else {
			empty = 0;
		}
	}
	rte_pktmbuf_free_bulk(pend, npend);
	fprintf(stderr, "ndrgen police: forwarded %" PRIu64 ", dropped %" PRIu64 "\n", fwd,
		dropped);
	return 0;
}

int
main(int argc, char **argv)
{
	struct rte_mempool *pool;
	struct opts o;
	uint16_t ports[2];
	int n = rte_eal_init(argc, argv);

	if (n < 0)
		die("%s", "cannot start the DPDK EAL (its message is above)");
	parse_opts(argc - n, argv + n, &o);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	pool = rte_pktmbuf_pool_create("ndrgen", NB_MBUFS, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       (int)rte_socket_id());
	if (pool == NULL)
		die("cannot create the mbuf pool: %s", rte_strerror(rte_errno));
	ports[0] = o.tx_port;
	ports[1] = o.rx_port;
	port_setup(o.tx_port, pool);
	if (o.rx_port != o.tx_port)
		port_setup(o.rx_port, pool);
	/* The police waits for its peer: it is the server and starts first. */
	if (!o.police)
		wait_links(ports, o.rx_port != o.tx_port ? 2 : 1);
	n = o.police ? run_police(&o) : run_gen(&o, pool);
	for (int i = 0; i < (o.rx_port != o.tx_port ? 2 : 1); i++) {
		rte_eth_dev_stop(ports[i]);
		rte_eth_dev_close(ports[i]);
	}
	rte_eal_cleanup();
	return n;
}
