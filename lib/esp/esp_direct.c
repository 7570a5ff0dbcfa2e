/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * MG_ESP_MODE_DIRECT: ESP tunnel mode with AES-GCM (RFC 4303, RFC 4106) or
 * ChaCha20-Poly1305 (RFC 7634) done here, on intel-ipsec-mb's direct AEAD
 * calls, for the SAs AUTO gives it. Both AEADs frame ESP alike: an 8-byte
 * explicit IV, a 16-byte ICV, the salt + IV nonce, the same AAD.
 *
 * Per packet, librte_ipsec's CPU-crypto path builds IV, AAD and digest
 * vectors, calls the crypto PMD's bulk entry (which walks them again) and
 * then post-processes the burst in a third pass; on this project's bench
 * that glue cost half as much as the AES-GCM work itself at 64 bytes
 * (perf: librte_ipsec 16% and the PMD 3% of the worker, the cipher 33%).
 * Here each packet is framed and sealed (or opened and unframed) in one
 * pass with one call into the library.
 *
 * The rest of the data path (esp_data.c) is shared with the other modes:
 * checks, lifetimes, the anti-replay window, DSCP/ECN/DF and the outer
 * checksum. This file only moves the headers and runs the cipher:
 *   encrypt: [inner IP] -> [outer IP (+UDP)][SPI][seq][IV][inner IP][pad][pl][nh][ICV]
 *   decrypt: the reverse, after esp_data.c's in_check found the ESP header
 *            at l3_len and inferred the full sequence number.
 */

#include <string.h>

#include <intel-ipsec-mb.h>

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_esp.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_prefetch.h>
#include <rte_udp.h>

#include "esp_priv.h"
#include "mg_imb.h"

#define AEAD_IV 8         /* Explicit IV on the wire (RFC 4106 3.1, RFC 7634 2). */
#define AEAD_ICV 16       /* Full-length tag (RFC 4106 3.2, RFC 7634 2). */
#define ESP_ALIGN 4       /* Payload + trailer align to 4 bytes (RFC 4303 2.4). */

/*
 * Set up the context's intel-ipsec-mb manager once (main lcore); 0 or
 * -errno. Workers only call through its direct-call table, which nothing
 * writes after this: one manager serves them all, on the context's socket.
 */
int
esp_direct_init(struct mg_esp *esp)
{
	if (esp->imb != NULL)
		return 0;
	esp->imb = mg_imb_mgr_create(esp->conf.socket_id);
	if (esp->imb == NULL)
		return -rte_errno;
	ESP_LOG(INFO, "direct AEADs on intel-ipsec-mb %s\n", imb_get_version_str());
	return 0;
}

/* Free the manager (context teardown). */
void
esp_direct_fini(struct mg_esp *esp)
{
	mg_imb_mgr_free(esp->imb);
	esp->imb = NULL;
}

/* Expand @p key (AES-GCM: 16 or 32 bytes; ChaCha20-Poly1305: 32) into the SA's key data. */
int
esp_direct_sa_init(struct mg_esp_sa *sa, enum mg_esp_algo algo, const uint8_t *key,
		   unsigned int key_len, const uint8_t *salt, int socket)
{
	IMB_MGR *imb = sa->esp->imb;
	bool chacha = algo == MG_ESP_CHACHA20_POLY1305;

	if (imb == NULL || (chacha ? key_len != 32 : key_len != 16 && key_len != 32))
		return -ENOTSUP;
	sa->dk_len = chacha ? key_len : sizeof(struct gcm_key_data);
	sa->dk = rte_zmalloc_socket("mg_esp_dkey", sa->dk_len, 64, socket);
	if (sa->dk == NULL)
		return -ENOMEM;
	if (chacha) {
		memcpy(sa->dk, key, key_len);
		sa->chacha = 1;
	} else if (key_len == 16) {
		/* The key size's seal and open, chosen once here. */
		IMB_AES128_GCM_PRE(imb, key, sa->dk);
		sa->gcm_seal = imb->gcm128_enc;
		sa->gcm_open = imb->gcm128_dec;
	} else {
		IMB_AES256_GCM_PRE(imb, key, sa->dk);
		sa->gcm_seal = imb->gcm256_enc;
		sa->gcm_open = imb->gcm256_dec;
	}
	memcpy(&sa->salt, salt, sizeof(sa->salt));
	return 0;
}

