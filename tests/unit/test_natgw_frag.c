/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fragment table of lib/natgw (mg_natgw_frag.h) against what it
 * promises: a first fragment's translation found by its later fragments
 * (and by nothing else), expiry, the oldest entry of a full set replaced,
 * a busy entry skipped by writers and readers alike, and pending entries
 * (the first handed to another worker) replaced by the translation.
 */
#include <stdlib.h>

#include <rte_common.h>

#include "mg_natgw_frag.h"
#include "mg_test.h"

static const uint8_t SRC[16] = {10, 0, 1, 2}, DST[16] = {198, 51, 100, 7};
static const uint8_t NSRC[16] = {10, 0, 2, 1};

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
	CHECK(!mg_natgw_frag_get(t, 1, AF_INET6, 17, 7, SRC, DST, 200, &e));
	CHECK(!mg_natgw_frag_put(t, 1, AF_INET6, 17, 7, SRC, DST, NSRC, DST, 3, -1, 200));
	free(t);
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

MG_TEST_MAIN()
