# Summarises `go test -bench` output of the BenchmarkSSM* benchmarks (as
# bench/run.sh writes it with SUITE=ssm: rounds separated by "# round N"
# lines) into a markdown table: for each figure the median over rounds of
# the reference (the official plugin, or `aws ssm start-session` for
# startup) and of dbtunnel, and the median of the per-round ratios
# dbtunnel / reference with their range, so both numbers of a ratio come
# from the same round. Plain POSIX awk (mawk, gawk, busybox).

function fmtval(v, unit) {
	if (unit == "MB/s") return sprintf("%.2f MB/s", v)
	if (unit == "ns/op") return sprintf("%.0f ms", v / 1e6)
	if (unit == "tunnel-cpu-ms/GB") return sprintf("%.1f s/GB", v / 1e3)
	return sprintf("%g %s", v, unit)
}

function cell(row, tool,    r, n, a) {
	n = 0
	for (r = 1; r <= nround; r++)
		if ((row, tool, r) in val) a[++n] = val[row, tool, r]
	return n ? fmtval(median(a, n), unitof[row]) : "–"
}

# rows: benchmark, unit, label, reference tool, target.
BEGIN {
	nrows = split("SSMThroughput|MB/s|1 connection, db → laptop|plugin|≥ 1.0×;" \
		"SSMThroughput|tunnel-cpu-ms/GB|1 connection, db → laptop: CPU of the client per GB ↓|plugin|–;" \
		"SSMThroughputUnpaced|MB/s|1 connection, db → laptop, agent not pacing (not the real agent)|plugin|–;" \
		"SSMThroughputUnpaced|tunnel-cpu-ms/GB|1 connection, db → laptop, agent not pacing: CPU of the client per GB ↓|plugin|–;" \
		"SSMThroughputUpload|MB/s|1 connection, laptop → db|plugin|≥ 2×;" \
		"SSMThroughputUpload|tunnel-cpu-ms/GB|1 connection, laptop → db: CPU of the client per GB ↓|plugin|–;" \
		"SSMParallel|MB/s|4 connections, db → laptop, aggregate (dbtunnel `sessions: 4`)|plugin|≥ 3×;" \
		"SSMParallel|tunnel-cpu-ms/GB|4 connections: CPU of the client per GB ↓|plugin|–;" \
		"SSMStartup|ns/op|start → first round trip through the local port ↓|aws-cli|≤ 0.3×", spec, ";")
	for (k = 1; k <= nrows; k++) {
		split(spec[k], f, "|")
		row = f[1] SUBSEP f[2]
		rows[k] = row
		unitof[row] = f[2]
		labelof[row] = f[3]
		refof[row] = f[4]
		targetof[row] = f[5]
	}
	nround = 1
	cur = 1
	started = 0
}

/^# round [0-9]+/ {
	if (started) cur++
	started = 1
	if (cur > nround) nround = cur
	next
}

/^BenchmarkSSM/ {
	name = $1
	sub(/-[0-9]+$/, "", name) # GOMAXPROCS suffix
	sub(/^Benchmark/, "", name)
	if (split(name, parts, "/") != 2) next
	for (i = 3; i < NF; i += 2) {
		row = parts[1] SUBSEP $(i + 1)
		if (row in unitof) {
			val[row, parts[2], cur] = $i
			any = 1
			if (parts[2] ~ /^dbtunnel@/ && !(parts[2] in isvariant)) {
				isvariant[parts[2]] = 1
				variants[++nvariants] = parts[2]
			}
		}
	}
}

END {
	if (!any) {
		print "summarize-ssm.awk: no BenchmarkSSM results in the input" > "/dev/stderr"
		exit 1
	}
	printf "| benchmark (median of %d round%s) | reference | reference's figure | dbtunnel | dbtunnel / reference | target |\n", nround, (nround > 1 ? "s" : "")
	print "| --- | --- | ---: | ---: | ---: | ---: |"
	for (k = 1; k <= nrows; k++) {
		row = rows[k]
		ref = refof[row]
		refname = (ref == "aws-cli") ? "`aws ssm start-session`" : "session-manager-plugin"
		print "| " labelof[row] " | " refname " | " cell(row, ref) " | " cell(row, "dbtunnel") " | " ratio(row, "dbtunnel", ref) " | " targetof[row] " |"
	}
	# A/B: each DBTUNNEL_BENCH_VARIANTS dbtunnel against this tree's.
	for (v = 1; v <= nvariants; v++) {
		print ""
		print "| benchmark | " variants[v] " | dbtunnel | " variants[v] " / dbtunnel | " variants[v] " / reference |"
		print "| --- | ---: | ---: | ---: | ---: |"
		for (k = 1; k <= nrows; k++) {
			row = rows[k]
			print "| " labelof[row] " | " cell(row, variants[v]) " | " cell(row, "dbtunnel") " | " ratio(row, variants[v], "dbtunnel") " | " ratio(row, variants[v], refof[row]) " |"
		}
	}
}
