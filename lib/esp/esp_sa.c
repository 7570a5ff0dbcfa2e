/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SA objects: validation of a spec, the choice of crypto device and mode,
 * the crypto session and the librte_ipsec SA, publication, deletion with key
 * wiping, the redacted views and the size arithmetic.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_cryptodev.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_string_fns.h>
#include <rte_udp.h>

#include "esp_priv.h"

/* What the code needs to know about an algorithm beyond its key sizes. */
struct algo_desc {
	const char *name;   /* Its name. */
	uint8_t key;        /* Cipher key bytes. */
	uint8_t auth;       /* HMAC key bytes (0: combined mode). */
	uint8_t salt;       /* Salt bytes. */
	uint8_t iv;         /* IV bytes on the wire. */
	uint8_t icv;        /* ICV bytes. */
	uint8_t block;      /* The encrypted part is a multiple of this. */
};

/* Wire sizes per algorithm: IV, ICV, block. */
static const uint8_t algo_wire[MG_ESP_ALGO_MAX][3] = {
	[MG_ESP_AES_GCM_128] = {8, 16, 4},
	[MG_ESP_AES_GCM_256] = {8, 16, 4},
	[MG_ESP_AES_CBC_128_SHA256] = {16, 16, 16},
	[MG_ESP_AES_CBC_256_SHA256] = {16, 16, 16},
	[MG_ESP_CHACHA20_POLY1305] = {8, 16, 4},
	[MG_ESP_NULL_SHA256] = {0, 16, 4},
};

/* The description of @p a (valid algorithm). */
static struct algo_desc
algo_get(enum mg_esp_algo a)
{
	static const struct {
		const char *name;
		uint8_t key, auth, salt;
	} t[MG_ESP_ALGO_MAX] = {
#define MG_ESP_ALGO_DESC(e, n, k, au, s) [MG_ESP_##e] = {n, k, au, s},
		MG_ESP_ALGOS(MG_ESP_ALGO_DESC)
#undef MG_ESP_ALGO_DESC
	};
	return (struct algo_desc){
		.name = t[a].name, .key = t[a].key, .auth = t[a].auth, .salt = t[a].salt,
		.iv = algo_wire[a][0], .icv = algo_wire[a][1], .block = algo_wire[a][2],
	};
}

/* True for the combined-mode (AEAD) algorithms. */
static bool
algo_aead(enum mg_esp_algo a)
{
	return a == MG_ESP_AES_GCM_128 || a == MG_ESP_AES_GCM_256 ||
	       a == MG_ESP_CHACHA20_POLY1305;
}

/* True for AES-CBC. */
static bool
algo_cbc(enum mg_esp_algo a)
{
	return a == MG_ESP_AES_CBC_128_SHA256 || a == MG_ESP_AES_CBC_256_SHA256;
}

/* Name of an algorithm. */
const char *
mg_esp_algo_name(enum mg_esp_algo algo)
{
	return (unsigned int)algo < MG_ESP_ALGO_MAX ? algo_get(algo).name : NULL;
}

/* Name of a mode. */
const char *
mg_esp_mode_name(enum mg_esp_mode mode)
{
	switch (mode) {
	case MG_ESP_MODE_AUTO: return "auto";
	case MG_ESP_MODE_CPU: return "cpu";
	case MG_ESP_MODE_LOOKASIDE: return "lookaside";
	case MG_ESP_MODE_DIRECT: return "direct";
	}
	return "?";
}

/* Parse an algorithm name. */
int
mg_esp_algo_parse(const char *name, enum mg_esp_algo *algo)
{
	for (int a = 0; a < MG_ESP_ALGO_MAX; a++)
		if (strcmp(name, algo_get(a).name) == 0) {
			*algo = a;
			return 0;
		}
	return -EINVAL;
}

/*
 * The default mode of each algorithm, from tools/bench.d/esp_bench.sh on this
 * project's 2-CPU VM (hugepages, one core, CPU and lookaside interleaved
 * eight times, median burst times): CPU crypto was as fast as lookaside or
 * faster for AES-GCM (aesni_gcm; +5% to +15% at 64 bytes, even at 1420) and
 * ChaCha20-Poly1305 (aesni_mb; +3% to +25% at 64 bytes, even at 1420).
 * AES-GCM and ChaCha20-Poly1305 then moved to MG_ESP_MODE_DIRECT
 * (esp_direct.c): for AES-GCM tools/bench --traffic esp put it ahead of CPU
 * crypto through librte_ipsec at every size (see README, ESP data path;
 * esp_bench at 64 B: 216 against ~400-480 cycles per packet); for
 * ChaCha20-Poly1305, whose cipher costs ~1,500 cycles at 64 B in
 * intel-ipsec-mb 1.3 either way, esp_bench has them level, and direct
 * needs no crypto device.
 * AES-CBC is never CPU: librte_ipsec 22.11's CPU-crypto path encrypts the IV
 * block with itself as the IV, so every packet would carry the same IV,
 * E_K(0); the lookaside path encrypts the sequence number instead (an
 * unpredictable IV, as RFC 3602 asks).
 */
enum mg_esp_mode
mg_esp_default_mode(enum mg_esp_algo algo)
{
	switch (algo) {
	case MG_ESP_AES_GCM_128:
	case MG_ESP_AES_GCM_256:
	case MG_ESP_CHACHA20_POLY1305:
		return MG_ESP_MODE_DIRECT;
	case MG_ESP_NULL_SHA256:
		return MG_ESP_MODE_CPU;
	default:
		return MG_ESP_MODE_LOOKASIDE;
	}
}

/* ---- sizes ------------------------------------------------------------------------ */

