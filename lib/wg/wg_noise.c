/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s as WireGuard uses it (paper,
 * section 5.4): creating and consuming initiations and responses, deriving
 * the transport keypair and rotating keypairs (previous, current, next).
 * Each step is tagged with its Noise token. Main lcore only.
 *
 * A handshake's state is only committed to the peer once the whole message
 * has been checked; failures leave the peer as it was.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>

#include "wg_blake2s.h"
#include "wg_crypto.h"
#include "wg_priv.h"

uint8_t wg_initial_ck[WG_HASH_LEN];
uint8_t wg_initial_hash[WG_HASH_LEN];

void
wg_noise_init_constants(void)
{
	/* Ci = HASH(CONSTRUCTION); Hi = HASH(Ci || IDENTIFIER). Idempotent. */
	wg_hash2(wg_initial_ck, WG_CONSTRUCTION, strlen(WG_CONSTRUCTION), NULL, 0);
	wg_hash2(wg_initial_hash, wg_initial_ck, WG_HASH_LEN, WG_IDENTIFIER,
		 strlen(WG_IDENTIFIER));
}

/* h = HASH(h || data). */
static void
mix_hash(uint8_t h[WG_HASH_LEN], const void *data, size_t len)
{
	wg_hash2(h, h, WG_HASH_LEN, data, len);
}

/* ck = KDF1(ck, data). */
static void
mix_key(uint8_t ck[WG_HASH_LEN], const void *data, size_t len)
{
	wg_kdf(ck, NULL, NULL, ck, data, len);
}

/* ck, key = KDF2(ck, DH(priv, pub)); -EINVAL on a zero DH result. */
static int
mix_dh(uint8_t ck[WG_HASH_LEN], uint8_t key[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN],
       const uint8_t pub[WG_KEY_LEN])
{
	uint8_t dh[WG_KEY_LEN];
	int rc = wg_x25519(dh, priv, pub);

	if (rc == 0) {
		if (key != NULL)
			wg_kdf(ck, key, NULL, ck, dh, sizeof(dh));
		else
			mix_key(ck, dh, sizeof(dh));
	}
	mg_wipe(dh, sizeof(dh));
	return rc;
}

void
wg_noise_precompute_ss(struct mg_wg_iface *wg, struct mg_wg_peer *peer)
{
	peer->ss_valid = wg->has_identity &&
			 wg_x25519(peer->static_static, wg->static_private,
				   peer->remote_static) == 0;
	if (!peer->ss_valid)
		mg_wipe(peer->static_static, sizeof(peer->static_static));
}

/* Free a keypair nobody can reach any more: wipe its keys first. */
static void
keypair_free(void *obj)
{
	struct mg_wg_keypair *kp = obj;

	mg_wipe(kp, sizeof(*kp));
	free(kp);
}

void
wg_defer(struct mg_wg_iface *wg, void (*fn)(void *), void *obj)
{
	if (wg->defer_free != NULL)
		wg->defer_free(wg->defer_ctx, fn, obj);
	else
		fn(obj);
}

void
wg_keypair_retire(struct mg_wg_iface *wg, struct mg_wg_keypair *kp)
{
	if (kp == NULL)
		return;
	atomic_store_explicit(&kp->dead, true, memory_order_relaxed);
	wg_index_remove(&wg->index, &kp->entry);
	/* Workers that looked it up before may still use it until the grace period ends. */
	wg_defer(wg, keypair_free, kp);
}

void
wg_noise_handshake_clear(struct mg_wg_iface *wg, struct mg_wg_peer *peer)
{
	struct wg_handshake *hs = &peer->hs;

	wg_index_remove(&wg->index, &hs->entry);
	mg_wipe(hs->ephemeral_private, sizeof(hs->ephemeral_private));
	mg_wipe(hs->remote_ephemeral, sizeof(hs->remote_ephemeral));
	mg_wipe(hs->hash, sizeof(hs->hash));
	mg_wipe(hs->chaining_key, sizeof(hs->chaining_key));
	hs->remote_index = 0;
	hs->state = WG_HS_ZEROED;
}

