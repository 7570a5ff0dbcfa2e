/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Building tables (main lcore): rule validation, evaluation order, the
 * rte_acl field layout and rule translation, the worker slots; counters;
 * sets replaced whole.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <rte_cpuflags.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_vect.h>

#include "cls_priv.h"

RTE_LOG_REGISTER_SUFFIX(mg_cls_logtype, cls, INFO);

/* ---- the rte_acl layout ------------------------------------------------------------------ */

/*
 * Fields, in the order rte_acl walks them. The first field is one byte (its
 * rule); every later input group is four consecutive key bytes. The meta
 * group (interface, VLAN, DSCP) is in the layout only when a rule of the
 * table matches one of those: even left wild by every rule, a field makes
 * rte_acl split its tries differently, and lookups cost two to three times
 * as much (measured with tools/bench.d/cls_bench.c).
 */
enum {
	F4_PROTO, F4_SRC, F4_DST, F4_SPORT, F4_DPORT, F4_META, F4_NUM,
};
enum {
	F6_PROTO, F6_SRC0, F6_SRC1, F6_SRC2, F6_SRC3, F6_DST0, F6_DST1, F6_DST2, F6_DST3,
	F6_SPORT, F6_DPORT, F6_META, F6_NUM,
};

/* Fill the rte_acl field definitions of @family (@meta: with the meta group); the count. */
static uint32_t
cls_acl_fields(uint8_t family, bool meta, struct rte_acl_field_def *d)
{
	uint32_t n = 0, in = 0;

	d[n++] = (struct rte_acl_field_def){RTE_ACL_FIELD_TYPE_BITMASK, 1, 0, in++,
					    offsetof(struct mg_cls_key, proto)};
	if (family == AF_INET) {
		d[n] = (struct rte_acl_field_def){RTE_ACL_FIELD_TYPE_MASK, 4, F4_SRC, in++,
						  offsetof(struct mg_cls_key, v4.src)};
		n++;
		d[n] = (struct rte_acl_field_def){RTE_ACL_FIELD_TYPE_MASK, 4, F4_DST, in++,
						  offsetof(struct mg_cls_key, v4.dst)};
		n++;
		d[n] = (struct rte_acl_field_def){RTE_ACL_FIELD_TYPE_RANGE, 2, F4_SPORT, in,
						  offsetof(struct mg_cls_key, v4.sport)};
		n++;
		d[n] = (struct rte_acl_field_def){RTE_ACL_FIELD_TYPE_RANGE, 2, F4_DPORT, in++,
						  offsetof(struct mg_cls_key, v4.dport)};
		n++;
		if (meta) {
			d[n] = (struct rte_acl_field_def){RTE_ACL_FIELD_TYPE_BITMASK, 4, F4_META,
							  in++, offsetof(struct mg_cls_key, v4.meta)};
			n++;
		}
		return n;
	}
	for (uint32_t j = 0; j < 4; j++, n++)
		d[n] = (struct rte_acl_field_def){RTE_ACL_FIELD_TYPE_MASK, 4, F6_SRC0 + j, in++,
						  offsetof(struct mg_cls_key, v6.src) + 4 * j};
	for (uint32_t j = 0; j < 4; j++, n++)
		d[n] = (struct rte_acl_field_def){RTE_ACL_FIELD_TYPE_MASK, 4, F6_DST0 + j, in++,
						  offsetof(struct mg_cls_key, v6.dst) + 4 * j};
	d[n++] = (struct rte_acl_field_def){RTE_ACL_FIELD_TYPE_RANGE, 2, F6_SPORT, in,
					    offsetof(struct mg_cls_key, v6.sport)};
	d[n++] = (struct rte_acl_field_def){RTE_ACL_FIELD_TYPE_RANGE, 2, F6_DPORT, in++,
					    offsetof(struct mg_cls_key, v6.dport)};
	if (meta)
		d[n++] = (struct rte_acl_field_def){RTE_ACL_FIELD_TYPE_BITMASK, 4, F6_META, in++,
						    offsetof(struct mg_cls_key, v6.meta)};
	return n;
}

/* ---- validation ---------------------------------------------------------------------------- */

const char *
mg_cls_action_name(unsigned int type)
{
	static const char *const names[] = {
		[MG_CLS_PERMIT] = "permit", [MG_CLS_DENY] = "deny",
		[MG_CLS_COUNT] = "count",   [MG_CLS_CAPTURE] = "capture",
		[MG_CLS_POLICE] = "police", [MG_CLS_MARK] = "mark",
		[MG_CLS_SERVICE] = "service", [MG_CLS_TUNNEL] = "tunnel",
		[MG_CLS_TABLE] = "table",
	};

	return type < MG_ARRAY_SIZE(names) ? names[type] : "?";
}

