# ringlog developer targets. `make` (or `make help`) lists them.

GO ?= go
FUZZTIME ?= 60s
BENCHSTAT ?= golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

SHELL := bash
.DEFAULT_GOAL := help
.PHONY: help fmt lint test fuzz bench crash demo demo-cluster bench-raft

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-zA-Z_-]*:.*## / {printf "  %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

fmt: ## Format all Go files in place (gofmt -w)
	gofmt -w .

lint: ## go vet, and fail if gofmt would change any file
	$(GO) vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

test: ## go vet, then all tests with the race detector (and the bench/ and raftlog/ modules' own tests)
	$(GO) vet ./... && $(GO) test -race -count=1 -timeout 9m ./...
	cd bench && $(GO) vet ./... && $(GO) test -count=1 -timeout 5m ./...
	cd raftlog && $(GO) vet ./... && $(GO) test -race -count=1 -timeout 5m ./...

fuzz: ## Run each native fuzz target in ./fuzz for FUZZTIME (default 60s)
	@if [ ! -d fuzz ]; then echo "fuzz/ does not exist yet: no fuzz targets to run"; exit 0; fi; \
	list=$$($(GO) test ./fuzz/ -list 'Fuzz.*') || exit 1; \
	targets=$$(grep '^Fuzz' <<<"$$list" || true); \
	if [ -z "$$targets" ]; then echo "no fuzz targets in ./fuzz"; exit 0; fi; \
	for t in $$targets; do \
		echo "== $$t ($(FUZZTIME))"; \
		$(GO) test ./fuzz/ -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

bench: ## Benchmarks of mmaplog, flock, ringindex (6 runs) into bench.txt, then benchstat
	set -o pipefail; $(GO) test ./mmaplog ./flock ./ringindex -run '^$$' -bench . -benchmem -count 6 | tee bench.txt
	@$(GO) run $(BENCHSTAT) bench.txt || echo "benchstat not available; raw figures are in bench.txt"
	$(MAKE) bench-peers

.PHONY: bench-peers bench-quick bench-durable strace-durable bench-ring

RINGBENCH := ^Benchmark(AppendHoldLockPrefaulted|RingSteadyState|(Cursor)?WakeLatencyAcrossProcesses)$$

bench-ring: ## Issue 15's ring targets in one run (steady-state ring vs prefaulted append, batch vs memcpy, heap/RSS, cursor wake-up; -count 5; RINGLOG_LONG=1: 100M events) into bench/results/ring.txt
	set -o pipefail; $(GO) test ./mmaplog -run '^$$' -bench '$(RINGBENCH)' -benchmem -count 5 -timeout 90m | tee bench/results/ring.txt
	@$(GO) run $(BENCHSTAT) bench/results/ring.txt || echo "benchstat not available; raw figures are in bench/results/ring.txt"
	@awk -f bench/ring-ratios.awk bench/results/ring.txt

bench-peers: ## ringlog vs tidwall/wal, raft-wal and the machine's limits (bench/, -count 6) into bench/results and README
	cd bench && GO=$(GO) BENCHSTAT=$(BENCHSTAT) bash ./run.sh full

bench-quick: ## A short pass of bench-peers (-count 1, no 10M-event logs, under 3 minutes)
	cd bench && GO=$(GO) BENCHSTAT=$(BENCHSTAT) bash ./run.sh quick

bench-durable: ## The durable rows of bench-peers and the segment preparation limits (-count 5, ~10 minutes) into bench/results/durable.{txt,md}
	cd bench && GO=$(GO) BENCHSTAT=$(BENCHSTAT) bash ./run.sh durable

strace-durable: ## System calls per durable append (AppendWithID + Sync) and per idle Sync, from strace -f -c
	cd bench && GO=$(GO) bash ./strace-durable.sh

crash: ## Crash and kill tests in long mode (RINGLOG_LONG=1), with the raft cluster's 50 kills
	RINGLOG_LONG=1 $(GO) test -race -count=1 -timeout 60m -v -run 'Crash|Kill|DamagedRecordExhaustive|RetentionMultiProcess' ./...
	cd raftlog && RINGLOG_LONG=1 $(GO) test -race -count=1 -timeout 60m -v -run 'Cluster|Kill' .

demo-cluster: ## 3 raft nodes on raftlog as 3 processes on loopback, live; kills the leader twice, then the verdict
	cd raftlog && $(GO) run ./cmd/ringlog-cluster

bench-raft: ## raftlog vs raft-wal vs raft-boltdb (raftbench, StoreLogs, GetLog, Open, the cluster; -count 3) into bench/results/raft.{txt,md}
	cd raftlog && set -o pipefail && $(GO) test -run '^$$' -bench . -benchmem -count 3 -timeout 60m . | tee ../bench/results/raft.txt
	cd raftlog && $(GO) run ./internal/benchreport -in ../bench/results/raft.txt -cmd "make bench-raft" > ../bench/results/raft.md

demo: ## The demo: 3 writer processes, a follower, SIGKILLs, verification (DEMOFLAGS="--duration 20s --keep")
	$(GO) run ./cmd/ringlog demo $(DEMOFLAGS)
