/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Harness "ike": IKEv2 messages from the network, through lib/ike.
 *
 * Input: one byte of flags (bit 0: arrived on port 4500 with the non-ESP
 * marker; bit 1: from the responder peer's address instead of the
 * initiator peer's), then the UDP payload.
 *
 * The bytes go through the parser (every payload body inside the message,
 * SA/TS/notify bodies decoded) and into an engine with two peers (one
 * initiator, whose IKE_SA_INIT it answers to, one responder), whose timers
 * run between inputs. Checked: parsed payloads stay inside the input; the
 * engine never sends a message larger than MG_IKE_MAX_MSG nor installs a
 * CHILD_SA from garbage (no valid AUTH can be forged without the PSK).
 */
#include <string.h>

#include "fuzz.h"
#include "ike_priv.h"

static struct mg_ike *eng;
static uint64_t clock_ns = 1000000000000ull;
static unsigned int installs;

static int
f_send(void *arg, unsigned int peer, const struct mg_ike_dgram *d, const uint8_t *msg, size_t len)
{
	struct ike_msg m;

	(void)arg;
	(void)peer;
	(void)d;
	FZ_ASSERT(len <= MG_IKE_MAX_MSG, "sent %zu bytes", len);
	/* What we send parses. */
	FZ_ASSERT(ike_msg_parse(msg, len, &m) == 0, "sent an unparsable message (%zu bytes)", len);
	return 0;
}

static int
f_child_up(void *arg, unsigned int peer, const struct mg_ike_child_keys *k)
{
	(void)arg;
	(void)peer;
	(void)k;
	installs++;
	return 0;
}

static void
peer(struct mg_ike_peer_conf *c, bool initiator, const char *local, const char *remote)
{
	char why[128];

	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), initiator ? "tun-i" : "tun-r");
	c->initiator = initiator;
	mg_ip_parse(local, &c->local);
	mg_ip_parse(remote, &c->remote);
	memcpy(c->psk, "fuzzing-pre-shared-key", 22);
	c->psk_len = 22;
	mg_ike_proposal_parse("aes128gcm16-prfsha256-ecp256", true, &c->ike[c->nike++], why, 128);
	mg_ike_proposal_parse("aes256-sha256-modp2048", true, &c->ike[c->nike++], why, 128);
	mg_ike_proposal_parse("aes128gcm16", false, &c->esp[c->nesp++], why, 128);
	mg_ike_proposal_parse("aes256-sha256", false, &c->esp[c->nesp++], why, 128);
	mg_prefix_parse("10.1.0.0/16", &c->local_ts[c->nlocal_ts++]);
	mg_prefix_parse("10.2.0.0/16", &c->remote_ts[c->nremote_ts++]);
	c->dpd_s = 5;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct mg_ike_ops ops = {.send = f_send, .child_up = f_child_up};
	struct mg_ike_peer_conf c;
	struct mg_error err;

	(void)argc;
	(void)argv;
	fz_quiet_logs();
	eng = mg_ike_create(&ops);
	FZ_SETUP(eng != NULL, "engine");
	peer(&c, false, "192.0.2.1", "192.0.2.2");
	FZ_SETUP(mg_ike_peer_add(eng, &c, &err) >= 0, "peer: %s", err.msg);
	peer(&c, true, "192.0.2.1", "192.0.2.3");
	FZ_SETUP(mg_ike_peer_add(eng, &c, &err) >= 0, "peer: %s", err.msg);
	mg_ike_set_cookie_rate(eng, 1000000);
	mg_ike_tick(eng, clock_ns); /* the initiator peer sends its IKE_SA_INIT */
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mg_ike_dgram d;
	struct ike_msg m;

	if (size < 1 || size > MG_IKE_MAX_MSG + 1)
		return 0;
	memset(&d, 0, sizeof(d));
	mg_ip_parse(data[0] & 2 ? "192.0.2.3" : "192.0.2.2", &d.src);
	mg_ip_parse("192.0.2.1", &d.dst);
	d.marker = data[0] & 1;
	d.sport = d.dport = d.marker ? MG_IKE_NATT_PORT : MG_IKE_PORT;
	data++;
	size--;
	if (ike_msg_parse(data, size, &m) == 0) {
		for (unsigned int i = 0; i < m.npl; i++) {
			const struct ike_pl *p = &m.pl[i];

			FZ_ASSERT(p->body >= data && p->body + p->len <= data + size,
				  "payload %u outside the message", i);
			if (p->type == IKE_PL_SA) {
				struct ike_prop_in in[8];
				unsigned int n;

				(void)ike_sa_decode(p->body, p->len, in, 8, &n);
			} else if (p->type == IKE_PL_TSI || p->type == IKE_PL_TSR) {
				struct ike_ts ts[8];
				unsigned int n;

				(void)ike_ts_decode(p->body, p->len, ts, 8, &n);
			} else if (p->type == IKE_PL_NOTIFY) {
				struct ike_notify_pl nt;

				if (ike_notify_decode(p, &nt) == 0)
					FZ_ASSERT(nt.data + nt.data_len <= data + size, "notify data");
			}
		}
	}
	mg_ike_input(eng, &d, data, size, clock_ns);
	clock_ns += 250000000ull;
	mg_ike_tick(eng, clock_ns);
	FZ_ASSERT(installs == 0, "a CHILD_SA installed from fuzzed input");
	return 0;
}
