/* SPDX-License-Identifier: BSD-3-Clause */
/* IKE configuration values: proposals, identities, peer checks, names. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ike_priv.h"
#include "mg_esp_algos.h"

static const struct {
	const char *name;
	uint16_t encr, bits;
} encrs[] = {
	{"aes128", MG_IKE_ENCR_AES_CBC, 128},
	{"aes256", MG_IKE_ENCR_AES_CBC, 256},
	{"aes128gcm16", MG_IKE_ENCR_AES_GCM_16, 128},
	{"aes256gcm16", MG_IKE_ENCR_AES_GCM_16, 256},
	{"chacha20poly1305", MG_IKE_ENCR_CHACHA20_POLY1305, 256},
};

static const struct {
	const char *name;
	uint16_t id;
} prfs[] = {
	{"prfsha256", MG_IKE_PRF_HMAC_SHA2_256},
	{"prfsha384", MG_IKE_PRF_HMAC_SHA2_384},
}, dhs[] = {
	{"modp2048", MG_IKE_DH_MODP2048},
	{"ecp256", MG_IKE_DH_ECP256},
	{"ecp384", MG_IKE_DH_ECP384},
	{"curve25519", MG_IKE_DH_CURVE25519},
	{"x25519", MG_IKE_DH_CURVE25519},
};

int
mg_ike_proposal_parse(const char *s, bool ike, struct mg_ike_proposal *p, char *why,
		      size_t whylen)
{
	char buf[128], *save = NULL, *tok;
	bool have_encr = false;

	memset(p, 0, sizeof(*p));
	if (strlen(s) >= sizeof(buf)) {
		snprintf(why, whylen, "too long");
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, "-", &save); tok != NULL; tok = strtok_r(NULL, "-", &save)) {
		unsigned int i;
		bool found = false;

		for (i = 0; i < MG_ARRAY_SIZE(encrs) && !found; i++)
			if (strcmp(tok, encrs[i].name) == 0) {
				if (have_encr)
					goto twice;
				p->encr = encrs[i].encr;
				p->key_bits = encrs[i].bits;
				have_encr = found = true;
			}
		if (!found && strcmp(tok, "sha256") == 0) {
			if (p->integ)
				goto twice;
			p->integ = MG_IKE_INTEG_HMAC_SHA2_256_128;
			found = true;
		}
		for (i = 0; i < MG_ARRAY_SIZE(prfs) && !found; i++)
			if (strcmp(tok, prfs[i].name) == 0) {
				if (!ike) {
					snprintf(why, whylen, "'%s': an ESP proposal has no PRF", tok);
					return -EINVAL;
				}
				if (p->prf)
					goto twice;
				p->prf = prfs[i].id;
				found = true;
			}
		for (i = 0; i < MG_ARRAY_SIZE(dhs) && !found; i++)
			if (strcmp(tok, dhs[i].name) == 0) {
				/* In ESP: PFS, a KE in CREATE_CHILD_SA (not in IKE_AUTH). */
				if (p->dh)
					goto twice;
				p->dh = dhs[i].id;
				found = true;
			}
		if (!found) {
			snprintf(why, whylen, "'%s' is not a known algorithm (aes128, aes256, "
				 "aes128gcm16, aes256gcm16, chacha20poly1305, sha256%s)", tok,
				 ike ? ", prfsha256, prfsha384, modp2048, ecp256, ecp384, curve25519"
				     : "");
			return -EINVAL;
		}
	}
	if (!have_encr) {
		snprintf(why, whylen, "no encryption algorithm");
		return -EINVAL;
	}
	if (p->encr == MG_IKE_ENCR_AES_CBC && p->integ == 0) {
		snprintf(why, whylen, "AES-CBC needs an integrity algorithm (sha256)");
		return -EINVAL;
	}
	if (p->encr != MG_IKE_ENCR_AES_CBC && p->integ != 0) {
		snprintf(why, whylen, "an AEAD cipher takes no integrity algorithm");
		return -EINVAL;
	}
	if (ike) {
		if (p->prf == 0 && p->integ == MG_IKE_INTEG_HMAC_SHA2_256_128)
			p->prf = MG_IKE_PRF_HMAC_SHA2_256;
		if (p->prf == 0) {
			snprintf(why, whylen, "no PRF (prfsha256 or prfsha384)");
			return -EINVAL;
		}
		if (p->dh == 0) {
			snprintf(why, whylen, "no DH group (modp2048, ecp256, ecp384, curve25519)");
			return -EINVAL;
		}
	}
	return 0;
twice:
	snprintf(why, whylen, "two algorithms of one kind: offer them as two proposals");
	return -EINVAL;
}

