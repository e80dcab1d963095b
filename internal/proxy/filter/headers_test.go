package filter

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"gatehouse.dev/gatehouse/internal/ir"
)

func TestHeaderModifier(t *testing.T) {
	tests := []struct {
		name string
		mod  ir.HeaderModifier
		in   http.Header
		want http.Header
	}{
		{
			name: "set replaces every value, name case-insensitive",
			mod:  ir.HeaderModifier{Set: []ir.Header{{Name: "my-HEADER", Value: "bar"}}},
			in:   http.Header{"My-Header": {"foo", "baz"}},
			want: http.Header{"My-Header": {"bar"}},
		},
		{
			name: "add appends to the existing value with a comma",
			mod:  ir.HeaderModifier{Add: []ir.Header{{Name: "my-header", Value: "bar,baz"}}},
			in:   http.Header{"My-Header": {"foo"}},
			want: http.Header{"My-Header": {"foo,bar,baz"}},
		},
		{
			name: "add creates an absent header",
			mod:  ir.HeaderModifier{Add: []ir.Header{{Name: "x-new", Value: "1"}}},
			in:   http.Header{},
			want: http.Header{"X-New": {"1"}},
		},
		{
			name: "add keeps Set-Cookie values on separate lines",
			mod:  ir.HeaderModifier{Add: []ir.Header{{Name: "set-cookie", Value: "b=2"}}},
			in:   http.Header{"Set-Cookie": {"a=1"}},
			want: http.Header{"Set-Cookie": {"a=1", "b=2"}},
		},
		{
			name: "remove deletes case-insensitively and leaves others",
			mod:  ir.HeaderModifier{Remove: []string{"my-header1", "MY-HEADER3"}},
			in:   http.Header{"My-Header1": {"foo"}, "My-Header2": {"bar"}, "My-Header3": {"baz"}},
			want: http.Header{"My-Header2": {"bar"}},
		},
		{
			name: "remove runs before set, so set wins",
			mod: ir.HeaderModifier{
				Remove: []string{"x-a"},
				Set:    []ir.Header{{Name: "x-a", Value: "set"}},
			},
			in:   http.Header{"X-A": {"old"}},
			want: http.Header{"X-A": {"set"}},
		},
		{
			name: "set runs before add",
			mod: ir.HeaderModifier{
				Set: []ir.Header{{Name: "x-a", Value: "s"}},
				Add: []ir.Header{{Name: "x-a", Value: "a"}},
			},
			in:   http.Header{"X-A": {"old"}},
			want: http.Header{"X-A": {"s,a"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reqChain, err := Compile([]ir.Filter{{Type: ir.FilterRequestHeaders, RequestHeaders: &tt.mod}})
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.Header = tt.in.Clone()
			if reqChain.Request(httptest.NewRecorder(), r, MatchInfo{}) {
				t.Fatal("header modifier answered the request")
			}
			if !reflect.DeepEqual(r.Header, tt.want) {
				t.Errorf("request headers = %v, want %v", r.Header, tt.want)
			}

			respChain, err := Compile([]ir.Filter{{Type: ir.FilterResponseHeaders, ResponseHeaders: &tt.mod}})
			if err != nil {
				t.Fatal(err)
			}
			h := tt.in.Clone()
			respChain.Response(h, r)
			if !reflect.DeepEqual(h, tt.want) {
				t.Errorf("response headers = %v, want %v", h, tt.want)
			}
		})
	}
}

func TestResponseModifierDoesNotTouchRequest(t *testing.T) {
	c, err := Compile([]ir.Filter{{Type: ir.FilterResponseHeaders, ResponseHeaders: &ir.HeaderModifier{
		Set: []ir.Header{{Name: "x-resp", Value: "1"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	c.Request(httptest.NewRecorder(), r, MatchInfo{})
	if r.Header.Get("X-Resp") != "" {
		t.Error("response filter modified the request")
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name    string
		filters []ir.Filter
		want    string
	}{
		{"missing config", []ir.Filter{{Type: ir.FilterRedirect}}, "filters[0] (RequestRedirect): the field named by type is not set"},
		{"unknown type", []ir.Filter{{Type: "ExtensionRef"}}, `filters[0] (ExtensionRef): unsupported filter type "ExtensionRef"`},
		{"bad header name", []ir.Filter{
			{Type: ir.FilterMirror, Mirror: &ir.Mirror{Percent: 100}},
			{Type: ir.FilterRequestHeaders, RequestHeaders: &ir.HeaderModifier{Set: []ir.Header{{Name: "bad name", Value: "x"}}}},
		}, `filters[1] (RequestHeaderModifier): set[0]: "bad name" is not a valid header name`},
		{"bad status", []ir.Filter{{Type: ir.FilterRedirect, Redirect: &ir.Redirect{StatusCode: 200}}},
			"filters[0] (RequestRedirect): statusCode 200 is not supported (want 301, 302, 303, 307 or 308)"},
		{"bad scheme", []ir.Filter{{Type: ir.FilterRedirect, Redirect: &ir.Redirect{Scheme: "ftp"}}},
			`filters[0] (RequestRedirect): scheme "ftp" is not supported (want http or https)`},
		{"bad path type", []ir.Filter{{Type: ir.FilterRewrite, Rewrite: &ir.Rewrite{Path: &ir.PathModifier{Type: "Regex"}}}},
			`filters[0] (URLRewrite): path: unsupported type "Regex" (want ReplaceFullPath or ReplacePrefixMatch)`},
		{"bad origin", []ir.Filter{{Type: ir.FilterCORS, CORS: &ir.CORS{AllowOrigins: []string{"example.com"}}}},
			`filters[0] (CORS): allowOrigins[0]: "example.com" is not <scheme>://<host>[:<port>] with scheme http or https`},
		{"bad mirror percent", []ir.Filter{{Type: ir.FilterMirror, Mirror: &ir.Mirror{Percent: 101}}},
			"filters[0] (RequestMirror): percent 101 is outside 0..100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Compile(tt.filters)
			if err == nil {
				t.Fatalf("Compile succeeded, want error %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
			if c != nil {
				t.Error("Compile returned a chain with an error")
			}
		})
	}
}

func TestNilChainDoesNothing(t *testing.T) {
	var c *Chain
	r := httptest.NewRequest("GET", "/a", nil)
	w := httptest.NewRecorder()
	if c.Request(w, r, MatchInfo{}) {
		t.Error("nil chain answered")
	}
	h := http.Header{}
	c.Response(h, r)
	if len(h) != 0 || c.Mirrors() != nil {
		t.Error("nil chain changed headers or has mirrors")
	}
	empty, err := Compile(nil)
	if err != nil || empty != nil {
		t.Errorf("Compile(nil) = %v, %v; want nil, nil", empty, err)
	}
}

func TestMirrorsAndOrder(t *testing.T) {
	c, err := Compile([]ir.Filter{
		{Type: ir.FilterMirror, Mirror: &ir.Mirror{Backend: ir.BackendRef{Backend: "a"}, Percent: 100}},
		{Type: ir.FilterRequestHeaders, RequestHeaders: &ir.HeaderModifier{Set: []ir.Header{{Name: "x", Value: "1"}}}},
		{Type: ir.FilterRedirect, Redirect: &ir.Redirect{Hostname: "other.example"}},
		// Runs only if the redirect did not answer; it must not run.
		{Type: ir.FilterRequestHeaders, RequestHeaders: &ir.HeaderModifier{Set: []ir.Header{{Name: "y", Value: "1"}}}},
		{Type: ir.FilterMirror, Mirror: &ir.Mirror{Backend: ir.BackendRef{Backend: "b"}, Percent: 50}},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := c.Mirrors()
	if len(m) != 2 || m[0].Backend.Backend != "a" || m[1].Backend.Backend != "b" || m[1].Percent != 50 {
		t.Errorf("Mirrors() = %+v", m)
	}
	r := httptest.NewRequest("GET", "http://example.com/p", nil)
	w := httptest.NewRecorder()
	if !c.Request(w, r, MatchInfo{Scheme: "http", ListenerPort: 80}) {
		t.Fatal("redirect did not answer")
	}
	if r.Header.Get("X") != "1" {
		t.Error("filter before the redirect did not run")
	}
	if r.Header.Get("Y") != "" {
		t.Error("filter after the redirect ran")
	}
	if got := w.Header().Get("Location"); got != "http://other.example/p" {
		t.Errorf("Location = %q", got)
	}
}

func BenchmarkRequestHeaders(b *testing.B) {
	c, err := Compile([]ir.Filter{{Type: ir.FilterRequestHeaders, RequestHeaders: &ir.HeaderModifier{
		Set:    []ir.Header{{Name: "x-set", Value: "1"}},
		Remove: []string{"x-remove"},
	}}})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		c.Request(w, r, MatchInfo{})
	}
}
