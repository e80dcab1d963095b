package telemetry

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/proxy"
	"gatehouse.dev/gatehouse/internal/proxy/listener"
)

// tcpEcho accepts connections on loopback and echoes each one until the
// client half-closes.
func tcpEcho(t *testing.T) *net.TCPAddr {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr)
}

// TestL4ConnectionsObserved: connections of TCP listeners are counted by
// outcome, with their bytes each way and the downstream connection
// metrics, and each one writes an access log line.
func TestL4ConnectionsObserved(t *testing.T) {
	reg := NewRegistry()
	m := NewProxyMetrics(reg)
	out := &lockedBuffer{}
	l, err := NewAccessLog(AccessLogOptions{Output: out})
	if err != nil {
		t.Fatal(err)
	}
	p := proxy.New(proxy.Options{Observer: NewObserver(m, l, nil), Logger: slog.New(slog.DiscardHandler),
		Listener: listener.Options{ConnState: m.ConnState, DrainTimeout: time.Second}})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = p.Shutdown(ctx)
	})
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().(*net.TCPAddr)
	dead.Close()
	echo := tcpEcho(t)
	tcpBind := func(name string) *ir.Bind {
		return &ir.Bind{Name: name, Address: "127.0.0.1", Protocol: ir.ProtocolTCP}
	}
	tcpListener := func(name, bind string) *ir.Listener {
		return &ir.Listener{Name: name, Gateway: "ns/gw", Bind: bind, Protocol: ir.ProtocolTCP}
	}
	route := func(name, listener, backend string) *ir.L4Route {
		return &ir.L4Route{Name: name, Parents: []ir.RouteParent{{Listener: listener}},
			Backends: []ir.BackendRef{{Backend: backend, Port: 80, Weight: 1}}}
	}
	if rej := p.Apply(ir.Delta{Version: 1, Upserts: []ir.Resource{
		tcpBind("127.0.0.1:0#echo"), tcpBind("127.0.0.1:0#dead"),
		backendAt("StaticBackend/ns/echo", echo), backendAt("StaticBackend/ns/dead", deadAddr),
		tcpListener("ns/gw/echo", "127.0.0.1:0#echo"), tcpListener("ns/gw/dead", "127.0.0.1:0#dead"),
		route("TCPRoute/ns/echo", "ns/gw/echo", "StaticBackend/ns/echo"),
		route("TCPRoute/ns/dead", "ns/gw/dead", "StaticBackend/ns/dead"),
	}}); len(rej) != 0 {
		t.Fatalf("rejected: %v", rej)
	}

	c, err := net.Dial("tcp", p.Listeners().Addr("127.0.0.1:0#echo").String())
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).CloseWrite()
	if got, err := io.ReadAll(c); err != nil || string(got) != "hello" {
		t.Fatalf("echo through the TCP listener: %q, %v", got, err)
	}
	c.Close()
	c, err = net.Dial("tcp", p.Listeners().Addr("127.0.0.1:0#dead").String())
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if n, _ := c.Read(make([]byte, 1)); n != 0 {
		t.Fatalf("read %d bytes from a connection whose backend refuses", n)
	}
	c.Close()

	srv := httptest.NewServer(Handler(reg))
	defer srv.Close()
	echoOK := map[string]string{"gateway": "ns/gw", "listener": "ns/gw/echo", "route": "TCPRoute/ns/echo",
		"backend": "StaticBackend/ns/echo"}
	var samples []sample
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		text, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		samples = parseExposition(t, string(text))
		both := len(find(samples, "gatehouse_proxy_l4_connections_total", map[string]string{"outcome": "ok"})) == 1 &&
			len(find(samples, "gatehouse_proxy_l4_connections_total", map[string]string{"outcome": "connect_error"})) == 1
		active := find(samples, "gatehouse_proxy_downstream_connections_active", map[string]string{"bind": "127.0.0.1:0#echo"})
		if both && len(active) == 1 && active[0].value == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("connections not observed: %+v", samples)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := find(samples, "gatehouse_proxy_l4_connections_total", withLabel(echoOK, "outcome", "ok")); len(got) != 1 || got[0].value != 1 {
		t.Errorf("ok connections: %+v, want one series = 1", got)
	}
	deadLabels := map[string]string{"listener": "ns/gw/dead", "route": "TCPRoute/ns/dead", "backend": "StaticBackend/ns/dead", "outcome": "connect_error"}
	if got := find(samples, "gatehouse_proxy_l4_connections_total", deadLabels); len(got) != 1 || got[0].value != 1 {
		t.Errorf("connect_error connections: %+v, want one series = 1", got)
	}
	for dir, want := range map[string]float64{"received": 5, "sent": 5} {
		if got := find(samples, "gatehouse_proxy_l4_bytes_total", withLabel(echoOK, "direction", dir)); len(got) != 1 || got[0].value != want {
			t.Errorf("bytes %s: %+v, want %v", dir, got, want)
		}
	}
	if got := find(samples, "gatehouse_proxy_l4_connection_duration_seconds_count", echoOK); len(got) != 1 || got[0].value != 1 {
		t.Errorf("duration count: %+v, want 1", got)
	}
	if got := find(samples, "gatehouse_proxy_l4_connection_duration_seconds_count", map[string]string{"route": "TCPRoute/ns/dead"}); len(got) != 0 {
		t.Errorf("a connection that never reached a backend has a duration: %+v", got)
	}
	if got := find(samples, "gatehouse_proxy_downstream_connections_total", map[string]string{"bind": "127.0.0.1:0#echo"}); len(got) != 1 || got[0].value != 1 {
		t.Errorf("downstream connections of the TCP bind: %+v, want 1", got)
	}

	lines := out.lines(t)
	if len(lines) != 2 {
		t.Fatalf("%d access log lines, want 2: %v", len(lines), lines)
	}
	byOutcome := map[any]map[string]any{}
	for _, line := range lines {
		byOutcome[line["outcome"]] = line
	}
	ok := byOutcome["ok"]
	for k, want := range map[string]any{"protocol": "TCP", "gateway": "ns/gw", "listener": "ns/gw/echo", "route": "TCPRoute/ns/echo",
		"backend": "StaticBackend/ns/echo", "bytes_received": float64(5), "bytes_sent": float64(5)} {
		if ok[k] != want {
			t.Errorf("ok line %s = %v, want %v (line %v)", k, ok[k], want, ok)
		}
	}
	if _, err := time.Parse(time.RFC3339Nano, ok["time"].(string)); err != nil {
		t.Errorf("time field: %v", err)
	}
	if failed := byOutcome["connect_error"]; failed == nil || failed["error"] == nil {
		t.Errorf("connect_error line missing or without an error: %v", lines)
	}
}

func withLabel(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for mk, mv := range m {
		out[mk] = mv
	}
	return out
}
