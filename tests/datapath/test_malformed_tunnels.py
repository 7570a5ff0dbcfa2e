# SPDX-License-Identifier: BSD-3-Clause
"""Malformed packets into an ESP tunnel (net_pcap in and out): a stream of
bogus ESP mixed with good ESP from the tunnel's peer. Every bad packet is
dropped and counted under a reason that says what was wrong (the gateway's
drop reasons, and the SA's own counters by ESP reason); every good packet is
decrypted and forwarded, in order.

The peer's ESP is scapy's (an independent implementation); the bogus
packets whose ICV must be right (bad padding, wrong next header, a bad
inner packet) are sealed here with the SA's key by `cryptography`'s AES-GCM
(RFC 4106: nonce = salt | IV, AAD = SPI | sequence number).
"""
import struct
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from scapy.all import IP, UDP, Ether, IPOption_NOP, IPv6, Raw, raw
from scapy.layers.ipsec import ESP, SecurityAssociation

from mgrun import Control, Meshgate
from pcapdp import GW_MAC, HOST_MAC, config, nonzero_drops, write_pcap

A = dict(src=HOST_MAC["a"], dst=GW_MAC["a"])
LOCAL, REMOTE = "10.0.1.1", "10.0.1.7"
KEY4, SALT4 = bytes(range(16)), b"\x0a\x0b\x0c\x0d"
KEY6, SALT6 = bytes(range(16, 32)), b"\x1a\x1b\x1c\x1d"
SPI4, SPI6 = 0x2001, 0x2002

TUNNEL = f"""
esp_tunnels:
  - name: esp0
    local: {LOCAL}
    remote: {REMOTE}
    replay_window: 64
    sas:
      - {{direction: out, inner: ipv4, spi: 0x1001, algorithm: aes-gcm-128,
         key: "{bytes(range(32, 48)).hex()}", salt: "01020304"}}
      - {{direction: in, inner: ipv4, spi: {SPI4}, algorithm: aes-gcm-128,
         key: "{KEY4.hex()}", salt: "{SALT4.hex()}"}}
      - {{direction: out, inner: ipv6, spi: 0x1002, algorithm: aes-gcm-128,
         key: "{bytes(range(48, 64)).hex()}", salt: "05060708"}}
      - {{direction: in, inner: ipv6, spi: {SPI6}, algorithm: aes-gcm-128,
         key: "{KEY6.hex()}", salt: "{SALT6.hex()}"}}
"""
NEIGH = f'  - {{interface: a, ip: {REMOTE}, mac: "{HOST_MAC["a"]}"}}\n'
ROUTES = "  - {prefix: 10.30.0.0/16, interface: esp0}\n"


def peer_sa(spi, key, salt):
    return SecurityAssociation(ESP, spi=spi, crypt_algo="AES-GCM", crypt_key=key + salt,
                               tunnel_header=IP(src=REMOTE, dst=LOCAL))


def seal(spi, key, salt, seq, plain, src=REMOTE):
    """An ESP packet of our own making: any plaintext (trailer included), a right ICV."""
    iv = struct.pack("!Q", 0x1122334400000000 | seq)
    hdr = struct.pack("!II", spi, seq)
    ct = AESGCM(key).encrypt(salt + iv, plain, hdr)
    return Ether(**A) / IP(src=src, dst=LOCAL, proto=50) / Raw(hdr + iv + ct)


def trailer(inner, nh, pad=None):
    b = bytes(inner)
    if pad is None:
        pad = (-(len(b) + 2)) % 4
    return b + bytes(range(1, pad + 1)) + bytes([pad, nh])


def inner4(i):
    return IP(src="10.30.0.5", dst="10.0.2.2") / UDP(sport=20000 + i, dport=9) / Raw(b"g" * 16)


def inner6(i):
    return IPv6(src="fd00:30::5", dst="fd00:2::2") / UDP(sport=20000 + i, dport=9) / Raw(b"G" * 8)


