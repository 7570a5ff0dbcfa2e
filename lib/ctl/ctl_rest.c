/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The REST endpoint: JSON over HTTP/1.1 with libmicrohttpd, polled by the
 * main loop (no threads of its own), bound to loopback unless configured
 * otherwise, every request authenticated with a bearer token compared in
 * constant time. Each handler is a thin parser over one core call: changes
 * become model operations through ctl_commit_ops (or a connection request),
 * reads render the model.
 *
 *   /v1/networks[/NAME]         GET POST DELETE
 *   /v1/networks/NAME/flows     GET PUT DELETE (flow tracking, ctl_flows.c)
 *   /v1/flows?address=&port=&network=&since=&until=&limit=  GET (flow history)
 *   /v1/ports[/NAME]            GET POST DELETE
 *   /v1/interfaces[/NAME]       GET POST (a VLAN) DELETE
 *   /v1/interfaces/NAME/addresses  POST
 *   /v1/interfaces/NAME/addresses/ADDR[/LEN]  DELETE
 *   /v1/routes[?network=N]      GET POST
 *   /v1/routes/NET/ADDR/LEN     GET PUT DELETE
 *   /v1/neighbors               GET POST
 *   /v1/neighbors/IFACE/IP      DELETE
 *   /v1/connections[/ID]        GET POST (a NetworkServiceRequest) DELETE
 *   /v1/esp-tunnels[/NAME[/sas]]  GET POST DELETE, PUT sas (ctl_esp.c)
 *   /v1/vxlan[/NAME]              GET POST DELETE (ctl_vxlan.c)
 *   /v1/ike                       GET (IKEv2 peers and SAs, lib/gw/gw_ike.c)
 *   /v1/batch                   POST {"operations": [...]}, applied atomically
 *   /v1/wireguard[/NAME]        GET POST DELETE (WireGuard interfaces; keys never shown)
 *   /v1/stats                   GET
 *   /metrics                    GET (Prometheus text)
 *
 * A path that is none of these is 404; a method a path does not have is 405
 * with an Allow header.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_log.h>

#include "ctl_priv.h"
#include "mg_flowlog.h"
#include "mg_capture.h"
#include "mg_dp.h"
#include "mg_fwd.h"
#include "mg_rules.h"
#include "mg_stats.h"
#include "mg_natgw_setup.h"
#include "mg_svc_setup.h"

RTE_LOG_REGISTER_SUFFIX(mg_rest_logtype, rest, INFO);
/* How long a request's headers may take when connections run short (rest_deadlines). */
#define CTL_REST_HEADER_NS (10ull * 1000000000ull)

#define REST_LOG(l, ...) rte_log(RTE_LOG_##l, mg_rest_logtype, "rest: " __VA_ARGS__)

struct req {
	char *body;
	size_t len;
	bool too_big;
	bool limited;      /* over control.rest.rate_limit: 429, nothing else looked at */
	char client[INET6_ADDRSTRLEN]; /* the client's address, for the 429 message */
	bool authorized;   /* decided from the headers, before any body is kept */
	const char *network; /* the ?network= argument, or NULL */
	struct MHD_Connection *hc; /* NULL below libmicrohttpd (rest_handle) */
};

struct resp {
	int status;
	char *text;   /* owned */
	const char *type;
	const char *allow; /* the Allow header of a 405 */
	struct MHD_Response *mr; /* a ready response (a stream) instead of text */
	const char *location;    /* the Location header of a 201 */
};

/* ---- rate limit ----------------------------------------------------------------------- */

/*
 * A token bucket per client address (control.rest.rate_limit requests per
 * second, control.rest.rate_burst at once), in a small table: a new address
 * takes a free slot or the one idle longest, so many addresses cost no more
 * memory, only a fresh (full) bucket for the evicted one.
 */
struct rate_bucket {
	uint8_t addr[16];
	bool used;
	double tokens;
	uint64_t last_ns;
};

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The client address of @p hc as 16 bytes (IPv4 mapped) and as text. */
static void
client_addr(struct MHD_Connection *hc, uint8_t key[16], char *text, size_t n)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(hc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	memset(key, 0, 16);
	snprintf(text, n, "?");
	if (sa != NULL && sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;

		key[10] = key[11] = 0xff;
		memcpy(key + 12, &a->sin_addr, 4);
		inet_ntop(AF_INET, &a->sin_addr, text, (socklen_t)n);
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;

		memcpy(key, &a->sin6_addr, 16);
		inet_ntop(AF_INET6, &a->sin6_addr, text, (socklen_t)n);
	}
}

/* Take one request from the bucket of @p key; false if it is empty. */
static bool
rate_take(struct mg_ctl *c, const uint8_t key[16], uint64_t now)
{
	struct rate_bucket *b = NULL, *oldest = NULL;
	double burst = c->conf.rest_burst ? c->conf.rest_burst : 2.0 * c->conf.rest_rate;

	if (c->conf.rest_rate == 0)
		return true;
	for (unsigned int i = 0; i < CTL_RATE_BUCKETS; i++) {
		struct rate_bucket *x = &c->rate[i];

		if (x->used && memcmp(x->addr, key, 16) == 0) {
			b = x;
			break;
		}
		if (oldest == NULL || !x->used || (oldest->used && x->last_ns < oldest->last_ns))
			oldest = x;
	}
	if (b == NULL) {
		b = oldest;
		memcpy(b->addr, key, 16);
		b->used = true;
		b->tokens = burst;
		b->last_ns = now;
	}
	b->tokens += (double)(now - b->last_ns) * 1e-9 * c->conf.rest_rate;
	if (b->tokens > burst)
		b->tokens = burst;
	b->last_ns = now;
	if (b->tokens < 1.0)
		return false;
	b->tokens -= 1.0;
	return true;
}

/* ---- token ---------------------------------------------------------------------------- */

static int
load_token(struct mg_ctl *c, struct mg_error *err)
{
	char path[300];

	if (c->conf.token_file[0] != '\0') {
		unsigned int mode = 0;
		int n = mg_token_file_read(c->conf.token_file, "control.rest.token_file", c->token,
					   sizeof(c->token), &mode, err);

		if (n < 0)
			return n;
		if ((mode & 077) != 0)
			REST_LOG(WARNING, "%s can be read by others than its owner (mode %03o): "
				 "make it 0600\n", c->conf.token_file, mode);
		c->token_len = (size_t)n;
		return 0;
	}
	/* No file given: make one, readable by root only. */
	{
		uint8_t b[24];
		int fd;

		if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
			return mg_error_set(err, EIO, "control.rest", "no randomness for a token");
		for (unsigned int i = 0; i < sizeof(b); i++)
			sprintf(c->token + 2 * i, "%02x", b[i]);
		mg_wipe(b, sizeof(b));
		c->token_len = 2 * sizeof(b);
		snprintf(path, sizeof(path), "%s/rest.token", c->conf.run_dir);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, c->token, c->token_len) != (ssize_t)c->token_len) {
			if (fd >= 0)
				close(fd);
			return mg_error_set(err, errno, "control.rest", "cannot write %s: %s", path,
					    strerror(errno));
		}
		close(fd);
	}
	return 0;
}

/*
 * "Bearer TOKEN" (the scheme is case-insensitive, RFC 9110 11.1), compared in
 * constant time in the token's length: no early exit on the first mismatch.
 */
static bool
token_ok(const struct mg_ctl *c, const char *hdr)
{
	const char *p;
	size_t n;
	unsigned int diff = 0;

	if (hdr == NULL || strncasecmp(hdr, "Bearer ", 7) != 0)
		return false;
	for (p = hdr + 7; *p == ' '; p++)
		;
	n = strlen(p);
	diff |= (unsigned int)(n ^ c->token_len);
	for (size_t i = 0; i < c->token_len; i++)
		diff |= (uint8_t)(c->token[i] ^ (i < n ? p[i] : 0));
	return diff == 0;
}

/* ---- responses -------------------------------------------------------------------------- */

static struct resp
json_resp(int status, json_t *j)
{
	struct resp r = {.status = status, .type = "application/json"};

	r.text = json_dumps(j, JSON_INDENT(2));
	json_decref(j);
	return r;
}

static struct resp
err_resp(const struct mg_error *e)
{
	return json_resp(ctl_http_status(e->code), json_pack("{s:o}", "error", ctl_error_json(e)));
}

static struct resp
simple_err(int status, int code, const char *field, const char *msg)
{
	struct mg_error e;

	mg_error_set(&e, code, field, "%s", msg);
	return json_resp(status, ctl_status_error_json(status, &e));
}

static struct resp
not_allowed(const char *allow)
{
	struct resp r = json_resp(405, ctl_not_allowed_json());

	r.allow = allow;
	return r;
}

static struct resp
no_resource(void)
{
	return simple_err(404, ENOENT, "", "no such resource (see conf/openapi.yaml)");
}

/* ---- rendering the model -------------------------------------------------------------------- */

static json_t *
iface_json(struct mg_ctl *c, const struct mg_iface *ifc)
{
	const struct mg_model *m = c->env.model;
	json_t *o = json_object();
	char b[MG_PREFIX_STRLEN];
	struct mg_if_counters ic;

	json_object_set_new(o, "name", json_string(ifc->name));
	json_object_set_new(o, "kind", json_string(ifc->kind == MG_IFACE_VLAN ? "vlan" :
						   ifc->kind == MG_IFACE_WG ? "wireguard" :
						   ifc->kind == MG_IFACE_ESP ? "esp" :
						   ifc->kind == MG_IFACE_VXLAN ? "vxlan" : "port"));
	if (ifc->kind == MG_IFACE_ESP || ifc->kind == MG_IFACE_VXLAN)
		json_object_set_new(o, "port", json_string(""));
	else if (ifc->kind != MG_IFACE_WG)
		json_object_set_new(o, "port", json_string(mg_model_port_get(m, ifc->port)->spec.name));
	json_object_set_new(o, "vlan", json_integer(ifc->vlan));
	json_object_set_new(o, "network", json_string(mg_model_network_get(m, ifc->network)->spec.name));
	json_object_set_new(o, "mtu", json_integer(ifc->mtu));
	json_object_set_new(o, "mac", json_string(mg_mac_fmt(&ifc->mac, b, sizeof(b))));
	cj_addrs_json(o, ifc);
	json_object_set_new(o, "link_local", json_string(mg_ip_fmt(&ifc->ll6, b, sizeof(b))));
	if (c->env.dp != NULL) {
		mg_dp_iface_counters(c->env.dp, ifc->id, &ic);
		json_object_set_new(o, "counters",
				    json_pack("{s:I,s:I,s:I,s:I,s:I}", "rx_packets",
					      (json_int_t)ic.rx_pkts, "rx_bytes",
					      (json_int_t)ic.rx_bytes, "tx_packets",
					      (json_int_t)ic.tx_pkts, "tx_bytes",
					      (json_int_t)ic.tx_bytes, "drops", (json_int_t)ic.drops));
	}
	return o;
}

