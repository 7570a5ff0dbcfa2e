/* SPDX-License-Identifier: BSD-3-Clause */
/* Guarded packet buffers (fuzz_buf.h). */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "fuzz.h"
#include "fuzz_buf.h"

struct slot {
	uint8_t *page;          /* one page, followed by an inaccessible one */
	bool used;
	struct rte_mbuf_ext_shared_info shinfo;
};

static struct slot slots[FZ_BUF_SLOTS];
static unsigned int slots_used;
static size_t page_size;
static struct rte_mempool *pool;

/* The mbuf let go of its external buffer: the slot can take another packet. */
static void
slot_release(void *addr, void *opaque)
{
	struct slot *s = opaque;

	(void)addr;
	FZ_ASSERT(s->used, "a packet buffer was released twice");
	s->used = false;
	slots_used--;
}

void
fz_buf_init(void)
{
	uint8_t *area;

	page_size = (size_t)sysconf(_SC_PAGESIZE);
	FZ_SETUP(RTE_PKTMBUF_HEADROOM + FZ_BUF_MAX + 1 <= page_size, "page too small");
	area = mmap(NULL, 2 * page_size * FZ_BUF_SLOTS, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	FZ_SETUP(area != MAP_FAILED, "mmap of the packet buffers failed");
	for (unsigned int i = 0; i < FZ_BUF_SLOTS; i++) {
		slots[i].page = area + 2 * page_size * i;
		FZ_SETUP(mprotect(slots[i].page + page_size, page_size, PROT_NONE) == 0,
			 "mprotect failed");
	}
	/* No per-lcore cache: the in-use count is exact at every moment. */
	pool = rte_pktmbuf_pool_create("fz_buf", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       (int)rte_socket_id());
	FZ_SETUP(pool != NULL, "mbuf pool");
}

struct rte_mbuf *
fz_buf_pkt(const uint8_t *p, uint32_t len, uint32_t tail)
{
	struct slot *s = NULL;
	struct rte_mbuf *m;
	uint16_t buf_len;
	uint8_t *buf;

	FZ_SETUP(len + tail <= FZ_BUF_MAX, "packet of %u bytes too long", len);
	for (unsigned int i = 0; i < FZ_BUF_SLOTS && s == NULL; i++)
		if (!slots[i].used)
			s = &slots[i];
	FZ_SETUP(s != NULL, "out of packet buffers");
	m = rte_pktmbuf_alloc(pool);
	FZ_SETUP(m != NULL, "mbuf pool empty");
	buf_len = (uint16_t)(RTE_PKTMBUF_HEADROOM + len + (len & 1) + tail);
	buf = s->page + page_size - buf_len;
	s->used = true;
	slots_used++;
	s->shinfo.free_cb = slot_release;
	s->shinfo.fcb_opaque = s;
	rte_mbuf_ext_refcnt_set(&s->shinfo, 1);
	rte_pktmbuf_attach_extbuf(m, buf, 0, buf_len, &s->shinfo);
	m->data_off = RTE_PKTMBUF_HEADROOM;
	memcpy(buf + RTE_PKTMBUF_HEADROOM, p, len);
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	return m;
}

struct rte_mempool *
fz_buf_pool(void)
{
	return pool;
}

unsigned int
fz_buf_in_use(void)
{
	return slots_used;
}
