package e2e

import (
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
	"net/http"
	"strings"
	"testing"
	"time"
)

// testCA is a CA that signs client certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

func (ca *testCA) client(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func caConfigMap(name, caPEM string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: default}\ndata:\n  ca.crt: |\n%s", name,
		"    "+strings.ReplaceAll(strings.TrimSpace(caPEM), "\n", "\n    ")+"\n")
}

// mtlsGet makes one request with an optional client certificate.
func mtlsGet(port int, host string, cert *tls.Certificate) (int, error) {
	cfg := &tls.Config{ServerName: host, InsecureSkipVerify: true}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d/", port), nil)
	req.Host = host
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// TestFrontendClientCertificateValidation checks spec.tls.frontend: a
// listener validating client certificates against a ConfigMap CA accepts
// only clients of that CA (AllowValidOnly), the insecure fallback mode
// accepts every client and says so in the Gateway's status, and a missing CA
// ConfigMap keeps the listener down (NoValidCACertificate).
func TestFrontendClientCertificateValidation(t *testing.T) {
	h, p := upstream(t, "a")
	good, other := newTestCA(t, "good-ca"), newTestCA(t, "other-ca")
	crt, key := certPair(t, 1, "secure.example.com")
	gateway := func(mode string) string {
		return gatewayWith(`  - {name: https, port: %[1]d, protocol: HTTPS, hostname: secure.example.com, tls: {certificateRefs: [{name: cert}]}}
`) + fmt.Sprintf(`  tls:
    frontend:
      default:
        validation:
          mode: %s
          caCertificateRefs: [{group: "", kind: ConfigMap, name: client-ca}]
`, mode)
	}
	g := startGateway(t, map[string]string{
		"gateway.yaml": gateway("AllowValidOnly"),
		"secret.yaml":  tlsSecret("cert", crt, key),
		"backend.yaml": staticBackend("a", h, p),
		"route.yaml":   routeTo("r", "", "/", "a", p),
	})
	// The CA ConfigMap does not exist yet: the listener cannot validate and
	// does not serve.
	eventually(t, "missing CA reported", func() bool {
		return strings.Contains(g.adminGet("/status"), "NoValidCACertificate")
	})
	goodCert, otherCert := good.client(t, "alice"), other.client(t, "mallory")
	if _, err := mtlsGet(g.port, "secure.example.com", &goodCert); err == nil {
		t.Fatal("request succeeded while the listener had no CA to validate with")
	}

	g.write("ca.yaml", caConfigMap("client-ca", good.pem))
	eventually(t, "valid client accepted", func() bool {
		code, err := mtlsGet(g.port, "secure.example.com", &goodCert)
		return err == nil && code == 200
	})
	if _, err := mtlsGet(g.port, "secure.example.com", nil); err == nil {
		t.Error("a client without a certificate was accepted in AllowValidOnly mode")
	}
	if _, err := mtlsGet(g.port, "secure.example.com", &otherCert); err == nil {
		t.Error("a client certificate from another CA was accepted")
	}

	g.write("gateway.yaml", fmt.Sprintf(gateway("AllowInsecureFallback"), g.port))
	eventually(t, "insecure fallback accepts clients without a certificate", func() bool {
		code, err := mtlsGet(g.port, "secure.example.com", nil)
		return err == nil && code == 200
	})
	if code, err := mtlsGet(g.port, "secure.example.com", &goodCert); err != nil || code != 200 {
		t.Errorf("valid client in insecure fallback mode: %d %v", code, err)
	}
	if !strings.Contains(g.adminGet("/status"), "InsecureFrontendValidationMode") {
		t.Error("Gateway status does not warn about AllowInsecureFallback")
	}
}