static json_t *
port_json(struct mg_ctl *c, const struct mg_port *p)
{
	struct mg_op op = {.kind = MG_OP_PORT, .port = p->spec};
	json_t *o = cj_spec_json(&op);
	const struct mg_iface *base = mg_model_iface_get(c->env.model, p->iface);
	json_t *vl = json_array();

	json_object_set_new(o, "ethdev", json_integer(p->ethdev == UINT16_MAX ? -1 : p->ethdev));
	json_object_set_new(o, "interface", iface_json(c, base));
	for (uint16_t i = 0; i < mg_model_iface_max(); i++) {
		const struct mg_iface *ifc = mg_model_iface_get(c->env.model, i);

		if (ifc != NULL && ifc->kind == MG_IFACE_VLAN && ifc->port == p->id)
			json_array_append_new(vl, json_string(ifc->name));
	}
	json_object_set_new(o, "vlans", vl);
	return o;
}

static json_t *
route_json(struct mg_ctl *c, const struct mg_route *r)
{
	struct mg_op op = {.kind = MG_OP_ROUTE};
	json_t *o;
	const struct mg_iface *ifc;

	mg_model_route_spec(c->env.model, r, &op.route);
	o = cj_spec_json(&op);
	ifc = mg_model_iface_get(c->env.model, r->iface);
	if (ifc != NULL)
		json_object_set_new(o, "interface", json_string(ifc->name));
	return o;
}

struct nb_walk {
	struct mg_ctl *c;
	json_t *arr;
};

static void
nb_cb(const struct mg_fwd_neigh_info *n, void *arg)
{
	struct nb_walk *w = arg;
	const struct mg_iface *ifc = mg_model_iface_get(w->c->env.model, n->ifindex);
	char ip[MG_IP_STRLEN], mac[MG_MAC_STRLEN];
	struct mg_mac mm;

	memcpy(mm.b, &n->mac, 6);
	json_array_append_new(
		w->arr,
		json_pack("{s:s,s:s,s:s,s:s,s:b,s:I,s:I,s:I}", "interface", ifc ? ifc->name : "?",
			  "ip", mg_ip_fmt(&n->ip, ip, sizeof(ip)), "mac",
			  mg_mac_fmt(&mm, mac, sizeof(mac)), "state", mg_fwd_neigh_state_name(n->state),
			  "static", n->state == MG_NBR_STATIC, "refs", (json_int_t)n->refs, "held",
			  (json_int_t)n->held, "age_ms", (json_int_t)n->age_ms));
}

/* ---- handlers ------------------------------------------------------------------------------- */

/* The path of the first string in @j that holds a NUL character, in @path; false if none. */
static bool
find_nul(json_t *j, char *path, size_t n)
{
	size_t len = strlen(path), i;
	const char *k;
	json_t *v;

	switch (json_typeof(j)) {
	case JSON_STRING:
		return strlen(json_string_value(j)) != json_string_length(j);
	case JSON_OBJECT:
		json_object_foreach(j, k, v) {
			snprintf(path + len, n - len, "%s%s", len ? "." : "", k);
			if (find_nul(v, path, n))
				return true;
		}
		break;
	case JSON_ARRAY:
		json_array_foreach(j, i, v) {
			snprintf(path + len, n - len, "[%zu]", i);
			if (find_nul(v, path, n))
				return true;
		}
		break;
	default:
		break;
	}
	path[len] = '\0';
	return false;
}

static json_t *
parse_body(const struct req *rq, struct mg_error *e)
{
	json_error_t je;
	json_t *j;
	char path[sizeof(e->field)] = "";

	if (rq->body == NULL || rq->len == 0) {
		mg_error_set(e, EINVAL, "", "a JSON body is required");
		return NULL;
	}
	/* NULs are let through the parser to be refused with the field that holds one. */
	j = json_loadb(rq->body, rq->len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY,
		       &je);
	if (j == NULL) {
		mg_error_set(e, EINVAL, "", "not valid JSON (line %d, column %d: %s)", je.line,
			     je.column, mg_error_text_unquoted(je.text));
		return NULL;
	}
	if (find_nul(j, path, sizeof(path))) {
		mg_error_set(e, EINVAL, path, "contains a NUL character");
		json_decref(j);
		return NULL;
	}
	return j;
}

/*
 * The model names some fields by its own words: say them as the request
 * body does ("id" of a VLAN is its "vlan").
 */
static const char *
body_field(enum mg_op_kind kind, const char *field)
{
	if (kind == MG_OP_VLAN && (!strcmp(field, "id") || !strcmp(field, "name")))
		return "vlan";
	return field;
}

/*
 * Parse a spec of @kind from the body and add it. @iface: the interface the
 * path names (addresses), which the body may repeat but not contradict.
 */
static int
add_spec(struct mg_ctl *c, const struct req *rq, enum mg_op_kind kind, const char *iface,
	 struct mg_op *op, struct mg_error *e)
{
	json_t *j;
	int rc;

	mg_error_clear(e);
	memset(op, 0, sizeof(*op));
	op->verb = MG_OP_ADD;
	j = parse_body(rq, e);
	if (j == NULL)
		return -1;
	if (iface != NULL && json_is_object(j)) {
		json_t *v = json_object_get(j, "interface");

		if (v != NULL && (!json_is_string(v) || strcmp(json_string_value(v), iface))) {
			json_decref(j);
			return mg_error_set(e, EINVAL, "interface",
					    "the body names another interface than the path");
		}
		json_object_set_new(j, "interface", json_string(iface));
	}
	rc = cj_spec(kind, j, "", op, e);
	json_decref(j);
	if (rc < 0)
		return -1;
	if (ctl_commit_ops(c, op, 1, e) < 0) {
		mg_strlcpy(e->field, body_field(kind, e->field), sizeof(e->field));
		return -1;
	}
	return 0;
}

/* The field that names an object of @kind in its body. */
static const char *
key_field(enum mg_op_kind kind)
{
	switch (kind) {
	case MG_OP_VLAN: return "vlan";
	case MG_OP_ADDR: return "address";
	case MG_OP_ROUTE: return "prefix";
	case MG_OP_NEIGH: return "ip";
	default: return "name";
	}
}

/*
 * An object an NSM connection set up goes with the connection: deleting it
 * alone would leave the connection unable to take the rest back on Close.
 */
static int
check_not_owned(struct mg_ctl *c, const struct mg_op *op, const char *field, struct mg_error *e)
{
	struct mg_op k;

	/* Deleted or replaced (an add of what exists fails anyway). */
	if (op->verb == MG_OP_ADD || c->nconns == 0)
		return 0;
	/* A route named without its network is in its interface's, or in "default". */
	k = *op;
	if (k.kind == MG_OP_ROUTE && k.route.network[0] == '\0') {
		const struct mg_iface *ifc = mg_model_iface_find(c->env.model, k.route.iface);

		mg_strlcpy(k.route.network,
			   ifc ? mg_model_network_get(c->env.model, ifc->network)->spec.name
			       : "default",
			   sizeof(k.route.network));
	}
	if (!conn_owns(c, &k))
		return 0;
	return mg_error_set(e, EBUSY, field,
			    "this %s belongs to an NSM connection: close the connection instead",
			    mg_op_kind_name(op->kind));
}

static struct resp
delete_op(struct mg_ctl *c, struct mg_op *op, const char *field)
{
	struct mg_error e;

	mg_error_clear(&e);
	op->verb = MG_OP_DEL;
	if (check_not_owned(c, op, field, &e) < 0 || ctl_commit_ops(c, op, 1, &e) < 0)
		return err_resp(&e);
	return (struct resp){.status = 204, .text = NULL, .type = NULL};
}

static int
path_prefix(const char *addr, const char *len, struct mg_prefix *p)
{
	char buf[80];

	snprintf(buf, sizeof(buf), "%s/%s", addr, len);
	return mg_prefix_parse(buf, p);
}

static json_t *
network_json(const struct mg_network *n)
{
	struct mg_op op = {.kind = MG_OP_NETWORK};
	json_t *o;

	op.network = n->spec;
	o = cj_spec_json(&op);
	json_object_set_new(o, "interfaces", json_integer(n->nifaces));
	json_object_set_new(o, "routes", json_integer(n->nroutes));
	return o;
}

/*
 * A network's resource that is replaced whole: GET renders it, PUT replaces
 * it, DELETE replaces it with @empty (the body of "off" or "none").
 */
struct net_whole {
	json_t *(*get)(struct mg_ctl *c, const struct mg_network *n);
	int (*put)(struct mg_ctl *c, const char *network, json_t *body, struct mg_error *err);
	json_t *(*empty)(void);
	bool count;     /* counted in requests_ok/failed here (ctl_rules_put counts its own) */
};

static struct resp
h_net_whole(struct mg_ctl *c, const char *method, const char *name, const struct req *rq,
	    const struct net_whole *w)
{
	const struct mg_network *n = mg_model_network_find(c->env.model, name);
	struct mg_error e;
	json_t *j;
	int rc;

	if (strcmp(method, "GET") && strcmp(method, "PUT") && strcmp(method, "DELETE"))
		return not_allowed("GET, PUT, DELETE");
	if (n == NULL)
		return simple_err(404, ENOENT, "name", "no such network");
	if (!strcmp(method, "GET"))
		return json_resp(200, w->get(c, n));
	mg_error_clear(&e);
	if (!strcmp(method, "DELETE")) {
		j = w->empty();
	} else {
		j = parse_body(rq, &e);
		if (j == NULL)
			return err_resp(&e);
	}
	rc = w->put(c, name, j, &e);
	json_decref(j);
	if (rc < 0) {
		if (w->count)
			c->requests_failed++;
		return err_resp(&e);
	}
	if (w->count)
		c->requests_ok++;
	if (!strcmp(method, "DELETE"))
		return (struct resp){.status = 204, .text = NULL, .type = NULL};
	return json_resp(200, w->get(c, n));
}

static json_t *
rules_with_counters(struct mg_ctl *c, const struct mg_network *n)
{
	return ctl_rules_json(c, n->id, true);
}

/* /v1/networks/NAME/rules: the network's classification rules (DELETE: none). */
static const struct net_whole net_rules = {rules_with_counters, ctl_rules_put, json_object,
					   false};
/* /v1/networks/NAME/flows: the network's flow tracking (DELETE: off). */
static const struct net_whole net_flows = {ctl_net_flows_json, ctl_net_flows_put, json_null,
					   true};

