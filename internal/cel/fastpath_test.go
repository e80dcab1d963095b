package cel

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// fastExprs are shapes the fast path must take, with their variations.
var fastExprs = []string{
	`request.method`,
	`request.headers["user-agent"]`,
	`jwt.sub == "admin" || request.path == "/public"`,
	`request.path.startsWith("/api") && request.method == "POST"`,
	`request.headers.exists(k, k.startsWith("x-"))`,
	`request.path.matches("^/v[0-9]+/")`,
	`request.host.endsWith(".example.com") && !(request.scheme == "https")`,
	`"x-tenant" in request.headers && request.headers["x-tenant"].contains("ac")`,
	`jwt["sub"] != "bob" && route == "default/chat" && gateway != listener`,
	`response.code == 503 || response.headers["content-type"] == "text/plain"`,
	`request.headers["x-missing"] == "a" || true`,
	`request.headers["x-missing"] == "a" && false`,
	`request.headers["x-missing"] == "a" || false`,
	`jwt.exp == 1700000000.0 || jwt.missing == 1`,
	`request.query["q"] == "a b"`,
	`response.headers.exists(h, h == "content-type")`,
	`jwt.exists(c, c.startsWith("s"))`,
	`source.address.startsWith("10.") && llm.requestModel == "gpt-4o"`,
	`json(request.body).model`,
	`json(request.body).model == "gpt-4o" || json(request.body).missing == 1`,
	`json(request.headers["x-tenant"]).a == 1`,
	`request.method in ["GET", "HEAD"]`,
	`jwt.sub in ["admin", 42.0]`,
	`json(request.body)[0] == 1`,
	`request.headers["X-TENANT"] == "acme" || request.headers["x-raw"] == "v"`,
	`request.headers["user-agent"].startsWith("curl") || request.path.endsWith("/")`,
	`request.headers.exists(k, k.contains("ten"))`,
	`request.headers.exists(k, k == "x-raw")`,
	`request.headers.exists(k, k.endsWith("-For"))`,
	`request.headers.exists(k, k.endsWith("-for"))`,
	`request.headers.exists(k, request.headers[k] == "acme")`,
}

func TestFastPathTakesCommonShapes(t *testing.T) {
	env := testEnv(t)
	for _, e := range fastExprs {
		p, err := env.Compile(e, AnyType)
		if err != nil {
			t.Fatalf("%s: %v", e, err)
		}
		if !p.FastPath() {
			t.Errorf("%s: not on the fast path", e)
		}
	}
	for _, e := range []string{`has(request.body)`, `size(request.path) > 2`, `request.method in [request.path]`,
		`request.headers.all(k, k.startsWith("x"))`} {
		p, err := env.Compile(e, AnyType)
		if err != nil {
			t.Fatalf("%s: %v", e, err)
		}
		if p.FastPath() {
			t.Errorf("%s: unexpectedly on the fast path (it has no fast form)", e)
		}
	}
}

// sameResult reports whether the fast path and cel-go agree: both errors, or
// equal values of the same type.
func sameResult(fast, slow ref.Val, fastErr, slowErr error) bool {
	if (fastErr != nil) != (slowErr != nil) {
		return false
	}
	if fastErr != nil {
		return true
	}
	return fast.Type() == slow.Type() && types.Equal(fast, slow) == types.True
}