void
mg_ike_proposal_format(const struct mg_ike_proposal *p, bool ike, char *buf, size_t n)
{
	const char *e = "?", *pr = "", *d = "";
	unsigned int i;

	for (i = 0; i < MG_ARRAY_SIZE(encrs); i++)
		if (encrs[i].encr == p->encr && encrs[i].bits == p->key_bits)
			e = encrs[i].name;
	for (i = 0; i < MG_ARRAY_SIZE(prfs); i++)
		if (prfs[i].id == p->prf)
			pr = prfs[i].name;
	for (i = 0; i < MG_ARRAY_SIZE(dhs); i++)
		if (dhs[i].id == p->dh && d[0] == '\0')
			d = dhs[i].name;
	snprintf(buf, n, "%s%s%s%s%s%s", e, p->integ ? "-sha256" : "", ike && pr[0] ? "-" : "",
		 ike ? pr : "", d[0] ? "-" : "", d);
}

int
mg_ike_proposal_esp_algo(const struct mg_ike_proposal *p)
{
	switch (p->encr) {
	case MG_IKE_ENCR_AES_GCM_16:
		return p->key_bits == 128 ? MG_ESP_AES_GCM_128 : MG_ESP_AES_GCM_256;
	case MG_IKE_ENCR_CHACHA20_POLY1305:
		return MG_ESP_CHACHA20_POLY1305;
	case MG_IKE_ENCR_AES_CBC:
		if (p->integ != MG_IKE_INTEG_HMAC_SHA2_256_128)
			return -1;
		return p->key_bits == 128 ? MG_ESP_AES_CBC_128_SHA256 : MG_ESP_AES_CBC_256_SHA256;
	default:
		return -1;
	}
}

int
mg_ike_id_parse(const char *s, struct mg_ike_id *id)
{
	size_t n = strlen(s);

	memset(id, 0, sizeof(*id));
	if (n == 0)
		return -EINVAL;
	if (inet_pton(AF_INET, s, id->data) == 1) {
		id->type = MG_IKE_ID_IPV4_ADDR;
		id->len = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, id->data) == 1) {
		id->type = MG_IKE_ID_IPV6_ADDR;
		id->len = 16;
		return 0;
	}
	if (strchr(s, '=') != NULL && strncmp(s, "keyid:", 6) != 0) {
		size_t len = 0;

		if (ike_dn_parse(s, id->data, MG_IKE_ID_MAX, &len) < 0) {
			memset(id, 0, sizeof(*id));
			return -EINVAL;
		}
		id->type = MG_IKE_ID_DER_ASN1_DN;
		id->len = (uint8_t)len;
		return 0;
	}
	if (strncmp(s, "keyid:", 6) == 0) {
		s += 6;
		n -= 6;
		id->type = MG_IKE_ID_KEY_ID;
	} else {
		id->type = strchr(s, '@') != NULL ? MG_IKE_ID_RFC822_ADDR : MG_IKE_ID_FQDN;
	}
	if (n == 0 || n > MG_IKE_ID_MAX) {
		memset(id, 0, sizeof(*id));
		return -EINVAL;
	}
	memcpy(id->data, s, n);
	id->len = (uint8_t)n;
	return 0;
}

void
mg_ike_id_format(const struct mg_ike_id *id, char *buf, size_t n)
{
	switch (id->type) {
	case MG_IKE_ID_IPV4_ADDR:
		inet_ntop(AF_INET, id->data, buf, (socklen_t)n);
		break;
	case MG_IKE_ID_IPV6_ADDR:
		inet_ntop(AF_INET6, id->data, buf, (socklen_t)n);
		break;
	case MG_IKE_ID_DER_ASN1_DN:
		ike_dn_format(id->data, id->len, buf, n);
		break;
	case MG_IKE_ID_FQDN:
	case MG_IKE_ID_RFC822_ADDR:
	case MG_IKE_ID_KEY_ID: {
		char tmp[MG_IKE_ID_MAX + 1];

		/* Shown, never trusted: anything unprintable becomes '?'. */
		for (unsigned int i = 0; i < id->len; i++)
			tmp[i] = id->data[i] >= 0x20 && id->data[i] < 0x7f ? (char)id->data[i] : '?';
		tmp[id->len] = '\0';
		snprintf(buf, n, "%s%s", id->type == MG_IKE_ID_KEY_ID ? "keyid:" : "", tmp);
		break;
	}
	default:
		snprintf(buf, n, "%s", id->type == 0 ? "" : "(unsupported type)");
	}
}

