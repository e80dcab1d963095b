package telemetry

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/proxy"
)

// testProxy starts a proxy with obs on an ephemeral port, serving gateway
// "ns/gw", listener "ns/gw/http", HTTPRoute "ns/web" (rule 0: /ok -> the
// "StaticBackend/ns/up" backend at upstream; rule 1: /dead -> a backend whose
// only endpoint refuses connections). It returns the proxy and its base URL.
func testProxy(t *testing.T, obs proxy.Observer, upstream http.Handler) (*proxy.Proxy, string) {
	t.Helper()
	return testProxyWith(t, proxy.Options{Observer: obs}, upstream)
}

// testProxyWith is testProxy with more proxy options.
func testProxyWith(t *testing.T, o proxy.Options, upstream http.Handler) (*proxy.Proxy, string) {
	t.Helper()
	up := httptest.NewServer(upstream)
	t.Cleanup(up.Close)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().(*net.TCPAddr)
	dead.Close()
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	p := proxy.New(o)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = p.Shutdown(ctx)
	})
	rej := p.Apply(ir.Delta{Version: 7, Upserts: []ir.Resource{
		&ir.Bind{Name: "127.0.0.1:0", Address: "127.0.0.1", Protocol: ir.ProtocolHTTP},
		&ir.Listener{Name: "ns/gw/http", Gateway: "ns/gw", Bind: "127.0.0.1:0", Protocol: ir.ProtocolHTTP},
		backendAt("StaticBackend/ns/up", up.Listener.Addr().(*net.TCPAddr)),
		backendAt("StaticBackend/ns/dead", deadAddr),
		rule("ns/web", 0, "/ok", "StaticBackend/ns/up"),
		rule("ns/web", 1, "/dead", "StaticBackend/ns/dead"),
	}})
	if len(rej) > 0 {
		t.Fatalf("rejected: %v", rej)
	}
	return p, "http://" + p.Listeners().Addr("127.0.0.1:0").String()
}

func backendAt(name string, a *net.TCPAddr) *ir.Backend {
	return &ir.Backend{Name: name, Ports: []ir.BackendPort{{Port: 80, Protocol: ir.AppHTTP1,
		Endpoints: []ir.Endpoint{{Address: a.IP.String(), Port: int32(a.Port), Ready: true}}}}}
}

func rule(route string, index int, prefix, backend string) *ir.Route {
	return &ir.Route{Name: route + "/" + strconv.Itoa(index), RouteName: route, RuleIndex: index,
		Parents:  []ir.RouteParent{{Listener: "ns/gw/http"}},
		Matches:  []ir.Match{{Path: ir.PathMatch{Type: ir.PathPrefix, Value: prefix}}},
		Backends: []ir.BackendRef{{Backend: backend, Port: 80, Weight: 1}}}
}

func do(t *testing.T, method, url, body string, hdr ...string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// sample is one line of a text exposition.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// parseExposition parses the sample lines of the Prometheus / OpenMetrics
// text format (enough for the tests: no escapes inside label values).
func parseExposition(t *testing.T, text string) []sample {
	t.Helper()
	var out []sample
	for _, line := range strings.Split(text, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		s := sample{labels: map[string]string{}}
		rest := line
		if i := strings.IndexAny(line, "{ "); i >= 0 && line[i] == '{' {
			s.name = line[:i]
			end := strings.Index(line, "} ")
			for _, kv := range splitLabels(line[i+1 : end]) {
				k, v, _ := strings.Cut(kv, "=")
				s.labels[k] = strings.Trim(v, `"`)
			}
			rest = line[end+2:]
		} else {
			s.name, rest, _ = strings.Cut(line, " ")
		}
		fields := strings.Fields(rest)
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			t.Fatalf("bad sample line %q: %v", line, err)
		}
		s.value = v
		out = append(out, s)
	}
	return out
}

func splitLabels(s string) []string {
	var out []string
	inQuote, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// find returns the samples named name whose labels include want.
func find(samples []sample, name string, want map[string]string) []sample {
	var out []sample
	for _, s := range samples {
		if s.name != name {
			continue
		}
		ok := true
		for k, v := range want {
			if s.labels[k] != v {
				ok = false
			}
		}
		if ok {
			out = append(out, s)
		}
	}
	return out
}

// countingObserver wraps an observer and counts finished requests, so a
// test can wait for End (which runs after the client has its response).
type countingObserver struct {
	inner proxy.Observer
	mu    sync.Mutex
	ended int
}

func (c *countingObserver) Begin(r *http.Request) *http.Request { return c.inner.Begin(r) }

func (c *countingObserver) BeginUpstream(r *http.Request, backend string) (*http.Request, func(int)) {
	if uo, ok := c.inner.(proxy.UpstreamObserver); ok {
		return uo.BeginUpstream(r, backend)
	}
	return r, nil
}
func (c *countingObserver) End(info *proxy.RequestInfo) {
	c.inner.End(info)
	c.mu.Lock()
	c.ended++
	c.mu.Unlock()
}

// wait blocks until n requests have ended (or fails after 10s).
func (c *countingObserver) wait(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		got := c.ended
		c.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests ended, want %d", got, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
