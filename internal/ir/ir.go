// Package ir defines Gatehouse's internal representation: a flat set of keyed
// resources with the same cardinality as the user's objects (one Bind per
// address:port, one Listener per Gateway listener, one Route per HTTPRoute rule,
// one Backend per Service or StaticBackend, one Certificate per TLS Secret).
//
// Children point to their parents: a Route names the Listeners it attaches to,
// a Listener names its Bind and its Certificates. Adding a route therefore never
// rewrites a listener, and a rotated Secret changes only its Certificate.
//
// The IR is internal. It is produced by internal/translate, carried by
// internal/distribute, and compiled by the proxy. It is never a user-facing API.
package ir

import "time"

// Kind names a resource type of the IR.
type Kind string

// The IR resource kinds.
const (
	KindBind        Kind = "Bind"
	KindListener    Kind = "Listener"
	KindRoute       Kind = "Route"
	KindBackend     Kind = "Backend"
	KindCertificate Kind = "Certificate"
)

// ID identifies one IR resource.
type ID struct {
	Kind Kind   `json:"kind"`
	Name string `json:"name"`
}

func (id ID) String() string { return string(id.Kind) + "/" + id.Name }

// Resource is implemented by every IR resource type.
type Resource interface {
	ResourceID() ID
}

// Protocol is the application protocol of a listener or bind.
type Protocol string

// Listener protocols supported by the data plane.
const (
	ProtocolHTTP  Protocol = "HTTP"
	ProtocolHTTPS Protocol = "HTTPS"
)

// Bind is one socket the proxy listens on. Several listeners (of one or more
// Gateways) may share a bind when they agree on its protocol.
type Bind struct {
	// Name is "address:port"; address is empty for all interfaces (":8080").
	Name string `json:"name"`
	// Address is the IP to bind, empty for all interfaces.
	Address string `json:"address,omitempty"`
	// Port is the TCP port.
	Port int32 `json:"port"`
	// Protocol is HTTP (cleartext HTTP/1.1 and h2c) or HTTPS (TLS, ALPN h2 and
	// http/1.1, certificate chosen by SNI among the bind's listeners).
	Protocol Protocol `json:"protocol"`
}

// ResourceID implements Resource.
func (b *Bind) ResourceID() ID { return ID{KindBind, b.Name} }

// Listener is one Gateway listener that was accepted and programmed.
type Listener struct {
	// Name is "namespace/gateway/listener".
	Name string `json:"name"`
	// Gateway is "namespace/name" of the owning Gateway.
	Gateway string `json:"gateway"`
	// Bind is the Name of the Bind this listener serves on.
	Bind string `json:"bind"`
	// Hostname restricts the listener to a host ("example.com") or a wildcard
	// suffix ("*.example.com"); empty matches every host.
	Hostname string `json:"hostname,omitempty"`
	// Protocol is HTTP or HTTPS.
	Protocol Protocol `json:"protocol"`
	// Certificates names the Certificate resources served for this listener's
	// hostname on HTTPS binds, in the order of the listener's certificateRefs.
	Certificates []string `json:"certificates,omitempty"`
	// TLSMode is set for TLS listeners only: Passthrough or Terminate.
	TLSMode TLSMode `json:"tlsMode,omitempty"`
	// ClientValidation, when set, makes the listener ask TLS clients for a
	// certificate and verify it (the Gateway's spec.tls.frontend).
	ClientValidation *ClientValidation `json:"clientValidation,omitempty"`
}

// ClientValidation is frontend (client) certificate validation.
type ClientValidation struct {
	// CACertPEM are the CA certificates client certificates must chain to.
	CACertPEM []byte `json:"caCertPEM"`
	// InsecureFallback accepts clients that send no certificate or one that
	// does not verify (AllowInsecureFallback); otherwise a valid certificate
	// is required (AllowValidOnly).
	InsecureFallback bool `json:"insecureFallback,omitempty"`
}

// ResourceID implements Resource.
func (l *Listener) ResourceID() ID { return ID{KindListener, l.Name} }

// Certificate is a TLS certificate chain and private key from a
// kubernetes.io/tls Secret.
type Certificate struct {
	// Name is "namespace/secret".
	Name string `json:"name"`
	// CertPEM is the PEM-encoded certificate chain (tls.crt).
	CertPEM []byte `json:"certPEM"`
	// KeyPEM is the PEM-encoded private key (tls.key).
	KeyPEM []byte `json:"keyPEM"`
}

// ResourceID implements Resource.
func (c *Certificate) ResourceID() ID { return ID{KindCertificate, c.Name} }

