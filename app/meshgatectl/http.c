/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A small HTTP/1.1 client for meshgate's REST endpoint: one request per TCP
 * connection (Connection: close), IPv4 or IPv6, a body sent with
 * Content-Length, and a response read by Content-Length, by chunked transfer
 * coding, or until the server closes the connection. An address written
 * "https://HOST:PORT" is spoken to over TLS (OpenSSL): the server's
 * certificate must chain to --cacert (or the system's trust store) and name
 * HOST (an IP address SAN for an address).
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ctl.h"

/* The largest response accepted: a full table of routes fits many times over. */
#define HTTP_MAX_RESPONSE (256u << 20)

/* The CA file that verifies an https:// server (--cacert), or NULL: the system's. */
static const char *http_cacert;

void
http_set_cacert(const char *path)
{
	http_cacert = path;
}

/* One connection: a socket, and its TLS session for https://. */
struct hconn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
};

/*
 * Split "HOST:PORT", "[V6]:PORT", or either after "http://" or "https://",
 * into its host and port (and whether it is TLS); 0 or -1.
 */
static int
split_addr(const char *addr, char *host, size_t hn, char *port, size_t pn, bool *tls)
{
	const char *p;
	size_t hl;
	unsigned long v;
	char *end;

	*tls = false;
	if (strncmp(addr, "https://", 8) == 0) {
		*tls = true;
		addr += 8;
	} else if (strncmp(addr, "http://", 7) == 0) {
		addr += 7;
	}
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		hl = (size_t)(close - addr - 1);
		p = close + 2;
		if (hl == 0 || hl >= hn)
			return -1;
		memcpy(host, addr + 1, hl);
	} else {
		const char *colon = strrchr(addr, ':');

		/* An IPv6 address must be in brackets: its colons are ambiguous. */
		if (colon == NULL || strchr(addr, ':') != colon)
			return -1;
		hl = (size_t)(colon - addr);
		p = colon + 1;
		if (hl == 0 || hl >= hn)
			return -1;
		memcpy(host, addr, hl);
	}
	host[hl] = '\0';
	errno = 0;
	v = strtoul(p, &end, 10);
	/* A trailing "/" of a URL is allowed. */
	if (*p < '0' || *p > '9' || (*end != '\0' && strcmp(end, "/") != 0) || errno != 0 ||
	    v == 0 || v > 65535 ||
	    strlen(p) >= pn)
		return -1;
	snprintf(port, pn, "%lu", v);
	return 0;
}

/* Connect to @host:@port with send and receive timeouts; the socket or -1. */
static int
dial(const char *host, const char *port, char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	struct timeval tv = {.tv_sec = CTL_TIMEOUT_S};
	int fd = -1, rc, e = ECONNREFUSED;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		/* Linux applies SO_SNDTIMEO to connect() too. */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		e = errno == EINPROGRESS ? ETIMEDOUT : errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(err, errlen, "%s", strerror(e));
	return fd;
}

/* The first error OpenSSL queued, as text (or @p dflt). */
static const char *
tls_reason(const char *dflt)
{
	static char buf[256];
	unsigned long e = ERR_get_error();

	if (e == 0)
		return dflt;
	ERR_error_string_n(e, buf, sizeof(buf));
	return buf;
}

/*
 * OpenSSL writes to the socket without MSG_NOSIGNAL, and meshgatectl keeps
 * SIGPIPE's default action (to end quietly in a pipe): a server that closed
 * the connection (a 413 before the whole body) must not kill us. SIGPIPE is
 * blocked around the call and a pending one taken back.
 */
enum ssl_op { HC_WRITE, HC_SHUTDOWN, HC_CONNECT };

static int
ssl_nosigpipe(SSL *ssl, const void *buf, int n, enum ssl_op op)
{
	sigset_t pipe, old, pending;
	struct timespec zero = {0};
	int r;

	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipe, &old);
	r = op == HC_SHUTDOWN ? SSL_shutdown(ssl)
	    : op == HC_CONNECT ? SSL_connect(ssl)
				   : SSL_write(ssl, buf, n);
	sigpending(&pending);
	if (sigismember(&pending, SIGPIPE))
		sigtimedwait(&pipe, NULL, &zero);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return r;
}

/*
 * TLS over @p h->fd: the server's chain checked against --cacert (or the
 * default trust store) and its name or address against @p host; 0, or -1 with
 * @p err.
 */
