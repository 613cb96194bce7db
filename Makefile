# kmip-adapter: `make run` starts a development server, `make test` runs the suite.

GO       ?= go
BIN      := bin
DEV_DIR  ?= .dev
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/kmip-adapter/kmip-adapter/cmd/internal/cli.Version=$(VERSION)
SOFTHSM  := /usr/lib/softhsm/libsofthsm2.so

.PHONY: all build run test unit integration conformance lint deps deps-test clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

# deps makes sure SoftHSM2 is there: installed with apt-get when running as
# root, otherwise one line saying what to install.
deps:
	@scripts/ensure-packages.sh softhsm2

# deps-test adds the peers the integration tests talk to.
deps-test:
	@scripts/ensure-packages.sh softhsm2 python3-pykmip python3-pytest

# run prepares $(DEV_DIR) once (idempotent) and starts the server on it.
run: deps build
	$(BIN)/kmipctl dev init --dir $(DEV_DIR)
	$(BIN)/kmip-adapter serve --config $(DEV_DIR)/config.yaml

# test runs every test: unit tests and the integration tests that start the
# real binaries against SoftHSM2, PyKMIP and ovh/kmip-go.
test: deps-test
	$(GO) test -count=1 -timeout 15m ./...

unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /integration)

integration: deps-test
	$(GO) test -count=1 -v ./integration/...

# conformance replays the OASIS KMIP vectors (../shared/kmip-vectors, or
# KMIP_VECTORS=dir) against a fresh server; UPDATE=1 rewrites
# integration/testdata/conformance-passing.txt with the files that pass.
conformance: deps
	KMIP_CONFORMANCE_UPDATE=$(UPDATE) $(GO) test -count=1 -v -timeout 10m -run '^TestConformance$$' ./integration/

lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

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
	cp README.md docs/configuration.md $(DIST)/
	tar -C $(DIST) -czf $(DIST)/kmip-adapter-$(VERSION)-linux-$$($(GO) env GOARCH).tar.gz bin systemd examples README.md configuration.md
	@echo "dist/: $$(ls $(DIST))"

clean:
	rm -rf $(BIN) $(DIST)
