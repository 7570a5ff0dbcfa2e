/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mac1, mac2 and cookie replies (paper, section 5.4.4 and 5.4.7). The
 * checker is ours: mac1 proves the sender knows our public key; under load
 * mac2 proves it received a cookie at its source address. The maker is per
 * peer: it stamps our messages to that peer and keeps the last cookie the
 * peer sent us. Main lcore only.
 */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>

#include "wg_blake2s.h"
#include "wg_crypto.h"
#include "wg_priv.h"

/* HASH(label || key): the mac1 and cookie keys. */
static void
derive_key(uint8_t out[32], const char *label, const uint8_t key[32])
{
	wg_hash2(out, label, strlen(label), key, 32);
}

void
wg_cookie_checker_init(struct wg_cookie_checker *c, const uint8_t *our_public)
{
	mg_wipe(c->secret, sizeof(c->secret));
	c->secret_birth = MG_WG_NEVER;
	if (our_public != NULL) {
		derive_key(c->mac1_key, WG_LABEL_MAC1, our_public);
		derive_key(c->cookie_key, WG_LABEL_COOKIE, our_public);
	} else {
		memset(c->mac1_key, 0, sizeof(c->mac1_key));
		memset(c->cookie_key, 0, sizeof(c->cookie_key));
	}
}

void
wg_cookie_maker_init(struct wg_cookie_maker *m, const uint8_t peer_public[32])
{
	memset(m, 0, sizeof(*m));
	derive_key(m->mac1_key, WG_LABEL_MAC1, peer_public);
	derive_key(m->cookie_key, WG_LABEL_COOKIE, peer_public);
}

/* The bytes a cookie is bound to: source address, then port in network order. */
static size_t
src_bytes(uint8_t out[18], const struct mg_wg_src *src)
{
	size_t n = src->ip.family == AF_INET ? 4 : 16;

	memcpy(out, src->ip.bytes, n);
	out[n] = (uint8_t)(src->port >> 8);
	out[n + 1] = (uint8_t)src->port;
	return n + 2;
}

/* The cookie tau = MAC(Rm, source), with a fresh Rm when the old one is too old. */
static void
make_cookie(struct wg_cookie_checker *c, uint8_t cookie[WG_COOKIE_LEN],
	    const struct mg_wg_src *src, uint64_t now)
{
	uint8_t a[18];
	size_t n = src_bytes(a, src);

	if (c->secret_birth == MG_WG_NEVER ||
	    wg_expired(c->secret_birth, WG_T_COOKIE_MAX_AGE, now)) {
		if (wg_random(c->secret, sizeof(c->secret)) == 0)
			c->secret_birth = now;
	}
	wg_blake2s(cookie, WG_COOKIE_LEN, c->secret, sizeof(c->secret), a, n);
}

void
wg_cookie_add_macs(struct wg_cookie_maker *m, void *msg, size_t len, uint64_t now)
{
	struct wg_msg_macs *macs = (struct wg_msg_macs *)((uint8_t *)msg + len - sizeof(*macs));

	wg_blake2s(macs->mac1, WG_MAC_LEN, m->mac1_key, sizeof(m->mac1_key), msg,
		   len - sizeof(*macs));
	memcpy(m->last_mac1, macs->mac1, WG_MAC_LEN);
	m->have_sent_mac1 = true;
	if (m->have_cookie &&
	    !wg_expired(m->cookie_birth, WG_T_COOKIE_MAX_AGE - WG_T_COOKIE_LATENCY, now))
		wg_blake2s(macs->mac2, WG_MAC_LEN, m->cookie, WG_COOKIE_LEN, msg,
			   len - WG_MAC_LEN);
	else
		memset(macs->mac2, 0, WG_MAC_LEN);
}

enum wg_mac_state
wg_cookie_validate(struct wg_cookie_checker *c, const void *msg, size_t len,
		   const struct mg_wg_src *src, bool check_mac2, uint64_t now)
{
	const struct wg_msg_macs *macs =
		(const struct wg_msg_macs *)((const uint8_t *)msg + len - sizeof(*macs));
	uint8_t mac[WG_MAC_LEN], cookie[WG_COOKIE_LEN];
	enum wg_mac_state st;

	wg_blake2s(mac, WG_MAC_LEN, c->mac1_key, sizeof(c->mac1_key), msg, len - sizeof(*macs));
	if (!wg_ct_equal(mac, macs->mac1, WG_MAC_LEN))
		return WG_MAC_INVALID;
	if (!check_mac2)
		return WG_MAC_VALID_NO_COOKIE;
	make_cookie(c, cookie, src, now);
	wg_blake2s(mac, WG_MAC_LEN, cookie, sizeof(cookie), msg, len - WG_MAC_LEN);
	st = wg_ct_equal(mac, macs->mac2, WG_MAC_LEN) ? WG_MAC_VALID_COOKIE : WG_MAC_VALID_NO_COOKIE;
	mg_wipe(cookie, sizeof(cookie));
	return st;
}

int
wg_cookie_reply_create(struct wg_cookie_checker *c, struct wg_msg_cookie *out, const void *msg,
		       size_t len, uint32_t sender_le, const struct mg_wg_src *src, uint64_t now)
{
	const struct wg_msg_macs *macs =
		(const struct wg_msg_macs *)((const uint8_t *)msg + len - sizeof(*macs));
	uint8_t cookie[WG_COOKIE_LEN];
	int rc;

	out->type = rte_cpu_to_le_32(WG_MSG_COOKIE);
	out->receiver = sender_le;
	if (wg_random(out->nonce, sizeof(out->nonce)) < 0)
		return -EIO;
	make_cookie(c, cookie, src, now);
	rc = wg_xaead_encrypt(out->encrypted_cookie, cookie, sizeof(cookie), macs->mac1,
			      WG_MAC_LEN, out->nonce, c->cookie_key);
	mg_wipe(cookie, sizeof(cookie));
	return rc;
}

int
wg_cookie_reply_consume(struct wg_cookie_maker *m, const struct wg_msg_cookie *msg,
			uint64_t now)
{
	uint8_t cookie[WG_COOKIE_LEN];

	if (!m->have_sent_mac1)
		return -EINVAL;
	if (wg_xaead_decrypt(cookie, msg->encrypted_cookie, sizeof(msg->encrypted_cookie),
			     m->last_mac1, WG_MAC_LEN, msg->nonce, m->cookie_key) < 0)
		return -EBADMSG;
	memcpy(m->cookie, cookie, sizeof(cookie));
	mg_wipe(cookie, sizeof(cookie));
	m->cookie_birth = now;
	m->have_cookie = true;
	m->have_sent_mac1 = false;
	return 0;
}
