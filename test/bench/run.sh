#!/usr/bin/env bash
# Runs the benchmarks behind docs/benchmarks.md and writes raw output to
# test/bench/out/. Bounded: every benchmark has a fixed iteration count.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=/usr/local/go/bin:$PATH
out=test/bench/out
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
{
  echo "# propagation: file change -> first 200 from the new route"
  go test -run '^$' -bench 'Propagation' -benchtime 100x ./test/bench
  echo "# proxy heap with 0 and 5,000 routes"
  go test -run '^$' -bench 'ProxyHeap' -benchtime 3x ./internal/proxy
  echo "# route matching at 10 vs 5,000 routes, and incremental table updates"
  go test -run '^$' -bench 'Match|Update' -benchmem ./internal/proxy/router
  echo "# forwarding through the upstream registry vs a direct client"
  go test -run '^$' -bench 'Forward|Direct' -benchmem ./internal/proxy/upstream
} 2>&1 | tee "$out/bench-$stamp.txt"
