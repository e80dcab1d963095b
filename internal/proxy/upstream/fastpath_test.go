package upstream

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

// rawUpstream is a loopback HTTP/1.1 server that answers every request
// with a canned byte string, so tests control the exact framing. After
// each answer it keeps the connection open unless closeAfter is set.
type rawUpstream struct {
	ln         net.Listener
	reply      func(req *http.Request) string
	closeAfter bool
	conns      atomic.Int32
	requests   chan *http.Request
	wg         sync.WaitGroup
}

func startRawUpstream(t testing.TB, closeAfter bool, reply func(req *http.Request) string) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln, reply: reply, closeAfter: closeAfter, requests: make(chan *http.Request, 100)}
	var mu sync.Mutex
	var open []net.Conn
	u.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.conns.Add(1)
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			u.wg.Go(func() { u.serve(c) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range open {
			_ = c.Close()
		}
		mu.Unlock()
		u.wg.Wait()
	})
	return u
}

func (u *rawUpstream) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		select {
		case u.requests <- req:
		default:
		}
		if _, err := io.WriteString(c, u.reply(req)); err != nil || u.closeAfter {
			return
		}
	}
}

func (u *rawUpstream) endpoint(t testing.TB) ir.Endpoint {
	return endpointOf(t, u.ln.Addr().String(), true)
}

// rawFrontend forwards to a raw upstream through a real server.
func rawFrontend(t *testing.T, u *rawUpstream, tgt Target) (*Registry, string) {
	t.Helper()
	reg := newTestRegistry(t, Options{})
	mustUpdate(t, reg, backendOf("raw", ir.AppHTTP1, u.endpoint(t)))
	tgt.Backend = "raw"
	return reg, frontend(t, reg, tgt).URL
}

