/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Durable state: a snapshot (snapshot.json) and a journal (journal.jsonl)
 * in the state directory.
 *
 * Every accepted change is appended to the journal and fdatasync'ed before
 * it is acknowledged. When the journal grows, a new snapshot is written
 * (to a temporary file, fsync, rename, fsync of the directory) and the
 * journal starts over. Both carry a generation: journal lines older than
 * the snapshot are ignored, so a crash between writing the snapshot and
 * replacing the journal replays nothing twice. A torn last line (a crash
 * mid-write) was never acknowledged and is dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_log.h>

#include "ctl_priv.h"

RTE_LOG_REGISTER_SUFFIX(mg_state_logtype, state, INFO);
#define ST_LOG(l, ...) rte_log(RTE_LOG_##l, mg_state_logtype, "state: " __VA_ARGS__)

#define COMPACT_ENTRIES 20000
#define COMPACT_BYTES (16u << 20)

static void
spath(const struct mg_ctl *c, const char *name, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", c->conf.state_dir, name);
}

static int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	int rc;

	if (fd < 0)
		return -errno;
	rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static int
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);

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

/* Write @text to @name atomically: temporary file, fsync, rename, fsync dir. */
static int
write_atomic(const struct mg_ctl *c, const char *name, const char *text)
{
	char path[512], tmp[520];
	int fd, rc;

	spath(c, name, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, text, strlen(text));
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc == 0)
		rc = fsync_dir(c->conf.state_dir);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

static int
journal_reopen(struct mg_ctl *c)
{
	char path[512];

	if (c->journal_fd >= 0)
		close(c->journal_fd);
	spath(c, "journal.jsonl", path, sizeof(path));
	c->journal_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	return c->journal_fd < 0 ? -errno : 0;
}

int
ctl_state_append(struct mg_ctl *c, json_t *entry, struct mg_error *err)
{
	char *line;
	size_t len;
	int rc;

	if (c->journal_fd < 0 || c->replaying)
		return 0;
	json_object_set_new(entry, "gen", json_integer((json_int_t)c->generation));
	line = json_dumps(entry, JSON_COMPACT);
	if (line == NULL)
		return mg_error_set(err, ENOMEM, "", "out of memory");
	len = strlen(line);
	line[len] = '\n'; /* json_dumps's NUL becomes the line end */
	rc = write_all(c->journal_fd, line, len + 1);
	free(line);
	if (rc == 0 && fdatasync(c->journal_fd) < 0)
		rc = -errno;
	if (rc < 0)
		return mg_error_set(err, -rc, "", "cannot save the change in %s: %s",
				    c->conf.state_dir, strerror(-rc));
	c->journal_entries++;
	c->journal_bytes += len + 1;
	return 0;
}

struct dump_ctx {
	struct mg_ctl *c;
	json_t *arr;
};

static bool
dump_skip(const struct mg_op *op, void *arg)
{
	struct dump_ctx *d = arg;

	return conn_owns(d->c, op);
}

static void
dump_cb(const struct mg_op *op, void *arg)
{
	struct dump_ctx *d = arg;

	json_array_append_new(d->arr, cj_op_json(op));
}

