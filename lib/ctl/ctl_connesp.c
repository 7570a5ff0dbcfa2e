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
 * With public keys instead (NSM's form, as sdk-vpp's forwarder sends them):
 *   src_public_key   the client's self-signed certificate, base64 DER (RSA)
 * meshgate makes a key and a self-signed certificate for the connection,
 * answers it in dst_public_key, and answers the client's IKEv2 (lib/ike, as
 * responder) on the tunnel: AUTH by signatures, each side's certificate
 * pinned, identities FQDN = the first 64 characters of each side's key
 * parameter (as sdk-vpp sets them); traffic selectors from the connection's
 * ip_context (src_ip_addrs theirs, dst_ip_addrs ours; one inner family).
 * IKE events (established, rekeyed, deleted, failed with the reason) update
 * the connection's ike_state / ike_error parameters (state DOWN while the
 * SA is not up) and go to the monitor stream (mg_ctl_ike_event). The
 * private key lives in lib/ike only (never stored): after a restart the
 * connection comes back with a new key, and the client must request again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_log.h>

#include "ctl_priv.h"
#include "mg_ike.h"

extern int mg_nsm_logtype; /* ctl_conn.c */

static int perr(struct mg_error *err, const char *where, const char *param, int code,
		const char *msg);

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
	/* Static keys for at least one direction pair, or the client's public key (IKEv2). */
	return (p_get(mech, "src_key") && p_get(mech, "dst_key")) ||
	       (p_get(mech, "src_key6") && p_get(mech, "dst_key6")) ||
	       p_get(mech, "src_public_key") != NULL;
}

bool
ctl_ipsec_status_param(const char *name)
{
	/* Ours in the answer, not part of the client's setup. */
	return !strcmp(name, "ike_state") || !strcmp(name, "ike_error") ||
	       !strcmp(name, "dst_public_key");
}

/* IKE mode: the client's public key and no static key. */
static bool
ike_mode(json_t *mech)
{
	return p_get(mech, "src_public_key") != NULL && p_get(mech, "src_key") == NULL &&
	       p_get(mech, "src_key6") == NULL;
}

/* The connection's ip_context prefixes of @p key (one family: @p fam, set by the first). */
static uint8_t
ctx_prefixes(json_t *conn, const char *key, struct mg_prefix *out, int *fam)
{
	json_t *a = json_object_get(json_object_get(json_object_get(conn, "context"), "ip_context"),
				    key), *v;
	uint8_t n = 0;
	size_t i;

	json_array_foreach(a, i, v) {
		struct mg_prefix p;

		if (n == MG_IKE_MAX_TS || !json_is_string(v) ||
		    mg_prefix_parse(json_string_value(v), &p) < 0)
			continue;
		if (*fam == 0)
			*fam = p.addr.family;
		if (p.addr.family == *fam)
			out[n++] = p;
	}
	return n;
}

/* IKE for tunnel @p name: our key and certificate made, the client's pinned. */
static int
ike_up(struct mg_ctl *c, struct conn *k, json_t *mech, const char *name,
       const struct mg_ip *local, const struct mg_ip *remote, bool udp_encap, json_t *conn,
       struct mg_error *err)
{
	const char *theirs = p_get(mech, "src_public_key");
	struct mg_ike_peer_conf *pc = calloc(1, sizeof(*pc));
	static char cert[MG_IKE_CRED_MAX];
	char fq[65], why[128];
	int rc, fam = 0;