func TestFastPathResponseFraming(t *testing.T) {
	tests := []struct {
		name, method, reply string
		wantCode            int
		wantBody            string
		wantHeader          map[string]string
		wantTrailer         map[string]string
		wantErr             bool // the client sees a broken response
	}{
		{name: "content-length", reply: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello",
			wantCode: 200, wantBody: "hello", wantHeader: map[string]string{"X-A": "1", "Content-Length": "5"}},
		{name: "lower-case names are canonicalized", reply: "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-lower:  v  \r\n\r\nok",
			wantCode: 200, wantBody: "ok", wantHeader: map[string]string{"X-Lower": "v"}},
		{name: "chunked with trailers", reply: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n" +
			"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Sum: 42\r\n\r\n",
			wantCode: 200, wantBody: "abcde", wantTrailer: map[string]string{"X-Sum": "42"}},
		{name: "hop-by-hop and connection-listed fields dropped", reply: "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\n" +
			"Keep-Alive: timeout=5\r\nX-Hop: secret\r\nX-End: kept\r\nContent-Length: 0\r\n\r\n",
			wantCode: 200, wantHeader: map[string]string{"X-Hop": "", "Keep-Alive": "", "X-End": "kept"}},
		{name: "HEAD has no body", method: http.MethodHead, reply: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
			wantCode: 200, wantHeader: map[string]string{"Content-Length": "100"}},
		{name: "204 has no body", reply: "HTTP/1.1 204 No Content\r\n\r\n", wantCode: 204},
		{name: "304 has no body", reply: "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", wantCode: 304,
			wantHeader: map[string]string{"Etag": "\"x\""}},
		{name: "interim 100 skipped", reply: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx",
			wantCode: 201, wantBody: "x"},
		{name: "5xx passed on", reply: "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy",
			wantCode: 503, wantBody: "busy"},
		{name: "obs-fold is 502", reply: "HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\nContent-Length: 0\r\n\r\n", wantCode: 502},
		{name: "conflicting lengths are 502", reply: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx", wantCode: 502},
		{name: "negative length is 502", reply: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", wantCode: 502},
		{name: "unknown transfer-coding is 502", reply: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", wantCode: 502},
		{name: "garbage status line is 502", reply: "HTTP/1.1 2xx OK\r\n\r\n", wantCode: 502},
		{name: "space before colon is 502", reply: "HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n", wantCode: 502},
		{name: "unasked upgrade is 502", reply: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", wantCode: 502},
		{name: "truncated body aborts", reply: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nabc",
			wantCode: 200, wantErr: true},
		{name: "truncated chunked body aborts", reply: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
			wantCode: 200, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := startRawUpstream(t, true, func(*http.Request) string { return tc.reply })
			_, url := rawFrontend(t, u, Target{})
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			req, _ := http.NewRequest(method, url, nil)
			res, err := newClient(t).Do(req)
			if err != nil && tc.wantErr {
				return // aborted before the head went out: also broken
			}
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			if res.StatusCode != tc.wantCode {
				t.Fatalf("status %d, want %d (body %q)", res.StatusCode, tc.wantCode, body)
			}
			if tc.wantErr {
				if err == nil {
					t.Fatalf("body %q read without error; want a broken response", body)
				}
				return
			}
			if err != nil {
				t.Fatalf("read body: %v", err)
			}
			if tc.wantCode != 502 && string(body) != tc.wantBody {
				t.Errorf("body %q, want %q", body, tc.wantBody)
			}
			for k, v := range tc.wantHeader {
				if got := res.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			for k, v := range tc.wantTrailer {
				if got := res.Trailer.Get(k); got != v {
					t.Errorf("trailer %s = %q, want %q (trailers %v)", k, got, v, res.Trailer)
				}
			}
		})
	}
}

// TestFastPathRequestHead checks what the upstream receives: hop-by-hop
// fields and the ones Connection names are dropped, Te: trailers is kept,
// forwarding headers come from this hop, and a body keeps its length.
func TestFastPathRequestHead(t *testing.T) {
	u := startRawUpstream(t, false, func(*http.Request) string { return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" })
	_, url := rawFrontend(t, u, Target{})
	req, _ := http.NewRequest(http.MethodPost, url+"/p%2Fq/r?a=1&b", strings.NewReader("body!"))
	req.Host = "example.com:8080"
	for k, v := range map[string]string{
		"Connection": "X-Private", "X-Private": "1", "Keep-Alive": "timeout=1", "Te": "trailers, deflate",
		"Proxy-Authorization": "Basic eA==", "Forwarded": "for=1.2.3.4", "X-Forwarded-Proto": "https",
		"X-Kept": "yes",
	} {
		req.Header.Set(k, v)
	}
	res, err := newClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	got := <-u.requests
	if got.Method != http.MethodPost || got.RequestURI != "/p%2Fq/r?a=1&b" || got.Host != "example.com:8080" || got.ContentLength != 5 {
		t.Errorf("upstream got %s %s Host %s length %d", got.Method, got.RequestURI, got.Host, got.ContentLength)
	}
	want := map[string]string{
		"X-Private": "", "Keep-Alive": "", "Proxy-Authorization": "", "Forwarded": "", "Connection": "",
		"Te": "trailers", "X-Kept": "yes",
		"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": "example.com:8080", "X-Forwarded-Proto": "http",
	}
	for k, v := range want {
		if g := got.Header.Get(k); g != v {
			t.Errorf("upstream header %s = %q, want %q", k, g, v)
		}
	}
}

// TestFastPathRetriesStaleConnection: an upstream that closes keep-alive
// connections after each answer without saying so. A GET on the closed
// pooled connection is sent again on a new one; a POST is never sent on a
// connection found closed (the pool checks it first).
func TestFastPathRetriesStaleConnection(t *testing.T) {
	u := startRawUpstream(t, true, func(*http.Request) string { return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" })
	_, url := rawFrontend(t, u, Target{})
	c := newClient(t)
	for i := range 5 {
		method := http.MethodGet
		var body io.Reader
		if i%2 == 1 {
			method, body = http.MethodPost, strings.NewReader("data")
		}
		req, _ := http.NewRequest(method, url, body)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(b) != "ok" {
			t.Fatalf("request %d (%s): %d %q", i, method, res.StatusCode, b)
		}
		time.Sleep(10 * time.Millisecond) // let the upstream's close arrive
	}
}

// TestFastPathRequestTimeout: a deadline on the request (the route's
// request timeout) gives 504 "request timeout" and is not held against
// the endpoint.
func TestFastPathRequestTimeout(t *testing.T) {
	reg := newTestRegistry(t, Options{EjectAfter: 1})
	hang := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	mustUpdate(t, reg, backendOf("svc", ir.AppHTTP1, endpointOf(t, hang.URL, true)))
	front := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 50*time.Millisecond)
		defer cancel()
		reg.Forward(w, r.WithContext(ctx), Target{Backend: "svc", Timeout: 10 * time.Second})
	}))
	code, body, _ := get(t, newClient(t), front.URL, nil)
	if code != 504 || strings.TrimSpace(body) != "request timeout" {
		t.Fatalf("got %d %q, want 504 request timeout", code, body)
	}
	ep := reg.lookup("svc").endpoints[strings.TrimPrefix(hang.URL, "http://")]
	if ep.failures.Load() != 0 || ep.ejectedUntil.Load() != 0 {
		t.Fatal("a request timeout was counted against the endpoint")
	}
}

// TestFastPathInterimAndTrailers uses a Go upstream: 103 Early Hints reach
// the client before the final response, and trailers follow the body.
func TestFastPathInterimAndTrailers(t *testing.T) {
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("Trailer", "X-Checksum")
		_, _ = io.WriteString(w, "payload")
		w.Header().Set("X-Checksum", "abc")
	}))
	reg := newTestRegistry(t, Options{})
	mustUpdate(t, reg, backendOf("svc", ir.AppHTTP1, endpointOf(t, up.URL, true)))
	front := frontend(t, reg, Target{Backend: "svc"})
	var hints []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		hints = append(hints, h.Get("Link"))
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, front.URL, nil)
	res, err := newClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if string(body) != "payload" || res.Trailer.Get("X-Checksum") != "abc" {
		t.Fatalf("body %q trailers %v", body, res.Trailer)
	}
	if len(hints) != 1 || hints[0] != "</style.css>; rel=preload" {
		t.Fatalf("early hints seen by the client: %q", hints)
	}
}

