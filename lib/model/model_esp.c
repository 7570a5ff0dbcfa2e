/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPsec ESP tunnels in the model: a tunnel is a point-to-point interface
 * (kind MG_IFACE_ESP) of its inner network, whose packets leave as ESP
 * between two outer addresses of an underlay network. Routes point into it
 * like into any interface (`interface: NAME`).
 *
 * The model keeps the SAs' keys (the backend needs them to replay the model)
 * and wipes them whenever an SA or a tunnel is dropped; nothing here prints
 * them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg_esp_algos.h"
#include "mg_model.h"
#include "mg_rules.h"
#include "model_priv.h"

/* esp_table, mg_model_esp_next, mg_model_esp_find, mg_model_esp_by_iface */
MODEL_TUNNEL_TABLE(esp, mg_esp_tunnel, MG_MODEL_MAX_ESP, model_esp_slot)

int
mg_model_esp_sa_check(const struct mg_esp_sa_conf *c, struct mg_error *err)
{
	struct mg_esp_algo_keys k;

	if (c->spi < 256)
		return mg_error_set(err, EINVAL, "spi", "%u is reserved: an SPI is 256 or above",
				    c->spi);
	if (c->inner_family != AF_INET && c->inner_family != AF_INET6)
		return mg_error_set(err, EINVAL, "inner", "must be ipv4 or ipv6");
	if (c->algo < 0 || c->algo >= MG_ESP_ALGO_MAX)
		return mg_error_set(err, EINVAL, "algorithm", "must be one of " MG_ESP_ALGO_LIST);
	k = mg_esp_algo_keys(c->algo);
	if (c->key_len != k.key)
		return mg_error_set(err, EINVAL, "key", "this algorithm takes a %u-byte key, not %u",
				    k.key, c->key_len);
	if (c->auth_key_len != k.auth)
		return mg_error_set(err, EINVAL, "auth_key",
				    "this algorithm takes a %u-byte HMAC key, not %u", k.auth,
				    c->auth_key_len);
	if (c->salt_len != k.salt)
		return mg_error_set(err, EINVAL, "salt", "this algorithm takes a %u-byte salt, not %u",
				    k.salt, c->salt_len);
	if (c->packets_hard && c->packets_soft >= c->packets_hard)
		return mg_error_set(err, EINVAL, "lifetime.packets",
				    "the soft limit must be below the hard one");
	if (c->bytes_hard && c->bytes_soft >= c->bytes_hard)
		return mg_error_set(err, EINVAL, "lifetime.bytes",
				    "the soft limit must be below the hard one");
	if (c->seconds_hard && c->seconds_soft >= c->seconds_hard)
		return mg_error_set(err, EINVAL, "lifetime.seconds",
				    "the soft limit must be below the hard one");
	return 0;
}

/* Inbound SPI @p spi used by another tunnel than @p self (or by one of @p sas). */
static const struct mg_esp_tunnel *
spi_user(const struct mg_model *m, uint32_t spi, const struct mg_esp_tunnel *self)
{
	const struct mg_esp_tunnel *t;
	uint32_t c = 0;

	while ((t = mg_model_esp_next(m, &c)) != NULL) {
		if (t == self)
			continue;
		for (unsigned int i = 0; i < t->spec.nsas; i++)
			if (t->spec.sas[i].inbound && t->spec.sas[i].spi == spi)
				return t;
	}
	return NULL;
}

static const char *
field(char *buf, size_t n, unsigned int i, const char *sub)
{
	snprintf(buf, n, "sas[%u]%s", i, sub);
	return buf;
}

