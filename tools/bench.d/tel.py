#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A small DPDK telemetry (v2 socket) client for tools/bench.

  tel.py query SOCKET CMD...        print each command's reply as JSON
  tel.py busy [--seconds S]         CPU use per CPU and the busiest processes
  tel.py measure SOCKET --tx-port N|NAME --rx-port N|NAME
                 [--warmup S] [--duration S] [--wait S] [--meshgate] [--pid PID]

measure waits until the process answers and its TX port has sent packets,
lets it warm up, then reads the ethdev counters at the start and the end of
a fixed window and prints one JSON object: packets forwarded (the TX port's
opackets), packets received (the RX port's ipackets), seconds, pps (the
window's mean) and pps_median (the median of the rates of its seconds). With
--meshgate, ports may be given by meshgate's port names, and the window's
per-node deltas (packets, calls, cycles) and drops are included as well.

Only the Python standard library is used, so any python3 will do.
"""
import argparse
import json
import os
import socket
import sys
import time


class Tel:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.s.connect(path)
        hello = json.loads(self.s.recv(16384).decode())
        self.maxlen = int(hello.get("max_output_len", 16384))

    def q(self, cmd):
        self.s.send(cmd.encode())
        reply = json.loads(self.s.recv(max(self.maxlen, 65536)).decode())
        key = cmd.split(",", 1)[0]
        return reply.get(key)

    def close(self):
        self.s.close()


def alive(pid):
    """True while @pid runs (a zombie does not count); always for pid 0."""
    if not pid:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def check(pid):
    if not alive(pid):
        sys.exit("tel.py: process %d exited" % pid)


def connect(path, wait, pid=0):
    deadline = time.monotonic() + wait
    while True:
        check(pid)
        try:
            return Tel(path)
        except OSError:
            if time.monotonic() > deadline:
                sys.exit("tel.py: no telemetry socket at %s after %.0f s" % (path, wait))
            time.sleep(0.1)


def resolve(t, port, meshgate, wait, pid):
    if port.isdigit():
        return int(port)
    if not meshgate:
        sys.exit("tel.py: port '%s' is not an ethdev number" % port)
    key = "".join(c if c.isalnum() or c in "_./" else "_" for c in port)
    # meshgate answers /meshgate/ports from a snapshot that it takes once a
    # second: right after start the answer is still empty.
    deadline = time.monotonic() + wait
    while True:
        ports = t.q("/meshgate/ports") or {}
        if key in ports:
            return int(ports[key]["ethdev"])
        check(pid)
        if time.monotonic() > deadline:
            sys.exit("tel.py: meshgate has no port '%s' (has: %s)" % (port, ", ".join(ports)))
        time.sleep(0.1)


def hugepages_in_use():
    """2 MB (default size) hugepages allocated now, from /proc/meminfo."""
    m = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                m[k] = int(v.split()[0])
    except (OSError, ValueError, IndexError):
        return -1
    return m.get("HugePages_Total", 0) - m.get("HugePages_Free", 0)


def busiest_thread(pid):
    """The thread of @pid with the most CPU time: the forwarding loop."""
    best, best_t = pid, -1
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return pid
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                fields = f.read().rsplit(") ", 1)[1].split()
            t = int(fields[11]) + int(fields[12])  # utime + stime
        except (OSError, ValueError, IndexError):
            continue
        if t > best_t:
            best, best_t = int(tid), t
    return best


def run_delay_ns(pid, tid):
    """Nanoseconds thread @tid of @pid has waited, runnable, for a CPU."""
    try:
        with open("/proc/%d/task/%d/schedstat" % (pid, tid)) as f:
            return int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def cpu_steal_ticks(cpu):
    """The hypervisor's steal time of @cpu, in USER_HZ ticks."""
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("cpu%d " % cpu):
                    return int(line.split()[8])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def sample(t, tx, rx, meshgate, pid=0, tid=0, cpu=1):
    txs = t.q("/ethdev/stats,%d" % tx)
    rxs = t.q("/ethdev/stats,%d" % rx)
    now = time.monotonic()
    s = {"t": now, "opackets": txs["opackets"], "ipackets": rxs["ipackets"],
         "imissed": rxs.get("imissed", 0), "oerrors": txs.get("oerrors", 0),
         "run_delay": run_delay_ns(pid, tid) if pid else 0, "steal": cpu_steal_ticks(cpu)}
    if meshgate:
        s["nodes"] = t.q("/meshgate/nodes") or {}
        s["drops"] = t.q("/meshgate/drops") or {}
    return s


def measure(a):
    t = connect(a.socket, a.wait, a.pid)
    tx = resolve(t, a.tx_port, a.meshgate, a.wait, a.pid)
    rx = resolve(t, a.rx_port, a.meshgate, a.wait, a.pid)
    deadline = time.monotonic() + a.wait
    while t.q("/ethdev/stats,%d" % tx)["opackets"] == 0:
        check(a.pid)
        if time.monotonic() > deadline:
            sys.exit("tel.py: ethdev %d sent nothing within %.0f s" % (tx, a.wait))
        time.sleep(0.1)
    time.sleep(a.warmup)
    if a.meshgate:
        # meshgate refreshes its node and drop counters once a second: line the
        # window up with a refresh so that the deltas cover the same span.
        first = t.q("/meshgate/nodes")
        limit = time.monotonic() + 2.5
        while t.q("/meshgate/nodes") == first and time.monotonic() < limit:
            time.sleep(0.01)
    tid = busiest_thread(a.pid) if a.pid else 0
    s0 = sample(t, tx, rx, a.meshgate, a.pid, tid, a.cpu)
    # The sink's count every second too: the median of these rates shrugs
    # off a burst of interference that the window's mean would absorb.
    ticks = [(s0["t"], s0["opackets"])]
    for k in range(1, int(a.duration) + 1):
        delay = s0["t"] + k - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        n = t.q("/ethdev/stats,%d" % tx)["opackets"]
        ticks.append((time.monotonic(), n))
    if a.meshgate:
        first = t.q("/meshgate/nodes")
        limit = time.monotonic() + 2.5
        while t.q("/meshgate/nodes") == first and time.monotonic() < limit:
            time.sleep(0.01)
    s1 = sample(t, tx, rx, a.meshgate, a.pid, tid, a.cpu)
    t.close()
    check(a.pid)
    secs = s1["t"] - s0["t"]
    out = {
        "tx_ethdev": tx, "rx_ethdev": rx, "seconds": secs,
        "tx_packets": s1["opackets"] - s0["opackets"],
        "rx_packets": s1["ipackets"] - s0["ipackets"],
        "rx_missed": s1["imissed"] - s0["imissed"],
        "tx_errors": s1["oerrors"] - s0["oerrors"],
    }
    out["hugepages_in_use"] = hugepages_in_use()
    # Time the forwarding thread spent waiting for its CPU while others held
    # it, and the hypervisor's steal on that CPU: both make a figure low.
    if secs > 0:
        out["cpu_wait_pct"] = 100.0 * (s1["run_delay"] - s0["run_delay"]) / 1e9 / secs
        out["steal_pct"] = (100.0 * (s1["steal"] - s0["steal"]) /
                            os.sysconf("SC_CLK_TCK") / secs)
    out["pps"] = out["tx_packets"] / secs if secs > 0 else 0.0
    out["pps_per_second"] = [(n1 - n0) / (t1 - t0)
                             for (t0, n0), (t1, n1) in zip(ticks, ticks[1:]) if t1 > t0]
    rates = sorted(out["pps_per_second"])
    out["pps_median"] = (rates[len(rates) // 2] if len(rates) % 2 else
                         (rates[len(rates) // 2 - 1] + rates[len(rates) // 2]) / 2) \
        if rates else out["pps"]
    out["rx_pps"] = out["rx_packets"] / secs if secs > 0 else 0.0
    if a.meshgate:
        nodes = {}
        for name, n1 in s1["nodes"].items():
            n0 = s0["nodes"].get(name, {})
            # Every counter meshgate gives: packets, calls, cycles and, where
            # it times only some graph walks, sampled_packets (the packets of
            # the timed walks: cycles/packet = cycles / sampled_packets).
            d = {k: v - n0.get(k, 0) for k, v in n1.items() if isinstance(v, int)}
            if d["packets"] or d["calls"]:
                nodes[name.replace("_", "-")] = d
        out["nodes"] = nodes
        out["drops"] = {k.replace("_", "-"): v - s0["drops"].get(k, 0)
                        for k, v in s1["drops"].items() if v - s0["drops"].get(k, 0)}
    json.dump(out, sys.stdout)
    print()


def proc_times():
    """utime+stime in ticks of every process, with its command name."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                head, _, rest = f.read().rpartition(") ")
            fields = rest.split()
            out[int(d)] = (head.split(" (", 1)[1], int(fields[11]) + int(fields[12]))
        except (OSError, ValueError, IndexError):
            pass
    return out


def busy(seconds, warn):
    """Report what keeps the CPUs busy: the preflight noise check."""
    def cpus():
        r = {}
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("cpu") and line[3].isdigit():
                    v = [int(x) for x in line.split()[1:]]
                    r[line.split()[0]] = (sum(v), v[3] + v[4])  # total, idle+iowait
        return r
    c0, p0 = cpus(), proc_times()
    time.sleep(seconds)
    c1, p1 = cpus(), proc_times()
    hz = os.sysconf("SC_CLK_TCK")
    me = os.getpid()
    out = {"cpus": {}, "top": []}
    for cpu in c1:
        dt = c1[cpu][0] - c0[cpu][0]
        di = c1[cpu][1] - c0[cpu][1]
        out["cpus"][cpu] = round(100.0 * (dt - di) / dt, 1) if dt else 0.0
    for pid, (name, t) in p1.items():
        if pid in p0 and pid != me:
            pct = 100.0 * (t - p0[pid][1]) / hz / seconds
            if pct >= 5:
                out["top"].append([pid, name, round(pct)])
    out["top"].sort(key=lambda x: -x[2])
    json.dump(out, sys.stdout)
    print()
    hot = {c: v for c, v in out["cpus"].items() if v > warn}
    if warn and hot:
        print("bench: warning: the machine is busy before the runs (%s%s): figures will be "
              "low and noisy; compare ratios only" % (
                  ", ".join("%s %.0f%%" % cv for cv in sorted(hot.items())),
                  "; " + ", ".join("%s[%d] %d%%" % (n, p, c) for p, n, c in out["top"][:4])
                  if out["top"] else ""), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="verb", required=True)
    q = sub.add_parser("query")
    q.add_argument("socket")
    q.add_argument("cmd", nargs="+")
    b = sub.add_parser("busy")
    b.add_argument("--seconds", type=float, default=1.0)
    b.add_argument("--warn", type=float, default=0,
                   help="warn on stderr when a CPU is busier than this percentage")
    m = sub.add_parser("measure")
    m.add_argument("socket")
    m.add_argument("--tx-port", required=True)
    m.add_argument("--rx-port", required=True)
    m.add_argument("--warmup", type=float, default=3.0)
    m.add_argument("--duration", type=float, default=10.0)
    m.add_argument("--wait", type=float, default=30.0)
    m.add_argument("--meshgate", action="store_true")
    m.add_argument("--cpu", type=int, default=1,
                   help="the forwarding CPU, whose steal time is reported")
    m.add_argument("--pid", type=int, default=0,
                   help="give up at once if this process exits")
    a = ap.parse_args()
    if a.verb == "busy":
        busy(a.seconds, a.warn)
    elif a.verb == "query":
        t = connect(a.socket, 0)
        for c in a.cmd:
            print(json.dumps(t.q(c)))
        t.close()
    else:
        try:
            measure(a)
        except (OSError, ValueError, KeyError, TypeError) as e:
            check(a.pid)
            sys.exit("tel.py: telemetry failed: %s" % e)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
