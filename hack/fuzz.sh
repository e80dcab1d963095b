#!/usr/bin/env bash
# Runs every Go fuzz target for a bounded number of executions each (default
# 20000x). A count, not a duration: Go 1.26's fuzz coordinator can report a
# spurious "context deadline exceeded" when a duration -fuzztime expires
# (go.dev/issue/75804, fixed in Go 1.27); a count has no deadline to race.
# Minimisation of new interesting inputs is bounded too (100 executions):
# its default (60 s per input) can stall a target for minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
time_per_target=${1:-20000x}
status=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz $pkg $target ($time_per_target)"
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$time_per_target" -fuzzminimizetime 100x "$pkg"; then
      status=1
    fi
  done
done
exit $status
