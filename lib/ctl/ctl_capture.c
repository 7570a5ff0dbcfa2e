/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Live pcapng over REST: GET /v1/captures/{id}/pcapng sends the capture file
 * from its start and then whatever the main lcore appends, until the capture
 * stops. The response has no length (chunked); when the reader has caught
 * up with a running capture its connection is suspended, and resumed by
 * rest_run() once the capture's generation moves (a write or a stop), so an
 * idle stream costs nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "ctl_priv.h"
#include "mg_capture.h"

struct capstream {
	struct mg_ctl *c;
	struct MHD_Connection *hc;
	uint32_t id;
	int fd;
	bool suspended;
	uint64_t gen;             /* the generation it waits to move past */
	struct capstream *next;
};

static ssize_t
cs_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct capstream *s = cls;
	struct mg_capture *cap = s->c->env.capture;
	struct mg_capture_info info;
	ssize_t n = pread(s->fd, buf, max, (off_t)pos);

	if (n > 0)
		return n;
	if (n < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	/* Caught up. One thread does both the writing and this: no race. */
	if (cap == NULL || !mg_capture_get(cap, s->id, &info) || !info.running)
		return MHD_CONTENT_READER_END_OF_STREAM;
	s->gen = mg_capture_generation(cap);
	s->suspended = true;
	MHD_suspend_connection(s->hc);
	return 0;
}

static void
cs_free(void *cls)
{
	struct capstream *s = cls, **pp;

	for (pp = &s->c->streams; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	close(s->fd);
	free(s);
}

struct MHD_Response *
capstream_open(struct mg_ctl *c, struct MHD_Connection *hc, uint32_t id, struct mg_error *err)
{
	struct mg_capture_info info;
	struct MHD_Response *mr;
	struct capstream *s;
	unsigned int n = 0;

	if (c->env.capture == NULL || !mg_capture_get(c->env.capture, id, &info)) {
		mg_error_set(err, ENOENT, "id", "no capture %u", id);
		return NULL;
	}
	for (s = c->streams; s != NULL; s = s->next)
		n++;
	if (n >= CTL_MAX_STREAMS) {
		mg_error_set(err, EBUSY, "", "%u live capture streams are open (the most)",
			     CTL_MAX_STREAMS);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		mg_error_set(err, ENOMEM, "", "out of memory");
		return NULL;
	}
	s->fd = open(info.path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (s->fd < 0) {
		mg_error_set(err, errno == ENOENT ? ENOENT : EIO, "id",
			     "the file of capture %u cannot be read: %s", id, strerror(errno));
		free(s);
		return NULL;
	}
	s->c = c;
	s->hc = hc;
	s->id = id;
	mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, cs_read, s, cs_free);
	if (mr == NULL) {
		close(s->fd);
		free(s);
		mg_error_set(err, ENOMEM, "", "out of memory");
		return NULL;
	}
	s->next = c->streams;
	c->streams = s;
	return mr;
}

void
capstream_resume(struct mg_ctl *c, bool all)
{
	uint64_t gen = c->env.capture != NULL ? mg_capture_generation(c->env.capture) : 0;

	for (struct capstream *s = c->streams; s != NULL; s = s->next)
		if (s->suspended && (all || c->env.capture == NULL || gen != s->gen)) {
			s->suspended = false;
			MHD_resume_connection(s->hc);
		}
}
