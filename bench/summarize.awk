# Summarises `go test -bench` output of the e2e benchmarks (as bench/run.sh
# writes it: rounds separated by "# round N" lines) into a markdown table.
#
# For every benchmark and metric: the median over rounds for each path
# (direct, ssh-L, dbtunnel), and the ratios dbtunnel/ssh-L and
# dbtunnel/direct. A ratio is computed inside each round (both numbers from
# the same test bed, minutes apart at most) and the table shows the median
# of those per-round ratios with their range, so drift between rounds does
# not leak into the ratio. Plain POSIX awk (mawk, gawk, busybox).

function fmtval(v, unit) {
	if (v == "") return "–"
	if (unit == "RSS-MiB") return sprintf("%.1f MiB", v)
	if (unit == "KiB/conn") return sprintf("%.1f KiB", v)
	if (unit == "MB/s") return sprintf("%.0f MB/s", v)
	if (unit == "tps") return sprintf("%.0f tps", v)
	if (unit ~ /-cpu-ms\/GB$/) return sprintf("%.0f ms/GB", v)
	if (unit ~ /-cpu-us\/txn$/) return sprintf("%.0f µs", v)
	return sprintf("%g %s", v, unit)
}

# rank orders the metrics of one benchmark: the figure of merit, then CPU.
function rank(unit) {
	if (unit ~ /^tunnel-cpu-/) return 2
	if (unit ~ /^sshd-cpu-/) return 3
	if (unit == "KiB/conn") return 4
	return 1
}

# cell prints the median over rounds of one path's figure.
function cell(row, tool, unit,    r, n, a) {
	n = 0
	for (r = 1; r <= nround; r++)
		if ((row, tool, r) in val) a[++n] = val[row, tool, r]
	return n ? fmtval(median(a, n), unit) : "–"
}

function label(key, unit,    base) {
	if (key == "Throughput") base = "bulk db → laptop"
	else if (key == "ThroughputUpload") base = "bulk laptop → db"
	else if (key ~ /^PgbenchSelect clients=/) {
		sub(/^PgbenchSelect clients=/, "", key)
		base = "pgbench -S, " key (key == "1" ? " client" : " clients")
	} else if (key == "IdleConns") base = "100 idle sessions"
	else base = key
	if (unit ~ /^tunnel-cpu-ms/) return base ": CPU of the tunnel client per GB ↓"
	if (unit ~ /^sshd-cpu-ms/) return base ": CPU of sshd per GB ↓"
	if (unit ~ /^tunnel-cpu-us/) return base ": CPU of the tunnel client per txn ↓"
	if (unit ~ /^sshd-cpu-us/) return base ": CPU of sshd per txn ↓"
	if (unit == "RSS-MiB") return base ": RSS of the tunnel client ↓"
	if (unit == "KiB/conn") return base ": RSS per session ↓"
	return base
}

BEGIN { nround = 1; cur = 1; started = 0 }

/^# round [0-9]+/ {
	if (started) cur++
	started = 1
	if (cur > nround) nround = cur
	next
}

/^Benchmark/ {
	name = $1
	sub(/-[0-9]+$/, "", name) # GOMAXPROCS suffix
	sub(/^Benchmark/, "", name)
	n = split(name, parts, "/")
	tool = ""
	key = ""
	for (i = 1; i <= n; i++) {
		if (parts[i] ~ /^(direct|ssh-L|dbtunnel(@.+)?)$/) tool = parts[i]
		else key = key (key == "" ? "" : " ") parts[i]
	}
	if (tool == "") next
	if (tool ~ /^dbtunnel@/ && !(tool in isvariant)) {
		isvariant[tool] = 1
		variants[++nvariants] = tool
	}
	for (i = 3; i < NF; i += 2) {
		unit = $(i + 1)
		if (unit !~ /^(MB\/s|tps|RSS-MiB|KiB\/conn|(tunnel|sshd)-cpu-(ms\/GB|us\/txn))$/) continue
		if (!(key in keyseen)) {
			keyseen[key] = 1
			keys[++nkeys] = key
		}
		row = key SUBSEP unit
		if (!(row in seen)) {
			seen[row] = 1
			units[key] = units[key] SUBSEP unit
		}
		val[row, tool, cur] = $i
	}
}

END {
	# Rows: benchmarks in order of appearance, each one's metrics by rank.
	for (k = 1; k <= nkeys; k++) {
		nu = split(substr(units[keys[k]], 2), us, SUBSEP)
		for (rk = 1; rk <= 4; rk++)
			for (u = 1; u <= nu; u++)
				if (rank(us[u]) == rk) rows[++nrows] = keys[k] SUBSEP us[u]
	}
	if (nrows == 0) {
		print "summarize.awk: no benchmark results in the input" > "/dev/stderr"
		exit 1
	}
	ntools = split("direct ssh-L dbtunnel", tools, " ")
	printf "| benchmark (median of %d round%s) | direct | ssh -L | dbtunnel | dbtunnel / ssh -L | dbtunnel / direct |\n", nround, (nround > 1 ? "s" : "")
	print "| --- | ---: | ---: | ---: | ---: | ---: |"
	for (k = 1; k <= nrows; k++) {
		row = rows[k]
		split(row, ku, SUBSEP)
		line = "| " label(ku[1], ku[2])
		for (t = 1; t <= ntools; t++) line = line " | " cell(row, tools[t], ku[2])
		print line " | " ratio(row, "dbtunnel", "ssh-L") " | " ratio(row, "dbtunnel", "direct") " |"
	}
	if (nvariants > 0) {
		# A/B: each variant against this tree's dbtunnel, paired per round.
		print ""
		head = "| benchmark | dbtunnel"
		sep = "| --- | ---:"
		for (v = 1; v <= nvariants; v++) {
			head = head " | " variants[v] " | " variants[v] " / dbtunnel | " variants[v] " / ssh -L"
			sep = sep " | ---: | ---: | ---:"
		}
		print head " |"
		print sep " |"
		for (k = 1; k <= nrows; k++) {
			row = rows[k]
			split(row, ku, SUBSEP)
			line = "| " label(ku[1], ku[2]) " | " cell(row, "dbtunnel", ku[2])
			for (v = 1; v <= nvariants; v++)
				line = line " | " cell(row, variants[v], ku[2]) " | " ratio(row, variants[v], "dbtunnel") " | " ratio(row, variants[v], "ssh-L")
			print line " |"
		}
	}
	print ""
	print "Ratios are the first path's figure over the second's, per round, then the median (and range) over rounds."
	print "Higher is better except where marked ↓ (CPU, memory: below 1.00× means dbtunnel uses less)."
}
