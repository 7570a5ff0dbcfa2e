/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Services in the durable state (control.state_dir).
 *
 * A service is kept as the body of POST /v1/services (name, network, mode,
 * table size, VIPs, endpoints with weight, admin state and port): journaled
 * after each change over REST ({"service": body}, {"service_del": NAME})
 * and listed in the snapshot ("services"). Services are not model objects:
 * the file's are set up at start whether or not a state exists, so
 * restoring makes the running services what the state says. Each stored
 * service is compared with the running one of its name and only what
 * differs changes: endpoints through the calls REST uses (the flows of
 * unchanged endpoints stay), the service replaced only when its VIPs,
 * network, mode or table size differ; a snapshot's list also removes the
 * services it does not name.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_log.h>

#include "ctl_priv.h"
#include "mg_natgw_setup.h"
#include "mg_rules.h"
#include "mg_svc_setup.h"

RTE_LOG_REGISTER_SUFFIX(mg_svcstate_logtype, svcstate, INFO);
#define SS_LOG(l, ...) rte_log(RTE_LOG_##l, mg_svcstate_logtype, "svcstate: " __VA_ARGS__)

/* The service as its POST body. */
static json_t *
spec_json(const struct mg_svc_info *si)
{
	json_t *vips = json_array(), *eps = json_array();
	char b[MG_IP_STRLEN];

	for (unsigned int i = 0; i < si->nvips; i++)
		json_array_append_new(vips, json_string(mg_ip_fmt(&si->vips[i], b, sizeof(b))));
	for (unsigned int i = 0; i < si->neps; i++) {
		const struct mg_svc_ep_info *e = &si->eps[i];
		json_t *o = json_pack("{s:s, s:s, s:I, s:b}", "name", e->name, "address",
				      mg_ip_fmt(&e->addr, b, sizeof(b)), "weight",
				      (json_int_t)e->weight, "up", e->up);

		if (e->port != 0)
			json_object_set_new(o, "port", json_integer(e->port));
		json_array_append_new(eps, o);
	}
	return json_pack("{s:s, s:s, s:s, s:I, s:o, s:o}", "name", si->name, "network",
			 si->network, "mode", si->mode == 1 ? "nat" : "route", "table_size",
			 (json_int_t)si->table_size, "vips", vips, "endpoints", eps);
}

static void
spec_cb(const struct mg_svc_info *si, void *arg)
{
	json_array_append_new(arg, spec_json(si));
}

json_t *
ctl_svc_snapshot(void)
{
	json_t *a = json_array();

	mg_svc_ctl_walk(NULL, spec_cb, a);
	return a;
}

/* The running service @p name as its POST body, or NULL. */
static json_t *
running(const char *name)
{
	json_t *a = json_array(), *o = NULL;

	if (mg_svc_ctl_walk(name, spec_cb, a) > 0)
		o = json_incref(json_array_get(a, 0));
	json_decref(a);
	return o;
}

int
ctl_svc_journal(struct mg_ctl *c, const char *name, struct mg_error *err)
{
	json_t *cur, *entry;
	int rc;

	if (c->journal_fd < 0 || c->replaying || (cur = running(name)) == NULL)
		return 0;
	entry = json_pack("{s:o}", "service", cur);
	rc = ctl_journal(c, entry, err);
	json_decref(entry);
	return rc;
}

int
ctl_svc_journal_del(struct mg_ctl *c, const char *name, struct mg_error *err)
{
	json_t *cur, *entry;
	int rc;

	if (c->journal_fd < 0 || c->replaying || (cur = running(name)) == NULL)
		return 0;
	json_decref(cur);
	entry = json_pack("{s:s}", "service_del", name);
	rc = ctl_journal(c, entry, err);
	json_decref(entry);
	return rc;
}

static json_t *
ep_named(json_t *eps, const char *name)
{
	json_t *e;
	size_t i;

	json_array_foreach(eps, i, e)
		if (!strcmp(json_string_value(json_object_get(e, "name")), name))
			return e;
	return NULL;
}

/* Whether @p have can become @p want by endpoint calls alone. */
static bool
patchable(json_t *have, json_t *want)
{
	static const char *const keys[] = {"network", "mode", "table_size", "vips"};

	for (unsigned int k = 0; k < RTE_DIM(keys); k++)
		if (!json_equal(json_object_get(have, keys[k]), json_object_get(want, keys[k])))
			return false;
	return true;
}

