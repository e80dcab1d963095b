package cel

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func testEnv(t testing.TB) *Env {
	t.Helper()
	env, err := NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func testContext() *Context {
	r := httptest.NewRequest(http.MethodPost, "https://api.example.com/v1/chat?stream=true&q=a%20b&q=second", strings.NewReader("x"))
	r.Header.Set("User-Agent", "curl/8")
	r.Header.Add("X-Multi", "a")
	r.Header.Add("X-Multi", "b")
	r.Header.Set("X-Tenant", "acme")
	return &Context{
		Request:  r,
		Body:     []byte(`{"model":"gpt-4o","max_tokens":100,"messages":[{"role":"user"}],"meta":null}`),
		Response: &ResponseInfo{Code: 503, Headers: http.Header{"Content-Type": {"text/plain"}}, Size: 42, Duration: 1500 * time.Millisecond},
		Source:   SourceInfo{Address: "10.1.2.3", Port: 40000, Identity: "spiffe://cluster/ns/a/sa/b"},
		JWT:      map[string]any{"sub": "admin", "groups": []any{"ops", "dev"}, "exp": float64(1700000000), "org": map[string]any{"id": "o1"}},
		Backend:  BackendInfo{Name: "llm-pool", Endpoint: "10.0.0.9:8080"},
		Gateway:  "gw", Listener: "https", Route: "default/chat",
		LLM:   &LLMInfo{RequestModel: "gpt-4o", ResponseModel: "gpt-4o-2024", PromptTokens: 12, CompletionTokens: 34, TotalTokens: 46},
		Start: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func TestEvalVariablesAndFunctions(t *testing.T) {
	env := testEnv(t)
	tests := []struct {
		expr string
		want any // Go value compared with the CEL result's Value()
	}{
		{`request.method`, "POST"},
		{`request.scheme`, "https"},
		{`request.host`, "api.example.com"},
		{`request.path`, "/v1/chat"},
		{`request.query["stream"]`, "true"},
		{`request.query["q"]`, "a b"}, // first value, unescaped
		{`"missing" in request.query`, false},
		{`request.headers["user-agent"]`, "curl/8"},
		{`request.headers["USER-AGENT"]`, "curl/8"},
		{`request.headers["x-multi"]`, "a,b"},
		{`"x-tenant" in request.headers`, true},
		{`request.headers.exists(k, k == "x-tenant")`, true},
		{`request.headers.all(k, k == k.lowerAscii())`, true},
		{`size(request.headers)`, int64(3)},
		{`string(request.body).startsWith("{")`, true},
		{`has(request.body)`, true},
		{`request.size`, int64(1)},
		{`request.startTime == timestamp("2026-01-02T03:04:05Z")`, true},
		{`response.code`, int64(503)},
		{`response.headers["content-type"]`, "text/plain"},
		{`response.size`, int64(42)},
		{`response.duration == duration("1.5s")`, true},
		{`source.address`, "10.1.2.3"},
		{`source.port`, int64(40000)},
		{`source.identity.endsWith("/sa/b")`, true},
		{`jwt.sub`, "admin"},
		{`"ops" in jwt.groups`, true},
		{`jwt.exp > 1600000000`, true},
		{`jwt.org.id`, "o1"},
		{`backend.name + "@" + backend.endpoint`, "llm-pool@10.0.0.9:8080"},
		{`gateway + "/" + listener + "/" + route`, "gw/https/default/chat"},
		{`llm.requestModel`, "gpt-4o"},
		{`llm.responseModel`, "gpt-4o-2024"},
		{`llm.promptTokens + llm.completionTokens`, int64(46)},
		{`json(request.body).model`, "gpt-4o"},
		{`json(request.body).max_tokens == 100`, true},
		{`json('{"a":[1,2]}').a[1]`, float64(2)},
		{`toJson({"a": 1, "b": [true, null]})`, `{"a":1,"b":[true,null]}`},
		{`toJson(jwt.org)`, `{"id":"o1"}`},
		{`toJson(llm)`, `{"completionTokens":34,"promptTokens":12,"requestModel":"gpt-4o","responseModel":"gpt-4o-2024","totalTokens":46}`},
		{`llm.totalTokens`, int64(46)},
		{`base64.encode(b"hello")`, "aGVsbG8="},
		{`string(base64.decode("aGVsbG8="))`, "hello"},
		{`sha256("abc")`, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{`sha256(b"abc") == sha256("abc")`, true},
		{`regexReplace(request.path, "^/v([0-9]+)/", "/version-$1/")`, "/version-1/chat"},
		{`regexReplace("a-b", request.headers["x-tenant"] == "acme" ? "-" : "x", "+")`, "a+b"}, // non-literal pattern
		{`request.path.matches("^/v[0-9]+/")`, true},
		{`default(request.headers["x-missing"], "none")`, "none"},
		{`default(request.headers["x-tenant"], "none")`, "acme"},
		{`default(json(request.body).nope, "unknown")`, "unknown"},
		{`default(json(request.body).meta, "was-null")`, "was-null"},
		{`default(json("not json").model, "bad-json")`, "bad-json"},
		{`request.headers[?"x-missing"].orValue("opt")`, "opt"},
		{`cidr("10.0.0.0/8").containsIP(source.address)`, true},
		{`cidr("10.0.0.0/8").containsIP(ip("192.168.0.1"))`, false},
		{`ip(source.address).isPrivate()`, true},
		{`ip("8.8.8.8").isPrivate()`, false},
		{`"GATE".lowerAscii()`, "gate"},                           // ext.Strings
		{`math.greatest(1, 5, 3)`, int64(5)},                      // ext.Math
		{`[3, 1, 2].sort()`, []any{int64(1), int64(2), int64(3)}}, // ext.Lists
		{`sets.contains([1, 2, 3], [2])`, true},                   // ext.Sets
	}
	ctx := testContext()
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			prg, err := env.Compile(tc.expr, AnyType)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got, err := prg.Eval(ctx)
			if err != nil {
				t.Fatalf("Eval: %v", err)
			}
			if want, ok := tc.want.([]any); ok {
				gotList, err := got.ConvertToNative(typeOfAnySlice)
				if err != nil || len(gotList.([]any)) != len(want) {
					t.Fatalf("got %v, want %v", got, want)
				}
				for i := range want {
					if gotList.([]any)[i] != want[i] {
						t.Fatalf("got %v, want %v", got, want)
					}
				}
				return
			}
			if got.Value() != tc.want {
				t.Errorf("got %v (%T), want %v (%T)", got.Value(), got.Value(), tc.want, tc.want)
			}
		})
	}
}

func TestEvalHelpers(t *testing.T) {
	env := testEnv(t)
	ctx := testContext()
	p, err := env.Compile(`request.path.startsWith("/v1") && request.method == "POST"`, BoolType)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := p.EvalBool(ctx); err != nil || !ok {
		t.Fatalf("EvalBool = %v, %v", ok, err)
	}
	s, err := env.Compile(`request.headers["x-tenant"]`, StringType)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.EvalString(ctx); err != nil || got != "acme" {
		t.Fatalf("EvalString = %q, %v", got, err)
	}
	// dyn is accepted at compile time and checked at evaluation.
	d, err := env.Compile(`json(request.body).max_tokens`, StringType)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.EvalString(ctx); err == nil || !strings.Contains(err.Error(), "want string") {
		t.Fatalf("EvalString of a double: err = %v", err)
	}
}

func TestRuntimeErrors(t *testing.T) {
	env := testEnv(t)
	tests := []struct {
		expr, ctxKind, wantErr string
	}{
		{`request.headers["x-missing"]`, "full", "no such key: x-missing"},
		{`request.query["nope"]`, "full", "no such key: nope"},
		{`jwt.missing`, "full", "no such key: missing"},
		{`jwt.sub`, "empty", "no such key: sub"},
		{`json(request.body).model`, "badjson", "json: invalid character"},
		{`json(request.body)`, "empty", "json: unexpected end of JSON input"},
		{`response.code == 200`, "empty", "response is not available"},
		{`llm.requestModel`, "empty", "llm is not available"},
		{`request.method`, "empty", "request is not available"},
		{`regexReplace("a", request.headers["x-tenant"] + "(", "b")`, "full", "regexReplace: error parsing regexp"},
		{`toJson(request.headers["x-missing"])`, "full", "no such key"},
	}
	for _, tc := range tests {
		t.Run(tc.expr+"/"+tc.ctxKind, func(t *testing.T) {
			prg, err := env.Compile(tc.expr, AnyType)
			if err != nil {
				t.Fatal(err)
			}
			ctx := &Context{}
			switch tc.ctxKind {
			case "full":
				ctx = testContext()
			case "badjson":
				ctx = testContext()
				ctx.Body = []byte("<html>")
			}
			_, err = prg.Eval(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
			}
		})
	}
	if _, err := (&Program{}).Eval(nil); err == nil {
		t.Fatal("Eval(nil) did not fail")
	}
}

func TestCompileErrors(t *testing.T) {
	env := testEnv(t)
	tests := []struct {
		expr      string
		want      OutputType
		line, col int
		msg       string
	}{
		{`request.method == "GET" && reqest.path == "/"`, BoolType, 1, 28, "undeclared reference to 'reqest'"},
		{"request.method == \"GET\" &&\n  request.nope", BoolType, 2, 10, "undefined field 'nope'"},
		{`request.method == 1`, BoolType, 1, 16, "found no matching overload for '_==_'"},
		{`request.method ==`, BoolType, 1, 18, "Syntax error"},
		{`request.method`, BoolType, 1, 1, "expression must evaluate to bool, got string"},
		{`json(1)`, AnyType, 1, 5, "found no matching overload for 'json'"},
		{`regexReplace(request.path, "(", "x")`, StringType, 1, 1, "error parsing regexp"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := env.Compile(tc.expr, tc.want)
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v (%T), want *CompileError", err, err)
			}
			if len(ce.Issues) == 0 {
				t.Fatalf("no issues in %v", ce)
			}
			is := ce.Issues[0]
			if is.Line != tc.line || is.Column != tc.col || !strings.Contains(is.Message, tc.msg) {
				t.Errorf("issue = %d:%d %q, want %d:%d containing %q", is.Line, is.Column, is.Message, tc.line, tc.col, tc.msg)
			}
			if !strings.Contains(ce.Error(), tc.msg) {
				t.Errorf("Error() = %q", ce.Error())
			}
		})
	}
	_, err := env.Compile(`reqest.method`, AnyType)
	if got := err.Error(); !strings.HasPrefix(got, "ERROR: <input>:1:1: undeclared reference to 'reqest'") {
		t.Errorf("message = %q", got)
	}
}

