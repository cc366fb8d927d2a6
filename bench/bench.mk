# bench/bench.mk: farmwatch benchmarks, included by the top-level Makefile.
#
#   make bench        every figure of docs/PERFORMANCE.md in one table (about 20 minutes on 2 cores):
#                     ingest of 1,000 and 10,000 simulated agents over gRPC with mutual TLS next to raw
#                     bbolt writes and a bare grpc-go echo of the same bytes; admin queries against a store
#                     of 100,000 devices and 10,000,000 reports; the running agent service against a
#                     running prometheus-node-exporter (20 cycles 10 s apart, about 4 minutes); geo lookups;
#                     ingest of 1,000 agents beside a dead webhook (refused, hung) against none, 5 interleaved
#                     repeats (about 9 minutes); then the PostgreSQL rows on a throw-away cluster this tool
#                     starts (initdb, fsync on; skipped with the reason when PostgreSQL is not installed):
#                     ingest of 1,000 agents on bbolt, on PostgreSQL with one collector and with two sharing
#                     the database, 3 interleaved repeats, and the admin queries against the 100,000-device
#                     store (1,000,000 reports) copied into PostgreSQL by `farmwatch store copy`'s code.
#   make bench-quick  the same table from small sizes (about two minutes), to check the tooling.
#
# Benchmarks only: `make test` runs none of this, and nothing here fails because a machine is slow.
# BENCH_FLAGS passes extra flags, e.g. BENCH_FLAGS='-cpuprofile collector.pprof'.

GO ?= go
BENCH_OUT ?= $(BIN)/bench
BENCH_FLAGS ?=

.PHONY: bench bench-quick bench-tool

bench-tool:
	@mkdir -p $(BENCH_OUT)
	$(GO) build -o $(BENCH_OUT)/farmwatch-bench ./bench/cmd/farmwatch-bench

bench: bench-tool
	@start=$$(date +%s); \
	echo "agent footprint (go test -bench Footprint) ..."; \
	$(GO) test -run '^$$' -bench Footprint -benchtime 20x ./cmd/farmwatch-agent/ > $(BENCH_OUT)/footprint.txt 2>&1 || { cat $(BENCH_OUT)/footprint.txt; exit 1; }; \
	echo "geo lookups (go test -bench Lookup) ..."; \
	$(GO) test -run '^$$' -bench Lookup ./geo/ > $(BENCH_OUT)/geo.txt 2>&1 || { cat $(BENCH_OUT)/geo.txt; exit 1; }; \
	$(BENCH_OUT)/farmwatch-bench -footprint $(BENCH_OUT)/footprint.txt -geo $(BENCH_OUT)/geo.txt \
		-markdown $(BENCH_OUT)/table.md $(BENCH_FLAGS) || exit 1; \
	echo "make bench: $$(( $$(date +%s) - start )) s in all"

bench-quick: bench-tool
	@$(GO) test -run '^$$' -bench Lookup -benchtime 200000x ./geo/ > $(BENCH_OUT)/geo.txt 2>&1 || { cat $(BENCH_OUT)/geo.txt; exit 1; }; \
	$(BENCH_OUT)/farmwatch-bench -fleets 1000 -duration 5s -warmup 2s -raw-records 20000 \
		-query-devices 10000 -query-reports 200000 -query-repeats 10 -output-repeats 1 -pg-repeats 1 -pg-query-reports 20000 \
		-geo $(BENCH_OUT)/geo.txt $(BENCH_FLAGS)
