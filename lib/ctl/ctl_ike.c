/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * REST for the IKEv2 peer of an ESP tunnel, a thin parser over one core
 * call (env.ike_set / env.ike_del, lib/gw/gw_ike.c):
 *
 *   /v1/esp-tunnels/NAME/ike   GET PUT DELETE
 *
 * The body is the YAML `ike:` block as JSON (role, local_id, remote_id, psk
 * or key/cert/ca/peer_cert, proposals, esp_proposals, local_ts, remote_ts,
 * lifetime, child_lifetime, dpd, retransmit_ms, retransmit_tries, reauth).
 * PUT creates the peer or replaces its settings: everything is checked (the
 * credentials loaded) before anything changes, so a refused PUT leaves the
 * running peer and its SAs as they were. Errors name the field.
 *
 * Secrets: the PSK, and a private key given as PEM text, are never answered;
 * in memory and in the durable state the body keeps them sealed under the
 * state key ("psk_sealed", "key_sealed": ctl_seal_bytes, associated data
 * "meshgate-ike:TUNNEL:FIELD"), and the parsed body is wiped. The stored
 * body travels with its tunnel (ctl_espstate.c: "ike" in the tunnel's entry).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ctl_priv.h"
#include "mg_ike.h"

/*
 * Without control.state_dir nothing is stored, but secrets are still kept
 * sealed in memory: under a key of this process, made on first use.
 */
static uint8_t mem_key[CTL_STATE_KEY_BYTES];
static bool mem_key_set;

static int
seal_key(struct mg_ctl *c, uint8_t sk[CTL_STATE_KEY_BYTES], bool create, struct mg_error *e)
{
	if (c->conf.state_dir[0] != '\0')
		return ctl_state_key(c, sk, create, e);
	if (!mem_key_set) {
		randombytes_buf(mem_key, sizeof(mem_key));
		mem_key_set = true;
	}
	memcpy(sk, mem_key, sizeof(mem_key));
	return 0;
}

static const char *const ike_fields[] = {
	"role", "local_id", "remote_id", "psk", "key", "cert", "ca", "peer_cert", "proposals",
	"esp_proposals", "local_ts", "remote_ts", "lifetime", "child_lifetime", "dpd",
	"retransmit_ms", "retransmit_tries", "reauth", NULL};

static int
proposals(json_t *o, const char *key, bool ike, struct mg_ike_proposal *out, uint8_t *n,
	  struct mg_error *e)
{
	static const char *const def_ike[] = {"aes128gcm16-prfsha256-ecp256",
					      "aes256gcm16-prfsha384-ecp384",
					      "aes256-sha256-modp2048"};
	static const char *const def_esp[] = {"aes128gcm16", "aes256gcm16", "aes256-sha256"};
	json_t *a = json_object_get(o, key), *v;
	char why[192];
	size_t i;

	*n = 0;
	if (a == NULL) {
		for (i = 0; i < (ike ? MG_ARRAY_SIZE(def_ike) : MG_ARRAY_SIZE(def_esp)); i++)
			mg_ike_proposal_parse(ike ? def_ike[i] : def_esp[i], ike, &out[(*n)++], why,
					      sizeof(why));
		return 0;
	}
	if (!json_is_array(a) || json_array_size(a) == 0)
		return mg_error_set(e, EINVAL, key, "expected a non-empty list of proposals");
	if (json_array_size(a) > MG_IKE_MAX_PROPOSALS)
		return mg_error_set(e, EINVAL, key, "at most %u proposals", MG_IKE_MAX_PROPOSALS);
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) ||
		    mg_ike_proposal_parse(json_string_value(v), ike, &out[*n], why, sizeof(why)) < 0) {
			if (json_is_string(v))
				mg_error_set(e, EINVAL, "", "'%s': %s", json_string_value(v), why);
			else
				mg_error_set(e, EINVAL, "", "expected a string");
			snprintf(e->field, sizeof(e->field), "%s[%zu]", key, i);
			return -EINVAL;
		}
		(*n)++;
	}
	return 0;
}

