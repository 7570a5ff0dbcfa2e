/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Runtime objects over REST: networks, ports, interfaces with their VLANs
 * and addresses, routes, neighbors, connections, batches, metrics, and raw
 * requests. Each command is a thin parser that builds the JSON body the
 * endpoint takes (cj_spec in lib/ctl/ctl_json.c), sends it, and prints the
 * answer: a table for a list, "key: value" lines for one object, nothing for
 * a change (the gateway's JSON answer with --json).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctl.h"

/* Longest escaped path segment; names, addresses and ids are shorter. */
#define SEG_MAX 800
#define PATH_MAX_LEN 4096

/* ---- arguments ------------------------------------------------------------------------------ */

enum kw_type { KW_STR, KW_UINT, KW_ENUM, KW_FLAG };

/* A keyword argument: "WORD VALUE" (or a bare WORD for a flag) becomes member KEY. */
struct kw {
	const char *word;
	const char *key;
	enum kw_type type;
	const char *const *values; /* KW_ENUM: the accepted words */
};

static const char *const policies[] = {"forward", "drop", NULL};

/* Parse a non-negative decimal integer; 0 or -1. */
static int
parse_num(const char *s, unsigned long long *out)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return *end != '\0' || errno != 0 || *out > (1ull << 53) ? -1 : 0;
}

/* Turn keyword arguments into members of @obj; an exit status (usage errors name the argument). */
static int
parse_kw(const struct ctl_cmd *self, const struct kw *spec, int argc, char **argv, json_t *obj)
{
	for (int i = 0; i < argc; i++) {
		const struct kw *k = NULL;
		unsigned long long n;
		const char *v;

		for (unsigned int j = 0; spec != NULL && spec[j].word != NULL; j++)
			if (strcmp(spec[j].word, argv[i]) == 0)
				k = &spec[j];
		if (k == NULL)
			return ctl_usage_err(self, "unknown argument '%s'", argv[i]);
		if (json_object_get(obj, k->key) != NULL)
			return ctl_usage_err(self, "'%s' is given twice", argv[i]);
		if (k->type == KW_FLAG) {
			json_object_set_new(obj, k->key, json_true());
			continue;
		}
		if (i + 1 >= argc)
			return ctl_usage_err(self, "'%s' needs a value", argv[i]);
		v = argv[++i];
		switch (k->type) {
		case KW_UINT:
			if (parse_num(v, &n) < 0)
				return ctl_usage_err(self, "%s: '%s' is not a number", k->word, v);
			json_object_set_new(obj, k->key, json_integer((json_int_t)n));
			break;
		case KW_ENUM: {
			bool ok = false;
			char list[128] = "";

			for (unsigned int j = 0; k->values[j] != NULL; j++) {
				ok = ok || strcmp(k->values[j], v) == 0;
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
					 j ? " or " : "", k->values[j]);
			}
			if (!ok)
				return ctl_usage_err(self, "%s: '%s' is not %s", k->word, v, list);
			json_object_set_new(obj, k->key, json_string(v));
			break;
		}
		default:
			json_object_set_new(obj, k->key, json_string(v));
			break;
		}
	}
	return CTL_EXIT_OK;
}

/* Check the count of positional arguments; an exit status. */
static int
want_args(const struct ctl_cmd *self, int argc, char **argv, int min, int max, const char *first)
{
	if (argc < min)
		return ctl_usage_err(self, "missing %s", first ? first : "an argument");
	if (max >= 0 && argc > max)
		return ctl_usage_err(self, "unexpected argument '%s'", argv[max]);
	return CTL_EXIT_OK;
}

/* Split ADDRESS/LENGTH into escaped path segments "ADDRESS/LENGTH"; an exit status. */
static int
prefix_path(const struct ctl_cmd *self, const char *pfx, char *out, size_t n)
{
	const char *slash = strchr(pfx, '/');
	char addr[128], ea[SEG_MAX], el[SEG_MAX];

	if (slash == NULL || slash == pfx || slash[1] == '\0' || strchr(slash + 1, '/') != NULL ||
	    (size_t)(slash - pfx) >= sizeof(addr))
		return ctl_usage_err(self, "'%s' is not a prefix (ADDRESS/LENGTH)", pfx);
	memcpy(addr, pfx, (size_t)(slash - pfx));
	addr[slash - pfx] = '\0';
	http_escape(addr, ea, sizeof(ea));
	http_escape(slash + 1, el, sizeof(el));
	snprintf(out, n, "%s/%s", ea, el);
	return CTL_EXIT_OK;
}

/* ---- printing ------------------------------------------------------------------------------- */

/* Member @k of @o as text in @buf. */
static const char *
f(json_t *o, const char *k, char *buf, size_t n)
{
	return out_scalar(json_object_get(o, k), buf, n);
}

#define F(o, k, b) f((o), (k), (b), sizeof(b))

