/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control plane's start-up files and addresses, read the same way by
 * the configuration check (meshgate --check reports them at FILE:LINE) and
 * by the REST endpoint that uses them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mg_common.h"

/* A port number of 1-5 decimal digits and nothing after it: 0..65535, or -1. */
static long
port_parse(const char *s)
{
	long v = 0;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9' && i < 5; i++)
		v = v * 10 + (s[i] - '0');
	return i == 0 || s[i] != '\0' || v > 65535 ? -1 : v;
}

int
mg_listen_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *sep;
	long port;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		sep = strchr(s, ']');
		if (sep == NULL || sep[1] != ':' || (size_t)(sep - s - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, (size_t)(sep - s - 1));
		host[sep - s - 1] = '\0';
		port = port_parse(sep + 2);
		a->sin6_family = AF_INET6;
		if (port < 0 || inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return -EINVAL;
		a->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a);
		return 0;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;

	sep = strrchr(s, ':');
	if (sep == NULL || (size_t)(sep - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(sep - s));
	host[sep - s] = '\0';
	port = port_parse(sep + 1);
	a->sin_family = AF_INET;
	if (port < 0 || inet_pton(AF_INET, host, &a->sin_addr) != 1)
		return -EINVAL;
	a->sin_port = htons((uint16_t)port);
	*len = sizeof(*a);
	return 0;
}

/*
 * Up to @p size - 1 bytes of the regular file @p path into @p buf (NUL
 * added): their count, -1 (errno set) when it cannot be opened, -2 when it
 * is not a regular file (a FIFO or a terminal would wait forever).
 * @p mode (if not NULL) gets its permission bits.
 */
static ssize_t
read_regular(const char *path, char *buf, size_t size, unsigned int *mode)
{
	struct stat st;
	ssize_t r;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -2;
	}
	if (mode != NULL)
		*mode = st.st_mode & 0777;
	while (n < size - 1 && (r = read(fd, buf + n, size - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = '\0';
	return (ssize_t)n;
}

int
mg_token_file_read(const char *path, const char *field, char *buf, size_t size,
		   unsigned int *mode, struct mg_error *err)
{
	ssize_t got = read_regular(path, buf, size, mode);
	size_t n;

	if (got == -1)
		return mg_error_set(err, errno, field, "cannot read %s: %s", path, strerror(errno));
	if (got == -2)
		return mg_error_set(err, EINVAL, field, "%s is not a regular file", path);
	n = (size_t)got;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	if (n < 16) {
		mg_wipe(buf, size);
		return mg_error_set(err, EINVAL, field, "%s holds fewer than 16 characters", path);
	}
	return (int)n;
}

char *
mg_pem_file_read(const char *path, const char *field, size_t *len, unsigned int *mode,
		 struct mg_error *err)
{
	struct stat st;
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	size_t got = 0;

	if (fd < 0) {
		mg_error_set(err, errno, field, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    st.st_size > (1 << 20)) {
		mg_error_set(err, EINVAL, field, "%s is not a PEM file (empty, too large or not a "
				     "regular file)", path);
		close(fd);
		return NULL;
	}
	if (mode != NULL)
		*mode = st.st_mode & 0777;
	buf = malloc((size_t)st.st_size + 1);
	while (buf != NULL && got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (buf == NULL || got != (size_t)st.st_size) {
		mg_free_wiped(buf);
		mg_error_set(err, EIO, field, "cannot read %s", path);
		return NULL;
	}
	buf[got] = '\0';
	if (strstr(buf, "-----BEGIN ") == NULL) {
		mg_free_wiped(buf);
		mg_error_set(err, EINVAL, field, "%s holds no PEM block", path);
		return NULL;
	}
	*len = got;
	return buf;
}

char *
mg_file_read_all(const char *path, size_t max, size_t *len, struct mg_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 0, n = 0;
	char *buf = NULL;
	ssize_t r;

	if (fd < 0) {
		mg_error_set(err, errno, "", "cannot open: %s", strerror(errno));
		return NULL;
	}
	for (;;) {
		if (n > max) {
			mg_free_wiped(buf);
			close(fd);
			mg_error_set(err, EFBIG, "", "file is larger than %zu MiB", max >> 20);
			return NULL;
		}
		if (n + 1 >= cap) {
			char *nb = mg_realloc_wiped(buf, cap + 65536);

			if (nb == NULL) {
				mg_free_wiped(buf);
				close(fd);
				mg_error_set(err, ENOMEM, "", "out of memory");
				return NULL;
			}
			buf = nb;
			cap += 65536;
		}
		r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			mg_error_set(err, errno, "", "cannot read: %s", strerror(errno));
			mg_free_wiped(buf);
			close(fd);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > max) {
		mg_free_wiped(buf);
		mg_error_set(err, EFBIG, "", "file is larger than %zu MiB", max >> 20);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

int
mg_file_line_read(const char *path, char *buf, size_t size, struct mg_error *err)
{
	ssize_t got = read_regular(path, buf, size, NULL);

	if (got == -1)
		return mg_error_set(err, errno, "", "cannot read '%s': %s", path, strerror(errno));
	if (got == -2)
		return mg_error_set(err, EINVAL, "", "'%s' is not a regular file", path);
	buf[strcspn(buf, "\r\n")] = '\0';
	return (int)strlen(buf);
}
