/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The `ike:` block of an ESP tunnel in the YAML file: a good block becomes
 * an IKE peer in the settings (defaults filled in); every mistake names
 * FILE:LINE:COLUMN and the field; the PSK never appears in a message and
 * is wiped from the parsed document.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <unistd.h>

#include "mg_config.h"
#include "mg_ike.h"
#include "mg_model.h"
#include "mg_test.h"

struct loaded {
	struct mg_settings st;
	struct mg_model *m;
	struct mg_config_errors errs;
	unsigned int n;
};

static void
load(struct loaded *l, const char *yaml)
{
	struct mg_model_limits lim = {.routes = 1000, .neighbors = 1000};

	memset(l, 0, sizeof(*l));
	mg_settings_init(&l->st);
	l->m = mg_model_create(&lim);
	l->n = mg_config_load_string("t.yaml", yaml, strlen(yaml), &l->st, l->m, &l->errs);
}

static void
unload(struct loaded *l)
{
	mg_model_destroy(l->m);
	mg_settings_free(&l->st);
	mg_config_errors_free(&l->errs);
}

#define PSK "an-ike-pre-shared-key-0123456789"
#define BASE                                                                              \
	"networks:\n  - name: default\n  - name: up\n"                                    \
	"ports:\n  - {name: p0, device: net_null0, ipv4: [10.0.0.1/24]}\n"                \
	"  - {name: p1, device: net_null1, network: up, ipv4: [192.0.2.1/24]}\n"          \
	"esp_tunnels:\n  - name: tun0\n    underlay: up\n    local: 192.0.2.1\n"           \
	"    remote: 192.0.2.2\n    udp_encap: true\n    ike:\n"
/* Line 14 of the file is the first line of the ike block. */

MG_TEST(ike_block_loads_with_defaults)
{
	struct loaded l;
	const struct mg_ike_peer_conf *p;
	char buf[64];

	load(&l, BASE "      role: responder\n      psk: \"" PSK "\"\n"
		      "      remote_id: peer.example\n"
		      "      local_ts: [10.0.0.0/24]\n      remote_ts: [10.99.0.0/24, 10.98.0.0/24]\n"
		      "      child_lifetime: 600\n");
	for (unsigned int k = 0; k < l.n; k++)
		MG_FAIL("unexpected error: %s", l.errs.msgs[k]);
	CHECK_EQ(l.st.nike_peers, 1);
	if (l.st.nike_peers == 1) {
		p = &l.st.ike_peers[0];
		CHECK_STR(p->name, "tun0");
		CHECK(!p->initiator);
		CHECK(p->udp_encap);
		CHECK_EQ(p->psk_len, strlen(PSK));
		CHECK(memcmp(p->psk, PSK, p->psk_len) == 0);
		CHECK_EQ(p->remote_id.type, MG_IKE_ID_FQDN);
		CHECK_EQ(p->local_id.type, 0); /* default: the local address */
		CHECK_EQ(p->nike, 3);
		mg_ike_proposal_format(&p->ike[0], true, buf, sizeof(buf));
		CHECK_STR(buf, "aes128gcm16-prfsha256-ecp256");
		CHECK_EQ(p->nesp, 3);
		CHECK_EQ(p->nremote_ts, 2);
		CHECK_EQ(p->child_lifetime_s, 600);
		CHECK_EQ(p->dpd_s, 30);
	}
	unload(&l);
}

MG_TEST(ike_errors_name_the_line)
{
	struct loaded l;

	load(&l, BASE "      role: both\n      psk: \"" PSK "\"\n"
		      "      proposals: [aes128gcm16-prfsha256-modp1024]\n"
		      "      esp_proposals: []\n"
		      "      local_ts: [10.0.0.0/24]\n      remote_ts: [nowhere]\n      dpd: -1\n");
	CHECK_EQ(l.n, 5);
	if (l.n == 5) {
		CHECK_STR(l.errs.msgs[0], "t.yaml:14:13: esp_tunnels[0].ike.role: 'both' is not one "
					  "of: initiator, responder");
		CHECK(strstr(l.errs.msgs[1], "t.yaml:16:19: esp_tunnels[0].ike.proposals[0]: "
				 "'aes128gcm16-prfsha256-modp1024': 'modp1024' is not a known") ==
		      l.errs.msgs[1]);
		CHECK_STR(l.errs.msgs[2], "t.yaml:17:22: esp_tunnels[0].ike.esp_proposals: at "
					  "least one proposal is needed");
		CHECK_STR(l.errs.msgs[3], "t.yaml:19:19: esp_tunnels[0].ike.remote_ts[0]: "
					  "'nowhere' is not a prefix (like 10.1.0.0/16)");
		CHECK(strstr(l.errs.msgs[4], "t.yaml:20:12: esp_tunnels[0].ike.dpd") ==
		      l.errs.msgs[4]);
	}
	for (unsigned int k = 0; k < l.n; k++)
		CHECK(strstr(l.errs.msgs[k], PSK) == NULL);
	CHECK_EQ(l.st.nike_peers, 0);
	unload(&l);
}

