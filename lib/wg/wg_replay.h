/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef WG_REPLAY_H
#define WG_REPLAY_H

/**
 * @file
 * The receive counter check of one session: a sliding window of
 * WG_REPLAY_WINDOW (2048) counters behind the highest accepted one, safe
 * for several workers receiving on the same keypair at once, without locks.
 *
 * The bitmap is a ring of 128 words; each word holds 32 counter bits and,
 * in its upper half, the number (low 32 bits) of the 32-counter block those
 * bits belong to. A word changes only by compare-and-swap, so bits are
 * never lost under a concurrent setter. `top` (highest accepted + 1) only
 * grows, and a writer raises it *before* it sets its bit. Hence a reader
 * that loads a word (acquire) and then finds its counter inside the window
 * of `top` knows the word cannot hold a block newer than its own: the ring
 * covers 4096 counters, twice the window, so any such block would have
 * pushed `top` past the window. A word with another block is therefore
 * stale and is restarted for this block. Every counter is accepted at most
 * once whatever the interleaving, and a single receiver gets exactly the
 * textbook window. (Block numbers are kept modulo 2^32: after a jump of
 * more than 2^37 counters within one session a counter may be refused as a
 * duplicate; never accepted twice.)
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "wg_messages.h"

enum {
	WG_REPLAY_BLOCK_BITS = 32,   /* Counters per ring word. */
	WG_REPLAY_RING = 128,        /* Ring words: 4096 counters, twice the window. */
};

/** Replay state of one receiving session; zero-initialised means "nothing seen". */
struct wg_replay {
	_Atomic uint64_t top;                        /**< Highest accepted counter + 1, 0 if none. */
	_Atomic uint64_t ring[WG_REPLAY_RING];       /**< (block << 32) | bits of that block. */
};

/** Verdicts of the replay check. */
enum wg_replay_verdict {
	WG_REPLAY_OK = 0,      /* New counter inside the window. */
	WG_REPLAY_OLD,         /* Behind the window. */
	WG_REPLAY_DUP,         /* Already accepted. */
	WG_REPLAY_LIMIT,       /* At or beyond REJECT_AFTER_MESSAGES. */
};

/**
 * Check @p counter without recording it (before spending a decryption on
 * the packet). A later wg_replay_commit may still refuse it if another
 * worker accepts the same counter in between.
 */
static inline enum wg_replay_verdict
wg_replay_check(const struct wg_replay *r, uint64_t counter)
{
	if (counter >= WG_REJECT_AFTER_MESSAGES)
		return WG_REPLAY_LIMIT;

	uint64_t block = counter / WG_REPLAY_BLOCK_BITS;
	uint64_t w = atomic_load_explicit(&r->ring[block % WG_REPLAY_RING], memory_order_acquire);

	if (counter + WG_REPLAY_WINDOW < atomic_load_explicit(&r->top, memory_order_relaxed))
		return WG_REPLAY_OLD;
	if ((uint32_t)(w >> 32) == (uint32_t)block &&
	    ((w >> (counter % WG_REPLAY_BLOCK_BITS)) & 1))
		return WG_REPLAY_DUP;
	return WG_REPLAY_OK;
}

/**
 * Record @p counter of an authenticated packet: WG_REPLAY_OK exactly once
 * per counter, however many workers try it at the same time.
 */
static inline enum wg_replay_verdict
wg_replay_commit(struct wg_replay *r, uint64_t counter)
{
	if (counter >= WG_REJECT_AFTER_MESSAGES)
		return WG_REPLAY_LIMIT;

	/* Raise top first (see the file comment); an old counter never raises it. */
	uint64_t top = atomic_load_explicit(&r->top, memory_order_relaxed);

	do {
		if (counter + WG_REPLAY_WINDOW < top)
			return WG_REPLAY_OLD;
		if (counter < top)
			break;
	} while (!atomic_compare_exchange_weak_explicit(&r->top, &top, counter + 1,
							memory_order_release,
							memory_order_relaxed));

	uint64_t block = counter / WG_REPLAY_BLOCK_BITS;
	_Atomic uint64_t *slot = &r->ring[block % WG_REPLAY_RING];
	uint64_t bit = 1ULL << (counter % WG_REPLAY_BLOCK_BITS);
	uint64_t w = atomic_load_explicit(slot, memory_order_acquire), nw;

	do {
		/* top as seen after the word: any newer block there has raised it already. */
		if (counter + WG_REPLAY_WINDOW < atomic_load_explicit(&r->top, memory_order_relaxed))
			return WG_REPLAY_OLD;
		if ((uint32_t)(w >> 32) == (uint32_t)block) {
			if (w & bit)
				return WG_REPLAY_DUP;
			nw = w | bit;
		} else {
			/* A stale block's bits: start this block afresh. */
			nw = (block << 32) | bit;
		}
	} while (!atomic_compare_exchange_weak_explicit(slot, &w, nw, memory_order_release,
							memory_order_acquire));
	return WG_REPLAY_OK;
}

#endif /* WG_REPLAY_H */