const char *
mg_cls_alg_name(enum rte_acl_classify_alg alg)
{
	switch (alg) {
	case RTE_ACL_CLASSIFY_SCALAR: return "scalar";
	case RTE_ACL_CLASSIFY_SSE: return "sse";
	case RTE_ACL_CLASSIFY_AVX2: return "avx2";
	case RTE_ACL_CLASSIFY_NEON: return "neon";
	case RTE_ACL_CLASSIFY_ALTIVEC: return "altivec";
	case RTE_ACL_CLASSIFY_AVX512X16: return "avx512x16";
	case RTE_ACL_CLASSIFY_AVX512X32: return "avx512x32";
	default: return "default";
	}
}

/* Report @msg about field @what of the thing at @where ("rules[3]", "default"). */
static int
cls_bad(struct mg_error *err, int code, const char *where, const char *what, const char *msg)
{
	char field[96];

	snprintf(field, sizeof(field), "%s%s%s", where, what[0] ? "." : "", what);
	return mg_error_set(err, code, field, "%s", msg);
}

/* Validate an action. */
static int
cls_check_action(const struct mg_cls_action *a, const char *where, struct mg_error *err)
{
	if (a->type >= MG_CLS_ACTION_MAX)
		return cls_bad(err, EINVAL, where, "action.type", "unknown action");
	if (a->type == MG_CLS_MARK && a->dscp > 63)
		return cls_bad(err, EINVAL, where, "action.dscp", "DSCP must be 0..63");
	if (a->type == MG_CLS_POLICE) {
		if (a->rate == 0)
			return cls_bad(err, EINVAL, where, "action.rate",
				       "police rate must be positive (bytes per second)");
		if (a->burst == 0)
			return cls_bad(err, EINVAL, where, "action.burst",
				       "police burst must be positive (bytes)");
	}
	return 0;
}

/* True when a range set in @fields by @bit is narrower than [0, @full]. */
static bool
cls_range_narrow(uint32_t fields, uint32_t bit, const struct mg_cls_range *r, uint16_t full)
{
	return (fields & bit) && (r->lo != 0 || r->hi < full);
}

/* The port (or ICMP type and code) ranges of one rte_acl rule. */
struct cls_ports {
	struct mg_cls_range sp, dp;
};

/*
 * The port ranges rule match @m becomes (0 to 2 rte_acl rules), @icmp_rule
 * when its protocol is the family's ICMP. A packet whose ports were not
 * seen has the key ports 0/0 (TCP, UDP, SCTP) or 0xffff/0xffff (ICMP), so
 * a narrow port range must leave out (0, 0): its sport part without 0,
 * plus sport 0 with the dport part without 0. Narrow ICMP ranges (at most
 * 255) never reach 0xffff. A wide range is 0-65535 either way.
 */
static uint32_t
cls_ports_of(const struct mg_cls_match *m, bool icmp_rule, struct cls_ports out[2])
{
	const uint16_t full = icmp_rule ? 255 : 65535;
	const bool ns = cls_range_narrow(m->fields, MG_CLS_M_SPORT, &m->sport, full);
	const bool nd = cls_range_narrow(m->fields, MG_CLS_M_DPORT, &m->dport, full);
	struct mg_cls_range sp = ns ? m->sport : (struct mg_cls_range){0, 65535};
	struct mg_cls_range dp = nd ? m->dport : (struct mg_cls_range){0, 65535};
	uint32_t n = 0;

	if (icmp_rule || (!ns && !nd) || sp.lo > 0 || dp.lo > 0) {
		out[0] = (struct cls_ports){sp, dp};
		return 1;
	}
	if (sp.hi >= 1)
		out[n++] = (struct cls_ports){{1, sp.hi}, dp};
	if (dp.hi >= 1)
		out[n++] = (struct cls_ports){{0, 0}, {1, dp.hi}};
	return n;
}

/* Validate a prefix of a rule for a set of @family. */
static int
cls_check_prefix(const struct mg_prefix *p, uint8_t family, const char *where, const char *what,
		 struct mg_error *err)
{
	if (p->len == 0 && (p->addr.family == 0 || p->addr.family == family))
		return 0;
	if (p->addr.family != family)
		return cls_bad(err, EINVAL, where, what,
			       family == AF_INET ? "not an IPv4 prefix (IPv4 rule set)"
						 : "not an IPv6 prefix (IPv6 rule set)");
	if (p->len > mg_ip_maxlen(&p->addr))
		return cls_bad(err, EINVAL, where, what, "prefix length too long");
	return 0;
}

/*
 * Validate a rule; sets *nacl to the number of rte_acl rules it becomes
 * (3 for a port range without a protocol).
 */