/* GET /v1/flows: the flow history, filtered by the query arguments. */
static struct resp
h_flows(struct mg_ctl *c, const char *method, const struct req *rq)
{
	struct mg_flowlog_query q;
	struct mg_error e;
	const char *a[6] = {NULL};
	static const char *const names[6] = {"address", "port", "network", "since", "until",
					      "limit"};

	if (strcmp(method, "GET"))
		return not_allowed("GET");
	if (rq->hc != NULL)
		for (int i = 0; i < 6; i++)
			a[i] = MHD_lookup_connection_value(rq->hc, MHD_GET_ARGUMENT_KIND, names[i]);
	else
		a[2] = rq->network;
	mg_error_clear(&e);
	if (ctl_flows_query_parse(a[0], a[1], a[2], a[3], a[4], a[5], &q, &e) < 0)
		return err_resp(&e);
	if (q.network[0] != '\0' && mg_model_network_find(c->env.model, q.network) == NULL)
		return simple_err(404, ENOENT, "network", "no such network");
	return json_resp(200, ctl_flows_json(c, &q));
}

/*
 * A collection of model objects named by one path segment (/v1/networks,
 * /v1/ports, /v1/interfaces): GET lists them, POST adds one from the body
 * (201 with it as GET shows it), GET /v1/KIND/NAME shows one and DELETE
 * removes it.
 */
struct named_coll {
	enum mg_op_kind kind; /* of the spec a POST body holds */
	const char *none;     /* the 404 message of an unknown name */
	uint16_t (*max)(void);
	/* The object named @name, or (@name NULL) at @i, rendered; NULL: none. */
	json_t *(*render)(struct mg_ctl *c, uint16_t i, const char *name);
};

static json_t *
network_render(struct mg_ctl *c, uint16_t i, const char *name)
{
	const struct mg_network *n = name ? mg_model_network_find(c->env.model, name)
					  : mg_model_network_get(c->env.model, i);

	return n ? network_json(n) : NULL;
}

static json_t *
port_render(struct mg_ctl *c, uint16_t i, const char *name)
{
	const struct mg_port *p = name ? mg_model_port_find(c->env.model, name)
				       : mg_model_port_get(c->env.model, i);

	return p ? port_json(c, p) : NULL;
}

static json_t *
iface_render(struct mg_ctl *c, uint16_t i, const char *name)
{
	const struct mg_iface *ifc = name ? mg_model_iface_find(c->env.model, name)
					  : mg_model_iface_get(c->env.model, i);

	return ifc ? iface_json(c, ifc) : NULL;
}

/*
 * DELETE /v1/KIND/NAME: networks and ports go by their name; a VLAN
 * interface by its port and id, and a port's own interface goes with the port.
 */
static struct resp
delete_named(struct mg_ctl *c, enum mg_op_kind kind, const char *name)
{
	const struct mg_iface *ifc;
	const char *dot;
	struct mg_op op;

	memset(&op, 0, sizeof(op));
	op.kind = kind;
	if (kind == MG_OP_NETWORK) {
		mg_strlcpy(op.network.name, name, sizeof(op.network.name));
	} else if (kind == MG_OP_PORT) {
		mg_strlcpy(op.port.name, name, sizeof(op.port.name));
	} else {
		ifc = mg_model_iface_find(c->env.model, name);
		dot = strrchr(name, '.');
		if (ifc == NULL)
			return simple_err(404, ENOENT, "name", "no such interface");
		if (ifc->kind != MG_IFACE_VLAN || dot == NULL)
			return simple_err(409, EBUSY, "name",
					  "a port's own interface goes with the port: DELETE "
					  "/v1/ports/NAME");
		snprintf(op.vlan.port, sizeof(op.vlan.port), "%.*s", (int)(dot - name), name);
		op.vlan.vlan = ifc->vlan;
	}
	return delete_op(c, &op, "name");
}

static const struct named_coll networks = {MG_OP_NETWORK, "no such network",
					    mg_model_network_max, network_render};
static const struct named_coll ports = {MG_OP_PORT, "no such port", mg_model_port_max,
					port_render};
static const struct named_coll interfaces = {MG_OP_VLAN, "no such interface",
					     mg_model_iface_max, iface_render};

/* The name of what a POST added: a VLAN interface is PORT.VLAN. */
static const char *
added_name(const struct mg_op *op, char *buf, size_t n)
{
	switch (op->kind) {
	case MG_OP_NETWORK: return op->network.name;
	case MG_OP_PORT: return op->port.name;
	default: snprintf(buf, n, "%s.%u", op->vlan.port, op->vlan.vlan); return buf;
	}
}

static struct resp
h_named(struct mg_ctl *c, const char *method, char **seg, int nseg, const struct req *rq,
	const struct named_coll *k)
{
	struct mg_error e;
	struct mg_op op;

	if (nseg == 2) {
		if (!strcmp(method, "GET")) {
			json_t *a = json_array();

			for (uint16_t i = 0; i < k->max(); i++) {
				json_t *o = k->render(c, i, NULL);

				if (o != NULL)
					json_array_append_new(a, o);
			}
			return json_resp(200, a);
		}
		if (!strcmp(method, "POST")) {
			char name[MG_NAME_MAX + 8];

			if (add_spec(c, rq, k->kind, NULL, &op, &e) < 0)
				return err_resp(&e);
			return json_resp(201,
					 k->render(c, 0, added_name(&op, name, sizeof(name))));
		}
		return not_allowed("GET, POST");
	}
	if (nseg == 3) {
		if (!strcmp(method, "GET")) {
			json_t *o = k->render(c, 0, seg[2]);

			return o ? json_resp(200, o) : simple_err(404, ENOENT, "name", k->none);
		}
		if (!strcmp(method, "DELETE"))
			return delete_named(c, k->kind, seg[2]);
		return not_allowed("GET, DELETE");
	}
	return no_resource();
}

static struct resp
h_networks(struct mg_ctl *c, const char *method, char **seg, int nseg, const struct req *rq)
{
	if (nseg == 4 && !strcmp(seg[3], "rules"))
		return h_net_whole(c, method, seg[2], rq, &net_rules);
	if (nseg == 4 && !strcmp(seg[3], "flows"))
		return h_net_whole(c, method, seg[2], rq, &net_flows);
	return h_named(c, method, seg, nseg, rq, &networks);
}

static struct resp
h_ports(struct mg_ctl *c, const char *method, char **seg, int nseg, const struct req *rq)
{
	return h_named(c, method, seg, nseg, rq, &ports);
}

static struct resp
h_addresses(struct mg_ctl *c, const char *method, char **seg, int nseg, const struct req *rq)
{
	struct mg_error e;
	struct mg_op op;

	if (nseg == 4) {
		if (!strcmp(method, "POST")) {
			if (add_spec(c, rq, MG_OP_ADDR, seg[2], &op, &e) < 0)
				return err_resp(&e);
			return json_resp(201, cj_spec_json(&op));
		}
		return not_allowed("POST");
	}
	if (nseg == 5 || nseg == 6) {
		char buf[80];

		if (strcmp(method, "DELETE"))
			return not_allowed("DELETE");
		memset(&op, 0, sizeof(op));
		op.kind = MG_OP_ADDR;
		mg_strlcpy(op.addr.iface, seg[2], sizeof(op.addr.iface));
		snprintf(buf, sizeof(buf), "%s%s%s", seg[4], nseg == 6 ? "/" : "",
			 nseg == 6 ? seg[5] : "");
		if (mg_prefix_parse(buf, &op.addr.prefix) < 0) {
			mg_error_set(&e, EINVAL, "address", "'%s' is not an address", buf);
			return err_resp(&e);
		}
		return delete_op(c, &op, "address");
	}
	return no_resource();
}

static struct resp
h_interfaces(struct mg_ctl *c, const char *method, char **seg, int nseg, const struct req *rq)
{
	if (nseg >= 4 && !strcmp(seg[3], "addresses"))
		return h_addresses(c, method, seg, nseg, rq);
	return h_named(c, method, seg, nseg, rq, &interfaces);
}

/* The route a request added: in its network, or its interface's, or "default". */
static const struct mg_route *
added_route(const struct mg_model *m, const struct mg_route_spec *s)
{
	const struct mg_iface *ifc = s->iface[0] ? mg_model_iface_find(m, s->iface) : NULL;
	const struct mg_network *n;

	if (s->network[0] != '\0')
		n = mg_model_network_find(m, s->network);
	else if (ifc != NULL)
		n = mg_model_network_get(m, ifc->network);
	else
		n = mg_model_network_find(m, "default");
	return n ? mg_model_route_find(m, n->id, &s->prefix) : NULL;
}

/* PUT /v1/routes/NET/ADDR/LEN: replace the route, or create it (201). */
static struct resp
put_route(struct mg_ctl *c, const struct req *rq, const char *net, const struct mg_prefix *p,
	  const struct mg_route *r)
{
	struct mg_op op = {.kind = MG_OP_ROUTE, .verb = MG_OP_REPLACE};
	char b[MG_PREFIX_STRLEN];
	struct mg_error e;
	json_t *j;
	int rc;

	mg_error_clear(&e);
	j = parse_body(rq, &e);
	if (j == NULL)
		return err_resp(&e);
	/* The path names the route: the body may leave network and prefix out. */
	if (json_is_object(j)) {
		if (json_object_get(j, "prefix") == NULL)
			json_object_set_new(j, "prefix", json_string(mg_prefix_fmt(p, b, sizeof(b))));
		if (json_object_get(j, "network") == NULL)
			json_object_set_new(j, "network", json_string(net));
	}
	rc = cj_spec(MG_OP_ROUTE, j, "", &op, &e);
	json_decref(j);
	if (rc < 0)
		return err_resp(&e);
	if (strcmp(op.route.network, net) != 0)
		return simple_err(400, EINVAL, "network",
				  "the body names another network than the path");
	if (!mg_prefix_equal(&op.route.prefix, p))
		return simple_err(400, EINVAL, "prefix", "the body names another prefix than the path");
	/* PUT creates what is not there yet. */
	if (r == NULL)
		op.verb = MG_OP_ADD;
	if (check_not_owned(c, &op, "prefix", &e) < 0 || ctl_commit_ops(c, &op, 1, &e) < 0)
		return err_resp(&e);
	return json_resp(op.verb == MG_OP_ADD ? 201 : 200,
			 route_json(c, added_route(c->env.model, &op.route)));
}

