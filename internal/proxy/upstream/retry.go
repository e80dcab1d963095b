package upstream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	"gatehouse.dev/gatehouse/internal/ir"
)

// Retries (Target.Retry, from an HTTPRoute rule's retry).
//
// The loop (forwardWithRetries) sits around one try of one endpoint. A try
// either answers the client, or, when the retry state allows another try,
// says so and writes nothing. Both forwarding paths can decide before any
// byte of the final response reaches the client, so no response is ever
// buffered: the fast path has the whole response head in hand before it
// writes anything; on the ReverseProxy path ModifyResponse returns errRetry
// (ReverseProxy then closes the upstream body and calls the ErrorHandler,
// which writes nothing), and failures before a response head reach the
// ErrorHandler as well. A retried answer is dropped with its connection;
// the last try's answer, or its error, goes to the client unchanged. Once
// the head of a final response has been passed on, nothing is retried.
// Interim 1xx responses may have been passed on before a retry; HTTP allows
// any number of them before the final one.
//
// What is retried: answers whose status is in Retry.Codes, and failures
// before a response head (connect errors, resets, a connection closed
// early, a per-try timeout) whatever the codes, as the Gateway API asks
// ("SHOULD retry on connection errors"). Not retried: failures after the
// response head, the client going away, the route's request timeout, and a
// request the proxy itself cannot send (an invalid header field).
//
// A request is retried only when it can be replayed: it has no body, or its
// body (declared or chunked, without trailers) is at most maxRetryBody
// bytes, which are then read before the first try. Only routes with retries
// pay for that read. A larger body is streamed to one endpoint once.
//
// Each retry prefers an endpoint not tried yet for this request. The wait
// before retry n (from 0) is Backoff doubled n times, capped at ten times
// Backoff, plus up to a quarter of that as jitter, so it is never below
// Backoff. A retry whose wait would end after the request's deadline (the
// route's request timeout) is not made: the current answer is returned
// instead, so the whole exchange stays within the request timeout.

// maxRetryBody is the largest request body buffered so that a request can
// be retried.
const maxRetryBody = 64 << 10

// maxBackoffFactor caps the growth of the wait between retries.
const maxBackoffFactor = 10

// errRetry is returned by ModifyResponse to drop an answer that is retried.
var errRetry = errors.New("response status is retried")

// retryState is the retry bookkeeping of one request.
type retryState struct {
	policy     *ir.Retry
	replayable bool
	body       []byte // the buffered request body; nil when none is needed
	// prefix is what was read of a body too large to buffer: the one try
	// sends it, then the rest of the client's body.
	prefix []byte
	// header replaces the request's header on replays when it had to
	// change: an Expect: 100-continue is answered by reading the body
	// first, so it is not passed on.
	header  http.Header
	retries int           // retries made so far
	wait    time.Duration // before the next try; set by allow
	tried   []*endpoint
	triedN  [4]*endpoint // tried's first backing array, saving an allocation
}

// forwardWithRetries forwards req to pool's endpoints until a try answers
// the client (see the comment at the top of this file).
func (r *Registry) forwardWithRetries(w http.ResponseWriter, req *http.Request, t *Target, backend string, pool *portPool) {
	s, err := newRetryState(t.Retry, req)
	if err != nil {
		r.requestEnded(w, req, t, err)
		return
	}
	for {
		ep := s.pick(pool.candidates(), r.now().UnixNano())
		if ep == nil {
			r.reject(w, req, t, false, http.StatusServiceUnavailable, "no healthy upstream")
			return
		}
		if !r.try(w, s.request(req), t, backend, pool, ep, false, s) {
			return
		}
		if err := s.sleep(req.Context()); err != nil {
			r.requestEnded(w, req, t, err)
			return
		}
	}
}

// requestEnded answers a request that ended before a try could answer it:
// the route's request timeout passed (504), the client went away, or its
// body could not be read (400).
func (r *Registry) requestEnded(w http.ResponseWriter, req *http.Request, t *Target, err error) {
	ctx := req.Context()
	code, msg, level := http.StatusBadRequest, "request body could not be read", slog.LevelDebug
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		code, msg, level = http.StatusGatewayTimeout, "request timeout", slog.LevelWarn
	case ctx.Err() != nil:
		code, msg = http.StatusBadGateway, "client canceled request"
	}
	r.log.Log(ctx, level, msg, "backend", t.Backend, "port", t.Port, "status", code,
		"method", req.Method, "path", req.URL.Path, "error", err)
	writeError(w, code, msg)
}

