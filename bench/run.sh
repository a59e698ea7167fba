#!/usr/bin/env bash
# Runs the peer benchmarks of this module and writes, under results/:
#   latest.txt            raw `go test -bench` output
#   latest.benchstat.txt  benchstat -col /impl of each workload (when benchstat can be had)
#   latest.md             the report: per workload medians and ratios, the targets
#   latest.svg            the chart (gonum/plot)
# A full run also refreshes the results block of ../README.md. A durable run writes the
# same four files as durable.{txt,benchstat.txt,md} (no chart), from the durable
# workloads of issue 13 only.
#
# usage: ./run.sh [full|quick|durable]
#   full     -count 6 -benchtime 1s: enough for benchstat; roughly 30-40 minutes on 2 cores, 5 GiB of disk
#   quick    -count 1 -benchtime 50ms -short (no 10M-event logs): under 3 minutes
#   durable  5 rounds of -count 1 -benchtime 1s of DurableAppend, DurableBatch,
#            DurableMultiProcess, SyncIdle and SegmentPrep (the limits of segment
#            preparation), one test binary run per round, so that every impl and limit is
#            measured in each round and a drift of the disk's flush time over the minutes of
#            the run falls on all of them alike (with -count 5 each runs 5 times in a row):
#            about 10 minutes
# environment: GO (go), BENCHSTAT (benchstat's module@version), BENCH (-bench regexp, .),
#   RUN (1; 0 remakes benchstat's output and the report from the existing raw output)
set -euo pipefail
cd "$(dirname "$0")"

mode=${1:-full}
GO=${GO:-go}
BENCHSTAT=${BENCHSTAT:-golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da}
out=latest chart=(-svg results/latest.svg) cmd='`make bench-peers` (full) or `make bench-quick`'
case $mode in
full)  count=6 benchtime=1s  flags=(-timeout 120m) readme=(-readme ../README.md) ;;
quick) count=1 benchtime=50ms flags=(-short -timeout 10m) readme=() ;;
durable)
	count=5 rounds=5 benchtime=1s flags=(-timeout 60m) readme=() out=durable chart=(-svg '') cmd='`make bench-durable`'
	BENCH=${BENCH:-'^Benchmark(Durable|SyncIdle|SegmentPrep)'} ;;
*) echo "usage: $0 [full|quick|durable]" >&2; exit 2 ;;
esac

mkdir -p results
raw=results/$out.txt
tmp=$(mktemp results/.$out.XXXXXX)
trap 'rm -f "$tmp"' EXIT

if [ "${RUN:-1}" != 0 ]; then
	if [ -n "${rounds:-}" ]; then
		echo "== bench ($mode): $rounds rounds of the test binary with -bench ${BENCH:-.} -count 1 -benchtime $benchtime ${flags[*]}"
		bin=$(mktemp -d)
		trap 'rm -f "$tmp"; rm -rf "$bin"' EXIT
		"$GO" test -c -o "$bin/bench.test" .
		: >"$tmp"
		for round in $(seq "$rounds"); do
			echo "== round $round of $rounds"
			"$bin/bench.test" -test.run '^$' -test.bench "${BENCH:-.}" -test.benchmem -test.count 1 -test.benchtime "$benchtime" \
				"${flags[@]/#-/-test.}" | tee -a "$tmp"
		done
	else
		echo "== bench ($mode): go test -bench ${BENCH:-.} -count $count -benchtime $benchtime ${flags[*]}"
		"$GO" test -run '^$' -bench "${BENCH:-.}" -benchmem -count "$count" -benchtime "$benchtime" "${flags[@]}" . | tee "$tmp"
	fi
	mv "$tmp" "$raw"
	chmod 644 "$raw"
fi
# benchstat reads "key: value" lines as configuration: it gets the output without the
# benchmarks' "note: " lines (cmd/report reads them from the raw output).
grep -v '^note: ' "$raw" >"$tmp" || true

# benchstat per workload, the impls as columns: the first (a ringlog variant) is the base.
stat=(-benchstat results/$out.benchstat.txt)
: >"results/$out.benchstat.txt"
for w in $(grep -o '^Benchmark[A-Za-z0-9]*' "$raw" | sort -u | sed 's/^Benchmark//'); do
	printf '## %s\n\n' "$w" >>"results/$out.benchstat.txt"
	if ! "$GO" run "$BENCHSTAT" -filter ".name:$w" -col /impl "$tmp" >>"results/$out.benchstat.txt" 2>results/.benchstat.err; then
		echo "benchstat not available ($(head -c 300 results/.benchstat.err)); the report goes without it" >&2
		rm -f "results/$out.benchstat.txt"
		stat=()
		break
	fi
	echo >>"results/$out.benchstat.txt"
done
rm -f results/.benchstat.err

BENCH_GO_VERSION=$("$GO" env GOVERSION) "$GO" run ./cmd/report -in "$raw" -md "results/$out.md" "${chart[@]}" \
	-mode "$mode" -count "$count" -rounds "${rounds:-}" -benchtime "$benchtime" -cmd "$cmd" "${stat[@]}" "${readme[@]}"
echo "== wrote bench/results/$out.{txt,md}"
