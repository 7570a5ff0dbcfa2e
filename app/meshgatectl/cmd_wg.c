/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * meshgatectl wg: WireGuard interfaces, like wg(8).
 *   wg show [NAME]     what `wg show` prints (from GET /v1/wireguard)
 *   wg genkey          a private key (clamped Curve25519 scalar, base64)
 *   wg pubkey          the public key of the private key on standard input
 *   wg add FILE.json   create an interface (POST /v1/wireguard; "-": stdin)
 *   wg del NAME        delete one
 * Keys are made locally with OpenSSL, as `wg` does; private and preshared
 * keys are never printed by show (the gateway never sends them).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ctl.h"

#define KEY_LEN 32
#define KEY_B64 44


/* "1 minute, 5 seconds" as wg(8) prints durations. */
static void
print_ago(uint64_t secs)
{
	static const struct {
		const char *unit;
		uint64_t div;
	} u[] = {{"year", 365 * 24 * 3600ull}, {"day", 24 * 3600}, {"hour", 3600}, {"minute", 60},
		 {"second", 1}};
	bool first = true;

	if (secs == 0) {
		printf("Now");
		return;
	}
	for (unsigned int i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
		uint64_t n = secs / u[i].div;

		if (n == 0)
			continue;
		secs %= u[i].div;
		printf("%s%" PRIu64 " %s%s", first ? "" : ", ", n, u[i].unit, n == 1 ? "" : "s");
		first = false;
	}
	printf(" ago");
}

/* "1.23 KiB" as wg(8) prints byte counts. */
static void
print_bytes(uint64_t b)
{
	if (b < 1024)
		printf("%" PRIu64 " B", b);
	else if (b < 1024ull * 1024)
		printf("%.2f KiB", (double)b / 1024);
	else if (b < 1024ull * 1024 * 1024)
		printf("%.2f MiB", (double)b / (1024 * 1024));
	else if (b < 1024ull * 1024 * 1024 * 1024)
		printf("%.2f GiB", (double)b / (1024.0 * 1024 * 1024));
	else
		printf("%.2f TiB", (double)b / (1024.0 * 1024 * 1024 * 1024));
}

static uint64_t
jint(json_t *o, const char *k)
{
	json_int_t v = json_integer_value(json_object_get(o, k));

	return v > 0 ? (uint64_t)v : 0;
}

/* One interface in wg(8)'s layout. */
static void
print_iface(json_t *i, bool blank_before)
{
	json_t *peers = json_object_get(i, "peers"), *p;
	size_t k;
	char buf[1024];

	if (blank_before)
		printf("\n");
	printf("interface: %s\n", json_string_value(json_object_get(i, "name")));
	if (json_is_string(json_object_get(i, "public_key")))
		printf("  public key: %s\n", json_string_value(json_object_get(i, "public_key")));
	printf("  private key: (hidden)\n");
	printf("  listening port: %" PRIu64 "\n", jint(i, "listen_port"));
	json_array_foreach(peers, k, p) {
		uint64_t hs = jint(p, "latest_handshake"), now = (uint64_t)time(NULL);

		printf("\npeer: %s\n", json_string_value(json_object_get(p, "public_key")));
		if (json_is_true(json_object_get(p, "preshared_key_set")))
			printf("  preshared key: (hidden)\n");
		if (json_is_string(json_object_get(p, "endpoint")))
			printf("  endpoint: %s\n", json_string_value(json_object_get(p, "endpoint")));
		printf("  allowed ips: %s\n",
		       json_array_size(json_object_get(p, "allowed_ips"))
			       ? out_join(json_object_get(p, "allowed_ips"), ", ", buf, sizeof(buf))
			       : "(none)");
		if (hs != 0) {
			printf("  latest handshake: ");
			print_ago(now > hs ? now - hs : 0);
			printf("\n");
		}
		if (jint(p, "rx_bytes") || jint(p, "tx_bytes")) {
			printf("  transfer: ");
			print_bytes(jint(p, "rx_bytes"));
			printf(" received, ");
			print_bytes(jint(p, "tx_bytes"));
			printf(" sent\n");
		}
		if (jint(p, "persistent_keepalive"))
			printf("  persistent keepalive: every %" PRIu64 " seconds\n",
			       jint(p, "persistent_keepalive"));
	}
}

static void
print_ifaces(json_t *j)
{
	json_t *i;
	size_t k;

	if (json_is_array(j))
		json_array_foreach(j, k, i)
			print_iface(i, k > 0);
	else
		print_iface(j, false);
}

