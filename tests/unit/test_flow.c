/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The flow tracker (lib/flow/ct.c) against a naive reference written here
 * (linear search, its own TCP state rules), plus the flow history
 * (lib/flow/flowlog.c): ring bound, queries, JSON lines to a file and a
 * Unix datagram socket.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_memory.h>
#include <rte_ring.h>

#include "mg_ct.h"
#include "mg_flowlog.h"
#include "mg_test.h"
#include "mg_test_eal.h"

#define HZ 1000u /* the tests' clock: milliseconds */

static unsigned int table_seq;

static struct mg_ct_table *
mk_table(uint32_t cap, uint32_t ring)
{
	struct mg_ct_conf c = {.capacity = cap, .hz = HZ, .export_ring = ring,
			       .socket = SOCKET_ID_ANY};
	struct mg_error e;
	struct mg_ct_table *t;

	c.timeout_s[MG_CT_T_TCP_OPENING] = 5;
	c.timeout_s[MG_CT_T_TCP_ESTABLISHED] = 100;
	c.timeout_s[MG_CT_T_TCP_CLOSING] = 3;
	c.timeout_s[MG_CT_T_UDP] = 10;
	c.timeout_s[MG_CT_T_ICMP] = 2;
	c.timeout_s[MG_CT_T_OTHER] = 7;
	snprintf(c.name, sizeof(c.name), "t%u_%d", table_seq++, getpid() % 10000);
	t = mg_ct_table_create(&c, &e);
	if (t == NULL)
		MG_FAIL("table: %s: %s", e.field, e.msg);
	return t;
}

static struct mg_flow_key
key4(uint32_t src, uint32_t dst, uint8_t proto, uint16_t sp, uint16_t dp)
{
	struct mg_flow_key k;
	uint32_t s = htonl(src), d = htonl(dst);

	memset(&k, 0, sizeof(k));
	memcpy(k.src, &s, 4);
	memcpy(k.dst, &d, 4);
	k.proto = proto;
	k.family = AF_INET;
	k.sport = htons(sp);
	k.dport = htons(dp);
	k.net = 1;
	return k;
}

/* What the classify node does with one packet; returns its flow or NULL. */
static struct mg_ct_flow *
pkt(struct mg_ct_table *t, const struct mg_flow_key *k, uint8_t flags, uint32_t len,
    uint64_t now, int *dir)
{
	struct mg_ct_flow *f = mg_ct_lookup(t, k, now, dir);

	if (f != NULL && mg_ct_update(t, f, *dir, len, flags, 7, now) < 0) {
		mg_ct_end_closed(t, f);
		f = NULL;
	}
	if (f == NULL) {
		*dir = 0;
		f = mg_ct_create(t, k, flags, now);
		if (f != NULL)
			mg_ct_update(t, f, 0, len, flags, 7, now);
	}
	return f;
}

static struct mg_ct_record got_rec[16384];
static unsigned int got_n;

static void
collect(const struct mg_ct_record *x, void *arg)
{
	(void)arg;
	if (got_n < 16384)
		got_rec[got_n++] = *x;
}

enum { F = MG_TCP_FIN, S = MG_TCP_SYN, R = MG_TCP_RST, A = MG_TCP_ACK };

/*
 * Creation failures name the field and the DPDK object, and leave nothing
 * behind: a name in use by a hash, then by a ring, then free again.
 */
MG_TEST(ct_table_create_errors)
{
	struct mg_ct_conf c = {.capacity = 16, .hz = HZ, .export_ring = 8,
			       .socket = SOCKET_ID_ANY, .name = "dupc"};
	struct mg_error e;
	struct mg_ct_table *a, *b;

	c.capacity = (1u << 26) + 1;
	CHECK(mg_ct_table_create(&c, &e) == NULL);
	CHECK_STR(e.field, "size");
	c.capacity = 16;
	/* (hz and export_ring: mg_flowtab_check, as test_svc checks for lib/svc's table.) */
	a = mg_ct_table_create(&c, &e);
	CHECK(a != NULL);
	b = mg_ct_table_create(&c, &e);
	CHECK(b == NULL);
	CHECK_EEXIST(e, "name", "cannot create the flow hash ct_dupc for 16 flows");
	mg_ct_table_destroy(a);
	/* The ring's name taken alone: the hash made before it is freed again. */
	struct rte_ring *r = rte_ring_create("ctr_dupc", 8, SOCKET_ID_ANY, 0);

	CHECK(r != NULL);
	CHECK(mg_ct_table_create(&c, &e) == NULL);
	CHECK_EEXIST(e, "name", "cannot create the export ring ctr_dupc");
	rte_ring_free(r);
	a = mg_ct_table_create(&c, &e);
	CHECK(a != NULL);
	mg_ct_table_destroy(a);
}

