package listener

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

type (
	tlsHello = tls.ClientHelloInfo
	tlsCert  = tls.Certificate
)

// tlsDial handshakes with addr; roots nil skips verification.
func tlsDial(addr, serverName string, roots *x509.CertPool) (*tls.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return tls.DialWithDialer(d, "tcp", addr, &tls.Config{
		ServerName:         serverName,
		RootCAs:            roots,
		InsecureSkipVerify: roots == nil, //nolint:gosec // test: only checks the handshake happens
	})
}

// sniCerts serves a.test and b.test from two self-signed certificates.
func sniCerts(t *testing.T) (CertificateFunc, *x509.CertPool) {
	t.Helper()
	certA, leafA := selfSigned(t, "a.test")
	certB, leafB := selfSigned(t, "b.test")
	roots := x509.NewCertPool()
	roots.AddCert(leafA)
	roots.AddCert(leafB)
	byName := map[string]*tls.Certificate{"a.test": certA, "b.test": certB}
	return func(bind string, hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if bind != "tls" {
			return nil, fmt.Errorf("unexpected bind %q", bind)
		}
		if c := byName[hello.ServerName]; c != nil {
			return c, nil
		}
		return nil, errors.New("unknown server name")
	}, roots
}

func TestTLSPicksCertificateBySNI(t *testing.T) {
	certs, roots := sniCerts(t)
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := newTestManager(t, Options{Logger: logger}, certs)
	mustReconcile(t, m, loopbackBind("tls", ir.ProtocolHTTPS))
	addr := m.Addr("tls").String()

	for _, host := range []string{"a.test", "b.test"} {
		conn, err := tlsDial(addr, host, roots) // verification checks the name
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		st := conn.ConnectionState()
		if got := st.PeerCertificates[0].DNSNames[0]; got != host {
			t.Errorf("SNI %s got certificate for %s", host, got)
		}
		if st.Version < tls.VersionTLS12 {
			t.Errorf("negotiated TLS version %x below 1.2", st.Version)
		}
		conn.Close()
	}

	// No certificate for the name: the handshake fails, the bind lives on.
	if conn, err := tlsDial(addr, "unknown.test", nil); err == nil {
		conn.Close()
		t.Fatal("handshake for an unknown name succeeded")
	}
	if out := logs.String(); !strings.Contains(out, `level=DEBUG msg="TLS handshake without certificate"`) ||
		!strings.Contains(out, "serverName=unknown.test") || strings.Contains(out, "level=ERROR") {
		t.Errorf("want a Debug line for the failed handshake and no error, got:\n%s", out)
	}
	if conn, err := tlsDial(addr, "a.test", roots); err != nil {
		t.Fatalf("bind unusable after a failed handshake: %v", err)
	} else {
		conn.Close()
	}
}

func TestTLSRejectsOldVersions(t *testing.T) {
	certs, _ := sniCerts(t)
	m := newTestManager(t, Options{}, certs)
	mustReconcile(t, m, loopbackBind("tls", ir.ProtocolHTTPS))
	conn, err := tls.Dial("tcp", m.Addr("tls").String(), &tls.Config{
		ServerName: "a.test", InsecureSkipVerify: true, //nolint:gosec // test
		MaxVersion: tls.VersionTLS11,
	})
	if err == nil {
		conn.Close()
		t.Fatal("TLS 1.1 handshake succeeded")
	}
}

func TestHTTP2OverTLS(t *testing.T) {
	certs, roots := sniCerts(t)
	m := newTestManager(t, Options{}, certs)
	mustReconcile(t, m, loopbackBind("tls", ir.ProtocolHTTPS))
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: "b.test"},
		ForceAttemptHTTP2: true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr}
	if code, body := getBody(t, c, "https://"+m.Addr("tls").String()); code != 200 || body != "tls HTTP/2.0" {
		t.Fatalf("got %d %q, want the handler to see HTTP/2.0", code, body)
	}
	// An HTTP/1.1-only client still works over ALPN http/1.1.
	tr1 := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "a.test"}}
	t.Cleanup(tr1.CloseIdleConnections)
	if _, body := getBody(t, &http.Client{Transport: tr1}, "https://"+m.Addr("tls").String()); body != "tls HTTP/1.1" {
		t.Fatalf("HTTP/1.1 over TLS: %q", body)
	}
}

func TestH2CPriorKnowledge(t *testing.T) {
	m := newTestManager(t, Options{}, nil)
	mustReconcile(t, m, loopbackBind("plain", ir.ProtocolHTTP))
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	if code, body := getBody(t, &http.Client{Transport: tr}, "http://"+m.Addr("plain").String()); code != 200 || body != "plain HTTP/2.0" {
		t.Fatalf("got %d %q, want HTTP/2.0 by prior knowledge", code, body)
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