void
wg_noise_keypairs_clear(struct mg_wg_iface *wg, struct mg_wg_peer *peer)
{
	wg_keypair_retire(wg, atomic_exchange(&peer->kp_next, NULL));
	wg_keypair_retire(wg, atomic_exchange(&peer->kp_current, NULL));
	wg_keypair_retire(wg, atomic_exchange(&peer->kp_previous, NULL));
}

int
wg_noise_initiation_create(struct mg_wg_iface *wg, struct mg_wg_peer *peer,
			   struct wg_msg_initiation *msg, uint64_t now)
{
	struct wg_handshake *hs = &peer->hs;
	uint8_t ck[WG_HASH_LEN], h[WG_HASH_LEN], key[WG_KEY_LEN], e_priv[WG_KEY_LEN];
	uint8_t ts[WG_TIMESTAMP_LEN];
	int rc = -EIO;

	if (!wg->has_identity)
		return -ENOKEY;
	if (!peer->ss_valid)
		return -EINVAL;
	/* A new initiation replaces whatever handshake was in progress. */
	wg_noise_handshake_clear(wg, peer);

	memcpy(ck, wg_initial_ck, sizeof(ck));
	wg_hash2(h, wg_initial_hash, WG_HASH_LEN, peer->remote_static, WG_KEY_LEN);
	/* e */
	if (wg_x25519_generate(e_priv) < 0 || wg_x25519_public(msg->ephemeral, e_priv) < 0)
		goto out;
	mix_key(ck, msg->ephemeral, WG_KEY_LEN);
	mix_hash(h, msg->ephemeral, WG_KEY_LEN);
	/* es */
	if (mix_dh(ck, key, e_priv, peer->remote_static) < 0) {
		rc = -EINVAL;
		goto out;
	}
	/* s */
	if (wg_aead_encrypt(msg->encrypted_static, wg->static_public, WG_KEY_LEN, h, WG_HASH_LEN,
			    0, key) < 0)
		goto out;
	mix_hash(h, msg->encrypted_static, sizeof(msg->encrypted_static));
	/* ss */
	wg_kdf(ck, key, NULL, ck, peer->static_static, WG_KEY_LEN);
	/* {t} */
	wg_tai64n(ts, wg->wall_ns());
	if (wg_aead_encrypt(msg->encrypted_timestamp, ts, sizeof(ts), h, WG_HASH_LEN, 0, key) < 0)
		goto out;
	mix_hash(h, msg->encrypted_timestamp, sizeof(msg->encrypted_timestamp));

	hs->entry.type = WG_INDEX_HANDSHAKE;
	hs->entry.peer = peer;
	rc = wg_index_insert(&wg->index, &hs->entry);
	if (rc < 0)
		goto out;
	msg->type = rte_cpu_to_le_32(WG_MSG_INITIATION);
	msg->sender = rte_cpu_to_le_32(atomic_load(&hs->entry.index));
	memcpy(hs->ephemeral_private, e_priv, sizeof(e_priv));
	memcpy(hs->hash, h, sizeof(h));
	memcpy(hs->chaining_key, ck, sizeof(ck));
	hs->state = WG_HS_CREATED_INITIATION;
	rc = 0;
out:
	(void)now;
	mg_wipe(ck, sizeof(ck));
	mg_wipe(h, sizeof(h));
	mg_wipe(key, sizeof(key));
	mg_wipe(e_priv, sizeof(e_priv));
	return rc;
}

