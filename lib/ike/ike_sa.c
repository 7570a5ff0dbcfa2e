/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The IKEv2 engine: peers, IKE SAs and their exchanges (RFC 7296 1.2-1.4):
 *   IKE_SA_INIT   HDR, SAi1, KEi, Ni, N(NAT_D)x2  <->  HDR, SAr1, KEr, Nr, N(NAT_D)x2
 *   IKE_AUTH      HDR, SK{IDi, [IDr,] AUTH, SAi2, TSi, TSr}  <->  HDR, SK{IDr, AUTH, SAr2, TSi, TSr}
 *   INFORMATIONAL HDR, SK{[D]...} <-> HDR, SK{[D]...}  (liveness, delete)
 * Each IKE SA keeps the last request it sent (retransmitted with backoff
 * until answered) and the last response (sent again when the peer repeats
 * its request), as RFC 7296 2.1 and 2.2 ask.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ike_priv.h"

#define NONCE_LEN 32
#define NANOS 1000000000ull
#define MS 1000000ull
#define RETRY_FAILED_NS (10 * NANOS)   /* an initiator tries again this long after a failure */

enum req_kind { REQ_NONE = 0, REQ_INIT, REQ_AUTH, REQ_DPD, REQ_DELETE, REQ_CHILD_REKEY,
		REQ_IKE_REKEY, REQ_DELETE_OLD /* of an IKE SA our rekey replaced */ };

struct ike_sa {
	bool initiator;                 /* we are the original initiator */
	bool replaced;                  /* rekeyed by us: only its Delete is pending (p->next) */
	bool ke_retried;                /* IKE_SA_INIT sent again with the group the peer asked */
	enum mg_ike_state state;
	uint64_t spi_i, spi_r;
	struct mg_ike_proposal prop;    /* IKE */
	struct mg_ike_proposal esp;     /* CHILD_SA */
	uint8_t ni[256], nr[256];
	uint16_t ni_len, nr_len;
	struct ike_dh *dh;
	uint16_t dh_group;
	struct ike_keylens kl;
	uint8_t sk_d[IKE_PRF_MAX], sk_pi[IKE_PRF_MAX], sk_pr[IKE_PRF_MAX];
	struct ike_sk_keys ski, skr;    /* initiator's and responder's SK_e/SK_a */
	uint8_t *msg1, *msg2;           /* IKE_SA_INIT request and response (for AUTH) */
	size_t msg1_len, msg2_len;
	uint8_t cookie[64];
	uint8_t cookie_len;
	/* Our outstanding request. */
	uint8_t *req;
	size_t req_len;
	uint32_t req_msgid;
	enum req_kind req_kind;
	uint64_t req_next_ns;
	uint32_t req_rto_ms;
	uint8_t req_tries;
	uint32_t next_msgid;            /* of our next request */
	/* The peer's requests. */
	uint32_t peer_msgid;            /* expected next */
	uint8_t *resp;                  /* last response sent */
	size_t resp_len;
	uint32_t resp_msgid;
	bool resp_natt;
	/* Paths. */
	bool natt;                      /* port 4500 with the marker */
	uint16_t remote_port;
	/* CHILD_SA. */
	uint32_t child_spi_in, child_spi_out;
	uint32_t old_spi_in, old_spi_out;   /* the CHILD_SA a rekey replaced (until deleted) */
	uint32_t child_rekeys;
	bool child_up;
	uint64_t established_ns, expires_ns, last_rx_ns;
	/* Our own CHILD_SA rekey (CREATE_CHILD_SA) as the original responder. */
	uint64_t child_rekey_ns;        /* when (0: not scheduled) */
	uint32_t rk_spi_in;             /* the new inbound SPI offered */
	uint8_t rk_ni[NONCE_LEN];       /* our nonce in that exchange */
	struct ike_dh *rk_dh;           /* its KE's key pair (PFS), or NULL */
	/* The peer's rekey we answered: our new outbound SA, installed once it deletes the old. */
	struct mg_ike_child_keys pending_out;
	uint64_t pending_out_ns;        /* the latest moment to install it (0: nothing pending) */
	struct ike_sa *rk_new;          /* the IKE SA our CREATE_CHILD_SA rekey is building */
	bool peer_7427;                 /* the peer sent SIGNATURE_HASH_ALGORITHMS with SHA-2 */
	bool peer_certreq;              /* the peer asked for certificates (CERTREQ) */
};

struct ike_peer {
	struct mg_ike_peer_conf c;
	struct ike_sa *sa;              /* the current IKE SA (or the one being built) */
	struct ike_sa *next;            /* a replacement being built (re-authentication) */
	uint64_t next_try_ns;
	uint16_t dh_group;              /* group of the next KE (after INVALID_KE_PAYLOAD) */
	uint32_t rekeys;
	enum mg_ike_reason last_error;
	struct ike_creds cr;            /* MG_IKE_AUTH_PUBKEY: keys, certificates, CAs */
};

struct mg_ike {
	struct mg_ike_ops ops;
	struct ike_peer *peers[MG_IKE_MAX_PEERS];
	unsigned int npeers;
	struct mg_ike_stats st;
	struct ike_buf buf;             /* scratch for building messages */
	/* Cookies (RFC 7296 2.6): demanded while IKE_SA_INIT requests come faster than this. */
	unsigned int cookie_rate;       /* per second; 0: always */
	unsigned int init_count;        /* requests in the current second */
	uint64_t init_window_ns;        /* start of that second */
	uint8_t cookie_secret[32];
	uint8_t plain[MG_IKE_MAX_MSG];  /* scratch for decrypted SK contents */
	uint64_t now;
};

/* Index of @p p in the engine. */
static unsigned int
peer_idx(const struct mg_ike *e, const struct ike_peer *p)
{
	for (unsigned int i = 0; i < e->npeers; i++)
		if (e->peers[i] == p)
			return i;
	return 0;
}

#define EV(e, p, lvl, ...)                                                                  \
	do {                                                                               \
		if ((e)->ops.event != NULL) {                                              \
			char _m[256];                                                      \
			snprintf(_m, sizeof(_m), __VA_ARGS__);                             \
			(e)->ops.event((e)->ops.arg, peer_idx(e, p), lvl, _m);             \
		}                                                                          \
	} while (0)

static void install_pending_out(struct mg_ike *e, struct ike_peer *p, struct ike_sa *sa);

static void
sa_event(struct mg_ike *e, const struct ike_peer *p, enum mg_ike_event ev, enum mg_ike_reason r)
{
	if (e->ops.sa_event != NULL)
		e->ops.sa_event(e->ops.arg, peer_idx(e, p), ev, r);
}
static void put_sig_hashes(struct mg_ike *e, const struct ike_peer *p);

/*
 * The ESP proposals of IKE_AUTH's CHILD_SA: without their PFS groups (that
 * exchange has no KE; RFC 7296 1.2). Returns how many.
 */
static unsigned int
esp_first(const struct ike_peer *p, struct mg_ike_proposal *out)
{
	for (unsigned int i = 0; i < p->c.nesp; i++) {
		out[i] = p->c.esp[i];
		out[i].dh = 0;
	}
	return p->c.nesp;
}

/* ---- SA lifecycle ---------------------------------------------------------------------- */

static void
blob_free(uint8_t **b, size_t *len)
{
	if (*b != NULL) {
		mg_wipe(*b, *len);
		free(*b);
	}
	*b = NULL;
	*len = 0;
}

static int
blob_set(uint8_t **b, size_t *len, const uint8_t *src, size_t n)
{
	blob_free(b, len);
	*b = malloc(n);
	if (*b == NULL)
		return -ENOMEM;
	memcpy(*b, src, n);
	*len = n;
	return 0;
}

static void
sa_free(struct ike_sa *sa)
{
	if (sa == NULL)
		return;
	sa_free(sa->rk_new);
	ike_dh_free(sa->dh);
	ike_dh_free(sa->rk_dh);
	blob_free(&sa->msg1, &sa->msg1_len);
	blob_free(&sa->msg2, &sa->msg2_len);
	blob_free(&sa->req, &sa->req_len);
	blob_free(&sa->resp, &sa->resp_len);
	mg_wipe(sa, sizeof(*sa));
	free(sa);
}

static uint64_t
rand64(void)
{
	uint64_t v = 0;

	while (v == 0)
		if (ike_random(&v, sizeof(v)) < 0)
			return 0x1234567890abcdefull ^ (uint64_t)rand();
	return v;
}

static uint32_t
child_spi(void)
{
	uint32_t v = 0;

	while (v < 256)
		if (ike_random(&v, sizeof(v)) < 0)
			v = (uint32_t)rand();
	return v;
}

static struct ike_sa *
sa_new(bool initiator)
{
	struct ike_sa *sa = calloc(1, sizeof(*sa));

	if (sa == NULL)
		return NULL;
	sa->initiator = initiator;
	sa->remote_port = MG_IKE_PORT;
	return sa;
}

/* ---- sending ---------------------------------------------------------------------------- */

static void
tx(struct mg_ike *e, struct ike_peer *p, const struct ike_sa *sa, const uint8_t *msg, size_t len,
   bool natt)
{
	struct mg_ike_dgram d = {
		.src = p->c.local,
		.dst = p->c.remote,
		.sport = natt ? MG_IKE_NATT_PORT : MG_IKE_PORT,
		.dport = sa->remote_port,
		.marker = natt,
	};

	e->st.tx++;
	e->ops.send(e->ops.arg, peer_idx(e, p), &d, msg, len);
}

/* Send the message in e->buf as a new request of @p sa and keep it for retransmission. */
static int
send_request(struct mg_ike *e, struct ike_peer *p, struct ike_sa *sa, enum req_kind kind)
{
	struct ike_buf *b = &e->buf;

	if (b->overflow || blob_set(&sa->req, &sa->req_len, b->b, b->len) < 0)
		return -ENOMEM;
	sa->req_kind = kind;
	sa->req_msgid = (uint32_t)(b->b[20] << 24 | b->b[21] << 16 | b->b[22] << 8 | b->b[23]);
	sa->req_rto_ms = p->c.retransmit_ms ? p->c.retransmit_ms : 1000;
	sa->req_tries = 1;
	sa->req_next_ns = e->now + (uint64_t)sa->req_rto_ms * MS;
	tx(e, p, sa, sa->req, sa->req_len, sa->natt);
	return 0;
}

/* Send the message in e->buf as the response to the peer's request, and keep it. */
static void
send_response(struct mg_ike *e, struct ike_peer *p, struct ike_sa *sa, uint32_t msgid)
{
	struct ike_buf *b = &e->buf;

	if (b->overflow)
		return;
	if (blob_set(&sa->resp, &sa->resp_len, b->b, b->len) == 0) {
		sa->resp_msgid = msgid;
		sa->resp_natt = sa->natt;
	}
	tx(e, p, sa, b->b, b->len, sa->natt);
}

/* Our SK keys for sending, and the peer's. */
static const struct ike_sk_keys *
keys_out(const struct ike_sa *sa)
{
	return sa->initiator ? &sa->ski : &sa->skr;
}

static const struct ike_sk_keys *
keys_in(const struct ike_sa *sa)
{
	return sa->initiator ? &sa->skr : &sa->ski;
}

/* Start an encrypted message in e->buf; returns the SK payload's offset. */
static size_t
sk_begin(struct mg_ike *e, const struct ike_sa *sa, uint8_t exchange, bool response,
	 uint32_t msgid)
{
	uint8_t flags = (uint8_t)((sa->initiator ? IKE_FLAG_I : 0) | (response ? IKE_FLAG_R : 0));

	ike_buf_init(&e->buf, sa->spi_i, sa->spi_r, exchange, flags, msgid);
	return ike_pl_begin(&e->buf, IKE_PL_SK);
}

static int
sk_end(struct mg_ike *e, const struct ike_sa *sa, size_t sk_off)
{
	return ike_sk_encrypt(&sa->prop, keys_out(sa), &e->buf, sk_off);
}

/* An unencrypted IKE_SA_INIT error response (NO_PROPOSAL_CHOSEN, INVALID_KE_PAYLOAD). */
static void
send_init_error(struct mg_ike *e, struct ike_peer *p, const struct ike_msg *m, uint16_t type,
		const void *data, size_t len, const struct mg_ike_dgram *d)
{
	struct ike_sa tmp = {.remote_port = d->sport};

	ike_buf_init(&e->buf, m->spi_i, 0, IKE_SA_INIT, IKE_FLAG_R, 0);
	ike_put_notify(&e->buf, 0, type, data, len);
	ike_buf_finish(&e->buf);
	tx(e, p, &tmp, e->buf.b, e->buf.len, d->marker);
}

/* ---- NAT detection -------------------------------------------------------------------- */

static void
natd_hash(uint64_t spi_i, uint64_t spi_r, const struct mg_ip *ip, uint16_t port, uint8_t out[20])
{
	uint8_t buf[8 + 8 + 16 + 2];
	size_t n = 0, alen = ip->family == AF_INET ? 4 : 16;

	for (int i = 7; i >= 0; i--)
		buf[n++] = (uint8_t)(spi_i >> (i * 8));
	for (int i = 7; i >= 0; i--)
		buf[n++] = (uint8_t)(spi_r >> (i * 8));
	memcpy(buf + n, ip->bytes, alen);
	n += alen;
	buf[n++] = (uint8_t)(port >> 8);
	buf[n++] = (uint8_t)port;
	ike_sha1(buf, n, NULL, 0, out);
}

static void
put_natd(struct mg_ike *e, const struct ike_peer *p, const struct ike_sa *sa, uint16_t rport)
{
	uint8_t h[20];

	natd_hash(sa->spi_i, sa->spi_r, &p->c.local, MG_IKE_PORT, h);
	if (p->c.udp_encap)
		ike_random(h, sizeof(h)); /* force UDP encapsulation: claim a NAT in front of us */
	ike_put_notify(&e->buf, 0, IKE_N_NAT_DETECTION_SOURCE_IP, h, sizeof(h));
	natd_hash(sa->spi_i, sa->spi_r, &p->c.remote, rport, h);
	ike_put_notify(&e->buf, 0, IKE_N_NAT_DETECTION_DESTINATION_IP, h, sizeof(h));
}

