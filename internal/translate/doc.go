// Package translate turns Gateway API objects (plus Services, EndpointSlices,
// Secrets, Namespaces and Gatehouse's StaticBackends) into the flat IR of
// package ir and the status conditions the Gateway API spec asks for.
//
// Translation is a graph of small pure functions over collections (package
// collection), one per output kind:
//
//	GatewayClass ──> classes ─┐
//	Gateway ─────────────────> gateways ──┬──> routes (HTTPRoute) ──┬──> gatewayStatus ─> ir.Listener + Gateway status
//	Secret, ReferenceGrant ──┘            │                         ├──> backends ──────> ir.Backend
//	                                      ├──> binds ─────────────> ir.Bind             └──> ir.Route + HTTPRoute status
//	                                      └──> certificates ──────> ir.Certificate
//
// A user error never fails translation: it becomes a status condition on the
// object at fault, and everything else keeps translating.
package translate
