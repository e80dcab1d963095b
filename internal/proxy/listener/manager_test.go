package listener

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

func TestReconcileKeepsExistingConnections(t *testing.T) {
	m := newTestManager(t, Options{}, nil)
	a := loopbackBind("a", ir.ProtocolHTTP)
	mustReconcile(t, m, a)
	addrA := m.Addr("a").String()

	var conns int
	c, tr := newClient(t)
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conns++
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	if code, body := getBody(t, c, "http://"+addrA); code != 200 || body != "a HTTP/1.1" {
		t.Fatalf("before: %d %q", code, body)
	}

	// Adding a bind (and passing a fresh but equal copy of a) must not
	// touch a's socket or connections.
	mustReconcile(t, m, &ir.Bind{Name: "a", Address: "127.0.0.1", Protocol: ir.ProtocolHTTP}, loopbackBind("b", ir.ProtocolHTTP))
	if got := m.Addr("a").String(); got != addrA {
		t.Fatalf("bind a moved from %s to %s", addrA, got)
	}
	if code, body := getBody(t, c, "http://"+addrA); code != 200 || body != "a HTTP/1.1" {
		t.Fatalf("after: %d %q", code, body)
	}
	if conns != 1 {
		t.Fatalf("client dialed %d times; the keep-alive connection was not kept", conns)
	}
	if code, body := getBody(t, c, "http://"+m.Addr("b").String()); code != 200 || body != "b HTTP/1.1" {
		t.Fatalf("new bind b: %d %q", code, body)
	}
}

func TestReconcileRemovesGracefully(t *testing.T) {
	m := newTestManager(t, Options{}, nil)
	started, release := make(chan struct{}), make(chan struct{})
	m.handler = func(*ir.Bind) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(started)
			<-release
			_, _ = io.WriteString(w, "finished")
		})
	}
	mustReconcile(t, m, loopbackBind("a", ir.ProtocolHTTP))
	addr := m.Addr("a").String()
	c, _ := newClient(t)
	type result struct {
		code int
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		res, err := c.Get("http://" + addr)
		if err != nil {
			done <- result{err: err}
			return
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		done <- result{res.StatusCode, string(b), err}
	}()
	<-started

	mustReconcile(t, m)
	if m.Addr("a") != nil {
		t.Fatal("removed bind still reports an address")
	}
	if conn, err := net.Dial("tcp", addr); err == nil {
		conn.Close()
		t.Fatal("removed bind still accepts connections")
	}
	close(release)
	if r := <-done; r.err != nil || r.code != 200 || r.body != "finished" {
		t.Fatalf("in-flight request: %d %q %v; want it to finish", r.code, r.body, r.err)
	}
}

func TestReconcileReportsPortConflict(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := int32(taken.Addr().(*net.TCPAddr).Port)

	m := newTestManager(t, Options{}, nil)
	conflict := &ir.Bind{Name: "conflict", Address: "127.0.0.1", Port: port, Protocol: ir.ProtocolHTTP}
	errs := m.Reconcile([]*ir.Bind{conflict, loopbackBind("ok", ir.ProtocolHTTP),
		{Name: "weird", Address: "127.0.0.1", Protocol: "SCTP"}})
	if err := errs["conflict"]; err == nil || !strings.Contains(err.Error(), "bind conflict") ||
		!strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("conflict error = %v", err)
	}
	if err := errs["weird"]; err == nil || !strings.Contains(err.Error(), `protocol "SCTP"`) {
		t.Fatalf("protocol error = %v", err)
	}
	if len(errs) != 2 {
		t.Fatalf("errors %v, want exactly conflict and weird", errs)
	}
	c, _ := newClient(t)
	if code, body := getBody(t, c, "http://"+m.Addr("ok").String()); code != 200 || body != "ok HTTP/1.1" {
		t.Fatalf("other bind: %d %q", code, body)
	}
	// Once the port is free, the next Reconcile opens the failed bind.
	taken.Close()
	mustReconcile(t, m, conflict, loopbackBind("ok", ir.ProtocolHTTP))
	if m.Addr("conflict") == nil {
		t.Fatal("bind not opened after the conflict went away")
	}
}

func TestReconcileReopensOnProtocolChange(t *testing.T) {
	cert, _ := selfSigned(t, "a.test")
	m := newTestManager(t, Options{}, func(string, *tlsHello) (*tlsCert, error) { return cert, nil })
	// A fixed port shows the socket is released before it is reopened.
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := int32(probe.Addr().(*net.TCPAddr).Port)
	probe.Close()
	b := &ir.Bind{Name: "a", Address: "127.0.0.1", Port: port, Protocol: ir.ProtocolHTTP}
	mustReconcile(t, m, b)
	mustReconcile(t, m, &ir.Bind{Name: "a", Address: "127.0.0.1", Port: port, Protocol: ir.ProtocolHTTPS})
	conn, err := tlsDial(m.Addr("a").String(), "a.test", nil)
	if err != nil {
		t.Fatalf("bind was not reopened as HTTPS: %v", err)
	}
	conn.Close()
}

func TestShutdownStopsEverything(t *testing.T) {
	m := newTestManager(t, Options{}, nil)
	mustReconcile(t, m, loopbackBind("a", ir.ProtocolHTTP))
	addr := m.Addr("a").String()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if conn, err := net.Dial("tcp", addr); err == nil {
		conn.Close()
		t.Fatal("socket still open after Shutdown")
	}
	errs := m.Reconcile([]*ir.Bind{loopbackBind("b", ir.ProtocolHTTP)})
	if err := errs["b"]; err == nil || !strings.Contains(err.Error(), "shut down") {
		t.Fatalf("Reconcile after Shutdown: %v", errs)
	}
}

func TestShutdownForcesAfterDeadline(t *testing.T) {
	m := newTestManager(t, Options{}, nil)
	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{})
	m.handler = func(*ir.Bind) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(started)
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
	}
	mustReconcile(t, m, loopbackBind("a", ir.ProtocolHTTP))
	c, _ := newClient(t)
	errc := make(chan error, 1)
	go func() {
		res, err := c.Get("http://" + m.Addr("a").String())
		if err == nil {
			res.Body.Close()
		}
		errc <- err
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := m.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want deadline exceeded", err)
	}
	if err := <-errc; err == nil {
		t.Fatal("the stuck request should have been cut off")
	}
}