static int
tls_start(struct hconn *h, const char *host, char *err, size_t errlen)
{
	X509_VERIFY_PARAM *vp;
	long vr;

	h->ctx = SSL_CTX_new(TLS_client_method());
	if (h->ctx == NULL) {
		snprintf(err, errlen, "TLS: %s", tls_reason("cannot set up"));
		return -1;
	}
	SSL_CTX_set_min_proto_version(h->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(h->ctx, SSL_VERIFY_PEER, NULL);
	if (http_cacert != NULL ? SSL_CTX_load_verify_locations(h->ctx, http_cacert, NULL) != 1
				: SSL_CTX_set_default_verify_paths(h->ctx) != 1) {
		snprintf(err, errlen, "TLS: cannot load the CA certificates%s%s: %s",
			 http_cacert ? " from " : "", http_cacert ? http_cacert : "",
			 tls_reason("unreadable"));
		return -1;
	}
	h->ssl = SSL_new(h->ctx);
	if (h->ssl == NULL || SSL_set_fd(h->ssl, h->fd) != 1) {
		snprintf(err, errlen, "TLS: %s", tls_reason("cannot set up"));
		return -1;
	}
	vp = SSL_get0_param(h->ssl);
	X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	/* An address must be an IP SAN of the certificate; a name, a DNS SAN (and SNI). */
	if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1) {
		ERR_clear_error();
		if (X509_VERIFY_PARAM_set1_host(vp, host, 0) != 1 ||
		    SSL_set_tlsext_host_name(h->ssl, host) != 1) {
			snprintf(err, errlen, "TLS: bad host name '%s'", host);
			return -1;
		}
	}
	if (ssl_nosigpipe(h->ssl, NULL, 0, HC_CONNECT) != 1) {
		vr = SSL_get_verify_result(h->ssl);
		if (vr != X509_V_OK)
			snprintf(err, errlen, "TLS: the server's certificate is not trusted: %s%s",
				 X509_verify_cert_error_string(vr),
				 http_cacert ? "" : " (--cacert names the CA)");
		else
			snprintf(err, errlen, "TLS handshake failed: %s",
				 tls_reason("the server closed the connection"));
		return -1;
	}
	return 0;
}

/* Close @p h (a TLS session first). */
static void
hconn_close(struct hconn *h)
{
	if (h->ssl != NULL) {
		if (SSL_is_init_finished(h->ssl))
			ssl_nosigpipe(h->ssl, NULL, 0, HC_SHUTDOWN);
		SSL_free(h->ssl);
	}
	SSL_CTX_free(h->ctx);
	if (h->fd >= 0)
		close(h->fd);
	h->ssl = NULL;
	h->ctx = NULL;
	h->fd = -1;
}

/* Connect to @p addr, TLS included; 0, or -1 with @p err and @p unreachable. */
static int
hconn_open(struct hconn *h, const char *addr, char *host, size_t hn, char *port, size_t pn,
	   bool *unreachable, char *err, size_t errlen)
{
	bool tls;

	memset(h, 0, sizeof(*h));
	h->fd = -1;
	*unreachable = true;
	if (split_addr(addr, host, hn, port, pn, &tls) < 0) {
		snprintf(err, errlen, "'%s' is not HOST:PORT (or [IPV6]:PORT, or https://...)",
			 addr);
		return -1;
	}
	h->fd = dial(host, port, err, errlen);
	if (h->fd < 0)
		return -1;
	if (tls && tls_start(h, host, err, errlen) < 0) {
		hconn_close(h);
		return -1;
	}
	*unreachable = false;
	return 0;
}

/* recv() through the TLS session if there is one. */
static ssize_t
hconn_recv(struct hconn *h, void *buf, size_t n)
{
	if (h->ssl != NULL) {
		int r = SSL_read(h->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);

		if (r > 0)
			return r;
		switch (SSL_get_error(h->ssl, r)) {
		case SSL_ERROR_ZERO_RETURN:
			return 0;
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:
			errno = EAGAIN; /* SO_RCVTIMEO ran out */
			return -1;
		case SSL_ERROR_SYSCALL:
			/* An EOF without close_notify: as a plain close. */
			return errno == 0 ? 0 : -1;
		default:
			errno = EPROTO;
			return -1;
		}
	}
	return recv(h->fd, buf, n, 0);
}

