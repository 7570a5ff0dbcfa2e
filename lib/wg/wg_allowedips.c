/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Allowed IPs: longest-prefix match from an address to a peer, for
 * cryptokey routing (outbound: which peer; inbound: is this source allowed
 * for the peer it came from).
 *
 * A table is a multibit trie with 8-bit strides, built once from a sorted
 * prefix list and never changed: lookups are at most 4 (IPv4) or 16 (IPv6)
 * dependent loads with no branch on prefix lengths, and readers need no
 * synchronisation beyond the RCU that protects the table pointer. Prefixes
 * are inserted shortest first with controlled prefix expansion; a node
 * created under a covering prefix starts filled with that prefix's value,
 * so the deepest entry reached is always the answer.
 *
 * Each node is 256 32-bit entries (1 KB). An entry is 0 (no match), a value
 * index (1-based, into values[]) or WG_AIP_CHILD | node index.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wg_priv.h"

#define WG_AIP_CHILD 0x80000000u
#define WG_AIP_FANOUT 256

/** One prefix given to the builder. */
struct aip_item {
	struct mg_prefix p;         /**< Masked prefix. */
	struct mg_wg_peer *peer;    /**< Its peer. */
	uint32_t seq;               /**< Order of addition: the last one of a prefix wins. */
};

/** Prefixes collected on the main lcore. */
struct mg_wg_aip_builder {
	struct aip_item *items;     /**< Prefixes in order of addition. */
	uint32_t n;                 /**< Used. */
	uint32_t cap;               /**< Allocated. */
};

/** An immutable table. */
struct mg_wg_aip {
	uint32_t *nodes;            /**< nnodes * 256 entries; node 0 is the IPv4 root, 1 the IPv6 root. */
	uint32_t nnodes;            /**< Nodes in use. */
	uint32_t cap;               /**< Nodes allocated (while building). */
	struct mg_wg_peer **values; /**< Value index -> peer; values[0] is NULL. */
	struct aip_item *items;     /**< The prefixes, deduplicated, for walks. */
	uint32_t nitems;            /**< Number of items (and values - 1). */
};

struct mg_wg_aip_builder *
mg_wg_aip_builder_create(void)
{
	return calloc(1, sizeof(struct mg_wg_aip_builder));
}

void
mg_wg_aip_builder_destroy(struct mg_wg_aip_builder *b)
{
	if (b == NULL)
		return;
	free(b->items);
	free(b);
}

int
mg_wg_aip_builder_add(struct mg_wg_aip_builder *b, const struct mg_prefix *prefix,
		      struct mg_wg_peer *peer, struct mg_error *err)
{
	struct mg_prefix p = *prefix;

	if ((p.addr.family != AF_INET && p.addr.family != AF_INET6) ||
	    p.len > mg_ip_maxlen(&p.addr))
		return mg_error_set(err, EINVAL, "allowed_ips", "not an IPv4 or IPv6 prefix");
	if (b->n == b->cap) {
		uint32_t cap = b->cap ? b->cap * 2 : 16;
		struct aip_item *it = realloc(b->items, cap * sizeof(*it));

		if (it == NULL)
			return mg_error_set(err, ENOMEM, "allowed_ips", "out of memory");
		b->items = it;
		b->cap = cap;
	}
	mg_prefix_mask(&p);
	b->items[b->n] = (struct aip_item){.p = p, .peer = peer, .seq = b->n};
	b->n++;
	return 0;
}

