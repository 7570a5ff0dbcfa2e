/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NSM connections. A Request picks a mechanism (MEMIF: a memif port created
 * at runtime; KERNEL_INTERFACE: a TAP port, moved into the client's network
 * namespace when the request names one; VLAN: a sub-interface of an
 * existing port; WIREGUARD: a WireGuard interface whose one peer is the
 * client; VXLAN: a VXLAN tunnel to the client's VTEP), turns the IP context into interface addresses, routes and
 * neighbors in the connection's network, applies all of it in one
 * transaction, journals the request, and answers with the Connection: the
 * mechanism filled in and this hop's path segment added.
 *
 * IP context, as NSM's SDK reads it (src_* is the client's side of the link,
 * dst_* the endpoint's, and meshgate is the endpoint): dst_ip_addrs are our
 * addresses on the connection's interface; src_ip_addrs are the client's
 * (reached on-link); dst_routes are prefixes behind the client (via
 * nextHop, else via the client's address); ip_neighbors (and
 * ethernet_context.src_mac for the client's addresses) become static
 * neighbors; src_ip_addrs and src_routes (via nextHop, else via our address)
 * are configured in the client's namespace for a KERNEL_INTERFACE we moved
 * there.
 *
 * A connection lives until Close, or until its path segment expires without
 * a refreshing Request.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_log.h>

#include "ctl_priv.h"
#include "mg_wg.h"
#include "mg_dp.h"

RTE_LOG_REGISTER_SUFFIX(mg_nsm_logtype, nsm, INFO);
#define NSM_LOG(l, ...) rte_log(RTE_LOG_##l, mg_nsm_logtype, "nsm: " __VA_ARGS__)

struct conn;
static int mech_error(struct mg_error *err, const struct conn *k, int code, const char *param,
		      const char *fmt, ...) __rte_format_printf(5, 6);

/* ---- small helpers ------------------------------------------------------------------- */

static uint64_t
wall_now(void)
{
	return (uint64_t)time(NULL);
}

static void
rfc3339(uint64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static uint64_t
parse_rfc3339(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
		return 0;
	return (uint64_t)timegm(&tm);
}

static void
rand_hex(char *out, size_t nbytes)
{
	uint8_t b[32];

	if (nbytes > sizeof(b))
		nbytes = sizeof(b);
	if (getrandom(b, nbytes, 0) != (ssize_t)nbytes)
		for (size_t i = 0; i < nbytes; i++)
			b[i] = (uint8_t)rand();
	for (size_t i = 0; i < nbytes; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static uint32_t
hash32(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

static const char *
jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static json_t *
jobj(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_object(v)) {
		v = json_object();
		json_object_set_new(o, k, v);
	}
	return v;
}

struct conn *
conn_find(struct mg_ctl *c, const char *id)
{
	uint32_t idx;
	char key[256] = {0};

	mg_strlcpy(key, id, sizeof(key));
	if (!mg_hmap_get(c->conn_idx, key, &idx))
		return NULL;
	return &c->conns[idx];
}

int
conn_init(struct mg_ctl *c)
{
	c->conns = calloc(CTL_MAX_CONNS, sizeof(*c->conns));
	c->conn_idx = mg_hmap_create(256, 64);
	return c->conns && c->conn_idx ? 0 : -ENOMEM;
}

static void
conn_free(struct conn *k)
{
	if (k->mech == MECH_IPSEC)
		ctl_json_wipe(k->request); /* its mechanism holds keys */
	json_decref(k->request);
	json_decref(k->conn);
	free(k->ops);
	free(k->adds);
	memset(k, 0, sizeof(*k));
}

void
conn_fini(struct mg_ctl *c)
{
	if (c->conns != NULL)
		for (unsigned int i = 0; i < CTL_MAX_CONNS; i++)
			if (c->conns[i].used)
				conn_free(&c->conns[i]);
	free(c->conns);
	mg_hmap_destroy(c->conn_idx);
}

/* ---- moving a TAP interface into the client's namespace ---------------------------- */

/* Resolve a netns URL: file:///path, /path, or inode://DEV/INO (searched in /proc). */
static int
netns_path(const char *url, char *out, size_t n)
{
	if (strncmp(url, "file://", 7) == 0)
		url += 7;
	if (url[0] == '/') {
		mg_strlcpy(out, url, n);
		return access(out, R_OK) == 0 ? 0 : -ENOENT;
	}
	if (strncmp(url, "inode://", 8) == 0) {
		unsigned long long dev, ino;
		char p[64];
		struct stat st;

		DIR *d;
		struct dirent *e;
		int rc = -ENOENT;

		if (sscanf(url + 8, "%llu/%llu", &dev, &ino) != 2)
			return -EINVAL;
		/* The namespace of some process: find one that is in it. */
		d = opendir("/proc");
		if (d == NULL)
			return -errno;
		while (rc != 0 && (e = readdir(d)) != NULL) {
			if (e->d_name[0] < '1' || e->d_name[0] > '9')
				continue;
			snprintf(p, sizeof(p), "/proc/%s/ns/net", e->d_name);
			if (stat(p, &st) == 0 && st.st_ino == ino && st.st_dev == dev) {
				mg_strlcpy(out, p, n);
				rc = 0;
			}
		}
		closedir(d);
		return rc;
	}
	return -EINVAL;
}

/* Move interface @ifname into the namespace behind @nsfd (rtnetlink). */
static int
link_to_netns(const char *ifname, int nsfd)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
		char attrs[64];
	} req;
	struct rtattr *rta;
	char resp[4096];
	int fd, rc = 0;
	unsigned int idx = if_nametoindex(ifname);

	if (idx == 0)
		return -ENODEV;
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	req.nh.nlmsg_type = RTM_NEWLINK;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req.ifi.ifi_family = AF_UNSPEC;
	req.ifi.ifi_index = (int)idx;
	rta = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len));
	rta->rta_type = IFLA_NET_NS_FD;
	rta->rta_len = RTA_LENGTH(sizeof(int));
	memcpy(RTA_DATA(rta), &nsfd, sizeof(int));
	req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (send(fd, &req, req.nh.nlmsg_len, 0) < 0) {
		rc = -errno;
	} else {
		ssize_t n = recv(fd, resp, sizeof(resp), 0);
		struct nlmsghdr *h = (struct nlmsghdr *)resp;

		if (n < 0)
			rc = -errno;
		else if (h->nlmsg_type == NLMSG_ERROR)
			rc = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
	}
	close(fd);
	return rc;
}

/* Run "ip ARGS..." inside the namespace at @ns; 0 on success. */
static int
ip_in_netns(const char *ns, char *const argv[])
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd = open(ns, O_RDONLY | O_CLOEXEC);
		int devnull = open("/dev/null", O_WRONLY);

		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
			_exit(126);
		if (devnull >= 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		execvp("ip", argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

/*
 * Hand the TAP interface to the client: move it into its namespace, bring it
 * up there with the client's addresses and the routes it should use via us.
 */
static int
kernel_to_client(struct conn *k, json_t *ipctx, struct mg_error *err)
{
	json_t *v, *e;
	size_t i;
	int fd, rc;
	char *argv[12];

	fd = open(k->netns, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mech_error(err, k, errno, "inodeURL",
				    "cannot open namespace %s: %s", k->netns, strerror(errno));
	rc = link_to_netns(k->tap, fd);
	close(fd);
	if (rc < 0)
		return mech_error(err, k, -rc, "inodeURL",
				    "cannot move %s into %s: %s", k->tap, k->netns, strerror(-rc));
	argv[0] = "ip";
	argv[1] = "link";
	argv[2] = "set";
	argv[3] = k->tap;
	argv[4] = "up";
	argv[5] = NULL;
	rc = ip_in_netns(k->netns, argv);
	v = json_object_get(ipctx, "src_ip_addrs");
	json_array_foreach(v, i, e) {
		char *a[] = {"ip", "addr", "add", (char *)json_string_value(e), "dev", k->tap,
			     "nodad", NULL};

		if (strchr(json_string_value(e), ':') == NULL)
			a[6] = NULL;
		rc = rc ? rc : ip_in_netns(k->netns, a);
	}
	v = json_object_get(ipctx, "src_routes");
	json_array_foreach(v, i, e) {
		const char *pfx = jstr(e, "prefix"), *nh = jstr(e, "nextHop");
		char *a[] = {"ip", "route", "replace", (char *)pfx, "dev", k->tap, NULL, NULL, NULL};
		json_t *dst = json_object_get(ipctx, "dst_ip_addrs");
		char gw[64] = "";

		if (pfx == NULL)
			continue;
		if (nh == NULL || nh[0] == '\0') {
			/* Via our address of the same family on this link. */
			size_t j;
			json_t *d;

			json_array_foreach(dst, j, d) {
				const char *ds = json_string_value(d);

				if ((strchr(ds, ':') != NULL) == (strchr(pfx, ':') != NULL)) {
					mg_strlcpy(gw, ds, sizeof(gw));
					if (strchr(gw, '/'))
						*strchr(gw, '/') = '\0';
					break;
				}
			}
		} else {
			mg_strlcpy(gw, nh, sizeof(gw));
		}
		if (gw[0]) {
			a[6] = "via";
			a[7] = gw;
		}
		rc = rc ? rc : ip_in_netns(k->netns, a);
	}
	if (rc < 0)
		return mg_error_set(err, EIO, "connection.context.ip_context",
				    "cannot configure %s in %s (ip failed)", k->tap, k->netns);
	return 0;
}

/* ---- building a connection's operations -------------------------------------------- */

struct built {
	struct mg_op *ops;
	char (*field)[96];
	unsigned int n, cap;
};

/*
 * One more operation in @b, zeroed but for its kind and verb, or NULL when
 * growing the arrays fails. On failure @b is left as it was: its first b->n
 * operations and fields stay valid, and the caller still frees both arrays.
 */
static struct mg_op *
add_op(struct built *b, enum mg_op_kind kind, const char *field)
{
	if (b->n == b->cap) {
		unsigned int cap = b->cap ? b->cap * 2 : 16;
		struct mg_op *o;
		char(*f)[96];

		/*
		 * Keep each grown array as soon as realloc returns it: realloc
		 * may have freed the old block. b->cap only grows with both, so
		 * a failed second realloc leaves ops merely larger than needed.
		 */
		o = realloc(b->ops, cap * sizeof(*o));
		if (o == NULL)
			return NULL;
		b->ops = o;
		f = realloc(b->field, cap * sizeof(*f));
		if (f == NULL)
			return NULL;
		b->field = f;
		b->cap = cap;
	}
	memset(&b->ops[b->n], 0, sizeof(b->ops[0]));
	b->ops[b->n].kind = kind;
	b->ops[b->n].verb = MG_OP_ADD;
	mg_strlcpy(b->field[b->n], field, sizeof(b->field[0]));
	return &b->ops[b->n++];
}

static const char *
param(json_t *mech, const char *k1, const char *k2)
{
	json_t *p = json_object_get(mech, "parameters");
	const char *v = jstr(p, k1);

	return v ? v : (k2 ? jstr(p, k2) : NULL);
}

static bool
ifname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= IF_NAMESIZE)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

/* An error in the chosen mechanism's parameter @param, named where the request has it. */
static int
mech_error(struct mg_error *err, const struct conn *k, int code, const char *param,
	   const char *fmt, ...)
{
	char msg[sizeof(err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mg_error_set(err, code, "", "%s", msg);
	snprintf(err->field, sizeof(err->field), "%s.parameters.%s", k->mech_field, param);
	return -code;
}

/* Which mechanism: the connection's own, else the first preference we offer. */
static json_t *
choose_mechanism(json_t *req, enum conn_mech *mech, char *where, size_t nwhere,
		 struct mg_error *err)
{
	json_t *conn = json_object_get(req, "connection");
	json_t *m = json_object_get(conn, "mechanism");
	json_t *prefs = json_object_get(req, "mechanism_preferences"), *p;
	const char *future = NULL;
	char first[64] = "";
	size_t i;

	bool own = json_is_object(m) && jstr(m, "type") && jstr(m, "type")[0];

	if (own) {
		prefs = json_array();
		json_array_append(prefs, m);
	} else {
		json_incref(prefs);
	}
	json_array_foreach(prefs, i, p) {
		const char *t = jstr(p, "type");

		if (own)
			snprintf(where, nwhere, "connection.mechanism");
		else
			snprintf(where, nwhere, "mechanism_preferences[%zu]", i);

		if (t == NULL)
			continue;
		if (first[0] == '\0')
			mg_strlcpy(first, t, sizeof(first));
		if (!strcmp(t, "MEMIF")) {
			*mech = MECH_MEMIF;
		} else if (!strcmp(t, "KERNEL") || !strcmp(t, "KERNEL_INTERFACE")) {
			*mech = MECH_KERNEL;
		} else if (!strcmp(t, "VLAN")) {
			*mech = MECH_VLAN;
		} else if (!strcmp(t, "IPSEC") && ctl_ipsec_acceptable(p)) {
			*mech = MECH_IPSEC;
		} else if (!strcmp(t, "WIREGUARD") &&
			   (jstr(json_object_get(p, "parameters"), "src_public_key") ||
			    jstr(json_object_get(p, "parameters"), "srcPublicKey"))) {
			/* Without the client's key there is nothing to set up: try the next. */
			*mech = MECH_WG;
		} else if (!strcmp(t, "VXLAN")) {
			*mech = MECH_VXLAN;
		} else {
			if (!strcmp(t, "WIREGUARD") || !strcmp(t, "IPSEC"))
				future = future ? future : t;
			continue;
		}
		json_t *chosen = json_deep_copy(p);

		json_decref(prefs);
		return chosen;
	}
	json_decref(prefs);
	if (own)
		snprintf(where, nwhere, "connection.mechanism.type");
	else
		snprintf(where, nwhere, "mechanism_preferences");
	if (future != NULL && !strcmp(future, "WIREGUARD"))
		mg_error_set(err, ENOTSUP, where,
			     "mechanism WIREGUARD is not supported without parameters.src_public_key "
			     "(the client's WireGuard public key)");
	else if (future != NULL && !strcmp(future, "IPSEC"))
		mg_error_set(err, ENOTSUP, where,
			     "mechanism IPSEC needs static keys (parameters src_key and dst_key, "
			     "or src_key6 and dst_key6, with their SPIs) or the client's "
			     "src_public_key for IKEv2");
	else if (future != NULL)
		mg_error_set(err, ENOTSUP, where,
			     "mechanism %s is not supported yet (meshgate offers MEMIF, "
			     "KERNEL_INTERFACE, VLAN, WIREGUARD, VXLAN and IPSEC)", future);
	else if (first[0])
		mg_error_set(err, ENOTSUP, where,
			     "mechanism %s is not supported (meshgate offers MEMIF, "
			     "KERNEL_INTERFACE, VLAN, WIREGUARD, VXLAN and IPSEC)", first);
	else
		mg_error_set(err, EINVAL, "mechanism_preferences",
			     "no mechanism: give connection.mechanism or mechanism_preferences");
	return NULL;
}

/* Add a "prefix" string to @b as an address of @ifname; @field names it. */
static int
parse_addr_list(json_t *arr, const char *field, struct mg_prefix *out, unsigned int max,
		unsigned int *n, struct mg_error *err)
{
	json_t *e;
	size_t i;

	*n = 0;
	json_array_foreach(arr, i, e) {
		char f[128];

		snprintf(f, sizeof(f), "%s[%zu]", field, i);
		if (*n >= max)
			return mg_error_set(err, EINVAL, f, "too many addresses (at most %u)", max);
		if (mg_prefix_parse(json_string_value(e), &out[*n]) < 0)
			return mg_error_set(err, EINVAL, f, "'%s' is not an address with a prefix length",
					    json_string_value(e));
		(*n)++;
	}
	return 0;
}

#define F_IPCTX "connection.context.ip_context"

/*
 * Build the operations for connection @k: its port or VLAN, its addresses,
 * routes to the client and behind it, and neighbors.
 */
static int
build_ops(struct mg_ctl *c, struct conn *k, json_t *conn, json_t *mech, struct built *b,
	  struct mg_error *err)
{
	json_t *ctx = json_object_get(conn, "context");
	json_t *ip = json_object_get(ctx, "ip_context");
	json_t *eth = json_object_get(ctx, "ethernet_context");
	json_t *e;
	struct mg_prefix dst[32], src[32];
	unsigned int ndst, nsrc;
	json_int_t mtu = json_integer_value(json_object_get(ctx, "MTU"));
	struct mg_mac mac;
	bool mac_set = false;
	size_t i;
	int rc;

	if (jstr(eth, "dst_mac") && jstr(eth, "dst_mac")[0]) {
		if (mg_mac_parse(jstr(eth, "dst_mac"), &mac) < 0)
			return mg_error_set(err, EINVAL, "connection.context.ethernet_context.dst_mac",
					    "not a MAC address");
		mac_set = true;
	}
	if (mtu != 0 && (mtu < MG_MTU_MIN || mtu > MG_MTU_MAX))
		return mg_error_set(err, EINVAL, "connection.context.MTU", "%lld is out of range %u-%u",
				    (long long)mtu, MG_MTU_MIN, MG_MTU_MAX);
	if (k->mech == MECH_VLAN) {
		const char *base = param(mech, "base", NULL), *vid = param(mech, "vlan-id", "vlanID");
		long v = vid ? strtol(vid, NULL, 10) : json_integer_value(json_object_get(eth, "vlan_tag"));
		struct mg_op *op;

		if (base == NULL || base[0] == '\0')
			return mech_error(err, k, EINVAL, "base",
					    "a VLAN connection names its base port");
		if (v < 1 || v > 4094)
			return mech_error(err, k, EINVAL, "vlan-id",
					    "a VLAN connection needs a VLAN id 1-4094");
		op = add_op(b, MG_OP_VLAN, "mechanism.parameters");
		if (op == NULL)
			return mg_error_set(err, ENOMEM, "", "out of memory");
		mg_strlcpy(op->vlan.port, base, sizeof(op->vlan.port));
		op->vlan.vlan = (uint16_t)v;
		mg_strlcpy(op->vlan.network, k->network, sizeof(op->vlan.network));
		op->vlan.mtu = (uint16_t)mtu;
		snprintf(k->iface, sizeof(k->iface), "%s.%ld", base, v);
		k->port[0] = '\0';
	} else if (k->mech == MECH_WG || k->mech == MECH_VXLAN || k->mech == MECH_IPSEC) {
		/*
		 * The interface exists already (wg_conn_up, vxlan_conn_up,
		 * ctl_ipsec_conn_up): k->iface names it.
		 */
		k->port[0] = '\0';
	} else {
		struct mg_op *op = add_op(b, MG_OP_PORT, "mechanism");
		char dev[MG_DEVICE_MAX], name[MG_NAME_MAX];
		uint32_t h = hash32(k->id);

		if (op == NULL)
			return mg_error_set(err, ENOMEM, "", "out of memory");
		/* A port name of our own, and a vdev id DPDK has not used. */
		for (unsigned int s = 0;; s++) {
			snprintf(name, sizeof(name), s ? "nsm-%08x-%u" : "nsm-%08x", h, s);
			if (mg_model_port_find(c->env.model, name) == NULL)
				break;
		}
		for (;;) {
			uint16_t pid;
			char vdev[32];

			snprintf(vdev, sizeof(vdev), "%s%u", k->mech == MECH_MEMIF ? "net_memif"
										  : "net_tap",
				 ++c->port_seq);
			if (rte_eth_dev_get_port_by_name(vdev, &pid) != 0)
				break;
		}
		if (k->mech == MECH_MEMIF) {
			const char *sock = param(mech, "socketfile", NULL);
			const char *role = param(mech, "role", NULL);
			char path[200];

			bool abstract = false;

			/* "@name" is a socket in the abstract namespace, as VPP writes it. */
			if (sock == NULL || sock[0] == '\0') {
				snprintf(path, sizeof(path), "%s/memif-%08x.sock", c->conf.run_dir, h);
			} else {
				abstract = sock[0] == '@';
				mg_strlcpy(path, strncmp(sock, "file://", 7) == 0 ? sock + 7 : sock,
					   sizeof(path));
				if ((!abstract && path[0] != '/') || strchr(path, ',') ||
				    strlen(path) < 2 || strlen(path) > 107)
					return mech_error(err, k, EINVAL, "socketfile",
							    "'%s' is neither an absolute path nor "
							    "@name (abstract), of at most 107 characters",
							    sock);
			}
			if (role != NULL && strcmp(role, "server") && strcmp(role, "client"))
				return mech_error(err, k, EINVAL, "role",
						    "'%s' is not server or client", role);
			snprintf(dev, sizeof(dev), "net_memif%u,role=%s,socket=%s,socket-abstract=%s",
				 c->port_seq, role ? role : "server", abstract ? path + 1 : path,
				 abstract ? "yes" : "no");
			json_object_set_new(jobj(mech, "parameters"), "socketfile",
					    json_string(path));
		} else {
			const char *want = param(mech, "name", NULL);

			if (want != NULL && want[0] != '\0') {
				if (!ifname_ok(want))
					return mech_error(err, k, EINVAL, "name",
							    "'%s' is not an interface name (1-15 of "
							    "A-Z a-z 0-9 - _)", want);
				mg_strlcpy(k->tap, want, sizeof(k->tap));
			} else {
				snprintf(k->tap, sizeof(k->tap), "nsm%08x", h);
			}
			if (if_nametoindex(k->tap) != 0)
				return mech_error(err, k, EEXIST, "name",
						    "an interface named %s exists already", k->tap);
			snprintf(dev, sizeof(dev), "net_tap%u,iface=%s", c->port_seq, k->tap);
			json_object_set_new(jobj(mech, "parameters"), "name", json_string(k->tap));
		}
		mg_strlcpy(op->port.name, name, sizeof(op->port.name));
		mg_strlcpy(op->port.device, dev, sizeof(op->port.device));
		mg_strlcpy(op->port.network, k->network, sizeof(op->port.network));
		op->port.mtu = (uint16_t)mtu;
		op->port.mac = mac;
		op->port.mac_set = mac_set;
		mg_strlcpy(k->port, name, sizeof(k->port));
		mg_strlcpy(k->iface, name, sizeof(k->iface));
	}
	rc = parse_addr_list(json_object_get(ip, "dst_ip_addrs"), F_IPCTX ".dst_ip_addrs", dst,
			     RTE_DIM(dst), &ndst, err);
	if (rc == 0)
		rc = parse_addr_list(json_object_get(ip, "src_ip_addrs"), F_IPCTX ".src_ip_addrs",
				     src, RTE_DIM(src), &nsrc, err);
	if (rc < 0)
		return rc;
	for (unsigned int a = 0; a < ndst; a++) {
		char f[96];
		struct mg_op *op;

		snprintf(f, sizeof(f), F_IPCTX ".dst_ip_addrs[%u]", a);
		op = add_op(b, MG_OP_ADDR, f);
		if (op == NULL)
			return mg_error_set(err, ENOMEM, "", "out of memory");
		mg_strlcpy(op->addr.iface, k->iface, sizeof(op->addr.iface));
		op->addr.prefix = dst[a];
	}
	/* The client's addresses are on-link: if no subnet of ours holds one, a host route. */
	for (unsigned int s = 0; s < nsrc; s++) {
		bool covered = false;
		char f[96];
		struct mg_op *op;

		for (unsigned int a = 0; a < ndst; a++)
			if (dst[a].len < mg_ip_maxlen(&dst[a].addr) &&
			    mg_prefix_contains(&dst[a], &src[s].addr))
				covered = true;
		if (covered)
			continue;
		snprintf(f, sizeof(f), F_IPCTX ".src_ip_addrs[%u]", s);
		op = add_op(b, MG_OP_ROUTE, f);
		if (op == NULL)
			return mg_error_set(err, ENOMEM, "", "out of memory");
		mg_strlcpy(op->route.network, k->network, sizeof(op->route.network));
		op->route.prefix.addr = src[s].addr;
		op->route.prefix.len = mg_ip_maxlen(&src[s].addr);
		mg_strlcpy(op->route.iface, k->iface, sizeof(op->route.iface));
	}
	/* A WireGuard or ESP interface has no link layer: neighbors mean nothing there. */
	if (k->mech == MECH_WG || k->mech == MECH_IPSEC)
		goto routes;
	json_array_foreach(json_object_get(ip, "ip_neighbors"), i, e) {
		char f[96];
		struct mg_op *op;

		snprintf(f, sizeof(f), F_IPCTX ".ip_neighbors[%zu]", i);
		op = add_op(b, MG_OP_NEIGH, f);
		if (op == NULL)
			return mg_error_set(err, ENOMEM, "", "out of memory");
		mg_strlcpy(op->neigh.iface, k->iface, sizeof(op->neigh.iface));
		if (!jstr(e, "ip") || mg_ip_parse(jstr(e, "ip"), &op->neigh.ip) < 0)
			return mg_error_set(err, EINVAL, f, "'ip' is not an address");
		if (!jstr(e, "hardware_address") ||
		    mg_mac_parse(jstr(e, "hardware_address"), &op->neigh.mac) < 0)
			return mg_error_set(err, EINVAL, f, "'hardware_address' is not a MAC address");
	}
	if (jstr(eth, "src_mac") && jstr(eth, "src_mac")[0]) {
		struct mg_mac smac;

		if (mg_mac_parse(jstr(eth, "src_mac"), &smac) < 0)
			return mg_error_set(err, EINVAL, "connection.context.ethernet_context.src_mac",
					    "not a MAC address");
		for (unsigned int s = 0; s < nsrc; s++) {
			struct mg_op *op = add_op(b, MG_OP_NEIGH, "connection.context.ethernet_context.src_mac");

			if (op == NULL)
				return mg_error_set(err, ENOMEM, "", "out of memory");
			mg_strlcpy(op->neigh.iface, k->iface, sizeof(op->neigh.iface));
			op->neigh.ip = src[s].addr;
			op->neigh.mac = smac;
		}
	}
routes:
	/*
	 * As in NSM's SDK, src_* belongs to the client's side of the link and
	 * dst_* to the endpoint's: we are the endpoint, so dst_routes are ours
	 * (prefixes behind the client), and src_routes go to a KERNEL client.
	 */
	json_array_foreach(json_object_get(ip, "dst_routes"), i, e) {
		const char *pfx = jstr(e, "prefix"), *nh = jstr(e, "nextHop");
		char f[96];
		struct mg_op *op;

		snprintf(f, sizeof(f), F_IPCTX ".dst_routes[%zu]", i);
		op = add_op(b, MG_OP_ROUTE, f);
		if (op == NULL)
			return mg_error_set(err, ENOMEM, "", "out of memory");
		mg_strlcpy(op->route.network, k->network, sizeof(op->route.network));
		if (pfx == NULL || mg_prefix_parse(pfx, &op->route.prefix) < 0)
			return mg_error_set(err, EINVAL, f, "'prefix' is not a prefix");
		if (nh != NULL && nh[0] != '\0') {
			if (mg_ip_parse(nh, &op->route.via) < 0)
				return mg_error_set(err, EINVAL, f, "'nextHop' is not an address");
		} else {
			for (unsigned int s = 0; s < nsrc; s++)
				if (src[s].addr.family == op->route.prefix.addr.family) {
					op->route.via = src[s].addr;
					break;
				}
			if (op->route.via.family == 0)
				mg_strlcpy(op->route.iface, k->iface, sizeof(op->route.iface));
		}
	}
	return 0;
}

/* ---- requests ------------------------------------------------------------------------ */

static const char *
conn_network(struct mg_ctl *c, json_t *conn, struct mg_error *err)
{
	const char *lbl = jstr(json_object_get(conn, "labels"), "network");
	const char *ns = jstr(conn, "network_service");

	if (lbl != NULL) {
		if (mg_model_network_find(c->env.model, lbl) == NULL) {
			mg_error_set(err, ENOENT, "connection.labels.network", "no network named '%s'",
				     lbl);
			return NULL;
		}
		return lbl;
	}
	if (ns != NULL && mg_model_network_find(c->env.model, ns) != NULL)
		return ns;
	if (mg_model_network_find(c->env.model, "default") != NULL)
		return "default";
	mg_error_set(err, ENOENT, "connection.network_service",
		     "no network named '%s' and no network 'default' (or set labels.network)",
		     ns ? ns : "");
	return NULL;
}

/*
 * Undo list of @b: deletes in reverse order (addresses go with their
 * interface). 0, or -ENOMEM with *@out NULL.
 */
static int
ops_to_undo(const struct built *b, struct mg_op **out, unsigned int *n)
{
	*out = calloc(b->n ? b->n : 1, sizeof(**out));
	*n = 0;
	if (*out == NULL)
		return -ENOMEM;
	for (unsigned int i = b->n; i > 0; i--) {
		const struct mg_op *op = &b->ops[i - 1];

		if (op->kind == MG_OP_ADDR)
			continue;
		(*out)[*n] = *op;
		(*out)[*n].verb = MG_OP_DEL;
		(*n)++;
	}
	return 0;
}

/* Is this our own segment (by name)? Returns its index, or -1. */
static int
our_segment(struct mg_ctl *c, json_t *path)
{
	json_t *segs = json_object_get(path, "path_segments"), *s;
	size_t i;

	json_array_foreach(segs, i, s)
		if (jstr(s, "name") && strcmp(jstr(s, "name"), c->conf.node_name) == 0)
			return (int)i;
	return -1;
}

/* Add or refresh this hop's path segment; returns its expiry (wall time). */
static uint64_t
set_segment(struct mg_ctl *c, json_t *conn, json_t *keep)
{
	json_t *path = jobj(conn, "path"), *segs = json_object_get(path, "path_segments"), *seg;
	int idx = our_segment(c, path);
	uint64_t now = wall_now(), exp = now + c->conf.max_lifetime_s;
	char id[40], tok[40], t[40];

	if (!json_is_array(segs)) {
		segs = json_array();
		json_object_set_new(path, "path_segments", segs);
	}
	/* Not longer than the previous hop's token is valid. */
	if ((idx > 0 || (idx < 0 && json_array_size(segs) > 0))) {
		json_t *prev = json_array_get(segs, idx > 0 ? (size_t)idx - 1 : json_array_size(segs) - 1);
		const char *pe = jstr(prev, "expires");
		uint64_t pt = pe ? parse_rfc3339(pe) : 0;

		if (pt > now && pt < exp)
			exp = pt;
	}
	if (keep != NULL && jstr(keep, "expires") && c->replaying)
		exp = parse_rfc3339(jstr(keep, "expires"));
	if (idx < 0) {
		seg = json_object();
		json_array_append_new(segs, seg);
		idx = (int)json_array_size(segs) - 1;
	} else {
		seg = json_array_get(segs, (size_t)idx);
	}
	if (keep != NULL && jstr(keep, "id")) {
		json_object_set_new(seg, "id", json_string(jstr(keep, "id")));
		json_object_set_new(seg, "token", json_string(jstr(keep, "token") ? jstr(keep, "token") : ""));
	} else if (!jstr(seg, "id") || !jstr(seg, "token")) {
		rand_hex(id, 16);
		rand_hex(tok, 16);
		json_object_set_new(seg, "id", json_string(id));
		json_object_set_new(seg, "token", json_string(tok));
	}
	json_object_set_new(seg, "name", json_string(c->conf.node_name));
	rfc3339(exp, t, sizeof(t));
	json_object_set_new(seg, "expires", json_string(t));
	json_object_set_new(path, "index", json_integer(idx));
	return exp;
}

static json_t *choose_mechanism(json_t *req, enum conn_mech *mech, char *where, size_t nwhere,
				struct mg_error *err);

/* json_equal, where two absent values are equal too (jansson says they are not). */
static bool
jeq(json_t *a, json_t *b)
{
	return (a == NULL && b == NULL) || json_equal(a, b);
}

/*
 * Is request @b a refresh of connection @k: the same context, service and
 * labels, and a mechanism that @k's accepted one satisfies (same type, and
 * every parameter @b asks for has the value we chose)? A client refreshes
 * with the Connection we answered, which carries the filled-in mechanism, or
 * with its first request again.
 */
static bool
same_setup(const struct conn *k, json_t *b)
{
	json_t *ca = json_object_get(k->request, "connection"), *cb = json_object_get(b, "connection");
	json_t *have = json_object_get(k->conn, "mechanism"), *want, *v;
	struct mg_error e;
	enum conn_mech m;
	const char *key;
	char where[48];
	bool same;

	if (!jeq(json_object_get(ca, "context"), json_object_get(cb, "context")) ||
	    !jeq(json_object_get(ca, "labels"), json_object_get(cb, "labels")) ||
	    !jeq(json_object_get(ca, "network_service"), json_object_get(cb, "network_service")))
		return false;
	want = json_object_get(cb, "mechanism");
	if (k->mech == MECH_IPSEC && json_is_object(want) && jstr(want, "type") &&
	    !strcmp(jstr(want, "type"), "IPSEC")) {
		/* The Connection we answered has no keys: still this connection. */
		json_incref(want);
		m = MECH_IPSEC;
	} else {
		want = choose_mechanism(b, &m, where, sizeof(where), &e);
	}
	if (want == NULL)
		return false;
	same = m == k->mech;
	json_object_foreach(json_object_get(want, "parameters"), key, v)
		if (!(m == MECH_IPSEC && (ctl_ipsec_secret_param(key) || /* never in the answer */
					  ctl_ipsec_status_param(key))) &&   /* ours */
		    !jeq(v, json_object_get(json_object_get(have, "parameters"), key)))
			same = false;
	json_decref(want);
	return same;
}

static json_t *
journal_entry(struct mg_ctl *c, const struct conn *k)
{
	json_t *seg = json_array_get(json_object_get(json_object_get(k->conn, "path"),
						     "path_segments"),
				     (size_t)json_integer_value(json_object_get(
					     json_object_get(k->conn, "path"), "index")));
	json_t *e = json_object();

	json_object_set(e, "request", k->request);
	json_object_set_new(e, "segment", json_pack("{s:O?,s:O?,s:O?}", "id",
						     json_object_get(seg, "id"), "token",
						     json_object_get(seg, "token"), "expires",
						     json_object_get(seg, "expires")));
	json_object_set_new(e, "camel", json_boolean(k->camel));
	ctl_wg_conn_seal(c, k, e); /* a WIREGUARD connection's key, sealed */
	ctl_ipsec_seal(c, k, e);   /* an IPSEC connection's keys, sealed */
	return e;
}

/*
 * WIREGUARD: create the connection's WireGuard interface before its
 * operations (they put addresses and routes on it). Parameters, as NSM's
 * WireGuard mechanism names them: the client gives src_public_key and,
 * unless it only initiates, src_ip / src_port (default 51820); we answer
 * with dst_public_key (a key made for this connection), dst_ip (our address
 * towards src_ip) and dst_port (asked for, or the first free from 51820).
 * The client's addresses (src_ip_addrs) and the prefixes behind it
 * (dst_routes) are the peer's allowed IPs.
 */
static int
wg_conn_up(struct mg_ctl *c, struct conn *k, json_t *conn, json_t *mech, struct mg_error *err)
{
	json_t *ip = json_object_get(json_object_get(conn, "context"), "ip_context"), *e;
	const char *spub = param(mech, "src_public_key", "srcPublicKey");
	const char *sip = param(mech, "src_ip", "srcIp"), *sport = param(mech, "src_port", "srcPort");
	const char *dport = param(mech, "dst_port", "dstPort");
	struct mg_model *m = c->env.model;
	struct mg_wg_peer_spec p;
	struct mg_wg_spec s;
	const struct mg_iface *ifc;
	struct mg_ip ep;
	uint8_t pub[MG_WG_KEY_LEN];
	char b64[MG_WG_KEY_B64_LEN + 1], buf[64];
	uint32_t h = hash32(k->id);
	size_t i;
	int rc;

	memset(&s, 0, sizeof(s));
	memset(&p, 0, sizeof(p));
	if (mg_wg_key_from_base64(p.public_key, spub, NULL) < 0)
		return mech_error(err, k, EINVAL, "src_public_key",
				  "not a WireGuard key (44 characters of base64)");
	if (sip != NULL && sip[0] != '\0') {
		long v = sport ? strtol(sport, NULL, 10) : 51820;

		if (mg_ip_parse(sip, &p.endpoint) < 0)
			return mech_error(err, k, EINVAL, "src_ip", "'%s' is not an address", sip);
		if (v < 1 || v > 65535)
			return mech_error(err, k, EINVAL, "src_port", "not a port 1-65535");
		p.endpoint_port = (uint16_t)v;
	}
	json_array_foreach(json_object_get(ip, "src_ip_addrs"), i, e) {
		struct mg_prefix a;

		if (p.nallowed < MG_WG_MAX_ALLOWED && json_is_string(e) &&
		    mg_prefix_parse(json_string_value(e), &a) == 0) {
			a.len = mg_ip_maxlen(&a.addr);
			p.allowed[p.nallowed++] = a;
		}
	}
	json_array_foreach(json_object_get(ip, "dst_routes"), i, e) {
		struct mg_prefix a;

		if (p.nallowed < MG_WG_MAX_ALLOWED && jstr(e, "prefix") &&
		    mg_prefix_parse(jstr(e, "prefix"), &a) == 0) {
			mg_prefix_mask(&a);
			p.allowed[p.nallowed++] = a;
		}
	}
	for (unsigned int n = 0;; n++) {
		snprintf(s.name, sizeof(s.name), n ? "nsmwg-%08x-%u" : "nsmwg-%08x", h, n);
		if (mg_model_iface_find(m, s.name) == NULL)
			break;
	}
	if ((dport == NULL || dport[0] == '\0') && c->replay_wg_port != 0) {
		s.listen_port = c->replay_wg_port; /* the port it had before the restart */
	} else if (dport != NULL && dport[0] != '\0') {
		long v = strtol(dport, NULL, 10);

		if (v < 1 || v > 65535)
			return mech_error(err, k, EINVAL, "dst_port", "not a port 1-65535");
		s.listen_port = (uint16_t)v;
	} else {
		/* The first port no WireGuard interface uses. */
		for (s.listen_port = 51820; s.listen_port < 61820; s.listen_port++) {
			bool used = false;

			for (uint16_t x = 0; x < mg_model_iface_max() && !used; x++) {
				const struct mg_iface *o = mg_model_iface_get(m, x);

				used = o != NULL && o->wg != NULL && o->wg->listen_port == s.listen_port;
			}
			if (!used)
				break;
		}
	}
	mg_strlcpy(s.network, k->network, sizeof(s.network));
	s.npeers = 1;
	s.peers = &p;
	/* Replayed from the state: the key it had; else a new one. */
	if (c->replay_wg_key_set)
		memcpy(s.private_key, c->replay_wg_key, sizeof(s.private_key));
	if ((!c->replay_wg_key_set && mg_wg_key_generate(s.private_key) < 0) ||
	    mg_wg_key_public(pub, s.private_key) < 0) {
		mg_wipe(s.private_key, sizeof(s.private_key));
		return mg_error_set(err, EIO, "", "cannot make a WireGuard key");
	}
	rc = mg_model_wg_add(m, &s, err);
	mg_wipe(s.private_key, sizeof(s.private_key));
	ep = p.endpoint;
	mg_wipe(&p, sizeof(p));
	if (rc < 0) {
		mg_error_prefix_field(err, "%s.parameters", k->mech_field);
		return rc;
	}
	mg_strlcpy(k->wg, s.name, sizeof(k->wg));
	mg_strlcpy(k->iface, s.name, sizeof(k->iface));
	json_object_set_new(jobj(mech, "parameters"), "dst_public_key",
			    json_string(mg_wg_key_to_base64(b64, pub)));
	snprintf(buf, sizeof(buf), "%u", s.listen_port);
	json_object_set_new(jobj(mech, "parameters"), "dst_port", json_string(buf));
	/* Our address towards the client: the interface whose subnet holds src_ip. */
	ifc = ep.family ? mg_model_iface_connected(m, mg_model_network_find(m, k->network)->id, &ep)
			: NULL;
	if (ifc != NULL) {
		const struct mg_prefix *a = ep.family == AF_INET ? ifc->addr4 : ifc->addr6;

		if ((ep.family == AF_INET ? ifc->naddr4 : ifc->naddr6) > 0)
			json_object_set_new(jobj(mech, "parameters"), "dst_ip",
					    json_string(mg_ip_fmt(&a[0].addr, buf, sizeof(buf))));
	}
	return 0;
}

/*
 * Which operations a change of connection @p old to @p fresh (built in
 * @p b) keeps as they are: kept_old[i] and kept_new[j] for each identical
 * pair. Returns true when only the difference is to be applied: the same
 * mechanism, not KERNEL (its interface is moved into the client's
 * namespace again), and every interface and address kept, so that only
 * routes and neighbors come and go (objects that depend on them, such as
 * routes through a changed address, are then rebuilt whole as before).
 */
static bool
conn_diff(const struct conn *old, const struct conn *fresh, const struct built *b,
	  bool *kept_old, bool *kept_new)
{
	if (old->adds == NULL || fresh->mech == MECH_KERNEL || old->mech != fresh->mech)
		return false;
	for (unsigned int i = 0; i < old->nadds; i++)
		for (unsigned int j = 0; j < b->n; j++)
			if (!kept_new[j] &&
			    memcmp(&old->adds[i], &b->ops[j], sizeof(b->ops[j])) == 0) {
				kept_old[i] = kept_new[j] = true;
				break;
			}
	for (unsigned int i = 0; i < old->nadds; i++)
		if (!kept_old[i] && old->adds[i].kind != MG_OP_ROUTE &&
		    old->adds[i].kind != MG_OP_NEIGH)
			return false;
	for (unsigned int j = 0; j < b->n; j++)
		if (!kept_new[j] && b->ops[j].kind != MG_OP_ROUTE && b->ops[j].kind != MG_OP_NEIGH)
			return false;
	return true;
}

/*
 * VXLAN: create the connection's tunnel before its operations (they put
 * addresses, routes and neighbors on it). Parameters, as NSM's VXLAN
 * mechanism names them: src_ip (the client's VTEP, required), dst_ip (ours:
 * given, or the address of our interface whose subnet holds src_ip in the
 * underlay network) and vni (given, or one derived from the connection id
 * that no tunnel between the same VTEPs uses); the answer carries all three.
 * The underlay is labels.underlay, else the connection's network. A changed
 * connection with the same VTEPs and VNI keeps its tunnel.
 */
static int
vxlan_conn_up(struct mg_ctl *c, struct conn *k, const struct conn *old, json_t *conn,
	      json_t *mech, struct mg_error *err)
{
	const char *sip = param(mech, "src_ip", "srcIp"), *dip = param(mech, "dst_ip", "dstIp");
	const char *vni = param(mech, "vni", NULL);
	const char *under = jstr(json_object_get(conn, "labels"), "underlay");
	json_t *ctx = json_object_get(conn, "context"), *p = jobj(mech, "parameters");
	const char *dmac = jstr(json_object_get(ctx, "ethernet_context"), "dst_mac");
	json_int_t mtu = json_integer_value(json_object_get(ctx, "MTU"));
	struct mg_model *m = c->env.model;
	const struct mg_vxlan_tunnel *t;
	const struct mg_network *un;
	struct mg_vxlan_spec s;
	char buf[MG_IP_STRLEN];
	bool given = vni != NULL && vni[0] != '\0';
	int rc;

	memset(&s, 0, sizeof(s));
	if (sip == NULL || sip[0] == '\0')
		return mech_error(err, k, EINVAL, "src_ip", "the client's VTEP address is required");
	if (mg_ip_parse(sip, &s.remote) < 0)
		return mech_error(err, k, EINVAL, "src_ip", "'%s' is not an address", sip);
	un = mg_model_network_find(m, under != NULL && under[0] ? under : k->network);
	if (un == NULL)
		return mg_error_set(err, ENOENT, "connection.labels.underlay", "no network named '%s'",
				    under != NULL ? under : k->network);
	if (dip != NULL && dip[0] != '\0') {
		if (mg_ip_parse(dip, &s.local) < 0)
			return mech_error(err, k, EINVAL, "dst_ip", "'%s' is not an address", dip);
	} else {
		const struct mg_iface *ifc = mg_model_iface_connected(m, un->id, &s.remote);

		if (ifc == NULL || (s.remote.family == AF_INET ? ifc->naddr4 : ifc->naddr6) == 0)
			return mech_error(err, k, EINVAL, "src_ip",
					  "no interface of network '%s' has a subnet holding %s: give "
					  "dst_ip", un->spec.name, sip);
		s.local = s.remote.family == AF_INET ? ifc->addr4[0].addr : ifc->addr6[0].addr;
	}
	if (given) {
		char *end;
		unsigned long v = strtoul(vni, &end, 10);

		if (*end != '\0' || v > MG_VXLAN_MAX_VNI)
			return mech_error(err, k, EINVAL, "vni", "'%s' is not a VNI 0-%u", vni,
					  MG_VXLAN_MAX_VNI);
		s.vni = (uint32_t)v;
	} else {
		s.vni = hash32(k->id) & MG_VXLAN_MAX_VNI;
	}
	/* The same VTEPs and VNI as the connection's tunnel before this change: keep it. */
	if (old != NULL && old->vx[0] != '\0' && (t = mg_model_vxlan_find(m, old->vx)) != NULL &&
	    t->underlay == un->id && mg_ip_equal(&t->spec.local, &s.local) &&
	    mg_ip_equal(&t->spec.remote, &s.remote) && (!given || t->spec.vni == s.vni)) {
		s.vni = t->spec.vni;
		mg_strlcpy(s.name, t->spec.name, sizeof(s.name));
		goto answer;
	}
	/* Without a VNI: the first after the derived one that these VTEPs do not use. */
	for (uint32_t n = 0; !given && n <= MG_VXLAN_MAX_VNI; n++) {
		uint32_t cur = 0;
		bool used = false;

		while ((t = mg_model_vxlan_next(m, &cur)) != NULL && !used)
			used = t->underlay == un->id && t->spec.vni == s.vni &&
			       mg_ip_equal(&t->spec.local, &s.local) &&
			       mg_ip_equal(&t->spec.remote, &s.remote);
		if (!used)
			break;
		s.vni = (s.vni + 1) & MG_VXLAN_MAX_VNI;
	}
	for (unsigned int n = 0;; n++) {
		snprintf(s.name, sizeof(s.name), n ? "nsmvx-%08x-%u" : "nsmvx-%08x", hash32(k->id), n);
		if (mg_model_iface_find(m, s.name) == NULL)
			break;
	}
	mg_strlcpy(s.network, k->network, sizeof(s.network));
	mg_strlcpy(s.underlay, un->spec.name, sizeof(s.underlay));
	if (mtu != 0 && (mtu < MG_MTU_MIN || mtu > MG_MTU_MAX))
		return mg_error_set(err, EINVAL, "connection.context.MTU", "%lld is out of range %u-%u",
				    (long long)mtu, MG_MTU_MIN, MG_MTU_MAX);
	s.mtu = (uint16_t)mtu;
	if (dmac != NULL && dmac[0] != '\0') {
		if (mg_mac_parse(dmac, &s.mac) < 0)
			return mg_error_set(err, EINVAL, "connection.context.ethernet_context.dst_mac",
					    "not a MAC address");
		s.mac_set = true;
	}
	rc = mg_model_vxlan_add(m, &s, err);
	if (rc < 0) {
		/* The model names its own fields: say which parameter they came from. */
		const char *f = !strcmp(err->field, "local") ? "dst_ip" :
				!strcmp(err->field, "remote") ? "src_ip" :
				!strcmp(err->field, "vni") ? "vni" : NULL;

		if (f != NULL)
			snprintf(err->field, sizeof(err->field), "%s.parameters.%s", k->mech_field, f);
		else if (!strcmp(err->field, "mac"))
			snprintf(err->field, sizeof(err->field),
				 "connection.context.ethernet_context.dst_mac");
		else if (!strcmp(err->field, "mtu"))
			snprintf(err->field, sizeof(err->field), "connection.context.MTU");
		return rc;
	}
	mg_strlcpy(k->vx, s.name, sizeof(k->vx));
answer:
	if (k->vx[0] == '\0')
		mg_strlcpy(k->vx, s.name, sizeof(k->vx));
	mg_strlcpy(k->iface, s.name, sizeof(k->iface));
	json_object_set_new(p, "src_ip", json_string(mg_ip_fmt(&s.remote, buf, sizeof(buf))));
	json_object_set_new(p, "dst_ip", json_string(mg_ip_fmt(&s.local, buf, sizeof(buf))));
	snprintf(buf, sizeof(buf), "%u", s.vni);
	json_object_set_new(p, "vni", json_string(buf));
	return 0;
}

/*
 * The model's own field ("address", "port") says little to an NSM client:
 * name what in the request caused the refusal of @p b's operation @p i
 * (UINT32_MAX: one of the old connection's, whose field stays).
 */
static void
conn_op_field(const struct conn *fresh, const struct built *b, uint32_t i, struct mg_error *err)
{
	char f[96];

	if (i == UINT32_MAX)
		return;
	if (b->ops[i].kind == MG_OP_VLAN)
		snprintf(f, sizeof(f), "%s.parameters.%s", fresh->mech_field,
			 strstr(err->field, "port") ? "base" : "vlan-id");
	else if (b->ops[i].kind == MG_OP_PORT)
		snprintf(f, sizeof(f), "%s", fresh->mech_field);
	else
		snprintf(f, sizeof(f), "%s", b->field[i]);
	mg_strlcpy(err->field, f, sizeof(err->field));
}

static json_t *
request(struct mg_ctl *c, json_t *req, bool camel, json_t *keep, struct mg_error *err)
{
	json_t *conn = json_object_get(req, "connection"), *mech, *accepted;
	const char *id = jstr(conn, "id"), *net;
	struct conn *old, *k = NULL, fresh;
	struct built b = {0};
	struct mg_txn *t;
	struct mg_op *undo = NULL, *adds = NULL, *seq = NULL;
	uint32_t *from = NULL;
	unsigned int nundo = 0, nseq, bad = 0;
	bool *kept_old = NULL, *kept_new = NULL, diff;
	struct conn prev;
	uint64_t exp;
	uint32_t slot = UINT32_MAX;
	char old_wg[MG_NAME_MAX] = "", old_vx[MG_NAME_MAX] = "", old_esp[MG_NAME_MAX] = "";
	bool vx_made = false;
	int rc;

	if (!json_is_object(conn))
		return mg_error_set(err, EINVAL, "connection", "is required"), NULL;
	if (id == NULL || id[0] == '\0' || strlen(id) >= sizeof(k->id))
		return mg_error_set(err, EINVAL, "connection.id", "is required (1-255 characters)"),
		       NULL;
	old = conn_find(c, id);
	if (old != NULL && same_setup(old, req)) {
		/* A refresh: the same connection again, before its segment expires. */
		json_t *jc = old->conn;

		json_object_set(jc, "labels", json_object_get(conn, "labels"));
		exp = set_segment(c, jc, keep);
		old->expires_ns = mg_now_ns() + (exp > wall_now() ? exp - wall_now() : 0) *
							1000000000ull;
		if (!c->replaying) {
			json_t *e = json_pack("{s:o}", "connect", journal_entry(c, old));

			rc = ctl_journal(c, e, err);
			json_decref(e);
			if (rc < 0)
				return NULL;
		}
		nsm_event(c, old, "UPDATE");
		return conn_render(c, old, camel);
	}
	net = conn_network(c, conn, err);
	if (net == NULL)
		return NULL;
	memset(&fresh, 0, sizeof(fresh));
	mg_strlcpy(fresh.id, id, sizeof(fresh.id));
	mg_strlcpy(fresh.network, net, sizeof(fresh.network));
	mech = choose_mechanism(req, &fresh.mech, fresh.mech_field, sizeof(fresh.mech_field), err);
	if (mech == NULL)
		return NULL;
	if (old != NULL) {
		mg_strlcpy(old_wg, old->wg, sizeof(old_wg));
		mg_strlcpy(old_esp, old->esp, sizeof(old_esp));
	}
	if (fresh.mech == MECH_IPSEC && ctl_ipsec_conn_up(c, &fresh, conn, mech, err) < 0) {
		json_decref(mech);
		c->requests_failed++;
		return NULL;
	}
	if (fresh.mech == MECH_WG && wg_conn_up(c, &fresh, conn, mech, err) < 0) {
		json_decref(mech);
		c->requests_failed++;
		return NULL;
	}
	if (fresh.mech == MECH_VXLAN && vxlan_conn_up(c, &fresh, old, conn, mech, err) < 0) {
		json_decref(mech);
		c->requests_failed++;
		return NULL;
	}
	/* The old connection's tunnel goes once the change is in, unless the new one kept it. */
	if (old != NULL && old->vx[0] != '\0' && strcmp(old->vx, fresh.vx) != 0)
		mg_strlcpy(old_vx, old->vx, sizeof(old_vx));
	vx_made = fresh.vx[0] != '\0' && (old == NULL || strcmp(old->vx, fresh.vx) != 0);
	if (fresh.mech == MECH_KERNEL) {
		const char *ns = param(mech, "inodeURL", "netnsURL");

		if (ns != NULL && ns[0] != '\0' && netns_path(ns, fresh.netns, sizeof(fresh.netns)) < 0) {
			mg_error_set(err, ENOENT, "", "cannot find the network namespace %s", ns);
			mg_error_prefix_field(err, "%s.parameters.inodeURL", fresh.mech_field);
			json_decref(mech);
			return NULL;
		}
	}
	rc = build_ops(c, &fresh, conn, mech, &b, err);
	if (rc < 0)
		goto fail;
	/* Before anything is applied: failing later would leave it without an undo. */
	adds = malloc((b.n ? b.n : 1) * sizeof(*adds));
	kept_new = calloc(b.n + 1, sizeof(*kept_new));
	kept_old = calloc((old != NULL ? old->nadds : 0) + 1, sizeof(*kept_old));
	nseq = (old != NULL ? RTE_MAX(old->nadds, old->nops) : 0) + b.n + 1;
	seq = malloc(nseq * sizeof(*seq));
	from = malloc(nseq * sizeof(*from));
	if (ops_to_undo(&b, &undo, &nundo) < 0 || adds == NULL || kept_new == NULL ||
	    kept_old == NULL || seq == NULL || from == NULL) {
		mg_error_set(err, ENOMEM, "", "out of memory");
		goto fail;
	}
	memcpy(adds, b.ops, b.n * sizeof(*adds));
	diff = old != NULL && conn_diff(old, &fresh, &b, kept_old, kept_new);
	if (old == NULL && c->nconns >= (c->conf.max_conns && c->conf.max_conns < CTL_MAX_CONNS
					  ? c->conf.max_conns : CTL_MAX_CONNS)) {
		mg_error_set(err, ENOSPC, "connection.id",
			     "the connection table is full (limits.connections = %u)",
			     c->conf.max_conns && c->conf.max_conns < CTL_MAX_CONNS
				     ? c->conf.max_conns : CTL_MAX_CONNS);
		goto fail;
	}
	/*
	 * A changed connection: its old objects the new request does not keep
	 * go in the same transaction, the last made first (an address before
	 * its interface), then the new ones come. The whole list is checked
	 * against the model before any of it reaches the data plane.
	 */
	nseq = 0;
	if (diff) {
		for (unsigned int i = old->nadds; i > 0; i--) {
			if (kept_old[i - 1])
				continue;
			seq[nseq] = old->adds[i - 1];
			seq[nseq].verb = MG_OP_DEL;
			from[nseq++] = UINT32_MAX;
		}
	} else if (old != NULL) {
		for (unsigned int i = 0; i < old->nops; i++) {
			seq[nseq] = old->ops[i];
			from[nseq++] = UINT32_MAX;
		}
	}
	for (unsigned int i = 0; i < b.n; i++) {
		if (diff && kept_new[i])
			continue;
		seq[nseq] = b.ops[i];
		from[nseq++] = i;
	}
	if (mg_txn_apply_list(c->env.model, seq, nseq, &t, &bad, err) < 0) {
		if (bad != UINT_MAX)
			conn_op_field(&fresh, &b, from[bad], err);
		goto fail;
	}
	if (fresh.mech == MECH_KERNEL && fresh.netns[0] != '\0' &&
	    kernel_to_client(&fresh, json_object_get(json_object_get(conn, "context"), "ip_context"),
			     err) < 0) {
		mg_txn_abort(t);
		goto fail;
	}
	/* Accepted: the connection as we answer it. */
	accepted = json_deep_copy(conn);
	if (fresh.mech == MECH_IPSEC) {
		/* The keys are never answered nor shown to monitors. */
		ctl_ipsec_strip(mech);
		ctl_ipsec_strip(json_object_get(accepted, "mechanism"));
	}
	json_object_set_new(accepted, "mechanism", mech);
	mech = NULL;
	json_object_set_new(accepted, "state", json_string("UP"));
	if (!jstr(accepted, "network_service"))
		json_object_set_new(accepted, "network_service", json_string(net));
	exp = set_segment(c, accepted, keep);
	if (old != NULL) {
		/* Freed once the change is durable; put back if it cannot be. */
		slot = (uint32_t)(old - c->conns);
		prev = *old;
		memset(old, 0, sizeof(*old));
		c->nconns--;
	} else {
		for (uint32_t i = 0; i < CTL_MAX_CONNS; i++)
			if (!c->conns[i].used) {
				slot = i;
				break;
			}
	}
	k = &c->conns[slot];
	*k = fresh;
	k->used = true;
	k->request = json_deep_copy(req);
	k->conn = accepted;
	k->ops = undo;
	k->nops = nundo;
	k->adds = adds;
	k->nadds = b.n;
	undo = adds = NULL; /* k's now: conn_free(k) frees them */
	k->camel = camel;
	k->expires_ns = mg_now_ns() + (exp > wall_now() ? exp - wall_now() : 0) * 1000000000ull;
	c->nconns++;
	{
		char key[256] = {0};

		mg_strlcpy(key, id, sizeof(key));
		mg_hmap_put(c->conn_idx, key, slot);
	}
	if (!c->replaying) {
		json_t *e = json_pack("{s:o}", "connect", journal_entry(c, k));

		rc = ctl_journal(c, e, err);
		json_decref(e);
		if (rc < 0) {
			/* Not durable: take it all back. */
			char key[256] = {0};

			mg_strlcpy(key, id, sizeof(key));
			mg_hmap_del(c->conn_idx, key);
			conn_free(k);
			c->nconns--;
			if (old != NULL) {
				/* The old connection stands, as its objects will again. */
				*k = prev;
				c->nconns++;
				mg_hmap_put(c->conn_idx, key, slot);
				old = NULL;
			}
			mg_txn_abort(t);
			goto fail;
		}
	}
	mg_txn_commit(t);
	if (old != NULL)
		conn_free(&prev);
	if (old_wg[0] != '\0') {
		struct mg_error e2;

		/* A changed connection: its old WireGuard interface is empty now. */
		if (mg_model_wg_del(c->env.model, old_wg, &e2) < 0)
			NSM_LOG(ERR, "connection %s: %s: %s\n", id, old_wg, e2.msg);
	}
	if (old_vx[0] != '\0') {
		struct mg_error e2;

		if (mg_model_vxlan_del(c->env.model, old_vx, &e2) < 0)
			NSM_LOG(ERR, "connection %s: %s: %s\n", id, old_vx, e2.msg);
	}
	if (old_esp[0] != '\0') {
		struct mg_error e2;

		/* A changed connection: its old ESP tunnel is empty now. */
		ctl_ike_tunnel_gone(c, old_esp);
		if (mg_model_esp_del(c->env.model, old_esp, &e2) < 0)
			NSM_LOG(ERR, "connection %s: %s: %s\n", id, old_esp, e2.msg);
	}
	free(kept_old);
	free(kept_new);
	free(seq);
	free(from);
	free(b.ops);
	free(b.field);
	c->requests_ok++;
	NSM_LOG(INFO, "connection %s up on %s (network %s)\n", k->id, k->iface, k->network);
	nsm_event(c, k, "UPDATE");
	return conn_render(c, k, camel);
fail:
	if (fresh.wg[0] != '\0') {
		struct mg_error e2;

		mg_model_wg_del(c->env.model, fresh.wg, &e2);
	}
	/* A tunnel made for this request (not one kept from the old connection). */
	if (vx_made) {
		struct mg_error e2;

		mg_model_vxlan_del(c->env.model, fresh.vx, &e2);
	}
	if (fresh.esp[0] != '\0') {
		struct mg_error e2;

		ctl_ike_tunnel_gone(c, fresh.esp);
		mg_model_esp_del(c->env.model, fresh.esp, &e2);
	}
	json_decref(mech);
	free(undo);
	free(adds);
	free(kept_old);
	free(kept_new);
	free(seq);
	free(from);
	free(b.ops);
	free(b.field);
	c->requests_failed++;
	return NULL;
}

json_t *
conn_request(struct mg_ctl *c, json_t *raw, struct mg_error *err)
{
	bool camel;
	json_t *req, *res;

	mg_error_clear(err);
	req = nsm_normalise(raw, "NetworkServiceRequest", &camel, err);
	if (req == NULL)
		return NULL;
	res = request(c, req, camel, NULL, err);
	json_decref(req);
	return res;
}

int
conn_replay(struct mg_ctl *c, json_t *entry, struct mg_error *err)
{
	json_t *req = json_object_get(entry, "request"), *seg = json_object_get(entry, "segment");
	json_t *res;
	const char *exp = jstr(seg, "expires");

	if (exp != NULL && parse_rfc3339(exp) <= wall_now())
		return 0; /* it expired while we were down */
	if (ctl_wg_conn_open(c, entry, err) < 0 || ctl_ipsec_open(c, entry, err) < 0)
		return -err->code;
	res = request(c, req, json_is_true(json_object_get(entry, "camel")), seg, err);
	ctl_json_wipe(req); /* it may hold an IPSEC connection's keys, opened above */
	mg_wipe(c->replay_wg_key, sizeof(c->replay_wg_key));
	c->replay_wg_key_set = false;
	c->replay_wg_port = 0;
	if (res == NULL)
		return -err->code;
	json_decref(res);
	return 0;
}

int
conn_close_id(struct mg_ctl *c, const char *id, const char *why, struct mg_error *err)
{
	struct conn *k = conn_find(c, id);
	char key[256] = {0};
	int rc;

	if (k == NULL)
		return mg_error_set(err, ENOENT, "id", "no connection '%s'", id);
	if (!c->replaying) {
		json_t *e = json_pack("{s:s}", "close", id);

		rc = ctl_journal(c, e, err);
		json_decref(e);
		if (rc < 0)
			return rc;
	}
	rc = mg_txn_apply_all(c->env.model, k->ops, k->nops, NULL, err);
	if (rc < 0)
		NSM_LOG(ERR, "closing %s: %s (objects left behind)\n", id, err->msg);
	if (k->wg[0] != '\0' && mg_model_wg_del(c->env.model, k->wg, err) < 0)
		NSM_LOG(ERR, "closing %s: %s: %s\n", id, k->wg, err->msg);
	if (k->vx[0] != '\0' && mg_model_vxlan_del(c->env.model, k->vx, err) < 0)
		NSM_LOG(ERR, "closing %s: %s: %s\n", id, k->vx, err->msg);
	if (k->esp[0] != '\0')
		ctl_ike_tunnel_gone(c, k->esp); /* its IKE SA deleted, the peer told */
	if (k->esp[0] != '\0' && mg_model_esp_del(c->env.model, k->esp, err) < 0)
		NSM_LOG(ERR, "closing %s: %s: %s\n", id, k->esp, err->msg);
	NSM_LOG(INFO, "connection %s closed (%s)\n", id, why);
	json_object_set_new(k->conn, "state", json_string("DOWN"));
	nsm_event(c, k, "DELETE");
	mg_strlcpy(key, id, sizeof(key));
	mg_hmap_del(c->conn_idx, key);
	conn_free(k);
	c->nconns--;
	return 0;
}

int
conn_close(struct mg_ctl *c, json_t *raw, struct mg_error *err)
{
	bool camel;
	json_t *conn = nsm_normalise(raw, "Connection", &camel, err);
	const char *id;
	int rc;

	if (conn == NULL)
		return -err->code;
	id = jstr(conn, "id");
	if (id == NULL || id[0] == '\0') {
		json_decref(conn);
		return mg_error_set(err, EINVAL, "id", "is required");
	}
	rc = conn_close_id(c, id, "Close", err);
	json_decref(conn);
	return rc;
}

void
conn_expire(struct mg_ctl *c, uint64_t now)
{
	struct mg_error err;

	for (unsigned int i = 0; i < CTL_MAX_CONNS; i++) {
		struct conn *k = &c->conns[i];

		if (k->used && k->expires_ns <= now) {
			char id[256];

			mg_strlcpy(id, k->id, sizeof(id));
			c->conns_expired++;
			conn_close_id(c, id, "path segment expired", &err);
		}
	}
}

json_t *
conn_render(struct mg_ctl *c, const struct conn *k, bool camel)
{
	json_t *out = json_deep_copy(k->conn), *path = json_object_get(out, "path");
	json_t *seg = json_array_get(json_object_get(path, "path_segments"),
				     (size_t)json_integer_value(json_object_get(path, "index")));
	const struct mg_iface *ifc = mg_model_iface_find(c->env.model, k->iface);
	char v[32];

	if (json_is_object(seg) && ifc != NULL && c->env.dp != NULL) {
		struct mg_if_counters ic;
		json_t *m = jobj(seg, "metrics");

		mg_dp_iface_counters(c->env.dp, ifc->id, &ic);
#define MET(name, val)                                                                     \
	do {                                                                               \
		snprintf(v, sizeof(v), "%llu", (unsigned long long)(val));                 \
		json_object_set_new(m, name, json_string(v));                              \
	} while (0)
		MET("rx_bytes", ic.rx_bytes);
		MET("tx_bytes", ic.tx_bytes);
		MET("rx_packets", ic.rx_pkts);
		MET("tx_packets", ic.tx_pkts);
		MET("drops", ic.drops);
#undef MET
	}
	if (camel) {
		json_t *cm = nsm_camel(out, "Connection");

		json_decref(out);
		return cm;
	}
	return out;
}

static bool
same_key(const struct mg_op *a, const struct mg_op *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case MG_OP_NETWORK:
		return !strcmp(a->network.name, b->network.name);
	case MG_OP_PORT:
		return !strcmp(a->port.name, b->port.name);
	case MG_OP_VLAN:
		return !strcmp(a->vlan.port, b->vlan.port) && a->vlan.vlan == b->vlan.vlan;
	case MG_OP_ADDR:
		return !strcmp(a->addr.iface, b->addr.iface) &&
		       mg_ip_equal(&a->addr.prefix.addr, &b->addr.prefix.addr);
	case MG_OP_ROUTE:
		return !strcmp(a->route.network, b->route.network) &&
		       mg_prefix_equal(&a->route.prefix, &b->route.prefix);
	case MG_OP_NEIGH:
		return !strcmp(a->neigh.iface, b->neigh.iface) &&
		       mg_ip_equal(&a->neigh.ip, &b->neigh.ip);
	default:
		return false;
	}
}

bool
ctl_conn_owns_iface(struct mg_ctl *c, const char *iface)
{
	for (unsigned int i = 0; c->nconns > 0 && i < CTL_MAX_CONNS; i++)
		if (c->conns[i].used && !strcmp(c->conns[i].iface, iface))
			return true;
	return false;
}

const char *
ctl_conn_owner(const struct mg_ctl *c, const char *name)
{
	for (unsigned int i = 0; c->nconns > 0 && i < CTL_MAX_CONNS; i++) {
		const struct conn *k = &c->conns[i];

		if (k->used && (!strcmp(k->iface, name) || !strcmp(k->wg, name) ||
				!strcmp(k->vx, name) || !strcmp(k->esp, name)))
			return k->id;
	}
	return NULL;
}

int
ctl_conn_refuse_owned(const struct mg_ctl *c, const char *what, const char *name,
		      struct mg_error *e)
{
	const char *id = name[0] != '\0' ? ctl_conn_owner(c, name) : NULL;

	if (id == NULL)
		return 0;
	/* The connection would be left unable to take its objects back on Close. */
	return mg_error_set(e, EBUSY, "name",
			    "%s '%s' belongs to NSM connection '%s': close the connection instead",
			    what, name, id);
}

bool
conn_owns(struct mg_ctl *c, const struct mg_op *op)
{
	if (c->nconns == 0)
		return false;
	for (unsigned int i = 0; i < CTL_MAX_CONNS; i++) {
		const struct conn *k = &c->conns[i];

		if (!k->used)
			continue;
		/* Addresses are not in the undo list: they belong to the interface. */
		if (op->kind == MG_OP_ADDR && !strcmp(op->addr.iface, k->iface))
			return true;
		if (op->kind == MG_OP_VLAN) {
			char n[MG_NAME_MAX + 8];

			snprintf(n, sizeof(n), "%s.%u", op->vlan.port, op->vlan.vlan);
			if (!strcmp(n, k->iface))
				return true;
		}
		for (unsigned int j = 0; j < k->nops; j++)
			if (same_key(&k->ops[j], op))
				return true;
	}
	return false;
}

json_t *
conn_snapshot(struct mg_ctl *c)
{
	json_t *arr = json_array();

	for (unsigned int i = 0; i < CTL_MAX_CONNS; i++)
		if (c->conns[i].used)
			json_array_append_new(arr, journal_entry(c, &c->conns[i]));
	return arr;
}

bool
conn_owns_esp(const struct mg_ctl *c, const char *name)
{
	for (unsigned int i = 0; c->nconns > 0 && i < CTL_MAX_CONNS; i++)
		if (c->conns[i].used && !strcmp(c->conns[i].esp, name))
			return true;
	return false;
}
