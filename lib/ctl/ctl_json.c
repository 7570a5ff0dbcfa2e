/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl_json.h"

static const char *
jtype(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

static void
fpath(char *out, size_t n, const char *path, const char *key)
{
	if (path == NULL || path[0] == '\0')
		snprintf(out, n, "%s", key);
	else
		snprintf(out, n, "%s.%s", path, key);
}

int
cj_check_fields(json_t *obj, const char *const *allowed, const char *path, struct mg_error *err)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj))
		return mg_error_set(err, EINVAL, path, "expected an object, found %s", jtype(obj));
	json_object_foreach(obj, key, v) {
		bool ok = false;
		char p[128];

		for (unsigned int i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], key) == 0)
				ok = true;
		if (!ok) {
			fpath(p, sizeof(p), path, key);
			return mg_error_set(err, EINVAL, p, "unknown field");
		}
	}
	return 0;
}

int
cj_str(json_t *obj, const char *key, const char *path, char *out, size_t size, bool required,
       struct mg_error *err)
{
	json_t *v = json_object_get(obj, key);
	char p[128];

	fpath(p, sizeof(p), path, key);
	if (v == NULL || json_is_null(v)) {
		if (required)
			return mg_error_set(err, EINVAL, p, "is required");
		return 0;
	}
	if (!json_is_string(v))
		return mg_error_set(err, EINVAL, p, "expected a string, found %s", jtype(v));
	if (json_string_length(v) >= size)
		return mg_error_set(err, EINVAL, p, "longer than %zu characters", size - 1);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return mg_error_set(err, EINVAL, p, "contains a NUL character");
	strcpy(out, json_string_value(v));
	return 1;
}

int
cj_uint(json_t *obj, const char *key, const char *path, unsigned long long min,
	unsigned long long max, unsigned long long *out, bool required, struct mg_error *err)
{
	json_t *v = json_object_get(obj, key);
	char p[128];

	fpath(p, sizeof(p), path, key);
	if (v == NULL || json_is_null(v)) {
		if (required)
			return mg_error_set(err, EINVAL, p, "is required");
		return 0;
	}
	if (!json_is_integer(v))
		return mg_error_set(err, EINVAL, p, "expected an integer, found %s", jtype(v));
	if (json_integer_value(v) < 0 || (unsigned long long)json_integer_value(v) < min ||
	    (unsigned long long)json_integer_value(v) > max)
		return mg_error_set(err, EINVAL, p, "%lld is out of range %llu-%llu",
				    (long long)json_integer_value(v), min, max);
	*out = (unsigned long long)json_integer_value(v);
	return 1;
}

int
cj_u32(json_t *obj, const char *key, const char *path, uint32_t min, uint32_t max,
       uint32_t *out, bool required, struct mg_error *err)
{
	unsigned long long v = 0;
	int rc = cj_uint(obj, key, path, min, max, &v, required, err);

	if (rc > 0)
		*out = (uint32_t)v;
	return rc;
}

int
cj_u16(json_t *obj, const char *key, const char *path, uint16_t min, uint16_t max,
       uint16_t *out, bool required, struct mg_error *err)
{
	uint32_t v = 0;
	int rc = cj_u32(obj, key, path, min, max, &v, required, err);

	if (rc > 0)
		*out = (uint16_t)v;
	return rc;
}

int
cj_bool(json_t *obj, const char *key, const char *path, bool *out, struct mg_error *err)
{
	json_t *v = json_object_get(obj, key);
	char p[128];

	if (v == NULL || json_is_null(v))
		return 0;
	fpath(p, sizeof(p), path, key);
	if (!json_is_boolean(v))
		return mg_error_set(err, EINVAL, p, "expected true or false, found %s", jtype(v));
	*out = json_is_true(v);
	return 1;
}

int
cj_prefix(json_t *obj, const char *key, const char *path, struct mg_prefix *pfx, bool required,
	  struct mg_error *err)
{
	char buf[64], p[128];
	int rc = cj_str(obj, key, path, buf, sizeof(buf), required, err);