/* Write all of @buf; 0 or -errno. */
static int
send_all(struct hconn *h, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w;

		if (h->ssl != NULL) {
			int r = ssl_nosigpipe(h->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len,
					      HC_WRITE);

			if (r <= 0)
				return -EPIPE;
			w = r;
		} else {
			w = send(h->fd, buf, len, MSG_NOSIGNAL);
		}

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Find the blank line ending the headers in @p[0..n); its end offset, or 0. */
/*
 * Send the request header @p head (@p n bytes from asprintf; n < 0: it failed)
 * and then @p body, if any. The header holds the token: it is wiped and freed
 * here. 0, or -1 with @p err and @p h closed.
 */
static int
send_request(struct hconn *h, char *head, int n, const char *body, size_t blen, char *err,
	     size_t errlen)
{
	int rc;

	if (n < 0) {
		hconn_close(h);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = send_all(h, head, (size_t)n);
	explicit_bzero(head, (size_t)n);
	free(head);
	if (rc == 0 && body != NULL)
		rc = send_all(h, body, blen);
	if (rc < 0) {
		snprintf(err, errlen, "sending the request: %s", strerror(-rc));
		hconn_close(h);
		return -1;
	}
	return 0;
}

static size_t
headers_end(const char *p, size_t n)
{
	for (size_t i = 3; i < n; i++)
		if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r')
			return i + 1;
	return 0;
}

/* What the headers say about the body. */
struct framing {
	long long length; /* Content-Length, or -1 */
	bool chunked;
};

/* Parse the status line and the headers we need; 0 or -1. */
static int
parse_head(char *head, struct http_resp *r, struct framing *fr)
{
	char *save = NULL, *line = strtok_r(head, "\r\n", &save);
	int major, minor, st, off = 0;

	fr->length = -1;
	fr->chunked = false;
	if (line == NULL || sscanf(line, "HTTP/%d.%d %3d%n", &major, &minor, &st, &off) != 3 ||
	    st < 100 || st > 599)
		return -1;
	r->status = st;
	snprintf(r->reason, sizeof(r->reason), "%s", line[off] == ' ' ? line + off + 1 : "");
	while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
		char *colon = strchr(line, ':'), *v;

		if (colon == NULL)
			return -1;
		*colon = '\0';
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		if (strcasecmp(line, "Content-Length") == 0) {
			char *end;

			errno = 0;
			fr->length = strtoll(v, &end, 10);
			if (errno != 0 || end == v || fr->length < 0)
				return -1;
		} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
			fr->chunked = strcasestr(v, "chunked") != NULL;
		}
	}
	return 0;
}

/*
 * Decode a chunked body in @p[0..n) into @out (allocated); 1 when complete,
 * 0 when more bytes are needed, -1 when malformed.
 */
static int
dechunk(const char *p, size_t n, char **out, size_t *outlen)
{
	size_t pos = 0, len = 0;
	char *buf = malloc(n + 1);

	if (buf == NULL)
		return -1;
	for (;;) {
		const char *eol = memchr(p + pos, '\n', n - pos);
		unsigned long long sz;
		char *end;

		if (eol == NULL)
			break;
		errno = 0;
		sz = strtoull(p + pos, &end, 16);
		if (end == p + pos || errno != 0 || sz > HTTP_MAX_RESPONSE) {
			free(buf);
			return -1;
		}
		pos = (size_t)(eol - p) + 1;
		if (sz == 0) {
			/* Trailers, then an empty line. */
			for (;;) {
				eol = memchr(p + pos, '\n', n - pos);
				if (eol == NULL)
					goto more;
				if (eol == p + pos || (eol == p + pos + 1 && p[pos] == '\r')) {
					buf[len] = '\0';
					*out = buf;
					*outlen = len;
					return 1;
				}
				pos = (size_t)(eol - p) + 1;
			}
		}
		if (n - pos < sz + 2)
			break;
		memcpy(buf + len, p + pos, sz);
		len += sz;
		pos += sz;
		if (p[pos] == '\r')
			pos++;
		if (p[pos] != '\n') {
			free(buf);
			return -1;
		}
		pos++;
	}
more:
	free(buf);
	return 0;
}

/* Statuses that never carry a body. */
static bool
no_body(int status)
{
	return status == 204 || status == 304 || (status >= 100 && status < 200);
}

