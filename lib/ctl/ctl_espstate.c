/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPsec ESP tunnels in the durable state (control.state_dir).
 *
 * A tunnel is stored as the body of POST /v1/esp-tunnels (name, networks,
 * endpoints, options, addresses, SAs) in which each SA's key, HMAC key and
 * salt are replaced by "keys_sealed": base64 of a random 24-byte nonce and
 * XChaCha20-Poly1305 of [key length, key, auth key length, auth key, salt
 * length, salt] under the state key (STATE_DIR/wg-state.key, the one
 * WireGuard keys are sealed with, ctl_wgstate.c). The associated data names
 * the SA ("meshgate-esp:TUNNEL:DIRECTION:INNER:SPI"), so a sealed blob moved
 * to another SA does not open. A journaled rekey stores the whole tunnel
 * again; restoring it replaces the SAs of the tunnel already restored.
 * The tunnels of NSM IPSEC connections come back with their connection;
 * their current SAs are stored too ("esp_conn" in the snapshot, restored
 * after the connections), so that a REST rekey of one survives a restart.
 *
 * Sequence numbers. An outbound SA restored with its old key must never
 * send a sequence number it sent before: with AES-GCM and ChaCha20-Poly1305
 * the number is the IV, and a repeated IV under one key gives the key
 * stream (and the GHASH key) away; the peer's anti-replay window would drop
 * the packets too. So outbound SAs resume above a reservation: each stored
 * SA carries "seq" (outbound: a number above every one sent so far plus
 * ESP_SEQ_STEP; inbound: the highest seen), and STATE_DIR/esp-seq.json (no
 * key in it) raises the reservations while traffic flows: the main loop
 * writes a new one (atomically, fsynced) when an SA has used half of what
 * is reserved. After a restart an SA starts at the larger of the two. The
 * reservation holds as long as the main lcore writes within the time the
 * workers need for ESP_SEQ_STEP / 2 packets (2.5 s at 6.5 Mpps on one SA): numbers are skipped at each restart, never repeated. Inbound
 * SAs resume with the highest number seen at the last write, so packets
 * captured before it cannot be replayed into the restarted gateway.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_log.h>

#include "ctl_priv.h"
#include "mg_esp_algos.h"

RTE_LOG_REGISTER_SUFFIX(mg_espstate_logtype, espstate, INFO);
#define ES_LOG(l, ...) rte_log(RTE_LOG_##l, mg_espstate_logtype, "espstate: " __VA_ARGS__)

#define ESP_SEQ_FILE "esp-seq.json"
#define ESP_SEQ_STEP (1ull << 25)      /* numbers reserved ahead of an outbound SA */
#define ESP_SEQ_TICK_NS 100000000ull   /* reservations checked every 100 ms */
#define AD_LEN (48 + MG_NAME_MAX)
#define BLOB_MAX (3 + MG_ESP_CONF_KEY_MAX * 2 + 4)

static void
sa_ad(char *ad, size_t n, const char *tunnel, const struct mg_esp_sa_conf *sa)
{
	snprintf(ad, n, "meshgate-esp:%s:%s:%s:%" PRIu32, tunnel, sa->inbound ? "in" : "out",
		 sa->inner_family == AF_INET ? "ipv4" : "ipv6", sa->spi);
}

static void
hex(char *out, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = '\0';
}

/* ---- sequence reservations ---------------------------------------------------------------- */

static struct esp_resv *
resv_find(struct mg_ctl *c, const char *tunnel, uint32_t spi, bool inbound)
{
	for (unsigned int i = 0; i < c->nesp_resv; i++) {
		struct esp_resv *r = &c->esp_resv[i];

		if (r->spi == spi && r->inbound == inbound && !strcmp(r->tunnel, tunnel))
			return r;
	}
	return NULL;
}

static struct esp_resv *
resv_get(struct mg_ctl *c, const char *tunnel, uint32_t spi, bool inbound)
{
	struct esp_resv *r = resv_find(c, tunnel, spi, inbound);

	if (r != NULL || c->esp_resv == NULL || c->nesp_resv == CTL_ESP_SEQ_MAX)
		return r;
	r = &c->esp_resv[c->nesp_resv++];
	memset(r, 0, sizeof(*r));
	mg_strlcpy(r->tunnel, tunnel, sizeof(r->tunnel));
	r->spi = spi;
	r->inbound = inbound;
	return r;
}

