/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Where a gateway's control endpoints are. meshgate with file prefix P keeps
 * them in its DPDK run directory /var/run/dpdk/P: rest.addr (the bound
 * HOST:PORT), rest.token (the bearer token, unless the configuration names
 * a token file) and nsm.sock. The default instance ("meshgate") serves
 * /run/meshgate/nsm.sock and 127.0.0.1:8080 instead. Every one of them can
 * be overridden on the command line.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"

#define DEFAULT_PREFIX "meshgate"
#define DEFAULT_REST "127.0.0.1:8080"
#define DEFAULT_NSM "/run/meshgate/nsm.sock"

/* Read the first line of @path into @out, without trailing white space; 0 or -errno. */
static int
first_line(const char *path, char *out, size_t n)
{
	FILE *f = fopen(path, "re");
	size_t len;

	if (f == NULL)
		return -errno;
	if (fgets(out, (int)n, f) == NULL) {
		int e = ferror(f) ? EIO : ENODATA;

		fclose(f);
		return -e;
	}
	fclose(f);
	len = strlen(out);
	while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r' || out[len - 1] == ' ' ||
			   out[len - 1] == '\t'))
		out[--len] = '\0';
	return len > 0 ? 0 : -ENODATA;
}

/* True if the run directory of the prefix exists (the gateway started once). */
static bool
run_dir_exists(const struct ctl *c)
{
	struct stat st;

	return stat(c->run_dir, &st) == 0 && S_ISDIR(st.st_mode);
}

int
ctl_locate_rest(struct ctl *c, char *out, size_t n)
{
	char path[300];
	int rc;

	if (c->rest_addr != NULL) {
		snprintf(out, n, "%s", c->rest_addr);
		return CTL_EXIT_OK;
	}
	snprintf(path, sizeof(path), "%s/rest.addr", c->run_dir);
	rc = first_line(path, out, n);
	if (rc == 0)
		return CTL_EXIT_OK;
	if (strcmp(c->prefix, DEFAULT_PREFIX) == 0) {
		snprintf(out, n, "%s", DEFAULT_REST);
		return CTL_EXIT_OK;
	}
	if (!run_dir_exists(c))
		ctl_err("meshgate with file prefix '%s' is not running (no %s)", c->prefix, c->run_dir);
	else
		ctl_err("cannot read %s: %s (is meshgate running with file prefix '%s', with REST "
			"enabled? --rest HOST:PORT names it)",
			path, rc == -ENODATA ? "empty" : strerror(-rc), c->prefix);
	return CTL_EXIT_UNREACHABLE;
}

int
ctl_locate_token(struct ctl *c, char *out, size_t n)
{
	char path[300];
	int rc;

	if (c->token_file != NULL) {
		rc = first_line(c->token_file, out, n);
		if (rc < 0) {
			ctl_err("%s: cannot read %s: %s", c->token_origin, c->token_file,
				rc == -ENODATA ? "empty" : strerror(-rc));
			return CTL_EXIT_USAGE;
		}
		return CTL_EXIT_OK;
	}
	snprintf(path, sizeof(path), "%s/rest.token", c->run_dir);
	rc = first_line(path, out, n);
	if (rc == 0)
		return CTL_EXIT_OK;
	if (c->rest_addr != NULL)
		ctl_err("no REST token: %s: %s (with --rest, give --token-file as well)", path,
			rc == -ENODATA ? "empty" : strerror(-rc));
	else if (!run_dir_exists(c))
		ctl_err("meshgate with file prefix '%s' is not running (no %s)", c->prefix, c->run_dir);
	else
		ctl_err("cannot read the REST token %s: %s (run as root; if meshgate reads its token "
			"from control.rest.token_file, pass --token-file)",
			path, rc == -ENODATA ? "empty" : strerror(-rc));
	return CTL_EXIT_UNREACHABLE;
}

const char *
ctl_locate_nsm(struct ctl *c, char *buf, size_t n)
{
	if (c->nsm_path != NULL)
		return c->nsm_path;
	if (strcmp(c->prefix, DEFAULT_PREFIX) == 0)
		return DEFAULT_NSM;
	snprintf(buf, n, "%s/nsm.sock", c->run_dir);
	return buf;
}

const char *
ctl_locate_telemetry(struct ctl *c, char *buf, size_t n)
{
	if (c->tel_socket != NULL)
		return c->tel_socket;
	snprintf(buf, n, "%s/dpdk_telemetry.v2", c->run_dir);
	return buf;
}
