/* SPDX-License-Identifier: BSD-3-Clause */
/* Classification rules from the model to lib/cls tables in the data plane. */
#include <errno.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_telemetry.h>

#include "gw_cls.h"
#include "mg_cls.h"
#include "mg_dp.h"
#include "mg_rules.h"

static const uint8_t fams[2] = {AF_INET, AF_INET6};

/* ---- targets of service and tunnel actions ----------------------------------------------- */

static struct mg_gw_cls_targets targets;

/* What a network's installed rules took from targets.target(), to release when replaced. */
struct held {
	const struct mg_rule *rule;  /* a copy owned by the list */
	uint8_t family;
	uint32_t adj;
};

struct held_list {
	struct held *v;
	struct mg_rule *rules;       /* copies of the rules the entries point at */
	uint32_t n;
};

static struct held_list held[MG_MAX_NETS];

void
mg_gw_cls_set_targets(const struct mg_gw_cls_targets *t)
{
	targets = *t;
}

static void
held_release(uint16_t net, struct held_list *l)
{
	for (uint32_t i = 0; i < l->n; i++)
		if (targets.release != NULL)
			targets.release(targets.ctx, net, l->v[i].rule, l->v[i].family, l->v[i].adj);
	free(l->v);
	free(l->rules);
	memset(l, 0, sizeof(*l));
}

/*
 * Resolve the service and tunnel actions of @p rs for both families into
 * @p l (a handle per rule and family, 0 for other actions). On failure,
 * what was taken is given back and @p err names the rule.
 */
static int
held_take(uint16_t net, const struct mg_ruleset *rs, struct held_list *l, uint32_t *h4,
	  uint32_t *h6, struct mg_error *err)
{
	uint32_t cnt = 0;

	memset(l, 0, sizeof(*l));
	for (uint32_t i = 0; rs != NULL && i < rs->n; i++)
		cnt += rs->rules[i].spec.action == MG_RULE_SERVICE ||
		       rs->rules[i].spec.action == MG_RULE_TUNNEL;
	if (cnt == 0)
		return 0;
	if (targets.target == NULL)
		return mg_error_set(err, ENOTSUP, "rules", "service and tunnel actions need the "
				    "gateway's resolver");
	l->v = calloc(2 * cnt, sizeof(*l->v));
	l->rules = calloc(cnt, sizeof(*l->rules));
	if (l->v == NULL || l->rules == NULL) {
		held_release(net, l);
		return mg_error_set(err, ENOMEM, "rules", "out of memory");
	}
	cnt = 0;
	for (uint32_t i = 0; i < rs->n; i++) {
		const struct mg_rule *r = &rs->rules[i];

		if (r->spec.action != MG_RULE_SERVICE && r->spec.action != MG_RULE_TUNNEL)
			continue;
		l->rules[cnt] = *r;
		for (unsigned int f = 0; f < 2; f++) {
			uint32_t adj = 0;
			int rc;

			if (r->family != 0 && r->family != fams[f])
				continue;
			rc = targets.target(targets.ctx, net, r, fams[f], &adj, err);
			if (rc < 0) {
				char fld[sizeof(err->field)];

				snprintf(fld, sizeof(fld), "rules[%u]%s%s", i, err->field[0] ? "." : "",
					 err->field);
				mg_strlcpy(err->field, fld, sizeof(err->field));
				held_release(net, l);
				return rc;
			}
			(f == 0 ? h4 : h6)[i] = adj;
			if (adj != 0)
				l->v[l->n++] = (struct held){.rule = &l->rules[cnt], .family = fams[f],
							     .adj = adj};
		}
		cnt++;
	}
	return 0;
}

static void
cls_sync(void *arg)
{
	mg_dp_sync(arg);
}

static void
range(struct mg_cls_match *m, uint32_t bit, struct mg_cls_range *dst,
      const struct mg_rule_range *r)
{
	if (!r->set)
		return;
	m->fields |= bit;
	dst->lo = r->lo;
	dst->hi = r->hi;
}