/* Outer IP (+ UDP) header bytes. */
static unsigned int
outer_hdr(int family, bool udp)
{
	return (family == AF_INET6 ? 40 : 20) + (udp ? 8 : 0);
}

/* Length of the ESP packet carrying @p inner_len bytes. */
unsigned int
mg_esp_outer_len(enum mg_esp_algo algo, int outer_family, bool udp_encap, unsigned int inner_len)
{
	struct algo_desc d = algo_get(algo);

	return outer_hdr(outer_family, udp_encap) + 8 + d.iv +
	       RTE_ALIGN_CEIL(inner_len + 2, d.block) + d.icv;
}

/* The tunnel's payload MTU for a path MTU. */
unsigned int
mg_esp_inner_mtu(enum mg_esp_algo algo, int outer_family, bool udp_encap, unsigned int path_mtu)
{
	struct algo_desc d = algo_get(algo);
	unsigned int fixed = outer_hdr(outer_family, udp_encap) + 8 + d.iv + d.icv;

	if (path_mtu < fixed + d.block)
		return 0;
	return RTE_ALIGN_FLOOR(path_mtu - fixed, d.block) - 2;
}

/* The payload MTU of an SA's tunnel. */
unsigned int
mg_esp_sa_inner_mtu(const struct mg_esp_sa *sa, unsigned int path_mtu)
{
	return mg_esp_inner_mtu(sa->spec.algo, sa->outer_family, sa->natt, path_mtu);
}

/* ---- validation ----------------------------------------------------------------------- */

/* Check a spec; fill defaults in @p s. 0 or -errno with @p err. */
static int
spec_check(struct mg_esp *esp, struct mg_esp_sa_spec *s, struct mg_error *err)
{
	struct algo_desc d;

	if (s->spi < 256)
		return mg_error_set(err, EINVAL, "spi", "must be 256 or above (0-255 are reserved)");
	if (s->dir != MG_ESP_OUTBOUND && s->dir != MG_ESP_INBOUND)
		return mg_error_set(err, EINVAL, "dir", "must be outbound or inbound");
	if (s->local.family != AF_INET && s->local.family != AF_INET6)
		return mg_error_set(err, EINVAL, "local", "must be an IPv4 or IPv6 address");
	if (s->remote.family != s->local.family)
		return mg_error_set(err, EINVAL, "remote", "must be of the same family as local");
	if (mg_ip_is_unspecified(&s->local) || mg_ip_is_multicast(&s->local))
		return mg_error_set(err, EINVAL, "local", "must be a unicast address");
	if (mg_ip_is_unspecified(&s->remote) || mg_ip_is_multicast(&s->remote))
		return mg_error_set(err, EINVAL, "remote", "must be a unicast address");
	if (s->inner_family != AF_INET && s->inner_family != AF_INET6)
		return mg_error_set(err, EINVAL, "inner_family", "must be AF_INET or AF_INET6");
	if ((unsigned int)s->algo >= MG_ESP_ALGO_MAX)
		return mg_error_set(err, EINVAL, "algo", "unknown algorithm %d", (int)s->algo);
	d = algo_get(s->algo);
	if (s->enc_key_len != d.key)
		return mg_error_set(err, EINVAL, "enc_key", "%s needs a %u-byte key, not %u",
				    d.name, d.key, s->enc_key_len);
	if (s->auth_key_len != d.auth)
		return mg_error_set(err, EINVAL, "auth_key", "%s needs a %u-byte HMAC key, not %u",
				    d.name, d.auth, s->auth_key_len);
	if (d.salt == 0) {
		static const uint8_t zero[MG_ESP_SALT_LEN];

		if (memcmp(s->salt, zero, sizeof(zero)) != 0)
			return mg_error_set(err, EINVAL, "salt", "%s takes no salt", d.name);
	}
	if (s->no_replay && s->esn)
		return mg_error_set(err, EINVAL, "no_replay",
				    "anti-replay cannot be off with extended sequence numbers");
	if (s->replay_window == 0)
		s->replay_window = MG_ESP_WINDOW_MIN;
	if (s->replay_window < MG_ESP_WINDOW_MIN || s->replay_window > MG_ESP_WINDOW_MAX)
		return mg_error_set(err, EINVAL, "replay_window", "must be %u..%u",
				    MG_ESP_WINDOW_MIN, MG_ESP_WINDOW_MAX);
	if (s->dir == MG_ESP_OUTBOUND && s->initial_seq == 0)
		s->initial_seq = 1;
	if (!s->esn && s->initial_seq > UINT32_MAX)
		return mg_error_set(err, EINVAL, "initial_seq",
				    "above 2^32-1 needs extended sequence numbers");
	if (s->local_port == 0)
		s->local_port = MG_ESP_DEFAULT_PORT;
	if (s->remote_port == 0)
		s->remote_port = MG_ESP_DEFAULT_PORT;
	if ((unsigned int)s->dscp_mode > MG_ESP_DSCP_SET)
		return mg_error_set(err, EINVAL, "dscp_mode", "unknown DSCP mode");
	if (s->dscp > 63)
		return mg_error_set(err, EINVAL, "dscp", "must be 0..63");
	if ((unsigned int)s->ecn_mode > MG_ESP_ECN_OFF)
		return mg_error_set(err, EINVAL, "ecn_mode", "unknown ECN mode");
	if ((unsigned int)s->df_mode > MG_ESP_DF_CLEAR)
		return mg_error_set(err, EINVAL, "df_mode", "unknown DF mode");
	if (s->ttl == 0)
		s->ttl = 64;
	if (s->packets.hard && s->packets.soft >= s->packets.hard)
		return mg_error_set(err, EINVAL, "packets.soft", "must be below the hard limit");
	if (s->bytes.hard && s->bytes.soft >= s->bytes.hard)
		return mg_error_set(err, EINVAL, "bytes.soft", "must be below the hard limit");
	if (s->seconds.hard && s->seconds.soft >= s->seconds.hard)
		return mg_error_set(err, EINVAL, "seconds.soft", "must be below the hard limit");
	if (s->dir == MG_ESP_INBOUND && s->owner >= (int)esp->conf.nb_workers)
		return mg_error_set(err, EINVAL, "owner", "must be -1 or a worker (0..%u)",
				    esp->conf.nb_workers - 1);
	if ((unsigned int)s->mode > MG_ESP_MODE_DIRECT)
		return mg_error_set(err, EINVAL, "mode", "unknown crypto mode");
	if (s->dir == MG_ESP_INBOUND && mg_esp_sa_lookup(esp, s->spi) != NULL)
		return mg_error_set(err, EEXIST, "spi", "an inbound SA with SPI 0x%08x exists",
				    s->spi);
	return 0;
}

