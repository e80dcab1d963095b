package listener

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// guard runs, before a bind's handler, the checks on hostile input that
// net/http does not make itself: the number of header fields, path
// normalization and encoded slashes, and the minimum request body rate.
type guard struct {
	next           http.Handler
	log            *slog.Logger
	maxHeaderCount int
	mergeSlashes   bool
	escapedSlashes EscapedSlashes
	minBodyRate    int           // bytes per second; <= 0 disables the check
	bodyGrace      time.Duration // time a body may take before the rate counts
}

func (m *Manager) guard(bind string, next http.Handler) http.Handler {
	return &guard{next: next, log: m.log.With("bind", bind), maxHeaderCount: m.opts.MaxHeaderCount,
		mergeSlashes: !m.opts.KeepDuplicateSlashes, escapedSlashes: m.opts.EscapedSlashes,
		minBodyRate: m.opts.MinBodyRate, bodyGrace: m.opts.BodyRateGrace}
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.maxHeaderCount > 0 {
		n := 0
		for _, v := range r.Header {
			n += len(v)
		}
		if n > g.maxHeaderCount {
			g.reject(w, r, http.StatusRequestHeaderFieldsTooLarge,
				fmt.Sprintf("too many header fields: %d, the limit is %d", n, g.maxHeaderCount))
			return
		}
	}
	if !g.cleanPath(w, r) {
		return
	}
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		rb := &guardedBody{rc: r.Body, rate: float64(g.minBodyRate), grace: g.bodyGrace}
		if g.minBodyRate > 0 {
			rb.ctl = http.NewResponseController(w)
		}
		r.Body = rb
		w = &bodyFaultWriter{ResponseWriter: w, body: rb}
	}
	g.next.ServeHTTP(w, r)
}

// cleanPath applies the path policy; it answers 400 and returns false when
// the path is refused.
func (g *guard) cleanPath(w http.ResponseWriter, r *http.Request) bool {
	u := r.URL
	// A backslash (sent as %5C or as is) is a path separator to some
	// servers, so it is treated like an encoded slash.
	if (u.RawPath != "" && hasEscapedSlash(u.RawPath)) || strings.IndexByte(u.Path, '\\') >= 0 {
		switch g.escapedSlashes {
		case EscapedSlashesReject:
			g.reject(w, r, http.StatusBadRequest, "encoded slashes (%2F, %5C) are not accepted in the path")
			return false
		case EscapedSlashesUnescape:
			// Path is already decoded; dropping RawPath forwards it decoded.
			u.RawPath = ""
		}
	}
	p, err := NormalizePath(u.Path, g.mergeSlashes)
	if err != nil {
		g.reject(w, r, http.StatusBadRequest, "invalid path: "+err.Error())
		return false
	}
	if p != u.Path {
		// The route is matched on, and the upstream receives, the same
		// normalized path.
		u.Path, u.RawPath = p, ""
	}
	return true
}

// reject answers a refused request and closes an HTTP/1 connection, whose
// state can no longer be trusted.
func (g *guard) reject(w http.ResponseWriter, r *http.Request, code int, msg string) {
	g.log.Debug("request refused", "status", code, "reason", msg, "remote", r.RemoteAddr)
	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
	http.Error(w, msg, code)
}

// ErrBodyTooSlow is returned by a request body read that fell below the
// minimum rate (Options.MinBodyRate). It is a timeout: errors.Is(err,
// os.ErrDeadlineExceeded) holds and, as a net.Error, Timeout() is true.
var ErrBodyTooSlow error = bodyTooSlowError{}

// errBodyTooSlow is the package's short name for ErrBodyTooSlow.
var errBodyTooSlow = ErrBodyTooSlow

type bodyTooSlowError struct{}

func (bodyTooSlowError) Error() string {
	return "request body arrives slower than the minimum rate"
}
func (bodyTooSlowError) Timeout() bool        { return true }
func (bodyTooSlowError) Temporary() bool      { return false }
func (bodyTooSlowError) Is(target error) bool { return target == os.ErrDeadlineExceeded }

// guardedBody watches a request body for the client's faults: a malformed
// body (bad chunked framing) or one that arrives too slowly.
//
// The rate check (when ctl is set) is an average minimum rate on the time
// spent waiting for the client: every Read may wait for at most grace +
// bytesRead/rate minus the time already spent waiting. Time the handler
// spends elsewhere (a slow upstream applying back-pressure) is not charged
// to the client.
type guardedBody struct {
	rc       io.ReadCloser
	ctl      *http.ResponseController // nil: no rate check
	rate     float64
	grace    time.Duration
	n        int64
	waited   time.Duration
	finished bool
	// fault is the client's error, when reading the body failed because of
	// the client: errBodyTooSlow or the parse error. It is read by the
	// handler's goroutine while the transport's goroutine reads the body.
	fault atomic.Pointer[error]
}

func (b *guardedBody) setFault(err error) error {
	b.fault.CompareAndSwap(nil, &err)
	return err
}

// clientFault returns the client's error, or nil.
func (b *guardedBody) clientFault() error {
	if p := b.fault.Load(); p != nil {
		return *p
	}
	return nil
}

func (b *guardedBody) Read(p []byte) (int, error) {
	if f := b.clientFault(); f != nil {
		return 0, f
	}
	if b.ctl == nil {
		n, err := b.rc.Read(p)
		b.n += int64(n)
		b.noteError(err)
		return n, err
	}
	budget := b.grace + time.Duration(float64(b.n)/b.rate*float64(time.Second)) - b.waited
	if budget <= 0 {
		return 0, b.setFault(errBodyTooSlow)
	}
	start := time.Now()
	deadlineSet := b.ctl.SetReadDeadline(start.Add(budget)) == nil
	n, err := b.rc.Read(p)
	b.waited += time.Since(start)
	b.n += int64(n)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return n, b.setFault(errBodyTooSlow)
	}
	if err != nil && deadlineSet && !b.finished {
		// The body is done (EOF or an error): clear the deadline so it does
		// not fire on the connection's later reads (net/http watches the
		// connection while the handler runs and would cancel the request).
		b.finished = true
		_ = b.ctl.SetReadDeadline(time.Time{})
	}
	b.noteError(err)
	return n, err
}

// noteError records a body error that is the client's fault: anything but
// EOF and the handler's own closing of the body.
func (b *guardedBody) noteError(err error) {
	if err != nil && err != io.EOF && !errors.Is(err, http.ErrBodyReadAfterClose) {
		b.setFault(err)
	}
}

// Close clears the read deadline (Close may run on another goroutine than
// Read, so it does not touch Read's fields; clearing twice is harmless).
func (b *guardedBody) Close() error {
	if b.ctl != nil {
		_ = b.ctl.SetReadDeadline(time.Time{})
	}
	return b.rc.Close()
}

// bodyFaultWriter turns the error status a handler writes after the request
// body failed because of the client (an upstream 502, typically) into the
// status that names the client's fault: 408 for a body that came too
// slowly, 400 for a malformed one.
type bodyFaultWriter struct {
	http.ResponseWriter
	body *guardedBody
}

func (w *bodyFaultWriter) WriteHeader(code int) {
	if f := w.body.clientFault(); f != nil && code >= 500 {
		w.ResponseWriter.Header().Set("Connection", "close")
		code = http.StatusBadRequest
		if f == errBodyTooSlow {
			code = http.StatusRequestTimeout
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *bodyFaultWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *bodyFaultWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("hijacking not supported")
	}
	return h.Hijack()
}

func (w *bodyFaultWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
