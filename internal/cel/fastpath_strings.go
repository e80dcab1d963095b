package cel

import (
	"net/http"
	"strings"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/overloads"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// stringGetter reads a string straight from the request, without going
// through a CEL value. ok is false when the value is not a plain string
// there (no request, a missing or repeated header): the caller then takes the
// general node, which produces cel-go's exact result (an error, a joined
// header).
type stringGetter func(c *Context) (s string, ok bool)

// directString recognises request.method, request.path, request.host and
// request.headers["literal"].
func (fc *fastCompiler) directString(e ast.Expr) stringGetter {
	switch e.Kind() {
	case ast.SelectKind:
		sel := e.AsSelect()
		if sel.IsTestOnly() || !fc.isVariable(sel.Operand(), "request") {
			return nil
		}
		switch sel.FieldName() {
		case "method":
			return func(c *Context) (string, bool) {
				if r := c.Request; r != nil && r.Method != "" {
					return r.Method, true
				}
				return "", false
			}
		case "path":
			return func(c *Context) (string, bool) {
				if r := c.Request; r != nil && r.URL != nil {
					return r.URL.Path, true
				}
				return "", false
			}
		case "host":
			return func(c *Context) (string, bool) {
				if r := c.Request; r != nil {
					return r.Host, true
				}
				return "", false
			}
		}
	case ast.CallKind:
		call := e.AsCall()
		if call.FunctionName() != operators.Index || call.IsMemberFunction() || len(call.Args()) != 2 {
			return nil
		}
		m, k := call.Args()[0], call.Args()[1]
		if m.Kind() != ast.SelectKind || m.AsSelect().IsTestOnly() || m.AsSelect().FieldName() != "headers" ||
			!fc.isVariable(m.AsSelect().Operand(), "request") || k.Kind() != ast.LiteralKind {
			return nil
		}
		name, ok := k.AsLiteral().(types.String)
		if !ok {
			return nil
		}
		key := headerLookupKey(string(name))
		return func(c *Context) (string, bool) {
			if r := c.Request; r != nil {
				if vs := r.Header[key]; len(vs) == 1 {
					return vs[0], true
				}
			}
			return "", false
		}
	}
	return nil
}

func (fc *fastCompiler) isVariable(e ast.Expr, name string) bool {
	return e.Kind() == ast.IdentKind && e.AsIdent() == name && fc.iterVar != name
}

// headerLookupKey is the http.Header key lookupHeader uses for key.
func headerLookupKey(key string) string {
	if len(key) > 128 {
		return http.CanonicalHeaderKey(key)
	}
	b := []byte(key)
	upper := true
	for i, c := range b {
		if c <= ' ' || c >= 0x7f || c == ':' {
			return key
		}
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
		upper = c == '-'
	}
	return string(b)
}

// stringTest is the Go form of startsWith/endsWith/contains/matches/== with
// a literal.
func stringTest(name, lit string) func(string) bool {
	switch name {
	case overloads.StartsWith:
		return func(s string) bool { return strings.HasPrefix(s, lit) }
	case overloads.EndsWith:
		return func(s string) bool { return strings.HasSuffix(s, lit) }
	case overloads.Contains:
		return func(s string) bool { return strings.Contains(s, lit) }
	case operators.Equals:
		return func(s string) bool { return s == lit }
	}
	return nil
}

// withDirect runs test on the directly read string when there is one, and
// falls back to the general node otherwise.
func withDirect(get stringGetter, test func(string) bool, general fastNode) fastNode {
	return func(c *Context, it ref.Val) ref.Val {
		if s, ok := get(c); ok {
			return types.Bool(test(s))
		}
		return general(c, it)
	}
}

// headerNameTest recognises a predicate k.startsWith/endsWith/contains("lit")
// or k == "lit" on the comprehension variable k, to run on (ASCII) header
// names without making their lower-case CEL strings.
func (fc *fastCompiler) headerNameTest(pred ast.Expr) func(string) bool {
	if pred.Kind() != ast.CallKind {
		return nil
	}
	call := pred.AsCall()
	args := call.Args()
	var subject, lit ast.Expr
	switch {
	case call.IsMemberFunction() && len(args) == 1:
		subject, lit = call.Target(), args[0]
	case !call.IsMemberFunction() && call.FunctionName() == operators.Equals && len(args) == 2:
		subject, lit = args[0], args[1]
	default:
		return nil
	}
	if subject.Kind() != ast.IdentKind || subject.AsIdent() != fc.iterVar || lit.Kind() != ast.LiteralKind {
		return nil
	}
	l, ok := lit.AsLiteral().(types.String)
	if !ok {
		return nil
	}
	return foldTest(call.FunctionName(), string(l))
}

// foldTest is stringTest(name, lit) applied to strings.ToLower(k), for an
// ASCII k and a lit without upper-case or non-ASCII bytes (nil otherwise).
func foldTest(name, lit string) func(k string) bool {
	for i := 0; i < len(lit); i++ {
		if c := lit[i]; c >= 0x80 || ('A' <= c && c <= 'Z') {
			return nil
		}
	}
	n := len(lit)
	switch name {
	case overloads.StartsWith:
		return func(k string) bool { return len(k) >= n && lowerEqual(k[:n], lit) }
	case overloads.EndsWith:
		return func(k string) bool { return len(k) >= n && lowerEqual(k[len(k)-n:], lit) }
	case overloads.Contains:
		return func(k string) bool {
			for i := 0; i+n <= len(k); i++ {
				if lowerEqual(k[i:i+n], lit) {
					return true
				}
			}
			return false
		}
	case operators.Equals:
		return func(k string) bool { return len(k) == n && lowerEqual(k, lit) }
	}
	return nil
}

// lowerEqual reports whether the lower-cased ASCII s equals lower.
func lowerEqual(s, lower string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
