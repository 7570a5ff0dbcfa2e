#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Print a `classify:` section of N rules for tools/bench's rules cases.

  rules.py --count N [--l3fwd-acl PREFIX]

N - 1 rules shaped like ClassBench's ACL sets (destinations mostly /24-/32,
well-known destination ports, sources wild half the time, TCP or UDP, both
families) that the benchmark's traffic (198.18.1.0/24, 2001:db8:1::/64) never
matches, then one rule that every packet matches (UDP, count), so each packet
is classified through the whole rule set and counted. Deterministic (seeded).

--l3fwd-acl PREFIX also writes the same rules, in the same order, for DPDK
l3fwd's ACL lookup mode (`--lookup=acl`): PREFIX-v4.rules and PREFIX-v6.rules,
deny as ACL rules ('@'), permit and count as route rules ('R') to port 1, the
last rule in both files. l3fwd then does the same classification work as
meshgate (every packet through every rule with rte_acl), without counters.
"""
import argparse
import random

WK = [20, 21, 22, 23, 25, 53, 67, 69, 80, 110, 123, 137, 143, 161, 179, 389, 443, 445, 500,
      514, 636, 993, 995, 1433, 1521, 1723, 2049, 3306, 3389, 5060, 5432, 6379, 8080, 8443]


def v4(rng, length):
    a = (10 << 24) | rng.getrandbits(24)
    a &= (0xffffffff << (32 - length)) & 0xffffffff
    return "%d.%d.%d.%d/%d" % (a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, length)


def v6(rng, length):
    words = [0xfd00, 0xdead] + [rng.getrandbits(16) for _ in range(6)]
    bits = 0
    for w in words:
        bits = (bits << 16) | w
    bits &= ((1 << 128) - 1) ^ ((1 << (128 - length)) - 1)
    words = [(bits >> (112 - 16 * i)) & 0xffff for i in range(8)]
    return "%s/%d" % (":".join("%x" % w for w in words), length)


def rule(rng, i):
    fam6 = i % 2 == 1
    r = {"id": i + 1, "priority": i, "protocol": rng.choice(["tcp", "udp", "udp"]),
         "action": rng.choice(["permit", "deny"])}
    dl = 24 + rng.randrange(9) if rng.random() < 0.8 else 8 + rng.randrange(9)
    if fam6:
        r["dst"] = v6(rng, max(dl * 4, 32))
    else:
        r["dst"] = v4(rng, max(dl, 8))
    if rng.random() < 0.5:
        sl = 16 + rng.randrange(17)
        r["src"] = v6(rng, max(sl * 4, 32)) if fam6 else v4(rng, sl)
    if rng.random() < 0.2:
        r["sport"] = "1024-65535"
    d = rng.random()
    if d < 0.6:
        r["dport"] = rng.choice(WK)
    elif d < 0.7:
        r["dport"] = "1024-65535"
    elif d < 0.8:
        r["dport"] = "6000-6063"
    return r


V4_ANY = "0.0.0.0/0"
V6_ANY = "0:0:0:0:0:0:0:0/0"
PROTO = {"tcp": 6, "udp": 17}


def l3fwd_ports(spec):
    if spec is None:
        return "0 : 65535"
    lo, _, hi = str(spec).partition("-")
    return "%s : %s" % (lo, hi or lo)


def l3fwd_line(r, fam6):
    """One rule in l3fwd's ACL file syntax (l3fwd_acl.c's parse_cb_*_rule)."""
    anyaddr = V6_ANY if fam6 else V4_ANY
    lead = "@" if r["action"] == "deny" else "R"
    line = "%s%s %s %s %s %d/0xff" % (lead, r.get("src", anyaddr), r.get("dst", anyaddr),
                                      l3fwd_ports(r.get("sport")), l3fwd_ports(r.get("dport")),
                                      PROTO[r["protocol"]])
    return line + (" 1" if lead == "R" else "")


def write_l3fwd(prefix, rules):
    for fam6, name in ((False, "v4"), (True, "v6")):
        with open("%s-%s.rules" % (prefix, name), "w") as f:
            f.write("# tools/bench.d/rules.py: %d rules, l3fwd --lookup=acl\n" % len(rules))
            for r in rules:
                if "dst" in r and (":" in r["dst"]) != fam6:
                    continue
                f.write(l3fwd_line(r, fam6) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--l3fwd-acl", metavar="PREFIX")
    a = ap.parse_args()
    rng = random.Random(20261126)
    rules = [rule(rng, i) for i in range(a.count - 1)]
    rules.append({"id": a.count, "priority": a.count, "protocol": "udp", "action": "count"})
    if a.l3fwd_acl:
        write_l3fwd(a.l3fwd_acl, rules)
    print("classify:\n  - network: default\n    default: deny\n    rules:")
    for r in rules:
        print("      - {" + ", ".join('%s: "%s"' % (k, v) if isinstance(v, str) else
                                   "%s: %s" % (k, v) for k, v in r.items()) + "}")


if __name__ == "__main__":
    main()
