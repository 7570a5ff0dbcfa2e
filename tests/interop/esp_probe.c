/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * esp_probe: run lib/esp over pcap files for the interop tests
 * (tests/interop/test_esp_lib.py), so that an independent ESP
 * implementation (scapy) can encrypt what lib/esp decrypts and decrypt what
 * it encrypts.
 *
 *   esp_probe JOBFILE
 *
 * JOBFILE holds one job per line, "key=value" words separated by spaces:
 *   dir=in|out algo=NAME spi=N local=IP remote=IP inner=4|6
 *   key=HEX [akey=HEX] [salt=HEX] [esn=0|1] [seq=N] [natt=0|1]
 *   [lport=N] [rport=N] [window=N] [mode=auto|cpu|lookaside|direct] [burst=N]
 *   in=PCAP out=PCAP
 * Input packets are raw IP (LINKTYPE_RAW): inner packets for dir=out, ESP
 * packets (outer header first) for dir=in. The packets processed are
 * written to the output pcap in input order. For each job one JSON line
 * goes to stdout: the outcome of every input packet ("ok" or a reason
 * name) and the SA's counters. The EAL starts once for all the jobs.
 */
#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "mg_esp.h"

#define MAX_PKTS 4096

/* One job, as parsed from its line. */
struct job {
	struct mg_esp_sa_spec spec; /* The SA. */
	char in[512];                /* Input pcap. */
	char out[512];               /* Output pcap. */
	unsigned int burst;          /* Packets per burst call. */
};

/* Parse hex text into @p out (at most @p max bytes); returns the length or -1. */
static int
parse_hex(const char *s, uint8_t *out, size_t max)
{
	size_t n = strlen(s);

	if (n % 2 != 0 || n / 2 > max)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned int v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = v;
	}
	return (int)(n / 2);
}

/* Parse one job line; 0 or -1 with a message on stderr. */
static int
parse_job(char *line, struct job *j)
{
	struct mg_esp_sa_spec *s = &j->spec;
	char *save = NULL;
	int n;

	memset(j, 0, sizeof(*j));
	s->owner = -1;
	j->burst = 32;
	for (char *w = strtok_r(line, " \t\n", &save); w != NULL; w = strtok_r(NULL, " \t\n", &save)) {
		char *v = strchr(w, '=');

		if (v == NULL)
			goto bad;
		*v++ = '\0';
		if (strcmp(w, "dir") == 0)
			s->dir = strcmp(v, "in") == 0 ? MG_ESP_INBOUND : MG_ESP_OUTBOUND;
		else if (strcmp(w, "algo") == 0) {
			if (mg_esp_algo_parse(v, &s->algo) != 0)
				goto bad;
		} else if (strcmp(w, "spi") == 0)
			s->spi = strtoul(v, NULL, 0);
		else if (strcmp(w, "local") == 0) {
			if (mg_ip_parse(v, &s->local) != 0)
				goto bad;
		} else if (strcmp(w, "remote") == 0) {
			if (mg_ip_parse(v, &s->remote) != 0)
				goto bad;
		} else if (strcmp(w, "inner") == 0)
			s->inner_family = strcmp(v, "6") == 0 ? AF_INET6 : AF_INET;
		else if (strcmp(w, "key") == 0) {
			if ((n = parse_hex(v, s->enc_key, sizeof(s->enc_key))) < 0)
				goto bad;
			s->enc_key_len = n;
		} else if (strcmp(w, "akey") == 0) {
			if ((n = parse_hex(v, s->auth_key, sizeof(s->auth_key))) < 0)
				goto bad;
			s->auth_key_len = n;
		} else if (strcmp(w, "salt") == 0) {
			if (parse_hex(v, s->salt, sizeof(s->salt)) != 4)
				goto bad;
		} else if (strcmp(w, "esn") == 0)
			s->esn = atoi(v) != 0;
		else if (strcmp(w, "seq") == 0)
			s->initial_seq = strtoull(v, NULL, 0);
		else if (strcmp(w, "natt") == 0)
			s->udp_encap = atoi(v) != 0;
		else if (strcmp(w, "lport") == 0)
			s->local_port = atoi(v);
		else if (strcmp(w, "rport") == 0)
			s->remote_port = atoi(v);
		else if (strcmp(w, "window") == 0)
			s->replay_window = atoi(v);
		else if (strcmp(w, "mode") == 0)
			s->mode = strcmp(v, "cpu") == 0 ? MG_ESP_MODE_CPU :
				  strcmp(v, "lookaside") == 0 ? MG_ESP_MODE_LOOKASIDE :
				  strcmp(v, "direct") == 0 ? MG_ESP_MODE_DIRECT : MG_ESP_MODE_AUTO;
		else if (strcmp(w, "burst") == 0)
			j->burst = atoi(v);
		else if (strcmp(w, "in") == 0)
			snprintf(j->in, sizeof(j->in), "%s", v);
		else if (strcmp(w, "out") == 0)
			snprintf(j->out, sizeof(j->out), "%s", v);
		else
			goto bad;
		continue;
bad:
		fprintf(stderr, "esp_probe: bad job word '%s'\n", w);
		return -1;
	}
	if (j->in[0] == '\0' || j->out[0] == '\0' || j->burst == 0 || j->burst > MG_ESP_MAX_BURST) {
		fprintf(stderr, "esp_probe: a job needs in=, out= and a burst of 1..%u\n",
			MG_ESP_MAX_BURST);
		return -1;
	}
	return 0;
}

