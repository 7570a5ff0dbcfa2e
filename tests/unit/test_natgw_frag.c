/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fragment table of lib/natgw (mg_natgw_frag.h) against what it
 * promises: a first fragment's translation found by its later fragments
 * (and by nothing else), expiry, the oldest entry of a full set replaced,
 * a busy entry skipped by writers and readers alike, and pending entries
 * (the first handed to another worker's nat node or service node)
 * replaced by the translation; the datagram identity of IPv4 and IPv6
 * fragments, the translation of a later fragment by its entry (the IPv4
 * header checksum against one computed from scratch), and the drop reason
 * of a fragment whose checksum needs the whole datagram. Readers meet
 * writers at the points mg_natgw_frag.h's read hook names, made to happen
 * here: a lookup of an entry being written waits for it (bounded), and one
 * whose entry changed while it was read reads it again.
 */
#include <stdlib.h>

#include <rte_common.h>

/* Another worker's write, at a chosen point of mg_natgw_frag_get. */
struct mg_natgw_frag;
static void read_hook(const struct mg_natgw_frag *e, int point);
#define MG_NATGW_FRAG_READ_HOOK(e, point) read_hook((e), (point))

#include "mg_dp.h"
#include "mg_natgw.h"
#include "mg_natgw_frag.h"
#include "mg_test.h"

static const uint8_t SRC[16] = {10, 0, 1, 2}, DST[16] = {198, 51, 100, 7};
static const uint8_t NSRC[16] = {10, 0, 2, 1};

/* The entry a test watches, the reader's calls on it at each point, and the
 * write another worker makes there (on the @c at-th call at @c point). */
static struct {
	const struct mg_natgw_frag *e;
	unsigned int calls[2];
	int point;
	unsigned int at;
	void (*write)(void);
} hk;

static void
read_hook(const struct mg_natgw_frag *e, int point)
{
	if (e == hk.e && ++hk.calls[point] == hk.at && point == hk.point && hk.write != NULL)
		hk.write();
}

/* Watch entry @e: hk.write runs on the @at-th call at @point. */
static void
hook_on(const struct mg_natgw_frag *e, int point, unsigned int at, void (*write)(void))
{
	memset(&hk, 0, sizeof(hk));
	hk.e = e;
	hk.point = point;
	hk.at = at;
	hk.write = write;
}

static struct mg_natgw_frags *
table(void)
{
	struct mg_natgw_frags *t = calloc(1, sizeof(*t));

	if (t == NULL)
		exit(2);
	t->ttl = 1000;
	return t;
}

MG_TEST(put_then_get)
{
	struct mg_natgw_frags *t = table();
	struct mg_natgw_frag e;

	CHECK(mg_natgw_frag_put(t, 1, AF_INET, 17, 0x1111, SRC, DST, NSRC, DST, 2, -1, 100));
	CHECK(mg_natgw_frag_get(t, 1, AF_INET, 17, 0x1111, SRC, DST, 200, &e));
	CHECK(memcmp(e.nsrc, NSRC, 4) == 0 && memcmp(e.ndst, DST, 4) == 0);
	CHECK_EQ(e.tnet, 2);
	CHECK_EQ(e.pending, 0);
	/* Any other identity misses: id, network, protocol, family, addresses. */
	CHECK(!mg_natgw_frag_get(t, 1, AF_INET, 17, 0x1112, SRC, DST, 200, &e));
	CHECK(!mg_natgw_frag_get(t, 3, AF_INET, 17, 0x1111, SRC, DST, 200, &e));
	CHECK(!mg_natgw_frag_get(t, 1, AF_INET, 6, 0x1111, SRC, DST, 200, &e));
	CHECK(!mg_natgw_frag_get(t, 1, AF_INET6, 17, 0x1111, SRC, DST, 200, &e));
	CHECK(!mg_natgw_frag_get(t, 1, AF_INET, 17, 0x1111, DST, SRC, 200, &e));
	/* Expired after ttl. */
	CHECK(mg_natgw_frag_get(t, 1, AF_INET, 17, 0x1111, SRC, DST, 1099, &e));
	CHECK(!mg_natgw_frag_get(t, 1, AF_INET, 17, 0x1111, SRC, DST, 1100, &e));
	free(t);
}

MG_TEST(full_set_replaces_the_oldest)
{
	struct mg_natgw_frags *t = table();
	struct mg_natgw_frag e;
	uint32_t ids[MG_NATGW_FRAG_WAYS + 1], n = 0;
	uint32_t set = mg_natgw_frag_set(1, AF_INET, 17, 0, SRC, DST);

	/* Identities that fall in one set. */
	for (uint32_t id = 0; n < RTE_DIM(ids) && id < 1000000; id++)
		if (mg_natgw_frag_set(1, AF_INET, 17, id, SRC, DST) == set)
			ids[n++] = id;
	CHECK_EQ(n, RTE_DIM(ids));
	for (unsigned int i = 0; i < n; i++)
		CHECK(mg_natgw_frag_put(t, 1, AF_INET, 17, ids[i], SRC, DST, NSRC, DST, 2, -1,
					100 + i));
	CHECK(!mg_natgw_frag_get(t, 1, AF_INET, 17, ids[0], SRC, DST, 200, &e));
	for (unsigned int i = 1; i < n; i++)
		CHECK(mg_natgw_frag_get(t, 1, AF_INET, 17, ids[i], SRC, DST, 200, &e));
	/* Put again: the same entry is rewritten, not a second one made. */
	CHECK(mg_natgw_frag_put(t, 1, AF_INET, 17, ids[1], SRC, DST, SRC, DST, 5, -1, 300));
	CHECK(mg_natgw_frag_get(t, 1, AF_INET, 17, ids[1], SRC, DST, 301, &e) && e.tnet == 5);
	for (unsigned int i = 2; i < n; i++)
		CHECK(mg_natgw_frag_get(t, 1, AF_INET, 17, ids[i], SRC, DST, 200, &e));
	free(t);
}

MG_TEST(busy_entry_is_skipped)
{
	struct mg_natgw_frags *t = table();
	struct mg_natgw_frag e;
	uint32_t set = mg_natgw_frag_set(1, AF_INET6, 17, 7, SRC, DST);

	CHECK(mg_natgw_frag_put(t, 1, AF_INET6, 17, 7, SRC, DST, NSRC, DST, 2, -1, 100));
	for (unsigned int w = 0; w < MG_NATGW_FRAG_WAYS; w++)
		if (t->e[set][w].id == 7 && t->e[set][w].family == AF_INET6)
			t->e[set][w].seq |= 1; /* a writer in the middle of it */
	/* A writer that does not let go: the reader gives up after a bounded wait. */
	hook_on(&t->e[set][0], 0, 0, NULL);
	for (unsigned int w = 0; w < MG_NATGW_FRAG_WAYS; w++)
		if (t->e[set][w].id == 7 && t->e[set][w].family == AF_INET6)
			hk.e = &t->e[set][w];
	CHECK(!mg_natgw_frag_get(t, 1, AF_INET6, 17, 7, SRC, DST, 200, &e));
	CHECK_EQ(hk.calls[0], MG_NATGW_FRAG_READ_TRIES);
	CHECK_EQ(hk.calls[1], 0);
	hook_on(NULL, 0, 0, NULL);
	CHECK(!mg_natgw_frag_put(t, 1, AF_INET6, 17, 7, SRC, DST, NSRC, DST, 3, -1, 200));
	free(t);
}

static struct mg_natgw_frags *held_t;
static struct mg_natgw_frag *held_e;

/*
 * A table whose IPv4 datagram 21 (network 1, UDP, SRC -> DST) is pending
 * (its first fragment handed to worker 3), in held_t, its entry in held_e;
 * NULL (a failure) if the entry is not found.
 */
static struct mg_natgw_frags *
pending_table(void)
{
	struct mg_natgw_frags *t = table();
	struct mg_natgw_frag *set = t->e[mg_natgw_frag_set(1, AF_INET, 17, 21, SRC, DST)];

	CHECK(mg_natgw_frag_put(t, 1, AF_INET, 17, 21, SRC, DST, SRC, DST, 1, 3, 100));
	held_t = t;
	held_e = NULL;
	for (unsigned int w = 0; w < MG_NATGW_FRAG_WAYS; w++)
		if (set[w].family == AF_INET && set[w].id == 21)
			held_e = &set[w];
	if (held_e == NULL) {
		MG_FAIL("no entry for datagram 21");
		free(t);
		return NULL;
	}
	return t;
}

/*
 * Look datagram 21 up in @t (then freed): it must come back translated,
 * after @reads0 reads of its sequence and @reads1 re-reads.
 */
static void
lookup_finds_translation(struct mg_natgw_frags *t, unsigned int reads0, unsigned int reads1)
{
	struct mg_natgw_frag e;

	CHECK(mg_natgw_frag_get(t, 1, AF_INET, 17, 21, SRC, DST, 130, &e));
	CHECK(e.pending == MG_NATGW_FRAG_DONE && e.tnet == 2 && memcmp(e.nsrc, NSRC, 4) == 0);
	CHECK_EQ(hk.calls[0], reads0);
	CHECK_EQ(hk.calls[1], reads1);
	hook_on(NULL, 0, 0, NULL);
	free(t);
}

/* The owner worker, holding the pending entry, stores the translation and lets go. */
static void
finish_translation(void)
{
	held_e->pending = MG_NATGW_FRAG_DONE;
	held_e->owner = 0;
	held_e->tnet = 2;
	memcpy(held_e->nsrc, NSRC, 4);
	__atomic_store_n(&held_e->seq, held_e->seq + 1, __ATOMIC_RELEASE);
}

/* The owner worker translates the first fragment: a whole write. */
static void
put_translation(void)
{
	CHECK(mg_natgw_frag_put(held_t, 1, AF_INET, 17, 21, SRC, DST, NSRC, DST, 2, -1, 120));
}

/*
 * The race of the two-worker NAT fragment test: the worker holding later
 * fragments looks their datagram up while the first's owner replaces the
 * pending entry with the translation. Either way the lookup must find the
 * translation: a miss would send the later fragments on untranslated.
 */
MG_TEST(lookup_waits_for_a_writer_holding_the_entry)
{
	struct mg_natgw_frags *t = pending_table();

	if (t == NULL)
		return;
	held_e->seq |= 1; /* the owner took it (mg_natgw_frag_put's compare-and-swap) */
	hook_on(held_e, 0, 3, finish_translation); /* and lets go on the third try */
	lookup_finds_translation(t, 3, 1);
}

MG_TEST(lookup_reads_again_an_entry_written_meanwhile)
{
	struct mg_natgw_frags *t = pending_table();

	if (t == NULL)
		return;
	/* The whole write between the copy and the second read of the sequence:
	 * the copy is the pending entry, torn or not, and must not be used. */
	hook_on(held_e, 1, 1, put_translation);
	lookup_finds_translation(t, 2, 2);
}

MG_TEST(pending_then_translated)
{
	struct mg_natgw_frags *t = table();
	struct mg_natgw_frag e;

	CHECK(mg_natgw_frag_put(t, 1, AF_INET, 1, 9, SRC, DST, SRC, DST, 1, 3, 100));
	CHECK(mg_natgw_frag_get(t, 1, AF_INET, 1, 9, SRC, DST, 150, &e));
	CHECK(e.pending == 1 && e.owner == 3);
	/* The owner translates the first: the later fragments find the translation. */
	CHECK(mg_natgw_frag_put(t, 1, AF_INET, 1, 9, SRC, DST, NSRC, DST, 2, -1, 160));
	CHECK(mg_natgw_frag_get(t, 1, AF_INET, 1, 9, SRC, DST, 170, &e));
	CHECK(e.pending == 0 && e.tnet == 2 && memcmp(e.nsrc, NSRC, 4) == 0);
	free(t);
}

MG_TEST(pending_for_the_service_node)
{
	struct mg_natgw_frags *t = table();
	struct mg_natgw_frag e;

	CHECK(mg_natgw_frag_put_state(t, 1, AF_INET6, 17, 9, SRC, DST, SRC, DST, 1,
				      MG_NATGW_FRAG_TO_SVC, 2, 100));
	CHECK(mg_natgw_frag_get(t, 1, AF_INET6, 17, 9, SRC, DST, 150, &e));
	CHECK(e.pending == MG_NATGW_FRAG_TO_SVC && e.owner == 2);
	/* The nat node's kind stays distinct (its later fragments go to the nat node). */
	CHECK(mg_natgw_frag_put(t, 1, AF_INET6, 17, 10, SRC, DST, SRC, DST, 1, 2, 100));
	CHECK(mg_natgw_frag_get(t, 1, AF_INET6, 17, 10, SRC, DST, 150, &e));
	CHECK(e.pending == MG_NATGW_FRAG_TO_NAT && e.owner == 2);
	/* Translated by the owner: done, owner cleared. */
	CHECK(mg_natgw_frag_put_state(t, 1, AF_INET6, 17, 9, SRC, DST, SRC, NSRC, 4,
				      MG_NATGW_FRAG_DONE, 2, 160));
	CHECK(mg_natgw_frag_get(t, 1, AF_INET6, 17, 9, SRC, DST, 170, &e));
	CHECK(e.pending == MG_NATGW_FRAG_DONE && e.owner == 0 && e.tnet == 4);
	CHECK(memcmp(e.ndst, NSRC, 16) == 0);
	free(t);
}

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The IPv4 header checksum of @h (20 bytes) from scratch, its field taken as 0. */
static uint16_t
ip4_cksum(const uint8_t *h)
{
	uint32_t s = 0;

	for (unsigned int i = 0; i < 20; i += 2)
		s += i == 10 ? 0 : rd16(h + i);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* A later IPv4 fragment of @plen payload bytes, id @id. */
static uint32_t
later4(uint8_t *b, uint16_t id, uint32_t plen)
{
	memset(b, 0, 20 + plen);
	b[0] = 0x45;
	b[2] = (uint8_t)((20 + plen) >> 8);
	b[3] = (uint8_t)(20 + plen);
	b[4] = (uint8_t)(id >> 8);
	b[5] = (uint8_t)id;
	b[6] = 0x20; /* MF, offset 8 * 0x7d = 1000 */
	b[7] = 0x7d;
	b[8] = 64;
	b[9] = 17;
	memcpy(b + 12, SRC, 4);
	memcpy(b + 16, DST, 4);
	for (uint32_t i = 0; i < plen; i++)
		b[20 + i] = (uint8_t)(i * 7);
	b[10] = (uint8_t)(ip4_cksum(b) >> 8);
	b[11] = (uint8_t)ip4_cksum(b);
	return 20 + plen;
}

MG_TEST(fragment_identity)
{
	uint8_t b[128];
	uint32_t id = 0;

	later4(b, 0xbeef, 16);
	CHECK_EQ(mg_natgw_frag_id(b, 36, AF_INET, &id), 0);
	CHECK_EQ(id, 0xbeef);
	/* IPv6: hop-by-hop options (8 bytes), then the fragment header. */
	memset(b, 0, sizeof(b));
	b[0] = 0x60;
	b[6] = MG_IPPROTO_HOPOPTS;
	b[40] = MG_IPPROTO_FRAGMENT;
	b[41] = 0;
	b[48] = MG_IPPROTO_UDP;
	memcpy(b + 52, "\x01\x02\x03\x04", 4);
	CHECK_EQ(mg_natgw_frag_id(b, 56, AF_INET6, &id), 0);
	CHECK(memcmp(&id, "\x01\x02\x03\x04", 4) == 0);
	/* Cut inside the fragment header, or no fragment header: none. */
	CHECK_EQ(mg_natgw_frag_id(b, 55, AF_INET6, &id), -1);
	b[40] = MG_IPPROTO_UDP;
	CHECK_EQ(mg_natgw_frag_id(b, 56, AF_INET6, &id), -1);
	CHECK_EQ(mg_natgw_frag_id(b, 30, AF_INET6, &id), -1);
}

MG_TEST(later_fragment_takes_its_first_addresses)
{
	struct mg_natgw_frags *t = table();
	static const uint8_t NDST[16] = {10, 0, 2, 2};
	uint8_t b[128], before[128];
	struct mg_natgw_frag e;
	struct mg_nat_pkt p;
	uint32_t len = later4(b, 0x1234, 64);

	memcpy(before, b, len);
	/* As a nat service's first left: destination to the endpoint. */
	CHECK(mg_natgw_frag_put(t, 1, AF_INET, 17, 0x1234, SRC, DST, SRC, NDST, 1, -1, 100));
	CHECK(mg_natgw_frag_get(t, 1, AF_INET, 17, 0x1234, b + 12, b + 16, 150, &e));
	CHECK_EQ(mg_nat_pkt_init(&p, b, len), 0);
	CHECK_EQ(mg_natgw_frag_apply(&e, &p), 0);
	CHECK(memcmp(b + 12, SRC, 4) == 0 && memcmp(b + 16, NDST, 4) == 0);
	CHECK_EQ(rd16(b + 10), ip4_cksum(b));
	CHECK(memcmp(b + 20, before + 20, 64) == 0); /* the payload untouched */
	/* A first fragment (it has an L4 header) is not this function's: untouched. */
	memcpy(b, before, len);
	b[6] = 0x20;
	b[7] = 0;
	CHECK_EQ(mg_nat_pkt_init(&p, b, len), 0);
	CHECK_EQ(mg_natgw_frag_apply(&e, &p), -EINVAL);
	CHECK_EQ(memcmp(b + 12, before + 12, 8), 0);
	/* Nor a packet of the other family than the entry's. */
	e.family = AF_INET6;
	memcpy(b, before, len);
	CHECK_EQ(mg_nat_pkt_init(&p, b, len), 0);
	CHECK_EQ(mg_natgw_frag_apply(&e, &p), -EINVAL);
	free(t);
}

MG_TEST(drop_reasons)
{
	CHECK_EQ(mg_natgw_drop_reason(-ENOTSUP), MG_DROP_NAT_FRAG_CKSUM);
	CHECK_EQ(mg_natgw_drop_reason(-EINVAL), MG_DROP_NAT_UNTRANSLATABLE);
	CHECK(strcmp(mg_drop_name(MG_DROP_NAT_FRAG_CKSUM), "nat-fragment-checksum") == 0);
}

MG_TEST_MAIN()