/* Networks as a table. */
static void
print_networks(json_t *a)
{
	static const char *const h[] = {"name", "fragments", "ip-options", ">interfaces", ">routes"};
	struct table *t = table_new(5, h);
	size_t i;
	json_t *n;

	json_array_foreach(a, i, n) {
		char b[5][256];
		const char *row[] = {F(n, "name", b[0]), F(n, "fragments", b[1]),
				     F(n, "ip_options", b[2]), F(n, "interfaces", b[3]),
				     F(n, "routes", b[4])};

		table_row(t, row);
	}
	table_print(t);
}

/* Ports as a table, with their interface's network, MAC, MTU and packets. */
static void
print_ports(json_t *a)
{
	static const char *const h[] = {"name", ">ethdev", "network", "mac", ">mtu",
					">rx-packets", ">tx-packets", "vlans", "device"};
	struct table *t = table_new(9, h);
	size_t i;
	json_t *p;

	json_array_foreach(a, i, p) {
		json_t *ifc = json_object_get(p, "interface"), *cnt = json_object_get(ifc, "counters");
		char b[9][1024];
		const char *row[] = {F(p, "name", b[0]),
				     F(p, "ethdev", b[1]),
				     F(ifc, "network", b[2]),
				     F(ifc, "mac", b[3]),
				     F(ifc, "mtu", b[4]),
				     F(cnt, "rx_packets", b[5]),
				     F(cnt, "tx_packets", b[6]),
				     out_join(json_object_get(p, "vlans"), ",", b[7], sizeof(b[7])),
				     F(p, "device", b[8])};

		table_row(t, row);
	}
	table_print(t);
}

/* Interfaces as a table, addresses last. */
static void
print_interfaces(json_t *a)
{
	static const char *const h[] = {"name", "kind", "network", ">mtu", "mac",
					">rx-packets", ">tx-packets", ">drops", "addresses"};
	struct table *t = table_new(9, h);
	size_t i;
	json_t *ifc;

	json_array_foreach(a, i, ifc) {
		json_t *cnt = json_object_get(ifc, "counters");
		char b[9][256], a4[2048], a6[2048], addrs[4200];
		const char *row[9];

		out_join(json_object_get(ifc, "ipv4"), " ", a4, sizeof(a4));
		out_join(json_object_get(ifc, "ipv6"), " ", a6, sizeof(a6));
		snprintf(addrs, sizeof(addrs), "%s%s%s", a4, a4[0] && a6[0] ? " " : "", a6);
		row[0] = F(ifc, "name", b[0]);
		row[1] = F(ifc, "kind", b[1]);
		row[2] = F(ifc, "network", b[2]);
		row[3] = F(ifc, "mtu", b[3]);
		row[4] = F(ifc, "mac", b[4]);
		row[5] = F(cnt, "rx_packets", b[5]);
		row[6] = F(cnt, "tx_packets", b[6]);
		row[7] = F(cnt, "drops", b[7]);
		row[8] = addrs;
		table_row(t, row);
	}
	table_print(t);
}

/* Routes as a table. */
static void
print_routes(json_t *a)
{
	static const char *const h[] = {"network", "prefix", "via", "interface", "action"};
	struct table *t = table_new(5, h);
	size_t i;
	json_t *r;

	json_array_foreach(a, i, r) {
		char b[5][256];
		const char *row[] = {F(r, "network", b[0]), F(r, "prefix", b[1]), F(r, "via", b[2]),
				     F(r, "interface", b[3]), F(r, "action", b[4])};

		table_row(t, row);
	}
	table_print(t);
}

/* Neighbors as a table. */
static void
print_neighbors(json_t *a)
{
	static const char *const h[] = {"interface", "ip", "mac", "state", ">refs", ">held",
					">age-ms"};
	struct table *t = table_new(7, h);
	size_t i;
	json_t *n;

	json_array_foreach(a, i, n) {
		char b[7][256];
		const char *row[] = {F(n, "interface", b[0]), F(n, "ip", b[1]), F(n, "mac", b[2]),
				     F(n, "state", b[3]),     F(n, "refs", b[4]), F(n, "held", b[5]),
				     F(n, "age_ms", b[6])};

		table_row(t, row);
	}
	table_print(t);
}

/* Gateways as a table. */
static void
print_gateways(json_t *a)
{
	static const char *const h[] = {"name", "inside", "outside", "snat4", "snat6", "ipv6",
					">ports-free", ">published"};
	struct table *t = table_new(8, h);
	size_t i;
	json_t *g;

	json_array_foreach(a, i, g) {
		char b[8][256];
		json_t *sp = json_object_get(g, "snat_ports");
		const char *row[] = {F(g, "name", b[0]),  F(g, "inside", b[1]),
				     F(g, "outside", b[2]), F(g, "snat4", b[3]),
				     F(g, "snat6", b[4]),  F(g, "ipv6", b[5]),
				     F(sp, "free", b[6]),  b[7]};

		snprintf(b[7], sizeof(b[7]), "%zu", json_array_size(json_object_get(g, "publish")));
		table_row(t, row);
	}
	table_print(t);
}

