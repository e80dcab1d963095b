package l4

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

// clientHello returns the bytes a TLS client sends first for serverName.
func clientHello(t testing.TB, serverName string) []byte {
	t.Helper()
	client, server := net.Pipe()
	go func() {
		c := tls.Client(client, &tls.Config{ServerName: serverName, InsecureSkipVerify: true})
		_ = c.Handshake() // fails when the pipe closes
	}()
	_ = server.SetReadDeadline(time.Now().Add(5 * time.Second))
	name, raw, err := readClientHello(server)
	server.Close()
	client.Close()
	if err != nil || name != serverName {
		t.Fatalf("readClientHello = %q, %v; want %q", name, err, serverName)
	}
	return raw
}

func TestReadClientHello(t *testing.T) {
	raw := clientHello(t, "a.example.com")
	if len(raw) < 5 || raw[0] != 0x16 {
		t.Fatalf("recorded bytes do not start with a TLS handshake record: % x", raw[:min(len(raw), 5)])
	}
	// Replaying the recorded bytes yields the same hello.
	name, again, err := readClientHello(bytesReader(raw))
	if err != nil || name != "a.example.com" || len(again) != len(raw) {
		t.Fatalf("replay: %q, %d bytes, %v", name, len(again), err)
	}
	for _, bad := range [][]byte{nil, []byte("GET / HTTP/1.1\r\n\r\n"), raw[:len(raw)/2]} {
		if name, _, err := readClientHello(bytesReader(bad)); err == nil {
			t.Errorf("readClientHello(% x...) = %q, want an error", bad[:min(len(bad), 8)], name)
		}
	}
}

type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func bytesReader(b []byte) io.Reader { return &sliceReader{b: b} }

// FuzzReadClientHello feeds arbitrary bytes to the ClientHello reader: it
// must never panic, never record more than maxHelloBytes, and any server
// name it returns must come from a hello that parses again on replay.
func FuzzReadClientHello(f *testing.F) {
	f.Add(clientHello(f, "a.example.com"))
	f.Add([]byte{0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00})
	f.Add([]byte("PING\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		name, raw, err := readClientHello(bytesReader(data))
		if len(raw) > maxHelloBytes {
			t.Fatalf("recorded %d bytes, limit %d", len(raw), maxHelloBytes)
		}
		if err != nil {
			return
		}
		again, _, err := readClientHello(bytesReader(raw))
		if err != nil || again != name {
			t.Fatalf("replay of an accepted hello: %q, %v; first read %q", again, err, name)
		}
	})
}

func TestSlowClientHelloTimesOut(t *testing.T) {
	s := NewServer(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), HelloTimeout: 50 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := client.Write([]byte{0x16, 0x03, 0x01}); err != nil { // a record header, then nothing
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		s.ServeConn(context.Background(), &ir.Bind{Name: "b", Protocol: ir.ProtocolTLS}, conn)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second): // a hang, not a slow machine
		t.Fatal("ServeConn still waiting for a ClientHello long after the hello timeout")
	}
}

