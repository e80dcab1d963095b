package router

import (
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"strings"

	"gatehouse.dev/gatehouse/internal/ir"
)

// pathKind orders path match types by precedence: exact paths beat prefixes,
// which beat regular expressions (whose precedence the spec leaves to the
// implementation).
type pathKind uint8

const (
	kindExact pathKind = iota
	kindPrefix
	kindRegex
)

// compiledMatch is one ir.Match with its regexes compiled and header names
// canonicalised.
type compiledMatch struct {
	kind pathKind
	// key is the exact path, or the prefix without its trailing "/" ("" for
	// "/"), as indexed by the bucket.
	key string
	// prefix is the PathPrefix value as written, reported as MatchedPrefix.
	prefix  string
	pathRE  *regexp.Regexp
	method  string
	headers []valueCond
	query   []valueCond
}

// valueCond is one header or query parameter condition.
type valueCond struct {
	name  string // canonical header name, or the query parameter name
	value string
	re    *regexp.Regexp
}

func (c *valueCond) matches(v string) bool {
	if c.re != nil {
		return c.re.MatchString(v)
	}
	return v == c.value
}

// compileMatch compiles m; errors name the field within the match.
func compileMatch(m *ir.Match) (*compiledMatch, error) {
	cm := &compiledMatch{method: m.Method}
	switch m.Path.Type {
	case ir.PathExact, ir.PathPrefix, "":
		v := m.Path.Value
		if v == "" {
			v = "/"
		}
		if v[0] != '/' {
			return nil, fmt.Errorf("path.value: %q must start with \"/\"", m.Path.Value)
		}
		if m.Path.Type == ir.PathExact {
			cm.kind, cm.key = kindExact, v
			break
		}
		// A trailing "/" is ignored: "/foo/" matches like "/foo".
		cm.kind, cm.key, cm.prefix = kindPrefix, strings.TrimSuffix(v, "/"), v
	case ir.PathRegex:
		re, err := compileAnchored(m.Path.Value)
		if err != nil {
			return nil, fmt.Errorf("path.value: %w", err)
		}
		cm.kind, cm.pathRE = kindRegex, re
	default:
		return nil, fmt.Errorf("path.type: unsupported type %q (want Exact, PathPrefix or RegularExpression)", m.Path.Type)
	}
	var err error
	if cm.headers, err = compileConds("headers", m.Headers, true); err != nil {
		return nil, err
	}
	if cm.query, err = compileConds("queryParams", m.QueryParams, false); err != nil {
		return nil, err
	}
	return cm, nil
}

// compileConds compiles header or query conditions. Per the spec only the
// first entry of equivalent names counts; later ones are dropped (and so do
// not count towards precedence either).
func compileConds(field string, vs []ir.ValueMatch, header bool) ([]valueCond, error) {
	if len(vs) == 0 {
		return nil, nil
	}
	var out []valueCond
	seen := make(map[string]bool, len(vs))
	for i, v := range vs {
		name := v.Name
		if header {
			name = textproto.CanonicalMIMEHeaderKey(name)
		}
		if name == "" {
			return nil, fmt.Errorf("%s[%d].name: must not be empty", field, i)
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		c := valueCond{name: name, value: v.Value}
		if v.Regex {
			re, err := compileAnchored(v.Value)
			if err != nil {
				return nil, fmt.Errorf("%s[%d].value: %w", field, i, err)
			}
			c.re = re
		}
		out = append(out, c)
	}
	return out, nil
}

// compileAnchored compiles an RE2 pattern that must match the whole value.
func compileAnchored(pattern string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(`^(?:` + pattern + `)$`)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression %q (Go RE2 syntax): %w", pattern, err)
	}
	return re, nil
}

// matchesRest checks everything but the path, which the bucket index (or the
// path regex) has already established.
func (m *compiledMatch) matchesRest(r *http.Request) bool {
	if m.method != "" && r.Method != m.method {
		return false
	}
	for i := range m.headers {
		v, ok := headerValue(r.Header, m.headers[i].name)
		if !ok || !m.headers[i].matches(v) {
			return false
		}
	}
	for i := range m.query {
		v, ok := firstQueryValue(r.URL.RawQuery, m.query[i].name)
		if !ok || !m.query[i].matches(v) {
			return false
		}
	}
	return true
}

// headerValue returns the value of header name. A repeated header is matched
// as its values joined by ",", which RFC 7230 §3.2.2 makes equivalent to the
// repeated form (the spec leaves repeated headers implementation-specific).
// Names are looked up canonically first; headers stored under a
// non-canonical key (HTTP/2 or hand-built requests) are found by a
// case-insensitive scan.
func headerValue(h http.Header, name string) (string, bool) {
	vs, ok := h[name]
	if !ok {
		for k, v := range h {
			if strings.EqualFold(k, name) {
				vs, ok = v, true
				break
			}
		}
	}
	switch {
	case !ok || len(vs) == 0:
		return "", false
	case len(vs) == 1:
		return vs[0], true
	default:
		return strings.Join(vs, ","), true
	}
}

// firstQueryValue returns the first value of query parameter name (names are
// case-sensitive) without building url.Values; it unescapes only components
// that need it, so the common case does not allocate.
func firstQueryValue(raw, name string) (string, bool) {
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(kv, "=")
		if needsUnescape(k) {
			var err error
			if k, err = url.QueryUnescape(k); err != nil {
				continue
			}
		}
		if k != name {
			continue
		}
		if needsUnescape(v) {
			uv, err := url.QueryUnescape(v)
			if err != nil {
				continue
			}
			v = uv
		}
		return v, true
	}
	return "", false
}

func needsUnescape(s string) bool { return strings.ContainsAny(s, "%+") }