/* The lib/cls form of model rule @r (@handle: its service or tunnel adjacency). */
static void
to_cls(const struct mg_rule *r, uint32_t handle, struct mg_cls_rule *c)
{
	const struct mg_rule_spec *s = &r->spec;
	struct mg_cls_match *m = &c->match;

	memset(c, 0, sizeof(*c));
	c->id = s->id;
	c->priority = s->priority;
	m->src = s->src;
	m->dst = s->dst;
	if (s->proto >= 0) {
		m->fields |= MG_CLS_M_PROTO;
		m->proto = (uint8_t)s->proto;
	}
	range(m, MG_CLS_M_SPORT, &m->sport, &s->sport);
	range(m, MG_CLS_M_DPORT, &m->dport, &s->dport);
	range(m, MG_CLS_M_ICMP_TYPE, &m->icmp_type, &s->icmp_type);
	range(m, MG_CLS_M_ICMP_CODE, &m->icmp_code, &s->icmp_code);
	if (s->vlan >= 0) {
		m->fields |= MG_CLS_M_VLAN;
		m->vlan = (uint16_t)s->vlan;
	}
	if (s->dscp >= 0) {
		m->fields |= MG_CLS_M_DSCP;
		m->dscp = (uint8_t)s->dscp;
	}
	if (r->iface != UINT16_MAX) {
		m->fields |= MG_CLS_M_IFACE;
		m->iface = r->iface;
	}
	switch (s->action) {
	case MG_RULE_DENY: c->action.type = MG_CLS_DENY; break;
	case MG_RULE_COUNT: c->action.type = MG_CLS_COUNT; break;
	case MG_RULE_POLICE:
		c->action = (struct mg_cls_action){.type = MG_CLS_POLICE, .rate = s->rate,
						   .burst = s->burst, .excess = s->excess};
		break;
	case MG_RULE_MARK:
		c->action = (struct mg_cls_action){.type = MG_CLS_MARK, .dscp = s->set_dscp};
		break;
	case MG_RULE_TABLE:
		c->action = (struct mg_cls_action){.type = MG_CLS_TABLE, .id = r->table};
		break;
	case MG_RULE_CAPTURE: c->action.type = MG_CLS_CAPTURE; break;
	case MG_RULE_SERVICE:
		/* Not resolvable yet (0): let it through until the rules are installed again. */
		c->action = (struct mg_cls_action){.type = handle ? MG_CLS_SERVICE : MG_CLS_PERMIT,
						   .id = handle};
		break;
	case MG_RULE_TUNNEL:
		c->action = (struct mg_cls_action){.type = handle ? MG_CLS_TUNNEL : MG_CLS_PERMIT,
						   .id = handle};
		break;
	default: c->action.type = MG_CLS_PERMIT; break;
	}
}

static struct mg_cls_conf
conf_of(const struct mg_dp *dp, uint16_t net, unsigned int f)
{
	return (struct mg_cls_conf){.family = fams[f], .net = net,
				    .nb_workers = (uint16_t)RTE_MAX(dp->nb_workers, 1u),
				    .socket_id = (int)rte_socket_id(), .categories = 1,
				    .alg = RTE_ACL_CLASSIFY_DEFAULT, .rcu = dp->rcu};
}