static int
selectors(json_t *o, const char *key, struct mg_prefix *out, uint8_t *n, struct mg_error *e)
{
	json_t *a = json_object_get(o, key), *v;
	size_t i;

	*n = 0;
	if (!json_is_array(a) || json_array_size(a) == 0)
		return mg_error_set(e, EINVAL, key, "expected a non-empty list of prefixes (the %s "
				    "side of the tunnel)", strcmp(key, "local_ts") ? "peer's" : "our");
	if (json_array_size(a) > MG_IKE_MAX_TS)
		return mg_error_set(e, EINVAL, key, "at most %u traffic selectors", MG_IKE_MAX_TS);
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || mg_prefix_parse(json_string_value(v), &out[*n]) < 0) {
			mg_error_set(e, EINVAL, "", "not a prefix (like 10.1.0.0/16)");
			snprintf(e->field, sizeof(e->field), "%s[%zu]", key, i);
			return -EINVAL;
		}
		(*n)++;
	}
	return 0;
}

/* A credential field: a path or PEM text, at most MG_IKE_CRED_MAX - 1 bytes; never quoted. */
static int
cred(json_t *o, const char *key, char *out, struct mg_error *e)
{
	json_t *v = json_object_get(o, key);

	out[0] = '\0';
	if (v == NULL)
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0)
		return mg_error_set(e, EINVAL, key, "expected a file name or PEM text");
	if (json_string_length(v) >= MG_IKE_CRED_MAX)
		return mg_error_set(e, EINVAL, key, "longer than %u bytes", MG_IKE_CRED_MAX - 1);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

int
ctl_ike_parse(json_t *o, const char *name, struct mg_ike_peer_conf *pc, struct mg_error *e)
{
	unsigned long long v;
	char buf[512];
	json_t *psk;
	int rc;

	memset(pc, 0, sizeof(*pc));
	if (!json_is_object(o))
		return mg_error_set(e, EINVAL, "", "expected an object");
	if ((rc = cj_check_fields(o, ike_fields, "", e)) < 0)
		return rc;
	mg_strlcpy(pc->name, name, sizeof(pc->name));
	if ((rc = cj_str(o, "role", "", buf, sizeof(buf), true, e)) < 0)
		return rc;
	if (strcmp(buf, "initiator") && strcmp(buf, "responder"))
		return mg_error_set(e, EINVAL, "role", "initiator or responder");
	pc->initiator = !strcmp(buf, "initiator");
	for (int k = 0; k < 2; k++) {
		const char *f = k ? "remote_id" : "local_id";

		if ((rc = cj_str(o, f, "", buf, sizeof(buf), false, e)) < 0)
			return rc;
		if (buf[0] && mg_ike_id_parse(buf, k ? &pc->remote_id : &pc->local_id) < 0)
			return mg_error_set(e, EINVAL, f, "not an identity (an address, a name, "
					    "user@domain, a DN like 'O=Example, CN=gw', keyid:TEXT)");
	}
	psk = json_object_get(o, "psk");
	if ((rc = cred(o, "key", pc->key, e)) < 0 || (rc = cred(o, "cert", pc->cert, e)) < 0 ||
	    (rc = cred(o, "ca", pc->ca, e)) < 0 || (rc = cred(o, "peer_cert", pc->peer_cert, e)) < 0)
		return rc;
	if (pc->key[0]) {
		pc->auth = MG_IKE_AUTH_PUBKEY;
		if (psk != NULL)
			return mg_error_set(e, EINVAL, "psk", "give a pre-shared key or a key and "
					    "certificates, not both");
	} else if (pc->cert[0] || pc->ca[0] || pc->peer_cert[0]) {
		return mg_error_set(e, EINVAL, "key", "needed with cert, ca or peer_cert: our "
				    "private key");
	} else if (psk == NULL) {
		return mg_error_set(e, EINVAL, "psk", "a pre-shared key (psk) or a key and "
				    "certificates (key, cert, ca or peer_cert) are needed");
	} else if (!json_is_string(psk)) {
		return mg_error_set(e, EINVAL, "psk", "expected a string");
	} else if (json_string_length(psk) > MG_IKE_PSK_MAX) {
		return mg_error_set(e, EINVAL, "psk", "longer than %u bytes", MG_IKE_PSK_MAX);
	} else {
		pc->psk_len = (uint16_t)json_string_length(psk);
		memcpy(pc->psk, json_string_value(psk), pc->psk_len);
	}
	if ((rc = proposals(o, "proposals", true, pc->ike, &pc->nike, e)) < 0 ||
	    (rc = proposals(o, "esp_proposals", false, pc->esp, &pc->nesp, e)) < 0 ||
	    (rc = selectors(o, "local_ts", pc->local_ts, &pc->nlocal_ts, e)) < 0 ||
	    (rc = selectors(o, "remote_ts", pc->remote_ts, &pc->nremote_ts, e)) < 0)
		return rc;
	if ((rc = cj_u32(o, "lifetime", "", 10, 86400 * 7, &pc->ike_lifetime_s, false, e)) < 0)
		return rc;
	if ((rc = cj_u32(o, "child_lifetime", "", 10, 86400 * 7, &pc->child_lifetime_s, false,
			 e)) < 0)
		return rc;
	pc->dpd_s = 30;
	if ((rc = cj_u32(o, "dpd", "", 0, 3600, &pc->dpd_s, false, e)) < 0)
		return rc;
	if ((rc = cj_u32(o, "retransmit_ms", "", 100, 60000, &pc->retransmit_ms, false, e)) < 0)
		return rc;
	if ((rc = cj_uint(o, "retransmit_tries", "", 1, 20, &v, false, e)) < 0)
		return rc;
	pc->retransmit_tries = rc > 0 ? (uint8_t)v : 0;
	if ((rc = cj_bool(o, "reauth", "", &pc->reauth, e)) < 0)
		return rc;
	return 0;
}

