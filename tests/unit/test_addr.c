/* SPDX-License-Identifier: BSD-3-Clause */
/* Addresses, prefixes and MACs: strict parsing, formatting, containment. */
#include "mg_addr.h"
#include "mg_test.h"

static const char *
fmtp(const char *in)
{
	static char out[MG_PREFIX_STRLEN];
	struct mg_prefix p;

	if (mg_prefix_parse(in, &p) < 0)
		return "ERR";
	return mg_prefix_fmt(&p, out, sizeof(out));
}

MG_TEST(prefix_parse_valid)
{
	CHECK_STR(fmtp("10.0.0.0/8"), "10.0.0.0/8");
	CHECK_STR(fmtp("10.1.2.3"), "10.1.2.3/32");
	CHECK_STR(fmtp("0.0.0.0/0"), "0.0.0.0/0");
	CHECK_STR(fmtp("fd00::1/64"), "fd00::1/64");
	CHECK_STR(fmtp("::/0"), "::/0");
	CHECK_STR(fmtp("2001:DB8::1"), "2001:db8::1/128");
}

MG_TEST(prefix_parse_invalid)
{
	const char *bad[] = {"", "10.0.0.0/33", "10.0.0/8", "10.0.0.0/", "10.0.0.0/-1",
			     "10.0.0.0/8x", "fd00::/129", "256.1.1.1", "1.2.3.4.5", "a.b.c.d",
			     "10.0.0.0 /8", "/8", "fd00::/+8", "::ffff:1.2.3.4.5", NULL};

	for (int i = 0; bad[i]; i++) {
		struct mg_prefix p;

		if (mg_prefix_parse(bad[i], &p) == 0)
			MG_FAIL("'%s' parsed", bad[i]);
	}
}

MG_TEST(mac_parse)
{
	struct mg_mac m;
	char b[MG_MAC_STRLEN];

	CHECK_EQ(mg_mac_parse("02:00:AB:cd:0e:FF", &m), 0);
	CHECK_STR(mg_mac_fmt(&m, b, sizeof(b)), "02:00:ab:cd:0e:ff");
	CHECK(mg_mac_parse("02:00:ab:cd:0e", &m) < 0);
	CHECK(mg_mac_parse("02:00:ab:cd:0e:ff:11", &m) < 0);
	CHECK(mg_mac_parse("02-00-ab-cd-0e-ff", &m) < 0);
	CHECK(mg_mac_parse("02:00:ab:cd:0e:+f", &m) < 0);
	CHECK(mg_mac_parse("g2:00:ab:cd:0e:ff", &m) < 0);
}

MG_TEST(prefix_contains_and_overlap)
{
	struct mg_prefix a, b;
	struct mg_ip ip;

	mg_prefix_parse("10.1.0.0/16", &a);
	mg_ip_parse("10.1.255.255", &ip);
	CHECK(mg_prefix_contains(&a, &ip));
	mg_ip_parse("10.2.0.0", &ip);
	CHECK(!mg_prefix_contains(&a, &ip));
	mg_ip_parse("fd00::1", &ip);
	CHECK(!mg_prefix_contains(&a, &ip));
	mg_prefix_parse("10.1.128.0/17", &b);
	CHECK(mg_prefix_overlap(&a, &b));
	mg_prefix_parse("10.0.0.0/16", &b);
	CHECK(!mg_prefix_overlap(&a, &b));
	mg_prefix_parse("fd00:1::/48", &a);
	mg_prefix_parse("fd00:1:0:5::/64", &b);
	CHECK(mg_prefix_overlap(&a, &b));
	mg_ip_parse("fd00:1:0:ffff::9", &ip);
	CHECK(mg_prefix_contains(&a, &ip));
}

MG_TEST(prefix_mask_and_host_bits)
{
	struct mg_prefix p;
	char b[MG_PREFIX_STRLEN];

	mg_prefix_parse("10.1.2.3/20", &p);
	CHECK(mg_prefix_host_bits_set(&p));
	mg_prefix_mask(&p);
	CHECK_STR(mg_prefix_fmt(&p, b, sizeof(b)), "10.1.0.0/20");
	CHECK(!mg_prefix_host_bits_set(&p));
	mg_prefix_parse("fd00:1:2:3:4::1/63", &p);
	mg_prefix_mask(&p);
	CHECK_STR(mg_prefix_fmt(&p, b, sizeof(b)), "fd00:1:2:2::/63");
}

MG_TEST(address_classes)
{
	struct mg_ip ip;

	mg_ip_parse("224.0.0.5", &ip);
	CHECK(mg_ip_is_multicast(&ip));
	mg_ip_parse("127.0.0.1", &ip);
	CHECK(mg_ip_is_loopback(&ip));
	mg_ip_parse("255.255.255.255", &ip);
	CHECK(mg_ip_is_broadcast(&ip));
	mg_ip_parse("fe80::1", &ip);
	CHECK(mg_ip_is_link_local(&ip));
	mg_ip_parse("febf::1", &ip);
	CHECK(mg_ip_is_link_local(&ip));
	mg_ip_parse("fec0::1", &ip);
	CHECK(!mg_ip_is_link_local(&ip));
	mg_ip_parse("::", &ip);
	CHECK(mg_ip_is_unspecified(&ip));
}

MG_TEST(eui64_link_local)
{
	struct mg_mac m;
	struct mg_ip ip;
	char b[MG_IP_STRLEN];

	mg_mac_parse("02:6d:67:00:01:01", &m);
	mg_ip6_link_local_from_mac(&m, &ip);
	CHECK_STR(mg_ip_fmt(&ip, b, sizeof(b)), "fe80::6d:67ff:fe00:101");
}

MG_TEST_MAIN()