/* Read the response on @fd into @r; 0, or -1 with @err. */
static int
read_response(struct hconn *h, struct http_resp *r, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0, cap = 0, hend = 0;
	struct framing fr = {.length = -1};
	int rc = -1;

	for (;;) {
		ssize_t n;

		/* Headers, skipping any 1xx interim responses. */
		while (hend == 0 && (hend = headers_end(buf ? buf : "", len)) != 0) {
			char *head = strndup(buf, hend);

			if (head == NULL || parse_head(head, r, &fr) < 0) {
				free(head);
				snprintf(err, errlen, "malformed HTTP response header");
				goto out;
			}
			free(head);
			if (r->status >= 100 && r->status < 200) {
				memmove(buf, buf + hend, len - hend);
				len -= hend;
				hend = 0;
			}
		}
		if (hend != 0) {
			size_t have = len - hend;

			if (no_body(r->status)) {
				r->body = strdup("");
				r->len = 0;
				rc = r->body ? 0 : -1;
				goto out;
			}
			if (fr.chunked) {
				int d = dechunk(buf + hend, have, &r->body, &r->len);

				if (d < 0) {
					snprintf(err, errlen, "malformed chunked body");
					goto out;
				}
				if (d > 0) {
					rc = 0;
					goto out;
				}
			} else if (fr.length >= 0 && have >= (size_t)fr.length) {
				break;
			}
		}
		if (cap - len < 65536) {
			char *nb;

			if (cap >= HTTP_MAX_RESPONSE) {
				snprintf(err, errlen, "response larger than %u bytes", HTTP_MAX_RESPONSE);
				goto out;
			}
			cap = cap ? cap * 2 : 65536 * 2;
			nb = realloc(buf, cap);
			if (nb == NULL) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			buf = nb;
		}
		errno = 0;
		n = hconn_recv(h, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s",
				 errno == EAGAIN ? "no answer within the timeout" : strerror(errno));
			goto out;
		}
		if (n == 0) {
			if (hend == 0) {
				snprintf(err, errlen, "connection closed before a response");
				goto out;
			}
			if (fr.chunked || fr.length >= 0) {
				snprintf(err, errlen, "connection closed in the middle of the body");
				goto out;
			}
			break; /* the body runs until the close */
		}
		len += (size_t)n;
	}
	{
		size_t blen = fr.length >= 0 ? (size_t)fr.length : len - hend;

		r->body = malloc(blen + 1);
		if (r->body == NULL) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		memcpy(r->body, buf + hend, blen);
		r->body[blen] = '\0';
		r->len = blen;
		rc = 0;
	}
out:
	free(buf);
	return rc;
}

int
http_request(const char *addr, const char *token, const char *method, const char *path,
	     const char *body, size_t blen, struct http_resp *r, bool *unreachable, char *err,
	     size_t errlen)
{
	char host[128], port[8], *head = NULL;
	struct hconn h;
	int n, rc;
	bool v6;

	memset(r, 0, sizeof(*r));
	if (hconn_open(&h, addr, host, sizeof(host), port, sizeof(port), unreachable, err,
		       errlen) < 0)
		return -1;
	v6 = strchr(host, ':') != NULL;
	n = asprintf(&head,
		     "%s %s HTTP/1.1\r\n"
		     "Host: %s%s%s:%s\r\n"
		     "User-Agent: meshgatectl\r\n"
		     "Accept: application/json, text/plain\r\n"
		     "Connection: close\r\n"
		     "%s%s%s"
		     "%s"
		     "Content-Length: %zu\r\n"
		     "\r\n",
		     method, path, v6 ? "[" : "", host, v6 ? "]" : "", port,
		     token ? "Authorization: Bearer " : "", token ? token : "", token ? "\r\n" : "",
		     body ? "Content-Type: application/json\r\n" : "", body ? blen : 0);
	if (send_request(&h, head, n, body, blen, err, errlen) < 0)
		return -1;
	rc = read_response(&h, r, err, errlen);
	hconn_close(&h);
	if (rc < 0)
		http_resp_free(r);
	return rc;
}

bool
http_addr_valid(const char *addr)
{
	char host[128], port[8];
	bool tls;

	return split_addr(addr, host, sizeof(host), port, sizeof(port), &tls) == 0;
}

