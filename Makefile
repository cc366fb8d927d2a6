# farmwatch. The two commands that work on a fresh machine:
#   make demo   build everything, run a collector with a simulated fleet and this machine's agent, print alerts
#   make test   vet, race tests, stale-proto check, the store on PostgreSQL, cross-compile for six targets
GO      ?= go
BIN     ?= bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/farmwatch/farmwatch/agent/collect.Version=$(VERSION) -X main.version=$(VERSION)
# Build tags of the shipped binaries (internal/release.Tags): no gRPC request tracing.
TAGS    ?= grpcnotrace
PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64

.PHONY: all build test test-postgres vet gofmt unit suite fuzz fuzz-short proto proto-check cross demo clean tools console-assets

all: build

include geo/geo.mk
# Packaging (make package) and benchmarks (make bench) live beside their code.
-include packaging/package.mk
-include bench/bench.mk

build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

test: gofmt vet proto-check unit suite test-postgres fuzz-short cross

gofmt:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.tools/*'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# packaging/ is a module of its own (the packaging tool's dependencies stay out of the product's go.sum):
# vet and test it as well.
vet:
	$(GO) vet ./...
	$(GO) -C packaging vet ./...
	GOOS=darwin $(GO) vet ./agent/... ./cmd/farmwatch-agent/
	GOOS=windows $(GO) vet ./agent/... ./cmd/farmwatch-agent/

# The packaging module runs no goroutines of its own; without -race its time-zone comparison over
# 240,000 points takes seconds, not minutes.
unit:
	$(GO) test -race -count=1 ./...
	$(GO) -C packaging test -count=1 ./...

# The labelled scenario suite at both report intervals; under the race
# detector (unit) it runs the hourly one only. Then the labelled applicant
# corpus, its precision, recall and margins per scenario printed.
suite:
	$(GO) test -count=1 -run '^TestScenarioSuite$$' ./sim
	$(GO) test -count=1 -v -run '^TestApplicantSuite$$' ./sim

# The PostgreSQL backend's conformance pass: the store's tests (under the race
# detector), then the scenario suite at both report intervals (its weight
# sensitivity, thirty replays into scratch bbolt stores, runs in suite only) and
# the collector's tests, every store in a database of a throw-away PostgreSQL
# cluster of each test binary (internal/pgtest; unit runs the harness's own
# tests). Without PostgreSQL installed these tests skip; with FARMWATCH_CI set
# (.ci/run) they fail. The suite and the collector's tests wait on database
# round trips more than they use the CPU, so they run side by side (each
# package's output comes whole when it ends); the store's tests run alone, as
# their conflict tests time concurrent transactions.
test-postgres:
	FARMWATCH_TEST_STORE=postgres $(GO) test -race -count=1 ./collector/store/
	@set -e; pids=""; for args in "-count=1 -run ^TestScenarioSuite$$/^(1h0m0s|5m0s)$$/^$$ ./sim" "-count=1 ./collector/server/"; do \
		echo "FARMWATCH_TEST_STORE=postgres $(GO) test $$args"; \
		FARMWATCH_TEST_STORE=postgres $(GO) test $$args & pids="$$pids $$!"; \
	done; \
	failed=0; for p in $$pids; do wait $$p || failed=1; done; \
	if [ $$failed = 1 ]; then echo "test-postgres: FAIL"; exit 1; fi

# Fuzz targets: every `func FuzzXxx` in a _test.go file, found by name so a
# new target cannot be left out. `make test` gives each a short run (its seed
# corpus, the fixtures and their truncations, runs in `unit` as well);
# `make fuzz` a longer one.
# Fuzz budgets are counts of executions, not durations: with a duration, Go
# 1.26's fuzz coordinator can report "context deadline exceeded" at the
# deadline on a loaded machine although no input failed (go.dev/issue/75804).
# A count has no deadline to race and only runs slower when the machine is slow.
FUZZTIME ?= 300000x
FUZZ_SHORT ?= 5000x

fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZ_SHORT)

fuzz:
	@set -e; targets="$$(grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '^./.tools/' | \
		while read -r f; do d="./$$(dirname "$${f#./}")"; \
			sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$$f" | sed "s|$$|:$$d|"; done | sort)"; \
	if [ -z "$$targets" ]; then echo "no fuzz targets found"; exit 1; fi; \
	for t in $$targets; do \
		echo "fuzz $${t%%:*} ($${t#*:}) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t%%:*}$$" -fuzztime $(FUZZTIME) $${t#*:}; \
	done

# Regenerate the committed Go code of proto/ with pinned generator versions.
proto:
	scripts/protogen.sh

# Fail when the committed generated code differs from what the pinned
# generators produce from the .proto files.
proto-check:
	@tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	scripts/protogen.sh "$$tmp" && \
	if ! diff -r -q -x '*.proto' "$$tmp/proto/farmwatch" proto/farmwatch; then \
		echo "proto/: committed generated code is stale; run 'make proto' and commit"; exit 1; \
	else echo "proto-check: generated code is up to date"; fi

cross:
	@set -e; for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; \
		echo "cross-compile $$os/$$arch"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -tags '$(TAGS)' -o /dev/null ./cmd/farmwatch-agent; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -tags '$(TAGS)' -o /dev/null ./cmd/farmwatch; \
	done

# The console's map shapes (internal/console/atlas, committed) from the pinned npm packages
# world-atlas and us-atlas; needs npm and the registry, a fresh clone does not.
console-assets:
	$(GO) run ./internal/console/internal/atlasgen -out internal/console/atlas

demo: build
	scripts/demo.sh $(BIN)

clean:
	rm -rf $(BIN) .tools