static void
ad_of(char *ad, size_t n, const char *tunnel, const char *field)
{
	snprintf(ad, n, "meshgate-ike:%s:%s", tunnel, field);
}

/* The stored form of body @p o: psk and an inline key sealed. NULL with @p e. */
static json_t *
seal_body(struct mg_ctl *c, json_t *o, const char *name, struct mg_error *e)
{
	uint8_t sk[CTL_STATE_KEY_BYTES];
	json_t *s = json_deep_copy(o);
	char ad[32 + MG_NAME_MAX];

	if (seal_key(c, sk, true, e) < 0) {
		ctl_json_wipe(s);
		json_decref(s);
		return NULL;
	}
	for (int k = 0; k < 2; k++) {
		const char *f = k ? "key" : "psk";
		json_t *v = json_object_get(s, f);
		char sealed[16];

		if (!json_is_string(v) || (k == 1 && strncmp(json_string_value(v), "-----BEGIN", 10)))
			continue;
		ad_of(ad, sizeof(ad), name, f);
		snprintf(sealed, sizeof(sealed), "%s_sealed", f);
		/* Lengths checked before: the PSK is at most 128 bytes, the key CTL_SEAL_MAX. */
		json_object_set_new(s, sealed, ctl_seal_bytes(sk, (const uint8_t *)json_string_value(v),
							      json_string_length(v), ad));
		mg_wipe((void *)(uintptr_t)json_string_value(v), json_string_length(v));
		json_object_del(s, f);
	}
	mg_wipe(sk, sizeof(sk));
	return s;
}

/* The body of stored form @p s (secrets opened): a new object the caller wipes. */
static json_t *
open_body(struct mg_ctl *c, json_t *s, const char *name, struct mg_error *e)
{
	uint8_t sk[CTL_STATE_KEY_BYTES], buf[MG_IKE_CRED_MAX];
	json_t *o = json_deep_copy(s);
	char ad[32 + MG_NAME_MAX];

	if (seal_key(c, sk, false, e) < 0) {
		json_decref(o);
		return NULL;
	}
	for (int k = 0; k < 2; k++) {
		const char *f = k ? "key" : "psk";
		char sealed[16];
		json_t *v;
		size_t n = 0;

		snprintf(sealed, sizeof(sealed), "%s_sealed", f);
		v = json_object_get(o, sealed);
		if (v == NULL)
			continue;
		ad_of(ad, sizeof(ad), name, f);
		if (ctl_unseal_bytes(sk, v, ad, buf, sizeof(buf) - 1, &n) < 0) {
			mg_wipe(sk, sizeof(sk));
			ctl_json_wipe(o);
			json_decref(o);
			mg_error_set(e, EINVAL, "ike", "%s: the %s does not open with the state key",
				     name, f);
			return NULL;
		}
		json_object_set_new(o, f, json_stringn((const char *)buf, n));
		mg_wipe(buf, sizeof(buf));
		json_object_del(o, sealed);
	}
	mg_wipe(sk, sizeof(sk));
	return o;
}

