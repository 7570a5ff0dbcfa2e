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

static int
nargs(const struct ctl_cmd *self, int argc, char **argv, int min, int max, const char *first)
{
	if (argc < min)
		return ctl_usage_err(self, "missing %s", first);
	if (argc > max)
		return ctl_usage_err(self, "unexpected argument '%s'", argv[max]);
	return CTL_EXIT_OK;
}

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
	char path[512], esc[256];
	json_t *res;
	int rc = nargs(self, argc, argv, 0, 1, "NAME");

	if (rc != CTL_EXIT_OK)
		return rc;
	if (argc == 1) {
		http_escape(argv[0], esc, sizeof(esc));
		snprintf(path, sizeof(path), "/v1/vxlan/%s", esc);
	} else {
		snprintf(path, sizeof(path), "/v1/vxlan");
	}
	rc = ctl_rest_json(c, "GET", path, NULL, &res);
	if (rc != CTL_EXIT_OK)
		return rc;
	if (c->json)
		out_json(res);
	else
		print_tunnels(res);
	json_decref(res);
	return CTL_EXIT_OK;
}

/* vxlan add FILE|- */
static int
cmd_vxlan_add(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	json_t *j, *res = NULL;
	int rc = nargs(self, argc, argv, 1, 1, "FILE (a JSON tunnel, or - for standard input)");

	if (rc != CTL_EXIT_OK)
		return rc;
	if ((j = ctl_load_json(self, argv[0])) == NULL)
		return CTL_EXIT_USAGE;
	rc = ctl_rest_json(c, "POST", "/v1/vxlan", j, &res);
	json_decref(j);
	if (rc == CTL_EXIT_OK && res != NULL) {
		if (c->json)
			out_json(res);
		else
			print_tunnels(res);
	}
	json_decref(res);
	return rc;
}

/* vxlan del NAME */
static int
cmd_vxlan_del(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[512], esc[256];
	struct http_resp r;
	int rc = nargs(self, argc, argv, 1, 1, "NAME");

	if (rc != CTL_EXIT_OK)
		return rc;
	http_escape(argv[0], esc, sizeof(esc));
	snprintf(path, sizeof(path), "/v1/vxlan/%s", esc);
	rc = ctl_rest(c, "DELETE", path, NULL, 0, &r);
	if (rc == CTL_EXIT_OK)
		http_resp_free(&r);
	return rc;
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