/* Check a list of SAs: each valid, one per (direction, inner family), inbound SPIs unique. */
static int
sas_check(const struct mg_model *m, const struct mg_esp_sa_conf *sas, unsigned int n,
	  const struct mg_esp_tunnel *self, struct mg_error *err)
{
	const struct mg_esp_tunnel *o;
	char f[32];

	if (n > MG_ESP_TUN_MAX_SAS)
		return mg_error_set(err, EINVAL, "sas", "at most %u SAs (one per direction and "
				    "inner family)", MG_ESP_TUN_MAX_SAS);
	for (unsigned int i = 0; i < n; i++) {
		int rc = mg_model_esp_sa_check(&sas[i], err);

		if (rc < 0) {
			mg_error_prefix_field(err, "sas[%u]", i);
			return rc;
		}
		for (unsigned int j = 0; j < i; j++) {
			if (sas[j].inbound == sas[i].inbound &&
			    sas[j].inner_family == sas[i].inner_family)
				return mg_error_set(err, EINVAL, field(f, sizeof(f), i, ""),
						    "a second %s SA for inner %s (sas[%u] is one)",
						    sas[i].inbound ? "inbound" : "outbound",
						    sas[i].inner_family == AF_INET ? "ipv4" : "ipv6", j);
			if (sas[i].inbound && sas[j].inbound && sas[i].spi == sas[j].spi)
				return mg_error_set(err, EINVAL, field(f, sizeof(f), i, ".spi"),
						    "inbound SPI %u is also sas[%u]'s", sas[i].spi, j);
		}
		if (sas[i].inbound && (o = spi_user(m, sas[i].spi, self)) != NULL)
			return mg_error_set(err, EEXIST, field(f, sizeof(f), i, ".spi"),
					    "inbound SPI %u is used by tunnel '%s'", sas[i].spi,
					    o->spec.name);
	}
	return 0;
}

int
mg_model_esp_add(struct mg_model *m, const struct mg_esp_tunnel_spec *s, struct mg_error *err)
{
	const struct mg_model_backend *be = model_backend(m);
	const struct mg_network *net, *under;
	struct mg_esp_tunnel *tab, *t = NULL;
	struct mg_iface *ifc;
	int rc;

	if (s->name[0] == '\0')
		return mg_error_set(err, EINVAL, "name", "a tunnel needs a name");
	if (mg_model_iface_find(m, s->name) != NULL)
		return mg_error_set(err, EEXIST, "name", "an interface named '%s' exists", s->name);
	rc = model_resolve_overlay(m, s->network, s->underlay, &net, &under, err);
	if (rc < 0)
		return rc;
	rc = model_tunnel_ends(m, under, &s->local, &s->remote, false, "must be a unicast address",
			       err);
	if (rc < 0)
		return rc;
	if (s->mtu != 0 && (rc = model_mtu_check(s->mtu, err)) < 0)
		return rc;
	if (s->path_mtu != 0 && (s->path_mtu < 576 || s->path_mtu > MG_MTU_MAX))
		return mg_error_set(err, EINVAL, "path_mtu", "%u is out of range 576-%u",
				    s->path_mtu, MG_MTU_MAX);
	if (s->replay_window != 0 && (s->replay_window < 64 || s->replay_window > 4096))
		return mg_error_set(err, EINVAL, "replay_window", "%u is out of range 64-4096",
				    s->replay_window);
	if (s->mss_clamp != 0 && s->mss_clamp != MG_ESP_MSS_AUTO &&
	    (s->mss_clamp < MG_ESP_MSS_MIN || s->mss_clamp > MG_ESP_MSS_MAX))
		return mg_error_set(err, EINVAL, "mss_clamp", "%u is out of range %u-%u (or auto)",
				    s->mss_clamp, MG_ESP_MSS_MIN, MG_ESP_MSS_MAX);
	if (s->no_replay && s->esn)
		return mg_error_set(err, EINVAL, "anti_replay",
				    "cannot be off with extended sequence numbers (esn)");
	rc = sas_check(m, s->sas, s->nsas, NULL, err);
	if (rc < 0)
		return rc;
	tab = esp_table(m, true);
	if (tab == NULL)
		return mg_error_set(err, ENOMEM, "", "out of memory");
	for (unsigned int i = 0; i < MG_MODEL_MAX_ESP && t == NULL; i++)
		if (!tab[i].used)
			t = &tab[i];
	if (t == NULL)
		return mg_error_set(err, ENOSPC, "name", "the ESP tunnel table is full (at most %u)",
				    MG_MODEL_MAX_ESP);
	ifc = model_iface_take(m, err);
	if (ifc == NULL)
		return -err->code;
	memset(t, 0, sizeof(*t));
	t->id = (uint16_t)(t - tab);
	t->iface = ifc->id;
	t->network = net->id;
	t->underlay = under->id;
	t->spec = *s;
	if (t->spec.network[0] == '\0')
		snprintf(t->spec.network, sizeof(t->spec.network), "%s", net->spec.name);
	ifc->kind = MG_IFACE_ESP;
	snprintf(ifc->name, sizeof(ifc->name), "%s", s->name);
	ifc->port = UINT16_MAX;
	ifc->network = net->id;
	ifc->mtu = s->mtu;
	/* No MAC: the link-local address is the zero MAC's (fe80::ff:fe00:0), as in fwd. */
	mg_ip6_link_local_from_mac(&ifc->mac, &ifc->ll6);
	if (be != NULL && be->esp_add != NULL) {
		rc = be->esp_add(be->ctx, t, ifc, err);
		if (rc < 0) {
			mg_wipe(t, sizeof(*t));
			return rc;
		}
	}
	if (ifc->mtu == 0)
		ifc->mtu = 1400; /* no backend (--check): a placeholder */
	model_iface_commit(m, ifc);
	t->used = true;
	return 0;
}

