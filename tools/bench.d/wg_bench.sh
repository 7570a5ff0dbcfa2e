#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# tools/bench.d/wg_bench.sh (tools/bench --traffic wg): meshgate's WireGuard
# encrypt and decrypt paths on one worker core, with hugepages, against
# wireguard-go and against DPDK's raw ChaCha20-Poly1305, in the same run.
#
#   meshgate: net_pcap (infinite_rx) of UDP frames of 64, 512 and 1420 bytes
#     -> routed into WireGuard interface wga -> encrypted (wg-output) -> sent to
#     meshgate's own wgb (an address of the source port) -> decrypted
#     (wg-input: replay window, cryptokey routing) -> net_null. Every packet
#     takes both paths on the one worker (tools/bench.d/wg_path.py's set-up):
#     a looped capture cannot carry a live session's messages, whose keys
#     come from a fresh handshake. The window's per-node cycles split the
#     worker's time into the encrypt path (wg-output) and the decrypt path
#     (wg-input), each also given as the rate a core doing only it would reach.
#   wireguard-go: two namespaces joined by a veth, iperf3 TCP through the
#     tunnel; packets of 1420 B per second of wireguard-go CPU time (both ends:
#     each packet encrypted once and decrypted once, like meshgate's loop).
#   raw ChaCha20-Poly1305: dpdk-test-crypto-perf, AEAD encrypt and decrypt,
#     crypto_chacha20_poly1305 (libIPSec_MB), one lcore, the same sizes; per
#     second of that lcore's CPU time as well as per second of wall time.
#
# Prints Mpps and Gbit/s per size, and the two ratios of issue 5: meshgate /
# wireguard-go per core (goal >= 10) and meshgate / raw ChaCha20-Poly1305 at
# 1420 B (goal >= 0.8; the raw figure for one encryption plus one decryption).
# Needs root (hugepages, namespaces).
#
# usage: wg_bench.sh [--duration N] [--warmup N] [--rounds N] [--sizes 64,512,1420]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HELPERS=$ROOT/tools/bench.d
WORK=$ROOT/.bench/wg
PY=/usr/bin/python3
DURATION=5
WARMUP=2
ROUNDS=1
SIZES=64,512,1420
FWD_LCORE=1
HUGEPAGES=1024
MG_PREFIX=mgwgbench
CP_PREFIX=cpwgbench

die() { echo "wg_bench: $*" >&2; exit 1; }
log() { echo "bench: wg: $*" >&2; }

while [ $# -gt 0 ]; do
	case $1 in
	--duration) DURATION=${2:?}; shift 2 ;;
	--warmup) WARMUP=${2:?}; shift 2 ;;
	--rounds) ROUNDS=${2:?}; shift 2 ;;
	--sizes) SIZES=${2:?}; shift 2 ;;
	-h | --help) sed -n '3,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
[ "$(id -u)" = 0 ] || die "must run as root (hugepages, namespaces)"
for t in wg wireguard-go iperf3 dpdk-test-crypto-perf; do
	command -v "$t" >/dev/null || die "no $t (packages wireguard-tools, wireguard-go, iperf3, dpdk)"
done
mkdir -p "$WORK/logs" "$WORK/results"
chmod 700 "$WORK" # the configurations hold private keys
if [ -z "${MG_BENCH_LOCKED:-}" ]; then # tools/bench holds the lock when it calls us
	exec 9>"$ROOT/.bench/.lock"
	flock -n 9 || die "another benchmark is running (lock $ROOT/.bench/.lock)"
fi
MESHGATE=$ROOT/build/app/meshgate
[ -x "$MESHGATE" ] || die "no $MESHGATE: build first (tools/build)"

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

# Before each DPDK run: something else on the machine may have given the
# pages back or unmounted them meanwhile (cleanup restores what was there).
hp_ensure() {
	local cur free
	cur=$(cat /proc/sys/vm/nr_hugepages)
	if [ "$cur" -lt "$HUGEPAGES" ]; then
		[ -n "$HP_PREV" ] || HP_PREV=$cur
		echo "$HUGEPAGES" >/proc/sys/vm/nr_hugepages
	fi
	if ! mountpoint -q /dev/hugepages 2>/dev/null; then
		mkdir -p /dev/hugepages
		mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages
		HP_MOUNTED=1
	fi
	free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
	[ "$free" -ge 600 ] || die "only $free free hugepages of 2 MB (need 600+)"
}

