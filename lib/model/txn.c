/* SPDX-License-Identifier: BSD-3-Clause */
/* Operations on the model, and transactions with an undo log. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg_txn.h"

struct undo {
	struct mg_op op;          /* the inverse of what was applied */
	struct mg_prefix addrs[2 * MG_MODEL_MAX_ADDRS]; /* for a deleted port/VLAN */
	unsigned int naddrs;
	char iface[MG_NAME_MAX];
};

struct mg_txn {
	struct mg_model *m;
	struct undo *log;
	unsigned int n, cap;
};

const char *
mg_op_kind_name(enum mg_op_kind k)
{
	static const char *const names[] = {"network", "port", "vlan", "address", "route",
					    "neighbor"};

	return k < MG_OP_KIND_MAX ? names[k] : "?";
}

const char *
mg_op_verb_name(enum mg_op_verb v)
{
	return v == MG_OP_ADD ? "add" : v == MG_OP_DEL ? "delete" : "replace";
}

static void
vlan_name(const struct mg_vlan_spec *v, char *buf, size_t n)
{
	snprintf(buf, n, "%s.%u", v->port, v->vlan);
}

/*
 * The network a route request lands in, as the model decides it: its own,
 * else its interface's, else "default". False when it names no network and
 * an interface that does not exist (then "default").
 */
static bool
route_net_name(const struct mg_model *m, const struct mg_route_spec *r, char *out)
{
	const struct mg_iface *ifc = NULL;

	if (r->network[0] != '\0') {
		mg_strlcpy(out, r->network, MG_NAME_MAX);
		return true;
	}
	if (r->iface[0] != '\0' && (ifc = mg_model_iface_find(m, r->iface)) != NULL) {
		mg_strlcpy(out, mg_model_network_get(m, ifc->network)->spec.name, MG_NAME_MAX);
		return true;
	}
	mg_strlcpy(out, "default", MG_NAME_MAX);
	return r->iface[0] == '\0';
}

int
mg_op_apply(struct mg_model *m, const struct mg_op *op, struct mg_error *err)
{
	char name[MG_NAME_MAX + 8];

	switch (op->kind) {
	case MG_OP_NETWORK:
		if (op->verb == MG_OP_ADD)
			return mg_model_network_add(m, &op->network, err);
		if (op->verb == MG_OP_DEL)
			return mg_model_network_del(m, op->network.name, err);
		break;
	case MG_OP_PORT:
		if (op->verb == MG_OP_ADD)
			return mg_model_port_add(m, &op->port, "api", err);
		if (op->verb == MG_OP_DEL)
			return mg_model_port_del(m, op->port.name, err);
		break;
	case MG_OP_VLAN:
		if (op->verb == MG_OP_ADD)
			return mg_model_vlan_add(m, &op->vlan, err);
		if (op->verb == MG_OP_DEL) {
			vlan_name(&op->vlan, name, sizeof(name));
			return mg_model_vlan_del(m, name, err);
		}
		break;
	case MG_OP_ADDR:
		if (op->verb == MG_OP_ADD)
			return mg_model_addr_add(m, &op->addr, err);
		if (op->verb == MG_OP_DEL)
			return mg_model_addr_del(m, &op->addr, err);
		break;
	case MG_OP_ROUTE:
		if (op->verb == MG_OP_ADD)
			return mg_model_route_add(m, &op->route, err);
		if (op->verb == MG_OP_DEL) {
			/* Named as an add names it: its network, else its interface's. */
			char net[MG_NAME_MAX];

			if (!route_net_name(m, &op->route, net))
				return mg_error_set(err, ENOENT, "interface",
						    "no interface named '%s'", op->route.iface);
			return mg_model_route_del(m, net, &op->route.prefix, err);
		}
		return mg_model_route_replace(m, &op->route, err);
	case MG_OP_NEIGH:
		if (op->verb == MG_OP_ADD)
			return mg_model_neigh_add(m, &op->neigh, err);
		if (op->verb == MG_OP_DEL)
			return mg_model_neigh_del(m, op->neigh.iface, &op->neigh.ip, err);
		break;
	default:
		break;
	}
	return mg_error_set(err, EINVAL, "op", "%s is not possible on a %s",
			    mg_op_verb_name(op->verb), mg_op_kind_name(op->kind));
}

