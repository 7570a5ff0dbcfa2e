# SPDX-License-Identifier: BSD-3-Clause
"""lib/esp against an independent ESP implementation: scapy's
SecurityAssociation (with python3-cryptography underneath).

Both directions, for every algorithm scapy and lib/esp share, IPv4 and IPv6
outer headers (each with IPv4 and IPv6 inner packets), with and without
UDP encapsulation (NAT-T, RFC 3948), and with extended sequence numbers for
the combined-mode algorithms (scapy puts ESN in the AAD only, so not for
HMAC):

- scapy encrypts, lib/esp decrypts (tests/interop/esp_probe over pcap
  files): every inner packet comes back byte for byte;
- lib/esp encrypts, scapy decrypts: every inner packet comes back byte for
  byte, and the ESP fields are checked against RFC 4303 by a second,
  hand-written decryption (SPI, sequence numbers, IV size, monotonic padding
  1, 2, 3..., pad length, next header, 4-byte alignment, outer header and UDP
  ports);
- replayed and corrupted scapy packets are refused with the right reason and
  counted in the SA's counters.

The probe runs once for all the jobs (one EAL start). Linux XFRM is not
available in this kernel, so scapy is the only peer here.
"""
import hashlib
import json
import os
import pathlib
import struct
import subprocess

import pytest

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.packet import Raw, raw

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
BUILD = pathlib.Path(os.environ.get("MESHGATE_BUILD", ROOT / "build"))
PROBE = BUILD / "tests" / "interop" / "esp_probe"

# meshgate name -> (scapy cipher, key bytes, scapy auth, salt bytes, combined mode)
ALGOS = {
    "aes-gcm-128": ("AES-GCM", 16, None, 4, True),
    "aes-gcm-256": ("AES-GCM", 32, None, 4, True),
    "aes-cbc-128-hmac-sha256": ("AES-CBC", 16, "SHA2-256-128", 0, False),
    "aes-cbc-256-hmac-sha256": ("AES-CBC", 32, "SHA2-256-128", 0, False),
    "chacha20-poly1305": ("CHACHA20-POLY1305", 32, None, 4, True),
    "null-hmac-sha256": ("NULL", 0, "SHA2-256-128", 0, False),
}

# lib/esp's endpoint (L) and scapy's (P), per outer family.
ENDPOINTS = {4: ("192.0.2.10", "198.51.100.20"), 6: ("2001:db8:a::10", "2001:db8:b::20")}
PEER_PORT = 41234  # the peer's NAT-mapped UDP port


def key_material(case_id, n):
    """Deterministic key bytes for a case."""
    return hashlib.sha512(case_id.encode()).digest()[:n]


def inner_packets(fam):
    """A few inner packets of assorted protocols and sizes."""
    if fam == 4:
        base = lambda **kw: IP(src="10.1.0.1", dst="10.2.0.2", **kw)  # noqa: E731
    else:
        base = lambda **kw: IPv6(src="fd00:1::1", dst="fd00:2::2", **kw)  # noqa: E731
    tos = {"tos": 0xb8} if fam == 4 else {"tc": 0xb8}
    pkts = [
        base() / UDP(sport=1111, dport=2222) / Raw(b"x"),
        base(**tos) / UDP(sport=5353, dport=53) / Raw(bytes(range(200))),
        base() / TCP(sport=40000, dport=443, flags="S", seq=12345),
        base() / UDP(sport=9, dport=9) / Raw(b"\xa5" * 1300),
        base() / UDP(sport=7, dport=7),
    ]
    if fam == 4:
        pkts.append(base() / ICMP(id=7, seq=1) / Raw(b"ping" * 14))
    return [raw(p) for p in pkts]


def scapy_encrypt(sa, inner, fam, seq):
    """scapy's ESP packet for an inner packet, with one scapy 2.5 bug fixed.

    scapy 2.5 freezes the UDP length of an IPv4 NAT-T packet at 8 (it builds
    the IP/UDP header before appending the ESP payload); receivers that
    honour UDP lengths (Linux, lib/esp) refuse such packets, so the length is
    set right here.
    """
    b = bytearray(raw(sa.encrypt(IP(inner) if fam == 4 else IPv6(inner), seq_num=seq)))
    if b[0] >> 4 == 4 and b[9] == 17:
        hl = (b[0] & 15) * 4
        struct.pack_into("!H", b, hl + 4, len(b) - hl)
    return bytes(b)


