package listener

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

// echoStreams makes m serve layer-4 binds with a handler that greets with
// the bind's name and protocol, then echoes lines until the client closes
// or ctx ends.
func echoStreams(m *Manager) {
	m.SetStreamHandler(func(ctx context.Context, b *ir.Bind, c net.Conn) {
		stop := context.AfterFunc(ctx, func() { _ = c.Close() })
		defer stop()
		fmt.Fprintf(c, "%s %s\n", b.Name, b.Protocol)
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			fmt.Fprint(c, line)
		}
	})
}

func dialStream(t *testing.T, addr net.Addr) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		c.Close()
		t.Fatalf("greeting: %v", err)
	}
	return c, r, line
}

func TestStreamBindsServeRawConnections(t *testing.T) {
	m := newTestManager(t, Options{}, nil)
	echoStreams(m)
	mustReconcile(t, m, loopbackBind("tcp", ir.ProtocolTCP), loopbackBind("tls", ir.ProtocolTLS), loopbackBind("http", ir.ProtocolHTTP))
	for _, name := range []string{"tcp", "tls"} {
		c, _, line := dialStream(t, m.Addr(name))
		c.Close()
		if want := name + " " + map[string]string{"tcp": "TCP", "tls": "TLS"}[name] + "\n"; line != want {
			t.Errorf("%s: greeting %q, want %q", name, line, want)
		}
	}
	if m.Addr("http") == nil {
		t.Fatal("the HTTP bind next to the stream binds is not open")
	}
	// An unchanged bind keeps its socket and its connections across a
	// reconcile.
	addr := m.Addr("tcp")
	c, r, _ := dialStream(t, addr)
	defer c.Close()
	mustReconcile(t, m, loopbackBind("tcp", ir.ProtocolTCP))
	if m.Addr("tcp").String() != addr.String() {
		t.Fatalf("reconcile reopened an unchanged bind: %s -> %s", addr, m.Addr("tcp"))
	}
	fmt.Fprint(c, "ping\n")
	if line, err := r.ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("live connection after reconcile: %q, %v", line, err)
	}
}

func TestStreamBindWithoutHandlerFails(t *testing.T) {
	m := newTestManager(t, Options{}, nil)
	errs := m.Reconcile([]*ir.Bind{loopbackBind("tcp", ir.ProtocolTCP)})
	if errs["tcp"] == nil {
		t.Fatal("a TCP bind opened without a stream handler")
	}
}

func TestRemovedStreamBindDrainsThenCloses(t *testing.T) {
	m := newTestManager(t, Options{DrainTimeout: 200 * time.Millisecond}, nil)
	echoStreams(m)
	mustReconcile(t, m, loopbackBind("tcp", ir.ProtocolTCP))
	addr := m.Addr("tcp")
	c, r, _ := dialStream(t, addr)
	defer c.Close()
	mustReconcile(t, m) // the bind goes away
	if _, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
		t.Error("a removed bind still accepts connections")
	}
	// Until the drain deadline the connection keeps working...
	fmt.Fprint(c, "during drain\n")
	if line, err := r.ReadString('\n'); err != nil || line != "during drain\n" {
		t.Fatalf("connection during drain: %q, %v", line, err)
	}
	// ...then it is closed.
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("connection still open after the drain deadline")
	}
}

func TestShutdownClosesStreamConnections(t *testing.T) {
	m := newTestManager(t, Options{}, nil)
	echoStreams(m)
	mustReconcile(t, m, loopbackBind("tcp", ir.ProtocolTCP))
	c, r, _ := dialStream(t, m.Addr("tcp"))
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := m.Shutdown(ctx); err == nil {
		t.Error("Shutdown returned no error although a connection outlived its deadline")
	}
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("connection still open after shutdown")
	}
	if errs := m.Reconcile([]*ir.Bind{loopbackBind("tcp", ir.ProtocolTCP)}); errs["tcp"] == nil {
		t.Error("Reconcile opened a stream bind after Shutdown")
	}
}
