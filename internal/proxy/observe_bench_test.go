package proxy_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/proxy"
	"gatehouse.dev/gatehouse/internal/telemetry"
)

// BenchmarkObserverOverhead serves requests through a bind's handler (no
// downstream socket) with no observer, then metrics, metrics + JSON access
// log (to io.Discard), and metrics + access log + tracing (every request
// sampled, spans batched to an OTLP/HTTP receiver on 127.0.0.1). Two
// request kinds: "redirect" (answered by a filter, so the figure is the
// observer's own cost) and "upstream" (forwarded to a keep-alive loopback
// upstream, where tracing also makes a client span). Compare each case's
// ns/op with the "none" case of the same kind in the same run.
func BenchmarkObserverOverhead(b *testing.B) {
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer up.Close()
	observers := []struct {
		name  string
		build func(b *testing.B) (proxy.Observer, func())
	}{
		{"none", func(*testing.B) (proxy.Observer, func()) { return nil, func() {} }},
		{"metrics", func(*testing.B) (proxy.Observer, func()) {
			return telemetry.NewObserver(telemetry.NewProxyMetrics(telemetry.NewRegistry()), nil, nil), func() {}
		}},
		{"metrics+log", func(b *testing.B) (proxy.Observer, func()) {
			return telemetry.NewObserver(telemetry.NewProxyMetrics(telemetry.NewRegistry()), accessLog(b), nil), func() {}
		}},
		{"metrics+log+tracing", func(b *testing.B) (proxy.Observer, func()) {
			tr, err := telemetry.NewTracer(telemetry.TracingOptions{Endpoint: collector.URL})
			if err != nil {
				b.Fatal(err)
			}
			obs := telemetry.NewObserver(telemetry.NewProxyMetrics(telemetry.NewRegistry()), accessLog(b), tr)
			return obs, func() { _ = tr.Shutdown(b.Context()) }
		}},
	}
	for _, kind := range []string{"redirect", "upstream"} {
		for _, o := range observers {
			b.Run(kind+"/"+o.name, func(b *testing.B) {
				obs, done := o.build(b)
				defer done()
				p := proxy.New(proxy.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Observer: obs})
				if rej := p.Apply(ir.Delta{Version: 1, Upserts: benchConfig(up.Listener.Addr().(*net.TCPAddr))}); len(rej) != 0 {
					b.Fatal(rej)
				}
				h := proxy.BindHandlerForTest(p, "b")
				req := httptest.NewRequest(http.MethodGet, "http://example.com/"+kind+"/x", nil)
				want := http.StatusOK
				if kind == "redirect" {
					want = http.StatusFound
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req.Clone(req.Context()))
					if w.Code != want {
						b.Fatalf("status %d", w.Code)
					}
				}
			})
		}
	}
}

func accessLog(b *testing.B) *telemetry.AccessLog {
	l, err := telemetry.NewAccessLog(telemetry.AccessLogOptions{Output: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// benchConfig is a listener on bind "b" with a redirect rule and a rule
// forwarding to the upstream at addr.
func benchConfig(addr *net.TCPAddr) []ir.Resource {
	parent := []ir.RouteParent{{Listener: "ns/gw/http"}}
	prefix := func(p string) []ir.Match { return []ir.Match{{Path: ir.PathMatch{Type: ir.PathPrefix, Value: p}}} }
	return []ir.Resource{
		&ir.Listener{Name: "ns/gw/http", Gateway: "ns/gw", Bind: "b", Protocol: ir.ProtocolHTTP},
		&ir.Backend{Name: "StaticBackend/ns/up", Ports: []ir.BackendPort{{Port: 80, Protocol: ir.AppHTTP1,
			Endpoints: []ir.Endpoint{{Address: addr.IP.String(), Port: int32(addr.Port), Ready: true}}}}},
		&ir.Route{Name: "ns/r/0", RouteName: "ns/r", Parents: parent, Matches: prefix("/redirect"),
			Filters: []ir.Filter{{Type: ir.FilterRedirect, Redirect: &ir.Redirect{Hostname: "example.org", StatusCode: 302}}}},
		&ir.Route{Name: "ns/r/1", RouteName: "ns/r", RuleIndex: 1, Parents: parent, Matches: prefix("/upstream"),
			Backends: []ir.BackendRef{{Backend: "StaticBackend/ns/up", Port: 80, Weight: 1}}},
	}
}