struct mg_txn *
mg_txn_begin(struct mg_model *m)
{
	struct mg_txn *t = calloc(1, sizeof(*t));

	if (t != NULL)
		t->m = m;
	return t;
}

unsigned int
mg_txn_count(const struct mg_txn *t)
{
	return t->n;
}

static void
save_addrs(struct undo *u, const struct mg_iface *ifc)
{
	u->naddrs = 0;
	for (unsigned int i = 0; i < ifc->naddr4; i++)
		u->addrs[u->naddrs++] = ifc->addr4[i];
	for (unsigned int i = 0; i < ifc->naddr6; i++)
		u->addrs[u->naddrs++] = ifc->addr6[i];
	mg_strlcpy(u->iface, ifc->name, sizeof(u->iface));
}

/* Work out the inverse of @op before applying it. -ENOENT: nothing to undo. */
static int
inverse(struct mg_model *m, const struct mg_op *op, struct undo *u)
{
	char name[MG_NAME_MAX + 8];

	memset(u, 0, sizeof(*u));
	u->op.kind = op->kind;
	if (op->verb == MG_OP_ADD) {
		/* Undo an add by deleting the same key. */
		memcpy(&u->op, op, sizeof(*op));
		u->op.verb = MG_OP_DEL;
		if (op->kind == MG_OP_ROUTE)
			route_net_name(m, &op->route, u->op.route.network);
		return 0;
	}
	u->op.verb = MG_OP_ADD;
	switch (op->kind) {
	case MG_OP_NETWORK: {
		const struct mg_network *n = mg_model_network_find(m, op->network.name);

		if (n == NULL)
			return -ENOENT;
		u->op.network = n->spec;
		return 0;
	}
	case MG_OP_PORT: {
		const struct mg_port *p = mg_model_port_find(m, op->port.name);

		if (p == NULL)
			return -ENOENT;
		u->op.port = p->spec;
		save_addrs(u, mg_model_iface_get(m, p->iface));
		return 0;
	}
	case MG_OP_VLAN: {
		const struct mg_iface *ifc;

		vlan_name(&op->vlan, name, sizeof(name));
		ifc = mg_model_iface_find(m, name);
		if (ifc == NULL)
			return -ENOENT;
		mg_strlcpy(u->op.vlan.port, op->vlan.port, sizeof(u->op.vlan.port));
		u->op.vlan.vlan = ifc->vlan;
		mg_strlcpy(u->op.vlan.network, mg_model_network_get(m, ifc->network)->spec.name,
			   sizeof(u->op.vlan.network));
		u->op.vlan.mtu = ifc->mtu;
		save_addrs(u, ifc);
		return 0;
	}
	case MG_OP_ADDR: {
		const struct mg_iface *ifc = mg_model_iface_find(m, op->addr.iface);
		const struct mg_prefix *a;
		unsigned int n;

		if (ifc == NULL)
			return -ENOENT;
		a = op->addr.prefix.addr.family == AF_INET ? ifc->addr4 : ifc->addr6;
		n = op->addr.prefix.addr.family == AF_INET ? ifc->naddr4 : ifc->naddr6;
		for (unsigned int i = 0; i < n; i++)
			if (mg_ip_equal(&a[i].addr, &op->addr.prefix.addr)) {
				u->op.addr = op->addr;
				u->op.addr.prefix = a[i];
				return 0;
			}
		return -ENOENT;
	}
	case MG_OP_ROUTE: {
		char net[MG_NAME_MAX];
		const struct mg_network *n;

		route_net_name(m, &op->route, net);
		n = mg_model_network_find(m, net);
		const struct mg_route *r = n ? mg_model_route_find(m, n->id, &op->route.prefix)
					     : NULL;

		if (r == NULL)
			return -ENOENT;
		mg_model_route_spec(m, r, &u->op.route);
		/* Undo a replace by replacing back; a delete by adding. */
		u->op.verb = op->verb == MG_OP_REPLACE ? MG_OP_REPLACE : MG_OP_ADD;
		return 0;
	}
	case MG_OP_NEIGH: {
		uint32_t cur = 0;
		const struct mg_neigh *nb;
		const struct mg_iface *ifc = mg_model_iface_find(m, op->neigh.iface);

		while ((nb = mg_model_neigh_next(m, &cur)) != NULL)
			if (ifc != NULL && nb->iface == ifc->id && mg_ip_equal(&nb->ip, &op->neigh.ip)) {
				mg_model_neigh_spec(m, nb, &u->op.neigh);
				return 0;
			}
		return -ENOENT;
	}
	default:
		return -ENOENT;
	}
}

