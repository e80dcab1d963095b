package e2e

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/proxy"
	"gatehouse.dev/gatehouse/internal/proxy/listener"
	"gatehouse.dev/gatehouse/internal/standalone"
)

// startGatewayWithLimits is startGateway with listener limits.
func startGatewayWithLimits(t *testing.T, lo listener.Options, files map[string]string) *gateway {
	t.Helper()
	return startGateway(t, files, func(o *standalone.Options) {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		o.Proxy = proxy.Options{Listener: lo}
	})
}

// TestSlowClients: a slowloris client (headers never finished) is
// disconnected after the header timeout; a client that stalls its body is
// answered 408 once the body rate falls below the minimum; the upstream
// never sees a complete request from either, and normal clients are served
// throughout.
func TestSlowClients(t *testing.T) {
	up, h, p := startRecordingUpstream(t, "api")
	g := startGatewayWithLimits(t, listener.Options{ReadHeaderTimeout: 300 * time.Millisecond,
		MinBodyRate: 1000, BodyRateGrace: 300 * time.Millisecond}, map[string]string{
		"backend.yaml": staticBackend("api", h, p),
		"route.yaml":   routeTo("r", "", "/", "api", p),
	})
	addr := fmt.Sprintf("127.0.0.1:%d", g.port)

	// Slowloris: one header line per 100 ms, never the blank line.
	loris, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer loris.Close()
	start := time.Now()
	_, _ = io.WriteString(loris, "GET / HTTP/1.1\r\nHost: a\r\n")
	closed := make(chan time.Duration, 1)
	go func() {
		buf := make([]byte, 512)
		_ = loris.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			if _, err := loris.Read(buf); err != nil {
				closed <- time.Since(start)
				return
			}
		}
	}()
	var lived time.Duration
drip:
	for i := 0; i < 100; i++ {
		_, _ = fmt.Fprintf(loris, "X-Drip-%d: v\r\n", i)
		select {
		case lived = <-closed:
			break drip
		case <-time.After(100 * time.Millisecond):
		}
	}
	if lived == 0 || lived > 5*time.Second {
		t.Fatalf("the slowloris connection was not closed in time (lived %v)", lived)
	}

	// Stalled body: 10 of 100,000 announced bytes, then nothing.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(conn, "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n0123456789")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response to a stalled body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("stalled body: %d, want 408", resp.StatusCode)
	}

	// Normal clients are served, and the upstream saw only them.
	if code, body := g.raw("POST /ok HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi"); code != 200 || body != "api /ok" {
		t.Errorf("normal request: %d %q", code, body)
	}
	if seen := up.requests(); len(seen) != 1 {
		t.Errorf("upstream received %q, want only the normal request", seen)
	}
}
