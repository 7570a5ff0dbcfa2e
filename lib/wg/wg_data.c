/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Transport data on the workers: encryption and decryption of bursts of
 * mbufs in place, with ChaCha20-Poly1305 from Intel's multi-buffer library
 * (libIPSec_MB) called directly through its job API, one manager per lcore.
 * That is what DPDK's crypto_ipsec_mb PMD runs underneath, without the
 * cryptodev session, op and queue-pair layers; tools/bench.d/wg_crypto.c
 * measures it against OpenSSL EVP, libsodium and the PMD itself.
 *
 * Nothing here allocates, locks or makes a system call. Keypairs are found
 * through the receiver-index table with one acquire load; the send counter
 * is one atomic fetch-add per burst; the replay window is lock-free
 * (wg_replay.h). Per-peer activity is reported with relaxed atomics once per
 * run of packets of the same peer.
 */
#include <errno.h>
#include <string.h>

#include <intel-ipsec-mb.h>
#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "mg_imb.h"
#include "wg_crypto.h"
#include "wg_priv.h"

/* Jobs in flight per round: the manager's queue is deeper than this. */
#define WG_CHUNK 32

/** Per-lcore data path state. */
struct mg_wg_worker {
	IMB_MGR *mgr;                               /**< Multi-buffer manager of this lcore. */
	alignas(16) uint8_t iv[WG_CHUNK][16];       /**< Nonces of the jobs in flight. */
	alignas(16) uint8_t tag[WG_CHUNK][16];      /**< Tags computed on decryption. */
	uint32_t clen[WG_CHUNK];                    /**< Ciphertext length per job. */
	struct mg_wg_keypair *kp[WG_CHUNK];         /**< Keypair per job (decryption). */
	uint64_t ctr[WG_CHUNK];                     /**< Counter per job (decryption). */
	uint8_t st[MG_WG_BURST_MAX];                /**< Status per packet, in input order. */
	struct mg_wg_peer *peer[MG_WG_BURST_MAX];   /**< Peer per packet, in input order. */
	struct rte_mbuf *tmp[MG_WG_BURST_MAX];      /**< Reordering space. */
};