	if (rc <= 0)
		return rc;
	fpath(p, sizeof(p), path, key);
	if (mg_prefix_parse(buf, pfx) < 0 || strchr(buf, '/') == NULL)
		return mg_error_set(err, EINVAL, p,
				    "'%s' is not a prefix with a length (like 10.0.0.0/24 or fd00::/64)",
				    buf);
	return 1;
}

int
cj_ip(json_t *obj, const char *key, const char *path, struct mg_ip *ip, bool required,
      struct mg_error *err)
{
	char buf[64], p[128];
	int rc = cj_str(obj, key, path, buf, sizeof(buf), required, err);

	if (rc <= 0)
		return rc;
	fpath(p, sizeof(p), path, key);
	if (mg_ip_parse(buf, ip) < 0)
		return mg_error_set(err, EINVAL, p, "'%s' is not an IPv4 or IPv6 address", buf);
	return 1;
}

int
cj_mac(json_t *obj, const char *key, const char *path, struct mg_mac *mac, bool required,
       struct mg_error *err)
{
	char buf[32], p[128];
	int rc = cj_str(obj, key, path, buf, sizeof(buf), required, err);

	if (rc <= 0)
		return rc;
	fpath(p, sizeof(p), path, key);
	if (mg_mac_parse(buf, mac) < 0)
		return mg_error_set(err, EINVAL, p, "'%s' is not a MAC address (like 02:00:00:00:00:01)",
				    buf);
	return 1;
}

static int
cj_enum(json_t *obj, const char *key, const char *path, const char *const *names, int *out,
	struct mg_error *err)
{
	char buf[32], p[128], list[128] = "";
	int rc = cj_str(obj, key, path, buf, sizeof(buf), false, err);

	if (rc <= 0)
		return rc;
	for (int i = 0; names[i]; i++) {
		if (strcmp(buf, names[i]) == 0) {
			*out = i;
			return 1;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
			 names[i]);
	}
	fpath(p, sizeof(p), path, key);
	return mg_error_set(err, EINVAL, p, "'%s' is not one of: %s", buf, list);
}

#define TRY(x)                                                                             \
	do {                                                                               \
		int rc_ = (x);                                                             \
		if (rc_ < 0)                                                               \
			return rc_;                                                        \
	} while (0)

int
cj_kind(const char *name, enum mg_op_kind *kind)
{
	for (int k = 0; k < MG_OP_KIND_MAX; k++)
		if (strcmp(name, mg_op_kind_name((enum mg_op_kind)k)) == 0) {
			*kind = (enum mg_op_kind)k;
			return 0;
		}
	return -ENOENT;
}

int
cj_flows(json_t *o, const char *path, struct mg_flows_spec *fs, struct mg_error *err)
{
	static const char *const f[] = {"enabled", "size", "stateful", "timeouts", NULL};
	json_t *t;
	char tp[128];

	memset(fs, 0, sizeof(*fs));
	if (json_is_null(o))
		return 0;
	TRY(cj_check_fields(o, f, path, err));
	fs->enabled = true;
	TRY(cj_bool(o, "enabled", path, &fs->enabled, err));
	TRY(cj_u32(o, "size", path, 1, MG_FLOWS_SIZE_MAX, &fs->size, false, err));
	TRY(cj_bool(o, "stateful", path, &fs->stateful, err));
	t = json_object_get(o, "timeouts");
	if (t == NULL || json_is_null(t))
		return 0;
	fpath(tp, sizeof(tp), path, "timeouts");
	TRY(cj_check_fields(t, mg_flows_timeout_names, tp, err));
	for (unsigned int i = 0; i < MG_FLOWS_T_MAX; i++) {
		TRY(cj_u32(t, mg_flows_timeout_names[i], tp, 1, MG_FLOWS_TIMEOUT_MAX,
			   &fs->timeout_s[i], false, err));
	}
	return 0;
}

json_t *
cj_flows_json(const struct mg_flows_spec *fs)
{
	json_t *o = json_object(), *t;

	json_object_set_new(o, "enabled", json_boolean(fs->enabled));
	if (!fs->enabled)
		return o;
	if (fs->size != 0) /* 0: the default, as a request may leave it */
		json_object_set_new(o, "size", json_integer(fs->size));
	json_object_set_new(o, "stateful", json_boolean(fs->stateful));
	t = json_object();
	for (unsigned int i = 0; i < MG_FLOWS_T_MAX; i++)
		if (fs->timeout_s[i] != 0)
			json_object_set_new(t, mg_flows_timeout_names[i],
					    json_integer(fs->timeout_s[i]));
	json_object_set_new(o, "timeouts", t);
	return o;
}

