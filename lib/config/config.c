/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * YAML configuration loader (libyaml document API). Each mapping is checked
 * against the fields it may hold, each scalar is converted with a message
 * that names what was expected, and model requests are made in dependency
 * order: networks, ports (with their VLANs and addresses), neighbors, routes.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "mg_config.h"
#include "mg_ike.h"
#include "mg_rules.h"
#include "mg_esp_algos.h"

/* The RTE_LOG_* levels, without pulling DPDK into the config library. */
static const char *const log_levels[] = {
	"", "emerg", "alert", "crit", "error", "warning", "notice", "info", "debug", NULL};

struct cfg {
	const char *file;
	yaml_document_t doc;
	struct mg_settings *st;
	struct mg_model *m;
	struct mg_config_errors *errs;
};

/* ---- errors -------------------------------------------------------------- */

static void
errs_add(struct mg_config_errors *e, char *msg)
{
	if (e->n == e->cap) {
		unsigned int cap = e->cap ? e->cap * 2 : 8;
		char **p = realloc(e->msgs, cap * sizeof(*p));

		if (p == NULL) {
			free(msg);
			return;
		}
		e->msgs = p;
		e->cap = cap;
	}
	e->msgs[e->n++] = msg;
}

static void __attribute__((format(printf, 4, 5)))
cerr(struct cfg *c, const yaml_node_t *node, const char *path, const char *fmt, ...)
{
	char msg[512], *out;
	va_list ap;
	unsigned long line = node ? node->start_mark.line + 1 : 1;
	unsigned long col = node ? node->start_mark.column + 1 : 1;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (asprintf(&out, "%s:%lu:%lu: %s%s%s", c->file, line, col, path ? path : "",
		     path && *path ? ": " : "", msg) >= 0)
		errs_add(c->errs, out);
}

void
mg_config_errors_free(struct mg_config_errors *errs)
{
	for (unsigned int i = 0; i < errs->n; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	memset(errs, 0, sizeof(*errs));
}

/* ---- YAML access ------------------------------------------------------------- */

static yaml_node_t *
node_at(struct cfg *c, int idx)
{
	return yaml_document_get_node(&c->doc, idx);
}

static bool
is_null(const yaml_node_t *n)
{
	if (n == NULL)
		return true;
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *v = (const char *)n->data.scalar.value;
	return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0;
}

static const char *
node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE: return "a scalar";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_MAPPING_NODE: return "a mapping";
	default: return "nothing";
	}
}

/*
 * Check that @map is a mapping whose keys are all in @allowed (NULL
 * terminated) and appear once. Returns false (with an error) if @map is not
 * a mapping; unknown or repeated keys are reported and skipped.
 */
static bool
check_map(struct cfg *c, yaml_node_t *map, const char *path, const char *const *allowed)
{
	if (map->type != YAML_MAPPING_NODE) {
		cerr(c, map, path, "expected a mapping, found %s", node_kind(map));
		return false;
	}
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(c, p->key);
		const char *key;
		bool ok = false;

		if (k->type != YAML_SCALAR_NODE) {
			cerr(c, k, path, "field names must be scalars");
			continue;
		}
		key = (const char *)k->data.scalar.value;
		for (unsigned int i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], key) == 0)
				ok = true;
		if (!ok) {
			char list[512] = "";
			size_t off = 0;

			for (unsigned int i = 0; allowed[i] != NULL && off < sizeof(list); i++)
				off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
							i ? ", " : "", allowed[i]);
			cerr(c, k, path, "unknown field '%s' (expected one of: %s)", key, list);
			continue;
		}
		for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *k2 = node_at(c, q->key);

			if (k2->type == YAML_SCALAR_NODE &&
			    strcmp((const char *)k2->data.scalar.value, key) == 0) {
				cerr(c, k, path, "field '%s' is given twice", key);
				break;
			}
		}
	}
	return true;
}

/* The value of @key in mapping @map, the first one if repeated; NULL if absent. */
static yaml_node_t *
get(struct cfg *c, yaml_node_t *map, const char *key)
{
	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(c, p->key);

		if (k->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, key) == 0) {
			yaml_node_t *v = node_at(c, p->value);

			return is_null(v) ? NULL : v;
		}
	}
	return NULL;
}

/*
 * Reports @msg at mapping @map (path @path) if it has no @key, or a null one:
 * the error of a required field left out. A value that is there but wrong
 * was reported by the reader that refused it.
 */
static void
need(struct cfg *c, yaml_node_t *map, const char *path, const char *key, const char *msg)
{
	if (get(c, map, key) == NULL)
		cerr(c, map, path, "%s", msg);
}

static void
subpath(char *out, size_t n, const char *path, const char *key)
{
	if (path[0] == '\0')
		snprintf(out, n, "%s", key);
	else
		snprintf(out, n, "%s.%s", path, key);
}

static void
idxpath(char *out, size_t n, const char *path, unsigned int i)
{
	snprintf(out, n, "%s[%u]", path, i);
}