static struct resp
h_routes(struct mg_ctl *c, const char *method, char **seg, int nseg, const struct req *rq)
{
	const struct mg_model *m = c->env.model;
	struct mg_error e;
	struct mg_op op;

	if (nseg == 2) {
		if (!strcmp(method, "GET")) {
			const char *want = rq->network;
			const struct mg_network *wn = want ? mg_model_network_find(m, want) : NULL;
			json_t *a;
			const struct mg_route *r;
			uint32_t cur = 0;

			if (want != NULL && wn == NULL)
				return simple_err(404, ENOENT, "network", "no such network");
			a = json_array();
			while ((r = mg_model_route_next(m, &cur)) != NULL)
				if (wn == NULL || r->network == wn->id)
					json_array_append_new(a, route_json(c, r));
			return json_resp(200, a);
		}
		if (!strcmp(method, "POST")) {
			if (add_spec(c, rq, MG_OP_ROUTE, NULL, &op, &e) < 0)
				return err_resp(&e);
			return json_resp(201, route_json(c, added_route(m, &op.route)));
		}
		return not_allowed("GET, POST");
	}
	if (nseg == 5) {
		struct mg_prefix p;
		const struct mg_network *n = mg_model_network_find(m, seg[2]);
		const struct mg_route *r;

		if (strcmp(method, "GET") && strcmp(method, "PUT") && strcmp(method, "DELETE"))
			return not_allowed("GET, PUT, DELETE");
		if (path_prefix(seg[3], seg[4], &p) < 0)
			return simple_err(400, EINVAL, "prefix",
					  "the path is /v1/routes/NETWORK/ADDRESS/LENGTH");
		if (n == NULL)
			return simple_err(404, ENOENT, "network", "no such network");
		r = mg_model_route_find(m, n->id, &p);
		if (!strcmp(method, "GET"))
			return r ? json_resp(200, route_json(c, r))
				 : simple_err(404, ENOENT, "prefix", "no such route");
		if (!strcmp(method, "PUT"))
			return put_route(c, rq, n->spec.name, &p, r);
		memset(&op, 0, sizeof(op));
		op.kind = MG_OP_ROUTE;
		mg_strlcpy(op.route.network, seg[2], sizeof(op.route.network));
		op.route.prefix = p;
		return delete_op(c, &op, "prefix");
	}
	return no_resource();
}

static struct resp
h_neighbors(struct mg_ctl *c, const char *method, char **seg, int nseg, const struct req *rq)
{
	struct mg_error e;
	struct mg_op op;

	if (nseg == 2) {
		if (!strcmp(method, "GET")) {
			struct nb_walk w = {.c = c, .arr = json_array()};

			if (c->env.fwd != NULL)
				mg_fwd_neigh_walk(c->env.fwd, nb_cb, &w);
			return json_resp(200, w.arr);
		}
		if (!strcmp(method, "POST")) {
			if (add_spec(c, rq, MG_OP_NEIGH, NULL, &op, &e) < 0)
				return err_resp(&e);
			return json_resp(201, cj_spec_json(&op));
		}
		return not_allowed("GET, POST");
	}
	if (nseg == 4) {
		if (strcmp(method, "DELETE"))
			return not_allowed("DELETE");
		memset(&op, 0, sizeof(op));
		op.kind = MG_OP_NEIGH;
		mg_strlcpy(op.neigh.iface, seg[2], sizeof(op.neigh.iface));
		if (mg_ip_parse(seg[3], &op.neigh.ip) < 0) {
			mg_error_set(&e, EINVAL, "ip", "'%s' is not an IPv4 or IPv6 address", seg[3]);
			return err_resp(&e);
		}
		return delete_op(c, &op, "ip");
	}
	return no_resource();
}

static struct resp
h_connections(struct mg_ctl *c, const char *method, char **seg, int nseg, const struct req *rq)
{
	struct mg_error e;

	mg_error_clear(&e);
	if (nseg == 2) {
		if (!strcmp(method, "GET")) {
			json_t *a = json_array();

			for (unsigned int i = 0; i < CTL_MAX_CONNS; i++)
				if (c->conns[i].used)
					json_array_append_new(
						a, conn_render(c, &c->conns[i], c->conns[i].camel));
			return json_resp(200, a);
		}
		if (!strcmp(method, "POST")) {
			json_t *j = parse_body(rq, &e), *res;
			const char *id;
			bool existed;

			if (j == NULL)
				return err_resp(&e);
			/* 201 for a new connection; 200 for a refresh or a change. */
			id = json_string_value(json_object_get(json_object_get(j, "connection"), "id"));
			existed = id != NULL && conn_find(c, id) != NULL;
			res = conn_request(c, j, &e);
			json_decref(j);
			return res ? json_resp(existed ? 200 : 201, res) : err_resp(&e);
		}
		return not_allowed("GET, POST");
	}
	if (nseg == 3) {
		struct conn *k = conn_find(c, seg[2]);

		if (!strcmp(method, "GET"))
			return k ? json_resp(200, conn_render(c, k, k->camel))
				 : simple_err(404, ENOENT, "id", "no such connection");
		if (!strcmp(method, "DELETE")) {
			if (conn_close_id(c, seg[2], "DELETE over REST", &e) < 0)
				return err_resp(&e);
			return (struct resp){.status = 204};
		}
		return not_allowed("GET, DELETE");
	}
	return no_resource();
}

/*
 * A model error about one operation of a batch ("[I].FIELD", or FIELD alone
 * in a batch of one): name the field where the body has it,
 * operations[I].KIND.FIELD.
 */
static void
batch_field(struct mg_error *e, const struct mg_op *ops, size_t n)
{
	char f[sizeof(e->field)];
	const char *rest = e->field;
	size_t i = 0;

	if (n > 1) {
		char *end;

		if (e->field[0] != '[')
			return;
		i = strtoul(e->field + 1, &end, 10);
		if (*end != ']' || i >= n)
			return;
		rest = end + 1;
		if (*rest == '.')
			rest++;
	} else if (e->field[0] == '\0') {
		return;
	}
	rest = body_field(ops[i].kind, rest);
	if (!strcmp(rest, "op"))
		snprintf(f, sizeof(f), "operations[%zu].op", i);
	else
		snprintf(f, sizeof(f), "operations[%zu].%s%s%s", i, mg_op_kind_name(ops[i].kind),
			 rest[0] ? "." : "", rest);
	memcpy(e->field, f, sizeof(f));
}

static struct resp
h_batch(struct mg_ctl *c, const char *method, const struct req *rq)
{
	static const char *const fields[] = {"operations", NULL};
	struct mg_error e;
	json_t *j, *ops, *o;
	struct mg_op *arr;
	size_t n, i;
	int rc = 0;

	if (strcmp(method, "POST"))
		return not_allowed("POST");
	mg_error_clear(&e);
	j = parse_body(rq, &e);
	if (j == NULL)
		return err_resp(&e);
	if (cj_check_fields(j, fields, "", &e) < 0) {
		json_decref(j);
		return err_resp(&e);
	}
	ops = json_object_get(j, "operations");
	if (!json_is_array(ops)) {
		json_decref(j);
		return simple_err(400, EINVAL, "operations",
				  ops ? "expected an array of operations" : "is required");
	}
	n = json_array_size(ops);
	if (n == 0 || n > 10 * CTL_MAX_ARRAY) {
		json_decref(j);
		return simple_err(400, EINVAL, "operations", "1 to 10240 operations per batch");
	}
	arr = calloc(n, sizeof(*arr));
	if (arr == NULL) {
		json_decref(j);
		return simple_err(500, ENOMEM, "", "out of memory");
	}
	json_array_foreach(ops, i, o) {
		char p[64];

		snprintf(p, sizeof(p), "operations[%zu]", i);
		rc = cj_op(o, p, &arr[i], &e);
		if (rc == 0) {
			snprintf(p, sizeof(p), "operations[%zu].%s.%s", i, mg_op_kind_name(arr[i].kind),
				 key_field(arr[i].kind));
			rc = check_not_owned(c, &arr[i], p, &e);
		}
		if (rc < 0)
			break;
	}
	if (rc == 0) {
		rc = ctl_commit_ops(c, arr, (unsigned int)n, &e);
		if (rc < 0)
			batch_field(&e, arr, n);
	}
	free(arr);
	json_decref(j);
	if (rc < 0)
		return err_resp(&e);
	return json_resp(200, json_pack("{s:I}", "applied", (json_int_t)n));
}

/* ---- services (lib/svc: start-up services, endpoints changed at run time) ---------- */

static void
svc_json_cb(const struct mg_svc_info *si, void *arg)
{
	json_t *out = arg, *vips = json_array(), *eps = json_array(), *j;
	char buf[MG_IP_STRLEN];

	for (unsigned int i = 0; i < si->nvips; i++)
		json_array_append_new(vips, json_string(mg_ip_fmt(&si->vips[i], buf, sizeof(buf))));
	for (unsigned int i = 0; i < si->neps; i++) {
		const struct mg_svc_ep_info *e = &si->eps[i];

		json_array_append_new(eps, json_pack(
			"{s:s, s:s, s:I, s:b, s:i, s:f, s:I, s:I, s:I}", "name", e->name, "address",
			mg_ip_fmt(&e->addr, buf, sizeof(buf)), "weight", (json_int_t)e->weight, "up",
			e->up, "port", (int)e->port, "table_share", (double)e->lut_slots / si->table_size, "packets",
			(json_int_t)e->c.pkts, "bytes", (json_int_t)e->c.bytes, "active_flows",
			(json_int_t)(e->c.flows_new - e->c.flows_end)));
	}
	j = json_pack("{s:s, s:s, s:o, s:s, s:I, s:I, s:o}", "name", si->name, "network",
		      si->network, "vips", vips, "mode", si->mode == 1 ? "nat" : "route",
		      "table_size",
		      (json_int_t)si->table_size, "version", (json_int_t)si->version,
		      "endpoints", eps);
	if (json_is_array(out)) {
		json_array_append_new(out, j);
	} else {
		json_object_update(out, j);
		json_decref(j);
	}
}

static struct resp
svc_one_resp(int status, const char *name)
{
	json_t *o = json_object();

	if (mg_svc_ctl_walk(name, svc_json_cb, o) < 0) {
		json_decref(o);
		return simple_err(404, ENOENT, "name", "no such service");
	}
	return json_resp(status, o);
}

/* Body of PUT /v1/services/NAME/endpoints/EP: {address?, weight?, up?, port?}. */
static int
svc_ep_body(const struct req *rq, struct mg_svc_ep_update *u, struct mg_error *e)
{
	json_t *j = parse_body(rq, e), *v;
	const char *k;
	int rc = 0;

	if (j == NULL)
		return -EINVAL;
	memset(u, 0, sizeof(*u));
	json_object_foreach(j, k, v) {
		if (!strcmp(k, "address")) {
			u->has_addr = true;
			if (!json_is_string(v) || mg_ip_parse(json_string_value(v), &u->addr) < 0)
				rc = mg_error_set(e, EINVAL, "address", "must be an IPv4 or IPv6 address");
		} else if (!strcmp(k, "weight")) {
			u->has_weight = true;
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > 1000000)
				rc = mg_error_set(e, EINVAL, "weight", "must be an integer 0-1000000");
			else
				u->weight = (uint32_t)json_integer_value(v);
		} else if (!strcmp(k, "up")) {
			u->has_up = true;
			if (!json_is_boolean(v))
				rc = mg_error_set(e, EINVAL, "up", "must be true or false");
			else
				u->up = json_is_true(v);
		} else if (!strcmp(k, "port")) {
			u->has_port = true;
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > 65535)
				rc = mg_error_set(e, EINVAL, "port",
						  "must be a port 1-65535 (0: the packet's)");
			else
				u->port = (uint16_t)json_integer_value(v);
		} else {
			rc = mg_error_set(e, EINVAL, k, "unknown field");
		}
		if (rc < 0)
			break;
	}
	json_decref(j);
	return rc;
}

