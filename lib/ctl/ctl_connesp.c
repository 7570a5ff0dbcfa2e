/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NSM IPSEC mechanism with static keys: an ESP tunnel (model_esp.c)
 * between the client's outer address and ours, made for the connection
 * before its operations put addresses and routes on it.
 *
 * Parameters (strings, NSM's src = the client, dst = meshgate):
 *   src_ip           the client's outer address (required)
 *   dst_ip           our outer address (default: our address on the interface
 *                    of the connection's network whose subnet holds src_ip;
 *                    answered)
 *   algorithm        one of lib/esp's names (default aes-gcm-128)
 *   src_spi, src_key, src_salt, src_auth_key
 *                    the SA the client sends with (our inbound), inner IPv4
 *   dst_spi, dst_key, dst_salt, dst_auth_key
 *                    the SA we send with (our outbound), inner IPv4
 *   src_spi6 ... dst_auth_key6
 *                    the same for inner IPv6 (its own SPIs and keys: an SA
 *                    per inner family, and never one key for two SAs)
 *   udp_encap        "true": NAT-T (RFC 3948) on src_port / dst_port (4500)
 *   esn              "true": extended sequence numbers
 *   replay_window    64-4096
 * At least one family's four values (SPIs and keys; salts and HMAC keys as
 * the algorithm needs) are required. Keys are hex. The keys are never
 * answered, shown in the monitor stream or stored in clear: the stored
 * request carries them sealed (ctl_ipsec_seal), and the Connection we answer
 * has them removed (a refresh that differs only in keys is a refresh).
 *
 * Extending: IKEv2 with public keys (lib/ike) would accept IPSEC requests
 * that carry src_public_key instead (ctl_ipsec_acceptable), negotiate, and
 * install the same tunnel with the SAs IKE derived (ctl_esp_add_body).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_log.h>

#include "ctl_priv.h"

/* Parameters that hold secrets: removed from answers, sealed in the state. */
static const char *const secret_params[] = {
	"src_key", "dst_key", "src_salt", "dst_salt", "src_auth_key", "dst_auth_key",
	"src_key6", "dst_key6", "src_salt6", "dst_salt6", "src_auth_key6", "dst_auth_key6",
	NULL};

static const char *
p_get(json_t *mech, const char *name)
{
	json_t *v = json_object_get(json_object_get(mech, "parameters"), name);

	return json_is_string(v) && json_string_value(v)[0] ? json_string_value(v) : NULL;
}

bool
ctl_ipsec_acceptable(json_t *mech)
{
	/* Static keys for at least one direction pair; public keys: not yet (lib/ike). */
	return (p_get(mech, "src_key") && p_get(mech, "dst_key")) ||
	       (p_get(mech, "src_key6") && p_get(mech, "dst_key6"));
}

bool
ctl_ipsec_secret_param(const char *name)
{
	for (unsigned int i = 0; secret_params[i] != NULL; i++)
		if (!strcmp(name, secret_params[i]))
			return true;
	return false;
}

static int
perr(struct mg_error *err, const char *where, const char *param, int code, const char *msg)
{
	mg_error_set(err, code, "", "%s", msg);
	snprintf(err->field, sizeof(err->field), "%s.parameters.%s", where, param);
	return -code;
}