MG_TEST(tcp_handshake_and_close)
{
	struct mg_ct_table *t = mk_table(16, 16);
	struct mg_flow_key k = key4(0x0a000001, 0x0a000102, 6, 40000, 80), rk;
	struct mg_ct_flow *f;
	int dir;

	mg_ct_key_reverse(&k, &rk);
	f = pkt(t, &k, S, 60, 0, &dir);
	CHECK(f != NULL);
	CHECK_EQ(f->tcp_state, MG_CT_TCP_SYN_SENT);
	f = pkt(t, &rk, S | A, 60, 1, &dir);
	CHECK_EQ(dir, 1);
	CHECK_EQ(f->tcp_state, MG_CT_TCP_SYN_RECV);
	f = pkt(t, &k, A, 52, 2, &dir);
	CHECK_EQ(f->tcp_state, MG_CT_TCP_ESTABLISHED);
	/* Opening timeout (5 s) no longer applies: established is 100 s. */
	f = pkt(t, &rk, A, 1000, 50 * HZ, &dir);
	CHECK_EQ(dir, 1);
	CHECK_EQ(f->pkts[0], 2);
	CHECK_EQ(f->pkts[1], 2);
	CHECK_EQ(f->bytes[1], 1060);
	f = pkt(t, &k, F | A, 52, 51 * HZ, &dir);
	CHECK_EQ(f->tcp_state, MG_CT_TCP_FIN_WAIT);
	f = pkt(t, &rk, F | A, 52, 51 * HZ + 1, &dir);
	CHECK_EQ(f->tcp_state, MG_CT_TCP_TIME_WAIT);
	/* Closing timeout 3 s: gone at 55 s, ended as tcp-fin. */
	CHECK_EQ(mg_ct_expire(t, 54 * HZ, 16), 0);
	CHECK_EQ(mg_ct_expire(t, 55 * HZ, 16), 1);
	CHECK_EQ(mg_ct_table_stats(t)->ended[MG_FLOW_END_TCP_FIN], 1);
	CHECK_EQ(mg_ct_table_stats(t)->active, 0);
	got_n = 0;
	mg_ct_drain(t, collect, NULL, 64);
	CHECK_EQ(got_n, 1);
	CHECK_EQ(got_rec[0].end, MG_FLOW_END_TCP_FIN);
	CHECK_EQ(got_rec[0].pkts[0], 3);
	CHECK_EQ(got_rec[0].pkts[1], 3);
	CHECK_EQ(got_rec[0].ifindex[0], 7);
	CHECK_EQ(got_rec[0].tcp_flags[1], S | A | F);
	CHECK(memcmp(&got_rec[0].key, &k, sizeof(k)) == 0);
	CHECK_EQ(got_rec[0].first, 0);
	CHECK_EQ(got_rec[0].last, 51 * HZ + 1);
	mg_ct_table_destroy(t);
}

