#!/usr/bin/env bash
# bench/profile.sh: where the CPU goes while one benchmark runs. Runs a
# single e2e benchmark for a long benchtime and records a system-wide
# `perf record -g` of the steady state (every process: dbtunnel or ssh, sshd,
# the benchmark's own reader and source, the kernel), then prints the share
# of each process and dbtunnel's hottest call paths.
#
# Usage: sudo bench/profile.sh [BENCH] [SECONDS]
#   BENCH    -test.bench regexp, default 'Throughput$/dbtunnel'
#            (e.g. 'Throughput$/ssh-L', 'PgbenchSelect/dbtunnel/clients=1$')
#   SECONDS  how long to sample, default 8
# Environment: OUT=DIR keeps perf.data and the reports (default: a temp dir,
# removed); DBTUNNEL_BENCH_VARIANTS as for bench/run.sh (name a variant in
# BENCH, e.g. 'Throughput$/dbtunnel@before', to profile it).
#
# Needs perf (linux-perf). dbtunnel needs nothing special: Go binaries keep
# their symbol table and frame pointers, so perf resolves Go frames.
set -euo pipefail
cd "$(dirname "$0")/.."

bench=${1:-'Throughput$/dbtunnel'}
secs=${2:-8}
command -v perf >/dev/null || { echo "profile: perf not found (apt-get install linux-perf)" >&2; exit 1; }

if [ -n "${OUT:-}" ]; then
	dir=$OUT
	mkdir -p "$dir"
else
	dir=$(mktemp -d "${TMPDIR:-/tmp}/dbtunnel-profile.XXXXXX")
	trap 'rm -rf "$dir"' EXIT
fi

go test -c -o "$dir/e2e.test" ./e2e
# Long enough that sampling starts after setup and ramp-up and ends before
# the final run does.
benchtime=$((secs * 2 + 10))s
(cd e2e && "$dir/e2e.test" -test.run '^$' -test.bench "$bench" -test.benchtime "$benchtime" \
	-test.count 1 -test.timeout 10m) >"$dir/bench.txt" 2>&1 &
pid=$!
sleep 10
perf record -a -g -F 997 -o "$dir/perf.data" -- sleep "$secs" >/dev/null 2>&1
wait "$pid" || { cat "$dir/bench.txt" >&2; exit 1; }

grep '^Benchmark' "$dir/bench.txt"
echo
echo "## CPU by process (all samples; idle = swapper)"
perf report -i "$dir/perf.data" --no-children --sort comm -g none --stdio 2>/dev/null | grep '%' | head -10
for comm in dbtunnel ssh; do
	perf report -i "$dir/perf.data" --children --comm "$comm" --sort sym -g none --stdio \
		>"$dir/$comm.txt" 2>/dev/null || true
	grep -c '%' "$dir/$comm.txt" >/dev/null || continue
	echo
	echo "## $comm: inclusive time by function (share of its own samples)"
	grep '%' "$dir/$comm.txt" | head -50
done