/* Apply body @p o to tunnel @p name through the gateway. */
static int
apply(struct mg_ctl *c, json_t *o, const char *name, struct mg_error *e)
{
	const struct mg_esp_tunnel *t = mg_model_esp_find(c->env.model, name);
	struct mg_ike_peer_conf *pc;
	int rc;

	if (t == NULL)
		return mg_error_set(e, ENOENT, "name", "no ESP tunnel named '%s'", name);
	if (c->env.ike_set == NULL)
		return mg_error_set(e, ENOTSUP, "", "IKE is not available in this gateway");
	pc = malloc(sizeof(*pc));
	if (pc == NULL)
		return mg_error_set(e, ENOMEM, "", "out of memory");
	rc = ctl_ike_parse(o, name, pc, e);
	if (rc == 0) {
		pc->local = t->spec.local;
		pc->remote = t->spec.remote;
		pc->udp_encap = t->spec.udp_encap;
		rc = mg_ike_peer_conf_check(pc, e);
	}
	if (rc == 0)
		rc = c->env.ike_set(c->env.ctx, pc, e);
	mg_wipe(pc, sizeof(*pc));
	free(pc);
	return rc;
}

int
ctl_ike_set_body(struct mg_ctl *c, const char *name, json_t *o, struct mg_error *err)
{
	json_t *stored;
	int rc;

	json_t *k = json_object_get(o, "key");

	if (c->ike == NULL && (c->ike = json_object()) == NULL)
		return mg_error_set(err, ENOMEM, "", "out of memory");
	if (json_is_string(k) && !strncmp(json_string_value(k), "-----BEGIN", 10) &&
	    json_string_length(k) > CTL_SEAL_MAX)
		return mg_error_set(err, EINVAL, "key", "PEM text longer than %u bytes: give the "
				    "key's file name instead", CTL_SEAL_MAX);
	/* Sealed first: a state key that cannot be had refuses the change before it runs. */
	stored = seal_body(c, o, name, err);
	if (stored == NULL)
		return -err->code;
	rc = apply(c, o, name, err);
	if (rc < 0) {
		json_decref(stored); /* sealed only; jansson's free wipes it anyway */
		return rc;
	}
	json_object_set_new(c->ike, name, stored);
	return 0;
}

int
ctl_ike_restore(struct mg_ctl *c, const char *name, json_t *stored, struct mg_error *err)
{
	json_t *o;
	int rc;

	if (stored == NULL) {
		/* The entry has no IKE peer: one we added goes. */
		if (c->ike != NULL && json_object_get(c->ike, name) != NULL)
			ctl_ike_tunnel_gone(c, name);
		return 0;
	}
	o = open_body(c, stored, name, err);
	if (o == NULL)
		return -err->code;
	rc = ctl_ike_set_body(c, name, o, err);
	if (rc < 0)
		mg_error_prefix_field(err, "ike");
	ctl_json_wipe(o);
	json_decref(o);
	return rc;
}

json_t *
ctl_ike_stored(struct mg_ctl *c, const char *name)
{
	json_t *s = c->ike != NULL ? json_object_get(c->ike, name) : NULL;

	return s != NULL ? json_deep_copy(s) : NULL;
}

void
ctl_ike_tunnel_gone(struct mg_ctl *c, const char *name)
{
	if (c->env.ike_del != NULL)
		c->env.ike_del(c->env.ctx, name);
	if (c->ike != NULL)
		json_object_del(c->ike, name);
}

void
ctl_ike_fini(struct mg_ctl *c)
{
	json_t *v;
	const char *k;

	json_object_foreach(c->ike, k, v)
		ctl_json_wipe(v);
	json_decref(c->ike);
	c->ike = NULL;
}

