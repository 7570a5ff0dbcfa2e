/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Classification rules over REST and in durable state: a network's rule
 * list as JSON (the YAML `classify:` entry's fields), replaced whole with
 * PUT /v1/networks/NAME/rules, read back with its counters, journaled as
 * {"rules": {...}} entries and kept in snapshots.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_priv.h"
#include "mg_cls.h"
#include "mg_dp.h"
#include "mg_rules.h"

static const struct {
	const char *name;
	int proto;
} protos[] = {{"icmp", 1}, {"tcp", 6}, {"udp", 17}, {"icmpv6", 58}, {"sctp", 132},
	      {"gre", 47}, {"esp", 50}, {"ah", 51}};

/* ---- JSON to a rule list -------------------------------------------------------------- */

static int
rd_range(json_t *o, const char *key, const char *path, unsigned int max, struct mg_rule_range *r,
	 struct mg_error *err)
{
	json_t *v = json_object_get(o, key);
	unsigned long long lo, hi;
	char p[128], buf[32], *dash, *end;

	snprintf(p, sizeof(p), "%s.%s", path, key);
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		lo = hi = (unsigned long long)json_integer_value(v);
		if (json_integer_value(v) < 0 || lo > max)
			return mg_error_set(err, EINVAL, p, "%lld is out of range 0-%u",
					    (long long)json_integer_value(v), max);
	} else if (json_is_string(v) && json_string_length(v) < sizeof(buf)) {
		mg_strlcpy(buf, json_string_value(v), sizeof(buf));
		dash = strchr(buf, '-');
		if (dash != NULL)
			*dash++ = '\0';
		errno = 0;
		lo = strtoull(buf, &end, 10);
		if (buf[0] < '0' || buf[0] > '9' || *end != '\0' || errno != 0)
			goto bad;
		hi = lo;
		if (dash != NULL) {
			hi = strtoull(dash, &end, 10);
			if (dash[0] < '0' || dash[0] > '9' || *end != '\0' || errno != 0)
				goto bad;
		}
		if (lo > hi || hi > max)
			return mg_error_set(err, EINVAL, p, "'%s' is not a range within 0-%u",
					    json_string_value(v), max);
	} else {
		goto bad;
	}
	*r = (struct mg_rule_range){.set = true, .lo = (uint16_t)lo, .hi = (uint16_t)hi};
	return 0;
bad:
	return mg_error_set(err, EINVAL, p, "expected a number or a range like \"1000-2000\"");
}

static int
rd_prefix(json_t *o, const char *key, const char *path, struct mg_prefix *pf, struct mg_error *err)
{
	char buf[80], p[128];
	int rc = cj_str(o, key, path, buf, sizeof(buf), false, err);
	struct mg_ip ip;

	if (rc <= 0)
		return rc;
	if (mg_prefix_parse(buf, pf) == 0)
		return 0;
	snprintf(p, sizeof(p), "%s.%s", path, key);
	if (mg_ip_parse(buf, &ip) < 0)
		return mg_error_set(err, EINVAL, p, "'%s' is not a prefix or an address", buf);
	pf->addr = ip;
	pf->len = (uint8_t)mg_ip_maxlen(&ip);
	return 0;
}

