package cel

import (
	"errors"
	"fmt"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
)

// Runtime cost limits. Programs whose static estimate stays within
// costTrackingThreshold run untracked (the common case: field reads,
// comparisons, header lookups); above it, or when the estimate is unbounded,
// evaluation is cut off at RuntimeCostLimit.
const (
	costTrackingThreshold = 1_000_000
	// RuntimeCostLimit is the cost (in cel-go units) at which evaluation of an
	// expensive expression is aborted.
	RuntimeCostLimit = 10_000_000
)

// Env is the shared CEL environment. It is immutable after NewEnv and safe for
// concurrent use: the control plane and every proxy worker share one.
type Env struct {
	env *cel.Env
}

// NewEnv builds the environment: Gatehouse's variables and functions plus the
// cel-go extension libraries.
func NewEnv() (*Env, error) {
	opts := []cel.EnvOption{
		cel.Variable("request", RequestType),
		cel.Variable("response", ResponseType),
		cel.Variable("source", SourceType),
		cel.Variable("backend", BackendType),
		cel.Variable("llm", LLMType),
		cel.Variable("jwt", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("gateway", cel.StringType),
		cel.Variable("listener", cel.StringType),
		cel.Variable("route", cel.StringType),
		cel.OptionalTypes(),
		ext.Strings(),
		ext.Math(),
		ext.Lists(),
		ext.Sets(),
		ext.Encoders(),
		ext.Network(),
		ext.Regex(),
		ext.Bindings(),
	}
	opts = append(opts, functionOptions()...)
	// Last, so that the libraries above have registered their types first.
	opts = append(opts, func(e *cel.Env) (*cel.Env, error) {
		return cel.CustomTypeProvider(newProvider(e.CELTypeProvider()))(e)
	})
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, fmt.Errorf("cel environment: %w", err)
	}
	return &Env{env: env}, nil
}

// OutputType is the type a compiled expression must produce.
type OutputType struct {
	t *cel.Type
	// alt is a second accepted type (BodyType: string or bytes).
	alt *cel.Type
}

// Expected output types.
var (
	AnyType    = OutputType{}
	BoolType   = OutputType{t: cel.BoolType}
	StringType = OutputType{t: cel.StringType}
	IntType    = OutputType{t: cel.IntType}
	BytesType  = OutputType{t: cel.BytesType}
	// BodyType accepts string or bytes: a replacement body.
	BodyType = OutputType{t: cel.StringType, alt: cel.BytesType}
)

func (o OutputType) String() string {
	if o.t == nil {
		return "any"
	}
	if o.alt != nil {
		return o.t.String() + " or " + o.alt.String()
	}
	return o.t.String()
}

// accepts reports whether an expression of type t may be used where o is
// wanted. dyn is accepted and checked when evaluated.
func (o OutputType) accepts(t *cel.Type) bool {
	if o.t == nil || t.Kind() == types.DynKind || t.Kind() == types.AnyKind {
		return true
	}
	return o.t.IsAssignableType(t) || (o.alt != nil && o.alt.IsAssignableType(t))
}

// CompileError reports why an expression was rejected. Its message is cel-go's,
// with line:column positions, e.g.
//
//	ERROR: <input>:1:9: undeclared reference to 'reqest' (in container '')
type CompileError struct {
	Expr   string
	Issues []CompileIssue
	msg    string
}

// CompileIssue is one problem found in an expression. Line and Column are
// 1-based.
type CompileIssue struct {
	Line, Column int
	Message      string
}

func (e *CompileError) Error() string { return e.msg }

func newCompileError(expr string, iss *cel.Issues) *CompileError {
	ce := &CompileError{Expr: expr, msg: iss.Err().Error()}
	for _, e := range iss.Errors() {
		ce.Issues = append(ce.Issues, CompileIssue{
			Line:    e.Location.Line(),
			Column:  e.Location.Column() + 1,
			Message: e.Message,
		})
	}
	return ce
}

// Program is a compiled expression. It is immutable and safe for concurrent
// use; each evaluation gets its own Context.
type Program struct {
	expr    string
	prg     cel.Program
	out     *cel.Type
	uses    Uses
	costMin uint64
	costMax uint64
	limited bool
	// fast is the expression compiled to Go closures (fastpath.go), or nil
	// when it has a shape only cel-go evaluates.
	fast fastNode
}