/* The running state of tunnel @p name's peer (GET /v1/ike's entry), or NULL. */
static json_t *
peer_state(struct mg_ctl *c, const char *name)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	json_t *a, *v, *found = NULL;
	size_t i;

	if (c->env.ike_json == NULL || (f = open_memstream(&buf, &len)) == NULL)
		return NULL;
	c->env.ike_json(c->env.ctx, f);
	fclose(f);
	a = json_loadb(buf, len, 0, NULL);
	free(buf);
	json_array_foreach(a, i, v)
		if (!strcmp(json_string_value(json_object_get(v, "tunnel")) ?: "", name))
			found = json_incref(v);
	json_decref(a);
	return found;
}

/* What GET answers: the settings without secrets, and the running state. */
static json_t *
peer_json(struct mg_ctl *c, const char *name)
{
	json_t *s = c->ike != NULL ? json_object_get(c->ike, name) : NULL;
	json_t *o = json_object(), *conf, *st = peer_state(c, name);

	json_object_set_new(o, "tunnel", json_string(name));
	if (s != NULL) {
		conf = json_deep_copy(s);
		json_object_del(conf, "psk_sealed");
		json_object_del(conf, "key_sealed");
		json_object_set_new(conf, "auth", json_string(json_object_get(s, "psk_sealed") ?
							       "psk" : "pubkey"));
		if (json_object_get(s, "key_sealed") != NULL)
			json_object_set_new(conf, "key", json_string("(PEM text, not shown)"));
		json_object_set_new(o, "config", conf);
	}
	if (st != NULL)
		json_object_set_new(o, "state", st);
	return o;
}

int
ctl_ike_rest(struct mg_ctl *c, const char *method, const char *name, char *body, size_t len,
	     char **text, const char **allow)
{
	struct mg_error e;
	json_t *j;
	int rc;

	mg_error_clear(&e);
	if (strcmp(method, "GET") && strcmp(method, "PUT") && strcmp(method, "DELETE"))
		return ctl_not_allowed("GET, PUT, DELETE", allow, text);
	if (mg_model_esp_find(c->env.model, name) == NULL) {
		mg_error_set(&e, ENOENT, "name", "no ESP tunnel named '%s'", name);
		return ctl_reply_err(&e, text);
	}
	if (conn_owns_esp(c, name) && strcmp(method, "GET")) {
		mg_error_set(&e, EPERM, "", "tunnel '%s' belongs to an NSM connection: its IKE "
			     "settings come from the connection", name);
		return ctl_reply_err(&e, text);
	}
	if (!strcmp(method, "GET")) {
		json_t *o = peer_json(c, name);

		if (json_object_get(o, "config") == NULL && json_object_get(o, "state") == NULL) {
			json_decref(o);
			mg_error_set(&e, ENOENT, "", "tunnel '%s' has no IKE peer", name);
			return ctl_reply_err(&e, text);
		}
		return ctl_reply(200, o, text);
	}
	if (!strcmp(method, "DELETE")) {
		if (c->env.ike_del == NULL || c->env.ike_del(c->env.ctx, name) < 0) {
			mg_error_set(&e, ENOENT, "", "tunnel '%s' has no IKE peer", name);
			return ctl_reply_err(&e, text);
		}
		if (c->ike != NULL)
			json_object_del(c->ike, name);
		if (ctl_esp_journal(c, name, &e) < 0)
			return ctl_reply_err(&e, text);
		c->requests_ok++;
		*text = NULL;
		return 204;
	}
	if ((j = ctl_body_json(body, len, &e)) == NULL)
		return ctl_reply_err(&e, text);
	rc = ctl_ike_set_body(c, name, j, &e);
	ctl_json_wipe(j);
	json_decref(j);
	/* Applied: a failure to journal it is reported, not undone. */
	if (rc == 0)
		rc = ctl_esp_journal(c, name, &e);
	if (rc < 0)
		return ctl_reply_err(&e, text);
	c->requests_ok++;
	return ctl_reply(200, peer_json(c, name), text);
}
