/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shadow check against the model itself: random lists of operations
 * over networks, ports, VLANs, addresses, routes and neighbors (mostly lists
 * the model accepts, some with a bad operation at the end) are checked with
 * mg_txn_check and then applied to the model in a transaction. The check
 * must accept exactly what the transaction accepts, refuse at the same
 * operation with the same error, leave the model untouched, and end in the
 * state the transaction commits; the model's counters must match its
 * contents throughout. Seeded from MG_TEST_SEED (else the clock), printed.
 */
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdarg.h>
#include <time.h>

#include "mg_model.h"
#include "mg_test.h"
#include "mg_txn.h"

/* A backend whose devices give their ports a MAC, as lib/dp's does (one per device). */
static int
dev_port(void *c, struct mg_port *p, struct mg_iface *ifc, struct mg_error *e)
{
	size_t n = strlen(p->spec.device);

	if (!p->spec.mac_set)
		ifc->mac = (struct mg_mac){{0x02, 0xaa, 0, 0, 0,
					    (uint8_t)(n > 0 ? p->spec.device[n - 1] : 0)}};
	return 0;
}

static unsigned int
rnd(unsigned int n)
{
	return (unsigned int)random() % n;
}

#define PICK(a) (a)[rnd(sizeof(a) / sizeof((a)[0]))]

static const char *const nets[] = {"default", "n1", "n2"};
static const char *const ifaces[] = {"p0", "p1", "p2", "p0.10", "p0.11", "p1.10", "p2.11"};
static const char *const addrs[] = {"10.0.0.1/24", "10.0.1.1/24", "10.0.2.1/24", "fd00::1/64",
				    "fd00:1::1/64", "10.0.0.2/24", "10.9.9.9/24"};
static const char *const prefixes[] = {"192.0.2.0/24", "198.51.100.0/24", "2001:db8::/32",
				       "0.0.0.0/0", "10.0.0.0/24", "192.0.2.0/25",
				       "10.50.0.0/16"};
static const char *const vias[] = {"", "10.0.0.5", "10.0.1.5", "10.0.2.5", "fd00::5",
				   "10.0.0.1", "fe80::1"};
static const char *const neighs[] = {"10.0.0.5", "10.0.1.5", "10.0.2.7", "fd00::5", "fe80::9",
				     "fe80::200:ff:fe00:0", "fe80::aa:ff:fe00:1", "10.0.0.1"};

static void
gen(struct mg_op *op)
{
	unsigned int k = rnd(100), i;

	memset(op, 0, sizeof(*op));
	op->verb = rnd(3) == 0 ? MG_OP_DEL : MG_OP_ADD;
	if (k < 6) {
		op->kind = MG_OP_NETWORK;
		strcpy(op->network.name, nets[1 + rnd(2)]);
	} else if (k < 14) {
		i = rnd(3);
		op->kind = MG_OP_PORT;
		snprintf(op->port.name, sizeof(op->port.name), "p%u", i);
		snprintf(op->port.device, sizeof(op->port.device), "net_null%u", i);
		strcpy(op->port.network, PICK(nets));
		if (rnd(2)) {
			op->port.mac_set = true;
			op->port.mac = (struct mg_mac){{0x02, 0, 0, 0, 0, (uint8_t)(0x10 + i)}};
		}
	} else if (k < 24) {
		op->kind = MG_OP_VLAN;
		snprintf(op->vlan.port, sizeof(op->vlan.port), "p%u", rnd(3));
		op->vlan.vlan = (uint16_t)(10 + rnd(2));
		if (rnd(2))
			strcpy(op->vlan.network, PICK(nets));
	} else if (k < 45) {
		op->kind = MG_OP_ADDR;
		strcpy(op->addr.iface, PICK(ifaces));
		mg_prefix_parse(PICK(addrs), &op->addr.prefix);
	} else if (k < 80) {
		op->kind = MG_OP_ROUTE;
		if (rnd(4) == 0)
			op->verb = MG_OP_REPLACE;
		if (rnd(3) == 0)
			strcpy(op->route.network, PICK(nets));
		mg_prefix_parse(PICK(prefixes), &op->route.prefix);
		i = rnd(6);
		op->route.action = i < 3 ? MG_ROUTE_FORWARD : (enum mg_route_action)(i - 2);
		if (op->route.action == MG_ROUTE_FORWARD) {
			const char *v = PICK(vias);

			if (v[0] != '\0')
				mg_ip_parse(v, &op->route.via);
			if (v[0] == '\0' || rnd(3) == 0)
				strcpy(op->route.iface, PICK(ifaces));
		}
	} else {
		op->kind = MG_OP_NEIGH;
		strcpy(op->neigh.iface, PICK(ifaces));
		mg_ip_parse(PICK(neighs), &op->neigh.ip);
		op->neigh.mac = (struct mg_mac){{0x02, 0, 0, 0, 0, (uint8_t)(1 + rnd(5))}};
	}
}