/* An endpoint of a POST /v1/services body into @e; @field names it in errors. */
static int
svc_ep_json(json_t *j, const char *field, struct mg_svc_ep_cfg *e, struct mg_error *err)
{
	const char *k;
	json_t *v;

	if (!json_is_object(j))
		return mg_error_set(err, EINVAL, field, "must be an object");
	memset(e, 0, sizeof(*e));
	e->weight = 1;
	e->up = true;
	json_object_foreach(j, k, v) {
		char f[96];

		snprintf(f, sizeof(f), "%s.%s", field, k);
		if (!strcmp(k, "name")) {
			if (!json_is_string(v) || !mg_strlcpy(e->name, json_string_value(v),
							      sizeof(e->name)) ||
			    !mg_name_valid(e->name))
				return mg_error_set(err, EINVAL, f,
						    "must be 1-31 of A-Z a-z 0-9 _ - . :");
		} else if (!strcmp(k, "address")) {
			if (!json_is_string(v) || mg_ip_parse(json_string_value(v), &e->addr) < 0)
				return mg_error_set(err, EINVAL, f, "must be an IPv4 or IPv6 address");
		} else if (!strcmp(k, "weight")) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > 1000000)
				return mg_error_set(err, EINVAL, f, "must be an integer 0-1000000");
			e->weight = (uint32_t)json_integer_value(v);
		} else if (!strcmp(k, "up")) {
			if (!json_is_boolean(v))
				return mg_error_set(err, EINVAL, f, "must be true or false");
			e->up = json_is_true(v);
		} else if (!strcmp(k, "port")) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > 65535)
				return mg_error_set(err, EINVAL, f, "must be a port 1-65535");
			e->port = (uint16_t)json_integer_value(v);
		} else {
			return mg_error_set(err, EINVAL, f, "unknown field");
		}
	}
	if (e->name[0] == '\0')
		return mg_error_set(err, EINVAL, field, "an endpoint needs a name");
	if (e->addr.family == 0)
		return mg_error_set(err, EINVAL, field, "an endpoint needs an address");
	return 0;
}

int
ctl_svc_cfg_json(json_t *j, struct mg_svc_cfg *sc, struct mg_error *err)
{
	json_t *v;
	const char *k;
	int rc = 0;

	memset(sc, 0, sizeof(*sc));
	if (!json_is_object(j))
		return mg_error_set(err, EINVAL, "", "expected a JSON object");
	strcpy(sc->network, "default");
	json_object_foreach(j, k, v) {
		if (!strcmp(k, "name")) {
			if (!json_is_string(v) || !mg_strlcpy(sc->name, json_string_value(v),
							      sizeof(sc->name)) ||
			    !mg_name_valid(sc->name))
				rc = mg_error_set(err, EINVAL, "name",
						  "must be 1-31 of A-Z a-z 0-9 _ - . :");
		} else if (!strcmp(k, "network")) {
			if (!json_is_string(v) || !mg_strlcpy(sc->network, json_string_value(v),
							      sizeof(sc->network)))
				rc = mg_error_set(err, EINVAL, "network", "must be a network name");
		} else if (!strcmp(k, "mode")) {
			if (json_is_string(v) && !strcmp(json_string_value(v), "nat"))
				sc->mode = 1;
			else if (!json_is_string(v) || strcmp(json_string_value(v), "route"))
				rc = mg_error_set(err, EINVAL, "mode", "must be route or nat");
		} else if (!strcmp(k, "table_size")) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > UINT32_MAX)
				rc = mg_error_set(err, EINVAL, "table_size", "must be a prime");
			else
				sc->table_size = (uint32_t)json_integer_value(v);
		} else if (!strcmp(k, "vips")) {
			size_t i;
			json_t *x;

			if (!json_is_array(v) || json_array_size(v) == 0 ||
			    json_array_size(v) > MG_CFG_MAX_SVC_VIPS) {
				rc = mg_error_set(err, EINVAL, "vips", "must be a list of 1-%u addresses",
						  MG_CFG_MAX_SVC_VIPS);
				break;
			}
			json_array_foreach(v, i, x) {
				if (!json_is_string(x) ||
				    mg_ip_parse(json_string_value(x), &sc->vips[i]) < 0) {
					char f[32];

					snprintf(f, sizeof(f), "vips[%zu]", i);
					rc = mg_error_set(err, EINVAL, f,
							  "must be an IPv4 or IPv6 address");
					break;
				}
			}
			sc->nvips = (unsigned int)json_array_size(v);
		} else if (!strcmp(k, "endpoints")) {
			size_t i;
			json_t *x;

			if (!json_is_array(v) || json_array_size(v) > MG_CFG_MAX_SVC_EPS) {
				rc = mg_error_set(err, EINVAL, "endpoints",
						  "must be a list of at most %u endpoints",
						  MG_CFG_MAX_SVC_EPS);
				break;
			}
			json_array_foreach(v, i, x) {
				char f[32];

				snprintf(f, sizeof(f), "endpoints[%zu]", i);
				rc = svc_ep_json(x, f, &sc->eps[i], err);
				for (size_t q = 0; rc == 0 && q < i; q++)
					if (!strcmp(sc->eps[q].name, sc->eps[i].name))
						rc = mg_error_set(err, EINVAL, f,
								  "endpoint %s appears twice",
								  sc->eps[i].name);
				if (rc < 0)
					break;
			}
			sc->neps = (unsigned int)json_array_size(v);
		} else {
			rc = mg_error_set(err, EINVAL, k, "unknown field");
		}
		if (rc < 0)
			break;
	}
	if (rc == 0 && sc->name[0] == '\0')
		rc = mg_error_set(err, EINVAL, "name", "a service needs a name");
	if (rc == 0 && sc->nvips == 0)
		rc = mg_error_set(err, EINVAL, "vips", "a service needs vips");
	return rc;
}

/* Body of POST /v1/services into @sc. */
static int
svc_body(const struct req *rq, struct mg_svc_cfg *sc, struct mg_error *err)
{
	json_t *j = parse_body(rq, err);
	int rc;

	if (j == NULL)
		return -EINVAL;
	rc = ctl_svc_cfg_json(j, sc, err);
	json_decref(j);
	return rc;
}

static struct resp
h_services(struct mg_ctl *c, const char *method, char **seg, int nseg, const struct req *rq)
{
	struct mg_svc_ep_update u;
	struct mg_error e;
	int rc;

	if (nseg == 2) {
		if (!strcmp(method, "GET")) {
			json_t *a = json_array();

			mg_svc_ctl_walk(NULL, svc_json_cb, a);
			return json_resp(200, a);
		}
		if (!strcmp(method, "POST")) {
			struct mg_svc_cfg *sc = malloc(sizeof(*sc));
			char name[MG_NAME_MAX];

			mg_error_clear(&e);
			if (sc == NULL)
				return simple_err(500, ENOMEM, "", "out of memory");
			rc = svc_body(rq, sc, &e);
			if (rc == 0)
				rc = mg_svc_ctl_service_add(sc, &e);
			mg_strlcpy(name, sc->name, sizeof(name));
			free(sc);
			if (rc == 0 && (rc = ctl_svc_journal(c, name, &e)) < 0) {
				struct mg_error e2;

				mg_svc_ctl_service_del(name, &e2); /* not kept: not done */
			}
			if (rc < 0)
				return err_resp(&e);
			return svc_one_resp(201, name);
		}
		return not_allowed("GET, POST");
	}
	if (nseg == 3) {
		if (!strcmp(method, "GET"))
			return svc_one_resp(200, seg[2]);
		if (!strcmp(method, "DELETE")) {
			mg_error_clear(&e);
			/* A rule steering to it holds its adjacency: refused (409) until changed. */
			if (mg_rules_service_busy(c->env.model, seg[2], "name", &e) < 0)
				return err_resp(&e);
			/* A gateway publishing it too: change the gateway first. */
			{
				char gw[MG_NAME_MAX];

				if (mg_natgw_ctl_service_busy(seg[2], gw, sizeof(gw))) {
					mg_error_set(&e, EBUSY, "name", "gateway %s publishes "
						     "this service: change its publish list "
						     "first", gw);
					return err_resp(&e);
				}
			}
			if (ctl_svc_journal_del(c, seg[2], &e) < 0 ||
			    mg_svc_ctl_service_del(seg[2], &e) < 0)
				return err_resp(&e);
			return (struct resp){.status = 204};
		}
		return not_allowed("GET, DELETE");
	}
	if (nseg == 5 && !strcmp(seg[3], "endpoints")) {
		mg_error_clear(&e);
		if (!strcmp(method, "PUT")) {
			if (svc_ep_body(rq, &u, &e) < 0)
				return err_resp(&e);
			rc = mg_svc_ctl_endpoint_put(c->env.dp, seg[2], seg[4], &u, &e);
			/* Done and in the data path: a failure to journal is reported. */
			if (rc < 0 || ctl_svc_journal(c, seg[2], &e) < 0)
				return err_resp(&e);
			return svc_one_resp(rc == 1 ? 201 : 200, seg[2]);
		}
		if (!strcmp(method, "DELETE")) {
			rc = mg_svc_ctl_endpoint_del(c->env.dp, seg[2], seg[4], &e);
			if (rc < 0 || ctl_svc_journal(c, seg[2], &e) < 0)
				return err_resp(&e);
			return (struct resp){.status = 204};
		}
		return not_allowed("PUT, DELETE");
	}
	return no_resource();
}

/* ---- NAT counters (gateways themselves: ctl_gw.c) ----------------------------------- */

static json_t *
nat_stats_json(void)
{
	struct mg_natgw_stats s;

	mg_natgw_stats_sum(mg_natgw_get(), &s);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "snat_flows", (json_int_t)s.snat_flows, "dnat_flows",
			 (json_int_t)s.dnat_flows, "translated_forward", (json_int_t)s.xlate_fwd,
			 "translated_reply", (json_int_t)s.xlate_reply, "icmp_errors",
			 (json_int_t)s.icmp_errors, "npt6", (json_int_t)s.npt6, "routed",
			 (json_int_t)s.routed, "no_port", (json_int_t)s.no_port, "no_flow",
			 (json_int_t)s.no_flow, "source_not_allowed", (json_int_t)s.not_allowed,
			 "untranslatable", (json_int_t)s.untranslatable, "handoffs",
			 (json_int_t)s.handoffs, "handoff_drops", (json_int_t)s.handoff_drops,
			 "fragments", (json_int_t)s.frags, "fragments_unknown",
			 (json_int_t)s.frag_unknown);
}