/* True when the peer's NAT_D payloads show a NAT (or a peer forcing encapsulation). */
static bool
natd_check(const struct ike_msg *m, const struct ike_peer *p, const struct mg_ike_dgram *d,
	   uint64_t spi_i, uint64_t spi_r, bool *present)
{
	struct ike_notify_pl n;
	uint8_t h[20];
	bool nat = false, src_ok = false;

	*present = false;
	/* Their source: any one of their NAT_DETECTION_SOURCE_IP may match. */
	natd_hash(spi_i, spi_r, &d->src, d->sport, h);
	for (unsigned int i = 0; i < m->npl; i++) {
		if (m->pl[i].type != IKE_PL_NOTIFY || ike_notify_decode(&m->pl[i], &n) < 0 ||
		    n.type != IKE_N_NAT_DETECTION_SOURCE_IP)
			continue;
		*present = true;
		if (n.data_len == 20 && memcmp(n.data, h, 20) == 0)
			src_ok = true;
	}
	if (*present && !src_ok)
		nat = true;
	if (ike_notify_find(m->pl, m->npl, IKE_N_NAT_DETECTION_DESTINATION_IP, &n)) {
		natd_hash(spi_i, spi_r, &p->c.local, d->dport, h);
		if (n.data_len != 20 || memcmp(n.data, h, 20) != 0)
			nat = true;
	}
	return nat;
}

/* ---- keys ------------------------------------------------------------------------------- */

/* SKEYSEED and the seven keys (RFC 7296 2.14). */
static int
derive_ike_keys(struct ike_sa *sa, const uint8_t *gir, size_t girlen, const struct ike_sa *old)
{
	uint8_t skeyseed[IKE_PRF_MAX], seed[256 + 256 + 16], km[7 * 48];
	const unsigned int h = ike_prf_len(sa->prop.prf);
	size_t n = 0, need, off = 0;
	int rc = -1;

	if (ike_keylens(&sa->prop, &sa->kl) < 0 || h == 0)
		return -1;
	memcpy(seed, sa->ni, sa->ni_len);
	memcpy(seed + sa->ni_len, sa->nr, sa->nr_len);
	n = sa->ni_len + sa->nr_len;
	if (old == NULL ? ike_prf(sa->prop.prf, seed, n, gir, girlen, NULL, 0, skeyseed) < 0
			/* Rekey (RFC 7296 2.18): prf(SK_d (old), g^ir (new) | Ni | Nr), the old PRF. */
			: ike_prf(old->prop.prf, old->sk_d, ike_prf_len(old->prop.prf), gir, girlen,
				  seed, n, skeyseed) < 0)
		goto out;
	for (int i = 7; i >= 0; i--)
		seed[n++] = (uint8_t)(sa->spi_i >> (i * 8));
	for (int i = 7; i >= 0; i--)
		seed[n++] = (uint8_t)(sa->spi_r >> (i * 8));
	need = 3 * h + 2 * sa->kl.integ + 2 * sa->kl.enc;
	if (need > sizeof(km) || ike_prf_plus(sa->prop.prf, skeyseed, h, seed, n, km, need) < 0)
		goto out;
	memcpy(sa->sk_d, km + off, h), off += h;
	memcpy(sa->ski.a, km + off, sa->kl.integ), off += sa->kl.integ;
	memcpy(sa->skr.a, km + off, sa->kl.integ), off += sa->kl.integ;
	memcpy(sa->ski.e, km + off, sa->kl.enc), off += sa->kl.enc;
	memcpy(sa->skr.e, km + off, sa->kl.enc), off += sa->kl.enc;
	memcpy(sa->sk_pi, km + off, h), off += h;
	memcpy(sa->sk_pr, km + off, h);
	rc = 0;
out:
	mg_wipe(skeyseed, sizeof(skeyseed));
	mg_wipe(km, sizeof(km));
	return rc;
}

/*
 * AUTH for PSK (RFC 7296 2.15): prf(prf(PSK, "Key Pad for IKEv2"),
 * <message> | <peer's nonce> | prf(SK_p, <ID payload body>)).
 */
/*
 * What AUTH covers (RFC 7296 2.15): <message> | <peer's nonce> |
 * prf(SK_p, <ID payload body>), of the initiator or the responder.
 * Returns a malloc'd buffer (*len bytes), or NULL.
 */
static uint8_t *
auth_octets(const struct ike_sa *sa, bool of_initiator, const uint8_t *idbody, size_t idlen,
	    size_t *len)
{
	const uint16_t prf = sa->prop.prf;
	const unsigned int h = ike_prf_len(prf);
	const uint8_t *msg = of_initiator ? sa->msg1 : sa->msg2;
	size_t mlen = of_initiator ? sa->msg1_len : sa->msg2_len;
	const uint8_t *nonce = of_initiator ? sa->nr : sa->ni;
	size_t nlen = of_initiator ? sa->nr_len : sa->ni_len;
	uint8_t *octets;

	if (msg == NULL || h == 0)
		return NULL;
	octets = malloc(mlen + nlen + h);
	if (octets == NULL)
		return NULL;
	memcpy(octets, msg, mlen);
	memcpy(octets + mlen, nonce, nlen);
	if (ike_prf(prf, of_initiator ? sa->sk_pi : sa->sk_pr, h, idbody, idlen, NULL, 0,
		    octets + mlen + nlen) < 0) {
		free(octets);
		return NULL;
	}
	*len = mlen + nlen + h;
	return octets;
}

/* AUTH for PSK: prf(prf(PSK, "Key Pad for IKEv2"), <octets>). */
static int
psk_auth(const struct ike_peer *p, const struct ike_sa *sa, bool of_initiator,
	 const uint8_t *idbody, size_t idlen, uint8_t *out)
{
	static const char pad[] = "Key Pad for IKEv2";
	const uint16_t prf = sa->prop.prf;
	const unsigned int h = ike_prf_len(prf);
	uint8_t k[IKE_PRF_MAX];
	size_t olen = 0;
	uint8_t *octets = auth_octets(sa, of_initiator, idbody, idlen, &olen);
	int rc = -1;

	if (octets == NULL)
		return -1;
	if (ike_prf(prf, p->c.psk, p->c.psk_len, (const uint8_t *)pad, sizeof(pad) - 1, NULL, 0,
		    k) == 0)
		rc = ike_prf(prf, k, h, octets, olen, NULL, 0, out);
	mg_wipe(k, sizeof(k));
	free(octets);
	return rc;
}

/* Our AUTH data (after the method byte and reserved bytes) and its method. */
struct auth_data {
	uint8_t method;
	size_t len;
	uint8_t b[1100];
};

static int
make_auth(const struct ike_peer *p, const struct ike_sa *sa, bool of_initiator,
	  const uint8_t *idbody, size_t idlen, struct auth_data *a)
{
	uint8_t *octets;
	size_t olen = 0;
	int rc;

	if (p->c.auth != MG_IKE_AUTH_PUBKEY) {
		a->method = IKE_AUTH_PSK;
		a->len = ike_prf_len(sa->prop.prf);
		return psk_auth(p, sa, of_initiator, idbody, idlen, a->b);
	}
	octets = auth_octets(sa, of_initiator, idbody, idlen, &olen);
	if (octets == NULL)
		return -1;
	rc = ike_auth_sign(p->cr.key, sa->peer_7427, octets, olen, &a->method, a->b,
			   sizeof(a->b), &a->len);
	free(octets);
	return rc;
}

/* Constant-time comparison. */
static bool
same(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= a[i] ^ b[i];
	return acc == 0;
}

/*
 * The CHILD_SA's keys (RFC 7296 2.17) handed to the user, then wiped:
 * KEYMAT = prf+(SK_d, Ni | Nr) with the nonces of the exchange that made
 * it; the first half protects what that exchange's initiator sends.
 */
static int
install_child_keys(struct mg_ike *e, struct ike_peer *p, struct ike_sa *sa, const uint8_t *gir,
		   size_t girlen, const uint8_t *ni, size_t ni_len, const uint8_t *nr,
		   size_t nr_len, bool we_initiated,
		   uint32_t spi_in, uint32_t spi_out, const struct mg_ike_proposal *esp,
		   bool delay_out)
{
	struct mg_ike_child_keys k;
	struct ike_keylens kl;
	uint8_t seed[256 + 512], km[2 * (36 + 32)];
	const unsigned int h = ike_prf_len(sa->prop.prf);
	size_t need, keylen;
	const uint8_t *ir, *ri;
	int rc;

	memset(&k, 0, sizeof(k));
	if (ike_keylens(esp, &kl) < 0)
		return -EINVAL;
	need = 2 * (kl.enc + kl.integ);
	/* With PFS: KEYMAT = prf+(SK_d, g^ir (new) | Ni | Nr) (RFC 7296 2.17). */
	if (girlen)
		memcpy(seed, gir, girlen);
	memcpy(seed + girlen, ni, ni_len);
	memcpy(seed + girlen + ni_len, nr, nr_len);
	if (ike_prf_plus(sa->prop.prf, sa->sk_d, h, seed, girlen + ni_len + nr_len, km, need) < 0) {
		mg_wipe(seed, sizeof(seed));
		return -EINVAL;
	}
	mg_wipe(seed, girlen);
	ir = km;                     /* initiator -> responder: encr | integ */
	ri = km + kl.enc + kl.integ; /* responder -> initiator */
	keylen = kl.aead ? kl.enc - 4 : kl.enc;
	k.spi_in = spi_in;
	k.spi_out = spi_out;
	k.esp_algo = mg_ike_proposal_esp_algo(esp);
	k.inner_family = p->c.local_ts[0].addr.family;
	k.udp_encap = sa->natt;
	k.remote_port = sa->natt ? sa->remote_port : 0;
	k.enc_len = (uint8_t)keylen;
	k.auth_len = (uint8_t)kl.integ;
	k.salt_len = kl.aead ? 4 : 0;
	{
		const uint8_t *in = we_initiated ? ri : ir, *out = we_initiated ? ir : ri;

		memcpy(k.enc_in, in, keylen);
		memcpy(k.enc_out, out, keylen);
		if (kl.aead) {
			memcpy(k.salt_in, in + keylen, 4);
			memcpy(k.salt_out, out + keylen, 4);
		}
		memcpy(k.auth_in, in + kl.enc, kl.integ);
		memcpy(k.auth_out, out + kl.enc, kl.integ);
	}
	k.lifetime_s = p->c.child_lifetime_s ? p->c.child_lifetime_s : 3600;
	k.install = delay_out ? MG_IKE_INSTALL_IN : MG_IKE_INSTALL_BOTH;
	rc = e->ops.child_up(e->ops.arg, peer_idx(e, p), &k);
	if (rc == 0 && delay_out) {
		k.install = MG_IKE_INSTALL_OUT;
		sa->pending_out = k;
		sa->pending_out_ns = e->now + 5 * NANOS;
	}
	mg_wipe(&k, sizeof(k));
	mg_wipe(km, sizeof(km));
	return rc;
}

/* The first CHILD_SA, made by IKE_AUTH. */
static int
install_child(struct mg_ike *e, struct ike_peer *p, struct ike_sa *sa)
{
	int rc = install_child_keys(e, p, sa, NULL, 0, sa->ni, sa->ni_len, sa->nr, sa->nr_len,
				    sa->initiator, sa->child_spi_in, sa->child_spi_out, &sa->esp,
				    false);

	sa->child_up = rc == 0;
	return rc;
}

/* ---- state changes --------------------------------------------------------------------- */

/*
 * When @p sa is renewed: re-authenticated (p->c.reauth, as the initiator)
 * before the shorter of both lifetimes, else rekeyed with CREATE_CHILD_SA
 * before the IKE SA's (the CHILD_SA has its own schedule then).
 */
static uint64_t
reauth_at(const struct ike_peer *p, uint64_t est, bool initiator)
{
	/*
	 * The original initiator rekeys first (75%), the responder later (85%):
	 * two meshgates with one lifetime never collide (RFC 7296 2.8.2), and a
	 * rekey by the peer restarts our clock.
	 */
	const uint64_t pct = p->c.reauth ? 80 : initiator ? 75 : 85;
	uint64_t life = p->c.ike_lifetime_s ? p->c.ike_lifetime_s : 10800;
	uint64_t child = p->c.child_lifetime_s ? p->c.child_lifetime_s : 3600;

	if (child < life && p->c.reauth)
		life = child;
	/* Well before the CHILD_SA's hard lifetime, minus a little jitter (up to 5%). */
	return est + life * NANOS * pct / 100 - (uint64_t)(rand() % 50) * (life * NANOS / 1000);
}

/*
 * When we rekey the CHILD_SA with CREATE_CHILD_SA (not with reauth, where
 * the initiator's re-authentication renews it): the original initiator at
 * 55-60% of its lifetime, the responder at 65-70%, so two meshgates never
 * collide; a rekey by the peer restarts the clock.
 */
static void
child_rekey_schedule(const struct ike_peer *p, struct ike_sa *sa, uint64_t now)
{
	uint64_t life = p->c.child_lifetime_s ? p->c.child_lifetime_s : 3600;

	sa->child_rekey_ns = sa->initiator && p->c.reauth ? 0 :
			     now + life * NANOS * (sa->initiator ? 60 : 70) / 100 -
				 (uint64_t)(rand() % 50) * (life * NANOS / 1000);
}

