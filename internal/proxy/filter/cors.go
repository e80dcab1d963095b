package filter

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"gatehouse.dev/gatehouse/internal/ir"
)

// cors is the compiled HTTPRoute CORS filter. Header values are joined at
// compile time; the hot path only compares the Origin and sets strings.
type cors struct {
	anyOrigin   bool
	origins     []originPattern
	credentials bool
	anyMethod   bool
	methods     string // joined allowMethods, "" when not configured
	anyHeader   bool
	headers     string // joined allowHeaders, "" when not configured
	expose      string // joined exposeHeaders, "" when not configured
	maxAge      string
}

// originPattern is one allowOrigins entry: scheme, host (possibly with a
// leading "*" that matches any number of labels) and port, the port defaulted
// from the scheme so "https://a.com" and "https://a.com:443" are equal.
type originPattern struct {
	scheme   string
	host     string // exact host, or the suffix after "*" when wildcard
	wildcard bool
	port     string
	anyHost  bool // host is "*" alone: every host of this scheme and port
}

func compileCORS(c *ir.CORS) (*cors, error) {
	out := &cors{credentials: c.AllowCredentials, maxAge: "5"}
	if c.MaxAge > 0 {
		out.maxAge = strconv.Itoa(int(c.MaxAge))
	}
	for i, o := range c.AllowOrigins {
		if o == "*" {
			out.anyOrigin = true
			continue
		}
		p, ok := parseOrigin(o, true)
		if !ok {
			return nil, fmt.Errorf("allowOrigins[%d]: %q is not <scheme>://<host>[:<port>] with scheme http or https", i, o)
		}
		out.origins = append(out.origins, p)
	}
	out.anyMethod, out.methods = joinWithWildcard(c.AllowMethods, false)
	out.anyHeader, out.headers = joinWithWildcard(c.AllowHeaders, false)
	// "*" may not be sent in Expose-Headers with credentials; the named
	// headers are still exposed.
	_, out.expose = joinWithWildcard(c.ExposeHeaders, c.AllowCredentials)
	return out, nil
}

// joinWithWildcard joins vs with ","; it reports whether "*" is among them
// and, when dropStar, leaves "*" out of the joined value.
func joinWithWildcard(vs []string, dropStar bool) (star bool, joined string) {
	kept := make([]string, 0, len(vs))
	for _, v := range vs {
		if v == "*" {
			star = true
			if dropStar {
				continue
			}
		}
		kept = append(kept, v)
	}
	return star, strings.Join(kept, ",")
}

// parseOrigin parses "<scheme>://<host>[:<port>]". With pattern, the host may
// start with "*".
func parseOrigin(s string, pattern bool) (originPattern, bool) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return originPattern{}, false
	}
	var p originPattern
	p.scheme = strings.ToLower(scheme)
	switch p.scheme {
	case "http":
		p.port = "80"
	case "https":
		p.port = "443"
	default:
		return originPattern{}, false
	}
	host := rest
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.HasSuffix(rest, "]") {
		host, p.port = rest[:i], rest[i+1:]
		if n, err := strconv.Atoi(p.port); err != nil || n < 1 || n > 65535 {
			return originPattern{}, false
		}
	}
	if host == "" || strings.ContainsAny(host, "/?#@") {
		return originPattern{}, false
	}
	host = strings.ToLower(host)
	if pattern && host == "*" {
		p.anyHost = true
	} else if pattern && host[0] == '*' {
		p.wildcard, p.host = true, host[1:]
	} else {
		p.host = host
	}
	return p, true
}

// allows reports whether origin (the request's Origin header) is allowed.
func (c *cors) allows(origin string) bool {
	if c.anyOrigin {
		return true
	}
	o, ok := parseOrigin(origin, false)
	if !ok {
		return false
	}
	for i := range c.origins {
		p := &c.origins[i]
		if p.scheme != o.scheme || p.port != o.port {
			continue
		}
		switch {
		case p.anyHost:
			return true
		case p.wildcard:
			if len(o.host) > len(p.host) && strings.HasSuffix(o.host, p.host) {
				return true
			}
		case p.host == o.host:
			return true
		}
	}
	return false
}

// allowOrigin is the Access-Control-Allow-Origin value for an allowed origin.
func (c *cors) allowOrigin(origin string) string {
	if c.anyOrigin && !c.credentials {
		return "*"
	}
	return origin
}

// request answers preflight requests: OPTIONS with Origin and
// Access-Control-Request-Method. A disallowed origin is answered 200 without
// CORS headers, so the browser blocks the actual request.
func (c *cors) request(w http.ResponseWriter, r *http.Request, _ MatchInfo) bool {
	if r.Method != http.MethodOptions {
		return false
	}
	origin := firstValue(r.Header, "Origin")
	reqMethod := firstValue(r.Header, "Access-Control-Request-Method")
	if origin == "" || reqMethod == "" {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	if c.allows(origin) {
		h["Access-Control-Allow-Origin"] = []string{c.allowOrigin(origin)}
		if c.credentials {
			h["Access-Control-Allow-Credentials"] = []string{"true"}
		}
		if c.methods != "" {
			h["Access-Control-Allow-Methods"] = []string{c.wildcardValue(c.anyMethod, c.methods, reqMethod)}
		}
		if reqHeaders := strings.Join(r.Header["Access-Control-Request-Headers"], ","); c.headers != "" {
			switch {
			case !c.anyHeader:
				h["Access-Control-Allow-Headers"] = []string{c.headers}
			case reqHeaders != "":
				h["Access-Control-Allow-Headers"] = []string{c.wildcardValue(true, c.headers, reqHeaders)}
			}
		}
		// Browsers read Expose-Headers from the actual response; it is sent
		// on the preflight too, as Gateway API conformance expects.
		if c.expose != "" {
			h["Access-Control-Expose-Headers"] = []string{c.expose}
		}
		h["Access-Control-Max-Age"] = []string{c.maxAge}
	}
	w.WriteHeader(http.StatusOK)
	return true
}

// wildcardValue is the value of an Allow-Methods/Allow-Headers response
// header: "*" may be sent only without credentials; with credentials the
// requested value is echoed instead.
func (c *cors) wildcardValue(star bool, joined, requested string) string {
	switch {
	case !star:
		return joined
	case c.credentials:
		return requested
	default:
		return "*"
	}
}

// response decorates the response to an actual (non-preflight) cross-origin
// request.
func (c *cors) response(h http.Header, req *http.Request) {
	h.Add("Vary", "Origin")
	origin := firstValue(req.Header, "Origin")
	if origin == "" || !c.allows(origin) {
		return
	}
	h["Access-Control-Allow-Origin"] = []string{c.allowOrigin(origin)}
	if c.credentials {
		h["Access-Control-Allow-Credentials"] = []string{"true"}
	}
	if c.expose != "" {
		h["Access-Control-Expose-Headers"] = []string{c.expose}
	}
}

// firstValue reads a header by its canonical name without re-canonicalising.
func firstValue(h http.Header, canonical string) string {
	if v := h[canonical]; len(v) > 0 {
		return v[0]
	}
	return ""
}