func TestUses(t *testing.T) {
	env := testEnv(t)
	tests := []struct {
		expr string
		want Uses
	}{
		{`request.method == "GET"`, Uses{}},
		{`json(request.body).model`, Uses{RequestBody: true}},
		{`default(json(request.body).model, "x") == "y"`, Uses{RequestBody: true}},
		{`size(request.body) > 10`, Uses{RequestBody: true}},
		{`toJson(request)`, Uses{RequestBody: true}},
		{`response.code == 200`, Uses{Response: true}},
		{`response.headers["x"] == "1"`, Uses{Response: true, ResponseHeaders: true}},
		{`size(response.body) > 0`, Uses{Response: true, ResponseBody: true}},
		{`jwt.sub == "a"`, Uses{JWT: true}},
		{`llm.promptTokens > 10`, Uses{LLM: true}},
		{`backend.name == "b"`, Uses{Backend: true}},
		{`[1].exists(x, x == 1) && route == "r"`, Uses{}},
	}
	for _, tc := range tests {
		prg, err := env.Compile(tc.expr, AnyType)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		if got := prg.Uses(); got != tc.want {
			t.Errorf("%s: Uses() = %+v, want %+v", tc.expr, got, tc.want)
		}
	}
	if got := (Uses{JWT: true}).Merge(Uses{RequestBody: true}); got != (Uses{JWT: true, RequestBody: true}) {
		t.Errorf("Merge = %+v", got)
	}
}