static void
sa_failed(struct mg_ike *e, struct ike_peer *p, struct ike_sa *sa, enum mg_ike_reason r)
{
	e->st.failed++;
	if (r == MG_IKE_R_AUTH_FAILED)
		e->st.auth_failed++;
	if (r == MG_IKE_R_NO_PROPOSAL)
		e->st.no_proposal++;
	p->last_error = r;
	EV(e, p, 4, "IKE SA %016llx failed: %s", (unsigned long long)sa->spi_i,
	   mg_ike_reason_name(r));
	/* A failed replacement (re-authentication) leaves the current SA up: no event. */
	if (sa != p->next)
		sa_event(e, p, MG_IKE_EV_FAILED, r);
	if (sa == p->next) {
		p->next = NULL;
	} else if (sa == p->sa) {
		if (sa->child_up && e->ops.child_down != NULL)
			e->ops.child_down(e->ops.arg, peer_idx(e, p));
		p->sa = NULL;
	}
	sa_free(sa);
	p->next_try_ns = e->now + RETRY_FAILED_NS;
}

/* @p sa (p->sa or p->next) is up: it becomes the current SA, the old one goes. */
static void
sa_established(struct mg_ike *e, struct ike_peer *p, struct ike_sa *sa)
{
	char pr[64], ep[64];
	struct ike_sa *old = NULL;

	sa->state = MG_IKE_ST_ESTABLISHED;
	sa->established_ns = e->now;
	sa->last_rx_ns = e->now;
	sa->expires_ns = reauth_at(p, e->now, sa->initiator);
	e->st.established++;
	p->last_error = MG_IKE_OK;
	if (sa == p->next) {
		old = p->sa;
		p->sa = sa;
		p->next = NULL;
		p->rekeys++;
		e->st.rekeys++;
	}
	mg_ike_proposal_format(&sa->prop, true, pr, sizeof(pr));
	mg_ike_proposal_format(&sa->esp, false, ep, sizeof(ep));
	EV(e, p, 6, "IKE SA %016llx_i %016llx_r established (%s), CHILD_SA %08x_i %08x_o (%s)%s",
	   (unsigned long long)sa->spi_i, (unsigned long long)sa->spi_r, pr, sa->child_spi_in,
	   sa->child_spi_out, ep, sa->natt ? ", NAT-T" : "");
	sa_event(e, p, old != NULL ? MG_IKE_EV_REKEYED : MG_IKE_EV_ESTABLISHED, MG_IKE_OK);
	if (old != NULL) {
		/* Make-before-break: the new keys are in; tell the peer the old SA is gone. */
		if (old->state == MG_IKE_ST_ESTABLISHED && old->initiator) {
			size_t sk = sk_begin(e, old, IKE_INFORMATIONAL, false, old->next_msgid);
			size_t d = ike_pl_begin(&e->buf, IKE_PL_DELETE);

			ike_put8(&e->buf, IKE_PROTO_IKE);
			ike_put8(&e->buf, 0);
			ike_put16(&e->buf, 0);
			ike_pl_end(&e->buf, d);
			if (sk_end(e, old, sk) == 0)
				tx(e, p, old, e->buf.b, e->buf.len, old->natt);
		}
		sa_free(old);
	}
}

/* ---- initiator ------------------------------------------------------------------------- */

static int
send_init(struct mg_ike *e, struct ike_peer *p, struct ike_sa *sa)
{
	uint8_t pub[256];
	size_t off;

	if (sa->dh == NULL || ike_dh_group(sa->dh) != sa->dh_group) {
		ike_dh_free(sa->dh);
		sa->dh = ike_dh_new(sa->dh_group);
		if (sa->dh == NULL)
			return -ENOMEM;
	}
	if (ike_dh_public(sa->dh, pub) < 0)
		return -EINVAL;
	ike_buf_init(&e->buf, sa->spi_i, 0, IKE_SA_INIT, IKE_FLAG_I, 0);
	if (sa->cookie_len)
		ike_put_notify(&e->buf, 0, IKE_N_COOKIE, sa->cookie, sa->cookie_len);
	ike_put_sa(&e->buf, p->c.ike, p->c.nike, true, NULL, 0, 0);
	off = ike_pl_begin(&e->buf, IKE_PL_KE);
	ike_put16(&e->buf, sa->dh_group);
	ike_put16(&e->buf, 0);
	ike_put(&e->buf, pub, ike_dh_pub_len(sa->dh_group));
	ike_pl_end(&e->buf, off);
	off = ike_pl_begin(&e->buf, IKE_PL_NONCE);
	ike_put(&e->buf, sa->ni, sa->ni_len);
	ike_pl_end(&e->buf, off);
	put_natd(e, p, sa, MG_IKE_PORT);
	put_sig_hashes(e, p);
	ike_buf_finish(&e->buf);
	if (e->buf.overflow || blob_set(&sa->msg1, &sa->msg1_len, e->buf.b, e->buf.len) < 0)
		return -ENOMEM;
	sa->state = MG_IKE_ST_INIT_SENT;
	sa->next_msgid = 1;
	return send_request(e, p, sa, REQ_INIT);
}

/* Start an IKE SA to @p p (a first one, or a replacement in p->next). */
static void
initiate(struct mg_ike *e, struct ike_peer *p, bool replacement)
{
	struct ike_sa *sa = sa_new(true);

	if (sa == NULL)
		return;
	sa->spi_i = rand64();
	sa->ni_len = NONCE_LEN;
	sa->dh_group = p->dh_group ? p->dh_group : p->c.ike[0].dh;
	if (ike_random(sa->ni, NONCE_LEN) < 0) {
		sa_free(sa);
		return;
	}
	if (replacement)
		p->next = sa;
	else
		p->sa = sa;
	EV(e, p, 7, "initiating IKE SA %016llx%s", (unsigned long long)sa->spi_i,
	   replacement ? " (re-authentication)" : "");
	if (send_init(e, p, sa) < 0)
		sa_failed(e, p, sa, MG_IKE_R_PROTOCOL);
}

static void
put_id(struct mg_ike *e, uint8_t type, const struct mg_ike_id *id, size_t *body_off)
{
	size_t off = ike_pl_begin(&e->buf, type);

	*body_off = e->buf.len;
	ike_put8(&e->buf, id->type);
	ike_put8(&e->buf, 0);
	ike_put16(&e->buf, 0);
	ike_put(&e->buf, id->data, id->len);
	ike_pl_end(&e->buf, off);
}

static void
put_auth(struct mg_ike *e, const struct auth_data *a)
{
	size_t off = ike_pl_begin(&e->buf, IKE_PL_AUTH);

	ike_put8(&e->buf, a->method);
	ike_put8(&e->buf, 0);
	ike_put16(&e->buf, 0);
	ike_put(&e->buf, a->b, a->len);
	ike_pl_end(&e->buf, off);
}

/* CERT with our certificate (when we have one). */
static void
put_cert(struct mg_ike *e, const struct ike_peer *p)
{
	uint8_t der[MG_IKE_MAX_MSG / 2];
	size_t len, off;

	if (p->c.auth != MG_IKE_AUTH_PUBKEY || ike_cert_der(&p->cr, der, sizeof(der), &len) < 0)
		return;
	off = ike_pl_begin(&e->buf, IKE_PL_CERT);
	ike_put8(&e->buf, IKE_CERT_X509_SIG);
	ike_put(&e->buf, der, len);
	ike_pl_end(&e->buf, off);
}

/* CERTREQ naming our CAs (when we check the peer's certificate against CAs). */
static void
put_certreq(struct mg_ike *e, const struct ike_peer *p)
{
	size_t off;

	if (p->c.auth != MG_IKE_AUTH_PUBKEY || p->cr.nca == 0)
		return;
	off = ike_pl_begin(&e->buf, IKE_PL_CERTREQ);
	ike_put8(&e->buf, IKE_CERT_X509_SIG);
	for (unsigned int i = 0; i < p->cr.nca; i++)
		ike_put(&e->buf, p->cr.ca_hash[i], 20);
	ike_pl_end(&e->buf, off);
}

/* SIGNATURE_HASH_ALGORITHMS (RFC 7427 4) in IKE_SA_INIT: SHA-256, SHA-384, SHA-512. */
static void
put_sig_hashes(struct mg_ike *e, const struct ike_peer *p)
{
	static const uint8_t h[] = {0, IKE_HASH_SHA256, 0, IKE_HASH_SHA384, 0, IKE_HASH_SHA512};

	if (p->c.auth == MG_IKE_AUTH_PUBKEY)
		ike_put_notify(&e->buf, 0, IKE_N_SIGNATURE_HASH_ALGORITHMS, h, sizeof(h));
}

/* The peer's SIGNATURE_HASH_ALGORITHMS: true when it names SHA-256 or SHA-384. */
static bool
peer_sig_hashes(const struct ike_msg *m)
{
	struct ike_notify_pl n;

	if (!ike_notify_find(m->pl, m->npl, IKE_N_SIGNATURE_HASH_ALGORITHMS, &n))
		return false;
	for (unsigned int i = 0; i + 1 < n.data_len; i += 2)
		if (n.data[i] == 0 && (n.data[i + 1] == IKE_HASH_SHA256 ||
				       n.data[i + 1] == IKE_HASH_SHA384))
			return true;
	return false;
}

static void
default_id(const struct ike_peer *p, struct mg_ike_id *id)
{
	if (p->c.local_id.type != 0) {
		*id = p->c.local_id;
		return;
	}
	if (p->c.auth == MG_IKE_AUTH_PUBKEY && p->cr.cert != NULL) {
		/* The certificate's subject, as strongSwan defaults to. */
		ike_cert_subject_id(&p->cr, id);
		if (id->type != 0)
			return;
	}
	memset(id, 0, sizeof(*id));
	id->type = p->c.local.family == AF_INET ? MG_IKE_ID_IPV4_ADDR : MG_IKE_ID_IPV6_ADDR;
	id->len = p->c.local.family == AF_INET ? 4 : 16;
	memcpy(id->data, p->c.local.bytes, id->len);
}

static int
send_auth(struct mg_ike *e, struct ike_peer *p, struct ike_sa *sa)
{
	struct mg_ike_id id;
	struct auth_data auth;
	uint8_t spi[4];
	size_t sk, idb;
	int rc;

	default_id(p, &id);
	sa->child_spi_in = child_spi();
	spi[0] = (uint8_t)(sa->child_spi_in >> 24);
	spi[1] = (uint8_t)(sa->child_spi_in >> 16);
	spi[2] = (uint8_t)(sa->child_spi_in >> 8);
	spi[3] = (uint8_t)sa->child_spi_in;
	sk = sk_begin(e, sa, IKE_AUTH, false, sa->next_msgid++);
	put_id(e, IKE_PL_IDI, &id, &idb);
	if (make_auth(p, sa, true, e->buf.b + idb, e->buf.len - idb, &auth) < 0)
		return -EINVAL;
	/* IDi, [CERT,] [CERTREQ,] [IDr,] AUTH (RFC 7296 1.2) */
	put_cert(e, p);
	put_certreq(e, p);
	if (p->c.remote_id.type != 0)
		put_id(e, IKE_PL_IDR, &p->c.remote_id, &idb);
	put_auth(e, &auth);
	mg_wipe(&auth, sizeof(auth));
	ike_put_notify(&e->buf, 0, IKE_N_INITIAL_CONTACT, NULL, 0);
	{
		struct mg_ike_proposal first[MG_IKE_MAX_PROPOSALS];

		ike_put_sa(&e->buf, first, esp_first(p, first), false, spi, 4, 0);
	}
	ike_put_ts(&e->buf, IKE_PL_TSI, p->c.local_ts, p->c.nlocal_ts);
	ike_put_ts(&e->buf, IKE_PL_TSR, p->c.remote_ts, p->c.nremote_ts);
	rc = sk_end(e, sa, sk);
	if (rc < 0)
		return rc;
	sa->state = MG_IKE_ST_AUTH_SENT;
	return send_request(e, p, sa, REQ_AUTH);
}

static bool
have_group(const struct ike_peer *p, uint16_t g)
{
	for (unsigned int i = 0; i < p->c.nike; i++)
		if (p->c.ike[i].dh == g)
			return true;
	return false;
}

