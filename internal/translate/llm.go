package translate

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"gatehouse.dev/gatehouse/api/v1alpha1"
	"gatehouse.dev/gatehouse/internal/collection"
	"gatehouse.dev/gatehouse/internal/ir"
)

// defaultAPIKeyKey is the Secret key read when apiKeySecretRef names none.
const defaultAPIKeyKey = "api-key"

// maxPreRoutingBody bounds spec.preRouting.maxBodyBytes (the CRD's maximum).
const maxPreRoutingBody = 64 << 20

// llmBackend adds a StaticBackend's llm section to its IR. A problem (a bad
// base URL, a missing Secret or key) marks the section Invalid: the proxy
// then answers the backend's requests with 503 and an OpenAI-style error
// rather than sending them without credentials.
func (t *Translator) llmBackend(ctx *collection.Ctx, sb *v1alpha1.StaticBackend, b *ir.Backend) {
	l := sb.Spec.LLM
	if l == nil {
		return
	}
	out := &ir.BackendLLM{}
	for _, m := range l.Models {
		out.Models = append(out.Models, ir.LLMModel{Name: m.Name, Upstream: m.UpstreamName})
	}
	b.LLM = out
	u, err := url.Parse(l.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		out.Invalid = fmt.Sprintf("spec.llm.baseURL %q is not an http(s) URL", l.BaseURL)
		return
	}
	out.Host = u.Host
	if u.Path != "" && u.Path != "/" {
		out.PathPrefix = strings.TrimSuffix(u.Path, "/")
	}
	if u.Scheme == "https" && b.TLS == nil {
		host := u.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		b.TLS = &ir.UpstreamTLS{ServerName: host}
	}
	if ref := l.APIKeySecretRef; ref != nil {
		key := ref.Key
		if key == "" {
			key = defaultAPIKeyKey
		}
		s, ok := collection.Fetch(ctx, t.in.Secrets.Collection, sb.Namespace+"/"+ref.Name)
		switch {
		case !ok:
			out.Invalid = fmt.Sprintf("spec.llm.apiKeySecretRef: Secret %s/%s not found", sb.Namespace, ref.Name)
		case len(s.Data[key]) == 0:
			out.Invalid = fmt.Sprintf("spec.llm.apiKeySecretRef: Secret %s/%s has no key %q", sb.Namespace, ref.Name, key)
		default:
			out.APIKey = strings.TrimSpace(string(s.Data[key]))
		}
	}
}

// llmSecretKeys returns the Secrets ("namespace/name") a StaticBackend's
// llm section references, for sources that fetch Secrets on demand.
func llmSecretKeys(sb *v1alpha1.StaticBackend) []string {
	if sb.Spec.LLM == nil || sb.Spec.LLM.APIKeySecretRef == nil {
		return nil
	}
	return []string{sb.Namespace + "/" + sb.Spec.LLM.APIKeySecretRef.Name}
}

// preRoutingBody translates the body side of spec.preRouting: the model
// shorthand, the cap and the failure mode.
func preRoutingBody(pr *v1alpha1.PreRouting) (*ir.PreRoutingBody, []string) {
	var errs []string
	out := &ir.PreRoutingBody{}
	if pr.Model != nil {
		out.ModelHeader = pr.Model.Header
		if out.ModelHeader == "" {
			out.ModelHeader = v1alpha1.DefaultModelHeader
		}
		if !validHeaderName(out.ModelHeader) {
			errs = append(errs, fmt.Sprintf("spec.preRouting.model.header %q is not a valid header name", out.ModelHeader))
		}
		out.ModelHeader = http.CanonicalHeaderKey(out.ModelHeader)
	}
	if n := pr.MaxBodyBytes; n != nil {
		if *n < 1 || *n > maxPreRoutingBody {
			errs = append(errs, fmt.Sprintf("spec.preRouting.maxBodyBytes %d is out of range: use 1-%d", *n, maxPreRoutingBody))
		}
		out.MaxBodyBytes = *n
	}
	switch pr.OnFailure {
	case "", v1alpha1.OnFailureFallThrough:
	case v1alpha1.OnFailureReject:
		out.Reject = true
	default:
		errs = append(errs, fmt.Sprintf("spec.preRouting.onFailure %q: use FallThrough or Reject", pr.OnFailure))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if *out == (ir.PreRoutingBody{}) {
		return nil, nil
	}
	return out, nil
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// OnLLMSecretRefs registers fn to receive, after every batch that changed
// them, the keys ("namespace/name") of the Secrets that StaticBackends' llm
// sections name (API keys, usually Opaque Secrets), whether or not they
// exist. The Kubernetes source watches exactly those (it otherwise sees only
// kubernetes.io/tls Secrets). fn runs under the engine lock.
func (t *Translator) OnLLMSecretRefs(fn func(keys []string)) {
	changed := false
	t.llmSecretRefs.Subscribe(func([]collection.Change[int]) { changed = true })
	t.engine.AfterBatch(func() {
		if !changed {
			return
		}
		changed = false
		keys := make([]string, 0)
		for _, e := range t.llmSecretRefs.Peek() {
			keys = append(keys, e.Key)
		}
		sort.Strings(keys)
		fn(keys)
	})
}