/* ---- the model's state, as sorted lines; its counters checked against its contents ---- */

struct lines {
	char *l[1024];
	unsigned int n;
};

static void
add(struct lines *ls, const char *fmt, ...)
{
	va_list ap;

	if (ls->n == sizeof(ls->l) / sizeof(ls->l[0]))
		return;
	ls->l[ls->n] = malloc(512);
	va_start(ap, fmt);
	vsnprintf(ls->l[ls->n++], 512, fmt, ap);
	va_end(ap);
}

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * With @macs false, leave out interfaces' MACs and link-locals: a shadow
 * cannot know a device's MAC (the outcomes of the checks still compare what
 * they decide).
 */
static char *
state(const struct mg_model *m, bool macs)
{
	static struct lines ls;
	uint32_t per_if[MG_MODEL_MAX_IFACES] = {0}, per_net[MG_MODEL_MAX_NETWORKS] = {0};
	uint32_t cur = 0, nr = 0;
	const struct mg_route *r;
	const struct mg_neigh *nb;
	char b1[64], b2[64], b3[32], *out;
	size_t len = 1;

	ls.n = 0;
	while ((r = mg_model_route_next(m, &cur)) != NULL) {
		add(&ls, "route %u %s %d %s %u", r->network, mg_prefix_fmt(&r->prefix, b1, sizeof(b1)),
		    r->action, r->via.family ? mg_ip_fmt(&r->via, b2, sizeof(b2)) : "-", r->iface);
		CHECK(mg_model_route_find(m, r->network, &r->prefix) == r);
		if (r->iface != UINT16_MAX)
			per_if[r->iface]++;
		per_net[r->network]++;
		nr++;
	}
	CHECK_EQ(nr, mg_model_route_count(m));
	cur = 0;
	while ((nb = mg_model_neigh_next(m, &cur)) != NULL) {
		add(&ls, "neigh %u %s %s", nb->iface, mg_ip_fmt(&nb->ip, b1, sizeof(b1)),
		    mg_mac_fmt(&nb->mac, b3, sizeof(b3)));
		per_if[nb->iface]++;
	}
	for (uint16_t i = 0; i < mg_model_iface_max(); i++) {
		const struct mg_iface *f = mg_model_iface_get(m, i);
		char a[256] = "";

		if (f == NULL)
			continue;
		for (unsigned int j = 0; j < f->naddr4 + f->naddr6; j++) {
			strcat(a, " ");
			strcat(a, mg_prefix_fmt(j < f->naddr4 ? &f->addr4[j] : &f->addr6[j - f->naddr4],
						b1, sizeof(b1)));
		}
		add(&ls, "iface %u %s net %u vlan %u ll6 %s mac %s%s", i, f->name, f->network, f->vlan,
		    !macs ? "?" : f->ll6.family ? mg_ip_fmt(&f->ll6, b2, sizeof(b2)) : "-",
		    macs ? mg_mac_fmt(&f->mac, b3, sizeof(b3)) : "?", a);
		CHECK_EQ(f->nroutes, per_if[i]);
	}
	for (uint16_t i = 0; i < mg_model_network_max(); i++) {
		const struct mg_network *n = mg_model_network_get(m, i);

		if (n == NULL)
			continue;
		add(&ls, "net %u %s %u", i, n->spec.name, n->nifaces);
		CHECK_EQ(n->nroutes, per_net[i]);
	}
	for (uint16_t i = 0; i < mg_model_port_max(); i++) {
		const struct mg_port *p = mg_model_port_get(m, i);

		if (p != NULL)
			add(&ls, "port %u %s %u %u", i, p->spec.name, p->iface, p->nvlans);
	}
	qsort(ls.l, ls.n, sizeof(ls.l[0]), cmp);
	for (unsigned int i = 0; i < ls.n; i++)
		len += strlen(ls.l[i]) + 1;
	out = malloc(len);
	out[0] = '\0';
	for (unsigned int i = 0; i < ls.n; i++) {
		strcat(out, ls.l[i]);
		strcat(out, "\n");
		free(ls.l[i]);
	}
	return out;
}

