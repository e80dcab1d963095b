package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// faultUpstream is a recording upstream whose behaviour is chosen per
// request by its path (/reset-before-headers, /reset-mid-body, /hang, or
// anything else for a plain 200). It counts every request it receives by
// the X-Request-Seq header the tests set, so a request the gateway sent
// twice is seen twice.
type faultUpstream struct {
	name string
	port int
	srv  *httptest.Server

	mu   sync.Mutex
	seen map[string]int
	// release unblocks requests to /hang.
	release chan struct{}
	// hanging counts requests parked on /hang.
	hanging atomic.Int64
}

func newFaultUpstream(t *testing.T, name string) *faultUpstream {
	t.Helper()
	u := &faultUpstream{name: name, seen: map[string]int{}, release: make(chan struct{})}
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.srv.Close)
	u.port = u.srv.Listener.Addr().(*net.TCPAddr).Port
	return u
}

func (u *faultUpstream) serve(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	u.mu.Lock()
	u.seen[r.Header.Get("X-Request-Seq")]++
	u.mu.Unlock()
	w.Header().Set("X-Upstream", u.name)
	switch r.URL.Path {
	case "/reset-before-headers":
		resetConn(w)
		return
	case "/reset-mid-body":
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(make([]byte, 100))
		w.(http.Flusher).Flush()
		resetConn(w)
		return
	case "/hang":
		u.hanging.Add(1)
		defer u.hanging.Add(-1)
		select {
		case <-u.release:
		case <-r.Context().Done():
			return
		}
	}
	fmt.Fprintf(w, "hello from %s\n", u.name)
}

// resetConn closes the request's connection with a TCP RST (linger 0), the
// way a crashing upstream process does.
func resetConn(w http.ResponseWriter) {
	c, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// count returns how many times the upstream received request seq.
func (u *faultUpstream) count(seq string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.seen[seq]
}

// total returns how many requests the upstream received.
func (u *faultUpstream) total() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, c := range u.seen {
		n += c
	}
	return n
}

// duplicates returns the sequence numbers received more than once (probes
// with negative numbers are sent repeatedly on purpose and not counted).
func (u *faultUpstream) duplicates() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []string
	for k, c := range u.seen {
		if c > 1 && !strings.HasPrefix(k, "-") {
			out = append(out, k)
		}
	}
	return out
}

// send makes one request with a sequence number through the gateway and
// returns the status (0 on a transport error), the body and the body read
// error.
func (g *gateway) send(method, path string, seq int) (int, string, error) {
	g.t.Helper()
	req, err := http.NewRequest(method, g.url(path), nil)
	if err != nil {
		g.t.Fatal(err)
	}
	req.Header.Set("X-Request-Seq", fmt.Sprint(seq))
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