MG_TEST(tcp_rst_reopen_and_pickup)
{
	struct mg_ct_table *t = mk_table(16, 16);
	struct mg_flow_key k = key4(0x0a000001, 0x0a000102, 6, 40001, 22), rk;
	struct mg_ct_flow *f;
	int dir;

	mg_ct_key_reverse(&k, &rk);
	pkt(t, &k, S, 60, 0, &dir);
	f = pkt(t, &rk, R | A, 40, 1, &dir);
	CHECK_EQ(f->tcp_state, MG_CT_TCP_CLOSE);
	/* A new SYN on the closed tuple ends the old flow (tcp-rst) and starts anew. */
	f = pkt(t, &k, S, 60, 2, &dir);
	CHECK_EQ(f->tcp_state, MG_CT_TCP_SYN_SENT);
	CHECK_EQ(f->pkts[0], 1);
	CHECK_EQ(mg_ct_table_stats(t)->ended[MG_FLOW_END_TCP_RST], 1);
	CHECK_EQ(mg_ct_table_stats(t)->created, 2);
	/* An unanswered SYN expires after the opening timeout (5 s) as idle. */
	CHECK(mg_ct_lookup(t, &k, 2 + 5 * HZ, &dir) != NULL);
	CHECK(mg_ct_lookup(t, &k, 3 + 10 * HZ, &dir) == NULL);
	CHECK_EQ(mg_ct_table_stats(t)->ended[MG_FLOW_END_IDLE], 1);
	/* Mid-stream pickup: a first packet without SYN is established at once. */
	f = pkt(t, &rk, A, 1400, 20 * HZ, &dir);
	CHECK_EQ(f->tcp_state, MG_CT_TCP_ESTABLISHED);
	CHECK(memcmp(&f->key, &rk, sizeof(rk)) == 0);
	mg_ct_table_destroy(t);
}

MG_TEST(timeouts_per_protocol)
{
	struct mg_ct_table *t = mk_table(64, 64);
	struct mg_flow_key u = key4(1, 2, 17, 53, 53), i = key4(1, 2, 1, 9, 9),
			   o = key4(1, 2, 47, 0, 0), ru;
	int dir;

	pkt(t, &u, 0, 100, 0, &dir);
	pkt(t, &i, 0, 84, 0, &dir);
	pkt(t, &o, 0, 100, 0, &dir);
	mg_ct_key_reverse(&u, &ru);
	/* UDP 10 s, refreshed by a reply at 8 s. */
	CHECK(pkt(t, &ru, 0, 100, 8 * HZ, &dir) != NULL && dir == 1);
	CHECK_EQ(mg_ct_expire(t, 2 * HZ, 64), 0);
	CHECK_EQ(mg_ct_expire(t, 2 * HZ + 1, 64), 1); /* ICMP: 2 s */
	CHECK_EQ(mg_ct_expire(t, 7 * HZ + 1, 64), 1); /* other: 7 s */
	CHECK_EQ(mg_ct_expire(t, 18 * HZ, 64), 0);
	CHECK_EQ(mg_ct_expire(t, 18 * HZ + 1, 64), 1);
	CHECK_EQ(mg_ct_table_stats(t)->active, 0);
	CHECK_EQ(mg_ct_table_stats(t)->ended[MG_FLOW_END_IDLE], 3);
	/* Bounded: a budget of 2 over 64 entries visits 2 entries only. */
	for (uint32_t p = 0; p < 40; p++) {
		struct mg_flow_key k = key4(1, 2, 17, (uint16_t)(1000 + p), 53);

		pkt(t, &k, 0, 100, 20 * HZ, &dir);
	}
	CHECK(mg_ct_expire(t, 100 * HZ, 2) <= 2);
	unsigned int total = 0;

	for (int r = 0; r < 64; r++)
		total += mg_ct_expire(t, 100 * HZ, 2);
	CHECK_EQ(mg_ct_table_stats(t)->active, 0);
	CHECK(total >= 38);
	mg_ct_table_destroy(t);
}

MG_TEST(table_full_and_export_drops)
{
	struct mg_ct_table *t = mk_table(4, 4);
	struct mg_flow_key k;
	int dir;

	for (uint16_t p = 0; p < 4; p++) {
		k = key4(1, 2, 17, (uint16_t)(100 + p), 53);
		CHECK(pkt(t, &k, 0, 10, 0, &dir) != NULL);
	}
	k = key4(1, 2, 17, 200, 53);
	CHECK(pkt(t, &k, 0, 10, 0, &dir) == NULL);
	CHECK(pkt(t, &k, 0, 10, 0, &dir) == NULL);
	CHECK_EQ(mg_ct_table_stats(t)->full, 2);
	CHECK_EQ(mg_ct_table_stats(t)->active, 4);
	/* Existing flows still work when full. */
	k = key4(1, 2, 17, 101, 53);
	CHECK(pkt(t, &k, 0, 10, 1, &dir) != NULL);
	/* Flush 4 through a ring of 4 (it holds 3): 3 exported, 1 counted lost. */
	CHECK_EQ(mg_ct_flush(t, MG_FLOW_END_FLUSH), 4);
	CHECK_EQ(mg_ct_table_stats(t)->exported, 3);
	CHECK_EQ(mg_ct_table_stats(t)->export_drops, 1);
	/* Room again. */
	k = key4(1, 2, 17, 200, 53);
	CHECK(pkt(t, &k, 0, 10, 2, &dir) != NULL);
	mg_ct_table_destroy(t);
}

