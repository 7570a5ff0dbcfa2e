/* SPDX-License-Identifier: BSD-3-Clause */
/* The control plane fixture of the NSM socket and REST harnesses (see fuzz_ctl.h). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl_priv.h"
#include "fuzz.h"
#include "fuzz_ctl.h"
#include "mg_config.h"
#include "mg_model.h"

static const char fixture_yaml[] =
	"networks:\n"
	"  - name: default\n"
	"  - {name: blue, fragments: drop, ip_options: drop}\n"
	"ports:\n"
	"  - name: p0\n"
	"    device: net_null0\n"
	"    mac: \"02:00:00:00:00:01\"\n"
	"    ipv4: [10.0.0.1/24]\n"
	"    ipv6: [\"fd00::1/64\"]\n"
	"    vlans:\n"
	"      - {id: 100, network: blue, ipv4: [192.168.100.1/24]}\n"
	"  - {name: p1, device: net_null1, network: blue, ipv4: [10.1.0.1/24]}\n"
	"neighbors:\n"
	"  - {interface: p0, ip: 10.0.0.2, mac: \"02:00:00:00:01:02\"}\n"
	"routes:\n"
	"  - {prefix: 198.51.100.0/24, via: 10.0.0.2}\n"
	"  - {prefix: \"::/0\", via: \"fd00::2\"}\n"
	"  - {network: blue, prefix: 172.16.0.0/12, interface: p0.100}\n";

static char run_dir[96];

static void
remove_run_dir(void)
{
	char p[160];

	snprintf(p, sizeof(p), "%s/nsm.sock", run_dir);
	unlink(p);
	rmdir(run_dir);
}

static void
fz_ctl_new(struct fz_ctl *f, bool nsm)
{
	struct mg_model_limits lim = {.routes = 256, .neighbors = 256};
	struct mg_ctl_conf cc;
	struct mg_ctl_env env;
	struct mg_settings st;
	struct mg_config_errors errs = {0};
	struct mg_error err;
	bool restored;

	if (run_dir[0] == '\0') {
		snprintf(run_dir, sizeof(run_dir), "/tmp/mgfz-ctl-%d", getpid());
		atexit(remove_run_dir);
	}
	memset(f, 0, sizeof(*f));
	f->model = mg_model_create(&lim);
	FZ_SETUP(f->model != NULL, "model");
	mg_settings_init(&st);
	if (mg_config_load_string("fixture.yaml", fixture_yaml, strlen(fixture_yaml), &st, f->model,
				  &errs) != 0)
		FZ_SETUP(0, "fixture: %s", errs.msgs[0]);
	mg_config_errors_free(&errs);
	mg_settings_free(&st);

	memset(&cc, 0, sizeof(cc));
	mg_strlcpy(cc.run_dir, run_dir, sizeof(cc.run_dir));
	if (nsm) {
		snprintf(f->nsm_socket, sizeof(f->nsm_socket), "%s/nsm.sock", run_dir);
		mg_strlcpy(cc.nsm_socket, f->nsm_socket, sizeof(cc.nsm_socket));
	}
	cc.max_body = 64 * 1024;
	cc.max_lifetime_s = 600;
	mg_strlcpy(cc.node_name, "fuzz-gw", sizeof(cc.node_name));
	mg_strlcpy(cc.file_prefix, "mgfz", sizeof(cc.file_prefix));
	memset(&env, 0, sizeof(env));
	env.model = f->model;
	f->ctl = mg_ctl_create(&cc, &env, &restored, &err);
	FZ_SETUP(f->ctl != NULL, "control plane: %s: %s", err.field, err.msg);
	/* REST is not listening (no socket needed below libmicrohttpd): set its token. */
	f->ctl->token_len = strlen(FZ_CTL_TOKEN);
	memcpy(f->ctl->token, FZ_CTL_TOKEN, f->ctl->token_len);
}

/* What the model holds, as one line (names, addresses, routes, neighbors). */
static void
fingerprint(const struct mg_model *m, char *out, size_t n)
{
	FILE *fp = fmemopen(out, n, "w");
	const struct mg_route *r;
	const struct mg_neigh *nb;
	uint32_t cur = 0;
	char a[64];

	FZ_SETUP(fp != NULL, "fmemopen");
	for (uint16_t i = 0; i < mg_model_network_max(); i++) {
		const struct mg_network *nw = mg_model_network_get(m, i);

		if (nw != NULL)
			fprintf(fp, "net %s %u %u;", nw->spec.name, nw->nifaces, nw->nroutes);
	}
	for (uint16_t i = 0; i < mg_model_iface_max(); i++) {
		const struct mg_iface *ifc = mg_model_iface_get(m, i);

		if (ifc == NULL)
			continue;
		fprintf(fp, "if %s %u %u %u %u %u;", ifc->name, ifc->network, ifc->mtu, ifc->naddr4,
			ifc->naddr6, ifc->nroutes);
	}
	while ((r = mg_model_route_next(m, &cur)) != NULL) {
		mg_prefix_fmt(&r->prefix, a, sizeof(a));
		fprintf(fp, "rt %u %s %d %u;", r->network, a, (int)r->action, r->iface);
	}
	cur = 0;
	while ((nb = mg_model_neigh_next(m, &cur)) != NULL) {
		mg_ip_fmt(&nb->ip, a, sizeof(a));
		fprintf(fp, "nb %u %s;", nb->iface, a);
	}
	fclose(fp);
}

/* Close every connection still open, each undoing what it added to the model. */
static void
close_all(struct fz_ctl *f)
{
	for (unsigned int i = 0; i < CTL_MAX_CONNS; i++) {
		struct conn *k = &f->ctl->conns[i];
		struct mg_error err;
		char id[sizeof(k->id)];

		if (!k->used)
			continue;
		mg_strlcpy(id, k->id, sizeof(id));
		FZ_ASSERT(conn_close_id(f->ctl, id, "fuzz", &err) == 0,
			  "closing connection %s: %s: %s", id, err.field, err.msg);
	}
	FZ_ASSERT(f->ctl->nconns == 0, "%u connections left after closing all", f->ctl->nconns);
}

static void
destroy(struct fz_ctl *f)
{
	mg_ctl_destroy(f->ctl);
	mg_model_destroy(f->model);
	memset(f, 0, sizeof(*f));
}

static struct fz_ctl kept;
static bool kept_nsm;

struct fz_ctl *
fz_ctl_get(bool nsm)
{
	if (kept.ctl != NULL && kept_nsm != nsm)
		destroy(&kept);
	if (kept.ctl == NULL) {
		fz_ctl_new(&kept, nsm);
		kept_nsm = nsm;
	}
	return &kept;
}

void
fz_ctl_put(struct fz_ctl *f, bool must_be_pristine)
{
	static char fixture[8192];
	char now[sizeof(fixture)];

	if (fixture[0] == '\0') {
		struct fz_ctl g;

		fz_ctl_new(&g, false);
		fingerprint(g.model, fixture, sizeof(fixture));
		destroy(&g);
	}
	close_all(f);
	fingerprint(f->model, now, sizeof(now));
	if (must_be_pristine)
		FZ_ASSERT(strcmp(now, fixture) == 0,
			  "the model differs from the fixture after closing every connection:\n"
			  "%s\nfixture:\n%s", now, fixture);
	/* Changed: the next input gets a fresh one. */
	if (strcmp(now, fixture) != 0)
		destroy(f);
}