/* A list of 2-9 operations, mostly ones the model accepts in turn (tried and undone). */
static unsigned int
gen_list(struct mg_model *m, struct mg_op *ops)
{
	struct mg_txn *t = mg_txn_begin(m);
	unsigned int n = 2 + rnd(8), k = 0;
	struct mg_error e;

	for (unsigned int tries = 0; tries < 60 && k < n; tries++) {
		gen(&ops[k]);
		if (mg_txn_apply(t, &ops[k], &e) == 0)
			k++;
	}
	mg_txn_abort(t);
	if (k < 2 || rnd(4) == 0)
		gen(&ops[k++]);
	if (k < 2)
		gen(&ops[k++]);
	return k;
}

MG_TEST(txn_check_agrees_with_the_model)
{
	const char *env = getenv("MG_TEST_SEED");
	unsigned int seed = env != NULL ? (unsigned int)strtoul(env, NULL, 0)
					: (unsigned int)time(NULL);
	struct mg_model_limits lim = {.routes = 5, .neighbors = 3};
	struct mg_model *m = mg_model_create(&lim);
	struct mg_model_backend be = {.port_add = dev_port};
	struct mg_network_spec def = {.name = "default"};
	unsigned int accepted = 0, refused = 0;
	struct mg_error e;

	printf("# seed %u (MG_TEST_SEED)\n", seed);
	srandom(seed);
	mg_model_set_backend(m, &be);
	CHECK_EQ(mg_model_network_add(m, &def, &e), 0);
	for (unsigned int it = 0; it < 20000 && mg_test_failures == 0; it++) {
		struct mg_op ops[11];
		unsigned int n = gen_list(m, ops), bad = UINT32_MAX, lbad = UINT32_MAX;
		struct mg_error ce = {0}, le = {0};
		char *before = state(m, true), *after, *shadow = NULL;
		struct mg_model *s = mg_model_shadow(m);
		struct mg_txn *t;
		int crc, lrc = 0;

		/* What the shadow ends in, when all of the list applies. */
		for (unsigned int i = 0; i < n && lrc == 0; i++)
			lrc = mg_op_apply(s, &ops[i], &ce);
		if (lrc == 0)
			shadow = state(s, false);
		mg_model_destroy(s);
		crc = mg_txn_check(m, ops, n, &bad, &ce);
		after = state(m, true);
		CHECK_STR(after, before);
		free(after);
		t = mg_txn_begin(m);
		lrc = 0;
		for (unsigned int i = 0; i < n && lrc == 0; i++)
			if ((lrc = mg_txn_apply(t, &ops[i], &le)) < 0)
				lbad = i;
		/* The same refusal (its words may name another of several culprits). */
		CHECK_EQ(crc, lrc);
		if (crc < 0 && lrc < 0) {
			CHECK_EQ(bad, lbad);
			CHECK_STR(ce.field, le.field);
		}
		if (lrc < 0) {
			mg_txn_abort(t);
			refused++;
		} else {
			mg_txn_commit(t);
			accepted++;
			after = state(m, false);
			CHECK(shadow != NULL);
			if (shadow != NULL)
				CHECK_STR(shadow, after);
			free(after);
		}
		if (mg_test_failures != 0)
			printf("# iteration %u\n", it);
		free(before);
		free(shadow);
	}
	printf("# %u lists accepted, %u refused\n", accepted, refused);
	/* Both kinds, in numbers. */
	CHECK(accepted > 5000 && refused > 2500);
	mg_model_destroy(m);
}

MG_TEST_MAIN()