static struct resp
h_stats(struct mg_ctl *c)
{
	struct mg_stats *s = malloc(sizeof(*s));
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (s == NULL || c->env.stats == NULL) {
		free(s);
		return simple_err(503, EIO, "", "counters are not available");
	}
	c->env.stats(c->env.ctx, s);
	f = open_memstream(&text, &len);
	mg_stats_write_json(f, s);
	fclose(f);
	free(s);
	return (struct resp){.status = 200, .text = text, .type = "application/json"};
}

/* ---- captures ----------------------------------------------------------------------------- */

static json_t *
capture_json(const struct mg_capture_info *i)
{
	const struct mg_capture_spec *s = &i->spec;
	json_t *j = json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:b, s:I, s:I, s:I, s:s, s:f}",
			      "id", (json_int_t)i->id, "point", s->point, "filter", s->filter,
			      "max_packets", (json_int_t)s->max_packets, "max_bytes",
			      (json_int_t)s->max_bytes, "max_seconds", (json_int_t)s->max_seconds,
			      "snaplen", (json_int_t)s->snaplen, "running", i->running, "packets",
			      (json_int_t)i->packets, "bytes", (json_int_t)i->bytes, "dropped",
			      (json_int_t)i->dropped, "path", i->path, "started",
			      (double)i->started_ns / 1e9);

	json_object_set_new(j, "buffer", json_integer(s->buffer));
	json_object_set_new(j, "file", json_string(strrchr(i->path, '/') ? strrchr(i->path, '/') + 1
									  : i->path));
	if (!i->running) {
		json_object_set_new(j, "stopped", json_real((double)i->stopped_ns / 1e9));
		json_object_set_new(j, "stop_reason", json_string(i->stop_reason));
	}
	return j;
}

/* POST /v1/captures: {point, filter, max_packets, max_bytes, max_seconds, snaplen, file}. */
static int
capture_spec(json_t *j, struct mg_capture_spec *s, struct mg_error *e)
{
	static const char *const fields[] = {"point", "filter", "max_packets", "max_bytes",
					     "max_seconds", "snaplen", "buffer", "file", NULL};
	unsigned long long v;

	memset(s, 0, sizeof(*s));
	if (!json_is_object(j))
		return mg_error_set(e, EINVAL, "", "the body is not a JSON object");
	if (cj_check_fields(j, fields, "", e) < 0 ||
	    cj_str(j, "point", "", s->point, sizeof(s->point), true, e) < 0 ||
	    cj_str(j, "filter", "", s->filter, sizeof(s->filter), false, e) < 0 ||
	    cj_str(j, "file", "", s->file, sizeof(s->file), false, e) < 0)
		return -e->code;
	if (cj_uint(j, "max_packets", "", 0, UINT64_MAX, &v, false, e) < 0)
		return -e->code;
	s->max_packets = json_object_get(j, "max_packets") ? v : 0;
	if (cj_uint(j, "max_bytes", "", 0, UINT64_MAX, &v, false, e) < 0)
		return -e->code;
	s->max_bytes = json_object_get(j, "max_bytes") ? v : 0;
	if (cj_uint(j, "max_seconds", "", 0, 7 * 86400, &v, false, e) < 0)
		return -e->code;
	s->max_seconds = json_object_get(j, "max_seconds") ? (uint32_t)v : 0;
	if (cj_uint(j, "snaplen", "", 0, 262144, &v, false, e) < 0)
		return -e->code;
	s->snaplen = json_object_get(j, "snaplen") ? (uint32_t)v : 0;
	if (cj_uint(j, "buffer", "", 16, 65536, &v, false, e) < 0)
		return -e->code;
	s->buffer = json_object_get(j, "buffer") ? (uint32_t)v : 0;
	return 0;
}

static bool
capture_id(const char *s, uint32_t *id)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end != '\0' || *s == '-' || *s == '+' || v > UINT32_MAX)
		return false;
	*id = (uint32_t)v;
	return true;
}

static struct resp
h_captures(struct mg_ctl *c, const char *method, char **seg, int nseg, const struct req *rq)
{
	struct mg_capture *cap = c->env.capture;
	struct mg_capture_info info;
	struct mg_error e;
	uint32_t id;

	mg_error_clear(&e);
	if (cap == NULL)
		return simple_err(503, EIO, "", "captures are not available");
	if (nseg == 2) {
		if (!strcmp(method, "GET")) {
			struct mg_capture_info *all = calloc(64, sizeof(*all));
			unsigned int n;
			json_t *a = json_array();

			if (all == NULL)
				return simple_err(503, ENOMEM, "", "out of memory");
			n = mg_capture_list(cap, all, 64);
			for (unsigned int i = 0; i < n; i++)
				json_array_append_new(a, capture_json(&all[i]));
			free(all);
			return json_resp(200, a);
		}
		if (!strcmp(method, "POST")) {
			struct mg_capture_spec s;
			json_t *j = parse_body(rq, &e);
			struct resp r;
			int rc;

			if (j == NULL)
				return err_resp(&e);
			rc = capture_spec(j, &s, &e);
			json_decref(j);
			if (rc < 0 || mg_capture_start(cap, &s, &id, &e) < 0)
				return err_resp(&e);
			mg_capture_get(cap, id, &info);
			r = json_resp(201, capture_json(&info));
			snprintf(c->rest_location, sizeof(c->rest_location), "/v1/captures/%u", id);
			r.location = c->rest_location;
			return r;
		}
		return not_allowed("GET, POST");
	}
	/* The method first: a wrong one is 405 whatever the id. */
	if (nseg == 3 && strcmp(method, "GET") && strcmp(method, "DELETE"))
		return not_allowed("GET, DELETE");
	if (nseg == 4 && !strcmp(seg[3], "stop") && strcmp(method, "POST"))
		return not_allowed("POST");
	if (nseg == 4 && !strcmp(seg[3], "pcapng") && strcmp(method, "GET"))
		return not_allowed("GET");
	if (nseg == 4 && strcmp(seg[3], "stop") && strcmp(seg[3], "pcapng"))
		return no_resource();
	if (!capture_id(seg[2], &id))
		return simple_err(404, ENOENT, "id", "no such capture (ids are numbers)");
	if (nseg == 3) {
		if (!strcmp(method, "GET"))
			return mg_capture_get(cap, id, &info)
				       ? json_resp(200, capture_json(&info))
				       : simple_err(404, ENOENT, "id", "no such capture");
		if (mg_capture_remove(cap, id, &e) < 0)
			return err_resp(&e);
		return (struct resp){.status = 204};
	}
	if (!strcmp(seg[3], "stop")) {
		if (mg_capture_stop(cap, id, &e) < 0)
			return err_resp(&e);
		mg_capture_get(cap, id, &info);
		return json_resp(200, capture_json(&info));
	}
	{
		struct resp r = {.status = 200, .type = "application/x-pcapng"};

		if (rq->hc == NULL)
			return simple_err(503, EIO, "", "streams need a connection");
		r.mr = capstream_open(c, rq->hc, id, &e);
		return r.mr != NULL ? r : err_resp(&e);
	}
	return no_resource();
}

/* ---- packet trace ------------------------------------------------------------------------- */

struct trace_ctx {
	json_t *pkts;
	json_t *cur;
	uint32_t cur_pkt;
};

static void
trace_hop(void *arg, uint32_t pkt, unsigned int worker, unsigned int hop, const char *node,
	  uint64_t ns, const char *text)
{
	struct trace_ctx *t = arg;

	if (t->cur == NULL || t->cur_pkt != pkt) {
		t->cur = json_pack("{s:I, s:I, s:[]}", "packet", (json_int_t)pkt, "worker",
				   (json_int_t)worker, "hops");
		t->cur_pkt = pkt;
		json_array_append_new(t->pkts, t->cur);
	}
	(void)hop;
	json_array_append_new(json_object_get(t->cur, "hops"),
			      json_pack("{s:s, s:I, s:s}", "node", node, "ns", (json_int_t)ns,
					"text", text));
}

static json_t *
trace_json(struct mg_ctl *c, bool with_packets)
{
	struct mg_trace_info info;
	struct trace_ctx t = {.pkts = json_array()};
	json_t *j;

	mg_trace_get(c->env.capture, &info, with_packets ? trace_hop : NULL, &t);
	j = json_pack("{s:b, s:s, s:I, s:I, s:I, s:I}", "active", info.active, "filter",
		      info.filter, "count", (json_int_t)info.count, "remaining",
		      (json_int_t)info.remaining, "packets", (json_int_t)info.packets, "lost",
		      (json_int_t)info.lost);
	if (with_packets)
		json_object_set_new(j, "trace", t.pkts);
	else
		json_decref(t.pkts);
	return j;
}

static struct resp
h_trace(struct mg_ctl *c, const char *method, const struct req *rq)
{
	static const char *const fields[] = {"filter", "count", NULL};
	struct mg_error e;

	mg_error_clear(&e);
	if (c->env.capture == NULL)
		return simple_err(503, EIO, "", "tracing is not available");
	if (!strcmp(method, "GET"))
		return json_resp(200, trace_json(c, true));
	if (!strcmp(method, "DELETE")) {
		mg_trace_clear(c->env.capture);
		return (struct resp){.status = 204};
	}
	if (!strcmp(method, "POST")) {
		json_t *j = parse_body(rq, &e);
		char filter[512] = "";
		unsigned long long count = 0;
		int rc = -1;

		if (j == NULL)
			return err_resp(&e);
		if (!json_is_object(j))
			mg_error_set(&e, EINVAL, "", "the body is not a JSON object");
		else if (cj_check_fields(j, fields, "", &e) >= 0 &&
			 cj_str(j, "filter", "", filter, sizeof(filter), false, &e) >= 0 &&
			 cj_uint(j, "count", "", 1, MG_TRACE_MAX_PACKETS, &count, true, &e) >= 0)
			rc = mg_trace_start(c->env.capture, filter, (uint32_t)count, &e);
		json_decref(j);
		if (rc < 0)
			return err_resp(&e);
		return json_resp(201, trace_json(c, false));
	}
	return not_allowed("GET, POST, DELETE");
}

