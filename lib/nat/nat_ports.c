/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SNAT port blocks: a public port range is cut into one contiguous block
 * per worker, and each worker hands out the ports of its own block with no
 * locks. Free ports wait in a FIFO, so a port freed now is the last to be
 * handed out again (the peer may still hold the old connection in
 * TIME_WAIT).
 */
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_random.h>

#include "mg_nat.h"

/** One worker's allocator. */
struct mg_nat_ports {
	/** First port of the block. */
	uint16_t first;
	/** Last port of the block. */
	uint16_t last;
	/** Ports in the block. */
	uint32_t n;
	/** Index of the next port to hand out in @c fifo. */
	uint32_t head;
	/** Free ports queued. */
	uint32_t nfree;
	/** Allocated bit per port of the block. */
	uint64_t *used;
	/** Where each free port of the block is in @c fifo (by port - first). */
	uint16_t *pos;
	/** Free ports, a circular queue of @c n entries. */
	uint16_t fifo[];
};

int
mg_nat_port_block(uint16_t first, uint16_t last, unsigned int nb_workers, unsigned int w,
		  uint16_t *bfirst, uint16_t *blast)
{
	uint32_t n, base, extra, start, size;

	if (first > last || nb_workers == 0 || w >= nb_workers)
		return -EINVAL;
	n = (uint32_t)last - first + 1;
	if (n < nb_workers)
		return -EINVAL;
	base = n / nb_workers;
	extra = n % nb_workers;
	/* The first @extra workers get one port more. */
	start = w * base + RTE_MIN(w, extra);
	size = base + (w < extra);
	*bfirst = (uint16_t)(first + start);
	*blast = (uint16_t)(first + start + size - 1);
	return 0;
}

int
mg_nat_port_owner(uint16_t first, uint16_t last, unsigned int nb_workers, uint16_t port)
{
	uint32_t n, base, extra, i;

	if (port < first || port > last || nb_workers == 0)
		return -1;
	n = (uint32_t)last - first + 1;
	if (n < nb_workers)
		return -1;
	base = n / nb_workers;
	extra = n % nb_workers;
	i = (uint32_t)port - first;
	if (i < extra * (base + 1))
		return (int)(i / (base + 1));
	return (int)(extra + (i - extra * (base + 1)) / base);
}

struct mg_nat_ports *
mg_nat_ports_create(uint16_t first, uint16_t last, unsigned int nb_workers, unsigned int w,
		    int socket)
{
	struct mg_nat_ports *p;
	uint16_t bf, bl;
	uint32_t n;

	if (mg_nat_port_block(first, last, nb_workers, w, &bf, &bl) < 0) {
		rte_errno = EINVAL;
		return NULL;
	}
	n = (uint32_t)bl - bf + 1;
	p = rte_zmalloc_socket("mg_nat_ports", sizeof(*p) + n * sizeof(uint16_t),
			       RTE_CACHE_LINE_SIZE, socket);
	if (p == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	p->used = rte_zmalloc_socket("mg_nat_ports_used", ((n + 63) / 64) * sizeof(uint64_t),
				     RTE_CACHE_LINE_SIZE, socket);
	p->pos = rte_zmalloc_socket("mg_nat_ports_pos", n * sizeof(uint16_t), RTE_CACHE_LINE_SIZE,
				    socket);
	if (p->used == NULL || p->pos == NULL) {
		rte_free(p->used);
		rte_free(p->pos);
		rte_free(p);
		rte_errno = ENOMEM;
		return NULL;
	}
	p->first = bf;
	p->last = bl;
	p->n = n;
	p->nfree = n;
	for (uint32_t i = 0; i < n; i++)
		p->fifo[i] = (uint16_t)(bf + i);
	/* Fisher-Yates: the first ports handed out are not predictable. */
	for (uint32_t i = n - 1; i > 0; i--) {
		uint32_t j = (uint32_t)rte_rand_max(i + 1);
		uint16_t t = p->fifo[i];

		p->fifo[i] = p->fifo[j];
		p->fifo[j] = t;
	}
	for (uint32_t i = 0; i < n; i++)
		p->pos[p->fifo[i] - bf] = (uint16_t)i;
	return p;
}

void
mg_nat_ports_destroy(struct mg_nat_ports *p)
{
	if (p == NULL)
		return;
	rte_free(p->used);
	rte_free(p->pos);
	rte_free(p);
}

int
mg_nat_ports_alloc(struct mg_nat_ports *p, uint16_t *port)
{
	uint16_t v;
	uint32_t i;

	if (unlikely(p->nfree == 0))
		return -ENOSPC;
	v = p->fifo[p->head];
	p->head = p->head + 1 == p->n ? 0 : p->head + 1;
	p->nfree--;
	i = (uint32_t)v - p->first;
	p->used[i / 64] |= 1ull << (i % 64);
	*port = v;
	return 0;
}

int
mg_nat_ports_free(struct mg_nat_ports *p, uint16_t port)
{
	uint32_t i, tail;

	if (port < p->first || port > p->last)
		return -EINVAL;
	i = (uint32_t)port - p->first;
	if (!(p->used[i / 64] & (1ull << (i % 64))))
		return -EINVAL;
	p->used[i / 64] &= ~(1ull << (i % 64));
	tail = p->head + p->nfree;
	if (tail >= p->n)
		tail -= p->n;
	p->fifo[tail] = port;
	p->pos[i] = (uint16_t)tail;
	p->nfree++;
	return 0;
}

int
mg_nat_ports_take(struct mg_nat_ports *p, uint16_t port)
{
	uint32_t i, j, h;
	uint16_t other;

	if (port < p->first || port > p->last)
		return -EINVAL;
	i = (uint32_t)port - p->first;
	if (p->used[i / 64] & (1ull << (i % 64)))
		return -EBUSY;
	/* A free port is in the queue's live part: swap it to the head, take the head. */
	j = p->pos[i];
	h = p->head;
	other = p->fifo[h];
	p->fifo[h] = port;
	p->fifo[j] = other;
	p->pos[other - p->first] = (uint16_t)j;
	p->pos[i] = (uint16_t)h;
	return mg_nat_ports_alloc(p, &other);
}

uint32_t
mg_nat_ports_available(const struct mg_nat_ports *p)
{
	return p->nfree;
}

void
mg_nat_ports_range(const struct mg_nat_ports *p, uint16_t *first, uint16_t *last)
{
	*first = p->first;
	*last = p->last;
}
