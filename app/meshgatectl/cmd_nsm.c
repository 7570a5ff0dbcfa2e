/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NSM control socket: a Unix stream socket carrying newline-delimited
 * JSON, one message a line (see lib/ctl/ctl_nsm.c):
 *
 *   -> {"id": 1, "method": "Request" | "Close" | "MonitorConnections", "params": {...}}
 *   <- {"id": 1, "result": {...}}  or  {"id": 1, "error": {...}}
 *   <- {"id": 1, "event": {"type": ..., "connections": {ID: Connection, ...}}} ...
 *
 * A peer the gateway refuses gets one error without an id, then EOF.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"

/* Longest line accepted from the gateway (an initial state of many connections). */
#define NSM_LINE_MAX (256u << 20)

/* One connection to the socket with its input buffer. */
struct nsm {
	int fd;
	char *buf;
	size_t len, cap;
};

/* Set the receive timeout (0: wait for ever). */
static void
nsm_timeout(struct nsm *n, int seconds)
{
	struct timeval tv = {.tv_sec = seconds};

	setsockopt(n->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(n->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Connect to the gateway's NSM socket; an exit status. */
static int
nsm_open(struct ctl *c, struct nsm *n)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[300];
	const char *path = ctl_locate_nsm(c, buf, sizeof(buf));

	memset(n, 0, sizeof(*n));
	n->fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		ctl_err("the NSM socket path %s is too long", path);
		return CTL_EXIT_USAGE;
	}
	strcpy(sa.sun_path, path);
	n->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (n->fd < 0 || connect(n->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ctl_err("cannot connect to meshgate's NSM socket %s: %s (is meshgate running with file "
			"prefix '%s'?)",
			path, strerror(errno), c->prefix);
		if (n->fd >= 0)
			close(n->fd);
		n->fd = -1;
		return CTL_EXIT_UNREACHABLE;
	}
	nsm_timeout(n, CTL_TIMEOUT_S);
	return CTL_EXIT_OK;
}

/* Close the connection and free its buffer. */
static void
nsm_close(struct nsm *n)
{
	if (n->fd >= 0)
		close(n->fd);
	free(n->buf);
	memset(n, 0, sizeof(*n));
	n->fd = -1;
}

/* Send one message as a line; 0 or -errno. */
static int
nsm_send(struct nsm *n, json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT);
	size_t len, off = 0;

	if (s == NULL)
		return -ENOMEM;
	len = strlen(s);
	s[len] = '\n'; /* json_dumps leaves room for its NUL: reuse it */
	len++;
	while (off < len) {
		ssize_t w = send(n->fd, s + off, len - off, MSG_NOSIGNAL);

		if (w < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			free(s);
			return -e;
		}
		off += (size_t)w;
	}
	free(s);
	return 0;
}

/* Receive one message; 0, or -errno (-EPIPE: the gateway closed, -EBADMSG: not JSON). */
static int
nsm_recv(struct nsm *n, json_t **msg)
{
	char *nl;

	*msg = NULL;
	while ((nl = memchr(n->buf ? n->buf : "", '\n', n->len)) == NULL) {
		ssize_t r;

		if (n->cap - n->len < 65536) {
			size_t cap = n->cap ? n->cap * 2 : 131072;
			char *b;

			if (n->cap >= NSM_LINE_MAX)
				return -E2BIG;
			b = realloc(n->buf, cap);
			if (b == NULL)
				return -ENOMEM;
			n->buf = b;
			n->cap = cap;
		}
		r = recv(n->fd, n->buf + n->len, n->cap - n->len, 0);
		if (r == 0)
			return -EPIPE;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		n->len += (size_t)r;
	}
	*msg = json_loadb(n->buf, (size_t)(nl - n->buf), 0, NULL);
	n->len -= (size_t)(nl - n->buf) + 1;
	memmove(n->buf, nl + 1, n->len);
	return *msg != NULL ? 0 : -EBADMSG;
}

/* Report what went wrong reading from the gateway; an exit status. */
static int
recv_failed(int rc)
{
	if (rc == -EPIPE) {
		ctl_err("meshgate closed the NSM socket");
		return CTL_EXIT_UNREACHABLE;
	}
	if (rc == -EBADMSG)
		ctl_err("meshgate sent a line that is not JSON on the NSM socket");
	else if (rc == -ETIMEDOUT)
		ctl_err("no answer on the NSM socket within %d s", CTL_TIMEOUT_S);
	else
		ctl_err("reading the NSM socket: %s", strerror(-rc));
	return CTL_EXIT_REJECTED;
}

/* Print an error message of the gateway ("meshgatectl: FIELD: MESSAGE (NSM CODE)"). */
static void
print_nsm_error(struct ctl *c, json_t *msg)
{
	json_t *e = json_object_get(msg, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	char where[96];

	snprintf(where, sizeof(where), "NSM %s", code ? code : "error");
	ctl_print_error(e, where);
	if (c->json) {
		json_t *o = json_pack("{s:O}", "error", e);

		out_json(o);
		json_decref(o);
	}
}

/* True if @msg answers our message @id (a refusal without an id does too). */
static bool
answers(json_t *msg, json_int_t id)
{
	json_t *mid = json_object_get(msg, "id");

	if (json_is_integer(mid))
		return json_integer_value(mid) == id;
	return (mid == NULL || json_is_null(mid)) && json_object_get(msg, "error") != NULL;
}

/*
 * Open the socket into @n and send @msg (message 1; freed here): CTL_EXIT_OK
 * with @n open, or an exit status (reported) with @n closed.
 */
static int
nsm_start(struct ctl *c, struct nsm *n, json_t *msg)
{
	int rc = nsm_open(c, n);

	if (rc != CTL_EXIT_OK) {
		json_decref(msg);
		return rc;
	}
	rc = nsm_send(n, msg);
	json_decref(msg);
	if (rc < 0) {
		ctl_err("sending on the NSM socket: %s", strerror(-rc));
		nsm_close(n);
		return CTL_EXIT_UNREACHABLE;
	}
	return CTL_EXIT_OK;
}

/*
 * The next message that answers message 1 into *@msg (the caller frees it):
 * CTL_EXIT_OK, or an exit status (reported) when the socket failed or the
 * gateway answered with an error (printed; *@msg is not set).
 */
static int
nsm_answer(struct ctl *c, struct nsm *n, json_t **msg)
{
	for (;;) {
		int rc = nsm_recv(n, msg);

		if (rc < 0)
			return recv_failed(rc);
		if (!answers(*msg, 1)) {
			json_decref(*msg);
			continue;
		}
		if (json_object_get(*msg, "error") != NULL) {
			print_nsm_error(c, *msg);
			json_decref(*msg);
			return CTL_EXIT_REJECTED;
		}
		return CTL_EXIT_OK;
	}
}

/* One call: send @method with @params, wait for its result; an exit status. */
static int
nsm_call(struct ctl *c, const char *method, json_t *params, json_t **result)
{
	struct nsm n;
	json_t *msg;
	int rc;

	*result = NULL;
	rc = nsm_start(c, &n, json_pack("{s:i,s:s,s:O}", "id", 1, "method", method, "params",
					params));
	if (rc != CTL_EXIT_OK)
		return rc;
	rc = nsm_answer(c, &n, &msg);
	if (rc == CTL_EXIT_OK) {
		*result = json_incref(json_object_get(msg, "result"));
		json_decref(msg);
	}
	nsm_close(&n);
	return rc;
}

/* nsm request FILE|-: send a NetworkServiceRequest, print the Connection accepted. */
static int
cmd_request(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	json_t *req, *res;
	int rc;

	if (argc != 1)
		return argc ? ctl_usage_err(self, "unexpected argument '%s'", argv[1])
			    : ctl_usage_err(self, "missing FILE (a NetworkServiceRequest; - for "
						  "standard input)");
	req = ctl_load_json(self, argv[0]);
	if (req == NULL)
		return CTL_EXIT_USAGE;
	rc = nsm_call(c, "Request", req, &res);
	json_decref(req);
	if (rc != CTL_EXIT_OK)
		return rc;
	if (c->json)
		out_json(res);
	else
		out_kv(res);
	json_decref(res);
	return CTL_EXIT_OK;
}

/* nsm close ID|FILE|-: close by id, by a Connection, or by the request that made it. */
static int
cmd_close(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	struct stat st;
	json_t *conn, *res;
	int rc;

	if (argc != 1)
		return argc ? ctl_usage_err(self, "unexpected argument '%s'", argv[1])
			    : ctl_usage_err(self, "missing ID (or a FILE holding the Connection)");
	if (strcmp(argv[0], "-") == 0 || (stat(argv[0], &st) == 0 && S_ISREG(st.st_mode))) {
		json_t *j = ctl_load_json(self, argv[0]);
		json_t *inner = json_object_get(j, "connection");

		if (j == NULL)
			return CTL_EXIT_USAGE;
		/* The request file itself will do: close its connection. */
		conn = json_incref(json_is_object(inner) ? inner : j);
		json_decref(j);
	} else {
		conn = json_pack("{s:s}", "id", argv[0]);
	}
	rc = nsm_call(c, "Close", conn, &res);
	json_decref(conn);
	if (rc == CTL_EXIT_OK && c->json)
		out_json(res);
	json_decref(res);
	return rc;
}

/* Keep only connection @id of @conns (a new reference); all of them without an id. */
static json_t *
filter(json_t *conns, const char *id)
{
	json_t *out = json_object(), *k;
	const char *key;

	json_object_foreach(conns, key, k) {
		const char *kid = json_string_value(json_object_get(k, "id"));

		if (id == NULL || strcmp(key, id) == 0 || (kid != NULL && strcmp(kid, id) == 0))
			json_object_set(out, key, k);
	}
	return out;
}

/* Print one monitor event; false if it was left out by the filter. */
static bool
print_event(struct ctl *c, json_t *ev)
{
	const char *type = json_string_value(json_object_get(ev, "type"));
	json_t *conns = filter(json_object_get(ev, "connections"), c->monitor_id);
	bool initial = type != NULL && strcmp(type, "INITIAL_STATE_TRANSFER") == 0;
	const char *key;
	json_t *k;

	if (type == NULL)
		type = "?";
	if (!initial && json_object_size(conns) == 0) {
		json_decref(conns);
		return false;
	}
	if (c->json) {
		json_t *o = json_pack("{s:s,s:O}", "type", type, "connections", conns);

		json_dumpf(o, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(o);
	} else {
		if (initial)
			printf("%s: %zu connection%s\n", type, json_object_size(conns),
			       json_object_size(conns) == 1 ? "" : "s");
		json_object_foreach(conns, key, k) {
			char b[7][512], lead[64];
			const char *row[7];

			out_conn_cells(k, b, row);
			snprintf(lead, sizeof(lead), "%s", initial ? " " : type);
			printf("%s %s %s service %s mechanism %s local %s remote %s expires %s\n", lead,
			       row[0], row[1], row[2], row[3], row[4], row[5], row[6]);
		}
	}
	fflush(stdout);
	json_decref(conns);
	return true;
}

/* nsm monitor [--once] [--id ID]: print the initial state, then events until stopped. */
static int
cmd_monitor(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv)
{
	struct nsm n;
	json_t *msg;
	bool initial_seen = false;
	int rc;

	if (argc > 0)
		return ctl_usage_err(self, "unexpected argument '%s'", argv[0]);
	/* An empty list of path segments: every connection, with proto (snake_case) names. */
	rc = nsm_start(c, &n, json_pack("{s:i,s:s,s:{s:[]}}", "id", 1, "method",
					"MonitorConnections", "params", "path_segments"));
	if (rc != CTL_EXIT_OK)
		return rc;
	while ((rc = nsm_answer(c, &n, &msg)) == CTL_EXIT_OK) {
		json_t *ev = json_object_get(msg, "event");

		if (json_is_object(ev)) {
			print_event(c, ev);
			if (!initial_seen) {
				initial_seen = true;
				/* From now on events come when they come. */
				nsm_timeout(&n, 0);
			}
		}
		json_decref(msg);
		if (initial_seen && c->once)
			break;
	}
	nsm_close(&n);
	return rc;
}

static const struct ctl_cmd cmds[] = {
	{"nsm", "request", cmd_request, "FILE|-",
	 "send a NetworkServiceRequest, print the accepted Connection"},
	{"nsm", "close", cmd_close, "ID|FILE|-", "close a connection (by id, or its JSON)"},
	{"nsm", "monitor", cmd_monitor, "[--once] [--id ID]",
	 "print connection events (--once: the initial state only)", CTL_OPT_ONCE | CTL_OPT_ID},
	{NULL, NULL, NULL, NULL, NULL},
};

const struct ctl_cmd *
ctl_nsm_cmds(void)
{
	return cmds;
}
