/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NSM control socket: a Unix stream socket (mode 0600; peers checked
 * with SO_PEERCRED) carrying newline-delimited JSON:
 *
 *   -> {"id": 1, "method": "Request", "params": NetworkServiceRequest}
 *   <- {"id": 1, "result": Connection}   or   {"id": 1, "error": {...}}
 *   -> {"id": 2, "method": "Close", "params": Connection}
 *   <- {"id": 2, "result": {}}
 *   -> {"id": 3, "method": "MonitorConnections", "params": MonitorScopeSelector}
 *   <- {"id": 3, "event": {"type": "INITIAL_STATE_TRANSFER", "connections": {...}}}
 *   <- {"id": 3, "event": {"type": "UPDATE" | "DELETE", "connections": {...}}} ...
 *
 * Methods may also be written with their service ("NetworkService.Request",
 * "MonitorConnection.MonitorConnections"). Everything runs on the main
 * lcore; sockets are non-blocking and every buffer is bounded.
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <rte_log.h>
#include <sodium.h>

#include "ctl_priv.h"

RTE_LOG_REGISTER_SUFFIX(mg_nsmsock_logtype, nsmsock, INFO);
/* Stack cleared after a message: read_client's 64 KiB buffer and what handling it used. */
#define CTL_NSM_STACK_BURN (192u * 1024u)
/* Longest a message may take to arrive whole (a client that stalls mid-line is dropped). */
#define CTL_NSM_LINE_NS (10ull * 1000000000ull)

#define SOCK_LOG(l, ...) rte_log(RTE_LOG_##l, mg_nsmsock_logtype, "nsm-socket: " __VA_ARGS__)

int
nsm_open(struct mg_ctl *c, struct mg_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = c->conf.nsm_socket;
	struct stat sb;
	mode_t old;
	int fd;

	if (path[0] == '\0')
		return 0;
	if (strlen(path) >= sizeof(sa.sun_path))
		return mg_error_set(err, ENAMETOOLONG, "control.nsm_socket", "path too long");
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mg_error_set(err, errno, "control.nsm_socket", "socket: %s", strerror(errno));
	/* A socket file nobody answers on is a leftover: replace it. Anything else
	 * at that path is not ours to remove. */
	if (lstat(path, &sb) == 0) {
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;

		if (!S_ISSOCK(sb.st_mode)) {
			if (probe >= 0)
				close(probe);
			close(fd);
			return mg_error_set(err, EEXIST, "control.nsm_socket",
					    "%s exists and is not a socket: not removed", path);
		}
		if (probe >= 0)
			close(probe);
		if (live) {
			close(fd);
			return mg_error_set(err, EADDRINUSE, "control.nsm_socket",
					    "%s is served by another process", path);
		}
		unlink(path);
	}
	{
		char dir[256], *slash;

		mg_strlcpy(dir, path, sizeof(dir));
		slash = strrchr(dir, '/');
		if (slash != NULL && slash != dir) {
			*slash = '\0';
			mkdir(dir, 0700);
		}
	}
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		umask(old);
		close(fd);
		return mg_error_set(err, e, "control.nsm_socket", "cannot bind %s: %s", path,
				    strerror(e));
	}
	umask(old);
	chmod(path, 0600);
	if (listen(fd, 16) < 0) {
		int e = errno;

		close(fd);
		return mg_error_set(err, e, "control.nsm_socket", "listen: %s", strerror(e));
	}
	c->nsm_fd = fd;
	SOCK_LOG(INFO, "NSM socket on %s\n", path);
	return 0;
}

static void
client_drop(struct nsm_client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	/* Requests (and answers) may hold keys: IPSEC mechanisms' src_key, dst_key. */
	mg_free_wiped(cl->in);
	mg_free_wiped(cl->out);
	json_decref(cl->monitor_id);
	json_decref(cl->selector);
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
}

void
nsm_close_all(struct mg_ctl *c)
{
	for (unsigned int i = 0; i < CTL_MAX_NSM_CLIENTS; i++)
		if (c->clients[i].fd >= 0)
			client_drop(&c->clients[i]);
	if (c->nsm_fd >= 0) {
		close(c->nsm_fd);
		unlink(c->conf.nsm_socket);
	}
	c->nsm_fd = -1;
}

