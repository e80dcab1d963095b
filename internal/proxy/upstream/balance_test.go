package upstream

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

func TestPickPrefersLessLoaded(t *testing.T) {
	busy := &endpoint{addr: "busy"}
	mid := &endpoint{addr: "mid"}
	idle := &endpoint{addr: "idle"}
	busy.outstanding.Store(9)
	mid.outstanding.Store(5)
	idle.outstanding.Store(1)
	eps := []*endpoint{busy, mid, idle}

	counts := map[string]int{}
	for range 3000 {
		counts[pickEndpoint(eps, 0).addr]++
	}
	// The most loaded endpoint is never the lesser of any pair.
	if counts["busy"] != 0 {
		t.Errorf("busiest endpoint picked %d times, want 0", counts["busy"])
	}
	// idle wins both pairs it is in (2/3 of draws), mid only one (1/3).
	if counts["idle"] <= counts["mid"] {
		t.Errorf("idle picked %d times, mid %d: want idle > mid", counts["idle"], counts["mid"])
	}
}

func TestPickSkipsEjectedAndPanics(t *testing.T) {
	now := time.Unix(1000, 0).UnixNano()
	a, b, c := &endpoint{addr: "a"}, &endpoint{addr: "b"}, &endpoint{addr: "c"}
	a.ejectedUntil.Store(now + 1)
	b.ejectedUntil.Store(now + 1)
	// c is more loaded but the only healthy one: always chosen.
	c.outstanding.Store(50)
	for range 200 {
		if got := pickEndpoint([]*endpoint{a, b, c}, now); got != c {
			t.Fatalf("picked %s, want the only non-ejected endpoint c", got.addr)
		}
	}
	// All ejected: panic mode still returns one of them.
	c.ejectedUntil.Store(now + 1)
	if got := pickEndpoint([]*endpoint{a, b, c}, now); got == nil {
		t.Fatal("panic mode returned nil")
	}
	// Expired ejections no longer count.
	if a.ejected(now+1) || !a.ejected(now) {
		t.Error("ejection window boundaries wrong")
	}
	if pickEndpoint(nil, now) != nil {
		t.Error("empty candidates must give nil")
	}
}

func TestRecordFailureDoublesAndResets(t *testing.T) {
	start := time.Unix(0, 0)
	e := &endpoint{}
	tests := []struct {
		name string
		want time.Duration
	}{
		{"first ejection uses base", 5 * time.Second},
		{"second doubles", 10 * time.Second},
		{"third doubles again", 20 * time.Second},
	}
	for _, tc := range tests {
		if d := e.recordFailure(start, 2, 5*time.Second); d != 0 {
			t.Fatalf("%s: ejected after one failure (threshold 2)", tc.name)
		}
		if d := e.recordFailure(start, 2, 5*time.Second); d != tc.want {
			t.Fatalf("%s: ejected for %v, want %v", tc.name, d, tc.want)
		}
		if got := time.Unix(0, e.ejectedUntil.Load()).Sub(start); got != tc.want {
			t.Fatalf("%s: ejectedUntil is start+%v, want +%v", tc.name, got, tc.want)
		}
	}
	e.recordSuccess()
	e.recordFailure(start, 2, 5*time.Second)
	if d := e.recordFailure(start, 2, 5*time.Second); d != 5*time.Second {
		t.Fatalf("after success the window must restart at base, got %v", d)
	}
	// The window is capped.
	for range 40 {
		e.recordFailure(start, 1, time.Minute)
	}
	if d := e.recordFailure(start, 1, time.Minute); d != maxEjection {
		t.Fatalf("window %v, want cap %v", d, maxEjection)
	}
}

