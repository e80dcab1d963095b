package xds

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"gatehouse.dev/gatehouse/internal/distribute"
	"gatehouse.dev/gatehouse/internal/ir"
)

func TestFullSetThenDeltas(t *testing.T) {
	hub := distribute.NewHub()
	hub.Publish(gatewayIR("a", "web"), nil)
	srv := startServer(t, hub, "", nil)
	p := newFakeProxy()
	c := &Client{Addr: srv.addr, Gateway: "ns/a", Node: "a-pod-1", TokenFile: writeToken(t, "tok-a")}
	runClient(t, c, p)

	want := "[Backend/Service/ns/web Bind/:80 Listener/ns/a/http Route/ns/a-route/0]"
	eventually(t, "full set", func() bool { return p.names() == want })
	eventually(t, "connected", c.Connected)

	// The route starts sending to a second backend: it arrives with the route.
	hub.Publish([]ir.Resource{
		&ir.Backend{Name: "Service/ns/api"},
		&ir.Route{Name: "ns/a-route/0", Parents: []ir.RouteParent{{Listener: "ns/a/http"}},
			Backends: []ir.BackendRef{{Backend: "Service/ns/web"}, {Backend: "Service/ns/api"}}},
	}, nil)
	eventually(t, "new backend", func() bool {
		return p.names() == "[Backend/Service/ns/api Backend/Service/ns/web Bind/:80 Listener/ns/a/http Route/ns/a-route/0]"
	})
	// It stops referencing web: web is removed.
	hub.Publish([]ir.Resource{&ir.Route{Name: "ns/a-route/0", Parents: []ir.RouteParent{{Listener: "ns/a/http"}},
		Backends: []ir.BackendRef{{Backend: "Service/ns/api"}}}}, nil)
	eventually(t, "old backend removed", func() bool {
		return p.names() == "[Backend/Service/ns/api Bind/:80 Listener/ns/a/http Route/ns/a-route/0]"
	})
	eventually(t, "ack of the last version", func() bool {
		ps := srv.Proxies()
		return len(ps) == 1 && ps[0].VersionAcked == hub.Version() && ps[0].VersionSent == hub.Version()
	})
	ps := srv.Proxies()[0]
	if ps.Node != "a-pod-1" || ps.Gateway != "ns/a" || ps.Identity != "system:serviceaccount:ns:a-gatehouse" ||
		ps.ConnectedSince.IsZero() || ps.Responses != 3 || ps.BytesSent == 0 || len(ps.Rejections) != 0 {
		t.Fatalf("status %+v", ps)
	}
	if v, _ := p.snapshot(); v != hub.Version() {
		t.Fatalf("proxy at version %d, hub %d", v, hub.Version())
	}
}

func TestGatewaysSeeOnlyTheirOwn(t *testing.T) {
	hub := distribute.NewHub()
	hub.Publish(append(gatewayIR("a", "web"), gatewayIR("b", "shop")...), nil)
	srv := startServer(t, hub, "", nil)
	pa, pb := newFakeProxy(), newFakeProxy()
	runClient(t, &Client{Addr: srv.addr, Gateway: "ns/a", Node: "a-1", TokenFile: writeToken(t, "tok-a")}, pa)
	runClient(t, &Client{Addr: srv.addr, Gateway: "ns/b", Node: "b-1", TokenFile: writeToken(t, "tok-b")}, pb)
	eventually(t, "gateway a", func() bool {
		return pa.names() == "[Backend/Service/ns/web Bind/:80 Listener/ns/a/http Route/ns/a-route/0]"
	})
	eventually(t, "gateway b", func() bool {
		return pb.names() == "[Backend/Service/ns/shop Bind/:80 Listener/ns/b/http Route/ns/b-route/0]"
	})
	// A change only b can see reaches b and not a.
	_, before := pa.snapshot()
	hub.Publish([]ir.Resource{&ir.Backend{Name: "Service/ns/shop", Ports: []ir.BackendPort{{Port: 81}}}}, nil)
	eventually(t, "b gets its backend", func() bool {
		pb.mu.Lock()
		defer pb.mu.Unlock()
		k, _ := pb.state[ir.ID{Kind: ir.KindBackend, Name: "Service/ns/shop"}].(*ir.Backend)
		return k != nil && len(k.Ports) == 1 && k.Ports[0].Port == 81
	})
	time.Sleep(50 * time.Millisecond)
	if _, after := pa.snapshot(); after != before {
		t.Fatalf("gateway a received %d responses for a change of gateway b", after-before)
	}
}

