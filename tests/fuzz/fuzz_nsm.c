/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Harness "nsm": bytes a client writes into the NSM control socket
 * (lib/ctl: ctl_nsm.c framing and dispatch, ctl_nsmschema.c checking and
 * normalising the NetworkService messages, ctl_conn.c setting connections
 * up and closing them), through a real Unix socket to the real accept and
 * read path, served by mg_ctl_run as the main loop serves it.
 *
 * Input: what the client sends, as is (newline-delimited JSON).
 *
 * Checked: every line the gateway answers is a JSON object carrying a
 * result, an error or an event; closing every connection afterwards works
 * and leaves the model exactly as the fixture built it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "fuzz.h"
#include "fuzz_ctl.h"
#include "mg_common.h"
#include "mg_ctl.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet_logs();
	return 0;
}

/* Check the complete reply lines in @buf; keep a partial last line. */
static void
check_replies(char *buf, size_t *n)
{
	char *start = buf, *nl;

	while ((nl = memchr(start, '\n', *n - (size_t)(start - buf))) != NULL) {
		json_error_t je;
		json_t *j;

		*nl = '\0';
		if (getenv("MG_FUZZ_VERBOSE") != NULL)
			fprintf(stderr, "reply: %.300s\n", start);
		j = json_loads(start, 0, &je);
		FZ_ASSERT(j != NULL && json_is_object(j), "reply is not a JSON object: %s", start);
		FZ_ASSERT(json_object_get(j, "result") || json_object_get(j, "error") ||
				  json_object_get(j, "event"),
			  "reply without result, error or event: %s", start);
		json_decref(j);
		start = nl + 1;
	}
	*n -= (size_t)(start - buf);
	memmove(buf, start, *n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char reply[1 << 20];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct fz_ctl *f;
	size_t sent = 0, nreply = 0;
	int fd, idle = 0;

	if (size > 256 * 1024)
		return 0;
	f = fz_ctl_get(true);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	FZ_SETUP(fd >= 0, "socket");
	mg_strlcpy(sa.sun_path, f->nsm_socket, sizeof(sa.sun_path));
	FZ_SETUP(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect %s", f->nsm_socket);
	/* Feed it, serve, read back, until everything is sent and nothing moves. */
	while (idle < 3) {
		ssize_t w = 0, r;

		if (sent < size) {
			w = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
			if (w > 0)
				sent += (size_t)w;
		}
		mg_ctl_run(f->ctl, mg_now_ns());
		r = recv(fd, reply + nreply, sizeof(reply) - 1 - nreply, 0);
		if (r > 0) {
			nreply += (size_t)r;
			check_replies(reply, &nreply);
			FZ_ASSERT(nreply < sizeof(reply) - 1, "a reply line longer than %zu bytes",
				  sizeof(reply));
		}
		if (r == 0)
			break;   /* the gateway dropped us (a line too long) */
		idle = (w <= 0 && r <= 0 && sent == size) ? idle + 1 : 0;
	}
	close(fd);
	mg_ctl_run(f->ctl, mg_now_ns());
	fz_ctl_put(f, true);
	return 0;
}