int
mg_model_esp_del(struct mg_model *m, const char *name, struct mg_error *err)
{
	const struct mg_model_backend *be = model_backend(m);
	struct mg_esp_tunnel *t = (struct mg_esp_tunnel *)mg_model_esp_find(m, name);
	struct mg_iface *ifc;

	if (t == NULL)
		return mg_error_set(err, ENOENT, "name", "no ESP tunnel named '%s'", name);
	ifc = model_iface(m, t->iface);
	if (model_iface_busy(m, ifc, name, err) < 0)
		return -err->code;
	model_iface_release(m, ifc);
	if (be != NULL && be->esp_del != NULL)
		be->esp_del(be->ctx, t, ifc);
	mg_wipe(t, sizeof(*t));
	return 0;
}

int
mg_model_esp_rekey(struct mg_model *m, const char *name, const struct mg_esp_sa_conf *sas,
		   unsigned int n, struct mg_error *err)
{
	const struct mg_model_backend *be = model_backend(m);
	struct mg_esp_tunnel *t = (struct mg_esp_tunnel *)mg_model_esp_find(m, name);
	struct mg_esp_tunnel_spec next;
	int rc;

	if (t == NULL)
		return mg_error_set(err, ENOENT, "name", "no ESP tunnel named '%s'", name);
	if (n == 0)
		return mg_error_set(err, EINVAL, "sas", "no SA given");
	/* The tunnel's SAs after the change, checked whole. */
	next = t->spec;
	for (unsigned int i = 0; i < n; i++) {
		unsigned int j;

		for (j = 0; j < next.nsas; j++)
			if (next.sas[j].inbound == sas[i].inbound &&
			    next.sas[j].inner_family == sas[i].inner_family)
				break;
		if (j == next.nsas) {
			if (next.nsas == MG_ESP_TUN_MAX_SAS) {
				mg_wipe(&next, sizeof(next));
				return mg_error_set(err, EINVAL, "sas", "too many SAs");
			}
			next.nsas++;
		}
		next.sas[j] = sas[i];
	}
	rc = sas_check(m, sas, n, t, err);
	if (rc == 0)
		rc = sas_check(m, next.sas, next.nsas, t, err);
	if (rc == 0 && be != NULL && be->esp_rekey != NULL)
		rc = be->esp_rekey(be->ctx, t, sas, n, err);
	if (rc == 0) {
		mg_wipe(t->spec.sas, sizeof(t->spec.sas));
		memcpy(t->spec.sas, next.sas, sizeof(next.sas));
		t->spec.nsas = next.nsas;
		t->rekeys++;
	}
	mg_wipe(&next, sizeof(next));
	return rc;
}

int
model_esp_replay(struct mg_model *m, struct mg_error *err)
{
	const struct mg_model_backend *be = model_backend(m);
	struct mg_esp_tunnel *tab = esp_table(m, false);

	if (tab == NULL || be == NULL || be->esp_add == NULL)
		return 0;
	for (unsigned int i = 0; i < MG_MODEL_MAX_ESP; i++) {
		struct mg_esp_tunnel *t = &tab[i];
		int rc;

		if (!t->used)
			continue;
		rc = be->esp_add(be->ctx, t, model_iface(m, t->iface), err);
		if (rc < 0) {
			mg_error_prefix_field(err, "esp_tunnels[%s]", t->spec.name);
			return rc;
		}
	}
	return 0;
}

void
model_esp_free(struct mg_model *m)
{
	struct mg_esp_tunnel **t = model_esp_slot(m);

	if (*t == NULL)
		return;
	mg_wipe(*t, MG_MODEL_MAX_ESP * sizeof(**t));
	free(*t);
	*t = NULL;
}
