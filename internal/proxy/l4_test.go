package proxy

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/proxy/listener"
)

// l4Cert returns a self-signed certificate for names, as PEM.
func l4Cert(t *testing.T, names ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// lineBackend serves TCP (or TLS when cert is set) on loopback: it greets
// with "name sni\n", then echoes every line; on EOF from the client it says
// "bye\n" and closes (so half-close can be checked).
func lineBackend(t *testing.T, name string, certPEM, keyPEM []byte) *ir.Backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var cfg *tls.Config
	if certPEM != nil {
		kp, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		cfg = &tls.Config{Certificates: []tls.Certificate{kp}}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveLines(c, name, cfg)
		}
	}()
	a := ln.Addr().(*net.TCPAddr)
	return &ir.Backend{Name: name, Ports: []ir.BackendPort{{Port: 7000,
		Endpoints: []ir.Endpoint{{Address: "127.0.0.1", Port: int32(a.Port), Ready: true}}}}}
}

func serveLines(c net.Conn, name string, cfg *tls.Config) {
	defer c.Close()
	sni := "-"
	if cfg != nil {
		tc := tls.Server(c, cfg)
		if tc.Handshake() != nil {
			return
		}
		sni = tc.ConnectionState().ServerName
		c = tc
	}
	fmt.Fprintf(c, "%s %s\n", name, sni)
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			fmt.Fprint(c, "bye\n")
			return
		}
		fmt.Fprint(c, "echo "+line)
	}
}

// l4Proxy starts a proxy with one bind of protocol proto on a free
// loopback port and returns it with the bind's address.
func l4Proxy(t *testing.T, proto ir.Protocol, resources ...ir.Resource) (*Proxy, string) {
	t.Helper()
	p := New(Options{Logger: quietLogger(), Listener: listener.Options{DrainTimeout: time.Second}})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = p.Shutdown(ctx)
	})
	bind := &ir.Bind{Name: "127.0.0.1:0", Address: "127.0.0.1", Port: 0, Protocol: proto}
	if rej := p.Apply(ir.Delta{Version: 1, Upserts: append([]ir.Resource{bind}, resources...)}); len(rej) != 0 {
		t.Fatalf("rejections: %v", rej)
	}
	return p, p.Listeners().Addr(bind.Name).String()
}

func l4Listener(name string, proto ir.Protocol, host string, mode ir.TLSMode, certs ...string) *ir.Listener {
	return &ir.Listener{Name: name, Gateway: "gw", Bind: "127.0.0.1:0", Protocol: proto, Hostname: host, TLSMode: mode, Certificates: certs}
}

func l4Route(name, listener string, hosts []string, created time.Time, backends ...ir.BackendRef) *ir.L4Route {
	return &ir.L4Route{Name: name, Created: created, Parents: []ir.RouteParent{{Listener: listener, Hostnames: hosts}}, Backends: backends}
}

func share(backend string, weight int32) ir.BackendRef {
	return ir.BackendRef{Backend: backend, Port: 7000, Weight: weight}
}

// greeting connects (through TLS with serverName when useTLS) and returns
// the backend's greeting line, or the error.
func greeting(addr, serverName string, useTLS bool) (string, net.Conn, error) {
	var c net.Conn
	var err error
	d := &net.Dialer{Timeout: 5 * time.Second}
	if useTLS {
		c, err = tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: serverName, InsecureSkipVerify: true})
	} else {
		c, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return "", nil, err
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		c.Close()
		return "", nil, err
	}
	return strings.TrimSpace(line), c, nil
}

func TestL4PassthroughPicksBackendBySNI(t *testing.T) {
	crt, key := l4Cert(t, "a.example.com", "b.example.com", "x.example.com")
	a, b := lineBackend(t, "A", crt, key), lineBackend(t, "B", crt, key)
	_, addr := l4Proxy(t, ir.ProtocolTLS, a, b,
		l4Listener("gw/tls", ir.ProtocolTLS, "*.example.com", ir.TLSPassthrough),
		l4Route("TLSRoute/ns/a", "gw/tls", []string{"a.example.com"}, time.Time{}, share("A", 1)),
		l4Route("TLSRoute/ns/wild", "gw/tls", []string{"*.example.com"}, time.Time{}, share("B", 1)))
	for sni, want := range map[string]string{"a.example.com": "A a.example.com", "b.example.com": "B b.example.com", "X.Example.com": "B X.Example.com"} {
		got, c, err := greeting(addr, sni, true)
		if err != nil {
			t.Fatalf("%s: %v", sni, err)
		}
		c.Close()
		if got != want {
			t.Errorf("SNI %s: greeting %q, want %q (backend and the SNI it saw)", sni, got, want)
		}
	}
	// Matching ignores case; the bytes (and so the SNI the backend sees)
	// are passed through untouched. A name no route serves, and no SNI at all: the connection is closed
	// without a handshake.
	for _, sni := range []string{"other.org", ""} {
		if got, c, err := greeting(addr, sni, true); err == nil {
			c.Close()
			t.Errorf("SNI %q: got greeting %q, want the connection closed", sni, got)
		}
	}
}

