/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The model's rules: references, conflicts, what may be deleted, and its
 * contract with the backend (a refused change leaves the model untouched;
 * replay goes in dependency order).
 */
#include <errno.h>

#include "mg_model.h"
#include "mg_rules.h"
#include "mg_test.h"
#include "mg_txn.h"

/* A backend that records calls and refuses the ones it is told to. */
struct rec {
	char log[4096];
	const char *refuse; /* call name to refuse */
	unsigned int skip;  /* calls of that name to accept first */
	bool once;          /* refuse one call only */
};

static int
rec_add(struct rec *r, const char *what, struct mg_error *err)
{
	strncat(r->log, what, sizeof(r->log) - strlen(r->log) - 2);
	strcat(r->log, " ");
	if (r->refuse && strcmp(r->refuse, what) == 0) {
		if (r->skip > 0) {
			r->skip--;
			return 0;
		}
		if (r->once)
			r->refuse = NULL;
		return mg_error_set(err, ENOSPC, "", "backend refused %s", what);
	}
	return 0;
}

static int b_net(void *c, const struct mg_network *n, struct mg_error *e) { return rec_add(c, "net", e); }
static int b_port(void *c, struct mg_port *p, struct mg_iface *i, struct mg_error *e) { return rec_add(c, "port", e); }
static int b_iface(void *c, const struct mg_iface *i, struct mg_error *e) { return rec_add(c, "vlan", e); }
static int b_addr(void *c, const struct mg_iface *i, const struct mg_prefix *a, struct mg_error *e) { return rec_add(c, "addr", e); }
static int b_route(void *c, struct mg_route *r, struct mg_error *e) { return rec_add(c, "route", e); }
static int b_neigh(void *c, const struct mg_neigh *n, struct mg_error *e) { return rec_add(c, "neigh", e); }
static void b_route_del(void *c, const struct mg_route *r) { rec_add(c, "route-del", NULL); }
static void b_addr_del(void *c, const struct mg_iface *i, const struct mg_prefix *a) { rec_add(c, "addr-del", NULL); }

static struct mg_model *
model(void)
{
	struct mg_model_limits lim = {.routes = 4, .neighbors = 4};
	struct mg_model *m = mg_model_create(&lim);
	struct mg_network_spec n = {.name = "default"};
	struct mg_port_spec p = {.name = "p0", .device = "net_null0"};
	struct mg_addr_spec a = {.iface = "p0"};

	mg_model_network_add(m, &n, NULL);
	mg_model_port_add(m, &p, "test", NULL);
	mg_prefix_parse("10.0.0.1/24", &a.prefix);
	mg_model_addr_add(m, &a, NULL);
	mg_prefix_parse("fd00::1/64", &a.prefix);
	mg_model_addr_add(m, &a, NULL);
	return m;
}

static int
route(struct mg_model *m, const char *prefix, const char *via, struct mg_error *e)
{
	struct mg_route_spec r;

	memset(&r, 0, sizeof(r));
	mg_prefix_parse(prefix, &r.prefix);
	if (via)
		mg_ip_parse(via, &r.via);
	return mg_model_route_add(m, &r, e);
}

MG_TEST(route_add_find_delete)
{
	struct mg_model *m = model();
	struct mg_error e;
	struct mg_prefix p;

	CHECK_EQ(route(m, "10.9.0.0/16", "10.0.0.2", &e), 0);
	mg_prefix_parse("10.9.0.0/16", &p);
	CHECK(mg_model_route_find(m, 0, &p) != NULL);
	CHECK_EQ(mg_model_route_count(m), 1);
	CHECK_EQ(mg_model_route_del(m, "default", &p, &e), 0);
	CHECK(mg_model_route_find(m, 0, &p) == NULL);
	CHECK_EQ(mg_model_route_del(m, "default", &p, &e), -ENOENT);
	CHECK_STR(e.msg, "no route to 10.9.0.0/16 in network 'default'");
	mg_model_destroy(m);
}

MG_TEST(route_limit)
{
	struct mg_model *m = model();
	struct mg_error e;

	CHECK_EQ(route(m, "10.1.0.0/16", "10.0.0.2", &e), 0);
	CHECK_EQ(route(m, "10.2.0.0/16", "10.0.0.2", &e), 0);
	CHECK_EQ(route(m, "10.3.0.0/16", "10.0.0.2", &e), 0);
	CHECK_EQ(route(m, "10.4.0.0/16", "10.0.0.2", &e), 0);
	CHECK_EQ(route(m, "10.5.0.0/16", "10.0.0.2", &e), -ENOSPC);
	CHECK_STR(e.msg, "the static route table is full (limits.routes = 4)");
	CHECK_STR(e.field, "prefix");
	mg_model_destroy(m);
}