static struct resp
h_wireguard(struct mg_ctl *c, const char *method, char **seg, int nseg, const struct req *rq)
{
	const struct mg_iface *ifc;
	struct mg_error e;

	if (nseg == 2) {
		if (!strcmp(method, "GET"))
			return json_resp(200, ctl_wg_list_json(c));
		if (!strcmp(method, "POST")) {
			json_t *body = parse_body(rq, &e);
			int rc = body == NULL ? -1 : ctl_wg_add(c, body, &e);
			char name[MG_NAME_MAX] = "";

			if (body != NULL && json_is_string(json_object_get(body, "name")))
				mg_strlcpy(name, json_string_value(json_object_get(body, "name")),
					   sizeof(name));
			/* The body held keys (on_done wipes the raw text). */
			ctl_wg_wipe_body(body);
			json_decref(body);
			/* Durable before acknowledged, keys sealed (ctl_wgstate.c). */
			if (rc == 0 && (rc = ctl_wg_journal_add(c, name, &e)) < 0) {
				struct mg_error e2;

				ctl_wg_del(c, name, &e2);
			}
			if (rc < 0) {
				c->requests_failed++;
				return err_resp(&e);
			}
			c->requests_ok++;
			ifc = mg_model_iface_find(c->env.model, name);
			return ifc ? json_resp(201, ctl_wg_json(c, ifc)) : json_resp(201, json_object());
		}
		return not_allowed("GET, POST");
	}
	if (nseg == 3) {
		ifc = mg_model_iface_find(c->env.model, seg[2]);
		if (ifc != NULL && ifc->kind != MG_IFACE_WG)
			ifc = NULL;
		if (!strcmp(method, "GET"))
			return ifc ? json_resp(200, ctl_wg_json(c, ifc))
				   : simple_err(404, ENOENT, "name", "no such WireGuard interface");
		if (!strcmp(method, "DELETE")) {
			if (ctl_conn_refuse_owned(c, "WireGuard interface", seg[2], &e) < 0 ||
			    ctl_wg_journal_del(c, seg[2], &e) < 0 || ctl_wg_del(c, seg[2], &e) < 0) {
				c->requests_failed++;
				return err_resp(&e);
			}
			c->requests_ok++;
			return (struct resp){.status = 204};
		}
		return not_allowed("GET, DELETE");
	}
	return no_resource();
}

/* GET /v1/ike: the IKEv2 peers, their SAs and CHILD_SAs (no PSK, no key). */
static struct resp
h_ike(struct mg_ctl *c, const char *method)
{
	struct resp r = {.type = "application/json", .status = 200};
	size_t len = 0;
	FILE *f;

	if (strcmp(method, "GET"))
		return not_allowed("GET");
	f = open_memstream(&r.text, &len);
	if (f == NULL)
		return simple_err(500, ENOMEM, "", "out of memory");
	if (c->env.ike_json != NULL)
		c->env.ike_json(c->env.ctx, f);
	else
		fputs("[]", f);
	fclose(f);
	return r;
}

/* A resource of another file that answers with a status and a JSON text (or none). */
typedef int (*status_text_fn)(struct mg_ctl *c, const char *method, char **seg, int nseg,
			      char *body, size_t len, char **text, const char **allow);

static struct resp
status_text(status_text_fn fn, struct mg_ctl *c, const char *method, char **seg, int nseg,
	    const struct req *rq)
{
	struct resp r = {.type = "application/json"};

	r.status = fn(c, method, seg, nseg, rq->body, rq->len, &r.text, &r.allow);
	if (r.text == NULL)
		r.type = NULL;
	return r;
}