static void
init_response(struct mg_ike *e, struct ike_peer *p, struct ike_sa *sa, const struct ike_msg *m,
	      const uint8_t *buf, size_t len, const struct mg_ike_dgram *d)
{
	struct ike_notify_pl n;
	struct ike_prop_in props[2];
	unsigned int np;
	const struct ike_pl *sap, *ke, *nr;
	uint8_t gir[256];
	size_t girlen;
	uint16_t err;
	bool natd_present;

	if (ike_notify_find(m->pl, m->npl, IKE_N_COOKIE, &n)) {
		if (n.data_len == 0 || n.data_len > sizeof(sa->cookie))
			return;
		memcpy(sa->cookie, n.data, n.data_len);
		sa->cookie_len = (uint8_t)n.data_len;
		if (send_init(e, p, sa) < 0)
			sa_failed(e, p, sa, MG_IKE_R_PROTOCOL);
		return;
	}
	if (ike_notify_find(m->pl, m->npl, IKE_N_INVALID_KE_PAYLOAD, &n)) {
		uint16_t g = n.data_len == 2 ? (uint16_t)(n.data[0] << 8 | n.data[1]) : 0;

		/* A second answer naming the group we moved to answers our request
		 * before that move (a retransmission's, a duplicate): not ours now. */
		if (g != 0 && g == sa->dh_group && sa->ke_retried)
			return;
		if (g != 0 && g != sa->dh_group && have_group(p, g)) {
			EV(e, p, 6, "peer asks for DH group %u", g);
			sa->ke_retried = true;
			sa->dh_group = g;
			p->dh_group = g;
			if (send_init(e, p, sa) < 0)
				sa_failed(e, p, sa, MG_IKE_R_PROTOCOL);
			return;
		}
		sa_failed(e, p, sa, MG_IKE_R_INVALID_KE);
		return;
	}
	if ((err = ike_notify_error(m->pl, m->npl)) != 0) {
		sa_failed(e, p, sa, err == IKE_N_NO_PROPOSAL_CHOSEN ? MG_IKE_R_NO_PROPOSAL
								    : MG_IKE_R_PROTOCOL);
		return;
	}
	sap = ike_pl_find(m->pl, m->npl, IKE_PL_SA);
	ke = ike_pl_find(m->pl, m->npl, IKE_PL_KE);
	nr = ike_pl_find(m->pl, m->npl, IKE_PL_NONCE);
	if (sap == NULL || ke == NULL || nr == NULL || nr->len < 16 || nr->len > 256 ||
	    ke->len < 4 || m->spi_r == 0 ||
	    ike_sa_decode(sap->body, sap->len, props, 2, &np) < 0 || np != 1 ||
	    !ike_prop_match(&props[0], p->c.ike, p->c.nike, true, &sa->prop) ||
	    (uint16_t)(ke->body[0] << 8 | ke->body[1]) != sa->dh_group ||
	    sa->prop.dh != sa->dh_group) {
		e->st.dropped++;
		sa_failed(e, p, sa, MG_IKE_R_PROTOCOL);
		return;
	}
	sa->spi_r = m->spi_r;
	memcpy(sa->nr, nr->body, nr->len);
	sa->nr_len = nr->len;
	sa->peer_7427 = peer_sig_hashes(m);
	sa->peer_certreq = ike_pl_find(m->pl, m->npl, IKE_PL_CERTREQ) != NULL;
	if (ike_dh_shared(sa->dh, ke->body + 4, ke->len - 4u, gir, &girlen) < 0 ||
	    derive_ike_keys(sa, gir, girlen, NULL) < 0 || blob_set(&sa->msg2, &sa->msg2_len, buf, len) < 0) {
		mg_wipe(gir, sizeof(gir));
		sa_failed(e, p, sa, MG_IKE_R_PROTOCOL);
		return;
	}
	mg_wipe(gir, sizeof(gir));
	ike_dh_free(sa->dh);
	sa->dh = NULL;
	blob_free(&sa->req, &sa->req_len);
	sa->req_kind = REQ_NONE;
	if (natd_check(m, p, d, sa->spi_i, sa->spi_r, &natd_present) || p->c.udp_encap) {
		sa->natt = true;
		sa->remote_port = MG_IKE_NATT_PORT;
	}
	if (send_auth(e, p, sa) < 0)
		sa_failed(e, p, sa, MG_IKE_R_PROTOCOL);
}

/* Check IDr/IDi against the configured remote identity (if any). */
static bool
id_ok(const struct ike_peer *p, const struct ike_pl *id)
{
	if (id == NULL || id->len < 4)
		return false;
	if (p->c.remote_id.type == 0)
		return true;
	return id->body[0] == p->c.remote_id.type && id->len - 4u == p->c.remote_id.len &&
	       memcmp(id->body + 4, p->c.remote_id.data, p->c.remote_id.len) == 0;
}

/* Verify the peer's AUTH payload (and its certificate, for signatures). */
static bool
auth_ok(struct mg_ike *e, struct ike_peer *p, const struct ike_sa *sa,
	const struct ike_pl *pl, unsigned int npl, const struct ike_pl *id,
	const struct ike_pl *auth, bool of_initiator)
{
	uint8_t want[IKE_PRF_MAX];
	const unsigned int h = ike_prf_len(sa->prop.prf);
	bool ok;

	if (auth == NULL || auth->len < 4)
		return false;
	if (p->c.auth == MG_IKE_AUTH_PUBKEY) {
		const char *why = "";
		EVP_PKEY *k;
		uint8_t *octets;
		size_t olen = 0;

		if (auth->body[0] == IKE_AUTH_PSK) {
			EV(e, p, 4, "the peer authenticates with a PSK; certificates expected");
			return false;
		}
		k = ike_peer_key(&p->cr, pl, npl, id, &why);
		if (k == NULL) {
			EV(e, p, 4, "peer certificate refused: %s", why);
			return false;
		}
		octets = auth_octets(sa, of_initiator, id->body, id->len, &olen);
		ok = octets != NULL && ike_auth_verify(k, auth->body[0], auth->body + 4,
						       auth->len - 4u, octets, olen);
		if (!ok)
			EV(e, p, 4, "AUTH signature (method %u) does not verify", auth->body[0]);
		free(octets);
		ike_pkey_free(k);
		return ok;
	}
	if (auth->len != 4 + h || auth->body[0] != IKE_AUTH_PSK)
		return false;
	if (psk_auth(p, sa, of_initiator, id->body, id->len, want) < 0)
		return false;
	ok = same(want, auth->body + 4, h);
	mg_wipe(want, sizeof(want));
	return ok;
}

static void
auth_response(struct mg_ike *e, struct ike_peer *p, struct ike_sa *sa, const struct ike_pl *pl,
	      unsigned int npl)
{
	const struct ike_pl *idr = ike_pl_find(pl, npl, IKE_PL_IDR);
	const struct ike_pl *auth = ike_pl_find(pl, npl, IKE_PL_AUTH);
	const struct ike_pl *sap = ike_pl_find(pl, npl, IKE_PL_SA);
	struct ike_prop_in props[2];
	struct mg_ike_proposal first[MG_IKE_MAX_PROPOSALS];
	unsigned int np;
	uint16_t err = ike_notify_error(pl, npl);

	blob_free(&sa->req, &sa->req_len);
	sa->req_kind = REQ_NONE;
	if (err == IKE_N_AUTHENTICATION_FAILED) {
		sa_failed(e, p, sa, MG_IKE_R_AUTH_FAILED);
		return;
	}
	if (idr == NULL || !id_ok(p, idr) || !auth_ok(e, p, sa, pl, npl, idr, auth, false)) {
		sa_failed(e, p, sa, MG_IKE_R_AUTH_FAILED);
		return;
	}
	if (err != 0) {
		sa_failed(e, p, sa, err == IKE_N_NO_PROPOSAL_CHOSEN ? MG_IKE_R_NO_PROPOSAL :
				    err == IKE_N_TS_UNACCEPTABLE ? MG_IKE_R_TS_UNACCEPTABLE :
				    MG_IKE_R_PROTOCOL);
		return;
	}
	if (sap == NULL || ike_sa_decode(sap->body, sap->len, props, 2, &np) < 0 || np != 1 ||
	    !ike_prop_match(&props[0], first, esp_first(p, first), false, &sa->esp)) {
		sa_failed(e, p, sa, MG_IKE_R_NO_PROPOSAL);
		return;
	}
	sa->child_spi_out = (uint32_t)props[0].spi[0] << 24 | (uint32_t)props[0].spi[1] << 16 |
			    (uint32_t)props[0].spi[2] << 8 | props[0].spi[3];
	if (install_child(e, p, sa) < 0) {
		sa_failed(e, p, sa, MG_IKE_R_INSTALL);
		return;
	}
	sa_established(e, p, sa);
	child_rekey_schedule(p, sa, e->now);
}

/* ---- responder ------------------------------------------------------------------------- */

/* Cookie = version | HMAC-SHA-256(secret, Ni | IPi | SPIi) truncated to 16 bytes (RFC 7296 2.6). */
static void
cookie_of(const struct mg_ike *e, const struct ike_msg *m, const struct ike_pl *ni,
	  const struct mg_ike_dgram *d, uint8_t out[17])
{
	uint8_t data[16 + 8], h[IKE_PRF_MAX];
	size_t n = d->src.family == AF_INET ? 4 : 16;

	memcpy(data, d->src.bytes, n);
	for (int i = 7; i >= 0; i--)
		data[n++] = (uint8_t)(m->spi_i >> (i * 8));
	memset(h, 0, sizeof(h));
	ike_prf(MG_IKE_PRF_HMAC_SHA2_256, e->cookie_secret, sizeof(e->cookie_secret), ni->body,
		ni->len, data, n, h);
	out[0] = 0;
	memcpy(out + 1, h, 16);
}

/*
 * The type of the first payload of @p pl whose critical bit is set and that
 * this implementation does not recognise (RFC 7296 2.5: the message is then
 * refused with N(UNSUPPORTED_CRITICAL_PAYLOAD) naming it), or -1.
 */
static int
unsupported_critical(const struct ike_pl *pl, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (pl[i].critical && (pl[i].type < IKE_PL_SA || pl[i].type > IKE_PL_EAP))
			return pl[i].type;
	return -1;
}

static void
init_request(struct mg_ike *e, struct ike_peer *p, const struct ike_msg *m, const uint8_t *buf,
	     size_t len, const struct mg_ike_dgram *d)
{
	struct ike_prop_in props[MG_IKE_MAX_PROPOSALS * 2];
	struct mg_ike_proposal chosen;
	const struct ike_pl *sap, *ke, *ni;
	struct ike_sa *sa, **slot;
	unsigned int np, i;
	uint8_t gir[256], pub[256];
	size_t girlen, off;
	uint16_t group;
	bool natd_present;

	/*
	 * A repeated request of an SA we answered: the same answer while it waits
	 * for IKE_AUTH, else nothing. It is never processed twice (RFC 7296 2.1,
	 * 2.2): a duplicate or a replay would otherwise replace a live exchange.
	 */
	for (int k = 0; k < 2; k++) {
		struct ike_sa *s = k == 0 ? p->sa : p->next;

		if (s == NULL || s->initiator || s->spi_i != m->spi_i)
			continue;
		if (s->resp != NULL && s->resp_msgid == 0 && s->state == MG_IKE_ST_INIT_DONE)
			tx(e, p, s, s->resp, s->resp_len, false);
		else
			e->st.dropped++;
		return;
	}
	/*
	 * Both ends initiating at once (two gateways that both have role
	 * initiator): each would answer the other's IKE_SA_INIT in place of its
	 * own and wait for an IKE_AUTH that never comes, again at every retry.
	 * The end whose SPIi is the higher keeps initiating and ignores the
	 * other's; the other answers it. Both decide alike: one exchange.
	 */
	if (p->sa != NULL && p->sa->initiator && p->sa->state == MG_IKE_ST_INIT_SENT &&
	    p->sa->spi_i > m->spi_i) {
		e->st.dropped++;
		return;
	}
	{
		int crit = unsupported_critical(m->pl, m->npl);

		if (crit >= 0) {
			uint8_t t = (uint8_t)crit;

			EV(e, p, 4, "IKE_SA_INIT from the peer: unsupported critical payload %d",
			   crit);
			e->st.dropped++;
			send_init_error(e, p, m, IKE_N_UNSUPPORTED_CRITICAL_PAYLOAD, &t, 1, d);
			return;
		}
	}
	sap = ike_pl_find(m->pl, m->npl, IKE_PL_SA);
	ke = ike_pl_find(m->pl, m->npl, IKE_PL_KE);
	ni = ike_pl_find(m->pl, m->npl, IKE_PL_NONCE);
	if (sap == NULL || ke == NULL || ni == NULL || ke->len < 4 || ni->len < 16 ||
	    ni->len > 256 || ike_sa_decode(sap->body, sap->len, props, MG_ARRAY_SIZE(props), &np) < 0) {
		e->st.dropped++;
		return;
	}
	/* Under load, no DH work before the initiator proves it gets our answers. */
	if (e->now >= e->init_window_ns + NANOS) {
		e->init_window_ns = e->now;
		e->init_count = 0;
	}
	if (++e->init_count > e->cookie_rate) {
		uint8_t want[1 + 16];
		struct ike_notify_pl cn;

		cookie_of(e, m, ni, d, want);
		if (!ike_notify_find(m->pl, m->npl, IKE_N_COOKIE, &cn) || cn.data_len != sizeof(want) ||
		    !same(cn.data, want, sizeof(want))) {
			e->st.cookies_sent++;
			send_init_error(e, p, m, IKE_N_COOKIE, want, sizeof(want), d);
			return;
		}
	}
	/* Prefer a proposal with the group of the initiator's KE: no INVALID_KE round trip. */
	group = (uint16_t)(ke->body[0] << 8 | ke->body[1]);
	{
		struct mg_ike_proposal same_group[MG_IKE_MAX_PROPOSALS];
		unsigned int ng = 0;

		for (unsigned int k = 0; k < p->c.nike; k++)
			if (p->c.ike[k].dh == group)
				same_group[ng++] = p->c.ike[k];
		for (i = 0; i < np; i++)
			if (ike_prop_match(&props[i], same_group, ng, true, &chosen))
				break;
	}
	if (i == np)
		for (i = 0; i < np; i++)
			if (ike_prop_match(&props[i], p->c.ike, p->c.nike, true, &chosen))
				break;
	if (i == np) {
		EV(e, p, 4, "IKE_SA_INIT from the peer: no proposal acceptable");
		e->st.failed++;
		e->st.no_proposal++;
		p->last_error = MG_IKE_R_NO_PROPOSAL;
		send_init_error(e, p, m, IKE_N_NO_PROPOSAL_CHOSEN, NULL, 0, d);
		return;
	}
	if (group != chosen.dh) {
		uint8_t g[2] = {(uint8_t)(chosen.dh >> 8), (uint8_t)chosen.dh};

		send_init_error(e, p, m, IKE_N_INVALID_KE_PAYLOAD, g, 2, d);
		return;
	}
	sa = sa_new(false);
	if (sa == NULL)
		return;
	sa->prop = chosen;
	sa->spi_i = m->spi_i;
	sa->spi_r = rand64();
	sa->remote_port = d->sport;
	memcpy(sa->ni, ni->body, ni->len);
	sa->ni_len = ni->len;
	sa->nr_len = NONCE_LEN;
	sa->dh_group = group;
	sa->dh = ike_dh_new(group);
	if (sa->dh == NULL || ike_random(sa->nr, NONCE_LEN) < 0 || ike_dh_public(sa->dh, pub) < 0 ||
	    ike_dh_shared(sa->dh, ke->body + 4, ke->len - 4u, gir, &girlen) < 0 ||
	    derive_ike_keys(sa, gir, girlen, NULL) < 0 || blob_set(&sa->msg1, &sa->msg1_len, buf, len) < 0) {
		mg_wipe(gir, sizeof(gir));
		e->st.dropped++;
		sa_free(sa);
		return;
	}
	mg_wipe(gir, sizeof(gir));
	ike_dh_free(sa->dh);
	sa->dh = NULL;
	/* NAT-T starts when the initiator moves to port 4500 (sa_input). */
	natd_check(m, p, d, sa->spi_i, 0, &natd_present);
	sa->last_rx_ns = e->now;
	ike_buf_init(&e->buf, sa->spi_i, sa->spi_r, IKE_SA_INIT, IKE_FLAG_R, 0);
	ike_put_sa(&e->buf, &chosen, 1, true, NULL, 0, props[i].num);
	off = ike_pl_begin(&e->buf, IKE_PL_KE);
	ike_put16(&e->buf, group);
	ike_put16(&e->buf, 0);
	ike_put(&e->buf, pub, ike_dh_pub_len(group));
	ike_pl_end(&e->buf, off);
	off = ike_pl_begin(&e->buf, IKE_PL_NONCE);
	ike_put(&e->buf, sa->nr, sa->nr_len);
	ike_pl_end(&e->buf, off);
	if (natd_present)
		put_natd(e, p, sa, d->sport);
	put_certreq(e, p);
	put_sig_hashes(e, p);
	sa->peer_7427 = peer_sig_hashes(m);
	ike_buf_finish(&e->buf);
	if (e->buf.overflow || blob_set(&sa->msg2, &sa->msg2_len, e->buf.b, e->buf.len) < 0) {
		sa_free(sa);
		return;
	}
	sa->state = MG_IKE_ST_INIT_DONE;
	sa->peer_msgid = 1;
	sa->natt = d->marker; /* an initiator may start on port 4500 */
	/* A new IKE SA while one is up: the peer re-authenticates (or restarted). */
	slot = p->sa != NULL && p->sa->state == MG_IKE_ST_ESTABLISHED ? &p->next : &p->sa;
	sa_free(*slot);
	*slot = sa;
	send_response(e, p, sa, 0);
}