MG_TEST(route_conflicts_with_connected)
{
	struct mg_model *m = model();
	struct mg_error e;

	CHECK_EQ(route(m, "10.0.0.0/24", "10.0.0.2", &e), -EEXIST);
	CHECK_STR(e.msg, "10.0.0.0/24 is a connected subnet or address of interface 'p0'");
	CHECK_EQ(route(m, "10.0.0.1/32", "10.0.0.2", &e), -EEXIST);
	mg_model_destroy(m);
}

MG_TEST(address_in_use_cannot_go)
{
	struct mg_model *m = model();
	struct mg_error e;
	struct mg_addr_spec a = {.iface = "p0"};

	CHECK_EQ(route(m, "0.0.0.0/0", "10.0.0.254", &e), 0);
	mg_prefix_parse("10.0.0.1/24", &a.prefix);
	CHECK_EQ(mg_model_addr_del(m, &a, &e), -EBUSY);
	CHECK_STR(e.msg, "subnet 10.0.0.0/24 of 'p0' is still used by route 0.0.0.0/0 via 10.0.0.254");
	mg_prefix_parse("fd00::1/64", &a.prefix);
	CHECK_EQ(mg_model_addr_del(m, &a, &e), 0);
	CHECK_EQ(mg_model_iface_find(m, "p0")->naddr6, 0);
	mg_model_destroy(m);
}

MG_TEST(port_with_vlans_cannot_go)
{
	struct mg_model *m = model();
	struct mg_error e;
	struct mg_vlan_spec v = {.port = "p0", .vlan = 10};

	CHECK_EQ(mg_model_vlan_add(m, &v, &e), 0);
	CHECK(mg_model_iface_find(m, "p0.10") != NULL);
	CHECK_EQ(mg_model_vlan_add(m, &v, &e), -EEXIST);
	CHECK_EQ(mg_model_port_del(m, "p0", &e), -EBUSY);
	CHECK_STR(e.msg, "port 'p0' still has 1 VLAN(s)");
	CHECK_EQ(mg_model_vlan_del(m, "p0.10", &e), 0);
	CHECK_EQ(mg_model_port_del(m, "p0", &e), 0);
	CHECK(mg_model_iface_find(m, "p0") == NULL);
	CHECK_EQ(mg_model_network_del(m, "default", &e), 0);
	mg_model_destroy(m);
}

MG_TEST(network_in_use_cannot_go)
{
	struct mg_model *m = model();
	struct mg_error e;

	CHECK_EQ(mg_model_network_del(m, "default", &e), -EBUSY);
	CHECK_STR(e.msg, "network 'default' still has 1 interface(s)");
	mg_model_destroy(m);
}

MG_TEST(refused_by_backend_changes_nothing)
{
	struct mg_model *m = model();
	struct rec r = {.refuse = "route"};
	struct mg_model_backend be = {.ctx = &r, .route_add = b_route};
	struct mg_prefix p;
	struct mg_error e;

	mg_model_set_backend(m, &be);
	CHECK_EQ(route(m, "10.9.0.0/16", "10.0.0.2", &e), -ENOSPC);
	CHECK_STR(e.msg, "backend refused route");
	mg_prefix_parse("10.9.0.0/16", &p);
	CHECK(mg_model_route_find(m, 0, &p) == NULL);
	CHECK_EQ(mg_model_route_count(m), 0);
	r.refuse = NULL;
	CHECK_EQ(route(m, "10.9.0.0/16", "10.0.0.2", &e), 0);
	CHECK_EQ(mg_model_route_count(m), 1);
	mg_model_destroy(m);
}

MG_TEST(replay_in_dependency_order)
{
	struct mg_model *m = model();
	struct rec r = {.refuse = NULL};
	struct mg_model_backend be = {.ctx = &r, .network_add = b_net, .port_add = b_port,
				      .iface_add = b_iface, .addr_add = b_addr,
				      .route_add = b_route, .neigh_add = b_neigh,
				      .route_del = b_route_del, .addr_del = b_addr_del};
	struct mg_vlan_spec v = {.port = "p0", .vlan = 10};
	struct mg_neigh_spec nb = {.iface = "p0"};
	struct mg_error e;

	mg_model_vlan_add(m, &v, &e);
	CHECK_EQ(route(m, "10.9.0.0/16", "10.0.0.2", &e), 0);
	mg_ip_parse("10.0.0.3", &nb.ip);
	mg_mac_parse("02:00:00:00:00:03", &nb.mac);
	CHECK_EQ(mg_model_neigh_add(m, &nb, &e), 0);
	mg_model_set_backend(m, &be);
	CHECK_EQ(mg_model_replay(m, &e), 0);
	CHECK_STR(r.log, "net port vlan addr addr neigh route ");
	mg_model_destroy(m);
}

