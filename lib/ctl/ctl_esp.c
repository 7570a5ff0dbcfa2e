/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * REST for IPsec ESP tunnels, a thin parser over the model's ESP calls:
 *
 *   /v1/esp-tunnels             GET POST
 *   /v1/esp-tunnels/NAME        GET DELETE
 *   /v1/esp-tunnels/NAME/sas    PUT {"sas": [...]}: replace SAs (rekey) without loss
 *
 * The tunnel of an NSM IPSEC connection is deleted by closing the connection:
 * DELETE refuses it (409, naming the connection). Its SAs may still be
 * replaced here: that is how an external IKE daemon rekeys it.
 *
 * Keys are accepted and never returned: GET shows the tunnel, its SAs
 * (lib/esp's redacted view: SPI, algorithm, key size, lifetimes, state) and
 * their counters. Bodies that held keys are wiped once parsed.
 *
 * Tunnels are part of the durable state, their keys sealed (ctl_espstate.c).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_priv.h"
#include "mg_esp_algos.h"

/* Hex bytes at @key (a secret: the message never repeats it). */
static int
hex_field(json_t *o, const char *key, const char *path, uint8_t *out, size_t max, uint8_t *len,
	  struct mg_error *e)
{
	json_t *v = json_object_get(o, key);
	char f[96];
	const char *s;
	size_t k = 0;

	snprintf(f, sizeof(f), "%s%s%s", path, path[0] ? "." : "", key);
	*len = 0;
	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return mg_error_set(e, EINVAL, f, "expected a string of hexadecimal bytes");
	s = json_string_value(v);
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	while (*s) {
		unsigned int b;

		if (*s == ':') {
			s++;
			continue;
		}
		if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]) ||
		    sscanf(s, "%2x", &b) != 1)
			return mg_error_set(e, EINVAL, f, "expected hexadecimal bytes (like 0x0011...)");
		if (k == max)
			return mg_error_set(e, EINVAL, f, "longer than %zu bytes", max);
		out[k++] = (uint8_t)b;
		s += 2;
	}
	*len = (uint8_t)k;
	return 0;
}

static int
parse_sa(json_t *o, const char *path, struct mg_esp_sa_conf *sa, struct mg_error *e)
{
	static const char *const keys[] = {"direction", "inner", "spi", "algorithm", "key",
					   "auth_key", "salt", "lifetime", NULL};
	static const char *const lkeys[] = {"soft_packets", "hard_packets", "soft_bytes",
					    "hard_bytes", "soft_seconds", "hard_seconds", NULL};
	unsigned long long *lt[6];
	char buf[64], f[96];
	json_t *life;
	int rc;

	memset(sa, 0, sizeof(*sa));
	if (!json_is_object(o))
		return mg_error_set(e, EINVAL, path, "expected an object");
	if ((rc = cj_check_fields(o, keys, path, e)) < 0)
		return rc;
	if ((rc = cj_str(o, "direction", path, buf, sizeof(buf), true, e)) < 0)
		return rc;
	snprintf(f, sizeof(f), "%s.direction", path);
	if (strcmp(buf, "out") && strcmp(buf, "in"))
		return mg_error_set(e, EINVAL, f, "must be out or in");
	sa->inbound = !strcmp(buf, "in");
	if ((rc = cj_str(o, "inner", path, buf, sizeof(buf), true, e)) < 0)
		return rc;
	snprintf(f, sizeof(f), "%s.inner", path);
	if (strcmp(buf, "ipv4") && strcmp(buf, "ipv6"))
		return mg_error_set(e, EINVAL, f, "must be ipv4 or ipv6");
	sa->inner_family = !strcmp(buf, "ipv4") ? AF_INET : AF_INET6;
	if ((rc = cj_u32(o, "spi", path, 256, UINT32_MAX, &sa->spi, true, e)) < 0)
		return rc;
	if ((rc = cj_str(o, "algorithm", path, buf, sizeof(buf), true, e)) < 0)
		return rc;
	sa->algo = mg_esp_algo_lookup(buf);
	snprintf(f, sizeof(f), "%s.algorithm", path);
	if (sa->algo < 0)
		return mg_error_set(e, EINVAL, f, "must be one of " MG_ESP_ALGO_LIST);
	if ((rc = hex_field(o, "key", path, sa->key, sizeof(sa->key), &sa->key_len, e)) < 0 ||
	    (rc = hex_field(o, "auth_key", path, sa->auth_key, sizeof(sa->auth_key),
			    &sa->auth_key_len, e)) < 0 ||
	    (rc = hex_field(o, "salt", path, sa->salt, sizeof(sa->salt), &sa->salt_len, e)) < 0)
		return rc;
	life = json_object_get(o, "lifetime");
	if (life != NULL) {
		snprintf(f, sizeof(f), "%s.lifetime", path);
		if (!json_is_object(life))
			return mg_error_set(e, EINVAL, f, "expected an object");
		if ((rc = cj_check_fields(life, lkeys, f, e)) < 0)
			return rc;
		lt[0] = (unsigned long long *)&sa->packets_soft;
		lt[1] = (unsigned long long *)&sa->packets_hard;
		lt[2] = (unsigned long long *)&sa->bytes_soft;
		lt[3] = (unsigned long long *)&sa->bytes_hard;
		lt[4] = (unsigned long long *)&sa->seconds_soft;
		lt[5] = (unsigned long long *)&sa->seconds_hard;
		for (int i = 0; i < 6; i++)
			if ((rc = cj_uint(life, lkeys[i], f, 0, UINT64_MAX, lt[i], false, e)) < 0)
				return rc;
	}
	rc = mg_model_esp_sa_check(sa, e);
	if (rc < 0)
		mg_error_prefix_field(e, "%s", path);
	return rc;
}

