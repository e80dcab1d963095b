package e2e

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/testkit"
)

// sharedGateway is a Gateway owned by a platform team: one HTTP listener of
// its own (www.example.com on %[1]d) and ListenerSets allowed from every
// namespace.
const sharedGateway = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: gatehouse}
spec: {controllerName: gatehouse.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: shared, namespace: infra}
spec:
  gatewayClassName: gatehouse
  addresses: [{type: IPAddress, value: 127.0.0.1}]
  allowedListeners: {namespaces: {from: All}}
  listeners:
  - {name: www, port: %[1]d, protocol: HTTP, hostname: www.example.com}
`

// tenant returns an app team's files: a StaticBackend, a ListenerSet with
// the given listeners, and an HTTPRoute attached to the ListenerSet.
func tenant(ns, created, listeners, backendHost string, backendPort int) string {
	return fmt.Sprintf(`apiVersion: gatehouse.dev/v1alpha1
kind: StaticBackend
metadata: {name: app, namespace: %[1]s}
spec: {endpoints: ["%[4]s:%[5]d"]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {name: apps, namespace: %[1]s, creationTimestamp: %[2]q}
spec:
  parentRef: {name: shared, namespace: infra}
  listeners:
%[3]s---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app, namespace: %[1]s}
spec:
  parentRefs: [{kind: ListenerSet, name: apps}]
  rules: [{backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: app, port: %[5]d}]}]
`, ns, created, listeners, backendHost, backendPort)
}

// TestListenerSetConflictHandover runs two tenants claiming the same
// hostname: the older ListenerSet serves, the newer reports HostnameConflict
// without naming the other tenant; when the older one is deleted the newer
// one serves, and traffic on the Gateway's own listener never fails.
func TestListenerSetConflictHandover(t *testing.T) {
	wh, wp := upstream(t, "platform")
	ah, ap := upstream(t, "team-a")
	bh, bp := upstream(t, "team-b")
	listener := "  - {name: web, port: %d, protocol: HTTP, hostname: app.example.com}\n"
	g := startGateway(t, map[string]string{"gateway.yaml": sharedGateway, "platform.yaml": fmt.Sprintf(`apiVersion: gatehouse.dev/v1alpha1
kind: StaticBackend
metadata: {name: www, namespace: infra}
spec: {endpoints: ["%s:%d"]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: www, namespace: infra}
spec:
  parentRefs: [{name: shared}]
  rules: [{backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: www, port: %d}]}]
`, wh, wp, wp)})
	eventually(t, "platform serving", func() bool {
		resp, body := g.get("/", "www.example.com")
		return resp.StatusCode == 200 && strings.Contains(body, "platform")
	})
	g.write("team-a.yaml", tenant("team-a", "2026-01-01T00:00:00Z", fmt.Sprintf(listener, g.port), ah, ap))
	eventually(t, "team-a serving", func() bool {
		resp, body := g.get("/", "app.example.com")
		return resp.StatusCode == 200 && strings.Contains(body, "team-a")
	})
	g.write("team-b.yaml", tenant("team-b", "2026-02-01T00:00:00Z", fmt.Sprintf(listener, g.port), bh, bp))
	eventually(t, "team-b conflicted", func() bool {
		return strings.Contains(g.adminGet("/status"), "HostnameConflict")
	})
	status := g.adminGet("/status")
	if strings.Contains(status, "already used by another listener") && strings.Contains(status, "team-a/apps") {
		t.Errorf("conflict message reveals the winning tenant:\n%s", status)
	}
	if _, body := g.get("/", "app.example.com"); !strings.Contains(body, "team-a") {
		t.Fatalf("app.example.com served by %q, want the older ListenerSet (team-a)", body)
	}

	// Continuous traffic on the platform listener while the winner goes.
	var stop atomic.Bool
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := &http.Client{Timeout: 5 * time.Second}
		for !stop.Load() {
			req, _ := http.NewRequest(http.MethodGet, g.url("/"), nil)
			req.Host = "www.example.com"
			resp, err := c.Do(req)
			sent.Add(1)
			if err != nil {
				failed.Add(1)
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), "platform") {
				failed.Add(1)
			}
		}
	}()
	start := time.Now()
	g.remove("team-a.yaml")
	eventually(t, "team-b serving after team-a left", func() bool {
		resp, body := g.get("/", "app.example.com")
		return resp.StatusCode == 200 && strings.Contains(body, "team-b")
	})
	t.Logf("handover to the losing ListenerSet took %v", time.Since(start))
	time.Sleep(50 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if failed.Load() != 0 || sent.Load() == 0 {
		t.Errorf("platform listener: %d of %d requests failed during the handover, want 0", failed.Load(), sent.Load())
	}
}

// TestListenerSetCertificateLifecycle follows what cert-manager does for a
// ListenerSet: the listener exists before its Secret (ResolvedRefs=False,
// no TLS), the Secret appears (TLS served without a restart), and is later
// rotated (new connections get the new certificate; an open connection
// keeps working).
func TestListenerSetCertificateLifecycle(t *testing.T) {
	h, p := upstream(t, "team-a")
	tlsPort := testkit.FreePort(t)
	g := startGateway(t, map[string]string{"gateway.yaml": sharedGateway})
	listeners := fmt.Sprintf("  - {name: https, port: %d, protocol: HTTPS, hostname: secure.example.com, tls: {certificateRefs: [{name: secure-cert}]}}\n", tlsPort)
	g.write("team-a.yaml", tenant("team-a", "2026-01-01T00:00:00Z", listeners, h, p))
	eventually(t, "missing Secret reported", func() bool {
		return strings.Contains(g.adminGet("/status"), "Secret team-a/secure-cert not found")
	})
	if _, _, err := tlsGet(t, tlsPort, "secure.example.com", "secure.example.com", "/"); err == nil {
		t.Fatal("TLS handshake succeeded before the Secret existed")
	}

	secret := func(serial int64) string {
		crt, key := certPair(t, serial, "secure.example.com")
		return strings.Replace(tlsSecret("secure-cert", crt, key), "namespace: default", "namespace: team-a", 1)
	}
	g.write("secret.yaml", secret(1))
	eventually(t, "certificate served once the Secret exists", func() bool {
		code, serial, err := tlsGet(t, tlsPort, "secure.example.com", "secure.example.com", "/")
		return err == nil && code == 200 && serial == 1
	})

	// An open keep-alive connection made with certificate 1.
	tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: "secure.example.com", InsecureSkipVerify: true}, MaxConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	keep := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	getKeep := func() (int, int64, error) {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d/", tlsPort), nil)
		req.Host = "secure.example.com"
		resp, err := keep.Do(req)
		if err != nil {
			return 0, 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.TLS.PeerCertificates[0].SerialNumber.Int64(), nil
	}
	if code, serial, err := getKeep(); err != nil || code != 200 || serial != 1 {
		t.Fatalf("keep-alive request: %d %d %v", code, serial, err)
	}

	start := time.Now()
	g.write("secret.yaml", secret(2))
	eventually(t, "rotated certificate served to new connections", func() bool {
		_, serial, err := tlsGet(t, tlsPort, "secure.example.com", "secure.example.com", "/")
		return err == nil && serial == 2
	})
	t.Logf("rotation served to new connections after %v", time.Since(start))
	if code, serial, err := getKeep(); err != nil || code != 200 || serial != 1 {
		t.Errorf("the connection opened before the rotation: %d serial %d %v; want it kept (serial 1)", code, serial, err)
	}
	if !strings.Contains(g.adminGet("/status"), `"listenerSetStatus"`) {
		t.Errorf("status does not list the ListenerSet")
	}
}
