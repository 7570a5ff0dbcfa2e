/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Harness "wg": WireGuard messages received by lib/wg, on the main lcore's
 * handshake path (mg_wg_handshake_receive: initiations, responses, cookie
 * replies, mac1/mac2, the rate limit, the replay and flood checks) and the
 * workers' data path (mg_wg_msg_type, then mg_wg_decrypt_burst: receiver
 * index, counter limits, the replay window, the AEAD, the inner packet and
 * the allowed-IPs source check).
 *
 * The fixture, made afresh for every input: interfaces A and B (fixed
 * private keys), each the other's peer, B with a preshared key for A and
 * A's allowed IPs 10.99.0.0/24 and fd99::/64; A has initiated a handshake,
 * B answered, A derived the session and confirmed it with a keepalive, so
 * B has a current session: the "fixed session" of the data path. B is the
 * interface under test; A is a real peer that makes genuine messages.
 *
 * Input: records [op][len][len bytes]; op bits 0-3 the kind, bit 4 a flag:
 *   0  a handshake message to B, as given; flag: give it a right mac1 for B
 *   1  A makes an initiation to B; the body is XOR-ed over it (from byte 0);
 *      flag: then fix its mac1; B's reply (response or cookie reply) goes
 *      back to A as it is
 *   2  A makes an initiation, B answers; the body is XOR-ed over B's reply
 *      before A receives it; flag: fix its mac1 for A
 *   3  a handshake message to A, as given (cookie replies, responses);
 *      flag: with a right mac1 for A
 *   4  a transport data message to B, as given; flag: with the receiver
 *      index of B's current session
 *   5  A seals the body (an inner packet, or nothing: a keepalive) on its
 *      current session and B decrypts it; flag: B receives it twice
 *   6  B under load (flag) or not
 *   7  time passes: the body's first byte x 100 ms (up to 25.5 s)
 *   8  both interfaces' timers run; initiations A asks for reach B
 *   9  A's message sealed as in 5, but the body XOR-ed over the sealed message
 *
 * Invariants beyond "no crash": every result and status is a known one and
 * counted once; a message A sealed on a live session never fails its
 * authentication, index or counter checks; its second copy is a replay; a
 * decrypted packet is a whole IPv4 or IPv6 packet from A's allowed IPs and
 * is what A sealed; the handshake counters add up; every mbuf comes back.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "fuzz.h"
#include "fuzz_buf.h"
#include "mg_wg.h"
#include "wg_blake2s.h"

#define S 1000000000ull
#define MS 1000000ull
#define MAX_MSG 1600
#define BURST 4

static const uint8_t key_a[32] = "fuzz-wg-private-key-of-iface--A!";
static const uint8_t key_b[32] = "fuzz-wg-private-key-of-iface--B!";
static const uint8_t psk[32] = "fuzz-wg-preshared-key-A-and-B-!!";
static uint8_t pub_a[32], pub_b[32], mac1_a[32], mac1_b[32];

static const struct mg_wg_src src_a = {.ip = {.family = AF_INET, .v4 = RTE_BE32(0xc0000202)},
				       .port = 51820};
static const struct mg_wg_src src_b = {.ip = {.family = AF_INET, .v4 = RTE_BE32(0xc0000201)},
				       .port = 51821};

static struct mg_wg_worker *worker;
static uint64_t now;          /* the input's clock */
static uint64_t wall;         /* its wall clock: TAI64N stamps keep growing */

/* The fixture of one input. */
static struct mg_wg_iface *a, *b;
static struct mg_wg_peer *b_on_a, *a_on_b;
static struct mg_wg_aip *aip_b;
static unsigned int hs_calls_b, hs_calls_a;
static bool verbose;          /* MG_FUZZ_VERBOSE: say what each message became */
/*
 * B answered an initiation after A's newest session: B's unconfirmed
 * keypair may then be a newer one than A's, and A's messages on the old
 * one meet an unknown index (as with any WireGuard responder).
 */