def esp_stream():
    """(frames, good sports in order, bad frames by the SA reason they must get, other bad)."""
    sa4 = peer_sa(SPI4, KEY4, SALT4)
    sa6 = SecurityAssociation(ESP, spi=SPI6, crypt_algo="AES-GCM", crypt_key=KEY6 + SALT6,
                              tunnel_header=IP(src=REMOTE, dst=LOCAL))
    seq = iter(range(1, 10000))
    good, frames = [], []
    sa_bad = {"esp-auth-failed": [], "esp-replay": [], "esp-bad-trailer": [],
              "esp-bad-length": [], "esp-bad-outer": [], "esp-bad-inner": [],
              "esp-dummy": []}
    other_bad = []  # refused before any SA: no SA, malformed outer headers

    def good_pkt(k):
        if k % 3 == 2:
            p = Ether(**A) / sa6.encrypt(inner6(k), seq_num=next(seq))
        elif k % 7 == 3:
            # Odd but legal: outer IPv4 options.
            p = sa4.encrypt(inner4(k), seq_num=next(seq))
            p = Ether(**A) / IP(src=REMOTE, dst=LOCAL, proto=50,
                                options=[IPOption_NOP()] * 4) / p[IP].payload
        else:
            p = Ether(**A) / sa4.encrypt(inner4(k), seq_num=next(seq))
        good.append(20000 + k)
        return p

    k = 0
    frames.append(good_pkt(k))
    k += 1
    replay_src = frames[0]
    # Integrity: a flipped byte in the ciphertext, in the ICV, in the SPI-covered header.
    for off in (-1, -20, -30):
        b = bytearray(raw(Ether(**A) / sa4.encrypt(inner4(999), seq_num=next(seq))))
        b[off] ^= 0x40
        sa_bad["esp-auth-failed"].append(Ether(bytes(b)))
    b = bytearray(raw(Ether(**A) / sa4.encrypt(inner4(999), seq_num=next(seq))))
    b[14 + 20 + 4 + 3] ^= 1  # the sequence number (part of the AAD)
    sa_bad["esp-auth-failed"].append(Ether(bytes(b)))
    # Replays: a packet already received, and sequence number 0.
    sa_bad["esp-replay"].append(replay_src.copy())
    zero = bytearray(raw(Ether(**A) / sa4.encrypt(inner4(998), seq_num=1)))
    zero[14 + 20 + 4:14 + 20 + 8] = b"\0\0\0\0"
    sa_bad["esp-replay"].append(Ether(bytes(zero)))
    # Behind the ICV: padding bytes wrong, pad length beyond the payload, next header
    # not the SA's inner family, inner packet not IP or cut short.
    sa_bad["esp-bad-trailer"] += [
        seal(SPI4, KEY4, SALT4, next(seq), raw(inner4(0)) + bytes([1, 7, 2, 4])),
        seal(SPI4, KEY4, SALT4, next(seq), raw(inner4(0)) + bytes([1, 2, 200, 4])),
        seal(SPI4, KEY4, SALT4, next(seq), trailer(inner4(0), 41)),
        seal(SPI6, KEY6, SALT6, next(seq), trailer(inner6(0), 4)),
    ]
    # Next header 59: a dummy packet (RFC 4303 2.6), discarded without an error.
    sa_bad["esp-dummy"].append(seal(SPI4, KEY4, SALT4, next(seq), trailer(inner4(0), 59)))
    short = bytearray(raw(inner4(0)))
    short[2:4] = (len(short) + 100).to_bytes(2, "big")
    sa_bad["esp-bad-inner"] += [
        seal(SPI4, KEY4, SALT4, next(seq), trailer(b"\x45" + b"\0" * 11, 4)),
        seal(SPI4, KEY4, SALT4, next(seq), trailer(bytes(short), 4)),
        seal(SPI4, KEY4, SALT4, next(seq), trailer(raw(inner6(0)), 4)),
        seal(SPI6, KEY6, SALT6, next(seq), trailer(raw(inner4(0)) + b"\0" * 20, 41)),
    ]
    # ESP payload shorter than header + IV + ICV, or not 4-byte aligned.
    sa_bad["esp-bad-length"] += [
        Ether(**A) / IP(src=REMOTE, dst=LOCAL, proto=50) /
        Raw(struct.pack("!II", SPI4, next(seq)) + b"\0" * 20),
        Ether(**A) / IP(src=REMOTE, dst=LOCAL, proto=50) /
        Raw(struct.pack("!II", SPI4, next(seq)) + b"\0" * 41),
    ]
    # From another source than the tunnel's peer.
    sa_bad["esp-bad-outer"].append(seal(SPI4, KEY4, SALT4, next(seq), trailer(inner4(0), 4),
                                        src="10.0.1.8"))
    # No SA: unknown SPI, the SPI of an outbound SA, an ESP header cut short.
    other_bad += [
        Ether(**A) / IP(src=REMOTE, dst=LOCAL, proto=50) / Raw(struct.pack("!II", 0x7777, 1) +
                                                               b"x" * 40),
        Ether(**A) / IP(src=REMOTE, dst=LOCAL, proto=50) / Raw(struct.pack("!II", 0x1001, 1) +
                                                               b"x" * 40),
        Ether(**A) / IP(src=REMOTE, dst=LOCAL, proto=50) / Raw(b"\0\0\x20"),
    ]
    # Malformed outer headers: caught by the IP input checks before ESP.
    ok = raw(Ether(**A) / sa4.encrypt(inner4(997), seq_num=next(seq)))
    b = bytearray(ok)
    b[14 + 10] ^= 0xff  # header checksum
    other_bad.append(Ether(bytes(b)))
    b = bytearray(ok)
    b[14 + 2:14 + 4] = (len(ok) - 14 + 50).to_bytes(2, "big")  # total length beyond the frame
    other_bad.append(Ether(bytes(b)))
    other_bad.append(Ether(ok[:14 + 12]))  # truncated inside the IP header
    # An outer fragment: the gateway reassembles nothing addressed to itself.
    frag = seal(SPI4, KEY4, SALT4, next(seq), trailer(inner4(0), 4))
    frag[IP].flags = "MF"
    other_bad.append(Ether(raw(frag)))
    bad = [p for v in sa_bad.values() for p in v] + other_bad
    # Interleave: two good packets after every bad one, the replayed one first.
    for p in bad:
        frames.append(p)
        frames.append(good_pkt(k))
        k += 1
        frames.append(good_pkt(k))
        k += 1
    return frames, good, sa_bad, other_bad