int
mg_gw_cls_set(struct mg_dp *dp, uint16_t net, const struct mg_ruleset *rs, struct mg_error *err)
{
	struct mg_cls_table *t[2] = {NULL, NULL};
	struct mg_cls_rule *cr = NULL;
	struct held_list next = {0};
	uint32_t *hdl[2] = {NULL, NULL};
	int rc = 0;

	RTE_ASSERT(rte_lcore_id() == rte_get_main_lcore());
	if (net >= MG_MAX_NETS)
		return mg_error_set(err, EINVAL, "network", "network id %u out of range", net);
	if (rs != NULL && rs->n > 0 &&
	    ((cr = calloc(rs->n, sizeof(*cr))) == NULL ||
	     (hdl[0] = calloc(rs->n, sizeof(uint32_t))) == NULL ||
	     (hdl[1] = calloc(rs->n, sizeof(uint32_t))) == NULL)) {
		free(cr);
		free(hdl[0]);
		return mg_error_set(err, ENOMEM, "rules", "out of memory for %u rules", rs->n);
	}
	/* Service and tunnel targets first: a refusal there changes nothing either. */
	if ((rc = held_take(net, rs, &next, hdl[0], hdl[1], err)) < 0)
		goto out;
	/* Build both families first: publish nothing unless both are accepted. */
	for (unsigned int f = 0; rs != NULL && f < 2; f++) {
		struct mg_cls_conf conf = conf_of(dp, net, f);
		struct mg_cls_action def = {.type = rs->def == MG_RULE_DENY ? MG_CLS_DENY
									     : MG_CLS_PERMIT};
		uint32_t n = 0;

		for (uint32_t i = 0; i < rs->n; i++)
			if (rs->rules[i].family == 0 || rs->rules[i].family == fams[f])
				to_cls(&rs->rules[i], hdl[f][i], &cr[n++]);
		/*
		 * Nothing to do for this family, unless it had a table: that one's
		 * counters (its default action's) go on in an empty table rather
		 * than vanish from a rule set that still counts them (a counter
		 * going backwards in /metrics).
		 */
		if (n == 0 && rs->def == MG_RULE_PERMIT && dp->cls[net][f] == NULL)
			continue;
		t[f] = mg_cls_table_build(&conf, cr, n, &def, err);
		if (t[f] == NULL) {
			rc = -err->code;
			/* lib/cls names its own array; the model's index is what the user wrote. */
			if (strncmp(err->field, "rules[", 6) == 0) {
				uint32_t k = (uint32_t)strtoul(err->field + 6, NULL, 10), seen = 0;

				for (uint32_t i = 0; i < rs->n; i++)
					if ((rs->rules[i].family == 0 || rs->rules[i].family == fams[f]) &&
					    seen++ == k) {
						snprintf(err->field, sizeof(err->field), "rules[%u]", i);
						break;
					}
			}
			goto out;
		}
	}
	for (unsigned int f = 0; f < 2; f++) {
		struct mg_cls_set *s = dp->cls[net][f];

		if (t[f] == NULL) {
			if (s != NULL) {
				/* Unpublish, wait for the walks that may hold it, free. */
				__atomic_store_n(&dp->cls[net][f], NULL, __ATOMIC_RELEASE);
				mg_dp_sync(dp);
				mg_cls_set_destroy(s);
			}
			continue;
		}
		if (s == NULL) {
			struct mg_cls_conf conf = conf_of(dp, net, f);

			s = mg_cls_set_create(&conf, NULL, cls_sync, dp, err);
			if (s == NULL) {
				/*
				 * Only memory can fail here; the other family may be live
				 * already, with the new targets: keep them held (with the
				 * old ones) rather than free what a live table uses.
				 */
				rc = -err->code;
				next = (struct held_list){0};
				goto out;
			}
			mg_cls_set_install(s, t[f]);
			t[f] = NULL;
			__atomic_store_n(&dp->cls[net][f], s, __ATOMIC_RELEASE);
		} else {
			mg_cls_set_install(s, t[f]);
			t[f] = NULL;
		}
	}
	/* The old tables are unpublished and past a grace period: give back their targets. */
	held_release(net, &held[net]);
	held[net] = next;
	next = (struct held_list){0};
out:
	held_release(net, &next);
	mg_cls_table_free(t[0]);
	mg_cls_table_free(t[1]);
	free(cr);
	free(hdl[0]);
	free(hdl[1]);
	return rc;
}

void
mg_gw_cls_rebalance(struct mg_dp *dp)
{
	uint64_t tsc = rte_rdtsc();

	for (unsigned int net = 0; net < MG_MAX_NETS; net++)
		for (unsigned int f = 0; f < 2; f++)
			if (dp->cls[net][f] != NULL)
				mg_cls_police_rebalance(mg_cls_set_table_main(dp->cls[net][f]), tsc);
}

void
mg_gw_cls_destroy(struct mg_dp *dp)
{
	for (unsigned int net = 0; net < MG_MAX_NETS; net++)
		for (unsigned int f = 0; f < 2; f++) {
			mg_cls_set_destroy(dp->cls[net][f]);
			dp->cls[net][f] = NULL;
		}
}

/* One counter object: {"action": .., "packets": .., "bytes": .. [, police colours]}. */
static void
json_counters(FILE *f, const char *key, enum mg_rule_action a, const struct mg_cls_counters *c,
	      bool first)
{
	fprintf(f, "%s\n      \"%s\": {\"action\": \"%s\", \"packets\": %" PRIu64
		   ", \"bytes\": %" PRIu64, first ? "" : ",", key, mg_rule_action_name(a), c->pkts,
		c->bytes);
	if (a == MG_RULE_POLICE)
		fprintf(f, ", \"green\": %" PRIu64 ", \"yellow\": %" PRIu64 ", \"red\": %" PRIu64
			   ", \"red_bytes\": %" PRIu64, c->green, c->yellow, c->red, c->red_bytes);
	fprintf(f, "}");
}

