#!/usr/bin/env bash
# bench/tui-first-paint.sh: time from starting the dbtunnel binary on a
# pseudo-terminal to the first frame that shows a cached inventory of 500
# databases (3 scopes), against the time `dbtunnel version` takes to start
# and exit on the same pty (the reference: process start alone).
#
# Usage: bench/tui-first-paint.sh [RUNS]     (default 20; prints medians)
# Fresh scans fail at once (profiles not in an empty AWS config, endpoint
# a closed loopback port) and never reach AWS; the frame measured is the
# first one showing a cached database.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
dir=$(mktemp -d "${TMPDIR:-/tmp}/dbtunnel-paint.XXXXXX")
trap 'rm -rf "$dir"' EXIT

go build -o "$dir/dbtunnel" ./cmd/dbtunnel
DBTUNNEL_BENCH_CACHE="$dir/cache/dbtunnel" go test -count=1 -run '^TestWriteBenchCache$' ./internal/tui >/dev/null
# The fixture's scopes are prod/ap-northeast-1, dev/us-east-1 and
# audit/eu-west-1; list them all so each cache file is read.
cat >"$dir/config.yaml" <<'YAML'
discovery:
  profiles: [prod, dev, audit]
  regions: [ap-northeast-1, us-east-1, eu-west-1]
  cache_ttl: 1h
YAML

python3 - "$dir" "$runs" <<'PY'
import os, pty, select, statistics, subprocess, sys, time, fcntl, termios, struct
d, runs = sys.argv[1], int(sys.argv[2])
env = dict(os.environ, HOME=d, XDG_CACHE_HOME=d + "/cache", XDG_STATE_HOME=d + "/state",
           DBTUNNEL_CONFIG=d + "/config.yaml", AWS_ENDPOINT_URL="http://127.0.0.1:9",
           AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", TERM="xterm-256color")

def run(args, until):
    m, s = pty.openpty()
    fcntl.ioctl(s, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 200, 0, 0))
    t0 = time.perf_counter()
    p = subprocess.Popen(args, stdin=s, stdout=s, stderr=s, env=env, close_fds=True)
    os.close(s)
    buf = b""
    while True:
        r, _, _ = select.select([m], [], [], 5)
        if not r:
            p.kill(); raise SystemExit("timed out; output: %r" % buf[-500:])
        try:
            chunk = os.read(m, 65536)
        except OSError:
            chunk = b""
        buf += chunk
        if (until and until in buf) or not chunk:
            t = time.perf_counter() - t0
            break
    p.terminate()
    try:
        while os.read(m, 65536):
            pass
    except OSError:
        pass
    p.wait(); os.close(m)
    return t * 1000

paint = [run([d + "/dbtunnel"], b"db-0000-aurora") for _ in range(runs)]
ref = [run([d + "/dbtunnel", "version"], None) for _ in range(runs)]
pm, rm = statistics.median(paint), statistics.median(ref)
print("| measurement | median (ms) | ratio to process start |")
print("|---|---|---|")
print("| `dbtunnel version` start to exit (reference) | %.1f | 1.00 |" % rm)
print("| `dbtunnel` start to first frame with 500 cached targets | %.1f | %.2f |" % (pm, pm / rm))
PY