int
ctl_esp_parse_sas(json_t *arr, struct mg_esp_sa_conf *sas, uint8_t *n, struct mg_error *e)
{
	json_t *v;
	size_t i;
	char p[32];
	int rc;

	*n = 0;
	if (arr == NULL)
		return 0;
	if (!json_is_array(arr))
		return mg_error_set(e, EINVAL, "sas", "expected a list");
	json_array_foreach(arr, i, v) {
		if (i >= MG_ESP_TUN_MAX_SAS)
			return mg_error_set(e, EINVAL, "sas", "at most %u SAs", MG_ESP_TUN_MAX_SAS);
		snprintf(p, sizeof(p), "sas[%zu]", i);
		if ((rc = parse_sa(v, p, &sas[i], e)) < 0)
			return rc;
		(*n)++;
	}
	return 0;
}

static int
parse_tunnel(json_t *o, struct mg_esp_tunnel_spec *s, struct mg_error *e)
{
	static const char *const keys[] = {"name", "network", "underlay", "local", "remote",
					   "mtu", "path_mtu", "udp_encap", "local_port",
					   "remote_port", "replay_window", "anti_replay", "esn", "sas",
					   "ipv4", "ipv6", "mss_clamp", NULL};
	unsigned long long v;
	int rc;

	memset(s, 0, sizeof(*s));
	if (!json_is_object(o))
		return mg_error_set(e, EINVAL, "", "expected a JSON object");
	if ((rc = cj_check_fields(o, keys, "", e)) < 0 ||
	    (rc = cj_str(o, "name", "", s->name, sizeof(s->name), true, e)) < 0 ||
	    (rc = cj_str(o, "network", "", s->network, sizeof(s->network), false, e)) < 0 ||
	    (rc = cj_str(o, "underlay", "", s->underlay, sizeof(s->underlay), false, e)) < 0 ||
	    (rc = cj_ip(o, "local", "", &s->local, true, e)) < 0 ||
	    (rc = cj_ip(o, "remote", "", &s->remote, true, e)) < 0 ||
	    (rc = cj_bool(o, "udp_encap", "", &s->udp_encap, e)) < 0 ||
	    (rc = cj_bool(o, "esn", "", &s->esn, e)) < 0)
		return rc;
	{
		bool ar = true;

		if ((rc = cj_bool(o, "anti_replay", "", &ar, e)) < 0)
			return rc;
		s->no_replay = !ar;
	}
	if ((rc = cj_u16(o, "mtu", "", MG_MTU_MIN, MG_MTU_MAX, &s->mtu, false, e)) < 0)
		return rc;
	if ((rc = cj_u16(o, "path_mtu", "", 576, MG_MTU_MAX, &s->path_mtu, false, e)) < 0)
		return rc;
	if ((rc = cj_u16(o, "local_port", "", 1, 65535, &s->local_port, false, e)) < 0)
		return rc;
	if ((rc = cj_u16(o, "remote_port", "", 1, 65535, &s->remote_port, false, e)) < 0)
		return rc;
	if ((rc = cj_u32(o, "replay_window", "", 64, 4096, &s->replay_window, false, e)) < 0)
		return rc;
	if (json_is_string(json_object_get(o, "mss_clamp")) &&
	    !strcmp(json_string_value(json_object_get(o, "mss_clamp")), "auto")) {
		s->mss_clamp = MG_ESP_MSS_AUTO;
	} else {
		v = 0;
		if ((rc = cj_uint(o, "mss_clamp", "", MG_ESP_MSS_MIN, MG_ESP_MSS_MAX, &v, false,
				  e)) < 0) {
			mg_strlcpy(e->msg, "expected \"auto\" or an MSS 536-65495", sizeof(e->msg));
			return rc;
		}
		s->mss_clamp = (uint16_t)v;
	}
	return ctl_esp_parse_sas(json_object_get(o, "sas"), s->sas, &s->nsas, e);
}