static struct resp
dispatch(struct mg_ctl *c, const char *url, const char *method, const struct req *rq)
{
	char path[1024], *seg[16], *save, *tok;
	int nseg = 0;

	if (!strcmp(url, "/metrics")) {
		struct resp r = {.status = 200, .type = "text/plain; version=0.0.4; charset=utf-8"};
		size_t len;

		if (strcmp(method, "GET"))
			return not_allowed("GET");
		r.text = ctl_metrics_text(c, &len);
		return r;
	}
	if (strlen(url) >= sizeof(path))
		return simple_err(414, EINVAL, "", "URL too long");
	mg_strlcpy(path, url, sizeof(path));
	for (tok = strtok_r(path, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (nseg == (int)RTE_DIM(seg))
			return no_resource();
		/* An escaped slash (kept by unescape_url) belongs to the segment. */
		for (char *r = tok, *w = tok;; r++, w++) {
			if (r[0] == '%' && r[1] == '2' && (r[2] == 'F' || r[2] == 'f')) {
				*w = '/';
				r += 2;
			} else if ((*w = *r) == '\0') {
				break;
			}
		}
		seg[nseg++] = tok;
	}
	if (nseg < 2 || strcmp(seg[0], "v1"))
		return no_resource();
	if (!strcmp(seg[1], "networks"))
		return h_networks(c, method, seg, nseg, rq);
	if (!strcmp(seg[1], "ports"))
		return h_ports(c, method, seg, nseg, rq);
	if (!strcmp(seg[1], "interfaces"))
		return h_interfaces(c, method, seg, nseg, rq);
	if (!strcmp(seg[1], "routes"))
		return h_routes(c, method, seg, nseg, rq);
	if (!strcmp(seg[1], "neighbors"))
		return h_neighbors(c, method, seg, nseg, rq);
	if (!strcmp(seg[1], "connections"))
		return h_connections(c, method, seg, nseg, rq);
	if (!strcmp(seg[1], "services"))
		return h_services(c, method, seg, nseg, rq);
	if (!strcmp(seg[1], "gateways") && nseg <= 3)
		return status_text(ctl_gw_rest, c, method, seg, nseg, rq);
	if (!strcmp(seg[1], "nat") && nseg == 2)
		return strcmp(method, "GET") ? not_allowed("GET") : json_resp(200, nat_stats_json());
	if (!strcmp(seg[1], "trace") && nseg == 2)
		return h_trace(c, method, rq);
	if (!strcmp(seg[1], "captures") && nseg <= 4)
		return h_captures(c, method, seg, nseg, rq);
	if (!strcmp(seg[1], "wireguard"))
		return h_wireguard(c, method, seg, nseg, rq);
	if (!strcmp(seg[1], "esp-tunnels") && nseg <= 4)
		return status_text(ctl_esp_rest, c, method, seg, nseg, rq);
	if (!strcmp(seg[1], "vxlan") && nseg <= 3)
		return status_text(ctl_vxlan_rest, c, method, seg, nseg, rq);
	if (!strcmp(seg[1], "ike") && nseg == 2)
		return h_ike(c, method);
	if (!strcmp(seg[1], "batch") && nseg == 2)
		return h_batch(c, method, rq);
	if (!strcmp(seg[1], "flows") && nseg == 2)
		return h_flows(c, method, rq);
	if (!strcmp(seg[1], "stats") && nseg == 2) {
		if (strcmp(method, "GET"))
			return not_allowed("GET");
		return h_stats(c);
	}
	return no_resource();
}

/* A request whose headers and body are all in. */
static struct resp
answer(struct mg_ctl *c, const char *url, const char *method, const struct req *rq)
{
	if (rq->limited) {
		char msg[160];

		snprintf(msg, sizeof(msg),
			 "more than %u requests per second (burst %u) from %s: slow down",
			 c->conf.rest_rate,
			 c->conf.rest_burst ? c->conf.rest_burst : 2 * c->conf.rest_rate,
			 rq->client);
		return simple_err(429, EBUSY, "control.rest.rate_limit", msg);
	}
	if (!rq->authorized)
		return simple_err(401, EACCES, "", "a valid bearer token is required");
	if (rq->too_big)
		return simple_err(413, E2BIG, "", "request body too large");
	return dispatch(c, url, method, rq);
}

/* The connection's deadline record (on_conn), or NULL. */
static struct rest_conn *
rest_conn_of(struct MHD_Connection *hc)
{
	const union MHD_ConnectionInfo *i =
		MHD_get_connection_info(hc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return i != NULL ? i->socket_context : NULL;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *hc, const char *url, const char *method,
	   const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct mg_ctl *c = cls;
	struct req *rq = *con_cls;
	struct resp r;
	struct MHD_Response *mr;
	enum MHD_Result ret;

	if (rq == NULL) {
		rq = calloc(1, sizeof(*rq));
		if (rq == NULL)
			return MHD_NO;
		/*
		 * The headers are all here. The rate limit comes first (a flood of
		 * wrong tokens is limited too); then a client without the token gets
		 * no body kept.
		 */
		{
			uint8_t key[16];

			client_addr(hc, key, rq->client, sizeof(rq->client));
			if (!rate_take(c, key, mono_ns())) {
				rq->limited = true;
				c->rest_rate_limited++;
				if (c->rest_rate_limited == 1 || c->rest_rate_limited % 1000 == 0)
					REST_LOG(WARNING, "%s is over control.rest.rate_limit "
						 "(%" PRIu64 " requests refused so far)\n",
						 rq->client, c->rest_rate_limited);
			}
		}
		rq->authorized = token_ok(
			c, MHD_lookup_connection_value(hc, MHD_HEADER_KIND, "Authorization"));
		*con_cls = rq;
		{
			struct rest_conn *rc = rest_conn_of(hc);

			if (rc != NULL)
				rc->in_request = true;
		}
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (rq->authorized && !rq->too_big && !rq->limited) {
			if (rq->len + *upload_size > c->conf.max_body) {
				rq->too_big = true;
				mg_free_wiped(rq->body);
				rq->body = NULL;
				rq->len = 0;
			} else {
				char *b = mg_realloc_wiped(rq->body, rq->len + *upload_size + 1);

				if (b == NULL)
					return MHD_NO;
				memcpy(b + rq->len, upload, *upload_size);
				rq->body = b;
				rq->len += *upload_size;
			}
		}
		*upload_size = 0;
		return MHD_YES;
	}
	rq->network = MHD_lookup_connection_value(hc, MHD_GET_ARGUMENT_KIND, "network");
	rq->hc = hc;
	r = answer(c, url, method, rq);
	mr = r.mr != NULL ? r.mr
			  : MHD_create_response_from_buffer(r.text ? strlen(r.text) : 0,
							    r.text ? r.text : "",
							    r.text ? MHD_RESPMEM_MUST_FREE
								   : MHD_RESPMEM_PERSISTENT);
	if (r.type != NULL)
		MHD_add_response_header(mr, "Content-Type", r.type);
	if (r.status == 401)
		MHD_add_response_header(mr, "WWW-Authenticate", "Bearer realm=\"meshgate\"");
	if (r.status == 429)
		MHD_add_response_header(mr, "Retry-After", "1");
	if (r.allow != NULL)
		MHD_add_response_header(mr, "Allow", r.allow);
	if (r.location != NULL)
		MHD_add_response_header(mr, "Location", r.location);
	ret = MHD_queue_response(hc, (unsigned int)r.status, mr);
	MHD_destroy_response(mr);
	if (r.status >= 400 && r.status != 404)
		REST_LOG(DEBUG, "%s %s -> %d\n", method, url, r.status);
	(void)version;
	return ret;
}

/* Connections come and go: a record each, for rest_deadlines. */
static void
on_conn(void *cls, struct MHD_Connection *hc, void **socket_context,
	enum MHD_ConnectionNotificationCode code)
{
	struct mg_ctl *c = cls;
	struct rest_conn *rc = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (rc != NULL)
			rc->used = false;
		*socket_context = NULL;
		return;
	}
	for (unsigned int i = 0; i < CTL_REST_CONNS; i++) {
		const union MHD_ConnectionInfo *fi;

		if (c->rest_conns[i].used)
			continue;
		fi = MHD_get_connection_info(hc, MHD_CONNECTION_INFO_CONNECTION_FD);
		c->rest_conns[i] = (struct rest_conn){.fd = fi != NULL ? fi->connect_fd : -1,
						      .used = true, .mark_ns = mono_ns()};
		*socket_context = &c->rest_conns[i];
		return;
	}
}

/*
 * With most connections taken, one whose headers have not come whole within
 * CTL_REST_HEADER_NS of its start (or of its last request) is closed: clients
 * that trickle a request, or never finish one, cannot keep the others out.
 * (MHD's idle timeout never fires for them: they are not idle.) Unhurried
 * keep-alive connections are left alone while there is room.
 */
static void
rest_deadlines(struct mg_ctl *c)
{
	uint64_t now = mono_ns();
	unsigned int used = 0;

	for (unsigned int i = 0; i < CTL_REST_CONNS; i++)
		used += c->rest_conns[i].used;
	if (used < CTL_REST_CONNS * 3 / 4)
		return;
	for (unsigned int i = 0; i < CTL_REST_CONNS; i++) {
		struct rest_conn *rc = &c->rest_conns[i];

		if (!rc->used || rc->in_request || rc->fd < 0 || now - rc->mark_ns < CTL_REST_HEADER_NS)
			continue;
		shutdown(rc->fd, SHUT_RDWR); /* MHD sees the end and closes it */
		rc->fd = -1;
		if (++c->rest_header_timeouts <= 10 || c->rest_header_timeouts % 1000 == 0)
			REST_LOG(WARNING, "closed a connection whose request did not arrive within "
				 "%u s while %u of %u connections were in use (%" PRIu64 " so far)\n",
				 (unsigned int)(CTL_REST_HEADER_NS / 1000000000ull), used,
				 CTL_REST_CONNS, c->rest_header_timeouts);
	}
}

static void
on_done(void *cls, struct MHD_Connection *hc, void **con_cls, enum MHD_RequestTerminationCode t)
{
	struct rest_conn *rc = rest_conn_of(hc);

	if (rc != NULL) {
		rc->in_request = false;
		rc->mark_ns = mono_ns();
	}
	struct req *rq = *con_cls;

	if (rq != NULL) {
		/* Bodies may hold keys (POST /v1/wireguard). */
		mg_free_wiped(rq->body);
		free(rq);
	}
	*con_cls = NULL;
}

/* A hex digit's value, or -1. */
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

/*
 * Percent-decoding for libmicrohttpd, in place, except %2F: a connection id
 * may hold a slash, and decoded it would split the path. dispatch() decodes
 * it within its segment.
 */
static size_t
unescape_url(void *cls, struct MHD_Connection *hc, char *s)
{
	char *r = s, *w = s;

	for (; *r != '\0'; r++, w++) {
		int hi, lo;

		if (r[0] == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0 &&
		    !(hi == 2 && lo == 15)) {
			*w = (char)(hi * 16 + lo);
			r += 2;
		} else {
			*w = *r;
		}
	}
	*w = '\0';
	(void)cls;
	(void)hc;
	return (size_t)(w - s);
}

/*
 * What rest_open holds before the daemon runs (and rest_close after):
 * freed, the key and the token wiped, and the files it wrote in the run
 * directory (the address, a token it made) removed.
 */
static void
rest_release(struct mg_ctl *c)
{
	char path[300];

	free(c->rate);
	c->rate = NULL;
	free(c->tls_cert_pem);
	c->tls_cert_pem = NULL;
	mg_free_wiped(c->tls_key_pem);
	c->tls_key_pem = NULL;
	c->tls_key_len = 0;
	snprintf(path, sizeof(path), "%s/rest.addr", c->conf.run_dir);
	unlink(path);
	if (c->conf.token_file[0] == '\0' && c->token_len != 0) {
		snprintf(path, sizeof(path), "%s/rest.token", c->conf.run_dir);
		unlink(path);
	}
	mg_wipe(c->token, sizeof(c->token));
	c->token_len = 0;
}

static int
rest_fail(struct mg_ctl *c, int rc)
{
	rest_release(c);
	return rc;
}

/* A PEM file for libmicrohttpd; a @p secret one (the key) gets a warning if others may read it. */
static char *
read_pem(const char *path, const char *field, bool secret, size_t *len, struct mg_error *err)
{
	unsigned int mode = 0;
	char *buf = mg_pem_file_read(path, field, len, &mode, err);

	if (buf != NULL && secret && (mode & 077) != 0)
		REST_LOG(WARNING, "%s can be read by group or others (mode %03o): make it 0600\n",
			 path, mode);
	return buf;
}

int
rest_open(struct mg_ctl *c, struct mg_error *err)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const union MHD_DaemonInfo *info;
	char path[300];
	FILE *f;

	if (c->conf.rest_listen[0] == '\0')
		return 0;
	if (mg_listen_parse(c->conf.rest_listen, &ss, &len) < 0)
		return mg_error_set(err, EINVAL, "control.rest.listen",
				    "'%s' is not ADDRESS:PORT (like 127.0.0.1:8080 or [::1]:8080)",
				    c->conf.rest_listen);
	if (load_token(c, err) < 0)
		return rest_fail(c, -err->code);
	c->rate = calloc(CTL_RATE_BUCKETS, sizeof(*c->rate));
	if (c->rate == NULL)
		return rest_fail(c, mg_error_set(err, ENOMEM, "control.rest", "out of memory"));
	if (c->conf.tls_cert[0] != '\0') {
		size_t n;

		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
			return rest_fail(c, mg_error_set(err, ENOTSUP, "control.rest.tls",
							 "this libmicrohttpd has no TLS"));
		c->tls_cert_pem = read_pem(c->conf.tls_cert, "control.rest.tls.cert", false, &n, err);
		if (c->tls_cert_pem == NULL)
			return rest_fail(c, -err->code);
		c->tls_key_pem = read_pem(c->conf.tls_key, "control.rest.tls.key", true,
					  &c->tls_key_len, err);
		if (c->tls_key_pem == NULL)
			return rest_fail(c, -err->code);
	}
	{
		struct MHD_OptionItem tls[] = {
			{MHD_OPTION_HTTPS_MEM_CERT, 0, c->tls_cert_pem},
			{MHD_OPTION_HTTPS_MEM_KEY, 0, c->tls_key_pem},
			/* TLS 1.2 and 1.3 only, whatever the system's GnuTLS defaults allow. */
			{MHD_OPTION_HTTPS_PRIORITIES, 0,
			 (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"},
			{MHD_OPTION_END, 0, NULL},
		};
		unsigned int flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
				     (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0) |
				     (c->tls_cert_pem != NULL ? MHD_USE_TLS : 0);

		c->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, c, MHD_OPTION_SOCK_ADDR,
					  &ss, MHD_OPTION_NOTIFY_COMPLETED, on_done, c,
					  MHD_OPTION_UNESCAPE_CALLBACK, unescape_url, NULL,
					  MHD_OPTION_NOTIFY_CONNECTION, on_conn, c,
					  MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CTL_REST_CONNS,
					  MHD_OPTION_CONNECTION_TIMEOUT, 30u,
					  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
					  MHD_OPTION_ARRAY,
					  c->tls_cert_pem != NULL ? tls : tls + 3, MHD_OPTION_END);
	}
	if (c->mhd == NULL && c->tls_cert_pem != NULL)
		return rest_fail(c, mg_error_set(err, EINVAL, "control.rest.tls",
						 "cannot serve HTTPS on %s with %s and %s (a key "
						 "that does not match the certificate, or a port in use)",
						 c->conf.rest_listen, c->conf.tls_cert,
						 c->conf.tls_key));
	if (c->mhd == NULL)
		return rest_fail(c, mg_error_set(err, EADDRINUSE, "control.rest.listen",
				    "cannot listen on %s (in use, or not an address of this host)",
				    c->conf.rest_listen));
	/* The port actually bound (for :0), for meshgatectl and tests. */
	info = MHD_get_daemon_info(c->mhd, MHD_DAEMON_INFO_BIND_PORT);
	{
		char host[64] = "";

		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
		else
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host,
				  sizeof(host));
		snprintf(c->rest_bound, sizeof(c->rest_bound),
			 ss.ss_family == AF_INET ? "%s%s:%u" : "%s[%s]:%u",
			 c->tls_cert_pem != NULL ? "https://" : "", host, info ? info->port : 0);
	}
	snprintf(path, sizeof(path), "%s/rest.addr", c->conf.run_dir);
	f = fopen(path, "w");
	if (f != NULL) {
		fprintf(f, "%s\n", c->rest_bound);
		fclose(f);
	}
	REST_LOG(INFO, "REST on %s%s (token: %s)\n", c->tls_cert_pem ? "" : "http://", c->rest_bound,
		 c->conf.token_file[0] ? c->conf.token_file : "rest.token in the run directory");
	return 0;
}

void
rest_close(struct mg_ctl *c)
{
	if (c->mhd == NULL) {
		rest_release(c);
		return;
	}
	/* A suspended connection must be resumed before the daemon stops. */
	capstream_resume(c, true);
	MHD_run(c->mhd);
	MHD_stop_daemon(c->mhd);
	c->mhd = NULL;
	rest_release(c);
}

int
rest_epoll_fd(struct mg_ctl *c)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(c->mhd, MHD_DAEMON_INFO_EPOLL_FD);

	return i ? i->epoll_fd : -1;
}

uint64_t
rest_timeout_ns(struct mg_ctl *c)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(c->mhd, &ms) == MHD_YES)
		return (uint64_t)ms * 1000000ull;
	return UINT64_MAX;
}

void
rest_run(struct mg_ctl *c)
{
	if (c->mhd == NULL)
		return;
	capstream_resume(c, false);
	rest_deadlines(c);
	MHD_run(c->mhd);
}

int
rest_handle(struct mg_ctl *c, const char *method, const char *url, const char *network,
	    const char *authorization, const char *body, size_t len, char **text,
	    const char **allow)
{
	struct req rq = {.network = network, .len = len};
	struct resp r;
	char *path = strdup(url);

	*text = NULL;
	*allow = NULL;
	if (path == NULL)
		return 500;
	/* What libmicrohttpd does before on_request: decode the path, check the token. */
	unescape_url(NULL, NULL, path);
	rq.authorized = token_ok(c, authorization);
	rq.too_big = len > c->conf.max_body;
	/* The body in a buffer of its exact size, as on_request keeps it (without the spare byte). */
	if (len > 0 && !rq.too_big) {
		rq.body = malloc(len);
		if (rq.body == NULL) {
			free(path);
			return 500;
		}
		memcpy(rq.body, body, len);
	}
	r = answer(c, path, method, &rq);
	free(rq.body);
	free(path);
	*text = r.text;
	*allow = r.allow;
	return r.status;
}
