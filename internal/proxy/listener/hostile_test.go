package listener

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

// newHandlerManager is newTestManager with the given handler on every bind.
func newHandlerManager(t *testing.T, o Options, h http.Handler) *Manager {
	t.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m := NewManager(o, func(*ir.Bind) http.Handler { return h }, nil)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	mustReconcile(t, m, loopbackBind("plain", ir.ProtocolHTTP))
	return m
}

// rawExchange writes req on a new connection and returns status and body.
func rawExchange(t *testing.T, addr, req string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// echoPath answers with the path as routed and as it would be forwarded.
var echoPath = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "%s %s", r.URL.Path, r.URL.EscapedPath())
})

func TestHeaderCountLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit int
		sent  int
		want  int
	}{
		{"default 100 at the limit", 0, 100, 200},
		{"default 100 over the limit", 0, 101, http.StatusRequestHeaderFieldsTooLarge},
		{"repeated field counts each value", 5, 6, http.StatusRequestHeaderFieldsTooLarge},
		{"disabled", -1, 1000, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newHandlerManager(t, Options{MaxHeaderCount: tc.limit}, echoPath)
			var b strings.Builder
			b.WriteString("GET / HTTP/1.1\r\nHost: a\r\n")
			for i := 0; i < tc.sent; i++ {
				if tc.limit == 5 {
					b.WriteString("X-Same: v\r\n")
				} else {
					fmt.Fprintf(&b, "X-H%d: v\r\n", i)
				}
			}
			b.WriteString("\r\n")
			if got, body := rawExchange(t, m.Addr("plain").String(), b.String()); got != tc.want {
				t.Fatalf("status %d (%s), want %d", got, body, tc.want)
			}
		})
	}
}

func TestPathNormalizationAndEscapedSlashes(t *testing.T) {
	tests := []struct {
		name   string
		opts   Options
		path   string
		want   int
		echoed string // routed path, forwarded path
	}{
		{"plain path untouched", Options{}, "/a/b/", 200, "/a/b/ /a/b/"},
		{"dot segments", Options{}, "/a/./b/../c", 200, "/a/c /a/c"},
		{"encoded dot segments", Options{}, "/public/%2e%2e/admin", 200, "/admin /admin"},
		{"traversal above root", Options{}, "/../etc/passwd", 400, ""},
		{"encoded traversal above root", Options{}, "/%2E%2E/etc/passwd", 400, ""},
		{"duplicate slashes merged", Options{}, "//admin//x", 200, "/admin/x /admin/x"},
		{"duplicate slashes kept", Options{KeepDuplicateSlashes: true}, "//admin//x", 200, "//admin//x //admin//x"},
		{"escaped slash kept", Options{}, "/a%2Fb", 200, "/a/b /a%2Fb"},
		{"escaped slash rejected", Options{EscapedSlashes: EscapedSlashesReject}, "/a%2fb", 400, ""},
		{"escaped backslash rejected", Options{EscapedSlashes: EscapedSlashesReject}, "/a%5Cb", 400, ""},
		{"escaped slash unescaped", Options{EscapedSlashes: EscapedSlashesUnescape}, "/a%2Fb", 200, "/a/b /a/b"},
		{"escaped traversal resolved", Options{}, "/public%2F..%2Fadmin", 200, "/admin /admin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newHandlerManager(t, tc.opts, echoPath)
			got, body := rawExchange(t, m.Addr("plain").String(), "GET "+tc.path+" HTTP/1.1\r\nHost: a\r\n\r\n")
			if got != tc.want || (tc.want == 200 && body != tc.echoed) {
				t.Fatalf("status %d body %q, want %d %q", got, body, tc.want, tc.echoed)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := (Options{EscapedSlashes: "drop"}).Validate(); err == nil || !strings.Contains(err.Error(), "drop") {
		t.Errorf("escaped slashes drop: %v", err)
	}
	if err := (Options{EscapedSlashes: EscapedSlashesReject}).Validate(); err != nil {
		t.Error(err)
	}
}

// bodyReader answers 200 with the body length, or 502 when reading the body
// fails, as the upstream proxy does.
var bodyReader = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "upstream: "+err.Error(), http.StatusBadGateway)
		return
	}
	fmt.Fprintf(w, "%d", len(b))
})

