package policy

import (
	"bytes"
	"io"
	"net/http"
	"strconv"

	"cel.dev/cel-go/common/types"

	"gatehouse.dev/gatehouse/internal/cel"
	"gatehouse.dev/gatehouse/internal/ir"
)

// Applicable is the list of policies for one request in increasing
// precedence: the last one that has a section is the one that wins it.
type Applicable []*Compiled

// ForRequest returns the policies attached to the Gateway, the listener, the
// route and the rule a request matched, least specific first; among the
// policies of one target the oldest comes last, so it wins ties.
func (s *Set) ForRequest(gateway, listener, route, rule string, buf Applicable) Applicable {
	buf = buf[:0]
	for _, t := range [...]ir.PolicyTarget{{Kind: ir.TargetGateway, Name: gateway}, {Kind: ir.TargetListener, Name: listener},
		{Kind: ir.TargetRoute, Name: route}, {Kind: ir.TargetRule, Name: rule}} {
		list := s.byTarget[t] // oldest first
		for i := len(list) - 1; i >= 0; i-- {
			buf = append(buf, list[i])
		}
	}
	return buf
}

// PreRouting returns the most specific policy with pre-routing headers for a
// listener, or nil.
func (s *Set) PreRouting(gateway, listener string) *Compiled {
	for _, t := range [...]ir.PolicyTarget{{Kind: ir.TargetListener, Name: listener}, {Kind: ir.TargetGateway, Name: gateway}} {
		for _, c := range s.byTarget[t] {
			if c.hasPre {
				return c
			}
		}
	}
	return nil
}

// Uses merges what the policies read (e.g. whether the body is needed).
func (a Applicable) Uses() cel.Uses {
	var u cel.Uses
	for _, c := range a {
		u = u.Merge(c.uses)
	}
	return u
}

// Uses reports what the policy's programs read.
func (c *Compiled) Uses() cel.Uses { return c.uses }

// SetPreRoutingHeaders evaluates the pre-routing headers into r. A header
// whose expression fails is removed, so a client can never supply it; the
// first such header is returned ("" when all succeeded).
func (c *Compiled) SetPreRoutingHeaders(ctx *cel.Context, r *http.Request) (failed string) {
	for _, h := range c.preRouting {
		v, err := h.prog.EvalString(ctx)
		if err != nil {
			delete(r.Header, h.name)
			if failed == "" {
				failed = h.name
			}
			continue
		}
		r.Header[h.name] = []string{v}
	}
	return failed
}

// ModelHeader is the canonical header the route-on-model shorthand sets, or
// "" when the policy does not use it.
func (c *Compiled) ModelHeader() string { return c.preBody.ModelHeader }

// PreRoutingReadsBody reports whether pre-routing needs the request body.
func (c *Compiled) PreRoutingReadsBody() bool {
	return c.preBody.ModelHeader != "" || c.uses.RequestBody
}

// MaxPreRoutingBody is the body cap for inspection: the policy's, or def.
func (c *Compiled) MaxPreRoutingBody(def int64) int64 {
	if c.preBody.MaxBodyBytes > 0 {
		return c.preBody.MaxBodyBytes
	}
	return def
}

// RejectsOnFailure reports whether a pre-routing failure is answered with
// an error instead of falling through.
func (c *Compiled) RejectsOnFailure() bool { return c.preBody.Reject }

// Authorize evaluates every authorization policy; the first that denies
// returns its response (status, body). ok is true when all allow.
func (a Applicable) Authorize(ctx *cel.Context) (status int, body string, ok bool) {
	for _, c := range a {
		if !c.hasAuth {
			continue
		}
		if c.denyAll || !c.permits(ctx) {
			return int(c.IR.Authorization.DenyStatus), c.IR.Authorization.DenyBody, false
		}
	}
	return 0, "", true
}

// permits applies one policy's rules; an evaluation error fails closed.
func (c *Compiled) permits(ctx *cel.Context) bool {
	for _, p := range c.deny {
		if v, err := p.EvalBool(ctx); err != nil || v {
			return false
		}
	}
	for _, p := range c.require {
		if v, err := p.EvalBool(ctx); err != nil || !v {
			return false
		}
	}
	if len(c.allow) == 0 {
		return true
	}
	for _, p := range c.allow {
		if v, err := p.EvalBool(ctx); err == nil && v {
			return true
		}
	}
	return false
}

// TransformRequest applies the most specific request transformation.
func (a Applicable) TransformRequest(ctx *cel.Context, r *http.Request) {
	t := a.mostSpecific(func(c *Compiled) *transform { return c.reqTransform })
	if t == nil {
		return
	}
	t.apply(ctx, r.Header)
	if t.body == nil {
		return
	}
	v, err := t.body.Eval(ctx)
	if err != nil {
		return // documented: a failing body expression leaves the body as is
	}
	var b []byte
	switch x := v.(type) {
	case types.String:
		b = []byte(string(x))
	case types.Bytes:
		b = []byte(x)
	default:
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	r.ContentLength = int64(len(b))
	r.Header.Set("Content-Length", strconv.Itoa(len(b)))
	r.TransferEncoding = nil
}

// HasResponseTransform reports whether a response transformation applies.
func (a Applicable) HasResponseTransform() bool {
	return a.mostSpecific(func(c *Compiled) *transform { return c.respTransform }) != nil
}

// TransformResponse applies the most specific response header
// transformation; ctx.Response must be set.
func (a Applicable) TransformResponse(ctx *cel.Context, h http.Header) {
	if t := a.mostSpecific(func(c *Compiled) *transform { return c.respTransform }); t != nil {
		t.apply(ctx, h)
	}
}

func (a Applicable) mostSpecific(get func(*Compiled) *transform) *transform {
	for i := len(a) - 1; i >= 0; i-- {
		if t := get(a[i]); t != nil {
			return t
		}
	}
	return nil
}

// apply evaluates set and add against the unmodified request first, then
// changes the headers, so expressions see what the client sent.
func (t *transform) apply(ctx *cel.Context, h http.Header) {
	type kv struct {
		name, value string
		add         bool
	}
	var changes [16]kv
	out := changes[:0]
	for _, s := range t.set {
		if v, err := s.prog.EvalString(ctx); err == nil {
			out = append(out, kv{s.name, v, false})
		}
	}
	for _, s := range t.add {
		if v, err := s.prog.EvalString(ctx); err == nil {
			out = append(out, kv{s.name, v, true})
		}
	}
	for _, r := range t.remove {
		delete(h, r)
	}
	// One backing array for the values set, instead of one per header.
	var vals []string
	for _, c := range out {
		if c.add {
			h[c.name] = append(h[c.name], c.value)
			continue
		}
		if vals == nil {
			vals = make([]string, 0, len(out))
		}
		vals = append(vals, c.value)
		h[c.name] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
}
