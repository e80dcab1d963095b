package proxy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/proxy/listener"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testProxy returns a proxy with one HTTP bind on an ephemeral loopback port
// and a listener "gw/http" on it.
func testProxy(t *testing.T) (*Proxy, string) {
	t.Helper()
	p := New(Options{Logger: quietLogger(), Listener: listener.Options{}})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = p.Shutdown(ctx)
	})
	rej := p.Apply(ir.Delta{Version: 1, Upserts: []ir.Resource{
		&ir.Bind{Name: "127.0.0.1:0", Address: "127.0.0.1", Port: 0, Protocol: ir.ProtocolHTTP},
		&ir.Listener{Name: "gw/http", Gateway: "gw", Bind: "127.0.0.1:0", Protocol: ir.ProtocolHTTP},
	}})
	if len(rej) != 0 {
		t.Fatalf("rejections: %v", rej)
	}
	return p, "http://" + p.Listeners().Addr("127.0.0.1:0").String()
}

func upstreamBackend(t *testing.T, name string) *ir.Backend {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", name)
		fmt.Fprint(w, name)
	}))
	t.Cleanup(srv.Close)
	a := srv.Listener.Addr().(*net.TCPAddr)
	return &ir.Backend{Name: name, Ports: []ir.BackendPort{{Port: 80, Protocol: ir.AppHTTP1,
		Endpoints: []ir.Endpoint{{Address: a.IP.String(), Port: int32(a.Port), Ready: true}}}}}
}

func routeTo(name, prefix, backend string) *ir.Route {
	return &ir.Route{Name: name, RouteName: name, Parents: []ir.RouteParent{{Listener: "gw/http"}},
		Matches:  []ir.Match{{Path: ir.PathMatch{Type: ir.PathPrefix, Value: prefix}}},
		Backends: []ir.BackendRef{{Backend: backend, Port: 80, Weight: 1}}}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestApplyServesAndRemoves(t *testing.T) {
	p, base := testProxy(t)
	p.Apply(ir.Delta{Version: 2, Upserts: []ir.Resource{upstreamBackend(t, "a"), routeTo("r", "/", "a")}})
	if code, body := get(t, base+"/x"); code != 200 || body != "a" {
		t.Fatalf("after upsert: %d %q", code, body)
	}
	p.Apply(ir.Delta{Version: 3, Removes: []ir.ID{{Kind: ir.KindRoute, Name: "r"}}})
	if code, _ := get(t, base+"/x"); code != 404 {
		t.Fatalf("after remove: %d, want 404", code)
	}
	if d := p.ConfigDump(); d.Version != 3 || len(d.Resources) != 3 {
		t.Fatalf("dump: version %d, %d resources (want bind, listener, backend)", d.Version, len(d.Resources))
	}
}

func TestRejectedResourcesKeepLastGoodVersion(t *testing.T) {
	p, base := testProxy(t)
	p.Apply(ir.Delta{Version: 2, Upserts: []ir.Resource{upstreamBackend(t, "a"), routeTo("r", "/", "a")}})
	bad := routeTo("r", "/", "a")
	bad.Matches[0].Path = ir.PathMatch{Type: ir.PathRegex, Value: "(["}
	badBackend := &ir.Backend{Name: "a", Ports: []ir.BackendPort{{Port: 80, Endpoints: []ir.Endpoint{{Address: "x", Port: 70000}}}}}
	rej := p.Apply(ir.Delta{Version: 3, Upserts: []ir.Resource{bad, badBackend,
		&ir.Certificate{Name: "ns/cert", CertPEM: []byte("garbage"), KeyPEM: []byte("garbage")}}})
	if len(rej) != 3 {
		t.Fatalf("want 3 rejections (route, backend, certificate), got %v", rej)
	}
	for _, r := range rej {
		if r.Reason == "" {
			t.Errorf("rejection of %s has no reason", r.ID)
		}
	}
	if code, body := get(t, base+"/x"); code != 200 || body != "a" {
		t.Fatalf("previous route/backend not kept: %d %q", code, body)
	}
	if d := p.ConfigDump(); len(d.Rejections) != 3 {
		t.Fatalf("dump lacks rejections: %+v", d.Rejections)
	}
}

func TestInvalidBackendShareGets500(t *testing.T) {
	p, base := testProxy(t)
	r := routeTo("r", "/", "a")
	r.Backends = []ir.BackendRef{{Invalid: "Service default/missing not found", Weight: 1}}
	p.Apply(ir.Delta{Version: 2, Upserts: []ir.Resource{r}})
	if code, body := get(t, base+"/"); code != 500 || body == "" {
		t.Fatalf("invalid backend: %d %q, want 500 with a reason", code, body)
	}
}

func TestWeightedSplit(t *testing.T) {
	p, base := testProxy(t)
	r := routeTo("r", "/", "a")
	r.Backends = []ir.BackendRef{{Backend: "a", Port: 80, Weight: 1}, {Backend: "b", Port: 80, Weight: 3}}
	p.Apply(ir.Delta{Version: 2, Upserts: []ir.Resource{upstreamBackend(t, "a"), upstreamBackend(t, "b"), r}})
	counts := map[string]int{}
	for i := 0; i < 400; i++ {
		_, body := get(t, base+"/")
		counts[body]++
	}
	// Expect ~100/300; 5 sigma of a binomial(400, 0.25) is about 43.
	if counts["a"] < 57 || counts["a"] > 143 || counts["a"]+counts["b"] != 400 {
		t.Fatalf("split %v, want about 100 a / 300 b", counts)
	}
}

// BenchmarkProxyHeap reports the heap the proxy holds for a configuration of
// N routes (each with its own hostname and backend), measured after GC.
func BenchmarkProxyHeap(b *testing.B) {
	for _, n := range []int{0, 5000} {
		b.Run("routes="+strconv.Itoa(n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				before := heapInUse()
				p := New(Options{Logger: quietLogger()})
				var res []ir.Resource
				res = append(res, &ir.Listener{Name: "gw/http", Bind: ":0", Protocol: ir.ProtocolHTTP})
				for j := 0; j < n; j++ {
					name := "r" + strconv.Itoa(j)
					be := &ir.Backend{Name: "Service/ns/" + name, Ports: []ir.BackendPort{{Port: 80, Protocol: ir.AppHTTP1,
						Endpoints: []ir.Endpoint{{Address: "10.0.0.1", Port: 8080, Ready: true}}}}}
					r := routeTo(name, "/", be.Name)
					r.Parents[0].Hostnames = []string{name + ".example.com"}
					r.Filters = []ir.Filter{{Type: ir.FilterRequestHeaders, RequestHeaders: &ir.HeaderModifier{Set: []ir.Header{{Name: "X-Route", Value: name}}}}}
					res = append(res, be, r)
				}
				p.Apply(ir.Delta{Version: 1, Upserts: res})
				res = nil
				after := heapInUse()
				b.ReportMetric(float64(after-before)/(1<<20), "heap-MB")
				if p.table.Load().Len() != n {
					b.Fatalf("table has %d routes", p.table.Load().Len())
				}
			}
		})
	}
}
