#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# tools/bench.d/esp_gw_bench.sh (tools/bench --traffic esp): meshgate's ESP
# tunnel paths against DPDK's ipsec-secgw sample, one worker core each, in
# the same run, on the same virtual devices, SA, crypto PMD and frames.
#
#   outbound: plaintext frames (net_pcap, infinite_rx) -> encrypt -> net_null
#   inbound:  ESP frames made by scapy (net_pcap)       -> decrypt -> net_null
#
# AES-GCM-128 (ipsec-secgw on crypto_aesni_gcm, meshgate in lib/esp's direct
# mode on the same intel-ipsec-mb); frames of 64, 512 and 1420 bytes (the
# plaintext Ethernet frame; the ESP frames carry the same inner packets).
# ipsec-secgw runs its legacy path (its own ESP code, no -l), built from a
# patched copy of dpdk-doc's sources in .bench/ (never committed) with
# meshgate's CPU flags; its replay window is 0 (its default), so meshgate's
# tunnel has anti_replay: false too (the looped capture repeats its
# sequence numbers). Also dpdk-test-crypto-perf's raw AES-GCM-128 encryption
# on the same core at 1420 bytes, the ceiling.
#
# And the floor any ESP gateway stands on with these devices: dpdk-testpmd's
# io mode on the same frames (receive and send, nothing else: net_pcap's
# copy into fresh mbufs and net_null's free) plus intel-ipsec-mb's AES-GCM
# seal alone on the payload (esp_bench --cipher). 1 / (io + seal) bounds
# every gateway's rate here; the report sets it against the goals.
#
# Prints Mpps (median of the window's seconds), Gbit/s of plaintext frames
# and the ratio meshgate/ipsec-secgw per case. Needs root (hugepages).
#
# meshgate's worker takes up to MG_BURST packets per RX queue per walk
# (workers.burst, default 64 here, 32 in meshgate's own default; --mg-burst):
# the walk's fixed costs are then shared by more packets. ipsec-secgw's
# burst is a compile-time 32 (MAX_PKT_BURST).
#
# usage: esp_gw_bench.sh [--duration N] [--warmup N] [--rounds N] [--sizes 64,512,1420]
#                        [--mg-burst N]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HELPERS=$ROOT/tools/bench.d
WORK=$ROOT/.bench/espgw
PY=/usr/bin/python3
DURATION=5
WARMUP=2
ROUNDS=1
SIZES=64,512,1420
MG_BURST=64
FWD_LCORE=1
HUGEPAGES=1024
MG_PREFIX=mgespbench
SG_PREFIX=secgwbench
KEY=0123456789abcdef0123456789abcdef
SALT=deadbeef

die() { echo "esp_gw_bench: $*" >&2; exit 1; }
log() { echo "bench: esp: $*" >&2; }

while [ $# -gt 0 ]; do
	case $1 in
	--duration) DURATION=${2:?}; shift 2 ;;
	--warmup) WARMUP=${2:?}; shift 2 ;;
	--rounds) ROUNDS=${2:?}; shift 2 ;;
	--sizes) SIZES=${2:?}; shift 2 ;;
	--mg-burst) MG_BURST=${2:?}; shift 2 ;;
	-h | --help) sed -n '3,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
[ "$(id -u)" = 0 ] || die "must run as root (hugepages)"
mkdir -p "$WORK/logs" "$WORK/results"
if [ -z "${MG_BENCH_LOCKED:-}" ]; then # tools/bench holds the lock when it calls us
	exec 9>"$ROOT/.bench/.lock"
	flock -n 9 || die "another benchmark is running (lock $ROOT/.bench/.lock)"
fi
MESHGATE=$ROOT/build/app/meshgate
ESP_BENCH=$ROOT/build/lib/esp/esp_bench
[ -x "$MESHGATE" ] && [ -x "$ESP_BENCH" ] || die "no $MESHGATE or $ESP_BENCH: build first (tools/build)"
TP_PREFIX=tpespbench

