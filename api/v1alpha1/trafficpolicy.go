package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// TrafficPolicyKind is the kind name of TrafficPolicy.
const TrafficPolicyKind = "TrafficPolicy"

// TrafficPolicy attaches CEL-driven behaviour to Gateways, listeners,
// HTTPRoutes and route rules (Gateway API policy attachment, GEP-713).
//
//	apiVersion: gatehouse.dev/v1alpha1
//	kind: TrafficPolicy
//	metadata: {name: api-auth, namespace: default}
//	spec:
//	  targetRefs:
//	  - {group: gateway.networking.k8s.io, kind: HTTPRoute, name: api}
//	  authorization:
//	    require: ['request.headers["x-api-key"] == "secret"']
//	  transformation:
//	    request:
//	      set: [{name: x-user-agent-len, value: 'string(size(request.headers["user-agent"]))'}]
//
// Precedence (see docs/policies.md): authorization policies at every level
// all apply (a request must pass each); for transformation and preRouting
// the most specific target wins (rule, then route, then listener, then
// Gateway; equal targets: oldest policy, then namespace/name).
type TrafficPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   TrafficPolicySpec   `json:"spec"`
	Status TrafficPolicyStatus `json:"status,omitempty"`
}

// TrafficPolicySpec is what the policy does and where.
type TrafficPolicySpec struct {
	// TargetRefs name the Gateways (sectionName: a listener) and HTTPRoutes
	// (sectionName: a rule name) the policy applies to, in its namespace.
	TargetRefs []gwv1.LocalPolicyTargetReferenceWithSectionName `json:"targetRefs"`
	// Authorization decides whether a request may proceed.
	Authorization *Authorization `json:"authorization,omitempty"`
	// Transformation changes requests and responses.
	Transformation *Transformation `json:"transformation,omitempty"`
	// AccessLog writes one JSON line per request with CEL-defined fields.
	AccessLog *AccessLog `json:"accessLog,omitempty"`
	// JWT verifies a bearer token and exposes its claims to CEL as `jwt`.
	JWT *JWTAuthentication `json:"jwt,omitempty"`
	// PreRouting sets request headers before the route is selected, so
	// ordinary HTTPRoute header matches can route on computed values (only
	// for Gateway and listener targets).
	PreRouting *PreRouting `json:"preRouting,omitempty"`
}

// Authorization holds CEL rules that must evaluate to bool. A request is
// denied when any deny rule is true, when a require rule is false, or when
// allow rules exist and none is true. An expression that fails at run time
// (e.g. a missing header) counts as false for allow and require and true for
// deny: authorization fails closed.
type Authorization struct {
	Allow   []string `json:"allow,omitempty"`
	Deny    []string `json:"deny,omitempty"`
	Require []string `json:"require,omitempty"`
	// DenyResponse is what a denied request gets (default 403 "forbidden").
	DenyResponse *DirectResponse `json:"denyResponse,omitempty"`
}

// DirectResponse is a response the gateway sends itself.
type DirectResponse struct {
	Status int32  `json:"status"`
	Body   string `json:"body,omitempty"`
}

// Transformation changes the request before it is forwarded and the response
// before it is returned.
type Transformation struct {
	Request  *HeaderTransformation `json:"request,omitempty"`
	Response *HeaderTransformation `json:"response,omitempty"`
}

// HeaderTransformation sets, adds and removes headers from CEL expressions
// that evaluate to string; Body, when set, replaces the body with the value
// of a CEL expression (string or bytes). An expression that fails at run time
// leaves its header (or the body) unchanged. A response Body may read
// response.code, response.headers and response.body (buffered up to 1 MiB;
// a longer body is forwarded unchanged); see docs/policies.md.
type HeaderTransformation struct {
	Set    []CELHeader `json:"set,omitempty"`
	Add    []CELHeader `json:"add,omitempty"`
	Remove []string    `json:"remove,omitempty"`
	Body   string      `json:"body,omitempty"`
}

// CELHeader is a header name and a CEL expression for its value.
type CELHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// PreRouting computes request headers before route selection. A header whose
// expression fails (missing field, non-JSON body) is removed, so a client can
// never supply it itself.
//
//	preRouting:
//	  model: {}                  # X-Gateway-Model-Name from the JSON body's "model"
//	  maxBodyBytes: 2097152      # body buffered for inspection (default 2 MiB)
//	  onFailure: Reject          # or FallThrough (default)
//	  setHeaders: [{name: x-tenant, value: 'json(request.body).user'}]
type PreRouting struct {
	// SetHeaders are CEL expressions evaluating to string.
	SetHeaders []CELHeader `json:"setHeaders,omitempty"`
	// Model is the shorthand for routing LLM traffic: the JSON body's
	// top-level "model" string goes into a header, without writing CEL.
	Model *ModelRouting `json:"model,omitempty"`
	// MaxBodyBytes caps the request body buffered for inspection (default
	// 2 MiB); a larger body is forwarded intact but not inspected.
	MaxBodyBytes *int64 `json:"maxBodyBytes,omitempty"`
	// OnFailure is what happens when the body is not JSON, has no model, is
	// over MaxBodyBytes, or a setHeaders expression fails: FallThrough (the
	// default) removes the header and lets the request reach the routes that
	// do not need it; Reject answers with an OpenAI-style JSON error (400
	// invalid body or missing model, 413 too large).
	OnFailure string `json:"onFailure,omitempty"`
}

