/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Network Service Mesh messages as JSON. The same message may come with
 * protojson names (networkService, ipContext, srcIpAddrs) or proto names
 * (network_service, ip_context, src_ip_addrs); both are accepted and turned
 * into proto names, with every field checked against the message's
 * definition. Maps (labels, parameters, metrics, extra_context) keep their
 * keys. Timestamps become RFC 3339 strings.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_priv.h"

enum ftype { F_STR, F_BOOL, F_UINT, F_INT, F_MAP, F_STRARR, F_OBJ, F_OBJARR, F_ANY, F_STATE,
	     F_TIME };

struct fdef {
	const char *snake;
	const char *camel;
	enum ftype t;
	const char *sub;
};

struct mdef {
	const char *name;
	const struct fdef *f;
};

static const struct fdef f_mech[] = {
	{"cls", "cls", F_STR, NULL}, {"type", "type", F_STR, NULL},
	{"parameters", "parameters", F_MAP, NULL}, {NULL, NULL, 0, NULL}};
static const struct fdef f_route[] = {
	{"prefix", "prefix", F_STR, NULL}, {"nextHop", "nextHop", F_STR, NULL},
	{NULL, NULL, 0, NULL}};
static const struct fdef f_neigh[] = {
	{"ip", "ip", F_STR, NULL}, {"hardware_address", "hardwareAddress", F_STR, NULL},
	{NULL, NULL, 0, NULL}};
static const struct fdef f_ipctx[] = {
	{"src_ip_addrs", "srcIpAddrs", F_STRARR, NULL},
	{"dst_ip_addrs", "dstIpAddrs", F_STRARR, NULL},
	{"src_ip_required", "srcIpRequired", F_BOOL, NULL},
	{"dst_ip_required", "dstIpRequired", F_BOOL, NULL},
	{"src_routes", "srcRoutes", F_OBJARR, "Route"},
	{"dst_routes", "dstRoutes", F_OBJARR, "Route"},
	{"excluded_prefixes", "excludedPrefixes", F_STRARR, NULL},
	{"ip_neighbors", "ipNeighbors", F_OBJARR, "IpNeighbor"},
	{"extra_prefix_request", "extraPrefixRequest", F_ANY, NULL},
	{"extra_prefixes", "extraPrefixes", F_STRARR, NULL},
	{NULL, NULL, 0, NULL}};
static const struct fdef f_eth[] = {
	{"src_mac", "srcMac", F_STR, NULL}, {"dst_mac", "dstMac", F_STR, NULL},
	{"vlan_tag", "vlanTag", F_INT, NULL}, {NULL, NULL, 0, NULL}};
static const struct fdef f_ctx[] = {
	{"ip_context", "ipContext", F_OBJ, "IPContext"},
	{"dns_context", "dnsContext", F_ANY, NULL},
	{"ethernet_context", "ethernetContext", F_OBJ, "EthernetContext"},
	{"extra_context", "extraContext", F_MAP, NULL},
	{"MTU", "MTU", F_UINT, NULL},
	{NULL, NULL, 0, NULL}};
static const struct fdef f_seg[] = {
	{"name", "name", F_STR, NULL}, {"id", "id", F_STR, NULL},
	{"token", "token", F_STR, NULL}, {"expires", "expires", F_TIME, NULL},
	{"metrics", "metrics", F_MAP, NULL}, {NULL, NULL, 0, NULL}};
static const struct fdef f_path[] = {
	{"index", "index", F_UINT, NULL},
	{"path_segments", "pathSegments", F_OBJARR, "PathSegment"},
	{NULL, NULL, 0, NULL}};
static const struct fdef f_conn[] = {
	{"id", "id", F_STR, NULL},
	{"network_service", "networkService", F_STR, NULL},
	{"mechanism", "mechanism", F_OBJ, "Mechanism"},
	{"context", "context", F_OBJ, "ConnectionContext"},
	{"labels", "labels", F_MAP, NULL},
	{"path", "path", F_OBJ, "Path"},
	{"network_service_endpoint_name", "networkServiceEndpointName", F_STR, NULL},
	{"payload", "payload", F_STR, NULL},
	{"state", "state", F_STATE, NULL},
	{NULL, NULL, 0, NULL}};
static const struct fdef f_req[] = {
	{"connection", "connection", F_OBJ, "Connection"},
	{"mechanism_preferences", "mechanismPreferences", F_OBJARR, "Mechanism"},
	{NULL, NULL, 0, NULL}};
static const struct fdef f_sel[] = {
	{"path_segments", "pathSegments", F_OBJARR, "PathSegment"},
	{NULL, NULL, 0, NULL}};

