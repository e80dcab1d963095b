// Package file is the config source for standalone Gatehouse: it reads a
// directory of YAML and JSON files holding Gateway API, core Kubernetes and
// Gatehouse objects, and hands them to the engine as batches of
// source.Events, the same contract the Kubernetes source implements.
//
// # What is read
//
// Every *.yaml, *.yml and *.json file under the directory, recursively.
// Hidden files and directories (".name", which also covers Kubernetes
// ConfigMap mounts' "..data" internals) and editor leftovers ("name~",
// ".#name", "#name#", "*.swp") are skipped. Symlinked files are followed;
// symlinked directories are not. YAML files may hold several documents
// separated by "---"; JSON files hold one or more concatenated objects. A
// document of kind List (apiVersion v1) contributes each of its items.
//
// Supported kinds, with the apiVersions accepted (the first is the one set
// on the decoded object):
//
//	GatewayClass, Gateway, HTTPRoute, ReferenceGrant  gateway.networking.k8s.io/v1 (or v1beta1)
//	TLSRoute, TCPRoute                               gateway.networking.k8s.io/v1 (or v1alpha2)
//	GRPCRoute, BackendTLSPolicy                      gateway.networking.k8s.io/v1
//	Service, Secret, ConfigMap, Namespace            v1
//	EndpointSlice                                    discovery.k8s.io/v1
//	StaticBackend                                    gatehouse.dev/v1alpha1
//
// v1beta1 Gateway API objects are decoded into the v1 Go types: the schemas
// are the same.
//
// # Decoding as the apiserver would
//
// Decoding is strict: an unknown or misspelled field (matched
// case-sensitively, like the apiserver) and a value of the wrong JSON type
// are Problems naming the full field path, e.g. spec.listeners[0].prot.
// Namespaced objects without a namespace get "default". Secret stringData is
// merged into data. The defaults the Gateway API CRDs declare for the fields
// the translator reads (route matches, path match type, ref group/kind,
// backend weight, listener allowedRoutes, TLS mode) and the core defaults for
// Service ports and Secret type are applied, so the engine sees the same
// objects as it would from a cluster.
//
// Validation covers the obvious parts of what the CRD schemas and apiserver
// would reject (see validate.go): object names, Gateway gatewayClassName,
// listener names (present, unique), ports (1-65535) and protocols, at most
// 64 listeners; HTTPRoute at most 16 hostnames, 16 rules, 64 matches and 16
// backendRefs per rule, path values starting with "/", header names that
// are valid HTTP tokens, backendRef names and ports; ReferenceGrant from/to
// non-empty; Service and EndpointSlice ports; StaticBackend endpoints and
// protocol. Zero Gateway listeners are accepted (ListenerSets may supply
// them). CEL rules beyond these are left to the translator.
//
// # Failure isolation
//
// An object with a Problem is not sent: the version sent before (if any)
// stays in force. A document whose object cannot be identified (a syntax
// error, a missing kind or name, an unknown kind) makes its file "broken":
// every object the file contributed before is kept until it parses again,
// while the file's good objects are still updated. The same object defined
// in two files is a Problem on the later file in sorted path order; the
// first wins.
//
// # Stability across reloads
//
// metadata.generation defaults to 1 and creationTimestamp to the file's
// modification time. An object that was sent before keeps its
// creationTimestamp; when its content changes its generation is bumped by
// one (unless the file sets these fields itself). Unchanged objects produce
// no events, so touching a file or moving an object between files is a no-op.
package file
