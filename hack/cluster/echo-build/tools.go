//go:build tools

// Package tools pins the Gateway API conformance echo-basic backend.
package tools

import _ "sigs.k8s.io/gateway-api/conformance/echo-basic"
