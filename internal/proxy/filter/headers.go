package filter

import (
	"fmt"
	"net/http"
	"net/textproto"
	"strings"

	"golang.org/x/net/http/httpguts"

	"gatehouse.dev/gatehouse/internal/ir"
)

// headerModifier is a compiled ir.HeaderModifier. Names are canonicalised at
// compile time so that applying it never re-canonicalises on the hot path.
type headerModifier struct {
	remove []string
	set    []ir.Header
	add    []ir.Header
}

func compileHeaderModifier(m *ir.HeaderModifier) (*headerModifier, error) {
	hm := &headerModifier{}
	for i, name := range m.Remove {
		if !httpguts.ValidHeaderFieldName(name) {
			return nil, fmt.Errorf("remove[%d]: %q is not a valid header name", i, name)
		}
		hm.remove = append(hm.remove, textproto.CanonicalMIMEHeaderKey(name))
	}
	var err error
	if hm.set, err = canonicalHeaders("set", m.Set); err != nil {
		return nil, err
	}
	if hm.add, err = canonicalHeaders("add", m.Add); err != nil {
		return nil, err
	}
	return hm, nil
}

func canonicalHeaders(field string, hs []ir.Header) ([]ir.Header, error) {
	out := make([]ir.Header, 0, len(hs))
	for i, h := range hs {
		if !httpguts.ValidHeaderFieldName(h.Name) {
			return nil, fmt.Errorf("%s[%d]: %q is not a valid header name", field, i, h.Name)
		}
		if !httpguts.ValidHeaderFieldValue(h.Value) {
			return nil, fmt.Errorf("%s[%d]: value of %q contains characters not allowed in a header", field, i, h.Name)
		}
		out = append(out, ir.Header{Name: textproto.CanonicalMIMEHeaderKey(h.Name), Value: h.Value})
	}
	return out, nil
}

// apply modifies h: remove, then set, then add (the order documented on
// ir.HeaderModifier). Add appends to an existing value with a comma, as in the
// Gateway API example ("foo" plus "bar" gives "foo,bar"), except Set-Cookie,
// whose values cannot be combined and get a line of their own.
func (hm *headerModifier) apply(h http.Header) {
	for _, name := range hm.remove {
		delete(h, name)
	}
	for _, s := range hm.set {
		// Reuse the message's own one-value slice; otherwise allocate. The
		// config's strings are never shared as a slice, since code further on
		// may modify header slices in place.
		if old := h[s.Name]; len(old) == 1 {
			old[0] = s.Value
			continue
		}
		h[s.Name] = []string{s.Value}
	}
	for _, a := range hm.add {
		old := h[a.Name]
		switch {
		case len(old) == 0:
			h[a.Name] = []string{a.Value}
		case a.Name == "Set-Cookie":
			h[a.Name] = append(old, a.Value)
		default:
			h[a.Name] = []string{strings.Join(old, ",") + "," + a.Value}
		}
	}
}

// requestHeaders is the RequestHeaderModifier filter.
type requestHeaders struct{ m *headerModifier }

func (f requestHeaders) request(_ http.ResponseWriter, r *http.Request, _ MatchInfo) bool {
	f.m.apply(r.Header)
	return false
}

// responseHeaders is the ResponseHeaderModifier filter.
type responseHeaders struct{ m *headerModifier }

func (f responseHeaders) response(h http.Header, _ *http.Request) { f.m.apply(h) }