static bool b_answered_since;
/*
 * A's newest session came from a response that was changed on the way
 * (mac1 made right again): its sender index is covered by nothing else, as
 * in the protocol, so A may send to an index B never had.
 */
static bool a_session_tampered;
static bool reply_tampered;   /* the message to_a is given was changed */

static uint64_t
fz_wall(void)
{
	/* TAI64N stamps are rounded down (to about 16 ms): step well past that. */
	wall += 50 * MS;
	return wall;
}

/* No leak at exit: the worker context (DPDK memory, with libIPSec_MB's manager in it). */
static void
worker_free(void)
{
	mg_wg_worker_destroy(worker);
	worker = NULL;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_eal_init("wg", NULL, 0);
	fz_buf_init();
	verbose = getenv("MG_FUZZ_VERBOSE") != NULL;
	worker = mg_wg_worker_create(SOCKET_ID_ANY);
	FZ_SETUP(worker != NULL, "worker context");
	atexit(worker_free);
	FZ_SETUP(mg_wg_key_public(pub_a, key_a) == 0 && mg_wg_key_public(pub_b, key_b) == 0,
		 "public keys");
	/* mac1 keys: HASH(LABEL_MAC1 || the receiver's public key). */
	wg_hash2(mac1_a, "mac1----", 8, pub_a, 32);
	wg_hash2(mac1_b, "mac1----", 8, pub_b, 32);
	return 0;
}

/* ---- messages -------------------------------------------------------------------------------- */

/* Give a handshake message (initiation or response, by its length) a right mac1. */
static void
fix_mac1(uint8_t *msg, size_t len, const uint8_t key[32])
{
	if (len != MG_WG_INITIATION_LEN && len != MG_WG_RESPONSE_LEN)
		return;
	wg_blake2s(msg + len - 32, 16, key, 32, msg, len - 32);
}

static void
check_hs(enum mg_wg_hs_result r, size_t rlen)
{
	FZ_ASSERT((unsigned int)r < MG_WG_HS_RESULT_MAX, "handshake result %u", r);
	FZ_ASSERT(rlen <= MG_WG_REPLY_MAX, "reply of %zu bytes", rlen);
	if (r == MG_WG_HS_RESPONSE)
		FZ_ASSERT(rlen == MG_WG_RESPONSE_LEN, "response of %zu bytes", rlen);
	else if (r == MG_WG_HS_COOKIE_REPLY)
		FZ_ASSERT(rlen == MG_WG_COOKIE_LEN, "cookie reply of %zu bytes", rlen);
	else
		FZ_ASSERT(rlen == 0, "%s with a %zu-byte reply", mg_wg_hs_result_name(r), rlen);
}

static enum mg_wg_hs_result
to_b(const uint8_t *msg, size_t len, uint8_t reply[MG_WG_REPLY_MAX], size_t *rlen)
{
	struct mg_wg_peer *who = NULL;
	enum mg_wg_hs_result r;

	*rlen = 0;
	r = mg_wg_handshake_receive(b, msg, len, &src_a, now, reply, rlen, &who);
	hs_calls_b++;
	check_hs(r, *rlen);
	if (verbose)
		fprintf(stderr, " B:%s", mg_wg_hs_result_name(r));
	FZ_ASSERT(who == NULL || who == a_on_b, "B names a peer it does not have");
	if (r == MG_WG_HS_RESPONSE || r == MG_WG_HS_SESSION)
		FZ_ASSERT(who == a_on_b, "%s without its peer", mg_wg_hs_result_name(r));
	if (r == MG_WG_HS_RESPONSE)
		b_answered_since = true;
	return r;
}

