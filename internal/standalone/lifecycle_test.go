package standalone

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/testkit"
)

// slowUpstream answers "/slow" only when release is closed; it reports
// each slow request's arrival on started.
func slowUpstream(t *testing.T) (srv *httptest.Server, started chan struct{}, release chan struct{}) {
	started, release = make(chan struct{}, 4), make(chan struct{})
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/slow") {
			started <- struct{}{}
			<-release
		}
		fmt.Fprint(w, "done "+r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	return srv, started, release
}

type result struct {
	code int
	body string
	err  error
}

func getAsync(url string) chan result {
	ch := make(chan result, 1)
	go func() {
		code, body, err := httpGet(url)
		ch <- result{code, body, err}
	}()
	return ch
}

// TestHotReloadKeepsInFlightRequest: a request in flight while the config
// changes (a route is added) completes normally.
func TestHotReloadKeepsInFlightRequest(t *testing.T) {
	up, started, release := slowUpstream(t)
	dir, port := t.TempDir(), testkit.FreePort(t)
	writeFile(t, dir, "gw.yaml", gatewayYAML(port, up.Listener.Addr().String()))
	in := start(t, dir, 0)
	defer in.Stop(context.Background())
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	inflight := getAsync(base + "/slow/1")
	<-started
	writeFile(t, dir, "extra.yaml", `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: extra, namespace: default}
spec:
  parentRefs: [{name: edge}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /new}}]
    filters: [{type: RequestRedirect, requestRedirect: {statusCode: 302, hostname: moved.example}}]
`)
	eventually(t, "the new route", func() bool {
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Get(base + "/new")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 302
	})
	close(release)
	r := <-inflight
	if r.err != nil || r.code != 200 || r.body != "done /slow/1" {
		t.Fatalf("in-flight request across a reload: %d %q %v", r.code, r.body, r.err)
	}
}

// TestGracefulStop: Stop turns readiness false first while still serving
// (ShutdownDelay), then stops accepting, and the request in flight
// completes.
func TestGracefulStop(t *testing.T) {
	up, started, release := slowUpstream(t)
	dir, port := t.TempDir(), testkit.FreePort(t)
	writeFile(t, dir, "gw.yaml", gatewayYAML(port, up.Listener.Addr().String()))
	in := start(t, dir, 300*time.Millisecond)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	admin := "http://" + in.AdminAddr.String()
	if code, _, _ := httpGet(admin + "/ready"); code != 200 {
		t.Fatalf("/ready before stop: %d", code)
	}
	inflight := getAsync(base + "/slow/2")
	<-started

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- in.Stop(ctx)
	}()
	eventually(t, "/ready to answer 503", func() bool { code, _, _ := httpGet(admin + "/ready"); return code == 503 })
	// During the shutdown delay the gateway still serves new requests.
	if code, body, err := httpGet(base + "/during-delay"); err != nil || code != 200 || body != "done /during-delay" {
		t.Errorf("request during the shutdown delay: %d %q %v", code, body, err)
	}
	// Then the listener stops accepting while the old request is in flight.
	eventually(t, "the listener to stop accepting", func() bool { _, _, err := httpGet(base + "/after"); return err != nil })
	if code, _, _ := httpGet(admin + "/healthz"); code != 200 {
		t.Errorf("/healthz during drain: %d", code)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) before the in-flight request finished", err)
	default:
	}
	close(release)
	r := <-inflight
	if r.err != nil || r.code != 200 || r.body != "done /slow/2" {
		t.Fatalf("in-flight request across shutdown: %d %q %v", r.code, r.body, r.err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
}