// TestFastPathEndpointRemovalClosesIdle: idle connections to an endpoint
// that leaves the backend are closed, not kept open forever.
func TestFastPathEndpointRemovalClosesIdle(t *testing.T) {
	closed := make(chan struct{}, 1)
	up := httptest.NewUnstartedServer(textHandler("ok"))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			select {
			case closed <- struct{}{}:
			default:
			}
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	other := startUpstream(t, textHandler("ok"))
	reg := newTestRegistry(t, Options{})
	mustUpdate(t, reg, backendOf("svc", ir.AppHTTP1, endpointOf(t, up.URL, true)))
	front := frontend(t, reg, Target{Backend: "svc"})
	if code, _, _ := get(t, newClient(t), front.URL, nil); code != 200 {
		t.Fatalf("status %d", code)
	}
	mustUpdate(t, reg, backendOf("svc", ir.AppHTTP1, endpointOf(t, other.URL, true)))
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the idle connection to the removed endpoint was not closed")
	}
}

func TestFastEligible(t *testing.T) {
	mk := func(method string, cl int64, hdr ...string) *http.Request {
		r, _ := http.NewRequest(method, "http://x/", strings.NewReader("body"))
		r.ContentLength = cl
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		return r
	}
	withTrailer := mk(http.MethodPost, 10)
	withTrailer.Trailer = http.Header{"X-T": nil}
	tests := []struct {
		name string
		req  *http.Request
		want bool
	}{
		{"GET", mk(http.MethodGet, 0), true},
		{"small POST", mk(http.MethodPost, 2048), true},
		{"POST at the limit", mk(http.MethodPost, maxFastBody), true},
		{"large POST", mk(http.MethodPost, maxFastBody+1), false},
		{"unknown length", mk(http.MethodPost, -1), false},
		{"websocket", mk(http.MethodGet, 0, "Upgrade", "websocket", "Connection", "Upgrade"), false},
		{"h2c offer", mk(http.MethodGet, 0, "Upgrade", "h2c"), true},
		{"expect", mk(http.MethodPut, 10, "Expect", "100-continue"), false},
		{"request trailers", withTrailer, false},
		{"CONNECT", mk(http.MethodConnect, 0), false},
	}
	for _, tc := range tests {
		if got := fastEligible(tc.req); got != tc.want {
			t.Errorf("%s: fastEligible = %v, want %v", tc.name, got, tc.want)
		}
	}
}
