/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Flow history: a ring of entries on the main lcore, JSON lines out to a
 * file and a Unix datagram socket.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mg_ct.h"
#include "mg_flowlog.h"

#define FL_MAX_SIZE (1u << 24)
#define FL_FILE_BUF (64u << 10)

struct mg_flowlog {
	struct mg_flowlog_conf conf;
	struct mg_flowlog_entry *ring;
	/** Next slot written; entries are ring[(head - held) .. head). */
	uint32_t head;
	struct mg_flowlog_stats st;
	int fd;                      /**< Export file, -1 none. */
	int sock;                    /**< Datagram socket, -1 none. */
	struct sockaddr_un sa;
	char *buf;                   /**< File lines not yet written. */
	size_t buf_len;
	uint64_t buf_lines;
};

static struct mg_flowlog *the_log;

struct mg_flowlog *
mg_flowlog_get(void)
{
	return the_log;
}

void
mg_flowlog_set(struct mg_flowlog *fl)
{
	the_log = fl;
}

struct mg_flowlog *
mg_flowlog_create(const struct mg_flowlog_conf *c, struct mg_error *err)
{
	struct mg_flowlog *fl;

	if (c->size == 0 || c->size > FL_MAX_SIZE) {
		mg_error_set(err, EINVAL, "size", "must be 1..%u, not %u", FL_MAX_SIZE, c->size);
		return NULL;
	}
	if (strlen(c->socket) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		mg_error_set(err, EINVAL, "export.socket", "path too long");
		return NULL;
	}
	fl = calloc(1, sizeof(*fl));
	if (fl == NULL) {
		mg_error_set(err, ENOMEM, "size", "out of memory");
		return NULL;
	}
	fl->conf = *c;
	fl->fd = -1;
	fl->sock = -1;
	fl->ring = calloc(c->size, sizeof(*fl->ring));
	fl->buf = malloc(FL_FILE_BUF);
	if (fl->ring == NULL || fl->buf == NULL) {
		mg_flowlog_destroy(fl);
		mg_error_set(err, ENOMEM, "size", "no memory for %u entries", c->size);
		return NULL;
	}
	if (c->file[0] != '\0') {
		fl->fd = open(c->file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fl->fd < 0) {
			int e = errno;

			mg_flowlog_destroy(fl);
			mg_error_set(err, e, "export.file", "cannot open %s: %s", c->file,
				     strerror(e));
			return NULL;
		}
	}
	if (c->socket[0] != '\0') {
		fl->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fl->sock < 0) {
			int e = errno;

			mg_flowlog_destroy(fl);
			mg_error_set(err, e, "export.socket", "socket: %s", strerror(e));
			return NULL;
		}
		fl->sa.sun_family = AF_UNIX;
		mg_strlcpy(fl->sa.sun_path, c->socket, sizeof(fl->sa.sun_path));
	}
	return fl;
}

void
mg_flowlog_destroy(struct mg_flowlog *fl)
{
	if (fl == NULL)
		return;
	mg_flowlog_flush(fl);
	if (fl->fd >= 0)
		close(fl->fd);
	if (fl->sock >= 0)
		close(fl->sock);
	if (the_log == fl)
		the_log = NULL;
	free(fl->buf);
	free(fl->ring);
	free(fl);
}

const struct mg_flowlog_conf *
mg_flowlog_conf(const struct mg_flowlog *fl)
{
	return &fl->conf;
}

void
mg_flowlog_flush(struct mg_flowlog *fl)
{
	size_t off = 0;

	if (fl->fd < 0 || fl->buf_len == 0)
		return;
	while (off < fl->buf_len) {
		ssize_t w = write(fl->fd, fl->buf + off, fl->buf_len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)w;
	}
	if (off < fl->buf_len)
		fl->st.file_errors += fl->buf_lines;
	else
		fl->st.file_lines += fl->buf_lines;
	fl->buf_len = 0;
	fl->buf_lines = 0;
}

