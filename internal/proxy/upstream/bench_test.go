package upstream

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"gatehouse.dev/gatehouse/internal/ir"
)

// benchWriter is a minimal ResponseWriter so the benchmark measures the
// forwarding path, not a front server.
type benchWriter struct {
	h    http.Header
	code int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *benchWriter) WriteHeader(code int)        { w.code = code }
func (w *benchWriter) Flush()                      {}

// benchForward forwards req to a local keep-alive upstream b.N times.
func benchForward(b *testing.B, o Options, method string, body []byte) {
	benchForwardTo(b, o, method, body, Target{})
}

// benchForwardTo is benchForward with tgt (its Backend is set here).
func benchForwardTo(b *testing.B, o Options, method string, body []byte, tgt Target) {
	reg := newTestRegistry(b, o)
	up := startUpstream(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok!")
	}))
	mustUpdate(b, reg, backendOf("svc", ir.AppHTTP1, endpointOf(b, up.URL, true)))
	req := httptest.NewRequest(method, "/bench", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("User-Agent", "bench")
	req.Header.Set("Accept", "*/*")
	rd := bytes.NewReader(body)
	tgt.Backend = "svc"
	w := &benchWriter{h: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		if body != nil {
			rd.Reset(body)
			req.Body, req.ContentLength = io.NopCloser(rd), int64(len(body))
		}
		reg.Forward(w, req, tgt)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
}

// BenchmarkForward forwards small GETs over the HTTP/1.1 fast path.
// Compare in the same run with BenchmarkForwardReverseProxy (the same
// request through httputil.ReverseProxy, the path before the fast path) and
// BenchmarkDirectBaseline (a plain client, no proxy): the differences are
// the proxy's own cost. The upstream server runs in the same process, so
// its cost (~60 allocations) is in every figure.
func BenchmarkForward(b *testing.B) { benchForward(b, Options{}, http.MethodGet, nil) }

// BenchmarkForwardReverseProxy is BenchmarkForward through
// httputil.ReverseProxy and http.Transport.
func BenchmarkForwardReverseProxy(b *testing.B) {
	benchForward(b, Options{ReverseProxyOnly: true}, http.MethodGet, nil)
}

// BenchmarkForwardPost2K forwards 2 KiB POST bodies over the fast path.
func BenchmarkForwardPost2K(b *testing.B) {
	benchForward(b, Options{}, http.MethodPost, bytes.Repeat([]byte("x"), 2048))
}

// BenchmarkForwardPost2KReverseProxy is BenchmarkForwardPost2K through
// httputil.ReverseProxy.
func BenchmarkForwardPost2KReverseProxy(b *testing.B) {
	benchForward(b, Options{ReverseProxyOnly: true}, http.MethodPost, bytes.Repeat([]byte("x"), 2048))
}

// BenchmarkDirectBaseline is the cost of the same request without the proxy.
func BenchmarkDirectBaseline(b *testing.B) {
	up := startUpstream(b, textHandler("ok!"))
	c := newClient(b)
	b.ReportAllocs()
	for b.Loop() {
		res, err := c.Get(up.URL + "/bench")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
}