struct mg_wg_peer *
wg_noise_initiation_consume(struct mg_wg_iface *wg, const struct wg_msg_initiation *msg,
			    uint64_t now, enum mg_wg_hs_result *why)
{
	uint8_t ck[WG_HASH_LEN], h[WG_HASH_LEN], key[WG_KEY_LEN], s[WG_KEY_LEN];
	uint8_t ts[WG_TIMESTAMP_LEN];
	struct mg_wg_peer *peer = NULL, *found;
	struct wg_handshake *hs;
	uint32_t slot;

	*why = MG_WG_HS_ERR_DECRYPT;
	if (!wg->has_identity) {
		*why = MG_WG_HS_ERR_NO_KEY;
		return NULL;
	}
	memcpy(ck, wg_initial_ck, sizeof(ck));
	memcpy(h, wg->responder_hash, sizeof(h));
	/* e */
	mix_key(ck, msg->ephemeral, WG_KEY_LEN);
	mix_hash(h, msg->ephemeral, WG_KEY_LEN);
	/* es */
	if (mix_dh(ck, key, wg->static_private, msg->ephemeral) < 0)
		goto out;
	/* s */
	if (wg_aead_decrypt(s, msg->encrypted_static, sizeof(msg->encrypted_static), h,
			    WG_HASH_LEN, 0, key) < 0)
		goto out;
	mix_hash(h, msg->encrypted_static, sizeof(msg->encrypted_static));
	if (!mg_hmap_get(wg->by_key, s, &slot)) {
		*why = MG_WG_HS_ERR_UNKNOWN_PEER;
		goto out;
	}
	found = wg->peer_slots[slot];
	if (!found->ss_valid)
		goto out;
	/* ss */
	wg_kdf(ck, key, NULL, ck, found->static_static, WG_KEY_LEN);
	/* {t} */
	if (wg_aead_decrypt(ts, msg->encrypted_timestamp, sizeof(msg->encrypted_timestamp), h,
			    WG_HASH_LEN, 0, key) < 0)
		goto out;
	mix_hash(h, msg->encrypted_timestamp, sizeof(msg->encrypted_timestamp));

	hs = &found->hs;
	/* Replayed initiations carry an old timestamp: big-endian, so memcmp orders them. */
	if (memcmp(ts, hs->latest_timestamp, WG_TIMESTAMP_LEN) <= 0) {
		*why = MG_WG_HS_ERR_REPLAY;
		goto out;
	}
	if (hs->last_initiation_consumed != MG_WG_NEVER &&
	    !wg_expired(hs->last_initiation_consumed, WG_NS_PER_S / WG_INITIATIONS_PER_SECOND,
			now)) {
		*why = MG_WG_HS_ERR_FLOOD;
		goto out;
	}
	/* Commit: this initiation replaces any handshake of ours in progress. */
	wg_noise_handshake_clear(wg, found);
	memcpy(hs->remote_ephemeral, msg->ephemeral, WG_KEY_LEN);
	memcpy(hs->latest_timestamp, ts, WG_TIMESTAMP_LEN);
	memcpy(hs->hash, h, sizeof(h));
	memcpy(hs->chaining_key, ck, sizeof(ck));
	hs->remote_index = rte_le_to_cpu_32(msg->sender);
	hs->last_initiation_consumed = now;
	hs->state = WG_HS_CONSUMED_INITIATION;
	peer = found;
out:
	mg_wipe(ck, sizeof(ck));
	mg_wipe(h, sizeof(h));
	mg_wipe(key, sizeof(key));
	mg_wipe(s, sizeof(s));
	return peer;
}

int
wg_noise_response_create(struct mg_wg_iface *wg, struct mg_wg_peer *peer,
			 struct wg_msg_response *msg)
{
	struct wg_handshake *hs = &peer->hs;
	uint8_t ck[WG_HASH_LEN], h[WG_HASH_LEN], key[WG_KEY_LEN], tau[WG_HASH_LEN];
	uint8_t e_priv[WG_KEY_LEN];
	int rc = -EIO;

