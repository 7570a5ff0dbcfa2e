/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * VXLAN tunnels in the model: a tunnel is an Ethernet interface (kind
 * MG_IFACE_VXLAN) of its inner network, with a MAC of its own, whose frames
 * travel in UDP between two VTEP addresses of an underlay network. Routes,
 * connected subnets and static neighbors use it like a port's interface.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg_model.h"
#include "mg_rules.h"
#include "model_priv.h"

/* vxlan_table, mg_model_vxlan_next, mg_model_vxlan_find, mg_model_vxlan_by_iface */
MODEL_TUNNEL_TABLE(vxlan, mg_vxlan_tunnel, MG_MODEL_MAX_VXLAN, model_vxlan_slot)

/* A locally administered unicast MAC from the name and VNI: stable across restarts. */
static void
default_mac(const struct mg_vxlan_spec *s, struct mg_mac *mac)
{
	uint32_t h = 2166136261u;

	for (const char *p = s->name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h ^= s->vni * 2654435761u;
	mac->b[0] = 0x02;
	mac->b[1] = 0x76; /* 'v' */
	mac->b[2] = (uint8_t)(h >> 24);
	mac->b[3] = (uint8_t)(h >> 16);
	mac->b[4] = (uint8_t)(h >> 8);
	mac->b[5] = (uint8_t)h;
}

int
mg_model_vxlan_add(struct mg_model *m, const struct mg_vxlan_spec *s, struct mg_error *err)
{
	const struct mg_model_backend *be = model_backend(m);
	const struct mg_network *net, *under;
	const struct mg_vxlan_tunnel *o;
	struct mg_vxlan_tunnel *tab, *t = NULL;
	struct mg_iface *ifc;
	uint32_t cur = 0;
	uint16_t port = s->port ? s->port : MG_VXLAN_DEFAULT_PORT;
	int rc;

	if (s->name[0] == '\0')
		return mg_error_set(err, EINVAL, "name", "a tunnel needs a name");
	if (strchr(s->name, '.') != NULL)
		return mg_error_set(err, EINVAL, "name", "'%s': no dots in a tunnel's name "
				    "(they name VLAN sub-interfaces)", s->name);
	if (mg_model_iface_find(m, s->name) != NULL)
		return mg_error_set(err, EEXIST, "name", "an interface named '%s' exists", s->name);
	rc = model_resolve_overlay(m, s->network, s->underlay, &net, &under, err);
	if (rc < 0)
		return rc;
	if (s->vni > MG_VXLAN_MAX_VNI)
		return mg_error_set(err, EINVAL, "vni", "%u is out of range 0-%u", s->vni,
				    MG_VXLAN_MAX_VNI);
	rc = model_tunnel_ends(m, under, &s->local, &s->remote, true,
			       "must be a unicast address (multicast groups are not supported)",
			       err);
	if (rc < 0)
		return rc;
	if (s->mtu != 0 && (rc = model_mtu_check(s->mtu, err)) < 0)
		return rc;
	if (s->mac_set && (mg_mac_is_zero(&s->mac) || mg_mac_is_multicast(&s->mac)))
		return mg_error_set(err, EINVAL, "mac", "must be a unicast MAC address");
	while ((o = mg_model_vxlan_next(m, &cur)) != NULL)
		if (o->underlay == under->id && o->spec.vni == s->vni && o->spec.port == port &&
		    mg_ip_equal(&o->spec.local, &s->local) && mg_ip_equal(&o->spec.remote, &s->remote))
			return mg_error_set(err, EEXIST, "vni",
					    "tunnel '%s' has VNI %u between the same VTEPs and port",
					    o->spec.name, s->vni);
	tab = vxlan_table(m, true);
	if (tab == NULL)
		return mg_error_set(err, ENOMEM, "", "out of memory");
	for (unsigned int i = 0; i < MG_MODEL_MAX_VXLAN && t == NULL; i++)
		if (!tab[i].used)
			t = &tab[i];
	if (t == NULL)
		return mg_error_set(err, ENOSPC, "", "too many VXLAN tunnels (limit %u)",
				    MG_MODEL_MAX_VXLAN);
	ifc = model_iface_alloc(m);
	if (ifc == NULL)
		return mg_error_set(err, ENOSPC, "", "too many interfaces (limit %u)",
				    MG_MODEL_MAX_IFACES);
	memset(t, 0, sizeof(*t));
	t->id = (uint16_t)(t - tab);
	t->iface = ifc->id;
	t->network = net->id;
	t->underlay = under->id;
	t->spec = *s;
	t->spec.port = port;
	if (t->spec.network[0] == '\0')
		snprintf(t->spec.network, sizeof(t->spec.network), "%s", net->spec.name);
	if (t->spec.mtu == 0)
		t->spec.mtu = s->local.family == AF_INET ? 1450 : 1430;
	if (!t->spec.mac_set)
		default_mac(s, &t->spec.mac);
	ifc->kind = MG_IFACE_VXLAN;
	snprintf(ifc->name, sizeof(ifc->name), "%s", s->name);
	ifc->port = UINT16_MAX;
	ifc->network = net->id;
	ifc->mtu = t->spec.mtu;
	ifc->mac = t->spec.mac;
	mg_ip6_link_local_from_mac(&ifc->mac, &ifc->ll6);
	if (be != NULL && be->vxlan_add != NULL) {
		rc = be->vxlan_add(be->ctx, t, ifc, err);
		if (rc < 0) {
			memset(t, 0, sizeof(*t));
			return rc;
		}
	}
	model_iface_commit(m, ifc);
	t->used = true;
	return 0;
}

int
mg_model_vxlan_del(struct mg_model *m, const char *name, struct mg_error *err)
{
	const struct mg_model_backend *be = model_backend(m);
	struct mg_vxlan_tunnel *t = (struct mg_vxlan_tunnel *)mg_model_vxlan_find(m, name);
	struct mg_iface *ifc;

	if (t == NULL)
		return mg_error_set(err, ENOENT, "name", "no VXLAN tunnel named '%s'", name);
	ifc = model_iface(m, t->iface);
	if (model_iface_busy(m, ifc, name, err) < 0)
		return -err->code;
	model_iface_release(m, ifc);
	if (be != NULL && be->vxlan_del != NULL)
		be->vxlan_del(be->ctx, t, ifc);
	memset(t, 0, sizeof(*t));
	return 0;
}

int
model_vxlan_replay(struct mg_model *m, struct mg_error *err)
{
	const struct mg_model_backend *be = model_backend(m);
	struct mg_vxlan_tunnel *tab = vxlan_table(m, false);

	if (tab == NULL || be == NULL || be->vxlan_add == NULL)
		return 0;
	for (unsigned int i = 0; i < MG_MODEL_MAX_VXLAN; i++) {
		struct mg_vxlan_tunnel *t = &tab[i];
		int rc;

		if (!t->used)
			continue;
		rc = be->vxlan_add(be->ctx, t, model_iface(m, t->iface), err);
		if (rc < 0) {
			mg_error_prefix_field(err, "vxlan[%s]", t->spec.name);
			return rc;
		}
	}
	return 0;
}

void
model_vxlan_free(struct mg_model *m)
{
	struct mg_vxlan_tunnel **t = model_vxlan_slot(m);

	free(*t);
	*t = NULL;
}
