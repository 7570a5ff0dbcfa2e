/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Services and flows: the weighted Maglev table against the exact shares
 * its weights ask for, flows spread over endpoints as the table says,
 * flows moved by endpoint and weight changes against the theoretical
 * minimum and against a naive modulo hash, flows pinned by the flow table
 * staying put (and ending with the right reason when their endpoint
 * goes), the table-full fallback, timeouts on an injected clock, the
 * export ring, and the keys of each protocol (GTP-U TEID, SCTP, ESP,
 * ICMP errors, fragments, truncated headers, any protocol).
 */
#include <arpa/inet.h>
#include <math.h>
#include <unistd.h>

#include <errno.h>

#include <rte_eal.h>
#include <rte_memory.h>
#include <rte_ring.h>

#include "mg_proto.h"
#include "mg_svc.h"
#include "mg_test.h"
#include "mg_test_eal.h"

#define M_SMALL 65537u

/* ---- helpers ----------------------------------------------------------------------------- */

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static struct mg_svc *
svc_new(uint16_t id, uint32_t size)
{
	struct mg_error e;
	struct mg_svc *s = mg_svc_create(id, "web", MG_SVC_ROUTE, size, &e);

	if (s == NULL)
		MG_FAIL("mg_svc_create: %s", e.msg);
	return s;
}

static int
ep_set(struct mg_svc *s, const char *name, uint32_t weight, bool up, uint32_t addr)
{
	struct mg_svc_endpoint_conf c = {.weight = weight, .up = up, .tunnel = UINT32_MAX};
	struct mg_error e;
	int rc;

	snprintf(c.name, sizeof(c.name), "%s", name);
	c.addr.family = AF_INET;
	c.addr.v4 = htonl(addr);
	rc = mg_svc_endpoint_set(s, &c, &e);
	if (rc < 0)
		MG_FAIL("endpoint %s: %s", name, e.msg);
	return rc;
}

static struct mg_svc_table *
build(const struct mg_svc *s)
{
	struct mg_error e;
	struct mg_svc_table *t = mg_svc_build(s, &e);

	if (t == NULL)
		MG_FAIL("mg_svc_build: %s", e.msg);
	return t;
}

/* The endpoint name of table slot @i. */
static const char *
lut_name(const struct mg_svc_table *t, uint32_t i)
{
	return t->ep[t->lut[i]].name;
}

/*
 * Share of the lookup table (so of all flows, hashes being uniform) whose
 * endpoint differs between @a and @b, endpoints compared by name.
 */
static double
moved_share(const struct mg_svc_table *a, const struct mg_svc_table *b)
{
	uint32_t moved = 0;

	for (uint32_t i = 0; i < a->size; i++)
		moved += strcmp(lut_name(a, i), lut_name(b, i)) != 0;
	return (double)moved / a->size;
}

/* Slots endpoint @name holds in @t (0 if absent). */
static uint32_t
slots_of(const struct mg_svc_table *t, const char *name)
{
	for (unsigned int i = 0; i < t->n_slots; i++)
		if (t->ep[i].ref != MG_SVC_REF_NONE && strcmp(t->ep[i].name, name) == 0)
			return t->ep[i].lut_slots;
	return 0;
}

/*
 * The least share that must move between two tables: the total variation
 * distance between their endpoints' shares of the table (endpoints by name).
 */
static double
min_moved(const struct mg_svc_table *a, const struct mg_svc_table *b)
{
	uint64_t d = 0;

	for (unsigned int i = 0; i < a->n_slots; i++)
		if (a->ep[i].ref != MG_SVC_REF_NONE) {
			uint32_t x = a->ep[i].lut_slots, y = slots_of(b, a->ep[i].name);

			d += x > y ? x - y : y - x;
		}
	for (unsigned int i = 0; i < b->n_slots; i++)
		if (b->ep[i].ref != MG_SVC_REF_NONE && slots_of(a, b->ep[i].name) == 0)
			d += b->ep[i].lut_slots;
	return (double)d / 2 / a->size;
}

/*
 * The naive alternative: endpoint = hash % (sum of weights) over the
 * endpoints' weight ranges in slot order. Share of 2^16 sampled hashes
 * whose endpoint differs between two weight vectors (0 = absent).
 */
static double
modulo_moved(const uint32_t *wa, const uint32_t *wb, unsigned int n)
{
	uint32_t sa = 0, sb = 0, moved = 0, samples = 1u << 16;

	for (unsigned int i = 0; i < n; i++) {
		sa += wa[i];
		sb += wb[i];
	}
	for (uint32_t s = 0; s < samples; s++) {
		uint32_t h = (uint32_t)rng(), ra = h % sa, rb = h % sb;
		unsigned int ea = 0, eb = 0;

		while (ra >= wa[ea])
			ra -= wa[ea++];
		while (rb >= wb[eb])
			rb -= wb[eb++];
		moved += ea != eb;
	}
	return (double)moved / samples;
}

/* An IPv4/UDP packet (with GTP-U after it when @teid_on). */
static uint32_t
pkt4_udp(uint8_t *b, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport)
{
	memset(b, 0, 64);
	b[0] = 0x45;
	b[2] = 0;
	b[3] = 44;
	b[8] = 64;
	b[9] = MG_IPPROTO_UDP;
	uint32_t s = htonl(src), d = htonl(dst);
	uint16_t sp = htons(sport), dp = htons(dport), ul = htons(24);

	memcpy(b + 12, &s, 4);
	memcpy(b + 16, &d, 4);
	memcpy(b + 20, &sp, 2);
	memcpy(b + 22, &dp, 2);
	memcpy(b + 24, &ul, 2);
	return 44;
}

static uint32_t
hash4(uint8_t *b, uint32_t len, struct mg_flow_key *k, enum mg_svc_key *kind)
{
	uint32_t h;
	enum mg_svc_key kd = mg_svc_pkt_key(b, len, AF_INET, b[9], (b[0] & 0xfu) * 4u,
					    (b[6] & 0x3f) || b[7], 0, k, &h);

	if (kind != NULL)
		*kind = kd;
	return h;
}

/* A random UDP flow key and its selection hash, as a packet would give them. */
static uint32_t
random_flow(struct mg_flow_key *k)
{
	uint8_t b[64];
	uint32_t len = pkt4_udp(b, 0x0a000000u | (uint32_t)(rng() & 0xffffff), 0xc0000201u,
				(uint16_t)rng(), 443);

	return hash4(b, len, k, NULL);
}

static struct mg_flow_table *
flows_new(const char *name, uint32_t capacity, uint32_t ring)
{
	struct mg_flow_conf c = {.capacity = capacity, .hz = 1000, .export_ring = ring,
				 .socket = SOCKET_ID_ANY};
	struct mg_error e;
	struct mg_flow_table *t;

	snprintf(c.name, sizeof(c.name), "%s", name);
	t = mg_flow_table_create(&c, &e);
	if (t == NULL)
		MG_FAIL("mg_flow_table_create: %s", e.msg);
	return t;
}

/* ---- configuration checks -------------------------------------------------------------- */

