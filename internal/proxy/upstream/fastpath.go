package upstream

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"time"
)

// The fast path forwards plain HTTP/1.1 exchanges without http.Transport
// and httputil.ReverseProxy: the request head is written from the inbound
// request, the response head is parsed straight into the client's header
// map, and the body is copied out of the connection's read buffer, all on
// the handler's goroutine over a pooled connection. That removes the
// transport's per-connection read/write goroutines and their hand-offs, the
// outbound request clone and header maps, and most allocations.
//
// What the fast path does not do goes through ReverseProxy as before:
// protocol upgrades (WebSocket), Expect: 100-continue, request trailers,
// bodies of unknown length or over maxFastBody (streamed uploads), h2c and
// TLS upstreams, and mirrors.

// maxFastBody is the largest request body the fast path takes. It is read
// whole before the request is sent, so a request on a reused connection
// that turns out to be closed can be sent again, and a request is never
// half-written when the upstream answers early.
const maxFastBody = copyBufferSize

// maxInformational bounds 1xx responses before the final one.
const maxInformational = 5

// fastEligible reports whether req can take the fast path.
func fastEligible(req *http.Request) bool {
	if req.ContentLength < 0 || req.ContentLength > maxFastBody || req.ContentLength > 0 && req.Body == nil || req.Trailer != nil ||
		req.Method == http.MethodConnect || req.URL.Opaque != "" {
		return false
	}
	if _, ok := req.Header["Expect"]; ok {
		return false
	}
	up := req.Header["Upgrade"]
	// An h2c upgrade offer is for this hop and is dropped; any other
	// upgrade is tunnelled by the ReverseProxy path.
	return len(up) == 0 || len(up) == 1 && asciiEqualFold(up[0], "h2c")
}

// h1Exchange is one request forwarded on the fast path.
type h1Exchange struct {
	r       *Registry
	w       http.ResponseWriter
	req     *http.Request
	t       *Target
	backend string
	ep      *endpoint

	body        []byte
	deadline    time.Time // on every upstream read and write; zero: none
	parentBinds bool      // deadline is the request's (route timeout), not the try's
	c           *h1Conn
	stopWatch   func() bool
	answered    bool        // the final response head was received
	retry       *retryState // nil without retries
}

// forwardH1 forwards req over the fast path to ep. It reports whether the
// try is dropped for another one (only when retry allows it); then nothing
// was written to w.
func (r *Registry) forwardH1(w http.ResponseWriter, req *http.Request, t *Target, backend string, ep *endpoint, retry *retryState) bool {
	x := h1Exchange{r: r, w: w, req: req, t: t, backend: backend, ep: ep, retry: retry}
	if req.ContentLength > 0 {
		bufp := sharedBufferPool.p.Get().(*[]byte)
		defer sharedBufferPool.p.Put(bufp)
		x.body = (*bufp)[:req.ContentLength]
		if _, err := io.ReadFull(req.Body, x.body); err != nil {
			x.fail(err, false)
			return false
		}
	}
	x.setDeadline(time.Now())
	if err := x.roundTrip(); err != nil {
		if x.retryAfterError(err) {
			return true
		}
		x.fail(err, true)
		return false
	}
	if status := x.c.head.status; x.retry.retriesStatus(req.Context(), status) {
		if status >= 500 {
			r.recordFailureAt(backend, ep)
		}
		// The answer is dropped unread, so its connection cannot be reused.
		x.release(false)
		return true
	}
	x.copyResponse()
	return false
}

// retryAfterError reports whether a failure before the response head is
// left to another try (retry.go), counting it against the endpoint. The
// route's request timeout and requests this proxy cannot send are final.
func (x *h1Exchange) retryAfterError(err error) bool {
	if x.answered || isTimeout(err) && x.parentBinds || errors.Is(err, errInvalidRequest) ||
		!x.retry.allow(x.req.Context()) {
		return false
	}
	x.release(false)
	x.r.recordFailureAt(x.backend, x.ep)
	x.r.logEvent(x.req.Context(), slog.LevelDebug, "upstream try failed, retrying", x.backend, x.ep, false, x.req, err)
	return true
}

func (x *h1Exchange) setDeadline(now time.Time) {
	if x.t.Timeout > 0 {
		x.deadline = now.Add(x.t.Timeout)
	}
	if d, ok := x.req.Context().Deadline(); ok && (x.deadline.IsZero() || d.Before(x.deadline)) {
		x.deadline, x.parentBinds = d, true
	}
}