MG_TEST(ike_psk_never_in_messages)
{
	struct loaded l;
	char longpsk[200];

	/* Too short: refused, not quoted. */
	load(&l, BASE "      role: initiator\n      psk: \"short-secret\"\n"
		      "      local_ts: [10.0.0.0/24]\n      remote_ts: [10.99.0.0/24]\n");
	CHECK_EQ(l.n, 1);
	if (l.n == 1) {
		CHECK_STR(l.errs.msgs[0], "t.yaml:15:12: esp_tunnels[0].ike.psk: too short: at "
					  "least 16 bytes");
	}
	unload(&l);
	/* Too long: refused, not quoted. */
	memset(longpsk, 'k', sizeof(longpsk) - 1);
	longpsk[sizeof(longpsk) - 1] = '\0';
	{
		char yaml[2048];

		snprintf(yaml, sizeof(yaml), BASE "      role: initiator\n      psk: \"%s\"\n"
			 "      local_ts: [10.0.0.0/24]\n      remote_ts: [10.99.0.0/24]\n", longpsk);
		load(&l, yaml);
		CHECK_EQ(l.n, 1);
		if (l.n == 1) {
			CHECK(strstr(l.errs.msgs[0], "esp_tunnels[0].ike.psk: longer than 128") != NULL);
			CHECK(strstr(l.errs.msgs[0], "kkkkkkkk") == NULL);
		}
		unload(&l);
	}
	/* Missing: said so. */
	load(&l, BASE "      role: initiator\n"
		      "      local_ts: [10.0.0.0/24]\n      remote_ts: [10.99.0.0/24]\n");
	CHECK_EQ(l.n, 1);
	if (l.n == 1)
		CHECK_STR(l.errs.msgs[0], "t.yaml:14:7: esp_tunnels[0].ike: a pre-shared key (psk "
					  "or psk_file) or a key and certificates (key, cert, ca or "
					  "peer_cert) are needed");
	unload(&l);
}

MG_TEST(ike_psk_file)
{
	struct loaded l;
	char path[] = "/tmp/ik_pskXXXXXX", yaml[2048];
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	CHECK(f != NULL);
	if (f == NULL)
		return;
	fputs(PSK "\n", f);
	fclose(f);
	snprintf(yaml, sizeof(yaml), BASE "      role: initiator\n      psk_file: %s\n"
		 "      local_ts: [10.0.0.0/24]\n      remote_ts: [10.99.0.0/24]\n", path);
	load(&l, yaml);
	CHECK_EQ(l.n, 0);
	CHECK_EQ(l.st.nike_peers, 1);
	if (l.st.nike_peers == 1) {
		CHECK_EQ(l.st.ike_peers[0].psk_len, strlen(PSK)); /* the newline is not part of it */
		CHECK(memcmp(l.st.ike_peers[0].psk, PSK, strlen(PSK)) == 0);
	}
	unload(&l);
	unlink(path);
	snprintf(yaml, sizeof(yaml), BASE "      role: initiator\n      psk_file: %s\n"
		 "      local_ts: [10.0.0.0/24]\n      remote_ts: [10.99.0.0/24]\n", path);
	load(&l, yaml);
	CHECK_EQ(l.n, 1);
	if (l.n == 1)
		CHECK(strstr(l.errs.msgs[0], "esp_tunnels[0].ike.psk_file: cannot read") != NULL);
	unload(&l);
}

MG_TEST(ike_pubkey_errors)
{
	struct loaded l;

	/* A key file that is not there: named, with the field. */
	load(&l, BASE "      role: initiator\n      key: /nonexistent/ik.key\n"
		      "      ca: /nonexistent/ca.pem\n"
		      "      local_ts: [10.0.0.0/24]\n      remote_ts: [10.99.0.0/24]\n");
	CHECK_EQ(l.n, 1);
	if (l.n == 1)
		CHECK(strstr(l.errs.msgs[0], "t.yaml:15:12: esp_tunnels[0].ike.key: cannot read "
				 "'/nonexistent/ik.key'") != NULL);
	unload(&l);
	/* A certificate without our key. */
	load(&l, BASE "      role: initiator\n      cert: /x/c.pem\n      ca: /x/ca.pem\n"
		      "      local_ts: [10.0.0.0/24]\n      remote_ts: [10.99.0.0/24]\n");
	CHECK_EQ(l.n, 1);
	if (l.n == 1)
		CHECK(strstr(l.errs.msgs[0], "esp_tunnels[0].ike: 'key' is needed") != NULL);
	unload(&l);
	/* A key given as PEM text is never quoted, and both a PSK and a key are refused. */
	load(&l, BASE "      role: initiator\n      key: \"-----BEGIN PRIVATE KEY-----secretstuff\"\n"
		      "      psk: \"" PSK "\"\n      ca: /x/ca.pem\n"
		      "      local_ts: [10.0.0.0/24]\n      remote_ts: [10.99.0.0/24]\n");
	CHECK(l.n >= 1);
	for (unsigned int k = 0; k < l.n; k++) {
		CHECK(strstr(l.errs.msgs[k], "secretstuff") == NULL);
		CHECK(strstr(l.errs.msgs[k], PSK) == NULL);
	}
	if (l.n >= 1)
		CHECK(strstr(l.errs.msgs[0], "not both") != NULL);
	unload(&l);
}

MG_TEST_MAIN()