/* Export one entry: a line to the file buffer and a datagram to the socket. */
static void
export(struct mg_flowlog *fl, const struct mg_flowlog_entry *e)
{
	char line[2048];
	int n;

	if (fl->fd < 0 && fl->sock < 0)
		return;
	n = mg_flowlog_json(e, line, sizeof(line) - 1);
	if (n < 0 || (size_t)n >= sizeof(line) - 1)
		return;
	line[n++] = '\n';
	if (fl->fd >= 0) {
		if (fl->buf_len + (size_t)n > FL_FILE_BUF)
			mg_flowlog_flush(fl);
		memcpy(fl->buf + fl->buf_len, line, (size_t)n);
		fl->buf_len += (size_t)n;
		fl->buf_lines++;
	}
	if (fl->sock >= 0) {
		if (sendto(fl->sock, line, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&fl->sa,
			   sizeof(fl->sa)) == n)
			fl->st.socket_lines++;
		else
			fl->st.socket_drops++;
	}
}

void
mg_flowlog_add(struct mg_flowlog *fl, const struct mg_flowlog_entry *e)
{
	struct mg_flowlog_entry *d = &fl->ring[fl->head];

	if (fl->st.held == fl->conf.size)
		fl->st.overwritten++;
	else
		fl->st.held++;
	*d = *e;
	d->seq = ++fl->st.added;
	fl->head = fl->head + 1 == fl->conf.size ? 0 : fl->head + 1;
	export(fl, d);
}

void
mg_flowlog_stats(const struct mg_flowlog *fl, struct mg_flowlog_stats *out)
{
	*out = fl->st;
}

/* The addresses of a key as struct mg_ip. */
static void
key_addrs(const struct mg_flow_key *k, struct mg_ip *s, struct mg_ip *d)
{
	memset(s, 0, sizeof(*s));
	memset(d, 0, sizeof(*d));
	s->family = d->family = k->family;
	memcpy(s->bytes, k->src, k->family == AF_INET ? 4 : 16);
	memcpy(d->bytes, k->dst, k->family == AF_INET ? 4 : 16);
}

/* True for the protocols whose key holds ports. */
static bool
has_ports(uint8_t proto)
{
	return proto == 6 || proto == 17 || proto == 132;
}

bool
mg_flowlog_match(const struct mg_flowlog_entry *e, const struct mg_flowlog_query *q)
{
	if (q->addr.family != 0) {
		struct mg_ip s, d;

		key_addrs(&e->key, &s, &d);
		if (!mg_ip_equal(&s, &q->addr) && !mg_ip_equal(&d, &q->addr))
			return false;
	}
	if (q->port >= 0) {
		if (!has_ports(e->key.proto) ||
		    (rte_be_to_cpu_16(e->key.sport) != q->port &&
		     rte_be_to_cpu_16(e->key.dport) != q->port))
			return false;
	}
	if (q->network[0] != '\0' && strcmp(q->network, e->network) != 0)
		return false;
	if (q->since_ns != 0 && e->last_ns < q->since_ns)
		return false;
	if (q->until_ns != 0 && e->first_ns > q->until_ns)
		return false;
	return true;
}

unsigned int
mg_flowlog_query(const struct mg_flowlog *fl, const struct mg_flowlog_query *q,
		 void (*cb)(const struct mg_flowlog_entry *e, void *arg), void *arg)
{
	unsigned int got = 0;
	uint32_t i = fl->head;

	for (uint64_t k = 0; k < fl->st.held; k++) {
		const struct mg_flowlog_entry *e;

		i = i == 0 ? fl->conf.size - 1 : i - 1;
		e = &fl->ring[i];
		if (!mg_flowlog_match(e, q))
			continue;
		cb(e, arg);
		if (++got == q->limit)
			break;
	}
	return got;
}

/* Append @s as a JSON string (quotes, backslashes and controls escaped). */
static int
jstr(char *buf, size_t n, const char *s)
{
	size_t o = 0;
	int len = 2;

	for (const char *p = s; *p; p++)
		len += ((unsigned char)*p < 0x20 || *p == '"' || *p == '\\') ? 6 : 1;
	if ((size_t)len >= n)
		return len;
	buf[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == '"' || *p == '\\')
			o += (size_t)snprintf(buf + o, n - o, "\\u%04x", *p);
		else
			buf[o++] = (char)*p;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return (int)o;
}