	if (hs->state != WG_HS_CONSUMED_INITIATION)
		return -EINVAL;
	memcpy(ck, hs->chaining_key, sizeof(ck));
	memcpy(h, hs->hash, sizeof(h));
	/* e */
	if (wg_x25519_generate(e_priv) < 0 || wg_x25519_public(msg->ephemeral, e_priv) < 0)
		goto out;
	mix_key(ck, msg->ephemeral, WG_KEY_LEN);
	mix_hash(h, msg->ephemeral, WG_KEY_LEN);
	/* ee */
	if (mix_dh(ck, NULL, e_priv, hs->remote_ephemeral) < 0) {
		rc = -EINVAL;
		goto out;
	}
	/* se */
	if (mix_dh(ck, NULL, e_priv, peer->remote_static) < 0) {
		rc = -EINVAL;
		goto out;
	}
	/* psk */
	wg_kdf(ck, tau, key, ck, peer->psk, WG_KEY_LEN);
	mix_hash(h, tau, sizeof(tau));
	/* {} */
	if (wg_aead_encrypt(msg->encrypted_nothing, NULL, 0, h, WG_HASH_LEN, 0, key) < 0)
		goto out;
	mix_hash(h, msg->encrypted_nothing, sizeof(msg->encrypted_nothing));

	hs->entry.type = WG_INDEX_HANDSHAKE;
	hs->entry.peer = peer;
	rc = wg_index_insert(&wg->index, &hs->entry);
	if (rc < 0)
		goto out;
	msg->type = rte_cpu_to_le_32(WG_MSG_RESPONSE);
	msg->sender = rte_cpu_to_le_32(atomic_load(&hs->entry.index));
	msg->receiver = rte_cpu_to_le_32(hs->remote_index);
	memcpy(hs->hash, h, sizeof(h));
	memcpy(hs->chaining_key, ck, sizeof(ck));
	hs->state = WG_HS_CREATED_RESPONSE;
	rc = 0;
out:
	mg_wipe(ck, sizeof(ck));
	mg_wipe(h, sizeof(h));
	mg_wipe(key, sizeof(key));
	mg_wipe(tau, sizeof(tau));
	mg_wipe(e_priv, sizeof(e_priv));
	return rc;
}

struct mg_wg_peer *
wg_noise_response_consume(struct mg_wg_iface *wg, const struct wg_msg_response *msg,
			  enum mg_wg_hs_result *why)
{
	uint8_t ck[WG_HASH_LEN], h[WG_HASH_LEN], key[WG_KEY_LEN], tau[WG_HASH_LEN];
	uint8_t nothing[1];
	struct wg_index_entry *e;
	struct mg_wg_peer *peer = NULL, *found;
	struct wg_handshake *hs;

	*why = MG_WG_HS_ERR_DECRYPT;
	if (!wg->has_identity) {
		*why = MG_WG_HS_ERR_NO_KEY;
		return NULL;
	}
	e = wg_index_lookup(&wg->index, rte_le_to_cpu_32(msg->receiver));
	if (e == NULL || e->type != WG_INDEX_HANDSHAKE) {
		*why = MG_WG_HS_ERR_UNKNOWN_INDEX;
		return NULL;
	}
	found = e->peer;
	hs = &found->hs;
	if (hs->state != WG_HS_CREATED_INITIATION) {
		*why = MG_WG_HS_ERR_STATE;
		return NULL;
	}
	memcpy(ck, hs->chaining_key, sizeof(ck));
	memcpy(h, hs->hash, sizeof(h));
	/* e */
	mix_key(ck, msg->ephemeral, WG_KEY_LEN);
	mix_hash(h, msg->ephemeral, WG_KEY_LEN);
	/* ee */
	if (mix_dh(ck, NULL, hs->ephemeral_private, msg->ephemeral) < 0)
		goto out;
	/* se */
	if (mix_dh(ck, NULL, wg->static_private, msg->ephemeral) < 0)
		goto out;
	/* psk */
	wg_kdf(ck, tau, key, ck, found->psk, WG_KEY_LEN);
	mix_hash(h, tau, sizeof(tau));
	/* {} */
	if (wg_aead_decrypt(nothing, msg->encrypted_nothing, sizeof(msg->encrypted_nothing), h,
			    WG_HASH_LEN, 0, key) < 0)
		goto out;
	mix_hash(h, msg->encrypted_nothing, sizeof(msg->encrypted_nothing));

