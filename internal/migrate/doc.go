// Package migrate converts Kubernetes Ingress objects written for
// ingress-nginx into Gateway API objects for a shared Gateway with
// ListenerSets: one Gateway owned by the platform team, one ListenerSet per
// app namespace carrying that namespace's hostnames and TLS Secrets, and
// HTTPRoutes attached to the ListenerSet. ingress-nginx annotations with a
// Gateway API or Gatehouse equivalent are translated (filters, timeouts,
// weighted and header canaries, TrafficPolicies for source-address rules,
// BackendTLSPolicies); every other annotation is reported by name.
//
// The package is pure: DecodeInput turns bytes into objects, Migrate turns
// objects into objects and a Report, Render turns objects into YAML. Reading
// files or a cluster and writing output is the command's job
// (cmd/gatehouse/migrate.go).
package migrate
