/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MESHGATECTL_CTL_H
#define MESHGATECTL_CTL_H

/*
 * meshgatectl's shared pieces: the options every command sees, where the
 * gateway's endpoints are, the transports (DPDK telemetry, REST over a small
 * HTTP/1.1 client, the NSM socket) and the output helpers.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "mg_common.h"

/** Exit statuses, as documented in meshgatectl --help. */
enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_REJECTED = 1,    /**< The gateway answered with an error. */
	CTL_EXIT_USAGE = 2,       /**< Bad command line (or an unreadable input file). */
	CTL_EXIT_UNREACHABLE = 3, /**< The gateway cannot be reached. */
};

/** Longest a REST or NSM exchange may stall, in seconds. */
#define CTL_TIMEOUT_S 15

/** The command line's global options and what was derived from them. */
struct ctl {
	const char *prefix;       /**< DPDK file prefix (default "meshgate"). */
	const char *tel_socket;   /**< -S: the telemetry socket itself, or NULL. */
	const char *rest_addr;    /**< --rest HOST:PORT, or NULL: from the run directory. */
	const char *token_file;   /**< --token-file or MESHGATE_TOKEN_FILE, or NULL. */
	const char *token_origin; /**< Which of the two named token_file (for messages). */
	const char *nsm_path;     /**< --nsm PATH, or NULL: the prefix's default. */
	bool json;                /**< --json: print what the gateway sent. */
	bool all;                 /**< --all (drops). */
	bool once;                /**< --once (nsm monitor). */
	const char *monitor_id;   /**< --id (nsm monitor), or NULL. */
	char run_dir[256];        /**< /var/run/dpdk/PREFIX */
};

/** Options that only some commands take. */
enum ctl_cmd_opt {
	CTL_OPT_ALL = 1 << 0,  /**< --all */
	CTL_OPT_ONCE = 1 << 1, /**< --once */
	CTL_OPT_ID = 1 << 2,   /**< --id ID */
};

struct ctl_cmd;

/** One command: a noun, an optional verb, its handler and help. */
struct ctl_cmd {
	const char *noun;
	const char *verb;         /**< NULL: the noun alone (arguments follow it). */
	int (*fn)(struct ctl *c, const struct ctl_cmd *self, int argc, char **argv);
	const char *args;         /**< Argument synopsis for usage lines. */
	const char *help;         /**< One line for --help; NULL: an alias, not listed. */
	unsigned int opts;        /**< The enum ctl_cmd_opt it takes. */
};

/* ---- locate.c: the gateway's endpoints ------------------------------------------------ */

/** The REST address (HOST:PORT or [V6]:PORT) into @p out; an exit status. */
int ctl_locate_rest(struct ctl *c, char *out, size_t n);
/** The bearer token into @p out (never printed); an exit status. */
int ctl_locate_token(struct ctl *c, char *out, size_t n);
/** The NSM socket path. */
const char *ctl_locate_nsm(struct ctl *c, char *buf, size_t n);
/** The telemetry socket path. */
const char *ctl_locate_telemetry(struct ctl *c, char *buf, size_t n);

/* ---- http.c: a small HTTP/1.1 client ----------------------------------------------------- */

/** A response: its status and the body (NUL-terminated). */
struct http_resp {
	int status;
	char reason[64];
	char *body;
	size_t len;
};

/**
 * One request to @p addr ("HOST:PORT" or "[V6]:PORT") on a fresh connection.
 * @p token may be NULL; @p body may be NULL (no body). Returns 0 with @p r
 * filled, or -1 with a message in @p err and @p unreachable set when no
 * connection could be made (as opposed to a broken answer).
 */
int http_request(const char *addr, const char *token, const char *method, const char *path,
		 const char *body, size_t blen, struct http_resp *r, bool *unreachable, char *err,
		 size_t errlen);
/**
 * A GET whose body is written to fd @p out as it arrives (for live captures):
 * 0 at its clean end; -1 with @p err otherwise (@p r holds a non-2xx answer).
 */
int http_stream(const char *addr, const char *token, const char *path, int out,
		struct http_resp *r, bool *unreachable, char *err, size_t errlen);
/** The CA certificates (PEM file) that verify an https:// gateway; NULL: the system's. */
void http_set_cacert(const char *path);
/** True if @p addr is "HOST:PORT" or "[V6]:PORT" (after "http://" or "https://"). */
bool http_addr_valid(const char *addr);
/** Free what a response holds. */
void http_resp_free(struct http_resp *r);
/** Percent-encode @p s for use as one path segment or query value. */
void http_escape(const char *s, char *out, size_t n);

/* ---- rest.c: REST calls with meshgatectl's error reporting ----------------------------- */

/**
 * Send one REST request. On a 2xx answer returns CTL_EXIT_OK with @p r
 * filled (the caller frees it); otherwise prints the error (and with --json
 * the error body) and returns the exit status.
 */
int ctl_rest(struct ctl *c, const char *method, const char *path, const char *body, size_t blen,
	     struct http_resp *r);
