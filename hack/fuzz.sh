#!/usr/bin/env bash
# Runs every Go fuzz target for a bounded time each (default 10s).
set -euo pipefail
cd "$(dirname "$0")/.."
time_per_target=${1:-10s}
status=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz $pkg $target ($time_per_target)"
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$time_per_target" "$pkg"; then
      status=1
    fi
  done
done
exit $status
