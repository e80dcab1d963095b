package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"gatehouse.dev/gatehouse/internal/distribute"
	"gatehouse.dev/gatehouse/internal/distribute/xds"
	"gatehouse.dev/gatehouse/internal/proxy"
	"gatehouse.dev/gatehouse/internal/source/file"
	"gatehouse.dev/gatehouse/internal/testkit"
	"gatehouse.dev/gatehouse/internal/translate"
)

// controlPlane is the Kubernetes-mode controller without a cluster: the
// file source feeds the translator, whose IR is served over delta xDS.
type controlPlane struct {
	hub  *distribute.Hub
	stop func()
}

func startControlPlane(t *testing.T, dir, addr string, log *slog.Logger) *controlPlane {
	t.Helper()
	tr := translate.New(translate.DefaultControllerName)
	hub := distribute.NewHub()
	tr.OnIR(func(c translate.IRChange) { hub.Publish(c.Upserts, c.Removes) })
	src := file.New(dir, tr, file.Options{Logger: log, Debounce: 2 * time.Millisecond})
	if _, err := src.Load(); err != nil {
		t.Fatal(err)
	}
	srv, err := xds.NewServer(xds.Options{Hub: hub, Logger: log,
		Authenticator: xds.StaticTokens{"proxy-token": "system:serviceaccount:default:gw-gatehouse"}})
	if err != nil {
		t.Fatal(err)
	}
	var lis net.Listener
	for i := 0; ; i++ { // the previous instance's port may take a moment to free
		if lis, err = net.Listen("tcp", addr); err == nil || i == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	srv.Register(gs)
	go func() { _ = gs.Serve(lis) }()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = src.Run(ctx) }()
	var once sync.Once
	cp := &controlPlane{hub: hub, stop: func() {
		once.Do(func() { cancel(); gs.Stop(); <-done })
	}}
	t.Cleanup(cp.stop)
	return cp
}

// gatewayIDs is what the control plane would send the Gateway's proxy now.
func (cp *controlPlane) gatewayIDs(t *testing.T) []string {
	t.Helper()
	sub := cp.hub.SubscribeGateway("default/gw")
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := sub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range d.Upserts {
		ids = append(ids, r.ResourceID().String())
	}
	sort.Strings(ids)
	return ids
}

// proxyIDs is what the proxy serves now.
func proxyIDs(px *proxy.Proxy) []string {
	var ids []string
	for _, e := range px.ConfigDump().Resources {
		ids = append(ids, e.ID.String())
	}
	sort.Strings(ids)
	return ids
}

// xdsProxy starts a proxy fed by an xds.Client for default/gw.
func xdsProxy(t *testing.T, addr string, log *slog.Logger, minB, maxB time.Duration) (*proxy.Proxy, *xds.Client) {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("proxy-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	px := proxy.New(proxy.Options{Logger: log})
	ctx, cancel := context.WithCancel(context.Background())
	c := &xds.Client{Addr: addr, Gateway: "default/gw", Node: "fault-proxy", TokenFile: tokenFile,
		Logger: log, MinBackoff: minB, MaxBackoff: maxB}
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx, px.Apply) }()
	t.Cleanup(func() { cancel(); <-done; _ = px.Shutdown(context.Background()) })
	return px, c
}

// traffic sends sequenced GETs to path until stopped, counting failures.
type traffic struct {
	sent, failed atomic.Int64
	firstErr     atomic.Value
	stop         chan struct{}
	done         chan struct{}
}

