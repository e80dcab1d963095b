package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// retryUpstream is a recording upstream that fails the first tries of each
// request, told apart by the X-Request-Seq header. The query says how:
// fail=N tries fail, with status=S (or with a connection reset when status
// is absent); partial=1 makes every try send a 200 head and part of the
// body, then reset. Successful tries echo the request body.
type retryUpstream struct {
	port int

	mu     sync.Mutex
	tries  map[string][]time.Time
	bodies map[string][]int // body length per try
}

func newRetryUpstream(t *testing.T) *retryUpstream {
	t.Helper()
	u := &retryUpstream{tries: map[string][]time.Time{}, bodies: map[string][]int{}}
	srv := httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(srv.Close)
	u.port = srv.Listener.Addr().(*net.TCPAddr).Port
	return u
}

func (u *retryUpstream) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	seq := r.Header.Get("X-Request-Seq")
	u.mu.Lock()
	u.tries[seq] = append(u.tries[seq], time.Now())
	u.bodies[seq] = append(u.bodies[seq], len(body))
	try := len(u.tries[seq])
	u.mu.Unlock()
	q := r.URL.Query()
	if q.Get("partial") != "" {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(make([]byte, 100))
		w.(http.Flusher).Flush()
		resetConn(w)
		return
	}
	if fail, _ := strconv.Atoi(q.Get("fail")); try <= fail {
		status, _ := strconv.Atoi(q.Get("status"))
		if status == 0 {
			resetConn(w)
			return
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, "try %d failed\n", try)
		return
	}
	_, _ = w.Write(body)
}

// record returns the arrival times and body lengths of request seq's tries.
func (u *retryUpstream) record(seq string) ([]time.Time, []int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]time.Time(nil), u.tries[seq]...), append([]int(nil), u.bodies[seq]...)
}

// retryRoutes has one rule per retry setting, by path prefix.
func retryRoutes(port int) string {
	return fmt.Sprintf(`apiVersion: gatehouse.dev/v1alpha1
kind: StaticBackend
metadata: {name: flaky, namespace: default}
spec: {endpoints: ["127.0.0.1:%d"]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: retries, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /three}}]
    retry: {codes: [500, 503], attempts: 3, backoff: 0s}
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: flaky}]
  - matches: [{path: {type: PathPrefix, value: /slow}}]
    retry: {codes: [503], attempts: 2, backoff: 200ms}
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: flaky}]
  - matches: [{path: {type: PathPrefix, value: /bounded}}]
    retry: {codes: [503], attempts: 10, backoff: 300ms}
    timeouts: {request: 1500ms}
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: flaky}]
  - matches: [{path: {type: PathPrefix, value: /none}}]
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: flaky}]
`, port)
}

