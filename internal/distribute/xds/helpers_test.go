package xds

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"gatehouse.dev/gatehouse/internal/distribute"
	"gatehouse.dev/gatehouse/internal/ir"
)

// testServer is a Server listening on 127.0.0.1.
type testServer struct {
	*Server
	addr string
	grpc *grpc.Server
}

// tokens used by the tests: each proxy's ServiceAccount follows the default
// naming rule for its Gateway.
var testTokens = StaticTokens{
	"tok-a":     "system:serviceaccount:ns:a-gatehouse",
	"tok-b":     "system:serviceaccount:ns:b-gatehouse",
	"tok-other": "system:serviceaccount:other:a-gatehouse",
}

func startServer(t testing.TB, hub *distribute.Hub, addr string, mod func(*Options)) *testServer {
	t.Helper()
	o := Options{Hub: hub, Authenticator: testTokens}
	if mod != nil {
		mod(&o)
	}
	srv, err := NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lis net.Listener
	for i := 0; ; i++ { // a restarted server may briefly find its port busy
		if lis, err = net.Listen("tcp", addr); err == nil || i == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	srv.Register(g)
	go g.Serve(lis)
	ts := &testServer{Server: srv, addr: lis.Addr().String(), grpc: g}
	t.Cleanup(g.Stop)
	return ts
}

func writeToken(t testing.TB, token string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeProxy stands in for proxy.Proxy: it applies deltas to a map and can
// refuse chosen resources.
type fakeProxy struct {
	mu        sync.Mutex
	state     map[ir.ID]ir.Resource
	version   uint64
	responses int
	reject    func(ir.Resource) string // non-empty reason refuses the resource
	applied   chan ir.Delta            // optional, receives every delta
}

func newFakeProxy() *fakeProxy { return &fakeProxy{state: map[ir.ID]ir.Resource{}} }

func (p *fakeProxy) apply(d ir.Delta) []ir.Rejection {
	p.mu.Lock()
	var rej []ir.Rejection
	for _, id := range d.Removes {
		delete(p.state, id)
	}
	for _, r := range d.Upserts {
		if p.reject != nil {
			if reason := p.reject(r); reason != "" {
				rej = append(rej, ir.Rejection{ID: r.ResourceID(), Reason: reason})
				continue
			}
		}
		p.state[r.ResourceID()] = r
	}
	p.version = d.Version
	p.responses++
	p.mu.Unlock()
	if p.applied != nil {
		p.applied <- d
	}
	return rej
}

// names returns the sorted IDs the proxy holds.
func (p *fakeProxy) names() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for id := range p.state {
		out = append(out, id.String())
	}
	sort.Strings(out)
	return fmt.Sprint(out)
}

func (p *fakeProxy) snapshot() (version uint64, responses int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.version, p.responses
}

// runClient runs a client until the test ends.
func runClient(t testing.TB, c *Client, p *fakeProxy) {
	t.Helper()
	if c.MinBackoff == 0 {
		c.MinBackoff, c.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx, p.apply)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// eventually polls cond for up to 10 seconds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// gatewayIR returns a listener, bind and route for Gateway ns/<gw> whose
// route sends to backend Service/ns/<backend>.
func gatewayIR(gw, backend string) []ir.Resource {
	l := "ns/" + gw + "/http"
	return []ir.Resource{
		&ir.Bind{Name: ":80", Port: 80, Protocol: ir.ProtocolHTTP},
		&ir.Listener{Name: l, Gateway: "ns/" + gw, Bind: ":80", Protocol: ir.ProtocolHTTP},
		&ir.Route{Name: "ns/" + gw + "-route/0", Parents: []ir.RouteParent{{Listener: l}},
			Backends: []ir.BackendRef{{Backend: "Service/ns/" + backend, Port: 80, Weight: 1}}},
		&ir.Backend{Name: "Service/ns/" + backend, Ports: []ir.BackendPort{{Port: 80, Protocol: ir.AppHTTP1}}},
	}
}
