/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * REST for VXLAN tunnels, a thin parser over the model's VXLAN calls:
 *
 *   /v1/vxlan          GET POST (the `vxlan:` fields of the file as JSON)
 *   /v1/vxlan/NAME     GET DELETE
 *
 * GET shows the tunnel with its defaults filled in (port, MTU, MAC) and its
 * counters. A tunnel in use by routes or static neighbors is not deleted
 * (409); NSM connections delete theirs with the connection. With
 * control.state_dir, tunnels (from the file or made here) are durable
 * state: journaled as their POST body ({"vxlan": ...}, {"vxlan_del": NAME})
 * and in the snapshot; an NSM connection's comes back with the connection.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl_priv.h"

static int
parse_tunnel(json_t *o, struct mg_vxlan_spec *s, struct mg_error *e)
{
	static const char *const keys[] = {"name", "network", "underlay", "vni", "local",
					   "remote", "port", "mtu", "mac", "ipv4", "ipv6", NULL};
	int rc;

	memset(s, 0, sizeof(*s));
	if (!json_is_object(o))
		return mg_error_set(e, EINVAL, "", "expected a JSON object");
	if ((rc = cj_check_fields(o, keys, "", e)) < 0 ||
	    (rc = cj_str(o, "name", "", s->name, sizeof(s->name), true, e)) < 0 ||
	    (rc = cj_str(o, "network", "", s->network, sizeof(s->network), false, e)) < 0 ||
	    (rc = cj_str(o, "underlay", "", s->underlay, sizeof(s->underlay), false, e)) < 0 ||
	    (rc = cj_ip(o, "local", "", &s->local, true, e)) < 0 ||
	    (rc = cj_ip(o, "remote", "", &s->remote, true, e)) < 0)
		return rc;
	if ((rc = cj_u32(o, "vni", "", 0, MG_VXLAN_MAX_VNI, &s->vni, true, e)) < 0)
		return rc;
	if ((rc = cj_u16(o, "port", "", 1, 65535, &s->port, false, e)) < 0)
		return rc;
	if ((rc = cj_u16(o, "mtu", "", MG_MTU_MIN, MG_MTU_MAX, &s->mtu, false, e)) < 0)
		return rc;
	rc = cj_mac(o, "mac", "", &s->mac, false, e);
	if (rc < 0)
		return rc;
	s->mac_set = rc > 0;
	return 0;
}

/* Addresses given with POST: ["10.0.0.1/24", ...] in "ipv4" and "ipv6". */
static int
parse_addrs(json_t *o, const char *key, int family, const char *iface, struct mg_op *ops,
	    unsigned int *n, unsigned int max, struct mg_error *e)
{
	json_t *a = json_object_get(o, key), *v;
	size_t i;

	if (a == NULL)
		return 0;
	if (!json_is_array(a))
		return mg_error_set(e, EINVAL, key, "expected a list of addresses with a prefix length");
	json_array_foreach(a, i, v) {
		char f[32];
		struct mg_op *op;

		snprintf(f, sizeof(f), "%s[%zu]", key, i);
		if (*n == max)
			return mg_error_set(e, EINVAL, f, "too many addresses (at most %u)", max);
		op = &ops[(*n)++];
		memset(op, 0, sizeof(*op));
		op->kind = MG_OP_ADDR;
		mg_strlcpy(op->addr.iface, iface, sizeof(op->addr.iface));
		if (!json_is_string(v) || mg_prefix_parse(json_string_value(v), &op->addr.prefix) < 0 ||
		    op->addr.prefix.addr.family != family)
			return mg_error_set(e, EINVAL, f, "not an %s address with a prefix length",
					    family == AF_INET ? "IPv4" : "IPv6");
	}
	return 0;
}