// TestForwardPrefersLessLoaded checks that the balancer reads the same
// outstanding counters that Forward maintains.
func TestForwardPrefersLessLoaded(t *testing.T) {
	reg := newTestRegistry(t, Options{})
	a := startUpstream(t, textHandler("a"))
	b := startUpstream(t, textHandler("b"))
	mustUpdate(t, reg, backendOf("svc", ir.AppHTTP1, endpointOf(t, a.URL, true), endpointOf(t, b.URL, true)))
	be := reg.lookup("svc")
	be.endpoints[strings.TrimPrefix(a.URL, "http://")].outstanding.Store(100)

	front := frontend(t, reg, Target{Backend: "svc"})
	c := newClient(t)
	for range 20 {
		if code, body, _ := get(t, c, front.URL, nil); code != 200 || body != "b" {
			t.Fatalf("got %d %q, want 200 from the idle endpoint b", code, body)
		}
	}
}

func TestEjectionAndRecovery(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	reg := newTestRegistry(t, Options{EjectAfter: 2, EjectFor: 10 * time.Second})
	reg.now = clock.Now
	good := startUpstream(t, textHandler("good"))
	bad := closedAddr(t)
	mustUpdate(t, reg, backendOf("svc", ir.AppHTTP1, endpointOf(t, good.URL, true), endpointOf(t, bad, true)))
	badEP := reg.lookup("svc").endpoints[bad]

	front := frontend(t, reg, Target{Backend: "svc"})
	c := newClient(t)
	// Until the bad endpoint has failed twice, some requests get 502.
	failures := 0
	for i := 0; i < 200 && !badEP.ejected(clock.Now().UnixNano()); i++ {
		if code, _, _ := get(t, c, front.URL, nil); code == http.StatusBadGateway {
			failures++
		}
	}
	if failures != 2 || !badEP.ejected(clock.Now().UnixNano()) {
		t.Fatalf("saw %d failures, ejected=%v; want ejection after exactly 2", failures, badEP.ejected(clock.Now().UnixNano()))
	}
	for range 50 {
		if code, body, _ := get(t, c, front.URL, nil); code != 200 || body != "good" {
			t.Fatalf("while ejected got %d %q, want 200 good", code, body)
		}
	}
	// After the window the endpoint gets traffic again; failing twice more
	// ejects it for twice as long.
	clock.Advance(10*time.Second + time.Millisecond)
	failures = 0
	for i := 0; i < 200 && !badEP.ejected(clock.Now().UnixNano()); i++ {
		if code, _, _ := get(t, c, front.URL, nil); code == http.StatusBadGateway {
			failures++
		}
	}
	until := time.Unix(0, badEP.ejectedUntil.Load())
	if failures != 2 || until.Sub(clock.Now()) != 20*time.Second {
		t.Fatalf("second ejection: %d failures, window %v; want 2 and 20s", failures, until.Sub(clock.Now()))
	}
}

func TestFiveHundredsEjectAndPanicMode(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	reg := newTestRegistry(t, Options{EjectAfter: 3})
	reg.now = clock.Now
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	mustUpdate(t, reg, backendOf("svc", ir.AppHTTP1, endpointOf(t, up.URL, true)))
	ep := reg.lookup("svc").endpoints[strings.TrimPrefix(up.URL, "http://")]
	front := frontend(t, reg, Target{Backend: "svc"})
	c := newClient(t)
	for i := range 3 {
		if ep.ejected(clock.Now().UnixNano()) {
			t.Fatalf("ejected after %d failures, want 3", i)
		}
		get(t, c, front.URL, nil)
	}
	if !ep.ejected(clock.Now().UnixNano()) {
		t.Fatal("three 500s did not eject the endpoint")
	}
	// Panic mode: the only endpoint is ejected but still receives traffic,
	// so the client sees the upstream's answer rather than a 503.
	if code, body, _ := get(t, c, front.URL, nil); code != 500 || !strings.Contains(body, "boom") {
		t.Fatalf("panic mode: got %d %q, want the upstream's 500 boom", code, body)
	}
}