/* One rule object at @path. */
static int
rd_rule(json_t *o, const char *path, struct mg_rule_spec *r, struct mg_error *err)
{
	static const char *const fields[] = {"id", "priority", "family", "src", "dst", "protocol",
					     "sport", "dport", "icmp_type", "icmp_code", "vlan",
					     "dscp", "interface", "action", "rate", "burst", "excess",
					     "set_dscp", "table", "service", "tunnel", "via", "counters",
					     NULL};
	unsigned long long u;
	char buf[32], p[128];
	json_t *v;
	int rc;

	memset(r, 0, sizeof(*r));
	r->proto = -1;
	r->vlan = -1;
	r->dscp = -1;
	if ((rc = cj_check_fields(o, fields, path, err)) < 0)
		return rc;
	if ((rc = cj_u32(o, "id", path, 1, MG_RULE_ID_MAX, &r->id, false, err)) < 0)
		return rc;
	v = json_object_get(o, "priority");
	if (v != NULL && !json_is_null(v)) {
		snprintf(p, sizeof(p), "%s.priority", path);
		if (!json_is_integer(v) || json_integer_value(v) < -1000000000LL ||
		    json_integer_value(v) > 1000000000LL)
			return mg_error_set(err, EINVAL, p, "expected an integer within +-1e9");
		r->priority = (int32_t)json_integer_value(v);
	}
	if ((rc = cj_str(o, "family", path, buf, sizeof(buf), false, err)) < 0)
		return rc;
	if (rc > 0) {
		snprintf(p, sizeof(p), "%s.family", path);
		if (strcmp(buf, "ipv4") && strcmp(buf, "ipv6"))
			return mg_error_set(err, EINVAL, p, "'%s' is not ipv4 or ipv6", buf);
		r->family = buf[3] == '4' ? AF_INET : AF_INET6;
	}
	if ((rc = rd_prefix(o, "src", path, &r->src, err)) < 0 ||
	    (rc = rd_prefix(o, "dst", path, &r->dst, err)) < 0)
		return rc;
	v = json_object_get(o, "protocol");
	if (v != NULL && !json_is_null(v)) {
		snprintf(p, sizeof(p), "%s.protocol", path);
		if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 255)
			r->proto = (int16_t)json_integer_value(v);
		for (unsigned int i = 0; json_is_string(v) && i < RTE_DIM(protos); i++)
			if (strcmp(json_string_value(v), protos[i].name) == 0)
				r->proto = (int16_t)protos[i].proto;
		if (r->proto < 0)
			return mg_error_set(err, EINVAL, p,
					    "expected tcp, udp, sctp, icmp, icmpv6, gre, esp, ah or 0-255");
	}
	if ((rc = rd_range(o, "sport", path, 65535, &r->sport, err)) < 0 ||
	    (rc = rd_range(o, "dport", path, 65535, &r->dport, err)) < 0 ||
	    (rc = rd_range(o, "icmp_type", path, 255, &r->icmp_type, err)) < 0 ||
	    (rc = rd_range(o, "icmp_code", path, 255, &r->icmp_code, err)) < 0)
		return rc;
	if ((rc = cj_uint(o, "vlan", path, 0, 4095, &u, false, err)) < 0)
		return rc;
	if (rc > 0)
		r->vlan = (int32_t)u;
	if ((rc = cj_uint(o, "dscp", path, 0, 63, &u, false, err)) < 0)
		return rc;
	if (rc > 0)
		r->dscp = (int16_t)u;
	if ((rc = cj_str(o, "interface", path, r->iface, sizeof(r->iface), false, err)) < 0)
		return rc;
	if ((rc = cj_str(o, "action", path, buf, sizeof(buf), false, err)) < 0)
		return rc;
	if (rc > 0) {
		int a = mg_rule_action_parse(buf);

		snprintf(p, sizeof(p), "%s.action", path);
		if (a < 0)
			return mg_error_set(err, EINVAL, p,
					    "'%s' is not one of: permit, deny, count, police, mark, table, "
					    "capture, service, tunnel",
					    buf);
		r->action = (enum mg_rule_action)a;
	}
	if ((rc = cj_uint(o, "rate", path, 1, UINT64_MAX >> 1, &u, false, err)) < 0)
		return rc;
	r->rate = rc > 0 ? u : 0;
	if ((rc = cj_uint(o, "burst", path, 1, UINT64_MAX >> 1, &u, false, err)) < 0)
		return rc;
	r->burst = rc > 0 ? u : 0;
	if ((rc = cj_uint(o, "excess", path, 0, UINT64_MAX >> 1, &u, false, err)) < 0)
		return rc;
	r->excess = rc > 0 ? u : 0;
	if ((rc = cj_uint(o, "set_dscp", path, 0, 63, &u, false, err)) < 0)
		return rc;
	r->set_dscp = rc > 0 ? (uint8_t)u : 0;
	if ((rc = cj_str(o, "table", path, r->table, sizeof(r->table), false, err)) < 0)
		return rc;
	if ((rc = cj_str(o, "service", path, r->service, sizeof(r->service), false, err)) < 0)
		return rc;
	if ((rc = cj_str(o, "tunnel", path, r->tunnel, sizeof(r->tunnel), false, err)) < 0)
		return rc;
	if ((rc = cj_ip(o, "via", path, &r->via, false, err)) < 0)
		return rc;
	return 0;
}

/*
 * Parse {"default": .., "rules": [..]} for network @network into @s; the
 * rule array is allocated into *@buf (the caller frees it).
 */
static int
rd_rules(json_t *body, const char *network, struct mg_rules_spec *s, struct mg_rule_spec **buf,
	 struct mg_error *err)
{
	static const char *const fields[] = {"network", "default", "rules", "counters",
					     "result_cache", NULL};
	json_t *rules, *o;
	char def[16], p[48];
	size_t i, n;
	int rc;