/* Read the packets of a raw-IP (or Ethernet) pcap into mbufs; returns how many. */
static int
read_pcap(const char *path, struct rte_mempool *mp, struct rte_mbuf **pkts)
{
	char eb[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_t *p = pcap_open_offline(path, eb);
	int n = 0, skip;

	if (p == NULL) {
		fprintf(stderr, "esp_probe: %s: %s\n", path, eb);
		return -1;
	}
	skip = pcap_datalink(p) == DLT_EN10MB ? 14 : 0;
	while (n < MAX_PKTS && pcap_next_ex(p, &h, &data) == 1) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
		uint32_t len = h->caplen - skip;
		char *d;

		if (m == NULL || (d = rte_pktmbuf_append(m, len)) == NULL) {
			rte_pktmbuf_free(m);
			fprintf(stderr, "esp_probe: %s: packet %d too large\n", path, n);
			break;
		}
		memcpy(d, data + skip, len);
		pkts[n++] = m;
	}
	pcap_close(p);
	return n;
}

/* Run one job; prints its JSON line. 0 or -1. */
static int
run_job(struct mg_esp *esp, struct rte_mempool *mp, struct job *j, unsigned int idx)
{
	static struct rte_mbuf *pkts[MAX_PKTS];
	static uint8_t result[MAX_PKTS];
	struct mg_esp_worker *wk = mg_esp_worker(esp, 0);
	struct mg_error err;
	struct mg_esp_sa *sa = mg_esp_sa_create(esp, &j->spec, &err);
	int n;

	mg_wipe(j->spec.enc_key, sizeof(j->spec.enc_key));
	mg_wipe(j->spec.auth_key, sizeof(j->spec.auth_key));
	if (sa == NULL) {
		printf("{\"job\":%u,\"error\":\"%s: %s\"}\n", idx, err.field, err.msg);
		return -1;
	}
	n = read_pcap(j->in, mp, pkts);
	if (n < 0) {
		mg_esp_sa_destroy(esp, sa);
		return -1;
	}
	for (int i = 0; i < n; i += j->burst) {
		uint16_t b = RTE_MIN((int)j->burst, n - i), k;
		struct rte_mbuf *burst[MG_ESP_MAX_BURST];
		uint8_t r[MG_ESP_MAX_BURST];

		memcpy(burst, pkts + i, b * sizeof(burst[0]));
		k = j->spec.dir == MG_ESP_OUTBOUND ? mg_esp_encrypt_burst(wk, sa, burst, b, r) :
						     mg_esp_decrypt_burst(wk, sa, burst, b, r);
		/* Map the outcome back to input order (the mbufs stay the same objects). */
		for (uint16_t x = 0; x < b; x++)
			for (uint16_t y = 0; y < b; y++)
				if (burst[y] == pkts[i + x])
					result[i + x] = y < k ? MG_ESP_ERR_NONE : r[y];
	}

	pcap_t *pd = pcap_open_dead(DLT_RAW, 65535);
	pcap_dumper_t *dump = pcap_dump_open(pd, j->out);

	if (dump == NULL) {
		fprintf(stderr, "esp_probe: %s: %s\n", j->out, pcap_geterr(pd));
		pcap_close(pd);
		return -1;
	}
	printf("{\"job\":%u,\"results\":[", idx);
	for (int i = 0; i < n; i++) {
		printf("%s\"%s\"", i ? "," : "", result[i] ? mg_esp_err_name(result[i]) : "ok");
		if (result[i] == MG_ESP_ERR_NONE) {
			struct pcap_pkthdr h = {.caplen = pkts[i]->pkt_len, .len = pkts[i]->pkt_len};

			pcap_dump((u_char *)dump, &h, rte_pktmbuf_mtod(pkts[i], const u_char *));
		}
		rte_pktmbuf_free(pkts[i]);
	}
	pcap_dump_close(dump);
	pcap_close(pd);

	struct mg_esp_sa_stats st;
	struct mg_esp_sa_info info;

	mg_esp_sa_stats(sa, &st);
	mg_esp_sa_info(sa, &info);
	printf("],\"stats\":{\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"replay\":%" PRIu64
	       ",\"auth\":%" PRIu64 ",\"other\":%" PRIu64 "},\"mode\":\"%s\"}\n",
	       st.packets, st.bytes, st.replay, st.auth, st.other, mg_esp_mode_name(info.mode));
	fflush(stdout);
	mg_esp_sa_destroy(esp, sa);
	return 0;
}