int
cj_spec(enum mg_op_kind kind, json_t *o, const char *path, struct mg_op *op, struct mg_error *err)
{
	static const char *const net_f[] = {"name", "fragments", "ip_options", "flows", NULL};
	static const char *const port_f[] = {"name", "device", "network", "mac", "mtu", "rx_queues",
					     "rx_desc", "tx_desc", "promiscuous", NULL};
	static const char *const vlan_f[] = {"port", "vlan", "network", "mtu", NULL};
	static const char *const addr_f[] = {"interface", "address", NULL};
	static const char *const route_f[] = {"network", "prefix", "via", "interface", "action",
					      NULL};
	static const char *const neigh_f[] = {"interface", "ip", "mac", NULL};
	static const char *const policy[] = {"forward", "drop", NULL};
	static const char *const actions[] = {"forward", "drop", "unreachable", "prohibit", NULL};
	int e = 0, rc;

	op->kind = kind;
	switch (kind) {
	case MG_OP_NETWORK:
		TRY(cj_check_fields(o, net_f, path, err));
		TRY(cj_str(o, "name", path, op->network.name, sizeof(op->network.name), true, err));
		TRY(rc = cj_enum(o, "fragments", path, policy, &e, err));
		if (rc > 0)
			op->network.fragments = (enum mg_policy)e;
		TRY(rc = cj_enum(o, "ip_options", path, policy, &e, err));
		if (rc > 0)
			op->network.ip_options = (enum mg_policy)e;
		if (json_object_get(o, "flows") != NULL) {
			char fp[128];

			fpath(fp, sizeof(fp), path, "flows");
			TRY(cj_flows(json_object_get(o, "flows"), fp, &op->network.flows, err));
		}
		return 0;
	case MG_OP_PORT:
		TRY(cj_check_fields(o, port_f, path, err));
		TRY(cj_str(o, "name", path, op->port.name, sizeof(op->port.name), true, err));
		TRY(cj_str(o, "device", path, op->port.device, sizeof(op->port.device),
			   op->verb == MG_OP_ADD, err));
		TRY(cj_str(o, "network", path, op->port.network, sizeof(op->port.network), false,
			   err));
		e = cj_mac(o, "mac", path, &op->port.mac, false, err);
		TRY(e);
		op->port.mac_set = e > 0;
		TRY(cj_u16(o, "mtu", path, MG_MTU_MIN, MG_MTU_MAX, &op->port.mtu, false, err));
		TRY(cj_u16(o, "rx_queues", path, 1, 64, &op->port.rx_queues, false, err));
		TRY(cj_u16(o, "rx_desc", path, 64, 16384, &op->port.rx_desc, false, err));
		TRY(cj_u16(o, "tx_desc", path, 64, 16384, &op->port.tx_desc, false, err));
		TRY(cj_bool(o, "promiscuous", path, &op->port.promiscuous, err));
		return 0;
	case MG_OP_VLAN:
		TRY(cj_check_fields(o, vlan_f, path, err));
		TRY(cj_str(o, "port", path, op->vlan.port, sizeof(op->vlan.port), true, err));
		TRY(cj_u16(o, "vlan", path, 1, 4094, &op->vlan.vlan, true, err));
		TRY(cj_str(o, "network", path, op->vlan.network, sizeof(op->vlan.network), false,
			   err));
		TRY(cj_u16(o, "mtu", path, MG_MTU_MIN, MG_MTU_MAX, &op->vlan.mtu, false, err));
		return 0;
	case MG_OP_ADDR:
		TRY(cj_check_fields(o, addr_f, path, err));
		TRY(cj_str(o, "interface", path, op->addr.iface, sizeof(op->addr.iface), true, err));
		if (op->verb == MG_OP_DEL) {
			/* A delete names the address; a length is allowed and ignored. */
			char buf[64], p[128];

			TRY(cj_str(o, "address", path, buf, sizeof(buf), true, err));
			fpath(p, sizeof(p), path, "address");
			if (mg_prefix_parse(buf, &op->addr.prefix) < 0)
				return mg_error_set(err, EINVAL, p, "'%s' is not an address", buf);
			return 0;
		}
		TRY(cj_prefix(o, "address", path, &op->addr.prefix, true, err));
		return 0;
	case MG_OP_ROUTE:
		TRY(cj_check_fields(o, route_f, path, err));
		TRY(cj_str(o, "network", path, op->route.network, sizeof(op->route.network), false,
			   err));
		TRY(cj_prefix(o, "prefix", path, &op->route.prefix, true, err));
		/* A delete needs the prefix only, but what else it names must be valid. */
		TRY(cj_ip(o, "via", path, &op->route.via, false, err));
		TRY(cj_str(o, "interface", path, op->route.iface, sizeof(op->route.iface), false,
			   err));
		TRY(rc = cj_enum(o, "action", path, actions, &e, err));
		if (rc > 0)
			op->route.action = (enum mg_route_action)e;
		return 0;
	case MG_OP_NEIGH:
		TRY(cj_check_fields(o, neigh_f, path, err));
		TRY(cj_str(o, "interface", path, op->neigh.iface, sizeof(op->neigh.iface), true,
			   err));
		TRY(cj_ip(o, "ip", path, &op->neigh.ip, true, err));
		TRY(cj_mac(o, "mac", path, &op->neigh.mac, op->verb != MG_OP_DEL, err));
		return 0;
	default:
		return mg_error_set(err, EINVAL, path, "unknown kind");
	}
}

