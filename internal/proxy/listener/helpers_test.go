package listener

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"os"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
	"gatehouse.dev/gatehouse/internal/testkit"
)

// TestMain fails the package when tests leave server goroutines behind.
func TestMain(m *testing.M) { os.Exit(testkit.RunWithLeakCheck(m, 5*time.Second)) }

// newTestManager returns a Manager shut down at the end of the test. Every
// bind answers with its name and the request's protocol.
func newTestManager(t *testing.T, o Options, certs CertificateFunc) *Manager {
	t.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m := NewManager(o, func(b *ir.Bind) http.Handler {
		name := b.Name
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %s", name, r.Proto)
		})
	}, certs)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return m
}

// loopbackBind is a bind on 127.0.0.1 with an ephemeral port.
func loopbackBind(name string, p ir.Protocol) *ir.Bind {
	return &ir.Bind{Name: name, Address: "127.0.0.1", Port: 0, Protocol: p}
}

// mustReconcile fails the test when any bind fails to open.
func mustReconcile(t *testing.T, m *Manager, binds ...*ir.Bind) {
	t.Helper()
	if errs := m.Reconcile(binds); errs != nil {
		t.Fatalf("Reconcile: %v", errs)
	}
}

// newClient returns an HTTP/1.1 client closed at the end of the test.
func newClient(t *testing.T) (*http.Client, *http.Transport) {
	t.Helper()
	tr := &http.Transport{Proxy: nil}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}, tr
}

// getBody GETs u and returns status and body.
func getBody(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// selfSigned makes a self-signed certificate for host and a pool trusting it.
func selfSigned(t *testing.T, host string) (*tls.Certificate, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: host},
		DNSNames:              []string{host},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf
}