MG_TEST(service_settings_checked)
{
	struct mg_error e;
	struct mg_svc *s;

	CHECK(mg_svc_is_prime(65537));
	CHECK(!mg_svc_is_prime(65535));
	CHECK(mg_svc_create(0, "bad name", MG_SVC_ROUTE, 0, &e) == NULL);
	CHECK_STR(e.field, "name");
	CHECK(mg_svc_create(0, "x", MG_SVC_ROUTE, 65536, &e) == NULL);
	CHECK_STR(e.field, "table_size");
	CHECK(mg_svc_create(MG_SVC_MAX_SERVICES, "x", MG_SVC_ROUTE, 0, &e) == NULL);
	CHECK_STR(e.field, "id");
	s = svc_new(3, 0);
	if (s == NULL)
		return;
	struct mg_svc_endpoint_conf c = {.weight = 1, .up = true};

	snprintf(c.name, sizeof(c.name), "a");
	CHECK_EQ(mg_svc_endpoint_set(s, &c, &e), -EINVAL); /* no address */
	CHECK_STR(e.field, "addr");
	CHECK_EQ(mg_svc_endpoint_del(s, "nope", &e), -ENOENT);
	CHECK_EQ(mg_svc_set_table_size(s, 100, &e), -EINVAL);
	CHECK_EQ(mg_svc_id(s), 3);
	mg_svc_destroy(s);
}

/* ---- weights ------------------------------------------------------------------------------ */

static void
weights_case(const uint32_t *w, unsigned int n, uint32_t size)
{
	struct mg_svc *s = svc_new(1, size);
	char name[16];
	uint64_t sum = 0;

	for (unsigned int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "ep%u", i);
		ep_set(s, name, w[i], true, 0x0a000100u + i);
		sum += w[i];
	}
	struct mg_svc_table *t = build(s);
	uint32_t cnt[64] = {0};

	if (t == NULL)
		return;
	/* Count the table ourselves, then against the exact shares of the weights. */
	for (uint32_t i = 0; i < t->size; i++) {
		CHECK(t->lut[i] < n);
		cnt[t->lut[i]]++;
	}
	for (unsigned int i = 0; i < n; i++) {
		double exact = (double)t->size * w[i] / (double)sum;

		CHECK_EQ(cnt[i], t->ep[i].lut_slots);
		if (fabs(cnt[i] - exact) > 1.0)
			MG_FAIL("weights %u/%llu: %u slots of %u, exact share %.2f", w[i],
				(unsigned long long)sum, cnt[i], t->size, exact);
	}
	mg_svc_table_free(t);
	mg_svc_destroy(s);
}

MG_TEST(maglev_slots_match_weights)
{
	static const uint32_t equal[] = {1, 1, 1, 1, 1, 1, 1};
	static const uint32_t canary[] = {95, 5};
	static const uint32_t ramp[] = {1, 2, 3, 4, 5, 6, 7, 8};
	static const uint32_t tiny[] = {1000, 1};
	static const uint32_t mixed[] = {70, 20, 10, 0};

	weights_case(equal, RTE_DIM(equal), 0);
	weights_case(canary, RTE_DIM(canary), 0);
	weights_case(ramp, RTE_DIM(ramp), 0);
	weights_case(tiny, RTE_DIM(tiny), 0);
	weights_case(mixed, RTE_DIM(mixed), 0);
	weights_case(canary, RTE_DIM(canary), 251);
	weights_case(ramp, RTE_DIM(ramp), 1000003);
}

/* The acceptance figure: a 95/5 canary over 10,000 flows within +-1%. */
MG_TEST(canary_95_5_over_10000_flows)
{
	struct mg_svc *s = svc_new(1, 0);
	int stable = ep_set(s, "stable", 95, true, 0x0a000101);
	int canary = ep_set(s, "canary", 5, true, 0x0a000102);
	struct mg_svc_table *t = build(s);
	uint32_t n = 10000, to[2] = {0, 0};

	if (t == NULL)
		return;
	for (uint32_t i = 0; i < n; i++) {
		struct mg_flow_key k;
		const struct mg_svc_ep *e = mg_svc_select(t, random_flow(&k));

		CHECK(e != NULL);
		to[e == &t->ep[canary]]++;
	}
	double share = (double)to[1] / n;

	if (fabs(share - 0.05) > 0.01)
		MG_FAIL("canary share %.4f, expected 0.05 +- 0.01", share);
	CHECK_EQ(to[0] + to[1], n);
	CHECK(stable != canary);
	/* Over many more flows the share converges on the table's (exactly 5% +- 1 slot). */
	uint32_t big = 400000, c = 0;

	for (uint32_t i = 0; i < big; i++) {
		struct mg_flow_key k;

		c += mg_svc_select(t, random_flow(&k)) == &t->ep[canary];
	}
	double exp_share = (double)t->ep[canary].lut_slots / t->size;
	double sigma = sqrt(exp_share * (1 - exp_share) / big);

	if (fabs((double)c / big - exp_share) > 5 * sigma)
		MG_FAIL("canary share %.5f over %u flows, the table's is %.5f (sigma %.5f)",
			(double)c / big, big, exp_share, sigma);
	mg_svc_table_free(t);
	mg_svc_destroy(s);
}

MG_TEST(no_usable_endpoint)
{
	struct mg_svc *s = svc_new(1, 251);

	ep_set(s, "a", 0, true, 1);   /* draining */
	ep_set(s, "b", 10, false, 2); /* down */
	struct mg_svc_table *t = build(s);

	if (t == NULL)
		return;
	CHECK_EQ(t->n_usable, 0);
	CHECK(mg_svc_select(t, 12345) == NULL);
	CHECK(mg_svc_select(t, UINT32_MAX) == NULL);
	mg_svc_table_free(t);
	mg_svc_destroy(s);
}

/* ---- disruption ---------------------------------------------------------------------------- */

MG_TEST(disruption_endpoint_removed_and_added)
{
	struct mg_svc *s = svc_new(1, 0);
	char name[16];
	uint32_t wa[11], wb[11];

	for (unsigned int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "ep%u", i);
		ep_set(s, name, 1, true, 0x0a000100u + i);
		wa[i] = 1;
	}
	struct mg_svc_table *a = build(s);

	/* Remove one of ten: 10% must move. */
	mg_svc_endpoint_del(s, "ep3", NULL);
	struct mg_svc_table *b = build(s);
	double moved = moved_share(a, b), min = min_moved(a, b);

	memcpy(wb, wa, sizeof(wb));
	wb[3] = 0;
	double naive = modulo_moved(wa, wb, 10);

	printf("remove 1 of 10: maglev moved %.4f, minimum %.4f, modulo %.4f\n", moved, min, naive);
	CHECK(fabs(min - 0.1) < 2.0 / a->size); /* the table holds whole slots */
	CHECK(moved >= min - 1e-9);      /* nothing can beat the minimum... */
	CHECK(moved <= min * 1.05 + 0.002); /* ...and Maglev stays close to it */
	CHECK(naive > 5 * moved);
	/* Every slot of the removed endpoint moved; Maglev's excess is slots
	 * passed between survivors, a small share of the table. */
	uint32_t excess = 0;

	for (uint32_t i = 0; i < a->size; i++)
		excess += a->lut[i] != 3 && a->lut[i] != b->lut[i];
	CHECK(excess < a->size / 100);

	/* Add an eleventh to the original ten: 1/11 must move. */
	ep_set(s, "ep3", 1, true, 0x0a000103u);
	ep_set(s, "ep10", 1, true, 0x0a00010au);
	struct mg_svc_table *c = build(s);

	moved = moved_share(a, c);
	min = min_moved(a, c);
	wb[3] = 1;
	wb[10] = 1;
	wa[10] = 0;
	naive = modulo_moved(wa, wb, 11);
	printf("add an 11th: maglev moved %.4f, minimum %.4f, modulo %.4f\n", moved, min, naive);
	CHECK(fabs(min - 1.0 / 11) < 2.0 / a->size);
	CHECK(moved >= min - 1e-9);
	CHECK(moved <= min * 1.1);
	CHECK(naive > 5 * moved);
	mg_svc_table_free(a);
	mg_svc_table_free(b);
	mg_svc_table_free(c);
	mg_svc_destroy(s);
}

