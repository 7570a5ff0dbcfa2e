/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Dual-homed gateways over REST and in the durable state, a thin layer
 * over lib/natgw's setup calls:
 *
 *   /v1/gateways        GET POST (a `gateways:` entry of the file, as JSON)
 *   /v1/gateways/NAME   GET PUT (create or replace) DELETE
 *
 * The body is checked by lib/config's own gateway parser (JSON is YAML),
 * so the file and the API refuse the same things with the same words; the
 * field of the first error is the JSON field ("snat4", "publish[0].port").
 * Accepted changes are journaled as {"gateway": {...}} (the gateway as
 * asked for, in the body's form) and {"gateway_del": NAME}; a snapshot
 * keeps every gateway, the file's too, and a restore replaces the set the
 * file made with the saved one (the durable state wins, as for networks).
 * What a replacement or a deletion does to the gateway's sessions is told
 * in mg_natgw.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_priv.h"
#include "mg_config.h"
#include "mg_natgw_setup.h"
#include "mg_svc_setup.h"

static const char *const v6modes[] = {"nat66", "npt6", "route"};

static const char *
proto_name(uint8_t p)
{
	return p == 6 ? "tcp" : p == 17 ? "udp" : "sctp";
}

/* ---- JSON of a gateway ------------------------------------------------------------------ */

/* Gateway @g as a request body (what PUT takes back, and what the state keeps). */
static json_t *
gw_cfg_json(const struct mg_gw_cfg *g)
{
	json_t *o = json_object(), *routes = json_array(), *src = json_array(), *pub = json_array();
	char b[MG_PREFIX_STRLEN], b2[MG_PREFIX_STRLEN];

	json_object_set_new(o, "name", json_string(g->name));
	json_object_set_new(o, "inside", json_string(g->inside));
	json_object_set_new(o, "outside", json_string(g->outside));
	for (unsigned int i = 0; i < g->nroutes; i++)
		json_array_append_new(routes, json_string(mg_prefix_fmt(&g->routes[i], b, sizeof(b))));
	for (unsigned int i = 0; i < g->nsources; i++)
		json_array_append_new(src, json_string(mg_prefix_fmt(&g->sources[i], b, sizeof(b))));
	json_object_set_new(o, "routes", routes);
	json_object_set_new(o, "sources", src);
	if (g->snat4.family != 0)
		json_object_set_new(o, "snat4", json_string(mg_ip_fmt(&g->snat4, b, sizeof(b))));
	if (g->snat6.family != 0)
		json_object_set_new(o, "snat6", json_string(mg_ip_fmt(&g->snat6, b, sizeof(b))));
	json_object_set_new(o, "ipv6", json_string(v6modes[g->ipv6 % 3]));
	if (g->ipv6 == 1)
		json_object_set_new(o, "npt6", json_pack("{s:s, s:s}", "inside",
							 mg_prefix_fmt(&g->npt_inside, b, sizeof(b)),
							 "outside",
							 mg_prefix_fmt(&g->npt_outside, b2,
								       sizeof(b2))));
	snprintf(b, sizeof(b), "%u-%u", g->port_first, g->port_last);
	json_object_set_new(o, "ports", json_string(b));
	json_object_set_new(o, "port_preserve", json_boolean(g->port_preserve));
	for (unsigned int i = 0; i < g->npub; i++) {
		const struct mg_gw_pub_cfg *p = &g->pub[i];
		json_t *e = json_pack("{s:s, s:i, s:s}", "protocol", proto_name(p->proto), "port",
				      (int)p->port, "service", p->service);

		if (p->addr.family != 0)
			json_object_set_new(e, "address", json_string(mg_ip_fmt(&p->addr, b,
										sizeof(b))));
		json_array_append_new(pub, e);
	}
	json_object_set_new(o, "publish", pub);
	return o;
}

static void
gw_json_cb(const struct mg_natgw_info *gi, void *arg)
{
	const struct mg_natgw_gw *g = gi->gw;
	json_t *out = arg, *routes = json_array(), *src = json_array(), *pub = json_array(), *j;
	char b[MG_IP_STRLEN + 8];

	for (unsigned int i = 0; i < gi->nroutes; i++)
		json_array_append_new(routes, json_string(mg_prefix_fmt(&gi->routes[i], b, sizeof(b))));
	for (unsigned int i = 0; i < g->nsrc; i++)
		json_array_append_new(src, json_string(mg_prefix_fmt(&g->src[i], b, sizeof(b))));
	for (unsigned int i = 0; i < g->npub; i++) {
		const struct mg_natgw_pub *p = &g->pub[i];
		struct mg_ip a = {.family = p->family};

		memcpy(a.bytes, p->addr, 16);
		json_array_append_new(pub, json_pack("{s:s, s:s, s:i, s:s}", "address",
						     mg_ip_fmt(&a, b, sizeof(b)), "protocol",
						     proto_name(p->proto), "port",
						     (int)rte_be_to_cpu_16(p->port), "service",
						     p->service));
	}
	j = json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:{s:i, s:i, s:b, s:I, s:I}, s:o}", "name",
		      g->name, "inside", gi->inside, "outside", gi->outside, "routes", routes,
		      "sources", src, "ipv6", v6modes[g->v6mode % 3], "snat_ports", "first",
		      (int)g->port_first, "last", (int)g->port_last, "preserve", g->preserve,
		      "total", (json_int_t)gi->ports_total, "free", (json_int_t)gi->ports_free,
		      "publish", pub);
	if (g->has4) {
		struct mg_ip a = {.family = AF_INET};

		memcpy(&a.v4, g->addr4, 4);
		json_object_set_new(j, "snat4", json_string(mg_ip_fmt(&a, b, sizeof(b))));
	}
	if (g->has6) {
		struct mg_ip a = {.family = AF_INET6};

		memcpy(a.v6, g->addr6, 16);
		json_object_set_new(j, "snat6", json_string(mg_ip_fmt(&a, b, sizeof(b))));
	}
	if (g->v6mode == MG_NATGW_V6_NPT6) {
		struct mg_prefix pi = {.addr = {.family = AF_INET6}, .len = g->npt.plen}, po = pi;
		char b2[MG_IP_STRLEN + 8];

		memcpy(pi.addr.v6, g->npt.inner, 16);
		memcpy(po.addr.v6, g->npt.outer, 16);
		json_object_set_new(j, "npt6", json_pack("{s:s, s:s}", "inside",
							 mg_prefix_fmt(&pi, b, sizeof(b)), "outside",
							 mg_prefix_fmt(&po, b2, sizeof(b2))));
	}
	/* As asked for: what a PUT of the same gateway takes (defaults left out). */
	json_object_set_new(j, "config", gw_cfg_json(gi->cfg));
	if (json_is_array(out)) {
		json_array_append_new(out, j);
	} else {
		json_object_update(out, j);
		json_decref(j);
	}
}

