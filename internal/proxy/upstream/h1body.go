package upstream

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
)

// copyResponse writes the received response head and then the body to the
// client. The connection goes back to the pool only when the body ended
// exactly where its framing said.
func (x *h1Exchange) copyResponse() {
	h := &x.c.head
	if h.status >= 500 {
		x.r.recordFailureAt(x.backend, x.ep)
	} else {
		x.ep.recordSuccess()
	}
	x.writeHeader(h)
	if !h.hasBody(x.req.Method) {
		x.release(!h.close)
		return
	}
	var err error
	reusable := !h.close
	switch {
	case h.chunked:
		err = x.copyChunked()
	case h.contentLength >= 0:
		err = x.copyLength(h.contentLength)
	default:
		// Delimited by the end of the connection.
		err, reusable = x.copyUntilEOF(), false
	}
	if err != nil {
		x.abort(err)
		return
	}
	x.release(reusable)
}

// writeHeader passes the response head to the client, after the caller's
// response header changes. When the handler set headers of its own before
// forwarding, ModifyResponse sees only the upstream's, as with ReverseProxy.
func (x *h1Exchange) writeHeader(h *respHead) {
	dst := x.w.Header()
	if len(dst) == 0 {
		h.copyTo(dst, "")
		if x.t.ModifyResponse != nil {
			x.t.ModifyResponse(dst)
		}
	} else {
		up := make(http.Header, len(h.fields))
		h.copyTo(up, "")
		if x.t.ModifyResponse != nil {
			x.t.ModifyResponse(up)
		}
		for k, vs := range up {
			dst[k] = append(dst[k], vs...)
		}
	}
	x.w.WriteHeader(h.status)
}

// bodyError says which side a body copy failed on.
type bodyError struct {
	err    error
	client bool // writing to the client failed (it went away)
}

func (e *bodyError) Error() string { return e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

func clientSide(err error) error   { return &bodyError{err: err, client: true} }
func upstreamSide(err error) error { return &bodyError{err: err} }

// flushBeforeWait sends what the client has not got yet when the next
// upstream read would block, so streamed responses (SSE) are not held back,
// while a body that is already buffered goes out with the head in one write.
func (x *h1Exchange) flushBeforeWait(pending *bool) error {
	if !*pending || x.c.br.Buffered() > 0 {
		return nil
	}
	*pending = false
	return flush(x.w)
}

// flush sends buffered response data to the client. A writer that cannot
// flush is written through as it is.
func flush(w http.ResponseWriter) error {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
		return nil
	}
	if err := http.NewResponseController(w).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// copyLength copies a body of n bytes, straight out of the read buffer.
func (x *h1Exchange) copyLength(n int64) error {
	br := x.c.br
	var pending bool
	for n > 0 {
		if err := x.flushBeforeWait(&pending); err != nil {
			return clientSide(err)
		}
		if br.Buffered() == 0 && n >= int64(br.Size()) {
			// Large remainder: read past the buffer in copy-buffer steps.
			return x.copyLarge(n)
		}
		if _, err := br.Peek(1); err != nil {
			return upstreamSide(unexpectedEOF(err))
		}
		chunk, _ := br.Peek(int(min(int64(br.Buffered()), n)))
		if _, err := x.w.Write(chunk); err != nil {
			return clientSide(err)
		}
		_, _ = br.Discard(len(chunk))
		n -= int64(len(chunk))
		pending = true
	}
	return nil
}

// copyLarge copies the last n bytes of a body through a pooled buffer.
func (x *h1Exchange) copyLarge(n int64) error {
	bufp := sharedBufferPool.p.Get().(*[]byte)
	defer sharedBufferPool.p.Put(bufp)
	buf := *bufp
	var pending bool
	for n > 0 {
		if err := x.flushBeforeWait(&pending); err != nil {
			return clientSide(err)
		}
		nr, err := x.c.br.Read(buf[:min(int64(len(buf)), n)])
		if nr > 0 {
			if _, werr := x.w.Write(buf[:nr]); werr != nil {
				return clientSide(werr)
			}
			n -= int64(nr)
			pending = true
		}
		if err != nil && n > 0 {
			return upstreamSide(unexpectedEOF(err))
		}
	}
	return nil
}

// copyChunked copies a chunked body, then its trailers (as response
// trailers, http.TrailerPrefix).
func (x *h1Exchange) copyChunked() error {
	if err := x.copyStream(httputil.NewChunkedReader(x.c.br), true); err != nil {
		return err
	}
	h := &x.c.head
	if err := chunkedTrailers(x.c.br, h); err != nil {
		return upstreamSide(err)
	}
	if len(h.fields) > 0 {
		// Make the server send trailers: it must not compute a length for
		// a short body.
		if err := flush(x.w); err != nil {
			return clientSide(err)
		}
		h.copyTo(x.w.Header(), http.TrailerPrefix)
	}
	return nil
}

func (x *h1Exchange) copyUntilEOF() error { return x.copyStream(x.c.br, false) }

// copyStream copies src to the client until it ends; with framed, an end
// of the connection before src's own end is an error. A body without a
// length is usually a stream (SSE, long polling): every piece is flushed as
// it arrives, as ReverseProxy does for such bodies.
func (x *h1Exchange) copyStream(src io.Reader, framed bool) error {
	bufp := sharedBufferPool.p.Get().(*[]byte)
	defer sharedBufferPool.p.Put(bufp)
	buf := *bufp
	for {
		nr, err := src.Read(buf)
		if nr > 0 {
			if _, werr := x.w.Write(buf[:nr]); werr != nil {
				return clientSide(werr)
			}
			if ferr := flush(x.w); ferr != nil {
				return clientSide(ferr)
			}
		}
		switch {
		case err == io.EOF:
			return nil
		case err != nil && framed:
			return upstreamSide(unexpectedEOF(err))
		case err != nil:
			return upstreamSide(err)
		}
	}
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// abort ends a response whose body could not be copied. The head is
// already out, so the only signal left for the client is an incomplete
// response: as ReverseProxy does, the handler panics with
// http.ErrAbortHandler when it runs under a server, which closes the
// client connection (or resets the HTTP/2 stream).
func (x *h1Exchange) abort(err error) {
	x.release(false)
	ctx := x.req.Context()
	var be *bodyError
	switch {
	case errors.As(err, &be) && be.client, ctx.Err() != nil:
		x.r.logEvent(ctx, slog.LevelDebug, "client canceled request", x.backend, x.ep, false, x.req, err)
	case isTimeout(err) && !x.parentBinds:
		x.r.logEvent(ctx, slog.LevelWarn, "upstream timeout", x.backend, x.ep, false, x.req, err)
	case isTimeout(err):
		x.r.logEvent(ctx, slog.LevelWarn, "request timeout", x.backend, x.ep, false, x.req, err)
	default:
		x.r.logEvent(ctx, slog.LevelWarn, "upstream response failed", x.backend, x.ep, false, x.req, err)
	}
	if ctx.Value(http.ServerContextKey) != nil {
		panic(http.ErrAbortHandler)
	}
}