MG_TEST(disruption_weight_changes)
{
	static const struct {
		uint32_t from[2], to[2];
	} steps[] = {
		{{95, 5}, {90, 10}}, {{90, 10}, {50, 50}}, {{50, 50}, {5, 95}}, {{99, 1}, {100, 0}},
	};

	for (unsigned int k = 0; k < RTE_DIM(steps); k++) {
		struct mg_svc *s = svc_new(1, 0);

		ep_set(s, "stable", steps[k].from[0], true, 1);
		ep_set(s, "canary", steps[k].from[1], true, 2);
		struct mg_svc_table *a = build(s);

		ep_set(s, "stable", steps[k].to[0], true, 1);
		ep_set(s, "canary", steps[k].to[1], true, 2);
		struct mg_svc_table *b = build(s);
		double moved = moved_share(a, b), min = min_moved(a, b);
		double naive = modulo_moved(steps[k].from, steps[k].to, 2);

		printf("%u/%u -> %u/%u: maglev moved %.4f, minimum %.4f, modulo %.4f\n",
		       steps[k].from[0], steps[k].from[1], steps[k].to[0], steps[k].to[1], moved,
		       min, naive);
		/* With two endpoints only the minimum can move: every moved slot goes one way. */
		CHECK(moved >= min - 1e-9);
		CHECK(moved <= min + 2.0 / a->size);
		mg_svc_table_free(a);
		mg_svc_table_free(b);
		mg_svc_destroy(s);
	}
	/* Five endpoints, one weight doubled. */
	struct mg_svc *s = svc_new(1, 0);
	char name[16];

	for (unsigned int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "ep%u", i);
		ep_set(s, name, 10, true, 10 + i);
	}
	struct mg_svc_table *a = build(s);

	ep_set(s, "ep2", 20, true, 12);
	struct mg_svc_table *b = build(s);
	double moved = moved_share(a, b), min = min_moved(a, b);

	static const uint32_t w5a[] = {10, 10, 10, 10, 10}, w5b[] = {10, 10, 20, 10, 10};
	double naive = modulo_moved(w5a, w5b, 5);

	printf("5 endpoints, one weight doubled: maglev moved %.4f, minimum %.4f, modulo %.4f\n",
	       moved, min, naive);
	CHECK(naive > 2 * moved);
	CHECK(moved >= min - 1e-9);
	CHECK(moved <= min * 1.1);
	mg_svc_table_free(a);
	mg_svc_table_free(b);
	mg_svc_destroy(s);
}

/* ---- flows: stickiness ----------------------------------------------------------------------- */

struct recs {
	unsigned int n;
	unsigned int by_end[MG_FLOW_END_MAX];
	struct mg_flow_record last;
};

static void
rec_cb(const struct mg_flow_record *r, void *arg)
{
	struct recs *rs = arg;

	rs->n++;
	if (r->end < MG_FLOW_END_MAX)
		rs->by_end[r->end]++;
	rs->last = *r;
}

MG_TEST(flows_stay_on_their_endpoint)
{
	enum { NF = 5000 };
	static struct mg_flow_key keys[NF];
	static uint32_t hashes[NF], pinned[NF];
	struct mg_flow_table *ft = flows_new("stick", NF * 2, 16384);
	struct mg_svc *s = svc_new(7, 0);
	struct mg_svc_table *t, *t2;
	enum mg_svc_verdict v;
	struct recs rs = {0};
	uint64_t now = 1000;

	if (ft == NULL || s == NULL)
		return;
	ep_set(s, "stable", 95, true, 1);
	ep_set(s, "canary", 5, true, 2);
	t = build(s);
	for (unsigned int i = 0; i < NF; i++) {
		hashes[i] = random_flow(&keys[i]);
		const struct mg_svc_ep *e = mg_svc_steer(t, ft, &keys[i], hashes[i], 100, 0, now,
							 &v, NULL);

		CHECK_EQ(v, MG_SVC_NEW);
		pinned[i] = e->ref;
	}
	CHECK_EQ(mg_flow_table_stats(ft)->active, NF);

	/* Flip the canary to 50/50 and add a third endpoint: no pinned flow moves. */
	ep_set(s, "stable", 50, true, 1);
	ep_set(s, "canary", 50, true, 2);
	ep_set(s, "third", 50, true, 3);
	t2 = build(s);
	CHECK(moved_share(t, t2) > 0.3); /* the table itself changed a lot */
	unsigned int would_move = 0;

	for (unsigned int i = 0; i < NF; i++) {
		const struct mg_svc_ep *e = mg_svc_steer(t2, ft, &keys[i], hashes[i], 100, 0,
							 now + 1, &v, NULL);

		CHECK_EQ(v, MG_SVC_HIT);
		CHECK_EQ(e->ref, pinned[i]);
		would_move += mg_svc_select(t2, hashes[i])->ref != pinned[i];
	}
	CHECK(would_move > NF / 4);
	mg_svc_table_free(t);
	t = t2;

	/* Drain the canary (weight 0): its flows stay, new flows avoid it. */
	ep_set(s, "canary", 0, true, 2);
	t2 = build(s);
	unsigned int on_canary = 0;
	uint32_t canary_ref = t2->ep[1].ref;

	for (unsigned int i = 0; i < NF; i++) {
		const struct mg_svc_ep *e = mg_svc_steer(t2, ft, &keys[i], hashes[i], 100, 0,
							 now + 2, &v, NULL);

		CHECK_EQ(v, MG_SVC_HIT);
		on_canary += e->ref == canary_ref;
	}
	CHECK(on_canary > 0);
	for (unsigned int i = 0; i < 1000; i++) {
		struct mg_flow_key k;
		uint32_t h = random_flow(&k);
		const struct mg_svc_ep *e = mg_svc_steer(t2, ft, &k, h, 100, 0, now + 2, &v, NULL);

		CHECK_EQ(v, MG_SVC_NEW);
		CHECK(e->ref != canary_ref);
		mg_flow_end(ft, mg_flow_lookup(ft, &k, now + 2, (int[]){0}), MG_FLOW_END_FLUSH);
	}
	mg_svc_table_free(t);
	t = t2;

	/* Remove the canary: exactly its flows end, with that reason, and move. */
	mg_svc_endpoint_del(s, "canary", NULL);
	t2 = build(s);
	mg_flow_export_drain(ft, rec_cb, &rs, UINT32_MAX);
	memset(&rs, 0, sizeof(rs));
	unsigned int moved = 0;

	for (unsigned int i = 0; i < NF; i++) {
		const struct mg_svc_ep *e = mg_svc_steer(t2, ft, &keys[i], hashes[i], 100, 0,
							 now + 3, &v, NULL);

		if (pinned[i] == canary_ref) {
			CHECK_EQ(v, MG_SVC_NEW);
			moved++;
		} else {
			CHECK_EQ(v, MG_SVC_HIT);
			CHECK_EQ(e->ref, pinned[i]);
		}
	}
	CHECK_EQ(moved, on_canary);
	CHECK_EQ(mg_flow_export_drain(ft, rec_cb, &rs, UINT32_MAX), on_canary);
	CHECK_EQ(rs.by_end[MG_FLOW_END_ENDPOINT_REMOVED], on_canary);
	CHECK_EQ(rs.last.ep, canary_ref);
	CHECK_EQ(rs.last.pkts[0], 3);      /* steered three times before */
	CHECK_EQ(rs.last.bytes[0], 300);
	CHECK_EQ(rs.last.first, now);
	CHECK_EQ(rs.last.last, now + 2);
	CHECK_EQ(rs.last.svc, 7);
	mg_svc_table_free(t);
	t = t2;

	/* Set "third" down: its flows end with endpoint-down. */
	ep_set(s, "third", 50, false, 3);
	t2 = build(s);
	unsigned int third = 0;

	memset(&rs, 0, sizeof(rs));
	for (unsigned int i = 0; i < NF; i++) {
		mg_svc_steer(t2, ft, &keys[i], hashes[i], 100, 0, now + 4, &v, NULL);
		third += v == MG_SVC_NEW;
	}
	mg_flow_export_drain(ft, rec_cb, &rs, UINT32_MAX);
	CHECK_EQ(rs.by_end[MG_FLOW_END_ENDPOINT_DOWN], third);
	CHECK_EQ(rs.n, third);
	mg_svc_table_free(t);
	mg_svc_table_free(t2);
	mg_svc_destroy(s);
	mg_flow_table_destroy(ft);
}

