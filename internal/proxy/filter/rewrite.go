package filter

import (
	"fmt"
	"net/http"
	"strings"

	"gatehouse.dev/gatehouse/internal/ir"
)

// pathModifier is a compiled ir.PathModifier.
type pathModifier struct {
	replacePrefix bool
	value         string
}

func compilePathModifier(p *ir.PathModifier) (*pathModifier, error) {
	if p == nil {
		return nil, nil
	}
	switch p.Type {
	case ir.ReplaceFullPath:
		return &pathModifier{value: p.Value}, nil
	case ir.ReplacePrefixMatch:
		// A trailing "/" of the replacement is ignored (spec table: "/xyz/"
		// behaves as "/xyz"); trim it once here.
		return &pathModifier{replacePrefix: true, value: strings.TrimRight(p.Value, "/")}, nil
	default:
		return nil, fmt.Errorf("path: unsupported type %q (want %s or %s)", p.Type, ir.ReplaceFullPath, ir.ReplacePrefixMatch)
	}
}

// apply returns the modified path.
func (pm *pathModifier) apply(path, matchedPrefix string) string {
	if !pm.replacePrefix {
		return ensureLeadingSlash(pm.value)
	}
	return ReplacePrefix(path, matchedPrefix, pm.value)
}

// ReplacePrefix replaces the path-element prefix prefix of path by repl, as
// the Gateway API's ReplacePrefixMatch does: trailing slashes of prefix and
// repl are ignored and the remainder of path keeps its leading "/", so prefix
// "/foo" replaced by "/bar" turns "/foo/x" into "/bar/x" and replaced by "/"
// turns it into "/x". The result always starts with "/".
//
// When prefix is empty (the rule matched by exact path or regex, which the
// API does not allow with ReplacePrefixMatch) the whole path is replaced.
// When prefix does not match path on an element boundary, path is returned
// unchanged.
func ReplacePrefix(path, prefix, repl string) string {
	repl = strings.TrimRight(repl, "/")
	if prefix == "" {
		return ensureLeadingSlash(repl)
	}
	p := strings.TrimSuffix(prefix, "/")
	rest, ok := strings.CutPrefix(path, p)
	if !ok || (rest != "" && rest[0] != '/') {
		return ensureLeadingSlash(path)
	}
	return ensureLeadingSlash(repl + rest)
}

func ensureLeadingSlash(p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	return "/" + p
}

// rewrite is the URLRewrite filter.
type rewrite struct {
	hostname string
	path     *pathModifier
}

func compileRewrite(rw *ir.Rewrite) (*rewrite, error) {
	pm, err := compilePathModifier(rw.Path)
	if err != nil {
		return nil, err
	}
	if rw.Hostname == "" && pm == nil {
		return nil, fmt.Errorf("neither hostname nor path is set")
	}
	return &rewrite{hostname: rw.Hostname, path: pm}, nil
}

func (f *rewrite) request(_ http.ResponseWriter, r *http.Request, m MatchInfo) bool {
	if f.hostname != "" {
		r.Host = f.hostname
	}
	if f.path != nil {
		r.URL.Path = f.path.apply(requestPath(r), m.MatchedPrefix)
		// RawPath described the old path; URL.EscapedPath re-encodes the new one.
		r.URL.RawPath = ""
	}
	return false
}

func requestPath(r *http.Request) string {
	if r.URL.Path == "" {
		return "/"
	}
	return r.URL.Path
}