/* NSM connections as a table. */
static void
print_connections(json_t *a)
{
	static const char *const h[] = {"id", "state", "service", "mechanism", "local", "remote",
					"expires"};
	struct table *t = table_new(7, h);
	size_t i;
	json_t *k;

	json_array_foreach(a, i, k) {
		char b[7][512];
		const char *row[7];

		out_conn_cells(k, b, row);
		table_row(t, row);
	}
	table_print(t);
}

/* GET @path and print it: @human for people, JSON with --json. */
static int
show(struct ctl *c, const char *path, void (*human)(json_t *))
{
	json_t *j;
	int rc = ctl_rest_json(c, "GET", path, NULL, &j);

	if (rc != CTL_EXIT_OK)
		return rc;
	if (c->json)
		out_json(j);
	else
		human(j);
	json_decref(j);
	return CTL_EXIT_OK;
}

/* Send a change (takes @body); prints the answer only with --json. */
static int
change(struct ctl *c, const char *method, const char *path, json_t *body)
{
	json_t *j;
	int rc = ctl_rest_json(c, method, path, body, &j);

	json_decref(body);
	if (rc == CTL_EXIT_OK && c->json && j != NULL)
		out_json(j);
	json_decref(j);
	return rc;
}

/* The path of one object: @collection/NAME with NAME escaped. */
static const char *
obj_path(const char *collection, const char *name, char *out, size_t n)
{
	char e[SEG_MAX];

	http_escape(name, e, sizeof(e));
	snprintf(out, n, "%s/%s", collection, e);
	return out;
}

/* ---- lists ---------------------------------------------------------------------------------- */

/* networks: list them. */
static int
cmd_networks(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	int rc = want_args(self, argc, argv, 0, 0, NULL);

	return rc ? rc : show(c, "/v1/networks", print_networks);
}

/* ports: list them. */
static int
cmd_ports(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	int rc = want_args(self, argc, argv, 0, 0, NULL);

	return rc ? rc : show(c, "/v1/ports", print_ports);
}

/* interfaces: list them. */
static int
cmd_interfaces(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	int rc = want_args(self, argc, argv, 0, 0, NULL);

	return rc ? rc : show(c, "/v1/interfaces", print_interfaces);
}

/* neighbors: list them. */
static int
cmd_neighbors(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	int rc = want_args(self, argc, argv, 0, 0, NULL);

	return rc ? rc : show(c, "/v1/neighbors", print_neighbors);
}

/* gateways: list them. */
static int
cmd_gateways(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	int rc = want_args(self, argc, argv, 0, 0, NULL);

	return rc ? rc : show(c, "/v1/gateways", print_gateways);
}

/* gateway show NAME. */
static int
cmd_gateway_show(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[PATH_MAX_LEN];
	int rc = want_args(self, argc, argv, 1, 1, "NAME");

	return rc ? rc : show(c, obj_path("/v1/gateways", argv[0], path, sizeof(path)), out_kv);
}

/* gateway add FILE|-: a gateway from a JSON file (the fields of a `gateways:` entry). */
static int
cmd_gateway_add(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	int rc = want_args(self, argc, argv, 1, 1, "FILE (a JSON gateway, or - for standard input)");
	json_t *j;

	if (rc != CTL_EXIT_OK)
		return rc;
	if ((j = ctl_load_json(self, argv[0])) == NULL)
		return CTL_EXIT_USAGE;
	return change(c, "POST", "/v1/gateways", j);
}

/* gateway set NAME FILE|-: create or replace gateway NAME. */
static int
cmd_gateway_set(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[PATH_MAX_LEN];
	int rc = want_args(self, argc, argv, 2, 2, argc < 1 ? "NAME" : "FILE");
	json_t *j;

	if (rc != CTL_EXIT_OK)
		return rc;
	if ((j = ctl_load_json(self, argv[1])) == NULL)
		return CTL_EXIT_USAGE;
	return change(c, "PUT", obj_path("/v1/gateways", argv[0], path, sizeof(path)), j);
}

/* gateway del NAME. */
static int
cmd_gateway_del(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[PATH_MAX_LEN];
	int rc = want_args(self, argc, argv, 1, 1, "NAME");

	if (rc != CTL_EXIT_OK)
		return rc;
	return change(c, "DELETE", obj_path("/v1/gateways", argv[0], path, sizeof(path)), NULL);
}

/* nat: the NAT counters. */
static int
cmd_nat(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	int rc = want_args(self, argc, argv, 0, 0, NULL);

	return rc ? rc : show(c, "/v1/nat", out_kv);
}

/* connections: list them. */
static int
cmd_connections(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	int rc = want_args(self, argc, argv, 0, 0, NULL);

	return rc ? rc : show(c, "/v1/connections", print_connections);
}

