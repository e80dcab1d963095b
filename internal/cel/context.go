package cel

import (
	"net/http"
	"time"

	"cel.dev/cel-go/common/functions"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
)

// Context is the per-request input of a Program. It points at the request, it
// does not copy it: filling one in costs no allocation. It is not safe for
// concurrent use; give each request its own (callers pool them and call Reset).
// A Context must not be copied after its first use.
type Context struct {
	// Request is the downstream request. Method, path, host and headers are read
	// from it in place.
	Request *http.Request
	// Body is the buffered request body. The proxy sets it only when a
	// program's Uses().RequestBody is true.
	Body []byte
	// Response is set once the upstream response is known.
	Response *ResponseInfo
	// Source describes the downstream peer.
	Source SourceInfo
	// JWT holds the verified claims, or nil when no token was verified.
	JWT map[string]any
	// Backend is the selected backend, once known.
	Backend BackendInfo
	// Gateway, Listener and Route name the objects that matched the request.
	Gateway, Listener, Route string
	// LLM is set for requests handled by the LLM path.
	LLM *LLMInfo
	// Start is when the request was received.
	Start time.Time

	// bodyJSON memoizes json(request.body) for this request.
	bodyJSON   ref.Val
	bodyParsed bool
	// jsonParses counts JSON documents parsed (tests assert memoization).
	jsonParses int
	// jsonFn is the late-bound json() bound to this Context; created on first
	// use and kept across Reset so a pooled Context allocates it once.
	jsonFn functions.LateBoundOp
}

// ResponseInfo describes the upstream response.
type ResponseInfo struct {
	Code     int
	Headers  http.Header
	Size     int64
	Duration time.Duration
	// Body is the buffered response body, set only when Uses().ResponseBody.
	Body []byte
}

// SourceInfo describes the downstream peer.
type SourceInfo struct {
	Address string
	Port    int
	// Identity is the verified client identity (e.g. the mTLS SAN), if any.
	Identity string
}

// BackendInfo describes the selected backend.
type BackendInfo struct {
	Name     string
	Endpoint string
}

// LLMInfo describes an LLM request and, once known, its response.
type LLMInfo struct {
	RequestModel     string
	ResponseModel    string
	PromptTokens     int64
	CompletionTokens int64
	// TotalTokens is the backend's total_tokens (prompt + completion when
	// the backend does not report it).
	TotalTokens int64
}

// Reset clears c for reuse by another request.
func (c *Context) Reset() {
	fn := c.jsonFn
	*c = Context{jsonFn: fn}
}

var _ interpreter.FunctionActivation = (*Context)(nil)