	*buf = NULL;
	memset(s, 0, sizeof(*s));
	mg_strlcpy(s->network, network, sizeof(s->network));
	if ((rc = cj_check_fields(body, fields, "", err)) < 0)
		return rc;
	if ((rc = cj_str(body, "default", "", def, sizeof(def), false, err)) < 0)
		return rc;
	if (rc > 0) {
		if (strcmp(def, "permit") && strcmp(def, "deny"))
			return mg_error_set(err, EINVAL, "default", "'%s' is not permit or deny", def);
		s->def = def[0] == 'd' ? MG_RULE_DENY : MG_RULE_PERMIT;
	}
	rules = json_object_get(body, "rules");
	if (rules == NULL || json_is_null(rules))
		return 0;
	if (!json_is_array(rules))
		return mg_error_set(err, EINVAL, "rules", "expected an array of rules");
	n = json_array_size(rules);
	if (n > MG_RULES_MAX)
		return mg_error_set(err, ENOSPC, "rules", "at most %u rules per network",
				    MG_RULES_MAX);
	*buf = calloc(n ? n : 1, sizeof(**buf));
	if (*buf == NULL)
		return mg_error_set(err, ENOMEM, "rules", "out of memory");
	json_array_foreach(rules, i, o) {
		snprintf(p, sizeof(p), "rules[%zu]", i);
		if ((rc = rd_rule(o, p, &(*buf)[i], err)) < 0)
			return rc;
	}
	s->rules = *buf;
	s->n = (uint32_t)n;
	return 0;
}

/* ---- a rule list to JSON ----------------------------------------------------------------- */

static json_t *
range_json(const struct mg_rule_range *r)
{
	char buf[16];

	if (r->lo == r->hi)
		return json_integer(r->lo);
	snprintf(buf, sizeof(buf), "%u-%u", r->lo, r->hi);
	return json_string(buf);
}

static json_t *
counters_json(const struct mg_cls_counters *c, enum mg_rule_action a)
{
	json_t *o = json_pack("{s:I,s:I}", "packets", (json_int_t)c->pkts, "bytes",
			      (json_int_t)c->bytes);

	if (a == MG_RULE_POLICE) {
		json_object_set_new(o, "green", json_integer((json_int_t)c->green));
		json_object_set_new(o, "yellow", json_integer((json_int_t)c->yellow));
		json_object_set_new(o, "red", json_integer((json_int_t)c->red));
		json_object_set_new(o, "red_bytes", json_integer((json_int_t)c->red_bytes));
	}
	return o;
}

/*
 * The workers' result caches of a network's current tables, by family:
 * entries per worker, lookups and hits since the table was built (a new
 * rule set starts with empty caches). Families without one are left out.
 */
static json_t *
cache_json(struct mg_cls_set *const *sets)
{
	static const char *const fam[2] = {"ipv4", "ipv6"};
	json_t *o = json_object();

	for (unsigned int i = 0; i < 2; i++) {
		const struct mg_cls_table *t = sets[i] ? mg_cls_set_table_main(sets[i]) : NULL;
		struct mg_cls_info info;

		if (t == NULL)
			continue;
		mg_cls_table_info(t, &info);
		if (info.cache_entries == 0)
			continue;
		json_object_set_new(o, fam[i],
				    json_pack("{s:I,s:I,s:I}", "entries",
					      (json_int_t)info.cache_entries, "lookups",
					      (json_int_t)info.cache_lookups, "hits",
					      (json_int_t)info.cache_hits));
	}
	return o;
}

