# SPDX-License-Identifier: BSD-3-Clause
"""Inbound ESP details of RFC 4303 that its peers may use (net_pcap in and
out, packets built here with python3-cryptography so that every field is
ours to choose):
- dummy packets (next header 59, 2.6) are authenticated and discarded
  without an error: counted as `esp-dummy`, never as `esp-failed`, in the
  direct AES-GCM path and in librte_ipsec's (AES-CBC + HMAC, lookaside);
- an IPv6 outer header with extension headers before ESP (Destination
  Options, Hop-by-Hop then Destination Options) is decrypted like one
  without (RFC 8200 4; it used to be refused as `esp-malformed`)."""
import hashlib
import hmac

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from scapy.all import IP, UDP, Ether, IPv6, Raw
from scapy.layers.inet6 import IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop, PadN

from pcapdp import GW_MAC, HOST_MAC, config, esp_tunnel, gcm_sa, run

A = dict(src=HOST_MAC["a"], dst=GW_MAC["a"])
GCM_KEY, GCM_SALT = bytes(range(16)), bytes.fromhex("0a0b0c0d")
CBC_KEY, CBC_AUTH = bytes(range(100, 116)), bytes(range(32))
NH_IPIP, NH_NONE = 4, 59


def tunnel(name, local, remote, spi, sa_in):
    return esp_tunnel(name, local, remote, spi, gcm_sa(bytes(range(32, 48)), bytes([1, 2, 3, 4])),
                      sa_in)


GCM_IN = gcm_sa(GCM_KEY, GCM_SALT)
CBC_IN = (f'algorithm: aes-cbc-128-hmac-sha256, key: "{CBC_KEY.hex()}", '
          f'auth_key: "{CBC_AUTH.hex()}"')
TUNNELS = "esp_tunnels:\n" + \
    tunnel("esp0", "10.0.1.1", "10.0.1.7", 0x1001, GCM_IN) + \
    tunnel("esp1", "fd00:1::1", "fd00:1::7", 0x3001, GCM_IN) + \
    tunnel("esp2", "10.0.1.1", "10.0.1.8", 0x5001, CBC_IN)
ROUTES = ("  - {prefix: 10.30.0.0/16, interface: esp0}\n"
          "  - {prefix: 10.40.0.0/16, interface: esp1}\n"
          "  - {prefix: 10.50.0.0/16, interface: esp2}\n")


def inner(sport):
    """An inner packet from the tunnels' far side to host b, told apart by its source port."""
    return bytes(IP(src="10.30.0.5", dst="10.0.2.2") / UDP(sport=sport, dport=9) /
                 Raw(b"y" * 24))


def esp_gcm(spi, seq, payload, nh):
    iv = seq.to_bytes(8, "big")
    pad = -(len(payload) + 2) % 4
    hdr = spi.to_bytes(4, "big") + seq.to_bytes(4, "big")
    pt = payload + bytes(range(1, pad + 1)) + bytes([pad, nh])
    return hdr + iv + AESGCM(GCM_KEY).encrypt(GCM_SALT + iv, pt, hdr)


def esp_cbc(spi, seq, payload, nh):
    iv = bytes([seq]) * 16
    pad = -(len(payload) + 2) % 16
    hdr = spi.to_bytes(4, "big") + seq.to_bytes(4, "big")
    pt = payload + bytes(range(1, pad + 1)) + bytes([pad, nh])
    enc = Cipher(algorithms.AES(CBC_KEY), modes.CBC(iv)).encryptor()
    body = hdr + iv + enc.update(pt) + enc.finalize()
    return body + hmac.new(CBC_AUTH, body, hashlib.sha256).digest()[:16]


def v4(src, esp):
    return Ether(**A) / IP(src=src, dst="10.0.1.1", proto=50) / Raw(esp)


def test_dummy_packets_are_discarded_without_an_error(tmp_path):
    pkts, want = [], []
    for seq in range(1, 9):
        dummy = seq % 2 == 0
        payload = bytes(40) if dummy else inner(1000 + seq)
        nh = NH_NONE if dummy else NH_IPIP
        pkts.append(v4("10.0.1.7", esp_gcm(0x1002, seq, payload, nh)))
        pkts.append(v4("10.0.1.8", esp_cbc(0x5002, seq, payload, nh)))
        if not dummy:
            want += [1000 + seq] * 2
    cfg = config(tmp_path, routes=ROUTES, extra=TUNNELS)
    out_a, out_b, st = run(tmp_path, cfg, a=pkts)
    got = sorted(p[UDP].sport for p in out_b if UDP in p)
    assert got == sorted(want), (got, st["drops"])
    drops = {k: v for k, v in st["drops"].items() if v}
    assert drops == {"esp-dummy": 8}, drops


def test_ipv6_outer_with_extension_headers_before_esp(tmp_path):
    opts = [PadN(optdata=b"\0" * 4)]
    shapes = [
        lambda esp: IPv6(src="fd00:1::7", dst="fd00:1::1", nh=50) / Raw(esp),
        lambda esp: IPv6(src="fd00:1::7", dst="fd00:1::1") /
        IPv6ExtHdrDestOpt(nh=50, options=opts) / Raw(esp),
        lambda esp: IPv6(src="fd00:1::7", dst="fd00:1::1") / IPv6ExtHdrHopByHop(options=opts) /
        IPv6ExtHdrDestOpt(nh=50, options=opts) / Raw(esp),
    ]
    pkts = [Ether(**A) / shape(esp_gcm(0x3002, i + 1, inner(2000 + i), NH_IPIP))
            for i, shape in enumerate(shapes)]
    cfg = config(tmp_path, routes=ROUTES, extra=TUNNELS)
    out_a, out_b, st = run(tmp_path, cfg, a=pkts)
    got = sorted(p[UDP].sport for p in out_b if UDP in p)
    assert got == [2000, 2001, 2002], (got, {k: v for k, v in st["drops"].items() if v})
    # Decapsulated whole: the inner packet as it was sent, TTL one less.
    for p in out_b:
        q = IP(inner(p[UDP].sport))
        assert bytes(p[IP].payload) == bytes(q.payload) and p[IP].ttl == q.ttl - 1
