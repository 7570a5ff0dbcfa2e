/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The model's keyed slabs (routes, neighbors), and their overlays in a
 * shadow: a shadow's slab starts empty over the model's, so trying a batch
 * of route changes costs what the batch touches, not what the table holds.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model_priv.h"

int
slab_init(struct slab *s, size_t size, struct mg_addr_key (*key)(const void *item),
	  const struct slab *base)
{
	memset(s, 0, sizeof(*s));
	s->size = size;
	s->key = key;
	s->base = base;
	s->index = mg_hmap_create(sizeof(struct mg_addr_key), 64);
	if (base != NULL) {
		s->count = base->count;
		s->gone = mg_hmap_create(sizeof(struct mg_addr_key), 16);
	}
	return s->index == NULL || (base != NULL && s->gone == NULL) ? -ENOMEM : 0;
}

void
slab_free(struct slab *s)
{
	free(s->items);
	free(s->used);
	mg_hmap_destroy(s->index);
	mg_hmap_destroy(s->gone);
	memset(s, 0, sizeof(*s));
}

static void *
item(const struct slab *s, uint32_t i)
{
	return s->items + (size_t)i * s->size;
}

void *
slab_find(const struct slab *s, const struct mg_addr_key *k)
{
	uint32_t i;

	if (mg_hmap_get(s->index, k, &i))
		return item(s, i);
	if (s->base == NULL || mg_hmap_get(s->gone, k, NULL))
		return NULL;
	/* The base's items are read, never written, through a shadow. */
	return slab_find(s->base, k);
}

/* A free slot of @s's own, growing it; -ENOMEM. */
static int64_t
own_slot(struct slab *s)
{
	if (s->nown == s->cap) {
		uint32_t cap = s->cap ? s->cap * 2 : 32;
		uint8_t *it = realloc(s->items, (size_t)cap * s->size);
		bool *u;

		if (it == NULL)
			return -ENOMEM;
		s->items = it;
		u = realloc(s->used, cap * sizeof(*u));
		if (u == NULL)
			return -ENOMEM;
		memset(u + s->cap, 0, (cap - s->cap) * sizeof(*u));
		s->used = u;
		s->hint = s->cap;
		s->cap = cap;
	}
	for (uint32_t k = 0; k < s->cap; k++) {
		uint32_t i = (s->hint + k) % s->cap;

		if (!s->used[i]) {
			s->hint = i + 1;
			return i;
		}
	}
	return -ENOMEM; /* not reached: nown < cap */
}

void *
slab_put(struct slab *s, const void *it)
{
	struct mg_addr_key k = s->key(it);
	int64_t i = own_slot(s);

	if (i < 0 || mg_hmap_put(s->index, &k, (uint32_t)i) < 0)
		return NULL;
	memcpy(item(s, (uint32_t)i), it, s->size);
	s->used[i] = true;
	s->nown++;
	s->count++;
	return item(s, (uint32_t)i);
}

/* Forget @p k in @p s's own items (true if it was one). */
static bool
own_del(struct slab *s, const struct mg_addr_key *k)
{
	uint32_t i;

	if (!mg_hmap_get(s->index, k, &i))
		return false;
	s->used[i] = false;
	s->nown--;
	mg_hmap_del(s->index, k);
	return true;
}

int
slab_del(struct slab *s, const struct mg_addr_key *k)
{
	/* Not its own: a shadow deleting one of its base's remembers it as gone. */
	if (!own_del(s, k) && (s->base == NULL || mg_hmap_put(s->gone, k, 0) < 0))
		return -ENOMEM;
	s->count--;
	return 0;
}

void *
slab_set(struct slab *s, const void *it)
{
	struct mg_addr_key k = s->key(it);
	void *own;
	uint32_t i;

	if (mg_hmap_get(s->index, &k, &i)) {
		own = item(s, i);
		memcpy(own, it, s->size);
		return own;
	}
	/* A shadow's change of a base item: the base's is gone, its own one stands. */
	if (mg_hmap_put(s->gone, &k, 0) < 0)
		return NULL;
	s->count--;
	return slab_put(s, it);
}

const void *
slab_next(const struct slab *s, uint32_t *cursor)
{
	uint32_t nbase = s->base != NULL ? s->base->cap : 0;

	/* A shadow: the base's items not gone, then its own. */
	while (*cursor < nbase) {
		const void *it = slab_next(s->base, cursor);
		struct mg_addr_key k;

		if (it == NULL)
			break;
		k = s->key(it);
		if (!mg_hmap_get(s->gone, &k, NULL))
			return it;
	}
	if (*cursor < nbase)
		*cursor = nbase;
	while (*cursor - nbase < s->cap) {
		uint32_t i = (*cursor)++ - nbase;

		if (s->used[i])
			return item(s, i);
	}
	return NULL;
}
