/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPsec ESP tunnels over REST (/v1/esp-tunnels): `esp show` reads like
 * `ip xfrm state` (one line per SA with its counters; keys are never shown,
 * the gateway does not return them), `esp add/rekey` take a JSON file so
 * keys stay off the command line (and out of shell history and ps).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static void
print_tunnel(json_t *t)
{
	static const char *const h[] = {"spi", "dir", "inner", "algorithm", "state", ">packets",
					">bytes", ">replay", ">auth-fail", ">other"};
	struct table *tb = table_new(10, h);
	char b[10][64];
	json_t *sa, *ev = json_object_get(t, "events");
	size_t i;

	printf("%s: %s -> %s in network %s (underlay %s), mtu %s, rekeys %s, events soft %s "
	       "hard %s retired %s\n",
	       json_string_value(json_object_get(t, "name")),
	       out_scalar(json_object_get(t, "local"), b[0], sizeof(b[0])),
	       out_scalar(json_object_get(t, "remote"), b[1], sizeof(b[1])),
	       out_scalar(json_object_get(t, "network"), b[2], sizeof(b[2])),
	       out_scalar(json_object_get(t, "underlay"), b[3], sizeof(b[3])),
	       out_scalar(json_object_get(t, "mtu"), b[4], sizeof(b[4])),
	       out_scalar(json_object_get(t, "rekeys"), b[5], sizeof(b[5])),
	       out_scalar(json_object_get(ev, "soft"), b[6], sizeof(b[6])),
	       out_scalar(json_object_get(ev, "hard"), b[7], sizeof(b[7])),
	       out_scalar(json_object_get(ev, "retired"), b[8], sizeof(b[8])));
	json_array_foreach(json_object_get(t, "sas"), i, sa) {
		json_t *st = json_object_get(sa, "stats");
		const char *row[10];

		snprintf(b[0], sizeof(b[0]), "0x%08llx",
			 (unsigned long long)json_integer_value(json_object_get(sa, "spi")));
		row[0] = b[0];
		row[1] = out_scalar(json_object_get(sa, "dir"), b[1], sizeof(b[1]));
		row[2] = out_scalar(json_object_get(sa, "inner"), b[2], sizeof(b[2]));
		row[3] = out_scalar(json_object_get(sa, "algo"), b[3], sizeof(b[3]));
		row[4] = out_scalar(json_object_get(sa, "state"), b[4], sizeof(b[4]));
		row[5] = out_scalar(json_object_get(st, "packets"), b[5], sizeof(b[5]));
		row[6] = out_scalar(json_object_get(st, "bytes"), b[6], sizeof(b[6]));
		row[7] = out_scalar(json_object_get(st, "replay"), b[7], sizeof(b[7]));
		row[8] = out_scalar(json_object_get(st, "auth"), b[8], sizeof(b[8]));
		row[9] = out_scalar(json_object_get(st, "other"), b[9], sizeof(b[9]));
		table_row(tb, row);
	}
	table_print(tb);
}

static void
print_tunnels(json_t *res)
{
	json_t *t;
	size_t i;

	if (json_is_array(res))
		json_array_foreach(res, i, t)
			print_tunnel(t);
	else
		print_tunnel(res);
}

/* esp show [NAME] */
static int
cmd_esp_show(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[512];
	int rc = ctl_nargs(self, argc, argv, 0, 1, "NAME");

	if (rc != CTL_EXIT_OK)
		return rc;
	ctl_path(path, sizeof(path), "/v1/esp-tunnels", argc ? argv[0] : NULL, NULL);
	return ctl_call(c, "GET", path, print_tunnels);
}

/* esp add FILE|-  /  esp rekey NAME FILE|-  /  esp del NAME */
static int
cmd_esp_add(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	int rc = ctl_nargs(self, argc, argv, 1, 1, "FILE (a JSON tunnel, or - for standard input)");

	return rc ? rc : ctl_send_file(c, self, "POST", "/v1/esp-tunnels", argv[0], print_tunnel);
}

static int
cmd_esp_rekey(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[512];
	int rc = ctl_nargs(self, argc, argv, 2, 2, argc < 1 ? "NAME" : "FILE");

	if (rc != CTL_EXIT_OK)
		return rc;
	ctl_path(path, sizeof(path), "/v1/esp-tunnels", argv[0], "/sas");
	return ctl_send_file(c, self, "PUT", path, argv[1], print_tunnel);
}

static int
cmd_esp_del(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[512];
	int rc = ctl_nargs(self, argc, argv, 1, 1, "NAME");

	if (rc != CTL_EXIT_OK)
		return rc;
	return ctl_call(c, "DELETE", ctl_path(path, sizeof(path), "/v1/esp-tunnels", argv[0], NULL),
			NULL);
}

static const struct ctl_cmd cmds[] = {
	{"esp", "show", cmd_esp_show, "[NAME]",
	 "ESP tunnels and their SAs with counters (like ip xfrm state; no keys)"},
	{"esp", "add", cmd_esp_add, "FILE|-", "add an ESP tunnel from a JSON file (keys stay off argv)"},
	{"esp", "rekey", cmd_esp_rekey, "NAME FILE|-",
	 "replace SAs ({\"sas\": [...]}) without loss"},
	{"esp", "del", cmd_esp_del, "NAME", "delete an ESP tunnel"},
	{"esp", "delete", cmd_esp_del, "NAME", NULL},
	{NULL, NULL, NULL, NULL, NULL, 0},
};

const struct ctl_cmd *
ctl_esp_cmds(void)
{
	return cmds;
}
