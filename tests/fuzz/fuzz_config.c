/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Harness "config": a configuration file, loaded by lib/config (libyaml,
 * then every section turned into settings and model requests) into a
 * fresh model.
 *
 * Input: the file's bytes.
 *
 * Checked: every error names the file and its position (FILE:LINE:COLUMN),
 * the loader's count matches the messages it collected, and a file that
 * loads without error loads again, from the same bytes, to the same model.
 */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "mg_config.h"
#include "mg_model.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_quiet_logs();
	return 0;
}

static unsigned int
load(const uint8_t *data, size_t size, struct mg_model **m, struct mg_settings *st,
     struct mg_config_errors *errs)
{
	struct mg_model_limits lim = {.routes = 1024, .neighbors = 1024};

	*m = mg_model_create(&lim);
	FZ_SETUP(*m != NULL, "model");
	mg_settings_init(st);
	memset(errs, 0, sizeof(*errs));
	return mg_config_load_string("fuzz.yaml", (const char *)data, size, st, *m, errs);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mg_config_errors errs;
	struct mg_settings st;
	struct mg_model *m;
	unsigned int n;

	if (size > 64 * 1024)
		return 0;
	n = load(data, size, &m, &st, &errs);
	FZ_ASSERT(n == errs.n, "%u errors counted, %u collected", n, errs.n);
	for (unsigned int i = 0; i < errs.n; i++) {
		unsigned int line, col;
		int at = 0;

		FZ_ASSERT(sscanf(errs.msgs[i], "fuzz.yaml:%u:%u: %n", &line, &col, &at) == 2 &&
				  at > 0 && line >= 1 && col >= 1,
			  "error without FILE:LINE:COLUMN: %s", errs.msgs[i]);
	}
	if (n == 0) {
		struct mg_config_errors errs2;
		struct mg_settings st2;
		struct mg_model *m2;

		FZ_ASSERT(load(data, size, &m2, &st2, &errs2) == 0, "second load failed: %s",
			  errs2.msgs[0]);
		FZ_ASSERT(mg_model_route_count(m) == mg_model_route_count(m2),
			  "%u routes, then %u", mg_model_route_count(m), mg_model_route_count(m2));
		mg_model_destroy(m2);
		mg_settings_free(&st2);
		mg_config_errors_free(&errs2);
	}
	mg_model_destroy(m);
	mg_settings_free(&st);
	mg_config_errors_free(&errs);
	return 0;
}