static const struct mdef msgs[] = {
	{"Mechanism", f_mech},       {"Route", f_route},
	{"IpNeighbor", f_neigh},     {"IPContext", f_ipctx},
	{"EthernetContext", f_eth},  {"ConnectionContext", f_ctx},
	{"PathSegment", f_seg},      {"Path", f_path},
	{"Connection", f_conn},      {"NetworkServiceRequest", f_req},
	{"MonitorScopeSelector", f_sel},
	{NULL, NULL}};

static const struct fdef *
mfields(const char *type)
{
	for (unsigned int i = 0; msgs[i].name; i++)
		if (strcmp(msgs[i].name, type) == 0)
			return msgs[i].f;
	return NULL;
}

static void
jp(char *out, size_t n, const char *path, const char *key)
{
	snprintf(out, n, "%s%s%s", path, path[0] ? "." : "", key);
}

static const char *const states[] = {"UP", "DOWN", "REFRESH_REQUESTED", "RESELECT_REQUESTED",
				     NULL};

/* RFC 3339 from {seconds, nanos}, or checked and kept as given. */
static json_t *
norm_time(json_t *v, const char *p, struct mg_error *err)
{
	if (json_is_string(v)) {
		struct tm tm;
		const char *s = json_string_value(v);
		const char *end;

		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
		if (end == NULL) {
			mg_error_set(err, EINVAL, p, "'%s' is not an RFC 3339 time", s);
			return NULL;
		}
		return json_incref(v);
	}
	if (json_is_object(v)) {
		json_t *sec = json_object_get(v, "seconds");
		long long s = json_is_integer(sec) ? json_integer_value(sec)
			      : json_is_string(sec) ? atoll(json_string_value(sec))
						    : -1;
		char buf[64];
		time_t t = (time_t)s;
		struct tm tm;

		if (s < 0) {
			mg_error_set(err, EINVAL, p, "expected a time");
			return NULL;
		}
		gmtime_r(&t, &tm);
		strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
		return json_string(buf);
	}
	mg_error_set(err, EINVAL, p, "expected an RFC 3339 time string");
	return NULL;
}

