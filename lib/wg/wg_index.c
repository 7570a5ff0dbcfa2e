/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Receiver indices. The main lcore allocates, publishes and unpublishes;
 * workers look up with one acquire load. An entry's index is written before
 * the entry is published and only changes while the entry is unpublished,
 * so a worker that loaded a stale slot pointer at worst sees an index that
 * no longer matches and treats the packet as unknown.
 */
#include <errno.h>
#include <stdlib.h>

#include "wg_crypto.h"
#include "wg_priv.h"

int
wg_index_init(struct wg_index_table *t, uint32_t slots)
{
	if (slots == 0)
		slots = 16384;
	if (slots < 16 || (slots & (slots - 1)) != 0)
		return -EINVAL;
	t->slots = calloc(slots, sizeof(*t->slots));
	if (t->slots == NULL)
		return -ENOMEM;
	t->mask = slots - 1;
	t->used = 0;
	return 0;
}

void
wg_index_fini(struct wg_index_table *t)
{
	free(t->slots);
	t->slots = NULL;
}

int
wg_index_insert(struct wg_index_table *t, struct wg_index_entry *e)
{
	uint32_t r[16];

	if (t->used >= (t->mask + 1) / 2)
		return -ENOSPC;
	/* At most half full: 16 random draws all hitting used slots has odds below 2^-16. */
	for (;;) {
		if (wg_random(r, sizeof(r)) < 0)
			return -EIO;
		for (unsigned int i = 0; i < MG_ARRAY_SIZE(r); i++) {
			_Atomic(struct wg_index_entry *) *s = &t->slots[r[i] & t->mask];

			if (atomic_load_explicit(s, memory_order_relaxed) != NULL)
				continue;
			atomic_store_explicit(&e->index, r[i], memory_order_relaxed);
			atomic_store_explicit(s, e, memory_order_release);
			t->used++;
			return 0;
		}
	}
}

void
wg_index_remove(struct wg_index_table *t, struct wg_index_entry *e)
{
	_Atomic(struct wg_index_entry *) *s =
		&t->slots[atomic_load_explicit(&e->index, memory_order_relaxed) & t->mask];

	if (atomic_load_explicit(s, memory_order_relaxed) != e)
		return;
	atomic_store_explicit(s, NULL, memory_order_release);
	t->used--;
}

int
wg_index_replace(struct wg_index_table *t, struct wg_index_entry *from,
		 struct wg_index_entry *to)
{
	uint32_t index = atomic_load_explicit(&from->index, memory_order_relaxed);
	_Atomic(struct wg_index_entry *) *s = &t->slots[index & t->mask];

	if (atomic_load_explicit(s, memory_order_relaxed) != from)
		return wg_index_insert(t, to);
	atomic_store_explicit(&to->index, index, memory_order_relaxed);
	atomic_store_explicit(s, to, memory_order_release);
	return 0;
}
