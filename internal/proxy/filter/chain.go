package filter

import (
	"errors"
	"fmt"
	"net/http"

	"gatehouse.dev/gatehouse/internal/ir"
)

// MatchInfo carries what the router learned about a request that the filters
// need but cannot derive from the request itself.
type MatchInfo struct {
	// MatchedPrefix is the PathPrefix value that selected the rule, "" when the
	// rule matched by exact path or regular expression. ReplacePrefixMatch
	// replaces this prefix.
	MatchedPrefix string
	// ListenerPort is the port of the listener the request arrived on; redirects
	// keep it when they do not change the scheme.
	ListenerPort int32
	// Scheme is "http" or "https", the scheme of the listener.
	Scheme string
}

// requestStep is one compiled request-phase filter. It returns true when it
// wrote a response and the request must not be forwarded.
type requestStep interface {
	request(w http.ResponseWriter, r *http.Request, m MatchInfo) (answered bool)
}

// responseStep is one compiled response-phase filter.
type responseStep interface {
	response(h http.Header, req *http.Request)
}

// Chain is the compiled form of a list of HTTPRoute filters. It is immutable
// and safe for concurrent use; a nil *Chain does nothing.
type Chain struct {
	request  []requestStep
	response []responseStep
	mirrors  []ir.Mirror
}

// Compile compiles filters in order. It returns a nil Chain (which does
// nothing) for an empty list. The error names the index and type of the first
// filter that cannot be compiled, so the caller can report it on the route.
func Compile(filters []ir.Filter) (*Chain, error) {
	if len(filters) == 0 {
		return nil, nil
	}
	c := &Chain{}
	for i := range filters {
		if err := c.add(&filters[i]); err != nil {
			return nil, fmt.Errorf("filters[%d] (%s): %w", i, filters[i].Type, err)
		}
	}
	return c, nil
}

var errMissingConfig = errors.New("the field named by type is not set")

// add compiles one filter and appends it to the phases it takes part in.
func (c *Chain) add(f *ir.Filter) error {
	switch f.Type {
	case ir.FilterRequestHeaders:
		if f.RequestHeaders == nil {
			return errMissingConfig
		}
		hm, err := compileHeaderModifier(f.RequestHeaders)
		if err != nil {
			return err
		}
		c.request = append(c.request, requestHeaders{hm})
	case ir.FilterResponseHeaders:
		if f.ResponseHeaders == nil {
			return errMissingConfig
		}
		hm, err := compileHeaderModifier(f.ResponseHeaders)
		if err != nil {
			return err
		}
		c.response = append(c.response, responseHeaders{hm})
	case ir.FilterRewrite:
		if f.Rewrite == nil {
			return errMissingConfig
		}
		rw, err := compileRewrite(f.Rewrite)
		if err != nil {
			return err
		}
		c.request = append(c.request, rw)
	case ir.FilterRedirect:
		if f.Redirect == nil {
			return errMissingConfig
		}
		rd, err := compileRedirect(f.Redirect)
		if err != nil {
			return err
		}
		c.request = append(c.request, rd)
	case ir.FilterMirror:
		if f.Mirror == nil {
			return errMissingConfig
		}
		if f.Mirror.Percent < 0 || f.Mirror.Percent > 100 {
			return fmt.Errorf("percent %v is outside 0..100", f.Mirror.Percent)
		}
		c.mirrors = append(c.mirrors, *f.Mirror)
	case ir.FilterCORS:
		if f.CORS == nil {
			return errMissingConfig
		}
		cf, err := compileCORS(f.CORS)
		if err != nil {
			return err
		}
		c.request = append(c.request, cf)
		c.response = append(c.response, cf)
	default:
		return fmt.Errorf("unsupported filter type %q", f.Type)
	}
	return nil
}

// Request applies the request-phase filters in order. It returns answered=true
// when a filter (RequestRedirect, CORS preflight) wrote the response; the
// caller must then stop processing the request.
func (c *Chain) Request(w http.ResponseWriter, r *http.Request, m MatchInfo) (answered bool) {
	if c == nil {
		return false
	}
	for _, s := range c.request {
		if s.request(w, r, m) {
			return true
		}
	}
	return false
}

// Response applies the response-phase filters to h, the headers of the
// response about to be written. req is the original client request (CORS needs
// its Origin).
func (c *Chain) Response(h http.Header, req *http.Request) {
	if c == nil {
		return
	}
	for _, s := range c.response {
		s.response(h, req)
	}
}

// Mirrors returns the RequestMirror filters of the chain in order. The caller
// sends the copies and must not modify the returned slice.
func (c *Chain) Mirrors() []ir.Mirror {
	if c == nil {
		return nil
	}
	return c.mirrors
}