func TestNACKIsRecordedAndProxyKeepsGoing(t *testing.T) {
	hub := distribute.NewHub()
	hub.Publish(gatewayIR("a", "web"), nil)
	srv := startServer(t, hub, "", nil)
	p := newFakeProxy()
	p.reject = func(r ir.Resource) string {
		if r.ResourceID().Name == "ns/bad/0" {
			return "regex does not compile"
		}
		return ""
	}
	runClient(t, &Client{Addr: srv.addr, Gateway: "ns/a", Node: "a-1", TokenFile: writeToken(t, "tok-a")}, p)
	eventually(t, "full set", holds(p, 4))

	hub.Publish([]ir.Resource{&ir.Route{Name: "ns/bad/0", Parents: []ir.RouteParent{{Listener: "ns/a/http"}}}}, nil)
	eventually(t, "NACK recorded", func() bool {
		ps := srv.Proxies()
		return len(ps) == 1 && ps[0].VersionAcked == hub.Version() && len(ps[0].Rejections) == 1
	})
	rej := srv.Proxies()[0].Rejections[0]
	if rej.ID != (ir.ID{Kind: ir.KindRoute, Name: "ns/bad/0"}) || rej.Reason != "regex does not compile" {
		t.Fatalf("rejection %+v", rej)
	}
	// The stream goes on: the next change is applied and ACKed.
	hub.Publish([]ir.Resource{&ir.Route{Name: "ns/good/0", Parents: []ir.RouteParent{{Listener: "ns/a/http"}}}}, nil)
	eventually(t, "ACK after NACK", func() bool {
		ps := srv.Proxies()
		return len(ps) == 1 && ps[0].VersionAcked == hub.Version() && len(ps[0].Rejections) == 0
	})
	if !strings.Contains(p.names(), "Route/ns/good/0") || strings.Contains(p.names(), "Route/ns/bad/0") {
		t.Fatalf("proxy holds %s", p.names())
	}
}

// holds reports whether the proxy holds n resources.
func holds(p *fakeProxy, n int) func() bool {
	return func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.state) == n }
}

func TestUndecodableResourceIsRejectedRestApplied(t *testing.T) {
	good := gatewayIR("a", "web")[1]
	a, _ := anypbFor(t, good)
	resp := &discoveryv3.DeltaDiscoveryResponse{
		SystemVersionInfo: "7",
		Resources: []*discoveryv3.Resource{
			{Name: "Listener/ns/a/http", Resource: a},
			{Name: "Route/ns/r/0", Resource: &anypb.Any{TypeUrl: "type.googleapis.com/gatehouse.ir.v1.Route", Value: []byte{0xff, 0x01}}},
			{Name: "Route/ns/x/0", Resource: a}, // name and content disagree
		},
		RemovedResources: []string{"Backend/Service/ns/old", "nonsense"},
	}
	c := &Client{held: map[ir.ID]struct{}{{Kind: ir.KindBind, Name: ":81"}: {}, {Kind: ir.KindRoute, Name: "ns/r/0"}: {}}}
	d, rej := c.toDelta(resp, true)
	if d.Version != 7 || len(d.Upserts) != 1 || d.Upserts[0].ResourceID() != good.ResourceID() {
		t.Fatalf("delta %+v", d)
	}
	// Bind/:81 is gone from the full set; Route/ns/r/0 is present but bad, so
	// the proxy keeps its previous version instead of removing it.
	if fmt.Sprint(d.Removes) != "[Backend/Service/ns/old Bind/:81]" {
		t.Fatalf("removes %v", d.Removes)
	}
	if len(rej) != 3 || rej[0].ID.Name != "ns/r/0" || !strings.Contains(rej[0].Reason, "decode") ||
		rej[1].ID.Name != "ns/x/0" || !strings.Contains(rej[2].Reason, "nonsense") {
		t.Fatalf("rejections %+v", rej)
	}
}