int
mg_txn_apply(struct mg_txn *t, const struct mg_op *op, struct mg_error *err)
{
	struct undo u;
	int rc;

	if (t->n == t->cap) {
		unsigned int cap = t->cap ? t->cap * 2 : 8;
		struct undo *l = realloc(t->log, cap * sizeof(*l));

		if (l == NULL)
			return mg_error_set(err, ENOMEM, "", "out of memory");
		t->log = l;
		t->cap = cap;
	}
	/* A delete of something absent fails below with the model's message. */
	(void)inverse(t->m, op, &u);
	rc = mg_op_apply(t->m, op, err);
	if (rc < 0)
		return rc;
	t->log[t->n++] = u;
	return 0;
}

void
mg_txn_commit(struct mg_txn *t)
{
	if (t == NULL)
		return;
	free(t->log);
	free(t);
}

void
mg_txn_abort(struct mg_txn *t)
{
	struct mg_error e;

	if (t == NULL)
		return;
	while (t->n > 0) {
		struct undo *u = &t->log[--t->n];

		/* Undoing can only fail if the data plane refuses what it just had. */
		if (mg_op_apply(t->m, &u->op, &e) < 0)
			fprintf(stderr, "meshgate: undo of a %s %s failed: %s\n",
				mg_op_kind_name(u->op.kind), mg_op_verb_name(u->op.verb), e.msg);
		for (unsigned int i = 0; i < u->naddrs; i++) {
			struct mg_addr_spec a;

			memset(&a, 0, sizeof(a));
			mg_strlcpy(a.iface, u->iface, sizeof(a.iface));
			a.prefix = u->addrs[i];
			mg_model_addr_add(t->m, &a, &e);
		}
	}
	mg_txn_commit(t);
}

int
mg_txn_check(const struct mg_model *m, const struct mg_op *ops, unsigned int n,
	     unsigned int *failed, struct mg_error *err)
{
	struct mg_model *s;
	int rc = 0;

	/* One operation is checked whole by the model before its backend sees it. */
	if (n < 2)
		return 0;
	s = mg_model_shadow(m);
	if (s == NULL) {
		if (failed != NULL)
			*failed = UINT_MAX;
		return mg_error_set(err, ENOMEM, "", "out of memory");
	}
	for (unsigned int i = 0; i < n && rc == 0; i++) {
		rc = mg_op_apply(s, &ops[i], err);
		if (rc < 0 && failed != NULL)
			*failed = i;
	}
	mg_model_destroy(s);
	return rc;
}

int
mg_txn_apply_list(struct mg_model *m, const struct mg_op *ops, unsigned int n,
		  struct mg_txn **out, unsigned int *failed, struct mg_error *err)
{
	struct mg_txn *t;
	int rc = mg_txn_check(m, ops, n, failed, err);

	*out = NULL;
	if (rc < 0)
		return rc;
	t = mg_txn_begin(m);
	if (t == NULL) {
		*failed = UINT_MAX;
		return mg_error_set(err, ENOMEM, "", "out of memory");
	}
	for (unsigned int i = 0; i < n; i++) {
		rc = mg_txn_apply(t, &ops[i], err);
		if (rc < 0) {
			*failed = i;
			mg_txn_abort(t);
			return rc;
		}
	}
	*out = t;
	return 0;
}

