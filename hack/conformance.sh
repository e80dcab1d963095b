#!/usr/bin/env bash
# Runs the upstream Gateway API conformance suite (v1.6.3: GATEWAY-HTTP,
# -GRPC, -TLS and -TCP profiles, ListenerSet and BackendTLSPolicy tests)
# against Gatehouse on the local cluster harness, writes the
# ConformanceReport to conformance/reports/v1.6.3/gatehouse.yaml and fails
# if any test in conformance/expected-pass.txt does not pass.
#
# Needs root (network namespaces) and Go. Builds the harness binaries first
# (hack/cluster/build.sh; seconds when cached).
#
# Environment:
#   GATEHOUSE_CONFORMANCE_RUN=ShortName   run one test (no report written)
#   GATEHOUSE_CONFORMANCE_SKIP=A,B        skip tests (no report written)
#   GATEHOUSE_CONFORMANCE_FEATURES=a,b    override the claimed features
#   GATEHOUSE_CONFORMANCE_CHANNEL=standard       CRD channel (default experimental)
#   GATEHOUSE_CONFORMANCE_WRITE_EXPECTED=1       rewrite expected-pass.txt from this run
#   GATEHOUSE_CONFORMANCE_STRICT=1        fail on any failing test, not only regressions
#   GATEHOUSE_CONFORMANCE_KEEP=1          keep the cluster dir (controller.log, pod logs)
#   GATEHOUSE_CONFORMANCE_AUTHORIZATION=AlwaysAllow   apiserver authorization (default RBAC:
#                                         the controller runs with deploy/rbac.yaml's permissions)
#   GATEHOUSE_VERSION=v0.x.y              version recorded in the report (default: dev)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/hack/cluster/build.sh" >&2
cd "$root/test/conformance"
export GATEHOUSE_CONFORMANCE=1
# Experimental-channel CRDs by default, so experimental features such as
# HTTPRouteRetry count too (GATEHOUSE_CONFORMANCE_CHANNEL=standard for the
# standard channel).
export GATEHOUSE_CONFORMANCE_CHANNEL="${GATEHOUSE_CONFORMANCE_CHANNEL:-experimental}"
# test/cluster serialises clusters on this machine itself (a host lock).
exec go test -count=1 -timeout 60m -v -run '^TestConformance$' . "$@"