def write_pcap(path, packets):
    """A LINKTYPE_RAW pcap of raw IP packets."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
        for p in packets:
            f.write(struct.pack("<IIII", 0, 0, len(p), len(p)))
            f.write(p)


def read_pcap(path):
    """The packets of a pcap lib/esp wrote (raw IP)."""
    data = pathlib.Path(path).read_bytes()
    magic = struct.unpack("<I", data[:4])[0]
    assert magic == 0xA1B2C3D4, "unexpected pcap byte order"
    assert struct.unpack("<I", data[20:24])[0] == 101, "not LINKTYPE_RAW"
    out, off = [], 24
    while off < len(data):
        _, _, caplen, _ = struct.unpack("<IIII", data[off:off + 16])
        out.append(data[off + 16:off + 16 + caplen])
        off += 16 + caplen
    return out


class Case:
    """One SA configuration, used in both directions."""

    def __init__(self, algo, ofam, ifam, natt, esn, mode=None):
        self.algo, self.ofam, self.ifam, self.natt, self.esn = algo, ofam, ifam, natt, esn
        self.mode = mode  # None: lib/esp's choice (AUTO)
        self.id = f"{algo}-o{ofam}-i{ifam}-{'natt' if natt else 'esp'}{'-esn' if esn else ''}"
        self.id += f"-{mode}" if mode else ""
        crypt, klen, auth, slen, _ = ALGOS[algo]
        self.key = key_material(self.id + "k", klen)
        self.salt = key_material(self.id + "s", slen)
        self.akey = key_material(self.id + "a", 32) if auth else b""
        h = int.from_bytes(hashlib.sha256(self.id.encode()).digest()[:2], "big")
        self.spi_in = 0x10000 + h          # scapy -> lib/esp
        self.spi_out = 0x20000 + h         # lib/esp -> scapy
        self.local, self.peer = ENDPOINTS[ofam]
        # ESN: start just above 2^32 so the high half is 1.
        self.hi = 1 if esn else 0
        self.inner = inner_packets(ifam)

    def scapy_sa(self, spi, src, dst, sport, dport):
        crypt, _, auth, _, _ = ALGOS[self.algo]
        tunnel = IP(src=src, dst=dst) if self.ofam == 4 else IPv6(src=src, dst=dst)
        kw = {}
        if auth:
            kw.update(auth_algo=auth, auth_key=self.akey)
        if self.natt:
            kw["nat_t_header"] = UDP(sport=sport, dport=dport)
        if self.esn:
            kw.update(esn_en=True, esn=self.hi)
        return SecurityAssociation(ESP, spi=spi, crypt_algo=crypt,
                                   crypt_key=self.key + self.salt, tunnel_header=tunnel, **kw)

    def job(self, direction, spi, seq, inp, out, extra=""):
        words = [f"dir={direction}", f"algo={self.algo}", f"spi={spi}",
                 f"local={self.local}", f"remote={self.peer}", f"inner={self.ifam}",
                 f"key={self.key.hex()}", f"in={inp}", f"out={out}"]
        if self.akey:
            words.append(f"akey={self.akey.hex()}")
        if self.salt:
            words.append(f"salt={self.salt.hex()}")
        if self.esn:
            words.append("esn=1")
        if seq is not None:
            words.append(f"seq={seq}")
        if self.natt:
            words += ["natt=1", "lport=4500", f"rport={PEER_PORT}"]
        if self.mode:
            words.append(f"mode={self.mode}")
        return " ".join(words) + (" " + extra if extra else "")


# The mode AUTO must pick per algorithm: the AEADs go the direct way (lib/esp's
# own ESP framing on intel-ipsec-mb), the others through librte_ipsec.
AUTO_MODE = {"aes-gcm-128": "direct", "aes-gcm-256": "direct",
             "aes-cbc-128-hmac-sha256": "lookaside", "aes-cbc-256-hmac-sha256": "lookaside",
             "chacha20-poly1305": "direct", "null-hmac-sha256": "cpu"}


def cases():
    out = []
    for algo in ALGOS:
        # The AEADs once more through librte_ipsec (CPU crypto), which AUTO no longer picks.
        for mode in (None, "cpu") if AUTO_MODE[algo] == "direct" else (None,):
            for ofam in (4, 6):
                for ifam in (4, 6):
                    for natt in (False, True):
                        out.append(Case(algo, ofam, ifam, natt, False, mode))
            if ALGOS[algo][4]:
                for ofam in (4, 6):
                    out.append(Case(algo, ofam, 4 if ofam == 6 else 6, ofam == 6, True, mode))
    return out


CASES = cases()


def esp_plaintext(case, esp_bytes):
    """Decrypt an ESP packet (SPI onward) by hand: (plaintext with trailer, seq)."""
    spi, seq = struct.unpack("!II", esp_bytes[:8])
    crypt = ALGOS[case.algo][0]
    full_seq = (case.hi << 32) | seq
    if crypt in ("AES-GCM", "CHACHA20-POLY1305"):
        iv, body = esp_bytes[8:16], esp_bytes[16:]
        aad = struct.pack("!III", spi, case.hi, seq) if case.esn else esp_bytes[:8]
        aead = AESGCM(case.key) if crypt == "AES-GCM" else ChaCha20Poly1305(case.key)
        # RFC 4106 / RFC 7634: the IV is unique per packet; here it is the sequence number.
        assert int.from_bytes(iv, "big") == full_seq
        return aead.decrypt(case.salt + iv, body, aad), full_seq
    icv = esp_bytes[-16:]
    import hmac
    assert hmac.compare_digest(hmac.new(case.akey, esp_bytes[:-16], "sha256").digest()[:16], icv)
    if crypt == "NULL":
        return esp_bytes[8:-16], full_seq
    iv, body = esp_bytes[8:24], esp_bytes[24:-16]
    dec = Cipher(algorithms.AES(case.key), modes.CBC(iv)).decryptor()
    return dec.update(body) + dec.finalize(), full_seq


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Build every job, run the probe once, return {(case id, direction): result}."""
    if not PROBE.exists():
        pytest.fail(f"{PROBE} is not built: ninja -C {BUILD}")
    d = tmp_path_factory.mktemp("esp")
    jobs, keys = [], []
    for c in CASES:
        # scapy -> lib/esp
        sa = c.scapy_sa(c.spi_in, c.peer, c.local, PEER_PORT, 4500)
        enc = [scapy_encrypt(sa, p, c.ifam, i + 1) for i, p in enumerate(c.inner)]
        write_pcap(d / f"{c.id}.in.esp.pcap", enc)
        jobs.append(c.job("in", c.spi_in, (c.hi << 32) if c.esn else None,
                          d / f"{c.id}.in.esp.pcap", d / f"{c.id}.in.inner.pcap"))
        keys.append((c.id, "in"))
        # lib/esp -> scapy
        write_pcap(d / f"{c.id}.out.inner.pcap", c.inner)
        jobs.append(c.job("out", c.spi_out, ((c.hi << 32) | 1) if c.esn else None,
                          d / f"{c.id}.out.inner.pcap", d / f"{c.id}.out.esp.pcap"))
        keys.append((c.id, "out"))
    # Replays and corruption, scapy -> lib/esp (AES-GCM-128 and AES-CBC, IPv4).
    for c in (Case("aes-gcm-128", 4, 4, False, False),
              Case("aes-cbc-128-hmac-sha256", 4, 4, True, False)):
        sa = c.scapy_sa(c.spi_in, c.peer, c.local, PEER_PORT, 4500)
        p1, p2, p3, p4 = (scapy_encrypt(sa, p, 4, i + 1) for i, p in enumerate(c.inner[:4]))
        bad = bytearray(p3)
        bad[-20] ^= 0x01  # a ciphertext byte
        far = scapy_encrypt(sa, c.inner[0], 4, 1000)  # moves the window: 1..936 now too old
        seq = [p1, p2, p2, bytes(bad), p4, p1, p3, far, p3]
        write_pcap(d / f"{c.id}.replay.pcap", seq)
        jobs.append(c.job("in", c.spi_in, None, d / f"{c.id}.replay.pcap",
                          d / f"{c.id}.replay.out.pcap", "window=64 burst=4"))
        keys.append((c.id, "replay"))
    jobfile = d / "jobs.txt"
    jobfile.write_text("\n".join(jobs) + "\n")
    r = subprocess.run([str(PROBE), str(jobfile)], capture_output=True, text=True, timeout=120)
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    assert r.returncode == 0 and len(lines) == len(jobs), r.stdout + r.stderr
    res = {keys[x["job"]]: x for x in lines}
    res["dir"] = d
    return res


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_scapy_encrypts_lib_decrypts(run, case):
    r = run[(case.id, "in")]
    assert r["mode"] == (case.mode or AUTO_MODE[case.algo])
    assert r["results"] == ["ok"] * len(case.inner)
    got = read_pcap(run["dir"] / f"{case.id}.in.inner.pcap")
    assert got == case.inner
    assert r["stats"] == {"packets": len(case.inner), "bytes": sum(map(len, case.inner)),
                          "replay": 0, "auth": 0, "other": 0}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_lib_encrypts_scapy_decrypts(run, case):
    r = run[(case.id, "out")]
    assert r["mode"] == (case.mode or AUTO_MODE[case.algo])
    assert r["results"] == ["ok"] * len(case.inner)
    got = read_pcap(run["dir"] / f"{case.id}.out.esp.pcap")
    assert len(got) == len(case.inner)
    sa = case.scapy_sa(case.spi_out, case.local, case.peer, 4500, PEER_PORT)
    crypt = ALGOS[case.algo][0]
    block = 16 if crypt == "AES-CBC" else 4
    for i, (wire, inner) in enumerate(zip(got, case.inner)):
        outer = IP(wire) if case.ofam == 4 else IPv6(wire)
        # Outer header: our endpoints, ESP or UDP/4500 -> the peer's port.
        assert (outer.src, outer.dst) == (case.local, case.peer)
        if case.ofam == 4:
            assert outer.len == len(wire) and outer.ttl == 64
            check = outer.copy()
            del check.chksum
            assert IP(raw(check)).chksum == outer.chksum
        if case.natt:
            assert outer[UDP].sport == 4500 and outer[UDP].dport == PEER_PORT
            if case.ofam == 6:
                assert outer[UDP].chksum != 0
            esp = raw(outer[UDP].payload)
        else:
            assert (outer.proto if case.ofam == 4 else outer.nh) == 50
            esp = raw(outer.payload)
        # scapy decrypts it to the same inner packet.
        dec = sa.decrypt(outer)
        assert raw(dec) == inner
        # RFC 4303 fields, by hand.
        spi, seq = struct.unpack("!II", esp[:8])
        assert spi == case.spi_out and seq == i + 1
        plain, full = esp_plaintext(case, esp)
        assert full == (case.hi << 32) | (i + 1)
        padlen, nh = plain[-2], plain[-1]
        assert nh == (4 if case.ifam == 4 else 41)
        assert plain[:len(inner)] == inner
        assert plain[len(inner):-2] == bytes(range(1, padlen + 1))
        assert len(plain) % block == 0 and padlen < block
        assert len(esp) % 4 == 0
    assert r["stats"]["packets"] == len(case.inner)


@pytest.mark.parametrize("algo", ["aes-gcm-128", "aes-cbc-128-hmac-sha256"])
def test_replayed_and_corrupted_refused_and_counted(run, algo):
    cid = Case(algo, 4, 4, algo.startswith("aes-cbc"), False).id
    r = run[(cid, "replay")]
    assert r["results"] == ["ok", "ok", "esp-replay", "esp-auth-failed", "ok", "esp-replay",
                            "ok", "ok", "esp-replay"]
    assert r["stats"]["packets"] == 5
    assert r["stats"]["replay"] == 3
    assert r["stats"]["auth"] == 1
    assert r["stats"]["other"] == 0