static const char *
scalar(struct cfg *c, yaml_node_t *n, const char *path)
{
	if (n->type != YAML_SCALAR_NODE) {
		cerr(c, n, path, "expected a scalar, found %s", node_kind(n));
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

/* Reads @key of @map as a string into @buf. False if absent or invalid. */
/*
 * The start of every reader: the scalar at @key of @map, with its node in *@n
 * and its path in @p (of size @np); NULL if @key is absent or (reported) not
 * a scalar.
 */
static const char *
rd_scalar(struct cfg *c, yaml_node_t *map, const char *path, const char *key, yaml_node_t **n,
	  char *p, size_t np)
{
	*n = get(c, map, key);
	if (*n == NULL)
		return NULL;
	subpath(p, np, path, key);
	return scalar(c, *n, p);
}

static bool
rd_str(struct cfg *c, yaml_node_t *map, const char *path, const char *key, char *buf,
       size_t size)
{
	yaml_node_t *n;
	char p[160];
	const char *v = rd_scalar(c, map, path, key, &n, p, sizeof(p));

	if (v == NULL)
		return false;
	if (strlen(v) >= size) { /* not quoted: keys are read here too */
		cerr(c, n, p, "is too long: %zu characters (at most %zu)", strlen(v), size - 1);
		return false;
	}
	strcpy(buf, v);
	return true;
}

static bool
parse_uint(const char *v, unsigned long long *out)
{
	char *end;

	if (v[0] < '0' || v[0] > '9')
		return false;
	errno = 0;
	*out = strtoull(v, &end, 0);
	return errno == 0 && *end == '\0';
}

static bool
rd_ull(struct cfg *c, yaml_node_t *map, const char *path, const char *key,
       unsigned long long min, unsigned long long max, unsigned long long *out)
{
	yaml_node_t *n;
	unsigned long long v;
	char p[160];
	const char *s = rd_scalar(c, map, path, key, &n, p, sizeof(p));

	if (s == NULL)
		return false;
	if (!parse_uint(s, &v)) {
		cerr(c, n, p, "expected an integer, found '%s'", s);
		return false;
	}
	if (v < min || v > max) {
		cerr(c, n, p, "%llu is out of range %llu-%llu", v, min, max);
		return false;
	}
	*out = v;
	return true;
}

static bool
rd_uint(struct cfg *c, yaml_node_t *map, const char *path, const char *key,
	unsigned long long min, unsigned long long max, uint32_t *out)
{
	unsigned long long v;

	if (!rd_ull(c, map, path, key, min, max, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool
rd_u16(struct cfg *c, yaml_node_t *map, const char *path, const char *key,
       unsigned int min, unsigned int max, uint16_t *out)
{
	uint32_t v;

	if (!rd_uint(c, map, path, key, min, max, &v))
		return false;
	*out = (uint16_t)v;
	return true;
}

/* An optional integer at @key: true when absent (@out untouched) or read within min-max. */
static bool
opt_uint(struct cfg *c, yaml_node_t *map, const char *path, const char *key,
	 unsigned long long min, unsigned long long max, uint32_t *out)
{
	return get(c, map, key) == NULL || rd_uint(c, map, path, key, min, max, out);
}

static bool
opt_u16(struct cfg *c, yaml_node_t *map, const char *path, const char *key, unsigned int min,
	unsigned int max, uint16_t *out)
{
	return get(c, map, key) == NULL || rd_u16(c, map, path, key, min, max, out);
}

static bool
rd_bool(struct cfg *c, yaml_node_t *map, const char *path, const char *key, bool *out)
{
	static const char *const t[] = {"true", "yes", "on", NULL};
	static const char *const f[] = {"false", "no", "off", NULL};
	yaml_node_t *n;
	char p[160];
	const char *s = rd_scalar(c, map, path, key, &n, p, sizeof(p));

	if (s == NULL)
		return false;
	for (unsigned int i = 0; t[i]; i++)
		if (strcasecmp(s, t[i]) == 0) {
			*out = true;
			return true;
		}
	for (unsigned int i = 0; f[i]; i++)
		if (strcasecmp(s, f[i]) == 0) {
			*out = false;
			return true;
		}
	cerr(c, n, p, "expected true or false, found '%s'", s);
	return false;
}

/* Reads an enumerated word; @names is NULL terminated; *out gets its index. */
static bool
rd_enum(struct cfg *c, yaml_node_t *map, const char *path, const char *key,
	const char *const *names, unsigned int *out)
{
	yaml_node_t *n;
	char p[160], list[256] = "";
	size_t off = 0;
	const char *s = rd_scalar(c, map, path, key, &n, p, sizeof(p));

	if (s == NULL)
		return false;
	for (unsigned int i = 0; names[i] != NULL; i++) {
		if (names[i][0] != '\0' && strcmp(s, names[i]) == 0) {
			*out = i;
			return true;
		}
		if (names[i][0] != '\0')
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
						off ? ", " : "", names[i]);
	}
	cerr(c, n, p, "'%s' is not one of: %s", s, list);
	return false;
}

/* True if @key is in mapping @map, even with an empty (null) value. */
static bool
yaml_node_present(struct cfg *c, yaml_node_t *map, const char *key)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(c, p->key);

		if (k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, key) == 0)
			return true;
	}
	return false;
}

/* The sequence at @key, or NULL (with an error if it is not a sequence). */
static yaml_node_t *
get_seq(struct cfg *c, yaml_node_t *map, const char *path, const char *key)
{
	yaml_node_t *n = get(c, map, key);
	char p[160];

	if (n == NULL)
		return NULL;
	if (n->type != YAML_SEQUENCE_NODE) {
		subpath(p, sizeof(p), path, key);
		cerr(c, n, p, "expected a list, found %s", node_kind(n));
		return NULL;
	}
	return n;
}

#define SEQ_FOREACH(c, seq, i, item)                                                   \
	for (yaml_node_item_t *it_ = ((i) = 0, (seq)->data.sequence.items.start);      \
	     it_ < (seq)->data.sequence.items.top && ((item) = node_at((c), *it_), 1); \
	     it_++, i++)

/* MAP_FOREACH's step: from entry *@i of @seq on, the first that check_map() passes. */
static yaml_node_t *
next_map(struct cfg *c, yaml_node_t *seq, const char *base, const char *const *keys,
	 unsigned int *i, char *p, size_t np)
{
	for (; seq != NULL && seq->data.sequence.items.start + *i < seq->data.sequence.items.top;
	     (*i)++) {
		yaml_node_t *item = node_at(c, seq->data.sequence.items.start[*i]);

		idxpath(p, np, base, *i);
		if (check_map(c, item, p, keys))
			return item;
	}
	return NULL;
}

/*
 * Each entry @item of list @seq (NULL: none) that is a mapping, @p (a char
 * array) its path "@base[@i]"; its keys are checked against @keys. Entries
 * that are not mappings are reported and skipped.
 */
#define MAP_FOREACH(c, seq, base, keys, i, item, p)                                      \
	for ((i) = 0;                                                                    \
	     ((item) = next_map((c), (seq), (base), (keys), &(i), (p), sizeof(p))) != NULL; \
	     (i)++)

static void
rd_str_list(struct cfg *c, yaml_node_t *map, const char *path, const char *key,
	    char **out, unsigned int *n)
{
	yaml_node_t *seq = get_seq(c, map, path, key), *item;
	char p[160], ip[176];
	const char *s;
	unsigned int i;

	if (seq == NULL)
		return;
	subpath(p, sizeof(p), path, key);
	SEQ_FOREACH(c, seq, i, item) {
		idxpath(ip, sizeof(ip), p, i);
		if (*n >= MG_MAX_LIST) {
			cerr(c, item, ip, "too many entries (at most %u)", MG_MAX_LIST);
			return;
		}
		s = scalar(c, item, ip);
		if (s != NULL)
			out[(*n)++] = strdup(s);
	}
}

/* Position of a model error: the field's value node in @item, else @item. */
static void
model_err(struct cfg *c, yaml_node_t *item, const char *path, const struct mg_error *e)
{
	yaml_node_t *at = item;
	char p[200];

	if (e->field[0] != '\0') {
		char key[96];
		const char *dot = strpbrk(e->field, ".[");
		size_t len = dot ? (size_t)(dot - e->field) : strlen(e->field);

		if (len >= sizeof(key))
			len = sizeof(key) - 1;
		memcpy(key, e->field, len);
		key[len] = '\0';
		yaml_node_t *v = get(c, item, key);

		if (v != NULL)
			at = v;
		subpath(p, sizeof(p), path, e->field);
	} else {
		snprintf(p, sizeof(p), "%s", path);
	}
	cerr(c, at, p, "%s", e->msg);
}

/* ---- sections -------------------------------------------------------------------- */

static void
load_dpdk(struct cfg *c, yaml_node_t *n)
{
	static const char *const keys[] = {"lcores", "main_lcore", "memory_mb", "hugepages",
					   "file_prefix", "pci_allow", "vdevs", "args",
					   "telemetry", NULL};
	struct mg_settings *st = c->st;
	uint32_t v;

	if (!check_map(c, n, "dpdk", keys))
		return;
	if (rd_str(c, n, "dpdk", "lcores", st->lcores, sizeof(st->lcores))) {
		for (const char *p = st->lcores; *p; p++)
			if (!strchr("0123456789,-@()", *p)) {
				cerr(c, get(c, n, "lcores"), "dpdk.lcores",
				     "'%s' is not an EAL lcore list (like 0-3 or 0,2,4 or 0@0,1@0)",
				     st->lcores);
				break;
			}
	}
	if (rd_uint(c, n, "dpdk", "main_lcore", 0, 1023, &v))
		st->main_lcore = (int)v;
	rd_uint(c, n, "dpdk", "memory_mb", 64, 1u << 20, &st->memory_mb);
	rd_bool(c, n, "dpdk", "hugepages", &st->hugepages);
	if (rd_str(c, n, "dpdk", "file_prefix", st->file_prefix, sizeof(st->file_prefix)) &&
	    !mg_name_valid(st->file_prefix))
		cerr(c, get(c, n, "file_prefix"), "dpdk.file_prefix",
		     "'%s' must be 1-31 of A-Z a-z 0-9 _ - . :", st->file_prefix);
	rd_str_list(c, n, "dpdk", "pci_allow", st->pci_allow, &st->npci_allow);
	rd_str_list(c, n, "dpdk", "vdevs", st->vdevs, &st->nvdevs);
	rd_str_list(c, n, "dpdk", "args", st->eal_args, &st->neal_args);
	rd_bool(c, n, "dpdk", "telemetry", &st->telemetry);
}

static void
load_workers(struct cfg *c, yaml_node_t *n)
{
	static const char *const keys[] = {"lcores", "burst", "idle", NULL};
	static const char *const idle_keys[] = {"mode", "pause_after", "sleep_after",
						"sleep_min_us", "sleep_max_us", NULL};
	static const char *const modes[] = {"poll", "pause", "sleep", "interrupt", NULL};
	struct mg_settings *st = c->st;
	yaml_node_t *seq, *item, *idle;
	unsigned int i, mode;
	char p[64];

	if (!check_map(c, n, "workers", keys))
		return;
	seq = get_seq(c, n, "workers", "lcores");
	if (seq != NULL) {
		SEQ_FOREACH(c, seq, i, item) {
			unsigned long long v;
			const char *s;

			idxpath(p, sizeof(p), "workers.lcores", i);
			s = scalar(c, item, p);
			if (s == NULL)
				continue;
			if (!parse_uint(s, &v) || v > 1023) {
				cerr(c, item, p, "expected an lcore id 0-1023, found '%s'", s);
				continue;
			}
			if (st->nworker_lcores < MG_ARRAY_SIZE(st->worker_lcores))
				st->worker_lcores[st->nworker_lcores++] = (unsigned int)v;
		}
		if (st->nworker_lcores == 0)
			cerr(c, seq, "workers.lcores", "needs at least one lcore");
	}
	rd_u16(c, n, "workers", "burst", 1, 256, &st->burst);
	idle = get(c, n, "idle");
	if (idle != NULL && check_map(c, idle, "workers.idle", idle_keys)) {
		if (rd_enum(c, idle, "workers.idle", "mode", modes, &mode))
			st->idle_mode = (enum mg_idle_mode)mode;
		rd_uint(c, idle, "workers.idle", "pause_after", 1, 1u << 30, &st->idle_pause_polls);
		rd_uint(c, idle, "workers.idle", "sleep_after", 1, 1u << 30, &st->idle_sleep_polls);
		rd_uint(c, idle, "workers.idle", "sleep_min_us", 1, 100000, &st->idle_sleep_min_us);
		rd_uint(c, idle, "workers.idle", "sleep_max_us", 1, 100000, &st->idle_sleep_max_us);
		if (st->idle_sleep_min_us > st->idle_sleep_max_us)
			cerr(c, idle, "workers.idle",
			     "sleep_min_us (%u) is larger than sleep_max_us (%u)",
			     st->idle_sleep_min_us, st->idle_sleep_max_us);
	}
}

static void
load_mbufs(struct cfg *c, yaml_node_t *n)
{
	static const char *const keys[] = {"count", "cache", "data_room", NULL};

	if (!check_map(c, n, "mbufs", keys))
		return;
	rd_uint(c, n, "mbufs", "count", 1024, 1u << 26, &c->st->mbufs);
	rd_uint(c, n, "mbufs", "cache", 0, 512, &c->st->mbuf_cache);
	rd_uint(c, n, "mbufs", "data_room", 1024, 65535, &c->st->mbuf_data_room);
}

static void
load_limits(struct cfg *c, yaml_node_t *n)
{
	static const char *const keys[] = {"adjacencies", "routes", "fib_routes", "fib_tbl8", "fib6_tbl8",
					   "neighbors", "punt_ring", "inject_ring", "service_flows",
					   "icmp_errors_per_sec", "icmp_errors_burst", "connections",
					   NULL};
	struct mg_settings *st = c->st;
	uint32_t v;

	if (!check_map(c, n, "limits", keys))
		return;
	rd_uint(c, n, "limits", "adjacencies", 64, (1u << 24), &st->max_adjacencies);
	rd_uint(c, n, "limits", "routes", 1, (1u << 24), &st->max_routes);
	rd_uint(c, n, "limits", "fib_routes", 64, (1u << 24), &st->fib_routes);
	rd_uint(c, n, "limits", "fib_tbl8", 64, (1u << 20), &st->fib_tbl8);
	rd_uint(c, n, "limits", "fib6_tbl8", 64, (1u << 20), &st->fib6_tbl8);
	/* FIB entries are 2 bytes while adjacency ids fit in 15 bits; a tbl8 index
	 * must fit there too. */
	if (st->max_adjacencies <= 32767) {
		if (st->fib_tbl8 > 32767)
			cerr(c, get(c, n, "fib_tbl8"), "limits.fib_tbl8",
			     "%u is above 32767, the most 2-byte FIB entries can index (raise "
			     "limits.adjacencies above 32767 for 4-byte entries)", st->fib_tbl8);
		if (st->fib6_tbl8 > 32767)
			cerr(c, get(c, n, "fib6_tbl8"), "limits.fib6_tbl8",
			     "%u is above 32767, the most 2-byte FIB entries can index (raise "
			     "limits.adjacencies above 32767 for 4-byte entries)", st->fib6_tbl8);
	}
	rd_uint(c, n, "limits", "neighbors", 16, (1u << 22), &st->max_neighbors);
	rd_uint(c, n, "limits", "service_flows", 16, (1u << 26), &st->svc_flows);
	rd_uint(c, n, "limits", "connections", 1, 4096, &st->max_conns);
	if (rd_uint(c, n, "limits", "punt_ring", 64, 1u << 16, &v)) {
		if (v & (v - 1))
			cerr(c, get(c, n, "punt_ring"), "limits.punt_ring",
			     "%u is not a power of two", v);
		st->punt_ring = v;
	}
	if (rd_uint(c, n, "limits", "inject_ring", 64, 1u << 16, &v)) {
		if (v & (v - 1))
			cerr(c, get(c, n, "inject_ring"), "limits.inject_ring",
			     "%u is not a power of two", v);
		st->inject_ring = v;
	}
	rd_uint(c, n, "limits", "icmp_errors_per_sec", 0, 1000000, &st->icmp_rate);
	rd_uint(c, n, "limits", "icmp_errors_burst", 1, 100000, &st->icmp_burst);
}

static void
load_arp_nd(struct cfg *c, yaml_node_t *n)
{
	static const char *const keys[] = {"reachable_ms", "retrans_ms", "probes",
					   "hold_packets", "failed_ms", "announce", NULL};
	struct mg_settings *st = c->st;

	if (!check_map(c, n, "arp_nd", keys))
		return;
	rd_uint(c, n, "arp_nd", "reachable_ms", 1000, 3600000, &st->nd_reachable_ms);
	rd_uint(c, n, "arp_nd", "retrans_ms", 10, 60000, &st->nd_retrans_ms);
	rd_uint(c, n, "arp_nd", "probes", 1, 20, &st->nd_probes);
	rd_uint(c, n, "arp_nd", "hold_packets", 0, 64, &st->nd_hold_packets);
	rd_uint(c, n, "arp_nd", "failed_ms", 100, 3600000, &st->nd_failed_ms);
	rd_bool(c, n, "arp_nd", "announce", &st->nd_announce);
}

/* Whether @p s is a listening address REST can bind (mg_listen_parse). */
static bool
listen_valid(const char *s)
{
	struct sockaddr_storage ss;
	socklen_t len;

	return mg_listen_parse(s, &ss, &len) == 0;
}

/*
 * Read a file the control plane reads at start (a token file, or a @p pem
 * file of rest.tls) as it will, so that --check finds what would stop the
 * start, at the line naming it. What is read is wiped at once.
 */
static void
file_check(struct cfg *c, yaml_node_t *node, const char *field, const char *path, bool pem)
{
	struct mg_error e;

	mg_error_clear(&e);
	if (pem) {
		size_t len;
		char *buf = mg_pem_file_read(path, field, &len, NULL, &e);

		if (buf != NULL) {
			mg_free_wiped(buf);
			return;
		}
	} else {
		char tok[128];
		int n = mg_token_file_read(path, field, tok, sizeof(tok), NULL, &e);

		mg_wipe(tok, sizeof(tok));
		if (n >= 0)
			return;
	}
	cerr(c, node, field, "%s", e.msg);
}

static void
load_control(struct cfg *c, yaml_node_t *n)
{
	static const char *const keys[] = {"state_dir", "capture_dir", "nsm_socket", "nsm_uids",
					   "rest", "connection_lifetime_s", "node_name", NULL};
	static const char *const rest_keys[] = {"listen", "token_file", "max_body", "rate_limit",
						"rate_burst", "tls", NULL};
	static const char *const tls_keys[] = {"cert", "key", NULL};
	struct mg_settings *st = c->st;
	yaml_node_t *r, *t, *seq, *item;
	unsigned int i;
	char p[64];

	if (!check_map(c, n, "control", keys))
		return;
	if (rd_str(c, n, "control", "state_dir", st->state_dir, sizeof(st->state_dir)) &&
	    st->state_dir[0] != '/')
		cerr(c, get(c, n, "state_dir"), "control.state_dir", "'%s' is not an absolute path",
		     st->state_dir);
	if (rd_str(c, n, "control", "capture_dir", st->capture_dir, sizeof(st->capture_dir)) &&
	    st->capture_dir[0] != '/')
		cerr(c, get(c, n, "capture_dir"), "control.capture_dir",
		     "'%s' is not an absolute path", st->capture_dir);
	if (get(c, n, "nsm_socket") != NULL || yaml_node_present(c, n, "nsm_socket")) {
		st->nsm_socket_set = true;
		/* "" (or no value) turns the socket off. */
		if (rd_str(c, n, "control", "nsm_socket", st->nsm_socket, sizeof(st->nsm_socket)) &&
		    st->nsm_socket[0] != '\0' && st->nsm_socket[0] != '/')
			cerr(c, get(c, n, "nsm_socket"), "control.nsm_socket",
			     "'%s' is not an absolute path", st->nsm_socket);
	}
	seq = get_seq(c, n, "control", "nsm_uids");
	if (seq != NULL) {
		SEQ_FOREACH(c, seq, i, item) {
			unsigned long long v;
			const char *s;

			idxpath(p, sizeof(p), "control.nsm_uids", i);
			s = scalar(c, item, p);
			if (s == NULL)
				continue;
			if (!parse_uint(s, &v) || v > 0xffffffffull) {
				cerr(c, item, p, "expected a uid, found '%s'", s);
				continue;
			}
			if (st->nnsm_uids < MG_ARRAY_SIZE(st->nsm_uids))
				st->nsm_uids[st->nnsm_uids++] = (unsigned int)v;
			else
				cerr(c, item, p, "more than %zu uids",
				     (size_t)MG_ARRAY_SIZE(st->nsm_uids));
		}
	}
	rd_uint(c, n, "control", "connection_lifetime_s", 1, 86400 * 7, &st->conn_max_lifetime_s);
	rd_str(c, n, "control", "node_name", st->node_name, sizeof(st->node_name));
	r = get(c, n, "rest");
	if (r != NULL && check_map(c, r, "control.rest", rest_keys)) {
		if (get(c, r, "listen") != NULL || yaml_node_present(c, r, "listen")) {
			st->rest_listen_set = true;
			if (rd_str(c, r, "control.rest", "listen", st->rest_listen,
				   sizeof(st->rest_listen)) &&
			    st->rest_listen[0] != '\0' && !listen_valid(st->rest_listen))
				cerr(c, get(c, r, "listen"), "control.rest.listen",
				     "'%s' is not ADDRESS:PORT (like 127.0.0.1:8080 or [::1]:8080)",
				     st->rest_listen);
		}
		if (rd_str(c, r, "control.rest", "token_file", st->rest_token_file,
			   sizeof(st->rest_token_file)))
			file_check(c, get(c, r, "token_file"), "control.rest.token_file",
				   st->rest_token_file, false);
		rd_uint(c, r, "control.rest", "max_body", 1024, 64u << 20, &st->rest_max_body);
		rd_uint(c, r, "control.rest", "rate_limit", 0, 1000000, &st->rest_rate);
		rd_uint(c, r, "control.rest", "rate_burst", 1, 1000000, &st->rest_burst);
		t = get(c, r, "tls");
		if (t != NULL && check_map(c, t, "control.rest.tls", tls_keys)) {
			bool has_cert = rd_str(c, t, "control.rest.tls", "cert", st->rest_tls_cert,
					       sizeof(st->rest_tls_cert));
			bool has_key = rd_str(c, t, "control.rest.tls", "key", st->rest_tls_key,
					      sizeof(st->rest_tls_key));

			if (has_cert != has_key || !has_cert)
				cerr(c, t, "control.rest.tls",
				     "needs both 'cert' and 'key' (PEM files)");
			if (has_cert)
				file_check(c, get(c, t, "cert"), "control.rest.tls.cert",
					   st->rest_tls_cert, true);
			if (has_key)
				file_check(c, get(c, t, "key"), "control.rest.tls.key",
					   st->rest_tls_key, true);
		}
	}
}

static void
load_small(struct cfg *c, yaml_node_t *root)
{
	static const char *const stats_keys[] = {"interval", NULL};
	static const char *const log_keys[] = {"level", NULL};
	yaml_node_t *n;
	unsigned int lvl;

	n = get(c, root, "stats");
	if (n != NULL && check_map(c, n, "stats", stats_keys))
		rd_uint(c, n, "stats", "interval", 0, 86400, &c->st->stats_interval_s);
	n = get(c, root, "log");
	if (n != NULL && check_map(c, n, "log", log_keys) &&
	    rd_enum(c, n, "log", "level", log_levels, &lvl))
		c->st->log_level = lvl;
}

/* A network's `flows:` mapping (its presence turns tracking on). */
static void
load_flows(struct cfg *c, yaml_node_t *n, const char *path, struct mg_flows_spec *fs)
{
	static const char *const keys[] = {"size", "stateful", "timeouts", NULL};
	yaml_node_t *t;
	char p[96], tp[112];

	subpath(p, sizeof(p), path, "flows");
	fs->enabled = true;
	if (is_null(n))
		return;
	if (!check_map(c, n, p, keys))
		return;
	rd_uint(c, n, p, "size", 1, MG_FLOWS_SIZE_MAX, &fs->size);
	rd_bool(c, n, p, "stateful", &fs->stateful);
	t = get(c, n, "timeouts");
	if (t == NULL)
		return;
	subpath(tp, sizeof(tp), p, "timeouts");
	if (!check_map(c, t, tp, mg_flows_timeout_names))
		return;
	for (unsigned int i = 0; i < MG_FLOWS_T_MAX; i++)
		rd_uint(c, t, tp, mg_flows_timeout_names[i], 1, MG_FLOWS_TIMEOUT_MAX,
			&fs->timeout_s[i]);
}

/* flow_history: the ended flows kept for GET /v1/flows, and their export. */
static void
load_flow_history(struct cfg *c, yaml_node_t *root)
{
	static const char *const keys[] = {"size", "export", NULL};
	static const char *const ekeys[] = {"file", "socket", NULL};
	yaml_node_t *n = get(c, root, "flow_history"), *e;

	if (n == NULL || !check_map(c, n, "flow_history", keys))
		return;
	rd_uint(c, n, "flow_history", "size", 1, 1u << 24, &c->st->flow_history);
	e = get(c, n, "export");
	if (e == NULL || !check_map(c, e, "flow_history.export", ekeys))
		return;
	rd_str(c, e, "flow_history.export", "file", c->st->flow_export_file,
	       sizeof(c->st->flow_export_file));
	rd_str(c, e, "flow_history.export", "socket", c->st->flow_export_socket,
	       sizeof(c->st->flow_export_socket));
}

static void
load_networks(struct cfg *c, yaml_node_t *root)
{
	static const char *const keys[] = {"name", "fragments", "ip_options", "flows", NULL};
	static const char *const pol[] = {"forward", "drop", NULL};
	yaml_node_t *seq = get_seq(c, root, "", "networks"), *item;
	struct mg_error e;
	unsigned int i, v;
	char p[64];

	if (get(c, root, "networks") == NULL) {
		struct mg_network_spec s = {.name = "default"};

		if (mg_model_network_add(c->m, &s, &e) < 0)
			cerr(c, root, "networks", "%s", e.msg);
		return;
	}
	MAP_FOREACH(c, seq, "networks", keys, i, item, p) {
		struct mg_network_spec s;

		memset(&s, 0, sizeof(s));
		if (!rd_str(c, item, p, "name", s.name, sizeof(s.name))) {
			need(c, item, p, "name", "a network needs a name");
			continue;
		}
		if (rd_enum(c, item, p, "fragments", pol, &v))
			s.fragments = (enum mg_policy)v;
		if (rd_enum(c, item, p, "ip_options", pol, &v))
			s.ip_options = (enum mg_policy)v;
		if (get(c, item, "flows") != NULL)
			load_flows(c, get(c, item, "flows"), p, &s.flows);
		if (mg_model_network_add(c->m, &s, &e) < 0)
			model_err(c, item, p, &e);
	}
}

/*
 * The "name" of entry @item (path @p) into @name, when it is a valid name;
 * otherwise false with an error saying what (@who: "a service") needs one.
 */
static bool
rd_valid_name(struct cfg *c, yaml_node_t *item, const char *p, const char *who, char *name,
	      size_t n)
{
	if (rd_str(c, item, p, "name", name, n) && mg_name_valid(name))
		return true;
	cerr(c, get(c, item, "name") ? get(c, item, "name") : item, p,
	     "%s needs a name of 1-31 of A-Z a-z 0-9 _ - . :", who);
	return false;
}

/* Where entry @item stands (FILE:LINE:COLUMN), for errors found after loading. */
static void
item_where(struct cfg *c, const yaml_node_t *item, char *where, size_t n)
{
	snprintf(where, n, "%s:%zu:%zu", c->file, item->start_mark.line + 1,
		 item->start_mark.column + 1);
}

/*
 * A zeroed table of @max entries of @size for list @name (at @seq), in place
 * of @old (freed); NULL, with an error, when out of memory.
 */
static void *
new_table(struct cfg *c, yaml_node_t *seq, const char *name, void *old, size_t max, size_t size)
{
	void *t;

	free(old);
	t = calloc(max, size);
	if (t == NULL)
		cerr(c, seq, name, "out of memory");
	return t;
}

/* Adds each prefix of list @key ("ipv4"/"ipv6") of @item to interface @iface. */
static void
load_family_addrs(struct cfg *c, yaml_node_t *item, const char *path, const char *key,
		  const char *iface, int family)
{
	yaml_node_t *seq = get_seq(c, item, path, key), *a;
	char p[160], ap[176];
	struct mg_error e;
	unsigned int i;

	if (seq == NULL)
		return;
	subpath(p, sizeof(p), path, key);
	SEQ_FOREACH(c, seq, i, a) {
		struct mg_addr_spec s;
		const char *v;

		memset(&s, 0, sizeof(s));
		idxpath(ap, sizeof(ap), p, i);
		v = scalar(c, a, ap);
		if (v == NULL)
			continue;
		if (mg_prefix_parse(v, &s.prefix) < 0 || s.prefix.addr.family != family ||
		    strchr(v, '/') == NULL) {
			cerr(c, a, ap, "'%s' is not an %s address with a subnet length (like %s)", v,
			     family == AF_INET ? "IPv4" : "IPv6",
			     family == AF_INET ? "10.0.1.1/24" : "fd00:1::1/64");
			continue;
		}
		mg_strlcpy(s.iface, iface, sizeof(s.iface));
		if (mg_model_addr_add(c->m, &s, &e) < 0)
			cerr(c, a, ap, "%s", e.msg);
	}
}

/* Adds the prefixes of lists "ipv4" then "ipv6" of @item to interface @iface. */
static void
load_addrs(struct cfg *c, yaml_node_t *item, const char *path, const char *iface)
{
	load_family_addrs(c, item, path, "ipv4", iface, AF_INET);
	load_family_addrs(c, item, path, "ipv6", iface, AF_INET6);
}

static bool
rd_mac(struct cfg *c, yaml_node_t *map, const char *path, const char *key, struct mg_mac *mac)
{
	char buf[32], p[160];

	if (!rd_str(c, map, path, key, buf, sizeof(buf))) {
		yaml_node_t *n = get(c, map, key);

		if (n != NULL && n->type == YAML_SCALAR_NODE) {
			subpath(p, sizeof(p), path, key);
			cerr(c, n, p, "'%s' is not a MAC address (like 02:00:00:00:00:01)",
			     (const char *)n->data.scalar.value);
		}
		return false;
	}
	if (mg_mac_parse(buf, mac) < 0) {
		subpath(p, sizeof(p), path, key);
		cerr(c, get(c, map, key), p, "'%s' is not a MAC address (like 02:00:00:00:00:01)",
		     buf);
		return false;
	}
	return true;
}

static void
load_vlans(struct cfg *c, yaml_node_t *port, const char *path, const char *port_name)
{
	static const char *const keys[] = {"id", "network", "mtu", "ipv4", "ipv6", NULL};
	yaml_node_t *seq = get_seq(c, port, path, "vlans"), *item;
	char base[128], p[128], ifname[MG_NAME_MAX + 8];
	struct mg_error e;
	unsigned int i;

	subpath(base, sizeof(base), path, "vlans");
	MAP_FOREACH(c, seq, base, keys, i, item, p) {
		struct mg_vlan_spec s;

		memset(&s, 0, sizeof(s));
		if (!rd_u16(c, item, p, "id", 1, 4094, &s.vlan)) {
			need(c, item, p, "id", "a VLAN needs an id");
			continue;
		}
		mg_strlcpy(s.port, port_name, sizeof(s.port));
		rd_str(c, item, p, "network", s.network, sizeof(s.network));
		rd_u16(c, item, p, "mtu", MG_MTU_MIN, MG_MTU_MAX, &s.mtu);
		if (mg_model_vlan_add(c->m, &s, &e) < 0) {
			model_err(c, item, p, &e);
			continue;
		}
		snprintf(ifname, sizeof(ifname), "%s.%u", port_name, s.vlan);
		load_addrs(c, item, p, ifname);
	}
}

static void
load_ports(struct cfg *c, yaml_node_t *root)
{
	static const char *const keys[] = {"name", "device", "network", "mac", "mtu",
					   "rx_queues", "rx_desc", "tx_desc", "promiscuous",
					   "ipv4", "ipv6", "vlans", NULL};
	yaml_node_t *seq = get_seq(c, root, "", "ports"), *item;
	struct mg_error e;
	unsigned int i;
	char p[64], origin[96];

	MAP_FOREACH(c, seq, "ports", keys, i, item, p) {
		struct mg_port_spec s;
		bool ok = true;

		memset(&s, 0, sizeof(s));
		if (!rd_str(c, item, p, "name", s.name, sizeof(s.name))) {
			need(c, item, p, "name", "a port needs a name");
			continue;
		}
		if (!rd_str(c, item, p, "device", s.device, sizeof(s.device)) &&
		    get(c, item, "device") == NULL) {
			cerr(c, item, p, "port '%s' needs a device (a PCI address, "
			     "env:PCIDEVICE_<RESOURCE>, k8s:ATTACHMENT or a vdev)", s.name);
			continue;
		}
		rd_str(c, item, p, "network", s.network, sizeof(s.network));
		if (get(c, item, "mac") != NULL) {
			s.mac_set = rd_mac(c, item, p, "mac", &s.mac);
			ok = ok && s.mac_set;
		}
		ok = opt_u16(c, item, p, "mtu", MG_MTU_MIN, MG_MTU_MAX, &s.mtu) && ok;
		ok = opt_u16(c, item, p, "rx_queues", 1, 64, &s.rx_queues) && ok;
		ok = opt_u16(c, item, p, "rx_desc", 64, 16384, &s.rx_desc) && ok;
		ok = opt_u16(c, item, p, "tx_desc", 64, 16384, &s.tx_desc) && ok;
		rd_bool(c, item, p, "promiscuous", &s.promiscuous);
		if (!ok)
			continue;
		snprintf(origin, sizeof(origin), "%s:%lu", c->file,
			 (unsigned long)item->start_mark.line + 1);
		if (mg_model_port_add(c->m, &s, origin, &e) < 0) {
			model_err(c, item, p, &e);
			continue;
		}
		load_addrs(c, item, p, s.name);
		load_vlans(c, item, p, s.name);
	}
}

static bool
rd_ip(struct cfg *c, yaml_node_t *map, const char *path, const char *key, struct mg_ip *ip)
{
	char buf[64], p[160];

	if (!rd_str(c, map, path, key, buf, sizeof(buf)))
		return false;
	if (mg_ip_parse(buf, ip) < 0) {
		subpath(p, sizeof(p), path, key);
		cerr(c, get(c, map, key), p, "'%s' is not an IPv4 or IPv6 address", buf);
		return false;
	}
	return true;
}

static void
load_neighbors(struct cfg *c, yaml_node_t *root)
{
	static const char *const keys[] = {"interface", "ip", "mac", NULL};
	yaml_node_t *seq = get_seq(c, root, "", "neighbors"), *item;
	struct mg_error e;
	unsigned int i;
	char p[64];

	MAP_FOREACH(c, seq, "neighbors", keys, i, item, p) {
		struct mg_neigh_spec s;
		bool ok;

		memset(&s, 0, sizeof(s));
		ok = rd_str(c, item, p, "interface", s.iface, sizeof(s.iface));
		if (!ok)
			need(c, item, p, "interface", "a neighbor needs an interface");
		if (!rd_ip(c, item, p, "ip", &s.ip)) {
			need(c, item, p, "ip", "a neighbor needs an ip");
			ok = false;
		}
		if (!rd_mac(c, item, p, "mac", &s.mac)) {
			need(c, item, p, "mac", "a neighbor needs a mac");
			ok = false;
		}
		if (ok && mg_model_neigh_add(c->m, &s, &e) < 0)
			model_err(c, item, p, &e);
	}
}

static void
load_routes(struct cfg *c, yaml_node_t *root)
{
	static const char *const keys[] = {"network", "prefix", "via", "interface", "action",
					   NULL};
	static const char *const actions[] = {"forward", "drop", "unreachable", "prohibit",
					      NULL};
	yaml_node_t *seq = get_seq(c, root, "", "routes"), *item;
	struct mg_error e;
	unsigned int i, a;
	char p[64], buf[64];

	MAP_FOREACH(c, seq, "routes", keys, i, item, p) {
		struct mg_route_spec s;
		bool ok = true;

		memset(&s, 0, sizeof(s));
		rd_str(c, item, p, "network", s.network, sizeof(s.network));
		if (!rd_str(c, item, p, "prefix", buf, sizeof(buf))) {
			need(c, item, p, "prefix", "a route needs a prefix");
			continue;
		}
		if (mg_prefix_parse(buf, &s.prefix) < 0 || strchr(buf, '/') == NULL) {
			char pp[80];

			subpath(pp, sizeof(pp), p, "prefix");
			cerr(c, get(c, item, "prefix"), pp,
			     "'%s' is not a prefix (like 10.2.0.0/16 or fd00:2::/48)", buf);
			continue;
		}
		if (get(c, item, "via") != NULL)
			ok = rd_ip(c, item, p, "via", &s.via);
		rd_str(c, item, p, "interface", s.iface, sizeof(s.iface));
		if (rd_enum(c, item, p, "action", actions, &a))
			s.action = (enum mg_route_action)a;
		if (ok && mg_model_route_add(c->m, &s, &e) < 0)
			model_err(c, item, p, &e);
	}
}

/* ---- classify: rules per network (mg_rules.h) -------------------------------------- */

/* Reads @key as a port-like range: 80, "1000-2000". */
static bool
rd_range(struct cfg *c, yaml_node_t *map, const char *path, const char *key, unsigned int max,
	 struct mg_rule_range *r)
{
	yaml_node_t *n = get(c, map, key);
	unsigned long long lo, hi;
	char p[160], buf[32], *dash;
	const char *s;

	if (n == NULL)
		return true;
	subpath(p, sizeof(p), path, key);
	s = scalar(c, n, p);
	if (s == NULL)
		return false;
	mg_strlcpy(buf, s, sizeof(buf));
	dash = strchr(buf, '-');
	if (dash != NULL)
		*dash++ = '\0';
	if (!parse_uint(buf, &lo) || (dash != NULL && !parse_uint(dash, &hi))) {
		cerr(c, n, p, "expected a number or a range like 1000-2000, found '%s'", s);
		return false;
	}
	if (dash == NULL)
		hi = lo;
	if (lo > hi || hi > max) {
		cerr(c, n, p, "'%s' is not a range within 0-%u", s, max);
		return false;
	}
	*r = (struct mg_rule_range){.set = true, .lo = (uint16_t)lo, .hi = (uint16_t)hi};
	return true;
}

/* Reads a prefix (an address alone is a host prefix). */
static bool
rd_rule_prefix(struct cfg *c, yaml_node_t *map, const char *path, const char *key,
	       struct mg_prefix *pf)
{
	char buf[80], p[160];

	if (!rd_str(c, map, path, key, buf, sizeof(buf)))
		return get(c, map, key) == NULL;
	if (mg_prefix_parse(buf, pf) < 0) {
		struct mg_ip ip;

		if (mg_ip_parse(buf, &ip) < 0) {
			subpath(p, sizeof(p), path, key);
			cerr(c, get(c, map, key), p, "'%s' is not a prefix or an address", buf);
			return false;
		}
		pf->addr = ip;
		pf->len = (uint8_t)mg_ip_maxlen(&ip);
	}
	return true;
}

/* Parses one rule; false after reporting an error. */
static bool
load_rule(struct cfg *c, yaml_node_t *item, const char *p, struct mg_rule_spec *r)
{
	static const char *const keys[] = {"id", "priority", "family", "src", "dst", "protocol",
					   "sport", "dport", "icmp_type", "icmp_code", "vlan",
					   "dscp", "interface", "action", "rate", "burst", "excess",
					   "set_dscp", "table", "service", "tunnel", "via", NULL};
	static const char *const fams[] = {"ipv4", "ipv6", NULL};
	static const struct { const char *name; int proto; } protos[] = {
		{"icmp", 1}, {"tcp", 6}, {"udp", 17}, {"icmpv6", 58}, {"sctp", 132},
		{"gre", 47}, {"esp", 50}, {"ah", 51}};
	char buf[64], pp[176];
	unsigned int v;
	uint32_t u;
	bool ok = true;

	memset(r, 0, sizeof(*r));
	r->proto = -1;
	r->vlan = -1;
	r->dscp = -1;
	if (!check_map(c, item, p, keys))
		return false;
	if (rd_uint(c, item, p, "id", 1, 0xfffffffdu, &u))
		r->id = u;
	else if (get(c, item, "id") != NULL)
		ok = false;
	if (rd_str(c, item, p, "priority", buf, sizeof(buf))) {
		char *end;
		long pr;

		errno = 0;
		pr = strtol(buf, &end, 10);
		if (errno != 0 || *end != '\0' || pr < -1000000000L || pr > 1000000000L) {
			subpath(pp, sizeof(pp), p, "priority");
			cerr(c, get(c, item, "priority"), pp, "expected an integer, found '%s'", buf);
			ok = false;
		}
		r->priority = (int32_t)pr;
	}
	if (rd_enum(c, item, p, "family", fams, &v))
		r->family = v == 0 ? AF_INET : AF_INET6;
	ok &= rd_rule_prefix(c, item, p, "src", &r->src);
	ok &= rd_rule_prefix(c, item, p, "dst", &r->dst);
	if (rd_str(c, item, p, "protocol", buf, sizeof(buf))) {
		unsigned long long n;

		for (unsigned int i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
			if (strcmp(buf, protos[i].name) == 0)
				r->proto = (int16_t)protos[i].proto;
		if (r->proto < 0 && parse_uint(buf, &n) && n <= 255)
			r->proto = (int16_t)n;
		if (r->proto < 0) {
			subpath(pp, sizeof(pp), p, "protocol");
			cerr(c, get(c, item, "protocol"), pp,
			     "'%s' is not tcp, udp, sctp, icmp, icmpv6, gre, esp, ah or 0-255", buf);
			ok = false;
		}
	}
	ok &= rd_range(c, item, p, "sport", 65535, &r->sport);
	ok &= rd_range(c, item, p, "dport", 65535, &r->dport);
	ok &= rd_range(c, item, p, "icmp_type", 255, &r->icmp_type);
	ok &= rd_range(c, item, p, "icmp_code", 255, &r->icmp_code);
	if (rd_uint(c, item, p, "vlan", 0, 4095, &u))
		r->vlan = (int32_t)u;
	if (rd_uint(c, item, p, "dscp", 0, 63, &u))
		r->dscp = (int16_t)u;
	rd_str(c, item, p, "interface", r->iface, sizeof(r->iface));
	if (rd_str(c, item, p, "action", buf, sizeof(buf))) {
		int a = mg_rule_action_parse(buf);

		if (a < 0) {
			subpath(pp, sizeof(pp), p, "action");
			cerr(c, get(c, item, "action"), pp,
			     "'%s' is not one of: permit, deny, count, police, mark, table, "
			     "capture, service, tunnel", buf);
			ok = false;
		} else {
			r->action = (enum mg_rule_action)a;
		}
	}
	if (rd_uint(c, item, p, "rate", 1, UINT32_MAX, &u))
		r->rate = u;
	if (rd_uint(c, item, p, "burst", 1, UINT32_MAX, &u))
		r->burst = u;
	if (rd_uint(c, item, p, "excess", 0, UINT32_MAX, &u))
		r->excess = u;
	if (rd_uint(c, item, p, "set_dscp", 0, 63, &u))
		r->set_dscp = (uint8_t)u;
	rd_str(c, item, p, "table", r->table, sizeof(r->table));
	rd_str(c, item, p, "service", r->service, sizeof(r->service));
	rd_str(c, item, p, "tunnel", r->tunnel, sizeof(r->tunnel));
	if (get(c, item, "via") != NULL && !rd_ip(c, item, p, "via", &r->via))
		ok = false;
	return ok;
}

/*
 * A rule's service (the model does not hold services): one of the file's,
 * in the rule's network. False with an error at the rule's `service` key.
 */
static bool
rule_service_ok(struct cfg *c, yaml_node_t *item, const char *p, const char *network,
		const struct mg_rule_spec *r)
{
	char pp[192];

	if (r->action != MG_RULE_SERVICE || r->service[0] == '\0')
		return true;
	subpath(pp, sizeof(pp), p, "service");
	for (unsigned int k = 0; k < c->st->nservices; k++) {
		const struct mg_svc_cfg *s = &c->st->services[k];

		if (strcmp(s->name, r->service) != 0)
			continue;
		if (strcmp(s->network[0] ? s->network : "default", network) != 0) {
			cerr(c, get(c, item, "service"), pp,
			     "service '%s' is in network '%s', not this rule's ('%s')", r->service,
			     s->network[0] ? s->network : "default", network);
			return false;
		}
		return true;
	}
	cerr(c, get(c, item, "service"), pp, "no service named '%s' (see services:)", r->service);
	return false;
}

/*
 * Report a model error about a rule set at its place in the file: the rule's
 * key when the field reads "rules[N].key", else the rule, else the entry.
 */
static void
rules_err(struct cfg *c, yaml_node_t *entry, yaml_node_t *seq, const char *path,
	  const struct mg_error *e)
{
	yaml_node_t *at = entry;
	unsigned int idx, i;
	char key[64] = "", p[200];
	yaml_node_t *item;

	if (seq != NULL && sscanf(e->field, "rules[%u].%63s", &idx, key) >= 1) {
		SEQ_FOREACH(c, seq, i, item) {
			if (i != idx)
				continue;
			at = item;
			if (key[0] != '\0' && item->type == YAML_MAPPING_NODE && get(c, item, key))
				at = get(c, item, key);
			break;
		}
	} else if (e->field[0] != '\0' && get(c, entry, e->field) != NULL) {
		at = get(c, entry, e->field);
	}
	snprintf(p, sizeof(p), "%s%s%s", path, e->field[0] ? "." : "", e->field);
	cerr(c, at, p, "%s", e->msg);
}

static void
load_classify(struct cfg *c, yaml_node_t *root)
{
	static const char *const keys[] = {"network", "default", "rules", NULL};
	static const char *const defs[] = {"permit", "deny", NULL};
	yaml_node_t *seq = get_seq(c, root, "", "classify"), *entry, *rules, *item;
	unsigned int i, j, v;
	struct mg_error e;
	char p[64], rp[96];

	MAP_FOREACH(c, seq, "classify", keys, i, entry, p) {
		struct mg_rules_spec s;
		struct mg_rule_spec *r = NULL;
		bool ok = true;

		memset(&s, 0, sizeof(s));
		if (!rd_str(c, entry, p, "network", s.network, sizeof(s.network)))
			mg_strlcpy(s.network, "default", sizeof(s.network));
		if (rd_enum(c, entry, p, "default", defs, &v))
			s.def = v == 0 ? MG_RULE_PERMIT : MG_RULE_DENY;
		rules = get_seq(c, entry, p, "rules");
		if (rules != NULL) {
			size_t n = (size_t)(rules->data.sequence.items.top -
					    rules->data.sequence.items.start);

			r = calloc(n ? n : 1, sizeof(*r));
			if (r == NULL) {
				cerr(c, rules, p, "out of memory for %zu rules", n);
				continue;
			}
			for (j = 0; j < n; j++) {
				item = node_at(c, rules->data.sequence.items.start[j]);
				snprintf(rp, sizeof(rp), "%s.rules[%u]", p, j);
				if (load_rule(c, item, rp, &r[j]))
					ok &= rule_service_ok(c, item, rp, s.network, &r[j]);
				else
					ok = false;
			}
			s.rules = r;
			s.n = (uint32_t)n;
		}
		if (ok && mg_model_rules_set(c->m, &s, &e) < 0)
			rules_err(c, entry, rules, p, &e);
		free(r);
	}
}

/*
 * services: steered by lib/svc. Checked here (names, network, addresses,
 * weights); set up by mg_gw at start, after the routes and neighbors.
 */
/* The service of @st (loaded so far) that has VIP @a in network @net, UINT_MAX if none. */
static unsigned int
vip_owner(const struct mg_settings *st, const char *net, const struct mg_ip *a)
{
	for (unsigned int k = 0; k < st->nservices; k++)
		for (unsigned int v = 0; strcmp(st->services[k].network, net) == 0 &&
					 v < st->services[k].nvips; v++)
			if (mg_ip_equal(&st->services[k].vips[v], a))
				return k;
	return UINT_MAX;
}

static void
load_service_eps(struct cfg *c, yaml_node_t *svc, const char *path, struct mg_svc_cfg *s)
{
	static const char *const keys[] = {"name", "address", "weight", "up", "port", NULL};
	yaml_node_t *seq = get_seq(c, svc, path, "endpoints"), *item;
	unsigned int i;
	char p[128], sp[112];

	if (seq == NULL) {
		need(c, svc, path, "endpoints", "a service needs endpoints");
		return;
	}
	subpath(sp, sizeof(sp), path, "endpoints");
	SEQ_FOREACH(c, seq, i, item) {
		struct mg_svc_ep_cfg *e;

		idxpath(p, sizeof(p), sp, i);
		if (s->neps >= MG_CFG_MAX_SVC_EPS) {
			cerr(c, item, p, "too many endpoints (at most %u)", MG_CFG_MAX_SVC_EPS);
			return;
		}
		if (!check_map(c, item, p, keys))
			continue;
		e = &s->eps[s->neps];
		memset(e, 0, sizeof(*e));
		e->weight = 1;
		e->up = true;
		if (!rd_valid_name(c, item, p, "an endpoint", e->name, sizeof(e->name)))
			continue;
		for (unsigned int k = 0; k < s->neps; k++)
			if (strcmp(s->eps[k].name, e->name) == 0) {
				cerr(c, get(c, item, "name"), p, "endpoint %s appears twice",
				     e->name);
				e->name[0] = '\0';
			}
		if (e->name[0] == '\0')
			continue;
		if (!rd_ip(c, item, p, "address", &e->addr)) {
			need(c, item, p, "address", "an endpoint needs an address");
			continue;
		}
		if (get(c, item, "weight") != NULL &&
		    !rd_uint(c, item, p, "weight", 0, 1000000, &e->weight))
			continue;
		if (get(c, item, "up") != NULL && !rd_bool(c, item, p, "up", &e->up))
			continue;
		if (get(c, item, "port") != NULL) {
			uint32_t port;

			if (!rd_uint(c, item, p, "port", 1, 65535, &port))
				continue;
			if (s->mode != 1) {
				char pp[160];

				subpath(pp, sizeof(pp), p, "port");
				cerr(c, get(c, item, "port"), pp,
				     "an endpoint port needs the service's mode: nat");
				continue;
			}
			e->port = (uint16_t)port;
		}
		s->neps++;
	}
}

static void
load_services(struct cfg *c, yaml_node_t *root)
{
	static const char *const keys[] = {"name", "network", "vips", "mode", "table_size",
					   "endpoints", NULL};
	static const char *const modes[] = {"route", "nat", NULL};
	yaml_node_t *seq = get_seq(c, root, "", "services"), *item;
	unsigned int i;
	char p[64];

	if (seq == NULL)
		return;
	c->st->nservices = 0;
	c->st->services = new_table(c, seq, "services", c->st->services, MG_CFG_MAX_SERVICES,
				    sizeof(*c->st->services));
	if (c->st->services == NULL)
		return;
	SEQ_FOREACH(c, seq, i, item) {
		struct mg_svc_cfg *s = &c->st->services[c->st->nservices];
		yaml_node_t *vips, *v;
		unsigned int mode = 0, k;
		char vp[96];
		bool ok = true;

		idxpath(p, sizeof(p), "services", i);
		if (c->st->nservices >= MG_CFG_MAX_SERVICES) {
			cerr(c, item, p, "too many services (at most %u)", MG_CFG_MAX_SERVICES);
			return;
		}
		if (!check_map(c, item, p, keys))
			continue;
		memset(s, 0, sizeof(*s));
		item_where(c, item, s->where, sizeof(s->where));
		if (!rd_valid_name(c, item, p, "a service", s->name, sizeof(s->name)))
			continue;
		for (k = 0; k < c->st->nservices; k++)
			if (strcmp(c->st->services[k].name, s->name) == 0) {
				cerr(c, get(c, item, "name"), p, "service %s appears twice", s->name);
				ok = false;
			}
		strcpy(s->network, "default");
		if (get(c, item, "network") != NULL)
			rd_str(c, item, p, "network", s->network, sizeof(s->network));
		if (mg_model_network_find(c->m, s->network) == NULL) {
			cerr(c, get(c, item, "network") ? get(c, item, "network") : item, p,
			     "no network named %s", s->network);
			ok = false;
		}
		if (get(c, item, "mode") != NULL && !rd_enum(c, item, p, "mode", modes, &mode))
			ok = false;
		s->mode = (uint8_t)mode;
		if (get(c, item, "table_size") != NULL &&
		    rd_uint(c, item, p, "table_size", 7, (1u << 24) - 1, &s->table_size)) {
			bool prime = s->table_size >= 2;

			for (uint32_t d = 2; prime && d * d <= s->table_size; d++)
				prime = s->table_size % d != 0;
			if (!prime) {
				subpath(vp, sizeof(vp), p, "table_size");
				cerr(c, get(c, item, "table_size"), vp, "%u is not a prime",
				     s->table_size);
				ok = false;
			}
		}
		vips = get_seq(c, item, p, "vips");
		if (vips == NULL) {
			need(c, item, p, "vips", "a service needs vips (its addresses)");
			ok = false;
		} else {
			char pp[96];

			subpath(pp, sizeof(pp), p, "vips");
			k = 0;
			for (yaml_node_item_t *vi = vips->data.sequence.items.start;
			     vi < vips->data.sequence.items.top; vi++, k++) {
				const char *str;

				v = node_at(c, *vi);

				idxpath(vp, sizeof(vp), pp, k);
				if (s->nvips >= MG_CFG_MAX_SVC_VIPS) {
					cerr(c, v, vp, "too many vips (at most %u)",
					     MG_CFG_MAX_SVC_VIPS);
					ok = false;
					break;
				}
				str = scalar(c, v, vp);
				if (str == NULL || mg_ip_parse(str, &s->vips[s->nvips]) < 0) {
					if (str != NULL)
						cerr(c, v, vp, "'%s' is not an IPv4 or IPv6 address",
						     str);
					ok = false;
					continue;
				}
				unsigned int o = vip_owner(c->st, s->network, &s->vips[s->nvips]);

				if (o != UINT_MAX) {
					cerr(c, v, vp, "VIP %s is already service %s's", str,
					     c->st->services[o].name);
					ok = false;
					continue;
				}
				/* Its local route would outrank the service's. */
				const struct mg_network *sn = mg_model_network_find(c->m, s->network);
				const struct mg_iface *own =
					sn != NULL ? mg_model_addr_owner(c->m, sn->id, &s->vips[s->nvips])
						   : NULL;

				if (own != NULL) {
					cerr(c, v, vp, "VIP %s is an address of interface %s", str,
					     own->name);
					ok = false;
					continue;
				}
				s->nvips++;
			}
		}
		load_service_eps(c, item, p, s);
		if (ok)
			c->st->nservices++;
	}
}

/* ---- gateways ----------------------------------------------------------------------- */

/* A list of prefixes (an address alone is a host prefix) at @key of @map. */
static void
rd_prefix_list(struct cfg *c, yaml_node_t *map, const char *path, const char *key,
	       struct mg_prefix *out, unsigned int max, unsigned int *n)
{
	yaml_node_t *seq = get_seq(c, map, path, key), *v;
	char pp[128], vp[160];
	unsigned int i;

	*n = 0;
	if (seq == NULL)
		return;
	subpath(pp, sizeof(pp), path, key);
	SEQ_FOREACH(c, seq, i, v) {
		const char *str;
		struct mg_ip ip;

		idxpath(vp, sizeof(vp), pp, i);
		if (*n >= max) {
			cerr(c, v, vp, "too many prefixes (at most %u)", max);
			return;
		}
		str = scalar(c, v, vp);
		if (str == NULL)
			continue;
		if (mg_prefix_parse(str, &out[*n]) == 0 && !mg_prefix_host_bits_set(&out[*n])) {
			(*n)++;
		} else if (mg_ip_parse(str, &ip) == 0) {
			out[*n].addr = ip;
			out[(*n)++].len = (uint8_t)mg_ip_maxlen(&ip);
		} else {
			cerr(c, v, vp, "'%s' is not a prefix (host bits clear) or an address", str);
		}
	}
}

/* One publish entry of gateway @g; false after an error. */
static bool
load_gw_pub(struct cfg *c, yaml_node_t *item, const char *p, struct mg_gw_cfg *g,
	    struct mg_gw_pub_cfg *pub)
{
	static const char *const keys[] = {"address", "protocol", "port", "service", NULL};
	static const char *const protos[] = {"tcp", "udp", "sctp", NULL};
	static const uint8_t proto_num[] = {6, 17, 132}; /* TCP, UDP, SCTP */
	unsigned int proto = 0;
	uint32_t port;
	bool found = false;

	if (!check_map(c, item, p, keys))
		return false;
	memset(pub, 0, sizeof(*pub));
	if (get(c, item, "address") != NULL && !rd_ip(c, item, p, "address", &pub->addr))
		return false;
	if (get(c, item, "protocol") != NULL && !rd_enum(c, item, p, "protocol", protos, &proto))
		return false;
	pub->proto = proto_num[proto];
	if (!rd_uint(c, item, p, "port", 1, 65535, &port)) {
		need(c, item, p, "port", "a published service needs a port");
		return false;
	}
	pub->port = (uint16_t)port;
	if (!rd_str(c, item, p, "service", pub->service, sizeof(pub->service))) {
		need(c, item, p, "service", "a published service needs a service (mode nat)");
		return false;
	}
	for (unsigned int k = 0; k < c->st->nservices; k++) {
		const struct mg_svc_cfg *sc = &c->st->services[k];

		if (strcmp(sc->name, pub->service) != 0)
			continue;
		found = true;
		if (sc->mode != 1 || strcmp(sc->network, g->inside) != 0) {
			char sp[160];

			subpath(sp, sizeof(sp), p, "service");
			cerr(c, get(c, item, "service"), sp,
			     "service %s must have mode: nat and network: %s (the inside)",
			     pub->service, g->inside);
			return false;
		}
	}
	if (!found) {
		char sp[160];

		subpath(sp, sizeof(sp), p, "service");
		cerr(c, get(c, item, "service"), sp, "no service named %s", pub->service);
		return false;
	}
	return true;
}

/* The publish list of gateway @g. */
static void
load_gw_pubs(struct cfg *c, yaml_node_t *item, const char *p, struct mg_gw_cfg *g)
{
	yaml_node_t *n = get_seq(c, item, p, "publish"), *pi;
	unsigned int k;
	char pp[96], ip[128];

	if (n == NULL)
		return;
	subpath(pp, sizeof(pp), p, "publish");
	SEQ_FOREACH(c, n, k, pi) {
		idxpath(ip, sizeof(ip), pp, k);
		if (g->npub >= MG_CFG_MAX_GW_PUBLISH) {
			cerr(c, pi, ip, "too many published services (at most %u)",
			     MG_CFG_MAX_GW_PUBLISH);
			break;
		}
		if (load_gw_pub(c, pi, ip, g, &g->pub[g->npub]))
			g->npub++;
	}
}

/* One gateway at @item (path @p) into @g; errors are appended to c->errs. */
static void
load_gateway(struct cfg *c, yaml_node_t *item, const char *p, struct mg_gw_cfg *g)
{
	static const char *const keys[] = {"name", "inside", "outside", "routes", "sources",
					   "snat4", "snat6", "ipv6", "npt6", "ports", "port_preserve",
					   "publish", NULL};
	static const char *const v6modes[] = {"nat66", "npt6", "route", NULL};
	unsigned int mode = 0;
	char sp[128];
	yaml_node_t *n;

	if (!check_map(c, item, p, keys))
		return;
	memset(g, 0, sizeof(*g));
	item_where(c, item, g->where, sizeof(g->where));
	if (!rd_valid_name(c, item, p, "a gateway", g->name, sizeof(g->name)))
		return;
	for (unsigned int w = 0; w < 2; w++) {
		const char *key = w ? "outside" : "inside";
		char *net = w ? g->outside : g->inside;

		if (!rd_str(c, item, p, key, net, MG_NAME_MAX)) {
			if (get(c, item, key) == NULL)
				cerr(c, item, p, "a gateway needs %s: a network", key);
		} else if (mg_model_network_find(c->m, net) == NULL) {
			subpath(sp, sizeof(sp), p, key);
			cerr(c, get(c, item, key), sp, "no network named %s", net);
		}
	}
	if (g->inside[0] && strcmp(g->inside, g->outside) == 0)
		cerr(c, get(c, item, "outside"), p,
		     "inside and outside must be two networks");
	rd_prefix_list(c, item, p, "routes", g->routes, MG_CFG_MAX_GW_PREFIXES, &g->nroutes);
	rd_prefix_list(c, item, p, "sources", g->sources, MG_CFG_MAX_GW_PREFIXES,
		       &g->nsources);
	if (get(c, item, "snat4") != NULL && rd_ip(c, item, p, "snat4", &g->snat4) &&
	    g->snat4.family != AF_INET) {
		subpath(sp, sizeof(sp), p, "snat4");
		cerr(c, get(c, item, "snat4"), sp, "must be an IPv4 address");
	}
	if (get(c, item, "snat6") != NULL && rd_ip(c, item, p, "snat6", &g->snat6) &&
	    g->snat6.family != AF_INET6) {
		subpath(sp, sizeof(sp), p, "snat6");
		cerr(c, get(c, item, "snat6"), sp, "must be an IPv6 address");
	}
	if (get(c, item, "ipv6") != NULL && rd_enum(c, item, p, "ipv6", v6modes, &mode))
		g->ipv6 = (uint8_t)mode;
	n = get(c, item, "npt6");
	subpath(sp, sizeof(sp), p, "npt6");
	if (n != NULL) {
		static const char *const nkeys[] = {"inside", "outside", NULL};

		if (g->ipv6 != 1)
			cerr(c, n, sp, "npt6 needs ipv6: npt6");
		else if (check_map(c, n, sp, nkeys) &&
			 rd_rule_prefix(c, n, sp, "inside", &g->npt_inside) &&
			 rd_rule_prefix(c, n, sp, "outside", &g->npt_outside) &&
			 (g->npt_inside.addr.family != AF_INET6 ||
			  g->npt_outside.addr.family != AF_INET6 ||
			  g->npt_inside.len != g->npt_outside.len ||
			  g->npt_inside.len < 1 || g->npt_inside.len > 64))
			cerr(c, n, sp, "inside and outside must be IPv6 prefixes of one "
			     "length, /1 to /64");
	} else if (g->ipv6 == 1) {
		cerr(c, item, p, "ipv6: npt6 needs npt6: {inside: PREFIX, outside: PREFIX}");
	}
	if (g->ipv6 == 2) {
		bool v6src = false;

		for (unsigned int k = 0; k < g->nsources; k++)
			v6src |= g->sources[k].addr.family == AF_INET6;
		if (!v6src)
			cerr(c, get(c, item, "ipv6"), p,
			     "ipv6: route needs IPv6 sources (the inside prefixes the "
			     "outside may reach)");
	}
	g->port_first = 1024;
	g->port_last = 65535;
	if (get(c, item, "ports") != NULL) {
		struct mg_rule_range r;

		if (rd_range(c, item, p, "ports", 65535, &r)) {
			if (r.lo == 0 || r.hi - r.lo + 1 < 64) {
				subpath(sp, sizeof(sp), p, "ports");
				cerr(c, get(c, item, "ports"), sp,
				     "a range of at least 64 ports from 1 up");
			}
			g->port_first = r.lo;
			g->port_last = r.hi;
		}
	}
	if (get(c, item, "port_preserve") != NULL)
		rd_bool(c, item, p, "port_preserve", &g->port_preserve);
	load_gw_pubs(c, item, p, g);
}

/* A route of gateway @g that an earlier gateway or a service VIP of its inside network holds. */
static void
gateway_routes_owned(struct cfg *c, yaml_node_t *item, const char *p, const struct mg_gw_cfg *g)
{
	yaml_node_t *seq = get(c, item, "routes");
	char rp[96], b[MG_PREFIX_STRLEN];

	for (unsigned int r = 0; seq != NULL && seq->type == YAML_SEQUENCE_NODE && r < g->nroutes;
	     r++) {
		const struct mg_prefix *x = &g->routes[r];
		yaml_node_t *at = node_at(c, seq->data.sequence.items.start[r]);
		unsigned int k, full = x->addr.family == AF_INET ? 32 : 128;

		snprintf(rp, sizeof(rp), "%s.routes[%u]", p, r);
		mg_prefix_fmt(x, b, sizeof(b));
		for (k = 0; k < c->st->ngateways; k++) {
			const struct mg_gw_cfg *o = &c->st->gateways[k];

			for (unsigned int j = 0; strcmp(o->inside, g->inside) == 0 && j < o->nroutes;
			     j++)
				if (mg_prefix_equal(&o->routes[j], x))
					cerr(c, at, rp, "route %s is already gateway %s's", b, o->name);
		}
		if (x->len == full && (k = vip_owner(c->st, g->inside, &x->addr)) != UINT_MAX)
			cerr(c, at, rp, "route %s is already service %s's VIP", b,
			     c->st->services[k].name);
	}
}

static void
load_gateways(struct cfg *c, yaml_node_t *root)
{
	yaml_node_t *seq = get_seq(c, root, "", "gateways"), *item;
	unsigned int i;
	char p[64];

	if (seq == NULL)
		return;
	c->st->ngateways = 0;
	c->st->gateways = new_table(c, seq, "gateways", c->st->gateways, MG_CFG_MAX_GATEWAYS,
				    sizeof(*c->st->gateways));
	if (c->st->gateways == NULL)
		return;
	SEQ_FOREACH(c, seq, i, item) {
		struct mg_gw_cfg *g = &c->st->gateways[c->st->ngateways];
		unsigned int nerr = c->errs->n;

		idxpath(p, sizeof(p), "gateways", i);
		if (c->st->ngateways >= MG_CFG_MAX_GATEWAYS) {
			cerr(c, item, p, "too many gateways (at most %u)", MG_CFG_MAX_GATEWAYS);
			return;
		}
		load_gateway(c, item, p, g);
		if (c->errs->n != nerr)
			continue;
		for (unsigned int k = 0; k < c->st->ngateways; k++)
			if (strcmp(c->st->gateways[k].name, g->name) == 0)
				cerr(c, get(c, item, "name"), p, "gateway %s appears twice", g->name);
		gateway_routes_owned(c, item, p, g);
		if (c->errs->n == nerr)
			c->st->ngateways++;
	}
}

/* ---- wireguard ---------------------------------------------------------------------- */

/*
 * A WireGuard key in standard base64 (44 characters ending in '='), decoded
 * here so the config library needs no crypto. Never quotes the key back.
 */
static bool
key_b64(const char *s, uint8_t key[MG_WG_KEY_BYTES])
{
	static const char al[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t acc = 0;
	unsigned int bits = 0, o = 0;

	if (strlen(s) != 44 || s[43] != '=')
		return false;
	for (unsigned int i = 0; i < 43; i++) {
		const char *q = s[i] ? strchr(al, s[i]) : NULL;

		if (q == NULL)
			goto bad;
		acc = acc << 6 | (uint32_t)(q - al);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o < MG_WG_KEY_BYTES)
				key[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* 258 bits for 256: the last two must be zero. */
	if (o != MG_WG_KEY_BYTES || (acc & ((1u << bits) - 1)) != 0)
		goto bad;
	return true;
bad:
	mg_wipe(key, MG_WG_KEY_BYTES);
	return false;
}

/*
 * Read key @key (inline base64) or @key_file (a file holding it, as `wg`
 * takes them) of @map into @out. False if neither is present or on error
 * (reported). Key text is wiped from our buffers.
 */
static bool
rd_key(struct cfg *c, yaml_node_t *map, const char *path, const char *key, const char *key_file,
       uint8_t out[MG_WG_KEY_BYTES], bool *present)
{
	char buf[128], p[160];
	yaml_node_t *n = get(c, map, key), *nf = key_file ? get(c, map, key_file) : NULL;
	bool ok = false;

	*present = n != NULL || nf != NULL;
	if (n != NULL && nf != NULL) {
		subpath(p, sizeof(p), path, key_file);
		cerr(c, nf, p, "give %s or %s, not both", key, key_file);
		return false;
	}
	if (n != NULL) {
		subpath(p, sizeof(p), path, key);
		if (rd_str(c, map, path, key, buf, sizeof(buf)) && key_b64(buf, out))
			ok = true;
		else if (n->type == YAML_SCALAR_NODE)
			cerr(c, n, p, "not a key: expected 44 characters of base64 ending in '=' "
			     "(as `wg genkey` prints)");
		mg_wipe(buf, sizeof(buf));
		/* The document's copy of the key goes too (nothing reads it again). */
		if (n->type == YAML_SCALAR_NODE)
			mg_wipe(n->data.scalar.value, n->data.scalar.length);
		return ok;
	}
	if (nf != NULL) {
		char fname[PATH_MAX];
		struct mg_error e;

		subpath(p, sizeof(p), path, key_file);
		if (!rd_str(c, map, path, key_file, fname, sizeof(fname)))
			return false;
		mg_error_clear(&e);
		if (mg_file_line_read(fname, buf, sizeof(buf), &e) < 0) {
			cerr(c, nf, p, "%s", e.msg);
			return false;
		}
		ok = key_b64(buf, out);
		mg_wipe(buf, sizeof(buf));
		if (!ok)
			cerr(c, nf, p, "'%s' does not hold a key (44 characters of base64)", fname);
		return ok;
	}
	return false;
}

/* "192.0.2.1:51820" or "[2001:db8::1]:51820". */
static bool
parse_endpoint(const char *v, struct mg_ip *ip, uint16_t *port)
{
	char host[64];
	const char *colon;
	unsigned long long pv;

	if (v[0] == '[') {
		const char *end = strchr(v, ']');

		if (end == NULL || end[1] != ':' || (size_t)(end - v - 1) >= sizeof(host))
			return false;
		memcpy(host, v + 1, (size_t)(end - v - 1));
		host[end - v - 1] = '\0';
		colon = end + 1;
	} else {
		colon = strrchr(v, ':');
		if (colon == NULL || (size_t)(colon - v) >= sizeof(host))
			return false;
		memcpy(host, v, (size_t)(colon - v));
		host[colon - v] = '\0';
		if (strchr(host, ':') != NULL)
			return false;
	}
	if (mg_ip_parse(host, ip) < 0 || !parse_uint(colon + 1, &pv) || pv == 0 || pv > 65535)
		return false;
	*port = (uint16_t)pv;
	return true;
}

static bool
load_wg_peer(struct cfg *c, yaml_node_t *item, const char *p, struct mg_wg_peer_spec *ps)
{
	static const char *const keys[] = {"public_key", "preshared_key", "preshared_key_file",
					   "endpoint", "allowed_ips", "persistent_keepalive",
					   NULL};
	yaml_node_t *seq, *a;
	char buf[96], pp[176], ap[192];
	bool ok = true, present;
	unsigned int i;

	if (!check_map(c, item, p, keys))
		return false;
	if (!rd_key(c, item, p, "public_key", NULL, ps->public_key, &present)) {
		if (!present)
			cerr(c, item, p, "a peer needs a public_key");
		ok = false;
	}
	ps->has_psk = rd_key(c, item, p, "preshared_key", "preshared_key_file", ps->preshared_key,
			     &present);
	ok = ok && (ps->has_psk || !present);
	if (get(c, item, "endpoint") != NULL) {
		subpath(pp, sizeof(pp), p, "endpoint");
		if (!rd_str(c, item, p, "endpoint", buf, sizeof(buf)) ||
		    !parse_endpoint(buf, &ps->endpoint, &ps->endpoint_port)) {
			cerr(c, get(c, item, "endpoint"), pp,
			     "not an endpoint (like 192.0.2.1:51820 or [2001:db8::1]:51820)");
			ok = false;
		}
	}
	ok = opt_u16(c, item, p, "persistent_keepalive", 0, 65535, &ps->persistent_keepalive) &&
	     ok;
	seq = get_seq(c, item, p, "allowed_ips");
	if (seq != NULL) {
		subpath(pp, sizeof(pp), p, "allowed_ips");
		SEQ_FOREACH(c, seq, i, a) {
			const char *v;

			idxpath(ap, sizeof(ap), pp, i);
			v = scalar(c, a, ap);
			if (v == NULL) {
				ok = false;
				continue;
			}
			if (ps->nallowed >= MG_WG_MAX_ALLOWED) {
				cerr(c, a, ap, "too many allowed IPs (at most %u)", MG_WG_MAX_ALLOWED);
				ok = false;
				break;
			}
			if (mg_prefix_parse(v, &ps->allowed[ps->nallowed]) < 0 ||
			    strchr(v, '/') == NULL) {
				cerr(c, a, ap, "'%s' is not a prefix (like 10.0.0.2/32 or fd00::/64)",
				     v);
				ok = false;
				continue;
			}
			ps->nallowed++;
		}
	}
	return ok;
}

/*
 * The name, network and underlay of a tunnel at @item into @spec's fields
 * (each MG_NAME_MAX); false, with @missing as the error, when it has no name.
 */
static bool
rd_tunnel_names(struct cfg *c, yaml_node_t *item, const char *p, const char *missing,
		char name[MG_NAME_MAX], char network[MG_NAME_MAX], char underlay[MG_NAME_MAX])
{
	if (!rd_str(c, item, p, "name", name, MG_NAME_MAX)) {
		need(c, item, p, "name", missing);
		return false;
	}
	rd_str(c, item, p, "network", network, MG_NAME_MAX);
	rd_str(c, item, p, "underlay", underlay, MG_NAME_MAX);
	return true;
}

static void
load_wireguard(struct cfg *c, yaml_node_t *root)
{
	static const char *const keys[] = {"name", "network", "underlay", "mtu", "listen_port",
					   "private_key", "private_key_file", "ipv4", "ipv6",
					   "peers", NULL};
	yaml_node_t *seq = get_seq(c, root, "", "wireguard"), *item, *pseq, *pi;
	struct mg_error e;
	unsigned int i, k;
	char p[64], pp[96];

	MAP_FOREACH(c, seq, "wireguard", keys, i, item, p) {
		struct mg_wg_spec s;
		bool ok = true, present;

		memset(&s, 0, sizeof(s));
		if (!rd_tunnel_names(c, item, p, "a WireGuard interface needs a name", s.name,
				     s.network, s.underlay))
			continue;
		ok = opt_u16(c, item, p, "mtu", MG_MTU_MIN, MG_MTU_MAX, &s.mtu) && ok;
		if (!rd_u16(c, item, p, "listen_port", 1, 65535, &s.listen_port)) {
			need(c, item, p, "listen_port",
			     "a WireGuard interface needs a listen_port");
			ok = false;
		}
		if (!rd_key(c, item, p, "private_key", "private_key_file", s.private_key,
			    &present)) {
			if (!present)
				cerr(c, item, p, "a WireGuard interface needs a private_key or "
				     "private_key_file");
			ok = false;
		}
		pseq = get_seq(c, item, p, "peers");
		if (pseq != NULL) {
			unsigned int n = (unsigned int)(pseq->data.sequence.items.top -
							pseq->data.sequence.items.start);

			if (n > MG_WG_MAX_PEERS) {
				subpath(pp, sizeof(pp), p, "peers");
				cerr(c, pseq, pp, "too many peers (at most %u)", MG_WG_MAX_PEERS);
				ok = false;
			} else if (n > 0) {
				s.peers = calloc(n, sizeof(*s.peers));
				if (s.peers == NULL) {
					cerr(c, pseq, p, "out of memory");
					continue;
				}
				for (k = 0; k < n; k++) {
					pi = node_at(c, pseq->data.sequence.items.start[k]);
					snprintf(pp, sizeof(pp), "%s.peers[%u]", p, k);
					ok = load_wg_peer(c, pi, pp, &s.peers[s.npeers++]) && ok;
				}
			}
		}
		if (ok && mg_model_wg_add(c->m, &s, &e) < 0)
			model_err(c, item, p, &e);
		else if (ok) {
			load_addrs(c, item, p, s.name);
		}
		mg_wg_spec_free(&s);
	}
}

/* ---- IPsec ESP tunnels ------------------------------------------------------------- */

static bool
rd_u64(struct cfg *c, yaml_node_t *map, const char *path, const char *key, uint64_t *out)
{
	unsigned long long v;

	if (!rd_ull(c, map, path, key, 0, ULLONG_MAX, &v))
		return false;
	*out = v;
	return true;
}

/*
 * Reads hex bytes (optionally "0x"-prefixed, ':' allowed between bytes) at
 * @key. The message never repeats the value: it is a key.
 */
static bool
rd_hex(struct cfg *c, yaml_node_t *map, const char *path, const char *key, uint8_t *out,
       size_t max, uint8_t *len)
{
	yaml_node_t *n;
	char p[160];
	const char *s = rd_scalar(c, map, path, key, &n, p, sizeof(p));
	size_t k = 0;

	if (s == NULL)
		return false;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	while (*s) {
		unsigned int hi, lo;

		if (*s == ':') {
			s++;
			continue;
		}
		if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1])) {
			cerr(c, n, p, "expected hexadecimal bytes (like 0x0011...)");
			return false;
		}
		if (k == max) {
			cerr(c, n, p, "longer than %zu bytes", max);
			return false;
		}
		hi = (unsigned int)(isdigit((unsigned char)s[0]) ? s[0] - '0' : (tolower(s[0]) - 'a' + 10));
		lo = (unsigned int)(isdigit((unsigned char)s[1]) ? s[1] - '0' : (tolower(s[1]) - 'a' + 10));
		out[k++] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	*len = (uint8_t)k;
	return true;
}

static bool
load_esp_sa(struct cfg *c, yaml_node_t *item, const char *p, struct mg_esp_sa_conf *sa)
{
	static const char *const keys[] = {"direction", "inner", "spi", "algorithm", "key",
					   "auth_key", "salt", "lifetime", NULL};
	static const char *const lkeys[] = {"soft_packets", "hard_packets", "soft_bytes",
					    "hard_bytes", "soft_seconds", "hard_seconds", NULL};
	static const char *const dirs[] = {"out", "in", NULL};
	static const char *const fams[] = {"ipv4", "ipv6", NULL};
	char buf[64], lp[176];
	unsigned int v;
	yaml_node_t *life;
	bool ok = true;
	uint32_t spi;

	memset(sa, 0, sizeof(*sa));
	if (!check_map(c, item, p, keys))
		return false;
	if (rd_enum(c, item, p, "direction", dirs, &v))
		sa->inbound = v == 1;
	else {
		need(c, item, p, "direction", "an SA needs a direction (out or in)");
		ok = false;
	}
	if (rd_enum(c, item, p, "inner", fams, &v))
		sa->inner_family = v == 0 ? AF_INET : AF_INET6;
	else {
		need(c, item, p, "inner", "an SA needs the inner family it carries (ipv4 or ipv6)");
		ok = false;
	}
	if (rd_uint(c, item, p, "spi", 256, UINT32_MAX, &spi))
		sa->spi = spi;
	else {
		need(c, item, p, "spi", "an SA needs an spi");
		ok = false;
	}
	if (rd_str(c, item, p, "algorithm", buf, sizeof(buf))) {
		sa->algo = mg_esp_algo_lookup(buf);
		if (sa->algo < 0) {
			subpath(lp, sizeof(lp), p, "algorithm");
			cerr(c, get(c, item, "algorithm"), lp, "'%s' is not one of: %s", buf,
			     MG_ESP_ALGO_LIST);
			ok = false;
		}
	} else {
		need(c, item, p, "algorithm", "an SA needs an algorithm (" MG_ESP_ALGO_LIST ")");
		ok = false;
	}
	if (get(c, item, "key") != NULL)
		ok = rd_hex(c, item, p, "key", sa->key, sizeof(sa->key), &sa->key_len) && ok;
	if (get(c, item, "auth_key") != NULL)
		ok = rd_hex(c, item, p, "auth_key", sa->auth_key, sizeof(sa->auth_key),
			    &sa->auth_key_len) && ok;
	if (get(c, item, "salt") != NULL)
		ok = rd_hex(c, item, p, "salt", sa->salt, sizeof(sa->salt), &sa->salt_len) && ok;
	if ((life = get(c, item, "lifetime")) != NULL) {
		subpath(lp, sizeof(lp), p, "lifetime");
		if (check_map(c, life, lp, lkeys)) {
			rd_u64(c, life, lp, "soft_packets", &sa->packets_soft);
			rd_u64(c, life, lp, "hard_packets", &sa->packets_hard);
			rd_u64(c, life, lp, "soft_bytes", &sa->bytes_soft);
			rd_u64(c, life, lp, "hard_bytes", &sa->bytes_hard);
			rd_u64(c, life, lp, "soft_seconds", &sa->seconds_soft);
			rd_u64(c, life, lp, "hard_seconds", &sa->seconds_hard);
		}
	}
	if (ok) {
		struct mg_error e;

		if (mg_model_esp_sa_check(sa, &e) < 0) {
			model_err(c, item, p, &e);
			ok = false;
		}
	}
	return ok;
}

/* A list of proposals at @key of @map (or the defaults when absent). */
static bool
rd_proposals(struct cfg *c, yaml_node_t *map, const char *path, const char *key, bool ike,
	     struct mg_ike_proposal *out, uint8_t *n)
{
	static const char *const def_ike[] = {"aes128gcm16-prfsha256-ecp256",
					      "aes256gcm16-prfsha384-ecp384",
					      "aes256-sha256-modp2048"};
	static const char *const def_esp[] = {"aes128gcm16", "aes256gcm16", "aes256-sha256"};
	yaml_node_t *seq = get_seq(c, map, path, key), *item;
	char p[160], ip[176], why[192];
	unsigned int i;
	bool ok = true;

	*n = 0;
	if (get(c, map, key) == NULL) {
		for (i = 0; i < (ike ? MG_ARRAY_SIZE(def_ike) : MG_ARRAY_SIZE(def_esp)); i++)
			mg_ike_proposal_parse(ike ? def_ike[i] : def_esp[i], ike, &out[(*n)++], why,
					      sizeof(why));
		return true;
	}
	if (seq == NULL)
		return false;
	subpath(p, sizeof(p), path, key);
	SEQ_FOREACH(c, seq, i, item) {
		const char *v;

		idxpath(ip, sizeof(ip), p, i);
		if (*n == MG_IKE_MAX_PROPOSALS) {
			cerr(c, item, ip, "at most %u proposals", MG_IKE_MAX_PROPOSALS);
			return false;
		}
		v = scalar(c, item, ip);
		if (v == NULL) {
			ok = false;
			continue;
		}
		if (mg_ike_proposal_parse(v, ike, &out[*n], why, sizeof(why)) < 0) {
			cerr(c, item, ip, "'%s': %s", v, why);
			ok = false;
			continue;
		}
		(*n)++;
	}
	if (ok && *n == 0) {
		cerr(c, seq, p, "at least one proposal is needed");
		ok = false;
	}
	return ok;
}

/* A list of traffic selectors (prefixes) at @key. */
static bool
rd_ts(struct cfg *c, yaml_node_t *map, const char *path, const char *key, struct mg_prefix *out,
      uint8_t *n)
{
	yaml_node_t *seq = get_seq(c, map, path, key), *item;
	char p[160], ip[176];
	unsigned int i;
	bool ok = true;

	*n = 0;
	if (seq == NULL) {
		if (get(c, map, key) == NULL) {
			cerr(c, map, path, "'%s' is needed: the prefixes on %s side of the tunnel",
			     key, strcmp(key, "local_ts") == 0 ? "our" : "the peer's");
		}
		return false;
	}
	subpath(p, sizeof(p), path, key);
	SEQ_FOREACH(c, seq, i, item) {
		const char *v;

		idxpath(ip, sizeof(ip), p, i);
		if (*n == MG_IKE_MAX_TS) {
			cerr(c, item, ip, "at most %u traffic selectors", MG_IKE_MAX_TS);
			return false;
		}
		v = scalar(c, item, ip);
		if (v == NULL || mg_prefix_parse(v, &out[*n]) < 0) {
			if (v != NULL)
				cerr(c, item, ip, "'%s' is not a prefix (like 10.1.0.0/16)", v);
			ok = false;
			continue;
		}
		(*n)++;
	}
	return ok;
}

/* The `ike:` block of ESP tunnel @s (at @item): an IKEv2 peer for the settings. */
static void
load_ike(struct cfg *c, yaml_node_t *tun, const char *tpath, const struct mg_esp_tunnel_spec *s)
{
	static const char *const keys[] = {"role", "local_id", "remote_id", "psk", "psk_file",
					   "cert", "key", "ca", "peer_cert",
					   "proposals", "esp_proposals", "local_ts", "remote_ts",
					   "lifetime", "child_lifetime", "dpd", "retransmit_ms",
					   "retransmit_tries", "reauth", NULL};
	static const char *const roles[] = {"initiator", "responder", NULL};
	yaml_node_t *n = get(c, tun, "ike"), *psk, *pskf, *key;
	struct mg_ike_peer_conf pc;
	struct mg_error e;
	char p[96], kp[176], buf[MG_IKE_PSK_MAX + 2];
	unsigned int v;
	bool ok = true;

	if (n == NULL)
		return;
	snprintf(p, sizeof(p), "%s.ike", tpath);
	if (!check_map(c, n, p, keys))
		return;
	memset(&pc, 0, sizeof(pc));
	mg_strlcpy(pc.name, s->name, sizeof(pc.name));
	pc.local = s->local;
	pc.remote = s->remote;
	pc.udp_encap = s->udp_encap;
	if (rd_enum(c, n, p, "role", roles, &v))
		pc.initiator = v == 0;
	else if (get(c, n, "role") == NULL) {
		cerr(c, n, p, "'role' is needed: initiator or responder");
		ok = false;
	} else {
		ok = false;
	}
	if (rd_str(c, n, p, "local_id", buf, sizeof(buf)) && mg_ike_id_parse(buf, &pc.local_id) < 0) {
		subpath(kp, sizeof(kp), p, "local_id");
		cerr(c, get(c, n, "local_id"), kp, "not an identity");
		ok = false;
	}
	if (rd_str(c, n, p, "remote_id", buf, sizeof(buf)) &&
	    mg_ike_id_parse(buf, &pc.remote_id) < 0) {
		subpath(kp, sizeof(kp), p, "remote_id");
		cerr(c, get(c, n, "remote_id"), kp, "not an identity");
		ok = false;
	}
	psk = get(c, n, "psk");
	pskf = get(c, n, "psk_file");
	key = get(c, n, "key");
	if (key != NULL) {
		/* Public-key authentication: our key and certificate, the peer's CA or certificate. */
		const char *k;

		pc.auth = MG_IKE_AUTH_PUBKEY;
		subpath(kp, sizeof(kp), p, "key");
		k = scalar(c, key, kp);
		if (k == NULL) {
			ok = false;
		} else if (strlen(k) >= sizeof(pc.key)) {
			/* Not rd_str: a key given as PEM text is a secret, never quoted. */
			cerr(c, key, kp, "longer than %zu bytes", sizeof(pc.key) - 1);
			ok = false;
		} else {
			memcpy(pc.key, k, strlen(k) + 1);
		}
		if (key->type == YAML_SCALAR_NODE && strncmp(pc.key, "-----BEGIN", 10) == 0)
			mg_wipe(key->data.scalar.value, key->data.scalar.length);
		if (get(c, n, "cert") != NULL && !rd_str(c, n, p, "cert", pc.cert, sizeof(pc.cert)))
			ok = false;
		if (get(c, n, "ca") != NULL && !rd_str(c, n, p, "ca", pc.ca, sizeof(pc.ca)))
			ok = false;
		if (get(c, n, "peer_cert") != NULL &&
		    !rd_str(c, n, p, "peer_cert", pc.peer_cert, sizeof(pc.peer_cert)))
			ok = false;
		if (psk != NULL || pskf != NULL) {
			subpath(kp, sizeof(kp), p, psk != NULL ? "psk" : "psk_file");
			cerr(c, psk != NULL ? psk : pskf, kp, "give a pre-shared key or a key and "
			     "certificates, not both");
			ok = false;
		}
	} else if (get(c, n, "cert") != NULL || get(c, n, "ca") != NULL ||
		   get(c, n, "peer_cert") != NULL) {
		cerr(c, n, p, "'key' is needed with cert, ca or peer_cert: our private key");
		ok = false;
	} else if (psk != NULL && pskf != NULL) {
		subpath(kp, sizeof(kp), p, "psk_file");
		cerr(c, pskf, kp, "give psk or psk_file, not both");
		ok = false;
	} else if (psk != NULL) {
		subpath(kp, sizeof(kp), p, "psk");
		/* Not rd_str: its messages quote the value, and this one is a secret. */
		const char *k = scalar(c, psk, kp);

		if (k == NULL) {
			ok = false;
		} else if (strlen(k) > MG_IKE_PSK_MAX) {
			cerr(c, psk, kp, "longer than %u bytes", MG_IKE_PSK_MAX);
			ok = false;
		} else {
			pc.psk_len = (uint16_t)strlen(k);
			memcpy(pc.psk, k, pc.psk_len);
		}
		mg_wipe(buf, sizeof(buf));
		/* The document's copy of the key goes too (nothing reads it again). */
		if (psk->type == YAML_SCALAR_NODE)
			mg_wipe(psk->data.scalar.value, psk->data.scalar.length);
	} else if (pskf != NULL) {
		char fname[PATH_MAX];

		subpath(kp, sizeof(kp), p, "psk_file");
		if (rd_str(c, n, p, "psk_file", fname, sizeof(fname))) {
			mg_error_clear(&e);
			if (mg_file_line_read(fname, buf, sizeof(buf), &e) < 0) {
				cerr(c, pskf, kp, "%s", e.msg);
				ok = false;
			} else {
				pc.psk_len = (uint16_t)(strlen(buf) < MG_IKE_PSK_MAX ? strlen(buf) : MG_IKE_PSK_MAX);
				memcpy(pc.psk, buf, pc.psk_len);
			}
			mg_wipe(buf, sizeof(buf));
		} else {
			ok = false;
		}
	} else {
		cerr(c, n, p, "a pre-shared key (psk or psk_file) or a key and certificates "
		     "(key, cert, ca or peer_cert) are needed");
		ok = false;
	}
	ok = rd_proposals(c, n, p, "proposals", true, pc.ike, &pc.nike) && ok;
	ok = rd_proposals(c, n, p, "esp_proposals", false, pc.esp, &pc.nesp) && ok;
	ok = rd_ts(c, n, p, "local_ts", pc.local_ts, &pc.nlocal_ts) && ok;
	ok = rd_ts(c, n, p, "remote_ts", pc.remote_ts, &pc.nremote_ts) && ok;
	ok = opt_uint(c, n, p, "lifetime", 10, 86400 * 7, &pc.ike_lifetime_s) && ok;
	ok = opt_uint(c, n, p, "child_lifetime", 10, 86400 * 7, &pc.child_lifetime_s) && ok;
	rd_bool(c, n, p, "reauth", &pc.reauth);
	pc.dpd_s = 30;
	ok = opt_uint(c, n, p, "dpd", 0, 3600, &pc.dpd_s) && ok;
	ok = opt_uint(c, n, p, "retransmit_ms", 100, 60000, &pc.retransmit_ms) && ok;
	if (get(c, n, "retransmit_tries") != NULL) {
		unsigned int t = 0;

		ok = rd_uint(c, n, p, "retransmit_tries", 1, 20, &t) && ok;
		pc.retransmit_tries = (uint8_t)t;
	}
	if (ok && mg_ike_peer_conf_check(&pc, &e) < 0) {
		model_err(c, n, p, &e);
		ok = false;
	}
	if (ok && c->st->ike_peers == NULL) {
		c->st->ike_peers = calloc(MG_MODEL_MAX_ESP, sizeof(*c->st->ike_peers));
		if (c->st->ike_peers == NULL) {
			cerr(c, n, p, "out of memory");
			ok = false;
		}
	}
	if (ok && c->st->nike_peers < MG_MODEL_MAX_ESP)
		c->st->ike_peers[c->st->nike_peers++] = pc;
	mg_wipe(&pc, sizeof(pc));
}

static void
load_esp_tunnels(struct cfg *c, yaml_node_t *root)
{
	static const char *const keys[] = {"name", "network", "underlay", "local", "remote",
					   "mtu", "path_mtu", "udp_encap", "local_port",
					   "remote_port", "replay_window", "anti_replay", "esn", "ipv4",
					   "ipv6", "sas", "ike", "mss_clamp", NULL};
	yaml_node_t *seq = get_seq(c, root, "", "esp_tunnels"), *item, *sas, *sa;
	struct mg_esp_tunnel_spec s;
	struct mg_error e;
	unsigned int i, j;
	char p[64], sp[96];

	MAP_FOREACH(c, seq, "esp_tunnels", keys, i, item, p) {
		bool ok = true;

		memset(&s, 0, sizeof(s));
		if (!rd_tunnel_names(c, item, p, "a tunnel needs a name", s.name, s.network, s.underlay))
			continue;
		if (!rd_ip(c, item, p, "local", &s.local)) {
			need(c, item, p, "local", "a tunnel needs its local outer address");
			ok = false;
		}
		if (!rd_ip(c, item, p, "remote", &s.remote)) {
			need(c, item, p, "remote",
			     "a tunnel needs the peer's outer address (remote)");
			ok = false;
		}
		ok = opt_u16(c, item, p, "mtu", MG_MTU_MIN, MG_MTU_MAX, &s.mtu) && ok;
		ok = opt_u16(c, item, p, "path_mtu", 576, MG_MTU_MAX, &s.path_mtu) && ok;
		rd_bool(c, item, p, "udp_encap", &s.udp_encap);
		ok = opt_u16(c, item, p, "local_port", 1, 65535, &s.local_port) && ok;
		ok = opt_u16(c, item, p, "remote_port", 1, 65535, &s.remote_port) && ok;
		ok = opt_uint(c, item, p, "replay_window", 64, 4096, &s.replay_window) && ok;
		rd_bool(c, item, p, "esn", &s.esn);
		if (get(c, item, "mss_clamp") != NULL) {
			char mss[16];

			if (rd_str(c, item, p, "mss_clamp", mss, sizeof(mss)) && !strcmp(mss, "auto"))
				s.mss_clamp = MG_ESP_MSS_AUTO;
			else
				ok = rd_u16(c, item, p, "mss_clamp", MG_ESP_MSS_MIN, MG_ESP_MSS_MAX,
					    &s.mss_clamp) && ok;
		}
		{
			bool ar = true;

			rd_bool(c, item, p, "anti_replay", &ar);
			s.no_replay = !ar;
		}
		sas = get_seq(c, item, p, "sas");
		j = 0;
		for (yaml_node_item_t *si = sas ? sas->data.sequence.items.start : NULL;
		     sas != NULL && si < sas->data.sequence.items.top; si++, j++) {
				sa = node_at(c, *si);
				snprintf(sp, sizeof(sp), "%s.sas[%u]", p, j);
				if (s.nsas == MG_ESP_TUN_MAX_SAS) {
					cerr(c, sa, sp, "at most %u SAs (one per direction and inner "
					     "family)", MG_ESP_TUN_MAX_SAS);
					ok = false;
					break;
				}
				if (load_esp_sa(c, sa, sp, &s.sas[s.nsas]))
					s.nsas++;
				else
					ok = false;
			}
		if (ok && mg_model_esp_add(c->m, &s, &e) < 0) {
			/* "sas[1].spi" names the SA's own node when it can. */
			unsigned int k;

			if (sas != NULL && sscanf(e.field, "sas[%u]", &k) == 1 &&
			    k < sas->data.sequence.items.top - sas->data.sequence.items.start) {
				const char *rest = strchr(e.field, ']') + 1;
				struct mg_error e2 = e;

				snprintf(sp, sizeof(sp), "%s.sas[%u]", p, k);
				snprintf(e2.field, sizeof(e2.field), "%s", *rest == '.' ? rest + 1 : rest);
				model_err(c, node_at(c, sas->data.sequence.items.start[k]), sp, &e2);
			} else {
				model_err(c, item, p, &e);
			}
			ok = false;
		}
		if (ok) {
			load_addrs(c, item, p, s.name);
			load_ike(c, item, p, &s);
		}
		mg_wipe(&s, sizeof(s));
	}
}

static void
load_vxlan(struct cfg *c, yaml_node_t *root)
{
	static const char *const keys[] = {"name", "network", "underlay", "vni", "local", "remote",
					   "port", "mtu", "mac", "ipv4", "ipv6", NULL};
	yaml_node_t *seq = get_seq(c, root, "", "vxlan"), *item;
	struct mg_vxlan_spec s;
	struct mg_error e;
	unsigned int i;
	char p[64];

	MAP_FOREACH(c, seq, "vxlan", keys, i, item, p) {
		bool ok = true;

		memset(&s, 0, sizeof(s));
		if (!rd_tunnel_names(c, item, p, "a tunnel needs a name", s.name, s.network, s.underlay))
			continue;
		if (get(c, item, "vni") == NULL) {
			cerr(c, item, p, "a tunnel needs its VNI (vni: 0-%u)", MG_VXLAN_MAX_VNI);
			ok = false;
		} else {
			ok = rd_uint(c, item, p, "vni", 0, MG_VXLAN_MAX_VNI, &s.vni) && ok;
		}
		if (!rd_ip(c, item, p, "local", &s.local)) {
			need(c, item, p, "local", "a tunnel needs its local VTEP address (local)");
			ok = false;
		}
		if (!rd_ip(c, item, p, "remote", &s.remote)) {
			need(c, item, p, "remote",
			     "a tunnel needs the peer's VTEP address (remote)");
			ok = false;
		}
		ok = opt_u16(c, item, p, "port", 1, 65535, &s.port) && ok;
		ok = opt_u16(c, item, p, "mtu", MG_MTU_MIN, MG_MTU_MAX, &s.mtu) && ok;
		if (get(c, item, "mac") != NULL) {
			s.mac_set = rd_mac(c, item, p, "mac", &s.mac);
			ok = s.mac_set && ok;
		}
		if (ok && mg_model_vxlan_add(c->m, &s, &e) < 0) {
			model_err(c, item, p, &e);
			ok = false;
		}
		if (ok) {
			load_addrs(c, item, p, s.name);
		}
	}
}

/* ---- entry points ------------------------------------------------------------------ */

static unsigned int
load_doc(struct cfg *c)
{
	static const char *const top[] = {"dpdk", "workers", "mbufs", "limits", "arp_nd",
					  "control", "networks", "ports", "routes", "neighbors",
					  "classify", "stats", "log", "services", "wireguard", "esp_tunnels",
					  "vxlan", "flow_history", "gateways", NULL};
	/* The settings sections, in this order, each from its own node. */
	static const struct {
		const char *key;
		void (*load)(struct cfg *c, yaml_node_t *n);
	} settings[] = {{"dpdk", load_dpdk},     {"workers", load_workers}, {"mbufs", load_mbufs},
			{"limits", load_limits}, {"arp_nd", load_arp_nd},   {"control", load_control}};
	yaml_node_t *root = yaml_document_get_root_node(&c->doc);
	yaml_node_t *n;
	unsigned int before = c->errs->n;

	if (root == NULL) {
		cerr(c, NULL, "", "the file is empty");
		return c->errs->n - before;
	}
	if (!check_map(c, root, "", top))
		return c->errs->n - before;
	for (unsigned int i = 0; i < MG_ARRAY_SIZE(settings); i++)
		if ((n = get(c, root, settings[i].key)) != NULL)
			settings[i].load(c, n);
	load_small(c, root);
	load_flow_history(c, root);
	{
		struct mg_model_limits lim = {.routes = c->st->max_routes,
					      .neighbors = c->st->max_neighbors};

		mg_model_set_limits(c->m, &lim);
	}
	load_networks(c, root);
	load_ports(c, root);
	load_wireguard(c, root);
	load_esp_tunnels(c, root);
	load_vxlan(c, root);
	load_neighbors(c, root);
	load_routes(c, root);
	load_services(c, root);
	load_gateways(c, root);
	load_classify(c, root);
	return c->errs->n - before;
}

unsigned int
mg_config_load_string(const char *name, const char *text, size_t len, struct mg_settings *st,
		      struct mg_model *m, struct mg_config_errors *errs)
{
	yaml_parser_t parser;
	struct cfg c = {.file = name, .st = st, .m = m, .errs = errs};
	unsigned int n;

	mg_strlcpy(st->source, name, sizeof(st->source));
	if (!yaml_parser_initialize(&parser)) {
		cerr(&c, NULL, "", "cannot initialise the YAML parser");
		return 1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &c.doc)) {
		char *msg;

		if (asprintf(&msg, "%s:%zu:%zu: YAML syntax error: %s%s%s", name,
			     parser.problem_mark.line + 1, parser.problem_mark.column + 1,
			     parser.problem ? parser.problem : "unknown problem",
			     parser.context ? " " : "", parser.context ? parser.context : "") >= 0)
			errs_add(errs, msg);
		yaml_parser_delete(&parser);
		return 1;
	}
	n = load_doc(&c);
	/* The document's scalars may hold ESP keys: wipe them before libyaml frees them. */
	for (yaml_node_t *y = c.doc.nodes.start; y < c.doc.nodes.top; y++)
		if (y->type == YAML_SCALAR_NODE)
			mg_wipe(y->data.scalar.value, y->data.scalar.length);
	yaml_document_delete(&c.doc);
	/* libyaml's copies of the text may hold WireGuard keys: wipe them before it frees them. */
	if (parser.buffer.start != NULL)
		mg_wipe(parser.buffer.start, (size_t)(parser.buffer.end - parser.buffer.start));
	if (parser.raw_buffer.start != NULL)
		mg_wipe(parser.raw_buffer.start,
			(size_t)(parser.raw_buffer.end - parser.raw_buffer.start));
	yaml_parser_delete(&parser);
	return n;
}

unsigned int
mg_config_load_file(const char *path, struct mg_settings *st, struct mg_model *m,
		    struct mg_config_errors *errs)
{
	struct mg_error e;
	char *buf, *msg;
	size_t len = 0;
	unsigned int n;

	/* Read without stdio: its buffers would keep the file's keys, unwiped. */
	mg_error_clear(&e);
	buf = mg_file_read_all(path, 16u << 20, &len, &e);
	if (buf == NULL) {
		if (asprintf(&msg, "%s: %s", path, e.msg) >= 0)
			errs_add(errs, msg);
		return 1;
	}
	n = mg_config_load_string(path, buf, len, st, m, errs);
	mg_free_wiped(buf); /* it may hold ESP and WireGuard keys */
	return n;
}

void
mg_settings_init(struct mg_settings *st)
{
	memset(st, 0, sizeof(*st));
	st->main_lcore = -1;
	st->memory_mb = 1024;
	st->hugepages = false;
	strcpy(st->file_prefix, "meshgate");
	st->telemetry = true;
	st->burst = 32;
	st->idle_mode = MG_IDLE_SLEEP;
	st->idle_pause_polls = 64;
	st->idle_sleep_polls = 1024;
	st->idle_sleep_min_us = 20;
	st->idle_sleep_max_us = 250;
	st->mbuf_cache = 256;
	st->max_adjacencies = 16384;
	st->max_routes = 65536;
	st->fib_routes = 131072;
	st->fib_tbl8 = 8192;
	st->fib6_tbl8 = 16384;
	st->max_neighbors = 16384;
	st->punt_ring = 1024;
	st->inject_ring = 2048;
	st->icmp_rate = 1000;
	st->icmp_burst = 100;
	st->nd_reachable_ms = 60000;
	st->nd_retrans_ms = 1000;
	st->nd_probes = 3;
	st->nd_hold_packets = 4;
	st->nd_failed_ms = 3000;
	st->nd_announce = true;
	st->svc_flows = 65536;
	st->max_conns = 4096;
	st->flow_history = 4096;
	st->log_level = 7; /* info */
	st->rest_max_body = 1u << 20;
	st->rest_rate = 1000;
	st->conn_max_lifetime_s = 600;
	strcpy(st->node_name, "meshgate");
}

void
mg_settings_free(struct mg_settings *st)
{
	for (unsigned int i = 0; i < st->npci_allow; i++)
		free(st->pci_allow[i]);
	for (unsigned int i = 0; i < st->nvdevs; i++)
		free(st->vdevs[i]);
	for (unsigned int i = 0; i < st->neal_args; i++)
		free(st->eal_args[i]);
	st->npci_allow = st->nvdevs = st->neal_args = 0;
	free(st->services);
	st->services = NULL;
	st->nservices = 0;
	mg_settings_drop_ike_peers(st);
	free(st->gateways);
	st->gateways = NULL;
	st->ngateways = 0;
}

void
mg_settings_drop_ike_peers(struct mg_settings *st)
{
	if (st->ike_peers != NULL)
		mg_wipe(st->ike_peers, MG_MODEL_MAX_ESP * sizeof(*st->ike_peers));
	free(st->ike_peers);
	st->ike_peers = NULL;
	st->nike_peers = 0;
}

unsigned int
mg_config_gateway_parse(const char *name, const char *text, size_t len, const struct mg_model *m,
			const struct mg_svc_cfg *services, unsigned int nservices,
			struct mg_gw_cfg *g, struct mg_config_errors *errs)
{
	struct mg_settings st = {.services = (struct mg_svc_cfg *)services,
				 .nservices = nservices};
	struct cfg c = {.file = name, .st = &st, .m = (struct mg_model *)m, .errs = errs};
	unsigned int before = errs->n;
	yaml_parser_t parser;
	yaml_node_t *root;

	memset(g, 0, sizeof(*g));
	if (!yaml_parser_initialize(&parser)) {
		cerr(&c, NULL, "", "cannot initialise the YAML parser");
		return 1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &c.doc)) {
		cerr(&c, NULL, "", "not valid YAML or JSON: %s",
		     parser.problem ? parser.problem : "unknown problem");
		yaml_parser_delete(&parser);
		return 1;
	}
	root = yaml_document_get_root_node(&c.doc);
	if (root == NULL)
		cerr(&c, NULL, "", "empty");
	else
		load_gateway(&c, root, "", g);
	yaml_document_delete(&c.doc);
	yaml_parser_delete(&parser);
	return errs->n - before;
}
