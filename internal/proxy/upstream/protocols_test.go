package upstream

import (
	"bufio"
	"bytes"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

// h2cServer starts a loopback server speaking HTTP/1.1 and cleartext HTTP/2.
func h2cServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.Config.Protocols = new(http.Protocols)
	s.Config.Protocols.SetHTTP1(true)
	s.Config.Protocols.SetUnencryptedHTTP2(true)
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// TestH2CBidirectionalStreaming runs a gRPC-style full-duplex exchange
// through the proxy: each message is echoed before the next is sent.
func TestH2CBidirectionalStreaming(t *testing.T) {
	reg := newTestRegistry(t, Options{})
	up := h2cServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream-Proto", r.Proto)
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		buf := make([]byte, 64)
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				_, _ = w.Write(buf[:n])
				w.(http.Flusher).Flush()
			}
			if err != nil {
				return
			}
		}
	}))
	mustUpdate(t, reg, backendOf("grpc", ir.AppH2C, endpointOf(t, up.URL, true)))
	front := h2cServer(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		reg.Forward(w, req, Target{Backend: "grpc"})
	}))

	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, front.URL+"/echo.Echo/Stream", pr)
	res, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.ProtoMajor != 2 || res.Header.Get("X-Upstream-Proto") != "HTTP/2.0" {
		t.Fatalf("client proto %s, upstream proto %q; want HTTP/2 on both legs", res.Proto, res.Header.Get("X-Upstream-Proto"))
	}
	for i := range 3 {
		msg := fmt.Sprintf("ping-%d", i)
		if _, err := io.WriteString(pw, msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(res.Body, got); err != nil || string(got) != msg {
			t.Fatalf("echo %d: %q, %v", i, got, err)
		}
	}
	_ = pw.Close()
	if rest, _ := io.ReadAll(res.Body); len(rest) != 0 {
		t.Fatalf("unexpected trailing data %q", rest)
	}
}

// TestWebSocketUpgrade tunnels a hand-made upgrade through the proxy and
// checks that the per-try timeout does not cut the tunnel.
func TestWebSocketUpgrade(t *testing.T) {
	reg := newTestRegistry(t, Options{})
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "want upgrade", http.StatusBadRequest)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_ = rw.Flush()
		buf := make([]byte, 64)
		for {
			n, err := rw.Read(buf)
			if err != nil {
				return
			}
			if _, err := conn.Write(buf[:n]); err != nil {
				return
			}
		}
	}))
	mustUpdate(t, reg, backendOf("ws", ir.AppWS, endpointOf(t, up.URL, true)))
	front := frontend(t, reg, Target{Backend: "ws", Timeout: 50 * time.Millisecond})

	conn, err := net.Dial("tcp", strings.TrimPrefix(front.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET /chat HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", res.StatusCode)
	}
	time.Sleep(150 * time.Millisecond) // longer than Target.Timeout
	for _, msg := range []string{"hello", "world"} {
		if _, err := io.WriteString(conn, msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(br, got); err != nil || string(got) != msg {
			t.Fatalf("echo: %q, %v", got, err)
		}
	}
}

func TestUpstreamTLS(t *testing.T) {
	reg := newTestRegistry(t, Options{})
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "tls:"+r.TLS.ServerName)
	}))
	t.Cleanup(up.Close)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw})
	ep := endpointOf(t, up.URL, true)
	c := newClient(t)

	tests := []struct {
		name     string
		tls      *ir.UpstreamTLS
		wantCode int
		wantBody string
	}{
		{"verified with CA", &ir.UpstreamTLS{ServerName: "example.com", CACertPEM: caPEM}, 200, "tls:example.com"},
		{"system roots reject test CA", &ir.UpstreamTLS{ServerName: "example.com"}, 502, "upstream request failed\n"},
		{"wrong server name", &ir.UpstreamTLS{ServerName: "other.test", CACertPEM: caPEM}, 502, "upstream request failed\n"},
		{"insecure skip verify", &ir.UpstreamTLS{ServerName: "anything.test", InsecureSkipVerify: true}, 200, "tls:anything.test"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := "tls-" + strings.ReplaceAll(tc.name, " ", "-")
			b := backendOf(name, ir.AppHTTP1, ep)
			b.TLS = tc.tls
			mustUpdate(t, reg, b)
			front := frontend(t, reg, Target{Backend: name})
			if code, body, _ := get(t, c, front.URL, nil); code != tc.wantCode || body != tc.wantBody {
				t.Fatalf("got %d %q, want %d %q", code, body, tc.wantCode, tc.wantBody)
			}
		})
	}

	// The TLS transport is reused while the config is unchanged and
	// replaced when it changes.
	b := backendOf("tls-reuse", ir.AppHTTP1, ep)
	b.TLS = &ir.UpstreamTLS{ServerName: "example.com", CACertPEM: caPEM}
	mustUpdate(t, reg, b)
	first := reg.lookup("tls-reuse").tls
	mustUpdate(t, reg, b)
	if reg.lookup("tls-reuse").tls != first {
		t.Error("unchanged TLS config must reuse the transport")
	}
	b.TLS = &ir.UpstreamTLS{ServerName: "example.com", InsecureSkipVerify: true}
	mustUpdate(t, reg, b)
	if reg.lookup("tls-reuse").tls == first {
		t.Error("changed TLS config must build a new transport")
	}
}