func TestL4TerminateServesListenerCertificate(t *testing.T) {
	crt, key := l4Cert(t, "secure.example.org")
	plain := lineBackend(t, "P", nil, nil)
	_, addr := l4Proxy(t, ir.ProtocolTLS, plain,
		&ir.Certificate{Name: "ns/cert", CertPEM: crt, KeyPEM: key},
		l4Listener("gw/term", ir.ProtocolTLS, "secure.example.org", ir.TLSTerminate, "ns/cert"),
		l4Route("TLSRoute/ns/t", "gw/term", []string{"secure.example.org"}, time.Time{}, share("P", 1)))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(crt)
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "secure.example.org", RootCAs: pool})
	if err != nil {
		t.Fatalf("handshake with the listener's certificate: %v", err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil || line != "P -\n" {
		t.Fatalf("greeting %q, %v; want the plaintext backend (no TLS, no SNI)", line, err)
	}
	fmt.Fprint(c, "hello\n")
	if line, err := r.ReadString('\n'); err != nil || line != "echo hello\n" {
		t.Fatalf("echo %q, %v", line, err)
	}
}

func TestL4TCPWeightedSplitAndHalfClose(t *testing.T) {
	v1, v2, v3 := lineBackend(t, "v1", nil, nil), lineBackend(t, "v2", nil, nil), lineBackend(t, "v3", nil, nil)
	old := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	_, addr := l4Proxy(t, ir.ProtocolTCP, v1, v2, v3,
		l4Listener("gw/tcp", ir.ProtocolTCP, "", ""),
		l4Route("TCPRoute/ns/w", "gw/tcp", nil, old, share("v1", 3), share("v2", 1), share("v3", 0)),
		// A newer route on the same listener is ignored (oldest wins).
		l4Route("TCPRoute/ns/newer", "gw/tcp", nil, old.Add(time.Hour), share("v3", 1)))
	counts := map[string]int{}
	const n = 400
	for range n {
		got, c, err := greeting(addr, "", false)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		counts[strings.Fields(got)[0]]++
	}
	// Expected 300/100/0; the bounds are many standard deviations wide.
	if counts["v3"] != 0 || counts["v1"] < 240 || counts["v1"] > 360 || counts["v1"]+counts["v2"] != n {
		t.Errorf("split %v, want about 300 v1, 100 v2 and no v3", counts)
	}

	// Half-close: the client stops sending, the backend sees EOF, and its
	// last words still reach the client.
	_, c, err := greeting(addr, "", false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "ping\n")
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(c)
	if err != nil || string(rest) != "echo ping\nbye\n" {
		t.Fatalf("after half-close got %q, %v; want the echo and the backend's goodbye", rest, err)
	}
}

func TestL4ConfigChangeKeepsLiveConnection(t *testing.T) {
	a, b := lineBackend(t, "A", nil, nil), lineBackend(t, "B", nil, nil)
	p, addr := l4Proxy(t, ir.ProtocolTCP, a, b,
		l4Listener("gw/tcp", ir.ProtocolTCP, "", ""),
		l4Route("TCPRoute/ns/r", "gw/tcp", nil, time.Time{}, share("A", 1)))
	got, live, err := greeting(addr, "", false)
	if err != nil || got != "A -" {
		t.Fatalf("greeting %q, %v", got, err)
	}
	defer live.Close()
	if rej := p.Apply(ir.Delta{Version: 2, Upserts: []ir.Resource{
		l4Route("TCPRoute/ns/r", "gw/tcp", nil, time.Time{}, share("B", 1)),
	}}); len(rej) != 0 {
		t.Fatalf("rejections: %v", rej)
	}
	if got, c, err := greeting(addr, "", false); err != nil || got != "B -" {
		t.Fatalf("new connection after the change: %q, %v; want B", got, err)
	} else {
		c.Close()
	}
	r := bufio.NewReader(live)
	fmt.Fprint(live, "still there\n")
	if line, err := r.ReadString('\n'); err != nil || line != "echo still there\n" {
		t.Fatalf("live connection after the change: %q, %v", line, err)
	}
	// Removing the route closes no established connection either.
	p.Apply(ir.Delta{Version: 3, Removes: []ir.ID{{Kind: ir.KindL4Route, Name: "TCPRoute/ns/r"}}})
	fmt.Fprint(live, "and now\n")
	if line, err := r.ReadString('\n'); err != nil || line != "echo and now\n" {
		t.Fatalf("live connection after the route was removed: %q, %v", line, err)
	}
	if got, c, err := greeting(addr, "", false); err == nil {
		c.Close()
		t.Fatalf("new connection without a route got %q, want it closed", got)
	}
}
