/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Harness "rest": REST requests as libmicrohttpd hands them over (the path
 * as received, the ?network= argument, the Authorization header, the body),
 * answered by lib/ctl's REST handling (rest_handle: path decoding, token
 * check, routing, JSON bodies, model operations, batches, connections,
 * metrics). HTTP framing itself is libmicrohttpd's, not ours.
 *
 * Input: requests separated by a line "~~~". Each request:
 *   METHOD SP URL LF                   (URL: path, optionally ?query)
 *   [Authorization: VALUE LF]          (without it: the right bearer token)
 *   BODY                               (the rest, may be empty)
 *
 * Checked: the status is an HTTP status, a 405 says which methods are
 * allowed, every body but /metrics' is JSON, and closing every connection
 * afterwards works.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl_priv.h"
#include "fuzz.h"
#include "fuzz_ctl.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet_logs();
	return 0;
}

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* The value of argument @key in @query, percent- and plus-decoded into @out, or NULL. */
static const char *
query_arg(char *query, const char *key, char *out, size_t n)
{
	size_t klen = strlen(key);

	for (char *a = query; a != NULL && *a != '\0';) {
		char *amp = strchr(a, '&');

		if (amp != NULL)
			*amp = '\0';
		if (strncmp(a, key, klen) == 0 && (a[klen] == '=' || a[klen] == '\0')) {
			const char *v = a[klen] == '=' ? a + klen + 1 : "";
			size_t w = 0;

			for (; *v != '\0' && w + 1 < n; v++) {
				int hi, lo;

				if (v[0] == '%' && (hi = hexval(v[1])) >= 0 && (lo = hexval(v[2])) >= 0) {
					out[w++] = (char)(hi * 16 + lo);
					v += 2;
				} else {
					out[w++] = *v == '+' ? ' ' : *v;
				}
			}
			out[w] = '\0';
			return out;
		}
		a = amp != NULL ? amp + 1 : NULL;
	}
	return NULL;
}

static void
one_request(struct fz_ctl *f, const uint8_t *p, size_t len)
{
	char line[2048], auth[512], netarg[256], method[32], *url, *q, *sp;
	const char *authz = "Bearer " FZ_CTL_TOKEN, *network = NULL, *allow;
	const uint8_t *nl = memchr(p, '\n', len);
	size_t llen = nl ? (size_t)(nl - p) : len, off;
	char *text;
	int status;

	if (llen >= sizeof(line))
		return;
	memcpy(line, p, llen);
	line[llen] = '\0';
	off = nl ? llen + 1 : len;
	sp = strchr(line, ' ');
	if (sp == NULL || (size_t)(sp - line) >= sizeof(method) || sp == line)
		return;
	memcpy(method, line, (size_t)(sp - line));
	method[sp - line] = '\0';
	url = sp + 1;
	if (*url == '\0')
		return;
	if (len - off > 15 && memcmp(p + off, "Authorization: ", 15) == 0) {
		const uint8_t *e = memchr(p + off, '\n', len - off);
		size_t alen = (e ? (size_t)(e - p) : len) - off - 15;

		if (alen >= sizeof(auth))
			return;
		memcpy(auth, p + off + 15, alen);
		auth[alen] = '\0';
		authz = auth;
		off = e ? (size_t)(e - p) + 1 : len;
	}
	q = strchr(url, '?');
	if (q != NULL) {
		*q++ = '\0';
		network = query_arg(q, "network", netarg, sizeof(netarg));
	}
	status = rest_handle(f->ctl, method, url, network, authz, (const char *)p + off, len - off,
			     &text, &allow);
	if (getenv("MG_FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "%s %s -> %d %.200s\n", method, url, status, text ? text : "");
	FZ_ASSERT(status >= 200 && status <= 599, "%s %s: status %d", method, url, status);
	FZ_ASSERT(status != 405 || allow != NULL, "%s %s: 405 without Allow", method, url);
	if (text != NULL && strcmp(url, "/metrics") != 0) {
		json_error_t je;
		json_t *j = json_loads(text, JSON_DECODE_ANY, &je);

		FZ_ASSERT(j != NULL, "%s %s: %d with a body that is not JSON: %s", method, url,
			  status, text);
		if (status >= 400)
			FZ_ASSERT(json_is_object(j), "%s %s: error %d is not an object: %s", method,
				  url, status, text);
		json_decref(j);
	}
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char sep[] = "\n~~~\n";
	struct fz_ctl *f;
	size_t off = 0;

	if (size > 256 * 1024)
		return 0;
	f = fz_ctl_get(false);
	while (off < size) {
		const uint8_t *e = memmem(data + off, size - off, sep, sizeof(sep) - 1);
		size_t len = e ? (size_t)(e - data) - off : size - off;

		one_request(f, data + off, len);
		off += len + (e ? sizeof(sep) - 1 : 0);
	}
	fz_ctl_put(f, false);
	return 0;
}