/* routes [network N]: list them, all or those of one network. */
static int
cmd_routes(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	static const struct kw kws[] = {{"network", "network", KW_STR, NULL}, {NULL, NULL, 0, NULL}};
	json_t *o = json_object();
	const char *net;
	char path[PATH_MAX_LEN], e[SEG_MAX];
	int rc = parse_kw(self, kws, argc, argv, o);

	if (rc == CTL_EXIT_OK) {
		net = json_string_value(json_object_get(o, "network"));
		if (net != NULL) {
			http_escape(net, e, sizeof(e));
			snprintf(path, sizeof(path), "/v1/routes?network=%s", e);
		} else {
			snprintf(path, sizeof(path), "/v1/routes");
		}
		rc = show(c, path, print_routes);
	}
	json_decref(o);
	return rc;
}

/* ---- networks ------------------------------------------------------------------------------- */

/* network show NAME. */
static int
cmd_network_show(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[PATH_MAX_LEN];
	int rc = want_args(self, argc, argv, 1, 1, "NAME");

	return rc ? rc : show(c, obj_path("/v1/networks", argv[0], path, sizeof(path)), out_kv);
}

/* network add NAME [fragments forward|drop] [ip-options forward|drop]. */
static int
cmd_network_add(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	static const struct kw kws[] = {{"fragments", "fragments", KW_ENUM, policies},
					{"ip-options", "ip_options", KW_ENUM, policies},
					{NULL, NULL, 0, NULL}};
	json_t *o;
	int rc = want_args(self, argc, argv, 1, -1, "NAME");

	if (rc != CTL_EXIT_OK)
		return rc;
	o = json_pack("{s:s}", "name", argv[0]);
	rc = parse_kw(self, kws, argc - 1, argv + 1, o);
	if (rc != CTL_EXIT_OK) {
		json_decref(o);
		return rc;
	}
	return change(c, "POST", "/v1/networks", o);
}

/* network del NAME. */
static int
cmd_network_del(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[PATH_MAX_LEN];
	int rc = want_args(self, argc, argv, 1, 1, "NAME");

	if (rc != CTL_EXIT_OK)
		return rc;
	return change(c, "DELETE", obj_path("/v1/networks", argv[0], path, sizeof(path)), NULL);
}

/* ---- ports ---------------------------------------------------------------------------------- */

/* port show NAME. */
static int
cmd_port_show(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[PATH_MAX_LEN];
	int rc = want_args(self, argc, argv, 1, 1, "NAME");

	return rc ? rc : show(c, obj_path("/v1/ports", argv[0], path, sizeof(path)), out_kv);
}

/* port add NAME DEVICE [network N] [mac M] [mtu N] [queue and descriptor counts] [promisc]. */
static int
cmd_port_add(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	static const struct kw kws[] = {{"network", "network", KW_STR, NULL},
					{"mac", "mac", KW_STR, NULL},
					{"mtu", "mtu", KW_UINT, NULL},
					{"rx-queues", "rx_queues", KW_UINT, NULL},
					{"rx-desc", "rx_desc", KW_UINT, NULL},
					{"tx-desc", "tx_desc", KW_UINT, NULL},
					{"promisc", "promiscuous", KW_FLAG, NULL},
					{NULL, NULL, 0, NULL}};
	json_t *o;
	int rc = want_args(self, argc, argv, 2, -1, argc < 1 ? "NAME" : "DEVICE");

	if (rc != CTL_EXIT_OK)
		return rc;
	o = json_pack("{s:s,s:s}", "name", argv[0], "device", argv[1]);
	rc = parse_kw(self, kws, argc - 2, argv + 2, o);
	if (rc != CTL_EXIT_OK) {
		json_decref(o);
		return rc;
	}
	return change(c, "POST", "/v1/ports", o);
}

/* port del NAME. */
static int
cmd_port_del(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[PATH_MAX_LEN];
	int rc = want_args(self, argc, argv, 1, 1, "NAME");

	if (rc != CTL_EXIT_OK)
		return rc;
	return change(c, "DELETE", obj_path("/v1/ports", argv[0], path, sizeof(path)), NULL);
}

/* ---- interfaces, VLANs, addresses ------------------------------------------------------ */

/* interface show NAME. */
static int
cmd_interface_show(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[PATH_MAX_LEN];
	int rc = want_args(self, argc, argv, 1, 1, "NAME");

	return rc ? rc : show(c, obj_path("/v1/interfaces", argv[0], path, sizeof(path)), out_kv);
}

/* vlan add PORT ID [network N] [mtu N]: the sub-interface PORT.ID. */
static int
cmd_vlan_add(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	static const struct kw kws[] = {{"network", "network", KW_STR, NULL},
					{"mtu", "mtu", KW_UINT, NULL},
					{NULL, NULL, 0, NULL}};
	unsigned long long id;
	json_t *o;
	int rc = want_args(self, argc, argv, 2, -1, argc < 1 ? "PORT" : "ID");

	if (rc != CTL_EXIT_OK)
		return rc;
	if (parse_num(argv[1], &id) < 0)
		return ctl_usage_err(self, "'%s' is not a VLAN id (a number, 1-4094)", argv[1]);
	o = json_pack("{s:s,s:I}", "port", argv[0], "vlan", (json_int_t)id);
	rc = parse_kw(self, kws, argc - 2, argv + 2, o);
	if (rc != CTL_EXIT_OK) {
		json_decref(o);
		return rc;
	}
	return change(c, "POST", "/v1/interfaces", o);
}