/* The "seq" to store for an SA now at @p cur; raises the reservation (and sets *dirty). */
static uint64_t
resv_store(struct mg_ctl *c, const char *tunnel, uint32_t spi, bool inbound, uint64_t cur,
	   bool *dirty)
{
	struct esp_resv *r = resv_get(c, tunnel, spi, inbound);

	if (inbound) {
		if (r != NULL && r->seq < cur) {
			r->seq = cur;
			*dirty = true;
		}
		return r != NULL && r->seq > cur ? r->seq : cur;
	}
	if (r == NULL)
		return cur + ESP_SEQ_STEP;
	if (r->seq < cur + ESP_SEQ_STEP / 2) {
		r->seq = cur + ESP_SEQ_STEP;
		*dirty = true;
	}
	return r->seq;
}

static int
seq_file_write(struct mg_ctl *c)
{
	char path[512], tmp[520];
	json_t *a = json_array(), *o;
	char *text;
	int fd, rc = 0;

	for (unsigned int i = 0; i < c->nesp_resv; i++) {
		const struct esp_resv *r = &c->esp_resv[i];

		json_array_append_new(a, json_pack("{s:s,s:I,s:s,s:I}", "tunnel", r->tunnel,
						   "spi", (json_int_t)r->spi, "direction",
						   r->inbound ? "in" : "out", "seq",
						   (json_int_t)r->seq));
	}
	o = json_pack("{s:s,s:o}", "format", "meshgate-esp-seq-1", "sas", a);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (text == NULL)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/%s", c->conf.state_dir, ESP_SEQ_FILE);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(text);
		return -errno;
	}
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text) || fsync(fd) < 0)
		rc = -(errno ? errno : EIO);
	close(fd);
	free(text);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc == 0) {
		int dfd = open(c->conf.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	} else {
		unlink(tmp);
	}
	return rc;
}

void
ctl_esp_seq_load(struct mg_ctl *c)
{
	char path[512];
	json_error_t je;
	json_t *f, *o;
	size_t i;

	if (c->esp_resv == NULL) {
		c->esp_resv = calloc(CTL_ESP_SEQ_MAX, sizeof(*c->esp_resv));
		if (c->esp_resv == NULL)
			return;
	}
	c->nesp_resv = 0;
	snprintf(path, sizeof(path), "%s/%s", c->conf.state_dir, ESP_SEQ_FILE);
	if (access(path, F_OK) != 0)
		return;
	f = json_load_file(path, 0, &je);
	if (f == NULL) {
		ES_LOG(ERR, "%s is not valid JSON (line %d: %s): ESP SAs resume from the sequence "
		       "numbers stored with them\n", path, je.line, mg_error_text_unquoted(je.text));
		return;
	}
	json_array_foreach(json_object_get(f, "sas"), i, o) {
		const char *t = json_string_value(json_object_get(o, "tunnel"));
		const char *d = json_string_value(json_object_get(o, "direction"));
		json_t *spi = json_object_get(o, "spi"), *seq = json_object_get(o, "seq");
		struct esp_resv *r;

		if (t == NULL || d == NULL || !json_is_integer(spi) || !json_is_integer(seq))
			continue;
		r = resv_get(c, t, (uint32_t)json_integer_value(spi), !strcmp(d, "in"));
		if (r != NULL && (uint64_t)json_integer_value(seq) > r->seq)
			r->seq = (uint64_t)json_integer_value(seq);
	}
	json_decref(f);
}

void
ctl_esp_seq_resume(struct mg_ctl *c, struct mg_esp_tunnel_spec *s)
{
	for (unsigned int i = 0; i < s->nsas; i++) {
		struct mg_esp_sa_conf *sa = &s->sas[i];
		const struct esp_resv *r = c->esp_resv != NULL ?
			resv_find(c, s->name, sa->spi, sa->inbound) : NULL;

		if (r != NULL && r->seq > sa->initial_seq)
			sa->initial_seq = r->seq;
		/* Without ESN the last outbound number is 2^32-2: past it, the SA
		 * starts exhausted (esp-seq-overflow) and must be rekeyed. */
		if (!s->esn && sa->initial_seq > UINT32_MAX)
			sa->initial_seq = UINT32_MAX;
	}
}