func TestLookup(t *testing.T) {
	old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ls := map[string]*ir.Listener{
		"wild":  {Name: "wild", Bind: "tls", Protocol: ir.ProtocolTLS, Hostname: "*.example.com"},
		"exact": {Name: "exact", Bind: "tls", Protocol: ir.ProtocolTLS, Hostname: "only.example.com"},
		"any":   {Name: "any", Bind: "tls", Protocol: ir.ProtocolTLS},
		"tcp":   {Name: "tcp", Bind: "tcp", Protocol: ir.ProtocolTCP},
		"http":  {Name: "http", Bind: "http", Protocol: ir.ProtocolHTTP},
	}
	route := func(name string, created time.Time, parents ...ir.RouteParent) *ir.L4Route {
		return &ir.L4Route{Name: name, Created: created, Parents: parents}
	}
	rs := map[string]*ir.L4Route{
		"a":      route("a", old, ir.RouteParent{Listener: "wild", Hostnames: []string{"a.example.com"}}),
		"a-new":  route("a-new", old.Add(time.Hour), ir.RouteParent{Listener: "wild", Hostnames: []string{"a.example.com", "*.b.example.com"}}),
		"star":   route("star", old, ir.RouteParent{Listener: "wild", Hostnames: []string{"*.example.com"}}),
		"only":   route("only", old, ir.RouteParent{Listener: "exact", Hostnames: []string{"only.example.com"}}),
		"other":  route("other", old, ir.RouteParent{Listener: "any", Hostnames: []string{"x.org"}}),
		"tcp":    route("tcp", old.Add(time.Hour), ir.RouteParent{Listener: "tcp"}),
		"tcp-b":  route("tcp-b", old, ir.RouteParent{Listener: "tcp"}),
		"orphan": route("orphan", old, ir.RouteParent{Listener: "gone"}),
	}
	tab := Build(ls, rs, nil)
	for _, tc := range []struct{ bind, sni, listener, route string }{
		{"tls", "a.example.com", "wild", "a"},        // exact beats wildcard; oldest wins
		{"tls", "A.EXAMPLE.COM.", "wild", "a"},       // case and trailing dot ignored
		{"tls", "c.b.example.com", "wild", "a-new"},  // longest wildcard
		{"tls", "z.example.com", "wild", "star"},     // wildcard
		{"tls", "only.example.com", "exact", "only"}, // the most specific listener
		{"tls", "x.org", "any", "other"},             // listener without hostname
		{"tls", "y.org", "any", ""},                  // listener but no route: closed
		{"tls", "", "any", ""},                       // no SNI
		{"tcp", "", "tcp", "tcp-b"},                  // oldest TCPRoute
		{"http", "", "", ""},                         // not an L4 bind
		{"nope", "a.example.com", "", ""},            // unknown bind
	} {
		l, r := tab.Lookup(tc.bind, tc.sni)
		gotL, gotR := "", ""
		if l != nil {
			gotL = l.Name
		}
		if r != nil {
			gotR = r.Name
		}
		if gotL != tc.listener || gotR != tc.route {
			t.Errorf("Lookup(%s, %q) = %q, %q; want %q, %q", tc.bind, tc.sni, gotL, gotR, tc.listener, tc.route)
		}
	}
}

func TestPickShareAndEndpoints(t *testing.T) {
	if pickShare([]ir.BackendRef{{Backend: "a", Weight: 0}}) != nil {
		t.Error("a zero-weight share was picked")
	}
	refs := []ir.BackendRef{{Backend: "a", Weight: 0}, {Backend: "b", Weight: 5}}
	for range 100 {
		if got := pickShare(refs); got == nil || got.Backend != "b" {
			t.Fatalf("pickShare = %v, want b", got)
		}
	}
	b := &ir.Backend{Name: "x", Ports: []ir.BackendPort{{Port: 80, Endpoints: []ir.Endpoint{
		{Address: "10.0.0.1", Port: 8080, Ready: false}, {Address: "10.0.0.2", Port: 8080, Ready: true}}}}}
	if eps := endpoints(b, 80); len(eps) != 1 || eps[0].Address != "10.0.0.2" {
		t.Errorf("endpoints = %v, want only the ready one", eps)
	}
	if eps := endpoints(b, 0); len(eps) != 1 {
		t.Errorf("port 0 = %v, want the first port's ready endpoint", eps)
	}
	if eps := endpoints(b, 81); eps != nil {
		t.Errorf("unknown port = %v, want none", eps)
	}
	var p picker
	seen := map[string]bool{}
	for range 4 {
		seen[p.order(b.Ports[0].Endpoints, 3)[0].Address] = true
	}
	if len(seen) != 2 {
		t.Errorf("round robin used %v, want both endpoints", seen)
	}
}
