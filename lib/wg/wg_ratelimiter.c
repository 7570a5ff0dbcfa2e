/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Handshake rate limit per source (IPv4 address, IPv6 /64), applied under
 * load to messages that carry a valid cookie: a token bucket of
 * WG_HANDSHAKES_PER_SECOND with a burst of WG_HANDSHAKES_BURSTABLE, kept in
 * a fixed table of buckets of WG_RL_WAYS entries hashed with a secret key
 * (so a sender cannot aim at one bucket). A source idle for a second is
 * forgotten; when a bucket is full of active sources a new source is
 * refused. Main lcore only; no allocation after init.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wg_blake2s.h"
#include "wg_crypto.h"
#include "wg_priv.h"

#define WG_RL_WAYS 8
#define WG_RL_COST (WG_NS_PER_S / WG_HANDSHAKES_PER_SECOND)
#define WG_RL_MAX (WG_RL_COST * WG_HANDSHAKES_BURSTABLE)

int
wg_ratelimiter_init(struct wg_ratelimiter *rl, uint32_t entries)
{
	uint32_t n = WG_RL_WAYS;

	if (entries == 0)
		entries = 4096;
	while (n < entries && n < (1u << 24))
		n <<= 1;
	rl->e = calloc(n, sizeof(*rl->e));
	if (rl->e == NULL)
		return -ENOMEM;
	rl->mask = n - 1;
	return wg_random(rl->hash_key, sizeof(rl->hash_key));
}

void
wg_ratelimiter_fini(struct wg_ratelimiter *rl)
{
	free(rl->e);
	rl->e = NULL;
}

bool
wg_ratelimiter_allow(struct wg_ratelimiter *rl, const struct mg_wg_src *src, uint64_t now)
{
	uint8_t key[17] = {0};
	uint64_t h;
	struct wg_rl_entry *bucket, *slot = NULL;

	key[0] = src->ip.family;
	memcpy(key + 1, src->ip.bytes, src->ip.family == AF_INET ? 4 : 8);
	wg_blake2s((uint8_t *)&h, sizeof(h), rl->hash_key, sizeof(rl->hash_key), key,
		   sizeof(key));
	bucket = &rl->e[h & rl->mask & ~(uint64_t)(WG_RL_WAYS - 1)];

	for (int i = 0; i < WG_RL_WAYS; i++) {
		struct wg_rl_entry *e = &bucket[i];

		if (e->key[0] != 0 && memcmp(e->key, key, sizeof(key)) == 0) {
			uint64_t t = e->tokens + (now > e->last ? now - e->last : 0);

			e->tokens = t > WG_RL_MAX ? WG_RL_MAX : t;
			e->last = now;
			if (e->tokens < WG_RL_COST)
				return false;
			e->tokens -= WG_RL_COST;
			return true;
		}
		if (slot == NULL &&
		    (e->key[0] == 0 ||
		     wg_expired(e->last, (uint64_t)WG_RATELIMIT_IDLE * WG_NS_PER_S, now)))
			slot = e;
	}
	if (slot == NULL)
		return false;
	memcpy(slot->key, key, sizeof(key));
	slot->last = now;
	slot->tokens = WG_RL_MAX - WG_RL_COST;
	return true;
}
