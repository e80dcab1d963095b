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
  echo "# ListenerSet scale: N sets (HTTPS, own certificate), 16 routes each; new set -> TLS 200"
  go test -run '^$' -bench 'ListenerSetScale' -benchtime 20x -timeout 30m ./test/bench
  echo "# translating one ListenerSet add+delete at 10 vs 2,500 sets"
  go test -run '^$' -bench 'ListenerSetAdd' -benchmem ./internal/translate
  echo "# end-to-end req/s with 0 and 20 CEL expressions on the route"
  go test -run '^$' -bench 'PolicyThroughput' -benchtime 20000x -count 3 ./test/bench
  echo "# forwarding through the upstream registry vs a direct client"
  go test -run '^$' -bench 'Forward|Direct' -benchmem ./internal/proxy/upstream
} 2>&1 | tee "$out/bench-$stamp.txt"
