package cel

import (
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
)

// Uses reports which costly inputs an expression reads, so the proxy prepares
// them only when a compiled expression needs them.
type Uses struct {
	// RequestBody: the request body must be buffered into Context.Body.
	RequestBody bool
	// ResponseBody: the response body must be buffered into ResponseInfo.Body.
	ResponseBody bool
	// ResponseHeaders: the expression reads response headers.
	ResponseHeaders bool
	// Response: the expression reads the response; it can only be evaluated
	// once the response is known.
	Response bool
	// JWT: the expression reads JWT claims.
	JWT bool
	// LLM: the expression reads LLM request/response facts.
	LLM bool
	// Backend: the expression reads the selected backend.
	Backend bool
}

// Merge returns the union of u and o, for a set of programs run together.
func (u Uses) Merge(o Uses) Uses {
	return Uses{
		RequestBody:     u.RequestBody || o.RequestBody,
		ResponseBody:    u.ResponseBody || o.ResponseBody,
		ResponseHeaders: u.ResponseHeaders || o.ResponseHeaders,
		Response:        u.Response || o.Response,
		JWT:             u.JWT || o.JWT,
		LLM:             u.LLM || o.LLM,
		Backend:         u.Backend || o.Backend,
	}
}

// analyzeUses walks the checked expression. A field selected from a variable
// (request.body) marks that input; a variable used whole (toJson(request),
// dyn(response)) conservatively marks every input it could expose.
// Over-reporting is safe, under-reporting is not.
func analyzeUses(root ast.Expr) Uses {
	var u Uses
	selected := map[int64]bool{} // ids of idents that are the operand of a select
	ast.PreOrderVisit(root, ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() != ast.SelectKind {
			return
		}
		sel := e.AsSelect()
		op := sel.Operand()
		if op.Kind() != ast.IdentKind {
			return
		}
		selected[op.ID()] = true
		u.markField(op.AsIdent(), sel.FieldName())
	}))
	ast.PreOrderVisit(root, ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() == ast.IdentKind && !selected[e.ID()] {
			u.markWhole(e.AsIdent())
		}
	}))
	return u
}

func (u *Uses) markField(variable, field string) {
	switch variable {
	case "request":
		if field == "body" {
			u.RequestBody = true
		}
	case "response":
		u.Response = true
		switch field {
		case "body":
			u.ResponseBody = true
		case "headers":
			u.ResponseHeaders = true
		}
	default:
		u.markWhole(variable)
	}
}

func (u *Uses) markWhole(variable string) {
	switch variable {
	case "request":
		u.RequestBody = true
	case "response":
		u.Response, u.ResponseBody, u.ResponseHeaders = true, true, true
	case "jwt":
		u.JWT = true
	case "llm":
		u.LLM = true
	case "backend":
		u.Backend = true
	}
}

// Size bounds the estimator assumes for request data. They keep the estimate
// of ordinary expressions (a comprehension over headers, json of the body)
// finite; the runtime limit covers anything beyond.
const (
	maxHeaderCount   = 256
	maxHeaderBytes   = 8 << 10
	maxBodyBytes     = 2 << 20
	maxPathBytes     = 8 << 10
	maxClaimCount    = 64
	maxIdentityBytes = 1 << 10
)

// costEstimator gives cel-go size hints for the request variables.
type costEstimator struct{}

func (costEstimator) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	path := n.Path()
	if len(path) < 2 {
		if len(path) == 1 {
			switch path[0] {
			case "jwt":
				return &cost.SizeEstimate{Min: 0, Max: maxClaimCount}
			case "gateway", "listener", "route":
				return &cost.SizeEstimate{Min: 0, Max: maxIdentityBytes}
			}
		}
		return nil
	}
	switch path[1] {
	case "headers", "query":
		if len(path) == 2 {
			return &cost.SizeEstimate{Min: 0, Max: maxHeaderCount}
		}
		return &cost.SizeEstimate{Min: 0, Max: maxHeaderBytes}
	case "body":
		return &cost.SizeEstimate{Min: 0, Max: maxBodyBytes}
	case "path", "host":
		return &cost.SizeEstimate{Min: 0, Max: maxPathBytes}
	case "method", "scheme", "address", "identity", "name", "endpoint", "requestModel", "responseModel":
		return &cost.SizeEstimate{Min: 0, Max: maxIdentityBytes}
	}
	return nil
}

func (costEstimator) EstimateCallCost(function, _ string, _ *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	if function != jsonFunc || len(args) != 1 {
		return nil
	}
	// Parsing is linear in the input; charge like a string scan (0.1 per byte).
	hi := uint64(maxBodyBytes)
	if sz := args[0].ComputedSize(); sz != nil {
		hi = sz.Max
	}
	return &cost.CallEstimate{CostEstimate: cost.CostEstimate{Min: 1, Max: 1 + hi/10}}
}
