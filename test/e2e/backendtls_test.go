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
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// e2eCA is a throwaway certificate authority.
type e2eCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

func newE2ECA(t *testing.T) *e2eCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &e2eCA{cert: cert, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// leaf issues a certificate for dns names and URIs (server and client use).
func (ca *e2eCA) leaf(t *testing.T, dns []string, uris ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "leaf"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: dns,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	for _, u := range uris {
		pu, _ := url.Parse(u)
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	c, err := tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// secretFor encodes a certificate and its key as a kubernetes.io/tls Secret.
func secretFor(t *testing.T, name string, c tls.Certificate) string {
	t.Helper()
	kd, err := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	crt := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})
	key := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
	return tlsSecret(name, base64.StdEncoding.EncodeToString(crt), base64.StdEncoding.EncodeToString(key))
}

// mtlsBackend serves HTTPS on 127.0.0.1 with a certificate for
// backend.internal and a SPIFFE URI, demands a client certificate from
// clientCA, and echoes the SNI it was asked for.
func mtlsBackend(t *testing.T, ca, clientCA *e2eCA) int {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-SNI", r.TLS.ServerName)
		w.Header().Set("X-Client-Cert", r.TLS.PeerCertificates[0].Subject.CommonName)
		fmt.Fprintln(w, "secure")
	}))
	pool := x509.NewCertPool()
	pool.AddCert(clientCA.cert)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.leaf(t, []string{"backend.internal"}, "spiffe://td/ns/default/sa/backend")},
		ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().(*net.TCPAddr).Port
}

func backendTLSPolicy(validation string) string {
	return `apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: secure, namespace: default}
spec:
  targetRefs: [{group: "", kind: Service, name: secure, sectionName: https}]
  validation: ` + validation + "\n"
}

// TestBackendTLSPolicyEndToEnd: a Service behind a BackendTLSPolicy gets
// TLS with the policy's CA, SNI and name verification, SAN verification,
// and the Gateway's client certificate; a wrong name or a missing CA makes
// its requests fail with 5xx, and fixing the policy heals them.
func TestBackendTLSPolicyEndToEnd(t *testing.T) {
	ca, clientCA := newE2ECA(t), newE2ECA(t)
	port := mtlsBackend(t, ca, clientCA)
	indented := "    " + strings.ReplaceAll(strings.TrimSpace(ca.pem), "\n", "\n    ")
	files := map[string]string{
		"gateway.yaml": gatewayWith("  - {name: http, port: %[1]d, protocol: HTTP}\n") +
			"  tls:\n    backend:\n      clientCertificateRef: {name: gateway-client}\n",
		"client.yaml": secretFor(t, "gateway-client", clientCA.leaf(t, []string{"gateway"})),
		"ca.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: backend-ca, namespace: default}\ndata:\n  ca.crt: |\n" + indented + "\n",
		"service.yaml": fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: secure, namespace: default}
spec:
  ports: [{name: https, port: 443, targetPort: %[1]d}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: secure-1, namespace: default, labels: {kubernetes.io/service-name: secure}}
addressType: IPv4
ports: [{name: https, port: %[1]d}]
endpoints: [{addresses: [127.0.0.1]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: secure, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules:
  - backendRefs: [{name: secure, port: 443}]
`, port),
		"policy.yaml": backendTLSPolicy(`{hostname: backend.internal, caCertificateRefs: [{group: "", kind: ConfigMap, name: backend-ca}]}`),
	}
	g := startGateway(t, files)
	status := func() int { resp, _ := g.get("/", ""); return resp.StatusCode }

	eventually(t, "TLS to the backend", func() bool { return status() == 200 })
	resp, _ := g.get("/", "")
	if sni, cn := resp.Header.Get("X-Seen-SNI"), resp.Header.Get("X-Client-Cert"); sni != "backend.internal" || cn != "leaf" {
		t.Fatalf("backend saw SNI %q and client certificate %q; want backend.internal and the Gateway's", sni, cn)
	}

	g.write("policy.yaml", backendTLSPolicy(`{hostname: other.internal, caCertificateRefs: [{group: "", kind: ConfigMap, name: backend-ca}]}`))
	eventually(t, "a hostname the certificate does not carry to fail", func() bool { return status() == 502 })

	// With subjectAltNames the hostname is only the SNI.
	g.write("policy.yaml", backendTLSPolicy(`{hostname: other.internal, caCertificateRefs: [{group: "", kind: ConfigMap, name: backend-ca}],
    subjectAltNames: [{type: URI, uri: "spiffe://td/ns/default/sa/backend"}]}`))
	eventually(t, "the URI SAN to be accepted", func() bool { return status() == 200 })
	g.write("policy.yaml", backendTLSPolicy(`{hostname: backend.internal, caCertificateRefs: [{group: "", kind: ConfigMap, name: backend-ca}],
    subjectAltNames: [{type: Hostname, hostname: nope.internal}]}`))
	eventually(t, "a SAN the certificate does not carry to fail", func() bool { return status() == 502 })

	g.write("policy.yaml", backendTLSPolicy(`{hostname: backend.internal, caCertificateRefs: [{group: "", kind: ConfigMap, name: missing}]}`))
	eventually(t, "a policy without a valid CA to fail requests", func() bool { return status() >= 500 })
	eventually(t, "the policy to report NoValidCACertificate", func() bool {
		return strings.Contains(g.adminGet("/status"), "NoValidCACertificate")
	})

	g.write("policy.yaml", backendTLSPolicy(`{hostname: backend.internal, caCertificateRefs: [{group: "", kind: ConfigMap, name: backend-ca}]}`))
	eventually(t, "the fixed policy to serve again", func() bool { return status() == 200 })

	g.remove("client.yaml") // the backend demands a client certificate
	eventually(t, "requests without the client certificate to fail", func() bool { return status() == 502 })
}