static enum mg_wg_hs_result
to_a(const uint8_t *msg, size_t len)
{
	uint8_t reply[MG_WG_REPLY_MAX];
	struct mg_wg_peer *who = NULL;
	enum mg_wg_hs_result r;
	size_t rlen = 0;

	r = mg_wg_handshake_receive(a, msg, len, &src_b, now, reply, &rlen, &who);
	hs_calls_a++;
	check_hs(r, rlen);
	if (verbose)
		fprintf(stderr, " A:%s", mg_wg_hs_result_name(r));
	if (r == MG_WG_HS_SESSION) {
		b_answered_since = false;
		a_session_tampered = reply_tampered;
	}
	reply_tampered = false;
	FZ_ASSERT(who == NULL || who == b_on_a, "A names a peer it does not have");
	return r;
}

/*
 * A's initiation to B; false if A cannot make one now. The clock moves on
 * 25 ms first: B takes at most 50 initiations a second from a peer.
 */
static bool
initiation(uint8_t msg[MG_WG_INITIATION_LEN])
{
	now += 25 * MS;
	return mg_wg_initiation_create(a, b_on_a, now, msg) == 0;
}

/* ---- data ------------------------------------------------------------------------------------- */

/*
 * A seals @p len bytes on its current session into @p out (at most MAX_MSG
 * + 48 bytes); returns the message length, 0 if A has no session.
 */
static uint32_t
seal(const uint8_t *p, uint32_t len, uint8_t *out)
{
	struct mg_wg_keypair *kp = mg_wg_peer_tx_keypair(b_on_a, now);
	struct rte_mbuf *m;
	uint8_t st;
	uint32_t n;

	if (kp == NULL)
		return 0;
	m = rte_pktmbuf_alloc(fz_buf_pool());
	FZ_SETUP(m != NULL, "mbuf");
	if (len > 0)
		memcpy(rte_pktmbuf_append(m, (uint16_t)len), p, len);
	if (mg_wg_encrypt_burst(worker, kp, &m, 1, now, &st) != 1) {
		FZ_ASSERT(st == MG_WG_TX_KEY_EXPIRED || st == MG_WG_TX_COUNTER_LIMIT,
			  "A could not seal: %s", mg_wg_tx_status_name(st));
		rte_pktmbuf_free(m);
		return 0;
	}
	n = rte_pktmbuf_pkt_len(m);
	FZ_ASSERT(m->nb_segs == 1 && n >= 32 && n <= MAX_MSG + 48, "sealed message of %u bytes",
		  n);
	memcpy(out, rte_pktmbuf_mtod(m, const void *), n);
	rte_pktmbuf_free(m);
	return n;
}

/* Is @p p (@p len bytes) a whole IPv4 or IPv6 packet from A's allowed IPs? */
static bool
inner_ok(const uint8_t *p, uint32_t len)
{
	if (len >= 20 && (p[0] >> 4) == 4) {
		uint32_t tot = (uint32_t)p[2] << 8 | p[3];

		return tot >= 20 && tot <= len && p[12] == 10 && p[13] == 99 && p[14] == 0;
	}
	if (len >= 40 && (p[0] >> 4) == 6) {
		static const uint8_t pfx[8] = {0xfd, 0x99};

		return 40u + ((uint32_t)p[4] << 8 | p[5]) <= len && memcmp(p + 8, pfx, 8) == 0;
	}
	return false;
}

/*
 * B decrypts @p copies copies of @p msg in one burst; @p sealed: A made it
 * from @p plain (@p plen bytes), untouched since.
 */
