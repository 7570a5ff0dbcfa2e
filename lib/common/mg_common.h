/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MG_COMMON_H
#define MG_COMMON_H

/**
 * @file
 * Small helpers shared by every meshgate library: error reports that name
 * the field at fault, bounded string copies, array sizes and secret wiping.
 * Nothing in here touches DPDK, so the model and config code built on it can
 * be unit-tested without an EAL.
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define MG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MG_NAME_MAX 32 /**< Longest object name, with its NUL. */

#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

/**
 * An error as the control plane reports it: an errno-style code, the field
 * that was wrong (a path such as "routes[2].via", or "" when the request as a
 * whole was refused) and a sentence saying what was wrong.
 */
struct mg_error {
	int code;          /**< Positive errno value (EINVAL, EEXIST, ENOENT, ENOSPC...). */
	char field[96];    /**< Field path at fault; may be empty. */
	char msg[256];     /**< Human-readable message, no trailing newline. */
};

/**
 * Fill @p err (when not NULL) and return -@p code, so callers can write
 * `return mg_error_set(err, EINVAL, "mtu", "must be ...");`.
 */
int mg_error_set(struct mg_error *err, int code, const char *field,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/** Prefix the field path of @p err with @p prefix and a dot (or nothing). */
void mg_error_prefix_field(struct mg_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * Name entry @p i of config list @p list ("services", "gateways") in the
 * field of @p err, an error of setting that entry up: "list[i]." before the
 * field, unless the field is rooted already (an entry of that list, or a
 * global setting, "limits.*", which the entry only ran into).
 */
void mg_error_prefix_entry(struct mg_error *err, const char *list, unsigned int i);

/** Clear an error. */
static inline void
mg_error_clear(struct mg_error *err)
{
	if (err != NULL) {
		err->code = 0;
		err->field[0] = '\0';
		err->msg[0] = '\0';
	}
}

/** Copy @p src into @p dst of @p size bytes; returns false if truncated. */
bool mg_strlcpy(char *dst, const char *src, size_t size);

/** True if @p name is a valid object name: 1..31 of [A-Za-z0-9_.:-]. */
bool mg_name_valid(const char *name);

/** Wipe memory that held a secret; the compiler may not elide it. */
void mg_wipe(void *p, size_t n);

/**
 * A parser's error text (jansson's json_error_t.text) cut before the token
 * it quotes ("invalid token near 'deadbeef'"): an unquoted key or salt
 * would be echoed. Cuts @p text in place and returns it.
 */
char *mg_error_text_unquoted(char *text);

/** free() block @p p of malloc() after wiping all of it (NULL: nothing). */
void mg_free_wiped(void *p);

/**
 * realloc() for buffers that may hold secrets: the data moves to a new
 * block of @p n bytes and the old block is wiped and freed (realloc would
 * leave it behind unwiped when it moves). NULL on failure, @p p untouched.
 */
void *mg_realloc_wiped(void *p, size_t n);

/** Monotonic time in nanoseconds. */
uint64_t mg_now_ns(void);

/**
 * Parse a listening address, "A.B.C.D:PORT" or "[V6]:PORT" (PORT 0-65535,
 * 0: any free one); 0, or -EINVAL.
 */
int mg_listen_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len);

/**
 * Read a bearer token from file @p path into @p buf (@p size bytes, NUL
 * included), trailing newlines and spaces cut; @p mode (if not NULL) gets
 * the file's permission bits. Returns the token's length, or a negative
 * errno with @p err (field @p field): unreadable, or fewer than 16
 * characters (@p buf then wiped).
 */
int mg_token_file_read(const char *path, const char *field, char *buf, size_t size,
		       unsigned int *mode, struct mg_error *err);

/**
 * Read a PEM file whole into a malloc()ed, NUL-terminated buffer (free it
 * with mg_free_wiped: it may be a private key); *@p len gets its length and
 * @p mode (if not NULL) its permission bits. NULL with @p err (field
 * @p field) when it cannot be read, is not a regular file of 1 byte to
 * 1 MiB, or holds no PEM block.
 */
char *mg_pem_file_read(const char *path, const char *field, size_t *len, unsigned int *mode,
		       struct mg_error *err);

/**
 * Read file @p path whole (at most @p max bytes) into a malloc()ed,
 * NUL-terminated buffer, without stdio, so that no copy of what it holds
 * (a configuration with keys) is left in a buffer nobody wipes; free it
 * with mg_free_wiped. NULL with @p err (no field) on failure.
 */
char *mg_file_read_all(const char *path, size_t max, size_t *len, struct mg_error *err);

/**
 * The first line of the regular file @p path (a key or a PSK) into @p buf
 * (@p size bytes, NUL included; the line ending cut), read without stdio.
 * Returns its length, or a negative errno with @p err (no field). The
 * caller wipes @p buf.
 */
int mg_file_line_read(const char *path, char *buf, size_t size, struct mg_error *err);

#endif /* MG_COMMON_H */