/* ---- the reference: linear search, its own TCP rules -------------------------------- */

struct ref_flow {
	bool used;
	struct mg_flow_key k, rk;
	uint64_t first, last, pkts[2], bytes[2];
	int state; /* enum mg_ct_tcp_state values */
	int fin0, fin1;
};

struct ref {
	struct ref_flow f[32];
	unsigned int cap, active;
	uint64_t ended[MG_FLOW_END_MAX], full;
	struct mg_ct_record rec[16384];
	unsigned int nrec;
};

static uint64_t
ref_timeout(const struct ref_flow *f)
{
	if (f->k.proto == 17)
		return 10 * HZ;
	if (f->k.proto == 1)
		return 2 * HZ;
	if (f->k.proto != 6)
		return 7 * HZ;
	if (f->state == MG_CT_TCP_ESTABLISHED)
		return 100 * HZ;
	if (f->state == MG_CT_TCP_SYN_SENT || f->state == MG_CT_TCP_SYN_RECV)
		return 5 * HZ;
	return 3 * HZ;
}

static void
ref_end(struct ref *r, struct ref_flow *f, int why)
{
	struct mg_ct_record *x = &r->rec[r->nrec++ % 16384];

	memset(x, 0, sizeof(*x));
	x->key = f->k;
	x->first = f->first;
	x->last = f->last;
	memcpy(x->pkts, f->pkts, sizeof(x->pkts));
	memcpy(x->bytes, f->bytes, sizeof(x->bytes));
	x->end = (uint8_t)why;
	x->tcp_state = (uint8_t)f->state;
	r->ended[why]++;
	f->used = false;
	r->active--;
}

static int
ref_reason(const struct ref_flow *f)
{
	if (f->k.proto == 6 && (f->state == MG_CT_TCP_FIN_WAIT || f->state == MG_CT_TCP_TIME_WAIT))
		return MG_FLOW_END_TCP_FIN;
	if (f->k.proto == 6 && f->state == MG_CT_TCP_CLOSE)
		return MG_FLOW_END_TCP_RST;
	return MG_FLOW_END_IDLE;
}

/* Returns the new state, or -1 for "reopen". */
static int
ref_tcp(struct ref_flow *f, int dir, uint8_t fl, bool first)
{
	bool rst = fl & R, syn = fl & S, ack = fl & A, fin = fl & F;
	int s = f->state;

	if (rst)
		return MG_CT_TCP_CLOSE;
	if (!first && syn && !ack && (s == MG_CT_TCP_TIME_WAIT || s == MG_CT_TCP_CLOSE))
		return -1;
	if (s == MG_CT_TCP_CLOSE)
		return s;
	if (fin) {
		if (dir == 0)
			f->fin0 = 1;
		else
			f->fin1 = 1;
		return f->fin0 && f->fin1 ? MG_CT_TCP_TIME_WAIT : MG_CT_TCP_FIN_WAIT;
	}
	if (first)
		return syn && !ack ? MG_CT_TCP_SYN_SENT : MG_CT_TCP_ESTABLISHED;
	if (s == MG_CT_TCP_SYN_SENT && dir == 1 && syn && ack)
		return MG_CT_TCP_SYN_RECV;
	if (s == MG_CT_TCP_SYN_RECV && dir == 0 && ack && !syn)
		return MG_CT_TCP_ESTABLISHED;
	return s;
}