/* Start the EAL and the ESP context once, then run the jobs in order. */
int
main(int argc, char **argv)
{
	char prefix[64], line[4096];
	char *eal[] = {argv[0], "-l", "0", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
		       "--no-telemetry", "--log-level", "error", "--file-prefix", prefix, NULL};
	struct mg_esp_conf conf = {.nb_workers = 1};
	struct mg_error err;
	int rc = 0;
	unsigned int idx = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s JOBFILE\n", argv[0]);
		return 2;
	}
	FILE *f = fopen(argv[1], "r");

	if (f == NULL) {
		fprintf(stderr, "esp_probe: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	snprintf(prefix, sizeof(prefix), "esp_probe%d", getpid());
	if (rte_eal_init(RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "esp_probe: EAL init failed\n");
		return 2;
	}
	struct rte_mempool *mp = rte_pktmbuf_pool_create("probe", MAX_PKTS + 1024, 0, 0,
							 RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);

	conf.lcores[0] = rte_get_main_lcore();
	struct mg_esp *esp = mp != NULL ? mg_esp_create(&conf, &err) : NULL;

	if (esp == NULL) {
		fprintf(stderr, "esp_probe: %s\n", mp == NULL ? "no mbuf pool" : err.msg);
		return 2;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		struct job j;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (parse_job(line, &j) != 0 || run_job(esp, mp, &j, idx) != 0)
			rc = 1;
		mg_wipe(line, sizeof(line));
		idx++;
	}
	fclose(f);
	char rundir[512];

	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	mg_esp_destroy(esp);
	rte_mempool_free(mp);
	rte_eal_cleanup();
	rmdir(rundir);  /* --no-shconf leaves it empty */
	return rc;
}