struct mg_wg_worker *
mg_wg_worker_create(int socket_id)
{
	struct mg_wg_worker *w = rte_zmalloc_socket("mg_wg_worker", sizeof(*w), 64, socket_id);

	if (w == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	w->mgr = mg_imb_mgr_create(socket_id); /* rte_errno set on failure */
	if (w->mgr == NULL) {
		rte_free(w);
		return NULL;
	}
	return w;
}

void
mg_wg_worker_destroy(struct mg_wg_worker *w)
{
	if (w == NULL)
		return;
	mg_imb_mgr_free(w->mgr);
	rte_free(w);
}

int
mg_wg_msg_type(const void *payload, uint32_t len)
{
	const uint8_t *p = payload;

	if (len < 4 || p[1] != 0 || p[2] != 0 || p[3] != 0)
		return 0;
	switch (p[0]) {
	case WG_MSG_INITIATION:
		return len == sizeof(struct wg_msg_initiation) ? WG_MSG_INITIATION : 0;
	case WG_MSG_RESPONSE:
		return len == sizeof(struct wg_msg_response) ? WG_MSG_RESPONSE : 0;
	case WG_MSG_COOKIE:
		return len == sizeof(struct wg_msg_cookie) ? WG_MSG_COOKIE : 0;
	case WG_MSG_DATA:
		return len >= WG_DATA_MIN_LEN ? WG_MSG_DATA : 0;
	default:
		return 0;
	}
}

/* True if @p kp may still send at @p now. */
static inline bool
keypair_can_send(const struct mg_wg_keypair *kp, uint64_t now)
{
	return atomic_load_explicit(&kp->confirmed, memory_order_relaxed) &&
	       !atomic_load_explicit(&kp->dead, memory_order_relaxed) &&
	       !atomic_load_explicit(&kp->send_revoked, memory_order_relaxed) &&
	       !wg_expired(kp->birth_ns, WG_T_REJECT_AFTER, now) &&
	       atomic_load_explicit(&kp->send_counter, memory_order_relaxed) <
		       WG_REJECT_AFTER_MESSAGES;
}

struct mg_wg_keypair *
mg_wg_peer_tx_keypair(struct mg_wg_peer *peer, uint64_t now_ns)
{
	struct mg_wg_keypair *next = atomic_load_explicit(&peer->kp_next, memory_order_acquire);
	struct mg_wg_keypair *cur;

	/* A responder session confirmed by a worker before the main lcore rotated it. */
	if (next != NULL && keypair_can_send(next, now_ns))
		return next;
	cur = atomic_load_explicit(&peer->kp_current, memory_order_acquire);
	if (cur != NULL && keypair_can_send(cur, now_ns))
		return cur;
	return NULL;
}

void
mg_wg_peer_want_handshake(struct mg_wg_peer *peer)
{
	if (!(atomic_load_explicit(&peer->flags, memory_order_relaxed) & WG_PF_WANT_HANDSHAKE))
		atomic_fetch_or_explicit(&peer->flags, WG_PF_WANT_HANDSHAKE, memory_order_relaxed);
}

struct mg_wg_peer *
mg_wg_keypair_peer(const struct mg_wg_keypair *kp)
{
	return kp->entry.peer;
}

/* The AEAD nonce: four zero bytes and the counter little-endian. */
static inline void
set_nonce(uint8_t iv[16], uint64_t counter)
{
	uint64_t le = rte_cpu_to_le_64(counter);

	memset(iv, 0, 4);
	memcpy(iv + 4, &le, 8);
}

/* Fill a ChaCha20-Poly1305 job over @p len bytes at @p buf, in place. */
static inline void
fill_job(IMB_JOB *j, bool enc, const uint8_t *key, uint8_t *buf, uint32_t len,
	 const uint8_t *iv, uint8_t *tag, uintptr_t id)
{
	j->cipher_mode = IMB_CIPHER_CHACHA20_POLY1305;
	j->hash_alg = IMB_AUTH_CHACHA20_POLY1305;
	j->cipher_direction = enc ? IMB_DIR_ENCRYPT : IMB_DIR_DECRYPT;
	j->chain_order = enc ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
	j->enc_keys = key;
	j->dec_keys = key;
	j->key_len_in_bytes = WG_KEY_LEN;
	j->src = buf;
	j->dst = buf;
	j->cipher_start_src_offset_in_bytes = 0;
	j->msg_len_to_cipher_in_bytes = len;
	j->hash_start_src_offset_in_bytes = 0;
	j->msg_len_to_hash_in_bytes = len;
	j->iv = iv;
	j->iv_len_in_bytes = 12;
	j->u.CHACHA20_POLY1305.aad = NULL;
	j->u.CHACHA20_POLY1305.aad_len_in_bytes = 0;
	j->auth_tag_output = tag;
	j->auth_tag_output_len_in_bytes = WG_AEAD_TAG_LEN;
	j->user_data = (void *)id;
}

/* Record the outcome of a returned job: a failed job marks its packet @p fail. */
static inline void
job_done(struct mg_wg_worker *w, IMB_JOB *j, uint8_t fail)
{
	if (j->status != IMB_STATUS_COMPLETED)
		w->st[(uintptr_t)j->user_data] = fail;
}

/* Submit the job being filled and collect the ones the manager returns. */
static inline void
submit(struct mg_wg_worker *w, uint8_t fail)
{
	IMB_JOB *j = IMB_SUBMIT_JOB(w->mgr);

	while (j != NULL) {
		job_done(w, j, fail);
		j = IMB_GET_COMPLETED_JOB(w->mgr);
	}
}

/* Finish every job in flight. */
static inline void
flush(struct mg_wg_worker *w, uint8_t fail)
{
	IMB_JOB *j;

	while ((j = IMB_FLUSH_JOB(w->mgr)) != NULL)
		job_done(w, j, fail);
}

/*
 * Stable partition: packets whose status is @p ok first, then the others;
 * statuses and peers follow their packets.
 */
static uint16_t
partition(struct mg_wg_worker *w, struct rte_mbuf **pkts, uint16_t n, uint8_t ok,
	  uint8_t *status, struct mg_wg_peer **peers)
{
	uint16_t good = 0, k;

	for (uint16_t i = 0; i < n; i++)
		good += w->st[i] == ok;
	uint16_t gi = 0, bi = good;
	uint8_t st_tmp[MG_WG_BURST_MAX];
	struct mg_wg_peer *pe_tmp[MG_WG_BURST_MAX];

	for (uint16_t i = 0; i < n; i++) {
		k = w->st[i] == ok ? gi++ : bi++;
		w->tmp[k] = pkts[i];
		st_tmp[k] = w->st[i];
		pe_tmp[k] = w->peer[i];
	}
	memcpy(pkts, w->tmp, n * sizeof(*pkts));
	if (status != NULL)
		memcpy(status, st_tmp, n);
	if (peers != NULL)
		memcpy(peers, pe_tmp, n * sizeof(*peers));
	return good;
}

uint16_t
mg_wg_encrypt_burst(struct mg_wg_worker *w, struct mg_wg_keypair *kp, struct rte_mbuf **pkts,
		    uint16_t n, uint64_t now_ns, uint8_t *status)
{
	struct mg_wg_peer *peer = kp->entry.peer;
	const uint32_t mtu = peer->wg->mtu;
	uint64_t ctr0 = 0, bytes = 0;
	uint16_t ok, sent = 0;
	bool data = false, usable;

	if (n > MG_WG_BURST_MAX)
		n = MG_WG_BURST_MAX;
	usable = !atomic_load_explicit(&kp->dead, memory_order_relaxed) &&
		 !atomic_load_explicit(&kp->send_revoked, memory_order_relaxed) &&
		 !wg_expired(kp->birth_ns, WG_T_REJECT_AFTER, now_ns);
	/* One atomic per burst: several workers may send on this keypair. */
	if (usable)
		ctr0 = atomic_fetch_add_explicit(&kp->send_counter, n, memory_order_relaxed);

	for (uint16_t base = 0; base < n; base += WG_CHUNK) {
		uint16_t end = n - base < WG_CHUNK ? n : base + WG_CHUNK;

		for (uint16_t i = base; i < end; i++) {
			struct rte_mbuf *m = pkts[i];
			uint64_t ctr = ctr0 + i;
			uint32_t plen = m->data_len, padded = RTE_ALIGN_CEIL(plen, WG_PADDING_MULTIPLE);

			/* Padding stops at the MTU (a packet already beyond it gets none). */
			if (mtu != 0 && padded > mtu)
				padded = RTE_MAX(plen, mtu);
			struct wg_msg_data *hdr;
			uint8_t *tail;

			w->peer[i] = peer;
			if (!usable)
				w->st[i] = MG_WG_TX_KEY_EXPIRED;
			else if (ctr >= WG_REJECT_AFTER_MESSAGES || ctr < ctr0)
				w->st[i] = MG_WG_TX_COUNTER_LIMIT;
			else if (m->nb_segs != 1)
				w->st[i] = MG_WG_TX_CHAINED;
			else if (rte_pktmbuf_headroom(m) < WG_DATA_HEADER_LEN ||
				 rte_pktmbuf_tailroom(m) < padded - plen + WG_AEAD_TAG_LEN)
				w->st[i] = MG_WG_TX_NO_ROOM;
			else
				w->st[i] = MG_WG_TX_OK;
			if (w->st[i] != MG_WG_TX_OK)
				continue;

			tail = (uint8_t *)rte_pktmbuf_append(m, padded - plen + WG_AEAD_TAG_LEN);
			memset(tail, 0, padded - plen);
			hdr = (struct wg_msg_data *)rte_pktmbuf_prepend(m, WG_DATA_HEADER_LEN);
			hdr->type = rte_cpu_to_le_32(WG_MSG_DATA);
			hdr->receiver = rte_cpu_to_le_32(kp->remote_index);
			hdr->counter = rte_cpu_to_le_64(ctr);
			set_nonce(w->iv[i - base], ctr);
			fill_job(IMB_GET_NEXT_JOB(w->mgr), true, kp->send_key, (uint8_t *)(hdr + 1),
				 padded, w->iv[i - base], (uint8_t *)(hdr + 1) + padded, i);
			submit(w, MG_WG_TX_CRYPTO);
		}
		flush(w, MG_WG_TX_CRYPTO);
	}
	for (uint16_t i = 0; i < n; i++) {
		if (w->st[i] != MG_WG_TX_OK)
			continue;
		sent++;
		bytes += pkts[i]->data_len;
		data |= pkts[i]->data_len > WG_DATA_MIN_LEN;
	}
	if (sent > 0)
		wg_peer_mark_sent(peer, bytes, sent, data, now_ns);
	if (usable && ctr0 + n >= WG_REKEY_AFTER_MESSAGES)
		mg_wg_peer_want_handshake(peer);
	ok = partition(w, pkts, n, MG_WG_TX_OK, status, NULL);
	return ok;
}

/* Length of the whole inner IP packet at @p p (of @p len bytes), 0 if it is not one. */
static inline uint32_t
inner_len(const uint8_t *p, uint32_t len)
{
	uint32_t tot;

	if (len == 0)
		return 0;
	switch (p[0] >> 4) {
	case 4:
		if (len < 20)
			return 0;
		tot = (uint32_t)p[2] << 8 | p[3];
		if (tot < 20 || tot > len || (uint32_t)(p[0] & 0xf) * 4 > tot ||
		    (p[0] & 0xf) < 5)
			return 0;
		return tot;
	case 6:
		if (len < 40)
			return 0;
		tot = 40 + ((uint32_t)p[4] << 8 | p[5]);
		return tot <= len ? tot : 0;
	default:
		return 0;
	}
}

/* The peer the inner source of @p p maps to in @p aip. */
static inline struct mg_wg_peer *
inner_src_peer(const struct mg_wg_aip *aip, const uint8_t *p)
{
	if (p[0] >> 4 == 4) {
		uint32_t a;

		memcpy(&a, p + 12, 4);
		return mg_wg_aip_lookup4(aip, a);
	}
	return mg_wg_aip_lookup6(aip, p + 8);
}

/* Account for received packets of one peer: counters, timestamps, confirmation. */
struct rx_run {
	struct mg_wg_peer *peer;  /* Peer of the run, NULL before the first. */
	uint64_t bytes;           /* Message bytes. */
	uint64_t packets;         /* Authenticated messages. */
	bool data;                /* Any data packet among them. */
};

static inline void
rx_run_flush(struct rx_run *r, uint64_t now)
{
	struct mg_wg_peer *p = r->peer;

	if (p == NULL || r->packets == 0)
		return;
	atomic_fetch_add_explicit(&p->rx_bytes, r->bytes, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->rx_packets, r->packets, memory_order_relaxed);
	atomic_store_explicit(&p->t_auth_recv, now, memory_order_relaxed);
	if (r->data)
		atomic_store_explicit(&p->t_data_recv, now, memory_order_relaxed);
	*r = (struct rx_run){0};
}

uint16_t
mg_wg_decrypt_burst(struct mg_wg_worker *w, const struct mg_wg_iface *wg,
		    const struct mg_wg_aip *aip, struct rte_mbuf **pkts, uint16_t n,
		    uint64_t now_ns, uint8_t *status, struct mg_wg_peer **peers)
{
	struct rx_run run = {0};

	if (n > MG_WG_BURST_MAX)
		n = MG_WG_BURST_MAX;
	for (uint16_t base = 0; base < n; base += WG_CHUNK) {
		uint16_t end = n - base < WG_CHUNK ? n : base + WG_CHUNK;

		/* Stage 1: parse, find the keypair, pre-check the counter, submit. */
		for (uint16_t i = base; i < end; i++) {
			struct rte_mbuf *m = pkts[i];
			uint16_t k = i - base;
			struct wg_msg_data *hdr;
			struct wg_index_entry *e;
			struct mg_wg_keypair *kp;
			uint32_t len = m->data_len;

			w->peer[i] = NULL;
			w->kp[k] = NULL;
			if (m->nb_segs != 1) {
				w->st[i] = MG_WG_RX_CHAINED;
				continue;
			}
			hdr = rte_pktmbuf_mtod(m, struct wg_msg_data *);
			if (mg_wg_msg_type(hdr, len) != WG_MSG_DATA) {
				w->st[i] = MG_WG_RX_MALFORMED;
				continue;
			}
			e = wg_index_lookup(&wg->index, rte_le_to_cpu_32(hdr->receiver));
			if (e == NULL || e->type != WG_INDEX_KEYPAIR) {
				w->st[i] = MG_WG_RX_UNKNOWN_INDEX;
				continue;
			}
			kp = (struct mg_wg_keypair *)e;
			if (atomic_load_explicit(&kp->dead, memory_order_relaxed) ||
			    wg_expired(kp->birth_ns, WG_T_REJECT_AFTER, now_ns)) {
				w->st[i] = MG_WG_RX_KEY_EXPIRED;
				continue;
			}
			w->ctr[k] = rte_le_to_cpu_64(hdr->counter);
			switch (wg_replay_check(&kp->replay, w->ctr[k])) {
			case WG_REPLAY_OK:
				break;
			case WG_REPLAY_LIMIT:
				w->st[i] = MG_WG_RX_COUNTER_LIMIT;
				continue;
			default:
				w->st[i] = MG_WG_RX_REPLAY;
				continue;
			}
			w->st[i] = MG_WG_RX_DATA;
			w->kp[k] = kp;
			w->clen[k] = len - WG_DATA_MIN_LEN;
			set_nonce(w->iv[k], w->ctr[k]);
			fill_job(IMB_GET_NEXT_JOB(w->mgr), false, kp->recv_key, (uint8_t *)(hdr + 1),
				 w->clen[k], w->iv[k], w->tag[k], i);
			submit(w, MG_WG_RX_CRYPTO);
		}
		flush(w, MG_WG_RX_CRYPTO);

		/* Stage 2: authenticate, commit the counter, strip to the inner packet. */
		for (uint16_t i = base; i < end; i++) {
			uint16_t k = i - base;
			struct mg_wg_keypair *kp = w->kp[k];
			struct rte_mbuf *m = pkts[i];
			uint8_t *plain;
			uint32_t ilen;

			if (kp == NULL || w->st[i] != MG_WG_RX_DATA)
				continue;
			plain = rte_pktmbuf_mtod_offset(m, uint8_t *, WG_DATA_HEADER_LEN);
			if (!wg_ct_equal(w->tag[k], plain + w->clen[k], WG_AEAD_TAG_LEN)) {
				w->st[i] = MG_WG_RX_AUTH;
				continue;
			}
			/* Another worker may have accepted the same counter meanwhile. */
			if (wg_replay_commit(&kp->replay, w->ctr[k]) != WG_REPLAY_OK) {
				w->st[i] = MG_WG_RX_REPLAY;
				continue;
			}
			/* Authenticated from here on: it counts for the peer. */
			struct mg_wg_peer *peer = kp->entry.peer;

			if (run.peer != peer) {
				rx_run_flush(&run, now_ns);
				run.peer = peer;
			}
			run.bytes += m->data_len;
			run.packets++;
			w->peer[i] = peer;
			if (!atomic_load_explicit(&kp->confirmed, memory_order_relaxed)) {
				atomic_store_explicit(&kp->confirmed, true, memory_order_relaxed);
				atomic_fetch_or_explicit(&peer->flags, WG_PF_CONFIRMED,
							 memory_order_relaxed);
			}
			if (w->clen[k] == 0) {
				w->st[i] = MG_WG_RX_KEEPALIVE;
				continue;
			}
			run.data = true;
			ilen = inner_len(plain, w->clen[k]);
			if (ilen == 0) {
				w->st[i] = MG_WG_RX_BAD_INNER;
				continue;
			}
			if (aip != NULL && inner_src_peer(aip, plain) != peer) {
				w->st[i] = MG_WG_RX_SRC_NOT_ALLOWED;
				continue;
			}
			rte_pktmbuf_adj(m, WG_DATA_HEADER_LEN);
			rte_pktmbuf_trim(m, m->data_len - ilen);
		}
	}
	rx_run_flush(&run, now_ns);
	for (uint16_t i = 0; i < n; i++)
		if (w->st[i] != MG_WG_RX_DATA && w->st[i] != MG_WG_RX_KEEPALIVE)
			w->peer[i] = NULL;
	return partition(w, pkts, n, MG_WG_RX_DATA, status, peers);
}

int
mg_wg_keepalive(struct mg_wg_worker *w, struct mg_wg_peer *peer, struct rte_mbuf *m,
		uint64_t now_ns)
{
	struct mg_wg_keypair *kp = mg_wg_peer_tx_keypair(peer, now_ns);
	uint8_t st;

	if (kp == NULL) {
		mg_wg_peer_want_handshake(peer);
		return -ENOKEY;
	}
	rte_pktmbuf_reset(m);
	if (mg_wg_encrypt_burst(w, kp, &m, 1, now_ns, &st) == 1)
		return 0;
	return st == MG_WG_TX_NO_ROOM || st == MG_WG_TX_CHAINED ? -ENOSPC : -ENOKEY;
}