static struct ref_flow *
ref_find(struct ref *r, const struct mg_flow_key *k, int *dir)
{
	for (unsigned int i = 0; i < r->cap; i++) {
		if (!r->f[i].used)
			continue;
		if (!memcmp(&r->f[i].k, k, sizeof(*k))) {
			*dir = 0;
			return &r->f[i];
		}
		if (!memcmp(&r->f[i].rk, k, sizeof(*k))) {
			*dir = 1;
			return &r->f[i];
		}
	}
	return NULL;
}

static void
ref_count(struct ref_flow *f, int dir, uint32_t len, uint64_t now)
{
	f->last = now;
	f->pkts[dir]++;
	f->bytes[dir] += len;
}

static struct ref_flow *
ref_pkt(struct ref *r, const struct mg_flow_key *k, uint8_t fl, uint32_t len, uint64_t now,
	int *dir)
{
	struct ref_flow *f = ref_find(r, k, dir);

	if (f != NULL && now - f->last > ref_timeout(f)) {
		ref_end(r, f, ref_reason(f));
		f = NULL;
	}
	if (f != NULL) {
		if (k->proto == 6) {
			int s = ref_tcp(f, *dir, fl, false);

			if (s < 0) {
				ref_end(r, f, f->state == MG_CT_TCP_CLOSE ? MG_FLOW_END_TCP_RST
									   : MG_FLOW_END_TCP_FIN);
				f = NULL;
			} else {
				f->state = s;
			}
		}
		if (f != NULL) {
			ref_count(f, *dir, len, now);
			return f;
		}
	}
	*dir = 0;
	for (unsigned int i = 0; i < r->cap; i++)
		if (!r->f[i].used) {
			f = &r->f[i];
			memset(f, 0, sizeof(*f));
			f->used = true;
			f->k = *k;
			mg_ct_key_reverse(k, &f->rk);
			f->first = now;
			if (k->proto == 6)
				f->state = ref_tcp(f, 0, fl, true);
			ref_count(f, 0, len, now);
			r->active++;
			return f;
		}
	r->full++;
	return NULL;
}

static void
ref_expire_all(struct ref *r, uint64_t now)
{
	for (unsigned int i = 0; i < r->cap; i++)
		if (r->f[i].used && now - r->f[i].last > ref_timeout(&r->f[i]))
			ref_end(r, &r->f[i], ref_reason(&r->f[i]));
}

static int
rec_cmp(const void *a, const void *b)
{
	const struct mg_ct_record *x = a, *y = b;

	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	if (x->last != y->last)
		return x->last < y->last ? -1 : 1;
	return memcmp(&x->key, &y->key, sizeof(x->key));
}