/* A reference keeps naming its endpoint: a new address or a reused slot is another endpoint. */
MG_TEST(endpoint_references)
{
	struct mg_svc *s = svc_new(9, 251);
	int a = ep_set(s, "a", 1, true, 1);
	struct mg_svc_table *t1 = build(s), *t2, *t3, *t4;
	uint32_t ref1 = t1->ep[a].ref;

	CHECK_EQ(mg_svc_ref_service(ref1), 9);
	CHECK_EQ(mg_svc_ref_slot(ref1), a);
	ep_set(s, "a", 7, true, 1); /* weight change: same endpoint */
	t2 = build(s);
	CHECK(mg_svc_ref_get(t2, ref1) == &t2->ep[a]);
	ep_set(s, "a", 7, true, 99); /* new address */
	t3 = build(s);
	CHECK(mg_svc_ref_get(t3, ref1) == NULL);
	CHECK_EQ(mg_svc_ref_state(t3, ref1), MG_FLOW_END_ENDPOINT_REMOVED);
	uint32_t ref3 = t3->ep[a].ref;

	mg_svc_endpoint_del(s, "a", NULL);
	CHECK_EQ(ep_set(s, "b", 1, true, 99), a); /* the slot is reused... */
	t4 = build(s);
	CHECK(mg_svc_ref_get(t4, ref3) == NULL); /* ...by another endpoint */
	CHECK(t4->ep[a].ref != ref3);
	CHECK_EQ(mg_svc_ref_state(NULL, ref3), MG_FLOW_END_SERVICE_REMOVED);
	mg_svc_table_free(t1);
	mg_svc_table_free(t2);
	mg_svc_table_free(t3);
	mg_svc_table_free(t4);
	mg_svc_destroy(s);
}

/*
 * Generations wrap (8 bits): a service that takes over a removed one's id
 * starts from where the old one's generations went, modulo 256, so its
 * endpoints never take the old references, also across the wrap (the
 * highest value used to stop at 255: every later service of the id started
 * at 255 and gave its first endpoint generation 0, the previous one's).
 */
MG_TEST(generations_wrap_across_services_of_one_id)
{
	uint8_t floor = 0;
	uint32_t prev = MG_SVC_REF_NONE;

	for (unsigned int n = 0; n < 300; n++) {
		struct mg_svc *s = svc_new(5, 7);
		struct mg_svc_table *t;
		int a;

		mg_svc_gen_start(s, floor);
		a = ep_set(s, "e", 1, true, 1);
		if (n % 7 == 0) /* now and then an endpoint that moves within a service */
			ep_set(s, "e", 1, true, 2 + n);
		t = build(s);
		CHECK(t->ep[a].ref != prev);
		CHECK(mg_svc_ref_get(t, prev) == NULL);
		prev = t->ep[a].ref;
		CHECK_EQ(mg_svc_gen_max(s), (uint8_t)(prev & 0xff));
		CHECK_EQ(mg_svc_gen_max(s), (uint8_t)(floor + 1 + (n % 7 == 0)));
		floor = mg_svc_gen_max(s);
		mg_svc_table_free(t);
		mg_svc_destroy(s);
	}
}

MG_TEST(commit_publishes_and_returns_old)
{
	struct mg_svc *s = svc_new(2, 251);
	struct mg_svc_table *old = (void *)1;
	struct mg_error e;

	CHECK(mg_svc_table_get(s) == NULL);
	ep_set(s, "a", 1, true, 1);
	CHECK_EQ(mg_svc_commit(s, &old, &e), 0);
	CHECK(old == NULL);
	const struct mg_svc_table *t1 = mg_svc_table_get(s);

	CHECK(t1 != NULL && t1->n_usable == 1 && t1->version == 1);
	ep_set(s, "b", 1, true, 2);
	CHECK_EQ(mg_svc_commit(s, &old, &e), 0);
	CHECK(old == t1);
	CHECK(mg_svc_table_get(s)->n_usable == 2);
	CHECK_EQ(mg_svc_table_get(s)->version, 2);
	mg_svc_table_free(old);
	mg_svc_destroy(s);
}

/* ---- flows: capacity, timeouts, export --------------------------------------------------- */