func TestCostEstimate(t *testing.T) {
	env := testEnv(t)
	cheap, err := env.Compile(`request.method == "GET"`, BoolType)
	if err != nil {
		t.Fatal(err)
	}
	if lo, hi := cheap.CostEstimate(); lo == 0 || hi > 10 || cheap.CostLimited() {
		t.Errorf("cheap: estimate %d..%d limited=%v", lo, hi, cheap.CostLimited())
	}
	// A nested comprehension over a parsed body has no static bound.
	costly, err := env.Compile(`json(request.body).messages.all(m, json(request.body).messages.exists(n, n == m))`, BoolType)
	if err != nil {
		t.Fatal(err)
	}
	if _, hi := costly.CostEstimate(); hi <= costTrackingThreshold || !costly.CostLimited() {
		t.Errorf("costly: max %d limited=%v", hi, costly.CostLimited())
	}
	// The runtime limit stops a runaway evaluation.
	ctx := testContext()
	many := make([]string, 3000)
	for i := range many {
		many[i] = `{"role":"user"}`
	}
	ctx.Body = []byte(`{"messages":[` + strings.Join(many, ",") + `]}`)
	runaway, err := env.Compile(`json(request.body).messages.all(m, json(request.body).messages.all(n, n == m))`, BoolType)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runaway.Eval(ctx); err == nil || !strings.Contains(err.Error(), "cost limit") {
		t.Fatalf("runaway: err = %v, want cost limit", err)
	}
}