func TestUpdateKeepsEndpointState(t *testing.T) {
	reg := newTestRegistry(t, Options{})
	eps := []ir.Endpoint{{Address: "10.0.0.1", Port: 80, Ready: true}, {Address: "10.0.0.2", Port: 80, Ready: true}}
	mustUpdate(t, reg, backendOf("svc", ir.AppHTTP1, eps...))
	first := reg.lookup("svc").endpoints["10.0.0.1:80"]
	first.ejectedUntil.Store(42)
	first.outstanding.Store(3)
	gone := reg.lookup("svc").endpoints["10.0.0.2:80"]
	gone.ejectedUntil.Store(7)

	// 10.0.0.1 stays (now not ready), 10.0.0.2 leaves, 10.0.0.3 arrives.
	mustUpdate(t, reg, backendOf("svc", ir.AppHTTP1,
		ir.Endpoint{Address: "10.0.0.1", Port: 80}, ir.Endpoint{Address: "10.0.0.3", Port: 80, Ready: true}))
	b := reg.lookup("svc")
	if b.endpoints["10.0.0.1:80"] != first || first.ejectedUntil.Load() != 42 || first.outstanding.Load() != 3 {
		t.Fatal("state of a remaining endpoint was not kept across Update")
	}
	if len(b.ports[0].ready) != 1 || b.ports[0].ready[0].addr != "10.0.0.3:80" {
		t.Fatalf("ready set = %v, want [10.0.0.3:80]", b.ports[0].ready)
	}
	// An endpoint that left and comes back starts fresh.
	mustUpdate(t, reg, backendOf("svc", ir.AppHTTP1, eps...))
	if e := reg.lookup("svc").endpoints["10.0.0.2:80"]; e == gone || e.ejectedUntil.Load() != 0 {
		t.Fatal("an endpoint that was removed must not resurrect old state")
	}
}

func TestUpdateRejectsInvalidInput(t *testing.T) {
	reg := newTestRegistry(t, Options{})
	valid := backendOf("Service/ns/web", ir.AppHTTP1, ir.Endpoint{Address: "10.0.0.1", Port: 8080, Ready: true})
	mustUpdate(t, reg, valid)
	ep := ir.Endpoint{Address: "10.0.0.9", Port: 8080, Ready: true}
	tests := []struct {
		name    string
		b       *ir.Backend
		wantErr string
	}{
		{"bad CA", &ir.Backend{Name: "Service/ns/web", Ports: valid.Ports, TLS: &ir.UpstreamTLS{CACertPEM: []byte("not pem")}}, "tls.caCertPEM"},
		{"port range", &ir.Backend{Name: "Service/ns/web", Ports: []ir.BackendPort{{Port: 70000, Endpoints: []ir.Endpoint{ep}}}}, "ports[0].port"},
		{"duplicate port", &ir.Backend{Name: "Service/ns/web", Ports: []ir.BackendPort{{Port: 80}, {Port: 80}}}, "ports[1].port 80 is listed twice"},
		{"protocol", backendOf("Service/ns/web", "kubernetes.io/carrier-pigeon", ep), "ports[0].protocol"},
		{"endpoint port", backendOf("Service/ns/web", ir.AppHTTP1, ir.Endpoint{Address: "10.0.0.9"}), "ports[0].endpoints[0].port"},
		{"endpoint address", backendOf("Service/ns/web", ir.AppHTTP1, ir.Endpoint{Port: 1}), "ports[0].endpoints[0].address"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := reg.Update(tc.b)
			if err == nil || !strings.Contains(err.Error(), "backend Service/ns/web") || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one naming the backend and %q", err, tc.wantErr)
			}
			if got := reg.lookup("Service/ns/web").endpoints; got["10.0.0.1:8080"] == nil || len(got) != 1 {
				t.Fatalf("previous version not kept: %v", got)
			}
		})
	}
	if reg.Update(nil) == nil || reg.Update(&ir.Backend{}) == nil {
		t.Error("nil or unnamed backend must be rejected")
	}
}

func TestRemoveAndHas(t *testing.T) {
	reg := newTestRegistry(t, Options{})
	mustUpdate(t, reg, backendOf("svc", ir.AppHTTP1))
	if !reg.Has("svc") || reg.Has("other") {
		t.Fatal("Has is wrong after Update")
	}
	reg.Remove("svc")
	reg.Remove("never-there")
	if reg.Has("svc") {
		t.Fatal("Has true after Remove")
	}
}