MG_TEST(flow_table_full_falls_back_to_stateless)
{
	struct mg_flow_table *ft = flows_new("full", 1000, 0);
	struct mg_svc *s = svc_new(1, 251);
	enum mg_svc_verdict v;
	unsigned int nnew = 0, nstateless = 0;

	if (ft == NULL)
		return;
	ep_set(s, "a", 1, true, 1);
	ep_set(s, "b", 1, true, 2);
	struct mg_svc_table *t = build(s);

	for (unsigned int i = 0; i < 1500; i++) {
		struct mg_flow_key k;
		uint32_t h = random_flow(&k);
		struct mg_flow *f;
		const struct mg_svc_ep *e = mg_svc_steer(t, ft, &k, h, 60, 0, 0, &v, &f);

		CHECK(e == mg_svc_select(t, h)); /* stateless still follows the table */
		if (v == MG_SVC_NEW) {
			nnew++;
			CHECK(f != NULL);
		} else {
			CHECK_EQ(v, MG_SVC_STATELESS);
			CHECK(f == NULL);
			nstateless++;
		}
	}
	const struct mg_flow_stats *st = mg_flow_table_stats(ft);

	CHECK_EQ(nnew, 1000);
	CHECK_EQ(nstateless, 500);
	CHECK_EQ(st->full, 500);
	CHECK_EQ(st->active, 1000);
	CHECK_EQ(st->created, 1000);
	/* After the UDP timeout a sweep frees them all and new flows fit again. */
	uint64_t later = (uint64_t)(MG_FLOW_TIMEOUT_UDP + 1) * 1000;

	CHECK_EQ(mg_flow_expire(ft, later, 400, NULL, NULL), 400); /* bounded by the budget */
	CHECK_EQ(mg_flow_expire(ft, later, 5000, NULL, NULL), 600);
	CHECK_EQ(st->active, 0);
	CHECK_EQ(st->ended[MG_FLOW_END_IDLE], 1000);
	struct mg_flow_key k;
	uint32_t h = random_flow(&k);

	mg_svc_steer(t, ft, &k, h, 60, 0, later, &v, NULL);
	CHECK_EQ(v, MG_SVC_NEW);
	mg_svc_table_free(t);
	mg_svc_destroy(s);
	mg_flow_table_destroy(ft);
}

static struct mg_flow_key
key_of(uint8_t proto, uint16_t port)
{
	struct mg_flow_key k;

	memset(&k, 0, sizeof(k));
	k.family = AF_INET;
	k.proto = proto;
	k.src[0] = 10;
	k.src[3] = 2;
	k.dst[0] = 192;
	k.dst[3] = 1;
	k.sport = htons(port);
	k.dport = htons(80);
	return k;
}

MG_TEST(timeouts_on_injected_clock)
{
	struct mg_flow_conf c = {.capacity = 64, .hz = 1000, .export_ring = 64,
				 .socket = SOCKET_ID_ANY, .name = "tmo"};
	struct mg_error e;
	struct mg_flow_table *ft;
	struct recs rs = {0};
	int dir;

	c.timeout_s[MG_FLOW_T_ICMP] = 5; /* override one class */
	ft = mg_flow_table_create(&c, &e);
	if (ft == NULL) {
		MG_FAIL("%s", e.msg);
		return;
	}
	CHECK_EQ(mg_flow_timeout_ticks(ft, MG_FLOW_T_ICMP), 5000);
	CHECK_EQ(mg_flow_timeout_ticks(ft, MG_FLOW_T_UDP), MG_FLOW_TIMEOUT_UDP * 1000ull);

	/* UDP: alive up to exactly its timeout after the last packet. */
	struct mg_flow_key ku = key_of(MG_IPPROTO_UDP, 1000);
	struct mg_flow *f = mg_flow_create(ft, &ku, NULL, 1, 42, 0);

	mg_flow_touch(f, 0, 100, 0, 0);
	uint64_t to = MG_FLOW_TIMEOUT_UDP * 1000ull;

	CHECK(mg_flow_lookup(ft, &ku, to, &dir) == f);
	mg_flow_touch(f, 0, 50, 0, to);
	CHECK(mg_flow_lookup(ft, &ku, 2 * to, &dir) == f);
	CHECK(mg_flow_lookup(ft, &ku, 2 * to + 1, &dir) == NULL);
	CHECK_EQ(mg_flow_export_drain(ft, rec_cb, &rs, 10), 1);
	CHECK_EQ(rs.last.end, MG_FLOW_END_IDLE);
	CHECK_EQ(rs.last.first, 0);
	CHECK_EQ(rs.last.last, to);
	CHECK_EQ(rs.last.pkts[0], 2);
	CHECK_EQ(rs.last.bytes[0], 150);
	CHECK_EQ(rs.last.ep, 42);
	CHECK(memcmp(&rs.last.key, &ku, sizeof(ku)) == 0);
	CHECK_EQ(mg_flow_ticks_to_ns(ft, to), (uint64_t)MG_FLOW_TIMEOUT_UDP * 1000000000ull);

	/* ICMP with its configured 5 s. */
	struct mg_flow_key ki = key_of(MG_IPPROTO_ICMP, 7);

	f = mg_flow_create(ft, &ki, NULL, 1, 42, 100);
	CHECK(mg_flow_lookup(ft, &ki, 5100, &dir) == f);
	CHECK(mg_flow_lookup(ft, &ki, 5101, &dir) == NULL);

	/* TCP: opening (120 s) until a packet without SYN, then established. */
	struct mg_flow_key kt = key_of(MG_IPPROTO_TCP, 2000);
	uint64_t open = MG_FLOW_TIMEOUT_TCP_OPENING * 1000ull;

	f = mg_flow_create(ft, &kt, NULL, 1, 42, 0);
	mg_flow_touch(f, 0, 60, MG_TCP_SYN, 0);
	CHECK_EQ(mg_flow_expire(ft, open + 1, 64, NULL, NULL), 1);
	f = mg_flow_create(ft, &kt, NULL, 1, 42, 0);
	mg_flow_touch(f, 0, 60, MG_TCP_SYN, 0);
	mg_flow_touch(f, 1, 60, MG_TCP_SYN | MG_TCP_ACK, 1);
	mg_flow_touch(f, 0, 52, MG_TCP_ACK, 2);
	CHECK_EQ(mg_flow_expire(ft, open + 10, 64, NULL, NULL), 0);
	CHECK(mg_flow_lookup(ft, &kt, 2 + MG_FLOW_TIMEOUT_TCP_ESTABLISHED * 1000ull, &dir) == f);
	CHECK_EQ(dir, 0);
	/* FIN: the closing timeout, and the record says tcp-fin. */
	uint64_t t0 = 3 * 1000;

	mg_flow_touch(f, 0, 52, MG_TCP_FIN | MG_TCP_ACK, t0);
	mg_flow_touch(f, 1, 52, MG_TCP_ACK, t0);
	CHECK(mg_flow_lookup(ft, &kt, t0 + MG_FLOW_TIMEOUT_TCP_CLOSING * 1000ull, &dir) == f);
	memset(&rs, 0, sizeof(rs));
	mg_flow_export_drain(ft, rec_cb, &rs, 10);
	CHECK(mg_flow_lookup(ft, &kt, t0 + MG_FLOW_TIMEOUT_TCP_CLOSING * 1000ull + 1, &dir) ==
	      NULL);
	memset(&rs, 0, sizeof(rs));
	CHECK_EQ(mg_flow_export_drain(ft, rec_cb, &rs, 10), 1);
	CHECK_EQ(rs.last.end, MG_FLOW_END_TCP_FIN);
	CHECK_EQ(rs.last.pkts[0], 3);
	CHECK_EQ(rs.last.pkts[1], 2);
	CHECK_EQ(rs.last.tcp_flags, MG_TCP_SYN | MG_TCP_ACK | MG_TCP_FIN);
	/* RST. */
	f = mg_flow_create(ft, &kt, NULL, 1, 42, 0);
	mg_flow_touch(f, 0, 40, MG_TCP_RST, 0);
	CHECK_EQ(mg_flow_expire(ft, MG_FLOW_TIMEOUT_TCP_CLOSING * 1000ull + 1, 64, NULL, NULL), 1);
	memset(&rs, 0, sizeof(rs));
	mg_flow_export_drain(ft, rec_cb, &rs, 10);
	CHECK_EQ(rs.by_end[MG_FLOW_END_TCP_RST], 1);
	CHECK_STR(mg_flow_end_name(MG_FLOW_END_TCP_RST), "tcp-rst");
	mg_flow_table_destroy(ft);
}

