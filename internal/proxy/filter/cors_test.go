package filter

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"gatehouse.dev/gatehouse/internal/ir"
)

func mustCORS(t *testing.T, c ir.CORS) *Chain {
	t.Helper()
	ch, err := Compile([]ir.Filter{{Type: ir.FilterCORS, CORS: &c}})
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func preflight(origin, method, headers string) *http.Request {
	r := httptest.NewRequest(http.MethodOptions, "http://api.example/x", nil)
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	if method != "" {
		r.Header.Set("Access-Control-Request-Method", method)
	}
	if headers != "" {
		r.Header.Set("Access-Control-Request-Headers", headers)
	}
	return r
}

func TestCORSOriginMatching(t *testing.T) {
	c := &ir.CORS{AllowOrigins: []string{"https://www.foo.com", "https://*.bar.com", "http://local:8080", "HTTPS://Upper.Example"}}
	tests := []struct {
		origin string
		want   bool
	}{
		{"https://www.foo.com", true},
		{"https://www.foo.com:443", true}, // default port of https
		{"https://www.foo.com:8443", false},
		{"http://www.foo.com", false}, // scheme differs
		{"https://foo.com", false},
		{"https://a.bar.com", true},
		{"https://a.b.bar.com", true}, // "*" is greedy to the left
		{"https://bar.com", false},
		{"https://xbar.com", false},
		{"http://local:8080", true},
		{"http://local", false},
		{"https://upper.example", true},
		{"null", false},
		{"https://", false},
	}
	cc, err := compileCORS(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		if got := cc.allows(tt.origin); got != tt.want {
			t.Errorf("allows(%q) = %v, want %v", tt.origin, got, tt.want)
		}
	}
}

func TestCORSPreflight(t *testing.T) {
	tests := []struct {
		name  string
		cfg   ir.CORS
		req   *http.Request
		wantH map[string]string // "" value means the header must be absent
	}{
		{
			name: "allowed origin, lists echoed",
			cfg: ir.CORS{
				AllowOrigins: []string{"https://www.foo.com"},
				AllowMethods: []string{"GET", "PUT"},
				AllowHeaders: []string{"x-a", "x-b"},
				MaxAge:       600,
			},
			req: preflight("https://www.foo.com", "PUT", "x-a"),
			wantH: map[string]string{
				"Access-Control-Allow-Origin":      "https://www.foo.com",
				"Access-Control-Allow-Methods":     "GET,PUT",
				"Access-Control-Allow-Headers":     "x-a,x-b",
				"Access-Control-Max-Age":           "600",
				"Access-Control-Allow-Credentials": "",
				"Vary":                             "Origin",
			},
		},
		{
			name: "expose headers are sent on the preflight too",
			cfg: ir.CORS{
				AllowOrigins:  []string{"https://www.foo.com"},
				ExposeHeaders: []string{"x-c", "x-d"},
			},
			req: preflight("https://www.foo.com", "GET", ""),
			wantH: map[string]string{
				"Access-Control-Expose-Headers": "x-c,x-d",
			},
		},
		{
			name: "default max age is 5",
			cfg:  ir.CORS{AllowOrigins: []string{"https://www.foo.com"}},
			req:  preflight("https://www.foo.com", "GET", ""),
			wantH: map[string]string{
				"Access-Control-Max-Age":       "5",
				"Access-Control-Allow-Methods": "",
			},
		},
		{
			name: "star without credentials",
			cfg:  ir.CORS{AllowOrigins: []string{"*"}, AllowMethods: []string{"*"}, AllowHeaders: []string{"*"}},
			req:  preflight("https://any.where", "DELETE", "x-custom"),
			wantH: map[string]string{
				"Access-Control-Allow-Origin":  "*",
				"Access-Control-Allow-Methods": "*",
				"Access-Control-Allow-Headers": "*",
			},
		},
		{
			name: "star with credentials echoes the request",
			cfg: ir.CORS{
				AllowOrigins: []string{"*"}, AllowMethods: []string{"*"}, AllowHeaders: []string{"*"},
				AllowCredentials: true,
			},
			req: preflight("https://any.where", "DELETE", "x-custom,x-other"),
			wantH: map[string]string{
				"Access-Control-Allow-Origin":      "https://any.where",
				"Access-Control-Allow-Methods":     "DELETE",
				"Access-Control-Allow-Headers":     "x-custom,x-other",
				"Access-Control-Allow-Credentials": "true",
			},
		},
		{
			name: "wildcard headers omitted when none requested",
			cfg:  ir.CORS{AllowOrigins: []string{"*"}, AllowHeaders: []string{"*"}},
			req:  preflight("https://any.where", "GET", ""),
			wantH: map[string]string{
				"Access-Control-Allow-Headers": "",
			},
		},
		{
			name: "disallowed origin gets no CORS headers",
			cfg:  ir.CORS{AllowOrigins: []string{"https://www.foo.com"}, AllowMethods: []string{"GET"}},
			req:  preflight("https://evil.com", "GET", ""),
			wantH: map[string]string{
				"Access-Control-Allow-Origin":  "",
				"Access-Control-Allow-Methods": "",
				"Access-Control-Max-Age":       "",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			if !mustCORS(t, tt.cfg).Request(w, tt.req, MatchInfo{}) {
				t.Fatal("preflight was not answered")
			}
			if w.Code != http.StatusOK {
				t.Errorf("status = %d, want 200", w.Code)
			}
			for k, want := range tt.wantH {
				if got := w.Header().Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestCORSNotPreflight(t *testing.T) {
	c := mustCORS(t, ir.CORS{AllowOrigins: []string{"*"}})
	for _, r := range []*http.Request{
		preflight("", "GET", ""),                  // no Origin
		preflight("https://a.example", "", ""),    // no request method
		httptest.NewRequest("GET", "/x", nil),     // not OPTIONS
		httptest.NewRequest("OPTIONS", "/x", nil), // plain OPTIONS
	} {
		if c.Request(httptest.NewRecorder(), r, MatchInfo{}) {
			t.Errorf("%s request with headers %v was answered as a preflight", r.Method, r.Header)
		}
	}
}

func TestCORSResponse(t *testing.T) {
	tests := []struct {
		name   string
		cfg    ir.CORS
		origin string
		wantH  map[string]string
	}{
		{
			name:   "echo allowed origin",
			cfg:    ir.CORS{AllowOrigins: []string{"https://*.foo.com"}, ExposeHeaders: []string{"x-a", "x-b"}},
			origin: "https://a.foo.com",
			wantH: map[string]string{
				"Access-Control-Allow-Origin":      "https://a.foo.com",
				"Access-Control-Expose-Headers":    "x-a,x-b",
				"Access-Control-Allow-Credentials": "",
				"Vary":                             "Origin",
			},
		},
		{
			name:   "star origin without credentials",
			cfg:    ir.CORS{AllowOrigins: []string{"*"}, ExposeHeaders: []string{"*"}},
			origin: "https://x.example",
			wantH: map[string]string{
				"Access-Control-Allow-Origin":   "*",
				"Access-Control-Expose-Headers": "*",
			},
		},
		{
			name:   "star origin with credentials echoes and drops star expose",
			cfg:    ir.CORS{AllowOrigins: []string{"*"}, AllowCredentials: true, ExposeHeaders: []string{"*", "x-a"}},
			origin: "https://x.example",
			wantH: map[string]string{
				"Access-Control-Allow-Origin":      "https://x.example",
				"Access-Control-Allow-Credentials": "true",
				"Access-Control-Expose-Headers":    "x-a",
			},
		},
		{
			name:   "disallowed origin",
			cfg:    ir.CORS{AllowOrigins: []string{"https://a.example"}, AllowCredentials: true},
			origin: "https://b.example",
			wantH: map[string]string{
				"Access-Control-Allow-Origin":      "",
				"Access-Control-Allow-Credentials": "",
				"Vary":                             "Origin",
			},
		},
		{
			name:  "no origin",
			cfg:   ir.CORS{AllowOrigins: []string{"*"}},
			wantH: map[string]string{"Access-Control-Allow-Origin": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/x", nil)
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			h := http.Header{"Content-Type": {"text/plain"}}
			mustCORS(t, tt.cfg).Response(h, r)
			for k, want := range tt.wantH {
				if got := h.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if h.Get("Content-Type") != "text/plain" {
				t.Error("CORS changed an unrelated header")
			}
		})
	}
}