MG_TEST(neighbor_rules)
{
	struct mg_model *m = model();
	struct mg_neigh_spec nb = {.iface = "p0"};
	struct mg_error e;

	mg_ip_parse("10.0.0.1", &nb.ip);
	mg_mac_parse("02:00:00:00:00:03", &nb.mac);
	CHECK_EQ(mg_model_neigh_add(m, &nb, &e), -EINVAL);
	CHECK_STR(e.msg, "10.0.0.1 is one of this gateway's own addresses");
	mg_ip_parse("fe80::9", &nb.ip); /* link-local: always on-link */
	CHECK_EQ(mg_model_neigh_add(m, &nb, &e), 0);
	CHECK_EQ(mg_model_neigh_add(m, &nb, &e), -EEXIST);
	CHECK_EQ(mg_model_neigh_del(m, "p0", &nb.ip, &e), 0);
	CHECK_EQ(mg_model_neigh_del(m, "p0", &nb.ip, &e), -ENOENT);
	mg_model_destroy(m);
}

MG_TEST_MAIN()

/* ---- classification rules (mg_rules.h) ------------------------------------------------ */

static int
b_rules(void *c, uint16_t net, const struct mg_ruleset *rs, struct mg_error *e)
{
	char what[32];

	snprintf(what, sizeof(what), "rules:%u:%u", net, rs ? rs->n : 0);
	return rec_add(c, what, e);
}

MG_TEST(rules_refused_by_backend_change_nothing)
{
	struct mg_model *m = model();
	struct rec r = {.refuse = NULL};
	struct mg_model_backend be = {.ctx = &r, .rules_set = b_rules};
	struct mg_rule_spec rules[2] = {{.id = 7, .proto = 17, .vlan = -1, .dscp = -1,
					 .action = MG_RULE_COUNT},
					{.proto = -1, .vlan = -1, .dscp = -1,
					 .action = MG_RULE_DENY}};
	struct mg_rules_spec s = {.network = "default", .def = MG_RULE_DENY, .rules = rules, .n = 2};
	const struct mg_ruleset *rs;
	struct mg_error e;

	mg_model_set_backend(m, &be);
	CHECK_EQ(mg_model_rules_set(m, &s, &e), 0);
	rs = mg_model_rules_get(m, 0);
	CHECK(rs != NULL && rs->n == 2 && rs->rules[1].spec.id == 2 && rs->def == MG_RULE_DENY);
	/* A refusal by the data plane keeps the installed list. */
	r.refuse = "rules:0:1";
	s.n = 1;
	CHECK_EQ(mg_model_rules_set(m, &s, &e), -ENOSPC);
	rs = mg_model_rules_get(m, 0);
	CHECK(rs != NULL && rs->n == 2);
	/* A bad rule never reaches the backend. */
	r.refuse = NULL;
	rules[1].dport = (struct mg_rule_range){.set = true, .lo = 9, .hi = 1};
	s.n = 2;
	CHECK_EQ(mg_model_rules_set(m, &s, &e), -EINVAL);
	CHECK_STR(e.field, "rules[1].dport");
	/* Nothing to classify: no rule set, and the backend is told so. */
	s.n = 0;
	s.def = MG_RULE_PERMIT;
	CHECK_EQ(mg_model_rules_set(m, &s, &e), 0);
	CHECK(mg_model_rules_get(m, 0) == NULL);
	CHECK_STR(r.log, "rules:0:2 rules:0:1 rules:0:0 ");
	mg_model_destroy(m);
}