/* ---- crypto ------------------------------------------------------------------------------ */

/* Transforms of an SA, pointing at the keys in @p s. */
struct esp_xforms {
	struct rte_crypto_sym_xform a;  /* First (AEAD; cipher out; auth in). */
	struct rte_crypto_sym_xform b;  /* Second, for cipher + HMAC. */
};

/* Fill the transforms for @p s; returns the head of the chain. */
static struct rte_crypto_sym_xform *
xforms_fill(const struct mg_esp_sa_spec *s, struct esp_xforms *x)
{
	bool out = s->dir == MG_ESP_OUTBOUND;

	memset(x, 0, sizeof(*x));
	if (algo_aead(s->algo)) {
		x->a.type = RTE_CRYPTO_SYM_XFORM_AEAD;
		x->a.aead.op = out ? RTE_CRYPTO_AEAD_OP_ENCRYPT : RTE_CRYPTO_AEAD_OP_DECRYPT;
		x->a.aead.algo = s->algo == MG_ESP_CHACHA20_POLY1305 ?
			RTE_CRYPTO_AEAD_CHACHA20_POLY1305 : RTE_CRYPTO_AEAD_AES_GCM;
		x->a.aead.key.data = s->enc_key;
		x->a.aead.key.length = s->enc_key_len;
		x->a.aead.iv.offset = ESP_IV_OFFSET;
		x->a.aead.iv.length = 12;
		x->a.aead.digest_length = 16;
		x->a.aead.aad_length = s->esn ? 12 : 8;
		return &x->a;
	}
	struct rte_crypto_sym_xform *ci, *au;

	ci = out ? &x->a : &x->b;
	au = out ? &x->b : &x->a;
	ci->type = RTE_CRYPTO_SYM_XFORM_CIPHER;
	ci->cipher.op = out ? RTE_CRYPTO_CIPHER_OP_ENCRYPT : RTE_CRYPTO_CIPHER_OP_DECRYPT;
	if (algo_cbc(s->algo)) {
		ci->cipher.algo = RTE_CRYPTO_CIPHER_AES_CBC;
		ci->cipher.key.data = s->enc_key;
		ci->cipher.key.length = s->enc_key_len;
		ci->cipher.iv.offset = ESP_IV_OFFSET;
		ci->cipher.iv.length = 16;
	} else {
		ci->cipher.algo = RTE_CRYPTO_CIPHER_NULL;
	}
	au->type = RTE_CRYPTO_SYM_XFORM_AUTH;
	au->auth.op = out ? RTE_CRYPTO_AUTH_OP_GENERATE : RTE_CRYPTO_AUTH_OP_VERIFY;
	au->auth.algo = RTE_CRYPTO_AUTH_SHA256_HMAC;
	au->auth.key.data = s->auth_key;
	au->auth.key.length = s->auth_key_len;
	au->auth.digest_length = 16;
	x->a.next = &x->b;
	return &x->a;
}

/* True if device @p id can run transform chain @p xf. */
static bool
dev_supports(uint8_t id, const struct rte_crypto_sym_xform *xf)
{
	for (; xf != NULL; xf = xf->next) {
		struct rte_cryptodev_sym_capability_idx idx = {.type = xf->type};
		const struct rte_cryptodev_symmetric_capability *cap;

		if (xf->type == RTE_CRYPTO_SYM_XFORM_AEAD)
			idx.algo.aead = xf->aead.algo;
		else if (xf->type == RTE_CRYPTO_SYM_XFORM_CIPHER)
			idx.algo.cipher = xf->cipher.algo;
		else
			idx.algo.auth = xf->auth.algo;
		cap = rte_cryptodev_sym_capability_get(id, &idx);
		if (cap == NULL)
			return false;
		if (xf->type == RTE_CRYPTO_SYM_XFORM_AEAD &&
		    rte_cryptodev_sym_capability_check_aead(cap, xf->aead.key.length,
			    xf->aead.digest_length, xf->aead.aad_length, xf->aead.iv.length) != 0)
			return false;
		if (xf->type == RTE_CRYPTO_SYM_XFORM_CIPHER &&
		    rte_cryptodev_sym_capability_check_cipher(cap, xf->cipher.key.length,
			    xf->cipher.iv.length) != 0)
			return false;
		if (xf->type == RTE_CRYPTO_SYM_XFORM_AUTH &&
		    rte_cryptodev_sym_capability_check_auth(cap, xf->auth.key.length,
			    xf->auth.digest_length, 0) != 0)
			return false;
	}
	return true;
}