static void
to_b_data(const uint8_t *msg, uint32_t len, unsigned int copies, bool sealed,
	  const uint8_t *plain, uint32_t plen)
{
	struct rte_mbuf *pkts[BURST];
	struct mg_wg_peer *peers[BURST];
	uint8_t st[BURST];
	uint16_t ok;
	int type = mg_wg_msg_type(msg, len);

	FZ_ASSERT(type >= 0 && type <= 4, "message type %d", type);
	if (type == 4)
		FZ_ASSERT(len >= 32 && msg[0] == 4 && !msg[1] && !msg[2] && !msg[3],
			  "type 4 for a message that is not transport data");
	if (type != 4 && !sealed) {
		/* The workers hand the rest to the main lcore: B's handshake path. */
		uint8_t reply[MG_WG_REPLY_MAX];
		size_t rlen;

		if (type != 0)
			to_b(msg, len, reply, &rlen);
		return;
	}
	for (unsigned int i = 0; i < copies; i++)
		pkts[i] = fz_buf_pkt(msg, len, 0);
	ok = mg_wg_decrypt_burst(worker, b, aip_b, pkts, (uint16_t)copies, now, st, peers);
	FZ_ASSERT(ok <= copies, "%u of %u decrypted", ok, copies);
	for (unsigned int i = 0; verbose && i < copies; i++)
		fprintf(stderr, " B:%s", mg_wg_rx_status_name(st[i]));
	for (unsigned int i = 0; i < copies; i++) {
		FZ_ASSERT(st[i] < MG_WG_RX_STATUS_MAX, "decrypt status %u", st[i]);
		FZ_ASSERT((i < ok) == (st[i] == MG_WG_RX_DATA), "DATA packets not first");
		if (st[i] == MG_WG_RX_DATA || st[i] == MG_WG_RX_KEEPALIVE)
			FZ_ASSERT(peers[i] == a_on_b, "%s without its peer",
				  mg_wg_rx_status_name(st[i]));
		else
			FZ_ASSERT(peers[i] == NULL, "%s with a peer", mg_wg_rx_status_name(st[i]));
		if (st[i] == MG_WG_RX_DATA) {
			const uint8_t *p = rte_pktmbuf_mtod(pkts[i], const uint8_t *);

			FZ_ASSERT(pkts[i]->nb_segs == 1 && pkts[i]->data_len == pkts[i]->pkt_len,
				  "decrypted packet in segments");
			FZ_ASSERT(inner_ok(p, pkts[i]->data_len),
				  "decrypted packet not a whole packet from A's allowed IPs");
			/*
			 * What A sealed; an inner length beyond it takes in some of the
			 * zero padding, as WireGuard's reference implementations do.
			 */
			if (sealed && plain != NULL) {
				uint32_t dl = pkts[i]->data_len, c = RTE_MIN(dl, plen);

				FZ_ASSERT(memcmp(p, plain, c) == 0 && dl <= ((plen + 15) & ~15u),
					  "decrypted packet differs from what A sealed");
				for (uint32_t k = c; k < dl; k++)
					FZ_ASSERT(p[k] == 0, "decrypted padding not zero");
			}
		}
	}
	if (sealed) {
		/* A's genuine message: the first copy passes every check of the session. */
		uint8_t s0 = st[0];

		FZ_ASSERT(s0 == MG_WG_RX_DATA || s0 == MG_WG_RX_KEEPALIVE ||
				  s0 == MG_WG_RX_BAD_INNER || s0 == MG_WG_RX_SRC_NOT_ALLOWED ||
				  (s0 == MG_WG_RX_UNKNOWN_INDEX &&
				   (b_answered_since || a_session_tampered)),
			  "a message A sealed failed: %s", mg_wg_rx_status_name(s0));
		if (s0 != MG_WG_RX_UNKNOWN_INDEX)
			FZ_ASSERT((s0 == MG_WG_RX_KEEPALIVE) == (plen == 0),
				  "keepalive status for %u bytes", plen);
		if (copies > 1 && s0 != MG_WG_RX_UNKNOWN_INDEX) {
			unsigned int replays = 0;

			for (unsigned int i = 0; i < copies; i++)
				replays += st[i] == MG_WG_RX_REPLAY;
			FZ_ASSERT(replays == copies - 1, "%u of %u copies refused as replays",
				  replays, copies - 1);
		}
	}
	rte_pktmbuf_free_bulk(pkts, copies);
}

/* ---- the fixture ------------------------------------------------------------------------------- */