MG_TEST(rules_replay_last_and_go_with_their_network)
{
	struct mg_model *m = model();
	struct rec r = {.refuse = NULL};
	struct mg_model_backend be = {.ctx = &r, .network_add = b_net, .port_add = b_port,
				      .addr_add = b_addr, .rules_set = b_rules};
	struct mg_network_spec blue = {.name = "blue"}, green = {.name = "green"};
	struct mg_rule_spec rule = {.proto = -1, .vlan = -1, .dscp = -1, .iface = "p0",
				    .action = MG_RULE_DENY};
	struct mg_rules_spec s = {.network = "default", .rules = &rule, .n = 1};
	struct mg_rule_spec table = {.proto = -1, .vlan = -1, .dscp = -1, .action = MG_RULE_TABLE,
				     .table = "green"};
	struct mg_rules_spec sb = {.network = "blue", .rules = &table, .n = 1};
	struct mg_error e;

	CHECK_EQ(mg_model_network_add(m, &blue, &e), 0);
	CHECK_EQ(mg_model_network_add(m, &green, &e), 0);
	CHECK_EQ(mg_model_rules_set(m, &s, &e), 0);
	CHECK_EQ(mg_model_rules_set(m, &sb, &e), 0);
	mg_model_set_backend(m, &be);
	CHECK_EQ(mg_model_replay(m, &e), 0);
	CHECK_STR(r.log, "net net net port addr addr rules:0:1 rules:1:1 ");
	/* The port is matched by a rule, "green" is blue's route table. */
	CHECK_EQ(mg_model_port_del(m, "p0", &e), -EBUSY);
	CHECK(strstr(e.msg, "rule 1 of network 'default'") != NULL);
	CHECK_EQ(mg_model_network_del(m, "green", &e), -EBUSY);
	CHECK(strstr(e.msg, "route table of rule 1 of network 'blue'") != NULL);
	/* Deleting blue drops its rules (the backend is told first). */
	r.log[0] = '\0';
	CHECK_EQ(mg_model_network_del(m, "blue", &e), 0);
	CHECK_STR(r.log, "rules:1:0 ");
	CHECK(mg_model_rules_get(m, 1) == NULL);
	CHECK_EQ(mg_model_network_del(m, "green", &e), 0);
	mg_model_destroy(m);
}

/* ---- tunnels (ESP, VXLAN): the checks they share, the words each keeps ------------------- */

/* The model's error @e after @rc: -@code, on @field, saying @msg. */
static void
check_err(int rc, const struct mg_error *e, int code, const char *field, const char *msg)
{
	CHECK_EQ(rc, -code);
	CHECK_STR(e->field, field);
	CHECK_STR(e->msg, msg);
}

static struct mg_esp_tunnel_spec
esp_spec(const char *local, const char *remote)
{
	struct mg_esp_tunnel_spec s;

	memset(&s, 0, sizeof(s));
	strcpy(s.name, "e");
	mg_ip_parse(local, &s.local);
	mg_ip_parse(remote, &s.remote);
	return s;
}

static struct mg_vxlan_spec
vx_spec(const char *local, const char *remote)
{
	struct mg_vxlan_spec s;

	memset(&s, 0, sizeof(s));
	strcpy(s.name, "v");
	s.vni = 5;
	mg_ip_parse(local, &s.local);
	mg_ip_parse(remote, &s.remote);
	return s;
}

/* A route to 10.9.0.0/16 (or its deletion) through interface @iface. */
static int
route_via(struct mg_model *m, const char *iface, bool del, struct mg_error *e)
{
	struct mg_route_spec r;

	memset(&r, 0, sizeof(r));
	mg_prefix_parse("10.9.0.0/16", &r.prefix);
	mg_strlcpy(r.iface, iface, sizeof(r.iface));
	return del ? mg_model_route_del(m, "default", &r.prefix, e) : mg_model_route_add(m, &r, e);
}

