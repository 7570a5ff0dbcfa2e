# SPDX-License-Identifier: BSD-3-Clause
"""Malformed IKE messages, built with scapy, to a gateway:
ike_malformed.py SRC DST SPI_I SPI_R (hex). Prints how many were sent."""
import os
import sys

from scapy.all import IP, UDP, Raw, send
from scapy.contrib.ikev2 import IKEv2, IKEv2_payload_Encrypted, IKEv2_payload_Nonce, \
    IKEv2_payload_SA

src, dst, spi_i, spi_r = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3]), \
    bytes.fromhex(sys.argv[4])
msgs = []
# 1. A payload whose length runs past the message.
m = bytearray(bytes(IKEv2(init_SPI=os.urandom(8), exch_type=34, flags="Initiator") /
                    IKEv2_payload_Nonce(load=os.urandom(16))))
m[28 + 2:28 + 4] = (200).to_bytes(2, "big")
msgs.append((500, bytes(m)))
# 2. The header's length is not the datagram's.
msgs.append((500, bytes(IKEv2(init_SPI=os.urandom(8), exch_type=34, flags="Initiator",
                              length=9999) / IKEv2_payload_Nonce(load=os.urandom(16)))))
# 3. IKE_SA_INIT whose SA payload holds a truncated proposal.
msgs.append((500, bytes(IKEv2(init_SPI=os.urandom(8), exch_type=34, flags="Initiator") /
                        IKEv2_payload_SA(prop=Raw(b"\x00\x00\x00\x28\x01\x01\x00\x03")))))
# 4. The established SA's SPIs, an INFORMATIONAL with garbage in SK and a far message ID.
msgs.append((4500, b"\x00" * 4 + bytes(IKEv2(init_SPI=spi_i, resp_SPI=spi_r, exch_type=37,
                                             id=1000) /
                                       IKEv2_payload_Encrypted(load=os.urandom(64)))))
# 5. Random bytes after the non-ESP marker.
msgs.append((4500, b"\x00" * 4 + os.urandom(60)))
for port, payload in msgs:
    send(IP(src=src, dst=dst) / UDP(sport=port, dport=port) / Raw(payload), verbose=False)
print(len(msgs))
