package cel

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Each benchmark case runs the CEL program and a hand-written Go equivalent in
// the same invocation; the CEL sub-benchmark reports its ratio to the Go one
// as "x-native".

var (
	sinkBool   bool
	sinkString string
	sinkAny    any
)

// benchBody is a ~2 KB OpenAI-style chat request.
var benchBody = func() []byte {
	type msg struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	req := struct {
		Model       string  `json:"model"`
		Messages    []msg   `json:"messages"`
		Temperature float64 `json:"temperature"`
		MaxTokens   int     `json:"max_tokens"`
		Stream      bool    `json:"stream"`
	}{Model: "gpt-4o-mini", Temperature: 0.2, MaxTokens: 512}
	req.Messages = append(req.Messages, msg{"system", "You are a helpful assistant that answers briefly."})
	for i := 0; len(req.Messages) < 12; i++ {
		req.Messages = append(req.Messages, msg{"user", strings.Repeat("Tell me about gateways and routing. ", 4)})
	}
	b, _ := json.Marshal(req)
	return b
}()

func benchRequest() *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://api.example.com/api/v1/chat/completions?stream=false", nil)
	for k, v := range map[string]string{
		"User-Agent":      "Mozilla/5.0 (X11; Linux x86_64) gatehouse-bench",
		"Accept":          "application/json",
		"Accept-Encoding": "gzip, deflate, br",
		"Authorization":   "Bearer abc.def.ghi",
		"Content-Type":    "application/json",
		"Cookie":          "session=1234",
		"X-Request-Id":    "5f3c1b2a-9d8e-4f7a-b6c5-d4e3f2a1b0c9",
		"X-Forwarded-For": "203.0.113.7",
		"Traceparent":     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	} {
		r.Header.Set(k, v)
	}
	return r
}

func benchContext() *Context {
	return &Context{
		Request: benchRequest(),
		Body:    benchBody,
		JWT:     map[string]any{"sub": "user-42", "iss": "https://issuer.example.com", "aud": "gatehouse"},
		Source:  SourceInfo{Address: "203.0.113.7", Port: 51234},
		Start:   time.Unix(1700000000, 0),
	}
}

var pathVersion = regexp.MustCompile(`^/v[0-9]+/`)

type benchCase struct {
	name   string
	expr   string
	native func(c *Context)
	// fresh evaluates each iteration against a reset Context (json memo cold).
	fresh bool
}

var benchCases = []benchCase{
	{name: "method", expr: `request.method`,
		native: func(c *Context) { sinkString = c.Request.Method }},
	{name: "header", expr: `request.headers["user-agent"]`,
		native: func(c *Context) { sinkString = c.Request.Header.Get("user-agent") }},
	{name: "jwt_or_path", expr: `jwt.sub == "admin" || request.path == "/public"`,
		native: func(c *Context) { sinkBool = c.JWT["sub"] == "admin" || c.Request.URL.Path == "/public" }},
	{name: "prefix_and_method", expr: `request.path.startsWith("/api") && request.method == "POST"`,
		native: func(c *Context) {
			sinkBool = strings.HasPrefix(c.Request.URL.Path, "/api") && c.Request.Method == http.MethodPost
		}},
	{name: "headers_exists", expr: `request.headers.exists(k, k.startsWith("x-"))`,
		native: func(c *Context) {
			found := false
			for k := range c.Request.Header {
				if len(k) >= 2 && k[0]|0x20 == 'x' && k[1] == '-' {
					found = true
					break
				}
			}
			sinkBool = found
		}},
	{name: "regex", expr: `request.path.matches("^/v[0-9]+/")`,
		native: func(c *Context) { sinkBool = pathVersion.MatchString(c.Request.URL.Path) }},
	{name: "json_model_cold", expr: `json(request.body).model`, fresh: true,
		native: func(c *Context) {
			var m map[string]any
			if json.Unmarshal(c.Body, &m) == nil {
				sinkString, _ = m["model"].(string)
			}
		}},
	{name: "json_model_memoized", expr: `json(request.body).model`,
		native: func(c *Context) {
			// A proxy that parsed the body once and kept the map.
			if m, ok := sinkAny.(map[string]any); ok {
				sinkString, _ = m["model"].(string)
			}
		}},
}

// nativeNsPerOp records the last (largest-N) run of each native baseline; the
// native sub-benchmark always runs right before its CEL counterpart.
var nativeNsPerOp = map[string]float64{}

func runNative(b *testing.B, bc benchCase) {
	c := benchContext()
	if bc.name == "json_model_memoized" {
		var m map[string]any
		_ = json.Unmarshal(c.Body, &m)
		sinkAny = m
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		bc.native(c)
	}
	nativeNsPerOp[bc.name] = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
}

func BenchmarkExpr(b *testing.B) {
	env, err := NewEnv()
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range benchCases {
		prg, err := env.Compile(bc.expr, AnyType)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name+"/native", func(b *testing.B) { runNative(b, bc) })
		b.Run(bc.name+"/cel", func(b *testing.B) {
			c := benchContext()
			req, body, claims := c.Request, c.Body, c.JWT
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if bc.fresh {
					c.Reset()
					c.Request, c.Body, c.JWT = req, body, claims
				}
				v, err := prg.Eval(c)
				if err != nil {
					b.Fatal(err)
				}
				sinkAny = v
			}
			b.StopTimer()
			if base := nativeNsPerOp[bc.name]; base > 0 {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/base, "x-native")
			}
		})
	}
}

// BenchmarkContextSetup measures what a proxy pays per request to prepare a
// pooled Context: Reset plus pointing it at the request.
func BenchmarkContextSetup(b *testing.B) {
	r := benchRequest()
	claims := map[string]any{"sub": "a"}
	pool := sync.Pool{New: func() any { return new(Context) }}
	b.ReportAllocs()
	for b.Loop() {
		c := pool.Get().(*Context)
		c.Reset()
		c.Request = r
		c.JWT = claims
		c.Source = SourceInfo{Address: "203.0.113.7", Port: 51234}
		c.Gateway, c.Listener, c.Route = "gw", "http", "default/r1"
		c.Start = time.Time{}
		pool.Put(c)
	}
}