static int
cls_check_rule(const struct mg_cls_rule *r, const struct mg_cls_conf *conf, const char *where,
	       uint32_t *nacl, struct mg_error *err)
{
	const struct mg_cls_match *m = &r->match;
	const uint8_t icmp = conf->family == AF_INET ? MG_IPPROTO_ICMP : MG_IPPROTO_ICMPV6;
	int rc;

	*nacl = 1;
	if (r->id >= MG_CLS_ID_NONE)
		return cls_bad(err, EINVAL, where, "id", "rule ids 0xfffffffe and up are reserved");
	if (r->category >= conf->categories)
		return cls_bad(err, EINVAL, where, "category", "category beyond the set's count");
	if (m->fields & ~(uint32_t)(MG_CLS_M_PROTO | MG_CLS_M_SPORT | MG_CLS_M_DPORT |
				    MG_CLS_M_VLAN | MG_CLS_M_DSCP | MG_CLS_M_IFACE))
		return cls_bad(err, EINVAL, where, "match.fields", "unknown match field bits");
	rc = cls_check_prefix(&m->src, conf->family, where, "match.src", err);
	if (rc == 0)
		rc = cls_check_prefix(&m->dst, conf->family, where, "match.dst", err);
	if (rc < 0)
		return rc;
	if ((m->fields & MG_CLS_M_VLAN) && m->vlan > 4095)
		return cls_bad(err, EINVAL, where, "match.vlan", "VLAN id must be 0..4095");
	if ((m->fields & MG_CLS_M_DSCP) && m->dscp > 63)
		return cls_bad(err, EINVAL, where, "match.dscp", "DSCP must be 0..63");
	if ((m->fields & MG_CLS_M_IFACE) && m->iface >= MG_CLS_IFACE_NONE)
		return cls_bad(err, EINVAL, where, "match.iface", "interface index must be below 4095");
	if ((m->fields & MG_CLS_M_SPORT) && m->sport.lo > m->sport.hi)
		return cls_bad(err, EINVAL, where, "match.sport", "range low end above high end");
	if ((m->fields & MG_CLS_M_DPORT) && m->dport.lo > m->dport.hi)
		return cls_bad(err, EINVAL, where, "match.dport", "range low end above high end");
	if ((m->fields & MG_CLS_M_PROTO) && m->proto == icmp) {
		struct cls_ports pp[2];

		if ((m->fields & MG_CLS_M_ICMP_TYPE) && m->icmp_type.hi > 255)
			return cls_bad(err, EINVAL, where, "match.icmp_type", "ICMP types are 0..255");
		if ((m->fields & MG_CLS_M_ICMP_CODE) && m->icmp_code.hi > 255)
			return cls_bad(err, EINVAL, where, "match.icmp_code", "ICMP codes are 0..255");
		*nacl = cls_ports_of(m, true, pp);
	} else if (cls_range_narrow(m->fields, MG_CLS_M_SPORT, &m->sport, 65535) ||
		   cls_range_narrow(m->fields, MG_CLS_M_DPORT, &m->dport, 65535)) {
		struct cls_ports pp[2];

		*nacl = cls_ports_of(m, false, pp);
		if (!(m->fields & MG_CLS_M_PROTO))
			*nacl *= 3; /* TCP, UDP and SCTP */
		else if (!mg_cls_proto_has_ports(m->proto))
			return cls_bad(err, EINVAL, where, "match.proto",
				       "port ranges need protocol tcp, udp or sctp (or none)");
	}
	return cls_check_action(&r->action, where, err);
}

/* ---- translation to rte_acl ------------------------------------------------------------------- */

/* Set an rte_acl MASK field from 32 bits of address (network order) and a length. */
static void
cls_acl_mask32(struct rte_acl_field *f, const uint8_t *addr, int len)
{
	uint32_t v = mg_cls_rd_be32(addr);

	if (len <= 0) {
		f->value.u32 = 0;
		f->mask_range.u32 = 0;
		return;
	}
	if (len > 32)
		len = 32;
	f->value.u32 = v & (uint32_t)RTE_ACL_MASKLEN_TO_BITMASK((uint32_t)len, sizeof(uint32_t));
	f->mask_range.u32 = (uint32_t)len;
}

/*
 * Write rule @r (evaluation rank @rank) as rte_acl rule @a with protocol
 * @proto (-1: the rule's own, or any), port ranges @pp, and the meta group
 * when the table has one (@meta).
 */
