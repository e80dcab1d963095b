package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// multiBackend is a StaticBackend with one endpoint per upstream.
func multiBackend(name string, ups ...*faultUpstream) string {
	eps := make([]string, len(ups))
	for i, u := range ups {
		eps[i] = fmt.Sprintf("%q", fmt.Sprintf("127.0.0.1:%d", u.port))
	}
	return fmt.Sprintf(`apiVersion: gatehouse.dev/v1alpha1
kind: StaticBackend
metadata: {name: %s, namespace: default}
spec: {endpoints: [%s]}
`, name, strings.Join(eps, ", "))
}

// faultRoute sends everything to backend (every endpoint: no port) with the
// given timeouts line ("" for none); no retries are configured.
func faultRoute(backend, timeouts string) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: faults, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules:
  - backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: %s}]
%s`, backend, timeouts)
}

// TestUpstreamResets: an upstream that resets the connection before any
// response byte gets the client a 502; one that resets in the middle of the
// body (status already sent) makes the client's body read fail instead of
// hanging or completing short. With no retries configured a non-idempotent
// request reaches the upstream exactly once, and an idempotent one at most
// twice (the transport resends it only when a reused keep-alive connection
// turned out closed with nothing received, as net/http does).
func TestUpstreamResets(t *testing.T) {
	u := newFaultUpstream(t, "u")
	g := startGateway(t, map[string]string{
		"backends.yaml": multiBackend("u", u),
		"route.yaml":    faultRoute("u", ""),
	})
	eventually(t, "route served", func() bool {
		code, _, _ := g.send(http.MethodGet, "/ok", -1)
		return code == 200
	})
	for i := 0; i < 20; i++ {
		method := http.MethodPost
		if i%2 == 1 {
			method = http.MethodGet
		}
		code, _, err := g.send(method, "/reset-before-headers", i)
		if err != nil || code != http.StatusBadGateway {
			t.Fatalf("%s reset before headers: status %d, err %v; want 502", method, code, err)
		}
		n := u.count(fmt.Sprint(i))
		if method == http.MethodPost && n != 1 {
			t.Errorf("POST %d reached the upstream %d times, want exactly 1", i, n)
		}
		if method == http.MethodGet && (n < 1 || n > 2) {
			t.Errorf("GET %d reached the upstream %d times, want 1 (2 at most on a stale keep-alive connection)", i, n)
		}
	}
	for i := 100; i < 110; i++ {
		start := time.Now()
		code, body, err := g.send(http.MethodPost, "/reset-mid-body", i)
		if err == nil {
			t.Fatalf("reset mid-body: status %d, complete body of %d bytes; want a failed body read", code, len(body))
		}
		if code != 200 || len(body) > 100 {
			t.Errorf("reset mid-body: status %d, %d body bytes; want the 200 and at most the 100 bytes sent", code, len(body))
		}
		if time.Since(start) > 3*time.Second {
			t.Errorf("reset mid-body took %v: the client was left hanging", time.Since(start))
		}
		if n := u.count(fmt.Sprint(i)); n != 1 {
			t.Errorf("POST %d reached the upstream %d times, want 1", i, n)
		}
	}
	// The gateway keeps serving the same upstream afterwards.
	if code, _, err := g.send(http.MethodGet, "/ok", 1000); code != 200 || err != nil {
		t.Fatalf("after the resets: %d %v", code, err)
	}
}

// TestUpstreamTimeouts: the route's backendRequest and request timeouts
// answer 504 when the upstream does not answer in time, the upstream sees
// the request once, and the gateway does not wait for the upstream.
func TestUpstreamTimeouts(t *testing.T) {
	u := newFaultUpstream(t, "u")
	defer close(u.release)
	for _, tc := range []struct{ name, timeouts string }{
		{"backendRequest", "    timeouts: {request: 5s, backendRequest: 150ms}\n"},
		{"request", "    timeouts: {request: 150ms}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, map[string]string{
				"backends.yaml": multiBackend("u", u),
				"route.yaml":    faultRoute("u", tc.timeouts),
			})
			eventually(t, "route served", func() bool {
				code, _, _ := g.send(http.MethodGet, "/ok", -1)
				return code == 200
			})
			for i := 0; i < 3; i++ {
				seq := fmt.Sprintf("%s-%d", tc.name, i)
				req, _ := http.NewRequest(http.MethodPost, g.url("/hang"), nil)
				req.Header.Set("X-Request-Seq", seq)
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusGatewayTimeout {
					t.Fatalf("status %d, want 504", resp.StatusCode)
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("504 after %v; the gateway waited far beyond the 150ms timeout", d)
				}
				if n := u.count(seq); n != 1 {
					t.Errorf("request %s reached the upstream %d times, want 1", seq, n)
				}
			}
		})
	}
}

// TestEndpointDisappearsMidRequest: while a request is in flight to an
// endpoint, the endpoint is removed from the backend. The in-flight request
// still completes (the connection is not cut by the config change), and
// every new request goes to the remaining endpoint.
func TestEndpointDisappearsMidRequest(t *testing.T) {
	a := newFaultUpstream(t, "a")
	b := newFaultUpstream(t, "b")
	g := startGateway(t, map[string]string{
		"backends.yaml": multiBackend("ab", a, b),
		"route.yaml":    faultRoute("ab", ""),
	})
	eventually(t, "both endpoints served", func() bool {
		code, _, _ := g.send(http.MethodGet, "/ok", -1)
		return code == 200 && a.total() > 0 && b.total() > 0
	})
	// Park requests on /hang until some are in flight on a.
	type result struct {
		code int
		body string
		err  error
	}
	results := make(chan result, 20)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			code, body, err := g.send(http.MethodPost, "/hang", 500+i)
			results <- result{code, body, err}
		}(i)
	}
	eventually(t, "requests in flight on both endpoints", func() bool {
		return a.hanging.Load() > 0 && a.hanging.Load()+b.hanging.Load() == 8
	})
	g.write("backends.yaml", multiBackend("ab", b))
	// New requests go to b only; wait for the change to be applied, then
	// check a long run of requests.
	eventually(t, "a removed", func() bool {
		before := a.total()
		code, _, _ := g.send(http.MethodGet, "/ok", -2)
		return code == 200 && a.total() == before && strings.Contains(g.adminGet("/config_dump"), fmt.Sprint(b.port)) &&
			!strings.Contains(g.adminGet("/config_dump"), fmt.Sprint(a.port))
	})
	onA := a.total()
	for i := 0; i < 50; i++ {
		code, body, err := g.send(http.MethodGet, "/ok", 1000+i)
		if code != 200 || err != nil || !strings.Contains(body, "from b") {
			t.Fatalf("request %d after removal: %d %q %v", i, code, body, err)
		}
	}
	if a.total() != onA {
		t.Errorf("the removed endpoint received %d new requests", a.total()-onA)
	}
	close(a.release)
	close(b.release)
	wg.Wait()
	close(results)
	for r := range results {
		if r.code != 200 || r.err != nil {
			t.Errorf("in-flight request: %d %q %v; want it to finish", r.code, r.body, r.err)
		}
	}
	for _, u := range []*faultUpstream{a, b} {
		if d := u.duplicates(); len(d) > 0 {
			t.Errorf("%s received requests %v more than once", u.name, d)
		}
	}
}
