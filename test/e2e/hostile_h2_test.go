package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestHTTP2RapidResetThroughGateway opens 300 streams on one h2c connection
// to a route whose upstream is slow, then opens and immediately resets
// 1,000 more: the upstream never sees more requests at once than the
// stream limit (100), and the gateway keeps answering other clients.
func TestHTTP2RapidResetThroughGateway(t *testing.T) {
	var inFlight, peak, total atomic.Int32
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		total.Add(1)
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}))
	defer slow.Close()
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("fast")) }))
	defer fast.Close()
	sa, fa := slow.Listener.Addr().(*net.TCPAddr), fast.Listener.Addr().(*net.TCPAddr)
	g := startGateway(t, map[string]string{
		"backends.yaml": staticBackend("slow", sa.IP.String(), sa.Port) + "---\n" + staticBackend("fast", fa.IP.String(), fa.Port),
		"slow.yaml":     routeTo("slow", "", "/slow", "slow", sa.Port),
		"fast.yaml":     routeTo("fast", "", "/fast", "fast", fa.Port),
	})

	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", g.port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	_, _ = io.WriteString(conn, http2.ClientPreface)
	fr := http2.NewFramer(conn, conn)
	_ = fr.WriteSettings()
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	for _, f := range []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"},
		{Name: ":authority", Value: "a"}, {Name: ":path", Value: "/slow"}} {
		_ = enc.WriteField(f)
	}
	block := hbuf.Bytes()
	go func() { // drain the server's frames so its writes never block
		for {
			if _, err := fr.ReadFrame(); err != nil {
				return
			}
		}
	}()
	// First 300 streams held open (beyond the advertised limit of 100):
	// the gateway refuses the excess, so the slow upstream never has more
	// than 100 of them at once.
	id := uint32(1)
	for ; id < 600; id += 2 {
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: true, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for peak.Load() < 100 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if p := peak.Load(); p > 100 || p < 50 {
		t.Errorf("with 300 streams opened, the upstream saw %d requests at once; want the limit, 100", p)
	}
	for first := uint32(1); first < id; first += 2 {
		_ = fr.WriteRSTStream(first, http2.ErrCodeCancel)
	}
	// Then rapid reset: open and cancel 1,000 more streams.
	sent := 0
	for ; sent < 1000; id += 2 {
		if fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: true, EndHeaders: true}) != nil ||
			fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
			break // the gateway closed the connection
		}
		sent++
	}

	// Another client is served while (or after) the attack is handled.
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(g.url("/fast"))
	if err != nil {
		t.Fatalf("the gateway stopped serving: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "fast" {
		t.Fatalf("normal request during the attack: %d %q", resp.StatusCode, b)
	}
	time.Sleep(200 * time.Millisecond)
	if p := peak.Load(); p > 100 {
		t.Errorf("the upstream saw %d requests at once, more than the 100-stream limit", p)
	}
	t.Logf("%d streams sent and reset; the upstream saw %d requests, at most %d at once", sent, total.Load(), peak.Load())
}
