/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * WireGuard interfaces in the control plane: what `wg show` shows, as JSON
 * (GET /v1/wireguard[/NAME], meshgatectl wg show) and as Prometheus series;
 * runtime creation and removal (POST / DELETE /v1/wireguard).
 *
 * Never rendered: private and preshared keys (only whether a preshared key
 * is set). Keys a client sends are decoded into the model's spec, whose
 * copy here is wiped before it is freed. In the durable state an interface
 * is stored with its keys sealed (ctl_wgstate.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_priv.h"
#include "mg_wgif.h"

/* "ADDR:PORT" or "[ADDR]:PORT" of an endpoint; "" when unknown. */
static const char *
ep_fmt(const struct mg_wgif_ep *ep, char *buf, size_t n)
{
	char a[INET6_ADDRSTRLEN];

	if (ep->family == 0) {
		buf[0] = '\0';
		return buf;
	}
	inet_ntop(ep->family, ep->dst, a, sizeof(a));
	snprintf(buf, n, ep->family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, ep->dport);
	return buf;
}

struct peers_ctx {
	json_t *peers;
};

static void
peer_cb(void *arg, const struct mg_wgif_peer_info *p)
{
	struct peers_ctx *pc = arg;
	char k[MG_WG_KEY_B64_LEN + 1], e[80], b[MG_PREFIX_STRLEN];
	json_t *o = json_object(), *al = json_array();

	json_object_set_new(o, "public_key", json_string(mg_wg_key_to_base64(k, p->wg.public_key)));
	json_object_set_new(o, "preshared_key_set", json_boolean(p->wg.has_psk));
	ep_fmt(&p->ep, e, sizeof(e));
	if (e[0])
		json_object_set_new(o, "endpoint", json_string(e));
	for (unsigned int i = 0; i < p->nallowed; i++)
		json_array_append_new(al, json_string(mg_prefix_fmt(&p->allowed[i], b, sizeof(b))));
	json_object_set_new(o, "allowed_ips", al);
	json_object_set_new(o, "latest_handshake",
			    json_integer((json_int_t)(p->wg.last_handshake_wall_ns / 1000000000ull)));
	json_object_set_new(o, "rx_bytes", json_integer((json_int_t)p->wg.rx_bytes));
	json_object_set_new(o, "tx_bytes", json_integer((json_int_t)p->wg.tx_bytes));
	json_object_set_new(o, "rx_packets", json_integer((json_int_t)p->wg.rx_packets));
	json_object_set_new(o, "tx_packets", json_integer((json_int_t)p->wg.tx_packets));
	json_object_set_new(o, "persistent_keepalive", json_integer(p->wg.persistent_keepalive));
	json_object_set_new(o, "session", json_boolean(p->wg.has_session));
	json_array_append_new(pc->peers, o);
}

json_t *
ctl_wg_json(struct mg_ctl *c, const struct mg_iface *ifc)
{
	const struct mg_model *m = c->env.model;
	struct peers_ctx pc = {.peers = json_array()};
	struct mg_wgif_info info;
	char k[MG_WG_KEY_B64_LEN + 1];
	json_t *o = json_object(), *cnt, *hs;

	json_object_set_new(o, "name", json_string(ifc->name));
	json_object_set_new(o, "network", json_string(mg_model_network_get(m, ifc->network)->spec.name));
	json_object_set_new(o, "underlay", json_string(ifc->wg->underlay));
	json_object_set_new(o, "listen_port", json_integer(ifc->wg->listen_port));
	json_object_set_new(o, "mtu", json_integer(ifc->mtu));
	cj_addrs_json(o, ifc);
	if (c->env.dp == NULL ||
	    mg_wgif_info(c->env.dp, ifc->id, ifc->wg, &info, peer_cb, &pc) < 0) {
		json_object_set_new(o, "peers", pc.peers);
		return o;
	}
	json_object_set_new(o, "public_key", json_string(mg_wg_key_to_base64(k, info.public_key)));
	json_object_set_new(o, "peers", pc.peers);
	hs = json_object();
	for (unsigned int r = 0; r < MG_WG_HS_RESULT_MAX; r++)
		json_object_set_new(hs, mg_wg_hs_result_name(r), json_integer((json_int_t)info.hs.hs[r]));
	cnt = json_object();
	json_object_set_new(cnt, "handshakes", hs);
	json_object_set_new(cnt, "initiations_sent", json_integer((json_int_t)info.hs.initiations_sent));
	json_object_set_new(cnt, "sessions", json_integer((json_int_t)info.hs.sessions));
	json_object_set_new(cnt, "handshake_messages_queued", json_integer((json_int_t)info.st.hs_queued));
	json_object_set_new(cnt, "handshake_queue_full", json_integer((json_int_t)info.st.hs_queue_full));
	json_object_set_new(cnt, "roamed", json_integer((json_int_t)info.st.roamed));
	json_object_set_new(cnt, "held_for_handshake", json_integer((json_int_t)info.st.staged));
	json_object_set_new(cnt, "held_sent", json_integer((json_int_t)info.staged_sent));
	json_object_set_new(cnt, "held_dropped", json_integer((json_int_t)info.staged_dropped));
	{
		json_t *rx = json_object(), *tx = json_object();

		for (unsigned int r = 0; r < MG_WG_RX_STATUS_MAX; r++)
			json_object_set_new(rx, mg_wg_rx_status_name(r), json_integer((json_int_t)info.st.rx[r]));
		for (unsigned int r = 0; r < MG_WG_TX_STATUS_MAX; r++)
			json_object_set_new(tx, mg_wg_tx_status_name(r), json_integer((json_int_t)info.st.tx[r]));
		json_object_set_new(cnt, "decrypt", rx);
		json_object_set_new(cnt, "encrypt", tx);
	}
	json_object_set_new(o, "counters", cnt);
	return o;
}

json_t *
ctl_wg_list_json(struct mg_ctl *c)
{
	json_t *a = json_array();

	for (uint16_t i = 0; i < mg_model_iface_max(); i++) {
		const struct mg_iface *ifc = mg_model_iface_get(c->env.model, i);

		if (ifc != NULL && ifc->kind == MG_IFACE_WG)
			json_array_append_new(a, ctl_wg_json(c, ifc));
	}
	return a;
}

/* ---- metrics -------------------------------------------------------------------------------- */

struct met_ctx {
	FILE *f;
	const char *iface;
	unsigned int what;
};

static void
met_peer(void *arg, const struct mg_wgif_peer_info *p)
{
	static const char *const names[] = {
		"meshgate_wireguard_peer_rx_bytes_total", "meshgate_wireguard_peer_tx_bytes_total",
		"meshgate_wireguard_peer_latest_handshake_seconds",
	};
	struct met_ctx *m = arg;
	char k[MG_WG_KEY_B64_LEN + 1];
	uint64_t v = m->what == 0 ? p->wg.rx_bytes : m->what == 1 ? p->wg.tx_bytes
				  : p->wg.last_handshake_wall_ns / 1000000000ull;

	fprintf(m->f, "%s{interface=\"%s\",public_key=\"%s\"} %" PRIu64 "\n", names[m->what],
		m->iface, mg_wg_key_to_base64(k, p->wg.public_key), v);
}

void
ctl_wg_metrics(struct mg_ctl *c, FILE *f)
{
	static const char *const help[] = {
		"WireGuard message bytes received from the peer (handshakes and data).",
		"WireGuard message bytes sent to the peer.",
		"Wall time (Unix seconds) of the peer's latest handshake, 0 if none.",
	};
	static const char *const names[] = {
		"meshgate_wireguard_peer_rx_bytes_total", "meshgate_wireguard_peer_tx_bytes_total",
		"meshgate_wireguard_peer_latest_handshake_seconds",
	};
	struct mg_wgif_info info;

	if (c->env.dp == NULL)
		return;
	for (unsigned int w = 0; w < 3; w++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", names[w], help[w], names[w],
			w < 2 ? "counter" : "gauge");
		for (uint16_t i = 0; i < mg_model_iface_max(); i++) {
			const struct mg_iface *ifc = mg_model_iface_get(c->env.model, i);
			struct met_ctx m = {.f = f, .iface = ifc ? ifc->name : NULL, .what = w};

			if (ifc != NULL && ifc->kind == MG_IFACE_WG)
				mg_wgif_info(c->env.dp, ifc->id, ifc->wg, &info, met_peer, &m);
		}
	}
	fprintf(f, "# HELP meshgate_wireguard_handshakes_total Handshake messages handled, by "
		   "result.\n# TYPE meshgate_wireguard_handshakes_total counter\n");
	for (uint16_t i = 0; i < mg_model_iface_max(); i++) {
		const struct mg_iface *ifc = mg_model_iface_get(c->env.model, i);

		if (ifc == NULL || ifc->kind != MG_IFACE_WG ||
		    mg_wgif_info(c->env.dp, ifc->id, ifc->wg, &info, NULL, NULL) < 0)
			continue;
		for (unsigned int r = 0; r < MG_WG_HS_RESULT_MAX; r++)
			fprintf(f, "meshgate_wireguard_handshakes_total{interface=\"%s\",result=\"%s\"} "
				"%" PRIu64 "\n", ifc->name, mg_wg_hs_result_name(r), info.hs.hs[r]);
	}
	/* Data path outcomes are per gateway (summed over every WireGuard interface). */
	if (c->env.dp->wg != NULL) {
		struct mg_wgif_dp *w = c->env.dp->wg;
		uint64_t rx[MG_WG_RX_STATUS_MAX] = {0}, tx[MG_WG_TX_STATUS_MAX] = {0};

		for (unsigned int l = 0; l <= w->nworkers; l++) {
			for (unsigned int r = 0; r < MG_WG_RX_STATUS_MAX; r++)
				rx[r] += w->st[l].rx[r];
			for (unsigned int r = 0; r < MG_WG_TX_STATUS_MAX; r++)
				tx[r] += w->st[l].tx[r];
		}
		fprintf(f, "# HELP meshgate_wireguard_decrypt_total Transport messages received, by "
			   "outcome.\n# TYPE meshgate_wireguard_decrypt_total counter\n");
		for (unsigned int r = 0; r < MG_WG_RX_STATUS_MAX; r++)
			fprintf(f, "meshgate_wireguard_decrypt_total{outcome=\"%s\"} %" PRIu64 "\n",
				mg_wg_rx_status_name(r), rx[r]);
		fprintf(f, "# HELP meshgate_wireguard_encrypt_total Packets to encrypt, by "
			   "outcome.\n# TYPE meshgate_wireguard_encrypt_total counter\n");
		for (unsigned int r = 0; r < MG_WG_TX_STATUS_MAX; r++)
			fprintf(f, "meshgate_wireguard_encrypt_total{outcome=\"%s\"} %" PRIu64 "\n",
				mg_wg_tx_status_name(r), tx[r]);
	}
}

