/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Classification rules over REST: a network's rules with their counters as
 * a table, a rule list replaced from a JSON file (the body of PUT
 * /v1/networks/NAME/rules), and the rules removed.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

#define PATH_LEN 1024

/* One rule's match, as words: "udp 10.0.0.0/8 > fd00::/8 dport 80-89 vlan 0". */
static void
match_words(json_t *r, char *out, size_t n)
{
	static const char *const keys[] = {"family", "protocol", "src", "dst", "sport", "dport",
					   "icmp_type", "icmp_code", "vlan", "dscp", "interface"};
	size_t off = 0;
	char v[128];

	out[0] = '\0';
	for (unsigned int i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *x = json_object_get(r, keys[i]);

		if (x == NULL)
			continue;
		out_scalar(x, v, sizeof(v));
		off += (size_t)snprintf(out + off, off < n ? n - off : 0, "%s%s %s", off ? " " : "",
					keys[i], v);
	}
	if (off == 0)
		snprintf(out, n, "any");
}

/* The action with its parameters: "police 1000/2000", "mark 46", "table side", "service upf". */
static void
action_words(json_t *r, char *out, size_t n)
{
	const char *a = json_string_value(json_object_get(r, "action"));
	char x[64], y[64];

	if (a == NULL)
		a = "permit";
	if (!strcmp(a, "police"))
		snprintf(out, n, "police %s/%s", out_scalar(json_object_get(r, "rate"), x, sizeof(x)),
			 out_scalar(json_object_get(r, "burst"), y, sizeof(y)));
	else if (!strcmp(a, "mark"))
		snprintf(out, n, "mark %s", out_scalar(json_object_get(r, "set_dscp"), x, sizeof(x)));
	else if (!strcmp(a, "table"))
		snprintf(out, n, "table %s", out_scalar(json_object_get(r, "table"), x, sizeof(x)));
	else if (!strcmp(a, "service"))
		snprintf(out, n, "service %s", out_scalar(json_object_get(r, "service"), x, sizeof(x)));
	else if (!strcmp(a, "tunnel") && json_object_get(r, "via") != NULL)
		snprintf(out, n, "tunnel %s via %s",
			 out_scalar(json_object_get(r, "tunnel"), x, sizeof(x)),
			 out_scalar(json_object_get(r, "via"), y, sizeof(y)));
	else if (!strcmp(a, "tunnel"))
		snprintf(out, n, "tunnel %s", out_scalar(json_object_get(r, "tunnel"), x, sizeof(x)));
	else
		snprintf(out, n, "%s", a);
}

/* The result caches' line: hits of lookups per family, since the rule set was installed. */
static void
print_cache(json_t *rc)
{
	static const char *const fam[] = {"ipv4", "ipv6"};
	const char *sep = "result cache:";
	bool any = false;

	for (unsigned int i = 0; i < 2; i++) {
		json_t *f = json_object_get(rc, fam[i]);
		json_int_t l, h;

		if (f == NULL)
			continue;
		l = json_integer_value(json_object_get(f, "lookups"));
		h = json_integer_value(json_object_get(f, "hits"));
		printf("%s %s %" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT " lookups hit (%.1f%%)",
		       sep, fam[i], h, l, l > 0 ? 100.0 * (double)h / (double)l : 0.0);
		sep = ",";
		any = true;
	}
	if (any)
		printf(" since the rules were installed\n");
}

static void
print_rules(json_t *j)
{
	static const char *const h[] = {">id", ">priority", "match", "action", ">packets",
					">bytes", ">dropped"};
	struct table *t = table_new(7, h);
	json_t *rules = json_object_get(j, "rules"), *r;
	size_t i;

	json_array_foreach(rules, i, r) {
		json_t *k = json_object_get(r, "counters");
		char b[7][512];
		const char *row[7];

		out_scalar(json_object_get(r, "id"), b[0], sizeof(b[0]));
		if (json_object_get(r, "priority"))
			out_scalar(json_object_get(r, "priority"), b[1], sizeof(b[1]));
		else
			snprintf(b[1], sizeof(b[1]), "0");
		match_words(r, b[2], sizeof(b[2]));
		action_words(r, b[3], sizeof(b[3]));
		out_scalar(json_object_get(k, "packets"), b[4], sizeof(b[4]));
		out_scalar(json_object_get(k, "bytes"), b[5], sizeof(b[5]));
		if (json_object_get(k, "red"))
			out_scalar(json_object_get(k, "red"), b[6], sizeof(b[6]));
		else if (!strcmp(b[3], "deny"))
			snprintf(b[6], sizeof(b[6]), "%s", b[4]);
		else
			snprintf(b[6], sizeof(b[6]), "-");
		for (int c = 0; c < 7; c++)
			row[c] = b[c];
		table_row(t, row);
	}
	{
		json_t *k = json_object_get(j, "counters");
		const char *def = json_string_value(json_object_get(j, "default"));
		char b[2][64];
		const char *row[7] = {"-", "-", "(default)", def ? def : "permit", b[0], b[1], "-"};

		out_scalar(json_object_get(k, "packets"), b[0], sizeof(b[0]));
		out_scalar(json_object_get(k, "bytes"), b[1], sizeof(b[1]));
		if (def != NULL && !strcmp(def, "deny"))
			row[6] = b[0];
		table_row(t, row);
	}
	table_print(t);
	print_cache(json_object_get(j, "result_cache"));
}

/* rules NETWORK: the rules in evaluation order with their counters. */
static int
cmd_rules(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[PATH_LEN];
	int rc = ctl_network_path(self, argc, argv, 1, "/rules", path, sizeof(path));

	return rc ? rc : ctl_call(c, "GET", path, print_rules);
}

/* rules set NETWORK FILE|-: replace them with {"default": .., "rules": [..]}. */
static int
cmd_rules_set(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[PATH_LEN];
	int rc = ctl_network_path(self, argc, argv, 2, "/rules", path, sizeof(path));

	if (rc == CTL_EXIT_OK && argc < 2)
		rc = ctl_usage_err(self, "missing FILE (or - for standard input)");
	return rc ? rc : ctl_send_file(c, self, "PUT", path, argv[1], NULL);
}

/* rules clear NETWORK: no rules, default permit. */
static int
cmd_rules_clear(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	char path[PATH_LEN];
	int rc = ctl_network_path(self, argc, argv, 1, "/rules", path, sizeof(path));

	return rc ? rc : ctl_call(c, "DELETE", path, NULL);
}

static const struct ctl_cmd cmds[] = {
	{"rules", NULL, cmd_rules, "NETWORK", "classification rules with their counters"},
	{"rules", "show", cmd_rules, "NETWORK", NULL},
	{"rules", "set", cmd_rules_set, "NETWORK FILE|-",
	 "replace them with {\"default\": .., \"rules\": [..]} (JSON)"},
	{"rules", "clear", cmd_rules_clear, "NETWORK", "remove them (default permit)"},
	{NULL, NULL, NULL, NULL, NULL},
};

const struct ctl_cmd *
ctl_rules_cmds(void)
{
	return cmds;
}
