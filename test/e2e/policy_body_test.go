package e2e

import (
	"bytes"
	"compress/gzip"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// bodyUpstream serves /wrap/small (JSON), /wrap/big (2 MiB, over the
// buffering cap) and /fixed (gzip-encoded with an ETag).
func bodyUpstream(t *testing.T) (string, int) {
	t.Helper()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte("compressed upstream body"))
	_ = zw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/wrap/small":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"greeting":"hi"}`))
		case "/wrap/big":
			w.Header().Set("Content-Length", strconv.Itoa(2<<20))
			_, _ = w.Write(bytes.Repeat([]byte("x"), 2<<20))
		default:
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("ETag", `"v1"`)
			_, _ = w.Write(gz.Bytes())
		}
	}))
	t.Cleanup(srv.Close)
	a := srv.Listener.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

const bodyPolicies = `apiVersion: gatehouse.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: wrap, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: wrap}]
  transformation:
    response:
      set: [{name: x-wrapped, value: '"yes"'}]
      body: '"{\"status\":" + string(response.code) + ",\"upstream\":" + string(response.body) + "}"'
---
apiVersion: gatehouse.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: fixed, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: fixed}]
  transformation:
    response:
      body: '"hello " + request.headers["x-name"] + " from " + response.headers["x-wrapped-by"]'
      set: [{name: x-wrapped-by, value: 'route'}]
`

func TestResponseBodyReplacement(t *testing.T) {
	h, p := bodyUpstream(t)
	g := startGateway(t, map[string]string{
		"backend.yaml":  staticBackend("a", h, p),
		"routes.yaml":   routeTo("wrap", "", "/wrap", "a", p) + "---\n" + routeTo("fixed", "", "/fixed", "a", p),
		"policies.yaml": bodyPolicies,
	})
	// response.body: the upstream's JSON is buffered and wrapped.
	resp, body := g.get("/wrap/small", "")
	if want := `{"status":200,"upstream":{"greeting":"hi"}}`; body != want || resp.Header.Get("X-Wrapped") != "yes" {
		t.Errorf("wrap: %q (x-wrapped %q), want %q", body, resp.Header.Get("X-Wrapped"), want)
	}
	if resp.ContentLength != int64(len(body)) {
		t.Errorf("wrap: Content-Length %d for a %d-byte body", resp.ContentLength, len(body))
	}
	// Over the 1 MiB cap the body streams through unchanged.
	if _, body = g.get("/wrap/big", ""); len(body) != 2<<20 || strings.Trim(body, "x") != "" {
		t.Errorf("big body: got %d bytes, want the upstream's 2 MiB unchanged", len(body))
	}
	// Without response.body: replaced as soon as the status is known;
	// Content-Encoding and ETag of the upstream's entity are dropped.
	resp, body = g.get("/fixed", "", "X-Name", "ann", "Accept-Encoding", "gzip")
	if body != "hello ann from default/fixed" {
		t.Errorf("fixed: %q", body)
	}
	if resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Etag") != "" {
		t.Errorf("fixed: upstream entity headers kept: %v", resp.Header)
	}
	// A runtime failure (the header is missing) leaves the body unchanged.
	resp, body = g.get("/fixed", "", "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" || !strings.HasPrefix(body, "\x1f\x8b") {
		t.Errorf("failing expression: got %q (encoding %q), want the upstream's gzip body", body, resp.Header.Get("Content-Encoding"))
	}
}

func TestResponseBodyCompileErrorRejectsPolicy(t *testing.T) {
	h, p := bodyUpstream(t)
	g := startGateway(t, map[string]string{
		"backend.yaml": staticBackend("a", h, p),
		"route.yaml":   routeTo("wrap", "", "/wrap", "a", p),
		"policy.yaml": `apiVersion: gatehouse.dev/v1alpha1
kind: TrafficPolicy
metadata: {name: bad, namespace: default}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: wrap}]
  transformation:
    response:
      body: 'response.code'
`,
	})
	if _, body := g.get("/wrap/small", ""); body != `{"greeting":"hi"}` {
		t.Errorf("traffic changed by a rejected policy: %q", body)
	}
	st := g.adminGet("/status")
	if !strings.Contains(st, "transformation.response.body") || !strings.Contains(st, "string or bytes") {
		t.Errorf("status does not name the field and the type problem:\n%s", st)
	}
}