json_t *
ctl_gw_json(const char *name)
{
	json_t *o = name != NULL ? json_object() : json_array();

	if (mg_natgw_ctl_walk(name, gw_json_cb, o) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- a body into a gateway -------------------------------------------------------------- */

struct svc_list {
	struct mg_svc_cfg *s;
	unsigned int n, max;
};

static void
svc_cb(const struct mg_svc_info *si, void *arg)
{
	struct svc_list *l = arg;
	struct mg_svc_cfg *s;

	if (l->n >= l->max)
		return;
	s = &l->s[l->n++];
	memset(s, 0, sizeof(*s));
	mg_strlcpy(s->name, si->name, sizeof(s->name));
	mg_strlcpy(s->network, si->network, sizeof(s->network));
	s->mode = si->mode;
}

/* The field and message of lib/config's "NAME:LINE:COL: FIELD: what" into @e. */
static int
config_error(const char *msg, int code, struct mg_error *e)
{
	const char *p = msg, *sep;
	int colons = 0;

	while (*p != '\0' && colons < 3)
		colons += *p++ == ':';
	while (*p == ' ')
		p++;
	sep = strstr(p, ": ");
	if (sep != NULL && memchr(p, ' ', (size_t)(sep - p)) == NULL &&
	    (size_t)(sep - p) < sizeof(e->field)) {
		char f[sizeof(e->field)];

		memcpy(f, p, (size_t)(sep - p));
		f[sep - p] = '\0';
		return mg_error_set(e, code, f, "%s", sep + 2);
	}
	return mg_error_set(e, code, "", "%s", p);
}

/*
 * Body @j (its name already checked) into @g with the file's checks.
 * Types the YAML reading would let through (a number as a name) are
 * refused here first.
 */
static int
gw_parse(struct mg_ctl *c, json_t *j, struct mg_gw_cfg *g, struct mg_error *e)
{
	static const char *const strs[] = {"name", "inside", "outside", "snat4", "snat6", "ipv6",
					   NULL};
	static const char *const lists[] = {"routes", "sources", "publish", NULL};
	struct mg_config_errors errs = {0};
	struct svc_list l = {.max = MG_CFG_MAX_GW_PUBLISH};
	json_t *pub = json_object_get(j, "publish"), *v;
	char *text;
	size_t i;
	int rc = 0;

	static const char *const keys[] = {"name", "inside", "outside", "routes", "sources",
					   "snat4", "snat6", "ipv6", "npt6", "ports", "port_preserve",
					   "publish", NULL};

	if (!json_is_object(j))
		return mg_error_set(e, EINVAL, "", "expected a JSON object (a gateway)");
	if ((rc = cj_check_fields(j, keys, "", e)) < 0)
		return rc;
	for (i = 0; strs[i] != NULL; i++)
		if ((v = json_object_get(j, strs[i])) != NULL && !json_is_string(v))
			return mg_error_set(e, EINVAL, strs[i], "expected a string");
	for (i = 0; lists[i] != NULL; i++)
		if ((v = json_object_get(j, lists[i])) != NULL && !json_is_array(v))
			return mg_error_set(e, EINVAL, lists[i], "expected a list");
	if ((v = json_object_get(j, "port_preserve")) != NULL && !json_is_boolean(v))
		return mg_error_set(e, EINVAL, "port_preserve", "expected true or false");
	for (i = 0; i < 2; i++) {
		const char *k = i ? "outside" : "inside";

		if (json_object_get(j, k) == NULL)
			return mg_error_set(e, EINVAL, k, "a gateway needs %s: a network", k);
	}
	/* The services it publishes, as the parser checks them (mode nat, inside network). */
	l.s = calloc(l.max, sizeof(*l.s));
	if (l.s == NULL)
		return mg_error_set(e, ENOMEM, "", "out of memory");
	json_array_foreach(pub, i, v) {
		json_t *s = json_is_object(v) ? json_object_get(v, "service") : NULL;

		if (json_is_string(s))
			mg_svc_ctl_walk(json_string_value(s), svc_cb, &l);
	}
	text = json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	if (text == NULL) {
		free(l.s);
		return mg_error_set(e, ENOMEM, "", "out of memory");
	}
	if (mg_config_gateway_parse("body", text, strlen(text), c->env.model, l.s, l.n, g,
				    &errs) > 0)
		rc = config_error(errs.msgs[0], EINVAL, e);
	/* A REST error names the field; "body:1:1" would only say where in our own JSON. */
	g->where[0] = '\0';
	mg_config_errors_free(&errs);
	free(text);
	free(l.s);
	return rc;
}

/* ---- changes ----------------------------------------------------------------------------- */

/* Put @g, journaled: 1 created, 0 replaced, or -errno (nothing changed). */
static int
gw_put(struct mg_ctl *c, const struct mg_gw_cfg *g, struct mg_error *e)
{
	const struct mg_gw_cfg *cur = mg_natgw_ctl_cfg(g->name);
	struct mg_gw_cfg *prev = NULL;
	int rc;

	if (cur != NULL) {
		prev = malloc(sizeof(*prev));
		if (prev == NULL)
			return mg_error_set(e, ENOMEM, "", "out of memory");
		*prev = *cur;
	}
	rc = mg_natgw_ctl_put(g, e);
	if (rc >= 0 && !c->replaying && c->journal_fd >= 0) {
		json_t *entry = json_pack("{s:o}", "gateway", gw_cfg_json(g));
		int jr = ctl_journal(c, entry, e);

		json_decref(entry);
		if (jr < 0) {
			/* Not durable, so not done: back to what was. */
			struct mg_error e2;

			if (prev != NULL)
				mg_natgw_ctl_put(prev, &e2);
			else
				mg_natgw_ctl_del(g->name, &e2);
			rc = jr;
		}
	}
	free(prev);
	if (rc < 0)
		c->requests_failed++;
	else
		c->requests_ok++;
	return rc;
}

static int
gw_del(struct mg_ctl *c, const char *name, struct mg_error *e)
{
	const struct mg_gw_cfg *cur = mg_natgw_ctl_cfg(name);
	struct mg_gw_cfg prev;
	int rc;

	if (cur == NULL) {
		c->requests_failed++;
		return mg_error_set(e, ENOENT, "name", "no gateway named %s", name);
	}
	prev = *cur;
	rc = mg_natgw_ctl_del(name, e);
	if (rc == 0 && !c->replaying && c->journal_fd >= 0) {
		json_t *entry = json_pack("{s:s}", "gateway_del", name);

		rc = ctl_journal(c, entry, e);
		json_decref(entry);
		if (rc < 0) {
			struct mg_error e2;

			mg_natgw_ctl_put(&prev, &e2);
		}
	}
	if (rc < 0)
		c->requests_failed++;
	else
		c->requests_ok++;
	return rc;
}

/* ---- durable state ----------------------------------------------------------------------- */

static void
snap_cb(const struct mg_natgw_info *gi, void *arg)
{
	json_array_append_new(arg, gw_cfg_json(gi->cfg));
}

json_t *
ctl_gw_snapshot(struct mg_ctl *c)
{
	json_t *a = json_array();

	(void)c;
	mg_natgw_ctl_walk(NULL, snap_cb, a);
	return a;
}

int
ctl_gw_replay(struct mg_ctl *c, json_t *stored, struct mg_error *err)
{
	struct mg_gw_cfg *g = malloc(sizeof(*g));
	int rc;

	if (g == NULL)
		return mg_error_set(err, ENOMEM, "", "out of memory");
	rc = gw_parse(c, stored, g, err);
	if (rc == 0)
		rc = mg_natgw_ctl_put(g, err);
	free(g);
	return rc < 0 ? rc : 0;
}

int
ctl_gw_replay_del(struct mg_ctl *c, const char *name, struct mg_error *err)
{
	(void)c;
	return mg_natgw_ctl_del(name, err);
}

static void
name_cb(const struct mg_natgw_info *gi, void *arg)
{
	json_array_append_new(arg, json_string(gi->gw->name));
}

void
ctl_gw_clear(struct mg_ctl *c)
{
	json_t *names = json_array(), *v;
	struct mg_error e;
	size_t i;

	(void)c;
	mg_natgw_ctl_walk(NULL, name_cb, names);
	json_array_foreach(names, i, v)
		mg_natgw_ctl_del(json_string_value(v), &e);
	json_decref(names);
}

/* ---- REST -------------------------------------------------------------------------------- */

int
ctl_gw_rest(struct mg_ctl *c, const char *method, char **seg, int nseg, char *body, size_t len,
	    char **text, const char **allow)
{
	struct mg_gw_cfg *g;
	struct mg_error e;
	const char *name;
	json_t *j, *v;
	int rc;

	mg_error_clear(&e);
	if (nseg == 2 && !strcmp(method, "GET"))
		return ctl_reply(200, ctl_gw_json(NULL), text);
	if (nseg == 2 && strcmp(method, "POST"))
		return ctl_not_allowed("GET, POST", allow, text);
	if (nseg == 3 && !strcmp(method, "GET")) {
		json_t *o = ctl_gw_json(seg[2]);

		if (o == NULL) {
			mg_error_set(&e, ENOENT, "name", "no gateway named '%s'", seg[2]);
			return ctl_reply_err(&e, text);
		}
		return ctl_reply(200, o, text);
	}
	if (nseg == 3 && !strcmp(method, "DELETE")) {
		if (gw_del(c, seg[2], &e) < 0)
			return ctl_reply_err(&e, text);
		return ctl_reply(204, NULL, text);
	}
	if (nseg == 3 && strcmp(method, "PUT"))
		return ctl_not_allowed("GET, PUT, DELETE", allow, text);
	if (nseg != 2 && nseg != 3) {
		mg_error_set(&e, ENOENT, "", "no such resource");
		return ctl_reply_err(&e, text);
	}
	/* POST /v1/gateways or PUT /v1/gateways/NAME. */
	if ((j = ctl_body_json(body, len, &e)) == NULL) {
		c->requests_failed++;
		return ctl_reply_err(&e, text);
	}
	v = json_is_object(j) ? json_object_get(j, "name") : NULL;
	if (!json_is_object(j)) {
		mg_error_set(&e, EINVAL, "", "expected a JSON object (a gateway)");
	} else if (nseg == 3) {
		if (v == NULL)
			json_object_set_new(j, "name", json_string(seg[2]));
		else if (!json_is_string(v) || strcmp(json_string_value(v), seg[2]) != 0)
			mg_error_set(&e, EINVAL, "name", "must be the gateway's name in the "
					  "path (%s), or left out", seg[2]);
	} else if (v == NULL) {
		mg_error_set(&e, EINVAL, "name", "a gateway needs a name");
	} else if (json_is_string(v) && mg_natgw_ctl_cfg(json_string_value(v)) != NULL) {
		mg_error_set(&e, EEXIST, "name", "gateway %s exists: PUT /v1/gateways/%s replaces "
			     "it", json_string_value(v), json_string_value(v));
	}
	g = malloc(sizeof(*g));
	if (g == NULL)
		mg_error_set(&e, ENOMEM, "", "out of memory");
	rc = e.code != 0 ? -e.code : gw_parse(c, j, g, &e);
	json_decref(j);
	if (rc == 0)
		rc = gw_put(c, g, &e);
	else
		c->requests_failed++;
	name = rc >= 0 ? g->name : NULL;
	if (rc < 0) {
		free(g);
		return ctl_reply_err(&e, text);
	}
	{
		json_t *o = ctl_gw_json(name);

		free(g);
		return ctl_reply(rc == 1 ? 201 : 200, o, text);
	}
}