// do sends one request with sequence number seq and returns the status,
// the body and the body's read error; a transport error fails the test.
func (g *gateway) do(t *testing.T, method, path string, seq int, body io.Reader) (int, string, error) {
	t.Helper()
	req, err := http.NewRequest(method, g.url(path), body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Request-Seq", strconv.Itoa(seq))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func startRetryGateway(t *testing.T) (*gateway, *retryUpstream) {
	t.Helper()
	u := newRetryUpstream(t)
	g := startGateway(t, map[string]string{"route.yaml": retryRoutes(u.port)})
	probe := 0
	eventually(t, "retry route served", func() bool {
		probe--
		code, _, _ := g.do(t, http.MethodGet, "/three?fail=1&status=500", probe, nil)
		return code == 200
	})
	return g, u
}

// TestRetryStatusAndResets: listed statuses and resets before a response
// are retried up to the attempts; the last answer goes to the client; a
// status not listed, and a route without retries, are tried once. Resets
// are tested with POST: a GET that meets a reset on a reused keep-alive
// connection is also sent again once by the transport (as net/http does),
// which is not a retry of the route's and would blur the counts.
func TestRetryStatusAndResets(t *testing.T) {
	g, u := startRetryGateway(t)
	tests := []struct {
		method    string
		path      string
		wantCode  int
		wantTries int
	}{
		{http.MethodGet, "/three?fail=2&status=500", 200, 3},
		{http.MethodGet, "/three?fail=3&status=503", 200, 4},
		{http.MethodGet, "/three?fail=4&status=500", 500, 4},
		{http.MethodGet, "/three?fail=1&status=502", 502, 1},
		{http.MethodPost, "/three?fail=2", 200, 3},
		{http.MethodPost, "/three?fail=9", 502, 4},
		{http.MethodGet, "/none?fail=1&status=500", 500, 1},
		{http.MethodPost, "/none?fail=1", 502, 1},
	}
	for i, tc := range tests {
		code, body, _ := g.do(t, tc.method, tc.path, i, nil)
		tries, _ := u.record(strconv.Itoa(i))
		if code != tc.wantCode || len(tries) != tc.wantTries {
			t.Errorf("%s %s: got %d after %d tries, want %d after %d (body %q)", tc.method, tc.path, code, len(tries), tc.wantCode, tc.wantTries, body)
		}
	}
}

// TestRetryRequestBodies: a small POST body is replayed whole on every
// try; a large streamed one is sent once and its failure returned.
func TestRetryRequestBodies(t *testing.T) {
	g, u := startRetryGateway(t)
	small := strings.Repeat("s", 10<<10)
	code, body, _ := g.do(t, http.MethodPost, "/three?fail=2&status=503", 1, strings.NewReader(small))
	_, lens := u.record("1")
	if code != 200 || body != small || len(lens) != 3 {
		t.Fatalf("small POST: got %d with %d bytes after %d tries, want 200 echoing %d bytes after 3", code, len(body), len(lens), len(small))
	}
	for i, n := range lens {
		if n != len(small) {
			t.Errorf("small POST try %d got %d bytes, want %d", i, n, len(small))
		}
	}

	// Streamed: no Content-Length, larger than the retry buffer.
	pr, pw := io.Pipe()
	go func() {
		chunk := make([]byte, 16<<10)
		for range 16 {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
		_ = pw.Close()
	}()
	code, _, _ = g.do(t, http.MethodPost, "/three?fail=1&status=503", 2, pr)
	_, lens = u.record("2")
	if code != 503 || len(lens) != 1 || lens[0] != 256<<10 {
		t.Fatalf("large streamed POST: got %d after tries %v, want 503 after one try of %d bytes", code, lens, 256<<10)
	}
}

// TestRetryNotAfterPartialResponse: once the status and part of the body
// reached the client, a reset is not retried: the client sees a broken body.
func TestRetryNotAfterPartialResponse(t *testing.T) {
	g, u := startRetryGateway(t)
	code, _, err := g.do(t, http.MethodGet, "/three?partial=1", 1, nil)
	tries, _ := u.record("1")
	if code != 200 || err == nil || len(tries) != 1 {
		t.Fatalf("got %d, body error %v, %d tries; want 200, a broken body and 1 try", code, err, len(tries))
	}
}

// TestRetryBackoffAndRequestTimeout: tries are spaced by at least the
// backoff (doubling), and retries stop within the route's request timeout.
func TestRetryBackoffAndRequestTimeout(t *testing.T) {
	g, u := startRetryGateway(t)
	code, _, _ := g.do(t, http.MethodGet, "/slow?fail=9&status=503", 1, nil)
	tries, _ := u.record("1")
	if code != 503 || len(tries) != 3 {
		t.Fatalf("got %d after %d tries, want 503 after 3", code, len(tries))
	}
	for i, least := range []time.Duration{200 * time.Millisecond, 400 * time.Millisecond} {
		if gap := tries[i+1].Sub(tries[i]); gap < least || gap > 10*time.Second {
			t.Errorf("wait before retry %d: %v, want at least %v", i+1, gap, least)
		}
	}

	// Waits of 300ms, 600ms, 1.2s...: the third would end after the 1.5s
	// request timeout, so the third try's answer is returned.
	start := time.Now()
	code, _, _ = g.do(t, http.MethodGet, "/bounded?fail=99&status=503", 2, nil)
	elapsed := time.Since(start)
	tries, _ = u.record("2")
	if code != 503 || len(tries) < 2 || len(tries) > 3 {
		t.Fatalf("got %d after %d tries, want 503 after 2 or 3 (not all 11)", code, len(tries))
	}
	if elapsed > 10*time.Second {
		t.Fatalf("took %v: retries should stop at the request timeout", elapsed)
	}
}