func TestReconnectConvergesAfterServerRestart(t *testing.T) {
	hub := distribute.NewHub()
	hub.Publish(gatewayIR("a", "web"), nil)
	srv := startServer(t, hub, "", nil)
	addr := srv.addr
	p := newFakeProxy()
	tokenFile := writeToken(t, "tok-a")
	c := &Client{Addr: addr, Gateway: "ns/a", Node: "a-1", TokenFile: tokenFile}
	runClient(t, c, p)
	eventually(t, "connected", c.Connected)
	eventually(t, "full set", holds(p, 4))

	srv.grpc.Stop()
	eventually(t, "disconnected", func() bool { return !c.Connected() })
	if p.names() != "[Backend/Service/ns/web Bind/:80 Listener/ns/a/http Route/ns/a-route/0]" {
		t.Fatalf("proxy lost its config while disconnected: %s", p.names())
	}

	// The controller comes back with different state (web was deleted, the
	// route now goes to api) and only accepts a rotated token.
	hub2 := distribute.NewHub()
	ir2 := gatewayIR("a", "api")
	hub2.Publish(ir2, nil)
	if err := writeFile(tokenFile, "tok-rotated"); err != nil {
		t.Fatal(err)
	}
	startServer(t, hub2, addr, func(o *Options) {
		o.Authenticator = StaticTokens{"tok-rotated": "system:serviceaccount:ns:a-gatehouse"}
	})
	eventually(t, "converged after restart", func() bool {
		return p.names() == "[Backend/Service/ns/api Bind/:80 Listener/ns/a/http Route/ns/a-route/0]"
	})
	eventually(t, "connected again", c.Connected)
}

func TestManyProxiesGetTheSameVersion(t *testing.T) {
	hub := distribute.NewHub()
	hub.Publish(gatewayIR("a", "web"), nil)
	srv := startServer(t, hub, "", func(o *Options) { o.MaxConcurrentSends = 4 })
	tok := writeToken(t, "tok-a")
	proxies := make([]*fakeProxy, 50)
	for i := range proxies {
		proxies[i] = newFakeProxy()
		runClient(t, &Client{Addr: srv.addr, Gateway: "ns/a", Node: fmt.Sprintf("a-%d", i), TokenFile: tok}, proxies[i])
	}
	eventually(t, "50 streams", func() bool { return len(srv.Proxies()) == 50 })
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			hub.Publish([]ir.Resource{&ir.Route{Name: fmt.Sprintf("ns/r%d/0", i), Parents: []ir.RouteParent{{Listener: "ns/a/http"}}}}, nil)
		}(i)
	}
	wg.Wait()
	want := hub.Version()
	for i, p := range proxies {
		eventually(t, fmt.Sprintf("proxy %d converged", i), func() bool { v, _ := p.snapshot(); return v == want && holds(p, 24)() })
	}
	eventually(t, "all acked", func() bool {
		for _, ps := range srv.Proxies() {
			if ps.VersionAcked != want {
				return false
			}
		}
		return true
	})
	first := proxies[0].names()
	for i, p := range proxies {
		if p.names() != first {
			t.Fatalf("proxy %d differs: %s", i, p.names())
		}
	}
}

func TestDebounceCoalescesBurst(t *testing.T) {
	hub := distribute.NewHub()
	hub.Publish(gatewayIR("a", "web"), nil)
	srv := startServer(t, hub, "", func(o *Options) { o.Debounce = 20 * time.Millisecond })
	p := newFakeProxy()
	runClient(t, &Client{Addr: srv.addr, Gateway: "ns/a", Node: "a-1", TokenFile: writeToken(t, "tok-a")}, p)
	eventually(t, "full set", holds(p, 4))
	_, before := p.snapshot()
	for i := 0; i < 100; i++ {
		hub.Publish([]ir.Resource{&ir.Route{Name: fmt.Sprintf("ns/r%d/0", i), Parents: []ir.RouteParent{{Listener: "ns/a/http"}}}}, nil)
	}
	eventually(t, "burst applied", holds(p, 104))
	time.Sleep(50 * time.Millisecond)
	_, after := p.snapshot()
	if n := after - before; n > 3 {
		t.Fatalf("a burst of 100 publishes took %d responses, want at most 3", n)
	}
	t.Logf("100 publishes -> %d responses", after-before)
}

func TestSubscriptionEndsWithStream(t *testing.T) {
	hub := distribute.NewHub()
	srv := startServer(t, hub, "", nil)
	p := newFakeProxy()
	c := &Client{Addr: srv.addr, Gateway: "ns/a", Node: "a-1", TokenFile: writeToken(t, "tok-a")}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx, p.apply) }()
	eventually(t, "stream", func() bool { return len(srv.Proxies()) == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v after cancel", err)
	}
	eventually(t, "stream gone", func() bool { return len(srv.Proxies()) == 0 })
}