/* Wipe and free the SA's key data. */
void
esp_direct_sa_fini(struct mg_esp_sa *sa)
{
	if (sa->dk == NULL)
		return;
	mg_wipe(sa->dk, sa->dk_len);
	rte_free(sa->dk);
	sa->dk = NULL;
}

/*
 * Seal @p len bytes at @p p in place, the tag after them, or (@p dec) open
 * them and write the tag they should carry to @p tag.
 */
static inline void
aead_run(IMB_MGR *imb, const struct mg_esp_sa *sa, bool dec, uint8_t *p, uint64_t len,
	 const uint8_t nonce[12], const uint8_t *aad, uint64_t alen, uint8_t *tag)
{
	if (!sa->chacha) {
		struct gcm_context_data ctx;

		(dec ? sa->gcm_open : sa->gcm_seal)(sa->dk, &ctx, p, p, len, nonce, aad, alen, tag,
						    AEAD_ICV);
		return;
	}
	struct chacha20_poly1305_context_data ctx;

	IMB_CHACHA20_POLY1305_INIT(imb, sa->dk, &ctx, nonce, aad, alen);
	if (dec)
		IMB_CHACHA20_POLY1305_DEC_UPDATE(imb, sa->dk, &ctx, p, p, len);
	else
		IMB_CHACHA20_POLY1305_ENC_UPDATE(imb, sa->dk, &ctx, p, p, len);
	IMB_CHACHA20_POLY1305_ENC_FINALIZE(imb, &ctx, tag, AEAD_ICV);
	/* The context holds this packet's Poly1305 key. */
	mg_wipe(ctx.poly_key, sizeof(ctx.poly_key));
}

/* The nonce: salt, then the 8-byte explicit IV (RFC 4106 4). */
static inline void
nonce_fill(uint8_t nonce[12], uint32_t salt, const void *iv)
{
	memcpy(nonce, &salt, 4);
	memcpy(nonce + 4, iv, AEAD_IV);
}

/*
 * The AAD (RFC 4106 5): SPI and the 32-bit sequence number, or with ESN the
 * SPI and both halves of the 64-bit one, high first. Returns its length.
 */
static inline uint64_t
aad_fill(uint32_t aad[3], rte_be32_t spi_be, uint64_t seq, bool esn)
{
	aad[0] = spi_be;
	if (esn) {
		aad[1] = rte_cpu_to_be_32((uint32_t)(seq >> 32));
		aad[2] = rte_cpu_to_be_32((uint32_t)seq);
		return 12;
	}
	aad[1] = rte_cpu_to_be_32((uint32_t)seq);
	return 8;
}

/* ---- outbound ----------------------------------------------------------------------- */

/*
 * Take up to @p n sequence numbers; *first gets the first. Returns how many
 * may be sent: without ESN the 32-bit space ends at 2^32-2 as in
 * librte_ipsec (the counter's next value must still fit), with ESN at
 * 2^64-2; the counter stops there. Workers share outbound SAs: one
 * compare-and-swap per burst.
 */