/* The tunnel as its POST body: what the durable state keeps. */
static json_t *
spec_json(struct mg_ctl *c, const struct mg_vxlan_tunnel *t)
{
	const struct mg_model *m = c->env.model;
	const struct mg_iface *ifc = mg_model_iface_get(m, t->iface);
	char b[MG_PREFIX_STRLEN];
	json_t *o;

	o = json_pack("{s:s,s:s,s:s,s:I,s:i,s:i}", "name", t->spec.name,
		      "network", mg_model_network_get(m, t->network)->spec.name,
		      "underlay", mg_model_network_get(m, t->underlay)->spec.name,
		      "vni", (json_int_t)t->spec.vni, "port", t->spec.port,
		      "mtu", ifc ? ifc->mtu : t->spec.mtu);
	json_object_set_new(o, "local", json_string(mg_ip_fmt(&t->spec.local, b, sizeof(b))));
	json_object_set_new(o, "remote", json_string(mg_ip_fmt(&t->spec.remote, b, sizeof(b))));
	json_object_set_new(o, "mac", json_string(mg_mac_fmt(&t->spec.mac, b, sizeof(b))));
	cj_addrs_json(o, ifc);
	return o;
}

json_t *
ctl_vxlan_json(struct mg_ctl *c, const struct mg_vxlan_tunnel *t)
{
	uint64_t cnt[5] = {0};
	json_t *o = spec_json(c, t);

	if (c->env.vxlan_counters != NULL)
		c->env.vxlan_counters(c->env.ctx, t->iface, cnt);
	json_object_set_new(o, "counters",
			    json_pack("{s:I,s:I,s:I,s:I,s:I}", "rx_packets", (json_int_t)cnt[0],
				      "rx_bytes", (json_int_t)cnt[1], "tx_packets", (json_int_t)cnt[2],
				      "tx_bytes", (json_int_t)cnt[3], "tx_errors", (json_int_t)cnt[4]));
	return o;
}

/* Add the tunnel and its addresses, all or nothing. */
static int
post(struct mg_ctl *c, json_t *j, char *name, size_t nname, struct mg_error *e)
{
	struct mg_model *m = c->env.model;
	struct mg_op ops[2 * MG_MODEL_MAX_ADDRS];
	struct mg_vxlan_spec s;
	unsigned int n = 0, failed = 0;
	int rc;

	if ((rc = parse_tunnel(j, &s, e)) < 0)
		return rc;
	if ((rc = parse_addrs(j, "ipv4", AF_INET, s.name, ops, &n, MG_MODEL_MAX_ADDRS, e)) < 0 ||
	    (rc = parse_addrs(j, "ipv6", AF_INET6, s.name, ops, &n, 2 * MG_MODEL_MAX_ADDRS, e)) < 0)
		return rc;
	if ((rc = mg_model_vxlan_add(m, &s, e)) < 0)
		return rc;
	if (n > 0 && (rc = mg_txn_apply_all(m, ops, n, &failed, e)) < 0) {
		struct mg_error e2;

		/* "[1].prefix" from the transaction: name the address's own field. */
		if (failed < n) {
			char f[96];
			unsigned int k4 = 0;

			for (unsigned int k = 0; k < failed; k++)
				k4 += ops[k].addr.prefix.addr.family == AF_INET;
			snprintf(f, sizeof(f), "%s[%u]",
				 ops[failed].addr.prefix.addr.family == AF_INET ? "ipv4" : "ipv6",
				 ops[failed].addr.prefix.addr.family == AF_INET ? k4 : failed - k4);
			snprintf(e->field, sizeof(e->field), "%s%s", f,
				 strchr(e->field, '.') ? strchr(e->field, '.') : "");
		}
		mg_model_vxlan_del(m, s.name, &e2);
		return rc;
	}
	snprintf(name, nname, "%s", s.name);
	return 0;
}

json_t *
ctl_vxlan_snapshot(struct mg_ctl *c)
{
	const struct mg_vxlan_tunnel *t;
	json_t *a = json_array();
	uint32_t cur = 0;

	while ((t = mg_model_vxlan_next(c->env.model, &cur)) != NULL)
		if (!ctl_conn_owns_iface(c, t->spec.name))
			json_array_append_new(a, spec_json(c, t));
	return a;
}