// roundTrip sends the request and reads the final response head, retrying
// once on a fresh connection when a reused one turns out to be closed.
func (x *h1Exchange) roundTrip() error {
	ctx := x.req.Context()
	for try := 0; ; try++ {
		var c *h1Conn
		if try == 0 {
			// A request that cannot be sent twice is not sent on a
			// connection the upstream may have closed while it was idle.
			c = x.ep.conns.get(time.Now(), !x.idempotent())
		}
		reused := c != nil
		if c == nil {
			var err error
			if c, err = x.r.dialH1(ctx, x.ep.addr, x.deadline); err != nil {
				return err
			}
		}
		x.attach(c)
		err := x.send()
		if err == nil {
			err = x.readHead()
		}
		if err == nil {
			return nil
		}
		if !reused || try > 0 || !x.retryable(err) {
			return err
		}
		x.release(false)
	}
}

// attach makes c the exchange's connection: deadline set, and closed
// early (by an expired deadline) when the client goes away.
func (x *h1Exchange) attach(c *h1Conn) {
	x.c = c
	if !x.deadline.IsZero() || c.hasDeadline {
		_ = c.nc.SetDeadline(x.deadline)
		c.hasDeadline = !x.deadline.IsZero()
	}
	if ctx := x.req.Context(); ctx.Done() != nil {
		x.stopWatch = context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(aLongTimeAgo) })
	}
}

// release ends the use of the connection: back to the pool when reusable
// and not poisoned by the cancellation watcher, closed otherwise.
func (x *h1Exchange) release(reusable bool) {
	c := x.c
	if c == nil {
		return
	}
	x.c = nil
	if x.stopWatch != nil && !x.stopWatch() {
		reusable = false // the watcher fired: the deadline is poisoned
	}
	x.stopWatch = nil
	if reusable && c.br.Buffered() == 0 {
		x.ep.conns.put(c, x.r.opts.MaxIdlePerHost, time.Now())
		return
	}
	_ = c.nc.Close()
}

func (x *h1Exchange) send() error {
	proto := "http"
	if x.req.TLS != nil {
		proto = "https"
	}
	bw := x.c.bw
	rh := requestHead{addr: x.ep.addr, proto: proto, contentLength: int64(len(x.body))}
	if err := writeRequestHead(bw, x.req, &rh); err != nil {
		bw.Reset(x.c.nc)
		return err
	}
	if len(x.body) > 0 {
		if _, err := bw.Write(x.body); err != nil {
			return err
		}
	}
	return bw.Flush()
}

var errUnexpectedUpgrade = errors.New("upstream switched protocols without being asked to")

// readHead reads the final response head; interim 1xx responses other
// than 100 are passed to the client as httputil.ReverseProxy does.
func (x *h1Exchange) readHead() error {
	h := &x.c.head
	for i := 0; ; i++ {
		if err := readResponseHead(x.c.br, h); err != nil {
			return err
		}
		switch {
		case h.status >= 200:
			x.answered = true
			return nil
		case h.status == http.StatusSwitchingProtocols:
			return errUnexpectedUpgrade
		case i >= maxInformational:
			return errors.New("too many 1xx responses from upstream")
		case h.status != http.StatusContinue:
			hdr := x.w.Header()
			h.copyTo(hdr, "")
			x.w.WriteHeader(h.status)
			clear(hdr) // WriteHeader does not clear them for 1xx
		}
	}
}

// retryable reports whether a failure on a reused connection means the
// upstream had closed it before reading the request, so it may be sent
// again: nothing was received, and the method is idempotent (as
// http.Transport decides).
func (x *h1Exchange) retryable(err error) bool {
	if x.answered || len(x.c.head.buf) > 0 || x.req.Context().Err() != nil || isTimeout(err) {
		return false
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) &&
		!errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		return false
	}
	return x.idempotent()
}

// idempotent reports whether the request may be sent twice.
func (x *h1Exchange) idempotent() bool {
	switch x.req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, k1 := x.req.Header["Idempotency-Key"]
	_, k2 := x.req.Header["X-Idempotency-Key"]
	return k1 || k2
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// fail answers a request that got no response head. sent says whether the
// error came from the upstream exchange (else from reading the client's
// body).
func (x *h1Exchange) fail(err error, sent bool) {
	x.release(false)
	ctx := x.req.Context()
	code, msg, level, counts := http.StatusBadGateway, "upstream request failed", slog.LevelWarn, true
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err) && x.parentBinds:
		// The route's request timeout: not this endpoint's fault.
		code, msg, counts = http.StatusGatewayTimeout, "request timeout", false
	case ctx.Err() != nil:
		msg, level, counts = "client canceled request", slog.LevelDebug, false
	case !sent:
		code, msg, level, counts = http.StatusBadRequest, "request body could not be read", slog.LevelDebug, false
	case isTimeout(err):
		code, msg = http.StatusGatewayTimeout, "upstream timeout"
	case isDialError(err):
		msg = "upstream connect error"
	case errors.Is(err, errInvalidRequest):
		counts = false
	}
	if counts {
		x.r.recordFailureAt(x.backend, x.ep)
	}
	x.r.logEvent(ctx, level, msg, x.backend, x.ep, false, x.req, err)
	writeError(x.w, code, msg)
}