/* Update the reservations of every tunnel from the SAs' positions; write when raised. */
static void
seq_update(struct mg_ctl *c, bool force)
{
	const struct mg_esp_tunnel *t;
	uint32_t cur = 0;
	bool dirty = force;

	if (c->env.esp_seqs == NULL || c->esp_resv == NULL)
		return;
	while ((t = mg_model_esp_next(c->env.model, &cur)) != NULL) {
		struct mg_ctl_esp_seq q[MG_ESP_TUN_MAX_SAS];
		unsigned int n = c->env.esp_seqs(c->env.ctx, t->iface, q, RTE_DIM(q));

		for (unsigned int i = 0; i < n; i++)
			resv_store(c, t->spec.name, q[i].spi, q[i].inbound, q[i].seq, &dirty);
	}
	if (!dirty)
		return;
	/* Keep only the SAs that still exist. */
	for (unsigned int i = 0; i < c->nesp_resv;) {
		const struct esp_resv *r = &c->esp_resv[i];
		const struct mg_esp_tunnel *tt = mg_model_esp_find(c->env.model, r->tunnel);
		bool live = false;

		for (unsigned int k = 0; tt != NULL && k < tt->spec.nsas && !live; k++)
			live = tt->spec.sas[k].spi == r->spi && tt->spec.sas[k].inbound == r->inbound;
		if (live)
			i++;
		else
			c->esp_resv[i] = c->esp_resv[--c->nesp_resv];
	}
	{
		int rc = seq_file_write(c);

		if (rc < 0)
			ES_LOG(ERR, "cannot write %s/%s: %s (ESP sequence numbers are not "
			       "reserved ahead: a crash now may make SAs repeat them)\n",
			       c->conf.state_dir, ESP_SEQ_FILE, strerror(-rc));
	}
}

void
ctl_esp_seq_tick(struct mg_ctl *c, uint64_t now_ns, bool force)
{
	if (c->journal_fd < 0 || c->replaying)
		return;
	if (!force && now_ns < c->next_esp_seq_ns)
		return;
	c->next_esp_seq_ns = now_ns + ESP_SEQ_TICK_NS;
	seq_update(c, force);
}

/* ---- stored tunnels ------------------------------------------------------------------------ */

static json_t *
sa_json(struct mg_ctl *c, const struct mg_esp_tunnel *t, const struct mg_esp_sa_conf *sa,
	const uint8_t *sk, const struct mg_ctl_esp_seq *pos, unsigned int npos, bool *dirty)
{
	uint8_t blob[BLOB_MAX];
	char ad[AD_LEN];
	size_t n = 0;
	uint64_t seq = sa->initial_seq;
	json_t *o, *life = json_object();

	o = json_pack("{s:s,s:s,s:I,s:s}", "direction", sa->inbound ? "in" : "out",
		      "inner", sa->inner_family == AF_INET ? "ipv4" : "ipv6",
		      "spi", (json_int_t)sa->spi, "algorithm", mg_esp_algo_str(sa->algo));
	blob[n++] = sa->key_len;
	memcpy(blob + n, sa->key, sa->key_len);
	n += sa->key_len;
	blob[n++] = sa->auth_key_len;
	memcpy(blob + n, sa->auth_key, sa->auth_key_len);
	n += sa->auth_key_len;
	blob[n++] = sa->salt_len;
	memcpy(blob + n, sa->salt, sa->salt_len);
	n += sa->salt_len;
	sa_ad(ad, sizeof(ad), t->spec.name, sa);
	json_object_set_new(o, "keys_sealed", ctl_seal_bytes(sk, blob, n, ad));
	mg_wipe(blob, sizeof(blob));
	for (unsigned int i = 0; i < npos; i++)
		if (pos[i].spi == sa->spi && pos[i].inbound == sa->inbound && pos[i].seq > seq)
			seq = pos[i].seq;
	if (!sa->inbound && seq == 0)
		seq = 1;
	json_object_set_new(o, "seq", json_integer((json_int_t)resv_store(c, t->spec.name,
		sa->spi, sa->inbound, seq, dirty)));
#define LIFE(f, k) if (sa->f) json_object_set_new(life, k, json_integer((json_int_t)sa->f))
	LIFE(packets_soft, "soft_packets");
	LIFE(packets_hard, "hard_packets");
	LIFE(bytes_soft, "soft_bytes");
	LIFE(bytes_hard, "hard_bytes");
	LIFE(seconds_soft, "soft_seconds");
	LIFE(seconds_hard, "hard_seconds");
#undef LIFE
	if (json_object_size(life) > 0)
		json_object_set_new(o, "lifetime", life);
	else
		json_decref(life);
	return o;
}