/* vlan del PORT.ID (or PORT ID). */
static int
cmd_vlan_del(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char name[512], path[PATH_MAX_LEN];
	unsigned long long id;
	const char *dot;
	int rc = want_args(self, argc, argv, 1, 2, "PORT.ID");

	if (rc != CTL_EXIT_OK)
		return rc;
	if (argc == 2) {
		if (parse_num(argv[1], &id) < 0)
			return ctl_usage_err(self, "'%s' is not a VLAN id (a number, 1-4094)", argv[1]);
		snprintf(name, sizeof(name), "%s.%llu", argv[0], id);
	} else {
		dot = strrchr(argv[0], '.');
		if (dot == NULL || dot == argv[0] || parse_num(dot + 1, &id) < 0)
			return ctl_usage_err(self, "'%s' is not PORT.ID (like a.100)", argv[0]);
		snprintf(name, sizeof(name), "%s", argv[0]);
	}
	return change(c, "DELETE", obj_path("/v1/interfaces", name, path, sizeof(path)), NULL);
}

/* address add IFACE PREFIX. */
static int
cmd_address_add(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[PATH_MAX_LEN], base[PATH_MAX_LEN];
	int rc = want_args(self, argc, argv, 2, 2, argc < 1 ? "IFACE" : "PREFIX");

	if (rc != CTL_EXIT_OK)
		return rc;
	snprintf(path, sizeof(path), "%s/addresses",
		 obj_path("/v1/interfaces", argv[0], base, sizeof(base)));
	return change(c, "POST", path, json_pack("{s:s}", "address", argv[1]));
}

/* address del IFACE ADDRESS[/LEN]. */
static int
cmd_address_del(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[PATH_MAX_LEN], base[PATH_MAX_LEN], addr[SEG_MAX];
	int rc = want_args(self, argc, argv, 2, 2, argc < 1 ? "IFACE" : "ADDRESS");

	if (rc != CTL_EXIT_OK)
		return rc;
	obj_path("/v1/interfaces", argv[0], base, sizeof(base));
	if (strchr(argv[1], '/') != NULL) {
		rc = prefix_path(self, argv[1], addr, sizeof(addr));
		if (rc != CTL_EXIT_OK)
			return rc;
	} else {
		http_escape(argv[1], addr, sizeof(addr));
	}
	snprintf(path, sizeof(path), "%s/addresses/%s", base, addr);
	return change(c, "DELETE", path, NULL);
}

/* ---- routes --------------------------------------------------------------------------------- */

static const struct kw route_kws[] = {{"via", "via", KW_STR, NULL},
				      {"dev", "interface", KW_STR, NULL},
				      {"network", "network", KW_STR, NULL},
				      {NULL, NULL, 0, NULL}};

/* A route action word (drop also as "blackhole"), or NULL. */
static const char *
route_action(const char *w)
{
	static const char *const words[][2] = {{"forward", "forward"}, {"drop", "drop"},
					       {"blackhole", "drop"},    {"unreachable", "unreachable"},
					       {"prohibit", "prohibit"}};

	for (unsigned int i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(w, words[i][0]) == 0)
			return words[i][1];
	return NULL;
}

/* True if @w is one of the keyword words of @kws. */
static bool
is_kw(const struct kw *kws, const char *w)
{
	for (unsigned int i = 0; kws[i].word != NULL; i++)
		if (strcmp(kws[i].word, w) == 0)
			return true;
	return false;
}

/* PREFIX, then keywords and (with @actions) one action word, into a route body; an exit status. */
static int
route_body(const struct ctl_cmd *self, const struct kw *kws, bool actions, int argc, char **argv,
	   json_t **out)
{
	json_t *o;
	char **rest;
	int n = 0, rc;

	*out = NULL;
	rc = want_args(self, argc, argv, 1, -1, "PREFIX");
	if (rc != CTL_EXIT_OK)
		return rc;
	o = json_pack("{s:s}", "prefix", argv[0]);
	rest = calloc((unsigned int)argc, sizeof(*rest)); /* argc >= 1 (want_args) */
	if (o == NULL || rest == NULL) {
		json_decref(o);
		free(rest);
		return CTL_EXIT_USAGE;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = route_action(argv[i]);

		if (is_kw(kws, argv[i])) {
			/* The keyword and its value (which may be any word, even "drop"). */
			rest[n++] = argv[i];
			if (i + 1 < argc)
				rest[n++] = argv[++i];
		} else if (a != NULL && actions) {
			if (json_object_get(o, "action") != NULL) {
				rc = ctl_usage_err(self, "a second action '%s'", argv[i]);
				goto out;
			}
			json_object_set_new(o, "action", json_string(a));
		} else {
			rest[n++] = argv[i];
		}
	}
	rc = parse_kw(self, kws, n, rest, o);
out:
	free(rest);
	if (rc != CTL_EXIT_OK) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return CTL_EXIT_OK;
}

