package telemetry

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"

	"go.opentelemetry.io/otel/trace"
)

// requestState is what the observer carries from Begin to End, in the
// request context.
type requestState struct {
	body           *countingBody
	connectErrors  atomic.Int32
	connectsOpened atomic.Int32
	span           trace.Span
	// logSampled is decided in Begin so that a sampled-out request costs
	// no log work at all.
	logSampled bool
}

type stateKey struct{}

func stateFrom(r *http.Request) *requestState {
	if r == nil {
		return nil
	}
	st, _ := r.Context().Value(stateKey{}).(*requestState)
	return st
}

func (st *requestState) bodyBytes() int64 {
	if st.body == nil {
		return 0
	}
	return st.body.n.Load()
}

// countingBody counts the request body bytes read (by the upstream copy or
// a policy that buffers the body).
type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// clientTrace observes the upstream connection attempts made for the
// request: httputil.ReverseProxy derives the outbound request's context from
// the inbound one, so the transport reports dials here. This is how connect
// errors are counted without a hook in the upstream package.
func (st *requestState) clientTrace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		ConnectDone: func(network, addr string, err error) {
			if err != nil {
				st.connectErrors.Add(1)
			} else {
				st.connectsOpened.Add(1)
			}
		},
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			if err != nil {
				st.connectErrors.Add(1)
			}
		},
	}
}

// withState returns r with st in its context, the client trace attached and
// the body wrapped for counting.
func withState(r *http.Request, ctx context.Context, st *requestState, countBody bool) *http.Request {
	ctx = context.WithValue(ctx, stateKey{}, st)
	if countBody {
		ctx = httptrace.WithClientTrace(ctx, st.clientTrace())
	}
	r = r.WithContext(ctx)
	// Only real bodies are wrapped: http.NoBody must stay recognisable so
	// the transport does not switch to chunked encoding.
	if countBody && r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		st.body = &countingBody{ReadCloser: r.Body}
		r.Body = st.body
	}
	return r
}
