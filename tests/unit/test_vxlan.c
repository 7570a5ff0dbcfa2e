/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The table vxlan-input finds a tunnel in: for random tunnel sets (VNIs and
 * VTEPs shared across tunnels, both outer families, up to MG_MAX_IFACES
 * tunnels), every tunnel is found by its own key and a key differing in any
 * one field finds what a linear scan of the set finds (usually nothing).
 */
#include <stdlib.h>
#include <string.h>

#include <rte_malloc.h>

#include "mg_test.h"
#include "mg_test_eal.h"
#include "mg_vxlan.h"

static uint64_t rng = 88172645463325252ull;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

/* The reference: a scan of the whole set. */
static const struct mg_vxlan_tun *
scan(struct mg_vxlan_tun *const *t, uint32_t n, const struct mg_vxlan_tun *k, size_t alen)
{
	for (uint32_t i = 0; i < n; i++)
		if (t[i]->vni_be == k->vni_be && t[i]->port_be == k->port_be &&
		    t[i]->underlay == k->underlay && t[i]->family == k->family &&
		    !memcmp(t[i]->remote, k->remote, alen) && !memcmp(t[i]->local, k->local, alen))
			return t[i];
	return NULL;
}

static const struct mg_vxlan_tun *
find(const struct mg_vxlan_list *l, const struct mg_vxlan_tun *k)
{
	size_t alen = k->family == AF_INET ? 4 : 16;

	return mg_vxlan_lookup(l, k->underlay, k->family, k->port_be, k->vni_be, k->remote,
			       k->local, alen);
}

static void
random_tunnel(struct mg_vxlan_tun *t, uint16_t ifindex)
{
	memset(t, 0, sizeof(*t));
	t->ifindex = ifindex;
	t->underlay = (uint16_t)rnd(3);
	t->family = rnd(2) ? AF_INET : AF_INET6;
	t->port_be = rte_cpu_to_be_16(rnd(4) ? MG_VXLAN_PORT : 4790);
	t->vni = rnd(64);                       /* shared VNIs */
	t->vni_be = rte_cpu_to_be_32(t->vni << 8);
	t->local[0] = 10;
	t->local[3] = (uint8_t)rnd(2);
	t->remote[0] = 10;
	t->remote[2] = (uint8_t)rnd(256);       /* shared remotes too */
	t->remote[3] = (uint8_t)rnd(256);
	if (t->family == AF_INET6) {
		t->local[15] = t->local[3];
		t->remote[14] = t->remote[2];
		t->remote[15] = t->remote[3];
	}
}

static void
check_set(uint32_t n)
{
	struct mg_vxlan_tun *all = calloc(n, sizeof(*all));
	struct mg_vxlan_tun **t = calloc(n, sizeof(*t));
	uint32_t kept = 0, found = 0, misses = 0;
	struct mg_vxlan_list *l;

	CHECK(all != NULL && t != NULL);
	if (all == NULL || t == NULL)
		goto out;
	/* Two tunnels cannot share every field (the model refuses it): keep the first. */
	for (uint32_t i = 0; i < n; i++) {
		random_tunnel(&all[i], (uint16_t)i);
		if (scan(t, kept, &all[i], all[i].family == AF_INET ? 4 : 16) == NULL)
			t[kept++] = &all[i];
	}
	l = mg_vxlan_list_build((const struct mg_vxlan_tun *const *)t, kept);
	CHECK(l != NULL);
	if (l == NULL)
		goto out;
	CHECK_EQ(l->n, kept);
	CHECK(l->mask + 1 >= 2 * kept);
	for (uint32_t i = 0; i < kept; i++) {
		struct mg_vxlan_tun k = *t[i];
		size_t alen = k.family == AF_INET ? 4 : 16;

		found += find(l, &k) == t[i];
		/* One field changed: what the scan finds (usually nothing). */
		switch (rnd(6)) {
		case 0: k.vni_be ^= rte_cpu_to_be_32(1u << 8); break;
		case 1: k.port_be ^= rte_cpu_to_be_16(1); break;
		case 2: k.underlay ^= 1; break;
		case 3: k.remote[alen - 1] ^= 1; break;
		case 4: k.local[alen - 1] ^= 2; break;
		default: k.family = k.family == AF_INET ? AF_INET6 : AF_INET; break;
		}
		alen = k.family == AF_INET ? 4 : 16;
		if (find(l, &k) != scan(t, kept, &k, alen))
			misses++;
	}
	CHECK_EQ(found, kept);
	CHECK_EQ(misses, 0);
	rte_free(l);
out:
	free(all);
	free(t);
}

MG_TEST(empty_table_finds_nothing)
{
	struct mg_vxlan_list *l = mg_vxlan_list_build(NULL, 0);
	struct mg_vxlan_tun k;

	CHECK(l != NULL);
	if (l == NULL)
		return;
	random_tunnel(&k, 1);
	CHECK(find(l, &k) == NULL);
	rte_free(l);
}

MG_TEST(lookup_matches_a_scan)
{
	static const uint32_t sizes[] = {1, 2, 7, 16, 100, 1000, MG_MAX_IFACES};

	for (unsigned int i = 0; i < RTE_DIM(sizes); i++)
		check_set(sizes[i]);
}

static void
setup(void)
{
	mg_test_eal_init("test_vxlan", "0", 128);
}

int
main(int argc, char **argv)
{
	mg_test_setup = setup;
	return mg_test_main(argc, argv);
}