/* Choose device and mode for an SA; 0 or -errno with @p err. */
static int
pick_device(struct mg_esp *esp, const struct mg_esp_sa_spec *s,
	    const struct rte_crypto_sym_xform *xf, struct esp_dev **out, uint8_t *mode,
	    struct mg_error *err)
{
	enum mg_esp_mode want = s->mode;
	bool forced = true;

	if (want == MG_ESP_MODE_AUTO)
		want = esp->conf.mode;
	if (want == MG_ESP_MODE_AUTO) {
		want = mg_esp_default_mode(s->algo);
		forced = false;
	}
	bool gcm = s->algo == MG_ESP_AES_GCM_128 || s->algo == MG_ESP_AES_GCM_256;

	if (want == MG_ESP_MODE_DIRECT) {
		if (!gcm && s->algo != MG_ESP_CHACHA20_POLY1305)
			return mg_error_set(err, ENOTSUP, "mode",
					    "direct mode is for AES-GCM and ChaCha20-Poly1305; "
					    "%s needs cpu or lookaside", algo_get(s->algo).name);
		/* A configured driver asks for cryptodev: AUTO follows it. */
		if (forced || esp->conf.driver == NULL) {
			int rc = esp_direct_init(esp);

			if (rc == 0) {
				*out = NULL;
				*mode = MG_ESP_MODE_DIRECT;
				return 0;
			}
			if (forced)
				return mg_error_set(err, -rc, "mode",
						    "intel-ipsec-mb is not usable here");
		}
		want = MG_ESP_MODE_CPU;
	}
	if (want == MG_ESP_MODE_CPU && algo_cbc(s->algo))
		return mg_error_set(err, ENOTSUP, "mode",
				    "CPU crypto is refused for AES-CBC: librte_ipsec 22.11 would "
				    "send the same IV in every packet; use lookaside");
	/* AES-GCM: aesni_gcm first (its CPU crypto was the fastest here). */
	static const enum esp_drv order_gcm[] = {ESP_DRV_AESNI_GCM, ESP_DRV_AESNI_MB,
						 ESP_DRV_OPENSSL};
	static const enum esp_drv order_other[] = {ESP_DRV_AESNI_MB, ESP_DRV_OPENSSL};
	const enum esp_drv *order = gcm ? order_gcm : order_other;
	unsigned int norder = gcm ? RTE_DIM(order_gcm) : RTE_DIM(order_other);
	struct esp_dev *fallback = NULL;

	for (unsigned int i = 0; i < norder; i++) {
		struct esp_dev *dv = esp_dev_get(esp, order[i]);

		if (dv == NULL || !dev_supports(dv->id, xf))
			continue;
		if (want == MG_ESP_MODE_CPU && !dv->cpu) {
			if (fallback == NULL)
				fallback = dv;
			continue;
		}
		*out = dv;
		*mode = want;
		return 0;
	}
	if (fallback != NULL && !forced) {
		*out = fallback;
		*mode = MG_ESP_MODE_LOOKASIDE;
		return 0;
	}
	return mg_error_set(err, ENOTSUP, "algo", "no crypto device offers %s%s",
			    algo_get(s->algo).name,
			    want == MG_ESP_MODE_CPU ? " with CPU crypto" : "");
}

/* ---- tunnel header template ------------------------------------------------------------- */

/* Write the outer header template of @p s into @p hdr; returns its length. */
static uint8_t
template_fill(const struct mg_esp_sa_spec *s, uint8_t *hdr)
{
	uint8_t proto = s->udp_encap ? IPPROTO_UDP : IPPROTO_ESP;
	uint8_t tos = s->dscp_mode == MG_ESP_DSCP_SET ? (uint8_t)(s->dscp << 2) : 0;

	if (s->local.family == AF_INET) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)hdr;

		memset(ip, 0, sizeof(*ip));
		ip->version_ihl = RTE_IPV4_VHL_DEF;
		ip->type_of_service = tos;
		ip->fragment_offset = s->df_mode == MG_ESP_DF_SET ?
			rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG) : 0;
		ip->time_to_live = s->ttl;
		ip->next_proto_id = proto;
		ip->src_addr = s->local.v4;
		ip->dst_addr = s->remote.v4;
		return sizeof(*ip);
	}
	struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)hdr;

	memset(ip6, 0, sizeof(*ip6));
	ip6->vtc_flow = rte_cpu_to_be_32(6u << 28 | (uint32_t)tos << RTE_IPV6_HDR_TC_SHIFT);
	ip6->proto = proto;
	ip6->hop_limits = s->ttl;
	memcpy(ip6->src_addr, s->local.v6, 16);
	memcpy(ip6->dst_addr, s->remote.v6, 16);
	return sizeof(*ip6);
}

/* ---- create / destroy ------------------------------------------------------------------- */

/* Free an unpublished SA, wiping what held keys. */
void
esp_sa_free(struct mg_esp_sa *sa)
{
	if (sa == NULL)
		return;
	/* The session's private data holds the key schedule: cryptodev zeroes it. */
	if (sa->cs != NULL)
		rte_cryptodev_sym_session_free(sa->dev_id, sa->cs);
	if (sa->isa != NULL) {
		rte_ipsec_sa_fini(sa->isa);
		rte_free(sa->isa);
	}
	esp_direct_sa_fini(sa);
	rte_free(sa->rp);
	mg_wipe(sa, sizeof(*sa) + sa->nb_workers * sizeof(sa->ws[0]));
	rte_free(sa);
}