// Route is one HTTPRoute rule attached to one or more listeners.
type Route struct {
	// Name is "namespace/httproute/ruleIndex".
	Name string `json:"name"`
	// RouteName is "namespace/name" of the HTTPRoute.
	RouteName string `json:"routeName"`
	// RuleIndex is the index of the rule within the HTTPRoute.
	RuleIndex int `json:"ruleIndex"`
	// RuleName is the rule's optional name (spec.rules[].name).
	RuleName string `json:"ruleName,omitempty"`
	// Created is the HTTPRoute's creation timestamp; together with RouteName and
	// RuleIndex it breaks ties between equally specific matches (oldest first,
	// then alphabetical namespace/name, then rule order).
	Created time.Time `json:"created"`
	// Parents lists the listeners this rule is attached to and, per listener, the
	// hostnames it serves there.
	Parents []RouteParent `json:"parents"`
	// Matches are ORed; an empty list matches every request (prefix "/").
	Matches []Match `json:"matches"`
	// Filters run in order for every request the rule matches.
	Filters []Filter `json:"filters,omitempty"`
	// Backends receive the traffic, split by Weight. An empty list with no
	// redirect filter answers 500 per the Gateway API spec.
	Backends []BackendRef `json:"backends,omitempty"`
	// Timeouts are the rule's request and backend-request timeouts.
	Timeouts Timeouts `json:"timeouts,omitempty"`
	// Retry, when set, sends a failed request to the backend again
	// (HTTPRoute rule retry); nil means a request is tried once.
	Retry *Retry `json:"retry,omitempty"`
}

// ResourceID implements Resource.
func (r *Route) ResourceID() ID { return ID{KindRoute, r.Name} }

// RouteParent attaches a Route to one listener.
type RouteParent struct {
	// Listener is the Name of the Listener.
	Listener string `json:"listener"`
	// Hostnames is the intersection of the route's and the listener's
	// hostnames; empty means every host the listener accepts.
	Hostnames []string `json:"hostnames,omitempty"`
}

// PathMatchType is how a path is compared.
type PathMatchType string

// Path match types, as in the Gateway API.
const (
	PathExact  PathMatchType = "Exact"
	PathPrefix PathMatchType = "PathPrefix"
	PathRegex  PathMatchType = "RegularExpression"
)

// Match is one HTTPRouteMatch: every present condition must hold.
type Match struct {
	// Path is always set (the API defaults it to PathPrefix "/").
	Path PathMatch `json:"path"`
	// Headers must all match (names are case-insensitive).
	Headers []ValueMatch `json:"headers,omitempty"`
	// QueryParams must all match (names are case-sensitive).
	QueryParams []ValueMatch `json:"queryParams,omitempty"`
	// Method, when not empty, must equal the request method.
	Method string `json:"method,omitempty"`
}

// PathMatch matches the request path.
type PathMatch struct {
	Type  PathMatchType `json:"type"`
	Value string        `json:"value"`
}

// ValueMatch matches a header or query parameter by exact value or regex.
type ValueMatch struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	// Regex makes Value an RE2 regular expression that must match the whole
	// value (the proxy anchors it).
	Regex bool `json:"regex,omitempty"`
}

// FilterType is the kind of a Filter.
type FilterType string

// Filter types, as in the Gateway API.
const (
	FilterRequestHeaders  FilterType = "RequestHeaderModifier"
	FilterResponseHeaders FilterType = "ResponseHeaderModifier"
	FilterRedirect        FilterType = "RequestRedirect"
	FilterRewrite         FilterType = "URLRewrite"
	FilterMirror          FilterType = "RequestMirror"
	FilterCORS            FilterType = "CORS"
)

// Filter is one HTTPRoute filter; exactly the field named by Type is set.
type Filter struct {
	Type            FilterType      `json:"type"`
	RequestHeaders  *HeaderModifier `json:"requestHeaders,omitempty"`
	ResponseHeaders *HeaderModifier `json:"responseHeaders,omitempty"`
	Redirect        *Redirect       `json:"redirect,omitempty"`
	Rewrite         *Rewrite        `json:"rewrite,omitempty"`
	Mirror          *Mirror         `json:"mirror,omitempty"`
	CORS            *CORS           `json:"cors,omitempty"`
}

// Header is a header name and value.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// HeaderModifier sets, adds and removes headers (in that order of effect:
// remove, then set, then add, so a header both set and removed ends removed
// only if it is not set).
type HeaderModifier struct {
	Set    []Header `json:"set,omitempty"`
	Add    []Header `json:"add,omitempty"`
	Remove []string `json:"remove,omitempty"`
}