func startTraffic(g *gateway, path string, seqBase int) *traffic {
	tr := &traffic{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(tr.done)
		for i := 0; ; i++ {
			select {
			case <-tr.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			req, _ := http.NewRequest(http.MethodGet, g.url(path), nil)
			req.Header.Set("X-Request-Seq", fmt.Sprint(seqBase+i))
			resp, err := client.Do(req)
			tr.sent.Add(1)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			if err != nil {
				tr.failed.Add(1)
				tr.firstErr.CompareAndSwap(nil, fmt.Sprintf("request %d: %v", i, err))
			}
		}
	}()
	return tr
}

func (tr *traffic) finish(t *testing.T, what string) {
	t.Helper()
	close(tr.stop)
	<-tr.done
	if tr.sent.Load() == 0 {
		t.Fatalf("%s: no requests sent", what)
	}
	if f := tr.failed.Load(); f > 0 {
		t.Errorf("%s: %d of %d requests failed (first: %v)", what, f, tr.sent.Load(), tr.firstErr.Load())
	}
	t.Logf("%s: %d requests, 0 failed", what, tr.sent.Load())
}

// faultPrefixRoute sends a path prefix to every endpoint of a StaticBackend.
func faultPrefixRoute(name, prefix, backend string) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: %s, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches: [{path: {type: PathPrefix, value: %s}}]
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: %s}]
`, name, prefix, backend)
}

// manyRoutes writes n HTTPRoutes, each on its own path prefix, to backend a.
func manyRoutes(n int, prefix string) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString("---\n")
		}
		b.WriteString(faultPrefixRoute(fmt.Sprintf("%s%d", prefix, i), fmt.Sprintf("/%s%d", prefix, i), "a"))
	}
	return b.String()
}

// TestControllerDiesDuringPush: the controller is stopped right after a
// burst of changes, while its pushes are in flight. The proxy keeps serving
// its last configuration the whole time; the configuration changes while the
// controller is down; when it comes back the proxy reconnects and ends up with
// exactly the controller's current configuration, with nothing stale left
// over from what it held before.
func TestControllerDiesDuringPush(t *testing.T) {
	a := newFaultUpstream(t, "a")
	dir := t.TempDir()
	port := testkit.FreePort(t)
	write := func(name, content string) { testkit.WriteFileAtomic(t, dir, name, content) }
	write("gateway.yaml", fmt.Sprintf(classAndGateway, port))
	write("backends.yaml", multiBackend("a", a))
	write("route.yaml", faultPrefixRoute("steady", "/steady", "a"))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	cp := startControlPlane(t, dir, addr, log)
	px, c := xdsProxy(t, addr, log, 20*time.Millisecond, 200*time.Millisecond)
	g := &gateway{t: t, dir: dir, port: port}
	eventually(t, "steady route served over xDS", func() bool {
		code, _, _ := g.send(http.MethodGet, "/steady", -1)
		return code == 200
	})
	load := startTraffic(g, "/steady", 0)

	for round := 0; round < 3; round++ {
		// A stream of changes, one file each, that the controller is
		// pushing when it dies: it is stopped once the proxy has applied
		// some of them.
		burst := fmt.Sprintf("burst%d-", round)
		holding := func() int {
			n := 0
			for _, id := range proxyIDs(px) {
				if strings.Contains(id, burst) {
					n++
				}
			}
			return n
		}
		writerDone := make(chan struct{})
		go func() {
			defer close(writerDone)
			for i := 0; i < 100; i++ {
				write(fmt.Sprintf("%s%d.yaml", burst, i), faultPrefixRoute(fmt.Sprintf("%s%d", burst, i), fmt.Sprintf("/%s%d", burst, i), "a"))
				time.Sleep(time.Millisecond)
			}
		}()
		eventually(t, "the proxy applies part of the burst", func() bool { return holding() > 0 })
		cp.stop()
		t.Logf("round %d: the controller died with the proxy holding %d of the burst's 100 routes", round, holding())
		<-writerDone
		time.Sleep(300 * time.Millisecond) // the proxy is cut off, serving what it has
		// Config changes while the controller is down: the burst goes away,
		// other routes appear.
		for i := 0; i < 100; i++ {
			g.remove(fmt.Sprintf("%s%d.yaml", burst, i))
		}
		write("after.yaml", manyRoutes(5, fmt.Sprintf("after%d-", round)))
		cp = startControlPlane(t, dir, addr, log)
		want := cp.gatewayIDs(t)
		deadline := time.Now().Add(10 * time.Second)
		for !equalStrings(proxyIDs(px), want) || !c.Connected() {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the proxy did not converge on the controller's config:\n%s", round, diffIDs(want, proxyIDs(px)))
			}
			time.Sleep(10 * time.Millisecond)
		}
		code, _, _ := g.send(http.MethodGet, fmt.Sprintf("/after%d-4", round), -2)
		if code != 200 {
			t.Fatalf("round %d: a route added while the controller was down: %d", round, code)
		}
		code, _, _ = g.send(http.MethodGet, fmt.Sprintf("/burst%d-0", round), -3)
		if code != 404 {
			t.Fatalf("round %d: a route removed while the controller was down still answers %d", round, code)
		}
	}
	load.finish(t, "steady traffic across three controller deaths")
	if d := a.duplicates(); len(d) > 0 {
		t.Errorf("requests received more than once: %v", d)
	}
}

// relay is a TCP forwarder between the proxy and its controller that can
// cut the connection (and refuse new ones) for a while.
type relay struct {
	t        *testing.T
	addr, to string
	mu       sync.Mutex
	lis      net.Listener
	conns    []net.Conn
}

func newRelay(t *testing.T, to string) *relay {
	r := &relay{t: t, addr: fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t)), to: to}
	r.open()
	t.Cleanup(r.cut)
	return r
}

func (r *relay) open() {
	lis, err := net.Listen("tcp", r.addr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.lis = lis
	r.mu.Unlock()
	go func() {
		for {
			in, err := lis.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", r.to)
			if err != nil {
				in.Close()
				continue
			}
			r.mu.Lock()
			r.conns = append(r.conns, in, out)
			r.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
}

// cut closes the listener and every relayed connection.
func (r *relay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lis != nil {
		r.lis.Close()
		r.lis = nil
	}
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

// TestProxyCutFromController: the network between a proxy and its
// controller is cut for a few seconds (established stream closed, new
// connections refused) while the configuration changes. The proxy serves
// its last configuration throughout, reconnects with the client's default
// backoff, and converges within seconds of the network coming back.
func TestProxyCutFromController(t *testing.T) {
	a := newFaultUpstream(t, "a")
	b := newFaultUpstream(t, "b")
	dir := t.TempDir()
	port := testkit.FreePort(t)
	write := func(name, content string) { testkit.WriteFileAtomic(t, dir, name, content) }
	write("gateway.yaml", fmt.Sprintf(classAndGateway, port))
	write("backends.yaml", multiBackend("a", a)+"---\n"+multiBackend("b", b))
	write("route.yaml", faultPrefixRoute("steady", "/steady", "a"))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	cp := startControlPlane(t, dir, addr, log)
	rl := newRelay(t, addr)
	px, c := xdsProxy(t, rl.addr, log, 0, 0) // the defaults: 100ms doubling to 5s
	g := &gateway{t: t, dir: dir, port: port}
	eventually(t, "steady route served over xDS", func() bool {
		code, _, _ := g.send(http.MethodGet, "/steady", -1)
		return code == 200
	})
	load := startTraffic(g, "/steady", 0)
	rl.cut()
	eventually(t, "the proxy notices the cut", func() bool { return !c.Connected() })
	write("route2.yaml", faultPrefixRoute("added", "/added", "b"))
	time.Sleep(3 * time.Second)
	if code, _, _ := g.send(http.MethodGet, "/added", -2); code != 404 {
		t.Fatalf("a route added during the cut answered %d before the proxy reconnected", code)
	}
	rl.open()
	restored := time.Now()
	want := cp.gatewayIDs(t)
	deadline := time.Now().Add(15 * time.Second)
	for !equalStrings(proxyIDs(px), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the proxy did not converge after the network came back:\n%s", diffIDs(want, proxyIDs(px)))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("converged %v after the network came back", time.Since(restored).Round(time.Millisecond))
	if code, body, _ := g.send(http.MethodGet, "/added", -2); code != 200 || !strings.Contains(body, "from b") {
		t.Fatalf("route added during the cut: %d %q", code, body)
	}
	load.finish(t, "steady traffic across the cut")
	if d := a.duplicates(); len(d) > 0 {
		t.Errorf("requests received more than once: %v", d)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// diffIDs lists what the proxy lacks and what it holds that it should not.
func diffIDs(want, got []string) string {
	in := func(s []string, x string) bool {
		i := sort.SearchStrings(s, x)
		return i < len(s) && s[i] == x
	}
	var b strings.Builder
	for _, w := range want {
		if !in(got, w) {
			fmt.Fprintf(&b, "missing: %s\n", w)
		}
	}
	for _, x := range got {
		if !in(want, x) {
			fmt.Fprintf(&b, "stale: %s\n", x)
		}
	}
	return b.String()
}