MG_TEST(random_traffic_matches_reference)
{
	static struct ref r;
	struct mg_ct_table *t = mk_table(24, 16384);
	unsigned int fails0 = mg_test_failures;
	uint64_t now = 0;
	const uint8_t protos[] = {6, 6, 6, 17, 1, 47};
	const uint8_t tflags[] = {S, S | A, A, F | A, R, A, A, F, S};

	memset(&r, 0, sizeof(r));
	r.cap = 24;
	got_n = 0;
	srand(7);
	for (int step = 0; step < 20000; step++) {
		uint8_t proto = protos[rand() % sizeof(protos)];
		uint16_t port = (uint16_t)(1000 + rand() % 12);
		struct mg_flow_key k = key4(0x0a000001, 0x0a000002, proto, port, 80), rk;
		uint8_t fl = proto == 6 ? tflags[rand() % sizeof(tflags)] : 0;
		uint32_t len = 40 + (uint32_t)(rand() % 1400);
		struct ref_flow *rf;
		struct mg_ct_flow *f;
		int d1 = -1, d2 = -1;

		if (rand() % 2) {
			mg_ct_key_reverse(&k, &rk);
			k = rk;
		}
		now += rand() % 40 == 0 ? (uint64_t)rand() % (12 * HZ) : (uint64_t)rand() % 100;
		f = pkt(t, &k, fl, len, now, &d1);
		rf = ref_pkt(&r, &k, fl, len, now, &d2);
		if ((f == NULL) != (rf == NULL)) {
			MG_FAIL("step %d: table %p, reference %p", step, (void *)f, (void *)rf);
			break;
		}
		if (f != NULL) {
			CHECK_EQ(d1, d2);
			CHECK_EQ(f->tcp_state, rf->state);
			CHECK_EQ(f->pkts[0], rf->pkts[0]);
			CHECK_EQ(f->pkts[1], rf->pkts[1]);
			CHECK_EQ(f->bytes[d1], rf->bytes[d2]);
			CHECK_EQ(f->first, rf->first);
		}
		CHECK_EQ(mg_ct_table_stats(t)->active, r.active);
		if (step % 500 == 499) {
			mg_ct_expire(t, now, 24);
			ref_expire_all(&r, now);
			CHECK_EQ(mg_ct_table_stats(t)->active, r.active);
		}
		if (mg_test_failures != fails0)
			break;
	}
	CHECK_EQ(mg_ct_table_stats(t)->full, r.full);
	CHECK(r.full > 0); /* the run did fill the table */
	for (int w = 0; w < MG_FLOW_END_MAX; w++)
		CHECK_EQ(mg_ct_table_stats(t)->ended[w], r.ended[w]);
	CHECK(r.ended[MG_FLOW_END_TCP_FIN] > 0 && r.ended[MG_FLOW_END_TCP_RST] > 0 &&
	      r.ended[MG_FLOW_END_IDLE] > 0);
	/* The records of the ended flows, as a multiset. */
	mg_ct_drain(t, collect, NULL, 16384);
	CHECK_EQ(got_n, r.nrec);
	if (got_n == r.nrec && got_n <= 16384) {
		qsort(got_rec, got_n, sizeof(got_rec[0]), rec_cmp);
		qsort(r.rec, r.nrec, sizeof(r.rec[0]), rec_cmp);
		for (unsigned int i = 0; i < got_n; i++) {
			CHECK(memcmp(&got_rec[i].key, &r.rec[i].key, sizeof(r.rec[i].key)) == 0);
			CHECK_EQ(got_rec[i].last, r.rec[i].last);
			CHECK_EQ(got_rec[i].pkts[0] + got_rec[i].pkts[1],
				 r.rec[i].pkts[0] + r.rec[i].pkts[1]);
			CHECK_EQ(got_rec[i].bytes[0], r.rec[i].bytes[0]);
			CHECK_EQ(got_rec[i].end, r.rec[i].end);
			CHECK_EQ(got_rec[i].tcp_state, r.rec[i].tcp_state);
			if (mg_test_failures != fails0)
				break;
		}
	}
	mg_ct_table_destroy(t);
}

/* ---- history ------------------------------------------------------------------------------ */

static struct mg_flowlog_entry
entry(uint32_t src, uint16_t sport, const char *net, uint64_t first_s, uint64_t last_s)
{
	struct mg_flowlog_entry e;

	memset(&e, 0, sizeof(e));
	e.key = key4(src, 0x0a000102, 6, sport, 443);
	e.first_ns = first_s * 1000000000ull;
	e.last_ns = last_s * 1000000000ull + 5;
	e.pkts[0] = 3;
	e.bytes[0] = 180;
	e.pkts[1] = 2;
	e.bytes[1] = 120;
	e.end = MG_FLOW_END_TCP_FIN;
	e.tcp_state = MG_CT_TCP_TIME_WAIT;
	e.tcp_flags = S | A | F;
	mg_strlcpy(e.network, net, sizeof(e.network));
	mg_strlcpy(e.ingress, "p0", sizeof(e.ingress));
	return e;
}

static uint64_t seqs[16];
static unsigned int nseqs;

static void
take(const struct mg_flowlog_entry *e, void *arg)
{
	(void)arg;
	if (nseqs < 16)
		seqs[nseqs++] = e->seq;
}

static unsigned int
q(const struct mg_flowlog *fl, const struct mg_flowlog_query *qq)
{
	nseqs = 0;
	return mg_flowlog_query(fl, qq, take, NULL);
}