MG_TEST(reply_key_and_export_drops)
{
	struct mg_flow_table *ft = flows_new("rkey", 64, 4);
	struct recs rs = {0};
	int dir = -1;

	if (ft == NULL)
		return;
	struct mg_flow_key k = key_of(MG_IPPROTO_UDP, 5000), rk = k;

	memcpy(rk.src, k.dst, 16);
	memcpy(rk.dst, k.src, 16);
	rk.src[3] = 77; /* the endpoint answers from its own address (nat mode) */
	rk.sport = k.dport;
	rk.dport = k.sport;
	struct mg_flow *f = mg_flow_create(ft, &k, &rk, 1, 1, 0);

	CHECK(f != NULL);
	CHECK(mg_flow_lookup(ft, &rk, 1, &dir) == f);
	CHECK_EQ(dir, 1);
	/* Another client whose reply key would clash: refused, counted, nothing changed. */
	struct mg_flow_key k2 = key_of(MG_IPPROTO_UDP, 5001);

	CHECK(mg_flow_create(ft, &k2, &rk, 1, 1, 0) == NULL);
	CHECK_EQ(mg_flow_table_stats(ft)->clashes, 1);
	CHECK(mg_flow_lookup(ft, &k2, 1, &dir) == NULL);
	CHECK(mg_flow_lookup(ft, &rk, 1, &dir) == f);
	CHECK(mg_flow_lookup(ft, &k, 1, &dir) == f);
	CHECK_EQ(dir, 0);
	mg_flow_end(ft, f, MG_FLOW_END_FLUSH);
	CHECK(mg_flow_lookup(ft, &rk, 1, &dir) == NULL);
	/* Ring of 4 holds 3: ten more ended flows lose seven records, counted. */
	for (uint16_t i = 0; i < 10; i++) {
		struct mg_flow_key x = key_of(MG_IPPROTO_UDP, (uint16_t)(100 + i));

		mg_flow_create(ft, &x, NULL, 1, 1, 0);
	}
	CHECK_EQ(mg_flow_flush(ft, MG_FLOW_END_FLUSH), 10);
	const struct mg_flow_stats *st = mg_flow_table_stats(ft);

	CHECK_EQ(st->exported, 3);
	CHECK_EQ(st->export_drops, 8);
	CHECK_EQ(mg_flow_export_drain(ft, rec_cb, &rs, 100), 3);
	CHECK_EQ(st->active, 0);
	mg_flow_table_destroy(ft);
}

/*
 * Creation failures name the field and the DPDK object, and leave nothing
 * behind: a name in use by a hash, then by a ring, then free again.
 */
MG_TEST(flow_table_create_errors)
{
	struct mg_flow_conf c = {.capacity = 16, .hz = 1000, .export_ring = 8,
				 .socket = SOCKET_ID_ANY, .name = "dupx"};
	struct mg_error e;
	struct mg_flow_table *a, *b;

	c.capacity = 0;
	CHECK(mg_flow_table_create(&c, &e) == NULL);
	CHECK_STR(e.field, "capacity");
	c.capacity = 16;
	c.export_ring = 12;
	CHECK(mg_flow_table_create(&c, &e) == NULL);
	CHECK_STR(e.field, "export_ring");
	CHECK_STR(e.msg, "must be a power of two, not 12");
	c.export_ring = 8;
	c.hz = 0;
	CHECK(mg_flow_table_create(&c, &e) == NULL);
	CHECK_STR(e.field, "hz");
	CHECK_STR(e.msg, "must not be 0");
	c.hz = 1000;
	a = mg_flow_table_create(&c, &e);
	CHECK(a != NULL);
	b = mg_flow_table_create(&c, &e);
	CHECK(b == NULL);
	CHECK_EEXIST(e, "name", "cannot create the flow hash fh_dupx for 16 flows");
	mg_flow_table_destroy(a);
	/* The ring's name taken alone: the hash made before it is freed again. */
	struct rte_ring *r = rte_ring_create("fr_dupx", 8, SOCKET_ID_ANY, 0);

	CHECK(r != NULL);
	CHECK(mg_flow_table_create(&c, &e) == NULL);
	CHECK_EEXIST(e, "name", "cannot create the export ring fr_dupx");
	rte_ring_free(r);
	a = mg_flow_table_create(&c, &e);
	CHECK(a != NULL);
	mg_flow_table_destroy(a);
}

/*
 * A burst that holds an expired flow's key twice (two packets of the flow,
 * or a packet and a reply) ends the flow once: one record, one free entry.
 */
MG_TEST(bulk_lookup_ends_an_expired_flow_once)
{
	struct mg_flow_table *ft = flows_new("bulk1", 8, 8);
	struct recs rs = {0};

	if (ft == NULL)
		return;
	struct mg_flow_key k = key_of(MG_IPPROTO_UDP, 6000), rk = k, k2;

	memcpy(rk.src, k.dst, 16);
	memcpy(rk.dst, k.src, 16);
	rk.sport = k.dport;
	rk.dport = k.sport;
	CHECK(mg_flow_create(ft, &k, &rk, 1, 1, 0) != NULL);
	const struct mg_flow_key *keys[3] = {&k, &k, &rk};
	struct mg_flow *fl[3] = {NULL, NULL, NULL};
	uint8_t dirs[3];
	uint64_t late = MG_FLOW_TIMEOUT_UDP * 1000ull + 1;

	CHECK_EQ(mg_flow_lookup_bulk(ft, keys, 3, late, fl, dirs), 0);
	CHECK(fl[0] == NULL && fl[1] == NULL && fl[2] == NULL);
	const struct mg_flow_stats *st = mg_flow_table_stats(ft);

	CHECK_EQ(st->active, 0);
	CHECK_EQ(st->ended[MG_FLOW_END_IDLE], 1);
	CHECK_EQ(mg_flow_export_drain(ft, rec_cb, &rs, 10), 1);
	/* Every entry is free once, so eight new flows take eight distinct entries. */
	struct mg_flow *made[8];

	for (uint16_t i = 0; i < 8; i++) {
		k2 = key_of(MG_IPPROTO_UDP, (uint16_t)(7000 + i));
		made[i] = mg_flow_create(ft, &k2, NULL, 1, 1, late);
		CHECK(made[i] != NULL);
		for (uint16_t j = 0; j < i; j++)
			CHECK(made[i] != made[j]);
	}
	k2 = key_of(MG_IPPROTO_UDP, 7100);
	CHECK(mg_flow_create(ft, &k2, NULL, 1, 1, late) == NULL);
	CHECK_EQ(st->full, 1);
	mg_flow_table_destroy(ft);
}