MG_TEST(tunnel_outer_checks_are_shared)
{
	struct mg_model *m = model();
	struct mg_esp_tunnel_spec es;
	struct mg_vxlan_spec vs;
	struct mg_error e;

	es = esp_spec("10.0.0.1", "10.0.0.2");
	strcpy(es.underlay, "nope");
	check_err(mg_model_esp_add(m, &es, &e), &e, ENOENT, "underlay", "no network named 'nope'");
	vs = vx_spec("10.0.0.1", "10.0.0.2");
	strcpy(vs.network, "nope");
	check_err(mg_model_vxlan_add(m, &vs, &e), &e, ENOENT, "network", "no network named 'nope'");

	es = esp_spec("fd00::1", "10.0.0.2");
	check_err(mg_model_esp_add(m, &es, &e), &e, EINVAL, "remote",
		  "must be of local's family (IPv6)");
	vs = vx_spec("fd00::1", "10.0.0.2");
	check_err(mg_model_vxlan_add(m, &vs, &e), &e, EINVAL, "remote",
		  "must be of local's family (IPv6)");

	/* Each kind says "unicast" in its own words; VXLAN refuses broadcast too. */
	es = esp_spec("10.0.0.1", "224.0.0.1");
	check_err(mg_model_esp_add(m, &es, &e), &e, EINVAL, "remote", "must be a unicast address");
	vs = vx_spec("10.0.0.1", "224.0.0.1");
	check_err(mg_model_vxlan_add(m, &vs, &e), &e, EINVAL, "remote",
		  "must be a unicast address (multicast groups are not supported)");
	vs = vx_spec("10.0.0.1", "255.255.255.255");
	check_err(mg_model_vxlan_add(m, &vs, &e), &e, EINVAL, "remote",
		  "must be a unicast address (multicast groups are not supported)");

	es = esp_spec("10.0.0.77", "10.0.0.2");
	check_err(mg_model_esp_add(m, &es, &e), &e, EINVAL, "local",
		  "10.0.0.77 is not an address of an interface in network 'default'");
	vs = vx_spec("10.0.0.77", "10.0.0.2");
	check_err(mg_model_vxlan_add(m, &vs, &e), &e, EINVAL, "local",
		  "10.0.0.77 is not an address of an interface in network 'default'");

	es = esp_spec("10.0.0.1", "10.0.0.2");
	es.mtu = 20;
	check_err(mg_model_esp_add(m, &es, &e), &e, EINVAL, "mtu", "20 is out of range 68-9600");
	vs = vx_spec("10.0.0.1", "10.0.0.2");
	vs.mtu = 9601;
	check_err(mg_model_vxlan_add(m, &vs, &e), &e, EINVAL, "mtu", "9601 is out of range 68-9600");

	/* Nothing refused was kept. */
	CHECK(mg_model_esp_next(m, &(uint32_t){0}) == NULL);
	CHECK(mg_model_vxlan_next(m, &(uint32_t){0}) == NULL);
	CHECK(mg_model_iface_find(m, "e") == NULL && mg_model_iface_find(m, "v") == NULL);
	mg_model_destroy(m);
}

MG_TEST(tunnel_tables_and_busy_tunnels)
{
	struct mg_model *m = model();
	struct mg_esp_tunnel_spec es = esp_spec("10.0.0.1", "10.0.0.2");
	struct mg_vxlan_spec vs = vx_spec("10.0.0.1", "10.0.0.3");
	const struct mg_esp_tunnel *et;
	const struct mg_vxlan_tunnel *vt;
	struct mg_error e;
	uint32_t cur = 0;

	CHECK_EQ(mg_model_esp_add(m, &es, &e), 0);
	CHECK_EQ(mg_model_vxlan_add(m, &vs, &e), 0);
	et = mg_model_esp_find(m, "e");
	vt = mg_model_vxlan_find(m, "v");
	CHECK(et != NULL && vt != NULL);
	CHECK(mg_model_esp_find(m, "v") == NULL && mg_model_vxlan_find(m, "e") == NULL);
	CHECK(mg_model_esp_by_iface(m, mg_model_iface_find(m, "e")->id) == et);
	CHECK(mg_model_vxlan_by_iface(m, mg_model_iface_find(m, "v")->id) == vt);
	CHECK(mg_model_esp_by_iface(m, vt->iface) == NULL);
	CHECK(mg_model_vxlan_next(m, &cur) == vt);
	CHECK(mg_model_vxlan_next(m, &cur) == NULL);

	/* A route into a tunnel holds it; each kind names what holds it. */
	CHECK_EQ(route_via(m, "e", false, &e), 0);
	check_err(mg_model_esp_del(m, "e", &e), &e, EBUSY, "name",
		  "tunnel 'e' is used by 1 route(s)");
	CHECK_EQ(route_via(m, "e", true, &e), 0);
	CHECK_EQ(route_via(m, "v", false, &e), 0);
	check_err(mg_model_vxlan_del(m, "v", &e), &e, EBUSY, "name",
		  "tunnel 'v' is used by 1 route(s) or static neighbor(s)");
	CHECK(mg_model_vxlan_find(m, "v") == vt);
	CHECK_EQ(route_via(m, "v", true, &e), 0);

	CHECK_EQ(mg_model_esp_del(m, "e", &e), 0);
	CHECK_EQ(mg_model_vxlan_del(m, "v", &e), 0);
	CHECK(mg_model_esp_find(m, "e") == NULL && mg_model_vxlan_find(m, "v") == NULL);
	CHECK(mg_model_iface_find(m, "e") == NULL && mg_model_iface_find(m, "v") == NULL);
	CHECK_EQ(mg_model_network_find(m, "default")->nifaces, 1);
	mg_model_destroy(m);
}