void
http_resp_free(struct http_resp *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

void
http_escape(const char *s, char *out, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s != '\0' && o + 4 < n; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '.' || ch == '_' || ch == '~' || ch == ':') {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
}

/*
 * A streaming GET: the body goes to @p out as it arrives (chunked or not),
 * with no receive timeout once the answer has begun, for live captures.
 * Returns 0 when the body ended cleanly, -1 with @p err (and @p r->status set
 * if a header came; a non-2xx answer's body is kept in @p r->body).
 */
int
http_stream(const char *addr, const char *token, const char *path, int out,
	    struct http_resp *r, bool *unreachable, char *err, size_t errlen)
{
	char host[128], port[8], *head = NULL, buf[65536];
	size_t len = 0, hend = 0;
	struct framing fr = {.length = -1};
	unsigned long long left = 0;   /* bytes left in the current chunk */
	bool in_chunk = false, done = false;
	struct timeval none = {0};
	struct hconn h;
	int n, rc = -1;
	bool v6;

	memset(r, 0, sizeof(*r));
	if (hconn_open(&h, addr, host, sizeof(host), port, sizeof(port), unreachable, err,
		       errlen) < 0)
		return -1;
	v6 = strchr(host, ':') != NULL;
	n = asprintf(&head,
		     "GET %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: meshgatectl\r\n"
		     "Connection: close\r\n%s%s%s\r\n",
		     path, v6 ? "[" : "", host, v6 ? "]" : "", port,
		     token ? "Authorization: Bearer " : "", token ? token : "", token ? "\r\n" : "");
	if (send_request(&h, head, n, NULL, 0, err, errlen) < 0)
		return -1;
	rc = -1;
	/* The header (within the timeout), then the body for as long as it takes. */
	while (hend == 0) {
		ssize_t k;

		errno = 0;
		k = hconn_recv(&h, buf + len, sizeof(buf) - len - 1);
		if (k <= 0) {
			snprintf(err, errlen, "%s", k == 0 ? "connection closed before a response"
							  : strerror(errno));
			goto out;
		}
		len += (size_t)k;
		hend = headers_end(buf, len);
		if (hend == 0 && len >= sizeof(buf) - 1) {
			snprintf(err, errlen, "response header too large");
			goto out;
		}
	}
	head = strndup(buf, hend);
	if (head == NULL || parse_head(head, r, &fr) < 0) {
		free(head);
		snprintf(err, errlen, "malformed HTTP response header");
		goto out;
	}
	free(head);
	if (r->status < 200 || r->status >= 300) {
		/* An error answer: keep its (small) body for the caller to report. */
		hconn_close(&h);
		r->body = strndup(buf + hend, len - hend);
		r->len = r->body ? strlen(r->body) : 0;
		if (fr.chunked && r->body != NULL) {
			char *d;
			size_t dl;

			if (dechunk(r->body, r->len, &d, &dl) > 0) {
				free(r->body);
				r->body = d;
				r->len = dl;
			}
		}
		snprintf(err, errlen, "HTTP %d", r->status);
		goto out;
	}
	setsockopt(h.fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
	memmove(buf, buf + hend, len - hend);
	len -= hend;
	for (;;) {
		size_t pos = 0;

		while (pos < len && !done) {
			if (!fr.chunked || in_chunk) {
				size_t take = len - pos;

				if (fr.chunked && take > left)
					take = (size_t)left;
				if (write(out, buf + pos, take) != (ssize_t)take) {
					snprintf(err, errlen, "writing the capture: %s", strerror(errno));
					goto out;
				}
				pos += take;
				if (fr.chunked && (left -= take) == 0)
					in_chunk = false;
				continue;
			}
			/* A chunk-size line ("\r\n" ending the previous chunk skipped first). */
			{
				char *eol = memchr(buf + pos, '\n', len - pos), *end;

				if (eol == NULL)
					break;
				if (eol == buf + pos || (eol == buf + pos + 1 && buf[pos] == '\r')) {
					pos = (size_t)(eol - buf) + 1;
					continue;
				}
				errno = 0;
				left = strtoull(buf + pos, &end, 16);
				if (end == buf + pos || errno != 0) {
					snprintf(err, errlen, "malformed chunked body");
					goto out;
				}
				pos = (size_t)(eol - buf) + 1;
				if (left == 0)
					done = true;
				else
					in_chunk = true;
			}
		}
		if (done) {
			rc = 0;
			goto out;
		}
		memmove(buf, buf + pos, len - pos);
		len -= pos;
		{
			ssize_t k;

			errno = 0;
			k = hconn_recv(&h, buf + len, sizeof(buf) - len - 1);
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				snprintf(err, errlen, "%s", strerror(errno));
				goto out;
			}
			if (k == 0) {
				if (fr.chunked) {
					snprintf(err, errlen, "connection closed in the middle of the body");
					goto out;
				}
				rc = 0;
				goto out;
			}
			len += (size_t)k;
		}
	}
out:
	hconn_close(&h);
	return rc;
}
