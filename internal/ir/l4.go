package ir

import "time"

// KindL4Route is the kind of L4Route resources.
const KindL4Route Kind = "L4Route"

// Layer-4 listener and bind protocols.
const (
	// ProtocolTLS is a socket whose connections are routed by the TLS
	// ClientHello's server name (SNI): each listener on it either passes
	// the TLS stream through untouched or terminates it (Listener.TLSMode).
	ProtocolTLS Protocol = "TLS"
	// ProtocolTCP is a socket whose connections are spliced to a backend
	// without looking at their bytes.
	ProtocolTCP Protocol = "TCP"
)

// TLSMode is what a TLS listener does with the TLS stream.
type TLSMode string

// TLS listener modes, as in the Gateway API.
const (
	// TLSPassthrough forwards the TLS bytes unchanged; the backend
	// terminates TLS.
	TLSPassthrough TLSMode = "Passthrough"
	// TLSTerminate terminates TLS with the listener's certificates and
	// forwards the plaintext.
	TLSTerminate TLSMode = "Terminate"
)

// L4Route is one TLSRoute or TCPRoute (both have exactly one rule): the
// listeners it attaches to and the weighted backends its connections go to.
type L4Route struct {
	// Name is "TLSRoute/namespace/name" or "TCPRoute/namespace/name".
	Name string `json:"name"`
	// Created is the route's creation timestamp. When several routes claim
	// the same listener (and, for TLS, the same server name), the oldest
	// wins, then the alphabetically first Name.
	Created time.Time `json:"created"`
	// Parents lists the listeners the route is attached to and, for TLS
	// listeners, the server names it serves there (empty: every name the
	// listener accepts).
	Parents []RouteParent `json:"parents"`
	// Backends receive the connections, split by Weight. A connection that
	// picks an Invalid share, or a route without backends, is closed.
	Backends []BackendRef `json:"backends,omitempty"`
}

// ResourceID implements Resource.
func (r *L4Route) ResourceID() ID { return ID{KindL4Route, r.Name} }
