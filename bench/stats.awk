# bench/stats.awk: the statistics both summarisers share; run.sh loads it
# before bench/summarize.awk or bench/summarize-ssm.awk. It reads
# val[row, tool, round] and nround from the summariser. Plain POSIX awk.

function median(a, n,    i, j, t) {
	for (i = 2; i <= n; i++) {
		t = a[i]
		for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
		a[j + 1] = t
	}
	if (n % 2) return a[(n + 1) / 2]
	return (a[n / 2] + a[n / 2 + 1]) / 2
}

# ratio prints the median of the per-round ratios num/den, with the range
# when there is more than one round.
function ratio(row, num, den,    r, n, a, lo, hi, m) {
	n = 0
	for (r = 1; r <= nround; r++) {
		if (((row, num, r) in val) && ((row, den, r) in val) && val[row, den, r] > 0) {
			a[++n] = val[row, num, r] / val[row, den, r]
		}
	}
	if (n == 0) return "–"
	lo = hi = a[1]
	for (r = 2; r <= n; r++) {
		if (a[r] < lo) lo = a[r]
		if (a[r] > hi) hi = a[r]
	}
	m = median(a, n)
	if (n == 1) return sprintf("**%.2f×**", m)
	return sprintf("**%.2f×** (%.2f–%.2f)", m, lo, hi)
}