/** As ctl_rest with a JSON body (or NULL), then parse the answer into @p out (NULL if empty). */
int ctl_rest_json(struct ctl *c, const char *method, const char *path, json_t *body,
		  json_t **out);
/** Check that @p min..@p max arguments came; a usage error names @p first when missing. */
int ctl_nargs(const struct ctl_cmd *self, int argc, char **argv, int min, int max,
	      const char *first);
/** "@p prefix[/NAME escaped]@p suffix" into @p out (name and suffix may be NULL). */
const char *ctl_path(char *out, size_t n, const char *prefix, const char *name,
		     const char *suffix);
/**
 * @p method (no body) on @p path, then print the answer: JSON with --json,
 * else through @p print (nothing if NULL).
 */
int ctl_call(struct ctl *c, const char *method, const char *path, void (*print)(json_t *));
/**
 * Send the JSON of @p file ("-": standard input) with @p method to @p path,
 * then print the answer as ctl_call does.
 */
int ctl_send_file(struct ctl *c, const struct ctl_cmd *self, const char *method, const char *path,
		  const char *file, void (*print)(json_t *));
/**
 * "/v1/networks/NETWORK@p suffix" from argv[0], checking that NETWORK and
 * at most @p want arguments came (the caller reports a later one missing).
 */
int ctl_network_path(const struct ctl_cmd *self, int argc, char **argv, int want,
		     const char *suffix, char *out, size_t n);
/* ---- out.c: output ------------------------------------------------------------------------- */

/** A table being built: rows of strings, printed with aligned columns. */
struct table;

/** A table with the given column headers; a header starting with '>' is right-aligned. */
struct table *table_new(unsigned int ncols, const char *const *headers);
/** Add a row of ncols strings (NULL prints "-"). */
void table_row(struct table *t, const char *const *cells);
/** Print and free. */
void table_print(struct table *t);

/** Print @p v as "key: value" lines (nested objects indented); "token" keys are left out. */
void out_kv(json_t *v);
/** Cells describing an NSM connection: id, state, service, mechanism, local, remote, expires. */
void out_conn_cells(json_t *conn, char cells[7][512], const char *row[7]);
/** Print @p v as indented JSON. */
void out_json(json_t *v);
/** Print the text of a body as it came, ending with a newline. */
void out_raw(const char *text, size_t len);
/** A scalar rendered as text into @p buf ("-" for null or missing). */
const char *out_scalar(json_t *v, char *buf, size_t n);
/**
 * @p k (a JSON member or telemetry key) with '-' for '_', as the command line
 * and node and drop names spell words, into @p buf; returns @p buf.
 */
const char *out_key_text(const char *k, char *buf, size_t n);
/** The strings of array @p a joined with @p sep into @p buf. */
const char *out_join(json_t *a, const char *sep, char *buf, size_t n);
/** The member @p snake or, failing that, @p camel of @p o. */
json_t *jget(json_t *o, const char *snake, const char *camel);

/** Print a gateway error {"field","message",...} as "meshgatectl: FIELD: MESSAGE (WHERE)". */
void ctl_print_error(json_t *error, const char *where);
/** Print "meshgatectl: MESSAGE" to stderr. */
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** A usage error: print "meshgatectl: MESSAGE" and the usage of @p cmd; returns CTL_EXIT_USAGE. */
int ctl_usage_err(const struct ctl_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** Read a whole file ("-": standard input), NUL-terminated; NULL with errno on failure. */
char *ctl_read_file(const char *path, size_t *len);
/** Parse JSON from a file argument; on failure prints a usage error naming it. */
json_t *ctl_load_json(const struct ctl_cmd *cmd, const char *path);

/* ---- the command sets --------------------------------------------------------------------- */

/* Each returns its table, ended by an entry whose noun is NULL. */

/** Counters through DPDK telemetry (cmd_tel.c). */
const struct ctl_cmd *ctl_tel_cmds(void);
/** Runtime objects over REST (cmd_rest.c). */
const struct ctl_cmd *ctl_rest_cmds(void);
/** The NSM socket (cmd_nsm.c). */
const struct ctl_cmd *ctl_nsm_cmds(void);
/** Packet captures over REST (cmd_capture.c). */
const struct ctl_cmd *ctl_capture_cmds(void);
/** Live rates (cmd_top.c). */
const struct ctl_cmd *ctl_top_cmds(void);
/** Packet trace over REST (cmd_capture.c). */
const struct ctl_cmd *ctl_trace_cmds(void);
/** cmd_rules.c */
const struct ctl_cmd *ctl_rules_cmds(void);
/** Flow history and flow tracking over REST (cmd_flows.c). */
const struct ctl_cmd *ctl_flows_cmds(void);
/** WireGuard interfaces and keys (cmd_wg.c). */
const struct ctl_cmd *ctl_wg_cmds(void);
/** IPsec ESP tunnels over REST (cmd_esp.c). */
const struct ctl_cmd *ctl_esp_cmds(void);
const struct ctl_cmd *ctl_vxlan_cmds(void);
/** ike show (cmd_ike.c). */
const struct ctl_cmd *ctl_ike_cmds(void);

#endif /* MESHGATECTL_CTL_H */