int
mg_txn_apply_all(struct mg_model *m, const struct mg_op *ops, unsigned int n,
		 unsigned int *failed, struct mg_error *err)
{
	struct mg_txn *t;
	unsigned int bad;
	int rc = mg_txn_apply_list(m, ops, n, &t, &bad, err);

	if (rc < 0) {
		if (bad != UINT_MAX) {
			if (failed != NULL)
				*failed = bad;
			mg_error_prefix_field(err, "[%u]", bad);
		}
		return rc;
	}
	mg_txn_commit(t);
	return 0;
}

void
mg_model_dump_ops(const struct mg_model *m, bool (*skip)(const struct mg_op *op, void *arg),
		  void (*cb)(const struct mg_op *op, void *arg), void *arg)
{
	struct mg_op op;
	uint32_t cur;
	const struct mg_route *r;
	const struct mg_neigh *nb;

#define EMIT()                                                                             \
	do {                                                                               \
		if (skip == NULL || !skip(&op, arg))                                       \
			cb(&op, arg);                                                      \
	} while (0)
	for (uint16_t i = 0; i < mg_model_network_max(); i++) {
		const struct mg_network *n = mg_model_network_get(m, i);

		if (n == NULL)
			continue;
		memset(&op, 0, sizeof(op));
		op.kind = MG_OP_NETWORK;
		op.network = n->spec;
		EMIT();
	}
	for (uint16_t i = 0; i < mg_model_port_max(); i++) {
		const struct mg_port *p = mg_model_port_get(m, i);

		if (p == NULL)
			continue;
		memset(&op, 0, sizeof(op));
		op.kind = MG_OP_PORT;
		op.port = p->spec;
		EMIT();
	}
	for (uint16_t i = 0; i < mg_model_iface_max(); i++) {
		const struct mg_iface *ifc = mg_model_iface_get(m, i);

		if (ifc == NULL || ifc->kind != MG_IFACE_VLAN)
			continue;
		memset(&op, 0, sizeof(op));
		op.kind = MG_OP_VLAN;
		mg_strlcpy(op.vlan.port, mg_model_port_get(m, ifc->port)->spec.name,
			   sizeof(op.vlan.port));
		op.vlan.vlan = ifc->vlan;
		mg_strlcpy(op.vlan.network, mg_model_network_get(m, ifc->network)->spec.name,
			   sizeof(op.vlan.network));
		op.vlan.mtu = ifc->mtu;
		EMIT();
	}
	for (uint16_t i = 0; i < mg_model_iface_max(); i++) {
		const struct mg_iface *ifc = mg_model_iface_get(m, i);

		/* ESP and VXLAN tunnels come from the file, REST or NSM (no op carries them);
		 * WireGuard interfaces are stored apart with their addresses, keys
		 * sealed (lib/ctl/ctl_wgstate.c). */
		if (ifc == NULL || ifc->kind == MG_IFACE_WG || ifc->kind == MG_IFACE_ESP ||
		    ifc->kind == MG_IFACE_VXLAN)
			continue;
		for (unsigned int k = 0; k < ifc->naddr4 + ifc->naddr6; k++) {
			memset(&op, 0, sizeof(op));
			op.kind = MG_OP_ADDR;
			mg_strlcpy(op.addr.iface, ifc->name, sizeof(op.addr.iface));
			op.addr.prefix = k < ifc->naddr4 ? ifc->addr4[k] : ifc->addr6[k - ifc->naddr4];
			EMIT();
		}
	}
	cur = 0;
	while ((nb = mg_model_neigh_next(m, &cur)) != NULL) {
		memset(&op, 0, sizeof(op));
		op.kind = MG_OP_NEIGH;
		mg_model_neigh_spec(m, nb, &op.neigh);
		EMIT();
	}
	cur = 0;
	while ((r = mg_model_route_next(m, &cur)) != NULL) {
		/* Routes into WireGuard interfaces too: those are restored first. */
		memset(&op, 0, sizeof(op));
		op.kind = MG_OP_ROUTE;
		mg_model_route_spec(m, r, &op.route);
		EMIT();
	}
#undef EMIT
}
