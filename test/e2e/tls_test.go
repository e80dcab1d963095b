package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"
)

// certPair returns base64 PEM certificate and key for dnsNames, self-signed,
// with serial as the certificate's serial number (to tell rotations apart).
func certPair(t *testing.T, serial int64, dnsNames ...string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: dnsNames[0]},
		DNSNames: dnsNames, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	return base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}))
}

func tlsSecret(name, crt, key string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: %s, namespace: default}
type: kubernetes.io/tls
data: {tls.crt: %s, tls.key: %s}
`, name, crt, key)
}

// tlsGet connects with SNI serverName, sends Host host, and returns the
// status and the serial of the certificate the gateway presented.
func tlsGet(t *testing.T, port int, serverName, host, path string) (int, int64, error) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: serverName, InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d%s", port, path), nil)
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, resp.TLS.PeerCertificates[0].SerialNumber.Int64(), nil
}

func TestTLSTerminationSNIAndRotation(t *testing.T) {
	h, p := upstream(t, "a")
	aCrt, aKey := certPair(t, 1, "a.example.com")
	bCrt, bKey := certPair(t, 2, "b.example.com")
	g := startGateway(t, map[string]string{
		"gateway.yaml": gatewayWith(`  - {name: a, port: %[1]d, protocol: HTTPS, hostname: a.example.com, tls: {certificateRefs: [{name: a-cert}]}}
  - {name: b, port: %[1]d, protocol: HTTPS, hostname: b.example.com, tls: {certificateRefs: [{name: b-cert}]}}
  - {name: c, port: %[1]d, protocol: HTTPS, hostname: c.example.com, tls: {certificateRefs: [{name: c-cert}]}}
`),
		"secrets.yaml": tlsSecret("a-cert", aCrt, aKey) + "---\n" + tlsSecret("b-cert", bCrt, bKey),
		"backend.yaml": staticBackend("a", h, p),
		"route.yaml":   routeTo("r", "", "/", "a", p),
	})
	for _, tc := range []struct {
		sni    string
		serial int64
	}{{"a.example.com", 1}, {"b.example.com", 2}} {
		code, serial, err := tlsGet(t, g.port, tc.sni, tc.sni, "/")
		if err != nil || code != 200 || serial != tc.serial {
			t.Fatalf("%s: code %d serial %d err %v; want 200 with certificate %d", tc.sni, code, serial, err, tc.serial)
		}
	}
	// The c listener's Secret does not exist yet: ResolvedRefs=False, and
	// its handshake fails while a and b keep serving.
	if !strings.Contains(g.adminGet("/status"), "Secret default/c-cert not found") {
		t.Errorf("status does not report the missing Secret")
	}
	if _, _, err := tlsGet(t, g.port, "c.example.com", "c.example.com", "/"); err == nil {
		t.Errorf("c.example.com handshake succeeded without a certificate")
	}
	// A Host that belongs to another listener than the SNI: 421.
	if code, _, err := tlsGet(t, g.port, "a.example.com", "b.example.com", "/"); err != nil || code != http.StatusMisdirectedRequest {
		t.Errorf("SNI a / Host b: %d %v, want 421", code, err)
	}
	// The Secret appears, then is rotated: each is served for new
	// connections without a restart.
	cCrt, cKey := certPair(t, 3, "c.example.com")
	g.write("secret-c.yaml", tlsSecret("c-cert", cCrt, cKey))
	eventually(t, "new Secret served", func() bool {
		code, serial, err := tlsGet(t, g.port, "c.example.com", "c.example.com", "/")
		return err == nil && code == 200 && serial == 3
	})
	aCrt2, aKey2 := certPair(t, 4, "a.example.com")
	g.write("secrets.yaml", tlsSecret("a-cert", aCrt2, aKey2)+"---\n"+tlsSecret("b-cert", bCrt, bKey))
	eventually(t, "rotated certificate served", func() bool {
		_, serial, err := tlsGet(t, g.port, "a.example.com", "a.example.com", "/")
		return err == nil && serial == 4
	})
	// Garbage in a Secret: the listener reports it and keeps the last good
	// certificate; the other listeners are untouched.
	g.write("secrets.yaml", tlsSecret("a-cert", base64.StdEncoding.EncodeToString([]byte("junk")), aKey2)+"---\n"+tlsSecret("b-cert", bCrt, bKey))
	eventually(t, "garbage certificate reported", func() bool {
		return strings.Contains(g.adminGet("/status"), "not a valid certificate")
	})
	if code, serial, err := tlsGet(t, g.port, "a.example.com", "a.example.com", "/"); err != nil || code != 200 || serial != 4 {
		t.Errorf("a after its Secret broke: %d %d %v; want the last valid certificate (4)", code, serial, err)
	}
	if code, serial, err := tlsGet(t, g.port, "b.example.com", "b.example.com", "/"); err != nil || code != 200 || serial != 2 {
		t.Errorf("b after a's Secret broke: %d %d %v", code, serial, err)
	}
}
