/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * VXLAN tunnels over REST (/v1/vxlan): `vxlan show` prints one line per
 * tunnel with its VTEPs, VNI and counters; `vxlan add` takes a JSON file (or
 * -) like POST /v1/vxlan, `vxlan del` deletes one.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static const char *const head[] = {"name", ">vni", "local", "remote", ">port", "network",
				   "underlay", ">mtu", "mac", ">rx-packets", ">rx-bytes",
				   ">tx-packets", ">tx-bytes", ">tx-errors"};

static void
add_row(struct table *tb, json_t *t)
{
	static const char *const keys[] = {"name", "vni", "local", "remote", "port", "network",
					   "underlay", "mtu", "mac"};
	static const char *const ckeys[] = {"rx_packets", "rx_bytes", "tx_packets", "tx_bytes",
					    "tx_errors"};
	json_t *cnt = json_object_get(t, "counters");
	char b[14][64];
	const char *row[14];

	for (unsigned int i = 0; i < 9; i++)
		row[i] = out_scalar(json_object_get(t, keys[i]), b[i], sizeof(b[i]));
	for (unsigned int i = 0; i < 5; i++)
		row[9 + i] = out_scalar(json_object_get(cnt, ckeys[i]), b[9 + i], sizeof(b[9 + i]));
	table_row(tb, row);
}

static void
print_tunnels(json_t *res)
{
	struct table *tb = table_new(14, head);
	json_t *t;
	size_t i;

	if (json_is_array(res))
		json_array_foreach(res, i, t)
			add_row(tb, t);
	else
		add_row(tb, res);
	table_print(tb);
}

/* vxlan show [NAME] */
static int
cmd_vxlan_show(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[512];
	int rc = ctl_nargs(self, argc, argv, 0, 1, "NAME");

	if (rc != CTL_EXIT_OK)
		return rc;
	return ctl_call(c, "GET", ctl_path(path, sizeof(path), "/v1/vxlan", argc ? argv[0] : NULL,
					   NULL), print_tunnels);
}

/* vxlan add FILE|- */
static int
cmd_vxlan_add(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	int rc = ctl_nargs(self, argc, argv, 1, 1, "FILE (a JSON tunnel, or - for standard input)");

	return rc ? rc : ctl_send_file(c, self, "POST", "/v1/vxlan", argv[0], print_tunnels);
}

/* vxlan del NAME */
static int
cmd_vxlan_del(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[512];
	int rc = ctl_nargs(self, argc, argv, 1, 1, "NAME");

	if (rc != CTL_EXIT_OK)
		return rc;
	return ctl_call(c, "DELETE", ctl_path(path, sizeof(path), "/v1/vxlan", argv[0], NULL), NULL);
}

static const struct ctl_cmd cmds[] = {
	{"vxlan", "show", cmd_vxlan_show, "[NAME]",
	 "VXLAN tunnels: VNI, VTEPs, port, MTU, MAC and counters"},
	{"vxlan", "add", cmd_vxlan_add, "FILE|-", "add a VXLAN tunnel from a JSON file"},
	{"vxlan", "del", cmd_vxlan_del, "NAME", "delete a VXLAN tunnel"},
	{"vxlan", "delete", cmd_vxlan_del, "NAME", NULL},
	{NULL, NULL, NULL, NULL, NULL, 0},
};

const struct ctl_cmd *
ctl_vxlan_cmds(void)
{
	return cmds;
}