/* Queue one JSON line; a client that cannot keep up is dropped. */
static void
send_json(struct nsm_client *cl, json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT);
	size_t len;

	if (s == NULL)
		return;
	len = strlen(s);
	if (cl->nout + len + 1 > CTL_NSM_OUT_MAX) {
		mg_free_wiped(s);
		SOCK_LOG(WARNING, "dropping a client that does not read its replies\n");
		client_drop(cl);
		return;
	}
	if (cl->nout + len + 1 > cl->out_cap) {
		size_t cap = (cl->nout + len + 1) * 2;
		char *o = mg_realloc_wiped(cl->out, cap);

		if (o == NULL) {
			mg_free_wiped(s);
			client_drop(cl);
			return;
		}
		cl->out = o;
		cl->out_cap = cap;
	}
	memcpy(cl->out + cl->nout, s, len);
	cl->out[cl->nout + len] = '\n';
	cl->nout += len + 1;
	mg_free_wiped(s);
}

static void
flush_out(struct nsm_client *cl)
{
	while (cl->fd >= 0 && cl->nout > 0) {
		ssize_t w = send(cl->fd, cl->out, cl->nout, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0) {
			if (errno != EAGAIN && errno != EINTR)
				client_drop(cl);
			return;
		}
		memmove(cl->out, cl->out + w, cl->nout - (size_t)w);
		cl->nout -= (size_t)w;
		mg_wipe(cl->out + cl->nout, (size_t)w);
	}
}

static void
reply_error(struct nsm_client *cl, json_t *id, const struct mg_error *err)
{
	json_t *m = json_pack("{s:O?,s:o}", "id", id, "error", ctl_error_json(err));

	send_json(cl, m);
	json_decref(m);
}

static bool
selector_match(json_t *sel, json_t *conn)
{
	json_t *want = json_object_get(sel, "path_segments"), *w, *s;
	json_t *have = json_object_get(json_object_get(conn, "path"), "path_segments");
	size_t i, j;

	if (json_array_size(want) == 0)
		return true;
	json_array_foreach(want, i, w) {
		json_array_foreach(have, j, s) {
			json_t *wi = json_object_get(w, "id"), *wn = json_object_get(w, "name");

			if ((wi && json_equal(wi, json_object_get(s, "id"))) ||
			    (wn && !wi && json_equal(wn, json_object_get(s, "name"))))
				return true;
		}
	}
	return false;
}

static void
send_event(struct mg_ctl *c, struct nsm_client *cl, const char *type, json_t *conns)
{
	json_t *ev = json_pack("{s:O,s:{s:s,s:O}}", "id", cl->monitor_id, "event", "type", type,
			       "connections", conns);

	send_json(cl, ev);
	json_decref(ev);
}

void
nsm_event(struct mg_ctl *c, const struct conn *k, const char *type)
{
	for (unsigned int i = 0; i < CTL_MAX_NSM_CLIENTS; i++) {
		struct nsm_client *cl = &c->clients[i];
		json_t *conns;

		if (cl->fd < 0 || !cl->monitoring || !selector_match(cl->selector, k->conn))
			continue;
		conns = json_object();
		json_object_set_new(conns, k->id, conn_render(c, k, cl->camel));
		send_event(c, cl, type, conns);
		json_decref(conns);
		if (cl->fd >= 0)
			flush_out(cl);
	}
}

static bool
method_is(const char *m, const char *name)
{
	const char *dot = strrchr(m, '.'), *slash = strrchr(m, '/');
	const char *tail = slash ? slash + 1 : dot ? dot + 1 : m;

	return strcmp(tail, name) == 0;
}