/* Write a snapshot of everything and start an empty journal. */
static int
compact(struct mg_ctl *c)
{
	json_t *snap = json_object(), *wg, *esp, *esp_conn;
	struct dump_ctx d = {.c = c, .arr = json_array()};
	struct mg_error err;
	char *text;
	int rc;

	/* WireGuard interfaces with their keys sealed (ctl_wgstate.c). */
	wg = ctl_wg_snapshot(c, &err);
	if (wg == NULL) {
		ST_LOG(ERR, "%s%s%s\n", err.field, err.field[0] ? ": " : "", err.msg);
		json_decref(snap);
		json_decref(d.arr);
		return -(err.code ? err.code : EIO);
	}
	/* ESP tunnels with their keys sealed (ctl_espstate.c). */
	esp = ctl_esp_snapshot(c, false, &err);
	esp_conn = esp != NULL ? ctl_esp_snapshot(c, true, &err) : NULL;
	if (esp_conn == NULL) {
		json_decref(esp);
		ST_LOG(ERR, "%s%s%s\n", err.field, err.field[0] ? ": " : "", err.msg);
		json_decref(snap);
		json_decref(d.arr);
		json_decref(wg);
		return -(err.code ? err.code : EIO);
	}
	json_object_set_new(snap, "esp", esp);
	json_object_set_new(snap, "esp_conn", esp_conn);
	json_object_set_new(snap, "vxlan", ctl_vxlan_snapshot(c));
	json_object_set_new(snap, "services", ctl_svc_snapshot());
	mg_model_dump_ops(c->env.model, dump_skip, dump_cb, &d);
	json_object_set_new(snap, "format", json_string("meshgate-state-1"));
	json_object_set_new(snap, "generation", json_integer((json_int_t)c->generation + 1));
	json_object_set_new(snap, "objects", d.arr);
	json_object_set_new(snap, "wireguard", wg);
	json_object_set_new(snap, "connections", conn_snapshot(c));
	json_object_set_new(snap, "rules", ctl_rules_snapshot(c));
	json_object_set_new(snap, "gateways", ctl_gw_snapshot(c));
	text = json_dumps(snap, JSON_INDENT(1));
	json_decref(snap);
	if (text == NULL)
		return -ENOMEM;
	rc = write_atomic(c, "snapshot.json", text);
	free(text);
	if (rc < 0)
		return rc;
	c->generation++;
	rc = write_atomic(c, "journal.jsonl", "");
	if (rc < 0)
		return rc;
	c->journal_entries = 0;
	c->journal_bytes = 0;
	return journal_reopen(c);
}

void
ctl_state_maybe_compact(struct mg_ctl *c)
{
	int rc;

	if (c->journal_fd < 0 || (c->journal_entries < COMPACT_ENTRIES &&
				  c->journal_bytes < COMPACT_BYTES))
		return;
	rc = compact(c);
	if (rc < 0)
		ST_LOG(ERR, "cannot write a snapshot in %s: %s (the journal keeps growing)\n",
		       c->conf.state_dir, strerror(-rc));
}

/* Apply one stored entry: {"ops": [...]}, {"connect": ...}, {"close": id}, {"rules": ...},
 * {"wireguard": ...}, {"wireguard_del": name}, {"esp": ...}, {"esp_del": name},
 * {"vxlan": ...}, {"vxlan_del": name}, {"service": ...}, {"service_del": name},
 * {"gateway": ...} or {"gateway_del": name}. */
static int
apply_entry(struct mg_ctl *c, json_t *e, struct mg_error *err)
{
	json_t *v;

	if ((v = json_object_get(e, "ops")) != NULL) {
		size_t n = json_array_size(v), i;
		struct mg_op *ops = calloc(n ? n : 1, sizeof(*ops));
		json_t *o;
		int rc = 0;

		if (ops == NULL)
			return mg_error_set(err, ENOMEM, "", "out of memory");
		json_array_foreach(v, i, o) {
			rc = cj_op(o, "", &ops[i], err);
			if (rc < 0)
				break;
		}
		if (rc == 0)
			rc = ctl_commit_ops(c, ops, (unsigned int)n, err);
		free(ops);
		return rc;
	}
	if ((v = json_object_get(e, "connect")) != NULL)
		return conn_replay(c, v, err);
	if ((v = json_object_get(e, "rules")) != NULL)
		return ctl_rules_replay(c, v, err);
	if ((v = json_object_get(e, "flows")) != NULL)
		return ctl_flows_replay(c, v, err);
	if ((v = json_object_get(e, "wireguard")) != NULL)
		return ctl_wg_state_restore(c, v, err);
	if ((v = json_object_get(e, "wireguard_del")) != NULL && json_is_string(v))
		return ctl_wg_del(c, json_string_value(v), err);
	if ((v = json_object_get(e, "esp")) != NULL)
		return ctl_esp_state_restore(c, v, err);
	if ((v = json_object_get(e, "esp_del")) != NULL && json_is_string(v)) {
		int rc = mg_model_esp_del(c->env.model, json_string_value(v), err);

		if (rc == 0)
			ctl_ike_tunnel_gone(c, json_string_value(v));
		return rc;
	}
	if ((v = json_object_get(e, "service")) != NULL)
		return ctl_svc_restore(c, v, err);
	if ((v = json_object_get(e, "service_del")) != NULL && json_is_string(v))
		return ctl_svc_remove(c, json_string_value(v), err);
	if ((v = json_object_get(e, "vxlan")) != NULL)
		return ctl_vxlan_restore(c, v, err);
	if ((v = json_object_get(e, "vxlan_del")) != NULL && json_is_string(v))
		return mg_model_vxlan_del(c->env.model, json_string_value(v), err);
	if ((v = json_object_get(e, "gateway")) != NULL)
		return ctl_gw_replay(c, v, err);
	if ((v = json_object_get(e, "gateway_del")) != NULL && json_is_string(v))
		return ctl_gw_replay_del(c, json_string_value(v), err);
	if ((v = json_object_get(e, "close")) != NULL && json_is_string(v))
		return conn_close_id(c, json_string_value(v), "restored close", err);
	return mg_error_set(err, EINVAL, "", "unknown journal entry");
}