// PathModifierType says how a redirect or rewrite changes the path.
type PathModifierType string

// Path modifier types, as in the Gateway API.
const (
	ReplaceFullPath    PathModifierType = "ReplaceFullPath"
	ReplacePrefixMatch PathModifierType = "ReplacePrefixMatch"
)

// PathModifier replaces the full path or the matched prefix.
type PathModifier struct {
	Type  PathModifierType `json:"type"`
	Value string           `json:"value"`
}

// Redirect answers with a redirect instead of forwarding.
type Redirect struct {
	// Scheme is "http", "https" or empty (keep the request's).
	Scheme string `json:"scheme,omitempty"`
	// Hostname replaces the host when not empty.
	Hostname string `json:"hostname,omitempty"`
	// Port replaces the port when not nil; when nil the port is derived per the
	// Gateway API rules (well-known port of the scheme is omitted).
	Port *int32 `json:"port,omitempty"`
	// Path replaces the path when not nil. ReplacePrefixMatch needs the rule's
	// prefix match; the proxy uses the prefix that matched the request.
	Path *PathModifier `json:"path,omitempty"`
	// StatusCode is 301 or 302 (default 302).
	StatusCode int `json:"statusCode"`
}

// Rewrite changes the request before it is forwarded.
type Rewrite struct {
	Hostname string        `json:"hostname,omitempty"`
	Path     *PathModifier `json:"path,omitempty"`
}

// Mirror sends a copy of the request to another backend and ignores the reply.
type Mirror struct {
	Backend BackendRef `json:"backend"`
	// Percent of requests mirrored, 0..100 (100 when unset in the API).
	Percent float64 `json:"percent"`
}

// CORS answers preflight requests and decorates responses per the HTTPRoute
// CORS filter.
type CORS struct {
	AllowOrigins     []string `json:"allowOrigins,omitempty"`
	AllowCredentials bool     `json:"allowCredentials,omitempty"`
	AllowMethods     []string `json:"allowMethods,omitempty"`
	AllowHeaders     []string `json:"allowHeaders,omitempty"`
	ExposeHeaders    []string `json:"exposeHeaders,omitempty"`
	MaxAge           int32    `json:"maxAge,omitempty"`
}

// BackendRef is one weighted destination of a Route.
type BackendRef struct {
	// Backend is the Name of the Backend resource; empty when Invalid.
	Backend string `json:"backend,omitempty"`
	// Port is the Service port (or StaticBackend port) to use.
	Port int32 `json:"port,omitempty"`
	// Weight is the relative share of traffic (0 sends none).
	Weight int32 `json:"weight"`
	// Invalid is set when the reference did not resolve (missing object, not
	// permitted, unsupported kind). Requests that pick this share get HTTP 500.
	Invalid string `json:"invalid,omitempty"`
	// Filters apply only to requests sent to this backend.
	Filters []Filter `json:"filters,omitempty"`
}

// Timeouts bounds a request. Zero means no timeout.
type Timeouts struct {
	// Request bounds the whole request as seen by the client.
	Request time.Duration `json:"request,omitempty"`
	// BackendRequest bounds one request to a backend.
	BackendRequest time.Duration `json:"backendRequest,omitempty"`
}

// Retry says when the proxy sends a request to a backend again. Only
// requests it can replay are retried (no body, or a body small enough to
// have been buffered), and never once response bytes reached the client.
type Retry struct {
	// Codes are the response status codes (400-599) that are retried.
	// Connect failures, connection resets and per-try timeouts before a
	// response head are retried whatever the codes; an empty list retries
	// only those.
	Codes []int `json:"codes,omitempty"`
	// Attempts is the largest number of retries after the first try (>= 1).
	Attempts int `json:"attempts"`
	// Backoff is the least time waited before a retry; later retries wait
	// longer (doubling, capped at ten times Backoff). Zero retries at once.
	Backoff time.Duration `json:"backoff,omitempty"`
}

// AppProtocol is how the proxy talks to a backend port.
type AppProtocol string

// Upstream application protocols.
const (
	AppHTTP1 AppProtocol = "http"              // HTTP/1.1, keep-alive pooled
	AppH2C   AppProtocol = "kubernetes.io/h2c" // HTTP/2 over cleartext
	AppWS    AppProtocol = "kubernetes.io/ws"  // WebSocket (HTTP/1.1 upgrade)
	AppWSS   AppProtocol = "kubernetes.io/wss" // WebSocket over TLS
)