static inline uint16_t
seq_take(struct mg_esp_sa *sa, uint16_t n, uint64_t *first)
{
	uint64_t limit = sa->esn ? UINT64_MAX : UINT32_MAX;
	uint64_t s = __atomic_load_n(&sa->oseq, __ATOMIC_RELAXED), k;

	do {
		if (unlikely(s >= limit))
			return 0;
		k = RTE_MIN((uint64_t)n, limit - s);
	} while (!__atomic_compare_exchange_n(&sa->oseq, &s, s + k, true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	*first = s;
	return (uint16_t)k;
}

/* Frame and seal one inner packet with sequence number @p seq. */
static inline void
seal_one(IMB_MGR *imb, const struct mg_esp_sa *sa, struct rte_mbuf *m, uint64_t seq)
{
	uint32_t len = m->data_len;                       /* inner IP, trimmed by out_check */
	uint32_t pad = (ESP_ALIGN - ((len + 2) & (ESP_ALIGN - 1))) & (ESP_ALIGN - 1);
	uint32_t plen = len + pad + 2;                    /* encrypted part */
	uint16_t head = sa->outer_hlen + sizeof(struct rte_esp_hdr) + AEAD_IV;
	uint8_t *in = rte_pktmbuf_mtod(m, uint8_t *);
	uint8_t *tr = in + len;
	uint8_t *p = in - head;
	uint32_t aad[3];
	uint8_t nonce[12];

	/* Trailer: monotonic padding 1, 2, ... (RFC 4303 2.4), pad length, next header. */
	for (uint32_t i = 0; i < pad; i++)
		tr[i] = (uint8_t)(i + 1);
	tr[pad] = (uint8_t)pad;
	tr[pad + 1] = sa->inner_family == AF_INET ? IPPROTO_IPIP : IPPROTO_IPV6;
	/* Headers: the outer template, lengths, SPI, sequence number, IV. */
	uint32_t total = head + plen + AEAD_ICV;

	rte_memcpy(p, sa->tmpl, sa->outer_hlen);
	if (sa->outer_family == AF_INET) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)p;

		ip->total_length = rte_cpu_to_be_16((uint16_t)total);
		if (sa->natt)
			((struct rte_udp_hdr *)(ip + 1))->dgram_len =
				rte_cpu_to_be_16((uint16_t)(total - sizeof(*ip)));
	} else {
		struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)p;

		ip6->payload_len = rte_cpu_to_be_16((uint16_t)(total - sizeof(*ip6)));
		if (sa->natt)
			((struct rte_udp_hdr *)(ip6 + 1))->dgram_len = ip6->payload_len;
	}
	struct rte_esp_hdr *esph = (struct rte_esp_hdr *)(p + sa->outer_hlen);
	uint64_t iv = rte_cpu_to_be_64(seq);  /* unique per key: the IV RFC 4106 3.1 suggests */

	esph->spi = sa->spi_be;
	esph->seq = rte_cpu_to_be_32((uint32_t)seq);
	memcpy(esph + 1, &iv, AEAD_IV);
	nonce_fill(nonce, sa->salt, &iv);
	uint64_t alen = aad_fill(aad, sa->spi_be, seq, sa->esn);
	const uint8_t *a = (const uint8_t *)aad;

	aead_run(imb, sa, false, in, plen, nonce, a, alen, in + plen);
	m->data_off -= head;
	m->data_len = (uint16_t)total;
	m->pkt_len = total;
}

/* Encrypt and finish mb[0..n) (checked inner packets with room); returns how many were sent. */
uint16_t
esp_direct_encrypt(struct mg_esp_sa *sa, struct rte_mbuf **mb, uint16_t n,
		   const struct esp_pmeta *meta)
{
	IMB_MGR *imb = sa->esp->imb;
	uint64_t seq = 0;
	uint16_t k = seq_take(sa, n, &seq);

	for (uint16_t i = 0; i < k; i++) {
		if (i + 1 < k)
			rte_prefetch0(rte_pktmbuf_mtod(mb[i + 1], void *));
		RTE_ASSERT(meta[i].m == mb[i]);
		seal_one(imb, sa, mb[i], seq + i);
		out_finish(sa, mb[i], &meta[i]);
	}
	return k;
}

