/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Output: aligned tables for lists, "key: value" lines for one object, JSON
 * as the gateway sent it, and the messages of errors.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* Largest input file read (a batch, a request). */
#define FILE_MAX (64u << 20)

/* Rows of cells kept until printed, when every column's width is known. */
struct table {
	unsigned int ncols;
	unsigned int nrows, cap;     /* rows, the header included */
	char **cells;                /* nrows * ncols */
	bool *right;                 /* per column */
};

struct table *
table_new(unsigned int ncols, const char *const *headers)
{
	struct table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->ncols = ncols;
	t->right = calloc(ncols, sizeof(*t->right));
	if (t->right == NULL) {
		free(t);
		return NULL;
	}
	{
		const char *h[ncols];

		for (unsigned int i = 0; i < ncols; i++) {
			t->right[i] = headers[i][0] == '>';
			h[i] = headers[i] + (t->right[i] ? 1 : 0);
		}
		table_row(t, h);
	}
	return t;
}

void
table_row(struct table *t, const char *const *cells)
{
	if (t == NULL)
		return;
	if (t->nrows == t->cap) {
		unsigned int cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, (size_t)cap * t->ncols * sizeof(*c));

		if (c == NULL)
			return;
		t->cells = c;
		t->cap = cap;
	}
	for (unsigned int i = 0; i < t->ncols; i++)
		t->cells[(size_t)t->nrows * t->ncols + i] =
			strdup(cells[i] != NULL && cells[i][0] != '\0' ? cells[i] : "-");
	t->nrows++;
}

void
table_print(struct table *t)
{
	size_t *w;

	if (t == NULL)
		return;
	w = calloc(t->ncols, sizeof(*w));
	for (unsigned int r = 0; w != NULL && r < t->nrows; r++)
		for (unsigned int i = 0; i < t->ncols; i++) {
			const char *s = t->cells[(size_t)r * t->ncols + i];
			size_t l = s ? strlen(s) : 0;

			if (l > w[i])
				w[i] = l;
		}
	for (unsigned int r = 0; w != NULL && r < t->nrows; r++) {
		for (unsigned int i = 0; i < t->ncols; i++) {
			const char *s = t->cells[(size_t)r * t->ncols + i];
			bool last = i + 1 == t->ncols;

			if (s == NULL)
				s = "";
			if (t->right[i])
				printf("%*s", (int)w[i], s);
			else if (last)
				fputs(s, stdout);
			else
				printf("%-*s", (int)w[i], s);
			if (!last)
				fputs("  ", stdout);
		}
		putchar('\n');
	}
	for (size_t i = 0; i < (size_t)t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->right);
	free(w);
	free(t);
}

const char *
out_scalar(json_t *v, char *buf, size_t n)
{
	if (v == NULL) {
		snprintf(buf, n, "-");
		return buf;
	}
	switch (json_typeof(v)) {
	case JSON_STRING:
		snprintf(buf, n, "%s", json_string_value(v));
		break;
	case JSON_INTEGER:
		snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		snprintf(buf, n, "%.15g", json_real_value(v)); /* epoch seconds stay whole */
		break;
	case JSON_TRUE:
		snprintf(buf, n, "true");
		break;
	case JSON_FALSE:
		snprintf(buf, n, "false");
		break;
	default:
		snprintf(buf, n, "-");
		break;
	}
	if (buf[0] == '\0')
		snprintf(buf, n, "-");
	return buf;
}

const char *
out_join(json_t *a, const char *sep, char *buf, size_t n)
{
	size_t i, o = 0;
	json_t *e;

	buf[0] = '\0';
	json_array_foreach(a, i, e) {
		char s[256];
		int w = snprintf(buf + o, n - o, "%s%s", i ? sep : "", out_scalar(e, s, sizeof(s)));

		if (w < 0 || (size_t)w >= n - o)
			break;
		o += (size_t)w;
	}
	return buf;
}

