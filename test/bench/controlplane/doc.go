// Package controlplane re-creates the control-plane tests of the open
// gateway-api-bench against the local Kubernetes cluster harness
// (test/cluster): attached routes, propagation, route changes, scale with
// churn and backend failover, with the real controller and the proxy it
// provisions. The scenarios are tests gated by GATEHOUSE_CLUSTER_TESTS=1; see
// README.md. The non-test files hold what the scenarios share and what can be
// tested without a cluster: statistics, /proc and /metrics sampling, and the
// PNG time-series plot.
package controlplane