func TestMirrorReceivesCopyWithBody(t *testing.T) {
	reg := newTestRegistry(t, Options{})
	type seen struct{ method, path, header, body string }
	mirrored := make(chan seen, 1)
	shadow := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mirrored <- seen{r.Method, r.URL.Path, r.Header.Get("X-Test"), string(b)}
		http.Error(w, "shadow replies are discarded", http.StatusTeapot)
	}))
	main := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, "main:"+string(b))
	}))
	mustUpdate(t, reg, backendOf("main", ir.AppHTTP1, endpointOf(t, main.URL, true)))
	mustUpdate(t, reg, backendOf("shadow", ir.AppHTTP1, endpointOf(t, shadow.URL, true)))
	front := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		reg.Mirror(req, Target{Backend: "shadow"})
		reg.Mirror(req, Target{Backend: "missing"}) // must not disturb anything
		reg.Forward(w, req, Target{Backend: "main"})
	}))
	req, _ := http.NewRequest(http.MethodPost, front.URL+"/orders", strings.NewReader(`{"id":7}`))
	req.Header.Set("X-Test", "copied")
	res, err := newClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != `main:{"id":7}` {
		t.Fatalf("main response %d %q", res.StatusCode, b)
	}
	select {
	case s := <-mirrored:
		want := seen{"POST", "/orders", "copied", `{"id":7}`}
		if s != want {
			t.Fatalf("mirror saw %+v, want %+v", s, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("mirror request never arrived")
	}
}

func TestMirrorSkipsUnreplayableBody(t *testing.T) {
	reg := newTestRegistry(t, Options{})
	hits := make(chan struct{}, 1)
	shadow := startUpstream(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits <- struct{}{} }))
	mustUpdate(t, reg, backendOf("shadow", ir.AppHTTP1, endpointOf(t, shadow.URL, true)))
	req := httptest.NewRequest(http.MethodPost, "/", io.NopCloser(strings.NewReader("x")))
	req.ContentLength = 1
	reg.Mirror(req, Target{Backend: "shadow"})
	// A request without body is mirrored; use it as a barrier to show the
	// first was never sent.
	reg.Mirror(httptest.NewRequest(http.MethodGet, "/", nil), Target{Backend: "shadow"})
	<-hits
	select {
	case <-hits:
		t.Fatal("a body without GetBody was mirrored")
	case <-time.After(100 * time.Millisecond):
	}
}