static void
cls_acl_rule(struct rte_acl_rule *a, const struct mg_cls_rule *r, uint32_t rank, uint8_t family,
	     int proto, const struct cls_ports *pp, bool meta_on)
{
	const struct mg_cls_match *m = &r->match;
	struct rte_acl_field *f = a->field;
	uint32_t meta = 0, mask = 0;
	int sp, dp, mt;

	a->data.category_mask = 1u << r->category;
	a->data.priority = (int32_t)(RTE_ACL_MAX_PRIORITY - rank);
	a->data.userdata = rank + 1;
	if (proto < 0 && (m->fields & MG_CLS_M_PROTO))
		proto = m->proto;
	f[0].value.u8 = proto < 0 ? 0 : (uint8_t)proto;
	f[0].mask_range.u8 = proto < 0 ? 0 : 0xff;
	if (family == AF_INET) {
		cls_acl_mask32(&f[F4_SRC], m->src.addr.bytes, m->src.len);
		cls_acl_mask32(&f[F4_DST], m->dst.addr.bytes, m->dst.len);
		sp = F4_SPORT, dp = F4_DPORT, mt = F4_META;
	} else {
		for (int j = 0; j < 4; j++) {
			cls_acl_mask32(&f[F6_SRC0 + j], m->src.addr.bytes + 4 * j, m->src.len - 32 * j);
			cls_acl_mask32(&f[F6_DST0 + j], m->dst.addr.bytes + 4 * j, m->dst.len - 32 * j);
		}
		sp = F6_SPORT, dp = F6_DPORT, mt = F6_META;
	}
	f[sp].value.u16 = pp->sp.lo;
	f[sp].mask_range.u16 = pp->sp.hi;
	f[dp].value.u16 = pp->dp.lo;
	f[dp].mask_range.u16 = pp->dp.hi;
	if (!meta_on)
		return;
	if (m->fields & MG_CLS_M_IFACE) {
		meta |= MG_CLS_META(m->iface, 0, 0);
		mask |= MG_CLS_META(0xfff, 0, 0);
	}
	if (m->fields & MG_CLS_M_VLAN) {
		meta |= MG_CLS_META(0, m->vlan, 0);
		mask |= MG_CLS_META(0, 0xfff, 0);
	}
	if (m->fields & MG_CLS_M_DSCP) {
		meta |= MG_CLS_META(0, 0, m->dscp);
		mask |= MG_CLS_META(0, 0, 0x3f);
	}
	f[mt].value.u32 = meta;
	f[mt].mask_range.u32 = mask;
}

/* The result template of an action. */
static void
cls_tmpl(struct mg_cls_result *res, const struct mg_cls_action *a, uint32_t rule_id,
	 uint32_t index, uint32_t police_index)
{
	memset(res, 0, sizeof(*res));
	res->rule_id = rule_id;
	res->index = index;
	res->action = a->type;
	res->verdict = a->type == MG_CLS_DENY ? MG_CLS_DROP_DENY : MG_CLS_PASS;
	if (a->type == MG_CLS_CAPTURE)
		res->flags = MG_CLS_RF_CAPTURE;
	if (a->type == MG_CLS_POLICE || a->type == MG_CLS_MARK)
		res->flags = MG_CLS_RF_APPLY;
	res->dscp = a->type == MG_CLS_MARK ? a->dscp : 0;
	if (a->type == MG_CLS_SERVICE || a->type == MG_CLS_TUNNEL || a->type == MG_CLS_TABLE)
		res->id = a->id;
	else if (a->type == MG_CLS_POLICE)
		res->id = police_index;
}

/* Order of evaluation: priority, then position in the array. */
struct cls_order {
	int32_t prio;
	uint32_t pos;
};