/* The network a route is in: given, else its interface's, else "default"; an exit status. */
static int
route_network(struct ctl *c, json_t *route, char *out, size_t n)
{
	const char *net = json_string_value(json_object_get(route, "network"));
	const char *dev = json_string_value(json_object_get(route, "interface"));
	char path[PATH_MAX_LEN];
	json_t *ifc;
	int rc;

	if (net != NULL) {
		snprintf(out, n, "%s", net);
		return CTL_EXIT_OK;
	}
	if (dev == NULL) {
		snprintf(out, n, "default");
		return CTL_EXIT_OK;
	}
	/* As the gateway decides for an add: the network of the route's interface. */
	rc = ctl_rest_json(c, "GET", obj_path("/v1/interfaces", dev, path, sizeof(path)), NULL, &ifc);
	if (rc != CTL_EXIT_OK)
		return rc;
	snprintf(out, n, "%s", json_string_value(json_object_get(ifc, "network")) ?: "default");
	json_decref(ifc);
	return CTL_EXIT_OK;
}

/* /v1/routes/NETWORK/ADDRESS/LENGTH for @route; an exit status. */
static int
route_path(struct ctl *c, const struct ctl_cmd *self, json_t *route, char *out, size_t n)
{
	char net[256], enet[SEG_MAX], pfx[2 * SEG_MAX];
	int rc = prefix_path(self, json_string_value(json_object_get(route, "prefix")), pfx,
			     sizeof(pfx));

	if (rc == CTL_EXIT_OK)
		rc = route_network(c, route, net, sizeof(net));
	if (rc != CTL_EXIT_OK)
		return rc;
	http_escape(net, enet, sizeof(enet));
	snprintf(out, n, "/v1/routes/%s/%s", enet, pfx);
	return CTL_EXIT_OK;
}

/* route add PREFIX [via IP] [dev IFACE] [network N] [ACTION]. */
static int
cmd_route_add(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	json_t *o;
	int rc = route_body(self, route_kws, true, argc, argv, &o);

	return rc ? rc : change(c, "POST", "/v1/routes", o);
}

/* route replace PREFIX ...: PUT, which adds the route when it is not there yet. */
static int
cmd_route_replace(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[PATH_MAX_LEN];
	json_t *o;
	int rc = route_body(self, route_kws, true, argc, argv, &o);

	if (rc == CTL_EXIT_OK)
		rc = route_path(c, self, o, path, sizeof(path));
	if (rc != CTL_EXIT_OK) {
		json_decref(o);
		return rc;
	}
	/* PUT adds the route when it is not there yet, as "ip route replace" does. */
	return change(c, "PUT", path, o);
}

/* route del PREFIX [network N] [dev IFACE]. */
static int
cmd_route_del(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	static const struct kw kws[] = {{"network", "network", KW_STR, NULL},
					{"dev", "interface", KW_STR, NULL},
					{NULL, NULL, 0, NULL}};
	char path[PATH_MAX_LEN];
	json_t *o;
	int rc = route_body(self, kws, false, argc, argv, &o);

	if (rc == CTL_EXIT_OK)
		rc = route_path(c, self, o, path, sizeof(path));
	json_decref(o);
	return rc ? rc : change(c, "DELETE", path, NULL);
}

/* route show PREFIX [network N], or route show NETWORK PREFIX. */
static int
cmd_route_show(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	static const struct kw kws[] = {{"network", "network", KW_STR, NULL}, {NULL, NULL, 0, NULL}};
	char path[PATH_MAX_LEN];
	json_t *o = NULL;
	int rc;

	/* "route show NETWORK PREFIX" as well as "route show PREFIX [network N]". */
	if (argc == 2 && strchr(argv[0], '/') == NULL && strchr(argv[1], '/') != NULL) {
		o = json_pack("{s:s,s:s}", "prefix", argv[1], "network", argv[0]);
		rc = CTL_EXIT_OK;
	} else {
		rc = want_args(self, argc, argv, 1, -1, "PREFIX");
		if (rc == CTL_EXIT_OK) {
			o = json_pack("{s:s}", "prefix", argv[0]);
			rc = parse_kw(self, kws, argc - 1, argv + 1, o);
		}
	}
	if (rc == CTL_EXIT_OK)
		rc = route_path(c, self, o, path, sizeof(path));
	json_decref(o);
	return rc ? rc : show(c, path, out_kv);
}

/* ---- neighbors ---------------------------------------------------------------------------- */

