#!/usr/bin/env bash
# Runs the peer benchmarks of this module and writes, under results/:
#   latest.txt            raw `go test -bench` output
#   latest.benchstat.txt  benchstat -col /impl of each workload (when benchstat can be had)
#   latest.md             the report: per workload medians and ratios, the targets
#   latest.svg            the chart (gonum/plot)
# A full run also refreshes the results block of ../README.md.
#
# usage: ./run.sh [full|quick]
#   full   -count 6 -benchtime 1s: enough for benchstat; roughly 20-30 minutes on 2 cores, 5 GiB of disk
#   quick  -count 1 -benchtime 50ms -short (no 10M-event logs): under 2 minutes
# environment: GO (go), BENCHSTAT (benchstat's module@version), BENCH (-bench regexp, .)
set -euo pipefail
cd "$(dirname "$0")"

mode=${1:-full}
GO=${GO:-go}
BENCHSTAT=${BENCHSTAT:-golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da}
case $mode in
full)  count=6 benchtime=1s  flags=(-timeout 120m) readme=(-readme ../README.md) ;;
quick) count=1 benchtime=50ms flags=(-short -timeout 10m) readme=() ;;
*) echo "usage: $0 [full|quick]" >&2; exit 2 ;;
esac

mkdir -p results
raw=results/latest.txt
tmp=$(mktemp results/.latest.XXXXXX)
trap 'rm -f "$tmp"' EXIT

echo "== bench ($mode): go test -bench ${BENCH:-.} -count $count -benchtime $benchtime ${flags[*]}"
"$GO" test -run '^$' -bench "${BENCH:-.}" -benchmem -count "$count" -benchtime "$benchtime" "${flags[@]}" . | tee "$tmp"
mv "$tmp" "$raw"
chmod 644 "$raw"

# benchstat per workload, the impls as columns: the first (a ringlog variant) is the base.
stat=(-benchstat results/latest.benchstat.txt)
: >results/latest.benchstat.txt
for w in $(grep -o '^Benchmark[A-Za-z0-9]*' "$raw" | sort -u | sed 's/^Benchmark//'); do
	printf '## %s\n\n' "$w" >>results/latest.benchstat.txt
	if ! "$GO" run "$BENCHSTAT" -filter ".name:$w" -col /impl "$raw" >>results/latest.benchstat.txt 2>results/.benchstat.err; then
		echo "benchstat not available ($(head -c 300 results/.benchstat.err)); the report goes without it" >&2
		rm -f results/latest.benchstat.txt
		stat=()
		break
	fi
	echo >>results/latest.benchstat.txt
done
rm -f results/.benchstat.err

BENCH_GO_VERSION=$("$GO" env GOVERSION) "$GO" run ./cmd/report -in "$raw" -md results/latest.md -svg results/latest.svg \
	-mode "$mode" -count "$count" -benchtime "$benchtime" "${stat[@]}" "${readme[@]}"
echo "== wrote bench/results/latest.{txt,md,svg}"