static void
auth_request(struct mg_ike *e, struct ike_peer *p, struct ike_sa *sa, const struct ike_pl *pl,
	     unsigned int npl, uint32_t msgid)
{
	const struct ike_pl *idi = ike_pl_find(pl, npl, IKE_PL_IDI);
	const struct ike_pl *auth = ike_pl_find(pl, npl, IKE_PL_AUTH);
	const struct ike_pl *sap = ike_pl_find(pl, npl, IKE_PL_SA);
	const struct ike_pl *tsi = ike_pl_find(pl, npl, IKE_PL_TSI);
	const struct ike_pl *tsr = ike_pl_find(pl, npl, IKE_PL_TSR);
	struct ike_prop_in props[MG_IKE_MAX_PROPOSALS * 2];
	struct ike_ts ti[8], tr[8];
	unsigned int np, nti = 0, ntr = 0, i;
	uint16_t fail = 0;
	struct mg_ike_id id;
	struct auth_data a;
	uint8_t spi[4];
	size_t sk, idb;

	if (idi == NULL || !id_ok(p, idi) || !auth_ok(e, p, sa, pl, npl, idi, auth, true)) {
		EV(e, p, 4, "IKE_AUTH from the peer: authentication failed");
		sk = sk_begin(e, sa, IKE_AUTH, true, msgid);
		ike_put_notify(&e->buf, 0, IKE_N_AUTHENTICATION_FAILED, NULL, 0);
		if (sk_end(e, sa, sk) == 0)
			send_response(e, p, sa, msgid);
		sa_failed(e, p, sa, MG_IKE_R_AUTH_FAILED);
		return;
	}
	if (sap == NULL || ike_sa_decode(sap->body, sap->len, props, MG_ARRAY_SIZE(props), &np) < 0)
		np = 0;
	{
		struct mg_ike_proposal first[MG_IKE_MAX_PROPOSALS];
		unsigned int nf = esp_first(p, first);

		for (i = 0; i < np; i++)
			if (ike_prop_match(&props[i], first, nf, false, &sa->esp))
				break;
	}
	if (i == np) {
		fail = IKE_N_NO_PROPOSAL_CHOSEN;
	} else {
		sa->child_spi_out = (uint32_t)props[i].spi[0] << 24 |
				    (uint32_t)props[i].spi[1] << 16 |
				    (uint32_t)props[i].spi[2] << 8 | props[i].spi[3];
		/* Narrowing: our selectors must lie inside what the initiator proposed. */
		if (tsi == NULL || tsr == NULL || ike_ts_decode(tsi->body, tsi->len, ti, 8, &nti) < 0 ||
		    ike_ts_decode(tsr->body, tsr->len, tr, 8, &ntr) < 0)
			fail = IKE_N_TS_UNACCEPTABLE;
		for (unsigned int k = 0; !fail && k < p->c.nremote_ts; k++) {
			unsigned int j;

			for (j = 0; j < nti && !ike_ts_covers(&ti[j], &p->c.remote_ts[k]); j++)
				;
			if (j == nti)
				fail = IKE_N_TS_UNACCEPTABLE;
		}
		for (unsigned int k = 0; !fail && k < p->c.nlocal_ts; k++) {
			unsigned int j;

			for (j = 0; j < ntr && !ike_ts_covers(&tr[j], &p->c.local_ts[k]); j++)
				;
			if (j == ntr)
				fail = IKE_N_TS_UNACCEPTABLE;
		}
	}
	default_id(p, &id);
	sk = sk_begin(e, sa, IKE_AUTH, true, msgid);
	put_id(e, IKE_PL_IDR, &id, &idb);
	if (make_auth(p, sa, false, e->buf.b + idb, e->buf.len - idb, &a) < 0)
		return;
	/* IDr, [CERT,] AUTH */
	put_cert(e, p);
	put_auth(e, &a);
	mg_wipe(&a, sizeof(a));
	if (fail) {
		ike_put_notify(&e->buf, 0, fail, NULL, 0);
	} else {
		sa->child_spi_in = child_spi();
		spi[0] = (uint8_t)(sa->child_spi_in >> 24);
		spi[1] = (uint8_t)(sa->child_spi_in >> 16);
		spi[2] = (uint8_t)(sa->child_spi_in >> 8);
		spi[3] = (uint8_t)sa->child_spi_in;
		ike_put_sa(&e->buf, &sa->esp, 1, false, spi, 4, props[i].num);
		ike_put_ts(&e->buf, IKE_PL_TSI, p->c.remote_ts, p->c.nremote_ts);
		ike_put_ts(&e->buf, IKE_PL_TSR, p->c.local_ts, p->c.nlocal_ts);
	}
	if (sk_end(e, sa, sk) < 0)
		return;
	send_response(e, p, sa, msgid);
	if (fail) {
		EV(e, p, 4, "IKE_AUTH from the peer: %s", fail == IKE_N_NO_PROPOSAL_CHOSEN ?
		   "no ESP proposal acceptable" : "traffic selectors unacceptable");
		sa_failed(e, p, sa, fail == IKE_N_NO_PROPOSAL_CHOSEN ? MG_IKE_R_NO_PROPOSAL
								     : MG_IKE_R_TS_UNACCEPTABLE);
		return;
	}
	if (install_child(e, p, sa) < 0) {
		sa_failed(e, p, sa, MG_IKE_R_INSTALL);
		return;
	}
	sa_established(e, p, sa);
	child_rekey_schedule(p, sa, e->now);
}

/* ---- established SAs ------------------------------------------------------------------- */