json_t *
jget(json_t *o, const char *snake, const char *camel)
{
	json_t *v = json_object_get(o, snake);

	return v != NULL || camel == NULL ? v : json_object_get(o, camel);
}

/* True if every element of @a is a scalar. */
static bool
all_scalars(json_t *a)
{
	size_t i;
	json_t *e;

	json_array_foreach(a, i, e)
		if (json_is_object(e) || json_is_array(e))
			return false;
	return true;
}

const char *
out_key_text(const char *k, char *buf, size_t n)
{
	size_t i;

	for (i = 0; k[i] != '\0' && i + 1 < n; i++)
		buf[i] = k[i] == '_' ? '-' : k[i];
	buf[i] = '\0';
	return buf;
}

/* One level of key: value lines at @indent, keys padded to one width. */
static void
kv(json_t *o, int indent)
{
	const char *k;
	json_t *v;
	int w = 0;

	json_object_foreach(o, k, v)
		if ((int)strlen(k) > w && strcmp(k, "token") != 0)
			w = (int)strlen(k);
	json_object_foreach(o, k, v) {
		char buf[4096], key[256];

		/* Path segment tokens are credentials: --json shows them, this does not. */
		if (strcmp(k, "token") == 0)
			continue;
		out_key_text(k, key, sizeof(key));
		if (json_is_object(v) && json_object_size(v) > 0) {
			printf("%*s%s:\n", indent, "", key);
			kv(v, indent + 2);
		} else if (json_is_array(v) && !all_scalars(v)) {
			size_t i;
			json_t *e;

			printf("%*s%s:\n", indent, "", key);
			json_array_foreach(v, i, e) {
				printf("%*s[%zu]:\n", indent + 2, "", i);
				if (json_is_object(e))
					kv(e, indent + 4);
				else
					printf("%*s%s\n", indent + 4, "", out_scalar(e, buf, sizeof(buf)));
			}
		} else {
			const char *s = json_is_array(v)	  ? out_join(v, " ", buf, sizeof(buf))
					: json_is_object(v) ? ""
							    : out_scalar(v, buf, sizeof(buf));

			printf("%*s%s:%*s %s\n", indent, "", key, w - (int)strlen(k), "",
			       s[0] ? s : "-");
		}
	}
}

void
out_kv(json_t *v)
{
	if (json_is_array(v)) {
		size_t i;
		json_t *e;

		json_array_foreach(v, i, e) {
			if (i)
				putchar('\n');
			out_kv(e);
		}
	} else if (json_is_object(v)) {
		kv(v, 0);
	} else if (v != NULL) {
		char buf[4096];

		printf("%s\n", out_scalar(v, buf, sizeof(buf)));
	}
}

/* A connection's mechanism in a few words: its type and where it attaches. */
static const char *
mechanism_text(json_t *mech, char *buf, size_t n)
{
	json_t *p = json_object_get(mech, "parameters");
	const char *type = json_string_value(json_object_get(mech, "type"));
	const char *base = json_string_value(json_object_get(p, "base"));
	const char *vid = json_string_value(jget(p, "vlan-id", "vlanID"));
	const char *name = json_string_value(json_object_get(p, "name"));
	const char *sock = json_string_value(json_object_get(p, "socketfile"));

	if (type == NULL)
		return "-";
	if (base != NULL && vid != NULL)
		snprintf(buf, n, "%s %s.%s", type, base, vid);
	else if (name != NULL)
		snprintf(buf, n, "%s %s", type, name);
	else if (sock != NULL)
		snprintf(buf, n, "%s %s", type, sock);
	else
		snprintf(buf, n, "%s", type);
	return buf;
}

/* This hop's path segment of a connection (path.index), or NULL. */
static json_t *
own_segment(json_t *conn)
{
	json_t *path = json_object_get(conn, "path");
	json_t *segs = jget(path, "path_segments", "pathSegments");

	return json_array_get(segs, (size_t)json_integer_value(json_object_get(path, "index")));
}

