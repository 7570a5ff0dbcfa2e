/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * WireGuard interfaces in the durable state (control.state_dir), with their
 * private and preshared keys sealed.
 *
 * An interface is stored as the body of POST /v1/wireguard (name, networks,
 * port, MTU, addresses, peers) in which each key is replaced by
 * "private_key_sealed" / "preshared_key_sealed": base64 of a random 24-byte
 * nonce followed by the key encrypted with XChaCha20-Poly1305 (libsodium)
 * under the state key. The associated data names what the key belongs to
 * ("meshgate-wg-private:IFACE", "meshgate-wg-psk:IFACE:PEER-PUBLIC-KEY"),
 * so a sealed key moved to another interface or peer fails to open.
 *
 * An NSM WIREGUARD connection's stored entry carries the key made for it the
 * same way ("wg_key_sealed", associated data "meshgate-wg-nsm:CONNECTION-ID",
 * with "wg_port"), so that its replay answers with the same key and port.
 *
 * The state key is 32 random bytes in STATE_DIR/wg-state.key (0600, made at
 * first use, never logged). It is read for each seal or open and wiped right
 * after; the snapshot and journal alone reveal no key. Whoever can read the
 * whole state directory can open them, as whoever can read the
 * configuration file and its key files can: the state key is what keeps
 * copies of the state files (backups, support bundles) and logs free of keys.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_log.h>
#include <sodium.h>

#include "ctl_priv.h"
#include "mg_wg.h"

RTE_LOG_REGISTER_SUFFIX(mg_wgstate_logtype, wgstate, INFO);
#define WS_LOG(l, ...) rte_log(RTE_LOG_##l, mg_wgstate_logtype, "wgstate: " __VA_ARGS__)

#define STATE_KEY_FILE "wg-state.key"
#define SEAL_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SEAL_TAG crypto_aead_xchacha20poly1305_ietf_ABYTES
#define SEALED_BYTES (SEAL_NONCE + MG_WG_KEY_BYTES + SEAL_TAG)
#define AD_MAX (32 + MG_NAME_MAX + MG_WG_KEY_B64_LEN)

static int
read_full(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		got += (size_t)r;
	}
	return 0;
}

