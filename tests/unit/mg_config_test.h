/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_CONFIG_TEST_H
#define MG_CONFIG_TEST_H

/*
 * The fixture of the YAML loader's unit tests: load a document into fresh
 * settings and a fresh model, then check that it loads cleanly or fails
 * with an exact first message (FILE:LINE:COLUMN, field path and text).
 */

#include <string.h>

#include "mg_config.h"
#include "mg_model.h"
#include "mg_test.h"

struct loaded {
	struct mg_settings st;
	struct mg_model *m;
	struct mg_config_errors errs;
	unsigned int n;
};

static inline void
load(struct loaded *l, const char *yaml)
{
	struct mg_model_limits lim = {.routes = 1000, .neighbors = 1000};

	memset(l, 0, sizeof(*l));
	mg_settings_init(&l->st);
	l->m = mg_model_create(&lim);
	l->n = mg_config_load_string("t.yaml", yaml, strlen(yaml), &l->st, l->m, &l->errs);
}

static inline void
unload(struct loaded *l)
{
	mg_model_destroy(l->m);
	mg_settings_free(&l->st);
	mg_config_errors_free(&l->errs);
}

/* The file must fail with exactly @expected as its first error. */
static inline void
expect_error(const char *yaml, const char *expected)
{
	struct loaded l;

	load(&l, yaml);
	if (l.n == 0)
		MG_FAIL("no error, expected \"%s\"", expected);
	else
		CHECK_STR(l.errs.msgs[0], expected);
	unload(&l);
}

/* The file must load without any error. */
static inline void
expect_ok(const char *yaml)
{
	struct loaded l;

	load(&l, yaml);
	for (unsigned int i = 0; i < l.n; i++)
		MG_FAIL("unexpected error: %s", l.errs.msgs[i]);
	unload(&l);
}

#endif /* MG_CONFIG_TEST_H */
