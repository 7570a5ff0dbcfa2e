/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_CTL_JSON_H
#define MG_CTL_JSON_H

/*
 * JSON <-> model requests, shared by REST, the NSM socket and the state
 * journal. Parsing is strict: unknown fields, wrong types, out-of-range
 * numbers and malformed addresses are refused with the field's path.
 */

#include <jansson.h>

#include "mg_txn.h"

/* Helpers for strict objects. */
int cj_check_fields(json_t *obj, const char *const *allowed, const char *path,
		    struct mg_error *err);
int cj_str(json_t *obj, const char *key, const char *path, char *out, size_t size, bool required,
	   struct mg_error *err);
int cj_uint(json_t *obj, const char *key, const char *path, unsigned long long min,
	    unsigned long long max, unsigned long long *out, bool required, struct mg_error *err);
/** cj_uint into a uint32_t / uint16_t, left as it was when absent (0 returned). */
int cj_u32(json_t *obj, const char *key, const char *path, uint32_t min, uint32_t max,
	   uint32_t *out, bool required, struct mg_error *err);
int cj_u16(json_t *obj, const char *key, const char *path, uint16_t min, uint16_t max,
	   uint16_t *out, bool required, struct mg_error *err);
int cj_bool(json_t *obj, const char *key, const char *path, bool *out, struct mg_error *err);
int cj_prefix(json_t *obj, const char *key, const char *path, struct mg_prefix *p, bool required,
	      struct mg_error *err);
int cj_ip(json_t *obj, const char *key, const char *path, struct mg_ip *ip, bool required,
	  struct mg_error *err);
int cj_mac(json_t *obj, const char *key, const char *path, struct mg_mac *mac, bool required,
	   struct mg_error *err);

/** Parse the spec of @p kind from @p obj. */
int cj_spec(enum mg_op_kind kind, json_t *obj, const char *path, struct mg_op *op,
	    struct mg_error *err);
/** Parse {"op": "add"|"delete"|"replace", "<kind>": {...}}. */
int cj_op(json_t *j, const char *path, struct mg_op *op, struct mg_error *err);
/** Read a network's `flows` object (null: tracking off); errors name the field under @p path. */
int cj_flows(json_t *o, const char *path, struct mg_flows_spec *fs, struct mg_error *err);
/** A network's flow tracking as cj_flows reads it. */
json_t *cj_flows_json(const struct mg_flows_spec *fs);
/** Render an operation as cj_op reads it. */
json_t *cj_op_json(const struct mg_op *op);
/** Render the spec of an operation. */
json_t *cj_spec_json(const struct mg_op *op);

/** Set "ipv4" and "ipv6" of @p o to the prefixes of @p ifc (NULL: none), as the file writes them. */
void cj_addrs_json(json_t *o, const struct mg_iface *ifc);

/** Kind from its JSON name ("network", "port", "vlan", "address", "route", "neighbor"). */
int cj_kind(const char *name, enum mg_op_kind *kind);

#endif