int
cj_op(json_t *j, const char *path, struct mg_op *op, struct mg_error *err)
{
	static const char *const verbs[] = {"add", "delete", "replace", NULL};
	const char *key;
	json_t *v, *body = NULL;
	char p[128];
	int verb = -1;
	bool have_kind = false;

	memset(op, 0, sizeof(*op));
	mg_error_clear(err);
	if (!json_is_object(j))
		return mg_error_set(err, EINVAL, path, "expected an object, found %s", jtype(j));
	json_object_foreach(j, key, v) {
		enum mg_op_kind k;

		fpath(p, sizeof(p), path, key);
		if (strcmp(key, "op") == 0) {
			if (!json_is_string(v))
				return mg_error_set(err, EINVAL, p, "expected a string, found %s",
						    jtype(v));
			for (int i = 0; verbs[i]; i++)
				if (strcmp(json_string_value(v), verbs[i]) == 0)
					verb = i;
			if (verb < 0)
				return mg_error_set(err, EINVAL, p,
						    "'%s' is not one of: add, delete, replace",
						    json_string_value(v));
		} else if (cj_kind(key, &k) == 0) {
			if (have_kind)
				return mg_error_set(err, EINVAL, p,
						    "an operation names exactly one object");
			have_kind = true;
			op->kind = k;
			body = v;
		} else {
			return mg_error_set(err, EINVAL, p, "unknown field");
		}
	}
	if (verb < 0) {
		fpath(p, sizeof(p), path, "op");
		return mg_error_set(err, EINVAL, p, "is required");
	}
	if (!have_kind)
		return mg_error_set(err, EINVAL, path,
				    "needs one of: network, port, vlan, address, route, neighbor");
	op->verb = (enum mg_op_verb)verb;
	if (op->verb == MG_OP_REPLACE && op->kind != MG_OP_ROUTE) {
		fpath(p, sizeof(p), path, "op");
		return mg_error_set(err, EINVAL, p, "replace applies to routes only");
	}
	fpath(p, sizeof(p), path, mg_op_kind_name(op->kind));
	return cj_spec(op->kind, body, p, op, err);
}

