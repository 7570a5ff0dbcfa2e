/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control plane's core: the one path every change takes (a
 * transaction, then the journal, then commit), errors as every transport
 * reports them, and the life cycle.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_lcore.h>
#include <rte_log.h>

#include "ctl_priv.h"
#include "mg_dp.h"

RTE_LOG_REGISTER_SUFFIX(mg_ctl_logtype, ctl, INFO);
#define CTL_LOG(l, ...) rte_log(RTE_LOG_##l, mg_ctl_logtype, "ctl: " __VA_ARGS__)

int
ctl_commit_ops(struct mg_ctl *c, const struct mg_op *ops, unsigned int n, struct mg_error *err)
{
	struct mg_txn *t;
	json_t *entry, *arr;
	unsigned int bad = 0;
	int rc;

	RTE_ASSERT(rte_lcore_id() == rte_get_main_lcore());
	/* What the model refuses is refused before traffic sees any of it. */
	rc = mg_txn_apply_list(c->env.model, ops, n, &t, &bad, err);
	if (rc < 0) {
		if (n > 1 && bad != UINT_MAX)
			mg_error_prefix_field(err, "[%u]", bad);
		c->requests_failed++;
		return rc;
	}
	/* Durable before acknowledged: journal, then keep. */
	if (!c->replaying && c->journal_fd >= 0) {
		entry = json_object();
		arr = json_array();
		for (unsigned int i = 0; i < n; i++)
			json_array_append_new(arr, cj_op_json(&ops[i]));
		json_object_set_new(entry, "ops", arr);
		rc = ctl_state_append(c, entry, err);
		json_decref(entry);
		if (rc < 0) {
			mg_txn_abort(t);
			c->requests_failed++;
			return rc;
		}
	}
	mg_txn_commit(t);
	c->requests_ok++;
	return 0;
}

int
ctl_journal(struct mg_ctl *c, json_t *entry, struct mg_error *err)
{
	return ctl_state_append(c, entry, err);
}

int
ctl_http_status(int code)
{
	switch (code) {
	case 0: return 200;
	case ENOENT: return 404;
	case EEXIST:
	case EBUSY: return 409;
	case ENOSPC: return 507;
	case ENOTSUP: return 501;
	case EACCES:
	case EPERM: return 403;
	case ENOMEM:
	case EIO: return 500;
	case ENODEV: return 422;
	default: return 400;
	}
}

const char *
ctl_grpc_code(int code)
{
	switch (code) {
	case ENOENT: return "NOT_FOUND";
	case EEXIST: return "ALREADY_EXISTS";
	case EBUSY: return "FAILED_PRECONDITION";
	case ENOSPC: return "RESOURCE_EXHAUSTED";
	case ENOTSUP: return "UNIMPLEMENTED";
	case EACCES:
	case EPERM: return "PERMISSION_DENIED";
	case ENOMEM:
	case EIO: return "INTERNAL";
	case ENODEV: return "FAILED_PRECONDITION";
	default: return "INVALID_ARGUMENT";
	}
}

json_t *
ctl_error_json(const struct mg_error *err)
{
	return json_pack("{s:i,s:s,s:s,s:s}", "status", ctl_http_status(err->code), "code",
			 ctl_grpc_code(err->code), "field", err->field, "message", err->msg);
}

int
ctl_reply(int status, json_t *j, char **text)
{
	*text = j != NULL ? json_dumps(j, JSON_INDENT(2)) : NULL;
	json_decref(j);
	return status;
}

int
ctl_reply_err(const struct mg_error *e, char **text)
{
	return ctl_reply(ctl_http_status(e->code), json_pack("{s:o}", "error", ctl_error_json(e)),
			 text);
}

/* The gRPC-style code of statuses that no errno stands for. */
static const char *
status_code_name(int status)
{
	switch (status) {
	case 401: return "UNAUTHENTICATED";
	case 405: return "UNIMPLEMENTED";
	case 413: return "RESOURCE_EXHAUSTED";
	case 429: return "RESOURCE_EXHAUSTED";
	default: return NULL;
	}
}

json_t *
ctl_status_error_json(int status, const struct mg_error *e)
{
	json_t *j = ctl_error_json(e);

	json_object_set_new(j, "status", json_integer(status));
	if (status_code_name(status) != NULL)
		json_object_set_new(j, "code", json_string(status_code_name(status)));
	return json_pack("{s:o}", "error", j);
}

json_t *
ctl_not_allowed_json(void)
{
	struct mg_error e;

	mg_error_set(&e, EINVAL, "", "method not allowed here");
	return ctl_status_error_json(405, &e);
}