/* Add the two SAs of one inner family to @p sas (a POST body "sas" list); 0 if none given. */
static int
family_sas(json_t *mech, const char *where, const char *sfx, const char *inner,
	   const char *algo, json_t *sas, struct mg_error *err)
{
	static const char *const sides[2] = {"src", "dst"};
	char n[32];
	bool any = false, all = true;

	for (int s = 0; s < 2; s++)
		for (int k = 0; k < 2; k++) {
			snprintf(n, sizeof(n), "%s_%s%s", sides[s], k ? "key" : "spi", sfx);
			if (p_get(mech, n))
				any = true;
			else
				all = false;
		}
	if (!any)
		return 0;
	for (int s = 0; s < 2; s++) {
		static const char *const opt[] = {"key", "salt", "auth_key"};
		json_t *sa = json_object();
		const char *spi;
		char *end = NULL;
		unsigned long long v;

		snprintf(n, sizeof(n), "%s_spi%s", sides[s], sfx);
		spi = p_get(mech, n);
		if (!all || spi == NULL) {
			json_decref(sa);
			return perr(err, where, n, EINVAL, "an IPsec connection gives src_spi, "
				    "src_key, dst_spi and dst_key for each inner family it uses "
				    "(suffix 6 for IPv6)");
		}
		v = strtoull(spi, &end, 0);
		if (end == spi || *end != '\0' || v < 256 || v > UINT32_MAX) {
			json_decref(sa);
			return perr(err, where, n, EINVAL, "not an SPI 256-4294967295");
		}
		json_object_set_new(sa, "direction", json_string(s == 0 ? "in" : "out"));
		json_object_set_new(sa, "inner", json_string(inner));
		json_object_set_new(sa, "spi", json_integer((json_int_t)v));
		json_object_set_new(sa, "algorithm", json_string(algo));
		for (unsigned int o = 0; o < RTE_DIM(opt); o++) {
			const char *x;

			snprintf(n, sizeof(n), "%s_%s%s", sides[s], opt[o], sfx);
			if ((x = p_get(mech, n)) != NULL)
				json_object_set_new(sa, opt[o], json_string(x));
		}
		json_array_append_new(sas, sa);
	}
	return 1;
}

static bool
p_true(json_t *mech, const char *name, struct mg_error *err, const char *where, int *rc)
{
	const char *v = p_get(mech, name);

	if (v == NULL || !strcmp(v, "false"))
		return false;
	if (!strcmp(v, "true"))
		return true;
	*rc = perr(err, where, name, EINVAL, "must be true or false");
	return false;
}

/* The field of a tunnel error, as a parameter of the request. */
static void
map_field(struct mg_error *err, const char *where)
{
	static const struct {
		const char *model, *param;
	} m[] = {{"local", "dst_ip"}, {"remote", "src_ip"}, {"replay_window", "replay_window"},
		 {"anti_replay", "esn"}, {"sas[0]", "src_spi"}, {"sas[1]", "dst_spi"},
		 {"sas[2]", "src_spi6"}, {"sas[3]", "dst_spi6"}};
	char f[sizeof(err->field)];

	for (unsigned int i = 0; i < RTE_DIM(m); i++)
		if (!strncmp(err->field, m[i].model, strlen(m[i].model))) {
			snprintf(f, sizeof(f), "%s.parameters.%s (%s)", where, m[i].param,
				 err->field);
			mg_strlcpy(err->field, f, sizeof(err->field));
			return;
		}
	snprintf(f, sizeof(f), "%s.parameters%s%s", where, err->field[0] ? "." : "", err->field);
	mg_strlcpy(err->field, f, sizeof(err->field));
}