/* ---- transactions (mg_txn.h) ------------------------------------------------------------ */

static struct mg_op
route_op(enum mg_op_verb verb, const char *prefix, const char *via)
{
	struct mg_op op;

	memset(&op, 0, sizeof(op));
	op.verb = verb;
	op.kind = MG_OP_ROUTE;
	mg_prefix_parse(prefix, &op.route.prefix);
	if (via != NULL)
		mg_ip_parse(via, &op.route.via);
	return op;
}

static bool
has_route(const struct mg_model *m, const char *prefix)
{
	struct mg_prefix p;

	mg_prefix_parse(prefix, &p);
	return mg_model_route_find(m, 0, &p) != NULL;
}

MG_TEST(txn_refused_by_model_never_reaches_backend)
{
	struct mg_model *m = model();
	struct rec r = {.refuse = NULL};
	struct mg_model_backend be = {.ctx = &r, .route_add = b_route, .route_del = b_route_del,
				      .neigh_add = b_neigh};
	struct mg_op ops[3];
	unsigned int failed = 99;
	struct mg_error e;

	CHECK_EQ(route(m, "10.9.0.0/16", "10.0.0.2", &e), 0);
	mg_model_set_backend(m, &be);
	ops[0] = route_op(MG_OP_DEL, "10.9.0.0/16", NULL);
	ops[1] = route_op(MG_OP_ADD, "10.8.0.0/16", "10.0.0.2");
	ops[2] = route_op(MG_OP_ADD, "10.7.0.0/16", "10.5.5.5"); /* on no connected subnet */
	CHECK_EQ(mg_txn_apply_all(m, ops, 3, &failed, &e), -EINVAL);
	CHECK_EQ(failed, 2);
	CHECK_STR(e.field, "[2].via");
	/* Neither the delete nor the add before the refused operation was seen. */
	CHECK_STR(r.log, "");
	CHECK(has_route(m, "10.9.0.0/16") && !has_route(m, "10.8.0.0/16"));
	CHECK_EQ(mg_model_route_count(m), 1);
	/* The check alone changes nothing, whatever it finds. */
	ops[2] = route_op(MG_OP_ADD, "10.7.0.0/16", "10.0.0.3");
	CHECK_EQ(mg_txn_check(m, ops, 3, &failed, &e), 0);
	CHECK(has_route(m, "10.9.0.0/16") && !has_route(m, "10.7.0.0/16"));
	CHECK_STR(r.log, "");
	/* A second delete of the same route in one list is found by the check too. */
	ops[1] = ops[0];
	CHECK_EQ(mg_txn_check(m, ops, 2, &failed, &e), -ENOENT);
	CHECK_EQ(failed, 1);
	CHECK_STR(r.log, "");
	mg_model_destroy(m);
}

MG_TEST(txn_refused_by_backend_is_undone)
{
	struct mg_model *m = model();
	struct rec r = {.refuse = "route", .skip = 1, .once = true};
	struct mg_model_backend be = {.ctx = &r, .route_add = b_route, .route_del = b_route_del};
	struct mg_op ops[3];
	unsigned int failed = 99;
	struct mg_error e;

	CHECK_EQ(route(m, "10.9.0.0/16", "10.0.0.2", &e), 0);
	mg_model_set_backend(m, &be);
	ops[0] = route_op(MG_OP_DEL, "10.9.0.0/16", NULL);
	ops[1] = route_op(MG_OP_ADD, "10.8.0.0/16", "10.0.0.2");
	ops[2] = route_op(MG_OP_ADD, "10.7.0.0/16", "10.0.0.3");
	/* The model accepts all three; the data plane refuses the third (a full table). */
	CHECK_EQ(mg_txn_apply_all(m, ops, 3, &failed, &e), -ENOSPC);
	CHECK_EQ(failed, 2);
	CHECK_STR(e.field, "[2]");
	CHECK_STR(r.log, "route-del route route route-del route ");
	CHECK(has_route(m, "10.9.0.0/16") && !has_route(m, "10.8.0.0/16") &&
	      !has_route(m, "10.7.0.0/16"));
	mg_model_destroy(m);
}

