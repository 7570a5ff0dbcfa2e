/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_HMAP_H
#define MG_HMAP_H

/**
 * @file
 * A control-plane hash map from fixed-size byte keys to 32-bit values, with
 * open addressing and automatic growth. Not for the fast path (it
 * allocates); the data plane uses rte_hash and rte_fib.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mg_hmap;

/** Create a map for keys of @p key_size bytes. NULL on allocation failure. */
struct mg_hmap *mg_hmap_create(size_t key_size, uint32_t initial);
void mg_hmap_destroy(struct mg_hmap *h);
/** Insert or replace. 0, or -ENOMEM. */
int mg_hmap_put(struct mg_hmap *h, const void *key, uint32_t value);
/** Look up; true and *value set when found. */
bool mg_hmap_get(const struct mg_hmap *h, const void *key, uint32_t *value);
/** Remove; true if it was there. */
bool mg_hmap_del(struct mg_hmap *h, const void *key);
uint32_t mg_hmap_count(const struct mg_hmap *h);

#endif