void
mg_gw_cls_write_json(FILE *f, struct mg_dp *dp, const struct mg_model *m)
{
	bool first_net = true;

	fprintf(f, ",\n  \"rules\": {");
	for (uint16_t net = 0; net < MG_MAX_NETS && net < mg_model_network_max(); net++) {
		const struct mg_ruleset *rs = mg_model_rules_get(m, net);
		struct mg_cls_counters c;
		char key[16];

		if (rs == NULL)
			continue;
		fprintf(f, "%s\n    \"%s\": {", first_net ? "" : ",",
			mg_model_network_get(m, net)->spec.name);
		first_net = false;
		memset(&c, 0, sizeof(c));
		mg_cls_sets_counters(dp->cls[net], 2, MG_CLS_ID_DEFAULT, &c);
		json_counters(f, "default", rs->def, &c, true);
		for (uint32_t i = 0; i < rs->n; i++) {
			memset(&c, 0, sizeof(c));
			mg_cls_sets_counters(dp->cls[net], 2, rs->rules[i].spec.id, &c);
			snprintf(key, sizeof(key), "%u", rs->rules[i].spec.id);
			json_counters(f, key, rs->rules[i].spec.action, &c, false);
		}
		fprintf(f, "\n    }");
	}
	fprintf(f, "\n  }");
}

/* ---- DPDK telemetry: /meshgate/rules ------------------------------------------------------ */

/*
 * The telemetry thread must not touch the tables (the main lcore frees
 * replaced ones), so it reads a copy the main lcore refreshes once a
 * second: one entry per rule, "NETWORK/ID" (or "NETWORK/default").
 */
#define TEL_MAX (RTE_TEL_MAX_DICT_ENTRIES - 1)

struct tel_rule {
	char key[RTE_TEL_MAX_STRING_LEN];
	uint64_t pkts, bytes;
};

static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tel_rule tel_snap[TEL_MAX];
static unsigned int tel_n;
static bool tel_truncated;

/* Telemetry keys allow [A-Za-z0-9_./] only. */
static void
tel_clean(char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '/'))
			*s = '_';
}

void
mg_gw_cls_refresh(struct mg_dp *dp, const struct mg_model *m)
{
	static struct tel_rule next[TEL_MAX];
	unsigned int n = 0;
	bool more = false;

	for (uint16_t net = 0; net < MG_MAX_NETS && net < mg_model_network_max(); net++) {
		const struct mg_ruleset *rs = mg_model_rules_get(m, net);

		for (uint32_t i = 0; rs != NULL && i <= rs->n; i++) {
			uint32_t id = i < rs->n ? rs->rules[i].spec.id : MG_CLS_ID_DEFAULT;
			struct mg_cls_counters c;

			if (n == TEL_MAX) {
				more = true;
				break;
			}
			memset(&c, 0, sizeof(c));
			mg_cls_sets_counters(dp->cls[net], 2, id, &c);
			if (i < rs->n)
				snprintf(next[n].key, sizeof(next[n].key), "%s/%u",
					 mg_model_network_get(m, net)->spec.name, id);
			else
				snprintf(next[n].key, sizeof(next[n].key), "%s/default",
					 mg_model_network_get(m, net)->spec.name);
			tel_clean(next[n].key);
			next[n].pkts = c.pkts;
			next[n].bytes = c.bytes;
			n++;
		}
	}
	pthread_mutex_lock(&tel_lock);
	memcpy(tel_snap, next, sizeof(next[0]) * n);
	tel_n = n;
	tel_truncated = more;
	pthread_mutex_unlock(&tel_lock);
}

static int
tel_rules(const char *cmd, const char *params, struct rte_tel_data *d)
{
	/* One thread per telemetry client: no static buffer here. */
	struct tel_rule *copy = malloc(sizeof(*copy) * TEL_MAX);
	unsigned int n;
	bool more;

	(void)cmd;
	(void)params;
	if (copy == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&tel_lock);
	n = tel_n;
	more = tel_truncated;
	memcpy(copy, tel_snap, sizeof(copy[0]) * n);
	pthread_mutex_unlock(&tel_lock);
	rte_tel_data_start_dict(d);
	for (unsigned int i = 0; i < n; i++) {
		struct rte_tel_data *c = rte_tel_data_alloc();

		if (c == NULL) {
			free(copy);
			return -ENOMEM;
		}
		rte_tel_data_start_dict(c);
		rte_tel_data_add_dict_u64(c, "packets", copy[i].pkts);
		rte_tel_data_add_dict_u64(c, "bytes", copy[i].bytes);
		rte_tel_data_add_dict_container(d, copy[i].key, c, 0);
	}
	if (more)
		rte_tel_data_add_dict_u64(d, "truncated", 1);
	free(copy);
	return 0;
}

int
mg_gw_cls_telemetry_register(void)
{
	return rte_telemetry_register_cmd("/meshgate/rules", tel_rules,
					  "Classification rule counters as of the last second: "
					  "{\"NETWORK/ID\": {packets, bytes}}, at most 255 rules.");
}