MG_TEST(txn_check_lends_rules_without_freeing_them)
{
	struct mg_model *m = model();
	struct mg_network_spec blue = {.name = "blue"};
	struct mg_rule_spec rule = {.proto = -1, .vlan = -1, .dscp = -1, .action = MG_RULE_DENY};
	struct mg_rules_spec s = {.network = "blue", .rules = &rule, .n = 1};
	struct mg_op ops[2];
	unsigned int failed = 99;
	struct mg_error e;

	CHECK_EQ(mg_model_network_add(m, &blue, &e), 0);
	CHECK_EQ(mg_model_rules_set(m, &s, &e), 0);
	memset(ops, 0, sizeof(ops));
	ops[0].verb = MG_OP_DEL;
	ops[0].kind = MG_OP_NETWORK;
	strcpy(ops[0].network.name, "blue");
	ops[1] = route_op(MG_OP_ADD, "10.7.0.0/16", "10.5.5.5");
	/* On the shadow, deleting blue lets go of its rules; the model keeps them. */
	CHECK_EQ(mg_txn_apply_all(m, ops, 2, &failed, &e), -EINVAL);
	CHECK_EQ(failed, 1);
	CHECK(mg_model_network_find(m, "blue") != NULL);
	CHECK(mg_model_rules_get(m, 1) != NULL && mg_model_rules_get(m, 1)->n == 1);
	/* And the delete alone still takes them with it. */
	CHECK_EQ(mg_txn_apply_all(m, ops, 1, &failed, &e), 0);
	CHECK(mg_model_rules_get(m, 1) == NULL);
	mg_model_destroy(m);
}

MG_TEST(txn_check_sees_its_own_changes)
{
	struct mg_model *m = model();
	struct mg_neigh_spec nb = {.iface = "p0"};
	struct mg_op ops[4];
	unsigned int failed = 99;
	struct mg_error e;

	CHECK_EQ(route(m, "10.9.0.0/16", "10.0.0.2", &e), 0);
	CHECK_EQ(route(m, "fd09::/48", "fd00::2", &e), 0);
	mg_ip_parse("10.0.0.3", &nb.ip);
	mg_mac_parse("02:00:00:00:00:03", &nb.mac);
	CHECK_EQ(mg_model_neigh_add(m, &nb, &e), 0);
	memset(ops, 0, sizeof(ops));
	/* The address carries a route and a neighbor: gone first, it may go. */
	ops[0] = route_op(MG_OP_DEL, "10.9.0.0/16", NULL);
	ops[1].verb = MG_OP_DEL;
	ops[1].kind = MG_OP_NEIGH;
	ops[1].neigh = nb;
	ops[2].verb = MG_OP_DEL;
	ops[2].kind = MG_OP_ADDR;
	strcpy(ops[2].addr.iface, "p0");
	mg_prefix_parse("10.0.0.1/24", &ops[2].addr.prefix);
	CHECK_EQ(mg_txn_check(m, ops, 3, &failed, &e), 0);
	/* Not when a route through it comes back before. */
	ops[3] = ops[2];
	ops[2] = route_op(MG_OP_ADD, "10.9.0.0/16", "10.0.0.2");
	CHECK_EQ(mg_txn_check(m, ops, 4, &failed, &e), -EBUSY);
	CHECK_EQ(failed, 3);
	CHECK(strstr(e.msg, "route 10.9.0.0/16 via 10.0.0.2") != NULL);
	/* A route replaced, deleted and added again: the model's one is untouched. */
	ops[0] = route_op(MG_OP_REPLACE, "fd09::/48", "fd00::3");
	ops[1] = route_op(MG_OP_DEL, "fd09::/48", NULL);
	ops[2] = route_op(MG_OP_ADD, "fd09::/48", "fd00::4");
	ops[3] = route_op(MG_OP_ADD, "fd09::/48", "fd00::5");
	CHECK_EQ(mg_txn_check(m, ops, 4, &failed, &e), -EEXIST);
	CHECK_EQ(failed, 3);
	CHECK_EQ(mg_txn_check(m, ops, 3, &failed, &e), 0);
	{
		struct mg_prefix p;
		const struct mg_route *r;
		char b[MG_IP_STRLEN];

		mg_prefix_parse("fd09::/48", &p);
		r = mg_model_route_find(m, 0, &p);
		CHECK(r != NULL);
		CHECK_STR(mg_ip_fmt(&r->via, b, sizeof(b)), "fd00::2");
	}
	/* The route table's limit counts what the list adds and deletes (4 here). */
	ops[0] = route_op(MG_OP_ADD, "10.1.0.0/16", "10.0.0.2");
	ops[1] = route_op(MG_OP_ADD, "10.2.0.0/16", "10.0.0.2");
	ops[2] = route_op(MG_OP_ADD, "10.3.0.0/16", "10.0.0.2");
	CHECK_EQ(mg_txn_check(m, ops, 3, &failed, &e), -ENOSPC);
	CHECK_EQ(failed, 2);
	ops[0] = route_op(MG_OP_DEL, "10.9.0.0/16", NULL);
	CHECK_EQ(mg_txn_check(m, ops, 3, &failed, &e), 0);
	CHECK_EQ(mg_model_route_count(m), 2);
	mg_model_destroy(m);
}