static void
handle(struct mg_ctl *c, struct nsm_client *cl, const char *line)
{
	json_error_t je;
	json_t *msg = json_loads(line, 0, &je), *id, *params, *res;
	struct mg_error err;
	const char *method, *key;
	json_t *v;

	mg_error_clear(&err);
	if (msg == NULL || !json_is_object(msg)) {
		if (msg == NULL)
			mg_error_set(&err, EINVAL, "", "not JSON (column %d: %s)", je.column,
				     mg_error_text_unquoted(je.text));
		else
			mg_error_set(&err, EINVAL, "", "a message is a JSON object");
		reply_error(cl, NULL, &err);
		json_decref(msg);
		return;
	}
	id = json_object_get(msg, "id");
	json_object_foreach(msg, key, v)
		if (strcmp(key, "id") && strcmp(key, "method") && strcmp(key, "params")) {
			mg_error_set(&err, EINVAL, key, "unknown field of a message (id, method, params)");
			reply_error(cl, id, &err);
			json_decref(msg);
			return;
		}
	method = json_string_value(json_object_get(msg, "method"));
	params = json_object_get(msg, "params");
	if (method == NULL) {
		mg_error_set(&err, EINVAL, "method", "is required (Request, Close or MonitorConnections)");
		reply_error(cl, id, &err);
	} else if (method_is(method, "Request")) {
		res = params ? conn_request(c, params, &err)
			     : (mg_error_set(&err, EINVAL, "params", "is required"), NULL);
		if (res == NULL) {
			reply_error(cl, id, &err);
		} else {
			json_t *m = json_pack("{s:O?,s:o}", "id", id, "result", res);

			send_json(cl, m);
			json_decref(m);
		}
	} else if (method_is(method, "Close")) {
		if ((params ? conn_close(c, params, &err)
			    : mg_error_set(&err, EINVAL, "params", "is required")) < 0) {
			reply_error(cl, id, &err);
		} else {
			json_t *m = json_pack("{s:O?,s:{}}", "id", id, "result");

			send_json(cl, m);
			json_decref(m);
		}
	} else if (method_is(method, "MonitorConnections")) {
		bool camel;
		json_t *empty = json_object();
		json_t *sel = nsm_normalise(params ? params : empty, "MonitorScopeSelector", &camel,
					    &err);

		json_decref(empty);
		if (sel == NULL) {
			reply_error(cl, id, &err);
		} else {
			json_t *conns = json_object();

			cl->monitoring = true;
			json_decref(cl->monitor_id);
			json_decref(cl->selector);
			cl->monitor_id = json_incref(id ? id : json_null());
			cl->selector = sel;
			/* protojson names unless the selector spelled proto names. */
			cl->camel = !(params && json_object_get(params, "path_segments"));
			for (unsigned int i = 0; i < CTL_MAX_CONNS; i++) {
				const struct conn *k = &c->conns[i];

				if (k->used && selector_match(sel, k->conn))
					json_object_set_new(conns, k->id, conn_render(c, k, cl->camel));
			}
			send_event(c, cl, "INITIAL_STATE_TRANSFER", conns);
			json_decref(conns);
		}
	} else {
		mg_error_set(&err, ENOTSUP, "method",
			     "'%s' is not one of Request, Close, MonitorConnections", method);
		reply_error(cl, id, &err);
	}
	json_decref(msg);
}

/*
 * The peer's credentials (SO_PEERCRED, taken by the kernel at connect) against
 * control.nsm_uids, or root and our own uid when the list is not given. The
 * socket's 0600 mode stops other users first; this check is what holds when a
 * process of another uid can still reach it (CAP_DAC_OVERRIDE, an inherited
 * descriptor, a mode changed by hand).
 */
static bool
peer_allowed(struct mg_ctl *c, int fd, unsigned int *uid, int *pid)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return false;
	*uid = cr.uid;
	*pid = cr.pid;
	if (c->conf.nnsm_uids == 0)
		return cr.uid == 0 || cr.uid == geteuid();
	for (unsigned int i = 0; i < c->conf.nnsm_uids; i++)
		if (c->conf.nsm_uids[i] == cr.uid)
			return true;
	return false;
}

/* Tell a peer refused at accept why (one error line, best effort) and close it. */
static void
refuse(int fd, const char *line)
{
	ssize_t rc = send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);

	(void)rc; /* the peer is refused either way */
	close(fd);
}