	memcpy(hs->remote_ephemeral, msg->ephemeral, WG_KEY_LEN);
	memcpy(hs->hash, h, sizeof(h));
	memcpy(hs->chaining_key, ck, sizeof(ck));
	hs->remote_index = rte_le_to_cpu_32(msg->sender);
	hs->state = WG_HS_CONSUMED_RESPONSE;
	peer = found;
out:
	mg_wipe(ck, sizeof(ck));
	mg_wipe(h, sizeof(h));
	mg_wipe(key, sizeof(key));
	mg_wipe(tau, sizeof(tau));
	return peer;
}

/* Install a new keypair the way the Linux module rotates them. */
static void
add_new_keypair(struct mg_wg_iface *wg, struct mg_wg_peer *peer, struct mg_wg_keypair *kp)
{
	struct mg_wg_keypair *prev = atomic_load(&peer->kp_previous);
	struct mg_wg_keypair *cur = atomic_load(&peer->kp_current);
	struct mg_wg_keypair *next = atomic_load(&peer->kp_next);

	if (kp->initiator) {
		if (next != NULL) {
			/*
			 * An unconfirmed responder session is newer than current:
			 * keep receiving on it as previous and drop current.
			 */
			atomic_store(&peer->kp_next, NULL);
			atomic_store(&peer->kp_previous, next);
			wg_keypair_retire(wg, cur);
		} else {
			atomic_store(&peer->kp_previous, cur);
		}
		wg_keypair_retire(wg, prev);
		atomic_store(&peer->kp_current, kp);
	} else {
		/* A responder session waits in next until the initiator's first data. */
		atomic_store(&peer->kp_next, kp);
		wg_keypair_retire(wg, next);
		atomic_store(&peer->kp_previous, NULL);
		wg_keypair_retire(wg, prev);
	}
}

int
wg_noise_begin_session(struct mg_wg_iface *wg, struct mg_wg_peer *peer, uint64_t now)
{
	struct wg_handshake *hs = &peer->hs;
	struct mg_wg_keypair *kp;
	uint8_t first[WG_KEY_LEN], second[WG_KEY_LEN];
	bool initiator;
	int rc;

	if (hs->state != WG_HS_CREATED_RESPONSE && hs->state != WG_HS_CONSUMED_RESPONSE)
		return -EINVAL;
	initiator = hs->state == WG_HS_CONSUMED_RESPONSE;
	if (posix_memalign((void **)&kp, 64, sizeof(*kp)) != 0)
		return -ENOMEM;
	memset(kp, 0, sizeof(*kp));
	/* (T_send, T_recv) = KDF2(ck, empty) for the initiator; swapped for the responder. */
	wg_kdf(first, second, NULL, hs->chaining_key, NULL, 0);
	memcpy(kp->send_key, initiator ? first : second, WG_KEY_LEN);
	memcpy(kp->recv_key, initiator ? second : first, WG_KEY_LEN);
	mg_wipe(first, sizeof(first));
	mg_wipe(second, sizeof(second));
	kp->entry.type = WG_INDEX_KEYPAIR;
	kp->entry.peer = peer;
	kp->remote_index = hs->remote_index;
	kp->birth_ns = now;
	kp->initiator = initiator;
	atomic_store_explicit(&kp->confirmed, initiator, memory_order_relaxed);
	/* The keypair takes over the handshake's index: the peer already addresses it. */
	rc = wg_index_replace(&wg->index, &hs->entry, &kp->entry);
	if (rc < 0) {
		keypair_free(kp);
		return rc;
	}
	wg_noise_handshake_clear(wg, peer);
	add_new_keypair(wg, peer, kp);
	return 0;
}

bool
wg_noise_confirm(struct mg_wg_iface *wg, struct mg_wg_peer *peer)
{
	struct mg_wg_keypair *next = atomic_load(&peer->kp_next);

	if (next == NULL || !atomic_load_explicit(&next->confirmed, memory_order_relaxed))
		return false;
	/* Slide next into current, current into previous; drop the old previous. */
	struct mg_wg_keypair *prev = atomic_load(&peer->kp_previous);

	atomic_store(&peer->kp_previous, atomic_load(&peer->kp_current));
	atomic_store(&peer->kp_current, next);
	atomic_store(&peer->kp_next, NULL);
	wg_keypair_retire(wg, prev);
	return true;
}