MG_TEST(history_bound_and_queries)
{
	struct mg_flowlog_conf c = {.size = 4};
	struct mg_flowlog_query qq = {.port = -1};
	struct mg_flowlog_stats st;
	struct mg_error err;
	struct mg_flowlog *fl = mg_flowlog_create(&c, &err);
	struct mg_flowlog_entry e;

	CHECK(fl != NULL);
	for (unsigned int i = 0; i < 6; i++) {
		e = entry(0x0a000001 + i % 2, (uint16_t)(5000 + i), i < 3 ? "pods" : "ext",
			  100 + 10 * i, 105 + 10 * i);
		mg_flowlog_add(fl, &e);
	}
	mg_flowlog_stats(fl, &st);
	CHECK_EQ(st.added, 6);
	CHECK_EQ(st.held, 4);
	CHECK_EQ(st.overwritten, 2);
	/* Everything held, newest first: 6 5 4 3. */
	CHECK_EQ(q(fl, &qq), 4);
	CHECK_EQ(seqs[0], 6);
	CHECK_EQ(seqs[3], 3);
	qq.limit = 2;
	CHECK_EQ(q(fl, &qq), 2);
	CHECK_EQ(seqs[1], 5);
	qq.limit = 0;
	/* By address (either end): 10.0.0.2 is entries 4 and 6 (i = 3, 5). */
	mg_ip_parse("10.0.0.2", &qq.addr);
	CHECK_EQ(q(fl, &qq), 2);
	CHECK_EQ(seqs[0], 6);
	CHECK_EQ(seqs[1], 4);
	mg_ip_parse("10.0.1.2", &qq.addr); /* the destination of all */
	CHECK_EQ(q(fl, &qq), 4);
	memset(&qq.addr, 0, sizeof(qq.addr));
	/* By port: 5004 is entry 5; 443 all. */
	qq.port = 5004;
	CHECK_EQ(q(fl, &qq), 1);
	CHECK_EQ(seqs[0], 5);
	qq.port = 443;
	CHECK_EQ(q(fl, &qq), 4);
	qq.port = 444;
	CHECK_EQ(q(fl, &qq), 0);
	qq.port = -1;
	/* By network: "pods" holds only entry 3 now. */
	mg_strlcpy(qq.network, "pods", sizeof(qq.network));
	CHECK_EQ(q(fl, &qq), 1);
	CHECK_EQ(seqs[0], 3);
	qq.network[0] = '\0';
	/* Time window [136 s, 146 s]: only i = 4 (140-145 s) was active in it. */
	qq.since_ns = 136ull * 1000000000ull;
	qq.until_ns = 146ull * 1000000000ull;
	CHECK_EQ(q(fl, &qq), 1);
	CHECK_EQ(seqs[0], 5);
	qq.since_ns = 135ull * 1000000000ull; /* i = 3 ended at 135 s + 5 ns */
	CHECK_EQ(q(fl, &qq), 2);
	qq.until_ns = 0;
	CHECK_EQ(q(fl, &qq), 3);
	mg_flowlog_destroy(fl);
}