static void
timer_cb(void *arg, struct mg_wg_peer *peer, uint32_t actions)
{
	(void)arg;
	if (peer == b_on_a && (actions & MG_WG_ACT_SEND_INITIATION)) {
		uint8_t msg[MG_WG_INITIATION_LEN], reply[MG_WG_REPLY_MAX];
		size_t rlen;

		if (!initiation(msg))
			return;
		to_b(msg, sizeof(msg), reply, &rlen);
		if (rlen > 0)
			to_a(reply, rlen);
	}
}

static void
fixture_up(void)
{
	/* Small tables: the fixture is made afresh for every input. */
	struct mg_wg_iface_conf c = {.wall_ns = fz_wall, .seed = 7, .mtu = 1420, .index_slots = 64,
				     .ratelimit_entries = 16};
	struct mg_wg_peer_conf pc;
	struct mg_wg_aip_builder *bld;
	struct mg_prefix pfx;
	struct mg_error e;
	uint8_t msg[MG_WG_INITIATION_LEN], reply[MG_WG_REPLY_MAX], ka[64];
	size_t rlen;

	now = 1000 * S;
	wall = 1700000000ull * S;
	hs_calls_a = hs_calls_b = 0;
	b_answered_since = false;
	a_session_tampered = reply_tampered = false;
	c.name = "fza";
	c.private_key = key_a;
	a = mg_wg_iface_create(&c, &e);
	c.name = "fzb";
	c.private_key = key_b;
	b = mg_wg_iface_create(&c, &e);
	FZ_SETUP(a != NULL && b != NULL, "interfaces: %s", e.msg);
	memset(&pc, 0, sizeof(pc));
	memcpy(pc.public_key, pub_b, 32);
	pc.preshared_key = psk;
	b_on_a = mg_wg_peer_add(a, &pc, now, &e);
	memcpy(pc.public_key, pub_a, 32);
	a_on_b = mg_wg_peer_add(b, &pc, now, &e);
	FZ_SETUP(b_on_a != NULL && a_on_b != NULL, "peers: %s", e.msg);
	bld = mg_wg_aip_builder_create();
	FZ_SETUP(bld != NULL, "allowed IPs");
	FZ_SETUP(mg_prefix_parse("10.99.0.0/24", &pfx) == 0 &&
			 mg_wg_aip_builder_add(bld, &pfx, a_on_b, &e) == 0 &&
			 mg_prefix_parse("fd99::/64", &pfx) == 0 &&
			 mg_wg_aip_builder_add(bld, &pfx, a_on_b, &e) == 0,
		 "allowed IPs");
	aip_b = mg_wg_aip_build(bld, &e);
	mg_wg_aip_builder_destroy(bld);
	FZ_SETUP(aip_b != NULL, "allowed IPs: %s", e.msg);
	/* The fixed session: a whole handshake, confirmed by A's keepalive. */
	FZ_ASSERT(initiation(msg), "A cannot initiate");
	FZ_ASSERT(to_b(msg, sizeof(msg), reply, &rlen) == MG_WG_HS_RESPONSE,
		  "B refused A's first initiation");
	FZ_ASSERT(to_a(reply, rlen) == MG_WG_HS_SESSION, "A refused B's response");
	rlen = seal(NULL, 0, ka);
	FZ_ASSERT(rlen > 0, "A has no session after the handshake");
	to_b_data(ka, (uint32_t)rlen, 1, true, NULL, 0);
}

