/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IKEv2 over REST (GET /v1/ike): `ike show` lists each tunnel's IKE SA and
 * CHILD_SA (state, peer, proposals, SPIs, time to re-authentication,
 * rekeys, last error). No PSK or key is ever returned by the gateway.
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

static const struct ctl_cmd cmds[] = {
	{"ike", "show", cmd_ike_show, "",
	 "IKEv2 peers: IKE SA and CHILD_SA state, proposals, SPIs, lifetimes (no PSK)"},
	{NULL, NULL, NULL, NULL, NULL, 0},
};

const struct ctl_cmd *
ctl_ike_cmds(void)
{
	return cmds;
}
