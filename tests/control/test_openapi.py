# SPDX-License-Identifier: BSD-3-Clause
"""conf/openapi.yaml against a running meshgate.

For every documented path and method, at least one request that succeeds
and one that fails: each status must be documented for the operation and
each body must validate against the documented schema (additionalProperties:
false catches a field added to an answer without being documented). Request
bodies the server accepts must validate against the request schema, and
malformed ones it refuses must not. In reverse, every method a path does not
document gets 405 with an Allow header listing exactly the documented ones,
and made-up paths get 404.

The validator covers the OpenAPI subset the file uses, and refuses any
keyword it does not know, so the spec cannot grow a constraint that is
silently left unchecked."""
import http.client
import ipaddress
import json
import pathlib
import re

import pytest
import yaml

from mgrun import null_config, Control, Meshgate

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
SPEC = yaml.safe_load((ROOT / "conf" / "openapi.yaml").read_text())
METHODS = ("get", "post", "put", "delete", "patch")

CONFIG = null_config(768, networks=("default", "oa-ext"), hugepages=False) + """neighbors:
  - {interface: b, ip: 10.0.2.2, mac: "02:00:00:00:0b:02"}
routes:
  - {prefix: 198.51.100.0/24, via: 10.0.2.2}
services:
  - name: gtp
    vips: [10.0.9.1]
    endpoints:
      - {name: e1, address: 10.0.2.2, weight: 95}
  - name: web
    vips: [10.0.9.2]
    mode: nat
    endpoints:
      - {name: e1, address: 10.0.2.2, port: 8080}
gateways:
  - {name: edge, inside: default, outside: oa-ext, routes: [203.0.118.0/24],
     snat4: 192.0.2.1, publish: [{protocol: tcp, port: 80, service: web}]}
"""


# ---- a validator for the OpenAPI 3.0 schema subset the file uses ---------------------------

class Invalid(Exception):
    pass


KNOWN = {"type", "properties", "required", "additionalProperties", "items", "enum", "minimum",
         "maximum", "$ref", "oneOf", "anyOf", "allOf", "minLength", "maxLength", "pattern",
         "minItems", "maxItems", "maxProperties", "format", "description", "example",
         "default"}  # default, description, example: annotations, nothing to check


def _ipv(s, version, prefix):
    if not isinstance(s, str) or ("/" in s) != prefix:
        return False
    try:
        a = ipaddress.ip_interface(s) if prefix else ipaddress.ip_address(s)
    except ValueError:
        return False
    return version is None or a.version == version


FORMATS = {
    "ip": lambda s: _ipv(s, None, False),
    "ipv4": lambda s: _ipv(s, 4, False),
    "ipv6": lambda s: _ipv(s, 6, False),
    "prefix": lambda s: _ipv(s, None, True),
    "ipv4-prefix": lambda s: _ipv(s, 4, True),
    "ipv6-prefix": lambda s: _ipv(s, 6, True),
    "ip-or-prefix": lambda s: _ipv(s, None, False) or _ipv(s, None, True),
    "date-time": lambda s: re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", s) is not None,
}


def resolve(schema):
    while "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        node = SPEC
        for part in ref[2:].split("/"):
            node = node[part]
        schema = node
    return schema


def _type_ok(v, t):
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, {"object": dict, "array": list, "string": str,
                          "boolean": bool}[t])


def validate(v, schema, where="$"):
    """Raise Invalid if @v does not match @schema."""
    unknown = set(schema) - KNOWN
    if unknown:
        raise AssertionError(f"{where}: the validator does not know {sorted(unknown)}")
    if "$ref" in schema:
        return validate(v, resolve(schema), where)
    for s in schema.get("allOf", ()):
        validate(v, s, where)
    if "oneOf" in schema or "anyOf" in schema:
        alts = schema.get("oneOf", schema.get("anyOf"))
        errors, ok = [], 0
        for s in alts:
            try:
                validate(v, s, where)
                ok += 1
            except Invalid as e:
                errors.append(str(e))
        if ok == 0:
            raise Invalid(f"{where}: matches none of {len(alts)} alternatives: {errors}")
        if "oneOf" in schema and ok > 1:
            raise Invalid(f"{where}: matches {ok} alternatives of a oneOf")
    if "type" in schema and not _type_ok(v, schema["type"]):
        raise Invalid(f"{where}: {v!r} is not of type {schema['type']}")
    if "enum" in schema and v not in schema["enum"]:
        raise Invalid(f"{where}: {v!r} is not one of {schema['enum']}")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if "minimum" in schema and v < schema["minimum"]:
            raise Invalid(f"{where}: {v} < {schema['minimum']}")
        if "maximum" in schema and v > schema["maximum"]:
            raise Invalid(f"{where}: {v} > {schema['maximum']}")
    if isinstance(v, str):
        if len(v) < schema.get("minLength", 0) or len(v) > schema.get("maxLength", 1 << 60):
            raise Invalid(f"{where}: length {len(v)} out of range")
        if "pattern" in schema and not re.search(schema["pattern"], v):
            raise Invalid(f"{where}: {v!r} does not match {schema['pattern']}")
        if "format" in schema and not FORMATS[schema["format"]](v):
            raise Invalid(f"{where}: {v!r} is not a {schema['format']}")
    if isinstance(v, list):
        if len(v) < schema.get("minItems", 0) or len(v) > schema.get("maxItems", 1 << 60):
            raise Invalid(f"{where}: {len(v)} items, out of range")
        if "items" in schema:
            for i, e in enumerate(v):
                validate(e, schema["items"], f"{where}[{i}]")
    if isinstance(v, dict):
        props = schema.get("properties", {})
        for k in schema.get("required", ()):
            if k not in v:
                raise Invalid(f"{where}: '{k}' is required")
        if len(v) > schema.get("maxProperties", 1 << 60):
            raise Invalid(f"{where}: too many properties")
        extra = schema.get("additionalProperties", True)
        for k, e in v.items():
            if k in props:
                validate(e, props[k], f"{where}.{k}")
            elif extra is False:
                raise Invalid(f"{where}: '{k}' is not documented")
            elif isinstance(extra, dict):
                validate(e, extra, f"{where}.{k}")


def is_valid(v, schema):
    try:
        validate(v, schema)
        return True
    except Invalid:
        return False


def test_validator_refuses_what_it_should():
    """The validator itself: each rule can fail."""
    s = {"type": "object", "additionalProperties": False, "required": ["a"],
         "properties": {"a": {"type": "integer", "minimum": 1, "maximum": 3},
                        "b": {"type": "array", "maxItems": 1, "items": {"type": "string",
                                                                         "format": "ip"}},
                        "c": {"oneOf": [{"type": "string"}, {"type": "string", "enum": ["x"]}]},
                        "d": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 3}}}
    assert is_valid({"a": 2, "b": ["10.0.0.1"], "c": "y", "d": "abc"}, s)
    for bad in ({}, {"a": 0}, {"a": 4}, {"a": True}, {"a": 1, "z": 1}, {"a": 1, "b": ["x"]},
                {"a": 1, "b": ["1.1.1.1", "2.2.2.2"]}, {"a": 1, "c": "x"}, {"a": 1, "d": "A"},
                {"a": 1, "d": "abcd"}, []):
        assert not is_valid(bad, s), bad
    with pytest.raises(AssertionError):
        validate(1, {"multipleOf": 2})


