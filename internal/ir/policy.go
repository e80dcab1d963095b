package ir

import "time"

// KindPolicy is the IR kind of a TrafficPolicy.
const KindPolicy Kind = "Policy"

// Policy is one TrafficPolicy, unmerged: it travels with its target
// references and the proxy applies it at request time by precedence. Its CEL
// expressions are carried as text; the control plane has compiled them once
// to validate, and each proxy compiles them once per config.
type Policy struct {
	// Name is "namespace/name".
	Name string `json:"name"`
	// Created breaks precedence ties (older first), then Name.
	Created time.Time `json:"created"`
	// Targets are the IR objects the policy applies to.
	Targets []PolicyTarget `json:"targets"`
	// Gateways are the Gateways ("namespace/name") the targets belong to:
	// only their proxies receive the policy.
	Gateways []string `json:"gateways"`
	// Authorization rules (all levels apply: a request must pass each).
	Authorization *PolicyAuthorization `json:"authorization,omitempty"`
	// RequestHeaders and ResponseHeaders transform headers and bodies.
	RequestHeaders  *CELTransform `json:"requestHeaders,omitempty"`
	ResponseHeaders *CELTransform `json:"responseHeaders,omitempty"`
	// PreRouting sets request headers before route selection.
	PreRouting []CELHeader `json:"preRouting,omitempty"`
	// PreRoutingBody configures body inspection before route selection:
	// the model shorthand, the body cap and what a failure does.
	PreRoutingBody *PreRoutingBody `json:"preRoutingBody,omitempty"`
	// JWT verifies bearer tokens (the most specific policy with one wins).
	JWT *PolicyJWT `json:"jwt,omitempty"`
	// AccessLog defines access-log lines (the most specific one wins).
	AccessLog *PolicyAccessLog `json:"accessLog,omitempty"`
}

// PreRoutingBody is the body side of pre-routing.
type PreRoutingBody struct {
	// ModelHeader, when set, receives the JSON body's top-level "model"
	// string (the shorthand for route-on-model); it is removed when the body
	// is not JSON, has no model or is over MaxBodyBytes.
	ModelHeader string `json:"modelHeader,omitempty"`
	// MaxBodyBytes caps the bytes buffered for inspection (0: the proxy's
	// default, 2 MiB).
	MaxBodyBytes int64 `json:"maxBodyBytes,omitempty"`
	// Reject answers failures with an OpenAI-style error (400 invalid body or
	// missing model, 413 over the cap) instead of removing the header and
	// letting the request fall through.
	Reject bool `json:"reject,omitempty"`
}

// PolicyAccessLog is a set of CEL fields and an optional CEL filter.
type PolicyAccessLog struct {
	// Fields' Name is the JSON key, Expr the CEL expression.
	Fields []CELHeader `json:"fields"`
	Filter string      `json:"filter,omitempty"`
}

// PolicyJWT verifies JSON Web Tokens against a key set.
type PolicyJWT struct {
	Issuer    string   `json:"issuer,omitempty"`
	Audiences []string `json:"audiences,omitempty"`
	// JWKSInline is a JSON Web Key Set; JWKSURL is fetched and cached when
	// JWKSInline is empty.
	JWKSInline string `json:"jwksInline,omitempty"`
	JWKSURL    string `json:"jwksURL,omitempty"`
	Optional   bool   `json:"optional,omitempty"`
	// Invalid, when set, says why the key set is unusable: the proxy then
	// refuses every request to the targets (authentication fails closed).
	Invalid string `json:"invalid,omitempty"`
}

// ResourceID implements Resource.
func (p *Policy) ResourceID() ID { return ID{KindPolicy, p.Name} }

// PolicyTargetKind is what a policy target names.
type PolicyTargetKind string

// Policy target kinds, from least to most specific.
const (
	TargetGateway  PolicyTargetKind = "Gateway"  // Name: "namespace/gateway"
	TargetListener PolicyTargetKind = "Listener" // Name: a Listener's Name
	TargetRoute    PolicyTargetKind = "Route"    // Name: Route.RouteName
	TargetRule     PolicyTargetKind = "Rule"     // Name: a Route's Name
)

// PolicyTarget is one object a policy applies to.
type PolicyTarget struct {
	Kind PolicyTargetKind `json:"kind"`
	Name string           `json:"name"`
}

// PolicyAuthorization holds CEL rules evaluating to bool.
type PolicyAuthorization struct {
	Allow   []string `json:"allow,omitempty"`
	Deny    []string `json:"deny,omitempty"`
	Require []string `json:"require,omitempty"`
	// DenyStatus and DenyBody are the response to a denied request.
	DenyStatus int32  `json:"denyStatus"`
	DenyBody   string `json:"denyBody,omitempty"`
	// Invalid, when set, says why the rules did not compile: the proxy then
	// denies every request to the targets (authorization fails closed).
	Invalid string `json:"invalid,omitempty"`
}

// CELTransform sets, adds and removes headers from CEL string expressions;
// Body, when not empty, is a CEL expression replacing the body.
type CELTransform struct {
	Set    []CELHeader `json:"set,omitempty"`
	Add    []CELHeader `json:"add,omitempty"`
	Remove []string    `json:"remove,omitempty"`
	Body   string      `json:"body,omitempty"`
}

// CELHeader is a header name and the CEL expression of its value.
type CELHeader struct {
	Name string `json:"name"`
	Expr string `json:"expr"`
}
