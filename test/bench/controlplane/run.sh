#!/usr/bin/env bash
# Runs every control-plane scenario against the local cluster harness with
# the default (gateway-api-bench) sizes. Needs root and hack/cluster/build.sh.
# Extra arguments go to `go test` (e.g. -run TestPropagation); sizes come
# from BENCH_* variables (README.md). Output: out/<UTC stamp>/.
set -euo pipefail
cd "$(dirname "$0")"
if [[ $(id -u) -ne 0 ]]; then
	echo "run.sh: needs root (the cluster harness creates network namespaces)" >&2
	exit 1
fi
stamp=$(date -u +%Y%m%d-%H%M%S)
export BENCH_OUT=${BENCH_OUT:-out/$stamp}
mkdir -p "$BENCH_OUT"
GATEHOUSE_CLUSTER_TESTS=1 go test -count=1 -v -timeout 60m \
	-run '^(TestAttachedRoutes|TestPropagation|TestRouteChanges|TestScaleWithChurn|TestBackendFailover)$' \
	"$@" . 2>&1 | tee "$BENCH_OUT/run.log" | grep -v '^time=.*level='
echo "tables and raw samples in $BENCH_OUT"