/* Load the state key into @p key, making it if @p create and it is absent. */
static int
state_key(const struct mg_ctl *c, uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES],
	  bool create, struct mg_error *err)
{
	char path[512];
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s", c->conf.state_dir, STATE_KEY_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT && create) {
		char tmp[520];
		int dfd;

		/* Write aside and link into place: a crash leaves no short key file. */
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return mg_error_set(err, errno, "control.state_dir", "cannot create %s: %s",
					    tmp, strerror(errno));
		randombytes_buf(key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
		rc = write(fd, key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES) ==
				     crypto_aead_xchacha20poly1305_ietf_KEYBYTES && fsync(fd) == 0
			     ? 0 : -(errno ? errno : EIO);
		close(fd);
		if (rc == 0 && link(tmp, path) < 0)
			rc = -errno;
		unlink(tmp);
		sodium_memzero(key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
		if (rc < 0 && rc != -EEXIST)
			return mg_error_set(err, -rc, "control.state_dir", "cannot create %s: %s",
					    path, strerror(-rc));
		dfd = open(c->conf.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (fd < 0)
		return mg_error_set(err, errno, "control.state_dir", "cannot read %s: %s", path,
				    strerror(errno));
	rc = read_full(fd, key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
	close(fd);
	if (rc < 0) {
		sodium_memzero(key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
		return mg_error_set(err, EINVAL, "control.state_dir",
				    "%s is not a 32-byte key: keys in the state cannot be opened",
				    path);
	}
	return 0;
}

static void
ad_private(char *ad, size_t n, const char *iface)
{
	snprintf(ad, n, "meshgate-wg-private:%s", iface);
}

static void
ad_psk(char *ad, size_t n, const char *iface, const uint8_t pub[MG_WG_KEY_BYTES])
{
	char b[MG_WG_KEY_B64_LEN + 1];

	snprintf(ad, n, "meshgate-wg-psk:%s:%s", iface, mg_wg_key_to_base64(b, pub));
}

/* base64 of nonce || seal(@p secret) under @p sk with @p ad. */
static json_t *
seal(const uint8_t *sk, const uint8_t secret[MG_WG_KEY_BYTES], const char *ad)
{
	uint8_t out[SEALED_BYTES];
	char b64[sodium_base64_ENCODED_LEN(SEALED_BYTES, sodium_base64_VARIANT_ORIGINAL)];

	randombytes_buf(out, SEAL_NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + SEAL_NONCE, NULL, secret, MG_WG_KEY_BYTES,
						   (const uint8_t *)ad, strlen(ad), NULL, out, sk);
	sodium_bin2base64(b64, sizeof(b64), out, sizeof(out), sodium_base64_VARIANT_ORIGINAL);
	return json_string(b64);
}

/* Open @p v (a seal() string) into @p secret; -EINVAL if it does not open. */
static int
unseal(const uint8_t *sk, json_t *v, const char *ad, uint8_t secret[MG_WG_KEY_BYTES])
{
	uint8_t in[SEALED_BYTES + 1];
	size_t len = 0;

	if (!json_is_string(v) ||
	    sodium_base642bin(in, sizeof(in), json_string_value(v), json_string_length(v), NULL,
			      &len, NULL, sodium_base64_VARIANT_ORIGINAL) < 0 ||
	    len != SEALED_BYTES)
		return -EINVAL;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(secret, NULL, NULL, in + SEAL_NONCE,
						       SEALED_BYTES - SEAL_NONCE,
						       (const uint8_t *)ad, strlen(ad), in,
						       sk) < 0) {
		sodium_memzero(secret, MG_WG_KEY_BYTES);
		return -EINVAL;
	}
	return 0;
}

static int
sodium_ready(struct mg_error *err)
{
	if (sodium_init() < 0)
		return mg_error_set(err, EIO, "", "libsodium failed to initialise");
	return 0;
}

/* The stored form of @p ifc, keys sealed under @p sk. */
static json_t *
iface_json(struct mg_ctl *c, const struct mg_iface *ifc, const uint8_t *sk)
{
	const struct mg_wg_spec *w = ifc->wg;
	json_t *o = json_object(), *peers = json_array();
	char b[MG_PREFIX_STRLEN], k[MG_WG_KEY_B64_LEN + 1], ad[AD_MAX], ip[MG_IP_STRLEN];

	json_object_set_new(o, "name", json_string(ifc->name));
	json_object_set_new(o, "network",
			    json_string(mg_model_network_get(c->env.model, ifc->network)->spec.name));
	if (w->underlay[0])
		json_object_set_new(o, "underlay", json_string(w->underlay));
	json_object_set_new(o, "listen_port", json_integer(w->listen_port));
	if (w->mtu)
		json_object_set_new(o, "mtu", json_integer(w->mtu));
	ad_private(ad, sizeof(ad), ifc->name);
	json_object_set_new(o, "private_key_sealed", seal(sk, w->private_key, ad));
	cj_addrs_json(o, ifc);
	for (unsigned int i = 0; i < w->npeers; i++) {
		const struct mg_wg_peer_spec *p = &w->peers[i];
		json_t *po = json_object(), *al = json_array();

		json_object_set_new(po, "public_key",
				    json_string(mg_wg_key_to_base64(k, p->public_key)));
		if (p->has_psk) {
			ad_psk(ad, sizeof(ad), ifc->name, p->public_key);
			json_object_set_new(po, "preshared_key_sealed", seal(sk, p->preshared_key, ad));
		}
		if (p->endpoint.family != 0) {
			char e[MG_IP_STRLEN + 10];

			mg_ip_fmt(&p->endpoint, ip, sizeof(ip));
			snprintf(e, sizeof(e), p->endpoint.family == AF_INET6 ? "[%s]:%u" : "%s:%u",
				 ip, p->endpoint_port);
			json_object_set_new(po, "endpoint", json_string(e));
		}
		for (unsigned int j = 0; j < p->nallowed; j++)
			json_array_append_new(al, json_string(mg_prefix_fmt(&p->allowed[j], b,
									  sizeof(b))));
		json_object_set_new(po, "allowed_ips", al);
		json_object_set_new(po, "persistent_keepalive", json_integer(p->persistent_keepalive));
		json_array_append_new(peers, po);
	}
	json_object_set_new(o, "peers", peers);
	return o;
}

json_t *
ctl_wg_state_json(struct mg_ctl *c, const struct mg_iface *ifc, struct mg_error *err)
{
	uint8_t sk[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	json_t *o;

	if (sodium_ready(err) < 0 || state_key(c, sk, true, err) < 0)
		return NULL;
	o = iface_json(c, ifc, sk);
	sodium_memzero(sk, sizeof(sk));
	return o;
}

/* WireGuard interfaces an NSM connection made are restored with their connection. */
static bool
conn_iface(const struct mg_ctl *c, const char *name)
{
	for (unsigned int i = 0; c->nconns > 0 && i < CTL_MAX_CONNS; i++)
		if (c->conns[i].used && !strcmp(c->conns[i].wg, name))
			return true;
	return false;
}

json_t *
ctl_wg_snapshot(struct mg_ctl *c, struct mg_error *err)
{
	uint8_t sk[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	json_t *a = json_array();
	bool have_key = false;

	for (uint16_t i = 0; i < mg_model_iface_max(); i++) {
		const struct mg_iface *ifc = mg_model_iface_get(c->env.model, i);

		if (ifc == NULL || ifc->kind != MG_IFACE_WG || ifc->wg == NULL ||
		    conn_iface(c, ifc->name))
			continue;
		if (!have_key) {
			if (sodium_ready(err) < 0 || state_key(c, sk, true, err) < 0) {
				json_decref(a);
				return NULL;
			}
			have_key = true;
		}
		json_array_append_new(a, iface_json(c, ifc, sk));
	}
	if (have_key)
		sodium_memzero(sk, sizeof(sk));
	return a;
}

/* Replace @p name (sealed) in @p o by @p plain's base64 under key @p plain_name. */
static int
open_member(const uint8_t *sk, json_t *o, const char *name, const char *plain_name,
	    const char *ad)
{
	uint8_t key[MG_WG_KEY_BYTES];
	char b[MG_WG_KEY_B64_LEN + 1];
	int rc = unseal(sk, json_object_get(o, name), ad, key);

	if (rc < 0)
		return rc;
	json_object_set_new(o, plain_name, json_string(mg_wg_key_to_base64(b, key)));
	sodium_memzero(key, sizeof(key));
	sodium_memzero(b, sizeof(b));
	json_object_del(o, name);
	return 0;
}

int
ctl_wg_state_restore(struct mg_ctl *c, json_t *stored, struct mg_error *err)
{
	uint8_t sk[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	json_t *body, *p;
	const char *name;
	char ad[AD_MAX];
	size_t i;
	int rc = 0;

	if (!json_is_object(stored) || !json_is_string(json_object_get(stored, "name")))
		return mg_error_set(err, EINVAL, "wireguard", "a stored interface without a name");
	name = json_string_value(json_object_get(stored, "name"));
	if (sodium_ready(err) < 0 || state_key(c, sk, false, err) < 0)
		return -err->code;
	body = json_deep_copy(stored);
	ad_private(ad, sizeof(ad), name);
	if (open_member(sk, body, "private_key_sealed", "private_key", ad) < 0)
		rc = mg_error_set(err, EINVAL, "wireguard",
				  "%s: the private key does not open with the state key", name);
	json_array_foreach(json_object_get(body, "peers"), i, p) {
		uint8_t pub[MG_WG_KEY_BYTES];

		if (rc < 0 || !json_is_object(p) || !json_object_get(p, "preshared_key_sealed"))
			continue;
		if (!json_is_string(json_object_get(p, "public_key")) ||
		    mg_wg_key_from_base64(pub, json_string_value(json_object_get(p, "public_key")),
					  NULL) < 0) {
			rc = mg_error_set(err, EINVAL, "wireguard", "%s: peers[%zu]: no public key",
					  name, i);
			break;
		}
		ad_psk(ad, sizeof(ad), name, pub);
		if (open_member(sk, p, "preshared_key_sealed", "preshared_key", ad) < 0)
			rc = mg_error_set(err, EINVAL, "wireguard", "%s: peers[%zu]: the preshared "
					  "key does not open with the state key", name, i);
	}
	sodium_memzero(sk, sizeof(sk));
	if (rc == 0)
		rc = ctl_wg_add(c, body, err);
	ctl_wg_wipe_body(body);
	json_decref(body);
	return rc;
}

int
ctl_wg_journal_add(struct mg_ctl *c, const char *name, struct mg_error *err)
{
	const struct mg_iface *ifc = mg_model_iface_find(c->env.model, name);
	json_t *entry, *o;
	int rc;

	if (c->journal_fd < 0 || c->replaying)
		return 0;
	if (ifc == NULL || ifc->kind != MG_IFACE_WG)
		return mg_error_set(err, ENOENT, "name", "no WireGuard interface '%s'", name);
	o = ctl_wg_state_json(c, ifc, err);
	if (o == NULL)
		return -err->code;
	entry = json_object();
	json_object_set_new(entry, "wireguard", o);
	rc = ctl_journal(c, entry, err);
	json_decref(entry);
	return rc;
}

int
ctl_wg_journal_del(struct mg_ctl *c, const char *name, struct mg_error *err)
{
	const struct mg_iface *ifc = mg_model_iface_find(c->env.model, name);
	json_t *entry;
	int rc;

	/* Nothing to journal for what is not there: the delete reports it. */
	if (c->journal_fd < 0 || c->replaying || ifc == NULL || ifc->kind != MG_IFACE_WG)
		return 0;
	/* A delete the model would refuse is refused before it is journaled. */
	if (mg_model_iface_del_check(c->env.model, name, err) < 0)
		return -err->code;
	entry = json_pack("{s:s}", "wireguard_del", name);
	rc = ctl_journal(c, entry, err);
	json_decref(entry);
	return rc;
}

/* ---- sealing for the other objects of the state (ctl_espstate.c) -------------------------- */

int
ctl_state_key(const struct mg_ctl *c, uint8_t key[CTL_STATE_KEY_BYTES], bool create,
	      struct mg_error *err)
{
	_Static_assert(CTL_STATE_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
		       "state key size");
	if (sodium_ready(err) < 0)
		return -err->code;
	return state_key(c, key, create, err) < 0 ? -err->code : 0;
}

json_t *
ctl_seal_bytes(const uint8_t *sk, const uint8_t *data, size_t len, const char *ad)
{
	uint8_t out[SEAL_NONCE + CTL_SEAL_MAX + SEAL_TAG];
	char b64[sodium_base64_ENCODED_LEN(sizeof(out), sodium_base64_VARIANT_ORIGINAL)];
	json_t *j;

	if (len > CTL_SEAL_MAX)
		return NULL;
	randombytes_buf(out, SEAL_NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + SEAL_NONCE, NULL, data, len,
						   (const uint8_t *)ad, strlen(ad), NULL, out, sk);
	sodium_bin2base64(b64, sizeof(b64), out, SEAL_NONCE + len + SEAL_TAG,
			  sodium_base64_VARIANT_ORIGINAL);
	j = json_string(b64);
	sodium_memzero(out, sizeof(out));
	return j;
}

int
ctl_unseal_bytes(const uint8_t *sk, json_t *v, const char *ad, uint8_t *data, size_t max,
		 size_t *len)
{
	uint8_t in[SEAL_NONCE + CTL_SEAL_MAX + SEAL_TAG + 1];
	unsigned long long n = 0;
	size_t got = 0;

	*len = 0;
	if (!json_is_string(v) ||
	    sodium_base642bin(in, sizeof(in), json_string_value(v), json_string_length(v), NULL,
			      &got, NULL, sodium_base64_VARIANT_ORIGINAL) < 0 ||
	    got < SEAL_NONCE + SEAL_TAG || got - SEAL_NONCE - SEAL_TAG > max)
		return -EINVAL;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(data, &n, NULL, in + SEAL_NONCE,
						       got - SEAL_NONCE, (const uint8_t *)ad,
						       strlen(ad), in, sk) < 0) {
		sodium_memzero(data, max);
		return -EINVAL;
	}
	*len = (size_t)n;
	return 0;
}

/* ---- NSM WIREGUARD connections: the key made for the connection ---------------------------- */

static void
ad_conn(char *ad, size_t n, const char *id)
{
	snprintf(ad, n, "meshgate-wg-nsm:%s", id);
}

void
ctl_wg_conn_seal(struct mg_ctl *c, const struct conn *k, json_t *entry)
{
	uint8_t sk[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	const struct mg_iface *ifc;
	struct mg_error err;
	char ad[32 + sizeof(k->id)];

	if (c->conf.state_dir[0] == '\0' || k->wg[0] == '\0')
		return;
	ifc = mg_model_iface_find(c->env.model, k->wg);
	if (ifc == NULL || ifc->kind != MG_IFACE_WG || ifc->wg == NULL)
		return;
	if (sodium_ready(&err) < 0 || state_key(c, sk, true, &err) < 0) {
		/* Stored without it: after a restart the connection gets a new key. */
		WS_LOG(ERR, "connection %s: %s (its WireGuard key is not stored)\n", k->id,
		       err.msg);
		return;
	}
	ad_conn(ad, sizeof(ad), k->id);
	json_object_set_new(entry, "wg_key_sealed", seal(sk, ifc->wg->private_key, ad));
	json_object_set_new(entry, "wg_key_id", json_string(k->id));
	json_object_set_new(entry, "wg_port", json_integer(ifc->wg->listen_port));
	sodium_memzero(sk, sizeof(sk));
}

int
ctl_wg_conn_open(struct mg_ctl *c, json_t *entry, struct mg_error *err)
{
	uint8_t sk[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
	json_t *v = json_object_get(entry, "wg_key_sealed"), *port;
	const char *id = json_string_value(json_object_get(entry, "wg_key_id"));
	char ad[32 + 256];
	int rc;

	c->replay_wg_key_set = false;
	c->replay_wg_port = 0;
	if (v == NULL || id == NULL)
		return 0;
	/* Without its key the connection still comes back, with a new one (the
	 * client must then be given the new public key): say so. */
	if (sodium_ready(err) < 0 || state_key(c, sk, false, err) < 0) {
		WS_LOG(ERR, "connection %s: %s: it gets a new WireGuard key\n", id, err->msg);
		return 0;
	}
	ad_conn(ad, sizeof(ad), id);
	rc = unseal(sk, v, ad, c->replay_wg_key);
	sodium_memzero(sk, sizeof(sk));
	if (rc < 0) {
		WS_LOG(ERR, "connection %s: its WireGuard key does not open with the state key: "
		       "it gets a new one\n", id);
		return 0;
	}
	c->replay_wg_key_set = true;
	port = json_object_get(entry, "wg_port");
	if (json_is_integer(port) && json_integer_value(port) > 0 &&
	    json_integer_value(port) <= 65535)
		c->replay_wg_port = (uint16_t)json_integer_value(port);
	return 0;
}