/* mg_flow_expire with mg_svc_flow_check ends flows whose endpoint or service went away. */
MG_TEST(sweep_ends_flows_of_removed_endpoints)
{
	static const struct mg_svc_table *tables[MG_SVC_MAX_SERVICES];
	struct mg_flow_table *ft = flows_new("sweep", 4096, 4096);
	struct mg_svc *s = svc_new(5, 251);
	enum mg_svc_verdict v;
	struct recs rs = {0};
	unsigned int on_b = 0;

	if (ft == NULL)
		return;
	ep_set(s, "a", 1, true, 1);
	int b = ep_set(s, "b", 1, true, 2);
	struct mg_svc_table *t = build(s);

	for (unsigned int i = 0; i < 2000; i++) {
		struct mg_flow_key k;
		uint32_t h = random_flow(&k);

		on_b += mg_svc_steer(t, ft, &k, h, 1, 0, 0, &v, NULL) == &t->ep[b];
	}
	mg_svc_endpoint_del(s, "b", NULL);
	struct mg_svc_table *t2 = build(s);

	tables[5] = t2;
	CHECK_EQ(mg_flow_expire(ft, 1, 4096, mg_svc_flow_check, tables), on_b);
	mg_flow_export_drain(ft, rec_cb, &rs, UINT32_MAX);
	CHECK_EQ(rs.by_end[MG_FLOW_END_ENDPOINT_REMOVED], on_b);
	tables[5] = NULL; /* the service is gone */
	CHECK_EQ(mg_flow_expire(ft, 2, 4096, mg_svc_flow_check, tables), 2000 - on_b);
	mg_flow_export_drain(ft, rec_cb, &rs, UINT32_MAX);
	CHECK_EQ(rs.by_end[MG_FLOW_END_SERVICE_REMOVED], 2000 - on_b);
	mg_svc_table_free(t);
	mg_svc_table_free(t2);
	mg_svc_destroy(s);
	mg_flow_table_destroy(ft);
}

/* ---- keys per protocol ---------------------------------------------------------------------- */

/* IPv4 + UDP:2152 + GTPv1-U header with @teid. */
static uint32_t
pkt4_gtpu(uint8_t *b, uint32_t src, uint32_t dst, uint16_t sport, uint32_t teid)
{
	pkt4_udp(b, src, dst, sport, 2152);
	uint32_t te = htonl(teid);

	b[28] = 0x30; /* version 1, PT 1 */
	b[29] = 0xff; /* G-PDU */
	memcpy(b + 32, &te, 4);
	return 44;
}

MG_TEST(key_gtpu_teid)
{
	uint8_t b[64];
	struct mg_flow_key k1, k2, k3;
	enum mg_svc_key kind;
	uint32_t h1, h2, h3;

	h1 = hash4(b, pkt4_gtpu(b, 0x0a000001, 0x0a000101, 2152, 0x1234), &k1, &kind);
	CHECK_EQ(kind, MG_SVC_KEY_GTPU);
	CHECK_EQ(ntohl(k1.tag), 0x1234);
	/* Another sender and source port, the same TEID: the same endpoint. */
	h2 = hash4(b, pkt4_gtpu(b, 0x0a000009, 0x0a000101, 40000, 0x1234), &k2, NULL);
	CHECK_EQ(h1, h2);
	CHECK(memcmp(&k1, &k2, sizeof(k1)) != 0); /* but its own flow */
	h3 = hash4(b, pkt4_gtpu(b, 0x0a000001, 0x0a000101, 2152, 0x1235), &k3, NULL);
	CHECK(h1 != h3);
	CHECK(memcmp(&k1, &k3, sizeof(k1)) != 0);
	/* Plain UDP to another port: the 5-tuple. */
	hash4(b, pkt4_udp(b, 1, 2, 3, 4), &k3, &kind);
	CHECK_EQ(kind, MG_SVC_KEY_5TUPLE);
	/* GTP-U cut short: the 5-tuple too. */
	pkt4_gtpu(b, 1, 2, 3, 9);
	hash4(b, 30, &k3, &kind);
	CHECK_EQ(kind, MG_SVC_KEY_5TUPLE);
	/* Over 10,000 TEIDs the canary split holds. */
	struct mg_svc *s = svc_new(1, 0);
	int canary;

	ep_set(s, "stable", 95, true, 1);
	canary = ep_set(s, "canary", 5, true, 2);
	struct mg_svc_table *t = build(s);
	unsigned int c = 0;

	for (uint32_t teid = 1; teid <= 10000; teid++)
		c += mg_svc_select(t, hash4(b, pkt4_gtpu(b, 1, 2, 2152, teid), &k1, NULL)) ==
		     &t->ep[canary];
	CHECK(c >= 400 && c <= 600);
	mg_svc_table_free(t);
	mg_svc_destroy(s);
}

MG_TEST(key_sctp_esp_other_v6)
{
	uint8_t b[128];
	struct mg_flow_key k1, k2;
	enum mg_svc_key kind;
	uint32_t h1, h2;

	/* IPv6 SCTP: ports and verification tag, not the addresses. */
	memset(b, 0, sizeof(b));
	b[0] = 0x60;
	b[5] = 28;
	b[6] = MG_IPPROTO_SCTP;
	b[7] = 64;
	b[8] = 0x20;
	b[23] = 1;
	b[24] = 0x20;
	b[39] = 2;
	b[40] = 0x0b; b[41] = 0x59; /* 2905 */
	b[42] = 0x0b; b[43] = 0x59;
	b[44] = 0xde; b[45] = 0xad; b[46] = 0xbe; b[47] = 0xef; /* vtag */
	kind = mg_svc_pkt_key(b, 68, AF_INET6, MG_IPPROTO_SCTP, 40, 0, 3, &k1, &h1);
	CHECK_EQ(kind, MG_SVC_KEY_SCTP);
	CHECK_EQ(k1.net, 3);
	CHECK_EQ(ntohs(k1.sport), 2905);
	b[23] = 9; /* another path of a multi-homed association */
	mg_svc_pkt_key(b, 68, AF_INET6, MG_IPPROTO_SCTP, 40, 0, 3, &k2, &h2);
	CHECK_EQ(h1, h2);
	b[47] = 0xee; /* another association */
	mg_svc_pkt_key(b, 68, AF_INET6, MG_IPPROTO_SCTP, 40, 0, 3, &k2, &h2);
	CHECK(h1 != h2);
	CHECK_EQ(mg_svc_pkt_key(b, 50, AF_INET6, MG_IPPROTO_SCTP, 40, 0, 3, &k2, &h2),
		 MG_SVC_KEY_TRUNCATED);

	/* ESP: the SPI. */
	b[6] = MG_IPPROTO_ESP;
	CHECK_EQ(mg_svc_pkt_key(b, 68, AF_INET6, MG_IPPROTO_ESP, 40, 0, 0, &k1, &h1),
		 MG_SVC_KEY_ESP);
	CHECK_EQ(ntohl(k1.tag), 0x0b590b59);
	b[40] = 0x0c;
	mg_svc_pkt_key(b, 68, AF_INET6, MG_IPPROTO_ESP, 40, 0, 0, &k2, &h2);
	CHECK(h1 != h2);

	/* An arbitrary protocol: the address pair and protocol. */
	b[6] = 253;
	CHECK_EQ(mg_svc_pkt_key(b, 68, AF_INET6, 253, 40, 0, 0, &k1, &h1), MG_SVC_KEY_ADDRS);
	b[60] ^= 0xff; /* payload does not count */
	mg_svc_pkt_key(b, 68, AF_INET6, 253, 40, 0, 0, &k2, &h2);
	CHECK_EQ(h1, h2);
	CHECK_EQ(k1.sport, 0);
	CHECK_EQ(mg_svc_pkt_key(b, 68, AF_INET6, 254, 40, 0, 0, &k2, &h2), MG_SVC_KEY_ADDRS);
	CHECK(h1 != h2); /* the protocol counts */
	/* Not even an IP header. */
	CHECK_EQ(mg_svc_pkt_key(b, 20, AF_INET6, 253, 40, 0, 0, &k2, &h2), MG_SVC_KEY_NONE);
	CHECK_EQ(h2, 0);
}