/* neighbor add IFACE IP MAC: a static neighbor. */
static int
cmd_neighbor_add(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	static const char *const what[] = {"IFACE", "IP", "MAC"};
	int rc = want_args(self, argc, argv, 3, 3, what[argc < 3 ? argc : 2]);

	if (rc != CTL_EXIT_OK)
		return rc;
	return change(c, "POST", "/v1/neighbors",
		      json_pack("{s:s,s:s,s:s}", "interface", argv[0], "ip", argv[1], "mac", argv[2]));
}

/* neighbor del IFACE IP [MAC]. */
static int
cmd_neighbor_del(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[PATH_MAX_LEN], base[PATH_MAX_LEN], ip[SEG_MAX];
	/* A MAC may follow (the same words as the add); it is not needed. */
	int rc = want_args(self, argc, argv, 2, 3, argc < 1 ? "IFACE" : "IP");

	if (rc != CTL_EXIT_OK)
		return rc;
	obj_path("/v1/neighbors", argv[0], base, sizeof(base));
	http_escape(argv[1], ip, sizeof(ip));
	snprintf(path, sizeof(path), "%s/%s", base, ip);
	return change(c, "DELETE", path, NULL);
}

/* ---- connections, batches, metrics, raw ------------------------------------------------ */

/* connection show ID. */
static int
cmd_connection_show(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[PATH_MAX_LEN];
	int rc = want_args(self, argc, argv, 1, 1, "ID");

	return rc ? rc : show(c, obj_path("/v1/connections", argv[0], path, sizeof(path)), out_kv);
}

/* connection close ID, over REST (DELETE). */
static int
cmd_connection_close(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[PATH_MAX_LEN];
	int rc = want_args(self, argc, argv, 1, 1, "ID");

	return rc ? rc
		  : change(c, "DELETE", obj_path("/v1/connections", argv[0], path, sizeof(path)),
			   NULL);
}

/* batch FILE|-: operations applied in one transaction. */
static int
cmd_batch(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	json_t *j, *res;
	int rc = want_args(self, argc, argv, 1, 1, "FILE (or - for standard input)");

	if (rc != CTL_EXIT_OK)
		return rc;
	j = ctl_load_json(self, argv[0]);
	if (j == NULL)
		return CTL_EXIT_USAGE;
	/* A bare list of operations is the body's one member. */
	if (json_is_array(j))
		j = json_pack("{s:o}", "operations", j);
	rc = ctl_rest_json(c, "POST", "/v1/batch", j, &res);
	json_decref(j);
	if (rc != CTL_EXIT_OK)
		return rc;
	if (c->json) {
		out_json(res);
	} else {
		json_int_t n = json_integer_value(json_object_get(res, "applied"));

		printf("applied %" JSON_INTEGER_FORMAT " operation%s\n", n, n == 1 ? "" : "s");
	}
	json_decref(res);
	return CTL_EXIT_OK;
}

/* metrics: the Prometheus text as served. */
static int
cmd_metrics(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	struct http_resp r;
	int rc = want_args(self, argc, argv, 0, 0, NULL);

	if (rc == CTL_EXIT_OK)
		rc = ctl_rest(c, "GET", "/metrics", NULL, 0, &r);
	if (rc != CTL_EXIT_OK)
		return rc;
	fwrite(r.body, 1, r.len, stdout);
	http_resp_free(&r);
	return CTL_EXIT_OK;
}

/* rest METHOD PATH [BODY|@FILE|-]: any request, the answer printed as it came. */
static int
cmd_rest(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};
	const char *method = NULL;
	char *body = NULL;
	size_t blen = 0;
	struct http_resp r;
	int rc = want_args(self, argc, argv, 2, 3, argc < 1 ? "METHOD" : "PATH");

	if (rc != CTL_EXIT_OK)
		return rc;
	for (unsigned int i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcasecmp(argv[0], methods[i]) == 0)
			method = methods[i];
	if (method == NULL)
		return ctl_usage_err(self, "'%s' is not GET, POST, PUT or DELETE", argv[0]);
	if (argv[1][0] != '/')
		return ctl_usage_err(self, "'%s' is not a path (like /v1/networks)", argv[1]);
	if (argc == 3) {
		/* BODY: the text itself, @FILE, or - for standard input. */
		if (strcmp(argv[2], "-") == 0 || argv[2][0] == '@') {
			const char *file = argv[2][0] == '@' ? argv[2] + 1 : "-";

			body = ctl_read_file(file, &blen);
			if (body == NULL) {
				ctl_err("rest: cannot read %s: %s",
					strcmp(file, "-") ? file : "standard input", strerror(errno));
				return CTL_EXIT_USAGE;
			}
		} else {
			body = strdup(argv[2]);
			blen = body ? strlen(body) : 0;
		}
	}
	rc = ctl_rest(c, method, argv[1], body, blen, &r);
	mg_free_wiped(body); /* a body may hold keys (POST /v1/wireguard) */
	if (rc != CTL_EXIT_OK)
		return rc;
	if (r.len > 0)
		out_raw(r.body, r.len);
	http_resp_free(&r);
	return CTL_EXIT_OK;
}

