/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Classification rules in the model: validation of a whole list (the same
 * rules lib/cls applies, checked here so that `meshgate --check` and every
 * transport refuse a bad rule with its field before the data plane sees
 * it), name resolution, and the installed copy per network.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg_rules.h"

enum { P_ICMP = 1, P_TCP = 6, P_UDP = 17, P_ICMPV6 = 58, P_SCTP = 132 };

const char *
mg_rule_action_name(enum mg_rule_action a)
{
	static const char *const names[] = {"permit", "deny", "count", "police", "mark", "table",
						    "capture", "service", "tunnel"};

	return (unsigned int)a < MG_RULE_ACTION_MAX ? names[a] : "?";
}

int
mg_rule_action_parse(const char *s)
{
	for (int a = 0; a < MG_RULE_ACTION_MAX; a++)
		if (strcmp(s, mg_rule_action_name((enum mg_rule_action)a)) == 0)
			return a;
	return -1;
}

void
mg_ruleset_free(struct mg_ruleset *rs)
{
	if (rs == NULL)
		return;
	free(rs->rules);
	free(rs);
}

/* Report a bad field of rule @i. */
static int __attribute__((format(printf, 5, 6)))
bad(struct mg_error *err, int code, uint32_t i, const char *field, const char *fmt, ...)
{
	char f[64], msg[200];
	va_list ap;

	snprintf(f, sizeof(f), "rules[%u]%s%s", i, field[0] ? "." : "", field);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return mg_error_set(err, code, f, "%s", msg);
}

static bool
has_ports(int proto)
{
	return proto == P_TCP || proto == P_UDP || proto == P_SCTP;
}

/*
 * The IPv6 extension headers classification walks past to reach the
 * upper-layer protocol (mg_ip6_is_ext in lib/proto): hop-by-hop, routing,
 * fragment, AH, destination options, mobility, HIP, shim6.
 */
static bool
ip6_ext(int proto)
{
	return proto == 0 || proto == 43 || proto == 44 || proto == 51 || proto == 60 ||
	       proto == 135 || proto == 139 || proto == 140;
}

/* Merge family @f (0: says nothing) into *fam; false on a conflict. */
static bool
fam_merge(uint8_t *fam, uint8_t f)
{
	if (f == 0 || *fam == f)
		return true;
	if (*fam == 0) {
		*fam = f;
		return true;
	}
	return false;
}

static int
check_range(const struct mg_rule_range *r, uint32_t i, const char *field, uint16_t max,
	    struct mg_error *err)
{
	if (!r->set)
		return 0;
	if (r->lo > r->hi)
		return bad(err, EINVAL, i, field, "range %u-%u runs backwards", r->lo, r->hi);
	if (r->hi > max)
		return bad(err, EINVAL, i, field, "%u is above %u", r->hi, max);
	return 0;
}

/* Validate and resolve rule @i into @out. */
static int
rule_resolve(const struct mg_model *m, uint16_t net, const struct mg_rule_spec *s, uint32_t i,
	     struct mg_rule *out, struct mg_error *err)
{
	uint8_t fam = s->family;
	int rc;