// ModelRouting is the route-on-model shorthand.
type ModelRouting struct {
	// Header receives the model (default X-Gateway-Model-Name).
	Header string `json:"header,omitempty"`
}

// DefaultModelHeader is the header ModelRouting sets by default.
const DefaultModelHeader = "X-Gateway-Model-Name"

// Pre-routing failure modes.
const (
	OnFailureFallThrough = "FallThrough"
	OnFailureReject      = "Reject"
)

// AccessLog defines access-log lines: each field is a CEL expression over
// the request and response (any type; rendered as JSON); Filter, when set,
// must be true for a line to be written. A field that fails is omitted; a
// filter that fails writes the line (losing a log line hides problems).
type AccessLog struct {
	Fields []CELHeader `json:"fields"`
	Filter string      `json:"filter,omitempty"`
}

// JWTAuthentication verifies JSON Web Tokens from the Authorization header
// ("Bearer <token>"). A request without a valid token gets 401, unless
// Optional is set, in which case it proceeds without claims.
type JWTAuthentication struct {
	// Issuer, when set, must equal the token's iss claim.
	Issuer string `json:"issuer,omitempty"`
	// Audiences, when set, must contain one of the token's aud values.
	Audiences []string `json:"audiences,omitempty"`
	// JWKS holds the keys that sign tokens.
	JWKS JWKS `json:"jwks"`
	// Optional lets requests without a token through (a present but invalid
	// token is still refused).
	Optional bool `json:"optional,omitempty"`
}

// JWKS is a JSON Web Key Set, inline or fetched from a URL (and cached).
type JWKS struct {
	Inline string `json:"inline,omitempty"`
	URL    string `json:"url,omitempty"`
}

// TrafficPolicyStatus follows GEP-713: one entry per ancestor (the Gateways
// the targets belong to).
type TrafficPolicyStatus struct {
	Ancestors []gwv1.PolicyAncestorStatus `json:"ancestors,omitempty"`
}

// TrafficPolicyList is a list of TrafficPolicies.
type TrafficPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TrafficPolicy `json:"items"`
}

// DeepCopyInto copies p into out.
func (p *TrafficPolicy) DeepCopyInto(out *TrafficPolicy) {
	*out = *p
	out.TypeMeta = p.TypeMeta
	p.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Spec.TargetRefs = nil
	for _, r := range p.Spec.TargetRefs {
		out.Spec.TargetRefs = append(out.Spec.TargetRefs, *r.DeepCopy())
	}
	if a := p.Spec.Authorization; a != nil {
		c := &Authorization{Allow: cloneStrings(a.Allow), Deny: cloneStrings(a.Deny), Require: cloneStrings(a.Require)}
		if a.DenyResponse != nil {
			d := *a.DenyResponse
			c.DenyResponse = &d
		}
		out.Spec.Authorization = c
	}
	if t := p.Spec.Transformation; t != nil {
		out.Spec.Transformation = &Transformation{Request: t.Request.deepCopy(), Response: t.Response.deepCopy()}
	}
	if pr := p.Spec.PreRouting; pr != nil {
		c := &PreRouting{SetHeaders: append([]CELHeader(nil), pr.SetHeaders...), OnFailure: pr.OnFailure}
		if pr.Model != nil {
			m := *pr.Model
			c.Model = &m
		}
		if pr.MaxBodyBytes != nil {
			n := *pr.MaxBodyBytes
			c.MaxBodyBytes = &n
		}
		out.Spec.PreRouting = c
	}
	if al := p.Spec.AccessLog; al != nil {
		out.Spec.AccessLog = &AccessLog{Fields: append([]CELHeader(nil), al.Fields...), Filter: al.Filter}
	}
	if j := p.Spec.JWT; j != nil {
		c := *j
		c.Audiences = cloneStrings(j.Audiences)
		out.Spec.JWT = &c
	}
	out.Status.Ancestors = nil
	for _, a := range p.Status.Ancestors {
		out.Status.Ancestors = append(out.Status.Ancestors, *a.DeepCopy())
	}
}

func (h *HeaderTransformation) deepCopy() *HeaderTransformation {
	if h == nil {
		return nil
	}
	return &HeaderTransformation{Set: append([]CELHeader(nil), h.Set...), Add: append([]CELHeader(nil), h.Add...),
		Remove: cloneStrings(h.Remove), Body: h.Body}
}

func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string(nil), s...)
}

// DeepCopy returns a copy of p.
func (p *TrafficPolicy) DeepCopy() *TrafficPolicy {
	if p == nil {
		return nil
	}
	out := new(TrafficPolicy)
	p.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (p *TrafficPolicy) DeepCopyObject() runtime.Object { return p.DeepCopy() }

// DeepCopyObject implements runtime.Object.
func (l *TrafficPolicyList) DeepCopyObject() runtime.Object {
	if l == nil {
		return nil
	}
	out := &TrafficPolicyList{TypeMeta: l.TypeMeta}
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	for i := range l.Items {
		out.Items = append(out.Items, *l.Items[i].DeepCopy())
	}
	return out
}