static json_t *
tunnel_json(struct mg_ctl *c, const struct mg_esp_tunnel *t, const uint8_t *sk, bool *dirty)
{
	const struct mg_model *m = c->env.model;
	const struct mg_iface *ifc = mg_model_iface_get(m, t->iface);
	const struct mg_esp_tunnel_spec *s = &t->spec;
	struct mg_ctl_esp_seq pos[MG_ESP_TUN_MAX_SAS];
	unsigned int npos = 0;
	char b[MG_PREFIX_STRLEN];
	json_t *o, *sas = json_array(), *ike;

	if (c->env.esp_seqs != NULL)
		npos = c->env.esp_seqs(c->env.ctx, t->iface, pos, RTE_DIM(pos));
	o = json_pack("{s:s,s:s,s:s,s:s,s:b,s:b,s:b}", "name", s->name,
		      "network", mg_model_network_get(m, t->network)->spec.name,
		      "underlay", mg_model_network_get(m, t->underlay)->spec.name,
		      "local", mg_ip_fmt(&s->local, b, sizeof(b)),
		      "udp_encap", s->udp_encap, "esn", s->esn, "anti_replay", !s->no_replay);
	json_object_set_new(o, "remote", json_string(mg_ip_fmt(&s->remote, b, sizeof(b))));
	if (s->mtu)
		json_object_set_new(o, "mtu", json_integer(s->mtu));
	if (s->path_mtu)
		json_object_set_new(o, "path_mtu", json_integer(s->path_mtu));
	if (s->local_port)
		json_object_set_new(o, "local_port", json_integer(s->local_port));
	if (s->remote_port)
		json_object_set_new(o, "remote_port", json_integer(s->remote_port));
	if (s->replay_window)
		json_object_set_new(o, "replay_window", json_integer(s->replay_window));
	if (s->mss_clamp == MG_ESP_MSS_AUTO)
		json_object_set_new(o, "mss_clamp", json_string("auto"));
	else if (s->mss_clamp)
		json_object_set_new(o, "mss_clamp", json_integer(s->mss_clamp));
	for (unsigned int i = 0; i < s->nsas; i++)
		json_array_append_new(sas, sa_json(c, t, &s->sas[i], sk, pos, npos, dirty));
	json_object_set_new(o, "sas", sas);
	cj_addrs_json(o, ifc);
	if (conn_owns_esp(c, s->name))
		json_object_set_new(o, "connection", json_true());
	else if ((ike = ctl_ike_stored(c, s->name)) != NULL)
		json_object_set_new(o, "ike", ike); /* its secrets sealed (ctl_ike.c) */
	return o;
}

static void
write_if_dirty(struct mg_ctl *c, bool dirty)
{
	int rc;

	if (!dirty || c->conf.state_dir[0] == '\0')
		return;
	rc = seq_file_write(c);
	if (rc < 0)
		ES_LOG(ERR, "cannot write %s/%s: %s\n", c->conf.state_dir, ESP_SEQ_FILE,
		       strerror(-rc));
}

json_t *
ctl_esp_state_json(struct mg_ctl *c, const char *name, struct mg_error *err)
{
	const struct mg_esp_tunnel *t = mg_model_esp_find(c->env.model, name);
	uint8_t sk[CTL_STATE_KEY_BYTES];
	bool dirty = false;
	json_t *o;

	if (t == NULL) {
		mg_error_set(err, ENOENT, "name", "no ESP tunnel named '%s'", name);
		return NULL;
	}
	if (ctl_state_key(c, sk, true, err) < 0)
		return NULL;
	o = tunnel_json(c, t, sk, &dirty);
	mg_wipe(sk, sizeof(sk));
	write_if_dirty(c, dirty);
	return o;
}