static uint32_t
rd32be(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Our IKE SA @p sa is deleted (by the peer, or replaced): the next one takes over if any. */
static void
sa_deleted(struct mg_ike *e, struct ike_peer *p, struct ike_sa *sa)
{
	if (sa == p->sa) {
		if (p->next != NULL && p->next->state == MG_IKE_ST_ESTABLISHED) {
			/* Rekeyed by CREATE_CHILD_SA: the new IKE SA carries the CHILD_SA on. */
			p->sa = p->next;
			p->next = NULL;
			p->rekeys++;
			e->st.rekeys++;
			EV(e, p, 6, "IKE SA rekeyed: now %016llx_i %016llx_r",
			   (unsigned long long)p->sa->spi_i, (unsigned long long)p->sa->spi_r);
			sa_event(e, p, MG_IKE_EV_REKEYED, MG_IKE_OK);
		} else {
			EV(e, p, 5, "IKE SA %016llx deleted by the peer",
			   (unsigned long long)sa->spi_i);
			sa_event(e, p, MG_IKE_EV_DELETED, MG_IKE_R_DELETED);
			p->last_error = MG_IKE_R_DELETED;
			if (sa->child_up && e->ops.child_down != NULL)
				e->ops.child_down(e->ops.arg, peer_idx(e, p));
			p->sa = NULL;
			p->next_try_ns = e->now + NANOS;
		}
	} else if (sa == p->next) {
		p->next = NULL;
	}
	sa_free(sa);
}

static void
informational_request(struct mg_ike *e, struct ike_peer *p, struct ike_sa *sa,
		      const struct ike_pl *pl, unsigned int npl, uint32_t msgid)
{
	uint32_t ours[8];
	unsigned int nours = 0;
	bool del_ike = false, del_child = false;
	size_t sk;

	for (unsigned int i = 0; i < npl; i++) {
		const uint8_t *b = pl[i].body;

		if (pl[i].type != IKE_PL_DELETE || pl[i].len < 4)
			continue;
		if (b[0] == IKE_PROTO_IKE) {
			del_ike = true;
			continue;
		}
		if (b[0] != IKE_PROTO_ESP || b[1] != 4)
			continue;
		for (unsigned int k = 0; k < (unsigned int)(b[2] << 8 | b[3]) &&
		     4u + 4 * (k + 1) <= pl[i].len; k++) {
			uint32_t spi = rd32be(b + 4 + 4 * k);

			/* The peer names its inbound SPI; we answer with ours of the same pair. */
			if (spi == sa->old_spi_out && sa->old_spi_out != 0 && nours < 8) {
				ours[nours++] = sa->old_spi_in;
				sa->old_spi_in = sa->old_spi_out = 0;
				install_pending_out(e, p, sa);
			} else if (spi == sa->child_spi_out && sa->child_up && nours < 8) {
				ours[nours++] = sa->child_spi_in;
				del_child = true;
			}
		}
	}
	sk = sk_begin(e, sa, IKE_INFORMATIONAL, true, msgid);
	if (nours > 0 && !del_ike) {
		size_t d = ike_pl_begin(&e->buf, IKE_PL_DELETE);

		ike_put8(&e->buf, IKE_PROTO_ESP);
		ike_put8(&e->buf, 4);
		ike_put16(&e->buf, (uint16_t)nours);
		for (unsigned int k = 0; k < nours; k++)
			ike_put32(&e->buf, ours[k]);
		ike_pl_end(&e->buf, d);
	}
	if (sk_end(e, sa, sk) == 0)
		send_response(e, p, sa, msgid);
	if (del_ike) {
		sa_deleted(e, p, sa);
	} else if (del_child) {
		EV(e, p, 5, "CHILD_SA %08x deleted by the peer", sa->child_spi_in);
		sa->child_up = false;
		if (e->ops.child_down != NULL && sa == p->sa)
			e->ops.child_down(e->ops.arg, peer_idx(e, p));
	}
}

/* A refused rekey is tried again after 1-5 s, at random: two colliding sides drift apart. */
static uint64_t
retry_delay(void)
{
	return NANOS + (uint64_t)(rand() % 40) * (NANOS / 10);
}

/* Install our delayed outbound SA (the peer's rekey we answered), if any. */
static void
install_pending_out(struct mg_ike *e, struct ike_peer *p, struct ike_sa *sa)
{
	if (sa->pending_out_ns == 0)
		return;
	if (e->ops.child_up(e->ops.arg, peer_idx(e, p), &sa->pending_out) < 0)
		EV(e, p, 3, "CHILD_SA %08x_o: cannot install the outbound SA",
		   sa->pending_out.spi_out);
	mg_wipe(&sa->pending_out, sizeof(sa->pending_out));
	sa->pending_out_ns = 0;
}

/* Answer a CREATE_CHILD_SA request with an error notify. */
static void
create_child_error(struct mg_ike *e, struct ike_peer *p, struct ike_sa *sa, uint32_t msgid,
		   uint16_t type, const void *data, size_t len)
{
	size_t sk = sk_begin(e, sa, IKE_CREATE_CHILD_SA, true, msgid);

	ike_put_notify(&e->buf, 0, type, data, len);
	if (sk_end(e, sa, sk) == 0)
		send_response(e, p, sa, msgid);
}

/*
 * CREATE_CHILD_SA from the peer (RFC 7296 1.3): rekeying the CHILD_SA
 * (N(REKEY_SA), SA, Ni, TSi, TSr; no PFS) or the IKE SA (SA, Ni, KEi).
 * Other new CHILD_SAs are refused (one per tunnel).
 */
static void
create_child_request(struct mg_ike *e, struct ike_peer *p, struct ike_sa *sa,
		     const struct ike_pl *pl, unsigned int npl, uint32_t msgid)
{
	const struct ike_pl *sap = ike_pl_find(pl, npl, IKE_PL_SA);
	const struct ike_pl *non = ike_pl_find(pl, npl, IKE_PL_NONCE);
	const struct ike_pl *ke = ike_pl_find(pl, npl, IKE_PL_KE);
	struct ike_prop_in props[MG_IKE_MAX_PROPOSALS * 2];
	struct mg_ike_proposal chosen;
	struct ike_notify_pl rk;
	uint8_t nr[NONCE_LEN];
	unsigned int np, i;
	size_t sk, off;

	if (sap == NULL || non == NULL || non->len < 16 || non->len > 256 ||
	    ike_sa_decode(sap->body, sap->len, props, MG_ARRAY_SIZE(props), &np) < 0) {
		create_child_error(e, p, sa, msgid, IKE_N_INVALID_SYNTAX, NULL, 0);
		return;
	}
	if (ike_random(nr, sizeof(nr)) < 0)
		return;
	/*
	 * Our own rekey is under way: the peer's waits (RFC 7296 2.25,
	 * TEMPORARY_FAILURE; it retries after a random delay, as we do) rather
	 * than two replacements racing (2.8.1, 2.8.2).
	 */
	if (sa->req != NULL && (sa->req_kind == REQ_CHILD_REKEY || sa->req_kind == REQ_IKE_REKEY)) {
		create_child_error(e, p, sa, msgid, IKE_N_TEMPORARY_FAILURE, NULL, 0);
		return;
	}
	if (props[0].proto == IKE_PROTO_IKE) {
		struct ike_sa *n;
		uint8_t gir[256], pub[256];
		size_t girlen;
		uint16_t group;

		for (i = 0; i < np; i++)
			if (props[i].spi_len == 8 &&
			    ike_prop_match(&props[i], p->c.ike, p->c.nike, true, &chosen))
				break;
		if (i == np) {
			create_child_error(e, p, sa, msgid, IKE_N_NO_PROPOSAL_CHOSEN, NULL, 0);
			return;
		}
		group = ke != NULL && ke->len >= 4 ? (uint16_t)(ke->body[0] << 8 | ke->body[1]) : 0;
		if (group != chosen.dh) {
			uint8_t g[2] = {(uint8_t)(chosen.dh >> 8), (uint8_t)chosen.dh};

			create_child_error(e, p, sa, msgid, IKE_N_INVALID_KE_PAYLOAD, g, 2);
			return;
		}
		n = sa_new(false);
		if (n == NULL)
			return;
		n->prop = chosen;
		for (int k = 0; k < 8; k++)
			n->spi_i = n->spi_i << 8 | props[i].spi[k];
		n->spi_r = rand64();
		memcpy(n->ni, non->body, non->len);
		n->ni_len = non->len;
		memcpy(n->nr, nr, NONCE_LEN);
		n->nr_len = NONCE_LEN;
		n->dh = ike_dh_new(group);
		if (n->dh == NULL || ike_dh_public(n->dh, pub) < 0 ||
		    ike_dh_shared(n->dh, ke->body + 4, ke->len - 4u, gir, &girlen) < 0 ||
		    derive_ike_keys(n, gir, girlen, sa) < 0) {
			mg_wipe(gir, sizeof(gir));
			sa_free(n);
			create_child_error(e, p, sa, msgid, IKE_N_NO_PROPOSAL_CHOSEN, NULL, 0);
			return;
		}
		mg_wipe(gir, sizeof(gir));
		ike_dh_free(n->dh);
		n->dh = NULL;
		/* The CHILD_SA moves to the new IKE SA. */
		n->esp = sa->esp;
		n->child_spi_in = sa->child_spi_in;
		n->child_spi_out = sa->child_spi_out;
		n->old_spi_in = sa->old_spi_in;
		n->old_spi_out = sa->old_spi_out;
		n->child_up = sa->child_up;
		n->child_rekeys = sa->child_rekeys;
		n->pending_out = sa->pending_out;
		n->pending_out_ns = sa->pending_out_ns;
		mg_wipe(&sa->pending_out, sizeof(sa->pending_out));
		sa->pending_out_ns = 0;
		n->natt = sa->natt;
		n->remote_port = sa->remote_port;
		n->state = MG_IKE_ST_ESTABLISHED;
		n->established_ns = e->now;
		n->last_rx_ns = e->now;
		n->expires_ns = reauth_at(p, e->now, n->initiator);
		n->child_rekey_ns = sa->child_rekey_ns ? sa->child_rekey_ns : e->now;
		if (n->child_rekey_ns == e->now)
			child_rekey_schedule(p, n, e->now);
		sk = sk_begin(e, sa, IKE_CREATE_CHILD_SA, true, msgid);
		{
			uint8_t spi[8];

			for (int k = 0; k < 8; k++)
				spi[k] = (uint8_t)(n->spi_r >> (56 - 8 * k));
			ike_put_sa(&e->buf, &chosen, 1, true, spi, 8, props[i].num);
		}
		off = ike_pl_begin(&e->buf, IKE_PL_NONCE);
		ike_put(&e->buf, nr, NONCE_LEN);
		ike_pl_end(&e->buf, off);
		off = ike_pl_begin(&e->buf, IKE_PL_KE);
		ike_put16(&e->buf, group);
		ike_put16(&e->buf, 0);
		ike_put(&e->buf, pub, ike_dh_pub_len(group));
		ike_pl_end(&e->buf, off);
		if (sk_end(e, sa, sk) < 0) {
			sa_free(n);
			return;
		}
		send_response(e, p, sa, msgid);
		/* Current until the peer deletes the old IKE SA (sa_deleted promotes it). */
		if (sa == p->sa) {
			sa_free(p->next);
			p->next = n;
		} else {
			sa_free(n);
		}
		return;
	}
	/* A CHILD_SA: the rekey of ours, or a new one when we have none (one per tunnel). */
	if (ike_notify_find(pl, npl, IKE_N_REKEY_SA, &rk)
		    ? rk.spi_len != 4 || rd32be(rk.spi) != sa->child_spi_out || !sa->child_up
		    : sa->child_up) {
		create_child_error(e, p, sa, msgid, IKE_N_NO_ADDITIONAL_SAS, NULL, 0);
		return;
	}
	for (i = 0; i < np; i++)
		if (ike_prop_match(&props[i], p->c.esp, p->c.nesp, false, &chosen))
			break;
	if (i == np) {
		create_child_error(e, p, sa, msgid, IKE_N_NO_PROPOSAL_CHOSEN, NULL, 0);
		return;
	}
	{
		uint32_t spi_in = child_spi(), spi_out = rd32be(props[i].spi);
		uint8_t spi[4] = {(uint8_t)(spi_in >> 24), (uint8_t)(spi_in >> 16),
				  (uint8_t)(spi_in >> 8), (uint8_t)spi_in};
		uint8_t gir[256], pub[256];
		size_t girlen = 0;
		struct ike_dh *dh = NULL;
		int rc;

		if (chosen.dh != 0) {
			/* PFS (RFC 7296 1.3.1): the peer's KE must be of the chosen group. */
			uint16_t g = ke != NULL && ke->len >= 4
					     ? (uint16_t)(ke->body[0] << 8 | ke->body[1]) : 0;

			if (g != chosen.dh) {
				uint8_t gb[2] = {(uint8_t)(chosen.dh >> 8), (uint8_t)chosen.dh};

				create_child_error(e, p, sa, msgid, IKE_N_INVALID_KE_PAYLOAD, gb, 2);
				return;
			}
			dh = ike_dh_new(g);
			if (dh == NULL || ike_dh_public(dh, pub) < 0 ||
			    ike_dh_shared(dh, ke->body + 4, ke->len - 4u, gir, &girlen) < 0) {
				ike_dh_free(dh);
				mg_wipe(gir, sizeof(gir));
				create_child_error(e, p, sa, msgid, IKE_N_INVALID_SYNTAX, NULL, 0);
				return;
			}
		}
		sk = sk_begin(e, sa, IKE_CREATE_CHILD_SA, true, msgid);
		ike_put_sa(&e->buf, &chosen, 1, false, spi, 4, props[i].num);
		off = ike_pl_begin(&e->buf, IKE_PL_NONCE);
		ike_put(&e->buf, nr, NONCE_LEN);
		ike_pl_end(&e->buf, off);
		if (dh != NULL) {
			off = ike_pl_begin(&e->buf, IKE_PL_KE);
			ike_put16(&e->buf, chosen.dh);
			ike_put16(&e->buf, 0);
			ike_put(&e->buf, pub, ike_dh_pub_len(chosen.dh));
			ike_pl_end(&e->buf, off);
			ike_dh_free(dh);
		}
		ike_put_ts(&e->buf, IKE_PL_TSI, p->c.remote_ts, p->c.nremote_ts);
		ike_put_ts(&e->buf, IKE_PL_TSR, p->c.local_ts, p->c.nlocal_ts);
		if (sk_end(e, sa, sk) < 0) {
			mg_wipe(gir, sizeof(gir));
			return;
		}
		/*
		 * Make-before-break: the new inbound SA accepts before the peer can
		 * use it; our outbound SA waits until the peer has its inbound one
		 * (it deletes the old pair after our response), as strongSwan does.
		 */
		install_pending_out(e, p, sa);
		rc = install_child_keys(e, p, sa, gir, girlen, non->body, non->len, nr, NONCE_LEN,
					false, spi_in, spi_out, &chosen, sa->child_up);
		mg_wipe(gir, sizeof(gir));
		if (rc < 0) {
			create_child_error(e, p, sa, msgid, IKE_N_NO_ADDITIONAL_SAS, NULL, 0);
			return;
		}
		send_response(e, p, sa, msgid);
		if (sa->child_up) {
			sa->old_spi_in = sa->child_spi_in;
			sa->old_spi_out = sa->child_spi_out;
			sa->child_rekeys++;
		}
		sa->child_up = true;
		sa->child_spi_in = spi_in;
		sa->child_spi_out = spi_out;
		sa->esp = chosen;
		child_rekey_schedule(p, sa, e->now);
		EV(e, p, 6, "CHILD_SA %08x_i %08x_o installed", spi_in, spi_out);
		sa_event(e, p, MG_IKE_EV_CHILD_REKEYED, MG_IKE_OK);
	}
}

/* Decrypt the SK payload of @p m with the peer's keys; false (counted) when it fails. */
static bool
open_sk(struct mg_ike *e, const struct ike_sa *sa, const struct ike_msg *m, const uint8_t *buf,
	struct ike_pl *pl, unsigned int *npl)
{
	size_t plen;

	if (m->sk < 0 || ike_sk_decrypt(&sa->prop, keys_in(sa), buf, m, e->plain, &plen) < 0 ||
	    ike_pl_parse_chain(e->plain, plen, m->pl[m->sk].body[-4], pl, IKE_MAX_PL, npl) < 0) {
		e->st.dropped++;
		return false;
	}
	return true;
}

/* CREATE_CHILD_SA {N(REKEY_SA), SA, Ni, TSi, TSr}: our rekey of the CHILD_SA (no PFS). */
static void
send_child_rekey(struct mg_ike *e, struct ike_peer *p, struct ike_sa *sa)
{
	uint8_t spi[4], pub[256];
	size_t sk, off;

	sa->rk_spi_in = child_spi();
	if (ike_random(sa->rk_ni, sizeof(sa->rk_ni)) < 0)
		return;
	spi[0] = (uint8_t)(sa->rk_spi_in >> 24);
	spi[1] = (uint8_t)(sa->rk_spi_in >> 16);
	spi[2] = (uint8_t)(sa->rk_spi_in >> 8);
	spi[3] = (uint8_t)sa->rk_spi_in;
	/* PFS: a KE of our first proposal's group (RFC 7296 1.3.1). */
	ike_dh_free(sa->rk_dh);
	sa->rk_dh = NULL;
	if (p->c.esp[0].dh != 0 &&
	    ((sa->rk_dh = ike_dh_new(p->c.esp[0].dh)) == NULL || ike_dh_public(sa->rk_dh, pub) < 0))
		return;
	sk = sk_begin(e, sa, IKE_CREATE_CHILD_SA, false, sa->next_msgid++);
	off = ike_pl_begin(&e->buf, IKE_PL_NOTIFY);
	ike_put8(&e->buf, IKE_PROTO_ESP);
	ike_put8(&e->buf, 4);
	ike_put16(&e->buf, IKE_N_REKEY_SA);
	ike_put32(&e->buf, sa->child_spi_in);
	ike_pl_end(&e->buf, off);
	ike_put_sa(&e->buf, p->c.esp, p->c.nesp, false, spi, 4, 0);
	off = ike_pl_begin(&e->buf, IKE_PL_NONCE);
	ike_put(&e->buf, sa->rk_ni, sizeof(sa->rk_ni));
	ike_pl_end(&e->buf, off);
	if (sa->rk_dh != NULL) {
		off = ike_pl_begin(&e->buf, IKE_PL_KE);
		ike_put16(&e->buf, p->c.esp[0].dh);
		ike_put16(&e->buf, 0);
		ike_put(&e->buf, pub, ike_dh_pub_len(p->c.esp[0].dh));
		ike_pl_end(&e->buf, off);
	}
	ike_put_ts(&e->buf, IKE_PL_TSI, p->c.local_ts, p->c.nlocal_ts);
	ike_put_ts(&e->buf, IKE_PL_TSR, p->c.remote_ts, p->c.nremote_ts);
	if (sk_end(e, sa, sk) == 0 && send_request(e, p, sa, REQ_CHILD_REKEY) == 0)
		EV(e, p, 7, "rekeying CHILD_SA %08x", sa->child_spi_in);
}

/* The answer to our CHILD_SA rekey: install, then delete the old pair. */
static void
child_rekey_response(struct mg_ike *e, struct ike_peer *p, struct ike_sa *sa,
		     const struct ike_pl *pl, unsigned int npl)
{
	const struct ike_pl *sap = ike_pl_find(pl, npl, IKE_PL_SA);
	const struct ike_pl *nr = ike_pl_find(pl, npl, IKE_PL_NONCE);
	struct ike_prop_in props[2];
	struct mg_ike_proposal chosen;
	uint16_t err = ike_notify_error(pl, npl);
	unsigned int np;
	uint32_t spi_out;
	size_t sk, d, girlen = 0;
	uint8_t gir[256];
	int rc;

	if (err != 0 || sap == NULL || nr == NULL || nr->len < 16 || nr->len > 256 ||
	    ike_sa_decode(sap->body, sap->len, props, 2, &np) < 0 || np != 1 ||
	    !ike_prop_match(&props[0], p->c.esp, p->c.nesp, false, &chosen)) {
		/* Refused (a collision, TEMPORARY_FAILURE...): try again a little later. */
		EV(e, p, 5, "CHILD_SA rekey refused (notify %u): retrying soon", err);
		sa->child_rekey_ns = e->now + retry_delay();
		return;
	}
	spi_out = rd32be(props[0].spi);
	if (chosen.dh != 0) {
		const struct ike_pl *ke = ike_pl_find(pl, npl, IKE_PL_KE);

		if (sa->rk_dh == NULL || ke == NULL || ke->len < 4 ||
		    (uint16_t)(ke->body[0] << 8 | ke->body[1]) != ike_dh_group(sa->rk_dh) ||
		    ike_dh_shared(sa->rk_dh, ke->body + 4, ke->len - 4u, gir, &girlen) < 0) {
			EV(e, p, 4, "CHILD_SA rekey: the peer's KE does not fit (PFS)");
			sa->child_rekey_ns = e->now + 10 * NANOS;
			return;
		}
	}
	ike_dh_free(sa->rk_dh);
	sa->rk_dh = NULL;
	rc = install_child_keys(e, p, sa, gir, girlen, sa->rk_ni, sizeof(sa->rk_ni), nr->body,
				nr->len, true, sa->rk_spi_in, spi_out, &chosen, false);
	mg_wipe(gir, sizeof(gir));
	if (rc < 0) {
		sa->child_rekey_ns = e->now + 10 * NANOS;
		return;
	}
	sa->old_spi_in = sa->child_spi_in;
	sa->old_spi_out = sa->child_spi_out;
	sa->child_spi_in = sa->rk_spi_in;
	sa->child_spi_out = spi_out;
	sa->esp = chosen;
	sa->child_rekeys++;
	child_rekey_schedule(p, sa, e->now);
	EV(e, p, 6, "CHILD_SA rekeyed: %08x_i %08x_o", sa->child_spi_in, sa->child_spi_out);
	sa_event(e, p, MG_IKE_EV_CHILD_REKEYED, MG_IKE_OK);
	/* The old pair goes: INFORMATIONAL {D(ESP, our old inbound SPI)}. */
	sk = sk_begin(e, sa, IKE_INFORMATIONAL, false, sa->next_msgid++);
	d = ike_pl_begin(&e->buf, IKE_PL_DELETE);
	ike_put8(&e->buf, IKE_PROTO_ESP);
	ike_put8(&e->buf, 4);
	ike_put16(&e->buf, 1);
	ike_put32(&e->buf, sa->old_spi_in);
	ike_pl_end(&e->buf, d);
	if (sk_end(e, sa, sk) == 0)
		send_request(e, p, sa, REQ_DELETE);
	sa->old_spi_in = sa->old_spi_out = 0;
}

/* CREATE_CHILD_SA {SA(IKE, new SPIi), Ni, KEi}: our rekey of the IKE SA (RFC 7296 1.3.2). */
static void
send_ike_rekey(struct mg_ike *e, struct ike_peer *p, struct ike_sa *sa)
{
	struct ike_sa *n = sa_new(true);
	uint8_t spi[8], pub[256];
	size_t sk, off;

	if (n == NULL)
		return;
	n->spi_i = rand64();
	n->ni_len = NONCE_LEN;
	n->dh_group = sa->prop.dh;
	n->dh = ike_dh_new(n->dh_group);
	if (n->dh == NULL || ike_random(n->ni, NONCE_LEN) < 0 || ike_dh_public(n->dh, pub) < 0) {
		sa_free(n);
		return;
	}
	for (int k = 0; k < 8; k++)
		spi[k] = (uint8_t)(n->spi_i >> (56 - 8 * k));
	sk = sk_begin(e, sa, IKE_CREATE_CHILD_SA, false, sa->next_msgid++);
	ike_put_sa(&e->buf, &sa->prop, 1, true, spi, 8, 0);
	off = ike_pl_begin(&e->buf, IKE_PL_NONCE);
	ike_put(&e->buf, n->ni, NONCE_LEN);
	ike_pl_end(&e->buf, off);
	off = ike_pl_begin(&e->buf, IKE_PL_KE);
	ike_put16(&e->buf, n->dh_group);
	ike_put16(&e->buf, 0);
	ike_put(&e->buf, pub, ike_dh_pub_len(n->dh_group));
	ike_pl_end(&e->buf, off);
	if (sk_end(e, sa, sk) < 0 || send_request(e, p, sa, REQ_IKE_REKEY) < 0) {
		sa_free(n);
		return;
	}
	sa_free(sa->rk_new);
	sa->rk_new = n;
	EV(e, p, 7, "rekeying IKE SA %016llx", (unsigned long long)sa->spi_i);
}

/* The answer to our IKE SA rekey: the new SA takes over, the old one is deleted. */
static void
ike_rekey_response(struct mg_ike *e, struct ike_peer *p, struct ike_sa *sa,
		   const struct ike_pl *pl, unsigned int npl)
{
	const struct ike_pl *sap = ike_pl_find(pl, npl, IKE_PL_SA);
	const struct ike_pl *nr = ike_pl_find(pl, npl, IKE_PL_NONCE);
	const struct ike_pl *ke = ike_pl_find(pl, npl, IKE_PL_KE);
	struct ike_sa *n = sa->rk_new;
	struct ike_prop_in props[2];
	struct mg_ike_proposal chosen;
	uint8_t gir[256];
	size_t girlen, sk, d;
	unsigned int np;

	sa->rk_new = NULL;
	if (n == NULL || ike_notify_error(pl, npl) != 0 || sap == NULL || nr == NULL ||
	    nr->len < 16 || nr->len > 256 || ke == NULL || ke->len < 4 ||
	    (uint16_t)(ke->body[0] << 8 | ke->body[1]) != n->dh_group ||
	    ike_sa_decode(sap->body, sap->len, props, 2, &np) < 0 || np != 1 ||
	    props[0].spi_len != 8 || !ike_prop_match(&props[0], &sa->prop, 1, true, &chosen)) {
		EV(e, p, 5, "IKE SA rekey refused (notify %u): retrying soon",
		   ike_notify_error(pl, npl));
		sa_free(n);
		sa->expires_ns = e->now + retry_delay();
		return;
	}
	n->prop = chosen;
	for (int k = 0; k < 8; k++)
		n->spi_r = n->spi_r << 8 | props[0].spi[k];
	memcpy(n->nr, nr->body, nr->len);
	n->nr_len = nr->len;
	if (ike_dh_shared(n->dh, ke->body + 4, ke->len - 4u, gir, &girlen) < 0 ||
	    derive_ike_keys(n, gir, girlen, sa) < 0) {
		mg_wipe(gir, sizeof(gir));
		sa_free(n);
		sa->expires_ns = e->now + 10 * NANOS;
		return;
	}
	mg_wipe(gir, sizeof(gir));
	ike_dh_free(n->dh);
	n->dh = NULL;
	/* The CHILD_SA moves to the new IKE SA. */
	n->esp = sa->esp;
	n->child_spi_in = sa->child_spi_in;
	n->child_spi_out = sa->child_spi_out;
	n->child_up = sa->child_up;
	n->child_rekeys = sa->child_rekeys;
	n->child_rekey_ns = sa->child_rekey_ns;
	n->pending_out = sa->pending_out;
	n->pending_out_ns = sa->pending_out_ns;
	mg_wipe(&sa->pending_out, sizeof(sa->pending_out));
	sa->pending_out_ns = 0;
	n->natt = sa->natt;
	n->remote_port = sa->remote_port;
	n->state = MG_IKE_ST_ESTABLISHED;
	n->established_ns = e->now;
	n->last_rx_ns = e->now;
	n->expires_ns = reauth_at(p, e->now, n->initiator);
	/*
	 * INFORMATIONAL {D(IKE)} on the old SA (RFC 7296 1.4.1, 2.18), sent
	 * again until answered like any request (2.1): the old SA waits in
	 * p->next meanwhile, carrying nothing. Sent once and forgotten, a lost
	 * Delete left the peer on the old SA while we went on with the new one.
	 */
	sk = sk_begin(e, sa, IKE_INFORMATIONAL, false, sa->next_msgid++);
	d = ike_pl_begin(&e->buf, IKE_PL_DELETE);
	ike_put8(&e->buf, IKE_PROTO_IKE);
	ike_put8(&e->buf, 0);
	ike_put16(&e->buf, 0);
	ike_pl_end(&e->buf, d);
	if (sa != p->sa) {
		if (sk_end(e, sa, sk) == 0)
			tx(e, p, sa, e->buf.b, e->buf.len, sa->natt);
		sa_free(n);
		return;
	}
	p->sa = n;
	p->rekeys++;
	e->st.rekeys++;
	EV(e, p, 6, "IKE SA rekeyed: now %016llx_i %016llx_r", (unsigned long long)n->spi_i,
	   (unsigned long long)n->spi_r);
	sa_event(e, p, MG_IKE_EV_REKEYED, MG_IKE_OK);
	sa->child_up = false; /* the CHILD_SA is the new SA's now */
	sa->replaced = true;
	if (sk_end(e, sa, sk) == 0) {
		if (p->next == NULL && send_request(e, p, sa, REQ_DELETE_OLD) == 0) {
			p->next = sa;
			return;
		}
		tx(e, p, sa, e->buf.b, e->buf.len, sa->natt);
	}
	sa_free(sa);
}

static void
sa_input(struct mg_ike *e, struct ike_peer *p, struct ike_sa *sa, const struct ike_msg *m,
	 const uint8_t *buf, size_t len, const struct mg_ike_dgram *d)
{
	struct ike_pl pl[IKE_MAX_PL];
	unsigned int npl;
	const bool response = (m->flags & IKE_FLAG_R) != 0;

	/* The sender's I flag must be the opposite of ours... */
	if (((m->flags & IKE_FLAG_I) != 0) == sa->initiator) {
		e->st.dropped++;
		return;
	}
	if (m->exchange == IKE_SA_INIT) {
		if (response && sa->initiator && sa->state == MG_IKE_ST_INIT_SENT && m->msgid == 0)
			init_response(e, p, sa, m, buf, len, d);
		else
			e->st.dropped++;
		return;
	}
	if (sa->state == MG_IKE_ST_INIT_SENT || sa->state == MG_IKE_ST_IDLE) {
		e->st.dropped++;
		return;
	}
	if (response) {
		if (sa->req == NULL || m->msgid != sa->req_msgid || !open_sk(e, sa, m, buf, pl, &npl)) {
			e->st.dropped++;
			return;
		}
		/* An unrecognised critical payload: the response is rejected (RFC 7296 2.5). */
		if (unsupported_critical(pl, npl) >= 0) {
			e->st.dropped++;
			return;
		}
		sa->last_rx_ns = e->now;
		if (sa->req_kind == REQ_AUTH && m->exchange == IKE_AUTH) {
			auth_response(e, p, sa, pl, npl);
			return;
		}
		blob_free(&sa->req, &sa->req_len);
		if (sa->req_kind == REQ_CHILD_REKEY && m->exchange == IKE_CREATE_CHILD_SA) {
			sa->req_kind = REQ_NONE;
			child_rekey_response(e, p, sa, pl, npl);
			return;
		}
		if (sa->req_kind == REQ_IKE_REKEY && m->exchange == IKE_CREATE_CHILD_SA) {
			sa->req_kind = REQ_NONE;
			ike_rekey_response(e, p, sa, pl, npl); /* may free sa */
			return;
		}
		if (sa->req_kind == REQ_DELETE_OLD) {
			sa_deleted(e, p, sa); /* the peer let go of the SA we replaced */
			return;
		}
		sa->req_kind = REQ_NONE;
		return;
	}
	/* A request: the next one, or a repeat of the last (answered again). */
	if (sa->resp != NULL && m->msgid == sa->resp_msgid && m->msgid + 1 == sa->peer_msgid) {
		tx(e, p, sa, sa->resp, sa->resp_len, sa->resp_natt);
		return;
	}
	if (m->msgid != sa->peer_msgid || !open_sk(e, sa, m, buf, pl, &npl)) {
		e->st.dropped++;
		return;
	}
	sa->peer_msgid++;
	sa->last_rx_ns = e->now;
	/*
	 * A request on the IKE SA the peer's rekey made, before its Delete of
	 * the old one came: the peer has moved to the new SA, and so do we (as
	 * the Delete would have made us). Its Delete may have been lost.
	 */
	if (sa == p->next && !sa->replaced && sa->state == MG_IKE_ST_ESTABLISHED &&
	    p->sa != NULL && p->sa->state == MG_IKE_ST_ESTABLISHED) {
		EV(e, p, 6, "the peer uses its rekeyed IKE SA before deleting the old one");
		sa_deleted(e, p, p->sa);
	}
	if (d->marker && !sa->natt) {
		/* The initiator moved to port 4500 (NAT-T): so do we. */
		sa->natt = true;
	}
	sa->remote_port = d->sport;
	{
		int crit = unsupported_critical(pl, npl);

		if (crit >= 0) {
			/* Refused whole, naming the payload (RFC 7296 2.5). */
			uint8_t t = (uint8_t)crit;
			size_t sk = sk_begin(e, sa, m->exchange, true, m->msgid);

			EV(e, p, 4, "request from the peer: unsupported critical payload %d", crit);
			e->st.dropped++;
			ike_put_notify(&e->buf, 0, IKE_N_UNSUPPORTED_CRITICAL_PAYLOAD, &t, 1);
			if (sk_end(e, sa, sk) == 0)
				send_response(e, p, sa, m->msgid);
			return;
		}
	}
	switch (m->exchange) {
	case IKE_AUTH:
		if (!sa->initiator && sa->state == MG_IKE_ST_INIT_DONE)
			auth_request(e, p, sa, pl, npl, m->msgid);
		else
			e->st.dropped++;
		break;
	case IKE_INFORMATIONAL:
		if (sa->state == MG_IKE_ST_ESTABLISHED)
			informational_request(e, p, sa, pl, npl, m->msgid);
		break;
	case IKE_CREATE_CHILD_SA:
		if (sa->state == MG_IKE_ST_ESTABLISHED && !sa->replaced)
			create_child_request(e, p, sa, pl, npl, m->msgid);
		else
			e->st.dropped++;
		break;
	default:
		e->st.dropped++;
	}
}

/* ---- the engine ------------------------------------------------------------------------ */

struct mg_ike *
mg_ike_create(const struct mg_ike_ops *ops)
{
	struct mg_ike *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->ops = *ops;
	e->cookie_rate = MG_IKE_COOKIE_RATE;
	if (ike_random(e->cookie_secret, sizeof(e->cookie_secret)) < 0) {
		free(e);
		return NULL;
	}
	return e;
}

void
mg_ike_destroy(struct mg_ike *e)
{
	if (e == NULL)
		return;
	for (unsigned int i = 0; i < e->npeers; i++) {
		sa_free(e->peers[i]->sa);
		sa_free(e->peers[i]->next);
		ike_creds_free(&e->peers[i]->cr);
		mg_wipe(e->peers[i], sizeof(*e->peers[i]));
		free(e->peers[i]);
	}
	mg_wipe(e, sizeof(*e));
	free(e);
}

int
mg_ike_peer_add(struct mg_ike *e, const struct mg_ike_peer_conf *c, struct mg_error *err)
{
	struct ike_peer *p;
	int rc = mg_ike_peer_conf_check(c, err);

	if (rc < 0)
		return rc;
	if (e->npeers == MG_IKE_MAX_PEERS)
		return mg_error_set(err, ENOSPC, "", "too many IKE peers (limit %u)",
				    MG_IKE_MAX_PEERS);
	for (unsigned int i = 0; i < e->npeers; i++)
		if (mg_ip_equal(&e->peers[i]->c.remote, &c->remote) &&
		    mg_ip_equal(&e->peers[i]->c.local, &c->local))
			return mg_error_set(err, EEXIST, "remote", "tunnel '%s' has an IKE peer "
					    "with these addresses", e->peers[i]->c.name);
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return mg_error_set(err, ENOMEM, "", "out of memory");
	p->c = *c;
	if (ike_creds_load(c, &p->cr, err) < 0) {
		mg_wipe(p, sizeof(*p));
		free(p);
		return -EINVAL;
	}
	/* The engine keeps the loaded key; the configuration's copy of its text goes. */
	mg_wipe(p->c.key, sizeof(p->c.key));
	e->peers[e->npeers] = p;
	return (int)e->npeers++;
}

/* Tell the peer its IKE SA is gone (INFORMATIONAL {D(IKE)}, not waited for). */
static void
send_delete_ike(struct mg_ike *e, struct ike_peer *p, struct ike_sa *sa)
{
	size_t sk, d;

	if (sa == NULL || sa->state != MG_IKE_ST_ESTABLISHED)
		return;
	sk = sk_begin(e, sa, IKE_INFORMATIONAL, false, sa->next_msgid++);
	d = ike_pl_begin(&e->buf, IKE_PL_DELETE);
	ike_put8(&e->buf, IKE_PROTO_IKE);
	ike_put8(&e->buf, 0);
	ike_put16(&e->buf, 0);
	ike_pl_end(&e->buf, d);
	if (sk_end(e, sa, sk) == 0)
		tx(e, p, sa, e->buf.b, e->buf.len, sa->natt);
}

int
mg_ike_peer_find(const struct mg_ike *e, const char *name)
{
	for (unsigned int i = 0; i < e->npeers; i++)
		if (strcmp(e->peers[i]->c.name, name) == 0)
			return (int)i;
	return -ENOENT;
}

int
mg_ike_peer_replace(struct mg_ike *e, unsigned int idx, const struct mg_ike_peer_conf *c,
		    struct mg_error *err)
{
	struct ike_creds cr;
	struct ike_peer *p;
	int rc;

	if (idx >= e->npeers)
		return mg_error_set(err, ENOENT, "", "no IKE peer %u", idx);
	p = e->peers[idx];
	if ((rc = mg_ike_peer_conf_check(c, err)) < 0)
		return rc;
	for (unsigned int i = 0; i < e->npeers; i++)
		if (i != idx && mg_ip_equal(&e->peers[i]->c.remote, &c->remote) &&
		    mg_ip_equal(&e->peers[i]->c.local, &c->local))
			return mg_error_set(err, EEXIST, "remote", "tunnel '%s' has an IKE peer "
					    "with these addresses", e->peers[i]->c.name);
	if (ike_creds_load(c, &cr, err) < 0)
		return -EINVAL;
	/* Accepted: the old SAs go (the peer is told); the tunnel's ESP SAs stay until replaced. */
	send_delete_ike(e, p, p->sa);
	sa_free(p->sa);
	sa_free(p->next);
	ike_creds_free(&p->cr);
	mg_wipe(p, sizeof(*p));
	p->c = *c;
	p->cr = cr;
	mg_wipe(p->c.key, sizeof(p->c.key));
	return 0;
}

int
mg_ike_peer_remove(struct mg_ike *e, unsigned int idx)
{
	struct ike_peer *p;

	if (idx >= e->npeers)
		return -ENOENT;
	p = e->peers[idx];
	send_delete_ike(e, p, p->sa);
	sa_free(p->sa);
	sa_free(p->next);
	ike_creds_free(&p->cr);
	mg_wipe(p, sizeof(*p));
	free(p);
	memmove(&e->peers[idx], &e->peers[idx + 1], (e->npeers - idx - 1) * sizeof(e->peers[0]));
	e->peers[--e->npeers] = NULL;
	return 0;
}

static struct ike_peer *
peer_by_addr(struct mg_ike *e, const struct mg_ike_dgram *d)
{
	for (unsigned int i = 0; i < e->npeers; i++)
		if (mg_ip_equal(&e->peers[i]->c.remote, &d->src) &&
		    mg_ip_equal(&e->peers[i]->c.local, &d->dst))
			return e->peers[i];
	return NULL;
}

void
mg_ike_input(struct mg_ike *e, const struct mg_ike_dgram *d, const uint8_t *buf, size_t len,
	     uint64_t now)
{
	struct ike_peer *p;
	struct ike_msg m;
	int rc;

	e->now = now;
	e->st.rx++;
	rc = ike_msg_parse(buf, len, &m);
	if (rc < 0 || (p = peer_by_addr(e, d)) == NULL) {
		e->st.dropped++;
		/*
		 * RFC 7296 2.5: a later major version is dropped, and a request
		 * SHOULD be told the highest we speak (2.0, in the answer's header).
		 */
		if (rc == -EPROTONOSUPPORT && !(m.flags & IKE_FLAG_R) &&
		    (p = peer_by_addr(e, d)) != NULL) {
			struct ike_sa tmp = {.remote_port = d->sport};

			EV(e, p, 4, "a message of IKE major version %u: answered with "
			   "INVALID_MAJOR_VERSION", buf[17] >> 4);
			ike_buf_init(&e->buf, m.spi_i, m.spi_r, m.exchange, IKE_FLAG_R, m.msgid);
			ike_put_notify(&e->buf, 0, IKE_N_INVALID_MAJOR_VERSION, NULL, 0);
			ike_buf_finish(&e->buf);
			tx(e, p, &tmp, e->buf.b, e->buf.len, d->marker);
		}
		return;
	}
	if (m.exchange == IKE_SA_INIT && !(m.flags & IKE_FLAG_R) && m.spi_r == 0 &&
	    m.msgid == 0 && (m.flags & IKE_FLAG_I)) {
		init_request(e, p, &m, buf, len, d);
		return;
	}
	for (int k = 0; k < 2; k++) {
		struct ike_sa *sa = k == 0 ? p->sa : p->next;

		if (sa == NULL || sa->spi_i != m.spi_i)
			continue;
		if (sa->spi_r != 0 && m.spi_r != sa->spi_r)
			continue;
		sa_input(e, p, sa, &m, buf, len, d);
		return;
	}
	e->st.dropped++;
}

/* Timers of one SA; false when it was freed. */
static bool
sa_tick(struct mg_ike *e, struct ike_peer *p, struct ike_sa *sa, uint64_t *next)
{
	const uint8_t tries = p->c.retransmit_tries ? p->c.retransmit_tries : 5;

	if (sa->req != NULL) {
		if (e->now >= sa->req_next_ns) {
			if (sa->req_tries >= tries) {
				enum req_kind k = sa->req_kind;

				if (k == REQ_DELETE_OLD) {
					/* Unanswered: the SA we replaced goes all the same. */
					sa_deleted(e, p, sa);
					return false;
				}

				if (k == REQ_DPD)
					EV(e, p, 4, "peer does not answer liveness checks");
				sa_failed(e, p, sa, k == REQ_DPD ? MG_IKE_R_DEAD_PEER : MG_IKE_R_TIMEOUT);
				return false;
			}
			sa->req_tries++;
			sa->req_rto_ms *= 2;
			sa->req_next_ns = e->now + (uint64_t)sa->req_rto_ms * MS;
			e->st.retransmits++;
			tx(e, p, sa, sa->req, sa->req_len, sa->natt);
		}
		if (sa->req_next_ns < *next)
			*next = sa->req_next_ns;
		return true;
	}
	if (sa->state == MG_IKE_ST_INIT_DONE && e->now > sa->last_rx_ns + 60 * NANOS &&
	    sa->last_rx_ns != 0) {
		sa_failed(e, p, sa, MG_IKE_R_TIMEOUT);
		return false;
	}
	if (sa->state != MG_IKE_ST_ESTABLISHED)
		return true;
	if (sa->pending_out_ns != 0) {
		if (e->now >= sa->pending_out_ns)
			install_pending_out(e, p, sa);
		else if (sa->pending_out_ns < *next)
			*next = sa->pending_out_ns;
	}
	if (sa->child_up && sa->child_rekey_ns != 0 && sa == p->sa) {
		if (e->now >= sa->child_rekey_ns) {
			sa->child_rekey_ns = 0;
			install_pending_out(e, p, sa);
			send_child_rekey(e, p, sa);
			if (sa->req != NULL && sa->req_next_ns < *next)
				*next = sa->req_next_ns;
			return true;
		}
		if (sa->child_rekey_ns < *next)
			*next = sa->child_rekey_ns;
	}
	if (p->c.dpd_s) {
		uint64_t due = sa->last_rx_ns + (uint64_t)p->c.dpd_s * NANOS;

		if (e->now >= due) {
			size_t sk = sk_begin(e, sa, IKE_INFORMATIONAL, false, sa->next_msgid++);

			if (sk_end(e, sa, sk) == 0 && send_request(e, p, sa, REQ_DPD) == 0)
				e->st.dpd_sent++;
			sa->last_rx_ns = e->now; /* next check counted from here */
			due = sa->req_next_ns;
		}
		if (due < *next)
			*next = due;
	}
	return true;
}

void
mg_ike_set_cookie_rate(struct mg_ike *e, unsigned int per_s)
{
	e->cookie_rate = per_s;
}

uint64_t
mg_ike_tick(struct mg_ike *e, uint64_t now)
{
	uint64_t next = now + 10 * NANOS;

	e->now = now;
	for (unsigned int i = 0; i < e->npeers; i++) {
		struct ike_peer *p = e->peers[i];

		if (p->sa == NULL && p->c.initiator && now >= p->next_try_ns)
			initiate(e, p, false);
		if (p->sa != NULL && sa_tick(e, p, p->sa, &next) && p->sa->state ==
		    MG_IKE_ST_ESTABLISHED && p->next == NULL && now >= p->sa->expires_ns) {
			if (p->c.reauth && p->sa->initiator)
				initiate(e, p, true);
			else if (p->sa->req == NULL)
				send_ike_rekey(e, p, p->sa);
		}
		if (p->next != NULL)
			sa_tick(e, p, p->next, &next);
		if (p->sa != NULL && p->sa->state == MG_IKE_ST_ESTABLISHED &&
		    p->sa->expires_ns < next)
			next = p->sa->expires_ns;
		if (p->sa == NULL && p->c.initiator && p->next_try_ns < next)
			next = p->next_try_ns;
	}
	return next;
}

void
mg_ike_stats(const struct mg_ike *e, struct mg_ike_stats *st)
{
	*st = e->st;
}

unsigned int
mg_ike_peer_count(const struct mg_ike *e)
{
	return e->npeers;
}

int
mg_ike_peer_info(const struct mg_ike *e, unsigned int idx, struct mg_ike_peer_info *info)
{
	const struct ike_peer *p;
	const struct ike_sa *sa;

	if (idx >= e->npeers)
		return -ENOENT;
	p = e->peers[idx];
	sa = p->sa;
	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", p->c.name);
	info->initiator = p->c.initiator;
	info->remote = p->c.remote;
	info->rekeys = p->rekeys;
	info->last_error = p->last_error;
	info->state = p->c.initiator && p->sa == NULL && p->last_error != MG_IKE_OK
			      ? MG_IKE_ST_FAILED : MG_IKE_ST_IDLE;
	if (sa == NULL)
		return 0;
	info->state = sa->state;
	info->remote_port = sa->remote_port;
	info->spi_i = sa->spi_i;
	info->spi_r = sa->spi_r;
	info->ike = sa->prop;
	info->esp = sa->esp;
	info->child_spi_in = sa->child_up ? sa->child_spi_in : 0;
	info->child_spi_out = sa->child_up ? sa->child_spi_out : 0;
	info->natt = sa->natt;
	info->child_rekeys = sa->child_rekeys;
	info->established_ns = sa->established_ns;
	info->ike_expires_ns = sa->expires_ns;
	return 0;
}
