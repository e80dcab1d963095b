package soak

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/testkit"
)

// config is the gateway's config directory and what churns in it.
type config struct {
	t                   *testing.T
	dir                 string
	httpPort, httpsPort int
	ups                 *upstreams
}

func newConfig(t *testing.T, ups *upstreams) *config {
	c := &config{t: t, dir: t.TempDir(), httpPort: testkit.FreePort(t), httpsPort: testkit.FreePort(t), ups: ups}
	c.write("gateway.yaml", fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: gatehouse}
spec: {controllerName: gatehouse.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: gatehouse
  addresses: [{type: IPAddress, value: 127.0.0.1}]
  listeners:
  - {name: http, port: %d, protocol: HTTP}
  - name: https
    port: %d
    protocol: HTTPS
    tls: {mode: Terminate, certificateRefs: [{name: cert}]}
`, c.httpPort, c.httpsPort))
	c.write("secret.yaml", secret(t, 1))
	c.write("backends.yaml", backends(ups, ups.stable[:2]))
	c.write("routes.yaml", strings.Join([]string{
		route("stable", "/stable", "stable", ""),
		route("flip", "/flip", "stable", ""),
		route("slow", "/slow", "slow", "    timeouts: {request: 3s}\n"),
		route("restart", "/restart", "restart", ""),
	}, "---\n"))
	c.write("churn.yaml", "")
	return c
}

func (c *config) write(name, content string) { testkit.WriteFileAtomic(c.t, c.dir, name, content) }

// waitServing waits until every fixed route answers 200 over HTTP.
func (c *config) waitServing(t *testing.T) {
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range []string{"/stable/x", "/flip/x", "/slow/x", "/restart/x"} {
		for {
			code, err := get(http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d%s", c.httpPort, p))
			if err == nil && code == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not served: %d %v", p, code, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// churnRoutes rewrites the churn routes every 100 ms (some added, some
// removed, some changed) and flips the /flip route between two backends.
func (c *config) churnRoutes(ctx context.Context) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	for i := 0; sleepCtx(ctx, 100*time.Millisecond); i++ {
		c.write("churn.yaml", randomRoutes(rng))
		backend := []string{"stable", "alt"}[i%2]
		c.write("routes.yaml", strings.Join([]string{
			route("stable", "/stable", "stable", ""),
			route("flip", "/flip", backend, ""),
			route("slow", "/slow", "slow", "    timeouts: {request: 3s}\n"),
			route("restart", "/restart", "restart", ""),
		}, "---\n"))
	}
}

// rotateSecret replaces the listener's certificate every 5 s.
func (c *config) rotateSecret(ctx context.Context, t *testing.T) {
	for serial := int64(2); sleepCtx(ctx, 5*time.Second); serial++ {
		c.write("secret.yaml", secret(t, serial))
	}
}

// changeEndpoints moves the stable backend between endpoint sets every 2 s
// (every endpoint keeps running, so a request in flight to a removed one
// still completes).
func (c *config) changeEndpoints(ctx context.Context) {
	sets := [][]*upstream{c.ups.stable[:2], c.ups.stable[1:], {c.ups.stable[0], c.ups.stable[2]}}
	for i := 1; sleepCtx(ctx, 2*time.Second); i++ {
		c.write("backends.yaml", backends(c.ups, sets[i%len(sets)]))
	}
}

// sleepCtx sleeps d and reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func route(name, prefix, backend, timeouts string) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: %s, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [soak.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: %s}}]
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: %s}]
%s`, name, prefix, backend, timeouts)
}

func staticBackend(name string, eps ...*upstream) string {
	var list []string
	for _, u := range eps {
		list = append(list, fmt.Sprintf("%q", u.addr))
	}
	return fmt.Sprintf(`apiVersion: gatehouse.dev/v1alpha1
kind: StaticBackend
metadata: {name: %s, namespace: default}
spec: {endpoints: [%s]}
`, name, strings.Join(list, ", "))
}

func backends(ups *upstreams, stable []*upstream) string {
	return strings.Join([]string{
		staticBackend("stable", stable...),
		staticBackend("alt", ups.alt),
		staticBackend("slow", ups.slow),
		staticBackend("restart", ups.restart),
	}, "---\n")
}

// secret is a kubernetes.io/tls Secret with a fresh self-signed
// certificate for soak.example.com.
func secret(t *testing.T, serial int64) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "soak.example.com"},
		DNSNames: []string{"soak.example.com"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(typ string, b []byte) string {
		return base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}))
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: cert, namespace: default}
type: kubernetes.io/tls
data: {tls.crt: %s, tls.key: %s}
`, enc("CERTIFICATE", der), enc("EC PRIVATE KEY", kd))
}