/* ---- inbound ------------------------------------------------------------------------ */

/* Constant-time comparison of two tags. */
static inline bool
tag_equal(const uint8_t *a, const uint8_t *b)
{
	uint64_t x[2], y[2];

	memcpy(x, a, sizeof(x));
	memcpy(y, b, sizeof(y));
	return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
}

/*
 * Open one packet whose ESP header is at l3_len and whose full sequence
 * number is @p seq. 0: decapsulated (the inner packet at the data start);
 * 1: the tag did not match (FAILED set); 2: bad padding or next header;
 * 3: an authentic dummy packet (next header 59, RFC 4303 2.6), untouched.
 */
static inline int
open_one(IMB_MGR *imb, const struct mg_esp_sa *sa, struct rte_mbuf *m, uint64_t seq)
{
	uint8_t *esp = rte_pktmbuf_mtod_offset(m, uint8_t *, m->l3_len);
	uint8_t *ct = esp + sizeof(struct rte_esp_hdr) + AEAD_IV;
	/* in_check: the packet ends with the IP datagram and holds the fixed part plus a block. */
	uint32_t clen = m->pkt_len - m->l3_len - sizeof(struct rte_esp_hdr) - AEAD_IV - AEAD_ICV;
	uint8_t tag[AEAD_ICV], nonce[12];
	uint32_t aad[3];

	nonce_fill(nonce, sa->salt, esp + sizeof(struct rte_esp_hdr));
	uint64_t alen = aad_fill(aad, sa->spi_be, seq, sa->esn);
	const uint8_t *a = (const uint8_t *)aad;

	aead_run(imb, sa, true, ct, clen, nonce, a, alen, tag);
	if (unlikely(!tag_equal(tag, ct + clen))) {
		m->ol_flags |= RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED;
		return 1;
	}
	uint32_t pad = ct[clen - 2];
	uint8_t nh = ct[clen - 1];

	if (unlikely(nh == IPPROTO_NONE))
		return 3;
	if (unlikely(pad + 2 > clen ||
		     nh != (sa->inner_family == AF_INET ? IPPROTO_IPIP : IPPROTO_IPV6)))
		return 2;
	/* Padding must be the default 1, 2, ... (RFC 4303 2.4; librte_ipsec checks it too). */
	for (uint32_t i = 0; i < pad; i++)
		if (unlikely(ct[clen - 2 - pad + i] != i + 1))
			return 2;
	uint32_t head = m->l3_len + sizeof(struct rte_esp_hdr) + AEAD_IV;
	uint32_t inner = clen - pad - 2;

	m->data_off += head;
	m->data_len = (uint16_t)inner;
	m->pkt_len = inner;
	return 0;
}

/*
 * Decrypt mb[0..n) (meta[] as in esp_data.c, any order). The decapsulated
 * packets come first, in their order; then the failures: FAILED set for a
 * tag mismatch, l3_len kept (non-zero) for a bad trailer. Returns the
 * number decapsulated.
 */
uint16_t
esp_direct_decrypt(struct mg_esp_sa *sa, struct rte_mbuf **mb, uint16_t n,
		   struct esp_pmeta *meta)
{
	struct rte_mbuf *bad[MG_ESP_MAX_BURST];
	IMB_MGR *imb = sa->esp->imb;
	uint16_t ok = 0, nb = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = mb[i];

		RTE_ASSERT(meta[i].m == m);
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod_offset(mb[i + 1], void *, mb[i + 1]->l3_len));
		int r = open_one(imb, sa, m, meta[i].seq);

		if (likely(r == 0)) {
			mb[ok++] = m;
		} else if (r == 3) {
			meta[i].dummy = 1;      /* authentic: in_post records it, then drops it */
			mb[ok++] = m;
		} else {
			bad[nb++] = m;
		}
	}
	memcpy(mb + ok, bad, nb * sizeof(bad[0]));
	return ok;
}
