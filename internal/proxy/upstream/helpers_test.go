package upstream

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/testkit"
)

// TestMain fails the package when tests leave server goroutines behind.
func TestMain(m *testing.M) { os.Exit(testkit.RunWithLeakCheck(m, 5*time.Second)) }

// newTestRegistry returns a Registry whose idle connections are closed at
// the end of the test. Logs go to log when it is not nil.
func newTestRegistry(t testing.TB, o Options) *Registry {
	t.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r := NewRegistry(o)
	t.Cleanup(r.CloseIdleConnections)
	return r
}

// startUpstream starts a loopback HTTP server closed at the end of the test.
func startUpstream(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// frontend starts a loopback server that forwards every request to tgt.
func frontend(t testing.TB, reg *Registry, tgt Target) *httptest.Server {
	t.Helper()
	return startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		reg.Forward(w, req, tgt)
	}))
}

// hostPort splits a server URL or address into an ir.Endpoint.
func endpointOf(t testing.TB, rawURL string, ready bool) ir.Endpoint {
	t.Helper()
	hp := rawURL
	if u, err := url.Parse(rawURL); err == nil && u.Host != "" {
		hp = u.Host
	}
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		t.Fatalf("split %q: %v", hp, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatalf("port %q: %v", port, err)
	}
	return ir.Endpoint{Address: host, Port: int32(p), Ready: ready}
}

// backendOf builds a one-port backend over the given endpoints.
func backendOf(name string, proto ir.AppProtocol, eps ...ir.Endpoint) *ir.Backend {
	return &ir.Backend{Name: name, Ports: []ir.BackendPort{{Port: 80, Protocol: proto, Endpoints: eps}}}
}

// mustUpdate applies b or fails the test.
func mustUpdate(t testing.TB, r *Registry, b *ir.Backend) {
	t.Helper()
	if err := r.Update(b); err != nil {
		t.Fatalf("Update(%s): %v", b.Name, err)
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// get sends a GET through c and returns status, body and headers.
func get(t testing.TB, c *http.Client, u string, hdr map[string]string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return res.StatusCode, string(b), res.Header
}

// fakeClock is an injectable clock for ejection tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// textHandler answers 200 with body s.
func textHandler(s string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, s)
	})
}

// newClient returns a client whose idle connections are closed at the end
// of the test.
func newClient(t testing.TB) *http.Client {
	t.Helper()
	tr := &http.Transport{Proxy: nil}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}
