package upstream

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

func TestForwardStatusCodes(t *testing.T) {
	reg := newTestRegistry(t, Options{})
	sleepy := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	mustUpdate(t, reg, backendOf("empty", ir.AppHTTP1))
	mustUpdate(t, reg, backendOf("closed", ir.AppHTTP1, endpointOf(t, closedAddr(t), true)))
	mustUpdate(t, reg, backendOf("sleepy", ir.AppHTTP1, endpointOf(t, sleepy.URL, true)))
	tests := []struct {
		name     string
		target   Target
		wantCode int
		wantBody string
	}{
		{"unknown backend", Target{Backend: "nope"}, 500, "unknown backend"},
		{"unknown port", Target{Backend: "closed", Port: 9999}, 500, "unknown backend port"},
		{"no endpoints", Target{Backend: "empty"}, 503, "no healthy upstream"},
		{"connect refused", Target{Backend: "closed", Port: 80}, 502, "upstream connect error"},
		{"timeout", Target{Backend: "sleepy", Timeout: 50 * time.Millisecond}, 504, "upstream timeout"},
	}
	c := newClient(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			front := frontend(t, reg, tc.target)
			code, body, h := get(t, c, front.URL, nil)
			if code != tc.wantCode || strings.TrimSpace(body) != tc.wantBody {
				t.Fatalf("got %d %q, want %d %q", code, body, tc.wantCode, tc.wantBody)
			}
			if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type %q, want text/plain", ct)
			}
		})
	}
}

func TestForwardHeaders(t *testing.T) {
	reg := newTestRegistry(t, Options{})
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Host", r.Host)
		w.Header().Set("X-Seen-XFF", r.Header.Get("X-Forwarded-For"))
		w.Header().Set("X-Seen-XFH", r.Header.Get("X-Forwarded-Host"))
		w.Header().Set("X-Seen-XFP", r.Header.Get("X-Forwarded-Proto"))
		w.Header().Set("X-Seen-URI", r.RequestURI)
		w.Header().Set("X-Seen-Upgrade", r.Header.Get("Upgrade"))
		w.Header().Set("X-Secret", "internal")
	}))
	mustUpdate(t, reg, backendOf("svc", ir.AppHTTP1, endpointOf(t, up.URL, true)))
	tgt := Target{Backend: "svc", ModifyResponse: func(h http.Header) {
		h.Del("X-Secret")
		h.Set("X-Added", "yes")
	}}
	front := frontend(t, reg, tgt)
	c := newClient(t)

	_, _, h := get(t, c, front.URL+"/a/b?x=1", map[string]string{
		"Host": "example.com", "X-Forwarded-For": "203.0.113.9",
		// A client's h2c upgrade offer is for the proxy, not the upstream.
		"Connection": "Upgrade, HTTP2-Settings", "Upgrade": "h2c", "HTTP2-Settings": "AAMAAABkAAQAoAAAAAIAAAAA",
	})
	want := map[string]string{
		"X-Seen-Host":    "example.com", // Gateway API: the client's Host is kept
		"X-Seen-XFF":     "127.0.0.1",   // a client's own X-Forwarded-For is not trusted
		"X-Seen-Upgrade": "",
		"X-Seen-XFH":     "example.com",
		"X-Seen-XFP":     "http",
		"X-Seen-URI":     "/a/b?x=1",
		"X-Added":        "yes",
		"X-Secret":       "",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}

	// A URL rewrite filter sets req.Host; that value is sent upstream.
	rewriting := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		req.Host = "rewritten.internal"
		reg.Forward(w, req, tgt)
	}))
	if _, _, h := get(t, c, rewriting.URL, map[string]string{"Host": "example.com"}); h.Get("X-Seen-Host") != "rewritten.internal" {
		t.Errorf("upstream saw Host %q, want the rewritten host", h.Get("X-Seen-Host"))
	}
}