def walk_schemas(node, where):
    if isinstance(node, dict):
        if "schema" in node and isinstance(node["schema"], dict):
            yield where + ".schema", node["schema"]
        for k, v in node.items():
            yield from walk_schemas(v, f"{where}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk_schemas(v, f"{where}[{i}]")


def check_keywords(schema, where):
    assert not set(schema) - KNOWN, f"{where}: unknown keywords {set(schema) - KNOWN}"
    for k in ("properties",):
        for name, s in schema.get(k, {}).items():
            check_keywords(s, f"{where}.{name}")
    for k in ("items",):
        if k in schema:
            check_keywords(schema[k], f"{where}.{k}")
    if isinstance(schema.get("additionalProperties"), dict):
        check_keywords(schema["additionalProperties"], f"{where}.additionalProperties")
    for k in ("oneOf", "anyOf", "allOf"):
        for i, s in enumerate(schema.get(k, ())):
            check_keywords(s, f"{where}.{k}[{i}]")
    if "$ref" in schema:
        resolve(schema)        # it must resolve


def test_spec_is_well_formed():
    """3.0.3, bearer everywhere, every ref resolves, every schema in the validator's subset,
    every operation documents 401 and an Error body for each error status."""
    assert SPEC["openapi"] == "3.0.3"
    scheme = SPEC["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert SPEC["security"] == [{"bearer": []}]
    for name, s in SPEC["components"]["schemas"].items():
        check_keywords(s, name)
    for where, s in walk_schemas(SPEC["paths"], "paths"):
        check_keywords(s, where)
    for path, item in SPEC["paths"].items():
        for m in METHODS:
            if m not in item:
                continue
            op = item[m]
            assert "security" not in op, f"{m} {path} overrides the bearer requirement"
            assert "401" in op["responses"], f"{m} {path} does not document 401"
            for st, r in op["responses"].items():
                r = resolve(r)
                assert r.get("description"), f"{m} {path} {st}"
                if int(st) >= 400:
                    sch = r["content"]["application/json"]["schema"]
                    assert resolve(sch) is SPEC["components"]["schemas"]["Error"], (m, path, st)
            for p in item.get("parameters", []) + op.get("parameters", []):
                p = resolve(p)
                if p["in"] == "path":
                    assert "{" + p["name"] + "}" in path, (path, p["name"])


# ---- the running gateway ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def mg(tmp_path_factory):
    d = tmp_path_factory.mktemp("openapi")
    m = Meshgate(d, CONFIG + f"control:\n  capture_dir: {d}/cap\n", name="oapi")
    m.start()
    try:
        yield m
    except BaseException:
        m.kill()
        raise
    m.stop()


@pytest.fixture(scope="module")
def ctl(mg):
    return Control(mg)


def operations():
    for path, item in SPEC["paths"].items():
        for m in METHODS:
            if m in item:
                yield (m.upper(), path)


def template_of(path):
    """The documented path template a concrete path matches, or None."""
    segs = [s for s in path.split("?")[0].split("/") if s]
    for t in SPEC["paths"]:
        ts = [s for s in t.split("/") if s]
        if len(ts) == len(segs) and all(a.startswith("{") or a == b for a, b in zip(ts, segs)):
            return t
    return None


class Api:
    """Requests checked against the spec, with what each operation answered."""

    def __init__(self, ctl):
        self.ctl = ctl
        self.seen = {}

    def raw(self, method, path, data=None, token=True):
        c = http.client.HTTPConnection(self.ctl.host, self.ctl.port, timeout=30)
        h = {}
        if token is True:
            h["Authorization"] = f"Bearer {self.ctl.token}"
        elif token:
            h["Authorization"] = token
        if data is not None:
            h["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        text = r.read().decode(errors="replace")    # pcapng is binary
        c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, text

    def call(self, method, path, body=None, raw=None, token=True, valid_request=None):
        """One request to a documented operation; returns (status, body).

        @valid_request: whether the request schema should accept @body (checked when the
        server accepted it, or when given)."""
        tmpl = template_of(path)
        assert tmpl is not None, f"{path} is not documented"
        item = SPEC["paths"][tmpl]
        op = item[method.lower()]
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        st, hdrs, text = self.raw(method, path, data, token)
        self.seen.setdefault((method, tmpl), set()).add(st)
        assert str(st) in op["responses"], \
            f"{method} {path} -> {st}, not documented ({sorted(op['responses'])}): {text}"
        resp = resolve(op["responses"][str(st)])
        content = resp.get("content")
        if content is None:
            assert text == "", f"{method} {path} -> {st} with an undocumented body: {text}"
            out = None
        elif "application/json" in content:
            assert hdrs.get("content-type") == "application/json", hdrs
            out = json.loads(text)
            try:
                validate(out, content["application/json"]["schema"])
            except Invalid as e:
                pytest.fail(f"{method} {path} -> {st}: {e}\n{json.dumps(out, indent=1)}")
        else:
            (ctype, media), = content.items()
            assert hdrs.get("content-type", "").startswith(ctype), hdrs
            validate(text, media["schema"])
            out = text
        for name, h in resp.get("headers", {}).items():
            assert name.lower() in hdrs, f"{method} {path} -> {st} without {name}"
            validate(hdrs[name.lower()], h["schema"])
        req_schema = op.get("requestBody", {}).get("content", {}).get("application/json",
                                                                       {}).get("schema")
        if body is not None and req_schema is not None:
            want = valid_request if valid_request is not None else (200 <= st < 300 or None)
            if want is not None:
                assert is_valid(body, req_schema) == want, \
                    f"{method} {path}: the request schema {'refuses' if want else 'accepts'} " \
                    f"{body} (server: {st})"
        if 200 <= st < 300:
            self._check_params(item, op, tmpl, path)
        return st, out

    @staticmethod
    def _check_params(item, op, tmpl, path):
        """The server accepted these path and query parameters: so must the spec."""
        params = {resolve(p)["name"]: resolve(p) for p in item.get("parameters", []) +
                  op.get("parameters", [])}
        pth, _, query = path.partition("?")
        for t, s in zip([x for x in tmpl.split("/") if x], [x for x in pth.split("/") if x]):
            if t.startswith("{"):
                p = params[t[1:-1]]
                v = int(s) if resolve(p["schema"]).get("type") == "integer" else s
                validate(v, p["schema"], f"path parameter {t}")
        for kv in filter(None, query.split("&")):
            k, _, v = kv.partition("=")
            assert k in params and params[k]["in"] == "query", f"undocumented query {k}"
            validate(v, params[k]["schema"], f"query parameter {k}")


@pytest.fixture
def api(ctl):
    return Api(ctl)


def ok(st, want=(200, 201, 204)):
    assert st in want, st


# ---- one case per operation: at least one success and one failure --------------------------

CONN = {"connection": {"id": "oa-conn", "network_service": "default",
                       "context": {"ip_context": {
                           "dst_ip_addrs": ["10.70.0.1/24"], "src_ip_addrs": ["10.72.0.2/32"],
                           "ip_neighbors": [{"ip": "10.70.0.7",
                                             "hardware_address": "02:00:00:00:46:07"}]}}},
        "mechanism_preferences": [{"cls": "LOCAL", "type": "VLAN",
                                   "parameters": {"base": "a", "vlan-id": "700"}}]}


def c_list(path):
    def run(api):
        ok(api.call("GET", path)[0], (200,))
        assert api.call("GET", path, token="Bearer nope")[0] == 401
    return run


def c_create_network(api):
    assert api.call("POST", "/v1/networks", {"name": "oa", "fragments": "drop",
                                             "ip_options": "forward"})[0] == 201
    ok(api.call("DELETE", "/v1/networks/oa")[0])
    st, n = api.call("POST", "/v1/networks", {"name": "oa", "flows": {"size": 128,
                                                                      "stateful": True}})
    assert st == 201 and n["flows"]["size"] == 128 and n["flows"]["stateful"]
    ok(api.call("DELETE", "/v1/networks/oa")[0])
    assert api.call("POST", "/v1/networks", {"name": "x", "flows": {"size": -1}},
                    valid_request=False)[0] == 400
    assert api.call("POST", "/v1/networks", {"name": "default"})[0] == 409
    assert api.call("POST", "/v1/networks", {"name": "x", "mtu": 1}, valid_request=False)[0] == 400
    assert api.call("POST", "/v1/networks", {"name": "x", "fragments": "maybe"},
                    valid_request=False)[0] == 400
    assert api.call("POST", "/v1/networks", {"name": "a b"}, valid_request=False)[0] == 400
    assert api.call("POST", "/v1/networks", {}, valid_request=False)[0] == 400
    assert api.call("POST", "/v1/networks", raw="{")[0] == 400


def c_get_network(api):
    assert api.call("GET", "/v1/networks/default")[0] == 200
    assert api.call("GET", "/v1/networks/nope")[0] == 404


def c_delete_network(api):
    api.call("POST", "/v1/networks", {"name": "od"})
    assert api.call("DELETE", "/v1/networks/od")[0] == 204
    assert api.call("DELETE", "/v1/networks/od")[0] == 404
    assert api.call("DELETE", "/v1/networks/default")[0] == 409


def c_create_port(api):
    body = {"name": "op", "device": "net_null7,no-rx=1", "network": "default",
            "mac": "02:00:00:00:0e:01", "mtu": 1400, "rx_queues": 1, "rx_desc": 256,
            "tx_desc": 256, "promiscuous": True}
    assert api.call("POST", "/v1/ports", body)[0] == 201
    ok(api.call("DELETE", "/v1/ports/op")[0])
    assert api.call("POST", "/v1/ports", {"name": "op", "device": "net_null8,no-rx=1"})[0] == 201
    ok(api.call("DELETE", "/v1/ports/op")[0])
    assert api.call("POST", "/v1/ports", {"name": "op", "device": "bogus"})[0] == 400
    assert api.call("POST", "/v1/ports", {"name": "op", "device": "net_bogus0"})[0] == 422
    assert api.call("POST", "/v1/ports", {"name": "op", "device": "net_null9",
                                          "network": "nope"})[0] == 404
    assert api.call("POST", "/v1/ports", {"name": "a", "device": "net_null9"})[0] == 409
    for bad in ({"name": "op", "device": "net_null9", "rx_desc": 100},
                {"name": "op", "device": "net_null9", "mtu": 9601},
                {"name": "op", "device": "net_null9", "mac": "02:00:00:00:00"},
                {"name": "op.1", "device": "net_null9"},
                {"name": "op"}):
        assert api.call("POST", "/v1/ports", bad, valid_request=False)[0] == 400, bad


def c_get_port(api):
    st, p = api.call("GET", "/v1/ports/a")
    assert st == 200 and p["interface"]["ipv4"] == ["10.0.1.1/24"]
    assert api.call("GET", "/v1/ports/nope")[0] == 404


def c_delete_port(api):
    api.call("POST", "/v1/ports", {"name": "od", "device": "net_null10,no-rx=1"})
    assert api.call("DELETE", "/v1/ports/od")[0] == 204
    assert api.call("DELETE", "/v1/ports/od")[0] == 404
    assert api.call("DELETE", "/v1/ports/b")[0] == 409       # its neighbor, its route


def c_create_vlan(api):
    st, i = api.call("POST", "/v1/interfaces", {"port": "a", "vlan": 10, "mtu": 1400,
                                                "network": "default"})
    assert st == 201 and i["name"] == "a.10" and i["kind"] == "vlan"
    assert api.call("POST", "/v1/interfaces", {"port": "a", "vlan": 10})[0] == 409
    ok(api.call("DELETE", "/v1/interfaces/a.10")[0])
    assert api.call("POST", "/v1/interfaces", {"port": "nope", "vlan": 10})[0] == 404
    assert api.call("POST", "/v1/interfaces", {"port": "a", "vlan": 4095},
                    valid_request=False)[0] == 400
    assert api.call("POST", "/v1/interfaces", {"port": "a", "vlan": "10"},
                    valid_request=False)[0] == 400


def c_get_interface(api):
    assert api.call("GET", "/v1/interfaces/b")[0] == 200
    assert api.call("GET", "/v1/interfaces/nope")[0] == 404


def c_delete_vlan(api):
    api.call("POST", "/v1/interfaces", {"port": "a", "vlan": 11})
    assert api.call("DELETE", "/v1/interfaces/a.11")[0] == 204
    assert api.call("DELETE", "/v1/interfaces/a.11")[0] == 404
    assert api.call("DELETE", "/v1/interfaces/a")[0] == 409


def c_add_address(api):
    st, a = api.call("POST", "/v1/interfaces/a/addresses", {"address": "10.0.5.1/24"})
    assert st == 201 and a == {"interface": "a", "address": "10.0.5.1/24"}
    ok(api.call("DELETE", "/v1/interfaces/a/addresses/10.0.5.1/24")[0])
    assert api.call("POST", "/v1/interfaces/a/addresses",
                    {"address": "fd00:5::1/64", "interface": "a"})[0] == 201
    ok(api.call("DELETE", "/v1/interfaces/a/addresses/fd00:5::1")[0])
    assert api.call("POST", "/v1/interfaces/a/addresses", {"address": "10.0.1.1/24"})[0] == 409
    assert api.call("POST", "/v1/interfaces/nope/addresses", {"address": "10.0.5.1/24"})[0] == 404
    assert api.call("POST", "/v1/interfaces/a/addresses", {"address": "10.0.5.1"},
                    valid_request=False)[0] == 400
    assert api.call("POST", "/v1/interfaces/a/addresses", {"address": "10.0.5.1/24", "x": 1},
                    valid_request=False)[0] == 400


def c_delete_address(api):
    api.call("POST", "/v1/interfaces/a/addresses", {"address": "10.0.6.1/24"})
    assert api.call("DELETE", "/v1/interfaces/a/addresses/10.0.6.1")[0] == 204
    assert api.call("DELETE", "/v1/interfaces/a/addresses/10.0.6.1")[0] == 404
    assert api.call("DELETE", "/v1/interfaces/a/addresses/junk")[0] == 400
    assert api.call("DELETE", "/v1/interfaces/b/addresses/10.0.2.1")[0] == 409


def c_delete_address_len(api):
    api.call("POST", "/v1/interfaces/a/addresses", {"address": "10.0.7.1/24"})
    assert api.call("DELETE", "/v1/interfaces/a/addresses/10.0.7.1/24")[0] == 204
    assert api.call("DELETE", "/v1/interfaces/a/addresses/10.0.7.1/24")[0] == 404
    assert api.call("DELETE", "/v1/interfaces/a/addresses/10.0.7.1/33")[0] == 400
    assert api.call("DELETE", "/v1/interfaces/b/addresses/10.0.2.1/24")[0] == 409


def c_list_routes(api):
    st, rs = api.call("GET", "/v1/routes")
    assert st == 200 and any(r["prefix"] == "198.51.100.0/24" for r in rs)
    assert api.call("GET", "/v1/routes?network=default")[0] == 200
    assert api.call("GET", "/v1/routes?network=nope")[0] == 404


def c_create_route(api):
    st, r = api.call("POST", "/v1/routes", {"prefix": "203.0.113.0/24", "via": "10.0.1.9"})
    assert st == 201 and r["interface"] == "a" and r["network"] == "default"
    assert api.call("POST", "/v1/routes", {"prefix": "203.0.113.0/24", "via": "10.0.1.9"})[0] \
        == 409
    ok(api.call("DELETE", "/v1/routes/default/203.0.113.0/24")[0])
    for body in ({"network": "default", "prefix": "2001:db8:7::/48", "action": "unreachable"},
                 {"prefix": "192.0.2.0/28", "interface": "b", "action": "forward"}):
        assert api.call("POST", "/v1/routes", body)[0] == 201
        ok(api.call("DELETE", "/v1/routes/default/" + body["prefix"])[0])
    assert api.call("POST", "/v1/routes", {"prefix": "203.0.113.0/24", "via": "10.9.9.9"})[0] \
        == 400
    assert api.call("POST", "/v1/routes", {"prefix": "203.0.113.0/24", "interface": "nope"})[0] \
        == 404
    assert api.call("POST", "/v1/routes", {"prefix": "203.0.113.0/24", "action": "reject"},
                    valid_request=False)[0] == 400
    assert api.call("POST", "/v1/routes", {"prefix": "203.0.113.0", "action": "drop"},
                    valid_request=False)[0] == 400


def c_get_route(api):
    st, r = api.call("GET", "/v1/routes/default/198.51.100.0/24")
    assert st == 200 and r["via"] == "10.0.2.2" and r["interface"] == "b"
    assert api.call("GET", "/v1/routes/default/198.51.101.0/24")[0] == 404
    assert api.call("GET", "/v1/routes/nope/198.51.100.0/24")[0] == 404
    assert api.call("GET", "/v1/routes/default/198.51.100.0/40")[0] == 400


def c_put_route(api):
    p = "/v1/routes/default/203.0.114.0/24"
    assert api.call("PUT", p, {"via": "10.0.1.9"})[0] == 201
    st, r = api.call("PUT", p, {"network": "default", "prefix": "203.0.114.0/24",
                                "action": "prohibit"})
    assert st == 200 and r["action"] == "prohibit" and "via" not in r
    assert api.call("PUT", p, {"prefix": "203.0.115.0/24", "action": "drop"})[0] == 400
    assert api.call("PUT", p, {"action": "drop", "metric": 1}, valid_request=False)[0] == 400
    assert api.call("PUT", "/v1/routes/nope/203.0.114.0/24", {"action": "drop"})[0] == 404
    ok(api.call("DELETE", p)[0])


def c_delete_route(api):
    api.call("POST", "/v1/routes", {"prefix": "203.0.116.0/24", "action": "drop"})
    assert api.call("DELETE", "/v1/routes/default/203.0.116.0/24")[0] == 204
    assert api.call("DELETE", "/v1/routes/default/203.0.116.0/24")[0] == 404
    assert api.call("DELETE", "/v1/routes/default/junk/24")[0] == 400
    api.call("POST", "/v1/connections", CONN)
    assert api.call("DELETE", "/v1/routes/default/10.72.0.2/32")[0] == 409
    ok(api.call("DELETE", "/v1/connections/oa-conn")[0])


def c_create_neighbor(api):
    body = {"interface": "a", "ip": "10.0.1.5", "mac": "02:00:00:00:0a:05"}
    st, n = api.call("POST", "/v1/neighbors", body)
    assert st == 201 and n == body
    assert api.call("POST", "/v1/neighbors", body)[0] == 409
    ok(api.call("DELETE", "/v1/neighbors/a/10.0.1.5")[0])
    assert api.call("POST", "/v1/neighbors", dict(body, interface="nope"))[0] == 404
    assert api.call("POST", "/v1/neighbors", dict(body, ip="10.0.9.5"))[0] == 400
    assert api.call("POST", "/v1/neighbors", dict(body, mac="zz:00:00:00:0a:05"),
                    valid_request=False)[0] == 400
    assert api.call("POST", "/v1/neighbors", {"interface": "a", "ip": "10.0.1.5"},
                    valid_request=False)[0] == 400


def c_delete_neighbor(api):
    api.call("POST", "/v1/neighbors", {"interface": "a", "ip": "fd00:1::5",
                                       "mac": "02:00:00:00:0a:05"})
    assert api.call("DELETE", "/v1/neighbors/a/fd00:1::5")[0] == 204
    assert api.call("DELETE", "/v1/neighbors/a/fd00:1::5")[0] == 404
    assert api.call("DELETE", "/v1/neighbors/a/not-an-ip")[0] == 400
    api.call("POST", "/v1/connections", CONN)
    assert api.call("DELETE", "/v1/neighbors/a.700/10.70.0.7")[0] == 409
    ok(api.call("DELETE", "/v1/connections/oa-conn")[0])


def c_request_connection(api):
    assert api.call("POST", "/v1/connections", CONN)[0] == 201
    assert api.call("POST", "/v1/connections", CONN)[0] == 200      # a refresh
    ok(api.call("DELETE", "/v1/connections/oa-conn")[0])
    camel = {"connection": {"id": "oa-camel", "networkService": "default", "state": 0,
                            "context": {"ipContext": {"dstIpAddrs": ["10.71.0.1/24"]},
                                        "MTU": "1400"}},
             "mechanismPreferences": [{"type": "VLAN",
                                       "parameters": {"base": "a", "vlanID": "701"}}]}
    st, c = api.call("POST", "/v1/connections", camel)
    assert st == 201 and "networkService" in c and "network_service" not in c
    ok(api.call("DELETE", "/v1/connections/oa-camel")[0])
    assert api.call("POST", "/v1/connections",
                    {"connection": {"id": "x", "labels": {"network": "nope"}},
                     "mechanism_preferences": [{"type": "VLAN"}]})[0] == 404
    assert api.call("POST", "/v1/connections",
                    {"connection": {"id": "x"},
                     "mechanism_preferences": [{"type": "WIREGUARD"}]})[0] == 501
    assert api.call("POST", "/v1/connections",
                    {"connection": {"id": "x", "context": {"ip_context": {"bogus": []}}}},
                    valid_request=False)[0] == 400
    assert api.call("POST", "/v1/connections", {"connection": {"id": "x", "state": "SIDEWAYS"}},
                    valid_request=False)[0] == 400


def c_get_connection(api):
    api.call("POST", "/v1/connections", CONN)
    st, c = api.call("GET", "/v1/connections/oa-conn")
    assert st == 200 and c["state"] == "UP" and c["mechanism"]["type"] == "VLAN"
    ok(api.call("DELETE", "/v1/connections/oa-conn")[0])
    assert api.call("GET", "/v1/connections/oa-conn")[0] == 404


def c_close_connection(api):
    api.call("POST", "/v1/connections", CONN)
    assert api.call("DELETE", "/v1/connections/oa-conn")[0] == 204
    assert api.call("DELETE", "/v1/connections/oa-conn")[0] == 404


def c_batch(api):
    ops = [{"op": "add", "vlan": {"port": "a", "vlan": 20}},
           {"op": "add", "address": {"interface": "a.20", "address": "10.20.0.1/24"}},
           {"op": "add", "neighbor": {"interface": "a.20", "ip": "10.20.0.2",
                                      "mac": "02:00:00:00:14:02"}},
           {"op": "add", "route": {"prefix": "10.21.0.0/16", "via": "10.20.0.2"}},
           {"op": "replace", "route": {"prefix": "10.21.0.0/16", "action": "drop"}}]
    st, r = api.call("POST", "/v1/batch", {"operations": ops})
    assert st == 200 and r == {"applied": 5}
    undo = [{"op": "delete", "route": {"prefix": "10.21.0.0/16"}},
            {"op": "delete", "neighbor": {"interface": "a.20", "ip": "10.20.0.2"}},
            {"op": "delete", "address": {"interface": "a.20", "address": "10.20.0.1"}},
            {"op": "delete", "vlan": {"port": "a", "vlan": 20}}]
    assert api.call("POST", "/v1/batch", {"operations": undo})[0] == 200
    assert api.call("POST", "/v1/batch", {"operations": undo})[0] == 404
    assert api.call("POST", "/v1/batch", {"operations": [
        {"op": "add", "network": {"name": "default"}}]})[0] == 409
    for bad in ({"operations": []}, {"operations": [{"op": "replace", "network": {"name": "x"}}]},
                {"operations": [{"op": "add", "network": {"name": "x"}, "route": {}}]},
                {"operations": [{"op": "add", "port": {"name": "x", "speed": 1}}]},
                {"ops": []}):
        assert api.call("POST", "/v1/batch", bad, valid_request=False)[0] == 400, bad


def wg_key():
    """A fresh X25519 private key and its public key, base64 (as wg genkey / pubkey)."""
    import base64
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (Encoding, NoEncryption,
                                                              PrivateFormat, PublicFormat)
    k = X25519PrivateKey.generate()
    raw = k.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    pub = k.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode(), base64.b64encode(pub).decode()


def wg_body(name="oa-wg", port=51999):
    priv, _ = wg_key()
    _, peer = wg_key()
    return {"name": name, "listen_port": port, "private_key": priv, "ipv4": ["10.98.0.1/24"],
            "peers": [{"public_key": peer, "endpoint": "10.0.2.2:51820",
                       "allowed_ips": ["10.98.0.2/32"], "persistent_keepalive": 25}]}


def c_create_wireguard(api):
    body = wg_body()
    st, w = api.call("POST", "/v1/wireguard", body)
    assert st == 201 and w["name"] == "oa-wg" and w["peers"][0]["endpoint"] == "10.0.2.2:51820"
    assert body["private_key"] not in json.dumps(w)
    assert api.call("POST", "/v1/wireguard", dict(body, listen_port=51998))[0] == 409
    assert api.call("POST", "/v1/wireguard", wg_body("oa-wg2", 51999))[0] == 409
    assert api.call("POST", "/v1/wireguard", dict(wg_body("oa-wg3", 51997),
                                                   network="nope"))[0] == 404
    assert api.call("POST", "/v1/wireguard", dict(wg_body("oa-wg4", 51996), private_key="x"),
                    valid_request=False)[0] == 400
    ok(api.call("DELETE", "/v1/wireguard/oa-wg")[0])


def c_get_wireguard(api):
    api.call("POST", "/v1/wireguard", wg_body())
    st, w = api.call("GET", "/v1/wireguard/oa-wg")
    assert st == 200 and w["listen_port"] == 51999 and "private_key" not in w
    st, ifc = api.call("GET", "/v1/interfaces/oa-wg")
    assert st == 200 and ifc["kind"] == "wireguard" and "port" not in ifc
    ok(api.call("DELETE", "/v1/wireguard/oa-wg")[0])
    assert api.call("GET", "/v1/wireguard/oa-wg")[0] == 404


def c_delete_wireguard(api):
    api.call("POST", "/v1/wireguard", wg_body())
    api.call("POST", "/v1/routes", {"prefix": "203.0.118.0/24", "interface": "oa-wg"})
    assert api.call("DELETE", "/v1/wireguard/oa-wg")[0] == 409
    ok(api.call("DELETE", "/v1/routes/default/203.0.118.0/24")[0])
    assert api.call("DELETE", "/v1/wireguard/oa-wg")[0] == 204
    assert api.call("DELETE", "/v1/wireguard/oa-wg")[0] == 404


def c_stats(api):
    st, s = api.call("GET", "/v1/stats")
    assert st == 200 and {"a", "b"} <= set(s["ports"])
    assert api.call("GET", "/v1/stats", token=None)[0] == 401


def c_ike(api):
    st, peers = api.call("GET", "/v1/ike")
    assert st == 200 and peers == []  # no ike: block here (tests/netns/test_ike_strongswan.py)
    assert api.call("GET", "/v1/ike", token="Bearer nope")[0] == 401


def c_metrics(api):
    st, text = api.call("GET", "/metrics")
    assert st == 200 and 'meshgate_port_rx_packets_total{port="a"}' in text
    assert api.call("GET", "/metrics", token="Basic x")[0] == 401

ESP_KEY = "00112233445566778899aabbccddeeff"
ESP = {"name": "oatun", "local": "10.0.2.1", "remote": "10.0.2.9", "sas": [
    {"direction": "out", "inner": "ipv4", "spi": 4097, "algorithm": "aes-gcm-128",
     "key": ESP_KEY, "salt": "01020304", "lifetime": {"soft_packets": 10, "hard_packets": 20}},
    {"direction": "in", "inner": "ipv4", "spi": 4098, "algorithm": "aes-gcm-128",
     "key": ESP_KEY, "salt": "01020304"}]}


def c_create_esp(api):
    st, t = api.call("POST", "/v1/esp-tunnels", ESP)
    assert st == 201 and {s["spi"] for s in t["sas"]} == {4097, 4098}
    assert ESP_KEY not in json.dumps(t)
    try:
        assert api.call("POST", "/v1/esp-tunnels", ESP)[0] == 409
        assert api.call("POST", "/v1/esp-tunnels", dict(ESP, name="x", local="10.0.2.77"))[0] == 400
        assert api.call("POST", "/v1/esp-tunnels", dict(ESP, name="x", sas=[
            dict(ESP["sas"][0], key="zz")]), valid_request=False)[0] == 400
        assert api.call("POST", "/v1/esp-tunnels", dict(ESP, name="x", nope=1),
                        valid_request=False)[0] == 400
    finally:
        ok(api.call("DELETE", "/v1/esp-tunnels/oatun")[0])


def c_get_esp(api):
    api.call("POST", "/v1/esp-tunnels", ESP)
    try:
        st, t = api.call("GET", "/v1/esp-tunnels/oatun")
        assert st == 200 and t["mtu"] < 1500 and t["events"] == {"soft": 0, "hard": 0,
                                                                   "retired": 0}
        st, ts = api.call("GET", "/v1/esp-tunnels")
        assert st == 200 and [x["name"] for x in ts] == ["oatun"]
        _, ifs = api.call("GET", "/v1/interfaces")
        assert {i["kind"] for i in ifs} == {"port", "esp"}
        assert api.call("GET", "/v1/esp-tunnels/nope")[0] == 404
        assert api.call("GET", "/v1/esp-tunnels", token="Bearer nope")[0] == 401
    finally:
        api.call("DELETE", "/v1/esp-tunnels/oatun")


def c_delete_esp(api):
    api.call("POST", "/v1/esp-tunnels", ESP)
    api.call("POST", "/v1/routes", {"prefix": "10.88.0.0/16", "interface": "oatun"})
    assert api.call("DELETE", "/v1/esp-tunnels/oatun")[0] == 409
    api.call("DELETE", "/v1/routes/default/10.88.0.0/16")
    assert api.call("DELETE", "/v1/esp-tunnels/oatun")[0] == 204
    assert api.call("DELETE", "/v1/esp-tunnels/oatun")[0] == 404


def c_rekey_esp(api):
    api.call("POST", "/v1/esp-tunnels", ESP)
    try:
        new = dict(ESP["sas"][0], spi=8193, key="ff" * 16)
        st, t = api.call("PUT", "/v1/esp-tunnels/oatun/sas", {"sas": [new]})
        assert st == 200 and t["rekeys"] == 1 and {s["spi"] for s in t["sas"]} == {8193, 4098}
        assert api.call("PUT", "/v1/esp-tunnels/oatun/sas", {"sas": []},
                        valid_request=False)[0] == 400
        assert api.call("PUT", "/v1/esp-tunnels/oatun/sas",
                        {"sas": [dict(new, algorithm="des")]}, valid_request=False)[0] == 400
        assert api.call("PUT", "/v1/esp-tunnels/nope/sas", {"sas": [new]})[0] == 404
    finally:
        api.call("DELETE", "/v1/esp-tunnels/oatun")


IKE = {"role": "responder", "psk": "an-openapi-ike-psk-0123456789",
       "local_ts": ["10.0.1.0/24"], "remote_ts": ["10.55.0.0/24"]}


def c_put_esp_ike(api):
    api.call("POST", "/v1/esp-tunnels", ESP)
    try:
        st, t = api.call("PUT", "/v1/esp-tunnels/oatun/ike", IKE)
        assert st == 200 and t["config"]["auth"] == "psk" and IKE["psk"] not in json.dumps(t)
        st, e = api.call("PUT", "/v1/esp-tunnels/oatun/ike", dict(IKE, proposals=["des"]))
        assert st == 400 and e["error"]["field"] == "proposals[0]", e
        assert api.call("PUT", "/v1/esp-tunnels/oatun/ike", dict(IKE, nope=1),
                        valid_request=False)[0] == 400
        assert api.call("PUT", "/v1/esp-tunnels/nope/ike", IKE)[0] == 404
    finally:
        api.call("DELETE", "/v1/esp-tunnels/oatun")


def c_get_esp_ike(api):
    api.call("POST", "/v1/esp-tunnels", ESP)
    try:
        assert api.call("GET", "/v1/esp-tunnels/oatun/ike")[0] == 404
        api.call("PUT", "/v1/esp-tunnels/oatun/ike", IKE)
        st, t = api.call("GET", "/v1/esp-tunnels/oatun/ike")
        assert st == 200 and t["tunnel"] == "oatun" and t["state"]["role"] == "responder", t
        assert [p["tunnel"] for p in api.call("GET", "/v1/ike")[1]] == ["oatun"]
    finally:
        api.call("DELETE", "/v1/esp-tunnels/oatun")
    assert api.call("GET", "/v1/ike")[1] == []  # the tunnel's peer went with it


def c_delete_esp_ike(api):
    api.call("POST", "/v1/esp-tunnels", ESP)
    try:
        api.call("PUT", "/v1/esp-tunnels/oatun/ike", IKE)
        assert api.call("DELETE", "/v1/esp-tunnels/oatun/ike")[0] == 204
        assert api.call("DELETE", "/v1/esp-tunnels/oatun/ike")[0] == 404
        assert api.call("GET", "/v1/ike")[1] == []
    finally:
        api.call("DELETE", "/v1/esp-tunnels/oatun")


VXLAN = {"name": "oavx", "vni": 5, "local": "10.0.2.1", "remote": "10.0.2.9",
         "ipv4": ["10.77.0.1/24"]}


def c_create_vxlan(api):
    st, t = api.call("POST", "/v1/vxlan", VXLAN)
    assert st == 201 and t["port"] == 4789 and t["ipv4"] == ["10.77.0.1/24"], t
    try:
        assert api.call("POST", "/v1/vxlan", VXLAN)[0] == 409
        assert api.call("POST", "/v1/vxlan", dict(VXLAN, name="x"))[0] == 409  # same VNI, VTEPs
        assert api.call("POST", "/v1/vxlan", dict(VXLAN, name="x", vni=6,
                                                  local="10.0.2.77"))[0] == 400
        assert api.call("POST", "/v1/vxlan", dict(VXLAN, name="x", vni=16777216),
                        valid_request=False)[0] == 400
        assert api.call("POST", "/v1/vxlan", dict(VXLAN, name="x", nope=1),
                        valid_request=False)[0] == 400
    finally:
        ok(api.call("DELETE", "/v1/vxlan/oavx")[0])


def c_get_vxlan(api):
    api.call("POST", "/v1/vxlan", VXLAN)
    try:
        st, t = api.call("GET", "/v1/vxlan/oavx")
        assert st == 200 and t["mtu"] == 1450 and t["counters"]["tx_errors"] == 0, t
        st, ts = api.call("GET", "/v1/vxlan")
        assert st == 200 and [x["name"] for x in ts] == ["oavx"]
        st, ifc = api.call("GET", "/v1/interfaces/oavx")
        assert st == 200 and ifc["kind"] == "vxlan" and ifc["mac"] == t["mac"]
        assert api.call("GET", "/v1/vxlan/nope")[0] == 404
        assert api.call("GET", "/v1/vxlan", token="Bearer nope")[0] == 401
    finally:
        api.call("DELETE", "/v1/vxlan/oavx")


def c_delete_vxlan(api):
    api.call("POST", "/v1/vxlan", VXLAN)
    api.call("POST", "/v1/routes", {"prefix": "10.89.0.0/16", "via": "10.77.0.2"})
    assert api.call("DELETE", "/v1/vxlan/oavx")[0] == 409
    api.call("DELETE", "/v1/routes/default/10.89.0.0/16")
    assert api.call("DELETE", "/v1/vxlan/oavx")[0] == 204
    assert api.call("DELETE", "/v1/vxlan/oavx")[0] == 404


def c_list_captures(api):
    c_list("/v1/captures")(api)


def c_start_capture(api):
    st, cap = api.call("POST", "/v1/captures", {
        "point": "port:a:rx", "filter": "udp port 2152", "max_packets": 10, "max_bytes": 9000,
        "max_seconds": 60, "snaplen": 128, "buffer": 64, "file": "oa.pcapng"})
    assert st == 201 and cap["running"] and cap["file"] == "oa.pcapng"
    ok(api.call("DELETE", f"/v1/captures/{cap['id']}")[0])
    assert api.call("POST", "/v1/captures", {"point": "port:zz"})[0] == 404
    for bad in ({"point": "drop", "filter": "udp port"}, {"point": "node:drop", "snaplen": -1},
                {"point": "drop", "file": "a/b"}, {"point": "drop", "buffer": 8},
                {"point": ""}, {"filter": "ip"}, {"point": "drop", "extra": 1}):
        want = False if bad.get("filter") != "udp port" else None
        assert api.call("POST", "/v1/captures", bad, valid_request=want)[0] == 400, bad


def c_get_capture(api):
    _, cap = api.call("POST", "/v1/captures", {"point": "drop", "max_seconds": 1})
    try:
        assert api.call("GET", f"/v1/captures/{cap['id']}")[0] == 200
    finally:
        api.call("DELETE", f"/v1/captures/{cap['id']}")
    assert api.call("GET", f"/v1/captures/{cap['id']}")[0] == 404


def c_remove_capture(api):
    _, cap = api.call("POST", "/v1/captures", {"point": "node:ip4-lookup"})
    assert api.call("DELETE", f"/v1/captures/{cap['id']}")[0] == 204
    assert api.call("DELETE", f"/v1/captures/{cap['id']}")[0] == 404


def c_stop_capture(api):
    _, cap = api.call("POST", "/v1/captures", {"point": "port:b:tx"})
    st, info = api.call("POST", f"/v1/captures/{cap['id']}/stop")
    assert st == 200 and not info["running"] and info["stop_reason"] == "stopped"
    api.call("DELETE", f"/v1/captures/{cap['id']}")
    assert api.call("POST", f"/v1/captures/{cap['id']}/stop")[0] == 404


def c_stream_capture(api):
    _, cap = api.call("POST", "/v1/captures", {"point": "drop"})
    api.call("POST", f"/v1/captures/{cap['id']}/stop")
    st, data = api.call("GET", f"/v1/captures/{cap['id']}/pcapng")
    # A stopped capture with nothing in it: the pcapng section header, then interfaces.
    assert st == 200 and data.startswith("\n\r\r\n")
    api.call("DELETE", f"/v1/captures/{cap['id']}")
    assert api.call("GET", f"/v1/captures/{cap['id']}/pcapng")[0] == 404


def c_get_trace(api):
    st, t = api.call("GET", "/v1/trace")
    assert st == 200
    assert api.call("GET", "/v1/trace", token="Bearer x")[0] == 401


def c_start_trace(api):
    st, t = api.call("POST", "/v1/trace", {"filter": "udp port 2152", "count": 5})
    assert st == 201 and t["active"] and t["remaining"] == 5
    assert api.call("GET", "/v1/trace")[1]["trace"] == []
    for bad in ({"count": 0}, {"count": 1, "filter": 7}, {"filter": "ip"},
                {"count": 1, "x": 1}):
        assert api.call("POST", "/v1/trace", bad, valid_request=False)[0] == 400, bad
    assert api.call("POST", "/v1/trace", {"count": 1, "filter": "ip and"})[0] == 400
    api.call("DELETE", "/v1/trace")


def c_clear_trace(api):
    api.call("POST", "/v1/trace", {"count": 1})
    assert api.call("DELETE", "/v1/trace")[0] == 204
    assert not api.call("GET", "/v1/trace")[1]["active"]
    assert api.call("DELETE", "/v1/trace", token=None)[0] == 401
RULES = {"default": "permit", "rules": [
    {"id": 9, "dst": "10.9.0.0/16", "protocol": "udp", "dport": "1000-2000", "action": "deny"},
    {"protocol": "icmpv6", "icmp_type": 128, "action": "police", "rate": 1000, "burst": 2000},
    {"interface": "a", "dscp": 46, "action": "mark", "set_dscp": 0}]}


def c_get_rules(api):
    st, r = api.call("GET", "/v1/networks/default/rules")
    assert st == 200 and r["network"] == "default"
    assert api.call("GET", "/v1/networks/nope/rules")[0] == 404


def c_put_rules(api):
    st, r = api.call("PUT", "/v1/networks/default/rules", RULES)
    assert st == 200 and [x["id"] for x in r["rules"]] == [9, 2, 3]
    # What GET answers can be sent back.
    assert api.call("PUT", "/v1/networks/default/rules", r)[0] == 200
    assert api.call("GET", "/v1/networks/default/rules")[0] == 200
    assert api.call("PUT", "/v1/networks/default/rules",
                    {"rules": [{"protocol": "gre", "dport": 5}]})[0] == 400
    assert api.call("PUT", "/v1/networks/default/rules", {"rules": [{"dport": "9-"}]},
                    valid_request=False)[0] == 400
    assert api.call("PUT", "/v1/networks/default/rules", {"default": "drop"},
                    valid_request=False)[0] == 400
    assert api.call("PUT", "/v1/networks/nope/rules", RULES)[0] == 404
    api.call("DELETE", "/v1/networks/default/rules")


def c_delete_rules(api):
    api.call("PUT", "/v1/networks/default/rules", RULES)
    assert api.call("DELETE", "/v1/networks/default/rules")[0] == 204
    assert api.call("DELETE", "/v1/networks/nope/rules")[0] == 404


def c_get_net_flows(api):
    st, f = api.call("GET", "/v1/networks/default/flows")
    assert st == 200 and f["enabled"] is False
    assert api.call("GET", "/v1/networks/nope/flows")[0] == 404


def c_put_net_flows(api):
    body = {"size": 1024, "stateful": True, "timeouts": {"udp": 30, "tcp_closing": 5}}
    st, f = api.call("PUT", "/v1/networks/default/flows", body)
    assert st == 200 and f["enabled"] and f["stateful"] and f["size"] == 1024
    assert f["timeouts"] == {"udp": 30, "tcp_closing": 5} and f["active"] == 0
    # The same size keeps the tables: only the settings change.
    st, f = api.call("PUT", "/v1/networks/default/flows", dict(body, stateful=False))
    assert st == 200 and not f["stateful"]
    assert api.call("GET", "/v1/networks/default")[1]["flows"]["size"] == 1024
    for bad in ({"size": 0}, {"size": "big"}, {"timeouts": {"tcp": 1}},
                {"timeouts": {"udp": 0}}, {"colour": 1}):
        assert api.call("PUT", "/v1/networks/default/flows", bad,
                        valid_request=False)[0] == 400, bad
    assert api.call("PUT", "/v1/networks/nope/flows", body)[0] == 404
    st, f = api.call("PUT", "/v1/networks/default/flows", {"enabled": False})
    assert st == 200 and f == {"enabled": False}


def c_delete_net_flows(api):
    api.call("PUT", "/v1/networks/default/flows", {"size": 64})
    assert api.call("DELETE", "/v1/networks/default/flows")[0] == 204
    assert api.call("GET", "/v1/networks/default/flows")[1] == {"enabled": False}
    assert api.call("DELETE", "/v1/networks/nope/flows")[0] == 404


def c_list_flows(api):
    st, h = api.call("GET", "/v1/flows")
    assert st == 200 and h["count"] == len(h["flows"]) and h["history"]["size"] >= 1
    st, h = api.call("GET", "/v1/flows?address=10.0.1.2&port=53&network=default&since=1"
                            "&until=2000000000.5&limit=10")
    assert st == 200
    assert api.call("GET", "/v1/flows?address=junk")[0] == 400
    assert api.call("GET", "/v1/flows?port=70000")[0] == 400
    assert api.call("GET", "/v1/flows?limit=0")[0] == 400
    assert api.call("GET", "/v1/flows?since=5&until=4")[0] == 400
    assert api.call("GET", "/v1/flows?network=nope")[0] == 404


def c_get_service(api):
    st, s = api.call("GET", "/v1/services/gtp")
    assert st == 200 and s["endpoints"][0]["name"] == "e1"
    assert api.call("GET", "/v1/services/nope")[0] == 404


def c_get_gateway(api):
    st, g = api.call("GET", "/v1/gateways/edge")
    assert st == 200 and g["outside"] == "oa-ext" and g["publish"][0]["service"] == "web"
    assert api.call("GET", "/v1/gateways/nope")[0] == 404


GW = {"name": "oagw", "inside": "default", "outside": "oa-ext", "routes": ["203.0.119.0/24"],
      "snat4": "192.0.2.9", "ports": "2000-2999"}


def c_create_gateway(api):
    st, g = api.call("POST", "/v1/gateways", GW)
    try:
        assert st == 201 and g["config"]["ports"] == "2000-2999"
        assert api.call("POST", "/v1/gateways", GW)[0] == 409
        assert api.call("POST", "/v1/gateways", dict(GW, name="x", snat4="nope"))[0] == 400
        assert api.call("POST", "/v1/gateways", dict(GW, name="x", colour=1))[0] == 400
    finally:
        api.call("DELETE", "/v1/gateways/oagw")


def c_put_gateway(api):
    try:
        assert api.call("PUT", "/v1/gateways/oagw", GW)[0] == 201
        st, g = api.call("PUT", "/v1/gateways/oagw", dict(GW, routes=["203.0.120.0/24"]))
        assert st == 200 and g["routes"] == ["203.0.120.0/24"]
        assert api.call("PUT", "/v1/gateways/oagw", dict(GW, ports="1-10"))[0] == 400
    finally:
        api.call("DELETE", "/v1/gateways/oagw")


def c_delete_gateway(api):
    api.call("POST", "/v1/gateways", GW)
    assert api.call("DELETE", "/v1/gateways/oagw")[0] == 204
    assert api.call("DELETE", "/v1/gateways/oagw")[0] == 404


def c_put_service_endpoint(api):
    st, s = api.call("PUT", "/v1/services/gtp/endpoints/oa", {"address": "10.0.2.2",
                                                              "weight": 5})
    assert st == 201 and {e["name"] for e in s["endpoints"]} == {"e1", "oa"}
    st, s = api.call("PUT", "/v1/services/gtp/endpoints/oa", {"weight": 0, "up": False})
    assert st == 200
    ok(api.call("DELETE", "/v1/services/gtp/endpoints/oa")[0])
    assert api.call("PUT", "/v1/services/nope/endpoints/oa", {"weight": 1})[0] == 404
    assert api.call("PUT", "/v1/services/gtp/endpoints/new", {"weight": 1})[0] == 400
    # Not on a connected subnet: it could not be a next hop.
    assert api.call("PUT", "/v1/services/gtp/endpoints/new", {"address": "192.0.2.1"})[0] == 400
    assert "new" not in {e["name"] for e in api.call("GET", "/v1/services/gtp")[1]["endpoints"]}
    for bad in ({"weight": -1}, {"weight": "1"}, {"up": 1}, {"address": "x"}, {"colour": 1}):
        assert api.call("PUT", "/v1/services/gtp/endpoints/oa", bad,
                        valid_request=False)[0] == 400, bad
    assert api.call("PUT", "/v1/services/gtp/endpoints/oa", raw="{")[0] == 400


def c_delete_service_endpoint(api):
    api.call("PUT", "/v1/services/gtp/endpoints/od", {"address": "10.0.2.2"})
    assert api.call("DELETE", "/v1/services/gtp/endpoints/od")[0] == 204
    assert api.call("DELETE", "/v1/services/gtp/endpoints/od")[0] == 404
    assert api.call("DELETE", "/v1/services/nope/endpoints/e1")[0] == 404


def c_create_service(api):
    spec = {"name": "oa-svc", "network": "default", "vips": ["10.0.9.9", "fd00:1::99"],
            "table_size": 251,
            "endpoints": [{"name": "x", "address": "10.0.2.2", "weight": 3, "up": True}]}
    st, s = api.call("POST", "/v1/services", spec)
    assert st == 201 and s["name"] == "oa-svc" and s["table_size"] == 251
    assert api.call("POST", "/v1/services", spec)[0] == 409
    ok(api.call("DELETE", "/v1/services/oa-svc")[0])
    assert api.call("POST", "/v1/services", dict(spec, network="nope"))[0] == 404
    assert api.call("POST", "/v1/services", dict(spec, table_size=250))[0] == 400
    assert api.call("POST", "/v1/services", dict(spec, endpoints=[
        {"name": "x", "address": "192.0.2.1"}]))[0] == 400
    assert api.call("GET", "/v1/services/oa-svc")[0] == 404   # nothing left behind
    for bad in ({"name": "oa-svc"}, {"vips": ["10.0.9.9"]},
                dict(spec, vips=[]), dict(spec, vips=["x"]), dict(spec, colour=1),
                dict(spec, endpoints=[{"name": "x"}]),
                dict(spec, endpoints=[{"name": "x", "address": "10.0.2.2", "weight": -1}])):
        assert api.call("POST", "/v1/services", bad, valid_request=False)[0] == 400, bad
    assert api.call("POST", "/v1/services", raw="{")[0] == 400


def c_delete_service(api):
    api.call("POST", "/v1/services", {"name": "od-svc", "vips": ["10.0.9.8"]})
    assert api.call("DELETE", "/v1/services/od-svc")[0] == 204
    assert api.call("DELETE", "/v1/services/od-svc")[0] == 404


CASES = {
    ("GET", "/v1/services"): c_list("/v1/services"),
    ("POST", "/v1/services"): c_create_service,
    ("DELETE", "/v1/services/{name}"): c_delete_service,
    ("GET", "/v1/services/{name}"): c_get_service,
    ("GET", "/v1/gateways"): c_list("/v1/gateways"),
    ("GET", "/v1/gateways/{name}"): c_get_gateway,
    ("POST", "/v1/gateways"): c_create_gateway,
    ("PUT", "/v1/gateways/{name}"): c_put_gateway,
    ("DELETE", "/v1/gateways/{name}"): c_delete_gateway,
    ("GET", "/v1/nat"): c_list("/v1/nat"),
    ("PUT", "/v1/services/{name}/endpoints/{endpoint}"): c_put_service_endpoint,
    ("DELETE", "/v1/services/{name}/endpoints/{endpoint}"): c_delete_service_endpoint,
    ("GET", "/v1/networks"): c_list("/v1/networks"),
    ("POST", "/v1/networks"): c_create_network,
    ("GET", "/v1/networks/{name}"): c_get_network,
    ("DELETE", "/v1/networks/{name}"): c_delete_network,
    ("GET", "/v1/networks/{name}/rules"): c_get_rules,
    ("PUT", "/v1/networks/{name}/rules"): c_put_rules,
    ("DELETE", "/v1/networks/{name}/rules"): c_delete_rules,
    ("GET", "/v1/networks/{name}/flows"): c_get_net_flows,
    ("PUT", "/v1/networks/{name}/flows"): c_put_net_flows,
    ("DELETE", "/v1/networks/{name}/flows"): c_delete_net_flows,
    ("GET", "/v1/flows"): c_list_flows,
    ("GET", "/v1/ports"): c_list("/v1/ports"),
    ("POST", "/v1/ports"): c_create_port,
    ("GET", "/v1/ports/{name}"): c_get_port,
    ("DELETE", "/v1/ports/{name}"): c_delete_port,
    ("GET", "/v1/interfaces"): c_list("/v1/interfaces"),
    ("POST", "/v1/interfaces"): c_create_vlan,
    ("GET", "/v1/interfaces/{name}"): c_get_interface,
    ("DELETE", "/v1/interfaces/{name}"): c_delete_vlan,
    ("POST", "/v1/interfaces/{name}/addresses"): c_add_address,
    ("DELETE", "/v1/interfaces/{name}/addresses/{address}"): c_delete_address,
    ("DELETE", "/v1/interfaces/{name}/addresses/{address}/{length}"): c_delete_address_len,
    ("GET", "/v1/routes"): c_list_routes,
    ("POST", "/v1/routes"): c_create_route,
    ("GET", "/v1/routes/{network}/{address}/{length}"): c_get_route,
    ("PUT", "/v1/routes/{network}/{address}/{length}"): c_put_route,
    ("DELETE", "/v1/routes/{network}/{address}/{length}"): c_delete_route,
    ("GET", "/v1/neighbors"): c_list("/v1/neighbors"),
    ("POST", "/v1/neighbors"): c_create_neighbor,
    ("DELETE", "/v1/neighbors/{interface}/{ip}"): c_delete_neighbor,
    ("GET", "/v1/connections"): c_list("/v1/connections"),
    ("POST", "/v1/connections"): c_request_connection,
    ("GET", "/v1/connections/{id}"): c_get_connection,
    ("DELETE", "/v1/connections/{id}"): c_close_connection,
    ("GET", "/v1/esp-tunnels"): c_get_esp,
    ("POST", "/v1/esp-tunnels"): c_create_esp,
    ("GET", "/v1/esp-tunnels/{name}"): c_get_esp,
    ("DELETE", "/v1/esp-tunnels/{name}"): c_delete_esp,
    ("PUT", "/v1/esp-tunnels/{name}/sas"): c_rekey_esp,
    ("GET", "/v1/esp-tunnels/{name}/ike"): c_get_esp_ike,
    ("PUT", "/v1/esp-tunnels/{name}/ike"): c_put_esp_ike,
    ("DELETE", "/v1/esp-tunnels/{name}/ike"): c_delete_esp_ike,
    ("GET", "/v1/vxlan"): c_get_vxlan,
    ("POST", "/v1/vxlan"): c_create_vxlan,
    ("GET", "/v1/vxlan/{name}"): c_get_vxlan,
    ("DELETE", "/v1/vxlan/{name}"): c_delete_vxlan,
    ("POST", "/v1/batch"): c_batch,
    ("GET", "/v1/captures"): c_list_captures,
    ("POST", "/v1/captures"): c_start_capture,
    ("GET", "/v1/captures/{capture}"): c_get_capture,
    ("DELETE", "/v1/captures/{capture}"): c_remove_capture,
    ("POST", "/v1/captures/{capture}/stop"): c_stop_capture,
    ("GET", "/v1/captures/{capture}/pcapng"): c_stream_capture,
    ("GET", "/v1/trace"): c_get_trace,
    ("POST", "/v1/trace"): c_start_trace,
    ("DELETE", "/v1/trace"): c_clear_trace,
    ("GET", "/v1/wireguard"): c_list("/v1/wireguard"),
    ("POST", "/v1/wireguard"): c_create_wireguard,
    ("GET", "/v1/wireguard/{name}"): c_get_wireguard,
    ("DELETE", "/v1/wireguard/{name}"): c_delete_wireguard,
    ("GET", "/v1/stats"): c_stats,
    ("GET", "/v1/ike"): c_ike,
    ("GET", "/metrics"): c_metrics,
}


def test_every_operation_has_a_case():
    assert set(CASES) == set(operations())


@pytest.mark.parametrize("op", sorted(CASES), ids=lambda o: f"{o[0]} {o[1]}")
def test_operation(api, op):
    """At least one success and one failure, each documented, each body as documented."""
    if op not in set(operations()):
        pytest.fail(f"{op} is not documented")
    CASES[op](api)
    seen = api.seen.get(op, set())
    assert any(200 <= s < 300 for s in seen), f"{op}: no success among {seen}"
    assert any(s >= 400 for s in seen), f"{op}: no failure among {seen}"


def test_lists_are_populated_and_valid(api):
    """The lists hold one of each kind of object while they exist (a VLAN, a learned next
    hop, a connection), so their schemas meet real entries."""
    api.call("POST", "/v1/connections", CONN)
    api.call("POST", "/v1/routes", {"prefix": "203.0.117.0/24", "via": "10.0.1.77"})
    try:
        for path in ("/v1/networks", "/v1/ports", "/v1/interfaces", "/v1/routes",
                     "/v1/neighbors", "/v1/connections"):
            st, items = api.call("GET", path)
            assert st == 200 and items, path
        _, nb = api.call("GET", "/v1/neighbors")
        assert {n["static"] for n in nb} == {True, False}
        _, ifs = api.call("GET", "/v1/interfaces")
        assert {i["kind"] for i in ifs} == {"port", "vlan"}
    finally:
        api.call("DELETE", "/v1/routes/default/203.0.117.0/24")
        api.call("DELETE", "/v1/connections/oa-conn")


CONCRETE = {"{name}": "a", "{address}": "10.0.1.1", "{length}": "24", "{network}": "default",
            "{interface}": "a", "{ip}": "10.0.1.5", "{id}": "oa-none", "{capture}": "77"}


def concrete(tmpl):
    return "/".join(CONCRETE.get(s, s) for s in tmpl.split("/"))


@pytest.mark.parametrize("path", sorted(SPEC["paths"]))
def test_undocumented_methods_are_405(api, path):
    item = SPEC["paths"][path]
    documented = {m.upper() for m in METHODS if m in item}
    for m in METHODS:
        if m in item:
            continue
        st, hdrs, text = api.raw(m.upper(), concrete(path), "{}" if m != "get" else None)
        assert st == 405, f"{m.upper()} {path} -> {st}: {text}"
        validate(json.loads(text), SPEC["components"]["schemas"]["Error"])
        # "The HTTP status again", and its gRPC name, from every handler.
        e = json.loads(text)["error"]
        assert (e["status"], e["code"]) == (405, "UNIMPLEMENTED"), (m, path, e)
        assert {x.strip() for x in hdrs["allow"].split(",")} == documented, (path, hdrs["allow"])


@pytest.mark.parametrize("path", ["/", "/v1", "/v1/nope", "/v2/networks", "/v1/networks/a/b",
                                  "/v1/ports/a/b", "/v1/interfaces/a/nope",
                                  "/v1/interfaces/a/addresses/10.0.1.1/24/x",
                                  "/v1/routes/default", "/v1/routes/default/10.0.0.0",
                                  "/v1/routes/default/10.0.0.0/8/x", "/v1/neighbors/a",
                                  "/v1/neighbors/a/10.0.1.5/x", "/v1/connections/a/b",
                                  "/v1/batch/x", "/v1/stats/x", "/metrics/x", "/metricsx",
                                  "/v1/captures/1/x", "/v1/captures/1/stop/x", "/v1/trace/x",
                                  "/v1/flows/x", "/v1/networks/a/flows/x"])
def test_made_up_paths_are_404(api, path):
    assert template_of(path) is None
    for m in ("GET", "POST", "DELETE"):
        st, _, text = api.raw(m, path, "{}" if m == "POST" else None)
        assert st == 404, f"{m} {path} -> {st}: {text}"
        validate(json.loads(text), SPEC["components"]["schemas"]["Error"])
