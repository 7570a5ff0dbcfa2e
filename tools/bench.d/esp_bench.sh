#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# tools/bench.d/esp_bench.sh: lib/esp's encrypt and decrypt rates per core
# (AES-GCM-128 and ChaCha20-Poly1305, CPU crypto and lookaside, per crypto
# driver, 64- and 1420-byte inner packets) against dpdk-test-crypto-perf's
# raw AEAD throughput on the same core, in the same run, on hugepages.
#
# usage: tools/bench.d/esp_bench.sh [--seconds N] [--rounds N] [--build DIR] [--cpu N] [--quick]
#
# Needs root: it reserves 512 hugepages of 2 MB, mounts hugetlbfs if it is
# not mounted, and gives both back on exit. Builds BUILD/lib/esp/esp_bench
# with ninja (a meson target, never installed; BUILD defaults to build/).
# Each round measures every configuration once and runs crypto-perf once;
# the report takes each figure's best round (the least disturbed by other
# processes) and the ratio of the two best. Results stay in .bench/esp/
# (git-ignored).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$ROOT/build
SECONDS_EACH=1
ROUNDS=3
CPU=1
HUGEPAGES=512
PY=/usr/bin/python3
WORK=$ROOT/.bench/esp
PREFIX=espbench$$

die() { echo "esp_bench: $*" >&2; exit 1; }
log() { echo "esp_bench: $*" >&2; }

while [ $# -gt 0 ]; do
	case $1 in
	--seconds) SECONDS_EACH=${2:?}; shift 2 ;;
	--rounds) ROUNDS=${2:?}; shift 2 ;;
	--build) BUILD=$(cd "${2:?}" && pwd); shift 2 ;;
	--cpu) CPU=${2:?}; shift 2 ;;
	--quick) SECONDS_EACH=1; ROUNDS=1; shift ;;
	-h | --help) sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
[[ $SECONDS_EACH =~ ^[1-9][0-9]*$ ]] || die "--seconds: a positive whole number"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds: a positive whole number"
[ "$(id -u)" = 0 ] || die "must run as root (hugepages)"
[ "$(nproc --all)" -ge 2 ] || die "needs 2 CPUs (crypto-perf's main lcore and its worker)"
command -v dpdk-test-crypto-perf >/dev/null || die "no dpdk-test-crypto-perf (package dpdk)"
mkdir -p "$WORK"
# One benchmark at a time (the lock tools/bench takes): they would fight over CPUs and hugepages.
exec 9>"$ROOT/.bench/.lock"
flock -n 9 || die "another benchmark is running (lock $ROOT/.bench/.lock)"

BENCH=$BUILD/lib/esp/esp_bench
ninja -C "$BUILD" lib/esp/esp_bench >"$WORK/build.log" 2>&1 ||
	{ tail -20 "$WORK/build.log" >&2; die "building esp_bench failed (log: $WORK/build.log)"; }

# ---- hugepages and processes, given back on exit ----------------------------------------
HP_PREV=""
HP_MOUNTED=0
HP_MKDIR=0
CUR_PID=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	set +e
	if [ -n "$CUR_PID" ]; then
		kill -INT "$CUR_PID" 2>/dev/null
		wait "$CUR_PID" 2>/dev/null
	fi
	rm -rf "/var/run/dpdk/$PREFIX" "/var/run/dpdk/${PREFIX}cp"
	[ "$HP_MOUNTED" = 1 ] && umount /dev/hugepages
	[ "$HP_MKDIR" = 1 ] && rmdir /dev/hugepages
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
free=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
[ "$free" -ge 256 ] || die "only $free free hugepages (memory fragmented?)"
if ! mountpoint -q /dev/hugepages 2>/dev/null; then
	[ -d /dev/hugepages ] || { mkdir /dev/hugepages; HP_MKDIR=1; }
	mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages
	HP_MOUNTED=1
fi

# ---- measurements -------------------------------------------------------------------------
EAL=(-n 1 --in-memory --no-pci --log-level error)

# Run a command in the background (so cleanup can stop it) and wait for it.
run() {
	local rc=0
	"$@" &
	CUR_PID=$!
	wait "$CUR_PID" || rc=$?
	CUR_PID=""
	return $rc
}

# dpdk-test-crypto-perf, raw AEAD encryption: ROUND DRIVER ALGO KEYBYTES. Its
# worker is the second lcore of -l, on the CPU lib/esp ran on.
other=$((CPU == 0 ? 1 : 0))
perf() {
	local r=$1 drv=$2 algo=$3 key=$4
	run dpdk-test-crypto-perf -l "$other,$CPU" "${EAL[@]}" --file-prefix "${PREFIX}cp" \
		--vdev "${drv}0" -- --ptest throughput --devtype "$drv" --optype aead \
		--aead-algo "$algo" --aead-op encrypt --aead-key-sz "$key" --aead-iv-sz 12 \
		--aead-aad-sz 8 --digest-sz 16 --buffer-sz 64,1420 --burst-sz 32 \
		--total-ops $((SECONDS_EACH * 3000000)) --silent --csv-friendly >"$WORK/perf.out" 2>&1 ||
		{ tail -5 "$WORK/perf.out" >&2; die "dpdk-test-crypto-perf failed ($drv $algo)"; }
	awk -v r="$r" -v d="$drv" -v a="$algo" -F, \
		'$1 ~ /^ *[0-9]+ *$/ {print r "," d "," a "," $0}' "$WORK/perf.out" >>"$WORK/perf.csv"
}

: >"$WORK/esp.jsonl"
: >"$WORK/perf.csv"
for ((round = 1; round <= ROUNDS; round++)); do
	log "round $round/$ROUNDS: lib/esp on CPU $CPU (${SECONDS_EACH}s a figure), then crypto-perf"
	run "$BENCH" -l "$CPU" "${EAL[@]}" --file-prefix "$PREFIX" -- --algos aes-gcm-128 \
		--drivers crypto_aesni_gcm,crypto_aesni_mb --modes cpu,lookaside --sizes 64,1420 \
		--seconds "$SECONDS_EACH" >>"$WORK/esp.jsonl"
	run "$BENCH" -l "$CPU" "${EAL[@]}" --file-prefix "$PREFIX" -- \
		--algos aes-gcm-128,chacha20-poly1305 --drivers auto --modes direct --sizes 64,1420 \
		--seconds "$SECONDS_EACH" >>"$WORK/esp.jsonl"
	run "$BENCH" -l "$CPU" "${EAL[@]}" --file-prefix "$PREFIX" -- --algos chacha20-poly1305 \
		--drivers crypto_aesni_mb --modes cpu,lookaside --sizes 64,1420 \
		--seconds "$SECONDS_EACH" >>"$WORK/esp.jsonl"
	perf "$round" crypto_aesni_gcm aes-gcm 16
	perf "$round" crypto_aesni_mb aes-gcm 16
	perf "$round" crypto_aesni_mb chacha20-poly1305 32
done

"$PY" "$ROOT/tools/bench.d/esp_report.py" "$WORK/esp.jsonl" "$WORK/perf.csv" "$ROUNDS" |
	tee "$WORK/report.txt"