static json_t *
rule_json(const struct mg_rule *ru)
{
	const struct mg_rule_spec *r = &ru->spec;
	json_t *o = json_object();
	char buf[MG_PREFIX_STRLEN];

	json_object_set_new(o, "id", json_integer(r->id));
	if (r->priority != 0)
		json_object_set_new(o, "priority", json_integer(r->priority));
	if (ru->family != 0)
		json_object_set_new(o, "family",
				    json_string(ru->family == AF_INET ? "ipv4" : "ipv6"));
	if (r->src.len > 0)
		json_object_set_new(o, "src", json_string(mg_prefix_fmt(&r->src, buf, sizeof(buf))));
	if (r->dst.len > 0)
		json_object_set_new(o, "dst", json_string(mg_prefix_fmt(&r->dst, buf, sizeof(buf))));
	if (r->proto >= 0) {
		json_t *pv = json_integer(r->proto);

		for (unsigned int i = 0; i < RTE_DIM(protos); i++)
			if (protos[i].proto == r->proto) {
				json_decref(pv);
				pv = json_string(protos[i].name);
			}
		json_object_set_new(o, "protocol", pv);
	}
	if (r->sport.set)
		json_object_set_new(o, "sport", range_json(&r->sport));
	if (r->dport.set)
		json_object_set_new(o, "dport", range_json(&r->dport));
	if (r->icmp_type.set)
		json_object_set_new(o, "icmp_type", range_json(&r->icmp_type));
	if (r->icmp_code.set)
		json_object_set_new(o, "icmp_code", range_json(&r->icmp_code));
	if (r->vlan >= 0)
		json_object_set_new(o, "vlan", json_integer(r->vlan));
	if (r->dscp >= 0)
		json_object_set_new(o, "dscp", json_integer(r->dscp));
	if (r->iface[0] != '\0')
		json_object_set_new(o, "interface", json_string(r->iface));
	json_object_set_new(o, "action", json_string(mg_rule_action_name(r->action)));
	if (r->action == MG_RULE_POLICE) {
		json_object_set_new(o, "rate", json_integer((json_int_t)r->rate));
		json_object_set_new(o, "burst", json_integer((json_int_t)r->burst));
		if (r->excess)
			json_object_set_new(o, "excess", json_integer((json_int_t)r->excess));
	}
	if (r->action == MG_RULE_MARK)
		json_object_set_new(o, "set_dscp", json_integer(r->set_dscp));
	if (r->action == MG_RULE_TABLE)
		json_object_set_new(o, "table", json_string(r->table));
	if (r->action == MG_RULE_SERVICE)
		json_object_set_new(o, "service", json_string(r->service));
	if (r->action == MG_RULE_TUNNEL)
		json_object_set_new(o, "tunnel", json_string(r->tunnel));
	if (r->action == MG_RULE_TUNNEL && r->via.family != 0) {
		char b[MG_IP_STRLEN];

		json_object_set_new(o, "via", json_string(mg_ip_fmt(&r->via, b, sizeof(b))));
	}
	return o;
}

json_t *
ctl_rules_json(struct mg_ctl *c, uint16_t net, bool counters)
{
	const struct mg_ruleset *rs = mg_model_rules_get(c->env.model, net);
	const struct mg_network *n = mg_model_network_get(c->env.model, net);
	struct mg_cls_set *const *sets = c->env.dp != NULL ? c->env.dp->cls[net] : NULL;
	json_t *o = json_object(), *arr = json_array();
	struct mg_cls_counters k;

	json_object_set_new(o, "network", json_string(n ? n->spec.name : "?"));
	json_object_set_new(o, "default",
			    json_string(rs && rs->def == MG_RULE_DENY ? "deny" : "permit"));
	for (uint32_t i = 0; rs != NULL && i < rs->n; i++) {
		json_t *r = rule_json(&rs->rules[i]);

		if (counters) {
			memset(&k, 0, sizeof(k));
			if (sets != NULL)
				mg_cls_sets_counters(sets, 2, rs->rules[i].spec.id, &k);
			json_object_set_new(r, "counters", counters_json(&k, rs->rules[i].spec.action));
		}
		json_array_append_new(arr, r);
	}
	json_object_set_new(o, "rules", arr);
	if (counters) {
		memset(&k, 0, sizeof(k));
		if (sets != NULL && rs != NULL)
			mg_cls_sets_counters(sets, 2, MG_CLS_ID_DEFAULT, &k);
		json_object_set_new(o, "counters", counters_json(&k, MG_RULE_PERMIT));
		json_object_set_new(o, "result_cache",
				    sets != NULL ? cache_json(sets) : json_object());
	}
	return o;
}

/* ---- changes ----------------------------------------------------------------------------- */

