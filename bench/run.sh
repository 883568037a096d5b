#!/usr/bin/env bash
# bench/run.sh: dbtunnel against OpenSSH `ssh -L` and a direct connection,
# through the e2e test bed (real sshd, real PostgreSQL 15, network
# namespaces), then a markdown table of medians and ratios. With SUITE=ssm:
# dbtunnel's SSM client against the official session-manager-plugin and
# `aws ssm start-session`, through the same ssmfake.
#
# Usage: sudo bench/run.sh            (root: the test bed needs namespaces)
#        sudo SUITE=ssm bench/run.sh
#
# Environment:
#   SUITE=ssh       ssh: the SSH tunnel benchmarks (bench/summarize.awk);
#                   ssm: the BenchmarkSSM* ones (bench/summarize-ssm.awk)
#   ROUNDS=5        rounds; each round is one run of the test binary with a
#                   fresh test bed, running every benchmark once, so the three
#                   paths are measured back to back and the ratios are paired
#   BENCHTIME=2s    -test.benchtime for each benchmark
#   BENCH=...       -test.bench regexp (e.g. 'Throughput$' or 'Pgbench');
#                   default: every benchmark of the suite
#   OUT=FILE        also keep the raw `go test -bench` output in FILE
#                   (benchstat-compatible)
#   QUIET_WAIT=300  seconds to wait, before each round, for the machine to be
#                   idle (other e2e runs, builds); 0 to not wait
#   DBTUNNEL_BENCH_VARIANTS   A/B experiments: more dbtunnels measured in the
#                   same rounds, as extra columns dbtunnel@NAME, e.g.
#                   'before=/tmp/dbtunnel-before;gogc400=- GOGC=400'
#                   (NAME=BINARY [KEY=VALUE...]; "-" = this tree's build);
#                   see docs/BENCHMARKS.md
#
# Takes about a minute per round on 2 cores (defaults: ~5 min), plus any wait
# for an idle machine; SUITE=ssm about 45 s per round.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${ROUNDS:-5}
benchtime=${BENCHTIME:-2s}
suite=${SUITE:-ssh}
case $suite in
ssh)
	bench=${BENCH:-'^Benchmark(Throughput|ThroughputUpload|PgbenchSelect|IdleConns)$'}
	summarize=bench/summarize.awk
	;;
ssm)
	bench=${BENCH:-'^BenchmarkSSM'}
	summarize=bench/summarize-ssm.awk
	;;
*)
	echo "bench: SUITE must be ssh or ssm, not $suite" >&2
	exit 2
	;;
esac
quiet_wait=${QUIET_WAIT:-300}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dbtunnel-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
raw=$tmp/raw.txt

# cpu_busy prints the share (0-100) of CPU time not idle over one second.
cpu_busy() {
	local a b
	read -r -a a < <(grep '^cpu ' /proc/stat)
	sleep 1
	read -r -a b < <(grep '^cpu ' /proc/stat)
	local total=0 idle i
	for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
	idle=$((b[4] - a[4] + b[5] - a[5]))
	echo $(((total - idle) * 100 / (total > 0 ? total : 1)))
}

# wait_quiet waits until no other e2e test bed exists and the CPUs are
# mostly idle: anything else running skews the comparison.
wait_quiet() {
	[ "$quiet_wait" -gt 0 ] || return 0
	local deadline=$((SECONDS + quiet_wait)) others busy
	while :; do
		others=$(ip netns list 2>/dev/null | grep -cE '^dbt[0-9]+[bd]( |$)' || true)
		busy=$(cpu_busy)
		if [ "$others" -eq 0 ] && [ "$busy" -lt 15 ]; then
			return 0
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "bench: machine still busy (${busy}% CPU, $others other test-bed namespaces); measuring anyway, expect noise" >&2
			return 0
		fi
		echo "bench: waiting for an idle machine (${busy}% CPU busy, $others other test-bed namespaces)" >&2
		sleep 5
	done
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench: building the e2e test binary" >&2
go test -c -o "$tmp/e2e.test" ./e2e

for r in $(seq 1 "$rounds"); do
	wait_quiet
	echo "bench: round $r/$rounds" >&2
	echo "# round $r" >>"$raw"
	# The binary runs in e2e/ as `go test` would (it builds dbtunnel from
	# the module it finds there).
	(cd e2e && "$tmp/e2e.test" -test.run '^$' -test.bench "$bench" \
		-test.benchtime "$benchtime" -test.count 1 -test.timeout 20m) >"$tmp/round.txt" 2>&1 || {
		cat "$tmp/round.txt" >&2
		echo "bench: round $r failed" >&2
		exit 1
	}
	if grep -q -- '--- SKIP' "$tmp/round.txt"; then
		cat "$tmp/round.txt" >&2
		echo "bench: benchmarks skipped (prerequisites missing: run as root with sshd, PostgreSQL 15, pgbench; for SUITE=ssm the aws CLI and a Go toolchain that can build the plugin)" >&2
		exit 1
	fi
	grep -E '^(Benchmark|goos|goarch|pkg|cpu)' "$tmp/round.txt" | tee -a "$raw" >&2
done

if [ -n "${OUT:-}" ]; then
	cp "$raw" "$OUT"
	echo "bench: raw results in $OUT" >&2
fi

echo
echo "Machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), Linux $(uname -r);" \
	"$(go version | cut -d' ' -f3); $(ssh -V 2>&1 | cut -d, -f1); $(grep -m1 'golang.org/x/crypto ' go.mod | awk '{print "x/crypto " $2}')." \
	"Rounds: $rounds, benchtime $benchtime."
[ "$suite" = ssm ] && echo "$(aws --version 2>&1 | cut -d' ' -f1-2); session-manager-plugin $(sed -n 's/^\tgithub.com\/aws\/session-manager-plugin //p' tunnel/ssm/ssmfake/testdata/plugin/go.mod)."
[ -n "${DBTUNNEL_BENCH_VARIANTS:-}" ] && echo "Variants: DBTUNNEL_BENCH_VARIANTS='$DBTUNNEL_BENCH_VARIANTS'"
echo "Load before the rounds: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)."
echo
awk -f bench/stats.awk -f "$summarize" "$raw"