static json_t *
norm(json_t *in, const char *type, const char *path, bool *camel, struct mg_error *err)
{
	const struct fdef *fd = mfields(type);
	json_t *out, *v;
	const char *key;
	char p[256];

	if (!json_is_object(in)) {
		mg_error_set(err, EINVAL, path, "expected an object (%s)", type);
		return NULL;
	}
	out = json_object();
	json_object_foreach(in, key, v) {
		const struct fdef *f = NULL;
		json_t *nv = NULL;

		for (unsigned int i = 0; fd[i].snake; i++) {
			if (strcmp(key, fd[i].snake) == 0 || strcmp(key, fd[i].camel) == 0 ||
			    (strcmp(fd[i].snake, "MTU") == 0 && strcmp(key, "mtu") == 0) ||
			    (strcmp(fd[i].snake, "nextHop") == 0 && strcmp(key, "next_hop") == 0)) {
				f = &fd[i];
				/* Route.nextHop is camelCase in the proto itself: its alias
				 * next_hop (and mtu for MTU) says nothing about the style. */
				if (strcmp(key, fd[i].camel) == 0 && strcmp(fd[i].snake, fd[i].camel) != 0)
					*camel = true;
				break;
			}
		}
		jp(p, sizeof(p), path, key);
		if (f == NULL) {
			mg_error_set(err, EINVAL, p, "unknown field of %s", type);
			goto bad;
		}
		if (json_is_null(v))
			continue;
		jp(p, sizeof(p), path, f->snake);
		switch (f->t) {
		case F_STR:
			if (!json_is_string(v) || json_string_length(v) > 1024) {
				mg_error_set(err, EINVAL, p, json_is_string(v)
								     ? "longer than 1024 characters"
								     : "expected a string");
				goto bad;
			}
			nv = json_incref(v);
			break;
		case F_BOOL:
			if (!json_is_boolean(v)) {
				mg_error_set(err, EINVAL, p, "expected true or false");
				goto bad;
			}
			nv = json_incref(v);
			break;
		case F_UINT:
		case F_INT:
			if (json_is_string(v)) { /* protojson may quote integers */
				char *end;
				long long x = strtoll(json_string_value(v), &end, 10);

				if (*end != '\0') {
					mg_error_set(err, EINVAL, p, "expected an integer");
					goto bad;
				}
				nv = json_integer(x);
			} else if (json_is_integer(v)) {
				nv = json_incref(v);
			} else {
				mg_error_set(err, EINVAL, p, "expected an integer");
				goto bad;
			}
			if ((f->t == F_UINT && json_integer_value(nv) < 0) ||
			    json_integer_value(nv) > 0xffffffffLL) {
				json_decref(nv);
				mg_error_set(err, EINVAL, p, "out of range");
				goto bad;
			}
			break;
		case F_STATE:
			if (json_is_integer(v) && json_integer_value(v) >= 0 &&
			    json_integer_value(v) <= 3) {
				nv = json_string(states[json_integer_value(v)]);
			} else if (json_is_string(v)) {
				for (unsigned int i = 0; states[i]; i++)
					if (strcmp(json_string_value(v), states[i]) == 0)
						nv = json_incref(v);
			}
			if (nv == NULL) {
				mg_error_set(err, EINVAL, p,
					     "expected UP, DOWN, REFRESH_REQUESTED or RESELECT_REQUESTED");
				goto bad;
			}
			break;
		case F_TIME:
			nv = norm_time(v, p, err);
			if (nv == NULL)
				goto bad;
			break;
		case F_MAP: {
			const char *mk;
			json_t *mv;

			if (!json_is_object(v) || json_object_size(v) > CTL_MAX_ARRAY) {
				mg_error_set(err, EINVAL, p, json_is_object(v)
								     ? "more than 1024 entries"
								     : "expected an object of strings");
				goto bad;
			}
			json_object_foreach(v, mk, mv)
				if (!json_is_string(mv) || json_string_length(mv) > 4096 ||
				    strlen(mk) > 256) {
					char q[300];

					jp(q, sizeof(q), p, mk);
					mg_error_set(err, EINVAL, q, "expected a string");
					goto bad;
				}
			nv = json_deep_copy(v);
			break;
		}
		case F_STRARR: {
			size_t i;
			json_t *e;

			if (!json_is_array(v) || json_array_size(v) > CTL_MAX_ARRAY) {
				mg_error_set(err, EINVAL, p, json_is_array(v)
								     ? "more than 1024 entries"
								     : "expected an array of strings");
				goto bad;
			}
			json_array_foreach(v, i, e)
				if (!json_is_string(e) || json_string_length(e) > 128) {
					char q[300];

					snprintf(q, sizeof(q), "%s[%zu]", p, i);
					mg_error_set(err, EINVAL, q, "expected a string");
					goto bad;
				}
			nv = json_deep_copy(v);
			break;
		}
		case F_OBJ:
			nv = norm(v, f->sub, p, camel, err);
			if (nv == NULL)
				goto bad;
			break;
		case F_OBJARR: {
			size_t i;
			json_t *e;

			if (!json_is_array(v) || json_array_size(v) > CTL_MAX_ARRAY) {
				mg_error_set(err, EINVAL, p, json_is_array(v)
								     ? "more than 1024 entries"
								     : "expected an array");
				goto bad;
			}
			nv = json_array();
			json_array_foreach(v, i, e) {
				char q[300];
				json_t *ne;

				snprintf(q, sizeof(q), "%s[%zu]", p, i);
				ne = norm(e, f->sub, q, camel, err);
				if (ne == NULL) {
					json_decref(nv);
					goto bad;
				}
				json_array_append_new(nv, ne);
			}
			break;
		}
		case F_ANY:
			nv = json_deep_copy(v);
			break;
		}
		json_object_set_new(out, f->snake, nv);
	}
	return out;
bad:
	json_decref(out);
	return NULL;
}

json_t *
nsm_normalise(json_t *in, const char *type, bool *camel, struct mg_error *err)
{
	*camel = false;
	return norm(in, type, "", camel, err);
}

static json_t *
camelise(json_t *in, const char *type)
{
	const struct fdef *fd = mfields(type);
	json_t *out = json_object(), *v;
	const char *key;

	json_object_foreach(in, key, v) {
		const struct fdef *f = NULL;

		for (unsigned int i = 0; fd && fd[i].snake; i++)
			if (strcmp(key, fd[i].snake) == 0)
				f = &fd[i];
		if (f == NULL) {
			json_object_set(out, key, v);
			continue;
		}
		if (f->t == F_OBJ) {
			json_object_set_new(out, f->camel, camelise(v, f->sub));
		} else if (f->t == F_OBJARR) {
			json_t *a = json_array(), *e;
			size_t i;

			json_array_foreach(v, i, e)
				json_array_append_new(a, camelise(e, f->sub));
			json_object_set_new(out, f->camel, a);
		} else {
			json_object_set(out, f->camel, v);
		}
	}
	return out;
}

json_t *
nsm_camel(json_t *in, const char *type)
{
	return camelise(in, type);
}