	memset(out, 0, sizeof(*out));
	out->spec = *s;
	out->iface = UINT16_MAX;
	out->tunnel = UINT16_MAX;
	if (s->family != 0 && s->family != AF_INET && s->family != AF_INET6)
		return bad(err, EINVAL, i, "family", "must be ipv4 or ipv6");
	if (s->src.len > 0 || s->src.addr.family != 0) {
		if (s->src.len > mg_ip_maxlen(&s->src.addr))
			return bad(err, EINVAL, i, "src", "prefix length too long");
		if (!fam_merge(&fam, s->src.addr.family))
			return bad(err, EINVAL, i, "src", "an %s prefix in an %s rule",
				   s->src.addr.family == AF_INET ? "IPv4" : "IPv6",
				   fam == AF_INET ? "IPv4" : "IPv6");
	}
	if (s->dst.len > 0 || s->dst.addr.family != 0) {
		if (s->dst.len > mg_ip_maxlen(&s->dst.addr))
			return bad(err, EINVAL, i, "dst", "prefix length too long");
		if (!fam_merge(&fam, s->dst.addr.family))
			return bad(err, EINVAL, i, "dst", "an %s prefix in an %s rule",
				   s->dst.addr.family == AF_INET ? "IPv4" : "IPv6",
				   fam == AF_INET ? "IPv4" : "IPv6");
	}
	if (s->proto > 255)
		return bad(err, EINVAL, i, "protocol", "IP protocols are 0..255");
	if ((s->proto == P_ICMP && !fam_merge(&fam, AF_INET)) ||
	    (s->proto == P_ICMPV6 && !fam_merge(&fam, AF_INET6)))
		return bad(err, EINVAL, i, "protocol", "%s in an %s rule",
			   s->proto == P_ICMP ? "icmp" : "icmpv6", fam == AF_INET ? "IPv4" : "IPv6");
	/* An IPv6 rule never sees such a protocol: it matches IPv4 only (as icmp does). */
	if (s->proto >= 0 && ip6_ext(s->proto) && !fam_merge(&fam, AF_INET))
		return bad(err, EINVAL, i, "protocol",
			   "protocol %d is an IPv6 extension header, which IPv6 rules look past to "
			   "the protocol after it: only IPv4 can match it", s->proto);
	if ((rc = check_range(&s->sport, i, "sport", 65535, err)) < 0 ||
	    (rc = check_range(&s->dport, i, "dport", 65535, err)) < 0 ||
	    (rc = check_range(&s->icmp_type, i, "icmp_type", 255, err)) < 0 ||
	    (rc = check_range(&s->icmp_code, i, "icmp_code", 255, err)) < 0)
		return rc;
	if ((s->sport.set || s->dport.set) && s->proto >= 0 && !has_ports(s->proto))
		return bad(err, EINVAL, i, s->sport.set ? "sport" : "dport",
			   "ports need protocol tcp, udp or sctp (or no protocol)");
	if ((s->icmp_type.set || s->icmp_code.set) && s->proto != P_ICMP && s->proto != P_ICMPV6)
		return bad(err, EINVAL, i, s->icmp_type.set ? "icmp_type" : "icmp_code",
			   "ICMP type and code need protocol icmp or icmpv6");
	if (s->vlan < -1 || s->vlan > 4095)
		return bad(err, EINVAL, i, "vlan", "VLAN ids are 0..4095 (0: untagged)");
	if (s->dscp < -1 || s->dscp > 63)
		return bad(err, EINVAL, i, "dscp", "DSCP values are 0..63");
	if (s->iface[0] != '\0') {
		const struct mg_iface *ifc = mg_model_iface_find(m, s->iface);

		if (ifc == NULL)
			return bad(err, ENOENT, i, "interface", "no interface named '%s'", s->iface);
		if (ifc->network != net)
			return bad(err, EINVAL, i, "interface", "'%s' is not in this network",
				   s->iface);
		out->iface = ifc->id;
	}
	switch (s->action) {
	case MG_RULE_POLICE:
		if (s->rate == 0)
			return bad(err, EINVAL, i, "rate", "police needs a rate above 0 (bytes/s)");
		if (s->burst == 0)
			return bad(err, EINVAL, i, "burst", "police needs a burst above 0 (bytes)");
		break;
	case MG_RULE_MARK:
		if (s->set_dscp > 63)
			return bad(err, EINVAL, i, "set_dscp", "DSCP values are 0..63");
		break;
	case MG_RULE_TABLE: {
		const struct mg_network *t = mg_model_network_find(m, s->table);

		if (s->table[0] == '\0')
			return bad(err, EINVAL, i, "table", "action table needs a network name");
		if (t == NULL)
			return bad(err, ENOENT, i, "table", "no network named '%s'", s->table);
		out->table = t->id;
		break;
	}
	case MG_RULE_SERVICE:
		if (s->service[0] == '\0')
			return bad(err, EINVAL, i, "service", "action service needs a service name");
		break;
	case MG_RULE_TUNNEL: {
		const struct mg_iface *t = mg_model_iface_find(m, s->tunnel);

		if (s->tunnel[0] == '\0')
			return bad(err, EINVAL, i, "tunnel", "action tunnel needs a tunnel name");
		if (t == NULL)
			return bad(err, ENOENT, i, "tunnel", "no tunnel named '%s'", s->tunnel);
		if (t->kind != MG_IFACE_WG && t->kind != MG_IFACE_ESP && t->kind != MG_IFACE_VXLAN)
			return bad(err, EINVAL, i, "tunnel",
				   "'%s' is not a tunnel (WireGuard, ESP or VXLAN interface)", s->tunnel);
		if (t->network != net)
			return bad(err, EINVAL, i, "tunnel", "'%s' is in network '%s', not this one",
				   s->tunnel, mg_model_network_get(m, t->network)->spec.name);
		if (t->kind == MG_IFACE_VXLAN && s->via.family == 0)
			return bad(err, EINVAL, i, "via",
				   "a VXLAN tunnel is an Ethernet link: give the next hop on it (via)");
		if (t->kind != MG_IFACE_VXLAN && s->via.family != 0)
			return bad(err, EINVAL, i, "via",
				   "only a VXLAN tunnel takes a next hop ('%s' is point to point)",
				   s->tunnel);
		if (s->via.family != 0 && !fam_merge(&fam, s->via.family))
			return bad(err, EINVAL, i, "via", "an %s next hop in an %s rule",
				   s->via.family == AF_INET ? "IPv4" : "IPv6",
				   fam == AF_INET ? "IPv4" : "IPv6");
		out->tunnel = t->id;
		out->tunnel_kind = (uint8_t)t->kind;
		break;
	}
	default:
		if ((unsigned int)s->action >= MG_RULE_ACTION_MAX)
			return bad(err, EINVAL, i, "action", "unknown action");
		break;
	}
	if (s->action != MG_RULE_SERVICE && s->service[0] != '\0')
		return bad(err, EINVAL, i, "service", "only action service takes a service");
	if (s->action != MG_RULE_TUNNEL && s->tunnel[0] != '\0')
		return bad(err, EINVAL, i, "tunnel", "only action tunnel takes a tunnel");
	if (s->action != MG_RULE_TUNNEL && s->via.family != 0)
		return bad(err, EINVAL, i, "via", "only action tunnel takes a next hop");
	out->family = fam;
	out->spec.family = fam;
	return 0;
}