# ---- cleanup: the app running now, hugepages back -----------------------------------------
CUR_PID="" HP_PREV="" HP_MOUNTED=0
stop_pid() {
	local i
	kill -INT "$1" 2>/dev/null || true
	for ((i = 0; i < 150; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	set +e
	[ -n "$CUR_PID" ] && stop_pid "$CUR_PID"
	[ "$HP_MOUNTED" = 1 ] && umount /dev/hugepages
	[ -n "$HP_PREV" ] && echo "$HP_PREV" >/proc/sys/vm/nr_hugepages
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

cur=$(cat /proc/sys/vm/nr_hugepages)
if [ "$cur" -lt "$HUGEPAGES" ]; then
	HP_PREV=$cur
	echo "$HUGEPAGES" >/proc/sys/vm/nr_hugepages
fi
if ! mountpoint -q /dev/hugepages 2>/dev/null; then
	mkdir -p /dev/hugepages
	mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages
	HP_MOUNTED=1
fi

# ---- ipsec-secgw: a patched copy of Debian's sample ------------------------------------------
SECGW=$(MARCH=-march=native "$HELPERS/secgw_build.sh") || die "building ipsec-secgw failed"

# ---- frames -----------------------------------------------------------------------------
PORT_MAC=02:00:00:00:00:01 # meshgate's src port; ipsec-secgw does not check
SINK_MAC=02:00:00:00:00:02
NH_MAC=02:00:00:00:00:99
IFS=, read -r -a SIZE_LIST <<<"$SIZES"
"$PY" - "$WORK" "$KEY$SALT" "$PORT_MAC" "${SIZE_LIST[@]}" <<'PY'
import sys
from scapy.layers.inet import IP, UDP
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import wrpcap
work, key, mac, sizes = sys.argv[1], bytes.fromhex(sys.argv[2]), sys.argv[3], sys.argv[4:]
sa = SecurityAssociation(ESP, spi=0x1002, crypt_algo="AES-GCM", crypt_key=key,
                         tunnel_header=IP(src="192.0.2.2", dst="192.0.2.1"))
for size in map(int, sizes):
    plain, esp = [], []
    for i in range(1024):
        f = i % 256
        inner = IP(src="198.19.0.%d" % (2 + f % 200), dst="198.18.1.%d" % f, ttl=64) / \
            UDP(sport=1024 + f, dport=5000 + f)
        inner = inner / Raw(b"\x5a" * max(0, size - 14 - len(inner)))
        plain.append(Ether(src="02:00:00:00:00:aa", dst=mac) / inner)
        esp.append(Ether(src="02:00:00:00:00:aa", dst=mac) / sa.encrypt(IP(bytes(inner))))
    wrpcap(f"{work}/out-{size}.pcap", plain)
    wrpcap(f"{work}/in-{size}.pcap", esp)
PY

# ---- configurations ----------------------------------------------------------------------------
mg_config() { # DIRECTION PCAP
	local dir=$1 pcap=$2 srcip sinkip route
	if [ "$dir" = out ]; then # plaintext in on src, ESP out of sink towards 192.0.2.2
		srcip=198.19.0.1/24 sinkip=192.0.2.1/24
		route="  - {prefix: 198.18.0.0/16, interface: tun0}"
		nbr="  - {interface: sink, ip: 192.0.2.2, mac: \"$NH_MAC\"}"
	else # ESP in on src (to 192.0.2.1), plaintext out of sink
		srcip=192.0.2.1/24 sinkip=198.19.1.1/24
		route="  - {prefix: 198.18.0.0/16, via: 198.19.1.2}"
		nbr="  - {interface: sink, ip: 198.19.1.2, mac: \"$NH_MAC\"}"
	fi
	cat <<EOC
# Generated by tools/bench.d/esp_gw_bench.sh.
dpdk: {lcores: "0-$FWD_LCORE", hugepages: true, memory_mb: 1024, file_prefix: $MG_PREFIX}
workers: {idle: {mode: poll}, burst: $MG_BURST}
networks: [{name: default}]
ports:
  - {name: src, device: "net_pcap0,rx_pcap=$pcap,infinite_rx=1", mac: "$PORT_MAC", ipv4: [$srcip]}
  - {name: sink, device: "net_null0,no-rx=1", mac: "$SINK_MAC", ipv4: [$sinkip]}
neighbors:
$nbr
esp_tunnels:
  - name: tun0
    local: 192.0.2.1
    remote: 192.0.2.2
    anti_replay: false
    sas:
      - {direction: out, inner: ipv4, spi: 0x1001, algorithm: aes-gcm-128, key: "$KEY", salt: "$SALT"}
      - {direction: in, inner: ipv4, spi: 0x1002, algorithm: aes-gcm-128, key: "$KEY", salt: "$SALT"}
routes:
$route
EOC
}

secgw_config() {
	local k
	k=$(echo "$KEY$SALT" | sed 's/../&:/g; s/:$//')
	cat <<EOC
# Generated by tools/bench.d/esp_gw_bench.sh.
sp ipv4 out esp protect 4097 pri 1 dst 198.18.0.0/16 sport 0:65535 dport 0:65535
sp ipv4 in esp protect 4098 pri 1 dst 198.18.0.0/16 sport 0:65535 dport 0:65535
sa out 4097 aead_algo aes-128-gcm aead_key $k mode ipv4-tunnel src 192.0.2.1 dst 192.0.2.2
sa in 4098 aead_algo aes-128-gcm aead_key $k mode ipv4-tunnel src 192.0.2.2 dst 192.0.2.1
rt ipv4 dst 192.0.2.2/32 port 1
rt ipv4 dst 198.18.0.0/16 port 1
neigh port 1 $NH_MAC
EOC
}
secgw_config >"$WORK/secgw.cfg"

# ---- runs ----------------------------------------------------------------------------------
measure() { # NAME PID SOCKET ARGS...
	local name=$1 pid=$2 sock=$3
	shift 3
	taskset -c 0 "$PY" "$HELPERS/tel.py" measure "$sock" --pid "$pid" --cpu "$FWD_LCORE" \
		--warmup "$WARMUP" --duration "$DURATION" "$@" >"$WORK/results/$name.r$ROUND.json" ||
		{ tail -25 "$WORK/logs/$name.log" >&2; die "$name did not forward (log: $WORK/logs/$name.log)"; }
}

run_meshgate() { # DIR SIZE
	local name=mg-$1-$2 cfg=$WORK/mg-$1-$2.yaml pcap
	[ "$1" = out ] && pcap=$WORK/out-$2.pcap || pcap=$WORK/in-$2.pcap
	mg_config "$1" "$pcap" >"$cfg"
	rm -rf "/var/run/dpdk/$MG_PREFIX"
	log "$1 $2 B: meshgate, worker on lcore $FWD_LCORE for ${WARMUP}+${DURATION}s"
	"$MESHGATE" -c "$cfg" --stats-interval 0 >"$WORK/logs/$name.log" 2>&1 &
	CUR_PID=$!
	measure "$name" "$CUR_PID" "/var/run/dpdk/$MG_PREFIX/dpdk_telemetry.v2" \
		--tx-port sink --rx-port src --meshgate
	stop_pid "$CUR_PID"
	CUR_PID=""
}

run_secgw() { # DIR SIZE
	local name=sg-$1-$2 pcap unprot
	# An unprotected port faces the untrusted side: ESP arrives there (inbound), leaves there (outbound).
	if [ "$1" = out ]; then pcap=$WORK/out-$2.pcap unprot=0x2; else pcap=$WORK/in-$2.pcap unprot=0x1; fi
	rm -rf "/var/run/dpdk/$SG_PREFIX"
	log "$1 $2 B: ipsec-secgw (legacy path) on lcore $FWD_LCORE for ${WARMUP}+${DURATION}s"
	"$SECGW" -l "$FWD_LCORE" -n 1 --in-memory --no-pci --file-prefix "$SG_PREFIX" \
		--vdev "net_pcap0,rx_pcap=$pcap,infinite_rx=1" --vdev net_null0,no-rx=1 \
		--vdev crypto_aesni_gcm0 -- -p 0x3 -u "$unprot" -P \
		--config "(0,0,$FWD_LCORE),(1,0,$FWD_LCORE)" -f "$WORK/secgw.cfg" \
		>"$WORK/logs/$name.log" 2>&1 &
	CUR_PID=$!
	measure "$name" "$CUR_PID" "/var/run/dpdk/$SG_PREFIX/dpdk_telemetry.v2" --tx-port 1 --rx-port 0
	stop_pid "$CUR_PID"
	CUR_PID=""
}

# The floor: forwarding alone (testpmd's io mode: net_pcap -> net_null, nothing else).
run_io() { # DIR SIZE
	local name=io-$1-$2 pcap
	[ "$1" = out ] && pcap=$WORK/out-$2.pcap || pcap=$WORK/in-$2.pcap
	rm -rf "/var/run/dpdk/$TP_PREFIX"
	log "$1 $2 B: dpdk-testpmd io mode on lcore $FWD_LCORE for ${WARMUP}+${DURATION}s"
	dpdk-testpmd -l "0,$FWD_LCORE" -n 1 --in-memory --no-pci --file-prefix "$TP_PREFIX" \
		--vdev "net_pcap0,rx_pcap=$pcap,infinite_rx=1" --vdev net_null0,no-rx=1 -- \
		--forward-mode=io --nb-cores=1 --auto-start --stats-period 3600 \
		</dev/null >"$WORK/logs/$name.log" 2>&1 &
	CUR_PID=$!
	measure "$name" "$CUR_PID" "/var/run/dpdk/$TP_PREFIX/dpdk_telemetry.v2" --tx-port 1 --rx-port 0
	stop_pid "$CUR_PID"
	CUR_PID=""
}

rm -f "$WORK"/results/*.json
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
	for dir in out in; do
		for size in "${SIZE_LIST[@]}"; do
			if ((ROUND % 2)); then
				run_secgw "$dir" "$size"
				run_meshgate "$dir" "$size"
			else
				run_meshgate "$dir" "$size"
				run_secgw "$dir" "$size"
			fi
			run_io "$dir" "$size"
		done
	done
done

# The ceiling: raw AES-GCM-128 encryption on the same core (1420-byte buffers).
log "dpdk-test-crypto-perf: raw AES-GCM-128 on lcore $FWD_LCORE"
dpdk-test-crypto-perf -l "0,$FWD_LCORE" -n 1 --in-memory --no-pci --file-prefix cpbench \
	--log-level error --vdev crypto_aesni_gcm0 -- --ptest throughput \
	--devtype crypto_aesni_gcm --optype aead --aead-algo aes-gcm --aead-op encrypt \
	--aead-key-sz 16 --aead-iv-sz 12 --aead-aad-sz 8 --digest-sz 16 --buffer-sz 1420 \
	--burst-sz 32 --total-ops 6000000 --silent --csv-friendly >"$WORK/results/cryptoperf.csv" \
	2>"$WORK/logs/cryptoperf.log" || log "dpdk-test-crypto-perf failed (log: $WORK/logs/cryptoperf.log)"

# The cipher's part of the floor: the AES-GCM-128 seal alone, per frame size, same core.
log "esp_bench --cipher: the AES-GCM-128 seal alone on lcore $FWD_LCORE"
"$ESP_BENCH" -l "$FWD_LCORE" -n 1 --in-memory --no-pci --file-prefix cipherbench --log-level error \
	-- --cipher --sizes "$SIZES" --seconds 2 --rounds "$ROUNDS" >"$WORK/results/cipher.jsonl" \
	2>"$WORK/logs/cipher.log" || log "esp_bench --cipher failed (log: $WORK/logs/cipher.log)"

"$PY" "$HELPERS/esp_gw_report.py" "$WORK/results" "$ROUNDS" "$SIZES" | tee "$WORK/report.txt"
