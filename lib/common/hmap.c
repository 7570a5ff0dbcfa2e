/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mg_hmap.h"

enum { SLOT_EMPTY = 0, SLOT_USED = 1, SLOT_DEAD = 2 };

struct mg_hmap {
	size_t key_size;
	uint32_t cap;       /* power of two */
	uint32_t count;     /* used slots */
	uint32_t dead;      /* tombstones */
	uint8_t *state;
	uint32_t *values;
	uint8_t *keys;
};

/* FNV-1a, then a final mix: keys here are short and structured. */
static uint32_t
hash_key(const void *key, size_t n)
{
	const uint8_t *p = key;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	return h;
}

static int
hmap_alloc(struct mg_hmap *h, uint32_t cap)
{
	h->state = calloc(cap, 1);
	h->values = calloc(cap, sizeof(uint32_t));
	h->keys = calloc(cap, h->key_size);
	if (h->state == NULL || h->values == NULL || h->keys == NULL) {
		free(h->state);
		free(h->values);
		free(h->keys);
		return -ENOMEM;
	}
	h->cap = cap;
	h->count = 0;
	h->dead = 0;
	return 0;
}

struct mg_hmap *
mg_hmap_create(size_t key_size, uint32_t initial)
{
	struct mg_hmap *h = calloc(1, sizeof(*h));
	uint32_t cap = 16;

	if (h == NULL)
		return NULL;
	while (cap < initial * 2)
		cap <<= 1;
	h->key_size = key_size;
	if (hmap_alloc(h, cap) < 0) {
		free(h);
		return NULL;
	}
	return h;
}

void
mg_hmap_destroy(struct mg_hmap *h)
{
	if (h == NULL)
		return;
	free(h->state);
	free(h->values);
	free(h->keys);
	free(h);
}

/* Slot holding @key, or the first free slot of its probe sequence. */
static uint32_t
find_slot(const struct mg_hmap *h, const void *key, bool *found)
{
	uint32_t mask = h->cap - 1;
	uint32_t i = hash_key(key, h->key_size) & mask;
	uint32_t first_dead = UINT32_MAX;

	for (;;) {
		uint8_t st = h->state[i];

		if (st == SLOT_EMPTY) {
			*found = false;
			return first_dead != UINT32_MAX ? first_dead : i;
		}
		if (st == SLOT_DEAD) {
			if (first_dead == UINT32_MAX)
				first_dead = i;
		} else if (memcmp(h->keys + (size_t)i * h->key_size, key, h->key_size) == 0) {
			*found = true;
			return i;
		}
		i = (i + 1) & mask;
	}
}

static int
grow(struct mg_hmap *h, uint32_t newcap)
{
	struct mg_hmap old = *h;

	if (hmap_alloc(h, newcap) < 0) {
		*h = old;
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < old.cap; i++) {
		if (old.state[i] != SLOT_USED)
			continue;
		bool found;
		const uint8_t *k = old.keys + (size_t)i * old.key_size;
		uint32_t s = find_slot(h, k, &found);

		h->state[s] = SLOT_USED;
		memcpy(h->keys + (size_t)s * h->key_size, k, h->key_size);
		h->values[s] = old.values[i];
		h->count++;
	}
	free(old.state);
	free(old.values);
	free(old.keys);
	return 0;
}

int
mg_hmap_put(struct mg_hmap *h, const void *key, uint32_t value)
{
	bool found;
	uint32_t s;

	if ((h->count + h->dead + 1) * 4 > h->cap * 3) {
		uint32_t cap = h->count * 4 > h->cap ? h->cap * 2 : h->cap;

		if (grow(h, cap) < 0)
			return -ENOMEM;
	}
	s = find_slot(h, key, &found);
	if (!found) {
		if (h->state[s] == SLOT_DEAD)
			h->dead--;
		h->state[s] = SLOT_USED;
		memcpy(h->keys + (size_t)s * h->key_size, key, h->key_size);
		h->count++;
	}
	h->values[s] = value;
	return 0;
}

bool
mg_hmap_get(const struct mg_hmap *h, const void *key, uint32_t *value)
{
	bool found;
	uint32_t s = find_slot(h, key, &found);

	if (found && value != NULL)
		*value = h->values[s];
	return found;
}

bool
mg_hmap_del(struct mg_hmap *h, const void *key)
{
	bool found;
	uint32_t s = find_slot(h, key, &found);

	if (!found)
		return false;
	h->state[s] = SLOT_DEAD;
	h->count--;
	h->dead++;
	return true;
}

uint32_t
mg_hmap_count(const struct mg_hmap *h)
{
	return h->count;
}
