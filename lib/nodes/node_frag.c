/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ip4-frag: fragments an IPv4 packet larger than the egress MTU whose DF
 * bit is clear (RFC 791 3.2), copying each piece into a fresh mbuf so every
 * PMD can send it, then applies the adjacency's L2 header. Options are
 * copied only into the first fragment, as their copy flags allow us to drop
 * the rest.
 */
#include <rte_mempool.h>

#include "nodes_priv.h"

/* Header length of a non-first fragment: the options with the copy flag. */
static uint32_t
copied_options(const uint8_t *opt, uint32_t len, uint8_t *out)
{
	uint32_t i = 0, o = 0;

	while (i < len) {
		uint8_t t = opt[i], l;

		if (t == 0) /* end of list */
			break;
		if (t == 1) { /* no-op */
			i++;
			continue;
		}
		if (i + 1 >= len || (l = opt[i + 1]) < 2 || i + l > len)
			break;
		if (t & 0x80) {
			memcpy(out + o, opt + i, l);
			o += l;
		}
		i += l;
	}
	while (o % 4)
		out[o++] = 0;
	return o;
}

static uint16_t
ip4_frag_process(struct rte_graph *graph, struct rte_node *node, void **objs, uint16_t nb)
{
	struct mg_node_ctx *c = mg_ctx(node);
	const struct mg_dp *dp = c->dp;

	for (uint16_t i = 0; i < nb; i++) {
		struct rte_mbuf *m = objs[i];
		const struct mg_rewrite *rw = mg_adj_rewrite(&dp->adj[mg_meta(m)->adj]);
		const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
		uint32_t hlen = (ip->version_ihl & 0xf) * 4u;
		uint32_t tot = rte_be_to_cpu_16(ip->total_length), off = hlen;
		uint16_t fo = rte_be_to_cpu_16(ip->fragment_offset);
		uint32_t base_off = (fo & 0x1fff) * 8u;
		int orig_mf = (fo & 0x2000) != 0, ok = 1;
		uint8_t later_opts[40];
		uint32_t later_hlen = 20 + copied_options((const uint8_t *)ip + 20, hlen - 20,
							  later_opts);

		while (off < tot) {
			uint32_t h = off == hlen ? hlen : later_hlen;
			uint32_t room = (rw->mtu - h) & ~7u, chunk = RTE_MIN(room, tot - off);
			struct rte_mbuf *f;
			struct rte_ipv4_hdr *fh;
			uint8_t *eth;
			int last = off + chunk >= tot;

			if (room == 0 || (f = rte_pktmbuf_alloc(m->pool)) == NULL) {
				ok = 0;
				break;
			}
			eth = (uint8_t *)rte_pktmbuf_append(f, (uint16_t)(rw->hdr_len + h + chunk));
			if (eth == NULL) {
				rte_pktmbuf_free(f);
				ok = 0;
				break;
			}
			memcpy(eth, rw->hdr, rw->hdr_len);
			fh = (struct rte_ipv4_hdr *)(eth + rw->hdr_len);
			memcpy(fh, ip, 20);
			if (h == hlen)
				memcpy(fh + 1, (const uint8_t *)ip + 20, hlen - 20);
			else
				memcpy(fh + 1, later_opts, h - 20);
			memcpy((uint8_t *)fh + h, (const uint8_t *)ip + off, chunk);
			fh->version_ihl = (uint8_t)(0x40 | (h / 4));
			fh->total_length = rte_cpu_to_be_16((uint16_t)(h + chunk));
			fh->fragment_offset = rte_cpu_to_be_16(
				(uint16_t)(((base_off + off - hlen) / 8) |
					   ((!last || orig_mf) ? 0x2000 : 0)));
			fh->hdr_checksum = 0;
			fh->hdr_checksum = mg_inet_cksum(fh, h);
			f->port = rw->port;
			*mg_meta(f) = *mg_meta(m);
			mg_meta(f)->flags &= (uint8_t)~MG_META_L3;
			c->w->ifc[rw->ifindex].tx_pkts++;
			c->w->ifc[rw->ifindex].tx_bytes += f->pkt_len;
			rte_node_enqueue_x1(graph, node, FRAG_NEXT_TX, f);
			off += chunk;
		}
		if (ok) {
			c->w->stats->ip4_fragmented++;
			rte_pktmbuf_free(m);
		} else {
			mg_set_drop(m, MG_DROP_IP4_FRAG_FAIL);
			rte_node_enqueue_x1(graph, node, FRAG_NEXT_DROP, m);
		}
	}
	return nb;
}

static struct rte_node_register ip4_frag_node = {
	.name = "ip4-frag",
	.process = ip4_frag_process,
	.init = mg_node_init,
	.nb_edges = 2,
	.next_nodes = {
		[FRAG_NEXT_TX] = "port-tx",
		[FRAG_NEXT_DROP] = "drop",
	},
};
RTE_NODE_REGISTER(ip4_frag_node);