int
ctl_ipsec_conn_up(struct mg_ctl *c, struct conn *k, json_t *mech, struct mg_error *err)
{
	struct mg_model *m = c->env.model;
	const char *sip = p_get(mech, "src_ip"), *dip = p_get(mech, "dst_ip");
	const char *algo = p_get(mech, "algorithm"), *rw = p_get(mech, "replay_window");
	const char *where = k->mech_field;
	char name[MG_NAME_MAX], buf[MG_IP_STRLEN];
	json_t *body, *sas = json_array(), *params;
	struct mg_ip remote, local;
	uint32_t h = 2166136261u;
	int rc = 0, n4, n6;

	for (const char *p = k->id; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	if (sip == NULL || mg_ip_parse(sip, &remote) < 0) {
		json_decref(sas);
		return perr(err, where, "src_ip", EINVAL,
			    "an IPsec connection needs the client's outer address");
	}
	if (dip != NULL) {
		if (mg_ip_parse(dip, &local) < 0) {
			json_decref(sas);
			return perr(err, where, "dst_ip", EINVAL, "not an address");
		}
	} else {
		const struct mg_network *net = mg_model_network_find(m, k->network);
		const struct mg_iface *ifc = net ? mg_model_iface_connected(m, net->id, &remote)
						 : NULL;
		const struct mg_prefix *a = ifc == NULL ? NULL :
			remote.family == AF_INET ? (ifc->naddr4 ? &ifc->addr4[0] : NULL) :
			(ifc->naddr6 ? &ifc->addr6[0] : NULL);

		if (a == NULL) {
			json_decref(sas);
			return perr(err, where, "dst_ip", EINVAL, "no interface of the connection's "
				    "network is on src_ip's subnet: give dst_ip (our outer address)");
		}
		local = a->addr;
	}
	if (algo == NULL)
		algo = "aes-gcm-128";
	n4 = family_sas(mech, where, "", "ipv4", algo, sas, err);
	n6 = n4 < 0 ? 0 : family_sas(mech, where, "6", "ipv6", algo, sas, err);
	if (n4 < 0 || n6 < 0) {
		ctl_json_wipe(sas);
		json_decref(sas);
		return -err->code;
	}
	for (unsigned int i = 0;; i++) {
		snprintf(name, sizeof(name), i ? "nsmesp-%08x-%u" : "nsmesp-%08x", h, i);
		if (mg_model_iface_find(m, name) == NULL)
			break;
	}
	body = json_object();
	json_object_set_new(body, "name", json_string(name));
	json_object_set_new(body, "network", json_string(k->network));
	json_object_set_new(body, "local", json_string(mg_ip_fmt(&local, buf, sizeof(buf))));
	json_object_set_new(body, "remote", json_string(mg_ip_fmt(&remote, buf, sizeof(buf))));
	json_object_set_new(body, "udp_encap", json_boolean(p_true(mech, "udp_encap", err, where,
								   &rc)));
	json_object_set_new(body, "esn", json_boolean(p_true(mech, "esn", err, where, &rc)));
	if (rw != NULL)
		json_object_set_new(body, "replay_window", json_integer(strtoll(rw, NULL, 10)));
	json_object_set_new(body, "sas", sas);
	if (rc == 0) {
		rc = ctl_esp_add_body(c, body, err);
		if (rc < 0)
			map_field(err, where);
	}
	ctl_json_wipe(body);
	json_decref(body);
	if (rc < 0)
		return rc;
	mg_strlcpy(k->esp, name, sizeof(k->esp));
	mg_strlcpy(k->iface, name, sizeof(k->iface));
	params = json_object_get(mech, "parameters");
	if (json_is_object(params))
		json_object_set_new(params, "dst_ip", json_string(mg_ip_fmt(&local, buf,
									    sizeof(buf))));
	return 0;
}

void
ctl_ipsec_strip(json_t *mech)
{
	json_t *params = json_object_get(mech, "parameters");

	for (unsigned int i = 0; secret_params[i] != NULL; i++) {
		json_t *v = json_object_get(params, secret_params[i]);

		if (json_is_string(v))
			mg_wipe((char *)(uintptr_t)json_string_value(v), json_string_length(v));
		json_object_del(params, secret_params[i]);
	}
}

/* Every mechanism of a request: connection.mechanism, then mechanism_preferences[]. */
static json_t *
mech_at(json_t *req, size_t i)
{
	json_t *own = json_object_get(json_object_get(req, "connection"), "mechanism");

	if (i == 0)
		return own;
	return json_array_get(json_object_get(req, "mechanism_preferences"), i - 1);
}

static size_t
mech_count(json_t *req)
{
	return 1 + json_array_size(json_object_get(req, "mechanism_preferences"));
}

void
ctl_ipsec_seal(struct mg_ctl *c, const struct conn *k, json_t *entry)
{
	uint8_t sk[CTL_STATE_KEY_BYTES];
	json_t *req = json_object_get(entry, "request"), *secrets = json_object(), *copy;
	struct mg_error err;
	char ad[32 + sizeof(k->id)], *text;
	bool any = false;

	if (k->mech != MECH_IPSEC || req == NULL) {
		json_decref(secrets);
		return;
	}
	/* The stored request without its secrets; they go sealed beside it. */
	copy = json_deep_copy(req);
	for (size_t i = 0; i < mech_count(copy); i++) {
		json_t *params = json_object_get(mech_at(copy, i), "parameters"), *one = json_object();

		for (unsigned int s = 0; secret_params[s] != NULL; s++) {
			json_t *v = json_object_get(params, secret_params[s]);

			if (json_is_string(v)) {
				json_object_set_new(one, secret_params[s],
						    json_string(json_string_value(v)));
				any = true;
			}
		}
		if (json_object_size(one) > 0) {
			char idx[24];

			snprintf(idx, sizeof(idx), "%zu", i);
			json_object_set_new(secrets, idx, one);
		} else {
			json_decref(one);
		}
		ctl_ipsec_strip(mech_at(copy, i));
	}
	json_object_set_new(entry, "request", copy);
	if (!any || c->conf.state_dir[0] == '\0' || ctl_state_key(c, sk, true, &err) < 0) {
		/* Stored without its keys: after a restart the connection cannot come back. */
		ctl_json_wipe(secrets);
		json_decref(secrets);
		return;
	}
	text = json_dumps(secrets, JSON_COMPACT);
	ctl_json_wipe(secrets);
	json_decref(secrets);
	if (text == NULL)
		goto out;
	snprintf(ad, sizeof(ad), "meshgate-ipsec-nsm:%s", k->id);
	if (strlen(text) <= CTL_SEAL_MAX)
		json_object_set_new(entry, "ipsec_sealed",
				    ctl_seal_bytes(sk, (const uint8_t *)text, strlen(text), ad));
	mg_wipe(text, strlen(text));
	free(text);
out:
	mg_wipe(sk, sizeof(sk));
}

int
ctl_ipsec_open(struct mg_ctl *c, json_t *entry, struct mg_error *err)
{
	uint8_t sk[CTL_STATE_KEY_BYTES], text[CTL_SEAL_MAX + 1];
	json_t *v = json_object_get(entry, "ipsec_sealed"), *req = json_object_get(entry, "request");
	json_t *secrets, *one;
	const char *id = json_string_value(json_object_get(json_object_get(req, "connection"),
							   "id"));
	const char *idx;
	char ad[300];
	size_t n = 0;
	int rc;

	if (v == NULL)
		return 0;
	if (id == NULL)
		return mg_error_set(err, EINVAL, "connect", "a stored connection without an id");
	if (ctl_state_key(c, sk, false, err) < 0)
		return -err->code;
	snprintf(ad, sizeof(ad), "meshgate-ipsec-nsm:%s", id);
	rc = ctl_unseal_bytes(sk, v, ad, text, CTL_SEAL_MAX, &n);
	mg_wipe(sk, sizeof(sk));
	if (rc < 0)
		return mg_error_set(err, EINVAL, "connect", "connection %s: its IPsec keys do not "
				    "open with the state key", id);
	text[n] = '\0';
	secrets = json_loads((const char *)text, 0, NULL);
	mg_wipe(text, sizeof(text));
	if (secrets == NULL)
		return mg_error_set(err, EINVAL, "connect", "connection %s: bad sealed keys", id);
	json_object_foreach(secrets, idx, one) {
		json_t *params = json_object_get(mech_at(req, strtoul(idx, NULL, 10)), "parameters");

		if (json_is_object(params))
			json_object_update(params, one);
	}
	/* The strings now belong to the request too: conn_replay wipes them after use. */
	json_decref(secrets);
	json_object_del(entry, "ipsec_sealed");
	return 0;
}
