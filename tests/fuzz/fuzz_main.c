/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A stand-in for libFuzzer's main, for harnesses built without clang (the
 * ordinary gcc build): it runs each input file given, or each file in each
 * directory given, once through LLVMFuzzerTestOneInput. Arguments starting
 * with '-' (libFuzzer's options) are ignored, so the replay command line is
 * the same for both builds:  fuzz_NAME -runs=0 CORPUS_DIR REGRESSION_DIR
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static unsigned int ran;

static void
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, r;

	FZ_SETUP(f != NULL, "cannot open %s: %s", path, strerror(errno));
	do {
		if (len == cap) {
			cap = cap ? 2 * cap : 4096;
			buf = realloc(buf, cap);
			FZ_SETUP(buf != NULL, "out of memory");
		}
		r = fread(buf + len, 1, cap - len, f);
		len += r;
	} while (r > 0);
	fclose(f);
	/* An exact-size copy, so reading past the input is caught by ASan builds. */
	{
		uint8_t *in = malloc(len ? len : 1);

		FZ_SETUP(in != NULL, "out of memory");
		memcpy(in, buf, len);
		free(buf);
		if (getenv("MG_FUZZ_VERBOSE"))
			fprintf(stderr, "running %s (%zu bytes)\n", path, len);
		LLVMFuzzerTestOneInput(in, len);
		free(in);
	}
	ran++;
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int
main(int argc, char **argv)
{
	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		struct dirent **ents;
		struct stat st;
		int n;

		if (argv[i][0] == '-')
			continue;
		FZ_SETUP(stat(argv[i], &st) == 0, "%s: %s", argv[i], strerror(errno));
		if (!S_ISDIR(st.st_mode)) {
			run_file(argv[i]);
			continue;
		}
		n = scandir(argv[i], &ents, NULL, by_name);
		FZ_SETUP(n >= 0, "%s: %s", argv[i], strerror(errno));
		for (int k = 0; k < n; k++) {
			char path[4096];

			snprintf(path, sizeof(path), "%s/%s", argv[i], ents[k]->d_name);
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && ents[k]->d_name[0] != '.')
				run_file(path);
			free(ents[k]);
		}
		free(ents);
	}
	printf("replayed %u inputs\n", ran);
	return 0;
}