/* The tunnel as GET shows it: its spec without keys, its interface, its SAs and counters. */
static json_t *
tunnel_json(struct mg_ctl *c, const struct mg_esp_tunnel *t)
{
	const struct mg_model *m = c->env.model;
	const struct mg_iface *ifc = mg_model_iface_get(m, t->iface);
	char b[MG_IP_STRLEN], *text = NULL;
	size_t len = 0;
	json_t *o, *sas = NULL;
	FILE *f;

	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:b,s:i,s:i,s:i,s:b,s:I}",
		      "name", t->spec.name,
		      "network", mg_model_network_get(m, t->network)->spec.name,
		      "underlay", mg_model_network_get(m, t->underlay)->spec.name,
		      "local", mg_ip_fmt(&t->spec.local, b, sizeof(b)),
		      "remote", "", "mtu", ifc ? ifc->mtu : 0,
		      "path_mtu", t->spec.path_mtu ? t->spec.path_mtu : 1500,
		      "udp_encap", t->spec.udp_encap,
		      "local_port", t->spec.local_port ? t->spec.local_port : 4500,
		      "remote_port", t->spec.remote_port ? t->spec.remote_port : 4500,
		      "replay_window", t->spec.replay_window ? t->spec.replay_window : 64,
		      "esn", t->spec.esn, "rekeys", (json_int_t)t->rekeys);
	json_object_set_new(o, "anti_replay", json_boolean(!t->spec.no_replay));
	if (t->spec.mss_clamp == MG_ESP_MSS_AUTO)
		json_object_set_new(o, "mss_clamp", json_string("auto"));
	else if (t->spec.mss_clamp)
		json_object_set_new(o, "mss_clamp", json_integer(t->spec.mss_clamp));
	json_object_set_new(o, "remote", json_string(mg_ip_fmt(&t->spec.remote, b, sizeof(b))));
	if (c->env.esp_sas != NULL && (f = open_memstream(&text, &len)) != NULL) {
		c->env.esp_sas(c->env.ctx, t->iface, f);
		fclose(f);
		sas = json_loads(text, 0, NULL);
		free(text);
	}
	json_object_set_new(o, "sas", json_incref(sas ? json_object_get(sas, "sas") : NULL) ?: json_array());
	json_object_set_new(o, "events", json_incref(sas ? json_object_get(sas, "events") : NULL) ?: json_object());
	json_decref(sas);
	return o;
}

/* Wipe the string values of a parsed body (its keys) before it is freed. */
void
ctl_json_wipe(json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_object(j)) {
		json_object_foreach(j, k, v)
			ctl_json_wipe(v);
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			ctl_json_wipe(v);
	} else if (json_is_string(j)) {
		mg_wipe((char *)(uintptr_t)json_string_value(j), json_string_length(j));
	}
}

int
ctl_esp_add_body(struct mg_ctl *c, json_t *body, struct mg_error *e)
{
	static const char *const fam[2] = {"ipv4", "ipv6"};
	struct mg_esp_tunnel_spec s;
	int rc = parse_tunnel(body, &s, e);

	/* Addresses checked before anything is added. */
	for (unsigned int f = 0; rc == 0 && f < 2; f++) {
		json_t *a = json_object_get(body, fam[f]), *v;
		struct mg_prefix p;
		size_t i;

		if (a != NULL && (!json_is_array(a) || json_array_size(a) > 16))
			rc = mg_error_set(e, EINVAL, fam[f], "a list of at most 16 addresses");
		json_array_foreach(a, i, v) {
			if (rc < 0)
				break;
			if (!json_is_string(v) || mg_prefix_parse(json_string_value(v), &p) < 0 ||
			    p.addr.family != (f == 0 ? AF_INET : AF_INET6))
				rc = mg_error_set(e, EINVAL, fam[f], "[%zu]: not an %s address with its "
						  "subnet length", i, f == 0 ? "IPv4" : "IPv6");
		}
	}
	if (rc == 0) {
		ctl_esp_seq_resume(c, &s);
		rc = mg_model_esp_add(c->env.model, &s, e);
	}
	for (unsigned int f = 0; rc == 0 && f < 2; f++) {
		json_t *v;
		size_t i;

		json_array_foreach(json_object_get(body, fam[f]), i, v) {
			struct mg_addr_spec as;

			memset(&as, 0, sizeof(as));
			mg_strlcpy(as.iface, s.name, sizeof(as.iface));
			mg_prefix_parse(json_string_value(v), &as.prefix);
			rc = mg_model_addr_add(c->env.model, &as, e);
			if (rc < 0) {
				struct mg_error e2;

				mg_error_prefix_field(e, "%s[%zu]", fam[f], i);
				mg_model_esp_del(c->env.model, s.name, &e2);
				break;
			}
		}
	}
	mg_wipe(&s, sizeof(s));
	return rc;
}

