package cel

import (
	"regexp"
	"strings"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/overloads"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// The fast path compiles the most common expression shapes to Go closures
// that read the Context directly, skipping cel-go's interpreter (its
// per-evaluation frame, activation lookups and dispatch), which costs far more
// than the work of a simple policy expression. Recognised: literals;
// request/response/source/backend/llm fields; gateway/listener/route;
// jwt.<claim>; <map>["literal"]; "literal" in <map>; == and !=; &&, || and !;
// startsWith/endsWith/contains with a literal argument; matches with a
// literal pattern; and <headers>.exists(k, <one of those on k>). Any other
// node makes the whole expression fall back to cel-go.
//
// Fast nodes produce the same CEL values as cel-go (the field getters are the
// very ones cel-go calls, equality is types.Equal, && and || absorb errors as
// cel-go does); FuzzFastPathMatchesCEL checks that on random requests.

// fastNode evaluates one sub-expression. it is the value of the comprehension
// variable, when inside one.
type fastNode func(c *Context, it ref.Val) ref.Val

// fastCompiler turns a checked AST into a fastNode. iterVar is the name of
// the one comprehension variable in scope ("" outside a comprehension).
type fastCompiler struct {
	iterVar string
}

// compileFast returns the fast form of root, or nil when some node is not
// recognised.
func compileFast(root ast.Expr) fastNode {
	return (&fastCompiler{}).node(root)
}

func (fc *fastCompiler) node(e ast.Expr) fastNode {
	switch e.Kind() {
	case ast.LiteralKind:
		v := e.AsLiteral()
		return func(*Context, ref.Val) ref.Val { return v }
	case ast.IdentKind:
		return fc.ident(e.AsIdent())
	case ast.SelectKind:
		return fc.selection(e.AsSelect())
	case ast.CallKind:
		return fc.call(e.AsCall())
	case ast.ComprehensionKind:
		return fc.exists(e.AsComprehension())
	}
	return nil
}

func (fc *fastCompiler) ident(name string) fastNode {
	switch {
	case name == fc.iterVar && name != "":
		return func(_ *Context, it ref.Val) ref.Val { return it }
	case name == "gateway":
		return func(c *Context, _ ref.Val) ref.Val { return aliasString(&c.Gateway) }
	case name == "listener":
		return func(c *Context, _ ref.Val) ref.Val { return aliasString(&c.Listener) }
	case name == "route":
		return func(c *Context, _ ref.Val) ref.Val { return aliasString(&c.Route) }
	case name == "jwt":
		return func(c *Context, _ ref.Val) ref.Val { return anyMap{m: c.JWT} }
	}
	return nil
}

var fastObjects = map[string]*objectDesc{
	"request": requestDesc, "response": responseDesc, "source": sourceDesc, "backend": backendDesc, "llm": llmDesc,
}

// selection handles <variable>.<field> and jwt.<claim>.
func (fc *fastCompiler) selection(sel ast.SelectExpr) fastNode {
	op := sel.Operand()
	if sel.IsTestOnly() {
		return nil
	}
	if op.Kind() != ast.IdentKind || op.AsIdent() == fc.iterVar {
		return fc.mapField(op, sel.FieldName())
	}
	name, field := op.AsIdent(), sel.FieldName()
	if name == "jwt" {
		var key ref.Val = types.String(field) // boxed once, not per evaluation
		return func(c *Context, _ ref.Val) ref.Val { return getOrMissing(anyMap{m: c.JWT}, key) }
	}
	d, ok := fastObjects[name]
	if !ok {
		return nil
	}
	f, ok := d.fields[field]
	if !ok {
		return nil
	}
	get := f.get
	if name == "request" {
		// The hottest fields, read without the getter's indirections.
		switch field {
		case "method":
			return func(c *Context, _ ref.Val) ref.Val {
				if r := c.Request; r != nil && r.Method != "" {
					return aliasString(&r.Method)
				}
				return get(c)
			}
		case "path":
			return func(c *Context, _ ref.Val) ref.Val {
				if r := c.Request; r != nil && r.URL != nil {
					return aliasString(&r.URL.Path)
				}
				return get(c)
			}
		}
	}
	return func(c *Context, _ ref.Val) ref.Val { return get(c) }
}

// mapField is <dyn>.field where the operand is a map at run time (a JSON
// object, a claim): a key lookup, as cel-go does for maps.
func (fc *fastCompiler) mapField(op ast.Expr, field string) fastNode {
	x := fc.node(op)
	if x == nil {
		return nil
	}
	var key ref.Val = types.String(field)
	return func(c *Context, it ref.Val) ref.Val {
		v := x(c, it)
		if types.IsError(v) {
			return v
		}
		if m, ok := v.(traits.Mapper); ok {
			return getOrMissing(m, key)
		}
		return types.NewErr("no such key: %s", field)
	}
}

// jsonCall is json(request.body), memoized per Context as the late-bound
// json() is, or json(<string or bytes>).
func (fc *fastCompiler) jsonCall(args []ast.Expr) fastNode {
	if len(args) != 1 {
		return nil
	}
	if a := args[0]; a.Kind() == ast.SelectKind && !a.AsSelect().IsTestOnly() && a.AsSelect().FieldName() == "body" &&
		a.AsSelect().Operand().Kind() == ast.IdentKind && a.AsSelect().Operand().AsIdent() == "request" && fc.iterVar != "request" {
		return func(c *Context, _ ref.Val) ref.Val {
			if !c.bodyParsed {
				c.bodyJSON, c.bodyParsed = c.parseJSON(c.Body), true
			}
			return c.bodyJSON
		}
	}
	x := fc.node(args[0])
	if x == nil {
		return nil
	}
	return func(c *Context, it ref.Val) ref.Val {
		v := x(c, it)
		if types.IsError(v) {
			return v
		}
		return c.evalJSON(jsonFunc, v)
	}
}

// inList is x in [literal, ...].
func (fc *fastCompiler) inList(x ast.Expr, list ast.Expr) fastNode {
	l := list.AsList()
	if len(l.OptionalIndices()) > 0 {
		return nil
	}
	var elems []ref.Val
	hashed := true // cel-go turns a list of hashable primitives into a set
	for _, e := range l.Elements() {
		if e.Kind() != ast.LiteralKind {
			return nil
		}
		lit := e.AsLiteral()
		if !types.IsPrimitiveType(lit) || lit.Type() == types.BytesType {
			hashed = false
		}
		elems = append(elems, lit)
	}
	xn := fc.node(x)
	if xn == nil {
		return nil
	}
	if len(elems) == 0 {
		// cel-go folds x in [] to false without evaluating x.
		return func(*Context, ref.Val) ref.Val { return types.False }
	}
	return func(c *Context, it ref.Val) ref.Val {
		v := xn(c, it)
		if types.IsError(v) {
			return v
		}
		if hashed && !setKey(v) {
			// cel-go looks a map or list up in its set and fails; the
			// fast path reports the same error rather than false.
			return types.NewErr("no such overload: %s in a list of literals", v.Type().TypeName())
		}
		for _, e := range elems {
			if types.Equal(v, e) == types.True {
				return types.True
			}
		}
		return types.False
	}
}

// setKey reports whether v can be looked up in cel-go's set form of a literal
// list: maps and lists cannot.
func setKey(v ref.Val) bool {
	switch v.(type) {
	case traits.Mapper, traits.Lister:
		return false
	}
	return true
}

func (fc *fastCompiler) call(call ast.CallExpr) fastNode {
	args := call.Args()
	if !call.IsMemberFunction() {
		switch {
		case call.FunctionName() == jsonFunc:
			return fc.jsonCall(args)
		case call.FunctionName() == operators.In && len(args) == 2 && args[1].Kind() == ast.ListKind:
			return fc.inList(args[0], args[1])
		}
	}
	if call.IsMemberFunction() {
		if len(args) != 1 || args[0].Kind() != ast.LiteralKind {
			return nil
		}
		lit, ok := args[0].AsLiteral().(types.String)
		if !ok {
			return nil
		}
		target := fc.node(call.Target())
		if target == nil {
			return nil
		}
		general := stringMethod(call.FunctionName(), target, string(lit))
		if d := fc.directBool(call); general != nil && d != nil {
			return withDirect(d, general)
		}
		return general
	}
	switch call.FunctionName() {
	case operators.LogicalNot:
		return fc.not(args)
	case operators.LogicalAnd, operators.LogicalOr:
		return fc.logical(call.FunctionName() == operators.LogicalOr, args)
	}
	if len(args) != 2 {
		return nil
	}
	l, r := fc.node(args[0]), fc.node(args[1])
	if l == nil || r == nil {
		return nil
	}
	switch call.FunctionName() {
	case operators.Equals:
		general := func(c *Context, it ref.Val) ref.Val { return fastEqual(l(c, it), r, c, it) }
		if d := fc.directBool(call); d != nil {
			return withDirect(d, general)
		}
		return general
	case operators.NotEquals:
		general := func(c *Context, it ref.Val) ref.Val {
			v := fastEqual(l(c, it), r, c, it)
			if b, ok := v.(types.Bool); ok {
				return !b
			}
			return v
		}
		if d := fc.directBool(call); d != nil {
			return withDirect(d, general)
		}
		return general
	case operators.Index:
		if d, ok := fc.headerSource(call); ok {
			key := d.key
			general := fc.index(l, r)
			return func(c *Context, it ref.Val) ref.Val {
				// A single-valued header, aliased in place with its
				// lookup key computed at compile time.
				if req := c.Request; req != nil {
					if vs := req.Header[key]; len(vs) == 1 {
						return aliasString(&vs[0])
					}
				}
				return general(c, it)
			}
		}
		return fc.index(l, r)
	case operators.In:
		return func(c *Context, it ref.Val) ref.Val {
			k := l(c, it)
			if types.IsError(k) {
				return k
			}
			m := r(c, it)
			if types.IsError(m) {
				return m
			}
			if ct, ok := m.(traits.Container); ok {
				return ct.Contains(k)
			}
			return types.NoSuchOverloadErr()
		}
	}
	return nil
}

// index is <map or list>[key].
func (fc *fastCompiler) index(l, r fastNode) fastNode {
	return func(c *Context, it ref.Val) ref.Val {
		m := l(c, it)
		if types.IsError(m) {
			return m
		}
		k := r(c, it)
		if types.IsError(k) {
			return k
		}
		ix, ok := m.(traits.Indexer)
		if !ok {
			return types.NoSuchOverloadErr()
		}
		return ix.Get(k)
	}
}

// fastEqual is cel-go's ==: an error operand is the result (left first),
// otherwise heterogeneous equality.
func fastEqual(lv ref.Val, r fastNode, c *Context, it ref.Val) ref.Val {
	if types.IsError(lv) {
		return lv
	}
	rv := r(c, it)
	if types.IsError(rv) {
		return rv
	}
	return types.Equal(lv, rv)
}

func (fc *fastCompiler) not(args []ast.Expr) fastNode {
	if len(args) != 1 {
		return nil
	}
	x := fc.node(args[0])
	if x == nil {
		return nil
	}
	return func(c *Context, it ref.Val) ref.Val {
		v := x(c, it)
		if b, ok := v.(types.Bool); ok {
			return !b
		}
		if types.IsError(v) {
			return v
		}
		return types.NoSuchOverloadErr()
	}
}

// logical is && (or, false) and || (or, true): the first operand that equals
// the absorbing value decides; otherwise the first error, as in cel-go.
func (fc *fastCompiler) logical(or bool, args []ast.Expr) fastNode {
	if len(args) != 2 {
		return nil
	}
	l, r := fc.node(args[0]), fc.node(args[1])
	if l == nil || r == nil {
		return nil
	}
	decide := types.Bool(or)
	general := func(c *Context, it ref.Val) ref.Val {
		lv := l(c, it)
		if b, ok := lv.(types.Bool); ok && b == decide {
			return decide
		}
		rv := r(c, it)
		if b, ok := rv.(types.Bool); ok && b == decide {
			return decide
		}
		_, lb := lv.(types.Bool)
		_, rb := rv.(types.Bool)
		switch {
		case lb && rb:
			return !decide
		case types.IsError(lv):
			return lv
		case types.IsError(rv):
			return rv
		}
		return types.NoSuchOverloadErr()
	}
	if ld, rd := fc.directBoolExpr(args[0]), fc.directBoolExpr(args[1]); ld != nil && rd != nil {
		return logicalDirect(or, ld, rd, general)
	}
	return general
}

// stringMethod handles <string>.startsWith/endsWith/contains("literal") and
// <string>.matches("literal pattern").
func stringMethod(name string, target fastNode, lit string) fastNode {
	var test func(s string) bool
	switch name {
	case overloads.StartsWith:
		test = func(s string) bool { return strings.HasPrefix(s, lit) }
	case overloads.EndsWith:
		test = func(s string) bool { return strings.HasSuffix(s, lit) }
	case overloads.Contains:
		test = func(s string) bool { return strings.Contains(s, lit) }
	case overloads.Matches:
		re, err := regexp.Compile(lit)
		if err != nil {
			return nil // cel-go reports it
		}
		test = re.MatchString
	default:
		return nil
	}
	return func(c *Context, it ref.Val) ref.Val {
		v := target(c, it)
		if s, ok := v.(types.String); ok {
			return types.Bool(test(string(s)))
		}
		if types.IsError(v) {
			return v
		}
		return types.NoSuchOverloadErr()
	}
}

// exists recognises the expansion of <range>.exists(v, <pred>): accumulator
// false, step "@result || pred", result "@result". The predicate must itself
// be on the fast path and use no nested comprehension variable.
func (fc *fastCompiler) exists(comp ast.ComprehensionExpr) fastNode {
	if fc.iterVar != "" || comp.HasIterVar2() {
		return nil
	}
	accu := comp.AccuVar()
	init, step, result := comp.AccuInit(), comp.LoopStep(), comp.Result()
	if init.Kind() != ast.LiteralKind || init.AsLiteral() != types.False ||
		result.Kind() != ast.IdentKind || result.AsIdent() != accu || step.Kind() != ast.CallKind {
		return nil
	}
	sc := step.AsCall()
	if sc.FunctionName() != operators.LogicalOr || len(sc.Args()) != 2 ||
		sc.Args()[0].Kind() != ast.IdentKind || sc.Args()[0].AsIdent() != accu {
		return nil
	}
	rng := fc.node(comp.IterRange())
	if rng == nil {
		return nil
	}
	inner := &fastCompiler{iterVar: comp.IterVar()}
	pred := inner.node(sc.Args()[1])
	if pred == nil {
		return nil
	}
	nameTest := inner.headerNameTest(sc.Args()[1])
	return func(c *Context, _ ref.Val) ref.Val {
		v := rng(c, nil)
		if types.IsError(v) {
			return v
		}
		hv, ok := v.(headerView)
		if !ok {
			return existsGeneric(c, v, pred)
		}
		var firstErr ref.Val
		for k, vs := range hv.h {
			if len(vs) == 0 {
				continue
			}
			if nameTest != nil && isASCII(k) {
				if nameTest(k) {
					return types.True
				}
				continue
			}
			switch r := pred(c, lowerHeaderName(k)); {
			case r == types.True:
				return types.True
			case types.IsError(r) && firstErr == nil:
				firstErr = r
			}
		}
		if firstErr != nil {
			return firstErr
		}
		return types.False
	}
}

// existsGeneric iterates any other CEL map or list.
func existsGeneric(c *Context, v ref.Val, pred fastNode) ref.Val {
	it, ok := v.(traits.Iterable)
	if !ok {
		return types.NoSuchOverloadErr()
	}
	var firstErr ref.Val
	for i := it.Iterator(); i.HasNext() == types.True; {
		switch r := pred(c, i.Next()); {
		case r == types.True:
			return types.True
		case types.IsError(r) && firstErr == nil:
			firstErr = r
		}
	}
	if firstErr != nil {
		return firstErr
	}
	return types.False
}