	if (pc == NULL)
		return mg_error_set(err, ENOMEM, "", "out of memory");
	if (c->env.ike_set == NULL) {
		free(pc);
		return perr(err, k->mech_field, "src_public_key", ENOTSUP,
			    "IKE is not available in this gateway");
	}
	if (strlen(theirs) < 64 || strlen(theirs) >= sizeof(pc->peer_cert)) {
		free(pc);
		return perr(err, k->mech_field, "src_public_key", EINVAL,
			    "not a certificate (base64 DER, as NSM's IPSEC mechanism sends it)");
	}
	mg_strlcpy(pc->name, name, sizeof(pc->name));
	pc->initiator = false;
	pc->local = *local;
	pc->remote = *remote;
	pc->udp_encap = udp_encap;
	pc->auth = MG_IKE_AUTH_PUBKEY;
	pc->dpd_s = 30;
	if (mg_ike_nsm_credentials("server", pc->key, sizeof(pc->key), cert, sizeof(cert)) < 0) {
		free(pc);
		return mg_error_set(err, EIO, "", "cannot make a key for IKE");
	}
	mg_strlcpy(pc->cert, cert, sizeof(pc->cert));
	mg_strlcpy(pc->peer_cert, theirs, sizeof(pc->peer_cert));
	snprintf(fq, sizeof(fq), "%.64s", cert);
	mg_ike_id_parse(fq, &pc->local_id);
	snprintf(fq, sizeof(fq), "%.64s", theirs);
	pc->remote_id.type = MG_IKE_ID_FQDN; /* as it comes: '=' or '@' in it change nothing */
	pc->remote_id.len = 64;
	memcpy(pc->remote_id.data, fq, 64);
	/* sdk-vpp proposes AES-CBC-256; AES-GCM and the rest too. */
	for (unsigned int i = 0; i < 3; i++) {
		static const char *const ike[] = {"aes256-sha256-modp2048",
						  "aes128gcm16-prfsha256-ecp256",
						  "aes256gcm16-prfsha384-ecp384"};
		static const char *const esp[] = {"aes256-sha256", "aes128gcm16", "aes256gcm16"};

		mg_ike_proposal_parse(ike[i], true, &pc->ike[pc->nike++], why, sizeof(why));
		mg_ike_proposal_parse(esp[i], false, &pc->esp[pc->nesp++], why, sizeof(why));
	}
	pc->nremote_ts = ctx_prefixes(conn, "src_ip_addrs", pc->remote_ts, &fam);
	pc->nlocal_ts = ctx_prefixes(conn, "dst_ip_addrs", pc->local_ts, &fam);
	if (pc->nremote_ts == 0 || pc->nlocal_ts == 0) {
		/* Without addresses: anything of the outer family through the tunnel. */
		const char *any = (fam ? fam : remote->family) == AF_INET ? "0.0.0.0/0" : "::/0";

		mg_prefix_parse(any, &pc->local_ts[0]);
		mg_prefix_parse(any, &pc->remote_ts[0]);
		pc->nlocal_ts = pc->nremote_ts = 1;
	}
	rc = c->env.ike_set(c->env.ctx, pc, err);
	if (rc < 0) {
		char f[sizeof(err->field)];

		snprintf(f, sizeof(f), "%s.parameters.src_public_key%s%s", k->mech_field,
			 err->field[0] ? " (" : "", err->field);
		if (err->field[0])
			strncat(f, ")", sizeof(f) - strlen(f) - 1);
		mg_strlcpy(err->field, f, sizeof(err->field));
	} else {
		json_t *params = json_object_get(mech, "parameters");

		json_object_set_new(params, "dst_public_key", json_string(cert));
		json_object_set_new(params, "ike_state", json_string("negotiating"));
	}
	mg_wipe(pc, sizeof(*pc));
	free(pc);
	mg_wipe(cert, sizeof(cert));
	return rc;
}

void
mg_ctl_ike_event(struct mg_ctl *c, const char *tunnel, const char *event, const char *reason)
{
	if (c == NULL || c->conns == NULL)
		return;
	for (unsigned int i = 0; i < CTL_MAX_CONNS; i++) {
		struct conn *k = &c->conns[i];
		json_t *params;
		bool up;

		if (!k->used || k->mech != MECH_IPSEC || strcmp(k->esp, tunnel))
			continue;
		params = json_object_get(json_object_get(k->conn, "mechanism"), "parameters");
		if (!json_is_object(params))
			return;
		up = strcmp(event, "failed") && strcmp(event, "deleted");
		json_object_set_new(params, "ike_state", json_string(event));
		if (reason != NULL && reason[0] && strcmp(reason, "ok"))
			json_object_set_new(params, "ike_error", json_string(reason));
		else
			json_object_del(params, "ike_error");
		json_object_set_new(k->conn, "state", json_string(up ? "UP" : "DOWN"));
		rte_log(RTE_LOG_INFO, mg_nsm_logtype, "nsm: connection %s: IKE %s%s%s\n", k->id, event,
			reason && reason[0] && strcmp(reason, "ok") ? ": " : "",
			reason && strcmp(reason, "ok") ? reason : "");
		nsm_event(c, k, "UPDATE");
		return;
	}
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
ctl_ipsec_conn_up(struct mg_ctl *c, struct conn *k, json_t *conn, json_t *mech,
		  struct mg_error *err)
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
	const bool ike = ike_mode(mech);
	bool encap;

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
	n4 = ike ? 0 : family_sas(mech, where, "", "ipv4", algo, sas, err);
	n6 = n4 < 0 || ike ? 0 : family_sas(mech, where, "6", "ipv6", algo, sas, err);
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
	/* NSM's IKE peers (sdk-vpp) encapsulate ESP in UDP: the default with public keys. */
	encap = p_true(mech, "udp_encap", err, where, &rc) ||
		(ike && p_get(mech, "udp_encap") == NULL);
	json_object_set_new(body, "udp_encap", json_boolean(encap));
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
	if (ike && (rc = ike_up(c, k, mech, name, &local, &remote, encap, conn, err)) < 0) {
		struct mg_error e2;

		mg_model_esp_del(m, name, &e2);
		return rc;
	}
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

	if (req == NULL) {
		json_decref(secrets);
		return;
	}
	if (k->mech != MECH_IPSEC) {
		/* Another mechanism was chosen: an IPSEC preference's keys are not
		 * needed again and are not stored at all. */
		copy = json_deep_copy(req);
		for (size_t i = 0; i < mech_count(copy); i++)
			ctl_ipsec_strip(mech_at(copy, i));
		json_object_set_new(entry, "request", copy);
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
