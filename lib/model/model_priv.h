/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MODEL_PRIV_H
#define MODEL_PRIV_H

/* What model.c lends the model's other files (model_esp.c). Main lcore only. */

#include "mg_model.h"

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
/** Network @p name (empty: "default"), or NULL with @p err about @p field. */
const struct mg_network *model_resolve_network(const struct mg_model *m, const char *name,
					       const char *field, struct mg_error *err);
/** The interface of network @p net that has address @p ip, or NULL. */
const struct mg_iface *model_iface_owning(const struct mg_model *m, uint16_t net,
					  const struct mg_ip *ip);
/** Mark @p ifc used and count it in its network. */
void model_iface_commit(struct mg_model *m, struct mg_iface *ifc);
/** Remove @p ifc's addresses (through the backend), uncount it and free the slot. */
void model_iface_release(struct mg_model *m, struct mg_iface *ifc);

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