/* Take an SA out of the table and the SPI index (no wait). */
void
esp_sa_unpublish(struct mg_esp *esp, struct mg_esp_sa *sa)
{
	if (esp->sas[sa->id] != sa)
		return;
	__atomic_store_n(&esp->sas[sa->id], NULL, __ATOMIC_RELEASE);
	esp->nb_sas--;
	if (sa->dir == MG_ESP_INBOUND) {
		esp->owned[sa->owner]--;
		if (esp_spi_rebuild(esp) != 0)
			ESP_LOG(ERR, "SPI index rebuild failed: SA %u stays findable\n", sa->id);
	}
}

/* Least loaded worker, for an inbound SA without an owner. */
static uint16_t
pick_owner(const struct mg_esp *esp)
{
	uint16_t best = 0;

	for (unsigned int w = 1; w < esp->conf.nb_workers; w++)
		if (esp->owned[w] < esp->owned[best])
			best = w;
	return best;
}

/* Create an SA. */
struct mg_esp_sa *
mg_esp_sa_create(struct mg_esp *esp, const struct mg_esp_sa_spec *spec, struct mg_error *err)
{
	struct mg_esp_sa *sa = NULL;
	struct esp_xforms xf;
	struct rte_crypto_sym_xform *chain;
	struct esp_dev *dv = NULL;
	uint8_t mode = MG_ESP_MODE_CPU;
	uint32_t id;
	size_t sz;
	int rc;

	if (rte_lcore_id() != rte_get_main_lcore()) {
		mg_error_set(err, EPERM, "", "SAs are created on the main lcore");
		return NULL;
	}
	if (esp->nb_sas >= esp->conf.max_sas) {
		mg_error_set(err, ENOSPC, "sas", "the ESP SA table is full (at most %u SAs)",
			     esp->conf.max_sas);
		return NULL;
	}
	for (id = 0; esp->sas[id] != NULL; id++)
		;
	sz = sizeof(*sa) + esp->conf.nb_workers * sizeof(sa->ws[0]);
	sa = rte_zmalloc_socket("mg_esp_sa", sz, RTE_CACHE_LINE_SIZE, esp->conf.socket_id);
	if (sa == NULL) {
		mg_error_set(err, ENOMEM, "", "out of memory for an SA");
		return NULL;
	}
	sa->nb_workers = esp->conf.nb_workers;
	sa->esp = esp;
	sa->spec = *spec;
	if (spec_check(esp, &sa->spec, err) != 0)
		goto fail;

	const struct mg_esp_sa_spec *s = &sa->spec;
	struct algo_desc d = algo_get(s->algo);

	chain = xforms_fill(s, &xf);
	if (pick_device(esp, s, chain, &dv, &mode, err) != 0)
		goto fail;

	uint8_t hdr[64];
	uint8_t hdr_len = template_fill(s, hdr);

	if (mode == MG_ESP_MODE_DIRECT) {
		/* No crypto device, no librte_ipsec SA: esp_direct.c. */
		rc = esp_direct_sa_init(sa, s->algo, s->enc_key, s->enc_key_len, s->salt,
					esp->conf.socket_id);
		if (rc != 0) {
			mg_error_set(err, -rc, "algo", "intel-ipsec-mb refused the %s key", d.name);
			goto fail;
		}
		rte_strscpy(sa->device, "intel-ipsec-mb", sizeof(sa->device));
		/* The outer header template, with NAT-T's UDP header (lengths set per packet). */
		memcpy(sa->tmpl, hdr, hdr_len);
		if (s->udp_encap) {
			struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(sa->tmpl + hdr_len);

			udp->src_port = rte_cpu_to_be_16(s->local_port);
			udp->dst_port = rte_cpu_to_be_16(s->remote_port);
			udp->dgram_len = 0;
			udp->dgram_cksum = 0;
		}
		sa->oseq = s->initial_seq;
	} else {
		sa->cs = rte_cryptodev_sym_session_create(dv->id, chain, dv->sess_pool);
		if (sa->cs == NULL) {
			mg_error_set(err, rte_errno ? rte_errno : EINVAL, "algo",
				     "crypto device %s refused the session", dv->name);
			goto fail;
		}
		sa->dev_id = dv->id;
		rte_strscpy(sa->device, dv->name, sizeof(sa->device));

		/* The librte_ipsec SA. */
		struct rte_ipsec_sa_prm prm;

		memset(&prm, 0, sizeof(prm));
		prm.userdata = (uintptr_t)sa;
		prm.flags = s->dir == MG_ESP_OUTBOUND ? RTE_IPSEC_SAFLAG_SQN_ATOM : 0;
		prm.ipsec_xform.spi = s->spi;
		memcpy(&prm.ipsec_xform.salt, s->salt, sizeof(prm.ipsec_xform.salt));
		prm.ipsec_xform.options.esn = s->esn;
		/* Inbound NAT-T is handled here (the UDP header is cut with the outer one). */
		prm.ipsec_xform.options.udp_encap = s->udp_encap && s->dir == MG_ESP_OUTBOUND;
		prm.ipsec_xform.udp.sport = s->local_port;
		prm.ipsec_xform.udp.dport = s->remote_port;
		prm.ipsec_xform.direction = s->dir == MG_ESP_OUTBOUND ?
			RTE_SECURITY_IPSEC_SA_DIR_EGRESS : RTE_SECURITY_IPSEC_SA_DIR_INGRESS;
		prm.ipsec_xform.proto = RTE_SECURITY_IPSEC_SA_PROTO_ESP;
		prm.ipsec_xform.mode = RTE_SECURITY_IPSEC_SA_MODE_TUNNEL;
		prm.ipsec_xform.tunnel.type = s->local.family == AF_INET ?
			RTE_SECURITY_IPSEC_TUNNEL_IPV4 : RTE_SECURITY_IPSEC_TUNNEL_IPV6;
		/* librte_ipsec checks replays too: off with ours (no_replay refuses ESN, see spec_check). */
		prm.ipsec_xform.replay_win_sz =
			s->dir == MG_ESP_INBOUND && !s->no_replay ? s->replay_window : 0;
		prm.ipsec_xform.esn.value = s->initial_seq;
		prm.crypto_xform = chain;
		prm.tun.hdr_len = hdr_len;
		prm.tun.hdr_l3_off = 0;
		prm.tun.next_proto = s->inner_family == AF_INET ? IPPROTO_IPIP : IPPROTO_IPV6;
		prm.tun.hdr = hdr;
		rc = rte_ipsec_sa_size(&prm);
		if (rc < 0) {
			mg_error_set(err, -rc, "", "librte_ipsec refused the SA parameters");
			goto fail;
		}
		sa->isa = rte_zmalloc_socket("mg_esp_isa", rc, RTE_CACHE_LINE_SIZE,
					     esp->conf.socket_id);
		if (sa->isa == NULL) {
			mg_error_set(err, ENOMEM, "", "out of memory for an SA");
			goto fail;
		}
		rc = rte_ipsec_sa_init(sa->isa, &prm, rc);
		if (rc < 0) {
			rte_free(sa->isa);
			sa->isa = NULL;
			mg_error_set(err, -rc, "", "librte_ipsec refused the SA parameters");
			goto fail;
		}
		sa->ss.sa = sa->isa;
		sa->ss.type = mode == MG_ESP_MODE_CPU ? RTE_SECURITY_ACTION_TYPE_CPU_CRYPTO :
							RTE_SECURITY_ACTION_TYPE_NONE;
		sa->ss.crypto.ses = sa->cs;
		sa->ss.crypto.dev_id = dv->id;
		rc = rte_ipsec_session_prepare(&sa->ss);
		if (rc != 0) {
			mg_error_set(err, -rc, "mode", "librte_ipsec refused the session");
			goto fail;
		}
	}

	/* What the data path reads. */
	sa->esp = esp;
	sa->spi_be = rte_cpu_to_be_32(s->spi);
	sa->dir = s->dir;
	sa->outer_family = s->local.family;
	sa->inner_family = s->inner_family;
	sa->mode = mode;
	sa->natt = s->udp_encap;
	sa->ecn_mode = s->ecn_mode;
	sa->dscp_mode = s->dscp_mode;
	sa->df_mode = s->df_mode;
	sa->tos_set = (uint8_t)(s->dscp << 2);
	sa->cbc = algo_cbc(s->algo);
	sa->has_hard = s->packets.hard != 0 || s->bytes.hard != 0;
	sa->life_pkts = s->packets.hard ? s->packets.hard : UINT64_MAX;
	sa->life_bytes = s->bytes.hard ? s->bytes.hard : UINT64_MAX;
	sa->outer_hlen = outer_hdr(sa->outer_family, sa->natt);
	sa->pad_align = d.block;
	sa->esp_fixed = 8 + d.iv + d.icv;
	sa->nh_from_end = (uint8_t)(d.icv + (s->esn && !algo_aead(s->algo) ? 4 : 0) + 1);
	sa->need_head = sa->outer_hlen + 8 + d.iv;
	if (s->dir == MG_ESP_OUTBOUND)
		sa->need_tail = d.block + 1 + d.icv + (s->esn ? 4 : 0) +
				(algo_aead(s->algo) ? 16 : 0);
	else
		sa->need_tail = (s->esn ? 4 : 0) + (algo_aead(s->algo) ? 16 : 0);
	sa->local_port_be = rte_cpu_to_be_16(s->local_port);
	sa->esn = s->esn;
	sa->no_replay = s->no_replay;
	if (sa->outer_family == AF_INET) {
		/* The words the data path does not rewrite: TTL/protocol and the addresses. */
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)hdr;

		ip->version_ihl = 0;
		ip->type_of_service = 0;
		ip->total_length = 0;
		ip->packet_id = 0;
		ip->fragment_offset = 0;
		ip->hdr_checksum = 0;
		sa->ip4_sum = rte_raw_cksum(ip, sizeof(*ip));
	}
	if (s->dir == MG_ESP_INBOUND) {
		/*
		 * Enough words for any W bits (a window of W not a multiple of 64
		 * spans up to W / 64 rounded up, plus one), and the top word never
		 * shares a slot with the window's oldest.
		 */
		uint32_t words = rte_align32pow2((s->replay_window + 63) / 64 + 1);

		sa->rp = rte_zmalloc_socket("mg_esp_replay",
					    sizeof(*sa->rp) + words * sizeof(sa->rp->bits[0]),
					    RTE_CACHE_LINE_SIZE, esp->conf.socket_id);
		if (sa->rp == NULL) {
			mg_error_set(err, ENOMEM, "", "out of memory for an SA");
			goto fail;
		}
		sa->rp->top = s->initial_seq;
		sa->rp->win = s->replay_window;
		sa->rp->mask = words - 1;
	}
	memcpy(sa->local, s->local.bytes, 16);
	memcpy(sa->remote, s->remote.bytes, 16);
	sa->created_ns = mg_now_ns();
	sa->owner = 0;
	if (s->dir == MG_ESP_INBOUND) {
		sa->owner = s->owner >= 0 ? (uint16_t)s->owner : pick_owner(esp);
		sa->spec.owner = sa->owner;
	}

	/* Publish. */
	sa->id = id;
	sa->gen = ++esp->gens[id];
	__atomic_store_n(&esp->sas[id], sa, __ATOMIC_RELEASE);
	esp->nb_sas++;
	if (s->dir == MG_ESP_INBOUND) {
		esp->owned[sa->owner]++;
		if (esp_spi_rebuild(esp) != 0) {
			mg_error_set(err, ENOMEM, "", "out of memory for the SPI index");
			esp_sa_unpublish(esp, sa);
			goto fail;
		}
	}
	ESP_LOG(DEBUG, "SA %u: %s SPI 0x%08x %s, %s on %s\n", id,
		s->dir == MG_ESP_OUTBOUND ? "outbound" : "inbound", s->spi, d.name,
		mg_esp_mode_name(mode), sa->device);
	return sa;