func TestJSONMemoized(t *testing.T) {
	env := testEnv(t)
	a, _ := env.Compile(`json(request.body).model`, AnyType)
	b, _ := env.Compile(`json(request.body).max_tokens > 10 && json(request.body).model != ""`, AnyType)
	c, _ := env.Compile(`json('{"k":1}').k`, AnyType)
	ctx := testContext()
	for _, p := range []*Program{a, b, a, b} {
		if _, err := p.Eval(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if ctx.jsonParses != 1 {
		t.Fatalf("body parsed %d times, want 1", ctx.jsonParses)
	}
	_, _ = c.Eval(ctx)
	if ctx.jsonParses != 2 {
		t.Fatalf("non-body json parsed %d times in total, want 2", ctx.jsonParses)
	}
	// A reset Context (the next request) parses its own body.
	body := []byte(`{"model":"other"}`)
	ctx.Reset()
	ctx.Body = body
	if got, err := a.EvalString(ctx); err != nil || got != "other" {
		t.Fatalf("after Reset: %q, %v", got, err)
	}
	if ctx.jsonParses != 1 {
		t.Fatalf("after Reset: %d parses", ctx.jsonParses)
	}
}

func TestZeroAllocAccess(t *testing.T) {
	env := testEnv(t)
	ctx := testContext()
	for _, expr := range []string{
		`request.method`, `request.path`, `request.host`, `request.headers["user-agent"]`,
		`request.headers["X-Tenant"] == "acme"`, `jwt.sub == "admin" || request.path == "/public"`,
		`request.path.startsWith("/api") && request.method == "POST"`, `response.code == 200`,
		`source.address`, `gateway`, `size(request.body) > 0`,
	} {
		prg, err := env.Compile(expr, AnyType)
		if err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(200, func() {
			if _, err := prg.Eval(ctx); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %.1f allocs per eval, want 0", expr, allocs)
		}
	}
}

func TestConcurrentEval(t *testing.T) {
	env := testEnv(t)
	prg, err := env.Compile(`request.headers["x-id"] + ":" + json(request.body).model + ":" + request.path`, StringType)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ctx Context
			for i := 0; i < 200; i++ {
				id := string(rune('a'+g)) + string(rune('0'+i%10))
				r := httptest.NewRequest(http.MethodGet, "/p/"+id, nil)
				r.Header.Set("X-Id", id)
				ctx.Reset()
				ctx.Request = r
				ctx.Body = []byte(`{"model":"m-` + id + `"}`)
				got, err := prg.EvalString(&ctx)
				if want := id + ":m-" + id + ":/p/" + id; err != nil || got != want {
					t.Errorf("got %q, %v; want %q", got, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestContextReset(t *testing.T) {
	ctx := testContext()
	ctx.ResolveFunction(jsonFunc)
	ctx.Reset()
	if ctx.Request != nil || ctx.Body != nil || ctx.JWT != nil || ctx.Gateway != "" || ctx.bodyParsed {
		t.Fatalf("Reset left state: %+v", ctx)
	}
	if ctx.jsonFn == nil {
		t.Fatal("Reset dropped the bound json function")
	}
	if v, ok := ctx.ResolveName("nope"); ok || v != nil {
		t.Fatal("unknown variable resolved")
	}
	if v, _ := ctx.ResolveName("request"); v.(objectVal).Type() != RequestType {
		t.Fatal("request did not resolve to gatehouse.Request")
	}
}
