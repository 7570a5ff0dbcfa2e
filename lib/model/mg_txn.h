/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_TXN_H
#define MG_TXN_H

/**
 * @file
 * Operations on the model and transactions over them. A request that
 * changes several objects (an NSM connection: a port, its addresses and
 * routes; a REST batch) is a list of operations applied in one
 * transaction: the whole list is first tried on a shadow of the model, so
 * what the model refuses is refused before the data plane sees any of it;
 * then each applied operation records its inverse, and if a later one fails
 * (the data plane refusing it) they are undone in reverse order, so the
 * request is applied whole or not at all. Deletes record everything needed to recreate what
 * they removed (a VLAN's addresses, a port's spec).
 */

#include <stdbool.h>

#include "mg_model.h"

/** What an operation acts on. */
enum mg_op_kind {
	MG_OP_NETWORK = 0,
	MG_OP_PORT,
	MG_OP_VLAN,
	MG_OP_ADDR,
	MG_OP_ROUTE,
	MG_OP_NEIGH,
	MG_OP_KIND_MAX,
};

enum mg_op_verb {
	MG_OP_ADD = 0,
	MG_OP_DEL,
	MG_OP_REPLACE, /**< Routes only. */
};

/** One operation. For a delete only the key fields matter. */
struct mg_op {
	enum mg_op_verb verb;
	enum mg_op_kind kind;
	union {
		struct mg_network_spec network; /* key: name */
		struct mg_port_spec port;       /* key: name */
		struct mg_vlan_spec vlan;       /* key: port + vlan */
		struct mg_addr_spec addr;       /* key: iface + prefix.addr */
		struct mg_route_spec route;     /* key: network + prefix */
		struct mg_neigh_spec neigh;     /* key: iface + ip */
	};
};

const char *mg_op_kind_name(enum mg_op_kind k);
const char *mg_op_verb_name(enum mg_op_verb v);

/** Apply one operation (no transaction). */
int mg_op_apply(struct mg_model *m, const struct mg_op *op, struct mg_error *err);

struct mg_txn;

struct mg_txn *mg_txn_begin(struct mg_model *m);
/** Apply @p op within the transaction; on error nothing of it was applied. */
int mg_txn_apply(struct mg_txn *t, const struct mg_op *op, struct mg_error *err);
/** Keep everything applied, and free the transaction. */
void mg_txn_commit(struct mg_txn *t);
/** Undo everything applied, in reverse order, and free the transaction. */
void mg_txn_abort(struct mg_txn *t);
/** Number of operations applied so far. */
unsigned int mg_txn_count(const struct mg_txn *t);

/**
 * Try @p n operations on a shadow of @p m (mg_model_shadow): what the model
 * would refuse, found before any of them reaches the data plane. 0, or the
 * error of the first refused one (its field as the model names it) with its
 * index in *@p failed (UINT_MAX when out of memory). @p m is not changed. The data
 * plane may still refuse what the model accepts (a full table, a device
 * that does not probe); a transaction undoes that as before.
 */
int mg_txn_check(const struct mg_model *m, const struct mg_op *ops, unsigned int n,
		 unsigned int *failed, struct mg_error *err);

/**
 * Check @p n operations (mg_txn_check), then apply them in a new
 * transaction left open in *@p out, for the caller to commit (once what it
 * must do in between, a journal write, succeeded) or abort. On failure the
 * model is as before and *@p failed is the refused operation's index
 * (UINT_MAX when out of memory); @p err's field is the model's, unprefixed.
 */
int mg_txn_apply_list(struct mg_model *m, const struct mg_op *ops, unsigned int n,
		      struct mg_txn **out, unsigned int *failed, struct mg_error *err);

/**
 * Apply @p n operations atomically: checked first (mg_txn_check), then
 * applied in a transaction. On failure returns the error of the failing
 * one, with its index in *@p failed (the field path of @p err is prefixed
 * with "[index]"), and the model is as before.
 */
int mg_txn_apply_all(struct mg_model *m, const struct mg_op *ops, unsigned int n,
		     unsigned int *failed, struct mg_error *err);

/**
 * Describe the model's objects as add operations in dependency order
 * (networks, ports, VLANs, addresses, neighbors, routes), calling @p cb for
 * each; @p skip may filter objects out (return true to skip).
 */
void mg_model_dump_ops(const struct mg_model *m, bool (*skip)(const struct mg_op *op, void *arg),
		       void (*cb)(const struct mg_op *op, void *arg), void *arg);

#endif /* MG_TXN_H */
