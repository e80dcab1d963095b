package filter

import (
	"crypto/tls"
	"net/http/httptest"
	"testing"

	"gatehouse.dev/gatehouse/internal/ir"
)

func port(p int32) *int32 { return &p }

// TestRedirectPortSchemeMatrix covers the port rules of
// HTTPRequestRedirectFilter.Port: explicit port, configured scheme (its
// well-known port), no scheme (the listener port), and omission of 80/443.
func TestRedirectPortSchemeMatrix(t *testing.T) {
	tests := []struct {
		name       string
		rd         ir.Redirect
		listener   MatchInfo
		target     string
		wantStatus int
		want       string
	}{
		{"defaults on http:80", ir.Redirect{}, MatchInfo{Scheme: "http", ListenerPort: 80}, "http://a.example/p?q=1", 302, "http://a.example/p?q=1"},
		{"defaults keep listener port 8080", ir.Redirect{}, MatchInfo{Scheme: "http", ListenerPort: 8080}, "http://a.example:8080/p", 302, "http://a.example:8080/p"},
		{"defaults on https:443", ir.Redirect{}, MatchInfo{Scheme: "https", ListenerPort: 443}, "https://a.example/p", 302, "https://a.example/p"},
		{"defaults keep https:8443", ir.Redirect{}, MatchInfo{Scheme: "https", ListenerPort: 8443}, "https://a.example:8443/p", 302, "https://a.example:8443/p"},
		{"https listener port 80 is not omitted", ir.Redirect{}, MatchInfo{Scheme: "https", ListenerPort: 80}, "https://a.example/p", 302, "https://a.example:80/p"},
		{"http to https drops 8080", ir.Redirect{Scheme: "https"}, MatchInfo{Scheme: "http", ListenerPort: 8080}, "http://a.example:8080/p", 302, "https://a.example/p"},
		{"http to https on 80", ir.Redirect{Scheme: "https", StatusCode: 301}, MatchInfo{Scheme: "http", ListenerPort: 80}, "http://a.example/p?x=y", 301, "https://a.example/p?x=y"},
		{"https to http drops 8443", ir.Redirect{Scheme: "http"}, MatchInfo{Scheme: "https", ListenerPort: 8443}, "https://a.example/p", 302, "http://a.example/p"},
		// Per the spec a non-empty scheme brings its well-known port even when
		// it equals the listener's scheme.
		{"same scheme set uses well-known port", ir.Redirect{Scheme: "http"}, MatchInfo{Scheme: "http", ListenerPort: 8080}, "http://a.example:8080/p", 302, "http://a.example/p"},
		{"explicit port", ir.Redirect{Port: port(9090)}, MatchInfo{Scheme: "http", ListenerPort: 80}, "http://a.example/p", 302, "http://a.example:9090/p"},
		{"explicit well-known port omitted", ir.Redirect{Scheme: "https", Port: port(443)}, MatchInfo{Scheme: "http", ListenerPort: 80}, "http://a.example/p", 302, "https://a.example/p"},
		{"explicit port with scheme", ir.Redirect{Scheme: "https", Port: port(8443)}, MatchInfo{Scheme: "http", ListenerPort: 80}, "http://a.example/p", 302, "https://a.example:8443/p"},
		{"explicit port 80 kept for https", ir.Redirect{Scheme: "https", Port: port(80)}, MatchInfo{Scheme: "http", ListenerPort: 80}, "http://a.example/p", 302, "https://a.example:80/p"},
		{"hostname replaced, request port ignored", ir.Redirect{Hostname: "b.example"}, MatchInfo{Scheme: "http", ListenerPort: 80}, "http://a.example:1234/p", 302, "http://b.example/p"},
		{"hostname with listener port", ir.Redirect{Hostname: "b.example"}, MatchInfo{Scheme: "http", ListenerPort: 8080}, "http://a.example:8080/p", 302, "http://b.example:8080/p"},
		{"full path", ir.Redirect{Path: &ir.PathModifier{Type: ir.ReplaceFullPath, Value: "/new"}, StatusCode: 308}, MatchInfo{Scheme: "http", ListenerPort: 80}, "http://a.example/old?k=v", 308, "http://a.example/new?k=v"},
		{"prefix path", ir.Redirect{Path: &ir.PathModifier{Type: ir.ReplacePrefixMatch, Value: "/v2"}}, MatchInfo{Scheme: "http", ListenerPort: 80, MatchedPrefix: "/v1"}, "http://a.example/v1/users", 302, "http://a.example/v2/users"},
		{"ipv6 host", ir.Redirect{}, MatchInfo{Scheme: "http", ListenerPort: 8080}, "http://[::1]:8080/p", 302, "http://[::1]:8080/p"},
		{"ipv6 host without port", ir.Redirect{Scheme: "https"}, MatchInfo{Scheme: "http", ListenerPort: 80}, "http://[::1]/p", 302, "https://[::1]/p"},
		{"scheme from TLS when listener scheme unknown", ir.Redirect{}, MatchInfo{}, "https://a.example/p", 302, "https://a.example/p"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Compile([]ir.Filter{{Type: ir.FilterRedirect, Redirect: &tt.rd}})
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", tt.target, nil)
			if tt.listener.Scheme == "" {
				r.TLS = &tls.ConnectionState{}
			}
			w := httptest.NewRecorder()
			if !c.Request(w, r, tt.listener) {
				t.Fatal("redirect did not answer")
			}
			if w.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", w.Code, tt.wantStatus)
			}
			if got := w.Header().Get("Location"); got != tt.want {
				t.Errorf("Location = %q, want %q", got, tt.want)
			}
		})
	}
}