/* A backend that gives each port the MAC a device would have. */
static int
b_port_mac(void *c, struct mg_port *p, struct mg_iface *i, struct mg_error *e)
{
	mg_mac_parse("12:5b:36:3d:99:b8", &i->mac);
	return rec_add(c, "port", e);
}

MG_TEST(txn_check_does_not_guess_a_new_port_link_local)
{
	struct mg_model *m = model();
	struct rec r = {.refuse = NULL};
	struct mg_model_backend be = {.ctx = &r, .port_add = b_port_mac, .neigh_add = b_neigh};
	struct mg_op ops[2];
	unsigned int failed = 99;
	struct mg_error e;
	const struct mg_iface *z;
	char b[MG_IP_STRLEN];

	mg_model_set_backend(m, &be);
	memset(ops, 0, sizeof(ops));
	ops[0].kind = MG_OP_PORT;
	strcpy(ops[0].port.name, "z");
	strcpy(ops[0].port.device, "net_null7");
	/* The zero MAC's link-local: not the port's, whose MAC the device gives. */
	ops[1].kind = MG_OP_NEIGH;
	strcpy(ops[1].neigh.iface, "z");
	mg_ip_parse("fe80::200:ff:fe00:0", &ops[1].neigh.ip);
	mg_mac_parse("02:00:00:00:00:09", &ops[1].neigh.mac);
	CHECK_EQ(mg_txn_apply_all(m, ops, 2, &failed, &e), 0);
	z = mg_model_iface_find(m, "z");
	CHECK(z != NULL);
	CHECK_STR(mg_ip_fmt(&z->ll6, b, sizeof(b)), "fe80::105b:36ff:fe3d:99b8");
	mg_model_destroy(m);
}

MG_TEST(txn_route_delete_named_by_interface)
{
	struct mg_model *m = model();
	struct mg_network_spec blue = {.name = "blue"};
	struct mg_vlan_spec v = {.port = "p0", .vlan = 10, .network = "blue"};
	struct mg_addr_spec a = {.iface = "p0.10"};
	struct mg_route_spec r;
	struct mg_prefix p;
	struct mg_op op;
	unsigned int failed;
	struct mg_error e;

	CHECK_EQ(mg_model_network_add(m, &blue, &e), 0);
	CHECK_EQ(mg_model_vlan_add(m, &v, &e), 0);
	mg_prefix_parse("10.1.0.1/24", &a.prefix);
	CHECK_EQ(mg_model_addr_add(m, &a, &e), 0);
	/* The same prefix in both networks. */
	CHECK_EQ(route(m, "10.7.0.0/16", "10.0.0.2", &e), 0);
	memset(&r, 0, sizeof(r));
	strcpy(r.iface, "p0.10");
	mg_prefix_parse("10.7.0.0/16", &r.prefix);
	mg_ip_parse("10.1.0.2", &r.via);
	CHECK_EQ(mg_model_route_add(m, &r, &e), 0);
	/* A delete named by its interface deletes blue's, as the add put it there. */
	op = route_op(MG_OP_DEL, "10.7.0.0/16", NULL);
	strcpy(op.route.iface, "p0.10");
	CHECK_EQ(mg_txn_apply_all(m, &op, 1, &failed, &e), 0);
	mg_prefix_parse("10.7.0.0/16", &p);
	CHECK(mg_model_route_find(m, 0, &p) != NULL);
	CHECK(mg_model_route_find(m, 1, &p) == NULL);
	/* An unknown interface is an error, not the default network. */
	strcpy(op.route.iface, "p0.11");
	CHECK_EQ(mg_txn_apply_all(m, &op, 1, &failed, &e), -ENOENT);
	CHECK_STR(e.field, "[0].interface");
	CHECK(mg_model_route_find(m, 0, &p) != NULL);
	mg_model_destroy(m);
}
