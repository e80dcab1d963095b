package cel

import (
	"net/http"
	"regexp"
	"strings"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/overloads"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// Direct forms: a comparison of a request string with a literal is decided
// on Go strings, by static code (no closure per step), when the string is
// plainly there. When it is not (no request, a missing or repeated header)
// ok is false and the caller takes the general node, which produces cel-go's
// exact result (an error, a joined header).

// Sources of a directly read string.
const (
	srcMethod uint8 = iota + 1
	srcPath
	srcHost
	srcHeader
)

// directSrc is request.method, request.path, request.host or
// request.headers["literal"].
type directSrc struct {
	field uint8
	key   string // srcHeader: the http.Header key
}

func (d *directSrc) get(c *Context) (string, bool) {
	r := c.Request
	if r == nil {
		return "", false
	}
	switch d.field {
	case srcMethod:
		return r.Method, r.Method != ""
	case srcPath:
		if r.URL != nil {
			return r.URL.Path, true
		}
	case srcHost:
		return r.Host, true
	case srcHeader:
		if vs := r.Header[d.key]; len(vs) == 1 {
			return vs[0], true
		}
	}
	return "", false
}

// Tests of a directly read string against a literal.
const (
	testEquals uint8 = iota + 1
	testPrefix
	testSuffix
	testContains
	testMatches
)

// directBool is <directSrc> <test> <literal>, possibly negated (!=).
type directBool struct {
	src    directSrc
	test   uint8
	lit    string
	re     *regexp.Regexp
	negate bool
}

func (d *directBool) eval(c *Context) (result, ok bool) {
	s, ok := d.src.get(c)
	if !ok {
		return false, false
	}
	var b bool
	switch d.test {
	case testEquals:
		b = s == d.lit
	case testPrefix:
		b = strings.HasPrefix(s, d.lit)
	case testSuffix:
		b = strings.HasSuffix(s, d.lit)
	case testContains:
		b = strings.Contains(s, d.lit)
	case testMatches:
		b = d.re.MatchString(s)
	}
	return b != d.negate, true
}

// directSource recognises request.method, request.path, request.host and
// request.headers["literal"].
func (fc *fastCompiler) directSource(e ast.Expr) (directSrc, bool) {
	switch e.Kind() {
	case ast.SelectKind:
		sel := e.AsSelect()
		if sel.IsTestOnly() || !fc.isVariable(sel.Operand(), "request") {
			return directSrc{}, false
		}
		switch sel.FieldName() {
		case "method":
			return directSrc{field: srcMethod}, true
		case "path":
			return directSrc{field: srcPath}, true
		case "host":
			return directSrc{field: srcHost}, true
		}
	case ast.CallKind:
		return fc.headerSource(e.AsCall())
	}
	return directSrc{}, false
}

// headerSource recognises request.headers["literal"].
func (fc *fastCompiler) headerSource(call ast.CallExpr) (directSrc, bool) {
	if call.FunctionName() != operators.Index || call.IsMemberFunction() || len(call.Args()) != 2 {
		return directSrc{}, false
	}
	m, k := call.Args()[0], call.Args()[1]
	if m.Kind() != ast.SelectKind || m.AsSelect().IsTestOnly() || m.AsSelect().FieldName() != "headers" ||
		!fc.isVariable(m.AsSelect().Operand(), "request") || k.Kind() != ast.LiteralKind {
		return directSrc{}, false
	}
	if name, ok := k.AsLiteral().(types.String); ok {
		return directSrc{field: srcHeader, key: headerLookupKey(string(name))}, true
	}
	return directSrc{}, false
}

// directBool recognises <source>.startsWith/endsWith/contains/matches("lit")
// and <source> == / != "lit".
func (fc *fastCompiler) directBool(call ast.CallExpr) *directBool {
	args := call.Args()
	var subject, lit ast.Expr
	d := &directBool{}
	switch name := call.FunctionName(); {
	case call.IsMemberFunction() && len(args) == 1:
		subject, lit = call.Target(), args[0]
		switch name {
		case overloads.StartsWith:
			d.test = testPrefix
		case overloads.EndsWith:
			d.test = testSuffix
		case overloads.Contains:
			d.test = testContains
		case overloads.Matches:
			d.test = testMatches
		}
	case !call.IsMemberFunction() && len(args) == 2 && (name == operators.Equals || name == operators.NotEquals):
		subject, lit = args[0], args[1]
		d.test, d.negate = testEquals, name == operators.NotEquals
	}
	if d.test == 0 || lit.Kind() != ast.LiteralKind {
		return nil
	}
	l, ok := lit.AsLiteral().(types.String)
	if !ok {
		return nil
	}
	d.lit = string(l)
	if d.src, ok = fc.directSource(subject); !ok {
		return nil
	}
	if d.test == testMatches {
		re, err := regexp.Compile(d.lit)
		if err != nil {
			return nil
		}
		d.re = re
	}
	return d
}

// directBoolExpr is directBool for any expression.
func (fc *fastCompiler) directBoolExpr(e ast.Expr) *directBool {
	if e.Kind() != ast.CallKind {
		return nil
	}
	return fc.directBool(e.AsCall())
}

// withDirect decides with d when it can, and with the general node
// otherwise.
func withDirect(d *directBool, general fastNode) fastNode {
	return func(c *Context, it ref.Val) ref.Val {
		if b, ok := d.eval(c); ok {
			return types.Bool(b)
		}
		return general(c, it)
	}
}

// logicalDirect fuses a && or || of two direct comparisons. Operands are
// free of side effects, so when either cannot be decided directly the whole
// expression is simply re-evaluated by the general node.
func logicalDirect(or bool, l, r *directBool, general fastNode) fastNode {
	return func(c *Context, it ref.Val) ref.Val {
		lb, lok := l.eval(c)
		if lok && lb == or {
			return types.Bool(or)
		}
		rb, rok := r.eval(c)
		if rok && rb == or {
			return types.Bool(or)
		}
		if lok && rok {
			return types.Bool(!or)
		}
		return general(c, it)
	}
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

// foldTest is the literal test of name (startsWith, endsWith, contains, ==)
// applied to strings.ToLower(k), for an ASCII k and a lit without upper-case
// or non-ASCII bytes (nil otherwise).
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
