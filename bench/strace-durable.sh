#!/usr/bin/env bash
# Counts the system calls of durable appends under strace -f -c: the test binary's
# durable-pairs child (durablePairsChild in durable_test.go) opens a fresh log with default
# options, makes N AppendWithID + Sync pairs of 128 B events, then M calls of Sync with
# nothing new, and closes the log. Three runs, each on a fresh log:
#   base   N=0,   M=0     (open + close)
#   pairs  N=100, M=0
#   idle   N=100, M=100
# per durable append = (pairs - base) / 100; per idle Sync = (idle - pairs) / 100. The
# "all but runtime" line leaves out the Go runtime's scheduler, timer and preemption calls
# (futex, nanosleep, epoll_pwait, sched_yield, signals), which vary from run to run.
#
# usage: ./strace-durable.sh [N]   (make strace-durable; N defaults to 100)
# environment: GO (go)
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v strace >/dev/null; then
	echo "strace-durable: strace is not installed; nothing measured (apt-get install strace)"
	exit 0
fi
n=${1:-100}
GO=${GO:-go}
work=$(mktemp -d "${TMPDIR:-/tmp}/ringlog-strace.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$GO" test -c -o "$work/bench.test" .

# count NAME PAIRS IDLE: runs the child under strace, its summary in $work/NAME.
count() {
	if ! RINGLOG_BENCH_ROLE=durable-pairs RINGLOG_BENCH_DIR="$work/log-$1" RINGLOG_BENCH_EVENTS="$2" \
		RINGLOG_BENCH_SIZE=128 RINGLOG_BENCH_IDLE="$3" \
		strace -f -c -o "$work/$1" "$work/bench.test" >"$work/$1.out" 2>&1; then
		echo "strace-durable: the $1 run failed:" >&2
		cat "$work/$1.out" "$work/$1" >&2
		exit 1
	fi
}
count base 0 0
count pairs "$n" 0
count idle "$n" "$n"

echo "== system calls of one durable append (AppendWithID + Sync, 128 B, fresh log, default options)"
echo "   and of one Sync with nothing new; averages over $n of each, from strace -f -c; $(uname -sr)"
# The summary lines: % time, seconds, usecs/call, calls, [errors], syscall.
awk -v n="$n" '
FNR == 1 { file++ }
$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" { calls[file, $NF] = $4; names[$NF] = 1 }
$NF == "total" { total[file] = $4 }
END {
	printf "%-16s %14s %14s\n", "syscall", "per append", "per idle Sync"
	split("msync fdatasync fsync flock", key, " ")
	for (i = 1; i <= 4; i++) {
		s = key[i]
		printf "%-16s %14.2f %14.2f\n", s, (calls[2, s] - calls[1, s]) / n, (calls[3, s] - calls[2, s]) / n
		shown[s] = 1
	}
	for (s in names) {
		a = (calls[2, s] - calls[1, s]) / n
		b = (calls[3, s] - calls[2, s]) / n
		if (!(s in shown) && (a >= 0.05 || b >= 0.05))
			printf "%-16s %14.2f %14.2f\n", s, a, b
	}
	printf "%-16s %14.2f %14.2f\n", "all", (total[2] - total[1]) / n, (total[3] - total[2]) / n
	# The Go runtime calls of its own (scheduler, timers, preemption signals) vary run to run.
	split("futex nanosleep epoll_pwait epoll_wait sched_yield rt_sigreturn rt_sigprocmask tgkill getpid gettid", rt, " ")
	for (i in rt) runtime[rt[i]] = 1
	for (s in names)
		if (!(s in runtime)) {
			own2 += calls[2, s] - calls[1, s]
			own3 += calls[3, s] - calls[2, s]
		}
	printf "%-16s %14.2f %14.2f\n", "all but runtime", own2 / n, own3 / n
}' "$work/base" "$work/pairs" "$work/idle"