static int
id_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int
mg_model_rules_set(struct mg_model *m, const struct mg_rules_spec *s, struct mg_error *err)
{
	const struct mg_network *n = mg_model_network_find(m, s->network);
	const struct mg_model_backend *be = mg_model_backend(m);
	struct mg_ruleset *rs = NULL, **slot;
	uint32_t *ids = NULL;
	int rc;

	mg_error_clear(err);
	if (n == NULL)
		return mg_error_set(err, ENOENT, "network", "no network named '%s'", s->network);
	if (s->def != MG_RULE_PERMIT && s->def != MG_RULE_DENY)
		return mg_error_set(err, EINVAL, "default", "the default action is permit or deny");
	if (s->n > MG_RULES_MAX)
		return mg_error_set(err, ENOSPC, "rules", "at most %u rules per network",
				    MG_RULES_MAX);
	rs = calloc(1, sizeof(*rs));
	if (rs == NULL || (s->n > 0 && (rs->rules = calloc(s->n, sizeof(*rs->rules))) == NULL) ||
	    (ids = calloc(s->n ? s->n : 1, sizeof(*ids))) == NULL) {
		rc = mg_error_set(err, ENOMEM, "rules", "out of memory for %u rules", s->n);
		goto out;
	}
	rs->network = n->id;
	rs->def = s->def;
	rs->n = s->n;
	for (uint32_t i = 0; i < s->n; i++) {
		rc = rule_resolve(m, n->id, &s->rules[i], i, &rs->rules[i], err);
		if (rc < 0)
			goto out;
		if (rs->rules[i].spec.id == 0)
			rs->rules[i].spec.id = i + 1;
		if (rs->rules[i].spec.id > MG_RULE_ID_MAX) {
			rc = bad(err, EINVAL, i, "id", "ids are 1..%u", MG_RULE_ID_MAX);
			goto out;
		}
		ids[i] = rs->rules[i].spec.id;
	}
	qsort(ids, s->n, sizeof(*ids), id_cmp);
	for (uint32_t i = 1; i < s->n; i++)
		if (ids[i] == ids[i - 1]) {
			uint32_t seen = 0;

			for (uint32_t j = 0; j < s->n; j++)
				if (rs->rules[j].spec.id == ids[i] && seen++ == 1) {
					rc = bad(err, EEXIST, j, "id",
						 "id %u is used twice (rules without an id take "
						 "their position + 1)", ids[i]);
					goto out;
				}
		}
	if (s->n == 0 && s->def == MG_RULE_PERMIT) {
		/* Nothing to classify: the network has no rule set. */
		mg_ruleset_free(rs);
		rs = NULL;
	}
	if (be != NULL && be->rules_set != NULL) {
		rc = be->rules_set(be->ctx, n->id, rs, err);
		if (rc < 0)
			goto out;
	}
	slot = mg_model_rules_slot(m, n->id);
	mg_ruleset_free(*slot);
	*slot = rs;
	rs = NULL;
	rc = 0;
out:
	free(ids);
	mg_ruleset_free(rs);
	return rc;
}

