/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_RULES_H
#define MG_RULES_H

/**
 * @file
 * Classification rules in the model: each network has one rule list (IPv4
 * and IPv6 rules together) and a default action, replaced whole. The YAML
 * file's `classify:` section and REST `PUT /v1/networks/NAME/rules` both
 * become mg_model_rules_set(). The set is validated whole first (errors
 * name the field: "rules[3].dport"), then handed to the backend, which
 * compiles it (lib/cls) and publishes it; a refusal changes nothing.
 *
 * A rule whose prefixes and protocol say nothing of the family applies to
 * both families. Interfaces and route-table targets are named, and resolved
 * when the set is installed: an interface or network a rule names cannot be
 * deleted while the rule exists.
 *
 * Plain C, no DPDK: `meshgate --check` validates rules without a backend.
 */

#include <stdbool.h>
#include <stdint.h>

#include "mg_model.h"

#define MG_RULES_MAX 100000u          /**< Rules per network. */
#define MG_RULE_ID_MAX 0xfffffffdu    /**< Largest rule id (lib/cls reserves the rest). */

/** What a rule does with the packets it wins (names: mg_rule_action_name). */
enum mg_rule_action {
	MG_RULE_PERMIT = 0, /**< Forward as usual. */
	MG_RULE_DENY,       /**< Drop (counted as "rule-deny"). */
	MG_RULE_COUNT,      /**< Forward; the rule exists for its counters. */
	MG_RULE_POLICE,     /**< srTCM: within rate/burst (+excess) forwarded, the rest dropped. */
	MG_RULE_MARK,       /**< Rewrite the DSCP to set_dscp, forward. */
	MG_RULE_TABLE,      /**< Route in network `table`'s route table instead. */
	MG_RULE_CAPTURE,    /**< Forward, and hand a copy to the `rules` capture point. */
	MG_RULE_SERVICE,    /**< To service `service` whatever the destination (its endpoint picks). */
	MG_RULE_TUNNEL,     /**< Into tunnel interface `tunnel` whatever the destination. */
	MG_RULE_ACTION_MAX
};

/** An inclusive range; set false: any. */
struct mg_rule_range {
	bool set;
	uint16_t lo;
	uint16_t hi;
};

/** One rule as requested. */
struct mg_rule_spec {
	/** Unique in the network, 1..MG_RULE_ID_MAX; 0: its position + 1. */
	uint32_t id;
	/** Lower first; equal priorities keep the list order. */
	int32_t priority;
	/** 0: both (unless a prefix or the protocol says), AF_INET, AF_INET6. */
	uint8_t family;
	/** Prefixes; length 0 and family 0: any. */
	struct mg_prefix src, dst;
	/** IP protocol (IPv6: the upper layer), -1: any. */
	int16_t proto;
	/** Port ranges (TCP, UDP, SCTP; without a protocol: those three). */
	struct mg_rule_range sport, dport;
	/** ICMP / ICMPv6 type and code ranges (protocol icmp or icmpv6). */
	struct mg_rule_range icmp_type, icmp_code;
	/** VLAN id the packet arrived with (0: untagged), -1: any. */
	int32_t vlan;
	/** DSCP, -1: any. */
	int16_t dscp;
	/** Ingress interface name, "": any. */
	char iface[MG_NAME_MAX];
	/** What it does. */
	enum mg_rule_action action;
	/** MG_RULE_MARK: DSCP to write, 0..63. */
	uint8_t set_dscp;
	/** MG_RULE_POLICE: committed rate in bytes per second, burst and excess burst in bytes. */
	uint64_t rate, burst, excess;
	/** MG_RULE_TABLE: the network whose routes the packet takes. */
	char table[MG_NAME_MAX];
	/**
	 * MG_RULE_SERVICE: a service of this network (lib/svc; the model does
	 * not hold services: the backend, and the file's loader, check the name).
	 */
	char service[MG_NAME_MAX];
	/** MG_RULE_TUNNEL: a WireGuard, ESP or VXLAN interface of this network. */
	char tunnel[MG_NAME_MAX];
	/**
	 * MG_RULE_TUNNEL into a VXLAN tunnel (an Ethernet link): the next hop
	 * on it, in one of its connected subnets; the rule then applies to
	 * that family only. family 0 for the other tunnels.
	 */
	struct mg_ip via;
};

/** A network's rule list as requested. */
struct mg_rules_spec {
	/** Network name. */
	char network[MG_NAME_MAX];
	/** Action for packets no rule matches: MG_RULE_PERMIT or MG_RULE_DENY. */
	enum mg_rule_action def;
	/** The rules, in list order (the caller's array). */
	const struct mg_rule_spec *rules;
	/** How many. */
	uint32_t n;
};

/** A rule installed: the request with ids, family and names resolved. */
struct mg_rule {
	/** As requested, with id assigned. */
	struct mg_rule_spec spec;
	/** AF_INET, AF_INET6, or 0 for both. */
	uint8_t family;
	/** Interface index (spec.iface), or UINT16_MAX. */
	uint16_t iface;
	/** Network id (spec.table) for MG_RULE_TABLE. */
	uint16_t table;
	/** Interface index (spec.tunnel) for MG_RULE_TUNNEL, else UINT16_MAX. */
	uint16_t tunnel;
	/** enum mg_iface_kind of that interface. */
	uint8_t tunnel_kind;
};

/** A network's installed rule list. */
struct mg_ruleset {
	/** Network id. */
	uint16_t network;
	/** Default action. */
	enum mg_rule_action def;
	/** Rules in list order. */
	uint32_t n;
	struct mg_rule *rules;
};

/**
 * Replace the rules and default action of network @p s->network. An empty
 * list with default permit removes the rule set. @return 0, or -errno with
 * @p err naming the field ("rules[2].dport", "default").
 */
int mg_model_rules_set(struct mg_model *m, const struct mg_rules_spec *s, struct mg_error *err);

/** The rule set of network @p net, or NULL when it has none. */
const struct mg_ruleset *mg_model_rules_get(const struct mg_model *m, uint16_t net);

/** Name of an action ("permit", ...), or "?". */
const char *mg_rule_action_name(enum mg_rule_action a);
/** Action from its name; -1 when unknown. */
int mg_rule_action_parse(const char *s);

/**
 * 0 if nothing refers to interface @p ifindex, else -EBUSY with @p err
 * (field @p field) naming the rule. Called before an interface is deleted.
 */
int mg_rules_iface_busy(const struct mg_model *m, uint16_t ifindex, const char *field,
			struct mg_error *err);
/**
 * 0 if no rule steers to service @p name, else -EBUSY with @p err (field
 * @p field) naming the rule. Called before a service is deleted.
 */
int mg_rules_service_busy(const struct mg_model *m, const char *name, const char *field,
			  struct mg_error *err);
/** Same for network @p net as a route-table target of another network's rules. */
int mg_rules_net_busy(const struct mg_model *m, uint16_t net, const char *field,
		      struct mg_error *err);

/* Used inside lib/model only. */
/** The backend attached to @p m, or NULL. */
const struct mg_model_backend *mg_model_backend(const struct mg_model *m);
/** The slot of network @p net's rule set. */
struct mg_ruleset **mg_model_rules_slot(struct mg_model *m, uint16_t net);
/** Free a rule set. */
void mg_ruleset_free(struct mg_ruleset *rs);
/** Install every rule set into the backend (replay). */
int mg_rules_replay(struct mg_model *m, struct mg_error *err);

#endif /* MG_RULES_H */
