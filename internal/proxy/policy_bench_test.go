package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"gatehouse.dev/gatehouse/internal/ir"
)

// BenchmarkPolicyOverhead serves a request through the proxy's handler (a
// route answering with a redirect, so no upstream I/O is measured) with 0
// and with 20 CEL expressions applying to it: 10 authorization rules and 10
// header transformations. Compare the two ns/op in the same run.
func BenchmarkPolicyOverhead(b *testing.B) {
	for _, n := range []int{0, 20} {
		b.Run(fmt.Sprintf("expressions=%d", n), func(b *testing.B) {
			p := New(Options{Logger: quietLogger()})
			route := &ir.Route{Name: "ns/r/0", RouteName: "ns/r", Parents: []ir.RouteParent{{Listener: "ns/gw/http"}},
				Matches: []ir.Match{{Path: ir.PathMatch{Type: ir.PathPrefix, Value: "/"}}},
				Filters: []ir.Filter{{Type: ir.FilterRedirect, Redirect: &ir.Redirect{Hostname: "example.com", StatusCode: 302}}}}
			res := []ir.Resource{&ir.Listener{Name: "ns/gw/http", Gateway: "ns/gw", Bind: "b", Protocol: ir.ProtocolHTTP}, route}
			if n > 0 {
				pol := &ir.Policy{Name: "ns/p", Targets: []ir.PolicyTarget{{Kind: ir.TargetRoute, Name: "ns/r"}},
					Authorization: &ir.PolicyAuthorization{DenyStatus: 403}, RequestHeaders: &ir.CELTransform{}}
				for i := 0; i < n/2; i++ {
					pol.Authorization.Require = append(pol.Authorization.Require, `request.method == "GET" && request.path.startsWith("/api")`)
					pol.RequestHeaders.Set = append(pol.RequestHeaders.Set, ir.CELHeader{Name: fmt.Sprintf("x-h%d", i), Expr: `request.headers["user-agent"]`})
				}
				res = append(res, pol)
			}
			if rej := p.Apply(ir.Delta{Version: 1, Upserts: res}); len(rej) != 0 {
				b.Fatal(rej)
			}
			h := &bindHandler{p: p, bind: "b", port: 80, scheme: "http"}
			req := httptest.NewRequest(http.MethodGet, "http://example.com/api/v1/items", nil)
			req.Header.Set("User-Agent", "bench/1.0")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r := req.Clone(req.Context())
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusFound {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}
