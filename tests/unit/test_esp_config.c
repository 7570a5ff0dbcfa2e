/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ESP tunnels in the YAML file and the model: a good tunnel becomes an
 * interface routes can use; every mistake names FILE:LINE:COLUMN and the
 * field; keys never appear in a message; rekeying is all or nothing.
 */
#include <arpa/inet.h>

#include "mg_config.h"
#include "mg_esp_algos.h"
#include "mg_model.h"
#include "mg_config_test.h"

#define KEY16 "00112233445566778899aabbccddeeff"
#define BASE                                                                              \
	"networks:\n  - name: default\n  - name: up\n"                                    \
	"ports:\n  - {name: p0, device: net_null0, ipv4: [10.0.0.1/24]}\n"                \
	"  - {name: p1, device: net_null1, network: up, ipv4: [192.0.2.1/24]}\n"
#define TUN(sas)                                                                          \
	"esp_tunnels:\n  - name: tun0\n    underlay: up\n    local: 192.0.2.1\n"           \
	"    remote: 192.0.2.2\n    ipv4: [10.9.0.1/30]\n    sas:\n" sas
#define SA_OUT "      - {direction: out, inner: ipv4, spi: 0x1001, algorithm: aes-gcm-128, " \
	       "key: " KEY16 ", salt: deadbeef}\n"
#define SA_IN "      - {direction: in, inner: ipv4, spi: 0x1002, algorithm: aes-gcm-128, " \
	      "key: " KEY16 ", salt: deadbeef}\n"

MG_TEST(tunnel_loads_as_interface_routes_use)
{
	struct loaded l;
	const struct mg_esp_tunnel *t;
	const struct mg_iface *i;

	load(&l, BASE TUN(SA_OUT SA_IN) "routes:\n  - {prefix: 10.99.0.0/16, interface: tun0}\n");
	for (unsigned int k = 0; k < l.n; k++)
		MG_FAIL("unexpected error: %s", l.errs.msgs[k]);
	t = mg_model_esp_find(l.m, "tun0");
	i = mg_model_iface_find(l.m, "tun0");
	CHECK(t != NULL && i != NULL);
	if (t != NULL && i != NULL) {
		CHECK_EQ(i->kind, MG_IFACE_ESP);
		CHECK_EQ(t->iface, i->id);
		CHECK_EQ(t->spec.nsas, 2);
		CHECK_EQ(t->spec.sas[0].spi, 0x1001);
		CHECK_EQ(t->spec.sas[0].key_len, 16);
		CHECK_EQ(t->spec.sas[0].key[15], 0xff);
		CHECK_EQ(t->spec.sas[1].inbound, true);
		CHECK_EQ(t->underlay, mg_model_network_find(l.m, "up")->id);
		CHECK_EQ(t->network, mg_model_network_find(l.m, "default")->id);
		CHECK_EQ(i->naddr4, 1);
		CHECK(mg_model_esp_by_iface(l.m, i->id) == t);
	}
	CHECK_EQ(mg_model_route_count(l.m), 1);
	unload(&l);
}

MG_TEST(bad_key_length_names_line_and_hides_key)
{
	struct loaded l;

	load(&l, BASE TUN("      - {direction: out, inner: ipv4, spi: 4097, algorithm: aes-gcm-256, "
			  "key: " KEY16 ", salt: deadbeef}\n"));
	CHECK_EQ(l.n, 1);
	if (l.n == 1) {
		CHECK_STR(l.errs.msgs[0], "t.yaml:14:79: esp_tunnels[0].sas[0].key: this algorithm "
					  "takes a 32-byte key, not 16");
		CHECK(strstr(l.errs.msgs[0], "0011") == NULL);
	}
	unload(&l);
}

MG_TEST(bad_algorithm_and_spi)
{
	expect_error(BASE TUN("      - {direction: out, inner: ipv4, spi: 4097, algorithm: des}\n"),
		     "t.yaml:14:61: esp_tunnels[0].sas[0].algorithm: 'des' is not one of: "
		     MG_ESP_ALGO_LIST);
	expect_error(BASE TUN("      - {direction: out, inner: ipv4, spi: 7, algorithm: "
			      "aes-gcm-128, key: " KEY16 ", salt: deadbeef}\n"),
		     "t.yaml:14:44: esp_tunnels[0].sas[0].spi: 7 is out of range 256-4294967295");
	expect_error(BASE TUN("      - {direction: out, inner: ipv4, spi: 4097, algorithm: "
			      "aes-gcm-128, key: zz, salt: deadbeef}\n"),
		     "t.yaml:14:79: esp_tunnels[0].sas[0].key: expected hexadecimal bytes "
		     "(like 0x0011...)");
}

