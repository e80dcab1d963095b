package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// StaticBackendKind is the kind name used in backendRefs
// (group: gatehouse.dev, kind: StaticBackend).
const StaticBackendKind = "StaticBackend"

// StaticBackend is a backend with fixed host:port endpoints, so standalone users
// need not write Services and EndpointSlices. A backendRef to it names the port
// to use; when the ref has no port, every endpoint is used as written.
//
//	apiVersion: gatehouse.dev/v1alpha1
//	kind: StaticBackend
//	metadata: {name: echo, namespace: default}
//	spec:
//	  endpoints: ["127.0.0.1:9090"]
//	  protocol: HTTP        # or H2C
//	  tls: {serverName: echo.internal, insecureSkipVerify: false}
type StaticBackend struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec StaticBackendSpec `json:"spec"`
}

// StaticBackendSpec lists the endpoints and how to talk to them.
type StaticBackendSpec struct {
	// Endpoints are "host:port" strings (host is an IP address or DNS name).
	Endpoints []string `json:"endpoints"`
	// Protocol is HTTP (HTTP/1.1, the default), H2C (HTTP/2 cleartext) or WS
	// (HTTP/1.1 with WebSocket upgrades, which HTTP also allows).
	Protocol string `json:"protocol,omitempty"`
	// TLS, when set, makes the proxy connect to the endpoints with TLS.
	TLS *StaticBackendTLS `json:"tls,omitempty"`
	// LLM, when set, makes the endpoints an OpenAI-compatible API.
	LLM *StaticBackendLLM `json:"llm,omitempty"`
}

// StaticBackendLLM describes an OpenAI-compatible API behind a
// StaticBackend:
//
//	spec:
//	  endpoints: ["api.openai.com:443"]
//	  llm:
//	    baseURL: https://api.openai.com/v1
//	    apiKeySecretRef: {name: openai, key: api-key}
//	    models:
//	    - {name: gpt-4o}
//	    - {name: fast, upstreamName: gpt-4o-mini}
type StaticBackendLLM struct {
	// BaseURL is the API's base URL. Its host is the Host header sent, its
	// path replaces the request path's leading "/v1", and an https URL turns
	// on TLS to the endpoints (server name: the host) unless spec.tls says
	// otherwise.
	BaseURL string `json:"baseURL"`
	// APIKeySecretRef names a Secret in the same namespace whose key (default
	// "api-key") holds the API key, sent as "Authorization: Bearer <key>".
	// The client's Authorization header is never forwarded.
	APIKeySecretRef *SecretKeyRef `json:"apiKeySecretRef,omitempty"`
	// Models are the model names this backend serves, listed by GET
	// /v1/models; UpstreamName, when set, is the name sent to the API
	// instead (the request body's "model" is rewritten).
	Models []LLMModel `json:"models,omitempty"`
}

// SecretKeyRef names one key of a Secret in the same namespace.
type SecretKeyRef struct {
	Name string `json:"name"`
	Key  string `json:"key,omitempty"`
}

// LLMModel is one model an LLM backend serves.
type LLMModel struct {
	Name         string `json:"name"`
	UpstreamName string `json:"upstreamName,omitempty"`
}

// StaticBackendTLS configures TLS origination to a StaticBackend.
type StaticBackendTLS struct {
	// ServerName is the SNI and the name verified in the certificate; defaults
	// to the endpoint host.
	ServerName string `json:"serverName,omitempty"`
	// CACertificateRef names a ConfigMap in the same namespace whose "ca.crt"
	// key holds PEM CA certificates; without it the system roots are used.
	CACertificateRef *LocalRef `json:"caCertificateRef,omitempty"`
	// InsecureSkipVerify disables certificate verification (development only).
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`
}

// LocalRef names an object in the same namespace.
type LocalRef struct {
	Name string `json:"name"`
}

// DeepCopyObject implements runtime.Object.
func (s *StaticBackend) DeepCopyObject() runtime.Object {
	if s == nil {
		return nil
	}
	out := &StaticBackend{TypeMeta: s.TypeMeta}
	s.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Spec.Endpoints = append([]string(nil), s.Spec.Endpoints...)
	out.Spec.Protocol = s.Spec.Protocol
	if s.Spec.TLS != nil {
		t := *s.Spec.TLS
		if t.CACertificateRef != nil {
			ref := *t.CACertificateRef
			t.CACertificateRef = &ref
		}
		out.Spec.TLS = &t
	}
	if l := s.Spec.LLM; l != nil {
		c := *l
		if l.APIKeySecretRef != nil {
			ref := *l.APIKeySecretRef
			c.APIKeySecretRef = &ref
		}
		c.Models = append([]LLMModel(nil), l.Models...)
		out.Spec.LLM = &c
	}
	return out
}