int
ctl_esp_rest(struct mg_ctl *c, const char *method, char **seg, int nseg, char *body, size_t len,
	     char **text, const char **allow)
{
	struct mg_model *m = c->env.model;
	const struct mg_esp_tunnel *t;
	struct mg_error e;
	json_t *j;
	int rc;

	mg_error_clear(&e);
	if (nseg == 4 && !strcmp(seg[3], "ike"))
		return ctl_ike_rest(c, method, seg[2], body, len, text, allow);
	if (nseg == 2) {
		if (!strcmp(method, "GET")) {
			json_t *a = json_array();
			uint32_t cur = 0;

			while ((t = mg_model_esp_next(m, &cur)) != NULL)
				json_array_append_new(a, tunnel_json(c, t));
			return ctl_reply(200, a, text);
		}
		if (!strcmp(method, "POST")) {
			char name[MG_NAME_MAX];

			if ((j = ctl_body_json(body, len, &e)) == NULL)
				return ctl_reply_err(&e, text);
			rc = ctl_esp_add_body(c, j, &e);
			snprintf(name, sizeof(name), "%s",
				 json_is_string(json_object_get(j, "name")) ?
				 json_string_value(json_object_get(j, "name")) : "");
			ctl_json_wipe(j);
			json_decref(j);
			if (rc == 0 && (rc = ctl_esp_journal(c, name, &e)) < 0) {
				struct mg_error e2;

				mg_model_esp_del(m, name, &e2);
			}
			if (rc < 0)
				return ctl_reply_err(&e, text);
			c->requests_ok++;
			return ctl_reply(201, tunnel_json(c, mg_model_esp_find(m, name)), text);
		}
		return ctl_not_allowed("GET, POST", allow, text);
	}
	/* A method the path does not have is 405 whether or not the tunnel exists. */
	if ((nseg == 3 && strcmp(method, "GET") && strcmp(method, "DELETE")) ||
	    (nseg == 4 && !strcmp(seg[3], "sas") && strcmp(method, "PUT")))
		return ctl_not_allowed(nseg == 3 ? "GET, DELETE" : "PUT", allow, text);
	if (nseg == 4 && strcmp(seg[3], "sas")) {
		mg_error_set(&e, ENOENT, "", "no such resource");
		return ctl_reply_err(&e, text);
	}
	t = mg_model_esp_find(m, seg[2]);
	if (t == NULL) {
		mg_error_set(&e, ENOENT, "name", "no ESP tunnel named '%s'", seg[2]);
		return ctl_reply_err(&e, text);
	}
	if (nseg == 3) {
		if (!strcmp(method, "GET"))
			return ctl_reply(200, tunnel_json(c, t), text);
		if (!strcmp(method, "DELETE")) {
			/* Its connection deletes it on Close (and would find it gone). */
			if (ctl_conn_refuse_owned(c, "ESP tunnel", seg[2], &e) < 0) {
				c->requests_failed++;
				return ctl_reply_err(&e, text);
			}
			if (ctl_esp_journal_del(c, seg[2], &e) < 0 || mg_model_esp_del(m, seg[2], &e) < 0)
				return ctl_reply_err(&e, text);
			ctl_ike_tunnel_gone(c, seg[2]);
			c->requests_ok++;
			*text = NULL;
			return 204;
		}
		return ctl_not_allowed("GET, DELETE", allow, text);
	}
	if (nseg == 4 && !strcmp(seg[3], "sas")) {
		struct mg_esp_sa_conf sas[MG_ESP_TUN_MAX_SAS];
		uint8_t n = 0;

		if (strcmp(method, "PUT"))
			return ctl_not_allowed("PUT", allow, text);
		if ((j = ctl_body_json(body, len, &e)) == NULL)
			return ctl_reply_err(&e, text);
		{
			static const char *const keys[] = {"sas", NULL};

			rc = cj_check_fields(j, keys, "", &e);
		}
		if (rc == 0)
			rc = ctl_esp_parse_sas(json_object_get(j, "sas"), sas, &n, &e);
		ctl_json_wipe(j);
		json_decref(j);
		if (rc == 0)
			rc = mg_model_esp_rekey(m, seg[2], sas, n, &e);
		mg_wipe(sas, sizeof(sas));
		/* The SAs are in place: a failure to journal them is reported, not undone. */
		if (rc == 0)
			rc = ctl_esp_journal(c, seg[2], &e);
		if (rc < 0)
			return ctl_reply_err(&e, text);
		c->requests_ok++;
		return ctl_reply(200, tunnel_json(c, t), text);
	}
	mg_error_set(&e, ENOENT, "", "no such resource");
	return ctl_reply_err(&e, text);
}