/* Table cells for one connection (snake_case or protojson names); 7 of them. */
void
out_conn_cells(json_t *k, char b[7][512], const char *row[7])
{
	json_t *ipc = jget(json_object_get(k, "context"), "ip_context", "ipContext");

	row[0] = out_scalar(json_object_get(k, "id"), b[0], sizeof(b[0]));
	row[1] = out_scalar(json_object_get(k, "state"), b[1], sizeof(b[1]));
	row[2] = out_scalar(jget(k, "network_service", "networkService"), b[2], sizeof(b[2]));
	row[3] = mechanism_text(json_object_get(k, "mechanism"), b[3], sizeof(b[3]));
	row[4] = out_join(jget(ipc, "dst_ip_addrs", "dstIpAddrs"), ",", b[4], sizeof(b[4]));
	row[5] = out_join(jget(ipc, "src_ip_addrs", "srcIpAddrs"), ",", b[5], sizeof(b[5]));
	row[6] = out_scalar(json_object_get(own_segment(k), "expires"), b[6], sizeof(b[6]));
}

void
out_json(json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2));
	putchar('\n');
}

void
out_raw(const char *text, size_t len)
{
	fwrite(text, 1, len, stdout);
	if (len > 0 && text[len - 1] != '\n')
		putchar('\n');
}

void
ctl_err(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("meshgatectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
ctl_usage_err(const struct ctl_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "meshgatectl: %s%s%s: ", cmd->noun, cmd->verb ? " " : "",
		cmd->verb ? cmd->verb : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: meshgatectl %s%s%s%s%s\n", cmd->noun, cmd->verb ? " " : "",
		cmd->verb ? cmd->verb : "", cmd->args[0] ? " " : "", cmd->args);
	return CTL_EXIT_USAGE;
}

void
ctl_print_error(json_t *error, const char *where)
{
	const char *field = json_string_value(json_object_get(error, "field"));
	const char *msg = json_string_value(json_object_get(error, "message"));

	if (msg == NULL)
		msg = "(no message)";
	if (field != NULL && field[0] != '\0')
		ctl_err("%s: %s (%s)", field, msg, where);
	else
		ctl_err("%s (%s)", msg, where);
}

char *
ctl_read_file(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (f == NULL)
		return NULL;
	for (;;) {
		size_t r;

		if (cap - n < 4096) {
			char *nb;

			if (cap >= FILE_MAX) {
				errno = EFBIG;
				goto fail;
			}
			cap = cap ? cap * 2 : 8192;
			nb = mg_realloc_wiped(buf, cap); /* the file may hold keys */
			if (nb == NULL)
				goto fail;
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0) {
			if (ferror(f)) {
				errno = EIO;
				goto fail;
			}
			break;
		}
	}
	if (f != stdin)
		fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	{
		int e = errno;

		if (f != stdin)
			fclose(f);
		mg_free_wiped(buf);
		errno = e;
	}
	return NULL;
}

json_t *
ctl_load_json(const struct ctl_cmd *cmd, const char *path)
{
	const char *name = strcmp(path, "-") == 0 ? "standard input" : path;
	json_error_t je;
	size_t len;
	char *text = ctl_read_file(path, &len);
	json_t *j;

	if (text == NULL) {
		ctl_err("%s%s%s: cannot read %s: %s", cmd->noun, cmd->verb ? " " : "",
			cmd->verb ? cmd->verb : "", name, strerror(errno));
		return NULL;
	}
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	mg_free_wiped(text); /* an ESP tunnel's or a peer's keys */
	if (j == NULL)
		ctl_err("%s%s%s: %s is not valid JSON (line %d, column %d: %s)", cmd->noun,
			cmd->verb ? " " : "", cmd->verb ? cmd->verb : "", name, je.line, je.column,
			mg_error_text_unquoted(je.text));
	return j;
}
