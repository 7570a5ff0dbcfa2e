/* SPDX-License-Identifier: BSD-3-Clause */
#include <ctype.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mg_common.h"

int
mg_error_set(struct mg_error *err, int code, const char *field,
	     const char *fmt, ...)
{
	va_list ap;

	if (err != NULL) {
		err->code = code;
		mg_strlcpy(err->field, field ? field : "", sizeof(err->field));
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return -code;
}

void
mg_error_prefix_field(struct mg_error *err, const char *fmt, ...)
{
	char prefix[64], tmp[sizeof(err->field)];
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	if (err->field[0] == '\0')
		snprintf(tmp, sizeof(tmp), "%s", prefix);
	else if (err->field[0] == '[')
		snprintf(tmp, sizeof(tmp), "%s%s", prefix, err->field);
	else
		snprintf(tmp, sizeof(tmp), "%s.%s", prefix, err->field);
	memcpy(err->field, tmp, sizeof(tmp));
}

void
mg_error_prefix_entry(struct mg_error *err, const char *list, unsigned int i)
{
	size_t n = strlen(list);

	if (err == NULL || strncmp(err->field, "limits.", 7) == 0 ||
	    (strncmp(err->field, list, n) == 0 && err->field[n] == '['))
		return;
	mg_error_prefix_field(err, "%s[%u]", list, i);
}

bool
mg_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size == 0)
		return false;
	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return false;
	}
	memcpy(dst, src, n + 1);
	return true;
}

bool
mg_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= MG_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!isalnum(c) && c != '_' && c != '-' && c != '.' && c != ':')
			return false;
	}
	return true;
}

void
mg_wipe(void *p, size_t n)
{
	if (p == NULL || n == 0)
		return;
	memset(p, 0, n);
	/* Keep the compiler from treating the store as dead. */
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

char *
mg_error_text_unquoted(char *text)
{
	char *near = strstr(text, " near ");

	if (near != NULL)
		*near = '\0';
	return text;
}

void
mg_free_wiped(void *p)
{
	if (p == NULL)
		return;
	mg_wipe(p, malloc_usable_size(p));
	free(p);
}

void *
mg_realloc_wiped(void *p, size_t n)
{
	void *q = malloc(n);

	if (q == NULL)
		return NULL;
	if (p != NULL) {
		size_t have = malloc_usable_size(p);

		memcpy(q, p, have < n ? have : n);
		mg_free_wiped(p);
	}
	return q;
}

uint64_t
mg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
