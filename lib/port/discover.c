/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Device discovery in a Kubernetes pod. The SR-IOV network device plugin puts
 * the PCI addresses it handed out in PCIDEVICE_<RESOURCE> (comma-separated)
 * and describes each in PCIDEVICE_<RESOURCE>_INFO (a JSON object keyed by PCI
 * address); Multus lists the pod's attachments, each with its
 * device-info.pci.pci-address, in the k8s.v1.cni.cncf.io/network-status
 * annotation, which the downward API writes to a file as KEY="VALUE" lines
 * (VALUE quoted the way Go's %q quotes). Nothing here touches DPDK.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mg_port.h"

#define PCI_ADDR_LEN 16      /* "dddd:bb:dd.f" and its NUL, rounded up */
#define MAX_LISTED 64        /* devices in one resource */
#define DEVARGS_MAX 256      /* a resolved device: a PCI address or a vdev string */
#define MAX_ANNOTATIONS_FILE (1u << 20) /* Kubernetes caps annotations at 256 KiB */

static const char status_key[] = "k8s.v1.cni.cncf.io/network-status";
/* Multus before 4.0 also wrote (and older ones only wrote) the plural form. */
static const char status_key_old[] = "k8s.v1.cni.cncf.io/networks-status";

/* PCI addresses in the order a source gave them. */
struct pci_list {
	char addr[MAX_LISTED][PCI_ADDR_LEN];
	unsigned int n;
};

int
mg_port_pci_normalise(const char *in, char *out, size_t size)
{
	unsigned int dom = 0, bus, dev, fn;
	int n = 0;

	if (sscanf(in, "%4x:%2x:%2x.%1x%n", &dom, &bus, &dev, &fn, &n) == 4 && in[n] == '\0')
		;
	else if ((n = 0, sscanf(in, "%2x:%2x.%1x%n", &bus, &dev, &fn, &n)) == 3 && in[n] == '\0')
		dom = 0;
	else
		return -EINVAL;
	snprintf(out, size, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
	return 0;
}

/* True if @p l holds @p addr. */
static bool
list_has(const struct pci_list *l, const char *addr)
{
	for (unsigned int i = 0; i < l->n; i++)
		if (strcmp(l->addr[i], addr) == 0)
			return true;
	return false;
}

/* ---- PCIDEVICE_<RESOURCE> and PCIDEVICE_<RESOURCE>_INFO ------------------------- */

/* Split the comma-separated list in variable @p var (value @p val) into @p l. */
static int
env_list_parse(const char *var, const char *val, struct pci_list *l, struct mg_error *err)
{
	char *copy = strdup(val), *save = NULL, *tok;
	int rc = 0;

	if (copy == NULL)
		return mg_error_set(err, ENOMEM, "device", "out of memory reading %s", var);
	l->n = 0;
	for (tok = strtok_r(copy, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
		if (l->n == MAX_LISTED) {
			rc = mg_error_set(err, E2BIG, "device", "%s lists more than %u devices", var,
					  MAX_LISTED);
			break;
		}
		if (mg_port_pci_normalise(tok, l->addr[l->n], PCI_ADDR_LEN) < 0) {
			rc = mg_error_set(err, EINVAL, "device",
					  "%s holds '%s', which is not a PCI address", var, tok);
			break;
		}
		l->n++;
	}
	free(copy);
	return rc;
}

/*
 * Read the device plugin's _INFO JSON from variable @p var (value @p val)
 * into @p l, in ascending address order: each key must be a PCI address and
 * its generic.deviceID, when given, the same address.
 */
static int
env_info_parse(const char *var, const char *val, struct pci_list *l, struct mg_error *err)
{
	json_error_t jerr;
	json_t *root = json_loads(val, JSON_REJECT_DUPLICATES, &jerr), *dev;
	const char *key;
	int rc = 0;

	l->n = 0;
	if (root == NULL)
		return mg_error_set(err, EINVAL, "device", "%s is not valid JSON: %s (column %d)",
				    var, jerr.text, jerr.column);
	if (!json_is_object(root)) {
		json_decref(root);
		return mg_error_set(err, EINVAL, "device",
				    "%s is not a JSON object keyed by PCI address", var);
	}
	json_object_foreach(root, key, dev) {
		const char *id = json_string_value(json_object_get(json_object_get(dev, "generic"),
								   "deviceID"));
		char norm[PCI_ADDR_LEN];
		unsigned int i;

		if (l->n == MAX_LISTED) {
			rc = mg_error_set(err, E2BIG, "device", "%s describes more than %u devices",
					  var, MAX_LISTED);
			break;
		}
		if (mg_port_pci_normalise(key, l->addr[l->n], PCI_ADDR_LEN) < 0) {
			rc = mg_error_set(err, EINVAL, "device",
					  "%s describes '%s', which is not a PCI address", var, key);
			break;
		}
		if (!json_is_object(dev) ||
		    (id != NULL && (mg_port_pci_normalise(id, norm, sizeof(norm)) < 0 ||
				    strcmp(norm, l->addr[l->n]) != 0))) {
			rc = mg_error_set(err, EINVAL, "device",
					  "%s: the entry of %s is not an object whose "
					  "generic.deviceID is that address", var, key);
			break;
		}
		/* Keep the list sorted: the JSON's key order means nothing. */
		for (i = l->n; i > 0 && strcmp(l->addr[i - 1], l->addr[l->n]) > 0; i--)
			;
		memcpy(norm, l->addr[l->n], sizeof(norm));
		memmove(l->addr[i + 1], l->addr[i], (l->n - i) * sizeof(l->addr[0]));
		memcpy(l->addr[i], norm, sizeof(norm));
		l->n++;
	}
	json_decref(root);
	return rc;
}

int
mg_port_discover_env(const char *spec, char *out, size_t size, struct mg_error *err)
{
	const char *hash = strchr(spec, '#'), *val, *info;
	unsigned long idx = hash ? strtoul(hash + 1, NULL, 10) : 0;
	size_t len = hash ? (size_t)(hash - spec) : strlen(spec);
	char var[128], info_var[sizeof(var) + 5];
	struct pci_list *list = NULL, *described = NULL;
	int rc = 0;

	if (len == 0 || len >= sizeof(var))
		return mg_error_set(err, EINVAL, "device", "'env:%s': the variable name must have "
				    "1-%zu characters", spec, sizeof(var) - 1);
	memcpy(var, spec, len);
	var[len] = '\0';
	snprintf(info_var, sizeof(info_var), "%s_INFO", var);
	val = getenv(var);
	info = getenv(info_var);
	if ((val == NULL || *val == '\0') && (info == NULL || *info == '\0'))
		return mg_error_set(err, ENOENT, "device",
				    "environment variable %s is not set (does the pod request the "
				    "SR-IOV resource?)", var);
	list = calloc(1, sizeof(*list));
	described = calloc(1, sizeof(*described));
	if (list == NULL || described == NULL) {
		rc = mg_error_set(err, ENOMEM, "device", "out of memory reading %s", var);
		goto out;
	}
	if (val != NULL && *val != '\0') {
		rc = env_list_parse(var, val, list, err);
		if (rc < 0)
			goto out;
	}
	if (info != NULL && *info != '\0') {
		rc = env_info_parse(info_var, info, described, err);
		if (rc < 0)
			goto out;
		if (val == NULL || *val == '\0') {
			/* Only the JSON is there: its addresses, in order. */
			memcpy(list, described, sizeof(*list));
		} else {
			for (unsigned int i = 0; i < list->n && rc == 0; i++)
				if (!list_has(described, list->addr[i]))
					rc = mg_error_set(err, EINVAL, "device",
							  "%s lists %s but %s does not describe "
							  "it", var, list->addr[i], info_var);
			for (unsigned int i = 0; i < described->n && rc == 0; i++)
				if (!list_has(list, described->addr[i]))
					rc = mg_error_set(err, EINVAL, "device",
							  "%s describes %s but %s does not list "
							  "it", info_var, described->addr[i], var);
			if (rc < 0)
				goto out;
		}
	}
	if (idx >= list->n) {
		rc = mg_error_set(err, ERANGE, "device",
				  "%s lists %u device(s); entry #%lu does not exist", var, list->n,
				  idx);
		goto out;
	}
	mg_strlcpy(out, list->addr[idx], size);
out:
	free(list);
	free(described);
	return rc;
}

/* ---- k8s:ATTACHMENT: Multus's network-status annotation ------------------------------ */

/* Append the UTF-8 encoding of code point @p cp at @p o; returns the new end. */
static char *
utf8_put(char *o, unsigned long cp)
{
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xc0 | (cp >> 6));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xe0 | (cp >> 12));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (char)(0xf0 | (cp >> 18));
		*o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	return o;
}

/* The value of @p n hex digits at @p s, or -1 if they are not all hex. */
static long
hex_at(const char *s, int n)
{
	long v = 0;

	for (int i = 0; i < n; i++) {
		int c = s[i], d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/*
 * Decode the Go-quoted string at @p in (the downward API writes values with
 * %q) into a new string. NULL if @p in is not one quoted string ending the
 * line, or if it decodes to something holding a NUL.
 */
static char *
go_unquote(const char *in)
{
	size_t len = strcspn(in, "\n");
	const char *p, *end = in + len;
	char *out, *o;
	long v;

	if (len < 2 || in[0] != '"')
		return NULL;
	/* No escape decodes to more bytes than it takes: \xHH 4 for 1, \uHHHH 6 for 3. */
	out = malloc(len + 1);
	if (out == NULL)
		return NULL;
	o = out;
	for (p = in + 1; p < end && *p != '"'; p++) {
		if (*p != '\\') {
			*o++ = *p;
			continue;
		}
		switch (*++p) {
		case 'a': *o++ = '\a'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'v': *o++ = '\v'; break;
		case '\\': case '"': case '\'': *o++ = *p; break;
		case 'x':
		case 'u':
		case 'U': {
			int digits = *p == 'x' ? 2 : *p == 'u' ? 4 : 8;

			v = hex_at(p + 1, digits);
			if (v < 0 || v > 0x10ffff)
				goto bad;
			if (*p == 'x')
				*o++ = (char)v;
			else
				o = utf8_put(o, (unsigned long)v);
			p += digits;
			break;
		}
		case '0': case '1': case '2': case '3':
			if (p[1] < '0' || p[1] > '7' || p[2] < '0' || p[2] > '7')
				goto bad;
			*o++ = (char)((p[0] - '0') * 64 + (p[1] - '0') * 8 + (p[2] - '0'));
			p += 2;
			break;
		default:
			goto bad;
		}
	}
	if (p != end - 1 || *p != '"' || memchr(out, '\0', (size_t)(o - out)) != NULL)
		goto bad;
	*o = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

/* The whole file @p path, NUL-terminated, or NULL with errno set. */
static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = malloc(MAX_ANNOTATIONS_FILE + 1);
	if (buf == NULL) {
		fclose(f);
		errno = ENOMEM;
		return NULL;
	}
	n = fread(buf, 1, MAX_ANNOTATIONS_FILE + 1, f);
	if (ferror(f) || n > MAX_ANNOTATIONS_FILE) {
		int e = ferror(f) ? EIO : EFBIG;

		fclose(f);
		free(buf);
		errno = e;
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/*
 * The network-status annotation of the downward API file @p path, as parsed
 * JSON, or NULL with @p err set.
 */
static json_t *
network_status_load(const char *path, const char *src, struct mg_error *err)
{
	const char *keys[] = {status_key, status_key_old};
	char *text = read_file(path), *value = NULL;
	json_error_t jerr;
	json_t *root;

	if (text == NULL) {
		mg_error_set(err, errno == ENOENT ? ENOENT : errno, "device",
			     "cannot read %s%s: %s (mount the downward API's metadata.annotations "
			     "there, or set MESHGATE_PODINFO_ANNOTATIONS)", path, src,
			     strerror(errno));
		return NULL;
	}
	for (unsigned int k = 0; k < MG_ARRAY_SIZE(keys) && value == NULL; k++) {
		size_t klen = strlen(keys[k]);
		unsigned int line = 1;

		for (const char *l = text; *l != '\0'; line++) {
			const char *nl = strchr(l, '\n');

			if (strncmp(l, keys[k], klen) == 0 && l[klen] == '=') {
				value = go_unquote(l + klen + 1);
				if (value == NULL) {
					mg_error_set(err, EINVAL, "device",
						     "%s:%u: the %s annotation is not a quoted string",
						     path, line, keys[k]);
					free(text);
					return NULL;
				}
				break;
			}
			if (nl == NULL)
				break;
			l = nl + 1;
		}
	}
	free(text);
	if (value == NULL) {
		mg_error_set(err, ENODATA, "device",
			     "%s has no %s annotation (is Multus running, and does the pod ask for "
			     "the attachment in k8s.v1.cni.cncf.io/networks?)", path, status_key);
		return NULL;
	}
	root = json_loads(value, 0, &jerr);
	free(value);
	if (root == NULL) {
		mg_error_set(err, EINVAL, "device",
			     "the %s annotation in %s is not valid JSON: %s (line %d, column %d)",
			     status_key, path, jerr.text, jerr.line, jerr.column);
		return NULL;
	}
	if (!json_is_array(root)) {
		json_decref(root);
		mg_error_set(err, EINVAL, "device", "the %s annotation in %s is not a JSON list",
			     status_key, path);
		return NULL;
	}
	return root;
}

/*
 * True if network-status entry name @p have (Multus writes "namespace/name"
 * for attachments) is what the user asked for: @p want with a namespace must
 * match it exactly, without one it matches the name in any namespace.
 */
static bool
attachment_matches(const char *have, const char *want)
{
	const char *slash = strchr(have, '/');

	if (strcmp(have, want) == 0)
		return true;
	return strchr(want, '/') == NULL && slash != NULL && strcmp(slash + 1, want) == 0;
}

/*
 * Split "[NAMESPACE/]ATTACHMENT[@INTERFACE]" into @p want (with its
 * namespace) and @p iface (NULL when not given); false if malformed.
 */
static bool
attachment_parse(const char *spec, char *want, size_t size, const char **iface)
{
	const char *slash = strchr(spec, '/'), *at = strchr(spec, '@');
	size_t len = at ? (size_t)(at - spec) : strlen(spec);

	*iface = NULL;
	if (len == 0 || len >= size || spec[len - 1] == '/' || spec[0] == '/')
		return false;
	if (slash != NULL && (strchr(slash + 1, '/') != NULL || (at != NULL && slash > at)))
		return false;
	if (at != NULL && (at[1] == '\0' || strchr(at + 1, '@') != NULL))
		return false;
	memcpy(want, spec, len);
	want[len] = '\0';
	if (at != NULL)
		*iface = at + 1;
	return true;
}

int
mg_port_discover_k8s(const char *spec, char *out, size_t size, struct mg_error *err)
{
	const char *env = getenv("MESHGATE_PODINFO_ANNOTATIONS");
	const char *path = env != NULL && *env != '\0' ? env : MG_PODINFO_ANNOTATIONS;
	const char *src = path == env ? " (MESHGATE_PODINFO_ANNOTATIONS)" : "";
	char want[256], names[160] = "";
	const char *iface = NULL, *addr, *found_name = NULL, *found_if = NULL;
	const json_t *found = NULL;
	json_t *status, *entry;
	size_t i, off = 0;
	int rc = 0;

	if (!attachment_parse(spec, want, sizeof(want), &iface))
		return mg_error_set(err, EINVAL, "device",
				    "'k8s:%s' is not k8s:[NAMESPACE/]ATTACHMENT[@INTERFACE]", spec);
	status = network_status_load(path, src, err);
	if (status == NULL)
		return -err->code;
	json_array_foreach(status, i, entry) {
		const char *name = json_string_value(json_object_get(entry, "name"));
		const char *ifn = json_string_value(json_object_get(entry, "interface"));

		if (name == NULL)
			continue;
		if (off < sizeof(names))
			off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s", off ? ", " : "",
						name);
		if (!attachment_matches(name, want) || (iface != NULL && (ifn == NULL ||
									 strcmp(ifn, iface) != 0)))
			continue;
		if (found != NULL) {
			rc = mg_error_set(err, EINVAL, "device",
					  "attachment '%s' matches both %s (interface %s) and %s "
					  "(interface %s) in the %s annotation in %s: add @INTERFACE or "
					  "the namespace", spec, found_name, found_if ? found_if : "?",
					  name, ifn ? ifn : "?", status_key, path);
			goto out;
		}
		found = entry;
		found_name = name;
		found_if = ifn;
	}
	if (found == NULL) {
		rc = mg_error_set(err, EINVAL, "device",
				  "attachment '%s' is not in the %s annotation in %s (it lists: %s)",
				  spec, status_key, path, names[0] ? names : "nothing");
		goto out;
	}
	addr = json_string_value(json_object_get(
		json_object_get(json_object_get(found, "device-info"), "pci"), "pci-address"));
	if (addr == NULL) {
		rc = mg_error_set(err, EINVAL, "device",
				  "attachment %s (interface %s) in the %s annotation in %s has no "
				  "device-info.pci.pci-address (is it an SR-IOV network?)", found_name,
				  found_if ? found_if : "?", status_key, path);
		goto out;
	}
	if (mg_port_pci_normalise(addr, out, size) < 0)
		rc = mg_error_set(err, EINVAL, "device",
				  "attachment %s in the %s annotation in %s has pci-address '%s', "
				  "which is not a PCI address", found_name, status_key, path, addr);
out:
	json_decref(status);
	return rc;
}

/* ---- every port at once ------------------------------------------------------------ */

unsigned int
mg_port_devices_check(const struct mg_port_devref *ports, unsigned int n, bool lenient, FILE *out)
{
	char (*dev)[DEVARGS_MAX] = calloc(n ? n : 1, sizeof(*dev));
	unsigned int nerr = 0;
	struct mg_error err;

	if (dev == NULL) {
		fprintf(out, "meshgate: out of memory checking the ports' devices\n");
		return 1;
	}
	for (unsigned int i = 0; i < n; i++) {
		mg_error_clear(&err);
		if (mg_port_resolve_device(ports[i].device, dev[i], sizeof(dev[i]), &err) < 0) {
			dev[i][0] = '\0';
			if (lenient && err.code == ENOENT) {
				/* Not in the pod (or not on the host): only a start can tell. */
				fprintf(out, "%s: ports[%s].device: warning: %s; meshgate would not "
					"start like this\n", ports[i].origin, ports[i].name, err.msg);
				continue;
			}
			fprintf(out, "%s: ports[%s].device: %s\n", ports[i].origin, ports[i].name,
				err.msg);
			nerr++;
			continue;
		}
		if (!mg_port_is_pci(dev[i]))
			continue;
		for (unsigned int k = 0; k < i; k++)
			if (strcmp(dev[k], dev[i]) == 0) {
				fprintf(out, "%s: ports[%s].device: '%s' is PCI device %s, which port "
					"'%s' ('%s') uses too\n", ports[i].origin, ports[i].name,
					ports[i].device, dev[i], ports[k].name, ports[k].device);
				nerr++;
				break;
			}
	}
	free(dev);
	return nerr;
}