MG_TEST(history_json_lines_to_file_and_socket)
{
	char path[64], spath[108], line[4096], buf[8192];
	struct mg_flowlog_conf c = {.size = 8};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct mg_flowlog_stats st;
	struct mg_flowlog_entry e;
	struct mg_error err;
	struct mg_flowlog *fl;
	int s, fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/tmp/fl_test_%d.jsonl", getpid());
	snprintf(spath, sizeof(spath), "/tmp/fl_test_%d.sock", getpid());
	unlink(path);
	unlink(spath);
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	mg_strlcpy(sa.sun_path, spath, sizeof(sa.sun_path));
	CHECK(bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	mg_strlcpy(c.file, path, sizeof(c.file));
	mg_strlcpy(c.socket, spath, sizeof(c.socket));
	fl = mg_flowlog_create(&c, &err);
	CHECK(fl != NULL);
	e = entry(0x0a000001, 40000, "pods", 1700000000, 1700000003);
	mg_strlcpy(e.tunnel, "wg0", sizeof(e.tunnel));
	mg_flowlog_add(fl, &e);
	e = entry(0x0a000003, 40001, "po\"ds", 1700000000, 1700000003);
	e.key.proto = 17;
	e.source = MG_FLOWLOG_SERVICE;
	mg_strlcpy(e.service, "web", sizeof(e.service));
	mg_strlcpy(e.endpoint, "b", sizeof(e.endpoint));
	mg_ip_parse("10.1.0.5", &e.endpoint_addr);
	mg_flowlog_add(fl, &e);
	mg_flowlog_flush(fl);
	n = recv(s, line, sizeof(line) - 1, MSG_DONTWAIT);
	CHECK(n > 0);
	line[n > 0 ? n : 0] = '\0';
	CHECK_STR(line,
		  "{\"seq\":1,\"source\":\"tracker\",\"network\":\"pods\",\"family\":4,"
		  "\"protocol\":\"tcp\",\"src\":\"10.0.0.1\",\"dst\":\"10.0.1.2\",\"sport\":40000,"
		  "\"dport\":443,\"first_seen\":1700000000.000000000,"
		  "\"last_seen\":1700000003.000000005,\"packets\":3,\"bytes\":180,"
		  "\"reply_packets\":2,\"reply_bytes\":120,\"end\":\"tcp-fin\","
		  "\"tcp_state\":\"time-wait\",\"tcp_flags\":19,\"ingress\":\"p0\","
		  "\"tunnel\":\"wg0\",\"worker\":0}\n");
	n = recv(s, line, sizeof(line) - 1, MSG_DONTWAIT);
	CHECK(n > 0);
	line[n > 0 ? n : 0] = '\0';
	CHECK(strstr(line, "\"network\":\"po\\u0022ds\"") != NULL);
	CHECK(strstr(line, "\"service\":\"web\",\"endpoint\":\"b\","
			   "\"endpoint_address\":\"10.1.0.5\"") != NULL);
	CHECK(strstr(line, "\"protocol\":\"udp\"") != NULL);
	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	/* The file holds the same two lines. */
	CHECK(strncmp(buf, "{\"seq\":1,", 9) == 0);
	CHECK(strstr(buf, "\n{\"seq\":2,") != NULL);
	CHECK(n > 0 && buf[n - 1] == 0x0a);
	mg_flowlog_stats(fl, &st);
	CHECK_EQ(st.file_lines, 2);
	CHECK_EQ(st.socket_lines, 2);
	/* The collector goes away: lines are lost and counted, nothing blocks. */
	close(s);
	unlink(spath);
	mg_flowlog_add(fl, &e);
	mg_flowlog_stats(fl, &st);
	CHECK_EQ(st.socket_drops, 1);
	mg_flowlog_destroy(fl);
	unlink(path);
}

MG_TEST(history_json_gateway_flows)
{
	struct mg_flowlog_entry e = entry(0x0a000001, 5353, "pods", 1700000000, 1700000001);
	char line[1024];

	e.key.proto = 17;
	e.source = MG_FLOWLOG_GATEWAY;
	mg_strlcpy(e.gateway, "edge", sizeof(e.gateway));
	mg_ip_parse("192.0.2.1", &e.nat_addr);
	e.nat_port = 30001;
	CHECK(mg_flowlog_json(&e, line, sizeof(line)) > 0);
	CHECK(strstr(line, "\"source\":\"gateway\",") != NULL);
	CHECK(strstr(line, "\"gateway\":\"edge\",\"nat_address\":\"192.0.2.1\","
			   "\"nat_port\":30001,\"worker\":0}") != NULL);
	CHECK(strstr(line, "service") == NULL);
	/* A published service's flow: the service's, through the gateway, no source NAT. */
	e.source = MG_FLOWLOG_SERVICE;
	mg_strlcpy(e.service, "web", sizeof(e.service));
	memset(&e.nat_addr, 0, sizeof(e.nat_addr));
	CHECK(mg_flowlog_json(&e, line, sizeof(line)) > 0);
	CHECK(strstr(line, "\"source\":\"service\",") != NULL);
	CHECK(strstr(line, "\"service\":\"web\",\"gateway\":\"edge\",\"worker\":0}") != NULL);
	CHECK(strstr(line, "nat_") == NULL);
}

static void
setup(void)
{
	mg_test_eal_init("test_flow", "0", 256);
}

int
main(int argc, char **argv)
{
	mg_test_setup = setup;
	return mg_test_main(argc, argv);
}
