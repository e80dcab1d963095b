package listener

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

// rawRequest writes req on a new connection and returns the response status.
func rawRequest(t *testing.T, addr, req string) int {
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
	res.Body.Close()
	return res.StatusCode
}

func TestMalformedRequests(t *testing.T) {
	m := newTestManager(t, Options{}, nil)
	mustReconcile(t, m, loopbackBind("plain", ir.ProtocolHTTP))
	addr := m.Addr("plain").String()
	huge := strings.Repeat("x", 100<<10)
	tests := []struct {
		name string
		req  string
		want int
	}{
		{"well formed", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 200},
		{"100 KB header", fmt.Sprintf("GET / HTTP/1.1\r\nHost: a\r\nX-Big: %s\r\n\r\n", huge), http.StatusRequestHeaderFieldsTooLarge},
		// At least 14 bytes: with h2c enabled net/http first peeks for the
		// HTTP/2 preface, so a shorter prefix waits for ReadHeaderTimeout.
		{"bad request line", "GARBAGE-REQUEST-LINE\r\n\r\n", http.StatusBadRequest},
		{"bad version", "GET / HTTP/9.9\r\nHost: a\r\n\r\n", http.StatusHTTPVersionNotSupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rawRequest(t, addr, tc.req); got != tc.want {
				t.Fatalf("status %d, want %d", got, tc.want)
			}
		})
	}
}

// TestSlowHeadersAreCut checks ReadHeaderTimeout: a client that never
// finishes its headers gets its connection closed.
func TestSlowHeadersAreCut(t *testing.T) {
	m := newTestManager(t, Options{ReadHeaderTimeout: 100 * time.Millisecond}, nil)
	mustReconcile(t, m, loopbackBind("plain", ir.ProtocolHTTP))
	conn, err := net.Dial("tcp", m.Addr("plain").String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = conn.Write([]byte("GET / HTTP/1.1\r\nHost: a\r\n")) // never finished
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	for err == nil { // net/http may answer 408 before closing
		var more int
		more, err = conn.Read(buf[n:])
		n += more
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("server kept a slow-header connection open")
	}
}