fail:
	esp_sa_free(sa);
	return NULL;
}

/* Delete an SA now. */
void
mg_esp_sa_destroy(struct mg_esp *esp, struct mg_esp_sa *sa)
{
	if (sa == NULL)
		return;
	RTE_VERIFY(rte_lcore_id() == rte_get_main_lcore());
	esp_sa_unpublish(esp, sa);
	/*
	 * Workers may still hold the SA: one found by SPI or through an
	 * outbound slot in the walk they are in. Handoff rings name it by index
	 * and generation, which no longer match once the slot is empty.
	 */
	esp_sync(esp);
	/*
	 * Crypto ops in flight name it too (asynchronous lookaside); nothing
	 * enqueues more now. Their workers take them back within a walk or two.
	 */
	for (unsigned int i = 0; esp->conf.rcu != NULL && esp_sa_inflight(sa) != 0 && i < 2000; i++)
		rte_delay_us_sleep(500);
	if (esp_sa_inflight(sa) != 0) {
		/* Workers stopped: mg_esp_drain (or a later mg_esp_poll) frees it. */
		ESP_LOG(WARNING, "SA %u: %" PRIu64 " packets still in flight, freed later\n",
			sa->id, esp_sa_inflight(sa));
		sa->zombie_next = esp->zombies;
		esp->zombies = sa;
		return;
	}
	/* The worker that finished the last one may still read it until its walk ends. */
	esp_sync(esp);
	esp_sa_free(sa);
}