int
ctl_not_allowed(const char *allowed, const char **allow, char **text)
{
	*allow = allowed;
	return ctl_reply(405, ctl_not_allowed_json(), text);
}

json_t *
ctl_body_json(char *body, size_t len, struct mg_error *e)
{
	json_error_t je;
	json_t *j;

	if (body == NULL || len == 0) {
		mg_error_set(e, EINVAL, "", "a JSON body is required");
		return NULL;
	}
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	mg_wipe(body, len);
	if (j == NULL)
		mg_error_set(e, EINVAL, "", "not valid JSON (line %d, column %d: %s)", je.line,
			     je.column, mg_error_text_unquoted(je.text));
	return j;
}

/* ---- life cycle --------------------------------------------------------------------- */

static int
mkdir_p(const char *dir)
{
	char tmp[256];

	mg_strlcpy(tmp, dir, sizeof(tmp));
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

struct mg_ctl *
mg_ctl_create(const struct mg_ctl_conf *conf, const struct mg_ctl_env *env, bool *restored,
	      struct mg_error *err)
{
	struct mg_ctl *c = calloc(1, sizeof(*c));
	int rc;

	/* Every JSON value's memory is wiped when jansson frees it: bodies, requests
	 * and the lexer's own buffers hold keys, tokens and salts. */
	json_set_alloc_funcs(malloc, mg_free_wiped);
	if (c == NULL) {
		mg_error_set(err, ENOMEM, "", "out of memory");
		return NULL;
	}
	c->conf = *conf;
	c->env = *env;
	c->journal_fd = -1;
	c->nsm_fd = -1;
	for (unsigned int i = 0; i < CTL_MAX_NSM_CLIENTS; i++)
		c->clients[i].fd = -1;
	if (conn_init(c) < 0) {
		mg_error_set(err, ENOMEM, "", "out of memory");
		goto fail;
	}
	if (c->conf.run_dir[0] && (rc = mkdir_p(c->conf.run_dir)) < 0) {
		mg_error_set(err, -rc, "control.run_dir", "cannot create %s: %s", c->conf.run_dir,
			     strerror(-rc));
		goto fail;
	}
	if (ctl_state_open(c, restored, err) < 0)
		goto fail;
	if (nsm_open(c, err) < 0 || rest_open(c, err) < 0)
		goto fail;
	return c;
fail:
	mg_ctl_destroy(c);
	return NULL;
}

void
mg_ctl_destroy(struct mg_ctl *c)
{
	if (c == NULL)
		return;
	rest_close(c);
	nsm_close_all(c);
	/* The inbound SAs' last positions, and the reservations, before the journal closes. */
	ctl_esp_seq_tick(c, 0, true);
	ctl_state_close(c);
	conn_fini(c);
	ctl_ike_fini(c);
	free(c->esp_resv);
	mg_wipe(c->token, sizeof(c->token));
	free(c);
}

unsigned int
mg_ctl_fds(struct mg_ctl *c, int *fds, unsigned int max)
{
	unsigned int n = 0;

	if (c->nsm_fd >= 0 && n < max)
		fds[n++] = c->nsm_fd;
	for (unsigned int i = 0; i < CTL_MAX_NSM_CLIENTS && n < max; i++)
		if (c->clients[i].fd >= 0)
			fds[n++] = c->clients[i].fd;
	if (c->mhd != NULL && n < max)
		fds[n++] = rest_epoll_fd(c);
	return n;
}

uint64_t
mg_ctl_timeout(struct mg_ctl *c, uint64_t now_ns)
{
	uint64_t t = 1000000000ull;

	if (c->mhd != NULL) {
		uint64_t r = rest_timeout_ns(c);

		if (r < t)
			t = r;
	}
	for (unsigned int i = 0; i < CTL_MAX_NSM_CLIENTS; i++)
		if (c->clients[i].fd >= 0 && c->clients[i].nout > 0)
			t = 1000000ull; /* output pending: come back soon */
	if (c->journal_fd >= 0 && c->nesp_resv > 0) {
		/* ESP sequence reservations are kept ahead every 100 ms (ctl_espstate.c). */
		uint64_t r = c->next_esp_seq_ns > now_ns ? c->next_esp_seq_ns - now_ns : 0;

		if (r < t)
			t = r;
	}
	return t;
}

void
mg_ctl_run(struct mg_ctl *c, uint64_t now_ns)
{
	nsm_run(c);
	rest_run(c);
	if (now_ns >= c->next_expiry_check) {
		conn_expire(c, now_ns);
		c->next_expiry_check = now_ns + 200000000ull;
	}
	ctl_esp_seq_tick(c, now_ns, false);
	ctl_state_maybe_compact(c);
}