const struct mg_ruleset *
mg_model_rules_get(const struct mg_model *m, uint16_t net)
{
	if (net >= MG_MODEL_MAX_NETWORKS)
		return NULL;
	return *mg_model_rules_slot((struct mg_model *)(uintptr_t)m, net);
}

int
mg_rules_iface_busy(const struct mg_model *m, uint16_t ifindex, const char *field,
		    struct mg_error *err)
{
	for (uint16_t net = 0; net < MG_MODEL_MAX_NETWORKS; net++) {
		const struct mg_ruleset *rs = mg_model_rules_get(m, net);

		for (uint32_t i = 0; rs != NULL && i < rs->n; i++) {
			if (rs->rules[i].iface == ifindex)
				return mg_error_set(err, EBUSY, field,
						    "interface is matched by rule %u of network '%s'",
						    rs->rules[i].spec.id,
						    mg_model_network_get(m, net)->spec.name);
			if (rs->rules[i].tunnel == ifindex)
				return mg_error_set(err, EBUSY, field,
						    "tunnel is the target of rule %u of network '%s'",
						    rs->rules[i].spec.id,
						    mg_model_network_get(m, net)->spec.name);
		}
	}
	return 0;
}

int
mg_rules_service_busy(const struct mg_model *m, const char *name, const char *field,
		      struct mg_error *err)
{
	for (uint16_t net = 0; net < MG_MODEL_MAX_NETWORKS; net++) {
		const struct mg_ruleset *rs = mg_model_rules_get(m, net);

		for (uint32_t i = 0; rs != NULL && i < rs->n; i++)
			if (rs->rules[i].spec.action == MG_RULE_SERVICE &&
			    strcmp(rs->rules[i].spec.service, name) == 0)
				return mg_error_set(err, EBUSY, field,
						    "service is the target of rule %u of network '%s'",
						    rs->rules[i].spec.id,
						    mg_model_network_get(m, net)->spec.name);
	}
	return 0;
}

int
mg_rules_net_busy(const struct mg_model *m, uint16_t target, const char *field,
		  struct mg_error *err)
{
	for (uint16_t net = 0; net < MG_MODEL_MAX_NETWORKS; net++) {
		const struct mg_ruleset *rs = mg_model_rules_get(m, net);

		for (uint32_t i = 0; rs != NULL && net != target && i < rs->n; i++)
			if (rs->rules[i].spec.action == MG_RULE_TABLE && rs->rules[i].table == target)
				return mg_error_set(err, EBUSY, field,
						    "network is the route table of rule %u of network '%s'",
						    rs->rules[i].spec.id,
						    mg_model_network_get(m, net)->spec.name);
	}
	return 0;
}

int
mg_rules_replay(struct mg_model *m, struct mg_error *err)
{
	const struct mg_model_backend *be = mg_model_backend(m);

	if (be == NULL || be->rules_set == NULL)
		return 0;
	for (uint16_t net = 0; net < MG_MODEL_MAX_NETWORKS; net++) {
		const struct mg_ruleset *rs = mg_model_rules_get(m, net);
		int rc;

		if (rs == NULL)
			continue;
		rc = be->rules_set(be->ctx, net, rs, err);
		if (rc < 0) {
			mg_error_prefix_field(err, "classify[%s]", mg_model_network_get(m, net)->spec.name);
			return rc;
		}
	}
	return 0;
}