/* Change the endpoints of running service @p sc->name to those of @p sc. */
static int
set_endpoints(struct mg_ctl *c, json_t *have, const struct mg_svc_cfg *sc, struct mg_error *err)
{
	json_t *heps = json_object_get(have, "endpoints"), *h;
	size_t i;

	for (unsigned int k = 0; k < sc->neps; k++) {
		const struct mg_svc_ep_cfg *e = &sc->eps[k];
		struct mg_svc_ep_update u = {.has_addr = true, .addr = e->addr, .has_weight = true,
					     .weight = e->weight, .has_up = true, .up = e->up,
					     .has_port = true, .port = e->port};
		char a[MG_IP_STRLEN];

		h = ep_named(heps, e->name);
		if (h != NULL &&
		    !strcmp(json_string_value(json_object_get(h, "address")),
			    mg_ip_fmt(&e->addr, a, sizeof(a))) &&
		    json_integer_value(json_object_get(h, "weight")) == e->weight &&
		    json_is_true(json_object_get(h, "up")) == e->up &&
		    json_integer_value(json_object_get(h, "port")) == e->port)
			continue;
		if (mg_svc_ctl_endpoint_put(c->env.dp, sc->name, e->name, &u, err) < 0) {
			mg_error_prefix_field(err, "endpoints[%u]", k);
			return -err->code;
		}
	}
	json_array_foreach(heps, i, h) {
		const char *n = json_string_value(json_object_get(h, "name"));
		bool kept = false;

		for (unsigned int k = 0; k < sc->neps && !kept; k++)
			kept = !strcmp(sc->eps[k].name, n);
		if (!kept && mg_svc_ctl_endpoint_del(c->env.dp, sc->name, n, err) < 0)
			return -err->code;
	}
	return 0;
}

int
ctl_svc_remove(struct mg_ctl *c, const char *name, struct mg_error *err)
{
	char gw[MG_NAME_MAX];

	if (mg_rules_service_busy(c->env.model, name, "service", err) < 0)
		return -err->code;
	if (mg_natgw_ctl_service_busy(name, gw, sizeof(gw)))
		return mg_error_set(err, EBUSY, "service", "gateway %s publishes it", gw);
	return mg_svc_ctl_service_del(name, err);
}

int
ctl_svc_restore(struct mg_ctl *c, json_t *stored, struct mg_error *err)
{
	struct mg_svc_cfg *sc = malloc(sizeof(*sc));
	json_t *have = NULL;
	int rc;

	if (sc == NULL)
		return mg_error_set(err, ENOMEM, "service", "out of memory");
	rc = ctl_svc_cfg_json(stored, sc, err);
	if (rc == 0 && (have = running(sc->name)) == NULL)
		rc = mg_svc_ctl_service_add(sc, err);
	else if (rc == 0 && !json_equal(have, stored)) {
		if (patchable(have, stored))
			rc = set_endpoints(c, have, sc, err);
		else if ((rc = ctl_svc_remove(c, sc->name, err)) == 0)
			rc = mg_svc_ctl_service_add(sc, err);
	}
	if (rc < 0)
		mg_error_prefix_field(err, "service %s", sc->name[0] ? sc->name : "?");
	json_decref(have);
	free(sc);
	return rc;
}

int
ctl_svc_restore_all(struct mg_ctl *c, json_t *list, uint64_t *failed)
{
	json_t *now = ctl_svc_snapshot(), *o, *s;
	struct mg_error err;
	int applied = 0;
	size_t i, k;

	json_array_foreach(list, i, o) {
		mg_error_clear(&err);
		if (ctl_svc_restore(c, o, &err) < 0) {
			SS_LOG(ERR, "%s: %s\n", err.field, err.msg);
			(*failed)++;
		} else {
			applied++;
		}
	}
	/* Those running that the state does not list (the file's, removed since). */
	json_array_foreach(now, i, s) {
		const char *name = json_string_value(json_object_get(s, "name"));
		bool listed = false;

		json_array_foreach(list, k, o)
			listed = listed || !strcmp(json_string_value(json_object_get(o, "name")) ?
						   json_string_value(json_object_get(o, "name")) :
						   "", name);
		mg_error_clear(&err);
		if (!listed && ctl_svc_remove(c, name, &err) < 0) {
			SS_LOG(ERR, "service %s: %s\n", name, err.msg);
			(*failed)++;
		}
	}
	json_decref(now);
	return applied;
}
