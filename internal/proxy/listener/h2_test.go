package listener

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Conn is a raw HTTP/2 (h2c prior knowledge) client connection driven
// frame by frame.
type h2Conn struct {
	t    *testing.T
	conn net.Conn
	fr   *http2.Framer
	enc  *hpack.Encoder
	hbuf bytes.Buffer
}

func dialH2C(t *testing.T, addr string) *h2Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	c := &h2Conn{t: t, conn: conn, fr: http2.NewFramer(conn, conn)}
	c.enc = hpack.NewEncoder(&c.hbuf)
	if err := c.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return c
}

// headerBlock encodes a GET request's header block with extra fields.
func (c *h2Conn) headerBlock(extra ...hpack.HeaderField) []byte {
	c.hbuf.Reset()
	for _, f := range append([]hpack.HeaderField{
		{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"},
		{Name: ":authority", Value: "a"}, {Name: ":path", Value: "/"},
	}, extra...) {
		_ = c.enc.WriteField(f)
	}
	return bytes.Clone(c.hbuf.Bytes())
}

// readUntilClosed reads frames until the server sends GOAWAY or closes the
// connection, and returns the GOAWAY code (or -1 for a bare close) and
// whether any response HEADERS arrived.
func (c *h2Conn) readUntilClosed() (code int, sawResponse bool) {
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.t.Fatal("the server kept the connection open")
			}
			return -1, sawResponse
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			return int(f.ErrCode), sawResponse
		case *http2.HeadersFrame:
			sawResponse = true
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = c.fr.WriteSettingsAck()
			}
		}
	}
}

// TestHTTP2RapidReset opens and immediately resets far more streams than
// MaxConcurrentStreams while handlers are busy: at most that many handlers
// ever run, the connection is closed with ENHANCE_YOUR_CALM, and the bind
// keeps serving other clients.
func TestHTTP2RapidReset(t *testing.T) {
	const maxStreams = 10
	var running, peak atomic.Int32
	release := make(chan struct{})
	var releaseOnce sync.Once
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/probe" {
			_, _ = w.Write([]byte("alive"))
			return
		}
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release // a handler that ignores cancellation: the worst case
	})
	m := newHandlerManager(t, Options{MaxConcurrentStreams: maxStreams}, h)
	defer releaseOnce.Do(func() { close(release) })
	addr := m.Addr("plain").String()
	c := dialH2C(t, addr)
	block := c.headerBlock()
	for id := uint32(1); id < 2*200; id += 2 {
		if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: true, EndHeaders: true}); err != nil {
			break // the server already closed the connection
		}
		if err := c.fr.WriteRSTStream(id, http2.ErrCodeCancel); err != nil {
			break
		}
	}
	code, _ := c.readUntilClosed()
	if code != int(http2.ErrCodeEnhanceYourCalm) {
		t.Errorf("connection closed with code %d, want ENHANCE_YOUR_CALM (%d)", code, http2.ErrCodeEnhanceYourCalm)
	}
	if p := peak.Load(); p > maxStreams {
		t.Errorf("%d handlers ran at once, the limit is %d", p, maxStreams)
	}
	releaseOnce.Do(func() { close(release) })
	probeH2C(t, addr)
}

// probeH2C checks that a fresh HTTP/2 connection is served.
func probeH2C(t *testing.T, addr string) {
	t.Helper()
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("http://" + addr + "/probe")
	if err != nil {
		t.Fatalf("the bind stopped serving: %v", err)
	}
	defer res.Body.Close()
	if b, _ := io.ReadAll(res.Body); res.StatusCode != 200 || res.ProtoMajor != 2 || string(b) != "alive" {
		t.Fatalf("probe: %d %s %q", res.StatusCode, res.Proto, b)
	}
}

// TestHTTP2ContinuationFlood sends a header block of about 1 MiB in endless
// CONTINUATION frames (never END_HEADERS): the server must give up on the
// connection instead of buffering, never run the handler, and keep serving.
func TestHTTP2ContinuationFlood(t *testing.T) {
	var called atomic.Bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/probe" {
			called.Store(true)
		}
		_, _ = w.Write([]byte("alive"))
	})
	m := newHandlerManager(t, Options{MaxHeaderBytes: 16 << 10}, h)
	addr := m.Addr("plain").String()
	c := dialH2C(t, addr)
	// Many small fields (each valid on its own), as in CVE-2023-45288.
	var fields []hpack.HeaderField
	for i := 0; len(fields) < 20000; i++ {
		fields = append(fields, hpack.HeaderField{Name: fmt.Sprintf("x-flood-%d", i), Value: strings.Repeat("v", 40)})
	}
	block := c.headerBlock(fields...)
	const chunk = 16 << 10
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:chunk], EndStream: true}); err != nil {
		t.Fatal(err)
	}
	wfr := http2.NewFramer(c.conn, nil) // a writer of its own: Framers are not concurrent
	var sent atomic.Int64
	go func() { // writes stop mattering once the server closed
		for off := chunk; off < len(block); off += chunk {
			if err := wfr.WriteContinuation(1, false, block[off:min(off+chunk, len(block))]); err != nil {
				return
			}
			sent.Store(int64(off + chunk))
		}
	}()
	code, sawResponse := c.readUntilClosed()
	if sawResponse && called.Load() {
		t.Fatal("the handler ran for a flooded header block")
	}
	if code == int(http2.ErrCodeNo) {
		t.Errorf("connection ended with GOAWAY NO_ERROR, want a connection error")
	}
	t.Logf("connection ended with code %d after %d of %d header bytes were written", code, sent.Load(), len(block))
	probeH2C(t, addr)
}

// TestHTTP2HeaderCountLimit: the header-count limit applies to HTTP/2
// requests too.
func TestHTTP2HeaderCountLimit(t *testing.T) {
	m := newHandlerManager(t, Options{MaxHeaderCount: 3}, echoPath)
	c := dialH2C(t, m.Addr("plain").String())
	var extra []hpack.HeaderField
	for i := 0; i < 4; i++ {
		extra = append(extra, hpack.HeaderField{Name: "x-h", Value: "v"})
	}
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.headerBlock(extra...), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if hf, ok := f.(*http2.HeadersFrame); ok {
			fields, err := hpack.NewDecoder(4096, nil).DecodeFull(hf.HeaderBlockFragment())
			if err != nil {
				t.Fatal(err)
			}
			if fields[0].Name != ":status" || fields[0].Value != "431" {
				t.Fatalf("response %v, want :status 431", fields)
			}
			return
		}
	}
}