json_t *
cj_spec_json(const struct mg_op *op)
{
	char b[MG_PREFIX_STRLEN];
	json_t *o = json_object();

	switch (op->kind) {
	case MG_OP_NETWORK:
		json_object_set_new(o, "name", json_string(op->network.name));
		json_object_set_new(o, "fragments", json_string(mg_policy_name(op->network.fragments)));
		json_object_set_new(o, "ip_options",
				    json_string(mg_policy_name(op->network.ip_options)));
		if (op->network.flows.enabled)
			json_object_set_new(o, "flows", cj_flows_json(&op->network.flows));
		break;
	case MG_OP_PORT:
		json_object_set_new(o, "name", json_string(op->port.name));
		if (op->port.device[0])
			json_object_set_new(o, "device", json_string(op->port.device));
		if (op->port.network[0])
			json_object_set_new(o, "network", json_string(op->port.network));
		if (op->port.mac_set)
			json_object_set_new(o, "mac", json_string(mg_mac_fmt(&op->port.mac, b,
									     sizeof(b))));
		if (op->port.mtu)
			json_object_set_new(o, "mtu", json_integer(op->port.mtu));
		if (op->port.rx_queues)
			json_object_set_new(o, "rx_queues", json_integer(op->port.rx_queues));
		if (op->port.rx_desc)
			json_object_set_new(o, "rx_desc", json_integer(op->port.rx_desc));
		if (op->port.tx_desc)
			json_object_set_new(o, "tx_desc", json_integer(op->port.tx_desc));
		if (op->port.promiscuous)
			json_object_set_new(o, "promiscuous", json_true());
		break;
	case MG_OP_VLAN:
		json_object_set_new(o, "port", json_string(op->vlan.port));
		json_object_set_new(o, "vlan", json_integer(op->vlan.vlan));
		if (op->vlan.network[0])
			json_object_set_new(o, "network", json_string(op->vlan.network));
		if (op->vlan.mtu)
			json_object_set_new(o, "mtu", json_integer(op->vlan.mtu));
		break;
	case MG_OP_ADDR:
		json_object_set_new(o, "interface", json_string(op->addr.iface));
		json_object_set_new(o, "address",
				    json_string(mg_prefix_fmt(&op->addr.prefix, b, sizeof(b))));
		break;
	case MG_OP_ROUTE:
		if (op->route.network[0])
			json_object_set_new(o, "network", json_string(op->route.network));
		json_object_set_new(o, "prefix",
				    json_string(mg_prefix_fmt(&op->route.prefix, b, sizeof(b))));
		if (op->route.via.family)
			json_object_set_new(o, "via", json_string(mg_ip_fmt(&op->route.via, b,
									   sizeof(b))));
		if (op->route.iface[0])
			json_object_set_new(o, "interface", json_string(op->route.iface));
		json_object_set_new(o, "action", json_string(mg_route_action_name(op->route.action)));
		break;
	case MG_OP_NEIGH:
		json_object_set_new(o, "interface", json_string(op->neigh.iface));
		json_object_set_new(o, "ip", json_string(mg_ip_fmt(&op->neigh.ip, b, sizeof(b))));
		json_object_set_new(o, "mac", json_string(mg_mac_fmt(&op->neigh.mac, b, sizeof(b))));
		break;
	default:
		break;
	}
	return o;
}

json_t *
cj_op_json(const struct mg_op *op)
{
	json_t *o = json_object();

	json_object_set_new(o, "op", json_string(op->verb == MG_OP_ADD	   ? "add"
						 : op->verb == MG_OP_DEL ? "delete"
									 : "replace"));
	json_object_set_new(o, mg_op_kind_name(op->kind), cj_spec_json(op));
	return o;
}

void
cj_addrs_json(json_t *o, const struct mg_iface *ifc)
{
	json_t *a4 = json_array(), *a6 = json_array();
	char b[MG_PREFIX_STRLEN];

	for (unsigned int i = 0; ifc != NULL && i < ifc->naddr4; i++)
		json_array_append_new(a4, json_string(mg_prefix_fmt(&ifc->addr4[i], b, sizeof(b))));
	for (unsigned int i = 0; ifc != NULL && i < ifc->naddr6; i++)
		json_array_append_new(a6, json_string(mg_prefix_fmt(&ifc->addr6[i], b, sizeof(b))));
	json_object_set_new(o, "ipv4", a4);
	json_object_set_new(o, "ipv6", a6);
}
