# SPDX-License-Identifier: BSD-3-Clause
"""A strict parser of the Prometheus text exposition format 0.0.4.

Refuses what Prometheus' own parser refuses, and what it tolerates but a
well-behaved exporter should not produce: bad metric or label names, bad
escapes in label values, a sample before its family's TYPE, a family's
samples not contiguous, a HELP or TYPE given twice or after the samples,
TYPE lines with unknown types, duplicate series, counters with negative
values, names of counters not ending in _total, an absent trailing newline.
Returns {family: {"type", "help", "samples": {(name, labels): value}}}."""
import math
import re

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class PromError(Exception):
    pass


def _value(s, where):
    if s in ("NaN", "+Inf", "-Inf"):
        return float(s.replace("Inf", "inf"))
    if not re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?", s):
        raise PromError(f"{where}: '{s}' is not a number")
    return float(s)


def _labels(text, i, where):
    """Parse {a="b",...} starting at text[i] == '{'; return (labels, index after '}')."""
    labels = {}
    i += 1
    while True:
        if text[i] == "}":
            return labels, i + 1
        m = re.match(r"[a-zA-Z_][a-zA-Z0-9_]*", text[i:])
        if not m:
            raise PromError(f"{where}: bad label name at '{text[i:i + 20]}'")
        name = m.group(0)
        if name.startswith("__"):
            raise PromError(f"{where}: label {name} is reserved")
        i += len(name)
        if text[i:i + 2] != '="':
            raise PromError(f"{where}: label {name} without =\"")
        i += 2
        val = []
        while text[i] != '"':
            if text[i] == "\\":
                nxt = text[i + 1]
                if nxt not in ('\\', '"', 'n'):
                    raise PromError(f"{where}: bad escape \\{nxt} in label {name}")
                val.append({"\\": "\\", '"': '"', "n": "\n"}[nxt])
                i += 2
            elif text[i] == "\n":
                raise PromError(f"{where}: raw newline in label {name}")
            else:
                val.append(text[i])
                i += 1
        i += 1
        if name in labels:
            raise PromError(f"{where}: label {name} twice")
        labels[name] = "".join(val)
        if text[i] == ",":
            i += 1
        elif text[i] != "}":
            raise PromError(f"{where}: expected , or }} after label {name}")


def parse(text):
    if text and not text.endswith("\n"):
        raise PromError("the exposition does not end with a newline")
    fams, order, done = {}, [], set()
    current = None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = f"line {n}"
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not NAME.match(name):
                    raise PromError(f"{where}: bad metric name {name!r}")
                if name in done:
                    raise PromError(f"{where}: {parts[1]} for {name} after its samples")
                f = fams.setdefault(name, {"type": None, "help": None, "samples": {}})
                if current is not None and current != name:
                    done.add(current)
                current = name
                if parts[1] == "TYPE":
                    if f["type"] is not None:
                        raise PromError(f"{where}: TYPE of {name} twice")
                    if len(parts) != 4 or parts[3] not in TYPES:
                        raise PromError(f"{where}: bad TYPE line {line!r}")
                    f["type"] = parts[3]
                else:
                    if f["help"] is not None:
                        raise PromError(f"{where}: HELP of {name} twice")
                    if len(parts) != 4 or not parts[3].strip():
                        raise PromError(f"{where}: empty HELP for {name}")
                    f["help"] = parts[3]
            continue
        m = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line)
        if not m:
            raise PromError(f"{where}: bad sample line {line!r}")
        name = m.group(0)
        i = len(name)
        labels = {}
        if i < len(line) and line[i] == "{":
            labels, i = _labels(line, i, where)
        if i >= len(line) or line[i] != " ":
            raise PromError(f"{where}: no space before the value in {line!r}")
        rest = line[i + 1:].split(" ")
        if len(rest) not in (1, 2):
            raise PromError(f"{where}: trailing garbage in {line!r}")
        value = _value(rest[0], where)
        if len(rest) == 2 and not re.fullmatch(r"-?\d+", rest[1]):
            raise PromError(f"{where}: bad timestamp {rest[1]!r}")
        family = name
        if family not in fams:
            raise PromError(f"{where}: sample of {name} without HELP/TYPE before it")
        if family != current:
            raise PromError(f"{where}: samples of {name} are not together")
        f = fams[family]
        if f["type"] is None:
            raise PromError(f"{where}: sample of {name} before its TYPE")
        key = (name, tuple(sorted(labels.items())))
        if key in f["samples"]:
            raise PromError(f"{where}: series {key} twice")
        if f["type"] == "counter" and (math.isnan(value) or value < 0):
            raise PromError(f"{where}: counter {name} is {value}")
        f["samples"][key] = value
        order.append(key)
    for name, f in fams.items():
        if f["type"] is None or f["help"] is None:
            raise PromError(f"{name}: HELP and TYPE are both required")
        if f["type"] == "counter" and not name.endswith("_total"):
            raise PromError(f"counter {name} does not end in _total")
    return fams