static const struct ctl_cmd cmds[] = {
	{"networks", NULL, cmd_networks, "", "list networks"},
	{"network", "list", cmd_networks, "", NULL},
	{"network", "show", cmd_network_show, "NAME", "one network"},
	{"network", "add", cmd_network_add, "NAME [fragments forward|drop] [ip-options forward|drop]",
	 "add a network (routing domain)"},
	{"network", "del", cmd_network_del, "NAME", "delete a network"},
	{"network", "delete", cmd_network_del, "NAME", NULL},
	{"ports", NULL, cmd_ports, "", "list ports"},
	{"port", "list", cmd_ports, "", NULL},
	{"port", "show", cmd_port_show, "NAME", "one port, its interface and counters"},
	{"port", "add", cmd_port_add,
	 "NAME DEVICE [network N] [mac M] [mtu N] [rx-queues N] [rx-desc N] [tx-desc N] [promisc]",
	 "add a port on a DPDK device"},
	{"port", "del", cmd_port_del, "NAME", "delete a port (and its VLANs)"},
	{"port", "delete", cmd_port_del, "NAME", NULL},
	{"interfaces", NULL, cmd_interfaces, "", "list interfaces (ports and VLANs) with addresses"},
	{"interface", "list", cmd_interfaces, "", NULL},
	{"interface", "show", cmd_interface_show, "NAME", "one interface"},
	{"vlan", "add", cmd_vlan_add, "PORT ID [network N] [mtu N]", "add VLAN sub-interface PORT.ID"},
	{"vlan", "del", cmd_vlan_del, "PORT.ID", "delete a VLAN sub-interface"},
	{"vlan", "delete", cmd_vlan_del, "PORT.ID", NULL},
	{"address", "add", cmd_address_add, "IFACE PREFIX", "add an address (10.0.0.1/24, fd00::1/64)"},
	{"address", "del", cmd_address_del, "IFACE ADDRESS[/LEN]", "delete an address"},
	{"address", "delete", cmd_address_del, "IFACE ADDRESS[/LEN]", NULL},
	{"routes", NULL, cmd_routes, "[network N]", "list routes"},
	{"route", "list", cmd_routes, "[network N]", NULL},
	{"route", "show", cmd_route_show, "PREFIX [network N] | NETWORK PREFIX", "one route"},
	{"route", "add", cmd_route_add,
	 "PREFIX [via IP] [dev IFACE] [network N] [drop|unreachable|prohibit]", "add a route"},
	{"route", "replace", cmd_route_replace,
	 "PREFIX [via IP] [dev IFACE] [network N] [drop|unreachable|prohibit]",
	 "replace a route (or add it)"},
	{"route", "del", cmd_route_del, "PREFIX [network N] [dev IFACE]", "delete a route"},
	{"route", "delete", cmd_route_del, "PREFIX [network N] [dev IFACE]", NULL},
	{"neighbors", NULL, cmd_neighbors, "", "list neighbors (ARP/ND)"},
	{"neighbor", "list", cmd_neighbors, "", NULL},
	{"neighbor", "add", cmd_neighbor_add, "IFACE IP MAC", "add a static neighbor"},
	{"neighbor", "del", cmd_neighbor_del, "IFACE IP", "delete a static neighbor"},
	{"neighbor", "delete", cmd_neighbor_del, "IFACE IP", NULL},
	{"gateways", NULL, cmd_gateways, "", "list dual-homed gateways (NAT)"},
	{"gateway", "list", cmd_gateways, "", NULL},
	{"gateway", "show", cmd_gateway_show, "NAME", "one gateway: routes, SNAT ports, published"},
	{"gateway", "add", cmd_gateway_add, "FILE|-", "add a gateway from a JSON file"},
	{"gateway", "set", cmd_gateway_set, "NAME FILE|-",
	 "create or replace a gateway (its sessions go on if the translation is kept)"},
	{"gateway", "del", cmd_gateway_del, "NAME", "delete a gateway (its sessions end)"},
	{"gateway", "delete", cmd_gateway_del, "NAME", NULL},
	{"nat", NULL, cmd_nat, "", "NAT counters (flows, translations, drops)"},
	{"connections", NULL, cmd_connections, "", "list NSM connections"},
	{"connection", "list", cmd_connections, "", NULL},
	{"connection", "show", cmd_connection_show, "ID", "one connection (tokens left out)"},
	{"connection", "close", cmd_connection_close, "ID", "close a connection"},
	{"batch", NULL, cmd_batch, "FILE|-",
	 "apply {\"operations\": [...]} (or a bare list) atomically"},
	{"metrics", NULL, cmd_metrics, "", "Prometheus metrics, as served"},
	{"rest", NULL, cmd_rest, "GET|POST|PUT|DELETE PATH [BODY|@FILE|-]",
	 "any REST request; prints the answer as it came"},
	{NULL, NULL, NULL, NULL, NULL},
};

const struct ctl_cmd *
ctl_rest_cmds(void)
{
	return cmds;
}