/* wg show [NAME]. */
static int
cmd_wg_show(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[512];
	int rc = ctl_nargs(self, argc, argv, 0, 1, "NAME");

	return rc ? rc : ctl_call(c, "GET", ctl_path(path, sizeof(path), "/v1/wireguard",
						    argc ? argv[0] : NULL, NULL), print_ifaces);
}

/* wg add FILE.json: the body of POST /v1/wireguard. */
static int
cmd_wg_add(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	int rc = ctl_nargs(self, argc, argv, 1, 1, "FILE");

	return rc ? rc : ctl_send_file(c, self, "POST", "/v1/wireguard", argv[0], NULL);
}

/* wg del NAME. */
static int
cmd_wg_del(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[512];
	int rc = ctl_nargs(self, argc, argv, 1, 1, "NAME");

	return rc ? rc : ctl_call(c, "DELETE", ctl_path(path, sizeof(path), "/v1/wireguard",
						       argv[0], NULL), NULL);
}

/* wg genkey: 32 random bytes clamped for Curve25519, in base64. */
static int
cmd_wg_genkey(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	unsigned char k[KEY_LEN], out[KEY_B64 + 1];

	(void)c;
	if (argc > 0)
		return ctl_usage_err(self, "unexpected argument '%s'", argv[0]);
	if (RAND_priv_bytes(k, sizeof(k)) != 1) {
		ctl_err("the random generator failed");
		return CTL_EXIT_REJECTED;
	}
	k[0] &= 248;
	k[31] = (k[31] & 127) | 64;
	EVP_EncodeBlock(out, k, KEY_LEN);
	printf("%s\n", out);
	mg_wipe(k, sizeof(k));
	mg_wipe(out, sizeof(out));
	return CTL_EXIT_OK;
}

/* wg pubkey: the public key of the private key read from standard input. */
static int
cmd_wg_pubkey(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char line[128];
	unsigned char k[KEY_LEN + 2], pub[KEY_LEN], out[KEY_B64 + 1];
	size_t plen = sizeof(pub);
	EVP_PKEY *pk = NULL;
	int rc = CTL_EXIT_USAGE, n;

	(void)c;
	if (argc > 0)
		return ctl_usage_err(self, "unexpected argument '%s'", argv[0]);
	if (fgets(line, sizeof(line), stdin) == NULL) {
		ctl_err("wg pubkey: no key on standard input");
		return CTL_EXIT_USAGE;
	}
	line[strcspn(line, " \t\r\n")] = '\0';
	/* EVP_DecodeBlock gives 33 bytes for 44 characters (the '=' counts as a zero byte). */
	n = strlen(line) == KEY_B64 && line[KEY_B64 - 1] == '='
		    ? EVP_DecodeBlock(k, (const unsigned char *)line, KEY_B64) : -1;
	if (n != KEY_LEN + 1) {
		ctl_err("wg pubkey: not a key (44 characters of base64 ending in '=')");
		goto out;
	}
	pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, k, KEY_LEN);
	if (pk == NULL || EVP_PKEY_get_raw_public_key(pk, pub, &plen) != 1 || plen != KEY_LEN) {
		ctl_err("wg pubkey: X25519 failed");
		rc = CTL_EXIT_REJECTED;
		goto out;
	}
	EVP_EncodeBlock(out, pub, KEY_LEN);
	printf("%s\n", out);
	rc = CTL_EXIT_OK;
out:
	EVP_PKEY_free(pk);
	mg_wipe(line, sizeof(line));
	mg_wipe(k, sizeof(k));
	return rc;
}

static const struct ctl_cmd cmds[] = {
	{"wg", "show", cmd_wg_show, "[NAME]", "WireGuard interfaces and peers, as `wg show`"},
	{"wg", "list", cmd_wg_show, "", NULL},
	{"wg", "add", cmd_wg_add, "FILE.json", "add a WireGuard interface (POST /v1/wireguard body)"},
	{"wg", "del", cmd_wg_del, "NAME", "delete a WireGuard interface"},
	{"wg", "delete", cmd_wg_del, "NAME", NULL},
	{"wg", "genkey", cmd_wg_genkey, "", "print a new private key (as `wg genkey`)"},
	{"wg", "pubkey", cmd_wg_pubkey, "", "public key of the private key on stdin (as `wg pubkey`)"},
	{NULL, NULL, NULL, NULL, NULL, 0},
};

const struct ctl_cmd *
ctl_wg_cmds(void)
{
	return cmds;
}