/* Free the deleted SAs whose packets all came back (main lcore). */
void
esp_zombies_reap(struct mg_esp *esp)
{
	struct mg_esp_sa **pp = &esp->zombies;

	while (*pp != NULL) {
		struct mg_esp_sa *sa = *pp;

		if (esp_sa_inflight(sa) != 0) {
			pp = &sa->zombie_next;
			continue;
		}
		*pp = sa->zombie_next;
		esp_sync(esp);
		esp_sa_free(sa);
	}
}

/* Retire an inbound SA. */
int
mg_esp_sa_retire(struct mg_esp *esp, struct mg_esp_sa *sa, uint32_t idle_ms, uint32_t grace_ms)
{
	struct mg_esp_sa_stats st;
	uint64_t now = mg_now_ns();

	if (rte_lcore_id() != rte_get_main_lcore() || sa->dir != MG_ESP_INBOUND)
		return -EINVAL;
	mg_esp_sa_stats(sa, &st);
	sa->retire_ns = now;
	sa->retire_moved_ns = now;
	sa->retire_pkts = st.packets;
	sa->retire_idle_ns = (uint64_t)idle_ms * 1000000;
	sa->retire_grace_ns = (uint64_t)grace_ms * 1000000;
	uint32_t active = MG_ESP_STATE_ACTIVE;

	__atomic_compare_exchange_n(&sa->state, &active, MG_ESP_STATE_RETIRING, false,
				    __ATOMIC_RELEASE, __ATOMIC_RELAXED);
	return 0;
}

/* Stop an SA: expired now, no hard-lifetime event. */
void
mg_esp_sa_stop(struct mg_esp *esp, struct mg_esp_sa *sa)
{
	(void)esp;
	if (sa == NULL || rte_lcore_id() != rte_get_main_lcore())
		return;
	sa->hard_done = true;
	__atomic_store_n(&sa->expired_by, MG_ESP_LIMIT_NONE, __ATOMIC_RELAXED);
	__atomic_store_n(&sa->state, MG_ESP_STATE_EXPIRED, __ATOMIC_RELEASE);
}

/* ---- accessors and views ----------------------------------------------------------------- */

/* Direction. */
enum mg_esp_dir
mg_esp_sa_dir(const struct mg_esp_sa *sa)
{
	return sa->dir;
}

/* SPI. */
uint32_t
mg_esp_sa_spi(const struct mg_esp_sa *sa)
{
	return rte_be_to_cpu_32(sa->spi_be);
}

/* Owner worker. */
unsigned int
mg_esp_sa_owner(const struct mg_esp_sa *sa)
{
	return sa->owner;
}

/* The caller's value. */
uint64_t
mg_esp_sa_user(const struct mg_esp_sa *sa)
{
	return sa->spec.user;
}

/* Sum the per-worker counters. */
void
mg_esp_sa_stats(const struct mg_esp_sa *sa, struct mg_esp_sa_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (unsigned int w = 0; w < sa->nb_workers; w++) {
		const struct esp_sa_wstats *ws = &sa->ws[w];

		st->packets += __atomic_load_n(&ws->packets, __ATOMIC_RELAXED);
		st->bytes += __atomic_load_n(&ws->bytes, __ATOMIC_RELAXED);
		for (int e = 1; e < MG_ESP_ERR_MAX; e++)
			st->errors[e] += __atomic_load_n(&ws->err[e], __ATOMIC_RELAXED);
	}
	st->replay = st->errors[MG_ESP_ERR_REPLAY];
	st->auth = st->errors[MG_ESP_ERR_AUTH];
	for (int e = 1; e < MG_ESP_ERR_MAX; e++)
		if (e != MG_ESP_ERR_REPLAY && e != MG_ESP_ERR_AUTH)
			st->other += st->errors[e];
}

