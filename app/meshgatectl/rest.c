/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * REST calls as every command makes them: find the endpoint and the token,
 * send, and turn a refusal into "meshgatectl: FIELD: MESSAGE (HTTP 400)" on
 * stderr with exit status 1 (cannot connect: 3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* Report a non-2xx answer; with --json the body goes to stdout as well. */
static void
report(struct ctl *c, const struct http_resp *r)
{
	json_t *j = r->len ? json_loadb(r->body, r->len, 0, NULL) : NULL;
	json_t *e = json_object_get(j, "error");
	char where[96];

	snprintf(where, sizeof(where), "HTTP %d", r->status);
	if (json_is_object(e))
		ctl_print_error(e, where);
	else if (r->status == 401)
		ctl_err("the gateway refused the token (%s)", where);
	else
		ctl_err("%s%s%s", where, r->reason[0] ? " " : "", r->reason);
	if (c->json && j != NULL)
		out_raw(r->body, r->len);
	json_decref(j);
}

int
ctl_rest(struct ctl *c, const char *method, const char *path, const char *body, size_t blen,
	 struct http_resp *r)
{
	char addr[160], token[512], err[256];
	bool unreachable;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = ctl_locate_rest(c, addr, sizeof(addr));
	if (rc != CTL_EXIT_OK)
		return rc;
	rc = ctl_locate_token(c, token, sizeof(token));
	if (rc != CTL_EXIT_OK)
		return rc;
	rc = http_request(addr, token, method, path, body, blen, r, &unreachable, err, sizeof(err));
	explicit_bzero(token, sizeof(token));
	if (rc < 0) {
		if (unreachable) {
			ctl_err("cannot connect to meshgate's REST endpoint at %s: %s (is meshgate "
				"running with file prefix '%s'?)",
				addr, err, c->prefix);
			return CTL_EXIT_UNREACHABLE;
		}
		ctl_err("no valid answer from meshgate's REST endpoint at %s: %s", addr, err);
		return CTL_EXIT_REJECTED;
	}
	if (r->status >= 200 && r->status < 300)
		return CTL_EXIT_OK;
	report(c, r);
	http_resp_free(r);
	return CTL_EXIT_REJECTED;
}

int
ctl_rest_json(struct ctl *c, const char *method, const char *path, json_t *body, json_t **out)
{
	struct http_resp r;
	json_error_t je;
	char *text = NULL;
	int rc;

	*out = NULL;
	if (body != NULL && (text = json_dumps(body, JSON_COMPACT)) == NULL) {
		ctl_err("cannot encode the request");
		return CTL_EXIT_USAGE;
	}
	rc = ctl_rest(c, method, path, text, text ? strlen(text) : 0, &r);
	free(text);
	if (rc != CTL_EXIT_OK)
		return rc;
	if (r.len > 0) {
		*out = json_loadb(r.body, r.len, 0, &je);
		if (*out == NULL) {
			ctl_err("the answer to %s %s is not JSON (%s)", method, path, je.text);
			http_resp_free(&r);
			return CTL_EXIT_REJECTED;
		}
	}
	http_resp_free(&r);
	return CTL_EXIT_OK;
}

int
ctl_nargs(const struct ctl_cmd *self, int argc, char **argv, int min, int max, const char *first)
{
	if (argc < min)
		return ctl_usage_err(self, "missing %s", first);
	if (argc > max)
		return ctl_usage_err(self, "unexpected argument '%s'", argv[max]);
	return CTL_EXIT_OK;
}

const char *
ctl_path(char *out, size_t n, const char *prefix, const char *name, const char *suffix)
{
	char esc[256];

	if (name == NULL) {
		snprintf(out, n, "%s%s", prefix, suffix ? suffix : "");
	} else {
		http_escape(name, esc, sizeof(esc));
		snprintf(out, n, "%s/%s%s", prefix, esc, suffix ? suffix : "");
	}
	return out;
}

/* An answer as JSON with --json, else through @p print (nothing if NULL). */
static void
show(struct ctl *c, json_t *j, void (*print)(json_t *))
{
	if (j == NULL)
		return;
	if (c->json)
		out_json(j);
	else if (print != NULL)
		print(j);
}

int
ctl_call(struct ctl *c, const char *method, const char *path, void (*print)(json_t *))
{
	json_t *j;
	int rc = ctl_rest_json(c, method, path, NULL, &j);

	if (rc == CTL_EXIT_OK)
		show(c, j, print);
	json_decref(j);
	return rc;
}

int
ctl_send_file(struct ctl *c, const struct ctl_cmd *self, const char *method, const char *path,
	      const char *file, void (*print)(json_t *))
{
	json_t *body = ctl_load_json(self, file), *j = NULL;
	int rc;

	if (body == NULL)
		return CTL_EXIT_USAGE;
	rc = ctl_rest_json(c, method, path, body, &j);
	json_decref(body);
	if (rc == CTL_EXIT_OK)
		show(c, j, print);
	json_decref(j);
	return rc;
}

int
ctl_network_path(const struct ctl_cmd *self, int argc, char **argv, int want, const char *suffix,
		 char *out, size_t n)
{
	if (argc < 1)
		return ctl_usage_err(self, "missing NETWORK");
	if (argc > want)
		return ctl_usage_err(self, "unexpected argument '%s'", argv[want]);
	ctl_path(out, n, "/v1/networks", argv[0], suffix);
	return CTL_EXIT_OK;
}