func randomContext(rng *rand.Rand) *Context {
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	r := httptest.NewRequest(pick("GET", "POST", "PUT"), "http://"+pick("a.example.com", "b.test")+
		pick("/", "/api/x", "/public", "/v1/chat", "/v12/", "/apix")+pick("", "?q=a%20b", "?q=z&q=a%20b"), nil)
	r.Header = http.Header{}
	for i := rng.IntN(5); i > 0; i-- {
		r.Header.Add(pick("User-Agent", "X-Tenant", "Accept", "X-Forwarded-For", "Content-Type", "Y-X"), pick("acme", "curl/8", "text/plain", "", `{"a":1}`))
	}
	if rng.IntN(3) == 0 {
		r.Header["x-raw"] = []string{"v"} // not canonical: only reachable as written
	}
	if rng.IntN(4) == 0 {
		r.Method = ""
	}
	c := &Context{Request: r, Body: []byte(pick(`{"model":"gpt-4o"}`, `{"model":1}`, `[1]`, `not json`, ``)), Gateway: pick("gw", "https"), Listener: pick("https", "http"), Route: pick("default/chat", "x"),
		Source: SourceInfo{Address: pick("10.1.2.3", "192.0.2.1")}}
	switch rng.IntN(3) {
	case 0:
		c.JWT = map[string]any{"sub": pick("admin", "bob"), "exp": float64(rng.IntN(2) + 1699999999)}
	case 1:
		c.JWT = map[string]any{"sub": 42.0}
	}
	if rng.IntN(2) == 0 {
		c.Response = &ResponseInfo{Code: []int{200, 503}[rng.IntN(2)], Headers: http.Header{"Content-Type": {pick("text/plain", "a/b")}}}
	}
	if rng.IntN(2) == 0 {
		c.LLM = &LLMInfo{RequestModel: pick("gpt-4o", "m")}
	}
	return c
}

// TestFastPathMatchesCEL evaluates every fast expression both ways on random
// requests.
func TestFastPathMatchesCEL(t *testing.T) {
	env := testEnv(t)
	rng := rand.New(rand.NewPCG(1, 2))
	progs := make([]*Program, len(fastExprs))
	for i, e := range fastExprs {
		var err error
		if progs[i], err = env.Compile(e, AnyType); err != nil {
			t.Fatal(err)
		}
	}
	results := map[string]map[string]bool{}
	for n := 0; n < 500; n++ {
		c := randomContext(rng)
		for _, p := range progs {
			fast, fastErr := p.Eval(c)
			slow, slowErr := p.evalInterpreted(c)
			if !sameResult(fast, slow, fastErr, slowErr) {
				t.Fatalf("%s on %s %s %v jwt=%v: fast %v (%v), cel-go %v (%v)", p, c.Request.Method, c.Request.URL,
					c.Request.Header, c.JWT, fast, fastErr, slow, slowErr)
			}
			if results[p.expr] == nil {
				results[p.expr] = map[string]bool{}
			}
			results[p.expr][outcome(fast, fastErr)] = true
		}
	}
	// The random requests must exercise more than one outcome of each
	// boolean expression, or the comparison proves little (the x-missing
	// cases check error absorption and "-For" that an upper-case literal
	// never matches lower-case names: one outcome by design).
	for _, p := range progs {
		if p.out == types.BoolType && !strings.Contains(p.expr, "x-missing") && !strings.Contains(p.expr, "-For") && len(results[p.expr]) < 2 {
			t.Errorf("%s: only outcomes %v seen", p, results[p.expr])
		}
	}
}

func outcome(v ref.Val, err error) string {
	if err != nil {
		return "error"
	}
	if b, ok := v.(types.Bool); ok {
		if b {
			return "true"
		}
		return "false"
	}
	return "value"
}

// FuzzFastPathMatchesCEL: for any expression that takes the fast path and any
// request, the fast path and cel-go give the same result.
func FuzzFastPathMatchesCEL(f *testing.F) {
	for i, e := range fastExprs {
		f.Add(e, []string{"GET", "POST"}[i%2], []string{"/api/v1", "/public"}[i%2], "X-Tenant", "acme", "admin")
	}
	f.Add(`request.headers[request.method] == "x" || request.path.contains("\x00")`, "Get", "/\x00", "get", "x", "")
	env := testEnv(f)
	f.Fuzz(func(t *testing.T, expr, method, path, hname, hvalue, sub string) {
		p, err := env.Compile(expr, AnyType)
		if err != nil || !p.FastPath() {
			return
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Method, r.URL.Path = method, path
		r.Header = http.Header{hname: {hvalue}}
		c := &Context{Request: r, JWT: map[string]any{"sub": sub}}
		fast, fastErr := p.Eval(c)
		slow, slowErr := p.evalInterpreted(c)
		if !sameResult(fast, slow, fastErr, slowErr) {
			t.Fatalf("%s: fast %v (%v), cel-go %v (%v)", expr, fast, fastErr, slow, slowErr)
		}
	})
}