int
mg_ike_peer_conf_check(const struct mg_ike_peer_conf *c, struct mg_error *err)
{
	if (c->auth == MG_IKE_AUTH_PUBKEY) {
		struct ike_creds cr;
		int rc = ike_creds_load(c, &cr, err);

		ike_creds_free(&cr);
		if (rc < 0)
			return rc;
		if (c->psk_len != 0)
			return mg_error_set(err, EINVAL, "psk", "give a pre-shared key or "
					    "certificates, not both");
	} else if (c->auth != MG_IKE_AUTH_PSK) {
		return mg_error_set(err, EINVAL, "auth", "psk or pubkey");
	} else if (c->psk_len == 0) {
		return mg_error_set(err, EINVAL, "psk", "a pre-shared key is needed");
	} else if (c->psk_len < 16) {
		return mg_error_set(err, EINVAL, "psk", "too short: at least 16 bytes");
	}
	if (c->nike == 0)
		return mg_error_set(err, EINVAL, "proposals", "at least one IKE proposal is needed");
	if (c->nesp == 0)
		return mg_error_set(err, EINVAL, "esp_proposals",
				    "at least one ESP proposal is needed");
	for (unsigned int i = 0; i < c->nesp; i++)
		if (mg_ike_proposal_esp_algo(&c->esp[i]) < 0)
			return mg_error_set(err, EINVAL, "esp_proposals", "proposal %u has no ESP "
					    "algorithm in the data path", i);
	if (c->nlocal_ts == 0 || c->nremote_ts == 0)
		return mg_error_set(err, EINVAL, c->nlocal_ts == 0 ? "local_ts" : "remote_ts",
				    "at least one traffic selector is needed");
	for (unsigned int i = 0; i < c->nlocal_ts; i++)
		if (c->local_ts[i].addr.family != c->local_ts[0].addr.family)
			return mg_error_set(err, EINVAL, "local_ts",
					    "one address family per tunnel for now");
	for (unsigned int i = 0; i < c->nremote_ts; i++)
		if (c->remote_ts[i].addr.family != c->local_ts[0].addr.family)
			return mg_error_set(err, EINVAL, "remote_ts",
					    "must be of local_ts's address family");
	if (c->local.family == 0 || c->remote.family != c->local.family)
		return mg_error_set(err, EINVAL, "", "local and remote addresses of one family");
	if (c->child_lifetime_s && c->child_lifetime_s < 10)
		return mg_error_set(err, EINVAL, "child_lifetime", "at least 10 seconds");
	if (c->ike_lifetime_s && c->ike_lifetime_s < 10)
		return mg_error_set(err, EINVAL, "lifetime", "at least 10 seconds");
	return 0;
}

const char *
mg_ike_reason_name(enum mg_ike_reason r)
{
	static const char *const n[] = {
		[MG_IKE_OK] = "ok",
		[MG_IKE_R_TIMEOUT] = "timeout",
		[MG_IKE_R_NO_PROPOSAL] = "no-proposal-chosen",
		[MG_IKE_R_AUTH_FAILED] = "authentication-failed",
		[MG_IKE_R_TS_UNACCEPTABLE] = "ts-unacceptable",
		[MG_IKE_R_INVALID_KE] = "invalid-ke-payload",
		[MG_IKE_R_DELETED] = "deleted-by-peer",
		[MG_IKE_R_DEAD_PEER] = "dead-peer",
		[MG_IKE_R_REKEYED] = "rekeyed",
		[MG_IKE_R_PROTOCOL] = "protocol-error",
		[MG_IKE_R_INSTALL] = "install-failed",
	};

	return (unsigned int)r < MG_ARRAY_SIZE(n) && n[r] ? n[r] : "?";
}

const char *
mg_ike_event_name(enum mg_ike_event ev)
{
	static const char *const n[] = {
		[MG_IKE_EV_ESTABLISHED] = "established",
		[MG_IKE_EV_REKEYED] = "rekeyed",
		[MG_IKE_EV_CHILD_REKEYED] = "child-rekeyed",
		[MG_IKE_EV_DELETED] = "deleted",
		[MG_IKE_EV_FAILED] = "failed",
	};

	return (unsigned int)ev < MG_ARRAY_SIZE(n) && n[ev] ? n[ev] : "?";
}

const char *
mg_ike_state_name(enum mg_ike_state s)
{
	static const char *const n[] = {
		[MG_IKE_ST_IDLE] = "idle",
		[MG_IKE_ST_INIT_SENT] = "init-sent",
		[MG_IKE_ST_AUTH_SENT] = "auth-sent",
		[MG_IKE_ST_INIT_DONE] = "init-done",
		[MG_IKE_ST_ESTABLISHED] = "established",
		[MG_IKE_ST_FAILED] = "failed",
	};

	return (unsigned int)s < MG_ARRAY_SIZE(n) && n[s] ? n[s] : "?";
}