def sa_totals(tun):
    """Packets the tunnel's inbound SAs processed or refused."""
    n = 0
    for sa in tun["sas"]:
        if sa["dir"] == "in":
            n += sa["stats"]["packets"] + sa["stats"]["replay"] + sa["stats"]["auth"] + \
                sa["stats"]["other"]
    return n


def run_live(tmp_path, cfg, frames, expect):
    """Feed @frames in on a; wait until the inbound SAs saw @expect packets (or 30 s)."""
    d = tmp_path
    write_pcap(d / "in_a.pcap", frames)
    write_pcap(d / "in_b.pcap", [])
    mg = Meshgate(d, cfg, name="esptun")
    mg.start()
    try:
        api = Control(mg)
        deadline = time.time() + 30
        tun = api.ok("GET", "/v1/esp-tunnels/esp0")
        while sa_totals(tun) < expect and time.time() < deadline:
            time.sleep(0.2)
            tun = api.ok("GET", "/v1/esp-tunnels/esp0")
        time.sleep(0.5)  # the last packets leave b
        tun = api.ok("GET", "/v1/esp-tunnels/esp0")
    finally:
        stats = mg.stop()
    from scapy.all import rdpcap
    return list(rdpcap(str(d / "out_b.pcap"))), stats, tun


def test_malformed_esp_counted_and_good_esp_forwarded(tmp_path):
    frames, good, sa_bad, other_bad = esp_stream()
    cfg = config(tmp_path, neighbors=NEIGH, routes=ROUTES, extra=TUNNEL)
    expect = len(good) + sum(len(v) for v in sa_bad.values())
    out_b, st, tun = run_live(tmp_path, cfg, frames, expect)
    # Every good packet came out of b, decrypted, in order (per family: the two
    # families take different lookup nodes).
    got = [p[UDP].sport for p in out_b if UDP in p and Raw in p and p[Raw].load[:1] in b"gG"]
    v6 = [20000 + k for k in range(len(good)) if k % 3 == 2]
    assert [s for s in got if s in v6] == [s for s in good if s in v6], got
    assert [s for s in got if s not in v6] == [s for s in good if s not in v6], got
    assert len(out_b) == len(good)
    # The SAs counted each bad packet under its reason.
    errs = {}
    for sa in tun["sas"]:
        for reason, n in sa["stats"].get("errors", {}).items():
            errs[reason] = errs.get(reason, 0) + n
    want = {r: len(v) for r, v in sa_bad.items() if v}
    assert errs == want, (errs, tun)
    # The gateway's drops: the SA's refusals as esp-failed, the rest by what was wrong.
    dropped = nonzero_drops(st)
    assert dropped.pop("esp-dummy") == want.pop("esp-dummy"), dropped
    assert dropped.pop("esp-failed") == sum(want.values()), dropped
    assert dropped == {"esp-no-sa": 2, "esp-malformed": 1, "ip4-bad-checksum": 1,
                       "ip4-truncated": 2, "local-fragment": 1}, dropped
    assert st["ports"]["a"]["rx_packets"] == len(frames)
