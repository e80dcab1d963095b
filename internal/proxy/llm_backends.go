package proxy

import (
	"net/http"
	"slices"
	"strings"

	"gatehouse.dev/gatehouse/internal/cel"
	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/proxy/llm"
	"gatehouse.dev/gatehouse/internal/proxy/policy"
)

// applyLLMBackends keeps the compiled LLM sections of the backends in d
// that were accepted (p.resources holds them) and drops removed ones. Like
// the routing table, the map is copied and swapped, never changed in place.
func (p *Proxy) applyLLMBackends(d ir.Delta) {
	changed := false
	next := map[string]*llm.Backend{}
	if cur := p.llms.Load(); cur != nil {
		for k, v := range *cur {
			next[k] = v
		}
	}
	for _, r := range d.Upserts {
		b, ok := r.(*ir.Backend)
		if !ok || p.resources[b.ResourceID()] != r {
			continue
		}
		if _, had := next[b.Name]; had || b.LLM != nil {
			changed = true
		}
		if b.LLM == nil {
			delete(next, b.Name)
			continue
		}
		next[b.Name] = llm.NewBackend(b.Name, b.LLM)
	}
	for _, id := range d.Removes {
		if _, had := next[id.Name]; had && id.Kind == ir.KindBackend {
			delete(next, id.Name)
			changed = true
		}
	}
	if changed {
		p.llms.Store(&next)
	}
}

// llmBackend returns the LLM section of backend name, or nil.
func (p *Proxy) llmBackend(name string) *llm.Backend {
	m := p.llms.Load()
	if m == nil {
		return nil
	}
	return (*m)[name]
}

// serveModels answers GET /v1/models on a listener whose pre-routing uses
// the model shorthand: the gateway lists the models it routes. It returns
// false for every other request.
func (h *bindHandler) serveModels(w http.ResponseWriter, r *http.Request, set *policy.Set, l *ir.Listener) bool {
	if r.Method != http.MethodGet || r.URL.Path != "/v1/models" {
		return false
	}
	pre := set.PreRouting(l.Gateway, l.Name)
	if pre == nil || pre.ModelHeader() == "" {
		return false
	}
	llm.WriteModels(w, h.p.routedModels(l.Name, pre.ModelHeader()))
	return true
}

// routedModels lists the models reachable through listener: the values of
// exact header matches on the model header of the routes attached to it,
// and the models declared by the LLM backends those routes send to. It is
// computed per call (a rare request) from the accepted configuration.
func (p *Proxy) routedModels(listener, header string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := map[string]bool{}
	for _, res := range p.resources {
		rt, ok := res.(*ir.Route)
		if !ok || !slices.ContainsFunc(rt.Parents, func(pr ir.RouteParent) bool { return pr.Listener == listener }) {
			continue
		}
		for _, m := range rt.Matches {
			for _, hm := range m.Headers {
				if !hm.Regex && strings.EqualFold(hm.Name, header) && hm.Value != "" {
					seen[hm.Value] = true
				}
			}
		}
		for _, be := range rt.Backends {
			if lb := p.llmBackend(be.Backend); lb != nil {
				for _, m := range lb.Models() {
					seen[m] = true
				}
			}
		}
	}
	out := make([]string, 0, len(seen))
	for m := range seen {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}

// prepareLLM readies a request for an LLM backend: it reads the body (or
// reuses what pre-routing read), finds the model, and rewrites credentials,
// path, host and model name. It returns the LLM facts to fill from the
// response, or nil with the response written when the request cannot go.
func (h *bindHandler) prepareLLM(w http.ResponseWriter, r *http.Request, ps *policyState, lb *llm.Backend) *cel.LLMInfo {
	if reason := lb.Invalid(); reason != "" {
		h.p.log.Debug("LLM backend unusable", "reason", reason)
		llm.WriteError(w, http.StatusServiceUnavailable, "the model backend is not available", llm.TypeServer, llm.CodeBackendInvalid)
		return nil
	}
	var x *llm.Exchange
	var info *cel.LLMInfo
	if ps != nil {
		if !h.inspectBody(w, r, ps, h.p.opts.MaxPolicyBody) {
			return nil
		}
		x, info = &ps.llm, &ps.llmInfo
		ps.context(r).LLM = info
	} else {
		// No policies: a private state just for the body and the facts.
		st := new(policyState)
		if !h.inspectBody(w, r, st, h.p.opts.MaxPolicyBody) {
			return nil
		}
		x, info = &st.llm, &st.llmInfo
	}
	x.Scan()
	if x.ScanErr == nil {
		info.RequestModel = x.Model.Model
	}
	lb.PrepareRequest(r, x)
	return info
}

// redactAPIKey returns a copy of b whose API key is replaced, for config
// dumps: the key is a credential.
func redactAPIKey(b *ir.Backend) *ir.Backend {
	c := *b
	l := *b.LLM
	l.APIKey = "REDACTED"
	c.LLM = &l
	return &c
}

func noop() {}

// llmExchange prepares a request bound for an LLM backend and wraps w to
// read the response's model and token usage. done must run once the
// response is complete. For other backends it returns w unchanged. ok is
// false when the request was answered (e.g. an unusable backend).
func (h *bindHandler) llmExchange(w http.ResponseWriter, r *http.Request, ps *policyState, info *RequestInfo,
	backend string) (_ http.ResponseWriter, done func(), ok bool) {
	lb := h.p.llmBackend(backend)
	if lb == nil {
		return w, noop, true
	}
	li := h.prepareLLM(w, r, ps, lb)
	if li == nil {
		return w, noop, false
	}
	if info != nil {
		info.LLM, info.LLMModelLabel = li, "other"
		if lb.Declares(li.RequestModel) {
			info.LLMModelLabel = li.RequestModel
		}
	}
	uw := llm.NewUsageWriter(w, li)
	return uw, uw.Finish, true
}