/* ---- runtime add / delete ------------------------------------------------------------------ */

static int
key_field(json_t *o, const char *name, const char *path, uint8_t key[MG_WG_KEY_LEN],
	  bool required, bool *present, struct mg_error *err)
{
	json_t *v = json_object_get(o, name);

	char f[64];

	snprintf(f, sizeof(f), "%s%s", path, name);
	*present = v != NULL && !json_is_null(v);
	if (!*present)
		return required ? mg_error_set(err, EINVAL, f, "%s is required", f) : 0;
	/* Never quotes the value: it may be a key with a typo. */
	if (!json_is_string(v) || mg_wg_key_from_base64(key, json_string_value(v), NULL) < 0)
		return mg_error_set(err, EINVAL, f, "%s: not a key (44 characters of base64 "
				    "ending in '=')", f);
	return 0;
}

static int
endpoint_parse(const char *v, struct mg_ip *ip, uint16_t *port)
{
	char host[64];
	const char *colon;
	char *end;
	long pv;

	if (v[0] == '[') {
		const char *e = strchr(v, ']');

		if (e == NULL || e[1] != ':' || (size_t)(e - v - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, v + 1, (size_t)(e - v - 1));
		host[e - v - 1] = '\0';
		colon = e + 1;
	} else {
		colon = strrchr(v, ':');
		if (colon == NULL || (size_t)(colon - v) >= sizeof(host))
			return -EINVAL;
		memcpy(host, v, (size_t)(colon - v));
		host[colon - v] = '\0';
		if (strchr(host, ':') != NULL)
			return -EINVAL;
	}
	pv = strtol(colon + 1, &end, 10);
	if (*end != '\0' || pv <= 0 || pv > 65535 || mg_ip_parse(host, ip) < 0)
		return -EINVAL;
	*port = (uint16_t)pv;
	return 0;
}

/* The spec in @p body; keys in @p s are the caller's to wipe (mg_wg_spec_free). */
static int
spec_from_json(json_t *body, struct mg_wg_spec *s, struct mg_error *err)
{
	static const char *const fields[] = {"name", "network", "underlay", "listen_port", "mtu",
					     "private_key", "ipv4", "ipv6", "peers", NULL};
	static const char *const peer_fields[] = {"public_key", "preshared_key", "endpoint",
						  "allowed_ips", "persistent_keepalive", NULL};
	json_t *peers = json_object_get(body, "peers"), *v;
	bool present;
	size_t i;
	int rc;

	memset(s, 0, sizeof(*s));
	if (!json_is_object(body))
		return mg_error_set(err, EINVAL, "", "the body must be a JSON object");
	if ((rc = cj_check_fields(body, fields, "", err)) < 0 ||
	    (rc = cj_str(body, "name", "", s->name, sizeof(s->name), true, err)) < 0 ||
	    (rc = cj_str(body, "network", "", s->network, sizeof(s->network), false, err)) < 0 ||
	    (rc = cj_str(body, "underlay", "", s->underlay, sizeof(s->underlay), false, err)) < 0)
		return rc;
	for (unsigned int f = 0; f < 2; f++) {
		const char *fam = f == 0 ? "ipv4" : "ipv6";

		v = json_object_get(body, fam);
		if (v != NULL && !json_is_array(v))
			return mg_error_set(err, EINVAL, fam, "%s: a list of addresses with their "
					    "subnet lengths", fam);
	}
	v = json_object_get(body, "listen_port");
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535)
		return mg_error_set(err, EINVAL, "listen_port", "an integer 1-65535 is required");
	s->listen_port = (uint16_t)json_integer_value(v);
	if ((v = json_object_get(body, "mtu")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < MG_MTU_MIN ||
		    json_integer_value(v) > MG_MTU_MAX)
			return mg_error_set(err, EINVAL, "mtu", "an integer %u-%u", MG_MTU_MIN,
					    MG_MTU_MAX);
		s->mtu = (uint16_t)json_integer_value(v);
	}
	rc = key_field(body, "private_key", "", s->private_key, true, &present, err);
	if (rc < 0)
		return rc;
	if (peers == NULL)
		return 0;
	if (!json_is_array(peers) || json_array_size(peers) > MG_WG_MAX_PEERS)
		return mg_error_set(err, EINVAL, "peers", "a list of at most %u peers",
				    MG_WG_MAX_PEERS);
	if (json_array_size(peers) == 0)
		return 0;
	s->peers = calloc(json_array_size(peers), sizeof(*s->peers));
	if (s->peers == NULL)
		return mg_error_set(err, ENOMEM, "", "out of memory");
	json_array_foreach(peers, i, v) {
		struct mg_wg_peer_spec *p = &s->peers[s->npeers++];
		char path[32], f[64];
		json_t *x, *a;
		size_t k;

		snprintf(path, sizeof(path), "peers[%zu]", i);
		if ((rc = cj_check_fields(v, peer_fields, path, err)) < 0)
			return rc;
		snprintf(path, sizeof(path), "peers[%zu].", i);
		rc = key_field(v, "public_key", path, p->public_key, true, &present, err);
		if (rc == 0)
			rc = key_field(v, "preshared_key", path, p->preshared_key, false,
				       &p->has_psk, err);
		if (rc < 0)
			return rc;
		x = json_object_get(v, "endpoint");
		if (x != NULL && !json_is_null(x) &&
		    (!json_is_string(x) ||
		     endpoint_parse(json_string_value(x), &p->endpoint, &p->endpoint_port) < 0)) {
			snprintf(f, sizeof(f), "%sendpoint", path);
			return mg_error_set(err, EINVAL, f, "%s: like 192.0.2.1:51820 or "
					    "[2001:db8::1]:51820", f);
		}
		x = json_object_get(v, "persistent_keepalive");
		if (x != NULL) {
			snprintf(f, sizeof(f), "%spersistent_keepalive", path);
			if (!json_is_integer(x) || json_integer_value(x) < 0 ||
			    json_integer_value(x) > 65535)
				return mg_error_set(err, EINVAL, f, "%s: 0-65535 seconds", f);
			p->persistent_keepalive = (uint16_t)json_integer_value(x);
		}
		x = json_object_get(v, "allowed_ips");
		snprintf(f, sizeof(f), "%sallowed_ips", path);
		if (x != NULL && (!json_is_array(x) || json_array_size(x) > MG_WG_MAX_ALLOWED))
			return mg_error_set(err, EINVAL, f, "%s: a list of at most %u prefixes", f,
					    MG_WG_MAX_ALLOWED);
		json_array_foreach(x, k, a) {
			if (!json_is_string(a) ||
			    mg_prefix_parse(json_string_value(a), &p->allowed[p->nallowed]) < 0 ||
			    strchr(json_string_value(a), '/') == NULL) {
				snprintf(f, sizeof(f), "%sallowed_ips[%zu]", path, k);
				return mg_error_set(err, EINVAL, f, "%s: not a prefix", f);
			}
			p->nallowed++;
		}
	}
	return 0;
}