static void
fixture_down(void)
{
	struct mg_wg_iface_stats st;
	uint64_t sum = 0;

	mg_wg_iface_stats(b, &st);
	for (unsigned int i = 0; i < MG_WG_HS_RESULT_MAX; i++)
		sum += st.hs[i];
	FZ_ASSERT(sum == hs_calls_b, "B counted %lu handshake messages of %u",
		  (unsigned long)sum, hs_calls_b);
	mg_wg_iface_stats(a, &st);
	sum = 0;
	for (unsigned int i = 0; i < MG_WG_HS_RESULT_MAX; i++)
		sum += st.hs[i];
	FZ_ASSERT(sum == hs_calls_a, "A counted %lu handshake messages of %u",
		  (unsigned long)sum, hs_calls_a);
	mg_wg_iface_destroy(a);
	mg_wg_iface_destroy(b);
	mg_wg_aip_free(aip_b);
	a = b = NULL;
	FZ_ASSERT(fz_buf_in_use() == 0, "%u packet buffers never released", fz_buf_in_use());
	FZ_ASSERT(rte_mempool_in_use_count(fz_buf_pool()) == 0, "%u mbufs in use after the input",
		  rte_mempool_in_use_count(fz_buf_pool()));
}

/* XOR @p x (@p xlen bytes) over @p msg (@p len bytes) from its start. */
static void
xor_over(uint8_t *msg, size_t len, const uint8_t *x, size_t xlen)
{
	for (size_t i = 0; i < len && i < xlen; i++)
		msg[i] ^= x[i];
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t msg[MAX_MSG + 64];
	size_t off = 0;

	fixture_up();
	while (off + 2 <= size) {
		uint8_t op = data[off], kind = op & 0xf, flag = op & 0x10;
		size_t len = RTE_MIN((size_t)data[off + 1], size - off - 2);
		const uint8_t *body = data + off + 2;
		uint8_t reply[MG_WG_REPLY_MAX];
		size_t rlen;
		uint32_t n;

		/* A record whose length byte is 255 runs to the end: room for big messages. */
		if (data[off + 1] == 255)
			len = RTE_MIN(size - off - 2, (size_t)MAX_MSG);
		off += 2 + len;
		switch (kind) {
		case 0:
		case 3:
			memcpy(msg, body, len);
			if (flag)
				fix_mac1(msg, len, kind == 0 ? mac1_b : mac1_a);
			if (kind == 0) {
				to_b(msg, len, reply, &rlen);
			} else {
				reply_tampered = true;
				to_a(msg, len);
			}
			break;
		case 1:
		case 2:
			if (!initiation(msg))
				break;
			if (kind == 1) {
				xor_over(msg, MG_WG_INITIATION_LEN, body, len);
				if (flag)
					fix_mac1(msg, MG_WG_INITIATION_LEN, mac1_b);
			}
			to_b(msg, MG_WG_INITIATION_LEN, reply, &rlen);
			if (rlen == 0)
				break;
			if (kind == 2) {
				for (size_t i = 0; i < len && i < rlen; i++)
					reply_tampered |= body[i] != 0;
				xor_over(reply, rlen, body, len);
				if (flag)
					fix_mac1(reply, rlen, mac1_a);
			}
			to_a(reply, rlen);
			break;
		case 4:
			if (len == 0)
				break;
			memcpy(msg, body, len);
			if (flag && len >= 8) {
				/* B's index of the session: what A writes as the receiver. */
				uint8_t ka[64];

				if (seal(NULL, 0, ka) > 0)
					memcpy(msg + 4, ka + 4, 4);
			}
			to_b_data(msg, (uint32_t)len, 1, false, NULL, 0);
			break;
		case 5:
		case 9:
			n = seal(body, (uint32_t)len, msg);
			if (n == 0)
				break;
			if (kind == 9) {
				xor_over(msg, n, body, len);
				to_b_data(msg, n, flag ? 2 : 1, false, NULL, 0);
			} else {
				to_b_data(msg, n, flag ? 2 : 1, true, body, (uint32_t)len);
			}
			break;
		case 6:
			mg_wg_iface_set_under_load(b, flag != 0);
			break;
		case 7:
			now += (len > 0 ? body[0] : 1) * 100 * MS;
			break;
		case 8:
			mg_wg_iface_tick(a, now, timer_cb, NULL);
			mg_wg_iface_tick(b, now, timer_cb, NULL);
			break;
		default:
			break;
		}
	}
	fixture_down();
	if (verbose)
		fputc('\n', stderr);
	return 0;
}
