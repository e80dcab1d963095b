package telemetry

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/provision"
	"gatehouse.dev/gatehouse/internal/proxy"
	"gatehouse.dev/gatehouse/internal/proxy/listener"
)

// scrape returns the samples of reg in the classic text format.
func scrape(t *testing.T, h http.Handler) []sample {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	return parseExposition(t, string(text))
}

// waitValue polls the metric until it has the value (connection state
// changes are reported by the server's goroutines, after the client saw
// its response).
func waitValue(t *testing.T, h http.Handler, name string, labels map[string]string, want float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := find(scrape(t, h), name, labels)
		if len(got) == 1 && got[0].value == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%v = %v, want %v", name, labels, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDownstreamConnectionMetrics: open connections are counted per bind
// from accept to close.
func TestDownstreamConnectionMetrics(t *testing.T) {
	reg := NewRegistry()
	m := NewProxyMetrics(reg)
	h := Handler(reg)
	_, base := testProxyWith(t, proxy.Options{Listener: listener.Options{ConnState: m.ConnState}}, okUpstream)
	addr := base[len("http://"):]
	bind := map[string]string{"bind": "127.0.0.1:0"}
	var conns []net.Conn
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	waitValue(t, h, "gatehouse_proxy_downstream_connections_active", bind, 3)
	waitValue(t, h, "gatehouse_proxy_downstream_connections_total", bind, 3)
	for _, c := range conns[:2] {
		c.Close()
	}
	waitValue(t, h, "gatehouse_proxy_downstream_connections_active", bind, 1)
	waitValue(t, h, "gatehouse_proxy_downstream_connections_total", bind, 3)
	conns[2].Close()
	waitValue(t, h, "gatehouse_proxy_downstream_connections_active", bind, 0)
}

// TestProvisionMetrics: each outcome reported by provisioning is counted by
// kind and result.
func TestProvisionMetrics(t *testing.T) {
	reg := NewRegistry()
	cm := NewControllerMetrics(reg, ControllerSources{})
	var rec provision.Recorder = cm.ObserveProvision
	rec("Deployment", provision.Created)
	rec("Deployment", provision.Unchanged)
	rec("Deployment", provision.Unchanged)
	rec("Service", provision.Failed)
	samples := scrape(t, Handler(reg))
	for _, c := range []struct {
		kind, result string
		want         float64
	}{{"Deployment", "created", 1}, {"Deployment", "unchanged", 2}, {"Service", "error", 1}} {
		got := find(samples, "gatehouse_controller_provision_objects_total", map[string]string{"kind": c.kind, "result": c.result})
		if len(got) != 1 || got[0].value != c.want {
			t.Errorf("%s %s: %v, want %v", c.kind, c.result, got, c.want)
		}
	}
}