static int
cls_order_cmp(const void *a, const void *b)
{
	const struct cls_order *x = a, *y = b;

	if (x->prio != y->prio)
		return x->prio < y->prio ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int
cls_id_cmp(const void *a, const void *b)
{
	const struct cls_id *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Pick and set the rte_acl algorithm: the caller's, else AVX2, SSE, scalar. */
static int
cls_set_alg(struct mg_cls_table *t, enum rte_acl_classify_alg want)
{
	static const enum rte_acl_classify_alg pref[] = {
		RTE_ACL_CLASSIFY_AVX2, RTE_ACL_CLASSIFY_SSE, RTE_ACL_CLASSIFY_SCALAR,
	};

	if (want != RTE_ACL_CLASSIFY_DEFAULT) {
		t->alg = want;
		return rte_acl_set_ctx_classify(t->acl, want);
	}
	for (unsigned int i = 0; i < RTE_DIM(pref); i++)
		if (rte_acl_set_ctx_classify(t->acl, pref[i]) == 0) {
			t->alg = pref[i];
			return 0;
		}
	return -ENOTSUP;
}

/* Compile the rules (already validated, @order their evaluation order) into t->acl. */
static int
cls_acl_make(struct mg_cls_table *t, const struct mg_cls_conf *conf,
	     const struct mg_cls_rule *rules, const struct cls_order *order, uint32_t n,
	     struct mg_error *err)
{
	static const uint8_t l4protos[] = {MG_IPPROTO_TCP, MG_IPPROTO_UDP, MG_IPPROTO_SCTP};
	struct rte_acl_config cfg;
	struct rte_acl_param prm;
	char name[RTE_ACL_NAMESIZE];
	uint32_t nf, rsz, k = 0;
	uint8_t *buf;
	uint64_t t0;
	bool meta = false;
	int rc;

	memset(&cfg, 0, sizeof(cfg));
	for (uint32_t r = 0; r < n && !meta; r++)
		meta = (rules[r].match.fields & (MG_CLS_M_IFACE | MG_CLS_M_VLAN | MG_CLS_M_DSCP)) != 0;
	nf = cls_acl_fields(conf->family, meta, cfg.defs);
	cfg.num_fields = nf;
	cfg.num_categories = t->categories;
	cfg.max_size = conf->max_size;
	rsz = RTE_ACL_RULE_SZ(nf);
	buf = calloc(t->acl_rules ? t->acl_rules : 1, rsz);
	if (buf == NULL)
		return mg_error_set(err, ENOMEM, "", "out of memory for %u rules", n);
	for (uint32_t r = 0; r < n; r++) {
		const struct mg_cls_rule *ru = &rules[order[r].pos];
		const struct mg_cls_match *m = &ru->match;
		const uint8_t icmp = conf->family == AF_INET ? MG_IPPROTO_ICMP : MG_IPPROTO_ICMPV6;
		const bool icmp_rule = (m->fields & MG_CLS_M_PROTO) && m->proto == icmp;
		struct cls_ports pp[2];
		uint32_t np = cls_ports_of(m, icmp_rule, pp);
		/* Narrow ports without a protocol: TCP, UDP and SCTP. */
		const bool three = !(m->fields & MG_CLS_M_PROTO) &&
				   (cls_range_narrow(m->fields, MG_CLS_M_SPORT, &m->sport, 65535) ||
				    cls_range_narrow(m->fields, MG_CLS_M_DPORT, &m->dport, 65535));

		for (uint32_t q = 0; q < np; q++) {
			if (!three) {
				cls_acl_rule((struct rte_acl_rule *)(buf + (size_t)k++ * rsz), ru, r,
					     conf->family, -1, &pp[q], meta);
				continue;
			}
			for (unsigned int j = 0; j < RTE_DIM(l4protos); j++)
				cls_acl_rule((struct rte_acl_rule *)(buf + (size_t)k++ * rsz), ru, r,
					     conf->family, l4protos[j], &pp[q], meta);
		}
	}
	RTE_ASSERT(k == t->acl_rules);
	/* rte_acl_create returns an existing context of the same name: make it unique. */
	snprintf(name, sizeof(name), "mgcls%p", (void *)t);
	prm = (struct rte_acl_param){.name = name, .socket_id = conf->socket_id,
				     .rule_size = rsz, .max_rule_num = t->acl_rules};
	t->acl = rte_acl_create(&prm);
	if (t->acl == NULL) {
		free(buf);
		return mg_error_set(err, ENOMEM, "", "rte_acl_create: %s", rte_strerror(rte_errno));
	}
	rc = rte_acl_add_rules(t->acl, (const struct rte_acl_rule *)buf, t->acl_rules);
	free(buf);
	if (rc < 0)
		return mg_error_set(err, -rc, "", "rte_acl_add_rules: %s", strerror(-rc));
	t0 = mg_now_ns();
	rc = rte_acl_build(t->acl, &cfg);
	t->acl_build_ns = mg_now_ns() - t0;
	if (rc < 0)
		return mg_error_set(err, rc == -ENOMEM || rc == -ERANGE ? ENOSPC : -rc, "rules",
				    "rte_acl cannot compile these %u rules (%u after expansion)%s: %s",
				    n, t->acl_rules, cfg.max_size ? " within the memory limit" : "",
				    strerror(-rc));
	rc = cls_set_alg(t, conf->alg);
	if (rc < 0)
		return mg_error_set(err, ENOTSUP, "alg", "rte_acl algorithm %s not available here",
				    mg_cls_alg_name(conf->alg));
	return 0;
}

/* Allocate @size zeroed bytes for the fast path on @socket, counted in t->mem. */
static void *
cls_zmalloc(struct mg_cls_table *t, size_t size, int socket)
{
	void *p = rte_zmalloc_socket("mg_cls", size ? size : 1, RTE_CACHE_LINE_SIZE, socket);

	if (p != NULL)
		t->mem += size;
	return p;
}

struct mg_cls_table *
mg_cls_table_build(const struct mg_cls_conf *conf, const struct mg_cls_rule *rules, uint32_t n,
		   const struct mg_cls_action *def, struct mg_error *err)
{
	static const struct mg_cls_action permit = {.type = MG_CLS_PERMIT};
	struct mg_cls_conf c;
	struct mg_cls_table *t = NULL;
	struct cls_order *order = NULL;
	uint64_t t0 = mg_now_ns();
	uint32_t nacl_total = 0, npol = 0, p;
	char where[32];
	int rc;

	mg_error_clear(err);
	if (rte_lcore_id() != rte_get_main_lcore()) {
		mg_error_set(err, EPERM, "", "classification tables are built on the main lcore");
		return NULL;
	}
	if (conf == NULL || (conf->family != AF_INET && conf->family != AF_INET6)) {
		mg_error_set(err, EINVAL, "family", "family must be AF_INET or AF_INET6");
		return NULL;
	}
	c = *conf;
	if (c.categories == 0)
		c.categories = 1;
	if (c.categories > RTE_ACL_MAX_CATEGORIES ||
	    (c.categories != 1 && c.categories % RTE_ACL_RESULTS_MULTIPLIER != 0)) {
		mg_error_set(err, EINVAL, "categories", "categories must be 1, 4, 8, 12 or 16");
		return NULL;
	}
	if (c.nb_workers == 0 || c.nb_workers > MG_CLS_MAX_WORKERS) {
		mg_error_set(err, EINVAL, "nb_workers", "worker slots must be 1..%u",
			     MG_CLS_MAX_WORKERS);
		return NULL;
	}
	if (n > MG_CLS_MAX_RULES || (n > 0 && rules == NULL)) {
		mg_error_set(err, ENOSPC, "rules", "at most %u rules per set", MG_CLS_MAX_RULES);
		return NULL;
	}
	if (def == NULL)
		def = &permit;
	if (cls_check_action(def, "default", err) < 0)
		return NULL;
	npol += def->type == MG_CLS_POLICE;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t nacl;

		snprintf(where, sizeof(where), "rules[%u]", i);
		if (cls_check_rule(&rules[i], &c, where, &nacl, err) < 0)
			return NULL;
		nacl_total += nacl;
		npol += rules[i].action.type == MG_CLS_POLICE;
	}

	t = calloc(1, sizeof(*t));
	order = calloc(n ? n : 1, sizeof(*order));
	if (t == NULL || order == NULL)
		goto nomem;
	t->family = c.family;
	t->net = c.net;
	t->nb_workers = c.nb_workers;
	t->categories = c.categories;
	t->nb_rules = n;
	t->acl_rules = nacl_total;
	t->nb_idx = n + 2;
	t->npol = npol;
	t->rcu = c.rcu;
	t->alg = RTE_ACL_CLASSIFY_DEFAULT;
	for (uint32_t i = 0; i < n; i++)
		order[i] = (struct cls_order){rules[i].priority, i};
	qsort(order, n, sizeof(*order), cls_order_cmp);

	/* Ids: unique, sorted for lookups. */
	t->ids = calloc(n ? n : 1, sizeof(*t->ids));
	if (t->ids == NULL)
		goto nomem;
	for (uint32_t r = 0; r < n; r++)
		t->ids[r] = (struct cls_id){rules[order[r].pos].id, r + 1};
	qsort(t->ids, n, sizeof(*t->ids), cls_id_cmp);
	for (uint32_t i = 1; i < n; i++)
		if (t->ids[i].id == t->ids[i - 1].id) {
			uint32_t seen = 0, first = 0;

			/* Name the second rule with the id: the first one was fine. */
			for (uint32_t j = 0; j < n; j++)
				if (rules[j].id == t->ids[i].id && seen++ == 0)
					first = j;
				else if (rules[j].id == t->ids[i].id) {
					snprintf(where, sizeof(where), "rules[%u]", j);
					break;
				}
			char msg[80];

			snprintf(msg, sizeof(msg), "rule id %u already used by rules[%u]",
				 t->ids[i].id, first);
			cls_bad(err, EEXIST, where, "id", msg);
			goto fail;
		}

	/* Result templates and police rules. */
	t->tmpl = cls_zmalloc(t, sizeof(*t->tmpl) * t->nb_idx, c.socket_id);
	t->pol = calloc(npol ? npol : 1, sizeof(*t->pol));
	t->base = calloc(t->nb_idx, sizeof(*t->base));
	t->reb_offered = calloc((size_t)(npol ? npol : 1) * c.nb_workers, sizeof(uint64_t));
	if (t->tmpl == NULL || t->pol == NULL || t->base == NULL || t->reb_offered == NULL)
		goto nomem;
	p = 0;
	for (uint32_t idx = 0; idx <= n; idx++) {
		const struct mg_cls_action *a = idx ? &rules[order[idx - 1].pos].action : def;

		if (a->type == MG_CLS_POLICE)
			t->pol[p] = (struct cls_police){idx, a->rate, a->burst, a->excess};
		cls_tmpl(&t->tmpl[idx], a, idx ? rules[order[idx - 1].pos].id : MG_CLS_ID_DEFAULT,
			 idx, p);
		p += a->type == MG_CLS_POLICE;
	}
	cls_tmpl(&t->tmpl[n + 1], &permit, MG_CLS_ID_NONE, n + 1, 0);

	/* Worker slots. */
	t->slots = cls_zmalloc(t, sizeof(*t->slots) * c.nb_workers, c.socket_id);
	if (t->slots == NULL)
		goto nomem;
	for (uint32_t w = 0; w < c.nb_workers; w++) {
		t->slots[w].cnt = cls_zmalloc(t, sizeof(struct cls_cnt) * t->nb_idx, c.socket_id);
		t->slots[w].met = cls_zmalloc(t, sizeof(struct cls_meter) * npol, c.socket_id);
		if (t->slots[w].cnt == NULL || t->slots[w].met == NULL)
			goto nomem;
		if (c.categories == 1 && nacl_total > 0) {
			t->slots[w].cache = cls_zmalloc(
				t, sizeof(struct cls_cache_ent) * CLS_CACHE_WAYS * CLS_CACHE_SETS, c.socket_id);
			if (t->slots[w].cache == NULL)
				goto nomem;
		}
	}
	rc = cls_police_init(t);
	if (rc < 0) {
		mg_error_set(err, -rc, "", "cannot configure the policers: %s", strerror(-rc));
		goto fail;
	}

	/* No rte_acl rules (none, or only rules that match nothing): the default decides. */
	if (nacl_total > 0 && cls_acl_make(t, &c, rules, order, n, err) < 0)
		goto fail;
	free(order);
	t->reb_tsc = rte_rdtsc();
	t->build_ns = mg_now_ns() - t0;
	CLS_LOG(DEBUG, "net %u %s: %u rules (%u for rte_acl, %s) built in %.1f ms\n", c.net,
		c.family == AF_INET ? "IPv4" : "IPv6", n, nacl_total, mg_cls_alg_name(t->alg),
		t->build_ns / 1e6);
	return t;

nomem:
	mg_error_set(err, ENOMEM, "", "out of memory for a rule set of %u rules", n);
fail:
	free(order);
	mg_cls_table_free(t);
	return NULL;
}

void
mg_cls_table_free(struct mg_cls_table *t)
{
	if (t == NULL)
		return;
	rte_acl_free(t->acl);
	if (t->slots != NULL) {
		for (uint32_t w = 0; w < t->nb_workers; w++) {
			rte_free(t->slots[w].cnt);
			rte_free(t->slots[w].met);
			rte_free(t->slots[w].cache);
		}
		rte_free(t->slots);
	}
	rte_free(t->tmpl);
	free(t->pol);
	free(t->ids);
	free(t->base);
	free(t->reb_offered);
	free(t);
}

void
mg_cls_table_info(const struct mg_cls_table *t, struct mg_cls_info *info)
{
	*info = (struct mg_cls_info){
		.family = t->family, .categories = (uint8_t)t->categories,
		.nb_workers = t->nb_workers, .rules = t->nb_rules, .acl_rules = t->acl_rules,
		.police_rules = t->npol, .alg = t->alg, .build_ns = t->build_ns,
		.acl_build_ns = t->acl_build_ns, .mem = t->mem,
	};
	for (uint32_t w = 0; w < t->nb_workers; w++) {
		if (t->slots[w].cache != NULL)
			info->cache_entries = CLS_CACHE_SETS * CLS_CACHE_WAYS;
		info->cache_lookups +=
			__atomic_load_n(&t->slots[w].cache_lookups, __ATOMIC_RELAXED);
		info->cache_hits += __atomic_load_n(&t->slots[w].cache_hits, __ATOMIC_RELAXED);
	}
}

/* ---- counters -------------------------------------------------------------------------------- */

/* Sum the counters of result index @idx over the slots, with what was inherited. */
static void
cls_sum(const struct mg_cls_table *t, uint32_t idx, struct mg_cls_counters *c)
{
	const struct mg_cls_result *r = &t->tmpl[idx];

	*c = t->base[idx];
	for (uint32_t w = 0; w < t->nb_workers; w++) {
		const struct cls_cnt *k = &t->slots[w].cnt[idx];

		c->pkts += __atomic_load_n(&k->pkts, __ATOMIC_RELAXED);
		c->bytes += __atomic_load_n(&k->bytes, __ATOMIC_RELAXED);
		if (r->action == MG_CLS_POLICE) {
			const struct cls_meter *m = &t->slots[w].met[r->id];

			c->green += __atomic_load_n(&m->color[RTE_COLOR_GREEN], __ATOMIC_RELAXED);
			c->yellow += __atomic_load_n(&m->color[RTE_COLOR_YELLOW], __ATOMIC_RELAXED);
			c->red += __atomic_load_n(&m->color[RTE_COLOR_RED], __ATOMIC_RELAXED);
			c->red_bytes += __atomic_load_n(&m->red_bytes, __ATOMIC_RELAXED);
		}
	}
}

/* Result index of rule @id, or UINT32_MAX. */
static uint32_t
cls_index_of(const struct mg_cls_table *t, uint32_t id)
{
	const struct cls_id key = {id, 0}, *f;

	if (id == MG_CLS_ID_DEFAULT)
		return 0;
	if (t->nb_rules == 0)
		return UINT32_MAX;
	f = bsearch(&key, t->ids, t->nb_rules, sizeof(*t->ids), cls_id_cmp);
	return f ? f->index : UINT32_MAX;
}

int
mg_cls_rule_counters(const struct mg_cls_table *t, uint32_t id, struct mg_cls_counters *c)
{
	uint32_t idx = cls_index_of(t, id);

	if (idx == UINT32_MAX)
		return -ENOENT;
	cls_sum(t, idx, c);
	return 0;
}

uint32_t
mg_cls_table_size(const struct mg_cls_table *t)
{
	return t->nb_rules + 1;
}

int
mg_cls_counters_at(const struct mg_cls_table *t, uint32_t index, uint32_t *id,
		   struct mg_cls_counters *c)
{
	if (index > t->nb_rules)
		return -ENOENT;
	if (id != NULL)
		*id = t->tmpl[index].rule_id;
	if (c != NULL)
		cls_sum(t, index, c);
	return 0;
}

void
mg_cls_table_inherit(struct mg_cls_table *t, const struct mg_cls_table *old)
{
	for (uint32_t idx = 0; idx <= t->nb_rules; idx++) {
		uint32_t o = cls_index_of(old, t->tmpl[idx].rule_id);
		struct mg_cls_counters c;
		struct mg_cls_counters *b = &t->base[idx];

		if (o == UINT32_MAX)
			continue;
		cls_sum(old, o, &c);
		b->pkts += c.pkts;
		b->bytes += c.bytes;
		b->green += c.green;
		b->yellow += c.yellow;
		b->red += c.red;
		b->red_bytes += c.red_bytes;
	}
}

/* ---- sets ----------------------------------------------------------------------------------- */

/** One network and family: the published table and how to wait for workers. */
struct mg_cls_set {
	/** The table workers use (RCU slot: release store, acquire load). */
	struct mg_cls_table *cur;
	/** How tables are built. */
	struct mg_cls_conf conf;
	/** Waits for the workers. */
	mg_cls_sync_t sync;
	/** Its argument. */
	void *arg;
};

struct mg_cls_set *
mg_cls_set_create(const struct mg_cls_conf *conf, const struct mg_cls_action *def,
		  mg_cls_sync_t sync, void *arg, struct mg_error *err)
{
	struct mg_cls_set *s;

	if (sync == NULL) {
		mg_error_set(err, EINVAL, "sync", "a set needs a way to wait for the workers");
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		mg_error_set(err, ENOMEM, "", "out of memory");
		return NULL;
	}
	s->conf = *conf;
	s->sync = sync;
	s->arg = arg;
	s->cur = mg_cls_table_build(conf, NULL, 0, def, err);
	if (s->cur == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

int
mg_cls_set_install(struct mg_cls_set *s, struct mg_cls_table *nt)
{
	struct mg_cls_table *old = s->cur;

	__atomic_store_n(&s->cur, nt, __ATOMIC_RELEASE);
	/* Workers that loaded the old table may still classify with it until their
	 * next quiescent state: only then are its counters final and its memory free. */
	s->sync(s->arg);
	mg_cls_table_inherit(nt, old);
	mg_cls_table_free(old);
	return 0;
}

int
mg_cls_set_replace(struct mg_cls_set *s, const struct mg_cls_rule *rules, uint32_t n,
		   const struct mg_cls_action *def, struct mg_error *err)
{
	struct mg_cls_table *nt;
	struct mg_error local;

	if (err == NULL)
		err = &local;
	nt = mg_cls_table_build(&s->conf, rules, n, def, err);
	if (nt == NULL)
		return -err->code;
	return mg_cls_set_install(s, nt);
}

const struct mg_cls_conf *
mg_cls_set_conf(const struct mg_cls_set *s)
{
	return &s->conf;
}

const struct mg_cls_table *
mg_cls_set_table(const struct mg_cls_set *s)
{
	return __atomic_load_n(&s->cur, __ATOMIC_ACQUIRE);
}

struct mg_cls_table *
mg_cls_set_table_main(struct mg_cls_set *s)
{
	return s->cur;
}

int
mg_cls_sets_counters(struct mg_cls_set *const *sets, unsigned int n, uint32_t id,
		     struct mg_cls_counters *c)
{
	int found = 0;

	for (unsigned int i = 0; i < n; i++) {
		struct mg_cls_counters k;

		if (sets[i] == NULL || mg_cls_rule_counters(sets[i]->cur, id, &k) < 0)
			continue;
		c->pkts += k.pkts;
		c->bytes += k.bytes;
		c->green += k.green;
		c->yellow += k.yellow;
		c->red += k.red;
		c->red_bytes += k.red_bytes;
		found++;
	}
	return found;
}

void
mg_cls_set_destroy(struct mg_cls_set *s)
{
	if (s == NULL)
		return;
	mg_cls_table_free(s->cur);
	free(s);
}
