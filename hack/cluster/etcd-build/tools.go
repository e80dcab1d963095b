//go:build tools

// Package tools pins the etcd server main package so that build.sh can build
// it from this wrapper module. etcd's own go.mod carries replace directives,
// which is why `go install go.etcd.io/etcd/server/v3@v3.6.16` does not work.
package tools

import _ "go.etcd.io/etcd/server/v3"