IFS=, read -r -a SIZE_LIST <<<"$SIZES"
rm -f "$WORK"/results/*

# ---- meshgate ----------------------------------------------------------------------------------
run_meshgate() { # SIZE
	local size=$1 name=mg-$1 cfg
	cfg=$("$PY" "$HELPERS/wg_path.py" prepare --size "$size" --dir "$WORK" --prefix "$MG_PREFIX" \
		--hugepages) || die "preparing the $size-byte run failed"
	rm -rf "/var/run/dpdk/$MG_PREFIX"
	hp_ensure
	log "$size B: meshgate, worker on lcore $FWD_LCORE for ${WARMUP}+${DURATION}s"
	"$MESHGATE" -c "$cfg" --stats-interval 0 >"$WORK/logs/$name.log" 2>&1 &
	CUR_PID=$!
	taskset -c 0 "$PY" "$HELPERS/tel.py" measure "/var/run/dpdk/$MG_PREFIX/dpdk_telemetry.v2" \
		--pid "$CUR_PID" --cpu "$FWD_LCORE" --warmup "$WARMUP" --duration "$DURATION" \
		--tx-port sink --rx-port src --meshgate >"$WORK/results/$name.r$ROUND.json" ||
		{ tail -25 "$WORK/logs/$name.log" >&2; die "meshgate did not forward $size-byte frames (log: $WORK/logs/$name.log)"; }
	stop_pid "$CUR_PID"
	CUR_PID=""
}

for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
	for size in "${SIZE_LIST[@]}"; do
		run_meshgate "$size"
	done
done

# ---- raw ChaCha20-Poly1305 on one lcore ----------------------------------------------------------
# Per size and operation, one run each: its worker lcore's CPU seconds (the
# machine is shared) give the rate per CPU second, as for the others.
for op in encrypt decrypt; do
	for size in "${SIZE_LIST[@]}"; do
		case $size in
		64) ops=3000000 ;; 512) ops=1500000 ;; *) ops=800000 ;;
		esac
		log "dpdk-test-crypto-perf: raw ChaCha20-Poly1305 $op of $size B on lcore $FWD_LCORE"
		rm -rf "/var/run/dpdk/$CP_PREFIX"
		hp_ensure
		"$PY" "$HELPERS/wg_path.py" cpu-of-lcore -- dpdk-test-crypto-perf -l "0,$FWD_LCORE" -n 1 \
			--in-memory --no-pci --file-prefix "$CP_PREFIX" --log-level error \
			--vdev crypto_chacha20_poly1305 -- --ptest throughput \
			--devtype crypto_chacha20_poly1305 --optype aead --aead-algo chacha20-poly1305 \
			--aead-op "$op" --aead-key-sz 32 --aead-iv-sz 12 --aead-aad-sz 0 --digest-sz 16 \
			--buffer-sz "$size" --burst-sz 32 --total-ops "$ops" --silent --csv-friendly \
			>"$WORK/results/cryptoperf-$op-$size.json" 2>"$WORK/logs/cryptoperf-$op-$size.log" ||
			{ tail -20 "$WORK/logs/cryptoperf-$op-$size.log" >&2; die "dpdk-test-crypto-perf ($op, $size B) failed"; }
	done
done

# ---- wireguard-go ------------------------------------------------------------------------------
log "wireguard-go: iperf3 TCP between two namespaces for ${DURATION}s"
"$PY" "$HELPERS/wg_path.py" wireguard-go --seconds "$DURATION" >"$WORK/results/wireguard-go.json" \
	2>"$WORK/logs/wireguard-go.log" ||
	{ tail -20 "$WORK/logs/wireguard-go.log" >&2; die "the wireguard-go run failed"; }

"$PY" "$HELPERS/wg_report.py" "$WORK/results" "$ROUNDS" "$SIZES" | tee "$WORK/report.txt"
