# Reads `go test -bench` output of make bench-ring and prints the ring targets of issue 15
# from the medians of its runs: the steady-state append against the prefaulted append of
# the same run, the batch against the memcpy limit, heap and RSS growth, and the cursor
# wake-up against Log.Follow's.
function median(key,    n, i, j, t, a) {
	n = cnt[key]
	if (n == 0) return "NaN"
	for (i = 1; i <= n; i++) a[i] = val[key, i]
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
function status(ok) { return ok ? "met" : "MISSED" }
/^Benchmark/ {
	name = $1
	sub(/-[0-9]+$/, "", name)
	for (i = 3; i < NF; i += 2) { key = name " " $(i+1); val[key, ++cnt[key]] = $i }
}
END {
	pre = median("BenchmarkAppendHoldLockPrefaulted/log/size=128 ns/op")
	app = median("BenchmarkRingSteadyState/append/size=128 ns/op")
	pct = median("BenchmarkRingSteadyState/batch/n=1000/size=128 %-of-memcpy")
	for (k in cnt) if (k ~ /^BenchmarkRingSteadyState\/flat\//) { split(k, p, " "); flat = p[1] }
	heap = median(flat " heap-growth-MiB"); rss = median(flat " rss-growth-MiB"); peak = median(flat " rss-peak-growth-MiB")
	lp50 = median("BenchmarkWakeLatencyAcrossProcesses p50-µs"); lp99 = median("BenchmarkWakeLatencyAcrossProcesses p99-µs")
	cp50 = median("BenchmarkCursorWakeLatencyAcrossProcesses p50-µs"); cp99 = median("BenchmarkCursorWakeLatencyAcrossProcesses p99-µs")
	printf "ring targets (issue 15), medians of %d runs:\n", cnt["BenchmarkRingSteadyState/append/size=128 ns/op"]
	printf "  steady-state append %.1f ns vs prefaulted %.1f ns: %.2fx (target <= 1.15x) %s\n", app, pre, app / pre, status(app <= 1.15 * pre)
	printf "  batch 1000 x 128 B: %.1f%% of the memcpy limit (target >= 40%%) %s\n", pct, status(pct >= 40)
	printf "  %s: heap %+.2f MiB, RSS %+.1f MiB, RSS peak %+.1f MiB over the run\n", substr(flat, 26), heap, rss, peak
	printf "  wake-up across processes, p50/p99: cursor %.1f/%.1f µs vs Log.Follow %.1f/%.1f µs\n", cp50, cp99, lp50, lp99
}