int
ctl_rules_put(struct mg_ctl *c, const char *network, json_t *body, struct mg_error *err)
{
	const struct mg_network *n = mg_model_network_find(c->env.model, network);
	struct mg_rule_spec *buf = NULL, *old = NULL;
	struct mg_rules_spec s, prev;
	const struct mg_ruleset *cur;
	int rc;

	mg_error_clear(err);
	if (n == NULL)
		return mg_error_set(err, ENOENT, "network", "no network named '%s'", network);
	rc = rd_rules(body, network, &s, &buf, err);
	if (rc < 0)
		goto out;
	/* What to put back if the journal refuses the change. */
	cur = mg_model_rules_get(c->env.model, n->id);
	memset(&prev, 0, sizeof(prev));
	mg_strlcpy(prev.network, network, sizeof(prev.network));
	if (cur != NULL) {
		old = calloc(cur->n ? cur->n : 1, sizeof(*old));
		if (old == NULL) {
			rc = mg_error_set(err, ENOMEM, "", "out of memory");
			goto out;
		}
		for (uint32_t i = 0; i < cur->n; i++)
			old[i] = cur->rules[i].spec;
		prev = (struct mg_rules_spec){.def = cur->def, .rules = old, .n = cur->n};
		mg_strlcpy(prev.network, network, sizeof(prev.network));
	}
	rc = mg_model_rules_set(c->env.model, &s, err);
	if (rc < 0)
		goto out;
	if (!c->replaying && c->journal_fd >= 0) {
		json_t *entry = json_pack("{s:o}", "rules", ctl_rules_json(c, n->id, false));

		rc = ctl_state_append(c, entry, err);
		json_decref(entry);
		if (rc < 0) {
			struct mg_error e2;

			mg_model_rules_set(c->env.model, &prev, &e2);
			goto out;
		}
	}
	c->requests_ok++;
out:
	if (rc < 0)
		c->requests_failed++;
	free(buf);
	free(old);
	return rc;
}

int
ctl_rules_replay(struct mg_ctl *c, json_t *entry, struct mg_error *err)
{
	char net[MG_NAME_MAX];
	int rc = cj_str(entry, "network", "", net, sizeof(net), true, err);

	if (rc < 0)
		return rc;
	return ctl_rules_put(c, net, entry, err);
}

json_t *
ctl_rules_snapshot(struct mg_ctl *c)
{
	json_t *a = json_array();

	for (uint16_t net = 0; net < mg_model_network_max(); net++)
		if (mg_model_rules_get(c->env.model, net) != NULL)
			json_array_append_new(a, ctl_rules_json(c, net, false));
	return a;
}

/* ---- /metrics ------------------------------------------------------------------------------ */

/* A label value with backslash, double quote and newline escaped. */
static void
label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* Every series of one metric over every rule of every network (and the defaults). */
static void
rules_series(struct mg_ctl *c, FILE *f, const char *name, const char *type, const char *help,
	     int what)
{
	static const char *const colors[] = {"green", "yellow", "red"};
	bool header = false;

	for (uint16_t net = 0; net < mg_model_network_max() && net < MG_MAX_NETS; net++) {
		const struct mg_ruleset *rs = mg_model_rules_get(c->env.model, net);

		for (uint32_t i = 0; rs != NULL && i <= rs->n; i++) {
			uint32_t id = i < rs->n ? rs->rules[i].spec.id : MG_CLS_ID_DEFAULT;
			enum mg_rule_action a = i < rs->n ? rs->rules[i].spec.action : rs->def;
			struct mg_cls_counters k;
			char rid[16];

			if (what >= 2 && a != MG_RULE_POLICE)
				continue;
			if (!header) {
				fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
				header = true;
			}
			memset(&k, 0, sizeof(k));
			if (c->env.dp != NULL)
				mg_cls_sets_counters(c->env.dp->cls[net], 2, id, &k);
			snprintf(rid, sizeof(rid), "%u", id);
			for (int col = 0; col < (what >= 2 ? 3 : 1); col++) {
				uint64_t v = what == 0 ? k.pkts : what == 1 ? k.bytes :
					     col == 0 ? k.green : col == 1 ? k.yellow : k.red;

				fprintf(f, "%s{network=\"", name);
				label(f, mg_model_network_get(c->env.model, net)->spec.name);
				fprintf(f, "\",rule=\"%s\",action=\"%s\"",
					i < rs->n ? rid : "default", mg_rule_action_name(a));
				if (what >= 2)
					fprintf(f, ",color=\"%s\"", colors[col]);
				fprintf(f, "} %" PRIu64 "\n", v);
			}
		}
	}
}

void
ctl_rules_metrics(struct mg_ctl *c, FILE *f)
{
	rules_series(c, f, "meshgate_rule_packets_total", "counter",
		     "Packets won by a classification rule (rule=\"default\": the network's default).",
		     0);
	rules_series(c, f, "meshgate_rule_bytes_total", "counter",
		     "IP bytes of the packets won by a classification rule.", 1);
	rules_series(c, f, "meshgate_rule_police_packets_total", "counter",
		     "Packets metered by a police rule, by srTCM colour (red: dropped).", 2);
}
