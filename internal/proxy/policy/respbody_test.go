package policy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"gatehouse.dev/gatehouse/internal/cel"
	"gatehouse.dev/gatehouse/internal/ir"
)

// replaceBody runs an upstream that answers code, headers and body chunks
// through a BodyReplacer with expression expr and returns what the client got.
func replaceBody(t *testing.T, expr, method string, code int, hdr map[string]string, chunks ...string) *http.Response {
	t.Helper()
	s := build(t, &ir.Policy{Name: "ns/p", Targets: []ir.PolicyTarget{{Kind: ir.TargetRoute, Name: "ns/r"}},
		ResponseHeaders: &ir.CELTransform{Body: expr}})
	prog := s.ForRequest("ns/gw", "l", "ns/r", "ns/r/0", nil).ResponseBody()
	if prog == nil {
		t.Fatal("no response body expression found")
	}
	req := httptest.NewRequest(method, "/x", nil)
	req.Header.Set("User-Agent", "tester")
	rec := httptest.NewRecorder()
	br := NewBodyReplacer(rec, &cel.Context{Request: req}, prog, 16)
	for k, v := range hdr {
		br.Header().Set(k, v)
	}
	br.WriteHeader(code)
	for _, c := range chunks {
		if n, err := br.Write([]byte(c)); err != nil || n != len(c) {
			t.Fatalf("Write(%q) = %d, %v", c, n, err)
		}
		br.Flush()
	}
	br.Finish()
	return rec.Result()
}

func bodyOf(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestResponseBodyReplacedFromRequestAndStatus(t *testing.T) {
	res := replaceBody(t, `"status " + string(response.code) + " for " + request.headers["user-agent"] + " " + response.headers["x-up"]`,
		"GET", 503, map[string]string{"X-Up": "u1", "Content-Encoding": "gzip", "ETag": `"v1"`, "Content-Length": "9"}, "upstream!")
	if got := bodyOf(t, res); got != "status 503 for tester u1" {
		t.Errorf("body = %q", got)
	}
	if res.StatusCode != 503 {
		t.Errorf("status = %d, want the upstream's 503", res.StatusCode)
	}
	if res.Header.Get("Content-Encoding") != "" || res.Header.Get("Etag") != "" {
		t.Errorf("Content-Encoding/ETag kept on a replaced body: %v", res.Header)
	}
	if got := res.Header.Get("Content-Length"); got != "24" {
		t.Errorf("Content-Length = %q, want 24", got)
	}
}

func TestResponseBodyReadsUpstreamBody(t *testing.T) {
	res := replaceBody(t, `b"[" + response.body + b"]"`, "GET", 200, map[string]string{"ETag": `"v1"`}, "ab", "cd")
	if got := bodyOf(t, res); got != "[abcd]" {
		t.Errorf("body = %q, want [abcd]", got)
	}
	if res.Header.Get("Etag") != "" || res.Header.Get("Content-Length") != "6" {
		t.Errorf("headers = %v", res.Header)
	}
	res = replaceBody(t, `json(response.body).name`, "GET", 200, nil, `{"name":`, `"n1"}`)
	if got := bodyOf(t, res); got != "n1" {
		t.Errorf("json body = %q, want n1", got)
	}
}

func TestResponseBodyUnchanged(t *testing.T) {
	for _, tc := range []struct {
		name, expr, method string
		code               int
		hdr                map[string]string
		chunks             []string
	}{
		{"runtime error", `request.headers["missing"]`, "GET", 200, nil, []string{"orig"}},
		{"runtime error after buffering", `json(response.body).name`, "GET", 200, nil, []string{"not ", "json"}},
		{"over the cap", `response.body + b"!"`, "GET", 200, nil, []string{"0123456789", "0123456789"}},
		{"over the cap by Content-Length", `response.body + b"!"`, "GET", 200, map[string]string{"Content-Length": "20"}, []string{"01234567890123456789"}},
		{"HEAD", `"new"`, "HEAD", 200, nil, nil},
		{"no content", `"new"`, "GET", 204, nil, nil},
		{"not modified", `"new"`, "GET", 304, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := replaceBody(t, tc.expr, tc.method, tc.code, tc.hdr, tc.chunks...)
			if got, want := bodyOf(t, res), strings.Join(tc.chunks, ""); got != want {
				t.Errorf("body = %q, want the upstream's %q", got, want)
			}
			if res.StatusCode != tc.code {
				t.Errorf("status = %d, want %d", res.StatusCode, tc.code)
			}
		})
	}
}

func TestResponseBodyInformationalPassesThrough(t *testing.T) {
	s := build(t, &ir.Policy{Name: "ns/p", Targets: []ir.PolicyTarget{{Kind: ir.TargetRoute, Name: "ns/r"}},
		ResponseHeaders: &ir.CELTransform{Body: `"new"`}})
	prog := s.ForRequest("", "", "ns/r", "", nil).ResponseBody()
	rec := httptest.NewRecorder()
	br := NewBodyReplacer(rec, &cel.Context{Request: httptest.NewRequest("GET", "/", nil)}, prog, 16)
	br.WriteHeader(http.StatusEarlyHints)
	_, _ = br.Write([]byte("old"))
	br.Finish()
	// (The recorder keeps the first status it saw, the 103.)
	if rec.Body.String() != "new" {
		t.Errorf("body %q, want \"new\": a 103 must not count as the final status", rec.Body.String())
	}
}

func TestResponseBodyMustBeStringOrBytes(t *testing.T) {
	_, rej := Empty.Update([]*ir.Policy{{Name: "ns/p", Targets: []ir.PolicyTarget{{Kind: ir.TargetRoute, Name: "ns/r"}},
		ResponseHeaders: &ir.CELTransform{Body: `response.code + 1`}}}, nil)
	if len(rej) != 1 || !strings.Contains(rej[0].Reason, "string or bytes") {
		t.Fatalf("rejections = %v, want one naming string or bytes", rej)
	}
}

func TestNoResponseBodyExpression(t *testing.T) {
	s := build(t, &ir.Policy{Name: "ns/p", Targets: []ir.PolicyTarget{{Kind: ir.TargetRoute, Name: "ns/r"}},
		ResponseHeaders: &ir.CELTransform{Set: []ir.CELHeader{{Name: "x-a", Expr: `"1"`}}},
		RequestHeaders:  &ir.CELTransform{Body: `"req"`}})
	if s.ForRequest("", "", "ns/r", "", nil).ResponseBody() != nil {
		t.Errorf("a response body expression was found where only a request body and response headers are set")
	}
}

// TestSetHeadersShareNoValues: the values set by one transformation share a
// backing array; a later append to one header must not change another.
func TestSetHeadersShareNoValues(t *testing.T) {
	var set []ir.CELHeader
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		set = append(set, ir.CELHeader{Name: "x-" + n, Expr: `"` + n + `"`})
	}
	s := build(t, &ir.Policy{Name: "ns/p", Targets: []ir.PolicyTarget{{Kind: ir.TargetRoute, Name: "ns/r"}},
		RequestHeaders: &ir.CELTransform{Set: set}})
	r := httptest.NewRequest("GET", "/", nil)
	s.ForRequest("", "", "ns/r", "", nil).TransformRequest(&cel.Context{Request: r}, r)
	r.Header.Add("X-A", "more")
	for _, h := range set {
		want := strings.TrimPrefix(h.Name, "x-")
		if got := r.Header.Values(h.Name); got[0] != want || (h.Name != "x-a" && len(got) != 1) {
			t.Errorf("%s = %v, want [%s]", h.Name, got, want)
		}
	}
}
