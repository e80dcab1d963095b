package upstream

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

// testCA is a throwaway certificate authority for TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a leaf certificate (PEM chain, PEM key) for the given DNS
// names and URIs, usable as server and client certificate.
func (ca *testCA) issue(t *testing.T, dns []string, uris ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "leaf"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: dns,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	for _, u := range uris {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// tlsBackend starts an HTTPS server on 127.0.0.1 with a certificate for
// backend.internal (and a SPIFFE URI) from ca. With clientCA set it demands
// a client certificate signed by it.
func tlsBackend(t *testing.T, ca *testCA, clientCA *testCA) string {
	t.Helper()
	certPEM, keyPEM := ca.issue(t, []string{"backend.internal"}, "spiffe://cluster.local/ns/default/sa/backend")
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	srv.Listener, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	if clientCA != nil {
		pool := x509.NewCertPool()
		pool.AddCert(clientCA.cert)
		srv.TLS.ClientCAs, srv.TLS.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

// getWithTLS makes one request to url with the TLS config built from cfg.
func getWithTLS(t *testing.T, cfg ir.UpstreamTLS, url string) error {
	t.Helper()
	tc, err := newUpstreamTLSConfig(cfg)
	if err != nil {
		t.Fatalf("newUpstreamTLSConfig: %v", err)
	}
	tr := &http.Transport{TLSClientConfig: tc}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func TestUpstreamTLSVerification(t *testing.T) {
	ca, other := newTestCA(t, "backend-ca"), newTestCA(t, "other-ca")
	url := tlsBackend(t, ca, nil)
	san := func(typ ir.SANType, v string) []ir.SubjectAltName { return []ir.SubjectAltName{{Type: typ, Value: v}} }
	cases := []struct {
		name    string
		cfg     ir.UpstreamTLS
		wantErr string // substring; "" means success
	}{
		{"CA and hostname", ir.UpstreamTLS{ServerName: "backend.internal", CACertPEM: ca.pem}, ""},
		{"hostname mismatch", ir.UpstreamTLS{ServerName: "other.internal", CACertPEM: ca.pem}, "certificate is valid for backend.internal"},
		{"unknown CA", ir.UpstreamTLS{ServerName: "backend.internal", CACertPEM: other.pem}, "unknown authority"},
		{"system roots do not know a private CA", ir.UpstreamTLS{ServerName: "backend.internal"}, "unknown authority"},
		{"DNS SAN replaces the hostname", ir.UpstreamTLS{ServerName: "sni.only", CACertPEM: ca.pem,
			SubjectAltNames: san(ir.SANHostname, "backend.internal")}, ""},
		{"wildcard DNS SAN does not match", ir.UpstreamTLS{ServerName: "backend.internal", CACertPEM: ca.pem,
			SubjectAltNames: san(ir.SANHostname, "other.internal")}, "matches none of the subjectAltNames"},
		{"URI SAN", ir.UpstreamTLS{ServerName: "x", CACertPEM: ca.pem,
			SubjectAltNames: san(ir.SANURI, "spiffe://cluster.local/ns/default/sa/backend")}, ""},
		{"URI SAN mismatch", ir.UpstreamTLS{ServerName: "backend.internal", CACertPEM: ca.pem,
			SubjectAltNames: san(ir.SANURI, "spiffe://cluster.local/ns/default/sa/other")}, "matches none of the subjectAltNames"},
		{"SANs still verify the chain", ir.UpstreamTLS{ServerName: "backend.internal", CACertPEM: other.pem,
			SubjectAltNames: san(ir.SANHostname, "backend.internal")}, "unknown authority"},
		{"invalid refuses every connection", ir.UpstreamTLS{ServerName: "backend.internal", CACertPEM: ca.pem,
			Invalid: "no valid CA certificate"}, "upstream TLS is invalid: no valid CA certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := getWithTLS(t, tc.cfg, url)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("request failed: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestUpstreamTLSClientCertificate(t *testing.T) {
	ca, clientCA := newTestCA(t, "backend-ca"), newTestCA(t, "client-ca")
	url := tlsBackend(t, ca, clientCA)
	base := ir.UpstreamTLS{ServerName: "backend.internal", CACertPEM: ca.pem}
	if err := getWithTLS(t, base, url); err == nil {
		t.Fatal("a backend that requires a client certificate accepted a request without one")
	}
	withCert := base
	withCert.ClientCertPEM, withCert.ClientKeyPEM = clientCA.issue(t, []string{"gateway"})
	if err := getWithTLS(t, withCert, url); err != nil {
		t.Fatalf("request with the client certificate failed: %v", err)
	}
	wrong := base
	wrong.ClientCertPEM, wrong.ClientKeyPEM = ca.issue(t, []string{"gateway"}) // not signed by clientCA
	if err := getWithTLS(t, wrong, url); err == nil {
		t.Fatal("a client certificate from the wrong CA was accepted")
	}
}

func TestUpstreamTLSConfigErrors(t *testing.T) {
	ca := newTestCA(t, "ca")
	certPEM, _ := ca.issue(t, []string{"x"})
	_, otherKey := ca.issue(t, []string{"y"})
	cases := []struct {
		name string
		cfg  ir.UpstreamTLS
		want string
	}{
		{"CA not PEM", ir.UpstreamTLS{CACertPEM: []byte("garbage")}, "tls.caCertPEM"},
		{"client key missing", ir.UpstreamTLS{ClientCertPEM: certPEM}, "tls.clientCertPEM/clientKeyPEM"},
		{"client key of another certificate", ir.UpstreamTLS{ClientCertPEM: certPEM, ClientKeyPEM: otherKey}, "tls.clientCertPEM/clientKeyPEM"},
		{"SAN without value", ir.UpstreamTLS{SubjectAltNames: []ir.SubjectAltName{{Type: ir.SANURI}}}, "tls.subjectAltNames[0]"},
		{"SAN of unknown type", ir.UpstreamTLS{SubjectAltNames: []ir.SubjectAltName{{Type: "IP", Value: "1.2.3.4"}}}, "tls.subjectAltNames[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newUpstreamTLSConfig(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one naming %s", err, tc.want)
			}
		})
	}
}

func TestSameUpstreamTLS(t *testing.T) {
	base := ir.UpstreamTLS{ServerName: "a", CACertPEM: []byte("ca"), SubjectAltNames: []ir.SubjectAltName{{Type: ir.SANHostname, Value: "a"}}}
	same := base
	same.CACertPEM = []byte("ca")
	if !sameUpstreamTLS(&base, &same) {
		t.Fatal("equal settings reported different")
	}
	changes := []func(*ir.UpstreamTLS){
		func(c *ir.UpstreamTLS) { c.ServerName = "b" },
		func(c *ir.UpstreamTLS) { c.SubjectAltNames = []ir.SubjectAltName{{Type: ir.SANURI, Value: "a"}} },
		func(c *ir.UpstreamTLS) { c.ClientCertPEM = []byte("c") },
		func(c *ir.UpstreamTLS) { c.ClientKeyPEM = []byte("k") },
		func(c *ir.UpstreamTLS) { c.Invalid = "bad" },
		func(c *ir.UpstreamTLS) { c.InsecureSkipVerify = true },
		func(c *ir.UpstreamTLS) { c.CACertPEM = []byte("other") },
	}
	for i, change := range changes {
		c := base
		change(&c)
		if sameUpstreamTLS(&base, &c) {
			t.Errorf("change %d not detected", i)
		}
	}
}