json_t *
ctl_esp_snapshot(struct mg_ctl *c, bool of_conns, struct mg_error *err)
{
	uint8_t sk[CTL_STATE_KEY_BYTES];
	const struct mg_esp_tunnel *t;
	json_t *a = json_array();
	bool have_key = false, dirty = false;
	uint32_t cur = 0;

	while ((t = mg_model_esp_next(c->env.model, &cur)) != NULL) {
		if (conn_owns_esp(c, t->spec.name) != of_conns)
			continue;
		if (!have_key) {
			if (ctl_state_key(c, sk, true, err) < 0) {
				json_decref(a);
				return NULL;
			}
			have_key = true;
		}
		json_array_append_new(a, tunnel_json(c, t, sk, &dirty));
	}
	if (have_key)
		mg_wipe(sk, sizeof(sk));
	write_if_dirty(c, dirty);
	return a;
}

/* Replace "keys_sealed" of each SA in @p body by key/auth_key/salt in hex, "seq" by initial_seq. */
static int
open_sas(const uint8_t *sk, json_t *body, const char *name, struct mg_error *err)
{
	json_t *sa;
	size_t i;

	json_array_foreach(json_object_get(body, "sas"), i, sa) {
		struct mg_esp_sa_conf k;
		uint8_t blob[BLOB_MAX];
		char ad[AD_LEN], h[2 * MG_ESP_CONF_KEY_MAX + 1];
		const char *d, *f;
		size_t n = 0, at = 0;
		json_t *spi;

		memset(&k, 0, sizeof(k));
		d = json_string_value(json_object_get(sa, "direction"));
		f = json_string_value(json_object_get(sa, "inner"));
		spi = json_object_get(sa, "spi");
		if (d == NULL || f == NULL || !json_is_integer(spi))
			return mg_error_set(err, EINVAL, "esp", "%s: sas[%zu]: incomplete", name, i);
		k.inbound = !strcmp(d, "in");
		k.inner_family = !strcmp(f, "ipv4") ? AF_INET : AF_INET6;
		k.spi = (uint32_t)json_integer_value(spi);
		sa_ad(ad, sizeof(ad), name, &k);
		if (ctl_unseal_bytes(sk, json_object_get(sa, "keys_sealed"), ad, blob, sizeof(blob),
				     &n) < 0)
			return mg_error_set(err, EINVAL, "esp", "%s: sas[%zu]: the keys do not open "
					    "with the state key", name, i);
		json_object_del(sa, "keys_sealed");
		for (int part = 0; part < 3; part++) {
			static const char *const names[3] = {"key", "auth_key", "salt"};
			size_t l = at < n ? blob[at++] : 0;

			if (l > MG_ESP_CONF_KEY_MAX || at + l > n) {
				mg_wipe(blob, sizeof(blob));
				return mg_error_set(err, EINVAL, "esp", "%s: sas[%zu]: bad sealed keys",
						    name, i);
			}
			if (l > 0) {
				hex(h, blob + at, l);
				json_object_set_new(sa, names[part], json_string(h));
				mg_wipe(h, sizeof(h));
			}
			at += l;
		}
		mg_wipe(blob, sizeof(blob));
	}
	return 0;
}

/* The stored "seq" of each SA, into the reservations (ctl_esp_seq_resume reads them). */
static void
note_seqs(struct mg_ctl *c, json_t *body, const char *name)
{
	json_t *sa;
	size_t i;

	json_array_foreach(json_object_get(body, "sas"), i, sa) {
		json_t *seq = json_object_get(sa, "seq"), *spi = json_object_get(sa, "spi");
		const char *d = json_string_value(json_object_get(sa, "direction"));
		struct esp_resv *r;

		if (json_is_integer(seq) && json_is_integer(spi) && d != NULL) {
			r = resv_get(c, name, (uint32_t)json_integer_value(spi), !strcmp(d, "in"));
			if (r != NULL && (uint64_t)json_integer_value(seq) > r->seq)
				r->seq = (uint64_t)json_integer_value(seq);
		}
		json_object_del(sa, "seq");
	}
}