int
ctl_vxlan_restore(struct mg_ctl *c, json_t *stored, struct mg_error *err)
{
	char name[MG_NAME_MAX];
	int rc = post(c, stored, name, sizeof(name), err);

	if (rc < 0)
		mg_error_prefix_field(err, "vxlan");
	return rc;
}

/* Journal the tunnel as it now is ({"vxlan": body}) or its removal. */
static int
journal(struct mg_ctl *c, const char *name, bool del, struct mg_error *e)
{
	json_t *entry;
	int rc;

	if (c->journal_fd < 0 || c->replaying)
		return 0;
	/* A delete the model would refuse is refused before it is journaled. */
	if (del && mg_model_iface_del_check(c->env.model, name, e) < 0)
		return -e->code;
	if (del)
		entry = json_pack("{s:s}", "vxlan_del", name);
	else
		entry = json_pack("{s:o}", "vxlan",
				  spec_json(c, mg_model_vxlan_find(c->env.model, name)));
	rc = ctl_journal(c, entry, e);
	json_decref(entry);
	return rc;
}

int
ctl_vxlan_rest(struct mg_ctl *c, const char *method, char **seg, int nseg, char *body,
	       size_t len, char **text, const char **allow)
{
	struct mg_model *m = c->env.model;
	const struct mg_vxlan_tunnel *t;
	struct mg_error e;
	json_t *j;
	int rc;

	mg_error_clear(&e);
	if (nseg == 2) {
		if (!strcmp(method, "GET")) {
			json_t *a = json_array();
			uint32_t cur = 0;

			while ((t = mg_model_vxlan_next(m, &cur)) != NULL)
				json_array_append_new(a, ctl_vxlan_json(c, t));
			return ctl_reply(200, a, text);
		}
		if (!strcmp(method, "POST")) {
			char name[MG_NAME_MAX] = "";

			if ((j = ctl_body_json(body, len, &e)) == NULL)
				return ctl_reply_err(&e, text);
			rc = post(c, j, name, sizeof(name), &e);
			json_decref(j);
			if (rc == 0 && (rc = journal(c, name, false, &e)) < 0) {
				struct mg_error e2;

				/* Not kept: not done either. */
				mg_model_vxlan_del(m, name, &e2);
			}
			if (rc < 0) {
				c->requests_failed++;
				return ctl_reply_err(&e, text);
			}
			c->requests_ok++;
			return ctl_reply(201, ctl_vxlan_json(c, mg_model_vxlan_find(m, name)), text);
		}
		return ctl_not_allowed("GET, POST", allow, text);
	}
	if (nseg != 3) {
		mg_error_set(&e, ENOENT, "", "no such resource");
		return ctl_reply_err(&e, text);
	}
	if (strcmp(method, "GET") && strcmp(method, "DELETE"))
		return ctl_not_allowed("GET, DELETE", allow, text);
	t = mg_model_vxlan_find(m, seg[2]);
	if (t == NULL) {
		mg_error_set(&e, ENOENT, "name", "no VXLAN tunnel named '%s'", seg[2]);
		return ctl_reply_err(&e, text);
	}
	if (!strcmp(method, "GET"))
		return ctl_reply(200, ctl_vxlan_json(c, t), text);
	if (ctl_conn_refuse_owned(c, "VXLAN tunnel", seg[2], &e) < 0) {
		c->requests_failed++;
		return ctl_reply_err(&e, text);
	}
	/* Journaled first, once the model would take it (journal() asks). */
	if (journal(c, seg[2], true, &e) < 0 || mg_model_vxlan_del(m, seg[2], &e) < 0) {
		c->requests_failed++;
		return ctl_reply_err(&e, text);
	}
	c->requests_ok++;
	*text = NULL;
	return 204;
}
