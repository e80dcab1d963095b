package llm

import (
	"encoding/json"
	"net/http"
	"strings"

	"gatehouse.dev/gatehouse/internal/ir"
)

// Backend is a compiled ir.BackendLLM. It is immutable.
type Backend struct {
	name       string
	host       string
	pathPrefix string
	auth       string // "Bearer <key>", or "" for none
	rewrite    map[string]string
	models     []string
	invalid    string
}

// NewBackend compiles the LLM section of backend name.
func NewBackend(name string, c *ir.BackendLLM) *Backend {
	b := &Backend{name: name, host: c.Host, pathPrefix: strings.TrimSuffix(c.PathPrefix, "/"), invalid: c.Invalid,
		rewrite: map[string]string{}}
	if c.APIKey != "" {
		b.auth = "Bearer " + c.APIKey
	}
	for _, m := range c.Models {
		b.models = append(b.models, m.Name)
		if m.Upstream != "" && m.Upstream != m.Name {
			b.rewrite[m.Name] = m.Upstream
		}
	}
	return b
}

// Models returns the client-facing model names the backend declares.
func (b *Backend) Models() []string { return b.models }

// Declares reports whether model is one of the backend's declared models.
func (b *Backend) Declares(model string) bool {
	for _, m := range b.models {
		if m == model {
			return true
		}
	}
	return false
}

// Invalid says why the backend cannot serve (empty when it can).
func (b *Backend) Invalid() string { return b.invalid }

// Exchange is the LLM state of one request: the inspected body, the model
// found in it and, once the response is read, the model and token usage the
// backend reported. Pre-routing fills Body and Model when it has inspected
// the body already, so the body is scanned once per request.
type Exchange struct {
	Body    Body
	Model   ModelField
	ScanErr error
	// Scanned is true once Model/ScanErr are set from Body.
	Scanned bool
}

// Scan finds the model in the inspected body (once).
func (x *Exchange) Scan() {
	if x.Scanned {
		return
	}
	x.Scanned = true
	if x.Body.State != BodyComplete {
		x.ScanErr = ErrInvalidJSON
		return
	}
	x.Model, x.ScanErr = ScanModel(x.Body.Decoded)
}

// PrepareRequest rewrites r for the backend: the gateway's API key replaces
// whatever Authorization the client sent, the path moves under the base
// URL's path, the Host becomes the API's host, and a model the backend
// renames is rewritten in the body (which is then sent uncompressed with an
// exact Content-Length). x must have been scanned.
func (b *Backend) PrepareRequest(r *http.Request, x *Exchange) {
	r.Header.Del("Authorization")
	r.Header.Del("Api-Key")
	r.Header.Del("X-Api-Key")
	if b.auth != "" {
		r.Header["Authorization"] = []string{b.auth}
	}
	if b.host != "" {
		r.Host = b.host
	}
	if b.pathPrefix != "" {
		rest := r.URL.Path
		if rest == "/v1" || strings.HasPrefix(rest, "/v1/") {
			rest = rest[len("/v1"):]
		}
		r.URL.Path = b.pathPrefix + rest
		r.URL.RawPath = ""
	}
	if x.ScanErr != nil || x.Body.State != BodyComplete {
		return
	}
	to, ok := b.rewrite[x.Model.Model]
	if !ok {
		return
	}
	quoted, _ := json.Marshal(to)
	src := x.Body.Decoded
	out := make([]byte, 0, len(src)-(x.Model.End-x.Model.Start)+len(quoted))
	out = append(append(append(out, src[:x.Model.Start]...), quoted...), src[x.Model.End:]...)
	ReplaceBody(r, out)
}
