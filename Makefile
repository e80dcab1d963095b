# Gatehouse build and test entry points. Go comes from the machine image
# (/usr/local/go); everything else is fetched by the Go toolchain.
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X gatehouse.dev/gatehouse/internal/version.Version=$(VERSION)
FUZZTIME ?= 20000x

.PHONY: build run test unit fuzz bench vet clean cluster-build cluster-up cluster-down test-cluster conformance

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/gatehouse ./cmd/gatehouse

# The standalone gateway on examples/quickstart, with the demo upstream.
run: build
	./hack/quickstart.sh

# Everything CI runs: vet, unit + integration tests (race detector), a
# bounded run of every fuzz target, and the end-to-end tests against a real
# kube-apiserver (the local cluster harness; needs root, builds its binaries
# once into $$GATEHOUSE_CACHE, ~15 min cold), and the upstream Gateway API
# conformance suite (conformance/expected-pass.txt must all pass).
test: vet unit fuzz test-cluster conformance

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l cmd internal api test 2>/dev/null)" || (gofmt -l cmd internal api test; echo "gofmt needed"; exit 1)

unit:
	$(GO) test -race -count=1 ./...
	cd test/bench/controlplane && $(GO) vet ./... && $(GO) test -count=1 ./...

fuzz:
	./hack/fuzz.sh $(FUZZTIME)

bench:
	./test/bench/run.sh

# Data plane side by side: Gatehouse, nginx, HAProxy, Caddy and Traefik in
# front of one upstream, plus the no-proxy limit (root: installs the Debian
# packages it lacks, builds Traefik once into ~/.cache/gatehouse; ~8 min).
# Raw results and the summary go to test/bench/dataplane/results/.
.PHONY: bench-dataplane
bench-dataplane:
	./test/bench/dataplane/run.sh

# Control plane on the local cluster (gateway-api-bench's tests: attached
# routes, propagation, route changes, 10 min of churn, failover; root, ~17 min).
# Tables, samples and the churn plot go to test/bench/controlplane/out/.
.PHONY: bench-controlplane
bench-controlplane: cluster-build
	cd test/bench/controlplane && ./run.sh

cluster-build:
	./hack/cluster/build.sh

# Start/stop a local cluster by hand; up prints the KUBECONFIG export.
cluster-up: cluster-build
	./hack/cluster/up.sh

cluster-down:
	./hack/cluster/down.sh

test-cluster: cluster-build
	GATEHOUSE_CLUSTER_TESTS=1 $(GO) test -count=1 -p 1 -timeout 40m ./test/cluster/... ./test/k8s/... ./internal/provision/...
	GATEHOUSE_CLUSTER_TESTS=1 $(GO) test -count=1 -timeout 20m -run 'TestMigrateOutputAppliesToCluster' ./test/e2e/

# The upstream Gateway API conformance suite (v1.6.3, GATEWAY-HTTP) on the
# local cluster; writes conformance/reports/v1.6.3/gatehouse.yaml and fails if
# a test in conformance/expected-pass.txt fails.
conformance: cluster-build
	./hack/conformance.sh

clean:
	rm -rf bin

# Soak: continuous traffic through the standalone gateway (127.0.0.1 only)
# with config churn and injected faults; samples go to test/soak/out/.
# SOAK_DURATION and SOAK_RATE (req/s) bound it. Not part of `make test`.
SOAK_DURATION ?= 5m
SOAK_RATE ?= 300
.PHONY: soak
soak:
	GATEHOUSE_SOAK=1 GATEHOUSE_SOAK_DURATION=$(SOAK_DURATION) GATEHOUSE_SOAK_RATE=$(SOAK_RATE) \
		$(GO) test -count=1 -v -run '^TestSoak$$' -timeout 0 ./test/soak/
