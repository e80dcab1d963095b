package proxy

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"time"

	"gatehouse.dev/gatehouse/internal/cel"
	"gatehouse.dev/gatehouse/internal/proxy/l4"
)

// Observer watches every request the proxy serves: metrics, access logs and
// tracing implement it (see package internal/telemetry). It must be safe for
// concurrent use and cheap: it runs on the request path.
type Observer interface {
	// Begin is called when a request arrives, before routing. It may return
	// a request with a new context (e.g. carrying a trace span); it must not
	// return nil.
	Begin(r *http.Request) *http.Request
	// End is called once the response is complete. info is only valid
	// during the call.
	End(info *RequestInfo)
}

// UpstreamObserver is an optional extension of Observer, for tracing the
// upstream call on its own.
type UpstreamObserver interface {
	// BeginUpstream is called just before a request is forwarded to
	// backend. It returns the request to forward (it may carry a new
	// context and a new traceparent) and, when not nil, a function called
	// once the forward has returned, with the status the client received.
	BeginUpstream(r *http.Request, backend string) (*http.Request, func(status int))
}

// L4Observer is an optional extension of Observer for the connections of
// TLS and TCP listeners (TLSRoute, TCPRoute), which carry no requests.
type L4Observer interface {
	// EndConn is called once a connection has ended. info is only valid
	// during the call.
	EndConn(info *l4.ConnInfo)
}

// statusWritten returns the status written through w when w, or a writer
// it wraps (policies and LLM usage wrap it), is an observedWriter; else 0.
func statusWritten(w http.ResponseWriter) int {
	for w != nil {
		switch ww := w.(type) {
		case *observedWriter:
			return ww.status
		case interface{ Unwrap() http.ResponseWriter }:
			w = ww.Unwrap()
		default:
			return 0
		}
	}
	return 0
}

// RequestInfo describes one finished request.
type RequestInfo struct {
	Request  *http.Request
	Start    time.Time
	Duration time.Duration
	// Status is the response status (200 when the handler wrote a body
	// without a header; 0 when nothing was written).
	Status int
	// BytesWritten counts response body bytes.
	BytesWritten int64
	// Bind is the socket ("address:port") the request arrived on.
	Bind string
	// Gateway and Listener name the listener that matched ("" when none);
	// Route is the IR route ("namespace/route/rule"); Backend the backend
	// picked ("" when none, e.g. a redirect).
	Gateway, Listener, Route, Backend string
	// LLM is set for requests sent to an LLM backend: the requested and
	// reported model and the token usage (once the response is complete).
	LLM *cel.LLMInfo
	// LLMModelLabel is the requested model when the backend declares it,
	// else "other": a bounded value for metric labels.
	LLMModelLabel string
}

// observedWriter records status and size for the Observer. It forwards
// Flush, Hijack and Unwrap so streaming and WebSocket upgrades still work.
type observedWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *observedWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *observedWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *observedWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *observedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("hijacking not supported")
	}
	if w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return h.Hijack()
}

func (w *observedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
