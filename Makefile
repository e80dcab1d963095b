# Gatehouse build and test entry points. Go comes from the machine image
# (/usr/local/go); everything else is fetched by the Go toolchain.
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X gatehouse.dev/gatehouse/internal/version.Version=$(VERSION)
FUZZTIME ?= 10s

.PHONY: build run test unit fuzz bench vet clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/gatehouse ./cmd/gatehouse

# The standalone gateway on examples/quickstart, with the demo upstream.
run: build
	./hack/quickstart.sh

# Everything CI runs: vet, unit + integration tests (race detector), and a
# bounded run of every fuzz target.
test: vet unit fuzz

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l cmd internal api test 2>/dev/null)" || (gofmt -l cmd internal api test; echo "gofmt needed"; exit 1)

unit:
	$(GO) test -race -count=1 ./...

fuzz:
	./hack/fuzz.sh $(FUZZTIME)

bench:
	./test/bench/run.sh

clean:
	rm -rf bin