static const char *
proto_name(uint8_t p)
{
	switch (p) {
	case 1: return "icmp";
	case 6: return "tcp";
	case 17: return "udp";
	case 47: return "gre";
	case 50: return "esp";
	case 58: return "icmpv6";
	case 132: return "sctp";
	default: return NULL;
	}
}

#define APPEND(...)                                                                         \
	do {                                                                                \
		int _w = snprintf(buf + (o < n ? o : n), o < n ? n - o : 0, __VA_ARGS__);   \
		if (_w < 0)                                                                 \
			return -1;                                                          \
		o += (size_t)_w;                                                            \
	} while (0)
#define APPEND_STR(key, s)                                                                  \
	do {                                                                                \
		APPEND(",\"%s\":", key);                                                    \
		o += (size_t)jstr(buf + (o < n ? o : n), o < n ? n - o : 0, s);             \
	} while (0)

int
mg_flowlog_json(const struct mg_flowlog_entry *e, char *buf, size_t n)
{
	char a[INET6_ADDRSTRLEN + 8], b[INET6_ADDRSTRLEN + 8];
	const char *pn = proto_name(e->key.proto);
	struct mg_ip s, d;
	size_t o = 0;

	key_addrs(&e->key, &s, &d);
	mg_ip_fmt(&s, a, sizeof(a));
	mg_ip_fmt(&d, b, sizeof(b));
	APPEND("{\"seq\":%" PRIu64, e->seq);
	APPEND_STR("source", e->source == MG_FLOWLOG_SERVICE   ? "service"
			     : e->source == MG_FLOWLOG_GATEWAY ? "gateway"
							       : "tracker");
	APPEND_STR("network", e->network);
	APPEND(",\"family\":%u,\"protocol\":", e->key.family == AF_INET ? 4 : 6);
	if (pn != NULL)
		APPEND("\"%s\"", pn);
	else
		APPEND("%u", e->key.proto);
	APPEND(",\"src\":\"%s\",\"dst\":\"%s\"", a, b);
	if (has_ports(e->key.proto))
		APPEND(",\"sport\":%u,\"dport\":%u", rte_be_to_cpu_16(e->key.sport),
		       rte_be_to_cpu_16(e->key.dport));
	else if (e->key.proto == 1 || e->key.proto == 58)
		APPEND(",\"icmp_id\":%u", rte_be_to_cpu_16(e->key.sport));
	APPEND(",\"first_seen\":%" PRIu64 ".%09" PRIu64 ",\"last_seen\":%" PRIu64 ".%09" PRIu64,
	       e->first_ns / UINT64_C(1000000000), e->first_ns % UINT64_C(1000000000),
	       e->last_ns / UINT64_C(1000000000), e->last_ns % UINT64_C(1000000000));
	APPEND(",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"reply_packets\":%" PRIu64
	       ",\"reply_bytes\":%" PRIu64,
	       e->pkts[0], e->bytes[0], e->pkts[1], e->bytes[1]);
	APPEND_STR("end", mg_flow_end_name((enum mg_flow_end)e->end));
	if (e->key.proto == 6) {
		if (e->tcp_state != 0)
			APPEND_STR("tcp_state", mg_ct_tcp_state_name(e->tcp_state));
		APPEND(",\"tcp_flags\":%u", e->tcp_flags);
	}
	if (e->ingress[0])
		APPEND_STR("ingress", e->ingress);
	if (e->reply_ingress[0])
		APPEND_STR("reply_ingress", e->reply_ingress);
	if (e->tunnel[0])
		APPEND_STR("tunnel", e->tunnel);
	if (e->service[0])
		APPEND_STR("service", e->service);
	if (e->endpoint[0])
		APPEND_STR("endpoint", e->endpoint);
	if (e->endpoint_addr.family != 0) {
		mg_ip_fmt(&e->endpoint_addr, a, sizeof(a));
		APPEND_STR("endpoint_address", a);
	}
	if (e->gateway[0])
		APPEND_STR("gateway", e->gateway);
	if (e->nat_addr.family != 0) {
		mg_ip_fmt(&e->nat_addr, a, sizeof(a));
		APPEND_STR("nat_address", a);
		APPEND(",\"nat_port\":%u", e->nat_port);
	}
	APPEND(",\"worker\":%u}", e->worker);
	return (int)o;
}
