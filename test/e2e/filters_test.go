package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is an upstream that records the requests it receives.
type recorder struct {
	mu     sync.Mutex
	bodies []string
	port   int
}

func newRecorder(t *testing.T, delay time.Duration) *recorder {
	t.Helper()
	r := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, req.Method+" "+req.URL.Path+" "+string(b))
		r.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-req.Context().Done():
				return
			}
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(srv.Close)
	r.port = srv.Listener.Addr().(*net.TCPAddr).Port
	return r
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
}

func TestMirrorTimeoutAndCORS(t *testing.T) {
	main := newRecorder(t, 0)
	mirror := newRecorder(t, 0)
	slow := newRecorder(t, 2*time.Second)
	g := startGateway(t, map[string]string{
		"backends.yaml": staticBackend("main", "127.0.0.1", main.port) + "---\n" +
			staticBackend("mirror", "127.0.0.1", mirror.port) + "---\n" + staticBackend("slow", "127.0.0.1", slow.port),
		"route.yaml": fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /mirrored}}]
    filters:
    - type: RequestMirror
      requestMirror: {backendRef: {group: gatehouse.dev, kind: StaticBackend, name: mirror, port: %[2]d}}
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: main, port: %[1]d}]
  - matches: [{path: {type: PathPrefix, value: /slow}}]
    timeouts: {request: 200ms}
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: slow, port: %[3]d}]
  - matches: [{path: {type: PathPrefix, value: /cors}}]
    filters:
    - type: CORS
      cors: {allowOrigins: ["https://app.example.com"], allowMethods: [GET, POST], allowHeaders: [X-Token], maxAge: 60}
    backendRefs: [{group: gatehouse.dev, kind: StaticBackend, name: main, port: %[1]d}]
`, main.port, mirror.port, slow.port),
	})
	resp, err := client.Post(g.url("/mirrored/x"), "text/plain", strings.NewReader("payload-123"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("mirrored POST: %v %v", resp, err)
	}
	resp.Body.Close()
	eventually(t, "mirror receives a copy with the body", func() bool {
		s := mirror.seen()
		return len(s) == 1 && s[0] == "POST /mirrored/x payload-123"
	})
	if s := main.seen(); len(s) != 1 || s[0] != "POST /mirrored/x payload-123" {
		t.Fatalf("main backend saw %v", s)
	}

	start := time.Now()
	resp, _ = g.get("/slow", "")
	if resp.StatusCode != http.StatusGatewayTimeout || time.Since(start) > 1500*time.Millisecond {
		t.Errorf("request timeout: %d after %v, want 504 soon after 200ms", resp.StatusCode, time.Since(start))
	}

	req, _ := http.NewRequest(http.MethodOptions, g.url("/cors"), nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "X-Token")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	before := len(main.seen())
	req.Header.Set("Origin", "https://evil.example.org")
	resp, _ = client.Do(req)
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("disallowed origin got CORS headers: %v", resp.Header)
	}
	if len(main.seen()) != before {
		t.Errorf("a preflight reached the backend")
	}
}

// TestWebSocketThroughGateway upgrades a connection through the gateway to a
// raw upstream that speaks a minimal upgrade and echoes bytes.
func TestWebSocketThroughGateway(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil || !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
					return
				}
				fmt.Fprint(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
				_, _ = io.Copy(c, br)
			}(c)
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	g := startGateway(t, map[string]string{
		"backend.yaml": staticBackend("ws", "127.0.0.1", port),
		"route.yaml":   routeTo("r", "", "/", "ws", port),
	})
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", g.port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(c, "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	fmt.Fprint(c, "ping-through-gateway")
	buf := make([]byte, len("ping-through-gateway"))
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping-through-gateway" {
		t.Fatalf("echo through the tunnel: %q %v", buf, err)
	}
}
