package upstream

import (
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

// BenchmarkForward forwards small GETs to a local keep-alive upstream.
// Compare with BenchmarkDirectBaseline (the same request from a plain
// client) in the same run: the difference is the proxy's own cost.
func BenchmarkForward(b *testing.B) {
	reg := newTestRegistry(b, Options{})
	up := startUpstream(b, textHandler("ok!"))
	mustUpdate(b, reg, backendOf("svc", ir.AppHTTP1, endpointOf(b, up.URL, true)))
	req := httptest.NewRequest(http.MethodGet, "/bench", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	tgt := Target{Backend: "svc"}
	w := &benchWriter{h: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		reg.Forward(w, req, tgt)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
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