// ResolveName implements interpreter.Activation. Variables are views over c;
// none of them allocates.
func (c *Context) ResolveName(name string) (any, bool) {
	switch name {
	case "request":
		return (*objView[requestKind])(c), true
	case "response":
		return (*objView[responseKind])(c), true
	case "source":
		return (*objView[sourceKind])(c), true
	case "backend":
		return (*objView[backendKind])(c), true
	case "llm":
		return (*objView[llmKind])(c), true
	case "jwt":
		return anyMap{m: c.JWT}, true
	case "gateway":
		return aliasString(&c.Gateway), true
	case "listener":
		return aliasString(&c.Listener), true
	case "route":
		return aliasString(&c.Route), true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (c *Context) Parent() interpreter.Activation { return nil }

// ResolveFunction implements interpreter.FunctionActivation: json() is bound
// per Context so that it can memoize the parsed request body.
func (c *Context) ResolveFunction(name string) (functions.LateBoundOp, bool) {
	if name != jsonFunc {
		return nil, false
	}
	if c.jsonFn == nil {
		c.jsonFn = c.evalJSON
	}
	return c.jsonFn, true
}

// Interned values returned for computed fields.
var (
	valGET   ref.Val = types.String(http.MethodGet)
	valHTTP  ref.Val = types.String("http")
	valHTTPS ref.Val = types.String("https")
	// statusCodes boxes the response codes 0-999 once.
	statusCodes = func() (v [1000]ref.Val) {
		for i := range v {
			v[i] = types.Int(i)
		}
		return v
	}()
)

func unavailable(what string) ref.Val {
	return types.NewErr("%s is not available", what)
}

func requestField(get func(c *Context, r *http.Request) ref.Val) func(*Context) ref.Val {
	return func(c *Context) ref.Val {
		if c.Request == nil {
			return unavailable("request")
		}
		return get(c, c.Request)
	}
}

func responseField(get func(r *ResponseInfo) ref.Val) func(*Context) ref.Val {
	return func(c *Context) ref.Val {
		if c.Response == nil {
			return unavailable("response")
		}
		return get(c.Response)
	}
}

func llmField(get func(l *LLMInfo) ref.Val) func(*Context) ref.Val {
	return func(c *Context) ref.Val {
		if c.LLM == nil {
			return unavailable("llm")
		}
		return get(c.LLM)
	}
}

var requestDesc = newObjectDesc[requestKind](RequestType, map[string]fieldDesc{
	"method": {typ: types.StringType, get: requestField(func(_ *Context, r *http.Request) ref.Val {
		if r.Method == "" {
			return valGET
		}
		return aliasString(&r.Method)
	})},
	"scheme": {typ: types.StringType, get: requestField(func(_ *Context, r *http.Request) ref.Val {
		switch {
		case r.TLS != nil:
			return valHTTPS
		case r.URL != nil && r.URL.Scheme != "":
			return aliasString(&r.URL.Scheme)
		}
		return valHTTP
	})},
	"host": {typ: types.StringType, get: requestField(func(_ *Context, r *http.Request) ref.Val {
		return aliasString(&r.Host)
	})},
	"path": {typ: types.StringType, get: requestField(func(_ *Context, r *http.Request) ref.Val {
		if r.URL == nil {
			return unavailable("request.path")
		}
		return aliasString(&r.URL.Path)
	})},
	"query": {typ: types.NewMapType(types.StringType, types.StringType), get: requestField(func(_ *Context, r *http.Request) ref.Val {
		if r.URL == nil {
			return unavailable("request.query")
		}
		return queryView{r: r}
	})},
	"headers": {typ: types.NewMapType(types.StringType, types.StringType), get: requestField(func(_ *Context, r *http.Request) ref.Val {
		return headerView{h: r.Header}
	})},
	"body": {typ: types.BytesType,
		get:   func(c *Context) ref.Val { return aliasBytes(&c.Body) },
		isSet: func(c *Context) bool { return len(c.Body) > 0 }},
	"size": {typ: types.IntType, get: requestField(func(c *Context, r *http.Request) ref.Val {
		if r.ContentLength >= 0 {
			return aliasInt(&r.ContentLength)
		}
		return types.Int(len(c.Body))
	})},
	"startTime": {typ: types.TimestampType, get: func(c *Context) ref.Val { return aliasTimestamp(&c.Start) }},
}, "method", "scheme", "host", "path", "query", "headers", "body", "size", "startTime")

var responseDesc = newObjectDesc[responseKind](ResponseType, map[string]fieldDesc{
	"code": {typ: types.IntType, get: responseField(func(r *ResponseInfo) ref.Val {
		if r.Code >= 0 && r.Code < len(statusCodes) {
			return statusCodes[r.Code]
		}
		return types.Int(r.Code)
	})},
	"headers": {typ: types.NewMapType(types.StringType, types.StringType), get: responseField(func(r *ResponseInfo) ref.Val {
		return headerView{h: r.Headers}
	})},
	"size":     {typ: types.IntType, get: responseField(func(r *ResponseInfo) ref.Val { return aliasInt(&r.Size) })},
	"duration": {typ: types.DurationType, get: responseField(func(r *ResponseInfo) ref.Val { return aliasDuration(&r.Duration) })},
	"body": {typ: types.BytesType, get: responseField(func(r *ResponseInfo) ref.Val { return aliasBytes(&r.Body) }),
		isSet: func(c *Context) bool { return c.Response != nil && len(c.Response.Body) > 0 }},
}, "code", "headers", "size", "duration", "body")

var sourceDesc = newObjectDesc[sourceKind](SourceType, map[string]fieldDesc{
	"address": {typ: types.StringType, get: func(c *Context) ref.Val { return aliasString(&c.Source.Address) }},
	"port":    {typ: types.IntType, get: func(c *Context) ref.Val { return types.Int(c.Source.Port) }},
	"identity": {typ: types.StringType, get: func(c *Context) ref.Val { return aliasString(&c.Source.Identity) },
		isSet: func(c *Context) bool { return c.Source.Identity != "" }},
}, "address", "port", "identity")

var backendDesc = newObjectDesc[backendKind](BackendType, map[string]fieldDesc{
	"name":     {typ: types.StringType, get: func(c *Context) ref.Val { return aliasString(&c.Backend.Name) }},
	"endpoint": {typ: types.StringType, get: func(c *Context) ref.Val { return aliasString(&c.Backend.Endpoint) }},
}, "name", "endpoint")

var llmDesc = newObjectDesc[llmKind](LLMType, map[string]fieldDesc{
	"requestModel":     {typ: types.StringType, get: llmField(func(l *LLMInfo) ref.Val { return aliasString(&l.RequestModel) })},
	"responseModel":    {typ: types.StringType, get: llmField(func(l *LLMInfo) ref.Val { return aliasString(&l.ResponseModel) })},
	"promptTokens":     {typ: types.IntType, get: llmField(func(l *LLMInfo) ref.Val { return aliasInt(&l.PromptTokens) })},
	"completionTokens": {typ: types.IntType, get: llmField(func(l *LLMInfo) ref.Val { return aliasInt(&l.CompletionTokens) })},
	"totalTokens":      {typ: types.IntType, get: llmField(func(l *LLMInfo) ref.Val { return aliasInt(&l.TotalTokens) })},
}, "requestModel", "responseModel", "promptTokens", "completionTokens", "totalTokens")