/* Leave out of @p s the SAs tunnel @p t already has as they are (a rekey replaces the others). */
static void
drop_unchanged(const struct mg_esp_tunnel *t, struct mg_esp_tunnel_spec *s)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < s->nsas; i++) {
		const struct mg_esp_sa_conf *a = &s->sas[i];
		bool same = false;

		for (unsigned int j = 0; j < t->spec.nsas && !same; j++) {
			const struct mg_esp_sa_conf *b = &t->spec.sas[j];

			same = a->spi == b->spi && a->inbound == b->inbound &&
			       a->inner_family == b->inner_family && a->algo == b->algo &&
			       a->key_len == b->key_len && !memcmp(a->key, b->key, a->key_len) &&
			       a->auth_key_len == b->auth_key_len &&
			       !memcmp(a->auth_key, b->auth_key, a->auth_key_len) &&
			       !memcmp(a->salt, b->salt, sizeof(a->salt));
		}
		if (!same)
			s->sas[n++] = *a;
	}
	for (unsigned int i = n; i < s->nsas; i++)
		mg_wipe(&s->sas[i], sizeof(s->sas[i]));
	s->nsas = (uint8_t)n;
}

int
ctl_esp_state_restore(struct mg_ctl *c, json_t *stored, struct mg_error *err)
{
	uint8_t sk[CTL_STATE_KEY_BYTES];
	const char *name;
	json_t *body, *ike;
	int rc;

	if (!json_is_object(stored) || !json_is_string(json_object_get(stored, "name")))
		return mg_error_set(err, EINVAL, "esp", "a stored tunnel without a name");
	name = json_string_value(json_object_get(stored, "name"));
	/* A connection's tunnel comes with its connection: without it (closed,
	 * expired while we were down) there is nothing to rekey. */
	if (json_is_true(json_object_get(stored, "connection")) &&
	    mg_model_esp_find(c->env.model, name) == NULL)
		return 0;
	if (ctl_state_key(c, sk, false, err) < 0)
		return -err->code;
	body = json_deep_copy(stored);
	json_object_del(body, "connection");
	ike = json_incref(json_object_get(body, "ike"));
	json_object_del(body, "ike");
	rc = open_sas(sk, body, name, err);
	mg_wipe(sk, sizeof(sk));
	if (rc == 0) {
		note_seqs(c, body, name);
		if (mg_model_esp_find(c->env.model, name) != NULL) {
			/* A journaled rekey: the tunnel's SAs as they were after it. */
			json_t *sas = json_object_get(body, "sas");
			struct mg_esp_tunnel_spec s;

			memset(&s, 0, sizeof(s));
			rc = ctl_esp_parse_sas(sas, s.sas, &s.nsas, err);
			if (rc == 0) {
				mg_strlcpy(s.name, name, sizeof(s.name));
				s.esn = json_is_true(json_object_get(body, "esn"));
				drop_unchanged(mg_model_esp_find(c->env.model, name), &s);
				ctl_esp_seq_resume(c, &s);
				if (s.nsas > 0)
					rc = mg_model_esp_rekey(c->env.model, name, s.sas, s.nsas,
								err);
			}
			mg_wipe(&s, sizeof(s));
		} else {
			rc = ctl_esp_add_body(c, body, err);
		}
		/* The tunnel's IKE peer as it was (or none). */
		if (rc == 0 && !json_is_true(json_object_get(stored, "connection")))
			rc = ctl_ike_restore(c, name, ike, err);
		if (rc < 0)
			mg_error_prefix_field(err, "esp[%s]", name);
	}
	json_decref(ike);
	ctl_json_wipe(body);
	json_decref(body);
	return rc;
}

int
ctl_esp_journal(struct mg_ctl *c, const char *name, struct mg_error *err)
{
	json_t *entry, *o;
	int rc;

	/* A connection's tunnel too: a rekey over REST outlives a restart (its
	 * entry replaces the SAs the replayed connection brings back). */
	if (c->journal_fd < 0 || c->replaying)
		return 0;
	o = ctl_esp_state_json(c, name, err);
	if (o == NULL)
		return -err->code;
	entry = json_object();
	json_object_set_new(entry, "esp", o);
	rc = ctl_journal(c, entry, err);
	json_decref(entry);
	return rc;
}

int
ctl_esp_journal_del(struct mg_ctl *c, const char *name, struct mg_error *err)
{
	json_t *entry;
	int rc;

	if (c->journal_fd < 0 || c->replaying || mg_model_esp_find(c->env.model, name) == NULL ||
	    conn_owns_esp(c, name))
		return 0;
	/* A delete the model would refuse is refused before it is journaled. */
	if (mg_model_iface_del_check(c->env.model, name, err) < 0)
		return -err->code;
	entry = json_pack("{s:s}", "esp_del", name);
	rc = ctl_journal(c, entry, err);
	json_decref(entry);
	return rc;
}
