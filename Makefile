# kmip-adapter: `make run` starts a development server, `make test` runs the suite.

GO       ?= go
BIN      := bin
DEV_DIR  ?= .dev
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/kmip-adapter/kmip-adapter/cmd/internal/cli.Version=$(VERSION)
SOFTHSM  := /usr/lib/softhsm/libsofthsm2.so

.PHONY: all build run test unit integration conformance lint deps deps-test clean bench bench-scale docs dist

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

# deps makes sure SoftHSM2 is there: installed with apt-get when running as
# root, otherwise one line saying what to install.
deps:
	@scripts/ensure-packages.sh softhsm2

# deps-test adds the peers the integration tests talk to.
deps-test:
	@scripts/ensure-packages.sh softhsm2 python3-pykmip python3-pytest postgresql p11-kit p11-kit-modules openssl

# run prepares $(DEV_DIR) once (idempotent) and starts the server on it.
run: deps build
	$(BIN)/kmipctl dev init --dir $(DEV_DIR)
	$(BIN)/kmip-adapter serve --config $(DEV_DIR)/config.yaml

# test runs every test: unit tests and the integration tests that start the
# real binaries against SoftHSM2, PyKMIP and ovh/kmip-go.
# The -json stream goes through scripts/testcheck, which prints what a
# plain run prints and fails when a test was skipped while
# KMIP_INTEGRATION_REQUIRED=1 (CI): no test is skipped silently there.
test: deps-test
	@bash -o pipefail -c '$(GO) test -count=1 -timeout 15m -json ./... | $(GO) run ./scripts/testcheck skips'

unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /integration)

integration: deps-test
	$(GO) test -count=1 -v ./integration/...

# conformance replays the OASIS KMIP vectors (../shared/kmip-vectors, or
# KMIP_VECTORS=dir) against a fresh server; UPDATE=1 rewrites
# integration/testdata/conformance-passing.txt with the files that pass.
conformance: deps
	KMIP_CONFORMANCE_UPDATE=$(UPDATE) $(GO) test -count=1 -v -timeout 10m -run '^TestConformance$$' ./integration/

# bench runs the adapter beside Debian's pykmip-server on this machine
# (workloads at 1 and 16 connections, raw SoftHSM2 rates) and writes
# docs/bench/results.md and chart.svg. Not part of `make test`; about 10
# minutes. BENCH_DURATION, BENCH_CONNS, BENCH_WORKLOADS: see scripts/bench.sh.
bench: deps-test
	scripts/bench.sh

# bench-scale fills a fresh store to SCALE_OBJECTS objects (default
# 1000000) and measures Create and Locate at that size, the store's bytes
# per object and the server's memory, then with SCALE_IDLE (1000) idle
# connections; see scripts/bench-scale.sh. Not part of make test.
bench-scale: deps-test
	SCALE_OBJECTS=$(SCALE_OBJECTS) SCALE_FILL_CONNS=$(SCALE_FILL_CONNS) SCALE_DURATION=$(SCALE_DURATION) SCALE_IDLE=$(SCALE_IDLE) scripts/bench-scale.sh

lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	scripts/staticcheck.sh
	$(GO) run ./scripts/testcheck files

# docs regenerates what is generated from the code (a test fails when stale).
docs:
	$(GO) run ./cmd/internal/configdoc > docs/configuration.md

# dist builds release binaries with version information (trimmed paths,
# stripped; they link libc dynamically because the PKCS#11 backend loads
# modules through cgo), plus the systemd unit and example configurations,
# into dist/ and a tarball.
DIST ?= dist
dist:
	rm -rf $(DIST) && mkdir -p $(DIST)/bin
	CGO_ENABLED=1 $(GO) build -trimpath -ldflags '$(LDFLAGS) -s -w' -o $(DIST)/bin/ ./cmd/kmip-adapter ./cmd/kmipctl
	cp -r packaging/systemd packaging/examples $(DIST)/
	cp README.md docs/configuration.md docs/operations.md docs/troubleshooting.md docs/architecture.md $(DIST)/
	tar -C $(DIST) -czf $(DIST)/kmip-adapter-$(VERSION)-linux-$$($(GO) env GOARCH).tar.gz bin systemd examples README.md configuration.md operations.md troubleshooting.md architecture.md
	@echo "dist/: $$(ls $(DIST))"

# fuzz runs every fuzz target for FUZZTIME each (a crash leaves its input
# in the package's testdata/fuzz/: commit it, it is a regression test);
# fuzz-short is the pass CI runs after the tests. Seeds come from the OASIS
# vectors (KMIP_VECTORS) and testdata/fuzz.
FUZZTIME        ?= 30s
FUZZ_SHORT_TIME ?= 4s
FUZZ_TARGETS    := ./kmip/wire:FuzzCheck ./kmip/wire:FuzzReadFrame \
	./kmip/message:FuzzDecodeRequest ./kmip/message:FuzzPayload \
	./kmip/attr:FuzzAttributeValue ./kmip/attr:FuzzStoredList \
	./kmip/server:FuzzExecutor ./kmip/server:FuzzExecutorItem \
	./kmip/ops:FuzzSymmetric
.PHONY: fuzz fuzz-short
fuzz:
	GO=$(GO) scripts/fuzz.sh $(FUZZTIME) $(FUZZ_TARGETS)

fuzz-short:
	KMIP_FUZZ_SAMPLE=8 GO=$(GO) scripts/fuzz.sh $(FUZZ_SHORT_TIME) $(FUZZ_TARGETS)

clean:
	rm -rf $(BIN) $(DIST)