MG_TEST(bad_two_sas_same_direction_and_family)
{
	expect_error(BASE TUN(SA_OUT SA_OUT),
		     "t.yaml:15:9: esp_tunnels[0].sas[1]: a second outbound SA for inner ipv4 "
		     "(sas[0] is one)");
}

MG_TEST(bad_local_not_ours_and_families)
{
	expect_error(BASE "esp_tunnels:\n  - {name: t, underlay: up, local: 192.0.2.9, "
		     "remote: 192.0.2.2}\n",
		     "t.yaml:8:36: esp_tunnels[0].local: 192.0.2.9 is not an address of an "
		     "interface in network 'up'");
	expect_error(BASE "esp_tunnels:\n  - {name: t, underlay: up, local: 192.0.2.1, "
		     "remote: \"2001:db8::1\"}\n",
		     "t.yaml:8:55: esp_tunnels[0].remote: must be of local's family (IPv4)");
	expect_error(BASE "esp_tunnels:\n  - {name: p0, underlay: up, local: 192.0.2.1, "
		     "remote: 192.0.2.2}\n",
		     "t.yaml:8:12: esp_tunnels[0].name: an interface named 'p0' exists");
	expect_error(BASE "esp_tunnels:\n  - {name: t, underlay: nope, local: 192.0.2.1, "
		     "remote: 192.0.2.2}\n",
		     "t.yaml:8:25: esp_tunnels[0].underlay: no network named 'nope'");
}

MG_TEST(bad_inbound_spi_shared_between_tunnels)
{
	expect_error(BASE TUN(SA_IN) "  - name: tun1\n    underlay: up\n    local: 192.0.2.1\n"
		     "    remote: 192.0.2.3\n    sas:\n" SA_IN,
		     "t.yaml:20:43: esp_tunnels[1].sas[0].spi: inbound SPI 4098 is used by tunnel 'tun0'");
}

/* Rekey: all or nothing, keys of the replaced SA wiped from the model. */
MG_TEST(rekey_replaces_by_direction_and_family)
{
	struct loaded l;
	struct mg_esp_sa_conf n[2];
	struct mg_error e;
	const struct mg_esp_tunnel *t;

	load(&l, BASE TUN(SA_OUT SA_IN));
	CHECK_EQ(l.n, 0);
	t = mg_model_esp_find(l.m, "tun0");
	memcpy(n, t->spec.sas, sizeof(n));
	n[0].spi = 0x2001;
	memset(n[0].key, 0x77, 16);
	n[1].spi = 0x1001; /* an inbound SPI may equal an outbound one */
	n[1].key_len = 15; /* invalid: nothing changes */
	CHECK(mg_model_esp_rekey(l.m, "tun0", n, 2, &e) < 0);
	CHECK_STR(e.field, "sas[1].key");
	CHECK_EQ(t->spec.sas[0].spi, 0x1001);
	CHECK_EQ(t->rekeys, 0);
	n[1].key_len = 16;
	CHECK_EQ(mg_model_esp_rekey(l.m, "tun0", n, 2, &e), 0);
	CHECK_EQ(t->spec.nsas, 2);
	CHECK_EQ(t->spec.sas[0].spi, 0x2001);
	CHECK_EQ(t->spec.sas[0].key[0], 0x77);
	CHECK_EQ(t->spec.sas[1].spi, 0x1001);
	CHECK_EQ(t->rekeys, 1);
	/* Delete refused while a route uses it, then accepted. */
	{
		struct mg_route_spec r;

		memset(&r, 0, sizeof(r));
		mg_prefix_parse("10.50.0.0/16", &r.prefix);
		snprintf(r.iface, sizeof(r.iface), "tun0");
		CHECK_EQ(mg_model_route_add(l.m, &r, &e), 0);
		CHECK(mg_model_esp_del(l.m, "tun0", &e) < 0);
		CHECK_EQ(mg_model_route_del(l.m, "default", &r.prefix, &e), 0);
		CHECK_EQ(mg_model_esp_del(l.m, "tun0", &e), 0);
		CHECK(mg_model_esp_find(l.m, "tun0") == NULL);
		CHECK(mg_model_iface_find(l.m, "tun0") == NULL);
	}
	unload(&l);
}

MG_TEST_MAIN()