int
ctl_wg_add(struct mg_ctl *c, json_t *body, struct mg_error *err)
{
	struct mg_wg_spec s;
	const char *fam[2] = {"ipv4", "ipv6"};
	int rc = spec_from_json(body, &s, err);

	if (rc == 0)
		rc = mg_model_wg_add(c->env.model, &s, err);
	mg_wg_spec_free(&s);
	if (rc < 0)
		return rc;
	for (unsigned int f = 0; f < 2; f++) {
		json_t *a = json_object_get(body, fam[f]), *v;
		size_t i;

		json_array_foreach(a, i, v) {
			struct mg_addr_spec as;

			memset(&as, 0, sizeof(as));
			mg_strlcpy(as.iface, s.name, sizeof(as.iface));
			if (!json_is_string(v) || mg_prefix_parse(json_string_value(v), &as.prefix) < 0 ||
			    as.prefix.addr.family != (f == 0 ? AF_INET : AF_INET6)) {
				char fp[16];

				snprintf(fp, sizeof(fp), "%s[%zu]", fam[f], i);
				rc = mg_error_set(err, EINVAL, fp, "%s: not an %s address with its "
						  "subnet length", fp, f == 0 ? "IPv4" : "IPv6");
			} else {
				rc = mg_model_addr_add(c->env.model, &as, err);
				if (rc < 0)
					mg_error_prefix_field(err, "%s[%zu]", fam[f], i);
			}
			if (rc < 0) {
				struct mg_error e2;

				mg_model_wg_del(c->env.model, s.name, &e2);
				return rc;
			}
		}
	}
	return 0;
}

int
ctl_wg_del(struct mg_ctl *c, const char *name, struct mg_error *err)
{
	return mg_model_wg_del(c->env.model, name, err);
}

/* Overwrite one string member in place: jansson frees strings without wiping them. */
static void
wipe_member(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	if (json_is_string(v))
		mg_wipe((char *)(uintptr_t)json_string_value(v), json_string_length(v));
}

void
ctl_wg_wipe_body(json_t *body)
{
	json_t *p;
	size_t i;

	if (!json_is_object(body))
		return;
	wipe_member(body, "private_key");
	json_array_foreach(json_object_get(body, "peers"), i, p)
		if (json_is_object(p))
			wipe_member(p, "preshared_key");
}
