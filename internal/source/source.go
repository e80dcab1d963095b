// Package source defines what every config source (YAML files, the
// Kubernetes API) hands to the translation engine: batches of object events.
package source

import (
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Kinds the engine consumes. Event.Kind is one of these.
const (
	KindGatewayClass   = "GatewayClass"
	KindGateway        = "Gateway"
	KindListenerSet    = "ListenerSet"
	KindHTTPRoute      = "HTTPRoute"
	KindGRPCRoute      = "GRPCRoute"
	KindTLSRoute       = "TLSRoute"
	KindTCPRoute       = "TCPRoute"
	KindReferenceGrant = "ReferenceGrant"
	KindService        = "Service"
	KindEndpointSlice  = "EndpointSlice"
	KindSecret         = "Secret"
	KindConfigMap      = "ConfigMap"
	KindNamespace      = "Namespace"
	KindStaticBackend  = "StaticBackend"
	KindTrafficPolicy  = "TrafficPolicy"
	// KindBackendTLSPolicy is gateway.networking.k8s.io BackendTLSPolicy.
	KindBackendTLSPolicy = "BackendTLSPolicy"
)

// Object is a Kubernetes-style API object (typed, e.g. *gatewayv1.Gateway).
type Object interface {
	metav1.Object
	runtime.Object
}

// Event is one change to one object. Object is nil for a deletion.
type Event struct {
	Kind      string
	Namespace string // empty for cluster-scoped kinds
	Name      string
	Object    Object
}

// Key returns "namespace/name" (or "name" for cluster-scoped objects).
func (e Event) Key() string {
	if e.Namespace == "" {
		return e.Name
	}
	return e.Namespace + "/" + e.Name
}

// Sink receives batches of events. A batch is applied as one unit, so a
// source should batch everything it learned in one pass (one file reload, one
// informer resync) to let the engine translate once.
type Sink interface {
	Apply(events []Event)
}

// Problem is a user error in the config that a source could not accept: a
// file that does not parse, an unknown kind, a field that fails validation.
// The object it names (if any) keeps its previous version.
type Problem struct {
	// File is the path of the file, when the source is files.
	File string `json:"file,omitempty"`
	// Document is the 1-based index of the YAML document within File.
	Document int `json:"document,omitempty"`
	// Object is "Kind namespace/name" when it could be read.
	Object string `json:"object,omitempty"`
	// Field is the JSON path of the offending field, when known.
	Field string `json:"field,omitempty"`
	// Message says what is wrong and how to fix it.
	Message string `json:"message"`
}

func (p Problem) String() string {
	s := ""
	if p.File != "" {
		s = p.File
		if p.Document > 0 {
			s += "#" + strconv.Itoa(p.Document)
		}
		s += ": "
	}
	if p.Object != "" {
		s += p.Object + ": "
	}
	if p.Field != "" {
		s += p.Field + ": "
	}
	return s + p.Message
}