// Compile parses and type-checks expr and plans it for evaluation. Errors are
// *CompileError.
func (e *Env) Compile(expr string, want OutputType) (*Program, error) {
	checked, iss := e.env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, newCompileError(expr, iss)
	}
	if !want.accepts(checked.OutputType()) {
		msg := fmt.Sprintf("ERROR: <input>:1:1: expression must evaluate to %s, got %s", want, checked.OutputType())
		return nil, &CompileError{Expr: expr, msg: msg,
			Issues: []CompileIssue{{Line: 1, Column: 1, Message: msg[len("ERROR: <input>:1:1: "):]}}}
	}
	est, err := e.env.EstimateCost(checked, costEstimator{})
	if err != nil {
		return nil, fmt.Errorf("estimating cost of %q: %w", expr, err)
	}
	p := &Program{expr: expr, out: checked.OutputType(), uses: analyzeUses(checked.NativeRep().Expr()),
		costMin: est.Min, costMax: est.Max}
	opts := []cel.ProgramOption{
		cel.EvalOptions(cel.OptOptimize),
		cel.OptimizeRegex(regexReplaceOptimization),
	}
	if est.Max > costTrackingThreshold {
		p.limited = true
		opts = append(opts, cel.CostLimit(RuntimeCostLimit))
	}
	prg, err := e.env.Program(checked, opts...)
	if err != nil {
		// A literal regex that does not compile is reported here.
		msg := "ERROR: <input>:1:1: " + err.Error()
		return nil, &CompileError{Expr: expr, msg: msg,
			Issues: []CompileIssue{{Line: 1, Column: 1, Message: err.Error()}}}
	}
	p.prg = prg
	if !p.limited {
		p.fast = compileFast(checked.NativeRep().Expr())
	}
	return p, nil
}

// String returns the source expression.
func (p *Program) String() string { return p.expr }

// Uses reports what the expression reads.
func (p *Program) Uses() Uses { return p.uses }

// CostEstimate is cel-go's static cost estimate. Max is math.MaxUint64 when the
// cost is unbounded; such programs, and any whose Max exceeds an internal
// threshold, are evaluated with a runtime limit of RuntimeCostLimit.
func (p *Program) CostEstimate() (lo, hi uint64) { return p.costMin, p.costMax }

// FastPath reports whether p runs as native Go closures rather than through
// cel-go's interpreter (see fastpath.go); the result is the same either way.
func (p *Program) FastPath() bool { return p.fast != nil }

// CostLimited reports whether evaluation is cut off at RuntimeCostLimit.
func (p *Program) CostLimited() bool { return p.limited }

// Eval evaluates p against ctx. The result may alias the request (see the
// package documentation): use it before the request or ctx changes.
func (p *Program) Eval(ctx *Context) (ref.Val, error) {
	if ctx == nil {
		return nil, errors.New("cel: nil Context")
	}
	if p.fast != nil {
		out := p.fast(ctx, nil)
		if e, ok := out.(*types.Err); ok {
			return nil, fmt.Errorf("%s: %w", p.expr, e)
		}
		return out, nil
	}
	return p.evalInterpreted(ctx)
}

// evalInterpreted evaluates p with cel-go's interpreter.
func (p *Program) evalInterpreted(ctx *Context) (ref.Val, error) {
	out, _, err := p.prg.Eval(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.expr, err)
	}
	return out, nil
}

// EvalBool evaluates p and requires a bool result.
func (p *Program) EvalBool(ctx *Context) (bool, error) {
	out, err := p.Eval(ctx)
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("%s: got %s, want bool", p.expr, out.Type().TypeName())
	}
	return bool(b), nil
}

// EvalString evaluates p and requires a string result. The string is safe to
// keep: it is an immutable Go string.
func (p *Program) EvalString(ctx *Context) (string, error) {
	out, err := p.Eval(ctx)
	if err != nil {
		return "", err
	}
	s, ok := out.(types.String)
	if !ok {
		return "", fmt.Errorf("%s: got %s, want string", p.expr, out.Type().TypeName())
	}
	return string(s), nil
}

// EvalBody evaluates p and requires a string or bytes result, returned as
// bytes. The slice may alias the Context's buffers (request or response
// body): write it out before the Context changes, or copy it.
func (p *Program) EvalBody(ctx *Context) ([]byte, error) {
	out, err := p.Eval(ctx)
	if err != nil {
		return nil, err
	}
	switch x := out.(type) {
	case types.String:
		return []byte(string(x)), nil
	case types.Bytes:
		return []byte(x), nil
	}
	return nil, fmt.Errorf("%s: got %s, want string or bytes", p.expr, out.Type().TypeName())
}
