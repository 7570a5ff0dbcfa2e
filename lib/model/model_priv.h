/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MODEL_PRIV_H
#define MODEL_PRIV_H

/* What model.c lends the model's other files (model_esp.c). Main lcore only. */

#include "mg_hmap.h"
#include "mg_model.h"

/*
 * A slab of fixed-size items indexed by a key (routes, neighbors;
 * model_slab.c). A shadow's slab (base set) holds only what the shadow
 * added or changed; the base's other items show through unless gone.
 */
struct slab {
	uint8_t *items;
	bool *used;
	uint32_t cap, nown, hint;
	uint32_t count;                 /**< Items seen through this slab (the base's included). */
	size_t size;
	struct mg_addr_key (*key)(const void *item);
	struct mg_hmap *index;          /**< key -> own slot */
	const struct slab *base;        /**< A shadow's: the model's slab, read only. */
	struct mg_hmap *gone;           /**< A shadow's: keys of base items deleted or changed. */
};

/** An empty slab of @p size items keyed by @p key, over @p base (NULL: none); 0 or -ENOMEM. */
int slab_init(struct slab *s, size_t size, struct mg_addr_key (*key)(const void *item),
	      const struct slab *base);
void slab_free(struct slab *s);
/** The item of key @p k, or NULL. Through a shadow, a base item must not be written. */
void *slab_find(const struct slab *s, const struct mg_addr_key *k);
/** Add a copy of @p item (its key absent); the stored copy, or NULL when out of memory. */
void *slab_put(struct slab *s, const void *item);
/** Remove the item of key @p k (present); 0, or -ENOMEM (a shadow only). */
int slab_del(struct slab *s, const struct mg_addr_key *k);
/** Overwrite the item of @p item's key (present); the stored copy, or NULL when out of memory. */
void *slab_set(struct slab *s, const void *item);
/** The next item from *@p cursor (0 to start), or NULL at the end. */
const void *slab_next(const struct slab *s, uint32_t *cursor);

/** The tunnel table pointer of @p m (NULL until the first tunnel). */
struct mg_esp_tunnel **model_esp_slot(struct mg_model *m);
/** The VXLAN tunnel table pointer of @p m (NULL until the first tunnel). */
struct mg_vxlan_tunnel **model_vxlan_slot(struct mg_model *m);
/** The backend, or NULL. */
const struct mg_model_backend *model_backend(const struct mg_model *m);
/** A free interface slot (not yet used), or NULL. */
struct mg_iface *model_iface_alloc(struct mg_model *m);
/** Interface slot @p id. */
struct mg_iface *model_iface(struct mg_model *m, uint16_t id);
/** A free interface slot, or NULL with @p err (field "name": the table is full). */
struct mg_iface *model_iface_take(struct mg_model *m, struct mg_error *err);
/**
 * 0 if @p ifc (named @p name) may be deleted: nothing routes or points into
 * it and no rule names it; else -EBUSY with @p err, worded for its kind.
 */
int model_iface_busy(const struct mg_model *m, const struct mg_iface *ifc, const char *name,
		     struct mg_error *err);
/** An interface MTU in MG_MTU_MIN-MG_MTU_MAX: 0, or -EINVAL with @p err (field "mtu"). */
int model_mtu_check(unsigned int mtu, struct mg_error *err);
/**
 * A tunnel's inner @p network and its @p underlay (empty: the inner network),
 * each named in errors by its field ("network", "underlay"); 0 or -errno.
 */
int model_resolve_overlay(const struct mg_model *m, const char *network, const char *underlay,
			  const struct mg_network **net, const struct mg_network **under,
			  struct mg_error *err);
/**
 * A tunnel's outer addresses: @p local an IPv4 or IPv6 address of an
 * interface in @p under, @p remote of its family and unicast (@p no_bcast:
 * not broadcast either; @p unicast: the message otherwise); 0 or -EINVAL.
 */
int model_tunnel_ends(const struct mg_model *m, const struct mg_network *under,
		      const struct mg_ip *local, const struct mg_ip *remote, bool no_bcast,
		      const char *unicast, struct mg_error *err);
/** Mark @p ifc used and count it in its network. */
void model_iface_commit(struct mg_model *m, struct mg_iface *ifc);
/** Remove @p ifc's addresses (through the backend), uncount it and free the slot. */
void model_iface_release(struct mg_model *m, struct mg_iface *ifc);

/*
 * A tunnel table (model_esp.c, model_vxlan.c): @p max slots of struct
 * @p type (with members used, iface and spec.name), allocated on first use
 * into the pointer @p slot returns. Defines, for a prefix @p pfx, the static
 * pfx_table(m, create) (the table, or NULL when there is none and @p create
 * is false) and the public mg_model_pfx_next, _find and _by_iface of
 * mg_model.h. A macro because the kinds differ only in their types.
 */
#define MODEL_TUNNEL_TABLE(pfx, type, max, slot)                                              \
	static struct type *pfx##_table(struct mg_model *m, bool create)                      \
	{                                                                                     \
		struct type **t = slot(m);                                                    \
                                                                                              \
		if (*t == NULL && create)                                                     \
			*t = calloc(max, sizeof(**t));                                        \
		return *t;                                                                    \
	}                                                                                     \
                                                                                              \
	const struct type *mg_model_##pfx##_next(const struct mg_model *m, uint32_t *cursor)  \
	{                                                                                     \
		const struct type *t = pfx##_table((struct mg_model *)(uintptr_t)m, false);   \
                                                                                              \
		for (; t != NULL && *cursor < (max); (*cursor)++)                             \
			if (t[*cursor].used)                                                  \
				return &t[(*cursor)++];                                       \
		return NULL;                                                                  \
	}                                                                                     \
                                                                                              \
	const struct type *mg_model_##pfx##_find(const struct mg_model *m, const char *name)  \
	{                                                                                     \
		const struct type *t;                                                         \
		uint32_t c = 0;                                                               \
                                                                                              \
		while ((t = mg_model_##pfx##_next(m, &c)) != NULL)                            \
			if (strcmp(t->spec.name, name) == 0)                                  \
				return t;                                                     \
		return NULL;                                                                  \
	}                                                                                     \
                                                                                              \
	const struct type *mg_model_##pfx##_by_iface(const struct mg_model *m, uint16_t iface) \
	{                                                                                     \
		const struct type *t;                                                         \
		uint32_t c = 0;                                                               \
                                                                                              \
		while ((t = mg_model_##pfx##_next(m, &c)) != NULL)                            \
			if (t->iface == iface)                                                \
				return t;                                                     \
		return NULL;                                                                  \
	}

/* model_esp.c */
/** Replay the tunnels into the backend (after the ports and VLANs, before addresses). */
int model_esp_replay(struct mg_model *m, struct mg_error *err);
/** Wipe and free the tunnel table. */
void model_esp_free(struct mg_model *m);

/* model_vxlan.c */
/** Replay the VXLAN tunnels into the backend (after the ESP tunnels, before addresses). */
int model_vxlan_replay(struct mg_model *m, struct mg_error *err);
void model_vxlan_free(struct mg_model *m);

#endif /* MODEL_PRIV_H */