func TestKeepAliveReuse(t *testing.T) {
	reg := newTestRegistry(t, Options{})
	var newConns atomic.Int32
	up := httptest.NewUnstartedServer(textHandler("ok"))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			newConns.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	mustUpdate(t, reg, backendOf("svc", ir.AppHTTP1, endpointOf(t, up.URL, true)))
	front := frontend(t, reg, Target{Backend: "svc"})
	c := newClient(t)
	for i := range 100 {
		if code, body, _ := get(t, c, front.URL, nil); code != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	if n := newConns.Load(); n != 1 {
		t.Fatalf("upstream saw %d connections for 100 sequential requests, want 1", n)
	}
}

// TestClientCancelNotCounted checks that a client going away neither
// counts as an endpoint failure nor logs above Debug.
func TestClientCancelNotCounted(t *testing.T) {
	var logs syncBuffer
	reg := newTestRegistry(t, Options{EjectAfter: 1, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	arrived := make(chan struct{}, 1)
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	}))
	mustUpdate(t, reg, backendOf("svc", ir.AppHTTP1, endpointOf(t, up.URL, true)))
	ep := reg.lookup("svc").endpoints[strings.TrimPrefix(up.URL, "http://")]
	front := frontend(t, reg, Target{Backend: "svc"})

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, front.URL, nil)
	errc := make(chan error, 1)
	go func() {
		res, err := newClient(t).Do(req)
		if err == nil {
			res.Body.Close()
		}
		errc <- err
	}()
	<-arrived
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("client request succeeded; expected cancellation")
	}
	// Wait for the proxy to finish the request, then inspect the state.
	for deadline := time.Now().Add(5 * time.Second); ep.outstanding.Load() != 0; {
		if time.Now().After(deadline) {
			t.Fatal("request never finished in the proxy")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if f := ep.failures.Load(); f != 0 || ep.ejectedUntil.Load() != 0 {
		t.Fatalf("client cancel counted: failures=%d ejectedUntil=%d", f, ep.ejectedUntil.Load())
	}
	out := logs.String()
	if !strings.Contains(out, "level=DEBUG msg=\"client canceled request\"") || strings.Contains(out, "level=WARN") {
		t.Fatalf("want one Debug line and no Warn, got:\n%s", out)
	}
}

func TestStreamingIsNotBuffered(t *testing.T) {
	reg := newTestRegistry(t, Options{})
	release := make(chan struct{})
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, "data: second\n\n")
	}))
	mustUpdate(t, reg, backendOf("svc", ir.AppHTTP1, endpointOf(t, up.URL, true)))
	front := frontend(t, reg, Target{Backend: "svc"})
	res, err := newClient(t).Get(front.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	// The first event must arrive while the upstream is still holding the
	// response open.
	buf := make([]byte, len("data: first\n\n"))
	if _, err := io.ReadFull(res.Body, buf); err != nil || string(buf) != "data: first\n\n" {
		t.Fatalf("first event: %q, %v", buf, err)
	}
	close(release)
	rest, _ := io.ReadAll(res.Body)
	if string(rest) != "data: second\n\n" {
		t.Fatalf("second event: %q", rest)
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestForwardDuringUpdates forwards from several goroutines while the
// backend is replaced over and over: no request may fail and no outstanding
// count may be lost (run with -race).
func TestForwardDuringUpdates(t *testing.T) {
	reg := newTestRegistry(t, Options{})
	a := startUpstream(t, textHandler("ok"))
	b := startUpstream(t, textHandler("ok"))
	epA, epB := endpointOf(t, a.URL, true), endpointOf(t, b.URL, true)
	mustUpdate(t, reg, backendOf("svc", ir.AppHTTP1, epA, epB))
	front := frontend(t, reg, Target{Backend: "svc"})
	c := newClient(t)

	stop := make(chan struct{})
	var updates sync.WaitGroup
	updates.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			eps := []ir.Endpoint{epA, epB}
			if i%2 == 1 {
				eps = eps[:1] // b leaves and comes back
			}
			if err := reg.Update(backendOf("svc", ir.AppHTTP1, eps...)); err != nil {
				t.Error(err)
				return
			}
		}
	})
	var clients sync.WaitGroup
	for range 4 {
		clients.Go(func() {
			for range 50 {
				res, err := c.Get(front.URL)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					t.Errorf("status %d during updates", res.StatusCode)
				}
			}
		})
	}
	clients.Wait()
	close(stop)
	updates.Wait()
	for addr, ep := range reg.lookup("svc").endpoints {
		if n := ep.outstanding.Load(); n != 0 {
			t.Errorf("endpoint %s has %d outstanding after all requests finished", addr, n)
		}
	}
}