// newRetryState reads req's body when that makes the request replayable.
// The error is the client's, from reading its body.
func newRetryState(p *ir.Retry, req *http.Request) (*retryState, error) {
	s := &retryState{policy: p}
	s.tried = s.triedN[:0]
	switch {
	case req.Body == nil || req.Body == http.NoBody || req.ContentLength == 0:
		s.replayable = true
	case req.Trailer != nil || req.ContentLength > maxRetryBody:
		// Streamed once: trailers come only after the body.
	case req.ContentLength > 0:
		s.body = make([]byte, req.ContentLength)
		if _, err := io.ReadFull(req.Body, s.body); err != nil {
			return nil, err
		}
		s.replayable = true
	default: // chunked: buffered when it turns out small enough
		b, err := io.ReadAll(io.LimitReader(req.Body, maxRetryBody+1))
		if err != nil {
			return nil, err
		}
		if len(b) <= maxRetryBody {
			s.body, s.replayable = b, true
		} else {
			s.prefix = b
		}
	}
	if _, ok := req.Header["Expect"]; ok && s.body != nil {
		s.header = req.Header.Clone()
		delete(s.header, "Expect")
	}
	return s, nil
}

// request returns the request for the next try: req itself when it has no
// body, else a shallow copy carrying a fresh reader of the buffered body
// (sent with a Content-Length), or the read prefix followed by the rest.
func (s *retryState) request(req *http.Request) *http.Request {
	switch {
	case s.body != nil:
		out := req.WithContext(req.Context())
		out.Body = io.NopCloser(bytes.NewReader(s.body))
		out.ContentLength = int64(len(s.body))
		out.TransferEncoding = nil
		if s.header != nil {
			out.Header = s.header
		}
		return out
	case s.prefix != nil:
		out := req.WithContext(req.Context())
		out.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(s.prefix), req.Body), req.Body}
		return out
	}
	return req
}

// pick chooses the endpoint of the next try, preferring one not tried yet.
func (s *retryState) pick(c []*endpoint, now int64) *endpoint {
	if len(s.tried) > 0 && len(c) > 1 {
		fresh := make([]*endpoint, 0, len(c))
		for _, e := range c {
			if !slices.Contains(s.tried, e) {
				fresh = append(fresh, e)
			}
		}
		if len(fresh) > 0 {
			c = fresh
		}
	}
	ep := pickEndpoint(c, now)
	if ep != nil {
		s.tried = append(s.tried, ep)
	}
	return ep
}

// allow reports whether another try may follow the current one and, if
// so, fixes the wait before it. ctx is the inbound request's. A nil state
// (a route without retries) never allows one.
func (s *retryState) allow(ctx context.Context) bool {
	if s == nil || !s.replayable || s.retries >= s.policy.Attempts || ctx.Err() != nil {
		return false
	}
	wait := backoff(s.policy.Backoff, s.retries)
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= wait {
		// The wait would outlast the request timeout: answer now.
		return false
	}
	s.wait = wait
	return true
}

// retriesStatus reports whether an answer with this status is dropped for
// another try. Only error statuses are ever retried.
func (s *retryState) retriesStatus(ctx context.Context, status int) bool {
	return s != nil && status >= 400 && slices.Contains(s.policy.Codes, status) && s.allow(ctx)
}

// sleep waits before the next try; the error is ctx's when it ends first.
func (s *retryState) sleep(ctx context.Context) error {
	s.retries++
	if s.wait <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(s.wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// backoff is the wait before retry n (from 0): base doubled n times, at
// most maxBackoffFactor times base, plus up to a quarter of it as jitter.
func backoff(base time.Duration, n int) time.Duration {
	if base <= 0 {
		return 0
	}
	// Keeps the arithmetic below far from overflow; nobody waits a day
	// for an answer.
	base = min(base, 24*time.Hour)
	d := base
	for i := 0; i < n && d < maxBackoffFactor*base; i++ {
		d *= 2
	}
	d = min(d, maxBackoffFactor*base)
	return d + rand.N(d/4+1)
}