bool
mg_ctl_state_exists(const char *dir)
{
	char path[512];

	if (dir == NULL || dir[0] == '\0')
		return false;
	snprintf(path, sizeof(path), "%s/snapshot.json", dir);
	if (access(path, F_OK) == 0)
		return true;
	snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
	{
		struct stat st;

		return stat(path, &st) == 0 && st.st_size > 0;
	}
}

int
ctl_state_open(struct mg_ctl *c, bool *restored, struct mg_error *err)
{
	char path[512];
	json_error_t je;
	json_t *snap = NULL;
	FILE *f;
	uint64_t snap_gen = 0, applied = 0, failed = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	c->journal_fd = -1;
	*restored = false;
	if (c->conf.state_dir[0] == '\0')
		return 0;
	if (mkdir(c->conf.state_dir, 0700) < 0 && errno != EEXIST)
		return mg_error_set(err, errno, "control.state_dir", "cannot create %s: %s",
				    c->conf.state_dir, strerror(errno));
	chmod(c->conf.state_dir, 0700);
	c->replaying = true;
	ctl_esp_seq_load(c);
	spath(c, "snapshot.json", path, sizeof(path));
	if (access(path, F_OK) == 0) {
		json_t *objs, *conns, *o;
		size_t i;

		snap = json_load_file(path, 0, &je);
		if (snap == NULL) {
			c->replaying = false;
			return mg_error_set(err, EINVAL, "control.state_dir",
					    "%s is not valid JSON (line %d: %s); move it away to "
					    "start from the configuration", path, je.line,
					    mg_error_text_unquoted(je.text));
		}
		snap_gen = (uint64_t)json_integer_value(json_object_get(snap, "generation"));
		objs = json_object_get(snap, "objects");
		conns = json_object_get(snap, "connections");
		/* Interfaces and addresses, then connections, then the routes and
		 * neighbors that may go through a connection's interface. */
		for (int pass = 0; pass < 3; pass++) {
			if (pass == 1) {
				/* ESP tunnels: their networks and underlay addresses
				 * are back; routes through them come in pass 2. */
				json_array_foreach(json_object_get(snap, "esp"), i, o) {
					if (ctl_esp_state_restore(c, o, err) < 0) {
						ST_LOG(ERR, "ESP tunnel %zu not restored: %s%s%s\n",
						       i, err->field, err->field[0] ? ": " : "",
						       err->msg);
						failed++;
					} else {
						applied++;
					}
				}
				/* VXLAN tunnels: their networks and underlay addresses are
				 * back; routes and neighbors through them come in pass 2. */
				json_array_foreach(json_object_get(snap, "vxlan"), i, o) {
					if (ctl_vxlan_restore(c, o, err) < 0) {
						ST_LOG(ERR, "VXLAN tunnel %zu not restored: %s%s%s\n",
						       i, err->field, err->field[0] ? ": " : "",
						       err->msg);
						failed++;
					} else {
						applied++;
					}
				}
				/* WireGuard interfaces: their networks and addresses are
				 * back; routes through them come in pass 2. */
				json_array_foreach(json_object_get(snap, "wireguard"), i, o) {
					if (ctl_wg_state_restore(c, o, err) < 0) {
						ST_LOG(ERR, "WireGuard interface %zu not restored: "
						       "%s%s%s\n", i, err->field,
						       err->field[0] ? ": " : "", err->msg);
						failed++;
					} else {
						applied++;
					}
				}
				json_array_foreach(conns, i, o) {
					if (conn_replay(c, o, err) < 0) {
						ST_LOG(ERR, "connection %zu not restored: %s\n", i,
						       err->msg);
						failed++;
					} else {
						applied++;
					}
				}
				/* The connections' ESP tunnels as they were (rekeyed over REST). */
				json_array_foreach(json_object_get(snap, "esp_conn"), i, o) {
					if (ctl_esp_state_restore(c, o, err) < 0) {
						ST_LOG(ERR, "ESP tunnel of a connection not restored: "
						       "%s%s%s\n", err->field,
						       err->field[0] ? ": " : "", err->msg);
						failed++;
					}
				}
				continue;
			}
			json_array_foreach(objs, i, o) {
				bool late = json_object_get(o, "route") || json_object_get(o, "neighbor");
				json_t *e;

				if (late != (pass == 2))
					continue;
				e = json_pack("{s:[O]}", "ops", o);
				if (apply_entry(c, e, err) < 0) {
					ST_LOG(ERR, "snapshot object %zu not restored: %s%s%s\n", i,
					       err->field, err->field[0] ? ": " : "", err->msg);
					failed++;
				} else {
					applied++;
				}
				json_decref(e);
			}
		}
		/* Services (the file's set up at start) as the state has them: their
		 * networks are back, and rules steering to them come next. */
		if (json_is_array(json_object_get(snap, "services")))
			applied += (uint64_t)ctl_svc_restore_all(c, json_object_get(snap, "services"),
							     &failed);
		/* Gateways: the saved set replaces the file's (their networks, addresses
		 * and the file's services are there now). */
		if (json_is_array(json_object_get(snap, "gateways"))) {
			ctl_gw_clear(c);
			json_array_foreach(json_object_get(snap, "gateways"), i, o) {
				if (ctl_gw_replay(c, o, err) < 0) {
					ST_LOG(ERR, "gateway %zu not restored: %s%s%s\n", i,
					       err->field, err->field[0] ? ": " : "", err->msg);
					failed++;
				} else {
					applied++;
				}
			}
		}
		/* Rules last: they name interfaces and networks restored above. */
		json_array_foreach(json_object_get(snap, "rules"), i, o) {
			if (ctl_rules_replay(c, o, err) < 0) {
				ST_LOG(ERR, "rules %zu not restored: %s%s%s\n", i, err->field,
				       err->field[0] ? ": " : "", err->msg);
				failed++;
			} else {
				applied++;
			}
		}
		json_decref(snap);
		*restored = true;
	}
	c->generation = snap_gen;
	spath(c, "journal.jsonl", path, sizeof(path));
	f = fopen(path, "r");
	if (f != NULL) {
		while ((len = getline(&line, &cap, f)) > 0) {
			json_t *e;

			if (line[len - 1] != '\n')
				break; /* torn: never acknowledged */
			e = json_loads(line, 0, &je);
			if (e == NULL)
				break;
			if ((uint64_t)json_integer_value(json_object_get(e, "gen")) >= snap_gen) {
				if (apply_entry(c, e, err) < 0) {
					ST_LOG(ERR, "journal entry not restored: %s%s%s\n", err->field,
					       err->field[0] ? ": " : "", err->msg);
					failed++;
				} else {
					applied++;
				}
				*restored = true;
			}
			json_decref(e);
		}
		free(line);
		fclose(f);
	}
	c->replaying = false;
	if (*restored)
		ST_LOG(NOTICE, "restored %lu change(s) from %s%s\n", (unsigned long)applied,
		       c->conf.state_dir, failed ? " (some failed, see above)" : "");
	/* Start from a fresh snapshot of what is running now. */
	if (compact(c) < 0)
		return mg_error_set(err, errno ? errno : EIO, "control.state_dir",
				    "cannot write state in %s: %s", c->conf.state_dir,
				    strerror(errno ? errno : EIO));
	return 0;
}

void
ctl_state_close(struct mg_ctl *c)
{
	if (c->journal_fd >= 0)
		close(c->journal_fd);
	c->journal_fd = -1;
}
