#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Build DPDK's ipsec-secgw sample from a patched copy of dpdk-doc's sources
# (never committed) and print the binary's path. Used by the benchmark
# (tools/bench.d/esp_gw_bench.sh) and the interop test (tests/interop/test_secgw.py).
#
# The copy's one patch: the vdevs have no RX checksum offload, which the sample
# requests unconditionally. Built with CFLAGS from MARCH (default -march=native,
# as meshgate's own code). Rebuilt only when DPDK or the flags change.
#
# usage: secgw_build.sh [DESTDIR]      (default: .bench/secgw-src of this tree)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dst=${1:-$ROOT/.bench/secgw-src}
src=/usr/share/dpdk/examples
MARCH=${MARCH:--march=native}
die() { echo "secgw_build: $*" >&2; exit 1; }
[ -f "$src/ipsec-secgw/ipsec-secgw.c" ] || die "no $src/ipsec-secgw (package dpdk-doc)"
stamp="libdpdk-dev $(dpkg-query -W -f='${Version}' libdpdk-dev); $MARCH; patch 1"
bin=$dst/ipsec-secgw/build/ipsec-secgw
if [ -x "$bin" ] && [ "$(cat "$dst/.stamp" 2>/dev/null)" = "$stamp" ]; then
	echo "$bin"
	exit 0
fi
echo "secgw_build: building ipsec-secgw from a copy of $src/ipsec-secgw ($MARCH)" >&2
# A private directory, renamed into place: concurrent builds never see a half-built tree.
tmp=$(mktemp -d "$(dirname "$dst")/.secgw-build.XXXXXX" 2>/dev/null ||
	{ mkdir -p "$(dirname "$dst")" && mktemp -d "$(dirname "$dst")/.secgw-build.XXXXXX"; })
trap 'rm -rf "$tmp"' EXIT
cp -r "$src/ipsec-secgw" "$src/common" "$tmp/"
sed -i 's/^\([[:space:]]*\)\.offloads = RTE_ETH_RX_OFFLOAD_CHECKSUM,/\1.offloads = 0, \/* no RX checksum offload on vdevs *\//' \
	"$tmp/ipsec-secgw/ipsec-secgw.c"
! grep -q '= RTE_ETH_RX_OFFLOAD_CHECKSUM,' "$tmp/ipsec-secgw/ipsec-secgw.c" ||
	die "could not patch ipsec-secgw's RX checksum offload request"
# shellcheck disable=SC2016 # $(EXTRA_CFLAGS) is make's
sed -i '/^CFLAGS += -DALLOW_EXPERIMENTAL_API/a CFLAGS += $(EXTRA_CFLAGS)' "$tmp/ipsec-secgw/Makefile"
make -C "$tmp/ipsec-secgw" -j2 EXTRA_CFLAGS="$MARCH" >"$tmp/build.log" 2>&1 ||
	{ tail -20 "$tmp/build.log" >&2; die "building ipsec-secgw failed"; }
echo "$stamp" >"$tmp/.stamp"
rm -rf "$dst"
mv "$tmp" "$dst"
trap - EXIT
echo "$dst/ipsec-secgw/build/ipsec-secgw"