// TestSlowBodyIsCut: a client that stops sending its body is answered 408
// once the grace period and the minimum rate are used up.
func TestSlowBodyIsCut(t *testing.T) {
	m := newHandlerManager(t, Options{MinBodyRate: 1000, BodyRateGrace: 200 * time.Millisecond}, bodyReader)
	conn, err := net.Dial("tcp", m.Addr("plain").String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = conn.Write([]byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n0123456789"))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response to a stalled body: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestTimeout || !res.Close {
		t.Fatalf("status %d close %v, want 408 and the connection closed", res.StatusCode, res.Close)
	}
}

// TestBodyRateSparesSlowHandlers: time the handler spends before reading
// (a slow upstream) is not charged to the client, and a body sent at a
// steady rate above the minimum passes.
func TestBodyRateSparesSlowHandlers(t *testing.T) {
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(400 * time.Millisecond)
		bodyReader(w, r)
	})
	m := newHandlerManager(t, Options{MinBodyRate: 1000, BodyRateGrace: 200 * time.Millisecond}, slow)
	addr := m.Addr("plain").String()
	if got, body := rawExchange(t, addr, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"); got != 200 || body != "5" {
		t.Fatalf("prompt body behind a slow handler: %d %q", got, body)
	}
	// 3 KB in 300-byte chunks every 100 ms: 3,000 bytes/s, above 1,000.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = conn.Write([]byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3000\r\n\r\n"))
	for i := 0; i < 10; i++ {
		time.Sleep(100 * time.Millisecond)
		_, _ = conn.Write([]byte(strings.Repeat("x", 300)))
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != "3000" {
		t.Fatalf("steady body: %d %q", res.StatusCode, b)
	}
}

// TestBodyDeadlineClearedAfterBody: once the body is read, the read
// deadline must not cancel a request whose handler keeps working.
func TestBodyDeadlineClearedAfterBody(t *testing.T) {
	var mu sync.Mutex
	var ctxErr error
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		time.Sleep(600 * time.Millisecond) // beyond grace + rate budget
		mu.Lock()
		ctxErr = r.Context().Err()
		mu.Unlock()
		_, _ = w.Write([]byte("done"))
	})
	m := newHandlerManager(t, Options{MinBodyRate: 1000, BodyRateGrace: 100 * time.Millisecond}, h)
	if got, body := rawExchange(t, m.Addr("plain").String(), "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi"); got != 200 || body != "done" {
		t.Fatalf("%d %q", got, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if ctxErr != nil {
		t.Fatalf("request context ended while the handler worked: %v", ctxErr)
	}
}

// TestMalformedBodyIs400: a chunked body with bad framing (a bare LF after
// the chunk size) fails the body read; the handler's 502 becomes 400, the
// client's fault, and the connection is closed.
func TestMalformedBodyIs400(t *testing.T) {
	m := newHandlerManager(t, Options{}, bodyReader)
	addr := m.Addr("plain").String()
	for _, body := range []string{"5\nhello\r\n0\r\n\r\n", "zz\r\nhello\r\n0\r\n\r\n"} {
		got, text := rawExchange(t, addr, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"+body)
		if got != http.StatusBadRequest {
			t.Errorf("body %q: status %d (%s), want 400", body, got, text)
		}
	}
	if got, body := rawExchange(t, addr, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"); got != 200 || body != "5" {
		t.Errorf("well-formed chunked body: %d %q", got, body)
	}
}

func TestErrBodyTooSlowIsATimeout(t *testing.T) {
	var ne net.Error
	if !errors.Is(ErrBodyTooSlow, os.ErrDeadlineExceeded) || !errors.As(ErrBodyTooSlow, &ne) || !ne.Timeout() {
		t.Fatal("ErrBodyTooSlow must read as a deadline/timeout error")
	}
}