/* Order: family, length (shortest first), address, then order of addition. */
static int
item_cmp(const void *x, const void *y)
{
	const struct aip_item *a = x, *b = y;
	int c;

	if (a->p.addr.family != b->p.addr.family)
		return a->p.addr.family < b->p.addr.family ? -1 : 1;
	if (a->p.len != b->p.len)
		return a->p.len < b->p.len ? -1 : 1;
	c = memcmp(a->p.addr.bytes, b->p.addr.bytes, a->p.addr.family == AF_INET ? 4 : 16);
	if (c != 0)
		return c;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* A new node filled with @p fill; its index, or UINT32_MAX when out of memory. */
static uint32_t
node_new(struct mg_wg_aip *t, uint32_t fill)
{
	if (t->nnodes == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 8;
		uint32_t *n;

		if (cap >= WG_AIP_CHILD / WG_AIP_FANOUT)
			return UINT32_MAX;
		n = realloc(t->nodes, (size_t)cap * WG_AIP_FANOUT * sizeof(*n));
		if (n == NULL)
			return UINT32_MAX;
		t->nodes = n;
		t->cap = cap;
	}
	for (int i = 0; i < WG_AIP_FANOUT; i++)
		t->nodes[(size_t)t->nnodes * WG_AIP_FANOUT + i] = fill;
	return t->nnodes++;
}

/* Insert one prefix with value @p v; all shorter prefixes are already in. */
static int
insert(struct mg_wg_aip *t, const struct mg_prefix *p, uint32_t v)
{
	uint32_t node = p->addr.family == AF_INET ? 0 : 1;
	unsigned int level = p->len == 0 ? 0 : (p->len - 1) / 8;
	const uint8_t *a = p->addr.bytes;

	/* Walk (and make) the nodes down to the prefix's level. */
	for (unsigned int d = 0; d < level; d++) {
		size_t at = (size_t)node * WG_AIP_FANOUT + a[d];
		uint32_t e = t->nodes[at];

		if (!(e & WG_AIP_CHILD)) {
			uint32_t child = node_new(t, e);

			if (child == UINT32_MAX)
				return -ENOMEM;
			t->nodes[at] = WG_AIP_CHILD | child;
			e = WG_AIP_CHILD | child;
		}
		node = e & ~WG_AIP_CHILD;
	}
	/* Expand: the prefix covers 2^(8(level+1) - len) consecutive entries. */
	unsigned int span = 1u << (8 * (level + 1) - p->len);
	unsigned int first = a[level] & ~(span - 1) & 0xff;

	for (unsigned int i = first; i < first + span; i++)
		t->nodes[(size_t)node * WG_AIP_FANOUT + i] = v;
	return 0;
}

struct mg_wg_aip *
mg_wg_aip_build(const struct mg_wg_aip_builder *b, struct mg_error *err)
{
	struct mg_wg_aip *t = calloc(1, sizeof(*t));
	struct aip_item *sorted = NULL;
	uint32_t n = 0;

	if (t == NULL)
		goto nomem;
	if (b->n > 0) {
		sorted = malloc(b->n * sizeof(*sorted));
		if (sorted == NULL)
			goto nomem;
		memcpy(sorted, b->items, b->n * sizeof(*sorted));
		qsort(sorted, b->n, sizeof(*sorted), item_cmp);
		/* Keep the last addition of each prefix. */
		for (uint32_t i = 0; i < b->n; i++) {
			if (n > 0 && sorted[n - 1].p.len == sorted[i].p.len &&
			    mg_prefix_equal(&sorted[n - 1].p, &sorted[i].p))
				sorted[n - 1] = sorted[i];
			else
				sorted[n++] = sorted[i];
		}
	}
	t->items = sorted;
	t->nitems = n;
	t->values = calloc(n + 1, sizeof(*t->values));
	if (t->values == NULL || node_new(t, 0) != 0 || node_new(t, 0) != 1)
		goto nomem;
	for (uint32_t i = 0; i < n; i++) {
		t->values[i + 1] = sorted[i].peer;
		if (insert(t, &sorted[i].p, i + 1) < 0)
			goto nomem;
	}
	return t;
nomem:
	mg_wg_aip_free(t);
	mg_error_set(err, ENOMEM, "allowed_ips", "out of memory");
	return NULL;
}

void
mg_wg_aip_free(struct mg_wg_aip *t)
{
	if (t == NULL)
		return;
	free(t->nodes);
	free(t->values);
	free(t->items);
	free(t);
}

/* Walk @p depth levels of the trie from @p root along the bytes of @p a. */
static inline struct mg_wg_peer *
lookup(const struct mg_wg_aip *t, uint32_t root, const uint8_t *a, unsigned int depth)
{
	uint32_t e = WG_AIP_CHILD | root;

	for (unsigned int d = 0; d < depth && (e & WG_AIP_CHILD); d++)
		e = t->nodes[(size_t)(e & ~WG_AIP_CHILD) * WG_AIP_FANOUT + a[d]];
	return t->values[e & WG_AIP_CHILD ? 0 : e];
}

struct mg_wg_peer *
mg_wg_aip_lookup4(const struct mg_wg_aip *t, uint32_t addr_be)
{
	uint8_t a[4];

	memcpy(a, &addr_be, 4);
	return lookup(t, 0, a, 4);
}

struct mg_wg_peer *
mg_wg_aip_lookup6(const struct mg_wg_aip *t, const uint8_t addr[16])
{
	return lookup(t, 1, addr, 16);
}

struct mg_wg_peer *
mg_wg_aip_lookup(const struct mg_wg_aip *t, const struct mg_ip *ip)
{
	return ip->family == AF_INET ? mg_wg_aip_lookup4(t, ip->v4) : mg_wg_aip_lookup6(t, ip->v6);
}

void
mg_wg_aip_walk(const struct mg_wg_aip *t,
	       void (*cb)(void *arg, const struct mg_prefix *p, struct mg_wg_peer *peer),
	       void *arg)
{
	for (uint32_t i = 0; i < t->nitems; i++)
		cb(arg, &t->items[i].p, t->items[i].peer);
}
