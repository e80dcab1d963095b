package proxy

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/proxy/upstream"
)

// BenchmarkServeForward serves a GET through the proxy's handler (route
// match, filters, backend pick, forward) to a keep-alive upstream in the
// same process, over the HTTP/1.1 fast path and, for comparison in the same
// run, over httputil.ReverseProxy. The upstream's own cost (~20
// allocations) is in both figures.
func BenchmarkServeForward(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok!")
	}))
	b.Cleanup(up.Close)
	host, port, _ := net.SplitHostPort(up.Listener.Addr().String())
	pn, _ := strconv.Atoi(port)
	for _, tc := range []struct {
		name string
		opts upstream.Options
	}{{"fast", upstream.Options{}}, {"reverseproxy", upstream.Options{ReverseProxyOnly: true}}} {
		b.Run(tc.name, func(b *testing.B) {
			p := New(Options{Logger: quietLogger(), Upstream: tc.opts})
			b.Cleanup(p.upstreams.CloseIdleConnections)
			rej := p.Apply(ir.Delta{Version: 1, Upserts: []ir.Resource{
				&ir.Listener{Name: "ns/gw/http", Gateway: "ns/gw", Bind: "b", Protocol: ir.ProtocolHTTP},
				&ir.Backend{Name: "svc", Ports: []ir.BackendPort{{Port: 80, Protocol: ir.AppHTTP1,
					Endpoints: []ir.Endpoint{{Address: host, Port: int32(pn), Ready: true}}}}},
				&ir.Route{Name: "ns/r/0", RouteName: "ns/r", Parents: []ir.RouteParent{{Listener: "ns/gw/http"}},
					Matches:  []ir.Match{{Path: ir.PathMatch{Type: ir.PathPrefix, Value: "/"}}},
					Backends: []ir.BackendRef{{Backend: "svc", Port: 80, Weight: 1}}},
			}})
			if len(rej) != 0 {
				b.Fatal(rej)
			}
			h := &bindHandler{p: p, bind: "b", port: 80, scheme: "http"}
			req := httptest.NewRequest(http.MethodGet, "http://example.com/items", nil)
			req.Header.Set("User-Agent", "bench/1.0")
			w := &discardResponse{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.code = 0
				h.ServeHTTP(w, req)
				if w.code != http.StatusOK {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}

// discardResponse is a ResponseWriter that keeps only the status.
type discardResponse struct {
	h    http.Header
	code int
}

func (w *discardResponse) Header() http.Header { return w.h }
func (w *discardResponse) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(p), nil
}
func (w *discardResponse) WriteHeader(code int) { w.code = code }
func (w *discardResponse) Flush()               {}