// Backend is one Service (with its EndpointSlices) or one StaticBackend.
// Endpoint health is kept per Backend by the proxy, so one bad endpoint is
// learned once for every route that uses it.
type Backend struct {
	// Name is "Service/namespace/name" or "StaticBackend/namespace/name".
	Name string `json:"name"`
	// Ports lists the ports routes may reference.
	Ports []BackendPort `json:"ports"`
	// TLS, when set, makes the proxy originate TLS to the endpoints.
	TLS *UpstreamTLS `json:"tls,omitempty"`
	// LLM, when set, makes the backend an OpenAI-compatible LLM API.
	LLM *BackendLLM `json:"llm,omitempty"`
}

// BackendLLM is how the proxy talks to an OpenAI-compatible API.
type BackendLLM struct {
	// Host is the Host header sent upstream (the base URL's host).
	Host string `json:"host,omitempty"`
	// PathPrefix replaces the request path's leading "/v1" (the base URL's
	// path, e.g. "/openai/v1"); empty keeps the path.
	PathPrefix string `json:"pathPrefix,omitempty"`
	// APIKey is sent as "Authorization: Bearer <key>"; the client's
	// Authorization header is always removed. It is a secret: config dumps
	// leave it out.
	APIKey string `json:"apiKey,omitempty"`
	// Models are the model names the backend serves; Upstream, when set,
	// is the name sent upstream instead (model-name rewriting).
	Models []LLMModel `json:"models,omitempty"`
	// Invalid, when set, says why the backend cannot be used (e.g. its API
	// key Secret is missing); the proxy answers its requests with 503.
	Invalid string `json:"invalid,omitempty"`
}

// LLMModel is one model of an LLM backend.
type LLMModel struct {
	Name     string `json:"name"`
	Upstream string `json:"upstream,omitempty"`
}

// ResourceID implements Resource.
func (b *Backend) ResourceID() ID { return ID{KindBackend, b.Name} }

// BackendPort is one port of a backend and the endpoints that serve it.
type BackendPort struct {
	// Port is the port a BackendRef names (the Service port). Port 0 holds the
	// endpoints for references that name no port; a reference with port 0
	// and no port-0 entry uses the first port.
	Port int32 `json:"port"`
	// Protocol is the application protocol (from appProtocol).
	Protocol AppProtocol `json:"protocol"`
	// Endpoints are the addresses traffic for this port goes to.
	Endpoints []Endpoint `json:"endpoints"`
}

// Endpoint is one address:port of a backend.
type Endpoint struct {
	// Address is an IP address or a host name.
	Address string `json:"address"`
	// Port is the target port.
	Port int32 `json:"port"`
	// Ready is false for endpoints that are terminating or not ready; the proxy
	// uses them only when no endpoint is ready.
	Ready bool `json:"ready"`
}

// UpstreamTLS configures TLS origination to a backend.
type UpstreamTLS struct {
	// ServerName is sent as SNI and verified against the certificate.
	ServerName string `json:"serverName,omitempty"`
	// CACertPEM verifies the backend's certificate; when empty the system roots
	// are used.
	CACertPEM []byte `json:"caCertPEM,omitempty"`
	// InsecureSkipVerify disables verification (for development only).
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`
	// SubjectAltNames, when not empty, replace ServerName for verification:
	// the certificate must carry at least one of them (BackendTLSPolicy
	// subjectAltNames). ServerName is still sent as SNI.
	SubjectAltNames []SubjectAltName `json:"subjectAltNames,omitempty"`
	// ClientCertPEM and ClientKeyPEM, when set, are the certificate chain
	// and key the proxy presents to the backend (Gateway
	// spec.tls.backend.clientCertificateRef). The key is a secret: config
	// dumps leave it out.
	ClientCertPEM []byte `json:"clientCertPEM,omitempty"`
	ClientKeyPEM  []byte `json:"clientKeyPEM,omitempty"`
	// Invalid, when set, says why TLS to this backend cannot be configured
	// (e.g. its BackendTLSPolicy names no valid CA certificate): the proxy
	// refuses every connection to it, so requests fail with a 5xx instead of
	// reaching the backend unverified.
	Invalid string `json:"invalid,omitempty"`
}

// SANType is the kind of a SubjectAltName.
type SANType string

// Subject alternative name types, as in BackendTLSPolicy.
const (
	SANHostname SANType = "Hostname" // a DNS name; "*.example.com" matches one label
	SANURI      SANType = "URI"      // an absolute URI, e.g. spiffe://cluster.local/ns/a/sa/b
)

// SubjectAltName is one acceptable name of a backend certificate.
type SubjectAltName struct {
	Type  SANType `json:"type"`
	Value string  `json:"value"`
}
