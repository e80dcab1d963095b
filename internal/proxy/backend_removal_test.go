package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

// TestRouteMovingOffARemovedBackendNeverGets500: a route moves from one
// backend to another in the same delta that removes the backend it left
// (what the translator emits when no other route uses it). Requests served
// meanwhile must reach one of the two backends, never "unknown backend":
// the backend is removed only after the table that no longer routes to it
// is in place. (The soak test found this as rare 500s on a flipping route.)
func TestRouteMovingOffARemovedBackendNeverGets500(t *testing.T) {
	p, _ := testProxy(t)
	backends := map[string]*ir.Backend{"a": upstreamBackend(t, "a"), "b": upstreamBackend(t, "b")}
	p.Apply(ir.Delta{Version: 2, Upserts: []ir.Resource{backends["a"], routeTo("r", "/", "a")}})
	h := BindHandlerForTest(p, "127.0.0.1:0")
	stop := make(chan struct{})
	var bad, served atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
				served.Add(1)
				if w.Code != http.StatusOK && bad.Add(1) == 1 {
					first.Store(fmt.Sprintf("%d %s", w.Code, w.Body.String()))
				}
			}
		}()
	}
	from, to := "a", "b"
	for v := uint64(3); v < 20003 && bad.Load() == 0; v++ {
		p.Apply(ir.Delta{Version: v, Upserts: []ir.Resource{backends[to], routeTo("r", "/", to)},
			Removes: []ir.ID{{Kind: ir.KindBackend, Name: from}}})
		from, to = to, from
	}
	close(stop)
	wg.Wait()
	if bad.Load() > 0 {
		t.Fatalf("%d of %d requests failed while the route moved between backends; first: %v", bad.Load(), served.Load(), first.Load())
	}
}

// TestRemovedBackendGoesAfterGraceUnlessReAdded: a removed backend leaves
// the registry after the grace period; one removed and added again within it
// stays.
func TestRemovedBackendGoesAfterGraceUnlessReAdded(t *testing.T) {
	p, url := testProxy(t)
	a, b := upstreamBackend(t, "a"), upstreamBackend(t, "b")
	p.Apply(ir.Delta{Version: 2, Upserts: []ir.Resource{a, b, routeTo("r", "/", "a")}})
	p.Apply(ir.Delta{Version: 3, Removes: []ir.ID{{Kind: ir.KindBackend, Name: "a"}, {Kind: ir.KindBackend, Name: "b"}}})
	p.Apply(ir.Delta{Version: 4, Upserts: []ir.Resource{a}})
	time.Sleep(backendRemovalGrace + 500*time.Millisecond)
	var names []string
	for _, h := range p.EndpointHealth() {
		names = append(names, h.Name)
	}
	if fmt.Sprint(names) != "[a]" {
		t.Fatalf("backends in the registry after the grace: %v, want [a]", names)
	}
	if code, body := get(t, url+"/"); code != 200 || body != "a" {
		t.Fatalf("route to the re-added backend: %d %q", code, body)
	}
}