static void
accept_clients(struct mg_ctl *c)
{
	for (;;) {
		int fd = accept4(c->nsm_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct nsm_client *cl = NULL;
		unsigned int uid = 0;
		int pid = 0;

		if (fd < 0)
			return;
		if (!peer_allowed(c, fd, &uid, &pid)) {
			/* Rate-limited: a refused peer could otherwise fill the log. */
			if (++c->nsm_refused <= 10 || c->nsm_refused % 1000 == 0)
				SOCK_LOG(WARNING, "refused a peer with uid %u (pid %d): not in "
					 "control.nsm_uids (%" PRIu64 " refused so far)\n", uid, pid,
					 c->nsm_refused);
			refuse(fd, "{\"error\":{\"status\":403,\"code\":\"PERMISSION_DENIED\","
				   "\"field\":\"\",\"message\":\"this uid may not use the NSM "
				   "socket\"}}\n");
			continue;
		}
		for (unsigned int i = 0; i < CTL_MAX_NSM_CLIENTS; i++)
			if (c->clients[i].fd < 0) {
				cl = &c->clients[i];
				break;
			}
		if (cl == NULL) {
			if (++c->nsm_full <= 10 || c->nsm_full % 1000 == 0)
				SOCK_LOG(WARNING, "refused a peer (pid %d): all %u client slots in use "
					 "(%" PRIu64 " refused so far)\n", pid, CTL_MAX_NSM_CLIENTS,
					 c->nsm_full);
			refuse(fd, "{\"error\":{\"status\":503,\"code\":\"UNAVAILABLE\","
				   "\"field\":\"\",\"message\":\"every NSM client slot is in "
				   "use: try again\"}}\n");
			continue;
		}
		memset(cl, 0, sizeof(*cl));
		cl->fd = fd;
	}
}

/* Read and handle what client @cl sent; returns whether a message was handled. */
static bool
read_client(struct mg_ctl *c, struct nsm_client *cl)
{
	char buf[65536];
	bool handled = false;

	for (;;) {
		ssize_t n = recv(cl->fd, buf, sizeof(buf), MSG_DONTWAIT);
		char *nl;

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			client_drop(cl);
			return handled;
		}
		if (n < 0)
			return handled;
		if (cl->nin + (size_t)n > CTL_NSM_LINE_MAX) {
			struct mg_error err;

			mg_wipe(buf, (size_t)n);
			mg_error_set(&err, E2BIG, "", "message longer than %u bytes", CTL_NSM_LINE_MAX);
			reply_error(cl, NULL, &err);
			flush_out(cl);
			client_drop(cl);
			return handled;
		}
		{
			char *in = mg_realloc_wiped(cl->in, cl->nin + (size_t)n + 1);

			if (in == NULL) {
				mg_wipe(buf, (size_t)n);
				client_drop(cl);
				return handled;
			}
			cl->in = in;
		}
		memcpy(cl->in + cl->nin, buf, (size_t)n);
		mg_wipe(buf, (size_t)n);
		if (cl->nin == 0)
			cl->partial_ns = mg_now_ns();
		cl->nin += (size_t)n;
		cl->in[cl->nin] = '\0';
		while (cl->fd >= 0 && (nl = memchr(cl->in, '\n', cl->nin)) != NULL) {
			size_t len = (size_t)(nl - cl->in);

			*nl = '\0';
			if (len > 0) {
				handle(c, cl, cl->in);
				handled = true;
			}
			if (cl->fd < 0)
				return handled;
			memmove(cl->in, nl + 1, cl->nin - len - 1);
			cl->nin -= len + 1;
			cl->partial_ns = mg_now_ns(); /* what is left began now */
			mg_wipe(cl->in + cl->nin, len + 1); /* the handled line's bytes */
		}
	}
}

void
nsm_run(struct mg_ctl *c)
{
	if (c->nsm_fd < 0)
		return;
	accept_clients(c);
	for (unsigned int i = 0; i < CTL_MAX_NSM_CLIENTS; i++) {
		struct nsm_client *cl = &c->clients[i];

		if (cl->fd < 0)
			continue;
		/* A line that never ends would hold a client slot for ever. */
		if (cl->nin > 0 && mg_now_ns() - cl->partial_ns > CTL_NSM_LINE_NS) {
			struct mg_error err;

			mg_error_set(&err, ETIMEDOUT, "", "a message unfinished for %u s: every "
				     "message is one line ending in a newline",
				     (unsigned int)(CTL_NSM_LINE_NS / 1000000000ull));
			reply_error(cl, NULL, &err);
			flush_out(cl);
			c->nsm_stalled++;
			SOCK_LOG(NOTICE, "dropped a client whose message stayed unfinished\n");
			client_drop(cl);
			continue;
		}
		/*
		 * A request's keys went through this stack (recv's buffer, the
		 * parsers' frames, registers spilled there): burn it below us.
		 */
		if (read_client(c, cl))
			sodium_stackzero(CTL_NSM_STACK_BURN);
		if (cl->fd >= 0)
			flush_out(cl);
	}
}
