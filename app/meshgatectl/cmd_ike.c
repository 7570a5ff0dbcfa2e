/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IKEv2 over REST (GET /v1/ike): `ike show` lists each tunnel's IKE SA and
 * CHILD_SA (state, peer, proposals, SPIs, time to re-authentication,
 * rekeys, last error). No PSK or key is ever returned by the gateway.
 * `ike set TUNNEL FILE|-` / `ike get TUNNEL` / `ike del TUNNEL` manage a
 * tunnel's peer (/v1/esp-tunnels/TUNNEL/ike); the settings come from a file
 * or standard input so that a PSK stays off the command line.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

/* ike show */
static int
cmd_ike_show(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	static const char *const h[] = {"tunnel", "role", "state", "peer", "ike", "esp",
					"spi-in", "spi-out", "nat-t", ">up-s", ">reauth-in-s",
					">rekeys", "last-error"};
	struct table *tb;
	char b[13][64];
	json_t *res, *p;
	size_t i;
	int rc;

	if (argc > 0)
		return ctl_usage_err(self, "unexpected argument '%s'", argv[0]);
	rc = ctl_rest_json(c, "GET", "/v1/ike", NULL, &res);
	if (rc != CTL_EXIT_OK)
		return rc;
	if (c->json) {
		out_json(res);
		json_decref(res);
		return CTL_EXIT_OK;
	}
	tb = table_new(13, h);
	json_array_foreach(res, i, p) {
		const char *row[13];

		row[0] = out_scalar(json_object_get(p, "tunnel"), b[0], sizeof(b[0]));
		row[1] = out_scalar(json_object_get(p, "role"), b[1], sizeof(b[1]));
		row[2] = out_scalar(json_object_get(p, "state"), b[2], sizeof(b[2]));
		snprintf(b[3], sizeof(b[3]), "%s:%lld",
			 json_string_value(json_object_get(p, "remote")) ?: "?",
			 (long long)json_integer_value(json_object_get(p, "remote_port")));
		row[3] = b[3];
		row[4] = out_scalar(json_object_get(p, "ike_proposal"), b[4], sizeof(b[4]));
		row[5] = out_scalar(json_object_get(p, "esp_proposal"), b[5], sizeof(b[5]));
		snprintf(b[6], sizeof(b[6]), "0x%08llx",
			 (unsigned long long)json_integer_value(json_object_get(p, "child_spi_in")));
		snprintf(b[7], sizeof(b[7]), "0x%08llx",
			 (unsigned long long)json_integer_value(json_object_get(p, "child_spi_out")));
		row[6] = b[6];
		row[7] = b[7];
		row[8] = json_is_true(json_object_get(p, "natt")) ? "yes" : "no";
		row[9] = out_scalar(json_object_get(p, "established_s"), b[9], sizeof(b[9]));
		row[10] = out_scalar(json_object_get(p, "reauth_in_s"), b[10], sizeof(b[10]));
		row[11] = out_scalar(json_object_get(p, "rekeys"), b[11], sizeof(b[11]));
		row[12] = out_scalar(json_object_get(p, "last_error"), b[12], sizeof(b[12]));
		for (int k = 0; k < 13; k++)
			if (row[k] == NULL || row[k][0] == '\0')
				row[k] = "-";
		table_row(tb, row);
	}
	table_print(tb);
	json_decref(res);
	return CTL_EXIT_OK;
}

static int
ike_path(const struct ctl_cmd *self, int argc, char **argv, int want, char *path, size_t n)
{
	char esc[256];

	if (argc < 1)
		return ctl_usage_err(self, "missing TUNNEL");
	if (argc < want)
		return ctl_usage_err(self, "missing FILE (the ike settings as JSON, or - for "
				     "standard input)");
	if (argc > want)
		return ctl_usage_err(self, "unexpected argument '%s'", argv[want]);
	http_escape(argv[0], esc, sizeof(esc));
	snprintf(path, n, "/v1/esp-tunnels/%s/ike", esc);
	return CTL_EXIT_OK;
}

/* ike get TUNNEL */
static int
cmd_ike_get(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[512];
	json_t *res;
	int rc = ike_path(self, argc, argv, 1, path, sizeof(path));

	if (rc != CTL_EXIT_OK)
		return rc;
	rc = ctl_rest_json(c, "GET", path, NULL, &res);
	if (rc == CTL_EXIT_OK)
		out_json(res);
	json_decref(res);
	return rc;
}

/* ike set TUNNEL FILE|- */
static int
cmd_ike_set(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[512];
	json_t *j, *res = NULL;
	int rc = ike_path(self, argc, argv, 2, path, sizeof(path));

	if (rc != CTL_EXIT_OK)
		return rc;
	j = ctl_load_json(self, argv[1]);
	if (j == NULL)
		return CTL_EXIT_USAGE;
	rc = ctl_rest_json(c, "PUT", path, j, &res);
	json_decref(j);
	if (rc == CTL_EXIT_OK && res != NULL)
		out_json(res);
	json_decref(res);
	return rc;
}

/* ike del TUNNEL */
static int
cmd_ike_del(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[512];
	struct http_resp r;
	int rc = ike_path(self, argc, argv, 1, path, sizeof(path));

	if (rc != CTL_EXIT_OK)
		return rc;
	rc = ctl_rest(c, "DELETE", path, NULL, 0, &r);
	if (rc == CTL_EXIT_OK)
		http_resp_free(&r);
	return rc;
}

static const struct ctl_cmd cmds[] = {
	{"ike", "show", cmd_ike_show, "",
	 "IKEv2 peers: IKE SA and CHILD_SA state, proposals, SPIs, lifetimes (no PSK)"},
	{"ike", "get", cmd_ike_get, "TUNNEL", "a tunnel's IKE settings (no secret) and state"},
	{"ike", "set", cmd_ike_set, "TUNNEL FILE|-",
	 "add or replace a tunnel's IKE peer from JSON (the PSK stays off argv)"},
	{"ike", "del", cmd_ike_del, "TUNNEL", "remove a tunnel's IKE peer"},
	{"ike", "delete", cmd_ike_del, "TUNNEL", NULL},
	{NULL, NULL, NULL, NULL, NULL, 0},
};

const struct ctl_cmd *
ctl_ike_cmds(void)
{
	return cmds;
}