/*
 * A nat service keys a first fragment of a ported protocol like a whole
 * packet (the flow of its datagram) and the later ones by its record; other
 * protocols by their addresses, first and later alike (as route mode does
 * every fragment).
 */
MG_TEST(ported_protocols_of_fragments)
{
	uint8_t b[128];
	struct mg_flow_key kf, kw;
	uint32_t hf, hw;

	CHECK(mg_svc_proto_ported(AF_INET, MG_IPPROTO_TCP));
	CHECK(mg_svc_proto_ported(AF_INET6, MG_IPPROTO_UDP));
	CHECK(mg_svc_proto_ported(AF_INET, MG_IPPROTO_SCTP));
	CHECK(mg_svc_proto_ported(AF_INET, MG_IPPROTO_ICMP));
	CHECK(mg_svc_proto_ported(AF_INET6, MG_IPPROTO_ICMPV6));
	CHECK(!mg_svc_proto_ported(AF_INET6, MG_IPPROTO_ICMP)); /* ICMPv4 in IPv6: opaque */
	CHECK(!mg_svc_proto_ported(AF_INET, MG_IPPROTO_ICMPV6));
	CHECK(!mg_svc_proto_ported(AF_INET, MG_IPPROTO_ESP));
	CHECK(!mg_svc_proto_ported(AF_INET, 47 /* GRE */));
	/* A first fragment keyed as not a fragment: the key of the whole packet. */
	pkt4_udp(b, 0x0a000001, 0x0a000002, 1111, 2222);
	hw = hash4(b, 44, &kw, NULL);
	b[6] = 0x20; /* MF, first fragment */
	CHECK_EQ(mg_svc_pkt_key(b, 44, AF_INET, MG_IPPROTO_UDP, 20, 0, 0, &kf, &hf),
		 MG_SVC_KEY_5TUPLE);
	CHECK_EQ(hf, hw);
	CHECK(memcmp(&kf, &kw, sizeof(kf)) == 0);
}

MG_TEST(key_fragments_and_icmp)
{
	uint8_t b[128], e[128];
	struct mg_flow_key k1, k2;
	enum mg_svc_key kind;
	uint32_t h1, h2, hf;

	/* Fragments of one datagram hash alike, on the addresses. */
	pkt4_udp(b, 0x0a000001, 0x0a000002, 1111, 2222);
	b[6] = 0x20; /* MF, first fragment */
	hf = hash4(b, 44, &k1, &kind);
	CHECK_EQ(kind, MG_SVC_KEY_ADDRS);
	b[6] = 0x00;
	b[7] = 0x10; /* last fragment, no L4 */
	memset(b + 20, 0x55, 8);
	CHECK_EQ(hash4(b, 44, &k2, NULL), hf);
	CHECK(memcmp(&k1, &k2, sizeof(k1)) == 0);

	/* ICMP echo: the identifier is the port. */
	memset(b, 0, sizeof(b));
	b[0] = 0x45;
	b[3] = 28;
	b[9] = MG_IPPROTO_ICMP;
	b[12] = 10; b[15] = 1;
	b[16] = 10; b[19] = 2;
	b[20] = MG_ICMP4_ECHO_REQUEST;
	b[24] = 0x12; b[25] = 0x34;
	h1 = hash4(b, 28, &k1, &kind);
	CHECK_EQ(kind, MG_SVC_KEY_5TUPLE);
	CHECK_EQ(ntohs(k1.sport), 0x1234);
	b[24] = 0x12; b[25] = 0x35;
	CHECK(hash4(b, 28, &k2, NULL) != h1);

	/* An ICMP error quoting the reply of a UDP flow finds the flow. */
	uint32_t len = pkt4_udp(b, 0x0a000001, 0x0a000002, 1111, 2222);

	h1 = hash4(b, len, &k1, NULL);
	uint8_t q[64];

	pkt4_udp(q, 0x0a000002, 0x0a000001, 2222, 1111); /* the endpoint's reply */
	memset(e, 0, sizeof(e));
	e[0] = 0x45;
	e[3] = 20 + 8 + 28;
	e[9] = MG_IPPROTO_ICMP;
	e[12] = 198; e[13] = 51; e[14] = 100; e[15] = 1;
	e[16] = 10; e[19] = 2;
	e[20] = MG_ICMP4_DEST_UNREACH;
	e[21] = MG_ICMP4_UNREACH_FRAG_NEEDED;
	memcpy(e + 28, q, 28);
	h2 = hash4(e, 56, &k2, &kind);
	CHECK_EQ(kind, MG_SVC_KEY_ICMP_ERROR);
	CHECK_EQ(h1, h2);
	CHECK(memcmp(&k1, &k2, sizeof(k1)) == 0);
	/* A quote cut inside the IP header: the error's own addresses. */
	hash4(e, 40, &k2, &kind);
	CHECK_EQ(kind, MG_SVC_KEY_ADDRS);
	/* A TCP header cut short. */
	len = pkt4_udp(b, 1, 2, 3, 4);
	b[9] = MG_IPPROTO_TCP;
	hash4(b, 22, &k2, &kind);
	CHECK_EQ(kind, MG_SVC_KEY_TRUNCATED);
	CHECK_EQ(mg_svc_hash_pkt(b, 24, AF_INET, MG_IPPROTO_TCP, 20, 0, &kind),
		 hash4(b, 24, &k2, NULL));
	CHECK_EQ(kind, MG_SVC_KEY_5TUPLE);
}

static void
setup(void)
{
	mg_test_eal_init("test_svc", "0", 256);
}

int
main(int argc, char **argv)
{
	mg_test_setup = setup;
	return mg_test_main(argc, argv);
}
