//go:build tools

// Package tools pins the kube-apiserver and kube-controller-manager main
// packages. This wrapper module exists so that k8s.io/kubernetes never enters
// the gatehouse module graph.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
