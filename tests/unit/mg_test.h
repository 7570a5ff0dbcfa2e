/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_TEST_H
#define MG_TEST_H

/*
 * A small unit test harness. Each test binary registers cases with MG_TEST;
 *   ./test_x            runs them all and prints TAP,
 *   ./test_x --list     prints the case names,
 *   ./test_x --run NAME runs one case (exit 0 when it passes).
 * pytest collects each case as its own test (tests/conftest.py).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*mg_test_fn)(void);

struct mg_test_case {
	const char *name;
	mg_test_fn fn;
};

static struct mg_test_case mg_test_cases[512];
static unsigned int mg_test_ncases;
static unsigned int mg_test_failures;

static inline void
mg_test_register(const char *name, mg_test_fn fn)
{
	if (mg_test_ncases < sizeof(mg_test_cases) / sizeof(mg_test_cases[0]))
		mg_test_cases[mg_test_ncases++] = (struct mg_test_case){name, fn};
}

#define MG_TEST(name)                                                                      \
	static void name(void);                                                            \
	__attribute__((constructor)) static void mg_test_reg_##name(void)                  \
	{                                                                                  \
		mg_test_register(#name, name);                                             \
	}                                                                                  \
	static void name(void)

#define MG_FAIL(...)                                                                       \
	do {                                                                               \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                            \
		fprintf(stderr, __VA_ARGS__);                                              \
		fprintf(stderr, "\n");                                                     \
		if (++mg_test_failures >= 20) {                                            \
			fprintf(stderr, "too many failures, giving up\n");                 \
			exit(1);                                                           \
		}                                                                          \
	} while (0)

#define CHECK(cond)                                                                        \
	do {                                                                               \
		if (!(cond))                                                               \
			MG_FAIL("CHECK(%s) failed", #cond);                                \
	} while (0)

#define CHECK_EQ(a, b)                                                                     \
	do {                                                                               \
		long long _a = (long long)(a), _b = (long long)(b);                        \
		if (_a != _b)                                                              \
			MG_FAIL("%s == %lld, expected %s == %lld", #a, _a, #b, _b);        \
	} while (0)

#define CHECK_STR(a, b)                                                                    \
	do {                                                                               \
		const char *_a = (a), *_b = (b);                                           \
		if (_a == NULL || _b == NULL || strcmp(_a, _b) != 0)                       \
			MG_FAIL("%s is\n    \"%s\"\n  expected\n    \"%s\"", #a,              \
				_a ? _a : "(null)", _b ? _b : "(null)");                   \
	} while (0)

/* Optional per-binary set-up run before any case (e.g. EAL init). */
static void (*mg_test_setup)(void);

static inline int
mg_test_main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "--list") == 0) {
		for (unsigned int i = 0; i < mg_test_ncases; i++)
			printf("%s\n", mg_test_cases[i].name);
		return 0;
	}
	if (mg_test_setup)
		mg_test_setup();
	if (argc >= 3 && strcmp(argv[1], "--run") == 0) {
		for (unsigned int i = 0; i < mg_test_ncases; i++)
			if (strcmp(mg_test_cases[i].name, argv[2]) == 0) {
				mg_test_cases[i].fn();
				return mg_test_failures ? 1 : 0;
			}
		fprintf(stderr, "no test named %s\n", argv[2]);
		return 2;
	}
	printf("1..%u\n", mg_test_ncases);
	unsigned int bad = 0;
	for (unsigned int i = 0; i < mg_test_ncases; i++) {
		unsigned int before = mg_test_failures;

		mg_test_cases[i].fn();
		printf("%s %u - %s\n", mg_test_failures == before ? "ok" : "not ok", i + 1,
		       mg_test_cases[i].name);
		bad += mg_test_failures != before;
	}
	return bad ? 1 : 0;
}

#define MG_TEST_MAIN()                                                                     \
	int main(int argc, char **argv)                                                    \
	{                                                                                  \
		return mg_test_main(argc, argv);                                           \
	}

#endif