/* Sequence number position (see mg_esp.h). */
uint64_t
mg_esp_sa_seq(const struct mg_esp_sa *sa)
{
	struct mg_esp_sa_stats st;
	uint64_t used;

	if (sa->dir == MG_ESP_INBOUND)
		return __atomic_load_n(&sa->rp->top, __ATOMIC_RELAXED);
	/*
	 * Every packet that reached librte_ipsec's prepare step took a number
	 * and ended processed or failed; failures before that step (no room,
	 * bad inner packet, expired) took none: the sum bounds the numbers used.
	 */
	mg_esp_sa_stats(sa, &st);
	used = st.packets;
	for (int e = 1; e < MG_ESP_ERR_MAX; e++)
		used += st.errors[e];
	return sa->spec.initial_seq + used;
}

/* The redacted view. */
void
mg_esp_sa_info(const struct mg_esp_sa *sa, struct mg_esp_sa_info *info)
{
	const struct mg_esp_sa_spec *s = &sa->spec;

	memset(info, 0, sizeof(*info));
	info->id = sa->id;
	info->spi = s->spi;
	info->dir = s->dir;
	info->algo = s->algo;
	info->key_bits = s->enc_key_len * 8;
	info->local = s->local;
	info->remote = s->remote;
	info->inner_family = s->inner_family;
	info->udp_encap = s->udp_encap;
	info->local_port = s->local_port;
	info->remote_port = s->remote_port;
	info->replay_window = s->replay_window;
	info->esn = s->esn;
	info->dscp_mode = s->dscp_mode;
	info->dscp = s->dscp;
	info->ecn_mode = s->ecn_mode;
	info->df_mode = s->df_mode;
	info->ttl = s->ttl;
	info->packets = s->packets;
	info->bytes = s->bytes;
	info->seconds = s->seconds;
	info->state = __atomic_load_n(&sa->state, __ATOMIC_ACQUIRE);
	info->owner = sa->owner;
	info->mode = sa->mode;
	rte_strscpy(info->device, sa->device, sizeof(info->device));
	info->age_ms = (mg_now_ns() - sa->created_ns) / 1000000;
	info->user = s->user;
}

/* The SA and its counters as JSON, keys redacted. */
int
mg_esp_sa_format(const struct mg_esp_sa *sa, char *buf, size_t size)
{
	static const char *const states[] = {"active", "retiring", "expired"};
	static const char *const dfs[] = {"copy", "set", "clear"};
	static const char *const ecns[] = {"normal", "compat", "off"};
	struct mg_esp_sa_info i;
	struct mg_esp_sa_stats st;
	char l[MG_IP_STRLEN], r[MG_IP_STRLEN];
	const char *sep = "";
	int n, k;

	mg_esp_sa_info(sa, &i);
	mg_esp_sa_stats(sa, &st);
	n = snprintf(buf, size,
		"{\"id\":%u,\"spi\":%u,\"dir\":\"%s\",\"algo\":\"%s\",\"key\":\"<redacted>\","
		"\"key_bits\":%u,\"local\":\"%s\",\"remote\":\"%s\",\"inner\":\"%s\","
		"\"udp_encap\":%s,\"local_port\":%u,\"remote_port\":%u,\"replay_window\":%u,"
		"\"esn\":%s,\"dscp\":%s,\"ecn\":\"%s\",\"df\":\"%s\",\"ttl\":%u,"
		"\"lifetime\":{\"packets\":[%" PRIu64 ",%" PRIu64 "],\"bytes\":[%" PRIu64 ",%" PRIu64
		"],\"seconds\":[%" PRIu64 ",%" PRIu64 "]},\"state\":\"%s\",\"owner\":%u,"
		"\"mode\":\"%s\",\"device\":\"%s\",\"age_ms\":%" PRIu64 ","
		"\"stats\":{\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"replay\":%" PRIu64
		",\"auth\":%" PRIu64 ",\"other\":%" PRIu64 ",\"errors\":{",
		i.id, i.spi, i.dir == MG_ESP_OUTBOUND ? "out" : "in", mg_esp_algo_name(i.algo),
		i.key_bits, mg_ip_fmt(&i.local, l, sizeof(l)), mg_ip_fmt(&i.remote, r, sizeof(r)),
		i.inner_family == AF_INET ? "ipv4" : "ipv6", i.udp_encap ? "true" : "false",
		i.local_port, i.remote_port, i.replay_window, i.esn ? "true" : "false",
		i.dscp_mode == MG_ESP_DSCP_COPY ? "\"copy\"" : "\"set\"", ecns[i.ecn_mode],
		dfs[i.df_mode], i.ttl, i.packets.soft, i.packets.hard, i.bytes.soft, i.bytes.hard,
		i.seconds.soft, i.seconds.hard, states[i.state], i.owner,
		mg_esp_mode_name(i.mode), i.device, i.age_ms, st.packets,
		st.bytes, st.replay, st.auth, st.other);
	/* Failures by reason (only those that happened), under their counter names. */
	for (unsigned int e = MG_ESP_ERR_NONE + 1; e < MG_ESP_ERR_MAX && n >= 0; e++) {
		if (st.errors[e] == 0)
			continue;
		k = snprintf(buf + RTE_MIN((size_t)n, size), size - RTE_MIN((size_t)n, size),
			     "%s\"%s\":%" PRIu64, sep, mg_esp_err_name(e), st.errors[e]);
		n = k < 0 ? k : n + k;
		sep = ",";
	}
	if (n < 0)
		return n;
	k = snprintf(buf + RTE_MIN((size_t)n, size), size - RTE_MIN((size_t)n, size), "}}}");
	return k < 0 ? k : n + k;
}
